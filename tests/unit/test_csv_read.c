/* Unit tests of csv_read.c, the import's RFC 4180 reader: quoting, line ends, the byte
 * order mark, empty lines, records wider than the caller's room, NUL bytes, and the two
 * errors (a quote never closed, text after a closing quote) with the line they name. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/csv_read.h"
#include "suites.h"

#define MAX_FIELDS 4

/* Every record of in[0..len) as text: fields between [ ], records one after the other,
 * a record wider than MAX_FIELDS as "+N" for the fields past the room, a NUL byte as \0,
 * then "END" or "BAD@<line>:<why>". */
static const char *render(const char *in, size_t len)
{
    static char out[1024];
    struct csv c;
    struct csv_field f[MAX_FIELDS];
    size_t n, o = 0;
    enum csv_status st;
    csv_init(&c, in, len);
    while ((st = csv_row(&c, f, MAX_FIELDS, &n)) == CSV_ROW) {
        for (size_t i = 0; i < n && i < MAX_FIELDS; i++) {
            char text[256];
            size_t tlen;
            ck_assert_uint_lt(f[i].n, sizeof text);
            tlen = csv_field_copy(&f[i], text);
            ck_assert_uint_eq(text[tlen], '\0');
            o += (size_t)snprintf(out + o, sizeof out - o, "[");
            for (size_t k = 0; k < tlen; k++)
                o += (size_t)(text[k] ? snprintf(out + o, sizeof out - o, "%c", text[k])
                                      : snprintf(out + o, sizeof out - o, "\\0"));
            o += (size_t)snprintf(out + o, sizeof out - o, "]");
        }
        if (n > MAX_FIELDS)
            o += (size_t)snprintf(out + o, sizeof out - o, "+%zu", n - MAX_FIELDS);
        o += (size_t)snprintf(out + o, sizeof out - o, "/");
    }
    if (st == CSV_END)
        snprintf(out + o, sizeof out - o, "END");
    else
        snprintf(out + o, sizeof out - o, "BAD@%ld:%s", c.bad_line, c.why);
    return out;
}

static void expect(const char *in, const char *want)
{
    const char *got = render(in, strlen(in));
    ck_assert_msg(!strcmp(got, want), "CSV [%s]: expected %s, got %s", in, want, got);
}

START_TEST(plain_and_quoted_fields)
{
    expect("a,b,c\n", "[a][b][c]/END");
    expect("a,b,c", "[a][b][c]/END");
    expect("\"a\",\"b,c\",d\n", "[a][b,c][d]/END");
    expect("a,,\n", "[a][][]/END");
    expect(",", "[][]/END");
    expect("\"\"", "[]/END");
    expect("\"\",x", "[][x]/END");
    /* a quote inside an unquoted field is taken as it is */
    expect("a\"b,c\n", "[a\"b][c]/END");
    expect(" \"a\",b", "[ \"a\"][b]/END");
}
END_TEST

START_TEST(doubled_quotes_are_one_quote)
{
    expect("\"a\"\"b\",c\n", "[a\"b][c]/END");
    expect("\"\"\"\"", "[\"]/END");
    expect("\"\"\"\"\"\"", "[\"\"]/END");
    expect("\"x\"\"\",\"\"\"y\"\n", "[x\"][\"y]/END");
}
END_TEST

START_TEST(line_ends_lf_crlf_and_a_final_cr)
{
    expect("a,b\nc,d\n", "[a][b]/[c][d]/END");
    expect("a,b\r\nc,d\r\n", "[a][b]/[c][d]/END");
    expect("a,b\r\nc,d", "[a][b]/[c][d]/END");
    expect("a\r", "[a]/END");
    expect("\"a\"\r\n\"b\"\r", "[a]/[b]/END");
    /* a CR alone inside the body does not end a line */
    expect("a\rb,c\n", "[a\rb][c]/END");
}
END_TEST

START_TEST(line_breaks_inside_quotes_stay_in_the_field)
{
    expect("\"a\nb\",c\nd\n", "[a\nb][c]/[d]/END");
    expect("\"a\r\nb\"\r\n", "[a\r\nb]/END");
    /* and count as lines for the error that follows */
    expect("\"a\n\nb\"\n\"x", "[a\n\nb]/BAD@4:a quoted cell is never closed");
}
END_TEST

START_TEST(an_unterminated_quote_is_bad)
{
    expect("\"abc", "BAD@1:a quoted cell is never closed");
    expect("a\n\"b\nc", "[a]/BAD@2:a quoted cell is never closed");
    expect("\"", "BAD@1:a quoted cell is never closed");
    expect("\"a\"\"", "BAD@1:a quoted cell is never closed");
    expect("a,\"b", "BAD@1:a quoted cell is never closed");
}
END_TEST

START_TEST(text_after_a_closing_quote_is_bad)
{
    expect("\"a\"b\n", "BAD@1:text follows the closing quote of a cell");
    expect("x\n\"a\" ,b\n", "[x]/BAD@2:text follows the closing quote of a cell");
    expect("\"a\"\rb", "BAD@1:text follows the closing quote of a cell");
}
END_TEST

START_TEST(a_byte_order_mark_is_skipped_once)
{
    expect("\xEF\xBB\xBF"
           "email\n",
           "[email]/END");
    expect("\xEF\xBB\xBF", "END");
    expect("\xEF\xBB", "[\xEF\xBB]/END");
    expect("a\n\xEF\xBB\xBF"
           "b\n",
           "[a]/[\xEF\xBB\xBF"
           "b]/END");
}
END_TEST

START_TEST(empty_lines_and_empty_bodies)
{
    expect("", "END");
    expect("\n", "END");
    expect("\r\n\r\n\n", "END");
    expect("\n\na\n\n\nb\n\n", "[a]/[b]/END");
    /* an empty line counts for the line an error names */
    expect("\n\n\"x", "BAD@3:a quoted cell is never closed");
}
END_TEST

START_TEST(a_record_wider_than_the_room_counts_every_field)
{
    struct csv c;
    struct csv_field f[2];
    size_t n;
    csv_init(&c, "a,b,c,d,e,f\ng,h\n", 16);
    ck_assert_int_eq(csv_row(&c, f, 2, &n), CSV_ROW);
    ck_assert_uint_eq(n, 6);
    ck_assert(f[0].n == 1 && f[0].s[0] == 'a' && f[1].n == 1 && f[1].s[0] == 'b');
    ck_assert_int_eq(csv_row(&c, f, 2, &n), CSV_ROW);
    ck_assert_uint_eq(n, 2);
    ck_assert(f[0].s[0] == 'g' && f[1].s[0] == 'h');
    ck_assert_int_eq(csv_row(&c, f, 2, &n), CSV_END);
    /* room for none: still counted */
    csv_init(&c, "a,b,c", 5);
    ck_assert_int_eq(csv_row(&c, NULL, 0, &n), CSV_ROW);
    ck_assert_uint_eq(n, 3);
    expect("1,2,3,4,5,6,7\n", "[1][2][3][4]+3/END");
}
END_TEST

START_TEST(nul_bytes_are_data)
{
    static const char in[] = "a\0b,\"c\0\"\"\"\n\0\n";
    const char *got = render(in, sizeof in - 1);
    ck_assert_str_eq(got, "[a\\0b][c\\0\"]/[\\0]/END");
    got = render("\"\0", 2);
    ck_assert_str_eq(got, "BAD@1:a quoted cell is never closed");
}
END_TEST

START_TEST(fields_point_into_the_body)
{
    static const char in[] = "ab,\"c\"\"d\"";
    struct csv c;
    struct csv_field f[2];
    size_t n;
    csv_init(&c, in, sizeof in - 1);
    ck_assert_int_eq(csv_row(&c, f, 2, &n), CSV_ROW);
    ck_assert(f[0].s == in && f[0].n == 2 && !f[0].escaped);
    ck_assert(f[1].s == in + 4 && f[1].n == 4 && f[1].escaped);
    ck_assert_int_eq(csv_row(&c, f, 2, &n), CSV_END);
    ck_assert_int_eq(csv_row(&c, f, 2, &n), CSV_END); /* and stays at the end */
}
END_TEST

Suite *csv_read_suite(void)
{
    Suite *s = suite_create("csv_read");
    TCase *tc = tcase_create("csv_read");
    tcase_add_test(tc, plain_and_quoted_fields);
    tcase_add_test(tc, doubled_quotes_are_one_quote);
    tcase_add_test(tc, line_ends_lf_crlf_and_a_final_cr);
    tcase_add_test(tc, line_breaks_inside_quotes_stay_in_the_field);
    tcase_add_test(tc, an_unterminated_quote_is_bad);
    tcase_add_test(tc, text_after_a_closing_quote_is_bad);
    tcase_add_test(tc, a_byte_order_mark_is_skipped_once);
    tcase_add_test(tc, empty_lines_and_empty_bodies);
    tcase_add_test(tc, a_record_wider_than_the_room_counts_every_field);
    tcase_add_test(tc, nul_bytes_are_data);
    tcase_add_test(tc, fields_point_into_the_body);
    suite_add_tcase(s, tc);
    return s;
}
