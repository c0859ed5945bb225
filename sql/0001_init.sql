-- Leadloop schema 0001: workspaces, the people in them, and API keys.
-- Every table carries workspace_id and its keys include it (DESIGN.md section 4): a
-- reference across workspaces is impossible by construction, and the schema can be
-- distributed by workspace_id without change. Migrations run inside a transaction each;
-- do not put BEGIN/COMMIT in them.

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    currency    char(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The people: marketers who run campaigns and sellers who own leads and give feedback.
CREATE TABLE users (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    email        text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    team         text NOT NULL CHECK (team IN ('marketing', 'sales')),
    active       boolean NOT NULL DEFAULT true,
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
-- Emails are unique case-insensitively, for any script: lower() under an ICU collation
-- folds non-ASCII letters whatever the database's own locale is (C does not).
CREATE UNIQUE INDEX users_email_key ON users (workspace_id, lower(email COLLATE "und-x-icu"));
CREATE INDEX users_page ON users (workspace_id, created_at, id);

-- Only the SHA-256 of a key is stored; prefix is its first 12 characters, shown in
-- lists and logs. key_hash is unique across workspaces: a request names no workspace,
-- its key does.
CREATE TABLE api_keys (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    prefix       text NOT NULL UNIQUE,
    key_hash     bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    role         text NOT NULL CHECK (role IN ('admin', 'marketing', 'sales', 'readonly')),
    user_id      uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, user_id) REFERENCES users (workspace_id, id)
);
CREATE INDEX api_keys_page ON api_keys (workspace_id, created_at DESC, id DESC);
