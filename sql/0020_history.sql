-- Leadloop schema 0020: a workspace's own time zone and follow-up SLA, and keys that may
-- import history (issue 14).
--
-- The reports place a lead on the day it was created in its workspace's time zone, and
-- count the follow-up time in the workspace's business hours when it has them; changing
-- either re-buckets the kept figures (ll_report_rebucket, in the changing transaction).
-- A time zone is one of PostgreSQL's names (pg_timezone_names), checked by the API: a
-- CHECK cannot read that list. Business days are ISO day numbers (1 Monday .. 7 Sunday);
-- the hours are local times, end after start ('24:00' ends at midnight).
ALTER TABLE workspaces
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC',
    ADD COLUMN sla_hours integer CHECK (sla_hours BETWEEN 1 AND 8760),
    ADD COLUMN business_days smallint[],
    ADD COLUMN business_start time,
    ADD COLUMN business_end time,
    ADD CONSTRAINT workspaces_business_hours CHECK (
        (business_days IS NULL AND business_start IS NULL AND business_end IS NULL)
        OR (cardinality(business_days) BETWEEN 1 AND 7
            AND business_days <@ '{1,2,3,4,5,6,7}'::smallint[]
            AND array_position(business_days, NULL) IS NULL
            AND business_start < business_end));

-- ll_report_refresh gains an argument (functions/40_reports.sql): the facts of the leads
-- recomputed from their rows, or only re-bucketed from the kept facts.
DROP FUNCTION IF EXISTS ll_report_refresh(uuid, uuid[]);

-- ll_lead_move gains an argument (functions/75_lead_move.sql): when the move happened, for
-- an imported history.
DROP FUNCTION IF EXISTS ll_lead_move(uuid, uuid, text, text, uuid, uuid, date);

-- A key with can_import may write history: a new lead's created_at, dated stage changes.
-- Admin keys (and people with the admin role) always may.
ALTER TABLE api_keys ADD COLUMN can_import boolean NOT NULL DEFAULT false;
