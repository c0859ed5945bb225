/* The audit log: every kind of write leaves its row (who, request, route, the changed fields
 * old and new) in its own transaction, a no-op, refused or rolled-back write leaves none,
 * no secret ever reaches it, only admin keys of its own workspace read it, it pages like
 * every list, old rows go after the retention period, and the context a request gives its
 * pooled connection never reaches the next request. Each test works in workspaces of its
 * own and names its requests with X-Request-Id values made for this run. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "suites.h"
#include "support.h"

/* A request id no other run or test makes. */
static const char *rid(const char *tag)
{
    static char buf[8][96];
    static int n;
    struct timespec ts;
    char *out = buf[n++ % 8];
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, sizeof buf[0], "audit-%s-%d-%lx", tag, (int)getpid(), (unsigned long)ts.tv_nsec);
    return out;
}

/* A request on d with X-Request-Id: id and, when body is given, a JSON body. */
static struct resp *call_on(struct daemon *d, const char *method, const char *path, const char *key,
                            const char *body, const char *id)
{
    char h_id[160];
    const char *h[3] = {h_id, NULL, NULL};
    snprintf(h_id, sizeof h_id, "X-Request-Id: %s", id);
    if (body)
        h[1] = !strcmp(method, "PATCH") ? "Content-Type: application/merge-patch+json"
                                        : "Content-Type: application/json";
    return req(d, method, path, key, h, body, body ? strlen(body) : 0);
}

static struct resp *call(const char *method, const char *path, const char *key, const char *body,
                         const char *id)
{
    return call_on(&main_daemon, method, path, key, body, id);
}

static void expect_status(const struct resp *r, long status, const char *what)
{
    ck_assert_msg(r->status == status, "%s: expected %ld, got %ld: %.1500s", what, status,
                  r->status, r->body);
}

/* The id of what r created (its "id"), into out. */
static void created(struct resp *r, const char *what, char out[64])
{
    expect_status(r, 201, what);
    snprintf(out, 64, "%s", jstr(r, "id"));
    resp_free(r);
}

/* The rows GET /v1/audit?query answers with key (all of them: the test's rows fit a page);
 * a new reference. */
static json_t *audit_rows(const char *key, const char *query)
{
    char path[700];
    snprintf(path, sizeof path, "/v1/audit?limit=500%s%s", *query ? "&" : "", query);
    struct resp *r = get(path, key);
    ck_assert_msg(r->status == 200, "GET %s: %ld %.1500s", path, r->status, r->body);
    ck_assert_msg(json_is_null(json_object_get(r->json, "next_cursor")),
                  "GET %s: more than one page", path);
    json_t *rows = json_incref(json_object_get(r->json, "data"));
    resp_free(r);
    return rows;
}

/* The rows a request wrote. */
static json_t *rows_of(const char *key, const char *request_id)
{
    char q[200];
    snprintf(q, sizeof q, "request_id=%s", request_id);
    return audit_rows(key, q);
}

static const char *sget(json_t *o, const char *path)
{
    /* "a.b": a member of a member */
    char first[64];
    const char *dot = strchr(path, '.');
    if (dot) {
        snprintf(first, sizeof first, "%.*s", (int)(dot - path), path);
        return sget(json_object_get(o, first), dot + 1);
    }
    json_t *v = json_object_get(o, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The one row of rows with this entity (and operation when not NULL); fails if not one. */
static json_t *row_for(json_t *rows, const char *entity, const char *operation)
{
    json_t *found = NULL, *row;
    size_t i, n = 0;
    json_array_foreach(rows, i, row)
    {
        if (strcmp(sget(row, "entity"), entity) ||
            (operation && strcmp(sget(row, "operation"), operation)))
            continue;
        found = row;
        n++;
    }
    char *text = json_dumps(rows, JSON_INDENT(1));
    ck_assert_msg(n == 1, "expected one %s %s row, found %zu in %.2000s", entity,
                  operation ? operation : "", n, text);
    free(text);
    return found;
}

/* The field names of the object o (its keys, sorted, comma-separated) into out. */
static const char *keys_of(json_t *o, char *out, size_t cap)
{
    const char *k;
    json_t *v;
    const char *names[64];
    size_t n = 0, len = 0;
    out[0] = '\0';
    json_object_foreach(o, k, v)
    {
        if (n < 64)
            names[n++] = k;
    }
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
            const char *t = names[b];
            names[b] = names[b - 1];
            names[b - 1] = t;
        }
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", names[i]);
    return out;
}

/* The row's changed fields: old's and new's keys must be `fields` (NULL: that side is null). */
static void expect_fields(json_t *row, const char *old_fields, const char *new_fields)
{
    char got[512];
    json_t *o = json_object_get(row, "old"), *n = json_object_get(row, "new");
    char *text = json_dumps(row, JSON_COMPACT);
    if (!old_fields)
        ck_assert_msg(json_is_null(o), "old must be null: %.1500s", text);
    else
        ck_assert_msg(json_is_object(o) && !strcmp(keys_of(o, got, sizeof got), old_fields),
                      "old: expected fields %s, got %s: %.1500s", old_fields, got, text);
    if (!new_fields)
        ck_assert_msg(json_is_null(n), "new must be null: %.1500s", text);
    else
        ck_assert_msg(json_is_object(n) && !strcmp(keys_of(n, got, sizeof got), new_fields),
                      "new: expected fields %s, got %s: %.1500s", new_fields, got, text);
    free(text);
}

/* A value of old or new, as compact JSON text (static), "(absent)" when missing. */
static const char *val(json_t *row, const char *side, const char *field)
{
    static char buf[4][256];
    static int n;
    char *out = buf[n++ % 4];
    json_t *v = json_object_get(json_object_get(row, side), field);
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(out, sizeof buf[0], "%s", text ? text : "(absent)");
    free(text);
    return out;
}

/* Who and through which request: the key (its id and prefix, its user), the request id, the
 * client, the method and the route pattern. */
static void expect_who(json_t *row, const char *key_secret, const char *user_id, const char *id,
                       const char *method, const char *route)
{
    char prefix[16], *key_id;
    PGconn *pg = pg_test();
    snprintf(prefix, sizeof prefix, "%.12s", key_secret);
    key_id = pg_value_p(pg, "SELECT id FROM api_keys WHERE prefix = $1", prefix);
    char *text = json_dumps(row, JSON_COMPACT);
    ck_assert_msg(!strcmp(sget(row, "actor.type"), "api_key") &&
                      !strcmp(sget(row, "actor.api_key_id"), key_id) &&
                      !strcmp(sget(row, "actor.api_key_prefix"), prefix),
                  "actor: expected key %s (%s): %.1500s", key_id, prefix, text);
    if (user_id)
        ck_assert_msg(sget(row, "actor.user_id") && !strcmp(sget(row, "actor.user_id"), user_id),
                      "actor.user_id: expected %s: %.1500s", user_id, text);
    else
        ck_assert_msg(json_is_null(json_object_get(json_object_get(row, "actor"), "user_id")),
                      "actor.user_id: expected null: %.1500s", text);
    ck_assert_msg(!strcmp(sget(row, "request.id"), id) &&
                      !strcmp(sget(row, "request.method"), method) &&
                      !strcmp(sget(row, "request.route"), route) &&
                      !strcmp(sget(row, "request.client_addr"), "127.0.0.1"),
                  "request: expected %s %s %s from 127.0.0.1: %.1500s", id, method, route, text);
    free(text);
    free(key_id);
    PQfinish(pg);
}

START_TEST(users_and_keys_are_recorded_with_who_changed_what)
{
    char adm[64], uid[64], kid[64], path[128], body[256];
    const char *id;
    json_t *rows, *row;
    ck_assert(workspace_key("audit-people", "admin", adm));

    id = rid("user");
    created(call("POST", "/v1/users", adm,
                 "{\"name\":\"Audit Person\",\"email\":\"audit.person@example.com\","
                 "\"team\":\"marketing\"}",
                 id),
            "create user", uid);
    rows = rows_of(adm, id);
    ck_assert_int_eq(json_array_size(rows), 1);
    row = row_for(rows, "user", "create");
    expect_who(row, adm, NULL, id, "POST", "/v1/users");
    ck_assert_str_eq(sget(row, "entity_id"), uid);
    expect_fields(row, NULL, "active,email,name,role,team");
    ck_assert_str_eq(val(row, "new", "email"), "\"audit.person@example.com\"");
    json_decref(rows);

    /* an update records the fields that changed, not those sent with their old value */
    snprintf(path, sizeof path, "/v1/users/%s", uid);
    id = rid("user-patch");
    struct resp *r = call("PATCH", path, adm, "{\"name\":\"Audit Person\",\"team\":\"sales\"}", id);
    expect_status(r, 200, "patch user");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "user", "update");
    expect_fields(row, "team", "team");
    ck_assert_str_eq(val(row, "old", "team"), "\"marketing\"");
    ck_assert_str_eq(val(row, "new", "team"), "\"sales\"");
    json_decref(rows);

    /* a key of the user: its writes name the user too */
    id = rid("key");
    snprintf(body, sizeof body, "{\"name\":\"seller key\",\"role\":\"sales\",\"user_id\":\"%s\"}",
             uid);
    r = call("POST", "/v1/api-keys", adm, body, id);
    expect_status(r, 201, "create key");
    snprintf(kid, sizeof kid, "%s", jstr(r, "id"));
    char seller[64];
    snprintf(seller, sizeof seller, "%s", jstr(r, "secret"));
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "api_key", "create");
    expect_fields(row, NULL, "can_import,name,prefix,role,user_id");
    ck_assert_str_eq(sget(row, "entity_id"), kid);
    json_decref(rows);

    char lead[64];
    id = rid("seller-lead");
    created(call("POST", "/v1/leads", seller, "{\"email\":\"audit.by.seller@example.com\"}", id),
            "a lead by the seller", lead);
    rows = rows_of(adm, id);
    row = row_for(rows, "lead", "create");
    expect_who(row, seller, uid, id, "POST", "/v1/leads");
    json_decref(rows);

    /* a key's name and rate limit */
    snprintf(path, sizeof path, "/v1/api-keys/%s", kid);
    id = rid("key-patch");
    r = call("PATCH", path, adm,
             "{\"name\":\"seller key 2\",\"rate_limit\":{\"per_second\":5,\"burst\":10}}", id);
    expect_status(r, 200, "patch key");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "api_key", "update");
    expect_fields(row, "name,rate_burst,rate_per_s", "name,rate_burst,rate_per_s");
    ck_assert_str_eq(val(row, "old", "name"), "\"seller key\"");
    ck_assert_str_eq(val(row, "new", "rate_per_s"), "5");
    json_decref(rows);

    /* revocation */
    id = rid("revoke");
    r = call("DELETE", path, adm, NULL, id);
    expect_status(r, 204, "revoke");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "api_key", "revoke");
    expect_who(row, adm, NULL, id, "DELETE", "/v1/api-keys/{id}");
    expect_fields(row, "revoked_at", "revoked_at");
    json_decref(rows);
}
END_TEST

START_TEST(campaigns_leads_and_their_lifecycle_are_recorded)
{
    char adm[64], camp[64], lead[64], path[160], body[512];
    const char *id;
    json_t *rows, *row;
    struct resp *r;
    ck_assert(workspace_key("audit-leads", "admin", adm));

    id = rid("campaign");
    created(call("POST", "/v1/campaigns", adm,
                 "{\"name\":\"Audit webinar\",\"channel\":\"webinar\",\"budget\":1000}", id),
            "campaign", camp);
    rows = rows_of(adm, id);
    row = row_for(rows, "campaign", "create");
    ck_assert_str_eq(val(row, "new", "budget"), "1000");
    json_decref(rows);
    snprintf(path, sizeof path, "/v1/campaigns/%s", camp);
    id = rid("campaign-patch");
    r = call("PATCH", path, adm, "{\"name\":\"Audit webinar\",\"budget\":2500}", id);
    expect_status(r, 200, "patch campaign");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "campaign", "update");
    expect_fields(row, "budget", "budget");
    ck_assert_str_eq(val(row, "old", "budget"), "1000");
    ck_assert_str_eq(val(row, "new", "budget"), "2500");
    json_decref(rows);

    /* a lead with a campaign: the lead, its first stage row and its created touch */
    id = rid("lead");
    snprintf(body, sizeof body,
             "{\"email\":\"audit.lead@example.com\",\"company\":\"Acme\",\"campaign_id\":\"%s\"}",
             camp);
    created(call("POST", "/v1/leads", adm, body, id), "lead", lead);
    rows = rows_of(adm, id);
    ck_assert_int_eq(json_array_size(rows), 3);
    row = row_for(rows, "lead", "create");
    expect_who(row, adm, NULL, id, "POST", "/v1/leads");
    ck_assert_str_eq(sget(row, "entity_id"), lead);
    ck_assert_str_eq(sget(row, "lead_id"), lead);
    ck_assert_str_eq(val(row, "new", "email"), "\"audit.lead@example.com\"");
    ck_assert_str_eq(val(row, "new", "company"), "\"Acme\"");
    ck_assert_str_eq(val(row, "new", "stage"), "\"new\"");
    ck_assert_str_eq(val(row, "new", "title"), "(absent)"); /* a create shows what it set */
    row = row_for(rows, "stage_change", "create");
    ck_assert_str_eq(val(row, "new", "to_stage"), "\"new\"");
    ck_assert_str_eq(sget(row, "lead_id"), lead);
    row = row_for(rows, "touch", "create");
    ck_assert_str_eq(val(row, "new", "kind"), "\"created\"");
    json_decref(rows);

    /* PATCH: only what changed */
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    id = rid("lead-patch");
    r = call("PATCH", path, adm, "{\"company\":\"Acme\",\"title\":\"CTO\",\"score\":40}", id);
    expect_status(r, 200, "patch lead");
    resp_free(r);
    rows = rows_of(adm, id);
    ck_assert_int_eq(json_array_size(rows), 1);
    row = row_for(rows, "lead", "update");
    expect_who(row, adm, NULL, id, "PATCH", "/v1/leads/{id}");
    expect_fields(row, "score,title", "score,title");
    ck_assert_str_eq(val(row, "old", "title"), "null");
    ck_assert_str_eq(val(row, "new", "title"), "\"CTO\"");
    json_decref(rows);

    /* a transition: the lead's stage and the history row with its reason */
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", lead);
    id = rid("transition");
    r = call("POST", path, adm, "{\"to\":\"mql\",\"reason\":\"asked for a demo\"}", id);
    expect_status(r, 201, "transition");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "lead", "transition");
    expect_who(row, adm, NULL, id, "POST", "/v1/leads/{id}/transitions");
    ck_assert_str_eq(val(row, "old", "stage"), "\"new\"");
    ck_assert_str_eq(val(row, "new", "stage"), "\"mql\"");
    row = row_for(rows, "stage_change", "create");
    ck_assert_str_eq(val(row, "new", "reason"), "\"asked for a demo\"");
    json_decref(rows);

    /* feedback: the event, and the stage it moves */
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lead);
    id = rid("feedback");
    r = call("POST", path, adm, "{\"kind\":\"accepted\",\"rating\":5,\"note\":\"keen\"}", id);
    expect_status(r, 201, "feedback");
    resp_free(r);
    rows = rows_of(adm, id);
    ck_assert_int_eq(json_array_size(rows), 3);
    row = row_for(rows, "feedback", "create");
    ck_assert_str_eq(val(row, "new", "note"), "\"keen\"");
    ck_assert_str_eq(val(row, "new", "rating"), "5");
    ck_assert_str_eq(sget(row, "lead_id"), lead);
    row = row_for(rows, "lead", "transition");
    ck_assert_str_eq(val(row, "new", "stage"), "\"sales_accepted\"");
    row_for(rows, "stage_change", "create");
    json_decref(rows);

    /* a touch */
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", camp);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"attended\"}", lead);
    id = rid("touch");
    r = call("POST", path, adm, body, id);
    expect_status(r, 201, "touch");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "touch", "create");
    expect_who(row, adm, NULL, id, "POST", "/v1/campaigns/{id}/touches");
    ck_assert_str_eq(val(row, "new", "kind"), "\"attended\"");
    json_decref(rows);

    /* the sync path: PUT by email creates, then updates */
    id = rid("put");
    r = call("PUT", "/v1/leads/by-email/audit.put@example.com", adm, "{\"title\":\"CFO\"}", id);
    expect_status(r, 201, "put creates");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "lead", "create");
    expect_who(row, adm, NULL, id, "PUT", "/v1/leads/by-email/{email}");
    json_decref(rows);

    /* archiving a campaign */
    snprintf(path, sizeof path, "/v1/campaigns/%s", camp);
    id = rid("archive");
    r = call("DELETE", path, adm, NULL, id);
    expect_status(r, 204, "archive");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "campaign", "archive");
    expect_fields(row, "status", "status");
    json_decref(rows);

    /* everything about the lead, newest first, through its subject */
    char q[128];
    snprintf(q, sizeof q, "lead_id=%s", lead);
    rows = audit_rows(adm, q);
    ck_assert_msg(json_array_size(rows) >= 10, "the lead's rows: %zu", json_array_size(rows));
    json_t *first = json_array_get(rows, 0),
           *last = json_array_get(rows, json_array_size(rows) - 1);
    ck_assert_msg(strcmp(sget(first, "created_at"), sget(last, "created_at")) >= 0,
                  "newest first: %s .. %s", sget(first, "created_at"), sget(last, "created_at"));
    json_decref(rows);
    snprintf(q, sizeof q, "entity=campaign&entity_id=%s", camp);
    rows = audit_rows(adm, q);
    ck_assert_int_eq(json_array_size(rows), 3); /* create, update, archive */
    json_decref(rows);
}
END_TEST

START_TEST(catalogue_workspace_and_bulk_writes_are_recorded)
{
    char adm[64];
    const char *id;
    json_t *rows, *row;
    struct resp *r;
    ck_assert(workspace_key("audit-catalogue", "admin", adm));

    id = rid("reason");
    r = call("POST", "/v1/feedback-reasons", adm,
             "{\"code\":\"audit_reason\",\"label\":\"Audit\",\"kinds\":[\"rejected\"]}", id);
    expect_status(r, 201, "reason");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "feedback_reason", "create");
    ck_assert_str_eq(sget(row, "entity_id"), "audit_reason");
    json_decref(rows);
    id = rid("reason-patch");
    r = call("PATCH", "/v1/feedback-reasons/audit_reason", adm, "{\"label\":\"Audited\"}", id);
    expect_status(r, 200, "reason patch");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "feedback_reason", "update");
    expect_fields(row, "label", "label");
    json_decref(rows);

    id = rid("workspace");
    r = call("PATCH", "/v1/workspace", adm, "{\"name\":\"Audit catalogue\"}", id);
    expect_status(r, 200, "workspace");
    resp_free(r);
    rows = rows_of(adm, id);
    row = row_for(rows, "workspace", "update");
    expect_who(row, adm, NULL, id, "PATCH", "/v1/workspace");
    expect_fields(row, "name", "name");
    ck_assert_str_eq(val(row, "new", "name"), "\"Audit catalogue\"");
    json_decref(rows);

    /* a batch: one row per written row, in the batch's statement */
    char body[4096];
    size_t len = (size_t)snprintf(body, sizeof body, "{\"leads\":[");
    for (int i = 0; i < 20; i++)
        len += (size_t)snprintf(body + len, sizeof body - len,
                                "%s{\"email\":\"audit.batch.%d@example.com\",\"title\":\"T%d\"}",
                                i ? "," : "", i, i);
    snprintf(body + len, sizeof body - len, "]}");
    id = rid("batch");
    r = call("POST", "/v1/leads/batch", adm, body, id);
    expect_status(r, 200, "batch");
    resp_free(r);
    char q[200];
    snprintf(q, sizeof q, "request_id=%s&entity=lead&operation=create", id);
    rows = audit_rows(adm, q);
    ck_assert_int_eq(json_array_size(rows), 20);
    expect_who(json_array_get(rows, 0), adm, NULL, id, "POST", "/v1/leads/batch");
    json_decref(rows);
    snprintf(q, sizeof q, "request_id=%s&entity=stage_change", id);
    rows = audit_rows(adm, q);
    ck_assert_int_eq(json_array_size(rows), 20);
    json_decref(rows);

    /* an import that updates one of them: its changed fields only */
    const char csv[] = "email,title,company\r\naudit.batch.3@example.com,T3,Imported\r\n";
    char h_id[160];
    id = rid("import");
    snprintf(h_id, sizeof h_id, "X-Request-Id: %s", id);
    const char *h[] = {"Content-Type: text/csv", h_id, NULL};
    r = req(&main_daemon, "POST", "/v1/leads/import?mode=upsert", adm, h, csv, strlen(csv));
    expect_status(r, 200, "import");
    resp_free(r);
    rows = rows_of(adm, id);
    ck_assert_int_eq(json_array_size(rows), 1);
    row = row_for(rows, "lead", "update");
    expect_fields(row, "company", "company");
    json_decref(rows);
}
END_TEST

START_TEST(no_op_refused_and_read_requests_record_nothing)
{
    char adm[64], ro[64], lead[64], path[160], body[256];
    struct resp *r;
    json_t *rows;
    ck_assert(workspace_key("audit-noop", "admin", adm));
    ck_assert(workspace_key("audit-noop", "readonly", ro));
    created(call("POST", "/v1/leads", adm,
                 "{\"email\":\"audit.noop@example.com\",\"title\":\"CTO\",\"score\":10}",
                 rid("noop-create")),
            "lead", lead);
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    struct {
        const char *method, *path, *key, *body;
        long status;
    } cases[] = {
        {"PATCH", path, adm, "{\"title\":\"CTO\",\"score\":10}", 200}, /* the values it has */
        {"PATCH", path, adm, "{}", 200},
        {"PATCH", path, adm, "{\"score\":500}", 422},
        {"POST", "/v1/leads", adm, "{\"email\":\"audit.noop@example.com\"}", 409},
        {"POST", "/v1/leads", ro, "{\"email\":\"audit.noop.ro@example.com\"}", 403},
        {"POST", "/v1/leads", adm, "{\"email\":\"not an email\"}", 422},
        {"GET", path, adm, NULL, 200},
        {"GET", "/v1/leads?limit=5", adm, NULL, 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *id = rid("noop");
        r = call(cases[i].method, cases[i].path, cases[i].key, cases[i].body, id);
        snprintf(body, sizeof body, "%s %s %s", cases[i].method, cases[i].path,
                 cases[i].body ? cases[i].body : "");
        expect_status(r, cases[i].status, body);
        resp_free(r);
        rows = rows_of(adm, id);
        ck_assert_msg(json_array_size(rows) == 0, "%s wrote %zu audit rows", body,
                      json_array_size(rows));
        json_decref(rows);
    }
    /* the no-op writes kept the lead's version, so that a stale tag is one it never had */
    const char *id = rid("noop-stale");
    char h_id[160];
    snprintf(h_id, sizeof h_id, "X-Request-Id: %s", id);
    const char *h[] = {"Content-Type: application/merge-patch+json", "If-Match: \"7\"", h_id, NULL};
    r = req(&main_daemon, "PATCH", path, adm, h, "{\"title\":\"CEO\"}", 15);
    expect_status(r, 412, "stale If-Match");
    resp_free(r);
    rows = rows_of(adm, id);
    ck_assert_int_eq(json_array_size(rows), 0);
    json_decref(rows);
}
END_TEST

START_TEST(rolled_back_writes_leave_no_row)
{
    char adm[64], q[300];
    json_t *rows;
    struct resp *r;
    ck_assert(workspace_key("audit-rollback", "admin", adm));
    /* The batch's statement fails on the unknown owner and is undone whole, then run lead by
     * lead: the two good leads are recorded once each, the bad one not at all. */
    const char *id = rid("rollback-batch");
    r = call("POST", "/v1/leads/batch", adm,
             "{\"leads\":[{\"email\":\"audit.rb.1@example.com\"},"
             "{\"email\":\"audit.rb.2@example.com\","
             "\"owner_id\":\"00000000-0000-4000-8000-000000000000\"},"
             "{\"email\":\"audit.rb.3@example.com\"}]}",
             id);
    expect_status(r, 200, "batch with a bad owner");
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "created")), 2);
    resp_free(r);
    snprintf(q, sizeof q, "request_id=%s&entity=lead", id);
    rows = audit_rows(adm, q);
    ck_assert_int_eq(json_array_size(rows), 2);
    char *text = json_dumps(rows, JSON_COMPACT);
    ck_assert_msg(strstr(text, "audit.rb.1@") && strstr(text, "audit.rb.3@") &&
                      !strstr(text, "audit.rb.2@"),
                  "the good leads only: %.1500s", text);
    free(text);
    json_decref(rows);
    snprintf(q, sizeof q, "request_id=%s", id);
    rows = audit_rows(adm, q);
    ck_assert_int_eq(json_array_size(rows), 4); /* and their first stage rows */
    json_decref(rows);

    /* an operator's transaction that rolls back leaves nothing; one that commits is
     * recorded as `sql`, with the database role */
    PGconn *pg = pg_test();
    char *ws = pg_value(pg, "SELECT id FROM workspaces WHERE slug = 'audit-rollback'");
    char sql[400];
    snprintf(sql, sizeof sql,
             "INSERT INTO campaigns (workspace_id, name, channel) VALUES ('%s', 'rolled back',"
             " 'email')",
             ws);
    pg_ok(pg, "BEGIN");
    pg_ok(pg, sql);
    pg_ok(pg, "ROLLBACK");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE workspace_id = '%s' AND entity = 'campaign'",
             ws);
    ck_assert_int_eq(pg_long(pg, sql), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO campaigns (workspace_id, name, channel) VALUES ('%s', 'by hand',"
             " 'email')",
             ws);
    pg_ok(pg, sql);
    rows = audit_rows(adm, "entity=campaign&actor=sql");
    ck_assert_int_eq(json_array_size(rows), 1);
    json_t *row = json_array_get(rows, 0);
    char *role = pg_value(pg, "SELECT session_user");
    ck_assert_str_eq(sget(row, "actor.db_user"), role);
    ck_assert_msg(json_is_null(json_object_get(json_object_get(row, "actor"), "api_key_id")) &&
                      json_is_null(json_object_get(json_object_get(row, "request"), "id")),
                  "an operator's write has no key and no request");
    ck_assert_str_eq(val(row, "new", "name"), "\"by hand\"");
    json_decref(rows);
    free(role);
    free(ws);
    PQfinish(pg);
}
END_TEST

START_TEST(the_commands_are_recorded_as_cli)
{
    char adm[64];
    ck_assert(workspace_key("audit-cli", "admin", adm));
    json_t *rows = audit_rows(adm, "actor=cli&entity=api_key");
    json_t *row = json_array_get(rows, 0);
    ck_assert_msg(row && !strcmp(sget(row, "request.route"), "keys create") &&
                      !strcmp(sget(row, "operation"), "create"),
                  "the key made by leadloopd keys create");
    json_decref(rows);
    rows = audit_rows(adm, "actor=cli&entity=workspace");
    ck_assert_int_eq(json_array_size(rows), 1);
    ck_assert_str_eq(sget(json_array_get(rows, 0), "request.route"), "workspace create");
    json_decref(rows);
}
END_TEST

START_TEST(secrets_never_reach_the_audit_log)
{
    char adm[64], secret[64], sql[300];
    ck_assert(workspace_key("audit-secrets", "admin", adm));
    struct resp *r = post("/v1/api-keys", adm, "{\"name\":\"secret keeper\",\"role\":\"admin\"}");
    expect_status(r, 201, "key");
    snprintf(secret, sizeof secret, "%s", jstr(r, "secret"));
    resp_free(r);
    ck_assert_int_eq(strlen(secret), 47);
    PGconn *pg = pg_test();
    char *hash = pg_value_p(
        pg, "SELECT encode(key_hash, 'hex') FROM api_keys WHERE prefix = left($1, 12)", secret);
    const char *needles[] = {secret, adm, hash, secret + 12, adm + 12};
    for (int i = 0; i < 5; i++) {
        char *n = pg_value_p(pg,
                             "SELECT count(*) FROM audit_log a WHERE strpos(lower(a::text),"
                             " lower($1)) > 0",
                             needles[i]);
        ck_assert_msg(atol(n) == 0, "%s rows of the audit log hold a key's secret or hash", n);
        free(n);
    }
    ck_assert_int_eq(
        pg_long(pg, "SELECT count(*) FROM audit_log WHERE old ? 'key_hash' OR new ? 'key_hash'"),
        0);
    /* The rule holds for every audited table, also after a migration adds a column: each
     * column named like a secret is one its trigger never records. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_trigger t JOIN pg_attribute a ON a.attrelid = t.tgrelid"
             " WHERE t.tgname = 'audit' AND a.attnum > 0 AND NOT a.attisdropped"
             " AND a.attname ~* '(hash|secret|password|passwd|token|salt)'"
             " AND NOT a.attname::text = ANY (string_to_array(encode(t.tgargs, 'escape'),"
             " '\\000'))");
    ck_assert_int_eq(pg_long(pg, sql), 0);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit'"), 13);
    free(hash);
    PQfinish(pg);
}
END_TEST

START_TEST(only_admin_keys_read_it_and_only_their_workspace)
{
    char adm[64], mk[64], sales[64], ro[64], lead[64], q[160];
    ck_assert(workspace_key("audit-roles", "admin", adm));
    ck_assert(workspace_key("audit-roles", "marketing", mk));
    ck_assert(workspace_key("audit-roles", "sales", sales));
    ck_assert(workspace_key("audit-roles", "readonly", ro));
    const char *keys[] = {mk, sales, ro};
    for (int i = 0; i < 3; i++) {
        struct resp *r = get("/v1/audit", keys[i]);
        assert_problem(r, 403, "forbidden");
        resp_free(r);
    }
    created(call("POST", "/v1/leads", adm, "{\"email\":\"audit.roles@example.com\"}", rid("roles")),
            "lead", lead);
    snprintf(q, sizeof q, "lead_id=%s", lead);
    json_t *rows = audit_rows(adm, q);
    ck_assert_int_eq(json_array_size(rows), 2);
    json_decref(rows);
    /* another workspace's admin: none of it, by id or in its whole log */
    rows = audit_rows(other_admin_key, q);
    ck_assert_int_eq(json_array_size(rows), 0);
    json_decref(rows);
    snprintf(q, sizeof q, "entity=lead&entity_id=%s", lead);
    rows = audit_rows(other_admin_key, q);
    ck_assert_int_eq(json_array_size(rows), 0);
    json_decref(rows);
    struct resp *r = get("/v1/audit?limit=500", other_admin_key);
    expect_status(r, 200, "the other workspace's log");
    ck_assert_msg(!strstr(r->body, lead) && !strstr(r->body, "audit.roles@"),
                  "another workspace's rows are visible");
    resp_free(r);
}
END_TEST

START_TEST(the_log_pages_and_filters_like_every_list)
{
    char adm[64], body[256], ids[9][64];
    ck_assert(workspace_key("audit-paging", "admin", adm));
    for (int i = 0; i < 9; i++) {
        snprintf(body, sizeof body,
                 "{\"name\":\"Pager %d\",\"email\":\"audit.pager.%d@example.com\","
                 "\"team\":\"sales\"}",
                 i, i);
        created(call("POST", "/v1/users", adm, body, rid("page")), "user", ids[i]);
    }
    json_t *all = audit_rows(adm, "entity=user");
    ck_assert_int_eq(json_array_size(all), 9);
    /* newest first, then pages of 4 that follow next_cursor and the Link header */
    char path[1024];
    size_t seen = 0;
    snprintf(path, sizeof path, "/v1/audit?entity=user&limit=4");
    for (int page = 0; page < 5; page++) {
        struct resp *r = get(path, adm);
        expect_status(r, 200, path);
        json_t *data = json_object_get(r->json, "data"), *row;
        size_t i;
        json_array_foreach(data, i, row)
        {
            ck_assert_msg(seen < 9, "more rows than written");
            ck_assert_str_eq(sget(row, "id"), sget(json_array_get(all, seen), "id"));
            seen++;
        }
        json_t *next = json_object_get(r->json, "next_cursor");
        char *link = resp_header(r, "Link");
        if (json_is_null(next)) {
            ck_assert_msg(!link, "no Link on the last page");
            resp_free(r);
            break;
        }
        ck_assert_msg(link && strstr(link, json_string_value(next)) && strstr(link, "entity=user"),
                      "Link: %s", link ? link : "(none)");
        snprintf(path, sizeof path, "/v1/audit?entity=user&limit=4&cursor=%s",
                 json_string_value(next));
        free(link);
        resp_free(r);
    }
    ck_assert_int_eq(seen, 9);
    /* oldest first, and a window */
    json_t *asc = audit_rows(adm, "entity=user&sort=created_at");
    ck_assert_str_eq(sget(json_array_get(asc, 0), "id"), sget(json_array_get(all, 8), "id"));
    char q[300];
    const char *since = sget(json_array_get(asc, 3), "created_at");
    const char *until = sget(json_array_get(asc, 6), "created_at");
    snprintf(q, sizeof q, "entity=user&since=%s&until=%s", since, until);
    json_t *window = audit_rows(adm, q);
    ck_assert_int_eq(json_array_size(window), 3);
    json_decref(window);
    snprintf(q, sizeof q, "entity=user&entity_id=%s", ids[4]);
    window = audit_rows(adm, q);
    ck_assert_int_eq(json_array_size(window), 1);
    json_decref(window);
    json_decref(asc);
    json_decref(all);

    /* what a list refuses */
    static const struct {
        const char *query, *param;
    } bad[] = {{"nope=1", "nope"},
               {"entity=planet", "entity"},
               {"operation=explode", "operation"},
               {"actor=robot", "actor"},
               {"lead_id=42", "lead_id"},
               {"api_key_id=x", "api_key_id"},
               {"user_id=x", "user_id"},
               {"since=yesterday", "since"},
               {"until=2026-13-01", "until"},
               {"limit=0", "limit"},
               {"cursor=bm9wZQ", "cursor"},
               {"sort=entity", "sort"},
               {"request_id=%20", "request_id"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/v1/audit?%s", bad[i].query);
        struct resp *r = get(path, adm);
        assert_problem(r, 400, "invalid-parameter");
        ck_assert_msg(problem_names(r, bad[i].param), "%s: names %s: %.1500s", path, bad[i].param,
                      r->body);
        resp_free(r);
    }
}
END_TEST

static PGconn *janitor_pg;
static char janitor_ws[64];

static bool old_rows_gone(void *arg)
{
    (void)arg;
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE workspace_id = '%s'"
             " AND created_at < now() - interval '100 days'",
             janitor_ws);
    return pg_long(janitor_pg, sql) == 0;
}

static bool logged(void *arg)
{
    const char *path = arg;
    char buf[1 << 16];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return strstr(buf, "audit janitor: deleted") != NULL;
}

START_TEST(retention_deletes_old_rows_in_bounded_batches)
{
    char adm[64], sql[600], out[256], err[1024];
    struct daemon d;
    ck_assert(workspace_key("audit-retention", "admin", adm));
    janitor_pg = pg_test();
    char *ws = pg_value(janitor_pg, "SELECT id FROM workspaces WHERE slug = 'audit-retention'");
    snprintf(janitor_ws, sizeof janitor_ws, "%s", ws);
    free(ws);
    /* 12,000 rows 200 days old (the main daemon keeps 365 days: it leaves them) and the
     * workspace's own recent rows */
    snprintf(sql, sizeof sql,
             "INSERT INTO audit_log (workspace_id, created_at, actor, entity, entity_id,"
             " operation) SELECT '%s', now() - interval '200 days' - g * interval '1 second',"
             " 'sql', 'campaign', g::text, 'create' FROM generate_series(1, 12000) g",
             janitor_ws);
    pg_ok(janitor_pg, sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_log WHERE workspace_id = '%s'",
             janitor_ws);
    long recent = pg_long(janitor_pg, sql) - 12000;
    ck_assert_int_gt(recent, 0);

    /* a bad value stops the start, naming the variable */
    const char *bad_env[] = {"LEADLOOP_AUDIT_RETENTION_DAYS=0", NULL};
    const char *serve[] = {"serve", "--no-migrate", NULL};
    ck_assert_int_eq(run_leadloopd(serve, bad_env, out, sizeof out, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "LEADLOOP_AUDIT_RETENTION_DAYS"), "message: %s", err);

    const char *env[] = {"LEADLOOP_AUDIT_RETENTION_DAYS=30", "LEADLOOP_AUDIT_PURGE_INTERVAL_S=1",
                         NULL};
    ck_assert(daemon_start(&d, env));
    ck_assert_msg(wait_until(old_rows_gone, NULL, 30000), "the old rows are still there");
    ck_assert_msg(wait_until(logged, d.log, 10000), "the janitor logged nothing");
    ck_assert_int_eq(pg_long(janitor_pg, sql), recent);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
    /* bounded: 5,000 rows a statement, so three for these 12,000 */
    FILE *f = fopen(d.log, "r");
    char line[1024], tail[128];
    long statements = 0, deleted = 0;
    snprintf(tail, sizeof tail, "(workspace %s)", janitor_ws);
    while (f && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, "audit janitor: deleted ");
        long n = 0, s = 0;
        if (at && strstr(line, tail) &&
            sscanf(at, "audit janitor: deleted %ld rows older than 30 days in %ld", &n, &s) == 2) {
            deleted += n;
            statements += s;
        }
    }
    if (f)
        fclose(f);
    ck_assert_msg(deleted == 12000 && statements == 3,
                  "expected 12000 rows deleted in 3 statements, got %ld in %ld", deleted,
                  statements);
    PQfinish(janitor_pg);
}
END_TEST

START_TEST(a_request_context_never_reaches_the_next_request)
{
    /* One pooled connection and no key cache: every request resolves its key on the same
     * connection, and the key's last_used_at update runs before the request's own context is
     * set. A probe trigger records the context each write sees. */
    char adm[64], other[64], sql[300];
    struct daemon d;
    const char *env[] = {"LEADLOOP_DB_POOL=1", "LEADLOOP_AUTH_CACHE_TTL_S=0", NULL};
    ck_assert(workspace_key("audit-hygiene", "admin", adm));
    ck_assert(workspace_key("audit-hygiene", "admin", other));
    PGconn *pg = pg_test();
    pg_ok(pg, "SET client_min_messages = warning");
    pg_ok(pg, "DROP TABLE IF EXISTS audit_probe");
    pg_ok(pg, "CREATE TABLE audit_probe (tbl text, setting text)");
    /* on Citus the triggers fire on the workers' shards (TG_TABLE_NAME names the shard): the
     * probe's rows go to a reference table, and the trigger names its table */
    if (pg_has_citus(pg))
        pg_ok(pg, "SELECT create_reference_table('audit_probe')");
    pg_function_ok(pg,
                   "CREATE OR REPLACE FUNCTION audit_probe() RETURNS trigger LANGUAGE plpgsql AS $$"
                   " BEGIN INSERT INTO audit_probe VALUES (TG_ARGV[0],"
                   " current_setting('leadloop.audit', true)); RETURN NULL; END $$",
                   "audit_probe()");
    pg_trigger_ok(pg, "DROP TRIGGER IF EXISTS audit_probe ON api_keys");
    pg_trigger_ok(pg, "CREATE TRIGGER audit_probe AFTER UPDATE ON api_keys FOR EACH ROW"
                      " WHEN (NEW.last_used_at IS NOT NULL AND OLD.last_used_at IS NULL)"
                      " EXECUTE FUNCTION audit_probe('api_keys')");
    pg_trigger_ok(pg, "DROP TRIGGER IF EXISTS audit_probe ON users");
    pg_trigger_ok(pg, "CREATE TRIGGER audit_probe AFTER INSERT ON users FOR EACH ROW"
                      " EXECUTE FUNCTION audit_probe('users')");
    pg_ok(pg, "TRUNCATE audit_probe");
    ck_assert(daemon_start(&d, env));

    const char *id = rid("hygiene");
    struct resp *r = call_on(&d, "POST", "/v1/users", adm,
                             "{\"name\":\"Probe\",\"email\":\"audit.probe@example.com\","
                             "\"team\":\"sales\"}",
                             id);
    expect_status(r, 201, "the write");
    resp_free(r);
    char *seen = pg_value(pg, "SELECT setting FROM audit_probe WHERE tbl = 'users'");
    ck_assert_msg(strstr(seen, id), "the write sees its own context: %s", seen);
    free(seen);
    pg_ok(pg, "TRUNCATE audit_probe");

    /* the next request on the same connection, with a key whose last use is unknown */
    snprintf(sql, sizeof sql, "UPDATE api_keys SET last_used_at = NULL WHERE prefix = '%.12s'",
             other);
    pg_ok(pg, sql);
    r = call_on(&d, "GET", "/v1/users?limit=1", other, NULL, rid("hygiene-next"));
    expect_status(r, 200, "the next request");
    resp_free(r);
    seen = pg_value(pg, "SELECT coalesce(setting, '(null)') FROM audit_probe"
                        " WHERE tbl = 'api_keys'");
    ck_assert_msg(!strcmp(seen, "") || !strcmp(seen, "(null)"),
                  "the next request's writes see the previous request's context: %s", seen);
    free(seen);
    /* and a write after it records its own key, not the first */
    id = rid("hygiene-write");
    r = call_on(&d, "POST", "/v1/campaigns", other, "{\"name\":\"After\",\"channel\":\"email\"}",
                id);
    expect_status(r, 201, "a later write");
    resp_free(r);
    json_t *rows = rows_of(adm, id);
    expect_who(row_for(rows, "campaign", "create"), other, NULL, id, "POST", "/v1/campaigns");
    json_decref(rows);

    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
    pg_trigger_ok(pg, "DROP TRIGGER audit_probe ON api_keys");
    pg_trigger_ok(pg, "DROP TRIGGER audit_probe ON users");
    pg_ok(pg, "DROP TABLE audit_probe");
    pg_ok(pg, "DROP FUNCTION audit_probe()");
    PQfinish(pg);
}
END_TEST

Suite *audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("audit");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, users_and_keys_are_recorded_with_who_changed_what);
    tcase_add_test(tc, campaigns_leads_and_their_lifecycle_are_recorded);
    tcase_add_test(tc, catalogue_workspace_and_bulk_writes_are_recorded);
    tcase_add_test(tc, no_op_refused_and_read_requests_record_nothing);
    tcase_add_test(tc, rolled_back_writes_leave_no_row);
    tcase_add_test(tc, the_commands_are_recorded_as_cli);
    tcase_add_test(tc, secrets_never_reach_the_audit_log);
    tcase_add_test(tc, only_admin_keys_read_it_and_only_their_workspace);
    tcase_add_test(tc, the_log_pages_and_filters_like_every_list);
    tcase_add_test(tc, retention_deletes_old_rows_in_bounded_batches);
    tcase_add_test(tc, a_request_context_never_reaches_the_next_request);
    suite_add_tcase(s, tc);
    return s;
}
