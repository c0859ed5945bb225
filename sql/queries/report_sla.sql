-- report_sla: GET /v1/reports/sla (server/sla.c): the two-sided SLA of one month or
-- quarter of the workspace's calendar. Its goals (sla_goals) with progress and pacing, and
-- how fast sales answered the leads handed over in the period, per owner, per team and in
-- all, from the facts of report_leads; the whole answer as one JSON text.
--
-- Parameters:
--   $1  workspace id (uuid)
--   $2  the period's first day (date), or NULL for the current month
--   $3  the period's kind: 'month' or 'quarter' (text; with $2)
--
-- Run it by hand in psql, from the repository's root:
--   \set ws '00000000-0000-0000-0000-000000000000'
--   \set sql `cat sql/queries/report_sla.sql`
--   PREPARE report_sla (uuid, date, text) AS :sql;
--   EXECUTE report_sla (:'ws', '2026-12-01', 'month');
--   DEALLOCATE report_sla;
--
-- The cohort: the leads first handed to sales (report_leads.handed_at) in the period, in
-- the workspace's time zone, read from report_leads_handed alone. For each: the response
-- time (follow_up_s: business seconds from the hand-off to the first attempt, contact or
-- feedback, the follow-up report's clock), the times to its first attempt and first
-- contact (attempt_s, contact_s: business seconds too), the time to its verdict (its
-- first accepted or rejected feedback, verdict_at, in calendar seconds: its goal is in
-- days) and its attempts since the hand-off (outbound calls, emails, meetings and messages).
--
-- A goal of sales counts each lead of its cohort as met, missed or pending:
--   first_attempt_within N: met when answered within N business hours; missed when
--     answered later, or not yet and N business hours have passed; else pending;
--   attempts K: met with K attempts or an acceptance; missed when rejected after fewer;
--     else pending;
--   verdict_within D: met with a verdict within D days; missed when later, or none yet and
--     D days have passed; else pending.
-- Its actual figure is met / (met + missed) in percent, one decimal. A goal of marketing
-- counts leads: handed over in the period (mqls), or accepted in the period
-- (accepted_leads, by report_leads.accepted_at); its pacing compares the count with the
-- target times the share of the period gone by.
WITH p AS (
    SELECT w.id AS ws, w.time_zone AS tz, w.business_days AS bd, w.business_start AS b0,
           w.business_end AS b1,
           coalesce($3::text, 'month') AS kind,
           coalesce($2::date, date_trunc('month', now() AT TIME ZONE w.time_zone)::date) AS d0
    FROM workspaces w WHERE w.id = $1),
b AS (
    SELECT p.*,
           (d0 + CASE kind WHEN 'month' THEN interval '1 month' ELSE interval '3 months' END)::date
               AS d1
    FROM p),
t AS (
    SELECT b.*, d0::timestamp AT TIME ZONE tz AS t0, d1::timestamp AT TIME ZONE tz AS t1,
           least(1.0, greatest(0.0, extract(epoch FROM now() - d0::timestamp AT TIME ZONE tz)
                                    / extract(epoch FROM d1::timestamp AT TIME ZONE tz
                                                         - d0::timestamp AT TIME ZONE tz)))
               AS elapsed
    FROM b),
-- The cohort, read from report_leads_handed alone (an index-only scan: the period's bounds
-- are subqueries, so that the scan is planned as a range of the index, not a join). The
-- times to the first attempt and contact are kept facts (business seconds when the
-- workspace has business hours); the time to the verdict is an interval here, turned into
-- seconds only for the percentiles (floor of at least 0 keeps their order).
-- (every table is joined on workspace_id = $1 itself, not on p's copy of it: so Citus sees
-- one workspace and routes the whole statement to its node)
c AS MATERIALIZED (
    SELECT r.owner_id, u.team, r.handed_at, r.follow_up_s, r.attempt_s, r.contact_s,
           r.verdict_at - r.handed_at AS verdict_t, r.verdict, r.attempts
    FROM t
    JOIN report_leads r
      ON r.workspace_id = $1
     AND r.handed_at >= (SELECT t0 FROM t) AND r.handed_at < (SELECT t1 FROM t)
    LEFT JOIN users u ON u.workspace_id = r.workspace_id AND u.id = r.owner_id),
-- materialized: the answer names each goal's figures several times. A goal of sales counts
-- its cohort in one pass, with its bounds worked out once: N business hours before now
-- (the follow-up report's overdue rule, ll_business_cutoff), D days (and the second the
-- whole seconds round off) before now.
goal AS MATERIALIZED (
    SELECT g.*, t.elapsed, t.t0, t.t1,
           CASE g.metric
               WHEN 'mqls' THEN
                   (SELECT count(*) FROM c WHERE g.owner_id IS NULL OR c.owner_id = g.owner_id)
               WHEN 'accepted_leads' THEN
                   (SELECT count(*) FROM report_leads r
                    WHERE r.workspace_id = $1 AND r.accepted_at >= t.t0
                      AND r.accepted_at < t.t1
                      AND (g.owner_id IS NULL OR r.owner_id = g.owner_id))
           END AS leads,
           s.met, s.missed, s.pending
    FROM t
    JOIN sla_goals g
      ON g.workspace_id = $1 AND g.period_start = t.d0 AND g.period_kind = t.kind
    LEFT JOIN LATERAL (
        SELECT g.within_hours * 3600::bigint AS within_s,
               ll_business_cutoff(now(), g.within_hours * 3600::bigint, t.tz, t.bd, t.b0, t.b1)
                   AS waited_since,
               make_interval(days => g.within_days, secs => 1) AS verdict_by,
               now() - make_interval(days => g.within_days, secs => 1) AS aged_since) k ON true
    LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE c.follow_up_s <= k.within_s) AS met,
               count(*) FILTER (WHERE c.follow_up_s > k.within_s
                                   OR (c.follow_up_s IS NULL AND c.handed_at < k.waited_since))
                   AS missed,
               count(*) FILTER (WHERE c.follow_up_s IS NULL AND c.handed_at >= k.waited_since)
                   AS pending
        FROM c
        WHERE g.owner_id IS NULL OR c.owner_id = g.owner_id
        HAVING g.metric = 'first_attempt_within'
        UNION ALL
        SELECT count(*) FILTER (WHERE c.attempts >= g.min_attempts OR c.verdict = 'accepted'),
               count(*) FILTER (WHERE c.attempts < g.min_attempts AND c.verdict = 'rejected'),
               count(*) FILTER (WHERE c.attempts < g.min_attempts AND c.verdict IS NULL)
        FROM c
        WHERE g.owner_id IS NULL OR c.owner_id = g.owner_id
        HAVING g.metric = 'attempts'
        UNION ALL
        SELECT count(*) FILTER (WHERE c.verdict_t < k.verdict_by),
               count(*) FILTER (WHERE c.verdict_t >= k.verdict_by
                                   OR (c.verdict_t IS NULL AND c.handed_at <= k.aged_since)),
               count(*) FILTER (WHERE c.verdict_t IS NULL AND c.handed_at > k.aged_since)
        FROM c
        WHERE g.owner_id IS NULL OR c.owner_id = g.owner_id
        HAVING g.metric = 'verdict_within')
        s ON true),
goals AS (
    SELECT coalesce(json_agg(json_build_object(
               'goal_id', goal.id, 'side',
               CASE WHEN goal.metric IN ('mqls', 'accepted_leads') THEN 'marketing'
                    ELSE 'sales' END,
               'metric', goal.metric, 'owner_id', goal.owner_id,
               'within_hours', goal.within_hours, 'min_attempts', goal.min_attempts,
               'within_days', goal.within_days, 'target', goal.target,
               'unit', CASE WHEN goal.leads IS NOT NULL THEN 'leads' ELSE 'percent' END,
               'actual',
               CASE WHEN goal.leads IS NOT NULL THEN goal.leads
                    WHEN goal.met + goal.missed > 0
                    THEN round(100.0 * goal.met / (goal.met + goal.missed), 1) END,
               'progress',
               CASE WHEN goal.leads IS NOT NULL THEN round(goal.leads::numeric / goal.target, 3)
                    WHEN goal.met + goal.missed > 0
                    THEN round(goal.met::numeric / (goal.met + goal.missed) * 100 / goal.target, 3)
                    END,
               'expected_by_now',
               CASE WHEN goal.leads IS NOT NULL THEN round(goal.target * goal.elapsed, 1) END,
               'projected',
               CASE WHEN goal.leads IS NOT NULL AND goal.elapsed > 0
                    THEN round(goal.leads / goal.elapsed, 1) END,
               'met', CASE WHEN goal.leads IS NULL THEN goal.met END,
               'missed', CASE WHEN goal.leads IS NULL THEN goal.missed END,
               'pending', CASE WHEN goal.leads IS NULL THEN goal.pending END,
               'status',
               CASE WHEN goal.leads IS NOT NULL THEN
                        CASE WHEN goal.leads >= goal.target THEN 'met'
                             WHEN goal.elapsed >= 1 THEN 'missed'
                             WHEN goal.leads >= goal.target * goal.elapsed THEN 'on_track'
                             ELSE 'behind' END
                    WHEN goal.met + goal.missed = 0 THEN 'no_data'
                    WHEN 100.0 * goal.met / (goal.met + goal.missed) >= goal.target THEN
                        CASE WHEN goal.elapsed >= 1 AND goal.pending = 0 THEN 'met'
                             ELSE 'on_track' END
                    WHEN goal.elapsed >= 1 AND goal.pending = 0 THEN 'missed'
                    ELSE 'behind' END)
               ORDER BY CASE WHEN goal.leads IS NOT NULL THEN 0 ELSE 1 END, goal.metric,
                        goal.owner_id NULLS FIRST), '[]') AS j
    FROM goal),
groups AS (
    SELECT GROUPING(c.owner_id, c.team) AS g, c.owner_id, c.team,
           json_build_object(
               'handed_to_sales', count(*),
               'answered', count(c.follow_up_s),
               'attempted', count(c.attempt_s), 'contacted', count(c.contact_s),
               'verdicts', count(c.verdict_t),
               'first_response_p50_seconds',
               percentile_disc(0.5) WITHIN GROUP (ORDER BY c.follow_up_s),
               'first_response_p95_seconds',
               percentile_disc(0.95) WITHIN GROUP (ORDER BY c.follow_up_s),
               'first_attempt_p50_seconds',
               percentile_disc(0.5) WITHIN GROUP (ORDER BY c.attempt_s),
               'first_attempt_p95_seconds',
               percentile_disc(0.95) WITHIN GROUP (ORDER BY c.attempt_s),
               'first_contact_p50_seconds',
               percentile_disc(0.5) WITHIN GROUP (ORDER BY c.contact_s),
               'first_contact_p95_seconds',
               percentile_disc(0.95) WITHIN GROUP (ORDER BY c.contact_s),
               'verdict_p50_seconds',
               greatest(0, floor(extract(epoch FROM
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY c.verdict_t))))::bigint,
               'verdict_p95_seconds',
               greatest(0, floor(extract(epoch FROM
                   percentile_disc(0.95) WITHIN GROUP (ORDER BY c.verdict_t))))::bigint,
               'response_bands', json_build_object(
                   'under_5m', count(*) FILTER (WHERE c.follow_up_s < 300),
                   '5m_15m', count(*) FILTER (WHERE c.follow_up_s >= 300 AND c.follow_up_s < 900),
                   '15m_1h', count(*) FILTER (WHERE c.follow_up_s >= 900 AND c.follow_up_s < 3600),
                   '1h_4h', count(*) FILTER (WHERE c.follow_up_s >= 3600
                                                AND c.follow_up_s < 14400),
                   '4h_24h', count(*) FILTER (WHERE c.follow_up_s >= 14400
                                                 AND c.follow_up_s < 86400),
                   'later', count(*) FILTER (WHERE c.follow_up_s >= 86400),
                   'not_yet', count(*) FILTER (WHERE c.follow_up_s IS NULL))) AS j
    FROM c
    GROUP BY GROUPING SETS ((c.owner_id, c.team), (c.team), ()))
SELECT json_build_object(
           'period', CASE t.kind WHEN 'month' THEN to_char(t.d0, 'YYYY-MM')
                                 ELSE to_char(t.d0, 'YYYY-"Q"Q') END,
           'period_kind', t.kind, 'starts_on', t.d0, 'ends_on', t.d1 - 1,
           'time_zone', t.tz, 'business_hours', t.bd IS NOT NULL,
           'elapsed', round(t.elapsed, 4),
           'as_of', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'goals', (SELECT j FROM goals),
           'all', (SELECT j FROM groups WHERE g = 3),
           'teams', coalesce((SELECT json_agg(json_build_object('team', team) :: jsonb
                                              || j :: jsonb ORDER BY team NULLS LAST)
                              FROM groups WHERE g = 2), '[]'),
           'owners', coalesce((SELECT json_agg(json_build_object('owner_id', owner_id,
                                                                 'team', team) :: jsonb
                                               || j :: jsonb ORDER BY owner_id NULLS LAST)
                               FROM groups WHERE g = 0), '[]'))::text
FROM t
