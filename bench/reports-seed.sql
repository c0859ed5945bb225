-- The data of bench/reports.sh: two years of one workspace, written with SQL in the database
-- but the way the daemon writes it, one statement per request kind and chunk, so that the
-- statement-level triggers on leads, campaign_touches, lead_stage_changes and feedback (the
-- report aggregates) see what they would see from the API, in an order a live workspace
-- would have written it:
--   1. leads, :chunk a statement, as POST /v1/leads with campaign_id writes them: the lead
--      (stage new, first = latest campaign), its (null -> new) stage change, its `created`
--      touch and its change-feed row;
--   2. the later touches, as POST /v1/campaigns/{id}/touches writes them: the touch, the
--      lead's latest campaign moved to it, the change-feed row;
--   3. 40 % of the leads become MQLs a few hours or days after creation, as POST
--      /v1/leads/{id}/transitions writes it;
--   4. sales feedback on MQLs, as POST /v1/leads/{id}/feedback writes it: a verdict
--      (accepted -> sales_accepted, or rejected with a reason -> recycled or disqualified as
--      the reason says), then on some accepted leads contacted, meeting_booked and won
--      (-> customer) or lost with a reason; one statement per step and chunk, so that each
--      lead's feedback is written in its order.
-- Times are historic: each row carries the time it would have been written at (created_at
-- = occurred_at), where the daemon would write now().
--
-- Variables (psql -v): ws (workspace id, reporting currency USD), key (the admin key's id,
-- author of everything), leads; optional: campaigns (200), feedback (about this many
-- feedback rows: leads * 3 / 10), chunk (leads a statement: 50000), check (1: verify the
-- data at the end and fail if it is inconsistent; 2: also compare the report tables with
-- what ll_report_rebuild computes from the rows, then roll that back). Touches are 1..5 a
-- lead, 3 on average.
-- Progress goes to stderr (\warn). The random choices are seeded (setseed).
\set ON_ERROR_STOP 1
\if :{?campaigns}
\else
\set campaigns 200
\endif
\if :{?chunk}
\else
\set chunk 50000
\endif
\if :{?feedback}
\else
SELECT :leads * 3 / 10 AS feedback \gset
\endif
\if :{?check}
\else
\set check 1
\endif
SELECT :check >= 1 AS check_rows, :check >= 2 AS check_reports \gset
SET client_min_messages = warning;

SELECT clock_timestamp() AS t_all, clock_timestamp() AS t_phase \gset
SELECT setseed(0.25);

-- ---------------------------------------------------------------- people, campaigns

-- 20 sellers (own the leads, give the feedback) and 4 marketers (own the campaigns).
CREATE TEMP TABLE u AS
SELECT g AS n, gen_random_uuid() AS id, CASE WHEN g <= 20 THEN 'sales' ELSE 'marketing' END AS team,
       (ARRAY['Maya', 'Noah', 'Lena', 'Omar', 'Iris', 'Theo', 'Sara', 'Ivan', 'Nora', 'Luis',
              'Emma', 'Kofi', 'Yuki', 'Ravi', 'Anna', 'Jonas', 'Mia', 'Tariq', 'Eva', 'Paul',
              'Hana', 'Igor', 'Rosa', 'Femi'])[g]
           || ' ' || (ARRAY['Sales', 'Moreau', 'Berg', 'Haddad', 'Novak', 'Costa'])[1 + g % 6] AS name
FROM generate_series(1, 24) g;
INSERT INTO users (workspace_id, id, name, email, team, created_at, updated_at)
SELECT :'ws', id, name, lower(replace(name, ' ', '.')) || '@reports.example', team,
       now() - interval '760 days', now() - interval '760 days'
FROM u;

-- Campaigns started every ~3.5 days over the last two years, running 2 weeks to 6 months;
-- 15 % have no end yet.
CREATE TEMP TABLE c AS
SELECT n, gen_random_uuid() AS id, channel, starts_on,
       CASE WHEN r_end >= 0.15 THEN starts_on + 14 + floor(random() * 167)::int END AS ends_on,
       (1000 + floor(random() * 49001))::bigint * 100 AS cost
FROM (SELECT g AS n, random() AS r_end,
             (ARRAY['email', 'webinar', 'event', 'paid_search', 'paid_social', 'content',
                    'direct_mail', 'referral', 'other'])[1 + g % 9] AS channel,
             current_date - 730 + floor((g - 1 + random()) * 700 / :campaigns)::int AS starts_on
      FROM generate_series(1, :campaigns) g) x;
ALTER TABLE c ADD PRIMARY KEY (n);
WITH i AS (
    INSERT INTO campaigns (workspace_id, id, name, channel, status, budget, cost, currency,
                           starts_on, ends_on, owner_id, tags, description, created_at, updated_at)
    SELECT :'ws', c.id,
           initcap(replace(c.channel, '_', ' ')) || ' ' || to_char(c.starts_on, 'Mon YYYY') || ' #' || c.n,
           c.channel, CASE WHEN c.ends_on < current_date THEN 'completed' ELSE 'active' END,
           c.cost + c.cost / 4, c.cost, 'USD', c.starts_on, c.ends_on,
           (SELECT id FROM u WHERE u.n = 21 + c.n % 4),
           ARRAY['q' || extract(quarter FROM c.starts_on), c.channel], 'Reports benchmark campaign',
           c.starts_on - 14, c.starts_on - 14
    FROM c ORDER BY c.starts_on
    RETURNING workspace_id, id, created_at)
SELECT count(*) FROM i;

-- The campaigns running on each day (all of them on a day none runs): a touch on a day
-- goes to one of them.
CREATE TEMP TABLE days AS
SELECT d.d, coalesce(array_agg(c.n ORDER BY c.n) FILTER (WHERE c.n IS NOT NULL),
                     (SELECT array_agg(n ORDER BY n) FROM c)) AS cs
FROM (SELECT current_date - i AS d FROM generate_series(-1, 732) i) d
LEFT JOIN c ON d.d BETWEEN c.starts_on AND coalesce(c.ends_on, current_date)
GROUP BY d.d;
ALTER TABLE days ADD PRIMARY KEY (d);

-- ---------------------------------------------------------------- the plan of every row

-- The leads, numbered in the order of their creation, uniform over the last 730 days.
CREATE TEMP TABLE s0 AS
SELECT gen_random_uuid() AS id, now() - random() * interval '730 days' AS created_at,
       random() AS r_source, 1 + floor(random() * 20)::int AS owner,
       1 + floor(random() * 5)::int AS touches,
       random() < 0.4 AS mql, interval '1 hour' * (1 + 240 * power(random(), 3)) AS mql_delay,
       1 + floor(random() * 40)::int AS fi, 1 + floor(random() * 40)::int AS li,
       1 + floor(random() * 20)::int AS ca, 1 + floor(random() * 20)::int AS cb,
       1 + floor(random() * 12)::int AS ti, 1 + floor(random() * 12)::int AS co,
       random() AS r_score
FROM generate_series(1, :leads);
CREATE TEMP TABLE s AS
SELECT row_number() OVER (ORDER BY s0.created_at)::int AS n, s0.*,
       d.cs[1 + floor(random() * cardinality(d.cs))::int] AS campaign,
       CASE WHEN s0.mql THEN s0.created_at + least(s0.mql_delay, (now() - s0.created_at) * 0.9) END AS mql_at,
       CASE WHEN r_source < 0.35 THEN 'web' WHEN r_source < 0.55 THEN 'paid'
            WHEN r_source < 0.65 THEN 'event' WHEN r_source < 0.75 THEN 'referral'
            WHEN r_source < 0.85 THEN 'outbound' WHEN r_source < 0.90 THEN 'partner'
            WHEN r_source < 0.95 THEN 'import' ELSE 'other' END AS source
FROM s0 JOIN days d ON d.d = s0.created_at::date;
DROP TABLE s0;
ALTER TABLE s ADD PRIMARY KEY (n);

-- The later touches (the `created` one is the lead's campaign at its creation): up to 30
-- days after the lead's creation, on a campaign running that day.
CREATE TEMP TABLE t0 AS
SELECT s.n, k, s.created_at + random() * least(interval '30 days', now() - s.created_at) AS at,
       (ARRAY['sent', 'opened', 'clicked', 'responded', 'registered', 'attended',
              'visited'])[1 + floor(random() * 7)::int] AS kind
FROM s, generate_series(2, s.touches) k;
CREATE TEMP TABLE t AS
SELECT t0.*, d.cs[1 + floor(random() * cardinality(d.cs))::int] AS campaign
FROM t0 JOIN days d ON d.d = t0.at::date;
DROP TABLE t0;
CREATE INDEX ON t (n);

-- Sales' feedback: on MQLs of more than two days ago (the newer ones wait), each lead's
-- story drawn first, then leads taken in random order until about :feedback rows.
CREATE TEMP TABLE r AS
SELECT code, disqualifies, recycle_after_days, kinds FROM feedback_reasons
WHERE workspace_id = :'ws' AND active;
CREATE TEMP TABLE fp0 AS
SELECT s.n, s.id, s.owner, s.mql_at, random() AS r_pick,
       random() < 0.6 AS accepted, random() < 0.75 AS contacted, random() < 0.5 AS meeting,
       random() < 0.6 AS closed, random() < 0.45 AS won,
       random() AS r_reason, random() AS r_rating, random() AS r_amount,
       interval '10 minutes' + interval '240 hours' * power(random(), 3) AS d1,
       interval '1 hour' + interval '96 hours' * power(random(), 2) AS d2,
       interval '1 day' + interval '10 days' * random() AS d3,
       interval '7 days' + interval '60 days' * random() AS d4
FROM s WHERE s.mql AND s.mql_at < now() - interval '2 days';
CREATE TEMP TABLE fp AS
SELECT * FROM (
    SELECT fp0.*, sum(steps) OVER (ORDER BY r_pick ROWS UNBOUNDED PRECEDING) AS upto
    FROM (SELECT *, CASE WHEN NOT accepted OR NOT contacted THEN 1 WHEN NOT meeting THEN 2
                         WHEN NOT closed THEN 3 ELSE 4 END AS steps
          FROM fp0) fp0) x
WHERE upto <= :feedback;
DROP TABLE fp0;

-- One row a feedback: step 1 the verdict, 2 contacted, 3 meeting_booked, 4 won or lost.
-- A story that would reach beyond now is compressed into the time since the MQL.
CREATE TEMP TABLE fb0 AS
SELECT fp.n, fp.id AS lead_id, fp.owner, fp.mql_at, w.step,
       CASE w.step WHEN 1 THEN CASE WHEN fp.accepted THEN 'accepted' ELSE 'rejected' END
                   WHEN 2 THEN 'contacted' WHEN 3 THEN 'meeting_booked'
                   ELSE CASE WHEN fp.won THEN 'won' ELSE 'lost' END END AS kind,
       fp.r_reason, fp.r_rating, fp.r_amount,
       fp.mql_at + fp.d1 + CASE WHEN w.step >= 2 THEN fp.d2 ELSE interval '0' END
           + CASE WHEN w.step >= 3 THEN fp.d3 ELSE interval '0' END
           + CASE WHEN w.step >= 4 THEN fp.d4 ELSE interval '0' END AS raw_at,
       fp.mql_at + fp.d1 + CASE WHEN fp.steps >= 2 THEN fp.d2 ELSE interval '0' END
           + CASE WHEN fp.steps >= 3 THEN fp.d3 ELSE interval '0' END
           + CASE WHEN fp.steps >= 4 THEN fp.d4 ELSE interval '0' END AS raw_last
FROM fp, generate_series(1, fp.steps) AS w(step);
CREATE TEMP TABLE fb AS
SELECT fb0.n, fb0.lead_id, fb0.step, fb0.kind, rs.code AS reason,
       CASE WHEN fb0.step = 1 AND fb0.r_rating < 0.7 THEN
            CASE fb0.kind WHEN 'accepted' THEN 2 + floor(fb0.r_rating / 0.7 * 4)::int
                          ELSE 1 + floor(fb0.r_rating / 0.7 * 3)::int END END AS rating,
       CASE WHEN fb0.kind = 'won' THEN (5000 + floor(fb0.r_amount * 95001))::bigint * 100 END AS amount,
       u.id AS author,
       CASE WHEN fb0.raw_last <= now() - interval '1 minute' THEN fb0.raw_at
            ELSE fb0.mql_at + (fb0.raw_at - fb0.mql_at)
                 * (extract(epoch FROM now() - interval '1 minute' - fb0.mql_at)
                    / extract(epoch FROM fb0.raw_last - fb0.mql_at)) END AS at,
       CASE WHEN fb0.step = 1 THEN 'mql' ELSE 'sales_accepted' END AS stage_before,
       CASE WHEN fb0.kind = 'accepted' THEN 'sales_accepted' WHEN fb0.kind = 'won' THEN 'customer'
            WHEN fb0.kind IN ('rejected', 'lost') THEN
                 CASE WHEN rs.disqualifies THEN 'disqualified' ELSE 'recycled' END
            ELSE 'sales_accepted' END AS stage_after,
       rs.recycle_after_days
FROM fb0
JOIN u ON u.n = fb0.owner
LEFT JOIN LATERAL (
    SELECT rr.code, rr.disqualifies, rr.recycle_after_days
    FROM (SELECT r.*, row_number() OVER (ORDER BY code) AS i, count(*) OVER () AS k
          FROM r WHERE fb0.kind = ANY (r.kinds)) rr
    WHERE rr.i = 1 + floor(fb0.r_reason * rr.k)::int) rs ON fb0.kind IN ('rejected', 'lost');
DROP TABLE fb0;
CREATE INDEX ON fb (n);

ANALYZE s;
ANALYZE t;
ANALYZE fb;
SELECT format('reports-seed: planned %s campaigns, %s leads, %s touches, %s MQLs, %s feedback rows (%s s)',
              :campaigns, (SELECT count(*) FROM s), (SELECT count(*) + :leads FROM t),
              (SELECT count(*) FILTER (WHERE mql) FROM s), (SELECT count(*) FROM fb),
              round(extract(epoch FROM clock_timestamp() - :'t_phase')::numeric, 1)) AS msg,
       clock_timestamp() AS t_phase \gset
\warn :msg

-- ---------------------------------------------------------------- 1. leads

-- The statements' leads: 1,000 first, then :chunk at a time. After the first statement of
-- each phase, ANALYZE, as autovacuum would have done on a live database long before it
-- had written :chunk rows: a plan made for a table that is empty (feedback, before the
-- first one) can be very slow for the same table with thousands of rows, and the
-- triggers' plans are kept for the session.
CREATE TEMP TABLE chunks AS
SELECT lo, least(hi, :leads) AS hi
FROM (SELECT 1 AS lo, 1000 AS hi
      UNION ALL SELECT g, g + :chunk - 1 FROM generate_series(1001, :leads, :chunk) g) x
WHERE lo <= :leads;
\set analyze '''ANALYZE leads, campaign_touches, lead_stage_changes, feedback, report_leads, report_days'''

-- Each chunk one statement, as POST /v1/leads with campaign_id writes one lead.
SELECT format($q$
WITH l AS (
    INSERT INTO leads (workspace_id, id, email, first_name, last_name, company, title, phone,
                       country, source, stage, score, owner_id, custom, first_campaign_id,
                       latest_campaign_id, first_touch_at, latest_touch_at, created_at,
                       updated_at, stage_changed_at)
    SELECT %3$L, s.id,
           lower(nm.first_name || '.' || nm.last_name || '.' || s.n || '@'
                 || replace(nm.company, ' ', '-')) || '.example',
           nm.first_name, nm.last_name, nm.company,
           (ARRAY['Head of Marketing', 'CTO', 'VP Sales', 'Operations Manager', 'Founder',
                  'Data Analyst', 'Procurement Lead', 'Engineer', 'CFO', 'Product Manager',
                  'IT Director', 'Consultant'])[s.ti],
           '+1 555 ' || lpad((s.n %% 10000000)::text, 7, '0'),
           (ARRAY['US', 'US', 'US', 'GB', 'DE', 'FR', 'PT', 'ES', 'NL', 'CA', 'BR', 'JP'])[s.co],
           s.source, 'new', CASE WHEN s.r_score < 0.8 THEN floor(s.r_score * 125)::smallint END,
           u.id,
           jsonb_build_object('industry', (ARRAY['software', 'retail', 'health', 'finance',
               'manufacturing', 'education', 'media', 'logistics'])[1 + s.n %% 8],
               'employees', 10 * (1 + s.n %% 500)),
           c.id, c.id, s.created_at, s.created_at, s.created_at, s.created_at, s.created_at
    FROM s
    JOIN c ON c.n = s.campaign
    JOIN u ON u.n = s.owner,
    LATERAL (SELECT
        (ARRAY['Ana', 'Ben', 'Chloe', 'David', 'Elif', 'Femi', 'Greta', 'Hugo', 'Ines', 'Jamal',
               'Kira', 'Liam', 'Mei', 'Nils', 'Olga', 'Pedro', 'Qiu', 'Rosa', 'Sami', 'Tess',
               'Uma', 'Victor', 'Wen', 'Ximena', 'Yara', 'Zoe', 'Arjun', 'Bea', 'Carlos', 'Dana',
               'Erik', 'Fatima', 'Gil', 'Hana', 'Igor', 'Julia', 'Kenji', 'Lucia', 'Marek',
               'Nadia'])[s.fi] AS first_name,
        (ARRAY['Silva', 'Mueller', 'Okafor', 'Reyes', 'Tanaka', 'Kowalski', 'Dubois', 'Rossi',
               'Nguyen', 'Schmidt', 'Garcia', 'Smith', 'Jensen', 'Ivanova', 'Haddad', 'Kim',
               'Costa', 'Larsen', 'Novak', 'Brown', 'Moreau', 'Yilmaz', 'Santos', 'Fischer',
               'Lopez', 'Wilson', 'Bauer', 'Petrov', 'Ali', 'Chen', 'Murphy', 'Sato', 'Weber',
               'Martin', 'Popescu', 'Horvat', 'Lind', 'Oliveira', 'Walsh', 'Park'])[s.li] AS last_name,
        (ARRAY['Norte', 'Blue', 'Apex', 'Cedar', 'Nimbus', 'Vector', 'Harbor', 'Quartz', 'Summit',
               'Lumen', 'Orbit', 'Granite', 'Pioneer', 'Atlas', 'Maple', 'Zenith', 'Coral',
               'Falcon', 'Ember', 'Delta'])[s.ca] || ' '
            || (ARRAY['Analytics', 'Logistics', 'Health', 'Systems', 'Foods', 'Energy', 'Labs',
                      'Media', 'Finance', 'Robotics', 'Retail', 'Software', 'Capital', 'Studio',
                      'Works', 'Cloud', 'Bio', 'Motors', 'Travel', 'Partners'])[s.cb] AS company
    ) nm
    WHERE s.n BETWEEN %1$s AND %2$s
    ORDER BY s.n
    RETURNING workspace_id, id, first_campaign_id, created_at),
 sc AS (INSERT INTO lead_stage_changes (workspace_id, lead_id, from_stage, to_stage, by_key_id,
                                        changed_at)
        SELECT workspace_id, id, NULL, 'new', %4$L, created_at FROM l),
 tc AS (INSERT INTO campaign_touches (workspace_id, campaign_id, lead_id, kind, occurred_at,
                                      created_at)
        SELECT workspace_id, first_campaign_id, id, 'created', created_at, created_at FROM l)
SELECT count(*) FROM l
$q$, lo, hi, :'ws', :'key'),
       CASE WHEN lo = 1 THEN :analyze END
FROM chunks ORDER BY lo \gexec

SELECT format('reports-seed: %s: %s s', '1. leads, their created touch and stage change',
              round(extract(epoch FROM clock_timestamp() - :'t_phase')::numeric, 1)) AS msg,
       clock_timestamp() AS t_phase \gset
\warn :msg

-- ---------------------------------------------------------------- 2. later touches

-- As POST /v1/campaigns/{id}/touches: a touch at or after the lead's latest one moves its
-- latest campaign (none here is before its first).
SELECT format($q$
WITH ins AS (
    INSERT INTO campaign_touches (workspace_id, campaign_id, lead_id, kind, occurred_at, created_at)
    SELECT %3$L, c.id, s.id, t.kind, t.at, t.at
    FROM t JOIN s ON s.n = t.n JOIN c ON c.n = t.campaign
    WHERE t.n BETWEEN %1$s AND %2$s
    ORDER BY t.at
    RETURNING workspace_id, id, campaign_id, lead_id, occurred_at),
 last AS (SELECT DISTINCT ON (lead_id) workspace_id, lead_id, campaign_id, occurred_at
          FROM ins ORDER BY lead_id, occurred_at DESC),
 u AS (UPDATE leads d SET latest_campaign_id = last.campaign_id, latest_touch_at = last.occurred_at
       FROM last
       WHERE d.workspace_id = last.workspace_id AND d.id = last.lead_id
         AND last.occurred_at >= d.latest_touch_at)
SELECT count(*) FROM ins
$q$, lo, hi, :'ws'),
       CASE WHEN lo = 1 THEN :analyze END
FROM chunks ORDER BY lo \gexec

SELECT format('reports-seed: %s: %s s', '2. later touches',
              round(extract(epoch FROM clock_timestamp() - :'t_phase')::numeric, 1)) AS msg,
       clock_timestamp() AS t_phase \gset
\warn :msg

-- ---------------------------------------------------------------- 3. MQLs

-- As POST /v1/leads/{id}/transitions {"to":"mql"}.
SELECT format($q$
WITH m AS (SELECT id, mql_at FROM s WHERE n BETWEEN %1$s AND %2$s AND mql),
 u AS (UPDATE leads d SET stage = 'mql', stage_changed_at = m.mql_at, recycle_on = NULL,
                          version = d.version + 1, updated_at = m.mql_at
       FROM m WHERE d.workspace_id = %3$L AND d.id = m.id
       RETURNING d.workspace_id, d.id, d.stage_changed_at),
 sc AS (INSERT INTO lead_stage_changes (workspace_id, lead_id, from_stage, to_stage, by_key_id,
                                        changed_at)
        SELECT workspace_id, id, 'new', 'mql', %4$L, stage_changed_at
        FROM u ORDER BY stage_changed_at)
SELECT count(*) FROM u
$q$, lo, hi, :'ws', :'key'),
       CASE WHEN lo = 1 THEN :analyze END
FROM chunks ORDER BY lo \gexec

SELECT format('reports-seed: %s: %s s', '3. MQL transitions',
              round(extract(epoch FROM clock_timestamp() - :'t_phase')::numeric, 1)) AS msg,
       clock_timestamp() AS t_phase \gset
\warn :msg

-- ---------------------------------------------------------------- 4. feedback

-- As POST /v1/leads/{id}/feedback: the feedback, and when it moves the lead, the lead
-- (stage, recycle_on) and its stage change; the change-feed rows come from its trigger. Step by step (all
-- verdicts first, then contacted, ...), each step chunk by chunk. Contacted and
-- meeting_booked move no lead: their statements leave out the UPDATE that would change no
-- row (the daemon's does, and its statement trigger then plans for a one-row transition
-- table: a plan PL/pgSQL keeps, and that a later UPDATE of thousands of leads in the same
-- session would run as a nested loop over both transition tables).
SELECT format($q$
WITH x AS (SELECT * FROM fb WHERE n BETWEEN %1$s AND %2$s AND step = %3$s),
 f AS (INSERT INTO feedback (workspace_id, lead_id, kind, reason, rating, amount, currency,
                             author_user_id, author_key_id, occurred_at, created_at,
                             stage_before, stage_after)
       SELECT %4$L, lead_id, kind, reason, rating, amount, CASE WHEN amount IS NOT NULL THEN 'USD' END,
              author, %5$L, at, at, stage_before, stage_after
       FROM x ORDER BY at
       RETURNING workspace_id, id, occurred_at)$q$ || CASE WHEN step IN (1, 4) THEN $q$,
 u AS (UPDATE leads d SET stage = x.stage_after, stage_changed_at = x.at, version = d.version + 1,
                          updated_at = x.at,
                          recycle_on = CASE WHEN x.stage_after = 'recycled'
                              THEN (x.at AT TIME ZONE 'UTC')::date + x.recycle_after_days END
       FROM x
       WHERE d.workspace_id = %4$L AND d.id = x.lead_id AND x.stage_before <> x.stage_after
       RETURNING d.workspace_id, d.id, d.stage_changed_at),
 sc AS (INSERT INTO lead_stage_changes (workspace_id, lead_id, from_stage, to_stage, reason,
                                        by_key_id, by_user_id, changed_at)
        SELECT %4$L, lead_id, stage_before, stage_after,
               'feedback: ' || kind || coalesce(' (' || reason || ')', ''), %5$L, author, at
        FROM x WHERE stage_before <> stage_after ORDER BY at)$q$ ELSE '' END || $q$
SELECT count(*) FROM f
$q$, lo, hi, step, :'ws', :'key'),
       CASE WHEN lo = 1 AND step = 1 THEN :analyze END
FROM chunks, generate_series(1, 4) step
ORDER BY step, lo \gexec

SELECT format('reports-seed: 4. feedback and the stage changes it made: %s s',
              round(extract(epoch FROM clock_timestamp() - :'t_phase')::numeric, 1)) AS msg,
       format('reports-seed: seeded in %s s',
              round(extract(epoch FROM clock_timestamp() - :'t_all')::numeric, 1)) AS msg_all,
       clock_timestamp() AS t_phase \gset
\warn :msg
\warn :msg_all

-- ---------------------------------------------------------------- checks

\if :check_rows
-- Each count is of rows that break a rule; all must be 0.
SELECT
  (SELECT count(*) FROM leads WHERE workspace_id = :'ws') - :leads AS leads_missing,
  (SELECT count(*) FROM campaign_touches WHERE workspace_id = :'ws')
      - (SELECT count(*) + :leads FROM t) AS touches_off,
  (SELECT count(*) FROM feedback WHERE workspace_id = :'ws') - (SELECT count(*) FROM fb) AS feedback_off,
  -- first/latest campaign and touch time are those of the earliest/latest touch
  (SELECT count(*) FROM leads l JOIN (
       SELECT lead_id, min(occurred_at) AS f_at, max(occurred_at) AS l_at,
              (array_agg(campaign_id ORDER BY occurred_at))[1] AS f_c,
              (array_agg(campaign_id ORDER BY occurred_at DESC))[1] AS l_c,
              count(*) FILTER (WHERE kind = 'created') AS created
       FROM campaign_touches WHERE workspace_id = :'ws' GROUP BY lead_id) x ON x.lead_id = l.id
   WHERE l.workspace_id = :'ws'
     AND (l.first_touch_at <> x.f_at OR l.latest_touch_at <> x.l_at OR l.first_campaign_id <> x.f_c
          OR l.latest_campaign_id <> x.l_c OR x.created <> 1 OR x.f_at <> l.created_at)) AS touch_bad,
  -- the stage history chains (each from = the previous to), and its end is the lead's stage
  (SELECT count(*) FROM (
       SELECT from_stage, lag(to_stage) OVER w AS prev, changed_at, lag(changed_at) OVER w AS prev_at
       FROM lead_stage_changes WHERE workspace_id = :'ws' WINDOW w AS (PARTITION BY lead_id ORDER BY changed_at, id)) h
   WHERE from_stage IS DISTINCT FROM prev OR changed_at < prev_at) AS history_bad,
  (SELECT count(*) FROM leads l JOIN (
       SELECT DISTINCT ON (lead_id) lead_id, to_stage, changed_at, count(*) OVER (PARTITION BY lead_id) AS k
       FROM lead_stage_changes WHERE workspace_id = :'ws' ORDER BY lead_id, changed_at DESC) h
       ON h.lead_id = l.id
   WHERE l.workspace_id = :'ws' AND (l.stage <> h.to_stage OR l.stage_changed_at <> h.changed_at
                                     OR l.version <> h.k
                                     OR (l.recycle_on IS NOT NULL AND l.stage <> 'recycled'))) AS stage_bad,
  -- feedback chains too: each stage_before is the stage the previous left
  (SELECT count(*) FROM (
       SELECT stage_before, lag(stage_after) OVER w AS prev, kind, reason, rating, amount,
              author_user_id, occurred_at, lag(occurred_at) OVER w AS prev_at
       FROM feedback WHERE workspace_id = :'ws' WINDOW w AS (PARTITION BY lead_id ORDER BY occurred_at, id)) f
   WHERE stage_before <> coalesce(prev, 'mql') OR occurred_at < prev_at OR occurred_at > now()
      OR author_user_id IS NULL) AS feedback_bad,
  -- and a lead's last feedback left it in its stage
  (SELECT count(*) FROM leads l JOIN (
       SELECT DISTINCT ON (lead_id) lead_id, stage_after FROM feedback WHERE workspace_id = :'ws'
       ORDER BY lead_id, occurred_at DESC) f ON f.lead_id = l.id
   WHERE l.workspace_id = :'ws' AND l.stage <> f.stage_after) AS feedback_stage_bad
\gset
SELECT :leads_missing = 0 AND :touches_off = 0 AND :feedback_off = 0 AND :touch_bad = 0
       AND :history_bad = 0 AND :stage_bad = 0 AND :feedback_bad = 0
       AND :feedback_stage_bad = 0 AS ok,
       format('reports-seed: checked in %s s: touches, stage history, feedback and leads agree',
              round(extract(epoch FROM clock_timestamp() - :'t_phase')::numeric, 1)) AS msg \gset
\if :ok
\warn :msg
\else
SELECT format('reports-seed: INCONSISTENT (each must be 0): leads_missing %s, touches_off %s, '
              'feedback_off %s, touch_bad %s, history_bad %s, stage_bad %s, feedback_bad %s, '
              'feedback_stage_bad %s', :leads_missing, :touches_off, :feedback_off, :touch_bad,
              :history_bad, :stage_bad, :feedback_bad, :feedback_stage_bad) AS msg \gset
\warn :msg
SELECT 1 / 0 AS inconsistent_seed;
\endif
\endif

-- The report tables the triggers kept against a rebuild from the rows (rolled back). Rows
-- of report_days whose figures all went back to 0 may stay: they count nothing.
\if :check_reports
SELECT clock_timestamp() AS t_phase \gset
BEGIN;
-- the deltas not folded yet, folded (as the daemon does every second), before and after
SELECT ll_report_compact(2000000000);
CREATE TEMP TABLE kept_leads ON COMMIT DROP AS SELECT * FROM report_leads WHERE workspace_id = :'ws';
CREATE TEMP TABLE kept_days ON COMMIT DROP AS SELECT * FROM report_days WHERE workspace_id = :'ws';
SELECT ll_report_rebuild(:'ws');
SELECT ll_report_compact(2000000000);
SELECT (SELECT count(*) FROM (SELECT * FROM kept_leads EXCEPT ALL SELECT * FROM report_leads) x)
       + (SELECT count(*) FROM (SELECT * FROM report_leads EXCEPT ALL SELECT * FROM kept_leads) x)
           AS leads_differ,
       (SELECT count(*) FROM (SELECT * FROM report_days EXCEPT ALL SELECT * FROM kept_days) x)
       + (SELECT count(*) FROM (SELECT * FROM kept_days EXCEPT ALL SELECT * FROM report_days) x
          WHERE EXISTS (SELECT FROM jsonb_each(to_jsonb(x) - 'workspace_id' - 'dim' - 'month' - 'day' - 'key') e
                        WHERE e.value <> '0'::jsonb)) AS days_differ,
       (SELECT count(*) FROM kept_days) - (SELECT count(*) FROM report_days) AS days_zero,
       format('%s s', round(extract(epoch FROM clock_timestamp() - :'t_phase')::numeric, 1)) AS dt \gset
ROLLBACK;
SELECT :leads_differ = 0 AND :days_differ = 0 AS ok,
       format('reports-seed: report tables checked against ll_report_rebuild in %s: they agree (%s rows of report_days at 0 stay)',
              :'dt', :days_zero) AS msg \gset
\if :ok
\warn :msg
\else
SELECT format('reports-seed: REPORT TABLES DIFFER from ll_report_rebuild: %s rows of report_leads, %s of report_days',
              :leads_differ, :days_differ) AS msg \gset
\warn :msg
SELECT 1 / 0 AS report_tables_differ;
\endif
\endif

DROP TABLE chunks, fb, fp, t, s, days, c, u, r;
