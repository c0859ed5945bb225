/* The two-sided SLA (issue 17, point 4): goals set, listed, changed and removed, each bad
 * goal refused naming its field, and GET /v1/reports/sla measuring them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

static char admin[64], sales[64], other[64];

static void keys(void)
{
    static bool made;
    if (made)
        return;
    ck_assert(workspace_key("sla-r", "admin", admin));
    ck_assert(workspace_key("sla-r", "sales", sales));
    ck_assert(workspace_key("sla-o", "admin", other));
    made = true;
}

/* Sends body to path with key and asserts the status; the answer's id into id (when not
 * NULL). Returns the answer (free it). */
static struct resp *call(const char *method, const char *path, const char *key, const char *body,
                         const char *if_match, long want, char *id)
{
    struct resp *r = strcmp(method, "PATCH")
                         ? send_json(method, path, key, body, body ? strlen(body) : 0, NULL, NULL)
                         : patch(path, key, body, if_match);
    ck_assert_msg(r->status == want, "%s %s %s: expected %ld, got %ld %s", method, path,
                  body ? body : "", want, r->status, r->body);
    if (id)
        snprintf(id, 37, "%s", jstr(r, "id"));
    return r;
}

static void member_is(const struct resp *r, const char *name, const char *want)
{
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    json_t *g = json_object_get(r->json, name);
    char *gs = g ? json_dumps(g, JSON_ENCODE_ANY) : NULL;
    ck_assert_msg(w && json_equal(w, g), "%s: expected %s, got %s in %s", name, want,
                  gs ? gs : "(absent)", r->body);
    free(gs);
    json_decref(w);
}

static size_t page_size(const struct resp *r)
{
    return json_array_size(json_object_get(r->json, "data"));
}

START_TEST(goals_are_set_listed_changed_and_removed)
{
    char mqls[37], quarter[37], user[37], mine[37], path[128];
    keys();
    struct resp *r =
        call("POST", "/v1/sla/goals", admin,
             "{\"period\":\"2026-12\",\"metric\":\"mqls\",\"target\":400}", NULL, 201, mqls);
    member_is(r, "side", "\"marketing\"");
    member_is(r, "unit", "\"leads\"");
    member_is(r, "period_kind", "\"month\"");
    member_is(r, "starts_on", "\"2026-12-01\"");
    member_is(r, "ends_on", "\"2026-12-31\"");
    member_is(r, "owner_id", "null");
    member_is(r, "within_hours", "null");
    member_is(r, "version", "1");
    char *loc = resp_header(r, "Location");
    snprintf(path, sizeof path, "/v1/sla/goals/%s", mqls);
    ck_assert_msg(loc && !strcmp(loc, path), "Location: %s", loc ? loc : "(none)");
    free(loc);
    resp_free(r);

    r = call("POST", "/v1/sla/goals", admin,
             "{\"period\":\"2026-Q4\",\"metric\":\"first_attempt_within\",\"within_hours\":4,"
             "\"target\":90}",
             NULL, 201, quarter);
    member_is(r, "side", "\"sales\"");
    member_is(r, "unit", "\"percent\"");
    member_is(r, "starts_on", "\"2026-10-01\"");
    member_is(r, "ends_on", "\"2026-12-31\"");
    member_is(r, "period", "\"2026-Q4\"");
    member_is(r, "within_hours", "4");
    resp_free(r);

    /* one goal per period, metric and owner; a person's goal is another */
    r = call("POST", "/v1/sla/goals", admin,
             "{\"period\":\"2026-12\",\"metric\":\"mqls\",\"target\":10}", NULL, 409, NULL);
    ck_assert(problem_names(r, "metric"));
    resp_free(r);
    resp_free(call("POST", "/v1/users", admin,
                   "{\"name\":\"Sam Seller\",\"email\":\"sam.sla@example.com\",\"team\":\"sales\","
                   "\"role\":\"sales\"}",
                   NULL, 201, user));
    char body[256];
    snprintf(body, sizeof body,
             "{\"period\":\"2026-12\",\"metric\":\"mqls\",\"target\":40,\"owner_id\":\"%s\"}",
             user);
    resp_free(call("POST", "/v1/sla/goals", admin, body, NULL, 201, mine));

    r = call("GET", "/v1/sla/goals?period=2026-12", sales, NULL, NULL, 200, NULL);
    ck_assert_msg(page_size(r) == 2, "December: %s", r->body);
    resp_free(r);
    r = call("GET", "/v1/sla/goals?side=sales", sales, NULL, NULL, 200, NULL);
    ck_assert_msg(page_size(r) == 1 && strstr(r->body, quarter), "sales' goals: %s", r->body);
    resp_free(r);
    snprintf(path, sizeof path, "/v1/sla/goals?owner_id=%s", user);
    r = call("GET", path, sales, NULL, NULL, 200, NULL);
    ck_assert_msg(page_size(r) == 1 && strstr(r->body, mine), "Sam's goals: %s", r->body);
    resp_free(r);
    r = call("GET", "/v1/sla/goals", other, NULL, NULL, 200, NULL);
    ck_assert_msg(page_size(r) == 0, "another workspace sees: %s", r->body);
    resp_free(r);

    /* a change, conditional on the version */
    snprintf(path, sizeof path, "/v1/sla/goals/%s", quarter);
    r = call("PATCH", path, admin, "{\"target\":95,\"within_hours\":2}", "\"1\"", 200, NULL);
    member_is(r, "target", "95");
    member_is(r, "within_hours", "2");
    member_is(r, "version", "2");
    resp_free(r);
    resp_free(call("PATCH", path, admin, "{\"target\":80}", "\"1\"", 412, NULL));
    r = call("GET", path, sales, NULL, NULL, 200, NULL);
    member_is(r, "target", "95");
    resp_free(r);
    resp_free(call("GET", path, other, NULL, NULL, 404, NULL));
    resp_free(call("PATCH", path, other, "{\"target\":80}", NULL, 404, NULL));
    resp_free(call("DELETE", path, other, NULL, NULL, 404, NULL));
    resp_free(call("DELETE", path, sales, NULL, NULL, 403, NULL));
    resp_free(call("DELETE", path, admin, NULL, NULL, 204, NULL));
    resp_free(call("GET", path, sales, NULL, NULL, 404, NULL));
}
END_TEST

START_TEST(bad_goals_are_refused_naming_the_field)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"period\":\"2026-13\",\"metric\":\"mqls\",\"target\":1}", "period"},
        {"{\"period\":\"2026-Q5\",\"metric\":\"mqls\",\"target\":1}", "period"},
        {"{\"period\":\"1999-01\",\"metric\":\"mqls\",\"target\":1}", "period"},
        {"{\"period\":12,\"metric\":\"mqls\",\"target\":1}", "period"},
        {"{\"metric\":\"mqls\",\"target\":1}", "period"},
        {"{\"period\":\"2026-12\",\"metric\":\"leads\",\"target\":1}", "metric"},
        {"{\"period\":\"2026-12\",\"metric\":\"mqls\",\"target\":0}", "target"},
        {"{\"period\":\"2026-12\",\"metric\":\"mqls\",\"target\":\"9\"}", "target"},
        {"{\"period\":\"2026-12\",\"metric\":\"verdict_within\",\"within_days\":3,\"target\":101}",
         "target"},
        {"{\"period\":\"2026-12\",\"metric\":\"first_attempt_within\",\"target\":90}",
         "within_hours"},
        {"{\"period\":\"2026-12\",\"metric\":\"first_attempt_within\",\"within_hours\":0,"
         "\"target\":90}",
         "within_hours"},
        {"{\"period\":\"2026-12\",\"metric\":\"attempts\",\"min_attempts\":101,\"target\":90}",
         "min_attempts"},
        {"{\"period\":\"2026-12\",\"metric\":\"mqls\",\"within_days\":3,\"target\":9}",
         "within_days"},
        {"{\"period\":\"2026-12\",\"metric\":\"mqls\",\"target\":9,\"owner_id\":\"x\"}",
         "owner_id"},
        {"{\"period\":\"2026-12\",\"metric\":\"mqls\",\"target\":9,"
         "\"owner_id\":\"00000000-0000-4000-8000-000000000000\"}",
         "owner_id"},
        {"{\"period\":\"2026-12\",\"metric\":\"mqls\",\"target\":9,\"team\":\"sales\"}", "team"},
        {"{\"period\":\"2026-12\",\"metric\":\"mqls\",\"target\":9,\"side\":\"sales\"}", "side"},
    };
    char id[37], path[128];
    keys();
    PGconn *pg = pg_test();
    char *before = pg_value(pg, "SELECT count(*) FROM sla_goals");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp *r = post("/v1/sla/goals", admin, cases[i].body);
        ck_assert_msg(r->status == 422 && problem_names(r, cases[i].field),
                      "%s: expected 422 naming %s, got %ld %s", cases[i].body, cases[i].field,
                      r->status, r->body);
        assert_problem(r, 422, "validation-failed");
        resp_free(r);
    }
    char *after = pg_value(pg, "SELECT count(*) FROM sla_goals");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    PQfinish(pg);

    struct resp *r = post("/v1/sla/goals", sales,
                          "{\"period\":\"2027-01\",\"metric\":\"mqls\","
                          "\"target\":9}");
    ck_assert_int_eq(r->status, 403);
    resp_free(r);
    r = get("/v1/sla/goals?period=2026-1", sales);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
    r = get("/v1/sla/goals?metric=x", sales);
    ck_assert_int_eq(r->status, 400);
    resp_free(r);

    resp_free(call("POST", "/v1/sla/goals", admin,
                   "{\"period\":\"2027-02\",\"metric\":\"verdict_within\",\"within_days\":3,"
                   "\"target\":100}",
                   NULL, 201, id));
    snprintf(path, sizeof path, "/v1/sla/goals/%s", id);
    static const struct {
        const char *body, *field;
    } changes[] = {
        {"{\"period\":\"2027-03\"}", "period"}, {"{\"metric\":\"mqls\"}", "metric"},
        {"{\"target\":null}", "target"},        {"{\"target\":101}", "target"},
        {"{\"within_days\":0}", "within_days"}, {"{\"within_hours\":4}", "within_hours"},
        {"{\"version\":7}", "version"},
    };
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        r = patch(path, admin, changes[i].body, NULL);
        ck_assert_msg(r->status == 422 && problem_names(r, changes[i].field),
                      "PATCH %s: expected 422 naming %s, got %ld %s", changes[i].body,
                      changes[i].field, r->status, r->body);
        resp_free(r);
    }
    r = call("GET", path, admin, NULL, NULL, 200, NULL);
    member_is(r, "version", "1");
    resp_free(r);
    resp_free(call("GET", "/v1/sla/goals/not-a-uuid", admin, NULL, NULL, 404, NULL));
}
END_TEST

/* A lead created in May with this owner (NULL: none), handed to sales (to mql) at handed;
 * its id into id. */
static void handed_lead(const char *email, const char *owner, const char *handed, char id[37])
{
    char body[512], path[128];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"created_at\":\"2026-05-01T09:00:00Z\"%s%s%s}",
             email, owner ? ",\"owner_id\":\"" : "", owner ? owner : "", owner ? "\"" : "");
    resp_free(call("POST", "/v1/leads", admin, body, NULL, 201, id));
    snprintf(path, sizeof path, "/v1/leads/%s/history", id);
    snprintf(body, sizeof body, "{\"transitions\":[{\"to\":\"mql\",\"at\":\"%s\"}]}", handed);
    resp_free(call("POST", path, admin, body, NULL, 201, NULL));
}

static void log_interaction(const char *lead, const char *kind, const char *direction,
                            const char *outcome, const char *at)
{
    char body[512], path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", lead);
    snprintf(body, sizeof body,
             "{\"kind\":\"%s\",\"direction\":\"%s\",\"outcome\":\"%s\",\"occurred_at\":\"%s\"}",
             kind, direction, outcome, at);
    resp_free(call("POST", path, sales, body, NULL, 201, NULL));
}

static void verdict(const char *lead, const char *kind, const char *at)
{
    char body[256], path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lead);
    snprintf(body, sizeof body, "{\"kind\":\"%s\"%s,\"occurred_at\":\"%s\"}", kind,
             strcmp(kind, "rejected") ? "" : ",\"reason\":\"no_budget\"", at);
    resp_free(call("POST", path, sales, body, NULL, 201, NULL));
}

/* The member at a path of dotted names (borrowed), e.g. "all.response_bands.later". */
static json_t *at_path(json_t *j, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    return j;
}

static void figure_is(json_t *j, const char *path, const char *want, const char *body)
{
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    json_t *g = at_path(j, path);
    char *gs = g ? json_dumps(g, JSON_ENCODE_ANY) : NULL;
    bool same = w && (json_equal(w, g) || (json_is_number(w) && json_is_number(g) &&
                                           json_number_value(w) == json_number_value(g)));
    ck_assert_msg(same, "%s: expected %s, got %s in %s", path, want, gs ? gs : "(absent)", body);
    free(gs);
    json_decref(w);
}

/* The row of array whose member key is value (borrowed), or NULL. */
static json_t *row_where(json_t *array, const char *key, const char *value)
{
    size_t i;
    json_t *row;
    json_array_foreach(array, i, row)
    {
        const char *v = json_string_value(json_object_get(row, key));
        if (v && !strcmp(v, value))
            return row;
    }
    return NULL;
}

/* Five leads worked by hand: four handed over in June 2026 (two each for A and B), one on
 * the last day of May; interactions and verdicts at known offsets. Every figure of the
 * June report and of the current month's acceptance goal is worked out in the comments. */
START_TEST(the_sla_report_adds_up_by_hand)
{
    char a[37], b[37], l1[37], l2[37], l3[37], l4[37], l5[37], body[256];
    keys();
    char key_a[64], key_b[64];
    ck_assert(workspace_key("sla-hand", "admin", key_a));
    ck_assert(workspace_key("sla-hand", "sales", key_b));
    /* this test has its own workspace: swap the keys in for the helpers */
    char keep_admin[64], keep_sales[64];
    memcpy(keep_admin, admin, 64);
    memcpy(keep_sales, sales, 64);
    memcpy(admin, key_a, 64);
    memcpy(sales, key_b, 64);

    resp_free(call("POST", "/v1/users", admin,
                   "{\"name\":\"Ana\",\"email\":\"ana.sla@example.com\",\"team\":\"sales\","
                   "\"role\":\"sales\"}",
                   NULL, 201, a));
    resp_free(call("POST", "/v1/users", admin,
                   "{\"name\":\"Ben\",\"email\":\"ben.sla@example.com\",\"team\":\"sales\","
                   "\"role\":\"sales\"}",
                   NULL, 201, b));
    handed_lead("l1.sla@example.com", a, "2026-06-01T10:00:00Z", l1);
    handed_lead("l2.sla@example.com", a, "2026-06-01T10:00:00Z", l2);
    handed_lead("l3.sla@example.com", b, "2026-06-01T10:00:00Z", l3);
    handed_lead("l4.sla@example.com", b, "2026-06-01T10:00:00Z", l4);
    handed_lead("l5.sla@example.com", NULL, "2026-05-31T23:00:00Z", l5);
    /* L1: a call that connected after 3 minutes, accepted a day later */
    log_interaction(l1, "call", "outbound", "connected", "2026-06-01T10:03:00Z");
    verdict(l1, "accepted", "2026-06-02T10:00:00Z");
    /* L2: an email after 10 minutes, a call unanswered after 2 hours, rejected on day 5 */
    log_interaction(l2, "email", "outbound", "sent", "2026-06-01T10:10:00Z");
    log_interaction(l2, "call", "outbound", "no_answer", "2026-06-01T12:00:00Z");
    verdict(l2, "rejected", "2026-06-06T10:00:00Z");
    /* L3: accepted after 2 hours, without a logged attempt; L4: nothing; L5 (May): accepted */
    verdict(l3, "accepted", "2026-06-01T12:00:00Z");
    verdict(l5, "accepted", "2026-06-01T12:00:00Z");

    /* June's goals: marketing 8 hand-offs; sales 50 % answered within an hour, 80 % with two
     * attempts (or accepted); B's leads with a verdict within 2 days, 90 % */
    resp_free(call("POST", "/v1/sla/goals", admin,
                   "{\"period\":\"2026-06\",\"metric\":\"mqls\",\"target\":8}", NULL, 201, NULL));
    resp_free(call("POST", "/v1/sla/goals", admin,
                   "{\"period\":\"2026-06\",\"metric\":\"first_attempt_within\","
                   "\"within_hours\":1,\"target\":50}",
                   NULL, 201, NULL));
    resp_free(call("POST", "/v1/sla/goals", admin,
                   "{\"period\":\"2026-06\",\"metric\":\"attempts\",\"min_attempts\":2,"
                   "\"target\":80}",
                   NULL, 201, NULL));
    snprintf(body, sizeof body,
             "{\"period\":\"2026-06\",\"metric\":\"verdict_within\",\"within_days\":2,"
             "\"target\":90,\"owner_id\":\"%s\"}",
             b);
    resp_free(call("POST", "/v1/sla/goals", admin, body, NULL, 201, NULL));

    struct resp *r = call("GET", "/v1/reports/sla?period=2026-06", sales, NULL, NULL, 200, NULL);
    json_t *j = r->json;
    figure_is(j, "period", "\"2026-06\"", r->body);
    figure_is(j, "starts_on", "\"2026-06-01\"", r->body);
    figure_is(j, "ends_on", "\"2026-06-30\"", r->body);
    figure_is(j, "elapsed", "1", r->body);
    /* the cohort: L1..L4 (L5 was handed over in May) */
    figure_is(j, "all.handed_to_sales", "4", r->body);
    figure_is(j, "all.answered", "3", r->body);
    figure_is(j, "all.attempted", "2", r->body);
    figure_is(j, "all.contacted", "1", r->body);
    figure_is(j, "all.verdicts", "3", r->body);
    /* first responses 180 (L1's call), 600 (L2's email), 7200 (L3's feedback) */
    figure_is(j, "all.first_response_p50_seconds", "600", r->body);
    figure_is(j, "all.first_response_p95_seconds", "7200", r->body);
    figure_is(j, "all.first_attempt_p50_seconds", "180", r->body);
    figure_is(j, "all.first_attempt_p95_seconds", "600", r->body);
    figure_is(j, "all.first_contact_p50_seconds", "180", r->body);
    figure_is(j, "all.first_contact_p95_seconds", "180", r->body);
    /* verdicts after 7200 (L3), 86400 (L1), 432000 (L2) */
    figure_is(j, "all.verdict_p50_seconds", "86400", r->body);
    figure_is(j, "all.verdict_p95_seconds", "432000", r->body);
    figure_is(j, "all.response_bands",
              "{\"under_5m\":1,\"5m_15m\":1,\"15m_1h\":0,\"1h_4h\":1,\"4h_24h\":0,\"later\":0,"
              "\"not_yet\":1}",
              r->body);
    json_t *ra = row_where(json_object_get(j, "owners"), "owner_id", a);
    json_t *rb = row_where(json_object_get(j, "owners"), "owner_id", b);
    ck_assert_msg(ra && rb && json_array_size(json_object_get(j, "owners")) == 2, "owners: %s",
                  r->body);
    figure_is(ra, "handed_to_sales", "2", r->body);
    figure_is(ra, "first_response_p50_seconds", "180", r->body);
    figure_is(ra, "first_response_p95_seconds", "600", r->body);
    figure_is(ra, "verdicts", "2", r->body);
    figure_is(rb, "handed_to_sales", "2", r->body);
    figure_is(rb, "answered", "1", r->body);
    figure_is(rb, "attempted", "0", r->body);
    figure_is(rb, "first_response_p50_seconds", "7200", r->body);
    figure_is(rb, "team", "\"sales\"", r->body);
    json_t *teams = json_object_get(j, "teams");
    ck_assert_msg(json_array_size(teams) == 1, "teams: %s", r->body);
    figure_is(json_array_get(teams, 0), "handed_to_sales", "4", r->body);

    /* the goals, marketing's first */
    json_t *goals = json_object_get(j, "goals");
    ck_assert_msg(json_array_size(goals) == 4, "goals: %s", r->body);
    json_t *g = row_where(goals, "metric", "mqls");
    figure_is(g, "actual", "4", r->body);
    figure_is(g, "progress", "0.5", r->body);
    figure_is(g, "expected_by_now", "8", r->body);
    figure_is(g, "projected", "4", r->body);
    figure_is(g, "status", "\"missed\"", r->body);
    /* within an hour: L1 and L2 met, L3 (2 h) and L4 (never) missed */
    g = row_where(goals, "metric", "first_attempt_within");
    figure_is(g, "met", "2", r->body);
    figure_is(g, "missed", "2", r->body);
    figure_is(g, "pending", "0", r->body);
    figure_is(g, "actual", "50", r->body);
    figure_is(g, "status", "\"met\"", r->body);
    /* two attempts: L2 had them, L1 and L3 were accepted, L4 is open */
    g = row_where(goals, "metric", "attempts");
    figure_is(g, "met", "3", r->body);
    figure_is(g, "missed", "0", r->body);
    figure_is(g, "pending", "1", r->body);
    figure_is(g, "actual", "100", r->body);
    figure_is(g, "status", "\"on_track\"", r->body);
    /* B's verdicts within 2 days: L3 met, L4 missed */
    g = row_where(goals, "metric", "verdict_within");
    char want[64];
    snprintf(want, sizeof want, "\"%s\"", b);
    figure_is(g, "owner_id", want, r->body);
    figure_is(g, "met", "1", r->body);
    figure_is(g, "missed", "1", r->body);
    figure_is(g, "actual", "50", r->body);
    figure_is(g, "progress", "0.556", r->body);
    figure_is(g, "status", "\"missed\"", r->body);
    resp_free(r);

    /* This month: L1, L3 and L5 were accepted now (the feedback moved their stage when it
     * was given): a goal of 2 accepted leads is met. */
    PGconn *pg = pg_test();
    char *month = pg_value(pg, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM')");
    PQfinish(pg);
    snprintf(body, sizeof body, "{\"period\":\"%s\",\"metric\":\"accepted_leads\",\"target\":2}",
             month);
    resp_free(call("POST", "/v1/sla/goals", admin, body, NULL, 201, NULL));
    r = call("GET", "/v1/reports/sla", sales, NULL, NULL, 200, NULL);
    snprintf(want, sizeof want, "\"%s\"", month);
    figure_is(r->json, "period", want, r->body);
    g = row_where(json_object_get(r->json, "goals"), "metric", "accepted_leads");
    ck_assert_msg(g, "goals: %s", r->body);
    figure_is(g, "actual", "3", r->body);
    figure_is(g, "status", "\"met\"", r->body);
    figure_is(r->json, "all.handed_to_sales", "0", r->body);
    resp_free(r);
    free(month);

    r = call("GET", "/v1/reports/sla?period=2026-13", sales, NULL, NULL, 400, NULL);
    ck_assert(problem_names(r, "period"));
    resp_free(r);
    memcpy(admin, keep_admin, 64);
    memcpy(sales, keep_sales, 64);
}
END_TEST

Suite *sla_suite(void)
{
    Suite *s = suite_create("sla");
    TCase *tc = tcase_create("sla");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, goals_are_set_listed_changed_and_removed);
    tcase_add_test(tc, bad_goals_are_refused_naming_the_field);
    tcase_add_test(tc, the_sla_report_adds_up_by_hand);
    suite_add_tcase(s, tc);
    return s;
}
