-- Leadloop schema 0005: what the reports read, kept exact in the writing transaction.
--
-- report_leads holds one row of facts per lead (its attribution, when it reached each
-- stage, sales' first verdict, ratings, won amounts), recomputed from the lead's own rows
-- by ll_report_refresh. report_days holds the additive figures per dimension, key and day
-- (and again per month), changed by the difference between a lead's old and new facts.
-- Statement triggers on leads, campaign_touches, lead_stage_changes and feedback call the
-- refresh at the end of every writing statement, so no write path can forget it, and a
-- bulk statement refreshes its leads in one set-based pass.

CREATE TABLE report_leads (
    workspace_id      uuid NOT NULL,
    lead_id           uuid NOT NULL,
    created_at        timestamptz NOT NULL,
    day               date NOT NULL, -- created_at's day in UTC: the reports' window
    source            text NOT NULL,
    owner_id          uuid,
    stage             text NOT NULL,
    ft_campaign       uuid,          -- first touch's campaign
    lt_campaign       uuid,          -- last credited touch's campaign
    -- the campaign of each credited touch, in touch order: the touches up to the hand-off
    -- (all of them while the lead was never handed over), or the first touch when none
    -- came before the hand-off
    credits           uuid[] NOT NULL,
    mql_at            timestamptz,   -- first entered the stage mql
    handed_at         timestamptz,   -- first reached mql or a later funnel stage
    accepted_at       timestamptz,   -- first reached sales_accepted or later
    qualified_at      timestamptz,   -- first reached sales_qualified or later
    opportunity_at    timestamptz,   -- first reached opportunity or later
    customer_at       timestamptz,
    verdict           text,          -- kind of the first accepted or rejected feedback
    verdict_reason    text,
    first_feedback_at timestamptz,
    follow_up_s       bigint,        -- whole seconds from the hand-off to the first feedback
    contacted         boolean NOT NULL,
    won               boolean NOT NULL,
    won_amount        bigint NOT NULL,
    rating_sum        integer NOT NULL,
    rating_count      integer NOT NULL,
    PRIMARY KEY (workspace_id, lead_id)
);
CREATE INDEX report_leads_by_day ON report_leads (workspace_id, day);
CREATE INDEX report_leads_followed_up ON report_leads (workspace_id, day)
    INCLUDE (follow_up_s, source, owner_id, ft_campaign, lt_campaign) WHERE follow_up_s IS NOT NULL;
CREATE INDEX report_leads_rejected ON report_leads (workspace_id, day)
    INCLUDE (verdict_reason, source, owner_id, ft_campaign, lt_campaign) WHERE verdict = 'rejected';
CREATE INDEX report_leads_waiting ON report_leads (workspace_id, handed_at)
    WHERE handed_at IS NOT NULL AND first_feedback_at IS NULL;

-- dim: 0 source, 1 first_touch, 2 last_touch, 3 linear (key: the source or the campaign id).
-- Linear credit is fractional (k/n for k of a lead's n credited touches), hence numeric:
-- numeric sums are exact, so adding and later subtracting a lead's share cancels exactly.
CREATE TABLE report_days (
    workspace_id  uuid NOT NULL,
    dim           smallint NOT NULL,
    month         boolean NOT NULL, -- a month's total (day: its first day) or one day's
    day           date NOT NULL,
    key           text NOT NULL,
    leads         numeric NOT NULL,
    mqls          numeric NOT NULL,
    handed        numeric NOT NULL,
    accepted      numeric NOT NULL,
    rejected      numeric NOT NULL,
    contacted     numeric NOT NULL,
    opportunities numeric NOT NULL,
    won           numeric NOT NULL,
    won_amount    numeric NOT NULL,
    rating_sum    numeric NOT NULL,
    rating_count  numeric NOT NULL,
    PRIMARY KEY (workspace_id, dim, month, day, key)
);

-- The first-verdict rejections per reason, kept like report_days (dims 0 to 3 as there).
CREATE TABLE report_reason_days (
    workspace_id uuid NOT NULL,
    dim          smallint NOT NULL,
    month        boolean NOT NULL,
    day          date NOT NULL,
    key          text NOT NULL,
    reason       text NOT NULL,
    rejected     numeric NOT NULL,
    PRIMARY KEY (workspace_id, dim, month, day, key, reason)
);

-- The facts of some leads as their rows say now.
CREATE FUNCTION ll_report_facts(ws uuid, ids uuid[]) RETURNS SETOF report_leads
LANGUAGE sql STABLE AS $$
    SELECT l.workspace_id, l.id, l.created_at, (l.created_at AT TIME ZONE 'UTC')::date,
           l.source, l.owner_id, l.stage, t.ft, t.credits[cardinality(t.credits)],
           coalesce(t.credits, '{}'), s.mql_at, s.handed_at, s.accepted_at, s.qualified_at,
           s.opportunity_at, s.customer_at, f.verdict[1], f.verdict_reason[1], f.first_at,
           CASE WHEN s.handed_at IS NOT NULL AND f.first_at IS NOT NULL
                THEN greatest(0, floor(extract(epoch FROM f.first_at - s.handed_at)))::bigint END,
           coalesce(f.contacted, false), coalesce(f.won, false), coalesce(f.won_amount, 0),
           coalesce(f.rating_sum, 0), coalesce(f.rating_count, 0)
    FROM leads l
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
    LEFT JOIN LATERAL (
        SELECT array_agg(kind ORDER BY occurred_at, created_at, id)
                   FILTER (WHERE kind IN ('accepted', 'rejected')) AS verdict,
               array_agg(reason ORDER BY occurred_at, created_at, id)
                   FILTER (WHERE kind IN ('accepted', 'rejected')) AS verdict_reason,
               min(occurred_at) AS first_at,
               bool_or(kind IN ('contacted', 'meeting_booked')) AS contacted,
               bool_or(kind = 'won') AS won,
               sum(amount) FILTER (WHERE kind = 'won') AS won_amount,
               sum(rating) AS rating_sum, count(rating) AS rating_count
        FROM feedback WHERE workspace_id = ws AND lead_id = l.id) f ON true
    WHERE l.workspace_id = ws AND l.id = ANY (ids)
$$;

-- Brings the facts of some leads and the figures they contribute up to date. The leads'
-- rows are locked first (FOR NO KEY UPDATE: it waits for another refresh of the same lead
-- but not for foreign-key checks), and the next statement's snapshot sees what the other
-- transaction committed; the figures change by new minus old, so a lead whose facts did
-- not change leaves report_days alone.
CREATE FUNCTION ll_report_refresh(ws uuid, ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM leads WHERE workspace_id = ws AND id = ANY (ids) ORDER BY id
        FOR NO KEY UPDATE;
    WITH n AS (SELECT * FROM ll_report_facts(ws, ids)),
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
            rating_count = excluded.rating_count
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
                         GROUP BY campaign) x),
    rd AS (
        INSERT INTO report_reason_days
        SELECT ws, k.dim, m.month,
               CASE WHEN m.month THEN date_trunc('month', k.day::timestamp)::date ELSE k.day END,
               k.key, k.verdict_reason, sum(sign * w)
        FROM k CROSS JOIN (VALUES (false), (true)) AS m (month)
        WHERE k.verdict = 'rejected'
        GROUP BY 2, 3, 4, 5, 6
        HAVING sum(sign * w) <> 0
        ORDER BY 2, 3, 4, 5, 6
        ON CONFLICT (workspace_id, dim, month, day, key, reason) DO UPDATE SET
            rejected = report_reason_days.rejected + excluded.rejected),
    d AS (
        SELECT k.dim, m.month,
               CASE WHEN m.month THEN date_trunc('month', k.day::timestamp)::date ELSE k.day END AS day,
               k.key,
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
               sum(sign * w * rating_count) AS rating_count
        FROM k CROSS JOIN (VALUES (false), (true)) AS m (month)
        GROUP BY 1, 2, 3, 4)
    INSERT INTO report_days
    SELECT ws, dim, month, day, key, leads, coalesce(mqls, 0), coalesce(handed, 0),
           coalesce(accepted, 0), coalesce(rejected, 0), coalesce(contacted, 0),
           coalesce(opportunities, 0), coalesce(won, 0), won_amount, rating_sum, rating_count
    FROM d
    WHERE leads <> 0 OR mqls <> 0 OR handed <> 0 OR accepted <> 0 OR rejected <> 0
       OR contacted <> 0 OR opportunities <> 0 OR won <> 0 OR won_amount <> 0
       OR rating_sum <> 0 OR rating_count <> 0
    ORDER BY dim, month, day, key
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
        rating_count = report_days.rating_count + excluded.rating_count;
END
$$;

-- Statement triggers: the leads a statement wrote, per workspace. Updates and deletes
-- are refreshed too, so that a correction made in SQL by an operator keeps the figures
-- right as well.
CREATE FUNCTION ll_report_on_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT workspace_id, array_agg(DISTINCT lead_id) AS ids FROM written
             GROUP BY workspace_id LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.ids);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE FUNCTION ll_report_on_rows_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT workspace_id, array_agg(DISTINCT lead_id) AS ids
             FROM (SELECT workspace_id, lead_id FROM written
                   UNION SELECT workspace_id, lead_id FROM previous) x
             GROUP BY workspace_id LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.ids);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER campaign_touches_report AFTER INSERT ON campaign_touches
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();
CREATE TRIGGER campaign_touches_report_update AFTER UPDATE ON campaign_touches
    REFERENCING OLD TABLE AS previous NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows_update();
CREATE TRIGGER campaign_touches_report_delete AFTER DELETE ON campaign_touches
    REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();
CREATE TRIGGER lead_stage_changes_report AFTER INSERT ON lead_stage_changes
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();
CREATE TRIGGER lead_stage_changes_report_update AFTER UPDATE ON lead_stage_changes
    REFERENCING OLD TABLE AS previous NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows_update();
CREATE TRIGGER lead_stage_changes_report_delete AFTER DELETE ON lead_stage_changes
    REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();
CREATE TRIGGER feedback_report AFTER INSERT ON feedback
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();
CREATE TRIGGER feedback_report_update AFTER UPDATE ON feedback
    REFERENCING OLD TABLE AS previous NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows_update();
CREATE TRIGGER feedback_report_delete AFTER DELETE ON feedback
    REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();

CREATE FUNCTION ll_report_on_leads() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT workspace_id, array_agg(id) AS ids FROM written GROUP BY workspace_id LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.ids);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER leads_report_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_leads();
CREATE TRIGGER leads_report_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_leads();

-- An update matters when it changes what the facts take from the lead itself; stage
-- moves are seen through lead_stage_changes.
CREATE FUNCTION ll_report_on_leads_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT n.workspace_id, array_agg(n.id) AS ids
             FROM written n JOIN previous o ON o.workspace_id = n.workspace_id AND o.id = n.id
             WHERE (n.source, n.owner_id, n.created_at)
                   IS DISTINCT FROM (o.source, o.owner_id, o.created_at)
             GROUP BY n.workspace_id LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.ids);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER leads_report_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS previous NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_leads_update();

-- Recomputes a workspace's report tables from its rows (after this migration, and for
-- anyone who wants to prove the kept figures right).
CREATE FUNCTION ll_report_rebuild(ws uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
BEGIN
    DELETE FROM report_days WHERE workspace_id = ws;
    DELETE FROM report_reason_days WHERE workspace_id = ws;
    DELETE FROM report_leads WHERE workspace_id = ws;
    FOR ids IN SELECT array_agg(id) FROM (SELECT id, row_number() OVER (ORDER BY id) AS n
                                          FROM leads WHERE workspace_id = ws) x
               GROUP BY (n - 1) / 10000 LOOP
        PERFORM ll_report_refresh(ws, ids);
    END LOOP;
END
$$;
SELECT ll_report_rebuild(id) FROM workspaces;
