/* The bounded libpq pool. Slots are handed out under a mutex; connecting, resetting and
 * querying happen outside it. A connection is checked cheaply on every acquire (did the
 * server close it?) so that a restarted PostgreSQL costs no failed request.
 *
 * Nothing here waits on PostgreSQL without a deadline: a server that stops answering
 * (frozen, partitioned) must cost a request a 503, not its thread. Connecting is bounded by
 * the acquire timeout; every statement is sent on a non-blocking connection and waited for
 * with poll() until the statement timeout, then cancelled; a connection whose cancel gets
 * no answer is closed, and its slot connects again on its next use. */
#include "leadloop/db.h"

#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "leadloop/fiber.h"
#include "leadloop/log.h"
#include "leadloop/util.h"

/* Statements prepared on a connection, found by a hash of their text: planning once per
 * connection instead of once per request (a one-row read spent twice as long planning as
 * executing). Dynamic list queries are bounded in number, and past the table's size a
 * statement simply runs unprepared. */
#define PREPARED_MAX 256

struct prepared {
    uint64_t hash;
    size_t len;
};

/* After a statement's deadline, how long the cancel request and the statement's answer to
 * it may take before the connection is given up. */
#define CANCEL_WAIT_MS 500
/* Cancel requests whose thread still waits for the postmaster (a frozen server holds
 * each until it thaws). Past this many, a late statement's connection is closed uncancelled:
 * the server's own statement_timeout still ends the statement once it runs again. */
#define CANCELS_MAX 32

struct db_conn {
    struct prepared prepared[PREPARED_MAX];
    int nprepared;
    PGconn *pg; /* NULL once closed: the slot connects again on its next acquire */
    bool in_use;
    bool needs_reset;
    long deadline_ms;       /* each statement's client-side deadline in this borrow; 0: none */
    int tx_depth;           /* 0: autocommit; 1: BEGIN; n > 1: savepoint ll_sp<n> inside */
    bool conflicted;        /* a statement met 40001 or 40P01 (db_tx_run reruns) */
    const char *on_release; /* undoes session state set for one request (db_on_release) */
    char *tx_local;         /* Citus: runs after each outermost BEGIN (db_set_tx_local) */
    /* A shared handle (db_acquire_shared): no connection of its own until it needs one
     * (a transaction, session state, the raw connection), then `bound`; until then its
     * statements go to its loop's pipelined connection. */
    bool shared;
    bool bind_failed;      /* no connection came: every later statement answers 503 */
    struct db_conn *bound; /* the pool connection it took, or NULL */
    /* A slot of the replica pool (db_replica_init): connects to the replica, and goes back
     * to that pool. A shared handle bound to one falls over to the primary (fail_over). */
    bool replica;
    bool no_fail_over; /* a replica handle whose failures are its own (a probe) */
    int pinned;        /* db_tx_run holds the bound connection: no fail-over now */
    long tx_bound_ms;  /* the outermost transaction's SET LOCAL statement_timeout, or 0 */
};

static struct {
    pthread_mutex_t mu;
    struct db_conn *conns;
    long size, in_use, waiting;
    char *conninfo;
    long acquire_ms, statement_ms;
    int wake_fd;             /* readable once db_cancel_all ran: wakes every statement */
    atomic_bool cancelling;  /* set by db_cancel_all: statements give up at once */
    atomic_int cancels_busy; /* cancel threads still running */
    atomic_ulong timeouts, errors, late, closed, retries, pipelined;
    atomic_bool pipelines; /* db_pipelines: shared handles pipeline on event loops */
    atomic_bool citus;     /* db_detect_citus */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake_fd = -1};

/* The replica's connections (DATABASE_READ_URL): a few slots, never waited for (a busy
 * replica sends the read to the primary), with the pool's statement settings. */
static struct {
    pthread_mutex_t mu;
    struct db_conn *conns;
    long size;
    char *conninfo;
    atomic_ulong fallbacks; /* replica statements that failed and ran on the primary */
} rpool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void notice_quiet(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

/* The session settings every connection gets, after each (re)connect. JIT is off: every
 * statement here is index-driven and short, and a report over a large workspace crosses
 * jit_above_cost by its estimates alone, then spends 0.2 to 3 s compiling for a query that
 * runs in milliseconds (measured: GET /v1/reports/sla at 1M leads). */
static void session_sql(char *sql, size_t len)
{
    snprintf(sql, len,
             "SET statement_timeout = %ld; SET TIME ZONE 'UTC'; SET application_name = 'leadloopd';"
             " SET jit = off%s",
             pool.statement_ms,
             /* SET LOCAL reaches the workers' sessions of the transaction (db_set_tx_local) */
             atomic_load(&pool.citus) ? "; SET citus.propagate_set_commands = 'local'" : "");
}

bool db_detect_citus(PGconn *pg)
{
    PGresult *res =
        PQexec(pg, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')");
    bool on = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
              PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    atomic_store(&pool.citus, on);
    return on;
}

bool db_citus(void)
{
    return atomic_load(&pool.citus);
}

/* For the standalone connections of commands and background threads, which block. */
static bool conn_setup(PGconn *pg, char *err, size_t errlen)
{
    char sql[224];
    PGresult *res;
    bool ok;
    PQsetNoticeReceiver(pg, notice_quiet, NULL);
    session_sql(sql, sizeof sql);
    res = PQexec(pg, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok && err)
        snprintf(err, errlen, "%s", PQerrorMessage(pg));
    PQclear(res);
    return ok;
}

PGconn *db_connect_once(const char *conninfo, char *err, size_t errlen)
{
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {conninfo, "5", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(pg));
        for (char *nl = strchr(err, '\n'); nl; nl = strchr(nl, '\n'))
            *nl = ' ';
        PQfinish(pg);
        return NULL;
    }
    if (!conn_setup(pg, err, errlen)) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

bool db_init(const char *conninfo, long size, long acquire_ms, long statement_ms)
{
    pool.conninfo = strdup(conninfo ? conninfo : "");
    pool.conns = calloc((size_t)size, sizeof *pool.conns);
    if (!pool.conninfo || !pool.conns) {
        free(pool.conninfo);
        free(pool.conns);
        return false;
    }

    pool.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (pool.wake_fd < 0) {
        free(pool.conninfo);
        free(pool.conns);
        return false;
    }
    atomic_store(&pool.cancelling, false);
    pool.size = size;
    pool.acquire_ms = acquire_ms;
    pool.statement_ms = statement_ms;
    return true;
}

bool db_replica_init(const char *conninfo, long size)
{
    rpool.conninfo = strdup(conninfo);
    rpool.conns = calloc((size_t)size, sizeof *rpool.conns);
    if (!rpool.conninfo || !rpool.conns) {
        free(rpool.conninfo);
        free(rpool.conns);
        rpool.conninfo = NULL;
        rpool.conns = NULL;
        return false;
    }
    for (long i = 0; i < size; i++)
        rpool.conns[i].replica = true;
    rpool.size = size;
    return true;
}

void db_shutdown(void)
{
    for (long i = 0; i < rpool.size; i++)
        PQfinish(rpool.conns[i].pg);
    free(rpool.conns);
    free(rpool.conninfo);
    rpool.conns = NULL;
    rpool.conninfo = NULL;
    rpool.size = 0;
    for (long i = 0; i < pool.size; i++)
        PQfinish(pool.conns[i].pg);
    if (pool.wake_fd >= 0)
        close(pool.wake_fd);
    pool.wake_fd = -1;
    free(pool.conns);
    free(pool.conninfo);
    pool.conns = NULL;
    pool.conninfo = NULL;
    pool.size = 0;
}

/* Each statement cancels its own, from its own thread (the only one that may use its
 * PGconn): this wakes them all, and the eventfd stays readable so that none waits again. */
void db_cancel_all(void)
{
    uint64_t one = 1;
    atomic_store(&pool.cancelling, true);
    fiber_interrupt_all();
    if (pool.wake_fd >= 0 && write(pool.wake_fd, &one, sizeof one) < 0)
        log_warn("cannot wake the statements in flight: %s", strerror(errno));
}

/* ---------------------------------------------------------------- waiting with deadlines */

/* A deadline on the monotonic clock, ms from now; 0 (no deadline) when ms <= 0. */
static uint64_t deadline_in(long ms)
{
    return ms > 0 ? util_now_ns() + (uint64_t)ms * 1000000u : 0;
}

/* Waits until fd is ready for events: 1 when it is, 0 when the deadline (0: none) passed,
 * -1 when db_cancel_all asks every statement to give up. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    struct pollfd pfd[2] = {{.fd = fd, .events = events}, {.fd = pool.wake_fd, .events = POLLIN}};
    if (fiber_in()) { /* the loop waits for it, with its other fibers' sockets */
        for (;;) {
            int r;
            if (atomic_load(&pool.cancelling))
                return -1;
            if (deadline && util_now_ns() >= deadline)
                return 0;
            r = fiber_wait_fd(fd, events, deadline);
            if (r != 2)
                return r;
        }
    }
    for (;;) {
        int timeout = -1, n;
        if (atomic_load(&pool.cancelling))
            return -1;
        if (deadline) {
            uint64_t now = util_now_ns();
            if (now >= deadline)
                return 0;
            timeout = (int)((deadline - now + 999999u) / 1000000u);
        }
        n = poll(pfd, pool.wake_fd >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0 && pfd[1].revents)
            return -1;
        if (n > 0 && pfd[0].revents)
            return 1;
    }
}

/* A cancel request on its own thread: PQcancel in libpq 15 blocks until the postmaster
 * answers, with no timeout, and a frozen postmaster never does. The statement's thread
 * waits for it up to a deadline; whichever of the two finishes last frees the job. */
struct cancel_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGcancel *cancel; /* owned by the job */
    int refs;
    bool done, sent;
};

static void cancel_job_put(struct cancel_job *j)
{
    bool last;
    pthread_mutex_lock(&j->mu);
    last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last)
        return;
    PQfreeCancel(j->cancel);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static void *cancel_main(void *arg)
{
    struct cancel_job *j = arg;
    char errbuf[256];
    bool sent = PQcancel(j->cancel, errbuf, sizeof errbuf) == 1;
    pthread_mutex_lock(&j->mu);
    j->done = true;
    j->sent = sent;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    cancel_job_put(j);
    atomic_fetch_sub(&pool.cancels_busy, 1);
    return NULL;
}

/* Asks the server to cancel what pg runs; true when the postmaster took the request
 * before the deadline. */
static bool cancel_until(PGconn *pg, uint64_t deadline)
{
    struct cancel_job *j;
    pthread_attr_t attr;
    pthread_condattr_t cattr;
    pthread_t t;
    bool sent = false;
    if (atomic_fetch_add(&pool.cancels_busy, 1) >= CANCELS_MAX)
        goto none;
    if (!(j = calloc(1, sizeof *j)))
        goto none;
    if (!(j->cancel = PQgetCancel(pg))) {
        free(j);
        goto none;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &cattr);
    pthread_condattr_destroy(&cattr);
    j->refs = 2;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, (size_t)256 * 1024);
    if (pthread_create(&t, &attr, cancel_main, j) != 0) {
        pthread_attr_destroy(&attr);
        j->refs = 1;
        cancel_job_put(j);
        goto none;
    }
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&j->mu);
    while (!j->done) {
        struct timespec until = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
        if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT)
            break;
    }
    sent = j->done && j->sent;
    pthread_mutex_unlock(&j->mu);
    cancel_job_put(j);
    return sent;
none:
    atomic_fetch_sub(&pool.cancels_busy, 1);
    return false;
}

struct cancel_call {
    PGconn *pg;
    uint64_t deadline;
    bool sent;
};

static void cancel_offloaded(void *arg)
{
    struct cancel_call *cc = arg;
    cc->sent = cancel_until(cc->pg, cc->deadline);
}

/* cancel_until, which waits on a condition variable: on a fiber, from a helper thread. */
static bool cancel_sent(PGconn *pg, uint64_t deadline)
{
    struct cancel_call cc = {pg, deadline, false};
    fiber_offload(cancel_offloaded, &cc);
    return cc.sent;
}

/* True when the server has closed an idle connection (e.g. it restarted): its socket is
 * readable, and reading it shows the end. */
static bool idle_conn_dead(PGconn *pg)
{
    struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
    if (pfd.fd < 0 || PQstatus(pg) != CONNECTION_OK)
        return true;
    if (poll(&pfd, 1, 0) <= 0)
        return false;
    if (!PQconsumeInput(pg))
        return true;
    return PQstatus(pg) != CONNECTION_OK;
}

/* ---------------------------------------------------------------- statements */

/* A statement as it is sent: the executor is the same for all four. */
enum stmt_kind { STMT_QUERY, STMT_PARAMS, STMT_PREPARE, STMT_PREPARED };

struct stmt {
    enum stmt_kind kind;
    const char *text; /* SQL; for STMT_PREPARED the statement's name */
    const char *name; /* STMT_PREPARE: the name to prepare text under */
    int nparams;
    const char *const *values;
};

static bool stmt_send(PGconn *pg, const struct stmt *s)
{
    switch (s->kind) {
    case STMT_QUERY:
        return PQsendQuery(pg, s->text) == 1;
    case STMT_PARAMS:
        return PQsendQueryParams(pg, s->text, s->nparams, NULL, s->values, NULL, NULL, 0) == 1;
    case STMT_PREPARE:
        return PQsendPrepare(pg, s->name, s->text, s->nparams, NULL) == 1;
    case STMT_PREPARED:
        return PQsendQueryPrepared(pg, s->text, s->nparams, s->values, NULL, NULL, 0) == 1;
    }
    return false;
}

/* Closes c's connection; the slot connects again on its next acquire. The server ends the
 * session (and rolls back its transaction) once it reads the end of the socket. */
static void conn_close(struct db_conn *c)
{
    if (!c->pg)
        return;
    PQfinish(c->pg);
    c->pg = NULL;
    c->needs_reset = true;
    c->nprepared = 0;
    atomic_fetch_add(&pool.closed, 1);
}

/* A failure with no SQLSTATE, which db_check answers as 503 (the connection is gone).
 * New; NULL only when out of memory, which callers treat the same. */
static PGresult *no_answer(struct db_conn *c)
{
    return PQmakeEmptyPGresult(c ? c->pg : NULL, PGRES_FATAL_ERROR);
}

/* Keeps what PQexec would return: the last result, or the first error. */
static void keep(PGresult **last, PGresult *res)
{
    if (*last && PQresultStatus(*last) == PGRES_FATAL_ERROR) {
        PQclear(res);
        return;
    }
    PQclear(*last);
    *last = res;
}

/* Collects every result of the statement sent on c until the deadline. True when the
 * last came in (then *last is what PQexec would have returned), false on the deadline or
 * when db_cancel_all interrupts. */
static bool collect_until(struct db_conn *c, PGresult **last, uint64_t deadline)
{
    for (;;) {
        PGresult *res;
        while (PQisBusy(c->pg)) {
            if (wait_fd(PQsocket(c->pg), POLLIN, deadline) <= 0)
                return false;
            if (!PQconsumeInput(c->pg))
                break; /* the connection is lost: PQgetResult says so without waiting */
        }
        if (!(res = PQgetResult(c->pg)))
            return true;
        keep(last, res);
    }
}

/* Runs one statement on c with the borrow's deadline; new PGresult (never one that is not
 * the statement's own: a statement past its deadline answers no_answer()).
 *
 * Past the deadline the server is asked to cancel; if it takes the request and answers
 * within CANCEL_WAIT_MS (a slow statement: it ends with 57014), the connection stays.
 * Otherwise the server is not answering, and the connection is closed rather than
 * returned to the pool with a statement of unknown fate in it. */
static PGresult *run(struct db_conn *c, const struct stmt *s, uint64_t deadline)
{
    PGresult *last = NULL;
    long cancel_ms = CANCEL_WAIT_MS;
    uint64_t cancel_deadline;
    int f;
    if (!c->pg || atomic_load(&pool.cancelling))
        return no_answer(c);
    if (!stmt_send(c->pg, s)) {
        c->needs_reset = PQstatus(c->pg) != CONNECTION_OK;
        return no_answer(c);
    }
    /* A body larger than the socket's buffers goes out as the server reads it. */
    while ((f = PQflush(c->pg)) == 1) {
        int w = wait_fd(PQsocket(c->pg), POLLIN | POLLOUT, deadline);
        if (w > 0 && PQconsumeInput(c->pg))
            continue;
        /* half a message sent: nothing can follow it on this connection */
        if (w <= 0) {
            atomic_fetch_add(&pool.late, 1);
            log_warn("database statement could not be sent before its deadline; connection "
                     "closed");
        }
        conn_close(c);
        return no_answer(c);
    }
    if (f < 0 || collect_until(c, &last, deadline))
        return last ? last : no_answer(c);

    atomic_fetch_add(&pool.late, 1);
    if (c->deadline_ms > 0 && c->deadline_ms < cancel_ms)
        cancel_ms = c->deadline_ms;
    cancel_deadline = deadline_in(cancel_ms);
    if (cancel_sent(c->pg, cancel_deadline) && collect_until(c, &last, cancel_deadline)) {
        log_warn("database statement passed its deadline of %ld ms and was cancelled",
                 c->deadline_ms);
        return last ? last : no_answer(c);
    }
    log_warn("database statement passed its deadline of %ld ms and the server did not answer "
             "its cancel within %ld ms; connection closed",
             c->deadline_ms, cancel_ms);
    PQclear(last);
    conn_close(c);
    return no_answer(c);
}

static PGresult *run_sql(struct db_conn *c, const char *sql)
{
    struct stmt s = {STMT_QUERY, sql, NULL, 0, NULL};
    return run(c, &s, deadline_in(c->deadline_ms));
}

/* Connects c's slot before the deadline: libpq's non-blocking connect, polled, then the
 * session settings. libpq's own connect_timeout is a whole-second guard; the deadline is
 * what a request waits. */
static bool conn_open(struct db_conn *c, uint64_t deadline, char *err, size_t errlen)
{
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {c->replica ? rpool.conninfo : pool.conninfo, "5", NULL};
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    char sql[160];
    PGresult *res;
    c->pg = PQconnectStartParams(keys, vals, 1);
    if (!c->pg) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    while (st != PGRES_POLLING_OK) {
        int w;
        if (PQstatus(c->pg) == CONNECTION_BAD || st == PGRES_POLLING_FAILED) {
            snprintf(err, errlen, "%s", PQerrorMessage(c->pg));
            goto fail;
        }
        w = wait_fd(PQsocket(c->pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (w <= 0) {
            snprintf(err, errlen, "no answer before the acquire timeout");
            goto fail;
        }
        st = PQconnectPoll(c->pg);
    }
    PQsetNoticeReceiver(c->pg, notice_quiet, NULL);
    if (PQsetnonblocking(c->pg, 1) != 0) {
        snprintf(err, errlen, "%s", PQerrorMessage(c->pg));
        goto fail;
    }
    session_sql(sql, sizeof sql);
    {
        struct stmt s = {STMT_QUERY, sql, NULL, 0, NULL};
        res = run(c, &s, deadline);
    }
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "session settings: %s",
                 c->pg ? PQerrorMessage(c->pg) : "no answer before the acquire timeout");
        PQclear(res);
        goto fail;
    }
    PQclear(res);
    return true;
fail:
    PQfinish(c->pg);
    c->pg = NULL;
    for (char *nl = strchr(err, '\n'); nl; nl = strchr(nl, '\n'))
        *nl = ' ';
    return false;
}

/* Makes c usable before the deadline: keeps a live connection, or connects anew (once). */
static bool conn_ready(struct db_conn *c, uint64_t deadline)
{
    char err[512];
    bool reconnect = c->pg != NULL;
    if (c->pg && !c->needs_reset && !idle_conn_dead(c->pg))
        return true;
    PQfinish(c->pg);
    c->pg = NULL;
    c->nprepared = 0; /* a new session has none */
    if (!conn_open(c, deadline, err, sizeof err)) {
        c->needs_reset = true;
        log_warn("database connection failed: %s", err);
        return false;
    }
    if (reconnect)
        log_info("database connection re-established");
    c->needs_reset = false;
    return true;
}

/* A request waiting for a connection. Waiters queue in arrival order and a released
 * connection is handed straight to the oldest one: a newcomer can never take it first,
 * which kept early waiters waiting for hundreds of milliseconds under load. */
struct waiter {
    pthread_cond_t cv;
    struct fiber *f; /* a fiber's wait: unparked instead of signalled */
    struct db_conn *conn;
    struct waiter *next;
};

static struct waiter *queue_head, *queue_tail;

static void queue_remove(struct waiter *w)
{
    struct waiter **p = &queue_head, *prev = NULL;
    for (; *p; prev = *p, p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            if (queue_tail == w)
                queue_tail = prev;
            return;
        }
    }
}

enum ll_err db_acquire(struct db_conn **out)
{
    return db_acquire_within(out, pool.acquire_ms, pool.statement_ms);
}

enum ll_err db_acquire_within(struct db_conn **out, long wait_ms, long statement_ms)
{
    struct timespec deadline;
    struct db_conn *c = NULL;
    uint64_t connect_deadline = deadline_in(wait_ms);
    util_deadline(&deadline, wait_ms);
    pthread_mutex_lock(&pool.mu);
    if (pool.in_use < pool.size && !queue_head) {
        /* Prefer a slot that is already connected. */
        for (long i = 0; i < pool.size; i++) {
            struct db_conn *s = &pool.conns[i];
            if (!s->in_use && (!c || (s->pg && !c->pg)))
                c = s;
        }
        c->in_use = true; /* NOLINT(clang-analyzer-core.NullDereference): in_use < size */
        pool.in_use++;
    } else {
        struct waiter w = {.conn = NULL, .next = NULL, .f = fiber_self()};
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&w.cv, &attr);
        pthread_condattr_destroy(&attr);
        if (queue_tail)
            queue_tail->next = &w;
        else
            queue_head = &w;
        queue_tail = &w;
        pool.waiting++;
        while (!w.conn) {
            bool timed_out;
            if (w.f) {
                pthread_mutex_unlock(&pool.mu);
                timed_out = !fiber_park(connect_deadline ? connect_deadline : 1);
                pthread_mutex_lock(&pool.mu);
            } else {
                timed_out = pthread_cond_timedwait(&w.cv, &pool.mu, &deadline) == ETIMEDOUT;
            }
            if (timed_out && !w.conn) {
                queue_remove(&w);
                break;
            }
        }
        pool.waiting--;
        c = w.conn; /* handed over in use */
        pthread_cond_destroy(&w.cv);
    }
    pthread_mutex_unlock(&pool.mu);
    if (!c) {
        atomic_fetch_add(&pool.timeouts, 1);
        /* w left the queue: queue_remove on the timeout, the hand-over otherwise */
        return LL_E_UNAVAILABLE; /* NOLINT(clang-analyzer-core.StackAddressEscape) */
    }
    /* Connecting counts against the same wait: the whole acquire takes at most wait_ms. */
    if (!conn_ready(c, connect_deadline)) {
        atomic_fetch_add(&pool.errors, 1);
        db_release(c);
        return LL_E_UNAVAILABLE;
    }
    c->deadline_ms = statement_ms;
    *out = c;
    return LL_OK;
}

static bool simple(struct db_conn *c, const char *sql);
static struct db_conn *cur(struct db_conn *c);
static struct db_conn *own(struct db_conn *c);

void db_set_deadline(struct db_conn *c, long ms)
{
    c->deadline_ms = ms > 0 ? ms : 0;
    if (c->shared && c->bound)
        c->bound->deadline_ms = c->deadline_ms;
}

void db_release(struct db_conn *c)
{
    if (!c)
        return;
    if (c->shared) {
        db_release(c->bound);
        free(c);
        return;
    }
    if (c->pg && !c->needs_reset) {
        PGTransactionStatusType ts = PQtransactionStatus(c->pg);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            PGresult *res = run_sql(c, "ROLLBACK");
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                c->needs_reset = true;
            PQclear(res);
        } else if (ts != PQTRANS_IDLE) {
            c->needs_reset = true;
        }
    }
    /* Session state of the request that held c goes before anyone else gets c; when it
     * cannot, the reset gives the next holder a new session, which has none of it. */
    if (c->on_release && c->pg && !c->needs_reset && !simple(c, c->on_release))
        c->needs_reset = true;
    c->on_release = NULL;
    free(c->tx_local);
    c->tx_local = NULL;
    c->tx_depth = 0;
    c->tx_bound_ms = 0;
    c->conflicted = false;
    c->deadline_ms = pool.statement_ms;
    if (c->replica) { /* nobody waits for a replica slot */
        pthread_mutex_lock(&rpool.mu);
        c->in_use = false;
        pthread_mutex_unlock(&rpool.mu);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    if (queue_head) { /* straight to the oldest waiter, still in use */
        struct waiter *w = queue_head;
        queue_head = w->next;
        if (!queue_head)
            queue_tail = NULL;
        w->conn = c;
        if (w->f)
            fiber_unpark(w->f); /* w lives on the fiber's stack: nothing of it after this */
        else
            pthread_cond_signal(&w->cv);
    } else {
        c->in_use = false;
        pool.in_use--;
    }
    pthread_mutex_unlock(&pool.mu);
}

static bool simple(struct db_conn *c, const char *sql)
{
    PGresult *res = run_sql(c, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok && PQstatus(c->pg) != CONNECTION_OK)
        c->needs_reset = true;
    return ok;
}

static uint64_t fnv1a(const char *s, size_t *len)
{
    uint64_t h = 1469598103934665603ull;
    const char *p = s;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    *len = (size_t)(p - s);
    return h;
}

/* Runs sql prepared (preparing it on first use), or plainly when it cannot be kept. */
static PGresult *exec_prepared(struct db_conn *c, const char *sql, int nparams,
                               const char *const *values)
{
    size_t len;
    uint64_t h = fnv1a(sql, &len);
    uint64_t deadline = deadline_in(c->deadline_ms);
    char name[24];
    struct stmt plain = {STMT_PARAMS, sql, NULL, nparams, values};
    struct stmt prepared = {STMT_PREPARED, name, NULL, nparams, values};
    for (int i = 0; i < c->nprepared; i++) {
        if (c->prepared[i].hash == h && c->prepared[i].len == len) {
            snprintf(name, sizeof name, "ll_%d", i);
            return run(c, &prepared, deadline);
        }
    }
    if (c->pg && c->nprepared < PREPARED_MAX && PQtransactionStatus(c->pg) != PQTRANS_INERROR) {
        struct stmt prepare = {STMT_PREPARE, sql, name, nparams, NULL};
        PGresult *prep;
        snprintf(name, sizeof name, "ll_%d", c->nprepared);
        prep = run(c, &prepare, deadline);
        if (PQresultStatus(prep) == PGRES_COMMAND_OK) {
            PQclear(prep);
            c->prepared[c->nprepared].hash = h;
            c->prepared[c->nprepared].len = len;
            c->nprepared++;
            return run(c, &prepared, deadline);
        }
        /* Could not prepare. Inside a transaction the failure (a statement timeout while
         * it waited for a lock, say) aborted it: the preparation's own error is the one
         * to report, where running the statement now would only say that the
         * transaction is aborted. Outside one, running it plainly reports the error the
         * usual way. */
        if (c->pg && PQtransactionStatus(c->pg) == PQTRANS_INERROR)
            return prep;
        PQclear(prep);
    }
    return run(c, &plain, deadline);
}

/* ---------------------------------------------------------------- the loops' pipelines */

/* Each event-loop thread keeps one connection in libpq's pipeline mode for the statements of
 * shared handles (db_acquire_shared). A fiber sends its statement with a sync after it (so
 * that each is a transaction of its own, and one's error does not abort the next), appends
 * itself to the loop's queue and parks; the fiber at the head of the queue reads for all of
 * them: each answer, in order, goes to its fiber, which the reader unparks, and when the
 * reader's own answer is in, the next in the queue takes its place. The requests of one
 * loop round thus share one connection and one wake-up of its PostgreSQL backend, with no
 * pool hand-over.
 *
 * Only the loop's own fibers touch its pipeline, so it needs no lock. A statement has the
 * pool's statement timeout on the server; a pipeline that gives no answer for that long and
 * CANCEL_WAIT_MS more is closed, and every statement in it answers 503 (one cannot cancel
 * a single statement of a pipeline). */
struct pitem {
    struct fiber *f;
    PGresult *res; /* what PQexec would return */
    int prep_slot; /* the prepared statement this item's Prepare makes, or -1 */
    int nres;      /* results seen so far */
    bool done;
    uint64_t deadline;
    struct pitem *next;
};

struct pipe {
    struct db_conn c; /* the connection and its prepared statements */
    struct pitem *head, *tail;
    bool want_write; /* a statement is not all sent: the reader flushes */
    bool connecting;
};

static _Thread_local struct pipe *tls_pipe;

void db_pipelines(bool on)
{
    atomic_store(&pool.pipelines, on);
}

void db_loop_done(void)
{
    struct pipe *p = tls_pipe;
    if (!p)
        return;
    PQfinish(p->c.pg);
    free(p);
    tls_pipe = NULL;
}

/* Every statement in the pipeline answers what it has, or 503; the connection is closed
 * (the next statement connects anew). */
static void pipe_fail_all(struct pipe *p)
{
    struct pitem *it = p->head;
    struct fiber *self = fiber_self();
    p->head = p->tail = NULL;
    p->want_write = false;
    while (it) {
        struct pitem *next = it->next;
        if (!it->res || PQresultStatus(it->res) != PGRES_FATAL_ERROR) {
            PQclear(it->res);
            it->res = no_answer(&p->c);
        }
        it->done = true;
        if (it->f != self)
            fiber_unpark(it->f);
        it = next; /* `it` lives on its fiber's stack: nothing of it after the unpark */
    }
    if (p->c.pg) {
        PQfinish(p->c.pg);
        p->c.pg = NULL;
        atomic_fetch_add(&pool.closed, 1);
    }
    p->c.needs_reset = true;
    p->c.nprepared = 0;
}

/* One result of the head item; at its sync the item is done and leaves the queue. */
static void pipe_take(struct pipe *p, PGresult *res)
{
    struct pitem *it = p->head;
    if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
        PQclear(res);
        p->head = it->next;
        if (!p->head)
            p->tail = NULL;
        if (!it->res)
            it->res = no_answer(&p->c);
        it->done = true;
        if (it->f != fiber_self())
            fiber_unpark(it->f);
        return;
    }
    if (it->nres++ == 0 && it->prep_slot >= 0 && PQresultStatus(res) != PGRES_COMMAND_OK) {
        /* the Prepare failed: its name names nothing */
        p->c.prepared[it->prep_slot].hash = 0;
        p->c.prepared[it->prep_slot].len = 0;
    }
    keep(&it->res, res);
}

/* The reader's turn (the head item's fiber): reads until its own answer is in, handing out
 * the answers before it; the whole pipeline fails on a lost connection, a deadline, or
 * db_cancel_all. */
static void pipe_read(struct pipe *p, struct pitem *mine)
{
    PGconn *pg = p->c.pg;
    int nulls = 0;
    while (!mine->done) {
        while (!PQisBusy(pg)) {
            PGresult *res = PQgetResult(pg);
            if (!res) { /* the end of one statement's results, before its sync */
                if (++nulls > 2) {
                    log_warn("database pipeline out of step; connection closed");
                    pipe_fail_all(p);
                    return;
                }
                continue;
            }
            nulls = 0;
            pipe_take(p, res);
            if (PQstatus(pg) != CONNECTION_OK) {
                pipe_fail_all(p);
                return;
            }
            if (mine->done)
                return;
        }
        if (p->want_write) {
            int f = PQflush(pg);
            if (f < 0) {
                pipe_fail_all(p);
                return;
            }
            p->want_write = f == 1;
        }
        {
            int w =
                wait_fd(PQsocket(pg), POLLIN | (p->want_write ? POLLOUT : 0), p->head->deadline);
            if (w <= 0) {
                if (w == 0) {
                    atomic_fetch_add(&pool.late, 1);
                    log_warn("database pipeline gave no answer within its deadline; connection "
                             "closed");
                }
                pipe_fail_all(p);
                return;
            }
        }
        if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK) {
            pipe_fail_all(p);
            return;
        }
    }
}

/* An idle pipeline expects nothing from the server: anything readable is its goodbye (a
 * terminated backend's 57P01, which libpq in pipeline mode would keep for the next
 * statement, then the end of the connection). */
static bool pipe_idle_dead(PGconn *pg)
{
    struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
    return pfd.fd < 0 || PQstatus(pg) != CONNECTION_OK || poll(&pfd, 1, 0) != 0;
}

/* The loop's pipeline, connected and in pipeline mode; NULL when it cannot be had now: the
 * database is down (*down), or not now (out of memory, connecting on another fiber), when
 * the caller takes a pool connection instead. */
static struct pipe *pipe_ready(bool *down)
{
    struct pipe *p = tls_pipe;
    char err[512];
    if (!p) {
        if (!(p = calloc(1, sizeof *p)))
            return NULL;
        p->c.needs_reset = true;
        tls_pipe = p;
    }
    if (p->connecting)
        return NULL;
    if (p->head) /* busy, hence alive as far as anyone knows */
        return p->c.pg ? p : NULL;
    if (p->c.pg && !p->c.needs_reset && !pipe_idle_dead(p->c.pg))
        return p;
    PQfinish(p->c.pg);
    p->c.pg = NULL;
    p->c.nprepared = 0;
    p->connecting = true;
    if (!conn_open(&p->c, deadline_in(pool.acquire_ms), err, sizeof err)) {
        p->connecting = false;
        atomic_fetch_add(&pool.errors, 1);
        log_warn("database connection failed: %s", err);
        *down = true;
        return NULL;
    }
    p->connecting = false;
    if (PQenterPipelineMode(p->c.pg) != 1) {
        log_warn("database connection cannot enter pipeline mode: %s", PQerrorMessage(p->c.pg));
        PQfinish(p->c.pg);
        p->c.pg = NULL;
        return NULL;
    }
    p->c.needs_reset = false;
    return p;
}

/* Runs one statement of a shared handle on the loop's pipeline (adhoc: planned for its
 * values, not prepared). NULL when the pipeline cannot take it now (the caller runs it on a
 * connection of its own); otherwise a new PGresult, as run() answers. */
static PGresult *pipe_exec(const char *sql, int nparams, const char *const *values, bool adhoc,
                           long deadline_ms)
{
    bool down = false;
    struct pipe *p;
    struct pitem it = {.f = fiber_self(), .prep_slot = -1};
    PGconn *pg;
    bool sent;
    int f;
    if (atomic_load(&pool.cancelling))
        return no_answer(NULL);
    if (!(p = pipe_ready(&down)))
        return down ? no_answer(NULL) : NULL;
    pg = p->c.pg;
    if (adhoc) {
        sent = PQsendQueryParams(pg, sql, nparams, NULL, values, NULL, NULL, 0) == 1;
    } else {
        size_t len;
        uint64_t h = fnv1a(sql, &len);
        char name[24];
        int i = 0;
        while (i < p->c.nprepared && !(p->c.prepared[i].hash == h && p->c.prepared[i].len == len))
            i++;
        if (i == p->c.nprepared && i < PREPARED_MAX) { /* Prepare then Execute, one sync */
            snprintf(name, sizeof name, "ll_%d", i);
            if (PQsendPrepare(pg, name, sql, nparams, NULL) != 1) {
                pipe_fail_all(p);
                return no_answer(NULL);
            }
            p->c.prepared[i].hash = h;
            p->c.prepared[i].len = len;
            p->c.nprepared++;
            it.prep_slot = i;
        }
        snprintf(name, sizeof name, "ll_%d", i);
        sent = i < PREPARED_MAX
                   ? PQsendQueryPrepared(pg, name, nparams, values, NULL, NULL, 0) == 1
                   : PQsendQueryParams(pg, sql, nparams, NULL, values, NULL, NULL, 0) == 1;
    }
    if (!sent || PQpipelineSync(pg) != 1) {
        /* a statement half queued leaves the pipeline out of step: start afresh */
        log_warn("database pipeline send failed: %s", PQerrorMessage(pg));
        pipe_fail_all(p);
        return no_answer(NULL);
    }
    if ((f = PQflush(pg)) < 0) {
        pipe_fail_all(p);
        return no_answer(NULL);
    }
    p->want_write = p->want_write || f == 1;
    atomic_fetch_add(&pool.pipelined, 1);
    if (deadline_ms <= 0)
        deadline_ms = pool.statement_ms;
    /* no statement timeout: no deadline either (0.5 s alone would cut every slow read) */
    it.deadline = deadline_ms > 0 ? deadline_in(deadline_ms + CANCEL_WAIT_MS) : 0;
    if (p->tail)
        p->tail->next = &it;
    else
        p->head = &it;
    p->tail = &it;
    while (!it.done) {
        if (p->head != &it) {
            fiber_park(0); /* the reader unparks it with its answer, or its turn to read */
            continue;
        }
        pipe_read(p, &it);
        if (p->head)
            fiber_unpark(p->head->f); /* the reader's turn passes on */
    }
    return it.res;
}

/* ---------------------------------------------------------------- shared handles */

enum ll_err db_acquire_shared(struct db_conn **out)
{
    struct db_conn *c;
    if (!fiber_in() || !atomic_load(&pool.pipelines))
        return db_acquire(out);
    if (!(c = malloc(sizeof *c)))
        return LL_E_UNAVAILABLE;
    c->nprepared = 0;
    c->pg = NULL;
    c->in_use = true;
    c->needs_reset = false;
    c->deadline_ms = pool.statement_ms;
    c->tx_depth = 0;
    c->conflicted = false;
    c->on_release = NULL;
    c->shared = true;
    c->bind_failed = false;
    c->bound = NULL;
    c->replica = false;
    c->no_fail_over = false;
    c->pinned = 0;
    c->tx_bound_ms = 0;
    c->tx_local = NULL; /* read by cur() users once a bind failed */
    *out = c;
    return LL_OK;
}

enum ll_err db_acquire_replica(struct db_conn **out, long wait_ms, bool fail_over)
{
    struct db_conn *c = NULL, *h;
    pthread_mutex_lock(&rpool.mu);
    for (long i = 0; i < rpool.size; i++) { /* prefer a slot already connected */
        struct db_conn *s = &rpool.conns[i];
        if (!s->in_use && (!c || (s->pg && !c->pg)))
            c = s;
    }
    if (c)
        c->in_use = true;
    pthread_mutex_unlock(&rpool.mu);
    if (!c)
        return LL_E_RATE_LIMITED;
    if (!conn_ready(c, deadline_in(wait_ms)) || !(h = malloc(sizeof *h))) {
        db_release(c);
        return LL_E_UNAVAILABLE;
    }
    c->deadline_ms = pool.statement_ms;
    *h = (struct db_conn){.in_use = true,
                          .deadline_ms = pool.statement_ms,
                          .shared = true,
                          .bound = c,
                          .no_fail_over = !fail_over};
    *out = h;
    return LL_OK;
}

unsigned long db_replica_fallbacks(void)
{
    return atomic_load(&rpool.fallbacks);
}

bool db_on_replica(const struct db_conn *c)
{
    return c && c->shared && c->bound && c->bound->replica;
}

/* The connection c's statements run on now: a shared handle's pool connection (NULL
 * while it has none), else c. */
static struct db_conn *cur(struct db_conn *c)
{
    return c->shared && c->bound ? c->bound : c;
}

/* The connection of c's own, taken from the pool for a shared handle on first need; a
 * handle that could get none answers itself, whose statements answer no_answer(). */
static struct db_conn *own(struct db_conn *c)
{
    if (!c->shared || c->bound || c->bind_failed)
        return cur(c);
    if (db_acquire_within(&c->bound, pool.acquire_ms, c->deadline_ms) != LL_OK) {
        c->bound = NULL;
        c->bind_failed = true;
        return c;
    }
    return c->bound;
}

static PGresult *after(struct db_conn *c, PGresult *res);

/* ---------------------------------------------------------------- serialization failures */

/* How often a transaction that met a serialization failure or a deadlock is run in all,
 * and the first wait before running it again (doubled each time, with jitter). */
#define RETRY_ATTEMPTS 3
#define RETRY_BASE_MS  10

/* 40001 serialization_failure, 40P01 deadlock_detected: the transaction lost a race that
 * running it again, once the other one ended, does not lose. */
static bool conflict(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s && (!strcmp(s, "40001") || !strcmp(s, "40P01"));
}

/* Waits before attempt `attempt` (2, 3, ...): between 1 and 2 times RETRY_BASE_MS doubled
 * per attempt, so that two transactions that met each other do not meet again in step. */
static void retry_pause(int attempt)
{
    uint64_t base_ns = (uint64_t)RETRY_BASE_MS * 1000000u << (attempt - 2);
    uint64_t ns = base_ns + util_now_ns() % base_ns; /* the clock's low digits as jitter */
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    atomic_fetch_add(&pool.retries, 1);
    if (fiber_in()) {
        fiber_sleep_until(util_now_ns() + ns);
        return;
    }
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* After attempt `attempt` of a statement outside a transaction answered res: true when it
 * met a conflict and may run again (res cleared, the pause waited), false to answer res. */
static bool rerun(PGresult *res, int attempt)
{
    if (attempt == RETRY_ATTEMPTS || !conflict(res))
        return false;
    log_info("database statement met a serialization failure or deadlock (%s); running it again",
             PQresultErrorField(res, PG_DIAG_SQLSTATE));
    PQclear(res);
    retry_pause(attempt + 1);
    return true;
}

/* Outside a transaction a statement is a transaction of its own: one that failed on a
 * conflict did nothing, so running it again is what its caller would do. Inside one, the
 * transaction's owner reruns it whole (db_tx_run). */
static PGresult *exec_retrying(struct db_conn *c, const struct stmt *adhoc, const char *sql,
                               int nparams, const char *const *values)
{
    PGresult *res;
    for (int attempt = 1;; attempt++) {
        res = adhoc ? run(c, adhoc, deadline_in(c->deadline_ms))
                    : exec_prepared(c, sql, nparams, values);
        res = after(c, res);
        if (c->tx_depth > 0 || !rerun(res, attempt))
            return res;
    }
}

/* A statement of a shared handle without a connection of its own: on the loop's pipeline,
 * run again on a conflict as exec_retrying does; on a pool connection of its own when the
 * pipeline cannot take it now. */
static PGresult *shared_exec(struct db_conn *c, const char *sql, int nparams,
                             const char *const *values, bool adhoc)
{
    for (int attempt = 1;; attempt++) {
        PGresult *res = c->bind_failed ? no_answer(NULL)
                                       : pipe_exec(sql, nparams, values, adhoc, c->deadline_ms);
        if (!res) {
            struct db_conn *o = own(c);
            if (o == c)
                return no_answer(NULL);
            return adhoc ? db_exec_adhoc(o, sql, nparams, values)
                         : db_exec(o, sql, nparams, values);
        }
        if (!rerun(res, attempt))
            return res;
    }
}

/* ---------------------------------------------------------------- replica fail-over */

/* Whether a replica statement's failure is the replica's: its connection is lost or
 * going (57P01-57P03), it met a conflict with recovery (40001, 40P01: on a read-only
 * standby nothing else makes one), or it tried to write (25006: a route marked for the
 * replica that writes, a bug, logged). The same read on the primary then answers. */
static bool replica_failed(struct db_conn *rc, const PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    const char *state;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return false;
    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state || !rc->pg || PQstatus(rc->pg) != CONNECTION_OK)
        return true;
    if (!strcmp(state, "25006"))
        log_warn("a statement of a route that reads from the replica writes (25006); it runs "
                 "on the primary");
    return !strncmp(state, "57P0", 4) || !strcmp(state, "40001") || !strcmp(state, "40P01") ||
           !strcmp(state, "25006");
}

/* Moves the replica handle h to a primary connection, with as many transaction levels
 * open as it had (the outermost with its bound), so that the caller's read goes on there.
 * The transaction's earlier statements read the replica's snapshot, later ones the
 * primary's: for a read, newer rows, never a 503 for want of the replica. False when no
 * primary connection comes (then h answers 503, as any request without one). */
static bool fail_over(struct db_conn *h)
{
    struct db_conn *rc = h->bound, *pc = NULL;
    int depth = rc->tx_depth;
    long bound_ms = rc->tx_bound_ms;
    if (h->no_fail_over || h->pinned)
        return false;
    atomic_fetch_add(&rpool.fallbacks, 1);
    log_warn("a read on the replica failed; it runs on the primary");
    db_release(rc);
    h->bound = NULL;
    if (db_acquire_within(&pc, pool.acquire_ms, h->deadline_ms) != LL_OK) {
        h->bind_failed = true;
        return false;
    }
    h->bound = pc;
    for (int d = 0; d < depth; d++)
        if ((d == 0 ? db_tx_begin_bounded(pc, bound_ms) : db_tx_begin(pc)) != LL_OK)
            return false;
    return true;
}

/* A statement of a replica handle: on the replica, and again on the primary when the
 * replica failed it. */
static PGresult *replica_exec(struct db_conn *h, const struct stmt *adhoc, const char *sql,
                              int nparams, const char *const *values)
{
    PGresult *res = exec_retrying(h->bound, adhoc, sql, nparams, values);
    if (!replica_failed(h->bound, res))
        return res;
    if (!fail_over(h))
        return h->bound ? res : (PQclear(res), no_answer(NULL));
    PQclear(res);
    return exec_retrying(h->bound, adhoc, sql, nparams, values);
}

/* On Citus, with a SET LOCAL to give (db_set_tx_local), a statement outside a transaction
 * runs in one of its own: BEGIN and the SET LOCAL, the statement, COMMIT (or ROLLBACK when
 * it failed). A failed COMMIT answers as a statement without answer (503). */
static PGresult *exec_in_tx(struct db_conn *c, const struct stmt *adhoc, const char *sql,
                            int nparams, const char *const *values)
{
    PGresult *res;
    if (db_tx_begin(c) != LL_OK)
        return no_answer(c);
    res = exec_retrying(c, adhoc, sql, nparams, values);
    if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK) {
        if (db_tx_commit(c) != LL_OK) {
            PQclear(res);
            res = no_answer(c);
        }
    } else {
        db_tx_rollback(c);
    }
    return res;
}

PGresult *db_exec(struct db_conn *c, const char *sql, int nparams, const char *const *values)
{
    if (c->shared && !c->bound)
        return shared_exec(c, sql, nparams, values, false);
    if (db_on_replica(c))
        return replica_exec(c, NULL, sql, nparams, values);
    c = cur(c);
    if (c->tx_local && c->tx_depth == 0)
        return exec_in_tx(c, NULL, sql, nparams, values);
    return exec_retrying(c, NULL, sql, nparams, values);
}

PGresult *db_exec_adhoc(struct db_conn *c, const char *sql, int nparams, const char *const *values)
{
    struct stmt s = {STMT_PARAMS, sql, NULL, nparams, values};
    if (c->shared && !c->bound)
        return shared_exec(c, sql, nparams, values, true);
    if (db_on_replica(c))
        return replica_exec(c, &s, sql, nparams, values);
    c = cur(c);
    if (c->tx_local && c->tx_depth == 0)
        return exec_in_tx(c, &s, NULL, 0, NULL);
    return exec_retrying(c, &s, NULL, 0, NULL);
}

void db_set_tx_local(struct db_conn *h, char *sql)
{
    struct db_conn *c = own(h);
    free(c->tx_local);
    c->tx_local = sql;
    /* a transaction already open gets it now */
    if (sql && c->tx_depth > 0 && !simple(c, sql))
        c->needs_reset = true;
}

enum ll_err db_tx_run(struct db_conn *h, enum ll_err (*fn)(struct db_conn *c, void *arg), void *arg)
{
    struct db_conn *c = own(h);
    bool outer = c->conflicted; /* a conflict of an enclosing transaction stays its own */
    enum ll_err err;
    h->pinned++; /* c stays h's connection until the end: a replica handle does not fail over */
    for (int attempt = 1;; attempt++) {
        bool last = attempt == RETRY_ATTEMPTS;
        c->conflicted = false;
        if ((err = db_tx_begin(c)) != LL_OK)
            break;
        err = fn(h, arg);
        /* A conflict the function got past (an item of a batch answered 409, say) still
         * reruns the whole: its answer would tell of a race that a rerun does not lose. */
        if (err == LL_OK && (!c->conflicted || last)) {
            err = db_tx_commit(c);
            break;
        }
        db_tx_rollback(c);
        if (!c->conflicted || last || !c->pg || c->needs_reset)
            break;
        log_info("database transaction met a serialization failure or deadlock; running it "
                 "again (attempt %d of %d)",
                 attempt + 1, RETRY_ATTEMPTS);
        retry_pause(attempt + 1);
    }
    c->conflicted = outer || (err != LL_OK && c->conflicted);
    h->pinned--;
    return err;
}

/* What every statement's result goes through: a lost connection is marked for reset; a
 * failure inside a savepoint undoes that savepoint's level at once. */
static PGresult *after(struct db_conn *c, PGresult *res)
{
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->needs_reset = true;
    } else if (c->tx_depth > 1 && PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
        /* Inside a savepoint, undo just the failed statement's level so that the caller
         * can still query (e.g. to name the row a unique violation collided with). */
        char sp[48];
        snprintf(sp, sizeof sp, "ROLLBACK TO SAVEPOINT ll_sp%d", c->tx_depth);
        simple(c, sp);
    }
    return res;
}

static enum ll_err tx_begin_bounded(struct db_conn *c, long timeout_ms);

/* A replica handle's BEGIN that failed on the replica: once more on the primary. */
static enum ll_err replica_begin(struct db_conn *h, long timeout_ms)
{
    enum ll_err err = tx_begin_bounded(h->bound, timeout_ms);
    if (err == LL_OK || !fail_over(h))
        return err;
    return tx_begin_bounded(h->bound, timeout_ms);
}

enum ll_err db_tx_begin(struct db_conn *c)
{
    char sql[48];
    if (db_on_replica(c))
        return replica_begin(c, 0);
    c = own(c);
    if (c->tx_depth == 0)
        c->tx_bound_ms = 0;
    if (c->tx_depth == 0)
        snprintf(sql, sizeof sql, "BEGIN");
    else
        snprintf(sql, sizeof sql, "SAVEPOINT ll_sp%d", c->tx_depth + 1);
    if (!simple(c, sql))
        return LL_E_UNAVAILABLE;
    c->tx_depth++;
    if (c->tx_depth == 1 && c->tx_local && !simple(c, c->tx_local)) {
        db_tx_rollback(c);
        return LL_E_UNAVAILABLE;
    }
    return LL_OK;
}

enum ll_err db_tx_begin_bounded(struct db_conn *c, long timeout_ms)
{
    if (db_on_replica(c))
        return replica_begin(c, timeout_ms);
    return tx_begin_bounded(c, timeout_ms);
}

static enum ll_err tx_begin_bounded(struct db_conn *c, long timeout_ms)
{
    char sql[96];
    if (timeout_ms <= 0)
        return db_tx_begin(c);
    c = own(c);
    if (c->tx_depth == 0)
        c->tx_bound_ms = timeout_ms;
    /* One round trip for both: a list pays it on every page. */
    if (c->tx_depth == 0)
        snprintf(sql, sizeof sql, "BEGIN; SET LOCAL statement_timeout = %ld", timeout_ms);
    else
        snprintf(sql, sizeof sql, "SAVEPOINT ll_sp%d; SET LOCAL statement_timeout = %ld",
                 c->tx_depth + 1, timeout_ms);
    if (!simple(c, sql)) {
        /* BEGIN may have worked and SET not (the connection broke between them): leave
         * no transaction behind that the caller does not know of. Nested, the caller's
         * own transaction fails and is rolled back by its owner. */
        if (c->tx_depth == 0 && c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE &&
            !simple(c, "ROLLBACK"))
            c->needs_reset = true;
        return LL_E_UNAVAILABLE;
    }
    c->tx_depth++;
    if (c->tx_depth == 1 && c->tx_local && !simple(c, c->tx_local)) {
        db_tx_rollback(c);
        return LL_E_UNAVAILABLE;
    }
    return LL_OK;
}

enum ll_err db_tx_commit(struct db_conn *c)
{
    char sql[48];
    bool ok;
    c = cur(c);
    if (c->tx_depth <= 0)
        return LL_OK;
    if (c->tx_depth == 1)
        snprintf(sql, sizeof sql, "COMMIT");
    else
        snprintf(sql, sizeof sql, "RELEASE SAVEPOINT ll_sp%d", c->tx_depth);
    /* COMMIT of a failed transaction "succeeds" as a rollback: check the state first. */
    ok = PQtransactionStatus(c->pg) == PQTRANS_INTRANS && simple(c, sql);
    if (!ok) {
        db_tx_rollback(c);
        return LL_E_UNAVAILABLE;
    }
    c->tx_depth--;
    return LL_OK;
}

void db_tx_rollback(struct db_conn *c)
{
    char sql[80];
    c = cur(c);
    if (c->tx_depth <= 0)
        return;
    if (c->tx_depth == 1)
        snprintf(sql, sizeof sql, "ROLLBACK");
    else
        snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT ll_sp%d; RELEASE SAVEPOINT ll_sp%d",
                 c->tx_depth, c->tx_depth);
    if (!simple(c, sql))
        c->needs_reset = true;
    c->tx_depth--;
}

enum ll_err db_tx_set(struct db_conn *c, const char *name, const char *value)
{
    const char *vals[2] = {name, value};
    PGresult *res = db_exec(c, "SELECT set_config($1, $2, true)", 2, vals);
    enum ll_err err = db_check(c, res);
    PQclear(res);
    return err;
}

void db_on_release(struct db_conn *c, const char *sql)
{
    own(c)->on_release = sql;
}

void db_tx_custom_plans(struct db_conn *c)
{
    simple(cur(c), "SET LOCAL plan_cache_mode = force_custom_plan");
}

int db_tx_depth(const struct db_conn *c)
{
    return c->shared && c->bound ? c->bound->tx_depth : c->tx_depth;
}

enum ll_err db_check(struct db_conn *c, const PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    const char *state;
    enum ll_err err;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return LL_OK;
    c = cur(c);
    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state || PQstatus(c->pg) != CONNECTION_OK)
        c->needs_reset = true;
    if (conflict(res))
        c->conflicted = true;
    /* Citus answers XX000 for a unique violation that INSERT ... SELECT met on a worker:
     * that one, and no other internal error, is the conflict it is */
    err = db_unique_violation(res) ? LL_E_CONFLICT : problem_from_sqlstate(state);
    if (err == LL_E_UNAVAILABLE || err == LL_E_INTERNAL) {
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        atomic_fetch_add(&pool.errors, 1);
        log_warn("database error %s: %s", state ? state : "(none)", msg ? msg : "connection lost");
    }
    return err;
}

const char *db_constraint_of(const char *field, const char *message, char *buf, size_t n)
{
    static const char quote[] = "constraint \"";
    const char *p, *end;
    size_t len;
    if (field) {
        snprintf(buf, n, "%s", field);
        return buf;
    }
    if (!message || !(p = strstr(message, quote)))
        return NULL;
    p += sizeof quote - 1;
    if (!(end = strchr(p, '"')) || end == p || (len = (size_t)(end - p)) >= n)
        return NULL;
    memcpy(buf, p, len);
    buf[len] = '\0';
    /* Citus: the shard's copy of the constraint, named with the shard's id after it */
    char *u = strrchr(buf, '_');
    if (u && u != buf && u[1] && strspn(u + 1, "0123456789") == strlen(u + 1))
        *u = '\0';
    return buf;
}

const char *db_constraint(const PGresult *res, char *buf, size_t n)
{
    if (!res || n == 0)
        return NULL;
    return db_constraint_of(PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME),
                            PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), buf, n);
}

bool db_unique_violation(const PGresult *res)
{
    static const char unique[] = "duplicate key value violates unique constraint \"";
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!s)
        return false;
    if (!strcmp(s, "23505"))
        return true;
    return !strcmp(s, "XX000") && msg && !strncmp(msg, unique, sizeof unique - 1);
}

void db_stats(struct db_stats *out)
{
    pthread_mutex_lock(&pool.mu);
    out->size = pool.size;
    out->in_use = pool.in_use;
    out->waiting = pool.waiting;
    pthread_mutex_unlock(&pool.mu);
    out->acquire_timeouts = atomic_load(&pool.timeouts);
    out->errors = atomic_load(&pool.errors);
    out->statements_late = atomic_load(&pool.late);
    out->connections_closed = atomic_load(&pool.closed);
    out->retries = atomic_load(&pool.retries);
    out->pipelined = atomic_load(&pool.pipelined);
    out->replica_fallbacks = atomic_load(&rpool.fallbacks);
}

json_t *db_json_text(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    return json_stringn(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

json_t *db_json_bool(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    return json_boolean(PQgetvalue(res, row, col)[0] == 't');
}

json_t *db_json_int(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    return json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

PGconn *db_pg(struct db_conn *c)
{
    return own(c)->pg;
}
