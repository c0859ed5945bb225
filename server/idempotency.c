/* Idempotency-Key. The record of an answer is written in the transaction of the write it
 * answers, so a client never sees a committed write without its record, or the reverse.
 * A transaction-scoped advisory lock on the key tells a retry that races the first try
 * (409) from one that comes after it (replay). */
#include "leadloop/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/db.h"
#include "leadloop/log.h"
#include "leadloop/request.h"
#include "leadloop/janitor.h"
#include "leadloop/util.h"

static const char sql_lock[] =
    "SELECT pg_try_advisory_xact_lock(hashtextextended($1 || '/' || $2 || '/' || $3, 0))";
static const char sql_find[] =
    "SELECT request_hash, status, content_type, location, etag, body FROM idempotency_keys"
    " WHERE workspace_id = $1 AND api_key_id = $2 AND key = $3"
    " AND created_at > now() - interval '24 hours'";
static const char sql_store[] =
    "INSERT INTO idempotency_keys (workspace_id, api_key_id, key, request_hash, status,"
    " content_type, location, etag, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    " ON CONFLICT (workspace_id, api_key_id, key) DO UPDATE SET request_hash = $4, status = $5,"
    " content_type = $6, location = $7, etag = $8, body = $9, created_at = excluded.created_at";
/* Withdraws the answers that show lead $2 (see idem_forget_lead); the LIKE is the partial
 * index's predicate, written the same so that the index serves. */
static const char sql_forget_lead[] =
    "UPDATE idempotency_keys SET request_hash = NULL, status = 410, content_type = NULL,"
    " location = NULL, etag = NULL, body = '' WHERE workspace_id = $1"
    " AND location LIKE '/v1/leads/%' AND split_part(location, '/', 4) = $2";
/* The janitor's, a workspace at a time (janitor_each_workspace): the workspaces with
 * expired rows (their age indexes), then each one's, 5,000 a statement. */
#define PURGE_BATCH 5000
static const char sql_purge_due[] =
    "SELECT workspace_id FROM idempotency_keys WHERE created_at < now() - interval '24 hours'"
    " UNION SELECT workspace_id FROM idempotency_progress"
    " WHERE created_at < now() - interval '24 hours'";
static const char sql_purge[] =
    "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND (api_key_id, key) IN ("
    " SELECT api_key_id, key FROM idempotency_keys WHERE workspace_id = $1"
    " AND created_at < now() - interval '24 hours' LIMIT 5000)";
static const char sql_purge_progress[] =
    "DELETE FROM idempotency_progress WHERE workspace_id = $1 AND (principal, key) IN ("
    " SELECT principal, key FROM idempotency_progress WHERE workspace_id = $1"
    " AND created_at < now() - interval '24 hours' LIMIT 5000)";

/* Chunked mode (idem_chunked_begin): the key's lock held by the session, across the
 * chunks' transactions, and the progress the committed chunks saved. */
static const char sql_session_lock[] =
    "SELECT pg_try_advisory_lock(hashtextextended($1 || '/' || $2 || '/' || $3, 0))";
static const char sql_session_unlock[] =
    "SELECT pg_advisory_unlock(hashtextextended($1 || '/' || $2 || '/' || $3, 0))";
static const char sql_progress_find[] =
    "SELECT request_hash, next_row, progress::text, created_at > now() - interval '24 hours'"
    " FROM idempotency_progress WHERE workspace_id = $1 AND principal = $2 AND key = $3";
static const char sql_progress_save[] =
    "INSERT INTO idempotency_progress (workspace_id, principal, key, request_hash, next_row,"
    " progress) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, principal, key)"
    " DO UPDATE SET request_hash = $4, next_row = $5, progress = $6, updated_at = "
    "excluded.updated_at";
static const char sql_progress_drop[] =
    "DELETE FROM idempotency_progress WHERE workspace_id = $1 AND principal = $2 AND key = $3";

static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return false;
    return true;
}

struct query_text {
    char buf[2048];
    size_t len;
};

/* The request's identity: method, path, query arguments and body. */
static void request_hash(struct request *r, char hex[65])
{
    struct query_text q = {"", 0};
    unsigned char digest[32];
    char *buf;
    size_t n, len;
    const char *key, *value;
    for (size_t i = 0; req_query_at(r, i, &key, &value); i++) {
        int k = snprintf(q.buf + q.len, sizeof q.buf - q.len, "%s=%s&", key, value ? value : "");
        if (k > 0 && (size_t)k < sizeof q.buf - q.len)
            q.len += (size_t)k;
    }
    n = strlen(r->method_name) + strlen(r->path) + q.len + r->body_len + 4;
    buf = malloc(n);
    if (!buf) { /* cannot fail the request here; an all-zero hash matches nothing real */
        memset(hex, '0', 64);
        hex[64] = '\0';
        return;
    }
    len = (size_t)snprintf(buf, n, "%s\n%s\n%s\n", r->method_name, r->path, q.buf);
    if (r->body_len)
        memcpy(buf + len, r->body, r->body_len);
    len += r->body_len;
    util_sha256(buf, len, digest);
    util_hex(digest, 32, hex);
    free(buf);
}

/* The stored content type as one of ours: static, as r->content_type must outlive res. */
static const char *content_type_of(const PGresult *res)
{
    static const char *const known[] = {"application/json", "application/problem+json", NULL};
    for (int i = 0; known[i]; i++)
        if (!PQgetisnull(res, 0, 2) && !strcmp(PQgetvalue(res, 0, 2), known[i]))
            return known[i];
    return NULL;
}

static void replay(struct request *r, const PGresult *res)
{
    const char *ct = content_type_of(res);
    if (!PQgetisnull(res, 0, 3))
        reply_header(r, "Location", "%s", PQgetvalue(res, 0, 3));
    if (!PQgetisnull(res, 0, 4))
        reply_header(r, "ETag", "%s", PQgetvalue(res, 0, 4));
    reply_header(r, "Idempotent-Replayed", "true");
    reply_raw(r, atoi(PQgetvalue(res, 0, 1)), ct ? ct : "application/json", PQgetvalue(res, 0, 5),
              (size_t)PQgetlength(res, 0, 5));
    if (!ct)
        r->content_type = NULL;
}

/* The answer to a key whose stored answer was withdrawn when the lead it showed was
 * erased. */
static void withdrawn(struct request *r)
{
    reply_header(r, "Idempotent-Replayed", "true");
    reply_problem(r, LL_E_GONE,
                  "the answer to this Idempotency-Key showed a lead that has since been erased;"
                  " it was withdrawn with the lead's personal data",
                  NULL, NULL);
}

bool idem_before(struct request *r)
{
    const char *key = req_header(r, "Idempotency-Key");
    const char *vals[3];
    PGresult *res = NULL;
    enum ll_err err;

    if (!key_ok(key)) {
        reply_problem(r, LL_E_MALFORMED,
                      "Idempotency-Key must be 1 to 255 printable ASCII characters",
                      json_pack("[{s:s, s:s}]", "field", "Idempotency-Key", "message",
                                "must be 1 to 255 printable ASCII characters"),
                      NULL);
        return true;
    }
    snprintf(r->idem_key, sizeof r->idem_key, "%s", key);
    request_hash(r, r->idem_hash);
    vals[0] = r->auth.workspace_id;
    vals[1] = auth_principal(&r->auth); /* a key, or a person in a session */
    vals[2] = r->idem_key;
    if ((err = db_tx_begin(r->db)) != LL_OK)
        goto fail;
    res = db_exec(r->db, sql_lock, 3, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        goto fail;
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        db_tx_rollback(r->db);
        reply_problem(r, LL_E_CONFLICT,
                      "a request with this Idempotency-Key is still in flight; retry later", NULL,
                      NULL);
        PQclear(res);
        return true;
    }
    PQclear(res);
    res = db_exec(r->db, sql_find, 3, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        goto fail;
    if (PQntuples(res) == 1) {
        if (PQgetisnull(res, 0, 0)) /* withdrawn: whatever the request, nothing runs again */
            withdrawn(r);
        else if (!strcmp(PQgetvalue(res, 0, 0), r->idem_hash))
            replay(r, res);
        else
            reply_problem(r, LL_E_VALIDATION,
                          "this Idempotency-Key was used for another request; use a new key",
                          json_pack("[{s:s, s:s}]", "field", "Idempotency-Key", "message",
                                    "was used for another request"),
                          NULL);
        db_tx_rollback(r->db);
        PQclear(res);
        return true;
    }
    PQclear(res);
    res = NULL;
    if ((err = db_tx_begin(r->db)) != LL_OK) /* the handler's level: undone on a 4xx */
        goto fail;
    r->idem_active = true;
    return false;
fail:
    PQclear(res);
    while (db_tx_depth(r->db) > 0)
        db_tx_rollback(r->db);
    reply_db_error(r, err);
    return true;
}

/* Stores the answer in the transaction open on r->db (the caller commits). */
static enum ll_err store(struct request *r)
{
    char status[8];
    char location[REQ_HEADER_VALUE_MAX] = "", etag[64] = "";
    PGresult *res;
    enum ll_err err;

    for (int i = 0; i < r->nheaders; i++) {
        if (!strcmp(r->headers[i].name, "Location"))
            snprintf(location, sizeof location, "%s", r->headers[i].value);
        else if (!strcmp(r->headers[i].name, "ETag"))
            snprintf(etag, sizeof etag, "%s", r->headers[i].value);
    }
    snprintf(status, sizeof status, "%d", r->status);
    const char *vals[9] = {r->auth.workspace_id,
                           auth_principal(&r->auth),
                           r->idem_key,
                           r->idem_hash,
                           status,
                           r->content_type,
                           *location ? location : NULL,
                           *etag ? etag : NULL,
                           r->resp_body ? r->resp_body : ""};
    res = db_exec(r->db, sql_store, 9, vals);
    err = db_check(r->db, res);
    PQclear(res);
    return err;
}

/* Nothing was committed: say so, rather than the answer of a write that is not. */
static void not_committed(struct request *r)
{
    while (db_tx_depth(r->db) > 0)
        db_tx_rollback(r->db);
    r->nheaders = 0;
    reply_problem(r, LL_E_UNAVAILABLE, "the write could not be committed; retry with the same key",
                  NULL, NULL);
}

/* The key's three values, for the statements above. */
static void key_vals(struct request *r, const char *vals[3])
{
    vals[0] = r->auth.workspace_id;
    vals[1] = auth_principal(&r->auth); /* a key, or a person in a session */
    vals[2] = r->idem_key;
}

/* Lets the key's session lock go (a lost connection lets it go with the session). */
static void session_unlock(struct request *r)
{
    const char *vals[3];
    key_vals(r, vals);
    PGresult *res = db_exec(r->db, sql_session_unlock, 3, vals);
    if (db_check(r->db, res) != LL_OK)
        log_warn("idempotency: the lock of a key could not be let go");
    PQclear(res);
}

bool idem_chunked_begin(struct request *r, long *next_row, char **progress)
{
    const char *vals[3];
    PGresult *res = NULL;
    enum ll_err err;

    *next_row = 1;
    *progress = NULL;
    key_vals(r, vals);
    /* inside idem_before's transaction, which holds the key's transaction lock: the
     * session's lock on the same key is granted at once, and outlives it */
    res = db_exec(r->db, sql_session_lock, 3, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        goto fail;
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        err = LL_E_UNAVAILABLE;
        goto fail;
    }
    PQclear(res);
    res = db_exec(r->db, sql_progress_find, 3, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        goto fail_locked;
    if (PQntuples(res) == 1 && PQgetvalue(res, 0, 3)[0] == 't') {
        if (strcmp(PQgetvalue(res, 0, 0), r->idem_hash) != 0) {
            PQclear(res);
            while (db_tx_depth(r->db) > 0)
                db_tx_rollback(r->db);
            session_unlock(r);
            r->idem_active = false;
            reply_problem(r, LL_E_VALIDATION,
                          "this Idempotency-Key was used for another request; use a new key",
                          json_pack("[{s:s, s:s}]", "field", "Idempotency-Key", "message",
                                    "was used for another request"),
                          NULL);
            return false;
        }
        *next_row = atol(PQgetvalue(res, 0, 1));
        if (!(*progress = strdup(PQgetvalue(res, 0, 2)))) {
            err = LL_E_INTERNAL;
            goto fail_locked;
        }
    }
    PQclear(res);
    /* nothing was written in it: the chunks commit on their own from here */
    while (db_tx_depth(r->db) > 0)
        db_tx_rollback(r->db);
    r->idem_active = false;
    r->idem_chunked = true;
    return true;
fail_locked:
    while (db_tx_depth(r->db) > 0)
        db_tx_rollback(r->db);
    session_unlock(r);
    goto out;
fail:
    while (db_tx_depth(r->db) > 0)
        db_tx_rollback(r->db);
out:
    PQclear(res);
    free(*progress);
    *progress = NULL;
    r->idem_active = false;
    reply_db_error(r, err);
    return false;
}

enum ll_err idem_chunked_save(struct request *r, long next_row, const char *progress)
{
    char row[24];
    const char *vals[6];
    key_vals(r, vals);
    snprintf(row, sizeof row, "%ld", next_row);
    vals[3] = r->idem_hash;
    vals[4] = row;
    vals[5] = progress;
    PGresult *res = db_exec(r->db, sql_progress_save, 6, vals);
    enum ll_err err = db_check(r->db, res);
    PQclear(res);
    return err;
}

/* idem_after in chunked mode: the answer and the end of the progress, together. */
static void chunked_after(struct request *r)
{
    const char *vals[3];
    PGresult *res;
    enum ll_err err;

    r->idem_chunked = false;
    while (db_tx_depth(r->db) > 0) /* the handler's chunks are closed by now */
        db_tx_rollback(r->db);
    if (r->answered && r->status < 500) {
        key_vals(r, vals);
        if ((err = db_tx_begin(r->db)) == LL_OK && (err = store(r)) == LL_OK) {
            res = db_exec(r->db, sql_progress_drop, 3, vals);
            err = db_check(r->db, res);
            PQclear(res);
        }
        if (err != LL_OK || db_tx_commit(r->db) != LL_OK)
            not_committed(r);
    }
    session_unlock(r);
}

void idem_after(struct request *r)
{
    if (r->idem_chunked) {
        chunked_after(r);
        return;
    }
    if (!r->idem_active)
        return;
    r->idem_active = false;
    /* the handler's own nesting is closed by now; what is left is ours: 2 levels */
    while (db_tx_depth(r->db) > 2)
        db_tx_rollback(r->db);
    if (!r->answered || r->status >= 500) { /* not stored: a retry may succeed */
        while (db_tx_depth(r->db) > 0)
            db_tx_rollback(r->db);
        return;
    }
    if (r->status >= 400)
        db_tx_rollback(r->db);
    else if (db_tx_commit(r->db) != LL_OK)
        goto fail;
    if (store(r) != LL_OK || db_tx_commit(r->db) != LL_OK)
        goto fail;
    return;
fail:
    not_committed(r);
}

enum ll_err idem_forget_lead(struct db_conn *db, const char *workspace_id, const char *lead_id)
{
    const char *vals[2] = {workspace_id, lead_id};
    PGresult *res = db_exec(db, sql_forget_lead, 2, vals);
    enum ll_err err = db_check(db, res);
    PQclear(res);
    return err;
}

static struct janitor janitor;

static void purge(struct janitor *j, PGconn *pg)
{
    static const char *const stmts[] = {sql_purge, sql_purge_progress, NULL};
    janitor_each_workspace(j, pg, sql_purge_due, stmts, PURGE_BATCH);
}

bool idem_janitor_start(const char *conninfo, long interval_s)
{
    return janitor_start(&janitor, "idempotency janitor", conninfo, interval_s, purge);
}

void idem_janitor_stop(void)
{
    janitor_stop(&janitor);
}
