/* Bulk slots (LEADLOOP_BULK_SLOTS): a bulk request (ROUTE_BULK) takes one before its body is
 * read, so that the bodies waiting for their turn stay in the kernel's socket buffers, not
 * in our heap, and the batches parsed at once are as many as there are slots. One
 * workspace never holds them all. */
#ifndef LEADLOOP_BULK_SLOTS_H
#define LEADLOOP_BULK_SLOTS_H
#include <stdbool.h>

/* Sets the number of slots (0: one per core, at least 2). Before any take. */
void bulk_slots_init(long slots);
/* Takes a slot for workspace_id (borrowed), waiting up to wait_ms; false when none came
 * in time or the slots are closed. */
bool bulk_slots_take(const char *workspace_id, long wait_ms) __attribute__((warn_unused_result));
/* Gives back a slot taken by bulk_slots_take for the same workspace. */
void bulk_slots_release(const char *workspace_id);
/* The daemon is stopping: no more slots, and those waiting are answered at once. */
void bulk_slots_close(void);
/* How many slots, how many are taken, how many requests wait for one (for /metrics). */
void bulk_slots_stats(long *slots, long *in_use, long *waiting);

#endif
