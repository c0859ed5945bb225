/* Unit tests of the parts of migrate.c that need no database: the newest embedded
 * migration and the check that a schema is current. */
#include <check.h>
#include <ctype.h>
#include <string.h>

#include "leadloop/embedded.h"
#include "leadloop/migrate.h"
#include "suites.h"

START_TEST(latest_is_the_last_embedded)
{
    const char *latest = migrate_latest();

    ck_assert_ptr_nonnull(latest);
    ck_assert_uint_gt(embedded_migrations_count, 0);
    ck_assert_str_eq(latest, embedded_migrations[embedded_migrations_count - 1].name);
    ck_assert_ptr_null(embedded_migrations[embedded_migrations_count].name);
    ck_assert_msg(strcmp(latest, "0001_init") >= 0, "expected 0001_init or later, got '%s'",
                  latest);
    ck_assert_msg(strlen(latest) > 5 && isdigit((unsigned char)latest[0]) &&
                      isdigit((unsigned char)latest[1]) && isdigit((unsigned char)latest[2]) &&
                      isdigit((unsigned char)latest[3]) && latest[4] == '_',
                  "expected NNNN_name, got '%s'", latest);
}
END_TEST

START_TEST(embedded_in_order)
{
    /* migrations apply in name order, and the newest is compared by name */
    for (size_t i = 1; i < embedded_migrations_count; i++)
        ck_assert_msg(strcmp(embedded_migrations[i - 1].name, embedded_migrations[i].name) < 0,
                      "'%s' comes before '%s'", embedded_migrations[i - 1].name,
                      embedded_migrations[i].name);
    for (size_t i = 0; i < embedded_migrations_count; i++) {
        ck_assert_uint_gt(embedded_migrations[i].len, 0);
        ck_assert_uint_eq(strlen(embedded_migrations[i].text), embedded_migrations[i].len);
    }
}
END_TEST

START_TEST(state_current)
{
    long count = (long)embedded_migrations_count;
    const char *latest = migrate_latest();

    ck_assert_msg(migrate_state_current(count, latest), "(%ld, '%s'): expected current", count,
                  latest);
    ck_assert_msg(!migrate_state_current(0, ""), "(0, ''): expected not current");
    ck_assert_msg(!migrate_state_current(count - 1, "0000_older"),
                  "(%ld, '0000_older'): expected not current", count - 1);
    ck_assert_msg(!migrate_state_current(count, "0000_older"),
                  "(%ld, '0000_older'): expected not current", count);
}
END_TEST

Suite *migrate_suite(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc = tcase_create("embedded");

    tcase_add_test(tc, latest_is_the_last_embedded);
    tcase_add_test(tc, embedded_in_order);
    tcase_add_test(tc, state_current);
    suite_add_tcase(s, tc);
    return s;
}
