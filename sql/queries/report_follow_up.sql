-- report_follow_up: GET /v1/reports/follow-up (server/reports.c): per owner, how sales followed up
-- the window's leads handed over to them, from kept figures (below).
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
--
-- From kept figures (sql/0032_report_funnel.sql): each owner's handed, followed-up and
-- waiting leads of the window are the sums of report_funnel_days and report_funnel_deltas
-- of dimension 4 (the owner; key '' for none) over every source (ll_report_funnel_sums); the
-- overdue are the waiting less those handed over at or after the SLA's cutoff (a few, from
-- the index of the waiting leads by owner and hand-off); the oldest waiting lead is the
-- first of that index in the window (ll_report_waiting_leads); the percentiles are the
-- follow-up times of report_follow_ups' dimension 4 at their ranks, as the campaigns
-- report's (ll_report_follow_up_at, or sorted for a short window).
WITH
cut AS (SELECT ll_sla_cutoff(w.sla_hours, w.time_zone, w.business_days, w.business_start,
                            w.business_end, $4::integer) AS at
        FROM workspaces w WHERE w.id = $1),
o AS (
    SELECT k.key, nullif(k.key, '')::uuid AS owner_id, k.handed, k.followed, k.waiting
    FROM ll_report_funnel_sums($1, $2, $3, 4::smallint, NULL, '') k
    WHERE k.handed > 0),
fu AS (
    SELECT o.key,
           (SELECT * FROM ll_report_follow_up_at($1, $2, $3, 4::smallint, o.key,
                              greatest(ceil(0.5 * o.followed) - 1, 0)::bigint)) AS p50,
           (SELECT * FROM ll_report_follow_up_at($1, $2, $3, 4::smallint, o.key,
                              greatest(ceil(0.9 * o.followed) - 1, 0)::bigint)) AS p90
    FROM o
    WHERE o.followed > 0 AND NOT ll_report_follow_up_sorted($2, $3)
    UNION ALL
    SELECT * FROM ll_report_follow_up_percentiles($1, $2, $3, 4::smallint))
SELECT o.owner_id, o.handed AS handed_to_sales, o.followed AS followed_up,
       o.waiting,
       CASE WHEN o.waiting = 0 OR cut.at IS NULL THEN 0
            ELSE o.waiting - (SELECT count(*) FROM ll_report_waiting_leads(
                     $1, $2, $3, o.owner_id, cut.at, false, NULL)) END AS overdue,
       to_char(w.handed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
           AS oldest_waiting_since,
       w.lead_id AS oldest_waiting_lead_id,
       fu.p50 AS follow_up_p50_seconds, fu.p90 AS follow_up_p90_seconds
FROM o CROSS JOIN cut
LEFT JOIN LATERAL (
    SELECT x.handed_at, x.lead_id
    FROM ll_report_waiting_leads($1, $2, $3, o.owner_id, NULL,
                                 ll_report_follow_up_sorted($2, $3), 1) x
    WHERE o.waiting > 0) w ON true
LEFT JOIN fu ON fu.key = o.key
ORDER BY o.owner_id NULLS LAST
