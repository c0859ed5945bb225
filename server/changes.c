/* The change feed. The rows are written by the change trigger (sql/0012_change_feed.sql);
 * this module serves them in (xid, seq) order, only those of transactions older than the
 * reading snapshot's xmin, so that a reader following its cursor sees every change exactly
 * once whatever order transactions commit in. Each change carries its entity as it was
 * after the change, rendered by the entity's own module from the stored row. */
#include "leadloop/changes.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leadloop/admin.h"
#include "leadloop/auth.h"
#include "leadloop/campaigns.h"
#include "leadloop/db.h"
#include "leadloop/feedback.h"
#include "leadloop/fiber.h"
#include "leadloop/interactions.h"
#include "leadloop/janitor.h"
#include "leadloop/jw.h"
#include "leadloop/leads.h"
#include "leadloop/listen.h"
#include "leadloop/log.h"
#include "leadloop/request.h"
#include "leadloop/touches.h"
#include "leadloop/util.h"

/* The types a change can have, as clients filter on them and webhooks subscribe to. */
static const char *const change_types[] = {"lead.created",        "lead.updated",
                                           "lead.stage_changed",  "lead.erased",
                                           "lead.merged",         "campaign.created",
                                           "campaign.updated",    "campaign.archived",
                                           "touch.created",       "touch.updated",
                                           "feedback.created",    "feedback.updated",
                                           "user.created",        "user.updated",
                                           "api_key.created",     "api_key.updated",
                                           "api_key.revoked",     "reason.created",
                                           "reason.updated",      "interaction.created",
                                           "interaction.updated", NULL};

/* Each entity's representation: its module's columns over the stored row (the table's
 * type, under the alias its columns use) and its module's JSON. */
struct kind {
    const char *entity, *table, *alias, *columns;
    json_t *(*json)(const PGresult *res, int row);
    void (*write)(struct jw *w, const PGresult *res, int row); /* when it has one */
};
static const struct kind kinds[] = {
    {"lead", "leads", "l", LEAD_COLUMNS, leads_json, leads_write},
    {"campaign", "campaigns", "c", CAMPAIGN_COLUMNS, campaigns_json, NULL},
    {"touch", "campaign_touches", "t", TOUCH_COLUMNS, touches_json, NULL},
    {"feedback", "feedback", "f", FEEDBACK_COLUMNS, feedback_json, NULL},
    {"user", "users", "u", USER_COLUMNS, admin_user_json, NULL},
    {"api_key", "api_keys", "k", AUTH_KEY_COLUMNS, admin_key_json, NULL},
    {"reason", "feedback_reasons", "r", REASON_COLUMNS, reasons_json, NULL},
    {"interaction", "interactions", "i", INTERACTION_COLUMNS, interactions_json, NULL},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

#define PAGE_TS DB_TS("c.changed_at")
/* The page: the snapshot's frontier (xmin) and xmax, the retention horizon, whether
 * committed changes wait behind an older transaction, then the changes. $1 workspace,
 * $2 $3 the position after which, $4 limit, $5 types (NULL: all), $6 entities (with
 * every type of theirs; NULL: none), $7 with api_key changes. */
static const char sql_page[] =
    "SELECT x.lo::text, x.hi::text, h.xid::text, h.seq, x.held, c.xid::text, c.seq,"
    " c.type, c.entity, c.entity_id, " PAGE_TS ", c.actor_key_id, c.actor_user_id,"
    " c.doc IS NOT NULL, coalesce(c.actor, 'sql')"
    " FROM (SELECT lo, hi, (SELECT w.xid FROM changes w WHERE w.workspace_id = $1"
    " AND w.xid >= s.lo ORDER BY w.workspace_id, w.xid LIMIT 1) IS NOT NULL AS held"
    " FROM (SELECT pg_snapshot_xmin(s) AS lo, pg_snapshot_xmax(s) AS hi"
    " FROM pg_current_snapshot() s) s OFFSET 0) x"
    " LEFT JOIN change_horizons h ON h.workspace_id = $1"
    " LEFT JOIN LATERAL (SELECT * FROM changes c WHERE c.workspace_id = $1"
    " AND (c.xid, c.seq) > ($2::xid8, $3::bigint) AND c.xid < x.lo"
    " AND (($5::text[] IS NULL AND $6::text[] IS NULL) OR c.type = ANY($5::text[])"
    " OR c.entity = ANY($6::text[])) AND ($7::boolean OR c.entity <> 'api_key')"
    " ORDER BY c.xid, c.seq LIMIT $4::integer) c ON true"
    " ORDER BY c.xid, c.seq";
enum {
    P_XMIN,
    P_XMAX,
    P_HXID,
    P_HSEQ,
    P_HELD,
    P_XID,
    P_SEQ,
    P_TYPE,
    P_ENTITY,
    P_ID,
    P_AT,
    P_KEY,
    P_USER,
    P_HASDOC,
    P_ACTOR
};

/* Given changes, as a page's rows (the page's leading columns empty): $1 workspace, $2
 * their xids, $3 their seqs. */
static const char sql_render[] =
    "SELECT NULL, NULL, NULL, NULL, false, c.xid::text, c.seq, c.type, c.entity, "
    "c.entity_id, " PAGE_TS
    ", c.actor_key_id, c.actor_user_id, c.doc IS NOT NULL, coalesce(c.actor, 'sql')"
    " FROM unnest($2::xid8[], $3::bigint[]) AS p (x, s) JOIN changes c"
    " ON c.workspace_id = $1 AND c.xid = p.x AND c.seq = p.s ORDER BY c.xid, c.seq";

/* The entities of one kind, at the positions given ($2 xids, $3 seqs), in the feed's
 * order: each row found through the key. */
static const char sql_docs_fmt[] =
    "SELECT %s, ch_seq FROM (SELECT ch.xid AS ch_xid, ch.seq AS ch_seq, d.*"
    " FROM unnest($2::xid8[], $3::bigint[]) AS p (x, s) JOIN changes ch"
    " ON ch.workspace_id = $1 AND ch.xid = p.x AND ch.seq = p.s,"
    " jsonb_populate_record(NULL::%s, ch.doc) d) AS %s ORDER BY ch_xid, ch_seq";

/* ------------------------------------------------------------------ the page */

static uint64_t u64(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoull(PQgetvalue(res, row, col), NULL, 10);
}

/* A text[] literal of the NULL-terminated list (values are checked names: no quoting). */
static char *text_array(const char *const *list)
{
    size_t len = 3;
    char *s;
    for (int i = 0; list[i]; i++)
        len += strlen(list[i]) + 1;
    if (!(s = malloc(len)))
        return NULL;
    strcpy(s, "{");
    for (int i = 0; list[i]; i++) {
        if (i)
            strcat(s, ",");
        strcat(s, list[i]);
    }
    strcat(s, "}");
    return s;
}

/* Splits types into exact types and whole entities ("lead.*"), as text[] literals (new,
 * or NULL when none of that form). */
static bool split_types(const char *const *types, char **exact, char **entities)
{
    const char *e[32], *x[64];
    char ent[NKINDS][16];
    int ne = 0, nx = 0;
    *exact = *entities = NULL;
    if (!types)
        return true;
    for (int i = 0; types[i]; i++) {
        size_t n = strlen(types[i]);
        if (n > 2 && !strcmp(types[i] + n - 2, ".*")) {
            bool again = false; /* "lead.*,lead.*" is "lead.*" */
            for (int k = 0; k < ne && !again; k++)
                again = strlen(ent[k]) == n - 2 && !strncmp(ent[k], types[i], n - 2);
            if (again)
                continue;
            if (ne == (int)NKINDS || n - 2 >= sizeof ent[0])
                return false; /* never drop a type the caller asked for */
            snprintf(ent[ne], sizeof ent[ne], "%.*s", (int)(n - 2), types[i]);
            e[ne] = ent[ne];
            ne++;
        } else {
            if (nx == 63)
                return false;
            x[nx++] = types[i];
        }
    }
    e[ne] = x[nx] = NULL;
    *exact = text_array(nx ? x : (const char *const[]){"-", NULL});
    *entities = ne ? text_array(e) : NULL;
    return *exact != NULL && (ne == 0 || *entities != NULL);
}

/* A page's rows with their entities: the page (borrowed), and per kind the rows of its
 * entities; row_of[i] is change i's row in its kind's result (-1: no data). */
struct rendered {
    const PGresult *page;
    int n;
    PGresult *res[NKINDS];
    int *kind_of, *row_of;
};

static void rendered_free(struct rendered *r)
{
    for (size_t k = 0; k < NKINDS; k++)
        PQclear(r->res[k]);
    free(r->kind_of);
    free(r->row_of);
}

/* Looks up the entities of the page's changes of kind k, by key, (xid, seq) pair by pair. */
static enum ll_err fill_kind(struct db_conn *db, const char *workspace_id, struct rendered *r,
                             size_t k)
{
    char sql[2048], *xids = NULL, *seqs = NULL;
    struct jw wx, ws;
    enum ll_err err = LL_E_INTERNAL;
    size_t len;
    int found = 0;
    jw_init(&wx, 256);
    jw_init(&ws, 256);
    jw_lit(&wx, "{");
    jw_lit(&ws, "{");
    for (int i = 0; i < r->n; i++) {
        if (r->kind_of[i] != (int)k || PQgetvalue(r->page, i, P_HASDOC)[0] != 't')
            continue;
        if (found++) {
            jw_lit(&wx, ",");
            jw_lit(&ws, ",");
        }
        jw_lit(&wx, PQgetvalue(r->page, i, P_XID));
        jw_lit(&ws, PQgetvalue(r->page, i, P_SEQ));
    }
    jw_lit(&wx, "}");
    jw_lit(&ws, "}");
    xids = jw_take(&wx, &len);
    seqs = jw_take(&ws, &len);
    if (!xids || !seqs)
        goto out;
    err = LL_OK;
    if (found == 0)
        goto out;
    snprintf(sql, sizeof sql, sql_docs_fmt, kinds[k].columns, kinds[k].table, kinds[k].alias);
    const char *vals[3] = {workspace_id, xids, seqs};
    r->res[k] = db_exec(db, sql, 3, vals);
    if ((err = db_check(db, r->res[k])) != LL_OK)
        goto out;
    /* Both in the page's order: walk them together, matching on seq. */
    PGresult *res = r->res[k];
    int seqcol = PQnfields(res) - 1, j = 0;
    for (int i = 0; i < r->n && j < PQntuples(res); i++)
        if (r->kind_of[i] == (int)k &&
            !strcmp(PQgetvalue(r->page, i, P_SEQ), PQgetvalue(res, j, seqcol)))
            r->row_of[i] = j++;
out:
    jw_free(&wx);
    jw_free(&ws);
    free(xids);
    free(seqs);
    return err;
}

/* The entities of the first n rows of a page-shaped result. */
static enum ll_err render(struct db_conn *db, const char *workspace_id, const PGresult *page, int n,
                          struct rendered *r)
{
    enum ll_err err = LL_OK;
    memset(r, 0, sizeof *r);
    r->page = page;
    r->n = n;
    r->kind_of = malloc(sizeof(int) * (size_t)(n + 1));
    r->row_of = malloc(sizeof(int) * (size_t)(n + 1));
    if (!r->kind_of || !r->row_of)
        return LL_E_INTERNAL;
    for (int i = 0; i < n; i++) {
        r->kind_of[i] = r->row_of[i] = -1;
        for (size_t k = 0; k < NKINDS; k++)
            if (!strcmp(PQgetvalue(page, i, P_ENTITY), kinds[k].entity))
                r->kind_of[i] = (int)k;
    }
    for (size_t k = 0; k < NKINDS && err == LL_OK; k++)
        err = fill_kind(db, workspace_id, r, k);
    return err;
}

/* One change as GET /v1/changes shows it. */
static void write_change(struct jw *w, const struct rendered *r, int i, const char *workspace_id)
{
    const PGresult *page = r->page;
    char cursor[64];
    struct change_pos p = {u64(page, i, P_XID), u64(page, i, P_SEQ)};
    cursor_feed_format(&p, workspace_id, cursor);
    jw_lit(w, "{");
    jw_json(w, "seq", page, i, P_SEQ);
    jw_text(w, "type", page, i, P_TYPE);
    jw_text(w, "entity", page, i, P_ENTITY);
    jw_text(w, "entity_id", page, i, P_ID);
    jw_text(w, "occurred_at", page, i, P_AT);
    jw_lit(w, ",");
    jw_lit(w, "\"actor\":{");
    jw_text(w, "type", page, i, P_ACTOR);
    jw_text(w, "api_key_id", page, i, P_KEY);
    jw_text(w, "user_id", page, i, P_USER);
    jw_lit(w, "},\"data\":");
    int k = r->kind_of[i], row = r->row_of[i];
    if (k < 0 || row < 0) {
        jw_lit(w, "null");
    } else if (kinds[k].write) {
        kinds[k].write(w, r->res[k], row);
    } else {
        json_t *o = kinds[k].json(r->res[k], row);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        jw_lit(w, text ? text : "null");
        free(text);
        json_decref(o);
    }
    jw_lit(w, ",\"cursor\":");
    jw_str(w, cursor, strlen(cursor));
    jw_lit(w, "}");
}

enum ll_err changes_render(struct db_conn *db, const char *workspace_id, const char *xids,
                           const char *seqs, json_t **items)
{
    const char *vals[3] = {workspace_id, xids, seqs};
    PGresult *res = db_exec(db, sql_render, 3, vals);
    enum ll_err err = db_check(db, res);
    struct rendered r = {0};
    *items = NULL;
    if (err == LL_OK)
        err = render(db, workspace_id, res, PQntuples(res), &r);
    if (err == LL_OK && !(*items = json_array()))
        err = LL_E_INTERNAL;
    for (int i = 0; err == LL_OK && i < r.n; i++) {
        struct jw w;
        size_t len;
        char *text;
        jw_init(&w, 1024);
        write_change(&w, &r, i, workspace_id);
        if (!(text = jw_take(&w, &len)) ||
            json_array_append_new(
                *items,
                json_pack("{s:I, s:s%}", "seq", (json_int_t)u64(res, i, P_SEQ), "body", text, len)))
            err = LL_E_INTERNAL;
        free(text);
    }
    if (err != LL_OK) {
        json_decref(*items);
        *items = NULL;
    }
    rendered_free(&r);
    PQclear(res);
    return err;
}

/* The page's changes as position and type only (the webhook dispatcher's). */
static json_t *meta_items(const PGresult *page, int n)
{
    json_t *items = json_array();
    for (int i = 0; items && i < n; i++) {
        char xid[24];
        snprintf(xid, sizeof xid, "%s", PQgetvalue(page, i, P_XID));
        if (json_array_append_new(items, json_pack("{s:s, s:I, s:s}", "xid", xid, "seq",
                                                   (json_int_t)u64(page, i, P_SEQ), "type",
                                                   PQgetvalue(page, i, P_TYPE)))) {
            json_decref(items);
            return NULL;
        }
    }
    return items;
}

enum ll_err changes_page(struct db_conn *db, const struct changes_query *q,
                         struct changes_page *out)
{
    char xid[24], seq[24], limit[24], *exact = NULL, *entities = NULL;
    PGresult *page = NULL;
    struct rendered r = {0};
    enum ll_err err = LL_E_INTERNAL;
    int n, last;
    memset(out, 0, sizeof *out);
    if (!split_types(q->types, &exact, &entities))
        goto out;
    snprintf(xid, sizeof xid, "%" PRIu64, q->after.xid);
    snprintf(seq, sizeof seq, "%" PRIu64, q->after.seq);
    snprintf(limit, sizeof limit, "%ld", q->limit);
    const char *vals[7] = {
        q->workspace_id, xid, seq, limit, exact, entities, q->with_keys ? "true" : "false"};
    page = db_exec(db, sql_page, 7, vals);
    if ((err = db_check(db, page)) != LL_OK)
        goto out;
    err = LL_E_INTERNAL;
    if (PQntuples(page) < 1)
        goto out;
    /* Set before the answers without changes too: a reader whose position expired goes
     * on from here (the webhook dispatcher). */
    out->frontier = (struct change_pos){u64(page, 0, P_XMIN), 0};
    struct change_pos horizon = {u64(page, 0, P_HXID), u64(page, 0, P_HSEQ)};
    if (!q->from_start && !PQgetisnull(page, 0, P_HXID) &&
        (q->after.xid < horizon.xid ||
         (q->after.xid == horizon.xid && q->after.seq < horizon.seq))) {
        out->expired = true;
        err = LL_OK;
        goto out;
    }
    if (q->after.xid > u64(page, 0, P_XMAX)) { /* no transaction has that id yet */
        out->future = true;
        err = LL_OK;
        goto out;
    }
    n = PQgetisnull(page, 0, P_XID) ? 0 : PQntuples(page);
    out->count = n;
    if (q->meta_only) {
        if (!(out->items = meta_items(page, n)))
            goto out;
    } else {
        struct jw w;
        if ((err = render(db, q->workspace_id, page, n, &r)) != LL_OK)
            goto out;
        err = LL_E_INTERNAL;
        jw_init(&w, 4096 + (size_t)n * 1024);
        jw_lit(&w, "[");
        for (int i = 0; i < n; i++) {
            if (i)
                jw_lit(&w, ",");
            write_change(&w, &r, i, q->workspace_id);
        }
        jw_lit(&w, "]");
        if (!(out->text = jw_take(&w, &out->text_len)))
            goto out;
    }
    last = n - 1;
    out->more = n == q->limit;
    /* A full page continues after its last change; a short one at the frontier: every
     * change below it was served, none can appear there later. */
    if (out->more)
        out->next = (struct change_pos){u64(page, last, P_XID), u64(page, last, P_SEQ)};
    else
        out->next = (struct change_pos){u64(page, 0, P_XMIN), 0};
    if (out->next.xid < q->after.xid ||
        (out->next.xid == q->after.xid && out->next.seq < q->after.seq))
        out->next = q->after; /* never backwards (a cursor at xmin itself) */
    out->held = !out->more && PQgetvalue(page, 0, P_HELD)[0] == 't';
    err = LL_OK;
out:
    if (err != LL_OK)
        changes_page_free(out);
    rendered_free(&r);
    free(exact);
    free(entities);
    PQclear(page);
    return err;
}

void changes_page_free(struct changes_page *p)
{
    json_decref(p->items);
    p->items = NULL;
    free(p->text);
    p->text = NULL;
}

/* ------------------------------------------------------------------ waiting */

/* Generations per workspace, hashed into buckets: a notification of one workspace wakes
 * the waiters of its bucket, who query again (a collision costs a query, never a miss). */
#define BUCKETS 256
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t gen[BUCKETS];
    uint64_t all;   /* bumped when notifications may have been lost */
    uint64_t total; /* bumped by every notification and loss: the webhook dispatcher's */
} waits = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static unsigned bucket_of(const char *workspace_id)
{
    unsigned h = 2166136261u;
    for (const char *p = workspace_id; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % BUCKETS;
}

/* CLOCK_REALTIME timeout_ms from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(long timeout_ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

uint64_t changes_generation(const char *workspace_id)
{
    uint64_t g;
    pthread_mutex_lock(&waits.mu);
    g = waits.gen[bucket_of(workspace_id)] + waits.all;
    pthread_mutex_unlock(&waits.mu);
    return g;
}

struct wait_call {
    const char *workspace_id;
    uint64_t seen;
    long timeout_ms;
    bool moved;
};

static bool wait_blocking(const char *workspace_id, uint64_t seen, long timeout_ms);

static void wait_offloaded(void *arg)
{
    struct wait_call *c = arg;
    c->moved = wait_blocking(c->workspace_id, c->seen, c->timeout_ms);
}

/* On a fiber the wait runs on a helper thread (fiber_offload), the loop goes on. */
bool changes_wait(const char *workspace_id, uint64_t seen, long timeout_ms)
{
    struct wait_call c = {workspace_id, seen, timeout_ms, false};
    fiber_offload(wait_offloaded, &c);
    return c.moved;
}

static bool wait_blocking(const char *workspace_id, uint64_t seen, long timeout_ms)
{
    struct timespec until = deadline_in(timeout_ms);
    unsigned b = bucket_of(workspace_id);
    bool moved;
    pthread_mutex_lock(&waits.mu);
    while (waits.gen[b] + waits.all == seen)
        if (pthread_cond_timedwait(&waits.cv, &waits.mu, &until) != 0)
            break;
    moved = waits.gen[b] + waits.all != seen;
    pthread_mutex_unlock(&waits.mu);
    return moved;
}

uint64_t changes_generation_any(void)
{
    uint64_t g;
    pthread_mutex_lock(&waits.mu);
    g = waits.total;
    pthread_mutex_unlock(&waits.mu);
    return g;
}

/* Wakes every waiter (shutdown). */
void changes_wake_all(void)
{
    pthread_mutex_lock(&waits.mu);
    waits.total++;
    pthread_cond_broadcast(&waits.cv);
    pthread_mutex_unlock(&waits.mu);
}

bool changes_wait_any(uint64_t seen, long timeout_ms)
{
    struct timespec until = deadline_in(timeout_ms);
    bool moved;
    pthread_mutex_lock(&waits.mu);
    while (waits.total == seen)
        if (pthread_cond_timedwait(&waits.cv, &waits.mu, &until) != 0)
            break;
    moved = waits.total != seen;
    pthread_mutex_unlock(&waits.mu);
    return moved;
}

/* ------------------------------------------------------------------ notifying */

/* Workspaces written to since the last NOTIFY, sent by one thread on its own connection:
 * the writes never wait for it. */
#define PENDING_MAX 64
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char ws[PENDING_MAX][37];
    int n;
    bool stop, running;
    pthread_t thread;
    char *conninfo;
} notifier = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void wake_local(const char *workspace_id)
{
    pthread_mutex_lock(&waits.mu);
    waits.gen[bucket_of(workspace_id)]++;
    waits.total++;
    pthread_cond_broadcast(&waits.cv);
    pthread_mutex_unlock(&waits.mu);
}

void changes_written(const char *workspace_id)
{
    wake_local(workspace_id);
    pthread_mutex_lock(&notifier.mu);
    bool known = false;
    for (int i = 0; i < notifier.n && !known; i++)
        known = !strcmp(notifier.ws[i], workspace_id);
    if (!known && notifier.n < PENDING_MAX) /* when full, the next batch tells the rest */
        snprintf(notifier.ws[notifier.n++], sizeof notifier.ws[0], "%s", workspace_id);
    pthread_cond_signal(&notifier.cv);
    pthread_mutex_unlock(&notifier.mu);
}

static void *notify_loop(void *arg)
{
    PGconn *pg = NULL;
    char err[256];
    (void)arg;
    pthread_mutex_lock(&notifier.mu);
    while (!notifier.stop) {
        if (notifier.n == 0) {
            pthread_cond_wait(&notifier.cv, &notifier.mu);
            continue;
        }
        struct jw w;
        size_t len;
        jw_init(&w, 64 + (size_t)notifier.n * 40);
        jw_lit(&w, "{");
        for (int i = 0; i < notifier.n; i++) {
            jw_lit(&w, i ? "," : "");
            jw_lit(&w, notifier.ws[i]); /* workspace ids (UUIDs) of our own auth */
        }
        jw_lit(&w, "}");
        notifier.n = 0;
        pthread_mutex_unlock(&notifier.mu);
        char *list = jw_take(&w, &len);
        if (list && !pg && !(pg = db_connect_once(notifier.conninfo, err, sizeof err)))
            log_warn("change notifier: %s", err);
        if (list && pg) {
            const char *vals[1] = {list};
            PGresult *res = PQexecParams(pg, "SELECT ll_changes_notify($1::text[])", 1, NULL, vals,
                                         NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                log_warn("change notifier: %s", PQresultErrorField(res, PG_DIAG_SQLSTATE));
                PQfinish(pg); /* a new connection next time */
                pg = NULL;
            }
            PQclear(res);
        }
        free(list);
        pthread_mutex_lock(&notifier.mu);
    }
    pthread_mutex_unlock(&notifier.mu);
    PQfinish(pg);
    return NULL;
}

static void on_note(const char *payload, void *arg)
{
    (void)arg;
    wake_local(payload);
}

static void on_up(bool listening, void *arg)
{
    (void)arg;
    (void)listening;
    pthread_mutex_lock(&waits.mu);
    waits.all++;
    waits.total++;
    pthread_cond_broadcast(&waits.cv);
    pthread_mutex_unlock(&waits.mu);
}

/* ------------------------------------------------------------------ GET /v1/changes */

#define MAX_TYPES  32
#define MAX_WAIT_S 60
/* How often a waiting request looks again while changes are held back by an older
 * transaction (which sends no notification when it ends without changes of its own). */
#define HELD_RETRY_MS 20
/* How often a waiting request checks that its client is still there. */
#define WAIT_SLICE_MS 250

static bool type_known(const char *t)
{
    size_t n = strlen(t);
    if (n > 2 && !strcmp(t + n - 2, ".*")) {
        for (size_t k = 0; k < NKINDS; k++)
            if (strlen(kinds[k].entity) == n - 2 && !strncmp(kinds[k].entity, t, n - 2))
                return true;
        return false;
    }
    for (int i = 0; change_types[i]; i++)
        if (!strcmp(change_types[i], t))
            return true;
    return false;
}

bool changes_types_parse(const char *s, char *buf, size_t buflen, const char **list, int max,
                         const char **bad)
{
    int n = 0;
    char *save = NULL;
    *bad = NULL;
    if (strlen(s) >= buflen)
        return false;
    strcpy(buf, s);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == max)
            return false;
        if (!type_known(t)) {
            *bad = t;
            return false;
        }
        list[n++] = t;
    }
    list[n] = NULL;
    return n > 0;
}

void changes_list(struct request *r)
{
    static const char *const allowed[] = {"after", "limit", "types", "wait", NULL};
    const char *after = req_query(r, "after"), *lim = req_query(r, "limit"),
               *types = req_query(r, "types"), *wait = req_query(r, "wait");
    const char *list[MAX_TYPES + 1], *bad;
    char typebuf[1024], cursor[64];
    long limit = 100, wait_s = 0;
    struct changes_query q = {.workspace_id = r->auth.workspace_id,
                              .with_keys = r->auth.role == ROLE_ADMIN};
    struct changes_page page = {0};
    bool now = false;
    enum ll_err err;
    uint64_t deadline_ns;

    if (!req_query_allowed(r, allowed))
        return;
    if (lim && !util_parse_long(lim, 1, 1000, &limit)) {
        (void)reply_bad_param(r, "limit", "must be an integer from 1 to 1000");
        return;
    }
    if (wait && !util_parse_long(wait, 0, MAX_WAIT_S, &wait_s)) {
        (void)reply_bad_param(r, "wait", "must be an integer number of seconds from 0 to 60");
        return;
    }
    if (types && !changes_types_parse(types, typebuf, sizeof typebuf, list, MAX_TYPES, &bad)) {
        char msg[160];
        if (bad)
            snprintf(msg, sizeof msg, "names an unknown type: %.64s", bad);
        else
            snprintf(msg, sizeof msg, "must be a comma-separated list of 1 to %d types", MAX_TYPES);
        (void)reply_bad_param(r, "types", msg);
        return;
    }
    if (after && !strcmp(after, "now"))
        now = true;
    else if (after && !cursor_feed_parse(after, q.workspace_id, &q.after)) {
        (void)reply_bad_param(r, "after", "is not a cursor of this workspace's change feed");
        return;
    }
    q.from_start = !after || now; /* all that is kept, or the frontier: never expired */
    q.limit = now ? 1 : limit;
    q.types = types ? list : NULL;
    deadline_ns = util_now_ns() + (uint64_t)wait_s * 1000000000u;
    /* The route takes no connection of its own (ROUTE_NO_DB): a long poll holds one only
     * while it queries, and gives it back (into r->db, which the request's end releases). */
    for (;;) {
        if (!r->db && (err = db_acquire(&r->db)) != LL_OK) {
            reply_problem(r, err, "no database connection is free; retry shortly", NULL, NULL);
            return;
        }
        uint64_t gen = changes_generation(q.workspace_id);
        err = changes_page(r->db, &q, &page);
        if (err) {
            reply_db_error(r, err);
            return;
        }
        if (page.expired) {
            reply_problem(r, LL_E_GONE,
                          "this cursor is older than the change feed keeps "
                          "(LEADLOOP_CHANGES_RETENTION_DAYS); copy the lists again, starting "
                          "with after=now",
                          json_pack("[{s:s, s:s}]", "field", "after", "message", "has expired"),
                          NULL);
            return;
        }
        if (page.future) {
            (void)reply_bad_param(r, "after", "is not a cursor of this workspace's change feed");
            return;
        }
        if (now) { /* the frontier, nothing before it */
            page.count = 0;
            page.more = false;
            page.next = page.frontier;
            break;
        }
        if (page.count > 0 || page.more || util_now_ns() >= deadline_ns)
            break;
        /* Nothing yet: give the connection back while waiting, then look again. */
        changes_page_free(&page);
        q.after = page.next;
        db_release(r->db);
        r->db = NULL;
        uint64_t left_ms = (deadline_ns - util_now_ns()) / 1000000u;
        long slice = page.held ? HELD_RETRY_MS : WAIT_SLICE_MS;
        if ((uint64_t)slice > left_ms)
            slice = (long)left_ms;
        (void)changes_wait(q.workspace_id, gen, slice);
        if (req_abandoned(r)) {
            reply_problem(r, LL_E_UNAVAILABLE, "the daemon is stopping; retry", NULL, NULL);
            return;
        }
    }
    cursor_feed_format(&page.next, q.workspace_id, cursor);
    struct jw w;
    size_t len;
    jw_init(&w, page.text_len + 128);
    jw_lit(&w, "{\"data\":");
    if (page.count > 0)
        jw_raw(&w, page.text, page.text_len);
    else
        jw_lit(&w, "[]");
    jw_lit(&w, ",\"next_cursor\":");
    jw_str(&w, cursor, strlen(cursor));
    jw_lit(&w, page.more ? ",\"has_more\":true}" : ",\"has_more\":false}");
    changes_page_free(&page);
    char *body = jw_take(&w, &len);
    reply_owned(r, 200, "application/json", body, len);
}

/* ------------------------------------------------------------------ retention */

/* One workspace's expired prefix, a batch at a time: the first change still kept (by
 * time) bounds it, and everything before it in the feed's order goes. The horizon
 * remembers the last deleted position, so that a cursor before it answers 410. */
static const char sql_purge[] =
    "WITH keep AS (SELECT xid, seq FROM changes WHERE workspace_id = $1"
    " AND changed_at >= now() - make_interval(days => $2::integer) ORDER BY xid, seq LIMIT 1),"
    " gone AS (SELECT xid, seq FROM changes c WHERE workspace_id = $1"
    " AND (NOT EXISTS (SELECT FROM keep) OR (xid, seq) < (SELECT xid, seq FROM keep))"
    " AND xid < pg_snapshot_xmin(pg_current_snapshot())"
    " ORDER BY xid, seq LIMIT 5000),"
    " d AS (DELETE FROM changes c USING gone g WHERE c.workspace_id = $1 AND c.xid = g.xid"
    " AND c.seq = g.seq RETURNING c.xid, c.seq),"
    " last AS (SELECT xid, seq FROM d ORDER BY xid DESC, seq DESC LIMIT 1),"
    " h AS (INSERT INTO change_horizons (workspace_id, xid, seq) SELECT $1, xid, seq FROM last"
    " ON CONFLICT (workspace_id) DO UPDATE SET xid = excluded.xid, seq = excluded.seq)"
    " SELECT count(*) FROM d";
static const char sql_workspaces[] = "SELECT id FROM workspaces ORDER BY id";

static struct janitor janitor;
static char retention[24];

static void purge(struct janitor *j, PGconn *pg)
{
    PGresult *ws = PQexec(pg, sql_workspaces);
    for (int i = 0;
         PQresultStatus(ws) == PGRES_TUPLES_OK && i < PQntuples(ws) && !janitor_stopping(j); i++) {
        const char *vals[2] = {PQgetvalue(ws, i, 0), retention};
        long n, total = 0;
        do {
            PGresult *res = PQexecParams(pg, sql_purge, 2, NULL, vals, NULL, NULL, 0);
            n = PQresultStatus(res) == PGRES_TUPLES_OK ? atol(PQgetvalue(res, 0, 0)) : -1;
            if (n < 0)
                log_warn("changes janitor: %s", PQresultErrorField(res, PG_DIAG_SQLSTATE));
            PQclear(res);
            total += n > 0 ? n : 0;
        } while (n == 5000 && !janitor_stopping(j));
        if (total > 0)
            log_info("changes janitor: deleted %ld changes older than %s days (workspace %s)",
                     total, retention, vals[0]);
    }
    PQclear(ws);
}

bool changes_start(const char *conninfo, long retention_days, long purge_interval_s)
{
    static const struct listen_sub sub = {"leadloop_changes", on_note, on_up, NULL};
    snprintf(retention, sizeof retention, "%ld", retention_days);
    if (!listen_add(&sub) || !(notifier.conninfo = strdup(conninfo ? conninfo : "")))
        return false;
    notifier.stop = false;
    if (pthread_create(&notifier.thread, NULL, notify_loop, NULL) != 0)
        return false;
    notifier.running = true;
    return janitor_start(&janitor, "changes janitor", conninfo, purge_interval_s, purge);
}

void changes_stop(void)
{
    if (notifier.running) {
        pthread_mutex_lock(&notifier.mu);
        notifier.stop = true;
        pthread_cond_signal(&notifier.cv);
        pthread_mutex_unlock(&notifier.mu);
        pthread_join(notifier.thread, NULL);
        notifier.running = false;
    }
    free(notifier.conninfo);
    notifier.conninfo = NULL;
    janitor_stop(&janitor);
}
