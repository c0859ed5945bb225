/* Idempotency-Key on POST: the first answer to a key is stored in the same transaction as
 * the write it answers and replayed byte for byte to a retry of the same request; another
 * request with the key is refused (422), and one that races the first gets 409. An answer
 * withdrawn by an erasure (idem_forget_lead) answers 410 to any request with its key. */
#ifndef LEADLOOP_IDEMPOTENCY_H
#define LEADLOOP_IDEMPOTENCY_H
#include <stdbool.h>

#include "leadloop/problem.h"

struct request;
struct db_conn;

/* Called before the handler when the request carries Idempotency-Key. Returns true when
 * it has answered (a replay, 409, 422, 503); false when the handler should run inside the
 * transaction it opened. */
bool idem_before(struct request *r) __attribute__((warn_unused_result));
/* Called after the handler: stores the answer (not a 5xx) and commits, or rolls back. In
 * chunked mode, stores the answer (not a 5xx: the saved progress stays for a retry) and
 * deletes the progress in one transaction, then lets the key's lock go. */
void idem_after(struct request *r);

/* For a handler that commits in chunks (POST /v1/leads/import), called inside the
 * transaction idem_before opened, before it writes anything: trades that transaction for
 * a session lock on the key, held until idem_after, so that the handler may commit chunk
 * after chunk while a retry with the key still answers 409. Sets *next_row and *progress
 * (new JSON text, or NULL) to what the committed chunks of an earlier try of the same
 * request saved (idem_chunked_save): the handler goes on after them. *next_row is 1 and
 * *progress NULL when there was none. Returns false when it has answered (a progress of
 * another request with the key: 422; or 503). */
bool idem_chunked_begin(struct request *r, long *next_row, char **progress)
    __attribute__((warn_unused_result));
/* Inside a chunk's transaction, before its commit: how far the handler got (the first row
 * not written yet) and what it would answer so far (JSON text of its own). */
enum ll_err idem_chunked_save(struct request *r, long next_row, const char *progress)
    __attribute__((warn_unused_result));

/* For the erasure of lead_id, inside the caller's transaction: withdraws the stored
 * answers that show the lead, those whose Location is the lead's path or below it (its
 * create, transitions, feedback, touches). Each keeps its key but loses its request hash
 * and answer; a request with the key then answers 410 until the key expires, so a retry
 * neither sees the lead's data nor runs again. Answers that name the lead by id only (a
 * batch's, an import's, a refusal's) stay as they are. db is borrowed. */
enum ll_err idem_forget_lead(struct db_conn *db, const char *workspace_id, const char *lead_id)
    __attribute__((warn_unused_result));

/* The janitor: a thread with a connection of its own that deletes records older than
 * 24 h every interval_s seconds. Stop waits for it. */
bool idem_janitor_start(const char *conninfo, long interval_s) __attribute__((warn_unused_result));
void idem_janitor_stop(void);

#endif
