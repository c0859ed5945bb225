/* The bulk slots. Bulk work is PostgreSQL's: more batches at once than cores do no more,
 * and each batch being parsed holds its body and its rows in our heap (about 5 MB for
 * 1,000 leads). So a bulk request waits for a slot before its body is read, and a
 * workspace holds at most all slots but one: one tenant's slow or many bulk requests
 * leave a slot for the others. */
#include "leadloop/bulk_slots.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leadloop/fiber.h"
#include "leadloop/util.h"

#define BULK_HOLDERS 256

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* set up by bulk_slots_init */
    long slots, free, waiting;
    long per_workspace; /* slots one workspace may hold at once: all but one */
    struct {
        char workspace_id[37];
        long held;
    } holders[BULK_HOLDERS]; /* workspaces holding slots now (held > 0) */
    bool closing;            /* bulk_slots_close: no more slots, waiters answered at once */
} bulk = {.mu = PTHREAD_MUTEX_INITIALIZER};

void bulk_slots_init(long slots)
{
    pthread_condattr_t attr;
    if (slots == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        slots = cores > 2 ? cores : 2;
    }
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&bulk.cv, &attr);
    pthread_condattr_destroy(&attr);
    bulk.slots = bulk.free = slots;
    bulk.per_workspace = slots > 1 ? slots - 1 : 1;
    memset(bulk.holders, 0, sizeof bulk.holders);
    bulk.waiting = 0;
    bulk.closing = false;
}

/* The holder entry of a workspace (a free one when absent and want_new); bulk.mu held. */
static long *bulk_held(const char *workspace_id, bool want_new)
{
    int free_i = -1;
    for (int i = 0; i < BULK_HOLDERS; i++) {
        if (bulk.holders[i].held > 0 && !strcmp(bulk.holders[i].workspace_id, workspace_id))
            return &bulk.holders[i].held;
        if (free_i < 0 && bulk.holders[i].held == 0)
            free_i = i;
    }
    if (!want_new || free_i < 0)
        return NULL;
    snprintf(bulk.holders[free_i].workspace_id, sizeof bulk.holders[0].workspace_id, "%s",
             workspace_id);
    return &bulk.holders[free_i].held;
}

struct take_call {
    const char *workspace_id;
    long wait_ms;
    bool got;
};

static bool take_blocking(const char *workspace_id, long wait_ms);

static void take_offloaded(void *arg)
{
    struct take_call *c = arg;
    c->got = take_blocking(c->workspace_id, c->wait_ms);
}

/* On a fiber, a slot free now is taken in place and a wait for one runs on a helper
 * thread (fiber_offload). */
bool bulk_slots_take(const char *workspace_id, long wait_ms)
{
    struct take_call c = {workspace_id, wait_ms, false};
    if (!fiber_in())
        return take_blocking(workspace_id, wait_ms);
    if (take_blocking(workspace_id, 0))
        return true;
    if (wait_ms <= 0)
        return false;
    fiber_offload(take_offloaded, &c);
    return c.got;
}

static bool take_blocking(const char *workspace_id, long wait_ms)
{
    struct timespec deadline;
    long *held = NULL;
    bool got;
    util_deadline(&deadline, wait_ms);
    pthread_mutex_lock(&bulk.mu);
    bulk.waiting++;
    for (;;) {
        long *h = bulk_held(workspace_id, false);
        if (bulk.closing || (bulk.free > 0 && (!h || *h < bulk.per_workspace)))
            break;
        if (pthread_cond_timedwait(&bulk.cv, &bulk.mu, &deadline) == ETIMEDOUT)
            break;
    }
    bulk.waiting--;
    got = false;
    if (bulk.free > 0 && !bulk.closing) {
        held = bulk_held(workspace_id, true);
        if (held && *held < bulk.per_workspace) {
            (*held)++;
            bulk.free--;
            got = true;
        }
    }
    pthread_mutex_unlock(&bulk.mu);
    return got;
}

void bulk_slots_release(const char *workspace_id)
{
    long *held;
    pthread_mutex_lock(&bulk.mu);
    bulk.free++;
    held = bulk_held(workspace_id, false);
    if (held)
        (*held)--;
    /* every waiter: the one a slot fits may be of another workspace than the first */
    pthread_cond_broadcast(&bulk.cv);
    pthread_mutex_unlock(&bulk.mu);
}

void bulk_slots_stats(long *slots, long *in_use, long *waiting)
{
    pthread_mutex_lock(&bulk.mu);
    *slots = bulk.slots;
    *in_use = bulk.slots - bulk.free;
    *waiting = bulk.waiting;
    pthread_mutex_unlock(&bulk.mu);
}

void bulk_slots_close(void)
{
    pthread_mutex_lock(&bulk.mu);
    bulk.closing = true;
    pthread_cond_broadcast(&bulk.cv);
    pthread_mutex_unlock(&bulk.mu);
}
