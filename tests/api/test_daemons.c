/* Three daemons on one database, their clients spread over them (issue 16's many
 * daemons): started at once on a fresh database, they migrate it once between them; an
 * Idempotency-Key sent to all three at once makes one lead; one key's rate limit holds
 * across them; the change feed read through one daemon has every write made through the
 * others, once; webhooks of writes made through all three, with three dispatchers and
 * their senders running, reach their endpoints once per change. The databases are their
 * own, so that the counts are exact. */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checks.h"
#include "receiver.h"
#include "suites.h"
#include "support.h"

#define NDAEMONS 3
/* The rate limit of every key on these daemons: a burst, then this many a second. */
#define RATE_BURST "40"
#define RATE_PER_S "2"

static const char *const three_env[] = {"LEADLOOP_RATE_PER_S=" RATE_PER_S,
                                        "LEADLOOP_RATE_BURST=" RATE_BURST, NULL};

struct td_starter {
    struct daemon d;
    bool ok;
};

/* The numbered migrations in LL_MIGRATIONS (sql/NNNN_name.sql). */
static long migrations_on_disk(void)
{
    DIR *dir = opendir(env_or_die("LL_MIGRATIONS"));
    struct dirent *e;
    long n = 0;
    ck_assert_ptr_nonnull(dir);
    while ((e = readdir(dir)))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && strstr(e->d_name, ".sql"))
            n++;
    closedir(dir);
    return n;
}

struct td_racer {
    struct daemon *d;
    const char *key;
    long status;
    char id[40];
    char body[300];
};

static void *race_run(void *arg)
{
    struct td_racer *r = arg;
    const char *headers[] = {"Content-Type: application/json",
                             "Idempotency-Key: three-daemons-race-1", NULL};
    static const char body[] = "{\"email\":\"race@three.example\",\"source\":\"web\"}";
    struct resp *a = req(r->d, "POST", "/v1/leads", r->key, headers, body, strlen(body));
    r->status = a->status;
    snprintf(r->id, sizeof r->id, "%s", a->status == 201 && jstr(a, "id") ? jstr(a, "id") : "");
    snprintf(r->body, sizeof r->body, "%.290s", a->body ? a->body : "");
    resp_free(a);
    return NULL;
}

START_TEST(three_daemons_on_one_database)
{
    struct td_starter st[NDAEMONS];
    pthread_t th[NDAEMONS * 3];
    struct td_racer racers[NDAEMONS * 3];
    char url[512], key[64], rate_key[64];
    int created = 0;

    fresh_database("ll_three", url, sizeof url);
    setenv("LL_TEST_DATABASE_URL", url, 1);

    /* 1. Started at once on an empty database: each migrates before it serves (one at a
     * time, by an advisory lock); all three come up and the migrations are there once. */
    for (int k = 0; k < NDAEMONS; k++)
        daemon_spawn(&st[k].d, three_env);
    for (int k = 0; k < NDAEMONS; k++)
        st[k].ok = daemon_ready(&st[k].d);
    for (int k = 0; k < NDAEMONS; k++)
        ck_assert_msg(st[k].ok, "daemon %d of %d started at once did not come up", k + 1, NDAEMONS);
    PGconn *pg = pg_db("ll_three");
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM schema_migrations"), migrations_on_disk());
    ck_assert(workspace_key("three", "admin", key));
    ck_assert(workspace_key("three-rate", "admin", rate_key));

    /* 2. One Idempotency-Key, sent three times to each daemon at once: one lead; every
     * answer is that lead (the first try or its replay) or 409 (the first try still ran). */
    for (int i = 0; i < NDAEMONS * 3; i++) {
        racers[i] = (struct td_racer){.d = &st[i % NDAEMONS].d, .key = key};
        ck_assert_int_eq(pthread_create(&th[i], NULL, race_run, &racers[i]), 0);
    }
    for (int i = 0; i < NDAEMONS * 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NDAEMONS * 3; i++) {
        ck_assert_msg(racers[i].status == 201 || racers[i].status == 409, "try %d answered %ld: %s",
                      i, racers[i].status, racers[i].body);
        if (racers[i].status != 201)
            continue;
        ck_assert_msg(!created || !strcmp(racers[i].id, racers[0].id) ||
                          !strcmp(racers[i].id, racers[created - 1].id),
                      "two leads for one key: %s and %s", racers[i].id, racers[created - 1].id);
        racers[created++] = racers[i]; /* the 201s gather at the front */
    }
    ck_assert_msg(created >= 1, "no try of the key was answered 201");
    for (int i = 1; i < created; i++)
        ck_assert_str_eq(racers[i].id, racers[0].id);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads WHERE email = 'race@three.example'"),
                     1);

    /* 3. The change feed read through the first daemon has each lead made through any of
     * them, once. */
    char ids[30][40], path[320], cursor[200] = "";
    for (int i = 0; i < 30; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"email\":\"feed%d@three.example\",\"source\":\"web\"}", i);
        struct resp *c =
            req(&st[i % NDAEMONS].d, "POST", "/v1/leads", key,
                (const char *[]){"Content-Type: application/json", NULL}, body, strlen(body));
        expect_status(c, 201, body);
        snprintf(ids[i], sizeof ids[i], "%s", jstr(c, "id"));
        resp_free(c);
    }
    int seen[30] = {0};
    for (int page = 0; page < 50; page++) {
        snprintf(path, sizeof path, "/v1/changes?limit=100%s%s", cursor[0] ? "&after=" : "",
                 cursor);
        struct resp *f = req(&st[0].d, "GET", path, key, NULL, NULL, 0);
        expect_status(f, 200, path);
        json_t *data = json_object_get(f->json, "data"), *ch;
        size_t j;
        json_array_foreach(data, j, ch)
        {
            const char *type = json_string_value(json_object_get(ch, "type"));
            const char *id = json_string_value(json_object_get(ch, "entity_id"));
            for (int i = 0; type && id && !strcmp(type, "lead.created") && i < 30; i++)
                if (!strcmp(id, ids[i]))
                    seen[i]++;
        }
        bool more = json_is_true(json_object_get(f->json, "has_more"));
        snprintf(cursor, sizeof cursor, "%s", jstr(f, "next_cursor") ? jstr(f, "next_cursor") : "");
        resp_free(f);
        if (!more)
            break;
    }
    for (int i = 0; i < 30; i++)
        ck_assert_msg(seen[i] == 1, "lead %d (%s, made through daemon %d) is in the feed %d times",
                      i, ids[i], i % NDAEMONS + 1, seen[i]);

    /* 4. One key's rate limit across the three: requests spread over them are let through
     * no more than the burst and the rate since the first allow. */
    int allowed = 0, limited = 0;
    long t0 = sock_now_ms();
    for (int i = 0; i < 120; i++) {
        struct resp *g =
            req(&st[i % NDAEMONS].d, "GET", "/v1/leads?limit=1", rate_key, NULL, NULL, 0);
        ck_assert_msg(g->status == 200 || g->status == 429, "GET %d answered %ld: %s", i, g->status,
                      g->body);
        if (g->status == 200)
            allowed++;
        else
            limited++;
        resp_free(g);
    }
    double secs = (double)(sock_now_ms() - t0) / 1000.0;
    ck_assert_msg(limited > 0, "120 requests at once, none limited (burst " RATE_BURST ")");
    ck_assert_msg(
        allowed <= atoi(RATE_BURST) + atoi(RATE_PER_S) * secs + 1,
        "%d of 120 allowed in %.1f s across %d daemons: more than the burst of " RATE_BURST
        " and " RATE_PER_S " a second",
        allowed, secs, NDAEMONS);
    ck_assert_msg(allowed >= 1, "none of 120 allowed");
    fprintf(stderr,
            "daemons: %d started at once; one key %d times at once: %d answered 201 (one lead),"
            " %d 409; 30 leads through all three, each once in one daemon's feed; 120 GETs: %d"
            " allowed, %d limited in %.2f s\n",
            NDAEMONS, NDAEMONS * 3, created, NDAEMONS * 3 - created, allowed, limited, secs);

    for (int k = 0; k < NDAEMONS; k++)
        ck_assert_int_eq(daemon_stop(&st[k].d, SIGTERM), 0);
    PQfinish(pg);
}
END_TEST

/* There: the GET of one lead is waiting for a lock (pg_locks has an ungranted one). */
static bool lead_read_waits(void *arg)
{
    return pg_long(arg, "SELECT count(*) FROM pg_locks WHERE NOT granted AND"
                        " relation = 'leads'::regclass") > 0;
}

struct td_get {
    struct daemon *d;
    const char *key, *id;
    long status, ms;
};

static void *get_run(void *arg)
{
    struct td_get *g = arg;
    char path[96];
    long t0 = sock_now_ms();
    snprintf(path, sizeof path, "/v1/leads/%s", g->id);
    struct resp *r = req(g->d, "GET", path, g->key, NULL, NULL, 0);
    g->status = r->status;
    g->ms = sock_now_ms() - t0;
    resp_free(r);
    return NULL;
}

/* With no statement timeout (LEADLOOP_STATEMENT_TIMEOUT_MS=0) a point read on the loop's
 * pipelined connection waits as long as its statement does: held 1 s behind a lock, it
 * still answers 200 (the pipeline's deadline is the timeout plus 0.5 s, and none here). */
START_TEST(a_pipelined_read_without_a_statement_timeout_waits_for_its_lock)
{
    const char *env[] = {"LEADLOOP_STATEMENT_TIMEOUT_MS=0", NULL};
    char key[64], id[40];
    struct daemon d;
    pthread_t th;
    ck_assert(workspace_key("pipe-wait", "admin", key));
    create("/v1/leads", key, "{\"email\":\"pipe.wait@example.com\"}", id);
    ck_assert(daemon_start(&d, env));
    PGconn *locker = pg_test(), *watch = pg_test();
    pg_ok(locker, "BEGIN");
    pg_ok(locker, "LOCK TABLE leads IN ACCESS EXCLUSIVE MODE");
    struct td_get g = {.d = &d, .key = key, .id = id};
    ck_assert_int_eq(pthread_create(&th, NULL, get_run, &g), 0);
    ck_assert_msg(wait_until(lead_read_waits, watch, 10000), "the GET never waited for the lock");
    struct timespec hold = {1, 0}; /* the scene: the lock is held 1 s past the GET's arrival */
    nanosleep(&hold, NULL);
    pg_ok(locker, "COMMIT");
    pthread_join(th, NULL);
    ck_assert_msg(g.status == 200, "GET behind a lock held 1 s answered %ld after %ld ms", g.status,
                  g.ms);
    ck_assert_msg(g.ms >= 1000, "answered after %ld ms, before the lock went", g.ms);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
    PQfinish(locker);
    PQfinish(watch);
}
END_TEST

/* ------------------------------------------------------------------ webhooks */

/* Each of the three daemons dispatches and sends (two senders each), to 127.0.0.1. The
 * lease is far beyond the run: no attempt is retried because it seemed lost, so a second
 * request for one change could only be two daemons delivering it. */
static const char *const hook_env[] = {"LEADLOOP_WEBHOOK_SENDERS=2",
                                       "LEADLOOP_WEBHOOK_ALLOW_PRIVATE=1",
                                       "LEADLOOP_WEBHOOK_RETRY_MIN_MS=50",
                                       "LEADLOOP_WEBHOOK_RETRY_MAX_MS=400",
                                       "LEADLOOP_WEBHOOK_TIMEOUT_MS=2000",
                                       "LEADLOOP_WEBHOOK_LEASE_S=120",
                                       NULL};

/* One workspace of the test: its key, its endpoint's receiver, the changes it had before
 * the endpoint was made (its endpoint gets those after). */
struct td_hooked {
    char slug[32], key[64], ws[40], endpoint[40];
    struct receiver *rc;
    long before;
};

struct td_delivered {
    PGconn *pg;
    const struct td_hooked *w;
    long want;
};

static bool all_delivered(void *arg)
{
    struct td_delivered *p = arg;
    char *v = pg_value_p(p->pg,
                         "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1"
                         " AND status = 'delivered'",
                         p->w->endpoint);
    long n = atol(v);
    free(v);
    return n >= p->want;
}

/* The workspace's changes after its endpoint was made. */
static long changes_since(PGconn *pg, const struct td_hooked *w)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM changes WHERE workspace_id = '%s' AND seq > %ld", w->ws,
             w->before);
    return pg_long(pg, sql);
}

/* What w's receiver got, against the workspace's changes after its endpoint was made:
 * every one arrived exactly once (by its seq, the change's id), under a webhook-id of its
 * own, signed with the endpoint's secret, and nothing else arrived (no change of the other
 * workspace). Mismatches go to rep. The product promises no order of deliveries
 * (openapi.yaml, createWebhook), so none is checked. */
static void check_deliveries(PGconn *pg, const struct td_hooked *w, struct report *rep)
{
    char sql[256];
    size_t n = receiver_count(w->rc);
    snprintf(sql, sizeof sql,
             "SELECT seq FROM changes WHERE workspace_id = '%s' AND seq > %ld ORDER BY seq", w->ws,
             w->before);
    PGresult *res = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    int want = PQntuples(res);
    int *times = calloc((size_t)want + 1, sizeof *times);
    ck_assert_ptr_nonnull(times);
    for (size_t i = 0; i < n; i++) {
        const struct receiver_entry *e = receiver_entry(w->rc, i);
        if (!e->verified || !e->json) {
            report_add(rep, "%s: request %zu (webhook-id %s) is not a verified JSON delivery",
                       w->slug, i, e->id);
            continue;
        }
        long long seq = (long long)json_integer_value(json_object_get(e->json, "seq"));
        int k = 0;
        while (k < want && atoll(PQgetvalue(res, k, 0)) != seq)
            k++;
        if (k == want)
            report_add(rep, "%s: change %lld arrived, not one of the workspace's new changes",
                       w->slug, seq);
        else
            times[k]++;
    }
    for (int k = 0; k < want; k++)
        if (times[k] != 1)
            report_add(rep, "%s: change %s arrived %d times", w->slug, PQgetvalue(res, k, 0),
                       times[k]);
    if (receiver_duplicates(w->rc) != 0)
        report_add(rep, "%s: %zu requests repeated a webhook-id", w->slug,
                   receiver_duplicates(w->rc));
    free(times);
    PQclear(res);
}

START_TEST(webhooks_of_writes_through_three_daemons_arrive_once_per_change)
{
    struct daemon d[NDAEMONS];
    struct td_hooked w[2];
    struct report rep = {0};
    char url[512], body[1024], path[512], hook[128];
    const char *json[] = {"Content-Type: application/json", NULL};
    const char *merge[] = {"Content-Type: application/merge-patch+json", NULL};

    fresh_database("ll_three_hooks", url, sizeof url);
    setenv("LL_TEST_DATABASE_URL", url, 1);
    for (int k = 0; k < NDAEMONS; k++)
        ck_assert_msg(daemon_start(&d[k], hook_env), "daemon %d did not start (log %s)", k + 1,
                      d[k].log);
    PGconn *pg = pg_db("ll_three_hooks");

    /* two workspaces, each with an endpoint (made through a different daemon) */
    for (int i = 0; i < 2; i++) {
        snprintf(w[i].slug, sizeof w[i].slug, "three-hooks-%d", i + 1);
        ck_assert(workspace_key(w[i].slug, "admin", w[i].key));
        char *ws = pg_value_p(pg, "SELECT id FROM workspaces WHERE slug = $1", w[i].slug);
        snprintf(w[i].ws, sizeof w[i].ws, "%s", ws);
        free(ws);
        char *before = pg_value_p(
            pg, "SELECT coalesce(max(seq), 0) FROM changes WHERE workspace_id = $1", w[i].ws);
        w[i].before = atol(before);
        free(before);
        w[i].rc = receiver_start(NULL);
        receiver_url(w[i].rc, "/hook", hook, sizeof hook);
        snprintf(body, sizeof body, "{\"url\":\"%s\"}", hook);
        struct resp *r = req(&d[i], "POST", "/v1/webhooks", w[i].key, json, body, strlen(body));
        expect_status(r, 201, "POST /v1/webhooks");
        snprintf(w[i].endpoint, sizeof w[i].endpoint, "%s", jstr(r, "id"));
        receiver_set_secret(w[i].rc, jstr(r, "secret"));
        resp_free(r);
    }

    /* writes through all three, in both workspaces, while all three dispatch: leads one
     * by one, an edit of each of half of them through the next daemon, and a batch */
    enum { SINGLE = 24, BATCH_SIZE = 200 };
    for (int i = 0; i < SINGLE; i++)
        for (int k = 0; k < 2; k++) {
            snprintf(body, sizeof body, "{\"email\":\"hook%d@%s.example\",\"source\":\"web\"}", i,
                     w[k].slug);
            struct resp *c =
                req(&d[i % NDAEMONS], "POST", "/v1/leads", w[k].key, json, body, strlen(body));
            expect_status(c, 201, body);
            if (i % 2 == 0) {
                snprintf(path, sizeof path, "/v1/leads/%s", jstr(c, "id"));
                struct resp *u =
                    req(&d[(i + 1) % NDAEMONS], "PATCH", path, w[k].key, merge,
                        "{\"company\":\"Edited\"}", strlen("{\"company\":\"Edited\"}"));
                expect_status(u, 200, path);
                resp_free(u);
            }
            resp_free(c);
        }
    for (int k = 0; k < 2; k++) {
        size_t cap = BATCH_SIZE * 64 + 32, len;
        char *batch = malloc(cap);
        ck_assert_ptr_nonnull(batch);
        len = (size_t)snprintf(batch, cap, "{\"leads\":[");
        for (int i = 0; i < BATCH_SIZE; i++)
            len += (size_t)snprintf(batch + len, cap - len, "%s{\"email\":\"b%d@%s.example\"}",
                                    i ? "," : "", i, w[k].slug);
        snprintf(batch + len, cap - len, "]}");
        struct resp *b =
            req(&d[2 - k], "POST", "/v1/leads/batch", w[k].key, json, batch, strlen(batch));
        expect_status(b, 200, "POST /v1/leads/batch");
        resp_free(b);
        free(batch);
    }

    long want[2];
    for (int k = 0; k < 2; k++) {
        want[k] = changes_since(pg, &w[k]);
        ck_assert_msg(want[k] >= SINGLE + SINGLE / 2 + BATCH_SIZE,
                      "%s: expected at least %d new changes, found %ld", w[k].slug,
                      SINGLE + SINGLE / 2 + BATCH_SIZE, want[k]);
        struct td_delivered p = {pg, &w[k], want[k]};
        ck_assert_msg(wait_until(all_delivered, &p, 120000),
                      "%s: %zu requests received for %ld changes in 120 s", w[k].slug,
                      receiver_count(w[k].rc), want[k]);
        /* nothing more arrives: a late duplicate would show in this time */
        ck_assert(!receiver_wait_count(w[k].rc, (size_t)want[k] + 1, 500));
        check_deliveries(pg, &w[k], &rep);
    }
    ck_assert_msg(rep.failed == 0, "%d mismatches:\n%s", rep.failed, rep.text);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM webhook_deliveries WHERE attempts <> 1"), 0);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM webhook_deliveries"), want[0] + want[1]);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM webhook_deliveries WHERE status <> "
                                 "'delivered'"),
                     0);
    fprintf(stderr,
            "daemons: webhooks of %ld and %ld changes written through %d daemons, %zu and %zu"
            " requests, each change once\n",
            want[0], want[1], NDAEMONS, receiver_count(w[0].rc), receiver_count(w[1].rc));

    for (int k = 0; k < NDAEMONS; k++)
        ck_assert_int_eq(daemon_stop(&d[k], SIGTERM), 0);
    for (int k = 0; k < 2; k++)
        receiver_stop(w[k].rc);
    free(rep.text);
    PQfinish(pg);
}
END_TEST

Suite *daemons_suite(void)
{
    Suite *s = suite_create("daemons");
    TCase *tc = tcase_create("three_on_one_database");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, three_daemons_on_one_database);
    suite_add_tcase(s, tc);
    TCase *tc_hooks = tcase_create("webhooks_across_daemons");
    tcase_set_timeout(tc_hooks, 240);
    tcase_add_test(tc_hooks, webhooks_of_writes_through_three_daemons_arrive_once_per_change);
    suite_add_tcase(s, tc_hooks);
    TCase *tc_pipe = tcase_create("pipelined_reads");
    tcase_set_timeout(tc_pipe, 60);
    tcase_add_test(tc_pipe, a_pipelined_read_without_a_statement_timeout_waits_for_its_lock);
    suite_add_tcase(s, tc_pipe);
    return s;
}
