-- Routing: who gets a lead (tables: sql/0025_routing.sql). The one engine for every write
-- path: ll_lead_move (75_lead_move.sql) routes a lead that reaches mql by a live move,
-- POST /v1/leads/{id}/route routes on demand, the re-assignment pass re-routes a lead
-- whose pool SLA ran out, and the dry run plans without writing (server/routing.c).
--
-- A repeatable migration (sql/README.md): edit here, never in a numbered file. Sorted
-- before 75_lead_move.sql, which calls it. Every statement names one workspace, except
-- the re-assignment pass's scan of due SLAs when it is run for every workspace.

-- Whether t falls in a member's working hours {time_zone, days [ISO 1..7], start, end};
-- an end at or before the start runs past midnight (the days are those it starts on).
CREATE OR REPLACE FUNCTION ll_routing_in_hours(h jsonb, t timestamptz) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
RETURN (SELECT (extract(isodow FROM lt)::int IN (SELECT jsonb_array_elements_text(h -> 'days')::int))
               AND CASE WHEN (h ->> 'start')::time < (h ->> 'end')::time
                        THEN lt::time >= (h ->> 'start')::time AND lt::time < (h ->> 'end')::time
                        ELSE lt::time >= (h ->> 'start')::time OR lt::time < (h ->> 'end')::time
                   END
        FROM (SELECT t AT TIME ZONE (h ->> 'time_zone') AS lt) x);

-- Why a user cannot take a lead now (inactive, absent), or NULL.
CREATE OR REPLACE FUNCTION ll_routing_user_why(p_ws uuid, p_user uuid) RETURNS text
    LANGUAGE sql STABLE
RETURN (SELECT CASE
            WHEN NOT u.active THEN 'inactive'
            WHEN EXISTS (SELECT 1 FROM routing_absences a
                         WHERE a.workspace_id = p_ws AND a.user_id = p_user
                           AND a.ends_at > now() AND a.starts_at <= now()) THEN 'absent'
        END
        FROM users u WHERE u.workspace_id = p_ws AND u.id = p_user);

-- A pool's members as routing sees them now: open leads (at mql, theirs) and why each
-- cannot take a lead (NULL: eligible). p_exclude: owners the lead must not go back to.
CREATE OR REPLACE FUNCTION ll_routing_members(p_ws uuid, p_pool uuid, p_exclude uuid[])
RETURNS TABLE (user_id uuid, weight integer, cap integer, assigned bigint, last_turn bigint,
               joined timestamptz, open bigint, why text)
LANGUAGE sql STABLE AS $$
    SELECT m.user_id, m.weight, m.cap, m.assigned, m.last_turn, m.created_at, o.open,
           CASE WHEN NOT u.active THEN 'inactive'
                WHEN m.user_id = ANY (p_exclude) THEN 'previous_owner'
                WHEN EXISTS (SELECT 1 FROM routing_absences a
                             WHERE a.workspace_id = p_ws AND a.user_id = m.user_id
                               AND a.ends_at > now() AND a.starts_at <= now()) THEN 'absent'
                WHEN m.hours IS NOT NULL AND NOT ll_routing_in_hours(m.hours, now())
                     THEN 'outside_hours'
                WHEN m.cap IS NOT NULL AND o.open >= m.cap THEN 'at_cap'
           END
    FROM routing_pool_members m
    JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.user_id
    CROSS JOIN LATERAL (SELECT count(*) AS open FROM leads l
                        WHERE l.workspace_id = p_ws AND l.owner_id = m.user_id
                          AND l.stage = 'mql') o
    WHERE m.workspace_id = p_ws AND m.pool_id = p_pool
$$;

-- The member a pool gives its next lead, and who it passed over and why. Round robin: the
-- one who got a lead longest ago (joiners queue at the back); weighted: the smallest
-- (assigned + 1) / weight, deficit round robin; least loaded: the fewest open leads.
CREATE OR REPLACE FUNCTION ll_routing_pick(p_ws uuid, p_pool uuid, p_exclude uuid[],
                                           OUT owner_id uuid, OUT skipped jsonb)
LANGUAGE plpgsql STABLE AS $$
-- plpgsql, not SQL: its statement is planned once per connection (an SQL function called
-- for one row is planned on every call: 1 ms of a move's time).
DECLARE
    v_method text;
BEGIN
    SELECT p.method INTO v_method FROM routing_pools p WHERE p.workspace_id = p_ws AND p.id = p_pool;
    SELECT (array_agg(w.user_id ORDER BY
                      CASE v_method WHEN 'weighted' THEN (w.assigned + 1)::float8 / w.weight
                                    WHEN 'least_loaded' THEN w.open::float8 ELSE 0 END,
                      w.last_turn, w.joined, w.user_id) FILTER (WHERE w.why IS NULL))[1],
           coalesce(jsonb_agg(jsonb_build_object('user_id', w.user_id, 'why', w.why)
                              ORDER BY w.user_id) FILTER (WHERE w.why IS NOT NULL), '[]')
    INTO owner_id, skipped
    FROM ll_routing_members(p_ws, p_pool, p_exclude) w;
END
$$;

-- The first rule a lead meets (NULL: none; a workspace without rules routes nothing). A
-- rule's conditions {field, op, value} (validated by server/routing.c) must all hold: text
-- compares without case; gte and lte compare the score as a number; a lead without the
-- field meets no condition on it; no conditions: a catch-all. Written in plpgsql with the
-- lead's fields as the statement's parameters, so that it is planned once per connection
-- (SQL functions over a row were not inlined and cost 30 ms for 100 rules).
CREATE OR REPLACE FUNCTION ll_routing_rule(p_ws uuid, p_lead leads) RETURNS routing_rules
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r routing_rules;
    v_domain text := nullif(split_part(p_lead.email, '@', 2), '');
BEGIN
    SELECT * INTO r FROM routing_rules x
    WHERE x.workspace_id = p_ws
      AND NOT EXISTS (
          SELECT 1
          FROM jsonb_array_elements(x.conditions) c
          CROSS JOIN LATERAL (SELECT CASE c ->> 'field'
                                  WHEN 'source' THEN p_lead.source
                                  WHEN 'country' THEN p_lead.country
                                  WHEN 'company' THEN p_lead.company
                                  WHEN 'title' THEN p_lead.title
                                  WHEN 'email_domain' THEN v_domain
                                  WHEN 'first_campaign_id' THEN p_lead.first_campaign_id::text
                                  WHEN 'latest_campaign_id' THEN p_lead.latest_campaign_id::text
                                  WHEN 'score' THEN p_lead.score::text
                                  ELSE p_lead.custom ->> substr(c ->> 'field', 8)
                              END AS v) f
          WHERE NOT coalesce(CASE c ->> 'op'
                  WHEN 'gte' THEN f.v::numeric >= (c ->> 'value')::numeric
                  WHEN 'lte' THEN f.v::numeric <= (c ->> 'value')::numeric
                  WHEN 'eq' THEN lower(f.v) = lower(c ->> 'value')
                  WHEN 'contains' THEN strpos(lower(f.v), lower(c ->> 'value')) > 0
                  WHEN 'in' THEN lower(f.v) IN (SELECT lower(i)
                                                FROM jsonb_array_elements_text(c -> 'value') i)
              END, false))
    ORDER BY x.position
    LIMIT 1;
    RETURN r;
END
$$;

-- What routing does with a lead: outcome no_rule, kept_owner (the rule leaves a lead with
-- an active owner alone), assigned (owner_id) or nobody_eligible; the rule, the pool, who
-- was passed over. p_pool given: that pool decides (re-assignment), no rule is read, and
-- the lead goes to none of p_exclude. p_lock: lock the pool (a write; the dry run does not).
CREATE OR REPLACE FUNCTION ll_routing_plan(p_ws uuid, p_lead leads, p_lock boolean,
                                           p_pool uuid DEFAULT NULL, p_exclude uuid[] DEFAULT '{}',
                                           OUT outcome text, OUT rule_id uuid, OUT pool_id uuid,
                                           OUT owner_id uuid, OUT skipped jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    r routing_rules;
    v_why text;
BEGIN
    skipped := '[]';
    pool_id := p_pool;
    IF p_pool IS NULL THEN
        r := ll_routing_rule(p_ws, p_lead);
        IF r.id IS NULL THEN
            outcome := 'no_rule';
            RETURN;
        END IF;
        rule_id := r.id;
        pool_id := r.target_pool_id;
        IF p_lead.owner_id IS NOT NULL AND NOT r.reassign_owned
           AND EXISTS (SELECT 1 FROM users u WHERE u.workspace_id = p_ws
                         AND u.id = p_lead.owner_id AND u.active) THEN
            outcome := 'kept_owner';
            owner_id := p_lead.owner_id;
            RETURN;
        END IF;
        IF r.target_user_id IS NOT NULL THEN
            v_why := ll_routing_user_why(p_ws, r.target_user_id);
            IF v_why IS NULL THEN
                outcome := 'assigned';
                owner_id := r.target_user_id;
            ELSE
                outcome := 'nobody_eligible';
                skipped := jsonb_build_array(jsonb_build_object('user_id', r.target_user_id,
                                                                'why', v_why));
            END IF;
            RETURN;
        END IF;
    END IF;
    IF p_lock THEN
        PERFORM 1 FROM routing_pools p WHERE p.workspace_id = p_ws AND p.id = pool_id FOR UPDATE;
    END IF;
    SELECT k.owner_id, k.skipped INTO owner_id, skipped
    FROM ll_routing_pick(p_ws, pool_id, p_exclude) k;
    outcome := CASE WHEN owner_id IS NULL THEN 'nobody_eligible' ELSE 'assigned' END;
END
$$;

-- Routes a lead and records it: the plan under the pool's lock, the member's turn, the
-- log row, the SLA. The caller has locked the lead and writes its new owner (assignment's
-- owner_id when outcome is assigned). reason: mql, on_demand or reassigned_sla.
CREATE OR REPLACE FUNCTION ll_routing_assign(p_ws uuid, p_lead leads, p_reason text, p_key uuid,
                                             p_user uuid, p_pool uuid DEFAULT NULL,
                                             p_rule uuid DEFAULT NULL,
                                             p_exclude uuid[] DEFAULT '{}',
                                             OUT outcome text, OUT assignment lead_assignments)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
    v_turn bigint;
    v_sla integer;
BEGIN
    p := ll_routing_plan(p_ws, p_lead, true, p_pool, p_exclude);
    outcome := p.outcome;
    IF p.outcome NOT IN ('assigned', 'nobody_eligible') THEN
        RETURN;
    END IF;
    IF p.outcome = 'assigned' AND p.pool_id IS NOT NULL THEN
        UPDATE routing_pools SET turn = turn + 1
        WHERE workspace_id = p_ws AND id = p.pool_id
        RETURNING turn, reassign_after_minutes INTO v_turn, v_sla;
        UPDATE routing_pool_members SET assigned = assigned + 1, last_turn = v_turn,
                                        last_assigned_at = now()
        WHERE workspace_id = p_ws AND pool_id = p.pool_id AND user_id = p.owner_id;
    END IF;
    INSERT INTO lead_assignments (workspace_id, lead_id, rule_id, pool_id, previous_owner_id,
                                  owner_id, reason, outcome, skipped, by_key_id, by_user_id)
    VALUES (p_ws, p_lead.id, coalesce(p.rule_id, p_rule), p.pool_id, p_lead.owner_id,
            p.owner_id, p_reason, p.outcome, p.skipped, p_key, p_user)
    RETURNING * INTO assignment;
    IF v_sla IS NOT NULL THEN
        INSERT INTO routing_sla (workspace_id, lead_id, assignment_id, pool_id, owner_id,
                                 assigned_at, due_at)
        VALUES (p_ws, p_lead.id, assignment.id, p.pool_id, p.owner_id, assignment.at,
                assignment.at + make_interval(mins => v_sla))
        ON CONFLICT (workspace_id, lead_id) DO UPDATE
        SET assignment_id = excluded.assignment_id, pool_id = excluded.pool_id,
            owner_id = excluded.owner_id, assigned_at = excluded.assigned_at,
            due_at = excluded.due_at;
    ELSIF p.outcome = 'assigned' THEN
        DELETE FROM routing_sla WHERE workspace_id = p_ws AND lead_id = p_lead.id;
    END IF;
END
$$;

-- POST /v1/leads/{id}/route: routes the lead now (locked here) and gives it its new owner.
-- NULL outcome: no such lead; gone: erased or merged (nothing routed).
CREATE OR REPLACE FUNCTION ll_lead_route(p_ws uuid, p_lead uuid, p_key uuid, p_user uuid,
                                         OUT outcome text, OUT assignment lead_assignments,
                                         OUT owner_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    l leads;
    a record;
BEGIN
    SELECT * INTO l FROM leads WHERE workspace_id = p_ws AND id = p_lead FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF l.erased_at IS NOT NULL OR l.merged_into IS NOT NULL THEN
        outcome := 'gone';
        RETURN;
    END IF;
    a := ll_routing_assign(p_ws, l, 'on_demand', p_key, p_user);
    outcome := a.outcome;
    assignment := a.assignment;
    owner_id := l.owner_id;
    IF a.outcome = 'assigned' AND (a.assignment).owner_id IS DISTINCT FROM l.owner_id THEN
        UPDATE leads SET owner_id = (a.assignment).owner_id, version = version + 1,
                         updated_at = now()
        WHERE workspace_id = p_ws AND id = p_lead;
        owner_id := (a.assignment).owner_id;
    END IF;
END
$$;

-- The re-assignment pass: leads a pool assigned that have no sales feedback since and are
-- still the same owner's at mql when the pool's SLA runs out go to another eligible member
-- of the pool, never back to an owner the pool gave them before. At most p_limit SLAs (of
-- p_ws, or of every workspace when NULL: the workspaces with SLAs due, through
-- routing_sla_due, then each one's); a lead locked by a write meanwhile waits for the next
-- pass. Locks in the order a move does: the lead, the pool, the SLA row. Returns how many
-- SLAs it settled. Every statement that locks or writes names the workspace (on Citus, one
-- node runs it).
CREATE OR REPLACE FUNCTION ll_routing_reassign_due(p_ws uuid, p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    s routing_sla;
    l leads;
    a record;
    v_ex uuid[];
    ws uuid;
    n integer := 0;
BEGIN
    IF p_ws IS NULL THEN
        FOR ws IN SELECT DISTINCT workspace_id FROM routing_sla WHERE due_at <= now() LOOP
            EXIT WHEN n >= p_limit;
            n := n + ll_routing_reassign_due(ws, p_limit - n);
        END LOOP;
        RETURN n;
    END IF;
    FOR c IN SELECT lead_id FROM routing_sla
             WHERE workspace_id = p_ws AND due_at <= now()
             ORDER BY due_at LIMIT p_limit LOOP
        SELECT * INTO l FROM leads WHERE workspace_id = p_ws AND id = c.lead_id
        FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        DELETE FROM routing_sla WHERE workspace_id = p_ws AND lead_id = c.lead_id
                                  AND due_at <= now()
        RETURNING * INTO s;
        CONTINUE WHEN NOT FOUND;
        n := n + 1;
        CONTINUE WHEN l.owner_id IS DISTINCT FROM s.owner_id OR l.stage <> 'mql'
                      OR l.erased_at IS NOT NULL OR l.merged_into IS NOT NULL
                      OR EXISTS (SELECT 1 FROM feedback f
                                 WHERE f.workspace_id = p_ws AND f.lead_id = s.lead_id
                                   AND f.created_at >= s.assigned_at);
        SELECT array_agg(DISTINCT x.owner_id) INTO v_ex FROM lead_assignments x
        WHERE x.workspace_id = p_ws AND x.lead_id = s.lead_id
          AND x.pool_id = s.pool_id AND x.owner_id IS NOT NULL;
        a := ll_routing_assign(p_ws, l, 'reassigned_sla', NULL, NULL, s.pool_id,
                               (SELECT x.rule_id FROM lead_assignments x
                                WHERE x.workspace_id = p_ws
                                  AND x.id = s.assignment_id),
                               coalesce(v_ex, '{}') || l.owner_id);
        IF a.outcome = 'assigned' THEN
            UPDATE leads SET owner_id = (a.assignment).owner_id, version = version + 1,
                             updated_at = now()
            WHERE workspace_id = p_ws AND id = s.lead_id;
        END IF;
    END LOOP;
    RETURN n;
END
$$;
