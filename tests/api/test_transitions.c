/* A lead's stage transitions against a real daemon: the moves the funnel allows, the
 * ones it refuses (409 naming what is allowed), the history they leave, and If-Match. */
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

static void lead_at(const char *email, char id[40], char path[128])
{
    char body[128];
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    create("/v1/leads", admin_key, body, id);
    snprintf(path, 128, "/v1/leads/%s/transitions", id);
}

/* Moves and requires 201 with from/to and the lead's new stage. */
static void move(const char *path, const char *from, const char *to, const char *reason)
{
    char body[256];
    if (reason)
        snprintf(body, sizeof body, "{\"to\":\"%s\",\"reason\":\"%s\"}", to, reason);
    else
        snprintf(body, sizeof body, "{\"to\":\"%s\"}", to);
    struct resp *r = post(path, admin_key, body);
    ck_assert_msg(r->status == 201, "%s -> %s: expected 201, got %ld: %s", from, to, r->status,
                  r->body);
    ck_assert_str_eq(jstr(r, "from"), from);
    ck_assert_str_eq(jstr(r, "to"), to);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r->json, "lead"), "stage")),
                     to);
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"",
             (long long)json_integer_value(
                 json_object_get(json_object_get(r->json, "lead"), "version")));
    expect_header(r, "ETag", etag);
    ck_assert_msg(
        json_is_string(json_object_get(json_object_get(r->json, "changed_by"), "api_key_id")),
        "changed_by.api_key_id: %s", r->body);
    resp_free(r);
}

/* Requires 409 with exactly these allowed stages ("" for none), each named in detail. */
static void refused(const char *path, const char *to, const char *allowed)
{
    char body[128], got[256] = "";
    size_t used = 0, i;
    json_t *s;
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", to);
    struct resp *r = post(path, admin_key, body);
    ck_assert_msg(r->status == 409, "-> %s: expected 409, got %ld: %s", to, r->status, r->body);
    assert_problem(r, 409, "conflict");
    json_array_foreach(json_object_get(r->json, "allowed"), i, s)
    {
        used += (size_t)snprintf(got + used, sizeof got - used, "%s%s", used ? "," : "",
                                 json_string_value(s));
        ck_assert_msg(strstr(jstr(r, "detail"), json_string_value(s)), "detail names %s: %s",
                      json_string_value(s), r->body);
    }
    ck_assert_msg(json_is_array(json_object_get(r->json, "allowed")) && !strcmp(got, allowed),
                  "-> %s: allowed expected [%s], got [%s]", to, allowed, got);
    resp_free(r);
}

START_TEST(lifecycle_moves_history_and_if_match)
{
    char id[40], path[128];
    static const char *const chain[] = {
        "new", "mql", "sales_accepted", "sales_qualified", "opportunity", "customer"};
    lead_at("life.chain@example.com", id, path);
    for (int i = 1; i < 6; i++)
        move(path, chain[i - 1], chain[i], NULL);
    refused(path, "mql", "opportunity"); /* a customer's next deal starts as opportunity */
    refused(path, "recycled", "opportunity");

    char hist[160];
    snprintf(hist, sizeof hist, "/v1/leads/%s/history", id);
    struct resp *h = get(hist, readonly_key);
    expect_status(h, 200, "history");
    json_t *data = json_object_get(h->json, "data");
    ck_assert_msg(json_array_size(data) == 6, "six entries: %s", h->body);
    const char *prev_at = "";
    for (size_t i = 0; i < 6; i++) {
        json_t *e = json_array_get(data, i);
        const char *from = json_string_value(json_object_get(e, "from"));
        const char *to = json_string_value(json_object_get(e, "to"));
        const char *at = json_string_value(json_object_get(e, "changed_at"));
        ck_assert_msg(i == 0 ? from == NULL : (from && !strcmp(from, chain[i - 1])),
                      "entry %zu from: %s", i, h->body);
        ck_assert_msg(to && !strcmp(to, chain[i]), "entry %zu to: %s", i, h->body);
        ck_assert_msg(is_timestamp(at) && strcmp(at, prev_at) >= 0, "oldest first: %s", h->body);
        ck_assert_msg(!json_object_get(e, "lead"), "history entries carry no lead: %s", h->body);
        prev_at = at;
    }
    resp_free(h);

    lead_at("life.recycled@example.com", id, path);
    move(path, "new", "recycled", NULL);
    refused(path, "sales_accepted", "mql");
    refused(path, "new", "mql");
    move(path, "recycled", "mql", NULL);

    lead_at("life.new@example.com", id, path);
    refused(path, "new",
            "mql,sales_accepted,sales_qualified,opportunity,customer,recycled,disqualified");
    move(path, "new", "opportunity", NULL); /* forward may skip stages */
    refused(path, "sales_accepted", "customer,recycled,disqualified");

    lead_at("life.dq@example.com", id, path);
    struct resp *r = post(path, admin_key, "{\"to\":\"disqualified\"}");
    expect_invalid(r, "reason", "disqualified without a reason");
    resp_free(r);
    r = post(path, admin_key, "{\"to\":\"disqualified\",\"reason\":\"\"}");
    expect_invalid(r, "reason", "disqualified with an empty reason");
    resp_free(r);
    r = post(path, admin_key, "{\"to\":\"won\"}");
    expect_invalid(r, "to", "unknown stage");
    resp_free(r);
    r = post(path, admin_key, "{\"to\":\"disqualified\",\"reason\":\"No budget; maybe 2027\"}");
    expect_status(r, 201, "disqualified with a reason");
    ck_assert_str_eq(jstr(r, "reason"), "No budget; maybe 2027");
    resp_free(r);
    refused(path, "mql", "recycled"); /* back to marketing first */

    /* If-Match on the lead */
    lead_at("life.etag@example.com", id, path);
    r = send_json("POST", path, admin_key, "{\"to\":\"mql\"}", 12, "\"7\"", NULL);
    assert_problem(r, 412, "precondition-failed");
    ck_assert_str_eq(jstr(r, "current_etag"), "\"1\"");
    resp_free(r);
    r = send_json("POST", path, admin_key, "{\"to\":\"mql\"}", 12, "\"1\"", NULL);
    expect_status(r, 201, "transition with the current If-Match");
    expect_header(r, "ETag", "\"2\"");
    resp_free(r);
    r = send_json("POST", path, admin_key, "{\"to\":\"sales_accepted\"}", 23, "\"1\"", NULL);
    assert_problem(r, 412, "precondition-failed");
    ck_assert_str_eq(jstr(r, "current_etag"), "\"2\"");
    resp_free(r);
}
END_TEST

Suite *transitions_suite(void)
{
    Suite *s = suite_create("transitions");
    TCase *tc_moves_history_and_if_match = tcase_create("moves_history_and_if_match");
    tcase_set_timeout(tc_moves_history_and_if_match, 120);
    tcase_add_test(tc_moves_history_and_if_match, lifecycle_moves_history_and_if_match);
    suite_add_tcase(s, tc_moves_history_and_if_match);
    return s;
}
