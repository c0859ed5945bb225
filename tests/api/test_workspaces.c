/* Workspaces are walled off: another workspace's ids answer exactly as a random id on
 * every route that takes one, upserts never reach its leads, and nothing of it changes. */
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

/* Sends the same request for their id and a random one in path (prefix, id, suffix);
 * both must be the same 404. */
static void same_404(const char *method, const char *prefix, const char *theirs, const char *suffix,
                     const char *body, const char *if_match)
{
    char a[256], b[256];
    snprintf(a, sizeof a, "%s%s%s", prefix, theirs, suffix);
    snprintf(b, sizeof b, "%s%s%s", prefix, random_id, suffix);
    struct resp *ra =
        send_json(method, a, admin_key, body, body ? strlen(body) : 0, if_match, NULL);
    struct resp *rb =
        send_json(method, b, admin_key, body, body ? strlen(body) : 0, if_match, NULL);
    ck_assert_msg(ra->status == 404, "%s %s (another workspace's id): expected 404, got %ld: %s",
                  method, a, ra->status, ra->body);
    assert_problem(ra, 404, "not-found");
    assert_problem(rb, 404, "not-found");
    json_object_del(ra->json, "request_id");
    json_object_del(rb->json, "request_id");
    ck_assert_msg(json_equal(ra->json, rb->json), "%s %s: their id answers %s, a random id %s",
                  method, a, js(ra->json), js(rb->json));
    resp_free(ra);
    resp_free(rb);
}

static json_t *snapshot(const char *path)
{
    struct resp *r = get(path, other_admin_key);
    expect_status(r, 200, path);
    json_t *j = json_incref(r->json);
    resp_free(r);
    return j;
}

START_TEST(another_workspaces_ids_are_not_found_anywhere)
{
    char camp[40], lead[40], cpath[96], lpath[96], hpath[128], tpath[128];
    create("/v1/campaigns", other_admin_key, "{\"name\":\"Not yours\",\"channel\":\"email\"}",
           camp);
    char body[256];
    snprintf(body, sizeof body,
             "{\"email\":\"theirs@shared.example\",\"first_name\":\"Theirs\","
             "\"external_ids\":{\"crm\":\"THEIRS-1\"},\"campaign_id\":\"%s\"}",
             camp);
    create("/v1/leads", other_admin_key, body, lead);
    snprintf(cpath, sizeof cpath, "/v1/campaigns/%s", camp);
    snprintf(lpath, sizeof lpath, "/v1/leads/%s", lead);
    snprintf(hpath, sizeof hpath, "%s/history", lpath);
    snprintf(tpath, sizeof tpath, "%s/timeline", lpath);
    json_t *c0 = snapshot(cpath), *l0 = snapshot(lpath), *h0 = snapshot(hpath),
           *t0 = snapshot(tpath);

    same_404("GET", "/v1/campaigns/", camp, "", NULL, NULL);
    same_404("PATCH", "/v1/campaigns/", camp, "", "{\"name\":\"Hijacked\"}", NULL);
    same_404("PATCH", "/v1/campaigns/", camp, "", "{\"name\":\"Hijacked\"}", "\"1\"");
    same_404("DELETE", "/v1/campaigns/", camp, "", NULL, NULL);
    same_404("DELETE", "/v1/campaigns/", camp, "", NULL, "\"1\"");
    same_404("GET", "/v1/leads/", lead, "", NULL, NULL);
    same_404("PATCH", "/v1/leads/", lead, "", "{\"first_name\":\"Hijacked\"}", NULL);
    same_404("PATCH", "/v1/leads/", lead, "", "{\"first_name\":\"Hijacked\"}", "\"1\"");
    same_404("PATCH", "/v1/leads/", lead, "", "{}", NULL);
    same_404("DELETE", "/v1/leads/", lead, "", NULL, NULL);
    same_404("DELETE", "/v1/leads/", lead, "", NULL, "\"1\"");
    same_404("POST", "/v1/leads/", lead, "/transitions", "{\"to\":\"mql\"}", NULL);
    same_404("POST", "/v1/leads/", lead, "/transitions", "{\"to\":\"mql\"}", "\"1\"");
    same_404("GET", "/v1/leads/", lead, "/history", NULL, NULL);
    same_404("GET", "/v1/leads/", lead, "/timeline", NULL, NULL);
    same_404("GET", "/v1/leads/", lead, "/touches", NULL, NULL);
    same_404("GET", "/v1/leads/", lead, "/feedback", NULL, NULL);
    same_404("POST", "/v1/leads/", lead, "/feedback", "{\"kind\":\"contacted\"}", NULL);
    same_404("GET", "/v1/campaigns/", camp, "/members", NULL, NULL);
    same_404("POST", "/v1/campaigns/", camp, "/touches",
             "{\"email\":\"nobody@example.com\",\"kind\":\"sent\"}", NULL);
    {
        /* a touch in our own campaign naming their lead: as unknown as a random lead */
        char ours[40], tp[128], mine[160], rand_body[160];
        create("/v1/campaigns", admin_key, "{\"name\":\"Ours\",\"channel\":\"email\"}", ours);
        snprintf(tp, sizeof tp, "/v1/campaigns/%s/touches", ours);
        snprintf(mine, sizeof mine, "{\"lead_id\":\"%s\",\"kind\":\"sent\"}", lead);
        snprintf(rand_body, sizeof rand_body, "{\"lead_id\":\"%s\",\"kind\":\"sent\"}", random_id);
        struct resp *ta = post(tp, admin_key, mine), *tb = post(tp, admin_key, rand_body);
        ck_assert_msg(ta->status == 422 && problem_names(ta, "lead_id"),
                      "their lead in our campaign: %ld %s", ta->status, ta->body);
        json_object_del(ta->json, "request_id");
        json_object_del(tb->json, "request_id");
        ck_assert_msg(json_equal(ta->json, tb->json), "their lead answers %s, a random one %s",
                      js(ta->json), js(tb->json));
        resp_free(ta);
        resp_free(tb);
    }
    same_404("POST", "/v1/campaigns/", camp, "/touches/batch",
             "{\"touches\":[{\"email\":\"nobody@example.com\",\"kind\":\"sent\"}]}", NULL);

    /* upserts find only this workspace's leads: these create new ones */
    struct resp *r = put("/v1/leads/by-email/theirs%40shared.example", admin_key,
                         "{\"first_name\":\"Mine\"}", NULL);
    expect_status(r, 201, "PUT by-email for an email only the other workspace has");
    ck_assert_str_ne(jstr(r, "id"), lead);
    ck_assert_str_eq(jstr(r, "first_name"), "Mine");
    resp_free(r);
    r = put("/v1/leads/by-external-id/crm/THEIRS-1", admin_key,
            "{\"email\":\"mine.ext@shared.example\"}", NULL);
    expect_status(r, 201, "PUT by-external-id for a pair only the other workspace has");
    ck_assert_str_ne(jstr(r, "id"), lead);
    resp_free(r);
    /* and their campaign filters nothing in */
    char q[128], got[256];
    snprintf(q, sizeof q, "/v1/leads?campaign_id=%s", camp);
    collect(admin_key, q, "id", got, sizeof got);
    ck_assert_msg(!strcmp(got, ""), "their campaign lists none of ours: [%s]", got);

    json_t *c1 = snapshot(cpath), *l1 = snapshot(lpath), *h1 = snapshot(hpath),
           *t1 = snapshot(tpath);
    ck_assert_msg(json_equal(c0, c1), "their campaign changed: %s -> %s", js(c0), js(c1));
    ck_assert_msg(json_equal(l0, l1), "their lead changed: %s -> %s", js(l0), js(l1));
    ck_assert_msg(json_equal(h0, h1) && json_equal(t0, t1), "their history or timeline changed");
    json_decref(c0);
    json_decref(c1);
    json_decref(l0);
    json_decref(l1);
    json_decref(h0);
    json_decref(h1);
    json_decref(t0);
    json_decref(t1);
}
END_TEST

Suite *workspaces_suite(void)
{
    Suite *s = suite_create("workspaces");
    TCase *tc_other_workspaces_ids_not_found = tcase_create("other_workspaces_ids_not_found");
    tcase_set_timeout(tc_other_workspaces_ids_not_found, 120);
    tcase_add_test(tc_other_workspaces_ids_not_found,
                   another_workspaces_ids_are_not_found_anywhere);
    suite_add_tcase(s, tc_other_workspaces_ids_not_found);
    return s;
}
