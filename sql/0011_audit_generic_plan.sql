-- Leadloop schema 0011: the audit trigger's one-row INSERT (ll_audit_row, schema 0009) runs
-- on a generic plan also inside a transaction that plans every statement for its values
-- (the CSV import's, db_tx_custom_plans): planning it again for every written row cost the
-- import about 30 us a row (bench/results/2026-12-03-audit-2core.md). ll_report_refresh
-- does the same for its own statements.
ALTER FUNCTION ll_audit_row() SET plan_cache_mode = force_generic_plan;
