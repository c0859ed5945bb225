-- report_rejections_by_owner: GET /v1/reports/rejections?group_by=owner (server/reports.c).
-- Owners have no kept sums: this one counts the facts of report_leads.
--
-- Parameters:
--   $1  workspace id (uuid)
--   $2  from: the window's first day (date), or NULL
--   $3  to: the window's last day, inclusive (date), or NULL
--
-- Run it by hand in psql, from the repository's root (the file's text becomes the body of a
-- prepared statement; psql 15 has no \bind):
--   \set ws '00000000-0000-0000-0000-000000000000'
--   \set sql `cat sql/queries/report_rejections_by_owner.sql`
--   PREPARE report_rejections_by_owner (uuid, date, date) AS :sql;
--   EXECUTE report_rejections_by_owner (:'ws', '2026-01-01', '2026-01-31');
--   DEALLOCATE report_rejections_by_owner;
--
-- One row per key and reason of the window's first-verdict rejections: how many (credited
-- leads: fractional under linear attribution), the reason's label, and its share of the
-- key's rejections.
WITH x AS (
    SELECT r.owner_id::text AS key, r.verdict_reason AS reason, count(*)::numeric AS n
    FROM report_leads r
    WHERE r.workspace_id = $1
      AND r.day >= coalesce($2::date, '-infinity'::date)
      AND r.day <= coalesce($3::date, 'infinity'::date)
      AND r.verdict = 'rejected'
    GROUP BY 1, 2)
SELECT x.key::uuid AS owner_id, x.reason, fr.label,
       trim_scale(round(x.n, 4)) AS rejected,
       trim_scale(round(x.n / sum(x.n) OVER (PARTITION BY x.key), 4)) AS share
FROM x
LEFT JOIN feedback_reasons fr ON fr.workspace_id = $1 AND fr.code = x.reason
ORDER BY x.key NULLS LAST, x.n DESC, x.reason
