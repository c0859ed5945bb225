/* The change feed (GET /v1/changes): a reader that follows next_cursor sees every change
 * exactly once although writing transactions commit out of order; each change carries
 * its entity as the entity's own endpoint shows it and the key that wrote it; types,
 * limit, after=now and wait behave as documented; bad parameters are 400 naming them and
 * one workspace's cursor never reads another's feed; an erased lead leaves no personal
 * value in the feed; expired changes answer 410. Each test works in workspaces of its own. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "receiver.h"
#include "suites.h"
#include "support.h"

/* ------------------------------------------------------------------ helpers */

static void expect_status(const struct resp *r, long status, const char *what)
{
    ck_assert_msg(r->status == status, "%s: expected %ld, got %ld: %.1500s", what, status,
                  r->status, r->body);
}

/* A name no other run makes (workspace slugs, emails). */
static const char *unique(const char *tag)
{
    static char buf[8][96];
    static int n;
    struct timespec ts;
    char *out = buf[n++ % 8];
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, sizeof buf[0], "%s-%d-%lx", tag, (int)getpid(), (unsigned long)ts.tv_nsec);
    return out;
}

/* The id of workspace slug (new string). */
static char *workspace_id(PGconn *pg, const char *slug)
{
    return pg_value_p(pg, "SELECT id FROM workspaces WHERE slug = $1", slug);
}

/* The id of an API key from its secret (new string). */
static char *key_id(PGconn *pg, const char *secret)
{
    return pg_value_p(pg, "SELECT id FROM api_keys WHERE prefix = left($1, 12)", secret);
}

static const char *sget(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The position a cursor names (its hex xid and seq); false when it is not one. */
static bool cursor_pos(const char *c, unsigned long long *xid, unsigned long long *seq)
{
    char tag[16];
    return sscanf(c, "%llx.%llx.%15s", xid, seq, tag) == 3 && strlen(tag) == 8;
}

/* -1, 0 or 1 as cursor a is before, at or after cursor b. */
static int cursor_cmp(const char *a, const char *b)
{
    unsigned long long ax, as, bx, bs;
    ck_assert_msg(cursor_pos(a, &ax, &as) && cursor_pos(b, &bx, &bs), "cursors %s and %s", a, b);
    if (ax != bx)
        return ax < bx ? -1 : 1;
    return as < bs ? -1 : as > bs;
}

/* GET /v1/changes?query on d with key. */
static struct resp *changes_on(struct daemon *d, const char *key, const char *query)
{
    char path[1200];
    snprintf(path, sizeof path, "/v1/changes%s%s", *query ? "?" : "", query);
    return req(d, "GET", path, key, NULL, NULL, 0);
}

/* A page that must answer 200 with the ChangePage members. */
static struct resp *page(const char *key, const char *query)
{
    struct resp *r = changes_on(&main_daemon, key, query);
    char what[1300];
    snprintf(what, sizeof what, "GET /v1/changes?%s", query);
    expect_status(r, 200, what);
    ck_assert_msg(json_is_array(json_object_get(r->json, "data")) &&
                      json_is_string(json_object_get(r->json, "next_cursor")) &&
                      json_is_boolean(json_object_get(r->json, "has_more")),
                  "%s: not a ChangePage: %.1500s", what, r->body);
    return r;
}

/* The frontier of key's feed: after=now's next_cursor, into out. */
static void frontier(const char *key, char out[64])
{
    struct resp *r = page(key, "after=now");
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 0 &&
                      !json_is_true(json_object_get(r->json, "has_more")),
                  "after=now shows no change: %.1500s", r->body);
    snprintf(out, 64, "%s", jstr(r, "next_cursor"));
    resp_free(r);
}

/* Follows key's feed from `after` (NULL: from the oldest change kept), long-polling, until a
 * change of entity `marker` has come. Returns every change read (new reference); next
 * (which may be after) gets the cursor to continue from. */
static json_t *follow(const char *key, const char *after, const char *marker, char next[64])
{
    json_t *all = json_array(), *item;
    char cursor[64] = "", query[1200];
    bool found = false;
    long deadline = sock_now_ms() + 30000;
    size_t i;
    if (after)
        snprintf(cursor, sizeof cursor, "%s", after);
    while (!found) {
        ck_assert_msg(sock_now_ms() < deadline, "the change of %s never came (%zu changes read)",
                      marker, json_array_size(all));
        snprintf(query, sizeof query, "limit=1000&wait=5%s%s", *cursor ? "&after=" : "", cursor);
        struct resp *r = page(key, query);
        json_array_foreach(json_object_get(r->json, "data"), i, item)
        {
            json_array_append(all, item);
            found = found || !strcmp(sget(item, "entity_id"), marker);
        }
        snprintf(cursor, sizeof cursor, "%s", jstr(r, "next_cursor"));
        resp_free(r);
    }
    snprintf(next, 64, "%s", cursor);
    return all;
}

/* The items of changes with this type and entity id (borrowed from changes; new array). */
static json_t *matching(json_t *changes, const char *type, const char *entity_id)
{
    json_t *out = json_array(), *item;
    size_t i;
    json_array_foreach(changes, i, item)
    {
        if ((!type || !strcmp(sget(item, "type"), type)) &&
            (!entity_id || !strcmp(sget(item, "entity_id"), entity_id)))
            json_array_append(out, item);
    }
    return out;
}

/* The one change with this type and entity id (borrowed); fails unless exactly one. */
static json_t *the_change(json_t *changes, const char *type, const char *entity_id)
{
    json_t *m = matching(changes, type, entity_id), *found = json_array_get(m, 0);
    size_t n = json_array_size(m);
    json_decref(m);
    if (n != 1) {
        char *text = json_dumps(changes, JSON_COMPACT);
        ck_abort_msg("expected one %s of %s, found %zu in %.2500s", type, entity_id, n, text);
    }
    return found;
}

/* Fails unless a and b are equal JSON, showing both. */
static void expect_json_eq(json_t *got, json_t *want, const char *what)
{
    if (json_equal(got, want))
        return;
    if (json_is_array(got) && json_is_array(want)) { /* lists: the first difference */
        size_t i = 0;
        while (json_equal(json_array_get(got, i), json_array_get(want, i)))
            i++;
        char *g = json_dumps(json_array_get(got, i), JSON_COMPACT | JSON_SORT_KEYS);
        char *w = json_dumps(json_array_get(want, i), JSON_COMPACT | JSON_SORT_KEYS);
        ck_abort_msg("%.600s: %zu items, expected %zu; the first difference is item %zu:\n"
                     " expected %.1200s\n got      %.1200s",
                     what, json_array_size(got), json_array_size(want), i, w ? w : "(none)",
                     g ? g : "(none)");
    }
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    ck_abort_msg("%s:\n expected %.1500s\n got      %.1500s", what, w ? w : "(null)",
                 g ? g : "(null)");
}

/* The types of changes, comma-separated (static). */
static const char *types_of(json_t *changes)
{
    static char buf[4096];
    size_t len = 0, i;
    json_t *item;
    buf[0] = '\0';
    json_array_foreach(changes, i, item)
    {
        len +=
            (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "," : "", sget(item, "type"));
        if (len >= sizeof buf)
            break;
    }
    return buf;
}

/* A POST that must create (201); returns the created body (new reference). */
static json_t *create(const char *path, const char *key, const char *body)
{
    struct resp *r = post(path, key, body);
    char what[300];
    snprintf(what, sizeof what, "POST %s %.200s", path, body);
    expect_status(r, 201, what);
    json_t *j = json_incref(r->json);
    resp_free(r);
    return j;
}

/* A GET that must answer 200; the body (new reference). */
static json_t *fetch_ok(const char *path, const char *key)
{
    struct resp *r = get(path, key);
    expect_status(r, 200, path);
    json_t *j = json_incref(r->json);
    resp_free(r);
    return j;
}

/* The member of a list answer's data whose `member` is value (new reference). */
static json_t *list_member(const char *path, const char *key, const char *member, const char *value)
{
    json_t *list = fetch_ok(path, key), *item, *found = NULL;
    size_t i;
    json_array_foreach(json_object_get(list, "data"), i, item)
    {
        if (!strcmp(sget(item, member), value))
            found = json_incref(item);
    }
    ck_assert_msg(found, "GET %s has no %s %s", path, member, value);
    json_decref(list);
    return found;
}

/* ------------------------------------------------------------------ 1. exactly once */

#define WRITERS 8
/* 20,000 changes (a tenth with LL_TEST_QUICK=1) */
#define WRITE_CHANGES test_scale(20000)

struct writer {
    const char *workspace;
    atomic_int *running, *commits;
    int id, changes, transactions;
    /* per transaction: its id and the order its COMMIT returned in, among all writers */
    unsigned long long *xids;
    int *commit_order;
    char err[512];
};

static bool exec_ok(PGconn *pg, const char *sql, PGresult **keep, char *err, size_t errlen)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%.200s: %s", sql, PQresultErrorMessage(res));
    if (ok && keep)
        *keep = res;
    else
        PQclear(res);
    return ok;
}

/* One writer: transactions of 1 to 20 new users, each of which holds its transaction id
 * (taken by the INSERT) for a random 0-50 ms before it commits, so that transactions
 * commit in another order than their ids and sequence numbers. Users rather than leads:
 * a lead's insert also updates the workspace's report rollups, whose row locks would
 * queue the writers one behind the other (and commit them nearly in order). Runs in a
 * thread: errors go to w->err for the test's thread to report. */
static void *writer_run(void *arg)
{
    struct writer *w = arg;
    char sql[600], xid_sql[200];
    PGresult *res = NULL;
    PGconn *pg = PQconnectdb(getenv("LL_TEST_DATABASE_URL"));
    unsigned seed = (unsigned)(w->id * 7919 + getpid());
    if (PQstatus(pg) != CONNECTION_OK)
        snprintf(w->err, sizeof w->err, "%s", PQerrorMessage(pg));
    for (int left = w->changes; left > 0 && !w->err[0];) {
        int n = 1 + (int)(rand_r(&seed) % 20);
        if (n > left)
            n = left;
        /* the transaction id of the node that holds the workspace (on Citus a worker's,
         * as the changes' xid is; a query routed to it by the workspace's id) */
        snprintf(xid_sql, sizeof xid_sql,
                 "SELECT pg_current_xact_id(), pg_sleep(random() * 0.05) FROM workspaces"
                 " WHERE id = '%s'",
                 w->workspace);
        snprintf(sql, sizeof sql,
                 "INSERT INTO users (workspace_id, name, email, team) SELECT '%s', 'Writer',"
                 " format('feed.w%d.t%d.r%%s@example.com', g), 'sales'"
                 " FROM generate_series(1, %d) g",
                 w->workspace, w->id, w->transactions, n);
        if (exec_ok(pg, "BEGIN", NULL, w->err, sizeof w->err) &&
            exec_ok(pg, sql, NULL, w->err, sizeof w->err) &&
            exec_ok(pg, xid_sql, &res, w->err, sizeof w->err) &&
            exec_ok(pg, "COMMIT", NULL, w->err, sizeof w->err)) {
            w->xids[w->transactions] = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
            w->commit_order[w->transactions] = atomic_fetch_add(w->commits, 1);
            left -= n;
            w->transactions++;
        }
        PQclear(res);
        res = NULL;
    }
    PQfinish(pg);
    atomic_fetch_sub(w->running, 1);
    return NULL;
}

struct committed {
    unsigned long long xid;
    int order;
};

static int cmp_xid(const void *a, const void *b)
{
    const struct committed *x = a, *y = b;
    return (x->xid > y->xid) - (x->xid < y->xid);
}

/* How many of the writers' transactions committed after the one with the next higher id:
 * the disorder the feed must undo. */
static int commits_out_of_order(const struct writer *w, int nw)
{
    int n = 0, out = 0;
    for (int k = 0; k < nw; k++)
        n += w[k].transactions;
    struct committed *all = malloc((size_t)n * sizeof *all);
    ck_assert_ptr_nonnull(all);
    n = 0;
    for (int k = 0; k < nw; k++)
        for (int t = 0; t < w[k].transactions; t++)
            all[n++] = (struct committed){w[k].xids[t], w[k].commit_order[t]};
    qsort(all, (size_t)n, sizeof *all, cmp_xid);
    for (int i = 0; i + 1 < n; i++)
        out += all[i].order > all[i + 1].order;
    free(all);
    return out;
}

static int cmp_seq(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The seqs of the workspace's changes in the database, sorted (new array of *n). */
static long long *stored_seqs(PGconn *pg, const char *wsid, size_t *n)
{
    const char *vals[1] = {wsid};
    PGresult *res = PQexecParams(pg, "SELECT seq FROM changes WHERE workspace_id = $1 ORDER BY seq",
                                 1, NULL, vals, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
    *n = (size_t)PQntuples(res);
    long long *out = malloc((*n + 1) * sizeof *out);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < *n; i++)
        out[i] = atoll(PQgetvalue(res, (int)i, 0));
    PQclear(res);
    return out;
}

START_TEST(a_follower_sees_every_change_exactly_once_under_out_of_order_commits)
{
    char adm[64], wsid[64], cursor[64] = "", query[200], last[64] = "", *v;
    const char *slug = unique("feed-once");
    struct writer w[WRITERS];
    pthread_t th[WRITERS];
    atomic_int running = WRITERS, commits = 0;
    long long *seen = NULL;
    size_t nseen = 0, capseen = 0, pages = 0, empty_pages = 0, out_of_order = 0, i;
    unsigned long long done_xid = 0;
    static const long limits[] = {1000, 97, 500, 250};
    bool writers_done = false;
    json_t *item;

    ck_assert(workspace_key(slug, "admin", adm));
    PGconn *pg = pg_test();
    v = workspace_id(pg, slug);
    snprintf(wsid, sizeof wsid, "%s", v);
    free(v);
    long t0 = sock_now_ms(), t_written = 0;
    for (int k = 0; k < WRITERS; k++) {
        w[k] = (struct writer){.workspace = wsid,
                               .running = &running,
                               .commits = &commits,
                               .id = k,
                               .changes = WRITE_CHANGES / WRITERS,
                               .xids = calloc(WRITE_CHANGES / WRITERS, sizeof(unsigned long long)),
                               .commit_order = calloc(WRITE_CHANGES / WRITERS, sizeof(int))};
        ck_assert(w[k].xids && w[k].commit_order);
        ck_assert_int_eq(pthread_create(&th[k], NULL, writer_run, &w[k]), 0);
    }

    /* The follower: from the start of the workspace's feed (its seeded reasons first), one
     * page after another through next_cursor only, long-polling once it has caught up. It
     * stops at a short page whose cursor is past a transaction id taken after every writer
     * ended: by the feed's contract every change of theirs has been served by then. */
    for (;;) {
        ck_assert_msg(sock_now_ms() - t0 < 120000,
                      "the follower did not finish in 120 s (%zu changes read)", nseen);
        if (!writers_done && atomic_load(&running) == 0) {
            for (int k = 0; k < WRITERS; k++) {
                ck_assert_int_eq(pthread_join(th[k], NULL), 0);
                ck_assert_msg(!w[k].err[0], "writer %d: %s", k, w[k].err);
            }
            writers_done = true;
            t_written = sock_now_ms();
            /* on the workspace's node, as the feed's cursors are (Citus: a worker) */
            v = pg_value_p(pg, "SELECT pg_current_xact_id()::text FROM workspaces WHERE id = $1",
                           wsid);
            done_xid = strtoull(v, NULL, 10);
            free(v);
        }
        snprintf(query, sizeof query, "limit=%ld&wait=1%s%s", limits[pages % 4],
                 *cursor ? "&after=" : "", cursor);
        struct resp *r = page(adm, query);
        json_t *data = json_object_get(r->json, "data");
        pages++;
        empty_pages += json_array_size(data) == 0;
        json_array_foreach(data, i, item)
        {
            const char *c = sget(item, "cursor");
            if (*last && cursor_cmp(c, last) <= 0)
                out_of_order++;
            snprintf(last, sizeof last, "%s", c);
            if (nseen == capseen) {
                capseen = capseen ? capseen * 2 : 4096;
                seen = realloc(seen, capseen * sizeof *seen);
                ck_assert_ptr_nonnull(seen);
            }
            seen[nseen++] = json_integer_value(json_object_get(item, "seq"));
        }
        snprintf(cursor, sizeof cursor, "%s", jstr(r, "next_cursor"));
        bool more = json_is_true(json_object_get(r->json, "has_more"));
        resp_free(r);
        unsigned long long x, s;
        ck_assert_msg(cursor_pos(cursor, &x, &s), "next_cursor %s", cursor);
        if (writers_done && !more && x > done_xid)
            break;
    }
    long t_end = sock_now_ms();

    /* What the follower saw against what the database holds for the workspace. */
    size_t nwant, missing = 0, dup = 0, extra = 0, a = 0, b = 0;
    long long *want = stored_seqs(pg, wsid, &nwant);
    char ex_missing[200] = "", ex_dup[200] = "", ex_extra[200] = "";
    qsort(seen, nseen, sizeof *seen, cmp_seq);
    while (a < nwant || b < nseen) {
        if (b > 0 && b < nseen && seen[b] == seen[b - 1]) {
            if (dup++ < 8)
                snprintf(ex_dup + strlen(ex_dup), sizeof ex_dup - strlen(ex_dup), " %lld", seen[b]);
            b++;
        } else if (b == nseen || (a < nwant && want[a] < seen[b])) {
            if (missing++ < 8)
                snprintf(ex_missing + strlen(ex_missing), sizeof ex_missing - strlen(ex_missing),
                         " %lld", want[a]);
            a++;
        } else if (a == nwant || seen[b] < want[a]) {
            if (extra++ < 8)
                snprintf(ex_extra + strlen(ex_extra), sizeof ex_extra - strlen(ex_extra), " %lld",
                         seen[b]);
            b++;
        } else {
            a++;
            b++;
        }
    }
    ck_assert_msg(missing == 0 && dup == 0 && extra == 0 && out_of_order == 0,
                  "the follower read %zu changes in %zu pages, the workspace has %zu: "
                  "%zu never served (e.g. seq%s), %zu extra copies of changes served before "
                  "(e.g. seq%s), %zu not the workspace's (e.g. seq%s), %zu out of (xid, seq) order",
                  nseen, pages, nwant, missing, ex_missing, dup, ex_dup, extra, ex_extra,
                  out_of_order);
    ck_assert_msg(nwant >= (size_t)WRITE_CHANGES,
                  "the writers wrote %zu changes, expected at least %d", nwant, WRITE_CHANGES);
    /* and the feed stays empty after the last cursor: nothing comes late */
    snprintf(query, sizeof query, "after=%s", cursor);
    struct resp *r = page(adm, query);
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 0,
                  "a change after the end: %.1500s", r->body);
    resp_free(r);
    /* the premise: the writers' transactions did commit out of order */
    int transactions = 0, disorder = commits_out_of_order(w, WRITERS);
    for (int k = 0; k < WRITERS; k++) {
        transactions += w[k].transactions;
        free(w[k].xids);
        free(w[k].commit_order);
    }
    ck_assert_msg(disorder > 0, "all %d transactions committed in the order of their ids",
                  transactions);
    fprintf(stderr,
            "changes: %zu changes of %d transactions (%d committed after a later one) read"
            " exactly once in %zu pages (%zu empty); writing took %ld ms, following %ld ms\n",
            nseen, transactions, disorder, pages, empty_pages, t_written - t0, t_end - t0);
    free(want);
    free(seen);
    PQfinish(pg);
}
END_TEST

/* ------------------------------------------------------------------ 2. what a change holds */

/* Reads key's feed from cursor until the change of entity marker has come; the
 * changes must be exactly `types` (comma-separated, in order). Returns them (new
 * reference) and moves cursor past them. */
static json_t *next_changes(const char *key, char cursor[64], const char *marker, const char *types)
{
    json_t *got = follow(key, cursor, marker, cursor);
    ck_assert_msg(!strcmp(types_of(got), types),
                  "after the write of %s: expected changes %s, got %s", marker, types,
                  types_of(got));
    return got;
}

/* Checks one change: its type, entity and id, the key (and user) that wrote it, and its
 * data against want (the entity as its own endpoint shows it; stolen). */
static void expect_change(json_t *c, const char *type, const char *entity, const char *id,
                          const char *key, const char *user, json_t *want)
{
    char what[200];
    json_t *actor = json_object_get(c, "actor");
    char *text = json_dumps(c, JSON_COMPACT);
    snprintf(what, sizeof what, "the data of %s %s", type, id);
    ck_assert_msg(!strcmp(sget(c, "type"), type) && !strcmp(sget(c, "entity"), entity) &&
                      !strcmp(sget(c, "entity_id"), id),
                  "expected %s of %s %s: %.2000s", type, entity, id, text);
    ck_assert_msg(!strcmp(sget(actor, "type"), "api_key") &&
                      !strcmp(sget(actor, "api_key_id"), key),
                  "%s: expected actor api_key %s: %.2000s", type, key, text);
    if (user)
        ck_assert_msg(!strcmp(sget(actor, "user_id"), user), "%s: expected user %s: %.2000s", type,
                      user, text);
    else
        ck_assert_msg(json_is_null(json_object_get(actor, "user_id")),
                      "%s: expected no user: %.2000s", type, text);
    ck_assert_msg(json_is_integer(json_object_get(c, "seq")) && *sget(c, "occurred_at") &&
                      *sget(c, "cursor"),
                  "%s: seq, occurred_at and cursor: %.2000s", type, text);
    free(text);
    expect_json_eq(json_object_get(c, "data"), want, what);
    json_decref(want);
}

/* GET collection/id (new reference). */
static json_t *get_entity(const char *collection, const char *id, const char *key)
{
    char path[200];
    snprintf(path, sizeof path, "%s/%s", collection, id);
    return fetch_ok(path, key);
}

/* A write that must answer 200 (PATCH, or DELETE with 204). */
static void write_ok(const char *method, const char *path, const char *key, const char *body)
{
    struct resp *r = body ? send_json(method, path, key, body, strlen(body), NULL, NULL)
                          : req(&main_daemon, method, path, key, NULL, NULL, 0);
    char what[300];
    snprintf(what, sizeof what, "%s %s %.150s", method, path, body ? body : "");
    ck_assert_msg(r->status == 200 || r->status == 204, "%s: %ld %.1500s", what, r->status,
                  r->body);
    resp_free(r);
}

START_TEST(each_change_carries_its_entity_as_its_endpoint_shows_it_and_its_writer)
{
    char adm[64], mk[64], sl[64], cursor[64], path[200], body[400], seller[64];
    const char *slug = unique("feed-entities");
    json_t *got, *j;
    ck_assert(workspace_key(slug, "admin", adm));
    ck_assert(workspace_key(slug, "marketing", mk));
    ck_assert(workspace_key(slug, "sales", sl));
    PGconn *pg = pg_test();
    char *adm_id = key_id(pg, adm), *mk_id = key_id(pg, mk), *sl_id = key_id(pg, sl);
    frontier(adm, cursor);

    /* a campaign, created and changed by a marketing key */
    j = create("/v1/campaigns", mk,
               "{\"name\":\"Feed webinar\",\"channel\":\"webinar\",\"budget\":1000}");
    char camp[64];
    snprintf(camp, sizeof camp, "%s", sget(j, "id"));
    json_decref(j);
    got = next_changes(adm, cursor, camp, "campaign.created");
    expect_change(json_array_get(got, 0), "campaign.created", "campaign", camp, mk_id, NULL,
                  get_entity("/v1/campaigns", camp, adm));
    json_decref(got);
    snprintf(path, sizeof path, "/v1/campaigns/%s", camp);
    write_ok("PATCH", path, mk, "{\"budget\":2500}");
    got = next_changes(adm, cursor, camp, "campaign.updated");
    expect_change(json_array_get(got, 0), "campaign.updated", "campaign", camp, mk_id, NULL,
                  get_entity("/v1/campaigns", camp, adm));
    json_decref(got);

    /* a lead with the campaign: the lead and its created touch, in one transaction */
    snprintf(body, sizeof body,
             "{\"email\":\"%s@example.com\",\"first_name\":\"Ada\",\"company\":\"Feed Ltd\","
             "\"custom\":{\"tier\":\"gold\"},\"campaign_id\":\"%s\"}",
             unique("feed.lead"), camp);
    j = create("/v1/leads", mk, body);
    char lead[64], touches[200], feedbacks[200];
    snprintf(lead, sizeof lead, "%s", sget(j, "id"));
    json_decref(j);
    snprintf(touches, sizeof touches, "/v1/leads/%s/touches", lead);
    snprintf(feedbacks, sizeof feedbacks, "/v1/leads/%s/feedback", lead);
    got = next_changes(adm, cursor, lead, "lead.created,touch.created");
    expect_change(json_array_get(got, 0), "lead.created", "lead", lead, mk_id, NULL,
                  get_entity("/v1/leads", lead, adm));
    json_t *t = json_array_get(got, 1);
    expect_change(t, "touch.created", "touch", sget(t, "entity_id"), mk_id, NULL,
                  list_member(touches, adm, "id", sget(t, "entity_id")));
    json_decref(got);

    /* a touch of another campaign moves the lead's latest campaign: the touch, and the lead
     * as it is now */
    j = create("/v1/campaigns", mk, "{\"name\":\"Feed ads\",\"channel\":\"paid_search\"}");
    char camp2[64], touch2[64];
    snprintf(camp2, sizeof camp2, "%s", sget(j, "id"));
    json_decref(j);
    json_decref(next_changes(adm, cursor, camp2, "campaign.created"));
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", camp2);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"clicked\"}", lead);
    j = create(path, mk, body);
    snprintf(touch2, sizeof touch2, "%s", sget(j, "id"));
    json_decref(j);
    got = next_changes(adm, cursor, lead, "touch.created,lead.updated");
    expect_change(json_array_get(got, 0), "touch.created", "touch", touch2, mk_id, NULL,
                  list_member(touches, adm, "id", touch2));
    expect_change(json_array_get(got, 1), "lead.updated", "lead", lead, mk_id, NULL,
                  get_entity("/v1/leads", lead, adm));
    json_decref(got);

    /* a user, and a sales key of the user: the key's writes name the user */
    snprintf(body, sizeof body,
             "{\"name\":\"Feed Seller\",\"email\":\"%s@example.com\",\"team\":\"marketing\"}",
             unique("feed.user"));
    j = create("/v1/users", adm, body);
    char user[64], key2[64];
    snprintf(user, sizeof user, "%s", sget(j, "id"));
    json_decref(j);
    got = next_changes(adm, cursor, user, "user.created");
    expect_change(json_array_get(got, 0), "user.created", "user", user, adm_id, NULL,
                  get_entity("/v1/users", user, adm));
    json_decref(got);
    snprintf(path, sizeof path, "/v1/users/%s", user);
    write_ok("PATCH", path, adm, "{\"team\":\"sales\"}");
    got = next_changes(adm, cursor, user, "user.updated");
    expect_change(json_array_get(got, 0), "user.updated", "user", user, adm_id, NULL,
                  get_entity("/v1/users", user, adm));
    json_decref(got);
    snprintf(body, sizeof body, "{\"name\":\"feed seller\",\"role\":\"sales\",\"user_id\":\"%s\"}",
             user);
    j = create("/v1/api-keys", adm, body);
    snprintf(key2, sizeof key2, "%s", sget(j, "id"));
    snprintf(seller, sizeof seller, "%s", sget(j, "secret"));
    json_decref(j);
    got = next_changes(adm, cursor, key2, "api_key.created");
    expect_change(json_array_get(got, 0), "api_key.created", "api_key", key2, adm_id, NULL,
                  get_entity("/v1/api-keys", key2, adm));
    json_decref(got);

    /* feedback by the user's key: the feedback and the stage it moved */
    j = create(feedbacks, seller, "{\"kind\":\"accepted\",\"rating\":4,\"note\":\"keen\"}");
    char fb[64];
    snprintf(fb, sizeof fb, "%s", sget(j, "id"));
    json_decref(j);
    got = next_changes(adm, cursor, fb, "feedback.created,lead.stage_changed");
    expect_change(json_array_get(got, 0), "feedback.created", "feedback", fb, key2, user,
                  list_member(feedbacks, adm, "id", fb));
    expect_change(json_array_get(got, 1), "lead.stage_changed", "lead", lead, key2, user,
                  get_entity("/v1/leads", lead, adm));
    json_decref(got);

    /* the lead edited by a sales key */
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    write_ok("PATCH", path, sl, "{\"title\":\"CTO\",\"score\":70}");
    got = next_changes(adm, cursor, lead, "lead.updated");
    expect_change(json_array_get(got, 0), "lead.updated", "lead", lead, sl_id, NULL,
                  get_entity("/v1/leads", lead, adm));
    json_decref(got);

    /* a reason, created and relabelled */
    j = create("/v1/feedback-reasons", adm,
               "{\"code\":\"feed_reason\",\"label\":\"Feed\",\"kinds\":[\"rejected\"]}");
    json_decref(j);
    got = next_changes(adm, cursor, "feed_reason", "reason.created");
    expect_change(json_array_get(got, 0), "reason.created", "reason", "feed_reason", adm_id, NULL,
                  list_member("/v1/feedback-reasons", adm, "code", "feed_reason"));
    json_decref(got);
    write_ok("PATCH", "/v1/feedback-reasons/feed_reason", adm, "{\"label\":\"Fed\"}");
    got = next_changes(adm, cursor, "feed_reason", "reason.updated");
    expect_change(json_array_get(got, 0), "reason.updated", "reason", "feed_reason", adm_id, NULL,
                  list_member("/v1/feedback-reasons", adm, "code", "feed_reason"));
    json_decref(got);

    /* the key renamed, then revoked; the campaign archived */
    snprintf(path, sizeof path, "/v1/api-keys/%s", key2);
    write_ok("PATCH", path, adm, "{\"name\":\"feed seller 2\"}");
    got = next_changes(adm, cursor, key2, "api_key.updated");
    expect_change(json_array_get(got, 0), "api_key.updated", "api_key", key2, adm_id, NULL,
                  get_entity("/v1/api-keys", key2, adm));
    json_decref(got);
    write_ok("DELETE", path, adm, NULL);
    got = next_changes(adm, cursor, key2, "api_key.revoked");
    expect_change(json_array_get(got, 0), "api_key.revoked", "api_key", key2, adm_id, NULL,
                  get_entity("/v1/api-keys", key2, adm));
    json_decref(got);
    snprintf(path, sizeof path, "/v1/campaigns/%s", camp);
    write_ok("DELETE", path, mk, NULL);
    got = next_changes(adm, cursor, camp, "campaign.archived");
    expect_change(json_array_get(got, 0), "campaign.archived", "campaign", camp, mk_id, NULL,
                  get_entity("/v1/campaigns", camp, adm));
    json_decref(got);

    /* no key's secret or hash reaches the feed's rows */
    char sql[700];
    snprintf(sql, sizeof sql,
             "SELECT count(*) || ' changes, ' || count(*) FILTER (WHERE c.doc ? 'key_hash'"
             " OR strpos(c.doc::text, encode(k.key_hash, 'hex')) > 0"
             " OR strpos(c.doc::text, '%s') > 0 OR strpos(c.doc::text, '%s') > 0) || ' with a"
             " secret' FROM changes c JOIN api_keys k ON k.workspace_id = c.workspace_id"
             " AND k.id::text = c.entity_id WHERE c.entity = 'api_key' AND c.workspace_id ="
             " (SELECT workspace_id FROM api_keys WHERE id = '%s')",
             seller + 12, adm + 12, key2);
    char *v = pg_value(pg, sql);
    ck_assert_str_eq(v,
                     "6 changes, 0 with a secret"); /* 3 keys by the command, 3 changes of key2 */
    free(v);
    free(adm_id);
    free(mk_id);
    free(sl_id);
    PQfinish(pg);
}
END_TEST

/* True when the change's type is selected by the comma-separated filter. */
static bool selected(json_t *c, const char *filter)
{
    char buf[600];
    const char *type = sget(c, "type"), *entity = sget(c, "entity");
    snprintf(buf, sizeof buf, "%s", filter);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t n = strlen(t);
        if (!strcmp(t, type) || (n > 2 && !strcmp(t + n - 2, ".*") && strlen(entity) == n - 2 &&
                                 !strncmp(t, entity, n - 2)))
            return true;
    }
    return false;
}

/* The whole feed as key reads it now with the extra query, page by page without waiting
 * (every change in it is already served to others); new reference. */
static json_t *read_all(const char *key, const char *extra, long limit)
{
    json_t *all = json_array(), *item;
    char query[1200], cursor[64] = "";
    size_t i;
    for (int pages = 0;; pages++) {
        ck_assert_msg(pages < 10000, "more than 10,000 pages");
        snprintf(query, sizeof query, "limit=%ld%s%s%s%s", limit, *extra ? "&" : "", extra,
                 *cursor ? "&after=" : "", cursor);
        struct resp *r = page(key, query);
        json_array_foreach(json_object_get(r->json, "data"), i, item) json_array_append(all, item);
        snprintf(cursor, sizeof cursor, "%s", jstr(r, "next_cursor"));
        bool more = json_is_true(json_object_get(r->json, "has_more"));
        resp_free(r);
        if (!more)
            return all;
    }
}

START_TEST(types_select_changes_and_api_key_changes_are_shown_to_admins_only)
{
    char adm[64], ro[64], cursor[64], body[300], path[200];
    const char *slug = unique("feed-types");
    json_t *j;
    ck_assert(workspace_key(slug, "admin", adm));
    ck_assert(workspace_key(slug, "readonly", ro));
    j = create("/v1/campaigns", adm, "{\"name\":\"Types\",\"channel\":\"email\"}");
    char camp[64], lead[64];
    snprintf(camp, sizeof camp, "%s", sget(j, "id"));
    json_decref(j);
    snprintf(body, sizeof body, "{\"email\":\"%s@example.com\",\"campaign_id\":\"%s\"}",
             unique("feed.types"), camp);
    j = create("/v1/leads", adm, body);
    snprintf(lead, sizeof lead, "%s", sget(j, "id"));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    write_ok("PATCH", path, adm, "{\"title\":\"CFO\"}");
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lead);
    json_decref(create(path, adm, "{\"kind\":\"accepted\"}"));
    json_decref(create("/v1/users", adm,
                       "{\"name\":\"Types\",\"email\":\"feed.types.user@example.com\","
                       "\"team\":\"sales\"}"));
    json_decref(create("/v1/api-keys", adm, "{\"name\":\"types\",\"role\":\"marketing\"}"));
    json_decref(create("/v1/feedback-reasons", adm,
                       "{\"code\":\"types_last\",\"label\":\"Last\",\"kinds\":[\"rejected\"]}"));

    /* everything, as the admin key and as the readonly key see it */
    json_t *all = follow(adm, NULL, "types_last", cursor);
    json_t *ro_all = follow(ro, NULL, "types_last", cursor);
    json_t *no_keys = json_array(), *c;
    size_t i, keys = 0;
    json_array_foreach(all, i, c)
    {
        if (strcmp(sget(c, "entity"), "api_key"))
            json_array_append(no_keys, c);
        else
            keys++;
    }
    ck_assert_msg(keys >= 3,
                  "the admin sees the keys' changes (2 by the command, 1 by the API): "
                  "%s",
                  types_of(all));
    expect_json_eq(ro_all, no_keys, "the readonly key's feed: the admin's without api_key changes");
    json_decref(ro_all);
    json_decref(no_keys);
    ro_all = read_all(ro, "types=api_key.*", 100);
    ck_assert_msg(json_array_size(ro_all) == 0, "types=api_key.* shows a readonly key %s",
                  types_of(ro_all));
    json_decref(ro_all);

    /* each filter: the admin's feed with only the selected types, in the same order */
    static const char *const filters[] = {
        "lead.created",
        "lead.*",
        "campaign.created,user.*",
        "feedback.created,lead.stage_changed",
        "api_key.*",
        "touch.updated",
        "lead.*,lead.*,lead.*,lead.*,lead.*,lead.*,lead.*,lead.*,reason.created",
    };
    for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++) {
        char query[600], what[700];
        json_t *want = json_array();
        json_array_foreach(all, i, c)
        {
            if (selected(c, filters[f]))
                json_array_append(want, c);
        }
        snprintf(query, sizeof query, "types=%s", filters[f]);
        json_t *filtered = read_all(adm, query, 2);
        snprintf(what, sizeof what, "types=%s (%s)", filters[f], types_of(want));
        expect_json_eq(filtered, want, what);
        json_decref(filtered);
        json_decref(want);
    }
    /* the filters select something: lead.* has each of the lead's types */
    json_t *leads = read_all(adm, "types=lead.*", 100);
    ck_assert_str_eq(types_of(leads), "lead.created,lead.updated,lead.stage_changed");
    json_decref(leads);
    json_decref(all);
}
END_TEST

START_TEST(after_now_starts_at_the_frontier)
{
    char adm[64], cursor[64], now[64];
    const char *slug = unique("feed-now");
    ck_assert(workspace_key(slug, "admin", adm));
    json_t *j = create("/v1/campaigns", adm, "{\"name\":\"Before\",\"channel\":\"email\"}");
    char before[64], after[64];
    snprintf(before, sizeof before, "%s", sget(j, "id"));
    json_decref(j);
    json_t *got = follow(adm, NULL, before, cursor);
    json_t *seen = the_change(got, "campaign.created", before);

    /* at once, even with wait, and after everything served */
    long t0 = sock_now_ms();
    struct resp *r = page(adm, "after=now&wait=5");
    long took = sock_now_ms() - t0;
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 0 &&
                      !json_is_true(json_object_get(r->json, "has_more")) && took < 2000,
                  "after=now&wait=5: expected no change at once, got in %ld ms: %.1500s", took,
                  r->body);
    snprintf(now, sizeof now, "%s", jstr(r, "next_cursor"));
    resp_free(r);
    ck_assert_msg(cursor_cmp(now, sget(seen, "cursor")) > 0,
                  "the frontier %s is not after the change served before it (%s)", now,
                  sget(seen, "cursor"));
    json_decref(got);

    j = create("/v1/campaigns", adm, "{\"name\":\"After\",\"channel\":\"email\"}");
    snprintf(after, sizeof after, "%s", sget(j, "id"));
    json_decref(j);
    got = follow(adm, now, after, cursor);
    ck_assert_msg(
        json_array_size(got) == 1 && !strcmp(sget(json_array_get(got, 0), "entity_id"), after),
        "after the frontier: expected the later campaign %s alone, got %s", after, types_of(got));
    json_decref(got);
}
END_TEST

START_TEST(limit_pages_with_has_more)
{
    char adm[64], cursor[64], body[200], ids[5][64], query[200];
    const char *slug = unique("feed-pages");
    ck_assert(workspace_key(slug, "admin", adm));
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "{\"name\":\"Page %d\",\"channel\":\"email\"}", i);
        json_t *j = create("/v1/campaigns", adm, body);
        snprintf(ids[i], sizeof ids[i], "%s", sget(j, "id"));
        json_decref(j);
    }
    json_t *all = follow(adm, NULL, ids[4], cursor);

    /* pages of 2: full pages say has_more and continue after their last change */
    cursor[0] = '\0';
    static const size_t sizes[] = {2, 2, 1};
    int n = 0;
    for (int p = 0; p < 3; p++) {
        snprintf(query, sizeof query, "types=campaign.created&limit=2%s%s",
                 *cursor ? "&after=" : "", cursor);
        struct resp *r = page(adm, query);
        json_t *data = json_object_get(r->json, "data"), *c;
        size_t i;
        bool more = json_is_true(json_object_get(r->json, "has_more"));
        ck_assert_msg(json_array_size(data) == sizes[p] && more == (p < 2),
                      "page %d: expected %zu changes and has_more %s: %.1500s", p, sizes[p],
                      p < 2 ? "true" : "false", r->body);
        json_array_foreach(data, i, c)
        {
            ck_assert_msg(!strcmp(sget(c, "entity_id"), ids[n]), "change %d: expected %s, got %s",
                          n, ids[n], sget(c, "entity_id"));
            n++;
        }
        if (more)
            ck_assert_str_eq(jstr(r, "next_cursor"), sget(json_array_get(data, 1), "cursor"));
        snprintf(cursor, sizeof cursor, "%s", jstr(r, "next_cursor"));
        resp_free(r);
    }
    /* a page that is exactly full says has_more; the next one is empty */
    struct resp *r = page(adm, "types=campaign.created&limit=5");
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 5 &&
                      json_is_true(json_object_get(r->json, "has_more")),
                  "limit=5: %.1500s", r->body);
    snprintf(query, sizeof query, "types=campaign.created&limit=5&after=%s",
             jstr(r, "next_cursor"));
    resp_free(r);
    r = page(adm, query);
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 0 &&
                      !json_is_true(json_object_get(r->json, "has_more")),
                  "after a full last page: %.1500s", r->body);
    resp_free(r);
    /* one change a page reads the same feed as one page of all */
    json_t *ones = read_all(adm, "", 1);
    expect_json_eq(ones, all, "the feed read one change a page");
    json_decref(ones);
    ck_assert_msg(json_array_size(all) > 5, "the seeded reasons, the key and the campaigns: %s",
                  types_of(all));
    json_decref(all);
}
END_TEST

/* A change written by another thread, delay_ms after it starts: a campaign through the API
 * of d with key, or (d NULL) a user straight into the database. */
struct late_write {
    const char *workspace, *key;
    struct daemon *d;
    int delay_ms;
    long written_at; /* sock_now_ms() when the write returned */
    char id[64], err[300];
};

static void *late_write_run(void *arg)
{
    static const char body[] = "{\"name\":\"Late\",\"channel\":\"email\"}";
    static const char *const json_ct[] = {"Content-Type: application/json", NULL};
    struct late_write *lw = arg;
    char sql[400];
    struct timespec ts = {lw->delay_ms / 1000, (long)(lw->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if (lw->d) {
        struct resp *r = req(lw->d, "POST", "/v1/campaigns", lw->key, json_ct, body, strlen(body));
        lw->written_at = sock_now_ms();
        if (r->status == 201)
            snprintf(lw->id, sizeof lw->id, "%s", jstr(r, "id"));
        else
            snprintf(lw->err, sizeof lw->err, "%ld %.200s", r->status, r->body);
        resp_free(r);
        return NULL;
    }
    PGconn *pg = PQconnectdb(getenv("LL_TEST_DATABASE_URL"));
    snprintf(sql, sizeof sql,
             "INSERT INTO users (workspace_id, name, email, team) VALUES ('%s', 'Late',"
             " 'feed.late.%d.%ld@example.com', 'sales') RETURNING id",
             lw->workspace, (int)getpid(), sock_now_ms());
    PGresult *res = PQexec(pg, sql);
    lw->written_at = sock_now_ms();
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        snprintf(lw->id, sizeof lw->id, "%s", PQgetvalue(res, 0, 0));
    else
        snprintf(lw->err, sizeof lw->err, "%s", PQerrorMessage(pg));
    PQclear(res);
    PQfinish(pg);
    return NULL;
}

START_TEST(wait_answers_as_soon_as_a_change_is_written)
{
    /* The long polls wait on a daemon of their own. A write through its API (it wakes its
     * own waiters), one through the main daemon's (its notification reaches this one) and
     * one straight into the database (another writer, found by the next look). Each comes
     * 0.3 s into the wait, a delay that sets the scene: whenever it lands, the answer must
     * hold it and come well before the 2 s are up. */
    char adm[64], now[64], query[200];
    const char *slug = unique("feed-wait");
    struct daemon d;
    ck_assert(workspace_key(slug, "admin", adm));
    PGconn *pg = pg_test();
    char *ws = workspace_id(pg, slug);
    ck_assert(daemon_start(&d, NULL));
    frontier(adm, now);
    const struct {
        struct daemon *via;
        const char *type, *actor, *what;
    } writes[] = {
        {&d, "campaign.created", "api_key", "through the waiting daemon"},
        {&main_daemon, "campaign.created", "api_key", "through another daemon"},
        {NULL, "user.created", "sql", "straight into the database"},
    };
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        struct late_write lw = {.workspace = ws, .key = adm, .d = writes[i].via, .delay_ms = 300};
        pthread_t th;
        long t0 = sock_now_ms();
        ck_assert_int_eq(pthread_create(&th, NULL, late_write_run, &lw), 0);
        snprintf(query, sizeof query, "after=%s&wait=2", now);
        struct resp *r = changes_on(&d, adm, query);
        long took = sock_now_ms() - t0;
        pthread_join(th, NULL);
        ck_assert_msg(!lw.err[0], "the write %s: %s", writes[i].what, lw.err);
        expect_status(r, 200, query);
        json_t *data = json_object_get(r->json, "data");
        ck_assert_msg(json_array_size(data) == 1 &&
                          !strcmp(sget(json_array_get(data, 0), "type"), writes[i].type) &&
                          !strcmp(sget(json_array_get(data, 0), "entity_id"), lw.id),
                      "wait=2: expected the %s %s written %s during the wait, got: %.1500s",
                      writes[i].type, lw.id, writes[i].what, r->body);
        ck_assert_msg(took < 1500,
                      "wait=2 answered the write %s %ld ms after it began, %ld ms after the write",
                      writes[i].what, took, took - (lw.written_at - t0));
        ck_assert_str_eq(sget(json_object_get(json_array_get(data, 0), "actor"), "type"),
                         writes[i].actor);
        snprintf(now, sizeof now, "%s", jstr(r, "next_cursor"));
        resp_free(r);
    }
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
    free(ws);
    PQfinish(pg);
}
END_TEST

START_TEST(an_empty_wait_answers_after_its_time_at_the_frontier)
{
    char adm[64], now[64], later[64], query[200];
    const char *slug = unique("feed-idle");
    ck_assert(workspace_key(slug, "admin", adm));
    frontier(adm, now);
    for (int i = 0; i < 2; i++) { /* and again from where it left off */
        snprintf(query, sizeof query, "after=%s&wait=1", now);
        long t0 = sock_now_ms();
        struct resp *r = page(adm, query);
        long took = sock_now_ms() - t0;
        ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 0 &&
                          !json_is_true(json_object_get(r->json, "has_more")),
                      "nothing happened, yet: %.1500s", r->body);
        ck_assert_msg(took >= 950 && took < 3000, "wait=1 answered after %ld ms", took);
        const char *next = jstr(r, "next_cursor");
        frontier(adm, later);
        /* the same frontier: where it began or, if other workspaces wrote meanwhile, between
         * that and the frontier now */
        ck_assert_msg(cursor_cmp(next, now) >= 0 && cursor_cmp(next, later) <= 0 &&
                          !strcmp(strrchr(next, '.'), strrchr(now, '.')),
                      "wait=1 from %s answered next_cursor %s (the frontier is now %s)", now, next,
                      later);
        snprintf(now, sizeof now, "%s", next);
        resp_free(r);
    }
}
END_TEST

struct waiter {
    struct daemon *d;
    const char *key, *query;
    long status, took;
    size_t n;
};

static void *waiter_run(void *arg)
{
    struct waiter *w = arg;
    long t0 = sock_now_ms();
    struct resp *r = changes_on(w->d, w->key, w->query);
    w->took = sock_now_ms() - t0;
    w->status = r->status;
    w->n = json_array_size(json_object_get(r->json, "data"));
    resp_free(r);
    return NULL;
}

/* A gauge of d's /metrics. */
static long gauge(struct daemon *d, const char *name)
{
    char line[128];
    struct resp *r = req(d, "GET", "/metrics", NULL, NULL, NULL, 0);
    expect_status(r, 200, "/metrics");
    snprintf(line, sizeof line, "\n%s ", name);
    const char *at = strstr(r->body, line);
    ck_assert_msg(at, "/metrics has no %s", name);
    long v = atol(at + strlen(line));
    resp_free(r);
    return v;
}

static struct daemon *pool_daemon;

/* The waiters are connected (six and the /metrics request itself) and none of them holds a
 * database connection. */
static bool all_waiting(void *arg)
{
    (void)arg;
    return gauge(pool_daemon, "leadloop_connections") >= 7 &&
           gauge(pool_daemon, "leadloop_db_pool_in_use") == 0;
}

START_TEST(long_polls_hold_no_database_connection_and_all_answer)
{
    /* Two pooled connections and six clients waiting: the waits hold none, so another
     * request is answered at once, and each wait answers empty when its time is up. */
    char adm[64], now[64], query[200];
    const char *env[] = {"LEADLOOP_DB_POOL=2", NULL};
    struct daemon d;
    struct waiter w[6];
    pthread_t th[6];
    const char *slug = unique("feed-pool");
    ck_assert(workspace_key(slug, "admin", adm));
    frontier(adm, now);
    snprintf(query, sizeof query, "after=%s&wait=3", now);
    ck_assert(daemon_start(&d, env));
    pool_daemon = &d;
    for (int i = 0; i < 6; i++) {
        w[i] = (struct waiter){.d = &d, .key = adm, .query = query};
        ck_assert_int_eq(pthread_create(&th[i], NULL, waiter_run, &w[i]), 0);
    }
    ck_assert_msg(wait_until(all_waiting, NULL, 2000),
                  "the six long polls are not all waiting without a database connection: "
                  "%ld connections, %ld database connections in use",
                  gauge(&d, "leadloop_connections"), gauge(&d, "leadloop_db_pool_in_use"));
    long t0 = sock_now_ms();
    struct resp *r = req(&d, "GET", "/v1/campaigns?limit=1", adm, NULL, NULL, 0);
    long took = sock_now_ms() - t0;
    expect_status(r, 200, "a list while six long polls wait");
    resp_free(r);
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    ck_assert_msg(took < 1000, "a list waited %ld ms behind the long polls", took);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(w[i].status == 200 && w[i].n == 0 && w[i].took >= 2900 && w[i].took < 6000,
                      "wait %d: expected 200, empty, after about 3 s; got %ld, %zu changes, after "
                      "%ld ms",
                      i, w[i].status, w[i].n, w[i].took);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

START_TEST(a_write_that_changes_nothing_is_no_change)
{
    char adm[64], cursor[64], path[200], body[300], email[128];
    const char *slug = unique("feed-noop");
    ck_assert(workspace_key(slug, "admin", adm));
    snprintf(email, sizeof email, "%s@example.com", unique("feed.noop"));
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"title\":\"CTO\",\"score\":10}", email);
    json_t *j = create("/v1/leads", adm, body);
    char lead[64], camp[64], user[64], marker[64];
    snprintf(lead, sizeof lead, "%s", sget(j, "id"));
    json_decref(j);
    j = create("/v1/campaigns", adm, "{\"name\":\"Same\",\"channel\":\"email\",\"budget\":10}");
    snprintf(camp, sizeof camp, "%s", sget(j, "id"));
    json_decref(j);
    j = create("/v1/users", adm,
               "{\"name\":\"Same\",\"email\":\"feed.noop.user@example.com\",\"team\":\"sales\"}");
    snprintf(user, sizeof user, "%s", sget(j, "id"));
    json_decref(j);
    json_decref(create("/v1/feedback-reasons", adm,
                       "{\"code\":\"same\",\"label\":\"Same\",\"kinds\":[\"rejected\"]}"));
    json_decref(follow(adm, NULL, "same", cursor));

    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    write_ok("PATCH", path, adm, "{\"title\":\"CTO\",\"score\":10}");
    write_ok("PATCH", path, adm, "{}");
    snprintf(path, sizeof path, "/v1/campaigns/%s", camp);
    write_ok("PATCH", path, adm, "{\"name\":\"Same\",\"budget\":10}");
    snprintf(path, sizeof path, "/v1/users/%s", user);
    write_ok("PATCH", path, adm, "{\"name\":\"Same\",\"team\":\"sales\"}");
    write_ok("PATCH", "/v1/feedback-reasons/same", adm, "{\"label\":\"Same\"}");
    /* then one real change: the feed holds it alone */
    j = create("/v1/campaigns", adm, "{\"name\":\"Marker\",\"channel\":\"email\"}");
    snprintf(marker, sizeof marker, "%s", sget(j, "id"));
    json_decref(j);
    json_t *got = follow(adm, cursor, marker, cursor);
    ck_assert_msg(json_array_size(got) == 1,
                  "after the no-op writes: expected only the marker, got %s", types_of(got));
    json_decref(got);
}
END_TEST

/* ------------------------------------------------------------------ 3. bad input */

/* The workspace tag of a cursor (its last part, with the dot; borrowed). */
static const char *tag_of(const char *cursor)
{
    const char *dot = strrchr(cursor, '.');
    ck_assert_msg(dot, "not a cursor: %s", cursor);
    return dot;
}

START_TEST(bad_parameters_are_400_naming_them)
{
    char adm[64], ours[64], theirs[64], upper[80], zero[80], future[80], huge[80], many[800];
    const char *slug = unique("feed-bad");
    ck_assert(workspace_key(slug, "admin", adm));
    frontier(adm, ours);
    frontier(other_admin_key, theirs);
    unsigned long long x, q;
    ck_assert(cursor_pos(ours, &x, &q));
    /* a position of ours in another spelling: upper case (seq 0xab, so that there is a
     * letter to spell), a leading zero; a transaction to come */
    snprintf(upper, sizeof upper, "%llx.AB%s", x, tag_of(ours));
    snprintf(zero, sizeof zero, "0%llx.%llx%s", x, q, tag_of(ours));
    snprintf(future, sizeof future, "%llx.0%s", x + 1000000, tag_of(ours));
    snprintf(huge, sizeof huge, "%llx.ffffffffffffffff%s", x, tag_of(ours));
    for (size_t len = 0, i = 0; i < 33; i++)
        len += (size_t)snprintf(many + len, sizeof many - len, "%slead.created", i ? "," : "");
    char q_other[120], q_upper[120], q_zero[120], q_future[120], q_huge[120], q_many[900];
    snprintf(q_other, sizeof q_other, "after=%s", theirs);
    snprintf(q_upper, sizeof q_upper, "after=%s", upper);
    snprintf(q_zero, sizeof q_zero, "after=%s", zero);
    snprintf(q_future, sizeof q_future, "after=%s", future);
    snprintf(q_huge, sizeof q_huge, "after=%s", huge);
    snprintf(q_many, sizeof q_many, "types=%s", many);
    const struct {
        const char *query, *param;
    } bad[] = {
        {"limit=0", "limit"},
        {"limit=1001", "limit"},
        {"limit=abc", "limit"},
        {"limit=", "limit"},
        {"limit=2.5", "limit"},
        {"wait=61", "wait"},
        {"wait=-1", "wait"},
        {"wait=soon", "wait"},
        {"types=lead.deleted", "types"},
        {"types=planet.*", "types"},
        {"types=lead.created,nope", "types"},
        {"types=", "types"},
        {"types=lead", "types"},
        {"types=*", "types"},
        {q_many, "types"},
        {"after=garbage", "after"},
        {"after=", "after"},
        {"after=1.2", "after"},
        {"after=1.2.3.4", "after"},
        {"after=NOW", "after"},
        {q_other, "after"},
        {q_upper, "after"},
        {q_zero, "after"},
        {q_future, "after"},
        {q_huge, "after"},
        {"cursor=1", "cursor"},
        {"limit=10&since=yesterday", "since"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct resp *r = changes_on(&main_daemon, adm, bad[i].query);
        ck_assert_msg(r->status == 400, "?%s: expected 400 naming %s, got %ld: %.1500s",
                      bad[i].query, bad[i].param, r->status, r->body);
        assert_problem(r, 400, "invalid-parameter");
        ck_assert_msg(problem_names(r, bad[i].param), "?%s: expected a problem naming %s: %.1500s",
                      bad[i].query, bad[i].param, r->body);
        resp_free(r);
    }
    /* the same positions in their one spelling are good */
    char query[120];
    snprintf(query, sizeof query, "after=%s", ours);
    resp_free(page(adm, query));
    snprintf(query, sizeof query, "after=%llx.ab%s", x, tag_of(ours));
    resp_free(page(adm, query));
    snprintf(query, sizeof query, "after=%s", theirs);
    resp_free(page(other_admin_key, query));
}
END_TEST

START_TEST(no_cursor_reads_another_workspace)
{
    char adm[64], ours[64], cursor[64], sql[300];
    const char *slug = unique("feed-forge");
    ck_assert(workspace_key(slug, "admin", adm));
    PGconn *pg = pg_test();
    char *ws = workspace_id(pg, slug);
    frontier(adm, ours);
    json_decref(create("/v1/campaigns", adm, "{\"name\":\"Ours\",\"channel\":\"email\"}"));
    /* a change of the other workspace, and where it is */
    char theirs_before[64];
    frontier(other_admin_key, theirs_before);
    json_t *j =
        create("/v1/campaigns", other_admin_key, "{\"name\":\"Theirs\",\"channel\":\"email\"}");
    char theirs_id[64];
    snprintf(theirs_id, sizeof theirs_id, "%s", sget(j, "id"));
    json_decref(j);
    json_t *got = follow(other_admin_key, theirs_before, theirs_id, cursor);
    json_t *theirs = the_change(got, "campaign.created", theirs_id);
    unsigned long long x, q;
    ck_assert(cursor_pos(sget(theirs, "cursor"), &x, &q));
    json_t *ours_after =
        create("/v1/campaigns", adm, "{\"name\":\"Ours after\",\"channel\":\"email\"}");
    json_decref(follow(adm, ours, sget(ours_after, "id"), cursor));

    /* their change's own cursor is refused; forged ones with our tag around their change
     * read our feed only */
    char query[600], forged[6][80];
    snprintf(query, sizeof query, "after=%s", sget(theirs, "cursor"));
    struct resp *r = changes_on(&main_daemon, adm, query);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert(problem_names(r, "after"));
    resp_free(r);
    snprintf(forged[0], sizeof forged[0], "0.0%s", tag_of(ours));
    snprintf(forged[1], sizeof forged[1], "%llx.0%s", x, tag_of(ours));
    snprintf(forged[2], sizeof forged[2], "%llx.%llx%s", x, q - 1, tag_of(ours));
    snprintf(forged[3], sizeof forged[3], "%llx.7fffffffffffffff%s", x - 1, tag_of(ours));
    snprintf(forged[4], sizeof forged[4], "%llx.%llx%s", x, q, tag_of(ours));
    snprintf(forged[5], sizeof forged[5], "1.1%s", tag_of(ours));
    for (int f = 0; f < 6; f++) {
        snprintf(query, sizeof query, "limit=1000&after=%s", forged[f]);
        r = page(adm, query);
        json_t *c;
        size_t i;
        ck_assert_msg(!strstr(r->body, theirs_id),
                      "after=%s shows the other workspace's change: "
                      "%.1500s",
                      forged[f], r->body);
        json_array_foreach(json_object_get(r->json, "data"), i, c)
        {
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM changes WHERE seq = %lld AND"
                     " workspace_id = '%s'",
                     json_integer_value(json_object_get(c, "seq")), ws);
            ck_assert_msg(pg_long(pg, sql) == 1, "after=%s shows seq %lld, not our workspace's",
                          forged[f], json_integer_value(json_object_get(c, "seq")));
        }
        ck_assert_msg(f == 4 || json_array_size(json_object_get(r->json, "data")) > 0,
                      "after=%s: our own later change is missing: %.1500s", forged[f], r->body);
        resp_free(r);
    }
    json_decref(ours_after);
    json_decref(got);
    free(ws);
    PQfinish(pg);
}
END_TEST

/* ------------------------------------------------------------------ 4. erasure */

START_TEST(an_erased_lead_leaves_no_personal_value_in_the_feed)
{
    char adm[64], cursor[64], body[1200], path[200], email[128];
    const char *slug = unique("feed-erase");
    ck_assert(workspace_key(slug, "admin", adm));
    PGconn *pg = pg_test();
    char *ws = workspace_id(pg, slug);
    snprintf(email, sizeof email, "%s@example.com", unique("erasmus.feed"));
    const char *needles[] = {email,
                             "Erasmus",
                             "Forgetmenot",
                             "Oblivion Holdings",
                             "Chief Forgetter",
                             "+44 20 7946 0999",
                             "falconry-feed",
                             "EXT-FEED-77",
                             "call Erasmus at home",
                             "ask for Forgetmenot"};
    json_t *j = create("/v1/campaigns", adm, "{\"name\":\"Erase\",\"channel\":\"event\"}");
    char camp[64], lead[64];
    snprintf(camp, sizeof camp, "%s", sget(j, "id"));
    json_decref(j);
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"first_name\":\"%s\",\"last_name\":\"%s\",\"company\":\"%s\","
             "\"phone\":\"%s\",\"custom\":{\"hobby\":\"%s\"},\"external_ids\":{\"crm\":\"%s\"},"
             "\"consent\":{\"email_opt_in\":true},\"campaign_id\":\"%s\"}",
             needles[0], needles[1], needles[2], needles[3], needles[5], needles[6], needles[7],
             camp);
    j = create("/v1/leads", adm, body);
    snprintf(lead, sizeof lead, "%s", sget(j, "id"));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    snprintf(body, sizeof body, "{\"title\":\"%s\"}", needles[4]);
    write_ok("PATCH", path, adm, body);
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lead);
    snprintf(body, sizeof body, "{\"kind\":\"contacted\",\"note\":\"%s\"}", needles[8]);
    json_decref(create(path, adm, body));
    snprintf(body, sizeof body, "{\"kind\":\"accepted\",\"note\":\"%s\"}", needles[9]);
    json_decref(create(path, adm, body));
    /* the feed holds the values before the erasure (so that the check below can fail) */
    json_t *before = follow(adm, NULL, lead, cursor);
    char *text = json_dumps(before, JSON_COMPACT);
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
        ck_assert_msg(strstr(text, needles[i]), "before the erasure the feed lacks %s", needles[i]);
    free(text);
    json_decref(before);

    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    struct resp *r = del(path, adm);
    expect_status(r, 204, "erase");
    resp_free(r);
    j = create("/v1/campaigns", adm, "{\"name\":\"After the erasure\",\"channel\":\"event\"}");
    json_t *all = follow(adm, NULL, sget(j, "id"), cursor);
    json_decref(j);

    /* through the API: the tombstone, and every change about the lead without its values */
    json_t *erased = the_change(all, "lead.erased", lead), *c;
    ck_assert_msg(json_is_object(json_object_get(erased, "data")), "lead.erased has data");
    size_t i, about = 0;
    json_array_foreach(all, i, c)
    {
        json_t *data = json_object_get(c, "data");
        char *cj = json_dumps(c, JSON_COMPACT);
        if (!strcmp(sget(c, "entity"), "lead") && !strcmp(sget(c, "entity_id"), lead)) {
            static const char *const nulls[] = {"email", "first_name", "last_name", "company",
                                                "title", "phone",      "consent"};
            for (size_t k = 0; k < sizeof nulls / sizeof nulls[0]; k++)
                ck_assert_msg(json_is_null(json_object_get(data, nulls[k])), "%s keeps %s: %.1500s",
                              sget(c, "type"), nulls[k], cj);
            ck_assert_msg(json_object_size(json_object_get(data, "custom")) == 0 &&
                              json_object_size(json_object_get(data, "external_ids")) == 0,
                          "%s keeps custom or external ids: %.1500s", sget(c, "type"), cj);
            about++;
        } else if (!strcmp(sget(c, "entity"), "feedback") && !strcmp(sget(data, "lead_id"), lead)) {
            ck_assert_msg(json_is_null(json_object_get(data, "note")),
                          "feedback keeps its note: "
                          "%.1500s",
                          cj);
            about++;
        }
        free(cj);
    }
    ck_assert_msg(about >= 7, "the changes about the lead stay, as tombstones: %zu of %s", about,
                  types_of(all));
    text = json_dumps(all, JSON_COMPACT);
    for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++)
        ck_assert_msg(!strcasestr(text, needles[k]), "the feed still holds %s", needles[k]);
    free(text);
    /* and in the database: no change row of the workspace holds any of the values */
    for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++) {
        const char *vals[2] = {ws, needles[k]};
        PGresult *res = PQexecParams(pg,
                                     "SELECT count(*) FROM changes WHERE workspace_id = $1"
                                     " AND strpos(lower(doc::text), lower($2)) > 0",
                                     2, NULL, vals, NULL, NULL, 0);
        ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
        ck_assert_msg(atol(PQgetvalue(res, 0, 0)) == 0, "%s change rows still hold %s",
                      PQgetvalue(res, 0, 0), needles[k]);
        PQclear(res);
    }
    json_decref(all);
    free(ws);
    PQfinish(pg);
}
END_TEST

/* ------------------------------------------------------------------ 5. retention */

static PGconn *horizon_pg;
static const char *horizon_ws;

static bool horizon_recorded(void *arg)
{
    (void)arg;
    char *n = pg_value_p(horizon_pg, "SELECT count(*) FROM change_horizons WHERE workspace_id = $1",
                         horizon_ws);
    bool yes = atol(n) > 0;
    free(n);
    return yes;
}

/* The changes of a page on d that must answer 200 (new reference). */
static json_t *page_on(struct daemon *d, const char *key, const char *query)
{
    struct resp *r = changes_on(d, key, query);
    char what[300];
    snprintf(what, sizeof what, "GET /v1/changes?%s", query);
    expect_status(r, 200, what);
    json_t *data = json_incref(json_object_get(r->json, "data"));
    resp_free(r);
    return data;
}

START_TEST(expired_changes_answer_410_and_after_now_starts_again)
{
    char adm[64], before[64], cursor[64], ids[3][64], query[200], body[200];
    const char *slug = unique("feed-expire");
    struct daemon d;
    const char *env[] = {"LEADLOOP_CHANGES_RETENTION_DAYS=1", "LEADLOOP_CHANGES_PURGE_INTERVAL_S=1",
                         NULL};
    ck_assert(workspace_key(slug, "admin", adm));
    horizon_pg = pg_test();
    char *ws = workspace_id(horizon_pg, slug);
    horizon_ws = ws;
    frontier(adm, before);
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "{\"name\":\"Expire %d\",\"channel\":\"email\"}", i);
        json_t *j = create("/v1/campaigns", adm, body);
        snprintf(ids[i], sizeof ids[i], "%s", sget(j, "id"));
        json_decref(j);
    }
    json_t *all = follow(adm, NULL, ids[2], cursor);
    size_t first = 0;
    while (strcmp(sget(json_array_get(all, first), "entity_id"), ids[0]))
        first++;
    ck_assert_msg(first > 0 && first + 3 == json_array_size(all), "the feed: %s", types_of(all));
    char prev[64], c0[64], c1[64];
    snprintf(prev, sizeof prev, "%s", sget(json_array_get(all, first - 1), "cursor"));
    snprintf(c0, sizeof c0, "%s", sget(json_array_get(all, first), "cursor"));
    snprintf(c1, sizeof c1, "%s", sget(json_array_get(all, first + 1), "cursor"));

    /* the changes up to the first campaign are two days old */
    const char *vals[2] = {ws, ids[0]};
    PGresult *res = PQexecParams(
        horizon_pg,
        "UPDATE changes SET changed_at = now() - interval '2 days' WHERE workspace_id = $1"
        " AND (xid, seq) <= (SELECT xid, seq FROM changes WHERE workspace_id = $1"
        " AND entity = 'campaign' AND entity_id = $2)",
        2, NULL, vals, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK &&
                      atol(PQcmdTuples(res)) == (long)first + 1,
                  "backdating: %s %s rows (expected %zu)", PQresultErrorMessage(res),
                  PQcmdTuples(res), first + 1);
    PQclear(res);
    ck_assert(daemon_start(&d, env));
    ck_assert_msg(wait_until(horizon_recorded, NULL, 30000),
                  "no horizon recorded for the workspace in 30 s; log %s", d.log);
    /* the horizon is the last change deleted: the first campaign's */
    char *h = pg_value_p(horizon_pg,
                         "SELECT to_hex(xid::text::bigint) || '.' || to_hex(seq) ||"
                         " (SELECT count(*) FROM changes WHERE workspace_id = $1)"
                         " FROM change_horizons WHERE workspace_id = $1",
                         ws);
    char want[80];
    snprintf(want, sizeof want, "%.*s2", (int)(tag_of(c0) - c0), c0);
    ck_assert_msg(!strcmp(h, want), "horizon and changes left: expected %s, got %s", want, h);
    free(h);

    struct daemon *both[2] = {&d, &main_daemon};
    for (int k = 0; k < 2; k++) {
        /* a cursor from before the horizon: gone */
        const char *old[2] = {before, prev};
        for (int i = 0; i < 2; i++) {
            snprintf(query, sizeof query, "after=%s", old[i]);
            struct resp *r = changes_on(both[k], adm, query);
            assert_problem(r, 410, "gone");
            ck_assert_msg(problem_names(r, "after"), "the 410 names after: %.1500s", r->body);
            resp_free(r);
        }
        /* from the horizon on: what is kept */
        snprintf(query, sizeof query, "after=%s", c0);
        json_t *kept = page_on(both[k], adm, query);
        ck_assert_msg(!strcmp(types_of(kept), "campaign.created,campaign.created") &&
                          !strcmp(sget(json_array_get(kept, 0), "entity_id"), ids[1]) &&
                          !strcmp(sget(json_array_get(kept, 1), "entity_id"), ids[2]),
                      "after the horizon: expected the two later campaigns, got %s",
                      types_of(kept));
        json_decref(kept);
        snprintf(query, sizeof query, "after=%s", c1);
        kept = page_on(both[k], adm, query);
        ck_assert_msg(json_array_size(kept) == 1 &&
                          !strcmp(sget(json_array_get(kept, 0), "entity_id"), ids[2]),
                      "after the second campaign: %s", types_of(kept));
        json_decref(kept);
        /* no cursor reads everything kept; after=now starts again */
        kept = page_on(both[k], adm, "");
        ck_assert_msg(json_array_size(kept) == 2 &&
                          !strcmp(sget(json_array_get(kept, 0), "entity_id"), ids[1]),
                      "without after: expected the two kept campaigns, got %s", types_of(kept));
        json_decref(kept);
        kept = page_on(both[k], adm, "after=now");
        ck_assert_int_eq(json_array_size(kept), 0);
        json_decref(kept);
    }
    char now[64];
    frontier(adm, now);
    json_t *j = create("/v1/campaigns", adm, "{\"name\":\"Again\",\"channel\":\"email\"}");
    json_t *again = follow(adm, now, sget(j, "id"), cursor);
    ck_assert_msg(json_array_size(again) == 1, "from after=now: %s", types_of(again));
    json_decref(again);
    json_decref(j);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
    json_decref(all);
    free(ws);
    PQfinish(horizon_pg);
}
END_TEST

static const char *cursor_endpoint;
static char delivery_sql[600];

static bool delivery_made(void *arg)
{
    (void)arg;
    return pg_long(horizon_pg, delivery_sql) == 1;
}

/* The endpoint's position in the feed is not before its workspace's horizon. */
static bool cursor_past_horizon(void *arg)
{
    (void)arg;
    char *v = pg_value_p(horizon_pg,
                         "SELECT (c.xid, c.seq) >= (h.xid, h.seq) FROM webhook_cursors c"
                         " JOIN change_horizons h USING (workspace_id) WHERE c.endpoint_id = $1",
                         cursor_endpoint);
    bool yes = !strcmp(v, "t");
    free(v);
    return yes;
}

START_TEST(a_webhook_endpoint_behind_the_horizon_goes_on_from_the_frontier)
{
    /* The webhook dispatcher reads the feed through changes_page; when an endpoint's
     * position has expired it goes on from the page's frontier, which must be the feed's
     * frontier then too (not zero, which is before the horizon again for ever). */
    char adm[64], url[128], body[300], hook[64], c2[64], cursor_was[128];
    const char *slug = unique("feed-hook");
    const char *env[] = {"LEADLOOP_CHANGES_RETENTION_DAYS=1", "LEADLOOP_CHANGES_PURGE_INTERVAL_S=1",
                         "LEADLOOP_WEBHOOK_SENDERS=1",        "LEADLOOP_WEBHOOK_ALLOW_PRIVATE=1",
                         "LEADLOOP_WEBHOOK_TIMEOUT_MS=100",   NULL};
    struct daemon d;
    ck_assert(workspace_key(slug, "admin", adm));
    horizon_pg = pg_test();
    char *ws = workspace_id(horizon_pg, slug);
    horizon_ws = ws;
    struct receiver *rc = receiver_start(NULL);
    receiver_url(rc, "/hook", url, sizeof url);
    ck_assert(daemon_start(&d, env));

    /* an endpoint, off, then changes that expire while it is off */
    snprintf(body, sizeof body,
             "{\"url\":\"%s\",\"types\":[\"campaign.created\"],\"active\":false}", url);
    struct resp *r =
        req(&d, "POST", "/v1/webhooks", adm,
            (const char *const[]){"Content-Type: application/json", NULL}, body, strlen(body));
    expect_status(r, 201, "POST /v1/webhooks");
    snprintf(hook, sizeof hook, "%s", jstr(r, "id"));
    receiver_set_secret(rc, jstr(r, "secret"));
    resp_free(r);
    cursor_endpoint = hook;
    json_t *j = create("/v1/campaigns", adm, "{\"name\":\"Expires\",\"channel\":\"email\"}");
    char cursor[64];
    json_decref(follow(adm, NULL, sget(j, "id"), cursor));
    json_decref(j);
    char sql[300];
    snprintf(sql, sizeof sql,
             "UPDATE changes SET changed_at = now() - interval '2 days' WHERE workspace_id = '%s'",
             ws);
    pg_ok(horizon_pg, sql);
    ck_assert_msg(wait_until(horizon_recorded, NULL, 30000), "no horizon in 30 s; log %s", d.log);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM changes WHERE workspace_id = '%s'", ws);
    ck_assert_int_eq(pg_long(horizon_pg, sql), 0);

    /* on again: the dispatcher finds its position expired and goes on from the frontier */
    snprintf(body, sizeof body, "/v1/webhooks/%s", hook);
    r = req(&d, "PATCH", body, adm,
            (const char *const[]){"Content-Type: application/merge-patch+json", NULL},
            "{\"active\":true}", strlen("{\"active\":true}"));
    expect_status(r, 200, "PATCH the webhook on");
    resp_free(r);
    if (!wait_until(cursor_past_horizon, NULL, 15000)) {
        char *v = pg_value_p(horizon_pg,
                             "SELECT c.xid || '.' || c.seq || ' (horizon ' || h.xid || '.' || h.seq"
                             " || ')' FROM webhook_cursors c JOIN change_horizons h"
                             " USING (workspace_id) WHERE c.endpoint_id = $1",
                             hook);
        snprintf(cursor_was, sizeof cursor_was, "%s", v);
        free(v);
        ck_abort_msg("the endpoint's position stays before the horizon: %s; log %s", cursor_was,
                     d.log);
    }
    /* and the next change gets a delivery to it (made by the dispatcher; when it is sent
     * depends on the deliveries other suites' endpoints have pending, so it is not waited
     * for) */
    r = req(&d, "POST", "/v1/campaigns", adm,
            (const char *const[]){"Content-Type: application/json", NULL},
            "{\"name\":\"Delivered\",\"channel\":\"email\"}",
            strlen("{\"name\":\"Delivered\",\"channel\":\"email\"}"));
    expect_status(r, 201, "a campaign after the endpoint is on again");
    snprintf(c2, sizeof c2, "%s", jstr(r, "id"));
    resp_free(r);
    snprintf(delivery_sql, sizeof delivery_sql,
             "SELECT count(*) FROM webhook_deliveries d JOIN changes c"
             " ON c.workspace_id = d.workspace_id AND c.xid = d.change_xid AND c.seq = d.change_seq"
             " WHERE d.endpoint_id = '%s' AND c.entity_id = '%s' AND d.type = 'campaign.created'",
             hook, c2);
    if (!wait_until(delivery_made, NULL, 15000)) {
        char diag[800];
        snprintf(diag, sizeof diag,
                 "SELECT 'position ' || c.xid || '.' || c.seq || ', the campaign at ' ||"
                 " coalesce((SELECT x.xid || '.' || x.seq FROM changes x WHERE x.entity_id ="
                 " '%s'), '(none)') FROM webhook_cursors c WHERE c.endpoint_id = '%s'",
                 c2, hook);
        char *v = pg_value(horizon_pg, diag);
        ck_abort_msg("no delivery of campaign %s made in 15 s: %s; log %s", c2, v, d.log);
    }
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
    receiver_stop(rc);
    free(ws);
    PQfinish(horizon_pg);
}
END_TEST

Suite *changes_suite(void)
{
    Suite *s = suite_create("changes");
    TCase *tc = tcase_create("changes");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, a_follower_sees_every_change_exactly_once_under_out_of_order_commits);
    tcase_add_test(tc, each_change_carries_its_entity_as_its_endpoint_shows_it_and_its_writer);
    tcase_add_test(tc, types_select_changes_and_api_key_changes_are_shown_to_admins_only);
    tcase_add_test(tc, after_now_starts_at_the_frontier);
    tcase_add_test(tc, limit_pages_with_has_more);
    tcase_add_test(tc, wait_answers_as_soon_as_a_change_is_written);
    tcase_add_test(tc, an_empty_wait_answers_after_its_time_at_the_frontier);
    tcase_add_test(tc, long_polls_hold_no_database_connection_and_all_answer);
    tcase_add_test(tc, a_write_that_changes_nothing_is_no_change);
    tcase_add_test(tc, bad_parameters_are_400_naming_them);
    tcase_add_test(tc, no_cursor_reads_another_workspace);
    tcase_add_test(tc, an_erased_lead_leaves_no_personal_value_in_the_feed);
    tcase_add_test(tc, expired_changes_answer_410_and_after_now_starts_again);
    tcase_add_test(tc, a_webhook_endpoint_behind_the_horizon_goes_on_from_the_frontier);
    suite_add_tcase(s, tc);
    return s;
}
