/* Scenario 5: the daemon is killed (SIGKILL) in the middle of a write: a batch of leads,
 * a CSV import, and a CSV import with an Idempotency-Key. Each is caught at a known point
 * (its statement waits for a row lock the test holds on one lead) and the database must
 * hold all or nothing of each transaction: nothing of the batch, the import's committed
 * chunks of 1,000 rows whole (the import commits per chunk, as documented), and so for the
 * keyed import, which commits its progress with each chunk; a retry of the keyed import
 * goes on after its committed chunk and writes each lead once. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "scenarios.h"

#define LOCKED      "locked@faults.test"
#define BATCH_NEW   500
#define IMPORT_ROWS 2500 /* the locked lead is row 1500: in the second chunk */

struct posted {
    const char *path;
    const char *const *headers;
    char *body;
    size_t len;
    long status;
};

static bool post_once_step(struct client *c)
{
    struct posted *p = c->load->arg;
    p->status = client_request(c, "POST", p->path, p->headers, p->body, p->len);
    return false;
}

static bool lock_waiter(void *arg)
{
    PGconn *pg = scene_pg(arg);
    long n = pg_long(pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                         " 'leadloopd' AND datname = current_database() AND wait_event_type ="
                         " 'Lock'");
    PQfinish(pg);
    return n > 0;
}

static bool no_daemon_backend(void *arg)
{
    return scene_daemon_backends(arg) == 0;
}

/* Sends p while the test holds LOCKED's row, kills the daemon once the request waits for
 * it, then lets go. Returns whether the request's transaction had written (it had an xid)
 * when it was killed. */
static bool kill_while_blocked(struct scene *s, PGconn *locker, struct posted *p, const char *what)
{
    struct load l;
    bool wrote;
    pg_ok(locker, "BEGIN");
    pg_ok(locker, "SELECT 1 FROM leads WHERE email = '" LOCKED "' FOR UPDATE");
    load_start(&l, s, 1, post_once_step, p, 1e9, 60000);
    ck_assert_msg(wait_until(lock_waiter, s, 30000), "%s never reached the locked lead", what);
    wrote = pg_long(locker, "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                            " 'leadloopd' AND wait_event_type = 'Lock'"
                            " AND backend_xid IS NOT NULL") > 0;
    ck_assert_int_eq(kill(s->d.pid, SIGKILL), 0);
    ck_assert_int_eq(daemon_wait(&s->d), 128 + SIGKILL);
    load_stop(&l);
    load_free(&l);
    ck_assert_msg(p->status == 0, "%s was answered %ld before the kill", what, p->status);
    pg_ok(locker, "COMMIT");
    ck_assert_msg(wait_until(no_daemon_backend, s, 15000), "the killed daemon's backends stayed");
    return wrote;
}

/* Leads whose email starts with prefix, and how many of them are whole: with their first
 * stage change and their change-feed row. */
static void count_leads(PGconn *pg, const char *prefix, long *leads, long *whole)
{
    static const char sql[] =
        "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM lead_stage_changes c"
        " WHERE c.workspace_id = l.workspace_id AND c.lead_id = l.id) AND EXISTS (SELECT 1"
        " FROM changes f WHERE f.workspace_id = l.workspace_id AND f.type = 'lead.created'"
        " AND f.lead_id = l.id)) FROM leads l WHERE l.email LIKE $1 || '%'";
    const char *vals[1] = {prefix};
    PGresult *res = PQexecParams(pg, sql, 1, NULL, vals, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    *leads = atol(PQgetvalue(res, 0, 0));
    *whole = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
}

/* A CSV of IMPORT_ROWS rows "<prefix><n>@faults.test", LOCKED as row 1500. New string. */
static char *csv_rows(const char *prefix, size_t *len)
{
    size_t cap = 64 + IMPORT_ROWS * 48, n = 0;
    char *csv = malloc(cap);
    ck_assert(csv);
    n += (size_t)snprintf(csv + n, cap - n, "email,title\n");
    for (int i = 1; i <= IMPORT_ROWS; i++) {
        if (i == 1500)
            n += (size_t)snprintf(csv + n, cap - n, LOCKED ",imported\n");
        else
            n += (size_t)snprintf(csv + n, cap - n, "%s%d@faults.test,imported\n", prefix, i);
    }
    *len = n;
    return csv;
}

START_TEST(daemon_killed_mid_write)
{
    const char *env[] = {FAULT_ENV, "LEADLOOP_STATEMENT_TIMEOUT_MS=60000", NULL};
    static const char *const json_ct[] = {"Content-Type: application/json", NULL};
    static const char *const csv_ct[] = {"Content-Type: text/csv", NULL};
    static const char *const csv_key[] = {"Content-Type: text/csv", "Idempotency-Key: import-k",
                                          NULL};
    struct scene s;
    struct posted batch = {"/v1/leads/batch", json_ct, NULL, 0, 0};
    struct posted import = {"/v1/leads/import", csv_ct, NULL, 0, 0};
    struct posted keyed = {"/v1/leads/import", csv_key, NULL, 0, 0};
    long b_leads, b_whole, i_leads, i_whole, k_leads, k_whole, k2_leads, k2_whole, orphans;
    bool b_wrote, i_wrote, k_wrote;
    size_t cap = 64 + BATCH_NEW * 48, n = 0;
    PGconn *pg;
    struct resp *r;

    scene_begin(&s, "kill", env);
    r = req(&s.d, "POST", "/v1/leads", s.key, json_ct, "{\"email\":\"" LOCKED "\"}",
            strlen("{\"email\":\"" LOCKED "\"}"));
    ck_assert_msg(r->status == 201, "creating the locked lead: %ld %s", r->status, r->body);
    resp_free(r);
    pg = scene_pg(&s);

    /* A batch: its new leads are written first, then the update of LOCKED waits. */
    batch.body = malloc(cap);
    ck_assert(batch.body);
    n += (size_t)snprintf(batch.body + n, cap - n, "{\"mode\":\"upsert\",\"leads\":[");
    for (int i = 0; i < BATCH_NEW; i++)
        n += (size_t)snprintf(batch.body + n, cap - n, "{\"email\":\"b%d@faults.test\"},", i);
    n += (size_t)snprintf(batch.body + n, cap - n, "{\"email\":\"" LOCKED "\",\"title\":\"x\"}]}");
    batch.len = n;
    b_wrote = kill_while_blocked(&s, pg, &batch, "the batch");
    count_leads(pg, "b", &b_leads, &b_whole);

    /* A CSV import: chunk 1 (rows 1-1000) commits, chunk 2 waits for LOCKED. */
    scene_daemon_start(&s, env);
    import.body = csv_rows("i", &import.len);
    i_wrote = kill_while_blocked(&s, pg, &import, "the import");
    count_leads(pg, "i", &i_leads, &i_whole);

    /* The same with an Idempotency-Key: chunk 1 commits with the import's progress. */
    scene_daemon_start(&s, env);
    keyed.body = csv_rows("k", &keyed.len);
    k_wrote = kill_while_blocked(&s, pg, &keyed, "the keyed import");
    count_leads(pg, "k", &k_leads, &k_whole);

    /* Its retry with the same key goes on after chunk 1 and writes each lead once; a second
     * retry replays the answer. */
    scene_daemon_start(&s, env);
    r = req(&s.d, "POST", keyed.path, s.key, csv_key, keyed.body, keyed.len);
    ck_assert_msg(r->status == 200, "retried import: %ld %s", r->status, r->body);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "created")), IMPORT_ROWS - 1);
    resp_free(r);
    r = req(&s.d, "POST", keyed.path, s.key, csv_key, keyed.body, keyed.len);
    {
        char *replayed = resp_header(r, "Idempotent-Replayed");
        ck_assert_msg(r->status == 200 && replayed && !strcmp(replayed, "true"),
                      "second retry: %ld, replayed %s", r->status, replayed ? replayed : "-");
        free(replayed);
    }
    resp_free(r);
    count_leads(pg, "k", &k2_leads, &k2_whole);
    orphans = pg_long(pg, "SELECT count(*) FROM changes f WHERE f.entity = 'lead' AND NOT EXISTS"
                          " (SELECT 1 FROM leads l WHERE l.workspace_id = f.workspace_id"
                          " AND l.id = f.lead_id)");

    fault_report("daemon-sigkill",
                 "batch: new=%d wrote_before_kill=%s rows=%ld whole=%ld; import: rows=%d "
                 "wrote_before_kill=%s rows=%ld whole=%ld (chunk 1 of 1000); keyed import: "
                 "wrote_before_kill=%s rows=%ld, after retry rows=%ld whole=%ld; orphans=%ld",
                 BATCH_NEW, b_wrote ? "yes" : "no", b_leads, b_whole, IMPORT_ROWS,
                 i_wrote ? "yes" : "no", i_leads, i_whole, k_wrote ? "yes" : "no", k_leads,
                 k2_leads, k2_whole, orphans);
    ck_assert_msg(b_wrote && i_wrote && k_wrote, "a write was killed before it wrote anything");
    ck_assert_msg(b_leads == 0, "a killed batch left %ld of its leads", b_leads);
    ck_assert_msg(i_leads == 1000 && i_whole == 1000,
                  "a killed import must leave its committed chunk whole: %ld leads, %ld whole",
                  i_leads, i_whole);
    ck_assert_msg(k_leads == 1000 && k_whole == 1000,
                  "a killed keyed import must leave its committed chunk whole: %ld leads, %ld"
                  " whole",
                  k_leads, k_whole);
    ck_assert_msg(k2_leads == IMPORT_ROWS - 1 && k2_whole == k2_leads,
                  "the retried import: %ld leads, %ld whole", k2_leads, k2_whole);
    ck_assert_msg(orphans == 0, "%ld change-feed rows name no lead", orphans);
    free(batch.body);
    free(import.body);
    free(keyed.body);
    PQfinish(pg);
    scene_end(&s);
}
END_TEST

TCase *daemon_kill_tcase(void)
{
    TCase *tc = tcase_create("daemon_kill");
    tcase_add_test(tc, daemon_killed_mid_write);
    tcase_set_timeout(tc, 180);
    return tc;
}
