/* Scenario 1: PostgreSQL crashes (`pg_ctl stop -m immediate`) and restarts, three times,
 * under creates from six clients that retry with their Idempotency-Key on 503 and on no
 * answer. Every acknowledged create must be in the database, and none twice. */
#include <check.h>

#include "fault.h"
#include "scenarios.h"

#define RESTARTS 3

START_TEST(pg_immediate_restart)
{
    const char *env[] = {FAULT_ENV, NULL};
    struct scene s;
    struct load l;
    struct tally t, after;
    struct creates cr;
    char text[256];
    double recovered;

    scene_begin(&s, "restart", env);
    load_start(&l, &s, 6, create_step, NULL, FAULT_BOUND_S, FAULT_HANG_MS);
    ck_assert_msg(load_progress(&l, 30, 15), "no creates acknowledged before the first crash");
    for (int i = 0; i < RESTARTS; i++) {
        pg_control("immediate");
        ck_assert_msg(load_answered(&l, 6, 10), "no answers while PostgreSQL was down");
        pg_control("start");
        ck_assert_msg(load_progress(&l, 30, 20), "creates did not resume after restart %d", i + 1);
    }
    load_stop(&l);
    t = load_tally(&l);
    cr = creates_check(&l);
    recovered = assert_recovered(&s, "the last restart", &after);
    fault_report("pg-immediate-restart",
                 "restarts=%d clients=6 acked=%ld rows=%ld lost=%ld dup=%ld extra=%ld %s "
                 "ready_after_s=%.2f",
                 RESTARTS, cr.acked, cr.rows, cr.lost, cr.dup, cr.extra,
                 tally_text(&t, text, sizeof text), recovered);
    ck_assert_msg(cr.lost == 0, "%ld acknowledged creates are not in the database", cr.lost);
    ck_assert_msg(cr.dup == 0, "%ld creates are in the database twice", cr.dup);
    ck_assert_msg(t.server_error == 0 && t.hung == 0 && t.bad_503 == 0,
                  "answers must be 2xx or 503 problem+json with Retry-After: %s", text);
    load_free(&l);
    scene_end(&s);
}
END_TEST

TCase *pg_restart_tcase(void)
{
    TCase *tc = tcase_create("pg_restart");
    tcase_add_test(tc, pg_immediate_restart);
    tcase_set_timeout(tc, 180);
    return tc;
}
