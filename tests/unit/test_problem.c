/* Unit tests of problem.c: the one mapping from domain errors to HTTP status and problem
 * type, the problem document, and SQLSTATEs to domain errors. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/problem.h"
#include "suites.h"

static const struct {
    enum ll_err err;
    int status;
    const char *slug;
} kinds[] = {
    {LL_E_MALFORMED, 400, "malformed-request"},
    {LL_E_PARAM, 400, "invalid-parameter"},
    {LL_E_UNAUTHORIZED, 401, "unauthorized"},
    {LL_E_FORBIDDEN, 403, "forbidden"},
    {LL_E_NOT_FOUND, 404, "not-found"},
    {LL_E_METHOD, 405, "method-not-allowed"},
    {LL_E_CONFLICT, 409, "conflict"},
    {LL_E_GONE, 410, "gone"},
    {LL_E_PRECONDITION, 412, "precondition-failed"},
    {LL_E_TOO_LARGE, 413, "content-too-large"},
    {LL_E_NOT_ACCEPTABLE, 406, "not-acceptable"},
    {LL_E_MEDIA_TYPE, 415, "unsupported-media-type"},
    {LL_E_VALIDATION, 422, "validation-failed"},
    {LL_E_UNAVAILABLE, 503, "unavailable"},
    {LL_E_INTERNAL, 500, "internal"},
    {LL_E_TIMEOUT, 408, "request-timeout"},
    {LL_E_URI_TOO_LONG, 414, "uri-too-long"},
    {LL_E_HEADERS_TOO_LARGE, 431, "headers-too-large"},
    {LL_E_VERSION, 505, "http-version-not-supported"},
    {LL_E_RATE_LIMITED, 429, "rate-limited"},
    {LL_E_MERGED, 308, "lead-merged"},
    {LL_E_CSRF, 403, "csrf"},
};
#define NKINDS (int)(sizeof kinds / sizeof kinds[0])

/* The string member name of obj; fails the test when it is missing or not a string. */
static const char *member_str(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    ck_assert_msg(json_is_string(v), "member '%s' is missing or not a string", name);
    return json_string_value(v);
}

START_TEST(table_covers_every_error)
{
    /* every error but LL_OK has a row above: a new enum value must be added here too */
    ck_assert_int_eq(NKINDS, LL_E_COUNT - 1);
}
END_TEST

START_TEST(kind_status_and_slug)
{
    const struct problem_kind *k = problem_kind(kinds[_i].err);

    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(k->status, kinds[_i].status);
    ck_assert_str_eq(k->slug, kinds[_i].slug);
    ck_assert_ptr_nonnull(k->title);
    ck_assert_int_gt(strlen(k->title), 0);
}
END_TEST

START_TEST(out_of_range_is_internal)
{
    ck_assert_int_eq(problem_kind(LL_E_COUNT)->status, 500);
    ck_assert_str_eq(problem_kind(LL_E_COUNT)->slug, "internal");
    ck_assert_int_eq(problem_kind((enum ll_err)1000)->status, 500);
}
END_TEST

START_TEST(document_has_every_member)
{
    json_t *errors = json_pack("[{s:s, s:s}]", "field", "email", "message", "is required");
    json_t *extra = json_pack("{s:i, s:s}", "retry_after", 5, "instance", "/v1/users");
    json_t *p;

    ck_assert_ptr_nonnull(errors);
    ck_assert_ptr_nonnull(extra);
    /* errors and extra are stolen: no decref here, ASan's leak check would notice either
     * a leak or a double free */
    p = problem_new(kinds[_i].err, "Some detail", "req-1", errors, extra);
    ck_assert_ptr_nonnull(p);

    char type[128];
    snprintf(type, sizeof type, "%s%s", PROBLEM_TYPE_BASE, kinds[_i].slug);
    ck_assert_str_eq(member_str(p, "type"), type);
    ck_assert_str_eq(member_str(p, "title"), problem_kind(kinds[_i].err)->title);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "status")), kinds[_i].status);
    ck_assert_str_eq(member_str(p, "detail"), "Some detail");
    ck_assert_str_eq(member_str(p, "request_id"), "req-1");
    ck_assert_ptr_eq(json_object_get(p, "errors"), errors);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "retry_after")), 5);
    ck_assert_str_eq(member_str(p, "instance"), "/v1/users");
    ck_assert_int_eq(json_object_size(p), 8);
    json_decref(p);
}
END_TEST

START_TEST(optional_members_absent)
{
    json_t *p = problem_new(LL_E_NOT_FOUND, NULL, NULL, NULL, NULL);

    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(member_str(p, "type"), "https://leadloop.dev/problems/not-found");
    ck_assert_int_eq(json_integer_value(json_object_get(p, "status")), 404);
    ck_assert_ptr_null(json_object_get(p, "request_id"));
    ck_assert_ptr_null(json_object_get(p, "errors"));
    json_decref(p);
}
END_TEST

START_TEST(detail_is_copied)
{
    char detail[] = "first";
    json_t *p = problem_new(LL_E_CONFLICT, detail, NULL, NULL, NULL);

    strcpy(detail, "later");
    ck_assert_str_eq(member_str(p, "detail"), "first");
    json_decref(p);
}
END_TEST

static const struct {
    const char *state;
    enum ll_err want;
} sqlstates[] = {
    {"23505", LL_E_CONFLICT},                              /* unique_violation */
    {"23503", LL_E_VALIDATION},                            /* foreign_key_violation */
    {"23514", LL_E_VALIDATION},                            /* check_violation */
    {"23502", LL_E_VALIDATION},                            /* not_null_violation */
    {"22P02", LL_E_VALIDATION},                            /* invalid_text_representation */
    {"22001", LL_E_VALIDATION},                            /* string_data_right_truncation */
    {"57014", LL_E_UNAVAILABLE},                           /* query_canceled (statement_timeout) */
    {"08006", LL_E_UNAVAILABLE},                           /* connection_failure */
    {"53300", LL_E_UNAVAILABLE},                           /* too_many_connections */
    {"57P01", LL_E_UNAVAILABLE},                           /* admin_shutdown */
    {NULL, LL_E_UNAVAILABLE},                              /* no result: the connection is gone */
    {"", LL_E_UNAVAILABLE},      {"40001", LL_E_CONFLICT}, /* serialization_failure */
    {"40P01", LL_E_CONFLICT},                              /* deadlock_detected */
    {"42P01", LL_E_INTERNAL},                              /* undefined_table: our bug */
    {"42601", LL_E_INTERNAL},                              /* syntax_error */
};

START_TEST(sqlstate_mapping)
{
    const char *state = sqlstates[_i].state;
    enum ll_err got = problem_from_sqlstate(state);

    ck_assert_msg(got == sqlstates[_i].want, "SQLSTATE %s: expected %s (%d), got %s (%d)",
                  state ? state : "NULL", problem_kind(sqlstates[_i].want)->slug,
                  (int)sqlstates[_i].want, problem_kind(got)->slug, (int)got);
}
END_TEST

Suite *problem_suite(void)
{
    Suite *s = suite_create("problem");
    TCase *tc = tcase_create("kinds");

    tcase_add_test(tc, table_covers_every_error);
    tcase_add_loop_test(tc, kind_status_and_slug, 0, NKINDS);
    tcase_add_test(tc, out_of_range_is_internal);
    tcase_add_loop_test(tc, document_has_every_member, 0, NKINDS);
    tcase_add_test(tc, optional_members_absent);
    tcase_add_test(tc, detail_is_copied);
    suite_add_tcase(s, tc);

    tc = tcase_create("sqlstate");
    tcase_add_loop_test(tc, sqlstate_mapping, 0, (int)(sizeof sqlstates / sizeof sqlstates[0]));
    suite_add_tcase(s, tc);
    return s;
}
