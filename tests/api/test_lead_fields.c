/* The fields marketers need on a lead (issue 14, point 7): the visit's UTM parameters,
 * landing page and referrer on every write path and in every representation, the source
 * derived from them (ll_lead_source), the list's filters on them, and external ids as CSV
 * import columns. Each test works in a workspace of its own. */
#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "suites.h"
#include "support.h"

static const char *const csv_type[] = {"Content-Type: text/csv", NULL};

/* A key of a new workspace named after tag (and the process, so reruns start afresh). */
static void fresh_key(const char *tag, char key[64])
{
    char slug[64];
    snprintf(slug, sizeof slug, "lf-%s-%d", tag, (int)getpid());
    ck_assert(workspace_key(slug, "admin", key));
}

static const char *member(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : json_is_null(v) ? "(null)" : "(absent)";
}

/* POSTs a lead and answers its JSON (new reference); the test fails unless 201. */
static json_t *create(const char *key, const char *body)
{
    struct resp *r = post("/v1/leads", key, body);
    ck_assert_msg(r->status == 201, "POST %s: %ld %s", body, r->status, r->body);
    json_t *lead = json_incref(r->json);
    resp_free(r);
    return lead;
}

static json_t *get_lead(const char *key, const char *path)
{
    struct resp *r = get(path, key);
    ck_assert_msg(r->status == 200, "GET %s: %ld %s", path, r->status, r->body);
    json_t *lead = json_incref(r->json);
    resp_free(r);
    return lead;
}

static struct resp *import(const char *key, const char *mode, const char *csv)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/leads/import?mode=%s", mode);
    return req(&main_daemon, "POST", path, key, csv_type, csv, strlen(csv));
}

START_TEST(visit_fields_are_written_and_shown)
{
    char key[64], path[96];
    fresh_key("visit", key);
    json_t *lead = create(key, "{\"email\":\"v@lf.example\",\"utm_source\":\"google\","
                               "\"utm_medium\":\"cpc\",\"utm_campaign\":\"spring\","
                               "\"utm_term\":\"crm tool\",\"utm_content\":\"ad-2\","
                               "\"landing_page\":\"https://acme.example/pricing?x=1\","
                               "\"referrer\":\"https://www.google.com/\"}");
    ck_assert_str_eq(member(lead, "utm_source"), "google");
    ck_assert_str_eq(member(lead, "utm_term"), "crm tool");
    ck_assert_str_eq(member(lead, "landing_page"), "https://acme.example/pricing?x=1");
    ck_assert_str_eq(member(lead, "source"), "paid"); /* derived from utm_medium */
    snprintf(path, sizeof path, "/v1/leads/%s", member(lead, "id"));
    json_decref(lead);

    /* a merge patch clears one and changes another; the source stays what it was */
    struct resp *r =
        patch(path, key, "{\"utm_term\":null,\"referrer\":\"https://news.example/a\"}", NULL);
    ck_assert_msg(r->status == 200, "PATCH: %ld %s", r->status, r->body);
    resp_free(r);
    lead = get_lead(key, path);
    ck_assert_str_eq(member(lead, "utm_term"), "(null)");
    ck_assert_str_eq(member(lead, "referrer"), "https://news.example/a");
    ck_assert_str_eq(member(lead, "utm_campaign"), "spring");
    ck_assert_str_eq(member(lead, "source"), "paid");
    json_decref(lead);

    /* in the list, and in the change feed's copy of the lead */
    r = get("/v1/leads", key);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(member(json_array_get(json_object_get(r->json, "data"), 0), "utm_content"),
                     "ad-2");
    resp_free(r);
    r = get("/v1/changes?types=lead.updated", key);
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(strstr(r->body, "\"referrer\":\"https://news.example/a\",") ||
                      strstr(r->body, "\"referrer\":\"https://news.example/a\"}"),
                  "changes: %.900s", r->body);
    resp_free(r);
}
END_TEST

START_TEST(visit_fields_are_validated)
{
    char key[64], big[400];
    fresh_key("invalid", key);
    memset(big, 'a', 256);
    big[256] = '\0';
    char body[1200];
    snprintf(body, sizeof body,
             "{\"email\":\"bad@lf.example\",\"utm_source\":\"\",\"utm_campaign\":\"%s\","
             "\"utm_medium\":7,\"landing_page\":\"acme.example/pricing\","
             "\"referrer\":\"https://a.example/x y\"}",
             big);
    struct resp *r = post("/v1/leads", key, body);
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "utm_source"));
    ck_assert(problem_names(r, "utm_campaign"));
    ck_assert(problem_names(r, "utm_medium"));
    ck_assert(problem_names(r, "landing_page"));
    ck_assert(problem_names(r, "referrer"));
    ck_assert(!problem_names(r, "email"));
    resp_free(r);

    /* 255 characters and a 2048-character URL are fine */
    big[255] = '\0';
    char url[2100] = "https://acme.example/";
    memset(url + strlen(url), 'p', 2048 - strlen(url));
    url[2048] = '\0';
    json_t *o = json_pack("{s:s, s:s, s:s}", "email", "ok@lf.example", "utm_term", big,
                          "landing_page", url);
    char *text = json_dumps(o, JSON_COMPACT);
    json_t *lead = create(key, text);
    ck_assert_int_eq(strlen(member(lead, "landing_page")), 2048);
    ck_assert_str_eq(member(lead, "source"), "web"); /* a landing page alone: a visit */
    char path[96];
    snprintf(path, sizeof path, "/v1/leads/%s", member(lead, "id"));
    url[2048] = 'p';
    url[2049] = '\0';
    json_object_set_new(o, "landing_page", json_string(url));
    json_object_del(o, "email");
    free(text);
    text = json_dumps(o, JSON_COMPACT);
    r = patch(path, key, text, NULL);
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "landing_page"));
    resp_free(r);
    free(text);
    json_decref(o);
    json_decref(lead);
}
END_TEST

/* An erasure takes the two URLs (a page's address may name the visitor) wherever the
 * lead's values are kept, and leaves the UTM parameters, which name the campaign. */
START_TEST(erasure_takes_the_urls_and_keeps_the_campaign)
{
    char key[64], path[96], sql[400];
    fresh_key("erase", key);
    json_t *lead = create(key, "{\"email\":\"gone@lf.example\",\"utm_campaign\":\"spring\","
                               "\"landing_page\":\"https://acme.example/?email=gone%40lf.example\","
                               "\"referrer\":\"https://mail.example/inbox\"}");
    char id[40];
    snprintf(id, sizeof id, "%s", member(lead, "id"));
    json_decref(lead);
    snprintf(path, sizeof path, "/v1/leads/%s", id);
    struct resp *r = patch(path, key, "{\"referrer\":\"https://mail.example/other\"}", NULL);
    ck_assert_int_eq(r->status, 200);
    resp_free(r);
    r = del(path, key);
    ck_assert_msg(r->status == 204, "erase: %ld %s", r->status, r->body);
    resp_free(r);
    PGconn *pg = pg_test();
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads WHERE id = '%s' AND landing_page IS NULL"
             " AND referrer IS NULL AND utm_campaign = 'spring'",
             id);
    ck_assert_int_eq(pg_long(pg, sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM changes WHERE lead_id = '%s' AND (doc ->> 'landing_page'"
             " IS NOT NULL OR doc ->> 'referrer' IS NOT NULL)",
             id);
    ck_assert_int_eq(pg_long(pg, sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE lead_id = '%s' AND (old ->> 'referrer' IS NOT"
             " NULL OR new ->> 'referrer' IS NOT NULL OR new ->> 'landing_page' IS NOT NULL)",
             id);
    ck_assert_int_eq(pg_long(pg, sql), 0);
    PQfinish(pg);
}
END_TEST

/* The source of a lead created without one, on each path that creates leads. */
START_TEST(source_is_derived_on_every_write_path)
{
    static const struct {
        const char *body, *source;
    } cases[] = {
        {"\"utm_medium\":\"webinar\"", "event"},
        {"\"utm_medium\":\"Paid_Social\",\"utm_source\":\"linkedin\"", "paid"},
        {"\"utm_medium\":\"affiliate\"", "partner"},
        {"\"utm_medium\":\"sdr\"", "outbound"},
        {"\"utm_medium\":\"email\"", "web"},
        {"\"utm_medium\":\"print\"", "other"},
        {"\"utm_source\":\"newsletter\"", "other"},
        {"\"referrer\":\"https://www.bing.com/search?q=crm\"", "web"},
        {"\"referrer\":\"https://blog.example.org/review\"", "referral"},
        {"\"referrer\":\"https://acme.example/a\",\"landing_page\":\"https://acme.example/b\"",
         "web"},
        {"\"utm_medium\":\"cpc\",\"source\":\"event\"", "event"}, /* the client's wins */
        {"\"first_name\":\"Nobody\"", "other"},
    };
    char key[64], body[400], path[160];
    fresh_key("derive", key);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(body, sizeof body, "{\"email\":\"d%zu@lf.example\",%s}", i, cases[i].body);
        json_t *lead = create(key, body);
        ck_assert_msg(!strcmp(member(lead, "source"), cases[i].source), "%s: source %s, not %s",
                      body, member(lead, "source"), cases[i].source);
        json_decref(lead);
    }
    /* PUT by email, creating */
    snprintf(path, sizeof path, "/v1/leads/by-email/put@lf.example");
    struct resp *r = put(path, key, "{\"utm_medium\":\"cpc\"}", NULL);
    ck_assert_msg(r->status == 201, "PUT: %ld %s", r->status, r->body);
    ck_assert_str_eq(member(r->json, "source"), "paid");
    resp_free(r);
    /* the batch, in both modes */
    r = post("/v1/leads/batch", key,
             "{\"leads\":[{\"email\":\"b1@lf.example\",\"utm_medium\":\"cpc\"},"
             "{\"email\":\"b2@lf.example\"}]}");
    ck_assert_msg(r->status == 200, "batch: %ld %s", r->status, r->body);
    resp_free(r);
    r = post("/v1/leads/batch", key,
             "{\"mode\":\"upsert\",\"leads\":[{\"email\":\"b3@lf.example\","
             "\"utm_medium\":\"conference\"}]}");
    ck_assert_msg(r->status == 200, "batch upsert: %ld %s", r->status, r->body);
    resp_free(r);
    /* the import, in both modes: without anything to go by, a row is an import */
    r = import(key, "create",
               "email,utm_medium,referrer\r\nc1@lf.example,sdr,\r\nc2@lf.example,,\r\n");
    ck_assert_msg(r->status == 200 && json_integer_value(json_object_get(r->json, "created")) == 2,
                  "import: %ld %s", r->status, r->body);
    resp_free(r);
    r = import(key, "upsert",
               "email,utm_medium,referrer\r\nc3@lf.example,,https://t.co/x\r\n"
               "c4@lf.example,,\r\n");
    ck_assert_msg(r->status == 200 && json_integer_value(json_object_get(r->json, "created")) == 2,
                  "import upsert: %ld %s", r->status, r->body);
    resp_free(r);
    static const struct {
        const char *email, *source;
    } written[] = {{"b1", "paid"},   {"b2", "other"}, {"b3", "event"}, {"c1", "outbound"},
                   {"c2", "import"}, {"c3", "web"},   {"c4", "import"}};
    for (size_t i = 0; i < sizeof written / sizeof written[0]; i++) {
        snprintf(path, sizeof path, "/v1/leads/by-email/%s@lf.example", written[i].email);
        json_t *lead = get_lead(key, path);
        ck_assert_msg(!strcmp(member(lead, "source"), written[i].source), "%s: %s, not %s",
                      written[i].email, member(lead, "source"), written[i].source);
        json_decref(lead);
    }
    /* an update derives nothing: the lead keeps the source it has */
    r = import(key, "upsert", "email,utm_medium\r\nc2@lf.example,cpc\r\n");
    ck_assert_int_eq(r->status, 200);
    resp_free(r);
    json_t *lead = get_lead(key, "/v1/leads/by-email/c2@lf.example");
    ck_assert_str_eq(member(lead, "source"), "import");
    ck_assert_str_eq(member(lead, "utm_medium"), "cpc");
    json_decref(lead);
}
END_TEST

/* The ids of a list, in order, joined by spaces. */
static long list_emails(const char *key, const char *query, char *out, size_t cap)
{
    char path[400];
    snprintf(path, sizeof path, "/v1/leads?sort=created_at&%s", query);
    struct resp *r = get(path, key);
    ck_assert_msg(r->status == 200, "%s: %ld %s", path, r->status, r->body);
    json_t *data = json_object_get(r->json, "data"), *item;
    size_t i;
    out[0] = '\0';
    json_array_foreach(data, i, item)
    {
        strncat(out, member(item, "email"), cap - strlen(out) - 2);
        strncat(out, " ", cap - strlen(out) - 1);
    }
    long n = (long)json_array_size(data);
    resp_free(r);
    return n;
}

START_TEST(list_filters_on_utm_parameters)
{
    char key[64], got[512];
    fresh_key("filters", key);
    json_decref(create(key, "{\"email\":\"f1@lf.example\",\"utm_source\":\"google\","
                            "\"utm_medium\":\"cpc\",\"utm_campaign\":\"spring sale\"}"));
    json_decref(create(key, "{\"email\":\"f2@lf.example\",\"utm_source\":\"google\","
                            "\"utm_medium\":\"organic\"}"));
    json_decref(create(key, "{\"email\":\"f3@lf.example\",\"utm_source\":\"bing\","
                            "\"utm_medium\":\"cpc\",\"utm_campaign\":\"spring sale\"}"));
    json_decref(create(key, "{\"email\":\"f4@lf.example\"}"));
    ck_assert_int_eq(list_emails(key, "utm_source=google", got, sizeof got), 2);
    ck_assert_str_eq(got, "f1@lf.example f2@lf.example ");
    ck_assert_int_eq(list_emails(key, "utm_medium=cpc", got, sizeof got), 2);
    ck_assert_str_eq(got, "f1@lf.example f3@lf.example ");
    ck_assert_int_eq(
        list_emails(key, "utm_campaign=spring%20sale&utm_source=bing", got, sizeof got), 1);
    ck_assert_str_eq(got, "f3@lf.example ");
    ck_assert_int_eq(list_emails(key, "utm_campaign=Spring%20Sale", got, sizeof got), 0);
    struct resp *r = get("/v1/leads?utm_source=", key);
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
}
END_TEST

START_TEST(import_columns_name_external_ids_and_custom_fields)
{
    char key[64];
    fresh_key("extids", key);
    struct resp *r =
        import(key, "create",
               "email,external_id.crm,external_id.hubspot,custom.industry,region,id,stage\r\n"
               "x1@lf.example,A-1,h1,Retail,EU,ignored-id,customer\r\n"
               "x2@lf.example,A-2,,,,,\r\n"
               "x3@lf.example,A-1,,,,,\r\n");
    ck_assert_msg(r->status == 200, "import: %ld %s", r->status, r->body);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "created")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "rejected")), 1);
    json_t *rej = json_array_get(json_object_get(r->json, "rejections"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(rej, "row")), 3);
    ck_assert_str_eq(member(rej, "field"), "external_ids");
    json_t *ignored = json_object_get(r->json, "ignored_columns");
    ck_assert_int_eq(json_array_size(ignored), 2);
    ck_assert_str_eq(json_string_value(json_array_get(ignored, 0)), "id");
    resp_free(r);

    json_t *lead = get_lead(key, "/v1/leads/by-external-id/crm/A-1");
    ck_assert_str_eq(member(lead, "email"), "x1@lf.example");
    ck_assert_str_eq(member(json_object_get(lead, "external_ids"), "hubspot"), "h1");
    json_t *custom = json_object_get(lead, "custom");
    ck_assert_str_eq(member(custom, "industry"), "Retail");
    ck_assert_str_eq(member(custom, "region"), "EU");
    ck_assert_int_eq(json_object_size(custom), 2);
    ck_assert_str_eq(member(lead, "stage"), "new");
    json_decref(lead);

    /* upsert: an existing lead's external id changes; its lookup follows */
    r = import(key, "upsert", "email,external_id.crm\r\nx2@lf.example,A-2b\r\n");
    ck_assert_msg(r->status == 200 && json_integer_value(json_object_get(r->json, "updated")) == 1,
                  "upsert: %ld %s", r->status, r->body);
    resp_free(r);
    lead = get_lead(key, "/v1/leads/by-external-id/crm/A-2b");
    ck_assert_str_eq(member(lead, "email"), "x2@lf.example");
    json_decref(lead);
    r = get("/v1/leads/by-external-id/crm/A-2", key);
    ck_assert_int_eq(r->status, 404);
    resp_free(r);

    /* a system name the JSON API refuses is refused as a column, before any row */
    r = import(key, "create", "email,external_id.Bad System\r\ny@lf.example,1\r\n");
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "external_id.Bad System"));
    resp_free(r);
    r = import(key, "create", "email,industry,custom.industry\r\ny@lf.example,a,b\r\n");
    assert_problem(r, 422, "validation-failed");
    resp_free(r);
}
END_TEST

Suite *lead_fields_suite(void)
{
    Suite *s = suite_create("lead_fields");
    TCase *t = tcase_create("fields");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, visit_fields_are_written_and_shown);
    tcase_add_test(t, visit_fields_are_validated);
    tcase_add_test(t, erasure_takes_the_urls_and_keeps_the_campaign);
    tcase_add_test(t, source_is_derived_on_every_write_path);
    tcase_add_test(t, list_filters_on_utm_parameters);
    tcase_add_test(t, import_columns_name_external_ids_and_custom_fields);
    suite_add_tcase(s, t);
    return s;
}
