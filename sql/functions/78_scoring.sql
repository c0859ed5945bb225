-- Lead scoring (schema 0026): the check of a rule-set document, its publication, the
-- set-based scoring of a list of leads with its ledger, the chunked rescore of a workspace
-- and the triggers that rescore a lead when a touch or a field of it is written.
--
-- A document:
--   {"groups": [{"name": "geo", "score": "fit", "cap": 30}, ...],
--    "rules": [{"id": "us", "group": "geo", "field": "country", "op": "in",
--               "value": ["US", "CA"], "points": 20},
--              {"id": "clicks", "group": "email", "event": "touch:clicked", "points": 5,
--               "campaign_id": null, "decay": {"half_life": "P30D"}}, ...],
--    "threshold": {"fit": 60, "engagement": 40, "mode": "both"} | null}
-- A rule's score (fit or engagement) is its group's. Fit rules compare one field of the
-- lead (case-insensitive); engagement rules give their points for each event of their kind,
-- decayed by its age when the rule says so; 'interaction:<kind>' does the same for the
-- interactions logged on the lead (sql/0024_interactions.sql).

-- A number in a text, or NULL (custom fields are text to the rules).
CREATE OR REPLACE FUNCTION ll_score_num(t text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t ~ '^\s*-?[0-9]{1,15}(\.[0-9]{1,10})?\s*$' THEN t::numeric END
$$;

-- Days in a decay duration: a whole number of days (1..3650) or an ISO 8601 duration of
-- weeks and days (P30D, P4W, P1W3D); NULL when it is neither.
CREATE OR REPLACE FUNCTION ll_score_days(d jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(d) = 'number' AND d::text ~ '^[0-9]{1,4}$'
             AND d::text::integer BETWEEN 1 AND 3650 THEN d::text::numeric
        WHEN jsonb_typeof(d) = 'string' AND d #>> '{}' ~ '^P([0-9]{1,3}W)?([0-9]{1,4}D)?$'
             AND d #>> '{}' <> 'P' THEN
            (SELECT n FROM (SELECT coalesce(substring(d #>> '{}' FROM '([0-9]+)W')::numeric * 7, 0)
                                 + coalesce(substring(d #>> '{}' FROM '([0-9]+)D')::numeric, 0) AS n) x
             WHERE n BETWEEN 1 AND 3650)
    END
$$;

-- The fields a fit rule may read (custom.<name> besides).
CREATE OR REPLACE FUNCTION ll_score_fields() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['source', 'country', 'title', 'company', 'email', 'email_domain',
                 'first_campaign', 'latest_campaign', 'utm_source', 'utm_medium',
                 'utm_campaign', 'utm_term', 'utm_content']
$$;

-- Every fault of a document, as (field, message); none when it can be published.
CREATE OR REPLACE FUNCTION ll_scoring_check(ws uuid, doc jsonb)
RETURNS TABLE (field text, message text) LANGUAGE plpgsql STABLE AS $$
DECLARE
    g jsonb; r jsonb; k text; i integer; p text; kinds jsonb := '{}'; ids text[] := '{}';
    v jsonb; op text; f text; ev text; kind text; n integer;
    touch_kinds text[] := ARRAY['sent', 'opened', 'clicked', 'responded', 'registered',
                                'attended', 'visited', 'created'];
    interaction_kinds text[] := ARRAY['call', 'email', 'meeting', 'note', 'message', 'form',
                                      'ticket'];
BEGIN
    IF jsonb_typeof(doc) <> 'object' THEN
        field := ''; message := 'must be an object with groups, rules and threshold'; RETURN NEXT;
        RETURN;
    END IF;
    FOR k IN SELECT jsonb_object_keys(doc) LOOP
        IF k NOT IN ('groups', 'rules', 'threshold') THEN
            field := k; message := 'is not a field of a rule set (groups, rules, threshold)';
            RETURN NEXT;
        END IF;
    END LOOP;
    -- groups
    IF jsonb_typeof(doc -> 'groups') IS DISTINCT FROM 'array' OR jsonb_array_length(doc -> 'groups') > 50 THEN
        field := 'groups'; message := 'must be a list of at most 50 groups'; RETURN NEXT;
    ELSE
        FOR i IN 0 .. jsonb_array_length(doc -> 'groups') - 1 LOOP
            g := doc -> 'groups' -> i; p := format('groups[%s]', i);
            IF jsonb_typeof(g) <> 'object' THEN
                field := p; message := 'must be an object with name, score and cap'; RETURN NEXT;
                CONTINUE;
            END IF;
            FOR k IN SELECT jsonb_object_keys(g) LOOP
                IF k NOT IN ('name', 'score', 'cap') THEN
                    field := p || '.' || k; message := 'is not a field of a group (name, score, cap)';
                    RETURN NEXT;
                END IF;
            END LOOP;
            IF jsonb_typeof(g -> 'name') IS DISTINCT FROM 'string'
               OR NOT (g ->> 'name') ~ '^[A-Za-z0-9_.-]{1,64}$' THEN
                field := p || '.name'; message := 'must be 1 to 64 letters, digits, _ . or -'; RETURN NEXT;
            ELSIF kinds ? (g ->> 'name') THEN
                field := p || '.name'; message := 'names a group twice'; RETURN NEXT;
            ELSIF (g ->> 'score') IN ('fit', 'engagement') AND jsonb_typeof(g -> 'score') = 'string' THEN
                kinds := kinds || jsonb_build_object(g ->> 'name', g ->> 'score');
            END IF;
            IF jsonb_typeof(g -> 'score') IS DISTINCT FROM 'string' OR (g ->> 'score') NOT IN ('fit', 'engagement') THEN
                field := p || '.score'; message := 'must be fit or engagement'; RETURN NEXT;
            END IF;
            IF g ? 'cap' AND jsonb_typeof(g -> 'cap') <> 'null' AND
               (jsonb_typeof(g -> 'cap') <> 'number' OR NOT (g ->> 'cap') ~ '^-?[0-9]{1,6}$'
                OR (g ->> 'cap')::integer NOT BETWEEN 0 AND 100) THEN
                field := p || '.cap'; message := 'must be a whole number from 0 to 100, or null (no cap)';
                RETURN NEXT;
            END IF;
        END LOOP;
    END IF;
    -- rules
    IF jsonb_typeof(doc -> 'rules') IS DISTINCT FROM 'array' OR jsonb_array_length(doc -> 'rules') > 200 THEN
        field := 'rules'; message := 'must be a list of at most 200 rules'; RETURN NEXT;
    ELSE
        FOR i IN 0 .. jsonb_array_length(doc -> 'rules') - 1 LOOP
            r := doc -> 'rules' -> i; p := format('rules[%s]', i);
            IF jsonb_typeof(r) <> 'object' THEN
                field := p; message := 'must be an object'; RETURN NEXT;
                CONTINUE;
            END IF;
            FOR k IN SELECT jsonb_object_keys(r) LOOP
                IF k NOT IN ('id', 'group', 'points', 'field', 'op', 'value', 'event',
                             'campaign_id', 'decay') THEN
                    field := p || '.' || k;
                    message := 'is not a field of a rule (id, group, points, field, op, value, event, campaign_id, decay)';
                    RETURN NEXT;
                END IF;
            END LOOP;
            IF jsonb_typeof(r -> 'id') IS DISTINCT FROM 'string'
               OR NOT (r ->> 'id') ~ '^[A-Za-z0-9_.-]{1,64}$' THEN
                field := p || '.id'; message := 'must be 1 to 64 letters, digits, _ . or -'; RETURN NEXT;
            ELSIF (r ->> 'id') = ANY (ids) THEN
                field := p || '.id'; message := 'names a rule twice'; RETURN NEXT;
            ELSE
                ids := ids || (r ->> 'id');
            END IF;
            IF jsonb_typeof(r -> 'points') IS DISTINCT FROM 'number' OR NOT (r ->> 'points') ~ '^-?[0-9]{1,6}$'
               OR (r ->> 'points')::integer NOT BETWEEN -100 AND 100 OR (r ->> 'points')::integer = 0 THEN
                field := p || '.points'; message := 'must be a whole number from -100 to 100, not 0';
                RETURN NEXT;
            END IF;
            kind := kinds ->> (r ->> 'group');
            IF jsonb_typeof(r -> 'group') IS DISTINCT FROM 'string' OR kind IS NULL THEN
                field := p || '.group'; message := 'must name a group of groups'; RETURN NEXT;
                CONTINUE;
            END IF;
            IF kind = 'fit' THEN
                FOR k IN SELECT x FROM unnest(ARRAY['event', 'campaign_id', 'decay']) x WHERE r ? x LOOP
                    field := p || '.' || k; message := 'belongs to engagement rules; this rule''s group is a fit group';
                    RETURN NEXT;
                END LOOP;
                f := r ->> 'field'; op := r ->> 'op'; v := r -> 'value';
                IF jsonb_typeof(r -> 'field') IS DISTINCT FROM 'string'
                   OR NOT (f = ANY (ll_score_fields()) OR f ~ '^custom\.[A-Za-z0-9_]{1,64}$') THEN
                    field := p || '.field';
                    message := 'must be one of ' || array_to_string(ll_score_fields(), ', ') || ', or custom.<name>';
                    RETURN NEXT;
                END IF;
                IF jsonb_typeof(r -> 'op') IS DISTINCT FROM 'string'
                   OR op NOT IN ('eq', 'ne', 'in', 'not_in', 'contains', 'exists', 'gte', 'lte', 'between') THEN
                    field := p || '.op'; message := 'must be eq, ne, in, not_in, contains, exists, gte, lte or between';
                    RETURN NEXT;
                ELSIF op IN ('eq', 'ne', 'contains') AND (jsonb_typeof(v) IS DISTINCT FROM 'string'
                      OR char_length(v #>> '{}') NOT BETWEEN 1 AND 200) THEN
                    field := p || '.value'; message := 'must be a text of 1 to 200 characters'; RETURN NEXT;
                ELSIF op IN ('in', 'not_in') AND (jsonb_typeof(v) IS DISTINCT FROM 'array'
                      OR jsonb_array_length(v) NOT BETWEEN 1 AND 500
                      OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) e
                                 WHERE jsonb_typeof(e) <> 'string' OR char_length(e #>> '{}') NOT BETWEEN 1 AND 200)) THEN
                    field := p || '.value';
                    message := CASE WHEN jsonb_typeof(v) = 'array' AND jsonb_array_length(v) = 0
                                    THEN 'is an empty list: the rule could never match'
                                    ELSE 'must be a list of 1 to 500 texts' END;
                    RETURN NEXT;
                ELSIF op = 'exists' AND v IS NOT NULL THEN
                    field := p || '.value'; message := 'must be left out for exists'; RETURN NEXT;
                ELSIF op IN ('gte', 'lte') AND (jsonb_typeof(v) IS DISTINCT FROM 'number' OR ll_score_num(v::text) IS NULL) THEN
                    field := p || '.value'; message := 'must be a number'; RETURN NEXT;
                ELSIF op = 'between' THEN
                    IF jsonb_typeof(v) IS DISTINCT FROM 'object' OR jsonb_typeof(v -> 'min') IS DISTINCT FROM 'number'
                       OR jsonb_typeof(v -> 'max') IS DISTINCT FROM 'number'
                       OR (SELECT count(*) FROM jsonb_object_keys(v)) <> 2
                       OR ll_score_num(v ->> 'min') IS NULL OR ll_score_num(v ->> 'max') IS NULL THEN
                        field := p || '.value'; message := 'must be {"min": number, "max": number}'; RETURN NEXT;
                    ELSIF (v ->> 'min')::numeric > (v ->> 'max')::numeric THEN
                        field := p || '.value.min'; message := 'is above max: the rule could never match'; RETURN NEXT;
                    END IF;
                END IF;
                IF op IN ('gte', 'lte', 'between') AND NOT f LIKE 'custom.%' THEN
                    field := p || '.op'; message := 'compares numbers: only custom fields hold them'; RETURN NEXT;
                END IF;
                IF f IN ('first_campaign', 'latest_campaign') AND op IN ('eq', 'ne') AND jsonb_typeof(v) = 'string'
                   AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.workspace_id = ws
                                   AND c.id::text = lower(v #>> '{}')) THEN
                    field := p || '.value'; message := 'is not a campaign of this workspace'; RETURN NEXT;
                END IF;
            ELSE
                FOR k IN SELECT x FROM unnest(ARRAY['field', 'op', 'value']) x WHERE r ? x LOOP
                    field := p || '.' || k; message := 'belongs to fit rules; this rule''s group is an engagement group';
                    RETURN NEXT;
                END LOOP;
                ev := r ->> 'event';
                IF jsonb_typeof(r -> 'event') IS DISTINCT FROM 'string'
                   OR NOT ((ev LIKE 'touch:%' AND substr(ev, 7) = ANY (touch_kinds))
                           OR (ev LIKE 'interaction:%' AND substr(ev, 13) = ANY (interaction_kinds))) THEN
                    field := p || '.event';
                    message := 'must be touch:<kind> (' || array_to_string(touch_kinds, ', ')
                               || ') or interaction:<kind> (' || array_to_string(interaction_kinds, ', ') || ')';
                    RETURN NEXT;
                END IF;
                IF r ? 'campaign_id' AND jsonb_typeof(r -> 'campaign_id') <> 'null' AND (
                   jsonb_typeof(r -> 'campaign_id') <> 'string'
                   OR NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.workspace_id = ws
                                  AND c.id::text = lower(r ->> 'campaign_id'))) THEN
                    field := p || '.campaign_id'; message := 'is not a campaign of this workspace'; RETURN NEXT;
                END IF;
                IF r ? 'decay' AND jsonb_typeof(r -> 'decay') <> 'null' THEN
                    IF jsonb_typeof(r -> 'decay') <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(r -> 'decay')) <> 1
                       OR NOT (r -> 'decay' ?| ARRAY['half_life', 'halve_after']) THEN
                        field := p || '.decay'; message := 'must be {"half_life": duration} or {"halve_after": duration}';
                        RETURN NEXT;
                    ELSE
                        k := (SELECT x FROM jsonb_object_keys(r -> 'decay') x);
                        IF ll_score_days(r -> 'decay' -> k) IS NULL THEN
                            field := p || '.decay.' || k;
                            message := 'must be a duration: days from 1 to 3650, or ISO 8601 weeks and days (P30D, P4W)';
                            RETURN NEXT;
                        END IF;
                    END IF;
                END IF;
            END IF;
        END LOOP;
    END IF;
    -- threshold
    v := doc -> 'threshold';
    IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
        IF jsonb_typeof(v) <> 'object' THEN
            field := 'threshold'; message := 'must be {"fit": n, "engagement": n, "mode": "both" | "either"} or null';
            RETURN NEXT;
        ELSE
            FOR k IN SELECT jsonb_object_keys(v) LOOP
                IF k NOT IN ('fit', 'engagement', 'mode') THEN
                    field := 'threshold.' || k; message := 'is not a field of a threshold (fit, engagement, mode)';
                    RETURN NEXT;
                END IF;
            END LOOP;
            n := 0;
            FOREACH k IN ARRAY ARRAY['fit', 'engagement'] LOOP
                IF v ? k AND jsonb_typeof(v -> k) <> 'null' THEN
                    n := n + 1;
                    IF jsonb_typeof(v -> k) <> 'number' OR NOT (v ->> k) ~ '^-?[0-9]{1,6}$'
                       OR (v ->> k)::integer NOT BETWEEN 0 AND 100 THEN
                        field := 'threshold.' || k; message := 'must be a whole number from 0 to 100'; RETURN NEXT;
                    END IF;
                END IF;
            END LOOP;
            IF n = 0 THEN
                field := 'threshold'; message := 'must give fit, engagement or both'; RETURN NEXT;
            END IF;
            IF v ? 'mode' AND (jsonb_typeof(v -> 'mode') <> 'string' OR (v ->> 'mode') NOT IN ('both', 'either')) THEN
                field := 'threshold.mode'; message := 'must be both or either'; RETURN NEXT;
            END IF;
        END IF;
    END IF;
END
$$;

-- Publishes the workspace's draft as the next version (the draft must be at draft_version
-- when that is given: If-Match) and starts the rescore of every lead. Returns the new
-- version; NULL when there is no draft or it is not at draft_version.
CREATE OR REPLACE FUNCTION ll_scoring_publish(ws uuid, draft_version integer, by_key uuid, by_user uuid)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d scoring_drafts; v integer; t jsonb;
BEGIN
    SELECT * INTO d FROM scoring_drafts WHERE workspace_id = ws FOR UPDATE;
    IF NOT FOUND OR (draft_version IS NOT NULL AND d.version <> draft_version) THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('ll_scoring_publish'), hashtext(ws::text));
    SELECT coalesce(max(version), 0) + 1 INTO v FROM scoring_versions WHERE workspace_id = ws;
    INSERT INTO scoring_versions (workspace_id, version, document, draft_version, published_by_key, published_by_user)
    VALUES (ws, v, d.document, d.version, by_key, by_user);
    INSERT INTO scoring_groups (workspace_id, version, name, kind, cap)
    SELECT ws, v, g ->> 'name', g ->> 'score', (g ->> 'cap')::integer
    FROM jsonb_array_elements(d.document -> 'groups') g;
    INSERT INTO scoring_rules (workspace_id, version, rule_id, grp, kind, points, field, op, vals,
                               num_min, num_max, event_source, event_kind, campaign_id,
                               half_life_days, halve_after_days)
    SELECT ws, v, r ->> 'id', r ->> 'group', g.kind, (r ->> 'points')::integer,
           r ->> 'field', r ->> 'op',
           CASE WHEN jsonb_typeof(r -> 'value') = 'array'
                THEN ARRAY(SELECT lower(e) FROM jsonb_array_elements_text(r -> 'value') e)
                WHEN jsonb_typeof(r -> 'value') = 'string' THEN ARRAY[lower(r ->> 'value')] END,
           CASE r ->> 'op' WHEN 'gte' THEN (r ->> 'value')::numeric
                           WHEN 'between' THEN (r -> 'value' ->> 'min')::numeric END,
           CASE r ->> 'op' WHEN 'lte' THEN (r ->> 'value')::numeric
                           WHEN 'between' THEN (r -> 'value' ->> 'max')::numeric END,
           split_part(r ->> 'event', ':', 1), nullif(split_part(r ->> 'event', ':', 2), ''),
           (r ->> 'campaign_id')::uuid,
           ll_score_days(r -> 'decay' -> 'half_life'), ll_score_days(r -> 'decay' -> 'halve_after')
    FROM jsonb_array_elements(d.document -> 'rules') r
    JOIN scoring_groups g ON g.workspace_id = ws AND g.version = v AND g.name = r ->> 'group';
    t := d.document -> 'threshold';
    IF jsonb_typeof(t) IS DISTINCT FROM 'object' THEN
        t := NULL;
    END IF;
    -- the last rescore's lanes go first: a step under way holds its lane's row, then the
    -- run's (when it ends the run), so the publish takes them in that order too
    DELETE FROM scoring_run_lanes WHERE workspace_id = ws;
    INSERT INTO scoring_runs AS s (workspace_id, version, threshold_fit, threshold_engagement,
                                   threshold_mode, total, done, after_id, started_at, finished_at)
    VALUES (ws, v, (t ->> 'fit')::smallint, (t ->> 'engagement')::smallint,
            CASE WHEN t IS NOT NULL THEN coalesce(t ->> 'mode', 'both') END,
            (SELECT count(*) FROM leads WHERE workspace_id = ws AND merged_into IS NULL AND erased_at IS NULL),
            0, NULL, clock_timestamp(), NULL)
    ON CONFLICT (workspace_id) DO UPDATE
    SET version = EXCLUDED.version, threshold_fit = EXCLUDED.threshold_fit,
        threshold_engagement = EXCLUDED.threshold_engagement,
        threshold_mode = EXCLUDED.threshold_mode, total = EXCLUDED.total, done = 0,
        after_id = NULL, started_at = EXCLUDED.started_at, finished_at = NULL;
    -- its two lanes
    INSERT INTO scoring_run_lanes (workspace_id, lane, from_id, below_id)
    VALUES (ws, 0, NULL, '80000000-0000-0000-0000-000000000000'),
           (ws, 1, '80000000-0000-0000-0000-000000000000', NULL);
    -- the plans of the scoring statements depend on how many rules and groups there are
    ANALYZE scoring_rules, scoring_groups;
    RETURN v;
END
$$;

-- Whether scores meet a workspace's threshold (false when it has none).
CREATE OR REPLACE FUNCTION ll_score_meets(s scoring_runs, fit integer, engagement integer)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN s.threshold_mode IS NULL THEN false
                WHEN s.threshold_mode = 'both' THEN
                    (s.threshold_fit IS NULL OR fit >= s.threshold_fit)
                    AND (s.threshold_engagement IS NULL OR engagement >= s.threshold_engagement)
                ELSE coalesce(fit >= s.threshold_fit, false)
                     OR coalesce(engagement >= s.threshold_engagement, false) END
$$;

-- Scores the given leads of one workspace by its version in force, set-based: the ledger
-- rows of each rule that matches (an engagement rule's points summed over its events, each
-- decayed by its age), a 'cap' row per group whose sum passes its cap (the cap less the
-- sum), a 'clamp' row per score whose sum leaves 0..100; the scores are the sums of those
-- rows, so a lead's ledger always adds up to its scores. A change of the scores is
-- recorded with its cause; a lead in new or recycled whose scores cross the threshold
-- (met now, not before) moves to mql by ll_lead_move. Erased and merged leads lose their
-- scores. Returns how many leads it scored. No version in force: nothing.
--
-- Planned with random_page_cost 1.1 (the default 4 prices a disk that seeks): with 4, a
-- rescore step's 10,000 ids were found by scanning the workspace's whole leads table in
-- each of four statements (130 ms each at 1M leads, 1.27 s a step against 0.47 s).
CREATE OR REPLACE FUNCTION ll_score_leads(ws uuid, ids uuid[], p_cause text) RETURNS integer
LANGUAGE plpgsql SET jit = off SET random_page_cost = 1.1 AS $$
DECLARE
    s scoring_runs; n integer; mv uuid[]; v_id uuid; live uuid[];
    m_ids uuid[]; m_dims smallint[]; m_bands smallint[]; m_signs integer[];
BEGIN
    SELECT * INTO s FROM scoring_runs WHERE workspace_id = ws;
    IF NOT FOUND OR cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;
    -- the leads' rows first, as a refresh of their report facts locks them: a rescore and a
    -- write of the same lead take their locks in one order, and a band is moved below with
    -- the lead's facts as committed (ll_report_band_deltas)
    PERFORM 1 FROM leads WHERE workspace_id = ws AND leads.id = ANY (ids) ORDER BY leads.id
        FOR NO KEY UPDATE;
    live := ARRAY(SELECT l.id FROM leads l WHERE l.workspace_id = ws AND l.id = ANY (ids)
                  AND l.merged_into IS NULL AND l.erased_at IS NULL);
    -- the ledger is upserted: a row whose points did not change is not written again (a
    -- republish touches only what the new version changes), and rows no rule gives any more go
    WITH l AS MATERIALIZED (
        SELECT * FROM leads WHERE workspace_id = ws AND leads.id = ANY (live)
    ), fit AS (
        SELECT l.id AS lead_id, r.kind, r.grp, r.rule_id, r.points
        FROM l JOIN scoring_rules r ON r.workspace_id = ws AND r.version = s.version AND r.kind = 'fit'
        CROSS JOIN LATERAL (SELECT lower(CASE r.field
                WHEN 'source' THEN l.source WHEN 'country' THEN l.country
                WHEN 'title' THEN l.title WHEN 'company' THEN l.company WHEN 'email' THEN l.email
                WHEN 'email_domain' THEN nullif(split_part(l.email, '@', 2), '')
                WHEN 'first_campaign' THEN l.first_campaign_id::text
                WHEN 'latest_campaign' THEN l.latest_campaign_id::text
                WHEN 'utm_source' THEN l.utm_source WHEN 'utm_medium' THEN l.utm_medium
                WHEN 'utm_campaign' THEN l.utm_campaign WHEN 'utm_term' THEN l.utm_term
                WHEN 'utm_content' THEN l.utm_content
                ELSE l.custom ->> substr(r.field, 8) END) AS val) f
        WHERE CASE r.op
                WHEN 'exists' THEN coalesce(f.val <> '', false)
                WHEN 'eq' THEN coalesce(f.val = r.vals[1], false)
                WHEN 'ne' THEN f.val IS DISTINCT FROM r.vals[1]
                WHEN 'in' THEN coalesce(f.val = ANY (r.vals), false)
                WHEN 'not_in' THEN NOT coalesce(f.val = ANY (r.vals), false)
                WHEN 'contains' THEN coalesce(strpos(f.val, r.vals[1]) > 0, false)
                ELSE coalesce(ll_score_num(f.val) >= coalesce(r.num_min, ll_score_num(f.val))
                              AND ll_score_num(f.val) <= coalesce(r.num_max, ll_score_num(f.val)), false)
              END
    ), engagement AS (
        SELECT t.lead_id, r.kind, r.grp, r.rule_id,
               round(sum(r.points * CASE
                   WHEN r.half_life_days IS NOT NULL THEN
                       power(0.5::float8, greatest(0::float8, extract(epoch FROM now() - t.occurred_at)::float8)
                                          / 86400 / r.half_life_days::float8)
                   WHEN r.halve_after_days IS NOT NULL
                        AND t.occurred_at <= now() - r.halve_after_days * interval '1 day' THEN 0.5::float8
                   ELSE 1::float8 END))::integer AS points
        FROM (SELECT 'touch' AS source, lead_id, kind, campaign_id, occurred_at
              FROM campaign_touches WHERE workspace_id = ws AND lead_id = ANY (live)
              UNION ALL
              SELECT 'interaction', lead_id, kind, campaign_id, occurred_at
              FROM interactions WHERE workspace_id = ws AND lead_id = ANY (live)) t
        JOIN scoring_rules r ON r.workspace_id = ws AND r.version = s.version
             AND r.kind = 'engagement' AND r.event_source = t.source AND r.event_kind = t.kind
             AND (r.campaign_id IS NULL OR r.campaign_id = t.campaign_id)
        GROUP BY 1, 2, 3, 4
    ), raw AS (
        SELECT * FROM fit UNION ALL SELECT * FROM engagement
    ), grp AS (
        SELECT raw.lead_id, raw.kind, raw.grp, sum(raw.points) AS sum,
               least(sum(raw.points), coalesce(min(g.cap), sum(raw.points))) AS kept
        FROM raw JOIN scoring_groups g ON g.workspace_id = ws AND g.version = s.version AND g.name = raw.grp
        GROUP BY 1, 2, 3
    ), tot AS (
        SELECT lead_id, kind, sum(kept) AS sum FROM grp GROUP BY 1, 2
    ), new AS MATERIALIZED (
        SELECT lead_id, kind, grp, rule_id, points, NULL::text AS adjust FROM raw WHERE points <> 0
        UNION ALL
        SELECT lead_id, kind, grp, '', (kept - sum)::integer, 'cap' FROM grp WHERE kept < sum
        UNION ALL
        SELECT lead_id, kind, '', '', (greatest(0, least(100, sum)) - sum)::integer, 'clamp'
        FROM tot WHERE sum NOT BETWEEN 0 AND 100
    ), gone AS (
        DELETE FROM lead_score_points p WHERE p.workspace_id = ws AND p.lead_id = ANY (ids)
            AND NOT EXISTS (SELECT 1 FROM new n WHERE n.lead_id = p.lead_id AND n.kind = p.kind
                            AND n.grp = p.grp AND n.rule_id = p.rule_id)
    )
    INSERT INTO lead_score_points AS p (workspace_id, lead_id, kind, grp, rule_id, points, version, adjust)
    SELECT ws, lead_id, kind, grp, rule_id, points, s.version, adjust FROM new
    ON CONFLICT (workspace_id, lead_id, kind, grp, rule_id) DO UPDATE
    SET points = EXCLUDED.points, version = EXCLUDED.version, adjust = EXCLUDED.adjust
    WHERE (p.points, p.adjust) IS DISTINCT FROM (EXCLUDED.points, EXCLUDED.adjust);

    -- merged and erased leads lose their scores, and their figures their bands
    IF cardinality(live) < cardinality(ids) THEN
        WITH gone AS (
            DELETE FROM lead_scores o WHERE o.workspace_id = ws
                AND o.lead_id = ANY (ARRAY(SELECT unnest(ids) EXCEPT SELECT unnest(live)))
            RETURNING o.lead_id, o.fit, o.engagement)
        SELECT array_agg(g.lead_id), array_agg(v.dim), array_agg(v.band), array_agg(-1)
        INTO m_ids, m_dims, m_bands, m_signs
        FROM gone g
        CROSS JOIN LATERAL (VALUES (5::smallint, ll_score_band(g.fit)),
                                   (6::smallint, ll_score_band(g.engagement))) v (dim, band);
        IF m_ids IS NOT NULL THEN
            PERFORM ll_report_band_deltas(ws, m_ids, m_dims, m_bands, m_signs);
        END IF;
    END IF;
    -- per lead, index lookups: subplans, which the planner never turns into a hash join
    -- over the workspace's million rows (the ledger's statistics may lag behind a rescore)
    WITH cur AS (
        SELECT l.id AS lead_id, l.stage, coalesce(p.fit, 0)::smallint AS fit,
               coalesce(p.engagement, 0)::smallint AS engagement,
               (SELECT x FROM lead_scores x WHERE x.workspace_id = ws AND x.lead_id = l.id) AS o
        FROM leads l
        CROSS JOIN LATERAL (SELECT sum(q.points) FILTER (WHERE q.kind = 'fit') AS fit,
                                   sum(q.points) FILTER (WHERE q.kind = 'engagement') AS engagement
                            FROM lead_score_points q
                            WHERE q.workspace_id = ws AND q.lead_id = l.id) p
        WHERE l.workspace_id = ws AND l.id = ANY (live)
    ), old AS (
        SELECT cur.lead_id, (cur.o).fit, (cur.o).engagement FROM cur WHERE cur.o IS NOT NULL
    ), up AS (
        INSERT INTO lead_scores AS x (workspace_id, lead_id, fit, engagement, version, scored_at)
        SELECT ws, cur.lead_id, cur.fit, cur.engagement, s.version, now() FROM cur
        ON CONFLICT (workspace_id, lead_id) DO UPDATE
        SET fit = EXCLUDED.fit, engagement = EXCLUDED.engagement, version = EXCLUDED.version,
            scored_at = EXCLUDED.scored_at
        WHERE (x.fit, x.engagement, x.version) IS DISTINCT FROM
              (EXCLUDED.fit, EXCLUDED.engagement, EXCLUDED.version)
        RETURNING x.lead_id
    ), ch AS (
        INSERT INTO lead_score_changes (workspace_id, lead_id, version, cause, fit_from, fit_to,
                                        engagement_from, engagement_to, crossed, moved_to)
        SELECT ws, cur.lead_id, s.version, p_cause, old.fit, cur.fit, old.engagement, cur.engagement,
               c.crossed, CASE WHEN c.crossed AND cur.stage IN ('new', 'recycled') THEN 'mql' END
        FROM cur LEFT JOIN old ON old.lead_id = cur.lead_id
        CROSS JOIN LATERAL (SELECT ll_score_meets(s, cur.fit, cur.engagement)
                                   AND NOT coalesce(ll_score_meets(s, old.fit, old.engagement), false)
                                   AS crossed) c
        WHERE (old.fit, old.engagement) IS DISTINCT FROM (cur.fit, cur.engagement)
          AND (old.lead_id IS NOT NULL OR cur.fit <> 0 OR cur.engagement <> 0 OR c.crossed)
        RETURNING lead_id, moved_to
    ), bands AS (
        -- a lead whose score moved to another band: its figures leave the old band of the
        -- kept report figures (dimensions 5 and 6) and join the new one
        SELECT cur.lead_id, v.dim, v.band, v.sign
        FROM cur
        CROSS JOIN LATERAL (VALUES (5::smallint, ll_score_band((cur.o).fit), -1),
                                   (5::smallint, ll_score_band(cur.fit), 1),
                                   (6::smallint, ll_score_band((cur.o).engagement), -1),
                                   (6::smallint, ll_score_band(cur.engagement), 1))
            v (dim, band, sign)
        WHERE v.band IS NOT NULL
          AND CASE v.dim WHEN 5 THEN ll_score_band((cur.o).fit) IS DISTINCT FROM ll_score_band(cur.fit)
                         ELSE ll_score_band((cur.o).engagement)
                              IS DISTINCT FROM ll_score_band(cur.engagement) END
    )
    SELECT (SELECT count(*) FROM cur), (SELECT array_agg(lead_id ORDER BY lead_id) FROM ch WHERE moved_to IS NOT NULL),
           b.ids, b.dims, b.bands, b.signs
    INTO n, mv, m_ids, m_dims, m_bands, m_signs
    FROM (SELECT array_agg(lead_id) AS ids, array_agg(dim) AS dims, array_agg(band) AS bands,
                 array_agg(sign) AS signs FROM bands) b;
    IF m_ids IS NOT NULL THEN
        PERFORM ll_report_band_deltas(ws, m_ids, m_dims, m_bands, m_signs);
    END IF;
    FOREACH v_id IN ARRAY coalesce(mv, '{}') LOOP
        PERFORM 1 FROM leads WHERE workspace_id = ws AND leads.id = v_id AND stage IN ('new', 'recycled') FOR UPDATE;
        IF FOUND THEN
            PERFORM ll_lead_move(ws, v_id, 'mql', format('score threshold (scoring version %s)', s.version),
                                 NULL, NULL, NULL);
        END IF;
    END LOOP;
    RETURN n;
END
$$;

-- When no publish is being rescored: engagement fades with its events' age, so the leads
-- whose engagement is above 0 and was computed a day ago or more are rescored, up to lim
-- of the workspace of the oldest, oldest first (cause 'decay'), and their scored_at moves
-- on even when the score did not change. Their leads' rows are locked first, skipping the
-- locked ones (a write of the lead rescores it anyway; the other rescorer thread takes
-- others). Returns the leads rescored; 0 when none is due.
CREATE OR REPLACE FUNCTION ll_score_decay(lim integer) RETURNS integer
LANGUAGE plpgsql SET random_page_cost = 1.1 AS $$
DECLARE
    ws uuid; ids uuid[];
BEGIN
    SELECT s.workspace_id INTO ws FROM lead_scores s
    WHERE s.engagement > 0 AND s.scored_at < now() - interval '1 day'
    ORDER BY s.scored_at LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    ids := ARRAY(SELECT l.id FROM leads l
                 WHERE l.workspace_id = ws
                   AND l.id IN (SELECT s.lead_id FROM lead_scores s
                                WHERE s.workspace_id = ws AND s.engagement > 0
                                  AND s.scored_at < now() - interval '1 day'
                                ORDER BY s.scored_at LIMIT lim)
                 ORDER BY l.id FOR NO KEY UPDATE SKIP LOCKED);
    IF cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM ll_score_leads(ws, ids, 'decay');
    UPDATE lead_scores SET scored_at = now()
    WHERE workspace_id = ws AND lead_id = ANY (ids) AND scored_at < now() - interval '1 day';
    RETURN cardinality(ids);
END
$$;

-- One step of the rescore that a publish started: the next lim leads (in id order) of a
-- lane of the workspace whose rescore began first, in the caller's transaction, moving the
-- lane's cursor. The lane's row is locked for the step (SKIP LOCKED: another rescorer
-- thread, or daemon, takes the other lane or another workspace, or waits for the next
-- step). The last lane to end ends the run, under the run's row lock (two lanes that end
-- together take turns, and the second sees the first's end). Returns the leads scored;
-- 0 when no rescore is due.
CREATE OR REPLACE FUNCTION ll_score_step(lim integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    l scoring_run_lanes; ids uuid[]; n integer;
BEGIN
    SELECT x.* INTO l FROM scoring_run_lanes x
    JOIN scoring_runs r ON r.workspace_id = x.workspace_id
    WHERE x.finished_at IS NULL AND r.finished_at IS NULL
    ORDER BY r.started_at, x.lane LIMIT 1 FOR UPDATE OF x SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN ll_score_decay(lim);
    END IF;
    ids := ARRAY(SELECT d.id FROM leads d WHERE d.workspace_id = l.workspace_id
                 AND (l.after_id IS NULL OR d.id > l.after_id)
                 AND (l.from_id IS NULL OR d.id >= l.from_id)
                 AND (l.below_id IS NULL OR d.id < l.below_id)
                 AND d.merged_into IS NULL AND d.erased_at IS NULL
                 ORDER BY d.id LIMIT lim);
    n := cardinality(ids);
    PERFORM ll_score_leads(l.workspace_id, ids, 'publish');
    UPDATE scoring_run_lanes SET done = done + n, after_id = coalesce(ids[n], after_id),
                                 finished_at = CASE WHEN n < lim THEN clock_timestamp() END
    WHERE workspace_id = l.workspace_id AND lane = l.lane;
    IF n < lim THEN
        PERFORM 1 FROM scoring_runs WHERE workspace_id = l.workspace_id FOR UPDATE;
        UPDATE scoring_runs r
        SET done = x.done, total = x.done, finished_at = clock_timestamp()
        FROM (SELECT sum(done)::bigint AS done FROM scoring_run_lanes
              WHERE workspace_id = l.workspace_id) x
        WHERE r.workspace_id = l.workspace_id AND r.finished_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM scoring_run_lanes y
                          WHERE y.workspace_id = l.workspace_id AND y.finished_at IS NULL);
    END IF;
    RETURN greatest(n, 1);
END
$$;

-- The triggers: a statement's touches (inserted, updated or deleted: a merge moves them,
-- an operator fixes a date), new leads or leads whose scored fields changed are scored
-- again in the writing transaction, per workspace that has a version in force.
CREATE OR REPLACE FUNCTION ll_score_on_touches() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ws uuid; ids uuid[];
BEGIN
    -- A lead scored after the touch was written, by another trigger of the same statement
    -- (a batch creating leads with their created touch: the leads' insert scored them,
    -- and saw the touches), is not scored twice; the test is the report triggers' (a row
    -- of the same transaction with a higher command id), per touch, through the keys.
    FOR ws, ids IN SELECT w.workspace_id, array_agg(DISTINCT w.lead_id) FROM written w
                   WHERE EXISTS (SELECT 1 FROM scoring_runs s WHERE s.workspace_id = w.workspace_id)
                     AND NOT (SELECT EXISTS (
                         SELECT 1 FROM campaign_touches t JOIN lead_scores f
                             ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
                         WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                           AND f.xmin = t.xmin
                           AND f.cmin::text::bigint > t.cmin::text::bigint))
                   GROUP BY 1 LOOP
        PERFORM ll_score_leads(ws, ids, 'touch');
    END LOOP;
    RETURN NULL;
END
$$;

-- A statement's interactions (inserted, updated: a resend may change the kind or the
-- time, or deleted) score their leads again, as touches do.
CREATE OR REPLACE FUNCTION ll_score_on_interactions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ws uuid; ids uuid[];
BEGIN
    FOR ws, ids IN SELECT w.workspace_id, array_agg(DISTINCT w.lead_id) FROM written w
                   WHERE EXISTS (SELECT 1 FROM scoring_runs s WHERE s.workspace_id = w.workspace_id)
                   GROUP BY 1 LOOP
        PERFORM ll_score_leads(ws, ids, 'interaction');
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION ll_score_on_leads_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ws uuid; ids uuid[];
BEGIN
    -- (not twice: a lead its created touch's trigger scored already, as above)
    FOR ws, ids IN SELECT w.workspace_id, array_agg(w.id) FROM written w
                   WHERE EXISTS (SELECT 1 FROM scoring_runs s WHERE s.workspace_id = w.workspace_id)
                     AND NOT (SELECT EXISTS (
                         SELECT 1 FROM leads t JOIN lead_scores f
                             ON f.workspace_id = t.workspace_id AND f.lead_id = t.id
                         WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                           AND f.xmin = t.xmin
                           AND f.cmin::text::bigint > t.cmin::text::bigint))
                   GROUP BY 1 LOOP
        PERFORM ll_score_leads(ws, ids, 'lead');
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION ll_score_on_leads_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ws uuid; ids uuid[];
BEGIN
    FOR ws, ids IN SELECT w.workspace_id, array_agg(w.id) FROM written w
                   JOIN previous p ON p.workspace_id = w.workspace_id AND p.id = w.id
                   WHERE (w.source, w.country, w.title, w.company, w.email, w.custom,
                          w.first_campaign_id, w.latest_campaign_id, w.utm_source, w.utm_medium,
                          w.utm_campaign, w.utm_term, w.utm_content, w.merged_into, w.erased_at)
                         IS DISTINCT FROM
                         (p.source, p.country, p.title, p.company, p.email, p.custom,
                          p.first_campaign_id, p.latest_campaign_id, p.utm_source, p.utm_medium,
                          p.utm_campaign, p.utm_term, p.utm_content, p.merged_into, p.erased_at)
                     AND EXISTS (SELECT 1 FROM scoring_runs s WHERE s.workspace_id = w.workspace_id)
                   GROUP BY 1 LOOP
        PERFORM ll_score_leads(ws, ids, 'lead');
    END LOOP;
    RETURN NULL;
END
$$;

-- On Citus, row triggers (as the report triggers, sql/functions/40_reports.sql): each
-- written row scores its lead again after the statement. TG_ARGV: [0] the lead column,
-- [1] the reason ll_score_leads records.
CREATE OR REPLACE FUNCTION ll_score_on_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ws uuid;
    a uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN
        ws := OLD.workspace_id;
        IF TG_ARGV[0] = 'id' THEN a := OLD.id; ELSE a := OLD.lead_id; END IF;
    ELSE
        ws := NEW.workspace_id;
        IF TG_ARGV[0] = 'id' THEN a := NEW.id; ELSE a := NEW.lead_id; END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM scoring_runs s WHERE s.workspace_id = ws) THEN
        PERFORM ll_score_leads(ws, ARRAY[a], TG_ARGV[1]);
    END IF;
    RETURN NULL;
END
$$;

DO $do$
BEGIN
    IF ll_distributed('leads') THEN
        SET LOCAL citus.enable_unsafe_triggers = on;
        DROP TRIGGER IF EXISTS campaign_touches_score ON campaign_touches;
        DROP TRIGGER IF EXISTS campaign_touches_score_update ON campaign_touches;
        DROP TRIGGER IF EXISTS campaign_touches_score_delete ON campaign_touches;
        DROP TRIGGER IF EXISTS interactions_score ON interactions;
        DROP TRIGGER IF EXISTS interactions_score_update ON interactions;
        DROP TRIGGER IF EXISTS interactions_score_delete ON interactions;
        DROP TRIGGER IF EXISTS leads_score_insert ON leads;
        DROP TRIGGER IF EXISTS leads_score_update ON leads;
        CREATE TRIGGER campaign_touches_score AFTER INSERT OR UPDATE OR DELETE
            ON campaign_touches FOR EACH ROW EXECUTE FUNCTION ll_score_on_row('lead_id', 'touch');
        CREATE TRIGGER interactions_score AFTER INSERT OR UPDATE OR DELETE ON interactions
            FOR EACH ROW EXECUTE FUNCTION ll_score_on_row('lead_id', 'interaction');
        CREATE TRIGGER leads_score_insert AFTER INSERT ON leads
            FOR EACH ROW EXECUTE FUNCTION ll_score_on_row('id', 'lead');
        CREATE TRIGGER leads_score_update AFTER UPDATE ON leads
            FOR EACH ROW WHEN ((NEW.source, NEW.country, NEW.title, NEW.company, NEW.email,
                                NEW.custom, NEW.first_campaign_id, NEW.latest_campaign_id,
                                NEW.utm_source, NEW.utm_medium, NEW.utm_campaign, NEW.utm_term,
                                NEW.utm_content, NEW.merged_into, NEW.erased_at)
                               IS DISTINCT FROM
                               (OLD.source, OLD.country, OLD.title, OLD.company, OLD.email,
                                OLD.custom, OLD.first_campaign_id, OLD.latest_campaign_id,
                                OLD.utm_source, OLD.utm_medium, OLD.utm_campaign, OLD.utm_term,
                                OLD.utm_content, OLD.merged_into, OLD.erased_at))
            EXECUTE FUNCTION ll_score_on_row('id', 'lead');
    ELSE
        CREATE OR REPLACE TRIGGER campaign_touches_score AFTER INSERT ON campaign_touches
            REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_score_on_touches();
        CREATE OR REPLACE TRIGGER campaign_touches_score_update AFTER UPDATE ON campaign_touches
            REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_score_on_touches();
        CREATE OR REPLACE TRIGGER campaign_touches_score_delete AFTER DELETE ON campaign_touches
            REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_score_on_touches();
        CREATE OR REPLACE TRIGGER interactions_score AFTER INSERT ON interactions
            REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_score_on_interactions();
        CREATE OR REPLACE TRIGGER interactions_score_update AFTER UPDATE ON interactions
            REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_score_on_interactions();
        CREATE OR REPLACE TRIGGER interactions_score_delete AFTER DELETE ON interactions
            REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_score_on_interactions();
        CREATE OR REPLACE TRIGGER leads_score_insert AFTER INSERT ON leads
            REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_score_on_leads_insert();
        CREATE OR REPLACE TRIGGER leads_score_update AFTER UPDATE ON leads
            REFERENCING OLD TABLE AS previous NEW TABLE AS written
            FOR EACH STATEMENT EXECUTE FUNCTION ll_score_on_leads_update();
    END IF;
END
$do$;
