-- The one current definition of a lead's timeline.
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.

-- A lead's timeline (GET /v1/leads/{id}/timeline, server/lifecycle.c): one row per entry,
-- its type, when, its id (the key's tie-breaker) and its item as JSON text. The entries:
-- touches, stage changes, feedback, field edits (the audit log's updates of the lead's
-- writable fields, old and new, by whom; as long as the log keeps them, and redacted as
-- it is by an erasure), the leads merged into it and its interactions. PL/pgSQL, not an
-- inlined SQL function: Citus cannot plan a SQL function's parameterized statements over
-- distributed tables; a PL/pgSQL function's statements it plans for their values (each
-- reads one workspace: one node). The caller's keyset condition and order apply to what
-- it returns.
CREATE OR REPLACE FUNCTION ll_lead_timeline(ws uuid, lead uuid)
RETURNS TABLE (type text, at timestamptz, id uuid, item text) LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN RETURN QUERY
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
                             'stage_before', f.stage_before, 'stage_after', f.stage_after,
                             'corrects', f.corrects)::text
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
                                                        'external_ids', m.external_ids,
                                                        'interactions', m.interactions),
                             'merged_by', json_build_object('api_key_id', m.by_key_id,
                                                            'user_id', m.by_user_id),
                             'merged_at', ll_api_time(m.merged_at))::text
    FROM lead_merges m WHERE m.workspace_id = ws AND m.lead_id = lead
    UNION ALL
    SELECT 'interaction', i.occurred_at, i.id,
           json_build_object('id', i.id, 'lead_id', i.lead_id, 'kind', i.kind,
                             'direction', i.direction, 'outcome', i.outcome,
                             'occurred_at', ll_api_time(i.occurred_at),
                             'user_id', i.user_id, 'actor_name', i.actor_name,
                             'subject', i.subject, 'body', i.body,
                             'duration_seconds', i.duration_seconds,
                             'campaign_id', i.campaign_id, 'source', i.source,
                             'external_id', i.external_id, 'version', i.version,
                             'created_at', ll_api_time(i.created_at),
                             'updated_at', ll_api_time(i.updated_at))::text
    FROM interactions i WHERE i.workspace_id = ws AND i.lead_id = lead
    UNION ALL -- who routing gave the lead to (sql/functions/74_routing.sql)
    SELECT 'assignment', g.at, g.id,
           json_build_object('id', g.id, 'lead_id', g.lead_id, 'rule_id', g.rule_id,
                             'pool_id', g.pool_id, 'previous_owner_id', g.previous_owner_id,
                             'owner_id', g.owner_id, 'reason', g.reason, 'outcome', g.outcome,
                             'skipped', g.skipped,
                             'assigned_by', json_build_object('api_key_id', g.by_key_id,
                                                              'user_id', g.by_user_id),
                             'at', ll_api_time(g.at))::text
    FROM lead_assignments g WHERE g.workspace_id = ws AND g.lead_id = lead
    UNION ALL -- the lead's scores crossed the workspace's threshold (78_scoring.sql); a
              -- change row has no uuid of its own: one is made of the lead and its number
    SELECT 'score_crossing', c.changed_at, md5(c.lead_id::text || '/' || c.seq)::uuid,
           json_build_object('lead_id', c.lead_id, 'version', c.version, 'cause', c.cause,
                             'fit_from', c.fit_from, 'fit_to', c.fit_to,
                             'engagement_from', c.engagement_from,
                             'engagement_to', c.engagement_to, 'moved_to', c.moved_to,
                             'changed_at', ll_api_time(c.changed_at))::text
    FROM lead_score_changes c WHERE c.workspace_id = ws AND c.lead_id = lead AND c.crossed;
END
$$;
