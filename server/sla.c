/* The two-sided SLA's goals (/v1/sla/goals). A goal is one side's commitment for a month or
 * a quarter of the workspace's calendar, the team's or one person's: marketing's, a number
 * of leads handed to sales (mqls) or accepted by them (accepted_leads); sales', a share of
 * the leads handed over that got a first attempt within N business hours, at least K
 * attempts, or a verdict within D days. Which parameter a metric takes, and the unit of its
 * target, are checked here (and again by the table's constraints: sql/0027_sla_goals.sql).
 * A goal's period, metric and owner name it: a change of those is another goal. */
#include "leadloop/sla.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/conditional.h"
#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/resource.h"
#include "leadloop/util.h"

static const char not_found[] = "no SLA goal with this id";

static const char *const metrics[] = {"mqls",     "accepted_leads", "first_attempt_within",
                                      "attempts", "verdict_within", NULL};

/* The parameter each metric takes (NULL: none), in the order of metrics[]. */
static const char *const metric_param[] = {NULL, NULL, "within_hours", "min_attempts",
                                           "within_days"};
static const char *const params[] = {"within_hours", "min_attempts", "within_days", NULL};
static const long param_max[] = {8760, 100, 365};

#define GOAL_COLUMNS                                                                               \
    "id, CASE period_kind WHEN 'month' THEN to_char(period_start, 'YYYY-MM')"                      \
    " ELSE to_char(period_start, 'YYYY-\"Q\"Q') END, period_kind, period_start::text,"             \
    " ((period_start + CASE period_kind WHEN 'month' THEN interval '1 month'"                      \
    " ELSE interval '3 months' END)::date - 1)::text, metric, target, owner_id, within_hours,"     \
    " min_attempts, within_days, version, " DB_TS("created_at") ", " DB_TS("updated_at")

static const char sql_get[] =
    "SELECT " GOAL_COLUMNS " FROM sla_goals WHERE workspace_id = $1 AND id = $2::uuid";
static const char sql_version[] =
    "SELECT version FROM sla_goals WHERE workspace_id = $1 AND id = $2::uuid";

bool sla_period_parse(const char *s, char kind[8], char start[11])
{
    size_t n = s ? strlen(s) : 0;
    if (n != 7 || s[0] != '2' || s[4] != '-')
        return false;
    for (int i = 1; i < 4; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    int month;
    if (s[5] == 'Q') {
        if (s[6] < '1' || s[6] > '4')
            return false;
        month = (s[6] - '1') * 3 + 1;
        memcpy(kind, "quarter", 8);
    } else {
        if (s[5] < '0' || s[5] > '1' || s[6] < '0' || s[6] > '9')
            return false;
        month = (s[5] - '0') * 10 + (s[6] - '0');
        if (month < 1 || month > 12)
            return false;
        memcpy(kind, "month", 6);
    }
    snprintf(start, 11, "%.4s-%02d-01", s, month);
    return true;
}

static const char *goal_side(const char *metric)
{
    return !strcmp(metric, "mqls") || !strcmp(metric, "accepted_leads") ? "marketing" : "sales";
}

static json_t *goal_json(const PGresult *res, int row)
{
    const char *metric = PQgetvalue(res, row, 5);
    json_t *o = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:s, s:o}", "id", db_json_text(res, row, 0),
        "period", db_json_text(res, row, 1), "period_kind", db_json_text(res, row, 2), "starts_on",
        db_json_text(res, row, 3), "ends_on", db_json_text(res, row, 4), "side", goal_side(metric),
        "metric", db_json_text(res, row, 5), "target", db_json_int(res, row, 6), "unit",
        !strcmp(goal_side(metric), "marketing") ? "leads" : "percent", "owner_id",
        db_json_text(res, row, 7));
    json_object_set_new(o, "within_hours", db_json_int(res, row, 8));
    json_object_set_new(o, "min_attempts", db_json_int(res, row, 9));
    json_object_set_new(o, "within_days", db_json_int(res, row, 10));
    json_object_set_new(o, "version", db_json_int(res, row, 11));
    json_object_set_new(o, "created_at", db_json_text(res, row, 12));
    json_object_set_new(o, "updated_at", db_json_text(res, row, 13));
    return o;
}

static void answer(struct request *r, int status, const PGresult *res)
{
    reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 11));
    if (status == 201)
        reply_header(r, "Location", "/v1/sla/goals/%s", PQgetvalue(res, 0, 0));
    reply_json(r, status, goal_json(res, 0));
}

static const struct sort_key goal_sorts[] = {{"period", "period_start", "date"},
                                             {"created_at", "created_at", "timestamptz"},
                                             {NULL, NULL, NULL}};

void sla_goals_list(struct request *r)
{
    static const char *const allowed[] = {"limit",  "cursor",   "sort", "period",
                                          "metric", "owner_id", "side", NULL};
    const char *period = req_query(r, "period"), *metric = req_query(r, "metric"),
               *owner = req_query(r, "owner_id"), *side = req_query(r, "side");
    char kind[8], start[11];
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, goal_sorts, "period"))
        return;
    if (period && !sla_period_parse(period, kind, start)) {
        reply_bad_param(r, "period", "must be a month (2026-12) or a quarter (2026-Q4)");
        return;
    }
    if (metric && !jv_in_list(metric, metrics)) {
        reply_bad_param(r, "metric", "is not a goal's metric");
        return;
    }
    if (side && strcmp(side, "marketing") && strcmp(side, "sales")) {
        reply_bad_param(r, "side", "must be marketing or sales");
        return;
    }
    if (owner && !util_is_uuid(owner)) {
        reply_bad_param(r, "owner_id", "must be a UUID");
        return;
    }
    list_begin(&q, "SELECT " GOAL_COLUMNS ", ", &l);
    qb_addp(&q, ", id FROM sla_goals WHERE workspace_id = $?", r->auth.workspace_id);
    if (period) {
        qb_addp(&q, " AND period_kind = $?", kind);
        qb_addp(&q, " AND period_start = $?::date", start);
    }
    if (metric)
        qb_addp(&q, " AND metric = $?", metric);
    if (side)
        qb_addp(&q, " AND (metric IN ('mqls', 'accepted_leads')) = ($? = 'marketing')", side);
    if (owner)
        qb_addp(&q, " AND owner_id = $?::uuid", owner);
    list_apply(&q, &l, "id");
    list_answer(r, &q, &l, goal_json);
    qb_free(&q);
}

struct goal_in {
    const char *period, *metric, *owner;
    char kind[8], start[11];
    char target[24], param[3][24];
    bool has_target, has_param[3], null_param[3], null_owner;
};

/* The target's bounds follow the metric's unit: leads, or a percentage. */
static void read_target(struct jv *v, json_t *body, bool required, const char *metric,
                        struct goal_in *in)
{
    bool percent = metric && !strcmp(goal_side(metric), "sales"), is_null;
    in->has_target = jv_int(v, body, "target", required, false, 1, percent ? 100 : 1000000,
                            in->target, &is_null);
}

/* A metric's parameter: required with it, refused with any other. */
static void read_params(struct jv *v, json_t *body, const char *metric, bool create,
                        struct goal_in *in)
{
    int m = -1;
    for (int i = 0; metric && metrics[i]; i++)
        if (!strcmp(metrics[i], metric))
            m = i;
    for (int i = 0; params[i]; i++) {
        bool takes = m >= 0 && metric_param[m] && !strcmp(metric_param[m], params[i]);
        if (!takes) {
            if (json_object_get(body, params[i]) && m >= 0)
                jv_add(v, params[i], "is not a parameter of the metric %s", metric);
            continue;
        }
        in->has_param[i] = jv_int(v, body, params[i], create, false, 1, param_max[i], in->param[i],
                                  &in->null_param[i]);
    }
}

static void read_goal(struct jv *v, json_t *body, struct goal_in *in)
{
    static const char *const fields[] = {"period",       "metric",       "target",      "owner_id",
                                         "within_hours", "min_attempts", "within_days", NULL};
    static const char *const readonly[] = {"id",         "side",    "unit",    "period_kind",
                                           "starts_on",  "ends_on", "version", "created_at",
                                           "updated_at", NULL};
    memset(in, 0, sizeof *in);
    jv_known(v, body, fields, readonly);
    if (jv_string(v, body, "period", true, 1, 16, &in->period) &&
        !sla_period_parse(in->period, in->kind, in->start))
        jv_add(v, "period", "must be a month (2026-12) or a quarter (2026-Q4)");
    jv_enum(v, body, "metric", true, metrics, &in->metric);
    jv_uuid(v, body, "owner_id", false, true, &in->owner, &in->null_owner);
    read_target(v, body, true, in->metric, in);
    read_params(v, body, in->metric, true, in);
}

/* An owner that is no user of the workspace, named as the field. */
static bool owner_missing(const PGresult *res)
{
    char buf[96]; /* (db_constraint: also the name Citus gives in the message alone) */
    const char *c = db_constraint(res, buf, sizeof buf);
    return c && !strcmp(c, "sla_goals_workspace_id_owner_id_fkey");
}

void sla_goals_create(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    struct goal_in in;
    struct jv v;
    enum ll_err err;
    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    read_goal(&v, body, &in);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the goal is not valid", jv_take(&v), NULL);
        goto out;
    }
    const char *vals[9] = {r->auth.workspace_id,
                           in.kind,
                           in.start,
                           in.metric,
                           in.owner,
                           in.target,
                           in.has_param[0] ? in.param[0] : NULL,
                           in.has_param[1] ? in.param[1] : NULL,
                           in.has_param[2] ? in.param[2] : NULL};
    /* the columns formatted outside the INSERT: Citus takes only IMMUTABLE functions in a
     * RETURNING clause, and to_char is STABLE */
    res = db_exec(r->db,
                  "WITH g AS (INSERT INTO sla_goals (workspace_id, period_kind, period_start,"
                  " metric, owner_id, target, within_hours, min_attempts, within_days) VALUES ($1,"
                  " $2, $3::date, $4, $5::uuid, $6::integer, $7::integer, $8::integer,"
                  " $9::integer) RETURNING *) SELECT " GOAL_COLUMNS " FROM g",
                  9, vals);
    err = db_check(r->db, res);
    if (err && owner_missing(res))
        reply_problem(r, LL_E_VALIDATION, "the goal is not valid",
                      json_pack("[{s:s, s:s}]", "field", "owner_id", "message",
                                "is not a user of this workspace"),
                      NULL);
    else if (err == LL_E_CONFLICT)
        reply_problem(r, err, "the period already has this goal for this owner",
                      json_pack("[{s:s, s:s}]", "field", "metric", "message",
                                "already has a goal for this period and owner"),
                      NULL);
    else if (err)
        reply_db_error(r, err);
    else
        answer(r, 201, res);
out:
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void sla_goals_get(struct request *r)
{
    PGresult *res = req_fetch_by_id(r, sql_get, not_found);
    if (res)
        answer(r, 200, res);
    PQclear(res);
}

void sla_goals_update(struct request *r)
{
    static const char *const fields[] = {"target", "within_hours", "min_attempts", "within_days",
                                         NULL};
    static const char *const readonly[] = {
        "id",        "period",  "metric",  "owner_id",   "side",       "unit", "period_kind",
        "starts_on", "ends_on", "version", "created_at", "updated_at", NULL};
    json_t *body = NULL;
    PGresult *res = NULL, *cur = NULL;
    struct goal_in in;
    struct conditional cond;
    struct jv v;
    struct qb q;
    long current = 0;
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
    /* the metric says which parameter and which target's bounds apply */
    const char *key[2] = {r->auth.workspace_id, r->params[0]};
    cur = db_exec(r->db, "SELECT metric FROM sla_goals WHERE workspace_id = $1 AND id = $2::uuid",
                  2, key);
    if ((err = db_check(r->db, cur)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    if (PQntuples(cur) == 0) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        goto out;
    }
    memset(&in, 0, sizeof in);
    jv_known(&v, body, fields, readonly);
    for (const char *const *f = fields; *f; f++)
        if (json_is_null(json_object_get(body, *f)))
            jv_add(&v, *f, "cannot be null");
    if (jv_ok(&v)) {
        read_target(&v, body, false, PQgetvalue(cur, 0, 0), &in);
        read_params(&v, body, PQgetvalue(cur, 0, 0), false, &in);
    }
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the change is not valid", jv_take(&v), NULL);
        goto out;
    }
    qb_init(&q, "WITH g AS (UPDATE sla_goals SET version = version + 1, updated_at = now()");
    if (in.has_target)
        qb_addp(&q, ", target = $?::integer", in.target);
    for (int i = 0; params[i]; i++)
        if (in.has_param[i]) {
            char frag[48];
            snprintf(frag, sizeof frag, ", %s = $?::integer", params[i]);
            qb_addp(&q, frag, in.param[i]);
        }
    qb_addp(&q, " WHERE workspace_id = $?", r->auth.workspace_id);
    qb_addp(&q, " AND id = $?::uuid", r->params[0]);
    conditional_from_request(&cond, r);
    if (conditional_param(&cond))
        qb_addp(&q, " AND version = $?::integer", conditional_param(&cond));
    qb_add(&q, " RETURNING *) SELECT " GOAL_COLUMNS " FROM g"); /* (as the INSERT above) */
    res = qb_exec(r->db, &q, &err);
    qb_free(&q);
    if (err)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0) {
        err = conditional_no_row(r->db, sql_version, r->auth.workspace_id, r->params[0], &cond,
                                 &current);
        conditional_reply(r, err, current, not_found, "the goal changed meanwhile; retry");
    } else {
        answer(r, 200, res);
    }
out:
    PQclear(cur);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void sla_goals_delete(struct request *r)
{
    PGresult *res;
    struct conditional cond;
    long current = 0;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        return;
    }
    conditional_from_request(&cond, r);
    const char *vals[3] = {r->auth.workspace_id, r->params[0], conditional_param(&cond)};
    res = db_exec(r->db,
                  "DELETE FROM sla_goals WHERE workspace_id = $1 AND id = $2::uuid"
                  " AND ($3::integer IS NULL OR version = $3::integer) RETURNING id",
                  3, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0) {
        err = conditional_no_row(r->db, sql_version, r->auth.workspace_id, r->params[0], &cond,
                                 &current);
        conditional_reply(r, err, current, not_found, "the goal changed meanwhile; retry");
    } else
        reply_empty(r, 204);
    PQclear(res);
}
