/* The work lists of GET /v1/leads (issue 14): the leads awaiting sales' verdict (the same
 * ones the follow-up report counts as waiting), the overdue ones, the recycled leads due
 * back, each oldest first, and owner_id=me. Each test works in a workspace of its own. */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suites.h"
#include "support.h"

static char key[64], ws_id[40];

static void setup(void)
{
    char slug[64];
    snprintf(slug, sizeof slug, "worklists-%d", (int)getpid());
    ck_assert(workspace_key(slug, "admin", key));
    struct resp *r = get("/v1/workspace", key);
    ck_assert_int_eq(r->status, 200);
    snprintf(ws_id, sizeof ws_id, "%s", jstr(r, "id"));
    resp_free(r);
}

/* Runs a statement with $1 = id and $2 = the workspace's id, as an operator would fix data
 * by hand (with the workspace, Citus sends it to the one node that holds the rows). */
static void sql(const char *statement, const char *id)
{
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    const char *vals[2] = {id, ws_id};
    PGresult *res = PQexecParams(pg, statement, 2, NULL, vals, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", statement,
                  PQresultErrorMessage(res));
    ck_assert_str_eq(PQcmdTuples(res), "1");
    PQclear(res);
    PQfinish(pg);
}

/* A lead named tag, moved to stage (NULL: left new); its id into id. */
static void lead(const char *tag, const char *stage, const char *owner, char id[40])
{
    char body[300], path[128];
    snprintf(body, sizeof body, "{\"email\":\"%s-%d@worklists.example\"%s%s%s}", tag, (int)getpid(),
             owner ? ",\"owner_id\":\"" : "", owner ? owner : "", owner ? "\"" : "");
    struct resp *r = post("/v1/leads", key, body);
    ck_assert_msg(r->status == 201, "lead %s: %ld %s", tag, r->status, r->body);
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
    if (!stage)
        return;
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", id);
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", stage);
    r = post(path, key, body);
    ck_assert_msg(r->status == 201, "%s to %s: %ld %s", tag, stage, r->status, r->body);
    resp_free(r);
}

/* The ids of a list's page, in order, joined by spaces, into out. */
static long list_ids(const char *query, char *out, size_t cap)
{
    char path[300];
    size_t used = 0;
    size_t i;
    json_t *row;
    snprintf(path, sizeof path, "/v1/leads?%s", query);
    struct resp *r = get(path, key);
    long status = r->status;
    out[0] = '\0';
    json_array_foreach(json_object_get(r->json, "data"), i, row) used +=
        (size_t)snprintf(out + used, cap - used, "%s%s", used ? " " : "",
                         json_string_value(json_object_get(row, "id")));
    resp_free(r);
    return status;
}

START_TEST(awaiting_overdue_and_recycled_leads_come_oldest_first)
{
    char older[40], newer[40], answered[40], fresh[40], recycled[40], later[40], got[400],
        want[200], path[128];
    lead("older", "mql", NULL, older);
    lead("newer", "mql", NULL, newer);
    lead("answered", "mql", NULL, answered);
    lead("fresh", NULL, NULL, fresh);
    lead("recycled", NULL, NULL, recycled);
    lead("later", NULL, NULL, later);
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", answered);
    struct resp *r = post(path, key, "{\"kind\":\"contacted\"}");
    ck_assert_int_eq(r->status, 201);
    resp_free(r);
    /* handed over two days ago (the report facts follow the stage history) */
    sql("UPDATE lead_stage_changes SET changed_at = now() - interval '2 days'"
        " WHERE workspace_id = $2 AND lead_id = $1 AND to_stage = 'mql'",
        older);
    sql("UPDATE leads SET stage = 'recycled', recycle_on = current_date - 3"
        " WHERE workspace_id = $2 AND id = $1",
        recycled);
    sql("UPDATE leads SET stage = 'recycled', recycle_on = current_date + 30"
        " WHERE workspace_id = $2 AND id = $1",
        later);

    ck_assert_int_eq(list_ids("awaiting_feedback=true", got, sizeof got), 200);
    snprintf(want, sizeof want, "%s %s", older, newer);
    ck_assert_str_eq(got, want);
    /* the same leads the follow-up report counts as waiting */
    r = get("/v1/reports/follow-up", key);
    ck_assert_msg(r->status == 200 && strstr(r->body, "\"waiting\":2"), "%s", r->body);
    resp_free(r);
    /* overdue: past LEADLOOP_SLA_HOURS (24 in the tests' daemon) */
    ck_assert_int_eq(list_ids("overdue=true", got, sizeof got), 200);
    ck_assert_str_eq(got, older);
    /* newest first on request, and paging keeps the order */
    ck_assert_int_eq(list_ids("awaiting_feedback=true&sort=-waiting_since", got, sizeof got), 200);
    snprintf(want, sizeof want, "%s %s", newer, older);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(list_ids("awaiting_feedback=true&limit=1", got, sizeof got), 200);
    ck_assert_str_eq(got, older);
    r = get("/v1/leads?awaiting_feedback=true&limit=1", key);
    char next[400];
    snprintf(next, sizeof next, "awaiting_feedback=true&limit=1&cursor=%s",
             json_string_value(json_object_get(r->json, "next_cursor")));
    resp_free(r);
    ck_assert_int_eq(list_ids(next, got, sizeof got), 200);
    ck_assert_str_eq(got, newer);
    /* other filters combine */
    ck_assert_int_eq(list_ids("awaiting_feedback=true&stage=new", got, sizeof got), 200);
    ck_assert_str_eq(got, "");
    /* recycled and due back: only the one whose day has come */
    ck_assert_int_eq(list_ids("recycle_due=true", got, sizeof got), 200);
    ck_assert_str_eq(got, recycled);
}
END_TEST

START_TEST(owner_me_is_the_callers_user)
{
    char body[200], user[40], user_key[64], mine[40], theirs[40], got[200];
    snprintf(body, sizeof body,
             "{\"name\":\"Seller\",\"email\":\"seller-%d@worklists.example\",\"team\":\"sales\"}",
             (int)getpid());
    struct resp *r = post("/v1/users", key, body);
    ck_assert_int_eq(r->status, 201);
    snprintf(user, sizeof user, "%s", jstr(r, "id"));
    resp_free(r);
    snprintf(body, sizeof body, "{\"name\":\"seller key\",\"role\":\"sales\",\"user_id\":\"%s\"}",
             user);
    r = post("/v1/api-keys", key, body);
    ck_assert_int_eq(r->status, 201);
    snprintf(user_key, sizeof user_key, "%s", jstr(r, "secret"));
    resp_free(r);
    lead("mine", "mql", user, mine);
    lead("theirs", "mql", NULL, theirs);
    r = get("/v1/leads?owner_id=me&awaiting_feedback=true", user_key);
    ck_assert_msg(r->status == 200 && json_array_size(json_object_get(r->json, "data")) == 1 &&
                      strstr(r->body, mine) && !strstr(r->body, theirs),
                  "%ld %s", r->status, r->body);
    resp_free(r);
    /* a key without a user has no "me" */
    r = get("/v1/leads?owner_id=me", key);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert(problem_names(r, "owner_id"));
    resp_free(r);
    ck_assert_int_eq(list_ids("owner_id=me", got, sizeof got), 400);
}
END_TEST

START_TEST(bad_work_list_parameters_are_named)
{
    static const char *const bad[][2] = {
        {"awaiting_feedback=yes", "awaiting_feedback"},
        {"overdue=false", "overdue"},
        {"recycle_due=1", "recycle_due"},
        {"recycle_due=true&awaiting_feedback=true", "recycle_due"},
        {"sort=waiting_since", "sort"},
        {"sort=recycle_on&awaiting_feedback=true", "sort"},
        {"owner_id=you", "owner_id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[200];
        snprintf(path, sizeof path, "/v1/leads?%s", bad[i][0]);
        struct resp *r = get(path, key);
        assert_problem(r, 400, "invalid-parameter");
        ck_assert_msg(problem_names(r, bad[i][1]), "%s: %s", bad[i][0], r->body);
        resp_free(r);
    }
}
END_TEST

Suite *worklists_suite(void)
{
    Suite *s = suite_create("worklists");
    TCase *tc = tcase_create("worklists");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, awaiting_overdue_and_recycled_leads_come_oldest_first);
    tcase_add_test(tc, owner_me_is_the_callers_user);
    tcase_add_test(tc, bad_work_list_parameters_are_named);
    suite_add_tcase(s, tc);
    return s;
}
