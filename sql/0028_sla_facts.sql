-- Leadloop schema 0028: the SLA report's times kept as facts (issue 17).
--
-- The time from the hand-off to the lead's first attempt and to its first contact, in the
-- workspace's business seconds when it has business hours (calendar seconds when not), as
-- follow_up_s is: computed when the lead's facts are refreshed (ll_report_facts) and when
-- the workspace's calendar changes (ll_report_rebucket), not for every lead of the period
-- each time GET /v1/reports/sla is asked. The report reads its cohort from the index
-- report_leads_handed alone (an index-only scan), which therefore carries these instead of
-- the two timestamps.
--
-- (The score bands of GET /v1/reports/scoring, report dimensions 5 and 6, need no column:
-- the refresh reads them from lead_scores, and a rescore moves them, ll_report_band_deltas.
-- 0029 adds the figures of the leads scored already.)
--
ALTER TABLE report_leads ADD COLUMN attempt_s bigint, ADD COLUMN contact_s bigint;

DROP INDEX report_leads_handed;
CREATE INDEX report_leads_handed ON report_leads (workspace_id, handed_at)
    INCLUDE (owner_id, follow_up_s, attempt_s, contact_s, verdict, verdict_at, attempts)
    WHERE handed_at IS NOT NULL;
