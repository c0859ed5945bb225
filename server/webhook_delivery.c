/* Webhook delivery. The dispatcher follows the change feed for each active endpoint (its
 * cursor in webhook_cursors) and writes one delivery per change it subscribes to, moving
 * the cursor in the same transaction; a cursor another daemon moved first makes it roll
 * back, and the unique (endpoint, change) makes a second row impossible anyway. Senders
 * take due deliveries, one workspace at a time (every statement names its workspace, so
 * that on Citus it goes to one node), with FOR UPDATE SKIP LOCKED and a lease (the attempt
 * counts at once; a daemon killed mid-attempt leaves it to be retried when the lease ends),
 * render each change as GET /v1/changes shows it, sign, POST, and record the outcome.
 * Threads borrow pooled connections only for their statements, never across an HTTP call. */
#include "leadloop/webhook_delivery.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leadloop/changes.h"
#include "leadloop/db.h"
#include "leadloop/log.h"
#include "leadloop/util.h"
#include "leadloop/webhook_client.h"

#define BATCH       50
#define FANOUT_PAGE 500
#define MAX_SENDERS 16
#define PASS_GAP_MS 50

/* The active endpoints that have something to follow: a change past their cursor (one probe
 * of the changes' key each), a cursor behind the horizon (the changes it had not reached
 * were deleted: it goes on from the frontier) or ahead of every transaction (a restored
 * database: the same). Endpoints with nothing new cost no statement of their own, however
 * many workspaces there are. */
static const char sql_endpoints[] =
    "SELECT e.workspace_id, e.id, to_json(e.types)::text, c.xid::text, c.seq"
    " FROM webhook_endpoints e JOIN webhook_cursors c"
    " ON c.workspace_id = e.workspace_id AND c.endpoint_id = e.id"
    " WHERE e.active AND (EXISTS (SELECT 1 FROM changes x WHERE x.workspace_id = c.workspace_id"
    " AND (x.xid, x.seq) > (c.xid, c.seq)) OR EXISTS (SELECT 1 FROM change_horizons h"
    " WHERE h.workspace_id = c.workspace_id AND (h.xid, h.seq) > (c.xid, c.seq))"
    " OR c.xid > pg_snapshot_xmax(pg_current_snapshot()))"
    " ORDER BY e.workspace_id, e.id";
/* $1 $2 the endpoint, $3 $4 where its cursor must still be, $5 $6 where it goes. */
static const char sql_advance[] =
    "UPDATE webhook_cursors SET xid = $5::xid8, seq = $6::bigint WHERE workspace_id = $1"
    " AND endpoint_id = $2 AND xid = $3::xid8 AND seq = $4::bigint";
/* Changes of transactions that had committed when the endpoint was made are not its own,
 * even when they lie past the frontier it started from (sql/0013_webhooks.sql). */
static const char sql_fan_out[] =
    "INSERT INTO webhook_deliveries (workspace_id, endpoint_id, change_xid, change_seq, type)"
    " SELECT $1, $2, x, s, t FROM unnest($3::xid8[], $4::bigint[], $5::text[]) AS u(x, s, t),"
    " webhook_cursors c WHERE c.workspace_id = $1 AND c.endpoint_id = $2"
    " AND NOT pg_visible_in_snapshot(x, c.since) ON CONFLICT DO NOTHING";
/* The workspaces of the oldest due deliveries of active endpoints ($1 how many deliveries
 * to look at), the oldest first: one index range of webhook_deliveries_due. The senders then
 * claim one workspace at a time, so that each statement that locks rows names one
 * workspace_id (on Citus such a statement must, to go to one node). */
static const char sql_due[] =
    "SELECT workspace_id FROM (SELECT d.workspace_id, d.next_attempt_at FROM webhook_deliveries d"
    " JOIN webhook_endpoints e ON e.workspace_id = d.workspace_id AND e.id = d.endpoint_id"
    " AND e.active WHERE d.status = 'pending' AND d.next_attempt_at <= now()"
    " ORDER BY d.next_attempt_at LIMIT $1::integer) d GROUP BY workspace_id"
    " ORDER BY min(next_attempt_at)";
/* $1 the workspace, $2 how many, $3 the lease in seconds. The previous secret is returned
 * while it signs too (the claim's time is last_attempt_at: no function in the RETURNING,
 * which Citus refuses unless IMMUTABLE). */
static const char sql_claim[] =
    "WITH due AS (SELECT d.id FROM webhook_deliveries d"
    " JOIN webhook_endpoints e ON e.workspace_id = d.workspace_id AND e.id = d.endpoint_id"
    " AND e.active WHERE d.workspace_id = $1 AND d.status = 'pending'"
    " AND d.next_attempt_at <= now()"
    " ORDER BY d.next_attempt_at LIMIT $2::integer FOR UPDATE OF d SKIP LOCKED)"
    " UPDATE webhook_deliveries d SET attempts = d.attempts + 1, last_attempt_at = now(),"
    " next_attempt_at = now() + make_interval(secs => $3::integer)"
    " FROM due, webhook_endpoints e WHERE d.workspace_id = $1 AND d.id = due.id"
    " AND e.workspace_id = $1 AND e.id = d.endpoint_id"
    " RETURNING d.workspace_id, d.id, d.change_xid::text, d.change_seq, d.payload, d.attempts,"
    " e.url, e.secret, CASE WHEN e.previous_expires_at > d.last_attempt_at"
    " THEN e.previous_secret END";
enum { C_WS, C_ID, C_XID, C_SEQ, C_PAYLOAD, C_ATTEMPTS, C_URL, C_SECRET, C_PREVIOUS };
/* An attempt's outcome (sql/functions/72_webhooks.sql): $1 $2 the delivery, $3 delivered,
 * retry, failed or gone, $4 the HTTP status, $5 the error, $6 the delay before the next
 * attempt (ms), $7 how long a delivery is retried (s). */
static const char sql_outcome[] = "SELECT ll_webhook_outcome($1, $2, $3, $4::smallint, $5,"
                                  " $6::double precision, $7::integer)";
/* Gives back a claimed delivery not attempted (its lease would end first). */
static const char sql_unclaim[] =
    "UPDATE webhook_deliveries SET attempts = attempts - 1, next_attempt_at = now()"
    " WHERE workspace_id = $1 AND id = $2 AND status = 'pending'";

static struct {
    struct webhook_delivery_config cfg;
    pthread_t dispatcher, senders[MAX_SENDERS];
    int nsenders;
    bool dispatching;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* senders wait on it for new deliveries */
    uint64_t made;     /* deliveries made so far (senders' wake-up) */
} wd = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ------------------------------------------------------------------ dispatcher */

/* A text[] literal of count values taken from items[i].key (numbers or plain strings). */
static char *array_of(json_t *items, const char *key, bool quote)
{
    size_t n = json_array_size(items), cap = 16 + n * 40, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(json_array_get(items, i), key);
        char num[32];
        const char *text = json_is_string(v) ? json_string_value(v) : num;
        if (!json_is_string(v))
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        size_t tl = strlen(text);
        if (len + tl + 4 > cap) {
            char *grown = realloc(s, cap = (cap + tl) * 2);
            if (!grown) {
                free(s);
                return NULL;
            }
            s = grown;
        }
        len += (size_t)sprintf(s + len, "%s%s%s%s", i ? "," : "", quote ? "\"" : "", text,
                               quote ? "\"" : "");
    }
    s[len++] = '}';
    s[len] = '\0';
    return s;
}

/* Writes the deliveries of one page and moves the cursor, in one transaction. Returns how
 * many were made (0 when another daemon moved the cursor first), -1 on failure. */
static long fan_out_page(struct db_conn *db, const char *ws, const char *endpoint,
                         const struct change_pos *from, const struct changes_page *page)
{
    char fx[24], fs[24], tx[24], ts[24], *xids = NULL, *seqs = NULL, *types = NULL;
    PGresult *res = NULL;
    long made = -1;
    snprintf(fx, sizeof fx, "%llu", (unsigned long long)from->xid);
    snprintf(fs, sizeof fs, "%llu", (unsigned long long)from->seq);
    snprintf(tx, sizeof tx, "%llu", (unsigned long long)page->next.xid);
    snprintf(ts, sizeof ts, "%llu", (unsigned long long)page->next.seq);
    if (db_tx_begin(db) != LL_OK)
        return -1;
    const char *adv[6] = {ws, endpoint, fx, fs, tx, ts};
    res = db_exec(db, sql_advance, 6, adv);
    if (db_check(db, res) != LL_OK)
        goto out;
    if (atol(PQcmdTuples(res)) == 0) { /* someone else got there first */
        made = 0;
        goto out;
    }
    if (json_array_size(page->items) > 0) {
        if (!(xids = array_of(page->items, "xid", false)) ||
            !(seqs = array_of(page->items, "seq", false)) ||
            !(types = array_of(page->items, "type", true)))
            goto out;
        PQclear(res);
        const char *vals[5] = {ws, endpoint, xids, seqs, types};
        res = db_exec(db, sql_fan_out, 5, vals);
        if (db_check(db, res) != LL_OK)
            goto out;
    }
    if (db_tx_commit(db) != LL_OK)
        goto out;
    made = (long)json_array_size(page->items);
out:
    if (db_tx_depth(db) > 0)
        db_tx_rollback(db);
    free(xids);
    free(seqs);
    free(types);
    PQclear(res);
    return made;
}

/* Follows the feed for one endpoint up to the frontier. */
static long fan_out_endpoint(struct db_conn *db, const PGresult *eps, int row)
{
    const char *ws = PQgetvalue(eps, row, 0), *endpoint = PQgetvalue(eps, row, 1);
    json_t *types_json = json_loads(PQgetvalue(eps, row, 2), 0, NULL);
    const char *types[40];
    size_t nt = json_array_size(types_json), i;
    long total = 0;
    struct changes_query q = {
        .workspace_id = ws, .limit = FANOUT_PAGE, .with_keys = true, .meta_only = true};
    q.after.xid = strtoull(PQgetvalue(eps, row, 3), NULL, 10);
    q.after.seq = strtoull(PQgetvalue(eps, row, 4), NULL, 10);
    for (i = 0; i < nt && i < 39; i++)
        types[i] = json_string_value(json_array_get(types_json, i));
    types[i] = NULL;
    q.types = nt ? types : NULL;
    for (int pages = 0; pages < 20 && !atomic_load(&wd.stop); pages++) {
        struct changes_page page;
        if (changes_page(db, &q, &page) != LL_OK)
            break;
        if (page.expired || page.future) {
            log_warn("webhooks: endpoint %s: its position in the change feed is %s; it goes on"
                     " from the frontier",
                     endpoint, page.expired ? "older than the feed keeps" : "ahead of the feed");
            page.next = page.frontier;
        }
        long made = 0;
        if (page.next.xid != q.after.xid || page.next.seq != q.after.seq)
            made = fan_out_page(db, ws, endpoint, &q.after, &page);
        changes_page_free(&page);
        if (made < 0)
            break;
        total += made;
        q.after = page.next;
        if (!page.more)
            break;
    }
    json_decref(types_json);
    return total;
}

static void *dispatch(void *arg)
{
    (void)arg;
    while (!atomic_load(&wd.stop)) {
        uint64_t gen = changes_generation_any();
        struct db_conn *db = NULL;
        long made = 0;
        if (db_acquire(&db) == LL_OK) {
            PGresult *eps = db_exec(db, sql_endpoints, 0, NULL);
            if (db_check(db, eps) == LL_OK)
                for (int i = 0; i < PQntuples(eps) && !atomic_load(&wd.stop); i++)
                    made += fan_out_endpoint(db, eps, i);
            PQclear(eps);
            db_release(db);
        }
        if (made > 0) {
            pthread_mutex_lock(&wd.mu);
            wd.made += (uint64_t)made;
            pthread_cond_broadcast(&wd.cv);
            pthread_mutex_unlock(&wd.mu);
        }
        /* A notification wakes it, no sooner than PASS_GAP_MS after the last pass (under
         * a stream of writes one pass takes many changes); the second is a floor for
         * changes it was not told of (a lost listener, one held back by an older
         * transaction). */
        struct timespec gap = {0, PASS_GAP_MS * 1000000L};
        nanosleep(&gap, NULL);
        (void)changes_wait_any(gen, 1000 - PASS_GAP_MS);
    }
    return NULL;
}

/* ------------------------------------------------------------------ senders */

struct job {
    const char *ws, *id, *url, *secrets[3];
    const char *xid, *seq; /* the change delivered; NULL for a ping */
    char *body;            /* new: the JSON sent */
    long attempts;
    struct webhook_result result;
    bool tried;
    bool looked; /* its change was looked for (render_bodies) */
    bool gone;   /* its change is no longer kept (rendered: not found) */
};

/* The bodies of a batch's changes: one render per workspace, matched back by seq. A change
 * not found is gone (its delivery fails); a render that failed leaves its workspace's jobs
 * without a body, to be retried later. Either concerns that workspace only: the batch's
 * other workspaces are rendered all the same. */
static void render_bodies(struct db_conn *db, struct job *jobs, int n)
{
    for (int i = 0; i < n; i++) {
        if (jobs[i].looked || !jobs[i].seq)
            continue;
        /* every change of this workspace in the batch, from i on */
        json_t *xs = json_array(), *ss = json_array(), *items = NULL;
        for (int j = i; j < n; j++)
            if (jobs[j].seq && !strcmp(jobs[j].ws, jobs[i].ws)) {
                jobs[j].looked = true;
                json_array_append_new(xs, json_pack("{s:s}", "v", jobs[j].xid));
                json_array_append_new(ss, json_pack("{s:s}", "v", jobs[j].seq));
            }
        char *xids = array_of(xs, "v", false), *seqs = array_of(ss, "v", false);
        if (xids && seqs && changes_render(db, jobs[i].ws, xids, seqs, &items) == LL_OK) {
            size_t k;
            json_t *it;
            json_array_foreach(items, k, it)
            {
                json_int_t seq = json_integer_value(json_object_get(it, "seq"));
                for (int j = i; j < n; j++)
                    if (!jobs[j].body && jobs[j].seq && !strcmp(jobs[j].ws, jobs[i].ws) &&
                        atoll(jobs[j].seq) == (long long)seq)
                        jobs[j].body = strdup(json_string_value(json_object_get(it, "body")));
            }
            for (int j = i; j < n; j++) /* rendered, and not there: deleted by retention */
                if (!jobs[j].body && jobs[j].seq && !strcmp(jobs[j].ws, jobs[i].ws))
                    jobs[j].gone = true;
        }
        json_decref(items);
        json_decref(xs);
        json_decref(ss);
        free(xids);
        free(seqs);
    }
}

static long backoff_ms(long attempts)
{
    long ms = wd.cfg.retry_min_ms;
    for (long i = 1; i < attempts && ms < wd.cfg.retry_max_ms; i++)
        ms *= 2;
    if (ms > wd.cfg.retry_max_ms)
        ms = wd.cfg.retry_max_ms;
    return ms + (long)(util_now_ns() % (uint64_t)(ms / 10 + 1)); /* up to 10 % later */
}

/* synchronous_commit off on db until it is released (db_on_release resets it). */
static bool commit_without_flush(struct db_conn *db)
{
    PGresult *res = db_exec(db, "SET synchronous_commit = off", 0, NULL);
    bool ok = db_check(db, res) == LL_OK;
    PQclear(res);
    if (ok)
        db_on_release(db, "RESET synchronous_commit");
    return ok;
}

static void record(struct db_conn *db, const struct job *j, long retry_for)
{
    char status[16] = "", delay[24], for_s[24];
    const char *outcome, *error = NULL;
    long code = j->result.status;
    if (j->gone) {
        outcome = "failed";
        error = "the change is no longer kept by the change feed";
    } else if (!j->body) {
        outcome = "retry";
        error = "the change could not be read; retried later";
    } else if (code >= 200 && code < 300) {
        outcome = "delivered";
    } else if (code == 410) {
        outcome = "gone";
    } else {
        outcome = "retry";
        error = j->result.error[0] ? j->result.error : NULL;
    }
    if (code > 0)
        snprintf(status, sizeof status, "%ld", code);
    snprintf(delay, sizeof delay, "%ld", backoff_ms(j->attempts));
    snprintf(for_s, sizeof for_s, "%ld", retry_for);
    const char *vals[7] = {j->ws, j->id, outcome, code > 0 ? status : NULL, error, delay, for_s};
    PGresult *res = db_exec(db, sql_outcome, 7, vals);
    if (db_check(db, res) != LL_OK)
        log_warn("webhooks: the outcome of delivery %s could not be recorded; it will be retried",
                 j->id);
    PQclear(res);
}

/* Claims up to BATCH - *n due deliveries of one workspace into jobs from *n on; the
 * result, which the jobs point into, goes to *claimed (NULL when none). False when the
 * claim failed. */
static bool claim(struct db_conn *db, const char *ws, struct job *jobs, int *n, PGresult **claimed)
{
    char limit[16], lease[24];
    snprintf(limit, sizeof limit, "%d", BATCH - *n);
    snprintf(lease, sizeof lease, "%ld", wd.cfg.lease_s);
    const char *cv[3] = {ws, limit, lease};
    PGresult *res = db_exec(db, sql_claim, 3, cv);
    *claimed = NULL;
    if (db_check(db, res) != LL_OK) {
        PQclear(res);
        return false;
    }
    for (int i = 0; i < PQntuples(res) && *n < BATCH; i++) {
        struct job *j = &jobs[(*n)++];
        j->ws = PQgetvalue(res, i, C_WS);
        j->id = PQgetvalue(res, i, C_ID);
        j->url = PQgetvalue(res, i, C_URL);
        j->attempts = atol(PQgetvalue(res, i, C_ATTEMPTS));
        j->secrets[0] = PQgetvalue(res, i, C_SECRET);
        j->secrets[1] = PQgetisnull(res, i, C_PREVIOUS) ? NULL : PQgetvalue(res, i, C_PREVIOUS);
        if (!PQgetisnull(res, i, C_PAYLOAD)) {
            j->body = strdup(PQgetvalue(res, i, C_PAYLOAD));
        } else if (!PQgetisnull(res, i, C_SEQ)) {
            j->xid = PQgetvalue(res, i, C_XID);
            j->seq = PQgetvalue(res, i, C_SEQ);
        }
    }
    *claimed = res;
    return true;
}

/* One batch: claim (the workspaces of the oldest due deliveries, then each one's), render,
 * send, record. Returns how many were claimed. */
static int send_batch(struct webhook_client *client)
{
    struct db_conn *db = NULL;
    PGresult *due = NULL, *claims[BATCH];
    struct job jobs[BATCH];
    char look[16];
    int n = 0, nclaims = 0;
    uint64_t until_ns;
    memset(jobs, 0, sizeof jobs);
    if (db_acquire(&db) != LL_OK)
        return 0;
    snprintf(look, sizeof look, "%d", BATCH);
    const char *dv[1] = {look};
    due = db_exec(db, sql_due, 1, dv);
    until_ns = util_now_ns() + (uint64_t)wd.cfg.lease_s * 1000000000u;
    if (db_check(db, due) != LL_OK)
        goto out;
    for (int w = 0; w < PQntuples(due) && n < BATCH && nclaims < BATCH; w++) {
        PGresult *claimed;
        if (!claim(db, PQgetvalue(due, w, 0), jobs, &n, &claimed))
            break;
        claims[nclaims++] = claimed;
    }
    if (n == 0)
        goto out;
    render_bodies(db, jobs, n);
    db_release(db); /* no connection held across the HTTP calls */
    db = NULL;
    /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): every body is freed at out */
    for (int i = 0; i < n && !atomic_load(&wd.stop); i++) {
        struct job *j = &jobs[i];
        /* an attempt that could outlast the lease is left for the next claim */
        if (util_now_ns() + (uint64_t)wd.cfg.timeout_ms * 1000000u > until_ns)
            break;
        j->tried = true;
        if (!j->body)
            continue;
        if (!webhook_client_post(client, j->url, j->id, (long long)time(NULL), j->body,
                                 strlen(j->body), j->secrets, &j->result))
            snprintf(j->result.error, sizeof j->result.error, "out of memory");
    }
    if (db_acquire(&db) != LL_OK)
        goto out; /* the leases end and the deliveries are tried again */
    /* The outcomes are committed without waiting for the WAL flush: one lost in a crash of
     * PostgreSQL costs one more attempt under the same webhook-id (its lease ends), which
     * receivers expect anyway; a flush per delivery was the bottleneck (bench/webhooks.sh,
     * 2 cores: 1,300 events/s with 18,065 flushes for 20,000 events, 4,013 with 425). The
     * pooled connection's next user gets the setting back. */
    if (!commit_without_flush(db))
        log_warn("webhooks: outcomes are committed with synchronous_commit as configured");
    for (int i = 0; i < n; i++) {
        if (jobs[i].tried) {
            record(db, &jobs[i], wd.cfg.retry_for_s);
        } else {
            const char *vals[2] = {jobs[i].ws, jobs[i].id};
            PQclear(db_exec(db, sql_unclaim, 2, vals));
        }
    }
out:
    for (int i = 0; i < n; i++) {
        free(jobs[i].body);
        webhook_result_free(&jobs[i].result);
    }
    for (int i = 0; i < nclaims; i++)
        PQclear(claims[i]);
    PQclear(due);
    db_release(db);
    return n;
}

static void *send_loop(void *arg)
{
    struct webhook_client *client = webhook_client_new(wd.cfg.allow_private);
    long idle_ms = wd.cfg.retry_min_ms < 1000 ? wd.cfg.retry_min_ms : 1000;
    (void)arg;
    if (!client) {
        log_error("webhooks: cannot make an HTTP client; this sender stops");
        return NULL;
    }
    webhook_client_set_timeout_ms(client, wd.cfg.timeout_ms);
    while (!atomic_load(&wd.stop)) {
        pthread_mutex_lock(&wd.mu);
        uint64_t seen = wd.made;
        pthread_mutex_unlock(&wd.mu);
        if (send_batch(client) == BATCH)
            continue;
        /* Idle: new deliveries wake it; retries fall due on their own, looked for at
         * least every idle_ms. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (idle_ms % 1000) * 1000000L;
        until.tv_sec += idle_ms / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&wd.mu);
        while (wd.made == seen && !atomic_load(&wd.stop))
            if (pthread_cond_timedwait(&wd.cv, &wd.mu, &until) != 0)
                break;
        pthread_mutex_unlock(&wd.mu);
    }
    webhook_client_free(client);
    return NULL;
}

bool webhook_delivery_start(const struct webhook_delivery_config *cfg)
{
    wd.cfg = *cfg;
    if (cfg->senders <= 0)
        return true;
    atomic_store(&wd.stop, false);
    if (pthread_create(&wd.dispatcher, NULL, dispatch, NULL) != 0)
        return false;
    wd.dispatching = true;
    for (long i = 0; i < cfg->senders && i < MAX_SENDERS; i++) {
        if (pthread_create(&wd.senders[i], NULL, send_loop, NULL) != 0)
            return false;
        wd.nsenders++;
    }
    return true;
}

void webhook_delivery_stop(void)
{
    atomic_store(&wd.stop, true);
    changes_wake_all();
    pthread_mutex_lock(&wd.mu);
    pthread_cond_broadcast(&wd.cv);
    pthread_mutex_unlock(&wd.mu);
    if (wd.dispatching)
        pthread_join(wd.dispatcher, NULL);
    for (int i = 0; i < wd.nsenders; i++)
        pthread_join(wd.senders[i], NULL);
    wd.dispatching = false;
    wd.nsenders = 0;
}
