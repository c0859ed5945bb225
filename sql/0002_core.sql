-- Leadloop schema 0002: campaigns, leads, touches, the shared lifecycle, the change feed
-- and idempotency records. Conventions as in 0001: workspace_id in every key.

-- Case-insensitive comparison for any script, independent of the database's locale:
-- lower() under ICU folds; the result in "C" collation lets a btree serve prefix LIKE.
CREATE FUNCTION ll_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower($1 COLLATE "und-x-icu") COLLATE "C";

-- custom: an object of scalars, at most 50 keys and 16 KiB.
CREATE FUNCTION ll_custom_ok(c jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN jsonb_typeof(c) = 'object'
       AND octet_length(c::text) <= 16384
       AND (SELECT count(*) <= 50 AND bool_and(jsonb_typeof(v) NOT IN ('object', 'array'))
              IS NOT FALSE
            FROM jsonb_each(c) AS e(k, v));

-- consent.captured_at in the API's one timestamp form (UTC, microseconds).
CREATE FUNCTION ll_consent(c jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN c ? 'captured_at' THEN jsonb_set(c, '{captured_at}', to_jsonb(to_char(
               (c ->> 'captured_at')::timestamptz AT TIME ZONE 'UTC',
               'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))) ELSE c END;

CREATE TABLE campaigns (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    channel      text NOT NULL CHECK (channel IN ('email', 'webinar', 'event', 'paid_search',
                     'paid_social', 'content', 'direct_mail', 'referral', 'other')),
    status       text NOT NULL DEFAULT 'planned'
                     CHECK (status IN ('planned', 'active', 'paused', 'completed', 'archived')),
    budget       bigint NOT NULL DEFAULT 0 CHECK (budget >= 0),
    cost         bigint NOT NULL DEFAULT 0 CHECK (cost >= 0),
    currency     text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    starts_on    date,
    ends_on      date,
    owner_id     uuid,
    tags         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 20),
    description  text CHECK (char_length(description) <= 10000),
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, owner_id) REFERENCES users (workspace_id, id),
    CONSTRAINT campaigns_dates CHECK (starts_on <= ends_on)
);
CREATE INDEX campaigns_by_created ON campaigns (workspace_id, created_at, id);
CREATE INDEX campaigns_by_name ON campaigns (workspace_id, name, id);
CREATE INDEX campaigns_by_start ON campaigns (workspace_id, coalesce(starts_on, 'infinity'), id);

CREATE TABLE leads (
    workspace_id       uuid NOT NULL REFERENCES workspaces (id),
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    email              text CHECK (char_length(email) BETWEEN 3 AND 254),
    first_name         text CHECK (char_length(first_name) <= 200),
    last_name          text CHECK (char_length(last_name) <= 200),
    company            text CHECK (char_length(company) <= 200),
    title              text CHECK (char_length(title) <= 200),
    phone              text CHECK (char_length(phone) <= 50),
    country            text CHECK (country ~ '^[A-Z]{2}$'),
    source             text NOT NULL DEFAULT 'other' CHECK (source IN ('web', 'event', 'referral',
                           'paid', 'outbound', 'partner', 'import', 'other')),
    stage              text NOT NULL DEFAULT 'new' CHECK (stage IN ('new', 'mql',
                           'sales_accepted', 'sales_qualified', 'opportunity', 'customer',
                           'recycled', 'disqualified')),
    score              smallint CHECK (score BETWEEN 0 AND 100),
    owner_id           uuid,
    consent            jsonb CONSTRAINT leads_consent CHECK (consent IS NULL
                           OR coalesce(jsonb_typeof(consent -> 'email_opt_in') = 'boolean', false)),
    custom             jsonb NOT NULL DEFAULT '{}' CONSTRAINT leads_custom CHECK (ll_custom_ok(custom)),
    external_ids       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(external_ids) = 'object'),
    first_campaign_id  uuid,
    latest_campaign_id uuid,
    -- when the first and latest touches happened: a touch updates the lead only when it is
    -- earlier or later than these, a comparison PostgreSQL re-checks after a lock wait,
    -- so concurrent touches cannot leave an older one as the latest
    first_touch_at     timestamptz,
    latest_touch_at    timestamptz,
    erased_at          timestamptz,
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    stage_changed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, owner_id) REFERENCES users (workspace_id, id),
    CONSTRAINT leads_first_campaign FOREIGN KEY (workspace_id, first_campaign_id)
        REFERENCES campaigns (workspace_id, id),
    CONSTRAINT leads_latest_campaign FOREIGN KEY (workspace_id, latest_campaign_id)
        REFERENCES campaigns (workspace_id, id),
    CHECK (email IS NOT NULL OR erased_at IS NOT NULL)
);
-- An erased lead has no email, so its address can be used again.
CREATE UNIQUE INDEX leads_email_key ON leads (workspace_id, ll_fold(email)) WHERE email IS NOT NULL;
CREATE INDEX leads_first_name ON leads (workspace_id, ll_fold(first_name));
CREATE INDEX leads_last_name ON leads (workspace_id, ll_fold(last_name));
CREATE INDEX leads_company ON leads (workspace_id, ll_fold(company));
CREATE INDEX leads_by_created ON leads (workspace_id, created_at, id);
CREATE INDEX leads_by_updated ON leads (workspace_id, updated_at, id);
CREATE INDEX leads_by_score ON leads (workspace_id, coalesce(score, -1), id);

-- The sync path: an id in another system names one lead. The lead row keeps a copy
-- (external_ids) for reading; this table makes the pair unique and findable.
CREATE TABLE lead_external_ids (
    workspace_id uuid NOT NULL,
    system       text NOT NULL CHECK (system ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    external_id  text NOT NULL CHECK (char_length(external_id) BETWEEN 1 AND 255),
    lead_id      uuid NOT NULL,
    PRIMARY KEY (workspace_id, system, external_id),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id)
);
CREATE INDEX lead_external_ids_lead ON lead_external_ids (workspace_id, lead_id);

CREATE TABLE campaign_touches (
    workspace_id uuid NOT NULL,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    campaign_id  uuid NOT NULL,
    lead_id      uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('sent', 'opened', 'clicked', 'responded',
                     'registered', 'attended', 'visited', 'created')),
    occurred_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT touches_campaign FOREIGN KEY (workspace_id, campaign_id) REFERENCES campaigns (workspace_id, id),
    CONSTRAINT touches_lead FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id)
);
CREATE INDEX touches_by_lead ON campaign_touches (workspace_id, lead_id, occurred_at, id);
CREATE INDEX touches_by_campaign ON campaign_touches (workspace_id, campaign_id, lead_id, occurred_at);

CREATE TABLE lead_stage_changes (
    workspace_id uuid NOT NULL,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    lead_id      uuid NOT NULL,
    from_stage   text,
    to_stage     text NOT NULL,
    reason       text CHECK (char_length(reason) <= 500),
    by_key_id    uuid,
    by_user_id   uuid,
    changed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id)
);
CREATE INDEX stage_changes_by_lead ON lead_stage_changes (workspace_id, lead_id, changed_at, id);

-- The ordered change feed for sync clients (GET /v1/changes, later) and webhooks.
CREATE TABLE changes (
    workspace_id uuid NOT NULL,
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    entity       text NOT NULL,
    entity_id    uuid NOT NULL,
    operation    text NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, seq)
);

-- Answers kept for Idempotency-Key replays, written in the same transaction as the
-- write they answer. Scoped to the API key; kept 24 h.
CREATE TABLE idempotency_keys (
    workspace_id uuid NOT NULL,
    api_key_id   uuid NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status       smallint NOT NULL,
    content_type text,
    location     text,
    etag         text,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, api_key_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
