-- The one current definition of the parts that the report statements of sql/queries/ share:
-- the window's sums per key from the report tables (sql/0005_reports.sql, kept exact by
-- 40_reports.sql), its rejection reasons, and the follow-up percentiles.
--
-- A repeatable migration (sql/README.md). Every function here is written so that
-- PostgreSQL inlines it into the calling statement: LANGUAGE sql, one SELECT, STABLE or
-- IMMUTABLE, not STRICT, no SECURITY DEFINER and no SET clause (the conditions of
-- inline_set_returning_function and inline_function). Inlined, a call is its SELECT with
-- the caller's parameters in place of the arguments, planned with the rest of the
-- statement: the plan is the one the text written out in full had, and EXPLAIN in psql
-- still shows it (no Function Scan of these functions). Keep them so; a function that is
-- not inlined would be a black box to the planner, run apart for each call. Each is
-- PARALLEL SAFE too: the planner decides whether a statement may have a parallel plan
-- before it inlines, from the functions it calls, so one unmarked function would cost the
-- reports their parallel scans.
--
-- The window is the days from from_day to to_day inclusive (the days of the leads'
-- creation in the workspace's time zone); NULL leaves that side open. Its bounds are written out as expressions of the
-- arguments wherever they are used, so that inlined they are expressions of the caller's
-- parameters, which the planner uses as index bounds (a join to a row holding them could
-- only filter). The argument naming the dimension is not called dim: inside the body a
-- column of that name would win over it.


-- The first day of the whole periods ('week' or 'month') of a window starting on from_day:
-- that day when a period starts on it or it is NULL (-infinity), else the first day of the
-- next period.
CREATE OR REPLACE FUNCTION ll_report_periods_from(from_day date, period_kind text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN from_day IS NULL
                     OR from_day = date_trunc(period_kind, from_day::timestamp)::date
                THEN coalesce(from_day, '-infinity'::date)
                ELSE (date_trunc(period_kind, from_day::timestamp)
                      + ('1 ' || period_kind)::interval)::date END
$$;

-- The day after the whole periods of a window ending on to_day: the first day of the period
-- that holds the day after to_day (infinity when to_day is NULL).
CREATE OR REPLACE FUNCTION ll_report_periods_to(to_day date, period_kind text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN to_day IS NULL THEN 'infinity'::date
                ELSE date_trunc(period_kind, (to_day + 1)::timestamp)::date END
$$;

-- The same for months, as ll_report_sums and ll_report_reason_sums read them.
CREATE OR REPLACE FUNCTION ll_report_months_from(from_day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ll_report_periods_from(from_day, 'month')
$$;

CREATE OR REPLACE FUNCTION ll_report_months_to(to_day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ll_report_periods_to(to_day, 'month')
$$;

-- The window's sums per key of one dimension (0 the source, 1 to 3 the campaign by
-- attribution model, 5 and 6 the band of the fit and engagement scores): the month rows of report_days of the window's whole months, its day
-- rows before and after them, and the deltas of report_day_deltas not folded in yet
-- (ll_report_compact) of every day of the window.
CREATE OR REPLACE FUNCTION ll_report_sums(ws uuid, from_day date, to_day date,
                                          dimension smallint)
RETURNS TABLE (key text, leads numeric, mqls numeric, handed numeric, accepted numeric,
               rejected numeric, contacted numeric, opportunities numeric, won numeric,
               won_amount numeric, rating_sum numeric, rating_count numeric,
               followed numeric, lost_amount numeric)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT key, sum(leads) AS leads, sum(mqls) AS mqls, sum(handed) AS handed,
           sum(accepted) AS accepted, sum(rejected) AS rejected, sum(contacted) AS contacted,
           sum(opportunities) AS opportunities, sum(won) AS won, sum(won_amount) AS won_amount,
           sum(rating_sum) AS rating_sum, sum(rating_count) AS rating_count,
           sum(followed) AS followed, sum(lost_amount) AS lost_amount
    FROM (
        -- the month rows of the whole months inside the window
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed, d.lost_amount
        FROM report_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND d.month
          AND d.day >= ll_report_months_from(from_day)
          AND d.day < ll_report_months_to(to_day)
        UNION ALL
        -- the day rows before the first whole month
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed, d.lost_amount
        FROM report_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day < least(ll_report_months_from(from_day),
                            coalesce(to_day, 'infinity'::date) + 1)
        UNION ALL
        -- the day rows after the last whole month, or (a window without one) after the
        -- rows before: from the later of the two firsts of a month (in a window inside
        -- one month, past its end: none)
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed, d.lost_amount
        FROM report_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= greatest(ll_report_months_to(to_day),
                                ll_report_months_from(from_day))
          AND d.day <= coalesce(to_day, 'infinity'::date)
        UNION ALL
        -- the deltas not folded in yet, of every day of the window
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed, d.lost_amount
        FROM report_day_deltas d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day <= coalesce(to_day, 'infinity'::date)
    ) d
    GROUP BY key
$$;

-- The window's first-verdict rejections per key of one dimension and reason, none that sum
-- to 0: from report_reason_days and report_reason_deltas, as ll_report_sums.
CREATE OR REPLACE FUNCTION ll_report_reason_sums(ws uuid, from_day date, to_day date,
                                                 dimension smallint)
RETURNS TABLE (key text, reason text, n numeric)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT key, reason, sum(rejected) AS n
    FROM (
        -- the month rows of the whole months inside the window
        SELECT d.key, d.reason, d.rejected FROM report_reason_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND d.month
          AND d.day >= ll_report_months_from(from_day)
          AND d.day < ll_report_months_to(to_day)
        UNION ALL
        -- the day rows before the first whole month
        SELECT d.key, d.reason, d.rejected FROM report_reason_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day < least(ll_report_months_from(from_day),
                            coalesce(to_day, 'infinity'::date) + 1)
        UNION ALL
        -- the day rows after the last whole month (as in ll_report_sums)
        SELECT d.key, d.reason, d.rejected FROM report_reason_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= greatest(ll_report_months_to(to_day),
                                ll_report_months_from(from_day))
          AND d.day <= coalesce(to_day, 'infinity'::date)
        UNION ALL
        -- the deltas not folded in yet, of every day of the window
        SELECT d.key, d.reason, d.rejected FROM report_reason_deltas d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day <= coalesce(to_day, 'infinity'::date)
    ) d
    GROUP BY key, reason HAVING sum(rejected) <> 0
$$;

-- The rejection reasons per key as a JSON object of reason and count, largest first.
CREATE OR REPLACE FUNCTION ll_report_reasons(ws uuid, from_day date, to_day date,
                                             dimension smallint)
RETURNS TABLE (key text, reasons json)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT key, json_object_agg(reason, trim_scale(round(n, 4)) ORDER BY n DESC, reason)
               AS reasons
    FROM ll_report_reason_sums(ws, from_day, to_day, dimension) rs GROUP BY key
$$;

-- Whether the follow-up percentiles of a window are best read sorted (both bounds, under
-- half a year) rather than by rank (ll_report_follow_up_at). A condition of the window
-- only, so the planner keeps one way of the two for the values it is given.
CREATE OR REPLACE FUNCTION ll_report_follow_up_sorted(from_day date, to_day date)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT from_day IS NOT NULL AND to_day IS NOT NULL AND to_day - from_day < 183
$$;

-- By rank: the follow-up time at offset n (from 0) of one key's follow-up times of the
-- window in value order (report_follow_ups_rank), stepping over those outside the window;
-- best when the window holds most of them. The caller passes n = ceil(p * count) - 1 for
-- percentile p, the count being the key's followed sum of ll_report_sums.
CREATE OR REPLACE FUNCTION ll_report_follow_up_at(ws uuid, from_day date, to_day date,
                                                  dimension smallint, for_key text,
                                                  n bigint)
RETURNS SETOF bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT f.follow_up_s FROM report_follow_ups f
    WHERE f.workspace_id = ws AND f.dim = dimension AND f.key = for_key
      AND f.day >= coalesce(from_day, '-infinity'::date)
      AND f.day <= coalesce(to_day, 'infinity'::date)
    ORDER BY f.follow_up_s
    OFFSET n LIMIT 1
$$;

-- Sorted: the window's follow-up percentiles (p50, p90) per key, its follow-up times read
-- by day and sorted; best for a short window. No rows unless ll_report_follow_up_sorted.
CREATE OR REPLACE FUNCTION ll_report_follow_up_percentiles(ws uuid, from_day date,
                                                           to_day date, dimension smallint)
RETURNS TABLE (key text, p50 bigint, p90 bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT f.key, percentile_disc(0.5) WITHIN GROUP (ORDER BY f.follow_up_s) AS p50,
           percentile_disc(0.9) WITHIN GROUP (ORDER BY f.follow_up_s) AS p90
    FROM report_follow_ups f
    WHERE ll_report_follow_up_sorted(from_day, to_day)
      AND f.workspace_id = ws AND f.dim = dimension
      AND f.day >= coalesce(from_day, '-infinity'::date)
      AND f.day <= coalesce(to_day, 'infinity'::date)
    GROUP BY f.key
$$;

-- A campaign's cost inside the window from_day .. to_day: prorated by the days of its run
-- (starts_on .. ends_on) inside the window, rounded half away from zero; the whole cost
-- when the run has no start or no end, or the window has neither bound. The campaigns
-- report's cost per window and the trends report's cost per period (the period's days
-- inside the window, both bounds given, of campaigns with a whole run) are this.
CREATE OR REPLACE FUNCTION ll_report_cost(cost bigint, starts_on date, ends_on date,
                                          from_day date, to_day date)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN starts_on IS NULL OR ends_on IS NULL
                     OR (from_day IS NULL AND to_day IS NULL)
                THEN cost
                ELSE round(cost::numeric
                           * greatest(0, least(ends_on, coalesce(to_day, 'infinity'::date))
                                         - greatest(starts_on,
                                                    coalesce(from_day, '-infinity'::date))
                                         + 1)
                           / (ends_on - starts_on + 1))::bigint END
$$;

-- The first day of the period (interval 'week': the ISO week, from Monday; 'month') that
-- holds a report day. Days are the report's days already (no time zone here): a date is
-- truncated as a timestamp without time zone, never converted.
CREATE OR REPLACE FUNCTION ll_report_period(day date, period_kind text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc(period_kind, day::timestamp)::date
$$;

-- The last day of the period that starts on period_start.
CREATE OR REPLACE FUNCTION ll_report_period_end(period_start date, period_kind text)
RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (period_start::timestamp + ('1 ' || period_kind)::interval)::date - 1
$$;

-- The window's sums of one figure (leads, mqls, handed, accepted, rejected, contacted,
-- opportunities, won or won_amount) per period ('week' or 'month', ll_report_period) and
-- key of one dimension, as ll_report_sums reads them: the rows of the window's whole
-- periods (the month rows of report_days, or the rows of report_weeks), the day rows
-- before and after them, and the deltas not folded in yet. A period cut by the window
-- holds the window's days only. The figure's name and the period are constants of the
-- caller's statement, so the planner keeps one column and one way of the two.
CREATE OR REPLACE FUNCTION ll_report_period_sums(ws uuid, from_day date, to_day date,
                                                 dimension smallint, period_kind text,
                                                 figure text)
RETURNS TABLE (period date, key text, value numeric)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ll_report_period(d.day, period_kind) AS period, d.key,
           sum(CASE figure WHEN 'leads' THEN d.leads WHEN 'mqls' THEN d.mqls
                   WHEN 'handed' THEN d.handed WHEN 'accepted' THEN d.accepted
                   WHEN 'rejected' THEN d.rejected WHEN 'contacted' THEN d.contacted
                   WHEN 'opportunities' THEN d.opportunities WHEN 'won' THEN d.won
                   WHEN 'won_amount' THEN d.won_amount END) AS value
    FROM (
        -- the month rows of the whole months inside the window (months only)
        SELECT d.day, d.key,
               d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount
        FROM report_days d
        WHERE period_kind = 'month'
          AND d.workspace_id = ws AND d.dim = dimension AND d.month
          AND d.day >= ll_report_periods_from(from_day, 'month')
          AND d.day < ll_report_periods_to(to_day, 'month')
        UNION ALL
        -- the week rows of the whole weeks inside the window (weeks only)
        SELECT d.week, d.key,
               d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount
        FROM report_weeks d
        WHERE period_kind = 'week'
          AND d.workspace_id = ws AND d.dim = dimension
          AND d.week >= ll_report_periods_from(from_day, 'week')
          AND d.week < ll_report_periods_to(to_day, 'week')
        UNION ALL
        -- the day rows before the first whole period
        SELECT d.day, d.key,
               d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount
        FROM report_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day < least(ll_report_periods_from(from_day, period_kind),
                            coalesce(to_day, 'infinity'::date) + 1)
        UNION ALL
        -- the day rows after the last whole period, or (a window without one) after the
        -- rows before (as in ll_report_sums)
        SELECT d.day, d.key,
               d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount
        FROM report_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= greatest(ll_report_periods_to(to_day, period_kind),
                                ll_report_periods_from(from_day, period_kind))
          AND d.day <= coalesce(to_day, 'infinity'::date)
        UNION ALL
        -- the deltas not folded in yet, of every day of the window
        SELECT d.day, d.key,
               d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount
        FROM report_day_deltas d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day <= coalesce(to_day, 'infinity'::date)
    ) d
    GROUP BY 1, 2
$$;

-- The first days of the periods ('week' or 'month') from the one holding from_day to the
-- one holding to_day; none when either is NULL. The one function here that is not inlined,
-- on purpose (STRICT forbids it): the planner then takes its ROWS estimate, a year of
-- weeks, where it guesses 1000 rows for generate_series over timestamps. With that guess
-- the trends' plan looked costly enough (periods x groups) for JIT compilation, which
-- took 100 to 1000 ms of a statement that runs in tens.
CREATE OR REPLACE FUNCTION ll_report_periods(from_day date, to_day date, period_kind text)
RETURNS SETOF date LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 52 AS $$
    SELECT p::date
    FROM generate_series(date_trunc(period_kind, from_day::timestamp), to_day::timestamp,
                         ('1 ' || period_kind)::interval) AS p
$$;

-- The funnel's and the follow-up report's counts in the window per key of one filter
-- dimension of report_funnel_days (0 every lead, key ''; 1 to 3 the campaign by
-- attribution model; 4 the owner, key '' for none), of one source ('' every source), for
-- one key (for_key) or all (NULL): its month rows of the window's whole months, its day
-- rows before and after them, and the deltas not folded in yet, as ll_report_sums.
CREATE OR REPLACE FUNCTION ll_report_funnel_sums(ws uuid, from_day date, to_day date,
                                                 dimension smallint, for_key text,
                                                 for_source text)
RETURNS TABLE (key text, leads bigint, handed bigint, accepted bigint, qualified bigint,
               opportunity bigint, customer bigint, followed bigint, waiting bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT key, sum(leads)::bigint AS leads, sum(handed)::bigint AS handed,
           sum(accepted)::bigint AS accepted, sum(qualified)::bigint AS qualified,
           sum(opportunity)::bigint AS opportunity, sum(customer)::bigint AS customer,
           sum(followed)::bigint AS followed, sum(waiting)::bigint AS waiting
    FROM (
        -- the month rows of the whole months inside the window
        SELECT d.key, d.leads, d.handed, d.accepted, d.qualified, d.opportunity, d.customer,
               d.followed, d.waiting
        FROM report_funnel_days d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND (for_key IS NULL OR d.key = for_key) AND d.source = for_source AND d.month
          AND d.day >= ll_report_months_from(from_day)
          AND d.day < ll_report_months_to(to_day)
        UNION ALL
        -- the day rows before the first whole month
        SELECT d.key, d.leads, d.handed, d.accepted, d.qualified, d.opportunity, d.customer,
               d.followed, d.waiting
        FROM report_funnel_days d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND (for_key IS NULL OR d.key = for_key) AND d.source = for_source AND NOT d.month
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day < least(ll_report_months_from(from_day),
                            coalesce(to_day, 'infinity'::date) + 1)
        UNION ALL
        -- the day rows after the last whole month (as in ll_report_sums)
        SELECT d.key, d.leads, d.handed, d.accepted, d.qualified, d.opportunity, d.customer,
               d.followed, d.waiting
        FROM report_funnel_days d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND (for_key IS NULL OR d.key = for_key) AND d.source = for_source AND NOT d.month
          AND d.day >= greatest(ll_report_months_to(to_day),
                                ll_report_months_from(from_day))
          AND d.day <= coalesce(to_day, 'infinity'::date)
        UNION ALL
        -- the deltas not folded in yet, of every day of the window
        SELECT d.key, d.leads, d.handed, d.accepted, d.qualified, d.opportunity, d.customer,
               d.followed, d.waiting
        FROM report_funnel_deltas d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND (for_key IS NULL OR d.key = for_key) AND d.source = for_source
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day <= coalesce(to_day, 'infinity'::date)
    ) d
    GROUP BY key
$$;

-- The times in seconds from one funnel stage to the next (step 1: created to handed over,
-- 2: to accepted, 3: to qualified, 4: to opportunity, 5: to customer) of the window's leads
-- that pass the funnel's filters (campaign by model: 1 first touch, 2 last touch, 3 any
-- credited touch; source; owner; NULL: none), in value order from offset n, at most lim:
-- the index report_leads_stage<step> walked from its smallest time, stepping over the
-- leads outside the window or the filters. The funnel passes the median's rank, from its
-- kept counts.
CREATE OR REPLACE FUNCTION ll_report_stage_times(ws uuid, from_day date, to_day date,
                                                 step integer, campaign uuid, model smallint,
                                                 for_source text, owner uuid, n bigint,
                                                 lim bigint)
RETURNS SETOF float8
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    (SELECT extract(epoch FROM r.handed_at - r.created_at)::float8 FROM report_leads r
     WHERE step = 1 AND r.workspace_id = ws AND r.handed_at IS NOT NULL
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
       AND (campaign IS NULL OR CASE WHEN model = 1 THEN r.ft_campaign = campaign
                                     WHEN model = 2 THEN r.lt_campaign = campaign
                                     ELSE campaign = ANY (r.credits) END)
       AND (for_source IS NULL OR r.source = for_source)
       AND (owner IS NULL OR r.owner_id = owner)
     ORDER BY extract(epoch FROM r.handed_at - r.created_at) OFFSET n LIMIT lim)
    UNION ALL
    (SELECT extract(epoch FROM r.accepted_at - r.handed_at)::float8 FROM report_leads r
     WHERE step = 2 AND r.workspace_id = ws AND r.accepted_at IS NOT NULL
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
       AND (campaign IS NULL OR CASE WHEN model = 1 THEN r.ft_campaign = campaign
                                     WHEN model = 2 THEN r.lt_campaign = campaign
                                     ELSE campaign = ANY (r.credits) END)
       AND (for_source IS NULL OR r.source = for_source)
       AND (owner IS NULL OR r.owner_id = owner)
     ORDER BY extract(epoch FROM r.accepted_at - r.handed_at) OFFSET n LIMIT lim)
    UNION ALL
    (SELECT extract(epoch FROM r.qualified_at - r.accepted_at)::float8 FROM report_leads r
     WHERE step = 3 AND r.workspace_id = ws AND r.qualified_at IS NOT NULL
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
       AND (campaign IS NULL OR CASE WHEN model = 1 THEN r.ft_campaign = campaign
                                     WHEN model = 2 THEN r.lt_campaign = campaign
                                     ELSE campaign = ANY (r.credits) END)
       AND (for_source IS NULL OR r.source = for_source)
       AND (owner IS NULL OR r.owner_id = owner)
     ORDER BY extract(epoch FROM r.qualified_at - r.accepted_at) OFFSET n LIMIT lim)
    UNION ALL
    (SELECT extract(epoch FROM r.opportunity_at - r.qualified_at)::float8 FROM report_leads r
     WHERE step = 4 AND r.workspace_id = ws AND r.opportunity_at IS NOT NULL
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
       AND (campaign IS NULL OR CASE WHEN model = 1 THEN r.ft_campaign = campaign
                                     WHEN model = 2 THEN r.lt_campaign = campaign
                                     ELSE campaign = ANY (r.credits) END)
       AND (for_source IS NULL OR r.source = for_source)
       AND (owner IS NULL OR r.owner_id = owner)
     ORDER BY extract(epoch FROM r.opportunity_at - r.qualified_at) OFFSET n LIMIT lim)
    UNION ALL
    (SELECT extract(epoch FROM r.customer_at - r.opportunity_at)::float8 FROM report_leads r
     WHERE step = 5 AND r.workspace_id = ws AND r.customer_at IS NOT NULL
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
       AND (campaign IS NULL OR CASE WHEN model = 1 THEN r.ft_campaign = campaign
                                     WHEN model = 2 THEN r.lt_campaign = campaign
                                     ELSE campaign = ANY (r.credits) END)
       AND (for_source IS NULL OR r.source = for_source)
       AND (owner IS NULL OR r.owner_id = owner)
     ORDER BY extract(epoch FROM r.customer_at - r.opportunity_at) OFFSET n LIMIT lim)
$$;

-- The median of the times from one stage to the next (ll_report_stage_times) of n leads,
-- exactly as percentile_cont(0.5) computes it: the value at rank (n - 1) / 2 when n is
-- odd, else the two middle ones' lo + (hi - lo) * 0.5 in float8; NULL for none.
CREATE OR REPLACE FUNCTION ll_report_stage_median(ws uuid, from_day date, to_day date,
                                                  step integer, campaign uuid, model smallint,
                                                  for_source text, owner uuid, n bigint)
RETURNS TABLE (median float8)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN count(*) = 2 THEN min(v) + (max(v) - min(v)) * 0.5::float8
                ELSE min(v) END
    FROM ll_report_stage_times(ws, from_day, to_day, step, campaign, model, for_source, owner,
                               (greatest(n, 1) - 1) / 2, 2 - n % 2) AS v
    WHERE n > 0
$$;

-- The first lim (NULL: all) waiting leads (ll_report_waiting) of one owner (NULL: those of
-- none) created in the window and handed over at or after since (NULL: any time), oldest
-- hand-off first: walked by hand-off on the index report_leads_waiting_owner, or with
-- by_day (a short window, ll_report_follow_up_sorted) the window's read by day from
-- report_leads_waiting_by_day and sorted (the order's "+ interval '0'" keeps the planner
-- from walking the other index, whose order it would otherwise take). One of the four
-- parts runs: each is gated by conditions of the arguments alone.
CREATE OR REPLACE FUNCTION ll_report_waiting_leads(ws uuid, from_day date, to_day date,
                                                   owner uuid, since timestamptz,
                                                   by_day boolean, lim bigint)
RETURNS TABLE (handed_at timestamptz, lead_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    (SELECT r.handed_at, r.lead_id FROM report_leads r
     WHERE NOT by_day AND owner IS NOT NULL AND r.workspace_id = ws AND r.owner_id = owner
       AND r.handed_at IS NOT NULL AND r.first_feedback_at IS NULL
       AND r.first_attempt_at IS NULL AND r.first_contact_at IS NULL
       AND r.stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
       AND r.handed_at >= coalesce(since, '-infinity'::timestamptz)
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
     ORDER BY r.handed_at, r.lead_id LIMIT lim)
    UNION ALL
    (SELECT r.handed_at, r.lead_id FROM report_leads r
     WHERE NOT by_day AND owner IS NULL AND r.workspace_id = ws AND r.owner_id IS NULL
       AND r.handed_at IS NOT NULL AND r.first_feedback_at IS NULL
       AND r.first_attempt_at IS NULL AND r.first_contact_at IS NULL
       AND r.stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
       AND r.handed_at >= coalesce(since, '-infinity'::timestamptz)
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
     ORDER BY r.handed_at, r.lead_id LIMIT lim)
    UNION ALL
    (SELECT r.handed_at, r.lead_id FROM report_leads r
     WHERE by_day AND owner IS NOT NULL AND r.workspace_id = ws AND r.owner_id = owner
       AND r.handed_at IS NOT NULL AND r.first_feedback_at IS NULL
       AND r.first_attempt_at IS NULL AND r.first_contact_at IS NULL
       AND r.stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
       AND r.handed_at >= coalesce(since, '-infinity'::timestamptz)
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
     ORDER BY r.handed_at + interval '0', r.lead_id LIMIT lim)
    UNION ALL
    (SELECT r.handed_at, r.lead_id FROM report_leads r
     WHERE by_day AND owner IS NULL AND r.workspace_id = ws AND r.owner_id IS NULL
       AND r.handed_at IS NOT NULL AND r.first_feedback_at IS NULL
       AND r.first_attempt_at IS NULL AND r.first_contact_at IS NULL
       AND r.stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
       AND r.handed_at >= coalesce(since, '-infinity'::timestamptz)
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
     ORDER BY r.handed_at + interval '0', r.lead_id LIMIT lim)
$$;
