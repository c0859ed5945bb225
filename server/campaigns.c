/* Campaigns. Writes are single statements (the change feed row comes from its trigger);
 * a campaign is never deleted, only archived, so the leads and touches it brought keep it.
 * Each write is a domain function (database, caller, parsed input) and a handler that
 * reads the request and answers. */
#include "leadloop/campaigns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/auth.h"
#include "leadloop/conditional.h"
#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/resource.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

/* INSERT ... SELECT from the workspace for its currency: Citus refuses a subquery inside
 * INSERT ... VALUES. */
static const char sql_insert[] =
    "WITH c AS (INSERT INTO campaigns (workspace_id, name, channel, status, budget, cost,"
    " currency, starts_on, ends_on, owner_id, tags, description)"
    " SELECT $1, $2::text, $3::text, coalesce($4::text, 'planned'), coalesce($5::bigint, 0),"
    " coalesce($6::bigint, 0), coalesce($7::text, w.currency), $8::date, $9::date, $10::uuid,"
    " ll_json_texts($11::jsonb), $12::text FROM workspaces w WHERE w.id = $1 RETURNING *)"
    " SELECT " CAMPAIGN_COLUMNS " FROM c";
static const char sql_get[] =
    "SELECT " CAMPAIGN_COLUMNS " FROM campaigns WHERE workspace_id = $1 AND id = $2";
static const char sql_version[] =
    "SELECT version FROM campaigns WHERE workspace_id = $1 AND id = $2";
static const char sql_archive[] =
    "WITH c AS (UPDATE campaigns SET status = 'archived', version = version + 1,"
    " updated_at = now() WHERE workspace_id = $1 AND id = $2"
    " AND ($3::integer IS NULL OR version = $3) RETURNING *)"
    " SELECT id FROM c";

static const char *const *const channels = vocab_channels;
static const char *const *const statuses = vocab_campaign_statuses;
static const char *const fields[] = {"name",     "channel",  "status",      "budget",
                                     "cost",     "currency", "starts_on",   "ends_on",
                                     "owner_id", "tags",     "description", NULL};
static const char *const readonly[] = {"id", "version", "created_at", "updated_at", NULL};

static const char not_found[] = "no campaign with this id";

json_t *campaigns_json(const PGresult *res, int row)
{
    json_t *tags = json_loads(PQgetvalue(res, row, 10), 0, NULL);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "id", db_json_text(res, row, 0), "name", db_json_text(res, row, 1), "channel",
                     db_json_text(res, row, 2), "status", db_json_text(res, row, 3), "budget",
                     db_json_int(res, row, 4), "cost", db_json_int(res, row, 5), "currency",
                     db_json_text(res, row, 6), "starts_on", db_json_text(res, row, 7), "ends_on",
                     db_json_text(res, row, 8), "owner_id", db_json_text(res, row, 9), "tags",
                     tags ? tags : json_array(), "description", db_json_text(res, row, 11),
                     "version", db_json_int(res, row, 12), "created_at", db_json_text(res, row, 13),
                     "updated_at", db_json_text(res, row, 14));
}

static void answer_campaign(struct request *r, int status, const PGresult *res)
{
    reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 12));
    if (status == 201)
        reply_header(r, "Location", "/v1/campaigns/%s", PQgetvalue(res, 0, 0));
    reply_json(r, status, campaigns_json(res, 0));
}

/* Maps what PostgreSQL refused about a campaign to the field at fault. */
static void answer_write_error(struct request *r, const PGresult *res, enum ll_err err)
{
    char buf[64];
    const char *c = db_constraint(res, buf, sizeof buf);
    if (err == LL_E_VALIDATION && c && strstr(c, "owner_id"))
        reply_bad_field(r, "owner_id", "is not a user of this workspace");
    else if (err == LL_E_VALIDATION && c && !strcmp(c, "campaigns_dates"))
        reply_bad_field(r, "ends_on", "must not be before starts_on");
    else
        reply_db_error(r, err);
}

/* Money in a workspace is in its one reporting currency (reports add it up and never
 * convert): a campaign in another currency is refused. LL_OK when currency is NULL or the
 * workspace's; LL_E_VALIDATION with the workspace's currency in want; or the database error. */
static enum ll_err currency_check(struct db_conn *db, const struct auth_ctx *auth,
                                  const char *currency, char want[8])
{
    const char *vals[1] = {auth->workspace_id};
    PGresult *res;
    enum ll_err err;
    if (!currency)
        return LL_OK;
    res = db_exec(db, "SELECT currency FROM workspaces WHERE id = $1", 1, vals);
    if ((err = db_check(db, res)) == LL_OK && strcmp(PQgetvalue(res, 0, 0), currency) != 0) {
        snprintf(want, 8, "%s", PQgetvalue(res, 0, 0));
        err = LL_E_VALIDATION;
    }
    PQclear(res);
    return err;
}

/* The handler's side of currency_check: answers and returns false when it refused. */
static bool currency_is_workspaces(struct request *r, const char *currency)
{
    char want[8] = "", msg[128];
    enum ll_err err = currency_check(r->db, &r->auth, currency, want);
    if (err == LL_E_VALIDATION) {
        snprintf(msg, sizeof msg, "must be the workspace's reporting currency, %s", want);
        reply_bad_field(r, "currency", msg);
    } else if (err) {
        reply_db_error(r, err);
    }
    return err == LL_OK;
}

/* The fields shared by create and patch. In a patch every field is optional and the
 * nullable ones may be null. */
struct campaign_in {
    const char *name, *channel, *status, *currency, *starts_on, *ends_on, *owner_id, *desc;
    char budget[24], cost[24];
    bool has_budget, has_cost;
    bool null_starts, null_ends, null_owner, null_desc;
    json_t *tags;
};

static void read_campaign(struct jv *v, json_t *body, bool create, struct campaign_in *in)
{
    bool isnull;
    memset(in, 0, sizeof *in);
    jv_known(v, body, fields, readonly);
    jv_string(v, body, "name", create, 1, 200, &in->name);
    jv_enum(v, body, "channel", create, channels, &in->channel);
    jv_enum(v, body, "status", false, statuses, &in->status);
    in->has_budget =
        jv_int(v, body, "budget", false, false, 0, 9000000000000000L, in->budget, &isnull);
    in->has_cost = jv_int(v, body, "cost", false, false, 0, 9000000000000000L, in->cost, &isnull);
    jv_currency(v, body, "currency", false, &in->currency);
    jv_date(v, body, "starts_on", false, true, &in->starts_on, &in->null_starts);
    jv_date(v, body, "ends_on", false, true, &in->ends_on, &in->null_ends);
    jv_uuid(v, body, "owner_id", false, true, &in->owner_id, &in->null_owner);
    jv_text(v, body, "description", false, true, 0, 10000, &in->desc, &in->null_desc);
    jv_string_set(v, body, "tags", false, 20, 50, &in->tags);
    if (in->starts_on && in->ends_on && strcmp(in->starts_on, in->ends_on) > 0)
        jv_add(v, "ends_on", "must not be before starts_on");
}

/* Inserts a campaign; *out is the new row (CAMPAIGN_COLUMNS) or the failed result (new,
 * PQclear it). */
static enum ll_err campaign_insert(struct db_conn *db, const struct auth_ctx *auth,
                                   const struct campaign_in *in, PGresult **out)
{
    char *tags = in->tags ? json_dumps(in->tags, JSON_COMPACT) : NULL;
    const char *vals[12] = {auth->workspace_id,
                            in->name,
                            in->channel,
                            in->status,
                            in->has_budget ? in->budget : NULL,
                            in->has_cost ? in->cost : NULL,
                            in->currency,
                            in->starts_on,
                            in->ends_on,
                            in->owner_id,
                            tags,
                            in->desc};
    enum ll_err err;
    *out = db_exec(db, sql_insert, 12, vals);
    err = db_check(db, *out);
    free(tags);
    return err;
}

void campaigns_create(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    struct campaign_in in;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    read_campaign(&v, body, true, &in);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the campaign is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (!currency_is_workspaces(r, in.currency))
        goto out;
    err = campaign_insert(r->db, &r->auth, &in, &res);
    if (err)
        answer_write_error(r, res, err);
    else
        answer_campaign(r, 201, res);
out:
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void campaigns_get(struct request *r)
{
    PGresult *res = req_fetch_by_id(r, sql_get, not_found);
    if (res)
        answer_campaign(r, 200, res);
    PQclear(res);
}

static const char changed[] = "the resource changed meanwhile; retry";

/* Merge-patches campaign id with the members present in in (none: empty, a read). *out is
 * the row (CAMPAIGN_COLUMNS) or the failed statement's result (new, PQclear it); NULL when
 * no row was written (missing, or If-Match refused): then the error and *current are
 * conditional_no_row's. */
static enum ll_err campaign_update(struct db_conn *db, const struct auth_ctx *auth, const char *id,
                                   const struct campaign_in *in, bool empty,
                                   const struct conditional *cond, PGresult **out, long *current)
{
    char *tags = NULL;
    struct qb q;
    enum ll_err err;
    /* Only the members present change (JSON Merge Patch); an empty patch is a no-op read. */
    if (empty) { /* nothing to change: no new version */
        qb_init(&q, "WITH c AS (SELECT * FROM campaigns");
    } else {
        qb_init(&q, "WITH c AS (UPDATE campaigns SET version = version + 1, updated_at = now()");
        if (in->name)
            qb_addp(&q, ", name = $?", in->name);
        if (in->channel)
            qb_addp(&q, ", channel = $?", in->channel);
        if (in->status)
            qb_addp(&q, ", status = $?", in->status);
        if (in->has_budget)
            qb_addp(&q, ", budget = $?::bigint", in->budget);
        if (in->has_cost)
            qb_addp(&q, ", cost = $?::bigint", in->cost);
        if (in->currency)
            qb_addp(&q, ", currency = $?", in->currency);
        if (in->starts_on || in->null_starts)
            qb_addp(&q, ", starts_on = $?::date", in->starts_on);
        if (in->ends_on || in->null_ends)
            qb_addp(&q, ", ends_on = $?::date", in->ends_on);
        if (in->owner_id || in->null_owner)
            qb_addp(&q, ", owner_id = $?::uuid", in->owner_id);
        if (in->desc || in->null_desc)
            qb_addp(&q, ", description = $?", in->desc);
        if (in->tags) {
            tags = json_dumps(in->tags, JSON_COMPACT);
            qb_addp(&q,
                    ", tags = coalesce(ARRAY(SELECT jsonb_array_elements_text($?::jsonb)), '{}')",
                    tags);
        }
    }
    qb_addp(&q, " WHERE workspace_id = $?", auth->workspace_id);
    qb_addp(&q, " AND id = $?", id);
    if (conditional_param(cond))
        qb_addp(&q, " AND version = $?::integer", conditional_param(cond));
    if (empty)
        qb_add(&q, ") SELECT " CAMPAIGN_COLUMNS " FROM c");
    else
        qb_add(&q, " RETURNING *) SELECT " CAMPAIGN_COLUMNS " FROM c");
    *out = qb_exec(db, &q, &err);
    qb_free(&q);
    if (err == LL_OK && PQntuples(*out) == 0) {
        PQclear(*out);
        *out = NULL;
        err = conditional_no_row(db, sql_version, auth->workspace_id, id, cond, current);
    }
    free(tags);
    return err;
}

void campaigns_update(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    struct campaign_in in;
    struct conditional cond;
    struct jv v;
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
    for (const char *const *f = (const char *const[]){"name", "channel", "status", "budget", "cost",
                                                      "currency", "tags", NULL};
         *f; f++)
        if (json_is_null(json_object_get(body, *f)))
            jv_add(&v, *f, "cannot be null");
    if (jv_ok(&v))
        read_campaign(&v, body, false, &in);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the change is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (!currency_is_workspaces(r, in.currency))
        goto out;
    conditional_from_request(&cond, r);
    err = campaign_update(r->db, &r->auth, r->params[0], &in, json_object_size(body) == 0, &cond,
                          &res, &current);
    if (err && !res) /* no row written: missing, or If-Match refused */
        conditional_reply(r, err, current, not_found, changed);
    else if (err)
        answer_write_error(r, res, err);
    else
        answer_campaign(r, 200, res);
out:
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

/* Archives campaign id (If-Match as cond). */
static enum ll_err campaign_archive(struct db_conn *db, const struct auth_ctx *auth, const char *id,
                                    const struct conditional *cond, long *current)
{
    const char *vals[3] = {auth->workspace_id, id, conditional_param(cond)};
    PGresult *res = db_exec(db, sql_archive, 3, vals);
    enum ll_err err = db_check(db, res);
    if (err == LL_OK && PQntuples(res) == 0)
        err = conditional_no_row(db, sql_version, auth->workspace_id, id, cond, current);
    PQclear(res);
    return err;
}

void campaigns_archive(struct request *r)
{
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
    err = campaign_archive(r->db, &r->auth, r->params[0], &cond, &current);
    if (err)
        conditional_reply(r, err, current, not_found, changed);
    else
        reply_empty(r, 204);
}

static const struct sort_key sorts[] = {
    {"created_at", "created_at", "timestamptz"},
    {"name", "name", "text"},
    {"starts_on", "coalesce(starts_on, 'infinity'::date)", "date"},
    {NULL, NULL, NULL}};

void campaigns_list(struct request *r)
{
    static const char *const allowed[] = {"limit",         "cursor",   "sort",      "status",
                                          "channel",       "owner_id", "active_on", "q",
                                          "updated_since", NULL};
    const char *status = req_query(r, "status"), *channel = req_query(r, "channel");
    const char *owner = req_query(r, "owner_id"), *active = req_query(r, "active_on");
    const char *text = req_query(r, "q"), *since = req_query(r, "updated_since");
    char like[700];
    struct listing l;
    struct qb q;

    if (!req_query_allowed(r, allowed) || !list_params(r, &l, sorts, "-created_at"))
        return;
    if (status && !jv_in_list(status, statuses)) {
        reply_bad_param(r, "status", "must be planned, active, paused, completed or archived");
        return;
    }
    if (channel && !jv_in_list(channel, channels)) {
        reply_bad_param(r, "channel", "is not a known channel");
        return;
    }
    if (owner && !util_is_uuid(owner)) {
        reply_bad_param(r, "owner_id", "must be a UUID");
        return;
    }
    if (active && !jv_date_valid(active)) {
        reply_bad_param(r, "active_on", "must be a date YYYY-MM-DD");
        return;
    }
    if (since && !jv_timestamp_valid(since)) {
        reply_bad_param(r, "updated_since", "must be an RFC 3339 timestamp with a time zone");
        return;
    }
    if (text && (jv_utf8_chars(text) < 1 || jv_utf8_chars(text) > 200 ||
                 !like_escape(text, like, sizeof like))) {
        reply_bad_param(r, "q", "must be 1 to 200 characters");
        return;
    }
    list_begin(&q, "SELECT " CAMPAIGN_COLUMNS ", ", &l);
    qb_addp(&q, ", id FROM campaigns WHERE workspace_id = $?", r->auth.workspace_id);
    if (status)
        qb_addp(&q, " AND status = $?", status);
    if (channel)
        qb_addp(&q, " AND channel = $?", channel);
    if (owner)
        qb_addp(&q, " AND owner_id = $?::uuid", owner);
    if (active) {
        qb_addp(&q, " AND starts_on <= $?::date", active);
        qb_addp(&q, " AND (ends_on IS NULL OR ends_on >= $?::date)", active);
    }
    if (since)
        qb_addp(&q, " AND updated_at >= $?::timestamptz", since);
    if (text) {
        qb_addp(&q, " AND ll_fold(name) LIKE '%' || ll_fold($?) || '%'", like);
        list_apply_search(&q, &l, "id", "campaigns", r->auth.workspace_id);
    } else {
        list_apply(&q, &l, "id");
    }
    list_answer(r, &q, &l, campaigns_json);
    qb_free(&q);
}
