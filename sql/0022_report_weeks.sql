-- Leadloop 0022: the report figures per ISO week (report_weeks), beside the day and month
-- rows of report_days, so that the trends by week read one row per week and key instead
-- of seven day rows: over two years of a workspace of 1,000,000 leads and 200 campaigns,
-- about 21,000 rows where the day rows are 146,000. ll_report_compact folds the deltas
-- into them with the day and month rows, in the same transaction; 0023 fills them from
-- the day rows folded so far.
CREATE TABLE report_weeks (
    workspace_id  uuid NOT NULL,
    dim           smallint NOT NULL,
    week          date NOT NULL, -- its Monday
    key           text NOT NULL,
    leads         numeric NOT NULL,
    mqls          numeric NOT NULL,
    handed        numeric NOT NULL,
    accepted      numeric NOT NULL,
    rejected      numeric NOT NULL,
    contacted     numeric NOT NULL,
    opportunities numeric NOT NULL,
    won           numeric NOT NULL,
    won_amount    numeric NOT NULL,
    rating_sum    numeric NOT NULL,
    rating_count  numeric NOT NULL,
    followed      numeric NOT NULL,
    lost_amount   numeric NOT NULL,
    PRIMARY KEY (workspace_id, dim, week, key)
);
