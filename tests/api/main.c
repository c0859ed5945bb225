/* The HTTP test runner: prepares two workspaces and their keys with the leadloopd
 * commands, starts the daemon under test on a free port, runs the suites, and stops the
 * daemon with SIGTERM (it must exit 0). Run it through tests/harness.sh. */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
} suites[] = {
    {"http", http_suite},
    {"admin", admin_suite},
    {"contract", contract_suite},
    {"campaigns", campaigns_suite},
    {"leads", leads_suite},
    {"transitions", transitions_suite},
    {"idempotency", idempotency_suite},
    {"workspaces", workspaces_suite},
    {"catalogue", catalogue_suite},
    {"feedback", feedback_suite},
    {"bulk", bulk_suite},
    {"gate", gate_suite},
    {"reports_random", reports_random_suite},
    {"reports", reports_suite},
    {"trends", trends_suite},
    {"lifecycle", lifecycle_suite},
    {"erasure", erasure_suite},
    {"owasp", owasp_suite},
    {"search", search_suite},
    {"audit", audit_suite},
    {"receiver", receiver_suite},
    {"sync", sync_suite},
    {"merge", merge_suite},
    {"webhooks", webhooks_suite},
    {"changes", changes_suite},
    {"migrate", migrate_suite},
    {"sessions", sessions_suite},
    {"worklists", worklists_suite},
    {"timezone", timezone_suite},
    {"history", history_suite},
    {"assets", assets_suite},
    {"deals", deals_suite},
    {"touches", touches_suite},
    {"scoring", scoring_suite},
    {"interactions", interactions_suite},
    {"lead_fields", lead_fields_suite},
    {"sla", sla_suite},
    {"routing", routing_suite},
};

/* The suite called name (len bytes), or NULL. */
static Suite *(*suite_named(const char *name, size_t len))(void)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (strlen(suites[i].name) == len && !strncmp(name, suites[i].name, len))
            return suites[i].make;
    return NULL;
}

/* A runner of every suite in the table's order, or of those LL_SUITES names ("leads,
 * contract"), in its order; NULL, saying why, when it names a suite that does not exist.
 * (Check's CK_RUN_SUITE picks one suite from the whole runner.) */
static SRunner *runner(void)
{
    const char *only = getenv("LL_SUITES");
    SRunner *sr = NULL;
    if (!only || !*only) {
        sr = srunner_create(NULL);
        for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
            srunner_add_suite(sr, suites[i].make());
        return sr;
    }
    for (const char *p = only; *p; p += strcspn(p, ","), p += *p == ',') {
        size_t len = strcspn(p, ",");
        Suite *(*make)(void) = suite_named(p, len);
        if (!make) {
            fprintf(stderr, "LL_SUITES: no suite called '%.*s'\n", (int)len, p);
            if (sr)
                srunner_free(sr);
            return NULL;
        }
        if (!sr)
            sr = srunner_create(NULL);
        srunner_add_suite(sr, make());
    }
    return sr;
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

    SRunner *sr = runner();
    if (!sr) {
        daemon_stop(&main_daemon, SIGTERM);
        return 2;
    }
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

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
