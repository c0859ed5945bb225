-- Leadloop schema 0006: a statement that creates leads with their rows (the created touch,
-- the first stage row) refreshes each lead's report facts once, in a savepoint too, and
-- whatever order its statement triggers fire in.
--
-- 0005 let the touch, stage-change and feedback insert triggers skip a lead whose facts
-- were written later than their row by the same transaction (a higher command id). Two
-- things defeated it in POST /v1/leads/batch, which refreshed every lead twice:
-- - the batch runs in a savepoint, where rows carry the subtransaction's xid, never equal
--   to pg_current_xact_id(); the comparison that matters is the row's xmin against the
--   facts' (a row in a transition table was written by the current subtransaction);
-- - the statement's data-modifying CTEs insert leads and touches, and the touches' trigger
--   may fire before the leads' own; so the leads' insert trigger now skips the same way:
--   a lead whose facts a later command wrote was refreshed by another trigger of its
--   statement, which ran after the statement and saw everything it wrote.

CREATE OR REPLACE FUNCTION ll_report_on_touches() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT w.workspace_id, array_agg(DISTINCT w.lead_id) AS ids FROM written w
             WHERE NOT EXISTS (
                 SELECT 1 FROM campaign_touches t JOIN report_leads f
                     ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
                 WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                     AND f.xmin = t.xmin
                     AND f.cmin::text::bigint > t.cmin::text::bigint)
             GROUP BY w.workspace_id LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.ids);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION ll_report_on_stage_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT w.workspace_id, array_agg(DISTINCT w.lead_id) AS ids FROM written w
             WHERE w.to_stage <> 'new' AND NOT EXISTS (
                 SELECT 1 FROM lead_stage_changes t JOIN report_leads f
                     ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
                 WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                     AND f.xmin = t.xmin
                     AND f.cmin::text::bigint > t.cmin::text::bigint)
             GROUP BY w.workspace_id LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.ids);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION ll_report_on_feedback() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT w.workspace_id, array_agg(DISTINCT w.lead_id) AS ids FROM written w
             WHERE NOT EXISTS (
                 SELECT 1 FROM feedback t JOIN report_leads f
                     ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
                 WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                     AND f.xmin = t.xmin
                     AND f.cmin::text::bigint > t.cmin::text::bigint)
             GROUP BY w.workspace_id LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.ids);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE FUNCTION ll_report_on_leads_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT w.workspace_id, array_agg(w.id) AS ids FROM written w
             WHERE NOT EXISTS (
                 SELECT 1 FROM leads t JOIN report_leads f
                     ON f.workspace_id = t.workspace_id AND f.lead_id = t.id
                 WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                     AND f.xmin = t.xmin
                     AND f.cmin::text::bigint > t.cmin::text::bigint)
             GROUP BY w.workspace_id LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.ids);
    END LOOP;
    RETURN NULL;
END
$$;
DROP TRIGGER leads_report_insert ON leads;
CREATE TRIGGER leads_report_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT
    EXECUTE FUNCTION ll_report_on_leads_insert();
