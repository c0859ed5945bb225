/* Unit tests of stages.c: the stage list, the open stages, every transition
 * allowed or refused (the whole 8 x 8 table), and where each kind of feedback takes a lead
 * from each stage. */
#include <check.h>
#include <string.h>

#include "leadloop/stages.h"
#include "leadloop/vocab.h"
#include "suites.h"

#define N_STAGES 8

START_TEST(the_list_is_the_funnel_then_the_exits)
{
    static const char *const want[] = {
        "new",         "mql",      "sales_accepted", "sales_qualified",
        "opportunity", "customer", "recycled",       "disqualified"};
    size_t n = 0;
    for (; vocab_stages[n]; n++) {
        ck_assert_uint_lt(n, N_STAGES);
        ck_assert_str_eq(vocab_stages[n], want[n]);
        ck_assert(stages_is_stage(want[n]));
    }
    ck_assert_uint_eq(n, N_STAGES);
    ck_assert(!stages_is_stage(NULL));
    ck_assert(!stages_is_stage(""));
    ck_assert(!stages_is_stage("New"));
    ck_assert(!stages_is_stage("lead"));
    ck_assert(!stages_is_stage("new "));
}
END_TEST

START_TEST(open_stages)
{
    static const char *const open[] = {"new", "mql", "sales_accepted", "sales_qualified",
                                       "opportunity"};
    for (size_t i = 0; i < sizeof open / sizeof open[0]; i++)
        ck_assert_msg(stages_is_open(open[i]), "%s: expected open", open[i]);
    ck_assert(!stages_is_open("customer") && !stages_is_open("disqualified"));
    ck_assert(!stages_is_open("recycled"));
    ck_assert(!stages_is_open(NULL) && !stages_is_open("bogus"));
}
END_TEST

START_TEST(every_transition)
{
    /* allowed[from][to], in the order of vocab_stages */
    static const bool allowed[N_STAGES][N_STAGES] = {
        /*              new mql sa sq opp cust rec disq */
        /* new */ {0, 1, 1, 1, 1, 1, 1, 1},
        /* mql */ {0, 0, 1, 1, 1, 1, 1, 1},
        /* sales_accepted */ {0, 0, 0, 1, 1, 1, 1, 1},
        /* sales_qualified */ {0, 0, 0, 0, 1, 1, 1, 1},
        /* opportunity */ {0, 0, 0, 0, 0, 1, 1, 1},
        /* customer */ {0, 0, 0, 0, 1, 0, 0, 0},
        /* recycled */ {0, 1, 0, 0, 0, 0, 0, 0},
        /* disqualified */ {0, 0, 0, 0, 0, 0, 1, 0},
    };
    for (int f = 0; f < N_STAGES; f++) {
        const char *t[8];
        size_t n = stages_targets(vocab_stages[f], t), count = 0;
        for (int k = 0; k < N_STAGES; k++) {
            ck_assert_msg(stages_allowed(vocab_stages[f], vocab_stages[k]) == allowed[f][k],
                          "%s -> %s: expected %s", vocab_stages[f], vocab_stages[k],
                          allowed[f][k] ? "allowed" : "refused");
            count += allowed[f][k];
        }
        ck_assert_uint_eq(n, count);
        for (size_t i = 0; i < n; i++) /* the targets are the allowed ones, funnel first */
            ck_assert(stages_allowed(vocab_stages[f], t[i]));
        ck_assert(!stages_allowed(vocab_stages[f], vocab_stages[f]));
    }
    const char *t[8];
    ck_assert_uint_eq(stages_targets("bogus", t), 0);
    ck_assert_uint_eq(stages_targets(NULL, t), 0);
    ck_assert(!stages_allowed("new", "bogus"));
    ck_assert(!stages_allowed("new", NULL));
    ck_assert_uint_eq(stages_targets("new", t), 7);
    ck_assert_str_eq(t[0], "mql");
    ck_assert_str_eq(t[4], "customer");
    ck_assert_str_eq(t[5], "recycled");
    ck_assert_str_eq(t[6], "disqualified");
}
END_TEST

static const char *after(const char *kind, const char *stage, bool disqualifies)
{
    char why[300] = "";
    const char *s = stages_after_feedback(kind, stage, disqualifies, false, why, sizeof why);
    if (!s)
        ck_assert_msg(strstr(why, stage) && strstr(why, kind), "why [%s] names neither", why);
    return s ? s : "(refused)";
}

START_TEST(feedback_moves)
{
    static const char *const kinds[] = {"accepted", "rejected", "contacted", "meeting_booked",
                                        "won",      "lost",     "recycled",  "correction"};
    /* want[stage][kind] with disqualifies false; (refused) where the stage takes no such
     * feedback; "=" for no move */
    static const char *const want[N_STAGES][8] = {
        {"sales_accepted", "recycled", "=", "=", "(refused)", "(refused)", "recycled", "="},
        {"sales_accepted", "recycled", "=", "=", "(refused)", "(refused)", "recycled", "="},
        {"(refused)", "(refused)", "=", "=", "customer", "recycled", "recycled", "="},
        {"(refused)", "(refused)", "=", "=", "customer", "recycled", "recycled", "="},
        {"(refused)", "(refused)", "=", "=", "customer", "recycled", "recycled", "="},
        {"(refused)", "(refused)", "(refused)", "(refused)", "(refused)", "(refused)", "(refused)",
         "="},
        {"(refused)", "(refused)", "(refused)", "(refused)", "(refused)", "(refused)", "(refused)",
         "="},
        {"(refused)", "(refused)", "(refused)", "(refused)", "(refused)", "(refused)", "(refused)",
         "="},
    };
    for (int s = 0; s < N_STAGES; s++)
        for (int k = 0; k < 8; k++) {
            const char *w = !strcmp(want[s][k], "=") ? vocab_stages[s] : want[s][k];
            const char *got = after(kinds[k], vocab_stages[s], false);
            ck_assert_msg(!strcmp(got, w), "%s feedback on %s: expected %s, got %s", kinds[k],
                          vocab_stages[s], w, got);
            /* a disqualifying reason turns each move to recycled into disqualified */
            got = after(kinds[k], vocab_stages[s], true);
            if (!strcmp(want[s][k], "recycled")) /* a move to recycled, not a stay */
                w = "disqualified";
            ck_assert_msg(!strcmp(got, w), "%s feedback (disqualifying) on %s: expected %s, got %s",
                          kinds[k], vocab_stages[s], w, got);
            /* every stage feedback leads to is a stage the transition rules know */
            if (strcmp(got, "(refused)") != 0)
                ck_assert(stages_is_stage(got));
        }
}
END_TEST

/* A customer's next deal: won makes it a customer again, and a lost one leaves it a
 * customer whatever the reason; the other kinds move as for any lead. */
START_TEST(a_returning_customer_stays_one)
{
    static const char *const accepted[] = {"sales_accepted", "sales_qualified", "opportunity"};
    char why[300];
    for (size_t i = 0; i < 3; i++)
        for (int d = 0; d < 2; d++) {
            const char *s = accepted[i];
            ck_assert_str_eq(stages_after_feedback("lost", s, d, true, why, sizeof why),
                             "customer");
            ck_assert_str_eq(stages_after_feedback("won", s, d, true, why, sizeof why), "customer");
            ck_assert_str_eq(stages_after_feedback("recycled", s, d, true, why, sizeof why),
                             d ? "disqualified" : "recycled");
            ck_assert_str_eq(stages_after_feedback("correction", s, d, true, why, sizeof why), s);
        }
    ck_assert_ptr_null(stages_after_feedback("lost", "customer", false, true, why, sizeof why));
}
END_TEST

Suite *stages_suite(void)
{
    Suite *s = suite_create("stages");
    TCase *tc = tcase_create("stages");
    tcase_add_test(tc, the_list_is_the_funnel_then_the_exits);
    tcase_add_test(tc, open_stages);
    tcase_add_test(tc, every_transition);
    tcase_add_test(tc, feedback_moves);
    tcase_add_test(tc, a_returning_customer_stays_one);
    suite_add_tcase(s, tc);
    return s;
}
