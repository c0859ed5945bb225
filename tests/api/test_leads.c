/* Leads against a real daemon: every field, duplicate emails, merge patches, text kept
 * verbatim, upserts by email and external id, erasure, list paging while others insert,
 * and concurrent writes. Each test makes its own rows (unique emails); the paging test,
 * which must see every row, uses a workspace of its own. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"
#include "suites.h"
#include "support.h"

START_TEST(lead_with_every_field_and_its_campaign_touch)
{
    char owner[40], camp[40], theirs[40], body[2048], path[128], id[40];
    new_user(admin_key, "lead.owner@example.com", owner);
    create("/v1/campaigns", admin_key, "{\"name\":\"Booth\",\"channel\":\"event\"}", camp);
    snprintf(
        body, sizeof body,
        "{\"email\":\"Full.Lead@Example.com\",\"first_name\":\"Ada\",\"last_name\":\"Lovelace\","
        "\"company\":\"Analytical Engines\",\"title\":\"CTO\",\"phone\":\"+44 20 7946 0000\","
        "\"country\":\"GB\",\"source\":\"event\",\"score\":87,\"owner_id\":\"%s\","
        "\"consent\":{\"email_opt_in\":true,\"captured_at\":\"2026-01-02T03:04:05.000000Z\","
        "\"how\":\"booth form\"},"
        "\"custom\":{\"tier\":\"gold\",\"seats\":12,\"beta\":true,\"ratio\":0.5},"
        "\"external_ids\":{\"crm\":\"0031x00001\",\"billing.v2\":\"cus_9\"},"
        "\"campaign_id\":\"%s\"}",
        owner, camp);
    struct resp *c = post("/v1/leads", admin_key, body);
    expect_status(c, 201, "create lead");
    snprintf(id, sizeof id, "%s", jstr(c, "id"));
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    expect_header(c, "Location", path);
    expect_header(c, "ETag", "\"1\"");
    json_t *sent = json_loads(body, 0, NULL);
    json_object_del(sent, "campaign_id");
    const char *k;
    json_t *v;
    json_object_foreach(sent, k, v)
    {
        ck_assert_msg(json_equal(v, json_object_get(c->json, k)), "member %s: sent %s, got %s", k,
                      js(v), c->body);
    }
    json_decref(sent);
    ck_assert_msg(!json_object_get(c->json, "campaign_id"), "campaign_id is write-only: %s",
                  c->body);
    ck_assert_str_eq(jstr(c, "stage"), "new");
    ck_assert_str_eq(jstr(c, "first_campaign_id"), camp);
    ck_assert_str_eq(jstr(c, "latest_campaign_id"), camp);
    ck_assert_int_eq(jint(c, "version"), 1);
    ck_assert_msg(is_timestamp(jstr(c, "created_at")) && is_timestamp(jstr(c, "updated_at")) &&
                      is_timestamp(jstr(c, "stage_changed_at")),
                  "timestamps: %s", c->body);
    struct resp *g = get(path, readonly_key);
    expect_status(g, 200, "get lead");
    expect_header(g, "ETag", "\"1\"");
    ck_assert_msg(json_equal(g->json, c->json), "GET %s differs from the create answer %s", g->body,
                  c->body);
    resp_free(g);

    /* the `created` touch and the first stage change, both on the timeline */
    char tpath[160];
    snprintf(tpath, sizeof tpath, "%s/timeline", path);
    struct resp *t = get(tpath, readonly_key);
    expect_status(t, 200, "timeline");
    json_t *data = json_object_get(t->json, "data");
    ck_assert_msg(json_array_size(data) == 2, "two entries expected: %s", t->body);
    int touches = 0, changes = 0;
    size_t i;
    json_t *e;
    json_array_foreach(data, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        ck_assert_msg(is_timestamp(json_string_value(json_object_get(e, "at"))), "at: %s", t->body);
        if (type && !strcmp(type, "touch")) {
            json_t *touch = json_object_get(e, "touch");
            ck_assert_str_eq(json_string_value(json_object_get(touch, "kind")), "created");
            ck_assert_str_eq(json_string_value(json_object_get(touch, "campaign_id")), camp);
            ck_assert_str_eq(json_string_value(json_object_get(touch, "lead_id")), id);
            touches++;
        } else if (type && !strcmp(type, "stage_change")) {
            json_t *sc = json_object_get(e, "stage_change");
            ck_assert_msg(json_is_null(json_object_get(sc, "from")), "from null: %s", t->body);
            ck_assert_str_eq(json_string_value(json_object_get(sc, "to")), "new");
            changes++;
        }
    }
    ck_assert_msg(touches == 1 && changes == 1, "one touch and one stage change: %s", t->body);
    resp_free(t);

    /* listed by campaign and by owner */
    char q[256], got[2048];
    snprintf(q, sizeof q, "/v1/leads?campaign_id=%s", camp);
    collect(readonly_key, q, "id", got, sizeof got);
    ck_assert_msg(!strcmp(got, id), "%s: expected [%s], got [%s]", q, id, got);
    snprintf(q, sizeof q, "/v1/leads?owner_id=%s", owner);
    collect(readonly_key, q, "id", got, sizeof got);
    ck_assert_msg(!strcmp(got, id), "%s: expected [%s], got [%s]", q, id, got);

    /* without a campaign: no touch, no campaign ids */
    struct resp *m = post("/v1/leads", admin_key, "{\"email\":\"minimal.lead@example.com\"}");
    expect_status(m, 201, "minimal lead");
    ck_assert_str_eq(jstr(m, "source"), "other");
    ck_assert_msg(json_is_null(json_object_get(m->json, "first_campaign_id")) &&
                      json_is_null(json_object_get(m->json, "consent")) &&
                      json_is_null(json_object_get(m->json, "score")) &&
                      json_object_size(json_object_get(m->json, "custom")) == 0 &&
                      json_object_size(json_object_get(m->json, "external_ids")) == 0,
                  "defaults: %s", m->body);
    snprintf(tpath, sizeof tpath, "/v1/leads/%s/timeline", jstr(m, "id"));
    t = get(tpath, admin_key);
    ck_assert_msg(json_array_size(json_object_get(t->json, "data")) == 1, "one entry: %s", t->body);
    resp_free(t);
    resp_free(m);

    /* another workspace's campaign is not a campaign of this one */
    create("/v1/campaigns", other_admin_key, "{\"name\":\"Theirs\",\"channel\":\"event\"}", theirs);
    snprintf(body, sizeof body, "{\"email\":\"cross.campaign@example.com\",\"campaign_id\":\"%s\"}",
             theirs);
    struct resp *x = post("/v1/leads", admin_key, body);
    expect_invalid(x, "campaign_id", "another workspace's campaign");
    resp_free(x);
    resp_free(c);
}
END_TEST

START_TEST(lead_duplicate_emails_conflict_in_any_case_and_script)
{
    char id[40];
    static const struct {
        const char *first, *second;
    } pairs[] = {
        {"dup.case@example.com", "DUP.Case@EXAMPLE.com"},
        {"élodie@exämple.com", "ÉLODIE@exämple.com"},
        {"ÄRGER@ÜBER.example", "ärger@über.example"},
        {"δοκιμή@παράδειγμα.example", "ΔΟΚΙΜΉ@ΠΑΡΆΔΕΙΓΜΑ.example"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"email\":\"%s\"}", pairs[i].first);
        struct resp *a = post("/v1/leads", admin_key, body);
        expect_status(a, 201, pairs[i].first);
        ck_assert_str_eq(jstr(a, "email"), pairs[i].first); /* kept as given */
        snprintf(id, sizeof id, "%s", jstr(a, "id"));
        resp_free(a);
        snprintf(body, sizeof body, "{\"email\":\"%s\"}", pairs[i].second);
        struct resp *b = post("/v1/leads", admin_key, body);
        assert_problem(b, 409, "conflict");
        ck_assert_msg(!strcmp(jstr(b, "existing_id"), id), "%s after %s: existing_id %s, got %s",
                      pairs[i].second, pairs[i].first, id, b->body);
        resp_free(b);
    }
    /* an external id names one lead */
    create("/v1/leads", admin_key,
           "{\"email\":\"ext.holder@example.com\",\"external_ids\":{\"crm\":\"DUP-1\"}}", id);
    struct resp *b =
        post("/v1/leads", admin_key,
             "{\"email\":\"ext.taker@example.com\",\"external_ids\":{\"crm\":\"DUP-1\"}}");
    assert_problem(b, 409, "conflict");
    ck_assert_msg(!strcmp(jstr(b, "existing_id"), id), "existing_id %s, got %s", id, b->body);
    resp_free(b);
    /* the same pair in another system is another id */
    b = post("/v1/leads", admin_key,
             "{\"email\":\"ext.taker@example.com\",\"external_ids\":{\"erp\":\"DUP-1\"}}");
    expect_status(b, 201, "same id, other system");
    resp_free(b);
}
END_TEST

START_TEST(lead_patch_merges)
{
    char id[40], other[40], path[96], opath[96];
    create("/v1/leads", admin_key,
           "{\"email\":\"merge.me@example.com\",\"first_name\":\"Ann\",\"company\":\"Co\","
           "\"custom\":{\"a\":\"1\",\"b\":2,\"c\":true},"
           "\"external_ids\":{\"crm\":\"M-1\",\"erp\":\"E-1\"},"
           "\"consent\":{\"email_opt_in\":false,\"how\":\"form\"}}",
           id);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    struct resp *p =
        patch(path, admin_key,
              "{\"custom\":{\"b\":null,\"d\":\"new\"},"
              "\"external_ids\":{\"erp\":null,\"crm\":\"M-2\",\"web\":\"w1\"},"
              "\"consent\":{\"email_opt_in\":true,\"captured_at\":\"2026-02-03T04:05:06.000000Z\"},"
              "\"first_name\":null,\"title\":\"VP\",\"score\":40}",
              "\"1\"");
    expect_status(p, 200, "merge patch");
    expect_header(p, "ETag", "\"2\"");
    json_t *want = json_loads("{\"custom\":{\"a\":\"1\",\"c\":true,\"d\":\"new\"},"
                              "\"external_ids\":{\"crm\":\"M-2\",\"web\":\"w1\"},"
                              "\"consent\":{\"email_opt_in\":true,\"how\":\"form\","
                              "\"captured_at\":\"2026-02-03T04:05:06.000000Z\"},"
                              "\"first_name\":null,\"title\":\"VP\",\"company\":\"Co\","
                              "\"email\":\"merge.me@example.com\",\"score\":40,\"version\":2,"
                              "\"stage\":\"new\"}",
                              0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
    {
        ck_assert_msg(json_equal(v, json_object_get(p->json, k)), "member %s: expected %s in %s", k,
                      js(v), p->body);
    }
    json_decref(want);
    resp_free(p);

    /* the pairs table follows: the old pairs are free, the new ones are held */
    PGconn *pg = pg_test();
    char *pairs = pg_value_p(pg,
                             "SELECT string_agg(system || '=' || external_id, ',' ORDER BY system)"
                             " FROM lead_external_ids WHERE lead_id = $1::uuid",
                             id);
    ck_assert_msg(!strcmp(pairs, "crm=M-2,web=w1"),
                  "lead_external_ids: expected crm=M-2,web=w1, got %s", pairs);
    free(pairs);
    PQfinish(pg);
    create("/v1/leads", admin_key,
           "{\"email\":\"merge.other@example.com\",\"external_ids\":{\"crm\":\"M-1\",\"erp\":\"E-"
           "1\"}}",
           other);
    snprintf(opath, sizeof opath, "/v1/leads/%s", other);
    p = patch(opath, admin_key, "{\"external_ids\":{\"web\":\"w1\"}}", NULL);
    assert_problem(p, 409, "conflict");
    ck_assert_msg(!strcmp(jstr(p, "existing_id"), id), "existing_id %s: %s", id, p->body);
    resp_free(p);
    p = patch(opath, admin_key, "{\"email\":\"MERGE.ME@example.com\"}", NULL);
    assert_problem(p, 409, "conflict");
    ck_assert_msg(!strcmp(jstr(p, "existing_id"), id), "existing_id %s: %s", id, p->body);
    resp_free(p);

    /* consent null removes it; email may change but not be null; read-only fields refused */
    p = patch(path, admin_key, "{\"consent\":null,\"email\":\"Merged.Me@example.com\"}", "\"2\"");
    expect_status(p, 200, "consent null");
    ck_assert_msg(json_is_null(json_object_get(p->json, "consent")), "consent removed: %s",
                  p->body);
    ck_assert_str_eq(jstr(p, "email"), "Merged.Me@example.com");
    resp_free(p);
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"email\":null}", "email"},
        {"{\"stage\":\"mql\"}", "stage"},
        {"{\"version\":9}", "version"},
        {"{\"first_campaign_id\":null}", "first_campaign_id"},
        {"{\"campaign_id\":\"5b0d2f0c-8e4a-4c1b-9d7e-0f3a6b2c1d99\"}", "campaign_id"},
        {"{\"custom\":null}", "custom"},
        {"{\"source\":null}", "source"},
        {"{\"consent\":{\"email_opt_in\":null}}", "consent.email_opt_in"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = patch(path, admin_key, bad[i].body, NULL);
        expect_invalid(p, bad[i].field, bad[i].body);
        resp_free(p);
    }
    p = patch(path, admin_key, "{\"title\":\"Stale\"}", "\"2\"");
    assert_problem(p, 412, "precondition-failed");
    ck_assert_str_eq(jstr(p, "current_etag"), "\"3\"");
    resp_free(p);
    p = get(path, admin_key);
    ck_assert_int_eq(jint(p, "version"), 3);
    ck_assert_str_eq(jstr(p, "title"), "VP");
    resp_free(p);
}
END_TEST

/* Strings no query may interpret: quotes, comment and statement separators, escapes,
 * LIKE wildcards, printf directives, combining and right-to-left text, emoji. */
static const char evil[] = "Robert'); DROP TABLE leads; -- \\ \\\\ \"q\" ' ` % _ %s %n $1 ${x} Zoë "
                           "中文 עברית 🎉👩‍💻";

START_TEST(sql_metacharacters_round_trip_verbatim)
{
    char path[1024], id[40], enc[768];
    const char *phone = "+1 ';--\\%_`😀";
    const char *email = "o'hara_100%`x`{y}--🎉@exämple.com";
    json_t *lead =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s}, s:{s:b, s:s}}", "email",
                  email, "first_name", evil, "last_name", evil, "company", evil, "title", evil,
                  "phone", phone, "custom", "k'); DROP TABLE leads; --", evil, "%_\\", "\\",
                  "external_ids", "crm", evil, "consent", "email_opt_in", 1, "how", evil);
    char *body = json_dumps(lead, JSON_COMPACT);
    struct resp *c = post("/v1/leads", admin_key, body);
    expect_status(c, 201, "lead with metacharacters");
    snprintf(id, sizeof id, "%s", jstr(c, "id"));
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    struct resp *g = get(path, admin_key);
    expect_status(g, 200, "get it back");
    const char *k;
    json_t *v;
    json_object_foreach(lead, k, v)
    {
        ck_assert_msg(json_equal(v, json_object_get(g->json, k)), "member %s: sent %s, got %s", k,
                      js(v), g->body);
    }
    resp_free(g);
    resp_free(c);
    free(body);

    /* the database holds the very bytes */
    PGconn *pg = pg_test();
    char *stored = pg_value_p(pg, "SELECT first_name FROM leads WHERE id = $1::uuid", id);
    ck_assert_msg(!strcmp(stored, evil), "stored first_name: expected %s, got %s", evil, stored);
    free(stored);
    stored = pg_value_p(pg, "SELECT email FROM leads WHERE id = $1::uuid", id);
    ck_assert_str_eq(stored, email);
    free(stored);
    ck_assert_int_ge(pg_long(pg, "SELECT count(*) FROM leads"), 1); /* the table is there */

    /* found by prefix search and by its external id */
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%.20s", evil);
    url_encode(prefix, enc, sizeof enc);
    snprintf(path, sizeof path, "/v1/leads?q=%s", enc);
    char got[4096];
    collect(admin_key, path, "id", got, sizeof got);
    ck_assert_msg(!strcmp(got, id), "%s: expected [%s], got [%s]", path, id, got);
    url_encode(evil, enc, sizeof enc);
    snprintf(path, sizeof path, "/v1/leads/by-external-id/crm/%s", enc);
    struct resp *u = put(path, admin_key, "{\"score\":7}", NULL);
    expect_status(u, 200, "upsert by an external id full of metacharacters");
    ck_assert_str_eq(jstr(u, "id"), id);
    resp_free(u);
    url_encode(email, enc, sizeof enc);
    snprintf(path, sizeof path, "/v1/leads/by-email/%s", enc);
    u = put(path, admin_key, "{\"score\":8}", NULL);
    expect_status(u, 200, "upsert by an email full of metacharacters");
    ck_assert_str_eq(jstr(u, "id"), id);
    resp_free(u);
    json_decref(lead);

    /* campaigns: name, description and tags */
    json_t *camp =
        json_pack("{s:s, s:s, s:s, s:[s, s]}", "name", evil, "channel", "content", "description",
                  evil, "tags", "'); DROP TABLE campaigns; --%_\\", "🎉 Zoë");
    body = json_dumps(camp, JSON_COMPACT);
    c = post("/v1/campaigns", admin_key, body);
    expect_status(c, 201, "campaign with metacharacters");
    snprintf(path, sizeof path, "/v1/campaigns/%s", jstr(c, "id"));
    g = get(path, admin_key);
    json_object_foreach(camp, k, v)
    {
        ck_assert_msg(json_equal(v, json_object_get(g->json, k)), "member %s: sent %s, got %s", k,
                      js(v), g->body);
    }
    ck_assert_int_ge(pg_long(pg, "SELECT count(*) FROM campaigns"), 1);
    PQfinish(pg);
    resp_free(g);
    resp_free(c);
    free(body);
    json_decref(camp);
}
END_TEST

START_TEST(lead_search_treats_wildcards_literally)
{
    static const char *const names[] = {"Zq%lit", "Zqxlit", "Zq_lit", "Zqylit", "Zq\\\\lit"};
    char ids[5][40], body[256], got[1024], want[256], key[64];
    /* a workspace of its own: "ZQ" must find these five leads and no other suite's */
    ck_assert(workspace_key("leads-wildcards", "admin", key));
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "{\"email\":\"qlit%d@example.com\",\"first_name\":\"%s\"}", i,
                 names[i]);
        create("/v1/leads", key, body, ids[i]);
    }
    static const struct {
        const char *q;
        int match[5];
    } cases[] = {
        {"Zq%25", {1, 0, 0, 0, 0}}, {"Zq_", {0, 0, 1, 0, 0}},
        {"zq%5C", {0, 0, 0, 0, 1}}, {"ZQ", {1, 1, 1, 1, 1}},
        {"zqx", {0, 1, 0, 0, 0}},   {"lit", {0, 0, 0, 0, 0}}, /* a prefix, not a substring */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[128];
        size_t used = 0;
        want[0] = '\0';
        for (int i = 4; i >= 0; i--) /* newest first */
            if (cases[c].match[i])
                used += (size_t)snprintf(want + used, sizeof want - used, "%s%s", used ? "," : "",
                                         ids[i]);
        snprintf(path, sizeof path, "/v1/leads?q=%s", cases[c].q);
        collect(key, path, "id", got, sizeof got);
        ck_assert_msg(!strcmp(got, want), "%s: expected [%s], got [%s]", path, want, got);
    }
    struct resp *r = get("/v1/leads?q=", key);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert_msg(problem_names(r, "q"), "names q: %s", r->body);
    resp_free(r);
}
END_TEST

/* A lead whose answer is exactly as long as the buffer it is written into (1024 bytes):
 * jw_take once handed over the block that appending the NUL had freed, and the daemon
 * sent freed memory and freed it twice. The answer is padded to the byte through a
 * custom field, then read back whole. */
START_TEST(an_answer_that_fills_its_buffer_exactly)
{
    char id[40], path[96], body[1200];
    create("/v1/leads", admin_key, "{\"email\":\"jw.exact@example.com\"}", id);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    struct resp *r = patch(path, admin_key, "{\"custom\":{\"pad\":\"x\"}}", NULL);
    expect_status(r, 200, "a one-character pad");
    size_t pad = 1 + (1024 - r->len);
    ck_assert_msg(r->len < 1024 && pad < 1000, "a lead of %zu bytes", r->len);
    resp_free(r);
    int n = snprintf(body, sizeof body, "{\"custom\":{\"pad\":\"");
    memset(body + n, 'x', pad);
    snprintf(body + n + pad, sizeof body - (size_t)n - pad, "\"}}");
    r = patch(path, admin_key, body, NULL);
    expect_status(r, 200, "the padded lead");
    ck_assert_msg(r->len == 1024 && r->json, "expected 1024 bytes of JSON, got %zu: %.1100s",
                  r->len, r->body);
    resp_free(r);
    r = get(path, admin_key);
    expect_status(r, 200, "the padded lead again");
    ck_assert_uint_eq(r->len, 1024);
    resp_free(r);
}
END_TEST

/* ------------------------------------------------------------------ upserts */

START_TEST(upsert_by_email)
{
    char camp[40], id[40], loc[128];
    create("/v1/campaigns", admin_key, "{\"name\":\"Upserts\",\"channel\":\"content\"}", camp);
    char body[256];
    snprintf(body, sizeof body,
             "{\"first_name\":\"Put\",\"company\":\"One Co\",\"custom\":{\"x\":\"1\"},"
             "\"campaign_id\":\"%s\"}",
             camp);
    struct resp *r = put("/v1/leads/by-email/put.one%40example.com", admin_key, body, NULL);
    expect_status(r, 201, "PUT by-email creates");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    snprintf(loc, sizeof loc, "/v1/leads/%s", id);
    expect_header(r, "Location", loc);
    expect_header(r, "ETag", "\"1\"");
    ck_assert_str_eq(jstr(r, "email"), "put.one@example.com");
    ck_assert_str_eq(jstr(r, "first_campaign_id"), camp);
    resp_free(r);

    r = put("/v1/leads/by-email/put.one%40example.com", admin_key,
            "{\"title\":\"Boss\",\"custom\":{\"y\":\"2\"}}", NULL);
    expect_status(r, 200, "PUT by-email updates");
    ck_assert_str_eq(jstr(r, "id"), id);
    ck_assert_str_eq(jstr(r, "first_name"), "Put"); /* untouched fields are kept */
    ck_assert_str_eq(jstr(r, "company"), "One Co");
    ck_assert_str_eq(jstr(r, "title"), "Boss");
    ck_assert_int_eq(jint(r, "version"), 2);
    json_t *custom = json_object_get(r->json, "custom");
    ck_assert_msg(json_object_size(custom) == 2 && json_object_get(custom, "x") &&
                      json_object_get(custom, "y"),
                  "custom merged: %s", r->body);
    char *loc_upd = resp_header(r, "Location");
    ck_assert_msg(loc_upd == NULL, "no Location on an update, got %s", loc_upd);
    resp_free(r);

    /* the path is compared case-insensitively; the body's email must be the same one */
    r = put("/v1/leads/by-email/PUT.ONE%40EXAMPLE.COM", admin_key, "{\"phone\":\"123\"}", NULL);
    expect_status(r, 200, "PUT by-email in upper case");
    ck_assert_str_eq(jstr(r, "id"), id);
    resp_free(r);
    r = put("/v1/leads/by-email/put.one%40example.com", admin_key,
            "{\"email\":\"someone.else@example.com\"}", NULL);
    expect_invalid(r, "email", "body email differs from the path");
    resp_free(r);
    r = put("/v1/leads/by-email/nobody.yet%40example.com", admin_key,
            "{\"email\":\"someone.else@example.com\"}", NULL);
    expect_invalid(r, "email", "body email differs from the path (create)");
    resp_free(r);
    r = put("/v1/leads/by-email/put.one%40example.com", admin_key,
            "{\"email\":\"Put.One@Example.com\",\"title\":\"Chief\"}", NULL);
    expect_status(r, 200, "body email equal but for case");
    ck_assert_str_eq(jstr(r, "id"), id);
    resp_free(r);

    /* If-Match on the update path */
    r = put("/v1/leads/by-email/put.one%40example.com", admin_key, "{\"title\":\"Stale\"}",
            "\"1\"");
    assert_problem(r, 412, "precondition-failed");
    ck_assert_str_eq(jstr(r, "current_etag"), "\"4\"");
    resp_free(r);
    r = put("/v1/leads/by-email/put.one%40example.com", admin_key, "{\"title\":\"Fresh\"}",
            "\"4\"");
    expect_status(r, 200, "PUT with the current If-Match");
    expect_header(r, "ETag", "\"5\"");
    resp_free(r);
    r = put("/v1/leads/by-email/put.one%40example.com", admin_key, "{\"stage\":\"customer\"}",
            NULL);
    expect_invalid(r, "stage", "stage via PUT");
    resp_free(r);

    PGconn *pg = pg_test();
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads WHERE ll_fold(email) ="
                                 " 'put.one@example.com'"),
                     1);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads WHERE ll_fold(email) ="
                                 " 'someone.else@example.com' OR ll_fold(email) ="
                                 " 'nobody.yet@example.com'"),
                     0);
    PQfinish(pg);
}
END_TEST

START_TEST(upsert_by_external_id)
{
    char id[40], id2[40];
    struct resp *r = put("/v1/leads/by-external-id/crm/X-100", admin_key,
                         "{\"email\":\"ext.one@example.com\",\"first_name\":\"Ext\"}", NULL);
    expect_status(r, 201, "PUT by-external-id creates");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r->json, "external_ids"), "crm")),
        "X-100");
    char *loc = resp_header(r, "Location");
    ck_assert_msg(loc && strstr(loc, id), "Location names the new lead: %s", loc);
    free(loc);
    resp_free(r);

    r = put("/v1/leads/by-external-id/crm/X-100", admin_key, "{\"title\":\"Updated\"}", NULL);
    expect_status(r, 200, "PUT by-external-id updates without an email");
    ck_assert_str_eq(jstr(r, "id"), id);
    ck_assert_str_eq(jstr(r, "first_name"), "Ext");
    ck_assert_str_eq(jstr(r, "title"), "Updated");
    ck_assert_str_eq(jstr(r, "email"), "ext.one@example.com");
    resp_free(r);

    r = put("/v1/leads/by-external-id/crm/X-NOBODY", admin_key, "{\"title\":\"Nobody\"}", NULL);
    expect_invalid(r, "email", "create without an email");
    resp_free(r);

    /* attaches to the lead that has the body's email */
    create("/v1/leads", admin_key, "{\"email\":\"ext.two@example.com\",\"first_name\":\"Two\"}",
           id2);
    r = put("/v1/leads/by-external-id/erp/E-200", admin_key,
            "{\"email\":\"EXT.TWO@example.com\",\"last_name\":\"Second\"}", NULL);
    expect_status(r, 200, "attach to the lead found by email");
    ck_assert_str_eq(jstr(r, "id"), id2);
    ck_assert_str_eq(jstr(r, "first_name"), "Two");
    ck_assert_str_eq(jstr(r, "last_name"), "Second");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r->json, "external_ids"), "erp")),
        "E-200");
    resp_free(r);
    r = put("/v1/leads/by-external-id/erp/E-200", admin_key, "{\"company\":\"Found by id\"}", NULL);
    expect_status(r, 200, "found by the attached id");
    ck_assert_str_eq(jstr(r, "id"), id2);
    resp_free(r);

    /* the body may not give the path's system another id; If-Match on update */
    r = put("/v1/leads/by-external-id/crm/X-100", admin_key,
            "{\"external_ids\":{\"crm\":\"X-999\"}}", NULL);
    expect_invalid(r, "external_ids", "contradicting external id");
    resp_free(r);
    r = put("/v1/leads/by-external-id/crm/X-100", admin_key, "{\"title\":\"Stale\"}", "\"1\"");
    assert_problem(r, 412, "precondition-failed");
    ck_assert_str_eq(jstr(r, "current_etag"), "\"2\"");
    resp_free(r);
    r = put("/v1/leads/by-external-id/crm/X-100", admin_key, "{\"title\":\"Fresh\"}", "\"2\"");
    expect_status(r, 200, "current If-Match");
    resp_free(r);

    PGconn *pg = pg_test();
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM lead_external_ids WHERE"
                                 " (system, external_id) IN (('crm', 'X-100'), ('erp', 'E-200'))"),
                     2);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM lead_external_ids WHERE"
                                 " external_id = 'X-NOBODY'"),
                     0);
    PQfinish(pg);
}
END_TEST

/* ------------------------------------------------------------------ erasure */

START_TEST(erasure_keeps_history_and_frees_the_email)
{
    char camp[40], id[40], path[96], sub[128], body[512];
    create("/v1/campaigns", admin_key, "{\"name\":\"Erasure\",\"channel\":\"email\"}", camp);
    snprintf(body, sizeof body,
             "{\"email\":\"erase.me@example.com\",\"first_name\":\"Eve\",\"last_name\":\"Gone\","
             "\"company\":\"Secret\",\"title\":\"X\",\"phone\":\"555\",\"custom\":{\"a\":1},"
             "\"external_ids\":{\"crm\":\"ER-1\"},\"consent\":{\"email_opt_in\":true},"
             "\"campaign_id\":\"%s\"}",
             camp);
    create("/v1/leads", admin_key, body, id);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    snprintf(sub, sizeof sub, "%s/transitions", path);
    struct resp *r = post(sub, admin_key, "{\"to\":\"mql\"}");
    expect_status(r, 201, "to mql");
    resp_free(r);

    r = del(path, admin_key);
    expect_status(r, 204, "erase");
    resp_free(r);
    r = get(path, admin_key);
    assert_problem(r, 410, "gone");
    resp_free(r);
    r = patch(path, admin_key, "{\"first_name\":\"Back\"}", NULL);
    assert_problem(r, 410, "gone");
    resp_free(r);
    r = post(sub, admin_key, "{\"to\":\"sales_accepted\"}");
    assert_problem(r, 410, "gone");
    resp_free(r);
    snprintf(sub, sizeof sub, "%s/history", path);
    r = get(sub, admin_key);
    expect_status(r, 200, "history of an erased lead");
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 2, "two changes: %s",
                  r->body);
    resp_free(r);
    snprintf(sub, sizeof sub, "%s/timeline", path);
    r = get(sub, admin_key);
    expect_status(r, 200, "timeline of an erased lead");
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 3,
                  "touch and two changes: %s", r->body);
    resp_free(r);

    /* personal data is gone from the row; the facts stay */
    PGconn *pg = pg_test();
    char *row = pg_value_p(pg,
                           "SELECT concat_ws('|', email IS NULL, first_name IS NULL,"
                           " last_name IS NULL, company IS NULL, title IS NULL, phone IS NULL,"
                           " consent IS NULL, custom = '{}', external_ids = '{}',"
                           " erased_at IS NOT NULL, stage, first_campaign_id IS NOT NULL)"
                           " FROM leads WHERE id = $1::uuid",
                           id);
    ck_assert_msg(!strcmp(row, "t|t|t|t|t|t|t|t|t|t|mql|t"), "erased row: %s", row);
    free(row);
    row =
        pg_value_p(pg,
                   "SELECT (SELECT count(*) FROM lead_external_ids WHERE lead_id = $1::uuid)"
                   " || '|' || (SELECT count(*) FROM campaign_touches WHERE lead_id = $1::uuid)"
                   " || '|' || (SELECT count(*) FROM lead_stage_changes WHERE lead_id = $1::uuid)",
                   id);
    ck_assert_msg(!strcmp(row, "0|1|2"), "external ids|touches|changes: expected 0|1|2, got %s",
                  row);
    free(row);
    PQfinish(pg);

    /* not listed; the email and the external id can be used again */
    char got[1024];
    collect(admin_key, "/v1/leads?q=erase.me", "id", got, sizeof got);
    ck_assert_msg(!strcmp(got, ""), "an erased lead is not listed, got [%s]", got);
    snprintf(path, sizeof path, "/v1/leads?campaign_id=%s", camp);
    collect(admin_key, path, "id", got, sizeof got);
    ck_assert_msg(!strcmp(got, ""), "an erased lead is not listed by campaign, got [%s]", got);
    r = post("/v1/leads", admin_key,
             "{\"email\":\"Erase.Me@example.com\",\"external_ids\":{\"crm\":\"ER-1\"}}");
    expect_status(r, 201, "the email and external id again");
    ck_assert_str_ne(jstr(r, "id"), id);
    resp_free(r);
}
END_TEST

/* ------------------------------------------------------------------ paging */

#define PAGING_LEADS  1234
#define PAGING_BY_API 34

struct inserter {
    char key[64];
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, failed;
    long last_status;
};

/* Creates leads through the API until told to stop, announcing each one. */
static void *insert_loop(void *arg)
{
    struct inserter *in = arg;
    for (int i = 0; !atomic_load(&in->stop); i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"email\":\"during%d@paging.example\"}", i);
        struct resp *r = post("/v1/leads", in->key, body);
        pthread_mutex_lock(&in->mu);
        if (r->status == 201) {
            in->done++;
        } else {
            in->failed++;
            in->last_status = r->status;
        }
        pthread_cond_broadcast(&in->cv);
        pthread_mutex_unlock(&in->mu);
        resp_free(r);
    }
    return NULL;
}

/* Waits until the inserter has finished more than `after` inserts (or failed). */
static bool inserted_since(struct inserter *in, int after)
{
    struct timespec until;
    bool ok;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&in->mu);
    while (in->done <= after && in->failed == 0)
        if (pthread_cond_timedwait(&in->cv, &in->mu, &until) != 0)
            break;
    ok = in->done > after;
    pthread_mutex_unlock(&in->mu);
    return ok;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

START_TEST(paging_sees_every_lead_once_while_others_are_inserted)
{
    static char ids[PAGING_LEADS][37];
    static int seen[PAGING_LEADS];
    static char extra[2000][37];
    int nextra = 0, pages = 0;
    struct inserter in = {
        .stop = false, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    ck_assert(workspace_key("core-paging", "admin", in.key));

    /* Most rows in one statement, spread over the past hour (pairs share a created_at,
     * as rows of one transaction do); the rest through the API. */
    PGconn *pg = pg_test();
    char sql[1024];
/* in the select list, not a LATERAL subquery without FROM: Citus refuses now() there */
#define PAGING_T "now() - interval '1 hour' + (g / 2) * interval '1 ms'"
    snprintf(sql, sizeof sql,
             "INSERT INTO leads (workspace_id, email, created_at, updated_at, stage_changed_at)"
             " SELECT w.id, 'bulk' || g || '@paging.example', " PAGING_T ", " PAGING_T ", " PAGING_T
             " FROM workspaces w, generate_series(1, %d) g"
             " WHERE w.slug = 'core-paging'",
             PAGING_LEADS - PAGING_BY_API);
    pg_ok(pg, sql);
    for (int i = 0; i < PAGING_BY_API; i++) {
        char body[96], id[40];
        snprintf(body, sizeof body, "{\"email\":\"api%d@paging.example\"}", i);
        create("/v1/leads", in.key, body, id);
    }
    PGresult *res = PQexec(pg, "SELECT l.id FROM leads l JOIN workspaces w ON w.id ="
                               " l.workspace_id WHERE w.slug = 'core-paging' ORDER BY l.id::text");
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == PAGING_LEADS,
                  "expected %d leads, got %d", PAGING_LEADS, PQntuples(res));
    for (int i = 0; i < PAGING_LEADS; i++)
        snprintf(ids[i], sizeof ids[i], "%s", PQgetvalue(res, i, 0));
    PQclear(res);
    PQfinish(pg);

    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, insert_loop, &in), 0);
    char url[1024] = "/v1/leads?limit=100", prev_created[40] = "~";
    for (;;) {
        pthread_mutex_lock(&in.mu);
        int before = in.done;
        pthread_mutex_unlock(&in.mu);
        struct resp *r = get(url, in.key);
        expect_status(r, 200, url);
        json_t *data = json_object_get(r->json, "data");
        size_t i;
        json_t *e;
        ck_assert_msg(json_array_size(data) <= 100, "page of %zu", json_array_size(data));
        json_array_foreach(data, i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            const char *created = json_string_value(json_object_get(e, "created_at"));
            ck_assert_msg(id && created && strcmp(created, prev_created) <= 0,
                          "page %d: not newest first (%s after %s)", pages, created, prev_created);
            snprintf(prev_created, sizeof prev_created, "%s", created);
            char(*hit)[37] = bsearch(id, ids, PAGING_LEADS, sizeof ids[0], cmp_id);
            if (hit) {
                seen[hit - ids]++;
            } else {
                for (int x = 0; x < nextra; x++)
                    ck_assert_msg(strcmp(extra[x], id) != 0, "%s listed twice", id);
                ck_assert_int_lt(nextra, 2000);
                snprintf(extra[nextra++], sizeof extra[0], "%s", id);
            }
        }
        pages++;
        json_t *next = json_object_get(r->json, "next_cursor");
        if (!json_is_string(next)) {
            resp_free(r);
            break;
        }
        snprintf(url, sizeof url, "/v1/leads?limit=100&cursor=%s", json_string_value(next));
        resp_free(r);
        ck_assert_msg(pages < 40, "too many pages");
        /* the next page is read only after another lead was inserted */
        ck_assert_msg(inserted_since(&in, before),
                      "the inserter made no progress (%d failed, last %ld)", in.failed,
                      in.last_status);
    }
    atomic_store(&in.stop, true);
    pthread_join(t, NULL);
    ck_assert_msg(in.failed == 0, "%d inserts failed during paging, last with %ld", in.failed,
                  in.last_status);
    ck_assert_msg(in.done >= pages - 1, "only %d inserts during %d pages", in.done, pages);
    int missing = 0, twice = 0;
    for (int i = 0; i < PAGING_LEADS; i++) {
        missing += seen[i] == 0;
        twice += seen[i] > 1;
    }
    ck_assert_msg(missing == 0 && twice == 0,
                  "of %d leads, %d never seen and %d seen more than once over %d pages "
                  "(%d inserted meanwhile)",
                  PAGING_LEADS, missing, twice, pages, in.done);
    ck_assert_int_ge(pages, 13);

    /* limits and cursors */
    static const struct {
        const char *query, *field;
    } bad[] = {{"limit=501", "limit"},
               {"limit=0", "limit"},
               {"limit=-1", "limit"},
               {"limit=ten", "limit"},
               {"cursor=not-a-cursor", "cursor"},
               {"sort=email", "sort"},
               {"score_min=101", "score_min"},
               {"stage=won", "stage"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(url, sizeof url, "/v1/leads?%s", bad[i].query);
        struct resp *r = get(url, in.key);
        assert_problem(r, 400, "invalid-parameter");
        ck_assert_msg(problem_names(r, bad[i].field), "%s names %s: %s", url, bad[i].field,
                      r->body);
        resp_free(r);
    }
    struct resp *r = get("/v1/leads?limit=500", in.key);
    expect_status(r, 200, "limit=500");
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 500);
    resp_free(r);
    r = get("/v1/leads?sort=created_at&limit=3", in.key);
    char cursor[512];
    snprintf(cursor, sizeof cursor, "%s",
             json_string_value(json_object_get(r->json, "next_cursor")));
    resp_free(r);
    const char *other_sorts[] = {"", "&sort=-created_at", "&sort=updated_at", "&sort=score"};
    for (int i = 0; i < 4; i++) {
        snprintf(url, sizeof url, "/v1/leads?limit=3&cursor=%s%s", cursor, other_sorts[i]);
        r = get(url, in.key);
        assert_problem(r, 400, "invalid-parameter");
        ck_assert_msg(problem_names(r, "cursor"), "%s names cursor: %s", url, r->body);
        resp_free(r);
    }
    snprintf(url, sizeof url, "/v1/leads?sort=created_at&limit=3&cursor=%s", cursor);
    r = get(url, in.key);
    expect_status(r, 200, "the cursor with its own sort");
    resp_free(r);
}
END_TEST

START_TEST(concurrent_patches_with_one_if_match_one_wins)
{
    char id[40], path[96];
    create("/v1/leads", admin_key, "{\"email\":\"race.patch@example.com\"}", id);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    for (int round = 1; round <= 5; round++) {
        pthread_barrier_t b;
        pthread_t t[2];
        struct racer x[2];
        char etag[16];
        /* new values each round: a write of the values the lead has is a no-op, keeps its
         * version and so matches the same If-Match again */
        char names[2][24], left[48], right[48];
        snprintf(names[0], sizeof names[0], "Left%d", round);
        snprintf(names[1], sizeof names[1], "Right%d", round);
        snprintf(left, sizeof left, "{\"first_name\":\"%s\"}", names[0]);
        snprintf(right, sizeof right, "{\"first_name\":\"%s\"}", names[1]);
        const char *bodies[2] = {left, right};
        snprintf(etag, sizeof etag, "\"%d\"", round);
        pthread_barrier_init(&b, NULL, 2);
        for (int i = 0; i < 2; i++) {
            x[i] = (struct racer){&b, "PATCH", path, admin_key, bodies[i], etag, NULL, NULL};
            ck_assert_int_eq(pthread_create(&t[i], NULL, race, &x[i]), 0);
        }
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&b);
        int ok = -1, n200 = 0, n412 = 0;
        for (int i = 0; i < 2; i++) {
            if (x[i].r->status == 200) {
                n200++;
                ok = i;
            } else if (x[i].r->status == 412) {
                n412++;
                assert_problem(x[i].r, 412, "precondition-failed");
            }
        }
        ck_assert_msg(n200 == 1 && n412 == 1,
                      "round %d: expected one 200 and one 412, got %ld and %ld", round,
                      x[0].r->status, x[1].r->status);
        struct resp *g = get(path, admin_key);
        ck_assert_int_eq(jint(g, "version"), round + 1);
        ck_assert_str_eq(jstr(g, "first_name"), names[ok]);
        resp_free(g);
        resp_free(x[0].r);
        resp_free(x[1].r);
    }
}
END_TEST

#define UPSERT_RACERS 10

/* Concurrent upserts of one new lead: one creates it, the others update it. */
static void upsert_race(const char *path, const char *const bodies[UPSERT_RACERS])
{
    pthread_barrier_t b;
    pthread_t t[UPSERT_RACERS];
    struct racer x[UPSERT_RACERS];
    int created = 0;
    pthread_barrier_init(&b, NULL, UPSERT_RACERS);
    for (int i = 0; i < UPSERT_RACERS; i++) {
        x[i] = (struct racer){&b, "PUT", path, admin_key, bodies[i], NULL, NULL, NULL};
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &x[i]), 0);
    }
    for (int i = 0; i < UPSERT_RACERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&b);
    for (int i = 0; i < UPSERT_RACERS; i++) {
        ck_assert_msg(x[i].r->status == 201 || x[i].r->status == 200,
                      "PUT %s racer %d: expected 200 or 201, got %ld: %s", path, i, x[i].r->status,
                      x[i].r->body);
        created += x[i].r->status == 201;
        ck_assert_str_eq(jstr(x[i].r, "id"), jstr(x[0].r, "id"));
    }
    ck_assert_msg(created == 1, "PUT %s: %d of %d racers created the lead", path, created,
                  UPSERT_RACERS);
    for (int i = 0; i < UPSERT_RACERS; i++)
        resp_free(x[i].r);
}

START_TEST(concurrent_upserts_make_one_lead)
{
    const char *by_email[UPSERT_RACERS], *by_ext[UPSERT_RACERS];
    char bodies[UPSERT_RACERS][96];
    for (int i = 0; i < UPSERT_RACERS; i++) {
        snprintf(bodies[i], sizeof bodies[i], "{\"first_name\":\"Racer %d\"}", i);
        by_email[i] = bodies[i];
        by_ext[i] = "{\"email\":\"race.ext@example.com\"}";
    }
    upsert_race("/v1/leads/by-email/race.email%40example.com", by_email);
    upsert_race("/v1/leads/by-external-id/crm/RACE-1", by_ext);
    PGconn *pg = pg_test();
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads WHERE email IN"
                                 " ('race.email@example.com', 'race.ext@example.com')"),
                     2);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM lead_external_ids WHERE external_id ="
                                 " 'RACE-1'"),
                     1);
    PQfinish(pg);
}
END_TEST

/* Point reads (GET of one lead, by id or by email) share their event loop's pipelined
 * connection: many at once, of different leads and of none, each gets its own answer, and
 * the statements went out on the pipeline (leadloop_db_pipelined_total). */
#define PR_LEADS   24
#define PR_THREADS 8
#define PR_ROUNDS  40

struct pr_worker {
    int k;
    char (*ids)[40];
    int wrong;
    char why[512];
};

static void *pr_run(void *arg)
{
    struct pr_worker *w = arg;
    for (int r = 0; r < PR_ROUNDS; r++) {
        int i = (w->k * 7 + r) % (PR_LEADS + 1);
        char path[160];
        struct resp *g;
        if (i == PR_LEADS) /* none: a well-formed id of no lead */
            snprintf(path, sizeof path, "/v1/leads/00000000-0000-4000-8000-%012d", w->k * 1000 + r);
        else if (r % 2)
            snprintf(path, sizeof path, "/v1/leads/by-email/pipe.%d%%40example.com", i);
        else
            snprintf(path, sizeof path, "/v1/leads/%s", w->ids[i]);
        g = get(path, readonly_key);
        if (i == PR_LEADS
                ? g->status != 404
                : g->status != 200 || !jstr(g, "id") || strcmp(jstr(g, "id"), w->ids[i])) {
            snprintf(w->why, sizeof w->why, "GET %s answered %ld: %.300s", path, g->status,
                     g->body ? g->body : "");
            w->wrong++;
        }
        resp_free(g);
    }
    return NULL;
}

static long metric(const char *name)
{
    char line[128];
    struct resp *r = get("/metrics", NULL);
    const char *at;
    long v;
    expect_status(r, 200, "/metrics");
    snprintf(line, sizeof line, "\n%s ", name);
    at = strstr(r->body, line);
    ck_assert_msg(at, "/metrics has no %s", name);
    v = atol(at + strlen(line));
    resp_free(r);
    return v;
}

START_TEST(point_reads_at_once_each_get_their_own_answer)
{
    char ids[PR_LEADS][40];
    struct pr_worker w[PR_THREADS];
    pthread_t th[PR_THREADS];
    long before, after;
    for (int i = 0; i < PR_LEADS; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"email\":\"pipe.%d@example.com\",\"source\":\"web\"}", i);
        create("/v1/leads", admin_key, body, ids[i]);
    }
    before = metric("leadloop_db_pipelined_total");
    for (int k = 0; k < PR_THREADS; k++) {
        w[k] = (struct pr_worker){.k = k, .ids = ids};
        ck_assert_int_eq(pthread_create(&th[k], NULL, pr_run, &w[k]), 0);
    }
    for (int k = 0; k < PR_THREADS; k++) {
        pthread_join(th[k], NULL);
        ck_assert_msg(w[k].wrong == 0, "%d wrong answers, the last: %s", w[k].wrong, w[k].why);
    }
    after = metric("leadloop_db_pipelined_total");
    ck_assert_msg(after - before >= PR_THREADS * PR_ROUNDS,
                  "%ld statements pipelined for %d point reads", after - before,
                  PR_THREADS * PR_ROUNDS);
}
END_TEST

Suite *leads_suite(void)
{
    Suite *s = suite_create("leads");
    TCase *tc_fields_and_merge_patches = tcase_create("fields_and_merge_patches");
    tcase_set_timeout(tc_fields_and_merge_patches, 120);
    tcase_add_test(tc_fields_and_merge_patches, lead_with_every_field_and_its_campaign_touch);
    tcase_add_test(tc_fields_and_merge_patches,
                   lead_duplicate_emails_conflict_in_any_case_and_script);
    tcase_add_test(tc_fields_and_merge_patches, lead_patch_merges);
    tcase_add_test(tc_fields_and_merge_patches, an_answer_that_fills_its_buffer_exactly);
    suite_add_tcase(s, tc_fields_and_merge_patches);
    TCase *tc_text_kept_verbatim = tcase_create("text_kept_verbatim");
    tcase_set_timeout(tc_text_kept_verbatim, 120);
    tcase_add_test(tc_text_kept_verbatim, sql_metacharacters_round_trip_verbatim);
    tcase_add_test(tc_text_kept_verbatim, lead_search_treats_wildcards_literally);
    suite_add_tcase(s, tc_text_kept_verbatim);
    TCase *tc_upserts = tcase_create("upserts");
    tcase_set_timeout(tc_upserts, 120);
    tcase_add_test(tc_upserts, upsert_by_email);
    tcase_add_test(tc_upserts, upsert_by_external_id);
    suite_add_tcase(s, tc_upserts);
    TCase *tc_erasure = tcase_create("erasure");
    tcase_set_timeout(tc_erasure, 120);
    tcase_add_test(tc_erasure, erasure_keeps_history_and_frees_the_email);
    suite_add_tcase(s, tc_erasure);
    TCase *tc_paging_under_inserts = tcase_create("paging_under_inserts");
    tcase_set_timeout(tc_paging_under_inserts, 120);
    tcase_add_test(tc_paging_under_inserts, paging_sees_every_lead_once_while_others_are_inserted);
    suite_add_tcase(s, tc_paging_under_inserts);
    TCase *tc_concurrent_writes = tcase_create("concurrent_writes");
    tcase_set_timeout(tc_concurrent_writes, 120);
    tcase_add_test(tc_concurrent_writes, concurrent_patches_with_one_if_match_one_wins);
    tcase_add_test(tc_concurrent_writes, concurrent_upserts_make_one_lead);
    suite_add_tcase(s, tc_concurrent_writes);
    TCase *tc_point_reads = tcase_create("point_reads_pipelined");
    tcase_set_timeout(tc_point_reads, 120);
    tcase_add_test(tc_point_reads, point_reads_at_once_each_get_their_own_answer);
    suite_add_tcase(s, tc_point_reads);
    return s;
}
