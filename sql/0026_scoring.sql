-- Leadloop 0026: lead scoring (issue 17 point 2). Two scores per lead, fit (rules on the
-- lead's fields) and engagement (points per campaign touch, decaying with age), each the sum
-- of capped rule groups clamped to 0..100, computed from a workspace's published rule set.
--
--   scoring_drafts      the one editable draft of a workspace (the whole document, versioned)
--   scoring_versions    published rule sets, immutable (version 1, 2, ...)
--   scoring_rules       the rules of each published version, compiled for set-based matching
--   scoring_groups      the groups of each published version, with their caps
--   scoring_runs        a workspace's scoring state: the version in force and the progress of
--                       its rescore (a cursor on lead ids, so a restart resumes it)
--   lead_scores         each lead's fit and engagement and the version they were computed by
--   lead_score_points   the ledger: what each rule (or a group cap, or the 0..100 clamp) gave
--                       a lead; a lead's rows add up to its scores
--   lead_score_changes  each change of a lead's scores, with its threshold crossing
--
-- The client-set leads.score stays as it was. The scores live beside the lead, not in its
-- row, so that a rescore of a million leads writes no audit, change-feed or report rows.
-- Every key starts with workspace_id (DESIGN section 7). The ledger and the changes have no
-- foreign key to leads (leads are never deleted, only erased): a rescore writes millions of
-- ledger rows, and a row trigger per row would double its cost.

CREATE TABLE scoring_drafts (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    document jsonb NOT NULL,
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE scoring_versions (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    version integer NOT NULL CHECK (version >= 1),
    document jsonb NOT NULL,
    draft_version integer NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by_key uuid,
    published_by_user uuid,
    PRIMARY KEY (workspace_id, version)
);

CREATE TABLE scoring_groups (
    workspace_id uuid NOT NULL,
    version integer NOT NULL,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('fit', 'engagement')),
    cap integer CHECK (cap >= 0),
    PRIMARY KEY (workspace_id, version, name),
    FOREIGN KEY (workspace_id, version) REFERENCES scoring_versions ON DELETE CASCADE
);

-- A fit rule has field, op and its values; an engagement rule has event (source 'touch'
-- and a touch kind today; 'interaction' and its kinds once interactions exist), an optional
-- campaign and a decay (half_life_days: points * 2^(-age/half_life); halve_after_days:
-- points / 2 once the event is that old).
CREATE TABLE scoring_rules (
    workspace_id uuid NOT NULL,
    version integer NOT NULL,
    rule_id text NOT NULL,
    grp text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('fit', 'engagement')),
    points integer NOT NULL,
    field text,
    op text,
    vals text[],
    num_min numeric,
    num_max numeric,
    event_source text,
    event_kind text,
    campaign_id uuid,
    half_life_days numeric,
    halve_after_days numeric,
    PRIMARY KEY (workspace_id, version, rule_id),
    FOREIGN KEY (workspace_id, version, grp) REFERENCES scoring_groups ON DELETE CASCADE
);
CREATE INDEX scoring_rules_event ON scoring_rules (workspace_id, version, event_kind)
    WHERE kind = 'engagement';

CREATE TABLE scoring_runs (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    version integer NOT NULL,
    threshold_fit smallint,
    threshold_engagement smallint,
    threshold_mode text CHECK (threshold_mode IN ('both', 'either')),
    total bigint NOT NULL DEFAULT 0,
    done bigint NOT NULL DEFAULT 0,
    after_id uuid,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    FOREIGN KEY (workspace_id, version) REFERENCES scoring_versions
);
CREATE INDEX scoring_runs_due ON scoring_runs (started_at) WHERE finished_at IS NULL;

CREATE TABLE lead_scores (
    workspace_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    fit smallint NOT NULL CHECK (fit BETWEEN 0 AND 100),
    engagement smallint NOT NULL CHECK (engagement BETWEEN 0 AND 100),
    version integer NOT NULL,
    scored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, lead_id),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id) ON DELETE CASCADE
);

-- grp '' and rule_id '' with adjust 'clamp': the 0..100 clamp of a score; rule_id '' with
-- adjust 'cap': what a group's cap took away; else a rule's points.
CREATE TABLE lead_score_points (
    workspace_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    kind text NOT NULL,
    grp text NOT NULL,
    rule_id text NOT NULL,
    points integer NOT NULL,
    version integer NOT NULL,
    adjust text CHECK (adjust IN ('cap', 'clamp')),
    PRIMARY KEY (workspace_id, lead_id, kind, grp, rule_id)
);

CREATE TABLE lead_score_changes (
    workspace_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    version integer NOT NULL,
    cause text NOT NULL CHECK (cause IN ('publish', 'touch', 'interaction', 'lead')),
    fit_from smallint,
    fit_to smallint NOT NULL,
    engagement_from smallint,
    engagement_to smallint NOT NULL,
    crossed boolean NOT NULL DEFAULT false,
    moved_to text,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, lead_id, seq)
);
