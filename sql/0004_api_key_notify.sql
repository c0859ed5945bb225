-- Leadloop schema 0004: tell running daemons when an API key is revoked or changed, so
-- that their in-memory key caches forget it at once (LISTEN leadloop_api_keys).
CREATE FUNCTION ll_api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('leadloop_api_keys', encode(OLD.key_hash, 'hex'));
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_notify AFTER UPDATE OF revoked_at, role, user_id OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION ll_api_key_changed();
