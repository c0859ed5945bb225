-- Leadloop schema 0027: a two-sided SLA with goals (issue 17).
--
-- A goal is one side's commitment for one month or quarter of the workspace's calendar:
-- marketing's, a number of leads handed to sales (mqls) or accepted by sales
-- (accepted_leads); sales', a share of the leads handed over that got a first attempt
-- within N business hours (first_attempt_within), at least K attempts (attempts), or a
-- verdict within D days (verdict_within). A goal is the whole team's (owner_id NULL) or one
-- person's (the leads they own). GET /v1/reports/sla measures each against the report
-- facts (report_leads).
CREATE TABLE sla_goals (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    period_kind  text NOT NULL CHECK (period_kind IN ('month', 'quarter')),
    period_start date NOT NULL,
    metric       text NOT NULL CHECK (metric IN ('mqls', 'accepted_leads',
                     'first_attempt_within', 'attempts', 'verdict_within')),
    owner_id     uuid,
    -- a number of leads for marketing's metrics, a percentage for sales'
    target       integer NOT NULL CHECK (target >= 1 AND target <= 1000000),
    within_hours integer CHECK (within_hours BETWEEN 1 AND 8760),
    min_attempts integer CHECK (min_attempts BETWEEN 1 AND 100),
    within_days  integer CHECK (within_days BETWEEN 1 AND 365),
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, owner_id) REFERENCES users (workspace_id, id),
    CONSTRAINT sla_goals_period
        CHECK (period_start = date_trunc(period_kind, period_start)::date),
    CONSTRAINT sla_goals_params CHECK (
        (within_hours IS NOT NULL) = (metric = 'first_attempt_within')
        AND (min_attempts IS NOT NULL) = (metric = 'attempts')
        AND (within_days IS NOT NULL) = (metric = 'verdict_within')
        AND (metric IN ('mqls', 'accepted_leads') OR target <= 100))
);
-- One goal per period, metric and owner (or team).
CREATE UNIQUE INDEX sla_goals_one
    ON sla_goals (workspace_id, period_start, period_kind, metric, owner_id) NULLS NOT DISTINCT;

-- The SLA report's cohorts: the leads handed over, and those accepted, in a period.
CREATE INDEX report_leads_handed ON report_leads (workspace_id, handed_at)
    WHERE handed_at IS NOT NULL;
CREATE INDEX report_leads_accepted ON report_leads (workspace_id, accepted_at)
    WHERE accepted_at IS NOT NULL;
