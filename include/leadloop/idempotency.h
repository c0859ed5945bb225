/* Idempotency-Key on POST: the first answer to a key is stored in the same transaction as
 * the write it answers and replayed byte for byte to a retry of the same request; another
 * request with the key is refused (422), and one that races the first gets 409. */
#ifndef LEADLOOP_IDEMPOTENCY_H
#define LEADLOOP_IDEMPOTENCY_H
#include <stdbool.h>

struct request;
struct db_conn;

/* Called before the handler when the request carries Idempotency-Key. Returns true when
 * it has answered (a replay, 409, 422, 503); false when the handler should run inside the
 * transaction it opened. */
bool idem_before(struct request *r) __attribute__((warn_unused_result));
/* Called after the handler: stores the answer (not a 5xx) and commits, or rolls back. */
void idem_after(struct request *r);

/* Deletes records older than 24 h; returns how many, or -1 on error. */
long idem_purge(struct db_conn *c);

#endif
