/* Reports against a from-scratch computation: a few thousand leads, touches, transitions
 * and feedback written through the API (then times spread over 400 days with SQL, which
 * the report triggers must follow), and every report, for several windows and each
 * attribution model, compared with the same figures computed here straight from the
 * leads, campaign_touches, lead_stage_changes and feedback tables, without report_leads
 * or report_days. LL_TEST_SEED picks the data (printed at the start). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suites.h"
#include "support.h"

#define LEADS     2000
#define CAMPAIGNS 8
#define BATCH     250 /* leads per batch: the test daemon takes bodies up to 64 KiB */

static char admin[64], sales[64];
static char ws_id[37];
static char campaigns[CAMPAIGNS][37];
static char leads[LEADS][37];
static char users[3][37];
static unsigned long long rng;

static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng >> 33) % n);
}

static struct resp *post_ok(const char *path, const char *key, const char *body, long want)
{
    struct resp *r = post(path, key, body);
    ck_assert_msg(r->status == want, "POST %s: %ld %.400s", path, r->status, r->body);
    return r;
}

/* ------------------------------------------------------------------ from scratch */

/* Per lead of the window ($1 workspace, $2 from, $3 to): the facts, from the base tables. */
#define SCRATCH                                                                                    \
    "WITH lw AS (SELECT id, created_at, source, owner_id, stage FROM leads WHERE"                  \
    " workspace_id = $1 AND (created_at AT TIME ZONE 'UTC')::date >= coalesce($2::date,"           \
    " '-infinity') AND (created_at AT TIME ZONE 'UTC')::date <= coalesce($3::date, 'infinity')),"  \
    " lf AS (SELECT lw.*, s.*, f.* FROM lw"                                                        \
    " LEFT JOIN LATERAL (SELECT min(changed_at) FILTER (WHERE to_stage = 'mql') AS mql_at,"        \
    " min(changed_at) FILTER (WHERE to_stage IN ('mql', 'sales_accepted', 'sales_qualified',"      \
    " 'opportunity', 'customer')) AS ho,"                                                          \
    " min(changed_at) FILTER (WHERE to_stage IN ('sales_accepted', 'sales_qualified',"             \
    " 'opportunity', 'customer')) AS acc,"                                                         \
    " min(changed_at) FILTER (WHERE to_stage IN ('sales_qualified', 'opportunity', 'customer'))"   \
    " AS qual, min(changed_at) FILTER (WHERE to_stage IN ('opportunity', 'customer')) AS opp,"     \
    " min(changed_at) FILTER (WHERE to_stage = 'customer') AS cust FROM lead_stage_changes"        \
    " WHERE workspace_id = $1 AND lead_id = lw.id) s ON true"                                      \
    " LEFT JOIN LATERAL (SELECT (SELECT kind FROM feedback WHERE workspace_id = $1 AND"            \
    " lead_id = lw.id AND kind IN ('accepted', 'rejected') ORDER BY occurred_at, created_at, id"   \
    " LIMIT 1) AS verdict, (SELECT reason FROM feedback WHERE workspace_id = $1 AND"               \
    " lead_id = lw.id AND kind IN ('accepted', 'rejected') ORDER BY occurred_at, created_at, id"   \
    " LIMIT 1) AS verdict_reason, min(occurred_at) AS first_fb,"                                   \
    " coalesce(bool_or(kind IN ('contacted', 'meeting_booked')), false) AS contacted,"             \
    " coalesce(bool_or(kind = 'won'), false) AS won,"                                              \
    " coalesce(sum(amount) FILTER (WHERE kind = 'won'), 0) AS won_amount,"                         \
    " coalesce(sum(rating), 0) AS rating_sum, count(rating) AS rating_count FROM feedback"         \
    " WHERE workspace_id = $1 AND lead_id = lw.id) f ON true),"                                    \
    " lf2 AS (SELECT lf.*, CASE WHEN ho IS NOT NULL AND first_fb IS NOT NULL THEN"                 \
    " greatest(0, floor(extract(epoch FROM first_fb - ho)))::bigint END AS follow_up FROM lf),"    \
    " tt AS (SELECT t.lead_id, t.campaign_id, t.occurred_at, t.id, l.ho, row_number() OVER"        \
    " (PARTITION BY t.lead_id ORDER BY t.occurred_at, t.id) AS rn FROM campaign_touches t"         \
    " JOIN lf2 l ON l.id = t.lead_id WHERE t.workspace_id = $1),"                                  \
    " cr AS (SELECT * FROM tt WHERE ho IS NULL OR occurred_at <= ho),"                             \
    " cr2 AS (SELECT * FROM cr UNION ALL SELECT * FROM tt WHERE rn = 1 AND lead_id NOT IN"         \
    " (SELECT lead_id FROM cr)),"                                                                  \
    " cr3 AS (SELECT *, count(*) OVER (PARTITION BY lead_id) AS n FROM cr2),"                      \
    " share AS (SELECT 0 AS model, id AS lead_id, source AS key, 1::numeric AS w FROM lf2"         \
    " UNION ALL SELECT 1, lead_id, campaign_id::text, 1 FROM tt WHERE rn = 1"                      \
    " UNION ALL SELECT 2, lead_id, campaign_id::text, 1 FROM (SELECT DISTINCT ON (lead_id) *"      \
    " FROM cr3 ORDER BY lead_id, occurred_at DESC, id DESC) x"                                     \
    " UNION ALL SELECT 3, lead_id, campaign_id::text, count(*)::numeric / min(n) FROM cr3"         \
    " GROUP BY lead_id, campaign_id"                                                               \
    " UNION ALL SELECT 4, id, owner_id::text, 1 FROM lf2)"

/* The campaigns ($4 = 1..3) or sources ($4 = 0) report's data. */
static const char scratch_figures[] = SCRATCH
    ", a0 AS (SELECT s.key, sum(s.w) AS leads,"
    " sum(s.w) FILTER (WHERE l.mql_at IS NOT NULL) AS mqls,"
    " sum(s.w) FILTER (WHERE l.ho IS NOT NULL) AS handed,"
    " sum(s.w) FILTER (WHERE l.verdict = 'accepted') AS accepted,"
    " sum(s.w) FILTER (WHERE l.verdict = 'rejected') AS rejected,"
    " sum(s.w) FILTER (WHERE l.contacted) AS contacted,"
    " sum(s.w) FILTER (WHERE l.opp IS NOT NULL) AS opportunities,"
    " sum(s.w) FILTER (WHERE l.won) AS won, sum(s.w * l.won_amount) AS won_amount,"
    " sum(s.w * l.rating_sum) AS rating_sum, sum(s.w * l.rating_count) AS rating_count"
    " FROM share s JOIN lf2 l ON l.id = s.lead_id WHERE s.model = $4::int GROUP BY s.key),"
    " fu AS (SELECT s.key, percentile_disc(0.5) WITHIN GROUP (ORDER BY l.follow_up) AS p50,"
    " percentile_disc(0.9) WITHIN GROUP (ORDER BY l.follow_up) AS p90 FROM share s"
    " JOIN lf2 l ON l.id = s.lead_id WHERE s.model = $4::int AND l.follow_up IS NOT NULL"
    " GROUP BY s.key),"
    " rr AS (SELECT key, json_object_agg(reason, n ORDER BY n DESC, reason) AS reasons"
    " FROM (SELECT s.key, l.verdict_reason AS reason, trim_scale(round(sum(s.w), 4)) AS n"
    " FROM share s JOIN lf2 l ON l.id = s.lead_id WHERE s.model = $4::int"
    " AND l.verdict = 'rejected' GROUP BY 1, 2) y GROUP BY key),"
    " k AS (SELECT c.id::text AS key, c.name AS ord, c.id::text AS ord2,"
    " jsonb_build_object('campaign_id', c.id, 'name', c.name, 'channel', c.channel,"
    " 'status', c.status) AS label,"
    " CASE WHEN c.starts_on IS NULL OR c.ends_on IS NULL OR ($2::date IS NULL AND"
    " $3::date IS NULL) THEN c.cost ELSE round(c.cost::numeric * greatest(0,"
    " least(c.ends_on, coalesce($3::date, 'infinity')) - greatest(c.starts_on,"
    " coalesce($2::date, '-infinity')) + 1) / (c.ends_on - c.starts_on + 1))::bigint END"
    " AS cost FROM campaigns c WHERE c.workspace_id = $1 AND $4::int > 0"
    " UNION ALL SELECT s, lpad(i::text, 3, '0'), '', jsonb_build_object('source', s), NULL"
    " FROM unnest(ARRAY['web', 'event', 'referral', 'paid', 'outbound', 'partner',"
    " 'import', 'other']) WITH ORDINALITY AS x (s, i) WHERE $4::int = 0)"
    " SELECT coalesce(jsonb_agg(k.label || jsonb_build_object("
    " 'leads', trim_scale(round(a.leads, 4)), 'mqls', trim_scale(round(a.mqls, 4)),"
    " 'handed_to_sales', trim_scale(round(a.handed, 4)),"
    " 'accepted', trim_scale(round(a.accepted, 4)),"
    " 'rejected', trim_scale(round(a.rejected, 4)),"
    " 'acceptance_rate', CASE WHEN a.accepted + a.rejected > 0 THEN"
    " trim_scale(round(a.accepted / (a.accepted + a.rejected), 4)) END,"
    " 'rejection_reasons', coalesce(rr.reasons, '{}'),"
    " 'avg_rating', CASE WHEN a.rating_count > 0 THEN"
    " trim_scale(round(a.rating_sum / a.rating_count, 2)) END,"
    " 'contacted', trim_scale(round(a.contacted, 4)),"
    " 'follow_up_p50_seconds', fu.p50, 'follow_up_p90_seconds', fu.p90,"
    " 'opportunities', trim_scale(round(a.opportunities, 4)),"
    " 'won', trim_scale(round(a.won, 4)), 'won_amount', round(a.won_amount)::bigint,"
    " 'cost', k.cost,"
    " 'cost_per_lead', CASE WHEN a.leads > 0 THEN round(k.cost / a.leads)::bigint END,"
    " 'cost_per_accepted_lead', CASE WHEN a.accepted > 0 THEN"
    " round(k.cost / a.accepted)::bigint END,"
    " 'cost_per_won', CASE WHEN a.won > 0 THEN round(k.cost / a.won)::bigint END,"
    " 'roi', CASE WHEN k.cost > 0 THEN trim_scale(round((round(a.won_amount) - k.cost)"
    " / k.cost, 4)) END) ORDER BY k.ord, k.ord2), '[]')::text"
    " FROM k LEFT JOIN LATERAL (SELECT coalesce(sum(leads), 0) AS leads,"
    " coalesce(sum(mqls), 0) AS mqls, coalesce(sum(handed), 0) AS handed,"
    " coalesce(sum(accepted), 0) AS accepted, coalesce(sum(rejected), 0) AS rejected,"
    " coalesce(sum(contacted), 0) AS contacted,"
    " coalesce(sum(opportunities), 0) AS opportunities, coalesce(sum(won), 0) AS won,"
    " coalesce(sum(won_amount), 0) AS won_amount, coalesce(sum(rating_sum), 0) AS rating_sum,"
    " coalesce(sum(rating_count), 0) AS rating_count FROM a0 WHERE a0.key = k.key) a ON true"
    " LEFT JOIN fu ON fu.key = k.key LEFT JOIN rr ON rr.key = k.key";

/* The rejections report's data: $4 the model of share (0 source, 1..3 campaign, 4 owner),
 * $5 the group's column name. */
static const char scratch_rejections[] = SCRATCH
    ", x AS (SELECT s.key, l.verdict_reason AS reason, sum(s.w) AS n FROM share s"
    " JOIN lf2 l ON l.id = s.lead_id WHERE s.model = $4::int AND l.verdict = 'rejected'"
    " GROUP BY 1, 2)"
    " SELECT coalesce(jsonb_agg(jsonb_build_object($5::text, x.key, 'reason', x.reason,"
    " 'label', fr.label, 'rejected', trim_scale(round(x.n, 4)),"
    " 'share', trim_scale(round(x.n / (SELECT sum(n) FROM x y WHERE y.key IS NOT DISTINCT FROM"
    " x.key), 4))) ORDER BY x.key NULLS LAST, x.n DESC, x.reason), '[]')::text FROM x"
    " LEFT JOIN feedback_reasons fr ON fr.workspace_id = $1 AND fr.code = x.reason";

/* The funnel's data: $4 the model of the campaign filter, $5 campaign id, $6 source. */
static const char scratch_funnel[] = SCRATCH
    ", f AS (SELECT * FROM lf2 l WHERE ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM share s"
    " WHERE s.model = $4::int AND s.lead_id = l.id AND s.key = $5::text))"
    " AND ($6::text IS NULL OR l.source = $6)),"
    " st (i, stage, at, prev_at) AS (VALUES"
    " (1, 'new', NULL::text, NULL::text), (2, 'mql', 'ho', 'created_at'),"
    " (3, 'sales_accepted', 'acc', 'ho'), (4, 'sales_qualified', 'qual', 'acc'),"
    " (5, 'opportunity', 'opp', 'qual'), (6, 'customer', 'cust', 'opp')),"
    " times AS (SELECT f.id, t.name, t.at FROM f, LATERAL (VALUES ('created_at', f.created_at),"
    " ('ho', f.ho), ('acc', f.acc), ('qual', f.qual), ('opp', f.opp), ('cust', f.cust))"
    " AS t (name, at)),"
    " per AS (SELECT st.i, st.stage, CASE WHEN st.at IS NULL THEN (SELECT count(*) FROM f)"
    " ELSE (SELECT count(*) FROM times WHERE name = st.at AND at IS NOT NULL) END AS n,"
    " (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM b.at - a.at))"
    " FROM times a JOIN times b ON b.id = a.id WHERE a.name = st.prev_at AND b.name = st.at"
    " AND a.at IS NOT NULL AND b.at IS NOT NULL) AS m FROM st)"
    " SELECT jsonb_agg(jsonb_build_object('stage', p.stage, 'leads', p.n,"
    " 'conversion_from_previous', CASE WHEN q.n > 0 THEN trim_scale(round(p.n::numeric / q.n,"
    " 4)) END, 'median_days_from_previous', trim_scale(round((p.m / 86400)::numeric, 2)))"
    " ORDER BY p.i)::text FROM per p LEFT JOIN per q ON q.i = p.i - 1";

/* The follow-up report's data. */
static const char scratch_follow_up[] = SCRATCH
    ", h AS (SELECT l.*, l.first_fb IS NULL AND l.stage IN ('mql', 'sales_accepted',"
    " 'sales_qualified', 'opportunity') AS waiting FROM lf2 l WHERE l.ho IS NOT NULL),"
    " o AS (SELECT owner_id, count(*) AS handed, count(follow_up) AS followed,"
    " count(*) FILTER (WHERE waiting) AS waiting,"
    " count(*) FILTER (WHERE waiting AND ho < now() - interval '24 hours') AS overdue,"
    " min(ho) FILTER (WHERE waiting) AS oldest,"
    " (SELECT h2.id FROM h h2 WHERE h2.waiting AND h2.owner_id IS NOT DISTINCT FROM"
    " h.owner_id ORDER BY h2.ho, h2.id LIMIT 1) AS oldest_id,"
    " percentile_disc(0.5) WITHIN GROUP (ORDER BY follow_up) AS p50,"
    " percentile_disc(0.9) WITHIN GROUP (ORDER BY follow_up) AS p90 FROM h GROUP BY owner_id)"
    " SELECT coalesce(jsonb_agg(jsonb_build_object('owner_id', owner_id,"
    " 'handed_to_sales', handed, 'followed_up', followed, 'waiting', waiting,"
    " 'overdue', overdue, 'oldest_waiting_since', to_char(oldest AT TIME ZONE 'UTC',"
    " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'oldest_waiting_lead_id', oldest_id,"
    " 'follow_up_p50_seconds', p50, 'follow_up_p90_seconds', p90)"
    " ORDER BY owner_id NULLS LAST), '[]')::text FROM o";

/* Runs one from-scratch statement and parses its JSON answer (new reference). */
static json_t *scratch(PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "from scratch: %s",
                  PQresultErrorMessage(res));
    json_error_t err;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &err);
    ck_assert_msg(j != NULL, "from scratch: %s", err.text);
    PQclear(res);
    return j;
}

static int compared;

static void lap(const char *what)
{
    static double t0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    if (t0 > 0)
        fprintf(stderr, "reports: %s %.2f s\n", what, t - t0);
    t0 = t;
}

/* GETs the report and checks its data against the from-scratch answer. */
static void check_report(const char *path, json_t *want)
{
    struct resp *r = get(path, admin);
    ck_assert_msg(r->status == 200, "GET %s: %ld %.400s", path, r->status, r->body);
    json_t *data = json_object_get(r->json, "data");
    if (!json_equal(data, want)) {
        char *w = json_dumps(want, JSON_COMPACT);
        char *g = json_dumps(data, JSON_COMPACT);
        /* the first differing row, to keep the failure readable */
        size_t i = 0;
        while (i < json_array_size(want) && i < json_array_size(data) &&
               json_equal(json_array_get(want, i), json_array_get(data, i)))
            i++;
        char *wr = json_dumps(json_array_get(want, i), JSON_COMPACT);
        char *gr = json_dumps(json_array_get(data, i), JSON_COMPACT);
        ck_abort_msg("GET %s differs from scratch at row %zu (of %zu, got %zu):\n want %s\n got  "
                     "%s",
                     path, i, json_array_size(want), json_array_size(data), wr ? wr : "-",
                     gr ? gr : "-");
        free(w), free(g), free(wr), free(gr);
    }
    compared++;
    resp_free(r);
    json_decref(want);
}

/* ------------------------------------------------------------------ the data */

static const char *const sources[] = {"web",      "event",   "referral", "paid",
                                      "outbound", "partner", "import",   "other"};
static const char *const touch_kinds[] = {"sent",       "opened",   "clicked", "responded",
                                          "registered", "attended", "visited"};
static const char *const reject_reasons[] = {"bad_fit", "no_budget", "no_need",
                                             "spam",    "duplicate", "not_reachable"};
static const char *const lost_reasons[] = {"no_budget", "competitor", "bad_timing"};

static void make_campaigns(void)
{
    for (int i = 0; i < CAMPAIGNS; i++) {
        char body[256];
        if (i % 2)
            snprintf(body, sizeof body,
                     "{\"name\":\"Random %d\",\"channel\":\"email\",\"cost\":%u,"
                     "\"currency\":\"USD\",\"starts_on\":\"%s\",\"ends_on\":\"%s\"}",
                     i, 1000 + rnd(900000), i == 1 ? "2025-10-01" : "2026-03-15",
                     i == 1 ? "2026-02-28" : "2026-12-31");
        else
            snprintf(body, sizeof body,
                     "{\"name\":\"Random %d\",\"channel\":\"webinar\",\"cost\":%u,"
                     "\"currency\":\"USD\"}",
                     i, i == 0 ? 0 : rnd(500000));
        struct resp *r = post_ok("/v1/campaigns", admin, body, 201);
        snprintf(campaigns[i], sizeof campaigns[i], "%s", jstr(r, "id"));
        resp_free(r);
    }
}

static void make_users(void)
{
    for (int i = 0; i < 3; i++) {
        char body[160];
        snprintf(
            body, sizeof body,
            "{\"name\":\"Seller %d\",\"email\":\"seller%d@random.example\",\"team\":\"sales\"}", i,
            i);
        struct resp *r = post_ok("/v1/users", admin, body, 201);
        snprintf(users[i], sizeof users[i], "%s", jstr(r, "id"));
        resp_free(r);
    }
}

static void make_leads(void)
{
    size_t cap = BATCH * 256 + 64;
    char *body = malloc(cap);
    ck_assert_ptr_nonnull(body);
    for (int b = 0; b < LEADS / BATCH; b++) {
        size_t len = (size_t)snprintf(body, cap, "{\"leads\":[");
        for (int i = 0; i < BATCH; i++) {
            int n = b * BATCH + i;
            len += (size_t)snprintf(body + len, cap - len,
                                    "%s{\"email\":\"r%d@random.example\","
                                    "\"source\":\"%s\"",
                                    i ? "," : "", n, sources[rnd(8)]);
            unsigned o = rnd(4);
            if (o < 3)
                len += (size_t)snprintf(body + len, cap - len, ",\"owner_id\":\"%s\"", users[o]);
            if (rnd(2))
                len += (size_t)snprintf(body + len, cap - len, ",\"campaign_id\":\"%s\"",
                                        campaigns[rnd(CAMPAIGNS)]);
            len += (size_t)snprintf(body + len, cap - len, "}");
        }
        snprintf(body + len, cap - len, "]}");
        struct resp *r = post_ok("/v1/leads/batch", admin, body, 200);
        json_t *results = json_object_get(r->json, "results");
        ck_assert_int_eq(json_array_size(results), BATCH);
        for (int i = 0; i < BATCH; i++) {
            json_t *item = json_array_get(results, (size_t)i);
            ck_assert_int_eq(json_integer_value(json_object_get(item, "status")), 201);
            snprintf(leads[b * BATCH + i], 37, "%s",
                     json_string_value(json_object_get(item, "id")));
        }
        resp_free(r);
    }
    free(body);
}

/* count touches on random leads of each campaign, at random times of the last 60 days */
static void make_touches(int count)
{
    size_t cap = 1000 * 160 + 64;
    char *body = malloc(cap), path[384];
    ck_assert_ptr_nonnull(body);
    for (int c = 0; c < CAMPAIGNS; c++) {
        size_t len = (size_t)snprintf(body, cap, "{\"touches\":[");
        for (int i = 0; i < count; i++) {
            time_t t = time(NULL) - 60 - (time_t)rnd(60 * 86400);
            char at[32];
            strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
            len += (size_t)snprintf(body + len, cap - len,
                                    "%s{\"lead_id\":\"%s\",\"kind\":\"%s\",\"occurred_at\":\"%s\"}",
                                    i ? "," : "", leads[rnd(LEADS)], touch_kinds[rnd(7)], at);
        }
        snprintf(body + len, cap - len, "]}");
        snprintf(path, sizeof path, "/v1/campaigns/%s/touches/batch", campaigns[c]);
        struct resp *r = post_ok(path, admin, body, 200);
        resp_free(r);
    }
    free(body);
}

static void transition(const char *lead, const char *to)
{
    char path[384], body[64];
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", lead);
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", to);
    resp_free(post_ok(path, admin, body, 201));
}

static void feedback(const char *lead, const char *body)
{
    char path[384];
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lead);
    resp_free(post_ok(path, sales, body, 201));
}

/* A verdict and what follows it, on lead i (in stage mql or new). */
static void sales_works(int i)
{
    char body[160];
    const char *l = leads[i];
    unsigned v = rnd(10);
    if (v < 4) {
        snprintf(body, sizeof body, "{\"kind\":\"rejected\",\"reason\":\"%s\",\"rating\":%u}",
                 reject_reasons[rnd(6)], 1 + rnd(3));
        feedback(l, body);
        return;
    }
    if (v < 5) /* contact before any verdict */
        feedback(l, "{\"kind\":\"contacted\"}");
    if (rnd(2))
        snprintf(body, sizeof body, "{\"kind\":\"accepted\",\"rating\":%u}", 2 + rnd(4));
    else
        snprintf(body, sizeof body, "{\"kind\":\"accepted\"}");
    feedback(l, body);
    unsigned next = rnd(10);
    if (next < 3)
        feedback(l, "{\"kind\":\"meeting_booked\"}");
    if (next < 2) {
        transition(l, "sales_qualified");
        transition(l, "opportunity");
    }
    if (next < 4) {
        snprintf(body, sizeof body, "{\"kind\":\"won\",\"amount\":%u,\"currency\":\"USD\"}",
                 1 + rnd(2000000));
        feedback(l, body);
    } else if (next < 6) {
        snprintf(body, sizeof body, "{\"kind\":\"lost\",\"reason\":\"%s\",\"rating\":%u}",
                 lost_reasons[rnd(3)], 1 + rnd(5));
        feedback(l, body);
    }
}

/* ------------------------------------------------------------------ the test */

static void compare_all(PGconn *pg, const char *from, const char *to)
{
    static const char *const models[] = {"first_touch", "last_touch", "linear"};
    char q[160], path[256], m[12];
    snprintf(q, sizeof q, "%s%s%s%s", from ? "&from=" : "", from ? from : "", to ? "&to=" : "",
             to ? to : "");
    const char *p[6] = {ws_id, from, to, m, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m, "%d", i + 1);
        snprintf(path, sizeof path, "/v1/reports/campaigns?attribution=%s%s", models[i], q);
        check_report(path, scratch(pg, scratch_figures, 4, p));
        p[4] = "campaign_id";
        snprintf(path, sizeof path, "/v1/reports/rejections?group_by=campaign&attribution=%s%s",
                 models[i], q);
        check_report(path, scratch(pg, scratch_rejections, 5, p));
    }
    snprintf(m, sizeof m, "0");
    snprintf(path, sizeof path, "/v1/reports/sources?%s", q + (*q ? 1 : 0));
    check_report(path, scratch(pg, scratch_figures, 4, p));
    p[4] = "source";
    snprintf(path, sizeof path, "/v1/reports/rejections?group_by=source%s", q);
    check_report(path, scratch(pg, scratch_rejections, 5, p));
    snprintf(m, sizeof m, "4");
    p[4] = "owner_id";
    snprintf(path, sizeof path, "/v1/reports/rejections?group_by=owner%s", q);
    check_report(path, scratch(pg, scratch_rejections, 5, p));

    /* the funnel: whole, for a campaign by each model, for a source */
    p[4] = NULL;
    p[5] = NULL;
    snprintf(m, sizeof m, "1");
    snprintf(path, sizeof path, "/v1/reports/funnel?%s", q + (*q ? 1 : 0));
    check_report(path, scratch(pg, scratch_funnel, 6, p));
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m, "%d", i + 1);
        p[4] = campaigns[3 + i];
        snprintf(path, sizeof path, "/v1/reports/funnel?attribution=%s&campaign_id=%s%s", models[i],
                 campaigns[3 + i], q);
        check_report(path, scratch(pg, scratch_funnel, 6, p));
    }
    p[4] = NULL;
    p[5] = "web";
    snprintf(path, sizeof path, "/v1/reports/funnel?source=web%s", q);
    check_report(path, scratch(pg, scratch_funnel, 6, p));
    snprintf(path, sizeof path, "/v1/reports/follow-up?%s", q + (*q ? 1 : 0));
    check_report(path, scratch(pg, scratch_follow_up, 3, p));
}

/* A date n days before today (UTC). */
static const char *days_ago(int n, char buf[11])
{
    time_t t = time(NULL) - (time_t)n * 86400;
    strftime(buf, 11, "%Y-%m-%d", gmtime(&t));
    return buf;
}

START_TEST(reports_equal_a_computation_from_scratch)
{
    const char *seed = getenv("LL_TEST_SEED");
    rng = seed ? strtoull(seed, NULL, 10) : (unsigned long long)time(NULL);
    fprintf(stderr, "reports: LL_TEST_SEED=%llu\n", rng);
    ck_assert(workspace_key("reports-r", "admin", admin));
    ck_assert(workspace_key("reports-r", "sales", sales));
    PGconn *pg = pg_test();
    char *id = pg_value(pg, "SELECT id FROM workspaces WHERE slug = 'reports-r'");
    snprintf(ws_id, sizeof ws_id, "%s", id);
    free(id);

    lap("start");
    make_users();
    make_campaigns();
    make_leads();
    make_touches(300);
    lap("leads and touches");
    /* hand a third over to sales; sales works most of them and a few new ones */
    for (int i = 0; i < LEADS; i += 3) {
        transition(leads[i], "mql");
        if (rnd(10) < 7)
            sales_works(i);
    }
    for (int i = 1; i < LEADS; i += 48) /* i % 3 == 1: still new */
        sales_works(i);
    lap("transitions and feedback");

    /* Spread the history over 400 days with SQL, as an operator's correction would: the
     * report triggers must follow updates as well. Creation first, then the hand-offs
     * hours to weeks later, then the feedback after them. */
    pg_ok(pg, "UPDATE leads SET created_at = created_at - (random() * 400) * interval '1 day'"
              " WHERE workspace_id = (SELECT id FROM workspaces WHERE slug = 'reports-r')");
    pg_ok(pg, "UPDATE lead_stage_changes s SET changed_at = l.created_at + CASE WHEN"
              " s.from_stage IS NULL THEN interval '0' ELSE (random() * 300) * interval '1 hour'"
              " END FROM leads l WHERE l.workspace_id = s.workspace_id AND l.id = s.lead_id"
              " AND l.workspace_id = (SELECT id FROM workspaces WHERE slug = 'reports-r')");
    pg_ok(pg, "UPDATE feedback f SET occurred_at = s.at + (random() * 72) * interval '1 hour'"
              " FROM (SELECT lead_id, max(changed_at) AS at FROM lead_stage_changes"
              " GROUP BY lead_id) s WHERE s.lead_id = f.lead_id"
              " AND f.workspace_id = (SELECT id FROM workspaces WHERE slug = 'reports-r')");
    lap("history spread with SQL");
    /* and more writes through the API after that */
    make_touches(100);
    for (int i = 2; i < LEADS; i += 39) { /* i % 3 == 2: still new */
        transition(leads[i], "mql");
        sales_works(i);
    }

    /* and an operator's writes in SQL: a lead, then in later statements of the same
     * transaction its touches, hand-off and feedback, which its insert trigger's refresh
     * had not seen */
    for (int i = 0; i < 5; i++) {
        char sql[2048];
        snprintf(sql, sizeof sql,
                 "BEGIN;"
                 " INSERT INTO leads (workspace_id, id, email, source, created_at) VALUES"
                 " ('%s', md5('sql-lead-%d')::uuid, 'sql%d@random.example', 'partner',"
                 " now() - interval '%d days');"
                 " INSERT INTO lead_stage_changes (workspace_id, lead_id, from_stage, to_stage,"
                 " changed_at) VALUES ('%s', md5('sql-lead-%d')::uuid, NULL, 'new',"
                 " now() - interval '%d days');"
                 " INSERT INTO campaign_touches (workspace_id, campaign_id, lead_id, kind,"
                 " occurred_at) VALUES ('%s', '%s', md5('sql-lead-%d')::uuid, 'created',"
                 " now() - interval '%d days');"
                 " UPDATE leads SET stage = 'mql' WHERE id = md5('sql-lead-%d')::uuid;"
                 " INSERT INTO lead_stage_changes (workspace_id, lead_id, from_stage, to_stage,"
                 " changed_at) VALUES ('%s', md5('sql-lead-%d')::uuid, 'new', 'mql',"
                 " now() - interval '%d days' + interval '5 hours');"
                 " INSERT INTO feedback (workspace_id, lead_id, kind, rating, author_key_id,"
                 " occurred_at, stage_before, stage_after) SELECT '%s', md5('sql-lead-%d')::uuid,"
                 " 'accepted', 4, id, now() - interval '%d days' + interval '9 hours', 'mql',"
                 " 'sales_accepted' FROM api_keys WHERE workspace_id = '%s' LIMIT 1;"
                 " COMMIT",
                 ws_id, i, i, 10 + i * 30, ws_id, i, 10 + i * 30, ws_id, campaigns[i % CAMPAIGNS],
                 i, 10 + i * 30, i, ws_id, i, 10 + i * 30, ws_id, i, 10 + i * 30, ws_id);
        pg_ok(pg, sql);
        snprintf(sql, sizeof sql,
                 "BEGIN;"
                 " INSERT INTO leads (workspace_id, id, email, source) VALUES"
                 " ('%s', md5('sql-only-%d')::uuid, 'sqlonly%d@random.example', 'event');"
                 " INSERT INTO campaign_touches (workspace_id, campaign_id, lead_id, kind,"
                 " occurred_at) VALUES ('%s', '%s', md5('sql-only-%d')::uuid, 'visited', now());"
                 " COMMIT",
                 ws_id, i, i, ws_id, campaigns[(i + 1) % CAMPAIGNS], i);
        pg_ok(pg, sql);
    }
    lap("more writes");
    char a[11], b[11], c[11], d[11];
    compare_all(pg, NULL, NULL);
    lap("one window compared");
    compare_all(pg, days_ago(90, a), days_ago(0, b));
    compare_all(pg, days_ago(300, a), days_ago(130, b));
    compare_all(pg, days_ago(200, a), days_ago(200, b));
    compare_all(pg, days_ago(45, c), NULL);
    compare_all(pg, NULL, days_ago(250, d));
    lap("all windows compared");
    fprintf(stderr, "reports: %d reports equal to the computation from scratch\n", compared);
    PQfinish(pg);
}
END_TEST

Suite *reports_random_suite(void)
{
    Suite *s = suite_create("reports_random");
    TCase *tc = tcase_create("random");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, reports_equal_a_computation_from_scratch);
    suite_add_tcase(s, tc);
    return s;
}
