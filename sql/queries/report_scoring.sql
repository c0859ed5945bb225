-- report_scoring: GET /v1/reports/scoring (server/scoring.c), one row per score band of
-- width 10 (0-9, 10-19, ..., 90-100: 100 counts in the last band), with how many of its
-- leads sales accepted and won, and the amount won. A lead counts in the band of its score
-- now (lead_scores), its figures come from report_leads (kept by the report triggers).
-- Leads no version scored yet are left out.
--
-- Parameters:
--   $1  workspace id (uuid)
--   $2  from: the window's first day of lead creation (date, workspace time zone), or NULL
--   $3  to: its last day, inclusive (date), or NULL
--   $4  the score: 'fit' or 'engagement'
--   $5  only leads whose scores are of this version (integer), or NULL: any version
--
-- Run it by hand in psql, from the repository's root:
--   \set ws '00000000-0000-0000-0000-000000000000'
--   \set sql `cat sql/queries/report_scoring.sql`
--   PREPARE report_scoring (uuid, date, date, text, integer) AS :sql;
--   EXECUTE report_scoring (:'ws', NULL, NULL, 'fit', NULL);
--   DEALLOCATE report_scoring;
WITH f AS (
    SELECT least(CASE WHEN $4::text = 'fit' THEN s.fit ELSE s.engagement END / 10, 9) AS band,
           (r.accepted_at IS NOT NULL) AS accepted, r.won, r.won_amount
    FROM report_leads r
    JOIN lead_scores s ON s.workspace_id = r.workspace_id AND s.lead_id = r.lead_id
    WHERE r.workspace_id = $1
      AND ($2::date IS NULL OR r.day >= $2::date) AND ($3::date IS NULL OR r.day <= $3::date)
      AND ($5::integer IS NULL OR s.version = $5::integer)
)
SELECT b.band * 10 AS score_from, CASE WHEN b.band = 9 THEN 100 ELSE b.band * 10 + 9 END AS score_to,
       count(f.band) AS leads, count(*) FILTER (WHERE f.accepted) AS accepted,
       round(count(*) FILTER (WHERE f.accepted)::numeric / nullif(count(f.band), 0), 4) AS acceptance_rate,
       count(*) FILTER (WHERE f.won) AS won,
       round(count(*) FILTER (WHERE f.won)::numeric / nullif(count(f.band), 0), 4) AS won_rate,
       coalesce(sum(f.won_amount) FILTER (WHERE f.won), 0) AS won_amount
FROM generate_series(0, 9) b (band)
LEFT JOIN f ON f.band = b.band
GROUP BY b.band
ORDER BY b.band
