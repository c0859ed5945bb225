/* The fault scenarios, one Check TCase each in a file of its own, and the daemon settings
 * they share. To add one: write tests/faults/test_<name>.c with a TCase constructor,
 * declare it here, and add it to the table in main.c. */
#ifndef LEADLOOP_TESTS_FAULT_SCENARIOS_H
#define LEADLOOP_TESTS_FAULT_SCENARIOS_H
#include <check.h>

/* A small pool and short timeouts, so that faults show in seconds. */
#define FAULT_POOL       "4"
#define FAULT_ACQUIRE_MS 1000
#define FAULT_STMT_MS    1500
#define FAULT_ENV                                                                                  \
    "LEADLOOP_DB_POOL=" FAULT_POOL, "LEADLOOP_DB_ACQUIRE_TIMEOUT_MS=1000",                         \
        "LEADLOOP_STATEMENT_TIMEOUT_MS=1500"
/* The longest a request may take while the database misbehaves: the acquire timeout plus
 * the statement timeout, plus a margin for the cancel (at most 0.5 s) and the machine. */
#define FAULT_BOUND_S ((FAULT_ACQUIRE_MS + FAULT_STMT_MS) / 1000.0 + 1.0)
/* A request unanswered this long is hung. */
#define FAULT_HANG_MS 20000L

TCase *pg_restart_tcase(void);
TCase *pg_terminate_tcase(void);
TCase *pg_freeze_tcase(void);
TCase *pg_connlimit_tcase(void);
TCase *daemon_kill_tcase(void);
TCase *daemon_sigterm_tcase(void);
TCase *slow_clients_tcase(void);

#endif
