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

    SRunner *sr = srunner_create(http_suite());
    srunner_add_suite(sr, admin_suite());
    srunner_add_suite(sr, core_suite());
    srunner_add_suite(sr, catalogue_suite());
    srunner_add_suite(sr, feedback_suite());
    srunner_add_suite(sr, bulk_suite());
    srunner_add_suite(sr, gate_suite());
    srunner_add_suite(sr, reports_random_suite());
    srunner_add_suite(sr, reports_suite());
    srunner_add_suite(sr, lifecycle_suite());
    srunner_add_suite(sr, erasure_suite());
    srunner_add_suite(sr, owasp_suite());
    srunner_add_suite(sr, search_suite());
    srunner_add_suite(sr, audit_suite());
    srunner_add_suite(sr, receiver_suite());
    srunner_add_suite(sr, sync_suite());
    srunner_add_suite(sr, merge_suite());
    srunner_add_suite(sr, webhooks_suite());
    srunner_add_suite(sr, changes_suite());
    srunner_add_suite(sr, migrate_suite());
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
