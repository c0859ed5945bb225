-- Leadloop 0029 (after functions): the facts 0028 added, filled in with the current
-- functions (a fresh database has them only after the functions; refreshes that run
-- meanwhile compute them already): report_leads.attempt_s and contact_s of the leads with
-- a first attempt or contact; the score bands of the leads a version scored, with the
-- figures of report dimensions 5 and 6 (ll_report_move_bands), 10,000 leads at a time.
-- Data only.
-- migrate: after functions
UPDATE report_leads r
SET attempt_s = ll_business_seconds(r.handed_at, r.first_attempt_at, w.time_zone,
                                    w.business_days, w.business_start, w.business_end),
    contact_s = ll_business_seconds(r.handed_at, r.first_contact_at, w.time_zone,
                                    w.business_days, w.business_start, w.business_end)
FROM workspaces w
WHERE w.id = r.workspace_id
  AND (r.first_attempt_at IS NOT NULL OR r.first_contact_at IS NOT NULL);

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT s.workspace_id, array_agg(s.lead_id) AS ids
             FROM (SELECT workspace_id, lead_id,
                          row_number() OVER (PARTITION BY workspace_id ORDER BY lead_id) AS n
                   FROM lead_scores) s
             GROUP BY s.workspace_id, (s.n - 1) / 10000 LOOP
        PERFORM 1 FROM leads WHERE workspace_id = r.workspace_id AND id = ANY (r.ids)
            ORDER BY id FOR NO KEY UPDATE;
        PERFORM ll_report_move_bands(r.workspace_id, r.ids);
    END LOOP;
END
$$;
