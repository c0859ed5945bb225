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

-- On Citus a statement that names its workspace is routed whole to the workspace's node,
-- and a SQL function it calls that reads distributed tables (the report sums of
-- sql/functions/45_report_queries.sql, the routing members, ...) would run its statements
-- there, inside the shard's query: Citus cannot plan a SQL function's statements with
-- parameters, and inlined the function would read the node's empty shell tables. So on
-- Citus each such function becomes the same statement in PL/pgSQL (a column wins over an
-- output column of the same name, as in SQL), allowed to run its statements from inside
-- the shard's query: they are routed to the same node, which holds the workspace's
-- colocated shards. On plain PostgreSQL they stay SQL, inlined into each statement's plan
-- (as PL/pgSQL the reports over a whole history took 4 to 10 times longer there).
CREATE OR REPLACE FUNCTION ll_citus_plpgsql(fn regprocedure) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    p pg_proc;
    body text;
BEGIN
    SELECT * INTO p FROM pg_proc WHERE oid = fn;
    body := rtrim(p.prosrc, E' \n\t;');
    body := CASE WHEN p.proretset THEN 'RETURN QUERY ' || body || ';'
                 WHEN p.prorettype = 'void'::regtype THEN body || ';'
                 ELSE 'RETURN (' || body || ');' END;
    EXECUTE format('CREATE OR REPLACE FUNCTION %s.%I(%s) RETURNS %s LANGUAGE plpgsql %s'
                   ' SET citus.allow_nested_distributed_execution = on AS %L',
                   p.pronamespace::regnamespace, p.proname, pg_get_function_arguments(fn),
                   pg_get_function_result(fn),
                   CASE p.provolatile WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE'
                                      ELSE 'VOLATILE' END,
                   E'#variable_conflict use_column\nBEGIN ' || body || E'\nEND');
END
$$;

-- Every SQL function of the schema that reads a distributed table, as PL/pgSQL
-- (ll_citus_plpgsql). `leadloopd migrate` calls it on Citus after applying sql/functions/
-- (which puts the SQL ones back when their file changed); returns how many it rewrote.
CREATE OR REPLACE FUNCTION ll_citus_functions() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    IF NOT ll_distributed('leads') THEN
        RETURN 0;
    END IF;
    PERFORM ll_citus_plpgsql(p.oid)
    FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace
      AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql')
      AND EXISTS (SELECT 1 FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
                  WHERE p.prosrc ~ ('\m' || c.relname || '\M'));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
