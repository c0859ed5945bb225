-- The one current definition of the feedback reasons every workspace starts with.
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.

-- Every workspace starts with the same reasons; it may change them or add its own.
CREATE OR REPLACE FUNCTION ll_seed_reasons(ws uuid) RETURNS void LANGUAGE sql AS $$
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

CREATE OR REPLACE FUNCTION ll_workspace_seeded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ll_seed_reasons(NEW.id);
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER workspaces_seed_reasons AFTER INSERT ON workspaces
    FOR EACH ROW EXECUTE FUNCTION ll_workspace_seeded();
