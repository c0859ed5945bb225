-- The one current definition of the rate limits' token bucket.
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.

-- Takes up to want tokens from a bucket that refills at rate per second up to burst.
-- granted: how many it got (0 when the bucket holds less than one); remaining: what the
-- bucket holds after; reset_s: seconds until it is full again; wait_s: seconds until one
-- token is there (0 when granted). One row lock, held for the statement. The clock is read
-- once the row is locked, into a variable: Citus refuses a VOLATILE function (such as
-- clock_timestamp) in an UPDATE of a distributed table.
CREATE OR REPLACE FUNCTION ll_rate_take(p_ws uuid, p_bucket text, p_rate double precision,
                                        p_burst double precision, p_want integer,
                                        OUT granted integer, OUT remaining double precision,
                                        OUT reset_s double precision, OUT wait_s double precision)
LANGUAGE plpgsql AS $$
DECLARE
    t double precision;
    now_ts timestamptz;
    v_now timestamptz;
BEGIN
    INSERT INTO rate_buckets VALUES (p_ws, p_bucket, p_burst, clock_timestamp())
        ON CONFLICT (workspace_id, bucket) DO NOTHING;
    SELECT tokens, at INTO t, now_ts FROM rate_buckets
        WHERE workspace_id = p_ws AND bucket = p_bucket FOR UPDATE;
    v_now := clock_timestamp();
    t := least(p_burst, t + p_rate * greatest(0, extract(epoch FROM v_now - now_ts)));
    granted := least(p_want, floor(t))::integer;
    t := t - granted;
    UPDATE rate_buckets SET tokens = t, at = v_now
        WHERE workspace_id = p_ws AND bucket = p_bucket;
    remaining := t;
    reset_s := (p_burst - t) / p_rate;
    wait_s := CASE WHEN granted > 0 THEN 0 ELSE (1 - t) / p_rate END;
END
$$;
