/* Scenario 4: another client takes every connection PostgreSQL allows (max_connections)
 * while the daemon's pool has none open. Requests answer 503 in time (never 500, never
 * hang), /readyz 503; once the other client lets go, everything answers 2xx. */
#include <check.h>
#include <stdio.h>

#include "fault.h"
#include "scenarios.h"

#define HOG_MAX 300

struct hog {
    PGconn *conns[HOG_MAX];
    int n;
};

/* Connects until PostgreSQL refuses; returns how many it added. */
static int hog_fill(struct hog *h, const char *url)
{
    char conninfo[600];
    int added = 0;
    snprintf(conninfo, sizeof conninfo, "%s?connect_timeout=5", url);
    while (h->n < HOG_MAX) {
        PGconn *pg = PQconnectdb(conninfo);
        if (PQstatus(pg) != CONNECTION_OK) {
            PQfinish(pg);
            break;
        }
        h->conns[h->n++] = pg;
        added++;
    }
    return added;
}

static const char sql_daemon_backends[] =
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'leadloopd'";
static const char sql_terminate[] = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                    " WHERE application_name = 'leadloopd'";

/* Takes every connection from the daemon: its pool opens new ones only for requests (none
 * come now), but its background threads (key-cache listener, report compactor) reconnect
 * at once, so the hog terminates and fills in rounds until the daemon holds none.
 * Returns the rounds it took. */
static int hog_take_all(struct hog *h, const char *url)
{
    int round;
    hog_fill(h, url);
    ck_assert_msg(h->n > 0, "the hog could not connect");
    for (round = 1; round <= 30; round++) {
        long killed = pg_long(h->conns[0], sql_terminate);
        double until = now_s() + 2;
        /* until the terminated backends have ended and freed their slots */
        while (pg_long(h->conns[0], sql_daemon_backends) >= killed && killed > 0 && now_s() < until)
            pause_ms(10);
        hog_fill(h, url);
        if (pg_long(h->conns[0], sql_daemon_backends) == 0 && hog_fill(h, url) == 0)
            return round;
    }
    ck_assert_msg(false, "the daemon kept connections after 30 rounds");
    return round;
}

START_TEST(pg_connections_exhausted)
{
    const char *env[] = {FAULT_ENV, NULL};
    struct scene s;
    struct load l;
    struct tally t, after;
    struct hog h = {.n = 0};
    char text[256];
    double secs, recovered;
    long ready;
    int rounds;

    scene_begin(&s, "connlimit", env);
    load_start(&l, &s, 4, read_step, NULL, FAULT_BOUND_S, FAULT_HANG_MS);
    ck_assert_msg(load_answered(&l, 20, 10), "no answers before the exhaustion");
    load_stop(&l);
    load_free(&l);

    rounds = hog_take_all(&h, s.dburl);
    ck_assert_msg(h.n < HOG_MAX, "the hog holds %d connections and PostgreSQL wants more", h.n);

    load_start(&l, &s, 4, read_step, NULL, FAULT_BOUND_S, FAULT_HANG_MS);
    ck_assert_msg(load_answered(&l, 40, 30), "no answers while the connections are taken");
    ready = probe_readyz(&s, &secs);
    load_stop(&l);
    t = load_tally(&l);
    load_free(&l);
    for (int i = 0; i < h.n; i++)
        PQfinish(h.conns[i]);
    recovered = assert_recovered(&s, "the connections came back", &after);
    fault_report("pg-connection-limit",
                 "hog_connections=%d rounds=%d %s readyz=%ld in %.2fs ready_after_s=%.2f "
                 "after_ok=%ld/%ld",
                 h.n, rounds, tally_text(&t, text, sizeof text), ready, secs, recovered, after.ok,
                 after.total);
    ck_assert_msg(t.unavailable > 0, "no 503 while every connection was taken: %s", text);
    ck_assert_msg(t.server_error == 0 && t.client_error == 0 && t.no_answer == 0 && t.hung == 0,
                  "answers must be 2xx or 503: %s", text);
    ck_assert_msg(t.bad_503 == 0 && t.over_bound == 0, "503s must be problem+json, in time: %s",
                  text);
    ck_assert_msg(ready == 503 && secs < 1.0, "/readyz answered %ld in %.2f s", ready, secs);
    scene_end(&s);
}
END_TEST

TCase *pg_connlimit_tcase(void)
{
    TCase *tc = tcase_create("pg_connlimit");
    tcase_add_test(tc, pg_connections_exhausted);
    tcase_set_timeout(tc, 120);
    return tc;
}
