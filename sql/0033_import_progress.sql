-- Leadloop schema 0033: an import sent with an Idempotency-Key commits in chunks (issue 15).
--
-- POST /v1/leads/import with an Idempotency-Key ran as one transaction, so that a retry
-- could replay its answer or find nothing written; 100,000 rows in one transaction ran
-- past the statement timeout. It now commits each chunk of rows with this row, in the
-- chunk's transaction: how far the file has been written (the next CSV data row to read)
-- and what was answered so far (counts and rejections, as the answer shows them). A retry
-- of the same request with the same key continues after the last committed chunk, so the
-- leads are written once and the final answer is the one an uninterrupted import gives;
-- that answer is then kept in idempotency_keys, as any other, and this row deleted in the
-- same transaction. principal is the key's or the person's id (idempotency_keys'
-- api_key_id). The idempotency janitor deletes rows older than 24 hours.
CREATE TABLE idempotency_progress (
    workspace_id uuid NOT NULL,
    principal    uuid NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    next_row     bigint NOT NULL CHECK (next_row >= 1),
    progress     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, principal, key)
);
CREATE INDEX idempotency_progress_age ON idempotency_progress (created_at);
