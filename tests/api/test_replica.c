/* The read replica (DATABASE_READ_URL, issue 16): a real streaming replica of the
 * harness's cluster, made with pg_basebackup -R on loopback (tests/api/replica.sh), and
 * daemons that read lists and reports from it. Replay paused on the replica
 * (pg_wal_replay_pause) makes its lag deterministic: no sleep synchronises anything here,
 * every wait polls a condition up to a deadline. Each test starts a daemon of its own
 * (the counters in /metrics are its own) on the shared test database, and names its rows
 * uniquely. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "suites.h"
#include "support.h"

static char repl_dir[512], repl_url[512], repl_script[600];
static bool repl_ok;

/* Runs tests/api/replica.sh with args; true on exit 0. */
static bool replica_sh(const char *args)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "bash '%s' %s", repl_script, args);
    return system(cmd) == 0;
}

/* Once for the test case, in the runner: the replica, on a port of its own. */
static void replica_setup(void)
{
    const char *primary = env_or_die("LL_TEST_DATABASE_URL"), *at;
    char args[700];
    int port = free_port();
    snprintf(repl_script, sizeof repl_script, "%s/../api/replica.sh", env_or_die("LL_TEST_DATA"));
    /* in /tmp, where the postgres user reaches it (LL_TEST_TMP is the runner's alone) */
    snprintf(repl_dir, sizeof repl_dir, "/tmp/leadloop-replica.XXXXXX");
    if (!mkdtemp(repl_dir)) {
        repl_dir[0] = '\0';
        return;
    }
    /* the primary's URL, postgresql://USER@127.0.0.1:PORT/leadloop_test, on the replica's port */
    at = strstr(primary, "127.0.0.1:");
    if (!at)
        return;
    snprintf(repl_url, sizeof repl_url, "%.*s127.0.0.1:%d%s", (int)(at - primary), primary, port,
             strchr(at + 10, '/'));
    snprintf(args, sizeof args, "create '%s' %d", repl_dir, port);
    repl_ok = replica_sh(args);
    if (!repl_ok)
        fprintf(stderr, "replica suite: tests/api/replica.sh %s failed\n", args);
}

static void replica_teardown(void)
{
    char args[600];
    snprintf(args, sizeof args, "destroy '%s'", repl_dir);
    if (repl_dir[0] && !replica_sh(args))
        fprintf(stderr, "replica suite: could not destroy the replica in %s\n", repl_dir);
}

static PGconn *replica_pg(void)
{
    PGconn *pg = PQconnectdb(repl_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "cannot connect to the replica %s: %s", repl_url,
                  PQerrorMessage(pg));
    return pg;
}

static bool replay_paused(void *arg)
{
    char *state = pg_value(arg, "SELECT pg_get_wal_replay_pause_state()");
    bool paused = !strcmp(state, "paused");
    free(state);
    return paused;
}

/* Replay on the replica paused (true) or running; a pause is known to have taken hold
 * ("pause requested" turns "paused" between two records). */
static void replay(bool pause)
{
    PGconn *pg = replica_pg();
    pg_ok(pg, pause ? "SELECT pg_wal_replay_pause()" : "SELECT pg_wal_replay_resume()");
    ck_assert_msg(!pause || wait_until(replay_paused, pg, 10000), "replay never paused");
    PQfinish(pg);
}

/* Rows on the replica itself that match sql with $1 = param. */
static long replica_count(const char *sql, const char *param)
{
    PGconn *pg = replica_pg();
    char *v = pg_value_p(pg, sql, param);
    long n = atol(v);
    free(v);
    PQfinish(pg);
    return n;
}

static bool replica_has_lead(void *email)
{
    return replica_count("SELECT count(*) FROM leads WHERE email = $1", email) == 1;
}

/* A sample from d's /metrics: name, with its labels if any ("x{reason=\"lag\"}"). */
static double metric_of(struct daemon *d, const char *name)
{
    char line[160];
    struct resp *r = req(d, "GET", "/metrics", NULL, NULL, NULL, 0);
    const char *at;
    double v;
    expect_status(r, 200, "/metrics");
    snprintf(line, sizeof line, "\n%s ", name);
    at = strstr(r->body, line);
    ck_assert_msg(at, "/metrics has no %s", name);
    v = atof(at + strlen(line));
    resp_free(r);
    return v;
}

#define READS      "leadloop_replica_reads_total"
#define SKIPPED(r) "leadloop_replica_skipped_total{reason=\"" r "\"}"

/* A daemon reading from the replica, with this lag bound and one more setting (or NULL). */
static void start_daemon_with(struct daemon *d, const char *max_lag_ms, const char *more)
{
    char url[600], lag[64];
    ck_assert_msg(repl_ok, "no replica: tests/api/replica.sh create failed (see above)");
    snprintf(url, sizeof url, "up '%s'", repl_dir); /* whatever an earlier test left */
    ck_assert_msg(replica_sh(url), "the replica is not running and cannot be started");
    snprintf(url, sizeof url, "DATABASE_READ_URL=%s", repl_url);
    snprintf(lag, sizeof lag, "LEADLOOP_READ_MAX_LAG_MS=%s", max_lag_ms);
    ck_assert(daemon_start(d, (const char *[]){url, lag, more, NULL}));
}

static void start_daemon(struct daemon *d, const char *max_lag_ms)
{
    start_daemon_with(d, max_lag_ms, NULL);
}

/* A new lead with this email through d by key; 201; its id into id (NULL: not kept). */
static void new_lead_id(struct daemon *d, const char *key, const char *email, char id[40])
{
    char body[200];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"source\":\"web\"}", email);
    struct resp *c =
        req(d, "POST", "/v1/leads", key, (const char *[]){"Content-Type: application/json", NULL},
            body, strlen(body));
    expect_status(c, 201, body);
    if (id)
        snprintf(id, 40, "%s", jstr(c, "id"));
    resp_free(c);
}

static void new_lead(struct daemon *d, const char *key, const char *email)
{
    new_lead_id(d, key, email, NULL);
}

/* GET /v1/leads?q=email through d by key: 200; whether the lead is in it. */
static bool lists_lead(struct daemon *d, const char *key, const char *email)
{
    char path[300];
    bool found;
    snprintf(path, sizeof path, "/v1/leads?q=%s", email);
    struct resp *r = req(d, "GET", path, key, NULL, NULL, 0);
    expect_status(r, 200, path);
    found = strstr(r->body, email) != NULL;
    resp_free(r);
    return found;
}

struct lagging {
    struct daemon *d;
    const char *email;
};

/* Whether the readonly key's list through d has the lead. */
static bool reader_sees(void *arg)
{
    struct lagging *l = arg;
    return lists_lead(l->d, readonly_key, l->email);
}

struct served {
    struct daemon *d;
    const char *path;
};

/* One GET of a list by the readonly key; true when the replica served it. */
static bool served_by_replica(void *arg)
{
    struct served *s = arg;
    double before = metric_of(s->d, READS);
    struct resp *r = req(s->d, "GET", s->path, readonly_key, NULL, NULL, 0);
    expect_status(r, 200, s->path);
    resp_free(r);
    return metric_of(s->d, READS) > before;
}

static void unique_email(char *out, size_t cap, const char *what)
{
    static int n;
    snprintf(out, cap, "replica-%s-%d-%d@replica.example", what, (int)getpid(), n++);
}

START_TEST(lists_and_reports_read_from_the_replica)
{
    /* every route marked ROUTE_REPLICA */
    static const char *const paths[] = {"/v1/campaigns",
                                        "/v1/leads?limit=5",
                                        "/v1/feedback",
                                        "/v1/reports/campaigns",
                                        "/v1/reports/sources",
                                        "/v1/reports/funnel",
                                        "/v1/reports/rejections",
                                        "/v1/reports/follow-up",
                                        "/v1/reports/trends",
                                        "/v1/reports/scoring",
                                        "/v1/reports/sla",
                                        "/v1/leads/{id}/touches",
                                        "/v1/leads/{id}/history",
                                        "/v1/leads/{id}/timeline",
                                        "/v1/leads/{id}/feedback",
                                        "/v1/leads/{id}/interactions",
                                        "/v1/campaigns/{id}/members"};
    struct daemon d;
    char email[120], lead[40], campaign[40], path[200];
    start_daemon(&d, "5000");
    replay(false);
    /* A campaign, then a lead, made on the primary behind the daemon's back (through
     * another daemon): on the replica in a moment, in that order. */
    create("/v1/campaigns", admin_key, "{\"name\":\"replica members\",\"channel\":\"email\"}",
           campaign);
    unique_email(email, sizeof email, "seen");
    new_lead_id(&main_daemon, admin_key, email, lead);
    ck_assert_msg(wait_until(replica_has_lead, email, 10000), "the replica never replayed %s",
                  email);
    /* Every list and report here is served by the replica, and answers as the primary. */
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct served s = {&d, path};
        const char *hole = strstr(paths[i], "{id}");
        if (hole)
            snprintf(path, sizeof path, "%.*s%s%s", (int)(hole - paths[i]), paths[i],
                     strstr(paths[i], "campaigns/") ? campaign : lead, hole + 4);
        else
            snprintf(path, sizeof path, "%s", paths[i]);
        ck_assert_msg(wait_until(served_by_replica, &s, 10000),
                      "%s was never served by the replica", path);
    }
    /* none of them failed there (a write on a standby, say) and ran on the primary */
    ck_assert_int_eq((long)metric_of(&d, "leadloop_replica_fallbacks_total"), 0);
    ck_assert_msg(lists_lead(&d, readonly_key, email), "the replica's list lacks %s", email);
    ck_assert_int_eq((long)metric_of(&d, "leadloop_replica_up"), 1);
    /* A point read and a write are not the replica's. */
    double before = metric_of(&d, READS);
    struct resp *r = req(&d, "GET", "/v1/workspace", readonly_key, NULL, NULL, 0);
    expect_status(r, 200, "GET /v1/workspace");
    resp_free(r);
    ck_assert(metric_of(&d, READS) == before);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

START_TEST(a_client_reads_its_own_writes_while_replay_is_paused)
{
    struct daemon d;
    char email[120];
    struct served s = {&d, "/v1/campaigns"};
    struct lagging l = {&d, email};
    start_daemon(&d, "600000"); /* the lag bound never sends a read to the primary here */
    replay(false);
    ck_assert_msg(wait_until(served_by_replica, &s, 10000), "the replica never served a list");
    replay(true);
    unique_email(email, sizeof email, "ryw");
    double own = metric_of(&d, SKIPPED("own_writes")), reads = metric_of(&d, READS);
    /* The writer's next read has its write: from the primary, the replica lacking it. */
    new_lead(&d, admin_key, email);
    ck_assert_msg(lists_lead(&d, admin_key, email), "the writer's own read lacks %s", email);
    ck_assert_msg(metric_of(&d, SKIPPED("own_writes")) > own,
                  "the writer's read was not sent to the primary for its own write");
    /* Another key's read is the replica's, which has not replayed the write yet. */
    ck_assert_msg(!lists_lead(&d, readonly_key, email),
                  "another key's read found %s on a paused replica", email);
    ck_assert_msg(metric_of(&d, READS) > reads, "another key's read did not go to the replica");
    ck_assert_int_eq(replica_count("SELECT count(*) FROM leads WHERE email = $1", email), 0);
    /* Replay again: the writer's reads go back to the replica once it has the write. */
    replay(false);
    ck_assert_msg(wait_until(replica_has_lead, email, 10000), "the replica never replayed %s",
                  email);
    ck_assert_msg(wait_until(reader_sees, &l, 10000), "the reader never saw %s", email);
    reads = metric_of(&d, READS);
    ck_assert(lists_lead(&d, admin_key, email));
    ck_assert_msg(metric_of(&d, READS) > reads,
                  "the writer's read did not go to the replica after it replayed the write");
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

START_TEST(a_replica_past_the_lag_bound_is_skipped_until_it_catches_up)
{
    struct daemon d;
    char email[120];
    struct served s = {&d, "/v1/reports/funnel"};
    struct lagging l = {&d, email};
    start_daemon(&d, "300");
    replay(false);
    ck_assert_msg(wait_until(served_by_replica, &s, 10000), "the replica never served a report");
    replay(true);
    double lag = metric_of(&d, SKIPPED("lag"));
    /* Written through another daemon: this one knows nothing of it, only the lag bound
     * can send the readonly key's read to the primary. */
    unique_email(email, sizeof email, "lag");
    new_lead(&main_daemon, admin_key, email);
    ck_assert_msg(wait_until(reader_sees, &l, 10000),
                  "reads never went to the primary while the replica was paused");
    ck_assert_msg(metric_of(&d, SKIPPED("lag")) > lag, "no read was counted as skipped for lag");
    ck_assert_msg(metric_of(&d, "leadloop_replica_lag_seconds") > 0.3,
                  "the lag gauge is not past the bound");
    /* It came from the primary: the replica, still paused, has not got it. */
    ck_assert_int_eq(replica_count("SELECT count(*) FROM leads WHERE email = $1", email), 0);
    /* Caught up, it serves again. */
    replay(false);
    ck_assert_msg(wait_until(served_by_replica, &s, 10000),
                  "the replica was not used again after it caught up");
    ck_assert(lists_lead(&d, readonly_key, email));
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

static bool replica_down_seen(void *arg)
{
    return metric_of(arg, "leadloop_replica_up") == 0;
}

START_TEST(a_replica_stopped_mid_run_costs_no_request_and_is_used_again_when_back)
{
    static const char *const paths[] = {"/v1/campaigns", "/v1/reports/funnel", "/v1/leads?limit=3",
                                        "/v1/reports/trends"};
    struct daemon d;
    char email[120], args[600];
    struct served s = {&d, "/v1/campaigns"};
    start_daemon(&d, "5000");
    replay(false);
    ck_assert_msg(wait_until(served_by_replica, &s, 10000), "the replica never served a list");
    double down =
        metric_of(&d, SKIPPED("down")) + metric_of(&d, "leadloop_replica_fallbacks_total");
    snprintf(args, sizeof args, "immediate '%s'", repl_dir);
    ck_assert_msg(replica_sh(args), "could not stop the replica");
    /* Every read answers 200, and has the latest write: the primary's. */
    for (int i = 0; i < 10; i++) {
        for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
            struct resp *r = req(&d, "GET", paths[k], readonly_key, NULL, NULL, 0);
            expect_status(r, 200, paths[k]);
            resp_free(r);
        }
        unique_email(email, sizeof email, "down");
        new_lead(&main_daemon, admin_key, email);
        ck_assert_msg(lists_lead(&d, readonly_key, email), "a read with the replica down lacks %s",
                      email);
    }
    ck_assert_msg(
        metric_of(&d, SKIPPED("down")) + metric_of(&d, "leadloop_replica_fallbacks_total") > down,
        "no read was counted as sent to the primary for a replica down");
    ck_assert_msg(wait_until(replica_down_seen, &d, 10000), "leadloop_replica_up never became 0");
    struct resp *ready = req(&d, "GET", "/readyz", NULL, NULL, NULL, 0);
    expect_status(ready, 200, "/readyz with the replica down");
    resp_free(ready);
    /* Back: used again. */
    snprintf(args, sizeof args, "start '%s'", repl_dir);
    ck_assert_msg(replica_sh(args), "could not start the replica again");
    ck_assert_msg(wait_until(served_by_replica, &s, 15000),
                  "the replica was not used again after it came back");
    ck_assert_int_eq((long)metric_of(&d, "leadloop_replica_up"), 1);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

START_TEST(a_read_the_replica_fails_mid_request_runs_on_the_primary)
{
    struct daemon d;
    char email[120], args[600];
    struct served s = {&d, "/v1/campaigns"};
    /* a frozen replica fails a statement after the statement timeout (then the cancel's
     * 0.5 s): 1 s here */
    start_daemon_with(&d, "5000", "LEADLOOP_STATEMENT_TIMEOUT_MS=1000");
    replay(false);
    ck_assert_msg(wait_until(served_by_replica, &s, 10000), "the replica never served a list");
    double fallbacks = metric_of(&d, "leadloop_replica_fallbacks_total");
    snprintf(args, sizeof args, "freeze '%s'", repl_dir);
    ck_assert_msg(replica_sh(args), "could not freeze the replica");
    /* Frozen, it still looks up: the next read starts there (its BEGIN, a search's
     * transaction, gets no answer), and ends on the primary, current. */
    unique_email(email, sizeof email, "frozen");
    new_lead(&main_daemon, admin_key, email);
    ck_assert_msg(lists_lead(&d, readonly_key, email), "the read that fell over lacks %s", email);
    ck_assert_msg(metric_of(&d, "leadloop_replica_fallbacks_total") > fallbacks,
                  "the read did not start on the replica and fall over");
    /* The reads after it skip the replica at once, without a statement timeout each. */
    double down = metric_of(&d, SKIPPED("down"));
    struct resp *r = req(&d, "GET", "/v1/reports/funnel", readonly_key, NULL, NULL, 0);
    expect_status(r, 200, "a report after the fall-over");
    resp_free(r);
    ck_assert_msg(metric_of(&d, SKIPPED("down")) > down,
                  "the read after a fall-over was not sent to the primary as replica down");
    snprintf(args, sizeof args, "thaw '%s'", repl_dir);
    ck_assert_msg(replica_sh(args), "could not thaw the replica");
    ck_assert_msg(wait_until(served_by_replica, &s, 15000),
                  "the replica was not used again after it thawed");
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

Suite *replica_suite(void)
{
    Suite *s = suite_create("replica");
    TCase *tc = tcase_create("streaming replica");
    tcase_add_unchecked_fixture(tc, replica_setup, replica_teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, lists_and_reports_read_from_the_replica);
    tcase_add_test(tc, a_client_reads_its_own_writes_while_replay_is_paused);
    tcase_add_test(tc, a_replica_past_the_lag_bound_is_skipped_until_it_catches_up);
    tcase_add_test(tc, a_replica_stopped_mid_run_costs_no_request_and_is_used_again_when_back);
    tcase_add_test(tc, a_read_the_replica_fails_mid_request_runs_on_the_primary);
    suite_add_tcase(s, tc);
    return s;
}
