-- Leadloop schema 0013: webhooks. An endpoint follows the change feed (its own cursor,
-- from the moment it was created); the daemon's dispatcher turns each change the endpoint
-- subscribes to into one delivery row (unique per endpoint and change, so that several
-- daemons cannot make two), and delivery threads send them, signed as Standard Webhooks
-- specifies, retrying with backoff. The change rows are the outbox: they are written in
-- the transaction of the write, so a committed write is delivered at least once.

CREATE TABLE webhook_endpoints (
    workspace_id         uuid NOT NULL REFERENCES workspaces (id),
    id                   uuid NOT NULL DEFAULT gen_random_uuid(),
    url                  text NOT NULL CHECK (char_length(url) BETWEEN 8 AND 2048),
    description          text CHECK (char_length(description) <= 500),
    types                text[] NOT NULL DEFAULT '{}', -- empty: every type
    active               boolean NOT NULL DEFAULT true,
    -- why the daemon turned it off (the receiver answered 410, or kept failing)
    disabled_reason      text,
    secret               text NOT NULL,
    -- during a rotation, deliveries are signed with both until previous_expires_at
    previous_secret      text,
    previous_expires_at  timestamptz,
    failing_since        timestamptz, -- the first failed attempt since the last success
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX webhook_endpoints_page ON webhook_endpoints (workspace_id, created_at, id);
CREATE TRIGGER keep_version BEFORE UPDATE ON webhook_endpoints FOR EACH ROW
    EXECUTE FUNCTION ll_keep_version();

-- The change feed position up to which an endpoint's deliveries were made (schema 0012);
-- kept apart so that the dispatcher's moves are not audited as edits of the endpoint. A
-- new endpoint starts at the feed's frontier: it gets the changes made after it. The
-- frontier is the oldest transaction still running, so transactions that committed before
-- the endpoint was made can lie past it: `since`, the snapshot of the endpoint's creation,
-- names them, and their changes are not delivered.
CREATE TABLE webhook_cursors (
    workspace_id uuid NOT NULL,
    endpoint_id  uuid NOT NULL,
    xid          xid8 NOT NULL DEFAULT pg_snapshot_xmin(pg_current_snapshot()),
    seq          bigint NOT NULL DEFAULT 0,
    since        pg_snapshot NOT NULL DEFAULT pg_current_snapshot(),
    PRIMARY KEY (workspace_id, endpoint_id),
    FOREIGN KEY (workspace_id, endpoint_id) REFERENCES webhook_endpoints (workspace_id, id)
        ON DELETE CASCADE
);

CREATE TABLE webhook_deliveries (
    workspace_id    uuid NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid(), -- the webhook-id, kept by retries
    endpoint_id     uuid NOT NULL,
    change_xid      xid8,   -- the change delivered; NULL for a ping
    change_seq      bigint,
    type            text NOT NULL,
    payload         text,   -- a ping's body (a change's is rendered when it is sent)
    status          text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    -- when it is due; while an attempt is under way, when that attempt's lease ends
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    last_status     smallint, -- the receiver's HTTP status, NULL when there was no answer
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, endpoint_id, change_xid, change_seq),
    FOREIGN KEY (workspace_id, endpoint_id) REFERENCES webhook_endpoints (workspace_id, id)
        ON DELETE CASCADE
);
-- The queue the delivery threads take from (every workspace's, oldest due first).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_page ON webhook_deliveries
    (workspace_id, endpoint_id, created_at, id);

SELECT ll_audit_attach('webhook_endpoints', 'webhook', 'workspace_id', 'id', NULL);
