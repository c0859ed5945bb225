-- report_funnel: GET /v1/reports/funnel (server/reports.c): how many of the window's leads
-- reached each funnel stage, the conversion from the stage before, and the median days
-- between reaching consecutive stages (over the leads that reached both), from kept
-- figures (below).
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
--
-- From kept figures (sql/0032_report_funnel.sql, kept exact by sql/functions/40_reports.sql):
-- the counts are the sums of report_funnel_days and report_funnel_deltas for the window
-- (ll_report_funnel_sums), of one filter key: the campaign's by the model, else the owner's,
-- else every lead's, for the source or for all. A campaign and an owner at once have no
-- kept key: their counts come from the owner's leads of the window (report_leads_by_owner).
-- Each median is percentile_cont(0.5) of the times between the two stages: for a short
-- window (both bounds, under half a year: ll_report_follow_up_sorted) over its leads' times
-- read index-only (report_leads_funnel_by_day) and sorted; for a longer one read at its
-- rank (from the counts) from the stage's index in value order (ll_report_stage_median),
-- which gives what sorting gives.
WITH
counts AS (
    SELECT coalesce(sum(k.leads), 0)::bigint AS n0, coalesce(sum(k.handed), 0)::bigint AS n1,
           coalesce(sum(k.accepted), 0)::bigint AS n2,
           coalesce(sum(k.qualified), 0)::bigint AS n3,
           coalesce(sum(k.opportunity), 0)::bigint AS n4,
           coalesce(sum(k.customer), 0)::bigint AS n5
    FROM ll_report_funnel_sums($1, $2, $3,
                               CASE WHEN $4::uuid IS NOT NULL THEN $7::smallint
                                    WHEN $6::uuid IS NOT NULL THEN 4::smallint
                                    ELSE 0::smallint END,
                               coalesce($4::uuid::text, $6::uuid::text, ''),
                               coalesce($5::text, '')) k
    HAVING $4::uuid IS NULL OR $6::uuid IS NULL
    UNION ALL
    SELECT count(*), count(r.handed_at), count(r.accepted_at), count(r.qualified_at),
           count(r.opportunity_at), count(r.customer_at)
    FROM report_leads r
    WHERE $4::uuid IS NOT NULL AND $6::uuid IS NOT NULL
      AND r.workspace_id = $1 AND r.owner_id = $6
      AND r.day >= coalesce($2::date, '-infinity'::date)
      AND r.day <= coalesce($3::date, 'infinity'::date)
      AND CASE WHEN $7::smallint = 1 THEN r.ft_campaign = $4::uuid
               WHEN $7::smallint = 2 THEN r.lt_campaign = $4::uuid
               ELSE $4::uuid = ANY (r.credits) END
      AND ($5::text IS NULL OR r.source = $5)
    HAVING $4::uuid IS NOT NULL AND $6::uuid IS NOT NULL),
-- a short window (ll_report_follow_up_sorted): the medians of its leads' times, sorted
sorted AS (
    SELECT percentile_cont(0.5) WITHIN GROUP (
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
    WHERE ll_report_follow_up_sorted($2, $3)
      AND r.workspace_id = $1
      AND r.day >= coalesce($2::date, '-infinity'::date)
      AND r.day <= coalesce($3::date, 'infinity'::date)
      AND ($4::uuid IS NULL
           OR CASE WHEN $7::smallint = 1 THEN r.ft_campaign = $4::uuid
                   WHEN $7::smallint = 2 THEN r.lt_campaign = $4::uuid
                   ELSE $4::uuid = ANY (r.credits) END)
      AND ($5::text IS NULL OR r.source = $5)
      AND ($6::uuid IS NULL OR r.owner_id = $6)),
-- else each read at its rank from the stage's index (ll_report_stage_median)
a AS (
    SELECT c.*,
           CASE WHEN ll_report_follow_up_sorted($2, $3) THEN (SELECT m1 FROM sorted)
                ELSE (SELECT median FROM ll_report_stage_median($1, $2, $3, 1, $4, $7, $5, $6,
                                                                 c.n1)) END AS m1,
           CASE WHEN ll_report_follow_up_sorted($2, $3) THEN (SELECT m2 FROM sorted)
                ELSE (SELECT median FROM ll_report_stage_median($1, $2, $3, 2, $4, $7, $5, $6,
                                                                 c.n2)) END AS m2,
           CASE WHEN ll_report_follow_up_sorted($2, $3) THEN (SELECT m3 FROM sorted)
                ELSE (SELECT median FROM ll_report_stage_median($1, $2, $3, 3, $4, $7, $5, $6,
                                                                 c.n3)) END AS m3,
           CASE WHEN ll_report_follow_up_sorted($2, $3) THEN (SELECT m4 FROM sorted)
                ELSE (SELECT median FROM ll_report_stage_median($1, $2, $3, 4, $4, $7, $5, $6,
                                                                 c.n4)) END AS m4,
           CASE WHEN ll_report_follow_up_sorted($2, $3) THEN (SELECT m5 FROM sorted)
                ELSE (SELECT median FROM ll_report_stage_median($1, $2, $3, 5, $4, $7, $5, $6,
                                                                 c.n5)) END AS m5
    FROM counts c)
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
