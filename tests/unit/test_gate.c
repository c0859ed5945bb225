/* gate_check_head: the checks a connection's first request head passes before
 * libmicrohttpd sees it. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/gate.h"
#include "suites.h"

/* The verdict on s: LL_OK or an error; -1 when more bytes are needed. */
static int verdict(const char *s, size_t len)
{
    struct gate_head h;
    if (!gate_check_head(s, len, &h))
        return -1;
    return (int)h.err;
}
#define V(s) verdict((s), strlen(s))

static char *filled(size_t n, const char *before, const char *after)
{
    size_t b = strlen(before), a = strlen(after);
    char *s = malloc(b + n + a + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, before, b);
    memset(s + b, 'a', n);
    memcpy(s + b + n, after, a + 1);
    return s;
}

START_TEST(whole_heads_pass)
{
    struct gate_head h;
    static const char get[] =
        "GET /v1/leads?limit=5 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nBODY";
    ck_assert(gate_check_head(get, sizeof get - 1, &h));
    ck_assert_int_eq(h.err, LL_OK);
    ck_assert_uint_eq(h.head_len, sizeof get - 1 - 4);
    ck_assert_int_eq(V("\r\nPOST / HTTP/1.0\r\n\r\n"), LL_OK); /* an empty line before: ignored */
    ck_assert_int_eq(V("GET / HTTP/1.1\nHost: x\n\n"), LL_OK); /* bare LF, as RFC 9112 allows */
    ck_assert_int_eq(V("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), LL_OK);
    ck_assert_int_eq(V("GET / HTTP/1.1\r\nX-Tab:\ta\tb\r\n\r\n"), LL_OK);
}
END_TEST

START_TEST(partial_heads_wait)
{
    ck_assert_int_eq(V(""), -1);
    ck_assert_int_eq(V("GE"), -1);
    ck_assert_int_eq(V("GET / HTTP/1.1\r\n"), -1);
    ck_assert_int_eq(V("GET / HTTP/1.1\r\nHost: x\r\n"), -1);
    ck_assert_int_eq(V("GET / HTTP/1.1\r\nHost: x\r\n\r"), -1);
}
END_TEST

START_TEST(bad_request_lines)
{
    ck_assert_int_eq(V("GET / HTTP/2.0\r\n\r\n"), LL_E_VERSION);
    ck_assert_int_eq(V("GET / HTTP/0.9\r\n\r\n"), LL_E_VERSION);
    ck_assert_int_eq(V("GET / HTTP/1.1x\r\n\r\n"), LL_E_MALFORMED);
    ck_assert_int_eq(V("GET / http/1.1\r\n\r\n"), LL_E_MALFORMED);
    ck_assert_int_eq(V("GET /\r\n\r\n"), LL_E_MALFORMED);
    ck_assert_int_eq(V("GET  / HTTP/1.1\r\n\r\n"), LL_E_MALFORMED);
    ck_assert_int_eq(V("G(T / HTTP/1.1\r\n\r\n"), LL_E_MALFORMED);
    ck_assert_int_eq(V("GET /a b HTTP/1.1\r\n\r\n"), LL_E_MALFORMED);
    ck_assert_int_eq(V("GET /\x01 HTTP/1.1\r\n\r\n"), LL_E_MALFORMED);
}
END_TEST

START_TEST(limits)
{
    char *s = filled(GATE_TARGET_MAX, "GET /", " HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(V(s), LL_E_URI_TOO_LONG); /* target of 8193 bytes */
    free(s);
    s = filled(GATE_TARGET_MAX - 1, "GET /", " HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(V(s), LL_OK); /* exactly 8192 */
    free(s);
    s = filled(GATE_TARGET_MAX + 100, "GET /", ""); /* no line end yet, but too long already */
    ck_assert_int_eq(V(s), LL_E_URI_TOO_LONG);
    free(s);
    s = filled(GATE_HEAD_MAX, "GET / HTTP/1.1\r\nX: ", "\r\n\r\n");
    ck_assert_int_eq(V(s), LL_E_HEADERS_TOO_LARGE);
    free(s);

    char many[4096] = "GET /?a=1", *p = many + strlen(many);
    for (int i = 0; i < GATE_PARAMS_MAX; i++, p += 4)
        memcpy(p, "&b=2", 4);
    strcpy(p, " HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(V(many), LL_E_URI_TOO_LONG); /* 101 parameters */

    char heads[4096] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i <= GATE_HEADERS_MAX; i++)
        strcat(heads, "X: 1\r\n");
    strcat(heads, "\r\n");
    ck_assert_int_eq(V(heads), LL_E_HEADERS_TOO_LARGE); /* 101 headers */
}
END_TEST

START_TEST(bad_header_lines)
{
    ck_assert_int_eq(V("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), LL_E_MALFORMED); /* folded */
    ck_assert_int_eq(V("GET / HTTP/1.1\r\nX : a\r\n\r\n"), LL_E_MALFORMED);      /* space */
    ck_assert_int_eq(V("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), LL_E_MALFORMED);    /* no colon */
    ck_assert_int_eq(V("GET / HTTP/1.1\r\n: empty\r\n\r\n"), LL_E_MALFORMED);    /* no name */
    ck_assert_int_eq(V("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), LL_E_MALFORMED);    /* bare CR */
    ck_assert_int_eq(verdict("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26), LL_E_MALFORMED); /* NUL */
}
END_TEST

Suite *gate_suite(void)
{
    Suite *s = suite_create("gate");
    TCase *t = tcase_create("head");
    tcase_add_test(t, whole_heads_pass);
    tcase_add_test(t, partial_heads_wait);
    tcase_add_test(t, bad_request_lines);
    tcase_add_test(t, limits);
    tcase_add_test(t, bad_header_lines);
    suite_add_tcase(s, t);
    return s;
}
