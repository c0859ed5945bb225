/* Scenario 3: PostgreSQL frozen (SIGSTOP on the postmaster and every backend) for five
 * seconds under reads and creates. Each request answers within the acquire timeout plus
 * the statement timeout (and a margin), 2xx or 503 problem+json with Retry-After; /readyz
 * answers 503 within a second throughout; after SIGCONT everything recovers and no
 * acknowledged create is lost. */
#include <check.h>

#include "fault.h"
#include "scenarios.h"

#define FREEZE_S 5.0

START_TEST(pg_frozen)
{
    const char *env[] = {FAULT_ENV, NULL};
    struct scene s;
    struct load l;
    struct tally t, after;
    struct creates cr;
    char text[256];
    long probes = 0, probes_503 = 0;
    double t0, probe_max = 0, recovered;

    scene_begin(&s, "freeze", env);
    load_start(&l, &s, 8, mixed_step, NULL, FAULT_BOUND_S, FAULT_HANG_MS);
    ck_assert_msg(load_progress(&l, 20, 15), "no creates acknowledged before the freeze");
    pg_control("freeze");
    t0 = now_s();
    /* Probes start once the pool has surely met the freeze; one every 250 ms or so. */
    while (now_s() - t0 < FREEZE_S) {
        double secs;
        long st = probe_readyz(&s, &secs);
        probes++;
        probes_503 += st == 503;
        if (secs > probe_max)
            probe_max = secs;
        pause_ms(250);
    }
    pg_control("thaw");
    ck_assert_msg(load_progress(&l, 20, 20), "creates did not resume after the thaw");
    load_stop(&l);
    t = load_tally(&l);
    cr = creates_check(&l);
    recovered = assert_recovered(&s, "the thaw", &after);
    fault_report("pg-freeze",
                 "frozen_s=%.0f bound_s=%.1f acked=%ld rows=%ld lost=%ld dup=%ld %s "
                 "readyz_503=%ld/%ld readyz_max_s=%.2f ready_after_s=%.2f",
                 FREEZE_S, FAULT_BOUND_S, cr.acked, cr.rows, cr.lost, cr.dup,
                 tally_text(&t, text, sizeof text), probes_503, probes, probe_max, recovered);
    ck_assert_msg(t.over_bound == 0 && t.hung == 0,
                  "requests must answer within %.1f s while PostgreSQL is frozen: %s",
                  FAULT_BOUND_S, text);
    ck_assert_msg(t.unavailable > 0, "no 503 while PostgreSQL was frozen: %s", text);
    ck_assert_msg(t.server_error == 0 && t.client_error == 0 && t.no_answer == 0 && t.bad_503 == 0,
                  "answers must be 2xx or 503 problem+json with Retry-After: %s", text);
    ck_assert_msg(probes_503 == probes && probe_max < 1.0,
                  "/readyz must answer 503 within 1 s while frozen: %ld of %ld, slowest %.2f s",
                  probes_503, probes, probe_max);
    ck_assert_msg(cr.lost == 0 && cr.dup == 0, "lost %ld, duplicated %ld", cr.lost, cr.dup);
    load_free(&l);
    scene_end(&s);
}
END_TEST

TCase *pg_freeze_tcase(void)
{
    TCase *tc = tcase_create("pg_freeze");
    tcase_add_test(tc, pg_frozen);
    tcase_set_timeout(tc, 120);
    return tc;
}
