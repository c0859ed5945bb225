/* The HTTP layer: libmicrohttpd in thread-per-connection mode (libpq blocks, and this is
 * the one mode where blocking in a callback is allowed). This file is the only one that
 * knows libmicrohttpd: it reads a request's head and body off it, hands them to the request
 * path (reqpath.c: framing, route, auth, admission, body, connection, audit, idempotency,
 * handler, answer), and writes the answer back. Per-request state lives from the first
 * access callback to the request-completed callback, which also runs on abort. */
#include "leadloop/http.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "leadloop/db.h"
#include "leadloop/fiber.h"
#include "leadloop/gate.h"
#include "leadloop/log.h"
#include "leadloop/reqpath.h"
#include "leadloop/request.h"
#include "leadloop/util.h"

static struct MHD_Daemon *daemon_handle;
static const struct config *conf;
static atomic_long inflight;
static atomic_bool abandon_all; /* http_stop: handlers still running must give up */
static atomic_bool stopping;    /* http_stop: kept-alive clients are told to go */

/* A request and what libmicrohttpd lends it, kept out of struct request so that nothing
 * above this file sees libmicrohttpd. It is the request's transport connection (r.conn). */
struct exchange {
    struct request r;
    struct MHD_Connection *conn;
    struct gate_conn *gc; /* the connection's client clock (borrowed; may be NULL) */
    /* event mode: where the request's fiber is (see "event loops" below) */
    int stage;      /* X_HEAD, X_BODY, X_FINISH */
    bool running;   /* a fiber of it is parked: the connection is suspended */
    bool suspended; /* MHD_suspend_connection is in force */
    bool orphan;    /* libmicrohttpd let go of it while its fiber ran: the fiber frees it */
    bool refused;   /* reqpath_head refused it */
    char *sbuf;     /* a streamed body's next piece */
    size_t slen, soff;
    long sres; /* the stream's last read: > 0 bytes, 0 end, < 0 error */
    bool sdone;
};

enum { X_HEAD, X_BODY, X_FINISH };

/* ---------------------------------------------------------------- the transport */

static const char *mhd_header(void *conn, const char *name)
{
    struct exchange *x = conn;
    return MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, name);
}

struct header_count {
    const char *name;
    int n;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct header_count *hc = cls;
    (void)kind;
    (void)value;
    if (!strcasecmp(key, hc->name))
        hc->n++;
    return MHD_YES;
}

static int mhd_header_count(void *conn, const char *name)
{
    struct exchange *x = conn;
    struct header_count hc = {name, 0};
    MHD_get_connection_values(x->conn, MHD_HEADER_KIND, count_header, &hc);
    return hc.n;
}

static bool mhd_gone(void *conn)
{
    struct exchange *x = conn;
    return atomic_load(&abandon_all) || gate_conn_gone(x->gc);
}

static const struct req_transport mhd_transport = {
    .header = mhd_header,
    .header_count = mhd_header_count,
    .gone = mhd_gone,
};

/* ---------------------------------------------------------------- requests */

/* The client's address as text into buf ("" when unknown), for the audit log. */
static void client_addr(struct MHD_Connection *c, char *buf, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const char *text = NULL;
    if (sa && sa->sa_family == AF_INET)
        text = inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                         (socklen_t)cap);
    else if (sa && sa->sa_family == AF_INET6)
        text = inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                         (socklen_t)cap);
    if (!text)
        buf[0] = '\0';
}

struct collect {
    struct request *r;
    bool oom;
};

/* Copies one query argument into the request; stops when out of memory. */
static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct collect *co = cls;
    (void)kind;
    if (req_arg_add(co->r, key, value))
        return MHD_YES;
    co->oom = true;
    return MHD_NO;
}

static struct exchange *exchange_new(struct MHD_Connection *c, const char *url, const char *method)
{
    struct exchange *x = calloc(1, sizeof *x);
    const union MHD_ConnectionInfo *ci;
    struct collect co;
    if (!x)
        return NULL;
    x->conn = c;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    x->gc = ci ? ci->socket_context : NULL;
    req_init(&x->r, conf, &mhd_transport, x);
    client_addr(c, x->r.client_addr, sizeof x->r.client_addr);
    co.r = &x->r;
    co.oom = false;
    if (!reqpath_begin(&x->r, method, url) ||
        (MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &co), co.oom)) {
        req_fini(&x->r);
        free(x);
        return NULL;
    }
    atomic_fetch_add(&inflight, 1);
    return x;
}

static void add_header(void *ctx, const char *name, const char *value)
{
    MHD_add_response_header(ctx, name, value);
}

/* The next bytes of a streamed body (reply_stream), on the connection's thread. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct exchange *x = cls;
    long n = x->r.stream.read(x->r.stream.arg, buf, max);
    (void)pos;
    if (n > 0)
        return (ssize_t)n;
    /* an error closes the connection before the chunked body's last chunk */
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static ssize_t stream_read_ev(void *cls, uint64_t pos, char *buf, size_t max);
static long nloops; /* event mode: the loops (0: thread per connection) */

/* Sends the request's answer. */
static enum MHD_Result queue(struct exchange *x)
{
    struct request *r = &x->r;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (r->stream.read) /* freed with the request (on_completed), not with the response */
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, (size_t)32 * 1024,
                                                 nloops ? stream_read_ev : stream_read, x, NULL);
    else if (r->resp_body)
        resp = MHD_create_response_from_buffer_with_free_callback(r->resp_len, r->resp_body, free);
    else if (r->resp_static) /* lives as long as the program: libmicrohttpd copies nothing */
        resp = MHD_create_response_from_buffer(r->resp_len, (void *)r->resp_static,
                                               MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    r->resp_body = NULL; /* owned by the response now */
    reqpath_headers(r, add_header, resp);
    if (atomic_load(&stopping) && !MHD_get_response_header(resp, "Connection"))
        /* a kept-alive client's next request goes elsewhere */
        MHD_add_response_header(resp, "Connection", "close");
    ret = MHD_queue_response(x->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *data_size, void **con_cls)
{
    struct exchange *x = *con_cls;
    (void)cls;
    (void)version;
    if (!x) { /* the head */
        x = exchange_new(c, url, method);
        if (!x)
            return MHD_NO;
        *con_cls = x;
        gate_conn_phase(x->gc, GATE_BUSY);
        if (reqpath_head(&x->r)) {
            /* refused on its head: its body, if any, is never read, so the connection
             * cannot carry another request */
            reply_header(&x->r, "Connection", "close");
            return queue(x);
        }
        if (x->r.body_present) /* the client's clock runs while it sends the body */
            gate_conn_phase(x->gc, GATE_BODY);
        return MHD_YES;
    }
    if (*data_size) { /* a piece of the body */
        size_t n = *data_size;
        *data_size = 0;
        gate_conn_body(x->gc, n);
        return reqpath_body(&x->r, data, n) ? MHD_YES : MHD_NO;
    }
    if (x->r.answered)
        return MHD_YES;
    gate_conn_phase(x->gc, GATE_BUSY);
    reqpath_finish(&x->r);
    return queue(x);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct exchange *x = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (!x)
        return;
    reqpath_end(&x->r);
    gate_conn_phase(x->gc, GATE_IDLE);
    req_fini(&x->r);
    free(x);
    *con_cls = NULL;
    atomic_fetch_sub(&inflight, 1);
}

/* ---------------------------------------------------------------- event loops
 *
 * LEADLOOP_IO=events: a few loop threads (fiber.h), each with a libmicrohttpd daemon of its
 * own driven from the loop's epoll set. libmicrohttpd parses on the loop thread; the
 * request path's steps that may wait on PostgreSQL (the head: auth, admission; the finish:
 * the handler; each piece of a streamed body; the end: the pool connection's release) run
 * on a fiber. A step that parks suspends its connection, and the fiber's end resumes it:
 * libmicrohttpd then calls back and the request goes on where it was. */

struct arrival {
    int fd;
    struct sockaddr_storage addr;
    unsigned alen;
    struct arrival *next;
};

struct loop {
    struct sched *s;
    struct MHD_Daemon *d;
    pthread_t thread;
    pthread_mutex_t mu;
    struct arrival *arrivals; /* connections from the gate, added on the loop's thread */
    bool started;
};

static struct loop *loops;
static atomic_ulong next_loop;

static enum MHD_Result ev_continue(struct exchange *x);

static void end_fn(void *arg)
{
    struct exchange *x = arg;
    reqpath_end(&x->r);
    req_fini(&x->r);
    free(x->sbuf);
    free(x);
    atomic_fetch_sub(&inflight, 1);
}

/* A step's fiber has ended after parking: the connection goes on (libmicrohttpd calls
 * back), or, when it was let go meanwhile, the exchange goes. */
static void step_done(void *arg)
{
    struct exchange *x = arg;
    x->running = false;
    if (x->orphan) {
        end_fn(x); /* on the loop's stack: its release blocks this loop, a rare case */
        return;
    }
    if (x->suspended) {
        x->suspended = false;
        MHD_resume_connection(x->conn);
    }
}

/* Runs fn(x) on a fiber: true when it finished; when it parked, the connection waits
 * suspended until step_done. */
static bool ev_run(struct exchange *x, void (*fn)(void *))
{
    bool failed, finished;
    x->running = true;
    finished = fiber_go(fn, x, step_done, &failed);
    if (!finished && failed) {
        fn(x); /* no fiber to be had (out of memory): in place, blocking this loop */
        finished = true;
    }
    gate_conn_bind_thread(x->gc); /* the fiber's reads were PostgreSQL's */
    if (finished) {
        x->running = false;
        return true;
    }
    x->suspended = true;
    MHD_suspend_connection(x->conn);
    return false;
}

static enum MHD_Result ev_step(struct exchange *x, void (*fn)(void *))
{
    return ev_run(x, fn) ? ev_continue(x) : MHD_YES;
}

static void head_fn(void *arg)
{
    struct exchange *x = arg;
    x->refused = reqpath_head(&x->r);
}

static void finish_fn(void *arg)
{
    struct exchange *x = arg;
    reqpath_finish(&x->r);
}

/* What follows a step that has ended. */
static enum MHD_Result ev_continue(struct exchange *x)
{
    if (x->stage == X_HEAD) {
        x->stage = X_BODY;
        if (x->refused) { /* its body, if any, is never read */
            reply_header(&x->r, "Connection", "close");
            return queue(x);
        }
        if (x->r.body_present)
            gate_conn_phase(x->gc, GATE_BODY);
        return MHD_YES;
    }
    return queue(x);
}

static enum MHD_Result on_access_ev(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *data,
                                    size_t *data_size, void **con_cls)
{
    struct exchange *x = *con_cls;
    (void)cls;
    (void)version;
    if (!x) { /* the head */
        x = exchange_new(c, url, method);
        if (!x)
            return MHD_NO;
        *con_cls = x;
        gate_conn_bind_thread(x->gc);
        gate_conn_phase(x->gc, GATE_BUSY);
        x->stage = X_HEAD;
        return ev_step(x, head_fn);
    }
    gate_conn_bind_thread(x->gc);
    if (x->running)
        return MHD_YES;     /* not while suspended; a late call changes nothing */
    if (x->stage == X_HEAD) /* resumed after the head's fiber parked */
        return ev_continue(x);
    if (*data_size) {
        size_t n = *data_size;
        *data_size = 0;
        gate_conn_body(x->gc, n);
        return reqpath_body(&x->r, data, n) ? MHD_YES : MHD_NO;
    }
    if (x->stage == X_FINISH) /* resumed after the handler's fiber parked */
        return queue(x);
    if (x->r.answered)
        return MHD_YES;
    gate_conn_phase(x->gc, GATE_BUSY);
    x->stage = X_FINISH;
    return ev_step(x, finish_fn);
}

/* A streamed body's pieces are read on a fiber into sbuf (the stream may query). */
#define STREAM_PIECE ((size_t)32 * 1024)

static void piece_fn(void *arg)
{
    struct exchange *x = arg;
    x->sres = x->r.stream.read(x->r.stream.arg, x->sbuf, STREAM_PIECE);
    x->slen = x->sres > 0 ? (size_t)x->sres : 0;
    x->soff = 0;
    x->sdone = x->sres <= 0;
}

static ssize_t stream_read_ev(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct exchange *x = cls;
    (void)pos;
    if (x->running)
        return 0;
    if (x->soff < x->slen) {
        size_t n = x->slen - x->soff < max ? x->slen - x->soff : max;
        memcpy(buf, x->sbuf + x->soff, n);
        x->soff += n;
        return (ssize_t)n;
    }
    if (x->sdone)
        return x->sres == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    if (!x->sbuf && !(x->sbuf = malloc(STREAM_PIECE)))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (!ev_run(x, piece_fn))
        return 0; /* called again once resumed */
    return stream_read_ev(cls, pos, buf, max);
}

static void on_completed_ev(void *cls, struct MHD_Connection *c, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    struct exchange *x = *con_cls;
    bool failed;
    (void)cls;
    (void)c;
    (void)toe;
    if (!x)
        return;
    *con_cls = NULL;
    gate_conn_phase(x->gc, GATE_IDLE);
    x->gc = NULL;     /* the connection may close before the end's fiber does */
    if (x->running) { /* its fiber still holds it: step_done frees it */
        x->orphan = true;
        x->suspended = false;
        return;
    }
    /* the release of its pool connection may talk to PostgreSQL (a rollback) */
    if (!fiber_go(end_fn, x, NULL, &failed) && failed)
        end_fn(x);
}

static void loop_run(void *arg)
{
    struct loop *lp = arg;
    MHD_run(lp->d);
    gate_conn_bind_thread(NULL);
}

static long loop_timeout(void *arg)
{
    struct loop *lp = arg;
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(lp->d, &t) != MHD_YES)
        return -1;
    return t > 1000 ? 1000 : (long)t;
}

static void loop_inbox(void *arg)
{
    struct loop *lp = arg;
    struct arrival *a;
    pthread_mutex_lock(&lp->mu);
    a = lp->arrivals;
    lp->arrivals = NULL;
    pthread_mutex_unlock(&lp->mu);
    while (a) {
        struct arrival *next = a->next;
        /* libmicrohttpd owns the socket from here, and closes it itself when it refuses */
        if (MHD_add_connection(lp->d, a->fd, (const struct sockaddr *)&a->addr, a->alen) != MHD_YES)
            gate_handoff_failed();
        free(a);
        a = next;
    }
}

static void *loop_main(void *arg)
{
    struct loop *lp = arg;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(lp->d, MHD_DAEMON_INFO_EPOLL_FD);
    struct sched_hooks h = {.fd = di ? di->epoll_fd : -1,
                            .run = loop_run,
                            .timeout_ms = loop_timeout,
                            .inbox = loop_inbox,
                            .arg = lp};
    sched_loop(lp->s, &h);
    db_loop_done();
    return NULL;
}

/* The gate's hand-over: to the loops in turn. */
static bool ev_handoff(int fd, const struct sockaddr *addr, unsigned alen)
{
    struct loop *lp = &loops[atomic_fetch_add(&next_loop, 1) % (unsigned long)nloops];
    struct arrival *a = calloc(1, sizeof *a);
    if (!a || alen > sizeof a->addr) {
        free(a);
        close(fd);
        return false;
    }
    a->fd = fd;
    memcpy(&a->addr, addr, alen);
    a->alen = alen;
    pthread_mutex_lock(&lp->mu);
    a->next = lp->arrivals;
    lp->arrivals = a;
    pthread_mutex_unlock(&lp->mu);
    sched_wake(lp->s);
    return true;
}

/* libmicrohttpd's decoder of the request target: none. Its own would turn %2F into "/"
 * before the router sees the path, and an external id holding "/" could not be named. The
 * path is routed as sent and its captured segments decoded after (reqpath.c); query
 * arguments, whose '+' libmicrohttpd turns into a space before calling this, are decoded
 * when the request is made (req_arg_add). */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    if (gate_intercept(msg))
        return; /* answered as problem+json, and logged */
    log_warn("libmicrohttpd: %s", msg);
}

/* A connection opens or closes (libmicrohttpd's thread); its watch entry lives as long. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? gate_conn_open(ci->connect_fd) : NULL;
    } else {
        gate_conn_close(*socket_context);
        *socket_context = NULL;
    }
}

/* A request line has arrived, on the connection's own thread: its head's clock starts,
 * and libmicrohttpd's error pages on this thread from now on are ours to answer. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    (void)cls;
    (void)uri;
    if (ci && ci->socket_context) {
        gate_conn_bind_thread(ci->socket_context);
        gate_conn_phase(ci->socket_context, GATE_HEAD);
    }
    return NULL; /* the request is made on the first access call */
}

/* Connections beyond 1,024 (RLIMIT_NOFILE's usual soft limit) need descriptors. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("cannot raise the open-file limit: %s", strerror(errno));
    }
}

void http_on_write(void (*hook)(const char *workspace_id))
{
    reqpath_on_write(hook);
}

static struct MHD_Daemon *start_daemon(const struct config *cfg, unsigned flags,
                                       MHD_AccessHandlerCallback access,
                                       MHD_RequestCompletedCallback completed)
{
    /* A connection's memory: libmicrohttpd 0.9.75 zeroes all of it after each request
     * (MHD_pool_reset), so an idle kept-alive connection costs the whole of it. 32 KiB holds
     * the largest head the gate lets through (16 KiB, 100 headers) and its answer's head. */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, access, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        /* the gate keeps to max_connections; the slack covers connections it has made
         * close to make room, until libmicrohttpd has closed them */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)gate_mhd_limit(cfg),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024), MHD_OPTION_STRICT_FOR_CLIENT,
        (int)1, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_request_line, NULL,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024), MHD_OPTION_UNESCAPE_CALLBACK,
        keep_escapes, NULL, MHD_OPTION_END);
}

static void stop_loops(void)
{
    for (long i = 0; i < nloops; i++)
        if (loops[i].started)
            sched_stop(loops[i].s);
    for (long i = 0; i < nloops; i++) {
        struct loop *lp = &loops[i];
        if (lp->started)
            pthread_join(lp->thread, NULL);
        if (lp->d)
            MHD_stop_daemon(lp->d); /* closes what is left: on_completed ends it in place */
        for (struct arrival *a = lp->arrivals, *next; a; a = next) {
            next = a->next;
            close(a->fd);
            free(a);
        }
        sched_free(lp->s);
        pthread_mutex_destroy(&lp->mu);
    }
    free(loops);
    loops = NULL;
    nloops = 0;
    fiber_offload_stop();
}

static bool start_loops(const struct config *cfg)
{
    /* libmicrohttpd on the loop's epoll set; suspended while a fiber of it waits */
    unsigned flags =
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    nloops = cfg->loops > 0 ? cfg->loops : cores > 0 ? cores : 1;
    if (!(loops = calloc((size_t)nloops, sizeof *loops))) {
        nloops = 0;
        return false;
    }
    for (long i = 0; i < nloops; i++) {
        struct loop *lp = &loops[i];
        pthread_mutex_init(&lp->mu, NULL);
        lp->s = sched_new();
        lp->d = lp->s ? start_daemon(cfg, flags, on_access_ev, on_completed_ev) : NULL;
        if (!lp->d || pthread_create(&lp->thread, NULL, loop_main, lp) != 0) {
            nloops = i + 1;
            stop_loops();
            return false;
        }
        lp->started = true;
    }
    return true;
}

bool http_start(const struct config *cfg)
{
    /* No listening socket of its own: the gate accepts, and hands checked connections over */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
    bool events = cfg->io_mode == 0;

    conf = cfg;
    db_pipelines(events && cfg->db_pipeline == 0);
    reqpath_start(cfg);
    raise_fd_limit();
    if (!gate_listen(cfg))
        return false;
    if (events) {
        if (!start_loops(cfg) || !gate_start_with(ev_handoff)) {
            log_error("cannot start the HTTP event loops on %s", cfg->listen);
            stop_loops();
            gate_stop();
            return false;
        }
        log_info("listening on http://%s (%ld event loops)", cfg->listen, nloops);
        return true;
    }
    daemon_handle = start_daemon(cfg, flags, on_access, on_completed);
    if (!daemon_handle || !gate_start(daemon_handle)) {
        log_error("cannot start the HTTP daemon on %s", cfg->listen);
        if (daemon_handle)
            MHD_stop_daemon(daemon_handle);
        daemon_handle = NULL;
        gate_stop();
        return false;
    }
    log_info("listening on http://%s", cfg->listen);
    return true;
}

static void wait_inflight(uint64_t until)
{
    while (atomic_load(&inflight) > 0 && util_now_ns() < until) {
        struct timespec ts = {0, 5L * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void http_stop(long deadline_s)
{
    uint64_t start, total, margin;
    if (!daemon_handle && !nloops)
        return;
    atomic_store(&stopping, true); /* answers from now on close their connections */
    reqpath_quiesce();             /* bulk requests are refused from now on */
    gate_stop();                   /* no new connections; those in flight keep going */
    start = util_now_ns();
    total = (uint64_t)deadline_s * 1000000000u;
    /* what is still running a second before the deadline (a quarter of it, when short) is
     * stopped: its queries cancelled, its handler told to give up (req_abandoned) */
    margin = total / 4 < 1000000000u ? total / 4 : 1000000000u;
    wait_inflight(start + total - margin);
    if (atomic_load(&inflight) > 0) {
        log_warn("shutdown: %ld requests still in flight near the deadline; cancelling their "
                 "queries",
                 atomic_load(&inflight));
        atomic_store(&abandon_all, true);
        db_cancel_all();
        wait_inflight(start + total - margin / 4);
    }
    if (daemon_handle)
        MHD_stop_daemon(daemon_handle);
    daemon_handle = NULL;
    stop_loops();
    reqpath_stop();
}
