/* make bench: an open-loop load generator, latency at a fixed offered load.
 *
 *   rate PORT KIND RATE SECONDS CONNECTIONS
 *
 * KIND is get (GET /v1/leads/{id}, a random id of BENCH_DATA/lead_ids.txt) or post
 * (POST /v1/leads, BENCH_DATA/lead.json with a unique email and external id and a random
 * campaign of campaign_ids.txt): the requests of bench/get_lead.lua and bench/post_lead.lua.
 * BENCH_KEY is the API key, BENCH_TAG (default "rate") makes the emails unique.
 *
 * Request i is due at start + i / RATE, whatever happened before: requests do not wait
 * for answers to be sent (no coordinated omission). They go out over CONNECTIONS keep-alive
 * connections, request i on connection i % CONNECTIONS; a connection still waiting for an
 * answer when its next request is due sends it as soon as the answer is in. A request's
 * latency runs from when it was due to the end of its answer, so the wait for a busy
 * connection counts, as it would for a client that does not wait. Every request due before
 * the end is sent; answers are awaited 10 s past the end, then the rest count as errors.
 * Prints one line:
 *   RATE target=R achieved=R due=N done=N non2xx=N errors=N p50_us=N p90_us=N p99_us=N
 *        p999_us=N max_us=N lag_p99_us=N late_p99_us=N queued=N codes=C
 * lag: from due to sent, of every request (the wait for a busy connection, and the
 * generator's own delay); late: the same of the requests whose connection was free when they
 * were due (the generator's own delay alone: the timer's, and waiting for a core); queued:
 * requests that were due while their connection still waited for an answer. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_NS (10 * 1000000000ull)

struct conn {
    int fd;
    int index;
    bool busy;     /* a request sent, its answer not whole yet */
    uint64_t due;  /* when its current (busy) or next request is due */
    uint64_t sent; /* count of requests sent on it */
    char *out;     /* the request being sent */
    size_t out_len, out_off;
    char *in; /* the answer being read */
    size_t in_len, in_cap;
};

struct list {
    char **v;
    size_t n;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "rate: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char *slurp(const char *dir, const char *name)
{
    char path[4096];
    FILE *f;
    long len;
    char *s;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        die(path);
    s = malloc((size_t)len + 1);
    if (!s || fread(s, 1, (size_t)len, f) != (size_t)len)
        die(path);
    s[len] = '\0';
    fclose(f);
    return s;
}

static struct list lines(const char *dir, const char *name)
{
    struct list l = {0};
    char *s = slurp(dir, name), *save = NULL;
    size_t cap = 0;
    for (char *t = strtok_r(s, "\r\n", &save); t; t = strtok_r(NULL, "\r\n", &save)) {
        if (l.n == cap) {
            cap = cap ? cap * 2 : 1024;
            l.v = realloc(l.v, cap * sizeof *l.v);
            if (!l.v)
                die("realloc");
        }
        l.v[l.n++] = t;
    }
    if (l.n == 0) {
        fprintf(stderr, "rate: %s/%s is empty\n", dir, name);
        exit(1);
    }
    return l;
}

static const char *pick(const struct list *l)
{
    return l->v[rnd() % l->n];
}

static bool is_post;
static const char *key, *tag;
static char *tmpl;
static struct list ids, campaigns;
static char host[64];

/* lead.json with @EMAIL@ @XID@ @CAMPAIGN@ @SCORE@ replaced, as bench/common.lua does. */
static size_t lead_body(char *out, size_t cap, const struct conn *c)
{
    char unique[96], score[8];
    size_t len = 0;
    snprintf(unique, sizeof unique, "%s-%d-%llu", tag, c->index, (unsigned long long)c->sent);
    snprintf(score, sizeof score, "%d", (int)(rnd() % 101));
    for (const char *p = tmpl; *p && len < cap - 1;) {
        const char *put = NULL, *suffix = "";
        size_t skip = 0;
        if (!strncmp(p, "@EMAIL@", 7))
            put = unique, suffix = "@bench.example", skip = 7;
        else if (!strncmp(p, "@XID@", 5))
            put = unique, skip = 5;
        else if (!strncmp(p, "@CAMPAIGN@", 10))
            put = pick(&campaigns), skip = 10;
        else if (!strncmp(p, "@SCORE@", 7))
            put = score, skip = 7;
        if (put) {
            len += (size_t)snprintf(out + len, cap - len, "%s%s", put, suffix);
            p += skip;
        } else if (*p == '\n' || *p == '\r') {
            p++;
        } else {
            out[len++] = *p++;
        }
        if (len >= cap)
            die("lead body too long");
    }
    out[len] = '\0';
    return len;
}

static void build_request(struct conn *c)
{
    static char body[8192];
    size_t cap = 16384;
    if (!c->out)
        c->out = malloc(cap);
    if (!c->out)
        die("malloc");
    if (is_post) {
        size_t blen = lead_body(body, sizeof body, c);
        c->out_len = (size_t)snprintf(c->out, cap,
                                      "POST /v1/leads HTTP/1.1\r\nHost: %s\r\n"
                                      "Authorization: Bearer %s\r\n"
                                      "Content-Type: application/json\r\n"
                                      "Content-Length: %zu\r\n\r\n%s",
                                      host, key, blen, body);
    } else {
        c->out_len = (size_t)snprintf(c->out, cap,
                                      "GET /v1/leads/%s HTTP/1.1\r\nHost: %s\r\n"
                                      "Authorization: Bearer %s\r\n\r\n",
                                      pick(&ids), host, key);
    }
    c->out_off = 0;
    c->sent++;
}

static int ep;
static struct sockaddr_in dst;
static long conns_n;
static uint64_t start, period_ns, total_due;
static uint32_t *lat_us, *lag_us, *late_us;
static size_t lat_n, lag_n, late_n;
static uint64_t done_n, non2xx, errors, codes[600];

static uint64_t due_of(uint64_t i)
{
    return start + (uint64_t)((double)i * (double)period_ns / 1000.0);
}

static void conn_open(struct conn *c)
{
    int one = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0)
        die("connect");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(c->fd, F_SETFL, O_NONBLOCK) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl");
    c->in_len = 0;
}

static void conn_reopen(struct conn *c)
{
    close(c->fd);
    conn_open(c);
}

static void flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        }
        return; /* the read side sees the close */
    }
}

/* The current request of c is due at c->due; sends it now. queued: it was due while c
 * still waited for an answer. */
static void send_now(struct conn *c, uint64_t now, bool queued)
{
    build_request(c);
    c->busy = true;
    c->in_len = 0;
    lag_us[lag_n++] = (uint32_t)((now - c->due) / 1000);
    if (!queued)
        late_us[late_n++] = (uint32_t)((now - c->due) / 1000);
    flush_out(c);
}

/* The next request of c: due when, and whether there is one. */
static bool advance(struct conn *c, uint64_t *i)
{
    *i += (uint64_t)conns_n;
    c->due = due_of(*i);
    return *i < total_due;
}

/* Length of the whole answer in c->in, 0 while incomplete; *close when it asks to close. */
static size_t answer_len(const struct conn *c, bool *closing)
{
    const char *in = c->in, *end = memmem(in, c->in_len, "\r\n\r\n", 4), *h;
    size_t head;
    if (!end)
        return 0;
    head = (size_t)(end + 4 - in);
    *closing = false;
    for (h = in; h && h < end; h = memmem(h + 2, (size_t)(end - h), "\r\n", 2)) {
        if (!strncasecmp(h + 2, "Connection: close", 17))
            *closing = true;
    }
    h = strcasestr(in, "\r\nContent-Length:");
    if (h && h < end) {
        size_t len = head + (size_t)strtoull(h + 17, NULL, 10);
        return len <= c->in_len ? len : 0;
    }
    h = strcasestr(in, "\r\nTransfer-Encoding: chunked");
    if (h && h < end) {
        const char *last = memmem(in + head, c->in_len - head, "0\r\n\r\n", 5);
        return last ? (size_t)(last + 5 - in) : 0;
    }
    return head; /* no body */
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t pct(const uint32_t *v, size_t n, double q)
{
    size_t i;
    if (n == 0)
        return 0;
    i = (size_t)((double)n * q + 0.5);
    return v[i < 1 ? 0 : (i > n ? n - 1 : i - 1)];
}

int main(int argc, char **argv)
{
    long port, secs;
    double rate;
    const char *data;
    struct conn *cs;
    uint64_t *next_i, end, deadline;
    int tfd;
    struct epoll_event tev;

    if (argc != 6 || (port = strtol(argv[1], NULL, 10)) <= 0 || port > 65535 ||
        (strcmp(argv[2], "get") && strcmp(argv[2], "post")) ||
        (rate = strtod(argv[3], NULL)) <= 0 || (secs = strtol(argv[4], NULL, 10)) <= 0 ||
        (conns_n = strtol(argv[5], NULL, 10)) <= 0) {
        fprintf(stderr, "usage: rate PORT get|post RATE SECONDS CONNECTIONS\n");
        return 2;
    }
    is_post = !strcmp(argv[2], "post");
    key = getenv("BENCH_KEY");
    data = getenv("BENCH_DATA");
    tag = getenv("BENCH_TAG") ? getenv("BENCH_TAG") : "rate";
    if (!key || !data) {
        fprintf(stderr, "rate: BENCH_KEY and BENCH_DATA must be set\n");
        return 2;
    }
    rng ^= (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
    if (is_post) {
        tmpl = slurp(data, "lead.json");
        campaigns = lines(data, "campaign_ids.txt");
    } else {
        ids = lines(data, "lead_ids.txt");
    }
    snprintf(host, sizeof host, "127.0.0.1:%ld", port);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    total_due = (uint64_t)(rate * (double)secs);
    period_ns = (uint64_t)(1e12 / rate); /* in thousandths of a nanosecond */
    lat_us = malloc(total_due * sizeof *lat_us);
    lag_us = malloc(total_due * sizeof *lag_us);
    late_us = malloc(total_due * sizeof *late_us);
    cs = calloc((size_t)conns_n, sizeof *cs);
    next_i = calloc((size_t)conns_n, sizeof *next_i);
    ep = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (!lat_us || !lag_us || !late_us || !cs || !next_i || ep < 0 || tfd < 0)
        die("setup");
    tev.events = EPOLLIN;
    tev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
    for (long c = 0; c < conns_n; c++) {
        cs[c].index = (int)c;
        conn_open(&cs[c]);
    }
    start = now_ns() + 100000000ull; /* 0.1 s from now */
    for (long c = 0; c < conns_n; c++) {
        next_i[c] = (uint64_t)c;
        cs[c].due = due_of(next_i[c]);
    }
    end = due_of(total_due);
    deadline = end + DRAIN_NS;

    for (;;) {
        struct epoll_event evs[64];
        uint64_t now = now_ns(), first = UINT64_MAX;
        bool pending = false;
        int k;
        /* send what is due on idle connections; arm the timer for the next */
        for (long c = 0; c < conns_n; c++) {
            struct conn *x = &cs[c];
            if (x->busy) {
                pending = true;
                continue;
            }
            if (next_i[c] >= total_due)
                continue;
            pending = true;
            if (x->due <= now)
                send_now(x, now, false);
            else if (x->due < first)
                first = x->due;
        }
        if (!pending || now >= deadline)
            break;
        if (first != UINT64_MAX) {
            struct itimerspec its = {.it_value = {.tv_sec = (time_t)(first / 1000000000ull),
                                                  .tv_nsec = (long)(first % 1000000000ull)}};
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        }
        k = epoll_wait(ep, evs, 64, (int)((deadline - now) / 1000000ull) + 1);
        now = now_ns();
        for (int e = 0; e < k; e++) {
            struct conn *x = evs[e].data.ptr;
            uint64_t t;
            if (!x) {
                ssize_t r = read(tfd, &t, sizeof t); /* EAGAIN: fired already */
                (void)r;
                continue;
            }
            if (evs[e].events & EPOLLOUT) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = x};
                epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
                flush_out(x);
            }
            if (!(evs[e].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                continue;
            for (;;) {
                ssize_t n;
                size_t whole;
                bool closing = false;
                if (x->in_cap - x->in_len < 16384) {
                    x->in_cap = x->in_cap ? x->in_cap * 2 : 65536;
                    x->in = realloc(x->in, x->in_cap);
                    if (!x->in)
                        die("realloc");
                }
                n = recv(x->fd, x->in + x->in_len, x->in_cap - x->in_len - 1, 0);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    break;
                if (n <= 0) { /* closed: its request, if any, failed */
                    if (x->busy) {
                        errors++;
                        x->busy = false;
                        advance(x, &next_i[x->index]);
                    }
                    conn_reopen(x);
                    break;
                }
                x->in_len += (size_t)n;
                x->in[x->in_len] = '\0';
                if (!x->busy || !(whole = answer_len(x, &closing)))
                    continue;
                {
                    int status = 0;
                    sscanf(x->in, "HTTP/1.%*d %d", &status);
                    lat_us[lat_n++] = (uint32_t)((now - x->due) / 1000);
                    done_n++;
                    if (status < 200 || status > 299) {
                        non2xx++;
                        codes[status > 0 && status < 600 ? status : 0]++;
                    }
                }
                memmove(x->in, x->in + whole, x->in_len - whole);
                x->in_len -= whole;
                x->busy = false;
                if (closing)
                    conn_reopen(x);
                if (advance(x, &next_i[x->index]) && x->due <= now)
                    send_now(x, now, true);
                if (closing)
                    break;
            }
        }
    }

    /* the rest: unanswered at the deadline, or never sent */
    for (long c = 0; c < conns_n; c++) {
        if (cs[c].busy)
            errors++, next_i[c] += (uint64_t)conns_n;
        if (next_i[c] < total_due)
            errors += (total_due - next_i[c] + (uint64_t)conns_n - 1) / (uint64_t)conns_n;
    }
    qsort(lat_us, lat_n, sizeof *lat_us, cmp_u32);
    qsort(lag_us, lag_n, sizeof *lag_us, cmp_u32);
    qsort(late_us, late_n, sizeof *late_us, cmp_u32);
    printf(
        "RATE target=%.0f achieved=%.0f due=%llu done=%llu non2xx=%llu errors=%llu p50_us=%u "
        "p90_us=%u p99_us=%u p999_us=%u max_us=%u lag_p99_us=%u late_p99_us=%u queued=%zu codes=",
        rate, (double)done_n / (double)secs, (unsigned long long)total_due,
        (unsigned long long)done_n, (unsigned long long)non2xx, (unsigned long long)errors,
        pct(lat_us, lat_n, 0.5), pct(lat_us, lat_n, 0.9), pct(lat_us, lat_n, 0.99),
        pct(lat_us, lat_n, 0.999), lat_n ? lat_us[lat_n - 1] : 0, pct(lag_us, lag_n, 0.99),
        pct(late_us, late_n, 0.99), lag_n - late_n);
    {
        bool any = false;
        for (int s = 0; s < 600; s++)
            if (codes[s]) {
                printf("%s%dx%llu", any ? "," : "", s, (unsigned long long)codes[s]);
                any = true;
            }
        printf("%s\n", any ? "" : "-");
    }
    return 0;
}
