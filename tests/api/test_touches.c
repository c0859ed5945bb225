/* Touch batches (issue 14): POST /v1/campaigns/{id}/touches/batch records its valid items
 * in one statement. A batch of 500 touches over 50 leads must come to what the same 500
 * touches sent one by one to POST /v1/campaigns/{id}/touches come to: each item's answer,
 * each lead's first and latest campaign and times, the touch rows; and the kept report
 * figures must equal ll_report_rebuild's. The two runs are made in two workspaces set up
 * the same way (leads, earlier touches, a merged lead, an erased lead), and compared with
 * every id replaced by its name. */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "suites.h"
#include "support.h"

#define NLEADS 50
#define NITEMS 500
#define MERGED 48 /* merged into lead 47 */
#define ERASED 49

/* One workspace: its admin key, id, campaigns A and B, and leads. */
struct world {
    char key[64], ws[40], camp_a[40], camp_b[40], lead[NLEADS][40];
};

static void touch_ok(const struct world *w, int k, const char *at)
{
    char path[128], body[160];
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", w->camp_a);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"sent\",\"occurred_at\":\"%s\"}",
             w->lead[k], at);
    struct resp *r = post(path, w->key, body);
    expect_status(r, 201, "an earlier touch");
    resp_free(r);
}

static void world_setup(struct world *w, const char *tag)
{
    char slug[64], path[128], body[160];
    snprintf(slug, sizeof slug, "touches-%s-%d", tag, (int)getpid());
    ck_assert(workspace_key(slug, "admin", w->key));
    struct resp *r = get("/v1/workspace", w->key);
    expect_status(r, 200, "workspace");
    snprintf(w->ws, sizeof w->ws, "%s", jstr(r, "id"));
    resp_free(r);
    create("/v1/campaigns", w->key, "{\"name\":\"A\",\"channel\":\"webinar\"}", w->camp_a);
    create("/v1/campaigns", w->key, "{\"name\":\"B\",\"channel\":\"webinar\"}", w->camp_b);
    for (int k = 0; k < NLEADS; k++) {
        snprintf(body, sizeof body, "{\"email\":\"T%02d@Touches.example\"}", k);
        create("/v1/leads", w->key, body, w->lead[k]);
    }
    /* earlier touches of campaign A: half the leads have one, a fifth two */
    for (int k = 0; k < NLEADS / 2; k++)
        touch_ok(w, k, "2025-06-01T00:00:00Z");
    for (int k = 0; k < NLEADS / 5; k++)
        touch_ok(w, k, "2025-09-01T00:00:00Z");
    snprintf(path, sizeof path, "/v1/leads/%s/merge", w->lead[MERGED - 1]);
    snprintf(body, sizeof body, "{\"from\":\"%s\"}", w->lead[MERGED]);
    r = post(path, w->key, body);
    expect_status(r, 200, "merge");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s", w->lead[ERASED]);
    r = del(path, w->key);
    expect_status(r, 204, "erase");
    resp_free(r);
}

/* Item i of the batch as JSON, naming w's lead: by id or by email (in another case),
 * dated out of order across two years, with ties to the earlier touches (leads 15 to 19
 * are touched only after theirs, and once at its time, leads 20 to 24 only before, and
 * once at its time), some unknown emails, one time in the future and one item C refuses. */
static void item_json(const struct world *w, int i, char *out, size_t cap)
{
    static const char *const kinds[] = {"visited", "clicked", "opened"};
    int k = (i * 7) % NLEADS;
    char who[96], at[40];
    if (i % 97 == 13)
        snprintf(who, sizeof who, "\"email\":\"nobody%d@touches.example\"", i);
    else if (i % 4 < 2)
        snprintf(who, sizeof who, "\"lead_id\":\"%s\"", w->lead[k]);
    else
        snprintf(who, sizeof who, "\"email\":\"t%02d@touches.EXAMPLE\"", k);
    if (i == 250)
        snprintf(at, sizeof at, "2031-01-01T00:00:00Z");
    else if (i % 25 == 0 || (k >= 15 && k < 25 && i < 50))
        snprintf(at, sizeof at, "2025-06-01T00:00:00Z");
    else if (k >= 15 && k < 25) /* all after (or all before) the one earlier touch */
        snprintf(at, sizeof at, "%d-%02d-%02dT%02d:00:00Z", k < 20 ? 2025 : 2024, i % 6 + 7,
                 (i * 11) % 28 + 1, (i * 3) % 24);
    else if (i % 40 == 7)
        snprintf(at, sizeof at, "2025-09-01T02:00:00+02:00"); /* the instant of A's second */
    else
        snprintf(at, sizeof at, "%d-%02d-%02dT%02d:%02d:00Z", 2024 + (i * 13) % 2, (i * 5) % 12 + 1,
                 (i * 11) % 28 + 1, (i * 3) % 24, (i * 17) % 60);
    if (i == 300)
        snprintf(out, cap, "{\"kind\":\"opened\"}");
    else
        snprintf(out, cap, "{%s,\"kind\":\"%s\",\"occurred_at\":\"%s\"}", who, kinds[i % 3], at);
}

/* s with every id of w replaced by its name (L07, A, B, workspace), in place. */
static void name_ids(const struct world *w, char *s)
{
    char name[8];
    for (int k = -3; k < NLEADS; k++) {
        const char *id = k == -3 ? w->ws : k == -2 ? w->camp_a : k == -1 ? w->camp_b : w->lead[k];
        if (k == -3)
            snprintf(name, sizeof name, "WS");
        else if (k < 0)
            snprintf(name, sizeof name, "%s", k == -2 ? "A" : "B");
        else
            snprintf(name, sizeof name, "L%02d", k);
        for (char *p; (p = strstr(s, id));) {
            size_t n = strlen(name);
            memcpy(p, name, n);
            memmove(p + n, p + 36, strlen(p + 36) + 1);
        }
    }
}

/* An item's answer as text to compare: its status and problem (without request_id), ids
 * named. New string. */
static char *answer_text(const struct world *w, long status, json_t *problem)
{
    json_t *p = problem ? json_deep_copy(problem) : json_object();
    json_object_del(p, "request_id");
    json_object_set_new(p, "status", json_integer(status));
    char *s = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(p);
    ck_assert_ptr_nonnull(s);
    name_ids(w, s);
    return s;
}

/* One text of w's leads (in creation order: first and latest campaign by name and times)
 * and one of its touches, for comparing two workspaces. */
static char *leads_text(PGconn *pg, const struct world *w)
{
    char *s = pg_value_p(pg,
                         "SELECT string_agg(format('%s/%s/%s/%s/%s', coalesce(l.email, 'erased'),"
                         " f.name, l.first_touch_at AT TIME ZONE 'UTC', t.name,"
                         " l.latest_touch_at AT TIME ZONE 'UTC'), ' ' ORDER BY l.created_at, l.id)"
                         " FROM leads l LEFT JOIN campaigns f ON f.id = l.first_campaign_id"
                         " LEFT JOIN campaigns t ON t.id = l.latest_campaign_id"
                         " WHERE l.workspace_id = $1",
                         w->ws);
    return s;
}

static char *touches_text(PGconn *pg, const struct world *w)
{
    char *s = pg_value_p(pg,
                         "SELECT string_agg(format('%s/%s/%s/%s', l.k, c.name, t.kind,"
                         " t.occurred_at AT TIME ZONE 'UTC'), ' '"
                         " ORDER BY l.k, t.occurred_at, c.name, t.kind)"
                         " FROM campaign_touches t JOIN (SELECT id, row_number() OVER"
                         " (ORDER BY created_at, id) AS k FROM leads WHERE workspace_id = $1) l"
                         " ON l.id = t.lead_id JOIN campaigns c ON c.id = t.campaign_id"
                         " WHERE t.workspace_id = $1",
                         w->ws);
    return s;
}

/* Asserts two long texts are equal, naming where they part. */
static void expect_same(const char *what, const char *want, const char *got)
{
    size_t i = 0;
    while (want[i] && want[i] == got[i])
        i++;
    size_t from = i > 60 ? i - 60 : 0;
    ck_assert_msg(!want[i] && !got[i], "%s differ at %zu: wanted ...%.160s, got ...%.160s", what, i,
                  want + from, got + from);
}

/* The kept figures are those ll_report_rebuild computes from the rows (as in
 * test_timezone.c): the workspace's sums per dimension, day and key, before and after
 * (rolled back). */
static void expect_kept_figures_exact(PGconn *pg, const char *ws)
{
    static const char sums[] =
        "SELECT string_agg(format('%s/%s/%s:%s,%s', dim, day, key, leads, mqls), ' '"
        " ORDER BY dim, day, key) FROM (SELECT dim, day, key, sum(leads) leads, sum(mqls) mqls"
        " FROM (SELECT dim, day, key, leads, mqls FROM report_days WHERE workspace_id = $1"
        " AND NOT month UNION ALL SELECT dim, day, key, leads, mqls FROM report_day_deltas"
        " WHERE workspace_id = $1) x GROUP BY 1, 2, 3 HAVING sum(leads) <> 0 OR sum(mqls) <> 0) y";
    static const char facts[] =
        "SELECT string_agg(format('%s/%s/%s/%s', lead_id, ft_campaign, lt_campaign, credits),"
        " ' ' ORDER BY lead_id) FROM report_leads WHERE workspace_id = $1";
    char *kept = pg_value_p(pg, sums, ws), *kept_f = pg_value_p(pg, facts, ws);
    pg_ok(pg, "BEGIN");
    char *drop = pg_value_p(pg, "SELECT ll_report_rebuild($1::uuid)::text", ws);
    char *built = pg_value_p(pg, sums, ws), *built_f = pg_value_p(pg, facts, ws);
    pg_ok(pg, "ROLLBACK");
    expect_same("kept figures", kept, built);
    expect_same("kept facts", kept_f, built_f);
    free(kept), free(kept_f), free(drop), free(built), free(built_f);
}

static long lead_updates(PGconn *pg, const struct world *w)
{
    char *s = pg_value_p(pg,
                         "SELECT count(*) FROM audit_log WHERE workspace_id = $1"
                         " AND entity = 'lead' AND operation = 'update'",
                         w->ws);
    long n = atol(s);
    free(s);
    return n;
}

START_TEST(a_batch_comes_to_what_single_touches_come_to)
{
    static struct world batch, single;
    char item[256], path[128];
    char *body = malloc(NITEMS * 256 + 32);
    size_t len = 0;
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    ck_assert_ptr_nonnull(body);
    world_setup(&batch, "batch");
    world_setup(&single, "single");

    len += (size_t)sprintf(body, "{\"touches\":[");
    for (int i = 0; i < NITEMS; i++) {
        item_json(&batch, i, item, sizeof item);
        len += (size_t)sprintf(body + len, "%s%s", i ? "," : "", item);
    }
    sprintf(body + len, "]}");
    long updates_before = lead_updates(pg, &batch);
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches/batch", batch.camp_b);
    struct resp *rb = post(path, batch.key, body);
    expect_status(rb, 200, "the batch");
    json_t *results = json_object_get(rb->json, "results");
    ck_assert_int_eq(json_array_size(results), NITEMS);

    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", single.camp_b);
    int counts[600] = {0};
    long created = 0;
    for (int i = 0; i < NITEMS; i++) {
        json_t *res = json_array_get(results, (size_t)i);
        ck_assert_int_eq(json_integer_value(json_object_get(res, "index")), i);
        long status = json_integer_value(json_object_get(res, "status"));
        item_json(&single, i, item, sizeof item);
        struct resp *r = post(path, single.key, item);
        char *want = answer_text(&single, r->status, r->status == 201 ? NULL : r->json);
        char *got = answer_text(&batch, status, json_object_get(res, "problem"));
        ck_assert_msg(!strcmp(want, got), "item %d: one by one %s, in the batch %s", i, want, got);
        if (status == 201) {
            ck_assert_msg(strlen(jstr(r, "id")) == 36, "%s", r->body);
            ck_assert_ptr_nonnull(json_string_value(json_object_get(res, "id")));
            created++;
        }
        counts[status]++;
        free(want), free(got);
        resp_free(r);
    }
    ck_assert_int_eq(jint(rb, "created"), created);
    ck_assert_int_eq(jint(rb, "failed"), NITEMS - created);
    /* every kind of answer came up */
    ck_assert_int_gt(counts[201], 400);
    ck_assert_int_gt(counts[410], 0);
    ck_assert_int_gt(counts[422], 8);

    /* the ids answered are the touches recorded, each for its item's lead */
    char ids[NITEMS * 40] = "";
    size_t ilen = 0;
    for (int i = 0; i < NITEMS; i++) {
        const char *id =
            json_string_value(json_object_get(json_array_get(results, (size_t)i), "id"));
        if (id)
            ilen += (size_t)snprintf(ids + ilen, sizeof ids - ilen, "%s%s", ilen ? "," : "", id);
    }
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM campaign_touches WHERE workspace_id = '%s' AND id = ANY"
             " (string_to_array($1, ',')::uuid[]) AND campaign_id = '%s'",
             batch.ws, batch.camp_b);
    char *n = pg_value_p(pg, sql, ids);
    ck_assert_int_eq(atol(n), created);
    free(n);

    /* the leads and touches are as one by one, and each lead's times are its touches' */
    char *lb = leads_text(pg, &batch), *ls = leads_text(pg, &single);
    expect_same("leads", ls, lb);
    char *tb = touches_text(pg, &batch), *ts = touches_text(pg, &single);
    expect_same("touches", ts, tb);
    free(lb), free(ls), free(tb), free(ts);
    n = pg_value_p(pg,
                   "SELECT count(*) FROM leads l, LATERAL (SELECT min(occurred_at) AS lo,"
                   " max(occurred_at) AS hi FROM campaign_touches t WHERE t.workspace_id ="
                   " l.workspace_id AND t.lead_id = l.id) t WHERE l.workspace_id = $1"
                   " AND l.merged_into IS NULL"
                   " AND (l.first_touch_at, l.latest_touch_at) IS DISTINCT FROM (t.lo, t.hi)",
                   batch.ws);
    ck_assert_str_eq(n, "0");
    free(n);
    /* the batch wrote each lead once, and the feed has each touch */
    ck_assert_int_le(lead_updates(pg, &batch) - updates_before, NLEADS - 2);
    n = pg_value_p(pg,
                   "SELECT count(*) FROM changes WHERE workspace_id = $1 AND type = 'touch.created'"
                   " AND (doc ->> 'kind') <> 'sent'",
                   batch.ws);
    ck_assert_int_eq(atol(n), created);
    free(n);
    expect_kept_figures_exact(pg, batch.ws);
    expect_kept_figures_exact(pg, single.ws);
    resp_free(rb);

    /* an offset PostgreSQL refuses fails its item alone (the batch goes one by one) */
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches/batch", batch.camp_a);
    snprintf(body, NITEMS * 256,
             "{\"touches\":[{\"lead_id\":\"%s\",\"kind\":\"opened\",\"occurred_at\":"
             "\"2023-01-01T00:00:00Z\"},{\"lead_id\":\"%s\",\"kind\":\"opened\",\"occurred_at\":"
             "\"2023-01-01T00:00:00+16:00\"},{\"email\":\"t01@touches.example\",\"kind\":"
             "\"opened\",\"occurred_at\":\"2023-01-02T00:00:00Z\"}]}",
             batch.lead[0], batch.lead[1]);
    rb = post(path, batch.key, body);
    expect_status(rb, 200, "a batch with a bad offset");
    results = json_object_get(rb->json, "results");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(results, 0), "status")),
                     201);
    json_t *bad = json_array_get(results, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(bad, "status")), 422);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(bad, "problem"), "errors"), 0),
            "field")),
        "occurred_at");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(results, 2), "status")),
                     201);
    resp_free(rb);
    n = pg_value_p(pg,
                   "SELECT string_agg(format('%s:%s', c.name, l.first_touch_at AT TIME ZONE 'UTC'),"
                   " ' ' ORDER BY l.created_at) FROM leads l JOIN campaigns c"
                   " ON c.id = l.first_campaign_id WHERE l.workspace_id = $1 AND l.email IN"
                   " ('T00@Touches.example', 'T01@Touches.example')",
                   batch.ws);
    ck_assert_str_eq(n, "A:2023-01-01 00:00:00 A:2023-01-02 00:00:00");
    free(n);
    expect_kept_figures_exact(pg, batch.ws);
    PQfinish(pg);
    free(body);
}
END_TEST

Suite *touches_suite(void)
{
    Suite *s = suite_create("touches");
    TCase *tc = tcase_create("touches");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, a_batch_comes_to_what_single_touches_come_to);
    suite_add_tcase(s, tc);
    return s;
}
