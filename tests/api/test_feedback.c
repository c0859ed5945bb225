/* Sales feedback: the verdicts, the stage moves they make, the reasons, the workspace's
 * reporting currency, and the roles allowed to give feedback. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

static char admin[64], sales[64], marketing[64], readonly[64];

static void keys(void)
{
    static bool made;
    if (made)
        return;
    ck_assert(workspace_key("feedback-a", "admin", admin));
    ck_assert(workspace_key("feedback-a", "sales", sales));
    ck_assert(workspace_key("feedback-a", "marketing", marketing));
    ck_assert(workspace_key("feedback-a", "readonly", readonly));
    made = true;
}

/* A new lead, moved to stage (through transitions) when not "new"; its path into path. */
static void lead(const char *email, const char *stage, char path[128])
{
    char body[160];
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    struct resp *r = post("/v1/leads", admin, body);
    ck_assert_msg(r->status == 201, "lead: %ld %s", r->status, r->body);
    snprintf(path, 128, "/v1/leads/%s", jstr(r, "id"));
    resp_free(r);
    if (strcmp(stage, "new") != 0) {
        char tpath[160];
        snprintf(tpath, sizeof tpath, "%s/transitions", path);
        snprintf(body, sizeof body, "{\"to\":\"%s\"}", stage);
        r = post(tpath, admin, body);
        ck_assert_msg(r->status == 201, "to %s: %ld %s", stage, r->status, r->body);
        resp_free(r);
    }
}

static struct resp *give(const char *path, const char *key, const char *body)
{
    char fpath[160];
    snprintf(fpath, sizeof fpath, "%s/feedback", path);
    return post(fpath, key, body);
}

static const char *stage_of(const char *path)
{
    static char stage[32];
    struct resp *r = get(path, admin);
    snprintf(stage, sizeof stage, "%s", jstr(r, "stage"));
    resp_free(r);
    return stage;
}

START_TEST(verdicts_move_the_stage)
{
    char p[128];
    keys();
    lead("fb.accept@example.com", "mql", p);
    struct resp *r = give(p, sales, "{\"kind\":\"accepted\",\"rating\":4,\"note\":\"good fit\"}");
    ck_assert_msg(r->status == 201, "accepted: %ld %s", r->status, r->body);
    ck_assert_str_eq(jstr(r, "stage_before"), "mql");
    ck_assert_str_eq(jstr(r, "stage_after"), "sales_accepted");
    resp_free(r);
    ck_assert_str_eq(stage_of(p), "sales_accepted");
    r = give(p, sales, "{\"kind\":\"contacted\"}");
    ck_assert_int_eq(r->status, 201);
    ck_assert_str_eq(jstr(r, "stage_after"), "sales_accepted");
    resp_free(r);
    r = give(p, sales, "{\"kind\":\"won\",\"amount\":250000,\"currency\":\"USD\"}");
    ck_assert_msg(r->status == 201, "won: %ld %s", r->status, r->body);
    resp_free(r);
    ck_assert_str_eq(stage_of(p), "customer");
    /* a customer takes no more verdicts */
    r = give(p, sales, "{\"kind\":\"lost\",\"reason\":\"no_budget\"}");
    assert_problem(r, 409, "conflict");
    resp_free(r);

    /* rejection: recycled with a recycle date, or disqualified, as the reason says */
    lead("fb.reject@example.com", "mql", p);
    r = give(p, sales, "{\"kind\":\"rejected\",\"reason\":\"bad_timing\"}");
    ck_assert_int_eq(r->status, 201);
    ck_assert_str_eq(jstr(r, "stage_after"), "recycled");
    resp_free(r);
    r = get(p, admin);
    ck_assert_msg(json_is_string(json_object_get(r->json, "recycle_on")), "recycle_on: %s",
                  r->body);
    resp_free(r);
    lead("fb.spam@example.com", "new", p);
    r = give(p, sales, "{\"kind\":\"rejected\",\"reason\":\"spam\"}");
    ck_assert_int_eq(r->status, 201);
    ck_assert_str_eq(jstr(r, "stage_after"), "disqualified");
    resp_free(r);

    /* the timeline shows feedback beside the stage changes */
    r = get("/v1/feedback?kind=rejected&reason=spam", readonly);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 1);
    resp_free(r);
    char tl[160];
    snprintf(tl, sizeof tl, "%s/timeline", p);
    r = get(tl, readonly);
    ck_assert_msg(strstr(r->body, "\"type\":\"feedback\"") != NULL, "timeline: %s", r->body);
    resp_free(r);
}
END_TEST

START_TEST(bad_feedback_is_refused_naming_the_field)
{
    char p[128];
    keys();
    lead("fb.bad@example.com", "sales_accepted", p);
    struct {
        const char *body, *field;
    } cases[] = {
        {"{\"kind\":\"accepted\",\"rating\":0}", "rating"},
        {"{\"kind\":\"accepted\",\"rating\":6}", "rating"},
        {"{\"kind\":\"won\"}", "amount"},
        {"{\"kind\":\"won\",\"amount\":5}", "currency"},
        {"{\"kind\":\"won\",\"amount\":5,\"currency\":\"EUR\"}", "currency"},
        {"{\"kind\":\"lost\"}", "reason"},
        {"{\"kind\":\"lost\",\"reason\":null}", "reason"},
        {"{\"kind\":\"won\",\"amount\":null,\"currency\":\"USD\"}", "amount"},
        {"{\"kind\":\"lost\",\"reason\":\"nonexistent\"}", "reason"},
        {"{\"kind\":\"lost\",\"reason\":\"spam\"}", "reason"}, /* spam applies to rejections */
        {"{\"kind\":\"accepted\",\"reason\":\"spam\"}", "reason"},
        {"{\"kind\":\"thanks\"}", "kind"},
        {"{\"kind\":\"contacted\",\"occurred_at\":\"2099-01-01T00:00:00Z\"}", "occurred_at"},
        {"{\"kind\":\"contacted\",\"author_id\":\"7d3f6a52-1c1e-4c55-9a8e-3b0c6d2f9e11\"}",
         "author_id"}, /* only admin keys may name the author */
        {"{\"kind\":\"contacted\",\"stage_after\":\"customer\"}", "stage_after"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp *r = give(p, sales, cases[i].body);
        ck_assert_msg(r->status == 422 && problem_names(r, cases[i].field),
                      "%s: expected 422 naming %s, got %ld %s", cases[i].body, cases[i].field,
                      r->status, r->body);
        resp_free(r);
    }
    PGconn *pg = pg_test();
    char *n = pg_value_p(pg,
                         "SELECT count(*) FROM feedback f JOIN leads l ON l.workspace_id ="
                         " f.workspace_id AND l.id = f.lead_id WHERE l.email = $1",
                         "fb.bad@example.com");
    ck_assert_str_eq(n, "0");
    free(n);
    PQfinish(pg);
    /* won from new is a conflict naming why */
    lead("fb.early@example.com", "new", p);
    struct resp *r = give(p, sales, "{\"kind\":\"won\",\"amount\":1,\"currency\":\"USD\"}");
    assert_problem(r, 409, "conflict");
    ck_assert_msg(strstr(jstr(r, "detail"), "sales_accepted") != NULL, "why: %s", r->body);
    resp_free(r);
    /* unknown report-style parameters on the feedback list */
    r = get("/v1/feedback?colour=red", readonly);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
}
END_TEST

START_TEST(only_sales_and_admin_give_feedback)
{
    char p[128];
    keys();
    lead("fb.roles@example.com", "mql", p);
    struct resp *r = give(p, readonly, "{\"kind\":\"contacted\"}");
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = give(p, marketing, "{\"kind\":\"contacted\"}");
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = give(p, sales, "{\"kind\":\"contacted\"}");
    ck_assert_int_eq(r->status, 201);
    ck_assert_msg(json_is_null(json_object_get(json_object_get(r->json, "author"), "user_id")),
                  "a key without a user is the author itself: %s", r->body);
    resp_free(r);
    r = give(p, admin, "{\"kind\":\"contacted\"}");
    ck_assert_int_eq(r->status, 201);
    resp_free(r);
}
END_TEST

START_TEST(reasons_and_the_reporting_currency)
{
    keys();
    struct resp *r = get("/v1/feedback-reasons?limit=500", readonly);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 11);
    resp_free(r);
    r = post("/v1/feedback-reasons", admin,
             "{\"code\":\"pricing\",\"label\":\"Too expensive\",\"kinds\":[\"lost\"],"
             "\"recycle_after_days\":120}");
    ck_assert_msg(r->status == 201, "new reason: %ld %s", r->status, r->body);
    resp_free(r);
    r = post("/v1/feedback-reasons", sales,
             "{\"code\":\"x\",\"label\":\"x\",\"kinds\":[\"lost\"]}");
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = send_json("PATCH", "/v1/feedback-reasons/pricing", admin, "{\"active\":false}", 16, NULL,
                  NULL);
    ck_assert_msg(r->status == 200, "deactivate: %ld %s", r->status, r->body);
    resp_free(r);
    char p[128];
    lead("fb.pricing@example.com", "opportunity", p);
    r = give(p, sales, "{\"kind\":\"lost\",\"reason\":\"pricing\"}");
    ck_assert_msg(r->status == 422 && problem_names(r, "reason"), "inactive reason: %ld %s",
                  r->status, r->body);
    resp_free(r);

    /* the reporting currency changes only while no money uses the old one */
    r = get("/v1/workspace", readonly);
    ck_assert_str_eq(jstr(r, "currency"), "USD");
    resp_free(r);
    lead("fb.money@example.com", "sales_accepted", p);
    r = give(p, sales, "{\"kind\":\"won\",\"amount\":100,\"currency\":\"USD\"}");
    ck_assert_int_eq(r->status, 201);
    resp_free(r);
    r = send_json("PATCH", "/v1/workspace", admin, "{\"currency\":\"EUR\"}", 18, NULL, NULL);
    assert_problem(r, 409, "conflict");
    resp_free(r);
    r = send_json("PATCH", "/v1/workspace", sales, "{\"name\":\"x\"}", 12, NULL, NULL);
    assert_problem(r, 403, "forbidden");
    resp_free(r);
}
END_TEST

Suite *feedback_suite(void)
{
    Suite *s = suite_create("feedback");
    TCase *tc = tcase_create("feedback");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, verdicts_move_the_stage);
    tcase_add_test(tc, bad_feedback_is_refused_naming_the_field);
    tcase_add_test(tc, only_sales_and_admin_give_feedback);
    tcase_add_test(tc, reasons_and_the_reporting_currency);
    suite_add_tcase(s, tc);
    return s;
}
