/* The webhook receiver of the HTTP tests (see receiver.h). It checks the daemon's
 * signatures with an implementation of its own, written from the Standard Webhooks
 * specification: OpenSSL's one-shot HMAC() over the joined content and a base64 written
 * here, where the daemon streams EVP_MAC and encodes with EVP_EncodeBlock. A mistake shared
 * with the daemon's code would pass unseen; two readings of the spec are unlikely to share
 * one, and the self-test (test_receiver.c) pins this one to the spec's own example. */
#include "receiver.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_MAX 64 /* the spec's longest key, in bytes */
#define MAC_B64 44 /* base64 of a 32-byte HMAC-SHA256 */

struct key {
    unsigned char bytes[KEY_MAX];
    size_t len;
};

struct step {
    int left, status;
};

struct receiver {
    struct MHD_Daemon *mhd;
    int port;
    pthread_mutex_t mu;  /* guards everything below */
    pthread_cond_t grew; /* a request was logged */
    struct key keys[RECEIVER_SECRETS_MAX];
    int nkeys;
    struct step *script; /* answers to come, in order; script[next..nsteps) are pending */
    size_t next, nsteps;
    int delay_ms;                /* each answer is held back this long */
    struct receiver_entry **log; /* entries never move: the log grows by pointers */
    size_t count, cap;
};

/* What one request has sent so far; freed in the completed callback. */
struct upload {
    char *body;
    size_t len;
    bool too_large;
};

/* Test support: running out of memory ends the test run. */
static void *must(void *p)
{
    if (!p) {
        fprintf(stderr, "receiver: out of memory\n");
        abort();
    }
    return p;
}

static char *dup_text(const char *s)
{
    return must(strdup(s ? s : ""));
}

/* --------------------------------------------------------------- base64 and signatures */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 4648 base64 with padding; out needs 4*ceil(n/3)+1 bytes. */
static void b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Strict RFC 4648 base64 with padding into out (cap bytes); the length, or -1. */
static long b64_decode(const char *in, unsigned char *out, size_t cap)
{
    size_t n = strlen(in), o = 0, pad = 0;
    uint32_t acc = 0;
    if (n == 0 || n % 4 != 0)
        return -1;
    if (in[n - 1] == '=')
        pad = in[n - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < n - pad; i++) {
        const char *p = strchr(b64_alphabet, in[i]);
        if (!in[i] || !p)
            return -1;
        acc = acc << 6 | (uint32_t)(p - b64_alphabet);
        if (i % 4 == 3) {
            if (o + 3 > cap)
                return -1;
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (pad > 0) { /* the last group: 3 - pad bytes, the unused bits zero */
        size_t bytes = 3 - pad;
        if (o + bytes > cap || (pad == 1 && (acc & 3)) || (pad == 2 && (acc & 15)))
            return -1;
        acc <<= 6 * pad;
        out[o++] = (unsigned char)(acc >> 16);
        if (bytes == 2)
            out[o++] = (unsigned char)(acc >> 8);
    }
    return (long)o;
}

/* "whsec_<base64>" into k; the spec's keys are 24 to 64 bytes. */
static bool parse_secret(const char *secret, struct key *k)
{
    long n;
    if (!secret || strncmp(secret, "whsec_", 6) != 0)
        return false;
    n = b64_decode(secret + 6, k->bytes, sizeof k->bytes);
    if (n < 24)
        return false;
    k->len = (size_t)n;
    return true;
}

/* Checks e's signature header against each key: fills signatures, matched, verified. */
static void verify(struct receiver_entry *e, const struct key *keys, int nkeys)
{
    size_t idl = strlen(e->id), tsl = strlen(e->timestamp);
    size_t n = idl + 1 + tsl + 1 + e->body_len;
    unsigned char *content = must(malloc(n)), mac[EVP_MAX_MD_SIZE];
    char expected[RECEIVER_SECRETS_MAX][MAC_B64 + 1];
    const char *p = e->signature;

    /* the signed content: id "." timestamp "." body, as sent */
    memcpy(content, e->id, idl);
    content[idl] = '.';
    memcpy(content + idl + 1, e->timestamp, tsl);
    content[idl + 1 + tsl] = '.';
    memcpy(content + idl + 2 + tsl, e->body, e->body_len);
    for (int k = 0; k < nkeys; k++) {
        unsigned int maclen = 0;
        if (!HMAC(EVP_sha256(), keys[k].bytes, (int)keys[k].len, content, n, mac, &maclen) ||
            maclen != 32) {
            fprintf(stderr, "receiver: HMAC failed\n");
            abort();
        }
        b64_encode(mac, 32, expected[k]);
    }
    free(content);

    /* space-separated "version,signature" pairs; other versions (v1a) are not ours */
    while (*p) {
        size_t len;
        p += strspn(p, " ");
        len = strcspn(p, " ");
        if (len > 3 && strncmp(p, "v1,", 3) == 0) {
            e->signatures++;
            for (int k = 0; k < nkeys; k++)
                if (len - 3 == MAC_B64 && CRYPTO_memcmp(p + 3, expected[k], MAC_B64) == 0)
                    e->matched |= 1u << k;
        }
        p += len;
    }
    e->verified = e->matched != 0 && e->id[0] && e->timestamp[0];
}

/* --------------------------------------------------------------- serving */

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* A new entry for the request complete on conn, verified against keys. */
static struct receiver_entry *entry_new(struct MHD_Connection *conn, const char *url,
                                        const char *method, struct upload *up,
                                        const struct key *keys, int nkeys)
{
    struct receiver_entry *e = must(calloc(1, sizeof *e));
    char *body = must(malloc(up->len + 1)), *end = NULL;
    const char *ts;

    e->method = dup_text(method);
    e->path = dup_text(url);
    e->id = dup_text(header(conn, "webhook-id"));
    e->timestamp = ts = dup_text(header(conn, "webhook-timestamp"));
    e->signature = dup_text(header(conn, "webhook-signature"));
    e->content_type = dup_text(header(conn, "Content-Type"));
    e->user_agent = dup_text(header(conn, "User-Agent"));
    if (up->len)
        memcpy(body, up->body, up->len);
    body[up->len] = '\0';
    e->body = body;
    e->body_len = up->len;
    e->json = json_loadb(body, up->len, 0, NULL);
    e->received_at = monotonic_s();

    errno = 0;
    if (ts[0] >= '0' && ts[0] <= '9') {
        long long v = strtoll(ts, &end, 10);
        if (!errno && !*end) {
            long long now = (long long)time(NULL);
            e->ts = v;
            e->fresh = v >= now - RECEIVER_TOLERANCE_S && v <= now + RECEIVER_TOLERANCE_S;
        }
    }
    verify(e, keys, nkeys);
    return e;
}

static void entry_free(struct receiver_entry *e)
{
    free((char *)e->method);
    free((char *)e->path);
    free((char *)e->id);
    free((char *)e->timestamp);
    free((char *)e->signature);
    free((char *)e->content_type);
    free((char *)e->user_agent);
    free((char *)e->body);
    json_decref(e->json);
    free(e);
}

/* Under r->mu: the status the script gives the next request. */
static int next_status(struct receiver *r)
{
    while (r->next < r->nsteps && r->script[r->next].left == 0)
        r->next++;
    if (r->next == r->nsteps)
        return 200;
    r->script[r->next].left--;
    return r->script[r->next].status;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state)
{
    struct receiver *r = cls;
    struct upload *up = *state;
    struct receiver_entry *e;
    struct key keys[RECEIVER_SECRETS_MAX];
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int nkeys, status, delay_ms;
    (void)version;

    /* the first call only sets up: answering on it would cost the connection keep-alive */
    if (!up) {
        *state = must(calloc(1, sizeof *up));
        return MHD_YES;
    }
    if (*size > 0) {
        size_t take = *size;
        if (up->len + take > RECEIVER_BODY_MAX) {
            take = RECEIVER_BODY_MAX - up->len;
            up->too_large = true;
        }
        up->body = must(realloc(up->body, up->len + take + 1));
        memcpy(up->body + up->len, data, take);
        up->len += take;
        *size = 0;
        return MHD_YES;
    }

    pthread_mutex_lock(&r->mu);
    nkeys = r->nkeys;
    memcpy(keys, r->keys, sizeof keys);
    pthread_mutex_unlock(&r->mu);
    e = entry_new(conn, url, method, up, keys, nkeys);
    OPENSSL_cleanse(keys, sizeof keys);

    pthread_mutex_lock(&r->mu);
    status = up->too_large ? MHD_HTTP_CONTENT_TOO_LARGE : next_status(r);
    e->status = status;
    if (r->count == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->log = must(realloc(r->log, r->cap * sizeof *r->log));
    }
    r->log[r->count++] = e;
    delay_ms = r->delay_ms;
    pthread_cond_broadcast(&r->grew);
    pthread_mutex_unlock(&r->mu);

    if (delay_ms > 0) { /* a slow receiver, not a synchronisation */
        struct timespec pause = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
            ;
    }

    if (status == 0)
        return MHD_NO; /* libmicrohttpd closes the connection unanswered */
    resp = MHD_create_response_from_buffer(
        status < 300 ? 2 : 8, (void *)(status < 300 ? "ok" : "scripted"), MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode why)
{
    struct upload *up = *state;
    (void)cls;
    (void)conn;
    (void)why;
    if (up) {
        free(up->body);
        free(up);
    }
    *state = NULL;
}

/* --------------------------------------------------------------- the API */

struct receiver *receiver_start(const char *secret)
{
    struct receiver *r = must(calloc(1, sizeof *r));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    const union MHD_DaemonInfo *info;
    pthread_condattr_t attr;

    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->grew, &attr);
    pthread_condattr_destroy(&attr);
    receiver_set_secret(r, secret);
    /* port 0 in the address: the kernel picks a free one, with no window for a race */
    r->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
                              on_request, r, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    ck_assert_msg(r->mhd != NULL, "receiver: libmicrohttpd did not start");
    info = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_msg(info && info->port > 0, "receiver: no port");
    r->port = info->port;
    return r;
}

void receiver_stop(struct receiver *r)
{
    if (!r)
        return;
    if (r->mhd)
        MHD_stop_daemon(r->mhd);
    for (size_t i = 0; i < r->count; i++)
        entry_free(r->log[i]);
    free(r->log);
    free(r->script);
    OPENSSL_cleanse(r->keys, sizeof r->keys);
    pthread_cond_destroy(&r->grew);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int receiver_port(const struct receiver *r)
{
    return r->port;
}

void receiver_url(const struct receiver *r, const char *path, char *out, size_t len)
{
    snprintf(out, len, "http://127.0.0.1:%d%s", r->port, path ? path : "");
}

void receiver_set_secret(struct receiver *r, const char *secret)
{
    pthread_mutex_lock(&r->mu);
    r->nkeys = 0;
    pthread_mutex_unlock(&r->mu);
    if (secret)
        receiver_add_secret(r, secret);
}

void receiver_add_secret(struct receiver *r, const char *secret)
{
    struct key k;
    ck_assert_msg(parse_secret(secret, &k), "receiver: malformed secret \"%s\"",
                  secret ? secret : "(null)");
    pthread_mutex_lock(&r->mu);
    if (r->nkeys < RECEIVER_SECRETS_MAX)
        r->keys[r->nkeys++] = k;
    else
        secret = NULL;
    pthread_mutex_unlock(&r->mu);
    OPENSSL_cleanse(&k, sizeof k);
    ck_assert_msg(secret != NULL, "receiver: more than %d secrets", RECEIVER_SECRETS_MAX);
}

void receiver_script(struct receiver *r, int n, int status)
{
    if (n <= 0)
        return;
    pthread_mutex_lock(&r->mu);
    r->script = must(realloc(r->script, (r->nsteps + 1) * sizeof *r->script));
    r->script[r->nsteps++] = (struct step){n, status};
    pthread_mutex_unlock(&r->mu);
}

void receiver_set_delay_ms(struct receiver *r, int ms)
{
    pthread_mutex_lock(&r->mu);
    r->delay_ms = ms > 0 ? ms : 0;
    pthread_mutex_unlock(&r->mu);
}

size_t receiver_count(struct receiver *r)
{
    size_t n;
    pthread_mutex_lock(&r->mu);
    n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

bool receiver_wait_count(struct receiver *r, size_t n, int timeout_ms)
{
    struct timespec until;
    bool reached;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (r->count < n && pthread_cond_timedwait(&r->grew, &r->mu, &until) != ETIMEDOUT)
        ;
    reached = r->count >= n;
    pthread_mutex_unlock(&r->mu);
    return reached;
}

const struct receiver_entry *receiver_entry(struct receiver *r, size_t i)
{
    const struct receiver_entry *e;
    pthread_mutex_lock(&r->mu);
    e = i < r->count ? r->log[i] : NULL;
    pthread_mutex_unlock(&r->mu);
    return e;
}

const struct receiver_entry *receiver_find(struct receiver *r, const char *id)
{
    const struct receiver_entry *e = NULL;
    pthread_mutex_lock(&r->mu);
    for (size_t i = r->count; i-- > 0 && !e;)
        if (strcmp(r->log[i]->id, id ? id : "") == 0)
            e = r->log[i];
    pthread_mutex_unlock(&r->mu);
    return e;
}

size_t receiver_id_count(struct receiver *r, const char *id)
{
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->count; i++)
        n += strcmp(r->log[i]->id, id ? id : "") == 0;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Under r->mu. Quadratic, which is fine for the hundreds of deliveries a test makes. */
static size_t distinct_ids(const struct receiver *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++) {
        size_t j = 0;
        while (j < i && strcmp(r->log[j]->id, r->log[i]->id) != 0)
            j++;
        n += j == i;
    }
    return n;
}

size_t receiver_distinct_ids(struct receiver *r)
{
    size_t n;
    pthread_mutex_lock(&r->mu);
    n = distinct_ids(r);
    pthread_mutex_unlock(&r->mu);
    return n;
}

size_t receiver_duplicates(struct receiver *r)
{
    size_t n;
    pthread_mutex_lock(&r->mu);
    n = r->count - distinct_ids(r);
    pthread_mutex_unlock(&r->mu);
    return n;
}
