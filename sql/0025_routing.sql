-- Leadloop 0025: routing, who gets a lead (issue 17). Pools of sales users that take leads
-- in turn (round robin), by weight (deficit round robin) or by load (fewest open leads);
-- absences; the workspace's ordered rules (first match wins, the last one catches all);
-- the append-only log of assignments; and the pool assignments whose SLA is still
-- running (routing_sla), for the re-assignment pass. The engine is
-- sql/functions/74_routing.sql. Every table is the workspace's (DESIGN section 7).

CREATE TABLE routing_pools (
    workspace_id           uuid NOT NULL REFERENCES workspaces (id),
    id                     uuid NOT NULL DEFAULT gen_random_uuid(),
    name                   text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    method                 text NOT NULL
                           CHECK (method IN ('round_robin', 'weighted', 'least_loaded')),
    reassign_after_minutes integer CHECK (reassign_after_minutes BETWEEN 1 AND 525600),
    turn                   bigint NOT NULL DEFAULT 0, -- assignments made, the members' clock
    version                integer NOT NULL DEFAULT 1,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);

-- A member's rotation state: assigned (how many leads the pool gave them, the weighted
-- method's deficit counter) and last_turn (the pool's turn when they last got one: round
-- robin picks the smallest). Both stay when other members come and go.
CREATE TABLE routing_pool_members (
    workspace_id     uuid NOT NULL,
    pool_id          uuid NOT NULL,
    user_id          uuid NOT NULL,
    weight           integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
    cap              integer CHECK (cap >= 0),
    hours            jsonb, -- {time_zone, days [1..7], start "HH:MM", end "HH:MM"} or NULL
    assigned         bigint NOT NULL DEFAULT 0 CHECK (assigned >= 0),
    last_turn        bigint NOT NULL DEFAULT 0,
    last_assigned_at timestamptz,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, pool_id, user_id),
    FOREIGN KEY (workspace_id, pool_id) REFERENCES routing_pools (workspace_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, user_id) REFERENCES users (workspace_id, id)
);

CREATE TABLE routing_absences (
    workspace_id uuid NOT NULL,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL,
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    note         text CHECK (char_length(note) <= 500),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, user_id) REFERENCES users (workspace_id, id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX routing_absences_user ON routing_absences (workspace_id, user_id, ends_at);

-- The rules as one document per workspace: its version, and its rules by position.
CREATE TABLE routing_rulesets (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id),
    version      integer NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE routing_rules (
    workspace_id   uuid NOT NULL REFERENCES routing_rulesets (workspace_id),
    id             uuid NOT NULL DEFAULT gen_random_uuid(),
    position       integer NOT NULL,
    name           text CHECK (char_length(name) <= 200),
    conditions     jsonb NOT NULL DEFAULT '[]',
    target_user_id uuid,
    target_pool_id uuid,
    reassign_owned boolean NOT NULL DEFAULT false,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, position),
    FOREIGN KEY (workspace_id, target_user_id) REFERENCES users (workspace_id, id),
    FOREIGN KEY (workspace_id, target_pool_id) REFERENCES routing_pools (workspace_id, id),
    CHECK ((target_user_id IS NULL) <> (target_pool_id IS NULL))
);

-- Append-only: who a lead went to, by which rule and pool, why, and who was passed over.
CREATE TABLE lead_assignments (
    workspace_id      uuid NOT NULL,
    id                uuid NOT NULL DEFAULT gen_random_uuid(),
    lead_id           uuid NOT NULL,
    rule_id           uuid,
    pool_id           uuid,
    previous_owner_id uuid,
    owner_id          uuid, -- NULL: nobody could take it (outcome says why)
    reason            text NOT NULL CHECK (reason IN ('mql', 'on_demand', 'reassigned_sla')),
    outcome           text NOT NULL
                      CHECK (outcome IN ('assigned', 'nobody_eligible')),
    skipped           jsonb NOT NULL DEFAULT '[]',
    by_key_id         uuid,
    by_user_id        uuid,
    at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id)
);
CREATE INDEX lead_assignments_lead ON lead_assignments (workspace_id, lead_id, at);

-- A pool's assignment whose SLA runs: due when no feedback came by due_at.
CREATE TABLE routing_sla (
    workspace_id  uuid NOT NULL,
    lead_id       uuid NOT NULL,
    assignment_id uuid NOT NULL,
    pool_id       uuid NOT NULL,
    owner_id      uuid NOT NULL,
    assigned_at   timestamptz NOT NULL,
    due_at        timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, lead_id),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id)
);
CREATE INDEX routing_sla_due ON routing_sla (due_at);

-- A sales user's open leads (at mql: handed over, no verdict yet), counted for caps and
-- the least-loaded method.
CREATE INDEX leads_open_by_owner ON leads (workspace_id, owner_id) WHERE stage = 'mql';
