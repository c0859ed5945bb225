/* Unit tests of util.c: base64url, UUID text, integer parsing, UTF-8 validation, SHA-256,
 * hex, random bytes and the clock. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/util.h"
#include "suites.h"

/* A string literal and its length without the terminating NUL, so that literals with an
 * embedded NUL keep it. */
#define BYTES(s) s, sizeof(s) - 1

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* --- base64url --- */

START_TEST(b64url_round_trip)
{
    const size_t n = (size_t)_i; /* 0..40 bytes */

    for (int trial = 0; trial < 16; trial++) {
        unsigned char in[40], back[40];
        char enc[4 * 14 + 1];
        size_t len;
        long got;

        ck_assert(util_random(in, n));
        memset(enc, '*', sizeof enc);
        len = util_b64url_encode(in, n, enc);
        /* no padding: 4 characters per 3 bytes, 2 or 3 for a final 1 or 2 */
        ck_assert_uint_eq(len, (4 * n + 2) / 3);
        ck_assert_uint_eq(strlen(enc), len);
        ck_assert_msg(strspn(enc, b64url_alphabet) == len,
                      "n=%zu: '%s' has a character outside"
                      " the base64url alphabet",
                      n, enc);
        got = util_b64url_decode(enc, len, back, sizeof back);
        ck_assert_msg(got == (long)n, "n=%zu: decoding '%s' expected %zu bytes, got %ld", n, enc, n,
                      got);
        ck_assert_msg(memcmp(in, back, n) == 0, "n=%zu: '%s' decodes to other bytes", n, enc);
    }
}
END_TEST

START_TEST(b64url_known_vectors)
{
    /* RFC 4648 section 10, without padding */
    static const struct {
        const char *plain, *encoded;
    } vectors[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
                   {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    static const unsigned char url_safe[] = {0xfb, 0xff, 0xbf};
    char enc[16];
    unsigned char dec[16];

    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n = strlen(vectors[i].plain);
        util_b64url_encode((const unsigned char *)vectors[i].plain, n, enc);
        ck_assert_str_eq(enc, vectors[i].encoded);
        ck_assert_int_eq(util_b64url_decode(enc, strlen(enc), dec, sizeof dec), (long)n);
        ck_assert_mem_eq(dec, vectors[i].plain, n);
    }
    /* the two characters where base64url differs from base64 ("+/8" and "+/+/") */
    util_b64url_encode(url_safe, 2, enc);
    ck_assert_str_eq(enc, "-_8");
    util_b64url_encode(url_safe, 3, enc);
    ck_assert_str_eq(enc, "-_-_");
}
END_TEST

static const struct {
    const char *in;
    size_t n;
    const char *why;
} b64url_bad[] = {
    {BYTES("Zm9v+A"), "'+' is base64, not base64url"},
    {BYTES("Zm9v/A"), "'/' is base64, not base64url"},
    {BYTES("Zg=="), "padding"},
    {BYTES("Zm 9v"), "space"},
    {BYTES("Zm9\n"), "newline"},
    {BYTES("Zg\0A"), "embedded NUL"},
    {BYTES("Z\xc3\xa9"), "non-ASCII"},
    {BYTES("Z"), "length % 4 == 1"},
    {BYTES("Zm9vY"), "length % 4 == 1"},
    {BYTES("Zh"), "non-canonical trailing bits (\"f\" is Zg)"},
    {BYTES("Zm9"), "non-canonical trailing bits (\"fo\" is Zm8)"},
    {BYTES("Zm9vY_"), "non-canonical trailing bits"},
};

START_TEST(b64url_decode_rejects)
{
    unsigned char out[16];
    long got = util_b64url_decode(b64url_bad[_i].in, b64url_bad[_i].n, out, sizeof out);

    ck_assert_msg(got == -1, "decoding '%s' (%s): expected -1, got %ld", b64url_bad[_i].in,
                  b64url_bad[_i].why, got);
}
END_TEST

START_TEST(b64url_decode_respects_cap)
{
    unsigned char out[4] = {0, 0, 0, 0x5a};

    ck_assert_int_eq(util_b64url_decode("Zm9v", 4, out, 2), -1);
    ck_assert_uint_eq(out[3], 0x5a);
    ck_assert_int_eq(util_b64url_decode("Zm9v", 4, out, 3), 3);
    ck_assert_mem_eq(out, "foo", 3);
}
END_TEST

/* --- UUID --- */

static const struct {
    const char *s;
    bool ok;
} uuids[] = {
    {"123e4567-e89b-12d3-a456-426614174000", true},
    {"123E4567-E89B-12D3-A456-426614174000", true},
    {"00000000-0000-0000-0000-000000000000", true},
    {"ffffffff-ffff-ffff-ffff-ffffffffffff", true},
    {"123e4567-e89b-12d3-a456-42661417400", false},   /* 35 characters */
    {"123e4567-e89b-12d3-a456-4266141740000", false}, /* 37 characters */
    {"123e4567-e89b-12d3-a456-426614174000 ", false}, /* trailing space */
    {"123e4567-e89b-12d3-a456-42661417400g", false},  /* not hex */
    {"123e4567-e89b-12d3-a456-42661417400-", false},  /* dash for a digit */
    {"123e4567e-89b-12d3-a456-426614174000", false},  /* dash moved */
    {"123e4567-e89b-12d3-a4564-26614174000", false},  /* dash moved */
    {"123e4567+e89b-12d3-a456-426614174000", false},  /* other separator */
    {"123e4567e89b12d3a456426614174000", false},      /* no dashes */
    {"{123e4567-e89b-12d3-a456-426614174000}", false},
    {"", false},
    {NULL, false},
};

START_TEST(is_uuid)
{
    const char *s = uuids[_i].s;

    ck_assert_msg(util_is_uuid(s) == uuids[_i].ok, "util_is_uuid(\"%s\"): expected %s, got %s",
                  s ? s : "NULL", uuids[_i].ok ? "true" : "false", uuids[_i].ok ? "false" : "true");
}
END_TEST

/* --- integers --- */

START_TEST(parse_long_accepts)
{
    long v = 0;

    ck_assert(util_parse_long("42", 0, 100, &v));
    ck_assert_int_eq(v, 42);
    ck_assert(util_parse_long("-5", -10, 10, &v));
    ck_assert_int_eq(v, -5);
    ck_assert(util_parse_long("0", 0, 0, &v));
    ck_assert_int_eq(v, 0);
    ck_assert(util_parse_long("1", 1, 500, &v)); /* both bounds are inclusive */
    ck_assert_int_eq(v, 1);
    ck_assert(util_parse_long("500", 1, 500, &v));
    ck_assert_int_eq(v, 500);
    ck_assert(util_parse_long("9223372036854775807", 0, LONG_MAX, &v));
    ck_assert_int_eq(v, LONG_MAX);
    ck_assert(util_parse_long("-9223372036854775808", LONG_MIN, 0, &v));
    ck_assert_int_eq(v, LONG_MIN);
}
END_TEST

static const struct {
    const char *s;
    long min, max;
} bad_longs[] = {
    {"0", 1, 500},
    {"501", 1, 500},
    {"-1", 0, 10},
    {" 1", 0, 10},
    {"\t1", 0, 10},
    {"1 ", 0, 10},
    {"1x", 0, 10},
    {"x1", 0, 10},
    {"0x10", 0, 100},
    {"1.5", 0, 10},
    {"", 0, 10},
    {"-", 0, 10},
    {"9223372036854775808", 0, LONG_MAX},
    {"-9223372036854775809", LONG_MIN, 0},
    {"99999999999999999999999", 0, LONG_MAX},
    {NULL, 0, 10},
};

START_TEST(parse_long_rejects)
{
    long v = 12345;
    const char *s = bad_longs[_i].s;

    ck_assert_msg(!util_parse_long(s, bad_longs[_i].min, bad_longs[_i].max, &v),
                  "util_parse_long(\"%s\", %ld, %ld): expected false, got true (%ld)",
                  s ? s : "NULL", bad_longs[_i].min, bad_longs[_i].max, v);
    ck_assert_msg(v == 12345, "\"%s\": *out changed on failure to %ld", s ? s : "NULL", v);
}
END_TEST

/* --- UTF-8 --- */

static const struct {
    const char *s;
    size_t n;
    bool ok;
    const char *what;
} utf8[] = {
    {BYTES(""), true, "empty"},
    {BYTES("plain ASCII ~"), true, "ASCII"},
    {BYTES("\xc2\x80"), true, "U+0080, smallest 2-byte"},
    {BYTES("\xc3\xa9"), true, "e acute"},
    {BYTES("\xdf\xbf"), true, "U+07FF, largest 2-byte"},
    {BYTES("\xe0\xa0\x80"), true, "U+0800, smallest 3-byte"},
    {BYTES("\xe2\x82\xac"), true, "euro sign"},
    {BYTES("\xed\x9f\xbf"), true, "U+D7FF, below the surrogates"},
    {BYTES("\xee\x80\x80"), true, "U+E000, above the surrogates"},
    {BYTES("\xef\xbf\xbf"), true, "U+FFFF"},
    {BYTES("\xf0\x90\x80\x80"), true, "U+10000, smallest 4-byte"},
    {BYTES("\xf0\x9f\x98\x80"), true, "emoji"},
    {BYTES("\xf4\x8f\xbf\xbf"), true, "U+10FFFF, largest"},
    {BYTES("Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), true, "mixed"},
    {BYTES("\xc0\x80"), false, "overlong NUL"},
    {BYTES("\xc1\xbf"), false, "overlong 2-byte"},
    {BYTES("\xe0\x80\x80"), false, "overlong 3-byte"},
    {BYTES("\xe0\x9f\xbf"), false, "overlong 3-byte (U+07FF)"},
    {BYTES("\xf0\x80\x80\x80"), false, "overlong 4-byte"},
    {BYTES("\xf0\x8f\xbf\xbf"), false, "overlong 4-byte (U+FFFF)"},
    {BYTES("\xed\xa0\x80"), false, "surrogate U+D800"},
    {BYTES("\xed\xbf\xbf"), false, "surrogate U+DFFF"},
    {BYTES("\xed\xa0\xbd\xed\xb8\x80"), false, "CESU-8 surrogate pair"},
    {BYTES("\xf4\x90\x80\x80"), false, "U+110000"},
    {BYTES("\xf5\x80\x80\x80"), false, "lead byte F5"},
    {BYTES("\xf7\xbf\xbf\xbf"), false, "lead byte F7"},
    {BYTES("\xf8\x88\x80\x80\x80"), false, "5-byte form"},
    {BYTES("\xfc\x84\x80\x80\x80\x80"), false, "6-byte form"},
    {BYTES("\xfe"), false, "FE"},
    {BYTES("\xff"), false, "FF"},
    {BYTES("\x80"), false, "lone continuation"},
    {BYTES("a\xbf"), false, "continuation after ASCII"},
    {BYTES("\xc3"), false, "truncated 2-byte"},
    {BYTES("\xe2\x82"), false, "truncated 3-byte"},
    {BYTES("\xf0\x9f\x98"), false, "truncated 4-byte"},
    {BYTES("a\xc3"), false, "truncated at the end"},
    {BYTES("\xe2\x82"
           "A"),
     false, "ASCII in place of a continuation"},
    {BYTES("\xc3\xa9\xc3"), false, "truncated after a valid one"},
    {BYTES("a\0b"), false, "embedded NUL"},
    {BYTES("\0"), false, "NUL alone"},
    {"\xc3\xa9", 1, false, "length cuts a character"},
    {"ab\xff", 2, true, "bytes beyond the length are not read"},
};

START_TEST(utf8_valid)
{
    bool got = util_utf8_valid(utf8[_i].s, utf8[_i].n);

    ck_assert_msg(got == utf8[_i].ok, "%s (%zu bytes): expected %s, got %s", utf8[_i].what,
                  utf8[_i].n, utf8[_i].ok ? "valid" : "invalid", got ? "valid" : "invalid");
}
END_TEST

/* --- hashing, hex, random, clock --- */

START_TEST(sha256_known_digests)
{
    unsigned char d[32];
    char hex[65];

    util_sha256("abc", 3, d);
    util_hex(d, sizeof d, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    util_sha256("", 0, d);
    util_hex(d, sizeof d, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    util_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
    util_hex(d, sizeof d, hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(hex)
{
    static const unsigned char in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof in + 2];

    memset(out, '*', sizeof out);
    util_hex(in, sizeof in, out);
    ck_assert_str_eq(out, "00017f80abff");
    ck_assert_int_eq(out[sizeof out - 1], '*'); /* writes exactly 2n+1 bytes */
    util_hex(in, 0, out);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(random_differs)
{
    unsigned char a[32], b[32];

    ck_assert(util_random(a, sizeof a));
    ck_assert(util_random(b, sizeof b));
    ck_assert_msg(memcmp(a, b, sizeof a) != 0, "two 32-byte random draws are equal");
    ck_assert(util_random(a, 0));
}
END_TEST

START_TEST(clock_is_monotonic)
{
    uint64_t prev = util_now_ns();

    ck_assert_uint_gt(prev, 0);
    for (int i = 0; i < 1000; i++) {
        uint64_t now = util_now_ns();
        ck_assert_uint_ge(now, prev);
        prev = now;
    }
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("b64url");

    tcase_add_loop_test(tc, b64url_round_trip, 0, 41);
    tcase_add_test(tc, b64url_known_vectors);
    tcase_add_loop_test(tc, b64url_decode_rejects, 0, N(b64url_bad));
    tcase_add_test(tc, b64url_decode_respects_cap);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_loop_test(tc, is_uuid, 0, N(uuids));
    tcase_add_test(tc, parse_long_accepts);
    tcase_add_loop_test(tc, parse_long_rejects, 0, N(bad_longs));
    tcase_add_loop_test(tc, utf8_valid, 0, N(utf8));
    suite_add_tcase(s, tc);

    tc = tcase_create("bytes");
    tcase_add_test(tc, sha256_known_digests);
    tcase_add_test(tc, hex);
    tcase_add_test(tc, random_differs);
    tcase_add_test(tc, clock_is_monotonic);
    suite_add_tcase(s, tc);
    return s;
}
