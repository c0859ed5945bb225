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

-- On Citus a new endpoint's cursor starts at the frontier of the node that holds its
-- workspace. The column defaults (sql/0013_webhooks.sql: the snapshot's xmin and the
-- snapshot itself) are evaluated where the INSERT is planned, the coordinator, in its own
-- transaction ids; the workspace's changes carry the ids of the node that wrote them
-- (measured: a cursor at 1068 on the coordinator, the workspace's changes at 745-748 on
-- its worker, so the endpoint would have skipped them as older than itself). A row
-- trigger runs on the shard, in the worker's transaction: it takes the worker's snapshot.
-- On plain PostgreSQL there is one node and the defaults are right: no trigger.
CREATE OR REPLACE FUNCTION ll_webhook_cursor_start() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.xid := pg_snapshot_xmin(pg_current_snapshot());
    NEW.seq := 0;
    NEW.since := pg_current_snapshot();
    RETURN NEW;
END
$$;

DO $do$
BEGIN
    IF ll_distributed('webhook_cursors') THEN
        SET LOCAL citus.enable_unsafe_triggers = on;
        CREATE OR REPLACE TRIGGER webhook_cursors_start BEFORE INSERT ON webhook_cursors
            FOR EACH ROW EXECUTE FUNCTION ll_webhook_cursor_start();
    END IF;
END
$do$;
