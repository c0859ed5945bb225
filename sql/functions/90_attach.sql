-- The one current definition of which tables are audited and which write the
-- change feed.
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.
--
-- The audit and change triggers of each table (row triggers for updates and deletes, and
-- statement triggers for inserts, which record a bulk statement's rows set-based), with
-- the columns they never record (secret ones: from their names) and, for the feed, those
-- whose change alone is no change (bookkeeping). The attach functions compute the column lists from the table as it is, so
-- this file runs after every numbered migration: a new column is seen at once.

SELECT ll_audit_attach('workspaces', 'workspace', 'id', 'id', NULL);
SELECT ll_audit_attach('users', 'user', 'workspace_id', 'id', NULL);
SELECT ll_audit_attach('api_keys', 'api_key', 'workspace_id', 'id', NULL);
SELECT ll_audit_attach('campaigns', 'campaign', 'workspace_id', 'id', NULL);
SELECT ll_audit_attach('leads', 'lead', 'workspace_id', 'id', 'id');
SELECT ll_audit_attach('campaign_touches', 'touch', 'workspace_id', 'id', 'lead_id');
SELECT ll_audit_attach('lead_stage_changes', 'stage_change', 'workspace_id', 'id', 'lead_id');
SELECT ll_audit_attach('feedback', 'feedback', 'workspace_id', 'id', 'lead_id');
SELECT ll_audit_attach('feedback_reasons', 'feedback_reason', 'workspace_id', 'code', NULL);
SELECT ll_audit_attach('webhook_endpoints', 'webhook', 'workspace_id', 'id', NULL);
SELECT ll_audit_attach('invitations', 'invitation', 'workspace_id', 'id', NULL);
SELECT ll_audit_attach('interactions', 'interaction', 'workspace_id', 'id', 'lead_id');
SELECT ll_audit_attach('sla_goals', 'sla_goal', 'workspace_id', 'id', NULL);

SELECT ll_change_attach('leads', 'lead', 'id', 'id',
                        ARRAY['first_touch_at', 'latest_touch_at', 'stage_changed_at']);
SELECT ll_change_attach('campaigns', 'campaign', 'id', NULL, '{}');
SELECT ll_change_attach('campaign_touches', 'touch', 'id', 'lead_id', '{}');
SELECT ll_change_attach('feedback', 'feedback', 'id', 'lead_id', '{}');
SELECT ll_change_attach('users', 'user', 'id', NULL, '{}');
SELECT ll_change_attach('api_keys', 'api_key', 'id', NULL, ARRAY['last_used_at']);
SELECT ll_change_attach('feedback_reasons', 'reason', 'code', NULL, '{}');
SELECT ll_change_attach('interactions', 'interaction', 'id', 'lead_id', '{}');
