/* Reports against a computation from scratch (tests/api/scratch.h): each report's figures
 * computed in SQL straight from leads, campaign_touches, lead_stage_changes and feedback,
 * without report_leads or report_days, and compared with what the report endpoints
 * answer. A merged lead is no lead of the reports: its rows count for its survivor. */
#include "scratch.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* Per lead of the window ($1 workspace, $2 from, $3 to: days of the workspace's time zone):
 * the facts, from the base tables. lc: the amount that counts for each corrected won or
 * lost entry, its latest correction's (DISTINCT ON, where the facts use a lateral LIMIT 1).
 * A lead's rating is its latest; a correction is no follow-up. */
#define SCRATCH                                                                                    \
    "WITH lw AS (SELECT id, created_at, source, owner_id, stage FROM leads WHERE"                  \
    " workspace_id = $1 AND merged_into IS NULL AND (created_at AT TIME ZONE (SELECT time_zone"    \
    " FROM workspaces WHERE id = $1))::date BETWEEN coalesce($2::date, '-infinity')"               \
    " AND coalesce($3::date, 'infinity')),"                                                        \
    " lc AS (SELECT DISTINCT ON (corrects) corrects, amount FROM feedback WHERE"                   \
    " workspace_id = $1 AND kind = 'correction'"                                                   \
    " ORDER BY corrects, occurred_at DESC, created_at DESC, id DESC),"                             \
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
    " LIMIT 1) AS verdict_reason, (SELECT rating FROM feedback WHERE workspace_id = $1"            \
    " AND lead_id = lw.id AND rating IS NOT NULL ORDER BY occurred_at DESC, created_at DESC,"      \
    " id DESC LIMIT 1) AS rating,"                                                                 \
    " min(occurred_at) FILTER (WHERE kind <> 'correction') AS first_fb,"                           \
    " coalesce(bool_or(kind IN ('contacted', 'meeting_booked')), false) AS contacted,"             \
    " coalesce(bool_or(kind = 'won'), false) AS won,"                                              \
    " coalesce(sum(coalesce(lc.amount, fe.amount)) FILTER (WHERE kind = 'won'), 0) AS won_amount," \
    " coalesce(sum(coalesce(lc.amount, fe.amount)) FILTER (WHERE kind = 'lost'), 0)"               \
    " AS lost_amount FROM feedback fe LEFT JOIN lc ON lc.corrects = fe.id"                         \
    " WHERE fe.workspace_id = $1 AND fe.lead_id = lw.id) f ON true),"                              \
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
    " sum(s.w * l.lost_amount) AS lost_amount,"
    " sum(s.w * l.rating) AS rating_sum, sum(s.w) FILTER (WHERE l.rating IS NOT NULL)"
    " AS rating_count"
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
    " 'lost_amount', round(a.lost_amount)::bigint,"
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
    " coalesce(sum(won_amount), 0) AS won_amount, coalesce(sum(lost_amount), 0) AS lost_amount,"
    " coalesce(sum(rating_sum), 0) AS rating_sum,"
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

/* GETs the report and checks its data against the from-scratch answer (stolen); 1. */
static int check_report(const char *path, const char *key, json_t *want)
{
    struct resp *r = get(path, key);
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
    resp_free(r);
    json_decref(want);
    return 1;
}

int scratch_compare_all(PGconn *pg, const struct scratch_ws *w, const char *from, const char *to)
{
    int compared = 0;
    static const char *const models[] = {"first_touch", "last_touch", "linear"};
    char q[160], path[256], m[12];
    snprintf(q, sizeof q, "%s%s%s%s", from ? "&from=" : "", from ? from : "", to ? "&to=" : "",
             to ? to : "");
    const char *p[6] = {w->ws_id, from, to, m, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m, "%d", i + 1);
        snprintf(path, sizeof path, "/v1/reports/campaigns?attribution=%s%s", models[i], q);
        compared += check_report(path, w->key, scratch(pg, scratch_figures, 4, p));
        p[4] = "campaign_id";
        snprintf(path, sizeof path, "/v1/reports/rejections?group_by=campaign&attribution=%s%s",
                 models[i], q);
        compared += check_report(path, w->key, scratch(pg, scratch_rejections, 5, p));
    }
    snprintf(m, sizeof m, "0");
    snprintf(path, sizeof path, "/v1/reports/sources?%s", q + (*q ? 1 : 0));
    compared += check_report(path, w->key, scratch(pg, scratch_figures, 4, p));
    p[4] = "source";
    snprintf(path, sizeof path, "/v1/reports/rejections?group_by=source%s", q);
    compared += check_report(path, w->key, scratch(pg, scratch_rejections, 5, p));
    snprintf(m, sizeof m, "4");
    p[4] = "owner_id";
    snprintf(path, sizeof path, "/v1/reports/rejections?group_by=owner%s", q);
    compared += check_report(path, w->key, scratch(pg, scratch_rejections, 5, p));

    /* the funnel: whole, for a campaign by each model, for a source */
    p[4] = NULL;
    p[5] = NULL;
    snprintf(m, sizeof m, "1");
    snprintf(path, sizeof path, "/v1/reports/funnel?%s", q + (*q ? 1 : 0));
    compared += check_report(path, w->key, scratch(pg, scratch_funnel, 6, p));
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m, "%d", i + 1);
        p[4] = w->funnel_campaigns[i];
        snprintf(path, sizeof path, "/v1/reports/funnel?attribution=%s&campaign_id=%s%s", models[i],
                 w->funnel_campaigns[i], q);
        compared += check_report(path, w->key, scratch(pg, scratch_funnel, 6, p));
    }
    p[4] = NULL;
    p[5] = "web";
    snprintf(path, sizeof path, "/v1/reports/funnel?source=web%s", q);
    compared += check_report(path, w->key, scratch(pg, scratch_funnel, 6, p));
    snprintf(path, sizeof path, "/v1/reports/follow-up?%s", q + (*q ? 1 : 0));
    compared += check_report(path, w->key, scratch(pg, scratch_follow_up, 3, p));
    return compared;
}
