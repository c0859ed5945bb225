-- Leadloop schema 0010: rate limits per API key and per workspace, as token buckets kept
-- in PostgreSQL, so that every daemon on this database draws from the same buckets.
--
-- A key may carry its own rate (tokens per second) and burst (bucket size); NULL means the
-- daemon's default (LEADLOOP_RATE_PER_S, LEADLOOP_RATE_BURST).
ALTER TABLE api_keys
    ADD COLUMN rate_per_s integer CHECK (rate_per_s BETWEEN 1 AND 100000),
    ADD COLUMN rate_burst integer CHECK (rate_burst BETWEEN 1 AND 1000000),
    ADD CHECK ((rate_per_s IS NULL) = (rate_burst IS NULL));

-- A daemon caches resolved keys: a changed limit must reach every cache at once, as a
-- revocation does (0004).
DROP TRIGGER api_keys_notify ON api_keys;
CREATE TRIGGER api_keys_notify AFTER UPDATE OF revoked_at, role, user_id, rate_per_s, rate_burst
    OR DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION ll_api_key_changed();

-- The buckets. Unlogged: a crash refills them, which errs on the client's side, and a
-- bucket's update writes no WAL. bucket is 'key:<key id>' or 'workspace'.
CREATE UNLOGGED TABLE rate_buckets (
    workspace_id uuid NOT NULL,
    bucket       text NOT NULL,
    tokens       double precision NOT NULL,
    at           timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, bucket)
);

-- Takes up to want tokens from a bucket that refills at rate per second up to burst.
-- granted: how many it got (0 when the bucket holds less than one); remaining: what the
-- bucket holds after; reset_s: seconds until it is full again; wait_s: seconds until one
-- token is there (0 when granted). One row lock, held for the statement.
CREATE FUNCTION ll_rate_take(p_ws uuid, p_bucket text, p_rate double precision,
                             p_burst double precision, p_want integer,
                             OUT granted integer, OUT remaining double precision,
                             OUT reset_s double precision, OUT wait_s double precision)
LANGUAGE plpgsql AS $$
DECLARE
    t double precision;
    now_ts timestamptz;
BEGIN
    INSERT INTO rate_buckets VALUES (p_ws, p_bucket, p_burst, clock_timestamp())
        ON CONFLICT (workspace_id, bucket) DO NOTHING;
    SELECT tokens, at INTO t, now_ts FROM rate_buckets
        WHERE workspace_id = p_ws AND bucket = p_bucket FOR UPDATE;
    t := least(p_burst, t + p_rate * greatest(0, extract(epoch FROM clock_timestamp() - now_ts)));
    granted := least(p_want, floor(t))::integer;
    t := t - granted;
    UPDATE rate_buckets SET tokens = t, at = clock_timestamp()
        WHERE workspace_id = p_ws AND bucket = p_bucket;
    remaining := t;
    reset_s := (p_burst - t) / p_rate;
    wait_s := CASE WHEN granted > 0 THEN 0 ELSE (1 - t) / p_rate END;
END
$$;
