-- The one current definition of how Leadloop's tables are distributed on a Citus cluster
-- (docs/SCALING.md). On plain PostgreSQL nothing here runs: `leadloopd migrate` calls
-- ll_citus_distribute only when the citus extension is installed.
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.

-- Distributes every table that is not yet: workspaces by id, every table with a
-- workspace_id by it, all colocated, so that each workspace's rows live on one node and
-- every statement with `workspace_id = $1` is routed to that node. The schema tables and
-- signin_failures (no workspace) stay on the coordinator. Citus cannot distribute a table
-- that takes part in foreign keys with local tables, so the foreign keys of the tables
-- being distributed are set aside and put back afterwards (each includes workspace_id,
-- which Citus needs of a key between colocated tables). The global unique keys without
-- workspace_id (workspaces' slug, api_keys' hash and prefix) cannot be kept by Citus:
-- they become plain indexes, and what they guarded is kept otherwise (a random 256-bit
-- key hash; the slug under `leadloopd workspace create`'s lock). Returns how many tables
-- it distributed: the caller then applies sql/functions/ again, which propagates the
-- functions to the workers and turns the statement triggers into row triggers.
CREATE OR REPLACE FUNCTION ll_citus_distribute() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    todo regclass[];
    t regclass;
    fk record;
    fks text[] := '{}';
    ddl text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN 0;
    END IF;
    todo := ARRAY(
        SELECT c.oid::regclass FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND (c.relname = 'workspaces'
               OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname = 'workspace_id' AND NOT a.attisdropped))
          AND NOT ll_distributed(c.oid)
        ORDER BY c.relname <> 'workspaces', c.relname);
    IF cardinality(todo) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    FOR fk IN SELECT conrelid::regclass AS rel, conname, pg_get_constraintdef(oid) AS def
              FROM pg_constraint
              WHERE contype = 'f' AND (conrelid = ANY (todo) OR confrelid = ANY (todo))
              ORDER BY conrelid::regclass::text, conname LOOP
        fks := fks || format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.rel, fk.conname, fk.def);
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.rel, fk.conname);
    END LOOP;
    IF 'workspaces'::regclass = ANY (todo) THEN
        ALTER TABLE workspaces DROP CONSTRAINT IF EXISTS workspaces_slug_key;
        CREATE INDEX IF NOT EXISTS workspaces_slug ON workspaces (slug);
        PERFORM create_distributed_table('workspaces', 'id', colocate_with => 'none');
    END IF;
    IF 'api_keys'::regclass = ANY (todo) THEN
        ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_key_hash_key,
                             DROP CONSTRAINT IF EXISTS api_keys_prefix_key;
        CREATE INDEX IF NOT EXISTS api_keys_key_hash ON api_keys (key_hash);
        CREATE INDEX IF NOT EXISTS api_keys_prefix ON api_keys (prefix);
    END IF;
    FOREACH t IN ARRAY todo LOOP
        CONTINUE WHEN t = 'workspaces'::regclass;
        PERFORM create_distributed_table(t, 'workspace_id', colocate_with => 'workspaces');
    END LOOP;
    FOREACH ddl IN ARRAY fks LOOP
        EXECUTE ddl;
    END LOOP;
    RETURN cardinality(todo);
END
$$;
