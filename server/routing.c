/* Routing (include/leadloop/routing.h): the admin API of pools, members, absences and
 * rules, the dry run, routing on demand, the assignment log and the re-assignment pass.
 * What routing decides is SQL's (sql/functions/74_routing.sql); this file validates,
 * calls it and answers. Every statement names the caller's workspace. */
#include "leadloop/routing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadloop/auth.h"
#include "leadloop/conditional.h"
#include "leadloop/db.h"
#include "leadloop/janitor.h"
#include "leadloop/jsonv.h"
#include "leadloop/lead_route.h"
#include "leadloop/log.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/resource.h"
#include "leadloop/util.h"

#define MAX_RULES      200
#define MAX_CONDITIONS 20
#define MAX_IN_VALUES  100

static const char pool_not_found[] = "no routing pool with this id";
static const char absence_not_found[] = "no absence with this id";
static const char *const methods[] = {"round_robin", "weighted", "least_loaded", NULL};

/* ------------------------------------------------------------------ pools */

#define POOL_COLUMNS_WITH(members)                                                                 \
    "p.id, p.name, p.method, p.reassign_after_minutes, " members                                   \
    ", p.version, " DB_TS("p.created_at") ", " DB_TS("p.updated_at")
#define POOL_COLUMNS                                                                               \
    POOL_COLUMNS_WITH("(SELECT count(*) FROM routing_pool_members m"                               \
                      " WHERE m.workspace_id = p.workspace_id AND m.pool_id = p.id)")
#define POOL_VERSION 5

/* A new pool has no members: no count over the INSERT's RETURNING (Citus refuses a
 * correlated subquery over it, the CTE of an INSERT being planned apart). */
static const char sql_pool_insert[] =
    "WITH p AS (INSERT INTO routing_pools (workspace_id, name, method, reassign_after_minutes)"
    " VALUES ($1, $2, $3, $4::integer) RETURNING *) SELECT " POOL_COLUMNS_WITH("0") " FROM p";
static const char sql_pool_get[] =
    "SELECT " POOL_COLUMNS " FROM routing_pools p WHERE p.workspace_id = $1 AND p.id = $2";
static const char sql_pool_version[] =
    "SELECT version FROM routing_pools WHERE workspace_id = $1 AND id = $2";
/* $3 name, $4 method, $5 minutes given, $6 minutes, $7 If-Match version */
static const char sql_pool_update[] =
    "WITH p AS (UPDATE routing_pools SET name = coalesce($3, name), method = coalesce($4, method),"
    " reassign_after_minutes = CASE WHEN $5::boolean THEN $6::integer"
    " ELSE reassign_after_minutes END, version = version + 1, updated_at = now()"
    " WHERE workspace_id = $1 AND id = $2 AND ($7::integer IS NULL OR version = $7)"
    " RETURNING *) SELECT " POOL_COLUMNS_WITH(
        "(SELECT count(*) FROM routing_pool_members m"
        " WHERE m.workspace_id = $1 AND m.pool_id = $2)") " FROM p"; /* (the count by the
                                                                      * parameters, not correlated
                                                                      * with the UPDATE's RETURNING,
                                                                      * which Citus refuses, as for
                                                                      * the insert above) */
static const char sql_pool_targeted[] =
    "SELECT position FROM routing_rules WHERE workspace_id = $1 AND target_pool_id = $2"
    " ORDER BY position LIMIT 1";
static const char sql_pool_delete[] =
    "DELETE FROM routing_pools WHERE workspace_id = $1 AND id = $2"
    " AND ($3::integer IS NULL OR version = $3) RETURNING id";

static const struct sort_key pool_sorts[] = {
    {"created_at", "p.created_at", "timestamptz"}, {"name", "p.name", "text"}, {NULL}};
static const char *const pool_fields[] = {"name", "method", "reassign_after_minutes", NULL};
static const char *const pool_readonly[] = {"id",         "members",    "version",
                                            "created_at", "updated_at", NULL};

static json_t *pool_json(const PGresult *res, int row)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", db_json_text(res, row, 0),
                     "name", db_json_text(res, row, 1), "method", db_json_text(res, row, 2),
                     "reassign_after_minutes", db_json_int(res, row, 3), "members",
                     db_json_int(res, row, 4), "version", db_json_int(res, row, POOL_VERSION),
                     "created_at", db_json_text(res, row, 6), "updated_at",
                     db_json_text(res, row, 7));
}

static void pool_answer(struct request *r, int status, const PGresult *res)
{
    reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, POOL_VERSION));
    if (status == 201)
        reply_header(r, "Location", "/v1/routing/pools/%s", PQgetvalue(res, 0, 0));
    reply_json(r, status, pool_json(res, 0));
}

/* Answers a problem with one field's message. */
static void refuse(struct request *r, enum ll_err err, const char *detail, const char *field,
                   const char *message)
{
    reply_problem(r, err, detail, json_pack("[{s:s, s:s}]", "field", field, "message", message),
                  NULL);
}

static void pool_read(struct jv *v, json_t *body, bool create, const char **name,
                      const char **method, bool *has_minutes, char minutes[24], bool *minutes_null)
{
    jv_string(v, body, "name", create, 1, 200, name);
    jv_enum(v, body, "method", create, methods, method);
    *has_minutes =
        jv_int(v, body, "reassign_after_minutes", false, true, 1, 525600, minutes, minutes_null);
}

void routing_pools_create(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *name = NULL, *method = NULL;
    char minutes[24] = "";
    bool has_minutes = false, minutes_null = false;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, pool_fields, pool_readonly);
    pool_read(&v, body, true, &name, &method, &has_minutes, minutes, &minutes_null);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the routing pool is not valid", jv_take(&v), NULL);
        goto out;
    }
    const char *vals[4] = {r->auth.workspace_id, name, method,
                           has_minutes && !minutes_null ? minutes : NULL};
    res = db_exec(r->db, sql_pool_insert, 4, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else
        pool_answer(r, 201, res);
out:
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void routing_pools_list(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort", NULL};
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, pool_sorts, "created_at"))
        return;
    list_begin(&q, "SELECT " POOL_COLUMNS ", ", &l);
    qb_addp(&q, ", p.id FROM routing_pools p WHERE p.workspace_id = $?", r->auth.workspace_id);
    list_apply(&q, &l, "p.id");
    list_answer(r, &q, &l, pool_json);
    qb_free(&q);
}

void routing_pools_get(struct request *r)
{
    PGresult *res = req_fetch_by_id(r, sql_pool_get, pool_not_found);
    if (res)
        pool_answer(r, 200, res);
    PQclear(res);
}

static void pool_no_row(struct request *r, const struct conditional *cond)
{
    long current = 0;
    enum ll_err err = conditional_no_row(r->db, sql_pool_version, r->auth.workspace_id,
                                         r->params[0], cond, &current);
    conditional_reply(r, err, current, pool_not_found, "the pool changed meanwhile; retry");
}

void routing_pools_update(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *name = NULL, *method = NULL;
    char minutes[24] = "";
    bool has_minutes = false, minutes_null = false;
    struct conditional cond;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL))
        goto out;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, pool_not_found, NULL, NULL);
        goto out;
    }
    if (!(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, pool_fields, pool_readonly);
    if (json_is_null(json_object_get(body, "name")))
        jv_add(&v, "name", "cannot be removed (null)");
    if (json_is_null(json_object_get(body, "method")))
        jv_add(&v, "method", "cannot be removed (null)");
    if (jv_ok(&v))
        pool_read(&v, body, false, &name, &method, &has_minutes, minutes, &minutes_null);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the change is not valid", jv_take(&v), NULL);
        goto out;
    }
    conditional_from_request(&cond, r);
    const char *vals[7] = {r->auth.workspace_id,
                           r->params[0],
                           name,
                           method,
                           has_minutes ? "true" : "false",
                           has_minutes && !minutes_null ? minutes : NULL,
                           conditional_param(&cond)};
    res = db_exec(r->db, sql_pool_update, 7, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        pool_no_row(r, &cond);
    else
        pool_answer(r, 200, res);
out:
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void routing_pools_delete(struct request *r)
{
    PGresult *res = NULL;
    struct conditional cond;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, pool_not_found, NULL, NULL);
        return;
    }
    const char *vals[3] = {r->auth.workspace_id, r->params[0], NULL};
    res = db_exec(r->db, sql_pool_targeted, 2, vals);
    if ((err = db_check(r->db, res)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    if (PQntuples(res) > 0) {
        char detail[120];
        snprintf(detail, sizeof detail,
                 "rules[%d] routes to this pool: change the rules (PUT /v1/routing/rules) first",
                 atoi(PQgetvalue(res, 0, 0)));
        reply_problem(r, LL_E_CONFLICT, detail, NULL, NULL);
        goto out;
    }
    PQclear(res);
    conditional_from_request(&cond, r);
    vals[2] = conditional_param(&cond);
    res = db_exec(r->db, sql_pool_delete, 3, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        pool_no_row(r, &cond);
    else
        reply_empty(r, 204);
out:
    PQclear(res);
}

/* ------------------------------------------------------------------ members */

/* A member as routing sees it now (ll_routing_members): its settings, state, open leads
 * and why it cannot take a lead (NULL: it can). */
#define MEMBER_COLUMNS                                                                             \
    "m.user_id, m.weight, m.cap, m.hours::text, m.assigned, " DB_TS(                               \
        "m.last_assigned_at") ", s.open, s.why, m.version, " DB_TS("m.created_at") ", " DB_TS("m." \
                                                                                              "up" \
                                                                                              "da" \
                                                                                              "te" \
                                                                                              "d_" \
                                                                                              "a"  \
                                                                                              "t")
#define MEMBER_FROM                                                                                \
    " FROM routing_pool_members m JOIN ll_routing_members($1, $2, '{}') s"                         \
    " ON s.user_id = m.user_id WHERE m.workspace_id = $1 AND m.pool_id = $2"

static const char sql_pool_exists[] =
    "SELECT 1 FROM routing_pools WHERE workspace_id = $1 AND id = $2";
static const char sql_members[] = "SELECT " MEMBER_COLUMNS MEMBER_FROM " ORDER BY m.created_at,"
                                  " m.user_id";
static const char sql_member_one[] = "SELECT " MEMBER_COLUMNS MEMBER_FROM " AND m.user_id = $3";
/* $3 user, $4 weight, $5 cap, $6 hours. A joiner starts at the ratio of assigned leads to
 * weight the others have (no burst of leads for them), at the back of the round robin; a
 * new weight keeps the member's ratio. Answers whether the row was new. */
static const char sql_member_put[] =
    "WITH p AS (SELECT id, turn FROM routing_pools WHERE workspace_id = $1 AND id = $2"
    " FOR UPDATE),"
    " u AS (SELECT id FROM users WHERE workspace_id = $1 AND id = $3),"
    " o AS (SELECT sum(assigned) AS a, sum(weight) AS w FROM routing_pool_members"
    " WHERE workspace_id = $1 AND pool_id = $2 AND user_id <> $3)"
    " INSERT INTO routing_pool_members AS m (workspace_id, pool_id, user_id, weight, cap, hours,"
    " assigned, last_turn)"
    " SELECT $1, p.id, u.id, $4::integer, $5::integer, $6::jsonb,"
    " coalesce(round(o.a::numeric * $4::integer / nullif(o.w, 0)), 0), p.turn FROM p, u, o"
    " ON CONFLICT (workspace_id, pool_id, user_id) DO UPDATE SET weight = excluded.weight,"
    " cap = excluded.cap, hours = excluded.hours,"
    " assigned = round(m.assigned::numeric * excluded.weight / m.weight),"
    " version = m.version + 1, updated_at = excluded.updated_at"
    " RETURNING xmax = 0";
static const char sql_member_delete[] =
    "DELETE FROM routing_pool_members WHERE workspace_id = $1 AND pool_id = $2 AND user_id = $3"
    " RETURNING user_id";
static const char sql_time_zone[] = "SELECT 1 FROM pg_timezone_names WHERE name = $1 LIMIT 1";

static json_t *json_column(const PGresult *res, int row, int col)
{
    json_t *j = PQgetisnull(res, row, col) ? NULL : json_loads(PQgetvalue(res, row, col), 0, NULL);
    return j ? j : json_null();
}

static json_t *member_json(const PGresult *res, int row)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:o}", "user_id",
                     db_json_text(res, row, 0), "weight", db_json_int(res, row, 1), "cap",
                     db_json_int(res, row, 2), "working_hours", json_column(res, row, 3),
                     "assigned", db_json_int(res, row, 4), "last_assigned_at",
                     db_json_text(res, row, 5), "open_leads", db_json_int(res, row, 6), "eligible",
                     PQgetisnull(res, row, 7), "why_not", db_json_text(res, row, 7), "version",
                     db_json_int(res, row, 8), "created_at", db_json_text(res, row, 9),
                     "updated_at", db_json_text(res, row, 10));
}

void routing_members_list(struct request *r)
{
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL) || !req_owned(r, sql_pool_exists, pool_not_found))
        return;
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    res = db_exec(r->db, sql_members, 2, vals);
    if ((err = db_check(r->db, res)) != LL_OK) {
        reply_db_error(r, err);
    } else {
        json_t *data = json_array();
        for (int i = 0; i < PQntuples(res); i++)
            json_array_append_new(data, member_json(res, i));
        reply_json(r, 200, json_pack("{s:o, s:n}", "data", data, "next_cursor"));
    }
    PQclear(res);
}

/* "HH:MM", 00:00 to 23:59. */
static bool clock_ok(const char *s)
{
    return s && strlen(s) == 5 && s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' &&
           s[2] == ':' && s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9' &&
           (s[0] < '2' || s[1] <= '3');
}

/* working_hours {time_zone, days, start, end}: the shape here, the time zone's name by the
 * database (*tz, borrowed, for the caller to check). */
static void hours_read(struct jv *v, json_t *h, const char **tz)
{
    static const char *const keys[] = {"time_zone", "days", "start", "end", NULL};
    json_t *days, *d;
    size_t i;
    const char *start = NULL, *end = NULL;
    char field[64];
    *tz = NULL;
    if (!json_is_object(h)) {
        jv_add(v, "working_hours", "must be an object {time_zone, days, start, end} or null");
        return;
    }
    const char *key;
    json_t *val;
    json_object_foreach(h, key, val)
    {
        if (!jv_in_list(key, keys))
            jv_add(v, "working_hours", "has no member %.64s", key);
    }
    if (!json_is_string(json_object_get(h, "time_zone")))
        jv_add(v, "working_hours.time_zone", "is required: an IANA time zone (as Europe/Berlin)");
    else
        *tz = json_string_value(json_object_get(h, "time_zone"));
    days = json_object_get(h, "days");
    if (!json_is_array(days) || json_array_size(days) < 1 || json_array_size(days) > 7)
        jv_add(v, "working_hours.days", "is required: 1 to 7 ISO weekdays (1 Monday .. 7 Sunday)");
    else
        json_array_foreach(days, i, d)
        {
            bool dup = false;
            for (size_t k = 0; k < i; k++)
                dup = dup || json_equal(json_array_get(days, k), d);
            if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 7 ||
                dup) {
                snprintf(field, sizeof field, "working_hours.days[%zu]", i);
                jv_add(v, field, "must be a weekday 1..7, each once");
            }
        }
    start = json_string_value(json_object_get(h, "start"));
    end = json_string_value(json_object_get(h, "end"));
    if (!clock_ok(start))
        jv_add(v, "working_hours.start", "is required: a time of day HH:MM");
    if (!clock_ok(end))
        jv_add(v, "working_hours.end", "is required: a time of day HH:MM");
    else if (start && !strcmp(start, end))
        jv_add(v, "working_hours.end", "must differ from start");
}

void routing_members_put(struct request *r)
{
    static const char *const fields[] = {"weight", "cap", "working_hours", NULL};
    static const char *const readonly[] = {
        "user_id", "assigned", "last_assigned_at", "open_leads", "eligible",
        "why_not", "version",  "created_at",       "updated_at", NULL};
    json_t *body = NULL;
    PGresult *res = NULL;
    char weight[24] = "1", cap[24] = "";
    bool cap_null = true, null = false;
    char *hours = NULL;
    const char *tz = NULL;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL))
        goto out;
    if (!util_is_uuid(r->params[0]) || !util_is_uuid(r->params[1])) {
        reply_problem(r, LL_E_NOT_FOUND,
                      util_is_uuid(r->params[0]) ? "no user with this id" : pool_not_found, NULL,
                      NULL);
        goto out;
    }
    if (!(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, fields, readonly);
    jv_int(&v, body, "weight", false, false, 1, 1000, weight, &null);
    if (!jv_int(&v, body, "cap", false, true, 0, 1000000, cap, &cap_null))
        cap_null = true;
    json_t *h = json_object_get(body, "working_hours");
    if (h && !json_is_null(h)) {
        hours_read(&v, h, &tz);
        if (jv_ok(&v))
            hours = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    }
    if (jv_ok(&v) && tz) {
        const char *tv[1] = {tz};
        res = db_exec(r->db, sql_time_zone, 1, tv);
        if ((err = db_check(r->db, res)) != LL_OK) {
            reply_db_error(r, err);
            goto out;
        }
        if (PQntuples(res) == 0)
            jv_add(&v, "working_hours.time_zone",
                   "is not a time zone name of the IANA database (as Europe/Berlin)");
        PQclear(res);
        res = NULL;
    }
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the member is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (!req_owned(r, sql_pool_exists, pool_not_found))
        goto out;
    const char *vals[6] = {r->auth.workspace_id,  r->params[0], r->params[1], weight,
                           cap_null ? NULL : cap, hours};
    res = db_exec(r->db, sql_member_put, 6, vals);
    if ((err = db_check(r->db, res)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    if (PQntuples(res) == 0) {
        reply_problem(r, LL_E_NOT_FOUND, "no user with this id", NULL, NULL);
        goto out;
    }
    int status = PQgetvalue(res, 0, 0)[0] == 't' ? 201 : 200;
    PQclear(res);
    res = db_exec(r->db, sql_member_one, 3, vals);
    if ((err = db_check(r->db, res)) != LL_OK || PQntuples(res) == 0) {
        reply_db_error(r, err ? err : LL_E_INTERNAL);
        goto out;
    }
    if (status == 201)
        reply_header(r, "Location", "/v1/routing/pools/%s/members/%s", r->params[0], r->params[1]);
    reply_json(r, status, member_json(res, 0));
out:
    free(hours);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void routing_members_delete(struct request *r)
{
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL) || !req_owned(r, sql_pool_exists, pool_not_found))
        return;
    if (!util_is_uuid(r->params[1])) {
        reply_problem(r, LL_E_NOT_FOUND, "the pool has no member with this user id", NULL, NULL);
        return;
    }
    const char *vals[3] = {r->auth.workspace_id, r->params[0], r->params[1]};
    res = db_exec(r->db, sql_member_delete, 3, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, "the pool has no member with this user id", NULL, NULL);
    else
        reply_empty(r, 204);
    PQclear(res);
}

/* ------------------------------------------------------------------ absences */

#define ABSENCE_COLUMNS                                                                            \
    "a.id, a.user_id, " DB_TS("a.starts_at") ", " DB_TS("a.ends_at") ", a.note, " DB_TS(           \
        "a.created_at")

/* The user, locked against a concurrent absence of theirs (FOR NO KEY UPDATE: rows that
 * only refer to the user are not held off), then the overlap, then the row: overlapping
 * absences need no exclusion constraint (btree_gist is an extension). */
static const char sql_absence_lock[] =
    "SELECT 1 FROM users WHERE workspace_id = $1 AND id = $2 FOR NO KEY UPDATE";
static const char sql_absence_overlap[] =
    "SELECT id FROM routing_absences WHERE workspace_id = $1 AND user_id = $2"
    " AND starts_at < $4::timestamptz AND ends_at > $3::timestamptz ORDER BY starts_at LIMIT 1";
static const char sql_absence_insert[] =
    "WITH a AS (INSERT INTO routing_absences (workspace_id, user_id, starts_at, ends_at, note)"
    " VALUES ($1, $2, $3, $4, $5) RETURNING *) SELECT " ABSENCE_COLUMNS " FROM a";
static const char sql_absence_delete[] =
    "DELETE FROM routing_absences WHERE workspace_id = $1 AND id = $2 RETURNING id";

static const struct sort_key absence_sorts[] = {{"starts_at", "a.starts_at", "timestamptz"},
                                                {NULL}};

static json_t *absence_json(const PGresult *res, int row)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "id", db_json_text(res, row, 0), "user_id",
                     db_json_text(res, row, 1), "starts_at", db_json_text(res, row, 2), "ends_at",
                     db_json_text(res, row, 3), "note", db_json_text(res, row, 4), "created_at",
                     db_json_text(res, row, 5));
}

struct absence {
    const char *vals[5];
    enum ll_err refused; /* NOT_FOUND: no such user; CONFLICT: overlaps `other` */
    char other[40];
    PGresult *res;
};

static enum ll_err absence_run(struct db_conn *db, void *arg)
{
    struct absence *a = arg;
    enum ll_err err;
    PQclear(a->res);
    a->res = NULL;
    a->refused = LL_OK;
    PGresult *res = db_exec(db, sql_absence_lock, 2, a->vals);
    if ((err = db_check(db, res)) == LL_OK && PQntuples(res) == 0)
        err = a->refused = LL_E_NOT_FOUND;
    PQclear(res);
    if (err)
        return err;
    res = db_exec(db, sql_absence_overlap, 4, a->vals);
    if ((err = db_check(db, res)) == LL_OK && PQntuples(res) > 0) {
        err = a->refused = LL_E_CONFLICT;
        snprintf(a->other, sizeof a->other, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    if (err)
        return err;
    a->res = db_exec(db, sql_absence_insert, 5, a->vals);
    return db_check(db, a->res);
}

void routing_absences_create(struct request *r)
{
    static const char *const fields[] = {"user_id", "starts_at", "ends_at", "note", NULL};
    static const char *const readonly[] = {"id", "created_at", NULL};
    json_t *body = NULL;
    const char *user = NULL, *starts = NULL, *ends = NULL, *note = NULL;
    bool null = false;
    struct absence a = {{NULL}, LL_OK, "", NULL};
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, fields, readonly);
    jv_uuid(&v, body, "user_id", true, false, &user, &null);
    bool both = jv_timestamp(&v, body, "starts_at", true, &starts);
    both = jv_timestamp(&v, body, "ends_at", true, &ends) && both;
    jv_text(&v, body, "note", false, true, 0, 500, &note, &null);
    if (both && jv_timestamp_epoch(ends) <= jv_timestamp_epoch(starts))
        jv_add(&v, "ends_at", "must be after starts_at");
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the absence is not valid", jv_take(&v), NULL);
        goto out;
    }
    a.vals[0] = r->auth.workspace_id;
    a.vals[1] = user;
    a.vals[2] = starts;
    a.vals[3] = ends;
    a.vals[4] = note;
    err = db_tx_run(r->db, absence_run, &a);
    if (a.refused == LL_E_NOT_FOUND) {
        refuse(r, LL_E_VALIDATION, "the absence is not valid", "user_id", "no user with this id");
    } else if (a.refused == LL_E_CONFLICT) {
        char msg[120];
        snprintf(msg, sizeof msg, "overlaps the user's absence %s", a.other);
        refuse(r, LL_E_CONFLICT, "the user is already absent then", "starts_at", msg);
    } else if (err != LL_OK) {
        reply_db_error(r, err);
    } else {
        reply_header(r, "Location", "/v1/routing/absences/%s", PQgetvalue(a.res, 0, 0));
        reply_json(r, 201, absence_json(a.res, 0));
    }
out:
    PQclear(a.res);
    json_decref(body);
    jv_free(&v);
}

void routing_absences_list(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort", "user_id", NULL};
    const char *user = req_query(r, "user_id");
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, absence_sorts, "starts_at"))
        return;
    if (user && !util_is_uuid(user)) {
        (void)reply_bad_param(r, "user_id", "must be a user's id (a UUID)");
        return;
    }
    list_begin(&q, "SELECT " ABSENCE_COLUMNS ", ", &l);
    qb_addp(&q, ", a.id FROM routing_absences a WHERE a.workspace_id = $?", r->auth.workspace_id);
    if (user)
        qb_addp(&q, " AND a.user_id = $?", user);
    list_apply(&q, &l, "a.id");
    list_answer(r, &q, &l, absence_json);
    qb_free(&q);
}

void routing_absences_delete(struct request *r)
{
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, absence_not_found, NULL, NULL);
        return;
    }
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    res = db_exec(r->db, sql_absence_delete, 2, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, absence_not_found, NULL, NULL);
    else
        reply_empty(r, 204);
    PQclear(res);
}

/* ------------------------------------------------------------------ rules */

/* The document: its version (0 before the first PUT) and its rules, in order. */
static const char sql_rules_get[] =
    "SELECT coalesce((SELECT version FROM routing_rulesets WHERE workspace_id = $1), 0),"
    " coalesce((SELECT json_agg(json_build_object('id', r.id, 'name', r.name,"
    " 'conditions', r.conditions, 'target', CASE WHEN r.target_user_id IS NOT NULL"
    " THEN json_build_object('user_id', r.target_user_id)"
    " ELSE json_build_object('pool_id', r.target_pool_id) END,"
    " 'reassign_owned', r.reassign_owned) ORDER BY r.position)"
    " FROM routing_rules r WHERE r.workspace_id = $1), '[]')::text";
/* The document's row, made on the first PUT, locked (an upsert locks the row it finds). */
static const char sql_ruleset_lock[] =
    "INSERT INTO routing_rulesets AS s (workspace_id) VALUES ($1)"
    " ON CONFLICT (workspace_id) DO UPDATE SET version = s.version RETURNING version";
/* Which rules name what the workspace lacks: (index, what) for an unknown rule id, an
 * unknown user, an unknown pool or a pool without members. $2: the rules. */
static const char sql_rules_refs[] =
    "SELECT x.i - 1, CASE"
    " WHEN x.r ->> 'id' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM routing_rules o"
    " WHERE o.workspace_id = $1 AND o.id = (x.r ->> 'id')::uuid) THEN 'id'"
    " WHEN x.r -> 'target' ->> 'user_id' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u"
    " WHERE u.workspace_id = $1 AND u.id = (x.r -> 'target' ->> 'user_id')::uuid) THEN 'user'"
    " WHEN x.r -> 'target' ->> 'pool_id' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM routing_pools"
    " p WHERE p.workspace_id = $1 AND p.id = (x.r -> 'target' ->> 'pool_id')::uuid) THEN 'pool'"
    " WHEN x.r -> 'target' ->> 'pool_id' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
    " routing_pool_members m WHERE m.workspace_id = $1"
    " AND m.pool_id = (x.r -> 'target' ->> 'pool_id')::uuid) THEN 'empty' END"
    " FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY x(r, i) ORDER BY x.i";
static const char sql_rules_clear[] = "DELETE FROM routing_rules WHERE workspace_id = $1";
static const char sql_rules_insert[] =
    "INSERT INTO routing_rules (workspace_id, id, position, name, conditions, target_user_id,"
    " target_pool_id, reassign_owned)"
    " SELECT $1, coalesce((x.r ->> 'id')::uuid, gen_random_uuid()), x.i, x.r ->> 'name',"
    " coalesce(x.r -> 'conditions', '[]'), (x.r -> 'target' ->> 'user_id')::uuid,"
    " (x.r -> 'target' ->> 'pool_id')::uuid, coalesce((x.r ->> 'reassign_owned')::boolean, false)"
    " FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY x(r, i)";
static const char sql_ruleset_bump[] =
    "UPDATE routing_rulesets SET version = version + 1, updated_at = now()"
    " WHERE workspace_id = $1";

static void rules_answer(struct request *r, int status, const PGresult *res)
{
    json_t *rules = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 0));
    reply_json(r, status,
               json_pack("{s:o, s:o}", "rules", rules ? rules : json_array(), "version",
                         db_json_int(res, 0, 0)));
}

void routing_rules_get(struct request *r)
{
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    const char *vals[1] = {r->auth.workspace_id};
    res = db_exec(r->db, sql_rules_get, 1, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else
        rules_answer(r, 200, res);
    PQclear(res);
}

enum cond_kind { K_TEXT, K_SCORE, K_ID };

/* One condition {field, op, value} of rules[i]; *lo and *hi narrow the score range the
 * rule's gte and lte leave (a range that is empty can never match). */
static void condition_read(struct jv *v, json_t *c, const char *at, long *lo, long *hi, json_t *eqs)
{
    static const char *const keys[] = {"field", "op", "value", NULL};
    static const char *const plain[] = {"source",
                                        "country",
                                        "company",
                                        "title",
                                        "email_domain",
                                        "first_campaign_id",
                                        "latest_campaign_id",
                                        "score",
                                        NULL};
    char f[128];
    const char *field, *op, *key;
    json_t *value, *x;
    size_t i;
    enum cond_kind kind = K_TEXT;

    if (!json_is_object(c)) {
        jv_add(v, at, "must be an object {field, op, value}");
        return;
    }
    json_object_foreach(c, key, x)
    {
        if (!jv_in_list(key, keys)) {
            snprintf(f, sizeof f, "%.80s.%.32s", at, key);
            jv_add(v, f, "is not a member of a condition");
        }
    }
    field = json_string_value(json_object_get(c, "field"));
    op = json_string_value(json_object_get(c, "op"));
    value = json_object_get(c, "value");
    snprintf(f, sizeof f, "%.80s.field", at);
    if (!field || (!jv_in_list(field, plain) &&
                   (strncmp(field, "custom.", 7) || strlen(field) < 8 || strlen(field) > 71))) {
        jv_add(v, f,
               "must be source, country, company, title, email_domain, first_campaign_id, "
               "latest_campaign_id, score or custom.<key>");
        return;
    }
    if (!strcmp(field, "score"))
        kind = K_SCORE;
    else if (strstr(field, "campaign_id"))
        kind = K_ID;
    snprintf(f, sizeof f, "%.80s.op", at);
    bool ok_op = op && (!strcmp(op, "eq") || !strcmp(op, "in") ||
                        (kind == K_TEXT && !strcmp(op, "contains")) ||
                        (kind == K_SCORE && (!strcmp(op, "gte") || !strcmp(op, "lte"))));
    if (!ok_op) {
        jv_add(v, f, "%s",
               kind == K_SCORE ? "must be eq, in, gte or lte for the score"
               : kind == K_ID  ? "must be eq or in for a campaign id"
                               : "must be eq, in or contains for a text field");
        return;
    }
    snprintf(f, sizeof f, "%.80s.value", at);
    bool list = !strcmp(op, "in");
    if (list && (!json_is_array(value) || json_array_size(value) == 0 ||
                 json_array_size(value) > MAX_IN_VALUES)) {
        jv_add(v, f, "must be a list of 1 to %d values (an empty list can never match)",
               MAX_IN_VALUES);
        return;
    }
    for (i = 0; i < (list ? json_array_size(value) : 1); i++) {
        x = list ? json_array_get(value, i) : value;
        bool good = kind == K_SCORE ? json_is_integer(x)
                    : kind == K_ID  ? json_is_string(x) && util_is_uuid(json_string_value(x))
                                    : json_is_string(x) && json_string_length(x) >= 1 &&
                                         jv_utf8_chars(json_string_value(x)) <= 200;
        if (!good) {
            jv_add(v, f, "%s%s", list ? "each value " : "",
                   kind == K_SCORE ? "must be an integer"
                   : kind == K_ID  ? "must be a campaign id (a UUID)"
                                   : "must be a text of 1 to 200 characters");
            return;
        }
    }
    if (kind == K_SCORE && !list) {
        long n = (long)json_integer_value(value);
        if (!strcmp(op, "gte") && n > *lo)
            *lo = n;
        if (!strcmp(op, "lte") && n < *hi)
            *hi = n;
        if (!strcmp(op, "eq")) {
            *lo = n > *lo ? n : *lo;
            *hi = n < *hi ? n : *hi;
        }
        if (*lo > *hi)
            jv_add(v, f,
                   "contradicts the rule's other score conditions: no score is >= %ld and "
                   "<= %ld",
                   *lo, *hi);
    } else if (!strcmp(op, "eq")) {
        /* two eq of one field with different values can never both hold */
        json_t *prev = json_object_get(eqs, field);
        if (prev && !(json_is_string(prev) && json_is_string(value) &&
                      !strcasecmp(json_string_value(prev), json_string_value(value))))
            jv_add(v, f, "contradicts an earlier eq condition on %s", field);
        else
            json_object_set(eqs, field, value);
    }
}

/* One rule of the document: its members, conditions and target. *catch_all: it has no
 * conditions. */
static void rule_read(struct jv *v, json_t *rule, size_t i, bool *catch_all)
{
    static const char *const keys[] = {"id",     "name",           "conditions",
                                       "target", "reassign_owned", NULL};
    char at[48], f[96];
    const char *key;
    json_t *x, *conds, *target;
    *catch_all = false;
    snprintf(at, sizeof at, "rules[%zu]", i);
    if (!json_is_object(rule)) {
        jv_add(v, at, "must be an object");
        return;
    }
    json_object_foreach(rule, key, x)
    {
        if (!jv_in_list(key, keys)) {
            snprintf(f, sizeof f, "%s.%.32s", at, key);
            jv_add(v, f, "is not a member of a rule");
        }
    }
    snprintf(f, sizeof f, "%s.id", at);
    x = json_object_get(rule, "id");
    if (x && !json_is_null(x) && !(json_is_string(x) && util_is_uuid(json_string_value(x))))
        jv_add(v, f, "must be the id of one of the workspace's rules (a UUID), or absent");
    snprintf(f, sizeof f, "%s.name", at);
    x = json_object_get(rule, "name");
    if (x && !json_is_null(x) && !(json_is_string(x) && jv_utf8_chars(json_string_value(x)) <= 200))
        jv_add(v, f, "must be a text of at most 200 characters, or null");
    snprintf(f, sizeof f, "%s.reassign_owned", at);
    x = json_object_get(rule, "reassign_owned");
    if (x && !json_is_boolean(x))
        jv_add(v, f, "must be true or false");
    conds = json_object_get(rule, "conditions");
    snprintf(f, sizeof f, "%s.conditions", at);
    if (conds && !json_is_array(conds)) {
        jv_add(v, f, "must be a list of conditions ([] or absent: a catch-all)");
    } else if (json_array_size(conds) > MAX_CONDITIONS) {
        jv_add(v, f, "has more than %d conditions", MAX_CONDITIONS);
    } else {
        long lo = -2147483647L, hi = 2147483647L;
        json_t *eqs = json_object();
        size_t k;
        json_array_foreach(conds, k, x)
        {
            snprintf(f, sizeof f, "%s.conditions[%zu]", at, k);
            condition_read(v, x, f, &lo, &hi, eqs);
        }
        json_decref(eqs);
        *catch_all = json_array_size(conds) == 0;
    }
    target = json_object_get(rule, "target");
    snprintf(f, sizeof f, "%s.target", at);
    json_t *user = json_object_get(target, "user_id"), *pool = json_object_get(target, "pool_id");
    if (!json_is_object(target) || json_object_size(target) != 1 || (!user && !pool)) {
        jv_add(v, f,
               "is required: {\"user_id\": ...} or {\"pool_id\": ...} (a rule routes to a "
               "user or a pool, never to another rule)");
    } else {
        snprintf(f, sizeof f, "%s.target.%s", at, user ? "user_id" : "pool_id");
        x = user ? user : pool;
        if (!json_is_string(x) || !util_is_uuid(json_string_value(x)))
            jv_add(v, f, "must be an id (a UUID)");
    }
}

struct rules_put {
    const char *ws, *text;
    struct conditional cond;
    /* outcome */
    enum ll_err refused; /* PRECONDITION (version), VALIDATION (errors) */
    long version;
    json_t *errors;
};

static enum ll_err rules_put_run(struct db_conn *db, void *arg)
{
    struct rules_put *p = arg;
    const char *vals[2] = {p->ws, p->text};
    enum ll_err err;
    PGresult *res;
    p->refused = LL_OK;
    json_decref(p->errors);
    p->errors = NULL;
    res = db_exec(db, sql_ruleset_lock, 1, vals);
    if ((err = db_check(db, res)) != LL_OK || PQntuples(res) != 1) {
        PQclear(res);
        return err ? err : LL_E_INTERNAL;
    }
    p->version = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!conditional_allows(&p->cond, p->version))
        return p->refused = LL_E_PRECONDITION;
    res = db_exec(db, sql_rules_refs, 2, vals);
    if ((err = db_check(db, res)) != LL_OK) {
        PQclear(res);
        return err;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *what = PQgetvalue(res, i, 1);
        char f[64];
        if (PQgetisnull(res, i, 1))
            continue;
        if (!p->errors)
            p->errors = json_array();
        int k = atoi(PQgetvalue(res, i, 0));
        if (!strcmp(what, "id"))
            snprintf(f, sizeof f, "rules[%d].id", k);
        else if (!strcmp(what, "user"))
            snprintf(f, sizeof f, "rules[%d].target.user_id", k);
        else
            snprintf(f, sizeof f, "rules[%d].target.pool_id", k);
        json_array_append_new(
            p->errors,
            json_pack("{s:s, s:s}", "field", f, "message",
                      !strcmp(what, "id")
                          ? "is no rule of the workspace (leave it out for a new rule)"
                      : !strcmp(what, "user") ? "no user with this id"
                      : !strcmp(what, "pool") ? "no routing pool with this id"
                                              : "the pool has no members: it could route nothing"));
    }
    PQclear(res);
    if (p->errors)
        return p->refused = LL_E_VALIDATION;
    res = db_exec(db, sql_rules_clear, 1, vals);
    if ((err = db_check(db, res)) == LL_OK) {
        PQclear(res);
        res = db_exec(db, sql_rules_insert, 2, vals);
        err = db_check(db, res);
    }
    if (err == LL_OK) {
        PQclear(res);
        res = db_exec(db, sql_ruleset_bump, 1, vals);
        err = db_check(db, res);
    }
    PQclear(res);
    return err;
}

void routing_rules_put(struct request *r)
{
    json_t *body = NULL, *rules;
    PGresult *res = NULL;
    char *text = NULL;
    struct rules_put p = {0};
    struct jv v;
    enum ll_err err;
    size_t i, n, catch_all_at = (size_t)-1;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, (const char *const[]){"rules", NULL},
             (const char *const[]){"version", NULL});
    rules = json_object_get(body, "rules");
    if (!json_is_array(rules) || json_array_size(rules) > MAX_RULES) {
        jv_add(&v, "rules", "is required: a list of at most %d rules ([]: route nothing)",
               MAX_RULES);
    } else if (jv_ok(&v)) {
        n = json_array_size(rules);
        for (i = 0; i < n; i++) {
            bool catch_all = false;
            char f[48];
            json_t *rule = json_array_get(rules, i), *id = json_object_get(rule, "id");
            rule_read(&v, rule, i, &catch_all);
            for (size_t k = 0; k < i && json_is_string(id); k++)
                if (json_equal(json_object_get(json_array_get(rules, k), "id"), id)) {
                    snprintf(f, sizeof f, "rules[%zu].id", i);
                    jv_add(&v, f, "is the id of rules[%zu] too", k);
                }
            if (catch_all_at != (size_t)-1) {
                snprintf(f, sizeof f, "rules[%zu]", i);
                jv_add(&v, f, "comes after the catch-all rules[%zu] and can never match",
                       catch_all_at);
            } else if (catch_all) {
                catch_all_at = i;
            }
        }
        if (n > 0 && catch_all_at == (size_t)-1) {
            char f[48];
            snprintf(f, sizeof f, "rules[%zu].conditions", n - 1);
            jv_add(&v, f,
                   "the last rule must be a catch-all (no conditions), so that every lead "
                   "meets a rule");
        }
    }
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the routing rules are not valid", jv_take(&v), NULL);
        goto out;
    }
    text = json_dumps(rules, JSON_COMPACT);
    p.ws = r->auth.workspace_id;
    p.text = text;
    conditional_from_request(&p.cond, r);
    err = db_tx_run(r->db, rules_put_run, &p);
    if (p.refused == LL_E_PRECONDITION) {
        conditional_reply(r, LL_E_PRECONDITION, p.version, "no rules",
                          "the rules changed meanwhile; retry");
    } else if (p.refused == LL_E_VALIDATION) {
        reply_problem(r, LL_E_VALIDATION, "the routing rules are not valid", p.errors, NULL);
        p.errors = NULL;
    } else if (err != LL_OK) {
        reply_db_error(r, err);
    } else {
        const char *vals[1] = {r->auth.workspace_id};
        res = db_exec(r->db, sql_rules_get, 1, vals);
        if ((err = db_check(r->db, res)) != LL_OK)
            reply_db_error(r, err);
        else
            rules_answer(r, 200, res);
    }
out:
    json_decref(p.errors);
    free(text);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

/* ------------------------------------------------------------------ routing a lead */

#define PLAN_JSON(p)                                                                               \
    "json_build_object('outcome', " p ".outcome, 'rule_id', " p ".rule_id, 'pool_id', " p          \
    ".pool_id, 'owner_id', " p ".owner_id, 'skipped', " p ".skipped)"

/* What routing would do with the lead now, written nothing. */
static const char sql_dry_run[] =
    "SELECT json_build_object('lead_id', l.id, 'previous_owner_id', l.owner_id) ::jsonb"
    " || " PLAN_JSON("p") "::jsonb"
                          " FROM leads l, ll_routing_plan($1, l, false) p"
                          " WHERE l.workspace_id = $1 AND l.id = $2 AND l.merged_into IS NULL";
/* The same for a lead that does not exist: its fields ($2, validated) as a leads row. */
static const char sql_dry_run_fields[] =
    "SELECT json_build_object('lead_id', NULL, 'previous_owner_id', l.owner_id) ::jsonb"
    " || " PLAN_JSON("p") "::jsonb"
                          " FROM jsonb_populate_record(NULL::leads, $2::jsonb"
                          " || jsonb_build_object('workspace_id', $1::uuid)) l,"
                          " ll_routing_plan($1, l, false) p";

/* A lead's fields for a dry run: those rules read, and its owner. */
static void lead_fields_read(struct jv *v, json_t *lead)
{
    static const char *const text[] = {"source", "country", "company", "title", NULL};
    static const char *const ids[] = {"first_campaign_id", "latest_campaign_id", "owner_id", NULL};
    const char *key;
    json_t *x;
    char f[96];
    if (!json_is_object(lead)) {
        jv_add(v, "lead", "must be an object of the lead's fields");
        return;
    }
    json_object_foreach(lead, key, x)
    {
        snprintf(f, sizeof f, "lead.%.64s", key);
        if (json_is_null(x))
            continue;
        if (jv_in_list(key, text)) {
            if (!json_is_string(x) || jv_utf8_chars(json_string_value(x)) > 200)
                jv_add(v, f, "must be a text of at most 200 characters");
        } else if (jv_in_list(key, ids)) {
            if (!json_is_string(x) || !util_is_uuid(json_string_value(x)))
                jv_add(v, f, "must be an id (a UUID)");
        } else if (!strcmp(key, "email")) {
            if (!json_is_string(x) || !jv_email_valid(json_string_value(x)))
                jv_add(v, f, "must be an email address");
        } else if (!strcmp(key, "score")) {
            if (!json_is_integer(x) || json_integer_value(x) < -32768 ||
                json_integer_value(x) > 32767)
                jv_add(v, f, "must be an integer");
        } else if (!strcmp(key, "custom")) {
            if (!json_is_object(x))
                jv_add(v, f, "must be an object");
        } else {
            jv_add(v, f,
                   "is not a field routing reads (source, country, company, title, email, "
                   "score, first_campaign_id, latest_campaign_id, custom, owner_id)");
        }
    }
}

void routing_dry_run(struct request *r)
{
    json_t *body = NULL, *lead_fields;
    PGresult *res = NULL;
    const char *lead = NULL;
    char *fields = NULL;
    bool null = false;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, (const char *const[]){"lead_id", "lead", NULL}, NULL);
    lead_fields = json_object_get(body, "lead");
    if (lead_fields && json_object_get(body, "lead_id"))
        jv_add(&v, "lead", "give lead_id or lead, not both");
    else if (lead_fields)
        lead_fields_read(&v, lead_fields);
    else
        jv_uuid(&v, body, "lead_id", true, false, &lead, &null);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the dry run is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (lead_fields) {
        json_t *copy = json_deep_copy(lead_fields);
        json_t *custom = json_object_get(copy, "custom");
        if (json_is_null(custom))
            json_object_del(copy, "custom"); /* the column's default, {} */
        fields = json_dumps(copy, JSON_COMPACT);
        json_decref(copy);
    }
    const char *vals[2] = {r->auth.workspace_id, fields ? fields : lead};
    res = db_exec(r->db, fields ? sql_dry_run_fields : sql_dry_run, 2, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        refuse(r, LL_E_VALIDATION, "the dry run is not valid", "lead_id", "no lead with this id");
    else
        reply_json(r, 200, json_column(res, 0, 0));
out:
    free(fields);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

#define ASSIGNMENT_JSON(a)                                                                         \
    "json_build_object('id', " a ".id, 'lead_id', " a ".lead_id, 'rule_id', " a                    \
    ".rule_id, 'pool_id', " a ".pool_id, 'previous_owner_id', " a                                  \
    ".previous_owner_id, 'owner_id', " a ".owner_id, 'reason', " a ".reason, 'outcome', " a        \
    ".outcome, 'skipped', " a ".skipped, 'assigned_by', json_build_object('api_key_id', " a        \
    ".by_key_id, 'user_id', " a ".by_user_id), 'at', " DB_TS(a ".at") ")"

static const char sql_route[] =
    "SELECT x.outcome, x.owner_id, CASE WHEN (x.assignment).id IS NOT NULL THEN"
    " " ASSIGNMENT_JSON("(x.assignment)") "::text END"
                                          " FROM ll_lead_route($1, $2, $3, $4) x";

void routing_lead_route(struct request *r)
{
    PGresult *res = NULL;
    json_t *body = NULL;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    if (r->body_present && r->body_len > 0) {
        if (!(body = req_json_object(r)))
            return;
        if (json_object_size(body) > 0) {
            refuse(r, LL_E_VALIDATION, "routing a lead takes no fields",
                   json_object_iter_key(json_object_iter(body)), "is not a field of a route");
            goto out;
        }
    }
    if (!lead_route_found(r))
        goto out;
    const char *vals[4] = {r->auth.workspace_id, r->params[0], auth_key_or_null(&r->auth),
                           r->auth.user_id[0] ? r->auth.user_id : NULL};
    res = db_exec(r->db, sql_route, 4, vals);
    if ((err = db_check(r->db, res)) != LL_OK) {
        reply_db_error(r, err);
    } else if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        reply_problem(r, LL_E_NOT_FOUND, "no lead with this id", NULL, NULL);
    } else if (!strcmp(PQgetvalue(res, 0, 0), "gone")) {
        reply_problem(r, LL_E_GONE, "the lead was erased", NULL, NULL);
    } else {
        reply_json(r, 200,
                   json_pack("{s:o, s:o, s:o}", "outcome", db_json_text(res, 0, 0), "owner_id",
                             db_json_text(res, 0, 1), "assignment", json_column(res, 0, 2)));
    }
out:
    PQclear(res);
    json_decref(body);
}

static const struct sort_key assignment_sorts[] = {{"at", "g.at", "timestamptz"}, {NULL}};

static json_t *assignment_row(const PGresult *res, int row)
{
    return json_column(res, row, 0);
}

void routing_lead_assignments(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort", NULL};
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, assignment_sorts, "at"))
        return;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, "no lead with this id", NULL, NULL);
        return;
    }
    if (!lead_route_found(r))
        return;
    list_begin(&q, "SELECT " ASSIGNMENT_JSON("g") "::text, ", &l);
    qb_addp(&q, ", g.id FROM lead_assignments g WHERE g.workspace_id = $?", r->auth.workspace_id);
    qb_addp(&q, " AND g.lead_id = $?", r->params[0]);
    list_apply(&q, &l, "g.id");
    list_answer(r, &q, &l, assignment_row);
    qb_free(&q);
}

/* ------------------------------------------------------------------ re-assignment */

#define REASSIGN_BATCH "500"

static const char sql_reassign_ws[] = "SELECT ll_routing_reassign_due($1, $2::integer)";

void routing_reassign_due(struct request *r)
{
    PGresult *res = NULL;
    json_t *body = NULL;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    if (r->body_present && r->body_len > 0) {
        if (!(body = req_json_object(r)))
            return;
        if (json_object_size(body) > 0) {
            refuse(r, LL_E_VALIDATION, "the pass takes no fields",
                   json_object_iter_key(json_object_iter(body)), "is not a field of the pass");
            goto out;
        }
    }
    const char *vals[2] = {r->auth.workspace_id, REASSIGN_BATCH};
    res = db_exec(r->db, sql_reassign_ws, 2, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else
        reply_json(r, 200, json_pack("{s:o}", "settled", db_json_int(res, 0, 0)));
out:
    PQclear(res);
    json_decref(body);
}

static struct janitor janitor;

/* The workspaces with SLAs due (routing_sla_due: only the due ones are read). */
static const char sql_reassign_due[] =
    "SELECT DISTINCT workspace_id FROM routing_sla WHERE due_at <= now()";

/* Each workspace with SLAs due, a batch at a time until one comes back short (at most 20
 * batches a workspace a run), or the daemon stops: every statement names its workspace
 * (on Citus, one node runs it). */
static void reassign(struct janitor *j, PGconn *pg)
{
    PGresult *due = PQexec(pg, sql_reassign_due);
    if (PQresultStatus(due) != PGRES_TUPLES_OK)
        log_warn("%s: %s", j->name, PQresultErrorMessage(due));
    for (int i = 0; PQresultStatus(due) == PGRES_TUPLES_OK && i < PQntuples(due); i++) {
        const char *vals[2] = {PQgetvalue(due, i, 0), REASSIGN_BATCH};
        for (int batch = 0; batch < 20 && !janitor_stopping(j); batch++) {
            PGresult *res = PQexecParams(pg, sql_reassign_ws, 2, NULL, vals, NULL, NULL, 0);
            bool more = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                        atol(PQgetvalue(res, 0, 0)) >= atol(REASSIGN_BATCH);
            if (PQresultStatus(res) != PGRES_TUPLES_OK)
                log_warn("%s: %s", j->name, PQresultErrorMessage(res));
            PQclear(res);
            if (!more)
                break;
        }
    }
    PQclear(due);
}

bool routing_janitor_start(const char *conninfo, long interval_s)
{
    return janitor_start(&janitor, "routing re-assignment", conninfo, interval_s, reassign);
}

void routing_janitor_stop(void)
{
    janitor_stop(&janitor);
}
