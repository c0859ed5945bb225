/* Per-key shares of the pool: a chained hash table of the keys that hold turns now, each
 * with its count; an entry goes when its count drops to zero, so the table holds only the
 * keys in flight. */
#include "leadloop/keycap.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/fiber.h"
#include "leadloop/util.h"

#define BUCKETS 256

struct holder {
    char key_id[37];
    long held;
    struct holder *next;
};

/* A fiber waiting for a turn of its key (event mode): parked, not blocking its thread. */
struct fwaiter {
    struct fiber *f;
    const char *key_id;
    bool granted; /* keycap_release handed it its key's turn */
    struct fwaiter *next;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fwaiter *fwaiters, *fwaiters_tail; /* in arrival order */
    bool ready;
    long cap, keys, waiting;
    struct holder *buckets[BUCKETS];
} kc = {.mu = PTHREAD_MUTEX_INITIALIZER};

void keycap_init(long cap)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&kc.cv, &attr);
    pthread_condattr_destroy(&attr);
    kc.cap = cap > 0 ? cap : 1;
    kc.ready = true;
}

static struct holder **slot(const char *key_id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = key_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    struct holder **s = &kc.buckets[h % BUCKETS];
    while (*s && strcmp((*s)->key_id, key_id) != 0)
        s = &(*s)->next;
    return s;
}

static bool take_blocking(const char *key_id, long wait_ms);

static bool fiber_waiting(const char *key_id)
{
    for (struct fwaiter *w = kc.fwaiters; w; w = w->next)
        if (!strcmp(w->key_id, key_id))
            return true;
    return false;
}

static void fwaiter_remove(struct fwaiter *w)
{
    struct fwaiter **p, *prev = NULL;
    for (p = &kc.fwaiters; *p && *p != w; prev = *p, p = &(*p)->next)
        ;
    if (!*p)
        return;
    *p = w->next;
    if (kc.fwaiters_tail == w)
        kc.fwaiters_tail = prev;
}

/* A fiber's wait: in line behind its key's other waiters, parked until keycap_release
 * hands it a turn (first come, first served) or the wait ends. */
static bool take_fiber(const char *key_id, long wait_ms)
{
    uint64_t deadline = util_now_ns() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000u;
    struct fwaiter w = {fiber_self(), key_id, false, NULL};
    struct holder **s, *h;
    bool got = false;
    pthread_mutex_lock(&kc.mu);
    s = slot(key_id);
    if (!*s && (*s = calloc(1, sizeof **s))) {
        snprintf((*s)->key_id, sizeof(*s)->key_id, "%s", key_id);
        kc.keys++;
    }
    h = *s;
    if (h && h->held < kc.cap && !fiber_waiting(key_id)) {
        h->held++;
        pthread_mutex_unlock(&kc.mu);
        return true;
    }
    if (!h || wait_ms <= 0) {
        pthread_mutex_unlock(&kc.mu);
        return false;
    }
    if (kc.fwaiters_tail)
        kc.fwaiters_tail->next = &w;
    else
        kc.fwaiters = &w;
    kc.fwaiters_tail = &w;
    kc.waiting++;
    while (!w.granted) {
        bool in_time;
        pthread_mutex_unlock(&kc.mu);
        in_time = fiber_park(deadline);
        pthread_mutex_lock(&kc.mu);
        if (!in_time && !w.granted) {
            fwaiter_remove(&w);
            break;
        }
    }
    kc.waiting--;
    got = w.granted; /* handed over: counted in held already */
    pthread_mutex_unlock(&kc.mu);
    return got;
}

/* On a fiber the wait parks the fiber; elsewhere the thread waits. */
bool keycap_take(const char *key_id, long wait_ms)
{
    if (!kc.ready)
        return true;
    return fiber_in() ? take_fiber(key_id, wait_ms) : take_blocking(key_id, wait_ms);
}

static bool take_blocking(const char *key_id, long wait_ms)
{
    struct timespec deadline;
    struct holder **s, *h;
    bool got = false;
    if (!kc.ready)
        return true;
    util_deadline(&deadline, wait_ms);
    pthread_mutex_lock(&kc.mu);
    kc.waiting++;
    while ((h = *slot(key_id)) && h->held >= kc.cap)
        if (pthread_cond_timedwait(&kc.cv, &kc.mu, &deadline) == ETIMEDOUT)
            break;
    kc.waiting--;
    s = slot(key_id);
    if (!*s && (*s = calloc(1, sizeof **s))) {
        snprintf((*s)->key_id, sizeof(*s)->key_id, "%s", key_id);
        kc.keys++;
    }
    if (*s && (*s)->held < kc.cap) {
        (*s)->held++;
        got = true;
    }
    pthread_mutex_unlock(&kc.mu);
    return got;
}

void keycap_release(const char *key_id)
{
    struct holder **s, *h;
    if (!kc.ready)
        return;
    pthread_mutex_lock(&kc.mu);
    s = slot(key_id);
    for (struct fwaiter *w = kc.fwaiters; w; w = w->next)
        if (!strcmp(w->key_id, key_id)) { /* the turn goes straight to its oldest waiter */
            fwaiter_remove(w);
            w->granted = true;
            fiber_unpark(w->f); /* w lives on that fiber's stack: nothing of it after this */
            pthread_mutex_unlock(&kc.mu);
            return;
        }
    if ((h = *s) && --h->held <= 0) {
        *s = h->next;
        free(h);
        kc.keys--;
    }
    pthread_cond_broadcast(&kc.cv); /* the waiter whose key it was may be any of them */
    pthread_mutex_unlock(&kc.mu);
}
