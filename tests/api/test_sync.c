/* Sync: a write that changes nothing is no write, on every path that can write a lead
 * again (PUT by email, PUT by external id, PATCH, batch upsert, CSV import upsert): the
 * lead keeps its version, ETag and updated_at, and gets no history row, no touch, no
 * change-feed item and no audit row. Each path also has a positive control (a real change
 * raises the version and shows in the feed) so that these tests can fail. And the lookups
 * by email and by external id, with ids holding "/", "%", spaces and non-ASCII letters
 * sent percent-encoded (the daemon decodes each path segment once, after routing). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

/* ------------------------------------------------------------------ helpers */

static void expect_status(const struct resp *r, long status, const char *what)
{
    ck_assert_msg(r->status == status, "%s: expected %ld, got %ld: %s", what, status, r->status,
                  r->body);
}

static long jint(const struct resp *r, const char *key)
{
    return (long)json_integer_value(json_object_get(r->json, key));
}

/* Percent-encodes every byte but letters, digits, '-', '_' and '~' ('.' too, so that an
 * id ".." is not a dot-segment that libcurl would remove from the path). */
static void url_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in && o + 4 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '~' || c == '_') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

static struct resp *post_csv(const char *path, const char *csv)
{
    static const char *const h[] = {"Content-Type: text/csv", NULL};
    return req(&main_daemon, "POST", path, admin_key, h, csv, strlen(csv));
}

/* What a no-op must leave as it was: the lead as GET shows it (version, ETag, updated_at,
 * the whole body), its history, touches and timeline, and its audit rows. */
struct lead_state {
    long version;
    char etag[32], updated_at[64];
    char *lead, *history, *touches, *timeline;
    size_t audit;
};

static char *body_of(const char *path)
{
    struct resp *r = get(path, admin_key);
    expect_status(r, 200, path);
    char *b = strdup(r->body);
    resp_free(r);
    return b;
}

static void state_take(const char *id, struct lead_state *s)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    struct resp *r = get(path, admin_key);
    expect_status(r, 200, "GET the lead");
    char *etag = resp_header(r, "ETag");
    ck_assert_ptr_nonnull(etag);
    s->version = jint(r, "version");
    snprintf(s->etag, sizeof s->etag, "%s", etag);
    snprintf(s->updated_at, sizeof s->updated_at, "%s", jstr(r, "updated_at"));
    s->lead = strdup(r->body);
    free(etag);
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/history?limit=500", id);
    s->history = body_of(path);
    snprintf(path, sizeof path, "/v1/leads/%s/touches?limit=500", id);
    s->touches = body_of(path);
    snprintf(path, sizeof path, "/v1/leads/%s/timeline?limit=500", id);
    s->timeline = body_of(path);
    snprintf(path, sizeof path, "/v1/audit?lead_id=%s&limit=500", id);
    r = get(path, admin_key);
    expect_status(r, 200, "GET the lead's audit rows");
    s->audit = json_array_size(json_object_get(r->json, "data"));
    resp_free(r);
}

static void state_free(struct lead_state *s)
{
    free(s->lead);
    free(s->history);
    free(s->touches);
    free(s->timeline);
    memset(s, 0, sizeof *s);
}

/* Asserts the lead is as before, after the no-op `what`. */
static void state_same(const char *id, const struct lead_state *before, const char *what)
{
    struct lead_state now;
    state_take(id, &now);
    ck_assert_msg(now.version == before->version, "%s: version %ld became %ld", what,
                  before->version, now.version);
    ck_assert_msg(!strcmp(now.etag, before->etag), "%s: ETag %s became %s", what, before->etag,
                  now.etag);
    ck_assert_msg(!strcmp(now.updated_at, before->updated_at), "%s: updated_at %s became %s", what,
                  before->updated_at, now.updated_at);
    ck_assert_msg(!strcmp(now.lead, before->lead), "%s: the lead changed:\n%s\nbecame\n%s", what,
                  before->lead, now.lead);
    ck_assert_msg(!strcmp(now.history, before->history), "%s: the history changed:\n%s\nbecame\n%s",
                  what, before->history, now.history);
    ck_assert_msg(!strcmp(now.touches, before->touches), "%s: the touches changed:\n%s\nbecame\n%s",
                  what, before->touches, now.touches);
    ck_assert_msg(!strcmp(now.timeline, before->timeline),
                  "%s: the timeline changed:\n%s\nbecame\n%s", what, before->timeline,
                  now.timeline);
    ck_assert_msg(now.audit == before->audit,
                  "%s: the audit log had %zu rows about the lead, now %zu", what, before->audit,
                  now.audit);
    state_free(&now);
}

/* The feed's frontier (GET /v1/changes?after=now): a cursor after every change so far. */
static void feed_now(char cursor[128])
{
    struct resp *r = get("/v1/changes?after=now", admin_key);
    expect_status(r, 200, "GET /v1/changes?after=now");
    snprintf(cursor, 128, "%s", jstr(r, "next_cursor"));
    ck_assert_msg(cursor[0], "no next_cursor: %s", r->body);
    resp_free(r);
}

/* True when a change item is about the lead: the lead itself, or its touch or feedback. */
static bool about(json_t *item, const char *id)
{
    const char *eid = json_string_value(json_object_get(item, "entity_id"));
    const char *lid = json_string_value(json_object_get(json_object_get(item, "data"), "lead_id"));
    return (eid && !strcmp(eid, id)) || (lid && !strcmp(lid, id));
}

/* The items about the lead after cursor (a new array). With until_version > 0, follows the
 * feed (long polls of up to 2 s, 20 s in all) until an item about the lead shows that
 * version; else reads what the feed serves now. */
static json_t *feed_about(const char *cursor, const char *id, long until_version)
{
    json_t *found = json_array();
    char cur[128], path[256];
    snprintf(cur, sizeof cur, "%s", cursor);
    for (int round = 0; round < 40; round++) {
        snprintf(path, sizeof path, "/v1/changes?after=%s&limit=1000%s", cur,
                 until_version > 0 ? "&wait=2" : "");
        struct resp *r = get(path, admin_key);
        expect_status(r, 200, path);
        json_t *data = json_object_get(r->json, "data"), *item;
        size_t i;
        bool reached = false;
        json_array_foreach(data, i, item)
        {
            if (!about(item, id))
                continue;
            json_array_append(found, item);
            json_t *v = json_object_get(json_object_get(item, "data"), "version");
            reached = reached || (until_version > 0 && json_integer_value(v) >= until_version);
        }
        bool more = json_is_true(json_object_get(r->json, "has_more"));
        snprintf(cur, sizeof cur, "%s", jstr(r, "next_cursor"));
        resp_free(r);
        if (reached || (until_version <= 0 && !more))
            break;
    }
    return found;
}

/* After a no-op, the feed has nothing about the lead: now, and also once the positive
 * control that follows it shows (the feed's order puts anything the no-op wrote before
 * the control's change, so a late item cannot hide). */
static void feed_silent_now(const char *cursor, const char *id, const char *what)
{
    json_t *items = feed_about(cursor, id, 0);
    char *text = json_dumps(items, JSON_COMPACT);
    ck_assert_msg(json_array_size(items) == 0, "%s: the feed has items about the lead: %s", what,
                  text);
    free(text);
    json_decref(items);
}

/* The positive control's check: after cursor (taken before the no-op), the one item about
 * the lead is the control's change, a lead.updated at version `version`. */
static void feed_only_control(const char *cursor, const char *id, long version, const char *what)
{
    json_t *items = feed_about(cursor, id, version);
    char *text = json_dumps(items, JSON_COMPACT);
    json_t *only = json_array_get(items, 0);
    ck_assert_msg(json_array_size(items) == 1, "%s: expected the control's change alone, got %s",
                  what, text);
    ck_assert_msg(!strcmp(json_string_value(json_object_get(only, "type")), "lead.updated") &&
                      json_integer_value(
                          json_object_get(json_object_get(only, "data"), "version")) == version,
                  "%s: expected lead.updated at version %ld, got %s", what, version, text);
    free(text);
    json_decref(items);
}

static void new_campaign(char id[40])
{
    struct resp *r = post("/v1/campaigns", admin_key, "{\"name\":\"Sync\",\"channel\":\"email\"}");
    expect_status(r, 201, "campaign");
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

/* ------------------------------------------------------------------ no-op writes */

START_TEST(put_by_email_twice_is_one_write)
{
    static const char body[] =
        "{\"first_name\":\"Sam\",\"company\":\"Acme\",\"score\":40,\"country\":\"PT\","
        "\"custom\":{\"plan\":\"pro\",\"seats\":3},\"external_ids\":{\"crm\":\"SYNC-E-1\"},"
        "\"consent\":{\"email_opt_in\":true,\"captured_at\":\"2026-01-02T03:04:05+01:00\","
        "\"how\":\"form\"}}";
    static const char path[] = "/v1/leads/by-email/sync.email%2Btag%40example.com";
    struct lead_state before;
    char id[40], cursor[128];

    struct resp *r = put(path, admin_key, body, NULL);
    expect_status(r, 201, "PUT by-email creates");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    ck_assert_str_eq(jstr(r, "email"), "sync.email+tag@example.com");
    resp_free(r);

    state_take(id, &before);
    feed_now(cursor);
    r = put(path, admin_key, body, NULL);
    expect_status(r, 200, "the same PUT again");
    ck_assert_int_eq(jint(r, "version"), before.version);
    ck_assert_str_eq(jstr(r, "updated_at"), before.updated_at);
    char *etag = resp_header(r, "ETag");
    ck_assert_msg(etag && !strcmp(etag, before.etag), "ETag: expected %s, got %s", before.etag,
                  etag ? etag : "(none)");
    free(etag);
    resp_free(r);
    /* an empty body, the path in capitals: the stored address keeps its case */
    r = put("/v1/leads/by-email/SYNC.EMAIL%2BTAG%40EXAMPLE.COM", admin_key, "{}", NULL);
    expect_status(r, 200, "PUT {} with the path in capitals");
    ck_assert_str_eq(jstr(r, "email"), "sync.email+tag@example.com");
    ck_assert_int_eq(jint(r, "version"), before.version);
    resp_free(r);
    r = put("/v1/leads/by-email/Sync.Email+Tag@Example.COM", admin_key, body, NULL);
    expect_status(r, 200, "the same PUT with the path in mixed case, '+' and '@' unencoded");
    ck_assert_str_eq(jstr(r, "email"), "sync.email+tag@example.com");
    resp_free(r);
    state_same(id, &before, "PUT by-email with the same data");
    feed_silent_now(cursor, id, "PUT by-email with the same data");

    /* the positive control: a real change */
    r = put(path, admin_key, "{\"title\":\"CTO\"}", NULL);
    expect_status(r, 200, "PUT by-email with a new title");
    ck_assert_int_eq(jint(r, "version"), before.version + 1);
    resp_free(r);
    feed_only_control(cursor, id, before.version + 1, "PUT by-email");
    /* and a body email in another case is a change the client asked for */
    r = put(path, admin_key, "{\"email\":\"Sync.Email+Tag@example.com\"}", NULL);
    expect_status(r, 200, "PUT by-email with the body's email in another case");
    ck_assert_str_eq(jstr(r, "email"), "Sync.Email+Tag@example.com");
    ck_assert_int_eq(jint(r, "version"), before.version + 2);
    resp_free(r);
    state_free(&before);
}
END_TEST

START_TEST(put_by_external_id_twice_is_one_write)
{
    static const char body[] =
        "{\"email\":\"sync.ext@example.com\",\"first_name\":\"Xi\",\"score\":12,"
        "\"custom\":{\"tier\":\"b\"},\"external_ids\":{\"erp\":\"E/77\"},"
        "\"consent\":{\"email_opt_in\":false}}";
    /* the id "SYNC/1 100%" as one segment */
    static const char path[] = "/v1/leads/by-external-id/crm/SYNC%2F1%20100%25";
    struct lead_state before;
    char id[40], cursor[128];

    struct resp *r = put(path, admin_key, body, NULL);
    expect_status(r, 201, "PUT by-external-id creates");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r->json, "external_ids"), "crm")),
        "SYNC/1 100%");
    resp_free(r);

    state_take(id, &before);
    feed_now(cursor);
    r = put(path, admin_key, body, NULL);
    expect_status(r, 200, "the same PUT again");
    ck_assert_str_eq(jstr(r, "id"), id);
    ck_assert_int_eq(jint(r, "version"), before.version);
    ck_assert_str_eq(jstr(r, "updated_at"), before.updated_at);
    resp_free(r);
    r = put(path, admin_key, "{}", NULL);
    expect_status(r, 200, "PUT {}");
    ck_assert_int_eq(jint(r, "version"), before.version);
    resp_free(r);
    r = put(path, admin_key, "{\"external_ids\":{\"crm\":\"SYNC/1 100%\",\"erp\":\"E/77\"}}",
            before.etag);
    expect_status(r, 200, "PUT of the ids it holds, with If-Match");
    ck_assert_int_eq(jint(r, "version"), before.version);
    resp_free(r);
    state_same(id, &before, "PUT by-external-id with the same data");
    feed_silent_now(cursor, id, "PUT by-external-id with the same data");
    PGconn *pg = pg_test();
    char *pairs = pg_value_p(pg,
                             "SELECT string_agg(system || '=' || external_id, ',' ORDER BY system)"
                             " FROM lead_external_ids WHERE lead_id = $1::uuid",
                             id);
    ck_assert_str_eq(pairs, "crm=SYNC/1 100%,erp=E/77");
    free(pairs);
    PQfinish(pg);

    r = put(path, admin_key, "{\"score\":13}", NULL);
    expect_status(r, 200, "PUT by-external-id with a new score");
    ck_assert_int_eq(jint(r, "version"), before.version + 1);
    resp_free(r);
    feed_only_control(cursor, id, before.version + 1, "PUT by-external-id");
    state_free(&before);
}
END_TEST

START_TEST(patch_with_the_values_it_has_is_no_write)
{
    static const char body[] =
        "{\"first_name\":\"Pat\",\"last_name\":null,\"score\":10,\"phone\":\"+351 1\","
        "\"custom\":{\"k\":\"v\",\"gone\":null},\"external_ids\":{\"crm\":\"SYNC-P-1\"},"
        "\"consent\":{\"email_opt_in\":true,\"how\":\"call\"},\"source\":\"web\"}";
    struct lead_state before;
    char id[40], path[96], cursor[128];

    struct resp *r = post("/v1/leads", admin_key, "{\"email\":\"sync.patch@example.com\"}");
    expect_status(r, 201, "create");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    r = patch(path, admin_key, body, NULL);
    expect_status(r, 200, "the first PATCH");
    ck_assert_int_eq(jint(r, "version"), 2);
    resp_free(r);

    state_take(id, &before);
    feed_now(cursor);
    r = patch(path, admin_key, body, NULL);
    expect_status(r, 200, "the same PATCH again");
    ck_assert_int_eq(jint(r, "version"), 2);
    ck_assert_str_eq(jstr(r, "updated_at"), before.updated_at);
    char *etag = resp_header(r, "ETag");
    ck_assert_msg(etag && !strcmp(etag, "\"2\""), "ETag: expected \"2\", got %s",
                  etag ? etag : "(none)");
    free(etag);
    resp_free(r);
    r = patch(path, admin_key, "{\"email\":\"sync.patch@example.com\"}", "\"2\"");
    expect_status(r, 200, "PATCH of the email it has, with If-Match");
    ck_assert_int_eq(jint(r, "version"), 2);
    resp_free(r);
    r = patch(path, admin_key, "{}", NULL);
    expect_status(r, 200, "PATCH {}");
    resp_free(r);
    state_same(id, &before, "PATCH with the values the lead has");
    feed_silent_now(cursor, id, "PATCH with the values the lead has");

    r = patch(path, admin_key, "{\"score\":11}", NULL);
    expect_status(r, 200, "PATCH with a new score");
    ck_assert_int_eq(jint(r, "version"), 3);
    resp_free(r);
    feed_only_control(cursor, id, 3, "PATCH");
    state_free(&before);
}
END_TEST

START_TEST(batch_upsert_twice_is_one_write)
{
    char camp[40], body[1024], id[40], cursor[128];
    struct lead_state before;
    new_campaign(camp);
    snprintf(body, sizeof body,
             "{\"mode\":\"upsert\",\"leads\":[{\"email\":\"sync.batch@example.com\","
             "\"first_name\":\"Bea\",\"company\":\"Batch Co\",\"campaign_id\":\"%s\","
             "\"custom\":{\"src\":\"list\"},\"external_ids\":{\"crm\":\"SYNC-B-1\"}},"
             "{\"email\":\"sync.batch2@example.com\"}]}",
             camp);

    struct resp *r = post("/v1/leads/batch", admin_key, body);
    expect_status(r, 200, "the first batch");
    json_t *res0 = json_array_get(json_object_get(r->json, "results"), 0);
    ck_assert_msg(json_integer_value(json_object_get(res0, "status")) == 201, "created: %s",
                  r->body);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(res0, "id")));
    resp_free(r);

    state_take(id, &before);
    ck_assert_msg(strstr(before.touches, "\"created\""), "the created touch: %s", before.touches);
    feed_now(cursor);
    r = post("/v1/leads/batch", admin_key, body);
    expect_status(r, 200, "the same batch again");
    res0 = json_array_get(json_object_get(r->json, "results"), 0);
    ck_assert_msg(json_integer_value(json_object_get(res0, "status")) == 200 &&
                      !strcmp(json_string_value(json_object_get(res0, "id")), id),
                  "item 0: expected 200 with the lead's id, got %s", r->body);
    ck_assert_int_eq(jint(r, "updated"), 2);
    ck_assert_int_eq(jint(r, "created"), 0);
    resp_free(r);
    state_same(id, &before, "batch upsert with the same data");
    feed_silent_now(cursor, id, "batch upsert with the same data");

    r = post("/v1/leads/batch", admin_key,
             "{\"mode\":\"upsert\",\"leads\":[{\"email\":\"sync.batch@example.com\","
             "\"company\":\"Batch Co 2\"}]}");
    expect_status(r, 200, "a batch with a new company");
    resp_free(r);
    feed_only_control(cursor, id, before.version + 1, "batch upsert");
    state_free(&before);
}
END_TEST

START_TEST(import_upsert_twice_is_one_write)
{
    char camp[40], csv[512], id[40], cursor[128];
    struct lead_state before;
    new_campaign(camp);
    snprintf(csv, sizeof csv,
             "email,first_name,company,score,campaign_id,plan\r\n"
             "sync.csv@example.com,Cee,Csv Co,33,%s,gold\r\n"
             "sync.csv2@example.com,,,,,\r\n",
             camp);

    struct resp *r = post_csv("/v1/leads/import", csv);
    expect_status(r, 200, "the first import");
    ck_assert_msg(jint(r, "created") == 2, "created 2: %s", r->body);
    resp_free(r);
    PGconn *pg = pg_test();
    char *got = pg_value(pg, "SELECT id FROM leads WHERE email = 'sync.csv@example.com'");
    snprintf(id, sizeof id, "%s", got);
    free(got);
    PQfinish(pg);

    state_take(id, &before);
    feed_now(cursor);
    r = post_csv("/v1/leads/import", csv);
    expect_status(r, 200, "the same import again");
    ck_assert_msg(jint(r, "updated") == 2 && jint(r, "created") == 0 && jint(r, "rejected") == 0,
                  "updated 2: %s", r->body);
    resp_free(r);
    r = post_csv("/v1/leads/import?mode=upsert", "email,company,source\r\n"
                                                 "sync.csv@example.com,Csv Co,import\r\n");
    expect_status(r, 200, "an import of cells it has, with its source");
    ck_assert_msg(jint(r, "updated") == 1, "updated 1: %s", r->body);
    resp_free(r);
    state_same(id, &before, "import upsert with the same data");
    feed_silent_now(cursor, id, "import upsert with the same data");

    r = post_csv("/v1/leads/import", "email,company\r\nsync.csv@example.com,Csv Co 2\r\n");
    expect_status(r, 200, "an import with a new company");
    resp_free(r);
    feed_only_control(cursor, id, before.version + 1, "import upsert");
    state_free(&before);
}
END_TEST

/* ------------------------------------------------------------------ lookups */

/* GETs path and requires the lead id there, answered as GET /v1/leads/{id} answers it. */
static void expect_lookup(const char *path, const char *key, const char *id)
{
    char by_id[96];
    snprintf(by_id, sizeof by_id, "/v1/leads/%s", id);
    struct resp *r = get(path, key), *g = get(by_id, key);
    expect_status(r, 200, path);
    expect_status(g, 200, by_id);
    ck_assert_msg(!strcmp(r->body, g->body), "%s: expected the body of %s:\n%s\ngot\n%s", path,
                  by_id, g->body, r->body);
    char *e1 = resp_header(r, "ETag"), *e2 = resp_header(g, "ETag");
    ck_assert_msg(e1 && e2 && !strcmp(e1, e2), "%s: ETag %s, GET by id has %s", path,
                  e1 ? e1 : "(none)", e2 ? e2 : "(none)");
    free(e1);
    free(e2);
    resp_free(r);
    resp_free(g);
}

static void expect_404(const char *method, const char *path, const char *key)
{
    struct resp *r = !strcmp(method, "GET") ? get(path, key) : put(path, key, "{}", NULL);
    ck_assert_msg(r->status == 404, "%s %s: expected 404, got %ld: %s", method, path, r->status,
                  r->body);
    assert_problem(r, 404, "not-found");
    resp_free(r);
}

START_TEST(lookup_by_email)
{
    /* "zoë.sync+a@exämple.com": '+' and non-ASCII letters, each spelling of it */
    static const char enc[] = "zo%C3%AB.sync%2Ba%40ex%C3%A4mple.com";
    char path[256], id[40];

    snprintf(path, sizeof path, "/v1/leads/by-email/%s", enc);
    struct resp *r = put(path, admin_key, "{\"first_name\":\"Zoë\"}", NULL);
    expect_status(r, 201, "PUT by-email with a non-ASCII address");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    ck_assert_str_eq(jstr(r, "email"), "zo\xc3\xab.sync+a@ex\xc3\xa4mple.com");
    resp_free(r);

    expect_lookup(path, admin_key, id);
    expect_lookup(path, readonly_key, id); /* any key */
    expect_lookup("/v1/leads/by-email/ZO%C3%8B.SYNC%2BA%40EX%C3%84MPLE.COM", admin_key, id);
    expect_lookup("/v1/leads/by-email/zo%C3%AB.sync+a@ex%C3%A4mple.com", admin_key, id);
    r = put(path, admin_key, "{\"first_name\":\"Zoë\"}", NULL);
    expect_status(r, 200, "the same PUT again");
    ck_assert_int_eq(jint(r, "version"), 1);
    resp_free(r);

    expect_404("GET", "/v1/leads/by-email/nobody.sync%40example.com", admin_key);
    expect_404("GET", path, other_admin_key); /* another workspace's lead */
    expect_404("GET", "/v1/leads/by-email/not-an-address", admin_key);
    expect_404("GET", "/v1/leads/by-email/%FF%40example.com", admin_key); /* not UTF-8 */
    expect_404("PUT", "/v1/leads/by-email/%FF%40example.com", admin_key);
    expect_404("GET", "/v1/leads/by-email/a%00b%40example.com", admin_key);
    expect_404("GET", "/v1/leads/by-email/50%zz%40example.com", admin_key);
    snprintf(path, sizeof path, "/v1/leads/by-email/%s?expand=1", enc);
    r = get(path, admin_key);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert_msg(problem_names(r, "expand"), "names expand: %s", r->body);
    resp_free(r);

    /* an erasure takes the address with it: it finds no lead any more */
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    r = del(path, admin_key);
    expect_status(r, 204, "erase");
    resp_free(r);
    r = get(path, admin_key);
    assert_problem(r, 410, "gone");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/by-email/%s", enc);
    expect_404("GET", path, admin_key);
}
END_TEST

START_TEST(lookup_by_external_id_of_any_characters)
{
    static char long_id[255 * 3 + 1];
    const char *ids[] = {
        "A/1",
        "50%",
        "%2F", /* the literal three characters, sent %252F */
        "with space",
        "plus+sign",
        "Zo\xc3\xab-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x8e\x89",
        "a/b/c%2Fd e+f?g#h&i=j;k",
        "/",
        "//",
        "..",
        long_id,
    };
    char enc[4096], path[4200], body[128], id[40];

    for (int i = 0; i < 255; i++) /* 255 characters of 3 bytes: 2,295 bytes encoded */
        memcpy(long_id + 3 * i, "\xe6\x97\xa5", 3);
    long_id[255 * 3] = '\0';
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        url_encode(ids[i], enc, sizeof enc);
        snprintf(path, sizeof path, "/v1/leads/by-external-id/crm/%s", enc);
        snprintf(body, sizeof body, "{\"email\":\"sync.xid%zu@example.com\"}", i);
        struct resp *r = put(path, admin_key, body, NULL);
        ck_assert_msg(r->status == 201, "PUT %s: expected 201, got %ld: %s", path, r->status,
                      r->body);
        const char *held =
            json_string_value(json_object_get(json_object_get(r->json, "external_ids"), "crm"));
        ck_assert_msg(held && !strcmp(held, ids[i]), "PUT %s: expected the id '%s', got '%s'", path,
                      ids[i], held ? held : "(none)");
        snprintf(id, sizeof id, "%s", jstr(r, "id"));
        resp_free(r);
        expect_lookup(path, admin_key, id);
        expect_lookup(path, readonly_key, id);
        r = put(path, admin_key, "{}", NULL);
        ck_assert_msg(r->status == 200 && !strcmp(jstr(r, "id"), id) && jint(r, "version") == 1,
                      "PUT %s again: expected 200, the same lead at version 1, got %ld: %s", path,
                      r->status, r->body);
        resp_free(r);
        expect_404("GET", path, other_admin_key);
    }
    /* '+' and '@' need no escape in a path: '+' is a plus sign there */
    expect_404("GET", "/v1/leads/by-external-id/crm/plus%20sign", admin_key);
    struct resp *r = get("/v1/leads/by-external-id/crm/plus+sign", admin_key);
    expect_status(r, 200, "'+' sent as it is");
    resp_free(r);
    /* the id decoded once: "%2F" is not "/" and "A%2F1" is not "A%252F1" */
    r = get("/v1/leads/by-external-id/crm/%252F", admin_key);
    const char *held =
        json_string_value(json_object_get(json_object_get(r->json, "external_ids"), "crm"));
    ck_assert_msg(r->status == 200 && held && !strcmp(held, "%2F"), "%%252F: got %ld %s", r->status,
                  r->body);
    resp_free(r);
    expect_404("GET", "/v1/leads/by-external-id/crm/A%252F1", admin_key);

    /* an unencoded "/" splits the id: no such route */
    expect_404("GET", "/v1/leads/by-external-id/crm/A/1", admin_key);
    expect_404("PUT", "/v1/leads/by-external-id/crm/A/1", admin_key);
    /* malformed escapes, a NUL, a bad system, an id never sent: 404, nothing written */
    PGconn *pg = pg_test();
    long before = pg_long(pg, "SELECT count(*) FROM leads");
    static const char *const bad[] = {"crm/50%", "crm/%zz",   "crm/a%2",     "crm/a%00b",
                                      "CRM/x",   "crm%2Fx/y", "crm/NEVER-1", "crm/%F0%9F%8E"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/v1/leads/by-external-id/%s", bad[i]);
        expect_404("GET", path, admin_key);
        if (strcmp(bad[i], "crm/NEVER-1") != 0) /* PUT there would create, given an email */
            expect_404("PUT", path, admin_key);
    }
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM leads"), before);
    PQfinish(pg);
}
END_TEST

/* Query arguments are still decoded as before: '+' is a space, %2B a plus sign, %252B the
 * literal "%2B"; and a Link header carries them encoded again. */
START_TEST(query_arguments_are_decoded_once)
{
    char id[40], path[256];
    struct resp *r = post("/v1/leads", admin_key,
                          "{\"email\":\"sync.q@example.com\",\"first_name\":\"Qplus+Sign\"}");
    expect_status(r, 201, "create");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    resp_free(r);
    static const struct {
        const char *q;
        bool found;
    } cases[] = {
        {"Qplus%2BSign", true},    {"qplus%2bsign", true},  {"Qplus+Sign", false},
        {"Qplus%252BSign", false}, {"Qplus%20Sign", false}, {"Q%70lus", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "/v1/leads?q=%s", cases[i].q);
        r = get(path, admin_key);
        expect_status(r, 200, path);
        ck_assert_msg((strstr(r->body, id) != NULL) == cases[i].found, "%s: expected %s, got %s",
                      path, cases[i].found ? "the lead" : "no lead", r->body);
        resp_free(r);
    }
    r = get("/v1/leads?q=a%00b", admin_key);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert_msg(problem_names(r, "q"), "names q: %s", r->body);
    resp_free(r);

    /* two leads on two pages; the Link to the second keeps q= as it was meant */
    for (int i = 0; i < 2; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"email\":\"sync.link%d@example.com\",\"company\":\"Zslash/Co %%2F+%d\"}", i, i);
        r = post("/v1/leads", admin_key, body);
        expect_status(r, 201, "create");
        resp_free(r);
    }
    r = get("/v1/leads?q=zslash%2Fco%20%252F%2B&limit=1&sort=created_at", admin_key);
    expect_status(r, 200, "the first page");
    ck_assert_msg(strstr(r->body, "sync.link0@example.com"), "page 1: %s", r->body);
    char *link = resp_header(r, "Link");
    resp_free(r);
    ck_assert_msg(link && link[0] == '<' && strchr(link, '>'), "Link: %s", link ? link : "(none)");
    *strchr(link, '>') = '\0';
    r = get(link + 1, admin_key);
    expect_status(r, 200, link + 1);
    ck_assert_msg(strstr(r->body, "sync.link1@example.com") &&
                      !strstr(r->body, "sync.link0@example.com"),
                  "page 2 (%s): %s", link + 1, r->body);
    resp_free(r);
    free(link);
}
END_TEST

Suite *sync_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *tc = tcase_create("no-op writes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, put_by_email_twice_is_one_write);
    tcase_add_test(tc, put_by_external_id_twice_is_one_write);
    tcase_add_test(tc, patch_with_the_values_it_has_is_no_write);
    tcase_add_test(tc, batch_upsert_twice_is_one_write);
    tcase_add_test(tc, import_upsert_twice_is_one_write);
    suite_add_tcase(s, tc);
    tc = tcase_create("lookups");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, lookup_by_email);
    tcase_add_test(tc, lookup_by_external_id_of_any_characters);
    tcase_add_test(tc, query_arguments_are_decoded_once);
    suite_add_tcase(s, tc);
    return s;
}
