-- Leadloop schema 0016: the work lists of GET /v1/leads (issue 14). Leads awaiting sales'
-- verdict are read through the follow-up report's index (report_leads_waiting, schema
-- 0005); recycled leads due back to marketing get theirs, oldest first.
CREATE INDEX leads_recycle_due ON leads (workspace_id, recycle_on, id)
    WHERE stage = 'recycled' AND erased_at IS NULL AND merged_into IS NULL;
