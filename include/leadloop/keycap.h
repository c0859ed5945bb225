/* Per-key shares of the database pool: one API key holds at most LEADLOOP_KEY_CONNECTIONS
 * pool connections at once (by default all but one), so that a key running slow requests
 * in parallel cannot take the whole pool from everyone else. A request over its key's
 * share waits for a turn, first come first served, up to the acquire timeout. Per daemon:
 * each daemon has its own pool. */
#ifndef LEADLOOP_KEYCAP_H
#define LEADLOOP_KEYCAP_H
#include <stdbool.h>

/* cap: connections one key may hold (>= 1). */
void keycap_init(long cap);
/* Takes a turn for key_id, waiting up to wait_ms; false when none came. */
bool keycap_take(const char *key_id, long wait_ms) __attribute__((warn_unused_result));
/* Gives back a turn taken by keycap_take. */
void keycap_release(const char *key_id);

#endif
