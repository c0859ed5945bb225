/* Routing (issue 17): pools (weighted, round robin, least loaded), absences, caps, the rules
 * document, routing on a move to mql and on demand, the dry run, the SLA re-assignment,
 * the assignment log and the timeline entry, and the refusals of bad input. Each test has
 * a workspace of its own (the rules are one document per workspace). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suites.h"
#include "support.h"

/* A workspace's admin key and id. */
struct ws {
    char key[64], id[40];
};

static void ws_make(struct ws *w, const char *slug)
{
    ck_assert(workspace_key(slug, "admin", w->key));
    struct resp *r = get("/v1/workspace", w->key);
    ck_assert_int_eq(r->status, 200);
    snprintf(w->id, sizeof w->id, "%s", jstr(r, "id"));
    resp_free(r);
}

/* A sales user; its id into id. */
static void user(const struct ws *w, const char *name, char id[40])
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"email\":\"%s.%s@example.com\",\"team\":\"sales\"}", name, name,
             w->id);
    struct resp *r = post("/v1/users", w->key, body);
    ck_assert_msg(r->status == 201, "user: %ld %s", r->status, r->body);
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

static void pool(const struct ws *w, const char *method, const char *minutes, char id[40])
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s pool\",\"method\":\"%s\"%s%s}", method, method,
             minutes ? ",\"reassign_after_minutes\":" : "", minutes ? minutes : "");
    struct resp *r = post("/v1/routing/pools", w->key, body);
    ck_assert_msg(r->status == 201, "pool: %ld %s", r->status, r->body);
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

static void member(const struct ws *w, const char *pool_id, const char *user_id, const char *body)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/routing/pools/%s/members/%s", pool_id, user_id);
    struct resp *r = put(path, w->key, body, NULL);
    ck_assert_msg(r->status == 201 || r->status == 200, "member: %ld %s", r->status, r->body);
    resp_free(r);
}

/* The rules: one catch-all to the pool. */
static void catch_all(const struct ws *w, const char *pool_id)
{
    char body[256];
    snprintf(body, sizeof body, "{\"rules\":[{\"name\":\"all\",\"target\":{\"pool_id\":\"%s\"}}]}",
             pool_id);
    struct resp *r = put("/v1/routing/rules", w->key, body, NULL);
    ck_assert_msg(r->status == 200, "rules: %ld %s", r->status, r->body);
    resp_free(r);
}

static void lead(const struct ws *w, const char *email, char id[40])
{
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    struct resp *r = post("/v1/leads", w->key, body);
    ck_assert_msg(r->status == 201, "lead: %ld %s", r->status, r->body);
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

/* Moves the lead to mql (a live transition: routing runs); its owner afterwards into owner. */
static void to_mql(const struct ws *w, const char *lead_id, char owner[40])
{
    char path[160];
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", lead_id);
    struct resp *r = post(path, w->key, "{\"to\":\"mql\"}");
    ck_assert_msg(r->status == 201, "transition: %ld %s", r->status, r->body);
    json_t *o = json_object_get(json_object_get(r->json, "lead"), "owner_id");
    if (owner)
        snprintf(owner, 40, "%s", json_is_string(o) ? json_string_value(o) : "");
    resp_free(r);
}

/* Routes the lead on demand; the new owner into owner ("" when none). */
static void route(const struct ws *w, const char *lead_id, char owner[40])
{
    char path[160];
    snprintf(path, sizeof path, "/v1/leads/%s/route", lead_id);
    struct resp *r = post(path, w->key, "{}");
    ck_assert_msg(r->status == 200, "route: %ld %s", r->status, r->body);
    snprintf(owner, 40, "%s", jstr(r, "owner_id"));
    resp_free(r);
}

/* A string member of o, or "" (never NULL: Check's string asserts need one). */
static const char *js(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static long count_sql(PGconn *pg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long count_sql(PGconn *pg, const char *fmt, ...)
{
    char sql[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return pg_long(pg, sql);
}

/* 1,000 leads through a weighted pool: weights 1..4, an absent member and one with a cap. */
START_TEST(a_weighted_pool_shares_by_weight_and_respects_absence_and_cap)
{
    struct ws w;
    char u[6][40], p[40], body[256];
    static const int weights[] = {1, 2, 3, 4, 5, 5};
    ws_make(&w, "routing-weighted");
    pool(&w, "weighted", NULL, p);
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", i);
        user(&w, name, u[i]);
        snprintf(body, sizeof body, "{\"weight\":%d%s}", weights[i], i == 5 ? ",\"cap\":20" : "");
        member(&w, p, u[i], body);
    }
    snprintf(body, sizeof body,
             "{\"user_id\":\"%s\",\"starts_at\":\"2020-01-01T00:00:00Z\","
             "\"ends_at\":\"2099-01-01T00:00:00Z\",\"note\":\"away\"}",
             u[4]);
    struct resp *r = post("/v1/routing/absences", w.key, body);
    ck_assert_msg(r->status == 201, "absence: %ld %s", r->status, r->body);
    resp_free(r);
    catch_all(&w, p);

    PGconn *pg = pg_test();
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO leads (workspace_id, email) SELECT '%s', 'wl' || i || '@example.com'"
             " FROM generate_series(1, 1000) i",
             w.id);
    pg_ok(pg, sql);
    snprintf(sql, sizeof sql,
             "SELECT string_agg(id::text, ',' ORDER BY email) FROM leads WHERE workspace_id = '%s'",
             w.id);
    char *ids = pg_value(pg, sql);
    for (char *s = ids, *save = NULL, *id; (id = strtok_r(s, ",", &save)); s = NULL)
        to_mql(&w, id, NULL);
    free(ids);

    long got[6], total = 0;
    for (int i = 0; i < 6; i++) {
        got[i] = count_sql(pg,
                           "SELECT count(*) FROM leads WHERE workspace_id = '%s' AND owner_id = "
                           "'%s' AND stage = 'mql'",
                           w.id, u[i]);
        total += got[i];
    }
    ck_assert_int_eq(total, 1000);
    ck_assert_msg(got[4] == 0, "the absent member got %ld leads", got[4]);
    ck_assert_msg(got[5] == 20, "the member with a cap of 20 got %ld leads", got[5]);
    /* the others took the rest by weight (1:2:3:4), each within 2 % of its share */
    for (int i = 0; i < 4; i++) {
        double share = (double)got[i] / (double)(1000 - got[5]), want = weights[i] / 10.0;
        ck_assert_msg(share - want <= 0.02 && want - share <= 0.02,
                      "member of weight %d: %ld leads, share %.3f", weights[i], got[i], share);
    }
    ck_assert_int_eq(count_sql(pg,
                               "SELECT count(*) FROM lead_assignments WHERE workspace_id = '%s'"
                               " AND reason = 'mql' AND outcome = 'assigned'%s",
                               w.id, ""),
                     1000);
    /* the members' list shows the state */
    char path[160];
    snprintf(path, sizeof path, "/v1/routing/pools/%s/members", p);
    r = get(path, w.key);
    ck_assert_int_eq(r->status, 200);
    json_t *data = json_object_get(r->json, "data");
    ck_assert_int_eq(json_array_size(data), 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *m = json_array_get(data, i);
        const char *why = js(m, "why_not");
        if (!strcmp(js(m, "user_id"), u[4]))
            ck_assert_str_eq(why, "absent");
        if (!strcmp(js(m, "user_id"), u[5])) {
            ck_assert_str_eq(why, "at_cap");
            ck_assert_int_eq(json_integer_value(json_object_get(m, "open_leads")), 20);
        }
    }
    resp_free(r);
    PQfinish(pg);
}
END_TEST

START_TEST(round_robin_keeps_its_order_when_members_change)
{
    struct ws w;
    char a[40], b[40], c[40], d[40], p[40], l[8][40], got[40], path[160];
    ws_make(&w, "routing-rr");
    pool(&w, "round_robin", NULL, p);
    user(&w, "rra", a);
    user(&w, "rrb", b);
    user(&w, "rrc", c);
    user(&w, "rrd", d);
    member(&w, p, a, "{}");
    member(&w, p, b, "{}");
    member(&w, p, c, "{}");
    catch_all(&w, p);
    for (int i = 0; i < 7; i++) {
        char email[64];
        snprintf(email, sizeof email, "rr%d@example.com", i);
        lead(&w, email, l[i]);
    }
    const char *first[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        route(&w, l[i], got);
        ck_assert_str_eq(got, first[i]);
    }
    snprintf(path, sizeof path, "/v1/routing/pools/%s/members/%s", p, b);
    struct resp *r = del(path, w.key);
    ck_assert_int_eq(r->status, 204);
    resp_free(r);
    member(&w, p, d, "{}");
    /* the rotation goes on where it was: a (longest ago), c, then the joiner d, then a */
    const char *then[] = {a, c, d, a};
    for (int i = 0; i < 4; i++) {
        route(&w, l[3 + i], got);
        ck_assert_msg(!strcmp(got, then[i]), "lead %d went to %s, expected %s", 3 + i, got,
                      then[i]);
    }
}
END_TEST

START_TEST(least_loaded_picks_the_member_with_the_fewest_open_leads)
{
    struct ws w;
    char a[40], b[40], p[40], l[40], got[40], sql[512];
    ws_make(&w, "routing-ll");
    pool(&w, "least_loaded", NULL, p);
    user(&w, "lla", a);
    user(&w, "llb", b);
    member(&w, p, a, "{}");
    member(&w, p, b, "{}");
    catch_all(&w, p);
    PGconn *pg = pg_test();
    /* a has 3 open leads, b 1 (and b's customers do not count) */
    snprintf(sql, sizeof sql,
             "INSERT INTO leads (workspace_id, email, stage, owner_id)"
             " SELECT '%s', 'll' || i || '@example.com', CASE WHEN i <= 4 THEN 'mql'"
             " ELSE 'customer' END, CASE WHEN i <= 3 THEN '%s'::uuid ELSE '%s'::uuid END"
             " FROM generate_series(1, 9) i",
             w.id, a, b);
    pg_ok(pg, sql);
    lead(&w, "ll-new@example.com", l);
    route(&w, l, got);
    ck_assert_str_eq(got, b);
    PQfinish(pg);
}
END_TEST

/* Backdates the lead's running SLA and runs the pass; the answer's settled count. */
static long reassign_now(const struct ws *w, PGconn *pg, const char *lead_id)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE routing_sla SET due_at = now() - interval '1 second' WHERE lead_id = '%s'",
             lead_id);
    pg_ok(pg, sql);
    struct resp *r = post("/v1/routing/reassign-due", w->key, "{}");
    ck_assert_msg(r->status == 200, "reassign-due: %ld %s", r->status, r->body);
    long n = (long)json_integer_value(json_object_get(r->json, "settled"));
    resp_free(r);
    return n;
}

static const char *owner_of(PGconn *pg, const char *lead_id)
{
    static char owner[40];
    char *v =
        pg_value_p(pg, "SELECT coalesce(owner_id::text, '') FROM leads WHERE id = $1", lead_id);
    snprintf(owner, sizeof owner, "%s", v);
    free(v);
    return owner;
}

START_TEST(a_lead_without_feedback_after_the_sla_goes_to_another_member_never_back)
{
    struct ws w;
    char u[3][40], p[40], l[40], o1[40], o2[40], o3[40], path[160];
    ws_make(&w, "routing-sla3");
    pool(&w, "round_robin", "30", p);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "sla%d", i);
        user(&w, name, u[i]);
        member(&w, p, u[i], "{}");
    }
    catch_all(&w, p);
    lead(&w, "sla3@example.com", l);
    to_mql(&w, l, o1);
    ck_assert_str_ne(o1, "");
    PGconn *pg = pg_test();
    /* not due yet: nothing moves */
    struct resp *r = send_json("POST", "/v1/routing/reassign-due", w.key, NULL, 0, NULL, NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "settled")), 0);
    resp_free(r);
    ck_assert_str_eq(owner_of(pg, l), o1);

    ck_assert_int_eq(reassign_now(&w, pg, l), 1);
    snprintf(o2, sizeof o2, "%s", owner_of(pg, l));
    ck_assert_str_ne(o2, o1);
    ck_assert_int_eq(reassign_now(&w, pg, l), 1);
    snprintf(o3, sizeof o3, "%s", owner_of(pg, l));
    ck_assert_str_ne(o3, "");
    ck_assert_str_ne(o3, o1);
    ck_assert_str_ne(o3, o2);

    /* the log and the timeline show the three assignments */
    snprintf(path, sizeof path, "/v1/leads/%s/assignments", l);
    r = get(path, w.key);
    ck_assert_int_eq(r->status, 200);
    json_t *data = json_object_get(r->json, "data");
    ck_assert_int_eq(json_array_size(data), 3);
    ck_assert_str_eq(js(json_array_get(data, 0), "reason"), "mql");
    ck_assert_str_eq(js(json_array_get(data, 2), "reason"), "reassigned_sla");
    ck_assert_str_eq(js(json_array_get(data, 2), "previous_owner_id"), o2);
    ck_assert_str_eq(js(json_array_get(data, 2), "owner_id"), o3);
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/timeline", l);
    r = get(path, w.key);
    ck_assert_int_eq(r->status, 200);
    int assignments = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r->json, "data"), i, e)
    {
        if (!strcmp(js(e, "type"), "assignment"))
            assignments++;
    }
    ck_assert_msg(assignments == 3, "timeline: %s", r->body);
    resp_free(r);

    /* feedback stops the clock: a lead with sales' verdict is not re-assigned */
    char l2[40], f1[40];
    lead(&w, "sla3-fb@example.com", l2);
    to_mql(&w, l2, f1);
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", l2);
    r = post(path, w.key, "{\"kind\":\"contacted\"}");
    ck_assert_msg(r->status == 201, "feedback: %ld %s", r->status, r->body);
    resp_free(r);
    reassign_now(&w, pg, l2);
    ck_assert_str_eq(owner_of(pg, l2), f1);
    PQfinish(pg);
}
END_TEST

START_TEST(with_two_members_the_second_reassignment_finds_nobody_and_logs_it)
{
    struct ws w;
    char u[2][40], p[40], l[40], o1[40], o2[40], sql[256];
    ws_make(&w, "routing-sla2");
    pool(&w, "weighted", "15", p);
    for (int i = 0; i < 2; i++) {
        char name[16];
        snprintf(name, sizeof name, "slb%d", i);
        user(&w, name, u[i]);
        member(&w, p, u[i], "{}");
    }
    catch_all(&w, p);
    lead(&w, "sla2@example.com", l);
    to_mql(&w, l, o1);
    PGconn *pg = pg_test();
    ck_assert_int_eq(reassign_now(&w, pg, l), 1);
    snprintf(o2, sizeof o2, "%s", owner_of(pg, l));
    ck_assert_str_ne(o2, o1);
    ck_assert_int_eq(reassign_now(&w, pg, l), 1);
    ck_assert_str_eq(owner_of(pg, l), o2); /* nobody else: the lead stays */
    snprintf(sql, sizeof sql,
             "SELECT outcome || ' ' || (SELECT string_agg(s ->> 'why', ',') FROM"
             " jsonb_array_elements(skipped) s) FROM lead_assignments WHERE lead_id = '%s'"
             " ORDER BY at DESC LIMIT 1",
             l);
    char *last = pg_value(pg, sql);
    ck_assert_str_eq(last, "nobody_eligible previous_owner,previous_owner");
    free(last);
    /* and the pass does not come back to it */
    struct resp *r = post("/v1/routing/reassign-due", w.key, "{}");
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "settled")), 0);
    resp_free(r);
    PQfinish(pg);
}
END_TEST

START_TEST(the_dry_run_says_what_would_happen_and_writes_nothing)
{
    struct ws w;
    char a[40], b[40], p[40], l[40], body[512];
    ws_make(&w, "routing-dry");
    pool(&w, "round_robin", NULL, p);
    user(&w, "dra", a);
    user(&w, "drb", b);
    member(&w, p, a, "{}");
    member(&w, p, b, "{}");
    snprintf(body, sizeof body,
             "{\"user_id\":\"%s\",\"starts_at\":\"2020-01-01T00:00:00Z\","
             "\"ends_at\":\"2099-01-01T00:00:00Z\"}",
             a);
    struct resp *r = post("/v1/routing/absences", w.key, body);
    ck_assert_int_eq(r->status, 201);
    resp_free(r);
    /* a rule for big companies' domains first, to the user b; then the catch-all */
    snprintf(body, sizeof body,
             "{\"rules\":[{\"name\":\"corp\",\"conditions\":[{\"field\":\"email_domain\","
             "\"op\":\"in\",\"value\":[\"corp.example\"]}],\"target\":{\"user_id\":\"%s\"}},"
             "{\"target\":{\"pool_id\":\"%s\"}}]}",
             b, p);
    r = put("/v1/routing/rules", w.key, body, NULL);
    ck_assert_msg(r->status == 200, "%ld %s", r->status, r->body);
    json_t *rules = json_object_get(r->json, "rules");
    char corp_rule[40], all_rule[40];
    snprintf(corp_rule, sizeof corp_rule, "%s", js(json_array_get(rules, 0), "id"));
    snprintf(all_rule, sizeof all_rule, "%s", js(json_array_get(rules, 1), "id"));
    resp_free(r);
    lead(&w, "x@example.com", l);

    PGconn *pg = pg_test();
    char *before = pg_value(pg, "SELECT (SELECT count(*) FROM lead_assignments) || '/' ||"
                                " (SELECT sum(assigned) FROM routing_pool_members) || '/' ||"
                                " (SELECT sum(turn) FROM routing_pools)");
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\"}", l);
    r = post("/v1/routing/dry-run", w.key, body);
    ck_assert_msg(r->status == 200, "%ld %s", r->status, r->body);
    ck_assert_str_eq(jstr(r, "outcome"), "assigned");
    ck_assert_str_eq(jstr(r, "rule_id"), all_rule);
    ck_assert_str_eq(jstr(r, "pool_id"), p);
    ck_assert_str_eq(jstr(r, "owner_id"), b);
    json_t *skipped = json_object_get(r->json, "skipped");
    ck_assert_int_eq(json_array_size(skipped), 1);
    ck_assert_str_eq(js(json_array_get(skipped, 0), "user_id"), a);
    ck_assert_str_eq(js(json_array_get(skipped, 0), "why"), "absent");
    resp_free(r);
    char *after = pg_value(pg, "SELECT (SELECT count(*) FROM lead_assignments) || '/' ||"
                               " (SELECT sum(assigned) FROM routing_pool_members) || '/' ||"
                               " (SELECT sum(turn) FROM routing_pools)");
    ck_assert_str_eq(before, after);
    ck_assert_str_eq(owner_of(pg, l), "");
    free(before);
    free(after);
    /* a lead that does not exist, by its fields: the first rule, b */
    r = post("/v1/routing/dry-run", w.key,
             "{\"lead\":{\"email\":\"cfo@corp.example\",\"score\":10,\"custom\":null}}");
    ck_assert_msg(r->status == 200, "%ld %s", r->status, r->body);
    ck_assert_str_eq(jstr(r, "rule_id"), corp_rule);
    ck_assert_str_eq(jstr(r, "owner_id"), b);
    ck_assert(json_is_null(json_object_get(r->json, "lead_id")));
    resp_free(r);
    r = post("/v1/routing/dry-run", w.key, "{\"lead\":{\"stage\":\"mql\"}}");
    ck_assert_msg(r->status == 422 && problem_names(r, "lead.stage"), "%ld %s", r->status, r->body);
    resp_free(r);
    /* the corp lead meets the first rule: straight to b */
    char l2[40];
    lead(&w, "buyer@CORP.example", l2);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\"}", l2);
    r = post("/v1/routing/dry-run", w.key, body);
    ck_assert_str_eq(jstr(r, "rule_id"), corp_rule);
    ck_assert_str_eq(jstr(r, "owner_id"), b);
    ck_assert(json_is_null(json_object_get(r->json, "pool_id")));
    resp_free(r);
    PQfinish(pg);
}
END_TEST

struct bad {
    const char *method, *path, *body;
    long status;
    const char *field;
};

START_TEST(bad_input_is_refused_naming_the_field_and_other_workspaces_ids_are_404)
{
    struct ws w, o;
    char u[40], p[40], empty[40], l[40], path[200], body[1024], other_pool[40];
    ws_make(&w, "routing-bad");
    ws_make(&o, "routing-bad-other");
    pool(&w, "weighted", NULL, p);
    pool(&w, "round_robin", NULL, empty);
    user(&w, "bad", u);
    member(&w, p, u, "{}");
    lead(&w, "bad@example.com", l);
    pool(&o, "weighted", NULL, other_pool);
    char never[40] = "00000000-0000-4000-8000-000000000001";
    char members_path[160], pool_path[160];
    snprintf(members_path, sizeof members_path, "/v1/routing/pools/%s/members/%s", p, u);
    snprintf(pool_path, sizeof pool_path, "/v1/routing/pools/%s", p);

    /* the rules document */
    char t[128];
    snprintf(t, sizeof t, "\"target\":{\"pool_id\":\"%s\"}", p);
    struct {
        char body[1024];
        const char *field;
    } rules[9];
    int n = 0;
    snprintf(rules[n].body, sizeof rules[n].body, "{\"rules\":[{%s},{%s}]}", t, t);
    rules[n++].field = "rules[1]";
    snprintf(rules[n].body, sizeof rules[n].body,
             "{\"rules\":[{\"conditions\":[{\"field\":\"country\",\"op\":\"eq\",\"value\":\"DE\"}],"
             "%s}]}",
             t);
    rules[n++].field = "rules[0].conditions";
    snprintf(rules[n].body, sizeof rules[n].body,
             "{\"rules\":[{\"conditions\":[{\"field\":\"score\",\"op\":\"gte\",\"value\":80},"
             "{\"field\":\"score\",\"op\":\"lte\",\"value\":20}],%s},{%s}]}",
             t, t);
    rules[n++].field = "rules[0].conditions[1].value";
    snprintf(rules[n].body, sizeof rules[n].body,
             "{\"rules\":[{\"conditions\":[{\"field\":\"company\",\"op\":\"in\",\"value\":[]}],"
             "%s},{%s}]}",
             t, t);
    rules[n++].field = "rules[0].conditions[0].value";
    snprintf(rules[n].body, sizeof rules[n].body, "{\"rules\":[{\"target\":{\"pool_id\":\"%s\"}}]}",
             empty);
    rules[n++].field = "rules[0].target.pool_id";
    snprintf(rules[n].body, sizeof rules[n].body, "{\"rules\":[{\"target\":{\"user_id\":\"%s\"}}]}",
             never);
    rules[n++].field = "rules[0].target.user_id";
    snprintf(rules[n].body, sizeof rules[n].body, "{\"rules\":[{\"target\":{\"pool_id\":\"%s\"}}]}",
             other_pool);
    rules[n++].field = "rules[0].target.pool_id";
    snprintf(rules[n].body, sizeof rules[n].body,
             "{\"rules\":[{\"conditions\":[{\"field\":\"stage\",\"op\":\"eq\",\"value\":\"x\"}],"
             "%s},{%s}]}",
             t, t);
    rules[n++].field = "rules[0].conditions[0].field";
    snprintf(rules[n].body, sizeof rules[n].body, "{\"rules\":[{\"target\":{}}]}");
    rules[n++].field = "rules[0].target";
    for (int i = 0; i < n; i++) {
        struct resp *r = put("/v1/routing/rules", w.key, rules[i].body, NULL);
        ck_assert_msg(r->status == 422 && problem_names(r, rules[i].field),
                      "rules %d: expected 422 naming %s, got %ld %s", i, rules[i].field, r->status,
                      r->body);
        resp_free(r);
    }
    /* nothing was written: the document is still empty */
    struct resp *r = get("/v1/routing/rules", w.key);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "version")), 0);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "rules")), 0);
    resp_free(r);
    /* a stale If-Match */
    snprintf(body, sizeof body, "{\"rules\":[{%s}]}", t);
    r = put("/v1/routing/rules", w.key, body, "\"7\"");
    ck_assert_int_eq(r->status, 412);
    resp_free(r);

    /* members, pools, absences, the dry run */
    snprintf(body, sizeof body,
             "{\"user_id\":\"%s\",\"starts_at\":\"2030-01-02T00:00:00Z\","
             "\"ends_at\":\"2030-01-05T00:00:00Z\"}",
             u);
    r = post("/v1/routing/absences", w.key, body);
    ck_assert_int_eq(r->status, 201);
    resp_free(r);
    char overlap[256], backwards[256], dry[128];
    snprintf(overlap, sizeof overlap,
             "{\"user_id\":\"%s\",\"starts_at\":\"2030-01-04T00:00:00Z\","
             "\"ends_at\":\"2030-01-09T00:00:00Z\"}",
             u);
    snprintf(backwards, sizeof backwards,
             "{\"user_id\":\"%s\",\"starts_at\":\"2030-02-04T00:00:00Z\","
             "\"ends_at\":\"2030-02-01T00:00:00Z\"}",
             u);
    snprintf(dry, sizeof dry, "{\"lead_id\":\"%s\"}", never);
    const struct bad cases[] = {
        {"PUT", members_path, "{\"cap\":-1}", 422, "cap"},
        {"PUT", members_path, "{\"weight\":0}", 422, "weight"},
        {"PUT", members_path, "{\"weight\":1001}", 422, "weight"},
        {"PUT", members_path,
         "{\"working_hours\":{\"time_zone\":\"Mars/Olympus\",\"days\":[1],\"start\":\"09:00\","
         "\"end\":\"17:00\"}}",
         422, "working_hours.time_zone"},
        {"PUT", members_path,
         "{\"working_hours\":{\"time_zone\":\"UTC\",\"days\":[8],\"start\":\"09:00\","
         "\"end\":\"17:00\"}}",
         422, "working_hours.days[0]"},
        {"PUT", members_path,
         "{\"working_hours\":{\"time_zone\":\"UTC\",\"days\":[1],\"start\":\"9am\","
         "\"end\":\"17:00\"}}",
         422, "working_hours.start"},
        {"POST", "/v1/routing/pools", "{\"name\":\"x\",\"method\":\"random\"}", 422, "method"},
        {"POST", "/v1/routing/pools",
         "{\"name\":\"x\",\"method\":\"weighted\",\"reassign_after_minutes\":0}", 422,
         "reassign_after_minutes"},
        {"PATCH", pool_path, "{\"method\":null}", 422, "method"},
        {"POST", "/v1/routing/absences", overlap, 409, "starts_at"},
        {"POST", "/v1/routing/absences", backwards, 422, "ends_at"},
        {"POST", "/v1/routing/dry-run", dry, 422, "lead_id"},
        {"POST", "/v1/routing/dry-run", "{\"lead_id\":\"x\"}", 422, "lead_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = send_json(cases[i].method, cases[i].path, w.key, cases[i].body, strlen(cases[i].body),
                      NULL, NULL);
        ck_assert_msg(r->status == cases[i].status && problem_names(r, cases[i].field),
                      "%s %s %s: expected %ld naming %s, got %ld %s", cases[i].method,
                      cases[i].path, cases[i].body, cases[i].status, cases[i].field, r->status,
                      r->body);
        resp_free(r);
    }

    /* another workspace's ids: 404, as ids never issued */
    const char *paths[][2] = {
        {"GET", pool_path},       {"GET", "members"}, {"PUT", members_path},
        {"DELETE", members_path}, {"POST", "route"},  {"GET", "assignments"},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (!strcmp(paths[i][1], "members"))
            snprintf(path, sizeof path, "%s/members", pool_path);
        else if (!strcmp(paths[i][1], "route") || !strcmp(paths[i][1], "assignments"))
            snprintf(path, sizeof path, "/v1/leads/%s/%s", l, paths[i][1]);
        else
            snprintf(path, sizeof path, "%s", paths[i][1]);
        const char *b = !strcmp(paths[i][0], "GET") || !strcmp(paths[i][0], "DELETE") ? NULL : "{}";
        r = send_json(paths[i][0], path, o.key, b, b ? 2 : 0, NULL, NULL);
        ck_assert_msg(r->status == 404, "%s %s from another workspace: %ld %s", paths[i][0], path,
                      r->status, r->body);
        resp_free(r);
    }
    /* a pool a rule routes to cannot go */
    catch_all(&w, p);
    r = del(pool_path, w.key);
    ck_assert_int_eq(r->status, 409);
    resp_free(r);
    /* readonly reads, but may not write */
    char ro[64];
    ck_assert(workspace_key("routing-bad", "readonly", ro));
    r = get("/v1/routing/rules", ro);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "rules")), 1);
    resp_free(r);
    r = put("/v1/routing/rules", ro, "{\"rules\":[]}", NULL);
    ck_assert_int_eq(r->status, 403);
    resp_free(r);
}
END_TEST

/* An owned lead keeps its owner unless the rule says to re-assign; imported history
 * (a dated move) routes nothing. */
START_TEST(owned_leads_keep_their_owner_and_dated_moves_route_nothing)
{
    struct ws w;
    char a[40], b[40], p[40], l[40], l2[40], got[40], body[512], path[160];
    ws_make(&w, "routing-owned");
    pool(&w, "round_robin", NULL, p);
    user(&w, "owa", a);
    user(&w, "owb", b);
    member(&w, p, a, "{}");
    catch_all(&w, p);
    snprintf(body, sizeof body, "{\"email\":\"owned@example.com\",\"owner_id\":\"%s\"}", b);
    struct resp *r = post("/v1/leads", w.key, body);
    ck_assert_int_eq(r->status, 201);
    snprintf(l, sizeof l, "%s", jstr(r, "id"));
    resp_free(r);
    to_mql(&w, l, got);
    ck_assert_str_eq(got, b);
    snprintf(body, sizeof body,
             "{\"rules\":[{\"target\":{\"pool_id\":\"%s\"},\"reassign_owned\":true}]}", p);
    r = put("/v1/routing/rules", w.key, body, "\"1\"");
    ck_assert_msg(r->status == 200, "%ld %s", r->status, r->body);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "version")), 2);
    resp_free(r);
    route(&w, l, got);
    ck_assert_str_eq(got, a);

    lead(&w, "dated@example.com", l2);
    snprintf(path, sizeof path, "/v1/leads/%s/history", l2);
    time_t soon = time(NULL) + 60;
    char at[32];
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&soon));
    snprintf(body, sizeof body, "{\"transitions\":[{\"to\":\"mql\",\"at\":\"%s\"}]}", at);
    r = post(path, w.key, body);
    ck_assert_msg(r->status == 201 || r->status == 200, "%ld %s", r->status, r->body);
    resp_free(r);
    PGconn *pg = pg_test();
    ck_assert_str_eq(owner_of(pg, l2), "");
    PQfinish(pg);
}
END_TEST

/* A member who joins a weighted pool starts at the others' ratio: no burst of leads. */
START_TEST(a_member_joining_a_weighted_pool_gets_no_burst)
{
    struct ws w;
    char a[40], b[40], c[40], p[40], l[40], got[40];
    int to_c = 0;
    ws_make(&w, "routing-join");
    pool(&w, "weighted", NULL, p);
    user(&w, "joa", a);
    user(&w, "job", b);
    user(&w, "joc", c);
    member(&w, p, a, "{}");
    member(&w, p, b, "{}");
    catch_all(&w, p);
    for (int i = 0; i < 13; i++) {
        char email[64];
        if (i == 10)
            member(&w, p, c, "{}");
        snprintf(email, sizeof email, "join%d@example.com", i);
        lead(&w, email, l);
        route(&w, l, got);
        if (i >= 10)
            to_c += !strcmp(got, c);
    }
    ck_assert_msg(to_c == 1, "the joiner got %d of the 3 leads after joining", to_c);
}
END_TEST

Suite *routing_suite(void)
{
    Suite *s = suite_create("routing");
    TCase *tc = tcase_create("routing");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_weighted_pool_shares_by_weight_and_respects_absence_and_cap);
    tcase_add_test(tc, round_robin_keeps_its_order_when_members_change);
    tcase_add_test(tc, least_loaded_picks_the_member_with_the_fewest_open_leads);
    tcase_add_test(tc, a_member_joining_a_weighted_pool_gets_no_burst);
    tcase_add_test(tc, a_lead_without_feedback_after_the_sla_goes_to_another_member_never_back);
    tcase_add_test(tc, with_two_members_the_second_reassignment_finds_nobody_and_logs_it);
    tcase_add_test(tc, the_dry_run_says_what_would_happen_and_writes_nothing);
    tcase_add_test(tc, bad_input_is_refused_naming_the_field_and_other_workspaces_ids_are_404);
    tcase_add_test(tc, owned_leads_keep_their_owner_and_dated_moves_route_nothing);
    suite_add_tcase(s, tc);
    return s;
}
