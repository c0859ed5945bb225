/* Idempotency-Key on POST: the first answer to a key is stored in the same transaction as
 * the write it answers and replayed byte for byte to a retry of the same request; another
 * request with the key is refused (422), and one that races the first gets 409. */
#ifndef LEADLOOP_IDEMPOTENCY_H
#define LEADLOOP_IDEMPOTENCY_H
#include <stdbool.h>

struct request;

/* Called before the handler when the request carries Idempotency-Key. Returns true when
 * it has answered (a replay, 409, 422, 503); false when the handler should run inside the
 * transaction it opened. */
bool idem_before(struct request *r) __attribute__((warn_unused_result));
/* Called after the handler: stores the answer (not a 5xx) and commits, or rolls back. */
void idem_after(struct request *r);

/* The janitor: a thread with a connection of its own that deletes records older than
 * 24 h every interval_s seconds. Stop waits for it. */
bool idem_janitor_start(const char *conninfo, long interval_s) __attribute__((warn_unused_result));
void idem_janitor_stop(void);

#endif
