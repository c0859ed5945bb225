/* Scenario 2: the pool's backends are terminated (pg_terminate_backend) again and again
 * for four seconds under reads and creates. Each request answers 2xx or 503, in time,
 * never 500 and never hangs; afterwards the pool has recovered and every answer is 2xx. */
#include <check.h>

#include "fault.h"
#include "scenarios.h"

static const char sql_terminate[] =
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE application_name = 'leadloopd' AND datname = current_database()";

START_TEST(pg_backends_terminated)
{
    const char *env[] = {FAULT_ENV, NULL};
    struct scene s;
    struct load l;
    struct tally t, after;
    struct creates cr;
    char text[256];
    long killed = 0;
    int rounds = 0;
    double until, recovered;
    PGconn *admin;

    scene_begin(&s, "terminate", env);
    admin = scene_pg(&s);
    load_start(&l, &s, 6, mixed_step, NULL, FAULT_BOUND_S, FAULT_HANG_MS);
    ck_assert_msg(load_progress(&l, 20, 15), "no creates acknowledged before the terminations");
    for (until = now_s() + 4; now_s() < until; rounds++) {
        killed += pg_long(admin, sql_terminate);
        load_answered(&l, 10, 1); /* let the clients meet the damage before the next round */
    }
    load_stop(&l);
    t = load_tally(&l);
    cr = creates_check(&l);
    recovered = assert_recovered(&s, "the terminations", &after);
    fault_report("pg-terminate-backend",
                 "rounds=%d backends_killed=%ld acked=%ld rows=%ld lost=%ld dup=%ld %s "
                 "ready_after_s=%.2f after_ok=%ld/%ld",
                 rounds, killed, cr.acked, cr.rows, cr.lost, cr.dup,
                 tally_text(&t, text, sizeof text), recovered, after.ok, after.total);
    ck_assert_msg(killed > 0, "no backend of the daemon was terminated");
    ck_assert_msg(t.server_error == 0 && t.client_error == 0 && t.no_answer == 0 && t.hung == 0,
                  "answers must be 2xx or 503: %s", text);
    ck_assert_msg(t.bad_503 == 0, "a 503 without problem+json or Retry-After: %s", text);
    ck_assert_msg(t.over_bound == 0, "answers later than %.1f s: %s", FAULT_BOUND_S, text);
    ck_assert_msg(cr.lost == 0 && cr.dup == 0, "lost %ld, duplicated %ld", cr.lost, cr.dup);
    PQfinish(admin);
    load_free(&l);
    scene_end(&s);
}
END_TEST

TCase *pg_terminate_tcase(void)
{
    TCase *tc = tcase_create("pg_terminate");
    tcase_add_test(tc, pg_backends_terminated);
    tcase_set_timeout(tc, 120);
    return tc;
}
