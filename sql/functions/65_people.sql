-- People (server/session.c): sign-in throttling, and the default role of a user.
--
-- Failed sign-ins are counted per account and per client address in signin_failures
-- (schema 0015), shared by every daemon. A key's first `free` failures within 15 minutes
-- cost nothing; each one after locks the key for 2^(n - free - 1) seconds (1, 2, 4, ...),
-- at most 15 minutes, and a sign-in of a locked key is
-- refused before its password is checked, so guessing gets slower and slower.

-- Records a failed sign-in of each key; returns the latest time any of them is locked
-- until (NULL when none is locked). frees[i] is keys[i]'s number of free failures.
CREATE OR REPLACE FUNCTION ll_signin_failed(keys text[], frees integer[])
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    until timestamptz;
    latest timestamptz;
    -- computed before the upsert: Citus refuses a function that is not IMMUTABLE in the
    -- DO UPDATE SET of a distributed or reference table (timestamptz - interval is STABLE)
    v_now timestamptz := now();
    v_window timestamptz := now() - interval '15 minutes';
BEGIN
    FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
        INSERT INTO signin_failures AS f (key, failures, window_start)
        VALUES (keys[i], 1, v_now)
        ON CONFLICT (key) DO UPDATE SET
            failures = CASE WHEN f.window_start < v_window THEN 1 ELSE f.failures + 1 END,
            window_start = CASE WHEN f.window_start < v_window THEN v_now ELSE f.window_start END
        RETURNING failures INTO n;
        IF n > frees[i] THEN
            until := now() + least(interval '1 second' * 2 ^ least(n - frees[i] - 1, 20),
                                   interval '15 minutes');
            UPDATE signin_failures SET locked_until = until WHERE key = keys[i];
            latest := greatest(latest, until);
        END IF;
    END LOOP;
    RETURN latest;
END
$$;

-- The latest time any of the keys is locked until, or NULL.
-- PL/pgSQL: Citus cannot plan a SQL function's parameterized statement over its tables.
CREATE OR REPLACE FUNCTION ll_signin_locked(keys text[])
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT max(locked_until) FROM signin_failures
            WHERE key = ANY (keys) AND locked_until > now());
END
$$;

-- A user written without a role (an operator's SQL, an older client) gets their team's:
-- the role the API gives users made before roles existed.
CREATE OR REPLACE FUNCTION ll_user_role_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.role := coalesce(NEW.role, NEW.team);
    RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER user_role_default BEFORE INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION ll_user_role_default();

-- A person deactivated (by the API or by an operator's SQL) is signed
-- out everywhere at once; a reactivation does not bring the old sessions back.
CREATE OR REPLACE FUNCTION ll_user_sessions_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sessions SET revoked_at = now()
    WHERE workspace_id = NEW.workspace_id AND user_id = NEW.id AND revoked_at IS NULL;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER user_sessions_end AFTER UPDATE OF active ON users
    FOR EACH ROW WHEN (OLD.active AND NOT NEW.active) EXECUTE FUNCTION ll_user_sessions_end();

-- An invitation of a person into workspace ws (server/invitations.c and `leadloopd invite`):
-- the person found by email, or made; their pending invitations revoked; the new one written
-- and returned. Returns no row when the email is already an active person who can sign
-- in (a deactivated one is invited again to set a new password).
CREATE OR REPLACE FUNCTION ll_invite(ws uuid, p_email text, p_name text, p_role text,
                                     p_team text, p_token_hash bytea, by_user uuid,
                                     by_key uuid, ttl_hours integer)
RETURNS SETOF invitations LANGUAGE plpgsql AS $$
DECLARE
    uid uuid;
    member boolean;
BEGIN
    SELECT id, password_hash IS NOT NULL AND active INTO uid, member FROM users
    WHERE workspace_id = ws
      AND lower(email COLLATE "und-x-icu") = lower(p_email COLLATE "und-x-icu")
    FOR UPDATE;
    IF member THEN
        RETURN;
    END IF;
    IF uid IS NULL THEN
        -- a team for people outside marketing and sales: the side they report for
        INSERT INTO users (workspace_id, name, email, team, role)
        VALUES (ws, p_name, p_email,
                coalesce(p_team, CASE WHEN p_role = 'sales' THEN 'sales' ELSE 'marketing' END),
                p_role)
        RETURNING id INTO uid;
    ELSE
        UPDATE users SET name = p_name, team = coalesce(p_team, team), role = p_role,
                         active = true, version = version + 1, updated_at = now()
        WHERE workspace_id = ws AND id = uid;
    END IF;
    UPDATE invitations SET revoked_at = now()
    WHERE workspace_id = ws AND user_id = uid AND accepted_at IS NULL AND revoked_at IS NULL;
    RETURN QUERY
        INSERT INTO invitations (workspace_id, user_id, email, role, token_hash,
                                 created_by_user_id, created_by_key_id, expires_at)
        VALUES (ws, uid, p_email, p_role, p_token_hash, by_user, by_key,
                now() + ttl_hours * interval '1 hour')
        RETURNING *;
END
$$;
