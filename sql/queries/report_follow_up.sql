-- report_follow_up: GET /v1/reports/follow-up (server/reports.c): per owner, how sales followed up
-- the window's leads handed over to them, from the facts of report_leads.
--
-- Parameters:
--   $1  workspace id (uuid)
--   $2  from: the window's first day (date), or NULL
--   $3  to: the window's last day, inclusive (date), or NULL
--   $4  the follow-up SLA in hours when the workspace has none of its own (integer;
--       LEADLOOP_SLA_HOURS)
--
-- Run it by hand in psql, from the repository's root (the file's text becomes the body of a
-- prepared statement; psql 15 has no \bind):
--   \set ws '00000000-0000-0000-0000-000000000000'
--   \set sql `cat sql/queries/report_follow_up.sql`
--   PREPARE report_follow_up (uuid, date, date, integer) AS :sql;
--   EXECUTE report_follow_up (:'ws', NULL, NULL, 24);
--   DEALLOCATE report_follow_up;
--
-- waiting: handed over, no feedback, attempt or contact yet (report_leads), still open; overdue: waiting longer than the SLA,
-- counted in the workspace's business hours when it has them (ll_sla_cutoff); the
-- follow-up times of report_leads are counted the same way.
-- Times are in the API's one format (RFC 3339, UTC, microseconds).
WITH x AS (
    SELECT r.*,
           r.first_feedback_at IS NULL AND r.first_attempt_at IS NULL
               AND r.first_contact_at IS NULL
               AND r.stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
               AS waiting
    FROM report_leads r
    WHERE r.workspace_id = $1
      AND r.day >= coalesce($2::date, '-infinity'::date)
      AND r.day <= coalesce($3::date, 'infinity'::date)
      AND r.handed_at IS NOT NULL)
SELECT owner_id, count(*) AS handed_to_sales,
       count(follow_up_s) AS followed_up,
       count(*) FILTER (WHERE waiting) AS waiting,
       count(*) FILTER (WHERE waiting AND handed_at < (SELECT ll_sla_cutoff($1, $4::integer)))
           AS overdue,
       to_char(min(handed_at) FILTER (WHERE waiting) AT TIME ZONE 'UTC',
               'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS oldest_waiting_since,
       (array_agg(lead_id ORDER BY handed_at, lead_id) FILTER (WHERE waiting))[1]
           AS oldest_waiting_lead_id,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY follow_up_s) AS follow_up_p50_seconds,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY follow_up_s) AS follow_up_p90_seconds
FROM x
GROUP BY owner_id
ORDER BY owner_id NULLS LAST
