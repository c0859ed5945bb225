-- report_scoring: GET /v1/reports/scoring (server/scoring.c), one row per score band of
-- width 10 (0-9, 10-19, ..., 90-100: 100 counts in the last band), with how many of its
-- leads sales accepted (their first verdict: accepted, as in the campaigns report) and won,
-- and the amount won. A lead counts in the band of its score now (lead_scores). Leads no
-- version scored yet are left out.
--
-- Every scored lead, or the leads of the version in force once its rescore finished (they
-- are then all of them): from the kept figures of report dimension 5 (fit) or 6
-- (engagement), whose keys are the bands (ll_report_sums, as the campaigns report), for
-- any window at the same cost. Another version, or the version in force while its rescore
-- runs: the window's facts (report_leads) joined with the leads' scores.
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
WITH v AS (
    SELECT $5::integer IS NULL
           OR EXISTS (SELECT 1 FROM scoring_runs s WHERE s.workspace_id = $1
                      AND s.version = $5::integer AND s.finished_at IS NOT NULL) AS kept),
f AS (
    SELECT x.key::integer / 10 AS band, x.leads, x.accepted, x.won, x.won_amount
    FROM ll_report_sums($1, $2::date, $3::date,
                        CASE WHEN $4::text = 'fit' THEN 5 ELSE 6 END::smallint) x
    WHERE (SELECT kept FROM v)
    UNION ALL
    SELECT ll_score_band(CASE WHEN $4::text = 'fit' THEN s.fit ELSE s.engagement END) / 10,
           1, (r.verdict = 'accepted')::integer, r.won::integer, r.won_amount
    FROM report_leads r
    JOIN lead_scores s ON s.workspace_id = r.workspace_id AND s.lead_id = r.lead_id
    WHERE NOT (SELECT kept FROM v) AND r.workspace_id = $1
      AND ($2::date IS NULL OR r.day >= $2::date) AND ($3::date IS NULL OR r.day <= $3::date)
      AND s.version = $5::integer),
t AS (
    SELECT b.band, coalesce(sum(f.leads), 0)::bigint AS leads,
           coalesce(sum(f.accepted), 0)::bigint AS accepted,
           coalesce(sum(f.won), 0)::bigint AS won,
           coalesce(sum(f.won_amount), 0)::bigint AS won_amount
    FROM generate_series(0, 9) b (band)
    LEFT JOIN f ON f.band = b.band
    GROUP BY b.band)
SELECT t.band * 10 AS score_from, CASE WHEN t.band = 9 THEN 100 ELSE t.band * 10 + 9 END AS score_to,
       t.leads, t.accepted, round(t.accepted::numeric / nullif(t.leads, 0), 4) AS acceptance_rate,
       t.won, round(t.won::numeric / nullif(t.leads, 0), 4) AS won_rate, t.won_amount
FROM t
ORDER BY t.band
