/* Reports against a computation from scratch (tests/api/scratch.h): each report's figures
 * computed in SQL straight from leads, campaign_touches, lead_stage_changes, feedback and
 * interactions, without report_leads or report_days, and compared with what the report
 * endpoints answer. A merged lead is no lead of the reports: its rows count for its survivor. */
#include "scratch.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* Per lead of the window ($1 workspace, $2 from, $3 to: days of the workspace's time zone):
 * the facts, from the base tables. lc: the amount that counts for each corrected won or
 * lost entry, its latest correction's (DISTINCT ON, where the facts use a lateral LIMIT 1).
 * A lead's rating is its latest; a correction is no follow-up. Follow-up ends at the first
 * feedback or the first attempt or contact logged since the hand-off (an interaction whose
 * outcome reached the person, or any call, email, meeting or message: they go one way or
 * the other), whichever comes first. */
#define SCRATCH                                                                                    \
    "WITH lw AS (SELECT id, created_at, source, owner_id, stage FROM leads WHERE"                  \
    " workspace_id = $1 AND merged_into IS NULL AND (created_at AT TIME ZONE (SELECT time_zone"    \
    " FROM workspaces WHERE id = $1))::date BETWEEN coalesce($2::date, '-infinity')"               \
    " AND coalesce($3::date, 'infinity')),"                                                        \
    " lc AS (SELECT DISTINCT ON (corrects) corrects, amount FROM feedback WHERE"                   \
    " workspace_id = $1 AND kind = 'correction'"                                                   \
    " ORDER BY corrects, occurred_at DESC, created_at DESC, id DESC),"                             \
    " lf AS (SELECT lw.*, s.*, f.*, ia.* FROM lw"                                                  \
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
    " WHERE fe.workspace_id = $1 AND fe.lead_id = lw.id) f ON true"                                \
    " LEFT JOIN LATERAL (SELECT min(occurred_at) AS first_ia FROM interactions WHERE"              \
    " workspace_id = $1 AND lead_id = lw.id AND occurred_at >= s.ho AND (outcome IN ('connected'," \
    " 'replied', 'held') OR (kind IN ('call', 'email', 'meeting', 'message')"                      \
    " AND direction IN ('inbound', 'outbound')))) ia ON true),"                                    \
    " lf2 AS (SELECT lf.*, least(first_fb, first_ia) AS first_fu, CASE WHEN ho IS NOT NULL"        \
    " AND least(first_fb, first_ia) IS NOT NULL THEN greatest(0, floor(extract(epoch FROM"         \
    " least(first_fb, first_ia) - ho)))::bigint END AS follow_up FROM lf),"                        \
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

/* The funnel's data: $4 the model of the campaign filter, $5 campaign id, $6 source, $7
 * owner. */
static const char scratch_funnel[] = SCRATCH
    ", f AS (SELECT * FROM lf2 l WHERE ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM share s"
    " WHERE s.model = $4::int AND s.lead_id = l.id AND s.key = $5::text))"
    " AND ($6::text IS NULL OR l.source = $6) AND ($7::uuid IS NULL OR l.owner_id = $7)),"
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
    ", h AS (SELECT l.*, l.first_fu IS NULL AND l.stage IN ('mql', 'sales_accepted',"
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
    const char *p[7] = {w->ws_id, from, to, m, NULL, NULL, NULL};
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
    compared += check_report(path, w->key, scratch(pg, scratch_funnel, 7, p));
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m, "%d", i + 1);
        p[4] = w->funnel_campaigns[i];
        snprintf(path, sizeof path, "/v1/reports/funnel?attribution=%s&campaign_id=%s%s", models[i],
                 w->funnel_campaigns[i], q);
        compared += check_report(path, w->key, scratch(pg, scratch_funnel, 7, p));
    }
    p[4] = NULL;
    p[5] = "web";
    snprintf(path, sizeof path, "/v1/reports/funnel?source=web%s", q);
    compared += check_report(path, w->key, scratch(pg, scratch_funnel, 7, p));
    if (w->funnel_owner) {
        /* an owner, alone and with a source; a campaign with a source; a campaign with an
         * owner (the one pair without kept figures of its own), each model in turn */
        p[6] = w->funnel_owner;
        snprintf(path, sizeof path, "/v1/reports/funnel?owner_id=%s%s", w->funnel_owner, q);
        p[5] = NULL;
        compared += check_report(path, w->key, scratch(pg, scratch_funnel, 7, p));
        p[5] = "web";
        snprintf(path, sizeof path, "/v1/reports/funnel?owner_id=%s&source=web%s", w->funnel_owner,
                 q);
        compared += check_report(path, w->key, scratch(pg, scratch_funnel, 7, p));
        for (int i = 0; i < 3; i++) {
            snprintf(m, sizeof m, "%d", i + 1);
            p[4] = w->funnel_campaigns[i];
            p[5] = i == 1 ? NULL : "web";
            p[6] = i == 0 ? NULL : w->funnel_owner;
            snprintf(path, sizeof path, "/v1/reports/funnel?attribution=%s&campaign_id=%s%s%s%s%s",
                     models[i], w->funnel_campaigns[i], p[5] ? "&source=web" : "",
                     p[6] ? "&owner_id=" : "", p[6] ? p[6] : "", q);
            compared += check_report(path, w->key, scratch(pg, scratch_funnel, 7, p));
        }
        p[4] = p[5] = p[6] = NULL;
    }
    snprintf(path, sizeof path, "/v1/reports/follow-up?%s", q + (*q ? 1 : 0));
    compared += check_report(path, w->key, scratch(pg, scratch_follow_up, 3, p));
    return compared;
}

/* ------------------------------------------------------------------ trends and channels */

/* The report day of each lead of lf2: its creation's day in the workspace's time zone. */
#define SCRATCH_DAYS                                                                               \
    ", ld AS (SELECT l.id, (l.created_at AT TIME ZONE (SELECT time_zone FROM workspaces"           \
    " WHERE id = $1))::date AS day FROM lf2 l)"

/* The trends report's answer ({periods, data}): $4 the model (0 source, 1..3), $5 week or
 * month, $6 the figure, $7 the group (campaign, channel, source). Periods and costs are
 * computed here with their own arithmetic, not with the report's SQL functions. */
static const char scratch_trends[] = SCRATCH SCRATCH_DAYS
    ", camp AS (SELECT c.*, CASE WHEN $7::text = 'channel' THEN c.channel ELSE c.id::text END"
    " AS gkey FROM campaigns c WHERE c.workspace_id = $1 AND $7::text <> 'source'),"
    " fig AS (SELECT date_trunc($5::text, d.day::timestamp)::date AS period,"
    " coalesce(c.gkey, s.key) AS key, sum(s.w * CASE $6::text WHEN 'leads' THEN 1"
    " WHEN 'mqls' THEN (l.mql_at IS NOT NULL)::int WHEN 'accepted' THEN"
    " (l.verdict IS NOT DISTINCT FROM 'accepted')::int WHEN 'won' THEN l.won::int"
    " WHEN 'won_amount' THEN l.won_amount END) AS v"
    " FROM share s JOIN lf2 l ON l.id = s.lead_id JOIN ld d ON d.id = l.id"
    " LEFT JOIN camp c ON $7::text = 'channel' AND c.id::text = s.key"
    " WHERE s.model = $4::int AND $6::text <> 'cost' GROUP BY 1, 2),"
    " ext AS (SELECT min(a) AS a, max(b) AS b FROM (SELECT period AS a, (period::timestamp"
    " + ('1 ' || $5::text)::interval)::date - 1 AS b FROM fig WHERE v <> 0"
    " UNION ALL SELECT date_trunc($5::text, starts_on::timestamp)::date,"
    " (date_trunc($5::text, ends_on::timestamp) + ('1 ' || $5::text)::interval)::date - 1"
    " FROM camp WHERE $6::text = 'cost' AND cost > 0 AND starts_on IS NOT NULL"
    " AND ends_on IS NOT NULL) x),"
    " win AS (SELECT coalesce($2::date, ext.a) AS a, coalesce($3::date, ext.b) AS b FROM ext),"
    " per AS (SELECT p::date AS period, greatest(p::date, win.a) AS pf, least((p + ('1 ' ||"
    " $5::text)::interval)::date - 1, win.b) AS pt FROM win, generate_series(date_trunc("
    " $5::text, win.a::timestamp), win.b::timestamp, ('1 ' || $5::text)::interval) p),"
    " cost AS (SELECT per.period, c.gkey AS key, sum(round(c.cost::numeric * greatest(0,"
    " least(c.ends_on, per.pt) - greatest(c.starts_on, per.pf) + 1)"
    " / (c.ends_on - c.starts_on + 1))) AS v FROM per, camp c WHERE $6::text = 'cost'"
    " AND c.starts_on IS NOT NULL AND c.ends_on IS NOT NULL GROUP BY 1, 2),"
    " grp AS (SELECT c.gkey AS key, jsonb_build_object('campaign_id', c.id, 'name', c.name,"
    " 'channel', c.channel) AS label, c.name AS o1, c.id::text AS o2, lpad('', 3) AS o3,"
    " c.starts_on IS NOT NULL AND c.ends_on IS NOT NULL AS placed FROM camp c"
    " WHERE $7::text = 'campaign'"
    " UNION ALL SELECT ch, jsonb_build_object('channel', ch), '', '', lpad(i::text, 3, '0'), true"
    " FROM unnest(ARRAY['email', 'webinar', 'event', 'paid_search', 'paid_social', 'content',"
    " 'direct_mail', 'referral', 'other']) WITH ORDINALITY AS x (ch, i) WHERE $7::text = 'channel'"
    " UNION ALL SELECT s, jsonb_build_object('source', s), '', '', lpad(i::text, 3, '0'), true"
    " FROM unnest(ARRAY['web', 'event', 'referral', 'paid', 'outbound', 'partner', 'import',"
    " 'other']) WITH ORDINALITY AS x (s, i) WHERE $7::text = 'source'),"
    " pts AS (SELECT g.key, per.period, CASE WHEN g.placed OR $6::text <> 'cost' THEN"
    " coalesce(f.v, c.v, 0) END AS v FROM grp g CROSS JOIN per"
    " LEFT JOIN fig f ON f.key = g.key AND f.period = per.period"
    " LEFT JOIN cost c ON c.key = g.key AND c.period = per.period),"
    " rnd AS (SELECT key, period, CASE WHEN $6::text IN ('won_amount', 'cost') THEN round(v)"
    " ELSE trim_scale(round(v, 4)) END AS v FROM pts)"
    " SELECT jsonb_build_object("
    " 'periods', coalesce((SELECT jsonb_agg(jsonb_build_object('start', period, 'from', pf,"
    " 'to', pt) ORDER BY period) FROM per), '[]'),"
    " 'data', coalesce((SELECT jsonb_agg(g.label || jsonb_build_object("
    " 'total', (SELECT CASE WHEN $6::text IN ('won_amount', 'cost') THEN round(sum(v))"
    " ELSE trim_scale(round(sum(v), 4)) END FROM pts WHERE pts.key = g.key),"
    " 'values', (SELECT coalesce(jsonb_agg(v ORDER BY period), '[]') FROM rnd"
    " WHERE rnd.key = g.key)) ORDER BY g.o3, g.o1, g.o2) FROM grp g"
    " WHERE EXISTS (SELECT 1 FROM per)), '[]'))::text";

/* The campaigns report by channel: $4 the model (1..3). */
static const char scratch_channels[] = SCRATCH
    ", sc AS (SELECT c.channel, s.lead_id, sum(s.w) AS w FROM share s JOIN campaigns c"
    " ON c.workspace_id = $1 AND c.id::text = s.key WHERE s.model = $4::int GROUP BY 1, 2),"
    " a0 AS (SELECT s.channel, sum(s.w) AS leads,"
    " coalesce(sum(s.w) FILTER (WHERE l.mql_at IS NOT NULL), 0) AS mqls,"
    " coalesce(sum(s.w) FILTER (WHERE l.ho IS NOT NULL), 0) AS handed,"
    " coalesce(sum(s.w) FILTER (WHERE l.verdict = 'accepted'), 0) AS accepted,"
    " coalesce(sum(s.w) FILTER (WHERE l.verdict = 'rejected'), 0) AS rejected,"
    " coalesce(sum(s.w) FILTER (WHERE l.contacted), 0) AS contacted,"
    " coalesce(sum(s.w) FILTER (WHERE l.opp IS NOT NULL), 0) AS opportunities,"
    " coalesce(sum(s.w) FILTER (WHERE l.won), 0) AS won, sum(s.w * l.won_amount) AS won_amount,"
    " sum(s.w * l.lost_amount) AS lost_amount, sum(s.w * l.rating) AS rating_sum,"
    " sum(s.w) FILTER (WHERE l.rating IS NOT NULL) AS rating_count"
    " FROM sc s JOIN lf2 l ON l.id = s.lead_id GROUP BY s.channel),"
    " fu AS (SELECT s.channel, percentile_disc(0.5) WITHIN GROUP (ORDER BY l.follow_up) AS p50,"
    " percentile_disc(0.9) WITHIN GROUP (ORDER BY l.follow_up) AS p90 FROM sc s"
    " JOIN lf2 l ON l.id = s.lead_id WHERE l.follow_up IS NOT NULL AND $2::date IS NOT NULL"
    " AND $3::date - $2::date < 183 GROUP BY s.channel),"
    " rr AS (SELECT channel, json_object_agg(reason, n ORDER BY n DESC, reason) AS reasons"
    " FROM (SELECT s.channel, l.verdict_reason AS reason, trim_scale(round(sum(s.w), 4)) AS n"
    " FROM sc s JOIN lf2 l ON l.id = s.lead_id WHERE l.verdict = 'rejected' GROUP BY 1, 2) y"
    " GROUP BY channel),"
    " cc AS (SELECT channel, count(*) AS campaigns, sum(CASE WHEN starts_on IS NULL OR"
    " ends_on IS NULL OR ($2::date IS NULL AND $3::date IS NULL) THEN cost ELSE"
    " round(cost::numeric * greatest(0, least(ends_on, coalesce($3::date, 'infinity'))"
    " - greatest(starts_on, coalesce($2::date, '-infinity')) + 1)"
    " / (ends_on - starts_on + 1)) END) AS cost FROM campaigns WHERE workspace_id = $1"
    " GROUP BY channel),"
    " k AS (SELECT ch AS channel, i FROM unnest(ARRAY['email', 'webinar', 'event',"
    " 'paid_search', 'paid_social', 'content', 'direct_mail', 'referral', 'other'])"
    " WITH ORDINALITY AS x (ch, i))"
    " SELECT jsonb_agg(jsonb_build_object('channel', k.channel,"
    " 'campaigns', coalesce(cc.campaigns, 0),"
    " 'leads', trim_scale(round(coalesce(a.leads, 0), 4)),"
    " 'mqls', trim_scale(round(coalesce(a.mqls, 0), 4)),"
    " 'handed_to_sales', trim_scale(round(coalesce(a.handed, 0), 4)),"
    " 'accepted', trim_scale(round(coalesce(a.accepted, 0), 4)),"
    " 'rejected', trim_scale(round(coalesce(a.rejected, 0), 4)),"
    " 'acceptance_rate', CASE WHEN a.accepted + a.rejected > 0 THEN"
    " trim_scale(round(a.accepted / (a.accepted + a.rejected), 4)) END,"
    " 'rejection_reasons', coalesce(rr.reasons, '{}'),"
    " 'avg_rating', CASE WHEN a.rating_count > 0 THEN"
    " trim_scale(round(a.rating_sum / a.rating_count, 2)) END,"
    " 'contacted', trim_scale(round(coalesce(a.contacted, 0), 4)),"
    " 'follow_up_p50_seconds', fu.p50, 'follow_up_p90_seconds', fu.p90,"
    " 'opportunities', trim_scale(round(coalesce(a.opportunities, 0), 4)),"
    " 'won', trim_scale(round(coalesce(a.won, 0), 4)),"
    " 'won_amount', round(coalesce(a.won_amount, 0))::bigint,"
    " 'lost_amount', round(coalesce(a.lost_amount, 0))::bigint,"
    " 'cost', coalesce(cc.cost, 0)::bigint,"
    " 'cost_per_lead', CASE WHEN a.leads > 0 THEN round(cc.cost / a.leads)::bigint END,"
    " 'cost_per_accepted_lead', CASE WHEN a.accepted > 0 THEN"
    " round(cc.cost / a.accepted)::bigint END,"
    " 'cost_per_won', CASE WHEN a.won > 0 THEN round(cc.cost / a.won)::bigint END,"
    " 'roi', CASE WHEN cc.cost > 0 THEN trim_scale(round((round(coalesce(a.won_amount, 0))"
    " - cc.cost) / cc.cost, 4)) END) ORDER BY k.i)::text"
    " FROM k LEFT JOIN a0 a ON a.channel = k.channel LEFT JOIN fu ON fu.channel = k.channel"
    " LEFT JOIN rr ON rr.channel = k.channel LEFT JOIN cc ON cc.channel = k.channel";

/* GETs the trends report and checks its periods and data against want (stolen); 1. */
static int check_trends(const char *path, const char *key, json_t *want)
{
    struct resp *r = get(path, key);
    ck_assert_msg(r->status == 200, "GET %s: %ld %.400s", path, r->status, r->body);
    json_t *got = json_pack("{s:O?, s:O?}", "periods", json_object_get(r->json, "periods"), "data",
                            json_object_get(r->json, "data"));
    if (!json_equal(got, want)) {
        char *w = json_dumps(want, JSON_COMPACT), *g = json_dumps(got, JSON_COMPACT);
        size_t n = 0;
        while (w && g && w[n] && w[n] == g[n])
            n++;
        ck_abort_msg("GET %s differs from scratch at character %zu:\n want ...%.600s\n got  "
                     "...%.600s",
                     path, n, w ? w + (n > 80 ? n - 80 : 0) : "-",
                     g ? g + (n > 80 ? n - 80 : 0) : "-");
        free(w), free(g);
    }
    json_decref(got);
    resp_free(r);
    json_decref(want);
    return 1;
}

int scratch_compare_trends(PGconn *pg, const struct scratch_ws *w, const char *from, const char *to)
{
    static const char *const models[] = {"first_touch", "last_touch", "linear"};
    static const char *const metrics[] = {"leads", "mqls", "accepted", "won", "won_amount", "cost"};
    static const char *const groups[] = {"campaign", "channel", "source"};
    static const char *const intervals[] = {"week", "month"};
    int compared = 0;
    char q[160], path[384], m[12];
    snprintf(q, sizeof q, "%s%s%s%s", from ? "&from=" : "", from ? from : "", to ? "&to=" : "",
             to ? to : "");
    for (int g = 0; g < 3; g++)
        for (int f = 0; f < 6; f++)
            for (int i = 0; i < 2; i++) {
                /* each model once per group and figure, in turn; sources have none, and
                 * no cost */
                int model = g == 2 ? -1 : (f + i) % 3;
                if (g == 2 && f == 5)
                    continue;
                snprintf(m, sizeof m, "%d", model + 1);
                const char *p[7] = {w->ws_id, from, to, m, intervals[i], metrics[f], groups[g]};
                snprintf(path, sizeof path,
                         "/v1/reports/trends?metric=%s&interval=%s&group_by=%s%s%s%s", metrics[f],
                         intervals[i], groups[g], model >= 0 ? "&attribution=" : "",
                         model >= 0 ? models[model] : "", q);
                compared += check_trends(path, w->key, scratch(pg, scratch_trends, 7, p));
            }
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m, "%d", i + 1);
        const char *p[4] = {w->ws_id, from, to, m};
        snprintf(path, sizeof path, "/v1/reports/campaigns?group_by=channel&attribution=%s%s",
                 models[i], q);
        compared += check_report(path, w->key, scratch(pg, scratch_channels, 4, p));
    }
    return compared;
}
