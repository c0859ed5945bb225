/* The bounded libpq pool. Slots are handed out under a mutex; connecting, resetting and
 * querying happen outside it. A connection is checked cheaply on every acquire (did the
 * server close it?) so that a restarted PostgreSQL costs no failed request. */
#include "leadloop/db.h"

#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

struct db_conn {
    struct prepared prepared[PREPARED_MAX];
    int nprepared;
    PGconn *pg;
    PGcancel *cancel; /* replaced under pool.mu, used by db_cancel_all */
    bool in_use;
    bool needs_reset;
    int tx_depth;           /* 0: autocommit; 1: BEGIN; n > 1: savepoint ll_sp<n> inside */
    const char *on_release; /* undoes session state set for one request (db_on_release) */
};

static struct {
    pthread_mutex_t mu;
    struct db_conn *conns;
    long size, in_use, waiting;
    char *conninfo;
    long acquire_ms, statement_ms;
    atomic_ulong timeouts, errors;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void notice_quiet(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

/* Session settings every connection gets, after each (re)connect. */
static bool conn_setup(PGconn *pg, char *err, size_t errlen)
{
    char sql[128];
    PGresult *res;
    bool ok;
    PQsetNoticeReceiver(pg, notice_quiet, NULL);
    snprintf(sql, sizeof sql,
             "SET statement_timeout = %ld; SET TIME ZONE 'UTC'; SET application_name = 'leadloopd'",
             pool.statement_ms);
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

    pool.size = size;
    pool.acquire_ms = acquire_ms;
    pool.statement_ms = statement_ms;
    return true;
}

void db_shutdown(void)
{
    for (long i = 0; i < pool.size; i++) {
        PQfreeCancel(pool.conns[i].cancel);
        PQfinish(pool.conns[i].pg);
    }
    free(pool.conns);
    free(pool.conninfo);
    pool.conns = NULL;
    pool.conninfo = NULL;
    pool.size = 0;
}

void db_cancel_all(void)
{
    char errbuf[256];
    pthread_mutex_lock(&pool.mu);
    for (long i = 0; i < pool.size; i++) {
        if (pool.conns[i].in_use && pool.conns[i].cancel)
            PQcancel(pool.conns[i].cancel, errbuf, sizeof errbuf);
    }
    pthread_mutex_unlock(&pool.mu);
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

static void set_cancel(struct db_conn *c)
{
    PGcancel *fresh = c->pg ? PQgetCancel(c->pg) : NULL;
    pthread_mutex_lock(&pool.mu);
    PGcancel *old = c->cancel;
    c->cancel = fresh;
    pthread_mutex_unlock(&pool.mu);
    PQfreeCancel(old);
}

/* Makes c usable: connects, or resets a broken connection once. */
static bool conn_ready(struct db_conn *c)
{
    char err[512];
    if (c->pg && !c->needs_reset && !idle_conn_dead(c->pg))
        return true;
    if (c->pg) {
        PQreset(c->pg);
        if (PQstatus(c->pg) != CONNECTION_OK || !conn_setup(c->pg, err, sizeof err)) {
            c->needs_reset = true;
            log_warn("database connection reset failed");
            return false;
        }
        log_info("database connection re-established");
    } else {
        c->pg = db_connect_once(pool.conninfo, err, sizeof err);
        if (!c->pg) {
            log_warn("database connection failed: %s", err);
            return false;
        }
    }
    c->needs_reset = false;
    c->nprepared = 0; /* a new session has none */
    set_cancel(c);
    return true;
}

/* A request waiting for a connection. Waiters queue in arrival order and a released
 * connection is handed straight to the oldest one: a newcomer can never take it first,
 * which kept early waiters waiting for hundreds of milliseconds under load. */
struct waiter {
    pthread_cond_t cv;
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
    struct timespec deadline;
    struct db_conn *c = NULL;
    util_deadline(&deadline, pool.acquire_ms);
    pthread_mutex_lock(&pool.mu);
    if (pool.in_use < pool.size && !queue_head) {
        /* Prefer a slot that is already connected. */
        for (long i = 0; i < pool.size; i++) {
            struct db_conn *s = &pool.conns[i];
            if (!s->in_use && (!c || (s->pg && !c->pg)))
                c = s;
        }
        c->in_use = true;
        pool.in_use++;
    } else {
        struct waiter w = {.conn = NULL, .next = NULL};
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
            if (pthread_cond_timedwait(&w.cv, &pool.mu, &deadline) == ETIMEDOUT && !w.conn) {
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
        return LL_E_UNAVAILABLE;
    }
    if (!conn_ready(c)) {
        atomic_fetch_add(&pool.errors, 1);
        db_release(c);
        return LL_E_UNAVAILABLE;
    }
    *out = c;
    return LL_OK;
}

static bool simple(struct db_conn *c, const char *sql);

void db_release(struct db_conn *c)
{
    if (!c)
        return;
    if (c->pg && !c->needs_reset) {
        PGTransactionStatusType ts = PQtransactionStatus(c->pg);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            PGresult *res = PQexec(c->pg, "ROLLBACK");
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
    c->tx_depth = 0;
    pthread_mutex_lock(&pool.mu);
    if (queue_head) { /* straight to the oldest waiter, still in use */
        struct waiter *w = queue_head;
        queue_head = w->next;
        if (!queue_head)
            queue_tail = NULL;
        w->conn = c;
        pthread_cond_signal(&w->cv);
    } else {
        c->in_use = false;
        pool.in_use--;
    }
    pthread_mutex_unlock(&pool.mu);
}

static bool simple(struct db_conn *c, const char *sql)
{
    PGresult *res = PQexec(c->pg, sql);
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
    char name[24];
    for (int i = 0; i < c->nprepared; i++) {
        if (c->prepared[i].hash == h && c->prepared[i].len == len) {
            snprintf(name, sizeof name, "ll_%d", i);
            return PQexecPrepared(c->pg, name, nparams, values, NULL, NULL, 0);
        }
    }
    if (c->nprepared < PREPARED_MAX && PQtransactionStatus(c->pg) != PQTRANS_INERROR) {
        PGresult *prep;
        snprintf(name, sizeof name, "ll_%d", c->nprepared);
        prep = PQprepare(c->pg, name, sql, nparams, NULL);
        bool ok = PQresultStatus(prep) == PGRES_COMMAND_OK;
        PQclear(prep);
        if (ok) {
            c->prepared[c->nprepared].hash = h;
            c->prepared[c->nprepared].len = len;
            c->nprepared++;
            return PQexecPrepared(c->pg, name, nparams, values, NULL, NULL, 0);
        }
        /* Could not prepare (an error in the statement, or the transaction failed under
         * it): running it plainly reports the error the usual way. */
        if (PQtransactionStatus(c->pg) == PQTRANS_INERROR)
            return PQexecParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0);
    }
    return PQexecParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0);
}

static PGresult *after(struct db_conn *c, PGresult *res);

PGresult *db_exec(struct db_conn *c, const char *sql, int nparams, const char *const *values)
{
    return after(c, exec_prepared(c, sql, nparams, values));
}

PGresult *db_exec_adhoc(struct db_conn *c, const char *sql, int nparams, const char *const *values)
{
    return after(c, PQexecParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0));
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

enum ll_err db_tx_begin(struct db_conn *c)
{
    char sql[48];
    if (c->tx_depth == 0)
        snprintf(sql, sizeof sql, "BEGIN");
    else
        snprintf(sql, sizeof sql, "SAVEPOINT ll_sp%d", c->tx_depth + 1);
    if (!simple(c, sql))
        return LL_E_UNAVAILABLE;
    c->tx_depth++;
    return LL_OK;
}

enum ll_err db_tx_commit(struct db_conn *c)
{
    char sql[48];
    bool ok;
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

void db_on_release(struct db_conn *c, const char *sql)
{
    c->on_release = sql;
}

void db_tx_custom_plans(struct db_conn *c)
{
    simple(c, "SET LOCAL plan_cache_mode = force_custom_plan");
}

int db_tx_depth(const struct db_conn *c)
{
    return c->tx_depth;
}

enum ll_err db_check(struct db_conn *c, const PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    const char *state;
    enum ll_err err;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return LL_OK;
    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state || PQstatus(c->pg) != CONNECTION_OK)
        c->needs_reset = true;
    err = problem_from_sqlstate(state);
    if (err == LL_E_UNAVAILABLE || err == LL_E_INTERNAL) {
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        atomic_fetch_add(&pool.errors, 1);
        log_warn("database error %s: %s", state ? state : "(none)", msg ? msg : "connection lost");
    }
    return err;
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
    return c->pg;
}
