-- report_trends: GET /v1/reports/trends (server/reports.c): one figure as a time series,
-- one row per group, in the groups' order, with its value of each period (ISO week from
-- Monday, or month) of the window as an array in the periods' order.
--
-- Parameters:
--   $1  workspace id (uuid)
--   $2  from: the window's first day (date), or NULL
--   $3  to: the window's last day, inclusive (date), or NULL
--   $4  dimension (smallint): 0 the lead's source (group_by=source), 1 first_touch,
--       2 last_touch, 3 linear (how a lead is credited to a campaign)
--   $5  period (text): week or month
--   $6  figure (text): leads, mqls, accepted, won, won_amount or cost
--   $7  group (text): campaign, channel or source
--
-- Run it by hand in psql, from the repository's root (the file's text becomes the body of a
-- prepared statement; psql 15 has no \bind):
--   \set ws '00000000-0000-0000-0000-000000000000'
--   \set sql `cat sql/queries/report_trends.sql`
--   PREPARE report_trends (uuid, date, date, smallint, text, text, text) AS :sql;
--   EXECUTE report_trends (:'ws', '2026-01-01', '2026-06-30', 1, 'week', 'leads', 'channel');
--   EXPLAIN (ANALYZE, BUFFERS) EXECUTE report_trends (:'ws', NULL, NULL, 3, 'month', 'won', 'campaign');
--   DEALLOCATE report_trends;
--
-- Days are report days (report_leads.day: a lead's figures count on the day it was
-- created), and the window is the days from $2 to $3 inclusive; a period cut by the window
-- holds the window's days only (its from and to say which). An open side of the window
-- reaches to the first (last) period that holds a figure, or for cost a day of a
-- campaign's run. Every period of the window is listed for every group, 0 where it holds
-- nothing. The figures come from ll_report_period_sums (sql/functions/45_report_queries.sql),
-- which PostgreSQL inlines: months read the month rows of report_days, weeks the rows of
-- report_weeks, and the periods the window cuts the day rows.
-- Cost is each campaign's cost prorated by the days of its run inside the period's days
-- (ll_report_cost, as the campaigns report does for a window), each period rounded on its
-- own; a campaign without both starts_on and ends_on cannot be placed in time: its cost
-- is null in every period, and a channel's sums leave it out. A channel's figures are the
-- sums of its campaigns'. total is the sum of the group's periods before rounding.
-- The channels (in the order of vocab_channels, server/vocab.c) and sources (of
-- vocab_lead_sources) are all listed, as the sources report lists its sources.
WITH
-- the campaigns (for group_by campaign or channel), each with its group's key
camp AS (
    SELECT c.id, c.name, c.channel, c.cost, c.starts_on, c.ends_on,
           CASE WHEN $7::text = 'channel' THEN c.channel ELSE c.id::text END AS gkey
    FROM campaigns c
    WHERE c.workspace_id = $1 AND $7::text <> 'source'),
-- the figure's sums per period and key of the dimension (no rows for cost)
ps AS (
    SELECT p.period, p.key, p.value
    FROM ll_report_period_sums($1, $2::date, $3::date, $4::smallint, $5::text, $6::text) p
    WHERE $6::text <> 'cost'),
-- the window: the days asked for, or the extent of the figures on an open side
win AS (
    SELECT coalesce($2::date, min(x.first_day)) AS from_day,
           coalesce($3::date, max(x.last_day)) AS to_day
    FROM (SELECT ps.period AS first_day, ll_report_period_end(ps.period, $5::text) AS last_day
          FROM ps WHERE ps.value <> 0
          UNION ALL
          SELECT ll_report_period(c.starts_on, $5::text), ll_report_period_end(
                     ll_report_period(c.ends_on, $5::text), $5::text)
          FROM camp c
          WHERE $6::text = 'cost' AND c.cost > 0 AND c.starts_on IS NOT NULL
            AND c.ends_on IS NOT NULL) x),
-- the periods of the window, each with the window's days in it
per AS (
    SELECT p.period, greatest(p.period, w.from_day) AS from_day,
           least(ll_report_period_end(p.period, $5::text), w.to_day) AS to_day
    FROM win w, ll_report_periods(w.from_day, w.to_day, $5::text) AS p (period)),
-- the groups, in their order (g)
grp AS (
    SELECT c.gkey AS key, row_number() OVER (ORDER BY c.name, c.id) AS g, c.id AS campaign_id,
           c.name, c.channel, NULL::text AS source,
           c.starts_on IS NOT NULL AND c.ends_on IS NOT NULL AS placed
    FROM camp c WHERE $7::text = 'campaign'
    UNION ALL
    SELECT ch, i, NULL, NULL, ch, NULL, true
    FROM unnest(ARRAY['email', 'webinar', 'event', 'paid_search', 'paid_social', 'content',
                      'direct_mail', 'referral', 'other']) WITH ORDINALITY AS x (ch, i)
    WHERE $7::text = 'channel'
    UNION ALL
    SELECT s, i, NULL, NULL, NULL, s, true
    FROM unnest(ARRAY['web', 'event', 'referral', 'paid', 'outbound', 'partner', 'import',
                      'other']) WITH ORDINALITY AS x (s, i)
    WHERE $7::text = 'source'),
-- the figure per period and group: the sums (of a channel's campaigns for channels), or
-- the prorated costs
v AS (
    SELECT ps.period, coalesce(c.gkey, ps.key) AS key, sum(ps.value) AS value
    FROM ps LEFT JOIN camp c ON $7::text = 'channel' AND c.id::text = ps.key
    GROUP BY 1, 2
    UNION ALL
    SELECT per.period, c.gkey,
           sum(ll_report_cost(c.cost, c.starts_on, c.ends_on, per.from_day, per.to_day))
    FROM per, camp c
    WHERE $6::text = 'cost' AND c.starts_on IS NOT NULL AND c.ends_on IS NOT NULL
    GROUP BY 1, 2),
-- the figure's values of each key, by period (a period's text: its first day)
vk AS (
    SELECT v.key, jsonb_object_agg(v.period::text, v.value) AS m
    FROM v GROUP BY v.key),
-- the groups, or one row of no group (a workspace without campaigns)
gs AS (
    SELECT * FROM grp
    UNION ALL
    SELECT NULL, NULL, NULL::uuid, NULL, NULL, NULL, NULL WHERE NOT EXISTS (SELECT FROM grp))
-- one row per group (g null: no group), its value in every period of the window as an
-- array in the periods' order (each looked up in its key's values, 0 where it has none),
-- the periods' days as arrays (on the first group's row only, or the row of no group),
-- and total over them. Built per group rather than by joining every period of every group
-- with the values: 24,000 points (200 campaigns, 120 weeks) took 95 ms that way.
SELECT g.g, g.campaign_id, g.name, g.channel, g.source,
       CASE WHEN g.g IS NULL OR g.g = 1
            THEN (SELECT array_agg(period ORDER BY period) FROM per) END AS periods,
       CASE WHEN g.g IS NULL OR g.g = 1
            THEN (SELECT array_agg(from_day ORDER BY period) FROM per) END AS period_from,
       CASE WHEN g.g IS NULL OR g.g = 1
            THEN (SELECT array_agg(to_day ORDER BY period) FROM per) END AS period_to,
       x."values", x.total
FROM gs g
LEFT JOIN vk ON vk.key = g.key
CROSS JOIN LATERAL (
    SELECT array_agg(CASE WHEN $6::text IN ('won_amount', 'cost') THEN round(p.value)
                          ELSE trim_scale(round(p.value, 4)) END ORDER BY p.period) AS "values",
           CASE WHEN $6::text IN ('won_amount', 'cost') THEN round(sum(p.value))
                ELSE trim_scale(round(sum(p.value), 4)) END AS total
    FROM (SELECT per.period,
                 CASE WHEN g.placed OR $6::text <> 'cost'
                      THEN coalesce((vk.m ->> per.period::text)::numeric, 0) END AS value
          FROM per) p) x
WHERE EXISTS (SELECT FROM per) -- a window of no period has no rows
ORDER BY g.g
