/* The unit-test runner: one Check runner over every module's suite. Each test runs in
 * its own process (CK_FORK unless the environment says otherwise), so a test may change
 * the environment or crash without affecting the others. Exits nonzero on any failure. */
#include <check.h>
#include <stdlib.h>

#include "suites.h"

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_add_suite(sr, problem_suite());
    srunner_add_suite(sr, router_suite());
    srunner_add_suite(sr, util_suite());
    srunner_add_suite(sr, jsonv_suite());
    srunner_add_suite(sr, auth_suite());
    srunner_add_suite(sr, http_suite());
    srunner_add_suite(sr, migrate_suite());
    srunner_add_suite(sr, jw_suite());
    srunner_add_suite(sr, gate_suite());
    srunner_add_suite(sr, csv_suite());
    srunner_add_suite(sr, csv_read_suite());
    srunner_add_suite(sr, headers_suite());
    srunner_add_suite(sr, cursor_suite());
    srunner_add_suite(sr, sla_suite());
    srunner_add_suite(sr, stages_suite());
    srunner_add_suite(sr, inventory_suite());
    srunner_add_suite(sr, list_suite());
    srunner_add_suite(sr, webhook_client_suite());
    srunner_add_suite(sr, uri_suite());
    srunner_add_suite(sr, session_suite());
    srunner_add_suite(sr, rowsort_suite());
    srunner_add_suite(sr, db_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
