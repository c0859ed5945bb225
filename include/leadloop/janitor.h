/* A janitor: a background thread that, every interval, connects to PostgreSQL on a
 * connection of its own, hands it to its work (deleting what has expired, a bounded batch
 * at a time) and disconnects. Connecting per run costs nothing every few minutes, and a
 * restarted database needs no care. The idempotency, audit, change feed and session
 * janitors are ones. */
#ifndef LEADLOOP_JANITOR_H
#define LEADLOOP_JANITOR_H
#include <libpq-fe.h>
#include <stdbool.h>

#include "leadloop/ticker.h"

struct janitor {
    struct ticker ticker;
    char *conninfo;   /* owned (a copy) */
    const char *name; /* borrowed: for the log, e.g. "audit janitor" */
    void (*work)(struct janitor *j, PGconn *pg);
};

/* Starts calling work(j, pg) every interval_s (the first after one interval), with a
 * fresh connection to conninfo (copied). False when out of memory or no thread. */
bool janitor_start(struct janitor *j, const char *name, const char *conninfo, long interval_s,
                   void (*work)(struct janitor *j, PGconn *pg)) __attribute__((warn_unused_result));
/* True once janitor_stop was called: work with a backlog checks it between batches. */
bool janitor_stopping(struct janitor *j);
/* Stops the thread (waiting for a run in progress) and frees what j owns. Safe when not
 * started. */
void janitor_stop(struct janitor *j);
/* Runs one statement (sql, which answers a command or rows) on pg and logs at debug level
 * what it did, or its failure as a warning: the work of the janitors whose job is one
 * statement. */
void janitor_exec(struct janitor *j, PGconn *pg, const char *sql);
/* The work of the janitors that delete per workspace (on Citus a statement that names one
 * workspace_id goes to one node): due lists the workspaces with something to delete (one
 * column; a cheap query, through an index of what has expired), then for each, each of
 * the statements deletes ($1 the workspace; at most batch rows a statement), again while
 * one deleted batch rows. Logs what it deleted per workspace (info), or a failure (warn,
 * and the run ends: the next one goes on). stmts is NULL-terminated. */
void janitor_each_workspace(struct janitor *j, PGconn *pg, const char *due,
                            const char *const *stmts, long batch);

#endif
