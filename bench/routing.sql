-- Routing's cost on a move to mql (issue 17): 1,000 leads moved new -> mql with
-- ll_lead_move, without rules and then with 100 rules (99 that the leads do not meet, then a
-- catch-all) over 100 pools of 5 members. Run by bench/routing.sh on a fresh database:
-- psql prints the two timings (\timing); their difference / 1,000 is routing's cost.
-- 3,000 leads: 1,000 moved without rules, 1,000 with, the rest for the parts below.
\set QUIET on
\pset pager off
INSERT INTO workspaces (id, slug, name)
VALUES ('00000000-0000-0000-0000-0000000000b1', 'bench-routing', 'Bench routing');
\set ws '''00000000-0000-0000-0000-0000000000b1'''
INSERT INTO users (workspace_id, name, email, team, role)
SELECT :ws, 'Seller ' || i, 'seller' || i || '@example.com', 'sales', 'sales'
FROM generate_series(1, 50) i;
INSERT INTO leads (workspace_id, email, source, country, score)
SELECT :ws, 'lead' || i || '@example.com', 'event', 'DE', (i % 100)::smallint
FROM generate_series(1, 3000) i;
INSERT INTO routing_pools (workspace_id, name, method, reassign_after_minutes)
SELECT :ws, 'Pool ' || i, (ARRAY['round_robin', 'weighted', 'least_loaded'])[1 + i % 3], 60
FROM generate_series(1, 100) i;
INSERT INTO routing_pool_members (workspace_id, pool_id, user_id, weight)
SELECT :ws, p.id, u.id, 1 + (row_number() OVER ()) % 4
FROM routing_pools p
CROSS JOIN LATERAL (SELECT id FROM users WHERE workspace_id = :ws
                    ORDER BY md5(p.id::text || users.id::text) LIMIT 5) u
WHERE p.workspace_id = :ws;
ANALYZE;
-- Each move in its own transaction, as the API makes them (one transaction of 1,000
-- updates of a pool's row would walk 1,000 versions of it).
CREATE PROCEDURE bench_moves(n integer) LANGUAGE plpgsql AS $$
DECLARE l record;
BEGIN
    FOR l IN SELECT id FROM leads WHERE workspace_id = '00000000-0000-0000-0000-0000000000b1'
             AND stage = 'new' ORDER BY email LIMIT n LOOP
        PERFORM ll_lead_move('00000000-0000-0000-0000-0000000000b1', l.id, 'mql', 'bench',
                             NULL, NULL, NULL);
        COMMIT;
    END LOOP;
END $$;
\timing on
\echo 1,000 moves to mql without rules
CALL bench_moves(1000);
\timing off
INSERT INTO routing_rulesets (workspace_id, version) VALUES (:ws, 1);
INSERT INTO routing_rules (workspace_id, position, conditions, target_pool_id)
SELECT :ws, n, CASE WHEN n < 100 THEN jsonb_build_array(
           jsonb_build_object('field', 'country', 'op', 'in', 'value', jsonb_build_array('FR', 'IT')),
           jsonb_build_object('field', 'score', 'op', 'gte', 'value', n),
           jsonb_build_object('field', 'email_domain', 'op', 'eq', 'value', 'corp' || n || '.example'))
       ELSE '[]' END, p.id
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM routing_pools
      WHERE workspace_id = :ws) p;
ANALYZE;
\timing on
\echo 1,000 moves to mql with 100 rules and 100 pools
CALL bench_moves(1000);
\timing off
SELECT count(*) AS assignments, count(DISTINCT owner_id) AS owners,
       count(*) FILTER (WHERE rule_id IS NULL) AS without_rule
FROM lead_assignments WHERE workspace_id = :ws;
SELECT count(*) AS leads_routed FROM leads WHERE workspace_id = :ws AND stage = 'mql' AND owner_id IS NOT NULL;
-- The parts, each 1,000 (or 500) times: the rule lookup, the pool's pick, the plan
-- (both), then with commits: the engine's writes (ll_routing_assign), and what a lead's
-- UPDATE costs with a new owner (report triggers) against one that changes nothing else.
\timing on
\echo rule x1000
DO $$ DECLARE l leads; r routing_rules; BEGIN
 FOR l IN SELECT * FROM leads WHERE workspace_id='00000000-0000-0000-0000-0000000000b1' LIMIT 1000 LOOP
   r := ll_routing_rule('00000000-0000-0000-0000-0000000000b1', l);
 END LOOP; END $$;
\echo pick x1000
DO $$ DECLARE p uuid; o uuid; s jsonb; BEGIN
 SELECT target_pool_id INTO p FROM routing_rules WHERE workspace_id='00000000-0000-0000-0000-0000000000b1' AND position=100;
 FOR i IN 1..1000 LOOP
   SELECT * INTO o, s FROM ll_routing_pick('00000000-0000-0000-0000-0000000000b1', p, '{}');
 END LOOP; END $$;
\echo plan x1000
DO $$ DECLARE l leads; x record; BEGIN
 FOR l IN SELECT * FROM leads WHERE workspace_id='00000000-0000-0000-0000-0000000000b1' LIMIT 1000 LOOP
   x := ll_routing_plan('00000000-0000-0000-0000-0000000000b1', l, false);
 END LOOP; END $$;
CREATE PROCEDURE p_assign(n integer) LANGUAGE plpgsql AS $$
DECLARE l leads;
BEGIN
    FOR l IN SELECT * FROM leads WHERE workspace_id = '00000000-0000-0000-0000-0000000000b1'
             AND stage = 'new' ORDER BY email LIMIT n LOOP
        PERFORM ll_routing_assign('00000000-0000-0000-0000-0000000000b1', l, 'mql', NULL, NULL);
        COMMIT;
    END LOOP;
END $$;
CREATE PROCEDURE p_owner(n integer) LANGUAGE plpgsql AS $$
DECLARE l leads; u uuid;
BEGIN
    SELECT id INTO u FROM users WHERE workspace_id = '00000000-0000-0000-0000-0000000000b1' LIMIT 1;
    FOR l IN SELECT * FROM leads WHERE workspace_id = '00000000-0000-0000-0000-0000000000b1'
             AND stage = 'new' ORDER BY email DESC LIMIT n LOOP
        UPDATE leads SET owner_id = u, version = version + 1 WHERE workspace_id = l.workspace_id AND id = l.id;
        COMMIT;
    END LOOP;
END $$;
CREATE PROCEDURE p_noop(n integer) LANGUAGE plpgsql AS $$
DECLARE l leads;
BEGIN
    FOR l IN SELECT * FROM leads WHERE workspace_id = '00000000-0000-0000-0000-0000000000b1'
             AND stage = 'new' ORDER BY email DESC LIMIT n LOOP
        UPDATE leads SET version = version + 1 WHERE workspace_id = l.workspace_id AND id = l.id;
        COMMIT;
    END LOOP;
END $$;
\echo assign x500 (commit each)
CALL p_assign(500);
\echo owner update x500
CALL p_owner(500);
\echo version-only update x500
CALL p_noop(500);
\timing off
DROP PROCEDURE p_assign;
DROP PROCEDURE p_owner;
DROP PROCEDURE p_noop;
DROP PROCEDURE bench_moves;
