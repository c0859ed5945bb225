-- What a stage change implies, written once (ll_lead_move).
--
-- A lead's stage moves by a transition (POST /v1/leads/{id}/transitions) or by sales'
-- feedback (accepted, rejected, won, lost, recycled); either way the lead gets its new stage,
-- a new version and the history row that records the move (from, to, why, by whom, when).
-- Both paths call this function, so that the history cannot be forgotten or written two
-- ways. The change feed row (lead.stage_changed) and the report facts follow from the
-- tables' triggers. It touches one lead of one workspace (DESIGN section 7: it runs where
-- that workspace lives).
--
-- The caller has locked the lead (SELECT ... FOR UPDATE) and checked that the move is
-- allowed. p_recycle_on: when a recycled lead comes back to marketing (feedback), else
-- NULL. p_at: when the move happened, for history imported from another system (the
-- caller checked it is not before the lead's last move); NULL: now. Returns the lead as
-- moved and its history row; both NULL when there is no lead.
--
-- A live move (p_at NULL) to mql routes the lead (74_routing.sql: the workspace's rules,
-- logged in lead_assignments) and writes its new owner in the same UPDATE, so the move
-- stays one version. Imported history (p_at given) routes nothing.
CREATE OR REPLACE FUNCTION ll_lead_move(p_ws uuid, p_lead uuid, p_to text, p_reason text, p_key uuid,
                             p_user uuid, p_recycle_on date, p_at timestamptz DEFAULT NULL,
                             OUT moved leads, OUT change lead_stage_changes)
LANGUAGE plpgsql AS $$
DECLARE
    v_lead leads;
    v_from text;
    v_owner uuid;
    v_route record;
    -- when the move happened, computed before the UPDATE: Citus refuses a function that is
    -- not IMMUTABLE inside COALESCE or CASE in an UPDATE of a distributed table
    v_at timestamptz := coalesce(p_at, now());
BEGIN
    SELECT * INTO v_lead FROM leads WHERE workspace_id = p_ws AND id = p_lead;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_from := v_lead.stage;
    IF p_to = 'mql' AND p_at IS NULL AND v_from <> 'mql' THEN
        v_lead.stage := p_to;
        v_route := ll_routing_assign(p_ws, v_lead, 'mql', p_key, p_user);
        IF v_route.outcome = 'assigned' THEN
            v_owner := (v_route.assignment).owner_id;
        END IF;
    END IF;
    -- one statement: the report triggers of both writes fire after both, so the lead's
    -- facts are refreshed once (the second trigger finds them written after its row),
    -- where a routed move refreshed them for the new owner and again for the stage row
    WITH u AS (
        UPDATE leads SET stage = p_to, stage_changed_at = v_at,
                         recycle_on = p_recycle_on, owner_id = coalesce(v_owner, owner_id),
                         version = version + 1, updated_at = now()
        WHERE workspace_id = p_ws AND id = p_lead
        RETURNING *),
    c AS (
        INSERT INTO lead_stage_changes (workspace_id, lead_id, from_stage, to_stage, reason,
                                        by_key_id, by_user_id, changed_at)
        SELECT p_ws, p_lead, v_from, p_to, p_reason, p_key, p_user, u.stage_changed_at FROM u
        RETURNING *)
    SELECT * INTO change FROM c;
    SELECT * INTO moved FROM leads WHERE workspace_id = p_ws AND id = p_lead;
END
$$;
