-- Sign-in throttling (server/session.c): failed sign-ins counted per account and per client
-- address in signin_failures (schema 0015), shared by every daemon.
--
-- A key's first `free` failures within 15 minutes cost nothing; each one after locks the
-- key for 2^(n - free) seconds, at most 15 minutes, and a sign-in of a locked key is
-- refused before its password is checked, so guessing gets slower and slower.

-- Records a failed sign-in of each key; returns the latest time any of them is locked
-- until (NULL when none is locked). frees[i] is keys[i]'s number of free failures.
CREATE OR REPLACE FUNCTION ll_signin_failed(keys text[], frees integer[])
RETURNS timestamptz LANGUAGE sql AS $$
    WITH k AS (SELECT * FROM unnest(keys, frees) AS k(key, free)),
    up AS (
        INSERT INTO signin_failures AS f (key, failures, window_start)
        SELECT key, 1, now() FROM k
        ON CONFLICT (key) DO UPDATE SET
            failures = CASE WHEN f.window_start < now() - interval '15 minutes'
                            THEN 1 ELSE f.failures + 1 END,
            window_start = CASE WHEN f.window_start < now() - interval '15 minutes'
                                THEN now() ELSE f.window_start END
        RETURNING f.key, f.failures),
    locked AS (
        UPDATE signin_failures f
        SET locked_until = now() + least(interval '1 second' * 2 ^ least(up.failures - k.free, 20),
                                         interval '15 minutes')
        FROM up JOIN k USING (key)
        WHERE f.key = up.key AND up.failures > k.free
        RETURNING f.locked_until)
    SELECT max(locked_until) FROM locked
$$;

-- The latest time any of the keys is locked until, or NULL.
CREATE OR REPLACE FUNCTION ll_signin_locked(keys text[])
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT max(locked_until) FROM signin_failures
    WHERE key = ANY (keys) AND locked_until > now()
$$;
