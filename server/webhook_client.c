/* Webhook sending: Standard Webhooks signatures (HMAC-SHA256 over id.timestamp.body, keys
 * shown as whsec_<base64>), the SSRF rule for the addresses a webhook may reach, and a
 * libcurl client per delivery thread.
 *
 * The SSRF rule is applied twice: when a user registers a URL (every address its host
 * resolves to then), and again on every connection libcurl opens (CURLOPT_OPENSOCKETFUNCTION
 * sees the address actually dialled), because DNS answers can change between registration
 * and delivery, and a name can be made to answer differently on each lookup. */
#include "leadloop/webhook_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadloop/util.h"

#define SECRET_PREFIX "whsec_"
#define KEY_RANDOM    32 /* bytes of a new secret's key */
#define KEY_MIN       24 /* the spec's bounds on a key */
#define KEY_MAX       64
#define KEY_B64_MAX   88 /* base64 of KEY_MAX bytes */
#define USER_AGENT    "Leadloop-Webhooks/1"

/* ---------------------------------------------------------------- addresses */

enum addr_class {
    ADDR_PUBLIC,
    ADDR_UNSPECIFIED,
    ADDR_LOOPBACK,
    ADDR_PRIVATE,
    ADDR_LINK_LOCAL,
    ADDR_SHARED,
    ADDR_MULTICAST,
    ADDR_RESERVED,
};

/* For url_check's answer and the error of a refused connection. */
static const struct {
    const char *name, *resolves_to;
} addr_classes[] = {
    [ADDR_PUBLIC] = {"public", NULL},
    [ADDR_UNSPECIFIED] = {"unspecified", "resolves to an unspecified address"},
    [ADDR_LOOPBACK] = {"loopback", "resolves to a loopback address"},
    [ADDR_PRIVATE] = {"private", "resolves to a private address"},
    [ADDR_LINK_LOCAL] = {"link-local", "resolves to a link-local address"},
    [ADDR_SHARED] = {"shared (carrier-grade NAT)",
                     "resolves to a shared (carrier-grade NAT) address"},
    [ADDR_MULTICAST] = {"multicast", "resolves to a multicast address"},
    [ADDR_RESERVED] = {"reserved", "resolves to a reserved address"},
};

/* IANA's IPv4 special-purpose registry, less what is globally reachable. Documentation
 * and benchmarking ranges are refused too: nothing legitimate listens there. */
static const struct {
    uint32_t net;
    int bits;
    enum addr_class kind;
} v4_special[] = {
    {0x00000000, 8, ADDR_UNSPECIFIED}, /* 0/8 "this network" */
    {0x0a000000, 8, ADDR_PRIVATE},     /* 10/8 */
    {0x64400000, 10, ADDR_SHARED},     /* 100.64/10 */
    {0x7f000000, 8, ADDR_LOOPBACK},    /* 127/8 */
    {0xa9fe0000, 16, ADDR_LINK_LOCAL}, /* 169.254/16, cloud metadata services among them */
    {0xac100000, 12, ADDR_PRIVATE},    /* 172.16/12 */
    {0xc0000000, 24, ADDR_RESERVED},   /* 192.0.0/24 protocol assignments */
    {0xc0000200, 24, ADDR_RESERVED},   /* 192.0.2/24 documentation */
    {0xc0586300, 24, ADDR_RESERVED},   /* 192.88.99/24 6to4 relays */
    {0xc0a80000, 16, ADDR_PRIVATE},    /* 192.168/16 */
    {0xc6120000, 15, ADDR_RESERVED},   /* 198.18/15 benchmarking */
    {0xc6336400, 24, ADDR_RESERVED},   /* 198.51.100/24 documentation */
    {0xcb007100, 24, ADDR_RESERVED},   /* 203.0.113/24 documentation */
    {0xe0000000, 4, ADDR_MULTICAST},   /* 224/4 */
    {0xf0000000, 4, ADDR_RESERVED},    /* 240/4, the broadcast address among them */
};

/* a in host order */
static enum addr_class v4_class(uint32_t a)
{
    for (size_t i = 0; i < sizeof v4_special / sizeof v4_special[0]; i++) {
        uint32_t mask = 0xffffffffu << (32 - v4_special[i].bits);
        if ((a & mask) == v4_special[i].net)
            return v4_special[i].kind;
    }
    return ADDR_PUBLIC;
}

static uint32_t v4_at(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* True when the first bits of a equal those of prefix. */
static bool v6_in(const unsigned char a[16], const unsigned char prefix[16], int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, prefix, (size_t)whole) != 0)
        return false;
    return rest == 0 || ((a[whole] ^ prefix[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* Only global unicast (2000::/3) is reachable on the internet; inside it, the protocol
 * assignments and documentation ranges are not destinations. Forms that carry an IPv4
 * address to the IPv4 internet (mapped, 6to4, NAT64's well-known prefix) are as public
 * as that address: a NAT64 network's DNS answers with them for every IPv4-only host. */
static enum addr_class v6_class(const unsigned char a[16])
{
    static const unsigned char zero[16];
    static const unsigned char loopback[16] = {[15] = 1};
    static const unsigned char mapped[16] = {[10] = 0xff, [11] = 0xff}; /* ::ffff:0:0/96 */
    static const unsigned char nat64[16] = {0x00, 0x64, 0xff, 0x9b};    /* 64:ff9b::/96 */
    static const unsigned char sixtofour[16] = {0x20, 0x02};            /* 2002::/16 */
    static const unsigned char global[16] = {0x20};                     /* 2000::/3 */
    static const unsigned char ietf[16] = {0x20, 0x01};                 /* 2001::/23 */
    static const unsigned char doc[16] = {0x20, 0x01, 0x0d, 0xb8};      /* 2001:db8::/32 */
    static const unsigned char doc2[16] = {0x3f, 0xff};                 /* 3fff::/20 */
    static const unsigned char multicast[16] = {0xff};                  /* ff00::/8 */
    static const unsigned char link_local[16] = {0xfe, 0x80};           /* fe80::/10 */
    static const unsigned char ula[16] = {0xfc};                        /* fc00::/7 */

    if (memcmp(a, zero, 16) == 0)
        return ADDR_UNSPECIFIED;
    if (memcmp(a, loopback, 16) == 0)
        return ADDR_LOOPBACK;
    if (v6_in(a, mapped, 96) || v6_in(a, nat64, 96))
        return v4_class(v4_at(a + 12));
    if (v6_in(a, sixtofour, 16))
        return v4_class(v4_at(a + 2));
    if (v6_in(a, multicast, 8))
        return ADDR_MULTICAST;
    if (v6_in(a, link_local, 10))
        return ADDR_LINK_LOCAL;
    if (v6_in(a, ula, 7))
        return ADDR_PRIVATE;
    if (!v6_in(a, global, 3) || v6_in(a, ietf, 23) || v6_in(a, doc, 32) || v6_in(a, doc2, 20))
        return ADDR_RESERVED; /* IPv4-compatible ::/96, site-local fec0::/10 among them */
    return ADDR_PUBLIC;
}

/* Copies rather than casts: the sockaddr libcurl hands over is only aligned for itself. */
static enum addr_class addr_class(const struct sockaddr *sa)
{
    if (!sa)
        return ADDR_RESERVED;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        return v4_class(ntohl(in.sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        return v6_class(in6.sin6_addr.s6_addr);
    }
    return ADDR_RESERVED;
}

bool webhook_client_addr_public(const struct sockaddr *sa)
{
    return addr_class(sa) == ADDR_PUBLIC;
}

/* "127.0.0.1" or "::1" into out. */
static void addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    unsigned char raw[sizeof(struct sockaddr_in6)];
    const void *bytes = NULL;
    memcpy(raw, sa,
           sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    if (sa->sa_family == AF_INET)
        bytes = raw + offsetof(struct sockaddr_in, sin_addr);
    else if (sa->sa_family == AF_INET6)
        bytes = raw + offsetof(struct sockaddr_in6, sin6_addr);
    if (!bytes || !inet_ntop(sa->sa_family, bytes, out, (socklen_t)outlen))
        snprintf(out, outlen, "an address of family %d", (int)sa->sa_family);
}

/* ---------------------------------------------------------------- secrets and signatures */

/* Standard base64 with padding, NUL-terminated; out needs 4*ceil(n/3)+1 bytes. */
static void b64_encode(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* The key of a whsec_ secret into key (KEY_MAX+2 bytes). OpenSSL's decoder ignores
 * surrounding blanks and does not check padding or trailing bits, so the result is
 * encoded again and must give back the text: one spelling per key. */
static bool secret_key(const char *secret, unsigned char key[KEY_MAX + 2], size_t *keylen)
{
    size_t plen = strlen(SECRET_PREFIX), n;
    char again[KEY_B64_MAX + 1];
    int got;
    if (!secret || strncmp(secret, SECRET_PREFIX, plen) != 0)
        return false;
    secret += plen;
    n = strlen(secret);
    if (n == 0 || n > KEY_B64_MAX || n % 4 != 0)
        return false;
    got = EVP_DecodeBlock(key, (const unsigned char *)secret, (int)n);
    if (got < 0)
        return false;
    /* the decoder counts padding as zero bytes */
    *keylen = (size_t)got - (secret[n - 1] == '=') - (secret[n - 2] == '=');
    if (*keylen < KEY_MIN || *keylen > KEY_MAX)
        return false;
    b64_encode(key, *keylen, again);
    return strcmp(again, secret) == 0;
}

bool webhook_client_secret_new(char *out)
{
    unsigned char key[KEY_RANDOM];
    if (RAND_bytes(key, sizeof key) != 1)
        return false;
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): b64_encode writes the rest and NUL */
    memcpy(out, SECRET_PREFIX, strlen(SECRET_PREFIX));
    b64_encode(key, sizeof key, out + strlen(SECRET_PREFIX));
    OPENSSL_cleanse(key, sizeof key);
    return true;
}

/* The id is one of the three signed parts joined by '.', and a header value. */
static bool msg_id_valid(const char *id)
{
    if (!id || !*id)
        return false;
    for (; *id; id++)
        if (*id <= ' ' || *id > '~' || *id == '.')
            return false;
    return true;
}

/* HMAC-SHA256 of the three parts without joining them in a copy of the body. */
static bool hmac_parts(const unsigned char *key, size_t keylen, const char *const parts[5],
                       const size_t lens[5], unsigned char mac[32])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
    size_t maclen = 0;
    bool ok = false;

    if (!ctx || !EVP_MAC_init(ctx, key, keylen, params))
        goto out;
    for (int i = 0; i < 5; i++)
        if (!EVP_MAC_update(ctx, (const unsigned char *)parts[i], lens[i]))
            goto out;
    ok = EVP_MAC_final(ctx, mac, &maclen, 32) && maclen == 32;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(alg);
    return ok;
}

bool webhook_client_sign(const char *secret, const char *msg_id, long long timestamp,
                         const char *body, size_t len, char *out, size_t outlen)
{
    unsigned char key[KEY_MAX + 2], mac[32];
    size_t keylen = 0;
    char ts[24];
    bool ok = false;

    if (outlen < WEBHOOK_SIGNATURE_LEN + 1 || !msg_id_valid(msg_id) || (!body && len > 0))
        return false;
    if (!secret_key(secret, key, &keylen))
        goto out;
    snprintf(ts, sizeof ts, "%lld", timestamp);
    {
        const char *parts[5] = {msg_id, ".", ts, ".", body ? body : ""};
        const size_t lens[5] = {strlen(msg_id), 1, strlen(ts), 1, len};
        if (!hmac_parts(key, keylen, parts, lens, mac))
            goto out;
    }
    memcpy(out, "v1,", 3); /* NOLINT(bugprone-not-null-terminated-result): as above */
    b64_encode(mac, sizeof mac, out + 3);
    ok = true;
out:
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

/* ---------------------------------------------------------------- URLs */

/* The scheme of an absolute URL (RFC 3986: a letter, then letters, digits, "+-."), its
 * length in *n; NULL when url has none. */
static const char *url_scheme(const char *url, size_t *n)
{
    size_t i = 0;
    if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')))
        return NULL;
    while (url[i] && url[i] != ':') {
        char ch = url[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '-' || ch == '.'))
            return NULL;
        i++;
    }
    if (url[i] != ':')
        return NULL;
    *n = i;
    return url;
}

static bool has_part(CURLU *u, CURLUPart part)
{
    char *v = NULL;
    CURLUcode rc = curl_url_get(u, part, &v, 0);
    curl_free(v);
    return rc == CURLUE_OK;
}

/* Every address host resolves to must be public. */
static const char *host_check(const char *host)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    const char *why = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc == EAI_AGAIN)
        return "host could not be looked up for now (try again)";
    if (rc == EAI_MEMORY)
        return "could not be checked (out of memory)";
    if (rc != 0 || !res)
        return "host does not resolve";
    for (const struct addrinfo *ai = res; ai && !why; ai = ai->ai_next)
        why = addr_classes[addr_class(ai->ai_addr)].resolves_to;
    freeaddrinfo(res);
    return why;
}

/* libcurl parses the URL, as it will when delivering: one reading of it, not two that
 * an attacker could set apart (a backslash before '@', numeric hosts like 2130706433). */
const char *webhook_client_url_check(const char *url, bool allow_private)
{
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL;
    const char *why = NULL, *s;
    size_t n = 0;

    if (!url || !*url)
        return "is empty";
    if (strlen(url) > WEBHOOK_URL_MAX)
        return "is longer than 2048 bytes";
    s = url_scheme(url, &n);
    if (!s)
        return "must be an absolute http or https URL";
    if (!((n == 4 && strncasecmp(s, "http", 4) == 0) ||
          (n == 5 && strncasecmp(s, "https", 5) == 0)))
        return "must use http or https";
    /* before parsing: libcurl drops an empty fragment */
    if (strchr(url, '#'))
        return "must not have a fragment";

    u = curl_url();
    if (!u)
        return "could not be checked (out of memory)";
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        why = "is not a valid URL";
        goto out;
    }
    if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) ||
        has_part(u, CURLUPART_OPTIONS)) {
        why = "must not hold a user name or password";
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && strcmp(port, "0") == 0) {
        why = "has port 0";
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        why = "must have a host";
        goto out;
    }
    for (const char *p = host; *p; p++) {
        if ((unsigned char)*p >= 0x80) {
            why = "must name its host in ASCII (punycode for an international name)";
            goto out;
        }
    }
    if (allow_private)
        goto out;
    if (host[0] == '[') { /* an IPv6 literal, given to getaddrinfo without its brackets */
        size_t hl = strlen(host);
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    why = host_check(host);
out:
    curl_free(port);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return why;
}

/* ---------------------------------------------------------------- the client */

struct webhook_client {
    CURL *easy;
    bool allow_private;
    long timeout_ms;
    /* the delivery in progress */
    struct webhook_result *out;
    bool cut;          /* the answer passed WEBHOOK_REPLY_MAX: the transfer was ended */
    bool reply_oom;    /* no memory for the answer */
    char refused[128]; /* the last address the SSRF guard refused, and why */
    char errbuf[CURL_ERROR_SIZE];
};

bool webhook_client_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void webhook_client_global_cleanup(void)
{
    curl_global_cleanup();
}

/* Keeps the first WEBHOOK_REPLY_MAX bytes. Past them, answering short makes libcurl end
 * the transfer (CURLE_WRITE_ERROR, which post() reads as an answer): a receiver that
 * streams without end costs a delivery thread nothing more. */
static size_t on_reply(char *data, size_t size, size_t nmemb, void *arg)
{
    struct webhook_client *c = arg;
    struct webhook_result *r = c->out;
    size_t n = size * nmemb, keep = n;
    char *grown;

    if (r->reply_len + keep > WEBHOOK_REPLY_MAX)
        keep = WEBHOOK_REPLY_MAX - r->reply_len;
    if (keep > 0) {
        grown = realloc(r->reply, r->reply_len + keep + 1);
        if (!grown) {
            c->reply_oom = true;
            return 0;
        }
        r->reply = grown;
        memcpy(r->reply + r->reply_len, data, keep);
        r->reply_len += keep;
        r->reply[r->reply_len] = '\0';
    }
    if (keep < n) {
        r->truncated = true;
        c->cut = true;
        return 0;
    }
    return n;
}

/* Every connection libcurl opens, reused ones excepted (they were checked when opened). */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct webhook_client *c = arg;
    enum addr_class kind = addr_class(&a->addr);
    (void)purpose;
    if (!c->allow_private && kind != ADDR_PUBLIC) {
        char text[INET6_ADDRSTRLEN + 32];
        addr_text(&a->addr, text, sizeof text);
        snprintf(c->refused, sizeof c->refused, "%s is %s", text, addr_classes[kind].name);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

struct webhook_client *webhook_client_new(bool allow_private)
{
    struct webhook_client *c = calloc(1, sizeof *c);
    CURL *e;
    if (!c)
        return NULL;
    c->allow_private = allow_private;
    c->timeout_ms = WEBHOOK_TIMEOUT_MS_DEFAULT;
    e = c->easy = curl_easy_init();
    /* What must hold for every delivery is set once and checked: a libcurl that refused
     * one of these would deliver without the guard. NOSIGNAL: the daemon's threads do not
     * want libcurl's SIGALRM for DNS timeouts. An empty proxy: no proxy from the
     * environment, which would take the connection (and its check) off our hands. */
    if (!e || curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, c) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK) {
        webhook_client_free(c);
        return NULL;
    }
    return c;
}

void webhook_client_free(struct webhook_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->easy);
    free(c);
}

void webhook_client_set_timeout_ms(struct webhook_client *c, long ms)
{
    if (ms > 0)
        c->timeout_ms = ms;
}

void webhook_result_free(struct webhook_result *r)
{
    if (!r)
        return;
    free(r->reply);
    r->reply = NULL;
    r->reply_len = 0;
}

/* list with "name: value" appended (libcurl copies it); NULL when out of memory, list
 * then freed. An empty value ("Expect: ") removes a header libcurl would add. */
static struct curl_slist *header_add(struct curl_slist *list, const char *name, const char *value)
{
    size_t n = strlen(name) + 2 + strlen(value) + 1;
    char *line = malloc(n);
    struct curl_slist *grown = NULL;
    if (line) {
        snprintf(line, n, "%s: %s", name, value);
        grown = curl_slist_append(list, line);
        free(line);
    }
    if (!grown)
        curl_slist_free_all(list);
    return grown;
}

/* "v1,... v1,..." for each secret into *sigs (new); false with *sigs NULL when out of
 * memory; *malformed when a secret or msg_id cannot sign. */
static bool signatures(const char *const *secrets, const char *msg_id, long long timestamp,
                       const char *body, size_t len, char **sigs, bool *malformed)
{
    size_t n = 0, at = 0, cap;
    *sigs = NULL;
    *malformed = false;
    while (secrets && secrets[n])
        n++;
    if (n == 0) {
        *malformed = true;
        return true;
    }
    cap = n * (WEBHOOK_SIGNATURE_LEN + 1);
    *sigs = malloc(cap);
    if (!*sigs)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            (*sigs)[at++] = ' ';
        if (!webhook_client_sign(secrets[i], msg_id, timestamp, body, len, *sigs + at, cap - at)) {
            *malformed = true;
            break;
        }
        at += WEBHOOK_SIGNATURE_LEN;
    }
    return true;
}

bool webhook_client_post(struct webhook_client *c, const char *url, const char *msg_id,
                         long long timestamp, const char *body, size_t len,
                         const char *const *secrets, struct webhook_result *out)
{
    uint64_t start = util_now_ns();
    struct curl_slist *headers = NULL;
    char *sigs = NULL, ts[24];
    bool ok = false, malformed = false;
    CURLcode rc;

    memset(out, 0, sizeof *out);
    if (!signatures(secrets, msg_id, timestamp, body, len, &sigs, &malformed))
        goto out;
    if (malformed) {
        snprintf(out->error, sizeof out->error, "cannot sign: a malformed secret or message id");
        ok = true;
        goto out;
    }
    snprintf(ts, sizeof ts, "%lld", timestamp);
    /* "Expect:" off: a receiver that ignores 100-continue would cost a second's wait */
    headers = header_add(NULL, "Content-Type", "application/json");
    headers = headers ? header_add(headers, "webhook-id", msg_id) : NULL;
    headers = headers ? header_add(headers, "webhook-timestamp", ts) : NULL;
    headers = headers ? header_add(headers, "webhook-signature", sigs) : NULL;
    headers = headers ? header_add(headers, "Expect", "") : NULL;
    if (!headers)
        goto out;

    c->out = out;
    c->cut = c->reply_oom = false;
    c->refused[0] = c->errbuf[0] = '\0';
    if (curl_easy_setopt(c->easy, CURLOPT_URL, url) != CURLE_OK)
        goto out; /* libcurl only copies it here: out of memory */
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    rc = curl_easy_perform(c->easy);
    /* the handle outlives this call's header list and body */
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, NULL);

    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && c->cut)) {
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &out->status);
    } else {
        if (c->reply_oom)
            snprintf(out->error, sizeof out->error, "out of memory for the answer");
        else if (c->refused[0] && rc == CURLE_COULDNT_CONNECT)
            snprintf(out->error, sizeof out->error, "address not allowed: %s", c->refused);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            snprintf(out->error, sizeof out->error, "timed out after %ld ms", c->timeout_ms);
        else
            snprintf(out->error, sizeof out->error, "%s",
                     c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        out->status = 0;
        webhook_result_free(out);
        out->truncated = false;
    }
    ok = true;
out:
    c->out = NULL;
    curl_slist_free_all(headers);
    free(sigs);
    if (!ok)
        webhook_result_free(out);
    out->seconds = (double)(util_now_ns() - start) / 1e9;
    return ok;
}
