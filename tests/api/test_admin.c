/* Admin routes: API keys and users, with validation, paging, ETags and workspaces. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

/* Creates a user and returns its id (static buffer per call site is enough here). */
static void make_user(const char *key, const char *name, const char *email, char id[40])
{
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"email\":\"%s\",\"team\":\"marketing\"}", name,
             email);
    struct resp *r = post("/v1/users", key, body);
    ck_assert_msg(r->status == 201, "create user: %ld %s", r->status, r->body);
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

START_TEST(api_key_lifecycle)
{
    struct resp *r = post("/v1/api-keys", admin_key, "{\"name\":\"sync tool\",\"role\":\"sales\"}");
    ck_assert_int_eq(r->status, 201);
    const char *secret = jstr(r, "secret");
    ck_assert_int_eq(strlen(secret), 47);
    ck_assert_int_eq(strlen(jstr(r, "prefix")), 12);
    ck_assert_msg(!strncmp(jstr(r, "prefix"), secret, 12), "prefix is the start of the secret");
    ck_assert_str_eq(jstr(r, "role"), "sales");
    char *loc = resp_header(r, "Location");
    char want[128];
    snprintf(want, sizeof want, "/v1/api-keys/%s", jstr(r, "id"));
    ck_assert_str_eq(loc, want);
    free(loc);

    struct resp *one = get(want, admin_key);
    ck_assert_int_eq(one->status, 200);
    ck_assert_str_eq(jstr(one, "name"), "sync tool");
    ck_assert_ptr_null(json_object_get(one->json, "secret"));
    resp_free(one);

    struct resp *list = get("/v1/api-keys?limit=500", admin_key);
    ck_assert_int_eq(list->status, 200);
    ck_assert_msg(strstr(list->body, jstr(r, "prefix")) != NULL, "new key not listed");
    ck_assert_msg(strstr(list->body, secret) == NULL, "a list must never show a secret");
    ck_assert_msg(strstr(list->body, "hash") == NULL, "a list must never show a hash");
    resp_free(list);

    /* the sales key is 403 on admin routes, and revocation takes effect at once */
    struct resp *s = get("/v1/api-keys", secret);
    assert_problem(s, 403, "forbidden");
    resp_free(s);
    struct resp *d = del(want, admin_key);
    ck_assert_int_eq(d->status, 204);
    resp_free(d);
    d = del(want, admin_key); /* twice is fine */
    ck_assert_int_eq(d->status, 204);
    resp_free(d);
    s = get("/v1/api-keys", secret);
    assert_problem(s, 401, "unauthorized");
    resp_free(s);
    resp_free(r);
}
END_TEST

START_TEST(api_key_validation)
{
    struct resp *r = post("/v1/api-keys", admin_key,
                          "{\"name\":\"\",\"role\":\"god\",\"secret\":\"x\",\"extra\":1}");
    assert_problem(r, 422, "validation-failed");
    json_t *errors = json_object_get(r->json, "errors");
    char *text = json_dumps(errors, 0);
    ck_assert_msg(strstr(text, "\"name\"") && strstr(text, "\"role\"") &&
                      strstr(text, "\"secret\"") && strstr(text, "\"extra\""),
                  "every bad field is named: %s", text);
    free(text);
    resp_free(r);
    r = post(
        "/v1/api-keys", admin_key,
        "{\"name\":\"k\",\"role\":\"sales\",\"user_id\":\"00000000-0000-0000-0000-000000000000\"}");
    assert_problem(r, 422, "validation-failed");
    ck_assert_msg(strstr(r->body, "user_id") != NULL, "names user_id: %s", r->body);
    resp_free(r);
    r = del("/v1/api-keys/not-a-uuid", admin_key);
    assert_problem(r, 404, "not-found");
    resp_free(r);
}
END_TEST

START_TEST(user_create_get_patch_with_etags)
{
    char id[40], path[96];
    make_user(admin_key, "Grace O'Brien; DROP TABLE users; --", "grace@example.com", id);
    snprintf(path, sizeof path, "/v1/users/%s", id);
    struct resp *r = get(path, admin_key);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(jstr(r, "name"), "Grace O'Brien; DROP TABLE users; --");
    char *etag = resp_header(r, "ETag");
    ck_assert_str_eq(etag, "\"1\"");
    resp_free(r);

    r = patch(path, admin_key, "{\"team\":\"sales\",\"name\":\"Grace\"}", etag);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(jstr(r, "team"), "sales");
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "version")), 2);
    resp_free(r);
    r = patch(path, admin_key, "{\"name\":\"Stale\"}", etag); /* etag "1" is stale now */
    assert_problem(r, 412, "precondition-failed");
    resp_free(r);
    r = patch(path, admin_key, "{\"active\":false}", "\"2\"");
    ck_assert_int_eq(r->status, 200);
    ck_assert(json_is_false(json_object_get(r->json, "active")));
    resp_free(r);
    r = patch(path, admin_key, "{\"version\":9,\"email\":null,\"team\":\"boss\"}", NULL);
    assert_problem(r, 422, "validation-failed");
    ck_assert_msg(strstr(r->body, "\"version\"") && strstr(r->body, "\"email\""), "%s", r->body);
    resp_free(r);
    free(etag);
}
END_TEST

START_TEST(user_email_rules)
{
    char id[40];
    make_user(admin_key, "José", "josé.núñez@exämple.com", id);
    struct resp *r =
        post("/v1/users", admin_key,
             "{\"name\":\"Dup\",\"email\":\"JOSÉ.núñez@exämple.com\",\"team\":\"sales\"}");
    /* lower() of PostgreSQL folds É under a UTF-8 database */
    assert_problem(r, 409, "conflict");
    ck_assert_str_eq(jstr(r, "existing_id"), id);
    resp_free(r);
    const char *bad[] = {"plain", "a@b", "a b@c.co", "a@b..co", "<a@b.co>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"name\":\"X\",\"email\":\"%s\",\"team\":\"sales\"}", bad[i]);
        r = post("/v1/users", admin_key, body);
        assert_problem(r, 422, "validation-failed");
        ck_assert_msg(strstr(r->body, "\"field\":\"email\""), "%s: %s", bad[i], r->body);
        resp_free(r);
    }
    r = post("/v1/users", admin_key,
             "{\"name\":\"Nul\\u0000\",\"email\":\"n@b.co\",\"team\":\"sales\"}");
    ck_assert_msg(r->status == 400 || r->status == 422, "NUL: %ld", r->status);
    resp_free(r);
}
END_TEST

START_TEST(users_page_through_with_cursor_and_link)
{
    /* ids are listed in creation order; other suites may have made marketing users in
     * the same workspace before (the order of suites is free), so the pages must hold
     * these seven in order, each once, among whatever else is there */
    char ids[7][40], seen[64][40];
    int nseen = 0, mine = 0;
    for (int i = 0; i < 7; i++) {
        char email[64];
        snprintf(email, sizeof email, "pager%d@other.example", i);
        make_user(other_admin_key, "Pager", email, ids[i]);
    }
    char path[512] = "/v1/users?limit=3&team=marketing";
    for (int page = 0; page < 22; page++) {
        struct resp *r = get(path, other_admin_key);
        ck_assert_int_eq(r->status, 200);
        json_t *data = json_object_get(r->json, "data");
        for (size_t i = 0; i < json_array_size(data); i++) {
            ck_assert_msg(nseen < 64, "more than 64 marketing users in the other workspace");
            snprintf(seen[nseen++], 40, "%s",
                     json_string_value(json_object_get(json_array_get(data, i), "id")));
        }
        json_t *next = json_object_get(r->json, "next_cursor");
        char *link = resp_header(r, "Link");
        if (json_is_null(next)) {
            ck_assert_msg(link == NULL, "no Link on the last page");
            resp_free(r);
            break;
        }
        ck_assert_msg(link && strstr(link, "rel=\"next\"") && strstr(link, "team=marketing"),
                      "Link keeps the filters: %s", link);
        snprintf(path, sizeof path, "/v1/users?limit=3&team=marketing&cursor=%s",
                 json_string_value(next));
        free(link);
        resp_free(r);
    }
    for (int i = 0; i < nseen; i++) {
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(seen[i], seen[j]) != 0, "%s listed twice", seen[i]);
        if (mine < 7 && !strcmp(seen[i], ids[mine]))
            mine++;
    }
    ck_assert_msg(mine == 7, "only %d of the 7 new users listed in creation order", mine);
}
END_TEST

START_TEST(other_workspace_ids_are_not_found)
{
    char theirs[40], path[96], random_path[96];
    make_user(other_admin_key, "Theirs", "theirs@other.example", theirs);
    snprintf(path, sizeof path, "/v1/users/%s", theirs);
    snprintf(random_path, sizeof random_path, "/v1/users/%s",
             "7d3f6a52-1c1e-4c55-9a8e-3b0c6d2f9e11");
    struct resp *a = get(path, admin_key), *b = get(random_path, admin_key);
    assert_problem(a, 404, "not-found");
    assert_problem(b, 404, "not-found");
    json_object_del(a->json, "request_id");
    json_object_del(b->json, "request_id");
    ck_assert_msg(json_equal(a->json, b->json),
                  "another workspace's id must look like a random one");
    resp_free(a);
    resp_free(b);
    a = patch(path, admin_key, "{\"name\":\"hijack\"}", NULL);
    assert_problem(a, 404, "not-found");
    resp_free(a);
    a = get(path, other_admin_key);
    ck_assert_str_eq(jstr(a, "name"), "Theirs");
    resp_free(a);
}
END_TEST

Suite *admin_suite(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("admin");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, api_key_lifecycle);
    tcase_add_test(tc, api_key_validation);
    tcase_add_test(tc, user_create_get_patch_with_etags);
    tcase_add_test(tc, user_email_rules);
    tcase_add_test(tc, users_page_through_with_cursor_and_link);
    tcase_add_test(tc, other_workspace_ids_are_not_found);
    suite_add_tcase(s, tc);
    return s;
}
