/* The Check suites of the unit tests, one per module; tests/unit/main.c runs them all. */
#ifndef LEADLOOP_TESTS_UNIT_SUITES_H
#define LEADLOOP_TESTS_UNIT_SUITES_H
#include <check.h>

Suite *auth_suite(void);
Suite *config_suite(void);
Suite *csv_suite(void);
Suite *csv_read_suite(void);
Suite *cursor_suite(void);
Suite *sla_suite(void);
Suite *headers_suite(void);
Suite *http_suite(void);
Suite *jsonv_suite(void);
Suite *migrate_suite(void);
Suite *problem_suite(void);
Suite *router_suite(void);
Suite *stages_suite(void);
Suite *util_suite(void);
Suite *jw_suite(void);
Suite *gate_suite(void);
Suite *inventory_suite(void);
Suite *list_suite(void);
Suite *webhook_client_suite(void);
Suite *uri_suite(void);
Suite *session_suite(void);
Suite *rowsort_suite(void);
Suite *db_suite(void);

#endif
