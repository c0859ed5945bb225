-- The one current definition of the notice that tells running daemons' key
-- caches to forget a key (LISTEN leadloop_api_keys).
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.

CREATE OR REPLACE FUNCTION ll_api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- (on Citus this fires on a worker, where no daemon listens, and a notice would fail a
    -- change of keys on two workers at once (no PREPARE after NOTIFY): there the daemon
    -- and `leadloopd keys revoke` send it on the coordinator)
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('leadloop_api_keys', encode(OLD.key_hash, 'hex'));
    RETURN NULL;
END
$$;

-- A revoked or changed key (its role, user or rate limit) must leave every cache at once.
CREATE OR REPLACE TRIGGER api_keys_notify
    AFTER UPDATE OF revoked_at, role, user_id, rate_per_s, rate_burst, can_import OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION ll_api_key_changed();
