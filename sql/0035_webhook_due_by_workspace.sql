-- Leadloop schema 0035: the webhook senders claim due deliveries one workspace at a time
-- (issue 16: on Citus a statement that locks rows must name one workspace_id, the
-- distribution column). They find the workspaces of the oldest due deliveries through
-- webhook_deliveries_due, then claim each one's due deliveries, oldest first, through this
-- index: without it each claim would walk every workspace's due deliveries to find its own.
CREATE INDEX webhook_deliveries_due_by_workspace ON webhook_deliveries
    (workspace_id, next_attempt_at) WHERE status = 'pending';
