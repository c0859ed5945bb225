/* The read replica (DATABASE_READ_URL): which reads may go to it, and how far behind the
 * primary it is. Lists and reports (routes marked ROUTE_REPLICA) read from it while it is
 * up, has replayed everything the primary had LEADLOOP_READ_MAX_LAG_MS ago, and has
 * replayed the caller's own last write; any other read, every write, auth, rate limits and
 * idempotency stay on the primary. A background probe compares the two servers' WAL
 * positions. Read-your-writes holds per daemon: another daemon does not know of this
 * daemon's callers' writes. */
#ifndef LEADLOOP_REPLICA_H
#define LEADLOOP_REPLICA_H
#include <stdbool.h>

struct db_conn;

/* Sets up the replica pool (db_replica_init, so after db_init) and starts the probe that
 * measures the replica's lag every max_lag_ms / 5 (20 ms to 1 s). conninfo empty: no
 * replica, every call below does nothing. False when out of memory or no thread. */
bool replica_start(const char *conninfo, long pool_size, long max_lag_ms)
    __attribute__((warn_unused_result));
/* Stops the probe. Safe when not started. Before db_shutdown. */
void replica_stop(void);

/* For a read of principal (the API key or person, auth_principal; NULL: none): true with a
 * replica handle in *out (db_acquire_replica: it falls over to the primary by itself)
 * when the replica may serve it; false, counting why, when the read must go to the
 * primary: no replica, replica down or too far behind, the caller's own write not yet
 * replayed there, or every replica connection taken. Never waits for a replica slot. */
bool replica_acquire(struct db_conn **out, const char *principal)
    __attribute__((warn_unused_result));

/* After a request of principal that may have written, before its answer is sent: notes
 * the primary's WAL insert position (on db, a primary connection; NULL or a failure: the
 * write's time alone), so that principal's next reads go to the primary until the replica
 * has replayed it. */
void replica_note_write(struct db_conn *db, const char *principal);

struct replica_stats {
    bool on;              /* DATABASE_READ_URL is set */
    bool up;              /* the last probe (or read) reached it, and it is a standby */
    double lag_s;         /* how long ago the primary had no more than it has replayed; -1: never */
    unsigned long served; /* reads sent to the replica */
    unsigned long lagging;    /* reads sent to the primary: the replica too far behind */
    unsigned long down;       /* ... the replica down */
    unsigned long own_writes; /* ... the caller's own write not replayed there yet */
    unsigned long busy;       /* ... every replica connection taken */
};
void replica_stats(struct replica_stats *out);

#endif
