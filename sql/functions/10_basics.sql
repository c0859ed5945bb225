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
                 'source', 'score', 'owner_id', 'utm_source', 'utm_medium', 'utm_campaign',
                 'utm_term', 'utm_content', 'landing_page', 'referrer',
                 'consent', 'custom', 'external_ids'];

-- The source of a new lead whose client gave none, from the visit that brought it, in the
-- spirit of Google Analytics' default channel grouping. The one implementation: every
-- statement that creates leads (POST /v1/leads, the PUT upserts, the batch, the CSV
-- import) calls it, and openapi.yaml (Lead.source) and the README state the same rule.
-- Values are compared trimmed and in lower case; the first rule that applies wins:
--   1. utm_medium is cpc, ppc, retargeting, display, banner, or contains "cp" or starts
--      with "paid" (cpm, cpv, paid_social, paidsearch...)            -> paid
--   2. utm_medium is event, events, webinar, conference, tradeshow, trade-show, meetup
--                                                                    -> event
--   3. utm_medium is affiliate, affiliates, partner, partners        -> partner
--   4. utm_medium is referral                                        -> referral
--   5. utm_medium is outbound, sales, sdr, bdr, prospecting, cold-email, cold_email
--                                                                    -> outbound
--   6. utm_medium is organic, social, social-network, social-media, sm, email, e-mail,
--      newsletter, sms, none, (none), direct                         -> web
--   7. any other utm_medium, or a utm_source without a utm_medium     -> other
--   8. no UTM parameter, a referrer whose host is a search engine or social network
--      (google, bing, yahoo, duckduckgo, baidu, yandex, ecosia, linkedin/lnkd, facebook,
--      instagram, twitter/x/t.co, reddit, youtube), or the landing page's own host -> web
--   9. no UTM parameter, any other referrer (another site linked to us) -> referral
--  10. no UTM parameter and no referrer, a landing page (a direct visit) -> web
--  11. nothing to go by: NULL, and the statement's default applies (other; import for a
--      CSV import).
-- utm_campaign, utm_term and utm_content do not take part.
CREATE OR REPLACE FUNCTION ll_lead_source(utm_medium text, utm_source text, referrer text,
                                          landing_page text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (
        WITH v AS (SELECT lower(btrim(utm_medium)) AS m, lower(btrim(utm_source)) AS s,
                          lower(substring(referrer FROM
                              '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)')) AS rh,
                          lower(substring(landing_page FROM
                              '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)')) AS lh)
        SELECT CASE
            WHEN m ~ '^(.*cp.*|ppc|retargeting|display|banner|paid.*)$' THEN 'paid'
            WHEN m IN ('event', 'events', 'webinar', 'conference', 'tradeshow', 'trade-show',
                       'meetup') THEN 'event'
            WHEN m IN ('affiliate', 'affiliates', 'partner', 'partners') THEN 'partner'
            WHEN m = 'referral' THEN 'referral'
            WHEN m IN ('outbound', 'sales', 'sdr', 'bdr', 'prospecting', 'cold-email',
                       'cold_email') THEN 'outbound'
            WHEN m IN ('organic', 'social', 'social-network', 'social-media', 'sm', 'email',
                       'e-mail', 'newsletter', 'sms', 'none', '(none)', 'direct') THEN 'web'
            WHEN m <> '' OR s <> '' THEN 'other'
            WHEN rh ~ ('(^|\.)(google|bing|yahoo|duckduckgo|baidu|yandex|ecosia|linkedin|lnkd'
                       '|facebook|instagram|twitter|x|t|reddit|youtube)\.[a-z]{2,}(\.[a-z]{2})?$')
                 OR rh = lh THEN 'web'
            WHEN rh <> '' THEN 'referral'
            WHEN landing_page IS NOT NULL THEN 'web'
        END FROM v);

-- Whether a table is distributed by Citus (false on plain PostgreSQL, and for a table
-- that stays on the coordinator). The trigger definitions ask it: on Citus, statement
-- triggers become row triggers (sql/functions/95_citus.sql).
CREATE OR REPLACE FUNCTION ll_distributed(tbl regclass) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    d boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1)'
        INTO d USING tbl;
    RETURN d;
END
$$;
