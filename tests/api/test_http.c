/* HTTP behaviour every route shares: errors as problems, limits, framing, request ids,
 * CORS, auth and roles, operations endpoints. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

START_TEST(unauthorized_is_the_same_for_missing_wrong_and_revoked_keys)
{
    struct resp *made =
        post("/v1/api-keys", admin_key, "{\"name\":\"to revoke\",\"role\":\"admin\"}");
    ck_assert_int_eq(made->status, 201);
    char secret[64], path[128];
    snprintf(secret, sizeof secret, "%s", jstr(made, "secret"));
    snprintf(path, sizeof path, "/v1/api-keys/%s", jstr(made, "id"));
    struct resp *ok = get("/v1/users", secret);
    ck_assert_int_eq(ok->status, 200);
    struct resp *revoked = del(path, admin_key);
    ck_assert_int_eq(revoked->status, 204);

    struct resp *r[4] = {
        get("/v1/users", NULL),
        get("/v1/users", "llk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        get("/v1/users", "not-even-a-key"),
        get("/v1/users", secret),
    };
    for (int i = 0; i < 4; i++) {
        assert_problem(r[i], 401, "unauthorized");
        char *www = resp_header(r[i], "WWW-Authenticate");
        ck_assert_msg(www && !strncmp(www, "Bearer", 6), "WWW-Authenticate: %s", www);
        free(www);
        /* identical apart from the request id */
        json_object_del(r[i]->json, "request_id");
        ck_assert_msg(json_equal(r[i]->json, r[0]->json), "401 bodies differ: %s", r[i]->body);
    }
    for (int i = 0; i < 4; i++)
        resp_free(r[i]);
    resp_free(made);
    resp_free(ok);
    resp_free(revoked);
}
END_TEST

START_TEST(readonly_cannot_create_api_keys)
{
    struct resp *r = post("/v1/api-keys", readonly_key, "{\"name\":\"x\",\"role\":\"admin\"}");
    assert_problem(r, 403, "forbidden");
    ck_assert_str_eq(jstr(r, "role"), "readonly");
    resp_free(r);
    r = get("/v1/users", readonly_key);
    assert_problem(r, 403, "forbidden");
    resp_free(r);
}
END_TEST

START_TEST(problems_for_400_404_405_415)
{
    struct resp *r = post("/v1/users", admin_key, "{\"name\": ");
    assert_problem(r, 400, "malformed-request");
    resp_free(r);
    r = post("/v1/users", admin_key, "[1,2]");
    assert_problem(r, 400, "malformed-request");
    resp_free(r);
    r = post("/v1/users", admin_key,
             "{\"name\":\"a\",\"name\":\"b\",\"email\":\"a@b.co\",\"team\":\"sales\"}");
    assert_problem(r, 400, "malformed-request");
    resp_free(r);
    r = get("/v1/users?limit=501", admin_key);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(r->json, "errors"), 0), "field")),
                     "limit");
    resp_free(r);
    r = get("/v1/users?colour=red", admin_key);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
    r = get("/v1/users?%FF=1", admin_key);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
    r = get("/v1/users?team=%FF", admin_key);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
    r = get("/v1/users?cursor=bm90LWEtY3Vyc29y", admin_key);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);

    r = get("/v1/nothing-here", admin_key);
    assert_problem(r, 404, "not-found");
    resp_free(r);
    r = get("/nope", NULL); /* 404 before auth: no key needed to learn a path is unknown */
    assert_problem(r, 404, "not-found");
    resp_free(r);

    r = req(&main_daemon, "PUT", "/v1/users", admin_key, NULL, NULL, 0);
    assert_problem(r, 405, "method-not-allowed");
    char *allow = resp_header(r, "Allow");
    ck_assert_str_eq(allow, "GET, POST, OPTIONS");
    free(allow);
    resp_free(r);

    const char *const text[] = {"Content-Type: text/plain", NULL};
    r = req(&main_daemon, "POST", "/v1/users", admin_key, text, "{}", 2);
    assert_problem(r, 415, "unsupported-media-type");
    resp_free(r);
    const char *const none[] = {"Content-Type:", NULL};
    r = req(&main_daemon, "POST", "/v1/users", admin_key, none, "{}", 2);
    assert_problem(r, 415, "unsupported-media-type");
    resp_free(r);
    const char *const charset[] = {"Content-Type: application/json; charset=utf-8", NULL};
    r = req(&main_daemon, "POST", "/v1/users", admin_key, charset, "{}", 2);
    assert_problem(r, 422, "validation-failed"); /* accepted as JSON, then validated */
    resp_free(r);
}
END_TEST

/* A body of n bytes that is valid JSON exactly when it fits: {"name":"aaaa..."} */
static char *body_of(size_t n)
{
    char *b = malloc(n + 1);
    memset(b, 'a', n);
    memcpy(b, "{\"name\":\"", 9);
    memcpy(b + n - 2, "\"}", 2);
    b[n] = '\0';
    return b;
}

START_TEST(body_limit_with_content_length_and_chunked)
{
    size_t limit = (size_t)atol(MAIN_MAX_BODY);
    char *over = body_of(limit + 1), *at = body_of(limit);
    const char *const ct[] = {"Content-Type: application/json", NULL};

    struct resp *r = req(&main_daemon, "POST", "/v1/users", admin_key, ct, over, limit + 1);
    assert_problem(r, 413, "content-too-large");
    resp_free(r);
    r = req_chunked(&main_daemon, "POST", "/v1/users", admin_key, ct, over, limit + 1);
    assert_problem(r, 413, "content-too-large");
    resp_free(r);
    /* exactly at the limit it is read whole (not truncated): the handler sees valid JSON
     * and reports the fields it lacks */
    r = req(&main_daemon, "POST", "/v1/users", admin_key, ct, at, limit);
    assert_problem(r, 422, "validation-failed");
    resp_free(r);
    r = req_chunked(&main_daemon, "POST", "/v1/users", admin_key, ct, at, limit);
    assert_problem(r, 422, "validation-failed");
    resp_free(r);
    free(over);
    free(at);
}
END_TEST

START_TEST(framing_duplicate_content_length_and_transfer_encoding)
{
    static const char dup[] =
        "POST /v1/users HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}";
    static const char te[] =
        "POST /v1/users HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: gzip\r\n\r\n{}";
    static const char te2[] =
        "POST /v1/users HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    const char *cases[] = {dup, te, te2};
    for (int i = 0; i < 3; i++) {
        char *out = raw_request(&main_daemon, cases[i], strlen(cases[i]));
        ck_assert_msg(!strncmp(out, "HTTP/1.1 400", 12), "case %d: got %.60s", i, out);
        ck_assert_msg(strstr(out, "application/problem+json") && strstr(out, "malformed-request"),
                      "case %d: not a problem: %s", i, out);
        free(out);
    }
}
END_TEST

START_TEST(request_id_is_echoed_when_sane_and_generated_otherwise)
{
    const char *const sane[] = {"X-Request-Id: abc-123_DEF.4:5", NULL};
    const char *const insane[] = {"X-Request-Id: has spaces\"and quotes", NULL};
    struct resp *r = req(&main_daemon, "GET", "/healthz", NULL, sane, NULL, 0);
    char *id = resp_header(r, "X-Request-Id");
    ck_assert_str_eq(id, "abc-123_DEF.4:5");
    free(id);
    resp_free(r);
    r = req(&main_daemon, "GET", "/nope", NULL, insane, NULL, 0);
    id = resp_header(r, "X-Request-Id");
    ck_assert_int_eq(strlen(id), 32);
    ck_assert_str_eq(jstr(r, "request_id"), id);
    free(id);
    resp_free(r);
}
END_TEST

START_TEST(cors_only_for_configured_origins)
{
    const char *const pre_ok[] = {"Origin: https://app.example.com",
                                  "Access-Control-Request-Method: POST", NULL};
    const char *const pre_bad[] = {"Origin: https://evil.example.net",
                                   "Access-Control-Request-Method: POST", NULL};
    struct resp *r = req(&main_daemon, "OPTIONS", "/v1/users", NULL, pre_ok, NULL, 0);
    ck_assert_int_eq(r->status, 204);
    char *acao = resp_header(r, "Access-Control-Allow-Origin");
    char *acam = resp_header(r, "Access-Control-Allow-Methods");
    ck_assert_str_eq(acao, "https://app.example.com");
    ck_assert_msg(acam && strstr(acam, "POST"), "Allow-Methods: %s", acam);
    free(acao);
    free(acam);
    resp_free(r);
    r = req(&main_daemon, "OPTIONS", "/v1/users", NULL, pre_bad, NULL, 0);
    ck_assert_int_eq(r->status, 204);
    acao = resp_header(r, "Access-Control-Allow-Origin");
    ck_assert_msg(acao == NULL, "no CORS header for an unlisted origin, got %s", acao);
    resp_free(r);
    const char *const origin[] = {"Origin: https://app.example.com", NULL};
    r = req(&main_daemon, "GET", "/v1/users", admin_key, origin, NULL, 0);
    acao = resp_header(r, "Access-Control-Allow-Origin");
    ck_assert_str_eq(acao, "https://app.example.com");
    free(acao);
    resp_free(r);
}
END_TEST

START_TEST(operations_endpoints)
{
    struct resp *r = get("/healthz", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(jstr(r, "status"), "ok");
    resp_free(r);
    r = get("/readyz", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(jstr(r, "status"), "ready");
    resp_free(r);
    r = get("/openapi.yaml", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(strstr(r->body, "openapi: 3.1") != NULL, "not the contract: %.80s", r->body);
    resp_free(r);
    r = get("/metrics", NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(
        strstr(r->body,
               "leadloop_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}"),
        "no request counter for /healthz in %s", r->body);
    ck_assert_msg(
        strstr(r->body, "leadloop_http_request_duration_seconds_bucket{route=\"/healthz\""),
        "no histogram");
    ck_assert_msg(strstr(r->body, "leadloop_db_pool_in_use ") &&
                      strstr(r->body, "leadloop_db_pool_waiting ") &&
                      strstr(r->body, "leadloop_db_errors_total "),
                  "no pool gauges");
    resp_free(r);
}
END_TEST

START_TEST(access_log_has_no_secrets_or_personal_data)
{
    struct resp *r = post(
        "/v1/users", admin_key,
        "{\"name\":\"Log Watcher\",\"email\":\"private.person@example.com\",\"team\":\"sales\"}");
    ck_assert_int_eq(r->status, 201);
    resp_free(r);
    r = get("/healthz", NULL); /* the log line of the POST is written by now */
    resp_free(r);
    FILE *f = fopen(main_daemon.log, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    bool saw_access = false;
    while (fgets(line, sizeof line, f)) {
        ck_assert_msg(!strstr(line, admin_key), "the key is in the log: %s", line);
        ck_assert_msg(!strstr(line, "private.person"), "an email is in the log: %s", line);
        ck_assert_msg(!strstr(line, "Log Watcher"), "a name is in the log: %s", line);
        if (strstr(line, "\"msg\":\"access\"") && strstr(line, "\"route\":\"/v1/users\"") &&
            strstr(line, "\"status\":201") && strstr(line, "\"key_prefix\":\"llk_"))
            saw_access = true;
    }
    fclose(f);
    ck_assert_msg(saw_access, "no access log line for POST /v1/users with status and key prefix");
}
END_TEST

static bool is_401(void *key)
{
    struct resp *r = get("/v1/users", key);
    bool yes = r->status == 401;
    resp_free(r);
    return yes;
}

/* The daemon caches resolved keys; a revocation made elsewhere (here: the command line,
 * as another daemon would) still takes effect at once, through PostgreSQL's notifications. */
START_TEST(revocation_elsewhere_reaches_a_cached_key)
{
    struct resp *made = post("/v1/api-keys", admin_key, "{\"name\":\"cached\",\"role\":\"admin\"}");
    ck_assert_int_eq(made->status, 201);
    char secret[64], prefix[16], out[256], err[512];
    snprintf(secret, sizeof secret, "%s", jstr(made, "secret"));
    snprintf(prefix, sizeof prefix, "%s", jstr(made, "prefix"));
    resp_free(made);
    for (int i = 0; i < 3; i++) { /* used, so cached */
        struct resp *r = get("/v1/users", secret);
        ck_assert_int_eq(r->status, 200);
        resp_free(r);
    }
    const char *args[] = {"keys", "revoke", prefix, NULL};
    ck_assert_int_eq(run_leadloopd(args, NULL, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(wait_until(is_401, secret, 1000),
                  "a key revoked by another process still worked a second later");
}
END_TEST

Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, unauthorized_is_the_same_for_missing_wrong_and_revoked_keys);
    tcase_add_test(tc, readonly_cannot_create_api_keys);
    tcase_add_test(tc, problems_for_400_404_405_415);
    tcase_add_test(tc, body_limit_with_content_length_and_chunked);
    tcase_add_test(tc, framing_duplicate_content_length_and_transfer_encoding);
    tcase_add_test(tc, request_id_is_echoed_when_sane_and_generated_otherwise);
    tcase_add_test(tc, cors_only_for_configured_origins);
    tcase_add_test(tc, operations_endpoints);
    tcase_add_test(tc, access_log_has_no_secrets_or_personal_data);
    tcase_add_test(tc, revocation_elsewhere_reaches_a_cached_key);
    suite_add_tcase(s, tc);
    return s;
}
