/* bench/webhooks.sh's receiver: a libmicrohttpd server on 127.0.0.1 that answers every POST
 * 200 at once, verifies its Standard Webhooks signature (HMAC-SHA256 of id.timestamp.body
 * under the secret, as tests/api/receiver.c does), counts distinct webhook-ids, and exits
 * when it has seen the number expected or when the deadline passes.
 *
 * It listens on a port of the kernel's choosing (no race with other programs for a port)
 * and says which on stderr ("listening on 127.0.0.1:PORT"); the endpoint is registered
 * after that, so the secret is read from SECRET_FILE when the first request comes. At the
 * end it prints one line:
 *
 *   received=N distinct=N duplicates=N unverified=N first=T last=T
 *
 * first and last: CLOCK_REALTIME seconds of the first and the last new webhook-id. Exit
 * status 0 when every expected id came, 1 at the deadline.
 *
 * Usage: webhook_receiver SECRET_FILE EXPECTED DEADLINE_S
 * Build: cc -O2 -o webhook_receiver webhook_receiver.c $(pkg-config --cflags --libs
 *        libmicrohttpd libcrypto) -pthread */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_MAX (1024 * 1024)

static struct {
    pthread_mutex_t mu;
    pthread_cond_t done;
    char **ids; /* open addressing, cap slots */
    size_t cap, distinct, expected;
    unsigned long received, unverified;
    double first, last;
    const char *secret_file;
    unsigned char key[64];
    int keylen; /* 0: no secret read (nothing verifies) */
} st = {.mu = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* The secret ("whsec_<base64>") from st.secret_file, once. */
static void read_key(void)
{
    char line[256] = "";
    unsigned char raw[192];
    FILE *f = fopen(st.secret_file, "r");
    if (!f || !fgets(line, sizeof line, f)) {
        fprintf(stderr, "webhook_receiver: no secret in %s\n", st.secret_file);
        if (f)
            fclose(f);
        return;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    const char *b64 = line + (strncmp(line, "whsec_", 6) ? 0 : 6);
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)strlen(b64));
    /* EVP_DecodeBlock counts the padding's zero bytes */
    for (const char *p = b64 + strlen(b64); n > 0 && p > b64 && p[-1] == '='; p--)
        n--;
    if (n < 24 || n > 64) {
        fprintf(stderr, "webhook_receiver: a malformed secret in %s\n", st.secret_file);
        return;
    }
    memcpy(st.key, raw, (size_t)n);
    st.keylen = n;
}

struct upload {
    char *body;
    size_t len;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* Under st.mu: true when id is new (and now remembered). */
static bool remember(const char *id)
{
    size_t i = hash(id) % st.cap;
    while (st.ids[i]) {
        if (!strcmp(st.ids[i], id))
            return false;
        i = (i + 1) % st.cap;
    }
    st.ids[i] = strdup(id);
    return st.ids[i] != NULL;
}

static bool verified(const char *id, const char *ts, const char *sig, const char *body, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char expected[64];
    size_t n = strlen(id) + strlen(ts) + 2 + len;
    char *content = malloc(n + 1);
    bool ok = false;
    pthread_once(&key_once, read_key);
    if (!content || !id[0] || !ts[0] || st.keylen == 0)
        goto out;
    snprintf(content, n + 1, "%s.%s.", id, ts);
    memcpy(content + strlen(id) + strlen(ts) + 2, body, len);
    if (!HMAC(EVP_sha256(), st.key, st.keylen, (unsigned char *)content, n, mac, &maclen))
        goto out;
    EVP_EncodeBlock((unsigned char *)expected, mac, (int)maclen);
    for (const char *p = sig; *p && !ok;) {
        size_t l = strcspn(p, " ");
        ok = l == 3 + strlen(expected) && !strncmp(p, "v1,", 3) &&
             !CRYPTO_memcmp(p + 3, expected, strlen(expected));
        p += l;
        p += strspn(p, " ");
    }
out:
    free(content);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state)
{
    struct upload *up = *state;
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    if (!up) { /* answering on the first call would cost the keep-alive */
        if (!(up = calloc(1, sizeof *up)))
            return MHD_NO;
        *state = up;
        return MHD_YES;
    }
    if (*size > 0) {
        if (up->len + *size > BODY_MAX)
            return MHD_NO;
        char *grown = realloc(up->body, up->len + *size + 1);
        if (!grown)
            return MHD_NO;
        up->body = grown;
        memcpy(up->body + up->len, data, *size);
        up->len += *size;
        *size = 0;
        return MHD_YES;
    }
    const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-id");
    const char *ts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-timestamp");
    const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-signature");
    bool good =
        verified(id ? id : "", ts ? ts : "", sig ? sig : "", up->body ? up->body : "", up->len);
    double t = now_s();
    pthread_mutex_lock(&st.mu);
    st.received++;
    st.unverified += !good;
    if (id && remember(id)) {
        if (st.distinct++ == 0)
            st.first = t;
        st.last = t;
        if (st.distinct == st.expected)
            pthread_cond_signal(&st.done);
    }
    pthread_mutex_unlock(&st.mu);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
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

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s SECRET_FILE EXPECTED DEADLINE_S\n", argv[0]);
        return 2;
    }
    int deadline_s = atoi(argv[3]);
    st.secret_file = argv[1];
    st.expected = strtoul(argv[2], NULL, 10);
    if (st.expected == 0 || deadline_s <= 0) {
        fprintf(stderr, "webhook_receiver: bad arguments\n");
        return 2;
    }
    st.cap = st.expected * 2 + 1;
    if (!(st.ids = calloc(st.cap, sizeof *st.ids)))
        return 2;

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        mhd ? MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info || info->port == 0) {
        fprintf(stderr, "webhook_receiver: cannot listen on 127.0.0.1\n");
        return 2;
    }
    fprintf(stderr, "webhook_receiver: listening on 127.0.0.1:%u\n", (unsigned)info->port);

    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += deadline_s;
    pthread_mutex_lock(&st.mu);
    while (st.distinct < st.expected)
        if (pthread_cond_timedwait(&st.done, &st.mu, &until) == ETIMEDOUT)
            break;
    bool all = st.distinct >= st.expected;
    pthread_mutex_unlock(&st.mu);
    MHD_stop_daemon(mhd);
    printf("received=%lu distinct=%zu duplicates=%lu unverified=%lu first=%.6f last=%.6f\n",
           st.received, st.distinct, st.received - st.distinct, st.unverified, st.first, st.last);
    return all ? 0 : 1;
}
