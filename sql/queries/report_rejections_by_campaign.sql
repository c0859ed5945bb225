-- report_rejections_by_campaign: GET /v1/reports/rejections?group_by=campaign (server/reports.c).
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
--   \set sql `cat sql/queries/report_rejections_by_campaign.sql`
--   PREPARE report_rejections_by_campaign (uuid, date, date, smallint) AS :sql;
--   EXECUTE report_rejections_by_campaign (:'ws', NULL, NULL, 2);
--   DEALLOCATE report_rejections_by_campaign;
--
-- One row per key and reason of the window's first-verdict rejections: how many (credited
-- leads: fractional under linear attribution), the reason's label, and its share of the
-- key's rejections.
-- The window is the days from $2 to $3 inclusive (the days of the leads' creation in the
-- workspace's time zone); NULL leaves that side open. The sums come from
-- report_reason_days and report_reason_deltas through ll_report_reason_sums
-- (sql/functions/45_report_queries.sql), which PostgreSQL inlines: EXPLAIN shows its plan
-- as part of this statement's.
SELECT x.key::uuid AS campaign_id, x.reason, fr.label,
       trim_scale(round(x.n, 4)) AS rejected,
       trim_scale(round(x.n / sum(x.n) OVER (PARTITION BY x.key), 4)) AS share
FROM ll_report_reason_sums($1, $2, $3, $4) x
LEFT JOIN feedback_reasons fr ON fr.workspace_id = $1 AND fr.code = x.reason
ORDER BY x.key NULLS LAST, x.n DESC, x.reason
