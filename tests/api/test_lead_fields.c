/* The fields marketers need on a lead (issue 14, point 7): the visit's UTM parameters,
 * landing page and referrer on every write path and in every representation, the source
 * derived from them (ll_lead_source), the list's filters on them, and external ids as CSV
 * import columns. And the lead list as CSV (point 8): every match, streamed, guarded
 * against formulas, read back by the import; a client that leaves and a database that
 * fails mid-stream. Each test works in a workspace of its own. */
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
static const char *const accept_csv[] = {"Accept: text/csv", NULL};

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

/* ------------------------------------------------------------------ the CSV export */

static struct resp *export(const char *key, const char *query)
{
    char path[300];
    snprintf(path, sizeof path, "/v1/leads%s%s", query ? "?" : "", query ? query : "");
    return req(&main_daemon, "GET", path, key, accept_csv, NULL, 0);
}

/* The export's table (freed by the caller); the test fails unless it is 200 CSV. */
static void export_table(const char *key, const char *query, struct csv_table *t)
{
    char why[200];
    struct resp *r = export(key, query);
    ck_assert_msg(r->status == 200, "export %s: %ld %.300s", query ? query : "", r->status,
                  r->body);
    char *ct = resp_header(r, "Content-Type"), *te = resp_header(r, "Transfer-Encoding");
    ck_assert_str_eq(ct, "text/csv; charset=utf-8");
    ck_assert_msg(te && !strcmp(te, "chunked"), "streamed, chunked: %s", te ? te : "(none)");
    free(ct);
    free(te);
    ck_assert_msg(csv_table_read(r->body, r->len, t, why, sizeof why), "export: %s", why);
    resp_free(r);
}

static int column(const struct csv_table *t, const char *name)
{
    for (size_t c = 0; c < t->rows[0].ncells; c++)
        if (!strcmp(t->rows[0].cells[c], name))
            return (int)c;
    ck_abort_msg("no column %s", name);
    return -1;
}

/* The row whose email is email. */
static const struct csv_table_row *row_of(const struct csv_table *t, const char *email)
{
    int c = column(t, "email");
    for (size_t i = 1; i < t->nrows; i++)
        if (!strcmp(t->rows[i].cells[c], email))
            return &t->rows[i];
    ck_abort_msg("no row for %s", email);
    return NULL;
}

START_TEST(export_lists_every_match_and_imports_back)
{
    static const char *const fixed[] = {"id",
                                        "email",
                                        "first_name",
                                        "last_name",
                                        "company",
                                        "title",
                                        "phone",
                                        "country",
                                        "source",
                                        "stage",
                                        "score",
                                        "owner_id",
                                        "first_campaign_id",
                                        "latest_campaign_id",
                                        "utm_source",
                                        "utm_medium",
                                        "utm_campaign",
                                        "utm_term",
                                        "utm_content",
                                        "landing_page",
                                        "referrer",
                                        "consent.email_opt_in",
                                        "consent.captured_at",
                                        "consent.how",
                                        "version",
                                        "created_at",
                                        "updated_at",
                                        "stage_changed_at",
                                        "recycle_on"};
    const size_t nfixed = sizeof fixed / sizeof fixed[0];
    char key[64], other[64];
    struct csv_table t;
    fresh_key("export", key);
    json_decref(create(key, "{\"email\":\"e1@lf.example\",\"company\":\"=HYPERLINK(\\\"x\\\")\","
                            "\"phone\":\"+49 30 1234\",\"title\":\"-lead\",\"score\":42,"
                            "\"utm_campaign\":\"spring\",\"utm_medium\":\"cpc\","
                            "\"custom\":{\"industry\":\"@retail\",\"seats\":12,\"vip\":true},"
                            "\"external_ids\":{\"crm\":\"C-1\"},"
                            "\"consent\":{\"email_opt_in\":true,\"how\":\"form\"}}"));
    json_decref(create(key, "{\"email\":\"e2@lf.example\",\"first_name\":\"Ann, \\\"Jr\\\"\","
                            "\"custom\":{\"note\":\"line1\\nline2\"},"
                            "\"external_ids\":{\"hubspot\":\"h-2\"}}"));
    json_decref(create(key, "{\"email\":\"e3@lf.example\",\"utm_campaign\":\"spring\"}"));

    export_table(key, NULL, &t);
    ck_assert_int_eq(t.nrows, 4);
    ck_assert_int_eq(t.rows[0].ncells, nfixed + 6);
    for (size_t c = 0; c < nfixed; c++)
        ck_assert_str_eq(t.rows[0].cells[c], fixed[c]);
    /* then the external id systems, then the custom fields, each by name */
    ck_assert_str_eq(t.rows[0].cells[nfixed], "external_id.crm");
    ck_assert_str_eq(t.rows[0].cells[nfixed + 1], "external_id.hubspot");
    ck_assert_str_eq(t.rows[0].cells[nfixed + 2], "custom.industry");
    ck_assert_str_eq(t.rows[0].cells[nfixed + 3], "custom.note");
    ck_assert_str_eq(t.rows[0].cells[nfixed + 5], "custom.vip");
    const struct csv_table_row *e1 = row_of(&t, "e1@lf.example");
    /* the formula guard: an apostrophe in front of what a spreadsheet would run */
    ck_assert_str_eq(e1->cells[column(&t, "company")], "'=HYPERLINK(\"x\")");
    ck_assert_str_eq(e1->cells[column(&t, "phone")], "'+49 30 1234");
    ck_assert_str_eq(e1->cells[column(&t, "title")], "'-lead");
    ck_assert_str_eq(e1->cells[column(&t, "custom.industry")], "'@retail");
    ck_assert_str_eq(e1->cells[column(&t, "custom.seats")], "12");
    ck_assert_str_eq(e1->cells[column(&t, "score")], "42");
    ck_assert_str_eq(e1->cells[column(&t, "consent.email_opt_in")], "true");
    ck_assert_str_eq(e1->cells[column(&t, "consent.how")], "form");
    ck_assert_str_eq(e1->cells[column(&t, "external_id.crm")], "C-1");
    ck_assert_str_eq(e1->cells[column(&t, "external_id.hubspot")], "");
    ck_assert_str_eq(e1->cells[column(&t, "source")], "paid");
    ck_assert_str_eq(row_of(&t, "e2@lf.example")->cells[column(&t, "custom.note")], "line1\nline2");
    csv_table_free(&t);

    /* the filters apply, and the columns are those of the leads exported */
    export_table(key, "utm_campaign=spring&sort=created_at", &t);
    ck_assert_int_eq(t.nrows, 3);
    ck_assert_str_eq(t.rows[1].cells[1], "e1@lf.example");
    ck_assert_str_eq(t.rows[2].cells[1], "e3@lf.example");
    ck_assert_int_eq(t.rows[0].ncells, nfixed + 4); /* no external_id.hubspot, no custom.note */
    csv_table_free(&t);

    /* the export imports back as it was into another workspace */
    struct resp *r = export(key, NULL);
    fresh_key("export-into", other);
    struct resp *in =
        req(&main_daemon, "POST", "/v1/leads/import", other, csv_type, r->body, r->len);
    ck_assert_msg(in->status == 200 &&
                      json_integer_value(json_object_get(in->json, "created")) == 3,
                  "re-import: %ld %s", in->status, in->body);
    /* 11 columns the import cannot set; created_at is history, which an admin imports */
    ck_assert_int_eq(json_array_size(json_object_get(in->json, "ignored_columns")), 11);
    resp_free(in);
    resp_free(r);
    json_t *a = get_lead(key, "/v1/leads/by-email/e1@lf.example");
    json_t *b = get_lead(other, "/v1/leads/by-email/e1@lf.example");
    static const char *const same[] = {"company",    "phone",        "title",      "source",
                                       "utm_medium", "utm_campaign", "created_at", NULL};
    for (const char *const *f = same; *f; f++)
        ck_assert_msg(!strcmp(member(a, *f), member(b, *f)), "%s: %s, then %s", *f, member(a, *f),
                      member(b, *f));
    ck_assert(json_equal(json_object_get(a, "external_ids"), json_object_get(b, "external_ids")));
    ck_assert_str_eq(member(json_object_get(b, "custom"), "industry"), "@retail");
    json_decref(a);
    json_decref(b);
    a = get_lead(other, "/v1/leads/by-email/e2@lf.example");
    ck_assert_str_eq(member(a, "first_name"), "Ann, \"Jr\"");
    ck_assert_str_eq(member(json_object_get(a, "custom"), "note"), "line1\nline2");
    json_decref(a);
}
END_TEST

START_TEST(export_negotiates_and_refuses_paging)
{
    char key[64];
    fresh_key("negotiate", key);
    static const char *const html[] = {"Accept: text/html", NULL};
    struct resp *r = req(&main_daemon, "GET", "/v1/leads", key, html, NULL, 0);
    assert_problem(r, 406, "not-acceptable");
    resp_free(r);
    static const char *const either[] = {"Accept: text/csv;q=0.5, application/json", NULL};
    r = req(&main_daemon, "GET", "/v1/leads", key, either, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    ck_assert_ptr_nonnull(json_object_get(r->json, "data"));
    resp_free(r);
    r = export(key, "limit=10");
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
    r = export(key, "stage=nope");
    assert_problem(r, 400, "invalid-parameter");
    resp_free(r);
    /* the work lists export too (their own FROM and keyset), here empty */
    static const char *const lists[] = {"awaiting_feedback=true", "overdue=true",
                                        "recycle_due=true", "recycle_due=true&sort=-recycle_on"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        r = export(key, lists[i]);
        ck_assert_msg(r->status == 200 && r->len > 100 && !strchr(r->body, '\n')[1], "%s: %ld %s",
                      lists[i], r->status, r->body);
        resp_free(r);
    }
    r = export(key, NULL); /* no lead: the header alone */
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(!strncmp(r->body, "id,email,", 9) && strstr(r->body, "recycle_on\r\n") &&
                      r->body[r->len - 1] == '\n' && !strchr(r->body, '\n')[1],
                  "%s", r->body);
    resp_free(r);
}
END_TEST

/* Inserts n leads into the workspace of key (in database db, NULL: the test's), with
 * blob characters of custom data each; every other one has utm_source "even". */
static void many_leads(PGconn *pg, const char *slug, long n, int blob)
{
    char sql[900];
    snprintf(
        sql, sizeof sql,
        "INSERT INTO leads (workspace_id, email, company, utm_source, custom, external_ids)"
        " SELECT w.id, 'm' || g || '@many.example', 'Company ' || g,"
        " CASE WHEN g %% 2 = 0 THEN 'even' END,"
        " jsonb_build_object('blob', repeat('x', %d), 'n', g), jsonb_build_object('crm', 'M' || g)"
        " FROM workspaces w, generate_series(1, %ld) g WHERE w.slug = '%s'",
        blob, n, slug);
    pg_ok(pg, sql);
}

START_TEST(export_streams_twenty_thousand_leads)
{
    char key[64], slug[64], why[200];
    struct csv_table t;
    snprintf(slug, sizeof slug, "lf-many-%d", (int)getpid());
    ck_assert(workspace_key(slug, "readonly", key));
    PGconn *pg = pg_test();
    many_leads(pg, slug, 25000, 10);
    PQfinish(pg);

    struct resp *r = export(key, NULL);
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(csv_table_read(r->body, r->len, &t, why, sizeof why), "%s", why);
    ck_assert_int_eq(t.nrows, 25001);
    /* every lead once: the emails, newest first, are m25000 .. m1 */
    int c = column(&t, "email"), x = column(&t, "external_id.crm");
    size_t seen = 0;
    char *flags = calloc(25001, 1);
    for (size_t i = 1; i < t.nrows; i++) {
        long k = atol(t.rows[i].cells[c] + 1);
        ck_assert_msg(k >= 1 && k <= 25000 && !flags[k], "row %zu: %s", i, t.rows[i].cells[c]);
        flags[k] = 1;
        seen++;
        ck_assert_int_eq(atol(t.rows[i].cells[x] + 1), k);
    }
    ck_assert_int_eq(seen, 25000);
    free(flags);
    csv_table_free(&t);
    resp_free(r);

    export_table(key, "utm_source=even&sort=score", &t);
    ck_assert_int_eq(t.nrows, 12501);
    csv_table_free(&t);
    export_table(key, "q=m1234", &t); /* a search: m1234 and m12340..m12349 */
    ck_assert_int_eq(t.nrows, 12);
    csv_table_free(&t);
}
END_TEST

/* A daemon of its own on a database of its own, with n leads of blob characters each in a
 * workspace; its key into key. */
static void own_daemon(const char *db, long n, int blob, struct daemon *d, char key[64])
{
    char url[512], envdb[600], out[256], err[2048];
    static char envs[4][600];
    fresh_database(db, url, sizeof url);
    snprintf(envdb, sizeof envdb, "DATABASE_URL=%s", url);
    snprintf(envs[0], sizeof envs[0], "%s", envdb);
    snprintf(envs[1], sizeof envs[1], "LEADLOOP_DB_POOL=1");
    snprintf(envs[2], sizeof envs[2], "LEADLOOP_DB_ACQUIRE_TIMEOUT_MS=5000");
    /* an export holds one of its key's turns: room for one request beside it */
    snprintf(envs[3], sizeof envs[3], "LEADLOOP_KEY_CONNECTIONS=2");
    const char *env[] = {envs[0], envs[1], envs[2], envs[3], NULL};
    const char *migrate[] = {"migrate", NULL};
    const char *ws[] = {"workspace", "create", "stream", NULL};
    const char *mk[] = {"keys",  "create", "--workspace", "stream", "--role",
                        "admin", "--name", "t",           NULL};
    ck_assert_msg(run_leadloopd(migrate, env, out, sizeof out, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(run_leadloopd(ws, env, out, sizeof out, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(run_leadloopd(mk, env, out, sizeof out, err, sizeof err) == 0, "%s", err);
    out[strcspn(out, "\n")] = '\0';
    memcpy(key, out, 48);
    PGconn *pg = pg_db(db);
    many_leads(pg, "stream", n, blob);
    PQfinish(pg);
    ck_assert(daemon_start(d, env));
}

/* Sends the export's request on a socket that takes little at a time, and reads until
 * the body has begun; what was read goes into got (a new string, when got is not NULL). */
static int start_export(const struct daemon *d, const char *key, char **got)
{
    char head[300];
    int small = 8192;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in dst = {.sin_family = AF_INET};
    ck_assert_int_ge(fd, 0);
    /* a small window: the daemon cannot send much ahead of what the test reads */
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst.sin_port = htons((uint16_t)d->port);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&dst, sizeof dst), 0);
    snprintf(head, sizeof head,
             "GET /v1/leads HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
             "Accept: text/csv\r\n\r\n",
             key);
    sock_send(fd, head, strlen(head));
    char *buf = malloc(8192);
    size_t len = 0;
    ck_assert_ptr_nonnull(buf);
    while (len < 4000) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ck_assert_msg(poll(&p, 1, 20000) == 1, "no answer");
        ssize_t n = recv(fd, buf + len, 8191 - len, 0);
        ck_assert_msg(n > 0, "closed after %zu bytes", len);
        len += (size_t)n;
    }
    buf[len] = '\0';
    ck_assert_msg(!strncmp(buf, "HTTP/1.1 200", 12), "%.200s", buf);
    ck_assert_msg(strcasestr(buf, "Transfer-Encoding: chunked"), "%.400s", buf);
    if (got)
        *got = buf;
    else
        free(buf);
    return fd;
}

/* True when the answer (head and chunked body, len bytes) ends with its last chunk (of
 * size 0) exactly where a chunk ends; false when the body stops before. */
static bool chunked_complete(const char *s, size_t len)
{
    const char *end = s + len, *p = strstr(s, "\r\n\r\n");
    ck_assert_ptr_nonnull(p);
    for (p += 4; p < end;) {
        char *after;
        unsigned long size = strtoul(p, &after, 16);
        const char *line_end = memchr(p, '\n', (size_t)(end - p));
        if (after == p || !line_end)
            return false;
        if (size == 0)
            return end - line_end >= 3 && !memcmp(line_end + 1, "\r\n", 2);
        p = line_end + 1 + size + 2; /* the data and its CRLF */
    }
    return false;
}

/* A slow client holds no pool connection, and one that leaves mid-stream leaves none
 * behind: the daemon's only one serves the next requests, idle in between. */
START_TEST(export_client_leaves_mid_stream)
{
    struct daemon d;
    char key[64];
    own_daemon("ll_export_leave", 3000, 2000, &d, key);
    int fd = start_export(&d, key, NULL);
    /* while its bytes wait for the client, the export holds no pool connection */
    struct resp *w = req(&d, "GET", "/v1/leads?limit=1", key, NULL, NULL, 0);
    ck_assert_msg(w->status == 200, "during the export: %ld %s", w->status, w->body);
    resp_free(w);
    close(fd);
    /* the next request needs the only pool connection */
    struct resp *r = req(&d, "GET", "/v1/leads?limit=1", key, NULL, NULL, 0);
    ck_assert_msg(r->status == 200, "after the client left: %ld %s", r->status, r->body);
    resp_free(r);
    PGconn *pg = pg_db("ll_export_leave");
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                 " current_database() AND pid <> pg_backend_pid()"
                                 " AND state LIKE 'idle in transaction%'"),
                     0);
    PQfinish(pg);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* The database fails mid-stream: the answer cannot turn into a problem any more, so the
 * connection closes before the chunked body's last chunk; the daemon goes on. */
START_TEST(export_database_fails_mid_stream)
{
    struct daemon d;
    char key[64];
    bool closed;
    own_daemon("ll_export_fail", 3000, 2000, &d, key);
    char *begun;
    int fd = start_export(&d, key, &begun);
    /* the database goes away: its connections end, and no new one is let in (a page
     * takes a connection from the pool, which would otherwise replace a broken one) */
    PGconn *admin = pg_db("postgres");
    pg_ok(admin, "ALTER DATABASE ll_export_fail ALLOW_CONNECTIONS false");
    ck_assert_int_ge(pg_long(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                    " WHERE datname = 'll_export_fail'"
                                    " AND backend_type = 'client backend'"),
                     1);
    char *rest = sock_read_until_close(fd, 30000, &closed);
    size_t n1 = strlen(begun), n2 = strlen(rest);
    char *all = malloc(n1 + n2 + 1);
    ck_assert_ptr_nonnull(all);
    memcpy(all, begun, n1);
    memcpy(all + n1, rest, n2 + 1);
    ck_assert_msg(closed, "the connection stays open");
    ck_assert_msg(n1 + n2 < 3000 * 2000, "the whole export came (%zu bytes)", n1 + n2);
    ck_assert_msg(!chunked_complete(all, n1 + n2), "the body ends with its last chunk");
    /* (the reader tells the two apart: a whole body, and one cut inside a chunk) */
    static const char whole[] = "HTTP/1.1 200 OK\r\n\r\n5\r\n,10\r\n\r\n0\r\n\r\n";
    ck_assert(chunked_complete(whole, sizeof whole - 1));
    ck_assert(!chunked_complete(whole, sizeof whole - 6));
    free(all);
    free(begun);
    free(rest);
    close(fd);
    pg_ok(admin, "ALTER DATABASE ll_export_fail ALLOW_CONNECTIONS true");
    PQfinish(admin);
    /* the daemon is up, its connection reset */
    struct resp *r = NULL;
    for (int i = 0; i < 3 && (!r || r->status != 200); i++) {
        resp_free(r);
        r = req(&d, "GET", "/v1/leads?limit=1", key, NULL, NULL, 0);
    }
    ck_assert_msg(r->status == 200, "after the failure: %ld %s", r->status, r->body);
    resp_free(r);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
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
    TCase *e = tcase_create("export");
    tcase_set_timeout(e, 300);
    tcase_add_test(e, export_lists_every_match_and_imports_back);
    tcase_add_test(e, export_negotiates_and_refuses_paging);
    tcase_add_test(e, export_streams_twenty_thousand_leads);
    tcase_add_test(e, export_client_leaves_mid_stream);
    tcase_add_test(e, export_database_fails_mid_stream);
    suite_add_tcase(s, e);
    return s;
}
