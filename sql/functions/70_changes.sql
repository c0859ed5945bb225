-- The one current definition of the change feed's trigger (sql/0012_change_feed.sql
-- says what it records), the version keeper, the feed's wake-up and its redaction.
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.

-- The change trigger, a row trigger for updates and deletes (inserts: ll_change_rows).
-- TG_ARGV: [0] the entity's name, [1] its id column, [2] its lead column or '', [3] how
-- many secret columns follow, [4..] the secret columns (never in doc), then the
-- bookkeeping columns (a change of those alone is no change).
CREATE OR REPLACE FUNCTION ll_change_row() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
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

-- The statement trigger for inserts, with ll_change_row's TG_ARGV: one set-based INSERT
-- of a '.created' change per inserted row, in the order the rows were inserted (so a
-- statement that creates leads with their touches lists the leads first: their table's
-- statement triggers fire first).
CREATE OR REPLACE FUNCTION ll_change_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    secret constant text[] := TG_ARGV[4:3 + TG_ARGV[3]::integer];
    ctx constant jsonb := nullif(current_setting('leadloop.audit', true), '')::jsonb;
BEGIN
    INSERT INTO changes (workspace_id, type, entity, entity_id, lead_id, actor, actor_key_id,
                         actor_user_id, doc)
    SELECT (x.doc ->> 'workspace_id')::uuid, TG_ARGV[0] || '.created', TG_ARGV[0],
           x.doc ->> TG_ARGV[1], (x.doc ->> nullif(TG_ARGV[2], ''))::uuid,
           coalesce(ctx ->> 'actor', 'sql'), (ctx ->> 'api_key_id')::uuid,
           (ctx ->> 'user_id')::uuid, x.doc
    FROM (SELECT to_jsonb(w) - secret AS doc FROM written w) x;
    RETURN NULL;
END
$$;

-- Puts the change trigger on a table (again, after a migration changed its columns).
CREATE OR REPLACE FUNCTION ll_change_attach(tbl regclass, entity text, id_col text, lead_col text,
                                            bookkeeping text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    secret text[];
    args text;
BEGIN
    SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}') INTO secret
    FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname ~* '(hash|secret|password|passwd|token|salt)';
    -- replaced in place, as ll_audit_attach does
    args := format('%L, %L, %L, %L%s%s', entity, id_col, coalesce(lead_col, ''),
                   cardinality(secret),
                   (SELECT coalesce(string_agg(format(', %L', s), ''), '') FROM unnest(secret) AS s),
                   (SELECT coalesce(string_agg(format(', %L', s), ''), '')
                    FROM unnest(bookkeeping || ARRAY['version', 'updated_at']) AS s));
    IF ll_distributed(tbl) THEN
        -- Citus: inserts row by row too (as ll_audit_attach), on the worker that holds the
        -- row, so that the change's xid is that node's (the feed's rule: sql/0012)
        EXECUTE format('DROP TRIGGER IF EXISTS change_feed_insert ON %s', tbl);
        EXECUTE format('CREATE OR REPLACE TRIGGER change_feed AFTER INSERT OR UPDATE OR DELETE'
                       ' ON %s FOR EACH ROW EXECUTE FUNCTION ll_change_row(%s)', tbl, args);
        RETURN;
    END IF;
    EXECUTE format('CREATE OR REPLACE TRIGGER change_feed AFTER UPDATE OR DELETE ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION ll_change_row(%s)', tbl, args);
    EXECUTE format('CREATE OR REPLACE TRIGGER change_feed_insert AFTER INSERT ON %s'
                   ' REFERENCING NEW TABLE AS written FOR EACH STATEMENT'
                   ' EXECUTE FUNCTION ll_change_rows(%s)', tbl, args);
END
$$;

-- An update that changes no value keeps the row's version and updated_at: the write is
-- answered as it was, with the same ETag, and the triggers after it see no change.
CREATE OR REPLACE FUNCTION ll_keep_version() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE TRIGGER keep_version BEFORE UPDATE ON leads
    FOR EACH ROW EXECUTE FUNCTION ll_keep_version();
CREATE OR REPLACE TRIGGER keep_version BEFORE UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION ll_keep_version();
CREATE OR REPLACE TRIGGER keep_version BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION ll_keep_version();
CREATE OR REPLACE TRIGGER keep_version BEFORE UPDATE ON feedback_reasons
    FOR EACH ROW EXECUTE FUNCTION ll_keep_version();
CREATE OR REPLACE TRIGGER keep_version BEFORE UPDATE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION ll_keep_version();

-- Wakes GET /v1/changes?wait= and the webhook dispatchers of every daemon: sent by each
-- daemon after its write requests, a batch of workspaces at a time, in a transaction of
-- its own that does not wait for its commit to reach the disk (it only notifies).
CREATE OR REPLACE FUNCTION ll_changes_notify(workspaces text[]) RETURNS void LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION ll_changes_redact_lead(ws uuid, lead uuid) RETURNS bigint LANGUAGE sql AS $$
    WITH u AS (
        UPDATE changes SET doc = CASE entity
            WHEN 'lead' THEN doc || jsonb_build_object('email', NULL, 'first_name', NULL,
                'last_name', NULL, 'company', NULL, 'title', NULL, 'phone', NULL,
                'consent', NULL, 'custom', '{}'::jsonb, 'external_ids', '{}'::jsonb,
                'landing_page', NULL, 'referrer', NULL)
            WHEN 'feedback' THEN doc || jsonb_build_object('note', NULL)
            WHEN 'interaction' THEN doc || jsonb_build_object('subject', NULL, 'body', NULL,
                                                              'actor_name', NULL)
            ELSE doc END
        WHERE workspace_id = ws AND lead_id = lead AND doc IS NOT NULL
          AND entity IN ('lead', 'feedback', 'interaction')
        RETURNING 1)
    SELECT count(*) FROM u
$$;
