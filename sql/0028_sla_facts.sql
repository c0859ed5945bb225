-- Leadloop schema 0028: the SLA report's times and the score bands kept as facts (issue 17).
--
-- The time from the hand-off to the lead's first attempt and to its first contact, in the
-- workspace's business seconds when it has business hours (calendar seconds when not), as
-- follow_up_s is: computed when the lead's facts are refreshed (ll_report_facts) and when
-- the workspace's calendar changes (ll_report_rebucket), not for every lead of the period
-- each time GET /v1/reports/sla is asked. The report reads its cohort from the index
-- report_leads_handed alone (an index-only scan), which therefore carries these instead of
-- the two timestamps.
--
-- The band of the lead's fit and engagement scores (0, 10, ..., 90: the first score of the
-- band; 100 is in 90's; NULL while no version scored it): report dimensions 5 and 6 of the
-- kept figures, so GET /v1/reports/scoring sums report_days as the campaigns report does,
-- for any window, instead of joining every lead's facts with its scores. A rescore that
-- moves a lead to another band moves its figures (ll_report_move_bands).
--
-- 0029 fills all four in for the leads there are.
ALTER TABLE report_leads ADD COLUMN attempt_s bigint, ADD COLUMN contact_s bigint,
    ADD COLUMN fit_band smallint, ADD COLUMN engagement_band smallint;

DROP INDEX report_leads_handed;
CREATE INDEX report_leads_handed ON report_leads (workspace_id, handed_at)
    INCLUDE (owner_id, follow_up_s, attempt_s, contact_s, verdict, verdict_at, attempts)
    WHERE handed_at IS NOT NULL;
