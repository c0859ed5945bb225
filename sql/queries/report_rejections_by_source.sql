-- report_rejections_by_source: GET /v1/reports/rejections?group_by=source (server/reports.c).
--
-- Parameters:
--   $1  workspace id (uuid)
--   $2  from: the window's first day (date), or NULL
--   $3  to: the window's last day, inclusive (date), or NULL
--
-- Run it by hand in psql, from the repository's root (the file's text becomes the body of a
-- prepared statement; psql 15 has no \bind):
--   \set ws '00000000-0000-0000-0000-000000000000'
--   \set sql `cat sql/queries/report_rejections_by_source.sql`
--   PREPARE report_rejections_by_source (uuid, date, date) AS :sql;
--   EXECUTE report_rejections_by_source (:'ws', NULL, NULL);
--   DEALLOCATE report_rejections_by_source;
--
-- One row per key and reason of the window's first-verdict rejections: how many (credited
-- leads: fractional under linear attribution), the reason's label, and its share of the
-- key's rejections.
-- The window is the days from $2 to $3 inclusive (the days of the leads' creation in the
-- workspace's time zone); NULL leaves that side open. The sums come from
-- report_reason_days and report_reason_deltas (dimension 0, the source) through
-- ll_report_reason_sums (sql/functions/45_report_queries.sql), which PostgreSQL inlines:
-- EXPLAIN shows its plan as part of this statement's.
SELECT x.key AS source, x.reason, fr.label,
       trim_scale(round(x.n, 4)) AS rejected,
       trim_scale(round(x.n / sum(x.n) OVER (PARTITION BY x.key), 4)) AS share
FROM ll_report_reason_sums($1, $2, $3, 0::smallint) x
LEFT JOIN feedback_reasons fr ON fr.workspace_id = $1 AND fr.code = x.reason
ORDER BY x.key NULLS LAST, x.n DESC, x.reason
