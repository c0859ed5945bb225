-- Leadloop schema 0030: a rescore runs in two lanes at once (issue 17).
--
-- A publish rescores every lead of the workspace in steps of 10,000 (ll_score_step), one
-- transaction each, and one step at a time used one of the machine's cores: a million
-- leads took 2.5 minutes. The workspace's leads are now two lanes, the ids below
-- 80000000-... and the rest (random ids: halves), each with its own cursor, and the
-- daemon runs a step of each at once (two rescorer threads): each step locks its lane's
-- row, not the run's. The run's progress is the sum of its lanes'; the last lane to end
-- ends the run.
CREATE TABLE scoring_run_lanes (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    lane         smallint NOT NULL,
    -- the lane's leads: from_id <= id < below_id (NULL: no bound)
    from_id      uuid,
    below_id     uuid,
    -- its cursor: the last lead it scored, and how many
    after_id     uuid,
    done         bigint NOT NULL DEFAULT 0,
    finished_at  timestamptz,
    PRIMARY KEY (workspace_id, lane)
);

-- a rescore under way goes on in one lane over every lead, from its cursor
INSERT INTO scoring_run_lanes (workspace_id, lane, from_id, below_id, after_id, done, finished_at)
SELECT workspace_id, 0, NULL, NULL, after_id, done, finished_at FROM scoring_runs;
