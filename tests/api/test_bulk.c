/* The bulk paths: a batch of leads where bad items fail alone, and the CSV import,
 * including 100,000 generated rows. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

static const char *const csv[] = {"Content-Type: text/csv", NULL};

START_TEST(batch_fails_bad_items_alone)
{
    char key[64];
    ck_assert(workspace_key("bulk-batch", "admin", key));
    struct resp *r = post("/v1/leads/batch", key,
                          "{\"leads\":[{\"email\":\"b1@example.com\",\"first_name\":\"One\"},"
                          "{\"email\":\"not-an-email\"},"
                          "{\"email\":\"B1@example.com\"},"
                          "{\"email\":\"b2@example.com\",\"score\":101},"
                          "{\"email\":\"b3@example.com\",\"country\":\"DE\"}]}");
    ck_assert_msg(r->status == 200, "batch: %ld %s", r->status, r->body);
    json_t *results = json_object_get(r->json, "results");
    ck_assert_int_eq(json_array_size(results), 5);
    long want[5] = {201, 422, 409, 422, 201};
    for (size_t i = 0; i < 5; i++) {
        json_t *item = json_array_get(results, i);
        ck_assert_int_eq(json_integer_value(json_object_get(item, "index")), (long)i);
        ck_assert_msg(json_integer_value(json_object_get(item, "status")) == want[i],
                      "item %zu: expected %ld: %s", i, want[i], r->body);
    }
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "created")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "failed")), 3);
    resp_free(r);
    /* upsert: an existing email is merged */
    r = post("/v1/leads/batch", key,
             "{\"mode\":\"upsert\",\"leads\":[{\"email\":\"b1@example.com\",\"title\":\"CTO\"}]}");
    ck_assert_msg(r->status == 200 && json_integer_value(json_object_get(r->json, "updated")) == 1,
                  "upsert: %s", r->body);
    resp_free(r);
    r = get("/v1/leads?q=b1", key);
    json_t *lead = json_array_get(json_object_get(r->json, "data"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(lead, "first_name")), "One");
    ck_assert_str_eq(json_string_value(json_object_get(lead, "title")), "CTO");
    resp_free(r);
    /* more than 1,000 items */
    size_t cap = 1001 * 40 + 32, len = 0;
    char *big = malloc(cap);
    len += (size_t)snprintf(big + len, cap - len, "{\"leads\":[");
    for (int i = 0; i < 1001; i++)
        len += (size_t)snprintf(big + len, cap - len, "%s{\"email\":\"m%d@example.com\"}",
                                i ? "," : "", i);
    len += (size_t)snprintf(big + len, cap - len, "]}");
    r = post("/v1/leads/batch", key, big);
    ck_assert_msg(r->status == 422 && problem_names(r, "leads"), "1001 items: %ld %s", r->status,
                  r->body);
    resp_free(r);
    free(big);
}
END_TEST

START_TEST(import_reads_rfc4180_and_reports_rejections)
{
    char key[64];
    ck_assert(workspace_key("bulk-import", "admin", key));
    static const char file[] = "\xEF\xBB\xBF"
                               "email,first_name,company,score,industry\r\n"
                               "ann@example.com,Ann,\"Acme, Inc.\",42,Retail\r\n"
                               "bob@example.com,\"Bob \"\"B\"\"\",\"Line\nbreak\",,\r\n"
                               "bad-email,Eve,,,\r\n"
                               "ANN@example.com,Dup,,,\r\n"
                               "carl@example.com,Carl,,500,\r\n";
    struct resp *r =
        req(&main_daemon, "POST", "/v1/leads/import?mode=create", key, csv, file, sizeof file - 1);
    ck_assert_msg(r->status == 200, "import: %ld %s", r->status, r->body);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "created")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "rejected")), 3);
    json_t *rej = json_object_get(r->json, "rejections");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rej, 0), "row")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rej, 0), "field")), "email");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rej, 1), "row")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rej, 2), "row")), 5);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rej, 2), "field")), "score");
    resp_free(r);
    r = get("/v1/leads?q=bob", key);
    json_t *bob = json_array_get(json_object_get(r->json, "data"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(bob, "first_name")), "Bob \"B\"");
    ck_assert_str_eq(json_string_value(json_object_get(bob, "company")), "Line\nbreak");
    ck_assert_str_eq(json_string_value(json_object_get(bob, "source")), "import");
    resp_free(r);
    r = get("/v1/leads?q=ann", key);
    json_t *ann = json_array_get(json_object_get(r->json, "data"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(ann, "company")), "Acme, Inc.");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ann, "custom"), "industry")),
                     "Retail");
    resp_free(r);
    /* no email column; wrong media type; an unknown mode */
    r = req(&main_daemon, "POST", "/v1/leads/import", key, csv, "name\nx\n", 7);
    ck_assert_msg(r->status == 422 && problem_names(r, "email"), "no email: %s", r->body);
    resp_free(r);
    const char *const json_ct[] = {"Content-Type: application/json", NULL};
    r = req(&main_daemon, "POST", "/v1/leads/import", key, json_ct, "{}", 2);
    assert_problem(r, 415, "unsupported-media-type");
    resp_free(r);
    r = req(&main_daemon, "POST", "/v1/leads/import?mode=merge", key, csv, "email\n", 6);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
}
END_TEST

START_TEST(import_of_100000_rows)
{
    char key[64];
    ck_assert(workspace_key("bulk-100k", "admin", key));
    size_t cap = 100000 * 64 + 64, len = 0;
    char *file = malloc(cap);
    len += (size_t)snprintf(file + len, cap - len, "email,first_name,last_name,company,score\n");
    for (int i = 0; i < 100000; i++)
        len +=
            (size_t)snprintf(file + len, cap - len, "row%d@import.example,First%d,Last,Co %d,%d\n",
                             i, i, i % 997, i % 101);
    struct resp *r = req(&main_daemon, "POST", "/v1/leads/import", key, csv, file, len);
    free(file);
    ck_assert_msg(r->status == 200, "import: %ld %.300s", r->status, r->body);
    ck_assert_msg(json_integer_value(json_object_get(r->json, "created")) == 100000 &&
                      json_integer_value(json_object_get(r->json, "rejected")) == 0,
                  "counts: %.300s", r->body);
    resp_free(r);
    PGconn *pg = pg_test();
    char *n = pg_value(pg, "SELECT count(*) FROM leads l JOIN workspaces w ON w.id ="
                           " l.workspace_id WHERE w.slug = 'bulk-100k'");
    ck_assert_str_eq(n, "100000");
    free(n);
    PQfinish(pg);
}
END_TEST

Suite *bulk_suite(void)
{
    Suite *s = suite_create("bulk");
    TCase *tc = tcase_create("bulk");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, batch_fails_bad_items_alone);
    tcase_add_test(tc, import_reads_rfc4180_and_reports_rejections);
    tcase_add_test(tc, import_of_100000_rows);
    suite_add_tcase(s, tc);
    return s;
}
