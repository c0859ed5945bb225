/* Unit tests of the parts of migrate.c that need no database: the newest embedded
 * migration, the check that a schema is current, and what scripts/embed.sh embedded (the
 * repeatable migrations and the report statements). Applying repeatable migrations is
 * tested against PostgreSQL in tests/api/test_migrate.c. */
#include <check.h>
#include <ctype.h>
#include <stdbool.h>
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

/* Every table of embedded files is in name order, ends with {NULL}, and holds text. */
static void check_files(const struct embedded_file *f, size_t n, const char *what)
{
    ck_assert_ptr_null(f[n].name);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(f[i].len > 0 && strlen(f[i].text) == f[i].len, "%s %s: empty or cut", what,
                      f[i].name);
        if (i > 0)
            ck_assert_msg(strcmp(f[i - 1].name, f[i].name) < 0, "%s: '%s' before '%s'", what,
                          f[i - 1].name, f[i].name);
    }
}

START_TEST(repeatables_embedded)
{
    ck_assert_uint_gt(embedded_repeatables_count, 0);
    check_files(embedded_repeatables, embedded_repeatables_count, "sql/functions");
    for (size_t i = 0; i < embedded_repeatables_count; i++) {
        const char *n = embedded_repeatables[i].name;
        ck_assert_msg(isdigit((unsigned char)n[0]) && isdigit((unsigned char)n[1]) && n[2] == '_',
                      "expected NN_name, got '%s'", n);
        /* a repeatable file must be safe to run again on its own results */
        ck_assert_msg(!strstr(embedded_repeatables[i].text, "\nCREATE FUNCTION") &&
                          !strstr(embedded_repeatables[i].text, "\nCREATE TRIGGER"),
                      "functions/%s: CREATE without OR REPLACE", n);
    }
}
END_TEST

/* The report statements: each documents its parameters and how to run it by hand. */
START_TEST(queries_embedded)
{
    static const char *const used[] = {"report_campaigns",
                                       "report_sources",
                                       "report_funnel",
                                       "report_rejections_by_campaign",
                                       "report_rejections_by_source",
                                       "report_rejections_by_owner",
                                       "report_follow_up",
                                       NULL};
    check_files(embedded_queries, embedded_queries_count, "sql/queries");
    for (size_t i = 0; i < embedded_queries_count; i++) {
        const char *t = embedded_queries[i].text;
        ck_assert_msg(strstr(t, "-- Parameters:\n--   $1 ") && strstr(t, "PREPARE ") &&
                          strstr(t, "EXECUTE "),
                      "sql/queries/%s.sql: no header with its parameters and a psql example",
                      embedded_queries[i].name);
        /* psql's example appends ";" to the text: a last line of comment would hide it */
        const char *last = embedded_queries[i].text + embedded_queries[i].len;
        while (last > t && (last[-1] == '\n' || last[-1] == ' '))
            last--;
        while (last > t && last[-1] != '\n')
            last--;
        ck_assert_msg(strncmp(last, "--", 2) != 0, "sql/queries/%s.sql ends with a comment",
                      embedded_queries[i].name);
    }
    for (int u = 0; used[u]; u++) {
        bool found = false;
        for (size_t i = 0; i < embedded_queries_count; i++)
            found = found || !strcmp(embedded_queries[i].name, used[u]);
        ck_assert_msg(found, "server/reports.c runs %s, which is not embedded", used[u]);
    }
}
END_TEST

Suite *migrate_suite(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc = tcase_create("embedded");

    tcase_add_test(tc, latest_is_the_last_embedded);
    tcase_add_test(tc, embedded_in_order);
    tcase_add_test(tc, state_current);
    tcase_add_test(tc, repeatables_embedded);
    tcase_add_test(tc, queries_embedded);
    suite_add_tcase(s, tc);
    return s;
}
