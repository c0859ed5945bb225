/* Rate limits: leases of tokens from the buckets in PostgreSQL, spent locally. A lease
 * belongs to one bucket of one workspace (the key's, or the workspace's); leases live in a
 * chained hash table under one mutex, and the database is asked outside it. */
#include "leadloop/ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/db.h"
#include "leadloop/log.h"
#include "leadloop/util.h"

#define BUCKETS 512

static long ceil_pos(double x)
{
    long n = (long)x;
    return x > (double)n ? n + 1 : n;
}
#define LEASE_NS 1000000000ull /* leased tokens not spent within this are lost */

static const char sql_take_key[] =
    "SELECT granted, remaining, reset_s, wait_s FROM ll_rate_take($1, $2, $3, $4, $5)";
static const char sql_take_both[] =
    "SELECT k.granted, k.remaining, k.reset_s, k.wait_s, w.granted, w.remaining, w.reset_s,"
    " w.wait_s FROM ll_rate_take($1, $2, $3, $4, $5) k,"
    " ll_rate_take($1, 'workspace', $6, $7, $8) w";

struct lease {
    char name[160];            /* as struct limit's */
    double tokens;             /* leased, not yet spent */
    double remaining, reset_s; /* the bucket, as the database last said */
    uint64_t expires_ns;       /* of the tokens */
    uint64_t closed_until_ns;  /* the bucket is empty until then */
    struct lease *next;
};

/* One bucket's limit, as it applies to a request. */
struct limit {
    const char *label; /* "key" or "workspace" */
    char name[160];
    long rate, burst;
};

static struct {
    pthread_mutex_t mu;
    long key_rate, key_burst, ws_rate, ws_burst;
    struct lease *table[BUCKETS];
} rl = {.mu = PTHREAD_MUTEX_INITIALIZER};

void ratelimit_init(long key_rate, long key_burst, long ws_rate, long ws_burst)
{
    rl.key_rate = key_rate;
    rl.key_burst = key_burst > 0 ? key_burst : key_rate;
    rl.ws_rate = ws_rate;
    rl.ws_burst = ws_burst > 0 ? ws_burst : ws_rate;
}

void ratelimit_reset(void)
{
    pthread_mutex_lock(&rl.mu);
    for (int i = 0; i < BUCKETS; i++)
        while (rl.table[i]) {
            struct lease *l = rl.table[i];
            rl.table[i] = l->next;
            free(l);
        }
    pthread_mutex_unlock(&rl.mu);
}

/* The lease of a bucket, made when absent (NULL when out of memory); rl.mu held. */
static struct lease *lease_of(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    struct lease **s = &rl.table[h % BUCKETS];
    for (; *s; s = &(*s)->next)
        if (!strcmp((*s)->name, name))
            return *s;
    if ((*s = calloc(1, sizeof **s)))
        snprintf((*s)->name, sizeof(*s)->name, "%s", name);
    return *s;
}

/* The limits that apply to a's requests: 0, 1 or 2 of them. */
static int limits_of(const struct auth_ctx *a, struct limit out[2])
{
    int n = 0;
    long rate = a->rate_per_s ? a->rate_per_s : rl.key_rate;
    long burst = a->rate_per_s ? a->rate_burst : rl.key_burst;
    if (rate > 0) {
        out[n].label = "key";
        out[n].rate = rate;
        out[n].burst = burst > 0 ? burst : rate;
        /* the limit is part of the lease's name: a changed limit starts a fresh lease */
        snprintf(out[n].name, sizeof out[n].name, "%s/key:%s/%ld/%ld", a->workspace_id,
                 auth_principal(a), out[n].rate, out[n].burst);
        n++;
    }
    if (rl.ws_rate > 0) {
        out[n].label = "workspace";
        snprintf(out[n].name, sizeof out[n].name, "%s/workspace", a->workspace_id);
        out[n].rate = rl.ws_rate;
        out[n].burst = rl.ws_burst;
        n++;
    }
    return n;
}

/* Tokens asked for at a time: a tenth of a second's worth, 1 to 100. */
static long lease_size(const struct limit *lim)
{
    long n = lim->rate / 10;
    if (n > lim->burst)
        n = lim->burst;
    return n < 1 ? 1 : n > 100 ? 100 : n;
}

/* The header values, from the leases; rl.mu held. */
static void describe(struct rl_verdict *v, const struct limit *lims, struct lease *const *ls, int n)
{
    size_t p = 0, s = 0;
    v->policy[0] = v->state[0] = '\0';
    for (int i = 0; i < n; i++) {
        long window = (lims[i].burst + lims[i].rate - 1) / lims[i].rate;
        double left = ls[i] ? ls[i]->remaining + ls[i]->tokens : (double)lims[i].burst;
        double reset = ls[i] ? ls[i]->reset_s : 0;
        p += (size_t)snprintf(v->policy + p, sizeof v->policy - p, "%s\"%s\";q=%ld;w=%ld",
                              i ? ", " : "", lims[i].label, lims[i].burst, window);
        s += (size_t)snprintf(v->state + s, sizeof v->state - s, "%s\"%s\";r=%ld;t=%ld",
                              i ? ", " : "", lims[i].label, left > 0 ? (long)left : 0L,
                              ceil_pos(reset));
        if (p >= sizeof v->policy || s >= sizeof v->state) {
            v->policy[0] = v->state[0] = '\0';
            return;
        }
    }
    v->limited = n > 0;
}

bool ratelimit_local(const struct auth_ctx *a, struct rl_verdict *v)
{
    struct limit lims[2];
    struct lease *ls[2] = {NULL, NULL};
    int n = limits_of(a, lims);
    uint64_t now = util_now_ns();
    bool decided = true, closed = false;
    memset(v, 0, sizeof *v);
    v->allowed = true;
    if (n == 0)
        return true;
    pthread_mutex_lock(&rl.mu);
    for (int i = 0; i < n; i++) {
        ls[i] = lease_of(lims[i].name);
        if (!ls[i])
            continue; /* out of memory: no limit rather than no service */
        if (now < ls[i]->closed_until_ns) {
            closed = true;
            long wait = (long)((ls[i]->closed_until_ns - now + 999999999ull) / 1000000000ull);
            if (wait > v->retry_after)
                v->retry_after = wait;
        } else if (now >= ls[i]->expires_ns || ls[i]->tokens < 1) {
            decided = false;
        }
    }
    if (closed) {
        v->allowed = false;
        decided = true;
    } else if (decided) {
        for (int i = 0; i < n; i++)
            if (ls[i])
                ls[i]->tokens -= 1;
    }
    if (decided)
        describe(v, lims, ls, n);
    pthread_mutex_unlock(&rl.mu);
    return decided;
}

void ratelimit_take(struct db_conn *db, const struct auth_ctx *a, struct rl_verdict *v)
{
    struct limit lims[2];
    struct lease *ls[2] = {NULL, NULL};
    char rate[2][24], burst[2][24], want[2][24], bucket[64];
    int n = limits_of(a, lims);
    PGresult *res;
    uint64_t now;
    bool all = true;

    memset(v, 0, sizeof *v);
    v->allowed = true;
    if (n == 0)
        return;
    for (int i = 0; i < n; i++) {
        snprintf(rate[i], sizeof rate[i], "%ld", lims[i].rate);
        snprintf(burst[i], sizeof burst[i], "%ld", lims[i].burst);
        snprintf(want[i], sizeof want[i], "%ld", lease_size(&lims[i]));
    }
    snprintf(bucket, sizeof bucket, "key:%s", auth_principal(a));
    /* the key's bucket first; the workspace's alone when the key has no limit */
    bool key_first = !strcmp(lims[0].label, "key");
    const char *vals[8] = {a->workspace_id,
                           key_first ? bucket : "workspace",
                           rate[0],
                           burst[0],
                           want[0],
                           n > 1 ? rate[1] : NULL,
                           n > 1 ? burst[1] : NULL,
                           n > 1 ? want[1] : NULL};
    res = db_exec(db, n > 1 ? sql_take_both : sql_take_key, n > 1 ? 8 : 5, vals);
    if (db_check(db, res) != LL_OK || PQntuples(res) != 1) {
        log_warn("rate limit: the buckets could not be read; the request goes through");
        PQclear(res);
        return;
    }
    now = util_now_ns();
    pthread_mutex_lock(&rl.mu);
    for (int i = 0; i < n; i++) {
        long granted = atol(PQgetvalue(res, 0, 4 * i));
        double wait_s = atof(PQgetvalue(res, 0, 4 * i + 3));
        if (!(ls[i] = lease_of(lims[i].name)))
            continue;
        ls[i]->tokens = (double)granted;
        ls[i]->remaining = atof(PQgetvalue(res, 0, 4 * i + 1));
        ls[i]->reset_s = atof(PQgetvalue(res, 0, 4 * i + 2));
        ls[i]->expires_ns = now + LEASE_NS;
        if (granted < 1) {
            all = false;
            ls[i]->closed_until_ns = now + (uint64_t)(wait_s * 1e9);
            long wait = ceil_pos(wait_s);
            if (wait < 1)
                wait = 1;
            if (wait > v->retry_after)
                v->retry_after = wait;
        }
    }
    if (all)
        for (int i = 0; i < n; i++)
            if (ls[i])
                ls[i]->tokens -= 1;
    v->allowed = all;
    describe(v, lims, ls, n);
    pthread_mutex_unlock(&rl.mu);
    PQclear(res);
}
