/* Unit tests of cursor.c: a list cursor and a feed position written and read back, and
 * each way a cursor can be malformed refused (every one is a 400 to the client). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/cursor.h"
#include "leadloop/util.h"
#include "suites.h"

#define ID "0f8d7c1e-2b3a-4c5d-8e9f-a0b1c2d3e4f5"
#define WS "7a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"

/* raw as a list cursor, base64url-encoded as the API writes it. */
static const char *enc(const char *raw, size_t n)
{
    static char out[CURSOR_LIST_SIZE * 2];
    util_b64url_encode((const unsigned char *)raw, n, out);
    return out;
}

static enum cursor_status dec(const char *cursor, const char *sort)
{
    char value[1200] = "untouched", id[37] = "untouched";
    enum cursor_status st = cursor_list_decode(cursor, sort, value, sizeof value, id);
    if (st != CURSOR_OK)
        ck_assert_msg(!strcmp(value, "untouched") && !strcmp(id, "untouched"),
                      "a refused cursor changed the output");
    return st;
}

START_TEST(list_cursor_round_trip)
{
    static const char *const values[] = {
        "2026-12-01T10:00:00.000000Z", "", "a|b|c", "Zoë Ünïcode ✓", "-5", "x y,z;\"'"};
    char cursor[CURSOR_LIST_SIZE], value[1200], id[37];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        for (int desc = 0; desc < 2; desc++) {
            ck_assert(cursor_list_encode(desc, "name", values[i], ID, cursor));
            ck_assert_uint_eq(strspn(cursor, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                             "0123456789-_"),
                              strlen(cursor));
            ck_assert_int_eq(
                cursor_list_decode(cursor, desc ? "-name" : "name", value, sizeof value, id),
                CURSOR_OK);
            ck_assert_str_eq(value, values[i]);
            ck_assert_str_eq(id, ID);
            /* the other direction is another sort order */
            ck_assert_int_eq(dec(cursor, desc ? "name" : "-name"), CURSOR_OTHER_SORT);
        }
}
END_TEST

START_TEST(list_cursor_longest_value)
{
    char value[1200], cursor[CURSOR_LIST_SIZE], back[1200], id[37];
    /* "-name|" + value + "|" + id must stay under CURSOR_LIST_RAW */
    size_t room = CURSOR_LIST_RAW - 1 - strlen("-name||" ID);
    char big[CURSOR_LIST_RAW + 10];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[room] = '\0';
    ck_assert(cursor_list_encode(true, "name", big, ID, cursor));
    big[room] = 'v';
    big[room + 1] = '\0';
    ck_assert(!cursor_list_encode(true, "name", big, ID, cursor));

    /* a value that fits the cursor but not the caller's room is refused */
    memset(value, 'w', 1199);
    value[1199] = '\0';
    ck_assert(cursor_list_encode(false, "name", value, ID, cursor));
    ck_assert_int_eq(cursor_list_decode(cursor, "name", back, 1199, id), CURSOR_BAD);
    ck_assert_int_eq(cursor_list_decode(cursor, "name", back, 1200, id), CURSOR_OK);
    ck_assert_str_eq(back, value);
}
END_TEST

START_TEST(list_cursor_malformed)
{
    static const char *const raws[] = {
        "",
        "name",
        "name|",
        "name|value",
        "name|" ID,
        "|" ID,
        "name|v|not-a-uuid",
        "name|v|" ID "x",
        "name|v|0f8d7c1e2b3a4c5d8e9fa0b1c2d3e4f5",
        "name|v|" ID "|",
        "name|\xff|" ID,         /* not UTF-8 */
        "name|\xc3|" ID,         /* a cut sequence */
        "name|\xed\xa0\x80|" ID, /* a surrogate */
    };
    for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++)
        ck_assert_msg(dec(enc(raws[i], strlen(raws[i])), "name") == CURSOR_BAD,
                      "cursor of [%s]: expected CURSOR_BAD", raws[i]);
    /* not base64url */
    static const char *const texts[] = {"", "!!!!", "bmFtZ=", "bmFtZXx2fA==", "a", "a b"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        ck_assert_msg(dec(texts[i], "name") == CURSOR_BAD, "cursor [%s]: expected CURSOR_BAD",
                      texts[i]);
    /* a NUL inside, even after a whole cursor */
    static const char nul[] = "name|v|" ID "\0junk";
    ck_assert_int_eq(dec(enc(nul, sizeof nul - 1), "name"), CURSOR_BAD);
    static const char nul_first[] = "na\0me|v|" ID;
    ck_assert_int_eq(dec(enc(nul_first, sizeof nul_first - 1), "name"), CURSOR_BAD);
    /* longer than any cursor the API writes */
    char big[CURSOR_LIST_RAW + 1];
    memset(big, 'a', sizeof big);
    memcpy(big, "name|", 5);
    memcpy(big + sizeof big - 37, "|" ID, 37);
    ck_assert_int_eq(dec(enc(big, sizeof big), "name"), CURSOR_BAD);
    /* another sort, and a sort that only begins like ours */
    ck_assert_int_eq(dec(enc("email|v|" ID, strlen("email|v|" ID)), "name"), CURSOR_OTHER_SORT);
    ck_assert_int_eq(dec(enc("namex|v|" ID, strlen("namex|v|" ID)), "name"), CURSOR_OTHER_SORT);
}
END_TEST

START_TEST(feed_cursor_round_trip)
{
    static const struct change_pos pos[] = {
        {0, 0}, {1, 1}, {0x2f3a, 0x10}, {UINT64_MAX, INT64_MAX}, {0xabcdef, 0x123456789}};
    char text[64];
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        struct change_pos back = {7, 7};
        cursor_feed_format(&pos[i], WS, text);
        ck_assert_msg(cursor_feed_parse(text, WS, &back), "[%s] did not read back", text);
        ck_assert(back.xid == pos[i].xid && back.seq == pos[i].seq);
    }
    cursor_feed_format(&pos[2], WS, text);
    ck_assert_str_eq(text, "2f3a.10.7a1b2c3d");
    /* the tag skips the id's dashes; without a workspace it is zeros */
    cursor_feed_format(&pos[1], "12-34-56-78-9a", text);
    ck_assert_str_eq(text, "1.1.12345678");
    cursor_feed_format(&pos[1], NULL, text);
    ck_assert_str_eq(text, "1.1.00000000");
}
END_TEST

START_TEST(feed_cursor_malformed)
{
    static const char *const bad[] = {
        "",
        ".",
        "..",
        "1.1",
        "1.1.",
        "1..7a1b2c3d",
        ".1.7a1b2c3d",
        "1.1.7a1b2c3",
        "1.1.7a1b2c3d0",
        "1.1.7A1B2C3D",
        "1.1.7a1b2c3e",  /* another workspace */
        "A.1.7a1b2c3d",  /* upper case */
        "01.1.7a1b2c3d", /* a leading zero */
        "1.01.7a1b2c3d",
        "0x1.1.7a1b2c3d",
        "-1.1.7a1b2c3d",
        "+1.1.7a1b2c3d",
        " 1.1.7a1b2c3d",
        "1.1.7a1b2c3d ",
        "1.1.1.7a1b2c3d",
        "g.1.7a1b2c3d",
        "10000000000000000.1.7a1b2c3d", /* 17 digits */
        "1.8000000000000000.7a1b2c3d",  /* seq over a bigint */
        "1.ffffffffffffffff.7a1b2c3d",
        "ffffffffffffffff.ffffffffffffffff1.7a1b2c3d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct change_pos p = {7, 7};
        ck_assert_msg(!cursor_feed_parse(bad[i], WS, &p), "[%s]: expected refused", bad[i]);
        ck_assert(p.xid == 7 && p.seq == 7);
    }
    struct change_pos p;
    ck_assert(cursor_feed_parse("ffffffffffffffff.7fffffffffffffff.7a1b2c3d", WS, &p));
    ck_assert(p.xid == UINT64_MAX && p.seq == INT64_MAX);
}
END_TEST

Suite *cursor_suite(void)
{
    Suite *s = suite_create("cursor");
    TCase *tc = tcase_create("cursor");
    tcase_add_test(tc, list_cursor_round_trip);
    tcase_add_test(tc, list_cursor_longest_value);
    tcase_add_test(tc, list_cursor_malformed);
    tcase_add_test(tc, feed_cursor_round_trip);
    tcase_add_test(tc, feed_cursor_malformed);
    suite_add_tcase(s, tc);
    return s;
}
