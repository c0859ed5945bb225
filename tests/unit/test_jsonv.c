/* Unit tests of jsonv.c: every check adds a {field, message} error, lengths count code
 * points, and the practical email check. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/jsonv.h"
#include "suites.h"

/* The validator and the object of the running test; the fixture frees both. */
static struct jv v;
static json_t *obj;

static void setup(void)
{
    jv_init(&v);
    ck_assert_ptr_nonnull(v.errors);
    obj = NULL;
}

static void teardown(void)
{
    jv_free(&v);
    json_decref(obj);
}

/* Parses the test's object from JSON text. */
static void load(const char *text)
{
    json_error_t e;

    json_decref(obj);
    obj = json_loads(text, 0, &e);
    ck_assert_msg(obj != NULL, "bad test JSON %s: %s", text, e.text);
}

/* The message of the error for field, or NULL when it has none. */
static const char *error_for(const char *field)
{
    size_t i;
    json_t *e;

    json_array_foreach(v.errors, i, e)
    {
        if (!strcmp(json_string_value(json_object_get(e, "field")), field))
            return json_string_value(json_object_get(e, "message"));
    }
    return NULL;
}

static void expect_error(const char *field, const char *message)
{
    const char *got = error_for(field);

    ck_assert_msg(got != NULL, "expected an error for '%s' (\"%s\"), got none", field, message);
    ck_assert_str_eq(got, message);
}

static void expect_no_errors(void)
{
    char *dump = json_dumps(v.errors, 0);

    ck_assert_msg(jv_ok(&v), "expected no errors, got %s", dump);
    free(dump);
}

/* --- the errors list --- */

START_TEST(errors_are_field_message_objects)
{
    json_t *errors, *e;
    size_t i;

    ck_assert(jv_ok(&v));
    jv_add(&v, "email", "is required");
    jv_add(&v, "name", "must be at most %d characters long", 200);
    ck_assert(!jv_ok(&v));
    errors = jv_take(&v);
    ck_assert_ptr_null(v.errors);
    ck_assert(json_is_array(errors));
    ck_assert_uint_eq(json_array_size(errors), 2);
    json_array_foreach(errors, i, e)
    {
        ck_assert(json_is_object(e));
        ck_assert_uint_eq(json_object_size(e), 2);
        ck_assert(json_is_string(json_object_get(e, "field")));
        ck_assert(json_is_string(json_object_get(e, "message")));
    }
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "field")),
                     "email");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 1), "message")),
                     "must be at most 200 characters long");
    json_decref(errors);
}
END_TEST

START_TEST(known_fields)
{
    static const char *const allowed[] = {"name", "email", NULL};
    static const char *const readonly[] = {"id", "created_at", NULL};

    load(
        "{\"name\": \"A\", \"id\": \"x\", \"bogus\": 1, \"email\": \"a@b.co\", \"created_at\": 0}");
    jv_known(&v, obj, allowed, readonly);
    ck_assert_uint_eq(json_array_size(v.errors), 3);
    expect_error("id", "is read-only");
    expect_error("created_at", "is read-only");
    expect_error("bogus", "is not a known field");
    ck_assert_ptr_null(error_for("name"));
    ck_assert_ptr_null(error_for("email"));
}
END_TEST

START_TEST(known_fields_without_readonly_list)
{
    static const char *const allowed[] = {"name", NULL};

    load("{\"name\": \"A\", \"id\": \"x\"}");
    jv_known(&v, obj, allowed, NULL);
    ck_assert_uint_eq(json_array_size(v.errors), 1);
    expect_error("id", "is not a known field");
}
END_TEST

/* --- strings --- */

/* {"s": c repeated n times} */
static void load_repeated(const char *c, size_t n)
{
    size_t len = strlen(c);
    char *s = malloc(len * n + 1);

    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * len, c, len);
    s[len * n] = '\0';
    json_decref(obj);
    obj = json_pack("{s:s}", "s", s);
    free(s);
    ck_assert_ptr_nonnull(obj);
}

START_TEST(string_length_counts_code_points)
{
    const char *out = NULL;

    load_repeated("\xc3\xa9", 200); /* 200 characters, 400 bytes */
    ck_assert(jv_string(&v, obj, "s", true, 0, 200, &out));
    ck_assert_ptr_eq(out, json_string_value(json_object_get(obj, "s")));
    expect_no_errors();

    load_repeated("\xc3\xa9", 201);
    ck_assert(!jv_string(&v, obj, "s", true, 0, 200, &out));
    expect_error("s", "must be at most 200 characters long");

    load_repeated("\xf0\x9f\x98\x80", 3); /* 3 characters, 12 bytes */
    ck_assert(jv_string(&v, obj, "s", true, 1, 3, &out));
}
END_TEST

START_TEST(string_min_and_max)
{
    const char *out = NULL;

    load("{\"s\": \"\"}");
    ck_assert(!jv_string(&v, obj, "s", true, 1, 5, &out));
    expect_error("s", "must be 1 to 5 characters long");
    ck_assert_ptr_null(out);
    jv_free(&v);
    jv_init(&v);

    load("{\"s\": \"abcdef\"}");
    ck_assert(!jv_string(&v, obj, "s", true, 1, 5, &out));
    expect_error("s", "must be 1 to 5 characters long");
    load("{\"s\": \"abcde\"}");
    ck_assert(jv_string(&v, obj, "s", true, 1, 5, &out));
    ck_assert_str_eq(out, "abcde");
}
END_TEST

START_TEST(string_with_nul)
{
    const char *out = NULL;

    obj = json_object();
    json_object_set_new(obj, "s", json_stringn("a\0b", 3));
    ck_assert(!jv_string(&v, obj, "s", true, 0, 10, &out));
    expect_error("s", "must not contain NUL characters");
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(string_wrong_type)
{
    static const char *const bodies[] = {"{\"s\": 1}", "{\"s\": null}", "{\"s\": [\"a\"]}",
                                         "{\"s\": {}}", "{\"s\": true}"};
    const char *out = NULL;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        jv_free(&v);
        jv_init(&v);
        load(bodies[i]);
        ck_assert_msg(!jv_string(&v, obj, "s", false, 0, 10, &out), "%s accepted", bodies[i]);
        expect_error("s", "must be a string");
    }
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(absent_field)
{
    const char *out = "untouched";

    load("{}");
    ck_assert(!jv_string(&v, obj, "s", false, 0, 10, &out));
    expect_no_errors();
    ck_assert_str_eq(out, "untouched");

    ck_assert(!jv_string(&v, obj, "s", true, 0, 10, &out));
    expect_error("s", "is required");
    ck_assert_str_eq(out, "untouched");
}
END_TEST

START_TEST(utf8_chars)
{
    ck_assert_uint_eq(jv_utf8_chars(""), 0);
    ck_assert_uint_eq(jv_utf8_chars("abc"), 3);
    ck_assert_uint_eq(jv_utf8_chars("\xc3\xa9"), 1);
    ck_assert_uint_eq(jv_utf8_chars("\xe2\x82\xac"), 1);
    ck_assert_uint_eq(jv_utf8_chars("\xf0\x9f\x98\x80"), 1);
    ck_assert_uint_eq(jv_utf8_chars("Jos\xc3\xa9 \xe2\x82\xac"), 6);
}
END_TEST

/* --- enum, email, uuid, bool --- */

START_TEST(enum_values)
{
    static const char *const colours[] = {"red", "green", "blue", NULL};
    const char *out = NULL;

    load("{\"a\": \"green\", \"b\": \"purple\", \"c\": 3, \"d\": \"Red\"}");
    ck_assert(jv_enum(&v, obj, "a", true, colours, &out));
    ck_assert_str_eq(out, "green");
    expect_no_errors();
    ck_assert(!jv_enum(&v, obj, "b", true, colours, &out));
    expect_error("b", "must be one of: red, green, blue");
    ck_assert(!jv_enum(&v, obj, "c", true, colours, &out));
    expect_error("c", "must be one of: red, green, blue");
    ck_assert(!jv_enum(&v, obj, "d", true, colours, &out));
    expect_error("d", "must be one of: red, green, blue");
    ck_assert(!jv_enum(&v, obj, "e", true, colours, &out));
    expect_error("e", "is required");
    ck_assert_str_eq(out, "green");
}
END_TEST

static const char *const good_emails[] = {
    "a@b.co",
    "first.last+tag@sub.example.org",
    "jos\xc3\xa9@ex\xc3\xa4mple.com",
    "x_y-z@a-b.example",
};

START_TEST(email_accepted)
{
    ck_assert_msg(jv_email_valid(good_emails[_i]), "'%s': expected valid, got invalid",
                  good_emails[_i]);
}
END_TEST

static const char *const bad_emails[] = {
    "",         "a",         "a@b",       "@b.co",     "a@.co",      "a@b..co",
    "a b@c.co", "a@b.co.",   "<a@b.co>",  "a@b@c.co",  "a@",         ".a@b.co",
    "a.@b.co",  "a..b@c.co", "a@b.co\n",  "a\t@b.co",  "\"a\"@b.co", "a@[1.2.3.4]",
    "a,b@c.co", "a@b.co;",   "a(b)@c.co", "a\\b@c.co", "a\x7f@b.co",
};

START_TEST(email_rejected)
{
    ck_assert_msg(!jv_email_valid(bad_emails[_i]), "'%s': expected invalid, got valid",
                  bad_emails[_i]);
}
END_TEST

/* local@domain with the local part local_len and the whole address total_len long */
static char *make_email(size_t local_len, size_t total_len)
{
    char *s = malloc(total_len + 1);
    size_t domain_len = total_len - local_len - 1;

    ck_assert_ptr_nonnull(s);
    ck_assert_uint_ge(domain_len, 4);
    memset(s, 'a', local_len);
    s[local_len] = '@';
    memset(s + local_len + 1, 'b', domain_len);
    memcpy(s + total_len - 3, ".co", 3);
    s[total_len] = '\0';
    return s;
}

START_TEST(email_length_limits)
{
    char *s = make_email(64, 80);

    ck_assert_msg(jv_email_valid(s), "64-character local part rejected: %s", s);
    free(s);
    s = make_email(65, 80);
    ck_assert_msg(!jv_email_valid(s), "65-character local part accepted: %s", s);
    free(s);
    s = make_email(10, 254);
    ck_assert_msg(jv_email_valid(s), "254-character address rejected");
    free(s);
    s = make_email(10, 255);
    ck_assert_msg(!jv_email_valid(s), "255-character address accepted");
    free(s);
}
END_TEST

START_TEST(email_field)
{
    const char *out = NULL;

    load("{\"good\": \"A@b.co\", \"bad\": \"a@b\", \"num\": 7}");
    ck_assert(jv_email(&v, obj, "good", true, &out));
    ck_assert_str_eq(out, "A@b.co");
    expect_no_errors();
    ck_assert(!jv_email(&v, obj, "bad", true, &out));
    expect_error("bad", "is not a valid email address");
    ck_assert(!jv_email(&v, obj, "num", true, &out));
    expect_error("num", "must be a string");
    ck_assert_str_eq(out, "A@b.co");
}
END_TEST

START_TEST(uuid_field)
{
    const char *out = NULL;
    bool is_null = true;

    load("{\"id\": \"123e4567-e89b-12d3-a456-426614174000\", \"none\": null, \"bad\": \"x\","
         " \"num\": 1}");
    ck_assert(jv_uuid(&v, obj, "id", true, true, &out, &is_null));
    ck_assert_str_eq(out, "123e4567-e89b-12d3-a456-426614174000");
    ck_assert(!is_null);
    expect_no_errors();

    out = NULL;
    ck_assert(jv_uuid(&v, obj, "none", true, true, &out, &is_null));
    ck_assert(is_null);
    expect_no_errors();

    ck_assert(!jv_uuid(&v, obj, "none", true, false, &out, NULL));
    expect_error("none", "must be a UUID");
    ck_assert(!jv_uuid(&v, obj, "bad", true, true, &out, &is_null));
    expect_error("bad", "must be a UUID or null");
    ck_assert(!jv_uuid(&v, obj, "num", true, false, &out, NULL));
    expect_error("num", "must be a UUID");
    ck_assert(!jv_uuid(&v, obj, "absent", false, true, &out, &is_null));
    ck_assert_ptr_null(error_for("absent"));
    ck_assert_uint_eq(json_array_size(v.errors), 3);
}
END_TEST

START_TEST(bool_field)
{
    bool out = false;

    load("{\"t\": true, \"f\": false, \"s\": \"true\", \"n\": 1, \"z\": null}");
    ck_assert(jv_bool(&v, obj, "t", true, &out));
    ck_assert(out);
    ck_assert(jv_bool(&v, obj, "f", true, &out));
    ck_assert(!out);
    expect_no_errors();
    ck_assert(!jv_bool(&v, obj, "s", true, &out));
    expect_error("s", "must be true or false");
    ck_assert(!jv_bool(&v, obj, "n", true, &out));
    expect_error("n", "must be true or false");
    ck_assert(!jv_bool(&v, obj, "z", true, &out));
    expect_error("z", "must be true or false");
    ck_assert(!jv_bool(&v, obj, "absent", true, &out));
    expect_error("absent", "is required");
}
END_TEST

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

START_TEST(url_field)
{
    static const char *const good[] = {"https://acme.example/pricing?x=1#top", "http://a.b",
                                       "android-app://com.google.android.gm",
                                       "https://caf\xC3\xA9.example/"};
    static const char *const bad[] = {"acme.example/pricing",
                                      "https://a.example/x y",
                                      "https://a.example/\x01",
                                      "1http://a",
                                      "https:",
                                      ":x",
                                      ""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(jv_url_valid(good[i]), "%s refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!jv_url_valid(bad[i]), "%s accepted", bad[i]);
    char url[2100] = "https://a.example/";
    memset(url + strlen(url), 'p', 2048 - strlen(url));
    url[2048] = '\0';
    ck_assert(jv_url_valid(url));
    url[2048] = 'p';
    url[2049] = '\0';
    ck_assert(!jv_url_valid(url));

    const char *out = NULL;
    bool isnull = false;
    obj = json_pack("{s:n, s:i, s:s}", "a", "b", 1, "c", "https://x.example");
    ck_assert(jv_url(&v, obj, "a", false, true, &out, &isnull) && isnull);
    ck_assert(!jv_url(&v, obj, "b", false, true, &out, &isnull));
    ck_assert(jv_url(&v, obj, "c", false, false, &out, &isnull));
    ck_assert_str_eq(out, "https://x.example");
    ck_assert_int_eq(json_array_size(v.errors), 1);
}
END_TEST

Suite *jsonv_suite(void)
{
    Suite *s = suite_create("jsonv");
    TCase *tc = tcase_create("fields");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, errors_are_field_message_objects);
    tcase_add_test(tc, known_fields);
    tcase_add_test(tc, known_fields_without_readonly_list);
    tcase_add_test(tc, string_length_counts_code_points);
    tcase_add_test(tc, string_min_and_max);
    tcase_add_test(tc, string_with_nul);
    tcase_add_test(tc, string_wrong_type);
    tcase_add_test(tc, absent_field);
    tcase_add_test(tc, utf8_chars);
    tcase_add_test(tc, enum_values);
    tcase_add_test(tc, email_field);
    tcase_add_test(tc, uuid_field);
    tcase_add_test(tc, bool_field);
    tcase_add_test(tc, url_field);
    suite_add_tcase(s, tc);

    tc = tcase_create("email");
    tcase_add_loop_test(tc, email_accepted, 0, N(good_emails));
    tcase_add_loop_test(tc, email_rejected, 0, N(bad_emails));
    tcase_add_test(tc, email_length_limits);
    suite_add_tcase(s, tc);
    return s;
}
