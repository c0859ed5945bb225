/* The core resources against a real daemon: campaigns, leads, upserts, erasure, the
 * lifecycle, list paging under concurrent inserts, If-Match races, Idempotency-Key under
 * concurrency, and other workspaces' ids. Each test makes its own rows (unique emails);
 * the list tests that must see every row use a workspace of their own. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "suites.h"
#include "support.h"

static const char random_id[] = "5b0d2f0c-8e4a-4c1b-9d7e-0f3a6b2c1d99";

/* ------------------------------------------------------------------ helpers */

static void expect_status(const struct resp *r, long status, const char *what)
{
    ck_assert_msg(r->status == status, "%s: expected %ld, got %ld: %s", what, status, r->status,
                  r->body);
}

/* Asserts r is a 422 naming field. */
static void expect_invalid(const struct resp *r, const char *field, const char *what)
{
    ck_assert_msg(r->status == 422, "%s: expected 422 naming %s, got %ld: %s", what, field,
                  r->status, r->body);
    assert_problem(r, 422, "validation-failed");
    ck_assert_msg(problem_names(r, field), "%s: expected errors[] to name %s, got %s", what, field,
                  r->body);
}

/* Text of v for a message (a few at a time; the main thread only). */
static const char *js(const json_t *v)
{
    static char buf[8][2048];
    static int n;
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT), *out = buf[n++ % 8];
    snprintf(out, sizeof buf[0], "%s", s ? s : "(nothing)");
    free(s);
    return out;
}

static long jint(const struct resp *r, const char *key)
{
    return (long)json_integer_value(json_object_get(r->json, key));
}

static void expect_header(const struct resp *r, const char *name, const char *want)
{
    char *got = resp_header(r, name);
    ck_assert_msg(got && !strcmp(got, want), "header %s: expected %s, got %s", name, want,
                  got ? got : "(none)");
    free(got);
}

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ": RFC 3339, UTC, microseconds. */
static bool is_timestamp(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    if (!s || strlen(s) != sizeof shape - 1)
        return false;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
    return true;
}

static void url_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in && o + 4 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/* POSTs body and requires 201; the new id into id. */
static void create(const char *path, const char *key, const char *body, char id[40])
{
    struct resp *r = post(path, key, body);
    ck_assert_msg(r->status == 201, "POST %s %s: expected 201, got %ld: %s", path, body, r->status,
                  r->body);
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

static void new_user(const char *key, const char *email, char id[40])
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"Owner\",\"email\":\"%s\",\"team\":\"marketing\"}",
             email);
    create("/v1/users", key, body, id);
}

/* A new API key of role in the workspace of admin (the secret into key). */
static void new_key(const char *admin, const char *role, char key[64])
{
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"core %s\",\"role\":\"%s\"}", role, role);
    struct resp *r = post("/v1/api-keys", admin, body);
    expect_status(r, 201, "create key");
    snprintf(key, 64, "%s", jstr(r, "secret"));
    resp_free(r);
}

/* Follows next_cursor from path (which has a query) and joins member `field` of every
 * item with ','; checks each page's Link header against its next_cursor. */
static void collect(const char *key, const char *path, const char *field, char *out, size_t cap)
{
    char url[1024];
    size_t used = 0;
    out[0] = '\0';
    snprintf(url, sizeof url, "%s", path);
    for (int page = 0; page < 100; page++) {
        struct resp *r = get(url, key);
        expect_status(r, 200, url);
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(r->json, "data"), i, item)
        {
            const char *v = json_string_value(json_object_get(item, field));
            used +=
                (size_t)snprintf(out + used, cap - used, "%s%s", used ? "," : "", v ? v : "null");
            ck_assert_msg(used < cap, "collect: result too long");
        }
        json_t *next = json_object_get(r->json, "next_cursor");
        char *link = resp_header(r, "Link");
        if (!json_is_string(next)) {
            ck_assert_msg(json_is_null(next), "%s: next_cursor must be a string or null", url);
            ck_assert_msg(link == NULL, "%s: no Link header on the last page, got %s", url, link);
            resp_free(r);
            return;
        }
        ck_assert_msg(link && strstr(link, json_string_value(next)) && strstr(link, "rel=\"next\""),
                      "%s: Link must carry next_cursor, got %s", url, link ? link : "(none)");
        free(link);
        snprintf(url, sizeof url, "%s&cursor=%s", path, json_string_value(next));
        resp_free(r);
    }
    ck_abort_msg("%s: more than 100 pages", path);
}

/* ------------------------------------------------------------------ campaigns */

START_TEST(campaign_create_get_patch_archive)
{
    char owner[40], body[1024], path[96], id[40];
    new_user(admin_key, "campaign.owner@example.com", owner);
    snprintf(body, sizeof body,
             "{\"name\":\"Spring Launch\",\"channel\":\"webinar\",\"status\":\"active\","
             "\"budget\":500000,\"cost\":12345,\"currency\":\"USD\",\"starts_on\":\"2026-03-01\","
             "\"ends_on\":\"2026-03-31\",\"owner_id\":\"%s\",\"tags\":[\"q1\",\"launch\"],"
             "\"description\":\"Webinar series\"}",
             owner);
    struct resp *c = post("/v1/campaigns", admin_key, body);
    expect_status(c, 201, "create campaign");
    snprintf(id, sizeof id, "%s", jstr(c, "id"));
    snprintf(path, sizeof path, "/v1/campaigns/%s", id);
    expect_header(c, "Location", path);
    expect_header(c, "ETag", "\"1\"");
    json_t *sent = json_loads(body, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(sent, k, v)
    {
        ck_assert_msg(json_equal(v, json_object_get(c->json, k)), "member %s: sent %s, got %s", k,
                      js(v), c->body);
    }
    json_decref(sent);
    ck_assert_int_eq(jint(c, "version"), 1);
    ck_assert_msg(is_timestamp(jstr(c, "created_at")) && is_timestamp(jstr(c, "updated_at")),
                  "timestamps: %s", c->body);

    struct resp *g = get(path, readonly_key);
    expect_status(g, 200, "get campaign");
    expect_header(g, "ETag", "\"1\"");
    ck_assert_msg(json_equal(g->json, c->json), "GET %s differs from the create answer %s", g->body,
                  c->body);
    resp_free(g);

    /* defaults */
    struct resp *d =
        post("/v1/campaigns", admin_key, "{\"name\":\"Minimal\",\"channel\":\"other\"}");
    expect_status(d, 201, "minimal campaign");
    json_t *want = json_pack("{s:s, s:i, s:i, s:s, s:n, s:n, s:n, s:[], s:n}", "status", "planned",
                             "budget", 0, "cost", 0, "currency", "USD", "starts_on", "ends_on",
                             "owner_id", "tags", "description");
    json_object_foreach(want, k, v)
    {
        ck_assert_msg(json_equal(v, json_object_get(d->json, k)), "default %s: expected %s in %s",
                      k, js(v), d->body);
    }
    json_decref(want);
    resp_free(d);

    /* merge patch with If-Match; nullable members cleared, tags replaced whole */
    struct resp *p = patch(path, admin_key,
                           "{\"name\":\"Spring Launch II\",\"tags\":[\"only\"],"
                           "\"description\":null,\"ends_on\":null,\"owner_id\":null}",
                           "\"1\"");
    expect_status(p, 200, "patch with If-Match 1");
    expect_header(p, "ETag", "\"2\"");
    ck_assert_int_eq(jint(p, "version"), 2);
    ck_assert_str_eq(jstr(p, "name"), "Spring Launch II");
    ck_assert_str_eq(jstr(p, "starts_on"), "2026-03-01");
    ck_assert_int_eq(jint(p, "budget"), 500000);
    ck_assert_str_eq(jstr(p, "currency"), "USD");
    ck_assert_msg(json_is_null(json_object_get(p->json, "description")) &&
                      json_is_null(json_object_get(p->json, "ends_on")) &&
                      json_is_null(json_object_get(p->json, "owner_id")),
                  "nulls clear: %s", p->body);
    json_t *tags = json_object_get(p->json, "tags");
    ck_assert_msg(json_array_size(tags) == 1 &&
                      !strcmp(json_string_value(json_array_get(tags, 0)), "only"),
                  "tags replaced whole: %s", p->body);
    ck_assert_msg(strcmp(jstr(p, "updated_at"), jstr(c, "updated_at")) > 0,
                  "updated_at moves forward: %s then %s", jstr(c, "updated_at"),
                  jstr(p, "updated_at"));
    ck_assert_str_eq(jstr(p, "created_at"), jstr(c, "created_at"));
    resp_free(p);

    p = patch(path, admin_key, "{\"name\":\"Stale\"}", "\"1\"");
    assert_problem(p, 412, "precondition-failed");
    ck_assert_str_eq(jstr(p, "current_etag"), "\"2\"");
    resp_free(p);
    p = patch(path, admin_key, "{\"name\":null,\"budget\":null}", NULL);
    expect_invalid(p, "name", "name null");
    ck_assert_msg(problem_names(p, "budget"), "budget null is named too: %s", p->body);
    resp_free(p);

    /* archive: stale If-Match refused, then 204 and the row stays, archived */
    struct resp *a = del_if(path, admin_key, "\"1\"");
    assert_problem(a, 412, "precondition-failed");
    ck_assert_str_eq(jstr(a, "current_etag"), "\"2\"");
    resp_free(a);
    a = del_if(path, admin_key, "\"2\"");
    expect_status(a, 204, "archive");
    ck_assert_int_eq(a->len, 0);
    resp_free(a);
    g = get(path, admin_key);
    expect_status(g, 200, "get archived campaign");
    ck_assert_str_eq(jstr(g, "status"), "archived");
    ck_assert_int_eq(jint(g, "version"), 3);
    expect_header(g, "ETag", "\"3\"");
    ck_assert_str_eq(jstr(g, "name"), "Spring Launch II");
    resp_free(g);
    resp_free(c);
}
END_TEST

START_TEST(campaign_lists_filter_sort_and_page)
{
    char key[64], owner[40], ids[5][40], body[512], got[4096];
    ck_assert(workspace_key("core-campaign-lists", "admin", key));
    new_user(key, "lists.owner@example.com", owner);
    const char *bodies[5] = {
        "{\"name\":\"Alpha\",\"channel\":\"email\",\"status\":\"active\","
        "\"starts_on\":\"2026-01-01\",\"ends_on\":\"2026-01-31\"}",
        NULL, /* Beta: owned, below */
        "{\"name\":\"Gamma\",\"channel\":\"email\",\"status\":\"paused\"}",
        "{\"name\":\"Delta\",\"channel\":\"event\",\"status\":\"active\","
        "\"starts_on\":\"2026-02-01\",\"ends_on\":\"2026-02-28\"}",
        "{\"name\":\"Alphabet soup\",\"channel\":\"email\",\"status\":\"completed\","
        "\"starts_on\":\"2025-12-01\",\"ends_on\":\"2026-01-10\"}",
    };
    for (int i = 0; i < 5; i++) {
        if (i == 1)
            snprintf(body, sizeof body,
                     "{\"name\":\"Beta\",\"channel\":\"webinar\",\"starts_on\":\"2026-01-15\","
                     "\"owner_id\":\"%s\"}",
                     owner);
        else
            snprintf(body, sizeof body, "%s", bodies[i]);
        create("/v1/campaigns", key, body, ids[i]);
    }
    /* Gamma changes last: updated_since its new updated_at finds it alone */
    char path[1024], since[64];
    snprintf(path, sizeof path, "/v1/campaigns/%s", ids[2]);
    struct resp *p = patch(path, key, "{\"cost\":5}", NULL);
    expect_status(p, 200, "patch Gamma");
    snprintf(since, sizeof since, "%s", jstr(p, "updated_at"));
    resp_free(p);

    static const struct {
        const char *query, *names;
    } cases[] = {
        {"sort=name", "Alpha,Alphabet soup,Beta,Delta,Gamma"},
        {"sort=-name", "Gamma,Delta,Beta,Alphabet soup,Alpha"},
        {"sort=starts_on", "Alphabet soup,Alpha,Beta,Delta,Gamma"},
        {"sort=-starts_on", "Gamma,Delta,Beta,Alpha,Alphabet soup"},
        {"sort=created_at", "Alpha,Beta,Gamma,Delta,Alphabet soup"},
        {"sort=-created_at", "Alphabet soup,Delta,Gamma,Beta,Alpha"},
        {"", "Alphabet soup,Delta,Gamma,Beta,Alpha"}, /* the default sort */
        {"sort=name&status=active", "Alpha,Delta"},
        {"sort=name&channel=email", "Alpha,Alphabet soup,Gamma"},
        {"sort=name&channel=email&status=active", "Alpha"},
        {"sort=name&active_on=2026-01-20", "Alpha,Beta"},
        {"sort=name&active_on=2026-01-10", "Alpha,Alphabet soup"},
        {"sort=name&active_on=2026-02-28", "Beta,Delta"},
        {"sort=name&active_on=2025-01-01", ""},
        {"sort=name&q=ALPHA", "Alpha,Alphabet soup"},
        {"sort=name&q=lta", "Delta"},
        {"sort=name&q=bet%20so", "Alphabet soup"},
        {"sort=name&q=%25", ""}, /* % is a character, not a wildcard */
        {"sort=name&owner_id", "Beta"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "/v1/campaigns?limit=2%s%s", *cases[i].query ? "&" : "",
                 cases[i].query);
        if (strstr(cases[i].query, "owner_id"))
            snprintf(path, sizeof path, "/v1/campaigns?limit=2&sort=name&owner_id=%s", owner);
        collect(key, path, "name", got, sizeof got);
        ck_assert_msg(!strcmp(got, cases[i].names), "%s: expected [%s], got [%s]", path,
                      cases[i].names, got);
    }
    snprintf(path, sizeof path, "/v1/campaigns?sort=name&updated_since=%s", since);
    collect(key, path, "name", got, sizeof got);
    ck_assert_msg(!strcmp(got, "Gamma"), "%s: expected [Gamma], got [%s]", path, got);

    /* bad values are 400 naming the parameter */
    static const struct {
        const char *query, *field;
    } bad[] = {{"status=deleted", "status"},
               {"channel=fax", "channel"},
               {"active_on=2026-13-01", "active_on"},
               {"updated_since=yesterday", "updated_since"},
               {"sort=budget", "sort"},
               {"owner_id=bob", "owner_id"},
               {"limit=0", "limit"},
               {"limit=501", "limit"},
               {"colour=red", "colour"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/v1/campaigns?%s", bad[i].query);
        struct resp *r = get(path, key);
        assert_problem(r, 400, "invalid-parameter");
        ck_assert_msg(problem_names(r, bad[i].field), "%s: expected errors[] to name %s, got %s",
                      path, bad[i].field, r->body);
        resp_free(r);
    }
    /* a cursor belongs to its sort */
    struct resp *r = get("/v1/campaigns?sort=name&limit=1", key);
    char cursor[512];
    snprintf(cursor, sizeof cursor, "%s",
             json_string_value(json_object_get(r->json, "next_cursor")));
    resp_free(r);
    snprintf(path, sizeof path, "/v1/campaigns?sort=-name&limit=1&cursor=%s", cursor);
    r = get(path, key);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert_msg(problem_names(r, "cursor"), "names cursor: %s", r->body);
    resp_free(r);
}
END_TEST

START_TEST(campaign_validation_and_roles)
{
    char theirs[40], id[40], path[96], body[256];
    struct resp *r = post("/v1/campaigns", admin_key,
                          "{\"name\":\"Backwards\",\"channel\":\"event\","
                          "\"starts_on\":\"2026-05-01\",\"ends_on\":\"2026-04-30\"}");
    expect_invalid(r, "ends_on", "ends before it starts");
    resp_free(r);
    /* EUR is a real currency, but not this workspace's reporting currency (USD) */
    const char *currencies[] = {"usd", "EURO", "ABC", "", "12€", "EUR"};
    for (size_t i = 0; i < sizeof currencies / sizeof currencies[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"name\":\"Money\",\"channel\":\"email\",\"currency\":\"%s\"}", currencies[i]);
        r = post("/v1/campaigns", admin_key, body);
        expect_invalid(r, "currency", currencies[i]);
        resp_free(r);
    }
    r = post("/v1/campaigns", admin_key,
             "{\"name\":\"Ghost owner\",\"channel\":\"email\","
             "\"owner_id\":\"5b0d2f0c-8e4a-4c1b-9d7e-0f3a6b2c1d99\"}");
    expect_invalid(r, "owner_id", "unknown owner");
    resp_free(r);
    new_user(other_admin_key, "their.owner@other.example", theirs);
    snprintf(body, sizeof body,
             "{\"name\":\"Their owner\",\"channel\":\"email\",\"owner_id\":\"%s\"}", theirs);
    r = post("/v1/campaigns", admin_key, body);
    expect_invalid(r, "owner_id", "another workspace's user as owner");
    resp_free(r);

    /* the database check names ends_on when a patch crosses the stored start */
    create("/v1/campaigns", admin_key,
           "{\"name\":\"March\",\"channel\":\"event\",\"starts_on\":\"2026-03-01\"}", id);
    snprintf(path, sizeof path, "/v1/campaigns/%s", id);
    r = patch(path, admin_key, "{\"ends_on\":\"2026-02-01\"}", NULL);
    expect_invalid(r, "ends_on", "patch ends_on before the stored starts_on");
    resp_free(r);
    r = get(path, admin_key);
    ck_assert_int_eq(jint(r, "version"), 1);
    ck_assert_msg(json_is_null(json_object_get(r->json, "ends_on")), "unchanged: %s", r->body);
    resp_free(r);

    /* roles: campaigns are written by admin and marketing; read by all */
    char sales[64], marketing[64];
    new_key(admin_key, "sales", sales);
    new_key(admin_key, "marketing", marketing);
    r = post("/v1/campaigns", sales, "{\"name\":\"By sales\",\"channel\":\"email\"}");
    assert_problem(r, 403, "forbidden");
    ck_assert_str_eq(jstr(r, "role"), "sales");
    resp_free(r);
    r = patch(path, sales, "{\"name\":\"By sales\"}", NULL);
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = del(path, sales);
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = post("/v1/campaigns", readonly_key, "{\"name\":\"By readonly\",\"channel\":\"email\"}");
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = post("/v1/campaigns", marketing, "{\"name\":\"By marketing\",\"channel\":\"email\"}");
    expect_status(r, 201, "marketing creates a campaign");
    resp_free(r);
    const char *readers[] = {readonly_key, sales, marketing};
    for (int i = 0; i < 3; i++) {
        r = get("/v1/campaigns?limit=1", readers[i]);
        expect_status(r, 200, "list campaigns");
        resp_free(r);
        r = get(path, readers[i]);
        expect_status(r, 200, "get campaign");
        resp_free(r);
    }
    /* leads are written by sales too, never by readonly */
    r = post("/v1/leads", sales, "{\"email\":\"by.sales@example.com\"}");
    expect_status(r, 201, "sales creates a lead");
    resp_free(r);
    r = post("/v1/leads", readonly_key, "{\"email\":\"by.readonly@example.com\"}");
    assert_problem(r, 403, "forbidden");
    resp_free(r);
}
END_TEST

/* ------------------------------------------------------------------ leads */

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
    char ids[5][40], body[256], got[1024], want[256];
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "{\"email\":\"qlit%d@example.com\",\"first_name\":\"%s\"}", i,
                 names[i]);
        create("/v1/leads", admin_key, body, ids[i]);
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
        collect(admin_key, path, "id", got, sizeof got);
        ck_assert_msg(!strcmp(got, want), "%s: expected [%s], got [%s]", path, want, got);
    }
    struct resp *r = get("/v1/leads?q=", admin_key);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert_msg(problem_names(r, "q"), "names q: %s", r->body);
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

/* ------------------------------------------------------------------ lifecycle */

static void lead_at(const char *email, char id[40], char path[128])
{
    char body[128];
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    create("/v1/leads", admin_key, body, id);
    snprintf(path, 128, "/v1/leads/%s/transitions", id);
}

/* Moves and requires 201 with from/to and the lead's new stage. */
static void move(const char *path, const char *from, const char *to, const char *reason)
{
    char body[256];
    if (reason)
        snprintf(body, sizeof body, "{\"to\":\"%s\",\"reason\":\"%s\"}", to, reason);
    else
        snprintf(body, sizeof body, "{\"to\":\"%s\"}", to);
    struct resp *r = post(path, admin_key, body);
    ck_assert_msg(r->status == 201, "%s -> %s: expected 201, got %ld: %s", from, to, r->status,
                  r->body);
    ck_assert_str_eq(jstr(r, "from"), from);
    ck_assert_str_eq(jstr(r, "to"), to);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r->json, "lead"), "stage")),
                     to);
    char etag[32];
    snprintf(etag, sizeof etag, "\"%lld\"",
             (long long)json_integer_value(
                 json_object_get(json_object_get(r->json, "lead"), "version")));
    expect_header(r, "ETag", etag);
    ck_assert_msg(
        json_is_string(json_object_get(json_object_get(r->json, "changed_by"), "api_key_id")),
        "changed_by.api_key_id: %s", r->body);
    resp_free(r);
}

/* Requires 409 with exactly these allowed stages ("" for none), each named in detail. */
static void refused(const char *path, const char *to, const char *allowed)
{
    char body[128], got[256] = "";
    size_t used = 0, i;
    json_t *s;
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", to);
    struct resp *r = post(path, admin_key, body);
    ck_assert_msg(r->status == 409, "-> %s: expected 409, got %ld: %s", to, r->status, r->body);
    assert_problem(r, 409, "conflict");
    json_array_foreach(json_object_get(r->json, "allowed"), i, s)
    {
        used += (size_t)snprintf(got + used, sizeof got - used, "%s%s", used ? "," : "",
                                 json_string_value(s));
        ck_assert_msg(strstr(jstr(r, "detail"), json_string_value(s)), "detail names %s: %s",
                      json_string_value(s), r->body);
    }
    ck_assert_msg(json_is_array(json_object_get(r->json, "allowed")) && !strcmp(got, allowed),
                  "-> %s: allowed expected [%s], got [%s]", to, allowed, got);
    resp_free(r);
}

START_TEST(lifecycle_moves_history_and_if_match)
{
    char id[40], path[128];
    static const char *const chain[] = {
        "new", "mql", "sales_accepted", "sales_qualified", "opportunity", "customer"};
    lead_at("life.chain@example.com", id, path);
    for (int i = 1; i < 6; i++)
        move(path, chain[i - 1], chain[i], NULL);
    refused(path, "mql", "");
    refused(path, "recycled", "");

    char hist[160];
    snprintf(hist, sizeof hist, "/v1/leads/%s/history", id);
    struct resp *h = get(hist, readonly_key);
    expect_status(h, 200, "history");
    json_t *data = json_object_get(h->json, "data");
    ck_assert_msg(json_array_size(data) == 6, "six entries: %s", h->body);
    const char *prev_at = "";
    for (size_t i = 0; i < 6; i++) {
        json_t *e = json_array_get(data, i);
        const char *from = json_string_value(json_object_get(e, "from"));
        const char *to = json_string_value(json_object_get(e, "to"));
        const char *at = json_string_value(json_object_get(e, "changed_at"));
        ck_assert_msg(i == 0 ? from == NULL : (from && !strcmp(from, chain[i - 1])),
                      "entry %zu from: %s", i, h->body);
        ck_assert_msg(to && !strcmp(to, chain[i]), "entry %zu to: %s", i, h->body);
        ck_assert_msg(is_timestamp(at) && strcmp(at, prev_at) >= 0, "oldest first: %s", h->body);
        ck_assert_msg(!json_object_get(e, "lead"), "history entries carry no lead: %s", h->body);
        prev_at = at;
    }
    resp_free(h);

    lead_at("life.recycled@example.com", id, path);
    move(path, "new", "recycled", NULL);
    refused(path, "sales_accepted", "mql");
    refused(path, "new", "mql");
    move(path, "recycled", "mql", NULL);

    lead_at("life.new@example.com", id, path);
    refused(path, "new",
            "mql,sales_accepted,sales_qualified,opportunity,customer,recycled,disqualified");
    move(path, "new", "opportunity", NULL); /* forward may skip stages */
    refused(path, "sales_accepted", "customer,recycled,disqualified");

    lead_at("life.dq@example.com", id, path);
    struct resp *r = post(path, admin_key, "{\"to\":\"disqualified\"}");
    expect_invalid(r, "reason", "disqualified without a reason");
    resp_free(r);
    r = post(path, admin_key, "{\"to\":\"disqualified\",\"reason\":\"\"}");
    expect_invalid(r, "reason", "disqualified with an empty reason");
    resp_free(r);
    r = post(path, admin_key, "{\"to\":\"won\"}");
    expect_invalid(r, "to", "unknown stage");
    resp_free(r);
    r = post(path, admin_key, "{\"to\":\"disqualified\",\"reason\":\"No budget; maybe 2027\"}");
    expect_status(r, 201, "disqualified with a reason");
    ck_assert_str_eq(jstr(r, "reason"), "No budget; maybe 2027");
    resp_free(r);
    refused(path, "mql", "");

    /* If-Match on the lead */
    lead_at("life.etag@example.com", id, path);
    r = send_json("POST", path, admin_key, "{\"to\":\"mql\"}", 12, "\"7\"", NULL);
    assert_problem(r, 412, "precondition-failed");
    ck_assert_str_eq(jstr(r, "current_etag"), "\"1\"");
    resp_free(r);
    r = send_json("POST", path, admin_key, "{\"to\":\"mql\"}", 12, "\"1\"", NULL);
    expect_status(r, 201, "transition with the current If-Match");
    expect_header(r, "ETag", "\"2\"");
    resp_free(r);
    r = send_json("POST", path, admin_key, "{\"to\":\"sales_accepted\"}", 23, "\"1\"", NULL);
    assert_problem(r, 412, "precondition-failed");
    ck_assert_str_eq(jstr(r, "current_etag"), "\"2\"");
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
    snprintf(sql, sizeof sql,
             "INSERT INTO leads (workspace_id, email, created_at, updated_at, stage_changed_at)"
             " SELECT w.id, 'bulk' || g || '@paging.example', t, t, t FROM workspaces w,"
             " generate_series(1, %d) g,"
             " LATERAL (SELECT now() - interval '1 hour' + (g / 2) * interval '1 ms' AS t) x"
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

/* ------------------------------------------------------------------ concurrency */

struct racer {
    pthread_barrier_t *barrier;
    const char *method, *path, *key, *body, *if_match, *idem;
    struct resp *r;
};

static void *race(void *arg)
{
    struct racer *x = arg;
    pthread_barrier_wait(x->barrier);
    x->r = send_json(x->method, x->path, x->key, x->body, strlen(x->body), x->if_match, x->idem);
    return NULL;
}

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

#define IDEM_RACERS 50

START_TEST(idempotency_key_under_concurrency)
{
    static const char body[] = "{\"email\":\"idem.fifty@example.com\",\"first_name\":\"Fifty\"}";
    char key[64];
    pthread_barrier_t b;
    pthread_t t[IDEM_RACERS];
    struct racer x[IDEM_RACERS];
    snprintf(key, sizeof key, "fifty-%d", (int)getpid());
    pthread_barrier_init(&b, NULL, IDEM_RACERS);
    for (int i = 0; i < IDEM_RACERS; i++) {
        x[i] = (struct racer){&b, "POST", "/v1/leads", admin_key, body, NULL, key, NULL};
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &x[i]), 0);
    }
    for (int i = 0; i < IDEM_RACERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&b);

    int original = -1, replays = 0, in_flight = 0;
    for (int i = 0; i < IDEM_RACERS; i++) {
        char *replayed = resp_header(x[i].r, "Idempotent-Replayed");
        if (x[i].r->status == 201 && !replayed) {
            if (original >= 0)
                ck_abort_msg("two answers were not replays: %s and %s", x[original].r->body,
                             x[i].r->body);
            original = i;
        } else if (x[i].r->status == 201) {
            ck_assert_str_eq(replayed, "true");
            replays++;
        } else {
            ck_assert_msg(x[i].r->status == 409, "racer %d: expected 201 or 409, got %ld: %s", i,
                          x[i].r->status, x[i].r->body);
            assert_problem(x[i].r, 409, "conflict");
            in_flight++;
        }
        free(replayed);
    }
    ck_assert_msg(original >= 0, "no original answer among %d replays and %d 409s", replays,
                  in_flight);
    char *loc = resp_header(x[original].r, "Location"), *etag = resp_header(x[original].r, "ETag");
    for (int i = 0; i < IDEM_RACERS; i++) {
        if (i == original || x[i].r->status != 201)
            continue;
        ck_assert_msg(x[i].r->len == x[original].r->len &&
                          !memcmp(x[i].r->body, x[original].r->body, x[i].r->len),
                      "a replay differs from the original:\n%s\n%s", x[i].r->body,
                      x[original].r->body);
        expect_header(x[i].r, "Location", loc);
        expect_header(x[i].r, "ETag", etag);
        expect_header(x[i].r, "Content-Type", "application/json");
    }
    PGconn *pg = pg_test();
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads WHERE ll_fold(email) ="
                                 " 'idem.fifty@example.com'"),
                     1);
    /* a later retry replays byte for byte, and writes nothing */
    struct resp *r = post_idem("/v1/leads", admin_key, body, key);
    expect_status(r, 201, "later retry");
    expect_header(r, "Idempotent-Replayed", "true");
    expect_header(r, "Location", loc);
    ck_assert_msg(r->len == x[original].r->len && !memcmp(r->body, x[original].r->body, r->len),
                  "the later replay differs:\n%s\n%s", r->body, x[original].r->body);
    resp_free(r);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads WHERE ll_fold(email) ="
                                 " 'idem.fifty@example.com'"),
                     1);
    PQfinish(pg);
    free(loc);
    free(etag);
    for (int i = 0; i < IDEM_RACERS; i++)
        resp_free(x[i].r);
}
END_TEST

START_TEST(idempotency_key_replays_refuses_reuse_and_keeps_4xx)
{
    char k1[64], k2[64], k3[64], sales[64];
    snprintf(k1, sizeof k1, "replay-%d", (int)getpid());
    snprintf(k2, sizeof k2, "invalid-%d", (int)getpid());
    snprintf(k3, sizeof k3, "campaign-%d", (int)getpid());
    static const char body[] = "{\"email\":\"idem.one@example.com\"}";
    struct resp *a = post_idem("/v1/leads", admin_key, body, k1);
    expect_status(a, 201, "first");
    char *replayed = resp_header(a, "Idempotent-Replayed");
    ck_assert_msg(replayed == NULL, "the first answer is no replay");
    struct resp *b = post_idem("/v1/leads", admin_key, body, k1);
    expect_status(b, 201, "retry");
    expect_header(b, "Idempotent-Replayed", "true");
    ck_assert_msg(a->len == b->len && !memcmp(a->body, b->body, a->len), "replay differs:\n%s\n%s",
                  a->body, b->body);
    char *la = resp_header(a, "Location"), *ea = resp_header(a, "ETag");
    expect_header(b, "Location", la);
    expect_header(b, "ETag", ea);
    free(la);
    free(ea);
    resp_free(b);

    /* the same key for another request */
    b = post_idem("/v1/leads", admin_key, "{\"email\":\"idem.two@example.com\"}", k1);
    expect_invalid(b, "Idempotency-Key", "same key, other body");
    resp_free(b);
    b = post_idem("/v1/campaigns", admin_key, body, k1);
    expect_invalid(b, "Idempotency-Key", "same key, other path");
    resp_free(b);

    /* keys belong to the API key that used them */
    new_key(admin_key, "sales", sales);
    b = post_idem("/v1/leads", sales, "{\"email\":\"idem.two@example.com\"}", k1);
    expect_status(b, 201, "the same key string under another API key");
    resp_free(b);

    /* a 4xx answer is kept and replayed too, and wrote nothing */
    static const char invalid[] = "{\"email\":\"idem.three@example.com\",\"score\":101}";
    b = post_idem("/v1/leads", admin_key, invalid, k2);
    expect_invalid(b, "score", "invalid with a key");
    struct resp *c = post_idem("/v1/leads", admin_key, invalid, k2);
    ck_assert_msg(c->status == 422, "replayed 422: got %ld", c->status);
    expect_header(c, "Idempotent-Replayed", "true");
    expect_header(c, "Content-Type", "application/problem+json");
    ck_assert_msg(b->len == c->len && !memcmp(b->body, c->body, b->len),
                  "replayed 422 differs:\n%s\n%s", b->body, c->body);
    resp_free(b);
    resp_free(c);
    PGconn *pg = pg_test();
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads WHERE email LIKE 'idem.three%'"), 0);

    /* campaigns and transitions honour it as well */
    b = post_idem("/v1/campaigns", admin_key, "{\"name\":\"Once\",\"channel\":\"email\"}", k3);
    expect_status(b, 201, "campaign");
    c = post_idem("/v1/campaigns", admin_key, "{\"name\":\"Once\",\"channel\":\"email\"}", k3);
    expect_status(c, 201, "campaign retry");
    ck_assert_str_eq(jstr(c, "id"), jstr(b, "id"));
    expect_header(c, "Idempotent-Replayed", "true");
    resp_free(b);
    resp_free(c);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM campaigns WHERE name = 'Once'"), 1);
    char path[128], k4[64];
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", jstr(a, "id"));
    snprintf(k4, sizeof k4, "move-%d", (int)getpid());
    b = post_idem(path, admin_key, "{\"to\":\"mql\"}", k4);
    expect_status(b, 201, "transition");
    c = post_idem(path, admin_key, "{\"to\":\"mql\"}", k4);
    expect_status(c, 201, "transition retry (a second move would be 409)");
    expect_header(c, "Idempotent-Replayed", "true");
    ck_assert_msg(b->len == c->len && !memcmp(b->body, c->body, b->len),
                  "replayed transition differs");
    resp_free(b);
    resp_free(c);
    char *n = pg_value_p(pg, "SELECT count(*) FROM lead_stage_changes WHERE lead_id = $1::uuid",
                         jstr(a, "id"));
    ck_assert_str_eq(n, "2");
    free(n);
    PQfinish(pg);

    char longkey[300];
    memset(longkey, 'k', 256);
    longkey[256] = '\0';
    b = post_idem("/v1/leads", admin_key, "{\"email\":\"idem.long@example.com\"}", longkey);
    assert_problem(b, 400, "malformed-request");
    ck_assert_msg(problem_names(b, "Idempotency-Key"), "names the header: %s", b->body);
    resp_free(b);
    resp_free(a);
}
END_TEST

/* ------------------------------------------------------------------ workspaces */

/* Sends the same request for their id and a random one in path (prefix, id, suffix);
 * both must be the same 404. */

/* Regressions of bugs the first tests found. */
START_TEST(regressions_of_the_first_review)
{
    char ws_key[64], c_id[40], path[128], l_id[40];
    ck_assert(workspace_key("core-regressions", "admin", ws_key));

    /* an empty campaign patch answers the campaign unchanged */
    create("/v1/campaigns", ws_key, "{\"name\":\"Élan Été\",\"channel\":\"event\"}", c_id);
    snprintf(path, sizeof path, "/v1/campaigns/%s", c_id);
    struct resp *r = patch(path, ws_key, "{}", NULL);
    expect_status(r, 200, "PATCH {}");
    ck_assert_int_eq(jint(r, "version"), 1);
    resp_free(r);

    /* campaign q folds case for any script, as lead search does */
    r = get("/v1/campaigns?q=%C3%A9lan", ws_key);
    expect_status(r, 200, "q=élan");
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 1);
    resp_free(r);

    /* names of 200 four-byte characters still page */
    char name[1000] = "", body[1200];
    for (int i = 0; i < 200; i++)
        strcat(name, "\xF0\x9F\x98\x80");
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"channel\":\"other\"}", name);
        create("/v1/campaigns", ws_key, body, c_id);
    }
    r = get("/v1/campaigns?sort=-name&limit=1", ws_key);
    expect_status(r, 200, "sort=-name");
    ck_assert_msg(json_is_string(json_object_get(r->json, "next_cursor")),
                  "a long name must still give a cursor: %s", r->body);
    char *link = resp_header(r, "Link");
    ck_assert_msg(link != NULL, "and a Link header");
    free(link);
    char next[2600];
    snprintf(next, sizeof next, "/v1/campaigns?sort=-name&limit=1&cursor=%s",
             jstr(r, "next_cursor"));
    resp_free(r);
    r = get(next, ws_key);
    expect_status(r, 200, "the next page");
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 1);
    resp_free(r);

    /* a forged cursor whose value does not fit its sort is a bad parameter */
    r = get("/v1/campaigns?sort=starts_on&cursor="
            "c3RhcnRzX29ufG5vdGFkYXRlfDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA",
            ws_key);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);

    /* consent without email_opt_in cannot be made by a patch; captured_at is normalised */
    create("/v1/leads", ws_key, "{\"email\":\"consent@example.com\"}", l_id);
    snprintf(path, sizeof path, "/v1/leads/%s", l_id);
    r = patch(path, ws_key, "{\"consent\":{\"how\":\"form\"}}", NULL);
    expect_invalid(r, "consent.email_opt_in", "consent without email_opt_in");
    resp_free(r);
    r = patch(path, ws_key,
              "{\"consent\":{\"email_opt_in\":true,\"captured_at\":\"2026-01-02T03:04:05+02:00\"}}",
              NULL);
    expect_status(r, 200, "consent with a local time");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r->json, "consent"), "captured_at")),
        "2026-01-02T01:04:05.000000Z");
    resp_free(r);

    /* campaign_id on a PUT that updates is refused, not ignored */
    r = put("/v1/leads/by-email/consent@example.com", ws_key,
            "{\"campaign_id\":\"7d3f6a52-1c1e-4c55-9a8e-3b0c6d2f9e11\"}", NULL);
    expect_invalid(r, "campaign_id", "campaign_id on update");
    resp_free(r);
}
END_TEST

/* Headers that steer a write, given badly. */
START_TEST(bad_idempotency_keys_and_if_match_tags)
{
    char id[40], path[96], longkey[300];
    create("/v1/leads", admin_key, "{\"email\":\"headers@example.com\"}", id);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    memset(longkey, 'k', 256);
    longkey[256] = '\0';
    const char *bad_keys[] = {longkey, "has space", "t\xC3\xA9"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        struct resp *r =
            post_idem("/v1/leads", admin_key, "{\"email\":\"idem.bad@example.com\"}", bad_keys[i]);
        assert_problem(r, 400, "malformed-request");
        ck_assert_msg(problem_names(r, "Idempotency-Key"), "names the header: %s", r->body);
        resp_free(r);
    }
    struct resp *r = get("/v1/leads?q=idem.bad", admin_key);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 0);
    resp_free(r);
    /* a weak or foreign tag never matches; "*" always does */
    const char *never[] = {"W/\"1\"", "\"one\"", "1"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        r = patch(path, admin_key, "{\"title\":\"x\"}", never[i]);
        assert_problem(r, 412, "precondition-failed");
        resp_free(r);
    }
    r = patch(path, admin_key, "{\"title\":\"x\"}", "*");
    expect_status(r, 200, "If-Match: *");
    resp_free(r);
}
END_TEST

static void same_404(const char *method, const char *prefix, const char *theirs, const char *suffix,
                     const char *body, const char *if_match)
{
    char a[256], b[256];
    snprintf(a, sizeof a, "%s%s%s", prefix, theirs, suffix);
    snprintf(b, sizeof b, "%s%s%s", prefix, random_id, suffix);
    struct resp *ra =
        send_json(method, a, admin_key, body, body ? strlen(body) : 0, if_match, NULL);
    struct resp *rb =
        send_json(method, b, admin_key, body, body ? strlen(body) : 0, if_match, NULL);
    ck_assert_msg(ra->status == 404, "%s %s (another workspace's id): expected 404, got %ld: %s",
                  method, a, ra->status, ra->body);
    assert_problem(ra, 404, "not-found");
    assert_problem(rb, 404, "not-found");
    json_object_del(ra->json, "request_id");
    json_object_del(rb->json, "request_id");
    ck_assert_msg(json_equal(ra->json, rb->json), "%s %s: their id answers %s, a random id %s",
                  method, a, js(ra->json), js(rb->json));
    resp_free(ra);
    resp_free(rb);
}

static json_t *snapshot(const char *path)
{
    struct resp *r = get(path, other_admin_key);
    expect_status(r, 200, path);
    json_t *j = json_incref(r->json);
    resp_free(r);
    return j;
}

START_TEST(another_workspaces_ids_are_not_found_anywhere)
{
    char camp[40], lead[40], cpath[96], lpath[96], hpath[128], tpath[128];
    create("/v1/campaigns", other_admin_key, "{\"name\":\"Not yours\",\"channel\":\"email\"}",
           camp);
    char body[256];
    snprintf(body, sizeof body,
             "{\"email\":\"theirs@shared.example\",\"first_name\":\"Theirs\","
             "\"external_ids\":{\"crm\":\"THEIRS-1\"},\"campaign_id\":\"%s\"}",
             camp);
    create("/v1/leads", other_admin_key, body, lead);
    snprintf(cpath, sizeof cpath, "/v1/campaigns/%s", camp);
    snprintf(lpath, sizeof lpath, "/v1/leads/%s", lead);
    snprintf(hpath, sizeof hpath, "%s/history", lpath);
    snprintf(tpath, sizeof tpath, "%s/timeline", lpath);
    json_t *c0 = snapshot(cpath), *l0 = snapshot(lpath), *h0 = snapshot(hpath),
           *t0 = snapshot(tpath);

    same_404("GET", "/v1/campaigns/", camp, "", NULL, NULL);
    same_404("PATCH", "/v1/campaigns/", camp, "", "{\"name\":\"Hijacked\"}", NULL);
    same_404("PATCH", "/v1/campaigns/", camp, "", "{\"name\":\"Hijacked\"}", "\"1\"");
    same_404("DELETE", "/v1/campaigns/", camp, "", NULL, NULL);
    same_404("DELETE", "/v1/campaigns/", camp, "", NULL, "\"1\"");
    same_404("GET", "/v1/leads/", lead, "", NULL, NULL);
    same_404("PATCH", "/v1/leads/", lead, "", "{\"first_name\":\"Hijacked\"}", NULL);
    same_404("PATCH", "/v1/leads/", lead, "", "{\"first_name\":\"Hijacked\"}", "\"1\"");
    same_404("PATCH", "/v1/leads/", lead, "", "{}", NULL);
    same_404("DELETE", "/v1/leads/", lead, "", NULL, NULL);
    same_404("DELETE", "/v1/leads/", lead, "", NULL, "\"1\"");
    same_404("POST", "/v1/leads/", lead, "/transitions", "{\"to\":\"mql\"}", NULL);
    same_404("POST", "/v1/leads/", lead, "/transitions", "{\"to\":\"mql\"}", "\"1\"");
    same_404("GET", "/v1/leads/", lead, "/history", NULL, NULL);
    same_404("GET", "/v1/leads/", lead, "/timeline", NULL, NULL);
    same_404("GET", "/v1/leads/", lead, "/touches", NULL, NULL);
    same_404("GET", "/v1/leads/", lead, "/feedback", NULL, NULL);
    same_404("POST", "/v1/leads/", lead, "/feedback", "{\"kind\":\"contacted\"}", NULL);
    same_404("GET", "/v1/campaigns/", camp, "/members", NULL, NULL);
    same_404("POST", "/v1/campaigns/", camp, "/touches",
             "{\"email\":\"nobody@example.com\",\"kind\":\"sent\"}", NULL);
    {
        /* a touch in our own campaign naming their lead: as unknown as a random lead */
        char ours[40], tp[128], mine[160], rand_body[160];
        create("/v1/campaigns", admin_key, "{\"name\":\"Ours\",\"channel\":\"email\"}", ours);
        snprintf(tp, sizeof tp, "/v1/campaigns/%s/touches", ours);
        snprintf(mine, sizeof mine, "{\"lead_id\":\"%s\",\"kind\":\"sent\"}", lead);
        snprintf(rand_body, sizeof rand_body, "{\"lead_id\":\"%s\",\"kind\":\"sent\"}", random_id);
        struct resp *ta = post(tp, admin_key, mine), *tb = post(tp, admin_key, rand_body);
        ck_assert_msg(ta->status == 422 && problem_names(ta, "lead_id"),
                      "their lead in our campaign: %ld %s", ta->status, ta->body);
        json_object_del(ta->json, "request_id");
        json_object_del(tb->json, "request_id");
        ck_assert_msg(json_equal(ta->json, tb->json), "their lead answers %s, a random one %s",
                      js(ta->json), js(tb->json));
        resp_free(ta);
        resp_free(tb);
    }
    same_404("POST", "/v1/campaigns/", camp, "/touches/batch",
             "{\"touches\":[{\"email\":\"nobody@example.com\",\"kind\":\"sent\"}]}", NULL);

    /* upserts find only this workspace's leads: these create new ones */
    struct resp *r = put("/v1/leads/by-email/theirs%40shared.example", admin_key,
                         "{\"first_name\":\"Mine\"}", NULL);
    expect_status(r, 201, "PUT by-email for an email only the other workspace has");
    ck_assert_str_ne(jstr(r, "id"), lead);
    ck_assert_str_eq(jstr(r, "first_name"), "Mine");
    resp_free(r);
    r = put("/v1/leads/by-external-id/crm/THEIRS-1", admin_key,
            "{\"email\":\"mine.ext@shared.example\"}", NULL);
    expect_status(r, 201, "PUT by-external-id for a pair only the other workspace has");
    ck_assert_str_ne(jstr(r, "id"), lead);
    resp_free(r);
    /* and their campaign filters nothing in */
    char q[128], got[256];
    snprintf(q, sizeof q, "/v1/leads?campaign_id=%s", camp);
    collect(admin_key, q, "id", got, sizeof got);
    ck_assert_msg(!strcmp(got, ""), "their campaign lists none of ours: [%s]", got);

    json_t *c1 = snapshot(cpath), *l1 = snapshot(lpath), *h1 = snapshot(hpath),
           *t1 = snapshot(tpath);
    ck_assert_msg(json_equal(c0, c1), "their campaign changed: %s -> %s", js(c0), js(c1));
    ck_assert_msg(json_equal(l0, l1), "their lead changed: %s -> %s", js(l0), js(l1));
    ck_assert_msg(json_equal(h0, h1) && json_equal(t0, t1), "their history or timeline changed");
    json_decref(c0);
    json_decref(c1);
    json_decref(l0);
    json_decref(l1);
    json_decref(h0);
    json_decref(h1);
    json_decref(t0);
    json_decref(t1);
}
END_TEST

Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, campaign_create_get_patch_archive);
    tcase_add_test(tc, campaign_lists_filter_sort_and_page);
    tcase_add_test(tc, campaign_validation_and_roles);
    tcase_add_test(tc, lead_with_every_field_and_its_campaign_touch);
    tcase_add_test(tc, lead_duplicate_emails_conflict_in_any_case_and_script);
    tcase_add_test(tc, lead_patch_merges);
    tcase_add_test(tc, sql_metacharacters_round_trip_verbatim);
    tcase_add_test(tc, lead_search_treats_wildcards_literally);
    tcase_add_test(tc, upsert_by_email);
    tcase_add_test(tc, upsert_by_external_id);
    tcase_add_test(tc, erasure_keeps_history_and_frees_the_email);
    tcase_add_test(tc, lifecycle_moves_history_and_if_match);
    tcase_add_test(tc, paging_sees_every_lead_once_while_others_are_inserted);
    tcase_add_test(tc, concurrent_patches_with_one_if_match_one_wins);
    tcase_add_test(tc, concurrent_upserts_make_one_lead);
    tcase_add_test(tc, idempotency_key_under_concurrency);
    tcase_add_test(tc, idempotency_key_replays_refuses_reuse_and_keeps_4xx);
    tcase_add_test(tc, another_workspaces_ids_are_not_found_anywhere);
    tcase_add_test(tc, regressions_of_the_first_review);
    tcase_add_test(tc, bad_idempotency_keys_and_if_match_tags);
    tcase_add_test(tc, an_answer_that_fills_its_buffer_exactly);
    suite_add_tcase(s, tc);
    return s;
}
