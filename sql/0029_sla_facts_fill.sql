-- Leadloop 0029 (after functions): the facts 0028 added, filled in with the current
-- functions (a fresh database has them only after the functions; refreshes that run
-- meanwhile compute them already): report_leads.attempt_s and contact_s of the leads with
-- a first attempt or contact; the figures of report dimensions 5 and 6 (the bands of the
-- scores) of the leads a version scored (ll_report_band_deltas: each lead's figures in the
-- bands of its scores), 10,000 leads at a time.
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
    FOR r IN SELECT s.workspace_id, array_agg(s.lead_id) AS ids, array_agg(s.fit) AS fit,
                    array_agg(s.engagement) AS engagement
             FROM (SELECT workspace_id, lead_id, fit, engagement,
                          row_number() OVER (PARTITION BY workspace_id ORDER BY lead_id) AS n
                   FROM lead_scores) s
             GROUP BY s.workspace_id, (s.n - 1) / 10000 LOOP
        PERFORM 1 FROM leads WHERE workspace_id = r.workspace_id AND id = ANY (r.ids)
            ORDER BY id FOR NO KEY UPDATE;
        PERFORM ll_report_band_deltas(r.workspace_id, r.ids || r.ids,
                                      array_fill(5::smallint, ARRAY[cardinality(r.ids)])
                                          || array_fill(6::smallint, ARRAY[cardinality(r.ids)]),
                                      ARRAY(SELECT ll_score_band(x) FROM unnest(r.fit) x)
                                          || ARRAY(SELECT ll_score_band(x) FROM unnest(r.engagement) x),
                                      array_fill(1, ARRAY[2 * cardinality(r.ids)]));
    END LOOP;
END
$$;
