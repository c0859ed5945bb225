-- Leadloop schema 0016: the work lists of GET /v1/leads (issue 14).
--
-- The leads awaiting sales' verdict are read through the follow-up report's partial index,
-- which gets the lead's id as its last column: a page of the list, oldest first, is then
-- read from it in order (an index-only scan that stops at the page's end) rather than
-- sorted from all the waiting leads, and a page's keyset starts inside it. Measured with
-- 20,000 waiting leads among 200,000: 23 ms before, 2 ms after.
DROP INDEX report_leads_waiting;
CREATE INDEX report_leads_waiting ON report_leads (workspace_id, handed_at, lead_id)
    WHERE handed_at IS NOT NULL AND first_feedback_at IS NULL;

-- Recycled leads due back to marketing, the longest due first.
CREATE INDEX leads_recycle_due ON leads (workspace_id, recycle_on, id)
    WHERE stage = 'recycled' AND erased_at IS NULL AND merged_into IS NULL;
