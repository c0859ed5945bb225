/* Unit tests of http_request_id_ok (request.c): which X-Request-Id values are kept as sent. */
#include <check.h>
#include <string.h>

#include "leadloop/request.h"
#include "suites.h"

START_TEST(request_id_accepted)
{
    char longest[129];

    ck_assert(http_request_id_ok("a"));
    ck_assert(http_request_id_ok("0"));
    ck_assert(http_request_id_ok("req-1"));
    ck_assert(http_request_id_ok("6f1c2b1e-8d4e-4b7a-9c3d-1e2f3a4b5c6d"));
    ck_assert(http_request_id_ok("trace:abc.DEF_123-x"));
    ck_assert(
        http_request_id_ok("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"));
    memset(longest, 'x', 128);
    longest[128] = '\0';
    ck_assert_msg(http_request_id_ok(longest), "128 characters: expected accepted, got rejected");
}
END_TEST

static const char *const bad_ids[] = {
    "",    "a b", " a",   "a ",    "a\"b", "a'b", "a\nb",     "a\rb",  "a\tb", "a/b", "a\\b", "a;b",
    "a,b", "a=b", "a<b>", "a%20b", "a+b",  "a@b", "\xc3\xa9", "a\x7f", "{id}", "a#b", "a?b",  "a*b",
};

START_TEST(request_id_rejected)
{
    ck_assert_msg(!http_request_id_ok(bad_ids[_i]), "'%s': expected rejected, got accepted",
                  bad_ids[_i]);
}
END_TEST

START_TEST(request_id_too_long_or_null)
{
    char too_long[130];

    memset(too_long, 'x', 129);
    too_long[129] = '\0';
    ck_assert_msg(!http_request_id_ok(too_long), "129 characters: expected rejected, got accepted");
    ck_assert(!http_request_id_ok(NULL));
}
END_TEST

Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("request-id");

    tcase_add_test(tc, request_id_accepted);
    tcase_add_loop_test(tc, request_id_rejected, 0, (int)(sizeof bad_ids / sizeof bad_ids[0]));
    tcase_add_test(tc, request_id_too_long_or_null);
    suite_add_tcase(s, tc);
    return s;
}
