/* Reports: what sales' feedback says about marketing's campaigns and sources, the funnel,
 * the reasons for rejections, and sales' follow-up. Additive figures come from
 * report_days (per day, and per month for the whole months of a window); percentiles,
 * reasons and the funnel from report_leads. Both are kept exact by the triggers of
 * migration 0005. Every report answers JSON, or CSV with Accept: text/csv. */
#include "leadloop/reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadloop/csv.h"
#include "leadloop/db.h"
#include "leadloop/headers.h"
#include "leadloop/http.h"
#include "leadloop/jsonv.h"
#include "leadloop/jw.h"
#include "leadloop/log.h"
#include "leadloop/ticker.h"
#include "leadloop/util.h"

/* Parameters of every report statement: $1 workspace, $2 from, $3 to (dates or NULL). The
 * window as expressions of them, which the planner can use as index bounds (a join to a
 * row holding them could only filter): f..t inclusive, and fm..tm the whole months inside
 * it. */
#define WF "coalesce($2::date, '-infinity'::date)"
#define WT "coalesce($3::date, 'infinity'::date)"
#define WFM                                                                                        \
    "(CASE WHEN $2::date IS NULL OR $2::date = date_trunc('month', $2::date::timestamp)::date"     \
    " THEN " WF " ELSE (date_trunc('month', $2::date::timestamp) + interval '1 month')::date END)"
#define WTM                                                                                        \
    "(CASE WHEN $3::date IS NULL THEN 'infinity'::date"                                            \
    " ELSE date_trunc('month', ($3::date + 1)::timestamp)::date END)"

/* The leads of the window in report_leads r. */
#define IN_WIN "r.workspace_id = $1 AND r.day >= " WF " AND r.day <= " WT

enum dim { DIM_SOURCE, DIM_FIRST, DIM_LAST, DIM_LINEAR };

static const char *const models[] = {"first_touch", "last_touch", "linear", NULL};

/* The rows of a report_days-like table for dimension $4 that cover the window exactly:
 * the month rows of its whole months, the day rows before and after them, and the deltas
 * not folded in yet (ll_report_compact) of every day of the window. */
#define RANGES(table, deltas, cols)                                                                \
    "SELECT " cols " FROM " table " d WHERE d.workspace_id = $1 AND d.dim = $4"                    \
    " AND d.month AND d.day >= " WFM " AND d.day < " WTM " UNION ALL SELECT " cols " FROM " table  \
    " d WHERE d.workspace_id = $1 AND d.dim = $4"                                                  \
    " AND NOT d.month AND d.day >= " WF " AND d.day < least(" WFM ", " WT " + 1)"                  \
    " UNION ALL SELECT " cols " FROM " table " d WHERE d.workspace_id = $1 AND d.dim = $4"         \
    " AND NOT d.month AND " WFM " < " WTM " AND d.day >= greatest(" WTM ", " WF ")"                \
    " AND d.day <= " WT " UNION ALL SELECT " cols " FROM " deltas                                  \
    " d WHERE d.workspace_id = $1 AND d.dim = $4"                                                  \
    " AND d.day >= " WF " AND d.day <= " WT

#define DAY_COLUMNS                                                                                \
    "d.key, d.leads, d.mqls, d.handed, d.accepted, d.rejected, d.contacted, d.opportunities,"      \
    " d.won, d.won_amount, d.rating_sum, d.rating_count, d.followed"

/* The window's sums per key. */
#define BUCKET_SUMS                                                                                \
    "bk AS (SELECT key, sum(leads) AS leads, sum(mqls) AS mqls, sum(handed) AS handed,"            \
    " sum(accepted) AS accepted, sum(rejected) AS rejected, sum(contacted) AS contacted,"          \
    " sum(opportunities) AS opportunities, sum(won) AS won, sum(won_amount) AS won_amount,"        \
    " sum(rating_sum) AS rating_sum, sum(rating_count) AS rating_count, sum(followed) AS followed" \
    " FROM (" RANGES("report_days", "report_day_deltas", DAY_COLUMNS) ") d GROUP BY key)"

/* The nearest-rank percentile p (percentile_disc) of the follow-up times of key b.key in
 * the window: the row at rank ceil(p * n) in report_follow_ups' value order, n being the
 * window's count from bk. */
#define RANK_AT(p)                                                                                 \
    "(SELECT f.follow_up_s FROM report_follow_ups f WHERE f.workspace_id = $1 AND f.dim = $4"      \
    " AND f.key = b.key AND f.day >= " WF " AND f.day <= " WT " ORDER BY f.follow_up_s"            \
    " OFFSET greatest(ceil(" p " * b.followed) - 1, 0)::bigint LIMIT 1)"

/* The window's first-verdict rejections per key and reason (none that sum to 0). */
#define REASON_COLUMNS "d.key, d.reason, d.rejected"
#define REASON_SUMS                                                                                \
    "rs AS (SELECT key, reason, sum(rejected) AS n FROM (" RANGES(                                 \
        "report_reason_days", "report_reason_deltas",                                              \
        REASON_COLUMNS) ") d GROUP BY key, reason HAVING sum(rejected) <> 0)"

/* The figures of a key k (with k.cost) from bk b, fu and rr. */
#define FIGURES                                                                                    \
    "trim_scale(round(coalesce(b.leads, 0), 4)) AS leads,"                                         \
    " trim_scale(round(coalesce(b.mqls, 0), 4)) AS mqls,"                                          \
    " trim_scale(round(coalesce(b.handed, 0), 4)) AS handed_to_sales,"                             \
    " trim_scale(round(coalesce(b.accepted, 0), 4)) AS accepted,"                                  \
    " trim_scale(round(coalesce(b.rejected, 0), 4)) AS rejected,"                                  \
    " CASE WHEN b.accepted + b.rejected > 0 THEN trim_scale(round(b.accepted"                      \
    " / (b.accepted + b.rejected), 4)) END AS acceptance_rate,"                                    \
    " coalesce(rr.reasons, '{}') AS rejection_reasons,"                                            \
    " CASE WHEN b.rating_count > 0 THEN trim_scale(round(b.rating_sum / b.rating_count, 2))"       \
    " END AS avg_rating,"                                                                          \
    " trim_scale(round(coalesce(b.contacted, 0), 4)) AS contacted,"                                \
    " fu.p50 AS follow_up_p50_seconds, fu.p90 AS follow_up_p90_seconds,"                           \
    " trim_scale(round(coalesce(b.opportunities, 0), 4)) AS opportunities,"                        \
    " trim_scale(round(coalesce(b.won, 0), 4)) AS won,"                                            \
    " round(coalesce(b.won_amount, 0))::bigint AS won_amount, k.cost,"                             \
    " CASE WHEN b.leads > 0 THEN round(k.cost / b.leads)::bigint END AS cost_per_lead,"            \
    " CASE WHEN b.accepted > 0 THEN round(k.cost / b.accepted)::bigint END"                        \
    " AS cost_per_accepted_lead,"                                                                  \
    " CASE WHEN b.won > 0 THEN round(k.cost / b.won)::bigint END AS cost_per_won,"                 \
    " CASE WHEN k.cost > 0 THEN trim_scale(round((round(coalesce(b.won_amount, 0)) - k.cost)"      \
    " / k.cost, 4)) END AS roi"

/* A campaign's cost inside the window: prorated by the days of its run (starts_on ..
 * ends_on) inside it, rounded half away from zero; the whole cost when the run has no
 * end or start, or the window no bounds. */
#define CAMPAIGN_COST                                                                              \
    "CASE WHEN c.starts_on IS NULL OR c.ends_on IS NULL OR (" WF " = '-infinity'"                  \
    " AND " WT " = 'infinity') THEN c.cost ELSE round(c.cost::numeric * greatest(0,"               \
    " least(c.ends_on, " WT ") - greatest(c.starts_on, " WF ") + 1)"                               \
    " / (c.ends_on - c.starts_on + 1))::bigint END"

/* ------------------------------------------------------------------ answers */

/* Which representation the client accepts (headers_accept_csv): 0 JSON, 1 CSV; -1 after
 * answering 406. */
static int negotiate(struct request *r)
{
    int csv = headers_accept_csv(req_header(r, "Accept"));
    if (csv < 0)
        reply_problem(r, LL_E_NOT_ACCEPTABLE,
                      "reports are application/json or text/csv (see the Accept header)", NULL,
                      NULL);
    return csv;
}

static bool is_text(Oid type)
{
    /* text, varchar, uuid, date: strings; the rest (numbers, json, bool) as they are */
    return type == 25 || type == 1043 || type == 2950 || type == 1082;
}

/* Numbers (and booleans) go into CSV as they are; every other column is text to the CSV
 * writer, quoted and guarded against formulas. */
static bool is_number(Oid type)
{
    /* int8, int2, int4, float4, float8, numeric, bool */
    return type == 20 || type == 21 || type == 23 || type == 700 || type == 701 || type == 1700 ||
           type == 16;
}

/* Answers the rows: CSV with a header line, or JSON {meta..., "data": [{column: value}]},
 * where meta is a JSON fragment ("key": value, ...) written before data. */
static void answer(struct request *r, bool csv, const char *name, const char *meta,
                   const PGresult *res)
{
    struct jw w;
    int rows = PQntuples(res), cols = PQnfields(res);
    jw_init(&w, 1024 + (size_t)rows * (size_t)cols * 24);
    if (csv) {
        for (int c = 0; c < cols; c++) {
            jw_lit(&w, c ? "," : "");
            csv_cell(&w, PQfname(res, c), false);
        }
        jw_lit(&w, "\r\n");
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < cols; c++) {
                jw_lit(&w, c ? "," : "");
                if (!PQgetisnull(res, i, c))
                    csv_cell(&w, PQgetvalue(res, i, c), !is_number(PQftype(res, c)));
            }
            jw_lit(&w, "\r\n");
        }
        size_t len;
        char *body = jw_take(&w, &len);
        reply_header(r, "Content-Disposition", "attachment; filename=\"%s.csv\"", name);
        reply_owned(r, 200, "text/csv; charset=utf-8", body, len);
        return;
    }
    jw_lit(&w, "{\"report\":\"");
    jw_lit(&w, name);
    jw_lit(&w, "\",");
    jw_lit(&w, meta);
    jw_lit(&w, ",\"data\":[");
    for (int i = 0; i < rows; i++) {
        jw_lit(&w, i ? ",{" : "{");
        for (int c = 0; c < cols; c++) {
            Oid t = PQftype(res, c);
            const char *key = PQfname(res, c);
            if (t == 16)
                jw_bool(&w, key, res, i, c);
            else if (is_text(t))
                jw_text(&w, key, res, i, c);
            else
                jw_json(&w, key, res, i, c);
        }
        jw_lit(&w, "}");
    }
    jw_lit(&w, "]}");
    size_t len;
    char *body = jw_take(&w, &len);
    reply_owned(r, 200, "application/json", body, len);
}

/* "from": ..., "to": ... as JSON into buf. */
static void window_meta(char *buf, size_t cap, const char *from, const char *to)
{
    snprintf(buf, cap, "\"from\":%s%s%s,\"to\":%s%s%s", from ? "\"" : "", from ? from : "null",
             from ? "\"" : "", to ? "\"" : "", to ? to : "null", to ? "\"" : "");
}

/* ------------------------------------------------------------------ parameters */

struct report_req {
    bool csv;
    const char *from, *to;
    const char *params[8]; /* $1 workspace, $2 from, $3 to, then the report's */
    int n;
};

/* The common part: allowed parameters, the window and the representation. */
static bool report_begin(struct request *r, struct report_req *q, const char *const *allowed)
{
    int want;
    memset(q, 0, sizeof *q);
    if (!req_query_allowed(r, allowed))
        return false;
    q->from = req_query(r, "from");
    q->to = req_query(r, "to");
    if (q->from && !jv_date_valid(q->from))
        return reply_bad_param(r, "from", "must be a date YYYY-MM-DD");
    if (q->to && !jv_date_valid(q->to))
        return reply_bad_param(r, "to", "must be a date YYYY-MM-DD");
    if (q->from && q->to && strcmp(q->from, q->to) > 0)
        return reply_bad_param(r, "to", "must not be before from");
    if ((want = negotiate(r)) < 0)
        return false;
    q->csv = want == 1;
    q->params[0] = r->auth.workspace_id;
    q->params[1] = q->from;
    q->params[2] = q->to;
    q->n = 3;
    return true;
}

/* attribution=first_touch (default) | last_touch | linear. */
static bool attribution(struct request *r, enum dim *d, const char **name)
{
    const char *a = req_query(r, "attribution");
    *name = a ? a : models[0];
    for (int i = 0; models[i]; i++)
        if (!strcmp(*name, models[i])) {
            *d = (enum dim)(DIM_FIRST + i);
            return true;
        }
    return reply_bad_param(r, "attribution", "must be first_touch, last_touch or linear");
}

/* snprintf into a statement buffer, leaving it empty when the text does not fit. */
#define SQLF(buf, ...)                                                                             \
    do {                                                                                           \
        int n_ = snprintf(buf, sizeof buf, __VA_ARGS__);                                           \
        if (n_ < 0 || (size_t)n_ >= sizeof buf)                                                    \
            buf[0] = '\0';                                                                         \
    } while (0)

/* Runs a report's statement; NULL after answering the error. An empty sql means the
 * statement did not fit its buffer (a bug: 500, and a log line). */
static PGresult *run(struct request *r, const char *sql, const struct report_req *q)
{
    if (!*sql) {
        log_error("report statement too long for its buffer");
        reply_problem(r, LL_E_INTERNAL, "internal error", NULL, NULL);
        return NULL;
    }
    PGresult *res = db_exec(r->db, sql, q->n, q->params);
    enum ll_err err = db_check(r->db, res);
    if (err != LL_OK) {
        PQclear(res);
        reply_db_error(r, err);
        return NULL;
    }
    return res;
}

/* The workspace's reporting currency, for the meta of reports with money. */
static bool currency(struct request *r, char out[4])
{
    const char *p[1] = {r->auth.workspace_id};
    PGresult *res = db_exec(r->db, "SELECT currency FROM workspaces WHERE id = $1", 1, p);
    enum ll_err err = db_check(r->db, res);
    if (err != LL_OK || PQntuples(res) != 1) {
        PQclear(res);
        reply_db_error(r, err != LL_OK ? err : LL_E_INTERNAL);
        return false;
    }
    snprintf(out, 4, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return true;
}

/* ------------------------------------------------------------------ campaigns, sources */

/* The follow-up percentiles per key, two exact ways. By rank: the row at ceil(p * n) of
 * the key's follow-up times in value order, stepping over those outside the window; best
 * when the window holds most of them. Sorted: the window's follow-up times read by day
 * and sorted; best for a short window. */
#define FOLLOW_UPS_BY_RANK                                                                         \
    "fu AS (SELECT b.key, " RANK_AT("0.5") " AS p50, " RANK_AT(                                    \
        "0.9") " AS p90"                                                                           \
               " FROM bk b WHERE b.followed > 0)"
#define FOLLOW_UPS_SORTED                                                                          \
    "fu AS (SELECT f.key, percentile_disc(0.5) WITHIN GROUP (ORDER BY f.follow_up_s) AS p50,"      \
    " percentile_disc(0.9) WITHIN GROUP (ORDER BY f.follow_up_s) AS p90 FROM report_follow_ups f"  \
    " WHERE f.workspace_id = $1 AND f.dim = $4 AND f.day >= " WF " AND f.day <= " WT               \
    " GROUP BY f.key)"

/* Days since 1970-01-01 of a valid YYYY-MM-DD (Howard Hinnant's days_from_civil). */
static long days_of(const char *d)
{
    long y = strtol(d, NULL, 10), m = strtol(d + 5, NULL, 10), dd = strtol(d + 8, NULL, 10);
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* A window of both bounds and under half a year. */
static bool short_window(const struct report_req *q)
{
    return q->from && q->to && days_of(q->to) - days_of(q->from) < 183;
}

/* The per-key figures: keys is a CTE "keys (key, <label columns>, cost)" and labels the
 * label columns as selected from it (k.*). */
static void figures_report(struct request *r, const struct report_req *q, enum dim d,
                           const char *keys, const char *labels, const char *order,
                           const char *name, const char *model)
{
    char sql[16384], meta[256], win[128], cur[4], dimv[2] = {(char)('0' + d), '\0'};
    struct report_req qq = *q;
    PGresult *res;
    if (!currency(r, cur))
        return;
    qq.params[qq.n++] = dimv;
    SQLF(sql,
         "WITH %s, " BUCKET_SUMS ", %s, " REASON_SUMS
         ", rr AS (SELECT key, json_object_agg(reason, trim_scale(round(n, 4))"
         " ORDER BY n DESC, reason) AS reasons FROM rs GROUP BY key)"
         " SELECT %s, " FIGURES " FROM keys k LEFT JOIN bk b ON b.key = k.key"
         " LEFT JOIN fu ON fu.key = k.key LEFT JOIN rr ON rr.key = k.key ORDER BY %s",
         keys, short_window(q) ? FOLLOW_UPS_SORTED : FOLLOW_UPS_BY_RANK, labels, order);
    if (!(res = run(r, sql, &qq)))
        return;
    window_meta(win, sizeof win, q->from, q->to);
    if (model)
        snprintf(meta, sizeof meta, "\"attribution\":\"%s\",%s,\"currency\":\"%s\"", model, win,
                 cur);
    else
        snprintf(meta, sizeof meta, "%s,\"currency\":\"%s\"", win, cur);
    answer(r, q->csv, name, meta, res);
    PQclear(res);
}

void reports_campaigns(struct request *r)
{
    static const char *const allowed[] = {"from", "to", "attribution", NULL};
    struct report_req q;
    enum dim d;
    const char *model;
    if (!report_begin(r, &q, allowed) || !attribution(r, &d, &model))
        return;
    figures_report(r, &q, d,
                   "keys AS (SELECT c.id::text AS key, c.id AS campaign_id, c.name, c.channel,"
                   " c.status, " CAMPAIGN_COST " AS cost FROM campaigns c"
                   " WHERE c.workspace_id = $1)",
                   "k.campaign_id, k.name, k.channel, k.status", "k.name, k.campaign_id",
                   "campaigns", model);
}

void reports_sources(struct request *r)
{
    static const char *const allowed[] = {"from", "to", NULL};
    struct report_req q;
    if (!report_begin(r, &q, allowed))
        return;
    figures_report(r, &q, DIM_SOURCE,
                   "keys AS (SELECT s AS key, s AS source, i, NULL::bigint AS cost FROM"
                   " unnest(ARRAY['web', 'event', 'referral', 'paid', 'outbound', 'partner',"
                   " 'import', 'other']) WITH ORDINALITY AS s (s, i))",
                   "k.source", "k.i", "sources", NULL);
}

/* ------------------------------------------------------------------ funnel */

static const char *const sources[] = {"web",     "event",  "referral", "paid", "outbound",
                                      "partner", "import", "other",    NULL};

void reports_funnel(struct request *r)
{
    static const char *const allowed[] = {"from",   "to",       "attribution", "campaign_id",
                                          "source", "owner_id", NULL};
    static const char *const campaign_match[] = {
        "r.ft_campaign = $4::uuid", "r.lt_campaign = $4::uuid", "$4::uuid = ANY (r.credits)"};
    struct report_req q;
    enum dim d;
    const char *model;
    const char *campaign = req_query(r, "campaign_id"), *source = req_query(r, "source");
    const char *owner = req_query(r, "owner_id");
    char sql[16384], meta[512], win[128];
    PGresult *res;
    if (!report_begin(r, &q, allowed) || !attribution(r, &d, &model))
        return;
    if (campaign && !util_is_uuid(campaign)) {
        reply_bad_param(r, "campaign_id", "must be a UUID");
        return;
    }
    if (source && !jv_in_list(source, sources)) {
        reply_bad_param(r, "source", "is not a lead source");
        return;
    }
    if (owner && !util_is_uuid(owner)) {
        reply_bad_param(r, "owner_id", "must be a UUID");
        return;
    }
    q.params[3] = campaign;
    q.params[4] = source;
    q.params[5] = owner;
    q.n = 6;
    /* days between reaching consecutive stages, median over the leads that reached both */
    SQLF(sql,
         "WITH a AS (SELECT count(*) AS n0, count(r.handed_at) AS n1,"
         " count(r.accepted_at) AS n2, count(r.qualified_at) AS n3,"
         " count(r.opportunity_at) AS n4, count(r.customer_at) AS n5,"
         " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.handed_at"
         " - r.created_at)) AS m1,"
         " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.accepted_at"
         " - r.handed_at)) AS m2,"
         " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.qualified_at"
         " - r.accepted_at)) AS m3,"
         " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.opportunity_at"
         " - r.qualified_at)) AS m4,"
         " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.customer_at"
         " - r.opportunity_at)) AS m5"
         " FROM report_leads r WHERE " IN_WIN " AND ($4::uuid IS NULL OR %s)"
         " AND ($5::text IS NULL OR r.source = $5) AND ($6::uuid IS NULL OR r.owner_id = $6))"
         " SELECT s.stage, s.n AS leads, CASE WHEN s.prev > 0 THEN"
         " trim_scale(round(s.n::numeric / s.prev, 4)) END AS conversion_from_previous,"
         " trim_scale(round((s.m / 86400)::numeric, 2)) AS median_days_from_previous"
         " FROM a, LATERAL (VALUES (1, 'new', n0, NULL::bigint, NULL::float8),"
         " (2, 'mql', n1, n0, m1), (3, 'sales_accepted', n2, n1, m2),"
         " (4, 'sales_qualified', n3, n2, m3), (5, 'opportunity', n4, n3, m4),"
         " (6, 'customer', n5, n4, m5)) AS s (i, stage, n, prev, m) ORDER BY s.i",
         campaign_match[d - DIM_FIRST]);
    if (!(res = run(r, sql, &q)))
        return;
    window_meta(win, sizeof win, q.from, q.to);
    snprintf(meta, sizeof meta,
             "\"attribution\":\"%s\",%s,\"campaign_id\":%s%s%s,\"source\":%s%s%s,"
             "\"owner_id\":%s%s%s",
             model, win, campaign ? "\"" : "", campaign ? campaign : "null", campaign ? "\"" : "",
             source ? "\"" : "", source ? source : "null", source ? "\"" : "", owner ? "\"" : "",
             owner ? owner : "null", owner ? "\"" : "");
    answer(r, q.csv, "funnel", meta, res);
    PQclear(res);
}

/* ------------------------------------------------------------------ rejections */

/* The rejections of x (key, reason, n) with their labels and shares; %s: the key's cast
 * and column name. */
#define REJECTION_ROWS                                                                             \
    " SELECT x.key%s AS %s, x.reason, fr.label, trim_scale(round(x.n, 4)) AS rejected,"            \
    " trim_scale(round(x.n / sum(x.n) OVER (PARTITION BY x.key), 4)) AS share"                     \
    " FROM x LEFT JOIN feedback_reasons fr ON fr.workspace_id = $1 AND fr.code = x.reason"         \
    " ORDER BY x.key NULLS LAST, x.n DESC, x.reason"

void reports_rejections(struct request *r)
{
    static const char *const allowed[] = {"from", "to", "group_by", "attribution", NULL};
    static const char *const groups[] = {"campaign", "source", "owner", NULL};
    struct report_req q;
    enum dim d = DIM_SOURCE;
    const char *model = NULL, *group = req_query(r, "group_by");
    char sql[16384], meta[256], win[128], dimv[2] = {0};
    PGresult *res;
    if (!report_begin(r, &q, allowed))
        return;
    if (!group)
        group = "campaign";
    if (!jv_in_list(group, groups)) {
        reply_bad_param(r, "group_by", "must be campaign, source or owner");
        return;
    }
    if (!strcmp(group, "campaign")) {
        if (!attribution(r, &d, &model))
            return;
    } else if (req_query(r, "attribution")) {
        reply_bad_param(r, "attribution", "applies only to group_by=campaign");
        return;
    }
    if (!strcmp(group, "owner")) { /* from the facts: owners have no kept sums */
        SQLF(sql,
             "WITH x AS (SELECT r.owner_id::text AS key, r.verdict_reason AS reason,"
             " count(*)::numeric AS n FROM report_leads r WHERE " IN_WIN
             " AND r.verdict = 'rejected' GROUP BY 1, 2)" REJECTION_ROWS,
             "::uuid", "owner_id");
    } else {
        dimv[0] = (char)('0' + d);
        q.params[q.n++] = dimv;
        SQLF(sql, "WITH " REASON_SUMS ", x AS (SELECT * FROM rs)" REJECTION_ROWS,
             d == DIM_SOURCE ? "" : "::uuid", d == DIM_SOURCE ? "source" : "campaign_id");
    }
    if (!(res = run(r, sql, &q)))
        return;
    window_meta(win, sizeof win, q.from, q.to);
    if (model)
        snprintf(meta, sizeof meta, "\"group_by\":\"%s\",\"attribution\":\"%s\",%s", group, model,
                 win);
    else
        snprintf(meta, sizeof meta, "\"group_by\":\"%s\",%s", group, win);
    answer(r, q.csv, "rejections", meta, res);
    PQclear(res);
}

/* ------------------------------------------------------------------ follow-up */

void reports_follow_up(struct request *r)
{
    static const char *const allowed[] = {"from", "to", NULL};
    struct report_req q;
    char meta[256], win[128], sla[24];
    PGresult *res;
    if (!report_begin(r, &q, allowed))
        return;
    snprintf(sla, sizeof sla, "%ld", r->cfg->sla_hours);
    q.params[q.n++] = sla;
    /* waiting: handed over, no feedback yet, still open; overdue: waiting longer than the
     * SLA */
    if (!(res =
              run(r,
                  "WITH x AS (SELECT r.*, r.first_feedback_at IS NULL AND r.stage IN"
                  " ('mql', 'sales_accepted', 'sales_qualified', 'opportunity') AS waiting"
                  " FROM report_leads r WHERE " IN_WIN " AND r.handed_at IS NOT NULL)"
                  " SELECT owner_id, count(*) AS handed_to_sales,"
                  " count(follow_up_s) AS followed_up,"
                  " count(*) FILTER (WHERE waiting) AS waiting,"
                  " count(*) FILTER (WHERE waiting AND handed_at < now() - $4::integer"
                  " * interval '1 hour') AS overdue,"
                  " " DB_TS("min(handed_at) FILTER (WHERE waiting)") " AS oldest_waiting_since,"
                                                                     " (array_agg(lead_id ORDER BY "
                                                                     "handed_at, lead_id) FILTER "
                                                                     "(WHERE waiting))[1]"
                                                                     " AS oldest_waiting_lead_id,"
                                                                     " percentile_disc(0.5) WITHIN "
                                                                     "GROUP (ORDER BY follow_up_s)"
                                                                     " AS follow_up_p50_seconds,"
                                                                     " percentile_disc(0.9) WITHIN "
                                                                     "GROUP (ORDER BY follow_up_s)"
                                                                     " AS follow_up_p90_seconds"
                                                                     " FROM x GROUP BY owner_id "
                                                                     "ORDER BY owner_id NULLS LAST",
                  &q)))
        return;
    window_meta(win, sizeof win, q.from, q.to);
    snprintf(meta, sizeof meta, "%s,\"sla_hours\":%ld", win, r->cfg->sla_hours);
    answer(r, q.csv, "follow-up", meta, res);
    PQclear(res);
}

/* ------------------------------------------------------------------ compaction */

/* Folds the deltas of report_day_deltas and report_reason_deltas into the day and month
 * rows every second, on its own connection (kept; reopened after a failure). */
static struct {
    struct ticker ticker;
    char *conninfo;
    PGconn *pg; /* the ticker thread's alone */
} compactor;

#define COMPACT_BATCH 50000
#define STR_(x)       #x
#define STR(x)        STR_(x)

static void compact_once(void *arg)
{
    char err[256];
    long total = 0;
    (void)arg;
    for (int round = 0; round < 100; round++) {
        if (!compactor.pg &&
            !(compactor.pg = db_connect_once(compactor.conninfo, err, sizeof err))) {
            log_warn("report compactor: %s", err);
            return;
        }
        PGresult *res = PQexec(compactor.pg, "SELECT ll_report_compact(" STR(COMPACT_BATCH) ")");
        long folded = -1;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            folded = atol(PQgetvalue(res, 0, 0));
        else
            log_warn("report compactor: %s", PQerrorMessage(compactor.pg));
        PQclear(res);
        if (folded < 0) {
            PQfinish(compactor.pg);
            compactor.pg = NULL;
            return;
        }
        total += folded;
        if (folded < COMPACT_BATCH)
            break;
    }
    if (total > 0)
        log_debug("report compactor: %ld deltas folded", total);
    /* a large fold (a bulk load) leaves many dead index entries for the reports to step
     * over until autovacuum comes: clear them now */
    if (total >= COMPACT_BATCH) {
        PGresult *res = PQexec(compactor.pg, "VACUUM report_day_deltas, report_reason_deltas");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            log_warn("report compactor: %s", PQerrorMessage(compactor.pg));
        PQclear(res);
    }
}

bool reports_compactor_start(const char *conninfo)
{
    compactor.conninfo = strdup(conninfo ? conninfo : "");
    if (!compactor.conninfo)
        return false;
    if (!ticker_start(&compactor.ticker, 1000, compact_once, NULL)) {
        free(compactor.conninfo);
        compactor.conninfo = NULL;
        return false;
    }
    return true;
}

void reports_compactor_stop(void)
{
    ticker_stop(&compactor.ticker);
    if (compactor.pg)
        PQfinish(compactor.pg);
    compactor.pg = NULL;
    free(compactor.conninfo);
    compactor.conninfo = NULL;
}
