/* Reports against a from-scratch computation: a few thousand leads, touches, transitions
 * and feedback written through the API (returning customers' next deals, lost deals with
 * amounts, corrections of won and lost amounts and leads rated more than once among them;
 * and interactions logged by sales tools, some sent again with other values;
 * then times spread over 400 days with SQL, which
 * the report triggers must follow), and every report, for several windows and each
 * attribution model, compared with the same figures computed straight from the
 * leads, campaign_touches, lead_stage_changes and feedback tables, without report_leads
 * or report_days. LL_TEST_SEED picks the data (printed at the start). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scratch.h"
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

/* Gives feedback; its id into id (37 bytes) when id is not NULL. */
static void feedback_id(const char *lead, const char *body, char *id)
{
    char path[384];
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lead);
    struct resp *r = post_ok(path, sales, body, 201);
    if (id)
        snprintf(id, 37, "%s", jstr(r, "id"));
    resp_free(r);
}

static void feedback(const char *lead, const char *body)
{
    feedback_id(lead, body, NULL);
}

/* A deal's end on lead l (in an accepted stage): won or lost, a lost one with an amount
 * half the time, and then, now and then, one or two corrections of its amount (0
 * included). */
static void deal_ends(const char *l, bool won)
{
    char body[200], id[37];
    if (won)
        snprintf(body, sizeof body, "{\"kind\":\"won\",\"amount\":%u,\"currency\":\"USD\"}",
                 1 + rnd(2000000));
    else if (rnd(2))
        snprintf(body, sizeof body,
                 "{\"kind\":\"lost\",\"reason\":\"%s\",\"rating\":%u,\"amount\":%u,"
                 "\"currency\":\"USD\"}",
                 lost_reasons[rnd(3)], 1 + rnd(5), rnd(900000));
    else
        snprintf(body, sizeof body, "{\"kind\":\"lost\",\"reason\":\"%s\",\"rating\":%u}",
                 lost_reasons[rnd(3)], 1 + rnd(5));
    feedback_id(l, body, id);
    for (unsigned n = rnd(6) < 2 ? 1 + rnd(2) : 0; n > 0; n--) {
        snprintf(body, sizeof body,
                 "{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":%u,"
                 "\"currency\":\"USD\"}",
                 id, rnd(5) ? rnd(1500000) : 0);
        feedback(l, body);
    }
}

/* A verdict and what follows it, on lead i (in stage mql or new). */
static void sales_works(int i)
{
    char body[160];
    const char *l = leads[i];
    unsigned v = rnd(10);
    if (v < 4) {
        unsigned why = rnd(6);
        snprintf(body, sizeof body, "{\"kind\":\"rejected\",\"reason\":\"%s\",\"rating\":%u}",
                 reject_reasons[why], 1 + rnd(3));
        feedback(l, body);
        /* now and then a disqualified lead comes back (to marketing, then to sales, whose
         * new verdict is no first verdict) */
        if ((why == 0 || why == 3 || why == 4) && rnd(4) == 0) {
            transition(l, "recycled");
            transition(l, "mql");
            feedback(l, "{\"kind\":\"accepted\",\"rating\":5}");
            if (rnd(2))
                deal_ends(l, rnd(2));
        }
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
        deal_ends(l, true);
        /* a returning customer: its next deals, each won or lost (it stays a customer),
         * sometimes rated again */
        for (unsigned d = rnd(3) == 0 ? 1 + rnd(2) : 0; d > 0; d--) {
            transition(l, "opportunity");
            if (rnd(3) == 0)
                feedback(l, "{\"kind\":\"meeting_booked\",\"rating\":4}");
            deal_ends(l, rnd(2));
        }
    } else if (next < 6) {
        deal_ends(l, false);
    }
}

static const char *const ia_kinds[] = {"call",    "email", "meeting", "note",
                                       "message", "form",  "ticket"};
static const char *const ia_outcomes[] = {"connected",    "no_answer", "left_message", "busy",
                                          "wrong_number", "sent",      "replied",      "bounced",
                                          "scheduled",    "held",      "no_show",      "cancelled",
                                          "opened",       "resolved",  "other"};
static int ia_logged;      /* external ids i0 .. i<ia_logged - 1> */
static int ia_lead[LEADS]; /* the lead of each (an index of leads) */

/* Interactions with random kinds, directions and outcomes on random leads, at random
 * times of the last 30 days, in batches, half of them with an external id; with resend,
 * the items are earlier ones again (same external id and lead; another kind, time,
 * outcome, direction: updated in place). */
static void make_interactions(int count, bool resend)
{
    size_t cap = 200 * 260 + 64;
    char *body = malloc(cap);
    ck_assert_ptr_nonnull(body);
    for (int done = 0; done < count;) {
        size_t len = (size_t)snprintf(body, cap, "{\"items\":[");
        int n = count - done < 200 ? count - done : 200;
        for (int i = 0; i < n; i++) {
            time_t t = time(NULL) - 60 - (time_t)rnd(30 * 86400);
            char at[32];
            const char *kind = ia_kinds[rnd(7)];
            bool directed = !strcmp(kind, "call") || !strcmp(kind, "email") ||
                            !strcmp(kind, "meeting") || !strcmp(kind, "message");
            unsigned d = rnd(3);
            int ext = -1, lead = (int)rnd(LEADS);
            if (resend) {
                ext = (int)rnd((unsigned)ia_logged);
                lead = ia_lead[ext];
            } else if (rnd(2) && ia_logged < LEADS) {
                ext = ia_logged++;
                ia_lead[ext] = lead;
            }
            strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
            len += (size_t)snprintf(body + len, cap - len,
                                    "%s{\"lead_id\":\"%s\",\"kind\":\"%s\",\"occurred_at\":\"%s\"",
                                    i ? "," : "", leads[lead], kind, at);
            if (directed || d < 2)
                len += (size_t)snprintf(body + len, cap - len, ",\"direction\":\"%s\"",
                                        d == 0 ? "inbound" : "outbound");
            if (rnd(3))
                len += (size_t)snprintf(body + len, cap - len, ",\"outcome\":\"%s\"",
                                        ia_outcomes[rnd(15)]);
            if (ext >= 0)
                len += (size_t)snprintf(body + len, cap - len,
                                        ",\"source\":\"rnd\",\"external_id\":\"i%d\"", ext);
            len += (size_t)snprintf(body + len, cap - len, "}");
        }
        snprintf(body + len, cap - len, "]}");
        struct resp *r = post_ok("/v1/interactions/batch", sales, body, 200);
        ck_assert_msg(json_integer_value(json_object_get(r->json, "failed")) == 0,
                      "interactions: %.600s", r->body);
        resp_free(r);
        done += n;
    }
    free(body);
}

/* ------------------------------------------------------------------ the test */

/* A date n days before today (UTC). */
static const char *days_ago(int n, char buf[11])
{
    time_t t = time(NULL) - (time_t)n * 86400;
    strftime(buf, 11, "%Y-%m-%d", gmtime(&t));
    return buf;
}

static void set_time_zone(const char *zone)
{
    char body[96];
    snprintf(body, sizeof body, "{\"time_zone\":\"%s\"}", zone);
    struct resp *r = patch("/v1/workspace", admin, body, NULL);
    ck_assert_msg(r->status == 200, "time zone %s: %ld %s", zone, r->status, r->body);
    resp_free(r);
    fprintf(stderr, "reports: time zone %s\n", zone);
}

/* The funnel's kept counts (report_funnel_days' day rows with the deltas, and its month
 * rows) and the follow-up times per owner are what ll_report_rebuild makes of the rows
 * (rolled back). */
static void expect_funnel_kept_exact(PGconn *pg)
{
    static const char sums[] =
        "SELECT string_agg(format('%s/%s/%s/%s/%s:%s', dim, key, source, month, day, v), ' '"
        " ORDER BY dim, key, source, month, day) FROM (SELECT dim, key, source, month, day,"
        " concat_ws(',', sum(leads), sum(handed), sum(accepted), sum(qualified),"
        " sum(opportunity), sum(customer), sum(followed), sum(waiting)) AS v FROM ("
        " SELECT dim, key, source, month, day, leads, handed, accepted, qualified, opportunity,"
        " customer, followed, waiting FROM report_funnel_days WHERE workspace_id = $1"
        " UNION ALL SELECT dim, key, source, m.month, CASE WHEN m.month THEN"
        " date_trunc('month', day::timestamp)::date ELSE day END, leads, handed, accepted,"
        " qualified, opportunity, customer, followed, waiting FROM report_funnel_deltas"
        " CROSS JOIN (VALUES (false), (true)) m (month) WHERE workspace_id = $1) x"
        " GROUP BY 1, 2, 3, 4, 5 HAVING (sum(leads), sum(handed), sum(followed), sum(waiting))"
        " <> (0, 0, 0, 0)) y";
    static const char follow[] = "SELECT string_agg(format('%s/%s/%s/%s', lead_id, key, day,"
                                 " follow_up_s), ' ' ORDER BY lead_id, key) FROM"
                                 " report_follow_ups WHERE workspace_id = $1 AND dim = 4";
    char *kept = pg_value_p(pg, sums, ws_id), *kept_f = pg_value_p(pg, follow, ws_id);
    ck_assert_msg(kept && *kept && kept_f && *kept_f, "no kept funnel figures");
    pg_ok(pg, "BEGIN");
    free(pg_value_p(pg, "SELECT ll_report_rebuild($1::uuid)::text", ws_id));
    char *built = pg_value_p(pg, sums, ws_id), *built_f = pg_value_p(pg, follow, ws_id);
    pg_ok(pg, "ROLLBACK");
    ck_assert_str_eq(kept, built);
    ck_assert_str_eq(kept_f, built_f);
    free(kept), free(kept_f), free(built), free(built_f);
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

    /* the workspace's days are those of a time zone of its own, one that is not whole
     * hours away from UTC now and then */
    static const char *const zones[] = {"UTC",
                                        "America/Los_Angeles",
                                        "Europe/Berlin",
                                        "Asia/Kathmandu",
                                        "Pacific/Chatham",
                                        "Australia/Adelaide"};
    const size_t nzones = sizeof zones / sizeof zones[0];
    size_t zone = rnd((unsigned)nzones);
    set_time_zone(zones[zone]);
    lap("start");
    make_users();
    make_campaigns();
    make_leads();
    make_touches(300);
    lap("leads and touches");
    /* hand a third over to sales (a ninth with LL_TEST_QUICK=1: under the sanitizers the
     * requests cost four times as much); sales works most of them and a few new ones */
    const int every = test_scale(10) == 10 ? 3 : 9;
    const bool whole = every == 3; /* false with LL_TEST_QUICK=1 */
    for (int i = 0; i < LEADS; i += every) {
        transition(leads[i], "mql");
        if (rnd(10) < 7)
            sales_works(i);
    }
    for (int i = 1; i < LEADS; i += 48) /* i % 3 == 1: still new */
        sales_works(i);
    lap("transitions and feedback");
    make_interactions(1200, false);
    lap("interactions");

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
    /* interactions before and after the hand-offs, some before the first feedback */
    pg_ok(pg, "UPDATE interactions i SET occurred_at = l.created_at + (random() * 360)"
              " * interval '1 hour' FROM leads l WHERE l.workspace_id = i.workspace_id"
              " AND l.id = i.lead_id"
              " AND l.workspace_id = (SELECT id FROM workspaces WHERE slug = 'reports-r')");
    lap("history spread with SQL");
    /* and more writes through the API after that */
    make_touches(100);
    for (int i = 2; i < LEADS; i += 39) { /* i % 3 == 2: still new */
        transition(leads[i], "mql");
        sales_works(i);
    }
    /* new interactions now, and earlier ones sent again with other values */
    make_interactions(300, false);
    make_interactions(300, true);

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
    /* the data has what the rules are about: corrections, lost amounts, second deals,
     * disqualified leads back in the funnel and leads rated more than once */
    static const char *const present[] = {
        "SELECT count(*) FROM feedback WHERE workspace_id = $1 AND kind = 'correction'",
        "SELECT count(*) FROM feedback WHERE workspace_id = $1 AND kind = 'lost' AND amount > 0",
        "SELECT count(*) FROM lead_stage_changes WHERE workspace_id = $1"
        " AND from_stage = 'customer' AND to_stage = 'opportunity'",
        "SELECT count(*) FROM lead_stage_changes WHERE workspace_id = $1"
        " AND from_stage = 'disqualified' AND to_stage = 'recycled'",
        "SELECT count(*) FROM (SELECT lead_id FROM feedback WHERE workspace_id = $1"
        " AND rating IS NOT NULL GROUP BY lead_id HAVING count(*) > 1) x",
        /* leads whose follow-up an interaction ended before any feedback, and
         * interactions updated by a resend */
        "SELECT count(*) FROM report_leads WHERE workspace_id = $1 AND least(first_attempt_at,"
        " first_contact_at) < coalesce(first_feedback_at, 'infinity')",
        "SELECT count(*) FROM interactions WHERE workspace_id = $1 AND version > 1"};
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++) {
        char *n = pg_value_p(pg, present[i], ws_id);
        ck_assert_msg(n && atol(n) > 0, "the random data has none of: %s", present[i]);
        free(n);
    }
    char a[11], b[11], c[11], d[11];
    /* the funnel is also asked for the owner of the most leads */
    char *owner = pg_value_p(pg,
                             "SELECT owner_id FROM leads WHERE workspace_id = $1"
                             " AND owner_id IS NOT NULL GROUP BY owner_id"
                             " ORDER BY count(*) DESC, owner_id LIMIT 1",
                             ws_id);
    ck_assert_msg(owner && *owner, "the random data has no lead with an owner");
    const struct scratch_ws w = {ws_id, admin, {campaigns[3], campaigns[4], campaigns[5]}, owner};
    expect_funnel_kept_exact(pg);
    compared += scratch_compare_all(pg, &w, NULL, NULL);
    lap("one window compared");
    compared += scratch_compare_all(pg, &w, days_ago(90, a), days_ago(0, b));
    compared += scratch_compare_all(pg, &w, days_ago(300, a), days_ago(130, b));
    compared += scratch_compare_all(pg, &w, days_ago(200, a), days_ago(200, b));
    compared += scratch_compare_all(pg, &w, days_ago(45, c), NULL);
    compared += scratch_compare_all(pg, &w, NULL, days_ago(250, d));
    /* a window from a month's first day to a day before its end has no whole month: with
     * the deltas folded into the day rows (as the daemon does every second), it once
     * counted nothing */
    char m1[11], m2[11];
    days_ago(100, m1);
    memcpy(m1 + 8, "01", 2);
    snprintf(m2, sizeof m2, "%.8s17", m1);
    pg_ok(pg, "SELECT ll_report_compact(100000000)");
    compared += scratch_compare_all(pg, &w, m1, m2);
    lap("all windows compared");
    /* the trends and the campaigns by channel, for a few of those windows */
    compared += scratch_compare_trends(pg, &w, NULL, NULL);
    compared += scratch_compare_trends(pg, &w, days_ago(300, a), days_ago(130, b));
    compared += scratch_compare_trends(pg, &w, days_ago(45, c), NULL);
    lap("trends compared");
    /* another time zone: every lead moves to its day there */
    zone = (zone + 1 + rnd((unsigned)nzones - 1)) % nzones;
    set_time_zone(zones[zone]);
    lap("time zone changed");
    compared += scratch_compare_all(pg, &w, NULL, NULL);
    compared += scratch_compare_all(pg, &w, days_ago(90, a), days_ago(0, b));
    compared += scratch_compare_all(pg, &w, days_ago(200, a), days_ago(200, b));
    lap("windows compared in the new time zone");
    expect_funnel_kept_exact(pg);
    /* rebuilt from the rows (the figures all in deltas), then folded: the same answers,
     * for all time and (not with LL_TEST_QUICK=1) whole months */
    free(pg_value_p(pg, "SELECT ll_report_rebuild($1::uuid)::text", ws_id));
    compared += scratch_compare_all(pg, &w, NULL, NULL);
    pg_ok(pg, "SELECT ll_report_compact(100000000)");
    compared += scratch_compare_all(pg, &w, NULL, NULL);
    if (whole)
        compared += scratch_compare_all(pg, &w, m1, m2);
    lap("windows compared after a rebuild and a compaction");
    fprintf(stderr, "reports: %d reports equal to the computation from scratch\n", compared);
    free(owner);
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
