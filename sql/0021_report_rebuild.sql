-- Leadloop 0021 (after functions): the report tables recomputed from the rows, because
-- 0018_deals changed what their facts mean (avg_rating takes one rating per lead, its
-- latest; the won amount takes corrections; the lost amount is new). Data only, with the
-- current definitions of sql/functions/40_reports.sql.
-- migrate: after functions
SELECT ll_report_rebuild(id) FROM workspaces;
