-- Webhook delivery (server/webhook_delivery.c, schema 0013).

-- Records the outcome of one attempt of a delivery. p_outcome: delivered, retry, failed or
-- gone (the receiver answered 410: the endpoint is turned off); p_status the receiver's
-- HTTP status (NULL: no answer), p_error why it failed, p_delay_ms the wait before the
-- next attempt, p_retry_for_s how long a delivery is retried. A delivery whose next
-- attempt would come after its retry period is failed. The endpoint remembers since when
-- it fails; one that failed for the whole retry period, or answered 410, is turned off.
--
-- plpgsql, with the time taken once into variables: on Citus a CASE or COALESCE of an
-- UPDATE on a distributed table may call no function that is not IMMUTABLE (now() is
-- STABLE), and each statement names its workspace, so that it goes to one node.
CREATE OR REPLACE FUNCTION ll_webhook_outcome(p_ws uuid, p_id uuid, p_outcome text,
                                              p_status smallint, p_error text,
                                              p_delay_ms double precision,
                                              p_retry_for_s integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t constant timestamptz := now();
    v_next constant timestamptz := t + make_interval(secs => p_delay_ms / 1000);
    -- created before this, a delivery's next attempt would come after its retry period
    v_expired constant timestamptz := v_next - make_interval(secs => p_retry_for_s);
    v_failing_before constant timestamptz := t - make_interval(secs => p_retry_for_s);
    v_endpoint uuid;
    v_status text;
    v_failing_since timestamptz;
    v_gone constant boolean := p_outcome = 'gone';
    v_exhausted boolean;
BEGIN
    UPDATE webhook_deliveries
    SET status = CASE WHEN p_outcome = 'delivered' THEN 'delivered'
                      WHEN p_outcome IN ('gone', 'failed') OR created_at < v_expired
                      THEN 'failed' ELSE 'pending' END,
        next_attempt_at = v_next, last_status = p_status, last_error = p_error,
        delivered_at = CASE WHEN p_outcome = 'delivered' THEN t END
    WHERE workspace_id = p_ws AND id = p_id
    RETURNING endpoint_id, status INTO v_endpoint, v_status;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT failing_since INTO v_failing_since FROM webhook_endpoints
    WHERE workspace_id = p_ws AND id = v_endpoint;
    v_exhausted := coalesce(v_status = 'failed' AND v_failing_since < v_failing_before, false);
    -- only when something changes: a delivery after failures, a first failure, an end
    IF (v_status = 'delivered') = (v_failing_since IS NOT NULL) OR v_gone OR v_exhausted THEN
        UPDATE webhook_endpoints w
        SET failing_since = CASE WHEN v_status = 'delivered' THEN NULL
                                 ELSE coalesce(w.failing_since, t) END,
            active = w.active AND NOT (v_gone OR v_exhausted),
            disabled_reason = CASE WHEN v_gone THEN 'the receiver answered 410 Gone'
                                   WHEN v_exhausted
                                   THEN 'every delivery failed for the whole retry period'
                                   ELSE w.disabled_reason END
        WHERE w.workspace_id = p_ws AND w.id = v_endpoint;
    END IF;
END
$$;
