/* Schema migrations (sql/README.md): numbered files sql/NNNN_name.sql applied once each,
 * in order, each in its own transaction, recorded with a SHA-256 checksum in
 * schema_migrations; then the repeatable files sql/functions/NN_name.sql that are due
 * (changed, new, or all after a numbered file was applied) in one transaction, recorded
 * in schema_repeatables; then numbered files marked "-- migrate: after functions". All
 * under one advisory lock. */
#ifndef LEADLOOP_MIGRATE_H
#define LEADLOOP_MIGRATE_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Applies what is missing. dir NULL or "": the embedded migrations; otherwise dir's
 * numbered files and those of dir/functions (none when it does not exist). Each applied
 * file is reported as a line "applied NAME" (numbered) or "applied functions/NAME"
 * (repeatable) on progress (may be NULL). On failure (including a changed,
 * already-applied numbered file) writes the reason to err (errlen > 0). */
bool migrate_run(PGconn *pg, const char *dir, FILE *progress, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Name of the newest embedded numbered migration, e.g. "0001_init". Borrowed, static. */
const char *migrate_latest(void);
/* SQL answering one row (count, newest name) of schema_migrations. */
extern const char migrate_sql_state[];
/* True when count and newest name say every embedded numbered migration is applied. */
bool migrate_state_current(long count, const char *newest);

#endif
