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

Suite *sla_suite(void)
{
    Suite *s = suite_create("sla");
    TCase *tc = tcase_create("sla");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, goals_are_set_listed_changed_and_removed);
    tcase_add_test(tc, bad_goals_are_refused_naming_the_field);
    suite_add_tcase(s, tc);
    return s;
}
