/* The HTTP test suites (one file each) and the settings main() starts the daemon with. */
#ifndef LEADLOOP_TESTS_SUITES_H
#define LEADLOOP_TESTS_SUITES_H
#include <check.h>

#define MAIN_MAX_BODY "65536"
#define MAIN_CORS     "https://app.example.com, https://admin.example.com"

Suite *http_suite(void);
Suite *admin_suite(void);
Suite *contract_suite(void);
Suite *campaigns_suite(void);
Suite *leads_suite(void);
Suite *daemons_suite(void);
Suite *citus_suite(void);
Suite *replica_suite(void);
Suite *transitions_suite(void);
Suite *idempotency_suite(void);
Suite *workspaces_suite(void);
Suite *catalogue_suite(void);
Suite *feedback_suite(void);
Suite *bulk_suite(void);
Suite *reports_random_suite(void);
Suite *reports_suite(void);
Suite *trends_suite(void);
Suite *lifecycle_suite(void);
Suite *gate_suite(void);
Suite *erasure_suite(void);
Suite *owasp_suite(void);
Suite *routing_suite(void);
Suite *search_suite(void);
Suite *audit_suite(void);
Suite *receiver_suite(void);
Suite *sync_suite(void);
Suite *merge_suite(void);
Suite *webhooks_suite(void);
Suite *changes_suite(void);
Suite *migrate_suite(void);
Suite *sessions_suite(void);
Suite *worklists_suite(void);
Suite *timezone_suite(void);
Suite *history_suite(void);
Suite *assets_suite(void);
Suite *deals_suite(void);
Suite *touches_suite(void);
Suite *scoring_suite(void);
Suite *lead_fields_suite(void);
Suite *interactions_suite(void);
Suite *sla_suite(void);

#endif
