/* Scenario 6: SIGTERM while six clients create without pause. The daemon must exit 0
 * within LEADLOOP_SHUTDOWN_TIMEOUT_S (and a margin), and every create it acknowledged
 * must be in the database, once. */
#include <check.h>
#include <signal.h>

#include "fault.h"
#include "scenarios.h"

#define SHUTDOWN_S 3

START_TEST(daemon_sigterm_under_load)
{
    const char *env[] = {FAULT_ENV, "LEADLOOP_SHUTDOWN_TIMEOUT_S=3", NULL};
    struct scene s;
    struct load l;
    struct tally t;
    struct creates cr;
    char text[256];
    double t0, exit_s;
    int rc;

    scene_begin(&s, "sigterm", env);
    load_start(&l, &s, 6, create_once_step, NULL, FAULT_BOUND_S, FAULT_HANG_MS);
    ck_assert_msg(load_progress(&l, 50, 15), "no creates acknowledged before SIGTERM");
    t0 = now_s();
    ck_assert_int_eq(kill(s.d.pid, SIGTERM), 0);
    rc = daemon_wait(&s.d);
    exit_s = now_s() - t0;
    load_stop(&l);
    t = load_tally(&l);
    cr = creates_check(&l);
    fault_report("daemon-sigterm",
                 "shutdown_timeout_s=%d exit_s=%.2f exit=%d acked=%ld rows=%ld lost=%ld dup=%ld "
                 "extra=%ld %s",
                 SHUTDOWN_S, exit_s, rc, cr.acked, cr.rows, cr.lost, cr.dup, cr.extra,
                 tally_text(&t, text, sizeof text));
    ck_assert_msg(rc == 0, "the daemon exited with %d; log: %s", rc, s.d.log);
    ck_assert_msg(exit_s <= SHUTDOWN_S + 1.0, "the daemon took %.2f s to exit", exit_s);
    ck_assert_msg(cr.lost == 0, "%ld acknowledged creates are not in the database", cr.lost);
    ck_assert_msg(cr.dup == 0, "%ld creates are in the database twice", cr.dup);
    ck_assert_msg(t.server_error == 0 && t.hung == 0 && t.bad_503 == 0,
                  "answers must be 2xx, 503 or none: %s", text);
    load_free(&l);
    scene_end(&s);
}
END_TEST

TCase *daemon_sigterm_tcase(void)
{
    TCase *tc = tcase_create("daemon_sigterm");
    tcase_add_test(tc, daemon_sigterm_under_load);
    tcase_set_timeout(tc, 60);
    return tc;
}
