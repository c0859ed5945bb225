/* Unit tests of list.c's SQL builder: a list's keyset condition, order and limit, a
 * search's window with the parameter that switches it off, and the builder's own limits. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/list.h"
#include "suites.h"

static const struct sort_key created = {"created_at", "created_at", "timestamptz"};
static const struct sort_key name = {"name", "name", "text"};

static void listing(struct listing *l, const struct sort_key *k, bool desc, bool cursor)
{
    memset(l, 0, sizeof *l);
    l->limit = 50;
    l->sort = k;
    l->desc = desc;
    if (cursor) {
        l->has_cursor = true;
        strcpy(l->after, "2026-12-01T10:00:00.000000Z");
        strcpy(l->after_id, "11111111-1111-1111-1111-111111111111");
    }
}

START_TEST(list_apply_pages_after_the_cursor)
{
    struct qb q;
    struct listing l;
    listing(&l, &created, true, true);
    qb_init(&q, "SELECT id FROM leads");
    qb_addp(&q, " WHERE workspace_id = $?", "ws");
    list_apply(&q, &l, "id");
    ck_assert_str_eq(qb_sql(&q), "SELECT id FROM leads WHERE workspace_id = $1"
                                 " AND (created_at, id) < ($2::timestamptz, $3::uuid)"
                                 " ORDER BY created_at DESC, id DESC LIMIT $4");
    ck_assert_int_eq(q.n, 4);
    ck_assert_str_eq(q.vals[3], "51");
    ck_assert_int_eq(q.window_param, -1);
    ck_assert(!q.overflow);
    qb_free(&q);
}
END_TEST

START_TEST(list_apply_search_bounds_a_window)
{
    struct qb q;
    struct listing l;
    listing(&l, &created, true, true);
    qb_init(&q, "SELECT id FROM leads");
    qb_addpv(&q, " WHERE workspace_id = $? AND name LIKE $?", 2, (const char *const[]){"ws", "a%"});
    list_apply_search(&q, &l, "id", "leads", "ws");
    ck_assert_str_eq(qb_sql(&q),
                     "SELECT id FROM leads WHERE workspace_id = $1 AND name LIKE $2"
                     " AND (created_at, id) < ($3::timestamptz, $4::uuid)"
                     " AND ($5::boolean OR (created_at, id) >= (SELECT k, i FROM"
                     " (SELECT created_at AS k, id AS i FROM leads WHERE workspace_id = $6"
                     " AND (created_at, id) < ($7::timestamptz, $8::uuid)"
                     " ORDER BY created_at DESC, id DESC LIMIT 5100) w"
                     " ORDER BY k ASC, i ASC LIMIT 1))"
                     " ORDER BY created_at DESC, id DESC LIMIT $9");
    ck_assert_int_eq(q.n, 9);
    ck_assert_int_eq(q.window_param, 4);
    ck_assert_str_eq(q.vals[4], "false");
    ck_assert_str_eq(q.vals[5], "ws");
    ck_assert_str_eq(q.vals[6], l.after);
    ck_assert_str_eq(q.vals[8], "51");
    qb_free(&q);
}
END_TEST

/* Ascending, no cursor: the window ends at its last row in ascending order. */
START_TEST(list_apply_search_ascending)
{
    struct qb q;
    struct listing l;
    listing(&l, &name, false, false);
    l.limit = 2;
    qb_init(&q, "SELECT id FROM campaigns");
    qb_addp(&q, " WHERE workspace_id = $?", "ws");
    list_apply_search(&q, &l, "id", "campaigns", "ws");
    ck_assert_str_eq(qb_sql(&q),
                     "SELECT id FROM campaigns WHERE workspace_id = $1"
                     " AND ($2::boolean OR (name, id) <= (SELECT k, i FROM"
                     " (SELECT name AS k, id AS i FROM campaigns WHERE workspace_id = $3"
                     " ORDER BY name ASC, id ASC LIMIT 300) w"
                     " ORDER BY k DESC, i DESC LIMIT 1))"
                     " ORDER BY name ASC, id ASC LIMIT $4");
    ck_assert_int_eq(q.window_param, 1);
    qb_free(&q);
}
END_TEST

/* The text grows as it must (it had a fixed 6 KB before); parameters stop at QB_MAX_PARAMS,
 * and then the statement is not built at all rather than run cut short. */
START_TEST(qb_grows_and_refuses_too_many_parameters)
{
    struct qb q;
    char expect[32];
    qb_init(&q, "SELECT 1 WHERE true");
    for (int i = 0; i < 1000; i++)
        qb_add(&q, " AND true");
    ck_assert_uint_eq(strlen(qb_sql(&q)), strlen("SELECT 1 WHERE true") + 1000 * 9);
    for (int i = 0; i < QB_MAX_PARAMS; i++)
        qb_addc(&q, " AND $? = 1", "1");
    snprintf(expect, sizeof expect, "AND $%d = 1", QB_MAX_PARAMS);
    ck_assert_ptr_nonnull(strstr(qb_sql(&q), expect));
    ck_assert_int_eq(q.n, QB_MAX_PARAMS);
    qb_addp(&q, " AND $? = 1", "1");
    ck_assert(q.overflow);
    ck_assert_ptr_null(qb_sql(&q));
    qb_free(&q);
    qb_free(&q); /* leaves it empty: freeing again is harmless */
}
END_TEST

Suite *list_suite(void)
{
    Suite *s = suite_create("list");
    TCase *tc = tcase_create("list");
    tcase_add_test(tc, list_apply_pages_after_the_cursor);
    tcase_add_test(tc, list_apply_search_bounds_a_window);
    tcase_add_test(tc, list_apply_search_ascending);
    tcase_add_test(tc, qb_grows_and_refuses_too_many_parameters);
    suite_add_tcase(s, tc);
    return s;
}
