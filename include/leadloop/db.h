/* The bounded pool of libpq connections. A request takes one connection for its whole
 * life (auth and handler), and gives it back in the request-completed path. Connections
 * are opened lazily, reset when broken, and rolled back if left inside a transaction.
 * Every wait on PostgreSQL has a deadline: acquiring (connecting included) the acquire
 * timeout, each statement the statement timeout, after which it is cancelled and, when the
 * server does not answer the cancel, its connection closed (so a frozen server costs a
 * request a 503, never its thread). */
#ifndef LEADLOOP_DB_H
#define LEADLOOP_DB_H
#include <libpq-fe.h>
#include <stdbool.h>

#include "leadloop/problem.h"

struct db_conn;

/* A timestamptz column rendered as RFC 3339 UTC with microseconds (the API's format,
 * exact enough to be a keyset cursor). */
#define DB_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* The same for a RETURNING clause, and only there: an IMMUTABLE function
 * (sql/functions/10_basics.sql), since Citus refuses a write whose RETURNING calls a STABLE
 * one such as to_char. Not inlined, so about twice DB_TS's cost: keep DB_TS in select lists. */
#define DB_TS_RET(col) "ll_api_time_ret(" col ")"
/* A text[] column as a JSON array, in a RETURNING clause (to_json is STABLE). */
#define DB_TEXTS_RET(col) "ll_api_texts_ret(" col ")"

struct db_stats {
    long size, in_use, waiting;
    unsigned long acquire_timeouts, errors;
    unsigned long statements_late;    /* passed their client-side deadline */
    unsigned long connections_closed; /* closed for want of an answer, then connected again */
    unsigned long retries;            /* runs again after a serialization failure or deadlock */
    unsigned long pipelined;          /* statements sent on an event loop's pipelined connection */
    unsigned long replica_fallbacks;  /* replica reads that failed there and ran on the primary */
};

/* Sets up the pool (no connection is opened yet). conninfo is copied. statement_timeout_ms
 * is PostgreSQL's statement_timeout and each statement's client-side deadline (0: none). */
bool db_init(const char *conninfo, long size, long acquire_timeout_ms, long statement_timeout_ms)
    __attribute__((warn_unused_result));
/* Closes every connection. No request may hold one. */
void db_shutdown(void);
/* Shutdown: every statement in flight, and every later one, gives up at once (each asks
 * PostgreSQL to cancel its own, waiting a bounded time for the answer). Any thread. */
void db_cancel_all(void);

/* Takes a connection, waiting (and connecting) at most the acquire timeout.
 * LL_E_UNAVAILABLE when none came free in time or the database cannot be reached. *out is
 * borrowed from the pool until db_release. */
enum ll_err db_acquire(struct db_conn **out) __attribute__((warn_unused_result));
/* The same with a wait of its own, and statement_ms as this borrow's client-side deadline
 * per statement (the server's statement_timeout stays): for a probe that must answer
 * quickly whatever the database does. */
enum ll_err db_acquire_within(struct db_conn **out, long wait_ms, long statement_ms)
    __attribute__((warn_unused_result));
/* For a request of a few short statements that need no transaction and no session state
 * (a point read): on an event loop's fiber (with db_pipelines on), a handle without a
 * connection of its own, whose statements go out on the loop's pipelined connection
 * together with those of the loop's other requests (libpq pipeline mode, a sync after each
 * statement so that each stays a transaction of its own). The first call that needs a
 * connection of its own (a transaction, db_on_release, db_pg) takes one from the pool for
 * the rest of the borrow, waiting as db_acquire does; when none comes, that call and every
 * later statement fail as on a lost connection (LL_E_UNAVAILABLE). Off a loop, or with
 * pipelines off: db_acquire. Never waits itself. Given back with db_release. */
enum ll_err db_acquire_shared(struct db_conn **out) __attribute__((warn_unused_result));
/* The replica pool (DATABASE_READ_URL): size connections to a streaming replica, opened
 * lazily, with the pool's statement settings. conninfo is copied. Before any thread. */
bool db_replica_init(const char *conninfo, long size) __attribute__((warn_unused_result));
/* A handle on a connection to the replica, never waiting for one: LL_E_RATE_LIMITED when
 * every replica slot is taken, LL_E_UNAVAILABLE when the replica cannot be reached within
 * wait_ms. Only for
 * reads. With fail_over, a statement (or BEGIN) the replica fails (connection lost, the
 * replica shutting down, a conflict with recovery, a write) runs again on a primary
 * connection that the handle takes for the rest of the borrow (its open transaction levels
 * opened there again): the request never fails for the replica's sake. Without (a probe),
 * the replica's failures are answered. Given back with db_release. */
enum ll_err db_acquire_replica(struct db_conn **out, long wait_ms, bool fail_over)
    __attribute__((warn_unused_result));
/* True when c's statements go to the replica now (false once it failed over). */
bool db_on_replica(const struct db_conn *c);
/* Replica reads that failed there and ran on the primary, so far. */
unsigned long db_replica_fallbacks(void);
/* Turns the pipelined connections on or off (the daemon's LEADLOOP_DB_PIPELINE). */
void db_pipelines(bool on);
/* On an event-loop thread whose loop has ended: closes its pipelined connection. */
void db_loop_done(void);
/* Sets the client-side deadline of c's next statements, for the rest of this borrow
 * (ms; 0: none): for the rare statement that must run longer than the pool's timeout, with
 * a server-side bound of its own (db_tx_begin_bounded). */
void db_set_deadline(struct db_conn *c, long ms);
/* Gives it back; NULL is fine. Rolls back an open transaction and runs the statement of
 * db_on_release. */
void db_release(struct db_conn *c);
/* For session state that one request sets on its connection (audit.c's context): sql (a
 * constant without parameters, borrowed for good) runs when c is released, after any
 * rollback and before the next request gets c. If it fails, c is reset (a new session).
 * The latest call wins. */
void db_on_release(struct db_conn *c, const char *sql);

/* Citus (docs/SCALING.md): whether the database is a Citus coordinator, found once at the
 * start on a connection of the daemon's (db_detect_citus, which also answers it). There a
 * session setting does not reach the workers, whose triggers read the audit context: it
 * goes with each write transaction as a SET LOCAL, which Citus passes on. */
bool db_detect_citus(PGconn *pg);
bool db_citus(void);
/* sql (a SET LOCAL; c owns it from now on; NULL: none) runs after the BEGIN of each of c's
 * outermost transactions for the rest of this borrow, and a statement outside one runs in
 * a transaction of its own with it. Used on Citus only: it costs each statement three
 * round trips more. */
void db_set_tx_local(struct db_conn *c, char *sql);

/* Runs one parameterised statement (text format). Returns a new PGresult (PQclear it),
 * or NULL when out of memory. A failure on a lost connection marks it for reset. A
 * statement past its deadline, or on a connection already closed, answers a failure
 * without SQLSTATE, which db_check maps to LL_E_UNAVAILABLE. Outside a transaction, a
 * statement that fails on a serialization failure or deadlock (40001, 40P01) is run again,
 * up to 3 times in all with a jittered pause; inside one, db_tx_run reruns the whole. */
PGresult *db_exec(struct db_conn *c, const char *sql, int nparams, const char *const *values)
    __attribute__((warn_unused_result));

/* Transactions that nest: the outermost is BEGIN/COMMIT, inner ones are savepoints, so a
 * handler can use them the same whether or not an Idempotency-Key wraps it in a
 * transaction of its own. Inside a savepoint, a failed statement is undone at once (the
 * connection stays usable); the caller still decides to roll back or go on. A failed
 * commit rolls back and answers LL_E_UNAVAILABLE. */
enum ll_err db_tx_begin(struct db_conn *c) __attribute__((warn_unused_result));
/* The same, and its statements are cancelled after timeout_ms (SET LOCAL statement_timeout:
 * 57014, LL_E_UNAVAILABLE) until the outermost transaction ends, when the connection's own
 * timeout comes back; a savepoint rolled back to restores it at once. For a statement that
 * must be bounded tighter than the pool's timeout without leaking that bound to the pooled
 * connection's next user. timeout_ms <= 0: db_tx_begin. */
enum ll_err db_tx_begin_bounded(struct db_conn *c, long timeout_ms)
    __attribute__((warn_unused_result));
enum ll_err db_tx_commit(struct db_conn *c) __attribute__((warn_unused_result));
void db_tx_rollback(struct db_conn *c);
/* Runs fn(c, arg) in a transaction (a savepoint when nested) and commits it when fn
 * answers LL_OK. When a statement in it met a serialization failure or a deadlock (40001,
 * 40P01; db_check notes it), the transaction is rolled back and run again, up to 3 times
 * in all, after a jittered pause: the promise of DESIGN section 3 ("serialization failure
 * retried"). fn must therefore be rerunnable: it writes only through c and keeps what it
 * found in arg for the caller to answer with afterwards, resetting it on each run. The
 * last run's outcome is returned (a conflict still unresolved: db_check's LL_E_CONFLICT). */
enum ll_err db_tx_run(struct db_conn *c, enum ll_err (*fn)(struct db_conn *c, void *arg), void *arg)
    __attribute__((warn_unused_result));
int db_tx_depth(const struct db_conn *c);
/* Sets a setting for the rest of the transaction (SET LOCAL, with parameters). */
enum ll_err db_tx_set(struct db_conn *c, const char *name, const char *value)
    __attribute__((warn_unused_result));
/* For the rest of the transaction, plan every statement for its values. Bulk writes need
 * it: the foreign-key checks' cached plans, made while a table was small, scan it whole
 * as it grows, and an import of 100,000 rows took 85 s instead of 8. */
void db_tx_custom_plans(struct db_conn *c);

/* The same, planned for the values at hand and not kept prepared: for statements over a
 * whole batch (jsonb_to_recordset of 1,000 rows), whose generic plan PostgreSQL would
 * otherwise pick after five runs guessing the row count: that made an import of 100,000
 * rows take 85 s instead of 8. */
PGresult *db_exec_adhoc(struct db_conn *c, const char *sql, int nparams, const char *const *values)
    __attribute__((warn_unused_result));

/* LL_OK when res is a success; otherwise counts a database error, logs the SQLSTATE
 * and maps it (and notes a serialization failure or deadlock for db_tx_run). res is
 * borrowed. */
enum ll_err db_check(struct db_conn *c, const PGresult *res) __attribute__((warn_unused_result));

/* The constraint an error names, as the schema names it, copied into buf (n bytes): the
 * CONSTRAINT NAME field when PostgreSQL sends it; else (Citus sends none, and names the
 * shard's constraint in the message: "leads_email_key_102013") the name quoted after
 * "constraint" in the primary message, its shard suffix "_<digits>" cut. NULL when the
 * error names none (or res is NULL). */
const char *db_constraint(const PGresult *res, char *buf, size_t n);
/* The same from the two fields' text (either may be NULL): for db_constraint and tests. */
const char *db_constraint_of(const char *field, const char *message, char *buf, size_t n);
/* Whether res failed on a unique violation: SQLSTATE 23505, or XX000 with PostgreSQL's
 * unique-violation message (what Citus answers for one met by INSERT ... SELECT). */
bool db_unique_violation(const PGresult *res);

/* Opens a standalone connection with the pool's settings (for commands and migrations);
 * NULL with a message in err on failure. Caller PQfinish()es it. */
PGconn *db_connect_once(const char *conninfo, char *err, size_t errlen);

void db_stats(struct db_stats *out);

#include <jansson.h>
/* The value at (row, col) as a JSON string, or JSON null for SQL NULL. New reference. */
json_t *db_json_text(const PGresult *res, int row, int col);
/* 't' -> true. */
json_t *db_json_bool(const PGresult *res, int row, int col);
/* An integer column; new reference. */
json_t *db_json_int(const PGresult *res, int row, int col);
/* The raw connection, for code shared with the command line. Borrowed; NULL when the
 * connection was closed. Statements run on it directly block, with no deadline. */
PGconn *db_pg(struct db_conn *c);
#endif
