/* The audit log's part in the daemon. The rows are written by the database's audit
 * triggers (sql/0009_audit.sql) in the transaction of each write; the daemon tells them who
 * writes and through which request, removes an erased lead's values from the log, and
 * deletes rows past their retention. GET /v1/audit is in audit_log.h. */
#ifndef LEADLOOP_AUDIT_H
#define LEADLOOP_AUDIT_H
#include <libpq-fe.h>
#include <stdbool.h>

#include "leadloop/problem.h"

struct request;
struct db_conn;

/* The request stage before the handler: for a request that may write (POST, PUT, PATCH,
 * DELETE) with a key or a session and a connection, sets the connection's audit context
 * (actor api_key with the key, its prefix and user, or actor user with the person, request id,
 * client address, method, route pattern) for the audit triggers; the connection's release clears
 * it. Returns true when it answered (the database failed: 503), false to go on. */
bool audit_attach(struct request *r) __attribute__((warn_unused_result));

/* Inside a transaction on db: its writes are recorded as those of the signed-in person
 * user_id (actor `user`), through request request_id and route (for a request that knows
 * its person only once inside, like accepting an invitation). Ends with the transaction. */
enum ll_err audit_user_local(struct db_conn *db, const char *user_id, const char *request_id,
                             const char *route) __attribute__((warn_unused_result));

/* The same for a leadloopd command on its own connection: its writes are recorded with the
 * actor `cli` and the command's name (e.g. "keys create") as the route. */
bool audit_cli(PGconn *pg, const char *command) __attribute__((warn_unused_result));
/* The same for a command whose writes then form one transaction on Citus (BEGIN and a
 * SET LOCAL of the context: a session setting does not reach Citus' workers); the command
 * ends it with audit_cli_end (COMMIT when commit and nothing failed, else ROLLBACK; true
 * when committed, or when there was no transaction: plain PostgreSQL). */
bool audit_cli_begin(PGconn *pg, const char *command) __attribute__((warn_unused_result));
bool audit_cli_end(PGconn *pg, bool commit);
/* "SET LOCAL leadloop.audit = '<ctx>'" (malloc'd), or NULL when out of memory. */
char *audit_set_local(const char *ctx);

/* In the erasure's transaction, after the lead's values are gone: the same values leave
 * the audit log (ll_audit_redact_lead). */
enum ll_err audit_redact_lead(struct db_conn *db, const char *workspace_id, const char *lead_id)
    __attribute__((warn_unused_result));

/* The retention janitor: every interval_s, deletes the rows older than retention_days, a
 * bounded batch per statement and workspace, on a connection of its own. */
bool audit_janitor_start(const char *conninfo, long retention_days, long interval_s)
    __attribute__((warn_unused_result));
void audit_janitor_stop(void);

#endif
