-- The one current definition of the functions and triggers that keep the report
-- tables (sql/0005_reports.sql) exact.
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.
--
-- report_leads holds one row of facts per lead (its attribution, when it reached each
-- stage, sales' first verdict, its latest rating, won and lost amounts), recomputed from the lead's own rows
-- by ll_report_refresh. The additive figures per dimension, key and day are the sums of
-- report_days (per day, and again per month) and report_day_deltas: a refresh appends
-- the difference between a lead's old and new facts to the deltas (appending takes no
-- lock, so concurrent writes never queue behind a shared figure's row), and
-- ll_report_compact, run every second by the daemon, folds them into report_days in one
-- transaction. A report reads both, so it is exact whether or not the deltas were folded.
-- Statement triggers on leads, campaign_touches, lead_stage_changes, feedback and
-- interactions call the refresh at the end of every writing statement, so no write path
-- can forget it, and a bulk statement refreshes its leads in one set-based pass.


-- The band of a score (0..100) in the report facts and dimensions 5 (fit) and 6
-- (engagement): the first score of its band of ten, 100 in the band of 90; none for none.
-- Inlined where it is used (not STRICT: a strict SQL function over least(), which skips
-- a NULL, is called, at 20 us a call).
CREATE OR REPLACE FUNCTION ll_score_band(score smallint) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN score >= 90 THEN 90 ELSE score / 10 * 10 END)::smallint
$$;

-- Whether a lead's facts say it waits for sales: handed over, no feedback, attempt or
-- contact yet, and still in sales' stages (the follow-up report's waiting; the partial
-- index report_leads_waiting_owner is over the same condition, written out).
CREATE OR REPLACE FUNCTION ll_report_waiting(handed_at timestamptz, first_feedback_at timestamptz,
                                             first_attempt_at timestamptz,
                                             first_contact_at timestamptz, stage text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT handed_at IS NOT NULL AND first_feedback_at IS NULL AND first_attempt_at IS NULL
           AND first_contact_at IS NULL
           AND stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
$$;

-- The facts of some leads as their rows say now. A merged lead has none: its rows count
-- for its survivor. Its day is the day it was created in its workspace's time zone, and its
-- follow-up time, and its times to the first attempt and the first contact (the SLA
-- report's), are counted in the workspace's business hours when it has them
-- (sql/functions/35_time.sql).
--
-- PL/pgSQL, not SQL: Citus cannot plan a SQL function that reads distributed tables with
-- parameters, and the refresh reads the result once into its CTE either way.
CREATE OR REPLACE FUNCTION ll_report_facts(ws uuid, ids uuid[]) RETURNS SETOF report_leads
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT l.workspace_id, l.id, l.created_at, ll_report_day(l.created_at, w.time_zone),
           l.source, l.owner_id, l.stage, t.ft, t.credits[cardinality(t.credits)],
           coalesce(t.credits, '{}'), s.mql_at, s.handed_at, s.accepted_at, s.qualified_at,
           s.opportunity_at, s.customer_at, f.verdict[1], f.verdict_reason[1], f.first_at,
           -- (called only when both ends are known: NULL otherwise, and a new lead's
           -- facts skip the three calls, 30 ms of a batch of 1,000)
           CASE WHEN s.handed_at IS NOT NULL
                     AND least(f.first_at, i.attempt_at, i.contact_at) IS NOT NULL THEN
           ll_business_seconds(s.handed_at, least(f.first_at, i.attempt_at, i.contact_at),
                               w.time_zone, w.business_days, w.business_start, w.business_end)
           END,
           coalesce(f.contacted, false), coalesce(f.won, false),
           coalesce(f.won_amount, 0)::bigint, coalesce(f.rating_sum, 0)::integer,
           coalesce(f.rating_count, 0)::integer, coalesce(f.lost_amount, 0)::bigint,
           i.attempt_at, i.contact_at, f.verdict_at, coalesce(i.attempts, 0)::integer,
           CASE WHEN s.handed_at IS NOT NULL AND i.attempt_at IS NOT NULL THEN
           ll_business_seconds(s.handed_at, i.attempt_at, w.time_zone, w.business_days,
                               w.business_start, w.business_end) END,
           CASE WHEN s.handed_at IS NOT NULL AND i.contact_at IS NOT NULL THEN
           ll_business_seconds(s.handed_at, i.contact_at, w.time_zone, w.business_days,
                               w.business_start, w.business_end) END
    FROM leads l
    JOIN workspaces w ON w.id = ws
    LEFT JOIN LATERAL (
        SELECT min(changed_at) FILTER (WHERE to_stage = 'mql') AS mql_at,
               min(changed_at) FILTER (WHERE to_stage IN ('mql', 'sales_accepted',
                   'sales_qualified', 'opportunity', 'customer')) AS handed_at,
               min(changed_at) FILTER (WHERE to_stage IN ('sales_accepted', 'sales_qualified',
                   'opportunity', 'customer')) AS accepted_at,
               min(changed_at) FILTER (WHERE to_stage IN ('sales_qualified', 'opportunity',
                   'customer')) AS qualified_at,
               min(changed_at) FILTER (WHERE to_stage IN ('opportunity', 'customer'))
                   AS opportunity_at,
               min(changed_at) FILTER (WHERE to_stage = 'customer') AS customer_at
        FROM lead_stage_changes WHERE workspace_id = ws AND lead_id = l.id) s ON true
    LEFT JOIN LATERAL (
        SELECT x.ft, CASE WHEN cardinality(x.cr) > 0 THEN x.cr ELSE ARRAY[x.ft] END AS credits
        FROM (SELECT (array_agg(campaign_id ORDER BY occurred_at, id))[1] AS ft,
                     coalesce(array_agg(campaign_id ORDER BY occurred_at, id) FILTER (
                         WHERE s.handed_at IS NULL OR occurred_at <= s.handed_at), '{}') AS cr
              FROM campaign_touches WHERE workspace_id = ws AND lead_id = l.id) x
        WHERE x.ft IS NOT NULL) t ON true
    -- Sales' feedback: the verdict is the first accepted or rejected entry; a won or lost
    -- entry counts with the amount of its latest correction (by occurred_at, created_at,
    -- id), if any, else its own; the rating is the lead's latest (rating_sum the rating,
    -- rating_count 1, so that the figures' sums give the mean over rated leads). A
    -- correction is no follow-up: it leaves first_at alone.
    LEFT JOIN LATERAL (
        SELECT array_agg(kind ORDER BY occurred_at, created_at, id)
                   FILTER (WHERE kind IN ('accepted', 'rejected')) AS verdict,
               array_agg(reason ORDER BY occurred_at, created_at, id)
                   FILTER (WHERE kind IN ('accepted', 'rejected')) AS verdict_reason,
               min(occurred_at) FILTER (WHERE kind IN ('accepted', 'rejected')) AS verdict_at,
               min(occurred_at) FILTER (WHERE kind <> 'correction') AS first_at,
               bool_or(kind IN ('contacted', 'meeting_booked')) AS contacted,
               bool_or(kind = 'won') AS won,
               sum(coalesce(c.amount, fb.amount)) FILTER (WHERE kind = 'won') AS won_amount,
               sum(coalesce(c.amount, fb.amount)) FILTER (WHERE kind = 'lost') AS lost_amount,
               (array_agg(rating ORDER BY occurred_at DESC, created_at DESC, id DESC)
                   FILTER (WHERE rating IS NOT NULL))[1] AS rating_sum,
               least(count(rating), 1) AS rating_count
        FROM feedback fb
        LEFT JOIN LATERAL (
            SELECT x.amount FROM feedback x
            WHERE fb.kind IN ('won', 'lost') AND x.workspace_id = ws AND x.corrects = fb.id
            ORDER BY x.occurred_at DESC, x.created_at DESC, x.id DESC LIMIT 1) c ON true
        WHERE fb.workspace_id = ws AND fb.lead_id = l.id) f ON true
    -- The interactions logged since the hand-off (none before it: the clock is not
    -- running): the first attempt (an outbound call, email, meeting or message) and the
    -- first contact (one that reached the person: outcome connected, replied or held, or
    -- an inbound call, email, meeting or message). Either stops the follow-up clock as the
    -- first feedback does; and the attempts since the hand-off (the SLA report's). Read
    -- through interactions_by_lead.
    LEFT JOIN LATERAL (
        SELECT min(occurred_at) FILTER (WHERE direction = 'outbound'
                   AND kind IN ('call', 'email', 'meeting', 'message')) AS attempt_at,
               min(occurred_at) FILTER (WHERE outcome IN ('connected', 'replied', 'held')
                   OR (direction = 'inbound' AND kind IN ('call', 'email', 'meeting', 'message')))
                   AS contact_at,
               count(*) FILTER (WHERE direction = 'outbound'
                   AND kind IN ('call', 'email', 'meeting', 'message')) AS attempts
        FROM interactions
        WHERE workspace_id = ws AND lead_id = l.id AND occurred_at >= s.handed_at) i ON true
    WHERE l.workspace_id = ws AND l.id = ANY (ids) AND l.merged_into IS NULL;
END
$$;

-- Brings the facts of some leads and the figures they contribute up to date. The leads'
-- rows are locked first (FOR NO KEY UPDATE: it waits for another refresh of the same lead
-- but not for foreign-key checks), and the next statement's snapshot sees what the other
-- transaction committed; the figures change by new minus old, so a lead whose facts did
-- not change leaves the figures alone. For a few leads its statements run on generic
-- plans: planning the big one costs ten times what running it for one lead does (1.2 ms
-- against 0.14 ms). For many (a batch, an import, a bulk fix) they are planned for the
-- call, with the tables' sizes of the moment: a generic plan kept from when the tables
-- were small would loop where it should hash.
--
-- With rebucket, the facts are not recomputed from the leads' rows: only what depends on
-- the workspace's time zone and business hours (the day, the follow-up time and the times
-- to the first attempt and contact) is recomputed from the kept facts, for
-- ll_report_rebucket.
--
-- Every refresh first takes its workspace's calendar lock shared, which a change of the
-- workspace's time zone or business hours holds exclusively while it re-buckets: facts are
-- never computed with settings that are being replaced. An advisory lock, not a share
-- lock on the workspace's row: that one wrote the row's lockers into it (a multixact for
-- two writers at once) on every write of the workspace.
CREATE OR REPLACE FUNCTION ll_report_refresh(ws uuid, ids uuid[], rebucket boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    -- (and always on Citus, which cannot route a generic plan of these statements)
    IF cardinality(ids) > 20 OR current_setting('citus.version', true) IS NOT NULL THEN
        PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);
    END IF;
    PERFORM pg_advisory_xact_lock_shared(hashtext('ll_report_calendar'), hashtext(ws::text));
    PERFORM 1 FROM leads WHERE workspace_id = ws AND id = ANY (ids) ORDER BY id
        FOR NO KEY UPDATE;
    WITH n AS (
        SELECT * FROM ll_report_facts(ws, ids) WHERE NOT rebucket
        UNION ALL
        SELECT r.workspace_id, r.lead_id, r.created_at, ll_report_day(r.created_at, w.time_zone),
               r.source, r.owner_id, r.stage, r.ft_campaign, r.lt_campaign, r.credits, r.mql_at,
               r.handed_at, r.accepted_at, r.qualified_at, r.opportunity_at, r.customer_at,
               r.verdict, r.verdict_reason, r.first_feedback_at,
               ll_business_seconds(r.handed_at, least(r.first_feedback_at, r.first_attempt_at,
                                                      r.first_contact_at),
                                   w.time_zone, w.business_days, w.business_start,
                                   w.business_end),
               r.contacted, r.won, r.won_amount, r.rating_sum, r.rating_count, r.lost_amount,
               r.first_attempt_at, r.first_contact_at, r.verdict_at, r.attempts,
               ll_business_seconds(r.handed_at, r.first_attempt_at, w.time_zone,
                                   w.business_days, w.business_start, w.business_end),
               ll_business_seconds(r.handed_at, r.first_contact_at, w.time_zone,
                                   w.business_days, w.business_start, w.business_end)
        FROM report_leads r JOIN workspaces w ON w.id = ws
        WHERE rebucket AND r.workspace_id = ws AND r.lead_id = ANY (ids)),
    o AS (SELECT * FROM report_leads WHERE workspace_id = ws AND lead_id = ANY (ids)),
    w AS (
        INSERT INTO report_leads SELECT * FROM n
        ON CONFLICT (workspace_id, lead_id) DO UPDATE SET
            created_at = excluded.created_at, day = excluded.day, source = excluded.source,
            owner_id = excluded.owner_id, stage = excluded.stage,
            ft_campaign = excluded.ft_campaign, lt_campaign = excluded.lt_campaign,
            credits = excluded.credits, mql_at = excluded.mql_at,
            handed_at = excluded.handed_at, accepted_at = excluded.accepted_at,
            qualified_at = excluded.qualified_at, opportunity_at = excluded.opportunity_at,
            customer_at = excluded.customer_at, verdict = excluded.verdict,
            verdict_reason = excluded.verdict_reason,
            first_feedback_at = excluded.first_feedback_at, follow_up_s = excluded.follow_up_s,
            contacted = excluded.contacted, won = excluded.won,
            won_amount = excluded.won_amount, rating_sum = excluded.rating_sum,
            rating_count = excluded.rating_count, lost_amount = excluded.lost_amount,
            first_attempt_at = excluded.first_attempt_at,
            first_contact_at = excluded.first_contact_at,
            verdict_at = excluded.verdict_at, attempts = excluded.attempts,
            attempt_s = excluded.attempt_s, contact_s = excluded.contact_s
        WHERE report_leads IS DISTINCT FROM excluded),
    gone AS (
        DELETE FROM report_leads x WHERE x.workspace_id = ws AND x.lead_id = ANY (ids)
            AND NOT EXISTS (SELECT 1 FROM n WHERE n.lead_id = x.lead_id)),
    c AS (SELECT 1 AS sign, * FROM n UNION ALL SELECT -1, * FROM o),
    k AS (
        SELECT c.*, 0::smallint AS dim, c.source AS key, 1::numeric AS w FROM c
        UNION ALL
        SELECT c.*, 1::smallint, c.ft_campaign::text, 1 FROM c WHERE c.ft_campaign IS NOT NULL
        UNION ALL
        SELECT c.*, 2::smallint, c.lt_campaign::text, 1 FROM c WHERE c.lt_campaign IS NOT NULL
        UNION ALL
        SELECT c.*, 3::smallint, x.campaign::text, x.k::numeric / cardinality(c.credits)
        FROM c, LATERAL (SELECT campaign, count(*) AS k FROM unnest(c.credits) AS campaign
                         GROUP BY campaign) x
        UNION ALL
        -- the bands of the lead's scores now, for its old facts and its new alike: a rescore
        -- that changes a band moves the lead's figures itself (ll_report_band_deltas), under
        -- the lead's lock as here; per lead an index lookup, never a hash of every score
        SELECT c.*, v.dim, v.band::text, 1
        FROM c
        CROSS JOIN LATERAL (SELECT (SELECT y FROM lead_scores y WHERE y.workspace_id = ws
                                    AND y.lead_id = c.lead_id) AS y) q
        CROSS JOIN LATERAL (VALUES (5::smallint, ll_score_band((q.y).fit)),
                                   (6::smallint, ll_score_band((q.y).engagement))) v (dim, band)
        WHERE q.y IS NOT NULL),
    fch AS (
        SELECT coalesce(n.lead_id, o.lead_id) AS lead_id FROM n FULL JOIN o ON o.lead_id = n.lead_id
        WHERE (n.follow_up_s, n.day, n.source, n.ft_campaign, n.lt_campaign, n.credits,
               n.owner_id)
              IS DISTINCT FROM (o.follow_up_s, o.day, o.source, o.ft_campaign, o.lt_campaign,
                                o.credits, o.owner_id)),
    -- the follow-up times per source and campaign (dims 0 to 3), and per owner (dim 4,
    -- key '' for none: the follow-up report's percentiles)
    fnew AS (
        SELECT ws AS workspace_id, k.lead_id, k.dim, k.key, k.day, k.follow_up_s FROM k
        WHERE k.sign = 1 AND k.follow_up_s IS NOT NULL AND k.dim < 5
          AND k.lead_id IN (SELECT lead_id FROM fch)
        UNION ALL
        SELECT ws, n.lead_id, 4::smallint, coalesce(n.owner_id::text, ''), n.day, n.follow_up_s
        FROM n WHERE n.follow_up_s IS NOT NULL AND n.lead_id IN (SELECT lead_id FROM fch)),
    fdel AS (
        DELETE FROM report_follow_ups f WHERE f.workspace_id = ws
            AND f.lead_id IN (SELECT lead_id FROM fch)
            AND NOT EXISTS (SELECT 1 FROM fnew WHERE fnew.lead_id = f.lead_id
                            AND fnew.dim = f.dim AND fnew.key = f.key)),
    fins AS (
        INSERT INTO report_follow_ups SELECT * FROM fnew ORDER BY lead_id, dim, key
        ON CONFLICT (workspace_id, lead_id, dim, key) DO UPDATE SET
            day = excluded.day, follow_up_s = excluded.follow_up_s),
    rd AS (
        INSERT INTO report_reason_deltas
        SELECT ws, k.dim, k.day, k.key, k.verdict_reason, sum(sign * w)
        FROM k WHERE k.verdict = 'rejected' AND k.dim < 5
        GROUP BY 2, 3, 4, 5
        HAVING sum(sign * w) <> 0),
    -- the funnel's and follow-up report's counts (report_funnel_days) per filter key: every
    -- lead (dim 0), its first and last touch's campaign (1, 2), each campaign it credits
    -- once (3), its owner (4); each for all sources ('') and for its own
    fk AS (
        SELECT c.*, 0::smallint AS dim, ''::text AS key FROM c
        UNION ALL
        SELECT c.*, 1::smallint, c.ft_campaign::text FROM c WHERE c.ft_campaign IS NOT NULL
        UNION ALL
        SELECT c.*, 2::smallint, c.lt_campaign::text FROM c WHERE c.lt_campaign IS NOT NULL
        UNION ALL
        SELECT c.*, 3::smallint, x.campaign::text
        FROM c, LATERAL (SELECT DISTINCT campaign FROM unnest(c.credits) AS campaign) x
        UNION ALL
        SELECT c.*, 4::smallint, coalesce(c.owner_id::text, '') FROM c),
    fd AS (
        SELECT f.dim, f.key, s.src, f.day, sum(f.sign) AS leads,
               coalesce(sum(f.sign) FILTER (WHERE f.handed_at IS NOT NULL), 0) AS handed,
               coalesce(sum(f.sign) FILTER (WHERE f.accepted_at IS NOT NULL), 0) AS accepted,
               coalesce(sum(f.sign) FILTER (WHERE f.qualified_at IS NOT NULL), 0) AS qualified,
               coalesce(sum(f.sign) FILTER (WHERE f.opportunity_at IS NOT NULL), 0)
                   AS opportunity,
               coalesce(sum(f.sign) FILTER (WHERE f.customer_at IS NOT NULL), 0) AS customer,
               coalesce(sum(f.sign) FILTER (WHERE f.follow_up_s IS NOT NULL), 0) AS followed,
               coalesce(sum(f.sign) FILTER (WHERE ll_report_waiting(f.handed_at,
                   f.first_feedback_at, f.first_attempt_at, f.first_contact_at, f.stage)), 0)
                   AS waiting
        FROM fk f CROSS JOIN LATERAL (VALUES (''::text), (f.source)) AS s (src)
        GROUP BY 1, 2, 3, 4),
    fdi AS (
        INSERT INTO report_funnel_deltas
        SELECT ws, dim, key, src, day, leads, handed, accepted, qualified, opportunity,
               customer, followed, waiting
        FROM fd
        WHERE leads <> 0 OR handed <> 0 OR accepted <> 0 OR qualified <> 0 OR opportunity <> 0
           OR customer <> 0 OR followed <> 0 OR waiting <> 0),
    d AS (
        SELECT k.dim, k.day, k.key,
               sum(sign * w) AS leads,
               sum(sign * w) FILTER (WHERE mql_at IS NOT NULL) AS mqls,
               sum(sign * w) FILTER (WHERE handed_at IS NOT NULL) AS handed,
               sum(sign * w) FILTER (WHERE verdict = 'accepted') AS accepted,
               sum(sign * w) FILTER (WHERE verdict = 'rejected') AS rejected,
               sum(sign * w) FILTER (WHERE contacted) AS contacted,
               sum(sign * w) FILTER (WHERE opportunity_at IS NOT NULL) AS opportunities,
               sum(sign * w) FILTER (WHERE won) AS won,
               sum(sign * w * won_amount) AS won_amount,
               sum(sign * w * rating_sum) AS rating_sum,
               sum(sign * w * rating_count) AS rating_count,
               sum(sign::numeric) FILTER (WHERE follow_up_s IS NOT NULL) AS followed,
               sum(sign * w * lost_amount) AS lost_amount
        FROM k GROUP BY 1, 2, 3)
    INSERT INTO report_day_deltas
    SELECT ws, dim, day, key, leads, coalesce(mqls, 0), coalesce(handed, 0),
           coalesce(accepted, 0), coalesce(rejected, 0), coalesce(contacted, 0),
           coalesce(opportunities, 0), coalesce(won, 0), won_amount, rating_sum, rating_count,
           coalesce(followed, 0), lost_amount
    FROM d
    WHERE leads <> 0 OR mqls <> 0 OR handed <> 0 OR accepted <> 0 OR rejected <> 0
       OR contacted <> 0 OR opportunities <> 0 OR won <> 0 OR won_amount <> 0
       OR rating_sum <> 0 OR rating_count <> 0 OR followed <> 0 OR lost_amount <> 0;
END
$$;

-- Moves leads' figures between the bands of their scores in the kept figures of
-- dimensions 5 (fit) and 6 (engagement): move i takes lead ids[i]'s figures (its kept
-- facts) times signs[i] (1 or -1) to band bands[i] of dimension dims[i]. ll_score_leads
-- calls it when a rescore changes a lead's bands (minus in the old band, plus in the new),
-- for up to every lead of a workspace: not a refresh, which recomputes every fact and
-- dimension (1 s per 10,000 leads), but one statement over the kept facts, which writes
-- nothing to them. The figures are ll_report_refresh's (the d above), lead by lead;
-- tests/api/test_scoring.c compares them with a rebuild. The caller has locked the leads'
-- rows (FOR NO KEY UPDATE, as a refresh locks them) in an earlier statement: a refresh of
-- the same lead waits, or was waited for and is seen.
CREATE OR REPLACE FUNCTION ll_report_band_deltas(ws uuid, ids uuid[], dims smallint[],
                                                 bands smallint[], signs integer[])
RETURNS void LANGUAGE sql AS $$
    WITH k AS (
        SELECT r.*, m.dim, m.band::text AS key, m.sign
        FROM unnest(ids, dims, bands, signs) AS m (lead_id, dim, band, sign)
        JOIN report_leads r ON r.workspace_id = ws AND r.lead_id = m.lead_id
        WHERE m.band IS NOT NULL),
    d AS (
        SELECT k.dim, k.day, k.key,
               sum(sign) AS leads,
               coalesce(sum(sign) FILTER (WHERE mql_at IS NOT NULL), 0) AS mqls,
               coalesce(sum(sign) FILTER (WHERE handed_at IS NOT NULL), 0) AS handed,
               coalesce(sum(sign) FILTER (WHERE verdict = 'accepted'), 0) AS accepted,
               coalesce(sum(sign) FILTER (WHERE verdict = 'rejected'), 0) AS rejected,
               coalesce(sum(sign) FILTER (WHERE contacted), 0) AS contacted,
               coalesce(sum(sign) FILTER (WHERE opportunity_at IS NOT NULL), 0) AS opportunities,
               coalesce(sum(sign) FILTER (WHERE won), 0) AS won,
               sum(sign * won_amount) AS won_amount, sum(sign * rating_sum) AS rating_sum,
               sum(sign * rating_count) AS rating_count,
               coalesce(sum(sign) FILTER (WHERE follow_up_s IS NOT NULL), 0) AS followed,
               sum(sign * lost_amount) AS lost_amount
        FROM k GROUP BY 1, 2, 3)
    INSERT INTO report_day_deltas
    SELECT ws, dim, day, key, leads, mqls, handed, accepted, rejected, contacted,
           opportunities, won, won_amount, rating_sum, rating_count, followed, lost_amount
    FROM d
    WHERE leads <> 0 OR mqls <> 0 OR handed <> 0 OR accepted <> 0 OR rejected <> 0
       OR contacted <> 0 OR opportunities <> 0 OR won <> 0 OR won_amount <> 0
       OR rating_sum <> 0 OR rating_count <> 0 OR followed <> 0 OR lost_amount <> 0
$$;

-- Refreshes the leads of the rows a statement wrote, per workspace (ll_report_refresh): row
-- i was of workspace ws[i] and lead ids[i]; a lead may come more than once. Every report
-- trigger below ends here, with the rows of its transition tables that matter.
CREATE OR REPLACE FUNCTION ll_report_refresh_rows(ws uuid[], ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT x.workspace_id, array_agg(DISTINCT x.lead_id) AS lead_ids
             FROM unnest(ws, ids) AS x (workspace_id, lead_id) GROUP BY x.workspace_id LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.lead_ids);
    END LOOP;
END
$$;

-- Statement triggers: the leads a statement wrote, per workspace. Updates and deletes
-- are refreshed too, so that a correction made in SQL by an operator keeps the figures
-- right as well.
CREATE OR REPLACE FUNCTION ll_report_on_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(workspace_id), array_agg(lead_id)) FROM written;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION ll_report_on_rows_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(workspace_id), array_agg(lead_id))
    FROM (SELECT workspace_id, lead_id FROM written
          UNION ALL SELECT workspace_id, lead_id FROM previous) x;
    RETURN NULL;
END
$$;

-- Inserted touches, stage changes, feedback, interactions and leads refresh their leads,
-- except where that was done already: a lead whose facts were written later in this
-- transaction (or subtransaction: the comparison is of the row's xmin with the facts')
-- than the row, by a higher command id, was refreshed by another trigger of the statement, which ran after
-- it and saw everything it wrote. So a statement that creates leads with their rows (the
-- created touch, the first stage row) refreshes each lead's facts once, whatever order
-- its statement triggers fire in. No fact depends on a stage history row to 'new', the
-- first row of every lead. The five differ only in the table (named in the query, so that
-- its plan is kept: the xmin and cmin are the table's row's, not the transition table's).
-- The test is a subquery per written row (in the select list, so that it stays one: two
-- index lookups), not an anti-join: planned as a join it hashed the whole table and its
-- facts, 100,000 leads or 300,000 touches, for every batch that wrote 1,000.
CREATE OR REPLACE FUNCTION ll_report_on_touches() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(x.workspace_id), array_agg(x.lead_id))
    FROM (SELECT w.workspace_id, w.lead_id, EXISTS (
              SELECT 1 FROM campaign_touches t JOIN report_leads f
                  ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
              WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                  AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint) AS done
          FROM written w) x
    WHERE NOT x.done;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION ll_report_on_stage_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(x.workspace_id), array_agg(x.lead_id))
    FROM (SELECT w.workspace_id, w.lead_id, EXISTS (
              SELECT 1 FROM lead_stage_changes t JOIN report_leads f
                  ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
              WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                  AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint) AS done
          FROM written w WHERE w.to_stage <> 'new') x
    WHERE NOT x.done;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION ll_report_on_feedback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(x.workspace_id), array_agg(x.lead_id))
    FROM (SELECT w.workspace_id, w.lead_id, EXISTS (
              SELECT 1 FROM feedback t JOIN report_leads f
                  ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
              WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                  AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint) AS done
          FROM written w) x
    WHERE NOT x.done;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION ll_report_on_interactions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(x.workspace_id), array_agg(x.lead_id))
    FROM (SELECT w.workspace_id, w.lead_id, EXISTS (
              SELECT 1 FROM interactions t JOIN report_leads f
                  ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
              WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                  AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint) AS done
          FROM written w) x
    WHERE NOT x.done;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION ll_report_on_leads_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(x.workspace_id), array_agg(x.id))
    FROM (SELECT w.workspace_id, w.id, EXISTS (
              SELECT 1 FROM leads t JOIN report_leads f
                  ON f.workspace_id = t.workspace_id AND f.lead_id = t.id
              WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                  AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint) AS done
          FROM written w) x
    WHERE NOT x.done;
    RETURN NULL;
END
$$;

-- A deleted lead leaves the figures.
CREATE OR REPLACE FUNCTION ll_report_on_leads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(workspace_id), array_agg(id)) FROM written;
    RETURN NULL;
END
$$;

-- An update matters when it changes what the facts take from the lead itself (a merge
-- included); stage moves are seen through lead_stage_changes. A lead whose facts were
-- written after this version of its row, in this transaction, is left alone: a trigger of
-- the same statement (ll_lead_move writes the lead and its stage row together) refreshed
-- it after the update.
CREATE OR REPLACE FUNCTION ll_report_on_leads_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- planned on every call (EXECUTE): a plan kept from a one-row update joins the
    -- transition tables row by row, 80 s for a 20,000-row update
    EXECUTE 'SELECT ll_report_refresh_rows(array_agg(n.workspace_id), array_agg(n.id))'
            ' FROM written n JOIN previous o ON o.workspace_id = n.workspace_id AND o.id = n.id'
            ' WHERE (n.source, n.owner_id, n.created_at, n.merged_into)'
            ' IS DISTINCT FROM (o.source, o.owner_id, o.created_at, o.merged_into)'
            ' AND NOT EXISTS (SELECT 1 FROM leads t JOIN report_leads f'
            ' ON f.workspace_id = t.workspace_id AND f.lead_id = t.id'
            ' WHERE t.workspace_id = n.workspace_id AND t.id = n.id'
            ' AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint)';
    RETURN NULL;
END
$$;

-- On Citus the same refreshes run from row triggers (a query that reads a statement
-- trigger's transition table cannot be distributed): each written row refreshes its lead
-- (its old and new lead for an update) after the statement, on the worker that holds it.
-- A lead is refreshed as often as the statement wrote rows of it: more work than one
-- set-based pass, the same facts.
CREATE OR REPLACE FUNCTION ll_report_on_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ws uuid;
    a uuid;
    b uuid;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        ws := NEW.workspace_id;
        IF TG_ARGV[0] = 'id' THEN a := NEW.id; ELSE a := NEW.lead_id; END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        ws := OLD.workspace_id;
        IF TG_ARGV[0] = 'id' THEN b := OLD.id; ELSE b := OLD.lead_id; END IF;
    END IF;
    PERFORM ll_report_refresh(ws, CASE WHEN a IS NULL THEN ARRAY[b]
                                       WHEN b IS NULL OR b = a THEN ARRAY[a]
                                       ELSE ARRAY[a, b] END);
    RETURN NULL;
END
$$;

DO $do$
BEGIN
    IF ll_distributed('leads') THEN
        SET LOCAL citus.enable_unsafe_triggers = on;
        DROP TRIGGER IF EXISTS campaign_touches_report_update ON campaign_touches;
        DROP TRIGGER IF EXISTS campaign_touches_report_delete ON campaign_touches;
        DROP TRIGGER IF EXISTS lead_stage_changes_report_update ON lead_stage_changes;
        DROP TRIGGER IF EXISTS lead_stage_changes_report_delete ON lead_stage_changes;
        DROP TRIGGER IF EXISTS feedback_report_update ON feedback;
        DROP TRIGGER IF EXISTS feedback_report_delete ON feedback;
        DROP TRIGGER IF EXISTS interactions_report_update ON interactions;
        DROP TRIGGER IF EXISTS interactions_report_delete ON interactions;
        DROP TRIGGER IF EXISTS leads_report_insert ON leads;
        DROP TRIGGER IF EXISTS leads_report_delete ON leads;
        DROP TRIGGER IF EXISTS leads_report_update ON leads;
        DROP TRIGGER IF EXISTS campaign_touches_report ON campaign_touches;
        DROP TRIGGER IF EXISTS lead_stage_changes_report ON lead_stage_changes;
        DROP TRIGGER IF EXISTS feedback_report ON feedback;
        DROP TRIGGER IF EXISTS interactions_report ON interactions;
        CREATE TRIGGER campaign_touches_report AFTER INSERT OR UPDATE OR DELETE
            ON campaign_touches FOR EACH ROW EXECUTE FUNCTION ll_report_on_row('lead_id');
        CREATE TRIGGER lead_stage_changes_report AFTER INSERT ON lead_stage_changes
            FOR EACH ROW WHEN (NEW.to_stage <> 'new')
            EXECUTE FUNCTION ll_report_on_row('lead_id');
        CREATE TRIGGER lead_stage_changes_report_update AFTER UPDATE OR DELETE
            ON lead_stage_changes FOR EACH ROW EXECUTE FUNCTION ll_report_on_row('lead_id');
        CREATE TRIGGER feedback_report AFTER INSERT OR UPDATE OR DELETE ON feedback
            FOR EACH ROW EXECUTE FUNCTION ll_report_on_row('lead_id');
        CREATE TRIGGER interactions_report AFTER INSERT OR UPDATE OR DELETE ON interactions
            FOR EACH ROW EXECUTE FUNCTION ll_report_on_row('lead_id');
        CREATE TRIGGER leads_report_insert AFTER INSERT OR DELETE ON leads
            FOR EACH ROW EXECUTE FUNCTION ll_report_on_row('id');
        CREATE TRIGGER leads_report_update AFTER UPDATE ON leads
            FOR EACH ROW WHEN ((NEW.source, NEW.owner_id, NEW.created_at, NEW.merged_into)
                               IS DISTINCT FROM
                               (OLD.source, OLD.owner_id, OLD.created_at, OLD.merged_into))
            EXECUTE FUNCTION ll_report_on_row('id');
    ELSE
        CREATE OR REPLACE TRIGGER campaign_touches_report AFTER INSERT ON campaign_touches
            REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_touches();
        CREATE OR REPLACE TRIGGER campaign_touches_report_update AFTER UPDATE ON campaign_touches
            REFERENCING OLD TABLE AS previous NEW TABLE AS written
            FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows_update();
        CREATE OR REPLACE TRIGGER campaign_touches_report_delete AFTER DELETE ON campaign_touches
            REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();
        CREATE OR REPLACE TRIGGER lead_stage_changes_report AFTER INSERT ON lead_stage_changes
            REFERENCING NEW TABLE AS written FOR EACH STATEMENT
            EXECUTE FUNCTION ll_report_on_stage_changes();
        CREATE OR REPLACE TRIGGER lead_stage_changes_report_update AFTER UPDATE ON lead_stage_changes
            REFERENCING OLD TABLE AS previous NEW TABLE AS written
            FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows_update();
        CREATE OR REPLACE TRIGGER lead_stage_changes_report_delete AFTER DELETE ON lead_stage_changes
            REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();
        CREATE OR REPLACE TRIGGER feedback_report AFTER INSERT ON feedback
            REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_feedback();
        CREATE OR REPLACE TRIGGER feedback_report_update AFTER UPDATE ON feedback
            REFERENCING OLD TABLE AS previous NEW TABLE AS written
            FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows_update();
        CREATE OR REPLACE TRIGGER feedback_report_delete AFTER DELETE ON feedback
            REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();
        CREATE OR REPLACE TRIGGER interactions_report AFTER INSERT ON interactions
            REFERENCING NEW TABLE AS written FOR EACH STATEMENT
            EXECUTE FUNCTION ll_report_on_interactions();
        CREATE OR REPLACE TRIGGER interactions_report_update AFTER UPDATE ON interactions
            REFERENCING OLD TABLE AS previous NEW TABLE AS written
            FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows_update();
        CREATE OR REPLACE TRIGGER interactions_report_delete AFTER DELETE ON interactions
            REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();

        CREATE OR REPLACE TRIGGER leads_report_insert AFTER INSERT ON leads
            REFERENCING NEW TABLE AS written FOR EACH STATEMENT
            EXECUTE FUNCTION ll_report_on_leads_insert();
        CREATE OR REPLACE TRIGGER leads_report_delete AFTER DELETE ON leads
            REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_leads();
        CREATE OR REPLACE TRIGGER leads_report_update AFTER UPDATE ON leads
            REFERENCING OLD TABLE AS previous NEW TABLE AS written
            FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_leads_update();
    END IF;
END
$do$;

-- Folds up to lim deltas of each kind into report_days, report_reason_days and
-- report_funnel_days (day and month rows), and the figures' deltas into report_weeks too (the trends by week), in the
-- caller's transaction; returns how many deltas it folded. One caller at a time (others
-- get 0 at once). A row whose figures fold to zero is deleted: a lead that moved to
-- another day (its workspace changed time zone, an import corrected its creation) leaves
-- nothing behind on the old one, and the reports read no more rows than hold figures
-- (after a move of a whole workspace, they would read twice as many).
CREATE OR REPLACE FUNCTION ll_report_compact(lim integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    m bigint;
    zd jsonb; -- the keys of the day and month rows, week rows, reason rows now zero
    zw jsonb;
    zr jsonb;
    f bigint; -- the funnel's deltas folded (report_funnel_days), and its rows now zero
    zf jsonb;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('ll_report_compact')) THEN
        RETURN 0;
    END IF;
    WITH del AS (
        DELETE FROM report_day_deltas WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM report_day_deltas LIMIT lim))
        RETURNING *),
    g AS (
        SELECT workspace_id, dim, m.month,
               CASE WHEN m.month THEN date_trunc('month', day::timestamp)::date ELSE day END
                   AS day,
               key, sum(leads) AS leads, sum(mqls) AS mqls, sum(handed) AS handed,
               sum(accepted) AS accepted, sum(rejected) AS rejected, sum(contacted) AS contacted,
               sum(opportunities) AS opportunities, sum(won) AS won,
               sum(won_amount) AS won_amount, sum(rating_sum) AS rating_sum,
               sum(rating_count) AS rating_count, sum(followed) AS followed,
               sum(lost_amount) AS lost_amount
        FROM del CROSS JOIN (VALUES (false), (true)) AS m (month)
        GROUP BY 1, 2, 3, 4, 5),
    wk AS (
        INSERT INTO report_weeks
        SELECT workspace_id, dim, date_trunc('week', day::timestamp)::date, key, sum(leads),
               sum(mqls), sum(handed), sum(accepted), sum(rejected), sum(contacted),
               sum(opportunities), sum(won), sum(won_amount), sum(rating_sum),
               sum(rating_count), sum(followed), sum(lost_amount)
        FROM g WHERE NOT g.month
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (workspace_id, dim, week, key) DO UPDATE SET
            leads = report_weeks.leads + excluded.leads,
            mqls = report_weeks.mqls + excluded.mqls,
            handed = report_weeks.handed + excluded.handed,
            accepted = report_weeks.accepted + excluded.accepted,
            rejected = report_weeks.rejected + excluded.rejected,
            contacted = report_weeks.contacted + excluded.contacted,
            opportunities = report_weeks.opportunities + excluded.opportunities,
            won = report_weeks.won + excluded.won,
            won_amount = report_weeks.won_amount + excluded.won_amount,
            rating_sum = report_weeks.rating_sum + excluded.rating_sum,
            rating_count = report_weeks.rating_count + excluded.rating_count,
            followed = report_weeks.followed + excluded.followed,
            lost_amount = report_weeks.lost_amount + excluded.lost_amount
        RETURNING workspace_id, dim, week, key,
            (leads, mqls, handed, accepted, rejected, contacted, opportunities, won, won_amount,
                   rating_sum, rating_count, followed, lost_amount) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) AS zero),
    ins AS (
    INSERT INTO report_days SELECT * FROM g ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (workspace_id, dim, month, day, key) DO UPDATE SET
        leads = report_days.leads + excluded.leads,
        mqls = report_days.mqls + excluded.mqls,
        handed = report_days.handed + excluded.handed,
        accepted = report_days.accepted + excluded.accepted,
        rejected = report_days.rejected + excluded.rejected,
        contacted = report_days.contacted + excluded.contacted,
        opportunities = report_days.opportunities + excluded.opportunities,
        won = report_days.won + excluded.won,
        won_amount = report_days.won_amount + excluded.won_amount,
        rating_sum = report_days.rating_sum + excluded.rating_sum,
        rating_count = report_days.rating_count + excluded.rating_count,
        followed = report_days.followed + excluded.followed,
        lost_amount = report_days.lost_amount + excluded.lost_amount
    RETURNING workspace_id, dim, month, day, key,
        (leads, mqls, handed, accepted, rejected, contacted, opportunities, won, won_amount,
                   rating_sum, rating_count, followed, lost_amount) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) AS zero)
    SELECT (SELECT count(*) FROM del),
           (SELECT jsonb_agg(jsonb_build_array(workspace_id, dim, month, day, key)) FROM ins
            WHERE zero),
           (SELECT jsonb_agg(jsonb_build_array(workspace_id, dim, week, key)) FROM wk
            WHERE zero)
      INTO n, zd, zw;
    DELETE FROM report_days d USING jsonb_array_elements(zd) AS z (k)
    WHERE d.workspace_id = (z.k ->> 0)::uuid AND d.dim = (z.k ->> 1)::smallint
      AND d.month = (z.k ->> 2)::boolean AND d.day = (z.k ->> 3)::date AND d.key = z.k ->> 4;
    DELETE FROM report_weeks d USING jsonb_array_elements(zw) AS z (k)
    WHERE d.workspace_id = (z.k ->> 0)::uuid AND d.dim = (z.k ->> 1)::smallint
      AND d.week = (z.k ->> 2)::date AND d.key = z.k ->> 3;
    WITH del AS (
        DELETE FROM report_reason_deltas WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM report_reason_deltas LIMIT lim))
        RETURNING *),
    g AS (
        SELECT workspace_id, dim, m.month,
               CASE WHEN m.month THEN date_trunc('month', day::timestamp)::date ELSE day END
                   AS day,
               key, reason, sum(rejected) AS rejected
        FROM del CROSS JOIN (VALUES (false), (true)) AS m (month)
        GROUP BY 1, 2, 3, 4, 5, 6),
    ins AS (
    INSERT INTO report_reason_days SELECT * FROM g ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (workspace_id, dim, month, day, key, reason) DO UPDATE SET
        rejected = report_reason_days.rejected + excluded.rejected
    RETURNING workspace_id, dim, month, day, key, reason, rejected = 0 AS zero)
    SELECT (SELECT count(*) FROM del),
           (SELECT jsonb_agg(jsonb_build_array(workspace_id, dim, month, day, key, reason))
            FROM ins WHERE zero)
      INTO m, zr;
    DELETE FROM report_reason_days d USING jsonb_array_elements(zr) AS z (k)
    WHERE d.workspace_id = (z.k ->> 0)::uuid AND d.dim = (z.k ->> 1)::smallint
      AND d.month = (z.k ->> 2)::boolean AND d.day = (z.k ->> 3)::date AND d.key = z.k ->> 4
      AND d.reason = z.k ->> 5;
    WITH del AS (
        DELETE FROM report_funnel_deltas WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM report_funnel_deltas LIMIT lim))
        RETURNING *),
    g AS (
        SELECT workspace_id, dim, key, source, m.month,
               CASE WHEN m.month THEN date_trunc('month', day::timestamp)::date ELSE day END
                   AS day,
               sum(leads) AS leads, sum(handed) AS handed, sum(accepted) AS accepted,
               sum(qualified) AS qualified, sum(opportunity) AS opportunity,
               sum(customer) AS customer, sum(followed) AS followed, sum(waiting) AS waiting
        FROM del CROSS JOIN (VALUES (false), (true)) AS m (month)
        GROUP BY 1, 2, 3, 4, 5, 6),
    ins AS (
    INSERT INTO report_funnel_days SELECT * FROM g ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (workspace_id, dim, key, source, month, day) DO UPDATE SET
        leads = report_funnel_days.leads + excluded.leads,
        handed = report_funnel_days.handed + excluded.handed,
        accepted = report_funnel_days.accepted + excluded.accepted,
        qualified = report_funnel_days.qualified + excluded.qualified,
        opportunity = report_funnel_days.opportunity + excluded.opportunity,
        customer = report_funnel_days.customer + excluded.customer,
        followed = report_funnel_days.followed + excluded.followed,
        waiting = report_funnel_days.waiting + excluded.waiting
    RETURNING workspace_id, dim, key, source, month, day,
        (leads, handed, accepted, qualified, opportunity, customer, followed, waiting)
            = (0, 0, 0, 0, 0, 0, 0, 0) AS zero)
    SELECT (SELECT count(*) FROM del),
           (SELECT jsonb_agg(jsonb_build_array(workspace_id, dim, key, source, month, day))
            FROM ins WHERE zero)
      INTO f, zf;
    DELETE FROM report_funnel_days d USING jsonb_array_elements(zf) AS z (k)
    WHERE d.workspace_id = (z.k ->> 0)::uuid AND d.dim = (z.k ->> 1)::smallint
      AND d.key = z.k ->> 2 AND d.source = z.k ->> 3 AND d.month = (z.k ->> 4)::boolean
      AND d.day = (z.k ->> 5)::date;
    RETURN n + m + f;
END
$$;

-- Re-buckets a workspace's kept figures after a change of its time zone or business hours:
-- the day and follow-up time of each of its leads' facts, and the figures they move
-- between days, in chunks of 20,000 leads, in the caller's transaction (the change's own:
-- the reports see the old figures or the new ones, never a mix). The change's update of
-- the workspace row holds off every refresh of the workspace until it commits
-- (ll_report_refresh).
CREATE OR REPLACE FUNCTION ll_report_rebucket(ws uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
BEGIN
    FOR ids IN SELECT array_agg(lead_id) FROM (
                   SELECT lead_id, row_number() OVER (ORDER BY lead_id) AS n
                   FROM report_leads WHERE workspace_id = ws) x
               GROUP BY (n - 1) / 20000 LOOP
        PERFORM ll_report_refresh(ws, ids, true);
    END LOOP;
END
$$;

-- A change of a workspace's time zone or business hours re-buckets its figures, whatever
-- wrote it, holding the workspace's calendar lock (ll_report_refresh) until it commits: it
-- waits for the refreshes under way (their facts, computed with the old calendar, are
-- committed by then and re-bucketed with the rest), and the refreshes after it wait for
-- its commit, whose calendar their next statement sees.
CREATE OR REPLACE FUNCTION ll_report_on_workspace_calendar() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ll_report_calendar'), hashtext(NEW.id::text));
    PERFORM ll_report_rebucket(NEW.id);
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER workspaces_report_calendar AFTER UPDATE ON workspaces
    FOR EACH ROW WHEN ((OLD.time_zone, OLD.business_days, OLD.business_start,
                        OLD.business_end)
                       IS DISTINCT FROM (NEW.time_zone, NEW.business_days, NEW.business_start,
                                         NEW.business_end))
    EXECUTE FUNCTION ll_report_on_workspace_calendar();

-- Recomputes a workspace's report tables from its rows (for anyone who wants to prove
-- the kept figures right).
CREATE OR REPLACE FUNCTION ll_report_rebuild(ws uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
BEGIN
    -- not beside a compaction, which could deadlock with the deletes below
    PERFORM pg_advisory_xact_lock(hashtext('ll_report_compact'));
    DELETE FROM report_days WHERE workspace_id = ws;
    DELETE FROM report_weeks WHERE workspace_id = ws;
    DELETE FROM report_reason_days WHERE workspace_id = ws;
    DELETE FROM report_day_deltas WHERE workspace_id = ws;
    DELETE FROM report_follow_ups WHERE workspace_id = ws;
    DELETE FROM report_reason_deltas WHERE workspace_id = ws;
    DELETE FROM report_funnel_days WHERE workspace_id = ws;
    DELETE FROM report_funnel_deltas WHERE workspace_id = ws;
    DELETE FROM report_leads WHERE workspace_id = ws;
    FOR ids IN SELECT array_agg(id) FROM (SELECT id, row_number() OVER (ORDER BY id) AS n
                                          FROM leads WHERE workspace_id = ws) x
               GROUP BY (n - 1) / 10000 LOOP
        PERFORM ll_report_refresh(ws, ids);
    END LOOP;
END
$$;
