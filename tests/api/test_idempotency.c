/* Idempotency-Key and If-Match on writes against a real daemon: replays, reuse with
 * another body, 4xx answers kept, fifty concurrent requests with one key, and bad
 * header values. */
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

#define IDEM_RACERS 50

START_TEST(idempotency_key_under_concurrency)
{
    static const char body[] = "{\"email\":\"idem.fifty@example.com\",\"first_name\":\"Fifty\"}";
    char key[64];
    pthread_barrier_t b;
    pthread_t t[IDEM_RACERS];
    struct racer x[IDEM_RACERS];
    snprintf(key, sizeof key, "fifty-%d", (int)getpid());
    pthread_barrier_init(&b, NULL, IDEM_RACERS);
    for (int i = 0; i < IDEM_RACERS; i++) {
        x[i] = (struct racer){&b, "POST", "/v1/leads", admin_key, body, NULL, key, NULL};
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &x[i]), 0);
    }
    for (int i = 0; i < IDEM_RACERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&b);

    int original = -1, replays = 0, in_flight = 0;
    for (int i = 0; i < IDEM_RACERS; i++) {
        char *replayed = resp_header(x[i].r, "Idempotent-Replayed");
        if (x[i].r->status == 201 && !replayed) {
            if (original >= 0)
                ck_abort_msg("two answers were not replays: %s and %s", x[original].r->body,
                             x[i].r->body);
            original = i;
        } else if (x[i].r->status == 201) {
            ck_assert_str_eq(replayed, "true");
            replays++;
        } else {
            ck_assert_msg(x[i].r->status == 409, "racer %d: expected 201 or 409, got %ld: %s", i,
                          x[i].r->status, x[i].r->body);
            assert_problem(x[i].r, 409, "conflict");
            in_flight++;
        }
        free(replayed);
    }
    ck_assert_msg(original >= 0, "no original answer among %d replays and %d 409s", replays,
                  in_flight);
    char *loc = resp_header(x[original].r, "Location"), *etag = resp_header(x[original].r, "ETag");
    for (int i = 0; i < IDEM_RACERS; i++) {
        if (i == original || x[i].r->status != 201)
            continue;
        ck_assert_msg(x[i].r->len == x[original].r->len &&
                          !memcmp(x[i].r->body, x[original].r->body, x[i].r->len),
                      "a replay differs from the original:\n%s\n%s", x[i].r->body,
                      x[original].r->body);
        expect_header(x[i].r, "Location", loc);
        expect_header(x[i].r, "ETag", etag);
        expect_header(x[i].r, "Content-Type", "application/json");
    }
    PGconn *pg = pg_test();
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads WHERE ll_fold(email) ="
                                 " 'idem.fifty@example.com'"),
                     1);
    /* a later retry replays byte for byte, and writes nothing */
    struct resp *r = post_idem("/v1/leads", admin_key, body, key);
    expect_status(r, 201, "later retry");
    expect_header(r, "Idempotent-Replayed", "true");
    expect_header(r, "Location", loc);
    ck_assert_msg(r->len == x[original].r->len && !memcmp(r->body, x[original].r->body, r->len),
                  "the later replay differs:\n%s\n%s", r->body, x[original].r->body);
    resp_free(r);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads WHERE ll_fold(email) ="
                                 " 'idem.fifty@example.com'"),
                     1);
    PQfinish(pg);
    free(loc);
    free(etag);
    for (int i = 0; i < IDEM_RACERS; i++)
        resp_free(x[i].r);
}
END_TEST

START_TEST(idempotency_key_replays_refuses_reuse_and_keeps_4xx)
{
    char k1[64], k2[64], k3[64], sales[64];
    snprintf(k1, sizeof k1, "replay-%d", (int)getpid());
    snprintf(k2, sizeof k2, "invalid-%d", (int)getpid());
    snprintf(k3, sizeof k3, "campaign-%d", (int)getpid());
    static const char body[] = "{\"email\":\"idem.one@example.com\"}";
    struct resp *a = post_idem("/v1/leads", admin_key, body, k1);
    expect_status(a, 201, "first");
    char *replayed = resp_header(a, "Idempotent-Replayed");
    ck_assert_msg(replayed == NULL, "the first answer is no replay");
    struct resp *b = post_idem("/v1/leads", admin_key, body, k1);
    expect_status(b, 201, "retry");
    expect_header(b, "Idempotent-Replayed", "true");
    ck_assert_msg(a->len == b->len && !memcmp(a->body, b->body, a->len), "replay differs:\n%s\n%s",
                  a->body, b->body);
    char *la = resp_header(a, "Location"), *ea = resp_header(a, "ETag");
    expect_header(b, "Location", la);
    expect_header(b, "ETag", ea);
    free(la);
    free(ea);
    resp_free(b);

    /* the same key for another request */
    b = post_idem("/v1/leads", admin_key, "{\"email\":\"idem.two@example.com\"}", k1);
    expect_invalid(b, "Idempotency-Key", "same key, other body");
    resp_free(b);
    b = post_idem("/v1/campaigns", admin_key, body, k1);
    expect_invalid(b, "Idempotency-Key", "same key, other path");
    resp_free(b);

    /* keys belong to the API key that used them */
    new_key(admin_key, "sales", sales);
    b = post_idem("/v1/leads", sales, "{\"email\":\"idem.two@example.com\"}", k1);
    expect_status(b, 201, "the same key string under another API key");
    resp_free(b);

    /* a 4xx answer is kept and replayed too, and wrote nothing */
    static const char invalid[] = "{\"email\":\"idem.three@example.com\",\"score\":101}";
    b = post_idem("/v1/leads", admin_key, invalid, k2);
    expect_invalid(b, "score", "invalid with a key");
    struct resp *c = post_idem("/v1/leads", admin_key, invalid, k2);
    ck_assert_msg(c->status == 422, "replayed 422: got %ld", c->status);
    expect_header(c, "Idempotent-Replayed", "true");
    expect_header(c, "Content-Type", "application/problem+json");
    ck_assert_msg(b->len == c->len && !memcmp(b->body, c->body, b->len),
                  "replayed 422 differs:\n%s\n%s", b->body, c->body);
    resp_free(b);
    resp_free(c);
    PGconn *pg = pg_test();
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads WHERE email LIKE 'idem.three%'"), 0);

    /* campaigns and transitions honour it as well */
    b = post_idem("/v1/campaigns", admin_key, "{\"name\":\"Once\",\"channel\":\"email\"}", k3);
    expect_status(b, 201, "campaign");
    c = post_idem("/v1/campaigns", admin_key, "{\"name\":\"Once\",\"channel\":\"email\"}", k3);
    expect_status(c, 201, "campaign retry");
    ck_assert_str_eq(jstr(c, "id"), jstr(b, "id"));
    expect_header(c, "Idempotent-Replayed", "true");
    resp_free(b);
    resp_free(c);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM campaigns WHERE name = 'Once'"), 1);
    char path[128], k4[64];
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", jstr(a, "id"));
    snprintf(k4, sizeof k4, "move-%d", (int)getpid());
    b = post_idem(path, admin_key, "{\"to\":\"mql\"}", k4);
    expect_status(b, 201, "transition");
    c = post_idem(path, admin_key, "{\"to\":\"mql\"}", k4);
    expect_status(c, 201, "transition retry (a second move would be 409)");
    expect_header(c, "Idempotent-Replayed", "true");
    ck_assert_msg(b->len == c->len && !memcmp(b->body, c->body, b->len),
                  "replayed transition differs");
    resp_free(b);
    resp_free(c);
    char *n = pg_value_p(pg, "SELECT count(*) FROM lead_stage_changes WHERE lead_id = $1::uuid",
                         jstr(a, "id"));
    ck_assert_str_eq(n, "2");
    free(n);
    PQfinish(pg);

    char longkey[300];
    memset(longkey, 'k', 256);
    longkey[256] = '\0';
    b = post_idem("/v1/leads", admin_key, "{\"email\":\"idem.long@example.com\"}", longkey);
    assert_problem(b, 400, "malformed-request");
    ck_assert_msg(problem_names(b, "Idempotency-Key"), "names the header: %s", b->body);
    resp_free(b);
    resp_free(a);
}
END_TEST

/* Headers that steer a write, given badly. */
START_TEST(bad_idempotency_keys_and_if_match_tags)
{
    char id[40], path[96], longkey[300];
    create("/v1/leads", admin_key, "{\"email\":\"headers@example.com\"}", id);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    memset(longkey, 'k', 256);
    longkey[256] = '\0';
    const char *bad_keys[] = {longkey, "has space", "t\xC3\xA9"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        struct resp *r =
            post_idem("/v1/leads", admin_key, "{\"email\":\"idem.bad@example.com\"}", bad_keys[i]);
        assert_problem(r, 400, "malformed-request");
        ck_assert_msg(problem_names(r, "Idempotency-Key"), "names the header: %s", r->body);
        resp_free(r);
    }
    struct resp *r = get("/v1/leads?q=idem.bad", admin_key);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 0);
    resp_free(r);
    /* a weak or foreign tag never matches; "*" always does */
    const char *never[] = {"W/\"1\"", "\"one\"", "1"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        r = patch(path, admin_key, "{\"title\":\"x\"}", never[i]);
        assert_problem(r, 412, "precondition-failed");
        resp_free(r);
    }
    r = patch(path, admin_key, "{\"title\":\"x\"}", "*");
    expect_status(r, 200, "If-Match: *");
    resp_free(r);
}
END_TEST

Suite *idempotency_suite(void)
{
    Suite *s = suite_create("idempotency");
    TCase *tc_concurrent_requests_one_key = tcase_create("concurrent_requests_one_key");
    tcase_set_timeout(tc_concurrent_requests_one_key, 120);
    tcase_add_test(tc_concurrent_requests_one_key, idempotency_key_under_concurrency);
    suite_add_tcase(s, tc_concurrent_requests_one_key);
    TCase *tc_replay_reuse_and_4xx = tcase_create("replay_reuse_and_4xx");
    tcase_set_timeout(tc_replay_reuse_and_4xx, 120);
    tcase_add_test(tc_replay_reuse_and_4xx, idempotency_key_replays_refuses_reuse_and_keeps_4xx);
    suite_add_tcase(s, tc_replay_reuse_and_4xx);
    TCase *tc_bad_header_values = tcase_create("bad_header_values");
    tcase_set_timeout(tc_bad_header_values, 120);
    tcase_add_test(tc_bad_header_values, bad_idempotency_keys_and_if_match_tags);
    suite_add_tcase(s, tc_bad_header_values);
    return s;
}
