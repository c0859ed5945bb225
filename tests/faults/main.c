/* The fault suite's runner: makes the harness's cluster durable (an acknowledged commit
 * must survive `pg_ctl stop -m immediate`), then runs each scenario in a process of its
 * own (Check's fork mode), each on a fresh database with daemons of its own. Run it
 * through tests/harness.sh (make test-faults); CK_RUN_CASE picks one scenario. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "scenarios.h"

static TCase *(*const scenarios[])(void) = {
    pg_restart_tcase,  pg_terminate_tcase,   pg_freeze_tcase,    pg_connlimit_tcase,
    daemon_kill_tcase, daemon_sigterm_tcase, slow_clients_tcase,
};

/* tests/harness.sh turns synchronous_commit off for speed: then a crash may lose commits
 * already acknowledged, which is PostgreSQL's documented trade, not the daemon's fault. */
static bool cluster_durable(void)
{
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_PG_ADMIN_URL"));
    PGresult *a = PQexec(pg, "ALTER SYSTEM SET synchronous_commit = on");
    PGresult *b = PQexec(pg, "SELECT pg_reload_conf()");
    bool ok = PQresultStatus(a) == PGRES_COMMAND_OK && PQresultStatus(b) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "fault-tests: cannot make the cluster durable: %s", PQerrorMessage(pg));
    PQclear(a);
    PQclear(b);
    PQfinish(pg);
    return ok;
}

int main(void)
{
    char tmp[] = "/tmp/leadloop-faults-XXXXXX", cmd[128];
    int failed;
    Suite *suite;
    SRunner *sr;

    if (!mkdtemp(tmp))
        return 2;
    setenv("LL_TEST_TMP", tmp, 1);
    /* The load clients are one key each, as fast as they can: no rate limit, and a key may
     * hold the whole pool, so that every refusal counted here is the database's (503) */
    setenv("LEADLOOP_RATE_PER_S", "0", 1);
    setenv("LEADLOOP_KEY_CONNECTIONS", "500", 1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!cluster_durable())
        return 2;
    suite = suite_create("faults");
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        suite_add_tcase(suite, scenarios[i]());
    sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
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
