-- report_channels: GET /v1/reports/campaigns?group_by=channel (server/reports.c), one row per
-- campaign channel, all of them in the order of vocab_channels (server/vocab.c), with the
-- figures of the campaigns report summed over the channel's campaigns.
--
-- Parameters:
--   $1  workspace id (uuid)
--   $2  from: the window's first day (date), or NULL
--   $3  to: the window's last day, inclusive (date), or NULL
--   $4  attribution model (smallint): 1 first_touch, 2 last_touch, 3 linear
--
-- Run it by hand in psql, from the repository's root (the file's text becomes the body of a
-- prepared statement; psql 15 has no \bind):
--   \set ws '00000000-0000-0000-0000-000000000000'
--   \set sql `cat sql/queries/report_channels.sql`
--   PREPARE report_channels (uuid, date, date, smallint) AS :sql;
--   EXECUTE report_channels (:'ws', '2026-01-01', '2026-03-31', 1);
--   EXPLAIN (ANALYZE, BUFFERS) EXECUTE report_channels (:'ws', NULL, NULL, 3);
--   DEALLOCATE report_channels;
--
-- The window is the days from $2 to $3 inclusive (report days, as the campaigns report's);
-- NULL leaves that side open. The additive figures and the rejection reasons are the sums
-- of the channel's campaigns' (ll_report_sums, ll_report_reason_sums: a lead credited to
-- two campaigns of a channel under linear attribution counts its two shares, 1 in all at
-- most); cost is the sum of the campaigns' costs in the window (ll_report_cost); rates,
-- the average rating, costs per lead and ROI are computed from the sums, as the campaigns
-- report computes them from a campaign's. The follow-up percentiles are exact over the
-- channel's credited leads with a follow-up time, each lead once: under first and last
-- touch a lead has one campaign, so the channel's times are its campaigns' times in
-- report_follow_ups; under linear a lead credited to several campaigns of the channel
-- has a row for each, counted once by its lead id. They are given for windows with both
-- bounds under half a year (ll_report_follow_up_sorted) and null otherwise: a channel's
-- times cannot be read by rank from one key's index as a campaign's are, and sorting
-- two years of them took 0.2 s (first touch) to 2 s (linear, with the lead ids) at 1M
-- leads (bench/reports.sh data, 170,000 leads with a follow-up time).
WITH
-- keys: the channels, in their order (i)
keys AS (
    SELECT ch AS channel, i
    FROM unnest(ARRAY['email', 'webinar', 'event', 'paid_search', 'paid_social', 'content',
                      'direct_mail', 'referral', 'other']) WITH ORDINALITY AS x (ch, i)),
-- camp: the campaigns, with their channel and cost inside the window
camp AS (
    SELECT c.id::text AS key, c.channel,
           ll_report_cost(c.cost, c.starts_on, c.ends_on, $2::date, $3::date) AS cost
    FROM campaigns c
    WHERE c.workspace_id = $1),
cc AS (SELECT channel, count(*) AS campaigns, sum(cost) AS cost FROM camp GROUP BY channel),
-- bk: the window's sums per channel: its campaigns' sums (ll_report_sums)
bk AS (
    SELECT c.channel, sum(b.leads) AS leads, sum(b.mqls) AS mqls, sum(b.handed) AS handed,
           sum(b.accepted) AS accepted, sum(b.rejected) AS rejected,
           sum(b.contacted) AS contacted, sum(b.opportunities) AS opportunities,
           sum(b.won) AS won, sum(b.won_amount) AS won_amount,
           sum(b.lost_amount) AS lost_amount,
           sum(b.rating_sum) AS rating_sum, sum(b.rating_count) AS rating_count
    FROM ll_report_sums($1, $2, $3, $4) b JOIN camp c ON c.key = b.key
    GROUP BY c.channel),
-- rr: the rejection reasons per channel, largest first
rr AS (
    SELECT channel, json_object_agg(reason, trim_scale(round(n, 4)) ORDER BY n DESC, reason)
               AS reasons
    FROM (SELECT c.channel, r.reason, sum(r.n) AS n
          FROM ll_report_reason_sums($1, $2, $3, $4) r JOIN camp c ON c.key = r.key
          GROUP BY 1, 2 HAVING sum(r.n) <> 0) x
    GROUP BY channel),
-- fu: the follow-up percentiles per channel, over its credited leads' times in the window
-- sorted: each lead's time once (linear: counted by lead id); short windows only
ft AS (
    SELECT c.channel, NULL::uuid AS lead_id, f.follow_up_s
    FROM report_follow_ups f JOIN camp c ON c.key = f.key
    WHERE $4::smallint <> 3 AND ll_report_follow_up_sorted($2::date, $3::date)
      AND f.workspace_id = $1 AND f.dim = $4
      AND f.day >= coalesce($2::date, '-infinity'::date)
      AND f.day <= coalesce($3::date, 'infinity'::date)
    UNION ALL
    SELECT DISTINCT c.channel, f.lead_id, f.follow_up_s
    FROM report_follow_ups f JOIN camp c ON c.key = f.key
    WHERE $4::smallint = 3 AND ll_report_follow_up_sorted($2::date, $3::date)
      AND f.workspace_id = $1 AND f.dim = $4
      AND f.day >= coalesce($2::date, '-infinity'::date)
      AND f.day <= coalesce($3::date, 'infinity'::date)),
fu AS (
    SELECT channel, percentile_disc(0.5) WITHIN GROUP (ORDER BY follow_up_s) AS p50,
           percentile_disc(0.9) WITHIN GROUP (ORDER BY follow_up_s) AS p90
    FROM ft GROUP BY channel)
SELECT k.channel, coalesce(cc.campaigns, 0) AS campaigns,
       trim_scale(round(coalesce(b.leads, 0), 4)) AS leads,
       trim_scale(round(coalesce(b.mqls, 0), 4)) AS mqls,
       trim_scale(round(coalesce(b.handed, 0), 4)) AS handed_to_sales,
       trim_scale(round(coalesce(b.accepted, 0), 4)) AS accepted,
       trim_scale(round(coalesce(b.rejected, 0), 4)) AS rejected,
       CASE WHEN b.accepted + b.rejected > 0
            THEN trim_scale(round(b.accepted / (b.accepted + b.rejected), 4)) END
           AS acceptance_rate,
       coalesce(rr.reasons, '{}') AS rejection_reasons,
       CASE WHEN b.rating_count > 0
            THEN trim_scale(round(b.rating_sum / b.rating_count, 2)) END AS avg_rating,
       trim_scale(round(coalesce(b.contacted, 0), 4)) AS contacted,
       fu.p50 AS follow_up_p50_seconds, fu.p90 AS follow_up_p90_seconds,
       trim_scale(round(coalesce(b.opportunities, 0), 4)) AS opportunities,
       trim_scale(round(coalesce(b.won, 0), 4)) AS won,
       round(coalesce(b.won_amount, 0))::bigint AS won_amount,
       round(coalesce(b.lost_amount, 0))::bigint AS lost_amount,
       coalesce(cc.cost, 0)::bigint AS cost,
       CASE WHEN b.leads > 0 THEN round(cc.cost / b.leads)::bigint END AS cost_per_lead,
       CASE WHEN b.accepted > 0 THEN round(cc.cost / b.accepted)::bigint END
           AS cost_per_accepted_lead,
       CASE WHEN b.won > 0 THEN round(cc.cost / b.won)::bigint END AS cost_per_won,
       CASE WHEN cc.cost > 0
            THEN trim_scale(round((round(coalesce(b.won_amount, 0)) - cc.cost) / cc.cost, 4))
            END AS roi
FROM keys k
LEFT JOIN cc ON cc.channel = k.channel
LEFT JOIN bk b ON b.channel = k.channel
LEFT JOIN fu ON fu.channel = k.channel
LEFT JOIN rr ON rr.channel = k.channel
ORDER BY k.i
