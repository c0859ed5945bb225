-- Leadloop schema 0003: sales feedback on leads, the reasons it gives, and each lead's
-- recycle date. Feedback is append-only: a correction is new feedback.

CREATE TABLE feedback_reasons (
    workspace_id       uuid NOT NULL REFERENCES workspaces (id),
    code               text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,63}$'),
    label              text NOT NULL CHECK (char_length(label) BETWEEN 1 AND 200),
    -- the feedback kinds that may give this reason
    kinds              text[] NOT NULL CHECK (cardinality(kinds) >= 1
                           AND kinds <@ ARRAY['rejected', 'lost', 'recycled']),
    -- a rejection or loss for this reason disqualifies the lead; otherwise it is recycled
    disqualifies       boolean NOT NULL DEFAULT false,
    recycle_after_days integer CHECK (recycle_after_days BETWEEN 1 AND 3650),
    active             boolean NOT NULL DEFAULT true,
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, code)
);

-- Every workspace starts with the same reasons; it may change them or add its own.
CREATE FUNCTION ll_seed_reasons(ws uuid) RETURNS void LANGUAGE sql AS $$
    INSERT INTO feedback_reasons (workspace_id, code, label, kinds, disqualifies, recycle_after_days)
    VALUES
        (ws, 'bad_fit', 'Not our kind of customer', '{rejected,lost}', true, NULL),
        (ws, 'no_budget', 'No budget', '{rejected,lost,recycled}', false, 90),
        (ws, 'no_authority', 'Cannot decide or buy', '{rejected,lost,recycled}', false, 60),
        (ws, 'no_need', 'No need for it', '{rejected,lost,recycled}', false, 180),
        (ws, 'bad_timing', 'Not now', '{rejected,lost,recycled}', false, 90),
        (ws, 'not_reachable', 'Could not be reached', '{rejected,recycled}', false, 30),
        (ws, 'duplicate', 'Duplicate of another lead', '{rejected}', true, NULL),
        (ws, 'competitor', 'Chose or is a competitor', '{rejected,lost}', true, NULL),
        (ws, 'spam', 'Spam or fake', '{rejected}', true, NULL),
        (ws, 'student_or_job_seeker', 'Student or job seeker', '{rejected}', true, NULL),
        (ws, 'other', 'Other', '{rejected,lost,recycled}', false, NULL)
    ON CONFLICT DO NOTHING
$$;

CREATE FUNCTION ll_workspace_seeded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ll_seed_reasons(NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER workspaces_seed_reasons AFTER INSERT ON workspaces
    FOR EACH ROW EXECUTE FUNCTION ll_workspace_seeded();
SELECT ll_seed_reasons(id) FROM workspaces;

-- A recycled lead comes back to marketing on this day (from its reason's
-- recycle_after_days); null otherwise.
ALTER TABLE leads ADD COLUMN recycle_on date;

CREATE TABLE feedback (
    workspace_id   uuid NOT NULL,
    id             uuid NOT NULL DEFAULT gen_random_uuid(),
    lead_id        uuid NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('accepted', 'rejected', 'contacted',
                       'meeting_booked', 'won', 'lost', 'recycled')),
    reason         text,
    rating         smallint CHECK (rating BETWEEN 1 AND 5),
    amount         bigint CHECK (amount >= 0),
    currency       text CHECK (currency ~ '^[A-Z]{3}$'),
    note           text CHECK (octet_length(note) <= 4096),
    author_user_id uuid,
    author_key_id  uuid NOT NULL,
    occurred_at    timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    stage_before   text NOT NULL,
    stage_after    text NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id),
    CONSTRAINT feedback_reason FOREIGN KEY (workspace_id, reason)
        REFERENCES feedback_reasons (workspace_id, code),
    CONSTRAINT feedback_author FOREIGN KEY (workspace_id, author_user_id)
        REFERENCES users (workspace_id, id),
    CONSTRAINT feedback_reason_kind
        CHECK ((reason IS NOT NULL) = (kind IN ('rejected', 'lost', 'recycled'))),
    CONSTRAINT feedback_won_amount
        CHECK (kind <> 'won' OR (amount IS NOT NULL AND currency IS NOT NULL))
);
CREATE INDEX feedback_by_lead ON feedback (workspace_id, lead_id, occurred_at, id);
CREATE INDEX feedback_by_time ON feedback (workspace_id, occurred_at, id);
CREATE INDEX feedback_by_author ON feedback (workspace_id, author_user_id, occurred_at);
