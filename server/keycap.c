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

#include "leadloop/util.h"

#define BUCKETS 256

struct holder {
    char key_id[37];
    long held;
    struct holder *next;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
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

bool keycap_take(const char *key_id, long wait_ms)
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
    if ((h = *s) && --h->held <= 0) {
        *s = h->next;
        free(h);
        kc.keys--;
    }
    pthread_cond_broadcast(&kc.cv); /* the waiter whose key it was may be any of them */
    pthread_mutex_unlock(&kc.mu);
}
