/* Unit tests of jw.c: JSON text writing, above all string escaping. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/jw.h"
#include "suites.h"

/* Writes s as a JSON string and returns the text (caller frees). */
static char *quoted(const char *s, size_t n)
{
    struct jw w;
    size_t len;
    jw_init(&w, 4);
    jw_str(&w, s, n);
    return jw_take(&w, &len);
}

START_TEST(plain_strings_are_copied)
{
    static const char in[] = "Acme, Inc. \xF0\x9F\x98\x80 caf\xC3\xA9";
    char *t = quoted(in, sizeof in - 1);
    ck_assert_str_eq(t, "\"Acme, Inc. \xF0\x9F\x98\x80 caf\xC3\xA9\"");
    free(t);
    t = quoted("", 0);
    ck_assert_str_eq(t, "\"\"");
    free(t);
}
END_TEST

START_TEST(specials_are_escaped_and_parse_back)
{
    static const char in[] = "a\"b\\c\nd\te\rf\x01g\x1fh'</script>";
    char *t = quoted(in, sizeof in - 1);
    ck_assert_str_eq(t, "\"a\\\"b\\\\c\\nd\\te\\rf\\u0001g\\u001fh'</script>\"");
    json_error_t e;
    json_t *j = json_loads(t, JSON_DECODE_ANY, &e);
    ck_assert_msg(j && json_is_string(j), "not JSON: %s (%s)", t, e.text);
    ck_assert_str_eq(json_string_value(j), in);
    json_decref(j);
    free(t);
}
END_TEST

/* A text that fills the buffer exactly: the NUL moves it, and the moved text is handed
 * over (it was the freed one; the sanitizer build sees the difference). */
START_TEST(a_full_buffer_is_handed_over_after_it_grows)
{
    struct jw w;
    size_t len;
    jw_init(&w, 4);
    jw_lit(&w, "abcd");
    char *t = jw_take(&w, &len);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(len, 4);
    ck_assert_str_eq(t, "abcd");
    free(t);
}
END_TEST

START_TEST(objects_get_their_commas)
{
    struct jw w;
    size_t len;
    jw_init(&w, 1);
    jw_lit(&w, "{\"a\":[");
    jw_lit(&w, "{");
    jw_lit(&w, "}");
    jw_lit(&w, "]}");
    char *t = jw_take(&w, &len);
    ck_assert_str_eq(t, "{\"a\":[{}]}");
    ck_assert_uint_eq(len, strlen(t));
    free(t);
}
END_TEST

START_TEST(the_buffer_grows_from_zero_and_formats)
{
    struct jw w = {0};
    size_t len;
    char *t;
    jw_printf(&w, "%s=%d;", "a", 1);
    ck_assert_str_eq(jw_cstr(&w), "a=1;");
    ck_assert_uint_eq(w.len, 4);
    for (int i = 0; i < 1000; i++)
        jw_printf(&w, "%04d", i);
    ck_assert_uint_eq(w.len, 4 + 4000);
    ck_assert(!strncmp(jw_cstr(&w) + 4 + 4 * 999, "0999", 5));
    jw_reset(&w);
    ck_assert_str_eq(jw_cstr(&w), "");
    jw_raw(&w, "x\0y", 3); /* bytes, NUL included */
    ck_assert_uint_eq(w.len, 3);
    ck_assert(jw_reserve(&w, 100000));
    ck_assert_uint_ge(w.cap, 100003);
    t = jw_take(&w, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert(!memcmp(t, "x\0y\0", 4));
    free(t);
    jw_free(&w); /* after jw_take: nothing left to free */
    ck_assert(w.p == NULL && w.len == 0 && w.cap == 0);
    jw_lit(&w, "again"); /* reusable after jw_free */
    ck_assert_str_eq(jw_cstr(&w), "again");
    jw_free(&w);
}
END_TEST

START_TEST(a_failed_buffer_stays_failed)
{
    struct jw w = {0};
    jw_lit(&w, "abc");
    w.oom = true;
    jw_lit(&w, "def");
    jw_printf(&w, "%d", 7);
    ck_assert(!jw_reserve(&w, 1));
    ck_assert(jw_cstr(&w) == NULL);
    ck_assert_uint_eq(w.len, 3);
    size_t len;
    ck_assert(jw_take(&w, &len) == NULL);
    ck_assert(w.p == NULL);
}
END_TEST

Suite *jw_suite(void)
{
    Suite *s = suite_create("jw");
    TCase *tc = tcase_create("jw");
    tcase_add_test(tc, plain_strings_are_copied);
    tcase_add_test(tc, specials_are_escaped_and_parse_back);
    tcase_add_test(tc, objects_get_their_commas);
    tcase_add_test(tc, a_full_buffer_is_handed_over_after_it_grows);
    tcase_add_test(tc, the_buffer_grows_from_zero_and_formats);
    tcase_add_test(tc, a_failed_buffer_stays_failed);
    suite_add_tcase(s, tc);
    return s;
}
