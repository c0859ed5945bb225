/* Unit tests of sla.c's period names: months and quarters read into their kind and first
 * day, and every malformed name refused (a 400 or 422 naming `period` to the client). */
#include <check.h>
#include <string.h>

#include "leadloop/sla.h"
#include "suites.h"

START_TEST(periods_are_read)
{
    static const struct {
        const char *in, *kind, *start;
    } ok[] = {{"2026-12", "month", "2026-12-01"},   {"2026-01", "month", "2026-01-01"},
              {"2026-Q1", "quarter", "2026-01-01"}, {"2026-Q2", "quarter", "2026-04-01"},
              {"2026-Q3", "quarter", "2026-07-01"}, {"2999-Q4", "quarter", "2999-10-01"}};
    char kind[8], start[11];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(sla_period_parse(ok[i].in, kind, start), "%s refused", ok[i].in);
        ck_assert_str_eq(kind, ok[i].kind);
        ck_assert_str_eq(start, ok[i].start);
    }
}
END_TEST

START_TEST(bad_periods_are_refused)
{
    static const char *const bad[] = {"",         "2026",    "2026-13", "2026-00", "2026-Q0",
                                      "2026-Q5",  "2026-q4", "1999-12", "3000-01", "2026-1",
                                      "2026-012", "2026/12", "20x6-12", "2026-1a", "2026-12 "};
    char kind[8] = "x", start[11] = "x";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!sla_period_parse(bad[i], kind, start), "%s accepted", bad[i]);
    ck_assert(!sla_period_parse(NULL, kind, start));
}
END_TEST

Suite *sla_suite(void)
{
    Suite *s = suite_create("sla");
    TCase *tc = tcase_create("periods");
    tcase_add_test(tc, periods_are_read);
    tcase_add_test(tc, bad_periods_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
