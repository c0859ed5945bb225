-- Leadloop schema 0008: an erasure (DELETE /v1/leads/{id}) withdraws the answers kept for
-- Idempotency-Key replays that show the erased lead's data.
--
-- The answers that show a lead are those whose Location is the lead's own path or below
-- it: its create (/v1/leads/{id}), transitions (.../history), feedback (.../feedback) and
-- touches (.../touches). The index finds them by the id in that path. Answers that name
-- leads by id only (a batch's, an import's, a refusal's) show no personal data and stay.
--
-- A withdrawn answer keeps its row, so that a retry with its key neither gets the lead's
-- data back nor runs its request again (which could create the erased lead anew): it
-- answers 410 until the key expires. request_hash NULL marks it, so the hash of a request
-- that held the lead's data goes as well.
ALTER TABLE idempotency_keys ALTER COLUMN request_hash DROP NOT NULL;
COMMENT ON COLUMN idempotency_keys.request_hash IS
    'SHA-256 of method, path, query and body; NULL when the answer was withdrawn because the lead it showed was erased';
CREATE INDEX idempotency_keys_by_lead ON idempotency_keys (workspace_id, split_part(location, '/', 4))
    WHERE location LIKE '/v1/leads/%';
