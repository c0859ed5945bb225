-- Leadloop schema 0018: second deals, corrections and the lost amount (issue 14).
--
-- A correction is feedback of kind 'correction' that names the won or lost entry of the
-- same lead it corrects and carries the amount that entry should have had; feedback stays
-- append-only, and the reports use the latest correction's amount (sql/functions/
-- 40_reports.sql). The server checks that the entry is of the same lead and of kind won
-- or lost; the foreign key keeps it inside the workspace whatever writes it.
ALTER TABLE feedback ADD COLUMN corrects uuid,
    ADD CONSTRAINT feedback_corrects FOREIGN KEY (workspace_id, corrects)
        REFERENCES feedback (workspace_id, id),
    ADD CONSTRAINT feedback_correction
        CHECK ((corrects IS NOT NULL) = (kind = 'correction')
               AND (kind <> 'correction'
                    OR (amount IS NOT NULL AND currency IS NOT NULL AND rating IS NULL))) NOT VALID,
    DROP CONSTRAINT feedback_kind_check,
    ADD CONSTRAINT feedback_kind_check
        CHECK (kind IN ('accepted', 'rejected', 'contacted', 'meeting_booked', 'won', 'lost',
                        'recycled', 'correction')) NOT VALID;
-- Validated apart, so that the table's writes wait only for the brief ALTER above.
ALTER TABLE feedback VALIDATE CONSTRAINT feedback_correction;
ALTER TABLE feedback VALIDATE CONSTRAINT feedback_kind_check;
-- The corrections of an entry (the facts' lookup, and the foreign key's check when an
-- entry is deleted); few rows, so a partial index.
CREATE INDEX feedback_corrections ON feedback (workspace_id, corrects, occurred_at)
    WHERE corrects IS NOT NULL;

-- The lost amount, a fact of each lead and a figure kept like won_amount. rating_sum and
-- rating_count keep their names: per lead they are now its latest rating and 1, or 0 and 0
-- (one rating per lead), so that the figures' sums still give avg_rating.
ALTER TABLE report_leads ADD COLUMN lost_amount bigint NOT NULL DEFAULT 0;
ALTER TABLE report_days ADD COLUMN lost_amount numeric NOT NULL DEFAULT 0;
ALTER TABLE report_day_deltas ADD COLUMN lost_amount numeric NOT NULL DEFAULT 0;

-- ll_report_sums returns lost_amount too: a new result type, so the old one goes here and
-- the new one comes from sql/functions/45_report_queries.sql (on a fresh database it is
-- not there yet: the numbered files never created it).
DROP FUNCTION IF EXISTS ll_report_sums(uuid, date, date, smallint);
