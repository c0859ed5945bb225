-- report_campaigns: GET /v1/reports/campaigns (server/reports.c), one row per campaign of the
-- workspace with the figures of the leads credited to it by one attribution model.
--
-- Parameters:
--   $1  workspace id (uuid)
--   $2  from: the window's first day (date), or NULL
--   $3  to: the window's last day, inclusive (date), or NULL
--   $4  attribution model (smallint): 1 first_touch, 2 last_touch, 3 linear
--
-- Run it by hand in psql, from the repository's root (the file's text becomes the body of a
-- prepared statement; psql 15 has no \bind):
--   \set ws '00000000-0000-0000-0000-000000000000'
--   \set sql `cat sql/queries/report_campaigns.sql`
--   PREPARE report_campaigns (uuid, date, date, smallint) AS :sql;
--   EXECUTE report_campaigns (:'ws', '2026-01-01', '2026-03-31', 1);
--   EXPLAIN (ANALYZE, BUFFERS) EXECUTE report_campaigns (:'ws', NULL, NULL, 3);
--   DEALLOCATE report_campaigns;
--
-- The window is the days from $2 to $3 inclusive (the days of the leads' creation in the
-- workspace's time zone); NULL leaves that side open.
-- The figures come from functions shared with the other reports, in
-- sql/functions/45_report_queries.sql: ll_report_sums, the additive figures (the month rows
-- of report_days of the window's whole months, its day rows before and after them, and the
-- deltas of report_day_deltas not folded in yet, ll_report_compact); ll_report_reasons, the
-- rejection reasons (from report_reason_days and report_reason_deltas the same way); and
-- the follow-up percentiles. PostgreSQL inlines them: the statement is planned as if their
-- SELECTs were written out here, so EXPLAIN shows the whole plan, and the window's bounds
-- (expressions of $2 and $3) are index bounds. The triggers of sql/functions/40_reports.sql
-- keep the report tables exact in every writing transaction.
-- A campaign's cost inside the window is prorated by the days of its run (starts_on ..
-- ends_on) inside it, rounded half away from zero; it is the whole cost when the run has
-- no start or end, or the window no bounds (ll_report_cost, shared with the trends).
WITH
-- keys: the campaigns, with their cost inside the window
keys AS (
    SELECT c.id::text AS key, c.id AS campaign_id, c.name, c.channel, c.status,
           ll_report_cost(c.cost, c.starts_on, c.ends_on, $2::date, $3::date) AS cost
    FROM campaigns c
    WHERE c.workspace_id = $1),
-- bk: the window's sums per key (ll_report_sums)
bk AS (SELECT * FROM ll_report_sums($1, $2, $3, $4)),
-- fu: the follow-up percentiles per key, exact either way: by rank for most windows, each
-- the row at ceil(p * n) of the key's follow-up times in value order
-- (ll_report_follow_up_at), or sorted for a short one (ll_report_follow_up_percentiles).
-- The condition is of parameters only, so the planner keeps just one of the two branches.
fu AS (
    SELECT b.key,
           (SELECT * FROM ll_report_follow_up_at($1, $2, $3, $4, b.key,
                              greatest(ceil(0.5 * b.followed) - 1, 0)::bigint)) AS p50,
           (SELECT * FROM ll_report_follow_up_at($1, $2, $3, $4, b.key,
                              greatest(ceil(0.9 * b.followed) - 1, 0)::bigint)) AS p90
    FROM bk b
    WHERE b.followed > 0 AND NOT ll_report_follow_up_sorted($2, $3)
    UNION ALL
    SELECT * FROM ll_report_follow_up_percentiles($1, $2, $3, $4))
SELECT k.campaign_id, k.name, k.channel, k.status,
       trim_scale(round(coalesce(b.leads, 0), 4)) AS leads,
       trim_scale(round(coalesce(b.mqls, 0), 4)) AS mqls,
       trim_scale(round(coalesce(b.handed, 0), 4)) AS handed_to_sales,
       trim_scale(round(coalesce(b.accepted, 0), 4)) AS accepted,
       trim_scale(round(coalesce(b.rejected, 0), 4)) AS rejected,
       CASE WHEN b.accepted + b.rejected > 0
            THEN trim_scale(round(b.accepted / (b.accepted + b.rejected), 4)) END
           AS acceptance_rate,
       coalesce(rr.reasons, '{}') AS rejection_reasons,
       CASE WHEN b.rating_count > 0
            THEN trim_scale(round(b.rating_sum / b.rating_count, 2)) END AS avg_rating,
       trim_scale(round(coalesce(b.contacted, 0), 4)) AS contacted,
       fu.p50 AS follow_up_p50_seconds, fu.p90 AS follow_up_p90_seconds,
       trim_scale(round(coalesce(b.opportunities, 0), 4)) AS opportunities,
       trim_scale(round(coalesce(b.won, 0), 4)) AS won,
       round(coalesce(b.won_amount, 0))::bigint AS won_amount,
       round(coalesce(b.lost_amount, 0))::bigint AS lost_amount, k.cost,
       CASE WHEN b.leads > 0 THEN round(k.cost / b.leads)::bigint END AS cost_per_lead,
       CASE WHEN b.accepted > 0 THEN round(k.cost / b.accepted)::bigint END
           AS cost_per_accepted_lead,
       CASE WHEN b.won > 0 THEN round(k.cost / b.won)::bigint END AS cost_per_won,
       CASE WHEN k.cost > 0
            THEN trim_scale(round((round(coalesce(b.won_amount, 0)) - k.cost) / k.cost, 4)) END
           AS roi
FROM keys k
LEFT JOIN bk b ON b.key = k.key
LEFT JOIN fu ON fu.key = k.key
LEFT JOIN ll_report_reasons($1, $2, $3, $4) rr ON rr.key = k.key
ORDER BY k.name, k.campaign_id
