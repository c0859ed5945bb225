/* Campaigns against a real daemon: create, get, patch and archive; lists filtered, sorted
 * and paged; validation and roles; and regressions the first review found. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"
#include "suites.h"
#include "support.h"

START_TEST(campaign_create_get_patch_archive)
{
    char owner[40], body[1024], path[96], id[40];
    new_user(admin_key, "campaign.owner@example.com", owner);
    snprintf(body, sizeof body,
             "{\"name\":\"Spring Launch\",\"channel\":\"webinar\",\"status\":\"active\","
             "\"budget\":500000,\"cost\":12345,\"currency\":\"USD\",\"starts_on\":\"2026-03-01\","
             "\"ends_on\":\"2026-03-31\",\"owner_id\":\"%s\",\"tags\":[\"q1\",\"launch\"],"
             "\"description\":\"Webinar series\"}",
             owner);
    struct resp *c = post("/v1/campaigns", admin_key, body);
    expect_status(c, 201, "create campaign");
    snprintf(id, sizeof id, "%s", jstr(c, "id"));
    snprintf(path, sizeof path, "/v1/campaigns/%s", id);
    expect_header(c, "Location", path);
    expect_header(c, "ETag", "\"1\"");
    json_t *sent = json_loads(body, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(sent, k, v)
    {
        ck_assert_msg(json_equal(v, json_object_get(c->json, k)), "member %s: sent %s, got %s", k,
                      js(v), c->body);
    }
    json_decref(sent);
    ck_assert_int_eq(jint(c, "version"), 1);
    ck_assert_msg(is_timestamp(jstr(c, "created_at")) && is_timestamp(jstr(c, "updated_at")),
                  "timestamps: %s", c->body);

    struct resp *g = get(path, readonly_key);
    expect_status(g, 200, "get campaign");
    expect_header(g, "ETag", "\"1\"");
    ck_assert_msg(json_equal(g->json, c->json), "GET %s differs from the create answer %s", g->body,
                  c->body);
    resp_free(g);

    /* defaults */
    struct resp *d =
        post("/v1/campaigns", admin_key, "{\"name\":\"Minimal\",\"channel\":\"other\"}");
    expect_status(d, 201, "minimal campaign");
    json_t *want = json_pack("{s:s, s:i, s:i, s:s, s:n, s:n, s:n, s:[], s:n}", "status", "planned",
                             "budget", 0, "cost", 0, "currency", "USD", "starts_on", "ends_on",
                             "owner_id", "tags", "description");
    json_object_foreach(want, k, v)
    {
        ck_assert_msg(json_equal(v, json_object_get(d->json, k)), "default %s: expected %s in %s",
                      k, js(v), d->body);
    }
    json_decref(want);
    resp_free(d);

    /* merge patch with If-Match; nullable members cleared, tags replaced whole */
    struct resp *p = patch(path, admin_key,
                           "{\"name\":\"Spring Launch II\",\"tags\":[\"only\"],"
                           "\"description\":null,\"ends_on\":null,\"owner_id\":null}",
                           "\"1\"");
    expect_status(p, 200, "patch with If-Match 1");
    expect_header(p, "ETag", "\"2\"");
    ck_assert_int_eq(jint(p, "version"), 2);
    ck_assert_str_eq(jstr(p, "name"), "Spring Launch II");
    ck_assert_str_eq(jstr(p, "starts_on"), "2026-03-01");
    ck_assert_int_eq(jint(p, "budget"), 500000);
    ck_assert_str_eq(jstr(p, "currency"), "USD");
    ck_assert_msg(json_is_null(json_object_get(p->json, "description")) &&
                      json_is_null(json_object_get(p->json, "ends_on")) &&
                      json_is_null(json_object_get(p->json, "owner_id")),
                  "nulls clear: %s", p->body);
    json_t *tags = json_object_get(p->json, "tags");
    ck_assert_msg(json_array_size(tags) == 1 &&
                      !strcmp(json_string_value(json_array_get(tags, 0)), "only"),
                  "tags replaced whole: %s", p->body);
    ck_assert_msg(strcmp(jstr(p, "updated_at"), jstr(c, "updated_at")) > 0,
                  "updated_at moves forward: %s then %s", jstr(c, "updated_at"),
                  jstr(p, "updated_at"));
    ck_assert_str_eq(jstr(p, "created_at"), jstr(c, "created_at"));
    resp_free(p);

    p = patch(path, admin_key, "{\"name\":\"Stale\"}", "\"1\"");
    assert_problem(p, 412, "precondition-failed");
    ck_assert_str_eq(jstr(p, "current_etag"), "\"2\"");
    resp_free(p);
    p = patch(path, admin_key, "{\"name\":null,\"budget\":null}", NULL);
    expect_invalid(p, "name", "name null");
    ck_assert_msg(problem_names(p, "budget"), "budget null is named too: %s", p->body);
    resp_free(p);

    /* archive: stale If-Match refused, then 204 and the row stays, archived */
    struct resp *a = del_if(path, admin_key, "\"1\"");
    assert_problem(a, 412, "precondition-failed");
    ck_assert_str_eq(jstr(a, "current_etag"), "\"2\"");
    resp_free(a);
    a = del_if(path, admin_key, "\"2\"");
    expect_status(a, 204, "archive");
    ck_assert_int_eq(a->len, 0);
    resp_free(a);
    g = get(path, admin_key);
    expect_status(g, 200, "get archived campaign");
    ck_assert_str_eq(jstr(g, "status"), "archived");
    ck_assert_int_eq(jint(g, "version"), 3);
    expect_header(g, "ETag", "\"3\"");
    ck_assert_str_eq(jstr(g, "name"), "Spring Launch II");
    resp_free(g);
    resp_free(c);
}
END_TEST

START_TEST(campaign_lists_filter_sort_and_page)
{
    char key[64], owner[40], ids[5][40], body[512], got[4096];
    ck_assert(workspace_key("core-campaign-lists", "admin", key));
    new_user(key, "lists.owner@example.com", owner);
    const char *bodies[5] = {
        "{\"name\":\"Alpha\",\"channel\":\"email\",\"status\":\"active\","
        "\"starts_on\":\"2026-01-01\",\"ends_on\":\"2026-01-31\"}",
        NULL, /* Beta: owned, below */
        "{\"name\":\"Gamma\",\"channel\":\"email\",\"status\":\"paused\"}",
        "{\"name\":\"Delta\",\"channel\":\"event\",\"status\":\"active\","
        "\"starts_on\":\"2026-02-01\",\"ends_on\":\"2026-02-28\"}",
        "{\"name\":\"Alphabet soup\",\"channel\":\"email\",\"status\":\"completed\","
        "\"starts_on\":\"2025-12-01\",\"ends_on\":\"2026-01-10\"}",
    };
    for (int i = 0; i < 5; i++) {
        if (i == 1)
            snprintf(body, sizeof body,
                     "{\"name\":\"Beta\",\"channel\":\"webinar\",\"starts_on\":\"2026-01-15\","
                     "\"owner_id\":\"%s\"}",
                     owner);
        else
            snprintf(body, sizeof body, "%s", bodies[i]);
        create("/v1/campaigns", key, body, ids[i]);
    }
    /* Gamma changes last: updated_since its new updated_at finds it alone */
    char path[1024], since[64];
    snprintf(path, sizeof path, "/v1/campaigns/%s", ids[2]);
    struct resp *p = patch(path, key, "{\"cost\":5}", NULL);
    expect_status(p, 200, "patch Gamma");
    snprintf(since, sizeof since, "%s", jstr(p, "updated_at"));
    resp_free(p);

    static const struct {
        const char *query, *names;
    } cases[] = {
        {"sort=name", "Alpha,Alphabet soup,Beta,Delta,Gamma"},
        {"sort=-name", "Gamma,Delta,Beta,Alphabet soup,Alpha"},
        {"sort=starts_on", "Alphabet soup,Alpha,Beta,Delta,Gamma"},
        {"sort=-starts_on", "Gamma,Delta,Beta,Alpha,Alphabet soup"},
        {"sort=created_at", "Alpha,Beta,Gamma,Delta,Alphabet soup"},
        {"sort=-created_at", "Alphabet soup,Delta,Gamma,Beta,Alpha"},
        {"", "Alphabet soup,Delta,Gamma,Beta,Alpha"}, /* the default sort */
        {"sort=name&status=active", "Alpha,Delta"},
        {"sort=name&channel=email", "Alpha,Alphabet soup,Gamma"},
        {"sort=name&channel=email&status=active", "Alpha"},
        {"sort=name&active_on=2026-01-20", "Alpha,Beta"},
        {"sort=name&active_on=2026-01-10", "Alpha,Alphabet soup"},
        {"sort=name&active_on=2026-02-28", "Beta,Delta"},
        {"sort=name&active_on=2025-01-01", ""},
        {"sort=name&q=ALPHA", "Alpha,Alphabet soup"},
        {"sort=name&q=lta", "Delta"},
        {"sort=name&q=bet%20so", "Alphabet soup"},
        {"sort=name&q=%25", ""}, /* % is a character, not a wildcard */
        {"sort=name&owner_id", "Beta"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "/v1/campaigns?limit=2%s%s", *cases[i].query ? "&" : "",
                 cases[i].query);
        if (strstr(cases[i].query, "owner_id"))
            snprintf(path, sizeof path, "/v1/campaigns?limit=2&sort=name&owner_id=%s", owner);
        collect(key, path, "name", got, sizeof got);
        ck_assert_msg(!strcmp(got, cases[i].names), "%s: expected [%s], got [%s]", path,
                      cases[i].names, got);
    }
    snprintf(path, sizeof path, "/v1/campaigns?sort=name&updated_since=%s", since);
    collect(key, path, "name", got, sizeof got);
    ck_assert_msg(!strcmp(got, "Gamma"), "%s: expected [Gamma], got [%s]", path, got);

    /* bad values are 400 naming the parameter */
    static const struct {
        const char *query, *field;
    } bad[] = {{"status=deleted", "status"},
               {"channel=fax", "channel"},
               {"active_on=2026-13-01", "active_on"},
               {"updated_since=yesterday", "updated_since"},
               {"sort=budget", "sort"},
               {"owner_id=bob", "owner_id"},
               {"limit=0", "limit"},
               {"limit=501", "limit"},
               {"colour=red", "colour"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/v1/campaigns?%s", bad[i].query);
        struct resp *r = get(path, key);
        assert_problem(r, 400, "invalid-parameter");
        ck_assert_msg(problem_names(r, bad[i].field), "%s: expected errors[] to name %s, got %s",
                      path, bad[i].field, r->body);
        resp_free(r);
    }
    /* a cursor belongs to its sort */
    struct resp *r = get("/v1/campaigns?sort=name&limit=1", key);
    char cursor[512];
    snprintf(cursor, sizeof cursor, "%s",
             json_string_value(json_object_get(r->json, "next_cursor")));
    resp_free(r);
    snprintf(path, sizeof path, "/v1/campaigns?sort=-name&limit=1&cursor=%s", cursor);
    r = get(path, key);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert_msg(problem_names(r, "cursor"), "names cursor: %s", r->body);
    resp_free(r);
}
END_TEST

START_TEST(campaign_validation_and_roles)
{
    char theirs[40], id[40], path[96], body[256];
    struct resp *r = post("/v1/campaigns", admin_key,
                          "{\"name\":\"Backwards\",\"channel\":\"event\","
                          "\"starts_on\":\"2026-05-01\",\"ends_on\":\"2026-04-30\"}");
    expect_invalid(r, "ends_on", "ends before it starts");
    resp_free(r);
    /* EUR is a real currency, but not this workspace's reporting currency (USD) */
    const char *currencies[] = {"usd", "EURO", "ABC", "", "12€", "EUR"};
    for (size_t i = 0; i < sizeof currencies / sizeof currencies[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"name\":\"Money\",\"channel\":\"email\",\"currency\":\"%s\"}", currencies[i]);
        r = post("/v1/campaigns", admin_key, body);
        expect_invalid(r, "currency", currencies[i]);
        resp_free(r);
    }
    r = post("/v1/campaigns", admin_key,
             "{\"name\":\"Ghost owner\",\"channel\":\"email\","
             "\"owner_id\":\"5b0d2f0c-8e4a-4c1b-9d7e-0f3a6b2c1d99\"}");
    expect_invalid(r, "owner_id", "unknown owner");
    resp_free(r);
    new_user(other_admin_key, "their.owner@other.example", theirs);
    snprintf(body, sizeof body,
             "{\"name\":\"Their owner\",\"channel\":\"email\",\"owner_id\":\"%s\"}", theirs);
    r = post("/v1/campaigns", admin_key, body);
    expect_invalid(r, "owner_id", "another workspace's user as owner");
    resp_free(r);

    /* the database check names ends_on when a patch crosses the stored start */
    create("/v1/campaigns", admin_key,
           "{\"name\":\"March\",\"channel\":\"event\",\"starts_on\":\"2026-03-01\"}", id);
    snprintf(path, sizeof path, "/v1/campaigns/%s", id);
    r = patch(path, admin_key, "{\"ends_on\":\"2026-02-01\"}", NULL);
    expect_invalid(r, "ends_on", "patch ends_on before the stored starts_on");
    resp_free(r);
    r = get(path, admin_key);
    ck_assert_int_eq(jint(r, "version"), 1);
    ck_assert_msg(json_is_null(json_object_get(r->json, "ends_on")), "unchanged: %s", r->body);
    resp_free(r);

    /* roles: campaigns are written by admin and marketing; read by all */
    char sales[64], marketing[64];
    new_key(admin_key, "sales", sales);
    new_key(admin_key, "marketing", marketing);
    r = post("/v1/campaigns", sales, "{\"name\":\"By sales\",\"channel\":\"email\"}");
    assert_problem(r, 403, "forbidden");
    ck_assert_str_eq(jstr(r, "role"), "sales");
    resp_free(r);
    r = patch(path, sales, "{\"name\":\"By sales\"}", NULL);
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = del(path, sales);
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = post("/v1/campaigns", readonly_key, "{\"name\":\"By readonly\",\"channel\":\"email\"}");
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = post("/v1/campaigns", marketing, "{\"name\":\"By marketing\",\"channel\":\"email\"}");
    expect_status(r, 201, "marketing creates a campaign");
    resp_free(r);
    const char *readers[] = {readonly_key, sales, marketing};
    for (int i = 0; i < 3; i++) {
        r = get("/v1/campaigns?limit=1", readers[i]);
        expect_status(r, 200, "list campaigns");
        resp_free(r);
        r = get(path, readers[i]);
        expect_status(r, 200, "get campaign");
        resp_free(r);
    }
    /* leads are written by sales too, never by readonly */
    r = post("/v1/leads", sales, "{\"email\":\"by.sales@example.com\"}");
    expect_status(r, 201, "sales creates a lead");
    resp_free(r);
    r = post("/v1/leads", readonly_key, "{\"email\":\"by.readonly@example.com\"}");
    assert_problem(r, 403, "forbidden");
    resp_free(r);
}
END_TEST

/* Regressions of bugs the first tests found. */
START_TEST(regressions_of_the_first_review)
{
    char ws_key[64], c_id[40], path[128], l_id[40];
    ck_assert(workspace_key("core-regressions", "admin", ws_key));

    /* an empty campaign patch answers the campaign unchanged */
    create("/v1/campaigns", ws_key, "{\"name\":\"Élan Été\",\"channel\":\"event\"}", c_id);
    snprintf(path, sizeof path, "/v1/campaigns/%s", c_id);
    struct resp *r = patch(path, ws_key, "{}", NULL);
    expect_status(r, 200, "PATCH {}");
    ck_assert_int_eq(jint(r, "version"), 1);
    resp_free(r);

    /* campaign q folds case for any script, as lead search does */
    r = get("/v1/campaigns?q=%C3%A9lan", ws_key);
    expect_status(r, 200, "q=élan");
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 1);
    resp_free(r);

    /* names of 200 four-byte characters still page */
    char name[1000] = "", body[1200];
    for (int i = 0; i < 200; i++)
        strcat(name, "\xF0\x9F\x98\x80");
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"channel\":\"other\"}", name);
        create("/v1/campaigns", ws_key, body, c_id);
    }
    r = get("/v1/campaigns?sort=-name&limit=1", ws_key);
    expect_status(r, 200, "sort=-name");
    ck_assert_msg(json_is_string(json_object_get(r->json, "next_cursor")),
                  "a long name must still give a cursor: %s", r->body);
    char *link = resp_header(r, "Link");
    ck_assert_msg(link != NULL, "and a Link header");
    free(link);
    char next[2600];
    snprintf(next, sizeof next, "/v1/campaigns?sort=-name&limit=1&cursor=%s",
             jstr(r, "next_cursor"));
    resp_free(r);
    r = get(next, ws_key);
    expect_status(r, 200, "the next page");
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 1);
    resp_free(r);

    /* a forged cursor whose value does not fit its sort is a bad parameter */
    r = get("/v1/campaigns?sort=starts_on&cursor="
            "c3RhcnRzX29ufG5vdGFkYXRlfDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA",
            ws_key);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);

    /* consent without email_opt_in cannot be made by a patch; captured_at is normalised */
    create("/v1/leads", ws_key, "{\"email\":\"consent@example.com\"}", l_id);
    snprintf(path, sizeof path, "/v1/leads/%s", l_id);
    r = patch(path, ws_key, "{\"consent\":{\"how\":\"form\"}}", NULL);
    expect_invalid(r, "consent.email_opt_in", "consent without email_opt_in");
    resp_free(r);
    r = patch(path, ws_key,
              "{\"consent\":{\"email_opt_in\":true,\"captured_at\":\"2026-01-02T03:04:05+02:00\"}}",
              NULL);
    expect_status(r, 200, "consent with a local time");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r->json, "consent"), "captured_at")),
        "2026-01-02T01:04:05.000000Z");
    resp_free(r);

    /* campaign_id on a PUT that updates is refused, not ignored */
    r = put("/v1/leads/by-email/consent@example.com", ws_key,
            "{\"campaign_id\":\"7d3f6a52-1c1e-4c55-9a8e-3b0c6d2f9e11\"}", NULL);
    expect_invalid(r, "campaign_id", "campaign_id on update");
    resp_free(r);
}
END_TEST

Suite *campaigns_suite(void)
{
    Suite *s = suite_create("campaigns");
    TCase *tc_create_get_patch_archive = tcase_create("create_get_patch_archive");
    tcase_set_timeout(tc_create_get_patch_archive, 120);
    tcase_add_test(tc_create_get_patch_archive, campaign_create_get_patch_archive);
    suite_add_tcase(s, tc_create_get_patch_archive);
    TCase *tc_lists_filter_sort_and_page = tcase_create("lists_filter_sort_and_page");
    tcase_set_timeout(tc_lists_filter_sort_and_page, 120);
    tcase_add_test(tc_lists_filter_sort_and_page, campaign_lists_filter_sort_and_page);
    suite_add_tcase(s, tc_lists_filter_sort_and_page);
    TCase *tc_validation_and_roles = tcase_create("validation_and_roles");
    tcase_set_timeout(tc_validation_and_roles, 120);
    tcase_add_test(tc_validation_and_roles, campaign_validation_and_roles);
    suite_add_tcase(s, tc_validation_and_roles);
    TCase *tc_regressions_of_the_first_review = tcase_create("regressions_of_the_first_review");
    tcase_set_timeout(tc_regressions_of_the_first_review, 120);
    tcase_add_test(tc_regressions_of_the_first_review, regressions_of_the_first_review);
    suite_add_tcase(s, tc_regressions_of_the_first_review);
    return s;
}
