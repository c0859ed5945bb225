/* The gate: accepts connections, holds each in one epoll thread until the head of its first
 * request has arrived whole and within limits, then hands the socket to libmicrohttpd; and
 * keeps the client clocks (head deadline, body rate) of the connections libmicrohttpd
 * holds. Why a gate: in thread-per-connection mode a connection that trickles its head
 * would hold a thread and libmicrohttpd's per-connection memory for as long as it likes
 * (libmicrohttpd's timeout counts idle time only), and libmicrohttpd answers a head it
 * cannot parse with its own HTML page. Here a waiting connection costs a socket and a
 * list entry, and every refusal is problem+json. */
#include "leadloop/gate.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "leadloop/log.h"
#include "leadloop/util.h"

#define NS_PER_S   1000000000ull
#define TICK_MS    100
#define LINGER_NS  (2 * NS_PER_S) /* after a refusal, read what the client still sends */
#define ACCEPT_MAX 256            /* accepts per wake-up, so that waiting heads get a turn */

/* ---------------------------------------------------------------- the head check */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool refuse(struct gate_head *out, enum ll_err err, const char *detail)
{
    out->err = err;
    out->detail = detail;
    out->head_len = 0;
    return true;
}

/* The end of the line starting at p (the '\n'), or NULL. */
static const char *line_end(const char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

static bool check_request_line(const char *p, const char *eol, struct gate_head *out)
{
    const char *m = p, *t, *v;
    size_t params = 0;
    if (eol > p && eol[-1] == '\r')
        eol--;
    while (p < eol && is_tchar((unsigned char)*p))
        p++;
    if (p == m || p == eol || *p != ' ')
        return refuse(out, LL_E_MALFORMED, "the request line is not METHOD SP TARGET SP VERSION");
    t = ++p;
    while (p < eol && (unsigned char)*p > 0x20 && *p != 0x7f) {
        if (*p == '?' || *p == '&')
            params++;
        p++;
    }
    if (p == t || p == eol || *p != ' ')
        return refuse(out, LL_E_MALFORMED, "the request line is not METHOD SP TARGET SP VERSION");
    if ((size_t)(p - t) > GATE_TARGET_MAX)
        return refuse(out, LL_E_URI_TOO_LONG, "the request target is longer than 8192 bytes");
    if (params > GATE_PARAMS_MAX)
        return refuse(out, LL_E_URI_TOO_LONG, "the request has more than 100 query parameters");
    v = ++p;
    if (eol - v == 8 && !memcmp(v, "HTTP/1.", 7) && (v[7] == '0' || v[7] == '1'))
        return false; /* fine; the headers come next */
    if (eol - v == 8 && !memcmp(v, "HTTP/", 5) && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
        v[7] >= '0' && v[7] <= '9')
        return refuse(out, LL_E_VERSION, "only HTTP/1.0 and HTTP/1.1 are served");
    return refuse(out, LL_E_MALFORMED, "the request line does not end with an HTTP version");
}

static bool check_header_line(const char *p, const char *eol, struct gate_head *out)
{
    const char *n = p;
    if (eol > p && eol[-1] == '\r')
        eol--;
    if (*p == ' ' || *p == '\t')
        return refuse(out, LL_E_MALFORMED, "header lines may not be folded (RFC 9112 5.2)");
    while (p < eol && is_tchar((unsigned char)*p))
        p++;
    if (p == n || p == eol || *p != ':')
        return refuse(out, LL_E_MALFORMED, "a header line is not NAME: VALUE");
    for (p++; p < eol; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            return refuse(out, LL_E_MALFORMED, "a header value holds a control character");
    return false;
}

bool gate_check_head(const char *buf, size_t len, struct gate_head *out)
{
    const char *p = buf, *end = buf + (len > GATE_HEAD_MAX ? GATE_HEAD_MAX : len), *eol;
    int headers = 0;
    bool full = len >= GATE_HEAD_MAX;

    while (p < end && (*p == '\r' || *p == '\n')) /* empty lines before a request: ignored */
        p++;
    if (!(eol = line_end(p, end))) {
        if ((size_t)(end - p) > GATE_TARGET_MAX + 64 || full)
            return refuse(out, LL_E_URI_TOO_LONG, "the request target is longer than 8192 bytes");
        return false;
    }
    if (check_request_line(p, eol, out))
        return true;
    for (p = eol + 1;; p = eol + 1) {
        if (!(eol = line_end(p, end))) {
            if (full)
                return refuse(out, LL_E_HEADERS_TOO_LARGE,
                              "the request head is larger than 16384 bytes");
            return false;
        }
        if (eol == p || (eol == p + 1 && *p == '\r')) {
            out->err = LL_OK;
            out->detail = NULL;
            out->head_len = (size_t)(eol + 1 - buf);
            return true;
        }
        if (++headers > GATE_HEADERS_MAX)
            return refuse(out, LL_E_HEADERS_TOO_LARGE, "the request has more than 100 headers");
        if (check_header_line(p, eol, out))
            return true;
    }
}

/* ---------------------------------------------------------------- answers */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Internal Server Error";
    }
}

/* Writes a whole answer (status line, headers, problem+json) into out; its length, or 0. */
static size_t answer_text(enum ll_err err, const char *detail, char *out, size_t cap)
{
    const struct problem_kind *k = problem_kind(err);
    char rid[33], *body;
    json_t *p;
    int n;
    util_request_id(rid);
    p = problem_new(err, detail, rid, NULL, NULL);
    body = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!body)
        return 0;
    n = snprintf(out, cap,
                 "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\n"
                 "X-Request-Id: %s\r\nCache-Control: no-store\r\n%sConnection: close\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 k->status, reason_phrase(k->status), rid,
                 k->status == 503 ? "Retry-After: 1\r\n" : "", strlen(body), body);
    free(body);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Sends the answer on a socket whose sending side is still ours; best effort (a refused
 * client that reads nothing loses it). */
static void send_answer(int fd, enum ll_err err, const char *detail)
{
    char text[1024];
    size_t n = answer_text(err, detail, text, sizeof text);
    if (n && send(fd, text, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("gate: could not send the %d answer: %s", problem_kind(err)->status,
                  strerror(errno));
}

/* ---------------------------------------------------------------- state */

struct pend {
    int fd;
    bool closing; /* answered: reading what the client still sends, until EOF or deadline */
    uint64_t start_ns, deadline_ns;
    struct sockaddr_storage addr;
    socklen_t alen;
    struct pend *prev, *next; /* oldest first */
};

struct gate_conn {
    int fd;
    enum gate_phase phase;
    uint64_t since_ns, bytes;
    bool shut;
    bool intercepted; /* its error page was replaced: libmicrohttpd's next complaints too */
    bool served;      /* has had an answer: between requests it may be closed at once */
    struct gate_conn *prev, *next;
};

static struct {
    int lfd, ep, wake;
    pthread_t thread;
    bool running;
    struct MHD_Daemon *mhd;
    bool (*handoff)(int fd, const struct sockaddr *addr, unsigned alen);
    long header_ns, idle_ns, min_rate, max_pending, per_ip, max_conns;
    long mhd_limit; /* libmicrohttpd's own connection limit: max_conns and some slack */
    struct pend *head, *tail;
    atomic_long npend; /* read by gate_stats on other threads */
    char peek[GATE_HEAD_MAX];
} g = {.lfd = -1, .ep = -1, .wake = -1};

static struct {
    pthread_mutex_t mu;
    struct gate_conn *head;
    long count;    /* watched connections */
    long closing;  /* of them, shut by the gate and not yet closed by libmicrohttpd */
    long arriving; /* handed to libmicrohttpd, not yet taken (its thread takes them later) */
    struct gate_conn **by_fd; /* watched connections by socket, for gate_intercept */
    long by_fd_cap;
} watch = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct {
    atomic_ulong handed, refused, timed_out, evicted, too_slow, intercepted;
} st;

static _Thread_local struct gate_conn *thread_conn;
static _Thread_local int thread_fd = -1; /* the socket this thread read last */

/* libmicrohttpd's error pages name no connection, and with event loops one thread reads
 * many. So the library's recv() (a definition in the program takes precedence for the
 * shared library's calls) notes the socket it reads on this thread: an error it then
 * reports is that connection's. The system call itself is made directly. */
ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    thread_fd = fd;
    return syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
}

static const char *what(const struct sockaddr_storage *a, char *buf, size_t cap)
{
    if (getnameinfo((const struct sockaddr *)a, sizeof *a, buf, (socklen_t)cap, NULL, 0,
                    NI_NUMERICHOST) != 0)
        snprintf(buf, cap, "?");
    return buf;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
    return false;
}

static void pend_unlink(struct pend *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        g.head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        g.tail = p->prev;
    p->prev = p->next = NULL;
    g.npend--;
}

static void pend_close(struct pend *p)
{
    pend_unlink(p);
    close(p->fd); /* also leaves the epoll set */
    free(p);
}

/* Answers and keeps reading (discarding) for a while: closing a socket with unread data
 * sends a reset, which can destroy the answer before the client reads it. */
static void pend_refuse(struct pend *p, enum ll_err err, const char *detail)
{
    char who[64];
    send_answer(p->fd, err, detail);
    shutdown(p->fd, SHUT_WR);
    p->closing = true;
    p->deadline_ns = util_now_ns() + LINGER_NS;
    log_debug("gate: %d for %s: %s", problem_kind(err)->status, what(&p->addr, who, sizeof who),
              detail);
}

static void pend_drain(struct pend *p)
{
    char scratch[4096];
    for (;;) {
        ssize_t n = recv(p->fd, scratch, sizeof scratch, 0);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        pend_close(p); /* EOF or error */
        return;
    }
}

static void watch_shut(struct gate_conn *c, const char *why);

/* At the connection limit: the watched connection that has waited longest for a request
 * (idle, or its head on the way) makes room, if it has been served before or has waited
 * EVICT_AGE_NS at least (a connection just handed over has its first request to go). */
#define EVICT_AGE_NS (100 * 1000000ull)
static bool watch_make_room(void)
{
    struct gate_conn *oldest = NULL;
    uint64_t now = util_now_ns();
    bool room;
    pthread_mutex_lock(&watch.mu);
    if (watch.count + watch.arriving >= g.mhd_limit) {
        /* libmicrohttpd itself is full: the connections made to close are not gone yet
         * (it would refuse the socket without an answer) */
        pthread_mutex_unlock(&watch.mu);
        return false;
    }
    room = watch.count - watch.closing + watch.arriving < g.max_conns;
    for (struct gate_conn *c = watch.head; c && !room; c = c->next)
        if (!c->shut && (c->phase == GATE_IDLE || c->phase == GATE_HEAD) &&
            (c->served || now - c->since_ns >= EVICT_AGE_NS) &&
            (!oldest || c->since_ns < oldest->since_ns))
            oldest = c;
    if (oldest) {
        atomic_fetch_add(&st.evicted, 1);
        watch_shut(oldest, "waited longest for a request, and a new connection needed room");
        room = true; /* libmicrohttpd's limit has slack for the moment it takes to close */
    }
    pthread_mutex_unlock(&watch.mu);
    return room;
}

static void hand_over(struct pend *p)
{
    int fd = p->fd;
    if (!watch_make_room()) {
        atomic_fetch_add(&st.refused, 1);
        pend_refuse(p, LL_E_UNAVAILABLE,
                    "the server has as many connections as it serves at once; retry shortly");
        return;
    }
    epoll_ctl(g.ep, EPOLL_CTL_DEL, fd, NULL);
    pend_unlink(p);
    atomic_fetch_add(&st.handed, 1);
    pthread_mutex_lock(&watch.mu);
    watch.arriving++;
    pthread_mutex_unlock(&watch.mu);
    /* libmicrohttpd owns the socket from here, and closes it itself when it refuses */
    if (g.handoff
            ? !g.handoff(fd, (const struct sockaddr *)&p->addr, (unsigned)p->alen)
            : MHD_add_connection(g.mhd, fd, (const struct sockaddr *)&p->addr, p->alen) != MHD_YES)
        gate_handoff_failed();
    free(p);
}

void gate_handoff_failed(void)
{
    log_warn("gate: libmicrohttpd refused a connection (its connection limit per address or in "
             "all)");
    pthread_mutex_lock(&watch.mu);
    if (watch.arriving > 0)
        watch.arriving--;
    pthread_mutex_unlock(&watch.mu);
}

static void pend_readable(struct pend *p, uint32_t events)
{
    struct gate_head h;
    ssize_t n;
    if (p->closing) {
        pend_drain(p);
        return;
    }
    n = recv(p->fd, g.peek, sizeof g.peek, MSG_PEEK);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        pend_close(p);
        return;
    }
    if (n < 0 || !gate_check_head(g.peek, (size_t)n, &h)) {
        /* more to come, and its arrival wakes us again (edge-triggered); unless the client
         * has finished sending (a peek still sees the part it sent, not the end) */
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            pend_close(p);
        return;
    }
    if (h.err == LL_OK) {
        hand_over(p);
        return;
    }
    atomic_fetch_add(&st.refused, 1);
    pend_refuse(p, h.err, h.detail);
}

static void accept_some(void)
{
    for (int i = 0; i < ACCEPT_MAX; i++) {
        struct pend *p = calloc(1, sizeof *p), *q;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET};
        long same = 0;
        int one = 1;
        if (!p)
            return;
        p->alen = sizeof p->addr;
        p->fd = accept4(g.lfd, (struct sockaddr *)&p->addr, &p->alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (p->fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("gate: accept: %s", strerror(errno)); /* e.g. out of descriptors */
            free(p);
            return;
        }
        setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (q = g.head; q; q = q->next)
            same += !q->closing && same_addr(&q->addr, &p->addr);
        if (same >= g.per_ip) { /* this address already has as many heads waiting as it may */
            send_answer(p->fd, LL_E_UNAVAILABLE,
                        "too many connections from this address are still sending their "
                        "request; retry shortly");
            close(p->fd);
            free(p);
            atomic_fetch_add(&st.refused, 1);
            continue;
        }
        if (g.npend >= g.max_pending && g.head) { /* full: the one waiting longest goes */
            atomic_fetch_add(&st.evicted, 1);
            pend_close(g.head);
        }
        p->start_ns = util_now_ns();
        p->deadline_ns = p->start_ns + (uint64_t)g.header_ns;
        ev.data.ptr = p;
        if (epoll_ctl(g.ep, EPOLL_CTL_ADD, p->fd, &ev) != 0) {
            close(p->fd);
            free(p);
            continue;
        }
        p->prev = g.tail;
        if (g.tail)
            g.tail->next = p;
        else
            g.head = p;
        g.tail = p;
        g.npend++;
    }
}

static void expire_pending(uint64_t now)
{
    struct pend *p = g.head, *next;
    for (; p; p = next) {
        next = p->next;
        if (now < p->deadline_ns)
            continue;
        if (p->closing) {
            pend_close(p);
        } else {
            atomic_fetch_add(&st.timed_out, 1);
            pend_refuse(p, LL_E_TIMEOUT, "the request head did not arrive in time");
        }
    }
}

/* Shuts a watched connection down: its thread wakes, reads end-of-file, and
 * libmicrohttpd closes it (and ends its request, if any). */
static void watch_shut(struct gate_conn *c, const char *why)
{ /* watch.mu held */
    c->shut = true;
    watch.closing++;
    shutdown(c->fd, SHUT_RDWR);
    log_debug("gate: closed a connection: %s", why);
}

static void watch_scan(uint64_t now)
{
    bool pressed;
    pthread_mutex_lock(&watch.mu);
    /* Near the connection limit, connections that are only waiting (for a next request, or
     * for the rest of a head) make room after a second: a client that completes one request
     * and then trickles the next must not hold a thread each for the header timeout. */
    pressed = watch.count - watch.closing >= g.max_conns - g.max_conns / 8;
    for (struct gate_conn *c = watch.head; c; c = c->next) {
        uint64_t age = now - c->since_ns;
        if (c->shut)
            continue;
        if (pressed && (c->phase == GATE_IDLE || c->phase == GATE_HEAD) && age > NS_PER_S) {
            atomic_fetch_add(&st.evicted, 1);
            watch_shut(c, "waiting for a request while the server is near its connection limit");
        } else if (c->phase == GATE_IDLE && age > (uint64_t)g.idle_ns) {
            atomic_fetch_add(&st.timed_out, 1);
            watch_shut(c, "no whole request line within the connection timeout");
        } else if (c->phase == GATE_HEAD && age > (uint64_t)g.header_ns) {
            atomic_fetch_add(&st.timed_out, 1);
            watch_shut(c, "the request head did not arrive within the header timeout");
        } else if (c->phase == GATE_BODY && age > (uint64_t)g.header_ns &&
                   (double)c->bytes < (double)g.min_rate * ((double)age / 1e9)) {
            atomic_fetch_add(&st.too_slow, 1);
            watch_shut(c, "the body arrived slower than LEADLOOP_MIN_BODY_RATE");
        }
    }
    pthread_mutex_unlock(&watch.mu);
}

/* One line every 10 s at most while clients are refused or cut off: a line per refusal
 * would let an attacker flood the log. */
static void log_summary(uint64_t now)
{
    static uint64_t next;
    static struct gate_stats last;
    struct gate_stats s;
    if (now < next)
        return;
    next = now + 10 * NS_PER_S;
    gate_stats(&s);
    if (s.refused != last.refused || s.timed_out != last.timed_out || s.evicted != last.evicted ||
        s.too_slow != last.too_slow)
        log_warn("gate: in the last 10 s: %llu heads refused, %llu timed out, %llu connections "
                 "closed to make room, %llu bodies too slow (%ld waiting in the gate, %ld served)",
                 (unsigned long long)(s.refused - last.refused),
                 (unsigned long long)(s.timed_out - last.timed_out),
                 (unsigned long long)(s.evicted - last.evicted),
                 (unsigned long long)(s.too_slow - last.too_slow), s.pending, s.watched);
    last = s;
}

static void *gate_main(void *arg)
{
    struct epoll_event evs[64];
    uint64_t next_tick = 0;
    (void)arg;
    for (;;) {
        int n = epoll_wait(g.ep, evs, 64, TICK_MS);
        uint64_t now;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &g.wake)
                return NULL;
            if (evs[i].data.ptr == &g.lfd)
                accept_some();
            else
                pend_readable(evs[i].data.ptr, evs[i].events);
        }
        now = util_now_ns();
        if (now >= next_tick) {
            expire_pending(now);
            watch_scan(now);
            log_summary(now);
            next_tick = now + TICK_MS * 1000000ull;
        }
    }
}

/* ---------------------------------------------------------------- start and stop */

long gate_mhd_limit(const struct config *cfg)
{
    return cfg->max_connections + cfg->max_connections / 4 + 16;
}

bool gate_listen(const struct config *cfg)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char host[64], port[8];
    int rc, one = 1;

    g.header_ns = cfg->header_timeout_s * (long)NS_PER_S;
    g.idle_ns = cfg->connection_timeout_s * (long)NS_PER_S;
    g.min_rate = cfg->min_body_rate;
    g.max_pending = cfg->max_pending;
    g.per_ip = cfg->max_connections_per_ip;
    g.max_conns = cfg->max_connections;
    g.mhd_limit = gate_mhd_limit(cfg);
    snprintf(host, sizeof host, "%s", cfg->listen_host);
    if (host[0] == '[') { /* [::1] */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    snprintf(port, sizeof port, "%u", cfg->listen_port);
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        log_error("cannot resolve LEADLOOP_LISTEN host '%s': %s", host, gai_strerror(rc));
        return false;
    }
    g.lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (g.lfd < 0 || setsockopt(g.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(g.lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(g.lfd, 1024) != 0) {
        log_error("cannot listen on %s: %s", cfg->listen, strerror(errno));
        if (g.lfd >= 0)
            close(g.lfd);
        g.lfd = -1;
        freeaddrinfo(ai);
        return false;
    }
    freeaddrinfo(ai);
    return true;
}

bool gate_start_with(bool (*handoff)(int fd, const struct sockaddr *addr, unsigned alen))
{
    g.handoff = handoff;
    return gate_start(NULL);
}

bool gate_start(struct MHD_Daemon *d)
{
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &g.lfd};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &g.wake};
    g.mhd = d;
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    g.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g.ep < 0 || g.wake < 0 || epoll_ctl(g.ep, EPOLL_CTL_ADD, g.lfd, &lev) != 0 ||
        epoll_ctl(g.ep, EPOLL_CTL_ADD, g.wake, &wev) != 0 ||
        pthread_create(&g.thread, NULL, gate_main, NULL) != 0) {
        log_error("cannot start the gate thread: %s", strerror(errno));
        return false;
    }
    g.running = true;
    return true;
}

void gate_stop(void)
{
    uint64_t one = 1;
    if (g.running) {
        if (write(g.wake, &one, sizeof one) != (ssize_t)sizeof one)
            log_warn("gate: cannot wake the gate thread: %s", strerror(errno));
        pthread_join(g.thread, NULL);
        g.running = false;
    }
    for (struct pend *p = g.head, *next; p; p = next) {
        next = p->next;
        pend_close(p);
    }
    if (g.lfd >= 0)
        close(g.lfd);
    if (g.ep >= 0)
        close(g.ep);
    if (g.wake >= 0)
        close(g.wake);
    g.lfd = g.ep = g.wake = -1;
}

/* ---------------------------------------------------------------- the watch */

struct gate_conn *gate_conn_open(int fd)
{
    struct gate_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->phase = GATE_IDLE;
    c->since_ns = util_now_ns();
    pthread_mutex_lock(&watch.mu);
    if (fd >= watch.by_fd_cap) {
        long cap = watch.by_fd_cap ? watch.by_fd_cap : 1024;
        struct gate_conn **grown;
        while (cap <= fd)
            cap *= 2;
        if ((grown = realloc(watch.by_fd, (size_t)cap * sizeof(struct gate_conn *)))) {
            memset(grown + watch.by_fd_cap, 0,
                   (size_t)(cap - watch.by_fd_cap) * sizeof(struct gate_conn *));
            watch.by_fd = grown;
            watch.by_fd_cap = cap;
        }
    }
    if (fd >= 0 && fd < watch.by_fd_cap)
        watch.by_fd[fd] = c;
    if (watch.arriving > 0)
        watch.arriving--;
    c->next = watch.head;
    if (watch.head)
        watch.head->prev = c;
    watch.head = c;
    watch.count++;
    pthread_mutex_unlock(&watch.mu);
    return c;
}

void gate_conn_close(struct gate_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&watch.mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        watch.head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    watch.count--;
    watch.closing -= c->shut;
    if (c->fd >= 0 && c->fd < watch.by_fd_cap && watch.by_fd[c->fd] == c)
        watch.by_fd[c->fd] = NULL;
    pthread_mutex_unlock(&watch.mu);
    if (thread_conn == c)
        thread_conn = NULL;
    free(c);
}

void gate_conn_phase(struct gate_conn *c, enum gate_phase phase)
{
    if (!c)
        return;
    pthread_mutex_lock(&watch.mu);
    c->served |= c->phase == GATE_BUSY && phase == GATE_IDLE;
    c->phase = phase;
    c->since_ns = util_now_ns();
    c->bytes = 0;
    pthread_mutex_unlock(&watch.mu);
}

void gate_conn_body(struct gate_conn *c, size_t n)
{
    if (!c)
        return;
    pthread_mutex_lock(&watch.mu);
    c->bytes += n;
    pthread_mutex_unlock(&watch.mu);
}

bool gate_conn_gone(struct gate_conn *c)
{
    struct pollfd p;
    if (!c)
        return false;
    p.fd = c->fd;
    p.events = POLLRDHUP;
    p.revents = 0;
    /* RDHUP: the client sent its end (a client that half-closes and still waits for its
     * answer is treated as gone, as nginx does) */
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void gate_conn_bind_thread(struct gate_conn *c)
{
    thread_conn = c;
    thread_fd = c ? c->fd : -1;
}

bool gate_intercept(const char *msg)
{
    static const char prefix[] = "Error processing request (HTTP response code is ";
    struct gate_conn *c = NULL;
    enum ll_err err;
    const char *detail;
    long status;
    pthread_mutex_lock(&watch.mu);
    if (thread_fd >= 0 && thread_fd < watch.by_fd_cap)
        c = watch.by_fd[thread_fd];
    pthread_mutex_unlock(&watch.mu);
    if (!c)
        c = thread_conn;
    if (!c)
        return false;
    if (c->intercepted) { /* the failed send of its own page, and the like */
        log_debug("libmicrohttpd (after an intercepted error): %s", msg);
        return true;
    }
    if (strncmp(msg, prefix, sizeof prefix - 1) != 0)
        return false;
    status = strtol(msg + sizeof prefix - 1, NULL, 10);
    pthread_mutex_lock(&watch.mu);
    bool ours = c->phase != GATE_BUSY && !c->shut; /* nothing of an answer sent yet */
    pthread_mutex_unlock(&watch.mu);
    if (!ours)
        return false;
    switch (status) {
    case 413:
        err = LL_E_TOO_LARGE;
        detail = "a chunk of the body is larger than the server accepts";
        break;
    case 414:
        err = LL_E_URI_TOO_LONG;
        detail = "the request line is too long";
        break;
    case 431:
        err = LL_E_HEADERS_TOO_LARGE;
        detail = "the request head (headers, query parameters) is too large";
        break;
    case 505:
        err = LL_E_VERSION;
        detail = "only HTTP/1.0 and HTTP/1.1 are served";
        break;
    case 500:
        err = LL_E_INTERNAL;
        detail = "the server could not take this request";
        break;
    default:
        err = LL_E_MALFORMED;
        detail = "the request is not valid HTTP/1.1 (framing, headers or Host)";
    }
    send_answer(c->fd, err, detail);
    /* libmicrohttpd's own page now fails to send (EPIPE) and it closes the connection */
    shutdown(c->fd, SHUT_WR);
    c->intercepted = true; /* only its own thread reads it */
    atomic_fetch_add(&st.intercepted, 1);
    log_debug("gate: answered libmicrohttpd's %ld as problem+json: %s", status, detail);
    return true;
}

void gate_stats(struct gate_stats *out)
{
    pthread_mutex_lock(&watch.mu);
    out->watched = watch.count;
    pthread_mutex_unlock(&watch.mu);
    out->pending = atomic_load(&g.npend);
    out->handed = atomic_load(&st.handed);
    out->refused = atomic_load(&st.refused);
    out->timed_out = atomic_load(&st.timed_out);
    out->evicted = atomic_load(&st.evicted);
    out->too_slow = atomic_load(&st.too_slow);
    out->intercepted = atomic_load(&st.intercepted);
}
