/* The audit log's part in the daemon: the context the audit triggers of sql/0009_audit.sql
 * read (who writes, through which request), the redaction an erasure makes, and the
 * retention janitor. The triggers write the rows themselves, so that no write path (a
 * handler, a batch, an import, an operator's SQL) can forget one, and each row is in the
 * transaction of its write. */
#include "leadloop/audit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/db.h"
#include "leadloop/log.h"
#include "leadloop/request.h"
#include "leadloop/router.h"
#include "leadloop/janitor.h"

/* For the session: set outside any transaction, a request's rollback leaves it, and it
 * covers the statements a handler runs without one. db_release runs the RESET. */
static const char sql_set[] = "SELECT set_config('leadloop.audit', $1, false)";
static const char sql_reset[] = "RESET leadloop.audit";
static const char sql_redact[] = "SELECT ll_audit_redact_lead($1, $2)";

#define WRITE_METHODS (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE)

char *audit_set_local(const char *ctx)
{
    static const char head[] = "SET LOCAL leadloop.audit = '";
    size_t n = strlen(ctx), q = 0;
    char *sql, *o;
    for (size_t i = 0; i < n; i++)
        q += ctx[i] == '\'';
    if (!(sql = malloc(sizeof head + n + q + 1)))
        return NULL;
    o = sql + strlen(head);
    memcpy(sql, head, strlen(head));
    for (size_t i = 0; i < n; i++) { /* standard_conforming_strings: only ' is special */
        if (ctx[i] == '\'')
            *o++ = '\'';
        *o++ = ctx[i];
    }
    *o++ = '\'';
    *o = '\0';
    return sql;
}

bool audit_attach(struct request *r)
{
    json_t *ctx;
    char *text;
    PGresult *res = NULL;
    enum ll_err err = LL_E_INTERNAL;
    if (!r->db || !r->authed || !r->route || !(r->method & WRITE_METHODS))
        return false;
    if (r->auth.key_id[0])
        ctx = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s?, s:s, s:s}", "actor", "api_key",
                        "api_key_id", r->auth.key_id, "api_key_prefix", r->auth.key_prefix,
                        "user_id", r->auth.user_id[0] ? r->auth.user_id : NULL, "request_id",
                        r->request_id, "client_addr", r->client_addr[0] ? r->client_addr : NULL,
                        "method", r->method_name, "route", r->route->pattern);
    else /* a person in a session: no key */
        ctx = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s}", "actor", "user", "user_id",
                        r->auth.user_id, "request_id", r->request_id, "client_addr",
                        r->client_addr[0] ? r->client_addr : NULL, "method", r->method_name,
                        "route", r->route->pattern);
    text = ctx ? json_dumps(ctx, JSON_COMPACT) : NULL;
    json_decref(ctx);
    if (text && db_citus()) {
        char *set = audit_set_local(text);
        free(text);
        if (!set) {
            reply_db_error(r, LL_E_INTERNAL);
            return true;
        }
        db_set_tx_local(r->db, set);
        return false;
    }
    if (text) {
        const char *vals[1] = {text};
        /* first: whatever the statement did to the session, the release undoes */
        db_on_release(r->db, sql_reset);
        res = db_exec(r->db, sql_set, 1, vals);
        err = db_check(r->db, res);
    }
    PQclear(res);
    free(text);
    if (err == LL_OK)
        return false;
    reply_db_error(r, err); /* unrecorded writes are refused, not misattributed */
    return true;
}

enum ll_err audit_user_local(struct db_conn *db, const char *user_id, const char *request_id,
                             const char *route)
{
    static const char sql_set_local[] = "SELECT set_config('leadloop.audit', $1, true)";
    json_t *ctx = json_pack("{s:s, s:s, s:s, s:s}", "actor", "user", "user_id", user_id,
                            "request_id", request_id, "route", route);
    char *text = ctx ? json_dumps(ctx, JSON_COMPACT) : NULL;
    enum ll_err err = LL_E_INTERNAL;
    if (text && db_citus()) { /* a SET LOCAL statement, which Citus passes on */
        char *set = audit_set_local(text);
        PGresult *res = set ? db_exec_adhoc(db, set, 0, NULL) : NULL;
        err = res ? db_check(db, res) : LL_E_INTERNAL;
        PQclear(res);
        free(set);
    } else if (text) {
        const char *vals[1] = {text};
        PGresult *res = db_exec(db, sql_set_local, 1, vals);
        err = db_check(db, res);
        PQclear(res);
    }
    free(text);
    json_decref(ctx);
    return err;
}

bool audit_cli(PGconn *pg, const char *command)
{
    json_t *ctx = json_pack("{s:s, s:s}", "actor", "cli", "route", command);
    char *text = ctx ? json_dumps(ctx, JSON_COMPACT) : NULL;
    const char *vals[1] = {text};
    PGresult *res = text ? PQexecParams(pg, sql_set, 1, NULL, vals, NULL, NULL, 0) : NULL;
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    free(text);
    json_decref(ctx);
    return ok;
}

bool audit_cli_begin(PGconn *pg, const char *command)
{
    json_t *ctx;
    char *text, *set;
    PGresult *res;
    bool ok;
    if (!db_detect_citus(pg))
        return audit_cli(pg, command);
    ctx = json_pack("{s:s, s:s}", "actor", "cli", "route", command);
    text = ctx ? json_dumps(ctx, JSON_COMPACT) : NULL;
    set = text ? audit_set_local(text) : NULL;
    json_decref(ctx);
    free(text);
    if (!set)
        return false;
    PQclear(PQexec(pg, "BEGIN"));
    res = PQexec(pg, set);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    free(set);
    return ok;
}

bool audit_cli_end(PGconn *pg, bool commit)
{
    PGresult *res;
    bool ok;
    if (PQtransactionStatus(pg) == PQTRANS_IDLE)
        return true;
    if (PQtransactionStatus(pg) != PQTRANS_INTRANS)
        commit = false;
    res = PQexec(pg, commit ? "COMMIT" : "ROLLBACK");
    ok = commit && PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok;
}

enum ll_err audit_redact_lead(struct db_conn *db, const char *workspace_id, const char *lead_id)
{
    const char *vals[2] = {workspace_id, lead_id};
    PGresult *res = db_exec(db, sql_redact, 2, vals);
    enum ll_err err = db_check(db, res);
    PQclear(res);
    return err;
}

/* ------------------------------------------------------------------ retention */

/* Rows per DELETE: each statement is its own short transaction, so a backlog (a lowered
 * retention, a long-stopped daemon) never holds locks or a snapshot for long. */
#define PURGE_BATCH "5000"

static const char sql_workspaces[] = "SELECT id FROM workspaces ORDER BY id";
/* One workspace at a time: each statement stays on one workspace's rows (one node on
 * Citus), the oldest first, found through the key (workspace_id, created_at, id). */
/* The batch's last row: the PURGE_BATCH-th oldest expired one (none: fewer remain). */
static const char sql_purge_bound[] = "SELECT created_at, id FROM audit_log WHERE workspace_id = $1"
                                      " AND created_at < now() - make_interval(days => $2::integer)"
                                      " ORDER BY created_at, id OFFSET " PURGE_BATCH " - 1 LIMIT 1";
/* Up to that row, as a range of the key: no plan can make it more than that range. */
static const char sql_purge_upto[] =
    "DELETE FROM audit_log WHERE workspace_id = $1 AND (created_at, id) <= ($3::timestamptz,"
    " $4::uuid) AND created_at < now() - make_interval(days => $2::integer)";
/* The last, smaller batch. */
static const char sql_purge_rest[] = "DELETE FROM audit_log WHERE workspace_id = $1"
                                     " AND created_at < now() - make_interval(days => $2::integer)";

static struct janitor janitor;
static char retention[24];

/* Deletes the expired rows of one workspace, batch by batch, and says how many. False
 * when a statement failed. */
static bool purge_workspace(PGconn *pg, const char *workspace_id)
{
    const char *vals[4] = {workspace_id, retention, NULL, NULL};
    long n = 0, deleted = 0, statements = 0;
    bool ok = true, last = false;
    do {
        PGresult *bound = PQexecParams(pg, sql_purge_bound, 2, NULL, vals, NULL, NULL, 0), *res;
        ok = PQresultStatus(bound) == PGRES_TUPLES_OK;
        if (ok) {
            last = PQntuples(bound) == 0;
            if (!last) {
                vals[2] = PQgetvalue(bound, 0, 0);
                vals[3] = PQgetvalue(bound, 0, 1);
            }
            res = PQexecParams(pg, last ? sql_purge_rest : sql_purge_upto, last ? 2 : 4, NULL, vals,
                               NULL, NULL, 0);
            ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        } else {
            res = NULL;
        }
        if (!ok)
            log_warn("audit janitor: %s", PQresultErrorField(res ? res : bound, PG_DIAG_SQLSTATE));
        n = ok ? atol(PQcmdTuples(res)) : 0;
        PQclear(res);
        PQclear(bound);
        deleted += n;
        statements += n > 0;
    } while (ok && !last && !janitor_stopping(&janitor));
    if (deleted > 0)
        log_info("audit janitor: deleted %ld rows older than %s days in %ld statements"
                 " (workspace %s)",
                 deleted, retention, statements, workspace_id);
    return ok;
}

static void purge(struct janitor *j, PGconn *pg)
{
    PGresult *ws = PQexec(pg, sql_workspaces);
    if (PQresultStatus(ws) != PGRES_TUPLES_OK)
        log_warn("audit janitor: %s", PQresultErrorField(ws, PG_DIAG_SQLSTATE));
    else
        for (int i = 0; i < PQntuples(ws) && !janitor_stopping(j); i++)
            if (!purge_workspace(pg, PQgetvalue(ws, i, 0)))
                break;
    PQclear(ws);
}

bool audit_janitor_start(const char *conninfo, long retention_days, long interval_s)
{
    snprintf(retention, sizeof retention, "%ld", retention_days);
    return janitor_start(&janitor, "audit janitor", conninfo, interval_s, purge);
}

void audit_janitor_stop(void)
{
    janitor_stop(&janitor);
}
