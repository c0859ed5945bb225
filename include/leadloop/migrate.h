/* Schema migrations: sql/NNNN_name.sql applied in order, each in its own transaction,
 * recorded with a SHA-256 checksum in schema_migrations, under an advisory lock. */
#ifndef LEADLOOP_MIGRATE_H
#define LEADLOOP_MIGRATE_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Applies what is missing. dir NULL or "": the embedded migrations. Each applied
 * migration is reported as a line "applied NAME" on progress (may be NULL). On failure
 * (including a changed, already-applied file) writes the reason to err. */
bool migrate_run(PGconn *pg, const char *dir, FILE *progress, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Name of the newest embedded migration, e.g. "0001_init". Borrowed, static. */
const char *migrate_latest(void);
/* SQL answering one row (count, newest name) of schema_migrations. */
extern const char migrate_sql_state[];
/* True when count and newest name say every embedded migration is applied. */
bool migrate_state_current(long count, const char *newest);

#endif
