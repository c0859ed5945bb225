/* Interactions (issue 17): calls, emails, meetings and the rest logged on a lead by sales
 * and support tools. One by one and in batches; idempotent by (source, external_id), a
 * resend updating in place; every bad input a precise 4xx naming its field; shown in the
 * lead's timeline in time order; moved by a merge, stripped by an erasure; and the first
 * attempt or contact after the hand-off stops the follow-up clock (report, work list). */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "suites.h"
#include "support.h"

static char admin[64], sales[64], marketing[64], readonly[64], other[64];

static void keys(const char *tag)
{
    char slug[64];
    snprintf(slug, sizeof slug, "interactions-%s-%d", tag, (int)getpid());
    ck_assert(workspace_key(slug, "admin", admin));
    ck_assert(workspace_key(slug, "sales", sales));
    ck_assert(workspace_key(slug, "marketing", marketing));
    ck_assert(workspace_key(slug, "readonly", readonly));
    snprintf(slug, sizeof slug, "interactions-%s-other-%d", tag, (int)getpid());
    ck_assert(workspace_key(slug, "admin", other));
}

static void new_lead(const char *key, const char *email, char id[40])
{
    char body[160];
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    create("/v1/leads", key, body, id);
}

static struct resp *log_on(const char *lead, const char *key, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", lead);
    return post(path, key, body);
}

static long count_rows(const char *sql, const char *param)
{
    PGconn *pg = pg_test();
    char *v = pg_value_p(pg, sql, param);
    long n = atol(v);
    free(v);
    PQfinish(pg);
    return n;
}

START_TEST(a_logged_call_is_answered_listed_and_fetched)
{
    char lead[40], path[160];
    keys("single");
    new_lead(admin, "call.single@example.com", lead);
    struct resp *r =
        log_on(lead, sales,
               "{\"kind\":\"call\",\"direction\":\"outbound\",\"outcome\":\"connected\","
               "\"occurred_at\":\"2026-01-05T09:10:00Z\",\"actor_name\":\"Sam Rivera\","
               "\"subject\":\"Discovery\",\"body\":\"Wants a demo\",\"duration_seconds\":540}");
    expect_status(r, 201, "log a call");
    ck_assert_str_eq(jstr(r, "kind"), "call");
    ck_assert_str_eq(jstr(r, "direction"), "outbound");
    ck_assert_str_eq(jstr(r, "outcome"), "connected");
    ck_assert_str_eq(jstr(r, "lead_id"), lead);
    ck_assert_str_eq(jstr(r, "occurred_at"), "2026-01-05T09:10:00.000000Z");
    ck_assert_int_eq(jint(r, "duration_seconds"), 540);
    ck_assert_int_eq(jint(r, "version"), 1);
    ck_assert(json_is_null(json_object_get(r->json, "source")));
    char id[40];
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", lead);
    expect_header(r, "Location", path);
    snprintf(path, sizeof path, "/v1/interactions/%s", id);
    resp_free(r);

    r = get(path, readonly);
    expect_status(r, 200, "get it");
    ck_assert_str_eq(jstr(r, "subject"), "Discovery");
    resp_free(r);
    r = get(path, other);
    expect_status(r, 404, "another workspace's interaction");
    resp_free(r);

    /* a note needs no direction; the list filters by kind and direction and time */
    r = log_on(lead, marketing,
               "{\"kind\":\"note\",\"body\":\"met at the fair\","
               "\"occurred_at\":\"2026-01-04T12:00:00Z\"}");
    expect_status(r, 201, "a note");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", lead);
    r = get(path, readonly);
    expect_status(r, 200, "list");
    json_t *data = json_object_get(r->json, "data");
    ck_assert_int_eq(json_array_size(data), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(data, 0), "id")), id);
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/interactions?kind=note", lead);
    r = get(path, readonly);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 1);
    resp_free(r);
    snprintf(path, sizeof path,
             "/v1/leads/%s/interactions?direction=outbound&occurred_after=2026-01-05T00:00:00Z"
             "&occurred_before=2026-01-06T00:00:00Z",
             lead);
    r = get(path, readonly);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 1);
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/interactions?kind=fax", lead);
    r = get(path, readonly);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", lead);
    r = get(path, other);
    expect_status(r, 404, "another workspace's lead's list");
    resp_free(r);
}
END_TEST

/* Whether the change feed (of sales' workspace) shows the interaction created and updated,
 * rendered as the API shows it. */
static bool feed_shows_create_and_update(void *arg)
{
    const char *id = arg;
    struct resp *r = get("/v1/changes?types=interaction.*&limit=100", sales);
    bool created = false, updated = false;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r->json, "data"), i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        json_t *data = json_object_get(c, "data");
        if (!type || strcmp(json_string_value(json_object_get(data, "id")), id) ||
            strcmp(json_string_value(json_object_get(c, "entity")), "interaction"))
            continue;
        created |= !strcmp(type, "interaction.created");
        updated |= !strcmp(type, "interaction.updated") &&
                   !strcmp(json_string_value(json_object_get(data, "outcome")), "connected");
    }
    resp_free(r);
    return created && updated;
}

START_TEST(a_resend_by_external_id_updates_in_place_and_never_doubles)
{
    char lead[40], lead2[40], id[40];
    keys("upsert");
    new_lead(admin, "upsert.a@example.com", lead);
    new_lead(admin, "upsert.b@example.com", lead2);
    const char *first = "{\"kind\":\"call\",\"direction\":\"outbound\",\"outcome\":\"no_answer\","
                        "\"occurred_at\":\"2026-02-01T10:00:00Z\",\"source\":\"dialer\","
                        "\"external_id\":\"c-1\"}";
    struct resp *r = log_on(lead, sales, first);
    expect_status(r, 201, "first send");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    resp_free(r);

    r = log_on(lead, sales, first);
    expect_status(r, 200, "the same again");
    ck_assert_str_eq(jstr(r, "id"), id);
    ck_assert_int_eq(jint(r, "version"), 1);
    resp_free(r);

    r = log_on(lead, sales,
               "{\"kind\":\"call\",\"direction\":\"outbound\",\"outcome\":\"connected\","
               "\"duration_seconds\":60,\"source\":\"dialer\",\"external_id\":\"c-1\"}");
    expect_status(r, 200, "an edited resend");
    ck_assert_str_eq(jstr(r, "id"), id);
    ck_assert_str_eq(jstr(r, "outcome"), "connected");
    ck_assert_int_eq(jint(r, "version"), 2);
    /* occurred_at left out keeps the stored time */
    ck_assert_str_eq(jstr(r, "occurred_at"), "2026-02-01T10:00:00.000000Z");
    resp_free(r);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM interactions WHERE lead_id = $1", lead), 1);
    ck_assert_msg(wait_until(feed_shows_create_and_update, id, 5000),
                  "the change feed shows the interaction created and updated");

    /* the same tool's id on another lead is a conflict naming it */
    r = log_on(lead2, sales, first);
    expect_status(r, 409, "the id on another lead");
    ck_assert(problem_names(r, "external_id"));
    ck_assert_str_eq(jstr(r, "existing_id"), id);
    resp_free(r);
    /* another source may use the same external id */
    r = log_on(lead2, sales,
               "{\"kind\":\"email\",\"direction\":\"inbound\",\"source\":\"mailer\","
               "\"external_id\":\"c-1\"}");
    expect_status(r, 201, "same id, another source");
    resp_free(r);

    /* Idempotency-Key: a replay without an external id creates nothing either */
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", lead);
    r = post_idem(path, sales, "{\"kind\":\"note\",\"subject\":\"once\"}", "inter-idem-1");
    expect_status(r, 201, "with a key");
    resp_free(r);
    r = post_idem(path, sales, "{\"kind\":\"note\",\"subject\":\"once\"}", "inter-idem-1");
    expect_status(r, 201, "replayed");
    expect_header(r, "Idempotent-Replayed", "true");
    resp_free(r);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM interactions WHERE lead_id = $1"
                                " AND subject = 'once'",
                                lead),
                     1);
}
END_TEST

START_TEST(every_bad_input_names_its_field)
{
    char lead[40], path[128];
    keys("bad");
    new_lead(admin, "bad.input@example.com", lead);
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"kind\":\"fax\",\"direction\":\"inbound\"}", "kind"},
        {"{\"direction\":\"inbound\"}", "kind"},
        {"{\"kind\":\"call\",\"direction\":\"inbound\",\"outcome\":\"great\"}", "outcome"},
        {"{\"kind\":\"call\"}", "direction"},
        {"{\"kind\":\"email\",\"direction\":null}", "direction"},
        {"{\"kind\":\"meeting\",\"direction\":\"sideways\"}", "direction"},
        {"{\"kind\":\"note\",\"occurred_at\":\"2999-01-01T00:00:00Z\"}", "occurred_at"},
        {"{\"kind\":\"note\",\"occurred_at\":\"yesterday\"}", "occurred_at"},
        {"{\"kind\":\"note\",\"colour\":\"red\"}", "colour"},
        {"{\"kind\":\"note\",\"id\":\"x\"}", "id"},
        {"{\"kind\":\"note\",\"lead_id\":\"x\"}", "lead_id"},
        {"{\"kind\":\"note\",\"duration_seconds\":-1}", "duration_seconds"},
        {"{\"kind\":\"note\",\"external_id\":\"x-1\"}", "source"},
        {"{\"kind\":\"note\",\"source\":\"Bad Tool\",\"external_id\":\"x-1\"}", "source"},
        {"{\"kind\":\"note\",\"user_id\":\"00000000-0000-4000-8000-000000000001\"}", "user_id"},
        {"{\"kind\":\"note\",\"campaign_id\":\"00000000-0000-4000-8000-000000000001\"}",
         "campaign_id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct resp *r = log_on(lead, sales, bad[i].body);
        char what[200];
        snprintf(what, sizeof what, "bad input %zu (%s)", i, bad[i].body);
        ck_assert_msg(r->status == 422 || r->status == 400, "%s: %ld %s", what, r->status, r->body);
        ck_assert_msg(problem_names(r, bad[i].field), "%s: should name %s: %s", what, bad[i].field,
                      r->body);
        resp_free(r);
    }
    /* a subject over 200 characters */
    char body[512] = "{\"kind\":\"note\",\"subject\":\"";
    size_t n = strlen(body);
    memset(body + n, 's', 201);
    strcpy(body + n + 201, "\"}");
    struct resp *r = log_on(lead, sales, body);
    expect_invalid(r, "subject", "a long subject");
    resp_free(r);
    /* a small clock skew is fine */
    char skew[160];
    PGconn *pg = pg_test();
    char *soon = pg_value(pg, "SELECT to_char(now() AT TIME ZONE 'UTC' + interval '2 minutes',"
                              " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
    PQfinish(pg);
    snprintf(skew, sizeof skew, "{\"kind\":\"note\",\"occurred_at\":\"%s\"}", soon);
    free(soon);
    r = log_on(lead, sales, skew);
    expect_status(r, 201, "two minutes ahead");
    resp_free(r);

    /* another workspace's lead, an unknown lead, roles */
    r = log_on(lead, other, "{\"kind\":\"note\"}");
    expect_status(r, 404, "another workspace's lead");
    resp_free(r);
    r = log_on("00000000-0000-4000-8000-000000000001", sales, "{\"kind\":\"note\"}");
    expect_status(r, 404, "an unknown lead");
    resp_free(r);
    r = log_on(lead, readonly, "{\"kind\":\"note\"}");
    expect_status(r, 403, "a readonly key");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", lead);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM interactions WHERE lead_id = $1", lead), 1);
}
END_TEST

START_TEST(a_batch_answers_each_item_and_a_retry_doubles_nothing)
{
    char lead[40], gone[40], body[4096], path[128];
    keys("batch");
    new_lead(admin, "batch.one@example.com", lead);
    new_lead(admin, "batch.gone@example.com", gone);
    snprintf(path, sizeof path, "/v1/leads/%s", gone);
    struct resp *r = del(path, admin);
    expect_status(r, 204, "erase");
    resp_free(r);
    snprintf(
        body, sizeof body,
        "{\"items\":["
        /* 0 by id */
        "{\"lead_id\":\"%s\",\"kind\":\"call\",\"direction\":\"outbound\","
        "\"source\":\"dialer\",\"external_id\":\"b-1\",\"occurred_at\":\"2026-03-01T09:00:00Z\"},"
        /* 1 by email, in another case */
        "{\"lead_email\":\"Batch.One@Example.com\",\"kind\":\"email\",\"direction\":\"inbound\","
        "\"source\":\"dialer\",\"external_id\":\"b-2\"},"
        /* 2 no direction */
        "{\"lead_id\":\"%s\",\"kind\":\"meeting\",\"source\":\"dialer\",\"external_id\":\"b-3\"},"
        /* 3 unknown email */
        "{\"lead_email\":\"nobody@example.net\",\"kind\":\"note\"},"
        /* 4 not an object */
        "7,"
        /* 5 an erased lead */
        "{\"lead_id\":\"%s\",\"kind\":\"note\"},"
        /* 6 unknown field */
        "{\"lead_id\":\"%s\",\"kind\":\"note\",\"mood\":\"happy\"},"
        /* 7 another workspace's lead: unknown here */
        "{\"lead_id\":\"00000000-0000-4000-8000-000000000002\",\"kind\":\"note\"},"
        /* 8 neither lead_id nor lead_email */
        "{\"kind\":\"note\"}"
        "]}",
        lead, lead, gone, lead);
    r = post("/v1/interactions/batch", marketing, body);
    expect_status(r, 200, "a mixed batch");
    json_t *res = json_object_get(r->json, "results");
    ck_assert_int_eq(json_array_size(res), 9);
    static const long want[] = {201, 201, 422, 422, 422, 410, 422, 422, 422};
    static const char *const field[] = {NULL, NULL,   "direction", "lead_email", "items[]",
                                        NULL, "mood", "lead_id",   "lead_id"};
    for (size_t i = 0; i < 9; i++) {
        json_t *it = json_array_get(res, i);
        ck_assert_msg(json_integer_value(json_object_get(it, "status")) == want[i], "item %zu: %s",
                      i, r->body);
        ck_assert_int_eq(json_integer_value(json_object_get(it, "index")), (long)i);
        if (field[i]) {
            json_t *errors = json_object_get(json_object_get(it, "problem"), "errors");
            const char *f = json_string_value(json_object_get(json_array_get(errors, 0), "field"));
            ck_assert_msg(f && !strcmp(f, field[i]), "item %zu names %s: %s", i, field[i], r->body);
        }
    }
    ck_assert_int_eq(jint(r, "created"), 2);
    ck_assert_int_eq(jint(r, "existing"), 0);
    ck_assert_int_eq(jint(r, "failed"), 7);
    resp_free(r);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM interactions WHERE lead_id = $1", lead), 2);

    /* the retry: the same items again, nothing doubled, the logged ones answer 200 */
    r = post("/v1/interactions/batch", marketing, body);
    expect_status(r, 200, "the retry");
    ck_assert_int_eq(jint(r, "created"), 0);
    ck_assert_int_eq(jint(r, "existing"), 2);
    ck_assert_int_eq(jint(r, "failed"), 7);
    resp_free(r);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM interactions WHERE lead_id = $1", lead), 2);

    /* not a batch */
    r = post("/v1/interactions/batch", marketing, "{\"items\":[]}");
    expect_invalid(r, "items", "an empty batch");
    resp_free(r);
    r = post("/v1/interactions/batch", marketing, "{\"interactions\":[]}");
    ck_assert_int_eq(r->status, 422);
    ck_assert(problem_names(r, "interactions"));
    resp_free(r);
    r = post("/v1/interactions/batch", readonly, "{\"items\":[{\"kind\":\"note\"}]}");
    expect_status(r, 403, "readonly batch");
    resp_free(r);
}
END_TEST

/* The batch's one statement and its fall-back to one item at a time (an unknown campaign,
 * an external id twice) answer alike; a resend keeps the stored time when it sends none;
 * an external id of another lead is a conflict naming the holder. */
START_TEST(a_batch_answers_alike_in_one_statement_or_item_by_item)
{
    char a[40], b[40], body[2048], first[40];
    keys("paths");
    new_lead(admin, "paths.a@example.com", a);
    new_lead(admin, "paths.b@example.com", b);
    snprintf(
        body, sizeof body,
        "{\"items\":[{\"lead_id\":\"%s\",\"kind\":\"call\",\"direction\":\"outbound\","
        "\"occurred_at\":\"2026-04-01T10:00:00Z\",\"source\":\"tool\",\"external_id\":\"p-1\"}]}",
        a);
    struct resp *r = post("/v1/interactions/batch", sales, body);
    expect_status(r, 200, "one item");
    json_t *res = json_object_get(r->json, "results");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(res, 0), "status")), 201);
    snprintf(first, sizeof first, "%s",
             json_string_value(json_object_get(json_array_get(res, 0), "id")));
    resp_free(r);

    /* one statement: the resend without a time (updated, its time kept), the id on
     * another lead (409), a new one */
    snprintf(body, sizeof body,
             "{\"items\":[{\"lead_id\":\"%s\",\"kind\":\"call\",\"direction\":\"outbound\","
             "\"outcome\":\"busy\",\"source\":\"tool\",\"external_id\":\"p-1\"},"
             "{\"lead_id\":\"%s\",\"kind\":\"call\",\"direction\":\"outbound\","
             "\"source\":\"tool\",\"external_id\":\"p-1\"},"
             "{\"lead_email\":\"paths.b@example.com\",\"kind\":\"note\"}]}",
             a, b);
    r = post("/v1/interactions/batch", sales, body);
    expect_status(r, 200, "one statement");
    res = json_object_get(r->json, "results");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(res, 0), "status")), 200);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 0), "id")), first);
    json_t *p1 = json_object_get(json_array_get(res, 1), "problem");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(res, 1), "status")), 409);
    ck_assert_str_eq(json_string_value(json_object_get(p1, "existing_id")), first);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(res, 2), "status")), 201);
    resp_free(r);
    char path[128];
    snprintf(path, sizeof path, "/v1/interactions/%s", first);
    r = get(path, readonly);
    ck_assert_str_eq(jstr(r, "outcome"), "busy");
    ck_assert_str_eq(jstr(r, "occurred_at"), "2026-04-01T10:00:00.000000Z");
    ck_assert_int_eq(jint(r, "version"), 2);
    resp_free(r);

    /* item by item: an unknown campaign fails its item alone; the same external id twice
     * in one batch is written twice in order (created, then updated) */
    snprintf(body, sizeof body,
             "{\"items\":[{\"lead_id\":\"%s\",\"kind\":\"note\","
             "\"campaign_id\":\"00000000-0000-4000-8000-000000000003\"},"
             "{\"lead_id\":\"%s\",\"kind\":\"email\",\"direction\":\"inbound\","
             "\"source\":\"tool\",\"external_id\":\"p-2\"},"
             "{\"lead_id\":\"%s\",\"kind\":\"email\",\"direction\":\"inbound\","
             "\"outcome\":\"replied\",\"source\":\"tool\",\"external_id\":\"p-2\"}]}",
             a, a, a);
    r = post("/v1/interactions/batch", sales, body);
    expect_status(r, 200, "item by item");
    res = json_object_get(r->json, "results");
    json_t *p0 = json_object_get(json_array_get(res, 0), "problem");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(res, 0), "status")), 422);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(p0, "errors"), 0), "field")),
                     "campaign_id");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(res, 1), "status")), 201);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(res, 2), "status")), 200);
    ck_assert_int_eq(jint(r, "created"), 1);
    ck_assert_int_eq(jint(r, "existing"), 1);
    ck_assert_int_eq(jint(r, "failed"), 1);
    resp_free(r);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM interactions WHERE lead_id = $1"
                                " AND external_id = 'p-2' AND outcome = 'replied' AND version = 2",
                                a),
                     1);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM interactions WHERE lead_id = $1", a), 2);
}
END_TEST

/* The largest batch: 1,000 items on ten leads, then one item too many. */
START_TEST(a_batch_of_a_thousand_is_logged_and_one_more_is_refused)
{
    char lead[10][40];
    keys("thousand");
    for (int k = 0; k < 10; k++) {
        char email[64];
        snprintf(email, sizeof email, "thousand.%d@example.com", k);
        new_lead(admin, email, lead[k]);
    }
    size_t cap = 1001 * 80 + 32, len;
    char *body = malloc(cap);
    ck_assert_ptr_nonnull(body);
    len = (size_t)snprintf(body, cap, "{\"items\":[");
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(body + len, cap - len, "%s{\"lead_id\":\"%s\",\"kind\":\"note\"}",
                                i ? "," : "", lead[i % 10]);
    snprintf(body + len, cap - len, "]}");
    long t0 = sock_now_ms();
    struct resp *r = post("/v1/interactions/batch", sales, body);
    fprintf(stderr, "interactions: a batch of 1,000 in %ld ms\n", sock_now_ms() - t0);
    expect_status(r, 200, "1,000 items");
    ck_assert_int_eq(jint(r, "created"), 1000);
    ck_assert_int_eq(jint(r, "failed"), 0);
    resp_free(r);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM interactions WHERE lead_id = $1", lead[3]),
                     100);
    snprintf(body + len, cap - len, ",{\"lead_id\":\"%s\",\"kind\":\"note\"}]}", lead[0]);
    r = post("/v1/interactions/batch", sales, body);
    expect_invalid(r, "items", "1,001 items");
    resp_free(r);
    free(body);
}
END_TEST

START_TEST(the_timeline_shows_interactions_in_time_order)
{
    char lead[40], path[160], stage_at[40];
    keys("timeline");
    new_lead(admin, "timeline.one@example.com", lead);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", lead);
    struct resp *r = post(path, admin, "{\"to\":\"mql\"}");
    expect_status(r, 201, "to mql");
    resp_free(r);
    PGconn *pg = pg_test();
    char *v = pg_value_p(pg,
                         "SELECT to_char(changed_at AT TIME ZONE 'UTC',"
                         " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM lead_stage_changes"
                         " WHERE lead_id = $1 AND to_stage = 'mql'",
                         lead);
    snprintf(stage_at, sizeof stage_at, "%s", v);
    free(v);
    PQfinish(pg);
    /* one before everything, one after the move */
    r = log_on(lead, sales,
               "{\"kind\":\"form\",\"direction\":\"inbound\","
               "\"occurred_at\":\"2020-01-01T00:00:00Z\",\"subject\":\"old form\"}");
    expect_status(r, 201, "an old form");
    resp_free(r);
    r = log_on(lead, sales, "{\"kind\":\"ticket\",\"subject\":\"new ticket\"}");
    expect_status(r, 201, "a ticket now");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/timeline?sort=at", lead);
    r = get(path, readonly);
    expect_status(r, 200, "timeline");
    json_t *data = json_object_get(r->json, "data");
    size_t i;
    json_t *e;
    const char *prev = "";
    char types[256] = "";
    json_array_foreach(data, i, e)
    {
        const char *at = json_string_value(json_object_get(e, "at"));
        ck_assert_msg(strcmp(prev, at) <= 0, "out of order: %s", r->body);
        prev = at;
        strcat(types, json_string_value(json_object_get(e, "type")));
        strcat(types, " ");
    }
    /* the old form first, the ticket after the move to mql */
    ck_assert_msg(!strncmp(types, "interaction ", 12), "%s", r->body);
    ck_assert_msg(strstr(types, "stage_change interaction") != NULL, "%s", r->body);
    json_t *first = json_object_get(json_array_get(data, 0), "interaction");
    ck_assert_str_eq(json_string_value(json_object_get(first, "subject")), "old form");
    ck_assert_str_eq(json_string_value(json_object_get(first, "kind")), "form");
    ck_assert(json_is_integer(json_object_get(first, "version")));
    resp_free(r);
}
END_TEST

/* The follow-up of one lead in the report: followed_up, waiting, p50 of owner-less leads. */
static void follow_up(long *followed, long *waiting, long *p50)
{
    struct resp *r = get("/v1/reports/follow-up", readonly);
    expect_status(r, 200, "follow-up report");
    json_t *row = json_array_get(json_object_get(r->json, "data"), 0);
    ck_assert_msg(row, "no row: %s", r->body);
    *followed = json_integer_value(json_object_get(row, "followed_up"));
    *waiting = json_integer_value(json_object_get(row, "waiting"));
    json_t *p = json_object_get(row, "follow_up_p50_seconds");
    *p50 = json_is_integer(p) ? json_integer_value(p) : -1;
    resp_free(r);
}

static size_t awaiting(void)
{
    struct resp *r = get("/v1/leads?awaiting_feedback=true", readonly);
    expect_status(r, 200, "work list");
    size_t n = json_array_size(json_object_get(r->json, "data"));
    resp_free(r);
    return n;
}

START_TEST(the_first_outbound_call_stops_the_follow_up_clock)
{
    char lead[40], path[160];
    long followed, waiting, p50;
    keys("clock");
    new_lead(admin, "clock.one@example.com", lead);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", lead);
    struct resp *r = post(path, admin, "{\"to\":\"mql\"}");
    expect_status(r, 201, "to mql");
    resp_free(r);
    /* handed over at 09:00 on a Monday */
    PGconn *pg = pg_test();
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE lead_stage_changes SET changed_at = '2026-01-05T09:00:00Z'"
             " WHERE lead_id = '%s' AND to_stage = 'mql'",
             lead);
    pg_ok(pg, sql);
    follow_up(&followed, &waiting, &p50);
    ck_assert_int_eq(followed, 0);
    ck_assert_int_eq(waiting, 1);
    ck_assert_uint_eq(awaiting(), 1);

    /* an inbound email before the hand-off and a note after it stop nothing */
    r = log_on(lead, sales,
               "{\"kind\":\"email\",\"direction\":\"inbound\","
               "\"occurred_at\":\"2026-01-05T08:00:00Z\"}");
    expect_status(r, 201, "an email before the hand-off");
    resp_free(r);
    r = log_on(lead, sales, "{\"kind\":\"note\",\"occurred_at\":\"2026-01-05T09:05:00Z\"}");
    expect_status(r, 201, "a note");
    resp_free(r);
    follow_up(&followed, &waiting, &p50);
    ck_assert_int_eq(waiting, 1);
    ck_assert_uint_eq(awaiting(), 1);

    /* the first outbound call, ten minutes after the hand-off */
    r = log_on(lead, sales,
               "{\"kind\":\"call\",\"direction\":\"outbound\","
               "\"outcome\":\"no_answer\",\"occurred_at\":\"2026-01-05T09:10:00Z\"}");
    expect_status(r, 201, "the first call");
    resp_free(r);
    follow_up(&followed, &waiting, &p50);
    ck_assert_int_eq(followed, 1);
    ck_assert_int_eq(waiting, 0);
    ck_assert_int_eq(p50, 600);
    ck_assert_uint_eq(awaiting(), 0);
    char *v = pg_value_p(pg,
                         "SELECT concat_ws(' ', follow_up_s, first_attempt_at IS NOT NULL,"
                         " first_contact_at IS NULL) FROM report_leads WHERE lead_id = $1",
                         lead);
    ck_assert_str_eq(v, "600 t t");
    free(v);
    /* a feedback later changes nothing; a contact earlier (by outcome) does */
    r = log_on(lead, sales,
               "{\"kind\":\"note\",\"outcome\":\"connected\","
               "\"occurred_at\":\"2026-01-05T09:02:00Z\"}");
    expect_status(r, 201, "an earlier contact");
    resp_free(r);
    follow_up(&followed, &waiting, &p50);
    ck_assert_int_eq(p50, 120);
    v = pg_value_p(pg,
                   "SELECT concat_ws(' ', follow_up_s, first_contact_at = '2026-01-05T09:02:00Z')"
                   " FROM report_leads"
                   " WHERE lead_id = $1",
                   lead);
    ck_assert_str_eq(v, "120 t");
    free(v);
    PQfinish(pg);
}
END_TEST

START_TEST(erasure_strips_and_merge_moves_interactions)
{
    char a[40], b[40], path[160], id[40];
    keys("erase");
    new_lead(admin, "keep.me@example.com", a);
    new_lead(admin, "dup.me@example.com", b);
    /* logged with an Idempotency-Key: its stored answer shows the subject */
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", a);
    struct resp *k =
        post_idem(path, sales, "{\"kind\":\"note\",\"subject\":\"Personal\"}", "inter-erase-1");
    expect_status(k, 201, "with a key");
    resp_free(k);
    struct resp *r = log_on(b, sales,
                            "{\"kind\":\"call\",\"direction\":\"outbound\","
                            "\"subject\":\"Private\",\"body\":\"secret notes\","
                            "\"actor_name\":\"Jo\",\"source\":\"crm\","
                            "\"external_id\":\"m-1\"}");
    expect_status(r, 201, "on the duplicate");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/merge", a);
    char body[128];
    snprintf(body, sizeof body, "{\"from\":\"%s\"}", b);
    r = post(path, admin, body);
    expect_status(r, 200, "merge");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/interactions/%s", id);
    r = get(path, readonly);
    ck_assert_str_eq(jstr(r, "lead_id"), a);
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/timeline", a);
    r = get(path, readonly);
    ck_assert_msg(strstr(r->body, "\"interactions\":1") || strstr(r->body, "\"interactions\": 1"),
                  "the merge record counts the moved interaction: %s", r->body);
    resp_free(r);
    /* logging on the merged lead points at the survivor */
    r = log_on(b, sales, "{\"kind\":\"note\"}");
    expect_status(r, 308, "on the merged lead");
    resp_free(r);

    snprintf(path, sizeof path, "/v1/leads/%s", a);
    r = del(path, admin);
    expect_status(r, 204, "erase the survivor");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/interactions/%s", id);
    r = get(path, readonly);
    expect_status(r, 200, "still there");
    ck_assert(json_is_null(json_object_get(r->json, "subject")));
    ck_assert(json_is_null(json_object_get(r->json, "body")));
    ck_assert(json_is_null(json_object_get(r->json, "actor_name")));
    ck_assert_str_eq(jstr(r, "kind"), "call");
    resp_free(r);
    /* nor does the audit log or the change feed keep the text */
    ck_assert_int_eq(count_rows("SELECT count(*) FROM audit_log WHERE entity = 'interaction'"
                                " AND entity_id = $1 AND (new ->> 'body' IS NOT NULL"
                                " OR old ->> 'body' IS NOT NULL)",
                                id),
                     0);
    ck_assert_int_eq(count_rows("SELECT count(*) FROM changes WHERE entity = 'interaction'"
                                " AND entity_id = $1 AND doc ->> 'body' IS NOT NULL",
                                id),
                     0);
    ck_assert_int_ge(count_rows("SELECT count(*) FROM changes WHERE entity = 'interaction'"
                                " AND entity_id = $1",
                                id),
                     1);
    r = log_on(a, sales, "{\"kind\":\"note\"}");
    expect_status(r, 410, "on an erased lead");
    resp_free(r);
    /* the replay that showed the subject is withdrawn */
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", a);
    r = post_idem(path, sales, "{\"kind\":\"note\",\"subject\":\"Personal\"}", "inter-erase-1");
    expect_status(r, 410, "the replay after the erasure");
    ck_assert_ptr_null(strstr(r->body, "Personal"));
    resp_free(r);
}
END_TEST

Suite *interactions_suite(void)
{
    Suite *s = suite_create("interactions");
    TCase *tc = tcase_create("interactions");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_logged_call_is_answered_listed_and_fetched);
    tcase_add_test(tc, a_resend_by_external_id_updates_in_place_and_never_doubles);
    tcase_add_test(tc, every_bad_input_names_its_field);
    tcase_add_test(tc, a_batch_answers_each_item_and_a_retry_doubles_nothing);
    tcase_add_test(tc, a_batch_answers_alike_in_one_statement_or_item_by_item);
    tcase_add_test(tc, a_batch_of_a_thousand_is_logged_and_one_more_is_refused);
    tcase_add_test(tc, the_timeline_shows_interactions_in_time_order);
    tcase_add_test(tc, the_first_outbound_call_stops_the_follow_up_clock);
    tcase_add_test(tc, erasure_strips_and_merge_moves_interactions);
    suite_add_tcase(s, tc);
    return s;
}
