-- report_funnel: GET /v1/reports/funnel (server/reports.c): how many of the window's leads
-- reached each funnel stage, the conversion from the stage before, and the median days
-- between reaching consecutive stages (over the leads that reached both), from the
-- facts of report_leads.
--
-- Parameters:
--   $1  workspace id (uuid)
--   $2  from: the window's first day (date), or NULL
--   $3  to: the window's last day, inclusive (date), or NULL
--   $4  only the leads credited to this campaign (uuid), or NULL for all
--   $5  only the leads of this source (text), or NULL
--   $6  only the leads of this owner (uuid), or NULL
--   $7  how $4 credits a lead (smallint): 1 its first touch's campaign, 2 its last
--       credited touch's, 3 any of its credited touches' (linear)
--
-- Run it by hand in psql, from the repository's root (the file's text becomes the body of a
-- prepared statement; psql 15 has no \bind):
--   \set ws '00000000-0000-0000-0000-000000000000'
--   \set sql `cat sql/queries/report_funnel.sql`
--   PREPARE report_funnel (uuid, date, date, uuid, text, uuid, smallint) AS :sql;
--   EXECUTE report_funnel (:'ws', NULL, NULL, NULL, 'web', NULL, 1);
--   DEALLOCATE report_funnel;
--
-- $7 is a constant to the planner (the daemon's statements are planned for their values),
-- so the condition on $4 is just one of the three comparisons.
WITH a AS (
    SELECT count(*) AS n0, count(r.handed_at) AS n1, count(r.accepted_at) AS n2,
           count(r.qualified_at) AS n3, count(r.opportunity_at) AS n4, count(r.customer_at) AS n5,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM r.handed_at - r.created_at)) AS m1,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM r.accepted_at - r.handed_at)) AS m2,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM r.qualified_at - r.accepted_at)) AS m3,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM r.opportunity_at - r.qualified_at)) AS m4,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM r.customer_at - r.opportunity_at)) AS m5
    FROM report_leads r
    WHERE r.workspace_id = $1
      AND r.day >= coalesce($2::date, '-infinity'::date)
      AND r.day <= coalesce($3::date, 'infinity'::date)
      AND ($4::uuid IS NULL
           OR CASE WHEN $7::smallint = 1 THEN r.ft_campaign = $4::uuid
                   WHEN $7::smallint = 2 THEN r.lt_campaign = $4::uuid
                   ELSE $4::uuid = ANY (r.credits) END)
      AND ($5::text IS NULL OR r.source = $5)
      AND ($6::uuid IS NULL OR r.owner_id = $6))
SELECT s.stage, s.n AS leads,
       CASE WHEN s.prev > 0 THEN trim_scale(round(s.n::numeric / s.prev, 4)) END
           AS conversion_from_previous,
       trim_scale(round((s.m / 86400)::numeric, 2)) AS median_days_from_previous
FROM a, LATERAL (VALUES (1, 'new', n0, NULL::bigint, NULL::float8),
                        (2, 'mql', n1, n0, m1),
                        (3, 'sales_accepted', n2, n1, m2),
                        (4, 'sales_qualified', n3, n2, m3),
                        (5, 'opportunity', n4, n3, m4),
                        (6, 'customer', n5, n4, m5)) AS s (i, stage, n, prev, m)
ORDER BY s.i
