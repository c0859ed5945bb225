/* Lead scoring (issue 17 point 2): a rule set published on a few thousand leads scores every
 * one of them, and each lead's ledger adds up to its scores; group caps, negative points and
 * decay give what the rules say; the threshold moves a lead to mql once; a draft changes no
 * score until it is published; every bad document is a 422 naming its field; another
 * workspace's leads are never touched. Each test works in workspaces of its own (the
 * threshold would move other suites' leads). */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "suites.h"
#include "support.h"

#define BIG_LEADS 3000

struct world {
    char key[64], ws[40];
};

static void world_setup(struct world *w, const char *slug)
{
    ck_assert_msg(workspace_key(slug, "admin", w->key), "workspace %s", slug);
    struct resp *r = get("/v1/workspace", w->key);
    expect_status(r, 200, "the workspace");
    snprintf(w->ws, sizeof w->ws, "%s", jstr(r, "id"));
    resp_free(r);
}

/* A new lead (its id into id) from a JSON body. */
static void lead_new(const struct world *w, const char *body, char id[40])
{
    struct resp *r = post("/v1/leads", w->key, body);
    expect_status(r, 201, "a lead");
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

static void draft_put(const struct world *w, const char *doc)
{
    struct resp *r = put("/v1/scoring/draft", w->key, doc, NULL);
    expect_status(r, 200, "the draft");
    resp_free(r);
}

static bool rescore_done(void *arg)
{
    const struct world *w = arg;
    struct resp *r = get("/v1/scoring", w->key);
    json_t *rs = json_object_get(r->json, "rescore");
    bool done = r->status == 200 && json_is_object(rs) &&
                !strcmp(json_string_value(json_object_get(rs, "state")) ?: "", "done");
    resp_free(r);
    return done;
}

/* Publishes the draft and waits for its rescore; returns the new version. */
static long publish(const struct world *w)
{
    struct resp *r = post("/v1/scoring/draft/publish", w->key, "{}");
    expect_status(r, 202, "the publish");
    long v = (long)json_integer_value(json_object_get(r->json, "published_version"));
    resp_free(r);
    ck_assert_msg(wait_until(rescore_done, (void *)w, 60000), "the rescore did not finish");
    return v;
}

/* A lead's fit and engagement as GET /v1/leads/{id}/score answers them. */
static void lead_scores(const struct world *w, const char *lead, long *fit, long *eng)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/score", lead);
    struct resp *r = get(path, w->key);
    expect_status(r, 200, "a lead's score");
    *fit = (long)json_integer_value(json_object_get(r->json, "fit"));
    *eng = (long)json_integer_value(json_object_get(r->json, "engagement"));
    /* the ledger the answer shows adds up to the scores */
    long sum_fit = 0, sum_eng = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(r->json, "points"), i, p)
    {
        long pts = (long)json_integer_value(json_object_get(p, "points"));
        if (!strcmp(json_string_value(json_object_get(p, "kind")), "fit"))
            sum_fit += pts;
        else
            sum_eng += pts;
    }
    ck_assert_int_eq(sum_fit, *fit);
    ck_assert_int_eq(sum_eng, *eng);
    resp_free(r);
}

static long lead_sql_long(PGconn *pg, const char *sql, const char *lead)
{
    char *v = pg_value_p(pg, sql, lead);
    long n = atol(v);
    free(v);
    return n;
}

/* Whether the rescorer rescored a lead for its engagement's decay. */
struct faded {
    PGconn *pg;
    const char *lead;
};

static bool faded(void *arg)
{
    const struct faded *f = arg;
    return lead_sql_long(f->pg,
                         "SELECT count(*) FROM lead_score_changes WHERE lead_id = $1"
                         " AND cause = 'decay' AND engagement_to = 5",
                         f->lead) == 1;
}

START_TEST(publish_scores_every_lead_and_the_ledger_adds_up)
{
    struct world w, other;
    char sql[4096], other_lead[40];
    world_setup(&w, "score-big");
    world_setup(&other, "score-other");
    lead_new(&other,
             "{\"email\":\"other@acme.test\",\"country\":\"US\",\"title\":\"VP Sales\","
             "\"source\":\"web\"}",
             other_lead);
    PGconn *pg = pg_test();
    /* a few thousand leads and their touches, written by SQL (the API would take minutes) */
    snprintf(
        sql, sizeof sql,
        "INSERT INTO campaigns (workspace_id, name, channel) VALUES ('%s', 'big', 'email');"
        "INSERT INTO leads (workspace_id, email, country, title, source, custom)"
        " SELECT '%s', 'big' || n || '@' || (ARRAY['acme.test','uni.edu','corp.test'])[1 + n %% 3],"
        " (ARRAY['US','DE','FR','GB'])[1 + n %% 4],"
        " (ARRAY['VP Marketing','Engineer','Student', NULL])[1 + n %% 7 %% 4],"
        " (ARRAY['web','outbound','event'])[1 + n %% 5 %% 3],"
        " jsonb_build_object('employees', (n * 37) %% 2000)"
        " FROM generate_series(1, %d) n;"
        "INSERT INTO campaign_touches (workspace_id, campaign_id, lead_id, kind, occurred_at)"
        " SELECT l.workspace_id, c.id, l.id, (ARRAY['opened','clicked','visited'])[1 + k %% 3],"
        " now() - (k * 13 %% 200) * interval '1 day'"
        " FROM leads l JOIN campaigns c ON c.workspace_id = l.workspace_id AND c.name = 'big'"
        " CROSS JOIN generate_series(1, 6) k"
        " WHERE l.workspace_id = '%s' AND (abs(hashtext(l.email)) %% 7) >= k;",
        w.ws, w.ws, BIG_LEADS, w.ws);
    pg_ok(pg, sql);
    draft_put(&w,
              "{\"groups\":[{\"name\":\"geo\",\"score\":\"fit\",\"cap\":30},"
              "{\"name\":\"src\",\"score\":\"fit\"},{\"name\":\"size\",\"score\":\"fit\"},"
              "{\"name\":\"email\",\"score\":\"engagement\",\"cap\":60},"
              "{\"name\":\"web\",\"score\":\"engagement\"}],"
              "\"rules\":["
              "{\"id\":\"us\",\"group\":\"geo\",\"field\":\"country\",\"op\":\"in\","
              "\"value\":[\"us\",\"GB\"],\"points\":25},"
              "{\"id\":\"vp\",\"group\":\"geo\",\"field\":\"title\",\"op\":\"contains\","
              "\"value\":\"VP\",\"points\":10},"
              "{\"id\":\"web\",\"group\":\"src\",\"field\":\"source\",\"op\":\"eq\","
              "\"value\":\"web\",\"points\":15},"
              "{\"id\":\"outbound\",\"group\":\"src\",\"field\":\"source\",\"op\":\"eq\","
              "\"value\":\"outbound\",\"points\":-10},"
              "{\"id\":\"edu\",\"group\":\"src\",\"field\":\"email_domain\",\"op\":\"contains\","
              "\"value\":\".edu\",\"points\":-40},"
              "{\"id\":\"mid\",\"group\":\"size\",\"field\":\"custom.employees\","
              "\"op\":\"between\",\"value\":{\"min\":100,\"max\":999},\"points\":20},"
              "{\"id\":\"opens\",\"group\":\"email\",\"event\":\"touch:opened\",\"points\":10,"
              "\"decay\":{\"half_life\":\"P30D\"}},"
              "{\"id\":\"clicks\",\"group\":\"email\",\"event\":\"touch:clicked\","
              "\"points\":20,\"decay\":{\"halve_after\":60}},"
              "{\"id\":\"visits\",\"group\":\"web\",\"event\":\"touch:visited\",\"points\":25}]}");
    long v = publish(&w);
    ck_assert_int_ge(v, 1);

    /* every lead has its scores of this version, and its ledger adds up to them */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads l LEFT JOIN lead_scores s ON s.workspace_id ="
             " l.workspace_id AND s.lead_id = l.id LEFT JOIN (SELECT lead_id,"
             " coalesce(sum(points) FILTER (WHERE kind = 'fit'), 0) AS f,"
             " coalesce(sum(points) FILTER (WHERE kind = 'engagement'), 0) AS e"
             " FROM lead_score_points WHERE workspace_id = '%s' GROUP BY 1) p ON p.lead_id = l.id"
             " WHERE l.workspace_id = '%s' AND (s.lead_id IS NULL OR s.version <> %ld"
             " OR (coalesce(p.f, 0), coalesce(p.e, 0)) <> (s.fit, s.engagement))",
             w.ws, w.ws, v);
    ck_assert_int_eq(pg_long(pg, sql), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM lead_scores WHERE workspace_id = '%s'", w.ws);
    ck_assert_int_eq(pg_long(pg, sql), BIG_LEADS);
    /* the rescore ran in its two lanes, each over its half of the ids, and ended both */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM scoring_run_lanes WHERE workspace_id = '%s' AND done > 1000"
             " AND finished_at IS NOT NULL",
             w.ws);
    ck_assert_int_eq(pg_long(pg, sql), 2);
    /* the fit score is what the rules say, computed here from scratch */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads l JOIN lead_scores s ON s.workspace_id = l.workspace_id"
             " AND s.lead_id = l.id WHERE l.workspace_id = '%s' AND s.fit <> greatest(0, least(100,"
             " least(30, CASE WHEN l.country IN ('US', 'GB') THEN 25 ELSE 0 END"
             " + CASE WHEN l.title ILIKE '%%vp%%' THEN 10 ELSE 0 END)"
             " + CASE l.source WHEN 'web' THEN 15 WHEN 'outbound' THEN -10 ELSE 0 END"
             " + CASE WHEN l.email LIKE '%%.edu' THEN -40 ELSE 0 END"
             " + CASE WHEN (l.custom->>'employees')::int BETWEEN 100 AND 999 THEN 20 ELSE 0 END))",
             w.ws);
    ck_assert_int_eq(pg_long(pg, sql), 0);
    /* and so is engagement */
    snprintf(sql, sizeof sql,
             "WITH t AS (SELECT lead_id,"
             " round(sum(10 * power(0.5, extract(epoch FROM now() - occurred_at) / 86400 / 30))"
             " FILTER (WHERE kind = 'opened')) AS o,"
             " round(sum(CASE WHEN occurred_at <= now() - interval '60 days' THEN 10 ELSE 20 END)"
             " FILTER (WHERE kind = 'clicked')) AS c,"
             " 25 * count(*) FILTER (WHERE kind = 'visited') AS vi"
             " FROM campaign_touches WHERE workspace_id = '%s' GROUP BY 1)"
             " SELECT count(*) FROM lead_scores s LEFT JOIN t USING (lead_id)"
             " WHERE s.workspace_id = '%s' AND s.engagement <> least(100,"
             " least(60, coalesce(t.o, 0) + coalesce(t.c, 0)) + coalesce(t.vi, 0))",
             w.ws, w.ws);
    ck_assert_int_eq(pg_long(pg, sql), 0);
    /* caps, clamps and negative points all occur in this data */
    snprintf(sql, sizeof sql,
             "SELECT count(DISTINCT coalesce(adjust, CASE WHEN points < 0 THEN 'negative' END))"
             " FROM lead_score_points WHERE workspace_id = '%s'"
             " AND (adjust IS NOT NULL OR points < 0)",
             w.ws);
    ck_assert_int_eq(pg_long(pg, sql), 3);

    /* the progress reached done, and counted every lead */
    struct resp *r = get("/v1/scoring", w.key);
    json_t *rs = json_object_get(r->json, "rescore");
    ck_assert_int_eq(json_integer_value(json_object_get(rs, "done")), BIG_LEADS);
    ck_assert_int_eq(json_integer_value(json_object_get(rs, "total")), BIG_LEADS);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "published_version")), v);
    resp_free(r);

    /* the other workspace: no scores, no ledger, no change */
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM lead_scores WHERE workspace_id = '%s')"
             " + (SELECT count(*) FROM lead_score_points WHERE workspace_id = '%s')"
             " + (SELECT count(*) FROM lead_score_changes WHERE workspace_id = '%s')",
             other.ws, other.ws, other.ws);
    ck_assert_int_eq(pg_long(pg, sql), 0);
    long fit, eng;
    lead_scores(&other, other_lead, &fit, &eng);
    ck_assert_int_eq(fit, 0);
    ck_assert_int_eq(eng, 0);
    /* nor can it read this workspace's published version */
    r = get("/v1/scoring/versions/1", other.key);
    assert_problem(r, 404, "not-found");
    resp_free(r);
    PQfinish(pg);
}
END_TEST

START_TEST(caps_negative_points_and_decay)
{
    struct world w;
    char lead[40], camp[40], path[128], doc[2048];
    long fit, eng;
    world_setup(&w, "score-rules");
    struct resp *r = post("/v1/campaigns", w.key, "{\"name\":\"rules\",\"channel\":\"email\"}");
    expect_status(r, 201, "a campaign");
    snprintf(camp, sizeof camp, "%s", jstr(r, "id"));
    resp_free(r);
    lead_new(&w, "{\"email\":\"pat@example.com\",\"country\":\"DE\",\"title\":\"Engineer\"}", lead);
    snprintf(doc, sizeof doc,
             "{\"groups\":[{\"name\":\"geo\",\"score\":\"fit\",\"cap\":30},"
             "{\"name\":\"bad\",\"score\":\"fit\"},"
             "{\"name\":\"email\",\"score\":\"engagement\",\"cap\":50}],"
             "\"rules\":["
             "{\"id\":\"de\",\"group\":\"geo\",\"field\":\"country\",\"op\":\"eq\","
             "\"value\":\"de\",\"points\":25},"
             "{\"id\":\"eng\",\"group\":\"geo\",\"field\":\"title\",\"op\":\"contains\","
             "\"value\":\"engineer\",\"points\":15},"
             "{\"id\":\"freemail\",\"group\":\"bad\",\"field\":\"email_domain\","
             "\"op\":\"in\",\"value\":[\"example.com\"],\"points\":-50},"
             "{\"id\":\"clicks\",\"group\":\"email\",\"event\":\"touch:clicked\",\"points\":20},"
             "{\"id\":\"opens\",\"group\":\"email\",\"event\":\"touch:opened\",\"points\":40,"
             "\"decay\":{\"half_life\":\"P30D\"},\"campaign_id\":\"%s\"}]}",
             camp);
    draft_put(&w, doc);
    publish(&w);
    /* geo: 25 + 15 capped to 30; bad: -50; fit -20 clamped to 0 */
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(fit, 0);
    ck_assert_int_eq(eng, 0);
    PGconn *pg = pg_test();
    ck_assert_int_eq(lead_sql_long(pg,
                                   "SELECT points FROM lead_score_points WHERE lead_id = $1"
                                   " AND kind = 'fit' AND adjust = 'cap' AND grp = 'geo'",
                                   lead),
                     -10);
    ck_assert_int_eq(lead_sql_long(pg,
                                   "SELECT points FROM lead_score_points WHERE lead_id = $1"
                                   " AND kind = 'fit' AND adjust = 'clamp'",
                                   lead),
                     20);
    /* three clicks now: 60, capped to 50, in the touch's own transaction */
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", camp);
    for (int i = 0; i < 3; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"clicked\"}", lead);
        r = post(path, w.key, body);
        expect_status(r, 201, "a click");
        resp_free(r);
    }
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(eng, 50);
    ck_assert_int_eq(lead_sql_long(pg,
                                   "SELECT points FROM lead_score_points WHERE lead_id = $1"
                                   " AND kind = 'engagement' AND adjust = 'cap'",
                                   lead),
                     -10);
    /* an open 60 days old, two half-lives: 40 / 4 = 10, the group still capped at 50; the
     * clicks go and the open stays */
    char body[200];
    char *at = pg_value(pg, "SELECT to_char((now() - interval '60 days') AT TIME ZONE 'UTC',"
                            " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"opened\",\"occurred_at\":\"%s\"}",
             lead, at);
    free(at);
    r = post(path, w.key, body);
    expect_status(r, 201, "a backdated open");
    resp_free(r);
    ck_assert_int_eq(lead_sql_long(pg,
                                   "SELECT points FROM lead_score_points WHERE lead_id = $1"
                                   " AND rule_id = 'opens'",
                                   lead),
                     10);
    char sql[512];
    /* deleted clicks rescore the lead in their statement: the open's 10 is left */
    snprintf(sql, sizeof sql,
             "DELETE FROM campaign_touches WHERE lead_id = '%s' AND kind = 'clicked'", lead);
    pg_ok(pg, sql);
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(eng, 10);
    /* a field edit rescored in its transaction: the email's penalty goes, fit is 30 */
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    r = patch(path, w.key, "{\"email\":\"pat@acme.test\"}", NULL);
    expect_status(r, 200, "an edit");
    resp_free(r);
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(fit, 30);
    ck_assert_int_eq(eng, 10);
    ck_assert_int_eq(lead_sql_long(pg,
                                   "SELECT count(*) FROM lead_score_changes WHERE lead_id = $1"
                                   " AND cause = 'lead'",
                                   lead),
                     1);
    /* nothing happens to the lead for a day while its open ages to 90 days (moved back
     * with the triggers off, as time would move it): the rescorer rescores the lead by
     * itself (cause 'decay'), 40 / 8 = 5 */
    snprintf(sql, sizeof sql,
             "BEGIN; SET LOCAL session_replication_role = replica;"
             " UPDATE campaign_touches SET occurred_at = now() - interval '90 days'"
             " WHERE lead_id = '%s' AND kind = 'opened'; COMMIT",
             lead);
    pg_ok(pg, sql);
    snprintf(sql, sizeof sql,
             "UPDATE lead_scores SET scored_at = now() - interval '25 hours' WHERE lead_id = '%s'",
             lead);
    pg_ok(pg, sql);
    struct faded f = {pg, lead};
    ck_assert_msg(wait_until(faded, &f, 20000), "the engagement did not fade by itself");
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(fit, 30);
    ck_assert_int_eq(eng, 5);
    ck_assert_int_eq(lead_sql_long(pg,
                                   "SELECT count(*) FROM lead_scores WHERE lead_id = $1"
                                   " AND scored_at > now() - interval '1 hour'",
                                   lead),
                     1);
    PQfinish(pg);
}
END_TEST

START_TEST(the_threshold_moves_a_lead_to_mql_once)
{
    struct world w;
    char lead[40], cold[40], path[128];
    long fit, eng;
    world_setup(&w, "score-threshold");
    lead_new(&w, "{\"email\":\"hot@acme.test\",\"country\":\"US\"}", lead);
    lead_new(&w, "{\"email\":\"cold@acme.test\",\"country\":\"FR\"}", cold);
    draft_put(&w, "{\"groups\":[{\"name\":\"geo\",\"score\":\"fit\"}],"
                  "\"rules\":[{\"id\":\"us\",\"group\":\"geo\",\"field\":\"country\","
                  "\"op\":\"eq\",\"value\":\"US\",\"points\":60}],"
                  "\"threshold\":{\"fit\":50}}");
    publish(&w);
    PGconn *pg = pg_test();
    const char *stage = "SELECT stage FROM leads WHERE id = $1";
    const char *moves = "SELECT count(*) FROM lead_stage_changes WHERE lead_id = $1"
                        " AND to_stage = 'mql' AND reason LIKE 'score threshold%'";
    char *s = pg_value_p(pg, stage, lead);
    ck_assert_str_eq(s, "mql");
    free(s);
    s = pg_value_p(pg, stage, cold);
    ck_assert_str_eq(s, "new");
    free(s);
    ck_assert_int_eq(lead_sql_long(pg, moves, lead), 1);
    /* the crossing shows among the lead's score changes */
    snprintf(path, sizeof path, "/v1/leads/%s/score", lead);
    struct resp *r = get(path, w.key);
    expect_status(r, 200, "the score");
    json_t *c0 = json_array_get(json_object_get(r->json, "changes"), 0);
    ck_assert(json_is_true(json_object_get(c0, "crossed_threshold")));
    ck_assert_str_eq(json_string_value(json_object_get(c0, "moved_to")), "mql");
    resp_free(r);
    /* and in the lead's timeline, after the move it made */
    snprintf(path, sizeof path, "/v1/leads/%s/timeline?limit=50", lead);
    r = get(path, w.key);
    expect_status(r, 200, "the timeline");
    json_t *crossing = NULL, *e;
    size_t i;
    json_array_foreach(json_object_get(r->json, "data"), i,
                       e) if (!strcmp(json_string_value(json_object_get(e, "type")),
                                      "score_crossing")) crossing = e;
    ck_assert_msg(crossing, "no score_crossing in %s", r->body);
    json_t *item = json_object_get(crossing, "score_crossing");
    ck_assert_int_eq(json_integer_value(json_object_get(item, "fit_to")), 60);
    ck_assert_str_eq(json_string_value(json_object_get(item, "moved_to")), "mql");
    ck_assert_str_eq(json_string_value(json_object_get(item, "cause")), "publish");
    resp_free(r);
    /* still above: no second move; below and above again while in mql: none either */
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    r = patch(path, w.key, "{\"title\":\"CTO\"}", NULL);
    expect_status(r, 200, "an edit");
    resp_free(r);
    r = patch(path, w.key, "{\"country\":\"DE\"}", NULL);
    expect_status(r, 200, "an edit");
    resp_free(r);
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(fit, 0);
    r = patch(path, w.key, "{\"country\":\"US\"}", NULL);
    expect_status(r, 200, "an edit");
    resp_free(r);
    ck_assert_int_eq(lead_sql_long(pg, moves, lead), 1);
    /* a republish of the same rules does not move it again either */
    draft_put(&w, "{\"groups\":[{\"name\":\"geo\",\"score\":\"fit\"}],"
                  "\"rules\":[{\"id\":\"us\",\"group\":\"geo\",\"field\":\"country\","
                  "\"op\":\"eq\",\"value\":\"US\",\"points\":60}],"
                  "\"threshold\":{\"fit\":50}}");
    publish(&w);
    ck_assert_int_eq(lead_sql_long(pg, moves, lead), 1);
    /* the cold lead crosses when its country changes, in the edit's transaction */
    snprintf(path, sizeof path, "/v1/leads/%s", cold);
    r = patch(path, w.key, "{\"country\":\"US\"}", NULL);
    expect_status(r, 200, "an edit");
    resp_free(r);
    s = pg_value_p(pg, stage, cold);
    ck_assert_str_eq(s, "mql");
    free(s);
    ck_assert_int_eq(lead_sql_long(pg, moves, cold), 1);
    PQfinish(pg);
}
END_TEST

START_TEST(a_draft_changes_no_score_until_published)
{
    struct world w;
    char lead[40];
    long fit, eng;
    world_setup(&w, "score-draft");
    lead_new(&w, "{\"email\":\"d@acme.test\",\"source\":\"web\"}", lead);
    draft_put(&w, "{\"groups\":[{\"name\":\"s\",\"score\":\"fit\"}],\"rules\":[{\"id\":\"web\","
                  "\"group\":\"s\",\"field\":\"source\",\"op\":\"eq\",\"value\":\"web\","
                  "\"points\":10}]}");
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(fit, 0); /* nothing published yet */
    long v1 = publish(&w);
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(fit, 10);
    struct resp *r = get("/v1/scoring/draft", w.key);
    expect_status(r, 200, "the draft");
    char *etag = resp_header(r, "ETag");
    ck_assert_ptr_nonnull(etag);
    resp_free(r);
    r = put("/v1/scoring/draft", w.key,
            "{\"groups\":[{\"name\":\"s\",\"score\":\"fit\"}],\"rules\":[{\"id\":\"web\","
            "\"group\":\"s\",\"field\":\"source\",\"op\":\"eq\",\"value\":\"web\","
            "\"points\":70}]}",
            etag);
    expect_status(r, 200, "the new draft");
    resp_free(r);
    /* the old ETag is stale now */
    r = put("/v1/scoring/draft", w.key, "{\"groups\":[],\"rules\":[]}", etag);
    assert_problem(r, 412, "precondition-failed");
    resp_free(r);
    free(etag);
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(fit, 10);
    r = get("/v1/scoring", w.key);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "published_version")), v1);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "draft_version")), 2);
    resp_free(r);
    long v2 = publish(&w);
    ck_assert_int_eq(v2, v1 + 1);
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(fit, 70);
    /* the first version is kept as it was */
    char path[64];
    snprintf(path, sizeof path, "/v1/scoring/versions/%ld", v1);
    r = get(path, w.key);
    expect_status(r, 200, "version 1");
    json_t *rule = json_array_get(json_object_get(r->json, "rules"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(rule, "points")), 10);
    resp_free(r);
}
END_TEST

START_TEST(bad_rule_sets_are_refused_naming_the_field)
{
    struct world w;
    world_setup(&w, "score-bad");
    static const struct {
        const char *doc, *field;
    } cases[] = {
        {"{\"groups\":[],\"rules\":[],\"extra\":1}", "extra"},
        {"{\"rules\":[]}", "groups"},
        {"{\"groups\":[{\"name\":\"g\",\"score\":\"fit\",\"cap\":-1}],\"rules\":[]}",
         "groups[0].cap"},
        {"{\"groups\":[{\"name\":\"g\",\"score\":\"fame\"}],\"rules\":[]}", "groups[0].score"},
        {"{\"groups\":[{\"name\":\"g\",\"score\":\"fit\",\"colour\":1}],\"rules\":[]}",
         "groups[0].colour"},
        {"{\"groups\":[{\"name\":\"g\",\"score\":\"fit\"}],\"rules\":[{\"id\":\"a\",\"group\":"
         "\"g\",\"field\":\"country\",\"op\":\"like\",\"value\":\"x\",\"points\":1}]}",
         "rules[0].op"},
        {"{\"groups\":[{\"name\":\"g\",\"score\":\"fit\"}],\"rules\":[{\"id\":\"a\",\"group\":"
         "\"g\",\"field\":\"shoe_size\",\"op\":\"eq\",\"value\":\"x\",\"points\":1}]}",
         "rules[0].field"},
        {"{\"groups\":[{\"name\":\"g\",\"score\":\"fit\"}],\"rules\":[{\"id\":\"a\",\"group\":"
         "\"g\",\"field\":\"country\",\"op\":\"in\",\"value\":[],\"points\":1}]}",
         "rules[0].value"},
        {"{\"groups\":[{\"name\":\"g\",\"score\":\"fit\"}],\"rules\":[{\"id\":\"a\",\"group\":"
         "\"g\",\"field\":\"custom.n\",\"op\":\"between\",\"value\":{\"min\":9,\"max\":1},"
         "\"points\":1}]}",
         "rules[0].value.min"},
        {"{\"groups\":[{\"name\":\"g\",\"score\":\"fit\"}],\"rules\":[{\"id\":\"a\",\"group\":"
         "\"g\",\"field\":\"country\",\"op\":\"eq\",\"value\":\"x\",\"points\":1,\"sneaky\":1}]}",
         "rules[0].sneaky"},
        {"{\"groups\":[{\"name\":\"e\",\"score\":\"engagement\"}],\"rules\":[{\"id\":\"a\","
         "\"group\":\"e\",\"event\":\"touch:clicked\",\"points\":1,\"decay\":{\"half_life\":"
         "\"soon\"}}]}",
         "rules[0].decay.half_life"},
        {"{\"groups\":[{\"name\":\"e\",\"score\":\"engagement\"}],\"rules\":[{\"id\":\"a\","
         "\"group\":\"e\",\"event\":\"touch:clicked\",\"points\":1,\"decay\":{\"halve_after\":"
         "\"PT5H\"}}]}",
         "rules[0].decay.halve_after"},
        {"{\"groups\":[{\"name\":\"e\",\"score\":\"engagement\"}],\"rules\":[{\"id\":\"a\","
         "\"group\":\"e\",\"event\":\"touch:clicked\",\"points\":1,\"decay\":{\"fade\":3}}]}",
         "rules[0].decay"},
        {"{\"groups\":[{\"name\":\"e\",\"score\":\"engagement\"}],\"rules\":[{\"id\":\"a\","
         "\"group\":\"e\",\"event\":\"interaction:fax\",\"points\":1}]}",
         "rules[0].event"},
        {"{\"groups\":[{\"name\":\"e\",\"score\":\"engagement\"}],\"rules\":[{\"id\":\"a\","
         "\"group\":\"e\",\"event\":\"touch:clicked\",\"points\":1,\"campaign_id\":"
         "\"6f1c0b8e-0000-4000-8000-000000000000\"}]}",
         "rules[0].campaign_id"},
        {"{\"groups\":[{\"name\":\"e\",\"score\":\"engagement\"}],\"rules\":[{\"id\":\"a\","
         "\"group\":\"e\",\"event\":\"touch:clicked\",\"points\":0}]}",
         "rules[0].points"},
        {"{\"groups\":[{\"name\":\"e\",\"score\":\"engagement\"}],\"rules\":[{\"id\":\"a\","
         "\"group\":\"nope\",\"event\":\"touch:clicked\",\"points\":3}]}",
         "rules[0].group"},
        {"{\"groups\":[{\"name\":\"e\",\"score\":\"engagement\"}],\"rules\":[{\"id\":\"a\","
         "\"group\":\"e\",\"event\":\"touch:clicked\",\"points\":3},{\"id\":\"a\","
         "\"group\":\"e\",\"event\":\"touch:opened\",\"points\":3}]}",
         "rules[1].id"},
        {"{\"groups\":[],\"rules\":[],\"threshold\":{\"fit\":101}}", "threshold.fit"},
        {"{\"groups\":[],\"rules\":[],\"threshold\":{\"engagement\":-1}}", "threshold.engagement"},
        {"{\"groups\":[],\"rules\":[],\"threshold\":{\"fit\":10,\"mode\":\"some\"}}",
         "threshold.mode"},
        {"{\"groups\":[],\"rules\":[],\"threshold\":{}}", "threshold"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp *r = put("/v1/scoring/draft", w.key, cases[i].doc, NULL);
        assert_problem(r, 422, "validation-failed");
        ck_assert_msg(problem_names(r, cases[i].field), "case %zu: %s not named in %s", i,
                      cases[i].field, r->body);
        resp_free(r);
    }
    /* nothing was stored */
    struct resp *r = get("/v1/scoring/draft", w.key);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "version")), 0);
    resp_free(r);
    /* no draft: nothing to publish */
    r = post("/v1/scoring/draft/publish", w.key, "{}");
    assert_problem(r, 404, "not-found");
    resp_free(r);
    draft_put(&w, "{\"groups\":[],\"rules\":[]}");
    r = post("/v1/scoring/draft/publish", w.key, "{\"version\":1}");
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "version"));
    resp_free(r);
    r = get("/v1/scoring/versions/x1", w.key);
    assert_problem(r, 404, "not-found");
    resp_free(r);
    r = get("/v1/scoring/versions/1", w.key);
    assert_problem(r, 404, "not-found");
    resp_free(r);
    r = put("/v1/scoring/draft", readonly_key, "{\"groups\":[],\"rules\":[]}", NULL);
    assert_problem(r, 403, "forbidden");
    resp_free(r);
}
END_TEST

static void lead_post(const struct world *w, const char *lead, const char *what, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/%s", lead, what);
    struct resp *r = post(path, w->key, body);
    ck_assert_msg(r->status == 201 || r->status == 200, "%s %s: %ld %s", what, body, r->status,
                  r->body);
    resp_free(r);
}

/* Every band of a scoring report (query: its path) against a computation from the leads'
 * scores, their feedback (the first verdict accepted; won and its amount) and, when version
 * is not 0, only the leads of that version. */
static void scoring_report_is_exact(const struct world *w, const char *query, const char *score,
                                    long version)
{
    char sql[2048];
    struct resp *r = get(query, w->key);
    expect_status(r, 200, query);
    json_t *data = json_object_get(r->json, "data");
    ck_assert_int_eq(json_array_size(data), 10);
    PGconn *pg = pg_test();
    for (size_t i = 0; i < json_array_size(data); i++) {
        json_t *b = json_array_get(data, i);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) || '/' || count(*) FILTER (WHERE (SELECT f.kind FROM feedback f"
                 " WHERE f.workspace_id = l.workspace_id AND f.lead_id = l.id AND f.kind IN"
                 " ('accepted', 'rejected') ORDER BY f.occurred_at, f.created_at, f.id LIMIT 1) ="
                 " 'accepted') || '/' || count(*) FILTER (WHERE EXISTS (SELECT 1 FROM feedback f"
                 " WHERE f.workspace_id = l.workspace_id AND f.lead_id = l.id AND f.kind ="
                 " 'won')) || '/' || coalesce(sum((SELECT sum(f.amount) FROM feedback f WHERE"
                 " f.workspace_id = l.workspace_id AND f.lead_id = l.id AND f.kind = 'won')), 0)"
                 " FROM leads l JOIN lead_scores s ON s.workspace_id = l.workspace_id AND"
                 " s.lead_id = l.id WHERE l.workspace_id = '%s' AND least(s.%s / 10, 9) = %zu"
                 " AND (%ld = 0 OR s.version = %ld)",
                 w->ws, score, i, version, version);
        char *want = pg_value(pg, sql), got[96];
        snprintf(got, sizeof got, "%lld/%lld/%lld/%lld",
                 (long long)json_integer_value(json_object_get(b, "leads")),
                 (long long)json_integer_value(json_object_get(b, "accepted")),
                 (long long)json_integer_value(json_object_get(b, "won")),
                 (long long)json_integer_value(json_object_get(b, "won_amount")));
        ck_assert_msg(!strcmp(want, got), "%s band %zu: computed %s, reported %s", query, i, want,
                      got);
        free(want);
    }
    PQfinish(pg);
    resp_free(r);
}

START_TEST(the_scoring_report_counts_sales_verdicts_per_band)
{
    struct world w;
    char leads[8][40], body[160];
    static const char *const countries[8] = {"US", "US", "US", "US", "DE", "DE", "FR", "FR"};
    world_setup(&w, "score-report");
    for (int i = 0; i < 8; i++) {
        snprintf(body, sizeof body, "{\"email\":\"r%d@acme.test\",\"country\":\"%s\"}", i,
                 countries[i]);
        lead_new(&w, body, leads[i]);
    }
    draft_put(&w, "{\"groups\":[{\"name\":\"geo\",\"score\":\"fit\"}],\"rules\":["
                  "{\"id\":\"us\",\"group\":\"geo\",\"field\":\"country\",\"op\":\"eq\","
                  "\"value\":\"US\",\"points\":55},"
                  "{\"id\":\"de\",\"group\":\"geo\",\"field\":\"country\",\"op\":\"eq\","
                  "\"value\":\"DE\",\"points\":25}]}");
    long v = publish(&w);
    for (int i = 0; i < 5; i++) {
        lead_post(&w, leads[i], "transitions", "{\"to\":\"mql\"}");
        lead_post(&w, leads[i], "feedback", "{\"kind\":\"accepted\"}");
    }
    lead_post(&w, leads[0], "feedback", "{\"kind\":\"won\",\"amount\":1000,\"currency\":\"USD\"}");
    lead_post(&w, leads[1], "feedback", "{\"kind\":\"won\",\"amount\":500,\"currency\":\"USD\"}");
    lead_post(&w, leads[6], "transitions", "{\"to\":\"mql\"}");
    lead_post(&w, leads[6], "feedback", "{\"kind\":\"rejected\",\"reason\":\"bad_timing\"}");

    char path[96];
    snprintf(path, sizeof path, "/v1/reports/scoring?score=fit&version=%ld", v);
    struct resp *r = get(path, w.key);
    expect_status(r, 200, "the scoring report");
    json_t *data = json_object_get(r->json, "data");
    ck_assert_int_eq(json_array_size(data), 10);
    json_t *b50 = json_array_get(data, 5), *b20 = json_array_get(data, 2),
           *b0 = json_array_get(data, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(b50, "leads")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(b50, "accepted")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(b50, "won")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(b50, "won_amount")), 1500);
    ck_assert(json_real_value(json_object_get(b50, "won_rate")) == 0.5);
    ck_assert_int_eq(json_integer_value(json_object_get(b20, "leads")), 2);
    ck_assert(json_real_value(json_object_get(b20, "acceptance_rate")) == 0.5);
    /* the two French leads: one rejected, neither accepted */
    ck_assert_int_eq(json_integer_value(json_object_get(b0, "leads")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(b0, "accepted")), 0);
    resp_free(r);
    /* every band against a computation from the scores and the feedback: the version in
     * force (kept figures), any version, the engagement score */
    scoring_report_is_exact(&w, path, "fit", v);
    scoring_report_is_exact(&w, "/v1/reports/scoring?score=fit", "fit", 0);
    scoring_report_is_exact(&w, "/v1/reports/scoring?score=engagement", "engagement", 0);

    /* a new version moves leads between bands: the kept figures follow, the old version
     * has no leads left (answered from the leads' scores), and the kept figures equal a
     * rebuild of the report tables */
    draft_put(&w, "{\"groups\":[{\"name\":\"geo\",\"score\":\"fit\"}],\"rules\":["
                  "{\"id\":\"us\",\"group\":\"geo\",\"field\":\"country\",\"op\":\"eq\","
                  "\"value\":\"US\",\"points\":15},"
                  "{\"id\":\"fr\",\"group\":\"geo\",\"field\":\"country\",\"op\":\"eq\","
                  "\"value\":\"FR\",\"points\":100}]}");
    long v2 = publish(&w);
    ck_assert_int_eq(v2, v + 1);
    snprintf(path, sizeof path, "/v1/reports/scoring?score=fit&version=%ld", v2);
    scoring_report_is_exact(&w, path, "fit", v2);
    scoring_report_is_exact(&w, "/v1/reports/scoring?score=fit", "fit", 0);
    snprintf(path, sizeof path, "/v1/reports/scoring?score=fit&version=%ld", v);
    scoring_report_is_exact(&w, path, "fit", v);
    r = get("/v1/reports/scoring?score=fit", w.key);
    data = json_object_get(r->json, "data");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(data, 9), "leads")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(data, 1), "leads")), 4);
    resp_free(r);
    PGconn *pg = pg_test();
    static const char *const figures =
        "SELECT string_agg(dim || ':' || key || ':' || leads || ':' || accepted || ':' || won,"
        " ' ' ORDER BY dim, key) FROM (SELECT dim, key, sum(leads) AS leads,"
        " sum(accepted) AS accepted, sum(won) AS won FROM (SELECT dim, key, leads, accepted, won"
        " FROM report_days WHERE workspace_id = $1 AND dim IN (5, 6) AND NOT month UNION ALL"
        " SELECT dim, key, leads, accepted, won FROM report_day_deltas WHERE workspace_id = $1"
        " AND dim IN (5, 6)) x GROUP BY dim, key HAVING sum(leads) <> 0) y";
    const char *p1[1] = {w.ws};
    PGresult *kept = PQexecParams(pg, figures, 1, NULL, p1, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(kept), PGRES_TUPLES_OK);
    PGresult *rb = PQexecParams(pg, "SELECT ll_report_rebuild($1)", 1, NULL, p1, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(rb) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    PQclear(rb);
    PGresult *rebuilt = PQexecParams(pg, figures, 1, NULL, p1, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(rebuilt), PGRES_TUPLES_OK);
    ck_assert_msg(!strcmp(PQgetvalue(kept, 0, 0), PQgetvalue(rebuilt, 0, 0)), "kept %s, rebuilt %s",
                  PQgetvalue(kept, 0, 0), PQgetvalue(rebuilt, 0, 0));
    ck_assert_msg(strstr(PQgetvalue(kept, 0, 0), "5:90:2:0:0"), "%s", PQgetvalue(kept, 0, 0));
    PQclear(kept);
    PQclear(rebuilt);
    PQfinish(pg);

    /* a window before the leads: every band empty; bad parameters named */
    r = get("/v1/reports/scoring?score=engagement&to=2000-01-01", w.key);
    expect_status(r, 200, "an empty window");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(json_object_get(r->json, "data"), 0), "leads")),
                     0);
    resp_free(r);
    r = get("/v1/reports/scoring?score=vibes", w.key);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
    r = get("/v1/reports/scoring?version=0", w.key);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
    r = get("/v1/reports/scoring?from=2026-02-01&to=2026-01-01", w.key);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
}
END_TEST

/* Interactions count for engagement like touches: a call logged on the lead scores it in
 * the call's own transaction, a resend that makes it a meeting scores it again, and the
 * ledger names the rules. */
START_TEST(interactions_score_engagement)
{
    struct world w;
    char lead[40], path[128];
    long fit, eng;
    world_setup(&w, "score-interactions");
    lead_new(&w, "{\"email\":\"caller@acme.test\"}", lead);
    draft_put(&w, "{\"groups\":[{\"name\":\"talks\",\"score\":\"engagement\",\"cap\":25}],"
                  "\"rules\":[{\"id\":\"calls\",\"group\":\"talks\",\"event\":\"interaction:call\","
                  "\"points\":10},{\"id\":\"meetings\",\"group\":\"talks\","
                  "\"event\":\"interaction:meeting\",\"points\":20}]}");
    publish(&w);
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(eng, 0);
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", lead);
    struct resp *r = post(path, w.key,
                          "{\"kind\":\"call\",\"direction\":\"outbound\",\"outcome\":\"connected\","
                          "\"source\":\"crm\",\"external_id\":\"call-1\"}");
    expect_status(r, 201, "a call");
    resp_free(r);
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(eng, 10);
    r = post(path, w.key,
             "{\"kind\":\"call\",\"direction\":\"outbound\",\"outcome\":\"no_answer\","
             "\"source\":\"crm\",\"external_id\":\"call-2\"}");
    expect_status(r, 201, "a second call");
    resp_free(r);
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(eng, 20);
    /* the second call was a meeting after all: 10 + 20, capped at 25 */
    r = post(path, w.key,
             "{\"kind\":\"meeting\",\"direction\":\"outbound\",\"outcome\":\"held\","
             "\"source\":\"crm\",\"external_id\":\"call-2\"}");
    expect_status(r, 200, "the resend");
    resp_free(r);
    lead_scores(&w, lead, &fit, &eng);
    ck_assert_int_eq(eng, 25);
    PGconn *pg = pg_test();
    ck_assert_int_eq(lead_sql_long(pg,
                                   "SELECT sum(points) FROM lead_score_points WHERE lead_id = $1"
                                   " AND kind = 'engagement'",
                                   lead),
                     25);
    ck_assert_int_eq(lead_sql_long(pg,
                                   "SELECT count(*) FROM lead_score_changes WHERE lead_id = $1"
                                   " AND cause = 'interaction'",
                                   lead),
                     3);
    PQfinish(pg);
}
END_TEST

Suite *scoring_suite(void)
{
    Suite *s = suite_create("scoring");
    TCase *tc = tcase_create("scoring");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, publish_scores_every_lead_and_the_ledger_adds_up);
    tcase_add_test(tc, caps_negative_points_and_decay);
    tcase_add_test(tc, the_threshold_moves_a_lead_to_mql_once);
    tcase_add_test(tc, interactions_score_engagement);
    tcase_add_test(tc, a_draft_changes_no_score_until_published);
    tcase_add_test(tc, bad_rule_sets_are_refused_naming_the_field);
    tcase_add_test(tc, the_scoring_report_counts_sales_verdicts_per_band);
    suite_add_tcase(s, tc);
    return s;
}
