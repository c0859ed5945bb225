/* The API-key cache: a direct-mapped table under one mutex (a lookup is a few hundred
 * nanoseconds), filled on database lookups and emptied by notifications. Entries live at
 * most ttl seconds, which also bounds how stale last_used_at can get. */
#include "leadloop/keycache.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leadloop/db.h"
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
    char *conninfo;
    pthread_t thread;
    atomic_bool stop;
    bool running;
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

static void lost(PGconn **pg)
{
    if (atomic_exchange(&kc.listening, false))
        log_warn("key cache: notification connection lost; authenticating every request");
    atomic_fetch_add(&kc.generation, 1);
    clear_all();
    PQfinish(*pg);
    *pg = NULL;
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

static void *listener(void *arg)
{
    PGconn *pg = NULL;
    char err[256];
    (void)arg;
    while (!atomic_load(&kc.stop)) {
        if (!pg) {
            pg = db_connect_once(kc.conninfo, err, sizeof err);
            PGresult *res = pg ? PQexec(pg, "LISTEN leadloop_api_keys") : NULL;
            bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
            PQclear(res);
            if (!ok) {
                if (pg)
                    lost(&pg);
                struct timespec pause = {1, 0};
                nanosleep(&pause, NULL); /* retry once a second; stop waits at most that */
                continue;
            }
            clear_all(); /* nothing heard while away may be trusted */
            atomic_fetch_add(&kc.generation, 1);
            atomic_store(&kc.listening, true);
        }
        struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
        int n = poll(&pfd, 1, 250);
        if (n < 0 && errno != EINTR) {
            lost(&pg);
            continue;
        }
        if (n > 0 && (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK)) {
            lost(&pg);
            continue;
        }
        PGnotify *note;
        while ((note = PQnotifies(pg)) != NULL) {
            if (hex_hash(note->extra))
                keycache_forget(note->extra);
            else /* not ours to read: forget everything rather than guess */
                clear_all();
            PQfreemem(note);
        }
    }
    atomic_store(&kc.listening, false);
    PQfinish(pg);
    return NULL;
}

bool keycache_start(const char *conninfo, long ttl_s)
{
    kc.ttl_ns = (uint64_t)ttl_s * 1000000000u;
    if (ttl_s == 0)
        return true;
    kc.conninfo = strdup(conninfo ? conninfo : "");
    if (!kc.conninfo)
        return false;
    atomic_store(&kc.stop, false);
    if (pthread_create(&kc.thread, NULL, listener, NULL) != 0) {
        free(kc.conninfo);
        kc.conninfo = NULL;
        return false;
    }
    kc.running = true;
    return true;
}

void keycache_stop(void)
{
    if (!kc.running)
        return;
    atomic_store(&kc.stop, true);
    pthread_join(kc.thread, NULL);
    free(kc.conninfo);
    kc.conninfo = NULL;
    kc.running = false;
}
