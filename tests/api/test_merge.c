/* Merging leads (POST /v1/leads/{id}/merge) and the timeline's field edits:
 * - every answer of the merge (200, its replay and its retry, 308, 404, 409, 410, 412, 422)
 *   and what it moves; the 308 of every route of a merged lead; lists, email, external ids
 *   and touches after it; chains of merges; the erasure of a survivor reaching the leads
 *   merged into it;
 * - reports stay exact: leads with touches, feedback (accepted, rejected, won with
 *   amounts, lost) and stage history on both sides are merged (pairs, chains, a survivor
 *   merged in turn), and every report equals a computation from scratch, and the report
 *   tables equal a full rebuild;
 * - two merges that cross never deadlock; a touch sent while a merge holds the duplicate
 *   is refused, never left on the merged lead;
 * - the timeline shows field edits (old, new, by which key and user), no stage field,
 *   and merges. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scratch.h"
#include "suites.h"
#include "support.h"

static void expect_status(const struct resp *r, long status, const char *what)
{
    ck_assert_msg(r->status == status, "%s: expected %ld, got %ld: %s", what, status, r->status,
                  r->body);
}

static void expect_header(const struct resp *r, const char *name, const char *want)
{
    char *got = resp_header(r, name);
    ck_assert_msg(got && !strcmp(got, want), "header %s: expected %s, got %s", name, want,
                  got ? got : "(none)");
    free(got);
}

/* A token for this run, so that values never meet another run's or test's. */
static char token[24];

static void make_token(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(token, sizeof token, "m%lx%x", (unsigned long)ts.tv_sec, (unsigned)ts.tv_nsec);
}

/* POSTs body and expects want; copies the answer's id into id (when not NULL). */
static void post_expect(const char *path, const char *key, const char *body, long want, char *id)
{
    struct resp *r = post(path, key, body);
    ck_assert_msg(r->status == want, "POST %s %s: expected %ld, got %ld: %s", path, body, want,
                  r->status, r->body);
    if (id)
        snprintf(id, 37, "%s", jstr(r, "id"));
    resp_free(r);
}

/* Creates a lead with this body (new id into id). */
static void make_lead(const char *key, const char *body, char id[37])
{
    post_expect("/v1/leads", key, body, 201, id);
}

static struct resp *merge(const char *key, const char *survivor, const char *from,
                          const char *if_match, const char *idem_key)
{
    char path[128], body[96];
    snprintf(path, sizeof path, "/v1/leads/%s/merge", survivor);
    snprintf(body, sizeof body, "{\"from\":\"%s\"}", from);
    return send_json("POST", path, key, body, strlen(body), if_match, idem_key);
}

static void merge_ok(const char *key, const char *survivor, const char *from)
{
    struct resp *r = merge(key, survivor, from, NULL, NULL);
    ck_assert_msg(r->status == 200 && !strcmp(jstr(r, "id"), survivor), "merge %s into %s: %ld %s",
                  from, survivor, r->status, r->body);
    resp_free(r);
}

/* Asserts r is the 308 of a merged lead, pointing at location. */
static void expect_moved(const struct resp *r, const char *survivor, const char *location,
                         const char *what)
{
    ck_assert_msg(r->status == 308, "%s: expected 308, got %ld: %s", what, r->status, r->body);
    assert_problem(r, 308, "lead-merged");
    ck_assert_str_eq(jstr(r, "merged_into"), survivor);
    expect_header(r, "Location", location);
}

/* The number of entries of a list answer's data. */
static size_t count_of(const char *path, const char *key)
{
    struct resp *r = get(path, key);
    expect_status(r, 200, path);
    size_t n = json_array_size(json_object_get(r->json, "data"));
    resp_free(r);
    return n;
}

/* ------------------------------------------------------------------ the answers */

START_TEST(merge_moves_everything_and_answers_each_case_precisely)
{
    char admin[64], sales[64], ro[64];
    char s[37], d[37], e[37], f[37], g[37], campaign[37], again[37];
    char body[512], path[256], loc[256];
    make_token();
    ck_assert(workspace_key("merge-api", "admin", admin));
    ck_assert(workspace_key("merge-api", "sales", sales));
    ck_assert(workspace_key("merge-api", "readonly", ro));
    post_expect("/v1/campaigns", admin, "{\"name\":\"Merge webinar\",\"channel\":\"webinar\"}", 201,
                campaign);
    snprintf(body, sizeof body,
             "{\"email\":\"s.%s@merge.example\",\"first_name\":\"Sam\",\"campaign_id\":\"%s\","
             "\"external_ids\":{\"crm\":\"S-%s\"}}",
             token, campaign, token);
    make_lead(admin, body, s);
    snprintf(body, sizeof body,
             "{\"email\":\"d.%s@merge.example\",\"first_name\":\"Samuel\","
             "\"external_ids\":{\"hub\":\"D-%s\"}}",
             token, token);
    make_lead(admin, body, d);
    /* the duplicate's rows: two touches, two stage changes and two pieces of feedback */
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", campaign);
    snprintf(body, sizeof body,
             "{\"lead_id\":\"%s\",\"kind\":\"clicked\",\"occurred_at\":\"2020-01-02T00:00:00Z\"}",
             d);
    post_expect(path, admin, body, 201, NULL);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"attended\"}", d);
    post_expect(path, admin, body, 201, NULL);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", d);
    post_expect(path, admin, "{\"to\":\"mql\"}", 201, NULL);
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", d);
    post_expect(path, sales, "{\"kind\":\"contacted\",\"note\":\"called\"}", 201, NULL);
    post_expect(path, sales, "{\"kind\":\"accepted\",\"rating\":4}", 201, NULL);

    /* bad bodies: 422 naming the member */
    snprintf(path, sizeof path, "/v1/leads/%s/merge", s);
    char unknown[128];
    snprintf(unknown, sizeof unknown, "{\"from\":\"%s\",\"email\":\"x@y.example\"}", d);
    const char *bad[][2] = {{"{}", "from"},
                            {"{\"from\":\"nope\"}", "from"},
                            {"{\"from\":null}", "from"},
                            {unknown, "email"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, "%s", bad[i][0]);
        struct resp *r = post(path, admin, body);
        assert_problem(r, 422, "validation-failed");
        ck_assert_msg(problem_names(r, bad[i][1]), "%s: %s", body, r->body);
        resp_free(r);
    }
    struct resp *r = merge(admin, s, s, NULL, NULL);
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "from"));
    resp_free(r);
    r = merge(admin, s, "3b1e5c2a-9f0d-4c8e-a7b6-1d2e3f4a5b6c", NULL, NULL);
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "from"));
    resp_free(r);
    r = merge(admin, "3b1e5c2a-9f0d-4c8e-a7b6-1d2e3f4a5b6c", d, NULL, NULL);
    assert_problem(r, 404, "not-found");
    resp_free(r);
    r = merge(ro, s, d, NULL, NULL);
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = merge(admin, s, d, "\"999\"", NULL);
    assert_problem(r, 412, "precondition-failed");
    resp_free(r);

    /* both hold a crm id: 409 naming the system, nothing moves */
    snprintf(body, sizeof body,
             "{\"email\":\"e.%s@merge.example\",\"external_ids\":{\"crm\":\"E-%s\"}}", token,
             token);
    make_lead(admin, body, e);
    r = merge(admin, s, e, NULL, NULL);
    assert_problem(r, 409, "conflict");
    ck_assert_msg(problem_names(r, "external_ids.crm"), "%s", r->body);
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s", e);
    r = get(path, admin);
    expect_status(r, 200, "the lead of a refused merge");
    resp_free(r);

    /* the merge, with If-Match and an Idempotency-Key */
    snprintf(path, sizeof path, "/v1/leads/%s", s);
    r = get(path, admin);
    char *etag = resp_header(r, "ETag");
    resp_free(r);
    char idem[64];
    snprintf(idem, sizeof idem, "merge-%s", token);
    r = merge(admin, s, d, etag, idem);
    expect_status(r, 200, "merge");
    free(etag);
    ck_assert_str_eq(jstr(r, "id"), s);
    snprintf(loc, sizeof loc, "/v1/leads/%s", s);
    expect_header(r, "Location", loc);
    json_t *ext = json_object_get(r->json, "external_ids");
    ck_assert_msg(json_object_size(ext) == 2 && json_object_get(ext, "crm") &&
                      json_object_get(ext, "hub"),
                  "external ids: %s", r->body);
    ck_assert_msg(strstr(jstr(r, "email"), "s.") == jstr(r, "email"), "email: %s", r->body);
    ck_assert_str_eq(jstr(r, "first_name"), "Sam");
    ck_assert_str_eq(jstr(r, "stage"), "new"); /* the survivor's own */
    ck_assert_str_eq(jstr(r, "first_campaign_id"), campaign);
    char *merged_body = strdup(r->body);
    char *merged_etag = resp_header(r, "ETag");
    resp_free(r);
    /* the replay, and a retry without the key: the same lead, nothing changes */
    r = merge(admin, s, d, NULL, idem);
    expect_status(r, 200, "replay");
    expect_header(r, "Idempotent-Replayed", "true");
    ck_assert_str_eq(r->body, merged_body);
    resp_free(r);
    r = merge(admin, s, d, NULL, NULL);
    expect_status(r, 200, "retry");
    expect_header(r, "ETag", merged_etag);
    resp_free(r);
    free(merged_body);
    free(merged_etag);

    /* every route of the merged lead: 308 to the same route of the survivor */
    static const struct {
        const char *method, *suffix, *body;
        int key; /* 0 admin, 1 sales */
    } routes[] = {{"GET", "", NULL, 0},
                  {"PATCH", "", "{\"title\":\"x\"}", 0},
                  {"DELETE", "", NULL, 0},
                  {"GET", "/touches", NULL, 0},
                  {"GET", "/history", NULL, 0},
                  {"GET", "/timeline", NULL, 0},
                  {"GET", "/feedback", NULL, 0},
                  {"POST", "/feedback", "{\"kind\":\"contacted\"}", 1},
                  {"POST", "/transitions", "{\"to\":\"mql\"}", 0},
                  {"POST", "/merge", "{\"from\":\"3b1e5c2a-9f0d-4c8e-a7b6-1d2e3f4a5b6c\"}", 0}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        snprintf(path, sizeof path, "/v1/leads/%s%s", d, routes[i].suffix);
        snprintf(loc, sizeof loc, "/v1/leads/%s%s", s, routes[i].suffix);
        r = send_json(routes[i].method, path, routes[i].key ? sales : admin, routes[i].body,
                      routes[i].body ? strlen(routes[i].body) : 0, NULL, NULL);
        char what[300];
        snprintf(what, sizeof what, "%s %s", routes[i].method, path);
        expect_moved(r, s, loc, what);
        resp_free(r);
    }
    /* the id in capitals is the same lead */
    char upper[37];
    for (int i = 0; i < 37; i++)
        upper[i] = (char)(d[i] >= 'a' && d[i] <= 'f' ? d[i] - 'a' + 'A' : d[i]);
    snprintf(path, sizeof path, "/v1/leads/%s/history", upper);
    snprintf(loc, sizeof loc, "/v1/leads/%s/history", s);
    r = get(path, admin);
    expect_moved(r, s, loc, "GET with the id in capitals");
    resp_free(r);
    /* and the duplicate was left as it was by the refused writes above */
    PGconn *pg = pg_test();
    char *n = pg_value_p(pg,
                         "SELECT (SELECT count(*) FROM campaign_touches WHERE lead_id = $1::uuid) +"
                         " (SELECT count(*) FROM feedback WHERE lead_id = $1::uuid) +"
                         " (SELECT count(*) FROM lead_stage_changes WHERE lead_id = $1::uuid) +"
                         " (SELECT count(*) FROM lead_external_ids WHERE lead_id = $1::uuid)",
                         d);
    ck_assert_str_eq(n, "0");
    free(n);

    /* the survivor has the duplicate's rows */
    snprintf(path, sizeof path, "/v1/leads/%s/touches", s);
    ck_assert_uint_eq(count_of(path, admin), 3); /* its created touch and the two */
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", s);
    ck_assert_uint_eq(count_of(path, admin), 2);
    snprintf(path, sizeof path, "/v1/leads/%s/history", s);
    ck_assert_uint_eq(count_of(path, admin), 4); /* two creations, mql, sales_accepted */

    /* lists leave the merged lead out; its email is free; its external id is the survivor's */
    snprintf(path, sizeof path, "/v1/leads?q=d.%s", token);
    ck_assert_uint_eq(count_of(path, admin), 0);
    snprintf(path, sizeof path, "/v1/leads?q=samuel");
    r = get(path, admin);
    ck_assert_msg(!strstr(r->body, d), "the merged lead is listed: %s", r->body);
    resp_free(r);
    snprintf(body, sizeof body, "{\"email\":\"D.%s@merge.example\"}", token);
    make_lead(admin, body, again);
    ck_assert_str_ne(again, d);
    snprintf(path, sizeof path, "/v1/leads/by-external-id/hub/D-%s", token);
    r = put(path, admin, "{\"title\":\"Synced\"}", NULL);
    expect_status(r, 200, "upsert by the moved external id");
    ck_assert_str_eq(jstr(r, "id"), s);
    resp_free(r);

    /* a touch naming the merged lead: 422 naming lead_id */
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", campaign);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"opened\"}", d);
    r = post(path, admin, body);
    assert_problem(r, 422, "validation-failed");
    ck_assert_msg(problem_names(r, "lead_id") && strstr(r->body, s), "%s", r->body);
    resp_free(r);
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches/batch", campaign);
    snprintf(body, sizeof body, "{\"touches\":[{\"lead_id\":\"%s\",\"kind\":\"opened\"}]}", d);
    r = post(path, admin, body);
    expect_status(r, 200, "touch batch");
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "failed")), 1);
    resp_free(r);

    /* from merged into another lead: 409 with merged_into */
    snprintf(body, sizeof body, "{\"email\":\"f.%s@merge.example\"}", token);
    make_lead(admin, body, f);
    r = merge(admin, f, d, NULL, NULL);
    assert_problem(r, 409, "conflict");
    ck_assert(problem_names(r, "from"));
    ck_assert_str_eq(jstr(r, "merged_into"), s);
    resp_free(r);

    /* erased leads: 410 either way */
    snprintf(body, sizeof body, "{\"email\":\"g.%s@merge.example\"}", token);
    make_lead(admin, body, g);
    snprintf(path, sizeof path, "/v1/leads/%s", g);
    r = del(path, admin);
    expect_status(r, 204, "erase");
    resp_free(r);
    r = merge(admin, f, g, NULL, NULL);
    assert_problem(r, 410, "gone");
    ck_assert(problem_names(r, "from"));
    resp_free(r);
    r = merge(admin, g, f, NULL, NULL);
    assert_problem(r, 410, "gone");
    resp_free(r);

    /* the record of it: a lead.merged change, the duplicate's row, the merge's row */
    n = pg_value_p(pg,
                   "SELECT count(*) FROM changes WHERE type = 'lead.merged' AND entity_id = $1"
                   " AND doc ->> 'merged_into' = (SELECT merged_into::text FROM leads"
                   " WHERE id = $1::uuid) AND doc ->> 'email' IS NULL",
                   d);
    ck_assert_str_eq(n, "1");
    free(n);
    n = pg_value_p(pg,
                   "SELECT concat_ws(' ', m.lead_id, m.email, m.touches, m.feedback,"
                   " m.stage_changes, m.external_ids) FROM lead_merges m WHERE m.merged_id = $1",
                   d);
    char want[256];
    snprintf(want, sizeof want, "%s d.%s@merge.example 2 2 3 1", s, token);
    ck_assert_str_eq(n, want);
    free(n);
    PQfinish(pg);
}
END_TEST

/* ------------------------------------------------------------------ chains, erasure */

START_TEST(chains_redirect_in_one_step_and_erasure_reaches_merged_leads)
{
    char admin[64], a[37], b[37], c[37], body[256], path[160], loc[160];
    make_token();
    ck_assert(workspace_key("merge-chain", "admin", admin));
    snprintf(body, sizeof body, "{\"email\":\"a.%s@chain.example\",\"last_name\":\"Alpha%s\"}",
             token, token);
    make_lead(admin, body, a);
    snprintf(body, sizeof body, "{\"email\":\"b.%s@chain.example\",\"last_name\":\"Bravo%s\"}",
             token, token);
    make_lead(admin, body, b);
    snprintf(body, sizeof body, "{\"email\":\"c.%s@chain.example\",\"last_name\":\"Charlie%s\"}",
             token, token);
    make_lead(admin, body, c);
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", c);
    snprintf(body, sizeof body, "{\"kind\":\"contacted\",\"note\":\"Note%s\"}", token);
    post_expect(path, admin, body, 201, NULL);

    merge_ok(admin, b, c); /* c into b */
    merge_ok(admin, a, b); /* then b, with c, into a */
    snprintf(path, sizeof path, "/v1/leads/%s", c);
    snprintf(loc, sizeof loc, "/v1/leads/%s", a);
    struct resp *r = get(path, admin);
    expect_moved(r, a, loc, "a lead merged into a lead merged later");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", a);
    ck_assert_uint_eq(count_of(path, admin), 1);
    /* a's timeline names both merges, with the emails they had */
    snprintf(path, sizeof path, "/v1/leads/%s/timeline", a);
    r = get(path, admin);
    expect_status(r, 200, "timeline");
    int merges = 0;
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(r->json, "data"), i, entry)
    {
        if (strcmp(json_string_value(json_object_get(entry, "type")), "merge"))
            continue;
        json_t *m = json_object_get(entry, "merge");
        const char *id = json_string_value(json_object_get(m, "merged_id"));
        const char *email = json_string_value(json_object_get(m, "email"));
        ck_assert_str_eq(json_string_value(json_object_get(m, "lead_id")), a);
        ck_assert_msg(
            id && email &&
                ((!strcmp(id, b) && email[0] == 'b') || (!strcmp(id, c) && email[0] == 'c')),
            "merge entry: %s", r->body);
        merges++;
    }
    ck_assert_msg(merges == 2, "expected two merge entries: %s", r->body);
    resp_free(r);

    /* erasing the survivor erases the leads merged into it */
    snprintf(path, sizeof path, "/v1/leads/%s", a);
    r = del(path, admin);
    expect_status(r, 204, "erase the survivor");
    resp_free(r);
    r = get(path, admin);
    assert_problem(r, 410, "gone");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s", b);
    r = get(path, admin);
    expect_moved(r, a, loc, "a lead merged into an erased one");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/timeline", a);
    r = get(path, admin);
    ck_assert_msg(!strstr(r->body, token), "the erased timeline shows a value: %s", r->body);
    resp_free(r);
    size_t len;
    char *dump = pg_dump_test(&len);
    ck_assert_msg(!strstr(dump, token), "the database still holds a value of the erased leads: %s",
                  strstr(dump, token) - (strstr(dump, token) - dump > 200 ? 200 : 0));
    free(dump);
}
END_TEST

/* ------------------------------------------------------------------ concurrency */

struct crossing {
    char key[64], a[37], b[37];
    long status;
};

/* The threads retry a 503 (nothing was written; Retry-After), as a client would: each
 * pooled connection that an earlier suite's PostgreSQL restart left dead answers one, the
 * first time it is used (the pool has 8, LEADLOOP_DB_POOL's default). */
#define TRIES 10
static void *merge_thread(void *arg)
{
    struct crossing *x = arg;
    for (int try = 0; try < TRIES && (try == 0 || x->status == 503); try++) {
        struct resp *r = merge(x->key, x->a, x->b, NULL, NULL);
        x->status = r->status;
        resp_free(r);
    }
    return NULL;
}

struct touching {
    char key[64], campaign[37], lead[37];
    long status;
    char body[512];
};

static void *touch_thread(void *arg)
{
    struct touching *t = arg;
    char path[128], body[128];
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", t->campaign);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"clicked\"}", t->lead);
    for (int try = 0; try < TRIES && (try == 0 || t->status == 503); try++) {
        struct resp *r = post(path, t->key, body);
        t->status = r->status;
        snprintf(t->body, sizeof t->body, "%s", r->body);
        resp_free(r);
    }
    return NULL;
}

/* Sessions of the test database waiting for a lock: at least n of them. */
struct lock_waits {
    PGconn *pg;
    long n;
};

static bool waiting_for_locks(void *arg)
{
    struct lock_waits *w = arg;
    return pg_lock_waiters(w->pg, NULL) >= w->n;
}

START_TEST(crossing_merges_never_deadlock_and_a_racing_touch_is_refused)
{
    enum { PAIRS = 6 };
    static struct crossing x[2 * PAIRS];
    pthread_t t[2 * PAIRS];
    char admin[64], body[128], campaign[37];
    make_token();
    ck_assert(workspace_key("merge-race", "admin", admin));
    for (int p = 0; p < PAIRS; p++) {
        struct crossing *one = &x[2 * p], *two = &x[2 * p + 1];
        snprintf(one->key, sizeof one->key, "%s", admin);
        snprintf(two->key, sizeof two->key, "%s", admin);
        snprintf(body, sizeof body, "{\"email\":\"x%d.%s@race.example\"}", p, token);
        make_lead(admin, body, one->a);
        snprintf(body, sizeof body, "{\"email\":\"y%d.%s@race.example\"}", p, token);
        make_lead(admin, body, one->b);
        memcpy(two->a, one->b, sizeof two->a); /* the other way round */
        memcpy(two->b, one->a, sizeof two->b);
    }
    for (int i = 0; i < 2 * PAIRS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, merge_thread, &x[i]), 0);
    for (int i = 0; i < 2 * PAIRS; i++)
        pthread_join(t[i], NULL);
    for (int p = 0; p < PAIRS; p++) {
        long s1 = x[2 * p].status, s2 = x[2 * p + 1].status;
        /* one merged, the other found its survivor merged (308 to the winner's route) */
        ck_assert_msg((s1 == 200 && s2 == 308) || (s1 == 308 && s2 == 200),
                      "pair %d: the crossing merges answered %ld and %ld", p, s1, s2);
    }

    /* A touch of the duplicate while its merge waits for the survivor: the merge holds
     * the duplicate (locked first: its id is the lower), the touch waits for it, and
     * after the merge it must not land on the merged lead. */
    char lo[37], hi[37];
    snprintf(body, sizeof body, "{\"email\":\"lo.%s@race.example\"}", token);
    make_lead(admin, body, lo);
    snprintf(body, sizeof body, "{\"email\":\"hi.%s@race.example\"}", token);
    make_lead(admin, body, hi);
    if (strcmp(lo, hi) > 0) {
        char tmp[37];
        memcpy(tmp, lo, 37), memcpy(lo, hi, 37), memcpy(hi, tmp, 37);
    }
    post_expect("/v1/campaigns", admin, "{\"name\":\"Race\",\"channel\":\"email\"}", 201, campaign);
    PGconn *holder = pg_test(), *watch = pg_test();
    pg_ok(holder, "BEGIN");
    pg_lock_row(holder, "leads", hi);
    struct crossing m = {.status = 0};
    snprintf(m.key, sizeof m.key, "%s", admin);
    snprintf(m.a, sizeof m.a, "%s", hi); /* hi survives; lo, the duplicate, is locked first */
    snprintf(m.b, sizeof m.b, "%s", lo);
    struct touching tc = {.status = 0};
    snprintf(tc.key, sizeof tc.key, "%s", admin);
    snprintf(tc.campaign, sizeof tc.campaign, "%s", campaign);
    snprintf(tc.lead, sizeof tc.lead, "%s", lo);
    pthread_t tm, tt;
    ck_assert_int_eq(pthread_create(&tm, NULL, merge_thread, &m), 0);
    /* the merge waits for the survivor, holding the duplicate; then the touch waits too */
    struct lock_waits one = {watch, 1}, two = {watch, 2};
    bool waiting = wait_until(waiting_for_locks, &one, 10000);
    ck_assert_int_eq(pthread_create(&tt, NULL, touch_thread, &tc), 0);
    waiting = waiting && wait_until(waiting_for_locks, &two, 10000);
    pg_ok(holder, "COMMIT");
    pthread_join(tm, NULL);
    pthread_join(tt, NULL);
    ck_assert_msg(waiting, "the merge and the touch never waited for locks");
    ck_assert_msg(m.status == 200, "merge: %ld", m.status);
    ck_assert_msg(tc.status == 422 && strstr(tc.body, "lead_id"), "touch: %ld %s", tc.status,
                  tc.body);
    char *n =
        pg_value_p(watch, "SELECT count(*) FROM campaign_touches WHERE lead_id = $1::uuid", lo);
    ck_assert_str_eq(n, "0");
    free(n);
    PQfinish(holder);
    PQfinish(watch);
}
END_TEST

/* ------------------------------------------------------------------ the timeline */

START_TEST(timeline_shows_field_edits_with_old_new_and_who)
{
    char admin[64], lead[37], user[37], key_id[37], body[512], path[256];
    make_token();
    ck_assert(workspace_key("merge-timeline", "admin", admin));
    snprintf(body, sizeof body,
             "{\"name\":\"Tina %s\",\"email\":\"tina.%s@timeline.example\",\"team\":\"sales\"}",
             token, token);
    post_expect("/v1/users", admin, body, 201, user);
    snprintf(body, sizeof body, "{\"name\":\"Tina's key\",\"role\":\"sales\",\"user_id\":\"%s\"}",
             user);
    struct resp *r = post("/v1/api-keys", admin, body);
    expect_status(r, 201, "a key with a user");
    char tina[64];
    snprintf(tina, sizeof tina, "%s", jstr(r, "secret"));
    snprintf(key_id, sizeof key_id, "%s", jstr(r, "id"));
    ck_assert_msg(tina[0], "no secret: %s", r->body);
    resp_free(r);

    snprintf(body, sizeof body,
             "{\"email\":\"l.%s@timeline.example\",\"first_name\":\"Old%s\",\"custom\":{\"a\":1}}",
             token, token);
    make_lead(admin, body, lead);
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    snprintf(body, sizeof body, "{\"first_name\":\"New%s\",\"title\":\"CTO\",\"custom\":{\"b\":2}}",
             token);
    r = patch(path, tina, body, NULL);
    expect_status(r, 200, "patch by Tina's key");
    resp_free(r);
    r = patch(path, tina, "{\"title\":\"CTO\"}", NULL); /* changes nothing */
    expect_status(r, 200, "patch that changes nothing");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", lead);
    post_expect(path, admin, "{\"to\":\"mql\"}", 201, NULL);
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    r = patch(path, admin, "{\"score\":55}", NULL);
    expect_status(r, 200, "patch by the admin key");
    resp_free(r);

    /* walk the timeline a page of one at a time: the keyset holds across entry types */
    char url[512], types[512] = "";
    json_t *edits = json_array();
    snprintf(url, sizeof url, "/v1/leads/%s/timeline?limit=1&sort=at", lead);
    for (int pages = 0; pages < 20; pages++) {
        r = get(url, admin);
        expect_status(r, 200, url);
        json_t *entry = json_array_get(json_object_get(r->json, "data"), 0);
        ck_assert_ptr_nonnull(entry);
        const char *type = json_string_value(json_object_get(entry, "type"));
        strncat(types, type, sizeof types - strlen(types) - 2);
        strcat(types, " ");
        if (!strcmp(type, "field_edit"))
            json_array_append(edits, json_object_get(entry, "field_edit"));
        const char *next = json_string_value(json_object_get(r->json, "next_cursor"));
        if (!next) {
            resp_free(r);
            break;
        }
        snprintf(url, sizeof url, "/v1/leads/%s/timeline?limit=1&sort=at&cursor=%s", lead, next);
        resp_free(r);
    }
    ck_assert_str_eq(types, "stage_change field_edit stage_change field_edit ");
    ck_assert_uint_eq(json_array_size(edits), 2);

    /* the first edit: first_name, title, custom; by Tina's key and Tina */
    json_t *e1 = json_array_get(edits, 0), *c;
    json_t *by = json_object_get(e1, "changed_by");
    ck_assert_str_eq(json_string_value(json_object_get(by, "actor")), "api_key");
    ck_assert_str_eq(json_string_value(json_object_get(by, "api_key_id")), key_id);
    ck_assert_str_eq(json_string_value(json_object_get(by, "user_id")), user);
    json_t *changes = json_object_get(e1, "changes");
    ck_assert_uint_eq(json_array_size(changes), 3);
    char old_name[64], new_name[64];
    snprintf(old_name, sizeof old_name, "Old%s", token);
    snprintf(new_name, sizeof new_name, "New%s", token);
    size_t i;
    json_array_foreach(changes, i, c)
    {
        const char *field = json_string_value(json_object_get(c, "field"));
        json_t *o = json_object_get(c, "old"), *nw = json_object_get(c, "new");
        if (!strcmp(field, "first_name")) {
            ck_assert_str_eq(json_string_value(o), old_name);
            ck_assert_str_eq(json_string_value(nw), new_name);
        } else if (!strcmp(field, "title")) {
            ck_assert(json_is_null(o));
            ck_assert_str_eq(json_string_value(nw), "CTO");
        } else {
            ck_assert_str_eq(field, "custom");
            ck_assert_int_eq(json_integer_value(json_object_get(o, "a")), 1);
            ck_assert_ptr_null(json_object_get(o, "b"));
            ck_assert_int_eq(json_integer_value(json_object_get(nw, "b")), 2);
        }
    }
    /* the second: score alone (the stage and its bookkeeping have their own entries) */
    json_t *e2 = json_array_get(edits, 1);
    changes = json_object_get(e2, "changes");
    ck_assert_uint_eq(json_array_size(changes), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(changes, 0), "field")),
                     "score");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(changes, 0), "new")), 55);
    ck_assert(json_is_null(json_object_get(json_object_get(e2, "changed_by"), "user_id")));
    json_decref(edits);

    /* an erasure leaves the edits with their personal values redacted */
    r = del(path, admin);
    expect_status(r, 204, "erase");
    resp_free(r);
    snprintf(url, sizeof url, "/v1/leads/%s/timeline", lead);
    r = get(url, admin);
    expect_status(r, 200, "the erased lead's timeline");
    ck_assert_msg(!strstr(r->body, token), "a personal value survived: %s", r->body);
    ck_assert_msg(strstr(r->body, "\"redacted\":[\"custom\",\"first_name\",\"title\"]"),
                  "no redacted fields: %s", r->body);
    ck_assert_msg(strstr(r->body, "\"field\":\"score\""), "the score edit went: %s", r->body);
    resp_free(r);
}
END_TEST

/* ------------------------------------------------------------------ reports */

#define R_LEADS     60
#define R_CAMPAIGNS 4

static char r_admin[64], r_ws[37], r_campaigns[R_CAMPAIGNS][37], r_leads[R_LEADS][37];
static char r_users[2][37];
static unsigned long long rng;

static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng >> 33) % n);
}

static void r_feedback(int i, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%.36s/feedback", r_leads[i]);
    post_expect(path, r_admin, body, 201, NULL);
}

static void r_transition(int i, const char *to)
{
    char path[128], body[64];
    snprintf(path, sizeof path, "/v1/leads/%.36s/transitions", r_leads[i]);
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", to);
    post_expect(path, r_admin, body, 201, NULL);
}

/* What sales did with lead i: kind 0 nothing, 1 mql only, 2 accepted (rated), 3 rejected
 * (a reason, rated), 4 accepted then won (an amount), 5 contacted, accepted, lost. */
static void r_work(int i, int kind)
{
    static const char *const reasons[] = {"bad_fit", "no_budget", "no_need", "spam"};
    char body[160];
    if (kind == 0)
        return;
    r_transition(i, "mql");
    switch (kind) {
    case 2:
        snprintf(body, sizeof body, "{\"kind\":\"accepted\",\"rating\":%u}", 1 + rnd(5));
        r_feedback(i, body);
        break;
    case 3:
        snprintf(body, sizeof body, "{\"kind\":\"rejected\",\"reason\":\"%s\",\"rating\":%u}",
                 reasons[rnd(4)], 1 + rnd(3));
        r_feedback(i, body);
        break;
    case 4:
        r_feedback(i, "{\"kind\":\"accepted\"}");
        snprintf(body, sizeof body, "{\"kind\":\"won\",\"amount\":%u,\"currency\":\"USD\"}",
                 1000 + rnd(900000));
        r_feedback(i, body);
        break;
    case 5:
        r_feedback(i, "{\"kind\":\"contacted\",\"rating\":3}");
        r_feedback(i, "{\"kind\":\"accepted\"}");
        r_feedback(i, "{\"kind\":\"lost\",\"reason\":\"no_budget\"}");
        break;
    default:
        break;
    }
}

/* The report tables of the workspace as one text: every lead's facts, the day and month
 * sums per dimension and key (report_days and the deltas not yet folded, zero rows left
 * out), the week sums (report_weeks) and the rejection reasons the same way, and the
 * follow-up times. New string. */
static char *report_state(PGconn *pg)
{
    static const char sql[] =
        "WITH d AS (SELECT dim, month, day, key, leads, mqls, handed, accepted, rejected,"
        " contacted, opportunities, won, won_amount, rating_sum, rating_count, followed"
        " FROM report_days WHERE workspace_id = $1::uuid"
        " UNION ALL SELECT dim, m.month, CASE WHEN m.month THEN date_trunc('month',"
        " day::timestamp)::date ELSE day END, key, leads, mqls, handed, accepted, rejected,"
        " contacted, opportunities, won, won_amount, rating_sum, rating_count, followed"
        " FROM report_day_deltas CROSS JOIN (VALUES (false), (true)) m (month)"
        " WHERE workspace_id = $1::uuid),"
        " rr AS (SELECT dim, month, day, key, reason, rejected FROM report_reason_days"
        " WHERE workspace_id = $1::uuid UNION ALL SELECT dim, m.month, CASE WHEN m.month"
        " THEN date_trunc('month', day::timestamp)::date ELSE day END, key, reason, rejected"
        " FROM report_reason_deltas CROSS JOIN (VALUES (false), (true)) m (month)"
        " WHERE workspace_id = $1::uuid),"
        " wk AS (SELECT dim, week, key, leads, mqls, handed, accepted, rejected, contacted,"
        " opportunities, won, won_amount, rating_sum, rating_count, followed, lost_amount"
        " FROM report_weeks WHERE workspace_id = $1::uuid"
        " UNION ALL SELECT dim, date_trunc('week', day::timestamp)::date, key, leads, mqls,"
        " handed, accepted, rejected, contacted, opportunities, won, won_amount, rating_sum,"
        " rating_count, followed, lost_amount FROM report_day_deltas"
        " WHERE workspace_id = $1::uuid)"
        " SELECT coalesce(string_agg(x, E'\\n' ORDER BY x), '') FROM ("
        " SELECT 'lead ' || (to_jsonb(r) - 'workspace_id')::text AS x FROM report_leads r"
        " WHERE workspace_id = $1::uuid"
        " UNION ALL SELECT concat_ws(' ', 'sum', dim, month, day, key,"
        " trim_scale(sum(leads)), trim_scale(sum(mqls)), trim_scale(sum(handed)),"
        " trim_scale(sum(accepted)), trim_scale(sum(rejected)), trim_scale(sum(contacted)),"
        " trim_scale(sum(opportunities)), trim_scale(sum(won)), trim_scale(sum(won_amount)),"
        " trim_scale(sum(rating_sum)), trim_scale(sum(rating_count)), trim_scale(sum(followed)))"
        " FROM d GROUP BY dim, month, day, key HAVING sum(leads) <> 0 OR sum(mqls) <> 0"
        " OR sum(handed) <> 0 OR sum(accepted) <> 0 OR sum(rejected) <> 0"
        " OR sum(contacted) <> 0 OR sum(opportunities) <> 0 OR sum(won) <> 0"
        " OR sum(won_amount) <> 0 OR sum(rating_sum) <> 0 OR sum(rating_count) <> 0"
        " OR sum(followed) <> 0"
        " UNION ALL SELECT concat_ws(' ', 'week', dim, week, key, trim_scale(sum(leads)),"
        " trim_scale(sum(mqls)), trim_scale(sum(handed)), trim_scale(sum(accepted)),"
        " trim_scale(sum(rejected)), trim_scale(sum(contacted)),"
        " trim_scale(sum(opportunities)), trim_scale(sum(won)), trim_scale(sum(won_amount)),"
        " trim_scale(sum(rating_sum)), trim_scale(sum(rating_count)), trim_scale(sum(followed)),"
        " trim_scale(sum(lost_amount))) FROM wk GROUP BY dim, week, key"
        " HAVING sum(leads) <> 0 OR sum(mqls) <> 0 OR sum(handed) <> 0 OR sum(accepted) <> 0"
        " OR sum(rejected) <> 0 OR sum(contacted) <> 0 OR sum(opportunities) <> 0"
        " OR sum(won) <> 0 OR sum(won_amount) <> 0 OR sum(rating_sum) <> 0"
        " OR sum(rating_count) <> 0 OR sum(followed) <> 0 OR sum(lost_amount) <> 0"
        " UNION ALL SELECT concat_ws(' ', 'reason', dim, month, day, key, reason,"
        " trim_scale(sum(rejected))) FROM rr GROUP BY dim, month, day, key, reason"
        " HAVING sum(rejected) <> 0"
        " UNION ALL SELECT concat_ws(' ', 'follow-up', lead_id, dim, key, day, follow_up_s)"
        " FROM report_follow_ups WHERE workspace_id = $1::uuid) s";
    return pg_value_p(pg, sql, r_ws);
}

/* The first line where a and b differ, for a readable failure (into out). */
static void first_difference(const char *a, const char *b, char *out, size_t cap)
{
    for (;;) {
        size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
        if (na != nb || strncmp(a, b, na) || a[na] != b[nb] || !a[na])
            break;
        a += na + 1;
        b += nb + 1;
    }
    snprintf(out, cap, "kept: %.*s\nrebuilt: %.*s", (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"),
             b);
}

static const char *days_ago(int n, char buf[11])
{
    time_t t = time(NULL) - (time_t)n * 86400;
    strftime(buf, 11, "%Y-%m-%d", gmtime(&t));
    return buf;
}

START_TEST(reports_after_merges_equal_a_rebuild_and_a_computation_from_scratch)
{
    const char *seed = getenv("LL_TEST_SEED");
    char body[16384], path[160], sql[512];
    rng = seed ? strtoull(seed, NULL, 10) : (unsigned long long)time(NULL);
    fprintf(stderr, "merge reports: LL_TEST_SEED=%llu\n", rng);
    ck_assert(workspace_key("merge-reports", "admin", r_admin));
    PGconn *pg = pg_test();
    char *ws = pg_value(pg, "SELECT id FROM workspaces WHERE slug = 'merge-reports'");
    snprintf(r_ws, sizeof r_ws, "%s", ws);
    free(ws);
    for (int u = 0; u < 2; u++) {
        snprintf(body, sizeof body,
                 "{\"name\":\"Seller %d\",\"email\":\"seller%d@merge-reports.example\","
                 "\"team\":\"sales\"}",
                 u, u);
        post_expect("/v1/users", r_admin, body, 201, r_users[u]);
    }
    for (int c = 0; c < R_CAMPAIGNS; c++) {
        if (c % 2)
            snprintf(body, sizeof body,
                     "{\"name\":\"Merge %d\",\"channel\":\"email\",\"cost\":%u,"
                     "\"currency\":\"USD\",\"starts_on\":\"%s\",\"ends_on\":\"%s\"}",
                     c, 1000 + rnd(90000), "2025-01-01", "2027-12-31");
        else
            snprintf(body, sizeof body,
                     "{\"name\":\"Merge %d\",\"channel\":\"webinar\",\"cost\":%u}", c, rnd(50000));
        post_expect("/v1/campaigns", r_admin, body, 201, r_campaigns[c]);
    }
    /* the leads, a third of them created with a campaign */
    static const char *const sources[] = {"web", "event", "paid", "partner"};
    size_t len = (size_t)snprintf(body, sizeof body, "{\"leads\":[");
    for (int i = 0; i < R_LEADS; i++) {
        len += (size_t)snprintf(body + len, sizeof body - len,
                                "%s{\"email\":\"r%d@merge-reports.example\",\"source\":\"%s\"",
                                i ? "," : "", i, sources[rnd(4)]);
        if (rnd(3))
            len += (size_t)snprintf(body + len, sizeof body - len, ",\"owner_id\":\"%s\"",
                                    r_users[rnd(2)]);
        if (!rnd(3))
            len += (size_t)snprintf(body + len, sizeof body - len, ",\"campaign_id\":\"%s\"",
                                    r_campaigns[rnd(R_CAMPAIGNS)]);
        len += (size_t)snprintf(body + len, sizeof body - len, "}");
    }
    snprintf(body + len, sizeof body - len, "]}");
    struct resp *r = post("/v1/leads/batch", r_admin, body);
    expect_status(r, 200, "batch");
    for (int i = 0; i < R_LEADS; i++)
        snprintf(r_leads[i], 37, "%s",
                 json_string_value(json_object_get(
                     json_array_get(json_object_get(r->json, "results"), (size_t)i), "id")));
    resp_free(r);
    /* touches on random leads at random times of the last 30 days */
    for (int c = 0; c < R_CAMPAIGNS; c++) {
        len = (size_t)snprintf(body, sizeof body, "{\"touches\":[");
        for (int k = 0; k < 40; k++) {
            time_t t = time(NULL) - 60 - (time_t)rnd(30 * 86400);
            char at[32];
            strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
            len += (size_t)snprintf(
                body + len, sizeof body - len,
                "%s{\"lead_id\":\"%s\",\"kind\":\"clicked\",\"occurred_at\":\"%s\"}", k ? "," : "",
                r_leads[rnd(R_LEADS)], at);
        }
        snprintf(body + len, sizeof body - len, "]}");
        snprintf(path, sizeof path, "/v1/campaigns/%.36s/touches/batch", r_campaigns[c]);
        post_expect(path, r_admin, body, 200, NULL);
    }
    /* sales' work: the first pairs have each combination on the two sides, the rest a
     * random one */
    static const int pairs[][2] = {{4, 3}, {3, 4}, {0, 2}, {2, 0}, {4, 4}, {3, 3},
                                   {1, 5}, {5, 1}, {4, 2}, {2, 5}, {0, 4}, {5, 3}};
    const int npairs = (int)(sizeof pairs / sizeof pairs[0]);
    for (int i = 0; i < R_LEADS; i++)
        r_work(i, i / 2 < npairs ? pairs[i / 2][i % 2] : (int)rnd(6));

    /* the history spread over 100 days with SQL, hand-offs and feedback after creation
     * (by a hash of the id: Citus takes no VOLATILE function such as random() in an UPDATE) */
    snprintf(sql, sizeof sql,
             "UPDATE leads SET created_at = created_at - (abs(hashtext(id::text)) %% 10000)"
             " * interval '864 s'"
             " WHERE workspace_id = '%s'",
             r_ws);
    pg_ok(pg, sql);
    snprintf(sql, sizeof sql,
             "UPDATE lead_stage_changes s SET changed_at = l.created_at + CASE WHEN"
             " s.from_stage IS NULL THEN interval '0' ELSE (random() * 300) * interval '1 hour'"
             " END FROM leads l WHERE l.workspace_id = s.workspace_id AND l.id = s.lead_id"
             " AND l.workspace_id = '%s'",
             r_ws);
    pg_ok(pg, sql);
    snprintf(sql, sizeof sql,
             "UPDATE feedback f SET occurred_at = s.at + (random() * 72) * interval '1 hour'"
             " FROM (SELECT lead_id, max(changed_at) AS at FROM lead_stage_changes"
             " GROUP BY lead_id) s WHERE s.lead_id = f.lead_id AND f.workspace_id = '%s'",
             r_ws);
    pg_ok(pg, sql);

    /* the merges: pairs (2p+1 into 2p) of the first 40 leads; then chains: 2 into 0 (with
     * 3), and 6 into 4 and then 4 into 8 (a survivor merged in turn) */
    for (int p = 0; p < 20; p++)
        merge_ok(r_admin, r_leads[2 * p], r_leads[2 * p + 1]);
    merge_ok(r_admin, r_leads[0], r_leads[2]);
    merge_ok(r_admin, r_leads[4], r_leads[6]);
    merge_ok(r_admin, r_leads[8], r_leads[4]);
    /* and writes after them: a touch and feedback on survivors */
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", r_campaigns[1]);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"visited\"}", r_leads[8]);
    post_expect(path, r_admin, body, 201, NULL);
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", r_leads[10]);
    r = post(path, r_admin, "{\"kind\":\"meeting_booked\",\"rating\":5}");
    ck_assert_msg(r->status == 201 || r->status == 409, "feedback: %ld %s", r->status, r->body);
    resp_free(r);

    /* merged leads have no facts; every other lead has */
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM report_leads f JOIN leads l ON l.workspace_id ="
             " f.workspace_id AND l.id = f.lead_id WHERE l.merged_into IS NOT NULL"
             " AND l.workspace_id = '%s') || ' ' || (SELECT count(*) FROM report_leads"
             " WHERE workspace_id = '%s') || ' ' || (SELECT count(*) FROM leads"
             " WHERE workspace_id = '%s' AND merged_into IS NULL)",
             r_ws, r_ws, r_ws);
    char *counts = pg_value(pg, sql);
    ck_assert_str_eq(counts, "0 37 37");
    free(counts);

    /* the endpoints against the computation from scratch, for a few windows */
    char a[11], b[11];
    const struct scratch_ws w = {r_ws, r_admin, {r_campaigns[0], r_campaigns[1], r_campaigns[2]}};
    int compared = scratch_compare_all(pg, &w, NULL, NULL);
    compared += scratch_compare_all(pg, &w, days_ago(40, a), NULL);
    compared += scratch_compare_all(pg, &w, days_ago(90, a), days_ago(30, b));

    /* the tables against a full rebuild */
    char *kept = report_state(pg);
    snprintf(sql, sizeof sql, "SELECT ll_report_rebuild('%s')", r_ws);
    pg_ok(pg, sql);
    char *rebuilt = report_state(pg);
    if (strcmp(kept, rebuilt)) {
        char diff[2048];
        first_difference(kept, rebuilt, diff, sizeof diff);
        ck_abort_msg("the report tables differ from a rebuild:\n%s", diff);
    }
    ck_assert_msg(strlen(kept) > 1000, "the report tables hold little: %s", kept);
    fprintf(stderr,
            "merge reports: %d reports equal to the computation from scratch, tables equal to "
            "a rebuild\n",
            compared);
    free(kept);
    free(rebuilt);
    PQfinish(pg);
}
END_TEST

Suite *merge_suite(void)
{
    Suite *s = suite_create("merge");
    TCase *tc = tcase_create("merge");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, merge_moves_everything_and_answers_each_case_precisely);
    tcase_add_test(tc, chains_redirect_in_one_step_and_erasure_reaches_merged_leads);
    tcase_add_test(tc, crossing_merges_never_deadlock_and_a_racing_touch_is_refused);
    tcase_add_test(tc, timeline_shows_field_edits_with_old_new_and_who);
    tcase_add_test(tc, reports_after_merges_equal_a_rebuild_and_a_computation_from_scratch);
    suite_add_tcase(s, tc);
    return s;
}
