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
-- The window is the days from $2 to $3 inclusive (UTC days of the leads' creation); NULL
-- leaves that side open. Its bounds are written out as expressions of $2 and $3 wherever
-- they are used, so that the planner can use them as index bounds (a join to a row holding
-- them could only filter): from = coalesce($2, -infinity), to = coalesce($3, infinity),
-- and the whole months inside it start at the first of the month on or after $2 and end
-- before the first of the month after $3.
-- The sums come from report_reason_days and report_reason_deltas (dimension 0, the source),
-- as in report_sources.sql.
WITH
-- rs: the window's first-verdict rejections per key and reason (none that sum to 0)
rs AS (
    SELECT key, reason, sum(rejected) AS n
    FROM (
        -- the month rows of the whole months inside the window
        SELECT d.key, d.reason, d.rejected FROM report_reason_days d
        WHERE d.workspace_id = $1 AND d.dim = 0 AND d.month
          AND d.day >= (CASE WHEN $2::date IS NULL
                                  OR $2::date = date_trunc('month', $2::date::timestamp)::date
                             THEN coalesce($2::date, '-infinity'::date)
                             ELSE (date_trunc('month', $2::date::timestamp)
                                   + interval '1 month')::date END)
          AND d.day < (CASE WHEN $3::date IS NULL THEN 'infinity'::date
                            ELSE date_trunc('month', ($3::date + 1)::timestamp)::date END)
        UNION ALL
        -- the day rows before the first whole month
        SELECT d.key, d.reason, d.rejected FROM report_reason_days d
        WHERE d.workspace_id = $1 AND d.dim = 0 AND NOT d.month
          AND d.day >= coalesce($2::date, '-infinity'::date)
          AND d.day < least(
                  (CASE WHEN $2::date IS NULL
                             OR $2::date = date_trunc('month', $2::date::timestamp)::date
                        THEN coalesce($2::date, '-infinity'::date)
                        ELSE (date_trunc('month', $2::date::timestamp)
                              + interval '1 month')::date END),
                  coalesce($3::date, 'infinity'::date) + 1)
        UNION ALL
        -- the day rows after the last whole month
        SELECT d.key, d.reason, d.rejected FROM report_reason_days d
        WHERE d.workspace_id = $1 AND d.dim = 0 AND NOT d.month
          AND (CASE WHEN $2::date IS NULL
                         OR $2::date = date_trunc('month', $2::date::timestamp)::date
                    THEN coalesce($2::date, '-infinity'::date)
                    ELSE (date_trunc('month', $2::date::timestamp)
                          + interval '1 month')::date END)
              < (CASE WHEN $3::date IS NULL THEN 'infinity'::date
                      ELSE date_trunc('month', ($3::date + 1)::timestamp)::date END)
          AND d.day >= greatest(
                  (CASE WHEN $3::date IS NULL THEN 'infinity'::date
                        ELSE date_trunc('month', ($3::date + 1)::timestamp)::date END),
                  coalesce($2::date, '-infinity'::date))
          AND d.day <= coalesce($3::date, 'infinity'::date)
        UNION ALL
        -- the deltas not folded in yet (ll_report_compact), of every day of the window
        SELECT d.key, d.reason, d.rejected FROM report_reason_deltas d
        WHERE d.workspace_id = $1 AND d.dim = 0
          AND d.day >= coalesce($2::date, '-infinity'::date)
          AND d.day <= coalesce($3::date, 'infinity'::date)
    ) d
    GROUP BY key, reason HAVING sum(rejected) <> 0),
x AS (SELECT * FROM rs)
SELECT x.key AS source, x.reason, fr.label,
       trim_scale(round(x.n, 4)) AS rejected,
       trim_scale(round(x.n / sum(x.n) OVER (PARTITION BY x.key), 4)) AS share
FROM x
LEFT JOIN feedback_reasons fr ON fr.workspace_id = $1 AND fr.code = x.reason
ORDER BY x.key NULLS LAST, x.n DESC, x.reason
