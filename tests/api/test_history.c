/* Bringing history (issue 14): a new lead's created_at, dated stage changes (`at`), and
 * feedback whose stage move keeps its own time, written only by admin keys and keys made
 * for importing. The reports place everything on its real day, in the workspace's time
 * zone: a CSV of 10,000 leads over two years, with a dated history for some of them, is
 * compared with a computation from scratch, before and after a change of time zone. */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"
#include "scratch.h"
#include "suites.h"
#include "support.h"

static const char *const csv_type[] = {"Content-Type: text/csv", NULL};

/* A key of role in a new workspace named tag (and the admin key into admin, when asked). */
static void workspace_keys(const char *tag, char admin[64], char *importer, char *plain)
{
    char slug[64];
    snprintf(slug, sizeof slug, "history-%s-%d", tag, (int)getpid());
    ck_assert(workspace_key(slug, "admin", admin));
    if (importer) {
        struct resp *r = post("/v1/api-keys", admin,
                              "{\"name\":\"importer\",\"role\":\"sales\",\"import\":true}");
        expect_status(r, 201, "importer key");
        ck_assert(json_is_true(json_object_get(r->json, "import")));
        snprintf(importer, 64, "%s", jstr(r, "secret"));
        resp_free(r);
    }
    if (plain)
        new_key(admin, "marketing", plain);
}

/* RFC 3339 for now minus secs seconds. */
static const char *ago(long long secs, char buf[32])
{
    time_t t = time(NULL) - (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

START_TEST(history_is_written_by_admins_and_importers_only)
{
    char admin[64], importer[64], plain[64], body[512], at[32], id[40], path[128];
    workspace_keys("rights", admin, importer, plain);

    /* a plain marketing key: every way of writing history is refused, naming the field */
    snprintf(body, sizeof body, "{\"email\":\"old@history.example\",\"created_at\":\"%s\"}",
             ago(86400 * 400, at));
    struct resp *r = post("/v1/leads", plain, body);
    assert_problem(r, 403, "forbidden");
    ck_assert(problem_names(r, "created_at"));
    resp_free(r);
    snprintf(body, sizeof body,
             "{\"leads\":[{\"email\":\"ok@history.example\"},{\"email\":\"old2@history.example\","
             "\"created_at\":\"%s\"}]}",
             at);
    r = post("/v1/leads/batch", plain, body);
    ck_assert_msg(r->status == 200, "batch: %ld %s", r->status, r->body);
    json_t *items = json_object_get(r->json, "results");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "status")), 201);
    json_t *second = json_array_get(items, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(second, "status")), 403);
    ck_assert_str_eq(
        js(json_object_get(
            json_array_get(json_object_get(json_object_get(second, "problem"), "errors"), 0),
            "field")),
        "\"leads[1].created_at\"");
    resp_free(r);
    static const char file[] = "email,created_at\r\nold3@history.example,2024-05-01T10:00:00Z\r\n";
    r = req(&main_daemon, "POST", "/v1/leads/import", plain, csv_type, file, sizeof file - 1);
    assert_problem(r, 403, "forbidden");
    ck_assert(problem_names(r, "created_at"));
    resp_free(r);
    create("/v1/leads", plain, "{\"email\":\"now@history.example\"}", id);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", id);
    snprintf(body, sizeof body, "{\"to\":\"mql\",\"at\":\"%s\"}", ago(60, at));
    r = post(path, plain, body);
    assert_problem(r, 403, "forbidden");
    ck_assert(problem_names(r, "at"));
    resp_free(r);
    r = get("/v1/leads?q=old", admin);
    ck_assert_int_eq((long)json_array_size(json_object_get(r->json, "data")), 0); /* none */
    resp_free(r);

    /* the importing key may; the lead, its first history row and its created touch carry
     * the date */
    char campaign[40];
    create("/v1/campaigns", admin, "{\"name\":\"Old fair\",\"channel\":\"event\"}", campaign);
    snprintf(body, sizeof body,
             "{\"email\":\"old@history.example\",\"campaign_id\":\"%s\",\"created_at\":"
             "\"2024-05-01T10:00:00+02:00\"}",
             campaign);
    r = post("/v1/leads", importer, body);
    expect_status(r, 201, "backdated lead");
    ck_assert_str_eq(jstr(r, "created_at"), "2024-05-01T08:00:00.000000Z");
    ck_assert_str_eq(jstr(r, "stage_changed_at"), "2024-05-01T08:00:00.000000Z");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/history", id);
    r = get(path, importer);
    ck_assert_str_eq(
        js(json_object_get(json_array_get(json_object_get(r->json, "data"), 0), "changed_at")),
        "\"2024-05-01T08:00:00.000000Z\"");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/touches", id);
    r = get(path, importer);
    ck_assert_str_eq(
        js(json_object_get(json_array_get(json_object_get(r->json, "data"), 0), "occurred_at")),
        "\"2024-05-01T08:00:00.000000Z\"");
    resp_free(r);

    /* dated moves: not before the creation or the last move, not ahead, by the rules */
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", id);
    r = post(path, importer, "{\"to\":\"mql\",\"at\":\"2024-04-30T10:00:00Z\"}");
    expect_invalid(r, "at", "before creation");
    resp_free(r);
    snprintf(body, sizeof body, "{\"to\":\"mql\",\"at\":\"%s\"}", ago(-3600, at));
    r = post(path, importer, body);
    expect_invalid(r, "at", "ahead");
    resp_free(r);
    r = post(path, importer, "{\"to\":\"mql\",\"at\":\"2024-05-03T09:30:00Z\"}");
    expect_status(r, 201, "dated mql");
    ck_assert_str_eq(jstr(r, "changed_at"), "2024-05-03T09:30:00.000000Z");
    resp_free(r);
    r = post(path, importer, "{\"to\":\"new\",\"at\":\"2024-05-03T10:00:00Z\"}");
    assert_problem(r, 409, "conflict"); /* the lifecycle's rules hold for history too */
    resp_free(r);
    r = post(path, importer, "{\"to\":\"recycled\",\"at\":\"2024-05-02T09:30:00Z\"}");
    expect_invalid(r, "at", "before the last move");
    resp_free(r);
    /* sales' verdict from the importer moves the stage on its own day */
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", id);
    r = post(path, importer, "{\"kind\":\"accepted\",\"occurred_at\":\"2024-05-04T12:00:00Z\"}");
    expect_status(r, 201, "dated verdict");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    r = get(path, importer);
    ck_assert_str_eq(jstr(r, "stage"), "sales_accepted");
    ck_assert_str_eq(jstr(r, "stage_changed_at"), "2024-05-04T12:00:00.000000Z");
    resp_free(r);
    /* a lead's whole history in one request: all of it, or none of it */
    char hist[40];
    snprintf(body, sizeof body,
             "{\"email\":\"list@history.example\",\"created_at\":\"2024-06-01T08:00:00Z\"}");
    create("/v1/leads", importer, body, hist);
    snprintf(path, sizeof path, "/v1/leads/%s/history", hist);
    r = post(path, plain, "{\"transitions\":[{\"to\":\"mql\",\"at\":\"2024-06-02T08:00:00Z\"}]}");
    assert_problem(r, 403, "forbidden");
    ck_assert(problem_names(r, "transitions"));
    resp_free(r);
    r = post(path, importer, "{\"transitions\":[{\"to\":\"nowhere\"},7],\"extra\":1}");
    expect_invalid(r, "transitions[0].to", "unknown stage");
    ck_assert(problem_names(r, "transitions[0].at"));
    ck_assert(problem_names(r, "transitions[1]"));
    ck_assert(problem_names(r, "extra"));
    resp_free(r);
    r = post(path, importer, "{\"transitions\":[]}");
    expect_invalid(r, "transitions", "empty list");
    resp_free(r);
    r = post(path, importer, "{\"transitions\":{\"to\":\"mql\"}}");
    expect_invalid(r, "transitions", "not a list");
    resp_free(r);
    char many[101 * 48 + 32];
    size_t len = (size_t)snprintf(many, sizeof many, "{\"transitions\":[");
    for (int k = 0; k < 101; k++) /* one move more than a list may hold */
        len += (size_t)snprintf(many + len, sizeof many - len,
                                "%s{\"to\":\"mql\",\"at\":\"2024-06-02T08:00:00Z\"}", k ? "," : "");
    snprintf(many + len, sizeof many - len, "]}");
    r = post(path, importer, many);
    expect_invalid(r, "transitions", "101 moves");
    resp_free(r);
    r = post(path, importer,
             "{\"transitions\":[{\"to\":\"mql\",\"at\":\"2024-06-02T08:00:00Z\"},"
             "{\"to\":\"recycled\",\"at\":\"2024-06-03T08:00:00Z\"},"
             "{\"to\":\"sales_accepted\",\"at\":\"2024-06-04T08:00:00Z\"}]}");
    assert_problem(r, 409, "conflict"); /* recycled may only go back to mql */
    ck_assert_msg(strstr(jstr(r, "detail"), "transitions[2]"), "%s", r->body);
    ck_assert_str_eq(jstr(r, "stage"), "recycled");
    resp_free(r);
    r = post(path, importer,
             "{\"transitions\":[{\"to\":\"mql\",\"at\":\"2024-06-05T08:00:00Z\"},"
             "{\"to\":\"sales_accepted\",\"at\":\"2024-06-04T08:00:00Z\"}]}");
    expect_invalid(r, "transitions[1].at", "out of order");
    resp_free(r);
    r = get(path, importer); /* neither refused list left anything behind */
    ck_assert_int_eq((long)json_array_size(json_object_get(r->json, "data")), 1);
    resp_free(r);
    r = post(path, importer,
             "{\"transitions\":[{\"to\":\"mql\",\"at\":\"2024-06-02T08:00:00Z\"},"
             "{\"to\":\"sales_accepted\",\"at\":\"2024-06-03T08:00:00Z\",\"reason\":\"Fit\"},"
             "{\"to\":\"opportunity\",\"at\":\"2024-06-10T08:00:00Z\"},"
             "{\"to\":\"customer\",\"at\":\"2024-07-01T08:00:00Z\"}]}");
    expect_status(r, 201, "a list of moves");
    json_t *made = json_object_get(r->json, "data");
    ck_assert_int_eq((long)json_array_size(made), 4);
    ck_assert_str_eq(js(json_object_get(json_array_get(made, 1), "from")), "\"mql\"");
    ck_assert_str_eq(js(json_object_get(json_array_get(made, 1), "reason")), "\"Fit\"");
    ck_assert_str_eq(js(json_object_get(json_array_get(made, 3), "changed_at")),
                     "\"2024-07-01T08:00:00.000000Z\"");
    ck_assert_str_eq(js(json_object_get(json_object_get(r->json, "lead"), "stage")),
                     "\"customer\"");
    resp_free(r);
    r = get(path, importer);
    ck_assert_int_eq((long)json_array_size(json_object_get(r->json, "data")), 5);
    resp_free(r);
    /* the funnel of the lead's month counts it to the end */
    r = get("/v1/reports/funnel?from=2024-06-01&to=2024-06-30", importer);
    expect_status(r, 200, "funnel of June 2024");
    json_t *last = json_array_get(json_object_get(r->json, "data"), 5);
    ck_assert_str_eq(js(json_object_get(last, "stage")), "\"customer\"");
    ck_assert_str_eq(js(json_object_get(last, "leads")), "1");
    resp_free(r);

    /* a future created_at is refused for everyone */
    snprintf(body, sizeof body, "{\"email\":\"future@history.example\",\"created_at\":\"%s\"}",
             ago(-86400, at));
    r = post("/v1/leads", admin, body);
    expect_invalid(r, "created_at", "future");
    resp_free(r);
    /* and a lead that exists keeps its own creation time on an upsert */
    r = put("/v1/leads/by-email/old@history.example", importer,
            "{\"first_name\":\"Olga\",\"created_at\":\"2020-01-01T00:00:00Z\"}", NULL);
    expect_status(r, 200, "upsert of an existing lead");
    ck_assert_str_eq(jstr(r, "created_at"), "2024-05-01T08:00:00.000000Z");
    resp_free(r);
}
END_TEST

/* 10,000 leads (a thousand with LL_TEST_QUICK=1) */
#define CSV_LEADS test_scale(10000)
#define CAMPAIGNS 6

/* 10,000 leads over two years from a CSV file, a dated history for one in eight, and every
 * report equal to the computation from scratch in the workspace's time zone, then in
 * another. */
START_TEST(imported_history_lands_on_its_days)
{
    static const char *const sources[] = {"web",      "event",   "referral", "paid",
                                          "outbound", "partner", "import",   "other"};
    static const char *const zones[] = {"America/Los_Angeles", "Europe/Berlin", "Asia/Kathmandu",
                                        "Australia/Adelaide"};
    char admin[64], importer[64], campaigns[CAMPAIGNS][40], body[512], path[128], at[32];
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("LL_TEST_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 10);
    fprintf(stderr, "history: LL_TEST_SEED=%u\n", seed);
    srand(seed);
    workspace_keys("csv", admin, importer, NULL);
    int zi = rand() % 4;
    const char *zone = zones[zi];
    snprintf(body, sizeof body, "{\"time_zone\":\"%s\"}", zone);
    struct resp *r = patch("/v1/workspace", admin, body, NULL);
    expect_status(r, 200, "time zone");
    resp_free(r);
    for (int c = 0; c < CAMPAIGNS; c++) {
        snprintf(body, sizeof body,
                 "{\"name\":\"Campaign %d\",\"channel\":\"webinar\",\"cost\":%d}", c,
                 100000 * (c + 1));
        create("/v1/campaigns", admin, body, campaigns[c]);
    }

    /* the file: created_at spread over two years, at any hour */
    size_t cap = (size_t)CSV_LEADS * 160 + 64, len = 0;
    char *file = malloc(cap);
    ck_assert_ptr_nonnull(file);
    len += (size_t)snprintf(file, cap, "email,source,campaign_id,created_at\r\n");
    for (int i = 0; i < CSV_LEADS; i++) {
        long long back = 60LL + (long long)(rand() % (730 * 24)) * 3600 + rand() % 3600;
        len += (size_t)snprintf(file + len, cap - len, "lead%05d@csv.example,%s,%s,%s\r\n", i,
                                sources[rand() % 8], campaigns[rand() % CAMPAIGNS], ago(back, at));
    }
    r = req(&main_daemon, "POST", "/v1/leads/import?mode=create", importer, csv_type, file, len);
    free(file);
    ck_assert_msg(r->status == 200, "import: %ld %.300s", r->status, r->body);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "created")), CSV_LEADS);
    resp_free(r);

    /* a dated history for one lead in eight: hand-off hours to days after creation, then
     * sales' verdict; some won */
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    char *ws =
        pg_value_p(pg, "SELECT workspace_id FROM api_keys WHERE prefix = left($1, 12)", importer);
    PGresult *leads = PQexecParams(
        pg,
        "SELECT id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " extract(epoch FROM created_at)::bigint FROM leads WHERE workspace_id = $1 ORDER BY email",
        1, NULL, (const char *const[]){ws}, NULL, NULL, 0);
    ck_assert_int_eq(PQntuples(leads), CSV_LEADS);
    long long now = (long long)time(NULL);
    int moved = 0;
    for (int i = 0; i < CSV_LEADS; i += 8) {
        const char *id = PQgetvalue(leads, i, 0);
        long long created = atoll(PQgetvalue(leads, i, 2));
        long long handed = created + 3600 + rand() % (24 * 3600 * 5);
        long long verdict = handed + 600 + rand() % (24 * 3600 * 3);
        if (verdict >= now - 60)
            continue;
        /* the hand-off as one dated transition, or (every other lead) as a list of one */
        if (i % 16 == 0) {
            snprintf(path, sizeof path, "/v1/leads/%s/transitions", id);
            snprintf(body, sizeof body, "{\"to\":\"mql\",\"at\":\"%s\"}", ago(now - handed, at));
        } else {
            snprintf(path, sizeof path, "/v1/leads/%s/history", id);
            snprintf(body, sizeof body, "{\"transitions\":[{\"to\":\"mql\",\"at\":\"%s\"}]}",
                     ago(now - handed, at));
        }
        r = post(path, importer, body);
        expect_status(r, 201, body);
        resp_free(r);
        snprintf(path, sizeof path, "/v1/leads/%s/feedback", id);
        if (rand() % 3 == 0)
            snprintf(body, sizeof body,
                     "{\"kind\":\"rejected\",\"reason\":\"no_budget\",\"rating\":%d,"
                     "\"occurred_at\":\"%s\"}",
                     1 + rand() % 3, ago(now - verdict, at));
        else
            snprintf(body, sizeof body,
                     "{\"kind\":\"accepted\",\"rating\":%d,\"occurred_at\":\"%s\"}", 3 + rand() % 3,
                     ago(now - verdict, at));
        r = post(path, importer, body);
        expect_status(r, 201, body);
        resp_free(r);
        if (strstr(body, "accepted") && rand() % 4 == 0 && verdict + 86400 < now - 60) {
            snprintf(body, sizeof body,
                     "{\"kind\":\"won\",\"amount\":%d,\"currency\":\"USD\",\"occurred_at\":\"%s\"}",
                     1000 + rand() % 90000, ago(now - verdict - 86400, at));
            r = post(path, importer, body);
            expect_status(r, 201, body);
            resp_free(r);
        }
        moved++;
    }
    PQclear(leads);
    fprintf(stderr, "history: %d leads imported in %s, %d with a dated history\n", CSV_LEADS, zone,
            moved);

    const struct scratch_ws w = {ws, admin, {campaigns[0], campaigns[1], campaigns[2]}};
    char from[11], to[11];
    int compared = scratch_compare_all(pg, &w, NULL, NULL);
    snprintf(from, sizeof from, "%.10s", ago(400LL * 86400, at));
    snprintf(to, sizeof to, "%.10s", ago(200LL * 86400, at));
    compared += scratch_compare_all(pg, &w, from, to);
    snprintf(from, sizeof from, "%.8s01", ago(300LL * 86400, at)); /* a month's first day */
    snprintf(to, sizeof to, "%.8s20", from);
    pg_ok(pg, "SELECT ll_report_compact(100000000)");
    compared += scratch_compare_all(pg, &w, from, to);

    /* another time zone: every lead moves to its day there */
    const char *other = zones[(zi + 1 + rand() % 3) % 4];
    snprintf(body, sizeof body, "{\"time_zone\":\"%s\"}", other);
    r = patch("/v1/workspace", admin, body, NULL);
    expect_status(r, 200, "another time zone");
    resp_free(r);
    compared += scratch_compare_all(pg, &w, NULL, NULL);
    compared += scratch_compare_all(pg, &w, from, to);
    fprintf(stderr, "history: %d reports equal to the computation from scratch (%s, then %s)\n",
            compared, zone, other);
    free(ws);
    PQfinish(pg);
}
END_TEST

Suite *history_suite(void)
{
    Suite *s = suite_create("history");
    TCase *tc = tcase_create("history");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, history_is_written_by_admins_and_importers_only);
    tcase_add_test(tc, imported_history_lands_on_its_days);
    suite_add_tcase(s, tc);
    return s;
}
