/* Reports: what sales' feedback says about marketing's campaigns and sources, the funnel,
 * the reasons for rejections, and sales' follow-up. Additive figures come from
 * report_days (per day, and per month for the whole months of a window); percentiles,
 * reasons and the funnel from report_leads. Both are kept exact by the triggers of
 * sql/functions/40_reports.sql. Every report answers JSON, or CSV with Accept: text/csv.
 * The statements are the files of sql/queries/, embedded at build time; each says in its
 * header what its parameters are and how to run it in psql. */
#include "leadloop/reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "leadloop/csv.h"
#include "leadloop/db.h"
#include "leadloop/embedded.h"
#include "leadloop/headers.h"
#include "leadloop/jsonv.h"
#include "leadloop/jw.h"
#include "leadloop/log.h"
#include "leadloop/request.h"
#include "leadloop/sla.h"
#include "leadloop/rowsort.h"
#include "leadloop/ticker.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

enum dim { DIM_SOURCE, DIM_FIRST, DIM_LAST, DIM_LINEAR };

static const char *const models[] = {"first_touch", "last_touch", "linear", NULL};

/* The text of sql/queries/<name>.sql (borrowed, static), or NULL when no such file was
 * embedded. */
static const char *query(const char *name)
{
    for (size_t i = 0; i < embedded_queries_count; i++)
        if (!strcmp(embedded_queries[i].name, name))
            return embedded_queries[i].text;
    return NULL;
}

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

/* One column of a row as "name": value, by its type. */
static void cell(struct jw *w, const PGresult *res, int i, int c)
{
    Oid t = PQftype(res, c);
    const char *key = PQfname(res, c);
    if (t == 16)
        jw_bool(w, key, res, i, c);
    else if (is_text(t))
        jw_text(w, key, res, i, c);
    else
        jw_json(w, key, res, i, c);
}

/* ------------------------------------------------------------------ sort */

/* sort=field or sort=-field: the rows ordered by one of their figures (rowsort.h), nulls
 * last, ties in the statement's own order. One rule for every report: each lists the
 * figures it may be sorted by, and the rows are ordered after the statement, which keeps
 * the statements free of an ORDER BY per figure. */
struct sort {
    const char *field; /* NULL: the statement's order */
    bool desc;
};

/* Reads sort= against the report's figures (NULL-terminated); false after answering 400. */
static bool sort_param(struct request *r, const char *const *fields, struct sort *s)
{
    const char *v = req_query(r, "sort");
    memset(s, 0, sizeof *s);
    if (!v)
        return true;
    s->desc = v[0] == '-';
    s->field = s->desc ? v + 1 : v;
    for (int i = 0; fields[i]; i++)
        if (!strcmp(fields[i], s->field))
            return true;
    /* the whole list, however long: the detail of reply_bad_param is for short messages */
    struct jw m;
    jw_init(&m, 512);
    jw_lit(&m, "must be a figure of the row, with - before it for descending: ");
    for (int i = 0; fields[i]; i++) {
        jw_lit(&m, i ? ", " : "");
        jw_lit(&m, fields[i]);
    }
    size_t len;
    char *msg = jw_take(&m, &len);
    if (!msg) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        return false;
    }
    char *detail = NULL;
    if (asprintf(&detail, "query parameter sort %s", msg) < 0)
        detail = NULL;
    reply_problem(r, LL_E_PARAM, detail ? detail : "query parameter sort is not valid",
                  json_pack("[{s:s, s:s}]", "field", "sort", "message", msg), NULL);
    free(detail);
    free(msg);
    return false;
}

/* One column of a result, for rowsort_order. */
struct column {
    const PGresult *res;
    int col;
};

static const char *cell_value(const void *ctx, size_t i)
{
    const struct column *c = ctx;
    return PQgetisnull(c->res, (int)i, c->col) ? NULL : PQgetvalue(c->res, (int)i, c->col);
}

/* The order of res's rows by s (new array of PQntuples, caller frees), or NULL after
 * answering 500. */
static size_t *row_order(struct request *r, const PGresult *res, const struct sort *s)
{
    size_t n = (size_t)PQntuples(res);
    size_t *order = calloc(n ? n : 1, sizeof *order); /* zeroed: the analyzer cannot see n = rows */
    if (!order) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (!s->field)
        return order;
    int col = PQfnumber(res, s->field);
    if (col < 0) {
        /* a field listed for sort that the statement does not answer: a bug, said so */
        log_error("report sort field %s is no column of the statement", s->field);
        free(order);
        reply_problem(r, LL_E_INTERNAL, "internal error", NULL, NULL);
        return NULL;
    }
    const struct column c = {res, col};
    if (!rowsort_order(n, cell_value, &c, is_number(PQftype(res, col)), s->desc, order)) {
        free(order);
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        return NULL;
    }
    return order;
}

/* ------------------------------------------------------------------ answers (rows) */

/* Answers the rows in the order s asks for: CSV with a header line, or JSON {meta...,
 * "data": [{column: value}]}, where meta is a JSON fragment ("key": value, ...) written
 * before data. */
static void answer(struct request *r, bool csv, const char *name, const char *meta,
                   const PGresult *res, const struct sort *s)
{
    struct jw w;
    int rows = PQntuples(res), cols = PQnfields(res);
    size_t *order = row_order(r, res, s);
    if (!order)
        return;
    jw_init(&w, 1024 + (size_t)rows * (size_t)cols * 24);
    if (csv) {
        for (int c = 0; c < cols; c++) {
            jw_lit(&w, c ? "," : "");
            csv_cell(&w, PQfname(res, c), false);
        }
        jw_lit(&w, "\r\n");
        for (int k = 0; k < rows; k++) {
            int i = (int)order[k];
            for (int c = 0; c < cols; c++) {
                jw_lit(&w, c ? "," : "");
                if (!PQgetisnull(res, i, c))
                    csv_cell(&w, PQgetvalue(res, i, c), !is_number(PQftype(res, c)));
            }
            jw_lit(&w, "\r\n");
        }
        free(order);
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
    for (int k = 0; k < rows; k++) {
        int i = (int)order[k];
        jw_lit(&w, k ? ",{" : "{");
        for (int c = 0; c < cols; c++)
            cell(&w, res, i, c);
        jw_lit(&w, "}");
    }
    jw_lit(&w, "]}");
    free(order);
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
    struct sort sort;
    const char *from, *to;
    const char *params[8]; /* $1 workspace, $2 from, $3 to, then the report's */
    int n;
};

/* The common part: allowed parameters, the window, the order of the rows (sort= one of
 * fields) and the representation. */
static bool report_begin(struct request *r, struct report_req *q, const char *const *allowed,
                         const char *const *fields)
{
    int want;
    memset(q, 0, sizeof *q);
    if (!req_query_allowed(r, allowed) || !sort_param(r, fields, &q->sort))
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

/* Runs the report statement sql/queries/<name>.sql with q's parameters; NULL after
 * answering the error. */
static PGresult *run(struct request *r, const char *name, const struct report_req *q)
{
    const char *sql = query(name);
    if (!sql) {
        log_error("report statement %s is not embedded", name);
        reply_problem(r, LL_E_INTERNAL, "internal error", NULL, NULL);
        return NULL;
    }
    /* The funnel and the follow-up report choose their way by their parameters (a window's
     * length, which filter is given, an owner or none), which only a plan made for the
     * values folds away: a prepared statement's generic plan, which PostgreSQL takes after
     * five runs, keeps every branch and walks whole indexes (2 s where 50 ms do at 1M
     * leads). They are planned for each request, as unnamed statements. */
    bool per_values = !strcmp(name, "report_funnel") || !strcmp(name, "report_follow_up");
    PGresult *res = per_values ? db_exec_adhoc(r->db, sql, q->n, q->params)
                               : db_exec(r->db, sql, q->n, q->params);
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

/* The figures of a campaigns or sources row that sort= takes; a channel's row has the same
 * figures and the count of its campaigns. */
#define FIGURE_FIELDS                                                                              \
    "leads", "mqls", "handed_to_sales", "accepted", "rejected", "acceptance_rate", "avg_rating",   \
        "contacted", "follow_up_p50_seconds", "follow_up_p90_seconds", "opportunities", "won",     \
        "won_amount", "lost_amount", "cost", "cost_per_lead", "cost_per_accepted_lead",            \
        "cost_per_won", "roi"
static const char *const figure_fields[] = {FIGURE_FIELDS, NULL};
static const char *const channel_fields[] = {"campaigns", FIGURE_FIELDS, NULL};

/* The campaigns or sources report: the statement's rows with the group (NULL for
 * sources), the window, the model (NULL for sources) and the workspace's currency as
 * meta. */
static void figures_report(struct request *r, const struct report_req *q, const char *stmt,
                           const char *name, const char *group, const char *model)
{
    char meta[256], win[128], cur[4], grp[48] = "";
    PGresult *res;
    if (!currency(r, cur))
        return;
    if (!(res = run(r, stmt, q)))
        return;
    window_meta(win, sizeof win, q->from, q->to);
    if (group)
        snprintf(grp, sizeof grp, "\"group_by\":\"%s\",", group);
    if (model)
        snprintf(meta, sizeof meta, "%s\"attribution\":\"%s\",%s,\"currency\":\"%s\"", grp, model,
                 win, cur);
    else
        snprintf(meta, sizeof meta, "%s,\"currency\":\"%s\"", win, cur);
    answer(r, q->csv, name, meta, res, &q->sort);
    PQclear(res);
}

/* group_by=campaign (one row per campaign, the default) or channel (one per channel, the
 * figures of its campaigns summed: sql/queries/report_channels.sql). */
void reports_campaigns(struct request *r)
{
    static const char *const allowed[] = {"from", "to", "attribution", "group_by", "sort", NULL};
    static const char *const groups[] = {"campaign", "channel", NULL};
    struct report_req q;
    enum dim d = DIM_FIRST;
    const char *model, *group = req_query(r, "group_by");
    bool by_channel = group && !strcmp(group, "channel");
    char dimv[2] = {0};
    if (!report_begin(r, &q, allowed, by_channel ? channel_fields : figure_fields))
        return;
    if (group && !jv_in_list(group, groups)) {
        reply_bad_param(r, "group_by", "must be campaign or channel");
        return;
    }
    if (!attribution(r, &d, &model))
        return;
    dimv[0] = (char)('0' + d);
    q.params[q.n++] = dimv;
    figures_report(r, &q, by_channel ? "report_channels" : "report_campaigns", "campaigns",
                   by_channel ? "channel" : "campaign", model);
}

void reports_sources(struct request *r)
{
    static const char *const allowed[] = {"from", "to", "sort", NULL};
    struct report_req q;
    if (!report_begin(r, &q, allowed, figure_fields))
        return;
    figures_report(r, &q, "report_sources", "sources", NULL, NULL);
}

/* ------------------------------------------------------------------ trends */

/* The number of days from 1970-01-01 to a valid date YYYY-MM-DD. */
static long day_number(const char *date)
{
    struct tm tm = {0};
    if (sscanf(date, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long)(timegm(&tm) / 86400);
}

/* A trends answer has at most this many periods when both ends of its window are given (an
 * open end reaches only as far as the figures): 19 years of weeks. */
#define TRENDS_MAX_PERIODS 1000

/* The columns of a trends row that name its group, by group_by. */
static const char *const trends_campaign_cols[] = {"campaign_id", "name", "channel", NULL};
static const char *const trends_channel_cols[] = {"channel", NULL};
static const char *const trends_source_cols[] = {"source", NULL};

/* The next element of a one-dimensional PostgreSQL array of numbers or dates as text
 * ("{1,2.5,NULL}": never quoted): *p starts at the '{' and moves past each element; false
 * at the end. */
static bool array_next(const char **p, const char **item, size_t *len)
{
    const char *s = *p + (**p == '{');
    if (*s == '}' || !*s)
        return false;
    const char *e = s + strcspn(s, ",}");
    *item = s;
    *len = (size_t)(e - s);
    *p = *e == ',' ? e + 1 : e;
    return true;
}

static bool is_null_item(const char *item, size_t len)
{
    return len == 4 && !memcmp(item, "NULL", 4);
}

/* Writes the trends rows (sql/queries/report_trends.sql: g, the group's columns, the
 * periods' first days, from and to as arrays on one row, values as an array in the periods'
 * order, total; one row per group, or one with g null when there is none) in the order
 * given. CSV: one line per group and period, the group's columns (those of group_by) then
 * period, from, to, value and total. JSON: the periods once, then one object per group
 * with its columns, total and values. */
static void answer_trends(struct request *r, bool csv, const char *meta, const PGresult *res,
                          const size_t *order, const char *const *group_cols)
{
    struct jw w;
    int rows = PQntuples(res), at = -1;
    int g = PQfnumber(res, "g"), periods = PQfnumber(res, "periods");
    int from = PQfnumber(res, "period_from"), to = PQfnumber(res, "period_to");
    int values = PQfnumber(res, "values"), total = PQfnumber(res, "total");
    int gc[4], ngc = 0;
    for (; group_cols[ngc]; ngc++)
        gc[ngc] = PQfnumber(res, group_cols[ngc]);
    for (int i = 0; i < rows && at < 0; i++)
        if (!PQgetisnull(res, i, periods))
            at = i; /* the row with the periods */
    const char *ps = at < 0 ? "{}" : PQgetvalue(res, at, periods);
    const char *fs = at < 0 ? "{}" : PQgetvalue(res, at, from);
    const char *ts = at < 0 ? "{}" : PQgetvalue(res, at, to);
    const char *item, *f, *t;
    size_t len, flen, tlen;
    jw_init(&w, 1024 + (size_t)rows * 64 + strlen(ps) * 3);
    if (csv) {
        for (int c = 0; c < ngc; c++) {
            csv_cell(&w, group_cols[c], false);
            jw_lit(&w, ",");
        }
        jw_lit(&w, "period,from,to,value,total\r\n");
        for (int k = 0; k < rows; k++) {
            int i = (int)order[k];
            if (PQgetisnull(res, i, g))
                continue;
            const char *p = ps, *pf = fs, *pt = ts, *v = PQgetvalue(res, i, values);
            while (array_next(&p, &item, &len) && array_next(&pf, &f, &flen) &&
                   array_next(&pt, &t, &tlen)) {
                const char *val;
                size_t vlen;
                if (!array_next(&v, &val, &vlen))
                    break;
                for (int c = 0; c < ngc; c++) {
                    if (!PQgetisnull(res, i, gc[c]))
                        csv_cell(&w, PQgetvalue(res, i, gc[c]), true);
                    jw_lit(&w, ",");
                }
                /* dates and numbers: nothing to quote inside, so written as they are */
                jw_lit(&w, "\"");
                jw_raw(&w, item, len);
                jw_lit(&w, "\",\"");
                jw_raw(&w, f, flen);
                jw_lit(&w, "\",\"");
                jw_raw(&w, t, tlen);
                jw_lit(&w, "\",");
                if (!is_null_item(val, vlen))
                    jw_raw(&w, val, vlen);
                jw_lit(&w, ",");
                if (!PQgetisnull(res, i, total))
                    jw_raw(&w, PQgetvalue(res, i, total), (size_t)PQgetlength(res, i, total));
                jw_lit(&w, "\r\n");
            }
        }
        size_t blen;
        char *body = jw_take(&w, &blen);
        reply_header(r, "Content-Disposition", "attachment; filename=\"trends.csv\"");
        reply_owned(r, 200, "text/csv; charset=utf-8", body, blen);
        return;
    }
    jw_lit(&w, "{\"report\":\"trends\",");
    jw_lit(&w, meta);
    jw_lit(&w, ",\"periods\":[");
    for (int n = 0;
         array_next(&ps, &item, &len) && array_next(&fs, &f, &flen) && array_next(&ts, &t, &tlen);
         n++) {
        jw_lit(&w, n ? ",{\"start\":\"" : "{\"start\":\"");
        jw_raw(&w, item, len);
        jw_lit(&w, "\",\"from\":\"");
        jw_raw(&w, f, flen);
        jw_lit(&w, "\",\"to\":\"");
        jw_raw(&w, t, tlen);
        jw_lit(&w, "\"}");
    }
    jw_lit(&w, "],\"data\":[");
    bool any = false;
    for (int k = 0; k < rows; k++) {
        int i = (int)order[k];
        if (PQgetisnull(res, i, g))
            continue;
        jw_lit(&w, any ? ",{" : "{");
        any = true;
        for (int c = 0; c < ngc; c++)
            cell(&w, res, i, gc[c]);
        jw_json(&w, "total", res, i, total);
        jw_lit(&w, ",\"values\":[");
        const char *v = PQgetvalue(res, i, values);
        for (int n = 0; array_next(&v, &item, &len); n++) {
            jw_lit(&w, n ? "," : "");
            if (is_null_item(item, len))
                jw_lit(&w, "null");
            else
                jw_raw(&w, item, len);
        }
        jw_lit(&w, "]}");
    }
    jw_lit(&w, "]}");
    size_t blen;
    char *body = jw_take(&w, &blen);
    reply_owned(r, 200, "application/json", body, blen);
}

/* GET /v1/reports/trends: one figure per period and group (sql/queries/report_trends.sql). */
void reports_trends(struct request *r)
{
    static const char *const allowed[] = {"from",     "to",          "metric", "interval",
                                          "group_by", "attribution", "sort",   NULL};
    static const char *const fields[] = {"total", NULL};
    static const char *const metrics[] = {"leads",      "mqls", "accepted", "won",
                                          "won_amount", "cost", NULL};
    static const char *const intervals[] = {"week", "month", NULL};
    static const char *const groups[] = {"campaign", "channel", "source", NULL};
    struct report_req q;
    enum dim d = DIM_SOURCE;
    const char *model = NULL, *metric = req_query(r, "metric");
    const char *interval = req_query(r, "interval"), *group = req_query(r, "group_by");
    char meta[512], win[128], cur[4], dimv[2] = {0}, mod[40] = "null";
    PGresult *res;
    size_t *order;
    if (!report_begin(r, &q, allowed, fields))
        return;
    if (!metric)
        metric = "leads";
    if (!interval)
        interval = "month";
    if (!group)
        group = "campaign";
    if (!jv_in_list(metric, metrics)) {
        reply_bad_param(r, "metric", "must be leads, mqls, accepted, won, won_amount or cost");
        return;
    }
    if (!jv_in_list(interval, intervals)) {
        reply_bad_param(r, "interval", "must be week or month");
        return;
    }
    if (!jv_in_list(group, groups)) {
        reply_bad_param(r, "group_by", "must be campaign, channel or source");
        return;
    }
    if (strcmp(group, "source")) {
        if (!attribution(r, &d, &model))
            return;
        snprintf(mod, sizeof mod, "\"%s\"", model);
    } else if (req_query(r, "attribution")) {
        reply_bad_param(r, "attribution", "applies only to group_by=campaign or channel");
        return;
    } else if (!strcmp(metric, "cost")) {
        reply_bad_param(r, "metric",
                        "cost needs group_by=campaign or channel: sources have no cost");
        return;
    }
    if (q.from && q.to &&
        (day_number(q.to) - day_number(q.from)) / (strcmp(interval, "week") ? 28 : 7) + 2 >
            TRENDS_MAX_PERIODS) {
        reply_bad_param(r, "to",
                        "makes a window of more than 1000 periods: narrow it, or take "
                        "interval=month");
        return;
    }
    dimv[0] = (char)('0' + d);
    q.params[q.n++] = dimv;
    q.params[q.n++] = interval;
    q.params[q.n++] = metric;
    q.params[q.n++] = group;
    if (!currency(r, cur))
        return;
    if (!(res = run(r, "report_trends", &q)))
        return;
    if ((order = row_order(r, res, &q.sort))) {
        window_meta(win, sizeof win, q.from, q.to);
        snprintf(meta, sizeof meta,
                 "\"metric\":\"%s\",\"interval\":\"%s\",\"group_by\":\"%s\","
                 "\"attribution\":%s,%s,\"currency\":\"%s\"",
                 metric, interval, group, mod, win, cur);
        answer_trends(r, q.csv, meta, res, order,
                      !strcmp(group, "campaign")  ? trends_campaign_cols
                      : !strcmp(group, "channel") ? trends_channel_cols
                                                  : trends_source_cols);
        free(order);
    }
    PQclear(res);
}

/* ------------------------------------------------------------------ funnel */

static const char *const *const sources = vocab_lead_sources;

void reports_funnel(struct request *r)
{
    static const char *const allowed[] = {"from",   "to",       "attribution", "campaign_id",
                                          "source", "owner_id", "sort",        NULL};
    static const char *const fields[] = {"leads", "conversion_from_previous",
                                         "median_days_from_previous", NULL};
    struct report_req q;
    enum dim d = DIM_FIRST;
    const char *model;
    const char *campaign = req_query(r, "campaign_id"), *source = req_query(r, "source");
    const char *owner = req_query(r, "owner_id");
    char meta[512], win[128], dimv[2] = {0};
    PGresult *res;
    if (!report_begin(r, &q, allowed, fields) || !attribution(r, &d, &model))
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
    dimv[0] = (char)('0' + d); /* how campaign_id credits a lead */
    q.params[6] = dimv;
    q.n = 7;
    if (!(res = run(r, "report_funnel", &q)))
        return;
    window_meta(win, sizeof win, q.from, q.to);
    snprintf(meta, sizeof meta,
             "\"attribution\":\"%s\",%s,\"campaign_id\":%s%s%s,\"source\":%s%s%s,"
             "\"owner_id\":%s%s%s",
             model, win, campaign ? "\"" : "", campaign ? campaign : "null", campaign ? "\"" : "",
             source ? "\"" : "", source ? source : "null", source ? "\"" : "", owner ? "\"" : "",
             owner ? owner : "null", owner ? "\"" : "");
    answer(r, q.csv, "funnel", meta, res, &q.sort);
    PQclear(res);
}

/* ------------------------------------------------------------------ rejections */

void reports_rejections(struct request *r)
{
    static const char *const allowed[] = {"from", "to", "group_by", "attribution", "sort", NULL};
    static const char *const groups[] = {"campaign", "source", "owner", NULL};
    static const char *const fields[] = {"rejected", "share", NULL};
    struct report_req q;
    enum dim d = DIM_SOURCE;
    const char *model = NULL, *group = req_query(r, "group_by");
    char meta[256], win[128], dimv[2] = {0};
    const char *stmt;
    PGresult *res;
    if (!report_begin(r, &q, allowed, fields))
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
    if (!strcmp(group, "owner")) {
        stmt = "report_rejections_by_owner";
    } else if (d == DIM_SOURCE) {
        stmt = "report_rejections_by_source";
    } else {
        stmt = "report_rejections_by_campaign";
        dimv[0] = (char)('0' + d);
        q.params[q.n++] = dimv;
    }
    if (!(res = run(r, stmt, &q)))
        return;
    window_meta(win, sizeof win, q.from, q.to);
    if (model)
        snprintf(meta, sizeof meta, "\"group_by\":\"%s\",\"attribution\":\"%s\",%s", group, model,
                 win);
    else
        snprintf(meta, sizeof meta, "\"group_by\":\"%s\",%s", group, win);
    answer(r, q.csv, "rejections", meta, res, &q.sort);
    PQclear(res);
}

/* ------------------------------------------------------------------ follow-up */

void reports_follow_up(struct request *r)
{
    static const char *const allowed[] = {"from", "to", "sort", NULL};
    static const char *const fields[] = {
        "handed_to_sales",       "followed_up",           "waiting", "overdue",
        "follow_up_p50_seconds", "follow_up_p90_seconds", NULL};
    struct report_req q;
    char meta[512], win[128], sla[24];
    PGresult *res, *cal;
    enum ll_err err;
    if (!report_begin(r, &q, allowed, fields))
        return;
    snprintf(sla, sizeof sla, "%ld", r->cfg->sla_hours);
    q.params[q.n++] = sla;
    if (!(res = run(r, "report_follow_up", &q)))
        return;
    /* the SLA the overdue leads were counted by: the workspace's, or the daemon's */
    const char *cv[2] = {r->auth.workspace_id, sla};
    cal = db_exec(r->db,
                  "SELECT coalesce(sla_hours, $2::integer), time_zone, business_days IS NOT NULL"
                  " FROM workspaces WHERE id = $1",
                  2, cv);
    if ((err = db_check(r->db, cal)) != LL_OK || PQntuples(cal) != 1) {
        reply_db_error(r, err != LL_OK ? err : LL_E_INTERNAL);
    } else {
        json_t *tz = json_string(PQgetvalue(cal, 0, 1));
        char *tz_json = tz ? json_dumps(tz, JSON_ENCODE_ANY) : NULL;
        window_meta(win, sizeof win, q.from, q.to);
        snprintf(meta, sizeof meta, "%s,\"sla_hours\":%s,\"time_zone\":%s,\"business_hours\":%s",
                 win, PQgetvalue(cal, 0, 0), tz_json ? tz_json : "null",
                 PQgetvalue(cal, 0, 2)[0] == 't' ? "true" : "false");
        answer(r, q.csv, "follow-up", meta, res, &q.sort);
        free(tz_json);
        json_decref(tz);
    }
    PQclear(cal);
    PQclear(res);
}

/* The two-sided SLA of a month or quarter (sql/queries/report_sla.sql): its goals with
 * progress and pacing, and sales' response times per owner, team and in all. One nested
 * JSON document, rendered by PostgreSQL (a few rows: no CSV form). */
void reports_sla(struct request *r)
{
    static const char *const allowed[] = {"period", NULL};
    const char *period = req_query(r, "period");
    const char *sql = query("report_sla");
    char kind[8], start[11];
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, allowed))
        return;
    if (period && !sla_period_parse(period, kind, start)) {
        reply_bad_param(r, "period", "must be a month (2026-12) or a quarter (2026-Q4)");
        return;
    }
    if (!sql) {
        log_error("report statement report_sla is not embedded");
        reply_problem(r, LL_E_INTERNAL, "internal error", NULL, NULL);
        return;
    }
    const char *vals[3] = {r->auth.workspace_id, period ? start : NULL, period ? kind : NULL};
    res = db_exec(r->db, sql, 3, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) != 1)
        reply_db_error(r, LL_E_INTERNAL);
    else
        reply_raw(r, 200, "application/json", PQgetvalue(res, 0, 0),
                  (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
}

/* ------------------------------------------------------------------ compaction */

/* Folds the deltas of report_day_deltas, report_reason_deltas and report_funnel_deltas into
 * the day and month rows every second, on its own connection (kept; reopened after a failure),
 * a workspace at a time: the workspaces that have deltas are listed first (a read of the
 * three small tables), then each is folded a batch a transaction, every statement naming
 * it (on Citus, one node runs it). */
static struct {
    struct ticker ticker;
    char *conninfo;
    PGconn *pg; /* the ticker thread's alone */
} compactor;

#define COMPACT_BATCH 50000
#define STR_(x)       #x
#define STR(x)        STR_(x)

static const char sql_compact_due[] = "SELECT workspace_id FROM report_day_deltas"
                                      " UNION SELECT workspace_id FROM report_reason_deltas"
                                      " UNION SELECT workspace_id FROM report_funnel_deltas";
static const char sql_compact[] = "SELECT ll_report_compact($1, " STR(COMPACT_BATCH) ")";

/* Folds one workspace's deltas, up to 100 batches; how many, or -1 when a statement failed
 * (the connection is closed then). */
static long compact_workspace(const char *ws)
{
    long total = 0;
    const char *vals[1] = {ws};
    for (int round = 0; round < 100 && !ticker_stopping(&compactor.ticker); round++) {
        PGresult *res = PQexecParams(compactor.pg, sql_compact, 1, NULL, vals, NULL, NULL, 0);
        long folded = -1;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            folded = atol(PQgetvalue(res, 0, 0));
        else
            log_warn("report compactor: %s", PQerrorMessage(compactor.pg));
        PQclear(res);
        if (folded < 0)
            return -1;
        total += folded;
        if (folded < COMPACT_BATCH)
            break;
    }
    return total;
}

static void compact_once(void *arg)
{
    char err[256];
    long total = 0;
    (void)arg;
    if (!compactor.pg && !(compactor.pg = db_connect_once(compactor.conninfo, err, sizeof err))) {
        log_warn("report compactor: %s", err);
        return;
    }
    PGresult *due = PQexec(compactor.pg, sql_compact_due);
    bool ok = PQresultStatus(due) == PGRES_TUPLES_OK;
    if (!ok)
        log_warn("report compactor: %s", PQerrorMessage(compactor.pg));
    for (int i = 0; ok && i < PQntuples(due) && !ticker_stopping(&compactor.ticker); i++) {
        long folded = compact_workspace(PQgetvalue(due, i, 0));
        ok = folded >= 0;
        total += ok ? folded : 0;
    }
    PQclear(due);
    if (!ok) {
        PQfinish(compactor.pg);
        compactor.pg = NULL;
        return;
    }
    if (total > 0)
        log_debug("report compactor: %ld deltas folded", total);
    /* a large fold (a bulk load) leaves many dead index entries for the reports to step
     * over until autovacuum comes: clear them now */
    if (total >= COMPACT_BATCH) {
        PGresult *res = PQexec(compactor.pg, "VACUUM report_day_deltas, report_reason_deltas,"
                                             " report_funnel_deltas");
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
