/* Merge (POST /v1/leads/{id}/merge): the lead named in `from`, a duplicate, is folded into
 * the lead of the path, which survives. In one transaction, with both leads locked: the
 * duplicate's touches, feedback, stage history, interactions and external ids move to the
 * survivor, the survivor's first and latest campaign are recomputed from all its touches, and the
 * duplicate is marked merged_into the survivor and gives up its email. Everything else
 * follows from those rows: the report triggers refresh both leads (a merged lead has no
 * facts of its own, sql/0014_merge.sql), the change feed records lead.merged and the
 * moved touches and feedback, the audit log every changed row. The survivor keeps its own
 * fields and stage. */
#include "leadloop/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadloop/conditional.h"
#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/jw.h"
#include "leadloop/lead_route.h"
#include "leadloop/leads.h"
#include "leadloop/request.h"
#include "leadloop/util.h"

/* Both leads, locked in the order of their ids: two merges that cross (a into b while b
 * into a) lock in the same order, so that one waits for the other instead of both
 * deadlocking. */
static const char sql_lock[] =
    "SELECT id, merged_into, erased_at IS NOT NULL, version FROM leads"
    " WHERE workspace_id = $1 AND id IN ($2::uuid, $3::uuid) ORDER BY id FOR UPDATE";
/* The systems in which both leads hold an external id: survivor's, duplicate's. */
static const char sql_clash[] =
    "SELECT d.system, s.external_id, d.external_id FROM lead_external_ids d"
    " JOIN lead_external_ids s ON s.workspace_id = d.workspace_id AND s.system = d.system"
    " AND s.lead_id = $2 WHERE d.workspace_id = $1 AND d.lead_id = $3 ORDER BY d.system";
/* $1 workspace, $2 survivor, $3 duplicate, $4 key, $5 user (sql/functions/76_lead_merge.sql):
 * statements one after another, each on the workspace's rows (on Citus, a chain of
 * modifying CTEs would run as steps that see each other's writes). */
static const char sql_merge[] =
    "SELECT ll_lead_merge($1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::uuid)";
static const char sql_get[] =
    "SELECT " LEAD_COLUMNS " FROM leads WHERE workspace_id = $1 AND id = $2";

static const char not_found[] = "no lead with this id";

/* One of the locked leads. */
struct locked {
    bool found, erased;
    char merged_into[37]; /* "" when not merged */
    long version;
};

static void read_locked(const PGresult *res, const char *id, struct locked *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < PQntuples(res); i++) {
        if (strcasecmp(PQgetvalue(res, i, 0), id))
            continue;
        out->found = true;
        if (!PQgetisnull(res, i, 1))
            snprintf(out->merged_into, sizeof out->merged_into, "%s", PQgetvalue(res, i, 1));
        out->erased = PQgetvalue(res, i, 2)[0] == 't';
        out->version = atol(PQgetvalue(res, i, 3));
    }
}

static json_t *from_error(const char *message)
{
    return json_pack("[{s:s, s:s}]", "field", "from", "message", message);
}

/* 200 with the survivor (row 0 of res, LEAD_COLUMNS). */
static void answer_survivor(struct request *r, const PGresult *res)
{
    struct jw w;
    size_t len = 0;
    char *body;
    reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, LEAD_COL_VERSION));
    /* the survivor's own URL: an erasure of it withdraws this answer from replays */
    reply_header(r, "Location", "/v1/leads/%s", PQgetvalue(res, 0, 0));
    jw_init(&w, 1024);
    leads_write(&w, res, 0);
    body = jw_take(&w, &len);
    reply_owned(r, 200, "application/json", body, len);
}

/* 409 naming each system in which both leads hold an id (res: sql_clash's rows). */
static void answer_clash(struct request *r, const PGresult *res)
{
    json_t *errors = json_array();
    char detail[512];
    int len = snprintf(detail, sizeof detail, "both leads hold an external id in");
    for (int i = 0; i < PQntuples(res); i++) {
        char field[96], message[640];
        snprintf(field, sizeof field, "external_ids.%s", PQgetvalue(res, i, 0));
        snprintf(message, sizeof message,
                 "both leads hold an id here (this lead %s, the duplicate %s); remove one with "
                 "PATCH and merge again",
                 PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message", message));
        if (len > 0 && (size_t)len < sizeof detail)
            len += snprintf(detail + len, sizeof detail - (size_t)len, "%s %s", i ? "," : "",
                            PQgetvalue(res, i, 0));
    }
    if (len > 0 && (size_t)len < sizeof detail)
        snprintf(detail + len, sizeof detail - (size_t)len,
                 "; the survivor would hold two ids of one system. Remove the one that is wrong "
                 "(PATCH its lead with external_ids {\"<system>\": null}) and merge again");
    reply_problem(r, LL_E_CONFLICT, detail, errors, NULL);
}

void merge_leads(struct request *r)
{
    static const char *const fields[] = {"from", NULL};
    const char *id = r->params[0], *from = NULL;
    json_t *body = NULL;
    PGresult *res = NULL;
    struct locked keep, dup;
    struct conditional cond;
    struct jv v;
    enum ll_err err;
    bool open = false;

    jv_init(&v);
    if (!req_query_allowed(r, NULL))
        goto out;
    if (!util_is_uuid(id)) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        goto out;
    }
    if (!(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, fields, NULL);
    jv_uuid(&v, body, "from", true, false, &from, NULL);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the merge is not valid", jv_take(&v), NULL);
        goto out;
    }

    if ((err = db_tx_begin(r->db)) != LL_OK)
        goto fail;
    open = true;
    const char *lv[3] = {r->auth.workspace_id, id, from};
    res = db_exec(r->db, sql_lock, 3, lv);
    if ((err = db_check(r->db, res)) != LL_OK)
        goto fail;
    read_locked(res, id, &keep);
    read_locked(res, from, &dup);
    PQclear(res);
    res = NULL;
    /* the survivor first, as every route of a lead answers for it */
    if (!keep.found) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        goto out;
    }
    if (keep.merged_into[0]) {
        lead_route_merged(r, id, keep.merged_into);
        goto out;
    }
    if (keep.erased) {
        reply_problem(r, LL_E_GONE, "this lead was erased", NULL, NULL);
        goto out;
    }
    if (!strcasecmp(id, from)) {
        reply_problem(r, LL_E_VALIDATION, "a lead cannot be merged into itself",
                      from_error("must name another lead than the path"), NULL);
        goto out;
    }
    conditional_from_request(&cond, r);
    if (!conditional_allows(&cond, keep.version)) {
        conditional_reply(r, LL_E_PRECONDITION, keep.version, not_found, NULL);
        goto out;
    }
    if (!dup.found) {
        reply_problem(r, LL_E_VALIDATION, "from names no lead of this workspace",
                      from_error("is not a lead of this workspace"), NULL);
        goto out;
    }
    if (dup.merged_into[0] && !strcasecmp(dup.merged_into, id)) {
        /* merged into this lead already (a retry): nothing to do, the same answer */
        res = db_exec(r->db, sql_get, 2, lv);
        if ((err = db_check(r->db, res)) != LL_OK || PQntuples(res) != 1)
            goto fail;
        open = false;
        if ((err = db_tx_commit(r->db)) != LL_OK)
            goto fail;
        answer_survivor(r, res);
        goto out;
    }
    if (dup.merged_into[0]) {
        char detail[160];
        snprintf(detail, sizeof detail, "from was merged into another lead, %s, already",
                 dup.merged_into);
        reply_problem(r, LL_E_CONFLICT, detail, from_error("was merged into another lead already"),
                      json_pack("{s:s}", "merged_into", dup.merged_into));
        goto out;
    }
    if (dup.erased) {
        reply_problem(r, LL_E_GONE, "the lead named in from was erased; there is nothing to merge",
                      from_error("names an erased lead"), NULL);
        goto out;
    }
    res = db_exec(r->db, sql_clash, 3, lv);
    if ((err = db_check(r->db, res)) != LL_OK)
        goto fail;
    if (PQntuples(res) > 0) {
        answer_clash(r, res);
        goto out;
    }
    PQclear(res);
    const char *mv[5] = {r->auth.workspace_id, id, from, auth_key_or_null(&r->auth),
                         r->auth.user_id[0] ? r->auth.user_id : NULL};
    res = db_exec(r->db, sql_merge, 5, mv);
    if ((err = db_check(r->db, res)) != LL_OK)
        goto fail;
    PQclear(res);
    res = db_exec(r->db, sql_get, 2, lv);
    if ((err = db_check(r->db, res)) != LL_OK || PQntuples(res) != 1)
        goto fail;
    open = false; /* a failed commit rolls back */
    if ((err = db_tx_commit(r->db)) != LL_OK)
        goto fail;
    answer_survivor(r, res);
    goto out;
fail:
    reply_db_error(r, err);
out:
    if (open)
        db_tx_rollback(r->db);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}
