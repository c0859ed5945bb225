/* The read replica's policy: where a list or report reads, and the probe that measures
 * how far the replica is behind.
 *
 * Lag is measured in WAL positions, not replay timestamps: `now() -
 * pg_last_xact_replay_timestamp()` grows while the primary is idle, though the replica
 * then has everything. Every probe reads the primary's WAL insert position L at time t
 * (taken before the statement is sent: every commit acknowledged before t is at or below
 * L), then the replica's replay position R. When R >= L the replica had, at t, all the
 * primary had: it is "current as of" t. Otherwise it is current as of the latest earlier
 * probe whose L is at or below R (a ring of recent probes). The lag is now minus that
 * time, so a replica whose probes stop (down, frozen) falls behind by itself.
 *
 * Read-your-writes: after a write, the caller's bucket keeps the primary's insert
 * position (one statement on the write's own connection, after its commit) and the time.
 * A read of that caller goes to the replica when the replica is current as of a time
 * after the write, or its replay position (the probe's, else asked on the replica
 * connection just taken) has passed the write's position. Callers share buckets by hash:
 * a collision only sends a read to the primary more often.
 *
 * An insert position at the first byte after a page header names the same place as that
 * page's start, which is how the replica reports a replay that ended on the page
 * boundary; both are compared in that form (wal_block_size, wal_segment_size). */
#include "leadloop/replica.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/db.h"
#include "leadloop/log.h"
#include "leadloop/ticker.h"
#include "leadloop/util.h"

#define RING        128  /* recent probes of the primary */
#define BUCKETS     1024 /* callers' last writes, by hash */
#define LSN_UNKNOWN UINT64_MAX
/* A probe waits this long for a connection or an answer; a read, for a replica connection
 * (a replica that does not answer in time is marked down). */
#define PROBE_WAIT_MS   1000
#define CONNECT_WAIT_MS 500
/* XLOG page header sizes (PostgreSQL's SizeOfXLogShortPHD, SizeOfXLogLongPHD). */
#define SHORT_PHD 24
#define LONG_PHD  40

static const char primary_sql[] =
    "SELECT pg_current_wal_insert_lsn(), current_setting('wal_block_size'),"
    " pg_size_bytes(current_setting('wal_segment_size'))";
static const char replica_sql[] =
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(),"
    " (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint";
static const char insert_lsn_sql[] = "SELECT pg_current_wal_insert_lsn()";
static const char replay_lsn_sql[] = "SELECT pg_last_wal_replay_lsn()";

struct sample {
    uint64_t t;   /* the latest probe start (monotonic ns) that found the primary at lsn */
    uint64_t lsn; /* the primary's insert position then */
};

struct bucket {
    uint64_t lsn; /* the latest write's insert position (LSN_UNKNOWN: not known) */
    uint64_t t;   /* when it was noted (monotonic ns); 0: none */
};

static struct {
    bool on;
    uint64_t max_lag_ns;
    struct ticker ticker;
    /* the probe thread's own */
    struct sample ring[RING];
    int nring, newest;
    bool was_usable;
    /* read by requests */
    _Atomic uint64_t current_at; /* the replica had all the primary had at this time; 0: never */
    _Atomic uint64_t replayed;   /* its replay position, as last seen */
    _Atomic uint64_t block_size, seg_size;
    atomic_bool up;
    atomic_ulong fallbacks_seen; /* db_replica_fallbacks() when a read last looked */
    atomic_ulong served, lagging, down, own_writes, busy;
    pthread_mutex_t mu; /* guards keys */
    struct bucket keys[BUCKETS];
} rep = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* "16/B374D848" -> its 64-bit position; false for anything else (NULL on a primary). */
static bool parse_lsn(const char *s, uint64_t *out)
{
    unsigned hi, lo;
    int n = 0;
    if (!s || sscanf(s, "%X/%X%n", &hi, &lo, &n) != 2 || s[n] != '\0')
        return false;
    *out = (uint64_t)hi << 32 | lo;
    return true;
}

/* An insert position just past a page header, as the page's start (see the top). */
static uint64_t normalize(uint64_t lsn)
{
    uint64_t block = atomic_load(&rep.block_size), seg = atomic_load(&rep.seg_size);
    if (seg && lsn % seg == LONG_PHD)
        return lsn - LONG_PHD;
    if (block && lsn % block == SHORT_PHD)
        return lsn - SHORT_PHD;
    return lsn;
}

static void set_max(_Atomic uint64_t *v, uint64_t x)
{
    uint64_t cur = atomic_load(v);
    while (cur < x && !atomic_compare_exchange_weak(v, &cur, x))
        ;
}

static struct bucket *bucket_of(const char *principal)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = principal; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return &rep.keys[h % BUCKETS];
}

/* The primary's insert position at time t0 joins the ring (the same position as the
 * newest probe's only moves that probe's time forward). */
static void ring_add(uint64_t t0, uint64_t lsn)
{
    struct sample *s = rep.nring ? &rep.ring[rep.newest] : NULL;
    if (s && s->lsn == lsn) {
        s->t = t0;
        return;
    }
    rep.newest = rep.nring ? (rep.newest + 1) % RING : 0;
    if (rep.nring < RING)
        rep.nring++;
    rep.ring[rep.newest] = (struct sample){t0, lsn};
}

/* The latest probe time whose primary position the replica has replayed; 0: none in the
 * ring. */
static uint64_t ring_current_as_of(uint64_t replayed)
{
    for (int k = 0; k < rep.nring; k++) {
        const struct sample *s = &rep.ring[(rep.newest - k + RING) % RING];
        if (s->lsn <= replayed)
            return s->t;
    }
    return 0;
}

/* The primary's insert position now (and the WAL geometry); false when it cannot be had. */
static bool probe_primary(uint64_t *lsn)
{
    struct db_conn *p = NULL;
    PGresult *res;
    bool ok;
    if (db_acquire_within(&p, PROBE_WAIT_MS, PROBE_WAIT_MS) != LL_OK)
        return false;
    res = db_exec(p, primary_sql, 0, NULL);
    ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
         parse_lsn(PQgetvalue(res, 0, 0), lsn);
    if (ok) {
        atomic_store(&rep.block_size, strtoull(PQgetvalue(res, 0, 1), NULL, 10));
        atomic_store(&rep.seg_size, strtoull(PQgetvalue(res, 0, 2), NULL, 10));
    }
    PQclear(res);
    db_release(p);
    return ok;
}

/* The replica's replay position; false (saying why in why) when it cannot be reached or
 * is no standby (promoted: its data goes its own way from the primary's). */
static bool probe_replica(uint64_t *replayed, long *replay_age_ms, const char **why)
{
    struct db_conn *r = NULL;
    PGresult *res;
    bool ok = false;
    *why = "cannot be reached";
    if (db_acquire_replica(&r, PROBE_WAIT_MS, false) != LL_OK)
        return false;
    res = db_exec(r, replica_sql, 0, NULL);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        if (PQgetvalue(res, 0, 0)[0] != 't') {
            *why = "is not a standby (promoted?)";
        } else if (parse_lsn(PQgetvalue(res, 0, 1), replayed)) {
            *replay_age_ms = PQgetisnull(res, 0, 2) ? -1 : strtol(PQgetvalue(res, 0, 2), NULL, 10);
            ok = true;
        }
    }
    PQclear(res);
    db_release(r);
    return ok;
}

static void probe(void *arg)
{
    uint64_t t0 = util_now_ns(), lp, lr = 0, cur;
    long age_ms = -1;
    const char *why;
    bool usable;
    (void)arg;
    if (!probe_primary(&lp))
        return; /* no news: the replica's lag grows by itself meanwhile */
    lp = normalize(lp);
    ring_add(t0, lp);
    if (!probe_replica(&lr, &age_ms, &why)) {
        if (atomic_exchange(&rep.up, false) || rep.was_usable)
            log_warn("read replica %s; reads go to the primary", why);
        rep.was_usable = false;
        return;
    }
    atomic_store(&rep.up, true);
    set_max(&rep.replayed, lr);
    cur = lr >= lp ? t0 : ring_current_as_of(lr);
    set_max(&rep.current_at, cur);
    cur = atomic_load(&rep.current_at);
    usable = cur && util_now_ns() - cur <= rep.max_lag_ns;
    if (usable != rep.was_usable) {
        if (usable)
            log_info("read replica is current; lists and reports read from it");
        else
            log_warn("read replica is behind the primary by more than the lag bound (last "
                     "transaction replayed %ld ms ago); reads go to the primary",
                     age_ms);
    }
    rep.was_usable = usable;
}

bool replica_start(const char *conninfo, long pool_size, long max_lag_ms)
{
    long interval = max_lag_ms / 5;
    if (!conninfo || !*conninfo)
        return true;
    if (!db_replica_init(conninfo, pool_size))
        return false;
    rep.max_lag_ns = (uint64_t)max_lag_ms * 1000000u;
    rep.on = true;
    atomic_store(&rep.up, true); /* until a probe or a read finds otherwise */
    probe(NULL);                 /* a first measure before the first request */
    return ticker_start(&rep.ticker,
                        interval < 20     ? 20
                        : interval > 1000 ? 1000
                                          : interval,
                        probe, NULL);
}

void replica_stop(void)
{
    ticker_stop(&rep.ticker);
}

/* Whether the caller's last write may be missing on the replica: 0 when it is not, its
 * position otherwise. */
static uint64_t own_write_pending(const char *principal, uint64_t current_at)
{
    struct bucket *b;
    uint64_t lsn = 0;
    if (!principal || !*principal)
        return 0;
    pthread_mutex_lock(&rep.mu);
    b = bucket_of(principal);
    if (b->t && b->t >= current_at) /* after the time the replica is current as of */
        lsn = b->lsn;
    pthread_mutex_unlock(&rep.mu);
    return lsn && lsn != LSN_UNKNOWN && lsn <= atomic_load(&rep.replayed) ? 0 : lsn;
}

/* Whether the replica (on h) has replayed lsn, asked there now. */
static bool replayed_there(struct db_conn *h, uint64_t lsn)
{
    PGresult *res = db_exec(h, replay_lsn_sql, 0, NULL);
    uint64_t lr = 0;
    bool ok = db_on_replica(h) && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
              parse_lsn(PQgetvalue(res, 0, 0), &lr);
    PQclear(res);
    if (!ok)
        return false;
    set_max(&rep.replayed, lr);
    return lr >= lsn;
}

bool replica_acquire(struct db_conn **out, const char *principal)
{
    uint64_t now, cur, pending;
    enum ll_err err;
    unsigned long fallbacks = db_replica_fallbacks(), seen = atomic_load(&rep.fallbacks_seen);
    if (!rep.on)
        return false;
    /* A read the replica failed since (a frozen or dying replica fails each one only after
     * the statement timeout): no more reads there until the next probe that reaches it. */
    if (fallbacks != seen &&
        atomic_compare_exchange_strong(&rep.fallbacks_seen, &seen, fallbacks) &&
        atomic_exchange(&rep.up, false))
        log_warn("a read failed on the read replica; reads go to the primary until it answers a "
                 "probe");
    if (!atomic_load(&rep.up)) {
        atomic_fetch_add(&rep.down, 1);
        return false;
    }
    now = util_now_ns();
    cur = atomic_load(&rep.current_at);
    if (!cur || (now > cur && now - cur > rep.max_lag_ns)) {
        atomic_fetch_add(&rep.lagging, 1);
        return false;
    }
    pending = own_write_pending(principal, cur);
    if (pending == LSN_UNKNOWN) {
        atomic_fetch_add(&rep.own_writes, 1);
        return false;
    }
    err = db_acquire_replica(out, CONNECT_WAIT_MS, true);
    if (err == LL_E_RATE_LIMITED) {
        atomic_fetch_add(&rep.busy, 1);
        return false;
    }
    if (err != LL_OK) {
        if (atomic_exchange(&rep.up, false))
            log_warn("read replica cannot be reached; reads go to the primary");
        atomic_fetch_add(&rep.down, 1);
        return false;
    }
    if (pending && !replayed_there(*out, pending)) {
        db_release(*out);
        *out = NULL;
        atomic_fetch_add(&rep.own_writes, 1);
        return false;
    }
    atomic_fetch_add(&rep.served, 1);
    return true;
}

void replica_note_write(struct db_conn *db, const char *principal)
{
    uint64_t t = util_now_ns(), lsn = LSN_UNKNOWN;
    struct bucket *b;
    if (!rep.on || !principal || !*principal)
        return;
    if (db && !db_on_replica(db)) {
        PGresult *res = db_exec(db, insert_lsn_sql, 0, NULL);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
            parse_lsn(PQgetvalue(res, 0, 0), &lsn))
            lsn = normalize(lsn);
        else
            lsn = LSN_UNKNOWN;
        PQclear(res);
    }
    pthread_mutex_lock(&rep.mu);
    b = bucket_of(principal);
    /* the bucket's last write, when the replica has it already, no longer counts */
    if (!b->t || b->t < atomic_load(&rep.current_at) || b->lsn < lsn)
        b->lsn = lsn;
    b->t = t;
    pthread_mutex_unlock(&rep.mu);
}

void replica_stats(struct replica_stats *out)
{
    uint64_t cur = atomic_load(&rep.current_at), now = util_now_ns();
    out->on = rep.on;
    out->up = rep.on && atomic_load(&rep.up);
    out->lag_s = !cur ? -1 : now > cur ? (double)(now - cur) / 1e9 : 0;
    out->served = atomic_load(&rep.served);
    out->lagging = atomic_load(&rep.lagging);
    out->down = atomic_load(&rep.down);
    out->own_writes = atomic_load(&rep.own_writes);
    out->busy = atomic_load(&rep.busy);
}
