-- Leadloop schema 0024: interactions (issue 17): the calls, emails, meetings, notes,
-- messages, forms and tickets that sales and support tools log on a lead, so that its
-- timeline is one face of the customer; and the follow-up clock they stop.
--
-- A tool names its own record by (source, external_id): sent again, the interaction is
-- updated in place (server/interactions.c), never doubled. The first outbound call, email,
-- meeting or message after the hand-off (an attempt), or the first interaction that reached
-- the person (a contact: outcome connected, replied or held, or an inbound call, email,
-- meeting or message) stops the follow-up clock as sales' first feedback does
-- (report_leads.first_attempt_at, first_contact_at; sql/functions/40_reports.sql).
-- Existing leads had no interactions: the new columns are right as NULL.
CREATE TABLE interactions (
    workspace_id     uuid NOT NULL,
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    lead_id          uuid NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('call', 'email', 'meeting', 'note',
                         'message', 'form', 'ticket')),
    direction        text CHECK (direction IN ('inbound', 'outbound')),
    occurred_at      timestamptz NOT NULL,
    user_id          uuid,          -- who acted, when a user of the workspace
    actor_name       text CHECK (char_length(actor_name) BETWEEN 1 AND 200),
    outcome          text CHECK (outcome IN ('connected', 'no_answer', 'left_message', 'busy',
                         'wrong_number', 'sent', 'replied', 'bounced', 'scheduled', 'held',
                         'no_show', 'cancelled', 'opened', 'resolved', 'other')),
    subject          text CHECK (char_length(subject) <= 200),
    body             text CHECK (char_length(body) <= 10000),
    duration_seconds integer CHECK (duration_seconds >= 0),
    campaign_id      uuid,
    source           text CHECK (source ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    external_id      text CHECK (char_length(external_id) BETWEEN 1 AND 255),
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT interactions_lead FOREIGN KEY (workspace_id, lead_id)
        REFERENCES leads (workspace_id, id),
    CONSTRAINT interactions_user FOREIGN KEY (workspace_id, user_id)
        REFERENCES users (workspace_id, id),
    CONSTRAINT interactions_campaign FOREIGN KEY (workspace_id, campaign_id)
        REFERENCES campaigns (workspace_id, id),
    CONSTRAINT interactions_direction
        CHECK (direction IS NOT NULL OR kind IN ('note', 'form', 'ticket')),
    CONSTRAINT interactions_external_source CHECK (external_id IS NULL OR source IS NOT NULL),
    CONSTRAINT interactions_external UNIQUE (workspace_id, source, external_id)
);
-- A lead's interactions in time order: its list, its timeline and its report facts.
CREATE INDEX interactions_by_lead ON interactions (workspace_id, lead_id, occurred_at, id);

ALTER TABLE report_leads ADD COLUMN first_attempt_at timestamptz,
    ADD COLUMN first_contact_at timestamptz;
-- Waiting: handed over and followed up in no way yet.
DROP INDEX report_leads_waiting;
CREATE INDEX report_leads_waiting ON report_leads (workspace_id, handed_at, lead_id)
    WHERE handed_at IS NOT NULL AND first_feedback_at IS NULL AND first_attempt_at IS NULL
      AND first_contact_at IS NULL;

-- A merge's record counts the interactions it moved too.
ALTER TABLE lead_merges ADD COLUMN interactions integer NOT NULL DEFAULT 0;
