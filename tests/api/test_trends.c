/* The trends report, the campaigns report by channel and sort= on every report: a small
 * workspace whose figures are worked out by hand (periods cut by the window, empty periods,
 * prorated costs, a campaign without a run, JSON and CSV), the same compared with a
 * computation from scratch (tests/api/scratch.c), every bad parameter answered 400 naming
 * it, and every report sorted by each of its figures. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/vocab.h"
#include "scratch.h"
#include "suites.h"
#include "support.h"

static char admin[64], sales[64];
static char ws_id[37];
static char alpha[37], beta[37], gamma_[37];
static char lead_ids[6][37];

/* A JSON document written with ' for " (new reference). */
static json_t *doc(const char *single_quoted)
{
    char *s = strdup(single_quoted);
    ck_assert_ptr_nonnull(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    ck_assert_msg(j != NULL, "test document: %s: %s", err.text, s);
    free(s);
    return j;
}

static char *dumps(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static struct resp *post_ok(const char *path, const char *key, const char *body, long want)
{
    struct resp *r = post(path, key, body);
    ck_assert_msg(r->status == want, "POST %s: %ld %.400s", path, r->status, r->body);
    return r;
}

static void make_campaign(const char *body, char id[37])
{
    struct resp *r = post_ok("/v1/campaigns", admin, body, 201);
    snprintf(id, 37, "%s", jstr(r, "id"));
    resp_free(r);
}

/* A lead of a source (and campaign, or none), then created at noon UTC of day: noon is
 * the same day in every time zone within 11 hours of UTC. */
static void make_lead(PGconn *pg, int i, const char *source, const char *campaign, const char *day)
{
    char body[256], sql[256];
    snprintf(body, sizeof body, "{\"email\":\"t%d@trends.example\",\"source\":\"%s\"%s%s%s}", i,
             source, campaign ? ",\"campaign_id\":\"" : "", campaign ? campaign : "",
             campaign ? "\"" : "");
    struct resp *r = post_ok("/v1/leads", admin, body, 201);
    snprintf(lead_ids[i], 37, "%s", jstr(r, "id"));
    resp_free(r);
    snprintf(sql, sizeof sql, "UPDATE leads SET created_at = '%s 12:00:00+00' WHERE id = '%s'", day,
             lead_ids[i]);
    pg_ok(pg, sql);
}

static void lead_post(int i, const char *what, const char *key, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s/%s", lead_ids[i], what);
    resp_free(post_ok(path, key, body, 201));
}

/* The workspace, once for the suite (an unchecked fixture: it runs in the runner's
 * process, which every test's process is forked from): campaigns Alpha mail (email, 31,000 over
 * January 2026: 1,000 a day), Beta webinar (webinar, 5,000, no run) and Gamma mail (email, 700 over
 * the ISO week of 2026-01-05: 100 a day), and six leads. */
static void setup(void)
{
    ck_assert(workspace_key("trends", "admin", admin));
    ck_assert(workspace_key("trends", "sales", sales));
    PGconn *pg = pg_test();
    char *id = pg_value(pg, "SELECT id FROM workspaces WHERE slug = 'trends'");
    snprintf(ws_id, sizeof ws_id, "%s", id);
    free(id);
    make_campaign("{\"name\":\"Alpha mail\",\"channel\":\"email\",\"cost\":31000,\"currency\":"
                  "\"USD\",\"starts_on\":\"2026-01-01\",\"ends_on\":\"2026-01-31\"}",
                  alpha);
    make_campaign(
        "{\"name\":\"Beta webinar\",\"channel\":\"webinar\",\"cost\":5000,\"currency\":\"USD\"}",
        beta);
    make_campaign("{\"name\":\"Gamma mail\",\"channel\":\"email\",\"cost\":700,\"currency\":"
                  "\"USD\",\"starts_on\":\"2026-01-05\",\"ends_on\":\"2026-01-11\"}",
                  gamma_);
    make_lead(pg, 0, "web", alpha, "2026-01-02");    /* a Friday: the week of 2025-12-29 */
    make_lead(pg, 1, "web", alpha, "2026-01-05");    /* a Monday */
    make_lead(pg, 2, "event", gamma_, "2026-01-11"); /* a Sunday: still the week of 01-05 */
    make_lead(pg, 3, "web", beta, "2026-01-12");
    make_lead(pg, 4, "paid", alpha, "2026-02-03");
    make_lead(pg, 5, "web", NULL, "2026-01-20");
    /* lead 1: an MQL accepted and won (1,000); lead 2 an MQL rejected */
    lead_post(1, "transitions", admin, "{\"to\":\"mql\"}");
    lead_post(1, "feedback", sales, "{\"kind\":\"accepted\",\"rating\":4}");
    lead_post(1, "feedback", sales, "{\"kind\":\"won\",\"amount\":1000,\"currency\":\"USD\"}");
    lead_post(2, "transitions", admin, "{\"to\":\"mql\"}");
    lead_post(2, "feedback", sales, "{\"kind\":\"rejected\",\"reason\":\"bad_fit\"}");
    PQfinish(pg);
}

/* GETs path and checks members periods and data against want (' for "). */
static void expect_trends(const char *path, const char *want_text)
{
    json_t *want = doc(want_text);
    struct resp *r = get(path, admin);
    ck_assert_msg(r->status == 200, "GET %s: %ld %s", path, r->status, r->body);
    json_t *got = json_pack("{s:O?, s:O?}", "periods", json_object_get(r->json, "periods"), "data",
                            json_object_get(r->json, "data"));
    char *w = dumps(want), *g = dumps(got);
    ck_assert_msg(json_equal(want, got), "GET %s:\n want %s\n got  %s", path, w, g);
    free(w), free(g);
    json_decref(got);
    json_decref(want);
    resp_free(r);
}

#define WEEKS_JAN                                                                                  \
    "'periods':[{'start':'2025-12-29','from':'2026-01-01','to':'2026-01-04'},"                     \
    "{'start':'2026-01-05','from':'2026-01-05','to':'2026-01-11'},"                                \
    "{'start':'2026-01-12','from':'2026-01-12','to':'2026-01-18'}]"

START_TEST(weeks_cut_by_the_window_and_empty_weeks)
{
    char path[256], want[1024];
    snprintf(path, sizeof path,
             "/v1/reports/trends?metric=leads&interval=week&from=2026-01-01&to=2026-01-18");
    snprintf(want, sizeof want,
             "{" WEEKS_JAN ",'data':["
             "{'campaign_id':'%s','name':'Alpha mail','channel':'email','total':2,"
             "'values':[1,1,0]},"
             "{'campaign_id':'%s','name':'Beta webinar','channel':'webinar','total':1,"
             "'values':[0,0,1]},"
             "{'campaign_id':'%s','name':'Gamma mail','channel':'email','total':1,"
             "'values':[0,1,0]}]}",
             alpha, beta, gamma_);
    expect_trends(path, want);

    /* the meta */
    struct resp *r = get(path, admin);
    json_t *meta = doc("{'report':'trends','metric':'leads','interval':'week','group_by':"
                       "'campaign','attribution':'first_touch','from':'2026-01-01','to':"
                       "'2026-01-18','currency':'USD'}");
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        ck_assert_msg(json_equal(v, json_object_get(r->json, k)), "meta %s", k);
    }
    ck_assert_int_eq(json_object_size(r->json), json_object_size(meta) + 2);
    json_decref(meta);
    resp_free(r);

    /* sorted by total: ties (Beta and Gamma, 1 each) keep the campaigns' order */
    snprintf(path, sizeof path,
             "/v1/reports/trends?metric=leads&interval=week&from=2026-01-01&to=2026-01-18"
             "&sort=-total");
    snprintf(want, sizeof want,
             "{" WEEKS_JAN ",'data':["
             "{'campaign_id':'%s','name':'Alpha mail','channel':'email','total':2,"
             "'values':[1,1,0]},"
             "{'campaign_id':'%s','name':'Beta webinar','channel':'webinar','total':1,"
             "'values':[0,0,1]},"
             "{'campaign_id':'%s','name':'Gamma mail','channel':'email','total':1,"
             "'values':[0,1,0]}]}",
             alpha, beta, gamma_);
    expect_trends(path, want);
    snprintf(path, sizeof path,
             "/v1/reports/trends?metric=leads&interval=week&from=2026-01-01&to=2026-01-18"
             "&sort=total");
    snprintf(want, sizeof want,
             "{" WEEKS_JAN ",'data':["
             "{'campaign_id':'%s','name':'Beta webinar','channel':'webinar','total':1,"
             "'values':[0,0,1]},"
             "{'campaign_id':'%s','name':'Gamma mail','channel':'email','total':1,"
             "'values':[0,1,0]},"
             "{'campaign_id':'%s','name':'Alpha mail','channel':'email','total':2,"
             "'values':[1,1,0]}]}",
             beta, gamma_, alpha);
    expect_trends(path, want);
}
END_TEST

START_TEST(cost_prorated_per_period)
{
    char path[256], want[1024];
    /* Alpha: 4 days of the first week inside the window, then 7 and 7, at 1,000 a day;
     * Beta has no run: null; Gamma's whole run is the second week */
    snprintf(path, sizeof path,
             "/v1/reports/trends?metric=cost&interval=week&from=2026-01-01&to=2026-01-18");
    snprintf(want, sizeof want,
             "{" WEEKS_JAN ",'data':["
             "{'campaign_id':'%s','name':'Alpha mail','channel':'email','total':18000,"
             "'values':[4000,7000,7000]},"
             "{'campaign_id':'%s','name':'Beta webinar','channel':'webinar','total':null,"
             "'values':[null,null,null]},"
             "{'campaign_id':'%s','name':'Gamma mail','channel':'email','total':700,"
             "'values':[0,700,0]}]}",
             alpha, beta, gamma_);
    expect_trends(path, want);
    /* by channel: email sums Alpha and Gamma; webinar leaves Beta out; all nine listed */
    expect_trends("/v1/reports/trends?metric=cost&interval=week&group_by=channel"
                  "&from=2026-01-01&to=2026-01-18",
                  "{" WEEKS_JAN ",'data':["
                  "{'channel':'email','total':18700,'values':[4000,7700,7000]},"
                  "{'channel':'webinar','total':0,'values':[0,0,0]},"
                  "{'channel':'event','total':0,'values':[0,0,0]},"
                  "{'channel':'paid_search','total':0,'values':[0,0,0]},"
                  "{'channel':'paid_social','total':0,'values':[0,0,0]},"
                  "{'channel':'content','total':0,'values':[0,0,0]},"
                  "{'channel':'direct_mail','total':0,'values':[0,0,0]},"
                  "{'channel':'referral','total':0,'values':[0,0,0]},"
                  "{'channel':'other','total':0,'values':[0,0,0]}]}");
    /* no window: the periods reach over the campaigns' runs (January) */
    snprintf(path, sizeof path, "/v1/reports/trends?metric=cost&group_by=campaign");
    snprintf(want, sizeof want,
             "{'periods':[{'start':'2026-01-01','from':'2026-01-01','to':'2026-01-31'}],"
             "'data':[{'campaign_id':'%s','name':'Alpha mail','channel':'email','total':31000,"
             "'values':[31000]},"
             "{'campaign_id':'%s','name':'Beta webinar','channel':'webinar','total':null,"
             "'values':[null]},"
             "{'campaign_id':'%s','name':'Gamma mail','channel':'email','total':700,"
             "'values':[700]}]}",
             alpha, beta, gamma_);
    expect_trends(path, want);
}
END_TEST

START_TEST(months_by_source_and_money)
{
    /* no window: from the first month with a lead to the last */
    expect_trends("/v1/reports/trends?metric=leads&group_by=source",
                  "{'periods':[{'start':'2026-01-01','from':'2026-01-01','to':'2026-01-31'},"
                  "{'start':'2026-02-01','from':'2026-02-01','to':'2026-02-28'}],'data':["
                  "{'source':'web','total':4,'values':[4,0]},"
                  "{'source':'event','total':1,'values':[1,0]},"
                  "{'source':'referral','total':0,'values':[0,0]},"
                  "{'source':'paid','total':1,'values':[0,1]},"
                  "{'source':'outbound','total':0,'values':[0,0]},"
                  "{'source':'partner','total':0,'values':[0,0]},"
                  "{'source':'import','total':0,'values':[0,0]},"
                  "{'source':'other','total':0,'values':[0,0]}]}");
    /* a window inside one month, not at its ends */
    char path[256], want[1024];
    snprintf(path, sizeof path,
             "/v1/reports/trends?metric=won_amount&group_by=campaign&from=2026-01-03&to="
             "2026-01-10");
    snprintf(want, sizeof want,
             "{'periods':[{'start':'2026-01-01','from':'2026-01-03','to':'2026-01-10'}],"
             "'data':[{'campaign_id':'%s','name':'Alpha mail','channel':'email','total':1000,"
             "'values':[1000]},"
             "{'campaign_id':'%s','name':'Beta webinar','channel':'webinar','total':0,"
             "'values':[0]},"
             "{'campaign_id':'%s','name':'Gamma mail','channel':'email','total':0,"
             "'values':[0]}]}",
             alpha, beta, gamma_);
    expect_trends(path, want);
    /* MQLs by channel per month, January to March: March is empty but listed */
    expect_trends("/v1/reports/trends?metric=mqls&group_by=channel&from=2026-01-01&to=2026-03-31"
                  "&attribution=last_touch",
                  "{'periods':[{'start':'2026-01-01','from':'2026-01-01','to':'2026-01-31'},"
                  "{'start':'2026-02-01','from':'2026-02-01','to':'2026-02-28'},"
                  "{'start':'2026-03-01','from':'2026-03-01','to':'2026-03-31'}],'data':["
                  "{'channel':'email','total':2,'values':[2,0,0]},"
                  "{'channel':'webinar','total':0,'values':[0,0,0]},"
                  "{'channel':'event','total':0,'values':[0,0,0]},"
                  "{'channel':'paid_search','total':0,'values':[0,0,0]},"
                  "{'channel':'paid_social','total':0,'values':[0,0,0]},"
                  "{'channel':'content','total':0,'values':[0,0,0]},"
                  "{'channel':'direct_mail','total':0,'values':[0,0,0]},"
                  "{'channel':'referral','total':0,'values':[0,0,0]},"
                  "{'channel':'other','total':0,'values':[0,0,0]}]}");
    /* a window before every figure: its periods, all 0 */
    expect_trends("/v1/reports/trends?metric=accepted&group_by=source&interval=week"
                  "&from=2025-06-04&to=2025-06-08",
                  "{'periods':[{'start':'2025-06-02','from':'2025-06-04','to':'2025-06-08'}],"
                  "'data':[{'source':'web','total':0,'values':[0]},"
                  "{'source':'event','total':0,'values':[0]},"
                  "{'source':'referral','total':0,'values':[0]},"
                  "{'source':'paid','total':0,'values':[0]},"
                  "{'source':'outbound','total':0,'values':[0]},"
                  "{'source':'partner','total':0,'values':[0]},"
                  "{'source':'import','total':0,'values':[0]},"
                  "{'source':'other','total':0,'values':[0]}]}");
}
END_TEST

START_TEST(trends_as_csv)
{
    static const char *const csv[] = {"Accept: text/csv", NULL};
    struct resp *r = req(
        &main_daemon, "GET",
        "/v1/reports/trends?metric=cost&interval=week&from=2026-01-01&to=2026-01-18&sort=-total",
        admin, csv, NULL, 0);
    ck_assert_msg(r->status == 200, "%ld %s", r->status, r->body);
    char *ct = resp_header(r, "Content-Type"), *cd = resp_header(r, "Content-Disposition");
    ck_assert_str_eq(ct, "text/csv; charset=utf-8");
    ck_assert_str_eq(cd, "attachment; filename=\"trends.csv\"");
    free(ct), free(cd);
    char want[2048];
    snprintf(
        want, sizeof want,
        "campaign_id,name,channel,period,from,to,value,total\r\n"
        "\"%s\",\"Alpha "
        "mail\",\"email\",\"2025-12-29\",\"2026-01-01\",\"2026-01-04\",4000,18000\r\n"
        "\"%s\",\"Alpha "
        "mail\",\"email\",\"2026-01-05\",\"2026-01-05\",\"2026-01-11\",7000,18000\r\n"
        "\"%s\",\"Alpha "
        "mail\",\"email\",\"2026-01-12\",\"2026-01-12\",\"2026-01-18\",7000,18000\r\n"
        "\"%s\",\"Gamma mail\",\"email\",\"2025-12-29\",\"2026-01-01\",\"2026-01-04\",0,700\r\n"
        "\"%s\",\"Gamma mail\",\"email\",\"2026-01-05\",\"2026-01-05\",\"2026-01-11\",700,700\r\n"
        "\"%s\",\"Gamma mail\",\"email\",\"2026-01-12\",\"2026-01-12\",\"2026-01-18\",0,700\r\n"
        "\"%s\",\"Beta webinar\",\"webinar\",\"2025-12-29\",\"2026-01-01\",\"2026-01-04\",,\r\n"
        "\"%s\",\"Beta webinar\",\"webinar\",\"2026-01-05\",\"2026-01-05\",\"2026-01-11\",,\r\n"
        "\"%s\",\"Beta webinar\",\"webinar\",\"2026-01-12\",\"2026-01-12\",\"2026-01-18\",,\r\n",
        alpha, alpha, alpha, gamma_, gamma_, gamma_, beta, beta, beta);
    ck_assert_msg(r->len == strlen(want) && !memcmp(r->body, want, r->len),
                  "CSV:\n got  %.*s\n want %s", (int)r->len, r->body, want);
    resp_free(r);
    r = req(&main_daemon, "GET", "/v1/reports/trends?group_by=source&from=2026-02-01&to=2026-02-01",
            admin, csv, NULL, 0);
    ck_assert_msg(r->status == 200, "%ld %s", r->status, r->body);
    static const char head[] = "source,period,from,to,value,total\r\n\"web\",\"2026-02-01\","
                               "\"2026-02-01\",\"2026-02-01\",0,0\r\n\"event\",";
    ck_assert_msg(r->len > strlen(head) && !strncmp(r->body, head, strlen(head)), "CSV: %.*s",
                  (int)r->len, r->body);
    resp_free(r);
}
END_TEST

START_TEST(campaigns_by_channel)
{
    struct resp *r =
        get("/v1/reports/campaigns?group_by=channel&from=2026-01-01&to=2026-01-31", admin);
    ck_assert_msg(r->status == 200, "%ld %s", r->status, r->body);
    ck_assert_str_eq(jstr(r, "group_by"), "channel");
    json_t *data = json_object_get(r->json, "data");
    size_t n = 0;
    while (vocab_channels[n])
        n++;
    ck_assert_int_eq(json_array_size(data), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(data, i), "channel")),
                         vocab_channels[i]);
    /* email: Alpha (31,000 in January) and Gamma (700); leads 0, 1 and 2 */
    json_t *email = doc("{'channel':'email','campaigns':2,'leads':3,'mqls':2,'handed_to_sales':2,"
                        "'accepted':1,'rejected':1,'acceptance_rate':0.5,"
                        "'rejection_reasons':{'bad_fit':1},'avg_rating':4,'contacted':0,"
                        "'follow_up_p50_seconds':null,'follow_up_p90_seconds':null,"
                        "'opportunities':1,'won':1,"
                        "'won_amount':1000,'lost_amount':0,'cost':31700,'cost_per_lead':10567,"
                        "'cost_per_accepted_lead':31700,'cost_per_won':31700,'roi':-0.9685}");
    json_t *got = json_array_get(data, 0);
    /* the follow-up times are whatever the test's clock made them: present, p50 <= p90 */
    json_t *p50 = json_object_get(got, "follow_up_p50_seconds");
    json_t *p90 = json_object_get(got, "follow_up_p90_seconds");
    ck_assert_msg(json_is_integer(p50) && json_is_integer(p90) &&
                      json_integer_value(p50) <= json_integer_value(p90),
                  "p50, p90: %s", r->body);
    json_object_set(email, "follow_up_p50_seconds", p50);
    json_object_set(email, "follow_up_p90_seconds", p90);
    char *w = dumps(email), *g = dumps(got);
    ck_assert_msg(json_equal(email, got), "email:\n want %s\n got  %s", w, g);
    free(w), free(g);
    json_decref(email);
    /* webinar: Beta has no run, so its whole cost counts */
    json_t *web = json_array_get(data, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(web, "campaigns")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(web, "leads")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(web, "cost")), 5000);
    ck_assert_int_eq(json_integer_value(json_object_get(web, "cost_per_lead")), 5000);
    json_t *other = json_array_get(data, 2);
    ck_assert_int_eq(json_integer_value(json_object_get(other, "campaigns")), 0);
    ck_assert(json_is_null(json_object_get(other, "roi")));
    resp_free(r);
}
END_TEST

START_TEST(equal_to_a_computation_from_scratch)
{
    PGconn *pg = pg_test();
    const struct scratch_ws w = {ws_id, admin, {alpha, beta, gamma_}};
    int n = scratch_compare_trends(pg, &w, NULL, NULL);
    n += scratch_compare_trends(pg, &w, "2026-01-03", "2026-02-10");
    n += scratch_compare_trends(pg, &w, "2026-01-11", NULL);
    ck_assert_int_eq(n, 3 * (5 * 2 * 3 + 2 * 2 + 3));
    /* and every report for windows across a month's end without a whole month in them,
     * and from a month's first day to before its end (ll_report_sums once left out the
     * days after the month's end, or all of them) */
    ck_assert_int_gt(scratch_compare_all(pg, &w, "2026-01-03", "2026-02-10"), 0);
    ck_assert_int_gt(scratch_compare_all(pg, &w, "2026-01-01", "2026-01-20"), 0);
    ck_assert_int_gt(scratch_compare_all(pg, &w, "2026-01-06", "2026-01-20"), 0);
    PQfinish(pg);
}
END_TEST

START_TEST(bad_parameters_name_themselves)
{
    static const struct {
        const char *path, *param;
    } cases[] = {
        {"/v1/reports/trends?metric=revenue", "metric"},
        {"/v1/reports/trends?metric=", "metric"},
        {"/v1/reports/trends?interval=day", "interval"},
        {"/v1/reports/trends?interval=WEEK", "interval"},
        {"/v1/reports/trends?group_by=owner", "group_by"},
        {"/v1/reports/trends?group_by=source&attribution=linear", "attribution"},
        {"/v1/reports/trends?group_by=source&metric=cost", "metric"},
        {"/v1/reports/trends?attribution=u_shaped", "attribution"},
        {"/v1/reports/trends?sort=value", "sort"},
        {"/v1/reports/trends?sort=--total", "sort"},
        {"/v1/reports/trends?from=2026-13-01", "from"},
        {"/v1/reports/trends?from=2026-02-01&to=2026-01-01", "to"},
        {"/v1/reports/trends?interval=week&from=2000-01-01&to=2026-01-01", "to"},
        {"/v1/reports/trends?model=linear", "model"},
        {"/v1/reports/campaigns?group_by=source", "group_by"},
        {"/v1/reports/campaigns?group_by=channel&sort=name", "sort"},
        {"/v1/reports/campaigns?sort=campaigns", "sort"},
        {"/v1/reports/campaigns?sort=", "sort"},
        {"/v1/reports/sources?sort=-", "sort"},
        {"/v1/reports/sources?sort=campaigns", "sort"},
        {"/v1/reports/funnel?sort=stage", "sort"},
        {"/v1/reports/rejections?sort=reason", "sort"},
        {"/v1/reports/follow-up?sort=owner_id", "sort"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp *r = get(cases[i].path, admin);
        ck_assert_msg(r->status == 400, "%s: %ld %s", cases[i].path, r->status, r->body);
        assert_problem(r, 400, "invalid-parameter");
        ck_assert_msg(problem_names(r, cases[i].param), "%s does not name %s: %s", cases[i].path,
                      cases[i].param, r->body);
        resp_free(r);
    }
    /* the longest month window allowed, and the same in weeks refused */
    struct resp *r = get("/v1/reports/trends?from=1950-01-01&to=2026-01-01&group_by=source", admin);
    ck_assert_msg(r->status == 200, "%ld %s", r->status, r->body);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "periods")), 913);
    resp_free(r);
}
END_TEST

/* The figures sort= takes for path, as its 400 lists them (new array of strdup'ed names,
 * NULL-terminated). */
static char **sort_fields(const char *path)
{
    char p[256];
    snprintf(p, sizeof p, "%s%ssort=nope", path, strchr(path, '?') ? "&" : "?");
    struct resp *r = get(p, admin);
    assert_problem(r, 400, "invalid-parameter");
    const char *msg = json_string_value(
        json_object_get(json_array_get(json_object_get(r->json, "errors"), 0), "message"));
    ck_assert_ptr_nonnull(msg);
    const char *list = strstr(msg, ": ");
    ck_assert_msg(list != NULL, "sort's message lists no fields: %s", msg);
    char *copy = strdup(list + 2), *save = NULL;
    char **out = calloc(64, sizeof *out);
    size_t n = 0;
    for (char *t = strtok_r(copy, ", ", &save); t && n < 63; t = strtok_r(NULL, ", ", &save))
        out[n++] = strdup(t);
    free(copy);
    resp_free(r);
    ck_assert_msg(n > 0, "no sort fields for %s", path);
    return out;
}

/* -1, 0, 1 as a < b etc.; numbers by value, null after everything. */
static int cmp_value(const json_t *a, const json_t *b)
{
    if (json_is_null(a) || json_is_null(b))
        return json_is_null(a) - json_is_null(b);
    double x = json_number_value(a), y = json_number_value(b);
    return (x > y) - (x < y);
}

/* Every report's rows sorted by each of its figures, both ways: in order of the figure,
 * nulls last, and rows with equal figures in the report's own order. The figures are
 * exactly the row's members that hold numbers. */
START_TEST(every_report_sorts_by_each_figure)
{
    static const char *const reports[] = {
        "/v1/reports/campaigns?from=2026-01-01",
        "/v1/reports/campaigns?group_by=channel&attribution=linear",
        "/v1/reports/sources",
        "/v1/reports/funnel",
        "/v1/reports/rejections?group_by=source",
        "/v1/reports/follow-up",
        "/v1/reports/trends?group_by=channel",
    };
    for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++) {
        char **fields = sort_fields(reports[i]);
        struct resp *base = get(reports[i], admin);
        ck_assert_msg(base->status == 200, "%s: %ld", reports[i], base->status);
        json_t *rows = json_object_get(base->json, "data");
        /* the row's number members (or null) are the figures, and no more */
        json_t *row0 = json_array_get(rows, 0);
        const char *k;
        json_t *v;
        size_t numbers = 0, nf = 0;
        while (fields[nf])
            nf++;
        json_object_foreach(row0, k, v)
        {
            bool listed = false;
            for (size_t f = 0; f < nf; f++)
                listed |= !strcmp(fields[f], k);
            if (json_is_number(v) || (json_is_null(v) && listed)) {
                numbers++;
                ck_assert_msg(listed, "%s: member %s is a number but sort does not take it",
                              reports[i], k);
            }
        }
        ck_assert_msg(numbers == nf, "%s: %zu number members, sort takes %zu", reports[i], numbers,
                      nf);
        for (size_t f = 0; fields[f]; f++)
            for (int desc = 0; desc < 2; desc++) {
                char path[300];
                snprintf(path, sizeof path, "%s%ssort=%s%s", reports[i],
                         strchr(reports[i], '?') ? "&" : "?", desc ? "-" : "", fields[f]);
                struct resp *r = get(path, admin);
                ck_assert_msg(r->status == 200, "%s: %ld %s", path, r->status, r->body);
                json_t *got = json_object_get(r->json, "data");
                ck_assert_int_eq(json_array_size(got), json_array_size(rows));
                /* each row's place in the report's own order */
                size_t prev_pos = 0;
                for (size_t j = 0; j < json_array_size(got); j++) {
                    json_t *g = json_array_get(got, j);
                    size_t pos = 0;
                    while (pos < json_array_size(rows) && !json_equal(json_array_get(rows, pos), g))
                        pos++;
                    ck_assert_msg(pos < json_array_size(rows), "%s: row %zu is not a row", path, j);
                    if (j > 0) {
                        json_t *a = json_object_get(json_array_get(got, j - 1), fields[f]);
                        json_t *b = json_object_get(g, fields[f]);
                        int c = cmp_value(a, b);
                        if (desc && !json_is_null(a) && !json_is_null(b))
                            c = -c;
                        ck_assert_msg(c <= 0, "%s: rows %zu and %zu out of order", path, j - 1, j);
                        ck_assert_msg(c < 0 || pos > prev_pos,
                                      "%s: rows %zu and %zu tie but left the report's order", path,
                                      j - 1, j);
                    }
                    prev_pos = pos;
                }
                resp_free(r);
            }
        for (size_t f = 0; fields[f]; f++)
            free(fields[f]);
        free(fields);
        resp_free(base);
    }
}
END_TEST

Suite *trends_suite(void)
{
    Suite *s = suite_create("trends");
    TCase *tc = tcase_create("trends");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup, NULL);
    tcase_add_test(tc, weeks_cut_by_the_window_and_empty_weeks);
    tcase_add_test(tc, cost_prorated_per_period);
    tcase_add_test(tc, months_by_source_and_money);
    tcase_add_test(tc, trends_as_csv);
    tcase_add_test(tc, campaigns_by_channel);
    tcase_add_test(tc, equal_to_a_computation_from_scratch);
    tcase_add_test(tc, bad_parameters_name_themselves);
    tcase_add_test(tc, every_report_sorts_by_each_figure);
    suite_add_tcase(s, tc);
    return s;
}
