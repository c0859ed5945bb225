-- The one current definition of the small helpers that tables, indexes and other
-- functions use.
--
-- A repeatable migration (sql/README.md): applied after the numbered migrations whenever
-- this file's text changes or a numbered migration was applied, in one transaction with
-- the other files of sql/functions/ that are due, in file-name order. To change a
-- function or trigger, edit it here; never copy it into a numbered migration.

-- ll_fold is in the unique index on leads' emails and in the search indexes: a change
-- of what it returns needs a numbered migration that rebuilds them (REINDEX).
-- Case-insensitive comparison for any script, independent of the database's locale:
-- lower() under ICU folds; the result in "C" collation lets a btree serve prefix LIKE.
CREATE OR REPLACE FUNCTION ll_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower($1 COLLATE "und-x-icu") COLLATE "C";

-- custom: an object of scalars, at most 50 keys and 16 KiB.
CREATE OR REPLACE FUNCTION ll_custom_ok(c jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN jsonb_typeof(c) = 'object'
       AND octet_length(c::text) <= 16384
       AND (SELECT count(*) <= 50 AND bool_and(jsonb_typeof(v) NOT IN ('object', 'array'))
              IS NOT FALSE
            FROM jsonb_each(c) AS e(k, v));

-- consent.captured_at in the API's one timestamp form (UTC, microseconds).
CREATE OR REPLACE FUNCTION ll_consent(c jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN c ? 'captured_at' THEN jsonb_set(c, '{captured_at}', to_jsonb(to_char(
               (c ->> 'captured_at')::timestamptz AT TIME ZONE 'UTC',
               'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))) ELSE c END;

-- A time in the API's one format (RFC 3339, UTC, microseconds): server/db.h DB_TS in SQL.
CREATE OR REPLACE FUNCTION ll_api_time(t timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- The fields of a lead that its field_edit timeline entries show: those a client writes.
-- The stage has entries of its own (stage_change), and the rest follow from other entries
-- (touches move the campaigns, feedback the recycle date, a merge merged_into).
CREATE OR REPLACE FUNCTION ll_lead_edit_fields() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['email', 'first_name', 'last_name', 'company', 'title', 'phone', 'country',
                 'source', 'score', 'owner_id', 'consent', 'custom', 'external_ids'];
