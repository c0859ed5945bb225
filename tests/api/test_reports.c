/* Reports: a fixture built through the API with its times then set in SQL (the statement
 * triggers of migration 0005 must follow the updates), every figure of every report
 * compared with values worked out by hand from the definitions in server/reports.c and
 * sql/0005_reports.sql; precise problems for bad report parameters and bad feedback; and
 * the roles and workspaces that may read reports. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

/* ------------------------------------------------------------------ helpers */

/* Text of v for a message (a few at a time). */
static const char *js(const json_t *v)
{
    static char buf[8][1024];
    static int n;
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    char *out = buf[n++ % 8];
    snprintf(out, sizeof buf[0], "%s", s ? s : "(missing)");
    free(s);
    return out;
}

/* POSTs body to path and requires 201; copies the new resource's id into id (if given). */
static void create(const char *path, const char *key, const char *body, char id[40])
{
    struct resp *r = post(path, key, body);
    ck_assert_msg(r->status == 201, "POST %s %s: %ld %s", path, body, r->status, r->body);
    if (id) {
        ck_assert_msg(strlen(jstr(r, "id")) == 36, "POST %s: no id in %s", path, r->body);
        snprintf(id, 40, "%s", jstr(r, "id"));
    }
    resp_free(r);
}

/* Runs sql with n text parameters and requires that it changed exactly one row. */
static void sql_one(PGconn *pg, const char *sql, int n, ...)
{
    const char *vals[4];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && i < 4; i++)
        vals[i] = va_arg(ap, const char *);
    va_end(ap);
    PGresult *res = PQexecParams(pg, sql, n, NULL, vals, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", sql,
                  PQresultErrorMessage(res));
    ck_assert_msg(!strcmp(PQcmdTuples(res), "1"), "%s (%s): changed %s rows, not 1", sql, vals[0],
                  PQcmdTuples(res));
    PQclear(res);
}

/* Placeholders of the expected texts: <NAME> stands for an id known only at run time. */
static struct {
    char name[8], value[64];
} subs[16];
static int nsubs;

static void define(const char *name, const char *value)
{
    ck_assert(nsubs < 16);
    snprintf(subs[nsubs].name, sizeof subs[0].name, "%s", name);
    snprintf(subs[nsubs].value, sizeof subs[0].value, "%s", value);
    nsubs++;
}

/* The template with its placeholders replaced and, when json, ' as " (new string). */
static char *expand(const char *t, bool json)
{
    size_t cap = strlen(t) + 1, n = 0;
    for (const char *p = t; (p = strchr(p, '<')); p++)
        cap += sizeof subs[0].value;
    char *out = malloc(cap);
    for (const char *p = t; *p;) {
        const char *end = *p == '<' ? strchr(p, '>') : NULL;
        int i = 0;
        for (; end && i < nsubs; i++)
            if ((size_t)(end - p - 1) == strlen(subs[i].name) &&
                !strncmp(p + 1, subs[i].name, (size_t)(end - p - 1)))
                break;
        if (end && i < nsubs) {
            size_t len = strlen(subs[i].value);
            ck_assert(n + len < cap);
            memcpy(out + n, subs[i].value, len);
            n += len;
            p = end + 1;
        } else {
            ck_assert(n + 1 < cap);
            out[n++] = json && *p == '\'' ? '"' : *p;
            p++;
        }
    }
    out[n] = '\0';
    return out;
}

/* A row's name for messages: its name, source or stage, else its first string member. */
static const char *row_name(const json_t *row)
{
    static const char *const names[] = {"name", "source", "stage", "reason", "owner_id"};
    const char *k;
    json_t *v;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (json_is_string(json_object_get(row, names[i])))
            return json_string_value(json_object_get(row, names[i]));
    json_object_foreach((json_t *)row, k, v) if (json_is_string(v)) return json_string_value(v);
    return "?";
}

/* Compares the answer got to the expected document want member by member and row by
 * row; numbers must match exactly and in kind (2 is not 2.0, 0.5 is not "0.5"). */
static void compare_doc(const char *path, const json_t *want, const json_t *got)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k, v)
    {
        if (!strcmp(k, "data"))
            continue;
        ck_assert_msg(json_equal(v, json_object_get(got, k)), "%s: %s: expected %s, got %s", path,
                      k, js(v), js(json_object_get(got, k)));
    }
    ck_assert_msg(json_object_size(want) == json_object_size(got),
                  "%s: expected %zu members, got %zu", path, json_object_size(want),
                  json_object_size(got));
    json_t *wd = json_object_get(want, "data"), *gd = json_object_get(got, "data");
    ck_assert_msg(json_array_size(wd) == json_array_size(gd), "%s: expected %zu rows, got %zu: %s",
                  path, json_array_size(wd), json_array_size(gd), js(gd));
    for (size_t i = 0; i < json_array_size(wd); i++) {
        json_t *w = json_array_get(wd, i), *g = json_array_get(gd, i);
        json_object_foreach(w, k, v)
        {
            ck_assert_msg(json_equal(v, json_object_get(g, k)),
                          "%s: row %zu (%s) %s: expected %s, got %s", path, i, row_name(w), k,
                          js(v), js(json_object_get(g, k)));
        }
        ck_assert_msg(json_object_size(w) == json_object_size(g),
                      "%s: row %zu has %zu members, expected %zu: %s", path, i, json_object_size(g),
                      json_object_size(w), js(g));
    }
}

/* GETs path with key and compares the JSON answer with the template. */
static void expect_report(const char *path, const char *key, const char *tmpl)
{
    char *text = expand(tmpl, true);
    json_error_t e;
    json_t *want = json_loads(text, 0, &e);
    ck_assert_msg(want != NULL, "the expected JSON of %s does not parse: %s at %d: %s", path,
                  e.text, e.position, text);
    struct resp *r = get(path, key);
    ck_assert_msg(r->status == 200 && r->json, "%s: %ld %s", path, r->status, r->body);
    char *ct = resp_header(r, "Content-Type");
    ck_assert_msg(ct && !strcmp(ct, "application/json"), "%s: Content-Type %s", path,
                  ct ? ct : "(none)");
    free(ct);
    compare_doc(path, want, r->json);
    json_decref(want);
    free(text);
    resp_free(r);
}

/* Two fragments in the order of their keys (the reports sort rows by campaign or owner
 * id, which the database chose): "first,second" in a static buffer. */
static const char *by_key(const char *ka, const char *fa, const char *kb, const char *fb)
{
    static char buf[4][4096];
    static int n;
    char *out = buf[n++ % 4];
    bool a_first = strcmp(ka, kb) < 0;
    snprintf(out, sizeof buf[0], "%s,%s", a_first ? fa : fb, a_first ? fb : fa);
    return out;
}

/* ------------------------------------------------------------------ the fixture */

static char admin[64], marketing[64], sales[64], readonly[64];

/* Campaigns A..D, sales users U1 and U2, leads L1..L11 (index 0 unused). */
struct fixture {
    char ws[40], a[40], b[40], c[40], d[40], u1[40], u2[40], l[12][40];
};

static void lead(struct fixture *f, int i, const char *source, const char *owner)
{
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"l%d@reports.example\",\"source\":\"%s\"%s%s%s}", i,
             source, owner ? ",\"owner_id\":\"" : "", owner ? owner : "", owner ? "\"" : "");
    create("/v1/leads", marketing, body, f->l[i]);
}

/* A touch of campaign on lead i through the API (at the time of the request), then moved
 * to at in SQL. */
static void touch(PGconn *pg, struct fixture *f, const char *campaign, int i, const char *kind,
                  const char *at)
{
    char path[128], body[160], id[40];
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", campaign);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"%s\"}", f->l[i], kind);
    create(path, marketing, body, id);
    if (at)
        sql_one(pg, "UPDATE campaign_touches SET occurred_at = $1 WHERE id = $2", 2, at, id);
}

/* Sets when lead i moved from one stage to another. */
static void moved_at(PGconn *pg, struct fixture *f, int i, const char *from, const char *to,
                     const char *at)
{
    sql_one(pg,
            "UPDATE lead_stage_changes SET changed_at = $1 WHERE lead_id = $2 AND from_stage = $3"
            " AND to_stage = $4",
            4, at, f->l[i], from, to);
}

/* A transition of lead i from..to through the API, then dated at (unless NULL). */
static void transition(PGconn *pg, struct fixture *f, int i, const char *from, const char *to,
                       const char *at)
{
    char path[128], body[64];
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", f->l[i]);
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", to);
    create(path, admin, body, NULL);
    if (at)
        moved_at(pg, f, i, from, to, at);
}

/* Feedback on lead i by the sales key, then its occurred_at and the stage move it made
 * (from..to, unless from is NULL) dated at. */
static void feedback(PGconn *pg, struct fixture *f, int i, const char *body, const char *at,
                     const char *from, const char *to)
{
    char path[128], id[40];
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", f->l[i]);
    create(path, sales, body, id);
    sql_one(pg, "UPDATE feedback SET occurred_at = $1 WHERE id = $2", 2, at, id);
    if (from)
        moved_at(pg, f, i, from, to, at);
}

/* clang-format off */
/* The fixture, all times UTC on 2026 dates ("now" for L9 and L10: the time of the test).
 * Campaigns: A email active cost 1000 (no run dates); B webinar planned cost 0; C
 * paid_search paused cost 3001, run 03-01..03-30 (30 days); D content planned cost 500 from
 * 01-01 with no end (so never prorated), and no touches. Rows come by name: Alpha, Beta,
 * Delta, Gamma. Leads (source, owner, created):
 *
 * L1  web, U1, 03-06 08:00. Touches A 03-06 09:00, B 03-07 09:00, A 03-08 09:00, C 03-10
 *     09:00 (after the hand-off). mql 03-09 12:00; accepted rating 4 03-09 14:00
 *     (-> sales_accepted); contacted 03-10 10:00; won 1000 03-20 10:00 (-> customer).
 * L2  paid, U2, 02-27 12:00. mql 02-28 10:00; rejected no_budget 02-28 16:00 (-> recycled);
 *     touches C 03-01 10:00, B 03-02 10:00, both after the hand-off.
 * L3  web, U1, 03-10 07:00. Touches B 03-10 08:00, C 03-11 08:00. mql 03-12 09:00; accepted
 *     rating 5 03-13 09:00; sales_qualified 03-14 09:00; meeting_booked 03-15 09:00;
 *     opportunity 03-16 09:00; won 3 03-19 09:00 (-> customer).
 * L4  event, U2, 03-12 10:00. Touch A 03-12 11:00. Rejected spam 03-12 12:00 while new
 *     (-> disqualified): never handed over.
 * L5  referral, no owner, 03-15 10:00. Touches A 03-15 11:00, B 03-16 11:00. Stays new.
 * L6  paid, U1, created 2026-03-04T23:30-02:00 = 03-05 01:30 UTC (its UTC day is 03-05).
 *     Touch C 03-05 02:00. mql 03-05 03:00; accepted rating 2 03:00:30; contacted rating 3
 *     03-06 10:00; lost bad_fit 03-08 10:00 (-> disqualified).
 * L7  web, U2, created 2026-03-21T01:00+03:00 = 03-20 22:00 UTC (its UTC day is 03-20).
 *     Touches B 03-20 22:10, A 03-20 22:20. mql 03-20 22:30; rejected not_reachable given
 *     first, dated 03-21 10:00 (-> recycled); mql again 03-21 11:00; accepted rating 3 given
 *     next but dated back to 03-21 02:30 (-> sales_accepted at 03-21 12:00): its first
 *     verdict by occurred_at is the acceptance.
 * L8  outbound, U1, 03-25 09:00. Touch C 03-25 10:00. mql 03-25 11:00; accepted rating 4
 *     dated 03-25 10:30, before the hand-off (-> sales_accepted at 11:30); won 5000 03-28
 *     10:00 (-> customer).
 * L9  web, U2, now - 3 days. Touch A now - 3 days. mql now - 2 days; no feedback.
 * L10 event, no owner, now - 2 h. No touches. mql now - 1 h; no feedback.
 * L11 paid, U2, 03-18 10:00. Touches A 03-18 11:00, C 03-18 12:00. mql 03-18 13:00; rejected
 *     bad_timing 03-18 13:10 (-> recycled).
 *
 * The facts per lead (handed = first reached mql or later; credits = the touches up to the
 * hand-off, all when never handed, the first touch when none came before it; follow-up =
 * whole seconds from the hand-off to the first feedback, at least 0):
 *
 * lead  credits  ft lt  first verdict        follow-up   contacted  won    ratings
 * L1    A B A    A  A   accepted             7200        yes        1000   4
 * L2    C        C  C   rejected no_budget   21600       no         -      -
 * L3    B C      B  C   accepted             86400       yes        3      5
 * L4    A        A  A   rejected spam        (not handed)           -      -
 * L5    A B      A  B   -                    -           no         -      -
 * L6    C        C  C   accepted             30          yes        -      2, 3
 * L7    B A      B  A   accepted             14400       no         -      3
 * L8    C        C  C   accepted             0 (clamped) no         5000   4
 * L9    A        A  A   -                    (waiting)   no         -      -
 * L10   -        -  -   -                    (waiting)   no         -      -
 * L11   A C      A  C   rejected bad_timing  600         no         -      -
 *
 * Reached mql (= handed over): L1 L2 L3 L6 L7 L8 L9 L10 L11; opportunity or customer: L1 L3
 * L8; won: L1 L3 L8. */
/* clang-format on */
static void build_fixture(struct fixture *f)
{
    PGconn *pg = pg_test();
    char *ws = pg_value_p(pg, "SELECT id FROM workspaces WHERE slug = $1", "reports-a");
    snprintf(f->ws, sizeof f->ws, "%s", ws);
    free(ws);

    create("/v1/users", admin,
           "{\"name\":\"Sam Seller\",\"email\":\"sam@reports.example\",\"team\":\"sales\"}", f->u1);
    create("/v1/users", admin,
           "{\"name\":\"Pat Closer\",\"email\":\"pat@reports.example\",\"team\":\"sales\"}", f->u2);
    create("/v1/campaigns", marketing,
           "{\"name\":\"Alpha newsletter\",\"channel\":\"email\",\"status\":\"active\","
           "\"cost\":1000}",
           f->a);
    create("/v1/campaigns", marketing, "{\"name\":\"Beta webinar\",\"channel\":\"webinar\"}", f->b);
    create("/v1/campaigns", marketing,
           "{\"name\":\"Gamma search\",\"channel\":\"paid_search\",\"status\":\"paused\","
           "\"cost\":3001,\"currency\":\"USD\",\"starts_on\":\"2026-03-01\","
           "\"ends_on\":\"2026-03-30\"}",
           f->c);
    create("/v1/campaigns", marketing,
           "{\"name\":\"Delta idle\",\"channel\":\"content\",\"cost\":500,"
           "\"starts_on\":\"2026-01-01\"}",
           f->d);

    lead(f, 1, "web", f->u1);
    touch(pg, f, f->a, 1, "sent", "2026-03-06T09:00:00Z");
    touch(pg, f, f->b, 1, "registered", "2026-03-07T09:00:00Z");
    touch(pg, f, f->a, 1, "clicked", "2026-03-08T09:00:00Z");
    touch(pg, f, f->c, 1, "clicked", "2026-03-10T09:00:00Z");
    transition(pg, f, 1, "new", "mql", "2026-03-09T12:00:00Z");
    feedback(pg, f, 1, "{\"kind\":\"accepted\",\"rating\":4}", "2026-03-09T14:00:00Z", "mql",
             "sales_accepted");
    feedback(pg, f, 1, "{\"kind\":\"contacted\"}", "2026-03-10T10:00:00Z", NULL, NULL);
    feedback(pg, f, 1, "{\"kind\":\"won\",\"amount\":1000,\"currency\":\"USD\"}",
             "2026-03-20T10:00:00Z", "sales_accepted", "customer");

    lead(f, 2, "paid", f->u2);
    transition(pg, f, 2, "new", "mql", "2026-02-28T10:00:00Z");
    touch(pg, f, f->c, 2, "clicked", "2026-03-01T10:00:00Z");
    touch(pg, f, f->b, 2, "registered", "2026-03-02T10:00:00Z");
    feedback(pg, f, 2, "{\"kind\":\"rejected\",\"reason\":\"no_budget\"}", "2026-02-28T16:00:00Z",
             "mql", "recycled");

    lead(f, 3, "web", f->u1);
    touch(pg, f, f->b, 3, "attended", "2026-03-10T08:00:00Z");
    touch(pg, f, f->c, 3, "clicked", "2026-03-11T08:00:00Z");
    transition(pg, f, 3, "new", "mql", "2026-03-12T09:00:00Z");
    feedback(pg, f, 3, "{\"kind\":\"accepted\",\"rating\":5}", "2026-03-13T09:00:00Z", "mql",
             "sales_accepted");
    transition(pg, f, 3, "sales_accepted", "sales_qualified", "2026-03-14T09:00:00Z");
    feedback(pg, f, 3, "{\"kind\":\"meeting_booked\"}", "2026-03-15T09:00:00Z", NULL, NULL);
    transition(pg, f, 3, "sales_qualified", "opportunity", "2026-03-16T09:00:00Z");
    feedback(pg, f, 3, "{\"kind\":\"won\",\"amount\":3,\"currency\":\"USD\"}",
             "2026-03-19T09:00:00Z", "opportunity", "customer");

    lead(f, 4, "event", f->u2);
    touch(pg, f, f->a, 4, "opened", "2026-03-12T11:00:00Z");
    feedback(pg, f, 4, "{\"kind\":\"rejected\",\"reason\":\"spam\"}", "2026-03-12T12:00:00Z", "new",
             "disqualified");

    lead(f, 5, "referral", NULL);
    touch(pg, f, f->a, 5, "sent", "2026-03-15T11:00:00Z");
    touch(pg, f, f->b, 5, "registered", "2026-03-16T11:00:00Z");

    lead(f, 6, "paid", f->u1);
    touch(pg, f, f->c, 6, "clicked", "2026-03-05T02:00:00Z");
    transition(pg, f, 6, "new", "mql", "2026-03-05T03:00:00Z");
    feedback(pg, f, 6, "{\"kind\":\"accepted\",\"rating\":2}", "2026-03-05T03:00:30Z", "mql",
             "sales_accepted");
    feedback(pg, f, 6, "{\"kind\":\"contacted\",\"rating\":3}", "2026-03-06T10:00:00Z", NULL, NULL);
    feedback(pg, f, 6, "{\"kind\":\"lost\",\"reason\":\"bad_fit\"}", "2026-03-08T10:00:00Z",
             "sales_accepted", "disqualified");

    lead(f, 7, "web", f->u2);
    touch(pg, f, f->b, 7, "visited", "2026-03-20T22:10:00Z");
    touch(pg, f, f->a, 7, "clicked", "2026-03-20T22:20:00Z");
    transition(pg, f, 7, "new", "mql", "2026-03-20T22:30:00Z");
    feedback(pg, f, 7, "{\"kind\":\"rejected\",\"reason\":\"not_reachable\"}",
             "2026-03-21T10:00:00Z", "mql", "recycled");
    transition(pg, f, 7, "recycled", "mql", "2026-03-21T11:00:00Z");
    feedback(pg, f, 7, "{\"kind\":\"accepted\",\"rating\":3}", "2026-03-21T02:30:00Z", NULL, NULL);
    moved_at(pg, f, 7, "mql", "sales_accepted", "2026-03-21T12:00:00Z");

    lead(f, 8, "outbound", f->u1);
    touch(pg, f, f->c, 8, "clicked", "2026-03-25T10:00:00Z");
    transition(pg, f, 8, "new", "mql", "2026-03-25T11:00:00Z");
    feedback(pg, f, 8, "{\"kind\":\"accepted\",\"rating\":4}", "2026-03-25T10:30:00Z", NULL, NULL);
    moved_at(pg, f, 8, "mql", "sales_accepted", "2026-03-25T11:30:00Z");
    feedback(pg, f, 8, "{\"kind\":\"won\",\"amount\":5000,\"currency\":\"USD\"}",
             "2026-03-28T10:00:00Z", "sales_accepted", "customer");

    lead(f, 9, "web", f->u2);
    touch(pg, f, f->a, 9, "sent", NULL);
    transition(pg, f, 9, "new", "mql", NULL);

    lead(f, 10, "event", NULL);
    transition(pg, f, 10, "new", "mql", NULL);

    lead(f, 11, "paid", f->u2);
    touch(pg, f, f->a, 11, "clicked", "2026-03-18T11:00:00Z");
    touch(pg, f, f->c, 11, "clicked", "2026-03-18T12:00:00Z");
    transition(pg, f, 11, "new", "mql", "2026-03-18T13:00:00Z");
    feedback(pg, f, 11, "{\"kind\":\"rejected\",\"reason\":\"bad_timing\"}", "2026-03-18T13:10:00Z",
             "mql", "recycled");

    /* created days: one UPDATE each, so the leads' trigger refreshes them one by one */
    static const char *const created[12] = {NULL,
                                            "2026-03-06T08:00:00Z",
                                            "2026-02-27T12:00:00Z",
                                            "2026-03-10T07:00:00Z",
                                            "2026-03-12T10:00:00Z",
                                            "2026-03-15T10:00:00Z",
                                            "2026-03-04T23:30:00-02:00",
                                            "2026-03-21T01:00:00+03:00",
                                            "2026-03-25T09:00:00Z",
                                            NULL,
                                            NULL,
                                            "2026-03-18T10:00:00Z"};
    for (int i = 1; i <= 11; i++)
        if (created[i])
            sql_one(pg, "UPDATE leads SET created_at = $1 WHERE id = $2", 2, created[i], f->l[i]);
    /* L9 and L10 relative to one now() (one transaction), so their spans are exact */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "BEGIN;"
             " UPDATE leads SET created_at = now() - interval '3 days' WHERE id = '%s';"
             " UPDATE campaign_touches SET occurred_at = now() - interval '3 days'"
             " WHERE lead_id = '%s';"
             " UPDATE lead_stage_changes SET changed_at = now() - interval '2 days'"
             " WHERE lead_id = '%s' AND to_stage = 'mql';"
             " UPDATE leads SET created_at = now() - interval '2 hours' WHERE id = '%s';"
             " UPDATE lead_stage_changes SET changed_at = now() - interval '1 hour'"
             " WHERE lead_id = '%s' AND to_stage = 'mql';"
             " COMMIT",
             f->l[9], f->l[9], f->l[9], f->l[10], f->l[10]);
    pg_ok(pg, sql);

    char *t9 = pg_value_p(pg,
                          "SELECT to_char(changed_at AT TIME ZONE 'UTC',"
                          " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM lead_stage_changes"
                          " WHERE lead_id = $1 AND to_stage = 'mql'",
                          f->l[9]);
    char *t10 = pg_value_p(pg,
                           "SELECT to_char(changed_at AT TIME ZONE 'UTC',"
                           " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM lead_stage_changes"
                           " WHERE lead_id = $1 AND to_stage = 'mql'",
                           f->l[10]);
    nsubs = 0;
    define("A", f->a);
    define("B", f->b);
    define("C", f->c);
    define("D", f->d);
    define("U1", f->u1);
    define("U2", f->u2);
    define("L9", f->l[9]);
    define("L10", f->l[10]);
    define("T9", t9);
    define("T10", t10);
    free(t9);
    free(t10);
    PQfinish(pg);
}

/* ------------------------------------------------------------------ expected figures */

/* The expected documents are JSON with ' for " and <NAME> for the ids of the fixture. The
 * tables are laid out by hand, with the arithmetic above each row. */
/* clang-format off */

/* The figures of a row in the reports' column order; reasons is a string literal. */
#define FIG(leads, mqls, handed, accepted, rejected, rate, reasons, avg, contacted, p50, p90, \
            opps, won, amount, cost, cpl, cpa, cpw, roi)                                    \
    "'leads':" #leads ",'mqls':" #mqls ",'handed_to_sales':" #handed                        \
    ",'accepted':" #accepted ",'rejected':" #rejected ",'acceptance_rate':" #rate           \
    ",'rejection_reasons':" reasons ",'avg_rating':" #avg ",'contacted':" #contacted        \
    ",'follow_up_p50_seconds':" #p50 ",'follow_up_p90_seconds':" #p90                       \
    ",'opportunities':" #opps ",'won':" #won ",'won_amount':" #amount                      \
    ",'lost_amount':0,'cost':" #cost                                                          \
    ",'cost_per_lead':" #cpl ",'cost_per_accepted_lead':" #cpa ",'cost_per_won':" #cpw      \
    ",'roi':" #roi "}"
/* sources have no cost, so no cost figures */
#define NOCOST(leads, mqls, handed, accepted, rejected, rate, reasons, avg, contacted, p50,  \
               p90, opps, won, amount)                                                      \
    FIG(leads, mqls, handed, accepted, rejected, rate, reasons, avg, contacted, p50, p90,    \
        opps, won, amount, null, null, null, null, null)

#define HEAD_A "{'campaign_id':'<A>','name':'Alpha newsletter','channel':'email','status':'active',"
#define HEAD_B "{'campaign_id':'<B>','name':'Beta webinar','channel':'webinar','status':'planned',"
#define HEAD_C \
    "{'campaign_id':'<C>','name':'Gamma search','channel':'paid_search','status':'paused',"
#define HEAD_D "{'campaign_id':'<D>','name':'Delta idle','channel':'content','status':'planned',"
#define SOURCE(s) "{'source':'" s "',"
#define CAMPAIGNS(model, from, to) \
    "{'report':'campaigns','group_by':'campaign','attribution':'" model "','from':" from ",'to':" to \
    ",'currency':'USD','data':["

/* Each row: FIG(leads, mqls, handed_to_sales, accepted, rejected, acceptance_rate, reasons,
 *                avg_rating, contacted, follow_up_p50, follow_up_p90, opportunities, won,
 *                won_amount, cost, cost_per_lead, cost_per_accepted_lead, cost_per_won, roi);
 * lost_amount is 0 in every row: the fixture's one lost deal (L6) has no amount (the deals
 * suite tests lost amounts). avg_rating takes each lead's latest rating: L6, rated 2 at
 * acceptance and 3 when contacted, counts once, as 3. */

/* D: no touches, so no figures; cost 500 whatever the window (no ends_on); roi
 * (0 - 500) / 500 = -1. Rows come by name: Alpha, Beta, Delta, Gamma. */
#define ROW_D HEAD_D FIG(0, 0, 0, 0, 0, null, "{}",    \
                         null, 0, null, null, 0, 0,    \
                         0, 500, null, null, null, -1)

/* first_touch, whole time. A: L1 L4 L5 L9 L11; B: L3 L7; C: L2 L6 L8. */
static const char first_touch_all[] = CAMPAIGNS("first_touch", "null", "null")
    /* A: leads 5; mql/handed L1 L9 L11 = 3; accepted L1 = 1; rejected L4 spam, L11
     * bad_timing = 2; rate 1/3; rating 4/1; contacted L1; follow-up L11 600, L1 7200 ->
     * p50 600, p90 7200; opportunity/won L1, 1000; cost 1000; per lead 1000/5 = 200; per
     * accepted 1000/1; per won 1000/1; roi (1000 - 1000) / 1000 = 0 */
    HEAD_A FIG(5, 3, 3, 1, 2, 0.3333, "{'spam':1,'bad_timing':1}",
               4, 1, 600, 7200, 1, 1,
               1000, 1000, 200, 1000, 1000, 0) ","
    /* B: leads 2, both handed and accepted; rate 2/2 = 1; rating (5 + 3) / 2 = 4; contacted
     * L3; follow-up L7 14400, L3 86400 -> p50 14400 (cume 1/2), p90 86400; L3 won 3; cost 0:
     * costs per ... 0, roi null */
    HEAD_B FIG(2, 2, 2, 2, 0, 1, "{}",
               4, 1, 14400, 86400, 1, 1,
               3, 0, 0, 0, 0, null) ","
    ROW_D ","
    /* C: leads 3 all handed; accepted L6 L8 = 2; rejected L2 no_budget = 1; rate 2/3 =
     * 0.6667; ratings L6 3 (its latest), L8 4 -> 3.5; contacted L6; follow-up 0, 30, 21600 -> p50 30,
     * p90 21600; L8 won 5000; cost 3001 (no window: not prorated); per lead 3001/3 =
     * 1000.33 -> 1000; per accepted 3001/2 = 1500.5 -> 1501; per won 3001; roi
     * (5000 - 3001) / 3001 = 0.66611 -> 0.6661 */
    HEAD_C FIG(3, 3, 3, 2, 1, 0.6667, "{'no_budget':1}",
               3.5, 1, 30, 21600, 1, 1,
               5000, 3001, 1000, 1501, 3001, 0.6661) "]}";

/* last_touch, whole time: the last credited touch. A: L1 L4 L7 L9; B: L5; C: L2 (its only
 * credited touch is its first, C, though B came later) L3 L6 L8 L11. */
static const char last_touch_all[] = CAMPAIGNS("last_touch", "null", "null")
    /* A: leads 4; handed L1 L7 L9 = 3; accepted L1 L7 = 2; rejected L4 = 1; rate 2/3;
     * ratings (4 + 3) / 2 = 3.5; follow-up 7200, 14400 -> 7200, 14400; won L1 1000; per
     * lead 1000/4 = 250, per accepted 500, per won 1000; roi 0 */
    HEAD_A FIG(4, 3, 3, 2, 1, 0.6667, "{'spam':1}",
               3.5, 1, 7200, 14400, 1, 1,
               1000, 1000, 250, 500, 1000, 0) ","
    /* B: L5 only, never handed: leads 1, per lead 0/1 = 0, per accepted/won null */
    HEAD_B FIG(1, 0, 0, 0, 0, null, "{}",
               null, 0, null, null, 0, 0,
               0, 0, 0, null, null, null) ","
    ROW_D ","
    /* C: leads 5 all handed; accepted L3 L6 L8 = 3; rejected L2 L11 = 2; rate 3/5 = 0.6;
     * ratings L3 5, L6 3, L8 4 -> 4; contacted L3 L6; follow-up 0, 30, 600, 21600, 86400
     * -> p50 600, p90 86400; won L3 L8 = 2, 3 + 5000; per lead 3001/5 = 600.2 -> 600; per
     * accepted 3001/3 -> 1000; per won 3001/2 = 1500.5 -> 1501; roi 2002/3001 -> 0.6671 */
    HEAD_C FIG(5, 5, 5, 3, 2, 0.6, "{'no_budget':1,'bad_timing':1}",
               4, 2, 600, 86400, 2, 2,
               5003, 3001, 600, 1000, 1501, 0.6671) "]}";

/* linear, whole time: L1 A 2/3 B 1/3; L2 C; L3 B 1/2 C 1/2; L4 A; L5 A 1/2 B 1/2; L6 C;
 * L7 B 1/2 A 1/2; L8 C; L9 A; L11 A 1/2 C 1/2. */
static const char linear_all[] = CAMPAIGNS("linear", "null", "null")
    /* A: leads 2/3 + 1 + 1/2 + 1/2 + 1 + 1/2 = 4.1667; handed L1 2/3 + L7 1/2 + L9 1 + L11
     * 1/2 = 2.6667; accepted 2/3 + 1/2 = 7/6 = 1.1667; rejected L4 1 + L11 1/2 = 1.5; rate
     * (7/6) / (7/6 + 3/2) = 7/16 = 0.4375; reasons spam 1, bad_timing 0.5; rating (2/3 * 4
     * + 1/2 * 3) / (2/3 + 1/2) = 25/7 = 3.57; contacted 2/3; follow-up L11 600, L1 7200, L7
     * 14400 (each lead once) -> 7200, 14400; opportunities = won = 2/3; won amount 1000 * 2/3
     * = 666.67 -> 667; per lead 1000 / (25/6) = 240; per accepted 1000 / (7/6) = 857.14 ->
     * 857; per won 1000 / (2/3) = 1500; roi (667 - 1000) / 1000 = -0.333 */
    HEAD_A FIG(4.1667, 2.6667, 2.6667, 1.1667, 1.5, 0.4375, "{'spam':1,'bad_timing':0.5}",
               3.57, 0.6667, 7200, 14400, 0.6667, 0.6667,
               667, 1000, 240, 857, 1500, -0.333) ","
    /* B: leads 1/3 + 1/2 + 1/2 + 1/2 = 1.8333; handed = accepted = L1 1/3 + L3 1/2 + L7 1/2 =
     * 1.3333; rate 1; rating (1/3 * 4 + 1/2 * 5 + 1/2 * 3) / (4/3) = 4; contacted 1/3 + 1/2
     * = 0.8333; follow-up 7200, 14400, 86400 -> 14400, 86400; won 0.8333; amount 1000/3 +
     * 3/2 = 334.83 -> 335; cost 0 */
    HEAD_B FIG(1.8333, 1.3333, 1.3333, 1.3333, 0, 1, "{}",
               4, 0.8333, 14400, 86400, 0.8333, 0.8333,
               335, 0, 0, 0, 0, null) ","
    ROW_D ","
    /* C: leads 1 + 1/2 + 1 + 1 + 1/2 = 4, all handed; accepted L3 1/2 + L6 + L8 = 2.5;
     * rejected L2 1 + L11 1/2 = 1.5; rate 2.5/4 = 0.625; rating (5/2 + 3 + 4) / (1/2 + 1 +
     * 1) = 3.8; contacted 1/2 + 1 = 1.5; follow-up 0, 30, 600, 21600, 86400 ->
     * 600, 86400; won 1/2 + 1 = 1.5; amount 3/2 + 5000 = 5001.5 -> 5002 (half away from
     * zero); per lead 3001/4 = 750.25 -> 750; per accepted 3001/2.5 = 1200.4 -> 1200; per won
     * 3001/1.5 = 2000.67 -> 2001; roi (5002 - 3001) / 3001 = 0.66678 -> 0.6668 */
    HEAD_C FIG(4, 4, 4, 2.5, 1.5, 0.625, "{'no_budget':1,'bad_timing':0.5}",
               3.8, 1.5, 600, 86400, 1.5, 1.5,
               5002, 3001, 750, 1200, 2001, 0.6668) "]}";

/* linear, from 2026-03-05 to 2026-03-20 by the UTC day of creation: L1 L3 L4 L5 L6 (03-05
 * in UTC, 03-04 where it was made) L7 (03-20 in UTC, 03-21 where it was made) L11; not L2
 * (02-27), L8 (03-25), L9, L10 (now). */
static const char linear_window[] = CAMPAIGNS("linear", "'2026-03-05'", "'2026-03-20'")
    /* A: as in the whole time without L9: leads 4.1667 - 1 = 3.1667; handed 2.6667 - 1 =
     * 1.6667; per lead 1000 / (19/6) = 315.79 -> 316; the rest as whole time */
    HEAD_A FIG(3.1667, 1.6667, 1.6667, 1.1667, 1.5, 0.4375, "{'spam':1,'bad_timing':0.5}",
               3.57, 0.6667, 7200, 14400, 0.6667, 0.6667,
               667, 1000, 316, 857, 1500, -0.333) ","
    /* B: the same leads as whole time */
    HEAD_B FIG(1.8333, 1.3333, 1.3333, 1.3333, 0, 1, "{}",
               4, 0.8333, 14400, 86400, 0.8333, 0.8333,
               335, 0, 0, 0, 0, null) ","
    ROW_D ","
    /* C: L3 1/2 + L6 1 + L11 1/2 = 2; accepted 1/2 + 1 = 1.5; rejected L11 0.5; rate 0.75;
     * rating (5/2 + 3) / (1/2 + 1) = 3.67; contacted 1.5; follow-up 30, 600, 86400 -> 600,
     * 86400; won L3 0.5, amount 1.5 -> 2; cost prorated: 16 of the run's 30 days (03-05 ..
     * 03-20) -> 3001 * 16 / 30 = 1600.53 -> 1601; per lead 1601/2 = 800.5 -> 801; per
     * accepted 1601/1.5 = 1067.33 -> 1067; per won 1601/0.5 = 3202; roi (2 - 1601) / 1601 =
     * -0.99875 -> -0.9988 */
    HEAD_C FIG(2, 2, 2, 1.5, 0.5, 0.75, "{'bad_timing':0.5}",
               3.67, 1.5, 600, 86400, 0.5, 0.5,
               2, 1601, 801, 1067, 3202, -0.9988) "]}";

/* first_touch, from 2026-02-15 to 2026-03-31: the whole month of March comes from the
 * month rows, 02-15 .. 02-28 from the day rows (L2). All but L9 and L10. */
static const char first_touch_months[] = CAMPAIGNS("first_touch", "'2026-02-15'", "'2026-03-31'")
    /* A: L1 L4 L5 L11: leads 4; handed L1 L11 = 2; per lead 1000/4 = 250; else as whole time */
    HEAD_A FIG(4, 2, 2, 1, 2, 0.3333, "{'spam':1,'bad_timing':1}",
               4, 1, 600, 7200, 1, 1,
               1000, 1000, 250, 1000, 1000, 0) ","
    HEAD_B FIG(2, 2, 2, 2, 0, 1, "{}",
               4, 1, 14400, 86400, 1, 1,
               3, 0, 0, 0, 0, null) ","
    ROW_D ","
    /* C: the whole run lies inside the window: 30/30 of 3001 */
    HEAD_C FIG(3, 3, 3, 2, 1, 0.6667, "{'no_budget':1}",
               3.5, 1, 30, 21600, 1, 1,
               5000, 3001, 1000, 1501, 3001, 0.6661) "]}";

/* sources, whole time, in the fixed order of sources. */
static const char sources_all[] =
    "{'report':'sources','from':null,'to':null,'currency':'USD','data':["
    /* web: L1 L3 L7 L9, all handed; accepted L1 L3 L7; rating (4 + 5 + 3) / 3 = 4; contacted
     * L1 L3; follow-up 7200, 14400, 86400 -> 14400, 86400; won L1 L3: 1000 + 3 */
    SOURCE("web") NOCOST(4, 4, 4, 3, 0, 1, "{}",
                         4, 2, 14400, 86400, 2, 2, 1003) ","
    /* event: L4 (rejected spam, never handed), L10 (handed, waiting): rate 0/1 = 0 */
    SOURCE("event") NOCOST(2, 1, 1, 0, 1, 0, "{'spam':1}",
                           null, 0, null, null, 0, 0, 0) ","
    /* referral: L5 */
    SOURCE("referral") NOCOST(1, 0, 0, 0, 0, null, "{}",
                              null, 0, null, null, 0, 0, 0) ","
    /* paid: L2 L6 L11; accepted L6; rejected L2 L11; rate 1/3; rating L6's latest, 3;
     * follow-up 30, 600, 21600 -> 600, 21600 */
    SOURCE("paid") NOCOST(3, 3, 3, 1, 2, 0.3333, "{'bad_timing':1,'no_budget':1}",
                          3, 1, 600, 21600, 0, 0, 0) ","
    /* outbound: L8; follow-up 0 (feedback before the hand-off) */
    SOURCE("outbound") NOCOST(1, 1, 1, 1, 0, 1, "{}",
                              4, 0, 0, 0, 1, 1, 5000) ","
    SOURCE("partner") NOCOST(0, 0, 0, 0, 0, null, "{}",
                             null, 0, null, null, 0, 0, 0) ","
    SOURCE("import") NOCOST(0, 0, 0, 0, 0, null, "{}",
                            null, 0, null, null, 0, 0, 0) ","
    SOURCE("other") NOCOST(0, 0, 0, 0, 0, null, "{}",
                           null, 0, null, null, 0, 0, 0) "]}";

#define STAGE(name, n, conv, days) \
    "{'stage':'" name "','leads':" #n ",'conversion_from_previous':" #conv \
    ",'median_days_from_previous':" #days "}"
#define FUNNEL(model, campaign, source) \
    "{'report':'funnel','attribution':'" model "','from':null,'to':null,'campaign_id':" campaign \
    ",'source':" source ",'owner_id':null,'data':["

/* funnel, all leads (11). Reached: mql L1 L2 L3 L6 L7 L8 L9 L10 L11 (9); sales_accepted or
 * later L1 L3 L6 L7 L8 (5); sales_qualified or later L1 L3 L8 (3, L1 and L8 through
 * customer); opportunity or later L1 L3 L8; customer L1 L3 L8.
 * creation -> mql in hours: L7 0.5, L10 1, L6 1.5, L8 2, L11 3, L2 22, L9 24, L3 50, L1 76:
 *   median 3 h = 0.125 d -> 0.13; 9/11 = 0.8182
 * mql -> sales_accepted: L6 30 s, L8 0.5 h, L1 2 h, L7 13.5 h, L3 24 h: median 2 h -> 0.08;
 *   5/9 = 0.5556
 * sales_accepted -> sales_qualified: L3 1 d, L8 2.9375 d, L1 10.83 d: median 2.9375 -> 2.94
 * sales_qualified -> opportunity: L1 0, L8 0, L3 2 d: 0; opportunity -> customer: 0, 0, 3: 0 */
static const char funnel_all[] = FUNNEL("first_touch", "null", "null")
    STAGE("new",             11, null,   null) ","
    STAGE("mql",             9,  0.8182, 0.13) ","
    STAGE("sales_accepted",  5,  0.5556, 0.08) ","
    STAGE("sales_qualified", 3,  0.6,    2.94) ","
    STAGE("opportunity",     3,  1,      0) ","
    STAGE("customer",        3,  1,      0) "]}";

/* funnel of campaign C, linear: the leads C has credit in, L2 L3 L6 L8 L11.
 * creation -> mql: L6 1.5 h, L8 2, L11 3, L2 22, L3 50: median 3 h -> 0.13 (5/5 = 1)
 * mql -> accepted: L6 30 s, L8 1800 s, L3 86400 s: median 1800 s = 0.0208 d -> 0.02 (3/5)
 * accepted -> qualified: L3 1 d, L8 2.9375 d: mean of the two 1.96875 -> 1.97 (2/3)
 * qualified -> opportunity: L8 0, L3 2: 1; opportunity -> customer: L8 0, L3 3: 1.5 */
static const char funnel_c_linear[] = FUNNEL("linear", "'<C>'", "null")
    STAGE("new",             5, null,   null) ","
    STAGE("mql",             5, 1,      0.13) ","
    STAGE("sales_accepted",  3, 0.6,    0.02) ","
    STAGE("sales_qualified", 2, 0.6667, 1.97) ","
    STAGE("opportunity",     2, 1,      1) ","
    STAGE("customer",        2, 1,      1.5) "]}";

/* funnel of source web: L1 L3 L7 L9.
 * creation -> mql: L7 0.5 h, L9 24, L3 50, L1 76: (24 + 50) / 2 = 37 h = 1.5417 d -> 1.54
 * mql -> accepted: L1 2 h, L7 13.5 h, L3 24 h: 13.5 h = 0.5625 d -> 0.56 (3/4)
 * accepted -> qualified: L3 1 d, L1 10.8333 d: 5.9167 -> 5.92 (2/3)
 * qualified -> opportunity: L1 0, L3 2: 1; opportunity -> customer: L1 0, L3 3: 1.5 */
static const char funnel_web[] = FUNNEL("first_touch", "null", "'web'")
    STAGE("new",             4, null,   null) ","
    STAGE("mql",             4, 1,      1.54) ","
    STAGE("sales_accepted",  3, 0.75,   0.56) ","
    STAGE("sales_qualified", 2, 0.6667, 5.92) ","
    STAGE("opportunity",     2, 1,      1) ","
    STAGE("customer",        2, 1,      1.5) "]}";

#define REJ(keycol, key, reason, label, n, share) \
    "{'" keycol "':" key ",'reason':'" reason "','label':'" label "','rejected':" #n \
    ",'share':" #share "}"

/* Rejections: the first verdicts that are rejections are L2 no_budget (ft C, owner U2), L4
 * spam (ft A, U2), L11 bad_timing (ft A, lt C, U2); L7's rejection is not its first verdict.
 * first_touch: A bad_timing 1, spam 1 (shares 1/2, equal counts by reason); C no_budget 1 */
static const char rej_first_a[] =
    REJ("campaign_id", "'<A>'", "bad_timing", "Not now",      1, 0.5) ","
    REJ("campaign_id", "'<A>'", "spam",       "Spam or fake", 1, 0.5);
static const char rej_first_c[] =
    REJ("campaign_id", "'<C>'", "no_budget",  "No budget",    1, 1);
/* linear: A spam 1 (L4), bad_timing 1/2 (L11): shares 1/1.5 = 0.6667, 0.5/1.5 = 0.3333;
 * C no_budget 1 (L2), bad_timing 1/2 (L11): the same */
static const char rej_linear_a[] =
    REJ("campaign_id", "'<A>'", "spam",       "Spam or fake", 1,   0.6667) ","
    REJ("campaign_id", "'<A>'", "bad_timing", "Not now",      0.5, 0.3333);
static const char rej_linear_c[] =
    REJ("campaign_id", "'<C>'", "no_budget",  "No budget",    1,   0.6667) ","
    REJ("campaign_id", "'<C>'", "bad_timing", "Not now",      0.5, 0.3333);
/* sources in text order: event (L4 spam), paid (L2 no_budget, L11 bad_timing: 1/2 each) */
static const char rej_sources[] =
    "{'report':'rejections','group_by':'source','from':null,'to':null,'data':["
    REJ("source", "'event'", "spam",       "Spam or fake", 1, 1) ","
    REJ("source", "'paid'",  "bad_timing", "Not now",      1, 0.5) ","
    REJ("source", "'paid'",  "no_budget",  "No budget",    1, 0.5) "]}";
/* the window 03-05 .. 03-20 leaves out L2: event spam 1, paid bad_timing 1 */
static const char rej_sources_window[] =
    "{'report':'rejections','group_by':'source','from':'2026-03-05','to':'2026-03-20','data':["
    REJ("source", "'event'", "spam",       "Spam or fake", 1, 1) ","
    REJ("source", "'paid'",  "bad_timing", "Not now",      1, 1) "]}";
/* owners: all three rejections are U2's: a third each, by reason */
static const char rej_owners[] =
    "{'report':'rejections','group_by':'owner','from':null,'to':null,'data':["
    REJ("owner_id", "'<U2>'", "bad_timing", "Not now",      1, 0.3333) ","
    REJ("owner_id", "'<U2>'", "no_budget",  "No budget",    1, 0.3333) ","
    REJ("owner_id", "'<U2>'", "spam",       "Spam or fake", 1, 0.3333) "]}";

#define FU(owner, handed, followed, waiting, overdue, since, lead, p50, p90) \
    "{'owner_id':" owner ",'handed_to_sales':" #handed ",'followed_up':" #followed \
    ",'waiting':" #waiting ",'overdue':" #overdue ",'oldest_waiting_since':" since \
    ",'oldest_waiting_lead_id':" lead ",'follow_up_p50_seconds':" #p50 \
    ",'follow_up_p90_seconds':" #p90 "}"

/* Follow-up per owner of the handed leads, the owner-less last.
 * U1: L1 7200, L3 86400, L6 30, L8 0: all followed up; p50 30 (2nd of 4), p90 86400.
 * U2: L2 21600, L7 14400, L11 600, and L9 waiting since 2 days (SLA 24 h: overdue);
 *     p50 of 600, 14400, 21600 = 14400, p90 21600.
 * none: L10 waiting for 1 hour, not overdue; no follow-up times. */
static const char fu_u1[] = FU("'<U1>'", 4, 4, 0, 0, "null",    "null",    30,    86400);
static const char fu_u2[] = FU("'<U2>'", 4, 3, 1, 1, "'<T9>'",  "'<L9>'",  14400, 21600);
static const char fu_none[] = FU("null", 1, 0, 1, 0, "'<T10>'", "'<L10>'", null,  null);
/* 03-05 .. 03-20: U1 L1 L3 L6 (30, 7200, 86400 -> 7200, 86400); U2 L7 L11 (600, 14400) */
static const char fu_u1_window[] = FU("'<U1>'", 3, 3, 0, 0, "null", "null", 7200, 86400);
static const char fu_u2_window[] = FU("'<U2>'", 2, 2, 0, 0, "null", "null", 600,  14400);

/* The edge fixture (workspace reports-edge, all on 2026-06-01 UTC, no owners, costs 0):
 * P created 09:00, touches X 10:00, X 11:00, Y 12:00 (exactly at the hand-off), Z 13:00
 *   (after it); new -> sales_accepted at 12:00, skipping mql; contacted 12:01:40 (100 s);
 *   credits X, X, Y: ft X, lt Y, linear X 2/3, Y 1/3; handed but never an mql; no verdict
 * Q created 09:00, touch X 10:00, mql 11:00, contacted 11:03:20 (200 s)
 * R created 09:00, touch X 10:00, mql 11:00, contacted 11:05:00 (300 s)
 * S created 09:00, no touches, mql 10:00, disqualified 10:30 without feedback: handed, not
 *   waiting (closed), so not overdue either */
#define HEAD_X "{'campaign_id':'<X>','name':'Xray','channel':'email','status':'planned',"
#define HEAD_Y "{'campaign_id':'<Y>','name':'Yankee','channel':'webinar','status':'planned',"
#define HEAD_Z "{'campaign_id':'<Z>','name':'Zulu','channel':'event','status':'planned',"
#define ROW_Z HEAD_Z FIG(0, 0, 0, 0, 0, null, "{}",    \
                         null, 0, null, null, 0, 0,    \
                         0, 0, null, null, null, null)
static const char edge_linear[] = CAMPAIGNS("linear", "null", "null")
    /* X: P 2/3 + Q + R = 2.6667 leads, handed and contacted; mqls Q R = 2 (P never was);
     * follow-up P 100, Q 200, R 300, P once although twice credited: p50 200, p90 300; no
     * verdicts: rates and per-accepted null; cost 0: per lead 0 */
    HEAD_X FIG(2.6667, 2, 2.6667, 0, 0, null, "{}",
               null, 2.6667, 200, 300, 0, 0,
               0, 0, 0, null, null, null) ","
    /* Y: P 1/3 (its touch at the hand-off is credited) */
    HEAD_Y FIG(0.3333, 0, 0.3333, 0, 0, null, "{}",
               null, 0.3333, 100, 100, 0, 0,
               0, 0, 0, null, null, null) ","
    /* Z: P's touch after the hand-off earns nothing */
    ROW_Z "]}";
static const char edge_last_touch[] = CAMPAIGNS("last_touch", "null", "null")
    /* X: Q R; Y: P (its last credited touch is Y, at the hand-off); Z: nothing */
    HEAD_X FIG(2, 2, 2, 0, 0, null, "{}",
               null, 2, 200, 300, 0, 0,
               0, 0, 0, null, null, null) ","
    HEAD_Y FIG(1, 0, 1, 0, 0, null, "{}",
               null, 1, 100, 100, 0, 0,
               0, 0, 0, null, null, null) ","
    ROW_Z "]}";
/* creation -> hand-off: S 1 h, Q 2 h, R 2 h, P 3 h: median 2 h = 0.0833 d -> 0.08; 4/4
 * hand-off -> sales_accepted: P 0 s (4 -> 1: 0.25); no lead went further: 0 leads, median
 * null, and the conversions after a stage with no leads are null */
static const char edge_funnel[] = FUNNEL("first_touch", "null", "null")
    STAGE("new",             4, null, null) ","
    STAGE("mql",             4, 1,    0.08) ","
    STAGE("sales_accepted",  1, 0.25, 0) ","
    STAGE("sales_qualified", 0, 0,    null) ","
    STAGE("opportunity",     0, null, null) ","
    STAGE("customer",        0, null, null) "]}";
/* handed P Q R S; followed up P Q R (100, 200, 300 -> 200, 300); none waiting */
static const char edge_follow_up[] =
    "{'report':'follow-up','from':null,'to':null,'sla_hours':24,'time_zone':'UTC','business_hours':false,'data':["
    FU("null", 4, 3, 0, 0, "null", "null", 200, 300) "]}";

/* clang-format on */

/* ------------------------------------------------------------------ tests */

static void keys(const char *slug)
{
    ck_assert(workspace_key(slug, "admin", admin));
    ck_assert(workspace_key(slug, "marketing", marketing));
    ck_assert(workspace_key(slug, "sales", sales));
    ck_assert(workspace_key(slug, "readonly", readonly));
}

/* The rejections and follow-up reports, whose rows come in the order of campaign and owner
 * ids (which the database chose). */
static void expect_rejections_and_follow_up(const struct fixture *f)
{
    char doc[8192];
    snprintf(doc, sizeof doc,
             "{'report':'rejections','group_by':'campaign','attribution':'first_touch',"
             "'from':null,'to':null,'data':[%s]}",
             by_key(f->a, rej_first_a, f->c, rej_first_c));
    expect_report("/v1/reports/rejections", readonly, doc);
    snprintf(doc, sizeof doc,
             "{'report':'rejections','group_by':'campaign','attribution':'linear',"
             "'from':null,'to':null,'data':[%s]}",
             by_key(f->a, rej_linear_a, f->c, rej_linear_c));
    expect_report("/v1/reports/rejections?group_by=campaign&attribution=linear", readonly, doc);
    expect_report("/v1/reports/rejections?group_by=source", readonly, rej_sources);
    expect_report("/v1/reports/rejections?group_by=source&from=2026-03-05&to=2026-03-20", readonly,
                  rej_sources_window);
    expect_report("/v1/reports/rejections?group_by=owner", readonly, rej_owners);

    snprintf(doc, sizeof doc,
             "{'report':'follow-up','from':null,'to':null,'sla_hours':24,'time_zone':'UTC','"
             "business_hours':false,'data':[%s,%s]}",
             by_key(f->u1, fu_u1, f->u2, fu_u2), fu_none);
    expect_report("/v1/reports/follow-up", readonly, doc);
    snprintf(doc, sizeof doc,
             "{'report':'follow-up','from':'2026-03-05','to':'2026-03-20','sla_hours':24,'time_"
             "zone':'UTC','business_hours':false,"
             "'data':[%s]}",
             by_key(f->u1, fu_u1_window, f->u2, fu_u2_window));
    expect_report("/v1/reports/follow-up?from=2026-03-05&to=2026-03-20", readonly, doc);
}

/* The CSV form of the linear campaigns report: a header line, and rows A and D. */
static void expect_csv(void)
{
    static const char *const accept[] = {"Accept: text/csv", NULL};
    struct resp *r = req(&main_daemon, "GET", "/v1/reports/campaigns?attribution=linear", readonly,
                         accept, NULL, 0);
    ck_assert_msg(r->status == 200, "csv: %ld %s", r->status, r->body);
    char *ct = resp_header(r, "Content-Type"), *cd = resp_header(r, "Content-Disposition");
    ck_assert_msg(ct && !strcmp(ct, "text/csv; charset=utf-8"), "csv Content-Type: %s",
                  ct ? ct : "(none)");
    ck_assert_msg(cd && !strcmp(cd, "attachment; filename=\"campaigns.csv\""),
                  "csv Content-Disposition: %s", cd ? cd : "(none)");
    free(ct);
    free(cd);
    static const char header[] =
        "campaign_id,name,channel,status,leads,mqls,handed_to_sales,accepted,rejected,"
        "acceptance_rate,rejection_reasons,avg_rating,contacted,follow_up_p50_seconds,"
        "follow_up_p90_seconds,opportunities,won,won_amount,lost_amount,cost,cost_per_lead,"
        "cost_per_accepted_lead,cost_per_won,roi\r\n";
    ck_assert_msg(!strncmp(r->body, header, strlen(header)), "csv header: %s", r->body);
    /* the same figures as linear_all; text cells (ids, names, the reasons' JSON) are
     * quoted, their quotes doubled; numbers are not; nulls are empty cells */
    char *a = expand("\r\n\"<A>\",\"Alpha newsletter\",\"email\",\"active\",4.1667,2.6667,2.6667,"
                     "1.1667,1.5,0.4375,\"{ \"\"spam\"\" : 1, \"\"bad_timing\"\" : 0.5 }\",3.57,"
                     "0.6667,7200,14400,0.6667,0.6667,667,0,1000,240,857,1500,-0.333\r\n",
                     false);
    char *d = expand("\r\n\"<D>\",\"Delta idle\",\"content\",\"planned\",0,0,0,0,0,,\"{}\",,0,,,0,"
                     "0,0,0,500,,,,-1\r\n",
                     false);
    ck_assert_msg(strstr(r->body, a) != NULL, "csv: no row %s in %s", a, r->body);
    ck_assert_msg(strstr(r->body, d) != NULL, "csv: no row %s in %s", d, r->body);
    int lines = 0;
    for (const char *p = r->body; (p = strstr(p, "\r\n")); p += 2)
        lines++;
    ck_assert_msg(lines == 5 && r->body[r->len - 1] == '\n', "csv: %d lines: %s", lines, r->body);
    free(a);
    free(d);
    resp_free(r);
}

/* Every report path the fixture test reads. */
static const char *const report_paths[] = {
    "/v1/reports/campaigns",
    "/v1/reports/campaigns?attribution=last_touch",
    "/v1/reports/campaigns?attribution=linear",
    "/v1/reports/campaigns?attribution=linear&from=2026-03-05&to=2026-03-20",
    "/v1/reports/campaigns?from=2026-02-15&to=2026-03-31",
    "/v1/reports/sources",
    "/v1/reports/sources?from=2026-03-05&to=2026-03-20",
    "/v1/reports/campaigns?attribution=last_touch&from=2026-02-20&to=2026-04-10",
    "/v1/reports/funnel",
    "/v1/reports/funnel?source=web",
    "/v1/reports/rejections?group_by=source",
    "/v1/reports/rejections?group_by=campaign&attribution=linear",
    "/v1/reports/rejections?group_by=owner",
    "/v1/reports/follow-up",
    NULL,
};

START_TEST(fixture_matches_hand_computed_figures)
{
    struct fixture f;
    memset(&f, 0, sizeof f);
    keys("reports-a");
    build_fixture(&f);

    expect_report("/v1/reports/campaigns", readonly, first_touch_all);
    expect_report("/v1/reports/campaigns?attribution=first_touch", readonly, first_touch_all);
    expect_report("/v1/reports/campaigns?attribution=last_touch", readonly, last_touch_all);
    expect_report("/v1/reports/campaigns?attribution=linear", readonly, linear_all);
    expect_report("/v1/reports/campaigns?attribution=linear&from=2026-03-05&to=2026-03-20",
                  readonly, linear_window);
    expect_report("/v1/reports/campaigns?from=2026-02-15&to=2026-03-31", readonly,
                  first_touch_months);
    expect_report("/v1/reports/sources", readonly, sources_all);
    expect_report("/v1/reports/funnel", readonly, funnel_all);
    char path[256];
    snprintf(path, sizeof path, "/v1/reports/funnel?campaign_id=%s&attribution=linear", f.c);
    expect_report(path, readonly, funnel_c_linear);
    expect_report("/v1/reports/funnel?source=web", readonly, funnel_web);
    expect_rejections_and_follow_up(&f);
    expect_csv();

    /* a window bounded on one side prorates too: from 03-21, C's run has 10 of its 30 days
     * inside (03-21 .. 03-30): 3001 * 10 / 30 = 1000.33 -> 1000; to 03-15, 15 days (03-01 ..
     * 03-15): 3001 / 2 = 1500.5 -> 1501; in April C has no day of its run: 0. A and D are
     * never prorated (no run dates; no end). */
    static const struct {
        const char *path;
        long a, b, c, d;
    } costs[] = {{"/v1/reports/campaigns?from=2026-03-21", 1000, 0, 1000, 500},
                 {"/v1/reports/campaigns?to=2026-03-15", 1000, 0, 1501, 500},
                 {"/v1/reports/campaigns?from=2026-04-01&to=2026-04-30", 1000, 0, 0, 500}};
    for (size_t i = 0; i < sizeof costs / sizeof costs[0]; i++) {
        struct resp *r = get(costs[i].path, readonly);
        ck_assert_msg(r->status == 200, "%s: %ld %s", costs[i].path, r->status, r->body);
        json_t *data = json_object_get(r->json, "data");
        ck_assert_int_eq(json_array_size(data), 4);
        const long want[4] = {costs[i].a, costs[i].b, costs[i].d, costs[i].c}; /* by name */
        for (size_t j = 0; j < 4; j++) {
            json_t *cost = json_object_get(json_array_get(data, j), "cost");
            ck_assert_msg(json_is_integer(cost) && json_integer_value(cost) == want[j],
                          "%s: row %zu cost: expected %ld, got %s", costs[i].path, j, want[j],
                          js(cost));
        }
        resp_free(r);
    }

    /* the figures the triggers kept equal the figures recomputed from the rows */
    char *before[16] = {NULL};
    for (int i = 0; report_paths[i]; i++) {
        struct resp *r = get(report_paths[i], readonly);
        ck_assert_int_eq(r->status, 200);
        before[i] = strdup(r->body);
        resp_free(r);
    }
    PGconn *pg = pg_test();
    char *done = pg_value_p(pg, "SELECT ll_report_rebuild($1::uuid)::text", f.ws);
    free(done);
    PQfinish(pg);
    for (int i = 0; report_paths[i]; i++) {
        struct resp *r = get(report_paths[i], readonly);
        size_t at = 0;
        while (before[i][at] && before[i][at] == r->body[at])
            at++;
        size_t from = at > 60 ? at - 60 : 0;
        ck_assert_msg(before[i][at] == r->body[at],
                      "%s: kept figures differ from rebuilt ones at byte %zu:\n"
                      "kept:    ...%.200s\nrebuilt: ...%.200s",
                      report_paths[i], at, before[i] + from, r->body + from);
        free(before[i]);
        resp_free(r);
    }
}
END_TEST

START_TEST(credit_at_the_hand_off_and_each_lead_once)
{
    struct fixture f;
    memset(&f, 0, sizeof f);
    keys("reports-edge");
    PGconn *pg = pg_test();
    create("/v1/campaigns", marketing, "{\"name\":\"Xray\",\"channel\":\"email\"}", f.a);
    create("/v1/campaigns", marketing, "{\"name\":\"Yankee\",\"channel\":\"webinar\"}", f.b);
    create("/v1/campaigns", marketing, "{\"name\":\"Zulu\",\"channel\":\"event\"}", f.c);
    for (int i = 1; i <= 4; i++) {
        lead(&f, i, "web", NULL);
        sql_one(pg, "UPDATE leads SET created_at = $1 WHERE id = $2", 2, "2026-06-01T09:00:00Z",
                f.l[i]);
    }
    /* P */
    touch(pg, &f, f.a, 1, "sent", "2026-06-01T10:00:00Z");
    touch(pg, &f, f.a, 1, "clicked", "2026-06-01T11:00:00Z");
    touch(pg, &f, f.b, 1, "registered", "2026-06-01T12:00:00Z");
    touch(pg, &f, f.c, 1, "attended", "2026-06-01T13:00:00Z");
    transition(pg, &f, 1, "new", "sales_accepted", "2026-06-01T12:00:00Z");
    feedback(pg, &f, 1, "{\"kind\":\"contacted\"}", "2026-06-01T12:01:40Z", NULL, NULL);
    /* Q, R */
    static const char *const contacted[] = {"2026-06-01T11:03:20Z", "2026-06-01T11:05:00Z"};
    for (int i = 2; i <= 3; i++) {
        touch(pg, &f, f.a, i, "sent", "2026-06-01T10:00:00Z");
        transition(pg, &f, i, "new", "mql", "2026-06-01T11:00:00Z");
        feedback(pg, &f, i, "{\"kind\":\"contacted\"}", contacted[i - 2], NULL, NULL);
    }
    /* S */
    transition(pg, &f, 4, "new", "mql", "2026-06-01T10:00:00Z");
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", f.l[4]);
    create(path, admin, "{\"to\":\"disqualified\",\"reason\":\"moved abroad\"}", NULL);
    moved_at(pg, &f, 4, "mql", "disqualified", "2026-06-01T10:30:00Z");
    PQfinish(pg);

    nsubs = 0;
    define("X", f.a);
    define("Y", f.b);
    define("Z", f.c);
    expect_report("/v1/reports/campaigns?attribution=linear", readonly, edge_linear);
    expect_report("/v1/reports/campaigns?attribution=last_touch", readonly, edge_last_touch);
    expect_report("/v1/reports/funnel", readonly, edge_funnel);
    expect_report("/v1/reports/follow-up", readonly, edge_follow_up);
}
END_TEST

START_TEST(bad_report_input_is_a_precise_problem)
{
    static const struct {
        const char *path, *field;
    } cases[] = {
        {"/v1/reports/campaigns?colour=red", "colour"},
        {"/v1/reports/sources?attribution=linear", "attribution"},
        {"/v1/reports/follow-up?group_by=owner", "group_by"},
        {"/v1/reports/funnel?limit=10", "limit"},
        {"/v1/reports/rejections?campaign_id=5b0d2f0c-8e4a-4c1b-9d7e-0f3a6b2c1d99", "campaign_id"},
        {"/v1/reports/campaigns?from=2026-03-10&to=2026-03-01", "to"},
        {"/v1/reports/campaigns?from=2026-02-29", "from"},
        {"/v1/reports/sources?to=2026-3-1", "to"},
        {"/v1/reports/follow-up?from=yesterday", "from"},
        {"/v1/reports/funnel?to=2026-03-01T00:00:00Z", "to"},
        {"/v1/reports/rejections?from=", "from"},
        {"/v1/reports/campaigns?attribution=u_shaped", "attribution"},
        {"/v1/reports/funnel?attribution=LINEAR", "attribution"},
        {"/v1/reports/rejections?group_by=country", "group_by"},
        {"/v1/reports/rejections?group_by=source&attribution=linear", "attribution"},
        {"/v1/reports/rejections?group_by=owner&attribution=first_touch", "attribution"},
        {"/v1/reports/funnel?campaign_id=not-a-uuid", "campaign_id"},
        {"/v1/reports/funnel?source=tv", "source"},
        {"/v1/reports/funnel?owner_id=42", "owner_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp *r = get(cases[i].path, readonly_key);
        assert_problem(r, 400, "invalid-parameter");
        json_t *errors = json_object_get(r->json, "errors");
        ck_assert_msg(json_array_size(errors) == 1 && problem_names(r, cases[i].field),
                      "%s: expected errors[] naming only %s, got %s", cases[i].path, cases[i].field,
                      r->body);
        resp_free(r);
    }

    /* the widest windows the dates allow are not errors: the month arithmetic at the
     * edges (to + 1 day, the month after from) stays inside PostgreSQL's dates */
    static const char *const wide[] = {
        "/v1/reports/campaigns?attribution=linear&from=1900-01-31&to=9999-12-31",
        "/v1/reports/sources?to=9999-12-31", "/v1/reports/funnel?from=1900-01-01",
        "/v1/reports/rejections?group_by=source&from=9999-12-31",
        "/v1/reports/follow-up?from=1900-01-01&to=9999-12-31"};
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++) {
        struct resp *r = get(wide[i], readonly_key);
        ck_assert_msg(r->status == 200, "%s: %ld %s", wide[i], r->status, r->body);
        resp_free(r);
    }

    /* representations: JSON or CSV, nothing else */
    static const struct {
        const char *accept;
        long status;
        const char *type;
    } neg[] = {
        {"Accept: image/png", 406, NULL},
        {"Accept: text/csv;q=0", 406, NULL},
        {"Accept: application/json;q=0, image/*", 406, NULL},
        {"Accept: text/*", 200, "text/csv; charset=utf-8"},
        {"Accept: text/csv;q=0.5, application/json", 200, "application/json"},
        {"Accept: application/json;q=0.2, text/csv;q=0.9", 200, "text/csv; charset=utf-8"},
        {"Accept: */*", 200, "application/json"},
    };
    for (size_t i = 0; i < sizeof neg / sizeof neg[0]; i++) {
        const char *h[] = {neg[i].accept, NULL};
        struct resp *r = req(&main_daemon, "GET", "/v1/reports/sources", readonly_key, h, NULL, 0);
        if (neg[i].status == 406) {
            assert_problem(r, 406, "not-acceptable");
        } else {
            char *ct = resp_header(r, "Content-Type");
            ck_assert_msg(r->status == 200 && ct && !strcmp(ct, neg[i].type),
                          "%s: expected %s, got %ld %s", neg[i].accept, neg[i].type, r->status,
                          ct ? ct : "(none)");
            free(ct);
        }
        resp_free(r);
    }
    /* parameters are checked before the representation: a bad one is 400 even as CSV */
    const char *csv[] = {"Accept: text/csv", NULL};
    struct resp *r =
        req(&main_daemon, "GET", "/v1/reports/campaigns?attribution=x", readonly_key, csv, NULL, 0);
    assert_problem(r, 400, "invalid-parameter");
    ck_assert(problem_names(r, "attribution"));
    resp_free(r);

    /* bad feedback that tests/api/test_feedback.c does not try already */
    char adm[64], sal[64], other[64], mql[40], acc[40], path[128];
    ck_assert(workspace_key("reports-bad", "admin", adm));
    ck_assert(workspace_key("reports-bad", "sales", sal));
    ck_assert(workspace_key("reports-bad-other", "admin", other));
    /* a reason that exists only in another workspace */
    create("/v1/feedback-reasons", other,
           "{\"code\":\"elsewhere\",\"label\":\"Only in the other workspace\","
           "\"kinds\":[\"rejected\",\"lost\",\"recycled\"]}",
           NULL);
    create("/v1/leads", adm, "{\"email\":\"bad.mql@reports.example\"}", mql);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", mql);
    create(path, adm, "{\"to\":\"mql\"}", NULL);
    create("/v1/leads", adm, "{\"email\":\"bad.accepted@reports.example\"}", acc);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", acc);
    create(path, adm, "{\"to\":\"sales_accepted\"}", NULL);
    static const struct {
        bool accepted_lead;
        const char *body, *field, *message;
    } fb[] = {
        {false, "{\"kind\":\"rejected\"}", "reason", "is required for rejected feedback"},
        {false, "{\"kind\":\"recycled\"}", "reason", "is required for recycled feedback"},
        {false, "{\"kind\":\"rejected\",\"reason\":\"\"}", "reason", NULL},
        {false, "{\"kind\":\"rejected\",\"reason\":\"elsewhere\"}", "reason",
         "is not a reason of this workspace"},
        {false, "{\"kind\":\"recycled\",\"reason\":\"duplicate\"}", "reason",
         "does not apply to recycled feedback"},
        {false, "{\"kind\":\"contacted\",\"reason\":\"no_budget\"}", "reason",
         "is given only with rejected, lost or recycled feedback"},
        {false, "{\"kind\":\"accepted\",\"rating\":\"4\"}", "rating", NULL},
        {false, "{\"kind\":\"accepted\",\"rating\":4.5}", "rating", NULL},
        {true, "{\"kind\":\"lost\",\"reason\":\"not_reachable\"}", "reason",
         "does not apply to lost feedback"},
        {true, "{\"kind\":\"lost\",\"reason\":\"duplicate\"}", "reason",
         "does not apply to lost feedback"},
        {true, "{\"kind\":\"won\",\"amount\":-1,\"currency\":\"USD\"}", "amount", NULL},
        {true, "{\"kind\":\"won\",\"amount\":\"100\",\"currency\":\"USD\"}", "amount", NULL},
        {true, "{\"kind\":\"won\",\"amount\":100,\"currency\":\"usd\"}", "currency", NULL},
    };
    for (size_t i = 0; i < sizeof fb / sizeof fb[0]; i++) {
        snprintf(path, sizeof path, "/v1/leads/%s/feedback", fb[i].accepted_lead ? acc : mql);
        r = post(path, sal, fb[i].body);
        ck_assert_msg(r->status == 422, "%s: expected 422 naming %s, got %ld %s", fb[i].body,
                      fb[i].field, r->status, r->body);
        assert_problem(r, 422, "validation-failed");
        ck_assert_msg(problem_names(r, fb[i].field), "%s: expected errors[] naming %s: %s",
                      fb[i].body, fb[i].field, r->body);
        if (fb[i].message) {
            const char *m = json_string_value(
                json_object_get(json_array_get(json_object_get(r->json, "errors"), 0), "message"));
            ck_assert_msg(m && !strcmp(m, fb[i].message), "%s: expected message '%s', got %s",
                          fb[i].body, fb[i].message, r->body);
        }
        resp_free(r);
    }
    /* nothing was written, and the leads kept their stages */
    PGconn *pg = pg_test();
    PGresult *res;
    const char *ids[2] = {mql, acc};
    res = PQexecParams(pg,
                       "SELECT (SELECT count(*) FROM feedback WHERE lead_id IN ($1, $2))::text"
                       " || ' ' || (SELECT string_agg(stage, ',' ORDER BY id = $1) FROM leads"
                       " WHERE id IN ($1, $2))",
                       2, NULL, ids, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "0 sales_accepted,mql");
    PQclear(res);
    PQfinish(pg);
}
END_TEST

START_TEST(report_roles)
{
    static const char *const paths[] = {"/v1/reports/campaigns", "/v1/reports/sources",
                                        "/v1/reports/funnel", "/v1/reports/rejections",
                                        "/v1/reports/follow-up"};
    char adm[64], mkt[64], sal[64], ro[64], other[64], camp[40], mine[40], lid[40];
    char path[160], body[160];
    ck_assert(workspace_key("reports-roles", "admin", adm));
    ck_assert(workspace_key("reports-roles", "marketing", mkt));
    ck_assert(workspace_key("reports-roles", "sales", sal));
    ck_assert(workspace_key("reports-roles", "readonly", ro));
    ck_assert(workspace_key("reports-roles-b", "admin", other));
    create("/v1/campaigns", mkt, "{\"name\":\"Roles fair\",\"channel\":\"event\"}", camp);
    create("/v1/leads", mkt, "{\"email\":\"roles@reports.example\",\"source\":\"event\"}", lid);
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", camp);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"attended\"}", lid);
    create(path, mkt, body, NULL);
    create("/v1/campaigns", other, "{\"name\":\"Other fair\",\"channel\":\"event\"}", mine);

    const char *const roles[] = {ro, mkt, sal, adm};
    for (size_t k = 0; k < 4; k++)
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            struct resp *r = get(paths[i], roles[k]);
            ck_assert_msg(r->status == 200, "%s with key %zu: %ld %s", paths[i], k, r->status,
                          r->body);
            resp_free(r);
        }
    struct resp *r = get("/v1/reports/campaigns", NULL);
    assert_problem(r, 401, "unauthorized");
    resp_free(r);

    /* feedback: sales (and admin) only */
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lid);
    r = post(path, ro, "{\"kind\":\"contacted\"}");
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = post(path, mkt, "{\"kind\":\"contacted\"}");
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = post(path, sal, "{\"kind\":\"contacted\"}");
    ck_assert_msg(r->status == 201, "sales feedback: %ld %s", r->status, r->body);
    resp_free(r);

    /* the workspace's report: its one campaign, one lead, contacted by sales */
    r = get("/v1/reports/campaigns", ro);
    json_t *data = json_object_get(r->json, "data"), *row = json_array_get(data, 0);
    ck_assert_msg(json_array_size(data) == 1 &&
                      !strcmp(json_string_value(json_object_get(row, "campaign_id")), camp) &&
                      json_integer_value(json_object_get(row, "leads")) == 1 &&
                      json_integer_value(json_object_get(row, "contacted")) == 1,
                  "own report: %s", r->body);
    resp_free(r);

    /* another workspace sees its own campaign only, and none of these leads */
    r = get("/v1/reports/campaigns", other);
    data = json_object_get(r->json, "data");
    row = json_array_get(data, 0);
    ck_assert_msg(r->status == 200 && json_array_size(data) == 1 &&
                      !strcmp(json_string_value(json_object_get(row, "campaign_id")), mine) &&
                      json_integer_value(json_object_get(row, "leads")) == 0 &&
                      strstr(r->body, camp) == NULL,
                  "other workspace's campaigns report: %s", r->body);
    resp_free(r);
    r = get("/v1/reports/sources", other);
    size_t i;
    json_array_foreach(json_object_get(r->json, "data"), i, row)
        ck_assert_msg(json_integer_value(json_object_get(row, "leads")) == 0 &&
                          json_integer_value(json_object_get(row, "contacted")) == 0,
                      "other workspace's sources: %s", r->body);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), 8);
    resp_free(r);
    snprintf(path, sizeof path, "/v1/reports/funnel?campaign_id=%s", camp);
    r = get(path, other);
    row = json_array_get(json_object_get(r->json, "data"), 0);
    ck_assert_msg(r->status == 200 && json_is_integer(json_object_get(row, "leads")) &&
                      json_integer_value(json_object_get(row, "leads")) == 0,
                  "other workspace's funnel of this campaign: %s", r->body);
    resp_free(r);
    /* the same funnel in the campaign's own workspace counts its lead */
    r = get(path, ro);
    row = json_array_get(json_object_get(r->json, "data"), 0);
    ck_assert_msg(json_integer_value(json_object_get(row, "leads")) == 1, "own funnel: %s",
                  r->body);
    resp_free(r);
}
END_TEST

/* ------------------------------------------------------------------ CSV injection */

/* Campaign names a spreadsheet would run as formulas, or that try to leave their cell,
 * come back from the CSV report as one cell each, in the right column, and as text: the
 * guarded ones start with an apostrophe (OWASP "CSV Injection"). */
START_TEST(csv_cells_cannot_become_formulas)
{
    static const struct {
        const char *name;
        bool guarded;
    } cases[] = {
        {"=0,=1+1,=2+2", true},            /* the report of the issue */
        {"+1+1", true},                    /* each character that starts a formula */
        {"-1+1", true},                    /* */
        {"@SUM(1+1)", true},               /* */
        {"\t=1+1", true},                  /* a tab first */
        {"\r=1+1", true},                  /* a carriage return first */
        {" =1+1", true},                   /* blanks before it */
        {"\"=1+1", true},                  /* a quote before it */
        {"'=1+1", true},                   /* an apostrophe before it */
        {"a\",\"=1+1", false},             /* out of the cell through a quote */
        {"a;=1+1", false},                 /* or through a semicolon-separated spreadsheet */
        {"a\r\n=1+1,=2", false},           /* or through a line break */
        {"Plain, \"quoted\" name", false}, /* no formula: as it is */
    };
    enum { N = sizeof cases / sizeof cases[0] };
    static const char *const accept[] = {"Accept: text/csv", NULL};
    char adm[64], ro[64], ids[N][40], why[200];
    struct csv_table t;

    ck_assert(workspace_key("reports-csv", "admin", adm));
    ck_assert(workspace_key("reports-csv", "readonly", ro));
    for (size_t i = 0; i < N; i++) {
        json_t *body = json_pack("{s:s, s:s}", "name", cases[i].name, "channel", "email");
        char *text = json_dumps(body, JSON_COMPACT);
        create("/v1/campaigns", adm, text, ids[i]);
        free(text);
        json_decref(body);
    }
    struct resp *r = req(&main_daemon, "GET", "/v1/reports/campaigns", ro, accept, NULL, 0);
    ck_assert_msg(r->status == 200, "csv: %ld %s", r->status, r->body);
    ck_assert_msg(csv_table_read(r->body, r->len, &t, why, sizeof why),
                  "the report is not RFC 4180 CSV: %s\n%s", why, r->body);
    ck_assert_msg(t.nrows == N + 1, "expected a header and %d rows, got %zu rows:\n%s", (int)N,
                  t.nrows, r->body);
    size_t ncols = t.rows[0].ncells;
    ck_assert_msg(ncols == 24 && !strcmp(t.rows[0].cells[1], "name"),
                  "header: %zu columns, the second %s", ncols, t.rows[0].cells[1]);
    for (size_t i = 0; i < N; i++) {
        const struct csv_table_row *row = NULL;
        char want[64];
        for (size_t k = 1; k < t.nrows; k++)
            if (t.rows[k].ncells >= 1 && !strcmp(t.rows[k].cells[0], ids[i]))
                row = &t.rows[k];
        ck_assert_msg(row, "no row for campaign %zu (%s):\n%s", i, js(json_string(cases[i].name)),
                      r->body);
        ck_assert_msg(row->ncells == ncols, "campaign %zu: %zu cells, not %zu:\n%s", i, row->ncells,
                      ncols, r->body);
        snprintf(want, sizeof want, "%s%s", cases[i].guarded ? "'" : "", cases[i].name);
        ck_assert_msg(!strcmp(row->cells[1], want), "campaign %zu: name cell %s, expected %s", i,
                      js(json_string(row->cells[1])), js(json_string(want)));
        ck_assert_msg(!strcmp(row->cells[2], "email"), "campaign %zu: channel cell %s", i,
                      row->cells[2]);
    }
    csv_table_free(&t);
    resp_free(r);
}
END_TEST

Suite *reports_suite(void)
{
    Suite *s = suite_create("reports");
    TCase *tc = tcase_create("reports");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fixture_matches_hand_computed_figures);
    tcase_add_test(tc, credit_at_the_hand_off_and_each_lead_once);
    tcase_add_test(tc, bad_report_input_is_a_precise_problem);
    tcase_add_test(tc, report_roles);
    suite_add_tcase(s, tc);
    tc = tcase_create("csv");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, csv_cells_cannot_become_formulas);
    suite_add_tcase(s, tc);
    return s;
}
