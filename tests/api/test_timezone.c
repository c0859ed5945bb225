/* A workspace's calendar (issue 14): its time zone, which the reports count days in, and
 * its follow-up SLA, counted in its business hours when it has them. Changing either
 * re-buckets the kept figures at once; each test compares the answers with what the
 * rows say, and the kept figures with ll_report_rebuild's. Each test works in a workspace
 * of its own. */
#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "suites.h"
#include "support.h"

static char key[64], ws_id[40];

static void setup_ws(const char *tag)
{
    char slug[64];
    snprintf(slug, sizeof slug, "tz-%s-%d", tag, (int)getpid());
    ck_assert(workspace_key(slug, "admin", key));
    struct resp *r = get("/v1/workspace", key);
    ck_assert_int_eq(r->status, 200);
    snprintf(ws_id, sizeof ws_id, "%s", jstr(r, "id"));
    resp_free(r);
}

/* Runs a statement with $1 = id, $2 = at and $3 = the workspace's id, as an operator would
 * fix data by hand (with the workspace, Citus sends it to the one node that holds it). */
static void sql2(const char *statement, const char *id, const char *at)
{
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    const char *vals[3] = {id, at, ws_id};
    PGresult *res = PQexecParams(pg, statement, 3, NULL, vals, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK,
                  "%.1000s: %.2000s", statement, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(pg);
}

/* A lead of this source created at the instant at (set by hand: the facts follow); its id
 * into id. */
static void lead_at(const char *tag, const char *source, const char *at, char id[40])
{
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s-%d@tz.example\",\"source\":\"%s\"}", tag,
             (int)getpid(), source);
    create("/v1/leads", key, body, id);
    sql2("UPDATE leads SET created_at = $2::timestamptz WHERE workspace_id = $3::uuid"
         " AND id = $1::uuid",
         id, at);
}

static void set_calendar(const char *json)
{
    struct resp *r = patch("/v1/workspace", key, json, NULL);
    expect_status(r, 200, json);
    resp_free(r);
}

/* The sources report's leads per source for one day, as "source=n ..." in source order. */
static void sources_on(const char *day, char *out, size_t cap)
{
    static const char *const order[] = {"event", "referral", "web", NULL};
    char path[160];
    snprintf(path, sizeof path, "/v1/reports/sources?from=%s&to=%s", day, day);
    struct resp *r = get(path, key);
    expect_status(r, 200, path);
    json_t *data = json_object_get(r->json, "data"), *row;
    size_t i, len = 0;
    out[0] = '\0';
    for (int k = 0; order[k]; k++)
        json_array_foreach(data, i, row)
        {
            json_t *n = json_object_get(row, "leads");
            double v = json_is_number(n) ? json_number_value(n) : atof(js(n));
            if (v > 0 && !strcmp(json_string_value(json_object_get(row, "source")), order[k]))
                len +=
                    (size_t)snprintf(out + len, cap - len, "%s%s=%g", len ? " " : "", order[k], v);
        }
    resp_free(r);
}

/* The kept figures are those ll_report_rebuild computes from the rows: the workspace's
 * sums per dimension, day and key, before and after (rolled back). */
static void expect_kept_figures_exact(void)
{
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    static const char sums[] =
        "SELECT string_agg(format('%s/%s/%s:%s,%s,%s,%s', dim, day, key, leads, handed, "
        "accepted, followed), ' ' ORDER BY dim, day, key) FROM (SELECT dim, day, key, sum(leads) "
        "leads, sum(handed) handed, sum(accepted) accepted, sum(followed) followed FROM (SELECT "
        "dim, day, key, leads, handed, accepted, followed FROM report_days WHERE workspace_id = $1 "
        "AND NOT month UNION ALL SELECT dim, day, key, leads, handed, accepted, followed FROM "
        "report_day_deltas WHERE workspace_id = $1) x GROUP BY 1, 2, 3 HAVING sum(leads) <> 0 OR "
        "sum(handed) <> 0 OR sum(followed) <> 0) y";
    static const char follow[] = "SELECT string_agg(format('%s/%s/%s/%s', lead_id, dim, day, "
                                 "follow_up_s), ' ' ORDER BY lead_id, dim, key) FROM "
                                 "report_follow_ups WHERE workspace_id = $1";
    char *kept = pg_value_p(pg, sums, ws_id), *kept_f = pg_value_p(pg, follow, ws_id);
    pg_ok(pg, "BEGIN");
    char *drop = pg_value_p(pg, "SELECT ll_report_rebuild($1::uuid)::text", ws_id);
    char *built = pg_value_p(pg, sums, ws_id), *built_f = pg_value_p(pg, follow, ws_id);
    pg_ok(pg, "ROLLBACK");
    ck_assert_str_eq(kept, built);
    ck_assert_str_eq(kept_f, built_f);
    free(kept), free(kept_f), free(drop), free(built), free(built_f);
    /* Folded, the figures of the days the leads left are gone, not rows of zeros: the
     * compactor runs here until this workspace has no deltas left (the daemon's own may
     * hold its lock for a moment). */
    for (int i = 0; i < 10000; i++) {
        char *left =
            pg_value_p(pg, "SELECT count(*) FROM report_day_deltas WHERE workspace_id = $1", ws_id);
        bool done = !strcmp(left, "0");
        free(left);
        if (done)
            break;
        pg_ok(pg, "SELECT ll_report_compact(100000)");
    }
    char *zeros = pg_value_p(
        pg,
        "SELECT (SELECT count(*) FROM report_days WHERE workspace_id = $1 AND (leads, mqls,"
        " handed, accepted, rejected, followed) = (0, 0, 0, 0, 0, 0))"
        " + (SELECT count(*) FROM report_weeks WHERE workspace_id = $1 AND (leads, mqls,"
        " handed, accepted, rejected, followed) = (0, 0, 0, 0, 0, 0))"
        " + (SELECT count(*) FROM report_day_deltas WHERE workspace_id = $1)",
        ws_id);
    ck_assert_str_eq(zeros, "0");
    free(zeros);
    PQfinish(pg);
}

START_TEST(workspace_calendar_is_validated)
{
    setup_ws("valid");
    struct resp *r = get("/v1/workspace", key);
    expect_status(r, 200, "workspace");
    ck_assert_str_eq(jstr(r, "time_zone"), "UTC");
    ck_assert(json_is_null(json_object_get(r->json, "sla_hours")));
    ck_assert(json_is_null(json_object_get(r->json, "business_hours")));
    resp_free(r);

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"time_zone\":\"Mars/Olympus_Mons\"}", "time_zone"},
        {"{\"time_zone\":\"europe/berlin\"}", "time_zone"},
        {"{\"time_zone\":\"EST5EDT'; DROP TABLE leads; --\"}", "time_zone"},
        {"{\"time_zone\":\"\"}", "time_zone"},
        {"{\"time_zone\":7}", "time_zone"},
        {"{\"sla_hours\":0}", "sla_hours"},
        {"{\"sla_hours\":8761}", "sla_hours"},
        {"{\"sla_hours\":\"24\"}", "sla_hours"},
        {"{\"business_hours\":\"9-5\"}", "business_hours"},
        {"{\"business_hours\":{\"days\":[],\"start\":\"09:00\",\"end\":\"17:00\"}}",
         "business_hours.days"},
        {"{\"business_hours\":{\"days\":[\"mon\",\"mon\"],\"start\":\"09:00\",\"end\":\"17:00\"}}",
         "business_hours.days"},
        {"{\"business_hours\":{\"days\":[\"monday\"],\"start\":\"09:00\",\"end\":\"17:00\"}}",
         "business_hours.days"},
        {"{\"business_hours\":{\"days\":[\"mon\"],\"start\":\"9:00\",\"end\":\"17:00\"}}",
         "business_hours.start"},
        {"{\"business_hours\":{\"days\":[\"mon\"],\"start\":\"24:00\",\"end\":\"24:00\"}}",
         "business_hours.start"},
        {"{\"business_hours\":{\"days\":[\"mon\"],\"start\":\"09:00\",\"end\":\"24:01\"}}",
         "business_hours.end"},
        {"{\"business_hours\":{\"days\":[\"mon\"],\"start\":\"17:00\",\"end\":\"09:00\"}}",
         "business_hours.end"},
        {"{\"business_hours\":{\"days\":[\"mon\"],\"start\":\"09:00\"}}", "business_hours.end"},
        {"{\"business_hours\":{\"days\":[\"mon\"],\"start\":\"09:00\",\"end\":\"17:00\","
         "\"tz\":\"UTC\"}}",
         "business_hours"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = patch("/v1/workspace", key, bad[i].body, NULL);
        expect_invalid(r, bad[i].field, bad[i].body);
        resp_free(r);
    }
    r = get("/v1/workspace", key);
    ck_assert_str_eq(jstr(r, "time_zone"), "UTC");
    ck_assert_int_eq(jint(r, "version"), 1); /* nothing was written */
    resp_free(r);

    r = patch("/v1/workspace", key,
              "{\"time_zone\":\"America/Los_Angeles\",\"sla_hours\":8,\"business_hours\":"
              "{\"days\":[\"fri\",\"mon\",\"tue\"],\"start\":\"08:30\",\"end\":\"24:00\"}}",
              NULL);
    expect_status(r, 200, "calendar");
    ck_assert_str_eq(jstr(r, "time_zone"), "America/Los_Angeles");
    ck_assert_int_eq(jint(r, "sla_hours"), 8);
    json_t *bh = json_object_get(r->json, "business_hours");
    ck_assert_str_eq(json_string_value(json_object_get(bh, "start")), "08:30");
    ck_assert_str_eq(json_string_value(json_object_get(bh, "end")), "24:00");
    char *days = json_dumps(json_object_get(bh, "days"), JSON_COMPACT);
    ck_assert_str_eq(days, "[\"mon\",\"tue\",\"fri\"]"); /* in week order */
    free(days);
    resp_free(r);
    r = patch("/v1/workspace", key, "{\"sla_hours\":null,\"business_hours\":null}", NULL);
    expect_status(r, 200, "cleared");
    ck_assert(json_is_null(json_object_get(r->json, "sla_hours")));
    ck_assert(json_is_null(json_object_get(r->json, "business_hours")));
    ck_assert_str_eq(jstr(r, "time_zone"), "America/Los_Angeles");
    resp_free(r);

    /* only an admin sets it */
    char marketing[64];
    new_key(key, "marketing", marketing);
    r = patch("/v1/workspace", marketing, "{\"time_zone\":\"UTC\"}", NULL);
    assert_problem(r, 403, "forbidden");
    resp_free(r);
}
END_TEST

/* Leads near midnight land on their day in the workspace's time zone, in every report and
 * in the kept figures, and move back when the time zone changes back. */
START_TEST(reports_count_the_workspace_days)
{
    char a[40], b[40], c[40], got[256];
    setup_ws("days");
    lead_at("a", "web", "2026-05-01T02:00:00Z", a);      /* LA: April 30, 19:00 */
    lead_at("b", "event", "2026-05-01T12:00:00Z", b);    /* LA: May 1, 05:00 */
    lead_at("c", "referral", "2026-05-02T06:00:00Z", c); /* LA: May 1, 23:00 */

    sources_on("2026-05-01", got, sizeof got);
    ck_assert_str_eq(got, "event=1 web=1");
    expect_kept_figures_exact();

    set_calendar("{\"time_zone\":\"America/Los_Angeles\"}");
    sources_on("2026-05-01", got, sizeof got);
    ck_assert_str_eq(got, "event=1 referral=1");
    sources_on("2026-04-30", got, sizeof got);
    ck_assert_str_eq(got, "web=1");
    struct resp *r = get("/v1/reports/funnel?from=2026-05-01&to=2026-05-01", key);
    expect_status(r, 200, "funnel");
    ck_assert_str_eq(
        js(json_object_get(json_array_get(json_object_get(r->json, "data"), 0), "leads")), "2");
    resp_free(r);
    expect_kept_figures_exact();

    /* a lead written after the change is placed in the new time zone at once */
    char d[40];
    lead_at("d", "web", "2026-05-02T03:00:00Z", d); /* LA: May 1, 20:00 */
    sources_on("2026-05-01", got, sizeof got);
    ck_assert_str_eq(got, "event=1 referral=1 web=1");

    set_calendar("{\"time_zone\":\"Asia/Kathmandu\"}"); /* +05:45 */
    sources_on("2026-05-02", got, sizeof got);
    ck_assert_str_eq(got, "referral=1 web=1");
    expect_kept_figures_exact();
    set_calendar("{\"time_zone\":\"UTC\"}");
    sources_on("2026-05-01", got, sizeof got);
    ck_assert_str_eq(got, "event=1 web=1");
    expect_kept_figures_exact();
}
END_TEST

/* A write of the workspace, sent while its calendar changes. */
struct pending_write {
    long status;
};

static void *write_in_background(void *arg)
{
    struct pending_write *w = arg;
    char body[200];
    snprintf(body, sizeof body,
             "{\"email\":\"late-%d@tz.example\",\"source\":\"event\","
             "\"created_at\":\"2026-05-01T03:00:00Z\"}",
             (int)getpid());
    struct resp *r = post("/v1/leads", key, body);
    w->status = r->status;
    resp_free(r);
    return NULL;
}

/* A write waits while its workspace's calendar changes, then counts in the new calendar:
 * the change holds the workspace's calendar lock until it commits, and the write's refresh
 * takes it shared. The change is made here in SQL and held open; the write is seen waiting
 * for the lock (pg_locks) before the change commits. */
START_TEST(writes_wait_for_a_calendar_change)
{
    char got[256];
    setup_ws("lock");
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    PGconn *watch = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    pg_ok(pg, "BEGIN");
    char *n = pg_value_p(pg,
                         "WITH u AS (UPDATE workspaces SET time_zone = 'America/Los_Angeles'"
                         " WHERE id = $1::uuid RETURNING 1) SELECT count(*) FROM u",
                         ws_id);
    ck_assert_str_eq(n, "1");
    free(n);
    struct pending_write w = {0};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, write_in_background, &w), 0);
    bool waiting = false;
    for (int i = 0; i < 200000 && !waiting; i++)
        /* on Citus the lock is the workspace's node's */
        waiting = pg_cluster_long(watch, "SELECT count(*) FROM pg_locks WHERE locktype ="
                                         " 'advisory' AND objsubid = 2 AND NOT granted") > 0;
    pg_ok(pg, "COMMIT");
    pthread_join(t, NULL);
    ck_assert_msg(waiting, "the write never waited for the calendar lock");
    ck_assert_int_eq(w.status, 201);
    sources_on("2026-04-30", got, sizeof got); /* 03:00 UTC is 20:00 the day before in LA */
    ck_assert_str_eq(got, "event=1");
    expect_kept_figures_exact();
    PQfinish(watch);
    PQfinish(pg);
}
END_TEST

/* The follow-up report's p50 of a lead handed over on Friday 16:00 in Berlin and accepted
 * on Monday 10:00: 65 hours in calendar time (the clocks went forward on Sunday), 2 hours
 * in business hours 09:00 to 17:00, Monday to Friday. */
static long follow_up_p50(void)
{
    struct resp *r = get("/v1/reports/follow-up", key);
    expect_status(r, 200, "follow-up");
    json_t *row = json_array_get(json_object_get(r->json, "data"), 0);
    long v = (long)json_integer_value(json_object_get(row, "follow_up_p50_seconds"));
    resp_free(r);
    return v;
}

START_TEST(follow_up_counts_business_hours)
{
    char id[40], path[128];
    setup_ws("business");
    lead_at("f", "web", "2026-03-20T09:00:00Z", id);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", id);
    struct resp *r = post(path, key, "{\"to\":\"mql\"}");
    expect_status(r, 201, "mql");
    resp_free(r);
    sql2("UPDATE lead_stage_changes SET changed_at = $2::timestamptz WHERE workspace_id = $3::uuid"
         " AND lead_id = $1::uuid AND to_stage = 'mql'",
         id, "2026-03-27T16:00:00+01:00");
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", id);
    r = post(path, key, "{\"kind\":\"accepted\",\"occurred_at\":\"2026-03-30T10:00:00+02:00\"}");
    expect_status(r, 201, "accepted");
    resp_free(r);
    ck_assert_int_eq(follow_up_p50(), 65 * 3600);

    set_calendar("{\"time_zone\":\"Europe/Berlin\",\"business_hours\":{\"days\":[\"mon\",\"tue\","
                 "\"wed\",\"thu\",\"fri\"],\"start\":\"09:00\",\"end\":\"17:00\"}}");
    ck_assert_int_eq(follow_up_p50(), 2 * 3600);
    expect_kept_figures_exact();
    set_calendar("{\"business_hours\":{\"days\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"],"
                 "\"start\":\"09:00\",\"end\":\"16:30\"}}");
    ck_assert_int_eq(follow_up_p50(), 5400); /* 16:00 to 16:30, then 09:00 to 10:00 */
    set_calendar("{\"business_hours\":null}");
    ck_assert_int_eq(follow_up_p50(), 65 * 3600);
    expect_kept_figures_exact();
}
END_TEST

/* Overdue is waiting longer than the workspace's SLA: a lead handed over two hours ago is
 * overdue after one calendar hour, and not when the only business day is three days from
 * now (no business time has passed). The work list and the report agree. */
static long overdue_now(void)
{
    struct resp *r = get("/v1/reports/follow-up", key);
    expect_status(r, 200, "follow-up");
    json_t *row = json_array_get(json_object_get(r->json, "data"), 0);
    long n = (long)json_integer_value(json_object_get(row, "overdue"));
    resp_free(r);
    r = get("/v1/leads?overdue=true", key);
    expect_status(r, 200, "overdue list");
    ck_assert_int_eq((long)json_array_size(json_object_get(r->json, "data")), n);
    resp_free(r);
    return n;
}

START_TEST(overdue_follows_the_workspace_sla)
{
    char id[40], path[128], body[256];
    setup_ws("sla");
    lead_at("s", "web", "2026-01-05T09:00:00Z", id);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", id);
    struct resp *r = post(path, key, "{\"to\":\"mql\"}");
    expect_status(r, 201, "mql");
    resp_free(r);
    sql2("UPDATE lead_stage_changes SET changed_at = now() - interval '2 hours'"
         " WHERE workspace_id = $3::uuid AND lead_id = $1::uuid AND to_stage = 'mql'"
         " AND $2::text IS NOT NULL",
         id, "x");
    ck_assert_int_eq(overdue_now(), 0); /* the daemon's SLA: 24 hours */
    set_calendar("{\"sla_hours\":1}");
    ck_assert_int_eq(overdue_now(), 1);
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    char *dow = pg_value(pg, "SELECT (ARRAY['mon','tue','wed','thu','fri','sat','sun'])"
                             "[extract(isodow FROM now() AT TIME ZONE 'UTC' + interval '3 days')]");
    PQfinish(pg);
    snprintf(body, sizeof body,
             "{\"business_hours\":{\"days\":[\"%s\"],\"start\":\"00:00\",\"end\":\"24:00\"}}", dow);
    free(dow);
    set_calendar(body);
    ck_assert_int_eq(overdue_now(), 0);
    r = get("/v1/reports/follow-up", key);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "sla_hours")), 1);
    ck_assert_str_eq(jstr(r, "time_zone"), "UTC");
    ck_assert(json_is_true(json_object_get(r->json, "business_hours")));
    resp_free(r);
}
END_TEST

Suite *timezone_suite(void)
{
    Suite *s = suite_create("timezone");
    TCase *tc = tcase_create("timezone");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, workspace_calendar_is_validated);
    tcase_add_test(tc, reports_count_the_workspace_days);
    tcase_add_test(tc, writes_wait_for_a_calendar_change);
    tcase_add_test(tc, follow_up_counts_business_hours);
    tcase_add_test(tc, overdue_follows_the_workspace_sla);
    suite_add_tcase(s, tc);
    return s;
}
