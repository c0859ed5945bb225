/* Unit tests of uri.c: percent-decoding of path segments and query arguments, each escape
 * decoded once ("%252F" is the literal "%2F"), '+' left alone, malformed escapes kept and
 * reported, %00 refused in a path segment. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/uri.h"
#include "suites.h"

/* in, the decoded bytes and their length (a NUL within counts), and whether a '%' started
 * no escape. */
static const struct {
    const char *in, *out;
    size_t len;
    bool malformed;
} cases[] = {
    {"", "", 0, false},
    {"plain", "plain", 5, false},
    {"a%2Fb", "a/b", 3, false},
    {"a%2fb", "a/b", 3, false},     /* hex digits of either case */
    {"%252F", "%2F", 3, false},     /* decoded once: the literal %2F */
    {"%25252F", "%252F", 5, false}, /* and again once */
    {"%25", "%", 1, false},
    {"a+b", "a+b", 3, false}, /* '+' is not a space here */
    {"%2B", "+", 1, false},
    {"%20x%20", " x ", 3, false},
    {"%41%62%63", "Abc", 3, false},
    {"%C3%A9t%C3%A9", "\xc3\xa9t\xc3\xa9", 5, false}, /* UTF-8 bytes, each its escape */
    {"%e2%82%ac", "\xe2\x82\xac", 3, false},
    {"%F0%9F%8E%89", "\xf0\x9f\x8e\x89", 4, false},
    {"dan%40example.com", "dan@example.com", 15, false},
    {"%", "%", 1, true}, /* malformed escapes stay as they are */
    {"50%", "50%", 3, true},
    {"%4", "%4", 2, true},
    {"%4g", "%4g", 3, true},
    {"%zz", "%zz", 3, true},
    {"%%41", "%A", 2, true},
    {"a%2", "a%2", 3, true},
    {"%00", "\0", 1, false}, /* a NUL byte, within the length */
    {"a%00b", "a\0b", 3, false},
    {"%FF", "\xff", 1, false}, /* bytes, whether UTF-8 or not: the caller checks */
};

START_TEST(decode_cases)
{
    char buf[64];
    bool malformed = !cases[_i].malformed;
    snprintf(buf, sizeof buf, "%s", cases[_i].in);
    size_t len = uri_decode(buf, &malformed);
    ck_assert_msg(len == cases[_i].len && !memcmp(buf, cases[_i].out, len) && buf[len] == '\0',
                  "'%s': expected %zu bytes '%s', got %zu bytes '%s'", cases[_i].in, cases[_i].len,
                  cases[_i].out, len, buf);
    ck_assert_msg(malformed == cases[_i].malformed, "'%s': expected malformed=%d, got %d",
                  cases[_i].in, cases[_i].malformed, malformed);
}
END_TEST

START_TEST(decode_without_flag)
{
    char buf[] = "50%25%";
    ck_assert_uint_eq(uri_decode(buf, NULL), 4);
    ck_assert_str_eq(buf, "50%%");
}
END_TEST

/* Decoding twice is what the scheme must never do: the second pass would turn an id's
 * literal "%2F" into "/". */
START_TEST(decoded_once_is_not_decoded_twice)
{
    char buf[] = "id%252F1";
    ck_assert_uint_eq(uri_decode(buf, NULL), 6);
    ck_assert_str_eq(buf, "id%2F1");
}
END_TEST

static const struct {
    const char *in, *out;
    bool ok;
} segments[] = {
    {"X-100", "X-100", true},
    {"a%2Fb", "a/b", true},
    {"%252F", "%2F", true},
    {"a+b", "a+b", true},
    {"caf%C3%A9", "caf\xc3\xa9", true},
    {"a%00b", NULL, false}, /* would cut the id short */
    {"%00", NULL, false},
    {"50%", NULL, false}, /* a % that starts no escape */
    {"%zz", NULL, false},
    {"a%2", NULL, false},
};

START_TEST(segment_cases)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", segments[_i].in);
    bool ok = uri_decode_segment(buf);
    ck_assert_msg(ok == segments[_i].ok, "'%s': expected %s, got %s", segments[_i].in,
                  segments[_i].ok ? "accepted" : "refused", ok ? "accepted" : "refused");
    if (ok)
        ck_assert_str_eq(buf, segments[_i].out);
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

Suite *uri_suite(void)
{
    Suite *s = suite_create("uri");
    TCase *tc = tcase_create("decode");
    tcase_add_loop_test(tc, decode_cases, 0, N(cases));
    tcase_add_test(tc, decode_without_flag);
    tcase_add_test(tc, decoded_once_is_not_decoded_twice);
    tcase_add_loop_test(tc, segment_cases, 0, N(segments));
    suite_add_tcase(s, tc);
    return s;
}
