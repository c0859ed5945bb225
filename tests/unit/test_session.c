/* The pure parts of sign-in (server/session.c, server/password.c): session and invitation
 * tokens, the session cookie in a Cookie header, the CSRF token, password rules and
 * Argon2id hashes. */
#include <check.h>
#include <string.h>

#include "leadloop/password.h"
#include "leadloop/session.h"
#include "suites.h"

static const char ws[] = "0b6f3c1e-5d2a-4e8b-9a51-6c2f0d7e4b13";

START_TEST(a_new_token_reads_back_with_its_workspace_and_hash)
{
    char token[SESSION_TOKEN_LEN + 1], hash[65], ws_out[37], hash_out[65];
    ck_assert(session_token_new("lls_", ws, token, hash));
    ck_assert_int_eq((int)strlen(token), SESSION_TOKEN_LEN);
    ck_assert(!strncmp(token, "lls_0b6f3c1e5d2a4e8b9a516c2f0d7e4b13_", 37));
    ck_assert(session_token_parse("lls_", token, strlen(token), ws_out, hash_out));
    ck_assert_str_eq(ws_out, ws);
    ck_assert_str_eq(hash_out, hash);
    /* an invitation's token is not a session's, and the other way round */
    ck_assert(!session_token_parse("lli_", token, strlen(token), ws_out, hash_out));
    /* two tokens differ */
    char other[SESSION_TOKEN_LEN + 1], other_hash[65];
    ck_assert(session_token_new("lls_", ws, other, other_hash));
    ck_assert_str_ne(other, token);
}
END_TEST

START_TEST(malformed_tokens_are_refused)
{
    char token[SESSION_TOKEN_LEN + 1], hash[65], w[37], h[65];
    ck_assert(session_token_new("lls_", ws, token, hash));
    ck_assert(!session_token_parse("lls_", token, strlen(token) - 1, w, h)); /* short */
    char bad[SESSION_TOKEN_LEN + 1];
    memcpy(bad, token, sizeof bad);
    bad[10] = 'G'; /* not hex in the workspace */
    ck_assert(!session_token_parse("lls_", bad, strlen(bad), w, h));
    memcpy(bad, token, sizeof bad);
    bad[36] = '-'; /* no separator */
    ck_assert(!session_token_parse("lls_", bad, strlen(bad), w, h));
    memcpy(bad, token, sizeof bad);
    bad[50] = '\''; /* not base64url */
    ck_assert(!session_token_parse("lls_", bad, strlen(bad), w, h));
    ck_assert(!session_token_parse("lls_", "", 0, w, h));
}
END_TEST

START_TEST(the_session_cookie_is_found_among_others)
{
    size_t n = 0;
    const char *v = session_cookie("theme=dark; ll_session=lls_abc; other=1", &n);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq((int)n, 7);
    ck_assert(!strncmp(v, "lls_abc", n));
    v = session_cookie("ll_session=\"quoted\"", &n);
    ck_assert(v && n == 6 && !strncmp(v, "quoted", 6));
    ck_assert_ptr_null(session_cookie("xll_session=1; ll_sessionx=2", &n));
    ck_assert_ptr_null(session_cookie("ll_session", &n));
    ck_assert_ptr_null(session_cookie(NULL, &n));
    ck_assert_ptr_null(session_cookie("", &n));
}
END_TEST

START_TEST(the_csrf_token_is_fixed_per_session_and_differs_between_sessions)
{
    char t1[SESSION_TOKEN_LEN + 1], t2[SESSION_TOKEN_LEN + 1], h[65];
    char c1[SESSION_CSRF_LEN + 1], c1b[SESSION_CSRF_LEN + 1], c2[SESSION_CSRF_LEN + 1];
    ck_assert(session_token_new("lls_", ws, t1, h));
    ck_assert(session_token_new("lls_", ws, t2, h));
    session_csrf(t1, c1);
    session_csrf(t1, c1b);
    session_csrf(t2, c2);
    ck_assert_int_eq((int)strlen(c1), SESSION_CSRF_LEN);
    ck_assert_str_eq(c1, c1b);
    ck_assert_str_ne(c1, c2);
    ck_assert(strstr(t1, c1) == NULL); /* no part of the session token */
}
END_TEST

START_TEST(password_rules)
{
    ck_assert_ptr_null(password_weakness("correct horse", "a@b.example"));
    ck_assert_ptr_nonnull(password_weakness("short", NULL));
    ck_assert_ptr_nonnull(password_weakness("ÄÖÜäöüßé", NULL)); /* 8 characters, 16 bytes */
    ck_assert_ptr_null(password_weakness("ÄÖÜäöüßéàç", NULL));  /* 10 characters */
    ck_assert_ptr_nonnull(password_weakness("Pat@People.Example", "pat@people.example"));
    char longest[PASSWORD_MAX_BYTES + 2];
    memset(longest, 'x', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    ck_assert_ptr_nonnull(password_weakness(longest, NULL));
}
END_TEST

START_TEST(argon2id_hashes_verify_the_password_and_nothing_else)
{
    char hash[PASSWORD_HASH_MAX];
    ck_assert(password_init());
    ck_assert(password_hash("correct horse battery", hash, 1000));
    ck_assert(!strncmp(hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31));
    ck_assert_int_eq(password_verify(hash, "correct horse battery", 1000), 1);
    ck_assert_int_eq(password_verify(hash, "correct horse batterY", 1000), 0);
    ck_assert_int_eq(password_verify(NULL, "anything", 1000), 0); /* the dummy: never 1 */
    ck_assert_int_eq(password_verify("$2y$10$bcrypt", "anything", 1000), -1);
}
END_TEST

Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("session");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, a_new_token_reads_back_with_its_workspace_and_hash);
    tcase_add_test(tc, malformed_tokens_are_refused);
    tcase_add_test(tc, the_session_cookie_is_found_among_others);
    tcase_add_test(tc, the_csrf_token_is_fixed_per_session_and_differs_between_sessions);
    tcase_add_test(tc, password_rules);
    tcase_add_test(tc, argon2id_hashes_verify_the_password_and_nothing_else);
    suite_add_tcase(s, tc);
    return s;
}
