/* The caller's workspace (GET and PATCH /v1/workspace): its name, its reporting currency,
 * and its calendar: the time zone its reports count days in, and its follow-up SLA (hours,
 * counted in business hours when it has them). A change of the time zone or the business
 * hours re-buckets the workspace's kept report figures in the same transaction, by a
 * trigger (ll_report_rebucket, sql/functions/40_reports.sql), so the reports show the old
 * figures or the new ones, never a mix. */
#include "leadloop/workspace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/conditional.h"
#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/request.h"

/* A re-bucketing statement's bound: 18 s for 100,000 leads on two cores (bench/reports.sh),
 * so about 3 minutes per million; 15 leave room. */
#define REBUCKET_TIMEOUT_MS (15L * 60 * 1000)

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};

/* business_hours is built in SQL: null, or {"days": [...], "start": "HH:MM", "end": "HH:MM"}. */
#define WORKSPACE_COLUMNS                                                                          \
    "id, slug, name, currency, version, " DB_TS("created_at") ", " DB_TS(                          \
        "updated_at") ", time_zone, sla_hours, CASE WHEN business_days IS NOT NULL THEN"           \
                      " json_build_object('days', (SELECT json_agg((ARRAY['mon', 'tue', 'wed',"    \
                      " 'thu', 'fri', 'sat', 'sun'])[d] ORDER BY d) FROM unnest(business_days) "   \
                      "d),"                                                                        \
                      " 'start', to_char(business_start, 'HH24:MI'), 'end',"                       \
                      " to_char(business_end, 'HH24:MI'))::text END"

bool workspace_time_ok(const char *s, bool end_of_day)
{
    if (strlen(s) != 5 || s[2] != ':')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (end_of_day && h == 24 && m == 0)
        return true;
    return h < 24 && m < 60;
}

int workspace_day_number(const char *name)
{
    for (int i = 0; day_names[i]; i++)
        if (!strcmp(name, day_names[i]))
            return i + 1;
    return 0;
}

static void answer_workspace(struct request *r, const PGresult *res)
{
    json_t *hours = NULL;
    if (!PQgetisnull(res, 0, 9))
        hours = json_loads(PQgetvalue(res, 0, 9), 0, NULL);
    reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 4));
    reply_json(r, 200,
               json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                         db_json_text(res, 0, 0), "slug", db_json_text(res, 0, 1), "name",
                         db_json_text(res, 0, 2), "currency", db_json_text(res, 0, 3), "version",
                         db_json_int(res, 0, 4), "created_at", db_json_text(res, 0, 5),
                         "updated_at", db_json_text(res, 0, 6), "time_zone",
                         db_json_text(res, 0, 7), "sla_hours", db_json_int(res, 0, 8),
                         "business_hours", hours ? hours : json_null()));
}

void workspace_get(struct request *r)
{
    const char *vals[1] = {r->auth.workspace_id};
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    res = db_exec(r->db, "SELECT " WORKSPACE_COLUMNS " FROM workspaces WHERE id = $1", 1, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else
        answer_workspace(r, res);
    PQclear(res);
}

/* The change's business hours: null (none), or days, start and end as statement
 * parameters (days as a smallint[] literal in days_buf). */
struct hours_in {
    bool given, cleared;
    char days_buf[32];
    const char *start, *end;
};

static void read_business_hours(struct jv *v, json_t *body, struct hours_in *h)
{
    json_t *o = json_object_get(body, "business_hours");
    if (!o)
        return;
    h->given = true;
    if (json_is_null(o)) {
        h->cleared = true;
        return;
    }
    if (!json_is_object(o)) {
        jv_add(v, "business_hours", "must be an object with days, start and end, or null");
        return;
    }
    /* the members are checked as fields of their own, named business_hours.<member> */
    static const char *const members[] = {"days", "start", "end", NULL};
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val)
    {
        if (!jv_in_list(key, members))
            jv_add(v, "business_hours", "has an unknown member '%.64s' (days, start, end)", key);
    }
    json_t *days = json_object_get(o, "days");
    unsigned seen = 0;
    size_t n = 0, i;
    char *p = h->days_buf;
    if (!json_is_array(days) || json_array_size(days) == 0 || json_array_size(days) > 7) {
        jv_add(v, "business_hours.days", "must be a list of 1 to 7 day names (mon .. sun)");
    } else {
        *p++ = '{';
        json_array_foreach(days, i, val)
        {
            int d = json_is_string(val) ? workspace_day_number(json_string_value(val)) : 0;
            if (!d || seen & (1u << d)) {
                jv_add(v, "business_hours.days",
                       d ? "names a day twice" : "must hold day names: mon, tue, ..., sun");
                break;
            }
            seen |= 1u << d;
            p += sprintf(p, "%s%d", n++ ? "," : "", d);
        }
        *p++ = '}';
        *p = '\0';
    }
    json_t *start = json_object_get(o, "start"), *end = json_object_get(o, "end");
    if (!json_is_string(start) || !workspace_time_ok(json_string_value(start), false))
        jv_add(v, "business_hours.start", "must be a local time HH:MM, 00:00 to 23:59");
    else
        h->start = json_string_value(start);
    if (!json_is_string(end) || !workspace_time_ok(json_string_value(end), true))
        jv_add(v, "business_hours.end", "must be a local time HH:MM, 00:01 to 24:00");
    else
        h->end = json_string_value(end);
    if (h->start && h->end && strcmp(h->start, h->end) >= 0)
        jv_add(v, "business_hours.end", "must be after start");
}

/* A time zone is one of PostgreSQL's names, spelled as its list spells it. */
static enum ll_err check_time_zone(struct request *r, struct jv *v, const char *tz)
{
    const char *vals[1] = {tz};
    PGresult *res =
        db_exec(r->db, "SELECT 1 FROM pg_timezone_names WHERE name = $1 LIMIT 1", 1, vals);
    enum ll_err err = db_check(r->db, res);
    if (err == LL_OK && PQntuples(res) == 0)
        jv_add(v, "time_zone", "is not a time zone name of the IANA database (as Europe/Berlin)");
    PQclear(res);
    return err;
}

/* The reporting currency changes only while no campaign or won amount uses another one:
 * reports add money up, and never convert it. */
void workspace_update(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *name = NULL, *currency = NULL, *tz = NULL;
    char sla[24];
    bool sla_given = false, sla_null = false, tx = false;
    struct hours_in hours = {0};
    struct jv v;
    struct conditional cond;
    long current = 0;
    enum ll_err err;
    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(
        &v, body,
        (const char *const[]){"name", "currency", "time_zone", "sla_hours", "business_hours", NULL},
        (const char *const[]){"id", "slug", "version", "created_at", "updated_at", NULL});
    jv_string(&v, body, "name", false, 1, 200, &name);
    jv_currency(&v, body, "currency", false, &currency);
    jv_string(&v, body, "time_zone", false, 1, 64, &tz);
    sla_given = jv_int(&v, body, "sla_hours", false, true, 1, 8760, sla, &sla_null);
    read_business_hours(&v, body, &hours);
    if (tz && jv_ok(&v) && (err = check_time_zone(r, &v, tz)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the change is not valid", jv_take(&v), NULL);
        goto out;
    }
    conditional_from_request(&cond, r);
    if (json_object_size(body) == 0) { /* nothing to change: no new version */
        workspace_get(r);
        goto out;
    }
    /* A new calendar re-buckets every lead's figures: bounded apart from the pool's
     * statement timeout, which is sized for requests, not for this. */
    if (tz || hours.given) {
        if ((err = db_tx_begin_bounded(r->db, REBUCKET_TIMEOUT_MS)) != LL_OK) {
            reply_db_error(r, err);
            goto out;
        }
        /* the client-side deadline too; a little later, so that the server's bound ends it */
        db_set_deadline(r->db, REBUCKET_TIMEOUT_MS + 5000);
        tx = true;
    }
    const char *vals[11] = {r->auth.workspace_id,
                            name,
                            currency,
                            conditional_param(&cond),
                            tz,
                            sla_given ? "1" : NULL,
                            sla_given && !sla_null ? sla : NULL,
                            hours.given ? "1" : NULL,
                            hours.given && !hours.cleared ? hours.days_buf : NULL,
                            hours.cleared ? NULL : hours.start,
                            hours.cleared ? NULL : hours.end};
    res = db_exec(
        r->db,
        "WITH w AS (UPDATE workspaces SET name = coalesce($2::text, name),"
        " currency = coalesce($3::text, currency), time_zone = coalesce($5::text, time_zone),"
        " sla_hours = CASE WHEN $6::text IS NULL THEN sla_hours ELSE $7::integer END,"
        " business_days = CASE WHEN $8::text IS NULL THEN business_days ELSE $9::smallint[] END,"
        " business_start = CASE WHEN $8::text IS NULL THEN business_start ELSE $10::time END,"
        " business_end = CASE WHEN $8::text IS NULL THEN business_end ELSE $11::time END,"
        " version = version + 1, updated_at = now()"
        " WHERE id = $1 AND ($4::integer IS NULL OR version = $4)"
        " AND ($3::text IS NULL OR $3 = currency OR (NOT EXISTS (SELECT 1 FROM campaigns c"
        " WHERE c.workspace_id = $1 AND c.currency <> $3) AND NOT EXISTS (SELECT 1 FROM"
        " feedback f WHERE f.workspace_id = $1 AND f.currency <> $3))) RETURNING *)"
        " SELECT " WORKSPACE_COLUMNS " FROM w",
        11, vals);
    if ((err = db_check(r->db, res)) != LL_OK) {
        reply_db_error(r, err);
    } else if (PQntuples(res) == 1) {
        if (tx && (err = db_tx_commit(r->db)) != LL_OK)
            reply_db_error(r, err);
        else
            answer_workspace(r, res);
        tx = false;
    } else {
        /* Not written: a stale If-Match (412), or else the currency is in use (409). */
        err = conditional_no_row(r->db, "SELECT version FROM workspaces WHERE id = $1 AND id = $2",
                                 r->auth.workspace_id, r->auth.workspace_id, &cond, &current);
        if (err != LL_E_CONFLICT)
            conditional_reply(r, err, current, "no workspace", NULL);
        else
            reply_problem(r, LL_E_CONFLICT,
                          "campaigns or won amounts use the current currency; the reporting "
                          "currency cannot change while they do",
                          json_pack("[{s:s, s:s}]", "field", "currency", "message",
                                    "is in use by campaigns or feedback"),
                          NULL);
    }
out:
    if (tx)
        db_tx_rollback(r->db);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}
