-- report_sources: GET /v1/reports/sources (server/reports.c), one row per lead source, in the
-- order of the source list, with the figures of its leads (dimension 0 of the report tables).
--
-- Parameters:
--   $1  workspace id (uuid)
--   $2  from: the window's first day (date), or NULL
--   $3  to: the window's last day, inclusive (date), or NULL
--
-- Run it by hand in psql, from the repository's root (the file's text becomes the body of a
-- prepared statement; psql 15 has no \bind):
--   \set ws '00000000-0000-0000-0000-000000000000'
--   \set sql `cat sql/queries/report_sources.sql`
--   PREPARE report_sources (uuid, date, date) AS :sql;
--   EXECUTE report_sources (:'ws', '2026-01-01', NULL);
--   DEALLOCATE report_sources;
--
-- The window is the days from $2 to $3 inclusive (UTC days of the leads' creation); NULL
-- leaves that side open. Its bounds are written out as expressions of $2 and $3 wherever
-- they are used, so that the planner can use them as index bounds (a join to a row holding
-- them could only filter): from = coalesce($2, -infinity), to = coalesce($3, infinity),
-- and the whole months inside it start at the first of the month on or after $2 and end
-- before the first of the month after $3.
-- The additive figures are the sums of report_days (one row per day, and one per month, per
-- dimension and key) and report_day_deltas (changes not folded in yet, ll_report_compact):
-- the month rows of the window's whole months, the day rows before and after them, and the
-- deltas of every day of the window. The rejection reasons come from report_reason_days
-- and report_reason_deltas the same way. The triggers of sql/functions/40_reports.sql keep
-- all of them exact in every writing transaction.
-- Sources have no cost: the cost columns are null.
WITH
-- keys: the lead sources, in their order (i)
keys AS (
    SELECT s AS key, s AS source, i, NULL::bigint AS cost
    FROM unnest(ARRAY['web', 'event', 'referral', 'paid', 'outbound', 'partner', 'import',
                      'other']) WITH ORDINALITY AS s (s, i)),
-- bk: the window's sums per key
bk AS (
    SELECT key, sum(leads) AS leads, sum(mqls) AS mqls, sum(handed) AS handed,
           sum(accepted) AS accepted, sum(rejected) AS rejected, sum(contacted) AS contacted,
           sum(opportunities) AS opportunities, sum(won) AS won, sum(won_amount) AS won_amount,
           sum(rating_sum) AS rating_sum, sum(rating_count) AS rating_count,
           sum(followed) AS followed
    FROM (
        -- the month rows of the whole months inside the window
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed
        FROM report_days d
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
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed
        FROM report_days d
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
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed
        FROM report_days d
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
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed
        FROM report_day_deltas d
        WHERE d.workspace_id = $1 AND d.dim = 0
          AND d.day >= coalesce($2::date, '-infinity'::date)
          AND d.day <= coalesce($3::date, 'infinity'::date)
    ) d
    GROUP BY key),
-- fu: the follow-up percentiles per key, exact either way. By rank: the row at
-- ceil(p * n) of the key's follow-up times in value order (report_follow_ups_rank),
-- stepping over those outside the window; best when the window holds most of them.
-- Sorted: the window's follow-up times read by day and sorted; best for a short window
-- (both bounds, under half a year). The condition is of parameters only, so the planner
-- keeps just one of the two branches.
fu AS (
    SELECT b.key,
           (SELECT f.follow_up_s FROM report_follow_ups f
             WHERE f.workspace_id = $1 AND f.dim = 0 AND f.key = b.key
               AND f.day >= coalesce($2::date, '-infinity'::date)
               AND f.day <= coalesce($3::date, 'infinity'::date)
             ORDER BY f.follow_up_s
             OFFSET greatest(ceil(0.5 * b.followed) - 1, 0)::bigint LIMIT 1) AS p50,
           (SELECT f.follow_up_s FROM report_follow_ups f
             WHERE f.workspace_id = $1 AND f.dim = 0 AND f.key = b.key
               AND f.day >= coalesce($2::date, '-infinity'::date)
               AND f.day <= coalesce($3::date, 'infinity'::date)
             ORDER BY f.follow_up_s
             OFFSET greatest(ceil(0.9 * b.followed) - 1, 0)::bigint LIMIT 1) AS p90
    FROM bk b
    WHERE b.followed > 0
      AND NOT ($2::date IS NOT NULL AND $3::date IS NOT NULL
           AND $3::date - $2::date < 183)
    UNION ALL
    SELECT f.key, percentile_disc(0.5) WITHIN GROUP (ORDER BY f.follow_up_s) AS p50,
           percentile_disc(0.9) WITHIN GROUP (ORDER BY f.follow_up_s) AS p90
    FROM report_follow_ups f
    WHERE ($2::date IS NOT NULL AND $3::date IS NOT NULL
           AND $3::date - $2::date < 183)
      AND f.workspace_id = $1 AND f.dim = 0
      AND f.day >= coalesce($2::date, '-infinity'::date)
      AND f.day <= coalesce($3::date, 'infinity'::date)
    GROUP BY f.key),
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
-- rr: the reasons per key as a JSON object, largest first
rr AS (
    SELECT key, json_object_agg(reason, trim_scale(round(n, 4)) ORDER BY n DESC, reason)
               AS reasons
    FROM rs GROUP BY key)
SELECT k.source,
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
       round(coalesce(b.won_amount, 0))::bigint AS won_amount, k.cost,
       CASE WHEN b.leads > 0 THEN round(k.cost / b.leads)::bigint END AS cost_per_lead,
       CASE WHEN b.accepted > 0 THEN round(k.cost / b.accepted)::bigint END
           AS cost_per_accepted_lead,
       CASE WHEN b.won > 0 THEN round(k.cost / b.won)::bigint END AS cost_per_won,
       CASE WHEN k.cost > 0
            THEN trim_scale(round((round(coalesce(b.won_amount, 0)) - k.cost) / k.cost, 4)) END
           AS roi
FROM keys k
LEFT JOIN bk b ON b.key = k.key
LEFT JOIN fu ON fu.key = k.key
LEFT JOIN rr ON rr.key = k.key
ORDER BY k.i
