/* Unit tests of csv.c: RFC 4180 cells and the formula guard, with the cases of OWASP's
 * "CSV Injection" page and the ways out of a cell (separators, quotes, line breaks). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/csv.h"
#include "leadloop/jw.h"
#include "suites.h"

/* s written as one cell (caller frees). */
static char *cell(const char *s, bool text)
{
    struct jw w;
    size_t len;
    jw_init(&w, 4);
    csv_cell(&w, s, text);
    return jw_take(&w, &len);
}

static void expect_cell(const char *in, bool text, const char *want)
{
    char *got = cell(in, text);
    ck_assert_msg(got && !strcmp(got, want), "cell of [%s] (text %d): expected [%s], got [%s]", in,
                  (int)text, want, got ? got : "(out of memory)");
    free(got);
}

START_TEST(formula_starts_are_risky)
{
    static const char *const risky[] = {
        "=1+1",
        "+1+1",
        "-1+1",
        "@SUM(A1:A2)",
        "=cmd|' /C calc'!A0",
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "\t",
        "\tplain",
        "\r",
        "\rplain",
        "\nplain",
        " =1+1",
        "   @x",
        "\t=1",
        "\r\n=1",
        "\"=1+1",
        "'=1+1",
        "\" ' -1",
        "-",
        "=",
    };
    static const char *const safe[] = {
        "",
        "plain",
        "1-1",
        "a=b",
        "a,=1+1",
        "a\";=1",
        "x\n=1",
        "'quoted'",
        "\"",
        "  ",
        "50%",
        "\xEF\xBC\x9D"
        "1+1", /* a fullwidth equals sign: text to spreadsheets */
    };
    for (size_t i = 0; i < sizeof risky / sizeof risky[0]; i++)
        ck_assert_msg(csv_formula_risk(risky[i]), "[%s] should be risky", risky[i]);
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        ck_assert_msg(!csv_formula_risk(safe[i]), "[%s] should be safe", safe[i]);
}
END_TEST

START_TEST(text_cells_are_quoted_and_guarded_inside_the_quotes)
{
    expect_cell("plain", true, "\"plain\"");
    expect_cell("", true, "\"\"");
    expect_cell("=1+1", true, "\"'=1+1\"");
    /* the name: one cell, guarded, its commas inside the quotes */
    expect_cell("=0,=1+1,=2+2", true, "\"'=0,=1+1,=2+2\"");
    expect_cell("+1", true, "\"'+1\"");
    expect_cell("-1", true, "\"'-1\"");
    expect_cell("@SUM(1)", true, "\"'@SUM(1)\"");
    expect_cell("\t=1", true, "\"'\t=1\"");
    expect_cell("\r=1", true, "\"'\r=1\"");
    expect_cell(" =1", true, "\"' =1\"");
    expect_cell("\"=1", true, "\"'\"\"=1\"");
    expect_cell("'=1", true, "\"''=1\"");
    /* ways out of the cell stay inside it */
    expect_cell("a\",\"=1+1", true, "\"a\"\",\"\"=1+1\"");
    expect_cell("a;=1+1", true, "\"a;=1+1\"");
    expect_cell("a\r\n=1+1,=2", true, "\"a\r\n=1+1,=2\"");
    expect_cell("\"\"", true, "\"\"\"\"\"\"");
    expect_cell("caf\xC3\xA9 \xF0\x9F\x98\x80", true, "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
}
END_TEST

START_TEST(numbers_and_column_names_stay_as_they_are)
{
    expect_cell("-0.333", false, "-0.333");
    expect_cell("-1", false, "-1");
    expect_cell("4.1667", false, "4.1667");
    expect_cell("campaign_id", false, "campaign_id");
    expect_cell("", false, "");
    /* quoted when they must be, never guarded */
    expect_cell("a,b", false, "\"a,b\"");
    expect_cell("-\"x\"", false, "\"-\"\"x\"\"\"");
    expect_cell("x\ny", false, "\"x\ny\"");
}
END_TEST

/* What csv_cell guards, csv_unguard takes back, and nothing else: a lead list exported and
 * imported again keeps "+49 30 1234" and "'=1" as they were. */
START_TEST(a_guarded_cell_reads_back_as_it_was)
{
    static const char *const values[] = {"+49 30 1234", "=1",    "-x",   "@a",    "\t=1", "\tplain",
                                         "'=1",         "''=1",  "'\tx", "''\tx", "'x",   "''",
                                         "'",           "plain", "",     " =1",   "\"=1", "it's",
                                         "'+1",         "\n",    "'\n"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        const char *v = values[i];
        struct jw w = {0};
        csv_cell(&w, v, true);
        const char *cell = jw_cstr(&w);
        /* the cell's text, its quotes undone (the values hold no quote but "=1's) */
        char text[64];
        size_t n = 0;
        for (const char *p = cell + 1; p[1]; p++) {
            text[n++] = *p;
            if (*p == '"')
                p++;
        }
        ck_assert_uint_eq(csv_unguard(text, n) == 1, csv_guard_needed(v));
        size_t skip = csv_unguard(text, n);
        ck_assert_msg(n - skip == strlen(v) && !memcmp(text + skip, v, n - skip),
                      "%s: read back as %.*s", v, (int)(n - skip), text + skip);
        jw_free(&w);
    }
    /* a lone apostrophe and one before a harmless value stay */
    ck_assert_uint_eq(csv_unguard("'", 1), 0);
    ck_assert_uint_eq(csv_unguard("'abc", 4), 0);
    ck_assert_uint_eq(csv_unguard("'=abc", 5), 1);
    ck_assert_uint_eq(csv_unguard("'=abc", 1), 0); /* its length, not its NUL, ends it */
}
END_TEST

Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, formula_starts_are_risky);
    tcase_add_test(tc, text_cells_are_quoted_and_guarded_inside_the_quotes);
    tcase_add_test(tc, numbers_and_column_names_stay_as_they_are);
    tcase_add_test(tc, a_guarded_cell_reads_back_as_it_was);
    suite_add_tcase(s, tc);
    return s;
}
