-- Leadloop 0023 (after functions): report_weeks (0022) filled from the day rows of
-- report_days. It runs after the compactor that folds deltas into week rows is in place
-- (sql/functions/40_reports.sql), and holds it off meanwhile: a compaction by the previous
-- definition between 0022 and the new functions folded into the day rows only, and is
-- counted here all the same. The day, month and reason rows whose figures fold to zero
-- (left by leads that moved to other days) go, as the compactor now deletes them. Data
-- only.
-- migrate: after functions
SELECT pg_advisory_xact_lock(hashtext('ll_report_compact'));
DELETE FROM report_weeks;
INSERT INTO report_weeks
SELECT workspace_id, dim, date_trunc('week', day::timestamp)::date, key, sum(leads), sum(mqls),
       sum(handed), sum(accepted), sum(rejected), sum(contacted), sum(opportunities), sum(won),
       sum(won_amount), sum(rating_sum), sum(rating_count), sum(followed), sum(lost_amount)
FROM report_days
WHERE NOT month
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4;
DELETE FROM report_days
WHERE (leads, mqls, handed, accepted, rejected, contacted, opportunities, won, won_amount,
       rating_sum, rating_count, followed, lost_amount) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
DELETE FROM report_weeks
WHERE (leads, mqls, handed, accepted, rejected, contacted, opportunities, won, won_amount,
       rating_sum, rating_count, followed, lost_amount) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
DELETE FROM report_reason_days WHERE rejected = 0;
