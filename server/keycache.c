/* The API-key cache: a direct-mapped table under one mutex (a lookup is a few hundred
 * nanoseconds), filled on database lookups and emptied by notifications (server/listen.c). Entries
 * live at most ttl seconds, which also bounds how stale last_used_at can get. */
#include "leadloop/keycache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leadloop/listen.h"
#include "leadloop/log.h"
#include "leadloop/util.h"

#define SLOTS 1024

struct entry {
    char hash[65];
    struct auth_ctx ctx;
    uint64_t expires_ns;
};

static struct {
    pthread_mutex_t mu;
    struct entry slots[SLOTS];
    atomic_bool listening; /* the cache is trusted only while notifications arrive */
    atomic_uint_fast64_t generation;
    uint64_t ttl_ns;
} kc = {.mu = PTHREAD_MUTEX_INITIALIZER};

static size_t slot_of(const char *hash)
{
    unsigned v = 0;
    for (int i = 0; i < 8; i++) {
        char c = hash[i];
        v = v * 16 + (unsigned)(c >= 'a' ? c - 'a' + 10 : c - '0');
    }
    return v % SLOTS;
}

static void clear_all(void)
{
    pthread_mutex_lock(&kc.mu);
    for (size_t i = 0; i < SLOTS; i++)
        kc.slots[i].hash[0] = '\0';
    pthread_mutex_unlock(&kc.mu);
}

bool keycache_get(const char *hash, struct auth_ctx *out)
{
    bool hit = false;
    struct entry *e;
    if (!atomic_load(&kc.listening))
        return false;
    e = &kc.slots[slot_of(hash)];
    pthread_mutex_lock(&kc.mu);
    if (!strcmp(e->hash, hash) && util_now_ns() < e->expires_ns) {
        *out = e->ctx;
        hit = true;
    }
    pthread_mutex_unlock(&kc.mu);
    return hit;
}

uint64_t keycache_generation(void)
{
    return atomic_load(&kc.generation);
}

void keycache_put(const char *hash, const struct auth_ctx *ctx, uint64_t generation)
{
    struct entry *e;
    if (!atomic_load(&kc.listening) || kc.ttl_ns == 0)
        return;
    e = &kc.slots[slot_of(hash)];
    pthread_mutex_lock(&kc.mu);
    /* Checked under the lock that forget also takes: a notification that came in while
     * the database was asked leaves this answer uncached. */
    if (generation == atomic_load(&kc.generation)) {
        snprintf(e->hash, sizeof e->hash, "%s", hash);
        e->ctx = *ctx;
        e->expires_ns = util_now_ns() + kc.ttl_ns;
    }
    pthread_mutex_unlock(&kc.mu);
}

void keycache_forget(const char *hash)
{
    struct entry *e = &kc.slots[slot_of(hash)];
    pthread_mutex_lock(&kc.mu);
    atomic_fetch_add(&kc.generation, 1);
    if (!strcmp(e->hash, hash))
        e->hash[0] = '\0';
    pthread_mutex_unlock(&kc.mu);
}

static bool hex_hash(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void on_note(const char *payload, void *arg)
{
    (void)arg;
    if (hex_hash(payload))
        keycache_forget(payload);
    else /* not ours to read: forget everything rather than guess */
        clear_all();
}

/* Nothing heard while the listener was away may be trusted. */
static void on_up(bool listening, void *arg)
{
    (void)arg;
    if (!listening && atomic_exchange(&kc.listening, false))
        log_warn("key cache: notifications lost; authenticating every request");
    atomic_fetch_add(&kc.generation, 1);
    clear_all();
    if (listening)
        atomic_store(&kc.listening, true);
}

bool keycache_start(long ttl_s)
{
    static const struct listen_sub sub = {"leadloop_api_keys", on_note, on_up, NULL};
    kc.ttl_ns = (uint64_t)ttl_s * 1000000000u;
    return ttl_s == 0 || listen_add(&sub);
}

void keycache_stop(void)
{
    atomic_store(&kc.listening, false);
    clear_all();
}
