-- Leadloop schema 0032: the funnel and follow-up reports from kept figures (issue 15).
--
-- report_funnel_days holds, per day (and again per month) and filter key, how many leads
-- of the day reached each funnel stage, how many were followed up and how many wait for
-- sales (handed over, no feedback, attempt or contact yet, still in sales' stages): the
-- additive figures of GET /v1/reports/funnel and /v1/reports/follow-up. A refresh
-- (ll_report_refresh) appends the difference between a lead's old and new facts to
-- report_funnel_deltas, and ll_report_compact folds them in, as report_days and
-- report_day_deltas. The filter key: dim 0 every lead (key ''), 1 the first touch's
-- campaign, 2 the last credited touch's, 3 each campaign of the credited touches (once per
-- lead), 4 the owner (key '' for none); source '' every source, else one source (each lead
-- counts in both).
--
-- The medians between stages are read from the indexes report_leads_stage1 .. 5 below, in
-- value order (the row at the median's rank, its rank from the kept counts), and the
-- follow-up percentiles per owner from report_follow_ups' rows of dim 4 (the owner).
-- The waiting leads by owner (report_leads_waiting_owner, report_leads_waiting_by_day) give
-- the oldest waiting lead and the few handed over since the SLA's cutoff, which are not
-- overdue yet.
CREATE TABLE report_funnel_days (
    workspace_id uuid NOT NULL,
    dim          smallint NOT NULL,
    key          text NOT NULL,
    source       text NOT NULL,
    month        boolean NOT NULL, -- a month's total (day: its first day) or one day's
    day          date NOT NULL,
    leads        bigint NOT NULL,
    handed       bigint NOT NULL,
    accepted     bigint NOT NULL,
    qualified    bigint NOT NULL,
    opportunity  bigint NOT NULL,
    customer     bigint NOT NULL,
    followed     bigint NOT NULL,
    waiting      bigint NOT NULL,
    PRIMARY KEY (workspace_id, dim, key, source, month, day)
);

-- every key's rows of a window (the follow-up report reads every owner's)
CREATE INDEX report_funnel_days_by_day ON report_funnel_days (workspace_id, dim, source, month, day);

CREATE TABLE report_funnel_deltas (
    workspace_id uuid NOT NULL,
    dim          smallint NOT NULL,
    key          text NOT NULL,
    source       text NOT NULL,
    day          date NOT NULL,
    leads        bigint NOT NULL,
    handed       bigint NOT NULL,
    accepted     bigint NOT NULL,
    qualified    bigint NOT NULL,
    opportunity  bigint NOT NULL,
    customer     bigint NOT NULL,
    followed     bigint NOT NULL,
    waiting      bigint NOT NULL
);
CREATE INDEX report_funnel_deltas_by_key ON report_funnel_deltas (workspace_id, dim, key, source, day);
ALTER TABLE report_funnel_deltas SET (autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 20000, autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 20000);

-- The time between consecutive stages in value order, one index per stage, carrying what
-- the funnel's filters and window read (and the two times: the planner takes an
-- index-only scan only when every column the statement names is in the index).
CREATE INDEX report_leads_stage1 ON report_leads
    (workspace_id, (extract(epoch FROM handed_at - created_at)))
    INCLUDE (day, source, owner_id, ft_campaign, lt_campaign, credits, created_at, handed_at)
    WHERE handed_at IS NOT NULL;
CREATE INDEX report_leads_stage2 ON report_leads
    (workspace_id, (extract(epoch FROM accepted_at - handed_at)))
    INCLUDE (day, source, owner_id, ft_campaign, lt_campaign, credits, handed_at, accepted_at)
    WHERE accepted_at IS NOT NULL;
CREATE INDEX report_leads_stage3 ON report_leads
    (workspace_id, (extract(epoch FROM qualified_at - accepted_at)))
    INCLUDE (day, source, owner_id, ft_campaign, lt_campaign, credits, accepted_at, qualified_at)
    WHERE qualified_at IS NOT NULL;
CREATE INDEX report_leads_stage4 ON report_leads
    (workspace_id, (extract(epoch FROM opportunity_at - qualified_at)))
    INCLUDE (day, source, owner_id, ft_campaign, lt_campaign, credits, qualified_at,
             opportunity_at)
    WHERE opportunity_at IS NOT NULL;
CREATE INDEX report_leads_stage5 ON report_leads
    (workspace_id, (extract(epoch FROM customer_at - opportunity_at)))
    INCLUDE (day, source, owner_id, ft_campaign, lt_campaign, credits, opportunity_at,
             customer_at)
    WHERE customer_at IS NOT NULL;

-- The waiting leads per owner, oldest hand-off first (the follow-up report's definition of
-- waiting, ll_report_waiting's).
CREATE INDEX report_leads_waiting_owner ON report_leads (workspace_id, owner_id, handed_at, lead_id)
    INCLUDE (day)
    WHERE handed_at IS NOT NULL AND first_feedback_at IS NULL AND first_attempt_at IS NULL
      AND first_contact_at IS NULL
      AND stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity');

-- The same by day of creation, for a short window (ll_report_follow_up_sorted).
CREATE INDEX report_leads_waiting_by_day ON report_leads (workspace_id, owner_id, day)
    INCLUDE (handed_at, lead_id)
    WHERE handed_at IS NOT NULL AND first_feedback_at IS NULL AND first_attempt_at IS NULL
      AND first_contact_at IS NULL
      AND stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity');

-- A short window's funnel medians (ll_report_follow_up_sorted) sort its leads' times read
-- from here, index-only.
CREATE INDEX report_leads_funnel_by_day ON report_leads (workspace_id, day)
    INCLUDE (source, owner_id, ft_campaign, lt_campaign, credits, created_at, handed_at,
             accepted_at, qualified_at, opportunity_at, customer_at);

-- A funnel filtered by a campaign and an owner at once reads the owner's leads.
CREATE INDEX report_leads_by_owner ON report_leads (workspace_id, owner_id, day);

-- The kept figures of the leads there are.
WITH k AS (
    SELECT r.*, 0::smallint AS dim, ''::text AS key FROM report_leads r
    UNION ALL
    SELECT r.*, 1::smallint, r.ft_campaign::text FROM report_leads r WHERE r.ft_campaign IS NOT NULL
    UNION ALL
    SELECT r.*, 2::smallint, r.lt_campaign::text FROM report_leads r WHERE r.lt_campaign IS NOT NULL
    UNION ALL
    SELECT r.*, 3::smallint, x.campaign::text
    FROM report_leads r, LATERAL (SELECT DISTINCT campaign FROM unnest(r.credits) AS campaign) x
    UNION ALL
    SELECT r.*, 4::smallint, coalesce(r.owner_id::text, '') FROM report_leads r),
s AS (
    SELECT k.*, ''::text AS src FROM k
    UNION ALL
    SELECT k.*, k.source FROM k),
g AS (
    SELECT s.workspace_id, s.dim, s.key, s.src, m.month,
           CASE WHEN m.month THEN date_trunc('month', s.day::timestamp)::date ELSE s.day END
               AS day,
           count(*) AS leads, count(s.handed_at) AS handed, count(s.accepted_at) AS accepted,
           count(s.qualified_at) AS qualified, count(s.opportunity_at) AS opportunity,
           count(s.customer_at) AS customer, count(s.follow_up_s) AS followed,
           count(*) FILTER (WHERE s.handed_at IS NOT NULL AND s.first_feedback_at IS NULL
               AND s.first_attempt_at IS NULL AND s.first_contact_at IS NULL
               AND s.stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity'))
               AS waiting
    FROM s CROSS JOIN (VALUES (false), (true)) AS m (month)
    GROUP BY 1, 2, 3, 4, 5, 6)
INSERT INTO report_funnel_days SELECT * FROM g;

-- The follow-up times per owner (dim 4, key '' for none) beside those per source and
-- campaign.
INSERT INTO report_follow_ups
SELECT r.workspace_id, r.lead_id, 4, coalesce(r.owner_id::text, ''), r.day, r.follow_up_s
FROM report_leads r WHERE r.follow_up_s IS NOT NULL;
