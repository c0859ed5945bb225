-- The one current definition of the audit log's trigger (sql/0009_audit.sql says
-- what it records) and its redaction on erasure.
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.

-- Its one-row INSERT runs on a generic plan also inside a transaction that plans every
-- statement for its values (the CSV import's, db_tx_custom_plans): planning it again for
-- every written row cost the import about 30 us a row
-- (bench/results/2026-12-03-audit-2core.md).
-- The row trigger of every audited table, for updates and deletes (inserts:
-- ll_audit_rows). TG_ARGV: [0] the entity's name, [1] the workspace column, [2] the id
-- column, [3] the lead id column or '', [4:] the columns never recorded (ll_audit_attach
-- computes them). An update that changed none of the other columns (a PATCH with the
-- values the row has) writes nothing.
CREATE OR REPLACE FUNCTION ll_audit_row() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
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

-- The statement trigger of every audited table for inserts, with ll_audit_row's TG_ARGV:
-- one set-based INSERT of a 'create' row per inserted row. A row trigger cost a bulk
-- statement (an import, a batch) one function call and one planned INSERT per row: for an
-- import of 10,000 leads with their first stage row and created touch, about 1.1 of its
-- 5.7 s.
CREATE OR REPLACE FUNCTION ll_audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    skip constant text[] := TG_ARGV[4:];
    ctx constant jsonb := nullif(current_setting('leadloop.audit', true), '')::jsonb;
BEGIN
    INSERT INTO audit_log (workspace_id, actor, api_key_id, api_key_prefix, user_id, request_id,
                           client_addr, method, route, entity, entity_id, lead_id, operation,
                           new)
    SELECT (x.r ->> TG_ARGV[1])::uuid, coalesce(ctx ->> 'actor', 'sql'),
           (ctx ->> 'api_key_id')::uuid, ctx ->> 'api_key_prefix', (ctx ->> 'user_id')::uuid,
           ctx ->> 'request_id', (ctx ->> 'client_addr')::inet, ctx ->> 'method',
           ctx ->> 'route', TG_ARGV[0], x.r ->> TG_ARGV[2],
           (x.r ->> nullif(TG_ARGV[3], ''))::uuid, 'create', jsonb_strip_nulls(x.r - skip)
    FROM (SELECT to_jsonb(w) AS r FROM written w) x;
    RETURN NULL;
END
$$;

-- Puts the audit trigger on a table (again, after a migration changed its columns: the
-- columns never recorded are computed here, from their names, and given to the trigger).
CREATE OR REPLACE FUNCTION ll_audit_attach(tbl regclass, entity text, ws_col text, id_col text,
                                           lead_col text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    skip text[];
    args text;
BEGIN
    SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO skip
    FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
      AND (a.attname IN (ws_col, id_col, 'version', 'created_at', 'updated_at', 'last_used_at')
           OR a.attname ~* '(hash|secret|password|passwd|token|salt)');
    -- replaced in place: DROP TRIGGER would lock out the table's readers as well, on every
    -- migration that runs sql/functions/90_attach.sql
    args := format('%L, %L, %L, %L%s', entity, ws_col, id_col, coalesce(lead_col, ''),
                   (SELECT string_agg(format(', %L', s), '') FROM unnest(skip) AS s));
    IF ll_distributed(tbl) THEN
        -- Citus: no transition table can be read by a distributed query, so inserts are
        -- recorded row by row as well (on the worker that holds the row)
        EXECUTE format('DROP TRIGGER IF EXISTS audit_insert ON %s', tbl);
        EXECUTE format('CREATE OR REPLACE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s'
                       ' FOR EACH ROW EXECUTE FUNCTION ll_audit_row(%s)', tbl, args);
        RETURN;
    END IF;
    EXECUTE format('CREATE OR REPLACE TRIGGER audit AFTER UPDATE OR DELETE ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION ll_audit_row(%s)', tbl, args);
    EXECUTE format('CREATE OR REPLACE TRIGGER audit_insert AFTER INSERT ON %s'
                   ' REFERENCING NEW TABLE AS written FOR EACH STATEMENT'
                   ' EXECUTE FUNCTION ll_audit_rows(%s)', tbl, args);
END
$$;

-- Erasure (DELETE /v1/leads/{id}, in its transaction, after the lead's values are gone):
-- the same personal values leave the audit log. In every row about the lead, the fields
-- the erasure clears (the lead's own columns that server/leads.c sql_erase empties, its
-- feedback notes, its stage-change reasons) become null in old and new and are named in
-- redacted; who, when, what and the other fields stay. Returns the rows redacted.
CREATE OR REPLACE FUNCTION ll_audit_redact_lead(ws uuid, lead uuid) RETURNS bigint LANGUAGE sql AS $$
    WITH personal (entity, fields) AS (VALUES
        ('lead', ARRAY['email', 'first_name', 'last_name', 'company', 'title', 'phone',
                       'consent', 'custom', 'external_ids', 'landing_page', 'referrer']),
        ('feedback', ARRAY['note']),
        ('interaction', ARRAY['subject', 'body', 'actor_name']),
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
