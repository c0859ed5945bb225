/* Unit tests of headers.c: Content-Type media types, gzip in Accept-Encoding, the entity
 * tags If-None-Match and If-Match list, the version a conditional write asks for, and
 * Accept's choice between JSON and CSV. */
#include <check.h>
#include <string.h>

#include "leadloop/headers.h"
#include "suites.h"

START_TEST(media_type_ignores_case_blanks_and_parameters)
{
    ck_assert(headers_media_type_is("application/json", "application/json"));
    ck_assert(headers_media_type_is("Application/JSON", "application/json"));
    ck_assert(headers_media_type_is("  application/json  ", "application/json"));
    ck_assert(headers_media_type_is("application/json; charset=utf-8", "application/json"));
    ck_assert(headers_media_type_is("application/json;charset=utf-8", "application/json"));
    ck_assert(headers_media_type_is("text/csv ;header=present", "text/csv"));

    ck_assert(!headers_media_type_is("", "application/json"));
    ck_assert(!headers_media_type_is("application/jsonx", "application/json"));
    ck_assert(!headers_media_type_is("application/json-patch+json", "application/json"));
    ck_assert(!headers_media_type_is("application/merge-patch+json", "application/json"));
    ck_assert(!headers_media_type_is("application/js", "application/json"));
    ck_assert(!headers_media_type_is("text/json", "application/json"));
    ck_assert(!headers_media_type_is("application/json x", "application/json"));
    ck_assert(!headers_media_type_is("\tapplication/json", "application/json"));
}
END_TEST

START_TEST(accept_encoding_takes_gzip_at_a_q_above_zero)
{
    ck_assert(headers_accepts_gzip("gzip"));
    ck_assert(headers_accepts_gzip("gzip, deflate, br"));
    ck_assert(headers_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
    ck_assert(headers_accepts_gzip("x-gzip"));
    ck_assert(headers_accepts_gzip("*"));
    ck_assert(headers_accepts_gzip("identity, *;q=0.1"));
    ck_assert(headers_accepts_gzip("\tgzip ; q=0.001"));
    ck_assert(headers_accepts_gzip("gzip;q=0, gzip;q=1")); /* the better of the two */

    ck_assert(!headers_accepts_gzip(NULL));
    ck_assert(!headers_accepts_gzip(""));
    ck_assert(!headers_accepts_gzip("identity"));
    ck_assert(!headers_accepts_gzip("deflate, br"));
    ck_assert(!headers_accepts_gzip("gzip;q=0"));
    ck_assert(!headers_accepts_gzip("gzip; q=0.000"));
    ck_assert(!headers_accepts_gzip("gzip;Q=0"));
    ck_assert(!headers_accepts_gzip("*;q=0"));
    ck_assert(!headers_accepts_gzip("gzip;q=0, *")); /* named: its own q decides */
    ck_assert(!headers_accepts_gzip("gzipx, xgzip, gzi"));
    ck_assert(!headers_accepts_gzip("gzipgzipgzipgzipgzip"));
}
END_TEST

START_TEST(if_none_match_lists_a_tag_or_any)
{
    const char *tag = "\"abc\"";
    ck_assert(headers_if_none_match_lists("\"abc\"", tag));
    ck_assert(headers_if_none_match_lists("*", tag));
    ck_assert(headers_if_none_match_lists("W/\"abc\"", tag)); /* compared weakly */
    ck_assert(headers_if_none_match_lists("\"x\", \"abc\"", tag));
    ck_assert(headers_if_none_match_lists("\"x,y\",\"abc\"", tag)); /* a comma inside a tag */
    ck_assert(headers_if_none_match_lists(" \"abc\" ,", tag));

    ck_assert(!headers_if_none_match_lists(NULL, tag));
    ck_assert(!headers_if_none_match_lists("", tag));
    ck_assert(!headers_if_none_match_lists("\"abcd\"", tag));
    ck_assert(!headers_if_none_match_lists("\"ab\"", tag));
    ck_assert(!headers_if_none_match_lists("abc", tag));
    ck_assert(!headers_if_none_match_lists("\"abc", tag));
    ck_assert(!headers_if_none_match_lists("\"abc\"x", tag));
    ck_assert(!headers_if_none_match_lists("\"abc.gz\"", tag));
    ck_assert(!headers_if_none_match_lists("\"x,\"abc\"", tag)); /* "x," then abc" */
}
END_TEST

START_TEST(if_match_lists_a_version_or_any)
{
    ck_assert(headers_if_match_lists("\"3\"", 3));
    ck_assert(headers_if_match_lists("*", 3));
    ck_assert(headers_if_match_lists("\"1\", \"3\"", 3));
    ck_assert(headers_if_match_lists("\"1\",\"3\"", 3));
    ck_assert(headers_if_match_lists(" ,\"3\" ,", 3));
    ck_assert(headers_if_match_lists("\"1\", *", 3));
    ck_assert(headers_if_match_lists("\"2147483647\"", 2147483647L));

    ck_assert(!headers_if_match_lists("", 3));
    ck_assert(!headers_if_match_lists(",, ,", 3));
    ck_assert(!headers_if_match_lists("\"4\"", 3));
    ck_assert(!headers_if_match_lists("\"33\"", 3));
    ck_assert(!headers_if_match_lists("\"3", 3));
    ck_assert(!headers_if_match_lists("3", 3));
    ck_assert(!headers_if_match_lists("W/\"3\"", 3)); /* weak tags never match (RFC 9110) */
    ck_assert(!headers_if_match_lists("\"3\"x", 3));
    ck_assert(!headers_if_match_lists("\"1\" \"3\"", 3)); /* two tags need a comma */
}
END_TEST

START_TEST(if_match_version_for_a_conditional_write)
{
    long v = -7;
    ck_assert_int_eq(headers_if_match_version(NULL, &v), 0);
    ck_assert_int_eq(headers_if_match_version("*", &v), 0);
    ck_assert_int_eq(v, -7);
    ck_assert_int_eq(headers_if_match_version("\"1\"", &v), 1);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(headers_if_match_version("\"2147483647\"", &v), 1);
    ck_assert_int_eq(v, 2147483647L);

    static const char *const never[] = {
        "", "\"\"", "\"", "\"0\"", "\"-1\"", "\"2147483648\"", "\"1\", \"2\"", "W/\"1\"", "1",
        "\"1", "1\"", "\" 1\"", "\"1 \"", "\"0x1\"", "\"1e3\"", " \"1\"", "* ",
        "\"99999999999999999999\"", "\"12345678901234567890123\"",
        /* found by fuzz_headers: read as version 1 here, while headers_if_match_lists (and
         * RFC 9110's strong comparison) say they are not the tag "1" */
        "\"01\"", "\"+1\"", "\"0000000000000000042\""};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        ck_assert_msg(headers_if_match_version(never[i], &v) == -1,
                      "If-Match [%s]: expected -1 (never matches)", never[i]);
}
END_TEST

START_TEST(accept_picks_json_or_csv)
{
    struct {
        const char *accept;
        int want;
    } cases[] = {
        {NULL, 0},
        {"", 0},
        {"application/json", 0},
        {"text/csv", 1},
        {"TEXT/CSV", 1},
        {"*/*", 0},
        {"text/*", 1},
        {"application/*", 0},
        {"text/csv, application/json", 1},
        {"application/json, text/csv", 0},
        {"application/json;q=0.5, text/csv", 1},
        {"text/csv;q=0.1, application/json;q=0.2", 0},
        {"text/csv;q=0, */*", 0},
        {"text/csv; q=0.9, */*", 0},
        {"*/*, text/csv;q=0.9", 0}, /* JSON keeps the q=1 of any/any */
        {"*/*;q=0.5, text/csv;q=0.9", 1},
        {"text/*;q=0.3, */*;q=0.5", 0},
        {"text/html, text/csv;q=0.8", 1},
        {"  ,, text/csv ,", 1},
        {"text/csv;charset=utf-8;q=0.7", 1},
        {"text/csv;Q=0.7, application/json;Q=0.6", 1},
        {"text/html", -1},
        {"image/png, text/plain", -1},
        {"application/json;q=0, text/csv;q=0", -1},
        {"text/csv;q=0", -1},
        {"*/*;q=0", -1},
        {",", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = headers_accept_csv(cases[i].accept);
        ck_assert_msg(got == cases[i].want, "Accept [%s]: expected %d, got %d",
                      cases[i].accept ? cases[i].accept : "(absent)", cases[i].want, got);
    }
}
END_TEST

/* Accept and Accept-Encoding are read by one list reader, and the two kinds of tag list
 * by one tag reader: the same blanks separate, and If-Match alone refuses a weak tag. */
START_TEST(the_lists_read_alike)
{
    ck_assert_int_eq(headers_accept_csv("application/json;q=0.5,\ttext/csv\t;q=0.9"), 1);
    ck_assert(!headers_accepts_gzip("br,\tgzip\t;q=0"));
    ck_assert(headers_if_match_lists("\"1\",\t\"7\"", 7));
    ck_assert(!headers_if_match_lists("W/\"7\"", 7));
    ck_assert(headers_if_none_match_lists("W/\"7\"", "\"7\""));
    ck_assert(!headers_if_match_lists("\"7,8\"", 8));
}
END_TEST

START_TEST(accept_with_a_type_longer_than_its_room)
{
    char accept[300];
    memset(accept, 'x', 200);
    strcpy(accept + 200, ", text/csv");
    ck_assert_int_eq(headers_accept_csv(accept), 1);
    memset(accept, 'x', 299);
    accept[299] = '\0';
    ck_assert_int_eq(headers_accept_csv(accept), -1);
}
END_TEST

Suite *headers_suite(void)
{
    Suite *s = suite_create("headers");
    TCase *tc = tcase_create("headers");
    tcase_add_test(tc, media_type_ignores_case_blanks_and_parameters);
    tcase_add_test(tc, accept_encoding_takes_gzip_at_a_q_above_zero);
    tcase_add_test(tc, if_none_match_lists_a_tag_or_any);
    tcase_add_test(tc, if_match_lists_a_version_or_any);
    tcase_add_test(tc, if_match_version_for_a_conditional_write);
    tcase_add_test(tc, accept_picks_json_or_csv);
    tcase_add_test(tc, accept_with_a_type_longer_than_its_room);
    tcase_add_test(tc, the_lists_read_alike);
    suite_add_tcase(s, tc);
    return s;
}
