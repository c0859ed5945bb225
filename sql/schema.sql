--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: btree_gin; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA public;

--
-- Name: EXTENSION btree_gin; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION btree_gin IS 'support for indexing common datatypes in GIN';

--
-- Name: pg_trgm; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

--
-- Name: EXTENSION pg_trgm; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching based on trigrams';

--
-- Name: ll_api_key_changed(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_api_key_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('leadloop_api_keys', encode(OLD.key_hash, 'hex'));
    RETURN NULL;
END
$$;

--
-- Name: ll_api_texts_ret(text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_api_texts_ret(a text[]) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (to_json(a))::text;

--
-- Name: ll_api_time(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_api_time(t timestamp with time zone) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char((t AT TIME ZONE 'UTC'::text), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'::text);

--
-- Name: ll_api_time_ret(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_api_time_ret(t timestamp with time zone) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN to_char((t AT TIME ZONE 'UTC'::text), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'::text);

--
-- Name: ll_audit_attach(regclass, text, text, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_audit_attach(tbl regclass, entity text, ws_col text, id_col text, lead_col text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    skip text[];
    args text;
BEGIN
    SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO skip
    FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
      AND (a.attname IN (ws_col, id_col, 'version', 'created_at', 'updated_at', 'last_used_at')
           OR a.attname ~* '(hash|secret|password|passwd|token|salt)');
    -- replaced in place: DROP TRIGGER would lock out the table's readers as well, on every
    -- migration that runs sql/functions/90_attach.sql
    args := format('%L, %L, %L, %L%s', entity, ws_col, id_col, coalesce(lead_col, ''),
                   (SELECT string_agg(format(', %L', s), '') FROM unnest(skip) AS s));
    EXECUTE format('CREATE OR REPLACE TRIGGER audit AFTER UPDATE OR DELETE ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION ll_audit_row(%s)', tbl, args);
    EXECUTE format('CREATE OR REPLACE TRIGGER audit_insert AFTER INSERT ON %s'
                   ' REFERENCING NEW TABLE AS written FOR EACH STATEMENT'
                   ' EXECUTE FUNCTION ll_audit_rows(%s)', tbl, args);
END
$$;

--
-- Name: ll_audit_redact_lead(uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_audit_redact_lead(ws uuid, lead uuid) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    r record;
    n bigint := 0;
BEGIN
    FOR r IN
        WITH personal (entity, fields) AS (VALUES
            ('lead', ARRAY['email', 'first_name', 'last_name', 'company', 'title', 'phone',
                           'consent', 'custom', 'external_ids', 'landing_page', 'referrer']),
            ('feedback', ARRAY['note']),
            ('interaction', ARRAY['subject', 'body', 'actor_name']),
            ('stage_change', ARRAY['reason'])),
        hit AS (
            SELECT a.id, a.old, a.new, a.redacted,
                   ARRAY(SELECT f FROM unnest(p.fields) AS f
                         WHERE a.old ? f OR a.new ? f) AS gone
            FROM audit_log a JOIN personal p ON p.entity = a.entity
            WHERE a.workspace_id = ws AND coalesce(a.lead_id::text, a.entity_id) = lead::text
              AND a.lead_id = lead
              AND (a.old ?| p.fields OR a.new ?| p.fields))
        SELECT hit.id,
               hit.old || (SELECT coalesce(jsonb_object_agg(f, 'null'::jsonb), '{}')
                           FROM unnest(hit.gone) AS f WHERE hit.old ? f) AS old,
               hit.new || (SELECT coalesce(jsonb_object_agg(f, 'null'::jsonb), '{}')
                           FROM unnest(hit.gone) AS f WHERE hit.new ? f) AS new,
               ARRAY(SELECT DISTINCT f FROM unnest(coalesce(hit.redacted, '{}') || hit.gone)
                     AS f ORDER BY f) AS redacted
        FROM hit
    LOOP
        UPDATE audit_log SET old = r.old, new = r.new, redacted = r.redacted
        WHERE workspace_id = ws AND id = r.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

--
-- Name: ll_audit_row(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_audit_row() RETURNS trigger
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    skip constant text[] := TG_ARGV[4:];
    ctx constant jsonb := nullif(current_setting('leadloop.audit', true), '')::jsonb;
    r jsonb;
    was jsonb;
    o jsonb;
    n jsonb;
    op text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        r := to_jsonb(NEW);
        n := jsonb_strip_nulls(r - skip);
        op := 'create';
    ELSIF TG_OP = 'DELETE' THEN
        r := to_jsonb(OLD);
        o := jsonb_strip_nulls(r - skip);
        op := 'delete';
    ELSE
        r := to_jsonb(NEW);
        was := to_jsonb(OLD);
        SELECT jsonb_object_agg(e.key, was -> e.key), jsonb_object_agg(e.key, e.value)
            INTO o, n
            FROM jsonb_each(r - skip) AS e
            WHERE was -> e.key IS DISTINCT FROM e.value;
        IF n IS NULL THEN
            RETURN NULL;
        END IF;
        -- the operations the API names (as in the change feed)
        op := CASE WHEN n ->> 'erased_at' IS NOT NULL THEN 'erase'
                   WHEN n ->> 'revoked_at' IS NOT NULL THEN 'revoke'
                   WHEN n ->> 'status' = 'archived' THEN 'archive'
                   WHEN n ? 'stage' THEN 'transition'
                   ELSE 'update' END;
    END IF;
    INSERT INTO audit_log (workspace_id, actor, api_key_id, api_key_prefix, user_id, request_id,
                           client_addr, method, route, entity, entity_id, lead_id, operation,
                           old, new)
    VALUES ((r ->> TG_ARGV[1])::uuid, coalesce(ctx ->> 'actor', 'sql'),
            (ctx ->> 'api_key_id')::uuid, ctx ->> 'api_key_prefix', (ctx ->> 'user_id')::uuid,
            ctx ->> 'request_id', (ctx ->> 'client_addr')::inet, ctx ->> 'method',
            ctx ->> 'route', TG_ARGV[0], r ->> TG_ARGV[2], (r ->> nullif(TG_ARGV[3], ''))::uuid,
            op, o, n);
    RETURN NULL;
END
$$;

--
-- Name: ll_audit_rows(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_audit_rows() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    skip constant text[] := TG_ARGV[4:];
    ctx constant jsonb := nullif(current_setting('leadloop.audit', true), '')::jsonb;
BEGIN
    INSERT INTO audit_log (workspace_id, actor, api_key_id, api_key_prefix, user_id, request_id,
                           client_addr, method, route, entity, entity_id, lead_id, operation,
                           new)
    SELECT (x.r ->> TG_ARGV[1])::uuid, coalesce(ctx ->> 'actor', 'sql'),
           (ctx ->> 'api_key_id')::uuid, ctx ->> 'api_key_prefix', (ctx ->> 'user_id')::uuid,
           ctx ->> 'request_id', (ctx ->> 'client_addr')::inet, ctx ->> 'method',
           ctx ->> 'route', TG_ARGV[0], x.r ->> TG_ARGV[2],
           (x.r ->> nullif(TG_ARGV[3], ''))::uuid, 'create', jsonb_strip_nulls(x.r - skip)
    FROM (SELECT to_jsonb(w) AS r FROM written w) x;
    RETURN NULL;
END
$$;

--
-- Name: ll_business_cutoff(timestamp with time zone, bigint, text, smallint[], time without time zone, time without time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_business_cutoff(t timestamp with time zone, secs bigint, tz text, days smallint[], t0 time without time zone, t1 time without time zone) RETURNS timestamp with time zone
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
DECLARE
    d timestamp := (t AT TIME ZONE tz)::date::timestamp;
    left_s numeric := secs;
    open_at timestamptz;
    close_at timestamptz;
    have numeric;
BEGIN
    IF days IS NULL THEN
        RETURN t - secs * interval '1 second';
    END IF;
    FOR i IN 0 .. 3660 LOOP
        IF extract(isodow FROM d)::smallint = ANY (days) THEN
            open_at := (d + t0) AT TIME ZONE tz;
            close_at := least(t, (d + t1) AT TIME ZONE tz);
            have := greatest(0, extract(epoch FROM close_at - open_at));
            IF have >= left_s AND have > 0 THEN
                RETURN close_at - left_s * interval '1 second';
            END IF;
            left_s := left_s - have;
        END IF;
        d := d - interval '1 day';
    END LOOP;
    RETURN '-infinity';
END
$$;

--
-- Name: ll_business_seconds(timestamp with time zone, timestamp with time zone, text, smallint[], time without time zone, time without time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_business_seconds(a timestamp with time zone, b timestamp with time zone, tz text, days smallint[], t0 time without time zone, t1 time without time zone) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE
        WHEN a IS NULL OR b IS NULL THEN NULL
        WHEN days IS NULL THEN greatest(0, floor(extract(epoch FROM b - a)))::bigint
        ELSE (SELECT coalesce(floor(sum(greatest(0, extract(epoch FROM
                          least(b, (g.d + t1) AT TIME ZONE tz)
                          - greatest(a, (g.d + t0) AT TIME ZONE tz))))), 0)::bigint
              FROM generate_series((a AT TIME ZONE tz)::date::timestamp,
                                   (b AT TIME ZONE tz)::date::timestamp,
                                   interval '1 day') AS g (d)
              WHERE extract(isodow FROM g.d)::smallint = ANY (days))
    END
$$;

--
-- Name: ll_change_attach(regclass, text, text, text, text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_change_attach(tbl regclass, entity text, id_col text, lead_col text, bookkeeping text[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    secret text[];
    args text;
BEGIN
    SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}') INTO secret
    FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname ~* '(hash|secret|password|passwd|token|salt)';
    -- replaced in place, as ll_audit_attach does
    args := format('%L, %L, %L, %L%s%s', entity, id_col, coalesce(lead_col, ''),
                   cardinality(secret),
                   (SELECT coalesce(string_agg(format(', %L', s), ''), '') FROM unnest(secret) AS s),
                   (SELECT coalesce(string_agg(format(', %L', s), ''), '')
                    FROM unnest(bookkeeping || ARRAY['version', 'updated_at']) AS s));
    EXECUTE format('CREATE OR REPLACE TRIGGER change_feed AFTER UPDATE OR DELETE ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION ll_change_row(%s)', tbl, args);
    EXECUTE format('CREATE OR REPLACE TRIGGER change_feed_insert AFTER INSERT ON %s'
                   ' REFERENCING NEW TABLE AS written FOR EACH STATEMENT'
                   ' EXECUTE FUNCTION ll_change_rows(%s)', tbl, args);
END
$$;

--
-- Name: ll_change_row(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_change_row() RETURNS trigger
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    nsecret constant integer := TG_ARGV[3]::integer;
    secret constant text[] := TG_ARGV[4:3 + nsecret];
    ignore constant text[] := TG_ARGV[4 + nsecret:];
    ctx jsonb;
    doc jsonb;
    was jsonb;
    t text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        doc := to_jsonb(OLD) - secret;
        t := 'deleted';
    ELSIF TG_OP = 'INSERT' THEN
        doc := to_jsonb(NEW) - secret;
        t := 'created';
    ELSE
        IF NEW IS NOT DISTINCT FROM OLD THEN
            RETURN NULL;
        END IF;
        doc := to_jsonb(NEW) - secret;
        was := to_jsonb(OLD) - secret;
        IF doc - ignore = was - ignore THEN
            RETURN NULL;
        END IF;
        t := CASE WHEN doc ->> 'erased_at' IS NOT NULL AND was ->> 'erased_at' IS NULL THEN 'erased'
                  WHEN doc ->> 'merged_into' IS NOT NULL AND was ->> 'merged_into' IS NULL THEN 'merged'
                  WHEN doc ->> 'revoked_at' IS NOT NULL AND was ->> 'revoked_at' IS NULL THEN 'revoked'
                  WHEN doc ->> 'status' = 'archived' AND was ->> 'status' <> 'archived' THEN 'archived'
                  WHEN doc -> 'stage' IS DISTINCT FROM was -> 'stage' THEN 'stage_changed'
                  ELSE 'updated' END;
    END IF;
    ctx := nullif(current_setting('leadloop.audit', true), '')::jsonb;
    INSERT INTO changes (workspace_id, type, entity, entity_id, lead_id, actor, actor_key_id,
                         actor_user_id, doc)
    VALUES ((doc ->> 'workspace_id')::uuid, TG_ARGV[0] || '.' || t, TG_ARGV[0], doc ->> TG_ARGV[1],
            (doc ->> nullif(TG_ARGV[2], ''))::uuid, coalesce(ctx ->> 'actor', 'sql'),
            (ctx ->> 'api_key_id')::uuid,
            (ctx ->> 'user_id')::uuid, doc);
    -- No NOTIFY here: a transaction that notifies holds a database-wide lock from its
    -- commit's start to its end, WAL flush included, so every writer would commit one
    -- after the other. The daemon notifies after the write instead (ll_changes_notify).
    RETURN NULL;
END
$$;

--
-- Name: ll_change_rows(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_change_rows() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    secret constant text[] := TG_ARGV[4:3 + TG_ARGV[3]::integer];
    ctx constant jsonb := nullif(current_setting('leadloop.audit', true), '')::jsonb;
BEGIN
    INSERT INTO changes (workspace_id, type, entity, entity_id, lead_id, actor, actor_key_id,
                         actor_user_id, doc)
    SELECT (x.doc ->> 'workspace_id')::uuid, TG_ARGV[0] || '.created', TG_ARGV[0],
           x.doc ->> TG_ARGV[1], (x.doc ->> nullif(TG_ARGV[2], ''))::uuid,
           coalesce(ctx ->> 'actor', 'sql'), (ctx ->> 'api_key_id')::uuid,
           (ctx ->> 'user_id')::uuid, x.doc
    FROM (SELECT to_jsonb(w) - secret AS doc FROM written w) x;
    RETURN NULL;
END
$$;

--
-- Name: ll_changes_notify(text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_changes_notify(workspaces text[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    ws text;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    FOREACH ws IN ARRAY workspaces LOOP
        PERFORM pg_notify('leadloop_changes', ws);
    END LOOP;
END
$$;

--
-- Name: ll_changes_redact_lead(uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_changes_redact_lead(ws uuid, lead uuid) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    lead_gone constant jsonb := jsonb_build_object('email', NULL, 'first_name', NULL,
        'last_name', NULL, 'company', NULL, 'title', NULL, 'phone', NULL,
        'consent', NULL, 'custom', '{}'::jsonb, 'external_ids', '{}'::jsonb,
        'landing_page', NULL, 'referrer', NULL);
    feedback_gone constant jsonb := jsonb_build_object('note', NULL);
    interaction_gone constant jsonb := jsonb_build_object('subject', NULL, 'body', NULL,
                                                          'actor_name', NULL);
    n bigint;
BEGIN
    -- a searched CASE: Citus 13.2 deparses "CASE entity WHEN ..." wrongly for the shard
    -- ("operator does not exist: text = boolean")
    UPDATE changes SET doc = CASE
        WHEN entity = 'lead' THEN doc || lead_gone
        WHEN entity = 'feedback' THEN doc || feedback_gone
        WHEN entity = 'interaction' THEN doc || interaction_gone
        ELSE doc END
    WHERE workspace_id = ws AND lead_id = lead AND doc IS NOT NULL
      AND entity IN ('lead', 'feedback', 'interaction');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

--
-- Name: ll_consent(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_consent(c jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN (c ? 'captured_at'::text) THEN jsonb_set(c, '{captured_at}'::text[], to_jsonb(to_char((((c ->> 'captured_at'::text))::timestamp with time zone AT TIME ZONE 'UTC'::text), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'::text))) ELSE c END;

--
-- Name: ll_custom_ok(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_custom_ok(c jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN ((jsonb_typeof(c) = 'object'::text) AND (octet_length((c)::text) <= 16384) AND (SELECT ((count(*) <= 50) AND (bool_and((jsonb_typeof(e.v) <> ALL (ARRAY['object'::text, 'array'::text]))) IS NOT FALSE)) FROM jsonb_each(ll_custom_ok.c) e(k, v)));

--
-- Name: ll_fold(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (lower(($1 COLLATE "und-x-icu")) COLLATE "C");

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: invitations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.invitations (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    email text NOT NULL,
    role text NOT NULL,
    token_hash bytea NOT NULL,
    created_by_user_id uuid,
    created_by_key_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    accepted_at timestamp with time zone,
    revoked_at timestamp with time zone,
    CONSTRAINT invitations_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'marketing'::text, 'sales'::text, 'readonly'::text])))
);

--
-- Name: ll_invite(uuid, text, text, text, text, bytea, uuid, uuid, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_invite(ws uuid, p_email text, p_name text, p_role text, p_team text, p_token_hash bytea, by_user uuid, by_key uuid, ttl_hours integer) RETURNS SETOF public.invitations
    LANGUAGE plpgsql
    AS $$
DECLARE
    uid uuid;
    member boolean;
BEGIN
    SELECT id, password_hash IS NOT NULL AND active INTO uid, member FROM users
    WHERE workspace_id = ws
      AND lower(email COLLATE "und-x-icu") = lower(p_email COLLATE "und-x-icu")
    FOR UPDATE;
    IF member THEN
        RETURN;
    END IF;
    IF uid IS NULL THEN
        -- a team for people outside marketing and sales: the side they report for
        INSERT INTO users (workspace_id, name, email, team, role)
        VALUES (ws, p_name, p_email,
                coalesce(p_team, CASE WHEN p_role = 'sales' THEN 'sales' ELSE 'marketing' END),
                p_role)
        RETURNING id INTO uid;
    ELSE
        UPDATE users SET name = p_name, team = coalesce(p_team, team), role = p_role,
                         active = true, version = version + 1, updated_at = now()
        WHERE workspace_id = ws AND id = uid;
    END IF;
    UPDATE invitations SET revoked_at = now()
    WHERE workspace_id = ws AND user_id = uid AND accepted_at IS NULL AND revoked_at IS NULL;
    RETURN QUERY
        INSERT INTO invitations (workspace_id, user_id, email, role, token_hash,
                                 created_by_user_id, created_by_key_id, expires_at)
        VALUES (ws, uid, p_email, p_role, p_token_hash, by_user, by_key,
                now() + ttl_hours * interval '1 hour')
        RETURNING *;
END
$$;

--
-- Name: ll_json_texts(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_json_texts(j jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY(SELECT jsonb_array_elements_text(j) AS jsonb_array_elements_text);

--
-- Name: ll_keep_version(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_keep_version() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v integer := NEW.version;
    u timestamptz := NEW.updated_at;
BEGIN
    NEW.version := OLD.version;
    NEW.updated_at := OLD.updated_at;
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.version := v;
        NEW.updated_at := u;
    END IF;
    RETURN NEW;
END
$$;

--
-- Name: ll_lead_edit_fields(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_lead_edit_fields() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['email'::text, 'first_name'::text, 'last_name'::text, 'company'::text, 'title'::text, 'phone'::text, 'country'::text, 'source'::text, 'score'::text, 'owner_id'::text, 'utm_source'::text, 'utm_medium'::text, 'utm_campaign'::text, 'utm_term'::text, 'utm_content'::text, 'landing_page'::text, 'referrer'::text, 'consent'::text, 'custom'::text, 'external_ids'::text];

--
-- Name: lead_stage_changes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_stage_changes (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    lead_id uuid NOT NULL,
    from_stage text,
    to_stage text NOT NULL,
    reason text,
    by_key_id uuid,
    by_user_id uuid,
    changed_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    CONSTRAINT lead_stage_changes_reason_check CHECK ((char_length(reason) <= 500))
);

--
-- Name: leads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.leads (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text,
    first_name text,
    last_name text,
    company text,
    title text,
    phone text,
    country text,
    source text DEFAULT 'other'::text NOT NULL,
    stage text DEFAULT 'new'::text NOT NULL,
    score smallint,
    owner_id uuid,
    consent jsonb,
    custom jsonb DEFAULT '{}'::jsonb NOT NULL,
    external_ids jsonb DEFAULT '{}'::jsonb NOT NULL,
    first_campaign_id uuid,
    latest_campaign_id uuid,
    first_touch_at timestamp with time zone,
    latest_touch_at timestamp with time zone,
    erased_at timestamp with time zone,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    stage_changed_at timestamp with time zone DEFAULT now() NOT NULL,
    recycle_on date,
    merged_into uuid,
    utm_source text,
    utm_medium text,
    utm_campaign text,
    utm_term text,
    utm_content text,
    landing_page text,
    referrer text,
    CONSTRAINT leads_company_check CHECK ((char_length(company) <= 200)),
    CONSTRAINT leads_consent CHECK (((consent IS NULL) OR COALESCE((jsonb_typeof((consent -> 'email_opt_in'::text)) = 'boolean'::text), false))),
    CONSTRAINT leads_country_check CHECK ((country ~ '^[A-Z]{2}$'::text)),
    CONSTRAINT leads_custom CHECK (public.ll_custom_ok(custom)),
    CONSTRAINT leads_email_check CHECK (((char_length(email) >= 3) AND (char_length(email) <= 254))),
    CONSTRAINT leads_email_kept CHECK (((email IS NOT NULL) OR (erased_at IS NOT NULL) OR (merged_into IS NOT NULL))),
    CONSTRAINT leads_external_ids_check CHECK ((jsonb_typeof(external_ids) = 'object'::text)),
    CONSTRAINT leads_first_name_check CHECK ((char_length(first_name) <= 200)),
    CONSTRAINT leads_landing_page CHECK (((char_length(landing_page) >= 1) AND (char_length(landing_page) <= 2048))),
    CONSTRAINT leads_last_name_check CHECK ((char_length(last_name) <= 200)),
    CONSTRAINT leads_merged_into_other CHECK ((merged_into <> id)),
    CONSTRAINT leads_phone_check CHECK ((char_length(phone) <= 50)),
    CONSTRAINT leads_referrer CHECK (((char_length(referrer) >= 1) AND (char_length(referrer) <= 2048))),
    CONSTRAINT leads_score_check CHECK (((score >= 0) AND (score <= 100))),
    CONSTRAINT leads_source_check CHECK ((source = ANY (ARRAY['web'::text, 'event'::text, 'referral'::text, 'paid'::text, 'outbound'::text, 'partner'::text, 'import'::text, 'other'::text]))),
    CONSTRAINT leads_stage_check CHECK ((stage = ANY (ARRAY['new'::text, 'mql'::text, 'sales_accepted'::text, 'sales_qualified'::text, 'opportunity'::text, 'customer'::text, 'recycled'::text, 'disqualified'::text]))),
    CONSTRAINT leads_title_check CHECK ((char_length(title) <= 200)),
    CONSTRAINT leads_utm_campaign CHECK (((char_length(utm_campaign) >= 1) AND (char_length(utm_campaign) <= 255))),
    CONSTRAINT leads_utm_content CHECK (((char_length(utm_content) >= 1) AND (char_length(utm_content) <= 255))),
    CONSTRAINT leads_utm_medium CHECK (((char_length(utm_medium) >= 1) AND (char_length(utm_medium) <= 255))),
    CONSTRAINT leads_utm_source CHECK (((char_length(utm_source) >= 1) AND (char_length(utm_source) <= 255))),
    CONSTRAINT leads_utm_term CHECK (((char_length(utm_term) >= 1) AND (char_length(utm_term) <= 255)))
);

--
-- Name: ll_lead_move(uuid, uuid, text, text, uuid, uuid, date, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_lead_move(p_ws uuid, p_lead uuid, p_to text, p_reason text, p_key uuid, p_user uuid, p_recycle_on date, p_at timestamp with time zone DEFAULT NULL::timestamp with time zone, OUT moved public.leads, OUT change public.lead_stage_changes) RETURNS record
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_lead leads;
    v_from text;
    v_owner uuid;
    v_route record;
    -- when the move happened, computed before the UPDATE: Citus refuses a function that is
    -- not IMMUTABLE inside COALESCE or CASE in an UPDATE of a distributed table
    v_at timestamptz := coalesce(p_at, now());
BEGIN
    SELECT * INTO v_lead FROM leads WHERE workspace_id = p_ws AND id = p_lead;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_from := v_lead.stage;
    IF p_to = 'mql' AND p_at IS NULL AND v_from <> 'mql' THEN
        v_lead.stage := p_to;
        v_route := ll_routing_assign(p_ws, v_lead, 'mql', p_key, p_user);
        IF v_route.outcome = 'assigned' THEN
            v_owner := (v_route.assignment).owner_id;
        END IF;
    END IF;
    -- one statement: the report triggers of both writes fire after both, so the lead's
    -- facts are refreshed once (the second trigger finds them written after its row),
    -- where a routed move refreshed them for the new owner and again for the stage row
    WITH u AS (
        UPDATE leads SET stage = p_to, stage_changed_at = v_at,
                         recycle_on = p_recycle_on, owner_id = coalesce(v_owner, owner_id),
                         version = version + 1, updated_at = now()
        WHERE workspace_id = p_ws AND id = p_lead
        RETURNING *),
    c AS (
        INSERT INTO lead_stage_changes (workspace_id, lead_id, from_stage, to_stage, reason,
                                        by_key_id, by_user_id, changed_at)
        SELECT p_ws, p_lead, v_from, p_to, p_reason, p_key, p_user, u.stage_changed_at FROM u
        RETURNING *)
    SELECT * INTO change FROM c;
    SELECT * INTO moved FROM leads WHERE workspace_id = p_ws AND id = p_lead;
END
$$;

--
-- Name: lead_assignments; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_assignments (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    lead_id uuid NOT NULL,
    rule_id uuid,
    pool_id uuid,
    previous_owner_id uuid,
    owner_id uuid,
    reason text NOT NULL,
    outcome text NOT NULL,
    skipped jsonb DEFAULT '[]'::jsonb NOT NULL,
    by_key_id uuid,
    by_user_id uuid,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT lead_assignments_outcome_check CHECK ((outcome = ANY (ARRAY['assigned'::text, 'nobody_eligible'::text]))),
    CONSTRAINT lead_assignments_reason_check CHECK ((reason = ANY (ARRAY['mql'::text, 'on_demand'::text, 'reassigned_sla'::text])))
);

--
-- Name: ll_lead_route(uuid, uuid, uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_lead_route(p_ws uuid, p_lead uuid, p_key uuid, p_user uuid, OUT outcome text, OUT assignment public.lead_assignments, OUT owner_id uuid) RETURNS record
    LANGUAGE plpgsql
    AS $$
DECLARE
    l leads;
    a record;
BEGIN
    SELECT * INTO l FROM leads WHERE workspace_id = p_ws AND id = p_lead FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF l.erased_at IS NOT NULL OR l.merged_into IS NOT NULL THEN
        outcome := 'gone';
        RETURN;
    END IF;
    a := ll_routing_assign(p_ws, l, 'on_demand', p_key, p_user);
    outcome := a.outcome;
    assignment := a.assignment;
    owner_id := l.owner_id;
    IF a.outcome = 'assigned' AND (a.assignment).owner_id IS DISTINCT FROM l.owner_id THEN
        UPDATE leads SET owner_id = (a.assignment).owner_id, version = version + 1,
                         updated_at = now()
        WHERE workspace_id = p_ws AND id = p_lead;
        owner_id := (a.assignment).owner_id;
    END IF;
END
$$;

--
-- Name: ll_lead_source(text, text, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_lead_source(utm_medium text, utm_source text, referrer text, landing_page text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (WITH v AS (SELECT lower(btrim(ll_lead_source.utm_medium)) AS m, lower(btrim(ll_lead_source.utm_source)) AS s, lower("substring"(ll_lead_source.referrer, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)'::text)) AS rh, lower("substring"(ll_lead_source.landing_page, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)'::text)) AS lh) SELECT CASE WHEN (v.m ~ '^(.*cp.*|ppc|retargeting|display|banner|paid.*)$'::text) THEN 'paid'::text WHEN (v.m = ANY (ARRAY['event'::text, 'events'::text, 'webinar'::text, 'conference'::text, 'tradeshow'::text, 'trade-show'::text, 'meetup'::text])) THEN 'event'::text WHEN (v.m = ANY (ARRAY['affiliate'::text, 'affiliates'::text, 'partner'::text, 'partners'::text])) THEN 'partner'::text WHEN (v.m = 'referral'::text) THEN 'referral'::text WHEN (v.m = ANY (ARRAY['outbound'::text, 'sales'::text, 'sdr'::text, 'bdr'::text, 'prospecting'::text, 'cold-email'::text, 'cold_email'::text])) THEN 'outbound'::text WHEN (v.m = ANY (ARRAY['organic'::text, 'social'::text, 'social-network'::text, 'social-media'::text, 'sm'::text, 'email'::text, 'e-mail'::text, 'newsletter'::text, 'sms'::text, 'none'::text, '(none)'::text, 'direct'::text])) THEN 'web'::text WHEN ((v.m <> ''::text) OR (v.s <> ''::text)) THEN 'other'::text WHEN ((v.rh ~ '(^|\.)(google|bing|yahoo|duckduckgo|baidu|yandex|ecosia|linkedin|lnkd|facebook|instagram|twitter|x|t|reddit|youtube)\.[a-z]{2,}(\.[a-z]{2})?$'::text) OR (v.rh = v.lh)) THEN 'web'::text WHEN (v.rh <> ''::text) THEN 'referral'::text WHEN (ll_lead_source.landing_page IS NOT NULL) THEN 'web'::text ELSE NULL::text END AS "case" FROM v);

--
-- Name: ll_lead_timeline(uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_lead_timeline(ws uuid, lead uuid) RETURNS TABLE(type text, at timestamp with time zone, id uuid, item text)
    LANGUAGE plpgsql STABLE
    AS $$
#variable_conflict use_column
BEGIN RETURN QUERY
    SELECT 'touch', t.occurred_at, t.id,
           json_build_object('id', t.id, 'campaign_id', t.campaign_id, 'lead_id', t.lead_id,
                             'kind', t.kind, 'occurred_at', ll_api_time(t.occurred_at),
                             'created_at', ll_api_time(t.created_at))::text
    FROM campaign_touches t WHERE t.workspace_id = ws AND t.lead_id = lead
    UNION ALL
    SELECT 'stage_change', s.changed_at, s.id,
           json_build_object('id', s.id, 'lead_id', s.lead_id, 'from', s.from_stage,
                             'to', s.to_stage, 'reason', s.reason,
                             'changed_by', json_build_object('api_key_id', s.by_key_id,
                                                             'user_id', s.by_user_id),
                             'changed_at', ll_api_time(s.changed_at))::text
    FROM lead_stage_changes s WHERE s.workspace_id = ws AND s.lead_id = lead
    UNION ALL
    SELECT 'feedback', f.occurred_at, f.id,
           json_build_object('id', f.id, 'lead_id', f.lead_id, 'kind', f.kind,
                             'reason', f.reason, 'rating', f.rating, 'amount', f.amount,
                             'currency', f.currency, 'note', f.note,
                             'author', json_build_object('user_id', f.author_user_id,
                                                         'api_key_id', f.author_key_id),
                             'occurred_at', ll_api_time(f.occurred_at),
                             'created_at', ll_api_time(f.created_at),
                             'stage_before', f.stage_before, 'stage_after', f.stage_after,
                             'corrects', f.corrects)::text
    FROM feedback f WHERE f.workspace_id = ws AND f.lead_id = lead
    UNION ALL
    SELECT 'field_edit', a.created_at, a.id,
           json_build_object('id', a.id, 'lead_id', a.lead_id,
                             'changes', (SELECT json_agg(json_build_object(
                                                 'field', k, 'old', a.old -> k, 'new', a.new -> k)
                                             ORDER BY k)
                                         FROM jsonb_object_keys(a.new) AS k
                                         WHERE k = ANY (ll_lead_edit_fields())),
                             'redacted', (SELECT json_agg(k ORDER BY k)
                                          FROM unnest(a.redacted) AS k
                                          WHERE k = ANY (ll_lead_edit_fields())),
                             'changed_by', json_build_object('actor', a.actor,
                                                             'api_key_id', a.api_key_id,
                                                             'user_id', a.user_id),
                             'changed_at', ll_api_time(a.created_at))::text
    FROM audit_log a
    WHERE a.workspace_id = ws AND coalesce(a.lead_id::text, a.entity_id) = lead::text
      AND a.entity = 'lead' AND a.operation = 'update' AND a.new ?| ll_lead_edit_fields()
    UNION ALL
    SELECT 'merge', m.merged_at, m.merged_id,
           json_build_object('merged_id', m.merged_id, 'lead_id', m.lead_id,
                             'email', m.email,
                             'moved', json_build_object('touches', m.touches,
                                                        'feedback', m.feedback,
                                                        'stage_changes', m.stage_changes,
                                                        'external_ids', m.external_ids,
                                                        'interactions', m.interactions),
                             'merged_by', json_build_object('api_key_id', m.by_key_id,
                                                            'user_id', m.by_user_id),
                             'merged_at', ll_api_time(m.merged_at))::text
    FROM lead_merges m WHERE m.workspace_id = ws AND m.lead_id = lead
    UNION ALL
    SELECT 'interaction', i.occurred_at, i.id,
           json_build_object('id', i.id, 'lead_id', i.lead_id, 'kind', i.kind,
                             'direction', i.direction, 'outcome', i.outcome,
                             'occurred_at', ll_api_time(i.occurred_at),
                             'user_id', i.user_id, 'actor_name', i.actor_name,
                             'subject', i.subject, 'body', i.body,
                             'duration_seconds', i.duration_seconds,
                             'campaign_id', i.campaign_id, 'source', i.source,
                             'external_id', i.external_id, 'version', i.version,
                             'created_at', ll_api_time(i.created_at),
                             'updated_at', ll_api_time(i.updated_at))::text
    FROM interactions i WHERE i.workspace_id = ws AND i.lead_id = lead
    UNION ALL -- who routing gave the lead to (sql/functions/74_routing.sql)
    SELECT 'assignment', g.at, g.id,
           json_build_object('id', g.id, 'lead_id', g.lead_id, 'rule_id', g.rule_id,
                             'pool_id', g.pool_id, 'previous_owner_id', g.previous_owner_id,
                             'owner_id', g.owner_id, 'reason', g.reason, 'outcome', g.outcome,
                             'skipped', g.skipped,
                             'assigned_by', json_build_object('api_key_id', g.by_key_id,
                                                              'user_id', g.by_user_id),
                             'at', ll_api_time(g.at))::text
    FROM lead_assignments g WHERE g.workspace_id = ws AND g.lead_id = lead
    UNION ALL -- the lead's scores crossed the workspace's threshold (78_scoring.sql); a
              -- change row has no uuid of its own: one is made of the lead and its number
    SELECT 'score_crossing', c.changed_at, md5(c.lead_id::text || '/' || c.seq)::uuid,
           json_build_object('lead_id', c.lead_id, 'version', c.version, 'cause', c.cause,
                             'fit_from', c.fit_from, 'fit_to', c.fit_to,
                             'engagement_from', c.engagement_from,
                             'engagement_to', c.engagement_to, 'moved_to', c.moved_to,
                             'changed_at', ll_api_time(c.changed_at))::text
    FROM lead_score_changes c WHERE c.workspace_id = ws AND c.lead_id = lead AND c.crossed;
END
$$;

--
-- Name: ll_rate_take(uuid, text, double precision, double precision, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_rate_take(p_ws uuid, p_bucket text, p_rate double precision, p_burst double precision, p_want integer, OUT granted integer, OUT remaining double precision, OUT reset_s double precision, OUT wait_s double precision) RETURNS record
    LANGUAGE plpgsql
    AS $$
DECLARE
    t double precision;
    now_ts timestamptz;
    v_now timestamptz;
BEGIN
    INSERT INTO rate_buckets VALUES (p_ws, p_bucket, p_burst, clock_timestamp())
        ON CONFLICT (workspace_id, bucket) DO NOTHING;
    SELECT tokens, at INTO t, now_ts FROM rate_buckets
        WHERE workspace_id = p_ws AND bucket = p_bucket FOR UPDATE;
    v_now := clock_timestamp();
    t := least(p_burst, t + p_rate * greatest(0, extract(epoch FROM v_now - now_ts)));
    granted := least(p_want, floor(t))::integer;
    t := t - granted;
    UPDATE rate_buckets SET tokens = t, at = v_now
        WHERE workspace_id = p_ws AND bucket = p_bucket;
    remaining := t;
    reset_s := (p_burst - t) / p_rate;
    wait_s := CASE WHEN granted > 0 THEN 0 ELSE (1 - t) / p_rate END;
END
$$;

--
-- Name: ll_report_band_deltas(uuid, uuid[], smallint[], smallint[], integer[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_band_deltas(ws uuid, ids uuid[], dims smallint[], bands smallint[], signs integer[]) RETURNS void
    LANGUAGE sql
    AS $$
    WITH k AS (
        SELECT r.*, m.dim, m.band::text AS key, m.sign
        FROM unnest(ids, dims, bands, signs) AS m (lead_id, dim, band, sign)
        JOIN report_leads r ON r.workspace_id = ws AND r.lead_id = m.lead_id
        WHERE m.band IS NOT NULL),
    d AS (
        SELECT k.dim, k.day, k.key,
               sum(sign) AS leads,
               coalesce(sum(sign) FILTER (WHERE mql_at IS NOT NULL), 0) AS mqls,
               coalesce(sum(sign) FILTER (WHERE handed_at IS NOT NULL), 0) AS handed,
               coalesce(sum(sign) FILTER (WHERE verdict = 'accepted'), 0) AS accepted,
               coalesce(sum(sign) FILTER (WHERE verdict = 'rejected'), 0) AS rejected,
               coalesce(sum(sign) FILTER (WHERE contacted), 0) AS contacted,
               coalesce(sum(sign) FILTER (WHERE opportunity_at IS NOT NULL), 0) AS opportunities,
               coalesce(sum(sign) FILTER (WHERE won), 0) AS won,
               sum(sign * won_amount) AS won_amount, sum(sign * rating_sum) AS rating_sum,
               sum(sign * rating_count) AS rating_count,
               coalesce(sum(sign) FILTER (WHERE follow_up_s IS NOT NULL), 0) AS followed,
               sum(sign * lost_amount) AS lost_amount
        FROM k GROUP BY 1, 2, 3)
    INSERT INTO report_day_deltas
    SELECT ws, dim, day, key, leads, mqls, handed, accepted, rejected, contacted,
           opportunities, won, won_amount, rating_sum, rating_count, followed, lost_amount
    FROM d
    WHERE leads <> 0 OR mqls <> 0 OR handed <> 0 OR accepted <> 0 OR rejected <> 0
       OR contacted <> 0 OR opportunities <> 0 OR won <> 0 OR won_amount <> 0
       OR rating_sum <> 0 OR rating_count <> 0 OR followed <> 0 OR lost_amount <> 0
$$;

--
-- Name: ll_report_compact(integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_compact(lim integer) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    n bigint;
    m bigint;
    zd jsonb; -- the keys of the day and month rows, week rows, reason rows now zero
    zw jsonb;
    zr jsonb;
    f bigint; -- the funnel's deltas folded (report_funnel_days), and its rows now zero
    zf jsonb;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('ll_report_compact')) THEN
        RETURN 0;
    END IF;
    WITH del AS (
        DELETE FROM report_day_deltas WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM report_day_deltas LIMIT lim))
        RETURNING *),
    g AS (
        SELECT workspace_id, dim, m.month,
               CASE WHEN m.month THEN date_trunc('month', day::timestamp)::date ELSE day END
                   AS day,
               key, sum(leads) AS leads, sum(mqls) AS mqls, sum(handed) AS handed,
               sum(accepted) AS accepted, sum(rejected) AS rejected, sum(contacted) AS contacted,
               sum(opportunities) AS opportunities, sum(won) AS won,
               sum(won_amount) AS won_amount, sum(rating_sum) AS rating_sum,
               sum(rating_count) AS rating_count, sum(followed) AS followed,
               sum(lost_amount) AS lost_amount
        FROM del CROSS JOIN (VALUES (false), (true)) AS m (month)
        GROUP BY 1, 2, 3, 4, 5),
    wk AS (
        INSERT INTO report_weeks
        SELECT workspace_id, dim, date_trunc('week', day::timestamp)::date, key, sum(leads),
               sum(mqls), sum(handed), sum(accepted), sum(rejected), sum(contacted),
               sum(opportunities), sum(won), sum(won_amount), sum(rating_sum),
               sum(rating_count), sum(followed), sum(lost_amount)
        FROM g WHERE NOT g.month
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (workspace_id, dim, week, key) DO UPDATE SET
            leads = report_weeks.leads + excluded.leads,
            mqls = report_weeks.mqls + excluded.mqls,
            handed = report_weeks.handed + excluded.handed,
            accepted = report_weeks.accepted + excluded.accepted,
            rejected = report_weeks.rejected + excluded.rejected,
            contacted = report_weeks.contacted + excluded.contacted,
            opportunities = report_weeks.opportunities + excluded.opportunities,
            won = report_weeks.won + excluded.won,
            won_amount = report_weeks.won_amount + excluded.won_amount,
            rating_sum = report_weeks.rating_sum + excluded.rating_sum,
            rating_count = report_weeks.rating_count + excluded.rating_count,
            followed = report_weeks.followed + excluded.followed,
            lost_amount = report_weeks.lost_amount + excluded.lost_amount
        RETURNING workspace_id, dim, week, key,
            (leads, mqls, handed, accepted, rejected, contacted, opportunities, won, won_amount,
                   rating_sum, rating_count, followed, lost_amount) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) AS zero),
    ins AS (
    INSERT INTO report_days SELECT * FROM g ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (workspace_id, dim, month, day, key) DO UPDATE SET
        leads = report_days.leads + excluded.leads,
        mqls = report_days.mqls + excluded.mqls,
        handed = report_days.handed + excluded.handed,
        accepted = report_days.accepted + excluded.accepted,
        rejected = report_days.rejected + excluded.rejected,
        contacted = report_days.contacted + excluded.contacted,
        opportunities = report_days.opportunities + excluded.opportunities,
        won = report_days.won + excluded.won,
        won_amount = report_days.won_amount + excluded.won_amount,
        rating_sum = report_days.rating_sum + excluded.rating_sum,
        rating_count = report_days.rating_count + excluded.rating_count,
        followed = report_days.followed + excluded.followed,
        lost_amount = report_days.lost_amount + excluded.lost_amount
    RETURNING workspace_id, dim, month, day, key,
        (leads, mqls, handed, accepted, rejected, contacted, opportunities, won, won_amount,
                   rating_sum, rating_count, followed, lost_amount) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) AS zero)
    SELECT (SELECT count(*) FROM del),
           (SELECT jsonb_agg(jsonb_build_array(workspace_id, dim, month, day, key)) FROM ins
            WHERE zero),
           (SELECT jsonb_agg(jsonb_build_array(workspace_id, dim, week, key)) FROM wk
            WHERE zero)
      INTO n, zd, zw;
    DELETE FROM report_days d USING jsonb_array_elements(zd) AS z (k)
    WHERE d.workspace_id = (z.k ->> 0)::uuid AND d.dim = (z.k ->> 1)::smallint
      AND d.month = (z.k ->> 2)::boolean AND d.day = (z.k ->> 3)::date AND d.key = z.k ->> 4;
    DELETE FROM report_weeks d USING jsonb_array_elements(zw) AS z (k)
    WHERE d.workspace_id = (z.k ->> 0)::uuid AND d.dim = (z.k ->> 1)::smallint
      AND d.week = (z.k ->> 2)::date AND d.key = z.k ->> 3;
    WITH del AS (
        DELETE FROM report_reason_deltas WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM report_reason_deltas LIMIT lim))
        RETURNING *),
    g AS (
        SELECT workspace_id, dim, m.month,
               CASE WHEN m.month THEN date_trunc('month', day::timestamp)::date ELSE day END
                   AS day,
               key, reason, sum(rejected) AS rejected
        FROM del CROSS JOIN (VALUES (false), (true)) AS m (month)
        GROUP BY 1, 2, 3, 4, 5, 6),
    ins AS (
    INSERT INTO report_reason_days SELECT * FROM g ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (workspace_id, dim, month, day, key, reason) DO UPDATE SET
        rejected = report_reason_days.rejected + excluded.rejected
    RETURNING workspace_id, dim, month, day, key, reason, rejected = 0 AS zero)
    SELECT (SELECT count(*) FROM del),
           (SELECT jsonb_agg(jsonb_build_array(workspace_id, dim, month, day, key, reason))
            FROM ins WHERE zero)
      INTO m, zr;
    DELETE FROM report_reason_days d USING jsonb_array_elements(zr) AS z (k)
    WHERE d.workspace_id = (z.k ->> 0)::uuid AND d.dim = (z.k ->> 1)::smallint
      AND d.month = (z.k ->> 2)::boolean AND d.day = (z.k ->> 3)::date AND d.key = z.k ->> 4
      AND d.reason = z.k ->> 5;
    WITH del AS (
        DELETE FROM report_funnel_deltas WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM report_funnel_deltas LIMIT lim))
        RETURNING *),
    g AS (
        SELECT workspace_id, dim, key, source, m.month,
               CASE WHEN m.month THEN date_trunc('month', day::timestamp)::date ELSE day END
                   AS day,
               sum(leads) AS leads, sum(handed) AS handed, sum(accepted) AS accepted,
               sum(qualified) AS qualified, sum(opportunity) AS opportunity,
               sum(customer) AS customer, sum(followed) AS followed, sum(waiting) AS waiting
        FROM del CROSS JOIN (VALUES (false), (true)) AS m (month)
        GROUP BY 1, 2, 3, 4, 5, 6),
    ins AS (
    INSERT INTO report_funnel_days SELECT * FROM g ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (workspace_id, dim, key, source, month, day) DO UPDATE SET
        leads = report_funnel_days.leads + excluded.leads,
        handed = report_funnel_days.handed + excluded.handed,
        accepted = report_funnel_days.accepted + excluded.accepted,
        qualified = report_funnel_days.qualified + excluded.qualified,
        opportunity = report_funnel_days.opportunity + excluded.opportunity,
        customer = report_funnel_days.customer + excluded.customer,
        followed = report_funnel_days.followed + excluded.followed,
        waiting = report_funnel_days.waiting + excluded.waiting
    RETURNING workspace_id, dim, key, source, month, day,
        (leads, handed, accepted, qualified, opportunity, customer, followed, waiting)
            = (0, 0, 0, 0, 0, 0, 0, 0) AS zero)
    SELECT (SELECT count(*) FROM del),
           (SELECT jsonb_agg(jsonb_build_array(workspace_id, dim, key, source, month, day))
            FROM ins WHERE zero)
      INTO f, zf;
    DELETE FROM report_funnel_days d USING jsonb_array_elements(zf) AS z (k)
    WHERE d.workspace_id = (z.k ->> 0)::uuid AND d.dim = (z.k ->> 1)::smallint
      AND d.key = z.k ->> 2 AND d.source = z.k ->> 3 AND d.month = (z.k ->> 4)::boolean
      AND d.day = (z.k ->> 5)::date;
    RETURN n + m + f;
END
$$;

--
-- Name: ll_report_cost(bigint, date, date, date, date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_cost(cost bigint, starts_on date, ends_on date, from_day date, to_day date) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN starts_on IS NULL OR ends_on IS NULL
                     OR (from_day IS NULL AND to_day IS NULL)
                THEN cost
                ELSE round(cost::numeric
                           * greatest(0, least(ends_on, coalesce(to_day, 'infinity'::date))
                                         - greatest(starts_on,
                                                    coalesce(from_day, '-infinity'::date))
                                         + 1)
                           / (ends_on - starts_on + 1))::bigint END
$$;

--
-- Name: ll_report_day(timestamp with time zone, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_day(at timestamp with time zone, tz text) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT (at AT TIME ZONE tz)::date
$$;

--
-- Name: report_leads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.report_leads (
    workspace_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    created_at timestamp with time zone NOT NULL,
    day date NOT NULL,
    source text NOT NULL,
    owner_id uuid,
    stage text NOT NULL,
    ft_campaign uuid,
    lt_campaign uuid,
    credits uuid[] NOT NULL,
    mql_at timestamp with time zone,
    handed_at timestamp with time zone,
    accepted_at timestamp with time zone,
    qualified_at timestamp with time zone,
    opportunity_at timestamp with time zone,
    customer_at timestamp with time zone,
    verdict text,
    verdict_reason text,
    first_feedback_at timestamp with time zone,
    follow_up_s bigint,
    contacted boolean NOT NULL,
    won boolean NOT NULL,
    won_amount bigint NOT NULL,
    rating_sum integer NOT NULL,
    rating_count integer NOT NULL,
    lost_amount bigint DEFAULT 0 NOT NULL,
    first_attempt_at timestamp with time zone,
    first_contact_at timestamp with time zone,
    verdict_at timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    attempt_s bigint,
    contact_s bigint
);

--
-- Name: ll_report_facts(uuid, uuid[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_facts(ws uuid, ids uuid[]) RETURNS SETOF public.report_leads
    LANGUAGE sql STABLE
    AS $$
    SELECT l.workspace_id, l.id, l.created_at, ll_report_day(l.created_at, w.time_zone),
           l.source, l.owner_id, l.stage, t.ft, t.credits[cardinality(t.credits)],
           coalesce(t.credits, '{}'), s.mql_at, s.handed_at, s.accepted_at, s.qualified_at,
           s.opportunity_at, s.customer_at, f.verdict[1], f.verdict_reason[1], f.first_at,
           -- (called only when both ends are known: NULL otherwise, and a new lead's
           -- facts skip the three calls, 30 ms of a batch of 1,000)
           CASE WHEN s.handed_at IS NOT NULL
                     AND least(f.first_at, i.attempt_at, i.contact_at) IS NOT NULL THEN
           ll_business_seconds(s.handed_at, least(f.first_at, i.attempt_at, i.contact_at),
                               w.time_zone, w.business_days, w.business_start, w.business_end)
           END,
           coalesce(f.contacted, false), coalesce(f.won, false), coalesce(f.won_amount, 0),
           coalesce(f.rating_sum, 0), coalesce(f.rating_count, 0), coalesce(f.lost_amount, 0),
           i.attempt_at, i.contact_at, f.verdict_at, coalesce(i.attempts, 0),
           CASE WHEN s.handed_at IS NOT NULL AND i.attempt_at IS NOT NULL THEN
           ll_business_seconds(s.handed_at, i.attempt_at, w.time_zone, w.business_days,
                               w.business_start, w.business_end) END,
           CASE WHEN s.handed_at IS NOT NULL AND i.contact_at IS NOT NULL THEN
           ll_business_seconds(s.handed_at, i.contact_at, w.time_zone, w.business_days,
                               w.business_start, w.business_end) END
    FROM leads l
    JOIN workspaces w ON w.id = ws
    LEFT JOIN LATERAL (
        SELECT min(changed_at) FILTER (WHERE to_stage = 'mql') AS mql_at,
               min(changed_at) FILTER (WHERE to_stage IN ('mql', 'sales_accepted',
                   'sales_qualified', 'opportunity', 'customer')) AS handed_at,
               min(changed_at) FILTER (WHERE to_stage IN ('sales_accepted', 'sales_qualified',
                   'opportunity', 'customer')) AS accepted_at,
               min(changed_at) FILTER (WHERE to_stage IN ('sales_qualified', 'opportunity',
                   'customer')) AS qualified_at,
               min(changed_at) FILTER (WHERE to_stage IN ('opportunity', 'customer'))
                   AS opportunity_at,
               min(changed_at) FILTER (WHERE to_stage = 'customer') AS customer_at
        FROM lead_stage_changes WHERE workspace_id = ws AND lead_id = l.id) s ON true
    LEFT JOIN LATERAL (
        SELECT x.ft, CASE WHEN cardinality(x.cr) > 0 THEN x.cr ELSE ARRAY[x.ft] END AS credits
        FROM (SELECT (array_agg(campaign_id ORDER BY occurred_at, id))[1] AS ft,
                     coalesce(array_agg(campaign_id ORDER BY occurred_at, id) FILTER (
                         WHERE s.handed_at IS NULL OR occurred_at <= s.handed_at), '{}') AS cr
              FROM campaign_touches WHERE workspace_id = ws AND lead_id = l.id) x
        WHERE x.ft IS NOT NULL) t ON true
    -- Sales' feedback: the verdict is the first accepted or rejected entry; a won or lost
    -- entry counts with the amount of its latest correction (by occurred_at, created_at,
    -- id), if any, else its own; the rating is the lead's latest (rating_sum the rating,
    -- rating_count 1, so that the figures' sums give the mean over rated leads). A
    -- correction is no follow-up: it leaves first_at alone.
    LEFT JOIN LATERAL (
        SELECT array_agg(kind ORDER BY occurred_at, created_at, id)
                   FILTER (WHERE kind IN ('accepted', 'rejected')) AS verdict,
               array_agg(reason ORDER BY occurred_at, created_at, id)
                   FILTER (WHERE kind IN ('accepted', 'rejected')) AS verdict_reason,
               min(occurred_at) FILTER (WHERE kind IN ('accepted', 'rejected')) AS verdict_at,
               min(occurred_at) FILTER (WHERE kind <> 'correction') AS first_at,
               bool_or(kind IN ('contacted', 'meeting_booked')) AS contacted,
               bool_or(kind = 'won') AS won,
               sum(coalesce(c.amount, fb.amount)) FILTER (WHERE kind = 'won') AS won_amount,
               sum(coalesce(c.amount, fb.amount)) FILTER (WHERE kind = 'lost') AS lost_amount,
               (array_agg(rating ORDER BY occurred_at DESC, created_at DESC, id DESC)
                   FILTER (WHERE rating IS NOT NULL))[1] AS rating_sum,
               least(count(rating), 1) AS rating_count
        FROM feedback fb
        LEFT JOIN LATERAL (
            SELECT x.amount FROM feedback x
            WHERE fb.kind IN ('won', 'lost') AND x.workspace_id = ws AND x.corrects = fb.id
            ORDER BY x.occurred_at DESC, x.created_at DESC, x.id DESC LIMIT 1) c ON true
        WHERE fb.workspace_id = ws AND fb.lead_id = l.id) f ON true
    -- The interactions logged since the hand-off (none before it: the clock is not
    -- running): the first attempt (an outbound call, email, meeting or message) and the
    -- first contact (one that reached the person: outcome connected, replied or held, or
    -- an inbound call, email, meeting or message). Either stops the follow-up clock as the
    -- first feedback does; and the attempts since the hand-off (the SLA report's). Read
    -- through interactions_by_lead.
    LEFT JOIN LATERAL (
        SELECT min(occurred_at) FILTER (WHERE direction = 'outbound'
                   AND kind IN ('call', 'email', 'meeting', 'message')) AS attempt_at,
               min(occurred_at) FILTER (WHERE outcome IN ('connected', 'replied', 'held')
                   OR (direction = 'inbound' AND kind IN ('call', 'email', 'meeting', 'message')))
                   AS contact_at,
               count(*) FILTER (WHERE direction = 'outbound'
                   AND kind IN ('call', 'email', 'meeting', 'message')) AS attempts
        FROM interactions
        WHERE workspace_id = ws AND lead_id = l.id AND occurred_at >= s.handed_at) i ON true
    WHERE l.workspace_id = ws AND l.id = ANY (ids) AND l.merged_into IS NULL
$$;

--
-- Name: ll_report_follow_up_at(uuid, date, date, smallint, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_follow_up_at(ws uuid, from_day date, to_day date, dimension smallint, for_key text, n bigint) RETURNS SETOF bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT f.follow_up_s FROM report_follow_ups f
    WHERE f.workspace_id = ws AND f.dim = dimension AND f.key = for_key
      AND f.day >= coalesce(from_day, '-infinity'::date)
      AND f.day <= coalesce(to_day, 'infinity'::date)
    ORDER BY f.follow_up_s
    OFFSET n LIMIT 1
$$;

--
-- Name: ll_report_follow_up_percentiles(uuid, date, date, smallint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_follow_up_percentiles(ws uuid, from_day date, to_day date, dimension smallint) RETURNS TABLE(key text, p50 bigint, p90 bigint)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT f.key, percentile_disc(0.5) WITHIN GROUP (ORDER BY f.follow_up_s) AS p50,
           percentile_disc(0.9) WITHIN GROUP (ORDER BY f.follow_up_s) AS p90
    FROM report_follow_ups f
    WHERE ll_report_follow_up_sorted(from_day, to_day)
      AND f.workspace_id = ws AND f.dim = dimension
      AND f.day >= coalesce(from_day, '-infinity'::date)
      AND f.day <= coalesce(to_day, 'infinity'::date)
    GROUP BY f.key
$$;

--
-- Name: ll_report_follow_up_sorted(date, date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_follow_up_sorted(from_day date, to_day date) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT from_day IS NOT NULL AND to_day IS NOT NULL AND to_day - from_day < 183
$$;

--
-- Name: ll_report_funnel_sums(uuid, date, date, smallint, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_funnel_sums(ws uuid, from_day date, to_day date, dimension smallint, for_key text, for_source text) RETURNS TABLE(key text, leads bigint, handed bigint, accepted bigint, qualified bigint, opportunity bigint, customer bigint, followed bigint, waiting bigint)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT key, sum(leads)::bigint AS leads, sum(handed)::bigint AS handed,
           sum(accepted)::bigint AS accepted, sum(qualified)::bigint AS qualified,
           sum(opportunity)::bigint AS opportunity, sum(customer)::bigint AS customer,
           sum(followed)::bigint AS followed, sum(waiting)::bigint AS waiting
    FROM (
        -- the month rows of the whole months inside the window
        SELECT d.key, d.leads, d.handed, d.accepted, d.qualified, d.opportunity, d.customer,
               d.followed, d.waiting
        FROM report_funnel_days d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND (for_key IS NULL OR d.key = for_key) AND d.source = for_source AND d.month
          AND d.day >= ll_report_months_from(from_day)
          AND d.day < ll_report_months_to(to_day)
        UNION ALL
        -- the day rows before the first whole month
        SELECT d.key, d.leads, d.handed, d.accepted, d.qualified, d.opportunity, d.customer,
               d.followed, d.waiting
        FROM report_funnel_days d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND (for_key IS NULL OR d.key = for_key) AND d.source = for_source AND NOT d.month
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day < least(ll_report_months_from(from_day),
                            coalesce(to_day, 'infinity'::date) + 1)
        UNION ALL
        -- the day rows after the last whole month (as in ll_report_sums)
        SELECT d.key, d.leads, d.handed, d.accepted, d.qualified, d.opportunity, d.customer,
               d.followed, d.waiting
        FROM report_funnel_days d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND (for_key IS NULL OR d.key = for_key) AND d.source = for_source AND NOT d.month
          AND d.day >= greatest(ll_report_months_to(to_day),
                                ll_report_months_from(from_day))
          AND d.day <= coalesce(to_day, 'infinity'::date)
        UNION ALL
        -- the deltas not folded in yet, of every day of the window
        SELECT d.key, d.leads, d.handed, d.accepted, d.qualified, d.opportunity, d.customer,
               d.followed, d.waiting
        FROM report_funnel_deltas d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND (for_key IS NULL OR d.key = for_key) AND d.source = for_source
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day <= coalesce(to_day, 'infinity'::date)
    ) d
    GROUP BY key
$$;

--
-- Name: ll_report_months_from(date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_months_from(from_day date) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT ll_report_periods_from(from_day, 'month')
$$;

--
-- Name: ll_report_months_to(date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_months_to(to_day date) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT ll_report_periods_to(to_day, 'month')
$$;

--
-- Name: ll_report_on_feedback(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_on_feedback() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(x.workspace_id), array_agg(x.lead_id))
    FROM (SELECT w.workspace_id, w.lead_id, EXISTS (
              SELECT 1 FROM feedback t JOIN report_leads f
                  ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
              WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                  AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint) AS done
          FROM written w) x
    WHERE NOT x.done;
    RETURN NULL;
END
$$;

--
-- Name: ll_report_on_interactions(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_on_interactions() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(x.workspace_id), array_agg(x.lead_id))
    FROM (SELECT w.workspace_id, w.lead_id, EXISTS (
              SELECT 1 FROM interactions t JOIN report_leads f
                  ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
              WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                  AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint) AS done
          FROM written w) x
    WHERE NOT x.done;
    RETURN NULL;
END
$$;

--
-- Name: ll_report_on_leads(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_on_leads() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(workspace_id), array_agg(id)) FROM written;
    RETURN NULL;
END
$$;

--
-- Name: ll_report_on_leads_insert(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_on_leads_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(x.workspace_id), array_agg(x.id))
    FROM (SELECT w.workspace_id, w.id, EXISTS (
              SELECT 1 FROM leads t JOIN report_leads f
                  ON f.workspace_id = t.workspace_id AND f.lead_id = t.id
              WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                  AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint) AS done
          FROM written w) x
    WHERE NOT x.done;
    RETURN NULL;
END
$$;

--
-- Name: ll_report_on_leads_update(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_on_leads_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- planned on every call (EXECUTE): a plan kept from a one-row update joins the
    -- transition tables row by row, 80 s for a 20,000-row update
    EXECUTE 'SELECT ll_report_refresh_rows(array_agg(n.workspace_id), array_agg(n.id))'
            ' FROM written n JOIN previous o ON o.workspace_id = n.workspace_id AND o.id = n.id'
            ' WHERE (n.source, n.owner_id, n.created_at, n.merged_into)'
            ' IS DISTINCT FROM (o.source, o.owner_id, o.created_at, o.merged_into)'
            ' AND NOT EXISTS (SELECT 1 FROM leads t JOIN report_leads f'
            ' ON f.workspace_id = t.workspace_id AND f.lead_id = t.id'
            ' WHERE t.workspace_id = n.workspace_id AND t.id = n.id'
            ' AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint)';
    RETURN NULL;
END
$$;

--
-- Name: ll_report_on_rows(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_on_rows() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(workspace_id), array_agg(lead_id)) FROM written;
    RETURN NULL;
END
$$;

--
-- Name: ll_report_on_rows_update(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_on_rows_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(workspace_id), array_agg(lead_id))
    FROM (SELECT workspace_id, lead_id FROM written
          UNION ALL SELECT workspace_id, lead_id FROM previous) x;
    RETURN NULL;
END
$$;

--
-- Name: ll_report_on_stage_changes(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_on_stage_changes() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(x.workspace_id), array_agg(x.lead_id))
    FROM (SELECT w.workspace_id, w.lead_id, EXISTS (
              SELECT 1 FROM lead_stage_changes t JOIN report_leads f
                  ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
              WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                  AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint) AS done
          FROM written w WHERE w.to_stage <> 'new') x
    WHERE NOT x.done;
    RETURN NULL;
END
$$;

--
-- Name: ll_report_on_touches(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_on_touches() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM ll_report_refresh_rows(array_agg(x.workspace_id), array_agg(x.lead_id))
    FROM (SELECT w.workspace_id, w.lead_id, EXISTS (
              SELECT 1 FROM campaign_touches t JOIN report_leads f
                  ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
              WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                  AND f.xmin = t.xmin AND f.cmin::text::bigint > t.cmin::text::bigint) AS done
          FROM written w) x
    WHERE NOT x.done;
    RETURN NULL;
END
$$;

--
-- Name: ll_report_on_workspace_calendar(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_on_workspace_calendar() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ll_report_calendar'), hashtext(NEW.id::text));
    PERFORM ll_report_rebucket(NEW.id);
    RETURN NULL;
END
$$;

--
-- Name: ll_report_period(date, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_period(day date, period_kind text) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT date_trunc(period_kind, day::timestamp)::date
$$;

--
-- Name: ll_report_period_end(date, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_period_end(period_start date, period_kind text) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT (period_start::timestamp + ('1 ' || period_kind)::interval)::date - 1
$$;

--
-- Name: ll_report_period_sums(uuid, date, date, smallint, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_period_sums(ws uuid, from_day date, to_day date, dimension smallint, period_kind text, figure text) RETURNS TABLE(period date, key text, value numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT ll_report_period(d.day, period_kind) AS period, d.key,
           sum(CASE figure WHEN 'leads' THEN d.leads WHEN 'mqls' THEN d.mqls
                   WHEN 'handed' THEN d.handed WHEN 'accepted' THEN d.accepted
                   WHEN 'rejected' THEN d.rejected WHEN 'contacted' THEN d.contacted
                   WHEN 'opportunities' THEN d.opportunities WHEN 'won' THEN d.won
                   WHEN 'won_amount' THEN d.won_amount END) AS value
    FROM (
        -- the month rows of the whole months inside the window (months only)
        SELECT d.day, d.key,
               d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount
        FROM report_days d
        WHERE period_kind = 'month'
          AND d.workspace_id = ws AND d.dim = dimension AND d.month
          AND d.day >= ll_report_periods_from(from_day, 'month')
          AND d.day < ll_report_periods_to(to_day, 'month')
        UNION ALL
        -- the week rows of the whole weeks inside the window (weeks only)
        SELECT d.week, d.key,
               d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount
        FROM report_weeks d
        WHERE period_kind = 'week'
          AND d.workspace_id = ws AND d.dim = dimension
          AND d.week >= ll_report_periods_from(from_day, 'week')
          AND d.week < ll_report_periods_to(to_day, 'week')
        UNION ALL
        -- the day rows before the first whole period
        SELECT d.day, d.key,
               d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount
        FROM report_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day < least(ll_report_periods_from(from_day, period_kind),
                            coalesce(to_day, 'infinity'::date) + 1)
        UNION ALL
        -- the day rows after the last whole period, or (a window without one) after the
        -- rows before (as in ll_report_sums)
        SELECT d.day, d.key,
               d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount
        FROM report_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= greatest(ll_report_periods_to(to_day, period_kind),
                                ll_report_periods_from(from_day, period_kind))
          AND d.day <= coalesce(to_day, 'infinity'::date)
        UNION ALL
        -- the deltas not folded in yet, of every day of the window
        SELECT d.day, d.key,
               d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount
        FROM report_day_deltas d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day <= coalesce(to_day, 'infinity'::date)
    ) d
    GROUP BY 1, 2
$$;

--
-- Name: ll_report_periods(date, date, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_periods(from_day date, to_day date, period_kind text) RETURNS SETOF date
    LANGUAGE sql IMMUTABLE STRICT ROWS 52 PARALLEL SAFE
    AS $$
    SELECT p::date
    FROM generate_series(date_trunc(period_kind, from_day::timestamp), to_day::timestamp,
                         ('1 ' || period_kind)::interval) AS p
$$;

--
-- Name: ll_report_periods_from(date, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_periods_from(from_day date, period_kind text) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN from_day IS NULL
                     OR from_day = date_trunc(period_kind, from_day::timestamp)::date
                THEN coalesce(from_day, '-infinity'::date)
                ELSE (date_trunc(period_kind, from_day::timestamp)
                      + ('1 ' || period_kind)::interval)::date END
$$;

--
-- Name: ll_report_periods_to(date, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_periods_to(to_day date, period_kind text) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN to_day IS NULL THEN 'infinity'::date
                ELSE date_trunc(period_kind, (to_day + 1)::timestamp)::date END
$$;

--
-- Name: ll_report_reason_sums(uuid, date, date, smallint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_reason_sums(ws uuid, from_day date, to_day date, dimension smallint) RETURNS TABLE(key text, reason text, n numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT key, reason, sum(rejected) AS n
    FROM (
        -- the month rows of the whole months inside the window
        SELECT d.key, d.reason, d.rejected FROM report_reason_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND d.month
          AND d.day >= ll_report_months_from(from_day)
          AND d.day < ll_report_months_to(to_day)
        UNION ALL
        -- the day rows before the first whole month
        SELECT d.key, d.reason, d.rejected FROM report_reason_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day < least(ll_report_months_from(from_day),
                            coalesce(to_day, 'infinity'::date) + 1)
        UNION ALL
        -- the day rows after the last whole month (as in ll_report_sums)
        SELECT d.key, d.reason, d.rejected FROM report_reason_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= greatest(ll_report_months_to(to_day),
                                ll_report_months_from(from_day))
          AND d.day <= coalesce(to_day, 'infinity'::date)
        UNION ALL
        -- the deltas not folded in yet, of every day of the window
        SELECT d.key, d.reason, d.rejected FROM report_reason_deltas d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day <= coalesce(to_day, 'infinity'::date)
    ) d
    GROUP BY key, reason HAVING sum(rejected) <> 0
$$;

--
-- Name: ll_report_reasons(uuid, date, date, smallint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_reasons(ws uuid, from_day date, to_day date, dimension smallint) RETURNS TABLE(key text, reasons json)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT key, json_object_agg(reason, trim_scale(round(n, 4)) ORDER BY n DESC, reason)
               AS reasons
    FROM ll_report_reason_sums(ws, from_day, to_day, dimension) rs GROUP BY key
$$;

--
-- Name: ll_report_rebucket(uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_rebucket(ws uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    ids uuid[];
BEGIN
    FOR ids IN SELECT array_agg(lead_id) FROM (
                   SELECT lead_id, row_number() OVER (ORDER BY lead_id) AS n
                   FROM report_leads WHERE workspace_id = ws) x
               GROUP BY (n - 1) / 20000 LOOP
        PERFORM ll_report_refresh(ws, ids, true);
    END LOOP;
END
$$;

--
-- Name: ll_report_rebuild(uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_rebuild(ws uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    ids uuid[];
BEGIN
    -- not beside a compaction, which could deadlock with the deletes below
    PERFORM pg_advisory_xact_lock(hashtext('ll_report_compact'));
    DELETE FROM report_days WHERE workspace_id = ws;
    DELETE FROM report_weeks WHERE workspace_id = ws;
    DELETE FROM report_reason_days WHERE workspace_id = ws;
    DELETE FROM report_day_deltas WHERE workspace_id = ws;
    DELETE FROM report_follow_ups WHERE workspace_id = ws;
    DELETE FROM report_reason_deltas WHERE workspace_id = ws;
    DELETE FROM report_funnel_days WHERE workspace_id = ws;
    DELETE FROM report_funnel_deltas WHERE workspace_id = ws;
    DELETE FROM report_leads WHERE workspace_id = ws;
    FOR ids IN SELECT array_agg(id) FROM (SELECT id, row_number() OVER (ORDER BY id) AS n
                                          FROM leads WHERE workspace_id = ws) x
               GROUP BY (n - 1) / 10000 LOOP
        PERFORM ll_report_refresh(ws, ids);
    END LOOP;
END
$$;

--
-- Name: ll_report_refresh(uuid, uuid[], boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_refresh(ws uuid, ids uuid[], rebucket boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
BEGIN
    IF cardinality(ids) > 20 THEN
        PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);
    END IF;
    PERFORM pg_advisory_xact_lock_shared(hashtext('ll_report_calendar'), hashtext(ws::text));
    PERFORM 1 FROM leads WHERE workspace_id = ws AND id = ANY (ids) ORDER BY id
        FOR NO KEY UPDATE;
    WITH n AS (
        SELECT * FROM ll_report_facts(ws, ids) WHERE NOT rebucket
        UNION ALL
        SELECT r.workspace_id, r.lead_id, r.created_at, ll_report_day(r.created_at, w.time_zone),
               r.source, r.owner_id, r.stage, r.ft_campaign, r.lt_campaign, r.credits, r.mql_at,
               r.handed_at, r.accepted_at, r.qualified_at, r.opportunity_at, r.customer_at,
               r.verdict, r.verdict_reason, r.first_feedback_at,
               ll_business_seconds(r.handed_at, least(r.first_feedback_at, r.first_attempt_at,
                                                      r.first_contact_at),
                                   w.time_zone, w.business_days, w.business_start,
                                   w.business_end),
               r.contacted, r.won, r.won_amount, r.rating_sum, r.rating_count, r.lost_amount,
               r.first_attempt_at, r.first_contact_at, r.verdict_at, r.attempts,
               ll_business_seconds(r.handed_at, r.first_attempt_at, w.time_zone,
                                   w.business_days, w.business_start, w.business_end),
               ll_business_seconds(r.handed_at, r.first_contact_at, w.time_zone,
                                   w.business_days, w.business_start, w.business_end)
        FROM report_leads r JOIN workspaces w ON w.id = ws
        WHERE rebucket AND r.workspace_id = ws AND r.lead_id = ANY (ids)),
    o AS (SELECT * FROM report_leads WHERE workspace_id = ws AND lead_id = ANY (ids)),
    w AS (
        INSERT INTO report_leads SELECT * FROM n
        ON CONFLICT (workspace_id, lead_id) DO UPDATE SET
            created_at = excluded.created_at, day = excluded.day, source = excluded.source,
            owner_id = excluded.owner_id, stage = excluded.stage,
            ft_campaign = excluded.ft_campaign, lt_campaign = excluded.lt_campaign,
            credits = excluded.credits, mql_at = excluded.mql_at,
            handed_at = excluded.handed_at, accepted_at = excluded.accepted_at,
            qualified_at = excluded.qualified_at, opportunity_at = excluded.opportunity_at,
            customer_at = excluded.customer_at, verdict = excluded.verdict,
            verdict_reason = excluded.verdict_reason,
            first_feedback_at = excluded.first_feedback_at, follow_up_s = excluded.follow_up_s,
            contacted = excluded.contacted, won = excluded.won,
            won_amount = excluded.won_amount, rating_sum = excluded.rating_sum,
            rating_count = excluded.rating_count, lost_amount = excluded.lost_amount,
            first_attempt_at = excluded.first_attempt_at,
            first_contact_at = excluded.first_contact_at,
            verdict_at = excluded.verdict_at, attempts = excluded.attempts,
            attempt_s = excluded.attempt_s, contact_s = excluded.contact_s
        WHERE report_leads IS DISTINCT FROM excluded),
    gone AS (
        DELETE FROM report_leads x WHERE x.workspace_id = ws AND x.lead_id = ANY (ids)
            AND NOT EXISTS (SELECT 1 FROM n WHERE n.lead_id = x.lead_id)),
    c AS (SELECT 1 AS sign, * FROM n UNION ALL SELECT -1, * FROM o),
    k AS (
        SELECT c.*, 0::smallint AS dim, c.source AS key, 1::numeric AS w FROM c
        UNION ALL
        SELECT c.*, 1::smallint, c.ft_campaign::text, 1 FROM c WHERE c.ft_campaign IS NOT NULL
        UNION ALL
        SELECT c.*, 2::smallint, c.lt_campaign::text, 1 FROM c WHERE c.lt_campaign IS NOT NULL
        UNION ALL
        SELECT c.*, 3::smallint, x.campaign::text, x.k::numeric / cardinality(c.credits)
        FROM c, LATERAL (SELECT campaign, count(*) AS k FROM unnest(c.credits) AS campaign
                         GROUP BY campaign) x
        UNION ALL
        -- the bands of the lead's scores now, for its old facts and its new alike: a rescore
        -- that changes a band moves the lead's figures itself (ll_report_band_deltas), under
        -- the lead's lock as here; per lead an index lookup, never a hash of every score
        SELECT c.*, v.dim, v.band::text, 1
        FROM c
        CROSS JOIN LATERAL (SELECT (SELECT y FROM lead_scores y WHERE y.workspace_id = ws
                                    AND y.lead_id = c.lead_id) AS y) q
        CROSS JOIN LATERAL (VALUES (5::smallint, ll_score_band((q.y).fit)),
                                   (6::smallint, ll_score_band((q.y).engagement))) v (dim, band)
        WHERE q.y IS NOT NULL),
    fch AS (
        SELECT coalesce(n.lead_id, o.lead_id) AS lead_id FROM n FULL JOIN o ON o.lead_id = n.lead_id
        WHERE (n.follow_up_s, n.day, n.source, n.ft_campaign, n.lt_campaign, n.credits,
               n.owner_id)
              IS DISTINCT FROM (o.follow_up_s, o.day, o.source, o.ft_campaign, o.lt_campaign,
                                o.credits, o.owner_id)),
    -- the follow-up times per source and campaign (dims 0 to 3), and per owner (dim 4,
    -- key '' for none: the follow-up report's percentiles)
    fnew AS (
        SELECT ws AS workspace_id, k.lead_id, k.dim, k.key, k.day, k.follow_up_s FROM k
        WHERE k.sign = 1 AND k.follow_up_s IS NOT NULL AND k.dim < 5
          AND k.lead_id IN (SELECT lead_id FROM fch)
        UNION ALL
        SELECT ws, n.lead_id, 4::smallint, coalesce(n.owner_id::text, ''), n.day, n.follow_up_s
        FROM n WHERE n.follow_up_s IS NOT NULL AND n.lead_id IN (SELECT lead_id FROM fch)),
    fdel AS (
        DELETE FROM report_follow_ups f WHERE f.workspace_id = ws
            AND f.lead_id IN (SELECT lead_id FROM fch)
            AND NOT EXISTS (SELECT 1 FROM fnew WHERE fnew.lead_id = f.lead_id
                            AND fnew.dim = f.dim AND fnew.key = f.key)),
    fins AS (
        INSERT INTO report_follow_ups SELECT * FROM fnew ORDER BY lead_id, dim, key
        ON CONFLICT (workspace_id, lead_id, dim, key) DO UPDATE SET
            day = excluded.day, follow_up_s = excluded.follow_up_s),
    rd AS (
        INSERT INTO report_reason_deltas
        SELECT ws, k.dim, k.day, k.key, k.verdict_reason, sum(sign * w)
        FROM k WHERE k.verdict = 'rejected' AND k.dim < 5
        GROUP BY 2, 3, 4, 5
        HAVING sum(sign * w) <> 0),
    -- the funnel's and follow-up report's counts (report_funnel_days) per filter key: every
    -- lead (dim 0), its first and last touch's campaign (1, 2), each campaign it credits
    -- once (3), its owner (4); each for all sources ('') and for its own
    fk AS (
        SELECT c.*, 0::smallint AS dim, ''::text AS key FROM c
        UNION ALL
        SELECT c.*, 1::smallint, c.ft_campaign::text FROM c WHERE c.ft_campaign IS NOT NULL
        UNION ALL
        SELECT c.*, 2::smallint, c.lt_campaign::text FROM c WHERE c.lt_campaign IS NOT NULL
        UNION ALL
        SELECT c.*, 3::smallint, x.campaign::text
        FROM c, LATERAL (SELECT DISTINCT campaign FROM unnest(c.credits) AS campaign) x
        UNION ALL
        SELECT c.*, 4::smallint, coalesce(c.owner_id::text, '') FROM c),
    fd AS (
        SELECT f.dim, f.key, s.src, f.day, sum(f.sign) AS leads,
               coalesce(sum(f.sign) FILTER (WHERE f.handed_at IS NOT NULL), 0) AS handed,
               coalesce(sum(f.sign) FILTER (WHERE f.accepted_at IS NOT NULL), 0) AS accepted,
               coalesce(sum(f.sign) FILTER (WHERE f.qualified_at IS NOT NULL), 0) AS qualified,
               coalesce(sum(f.sign) FILTER (WHERE f.opportunity_at IS NOT NULL), 0)
                   AS opportunity,
               coalesce(sum(f.sign) FILTER (WHERE f.customer_at IS NOT NULL), 0) AS customer,
               coalesce(sum(f.sign) FILTER (WHERE f.follow_up_s IS NOT NULL), 0) AS followed,
               coalesce(sum(f.sign) FILTER (WHERE ll_report_waiting(f.handed_at,
                   f.first_feedback_at, f.first_attempt_at, f.first_contact_at, f.stage)), 0)
                   AS waiting
        FROM fk f CROSS JOIN LATERAL (VALUES (''::text), (f.source)) AS s (src)
        GROUP BY 1, 2, 3, 4),
    fdi AS (
        INSERT INTO report_funnel_deltas
        SELECT ws, dim, key, src, day, leads, handed, accepted, qualified, opportunity,
               customer, followed, waiting
        FROM fd
        WHERE leads <> 0 OR handed <> 0 OR accepted <> 0 OR qualified <> 0 OR opportunity <> 0
           OR customer <> 0 OR followed <> 0 OR waiting <> 0),
    d AS (
        SELECT k.dim, k.day, k.key,
               sum(sign * w) AS leads,
               sum(sign * w) FILTER (WHERE mql_at IS NOT NULL) AS mqls,
               sum(sign * w) FILTER (WHERE handed_at IS NOT NULL) AS handed,
               sum(sign * w) FILTER (WHERE verdict = 'accepted') AS accepted,
               sum(sign * w) FILTER (WHERE verdict = 'rejected') AS rejected,
               sum(sign * w) FILTER (WHERE contacted) AS contacted,
               sum(sign * w) FILTER (WHERE opportunity_at IS NOT NULL) AS opportunities,
               sum(sign * w) FILTER (WHERE won) AS won,
               sum(sign * w * won_amount) AS won_amount,
               sum(sign * w * rating_sum) AS rating_sum,
               sum(sign * w * rating_count) AS rating_count,
               sum(sign::numeric) FILTER (WHERE follow_up_s IS NOT NULL) AS followed,
               sum(sign * w * lost_amount) AS lost_amount
        FROM k GROUP BY 1, 2, 3)
    INSERT INTO report_day_deltas
    SELECT ws, dim, day, key, leads, coalesce(mqls, 0), coalesce(handed, 0),
           coalesce(accepted, 0), coalesce(rejected, 0), coalesce(contacted, 0),
           coalesce(opportunities, 0), coalesce(won, 0), won_amount, rating_sum, rating_count,
           coalesce(followed, 0), lost_amount
    FROM d
    WHERE leads <> 0 OR mqls <> 0 OR handed <> 0 OR accepted <> 0 OR rejected <> 0
       OR contacted <> 0 OR opportunities <> 0 OR won <> 0 OR won_amount <> 0
       OR rating_sum <> 0 OR rating_count <> 0 OR followed <> 0 OR lost_amount <> 0;
END
$$;

--
-- Name: ll_report_refresh_rows(uuid[], uuid[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_refresh_rows(ws uuid[], ids uuid[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT x.workspace_id, array_agg(DISTINCT x.lead_id) AS lead_ids
             FROM unnest(ws, ids) AS x (workspace_id, lead_id) GROUP BY x.workspace_id LOOP
        PERFORM ll_report_refresh(r.workspace_id, r.lead_ids);
    END LOOP;
END
$$;

--
-- Name: ll_report_stage_median(uuid, date, date, integer, uuid, smallint, text, uuid, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_stage_median(ws uuid, from_day date, to_day date, step integer, campaign uuid, model smallint, for_source text, owner uuid, n bigint) RETURNS TABLE(median double precision)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN count(*) = 2 THEN min(v) + (max(v) - min(v)) * 0.5::float8
                ELSE min(v) END
    FROM ll_report_stage_times(ws, from_day, to_day, step, campaign, model, for_source, owner,
                               (greatest(n, 1) - 1) / 2, 2 - n % 2) AS v
    WHERE n > 0
$$;

--
-- Name: ll_report_stage_times(uuid, date, date, integer, uuid, smallint, text, uuid, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_stage_times(ws uuid, from_day date, to_day date, step integer, campaign uuid, model smallint, for_source text, owner uuid, n bigint, lim bigint) RETURNS SETOF double precision
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    (SELECT extract(epoch FROM r.handed_at - r.created_at)::float8 FROM report_leads r
     WHERE step = 1 AND r.workspace_id = ws AND r.handed_at IS NOT NULL
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
       AND (campaign IS NULL OR CASE WHEN model = 1 THEN r.ft_campaign = campaign
                                     WHEN model = 2 THEN r.lt_campaign = campaign
                                     ELSE campaign = ANY (r.credits) END)
       AND (for_source IS NULL OR r.source = for_source)
       AND (owner IS NULL OR r.owner_id = owner)
     ORDER BY extract(epoch FROM r.handed_at - r.created_at) OFFSET n LIMIT lim)
    UNION ALL
    (SELECT extract(epoch FROM r.accepted_at - r.handed_at)::float8 FROM report_leads r
     WHERE step = 2 AND r.workspace_id = ws AND r.accepted_at IS NOT NULL
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
       AND (campaign IS NULL OR CASE WHEN model = 1 THEN r.ft_campaign = campaign
                                     WHEN model = 2 THEN r.lt_campaign = campaign
                                     ELSE campaign = ANY (r.credits) END)
       AND (for_source IS NULL OR r.source = for_source)
       AND (owner IS NULL OR r.owner_id = owner)
     ORDER BY extract(epoch FROM r.accepted_at - r.handed_at) OFFSET n LIMIT lim)
    UNION ALL
    (SELECT extract(epoch FROM r.qualified_at - r.accepted_at)::float8 FROM report_leads r
     WHERE step = 3 AND r.workspace_id = ws AND r.qualified_at IS NOT NULL
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
       AND (campaign IS NULL OR CASE WHEN model = 1 THEN r.ft_campaign = campaign
                                     WHEN model = 2 THEN r.lt_campaign = campaign
                                     ELSE campaign = ANY (r.credits) END)
       AND (for_source IS NULL OR r.source = for_source)
       AND (owner IS NULL OR r.owner_id = owner)
     ORDER BY extract(epoch FROM r.qualified_at - r.accepted_at) OFFSET n LIMIT lim)
    UNION ALL
    (SELECT extract(epoch FROM r.opportunity_at - r.qualified_at)::float8 FROM report_leads r
     WHERE step = 4 AND r.workspace_id = ws AND r.opportunity_at IS NOT NULL
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
       AND (campaign IS NULL OR CASE WHEN model = 1 THEN r.ft_campaign = campaign
                                     WHEN model = 2 THEN r.lt_campaign = campaign
                                     ELSE campaign = ANY (r.credits) END)
       AND (for_source IS NULL OR r.source = for_source)
       AND (owner IS NULL OR r.owner_id = owner)
     ORDER BY extract(epoch FROM r.opportunity_at - r.qualified_at) OFFSET n LIMIT lim)
    UNION ALL
    (SELECT extract(epoch FROM r.customer_at - r.opportunity_at)::float8 FROM report_leads r
     WHERE step = 5 AND r.workspace_id = ws AND r.customer_at IS NOT NULL
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
       AND (campaign IS NULL OR CASE WHEN model = 1 THEN r.ft_campaign = campaign
                                     WHEN model = 2 THEN r.lt_campaign = campaign
                                     ELSE campaign = ANY (r.credits) END)
       AND (for_source IS NULL OR r.source = for_source)
       AND (owner IS NULL OR r.owner_id = owner)
     ORDER BY extract(epoch FROM r.customer_at - r.opportunity_at) OFFSET n LIMIT lim)
$$;

--
-- Name: ll_report_sums(uuid, date, date, smallint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_sums(ws uuid, from_day date, to_day date, dimension smallint) RETURNS TABLE(key text, leads numeric, mqls numeric, handed numeric, accepted numeric, rejected numeric, contacted numeric, opportunities numeric, won numeric, won_amount numeric, rating_sum numeric, rating_count numeric, followed numeric, lost_amount numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT key, sum(leads) AS leads, sum(mqls) AS mqls, sum(handed) AS handed,
           sum(accepted) AS accepted, sum(rejected) AS rejected, sum(contacted) AS contacted,
           sum(opportunities) AS opportunities, sum(won) AS won, sum(won_amount) AS won_amount,
           sum(rating_sum) AS rating_sum, sum(rating_count) AS rating_count,
           sum(followed) AS followed, sum(lost_amount) AS lost_amount
    FROM (
        -- the month rows of the whole months inside the window
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed, d.lost_amount
        FROM report_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND d.month
          AND d.day >= ll_report_months_from(from_day)
          AND d.day < ll_report_months_to(to_day)
        UNION ALL
        -- the day rows before the first whole month
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed, d.lost_amount
        FROM report_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day < least(ll_report_months_from(from_day),
                            coalesce(to_day, 'infinity'::date) + 1)
        UNION ALL
        -- the day rows after the last whole month, or (a window without one) after the
        -- rows before: from the later of the two firsts of a month (in a window inside
        -- one month, past its end: none)
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed, d.lost_amount
        FROM report_days d
        WHERE d.workspace_id = ws AND d.dim = dimension AND NOT d.month
          AND d.day >= greatest(ll_report_months_to(to_day),
                                ll_report_months_from(from_day))
          AND d.day <= coalesce(to_day, 'infinity'::date)
        UNION ALL
        -- the deltas not folded in yet, of every day of the window
        SELECT d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted,
               d.opportunities, d.won, d.won_amount, d.rating_sum, d.rating_count,
               d.followed, d.lost_amount
        FROM report_day_deltas d
        WHERE d.workspace_id = ws AND d.dim = dimension
          AND d.day >= coalesce(from_day, '-infinity'::date)
          AND d.day <= coalesce(to_day, 'infinity'::date)
    ) d
    GROUP BY key
$$;

--
-- Name: ll_report_waiting(timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_waiting(handed_at timestamp with time zone, first_feedback_at timestamp with time zone, first_attempt_at timestamp with time zone, first_contact_at timestamp with time zone, stage text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT handed_at IS NOT NULL AND first_feedback_at IS NULL AND first_attempt_at IS NULL
           AND first_contact_at IS NULL
           AND stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
$$;

--
-- Name: ll_report_waiting_leads(uuid, date, date, uuid, timestamp with time zone, boolean, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_report_waiting_leads(ws uuid, from_day date, to_day date, owner uuid, since timestamp with time zone, by_day boolean, lim bigint) RETURNS TABLE(handed_at timestamp with time zone, lead_id uuid)
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    (SELECT r.handed_at, r.lead_id FROM report_leads r
     WHERE NOT by_day AND owner IS NOT NULL AND r.workspace_id = ws AND r.owner_id = owner
       AND r.handed_at IS NOT NULL AND r.first_feedback_at IS NULL
       AND r.first_attempt_at IS NULL AND r.first_contact_at IS NULL
       AND r.stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
       AND r.handed_at >= coalesce(since, '-infinity'::timestamptz)
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
     ORDER BY r.handed_at, r.lead_id LIMIT lim)
    UNION ALL
    (SELECT r.handed_at, r.lead_id FROM report_leads r
     WHERE NOT by_day AND owner IS NULL AND r.workspace_id = ws AND r.owner_id IS NULL
       AND r.handed_at IS NOT NULL AND r.first_feedback_at IS NULL
       AND r.first_attempt_at IS NULL AND r.first_contact_at IS NULL
       AND r.stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
       AND r.handed_at >= coalesce(since, '-infinity'::timestamptz)
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
     ORDER BY r.handed_at, r.lead_id LIMIT lim)
    UNION ALL
    (SELECT r.handed_at, r.lead_id FROM report_leads r
     WHERE by_day AND owner IS NOT NULL AND r.workspace_id = ws AND r.owner_id = owner
       AND r.handed_at IS NOT NULL AND r.first_feedback_at IS NULL
       AND r.first_attempt_at IS NULL AND r.first_contact_at IS NULL
       AND r.stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
       AND r.handed_at >= coalesce(since, '-infinity'::timestamptz)
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
     ORDER BY r.handed_at + interval '0', r.lead_id LIMIT lim)
    UNION ALL
    (SELECT r.handed_at, r.lead_id FROM report_leads r
     WHERE by_day AND owner IS NULL AND r.workspace_id = ws AND r.owner_id IS NULL
       AND r.handed_at IS NOT NULL AND r.first_feedback_at IS NULL
       AND r.first_attempt_at IS NULL AND r.first_contact_at IS NULL
       AND r.stage IN ('mql', 'sales_accepted', 'sales_qualified', 'opportunity')
       AND r.handed_at >= coalesce(since, '-infinity'::timestamptz)
       AND r.day >= coalesce(from_day, '-infinity'::date)
       AND r.day <= coalesce(to_day, 'infinity'::date)
     ORDER BY r.handed_at + interval '0', r.lead_id LIMIT lim)
$$;

--
-- Name: ll_routing_assign(uuid, public.leads, text, uuid, uuid, uuid, uuid, uuid[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_routing_assign(p_ws uuid, p_lead public.leads, p_reason text, p_key uuid, p_user uuid, p_pool uuid DEFAULT NULL::uuid, p_rule uuid DEFAULT NULL::uuid, p_exclude uuid[] DEFAULT '{}'::uuid[], OUT outcome text, OUT assignment public.lead_assignments) RETURNS record
    LANGUAGE plpgsql
    AS $$
DECLARE
    p record;
    v_turn bigint;
    v_sla integer;
BEGIN
    p := ll_routing_plan(p_ws, p_lead, true, p_pool, p_exclude);
    outcome := p.outcome;
    IF p.outcome NOT IN ('assigned', 'nobody_eligible') THEN
        RETURN;
    END IF;
    IF p.outcome = 'assigned' AND p.pool_id IS NOT NULL THEN
        UPDATE routing_pools SET turn = turn + 1
        WHERE workspace_id = p_ws AND id = p.pool_id
        RETURNING turn, reassign_after_minutes INTO v_turn, v_sla;
        UPDATE routing_pool_members SET assigned = assigned + 1, last_turn = v_turn,
                                        last_assigned_at = now()
        WHERE workspace_id = p_ws AND pool_id = p.pool_id AND user_id = p.owner_id;
    END IF;
    INSERT INTO lead_assignments (workspace_id, lead_id, rule_id, pool_id, previous_owner_id,
                                  owner_id, reason, outcome, skipped, by_key_id, by_user_id)
    VALUES (p_ws, p_lead.id, coalesce(p.rule_id, p_rule), p.pool_id, p_lead.owner_id,
            p.owner_id, p_reason, p.outcome, p.skipped, p_key, p_user)
    RETURNING * INTO assignment;
    IF v_sla IS NOT NULL THEN
        INSERT INTO routing_sla (workspace_id, lead_id, assignment_id, pool_id, owner_id,
                                 assigned_at, due_at)
        VALUES (p_ws, p_lead.id, assignment.id, p.pool_id, p.owner_id, assignment.at,
                assignment.at + make_interval(mins => v_sla))
        ON CONFLICT (workspace_id, lead_id) DO UPDATE
        SET assignment_id = excluded.assignment_id, pool_id = excluded.pool_id,
            owner_id = excluded.owner_id, assigned_at = excluded.assigned_at,
            due_at = excluded.due_at;
    ELSIF p.outcome = 'assigned' THEN
        DELETE FROM routing_sla WHERE workspace_id = p_ws AND lead_id = p_lead.id;
    END IF;
END
$$;

--
-- Name: ll_routing_in_hours(jsonb, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_routing_in_hours(h jsonb, t timestamp with time zone) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT (((EXTRACT(isodow FROM x.lt))::integer IN (SELECT (jsonb_array_elements_text((ll_routing_in_hours.h -> 'days'::text)))::integer AS jsonb_array_elements_text)) AND CASE WHEN (((ll_routing_in_hours.h ->> 'start'::text))::time without time zone < ((ll_routing_in_hours.h ->> 'end'::text))::time without time zone) THEN (((x.lt)::time without time zone >= ((ll_routing_in_hours.h ->> 'start'::text))::time without time zone) AND ((x.lt)::time without time zone < ((ll_routing_in_hours.h ->> 'end'::text))::time without time zone)) ELSE (((x.lt)::time without time zone >= ((ll_routing_in_hours.h ->> 'start'::text))::time without time zone) OR ((x.lt)::time without time zone < ((ll_routing_in_hours.h ->> 'end'::text))::time without time zone)) END) FROM (SELECT (ll_routing_in_hours.t AT TIME ZONE (ll_routing_in_hours.h ->> 'time_zone'::text)) AS lt) x);

--
-- Name: ll_routing_members(uuid, uuid, uuid[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_routing_members(p_ws uuid, p_pool uuid, p_exclude uuid[]) RETURNS TABLE(user_id uuid, weight integer, cap integer, assigned bigint, last_turn bigint, joined timestamp with time zone, open bigint, why text)
    LANGUAGE sql STABLE
    AS $$
    SELECT m.user_id, m.weight, m.cap, m.assigned, m.last_turn, m.created_at, o.open,
           CASE WHEN NOT u.active THEN 'inactive'
                WHEN m.user_id = ANY (p_exclude) THEN 'previous_owner'
                WHEN EXISTS (SELECT 1 FROM routing_absences a
                             WHERE a.workspace_id = p_ws AND a.user_id = m.user_id
                               AND a.ends_at > now() AND a.starts_at <= now()) THEN 'absent'
                WHEN m.hours IS NOT NULL AND NOT ll_routing_in_hours(m.hours, now())
                     THEN 'outside_hours'
                WHEN m.cap IS NOT NULL AND o.open >= m.cap THEN 'at_cap'
           END
    FROM routing_pool_members m
    JOIN users u ON u.workspace_id = m.workspace_id AND u.id = m.user_id
    CROSS JOIN LATERAL (SELECT count(*) AS open FROM leads l
                        WHERE l.workspace_id = p_ws AND l.owner_id = m.user_id
                          AND l.stage = 'mql') o
    WHERE m.workspace_id = p_ws AND m.pool_id = p_pool
$$;

--
-- Name: ll_routing_pick(uuid, uuid, uuid[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_routing_pick(p_ws uuid, p_pool uuid, p_exclude uuid[], OUT owner_id uuid, OUT skipped jsonb) RETURNS record
    LANGUAGE plpgsql STABLE
    AS $$
-- plpgsql, not SQL: its statement is planned once per connection (an SQL function called
-- for one row is planned on every call: 1 ms of a move's time).
DECLARE
    v_method text;
BEGIN
    SELECT p.method INTO v_method FROM routing_pools p WHERE p.workspace_id = p_ws AND p.id = p_pool;
    SELECT (array_agg(w.user_id ORDER BY
                      CASE v_method WHEN 'weighted' THEN (w.assigned + 1)::float8 / w.weight
                                    WHEN 'least_loaded' THEN w.open::float8 ELSE 0 END,
                      w.last_turn, w.joined, w.user_id) FILTER (WHERE w.why IS NULL))[1],
           coalesce(jsonb_agg(jsonb_build_object('user_id', w.user_id, 'why', w.why)
                              ORDER BY w.user_id) FILTER (WHERE w.why IS NOT NULL), '[]')
    INTO owner_id, skipped
    FROM ll_routing_members(p_ws, p_pool, p_exclude) w;
END
$$;

--
-- Name: ll_routing_plan(uuid, public.leads, boolean, uuid, uuid[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_routing_plan(p_ws uuid, p_lead public.leads, p_lock boolean, p_pool uuid DEFAULT NULL::uuid, p_exclude uuid[] DEFAULT '{}'::uuid[], OUT outcome text, OUT rule_id uuid, OUT pool_id uuid, OUT owner_id uuid, OUT skipped jsonb) RETURNS record
    LANGUAGE plpgsql
    AS $$
DECLARE
    r routing_rules;
    v_why text;
BEGIN
    skipped := '[]';
    pool_id := p_pool;
    IF p_pool IS NULL THEN
        r := ll_routing_rule(p_ws, p_lead);
        IF r.id IS NULL THEN
            outcome := 'no_rule';
            RETURN;
        END IF;
        rule_id := r.id;
        pool_id := r.target_pool_id;
        IF p_lead.owner_id IS NOT NULL AND NOT r.reassign_owned
           AND EXISTS (SELECT 1 FROM users u WHERE u.workspace_id = p_ws
                         AND u.id = p_lead.owner_id AND u.active) THEN
            outcome := 'kept_owner';
            owner_id := p_lead.owner_id;
            RETURN;
        END IF;
        IF r.target_user_id IS NOT NULL THEN
            v_why := ll_routing_user_why(p_ws, r.target_user_id);
            IF v_why IS NULL THEN
                outcome := 'assigned';
                owner_id := r.target_user_id;
            ELSE
                outcome := 'nobody_eligible';
                skipped := jsonb_build_array(jsonb_build_object('user_id', r.target_user_id,
                                                                'why', v_why));
            END IF;
            RETURN;
        END IF;
    END IF;
    IF p_lock THEN
        PERFORM 1 FROM routing_pools p WHERE p.workspace_id = p_ws AND p.id = pool_id FOR UPDATE;
    END IF;
    SELECT k.owner_id, k.skipped INTO owner_id, skipped
    FROM ll_routing_pick(p_ws, pool_id, p_exclude) k;
    outcome := CASE WHEN owner_id IS NULL THEN 'nobody_eligible' ELSE 'assigned' END;
END
$$;

--
-- Name: ll_routing_reassign_due(uuid, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_routing_reassign_due(p_ws uuid, p_limit integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    c record;
    s routing_sla;
    l leads;
    a record;
    v_ex uuid[];
    n integer := 0;
BEGIN
    FOR c IN SELECT workspace_id, lead_id FROM routing_sla
             WHERE due_at <= now() AND (p_ws IS NULL OR workspace_id = p_ws)
             ORDER BY due_at LIMIT p_limit LOOP
        SELECT * INTO l FROM leads WHERE workspace_id = c.workspace_id AND id = c.lead_id
        FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        DELETE FROM routing_sla WHERE workspace_id = c.workspace_id AND lead_id = c.lead_id
                                  AND due_at <= now()
        RETURNING * INTO s;
        CONTINUE WHEN NOT FOUND;
        n := n + 1;
        CONTINUE WHEN l.owner_id IS DISTINCT FROM s.owner_id OR l.stage <> 'mql'
                      OR l.erased_at IS NOT NULL OR l.merged_into IS NOT NULL
                      OR EXISTS (SELECT 1 FROM feedback f
                                 WHERE f.workspace_id = s.workspace_id AND f.lead_id = s.lead_id
                                   AND f.created_at >= s.assigned_at);
        SELECT array_agg(DISTINCT x.owner_id) INTO v_ex FROM lead_assignments x
        WHERE x.workspace_id = s.workspace_id AND x.lead_id = s.lead_id
          AND x.pool_id = s.pool_id AND x.owner_id IS NOT NULL;
        a := ll_routing_assign(s.workspace_id, l, 'reassigned_sla', NULL, NULL, s.pool_id,
                               (SELECT x.rule_id FROM lead_assignments x
                                WHERE x.workspace_id = s.workspace_id
                                  AND x.id = s.assignment_id),
                               coalesce(v_ex, '{}') || l.owner_id);
        IF a.outcome = 'assigned' THEN
            UPDATE leads SET owner_id = (a.assignment).owner_id, version = version + 1,
                             updated_at = now()
            WHERE workspace_id = s.workspace_id AND id = s.lead_id;
        END IF;
    END LOOP;
    RETURN n;
END
$$;

--
-- Name: routing_rules; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.routing_rules (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    "position" integer NOT NULL,
    name text,
    conditions jsonb DEFAULT '[]'::jsonb NOT NULL,
    target_user_id uuid,
    target_pool_id uuid,
    reassign_owned boolean DEFAULT false NOT NULL,
    CONSTRAINT routing_rules_check CHECK (((target_user_id IS NULL) <> (target_pool_id IS NULL))),
    CONSTRAINT routing_rules_name_check CHECK ((char_length(name) <= 200))
);

--
-- Name: ll_routing_rule(uuid, public.leads); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_routing_rule(p_ws uuid, p_lead public.leads) RETURNS public.routing_rules
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    r routing_rules;
    v_domain text := nullif(split_part(p_lead.email, '@', 2), '');
BEGIN
    SELECT * INTO r FROM routing_rules x
    WHERE x.workspace_id = p_ws
      AND NOT EXISTS (
          SELECT 1
          FROM jsonb_array_elements(x.conditions) c
          CROSS JOIN LATERAL (SELECT CASE c ->> 'field'
                                  WHEN 'source' THEN p_lead.source
                                  WHEN 'country' THEN p_lead.country
                                  WHEN 'company' THEN p_lead.company
                                  WHEN 'title' THEN p_lead.title
                                  WHEN 'email_domain' THEN v_domain
                                  WHEN 'first_campaign_id' THEN p_lead.first_campaign_id::text
                                  WHEN 'latest_campaign_id' THEN p_lead.latest_campaign_id::text
                                  WHEN 'score' THEN p_lead.score::text
                                  ELSE p_lead.custom ->> substr(c ->> 'field', 8)
                              END AS v) f
          WHERE NOT coalesce(CASE c ->> 'op'
                  WHEN 'gte' THEN f.v::numeric >= (c ->> 'value')::numeric
                  WHEN 'lte' THEN f.v::numeric <= (c ->> 'value')::numeric
                  WHEN 'eq' THEN lower(f.v) = lower(c ->> 'value')
                  WHEN 'contains' THEN strpos(lower(f.v), lower(c ->> 'value')) > 0
                  WHEN 'in' THEN lower(f.v) IN (SELECT lower(i)
                                                FROM jsonb_array_elements_text(c -> 'value') i)
              END, false))
    ORDER BY x.position
    LIMIT 1;
    RETURN r;
END
$$;

--
-- Name: routing_absences; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.routing_absences (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    starts_at timestamp with time zone NOT NULL,
    ends_at timestamp with time zone NOT NULL,
    note text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT routing_absences_check CHECK ((ends_at > starts_at)),
    CONSTRAINT routing_absences_note_check CHECK ((char_length(note) <= 500))
);

--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    email text NOT NULL,
    team text NOT NULL,
    active boolean DEFAULT true NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    role text NOT NULL,
    password_hash text,
    activated_at timestamp with time zone,
    CONSTRAINT users_email_check CHECK (((char_length(email) >= 3) AND (char_length(email) <= 254))),
    CONSTRAINT users_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200))),
    CONSTRAINT users_password_hash_check CHECK ((password_hash ~~ '$argon2id$%'::text)),
    CONSTRAINT users_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'marketing'::text, 'sales'::text, 'readonly'::text]))),
    CONSTRAINT users_team_check CHECK ((team = ANY (ARRAY['marketing'::text, 'sales'::text])))
);

--
-- Name: ll_routing_user_why(uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_routing_user_why(p_ws uuid, p_user uuid) RETURNS text
    LANGUAGE sql STABLE
    RETURN (SELECT CASE WHEN (NOT u.active) THEN 'inactive'::text WHEN (EXISTS (SELECT 1 FROM public.routing_absences a WHERE ((a.workspace_id = ll_routing_user_why.p_ws) AND (a.user_id = ll_routing_user_why.p_user) AND (a.ends_at > now()) AND (a.starts_at <= now())))) THEN 'absent'::text ELSE NULL::text END AS "case" FROM public.users u WHERE ((u.workspace_id = ll_routing_user_why.p_ws) AND (u.id = ll_routing_user_why.p_user)));

--
-- Name: ll_score_band(smallint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_band(score smallint) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT (CASE WHEN score >= 90 THEN 90 ELSE score / 10 * 10 END)::smallint
$$;

--
-- Name: ll_score_days(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_days(d jsonb) RETURNS numeric
    LANGUAGE sql IMMUTABLE
    AS $_$
    SELECT CASE
        WHEN jsonb_typeof(d) = 'number' AND d::text ~ '^[0-9]{1,4}$'
             AND d::text::integer BETWEEN 1 AND 3650 THEN d::text::numeric
        WHEN jsonb_typeof(d) = 'string' AND d #>> '{}' ~ '^P([0-9]{1,3}W)?([0-9]{1,4}D)?$'
             AND d #>> '{}' <> 'P' THEN
            (SELECT n FROM (SELECT coalesce(substring(d #>> '{}' FROM '([0-9]+)W')::numeric * 7, 0)
                                 + coalesce(substring(d #>> '{}' FROM '([0-9]+)D')::numeric, 0) AS n) x
             WHERE n BETWEEN 1 AND 3650)
    END
$_$;

--
-- Name: ll_score_decay(integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_decay(lim integer) RETURNS integer
    LANGUAGE plpgsql
    SET random_page_cost TO '1.1'
    AS $$
DECLARE
    ws uuid; ids uuid[];
BEGIN
    SELECT s.workspace_id INTO ws FROM lead_scores s
    WHERE s.engagement > 0 AND s.scored_at < now() - interval '1 day'
    ORDER BY s.scored_at LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    ids := ARRAY(SELECT l.id FROM leads l
                 WHERE l.workspace_id = ws
                   AND l.id IN (SELECT s.lead_id FROM lead_scores s
                                WHERE s.workspace_id = ws AND s.engagement > 0
                                  AND s.scored_at < now() - interval '1 day'
                                ORDER BY s.scored_at LIMIT lim)
                 ORDER BY l.id FOR NO KEY UPDATE SKIP LOCKED);
    IF cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM ll_score_leads(ws, ids, 'decay');
    UPDATE lead_scores SET scored_at = now()
    WHERE workspace_id = ws AND lead_id = ANY (ids) AND scored_at < now() - interval '1 day';
    RETURN cardinality(ids);
END
$$;

--
-- Name: ll_score_fields(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_fields() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT ARRAY['source', 'country', 'title', 'company', 'email', 'email_domain',
                 'first_campaign', 'latest_campaign', 'utm_source', 'utm_medium',
                 'utm_campaign', 'utm_term', 'utm_content']
$$;

--
-- Name: ll_score_leads(uuid, uuid[], text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_leads(ws uuid, ids uuid[], p_cause text) RETURNS integer
    LANGUAGE plpgsql
    SET jit TO 'off'
    SET random_page_cost TO '1.1'
    AS $$
DECLARE
    s scoring_runs; n integer; mv uuid[]; v_id uuid; live uuid[];
    m_ids uuid[]; m_dims smallint[]; m_bands smallint[]; m_signs integer[];
BEGIN
    SELECT * INTO s FROM scoring_runs WHERE workspace_id = ws;
    IF NOT FOUND OR cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;
    -- the leads' rows first, as a refresh of their report facts locks them: a rescore and a
    -- write of the same lead take their locks in one order, and a band is moved below with
    -- the lead's facts as committed (ll_report_band_deltas)
    PERFORM 1 FROM leads WHERE workspace_id = ws AND leads.id = ANY (ids) ORDER BY leads.id
        FOR NO KEY UPDATE;
    live := ARRAY(SELECT l.id FROM leads l WHERE l.workspace_id = ws AND l.id = ANY (ids)
                  AND l.merged_into IS NULL AND l.erased_at IS NULL);
    -- the ledger is upserted: a row whose points did not change is not written again (a
    -- republish touches only what the new version changes), and rows no rule gives any more go
    WITH l AS MATERIALIZED (
        SELECT * FROM leads WHERE workspace_id = ws AND leads.id = ANY (live)
    ), fit AS (
        SELECT l.id AS lead_id, r.kind, r.grp, r.rule_id, r.points
        FROM l JOIN scoring_rules r ON r.workspace_id = ws AND r.version = s.version AND r.kind = 'fit'
        CROSS JOIN LATERAL (SELECT lower(CASE r.field
                WHEN 'source' THEN l.source WHEN 'country' THEN l.country
                WHEN 'title' THEN l.title WHEN 'company' THEN l.company WHEN 'email' THEN l.email
                WHEN 'email_domain' THEN nullif(split_part(l.email, '@', 2), '')
                WHEN 'first_campaign' THEN l.first_campaign_id::text
                WHEN 'latest_campaign' THEN l.latest_campaign_id::text
                WHEN 'utm_source' THEN l.utm_source WHEN 'utm_medium' THEN l.utm_medium
                WHEN 'utm_campaign' THEN l.utm_campaign WHEN 'utm_term' THEN l.utm_term
                WHEN 'utm_content' THEN l.utm_content
                ELSE l.custom ->> substr(r.field, 8) END) AS val) f
        WHERE CASE r.op
                WHEN 'exists' THEN coalesce(f.val <> '', false)
                WHEN 'eq' THEN coalesce(f.val = r.vals[1], false)
                WHEN 'ne' THEN f.val IS DISTINCT FROM r.vals[1]
                WHEN 'in' THEN coalesce(f.val = ANY (r.vals), false)
                WHEN 'not_in' THEN NOT coalesce(f.val = ANY (r.vals), false)
                WHEN 'contains' THEN coalesce(strpos(f.val, r.vals[1]) > 0, false)
                ELSE coalesce(ll_score_num(f.val) >= coalesce(r.num_min, ll_score_num(f.val))
                              AND ll_score_num(f.val) <= coalesce(r.num_max, ll_score_num(f.val)), false)
              END
    ), engagement AS (
        SELECT t.lead_id, r.kind, r.grp, r.rule_id,
               round(sum(r.points * CASE
                   WHEN r.half_life_days IS NOT NULL THEN
                       power(0.5::float8, greatest(0::float8, extract(epoch FROM now() - t.occurred_at)::float8)
                                          / 86400 / r.half_life_days::float8)
                   WHEN r.halve_after_days IS NOT NULL
                        AND t.occurred_at <= now() - r.halve_after_days * interval '1 day' THEN 0.5::float8
                   ELSE 1::float8 END))::integer AS points
        FROM (SELECT 'touch' AS source, lead_id, kind, campaign_id, occurred_at
              FROM campaign_touches WHERE workspace_id = ws AND lead_id = ANY (live)
              UNION ALL
              SELECT 'interaction', lead_id, kind, campaign_id, occurred_at
              FROM interactions WHERE workspace_id = ws AND lead_id = ANY (live)) t
        JOIN scoring_rules r ON r.workspace_id = ws AND r.version = s.version
             AND r.kind = 'engagement' AND r.event_source = t.source AND r.event_kind = t.kind
             AND (r.campaign_id IS NULL OR r.campaign_id = t.campaign_id)
        GROUP BY 1, 2, 3, 4
    ), raw AS (
        SELECT * FROM fit UNION ALL SELECT * FROM engagement
    ), grp AS (
        SELECT raw.lead_id, raw.kind, raw.grp, sum(raw.points) AS sum,
               least(sum(raw.points), coalesce(min(g.cap), sum(raw.points))) AS kept
        FROM raw JOIN scoring_groups g ON g.workspace_id = ws AND g.version = s.version AND g.name = raw.grp
        GROUP BY 1, 2, 3
    ), tot AS (
        SELECT lead_id, kind, sum(kept) AS sum FROM grp GROUP BY 1, 2
    ), new AS MATERIALIZED (
        SELECT lead_id, kind, grp, rule_id, points, NULL::text AS adjust FROM raw WHERE points <> 0
        UNION ALL
        SELECT lead_id, kind, grp, '', (kept - sum)::integer, 'cap' FROM grp WHERE kept < sum
        UNION ALL
        SELECT lead_id, kind, '', '', (greatest(0, least(100, sum)) - sum)::integer, 'clamp'
        FROM tot WHERE sum NOT BETWEEN 0 AND 100
    ), gone AS (
        DELETE FROM lead_score_points p WHERE p.workspace_id = ws AND p.lead_id = ANY (ids)
            AND NOT EXISTS (SELECT 1 FROM new n WHERE n.lead_id = p.lead_id AND n.kind = p.kind
                            AND n.grp = p.grp AND n.rule_id = p.rule_id)
    )
    INSERT INTO lead_score_points AS p (workspace_id, lead_id, kind, grp, rule_id, points, version, adjust)
    SELECT ws, lead_id, kind, grp, rule_id, points, s.version, adjust FROM new
    ON CONFLICT (workspace_id, lead_id, kind, grp, rule_id) DO UPDATE
    SET points = EXCLUDED.points, version = EXCLUDED.version, adjust = EXCLUDED.adjust
    WHERE (p.points, p.adjust) IS DISTINCT FROM (EXCLUDED.points, EXCLUDED.adjust);

    -- merged and erased leads lose their scores, and their figures their bands
    IF cardinality(live) < cardinality(ids) THEN
        WITH gone AS (
            DELETE FROM lead_scores o WHERE o.workspace_id = ws
                AND o.lead_id = ANY (ARRAY(SELECT unnest(ids) EXCEPT SELECT unnest(live)))
            RETURNING o.lead_id, o.fit, o.engagement)
        SELECT array_agg(g.lead_id), array_agg(v.dim), array_agg(v.band), array_agg(-1)
        INTO m_ids, m_dims, m_bands, m_signs
        FROM gone g
        CROSS JOIN LATERAL (VALUES (5::smallint, ll_score_band(g.fit)),
                                   (6::smallint, ll_score_band(g.engagement))) v (dim, band);
        IF m_ids IS NOT NULL THEN
            PERFORM ll_report_band_deltas(ws, m_ids, m_dims, m_bands, m_signs);
        END IF;
    END IF;
    -- per lead, index lookups: subplans, which the planner never turns into a hash join
    -- over the workspace's million rows (the ledger's statistics may lag behind a rescore)
    WITH cur AS (
        SELECT l.id AS lead_id, l.stage, coalesce(p.fit, 0)::smallint AS fit,
               coalesce(p.engagement, 0)::smallint AS engagement,
               (SELECT x FROM lead_scores x WHERE x.workspace_id = ws AND x.lead_id = l.id) AS o
        FROM leads l
        CROSS JOIN LATERAL (SELECT sum(q.points) FILTER (WHERE q.kind = 'fit') AS fit,
                                   sum(q.points) FILTER (WHERE q.kind = 'engagement') AS engagement
                            FROM lead_score_points q
                            WHERE q.workspace_id = ws AND q.lead_id = l.id) p
        WHERE l.workspace_id = ws AND l.id = ANY (live)
    ), old AS (
        SELECT cur.lead_id, (cur.o).fit, (cur.o).engagement FROM cur WHERE cur.o IS NOT NULL
    ), up AS (
        INSERT INTO lead_scores AS x (workspace_id, lead_id, fit, engagement, version, scored_at)
        SELECT ws, cur.lead_id, cur.fit, cur.engagement, s.version, now() FROM cur
        ON CONFLICT (workspace_id, lead_id) DO UPDATE
        SET fit = EXCLUDED.fit, engagement = EXCLUDED.engagement, version = EXCLUDED.version,
            scored_at = EXCLUDED.scored_at
        WHERE (x.fit, x.engagement, x.version) IS DISTINCT FROM
              (EXCLUDED.fit, EXCLUDED.engagement, EXCLUDED.version)
        RETURNING x.lead_id
    ), ch AS (
        INSERT INTO lead_score_changes (workspace_id, lead_id, version, cause, fit_from, fit_to,
                                        engagement_from, engagement_to, crossed, moved_to)
        SELECT ws, cur.lead_id, s.version, p_cause, old.fit, cur.fit, old.engagement, cur.engagement,
               c.crossed, CASE WHEN c.crossed AND cur.stage IN ('new', 'recycled') THEN 'mql' END
        FROM cur LEFT JOIN old ON old.lead_id = cur.lead_id
        CROSS JOIN LATERAL (SELECT ll_score_meets(s, cur.fit, cur.engagement)
                                   AND NOT coalesce(ll_score_meets(s, old.fit, old.engagement), false)
                                   AS crossed) c
        WHERE (old.fit, old.engagement) IS DISTINCT FROM (cur.fit, cur.engagement)
          AND (old.lead_id IS NOT NULL OR cur.fit <> 0 OR cur.engagement <> 0 OR c.crossed)
        RETURNING lead_id, moved_to
    ), bands AS (
        -- a lead whose score moved to another band: its figures leave the old band of the
        -- kept report figures (dimensions 5 and 6) and join the new one
        SELECT cur.lead_id, v.dim, v.band, v.sign
        FROM cur
        CROSS JOIN LATERAL (VALUES (5::smallint, ll_score_band((cur.o).fit), -1),
                                   (5::smallint, ll_score_band(cur.fit), 1),
                                   (6::smallint, ll_score_band((cur.o).engagement), -1),
                                   (6::smallint, ll_score_band(cur.engagement), 1))
            v (dim, band, sign)
        WHERE v.band IS NOT NULL
          AND CASE v.dim WHEN 5 THEN ll_score_band((cur.o).fit) IS DISTINCT FROM ll_score_band(cur.fit)
                         ELSE ll_score_band((cur.o).engagement)
                              IS DISTINCT FROM ll_score_band(cur.engagement) END
    )
    SELECT (SELECT count(*) FROM cur), (SELECT array_agg(lead_id ORDER BY lead_id) FROM ch WHERE moved_to IS NOT NULL),
           b.ids, b.dims, b.bands, b.signs
    INTO n, mv, m_ids, m_dims, m_bands, m_signs
    FROM (SELECT array_agg(lead_id) AS ids, array_agg(dim) AS dims, array_agg(band) AS bands,
                 array_agg(sign) AS signs FROM bands) b;
    IF m_ids IS NOT NULL THEN
        PERFORM ll_report_band_deltas(ws, m_ids, m_dims, m_bands, m_signs);
    END IF;
    FOREACH v_id IN ARRAY coalesce(mv, '{}') LOOP
        PERFORM 1 FROM leads WHERE workspace_id = ws AND leads.id = v_id AND stage IN ('new', 'recycled') FOR UPDATE;
        IF FOUND THEN
            PERFORM ll_lead_move(ws, v_id, 'mql', format('score threshold (scoring version %s)', s.version),
                                 NULL, NULL, NULL);
        END IF;
    END LOOP;
    RETURN n;
END
$$;

--
-- Name: scoring_runs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.scoring_runs (
    workspace_id uuid NOT NULL,
    version integer NOT NULL,
    threshold_fit smallint,
    threshold_engagement smallint,
    threshold_mode text,
    total bigint DEFAULT 0 NOT NULL,
    done bigint DEFAULT 0 NOT NULL,
    after_id uuid,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    CONSTRAINT scoring_runs_threshold_mode_check CHECK ((threshold_mode = ANY (ARRAY['both'::text, 'either'::text])))
);

--
-- Name: ll_score_meets(public.scoring_runs, integer, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_meets(s public.scoring_runs, fit integer, engagement integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT CASE WHEN s.threshold_mode IS NULL THEN false
                WHEN s.threshold_mode = 'both' THEN
                    (s.threshold_fit IS NULL OR fit >= s.threshold_fit)
                    AND (s.threshold_engagement IS NULL OR engagement >= s.threshold_engagement)
                ELSE coalesce(fit >= s.threshold_fit, false)
                     OR coalesce(engagement >= s.threshold_engagement, false) END
$$;

--
-- Name: ll_score_num(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_num(t text) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
    SELECT CASE WHEN t ~ '^\s*-?[0-9]{1,15}(\.[0-9]{1,10})?\s*$' THEN t::numeric END
$_$;

--
-- Name: ll_score_on_interactions(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_on_interactions() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    ws uuid; ids uuid[];
BEGIN
    FOR ws, ids IN SELECT w.workspace_id, array_agg(DISTINCT w.lead_id) FROM written w
                   WHERE EXISTS (SELECT 1 FROM scoring_runs s WHERE s.workspace_id = w.workspace_id)
                   GROUP BY 1 LOOP
        PERFORM ll_score_leads(ws, ids, 'interaction');
    END LOOP;
    RETURN NULL;
END
$$;

--
-- Name: ll_score_on_leads_insert(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_on_leads_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    ws uuid; ids uuid[];
BEGIN
    -- (not twice: a lead its created touch's trigger scored already, as above)
    FOR ws, ids IN SELECT w.workspace_id, array_agg(w.id) FROM written w
                   WHERE EXISTS (SELECT 1 FROM scoring_runs s WHERE s.workspace_id = w.workspace_id)
                     AND NOT (SELECT EXISTS (
                         SELECT 1 FROM leads t JOIN lead_scores f
                             ON f.workspace_id = t.workspace_id AND f.lead_id = t.id
                         WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                           AND f.xmin = t.xmin
                           AND f.cmin::text::bigint > t.cmin::text::bigint))
                   GROUP BY 1 LOOP
        PERFORM ll_score_leads(ws, ids, 'lead');
    END LOOP;
    RETURN NULL;
END
$$;

--
-- Name: ll_score_on_leads_update(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_on_leads_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    ws uuid; ids uuid[];
BEGIN
    FOR ws, ids IN SELECT w.workspace_id, array_agg(w.id) FROM written w
                   JOIN previous p ON p.workspace_id = w.workspace_id AND p.id = w.id
                   WHERE (w.source, w.country, w.title, w.company, w.email, w.custom,
                          w.first_campaign_id, w.latest_campaign_id, w.utm_source, w.utm_medium,
                          w.utm_campaign, w.utm_term, w.utm_content, w.merged_into, w.erased_at)
                         IS DISTINCT FROM
                         (p.source, p.country, p.title, p.company, p.email, p.custom,
                          p.first_campaign_id, p.latest_campaign_id, p.utm_source, p.utm_medium,
                          p.utm_campaign, p.utm_term, p.utm_content, p.merged_into, p.erased_at)
                     AND EXISTS (SELECT 1 FROM scoring_runs s WHERE s.workspace_id = w.workspace_id)
                   GROUP BY 1 LOOP
        PERFORM ll_score_leads(ws, ids, 'lead');
    END LOOP;
    RETURN NULL;
END
$$;

--
-- Name: ll_score_on_touches(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_on_touches() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    ws uuid; ids uuid[];
BEGIN
    -- A lead scored after the touch was written, by another trigger of the same statement
    -- (a batch creating leads with their created touch: the leads' insert scored them,
    -- and saw the touches), is not scored twice; the test is the report triggers' (a row
    -- of the same transaction with a higher command id), per touch, through the keys.
    FOR ws, ids IN SELECT w.workspace_id, array_agg(DISTINCT w.lead_id) FROM written w
                   WHERE EXISTS (SELECT 1 FROM scoring_runs s WHERE s.workspace_id = w.workspace_id)
                     AND NOT (SELECT EXISTS (
                         SELECT 1 FROM campaign_touches t JOIN lead_scores f
                             ON f.workspace_id = t.workspace_id AND f.lead_id = t.lead_id
                         WHERE t.workspace_id = w.workspace_id AND t.id = w.id
                           AND f.xmin = t.xmin
                           AND f.cmin::text::bigint > t.cmin::text::bigint))
                   GROUP BY 1 LOOP
        PERFORM ll_score_leads(ws, ids, 'touch');
    END LOOP;
    RETURN NULL;
END
$$;

--
-- Name: ll_score_step(integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_score_step(lim integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    l scoring_run_lanes; ids uuid[]; n integer;
BEGIN
    SELECT x.* INTO l FROM scoring_run_lanes x
    JOIN scoring_runs r ON r.workspace_id = x.workspace_id
    WHERE x.finished_at IS NULL AND r.finished_at IS NULL
    ORDER BY r.started_at, x.lane LIMIT 1 FOR UPDATE OF x SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN ll_score_decay(lim);
    END IF;
    ids := ARRAY(SELECT d.id FROM leads d WHERE d.workspace_id = l.workspace_id
                 AND (l.after_id IS NULL OR d.id > l.after_id)
                 AND (l.from_id IS NULL OR d.id >= l.from_id)
                 AND (l.below_id IS NULL OR d.id < l.below_id)
                 AND d.merged_into IS NULL AND d.erased_at IS NULL
                 ORDER BY d.id LIMIT lim);
    n := cardinality(ids);
    PERFORM ll_score_leads(l.workspace_id, ids, 'publish');
    UPDATE scoring_run_lanes SET done = done + n, after_id = coalesce(ids[n], after_id),
                                 finished_at = CASE WHEN n < lim THEN clock_timestamp() END
    WHERE workspace_id = l.workspace_id AND lane = l.lane;
    IF n < lim THEN
        PERFORM 1 FROM scoring_runs WHERE workspace_id = l.workspace_id FOR UPDATE;
        UPDATE scoring_runs r
        SET done = x.done, total = x.done, finished_at = clock_timestamp()
        FROM (SELECT sum(done)::bigint AS done FROM scoring_run_lanes
              WHERE workspace_id = l.workspace_id) x
        WHERE r.workspace_id = l.workspace_id AND r.finished_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM scoring_run_lanes y
                          WHERE y.workspace_id = l.workspace_id AND y.finished_at IS NULL);
    END IF;
    RETURN greatest(n, 1);
END
$$;

--
-- Name: ll_scoring_check(uuid, jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_scoring_check(ws uuid, doc jsonb) RETURNS TABLE(field text, message text)
    LANGUAGE plpgsql STABLE
    AS $_$
DECLARE
    g jsonb; r jsonb; k text; i integer; p text; kinds jsonb := '{}'; ids text[] := '{}';
    v jsonb; op text; f text; ev text; kind text; n integer;
    touch_kinds text[] := ARRAY['sent', 'opened', 'clicked', 'responded', 'registered',
                                'attended', 'visited', 'created'];
    interaction_kinds text[] := ARRAY['call', 'email', 'meeting', 'note', 'message', 'form',
                                      'ticket'];
BEGIN
    IF jsonb_typeof(doc) <> 'object' THEN
        field := ''; message := 'must be an object with groups, rules and threshold'; RETURN NEXT;
        RETURN;
    END IF;
    FOR k IN SELECT jsonb_object_keys(doc) LOOP
        IF k NOT IN ('groups', 'rules', 'threshold') THEN
            field := k; message := 'is not a field of a rule set (groups, rules, threshold)';
            RETURN NEXT;
        END IF;
    END LOOP;
    -- groups
    IF jsonb_typeof(doc -> 'groups') IS DISTINCT FROM 'array' OR jsonb_array_length(doc -> 'groups') > 50 THEN
        field := 'groups'; message := 'must be a list of at most 50 groups'; RETURN NEXT;
    ELSE
        FOR i IN 0 .. jsonb_array_length(doc -> 'groups') - 1 LOOP
            g := doc -> 'groups' -> i; p := format('groups[%s]', i);
            IF jsonb_typeof(g) <> 'object' THEN
                field := p; message := 'must be an object with name, score and cap'; RETURN NEXT;
                CONTINUE;
            END IF;
            FOR k IN SELECT jsonb_object_keys(g) LOOP
                IF k NOT IN ('name', 'score', 'cap') THEN
                    field := p || '.' || k; message := 'is not a field of a group (name, score, cap)';
                    RETURN NEXT;
                END IF;
            END LOOP;
            IF jsonb_typeof(g -> 'name') IS DISTINCT FROM 'string'
               OR NOT (g ->> 'name') ~ '^[A-Za-z0-9_.-]{1,64}$' THEN
                field := p || '.name'; message := 'must be 1 to 64 letters, digits, _ . or -'; RETURN NEXT;
            ELSIF kinds ? (g ->> 'name') THEN
                field := p || '.name'; message := 'names a group twice'; RETURN NEXT;
            ELSIF (g ->> 'score') IN ('fit', 'engagement') AND jsonb_typeof(g -> 'score') = 'string' THEN
                kinds := kinds || jsonb_build_object(g ->> 'name', g ->> 'score');
            END IF;
            IF jsonb_typeof(g -> 'score') IS DISTINCT FROM 'string' OR (g ->> 'score') NOT IN ('fit', 'engagement') THEN
                field := p || '.score'; message := 'must be fit or engagement'; RETURN NEXT;
            END IF;
            IF g ? 'cap' AND jsonb_typeof(g -> 'cap') <> 'null' AND
               (jsonb_typeof(g -> 'cap') <> 'number' OR NOT (g ->> 'cap') ~ '^-?[0-9]{1,6}$'
                OR (g ->> 'cap')::integer NOT BETWEEN 0 AND 100) THEN
                field := p || '.cap'; message := 'must be a whole number from 0 to 100, or null (no cap)';
                RETURN NEXT;
            END IF;
        END LOOP;
    END IF;
    -- rules
    IF jsonb_typeof(doc -> 'rules') IS DISTINCT FROM 'array' OR jsonb_array_length(doc -> 'rules') > 200 THEN
        field := 'rules'; message := 'must be a list of at most 200 rules'; RETURN NEXT;
    ELSE
        FOR i IN 0 .. jsonb_array_length(doc -> 'rules') - 1 LOOP
            r := doc -> 'rules' -> i; p := format('rules[%s]', i);
            IF jsonb_typeof(r) <> 'object' THEN
                field := p; message := 'must be an object'; RETURN NEXT;
                CONTINUE;
            END IF;
            FOR k IN SELECT jsonb_object_keys(r) LOOP
                IF k NOT IN ('id', 'group', 'points', 'field', 'op', 'value', 'event',
                             'campaign_id', 'decay') THEN
                    field := p || '.' || k;
                    message := 'is not a field of a rule (id, group, points, field, op, value, event, campaign_id, decay)';
                    RETURN NEXT;
                END IF;
            END LOOP;
            IF jsonb_typeof(r -> 'id') IS DISTINCT FROM 'string'
               OR NOT (r ->> 'id') ~ '^[A-Za-z0-9_.-]{1,64}$' THEN
                field := p || '.id'; message := 'must be 1 to 64 letters, digits, _ . or -'; RETURN NEXT;
            ELSIF (r ->> 'id') = ANY (ids) THEN
                field := p || '.id'; message := 'names a rule twice'; RETURN NEXT;
            ELSE
                ids := ids || (r ->> 'id');
            END IF;
            IF jsonb_typeof(r -> 'points') IS DISTINCT FROM 'number' OR NOT (r ->> 'points') ~ '^-?[0-9]{1,6}$'
               OR (r ->> 'points')::integer NOT BETWEEN -100 AND 100 OR (r ->> 'points')::integer = 0 THEN
                field := p || '.points'; message := 'must be a whole number from -100 to 100, not 0';
                RETURN NEXT;
            END IF;
            kind := kinds ->> (r ->> 'group');
            IF jsonb_typeof(r -> 'group') IS DISTINCT FROM 'string' OR kind IS NULL THEN
                field := p || '.group'; message := 'must name a group of groups'; RETURN NEXT;
                CONTINUE;
            END IF;
            IF kind = 'fit' THEN
                FOR k IN SELECT x FROM unnest(ARRAY['event', 'campaign_id', 'decay']) x WHERE r ? x LOOP
                    field := p || '.' || k; message := 'belongs to engagement rules; this rule''s group is a fit group';
                    RETURN NEXT;
                END LOOP;
                f := r ->> 'field'; op := r ->> 'op'; v := r -> 'value';
                IF jsonb_typeof(r -> 'field') IS DISTINCT FROM 'string'
                   OR NOT (f = ANY (ll_score_fields()) OR f ~ '^custom\.[A-Za-z0-9_]{1,64}$') THEN
                    field := p || '.field';
                    message := 'must be one of ' || array_to_string(ll_score_fields(), ', ') || ', or custom.<name>';
                    RETURN NEXT;
                END IF;
                IF jsonb_typeof(r -> 'op') IS DISTINCT FROM 'string'
                   OR op NOT IN ('eq', 'ne', 'in', 'not_in', 'contains', 'exists', 'gte', 'lte', 'between') THEN
                    field := p || '.op'; message := 'must be eq, ne, in, not_in, contains, exists, gte, lte or between';
                    RETURN NEXT;
                ELSIF op IN ('eq', 'ne', 'contains') AND (jsonb_typeof(v) IS DISTINCT FROM 'string'
                      OR char_length(v #>> '{}') NOT BETWEEN 1 AND 200) THEN
                    field := p || '.value'; message := 'must be a text of 1 to 200 characters'; RETURN NEXT;
                ELSIF op IN ('in', 'not_in') AND (jsonb_typeof(v) IS DISTINCT FROM 'array'
                      OR jsonb_array_length(v) NOT BETWEEN 1 AND 500
                      OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) e
                                 WHERE jsonb_typeof(e) <> 'string' OR char_length(e #>> '{}') NOT BETWEEN 1 AND 200)) THEN
                    field := p || '.value';
                    message := CASE WHEN jsonb_typeof(v) = 'array' AND jsonb_array_length(v) = 0
                                    THEN 'is an empty list: the rule could never match'
                                    ELSE 'must be a list of 1 to 500 texts' END;
                    RETURN NEXT;
                ELSIF op = 'exists' AND v IS NOT NULL THEN
                    field := p || '.value'; message := 'must be left out for exists'; RETURN NEXT;
                ELSIF op IN ('gte', 'lte') AND (jsonb_typeof(v) IS DISTINCT FROM 'number' OR ll_score_num(v::text) IS NULL) THEN
                    field := p || '.value'; message := 'must be a number'; RETURN NEXT;
                ELSIF op = 'between' THEN
                    IF jsonb_typeof(v) IS DISTINCT FROM 'object' OR jsonb_typeof(v -> 'min') IS DISTINCT FROM 'number'
                       OR jsonb_typeof(v -> 'max') IS DISTINCT FROM 'number'
                       OR (SELECT count(*) FROM jsonb_object_keys(v)) <> 2
                       OR ll_score_num(v ->> 'min') IS NULL OR ll_score_num(v ->> 'max') IS NULL THEN
                        field := p || '.value'; message := 'must be {"min": number, "max": number}'; RETURN NEXT;
                    ELSIF (v ->> 'min')::numeric > (v ->> 'max')::numeric THEN
                        field := p || '.value.min'; message := 'is above max: the rule could never match'; RETURN NEXT;
                    END IF;
                END IF;
                IF op IN ('gte', 'lte', 'between') AND NOT f LIKE 'custom.%' THEN
                    field := p || '.op'; message := 'compares numbers: only custom fields hold them'; RETURN NEXT;
                END IF;
                IF f IN ('first_campaign', 'latest_campaign') AND op IN ('eq', 'ne') AND jsonb_typeof(v) = 'string'
                   AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.workspace_id = ws
                                   AND c.id::text = lower(v #>> '{}')) THEN
                    field := p || '.value'; message := 'is not a campaign of this workspace'; RETURN NEXT;
                END IF;
            ELSE
                FOR k IN SELECT x FROM unnest(ARRAY['field', 'op', 'value']) x WHERE r ? x LOOP
                    field := p || '.' || k; message := 'belongs to fit rules; this rule''s group is an engagement group';
                    RETURN NEXT;
                END LOOP;
                ev := r ->> 'event';
                IF jsonb_typeof(r -> 'event') IS DISTINCT FROM 'string'
                   OR NOT ((ev LIKE 'touch:%' AND substr(ev, 7) = ANY (touch_kinds))
                           OR (ev LIKE 'interaction:%' AND substr(ev, 13) = ANY (interaction_kinds))) THEN
                    field := p || '.event';
                    message := 'must be touch:<kind> (' || array_to_string(touch_kinds, ', ')
                               || ') or interaction:<kind> (' || array_to_string(interaction_kinds, ', ') || ')';
                    RETURN NEXT;
                END IF;
                IF r ? 'campaign_id' AND jsonb_typeof(r -> 'campaign_id') <> 'null' AND (
                   jsonb_typeof(r -> 'campaign_id') <> 'string'
                   OR NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.workspace_id = ws
                                  AND c.id::text = lower(r ->> 'campaign_id'))) THEN
                    field := p || '.campaign_id'; message := 'is not a campaign of this workspace'; RETURN NEXT;
                END IF;
                IF r ? 'decay' AND jsonb_typeof(r -> 'decay') <> 'null' THEN
                    IF jsonb_typeof(r -> 'decay') <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(r -> 'decay')) <> 1
                       OR NOT (r -> 'decay' ?| ARRAY['half_life', 'halve_after']) THEN
                        field := p || '.decay'; message := 'must be {"half_life": duration} or {"halve_after": duration}';
                        RETURN NEXT;
                    ELSE
                        k := (SELECT x FROM jsonb_object_keys(r -> 'decay') x);
                        IF ll_score_days(r -> 'decay' -> k) IS NULL THEN
                            field := p || '.decay.' || k;
                            message := 'must be a duration: days from 1 to 3650, or ISO 8601 weeks and days (P30D, P4W)';
                            RETURN NEXT;
                        END IF;
                    END IF;
                END IF;
            END IF;
        END LOOP;
    END IF;
    -- threshold
    v := doc -> 'threshold';
    IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
        IF jsonb_typeof(v) <> 'object' THEN
            field := 'threshold'; message := 'must be {"fit": n, "engagement": n, "mode": "both" | "either"} or null';
            RETURN NEXT;
        ELSE
            FOR k IN SELECT jsonb_object_keys(v) LOOP
                IF k NOT IN ('fit', 'engagement', 'mode') THEN
                    field := 'threshold.' || k; message := 'is not a field of a threshold (fit, engagement, mode)';
                    RETURN NEXT;
                END IF;
            END LOOP;
            n := 0;
            FOREACH k IN ARRAY ARRAY['fit', 'engagement'] LOOP
                IF v ? k AND jsonb_typeof(v -> k) <> 'null' THEN
                    n := n + 1;
                    IF jsonb_typeof(v -> k) <> 'number' OR NOT (v ->> k) ~ '^-?[0-9]{1,6}$'
                       OR (v ->> k)::integer NOT BETWEEN 0 AND 100 THEN
                        field := 'threshold.' || k; message := 'must be a whole number from 0 to 100'; RETURN NEXT;
                    END IF;
                END IF;
            END LOOP;
            IF n = 0 THEN
                field := 'threshold'; message := 'must give fit, engagement or both'; RETURN NEXT;
            END IF;
            IF v ? 'mode' AND (jsonb_typeof(v -> 'mode') <> 'string' OR (v ->> 'mode') NOT IN ('both', 'either')) THEN
                field := 'threshold.mode'; message := 'must be both or either'; RETURN NEXT;
            END IF;
        END IF;
    END IF;
END
$_$;

--
-- Name: ll_scoring_publish(uuid, integer, uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_scoring_publish(ws uuid, draft_version integer, by_key uuid, by_user uuid) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    d scoring_drafts; v integer; t jsonb; n bigint;
BEGIN
    SELECT * INTO d FROM scoring_drafts WHERE workspace_id = ws FOR UPDATE;
    IF NOT FOUND OR (draft_version IS NOT NULL AND d.version <> draft_version) THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('ll_scoring_publish'), hashtext(ws::text));
    SELECT coalesce(max(version), 0) + 1 INTO v FROM scoring_versions WHERE workspace_id = ws;
    INSERT INTO scoring_versions (workspace_id, version, document, draft_version, published_by_key, published_by_user)
    VALUES (ws, v, d.document, d.version, by_key, by_user);
    INSERT INTO scoring_groups (workspace_id, version, name, kind, cap)
    SELECT ws, v, g ->> 'name', g ->> 'score', (g ->> 'cap')::integer
    FROM jsonb_array_elements(d.document -> 'groups') g;
    INSERT INTO scoring_rules (workspace_id, version, rule_id, grp, kind, points, field, op, vals,
                               num_min, num_max, event_source, event_kind, campaign_id,
                               half_life_days, halve_after_days)
    SELECT ws, v, r ->> 'id', r ->> 'group', g.kind, (r ->> 'points')::integer,
           r ->> 'field', r ->> 'op',
           CASE WHEN jsonb_typeof(r -> 'value') = 'array'
                THEN ARRAY(SELECT lower(e) FROM jsonb_array_elements_text(r -> 'value') e)
                WHEN jsonb_typeof(r -> 'value') = 'string' THEN ARRAY[lower(r ->> 'value')] END,
           CASE r ->> 'op' WHEN 'gte' THEN (r ->> 'value')::numeric
                           WHEN 'between' THEN (r -> 'value' ->> 'min')::numeric END,
           CASE r ->> 'op' WHEN 'lte' THEN (r ->> 'value')::numeric
                           WHEN 'between' THEN (r -> 'value' ->> 'max')::numeric END,
           split_part(r ->> 'event', ':', 1), nullif(split_part(r ->> 'event', ':', 2), ''),
           (r ->> 'campaign_id')::uuid,
           ll_score_days(r -> 'decay' -> 'half_life'), ll_score_days(r -> 'decay' -> 'halve_after')
    FROM jsonb_array_elements(d.document -> 'rules') r
    JOIN scoring_groups g ON g.workspace_id = ws AND g.version = v AND g.name = r ->> 'group';
    t := d.document -> 'threshold';
    IF jsonb_typeof(t) IS DISTINCT FROM 'object' THEN
        t := NULL;
    END IF;
    -- the last rescore's lanes go first: a step under way holds its lane's row, then the
    -- run's (when it ends the run), so the publish takes them in that order too
    DELETE FROM scoring_run_lanes WHERE workspace_id = ws;
    -- counted first: Citus refuses a subquery inside INSERT ... VALUES
    SELECT count(*) INTO n FROM leads WHERE workspace_id = ws AND merged_into IS NULL AND erased_at IS NULL;
    INSERT INTO scoring_runs AS s (workspace_id, version, threshold_fit, threshold_engagement,
                                   threshold_mode, total, done, after_id, started_at, finished_at)
    VALUES (ws, v, (t ->> 'fit')::smallint, (t ->> 'engagement')::smallint,
            CASE WHEN t IS NOT NULL THEN coalesce(t ->> 'mode', 'both') END,
            n, 0, NULL, clock_timestamp(), NULL)
    ON CONFLICT (workspace_id) DO UPDATE
    SET version = EXCLUDED.version, threshold_fit = EXCLUDED.threshold_fit,
        threshold_engagement = EXCLUDED.threshold_engagement,
        threshold_mode = EXCLUDED.threshold_mode, total = EXCLUDED.total, done = 0,
        after_id = NULL, started_at = EXCLUDED.started_at, finished_at = NULL;
    -- its two lanes
    INSERT INTO scoring_run_lanes (workspace_id, lane, from_id, below_id)
    VALUES (ws, 0, NULL, '80000000-0000-0000-0000-000000000000'),
           (ws, 1, '80000000-0000-0000-0000-000000000000', NULL);
    -- the plans of the scoring statements depend on how many rules and groups there are
    ANALYZE scoring_rules, scoring_groups;
    RETURN v;
END
$$;

--
-- Name: ll_seed_reasons(uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_seed_reasons(ws uuid) RETURNS void
    LANGUAGE sql
    AS $$
    INSERT INTO feedback_reasons (workspace_id, code, label, kinds, disqualifies, recycle_after_days)
    VALUES
        (ws, 'bad_fit', 'Not our kind of customer', '{rejected,lost}', true, NULL),
        (ws, 'no_budget', 'No budget', '{rejected,lost,recycled}', false, 90),
        (ws, 'no_authority', 'Cannot decide or buy', '{rejected,lost,recycled}', false, 60),
        (ws, 'no_need', 'No need for it', '{rejected,lost,recycled}', false, 180),
        (ws, 'bad_timing', 'Not now', '{rejected,lost,recycled}', false, 90),
        (ws, 'not_reachable', 'Could not be reached', '{rejected,recycled}', false, 30),
        (ws, 'duplicate', 'Duplicate of another lead', '{rejected}', true, NULL),
        (ws, 'competitor', 'Chose or is a competitor', '{rejected,lost}', true, NULL),
        (ws, 'spam', 'Spam or fake', '{rejected}', true, NULL),
        (ws, 'student_or_job_seeker', 'Student or job seeker', '{rejected}', true, NULL),
        (ws, 'other', 'Other', '{rejected,lost,recycled}', false, NULL)
    ON CONFLICT DO NOTHING
$$;

--
-- Name: ll_signin_failed(text[], integer[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_signin_failed(keys text[], frees integer[]) RETURNS timestamp with time zone
    LANGUAGE plpgsql
    AS $$
DECLARE
    n integer;
    until timestamptz;
    latest timestamptz;
    -- computed before the upsert: Citus refuses a function that is not IMMUTABLE in the
    -- DO UPDATE SET of a distributed or reference table (timestamptz - interval is STABLE)
    v_now timestamptz := now();
    v_window timestamptz := now() - interval '15 minutes';
BEGIN
    FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
        INSERT INTO signin_failures AS f (key, failures, window_start)
        VALUES (keys[i], 1, v_now)
        ON CONFLICT (key) DO UPDATE SET
            failures = CASE WHEN f.window_start < v_window THEN 1 ELSE f.failures + 1 END,
            window_start = CASE WHEN f.window_start < v_window THEN v_now ELSE f.window_start END
        RETURNING failures INTO n;
        IF n > frees[i] THEN
            until := now() + least(interval '1 second' * 2 ^ least(n - frees[i] - 1, 20),
                                   interval '15 minutes');
            UPDATE signin_failures SET locked_until = until WHERE key = keys[i];
            latest := greatest(latest, until);
        END IF;
    END LOOP;
    RETURN latest;
END
$$;

--
-- Name: ll_signin_locked(text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_signin_locked(keys text[]) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN (SELECT max(locked_until) FROM signin_failures
            WHERE key = ANY (keys) AND locked_until > now());
END
$$;

--
-- Name: ll_sla_cutoff(integer, text, smallint[], time without time zone, time without time zone, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_sla_cutoff(sla_hours integer, time_zone text, business_days smallint[], business_start time without time zone, business_end time without time zone, default_hours integer) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT ll_business_cutoff(now(), coalesce(sla_hours, default_hours) * 3600::bigint,
                              time_zone, business_days, business_start, business_end)
$$;

--
-- Name: ll_user_role_default(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_user_role_default() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.role := coalesce(NEW.role, NEW.team);
    RETURN NEW;
END
$$;

--
-- Name: ll_user_sessions_end(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_user_sessions_end() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE sessions SET revoked_at = now()
    WHERE workspace_id = NEW.workspace_id AND user_id = NEW.id AND revoked_at IS NULL;
    RETURN NULL;
END
$$;

--
-- Name: ll_workspace_seeded(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ll_workspace_seeded() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM ll_seed_reasons(NEW.id);
    RETURN NULL;
END
$$;

--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    prefix text NOT NULL,
    key_hash bytea NOT NULL,
    role text NOT NULL,
    user_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    rate_per_s integer,
    rate_burst integer,
    can_import boolean DEFAULT false NOT NULL,
    CONSTRAINT api_keys_check CHECK (((rate_per_s IS NULL) = (rate_burst IS NULL))),
    CONSTRAINT api_keys_key_hash_check CHECK ((octet_length(key_hash) = 32)),
    CONSTRAINT api_keys_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200))),
    CONSTRAINT api_keys_rate_burst_check CHECK (((rate_burst >= 1) AND (rate_burst <= 1000000))),
    CONSTRAINT api_keys_rate_per_s_check CHECK (((rate_per_s >= 1) AND (rate_per_s <= 100000))),
    CONSTRAINT api_keys_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'marketing'::text, 'sales'::text, 'readonly'::text])))
);

--
-- Name: audit_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_log (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    actor text NOT NULL,
    api_key_id uuid,
    api_key_prefix text,
    user_id uuid,
    db_user text DEFAULT SESSION_USER NOT NULL,
    request_id text,
    client_addr inet,
    method text,
    route text,
    entity text NOT NULL,
    entity_id text NOT NULL,
    lead_id uuid,
    operation text NOT NULL,
    old jsonb,
    new jsonb,
    redacted text[],
    CONSTRAINT audit_log_actor_check CHECK ((actor = ANY (ARRAY['api_key'::text, 'user'::text, 'cli'::text, 'sql'::text])))
);

--
-- Name: campaign_touches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.campaign_touches (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    campaign_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    kind text NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT campaign_touches_kind_check CHECK ((kind = ANY (ARRAY['sent'::text, 'opened'::text, 'clicked'::text, 'responded'::text, 'registered'::text, 'attended'::text, 'visited'::text, 'created'::text])))
);

--
-- Name: campaigns; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.campaigns (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    channel text NOT NULL,
    status text DEFAULT 'planned'::text NOT NULL,
    budget bigint DEFAULT 0 NOT NULL,
    cost bigint DEFAULT 0 NOT NULL,
    currency text DEFAULT 'USD'::text NOT NULL,
    starts_on date,
    ends_on date,
    owner_id uuid,
    tags text[] DEFAULT '{}'::text[] NOT NULL,
    description text,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT campaigns_budget_check CHECK ((budget >= 0)),
    CONSTRAINT campaigns_channel_check CHECK ((channel = ANY (ARRAY['email'::text, 'webinar'::text, 'event'::text, 'paid_search'::text, 'paid_social'::text, 'content'::text, 'direct_mail'::text, 'referral'::text, 'other'::text]))),
    CONSTRAINT campaigns_cost_check CHECK ((cost >= 0)),
    CONSTRAINT campaigns_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT campaigns_dates CHECK ((starts_on <= ends_on)),
    CONSTRAINT campaigns_description_check CHECK ((char_length(description) <= 10000)),
    CONSTRAINT campaigns_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200))),
    CONSTRAINT campaigns_status_check CHECK ((status = ANY (ARRAY['planned'::text, 'active'::text, 'paused'::text, 'completed'::text, 'archived'::text]))),
    CONSTRAINT campaigns_tags_check CHECK ((cardinality(tags) <= 20))
);

--
-- Name: change_horizons; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.change_horizons (
    workspace_id uuid NOT NULL,
    xid xid8 NOT NULL,
    seq bigint NOT NULL
);

--
-- Name: changes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.changes (
    workspace_id uuid NOT NULL,
    seq bigint NOT NULL,
    entity text NOT NULL,
    entity_id text NOT NULL,
    operation text,
    changed_at timestamp with time zone DEFAULT now() NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    type text NOT NULL,
    lead_id uuid,
    actor text,
    actor_key_id uuid,
    actor_user_id uuid,
    doc jsonb
);

--
-- Name: changes_seq_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.changes ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.changes_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: feedback; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.feedback (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    lead_id uuid NOT NULL,
    kind text NOT NULL,
    reason text,
    rating smallint,
    amount bigint,
    currency text,
    note text,
    author_user_id uuid,
    author_key_id uuid,
    occurred_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    stage_before text NOT NULL,
    stage_after text NOT NULL,
    corrects uuid,
    CONSTRAINT feedback_amount_check CHECK ((amount >= 0)),
    CONSTRAINT feedback_author_known CHECK (((author_key_id IS NOT NULL) OR (author_user_id IS NOT NULL))),
    CONSTRAINT feedback_correction CHECK ((((corrects IS NOT NULL) = (kind = 'correction'::text)) AND ((kind <> 'correction'::text) OR ((amount IS NOT NULL) AND (currency IS NOT NULL) AND (rating IS NULL))))),
    CONSTRAINT feedback_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT feedback_kind_check CHECK ((kind = ANY (ARRAY['accepted'::text, 'rejected'::text, 'contacted'::text, 'meeting_booked'::text, 'won'::text, 'lost'::text, 'recycled'::text, 'correction'::text]))),
    CONSTRAINT feedback_note_check CHECK ((octet_length(note) <= 4096)),
    CONSTRAINT feedback_rating_check CHECK (((rating >= 1) AND (rating <= 5))),
    CONSTRAINT feedback_reason_kind CHECK (((reason IS NOT NULL) = (kind = ANY (ARRAY['rejected'::text, 'lost'::text, 'recycled'::text])))),
    CONSTRAINT feedback_won_amount CHECK (((kind <> 'won'::text) OR ((amount IS NOT NULL) AND (currency IS NOT NULL))))
);

--
-- Name: feedback_reasons; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.feedback_reasons (
    workspace_id uuid NOT NULL,
    code text NOT NULL,
    label text NOT NULL,
    kinds text[] NOT NULL,
    disqualifies boolean DEFAULT false NOT NULL,
    recycle_after_days integer,
    active boolean DEFAULT true NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT feedback_reasons_code_check CHECK ((code ~ '^[a-z][a-z0-9_]{0,63}$'::text)),
    CONSTRAINT feedback_reasons_kinds_check CHECK (((cardinality(kinds) >= 1) AND (kinds <@ ARRAY['rejected'::text, 'lost'::text, 'recycled'::text]))),
    CONSTRAINT feedback_reasons_label_check CHECK (((char_length(label) >= 1) AND (char_length(label) <= 200))),
    CONSTRAINT feedback_reasons_recycle_after_days_check CHECK (((recycle_after_days >= 1) AND (recycle_after_days <= 3650)))
);

--
-- Name: idempotency_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.idempotency_keys (
    workspace_id uuid NOT NULL,
    api_key_id uuid NOT NULL,
    key text NOT NULL,
    request_hash text,
    status smallint NOT NULL,
    content_type text,
    location text,
    etag text,
    body text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: COLUMN idempotency_keys.request_hash; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.idempotency_keys.request_hash IS 'SHA-256 of method, path, query and body; NULL when the answer was withdrawn because the lead it showed was erased';

--
-- Name: idempotency_progress; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.idempotency_progress (
    workspace_id uuid NOT NULL,
    principal uuid NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    next_row bigint NOT NULL,
    progress jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT idempotency_progress_next_row_check CHECK ((next_row >= 1))
);

--
-- Name: interactions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.interactions (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    lead_id uuid NOT NULL,
    kind text NOT NULL,
    direction text,
    occurred_at timestamp with time zone NOT NULL,
    user_id uuid,
    actor_name text,
    outcome text,
    subject text,
    body text,
    duration_seconds integer,
    campaign_id uuid,
    source text,
    external_id text,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT interactions_actor_name_check CHECK (((char_length(actor_name) >= 1) AND (char_length(actor_name) <= 200))),
    CONSTRAINT interactions_body_check CHECK ((char_length(body) <= 10000)),
    CONSTRAINT interactions_direction CHECK (((direction IS NOT NULL) OR (kind = ANY (ARRAY['note'::text, 'form'::text, 'ticket'::text])))),
    CONSTRAINT interactions_direction_check CHECK ((direction = ANY (ARRAY['inbound'::text, 'outbound'::text]))),
    CONSTRAINT interactions_duration_seconds_check CHECK ((duration_seconds >= 0)),
    CONSTRAINT interactions_external_id_check CHECK (((char_length(external_id) >= 1) AND (char_length(external_id) <= 255))),
    CONSTRAINT interactions_external_source CHECK (((external_id IS NULL) OR (source IS NOT NULL))),
    CONSTRAINT interactions_kind_check CHECK ((kind = ANY (ARRAY['call'::text, 'email'::text, 'meeting'::text, 'note'::text, 'message'::text, 'form'::text, 'ticket'::text]))),
    CONSTRAINT interactions_outcome_check CHECK ((outcome = ANY (ARRAY['connected'::text, 'no_answer'::text, 'left_message'::text, 'busy'::text, 'wrong_number'::text, 'sent'::text, 'replied'::text, 'bounced'::text, 'scheduled'::text, 'held'::text, 'no_show'::text, 'cancelled'::text, 'opened'::text, 'resolved'::text, 'other'::text]))),
    CONSTRAINT interactions_source_check CHECK ((source ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'::text)),
    CONSTRAINT interactions_subject_check CHECK ((char_length(subject) <= 200))
);

--
-- Name: lead_external_ids; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_external_ids (
    workspace_id uuid NOT NULL,
    system text NOT NULL,
    external_id text NOT NULL,
    lead_id uuid NOT NULL,
    CONSTRAINT lead_external_ids_external_id_check CHECK (((char_length(external_id) >= 1) AND (char_length(external_id) <= 255))),
    CONSTRAINT lead_external_ids_system_check CHECK ((system ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'::text))
);

--
-- Name: lead_merges; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_merges (
    workspace_id uuid NOT NULL,
    merged_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    email text,
    touches integer NOT NULL,
    feedback integer NOT NULL,
    stage_changes integer NOT NULL,
    external_ids integer NOT NULL,
    by_key_id uuid,
    by_user_id uuid,
    merged_at timestamp with time zone DEFAULT now() NOT NULL,
    interactions integer DEFAULT 0 NOT NULL
);

--
-- Name: lead_score_changes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_score_changes (
    workspace_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    seq bigint NOT NULL,
    version integer NOT NULL,
    cause text NOT NULL,
    fit_from smallint,
    fit_to smallint NOT NULL,
    engagement_from smallint,
    engagement_to smallint NOT NULL,
    crossed boolean DEFAULT false NOT NULL,
    moved_to text,
    changed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT lead_score_changes_cause_check CHECK ((cause = ANY (ARRAY['publish'::text, 'touch'::text, 'interaction'::text, 'lead'::text, 'decay'::text])))
);

--
-- Name: lead_score_changes_seq_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.lead_score_changes ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.lead_score_changes_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: lead_score_points; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_score_points (
    workspace_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    kind text NOT NULL,
    grp text NOT NULL,
    rule_id text NOT NULL,
    points integer NOT NULL,
    version integer NOT NULL,
    adjust text,
    CONSTRAINT lead_score_points_adjust_check CHECK ((adjust = ANY (ARRAY['cap'::text, 'clamp'::text])))
);

--
-- Name: lead_scores; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_scores (
    workspace_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    fit smallint NOT NULL,
    engagement smallint NOT NULL,
    version integer NOT NULL,
    scored_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT lead_scores_engagement_check CHECK (((engagement >= 0) AND (engagement <= 100))),
    CONSTRAINT lead_scores_fit_check CHECK (((fit >= 0) AND (fit <= 100)))
);

--
-- Name: rate_buckets; Type: TABLE; Schema: public; Owner: -
--

CREATE UNLOGGED TABLE public.rate_buckets (
    workspace_id uuid NOT NULL,
    bucket text NOT NULL,
    tokens double precision NOT NULL,
    at timestamp with time zone NOT NULL
);

--
-- Name: report_day_deltas; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.report_day_deltas (
    workspace_id uuid NOT NULL,
    dim smallint NOT NULL,
    day date NOT NULL,
    key text NOT NULL,
    leads numeric NOT NULL,
    mqls numeric NOT NULL,
    handed numeric NOT NULL,
    accepted numeric NOT NULL,
    rejected numeric NOT NULL,
    contacted numeric NOT NULL,
    opportunities numeric NOT NULL,
    won numeric NOT NULL,
    won_amount numeric NOT NULL,
    rating_sum numeric NOT NULL,
    rating_count numeric NOT NULL,
    followed numeric NOT NULL,
    lost_amount numeric DEFAULT 0 NOT NULL
)
WITH (autovacuum_vacuum_scale_factor='0', autovacuum_vacuum_threshold='20000', autovacuum_vacuum_insert_scale_factor='0', autovacuum_vacuum_insert_threshold='20000');

--
-- Name: report_days; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.report_days (
    workspace_id uuid NOT NULL,
    dim smallint NOT NULL,
    month boolean NOT NULL,
    day date NOT NULL,
    key text NOT NULL,
    leads numeric NOT NULL,
    mqls numeric NOT NULL,
    handed numeric NOT NULL,
    accepted numeric NOT NULL,
    rejected numeric NOT NULL,
    contacted numeric NOT NULL,
    opportunities numeric NOT NULL,
    won numeric NOT NULL,
    won_amount numeric NOT NULL,
    rating_sum numeric NOT NULL,
    rating_count numeric NOT NULL,
    followed numeric NOT NULL,
    lost_amount numeric DEFAULT 0 NOT NULL
);

--
-- Name: report_follow_ups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.report_follow_ups (
    workspace_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    dim smallint NOT NULL,
    key text NOT NULL,
    day date NOT NULL,
    follow_up_s bigint NOT NULL
);

--
-- Name: report_funnel_days; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.report_funnel_days (
    workspace_id uuid NOT NULL,
    dim smallint NOT NULL,
    key text NOT NULL,
    source text NOT NULL,
    month boolean NOT NULL,
    day date NOT NULL,
    leads bigint NOT NULL,
    handed bigint NOT NULL,
    accepted bigint NOT NULL,
    qualified bigint NOT NULL,
    opportunity bigint NOT NULL,
    customer bigint NOT NULL,
    followed bigint NOT NULL,
    waiting bigint NOT NULL
);

--
-- Name: report_funnel_deltas; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.report_funnel_deltas (
    workspace_id uuid NOT NULL,
    dim smallint NOT NULL,
    key text NOT NULL,
    source text NOT NULL,
    day date NOT NULL,
    leads bigint NOT NULL,
    handed bigint NOT NULL,
    accepted bigint NOT NULL,
    qualified bigint NOT NULL,
    opportunity bigint NOT NULL,
    customer bigint NOT NULL,
    followed bigint NOT NULL,
    waiting bigint NOT NULL
)
WITH (autovacuum_vacuum_scale_factor='0', autovacuum_vacuum_threshold='20000', autovacuum_vacuum_insert_scale_factor='0', autovacuum_vacuum_insert_threshold='20000');

--
-- Name: report_reason_days; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.report_reason_days (
    workspace_id uuid NOT NULL,
    dim smallint NOT NULL,
    month boolean NOT NULL,
    day date NOT NULL,
    key text NOT NULL,
    reason text NOT NULL,
    rejected numeric NOT NULL
);

--
-- Name: report_reason_deltas; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.report_reason_deltas (
    workspace_id uuid NOT NULL,
    dim smallint NOT NULL,
    day date NOT NULL,
    key text NOT NULL,
    reason text NOT NULL,
    rejected numeric NOT NULL
)
WITH (autovacuum_vacuum_scale_factor='0', autovacuum_vacuum_threshold='20000', autovacuum_vacuum_insert_scale_factor='0', autovacuum_vacuum_insert_threshold='20000');

--
-- Name: report_weeks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.report_weeks (
    workspace_id uuid NOT NULL,
    dim smallint NOT NULL,
    week date NOT NULL,
    key text NOT NULL,
    leads numeric NOT NULL,
    mqls numeric NOT NULL,
    handed numeric NOT NULL,
    accepted numeric NOT NULL,
    rejected numeric NOT NULL,
    contacted numeric NOT NULL,
    opportunities numeric NOT NULL,
    won numeric NOT NULL,
    won_amount numeric NOT NULL,
    rating_sum numeric NOT NULL,
    rating_count numeric NOT NULL,
    followed numeric NOT NULL,
    lost_amount numeric NOT NULL
);

--
-- Name: routing_pool_members; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.routing_pool_members (
    workspace_id uuid NOT NULL,
    pool_id uuid NOT NULL,
    user_id uuid NOT NULL,
    weight integer DEFAULT 1 NOT NULL,
    cap integer,
    hours jsonb,
    assigned bigint DEFAULT 0 NOT NULL,
    last_turn bigint DEFAULT 0 NOT NULL,
    last_assigned_at timestamp with time zone,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT routing_pool_members_assigned_check CHECK ((assigned >= 0)),
    CONSTRAINT routing_pool_members_cap_check CHECK ((cap >= 0)),
    CONSTRAINT routing_pool_members_weight_check CHECK (((weight >= 1) AND (weight <= 1000)))
);

--
-- Name: routing_pools; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.routing_pools (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    method text NOT NULL,
    reassign_after_minutes integer,
    turn bigint DEFAULT 0 NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT routing_pools_method_check CHECK ((method = ANY (ARRAY['round_robin'::text, 'weighted'::text, 'least_loaded'::text]))),
    CONSTRAINT routing_pools_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200))),
    CONSTRAINT routing_pools_reassign_after_minutes_check CHECK (((reassign_after_minutes >= 1) AND (reassign_after_minutes <= 525600)))
);

--
-- Name: routing_rulesets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.routing_rulesets (
    workspace_id uuid NOT NULL,
    version integer DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: routing_sla; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.routing_sla (
    workspace_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    assignment_id uuid NOT NULL,
    pool_id uuid NOT NULL,
    owner_id uuid NOT NULL,
    assigned_at timestamp with time zone NOT NULL,
    due_at timestamp with time zone NOT NULL
);

--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: schema_repeatables; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_repeatables (
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: scoring_drafts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.scoring_drafts (
    workspace_id uuid NOT NULL,
    document jsonb NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: scoring_groups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.scoring_groups (
    workspace_id uuid NOT NULL,
    version integer NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    cap integer,
    CONSTRAINT scoring_groups_cap_check CHECK ((cap >= 0)),
    CONSTRAINT scoring_groups_kind_check CHECK ((kind = ANY (ARRAY['fit'::text, 'engagement'::text])))
);

--
-- Name: scoring_rules; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.scoring_rules (
    workspace_id uuid NOT NULL,
    version integer NOT NULL,
    rule_id text NOT NULL,
    grp text NOT NULL,
    kind text NOT NULL,
    points integer NOT NULL,
    field text,
    op text,
    vals text[],
    num_min numeric,
    num_max numeric,
    event_source text,
    event_kind text,
    campaign_id uuid,
    half_life_days numeric,
    halve_after_days numeric,
    CONSTRAINT scoring_rules_kind_check CHECK ((kind = ANY (ARRAY['fit'::text, 'engagement'::text])))
);

--
-- Name: scoring_run_lanes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.scoring_run_lanes (
    workspace_id uuid NOT NULL,
    lane smallint NOT NULL,
    from_id uuid,
    below_id uuid,
    after_id uuid,
    done bigint DEFAULT 0 NOT NULL,
    finished_at timestamp with time zone
);

--
-- Name: scoring_versions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.scoring_versions (
    workspace_id uuid NOT NULL,
    version integer NOT NULL,
    document jsonb NOT NULL,
    draft_version integer NOT NULL,
    published_at timestamp with time zone DEFAULT now() NOT NULL,
    published_by_key uuid,
    published_by_user uuid,
    CONSTRAINT scoring_versions_version_check CHECK ((version >= 1))
);

--
-- Name: sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sessions (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    client_addr text,
    user_agent text,
    CONSTRAINT sessions_client_addr_check CHECK ((char_length(client_addr) <= 64)),
    CONSTRAINT sessions_user_agent_check CHECK ((char_length(user_agent) <= 300))
);

--
-- Name: signin_failures; Type: TABLE; Schema: public; Owner: -
--

CREATE UNLOGGED TABLE public.signin_failures (
    key text NOT NULL,
    failures integer NOT NULL,
    window_start timestamp with time zone NOT NULL,
    locked_until timestamp with time zone,
    CONSTRAINT signin_failures_key_check CHECK ((char_length(key) <= 300))
);

--
-- Name: sla_goals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sla_goals (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    period_kind text NOT NULL,
    period_start date NOT NULL,
    metric text NOT NULL,
    owner_id uuid,
    target integer NOT NULL,
    within_hours integer,
    min_attempts integer,
    within_days integer,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT sla_goals_metric_check CHECK ((metric = ANY (ARRAY['mqls'::text, 'accepted_leads'::text, 'first_attempt_within'::text, 'attempts'::text, 'verdict_within'::text]))),
    CONSTRAINT sla_goals_min_attempts_check CHECK (((min_attempts >= 1) AND (min_attempts <= 100))),
    CONSTRAINT sla_goals_params CHECK ((((within_hours IS NOT NULL) = (metric = 'first_attempt_within'::text)) AND ((min_attempts IS NOT NULL) = (metric = 'attempts'::text)) AND ((within_days IS NOT NULL) = (metric = 'verdict_within'::text)) AND ((metric = ANY (ARRAY['mqls'::text, 'accepted_leads'::text])) OR (target <= 100)))),
    CONSTRAINT sla_goals_period CHECK ((period_start = (date_trunc(period_kind, (period_start)::timestamp with time zone))::date)),
    CONSTRAINT sla_goals_period_kind_check CHECK ((period_kind = ANY (ARRAY['month'::text, 'quarter'::text]))),
    CONSTRAINT sla_goals_target_check CHECK (((target >= 1) AND (target <= 1000000))),
    CONSTRAINT sla_goals_within_days_check CHECK (((within_days >= 1) AND (within_days <= 365))),
    CONSTRAINT sla_goals_within_hours_check CHECK (((within_hours >= 1) AND (within_hours <= 8760)))
);

--
-- Name: webhook_cursors; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_cursors (
    workspace_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    xid xid8 DEFAULT pg_snapshot_xmin(pg_current_snapshot()) NOT NULL,
    seq bigint DEFAULT 0 NOT NULL,
    since pg_snapshot DEFAULT pg_current_snapshot() NOT NULL
);

--
-- Name: webhook_deliveries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_deliveries (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    endpoint_id uuid NOT NULL,
    change_xid xid8,
    change_seq bigint,
    type text NOT NULL,
    payload text,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    last_attempt_at timestamp with time zone,
    last_status smallint,
    last_error text,
    delivered_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text])))
);

--
-- Name: webhook_endpoints; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_endpoints (
    workspace_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    url text NOT NULL,
    description text,
    types text[] DEFAULT '{}'::text[] NOT NULL,
    active boolean DEFAULT true NOT NULL,
    disabled_reason text,
    secret text NOT NULL,
    previous_secret text,
    previous_expires_at timestamp with time zone,
    failing_since timestamp with time zone,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_endpoints_description_check CHECK ((char_length(description) <= 500)),
    CONSTRAINT webhook_endpoints_url_check CHECK (((char_length(url) >= 8) AND (char_length(url) <= 2048)))
);

--
-- Name: workspaces; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.workspaces (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    slug text NOT NULL,
    name text NOT NULL,
    currency character(3) DEFAULT 'USD'::bpchar NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    time_zone text DEFAULT 'UTC'::text NOT NULL,
    sla_hours integer,
    business_days smallint[],
    business_start time without time zone,
    business_end time without time zone,
    CONSTRAINT workspaces_business_hours CHECK ((((business_days IS NULL) AND (business_start IS NULL) AND (business_end IS NULL)) OR (((cardinality(business_days) >= 1) AND (cardinality(business_days) <= 7)) AND (business_days <@ '{1,2,3,4,5,6,7}'::smallint[]) AND (array_position(business_days, NULL::smallint) IS NULL) AND (business_start < business_end)))),
    CONSTRAINT workspaces_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT workspaces_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200))),
    CONSTRAINT workspaces_sla_hours_check CHECK (((sla_hours >= 1) AND (sla_hours <= 8760))),
    CONSTRAINT workspaces_slug_check CHECK ((slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'::text))
);

--
-- Name: api_keys api_keys_key_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash);

--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: api_keys api_keys_prefix_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_prefix_key UNIQUE (prefix);

--
-- Name: audit_log audit_log_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (workspace_id, created_at, id);

--
-- Name: campaign_touches campaign_touches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_touches
    ADD CONSTRAINT campaign_touches_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: campaigns campaigns_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaigns
    ADD CONSTRAINT campaigns_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: change_horizons change_horizons_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.change_horizons
    ADD CONSTRAINT change_horizons_pkey PRIMARY KEY (workspace_id);

--
-- Name: changes changes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.changes
    ADD CONSTRAINT changes_pkey PRIMARY KEY (workspace_id, xid, seq);

--
-- Name: feedback feedback_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback
    ADD CONSTRAINT feedback_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: feedback_reasons feedback_reasons_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback_reasons
    ADD CONSTRAINT feedback_reasons_pkey PRIMARY KEY (workspace_id, code);

--
-- Name: idempotency_keys idempotency_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (workspace_id, api_key_id, key);

--
-- Name: idempotency_progress idempotency_progress_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_progress
    ADD CONSTRAINT idempotency_progress_pkey PRIMARY KEY (workspace_id, principal, key);

--
-- Name: interactions interactions_external; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.interactions
    ADD CONSTRAINT interactions_external UNIQUE (workspace_id, source, external_id);

--
-- Name: interactions interactions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.interactions
    ADD CONSTRAINT interactions_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: invitations invitations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invitations
    ADD CONSTRAINT invitations_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: invitations invitations_workspace_id_token_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invitations
    ADD CONSTRAINT invitations_workspace_id_token_hash_key UNIQUE (workspace_id, token_hash);

--
-- Name: lead_assignments lead_assignments_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_assignments
    ADD CONSTRAINT lead_assignments_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: lead_external_ids lead_external_ids_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_external_ids
    ADD CONSTRAINT lead_external_ids_pkey PRIMARY KEY (workspace_id, system, external_id);

--
-- Name: lead_merges lead_merges_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_merges
    ADD CONSTRAINT lead_merges_pkey PRIMARY KEY (workspace_id, merged_id);

--
-- Name: lead_score_changes lead_score_changes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_score_changes
    ADD CONSTRAINT lead_score_changes_pkey PRIMARY KEY (workspace_id, lead_id, seq);

--
-- Name: lead_score_points lead_score_points_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_score_points
    ADD CONSTRAINT lead_score_points_pkey PRIMARY KEY (workspace_id, lead_id, kind, grp, rule_id);

--
-- Name: lead_scores lead_scores_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_scores
    ADD CONSTRAINT lead_scores_pkey PRIMARY KEY (workspace_id, lead_id);

--
-- Name: lead_stage_changes lead_stage_changes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_stage_changes
    ADD CONSTRAINT lead_stage_changes_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: leads leads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: rate_buckets rate_buckets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rate_buckets
    ADD CONSTRAINT rate_buckets_pkey PRIMARY KEY (workspace_id, bucket);

--
-- Name: report_days report_days_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.report_days
    ADD CONSTRAINT report_days_pkey PRIMARY KEY (workspace_id, dim, month, day, key);

--
-- Name: report_follow_ups report_follow_ups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.report_follow_ups
    ADD CONSTRAINT report_follow_ups_pkey PRIMARY KEY (workspace_id, lead_id, dim, key);

--
-- Name: report_funnel_days report_funnel_days_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.report_funnel_days
    ADD CONSTRAINT report_funnel_days_pkey PRIMARY KEY (workspace_id, dim, key, source, month, day);

--
-- Name: report_leads report_leads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.report_leads
    ADD CONSTRAINT report_leads_pkey PRIMARY KEY (workspace_id, lead_id);

--
-- Name: report_reason_days report_reason_days_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.report_reason_days
    ADD CONSTRAINT report_reason_days_pkey PRIMARY KEY (workspace_id, dim, month, day, key, reason);

--
-- Name: report_weeks report_weeks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.report_weeks
    ADD CONSTRAINT report_weeks_pkey PRIMARY KEY (workspace_id, dim, week, key);

--
-- Name: routing_absences routing_absences_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_absences
    ADD CONSTRAINT routing_absences_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: routing_pool_members routing_pool_members_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_pool_members
    ADD CONSTRAINT routing_pool_members_pkey PRIMARY KEY (workspace_id, pool_id, user_id);

--
-- Name: routing_pools routing_pools_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_pools
    ADD CONSTRAINT routing_pools_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: routing_rules routing_rules_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_rules
    ADD CONSTRAINT routing_rules_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: routing_rules routing_rules_workspace_id_position_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_rules
    ADD CONSTRAINT routing_rules_workspace_id_position_key UNIQUE (workspace_id, "position");

--
-- Name: routing_rulesets routing_rulesets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_rulesets
    ADD CONSTRAINT routing_rulesets_pkey PRIMARY KEY (workspace_id);

--
-- Name: routing_sla routing_sla_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_sla
    ADD CONSTRAINT routing_sla_pkey PRIMARY KEY (workspace_id, lead_id);

--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (name);

--
-- Name: schema_repeatables schema_repeatables_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_repeatables
    ADD CONSTRAINT schema_repeatables_pkey PRIMARY KEY (name);

--
-- Name: scoring_drafts scoring_drafts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_drafts
    ADD CONSTRAINT scoring_drafts_pkey PRIMARY KEY (workspace_id);

--
-- Name: scoring_groups scoring_groups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_groups
    ADD CONSTRAINT scoring_groups_pkey PRIMARY KEY (workspace_id, version, name);

--
-- Name: scoring_rules scoring_rules_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_rules
    ADD CONSTRAINT scoring_rules_pkey PRIMARY KEY (workspace_id, version, rule_id);

--
-- Name: scoring_run_lanes scoring_run_lanes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_run_lanes
    ADD CONSTRAINT scoring_run_lanes_pkey PRIMARY KEY (workspace_id, lane);

--
-- Name: scoring_runs scoring_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_runs
    ADD CONSTRAINT scoring_runs_pkey PRIMARY KEY (workspace_id);

--
-- Name: scoring_versions scoring_versions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_versions
    ADD CONSTRAINT scoring_versions_pkey PRIMARY KEY (workspace_id, version);

--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: sessions sessions_workspace_id_token_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_workspace_id_token_hash_key UNIQUE (workspace_id, token_hash);

--
-- Name: signin_failures signin_failures_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.signin_failures
    ADD CONSTRAINT signin_failures_pkey PRIMARY KEY (key);

--
-- Name: sla_goals sla_goals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sla_goals
    ADD CONSTRAINT sla_goals_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: webhook_cursors webhook_cursors_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_cursors
    ADD CONSTRAINT webhook_cursors_pkey PRIMARY KEY (workspace_id, endpoint_id);

--
-- Name: webhook_deliveries webhook_deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: webhook_deliveries webhook_deliveries_workspace_id_endpoint_id_change_xid_chan_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_workspace_id_endpoint_id_change_xid_chan_key UNIQUE (workspace_id, endpoint_id, change_xid, change_seq);

--
-- Name: webhook_endpoints webhook_endpoints_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: workspaces workspaces_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workspaces
    ADD CONSTRAINT workspaces_pkey PRIMARY KEY (id);

--
-- Name: workspaces workspaces_slug_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.workspaces
    ADD CONSTRAINT workspaces_slug_key UNIQUE (slug);

--
-- Name: api_keys_page; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX api_keys_page ON public.api_keys USING btree (workspace_id, created_at DESC, id DESC);

--
-- Name: audit_log_by_subject; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_log_by_subject ON public.audit_log USING btree (workspace_id, COALESCE((lead_id)::text, entity_id), created_at, id);

--
-- Name: campaigns_by_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaigns_by_created ON public.campaigns USING btree (workspace_id, created_at, id);

--
-- Name: campaigns_by_name; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaigns_by_name ON public.campaigns USING btree (workspace_id, name, id);

--
-- Name: campaigns_by_start; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaigns_by_start ON public.campaigns USING btree (workspace_id, COALESCE(starts_on, 'infinity'::date), id);

--
-- Name: campaigns_search_name; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX campaigns_search_name ON public.campaigns USING gin (workspace_id, public.ll_fold(name) public.gin_trgm_ops);

--
-- Name: changes_by_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX changes_by_lead ON public.changes USING btree (workspace_id, lead_id) WHERE (lead_id IS NOT NULL);

--
-- Name: feedback_by_author; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX feedback_by_author ON public.feedback USING btree (workspace_id, author_user_id, occurred_at);

--
-- Name: feedback_by_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX feedback_by_lead ON public.feedback USING btree (workspace_id, lead_id, occurred_at, id);

--
-- Name: feedback_by_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX feedback_by_time ON public.feedback USING btree (workspace_id, occurred_at, id);

--
-- Name: feedback_corrections; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX feedback_corrections ON public.feedback USING btree (workspace_id, corrects, occurred_at) WHERE (corrects IS NOT NULL);

--
-- Name: idempotency_keys_age; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idempotency_keys_age ON public.idempotency_keys USING btree (created_at);

--
-- Name: idempotency_keys_by_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idempotency_keys_by_lead ON public.idempotency_keys USING btree (workspace_id, split_part(location, '/'::text, 4)) WHERE (location ~~ '/v1/leads/%'::text);

--
-- Name: idempotency_progress_age; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idempotency_progress_age ON public.idempotency_progress USING btree (created_at);

--
-- Name: interactions_by_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX interactions_by_lead ON public.interactions USING btree (workspace_id, lead_id, occurred_at, id);

--
-- Name: invitations_page; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX invitations_page ON public.invitations USING btree (workspace_id, created_at, id);

--
-- Name: lead_assignments_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX lead_assignments_lead ON public.lead_assignments USING btree (workspace_id, lead_id, at);

--
-- Name: lead_external_ids_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX lead_external_ids_lead ON public.lead_external_ids USING btree (workspace_id, lead_id);

--
-- Name: lead_merges_by_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX lead_merges_by_lead ON public.lead_merges USING btree (workspace_id, lead_id, merged_at);

--
-- Name: lead_scores_to_decay; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX lead_scores_to_decay ON public.lead_scores USING btree (scored_at) WHERE (engagement > 0);

--
-- Name: leads_by_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_by_created ON public.leads USING btree (workspace_id, created_at, id);

--
-- Name: leads_by_merged_into; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_by_merged_into ON public.leads USING btree (workspace_id, merged_into) WHERE (merged_into IS NOT NULL);

--
-- Name: leads_by_score; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_by_score ON public.leads USING btree (workspace_id, COALESCE((score)::integer, '-1'::integer), id);

--
-- Name: leads_by_updated; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_by_updated ON public.leads USING btree (workspace_id, updated_at, id);

--
-- Name: leads_by_utm_campaign; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_by_utm_campaign ON public.leads USING btree (workspace_id, utm_campaign, created_at, id) WHERE (utm_campaign IS NOT NULL);

--
-- Name: leads_email_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX leads_email_key ON public.leads USING btree (workspace_id, public.ll_fold(email)) WHERE (email IS NOT NULL);

--
-- Name: leads_open_by_owner; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_open_by_owner ON public.leads USING btree (workspace_id, owner_id) WHERE (stage = 'mql'::text);

--
-- Name: leads_recycle_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_recycle_due ON public.leads USING btree (workspace_id, recycle_on, id) WHERE ((stage = 'recycled'::text) AND (erased_at IS NULL) AND (merged_into IS NULL));

--
-- Name: leads_search_company; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_search_company ON public.leads USING btree (workspace_id, public.ll_fold(company) text_pattern_ops);

--
-- Name: leads_search_email; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_search_email ON public.leads USING btree (workspace_id, public.ll_fold(email) text_pattern_ops);

--
-- Name: leads_search_first_name; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_search_first_name ON public.leads USING btree (workspace_id, public.ll_fold(first_name) text_pattern_ops);

--
-- Name: leads_search_last_name; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_search_last_name ON public.leads USING btree (workspace_id, public.ll_fold(last_name) text_pattern_ops);

--
-- Name: report_day_deltas_by_day; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_day_deltas_by_day ON public.report_day_deltas USING btree (workspace_id, dim, day);

--
-- Name: report_follow_ups_by_day; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_follow_ups_by_day ON public.report_follow_ups USING btree (workspace_id, dim, day) INCLUDE (key, follow_up_s);

--
-- Name: report_follow_ups_rank; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_follow_ups_rank ON public.report_follow_ups USING btree (workspace_id, dim, key, follow_up_s) INCLUDE (day);

--
-- Name: report_funnel_days_by_day; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_funnel_days_by_day ON public.report_funnel_days USING btree (workspace_id, dim, source, month, day);

--
-- Name: report_funnel_deltas_by_key; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_funnel_deltas_by_key ON public.report_funnel_deltas USING btree (workspace_id, dim, key, source, day);

--
-- Name: report_leads_accepted; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_accepted ON public.report_leads USING btree (workspace_id, accepted_at) INCLUDE (owner_id) WHERE (accepted_at IS NOT NULL);

--
-- Name: report_leads_by_day; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_by_day ON public.report_leads USING btree (workspace_id, day);

--
-- Name: report_leads_by_owner; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_by_owner ON public.report_leads USING btree (workspace_id, owner_id, day);

--
-- Name: report_leads_followed_up; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_followed_up ON public.report_leads USING btree (workspace_id, day) INCLUDE (follow_up_s, source, owner_id, ft_campaign, lt_campaign) WHERE (follow_up_s IS NOT NULL);

--
-- Name: report_leads_funnel_by_day; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_funnel_by_day ON public.report_leads USING btree (workspace_id, day) INCLUDE (source, owner_id, ft_campaign, lt_campaign, credits, created_at, handed_at, accepted_at, qualified_at, opportunity_at, customer_at);

--
-- Name: report_leads_handed; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_handed ON public.report_leads USING btree (workspace_id, handed_at) INCLUDE (owner_id, follow_up_s, attempt_s, contact_s, verdict, verdict_at, attempts) WHERE (handed_at IS NOT NULL);

--
-- Name: report_leads_rejected; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_rejected ON public.report_leads USING btree (workspace_id, day) INCLUDE (verdict_reason, source, owner_id, ft_campaign, lt_campaign) WHERE (verdict = 'rejected'::text);

--
-- Name: report_leads_stage1; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_stage1 ON public.report_leads USING btree (workspace_id, EXTRACT(epoch FROM (handed_at - created_at))) INCLUDE (day, source, owner_id, ft_campaign, lt_campaign, credits, created_at, handed_at) WHERE (handed_at IS NOT NULL);

--
-- Name: report_leads_stage2; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_stage2 ON public.report_leads USING btree (workspace_id, EXTRACT(epoch FROM (accepted_at - handed_at))) INCLUDE (day, source, owner_id, ft_campaign, lt_campaign, credits, handed_at, accepted_at) WHERE (accepted_at IS NOT NULL);

--
-- Name: report_leads_stage3; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_stage3 ON public.report_leads USING btree (workspace_id, EXTRACT(epoch FROM (qualified_at - accepted_at))) INCLUDE (day, source, owner_id, ft_campaign, lt_campaign, credits, accepted_at, qualified_at) WHERE (qualified_at IS NOT NULL);

--
-- Name: report_leads_stage4; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_stage4 ON public.report_leads USING btree (workspace_id, EXTRACT(epoch FROM (opportunity_at - qualified_at))) INCLUDE (day, source, owner_id, ft_campaign, lt_campaign, credits, qualified_at, opportunity_at) WHERE (opportunity_at IS NOT NULL);

--
-- Name: report_leads_stage5; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_stage5 ON public.report_leads USING btree (workspace_id, EXTRACT(epoch FROM (customer_at - opportunity_at))) INCLUDE (day, source, owner_id, ft_campaign, lt_campaign, credits, opportunity_at, customer_at) WHERE (customer_at IS NOT NULL);

--
-- Name: report_leads_waiting; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_waiting ON public.report_leads USING btree (workspace_id, handed_at, lead_id) WHERE ((handed_at IS NOT NULL) AND (first_feedback_at IS NULL) AND (first_attempt_at IS NULL) AND (first_contact_at IS NULL));

--
-- Name: report_leads_waiting_by_day; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_waiting_by_day ON public.report_leads USING btree (workspace_id, owner_id, day) INCLUDE (handed_at, lead_id) WHERE ((handed_at IS NOT NULL) AND (first_feedback_at IS NULL) AND (first_attempt_at IS NULL) AND (first_contact_at IS NULL) AND (stage = ANY (ARRAY['mql'::text, 'sales_accepted'::text, 'sales_qualified'::text, 'opportunity'::text])));

--
-- Name: report_leads_waiting_owner; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_leads_waiting_owner ON public.report_leads USING btree (workspace_id, owner_id, handed_at, lead_id) INCLUDE (day) WHERE ((handed_at IS NOT NULL) AND (first_feedback_at IS NULL) AND (first_attempt_at IS NULL) AND (first_contact_at IS NULL) AND (stage = ANY (ARRAY['mql'::text, 'sales_accepted'::text, 'sales_qualified'::text, 'opportunity'::text])));

--
-- Name: report_reason_deltas_by_day; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_reason_deltas_by_day ON public.report_reason_deltas USING btree (workspace_id, dim, day);

--
-- Name: routing_absences_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX routing_absences_user ON public.routing_absences USING btree (workspace_id, user_id, ends_at);

--
-- Name: routing_sla_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX routing_sla_due ON public.routing_sla USING btree (due_at);

--
-- Name: scoring_rules_event; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX scoring_rules_event ON public.scoring_rules USING btree (workspace_id, version, event_kind) WHERE (kind = 'engagement'::text);

--
-- Name: scoring_runs_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX scoring_runs_due ON public.scoring_runs USING btree (started_at) WHERE (finished_at IS NULL);

--
-- Name: sessions_by_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_by_user ON public.sessions USING btree (workspace_id, user_id, created_at) WHERE (revoked_at IS NULL);

--
-- Name: sessions_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_expiry ON public.sessions USING btree (expires_at);

--
-- Name: sla_goals_one; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX sla_goals_one ON public.sla_goals USING btree (workspace_id, period_start, period_kind, metric, owner_id) NULLS NOT DISTINCT;

--
-- Name: stage_changes_by_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stage_changes_by_lead ON public.lead_stage_changes USING btree (workspace_id, lead_id, changed_at, id);

--
-- Name: touches_by_campaign; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX touches_by_campaign ON public.campaign_touches USING btree (workspace_id, campaign_id, lead_id, occurred_at);

--
-- Name: touches_by_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX touches_by_lead ON public.campaign_touches USING btree (workspace_id, lead_id, occurred_at, id);

--
-- Name: users_email_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_email_key ON public.users USING btree (workspace_id, lower((email COLLATE "und-x-icu")));

--
-- Name: users_page; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX users_page ON public.users USING btree (workspace_id, created_at, id);

--
-- Name: users_signin; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX users_signin ON public.users USING btree (lower((email COLLATE "und-x-icu"))) WHERE (password_hash IS NOT NULL);

--
-- Name: webhook_deliveries_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_due ON public.webhook_deliveries USING btree (next_attempt_at) WHERE (status = 'pending'::text);

--
-- Name: webhook_deliveries_page; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_page ON public.webhook_deliveries USING btree (workspace_id, endpoint_id, created_at, id);

--
-- Name: webhook_endpoints_page; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_endpoints_page ON public.webhook_endpoints USING btree (workspace_id, created_at, id);

--
-- Name: api_keys api_keys_notify; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER api_keys_notify AFTER DELETE OR UPDATE OF revoked_at, role, user_id, rate_per_s, rate_burst, can_import ON public.api_keys FOR EACH ROW EXECUTE FUNCTION public.ll_api_key_changed();

--
-- Name: api_keys audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.api_keys FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('api_key', 'workspace_id', 'id', '', 'workspace_id', 'id', 'key_hash', 'created_at', 'last_used_at');

--
-- Name: campaign_touches audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.campaign_touches FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('touch', 'workspace_id', 'id', 'lead_id', 'workspace_id', 'id', 'created_at');

--
-- Name: campaigns audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.campaigns FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('campaign', 'workspace_id', 'id', '', 'workspace_id', 'id', 'version', 'created_at', 'updated_at');

--
-- Name: feedback audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.feedback FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('feedback', 'workspace_id', 'id', 'lead_id', 'workspace_id', 'id', 'created_at');

--
-- Name: feedback_reasons audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.feedback_reasons FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('feedback_reason', 'workspace_id', 'code', '', 'workspace_id', 'code', 'version', 'created_at', 'updated_at');

--
-- Name: interactions audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.interactions FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('interaction', 'workspace_id', 'id', 'lead_id', 'workspace_id', 'id', 'version', 'created_at', 'updated_at');

--
-- Name: invitations audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.invitations FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('invitation', 'workspace_id', 'id', '', 'workspace_id', 'id', 'token_hash', 'created_at');

--
-- Name: lead_stage_changes audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.lead_stage_changes FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('stage_change', 'workspace_id', 'id', 'lead_id', 'workspace_id', 'id');

--
-- Name: leads audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.leads FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('lead', 'workspace_id', 'id', 'id', 'workspace_id', 'id', 'version', 'created_at', 'updated_at');

--
-- Name: sla_goals audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.sla_goals FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('sla_goal', 'workspace_id', 'id', '', 'workspace_id', 'id', 'version', 'created_at', 'updated_at');

--
-- Name: users audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('user', 'workspace_id', 'id', '', 'workspace_id', 'id', 'version', 'created_at', 'updated_at', 'password_hash');

--
-- Name: webhook_endpoints audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.webhook_endpoints FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('webhook', 'workspace_id', 'id', '', 'workspace_id', 'id', 'secret', 'previous_secret', 'version', 'created_at', 'updated_at');

--
-- Name: workspaces audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit AFTER DELETE OR UPDATE ON public.workspaces FOR EACH ROW EXECUTE FUNCTION public.ll_audit_row('workspace', 'id', 'id', '', 'id', 'version', 'created_at', 'updated_at');

--
-- Name: api_keys audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.api_keys REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('api_key', 'workspace_id', 'id', '', 'workspace_id', 'id', 'key_hash', 'created_at', 'last_used_at');

--
-- Name: campaign_touches audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.campaign_touches REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('touch', 'workspace_id', 'id', 'lead_id', 'workspace_id', 'id', 'created_at');

--
-- Name: campaigns audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.campaigns REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('campaign', 'workspace_id', 'id', '', 'workspace_id', 'id', 'version', 'created_at', 'updated_at');

--
-- Name: feedback audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.feedback REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('feedback', 'workspace_id', 'id', 'lead_id', 'workspace_id', 'id', 'created_at');

--
-- Name: feedback_reasons audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.feedback_reasons REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('feedback_reason', 'workspace_id', 'code', '', 'workspace_id', 'code', 'version', 'created_at', 'updated_at');

--
-- Name: interactions audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.interactions REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('interaction', 'workspace_id', 'id', 'lead_id', 'workspace_id', 'id', 'version', 'created_at', 'updated_at');

--
-- Name: invitations audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.invitations REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('invitation', 'workspace_id', 'id', '', 'workspace_id', 'id', 'token_hash', 'created_at');

--
-- Name: lead_stage_changes audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.lead_stage_changes REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('stage_change', 'workspace_id', 'id', 'lead_id', 'workspace_id', 'id');

--
-- Name: leads audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.leads REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('lead', 'workspace_id', 'id', 'id', 'workspace_id', 'id', 'version', 'created_at', 'updated_at');

--
-- Name: sla_goals audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.sla_goals REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('sla_goal', 'workspace_id', 'id', '', 'workspace_id', 'id', 'version', 'created_at', 'updated_at');

--
-- Name: users audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.users REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('user', 'workspace_id', 'id', '', 'workspace_id', 'id', 'version', 'created_at', 'updated_at', 'password_hash');

--
-- Name: webhook_endpoints audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.webhook_endpoints REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('webhook', 'workspace_id', 'id', '', 'workspace_id', 'id', 'secret', 'previous_secret', 'version', 'created_at', 'updated_at');

--
-- Name: workspaces audit_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_insert AFTER INSERT ON public.workspaces REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_audit_rows('workspace', 'id', 'id', '', 'id', 'version', 'created_at', 'updated_at');

--
-- Name: campaign_touches campaign_touches_report; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER campaign_touches_report AFTER INSERT ON public.campaign_touches REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_touches();

--
-- Name: campaign_touches campaign_touches_report_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER campaign_touches_report_delete AFTER DELETE ON public.campaign_touches REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_rows();

--
-- Name: campaign_touches campaign_touches_report_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER campaign_touches_report_update AFTER UPDATE ON public.campaign_touches REFERENCING OLD TABLE AS previous NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_rows_update();

--
-- Name: campaign_touches campaign_touches_score; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER campaign_touches_score AFTER INSERT ON public.campaign_touches REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_score_on_touches();

--
-- Name: campaign_touches campaign_touches_score_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER campaign_touches_score_delete AFTER DELETE ON public.campaign_touches REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_score_on_touches();

--
-- Name: campaign_touches campaign_touches_score_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER campaign_touches_score_update AFTER UPDATE ON public.campaign_touches REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_score_on_touches();

--
-- Name: api_keys change_feed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed AFTER DELETE OR UPDATE ON public.api_keys FOR EACH ROW EXECUTE FUNCTION public.ll_change_row('api_key', 'id', '', '1', 'key_hash', 'last_used_at', 'version', 'updated_at');

--
-- Name: campaign_touches change_feed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed AFTER DELETE OR UPDATE ON public.campaign_touches FOR EACH ROW EXECUTE FUNCTION public.ll_change_row('touch', 'id', 'lead_id', '0', 'version', 'updated_at');

--
-- Name: campaigns change_feed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed AFTER DELETE OR UPDATE ON public.campaigns FOR EACH ROW EXECUTE FUNCTION public.ll_change_row('campaign', 'id', '', '0', 'version', 'updated_at');

--
-- Name: feedback change_feed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed AFTER DELETE OR UPDATE ON public.feedback FOR EACH ROW EXECUTE FUNCTION public.ll_change_row('feedback', 'id', 'lead_id', '0', 'version', 'updated_at');

--
-- Name: feedback_reasons change_feed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed AFTER DELETE OR UPDATE ON public.feedback_reasons FOR EACH ROW EXECUTE FUNCTION public.ll_change_row('reason', 'code', '', '0', 'version', 'updated_at');

--
-- Name: interactions change_feed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed AFTER DELETE OR UPDATE ON public.interactions FOR EACH ROW EXECUTE FUNCTION public.ll_change_row('interaction', 'id', 'lead_id', '0', 'version', 'updated_at');

--
-- Name: leads change_feed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed AFTER DELETE OR UPDATE ON public.leads FOR EACH ROW EXECUTE FUNCTION public.ll_change_row('lead', 'id', 'id', '0', 'first_touch_at', 'latest_touch_at', 'stage_changed_at', 'version', 'updated_at');

--
-- Name: users change_feed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed AFTER DELETE OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.ll_change_row('user', 'id', '', '1', 'password_hash', 'version', 'updated_at');

--
-- Name: api_keys change_feed_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed_insert AFTER INSERT ON public.api_keys REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_change_rows('api_key', 'id', '', '1', 'key_hash', 'last_used_at', 'version', 'updated_at');

--
-- Name: campaign_touches change_feed_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed_insert AFTER INSERT ON public.campaign_touches REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_change_rows('touch', 'id', 'lead_id', '0', 'version', 'updated_at');

--
-- Name: campaigns change_feed_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed_insert AFTER INSERT ON public.campaigns REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_change_rows('campaign', 'id', '', '0', 'version', 'updated_at');

--
-- Name: feedback change_feed_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed_insert AFTER INSERT ON public.feedback REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_change_rows('feedback', 'id', 'lead_id', '0', 'version', 'updated_at');

--
-- Name: feedback_reasons change_feed_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed_insert AFTER INSERT ON public.feedback_reasons REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_change_rows('reason', 'code', '', '0', 'version', 'updated_at');

--
-- Name: interactions change_feed_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed_insert AFTER INSERT ON public.interactions REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_change_rows('interaction', 'id', 'lead_id', '0', 'version', 'updated_at');

--
-- Name: leads change_feed_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed_insert AFTER INSERT ON public.leads REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_change_rows('lead', 'id', 'id', '0', 'first_touch_at', 'latest_touch_at', 'stage_changed_at', 'version', 'updated_at');

--
-- Name: users change_feed_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER change_feed_insert AFTER INSERT ON public.users REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_change_rows('user', 'id', '', '1', 'password_hash', 'version', 'updated_at');

--
-- Name: feedback feedback_report; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER feedback_report AFTER INSERT ON public.feedback REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_feedback();

--
-- Name: feedback feedback_report_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER feedback_report_delete AFTER DELETE ON public.feedback REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_rows();

--
-- Name: feedback feedback_report_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER feedback_report_update AFTER UPDATE ON public.feedback REFERENCING OLD TABLE AS previous NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_rows_update();

--
-- Name: interactions interactions_report; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER interactions_report AFTER INSERT ON public.interactions REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_interactions();

--
-- Name: interactions interactions_report_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER interactions_report_delete AFTER DELETE ON public.interactions REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_rows();

--
-- Name: interactions interactions_report_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER interactions_report_update AFTER UPDATE ON public.interactions REFERENCING OLD TABLE AS previous NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_rows_update();

--
-- Name: interactions interactions_score; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER interactions_score AFTER INSERT ON public.interactions REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_score_on_interactions();

--
-- Name: interactions interactions_score_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER interactions_score_delete AFTER DELETE ON public.interactions REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_score_on_interactions();

--
-- Name: interactions interactions_score_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER interactions_score_update AFTER UPDATE ON public.interactions REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_score_on_interactions();

--
-- Name: campaigns keep_version; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER keep_version BEFORE UPDATE ON public.campaigns FOR EACH ROW EXECUTE FUNCTION public.ll_keep_version();

--
-- Name: feedback_reasons keep_version; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER keep_version BEFORE UPDATE ON public.feedback_reasons FOR EACH ROW EXECUTE FUNCTION public.ll_keep_version();

--
-- Name: leads keep_version; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER keep_version BEFORE UPDATE ON public.leads FOR EACH ROW EXECUTE FUNCTION public.ll_keep_version();

--
-- Name: users keep_version; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER keep_version BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.ll_keep_version();

--
-- Name: webhook_endpoints keep_version; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER keep_version BEFORE UPDATE ON public.webhook_endpoints FOR EACH ROW EXECUTE FUNCTION public.ll_keep_version();

--
-- Name: lead_stage_changes lead_stage_changes_report; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_stage_changes_report AFTER INSERT ON public.lead_stage_changes REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_stage_changes();

--
-- Name: lead_stage_changes lead_stage_changes_report_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_stage_changes_report_delete AFTER DELETE ON public.lead_stage_changes REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_rows();

--
-- Name: lead_stage_changes lead_stage_changes_report_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_stage_changes_report_update AFTER UPDATE ON public.lead_stage_changes REFERENCING OLD TABLE AS previous NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_rows_update();

--
-- Name: leads leads_report_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_report_delete AFTER DELETE ON public.leads REFERENCING OLD TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_leads();

--
-- Name: leads leads_report_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_report_insert AFTER INSERT ON public.leads REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_leads_insert();

--
-- Name: leads leads_report_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_report_update AFTER UPDATE ON public.leads REFERENCING OLD TABLE AS previous NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_report_on_leads_update();

--
-- Name: leads leads_score_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_score_insert AFTER INSERT ON public.leads REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_score_on_leads_insert();

--
-- Name: leads leads_score_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_score_update AFTER UPDATE ON public.leads REFERENCING OLD TABLE AS previous NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION public.ll_score_on_leads_update();

--
-- Name: users user_role_default; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER user_role_default BEFORE INSERT ON public.users FOR EACH ROW EXECUTE FUNCTION public.ll_user_role_default();

--
-- Name: users user_sessions_end; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER user_sessions_end AFTER UPDATE OF active ON public.users FOR EACH ROW WHEN ((old.active AND (NOT new.active))) EXECUTE FUNCTION public.ll_user_sessions_end();

--
-- Name: workspaces workspaces_report_calendar; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER workspaces_report_calendar AFTER UPDATE ON public.workspaces FOR EACH ROW WHEN (((((old.time_zone IS DISTINCT FROM new.time_zone) OR (old.business_days IS DISTINCT FROM new.business_days)) OR (old.business_start IS DISTINCT FROM new.business_start)) OR (old.business_end IS DISTINCT FROM new.business_end))) EXECUTE FUNCTION public.ll_report_on_workspace_calendar();

--
-- Name: workspaces workspaces_seed_reasons; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER workspaces_seed_reasons AFTER INSERT ON public.workspaces FOR EACH ROW EXECUTE FUNCTION public.ll_workspace_seeded();

--
-- Name: api_keys api_keys_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: api_keys api_keys_workspace_id_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_workspace_id_user_id_fkey FOREIGN KEY (workspace_id, user_id) REFERENCES public.users(workspace_id, id);

--
-- Name: campaigns campaigns_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaigns
    ADD CONSTRAINT campaigns_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: campaigns campaigns_workspace_id_owner_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaigns
    ADD CONSTRAINT campaigns_workspace_id_owner_id_fkey FOREIGN KEY (workspace_id, owner_id) REFERENCES public.users(workspace_id, id);

--
-- Name: feedback feedback_author; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback
    ADD CONSTRAINT feedback_author FOREIGN KEY (workspace_id, author_user_id) REFERENCES public.users(workspace_id, id);

--
-- Name: feedback feedback_corrects; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback
    ADD CONSTRAINT feedback_corrects FOREIGN KEY (workspace_id, corrects) REFERENCES public.feedback(workspace_id, id);

--
-- Name: feedback feedback_reason; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback
    ADD CONSTRAINT feedback_reason FOREIGN KEY (workspace_id, reason) REFERENCES public.feedback_reasons(workspace_id, code);

--
-- Name: feedback_reasons feedback_reasons_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback_reasons
    ADD CONSTRAINT feedback_reasons_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: feedback feedback_workspace_id_lead_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback
    ADD CONSTRAINT feedback_workspace_id_lead_id_fkey FOREIGN KEY (workspace_id, lead_id) REFERENCES public.leads(workspace_id, id);

--
-- Name: interactions interactions_campaign; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.interactions
    ADD CONSTRAINT interactions_campaign FOREIGN KEY (workspace_id, campaign_id) REFERENCES public.campaigns(workspace_id, id);

--
-- Name: interactions interactions_lead; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.interactions
    ADD CONSTRAINT interactions_lead FOREIGN KEY (workspace_id, lead_id) REFERENCES public.leads(workspace_id, id);

--
-- Name: interactions interactions_user; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.interactions
    ADD CONSTRAINT interactions_user FOREIGN KEY (workspace_id, user_id) REFERENCES public.users(workspace_id, id);

--
-- Name: invitations invitations_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invitations
    ADD CONSTRAINT invitations_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: invitations invitations_workspace_id_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invitations
    ADD CONSTRAINT invitations_workspace_id_user_id_fkey FOREIGN KEY (workspace_id, user_id) REFERENCES public.users(workspace_id, id);

--
-- Name: lead_assignments lead_assignments_workspace_id_lead_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_assignments
    ADD CONSTRAINT lead_assignments_workspace_id_lead_id_fkey FOREIGN KEY (workspace_id, lead_id) REFERENCES public.leads(workspace_id, id);

--
-- Name: lead_external_ids lead_external_ids_workspace_id_lead_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_external_ids
    ADD CONSTRAINT lead_external_ids_workspace_id_lead_id_fkey FOREIGN KEY (workspace_id, lead_id) REFERENCES public.leads(workspace_id, id);

--
-- Name: lead_merges lead_merges_workspace_id_lead_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_merges
    ADD CONSTRAINT lead_merges_workspace_id_lead_id_fkey FOREIGN KEY (workspace_id, lead_id) REFERENCES public.leads(workspace_id, id);

--
-- Name: lead_merges lead_merges_workspace_id_merged_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_merges
    ADD CONSTRAINT lead_merges_workspace_id_merged_id_fkey FOREIGN KEY (workspace_id, merged_id) REFERENCES public.leads(workspace_id, id);

--
-- Name: lead_scores lead_scores_workspace_id_lead_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_scores
    ADD CONSTRAINT lead_scores_workspace_id_lead_id_fkey FOREIGN KEY (workspace_id, lead_id) REFERENCES public.leads(workspace_id, id) ON DELETE CASCADE;

--
-- Name: lead_stage_changes lead_stage_changes_workspace_id_lead_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_stage_changes
    ADD CONSTRAINT lead_stage_changes_workspace_id_lead_id_fkey FOREIGN KEY (workspace_id, lead_id) REFERENCES public.leads(workspace_id, id);

--
-- Name: leads leads_first_campaign; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_first_campaign FOREIGN KEY (workspace_id, first_campaign_id) REFERENCES public.campaigns(workspace_id, id);

--
-- Name: leads leads_latest_campaign; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_latest_campaign FOREIGN KEY (workspace_id, latest_campaign_id) REFERENCES public.campaigns(workspace_id, id);

--
-- Name: leads leads_merged_into; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_merged_into FOREIGN KEY (workspace_id, merged_into) REFERENCES public.leads(workspace_id, id);

--
-- Name: leads leads_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: leads leads_workspace_id_owner_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_workspace_id_owner_id_fkey FOREIGN KEY (workspace_id, owner_id) REFERENCES public.users(workspace_id, id);

--
-- Name: routing_absences routing_absences_workspace_id_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_absences
    ADD CONSTRAINT routing_absences_workspace_id_user_id_fkey FOREIGN KEY (workspace_id, user_id) REFERENCES public.users(workspace_id, id);

--
-- Name: routing_pool_members routing_pool_members_workspace_id_pool_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_pool_members
    ADD CONSTRAINT routing_pool_members_workspace_id_pool_id_fkey FOREIGN KEY (workspace_id, pool_id) REFERENCES public.routing_pools(workspace_id, id) ON DELETE CASCADE;

--
-- Name: routing_pool_members routing_pool_members_workspace_id_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_pool_members
    ADD CONSTRAINT routing_pool_members_workspace_id_user_id_fkey FOREIGN KEY (workspace_id, user_id) REFERENCES public.users(workspace_id, id);

--
-- Name: routing_pools routing_pools_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_pools
    ADD CONSTRAINT routing_pools_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: routing_rules routing_rules_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_rules
    ADD CONSTRAINT routing_rules_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.routing_rulesets(workspace_id);

--
-- Name: routing_rules routing_rules_workspace_id_target_pool_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_rules
    ADD CONSTRAINT routing_rules_workspace_id_target_pool_id_fkey FOREIGN KEY (workspace_id, target_pool_id) REFERENCES public.routing_pools(workspace_id, id);

--
-- Name: routing_rules routing_rules_workspace_id_target_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_rules
    ADD CONSTRAINT routing_rules_workspace_id_target_user_id_fkey FOREIGN KEY (workspace_id, target_user_id) REFERENCES public.users(workspace_id, id);

--
-- Name: routing_rulesets routing_rulesets_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_rulesets
    ADD CONSTRAINT routing_rulesets_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: routing_sla routing_sla_workspace_id_lead_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.routing_sla
    ADD CONSTRAINT routing_sla_workspace_id_lead_id_fkey FOREIGN KEY (workspace_id, lead_id) REFERENCES public.leads(workspace_id, id);

--
-- Name: scoring_drafts scoring_drafts_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_drafts
    ADD CONSTRAINT scoring_drafts_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE CASCADE;

--
-- Name: scoring_groups scoring_groups_workspace_id_version_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_groups
    ADD CONSTRAINT scoring_groups_workspace_id_version_fkey FOREIGN KEY (workspace_id, version) REFERENCES public.scoring_versions(workspace_id, version) ON DELETE CASCADE;

--
-- Name: scoring_rules scoring_rules_workspace_id_version_grp_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_rules
    ADD CONSTRAINT scoring_rules_workspace_id_version_grp_fkey FOREIGN KEY (workspace_id, version, grp) REFERENCES public.scoring_groups(workspace_id, version, name) ON DELETE CASCADE;

--
-- Name: scoring_run_lanes scoring_run_lanes_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_run_lanes
    ADD CONSTRAINT scoring_run_lanes_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: scoring_runs scoring_runs_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_runs
    ADD CONSTRAINT scoring_runs_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE CASCADE;

--
-- Name: scoring_runs scoring_runs_workspace_id_version_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_runs
    ADD CONSTRAINT scoring_runs_workspace_id_version_fkey FOREIGN KEY (workspace_id, version) REFERENCES public.scoring_versions(workspace_id, version);

--
-- Name: scoring_versions scoring_versions_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scoring_versions
    ADD CONSTRAINT scoring_versions_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id) ON DELETE CASCADE;

--
-- Name: sessions sessions_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: sessions sessions_workspace_id_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_workspace_id_user_id_fkey FOREIGN KEY (workspace_id, user_id) REFERENCES public.users(workspace_id, id);

--
-- Name: sla_goals sla_goals_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sla_goals
    ADD CONSTRAINT sla_goals_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: sla_goals sla_goals_workspace_id_owner_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sla_goals
    ADD CONSTRAINT sla_goals_workspace_id_owner_id_fkey FOREIGN KEY (workspace_id, owner_id) REFERENCES public.users(workspace_id, id);

--
-- Name: campaign_touches touches_campaign; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_touches
    ADD CONSTRAINT touches_campaign FOREIGN KEY (workspace_id, campaign_id) REFERENCES public.campaigns(workspace_id, id);

--
-- Name: campaign_touches touches_lead; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campaign_touches
    ADD CONSTRAINT touches_lead FOREIGN KEY (workspace_id, lead_id) REFERENCES public.leads(workspace_id, id);

--
-- Name: users users_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- Name: webhook_cursors webhook_cursors_workspace_id_endpoint_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_cursors
    ADD CONSTRAINT webhook_cursors_workspace_id_endpoint_id_fkey FOREIGN KEY (workspace_id, endpoint_id) REFERENCES public.webhook_endpoints(workspace_id, id) ON DELETE CASCADE;

--
-- Name: webhook_deliveries webhook_deliveries_workspace_id_endpoint_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_workspace_id_endpoint_id_fkey FOREIGN KEY (workspace_id, endpoint_id) REFERENCES public.webhook_endpoints(workspace_id, id) ON DELETE CASCADE;

--
-- Name: webhook_endpoints webhook_endpoints_workspace_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES public.workspaces(id);

--
-- PostgreSQL database dump complete
--

