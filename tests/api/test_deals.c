/* Second deals and corrections (issue 14): a returning customer's next deals with their
 * history, a disqualified lead that comes back, corrections of won and lost amounts (and
 * every way a correction can be refused, each a 422 naming its field), the lost amount in
 * the campaigns and sources reports (JSON and CSV), and avg_rating taking one rating per
 * lead, its latest. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

static char admin[64], sales[64], other[64];

static void keys(void)
{
    static bool made;
    if (made)
        return;
    ck_assert(workspace_key("deals-r", "admin", admin));
    ck_assert(workspace_key("deals-r", "sales", sales));
    ck_assert(workspace_key("deals-o", "admin", other));
    made = true;
}

/* POSTs body to path with key and asserts the status; the answer's id into id (when not
 * NULL). */
static void post_as(const char *path, const char *key, const char *body, long want, char *id)
{
    struct resp *r = post(path, key, body);
    ck_assert_msg(r->status == want, "POST %s %s: expected %ld, got %ld %s", path, body, want,
                  r->status, r->body);
    if (id)
        snprintf(id, 37, "%s", jstr(r, "id"));
    resp_free(r);
}

/* A new lead of the campaign (NULL: none) with this source; its id into id. */
static void lead(const char *key, const char *email, const char *source, const char *campaign,
                 char id[37])
{
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"source\":\"%s\"%s%s%s}", email, source,
             campaign ? ",\"campaign_id\":\"" : "", campaign ? campaign : "", campaign ? "\"" : "");
    post_as("/v1/leads", key, body, 201, id);
}

static void move(const char *key, const char *lead_id, const char *to)
{
    char path[128], body[64];
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", lead_id);
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", to);
    post_as(path, key, body, 201, NULL);
}

/* Feedback on the lead; its id into id (when not NULL); the stage it left the lead in is
 * checked against after (when not NULL). */
static void give(const char *key, const char *lead_id, const char *body, const char *after,
                 char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", lead_id);
    struct resp *r = post(path, key, body);
    ck_assert_msg(r->status == 201, "feedback %s: %ld %s", body, r->status, r->body);
    if (after)
        ck_assert_msg(!strcmp(jstr(r, "stage_after"), after), "feedback %s: stage_after %s, not %s",
                      body, jstr(r, "stage_after"), after);
    if (id)
        snprintf(id, 37, "%s", jstr(r, "id"));
    resp_free(r);
}

/* The row of data whose member key is value (borrowed), or NULL. */
static json_t *row_of(const struct resp *r, const char *key, const char *value)
{
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r->json, "data"), i, row)
    {
        const char *v = json_string_value(json_object_get(row, key));
        if (v && !strcmp(v, value))
            return row;
    }
    return NULL;
}

/* Asserts that the row's member is the JSON text want (a number, or null). */
static void figure(const json_t *row, const char *member, const char *want)
{
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    json_t *g = json_object_get(row, member);
    char *gs = g ? json_dumps(g, JSON_ENCODE_ANY) : NULL;
    ck_assert_msg(w && json_equal(w, g), "%s: expected %s, got %s", member, want,
                  gs ? gs : "(absent)");
    free(gs);
    json_decref(w);
}

/* The cell of column name in the CSV row whose first cell is first. */
static void csv_cell_is(const struct resp *r, const char *first, const char *name, const char *want)
{
    struct csv_table t;
    char why[200];
    ck_assert_msg(csv_table_read(r->body, r->len, &t, why, sizeof why), "CSV: %s", why);
    size_t col = t.rows[0].ncells;
    for (size_t c = 0; c < t.rows[0].ncells; c++)
        if (!strcmp(t.rows[0].cells[c], name))
            col = c;
    ck_assert_msg(col < t.rows[0].ncells, "CSV has no column %s: %s", name, r->body);
    bool found = false;
    for (size_t k = 1; k < t.nrows; k++)
        if (!strcmp(t.rows[k].cells[0], first)) {
            found = true;
            ck_assert_msg(col < t.rows[k].ncells && !strcmp(t.rows[k].cells[col], want),
                          "CSV %s of %s: expected %s in %s", name, first, want, r->body);
        }
    ck_assert_msg(found, "CSV has no row %s: %s", first, r->body);
    csv_table_free(&t);
}

/* A returning customer's deals, a disqualified lead that comes back, corrections, the lost
 * amount and the latest rating, through the campaigns and sources reports. The workspace
 * has only these leads in source web and campaign K. */
START_TEST(second_deals_corrections_and_lost_amounts_are_reported)
{
    char k[37], l1[37], l2[37], l3[37], won1[37], lost1[37], won2[37], lost2[37], path[160];
    char body[256];
    keys();
    post_as("/v1/campaigns", admin, "{\"name\":\"Deals K\",\"channel\":\"event\"}", 201, k);

    /* L1: rated 2 at acceptance, won 1000 (corrected to 700, then to 800) */
    lead(admin, "deal.one@example.com", "web", k, l1);
    move(admin, l1, "mql");
    give(sales, l1, "{\"kind\":\"accepted\",\"rating\":2}", "sales_accepted", NULL);
    give(sales, l1, "{\"kind\":\"won\",\"amount\":1000,\"currency\":\"USD\"}", "customer", won1);
    snprintf(body, sizeof body,
             "{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":700,\"currency\":\"USD\"}",
             won1);
    give(sales, l1, body, "customer", NULL);
    /* its second deal, rated 5, lost for a disqualifying reason: it stays a customer */
    move(admin, l1, "opportunity");
    give(sales, l1, "{\"kind\":\"meeting_booked\",\"rating\":5}", "opportunity", NULL);
    give(sales, l1,
         "{\"kind\":\"lost\",\"reason\":\"competitor\",\"amount\":400,\"currency\":\"USD\"}",
         "customer", lost1);
    snprintf(body, sizeof body,
             "{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":300,\"currency\":\"USD\"}",
             lost1);
    give(sales, l1, body, "customer", NULL);
    /* its third deal, won 500; then the first won amount corrected again: 800 counts */
    move(admin, l1, "opportunity");
    give(sales, l1, "{\"kind\":\"won\",\"amount\":500,\"currency\":\"USD\"}", "customer", won2);
    snprintf(body, sizeof body,
             "{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":800,\"currency\":\"USD\"}",
             won1);
    give(sales, l1, body, "customer", NULL);

    /* L2: rated 4 now, then 1 for a contact two days ago: its latest rating is 4; lost 250,
     * corrected to 0 */
    lead(admin, "deal.two@example.com", "web", k, l2);
    move(admin, l2, "mql");
    give(sales, l2, "{\"kind\":\"accepted\",\"rating\":4}", "sales_accepted", NULL);
    give(sales, l2,
         "{\"kind\":\"contacted\",\"rating\":1,\"occurred_at\":\"2020-01-01T00:00:00Z\"}",
         "sales_accepted", NULL);
    give(sales, l2,
         "{\"kind\":\"lost\",\"reason\":\"no_budget\",\"amount\":250,\"currency\":\"USD\"}",
         "recycled", lost2);
    snprintf(body, sizeof body,
             "{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":0,\"currency\":\"USD\"}",
             lost2);
    give(sales, l2, body, "recycled", NULL);

    /* L3 (event, no campaign): disqualified as spam, then back through recycled and mql */
    lead(admin, "deal.three@example.com", "event", NULL, l3);
    give(sales, l3, "{\"kind\":\"rejected\",\"reason\":\"spam\"}", "disqualified", NULL);
    move(admin, l3, "recycled");
    move(admin, l3, "mql");
    give(sales, l3, "{\"kind\":\"accepted\"}", "sales_accepted", NULL);

    /* L1's history: each deal its own cycle, customer -> opportunity twice */
    snprintf(path, sizeof path, "/v1/leads/%s/history?limit=50", l1);
    struct resp *r = get(path, sales);
    ck_assert_int_eq(r->status, 200);
    size_t i, next_deals = 0, to_customer = 0;
    json_t *e;
    json_array_foreach(json_object_get(r->json, "data"), i, e)
    {
        const char *from = json_string_value(json_object_get(e, "from"));
        const char *to = json_string_value(json_object_get(e, "to"));
        next_deals += from && !strcmp(from, "customer") && !strcmp(to, "opportunity");
        to_customer += !strcmp(to, "customer");
    }
    ck_assert_msg(next_deals == 2 && to_customer == 3, "L1's history: %s", r->body);
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s/history", l3);
    r = get(path, sales);
    ck_assert_msg(strstr(r->body, "\"from\":\"disqualified\",\"to\":\"recycled\""),
                  "L3's history: %s", r->body);
    resp_free(r);

    /* The feedback list shows the corrections, each naming its entry */
    snprintf(path, sizeof path, "/v1/leads/%s/feedback?limit=50", l1);
    r = get(path, sales);
    size_t corrections = 0, of_won1 = 0;
    json_array_foreach(json_object_get(r->json, "data"), i, e)
    {
        const char *kind = json_string_value(json_object_get(e, "kind"));
        json_t *c = json_object_get(e, "corrects");
        if (!strcmp(kind, "correction")) {
            corrections++;
            of_won1 += json_is_string(c) && !strcmp(json_string_value(c), won1);
        } else {
            ck_assert_msg(json_is_null(c), "corrects of %s: %s", kind, r->body);
        }
    }
    ck_assert_msg(corrections == 3 && of_won1 == 2, "L1's feedback: %s", r->body);
    resp_free(r);
    r = get("/v1/feedback?kind=correction&limit=500", sales);
    ck_assert_msg(r->status == 200 && json_array_size(json_object_get(r->json, "data")) >= 4,
                  "corrections: %s", r->body);
    json_array_foreach(json_object_get(r->json, "data"), i, e)
        ck_assert_str_eq(json_string_value(json_object_get(e, "kind")), "correction");
    resp_free(r);

    /* The figures: won once (L1), opportunities 1 (L1's first time), won_amount 800 + 500,
     * lost_amount 300 + 0, avg_rating (5 + 4) / 2 over the rated leads */
    r = get("/v1/reports/campaigns", sales);
    json_t *row = row_of(r, "campaign_id", k);
    ck_assert_msg(row != NULL, "campaigns: %s", r->body);
    figure(row, "leads", "2");
    figure(row, "accepted", "2");
    figure(row, "opportunities", "1");
    figure(row, "won", "1");
    figure(row, "won_amount", "1300");
    figure(row, "lost_amount", "300");
    figure(row, "avg_rating", "4.5");
    resp_free(r);
    r = get("/v1/reports/sources", sales);
    row = row_of(r, "source", "web");
    ck_assert_msg(row != NULL, "sources: %s", r->body);
    figure(row, "won_amount", "1300");
    figure(row, "lost_amount", "300");
    figure(row, "avg_rating", "4.5");
    /* L3's new verdict is no first verdict: rejected once, accepted never */
    row = row_of(r, "source", "event");
    figure(row, "rejected", "1");
    figure(row, "accepted", "0");
    resp_free(r);
    static const char *const csv[] = {"Accept: text/csv", NULL};
    r = req(&main_daemon, "GET", "/v1/reports/campaigns", sales, csv, NULL, 0);
    csv_cell_is(r, k, "lost_amount", "300");
    csv_cell_is(r, k, "won_amount", "1300");
    resp_free(r);
    r = req(&main_daemon, "GET", "/v1/reports/sources", sales, csv, NULL, 0);
    csv_cell_is(r, "web", "lost_amount", "300");
    resp_free(r);
}
END_TEST

/* fmt with its one "%s" (if any) replaced by id, into out (cap bytes). */
static void fill(char *out, size_t cap, const char *fmt, const char *id)
{
    const char *at = strstr(fmt, "%s");
    if (!at || !id)
        snprintf(out, cap, "%s", fmt);
    else
        snprintf(out, cap, "%.*s%s%s", (int)(at - fmt), fmt, id, at + 2);
}

/* Each bad correction is a 422 naming its field, and records nothing. */
START_TEST(bad_corrections_are_refused_naming_the_field)
{
    char l1[37], l2[37], lo[37], won[37], lost[37], accepted[37], corr[37], wono[37];
    char body[512], path[128];
    keys();
    lead(admin, "deal.bad1@example.com", "web", NULL, l1);
    move(admin, l1, "mql");
    give(sales, l1, "{\"kind\":\"accepted\"}", NULL, accepted);
    give(sales, l1, "{\"kind\":\"lost\",\"reason\":\"no_budget\"}", NULL, lost);
    snprintf(body, sizeof body,
             "{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":7,\"currency\":\"USD\"}",
             lost);
    give(sales, l1, body, "recycled", corr);
    lead(admin, "deal.bad2@example.com", "web", NULL, l2);
    move(admin, l2, "sales_accepted");
    give(sales, l2, "{\"kind\":\"won\",\"amount\":10,\"currency\":\"USD\"}", NULL, won);
    /* another workspace's won entry */
    lead(other, "deal.other@example.com", "web", NULL, lo);
    move(other, lo, "sales_accepted");
    give(other, lo, "{\"kind\":\"won\",\"amount\":10,\"currency\":\"USD\"}", NULL, wono);

    struct {
        const char *fmt, *id, *field, *says;
    } cases[] = {
        {"{\"kind\":\"correction\",\"amount\":5,\"currency\":\"USD\"}", NULL, "corrects",
         "is required"},
        {"{\"kind\":\"correction\",\"corrects\":null,\"amount\":5,\"currency\":\"USD\"}", NULL,
         "corrects", "is required"},
        {"{\"kind\":\"correction\",\"corrects\":\"not-a-uuid\",\"amount\":5,\"currency\":\"USD\"}",
         NULL, "corrects", NULL},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":5,\"currency\":\"USD\"}",
         "7d3f6a52-1c1e-4c55-9a8e-3b0c6d2f9e11", "corrects", "no feedback of this workspace"},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":5,\"currency\":\"USD\"}", wono,
         "corrects", "no feedback of this workspace"},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":5,\"currency\":\"USD\"}", won,
         "corrects", "another lead"},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":5,\"currency\":\"USD\"}",
         accepted, "corrects", "accepted feedback"},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":5,\"currency\":\"USD\"}", corr,
         "corrects", "correction feedback"},
        {"{\"kind\":\"won\",\"corrects\":\"%s\",\"amount\":5,\"currency\":\"USD\"}", lost,
         "corrects", "only with correction"},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\"}", lost, "amount", "is required"},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":null,\"currency\":\"USD\"}", lost,
         "amount", NULL},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":5}", lost, "currency", NULL},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":5,\"currency\":\"EUR\"}", lost,
         "currency", NULL},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":-1,\"currency\":\"USD\"}", lost,
         "amount", NULL},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":5,\"currency\":\"USD\","
         "\"rating\":3}",
         lost, "rating", NULL},
        {"{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":5,\"currency\":\"USD\","
         "\"reason\":\"no_budget\"}",
         lost, "reason", NULL},
    };
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", l1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fill(body, sizeof body, cases[i].fmt, cases[i].id);
        struct resp *r = post(path, sales, body);
        ck_assert_msg(r->status == 422 && problem_names(r, cases[i].field),
                      "%s: expected 422 naming %s, got %ld %s", body, cases[i].field, r->status,
                      r->body);
        assert_problem(r, 422, "validation-failed");
        ck_assert_msg(!cases[i].says || strstr(r->body, cases[i].says), "%s: no \"%s\" in %s", body,
                      cases[i].says, r->body);
        resp_free(r);
    }
    /* none was recorded: L1 has its three entries, and a good correction of its lost entry
     * (0 allowed) goes through */
    PGconn *pg = pg_test();
    char *n = pg_value_p(pg, "SELECT count(*) FROM feedback WHERE lead_id = $1", l1);
    ck_assert_str_eq(n, "3");
    free(n);
    PQfinish(pg);
    snprintf(body, sizeof body,
             "{\"kind\":\"correction\",\"corrects\":\"%s\",\"amount\":0,\"currency\":\"USD\"}",
             lost);
    give(sales, l1, body, "recycled", NULL);
}
END_TEST

Suite *deals_suite(void)
{
    Suite *s = suite_create("deals");
    TCase *tc = tcase_create("deals");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, second_deals_corrections_and_lost_amounts_are_reported);
    tcase_add_test(tc, bad_corrections_are_refused_naming_the_field);
    suite_add_tcase(s, tc);
    return s;
}
