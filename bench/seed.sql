-- The data of `make bench`: one workspace's people, :campaigns campaigns and :leads leads,
-- written with SQL in the database (seconds, not the minutes the API would take) but into
-- the very tables and with the same side rows the API writes: each lead has its stage
-- history from (null -> new) on, the `created` touch of its first campaign (as POST
-- /v1/leads with campaign_id writes it) plus up to four later touches (as POST
-- /v1/campaigns/{id}/touches does, moving latest_campaign_id), its external id rows, and
-- the change-feed rows of all of it in time order; and, once the schema has feedback, the
-- sales verdicts that moved it.
--
-- Variables (psql -v): ws (workspace id), key (the admin key's id, author of the history),
-- leads, campaigns. Also fills schema `bench` with the lists that run.sh hands to wrk, so that
-- wrk and pgbench pick from the same rows:
--   bench.lead_ids (n, id)       every seeded lead, n = 1..:leads
--   bench.campaign_ids (n, id)   every campaign, n = 1..:campaigns
--   bench.feedback_ids (n, id)   the leads in sales' hands (sales_accepted .. opportunity)
-- The random choices are seeded (setseed). Leads and campaigns get the ids md5('lead-' || n)
-- and md5('campaign-' || n) as uuids: as evenly spread as gen_random_uuid()'s, and pgbench
-- can compute them from a random n (a lookup in bench.lead_ids would cost pgbench a second
-- index scan per transaction, a third of a one-row read).
\set ON_ERROR_STOP 1
BEGIN;
SELECT setseed(0.5);

CREATE SCHEMA bench;
CREATE TABLE bench.lead_ids (n integer PRIMARY KEY, id uuid NOT NULL);
CREATE TABLE bench.campaign_ids (n integer PRIMARY KEY, id uuid NOT NULL);
CREATE TABLE bench.feedback_ids (n integer PRIMARY KEY, id uuid NOT NULL);

-- 5 marketers (own campaigns) and 15 sellers (own leads once they are MQLs).
CREATE TEMP TABLE p ON COMMIT DROP AS
SELECT g AS n, gen_random_uuid() AS id, CASE WHEN g <= 5 THEN 'marketing' ELSE 'sales' END AS team,
       (ARRAY['Maya', 'Noah', 'Lena', 'Omar', 'Iris', 'Theo', 'Sara', 'Ivan', 'Nora', 'Luis',
              'Emma', 'Kofi', 'Yuki', 'Ravi', 'Anna', 'Jonas', 'Mia', 'Tariq', 'Eva', 'Paul'])[g]
           || ' ' || (ARRAY['Sales', 'Moreau', 'Berg', 'Haddad', 'Novak'])[1 + g % 5] AS name
FROM generate_series(1, 20) g;
INSERT INTO users (workspace_id, id, name, email, team, created_at, updated_at)
SELECT :'ws', id, name, lower(replace(name, ' ', '.')) || '@bench.example', team,
       now() - interval '500 days', now() - interval '500 days'
FROM p;

-- Campaigns started every ~4 days over the last 400 days, of every channel.
CREATE TEMP TABLE c ON COMMIT DROP AS
SELECT g AS n, md5('campaign-' || g)::uuid AS id,
       (ARRAY['email', 'webinar', 'event', 'paid_search', 'paid_social', 'content',
              'direct_mail', 'referral', 'other'])[1 + g % 9] AS channel,
       (current_date - 400 + (g * 400 / :campaigns))::date AS starts_on
FROM generate_series(1, :campaigns) g;
INSERT INTO campaigns (workspace_id, id, name, channel, status, budget, cost, currency, starts_on,
                       ends_on, owner_id, tags, description, created_at, updated_at)
SELECT :'ws', c.id, initcap(replace(c.channel, '_', ' ')) || ' ' || to_char(c.starts_on, 'Mon YYYY')
           || ' #' || c.n,
       c.channel, CASE WHEN c.starts_on + 90 < current_date THEN 'completed' ELSE 'active' END,
       (1000 + floor(random() * 49000))::bigint * 100, (500 + floor(random() * 40000))::bigint * 100,
       'USD', c.starts_on, c.starts_on + 90, (SELECT id FROM p WHERE p.n = 1 + c.n % 5),
       ARRAY['q' || extract(quarter FROM c.starts_on), c.channel], 'Benchmark campaign',
       c.starts_on - 14, c.starts_on - 14
FROM c;
INSERT INTO bench.campaign_ids SELECT n, id FROM c;

-- The leads' random choices; created over the last 365 days, in random order of n.
CREATE TEMP TABLE s ON COMMIT DROP AS
SELECT n, md5('lead-' || n)::uuid AS id, now() - random() * interval '365 days' AS created_at,
       random() AS r_source, random() AS r_stage, random() AS r_owner, random() AS r_more,
       1 + least(floor(:campaigns * power(random(), 1.5))::int, :campaigns - 1) AS campaign,
       floor(random() * 5)::int AS touches,
       1 + floor(random() * 40)::int AS fi, 1 + floor(random() * 40)::int AS li,
       1 + floor(random() * 20)::int AS ca, 1 + floor(random() * 20)::int AS cb,
       1 + floor(random() * 12)::int AS ti, 1 + floor(random() * 12)::int AS co,
       1 + floor(random() * 8)::int AS ind
FROM generate_series(1, :leads) n;

CREATE TEMP TABLE l ON COMMIT DROP AS
SELECT s.*, f.first_name, f.last_name, f.company,
       CASE WHEN r_source < 0.35 THEN 'web' WHEN r_source < 0.55 THEN 'paid'
            WHEN r_source < 0.65 THEN 'event' WHEN r_source < 0.75 THEN 'referral'
            WHEN r_source < 0.85 THEN 'outbound' WHEN r_source < 0.90 THEN 'partner'
            WHEN r_source < 0.95 THEN 'import' ELSE 'other' END AS source,
       CASE WHEN r_stage < 0.55 THEN ARRAY['new']
            WHEN r_stage < 0.70 THEN ARRAY['new', 'mql']
            WHEN r_stage < 0.78 THEN ARRAY['new', 'mql', 'sales_accepted']
            WHEN r_stage < 0.83 THEN ARRAY['new', 'mql', 'sales_accepted', 'sales_qualified']
            WHEN r_stage < 0.87 THEN ARRAY['new', 'mql', 'sales_accepted', 'sales_qualified',
                                           'opportunity']
            WHEN r_stage < 0.90 THEN ARRAY['new', 'mql', 'sales_accepted', 'sales_qualified',
                                           'opportunity', 'customer']
            WHEN r_stage < 0.95 THEN ARRAY['new', 'mql', 'recycled']
            ELSE ARRAY['new', 'mql', 'sales_accepted', 'disqualified'] END AS path
FROM s,
LATERAL (SELECT
    (ARRAY['Ana', 'Ben', 'Chloe', 'David', 'Elif', 'Femi', 'Greta', 'Hugo', 'Ines', 'Jamal',
           'Kira', 'Liam', 'Mei', 'Nils', 'Olga', 'Pedro', 'Qiu', 'Rosa', 'Sami', 'Tess',
           'Uma', 'Victor', 'Wen', 'Ximena', 'Yara', 'Zoe', 'Arjun', 'Bea', 'Carlos', 'Dana',
           'Erik', 'Fatima', 'Gil', 'Hana', 'Igor', 'Julia', 'Kenji', 'Lucia', 'Marek', 'Nadia'])[fi]
        AS first_name,
    (ARRAY['Silva', 'Mueller', 'Okafor', 'Reyes', 'Tanaka', 'Kowalski', 'Dubois', 'Rossi',
           'Nguyen', 'Schmidt', 'Garcia', 'Smith', 'Jensen', 'Ivanova', 'Haddad', 'Kim',
           'Costa', 'Larsen', 'Novak', 'Brown', 'Moreau', 'Yilmaz', 'Santos', 'Fischer',
           'Lopez', 'Wilson', 'Bauer', 'Petrov', 'Ali', 'Chen', 'Murphy', 'Sato', 'Weber',
           'Martin', 'Popescu', 'Horvat', 'Lind', 'Oliveira', 'Walsh', 'Park'])[li] AS last_name,
    (ARRAY['Norte', 'Blue', 'Apex', 'Cedar', 'Nimbus', 'Vector', 'Harbor', 'Quartz', 'Summit',
           'Lumen', 'Orbit', 'Granite', 'Pioneer', 'Atlas', 'Maple', 'Zenith', 'Coral',
           'Falcon', 'Ember', 'Delta'])[ca] || ' '
        || (ARRAY['Analytics', 'Logistics', 'Health', 'Systems', 'Foods', 'Energy', 'Labs',
                  'Media', 'Finance', 'Robotics', 'Retail', 'Software', 'Capital', 'Studio',
                  'Works', 'Cloud', 'Bio', 'Motors', 'Travel', 'Partners'])[cb] AS company
) f;

-- The lifecycle: step 1 is (null -> new) at creation, later steps spread up to now.
CREATE TEMP TABLE st ON COMMIT DROP AS
SELECT l.n, l.id, w.i, w.to_stage, CASE WHEN w.i > 1 THEN l.path[w.i - 1] END AS from_stage,
       CASE WHEN w.i = 1 THEN l.created_at
            ELSE l.created_at + (now() - l.created_at)
                 * ((w.i - 1 + 0.5 * random()) / cardinality(l.path)) END AS at
FROM l, unnest(l.path) WITH ORDINALITY AS w(to_stage, i);

-- Touches: the `created` one of the first campaign, then 0..4 of other campaigns.
CREATE TEMP TABLE t ON COMMIT DROP AS
SELECT l.n, l.id AS lead_id, gen_random_uuid() AS id, l.campaign, 'created' AS kind,
       l.created_at AS at
FROM l
UNION ALL
SELECT l.n, l.id, gen_random_uuid(),
       1 + least(floor(:campaigns * power(random(), 1.5))::int, :campaigns - 1),
       (ARRAY['sent', 'opened', 'clicked', 'responded', 'registered', 'attended',
              'visited'])[1 + floor(random() * 7)::int],
       l.created_at + random() * (now() - l.created_at)
FROM l, generate_series(1, l.touches) k;

CREATE TEMP TABLE agg ON COMMIT DROP AS
SELECT st.n, max(st.at) AS stage_changed_at, count(*) AS steps, tt.latest_campaign,
       tt.latest_touch_at
FROM st
JOIN (SELECT DISTINCT ON (n) n, campaign AS latest_campaign, at AS latest_touch_at
      FROM t ORDER BY n, at DESC) tt ON tt.n = st.n
GROUP BY st.n, tt.latest_campaign, tt.latest_touch_at;

INSERT INTO leads (workspace_id, id, email, first_name, last_name, company, title, phone, country,
                   source, stage, score, owner_id, consent, custom, external_ids,
                   first_campaign_id, latest_campaign_id, first_touch_at, latest_touch_at,
                   version, created_at, updated_at, stage_changed_at)
SELECT :'ws', l.id,
       lower(l.first_name || '.' || l.last_name || '.' || l.n || '@'
             || replace(l.company, ' ', '-')) || '.example',
       l.first_name, l.last_name, l.company,
       (ARRAY['Head of Marketing', 'CTO', 'VP Sales', 'Operations Manager', 'Founder',
              'Data Analyst', 'Procurement Lead', 'Engineer', 'CFO', 'Product Manager',
              'IT Director', 'Consultant'])[l.ti],
       '+1 555 ' || lpad((l.n % 10000000)::text, 7, '0'),
       (ARRAY['US', 'US', 'US', 'GB', 'DE', 'FR', 'PT', 'ES', 'NL', 'CA', 'BR', 'JP'])[l.co],
       l.source, l.path[cardinality(l.path)],
       CASE WHEN l.r_more < 0.8 THEN floor(l.r_more * 125)::smallint END,
       CASE WHEN cardinality(l.path) > 1 OR l.r_owner < 0.3
            THEN (SELECT id FROM p WHERE p.n = 6 + l.n % 15) END,
       CASE WHEN l.r_owner < 0.6 THEN jsonb_build_object('email_opt_in', l.r_owner < 0.5,
            'captured_at', to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            'how', 'web form') END,
       jsonb_build_object('industry', (ARRAY['software', 'retail', 'health', 'finance',
           'manufacturing', 'education', 'media', 'logistics'])[l.ind],
           'employees', 10 * (1 + l.n % 500)),
       CASE WHEN l.r_more > 0.7 THEN jsonb_build_object('crm', 'CRM-' || l.n) ELSE '{}' END,
       fc.id, lc.id, l.created_at, a.latest_touch_at,
       a.steps, l.created_at, a.stage_changed_at, a.stage_changed_at
FROM l
JOIN agg a ON a.n = l.n
JOIN c fc ON fc.n = l.campaign
JOIN c lc ON lc.n = a.latest_campaign
ORDER BY l.n;

INSERT INTO lead_external_ids (workspace_id, system, external_id, lead_id)
SELECT :'ws', 'crm', 'CRM-' || n, id FROM l WHERE r_more > 0.7;

INSERT INTO lead_stage_changes (workspace_id, lead_id, from_stage, to_stage, reason, by_key_id,
                                changed_at)
SELECT :'ws', id, from_stage, to_stage,
       CASE to_stage WHEN 'sales_accepted' THEN 'feedback: accepted'
                     WHEN 'recycled' THEN 'feedback: rejected (bad_timing)'
                     WHEN 'disqualified' THEN 'feedback: lost (bad_fit)'
                     WHEN 'customer' THEN 'feedback: won' END,
       :'key', at
FROM st ORDER BY at;

INSERT INTO campaign_touches (workspace_id, id, campaign_id, lead_id, kind, occurred_at, created_at)
SELECT :'ws', t.id, c.id, t.lead_id, t.kind, t.at, t.at
FROM t JOIN c ON c.n = t.campaign ORDER BY t.at;

-- The change feed's rows come from the change trigger (schema 0012) as the rows above
-- were written.

-- Sales' verdicts, where the schema has them (0003): what moved each lead into
-- sales_accepted, recycled, disqualified or customer, by its owner, rated 1..5.
SELECT to_regclass('feedback') IS NOT NULL AS has_feedback \gset
\if :has_feedback
CREATE TEMP TABLE fb ON COMMIT DROP AS
SELECT gen_random_uuid() AS id, st.id AS lead_id, st.at, st.from_stage, st.to_stage,
       (SELECT id FROM p WHERE p.n = 6 + st.n % 15) AS author,
       CASE st.to_stage WHEN 'sales_accepted' THEN 'accepted' WHEN 'recycled' THEN 'rejected'
                        WHEN 'disqualified' THEN 'lost' ELSE 'won' END AS kind
FROM st WHERE st.to_stage IN ('sales_accepted', 'recycled', 'disqualified', 'customer');
INSERT INTO feedback (workspace_id, id, lead_id, kind, reason, rating, amount, currency,
                      author_user_id, author_key_id, occurred_at, created_at, stage_before,
                      stage_after)
SELECT :'ws', id, lead_id, kind,
       CASE kind WHEN 'rejected' THEN 'bad_timing' WHEN 'lost' THEN 'bad_fit' END,
       1 + floor(random() * 5)::int,
       CASE WHEN kind = 'won' THEN (1000 + floor(random() * 99000))::bigint * 100 END,
       CASE WHEN kind = 'won' THEN 'USD' END,
       author, :'key', at, at, from_stage, to_stage
FROM fb ORDER BY at;
\endif

INSERT INTO bench.lead_ids SELECT n, id FROM l;
INSERT INTO bench.feedback_ids
SELECT row_number() OVER (ORDER BY n), id FROM l
WHERE path[cardinality(path)] IN ('sales_accepted', 'sales_qualified', 'opportunity');
COMMIT;
