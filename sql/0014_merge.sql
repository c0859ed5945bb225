-- Leadloop schema 0014: merging a duplicate lead into another (POST /v1/leads/{id}/merge,
-- server/merge.c), and the timeline's field edits and merges.
--
-- A merge moves the duplicate's touches, feedback, stage history and external ids to the
-- survivor and marks the duplicate merged_into the survivor (0012 added the column; the
-- change trigger types that update lead.merged). The duplicate's row stays, so that its
-- id can answer 308 with the survivor's location, but it is no lead any more: it has no
-- email (released for a new lead), no external ids, no rows of its own, and no report
-- facts (ll_report_facts below leaves merged leads out, and the leads update trigger
-- refreshes a lead whose merged_into changes). Its former email is kept in the merge's
-- record, lead_merges, which the survivor's timeline shows; an erasure of the survivor
-- clears it with every other personal value (server/leads.c sql_erase).
--
-- Chains stay one step long: when a survivor is merged itself, the leads merged into it
-- and their merge records move on to the new survivor with the rest of its rows.

ALTER TABLE leads DROP CONSTRAINT leads_check,
    ADD CONSTRAINT leads_email_kept CHECK (email IS NOT NULL OR erased_at IS NOT NULL
                                           OR merged_into IS NOT NULL),
    ADD CONSTRAINT leads_merged_into FOREIGN KEY (workspace_id, merged_into)
        REFERENCES leads (workspace_id, id),
    ADD CONSTRAINT leads_merged_into_other CHECK (merged_into <> id);
-- The leads merged into one: moved on by the next merge, erased with their survivor.
CREATE INDEX leads_by_merged_into ON leads (workspace_id, merged_into)
    WHERE merged_into IS NOT NULL;

-- One row per merged lead: into which lead (now), when, by whom, and what moved.
CREATE TABLE lead_merges (
    workspace_id  uuid NOT NULL,
    merged_id     uuid NOT NULL, -- the duplicate
    lead_id       uuid NOT NULL, -- the lead it is part of now (its survivor, or theirs)
    email         text,          -- the duplicate's email when merged; null once erased
    touches       integer NOT NULL,
    feedback      integer NOT NULL,
    stage_changes integer NOT NULL,
    external_ids  integer NOT NULL,
    by_key_id     uuid,
    by_user_id    uuid,
    merged_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, merged_id),
    FOREIGN KEY (workspace_id, merged_id) REFERENCES leads (workspace_id, id),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id)
);
CREATE INDEX lead_merges_by_lead ON lead_merges (workspace_id, lead_id, merged_at);

-- 0005's facts, without merged leads: a merged lead's rows count for its survivor.
CREATE OR REPLACE FUNCTION ll_report_facts(ws uuid, ids uuid[]) RETURNS SETOF report_leads
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
    WHERE l.workspace_id = ws AND l.id = ANY (ids) AND l.merged_into IS NULL
$$;

-- 0005's leads update trigger, refreshing a lead whose merged_into changed as well.
CREATE OR REPLACE FUNCTION ll_report_on_leads_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    -- planned on every call (EXECUTE): a plan kept from a one-row update joins the
    -- transition tables row by row, 80 s for a 20,000-row update
    FOR r IN EXECUTE 'SELECT n.workspace_id, array_agg(n.id) AS ids'
             ' FROM written n JOIN previous o ON o.workspace_id = n.workspace_id AND o.id = n.id'
             ' WHERE (n.source, n.owner_id, n.created_at, n.merged_into)'
             ' IS DISTINCT FROM (o.source, o.owner_id, o.created_at, o.merged_into)'
             ' GROUP BY n.workspace_id' LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.ids);
    END LOOP;
    RETURN NULL;
END
$$;
-- A merged lead leaves the figures now.
SELECT ll_report_refresh(workspace_id, array_agg(id)) FROM leads
WHERE merged_into IS NOT NULL GROUP BY workspace_id;

-- A time in the API's one format (RFC 3339, UTC, microseconds): server/db.h DB_TS in SQL.
CREATE FUNCTION ll_api_time(t timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- The fields of a lead that its field_edit timeline entries show: those a client writes.
-- The stage has entries of its own (stage_change), and the rest follow from other entries
-- (touches move the campaigns, feedback the recycle date, a merge merged_into).
CREATE FUNCTION ll_lead_edit_fields() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['email', 'first_name', 'last_name', 'company', 'title', 'phone', 'country',
                 'source', 'score', 'owner_id', 'consent', 'custom', 'external_ids'];

-- A lead's timeline (GET /v1/leads/{id}/timeline, server/lifecycle.c): one row per entry,
-- its type, when, its id (the key's tie-breaker) and its item as JSON text. The entries:
-- touches, stage changes, feedback, field edits (the audit log's updates of the lead's
-- writable fields, old and new, by whom; as long as the log keeps them, and redacted as
-- it is by an erasure) and the leads merged into it. Inlined into the caller's query
-- (SQL, STABLE, not STRICT), so that its keyset condition and order reach each branch.
CREATE FUNCTION ll_lead_timeline(ws uuid, lead uuid)
RETURNS TABLE (type text, at timestamptz, id uuid, item text) LANGUAGE sql STABLE AS $$
    SELECT 'touch', t.occurred_at, t.id,
           json_build_object('id', t.id, 'campaign_id', t.campaign_id, 'lead_id', t.lead_id,
                             'kind', t.kind, 'occurred_at', ll_api_time(t.occurred_at),
                             'created_at', ll_api_time(t.created_at))::text
    FROM campaign_touches t WHERE t.workspace_id = ws AND t.lead_id = lead
    UNION ALL
    SELECT 'stage_change', s.changed_at, s.id,
           json_build_object('id', s.id, 'lead_id', s.lead_id, 'from', s.from_stage,
                             'to', s.to_stage, 'reason', s.reason,
                             'changed_by', json_build_object('api_key_id', s.by_key_id,
                                                             'user_id', s.by_user_id),
                             'changed_at', ll_api_time(s.changed_at))::text
    FROM lead_stage_changes s WHERE s.workspace_id = ws AND s.lead_id = lead
    UNION ALL
    SELECT 'feedback', f.occurred_at, f.id,
           json_build_object('id', f.id, 'lead_id', f.lead_id, 'kind', f.kind,
                             'reason', f.reason, 'rating', f.rating, 'amount', f.amount,
                             'currency', f.currency, 'note', f.note,
                             'author', json_build_object('user_id', f.author_user_id,
                                                         'api_key_id', f.author_key_id),
                             'occurred_at', ll_api_time(f.occurred_at),
                             'created_at', ll_api_time(f.created_at),
                             'stage_before', f.stage_before, 'stage_after', f.stage_after)::text
    FROM feedback f WHERE f.workspace_id = ws AND f.lead_id = lead
    UNION ALL
    SELECT 'field_edit', a.created_at, a.id,
           json_build_object('id', a.id, 'lead_id', a.lead_id,
                             'changes', (SELECT json_agg(json_build_object(
                                                 'field', k, 'old', a.old -> k, 'new', a.new -> k)
                                             ORDER BY k)
                                         FROM jsonb_object_keys(a.new) AS k
                                         WHERE k = ANY (ll_lead_edit_fields())),
                             'redacted', (SELECT json_agg(k ORDER BY k)
                                          FROM unnest(a.redacted) AS k
                                          WHERE k = ANY (ll_lead_edit_fields())),
                             'changed_by', json_build_object('actor', a.actor,
                                                             'api_key_id', a.api_key_id,
                                                             'user_id', a.user_id),
                             'changed_at', ll_api_time(a.created_at))::text
    FROM audit_log a
    WHERE a.workspace_id = ws AND coalesce(a.lead_id::text, a.entity_id) = lead::text
      AND a.entity = 'lead' AND a.operation = 'update' AND a.new ?| ll_lead_edit_fields()
    UNION ALL
    SELECT 'merge', m.merged_at, m.merged_id,
           json_build_object('merged_id', m.merged_id, 'lead_id', m.lead_id,
                             'email', m.email,
                             'moved', json_build_object('touches', m.touches,
                                                        'feedback', m.feedback,
                                                        'stage_changes', m.stage_changes,
                                                        'external_ids', m.external_ids),
                             'merged_by', json_build_object('api_key_id', m.by_key_id,
                                                            'user_id', m.by_user_id),
                             'merged_at', ll_api_time(m.merged_at))::text
    FROM lead_merges m WHERE m.workspace_id = ws AND m.lead_id = lead
$$;
