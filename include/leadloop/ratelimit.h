/* Rate limits: a token bucket per API key (and, when configured, per workspace) kept in
 * PostgreSQL (rate_buckets, ll_rate_take of schema 0010), so that every daemon on the
 * database draws from the same buckets. A daemon leases a few tokens at a time (a tenth of
 * a second's worth, 1 to 100) and spends them locally: a lease costs one statement, and
 * leased tokens that are not spent within a second are lost, never added, so the limit
 * holds across daemons. A bucket found empty is remembered until its next token is due,
 * so a client hammering a closed bucket costs the database nothing. */
#ifndef LEADLOOP_RATELIMIT_H
#define LEADLOOP_RATELIMIT_H
#include <stdbool.h>

#include "leadloop/auth.h"
#include "leadloop/problem.h"

struct db_conn;

struct rl_verdict {
    bool limited;     /* a limit applies: the headers below are set */
    bool allowed;     /* false: answer 429 with Retry-After */
    long retry_after; /* seconds, when not allowed */
    char policy[128]; /* the RateLimit-Policy field value */
    char state[128];  /* the RateLimit field value */
};

/* Defaults: rate (tokens per second, 0: keys are unlimited unless they carry their own)
 * and burst for keys; the same for workspaces (0: none). */
void ratelimit_init(long key_rate, long key_burst, long ws_rate, long ws_burst);
/* Decides from this daemon's leases alone. Returns false when the database must be asked
 * (ratelimit_take). */
bool ratelimit_local(const struct auth_ctx *a, struct rl_verdict *v);
/* Asks the database for a lease and decides. On a database error the request is allowed
 * (the limit protects the database; a failing one refuses on its own). */
void ratelimit_take(struct db_conn *db, const struct auth_ctx *a, struct rl_verdict *v);
/* Forgets every lease (tests, shutdown). */
void ratelimit_reset(void);

#endif
