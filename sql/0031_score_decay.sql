-- Leadloop schema 0031: engagement fades by itself (issue 17).
--
-- An engagement rule's points decay with the age of their events, but a lead's score was
-- computed only when something rescored it (a publish, a touch, an interaction, an edit):
-- a lead nobody touched kept last month's engagement. When no publish is being rescored,
-- the rescorer now rescores the leads whose engagement is above 0 and was computed a day
-- ago or more (ll_score_step), oldest first, 10,000 a step; such a change is logged with
-- the cause 'decay'.
ALTER TABLE lead_score_changes DROP CONSTRAINT lead_score_changes_cause_check,
    ADD CONSTRAINT lead_score_changes_cause_check
        CHECK (cause IN ('publish', 'touch', 'interaction', 'lead', 'decay'));
CREATE INDEX lead_scores_to_decay ON lead_scores (scored_at) WHERE engagement > 0;
