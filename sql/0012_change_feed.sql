-- Leadloop schema 0012: the change feed (GET /v1/changes, webhooks) and no-op writes.
--
-- Every committed change of a lead, campaign, touch, feedback, user, API key or reason is a
-- row of `changes`, written by a row-level trigger in the writing transaction, so that no
-- write path can forget it (single writes, batches, imports, merges, an operator's SQL).
-- The row holds the entity as it is after the change (`doc`: the table's row as jsonb,
-- without secret columns), the acting key and user (from the request context the daemon
-- sets for the audit log, server/audit.c) and the writing transaction's id.
--
-- The order a reader is served in is (xid, seq), not seq alone. Sequence numbers are
-- drawn before commit, so transactions commit in another order than their numbers: a
-- reader that saw seq 11 while seq 10 was uncommitted would skip 10 forever. The feed
-- serves only rows whose transaction is older than the reading statement's snapshot xmin
-- (every transaction with an id below xmin has ended, so no row can appear there later),
-- in (xid, seq) order: any row committed later has an xid >= that xmin, after everything
-- served. The cost is a delay: a change waits for every older writing transaction to end.
-- Citus (DESIGN section 7): one workspace's rows live on one node, whose transaction ids
-- order them.
--
-- An update that changes nothing a client can see (the values the row has, or bookkeeping
-- only: the touch times) writes no change row; the leads, campaigns, users and reasons
-- keep their version and updated_at in that case (ll_keep_version), so a sync tool that
-- sends the same data again sees nothing change.

ALTER TABLE changes
    ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN type text,
    ADD COLUMN lead_id uuid, -- the lead the change is about (its own, its touches, feedback)
    ADD COLUMN actor text, -- api_key, cli (leadloopd commands) or sql (anyone else)
    ADD COLUMN actor_key_id uuid,
    ADD COLUMN actor_user_id uuid,
    ADD COLUMN doc jsonb,
    ALTER COLUMN entity_id TYPE text;
-- Rows written before this migration carry no entity: they are named but have no data.
UPDATE changes SET type = entity || '.' || CASE operation
    WHEN 'create' THEN 'created' WHEN 'erase' THEN 'erased' WHEN 'transition' THEN 'stage_changed'
    WHEN 'archive' THEN 'archived' ELSE 'updated' END;
ALTER TABLE changes ALTER COLUMN type SET NOT NULL,
    ALTER COLUMN operation DROP NOT NULL;
ALTER TABLE changes DROP CONSTRAINT changes_pkey,
    ADD PRIMARY KEY (workspace_id, xid, seq);
-- The erasure finds the rows about a lead to redact them.
CREATE INDEX changes_by_lead ON changes (workspace_id, lead_id) WHERE lead_id IS NOT NULL;

-- The feed's retention (LEADLOOP_CHANGES_RETENTION_DAYS) deletes a prefix of a workspace's
-- feed and remembers where it ended: a cursor before it answers 410.
CREATE TABLE change_horizons (
    workspace_id uuid PRIMARY KEY,
    xid          xid8 NOT NULL,
    seq          bigint NOT NULL
);

-- A lead that was merged into another answers 308 with the survivor's location.
ALTER TABLE leads ADD COLUMN merged_into uuid;

-- The change trigger. TG_ARGV: [0] the entity's name, [1] its id column, [2] its lead
-- column or '', [3] how many secret columns follow, [4..] the secret columns (never in
-- doc), then the bookkeeping columns (a change of those alone is no change).
CREATE FUNCTION ll_change_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    nsecret constant integer := TG_ARGV[3]::integer;
    secret constant text[] := TG_ARGV[4:3 + nsecret];
    ignore constant text[] := TG_ARGV[4 + nsecret:];
    ctx jsonb;
    doc jsonb;
    was jsonb;
    t text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        doc := to_jsonb(OLD) - secret;
        t := 'deleted';
    ELSIF TG_OP = 'INSERT' THEN
        doc := to_jsonb(NEW) - secret;
        t := 'created';
    ELSE
        IF NEW IS NOT DISTINCT FROM OLD THEN
            RETURN NULL;
        END IF;
        doc := to_jsonb(NEW) - secret;
        was := to_jsonb(OLD) - secret;
        IF doc - ignore = was - ignore THEN
            RETURN NULL;
        END IF;
        t := CASE WHEN doc ->> 'erased_at' IS NOT NULL AND was ->> 'erased_at' IS NULL THEN 'erased'
                  WHEN doc ->> 'merged_into' IS NOT NULL AND was ->> 'merged_into' IS NULL THEN 'merged'
                  WHEN doc ->> 'revoked_at' IS NOT NULL AND was ->> 'revoked_at' IS NULL THEN 'revoked'
                  WHEN doc ->> 'status' = 'archived' AND was ->> 'status' <> 'archived' THEN 'archived'
                  WHEN doc -> 'stage' IS DISTINCT FROM was -> 'stage' THEN 'stage_changed'
                  ELSE 'updated' END;
    END IF;
    ctx := nullif(current_setting('leadloop.audit', true), '')::jsonb;
    INSERT INTO changes (workspace_id, type, entity, entity_id, lead_id, actor, actor_key_id,
                         actor_user_id, doc)
    VALUES ((doc ->> 'workspace_id')::uuid, TG_ARGV[0] || '.' || t, TG_ARGV[0], doc ->> TG_ARGV[1],
            (doc ->> nullif(TG_ARGV[2], ''))::uuid, coalesce(ctx ->> 'actor', 'sql'),
            (ctx ->> 'api_key_id')::uuid,
            (ctx ->> 'user_id')::uuid, doc);
    -- No NOTIFY here: a transaction that notifies holds a database-wide lock from its
    -- commit's start to its end, WAL flush included, so every writer would commit one
    -- after the other. The daemon notifies after the write instead (ll_changes_notify).
    RETURN NULL;
END
$$;
ALTER FUNCTION ll_change_row() SET plan_cache_mode = force_generic_plan;

-- Puts the change trigger on a table (again, after a migration changed its columns).
CREATE FUNCTION ll_change_attach(tbl regclass, entity text, id_col text, lead_col text,
                                 bookkeeping text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    secret text[];
BEGIN
    SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}') INTO secret
    FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname ~* '(hash|secret|password|passwd|token|salt)';
    EXECUTE format('DROP TRIGGER IF EXISTS change_feed ON %s', tbl);
    EXECUTE format('CREATE TRIGGER change_feed AFTER INSERT OR UPDATE OR DELETE ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION ll_change_row(%L, %L, %L, %L%s%s)', tbl,
                   entity, id_col, coalesce(lead_col, ''), cardinality(secret),
                   (SELECT coalesce(string_agg(format(', %L', s), ''), '') FROM unnest(secret) AS s),
                   (SELECT coalesce(string_agg(format(', %L', s), ''), '')
                    FROM unnest(bookkeeping || ARRAY['version', 'updated_at']) AS s));
END
$$;

SELECT ll_change_attach('leads', 'lead', 'id', 'id',
                        ARRAY['first_touch_at', 'latest_touch_at', 'stage_changed_at']);
SELECT ll_change_attach('campaigns', 'campaign', 'id', NULL, '{}');
SELECT ll_change_attach('campaign_touches', 'touch', 'id', 'lead_id', '{}');
SELECT ll_change_attach('feedback', 'feedback', 'id', 'lead_id', '{}');
SELECT ll_change_attach('users', 'user', 'id', NULL, '{}');
SELECT ll_change_attach('api_keys', 'api_key', 'id', NULL, ARRAY['last_used_at']);
SELECT ll_change_attach('feedback_reasons', 'reason', 'code', NULL, '{}');

-- An update that changes no value keeps the row's version and updated_at: the write is
-- answered as it was, with the same ETag, and the triggers after it see no change.
CREATE FUNCTION ll_keep_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v integer := NEW.version;
    u timestamptz := NEW.updated_at;
BEGIN
    NEW.version := OLD.version;
    NEW.updated_at := OLD.updated_at;
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.version := v;
        NEW.updated_at := u;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER keep_version BEFORE UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION ll_keep_version();
CREATE TRIGGER keep_version BEFORE UPDATE ON campaigns FOR EACH ROW EXECUTE FUNCTION ll_keep_version();
CREATE TRIGGER keep_version BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION ll_keep_version();
CREATE TRIGGER keep_version BEFORE UPDATE ON feedback_reasons FOR EACH ROW
    EXECUTE FUNCTION ll_keep_version();

-- Wakes GET /v1/changes?wait= and the webhook dispatchers of every daemon: sent by each
-- daemon after its write requests, a batch of workspaces at a time, in a transaction of
-- its own that does not wait for its commit to reach the disk (it only notifies).
CREATE FUNCTION ll_changes_notify(workspaces text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ws text;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    FOREACH ws IN ARRAY workspaces LOOP
        PERFORM pg_notify('leadloop_changes', ws);
    END LOOP;
END
$$;

-- Erasure (DELETE /v1/leads/{id}, in its transaction): the personal values of the lead
-- leave every change about it, as they leave the audit log (ll_audit_redact_lead). The
-- changes stay, with their type, time and actor: a tombstone.
CREATE FUNCTION ll_changes_redact_lead(ws uuid, lead uuid) RETURNS bigint LANGUAGE sql AS $$
    WITH u AS (
        UPDATE changes SET doc = CASE entity
            WHEN 'lead' THEN doc || jsonb_build_object('email', NULL, 'first_name', NULL,
                'last_name', NULL, 'company', NULL, 'title', NULL, 'phone', NULL,
                'consent', NULL, 'custom', '{}'::jsonb, 'external_ids', '{}'::jsonb)
            WHEN 'feedback' THEN doc || jsonb_build_object('note', NULL)
            ELSE doc END
        WHERE workspace_id = ws AND lead_id = lead AND doc IS NOT NULL
          AND entity IN ('lead', 'feedback')
        RETURNING 1)
    SELECT count(*) FROM u
$$;
