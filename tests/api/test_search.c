/* Lists' own timeout: LEADLOOP_LIST_TIMEOUT_MS stops a slow list with 503 while the
 * connection's next statement has the general timeout again. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

static void create(struct daemon *d, const char *path, const char *key, const char *body,
                   char id[40])
{
    const char *const ct[] = {"Content-Type: application/json", NULL};
    struct resp *r = req(d, "POST", path, key, ct, body, strlen(body));
    ck_assert_msg(r->status == 201, "POST %s %s: expected 201, got %ld: %s", path, body, r->status,
                  r->body);
    if (id)
        snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

/* ------------------------------------------------------------------ the list timeout */

#define LIST_TIMEOUT_MS 200

struct held_get {
    struct daemon *d;
    char path[96];
    struct resp *r;
};

static void *get_in_thread(void *arg)
{
    struct held_get *h = arg;
    h->r = req(h->d, "GET", h->path, admin_key, NULL, NULL, 0);
    return NULL;
}

/* True once the daemon's statement has waited for a lock ten times the list timeout: a
 * statement bounded by that timeout would have been cancelled long before. */
static bool waited_past_the_list_timeout(void *arg)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'leadloopd'"
             " AND wait_event_type = 'Lock' AND clock_timestamp() - query_start > interval '%d ms'",
             10 * LIST_TIMEOUT_MS);
    char *n = pg_value(arg, sql);
    bool yes = atoi(n) > 0;
    free(n);
    return yes;
}

static void expect_list_timeout(struct daemon *d, const char *path)
{
    struct resp *r = req(d, "GET", path, admin_key, NULL, NULL, 0);
    assert_problem(r, 503, "unavailable");
    char *ra = resp_header(r, "Retry-After");
    ck_assert_msg(ra && !strcmp(ra, "1"), "%s: Retry-After: %s", path, ra ? ra : "(none)");
    ck_assert_msg(strstr(r->body, "too long") != NULL, "%s: detail: %s", path, r->body);
    free(ra);
    resp_free(r);
}

/* A list waits for a lock the test holds: it is stopped after LEADLOOP_LIST_TIMEOUT_MS
 * (whether it was already prepared, is prepared now, or is a search planned each time),
 * and the next statement on the same pooled connection waits under the general timeout. */
START_TEST(list_timeout_stops_a_slow_list_alone)
{
    struct daemon d;
    char env_list[64], id[40], path[96];
    pthread_t t;
    snprintf(env_list, sizeof env_list, "LEADLOOP_LIST_TIMEOUT_MS=%d", LIST_TIMEOUT_MS);
    const char *env[] = {"LEADLOOP_DB_POOL=1", "LEADLOOP_STATEMENT_TIMEOUT_MS=60000", env_list,
                         NULL};
    create(&main_daemon, "/v1/campaigns", admin_key,
           "{\"name\":\"Held back\",\"channel\":\"other\"}", id);
    ck_assert(daemon_start(&d, env));
    struct resp *r = req(&d, "GET", "/v1/campaigns?limit=1", admin_key, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200); /* prepared on the one connection */
    resp_free(r);

    PGconn *locker = pg_test(), *watch = pg_test();
    pg_ok(locker, "BEGIN");
    pg_ok(locker, "LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE");
    expect_list_timeout(&d, "/v1/campaigns?limit=1");       /* prepared before */
    expect_list_timeout(&d, "/v1/campaigns?sort=name");     /* prepared now */
    expect_list_timeout(&d, "/v1/campaigns?q=held%20back"); /* a search */

    /* the same connection, a statement that is not a list: the general timeout */
    struct held_get h = {&d, "", NULL};
    snprintf(h.path, sizeof h.path, "/v1/campaigns/%s", id);
    ck_assert_int_eq(pthread_create(&t, NULL, get_in_thread, &h), 0);
    ck_assert_msg(wait_until(waited_past_the_list_timeout, watch, 20000),
                  "GET %s never waited longer than the list timeout", h.path);
    pg_ok(locker, "COMMIT");
    pthread_join(t, NULL);
    ck_assert_msg(h.r->status == 200, "GET %s: expected 200, got %ld: %s", h.path, h.r->status,
                  h.r->body);
    resp_free(h.r);

    /* and lists answer again */
    snprintf(path, sizeof path, "/v1/campaigns?q=held%%20back");
    r = req(&d, "GET", path, admin_key, NULL, NULL, 0);
    ck_assert_msg(r->status == 200 && strstr(r->body, id), "%s: %ld %s", path, r->status, r->body);
    resp_free(r);
    PQfinish(watch);
    PQfinish(locker);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

Suite *search_suite(void)
{
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("search");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, list_timeout_stops_a_slow_list_alone);
    suite_add_tcase(s, tc);
    return s;
}
