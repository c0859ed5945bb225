/* Unit tests of rowsort.c: exact comparison of decimal text, and the stable order of rows
 * with nulls last. */
#include <check.h>
#include <stdio.h>

#include "leadloop/rowsort.h"
#include "suites.h"

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

START_TEST(numbers_compare_exactly)
{
    static const struct {
        const char *a, *b;
        int want;
    } cases[] = {
        {"0", "0", 0},
        {"-0", "0", 0},
        {"0.000", "0", 0},
        {"1", "2", -1},
        {"10", "9", 1},
        {"-10", "-9", -1},
        {"-1", "1", -1},
        {"3.5000", "3.5", 0},
        {"0.25", "0.3", -1},
        {"0.0001", "0", 1},
        {"-0.0001", "0", -1},
        {"007", "7", 0},
        /* more digits than a double tells apart */
        {"9007199254740993", "9007199254740992", 1},
        {"123456789012345678901234567890.0001", "123456789012345678901234567890", 1},
        {"12.5", "12.49999999999999999999", 1},
        {"-12.5", "-12.49999999999999999999", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(sign(rowsort_compare_numbers(cases[i].a, cases[i].b)) == cases[i].want,
                      "%s vs %s: want %d", cases[i].a, cases[i].b, cases[i].want);
        ck_assert_msg(sign(rowsort_compare_numbers(cases[i].b, cases[i].a)) == -cases[i].want,
                      "%s vs %s: want %d", cases[i].b, cases[i].a, -cases[i].want);
    }
    /* what is not a number ties with everything rather than ordering at random */
    ck_assert_int_eq(rowsort_compare_numbers("", "1"), 0);
    ck_assert_int_eq(rowsort_compare_numbers("1e5", "1"), 0);
    ck_assert_int_eq(rowsort_compare_numbers("1.", "1"), 0);
    ck_assert_int_eq(rowsort_compare_numbers(".5", "1"), 0);
}
END_TEST

static const char *value_of(const void *ctx, size_t i)
{
    return ((const char *const *)ctx)[i];
}

START_TEST(order_is_stable_with_nulls_last)
{
    const char *values[] = {"2", NULL, "10", "2", "-1", NULL, "10.0"};
    size_t order[7];
    static const size_t asc[] = {4, 0, 3, 2, 6, 1, 5};
    static const size_t desc[] = {2, 6, 0, 3, 4, 1, 5};
    ck_assert(rowsort_order(7, value_of, values, true, false, order));
    for (int i = 0; i < 7; i++)
        ck_assert_msg(order[i] == asc[i], "asc[%d]: %zu, want %zu", i, order[i], asc[i]);
    ck_assert(rowsort_order(7, value_of, values, true, true, order));
    for (int i = 0; i < 7; i++)
        ck_assert_msg(order[i] == desc[i], "desc[%d]: %zu, want %zu", i, order[i], desc[i]);
    /* text: byte order (timestamps in the API's one format sort by time) */
    const char *times[] = {"2026-03-01T00:00:00.000000Z", "2026-01-05T10:00:00.000000Z", NULL};
    ck_assert(rowsort_order(3, value_of, times, false, false, order));
    ck_assert(order[0] == 1 && order[1] == 0 && order[2] == 2);
    ck_assert(rowsort_order(0, value_of, times, false, false, order));
}
END_TEST

Suite *rowsort_suite(void)
{
    Suite *s = suite_create("rowsort");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, numbers_compare_exactly);
    tcase_add_test(tc, order_is_stable_with_nulls_last);
    suite_add_tcase(s, tc);
    return s;
}
