-- Leadloop schema 0007: report facts are refreshed after the write, not inside it.
--
-- Until now every writing statement refreshed its leads' report facts in its own
-- transaction (0005): exact, but a create paid for a single-lead refresh, half of its time
-- in PostgreSQL (pgbench: 3,512 creates/s without the report triggers, 1,748 with), and a
-- PATCH or a feedback waited for it too. Now the statement triggers only note the leads a
-- statement wrote, in report_dirty, in the writing transaction (so a note commits with its
-- write, or not at all). ll_report_flush refreshes the noted leads, many at once, which
-- costs a fraction of one refresh per lead:
-- - the daemon's compactor flushes every second, a bounded number of notes at a time,
--   skipping notes another flush holds;
-- - every report first flushes its workspace's notes, waiting for a flush in progress, so
--   that a report still counts every write committed before it began.

CREATE TABLE report_dirty (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id uuid NOT NULL,
    lead_id      uuid NOT NULL
);
CREATE INDEX report_dirty_by_workspace ON report_dirty (workspace_id, id);
-- Rows come and go by the thousand a second: vacuum by count, not by the table's share.
ALTER TABLE report_dirty SET (autovacuum_vacuum_scale_factor = 0,
                              autovacuum_vacuum_threshold = 10000,
                              autovacuum_vacuum_insert_scale_factor = 0,
                              autovacuum_vacuum_insert_threshold = 10000);

-- Refreshes the leads noted in report_dirty and deletes their notes; returns how many
-- notes it took. With lim NULL: all of workspace ws, waiting for notes that a concurrent
-- flush holds (their refresh is then committed, and the notes gone). With lim: at most lim
-- notes of workspace ws (all workspaces when NULL), skipping held ones.
CREATE FUNCTION ll_report_flush(ws uuid, lim integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n bigint := 0;
BEGIN
    IF lim IS NULL THEN
        FOR r IN WITH d AS (DELETE FROM report_dirty WHERE workspace_id = ws
                            RETURNING workspace_id, lead_id)
                 SELECT workspace_id, array_agg(DISTINCT lead_id) AS ids, count(*) AS k
                 FROM d GROUP BY workspace_id LOOP
            PERFORM ll_report_refresh(r.workspace_id, r.ids);
            n := n + r.k;
        END LOOP;
    ELSE
        FOR r IN WITH d AS (DELETE FROM report_dirty WHERE id = ANY (ARRAY(
                                SELECT id FROM report_dirty
                                WHERE ws IS NULL OR workspace_id = ws
                                ORDER BY id LIMIT lim FOR UPDATE SKIP LOCKED))
                            RETURNING workspace_id, lead_id)
                 SELECT workspace_id, array_agg(DISTINCT lead_id) AS ids, count(*) AS k
                 FROM d GROUP BY workspace_id ORDER BY workspace_id LOOP
            PERFORM ll_report_refresh(r.workspace_id, r.ids);
            n := n + r.k;
        END LOOP;
    END IF;
    RETURN n;
END
$$;

-- The statement triggers: note the leads written. Inserted, updated and deleted touches,
-- stage changes and feedback rows note their leads (both the old and the new lead of an
-- updated row); a stage row to 'new', every lead's first, changes no fact.
CREATE OR REPLACE FUNCTION ll_report_on_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_dirty (workspace_id, lead_id)
    SELECT DISTINCT workspace_id, lead_id FROM written;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION ll_report_on_rows_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_dirty (workspace_id, lead_id)
    SELECT workspace_id, lead_id FROM written
    UNION SELECT workspace_id, lead_id FROM previous;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION ll_report_on_stage_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_dirty (workspace_id, lead_id)
    SELECT DISTINCT workspace_id, lead_id FROM written WHERE to_stage <> 'new';
    RETURN NULL;
END
$$;
-- Leads created or deleted.
CREATE OR REPLACE FUNCTION ll_report_on_leads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_dirty (workspace_id, lead_id) SELECT workspace_id, id FROM written;
    RETURN NULL;
END
$$;
-- An update matters when it changes what the facts take from the lead itself; stage
-- moves are seen through lead_stage_changes.
CREATE OR REPLACE FUNCTION ll_report_on_leads_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- planned on every call (EXECUTE): a plan kept from a one-row update joins the
    -- transition tables row by row, 80 s for a 20,000-row update
    EXECUTE 'INSERT INTO report_dirty (workspace_id, lead_id) SELECT n.workspace_id, n.id'
            ' FROM written n JOIN previous o ON o.workspace_id = n.workspace_id AND o.id = n.id'
            ' WHERE (n.source, n.owner_id, n.created_at)'
            ' IS DISTINCT FROM (o.source, o.owner_id, o.created_at)';
    RETURN NULL;
END
$$;

DROP TRIGGER campaign_touches_report ON campaign_touches;
CREATE TRIGGER campaign_touches_report AFTER INSERT ON campaign_touches
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();
DROP TRIGGER feedback_report ON feedback;
CREATE TRIGGER feedback_report AFTER INSERT ON feedback
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_rows();
DROP TRIGGER leads_report_insert ON leads;
CREATE TRIGGER leads_report_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION ll_report_on_leads();
DROP FUNCTION ll_report_on_touches();
DROP FUNCTION ll_report_on_feedback();
DROP FUNCTION ll_report_on_leads_insert();

-- A rebuild recomputes every lead of the workspace: notes taken before it are done by it.
-- They go first; a write committed while it runs keeps its note, for the next flush.
CREATE OR REPLACE FUNCTION ll_report_rebuild(ws uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
BEGIN
    -- not beside a compaction, which could deadlock with the deletes below
    PERFORM pg_advisory_xact_lock(hashtext('ll_report_compact'));
    DELETE FROM report_dirty WHERE workspace_id = ws;
    DELETE FROM report_days WHERE workspace_id = ws;
    DELETE FROM report_reason_days WHERE workspace_id = ws;
    DELETE FROM report_day_deltas WHERE workspace_id = ws;
    DELETE FROM report_follow_ups WHERE workspace_id = ws;
    DELETE FROM report_reason_deltas WHERE workspace_id = ws;
    DELETE FROM report_leads WHERE workspace_id = ws;
    FOR ids IN SELECT array_agg(id) FROM (SELECT id, row_number() OVER (ORDER BY id) AS n
                                          FROM leads WHERE workspace_id = ws) x
               GROUP BY (n - 1) / 10000 LOOP
        PERFORM ll_report_refresh(ws, ids);
    END LOOP;
END
$$;
