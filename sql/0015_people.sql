-- Leadloop schema 0015: people sign in as themselves (issue 13). A user gets a role (the
-- same four as API keys) and a password (Argon2id, in the PHC string form libsodium
-- writes); sign-ins make sessions, read by the cookie the web app carries; an admin's
-- invitation lets a person set the first password. Writes made in a session are authored
-- by the user alone, so feedback no longer needs an API key.
--
-- Tokens (sessions, invitations) are random; only their SHA-256 is kept, and each carries
-- its workspace's id, so every lookup names one workspace (one Citus shard).

ALTER TABLE users
    ADD COLUMN role text,
    ADD COLUMN password_hash text,
    -- when the person first set a password (accepted an invitation): shown, unlike the hash
    ADD COLUMN activated_at timestamptz;
UPDATE users SET role = team;
ALTER TABLE users
    ALTER COLUMN role SET NOT NULL,
    ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'marketing', 'sales', 'readonly')),
    ADD CONSTRAINT users_password_hash_check CHECK (password_hash LIKE '$argon2id$%');

CREATE TABLE sessions (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL,
    token_hash   bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    client_addr  text CHECK (char_length(client_addr) <= 64),
    user_agent   text CHECK (char_length(user_agent) <= 300),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, token_hash),
    FOREIGN KEY (workspace_id, user_id) REFERENCES users (workspace_id, id)
);
-- A user's live sessions: listed, and revoked together (sign-out everywhere, deactivation,
-- a new password).
CREATE INDEX sessions_by_user ON sessions (workspace_id, user_id, created_at)
    WHERE revoked_at IS NULL;
-- The janitor's: sessions long over.
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE invitations (
    workspace_id       uuid NOT NULL REFERENCES workspaces (id),
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id            uuid NOT NULL,
    email              text NOT NULL,
    role               text NOT NULL CHECK (role IN ('admin', 'marketing', 'sales', 'readonly')),
    token_hash         bytea NOT NULL,
    created_by_user_id uuid,
    created_by_key_id  uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    accepted_at        timestamptz,
    revoked_at         timestamptz,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, token_hash),
    FOREIGN KEY (workspace_id, user_id) REFERENCES users (workspace_id, id)
);
CREATE INDEX invitations_page ON invitations (workspace_id, created_at, id);

-- Failed sign-ins, per account (the folded email) and per client address, shared by every
-- daemon: after a few failures each further attempt waits longer (server/session.c). Not
-- workspace-scoped (a sign-in names no workspace until it succeeds); unlogged like the rate
-- buckets: after a crash, counting starts again.
CREATE UNLOGGED TABLE signin_failures (
    key          text PRIMARY KEY CHECK (char_length(key) <= 300),
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);

-- Feedback given in a session has a user and no key.
ALTER TABLE feedback
    ALTER COLUMN author_key_id DROP NOT NULL,
    ADD CONSTRAINT feedback_author_known
        CHECK (author_key_id IS NOT NULL OR author_user_id IS NOT NULL);

-- The audit log's actor "user": a person signed in to a session.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_check,
    ADD CONSTRAINT audit_log_actor_check
        CHECK (actor IN ('api_key', 'user', 'cli', 'sql')) NOT VALID;
ALTER TABLE audit_log VALIDATE CONSTRAINT audit_log_actor_check;

-- Sign-in finds a person by email before it knows the workspace.
CREATE INDEX users_signin ON users (lower(email COLLATE "und-x-icu"))
    WHERE password_hash IS NOT NULL;
