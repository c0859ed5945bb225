-- Leadloop schema 0009: the audit log. Every write to the tables people edit is recorded in
-- audit_log in its own transaction: who (the API key, its prefix and user; or `cli` for the
-- leadloopd commands; or `sql` for anyone else, with the database role), the request (id,
-- client address, method, route pattern), what (entity, id, operation) and the values: for
-- a create the new row, for an update the fields that changed (old and new), for a delete
-- the old row.
--
-- A row-level AFTER trigger on each audited table writes the row (ll_audit_row), so no
-- write path can forget it: single writes, batches, imports, an operator's SQL. It reads
-- the writer's context from the custom setting leadloop.audit, a JSON object the daemon
-- sets on its pooled connection for each write request (server/audit.c) and clears when
-- the connection goes back to the pool (db_release). The trigger only writes rows of the
-- workspace of the row that fired it, as DESIGN section 7 asks (Citus colocates them).
--
-- Never recorded: columns whose name says secret (hash, secret, password, token, salt:
-- api_keys.key_hash) and bookkeeping (version, created_at, updated_at, last_used_at, the
-- workspace and the id, which the audit row holds itself). lead_external_ids and the
-- change feed, idempotency and report tables are copies of audited rows, not audited again.

CREATE TABLE audit_log (
    workspace_id   uuid NOT NULL,
    id             uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at     timestamptz NOT NULL DEFAULT now(), -- the writing transaction's time
    actor          text NOT NULL CHECK (actor IN ('api_key', 'cli', 'sql')),
    api_key_id     uuid,
    api_key_prefix text,
    user_id        uuid,                               -- the key's user, when it has one
    db_user        text NOT NULL DEFAULT session_user, -- the database role that wrote
    request_id     text,
    client_addr    inet,
    method         text,
    route          text, -- the route pattern (never the path: paths carry emails); a command
    entity         text NOT NULL,
    entity_id      text NOT NULL,
    lead_id        uuid, -- the lead the row is about: a lead, its feedback, stage changes, touches
    operation      text NOT NULL,
    old            jsonb, -- the fields before (update: the changed ones; create: NULL)
    new            jsonb, -- the fields after (update: the changed ones; delete: NULL)
    redacted       text[], -- fields whose values an erasure removed from old and new
    -- No foreign keys: the record outlives what it describes. The key is the order GET
    -- /v1/audit pages in (and the retention janitor deletes in): new rows go to its right
    -- edge, where (workspace_id, id) would scatter them over the index by their random id.
    -- Nothing refers to an entry by id.
    PRIMARY KEY (workspace_id, created_at, id)
);
-- One index besides the key, because each one costs every audited write (an entry per
-- row, inside the writing statement): it finds the rows about a subject, that is a lead
-- with everything recorded about it (its own rows, its feedback, stage changes and
-- touches: the erasure's redaction, GET /v1/audit?lead_id=), or any other entity by its id
-- (a campaign, a user, a key, a reason).
CREATE INDEX audit_log_by_subject ON audit_log
    (workspace_id, (coalesce(lead_id::text, entity_id)), created_at, id);

-- The trigger of every audited table. TG_ARGV: [0] the entity's name, [1] the workspace
-- column, [2] the id column, [3] the lead id column or '', [4:] the columns never recorded
-- (ll_audit_attach computes them). An update that changed none of the other columns (a
-- PATCH with the values the row has) writes nothing.
CREATE FUNCTION ll_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    skip constant text[] := TG_ARGV[4:];
    ctx constant jsonb := nullif(current_setting('leadloop.audit', true), '')::jsonb;
    r jsonb;
    was jsonb;
    o jsonb;
    n jsonb;
    op text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        r := to_jsonb(NEW);
        n := jsonb_strip_nulls(r - skip);
        op := 'create';
    ELSIF TG_OP = 'DELETE' THEN
        r := to_jsonb(OLD);
        o := jsonb_strip_nulls(r - skip);
        op := 'delete';
    ELSE
        r := to_jsonb(NEW);
        was := to_jsonb(OLD);
        SELECT jsonb_object_agg(e.key, was -> e.key), jsonb_object_agg(e.key, e.value)
            INTO o, n
            FROM jsonb_each(r - skip) AS e
            WHERE was -> e.key IS DISTINCT FROM e.value;
        IF n IS NULL THEN
            RETURN NULL;
        END IF;
        -- the operations the API names (as in the change feed)
        op := CASE WHEN n ->> 'erased_at' IS NOT NULL THEN 'erase'
                   WHEN n ->> 'revoked_at' IS NOT NULL THEN 'revoke'
                   WHEN n ->> 'status' = 'archived' THEN 'archive'
                   WHEN n ? 'stage' THEN 'transition'
                   ELSE 'update' END;
    END IF;
    INSERT INTO audit_log (workspace_id, actor, api_key_id, api_key_prefix, user_id, request_id,
                           client_addr, method, route, entity, entity_id, lead_id, operation,
                           old, new)
    VALUES ((r ->> TG_ARGV[1])::uuid, coalesce(ctx ->> 'actor', 'sql'),
            (ctx ->> 'api_key_id')::uuid, ctx ->> 'api_key_prefix', (ctx ->> 'user_id')::uuid,
            ctx ->> 'request_id', (ctx ->> 'client_addr')::inet, ctx ->> 'method',
            ctx ->> 'route', TG_ARGV[0], r ->> TG_ARGV[2], (r ->> nullif(TG_ARGV[3], ''))::uuid,
            op, o, n);
    RETURN NULL;
END
$$;

-- Puts the audit trigger on a table (again, after a migration changed its columns: the
-- columns never recorded are computed here, from their names, and given to the trigger).
CREATE FUNCTION ll_audit_attach(tbl regclass, entity text, ws_col text, id_col text,
                                lead_col text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    skip text[];
BEGIN
    SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO skip
    FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
      AND (a.attname IN (ws_col, id_col, 'version', 'created_at', 'updated_at', 'last_used_at')
           OR a.attname ~* '(hash|secret|password|passwd|token|salt)');
    EXECUTE format('DROP TRIGGER IF EXISTS audit ON %s', tbl);
    EXECUTE format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW'
                   ' EXECUTE FUNCTION ll_audit_row(%L, %L, %L, %L%s)', tbl, entity, ws_col,
                   id_col, coalesce(lead_col, ''),
                   (SELECT string_agg(format(', %L', s), '') FROM unnest(skip) AS s));
END
$$;

SELECT ll_audit_attach('workspaces', 'workspace', 'id', 'id', NULL);
SELECT ll_audit_attach('users', 'user', 'workspace_id', 'id', NULL);
SELECT ll_audit_attach('api_keys', 'api_key', 'workspace_id', 'id', NULL);
SELECT ll_audit_attach('campaigns', 'campaign', 'workspace_id', 'id', NULL);
SELECT ll_audit_attach('leads', 'lead', 'workspace_id', 'id', 'id');
SELECT ll_audit_attach('campaign_touches', 'touch', 'workspace_id', 'id', 'lead_id');
SELECT ll_audit_attach('lead_stage_changes', 'stage_change', 'workspace_id', 'id', 'lead_id');
SELECT ll_audit_attach('feedback', 'feedback', 'workspace_id', 'id', 'lead_id');
SELECT ll_audit_attach('feedback_reasons', 'feedback_reason', 'workspace_id', 'code', NULL);

-- Erasure (DELETE /v1/leads/{id}, in its transaction, after the lead's values are gone):
-- the same personal values leave the audit log. In every row about the lead, the fields
-- the erasure clears (the lead's own columns that server/leads.c sql_erase empties, its
-- feedback notes, its stage-change reasons) become null in old and new and are named in
-- redacted; who, when, what and the other fields stay. Returns the rows redacted.
CREATE FUNCTION ll_audit_redact_lead(ws uuid, lead uuid) RETURNS bigint LANGUAGE sql AS $$
    WITH personal (entity, fields) AS (VALUES
        ('lead', ARRAY['email', 'first_name', 'last_name', 'company', 'title', 'phone',
                       'consent', 'custom', 'external_ids']),
        ('feedback', ARRAY['note']),
        ('stage_change', ARRAY['reason'])),
    hit AS (
        SELECT a.id,
               ARRAY(SELECT f FROM unnest(p.fields) AS f
                     WHERE a.old ? f OR a.new ? f) AS gone
        FROM audit_log a JOIN personal p ON p.entity = a.entity
        WHERE a.workspace_id = ws AND coalesce(a.lead_id::text, a.entity_id) = lead::text
          AND a.lead_id = lead
          AND (a.old ?| p.fields OR a.new ?| p.fields)),
    u AS (
        UPDATE audit_log a SET
            old = a.old || (SELECT coalesce(jsonb_object_agg(f, 'null'::jsonb), '{}')
                            FROM unnest(hit.gone) AS f WHERE a.old ? f),
            new = a.new || (SELECT coalesce(jsonb_object_agg(f, 'null'::jsonb), '{}')
                            FROM unnest(hit.gone) AS f WHERE a.new ? f),
            redacted = ARRAY(SELECT DISTINCT f FROM unnest(coalesce(a.redacted, '{}') || hit.gone)
                             AS f ORDER BY f)
        FROM hit WHERE a.workspace_id = ws AND a.id = hit.id
        RETURNING 1)
    SELECT count(*) FROM u
$$;
