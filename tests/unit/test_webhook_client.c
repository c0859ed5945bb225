/* Unit tests of webhook_client.c: secrets, signatures (the Standard Webhooks test vector),
 * the URL check and the address rule, and deliveries to a small HTTP server run by the
 * test itself on 127.0.0.1 (a thread with a listening socket; no internet). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "leadloop/webhook_client.h"
#include "suites.h"

/* The example of the Standard Webhooks reference libraries (checked here with
 * `openssl dgst -sha256 -mac HMAC` too). */
#define VEC_SECRET    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VEC_ID        "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VEC_TIMESTAMP 1614265330LL
#define VEC_BODY      "{\"test\": 2432232314}"
#define VEC_SIGNATURE "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

/* --- secrets and signatures --- */

START_TEST(sign_reference_vector)
{
    char sig[WEBHOOK_SIGNATURE_LEN + 1];

    ck_assert(webhook_client_sign(VEC_SECRET, VEC_ID, VEC_TIMESTAMP, VEC_BODY, strlen(VEC_BODY),
                                  sig, sizeof sig));
    ck_assert_str_eq(sig, VEC_SIGNATURE);
    ck_assert_uint_eq(strlen(sig), WEBHOOK_SIGNATURE_LEN);
    /* each signed part counts */
    ck_assert(webhook_client_sign(VEC_SECRET, VEC_ID, VEC_TIMESTAMP + 1, VEC_BODY, strlen(VEC_BODY),
                                  sig, sizeof sig));
    ck_assert_str_ne(sig, VEC_SIGNATURE);
    ck_assert(webhook_client_sign(VEC_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJeK", VEC_TIMESTAMP,
                                  VEC_BODY, strlen(VEC_BODY), sig, sizeof sig));
    ck_assert_str_ne(sig, VEC_SIGNATURE);
    ck_assert(webhook_client_sign(VEC_SECRET, VEC_ID, VEC_TIMESTAMP, VEC_BODY, strlen(VEC_BODY) - 1,
                                  sig, sizeof sig));
    ck_assert_str_ne(sig, VEC_SIGNATURE);
}
END_TEST

START_TEST(sign_needs_room)
{
    char sig[WEBHOOK_SIGNATURE_LEN + 8];

    memset(sig, '*', sizeof sig);
    ck_assert(!webhook_client_sign(VEC_SECRET, VEC_ID, VEC_TIMESTAMP, VEC_BODY, strlen(VEC_BODY),
                                   sig, WEBHOOK_SIGNATURE_LEN));
    ck_assert_int_eq(sig[0], '*');
    ck_assert(webhook_client_sign(VEC_SECRET, VEC_ID, VEC_TIMESTAMP, VEC_BODY, strlen(VEC_BODY),
                                  sig, WEBHOOK_SIGNATURE_LEN + 1));
    ck_assert_str_eq(sig, VEC_SIGNATURE);
    ck_assert_int_eq(sig[WEBHOOK_SIGNATURE_LEN + 1], '*');
}
END_TEST

/* "whsec_" and n copies of c, then tail */
static char *secret_of(size_t n, char c, const char *tail)
{
    static char buf[256];
    size_t at = (size_t)snprintf(buf, sizeof buf, "whsec_");
    memset(buf + at, c, n);
    snprintf(buf + at + n, sizeof buf - at - n, "%s", tail);
    return buf;
}

START_TEST(sign_key_lengths)
{
    char sig[WEBHOOK_SIGNATURE_LEN + 1];
    /* 24 bytes (32 characters) to 64 bytes (86 and "=="): the spec's bounds */
    ck_assert(webhook_client_sign(secret_of(32, 'A', ""), "m", 1, "", 0, sig, sizeof sig));
    ck_assert(webhook_client_sign(secret_of(86, 'A', "=="), "m", 1, "", 0, sig, sizeof sig));
    ck_assert(webhook_client_sign(secret_of(33, 'A', "Q=="), "m", 1, "", 0, sig, sizeof sig));
    ck_assert_msg(!webhook_client_sign(secret_of(27, 'A', "="), "m", 1, "", 0, sig, sizeof sig),
                  "a 20-byte key is shorter than the spec's 24");
    ck_assert_msg(!webhook_client_sign(secret_of(87, 'A', "="), "m", 1, "", 0, sig, sizeof sig),
                  "a 65-byte key is longer than the spec's 64");
    ck_assert_msg(!webhook_client_sign(secret_of(88, 'A', ""), "m", 1, "", 0, sig, sizeof sig),
                  "a 66-byte key is longer than the spec's 64");
}
END_TEST

static const struct {
    const char *secret, *why;
} bad_secrets[] = {
    {NULL, "no secret"},
    {"", "empty"},
    {"whsec_", "no key"},
    {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "no whsec_ prefix"},
    {"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "prefix in capitals"},
    {"whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "an asymmetric key's prefix"},
    {" whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a blank before"},
    {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ", "a blank after"},
    {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "a newline after"},
    {"whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "a blank inside"},
    {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "a length not a multiple of 4"},
    {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!w", "a character outside base64"},
    {"whsec_MfKQ-r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64url's '-'"},
    {"whsec_MfKQ_r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64url's '_'"},
    {"whsec_MfKQ9r8GKYqrTwjUPD8I=PZIo2LaLaSw", "padding inside"},
    {"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB==", "non-zero bits after the last byte"},
    {"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=AAA", "padding then more"},
};

START_TEST(sign_rejects_malformed_secrets)
{
    char sig[WEBHOOK_SIGNATURE_LEN + 1] = "untouched";
    ck_assert_msg(!webhook_client_sign(bad_secrets[_i].secret, VEC_ID, VEC_TIMESTAMP, VEC_BODY,
                                       strlen(VEC_BODY), sig, sizeof sig),
                  "secret '%s' (%s) expected to be refused, got signature %s",
                  bad_secrets[_i].secret ? bad_secrets[_i].secret : "(null)", bad_secrets[_i].why,
                  sig);
    ck_assert_str_eq(sig, "untouched");
}
END_TEST

START_TEST(sign_rejects_bad_message_ids)
{
    static const char *const ids[] = {NULL,     "",        "msg.1",    "msg 1", "msg\r\nX-Evil: 1",
                                      "msg\t1", "msg\x7f", "m\xc3\xa9"};
    char sig[WEBHOOK_SIGNATURE_LEN + 1];
    for (int i = 0; i < N(ids); i++)
        ck_assert_msg(!webhook_client_sign(VEC_SECRET, ids[i], 1, "{}", 2, sig, sizeof sig),
                      "message id #%d expected to be refused", i);
    ck_assert(webhook_client_sign(VEC_SECRET, "01HZX-uuid_like~id", 1, "{}", 2, sig, sizeof sig));
}
END_TEST

START_TEST(secret_new_is_a_secret)
{
    char a[WEBHOOK_SECRET_LEN + 2], b[WEBHOOK_SECRET_LEN + 2], sig[WEBHOOK_SIGNATURE_LEN + 1];

    memset(a, '*', sizeof a);
    ck_assert(webhook_client_secret_new(a));
    ck_assert(webhook_client_secret_new(b));
    ck_assert_uint_eq(strlen(a), WEBHOOK_SECRET_LEN);
    ck_assert_int_eq(a[WEBHOOK_SECRET_LEN + 1], '*'); /* writes WEBHOOK_SECRET_LEN+1 bytes */
    ck_assert_msg(strncmp(a, "whsec_", 6) == 0, "expected the whsec_ prefix, got %s", a);
    ck_assert_msg(
        strspn(a + 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == 43 &&
            a[49] == '=',
        "expected base64 of 32 bytes, got %s", a + 6);
    ck_assert_str_ne(a, b);
    ck_assert_msg(webhook_client_sign(a, "msg_1", 1, "{}", 2, sig, sizeof sig),
                  "a new secret %s does not sign", a);
}
END_TEST

/* --- URLs and addresses --- */

/* why: NULL when accepted, else a part of the expected message */
static const struct {
    const char *url;
    bool allow_private;
    const char *why;
} urls[] = {
    {"https://93.184.216.34/hook", false, NULL},
    {"http://93.184.216.34:8080/a/b?c=d&e", false, NULL},
    {"HTTPS://93.184.216.34/", false, NULL},
    {"http://172.32.0.1/", false, NULL}, /* just past 172.16/12 */
    {"http://[2606:2800:220:1:248:1893:25c8:1946]/", false, NULL},
    {"http://[64:ff9b::5db8:d822]/", false, NULL}, /* NAT64 of 93.184.216.34 */
    {NULL, false, "empty"},
    {"", false, "empty"},
    {"ftp://93.184.216.34/", false, "must use http or https"},
    {"file:///etc/passwd", false, "must use http or https"},
    {"gopher://93.184.216.34:70/", false, "must use http or https"},
    {"javascript:alert(1)", false, "must use http or https"},
    {"httpx://93.184.216.34/", false, "must use http or https"},
    {"ftp://127.0.0.1/", true, "must use http or https"},
    {"//93.184.216.34/", false, "absolute"},
    {"93.184.216.34/hook", false, "absolute"},
    {"https://user:pw@93.184.216.34/", false, "user name or password"},
    {"https://user@93.184.216.34/", false, "user name or password"},
    {"https://:pw@93.184.216.34/", false, "user name or password"},
    {"http://93.184.216.34\\@127.0.0.1/", false, "user name or password"},
    {"http://user@127.0.0.1/", true, "user name or password"},
    {"https://93.184.216.34/#top", false, "fragment"},
    {"https://93.184.216.34/#", false, "fragment"},
    {"https://93.184.216.34:0/", false, "port 0"},
    {"https://93.184.216.34:65536/", false, "not a valid URL"},
    {"https://93.184.216.34/a b", false, "not a valid URL"},
    {"http://", false, "not a valid URL"},
    {"http://b\xc3\xbc"
     "cher.example/",
     false, "ASCII"},
    {"http://127.0.0.1/", false, "resolves to a loopback address"},
    {"http://127.9.8.7:8080/", false, "loopback"},
    {"http://2130706433/", false, "loopback"}, /* 127.0.0.1 as one number */
    {"http://0x7f.1/", false, "loopback"},
    {"http://localhost/", false, "loopback"},
    {"http://10.0.0.1/", false, "resolves to a private address"},
    {"http://172.16.5.4/", false, "private"},
    {"http://172.31.255.255/", false, "private"},
    {"http://192.168.1.1/", false, "private"},
    {"http://169.254.169.254/latest/meta-data/", false, "link-local"},
    {"http://0.0.0.0/", false, "unspecified"},
    {"http://100.64.0.1/", false, "carrier-grade NAT"},
    {"http://100.127.255.254/", false, "carrier-grade NAT"},
    {"http://224.0.0.1/", false, "multicast"},
    {"http://255.255.255.255/", false, "reserved"},
    {"http://192.0.2.10/", false, "reserved"},
    {"http://[::1]/", false, "loopback"},
    {"http://[::]/", false, "unspecified"},
    {"http://[::ffff:127.0.0.1]/", false, "loopback"},
    {"http://[::ffff:10.1.2.3]/", false, "private"},
    {"http://[::ffff:169.254.169.254]/", false, "link-local"},
    {"http://[64:ff9b::7f00:1]/", false, "loopback"},
    {"http://[2002:7f00:1::]/", false, "loopback"},
    {"http://[fe80::1]/", false, "link-local"},
    {"http://[fd00::1]/", false, "private"},
    {"http://[ff02::1]/", false, "multicast"},
    {"http://[2001:db8::1]/", false, "reserved"},
    {"http://nonexistent.invalid/", false, "host does not resolve"},
    {"http://127.0.0.1:8080/hook", true, NULL},
    {"http://[::1]/", true, NULL},
    {"http://nonexistent.invalid/", true, NULL}, /* no lookup when private hosts are fine */
};

START_TEST(url_check)
{
    const char *got = webhook_client_url_check(urls[_i].url, urls[_i].allow_private);
    const char *url = urls[_i].url ? urls[_i].url : "(null)";

    if (!urls[_i].why)
        ck_assert_msg(!got, "%s (allow_private %d): expected acceptance, got \"%s\"", url,
                      urls[_i].allow_private, got);
    else
        ck_assert_msg(got && strstr(got, urls[_i].why),
                      "%s (allow_private %d): expected a message with \"%s\", got \"%s\"", url,
                      urls[_i].allow_private, urls[_i].why, got ? got : "(accepted)");
}
END_TEST

START_TEST(url_check_length)
{
    static char url[WEBHOOK_URL_MAX + 2];
    size_t at = (size_t)snprintf(url, sizeof url, "https://93.184.216.34/");
    const char *got;

    memset(url + at, 'a', WEBHOOK_URL_MAX - at);
    url[WEBHOOK_URL_MAX] = '\0';
    got = webhook_client_url_check(url, false);
    ck_assert_msg(!got, "a URL of %d bytes expected to pass, got \"%s\"", WEBHOOK_URL_MAX, got);
    url[WEBHOOK_URL_MAX] = 'a';
    url[WEBHOOK_URL_MAX + 1] = '\0';
    got = webhook_client_url_check(url, false);
    ck_assert_msg(got && strstr(got, "2048"), "a URL of %d bytes: expected the length, got \"%s\"",
                  WEBHOOK_URL_MAX + 1, got ? got : "(accepted)");
}
END_TEST

static const struct {
    const char *addr;
    bool public;
} addrs[] = {
    {"93.184.216.34", true},
    {"8.8.8.8", true},
    {"1.1.1.1", true},
    {"172.32.0.1", true},
    {"100.63.255.255", true},
    {"100.128.0.0", true},
    {"169.253.255.255", true},
    {"192.169.0.1", true},
    {"223.255.255.255", true},
    {"0.0.0.0", false},
    {"0.1.2.3", false},
    {"127.0.0.1", false},
    {"127.255.255.255", false},
    {"10.0.0.0", false},
    {"10.255.255.255", false},
    {"172.16.0.0", false},
    {"172.31.255.255", false},
    {"192.168.0.1", false},
    {"169.254.0.1", false},
    {"169.254.169.254", false},
    {"100.64.0.0", false},
    {"100.127.255.255", false},
    {"224.0.0.1", false},
    {"239.255.255.250", false},
    {"240.0.0.1", false},
    {"255.255.255.255", false},
    {"192.0.0.8", false},
    {"192.0.2.1", false},
    {"198.18.0.1", false},
    {"198.51.100.7", false},
    {"203.0.113.9", false},
    {"2606:2800:220:1:248:1893:25c8:1946", true},
    {"2a00:1450:4001:82a::200e", true},
    {"::ffff:93.184.216.34", true},
    {"64:ff9b::808:808", true},
    {"2002:5db8:d822::1", true}, /* 6to4 of 93.184.216.34 */
    {"::", false},
    {"::1", false},
    {"::ffff:127.0.0.1", false},
    {"::ffff:10.0.0.1", false},
    {"::ffff:192.168.0.1", false},
    {"::ffff:169.254.169.254", false},
    {"::ffff:0.0.0.0", false},
    {"::ffff:100.64.0.1", false},
    {"::127.0.0.1", false}, /* IPv4-compatible, deprecated */
    {"64:ff9b::a00:1", false},
    {"64:ff9b:1::1", false},
    {"2002:a00:1::1", false},
    {"2002:7f00:1::1", false},
    {"fc00::1", false},
    {"fdff:ffff::1", false},
    {"fe80::1", false},
    {"febf::1", false},
    {"fec0::1", false},
    {"ff02::1", false},
    {"ff0e::1", false},
    {"2001:db8::1", false},
    {"2001::1", false}, /* Teredo */
    {"3fff::1", false},
    {"100::1", false}, /* discard-only */
};

START_TEST(addr_public)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof ss);
    if (strchr(addrs[_i].addr, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, addrs[_i].addr, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, addrs[_i].addr, &in->sin_addr), 1);
    }
    ck_assert_msg(webhook_client_addr_public((struct sockaddr *)&ss) == addrs[_i].public,
                  "%s: expected %s, got the opposite", addrs[_i].addr,
                  addrs[_i].public ? "public" : "not public");
}
END_TEST

START_TEST(addr_public_other_families)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/tmp/x"};
    ck_assert(!webhook_client_addr_public((struct sockaddr *)&un));
    ck_assert(!webhook_client_addr_public(NULL));
}
END_TEST

/* --- deliveries --- */

/* How the test server answers every request. */
enum srv_mode {
    SRV_OK,       /* 200 "ok" */
    SRV_REDIRECT, /* 302 to another path of itself */
    SRV_BIG,      /* 200 with BIG_REPLY bytes */
    SRV_SILENT,   /* reads the request and never answers */
};

#define BIG_REPLY (100 * 1024)

/* A listening socket on 127.0.0.1 and, once started, a thread that serves one connection
 * after another, each until the client closes it or the test stops the server. */
struct srv {
    int lfd, port, stop[2];
    enum srv_mode mode;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards what follows */
    int connections, requests;
    char head[16384]; /* the last request's head and body */
    char body[8192];
    size_t body_len;
};

static void srv_listen(struct srv *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;

    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s->lfd, 0);
    ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s->lfd, 8), 0);
    ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    ck_assert_int_eq(pipe(s->stop), 0);
}

/* Waits for fd to be readable: true when it is, false when the test stops the server. */
static bool srv_wait(struct srv *s, int fd)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop[0], .events = POLLIN}};
    for (;;) {
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        return n > 0 && !p[1].revents;
    }
}

static void srv_send(int fd, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the client left (it stops reading a reply past 64 KiB) */
        data += w;
        n -= (size_t)w;
    }
}

static size_t content_length(const char *head)
{
    const char *p = head;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, "content-length:", 15) == 0)
            return (size_t)strtoul(p + 15, NULL, 10);
    }
    return 0;
}

static void srv_answer(struct srv *s, int fd)
{
    char head[256];
    int n;
    switch (s->mode) {
    case SRV_OK: {
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        srv_send(fd, ok, sizeof ok - 1);
        break;
    }
    case SRV_REDIRECT:
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/elsewhere\r\n"
                     "Content-Length: 5\r\n\r\nmoved",
                     s->port);
        srv_send(fd, head, (size_t)n);
        break;
    case SRV_BIG: {
        char *big = malloc(BIG_REPLY);
        for (size_t i = 0; big && i < BIG_REPLY; i++)
            big[i] = (char)('a' + i % 26);
        n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BIG_REPLY);
        srv_send(fd, head, (size_t)n);
        if (big)
            srv_send(fd, big, BIG_REPLY);
        free(big);
        break;
    }
    case SRV_SILENT:
        break;
    }
}

/* Serves requests on fd until the client closes it; false when stopped. */
static bool srv_connection(struct srv *s, int fd)
{
    char buf[16384];
    size_t have = 0;
    for (;;) {
        char *end = NULL;
        size_t head_len, body_len;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            ssize_t r;
            if (have == sizeof buf || !srv_wait(s, fd))
                return false;
            r = recv(fd, buf + have, sizeof buf - have, 0);
            if (r <= 0)
                return true;
            have += (size_t)r;
        }
        head_len = (size_t)(end - buf) + 4;
        buf[head_len - 2] = '\0'; /* the head as text, ending in one CRLF */
        body_len = content_length(buf);
        if (head_len + body_len > sizeof buf)
            return false;
        while (have < head_len + body_len) {
            ssize_t r;
            if (!srv_wait(s, fd))
                return false;
            r = recv(fd, buf + have, sizeof buf - have, 0);
            if (r <= 0)
                return true;
            have += (size_t)r;
        }
        pthread_mutex_lock(&s->mu);
        s->requests++;
        snprintf(s->head, sizeof s->head, "%s", buf);
        memcpy(s->body, buf + head_len, body_len < sizeof s->body ? body_len : 0);
        s->body_len = body_len < sizeof s->body ? body_len : 0;
        pthread_mutex_unlock(&s->mu);
        srv_answer(s, fd);
        have -= head_len + body_len;
        memmove(buf, buf + head_len + body_len, have);
    }
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    while (srv_wait(s, s->lfd)) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        bool go_on;
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->mu);
        s->connections++;
        pthread_mutex_unlock(&s->mu);
        go_on = srv_connection(s, fd);
        close(fd);
        if (!go_on)
            break;
    }
    return NULL;
}

static void srv_start(struct srv *s, enum srv_mode mode)
{
    srv_listen(s);
    s->mode = mode;
    ck_assert_int_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
    s->started = true;
}

static void srv_stop(struct srv *s)
{
    if (s->started) {
        ck_assert_int_eq(write(s->stop[1], "x", 1), 1);
        pthread_join(s->thread, NULL);
    }
    close(s->lfd);
    close(s->stop[0]);
    close(s->stop[1]);
    pthread_mutex_destroy(&s->mu);
}

/* The value of header name in the server's last request head (copied into out). */
static const char *srv_header(struct srv *s, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    const char *p;
    out[0] = '\0';
    pthread_mutex_lock(&s->mu);
    for (p = strchr(s->head, '\n'); p; p = strchr(p, '\n')) {
        p++;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1 + strspn(p + n + 1, " "), *e = strstr(v, "\r\n");
            snprintf(out, outlen, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return out;
}

static int srv_count(struct srv *s, const int *field)
{
    int n;
    pthread_mutex_lock(&s->mu);
    n = *field;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void url_of(const struct srv *s, const char *host, char *url, size_t len)
{
    snprintf(url, len, "http://%s:%d/hooks/in", host, s->port);
}

START_TEST(post_sends_headers_and_body)
{
    struct srv s;
    struct webhook_client *c = webhook_client_new(true);
    const char *const secrets[] = {VEC_SECRET, NULL};
    struct webhook_result r;
    char url[64], v[256];

    ck_assert_ptr_nonnull(c);
    srv_start(&s, SRV_OK);
    url_of(&s, "127.0.0.1", url, sizeof url);
    ck_assert(webhook_client_post(c, url, VEC_ID, VEC_TIMESTAMP, VEC_BODY, strlen(VEC_BODY),
                                  secrets, &r));
    ck_assert_msg(r.status == 200 && r.error[0] == '\0', "expected 200, got %ld \"%s\"", r.status,
                  r.error);
    ck_assert_uint_eq(r.reply_len, 2);
    ck_assert_str_eq(r.reply, "ok");
    ck_assert(!r.truncated);
    ck_assert(r.seconds >= 0 && r.seconds < 5);

    ck_assert_str_eq(srv_header(&s, "webhook-id", v, sizeof v), VEC_ID);
    ck_assert_str_eq(srv_header(&s, "webhook-timestamp", v, sizeof v), "1614265330");
    ck_assert_str_eq(srv_header(&s, "webhook-signature", v, sizeof v), VEC_SIGNATURE);
    ck_assert_str_eq(srv_header(&s, "content-type", v, sizeof v), "application/json");
    ck_assert_str_eq(srv_header(&s, "user-agent", v, sizeof v), "Leadloop-Webhooks/1");
    ck_assert_str_eq(srv_header(&s, "expect", v, sizeof v), "");
    pthread_mutex_lock(&s.mu);
    ck_assert_msg(strncmp(s.head, "POST /hooks/in HTTP/1.1\r\n", 25) == 0, "request line: %.40s",
                  s.head);
    ck_assert_uint_eq(s.body_len, strlen(VEC_BODY));
    ck_assert_mem_eq(s.body, VEC_BODY, s.body_len);
    pthread_mutex_unlock(&s.mu);

    webhook_result_free(&r);
    ck_assert_ptr_null(r.reply);
    webhook_result_free(NULL);
    webhook_client_free(c);
    srv_stop(&s);
}
END_TEST

START_TEST(post_signs_with_every_secret)
{
    struct srv s;
    struct webhook_client *c = webhook_client_new(true);
    char fresh[WEBHOOK_SECRET_LEN + 1], url[64], v[256], want[256];
    char sig_new[WEBHOOK_SIGNATURE_LEN + 1], sig_old[WEBHOOK_SIGNATURE_LEN + 1];
    const char *const secrets[] = {fresh, VEC_SECRET, NULL};
    static const char body[] = "{\"type\":\"lead.created\",\"data\":{\"id\":1}}";
    struct webhook_result r;

    ck_assert(webhook_client_secret_new(fresh));
    ck_assert(webhook_client_sign(fresh, "msg_2", 1700000000, body, strlen(body), sig_new,
                                  sizeof sig_new));
    ck_assert(webhook_client_sign(VEC_SECRET, "msg_2", 1700000000, body, strlen(body), sig_old,
                                  sizeof sig_old));
    snprintf(want, sizeof want, "%s %s", sig_new, sig_old);
    srv_start(&s, SRV_OK);
    url_of(&s, "127.0.0.1", url, sizeof url);
    ck_assert(webhook_client_post(c, url, "msg_2", 1700000000, body, strlen(body), secrets, &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(srv_header(&s, "webhook-signature", v, sizeof v), want);
    webhook_result_free(&r);
    webhook_client_free(c);
    srv_stop(&s);
}
END_TEST

START_TEST(post_reuses_its_connection)
{
    struct srv s;
    struct webhook_client *c = webhook_client_new(true);
    const char *const secrets[] = {VEC_SECRET, NULL};
    struct webhook_result r;
    char url[64];

    srv_start(&s, SRV_OK);
    url_of(&s, "127.0.0.1", url, sizeof url);
    for (int i = 0; i < 3; i++) {
        ck_assert(webhook_client_post(c, url, "msg_k", 1, "{}", 2, secrets, &r));
        ck_assert_int_eq(r.status, 200);
        webhook_result_free(&r);
    }
    ck_assert_int_eq(srv_count(&s, &s.requests), 3);
    ck_assert_msg(srv_count(&s, &s.connections) == 1,
                  "3 deliveries expected to share 1 connection, got %d",
                  srv_count(&s, &s.connections));
    webhook_client_free(c);
    srv_stop(&s);
}
END_TEST

START_TEST(post_does_not_follow_redirects)
{
    struct srv s;
    struct webhook_client *c = webhook_client_new(true);
    const char *const secrets[] = {VEC_SECRET, NULL};
    struct webhook_result r;
    char url[64];

    srv_start(&s, SRV_REDIRECT);
    url_of(&s, "127.0.0.1", url, sizeof url);
    ck_assert(webhook_client_post(c, url, "msg_r", 1, "{}", 2, secrets, &r));
    ck_assert_msg(r.status == 302 && r.error[0] == '\0', "expected 302, got %ld \"%s\"", r.status,
                  r.error);
    ck_assert_str_eq(r.reply, "moved");
    ck_assert_msg(srv_count(&s, &s.requests) == 1, "expected 1 request, got %d (followed?)",
                  srv_count(&s, &s.requests));
    webhook_result_free(&r);
    webhook_client_free(c);
    srv_stop(&s);
}
END_TEST

START_TEST(post_keeps_64_kib_of_a_reply)
{
    struct srv s;
    struct webhook_client *c = webhook_client_new(true);
    const char *const secrets[] = {VEC_SECRET, NULL};
    struct webhook_result r;
    char url[64];

    srv_start(&s, SRV_BIG);
    url_of(&s, "127.0.0.1", url, sizeof url);
    ck_assert(webhook_client_post(c, url, "msg_b", 1, "{}", 2, secrets, &r));
    ck_assert_msg(r.status == 200 && r.error[0] == '\0', "expected 200, got %ld \"%s\"", r.status,
                  r.error);
    ck_assert_uint_eq(r.reply_len, WEBHOOK_REPLY_MAX);
    ck_assert(r.truncated);
    ck_assert_uint_eq(strlen(r.reply), WEBHOOK_REPLY_MAX);
    for (size_t i = 0; i < r.reply_len; i++)
        if (r.reply[i] != (char)('a' + i % 26))
            ck_abort_msg("reply byte %zu: expected '%c', got '%c'", i, 'a' + (int)(i % 26),
                         r.reply[i]);
    webhook_result_free(&r);
    /* the client still delivers after a transfer it ended */
    ck_assert(webhook_client_post(c, url, "msg_b2", 1, "{}", 2, secrets, &r));
    ck_assert_int_eq(r.status, 200);
    webhook_result_free(&r);
    webhook_client_free(c);
    srv_stop(&s);
}
END_TEST

START_TEST(post_times_out)
{
    struct srv s;
    struct webhook_client *c = webhook_client_new(true);
    const char *const secrets[] = {VEC_SECRET, NULL};
    struct webhook_result r;
    char url[64];

    webhook_client_set_timeout_ms(c, 200);
    srv_start(&s, SRV_SILENT);
    url_of(&s, "127.0.0.1", url, sizeof url);
    ck_assert(webhook_client_post(c, url, "msg_t", 1, "{}", 2, secrets, &r));
    ck_assert_msg(r.status == 0 && strstr(r.error, "timed out"),
                  "expected a timeout, got %ld \"%s\"", r.status, r.error);
    ck_assert_ptr_null(r.reply);
    ck_assert_msg(r.seconds >= 0.15 && r.seconds < 1.0, "expected about 0.2 s, took %.3f s",
                  r.seconds);
    ck_assert_int_eq(srv_count(&s, &s.requests), 1);
    webhook_result_free(&r);
    webhook_client_free(c);
    srv_stop(&s);
}
END_TEST

START_TEST(post_refused_connection)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct webhook_client *c = webhook_client_new(true);
    const char *const secrets[] = {VEC_SECRET, NULL};
    struct webhook_result r;
    char url[64];

    /* bound and not listening: the port is ours, and connecting to it is refused */
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    ck_assert(webhook_client_post(c, url, "msg_x", 1, "{}", 2, secrets, &r));
    ck_assert_msg(r.status == 0 && r.error[0], "expected a failure, got %ld \"%s\"", r.status,
                  r.error);
    webhook_client_free(c);
    close(fd);
}
END_TEST

/* The guard at connection time: nothing reaches the server, not even a connection. */
static void refused_at_connect(const char *host)
{
    struct srv s;
    struct webhook_client *c = webhook_client_new(false);
    const char *const secrets[] = {VEC_SECRET, NULL};
    struct webhook_result r;
    struct pollfd p;
    char url[96];

    srv_listen(&s);
    url_of(&s, host, url, sizeof url);
    ck_assert(webhook_client_post(c, url, "msg_p", 1, "{}", 2, secrets, &r));
    ck_assert_msg(r.status == 0 && strstr(r.error, "address not allowed") &&
                      strstr(r.error, "loopback"),
                  "%s: expected \"address not allowed: ... loopback\", got %ld \"%s\"", url,
                  r.status, r.error);
    ck_assert_ptr_null(r.reply);
    /* a loopback connect() is queued on the listening socket before it returns */
    p = (struct pollfd){.fd = s.lfd, .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 0) == 0, "a connection reached the server");
    webhook_client_free(c);
    srv_stop(&s);
}

START_TEST(post_refuses_private_addresses)
{
    refused_at_connect("127.0.0.1");
    refused_at_connect("localhost");
    refused_at_connect("[::ffff:127.0.0.1]");
}
END_TEST

START_TEST(post_with_a_bad_secret_sends_nothing)
{
    struct srv s;
    struct webhook_client *c = webhook_client_new(true);
    const char *const bad[] = {VEC_SECRET, "whsec_short", NULL};
    const char *const good[] = {VEC_SECRET, NULL};
    const char *const none[] = {NULL};
    struct webhook_result r;
    char url[64];

    srv_start(&s, SRV_OK);
    url_of(&s, "127.0.0.1", url, sizeof url);
    ck_assert(webhook_client_post(c, url, "msg_s", 1, "{}", 2, bad, &r));
    ck_assert_msg(r.status == 0 && strstr(r.error, "cannot sign"), "got %ld \"%s\"", r.status,
                  r.error);
    ck_assert(webhook_client_post(c, url, "msg_s", 1, "{}", 2, none, &r));
    ck_assert_msg(r.status == 0 && strstr(r.error, "cannot sign"), "got %ld \"%s\"", r.status,
                  r.error);
    ck_assert(webhook_client_post(c, url, "msg.s", 1, "{}", 2, good, &r));
    ck_assert_msg(r.status == 0 && strstr(r.error, "cannot sign"), "got %ld \"%s\"", r.status,
                  r.error);
    ck_assert_int_eq(srv_count(&s, &s.connections), 0);
    webhook_client_free(c);
    srv_stop(&s);
}
END_TEST

START_TEST(post_only_http)
{
    struct webhook_client *c = webhook_client_new(true);
    const char *const secrets[] = {VEC_SECRET, NULL};
    struct webhook_result r;

    ck_assert(webhook_client_post(c, "file:///etc/passwd", "msg_f", 1, "{}", 2, secrets, &r));
    ck_assert_msg(r.status == 0 && r.error[0] && !r.reply, "got %ld \"%s\"", r.status, r.error);
    webhook_client_free(c);
}
END_TEST

/* As main does before its threads start; Check runs it once, before forking the tests. */
static void global_init(void)
{
    ck_assert(webhook_client_global_init());
}

Suite *webhook_client_suite(void)
{
    Suite *s = suite_create("webhook_client");
    TCase *tc = tcase_create("sign");

    tcase_add_test(tc, sign_reference_vector);
    tcase_add_test(tc, sign_needs_room);
    tcase_add_test(tc, sign_key_lengths);
    tcase_add_loop_test(tc, sign_rejects_malformed_secrets, 0, N(bad_secrets));
    tcase_add_test(tc, sign_rejects_bad_message_ids);
    tcase_add_test(tc, secret_new_is_a_secret);
    suite_add_tcase(s, tc);

    tc = tcase_create("url");
    tcase_add_loop_test(tc, url_check, 0, N(urls));
    tcase_add_test(tc, url_check_length);
    tcase_add_loop_test(tc, addr_public, 0, N(addrs));
    tcase_add_test(tc, addr_public_other_families);
    suite_add_tcase(s, tc);

    tc = tcase_create("post");
    tcase_add_unchecked_fixture(tc, global_init, webhook_client_global_cleanup);
    tcase_add_test(tc, post_sends_headers_and_body);
    tcase_add_test(tc, post_signs_with_every_secret);
    tcase_add_test(tc, post_reuses_its_connection);
    tcase_add_test(tc, post_does_not_follow_redirects);
    tcase_add_test(tc, post_keeps_64_kib_of_a_reply);
    tcase_add_test(tc, post_times_out);
    tcase_add_test(tc, post_refused_connection);
    tcase_add_test(tc, post_refuses_private_addresses);
    tcase_add_test(tc, post_with_a_bad_secret_sends_nothing);
    tcase_add_test(tc, post_only_http);
    suite_add_tcase(s, tc);
    return s;
}
