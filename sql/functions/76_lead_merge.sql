-- The one current definition of a merge's writes (POST /v1/leads/{id}/merge, server/merge.c).
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.

-- Merges lead dup into lead keep of workspace ws, in the caller's transaction, which has
-- locked both (server/merge.c): everything of dup (touches, feedback, stage history,
-- external ids, interactions, the leads merged into it before and their records) moves to
-- keep; dup keeps its row as merged_into keep, without email and external ids; keep gets
-- dup's external ids and its campaigns from the touches of both; a lead_merges row tells
-- what moved, by whom (key, user). Statements one after another, each on ws's rows by
-- workspace_id = ws (on Citus each is routed to the workspace's node), dup's email and
-- external ids read before they are cleared.
CREATE OR REPLACE FUNCTION ll_lead_merge(ws uuid, keep uuid, dup uuid, by_key uuid,
                                         by_user uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    dup_email text;
    dup_ids jsonb;
    n_t integer; n_f integer; n_s integer; n_x integer; n_i integer;
    ft record;
    lt record;
BEGIN
    SELECT email, external_ids INTO dup_email, dup_ids FROM leads
    WHERE workspace_id = ws AND id = dup;
    UPDATE campaign_touches SET lead_id = keep WHERE workspace_id = ws AND lead_id = dup;
    GET DIAGNOSTICS n_t = ROW_COUNT;
    UPDATE feedback SET lead_id = keep WHERE workspace_id = ws AND lead_id = dup;
    GET DIAGNOSTICS n_f = ROW_COUNT;
    UPDATE lead_stage_changes SET lead_id = keep WHERE workspace_id = ws AND lead_id = dup;
    GET DIAGNOSTICS n_s = ROW_COUNT;
    UPDATE lead_external_ids SET lead_id = keep WHERE workspace_id = ws AND lead_id = dup;
    GET DIAGNOSTICS n_x = ROW_COUNT;
    UPDATE interactions SET lead_id = keep WHERE workspace_id = ws AND lead_id = dup;
    GET DIAGNOSTICS n_i = ROW_COUNT;
    UPDATE lead_merges SET lead_id = keep WHERE workspace_id = ws AND lead_id = dup;
    UPDATE leads SET merged_into = keep WHERE workspace_id = ws AND merged_into = dup;
    UPDATE leads SET merged_into = keep, email = NULL, external_ids = '{}',
                     first_campaign_id = NULL, latest_campaign_id = NULL, first_touch_at = NULL,
                     latest_touch_at = NULL, version = version + 1, updated_at = now()
    WHERE workspace_id = ws AND id = dup;
    -- the first and latest touch of the two, all now keep's
    SELECT campaign_id, occurred_at INTO ft FROM campaign_touches
    WHERE workspace_id = ws AND lead_id = keep ORDER BY occurred_at, created_at, id LIMIT 1;
    SELECT campaign_id, occurred_at INTO lt FROM campaign_touches
    WHERE workspace_id = ws AND lead_id = keep
    ORDER BY occurred_at DESC, created_at DESC, id DESC LIMIT 1;
    UPDATE leads SET external_ids = external_ids || coalesce(dup_ids, '{}'),
                     first_campaign_id = ft.campaign_id, first_touch_at = ft.occurred_at,
                     latest_campaign_id = lt.campaign_id, latest_touch_at = lt.occurred_at,
                     version = version + 1, updated_at = now()
    WHERE workspace_id = ws AND id = keep;
    INSERT INTO lead_merges (workspace_id, merged_id, lead_id, email, touches, feedback,
                             stage_changes, external_ids, interactions, by_key_id, by_user_id)
    VALUES (ws, dup, keep, dup_email, n_t, n_f, n_s, n_x, n_i, by_key, by_user);
END
$$;
