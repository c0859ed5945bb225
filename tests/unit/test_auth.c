/* Unit tests of the pure parts of auth.c: parsing `Authorization: Bearer`, generating and
 * hashing keys, and role names. auth_resolve and auth_key_insert need PostgreSQL and are
 * covered by the HTTP tests. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/auth.h"
#include "leadloop/util.h"
#include "suites.h"

/* A well-formed key: "llk_" and 43 base64url characters, '-' and '_' included. */
#define KEY "llk_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk-_0123"
/* sha256sum of KEY, computed outside this code */
#define KEY_SHA256 "3c454eccd4ac07d46050629b941f34366840d6f03b782b96f22945523545bef3"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const struct {
    const char *header;
    size_t offset; /* where the secret starts */
} good_headers[] = {
    {"Bearer " KEY, 7},     {"bearer " KEY, 7},       {"BEARER " KEY, 7},
    {"Bearer    " KEY, 10}, {"Bearer " KEY "   ", 7},
};

START_TEST(bearer_accepted)
{
    const char *h = good_headers[_i].header;
    const char *secret = NULL;

    ck_assert_msg(auth_parse_bearer(h, &secret), "'%s': expected accepted, got rejected", h);
    ck_assert_ptr_eq(secret, h + good_headers[_i].offset);
    ck_assert_int_eq(strncmp(secret, KEY, AUTH_SECRET_LEN), 0);
}
END_TEST

static const char *const bad_headers[] = {
    KEY,                                                      /* no scheme */
    "Basic " KEY,                                             /* other scheme */
    "Basic dXNlcjpwYXNz",                                     /* other scheme */
    "Bearer",                                                 /* no credentials */
    "Bearer ",                                                /* empty credentials */
    "Bearer" KEY,                                             /* no space */
    "Bearer\t" KEY,                                           /* tab is not the separator */
    "Bearer " KEY "A",                                        /* 48 characters */
    "Bearer llk_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk-_012",  /* 46 characters */
    "Bearer llk_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk+/0123", /* base64, not base64url */
    "Bearer llk_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij=-_0123", /* padding */
    "Bearer llk_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij.-_0123", /* dot */
    "Bearer llk_ABCDEFGHIJKLMNOPQRSTUVWXYZabcde ghijk-_0123", /* space inside */
    "Bearer llx_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk-_0123", /* wrong prefix */
    "Bearer LLK_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk-_0123", /* prefix is lower case */
    "Bearer " KEY " " KEY,                                    /* two keys */
    "",
};

START_TEST(bearer_rejected)
{
    const char *secret = "untouched";

    ck_assert_msg(!auth_parse_bearer(bad_headers[_i], &secret),
                  "'%s': expected rejected, got accepted", bad_headers[_i]);
    ck_assert_str_eq(secret, "untouched");
}
END_TEST

START_TEST(bearer_null)
{
    const char *secret = "untouched";

    ck_assert(!auth_parse_bearer(NULL, &secret));
    ck_assert_str_eq(secret, "untouched");
}
END_TEST

START_TEST(key_hash_known)
{
    char hash[65];

    auth_key_hash_hex(KEY, hash);
    ck_assert_str_eq(hash, KEY_SHA256);
}
END_TEST

START_TEST(key_new)
{
    char secret[AUTH_SECRET_LEN + 1], prefix[AUTH_PREFIX_LEN + 1], hash[65], check[65];
    unsigned char digest[32];
    const char *parsed = NULL;
    char header[64];

    ck_assert(auth_key_new(secret, prefix, hash));
    ck_assert_uint_eq(strlen(secret), AUTH_SECRET_LEN);
    ck_assert_uint_eq(AUTH_SECRET_LEN, 47);
    ck_assert_int_eq(strncmp(secret, "llk_", 4), 0);
    ck_assert_msg(strspn(secret + 4, b64url_alphabet) == 43, "'%s' is not llk_ + base64url",
                  secret);
    ck_assert_uint_eq(strlen(prefix), AUTH_PREFIX_LEN);
    ck_assert_int_eq(strncmp(prefix, secret, AUTH_PREFIX_LEN), 0);

    auth_key_hash_hex(secret, check);
    ck_assert_str_eq(hash, check);
    util_sha256(secret, strlen(secret), digest);
    util_hex(digest, sizeof digest, check);
    ck_assert_str_eq(hash, check);

    /* a new key is one the parser accepts */
    snprintf(header, sizeof header, "Bearer %s", secret);
    ck_assert(auth_parse_bearer(header, &parsed));
    ck_assert_str_eq(parsed, secret);
}
END_TEST

START_TEST(key_new_differs)
{
    char s1[AUTH_SECRET_LEN + 1], p1[AUTH_PREFIX_LEN + 1], h1[65];
    char s2[AUTH_SECRET_LEN + 1], p2[AUTH_PREFIX_LEN + 1], h2[65];

    ck_assert(auth_key_new(s1, p1, h1));
    ck_assert(auth_key_new(s2, p2, h2));
    ck_assert_str_ne(s1, s2);
    ck_assert_str_ne(p1, p2); /* 48 random bits each */
    ck_assert_str_ne(h1, h2);
}
END_TEST

START_TEST(roles)
{
    static const struct {
        const char *name;
        int role;
    } known[] = {{"admin", ROLE_ADMIN},
                 {"marketing", ROLE_MARKETING},
                 {"sales", ROLE_SALES},
                 {"readonly", ROLE_READONLY}};

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        ck_assert_int_eq(auth_role_parse(known[i].name), known[i].role);
        ck_assert_str_eq(auth_role_name(known[i].role), known[i].name);
        ck_assert_int_eq(auth_role_parse(auth_role_name(known[i].role)), known[i].role);
    }
    ck_assert_int_eq(auth_role_parse("root"), 0);
    ck_assert_int_eq(auth_role_parse("Admin"), 0);
    ck_assert_int_eq(auth_role_parse("admin "), 0);
    ck_assert_int_eq(auth_role_parse(""), 0);
    ck_assert_int_eq(auth_role_parse(NULL), 0);
    ck_assert_str_eq(auth_role_name(0), "none");
    ck_assert_str_eq(auth_role_name(ROLE_ADMIN | ROLE_SALES), "none");
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("bearer");

    tcase_add_loop_test(tc, bearer_accepted, 0, N(good_headers));
    tcase_add_loop_test(tc, bearer_rejected, 0, N(bad_headers));
    tcase_add_test(tc, bearer_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_test(tc, key_hash_known);
    tcase_add_test(tc, key_new);
    tcase_add_test(tc, key_new_differs);
    tcase_add_test(tc, roles);
    suite_add_tcase(s, tc);
    return s;
}
