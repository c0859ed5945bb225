/* The HTTP test runner: prepares two workspaces and their keys with the leadloopd
 * commands, starts the daemon under test on a free port, runs the suites, and stops the
 * daemon with SIGTERM (it must exit 0). Run it through tests/harness.sh. */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "suites.h"
#include "support.h"

static int command(const char *const *args, char *out, size_t outlen)
{
    char err[2048];
    int rc = run_leadloopd(args, NULL, out, outlen, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "leadloopd %s %s failed (%d): %s\n", args[0], args[1] ? args[1] : "", rc,
                err);
    return rc;
}

static bool make_key(const char *ws, const char *role, char key[64])
{
    char out[256];
    const char *args[] = {"keys", "create", "--workspace", ws,  "--role",
                          role,   "--name", "tests",       NULL};
    if (command(args, out, sizeof out) != 0)
        return false;
    out[strcspn(out, "\n")] = '\0';
    if (strlen(out) != 47)
        return false;
    memcpy(key, out, 48);
    return true;
}

static const struct {
    const char *name;
    Suite *(*make)(void);
    /* about its wall time in seconds in two shards on a 2-core machine, in `make test-api`
     * and with LL_TEST_QUICK=1 under ASan (`make test-api SANITIZE=1`): LL_SHARD's split */
    int seconds, quick_seconds;
} suites[] = {
    {"http", http_suite, 0, 0},
    {"admin", admin_suite, 0, 0},
    {"contract", contract_suite, 1, 2},
    {"campaigns", campaigns_suite, 0, 0},
    {"leads", leads_suite, 2, 2},
    {"transitions", transitions_suite, 0, 0},
    {"idempotency", idempotency_suite, 0, 0},
    {"workspaces", workspaces_suite, 0, 0},
    {"catalogue", catalogue_suite, 2, 2},
    {"feedback", feedback_suite, 1, 2},
    {"bulk", bulk_suite, 174, 32},
    {"gate", gate_suite, 5, 6},
    {"reports_random", reports_random_suite, 100, 76},
    {"reports", reports_suite, 4, 4},
    {"trends", trends_suite, 2, 2},
    {"lifecycle", lifecycle_suite, 8, 8},
    {"erasure", erasure_suite, 2, 2},
    {"owasp", owasp_suite, 12, 7},
    {"search", search_suite, 24, 23},
    {"audit", audit_suite, 5, 6},
    {"receiver", receiver_suite, 2, 2},
    {"sync", sync_suite, 0, 1},
    {"merge", merge_suite, 5, 4},
    {"webhooks", webhooks_suite, 14, 17},
    {"changes", changes_suite, 24, 14},
    {"migrate", migrate_suite, 8, 2},
    {"sessions", sessions_suite, 4, 4},
    {"worklists", worklists_suite, 0, 1},
    {"timezone", timezone_suite, 3, 2},
    {"history", history_suite, 74, 24},
    {"assets", assets_suite, 1, 2},
    {"deals", deals_suite, 0, 1},
    {"touches", touches_suite, 3, 3},
    {"scoring", scoring_suite, 8, 7},
    {"interactions", interactions_suite, 2, 5},
    {"lead_fields", lead_fields_suite, 14, 34},
    {"sla", sla_suite, 0, 2},
    {"routing", routing_suite, 6, 6},
    {"daemons", daemons_suite, 0, 0},
    {"citus", citus_suite, 0, 0},
    {"replica", replica_suite, 0, 0},
};

/* The suite called name (len bytes), or NULL. */
static Suite *(*suite_named(const char *name, size_t len))(void)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (strlen(suites[i].name) == len && !strncmp(name, suites[i].name, len))
            return suites[i].make;
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the processes this runner started and has waited for: the forked tests
 * and the daemons they stopped (not main_daemon, nor PostgreSQL). */
static double children_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Runs one suite in a runner of its own and prints its wall time and the CPU time of the
 * processes it started. With LL_TEST_XML_DIR, Check's XML report (each test's duration)
 * goes to DIR/NAME.xml. Returns the number of tests that failed. */
static int run_suite(const char *name, int len, Suite *(*make)(void), int *ran)
{
    const char *xml_dir = getenv("LL_TEST_XML_DIR"), *only = getenv("CK_RUN_SUITE");
    char xml[512];
    if (only && *only && ((int)strlen(only) != len || strncmp(only, name, (size_t)len)))
        return 0; /* Check would run none of its tests: no runner, no summary line */
    SRunner *sr = srunner_create(make());
    if (xml_dir && *xml_dir) {
        snprintf(xml, sizeof xml, "%s/%.*s.xml", xml_dir, len, name);
        srunner_set_xml(sr, xml);
    }
    double t0 = now_s(), c0 = children_cpu_s();
    srunner_run_all(sr, CK_NORMAL);
    int n = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
    fprintf(stderr, "suite %.*s: %d tests, %d failed, %.1f s wall, %.1f s CPU in test processes\n",
            len, name, n, failed, now_s() - t0, children_cpu_s() - c0);
    srunner_free(sr);
    *ran += n;
    return failed;
}

/* Whether suite i belongs to shard k of n (LL_SHARD="k/n", k from 1, set by
 * tests/api/shards.sh): the suites, heaviest first by their seconds in the table, each go
 * to the shard with the fewest seconds so far, so that n runners (each with a cluster and
 * a daemon of its own) end at about the same time. Every suite lands in exactly one shard,
 * always the same one, and each shard runs its suites in the table's order, as one runner
 * would. */
static bool in_shard(size_t i, int k, int n)
{
    enum { N = sizeof suites / sizeof suites[0] };
    const bool quick = test_scale(10) != 10;
    size_t order[N];
    int load[16] = {0}, shard_of[N];
    if (n <= 1)
        return true;
    for (size_t a = 0; a < N; a++)
        order[a] = a;
    for (size_t a = 1; a < N; a++) /* stable: by seconds, then the table's order */
        for (size_t b = a; b > 0; b--) {
            size_t x = order[b], y = order[b - 1];
            int sx = quick ? suites[x].quick_seconds : suites[x].seconds;
            int sy = quick ? suites[y].quick_seconds : suites[y].seconds;
            if (sx <= sy)
                break;
            order[b] = y;
            order[b - 1] = x;
        }
    for (size_t a = 0; a < N; a++) {
        int best = 0, s = quick ? suites[order[a]].quick_seconds : suites[order[a]].seconds;
        for (int j = 1; j < n; j++)
            if (load[j] < load[best])
                best = j;
        shard_of[order[a]] = best;
        load[best] += s > 0 ? s : 1;
    }
    return shard_of[i] == k - 1;
}

/* Runs every suite in the table's order (of LL_SHARD's shard, if set), or those LL_SUITES
 * names ("leads,contract") in its order. Returns the number of tests that failed, or -1,
 * saying why, when LL_SUITES names a suite that does not exist or LL_SHARD is not k/n. */
static int run_suites(void)
{
    const char *only = getenv("LL_SUITES"), *shard = getenv("LL_SHARD");
    int failed = 0, ran = 0, k = 1, n = 1;
    double t0 = now_s();
    if (shard && *shard &&
        (sscanf(shard, "%d/%d", &k, &n) != 2 || n < 1 || n > 16 || k < 1 || k > n)) {
        fprintf(stderr, "LL_SHARD: '%s' is not k/n with 1 <= k <= n <= 16\n", shard);
        return -1;
    }
    if (!only || !*only) {
        char took[1024] = "";
        for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
            if (!in_shard(i, k, n))
                continue;
            failed += run_suite(suites[i].name, (int)strlen(suites[i].name), suites[i].make, &ran);
            snprintf(took + strlen(took), sizeof took - strlen(took), "%s%s", took[0] ? "," : "",
                     suites[i].name);
        }
        fprintf(stderr, "all suites: %d tests, %d failed, %.1f s\n", ran, failed, now_s() - t0);
        if (n > 1) /* what runs this shard's suites again, alone */
            fprintf(stderr, "shard %s: LL_SUITES=%s\n", shard, took);
        return failed;
    }
    for (const char *p = only; *p; p += strcspn(p, ","), p += *p == ',')
        if (!suite_named(p, strcspn(p, ","))) {
            fprintf(stderr, "LL_SUITES: no suite called '%.*s'\n", (int)strcspn(p, ","), p);
            return -1;
        }
    for (const char *p = only; *p; p += strcspn(p, ","), p += *p == ',') {
        size_t len = strcspn(p, ",");
        failed += run_suite(p, (int)len, suite_named(p, len), &ran);
    }
    fprintf(stderr, "all suites: %d tests, %d failed, %.1f s\n", ran, failed, now_s() - t0);
    return failed;
}

int main(void)
{
    char tmp[] = "/tmp/leadloop-api-XXXXXX", cmd[128];
    int failed;
    const char *env[] = {"LEADLOOP_MAX_BODY=" MAIN_MAX_BODY, "LEADLOOP_CORS_ORIGINS=" MAIN_CORS,
                         NULL};
    const char *migrate[] = {"migrate", NULL};
    const char *ws_a[] = {"workspace", "create", "test-a", NULL};
    const char *ws_b[] = {"workspace", "create", "test-b", NULL};

    if (!mkdtemp(tmp))
        return 2;
    /* The suites send requests faster than a person: no rate limit unless a test sets one */
    setenv("LEADLOOP_RATE_PER_S", "0", 1);
    /* Nor webhook deliveries: the webhook tests start daemons of their own that deliver */
    setenv("LEADLOOP_WEBHOOK_SENDERS", "0", 1);
    setenv("LL_TEST_TMP", tmp, 1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (command(migrate, NULL, 0) || command(ws_a, NULL, 0) || command(ws_b, NULL, 0) ||
        !make_key("test-a", "admin", admin_key) || !make_key("test-a", "readonly", readonly_key) ||
        !make_key("test-b", "admin", other_admin_key))
        return 2;
    if (!daemon_start(&main_daemon, env))
        return 2;

    failed = run_suites();
    if (failed < 0) {
        daemon_stop(&main_daemon, SIGTERM);
        return 2;
    }

    int rc = daemon_stop(&main_daemon, SIGTERM);
    if (rc != 0) {
        fprintf(stderr, "the daemon exited with %d on SIGTERM (valgrind errors are 99); log: %s\n",
                rc, main_daemon.log);
        failed++;
    }
    curl_global_cleanup();
    if (failed == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmp);
    } else {
        fprintf(stderr, "daemon logs kept in %s\n", tmp);
    }
    return failed ? 1 : 0;
}
