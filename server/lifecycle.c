/* The lifecycle. Forward along the funnel (new < mql < sales_accepted < sales_qualified <
 * opportunity < customer), any open stage to recycled or disqualified (disqualified with
 * a reason), recycled back to mql; customer and disqualified are final. A transition
 * locks the lead, checks the move, and writes the stage, the history row and the change
 * feed row in one transaction. */
#include "leadloop/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/lead_route.h"
#include "leadloop/leads.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/stages.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

static const char not_found[] = "no lead with this id";

#define CHANGE_COLUMNS                                                                             \
    "s.id, s.lead_id, s.from_stage, s.to_stage, s.reason, s.by_key_id, s.by_user_id, " DB_TS(      \
        "s.changed_at")

static const char sql_lock[] = "SELECT stage, version, erased_at IS NOT NULL, merged_into"
                               " FROM leads WHERE workspace_id = $1 AND id = $2 FOR UPDATE";
/* $1 ws, $2 lead, $3 to, $4 reason, $5 key, $6 user */
static const char sql_move[] =
    "WITH u AS (UPDATE leads SET stage = $3, stage_changed_at = now(), recycle_on = NULL,"
    " version = version + 1,"
    " updated_at = now() WHERE workspace_id = $1 AND id = $2 RETURNING *),"
    " old AS (SELECT stage FROM leads WHERE workspace_id = $1 AND id = $2),"
    " s AS (INSERT INTO lead_stage_changes (workspace_id, lead_id, from_stage, to_stage, reason,"
    " by_key_id, by_user_id, changed_at) SELECT u.workspace_id, u.id, old.stage, u.stage, $4,"
    " $5::uuid, $6::uuid, u.stage_changed_at FROM u, old RETURNING *)"
    " SELECT l.*, c.* FROM (SELECT " LEAD_COLUMNS " FROM u) l,"
    " (SELECT " CHANGE_COLUMNS " FROM s) c";

/* A stage change as the API shows it; columns from `first` on (CHANGE_COLUMNS). */
static json_t *change_json_at(const PGresult *res, int row, int first)
{
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:{s:o, s:o}, s:o}", "id", db_json_text(res, row, first),
        "lead_id", db_json_text(res, row, first + 1), "from", db_json_text(res, row, first + 2),
        "to", db_json_text(res, row, first + 3), "reason", db_json_text(res, row, first + 4),
        "changed_by", "api_key_id", db_json_text(res, row, first + 5), "user_id",
        db_json_text(res, row, first + 6), "changed_at", db_json_text(res, row, first + 7));
}

static json_t *change_json(const PGresult *res, int row)
{
    return change_json_at(res, row, 0);
}

void lifecycle_transition(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *to = NULL, *reason = NULL;
    struct jv v;
    long want = 0;
    int im;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL))
        goto out;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        goto out;
    }
    if (!(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, (const char *const[]){"to", "reason", NULL}, NULL);
    jv_enum(&v, body, "to", true, vocab_stages, &to);
    if (!json_is_null(json_object_get(body, "reason")))
        jv_string(&v, body, "reason", false, 1, 500, &reason);
    if (to && !strcmp(to, "disqualified") && !reason)
        jv_add(&v, "reason", "is required to disqualify a lead");
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the transition is not valid", jv_take(&v), NULL);
        goto out;
    }
    im = req_if_match_version(r, &want);
    if ((err = db_tx_begin(r->db)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    const char *lv[2] = {r->auth.workspace_id, r->params[0]};
    res = db_exec(r->db, sql_lock, 2, lv);
    if ((err = db_check(r->db, res)) != LL_OK) {
        reply_db_error(r, err);
    } else if (PQntuples(res) == 0) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
    } else if (!PQgetisnull(res, 0, 3)) {
        lead_route_merged(r, r->params[0], PQgetvalue(res, 0, 3));
    } else if (PQgetvalue(res, 0, 2)[0] == 't') {
        reply_problem(r, LL_E_GONE, "this lead was erased", NULL, NULL);
    } else if (im < 0 || (im > 0 && want != atol(PQgetvalue(res, 0, 1)))) {
        if (req_if_match(r, atol(PQgetvalue(res, 0, 1))))
            reply_problem(r, LL_E_PRECONDITION, "If-Match does not match the current version", NULL,
                          NULL);
    } else if (!stages_allowed(PQgetvalue(res, 0, 0), to)) {
        const char *t[8];
        char detail[300];
        size_t n = stages_targets(PQgetvalue(res, 0, 0), t);
        json_t *allowed = json_array();
        int len = snprintf(detail, sizeof detail, "a lead in stage %s cannot move to %s; ",
                           PQgetvalue(res, 0, 0), to);
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(allowed, json_string(t[i]));
            len += snprintf(detail + len, sizeof detail - (size_t)len, "%s%s",
                            i ? ", " : "allowed: ", t[i]);
        }
        if (n == 0)
            snprintf(detail + len, sizeof detail - (size_t)len, "%s is final",
                     PQgetvalue(res, 0, 0));
        reply_problem(r, LL_E_CONFLICT, detail, NULL,
                      json_pack("{s:s, s:o}", "stage", PQgetvalue(res, 0, 0), "allowed", allowed));
    } else {
        const char *mv[6] = {r->auth.workspace_id,
                             r->params[0],
                             to,
                             reason,
                             r->auth.key_id,
                             r->auth.user_id[0] ? r->auth.user_id : NULL};
        PQclear(res);
        res = db_exec(r->db, sql_move, 6, mv);
        if ((err = db_check(r->db, res)) != LL_OK || (err = db_tx_commit(r->db)) != LL_OK) {
            reply_db_error(r, err);
        } else {
            json_t *change = change_json_at(res, 0, LEAD_NCOLS);
            json_object_set_new(change, "lead", leads_json(res, 0));
            reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, LEAD_COL_VERSION));
            reply_header(r, "Location", "/v1/leads/%s/history", r->params[0]);
            reply_json(r, 201, change);
        }
    }
    if (db_tx_depth(r->db) > 0 && r->status != 201)
        db_tx_rollback(r->db);
out:
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

static const struct sort_key history_sorts[] = {{"changed_at", "s.changed_at", "timestamptz"},
                                                {NULL, NULL, NULL}};

void lifecycle_history(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort", NULL};
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, history_sorts, "changed_at") ||
        !lead_route_found(r))
        return;
    list_begin(&q, "SELECT " CHANGE_COLUMNS ", ", &l);
    qb_addp(&q, ", s.id FROM lead_stage_changes s WHERE s.workspace_id = $?", r->auth.workspace_id);
    qb_addp(&q, " AND s.lead_id = $?", r->params[0]);
    list_apply(&q, &l, "s.id");
    list_answer(r, &q, &l, change_json);
}

/* The lead's entries (touches, stage changes, feedback, field edits, merges), each
 * rendered by PostgreSQL into the item of its type: ll_lead_timeline, sql/0014_merge.sql. */
static const char sql_timeline[] = "SELECT x.type, " DB_TS("x.at") ", x.item, ";
static const char sql_timeline_from[] =
    ", x.id FROM ll_lead_timeline($?::uuid, $?::uuid) x WHERE true";
static const struct sort_key timeline_sorts[] = {{"at", "x.at", "timestamptz"}, {NULL, NULL, NULL}};

static json_t *timeline_json(const PGresult *res, int row)
{
    json_t *item = json_loads(PQgetvalue(res, row, 2), 0, NULL);
    return json_pack("{s:o, s:o, s:o}", "type", db_json_text(res, row, 0), "at",
                     db_json_text(res, row, 1), PQgetvalue(res, row, 0), item ? item : json_null());
}

void lifecycle_timeline(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort", NULL};
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, timeline_sorts, "-at") ||
        !lead_route_found(r))
        return;
    list_begin(&q, sql_timeline, &l);
    const char *sub[2] = {r->auth.workspace_id, r->params[0]};
    qb_addpv(&q, sql_timeline_from, 2, sub);
    list_apply(&q, &l, "x.id");
    list_answer(r, &q, &l, timeline_json);
}
