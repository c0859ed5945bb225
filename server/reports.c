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

#include "leadloop/csv.h"
#include "leadloop/db.h"
#include "leadloop/embedded.h"
#include "leadloop/headers.h"
#include "leadloop/jsonv.h"
#include "leadloop/jw.h"
#include "leadloop/log.h"
#include "leadloop/request.h"
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

/* The campaigns or sources report: the statement's rows with the window, the model (NULL
 * for sources) and the workspace's currency as meta. */
static void figures_report(struct request *r, const struct report_req *q, const char *stmt,
                           const char *name, const char *model)
{
    char meta[256], win[128], cur[4];
    PGresult *res;
    if (!currency(r, cur))
        return;
    if (!(res = run(r, stmt, q)))
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
    enum dim d = DIM_FIRST;
    const char *model;
    char dimv[2] = {0};
    if (!report_begin(r, &q, allowed) || !attribution(r, &d, &model))
        return;
    dimv[0] = (char)('0' + d);
    q.params[q.n++] = dimv;
    figures_report(r, &q, "report_campaigns", "campaigns", model);
}

void reports_sources(struct request *r)
{
    static const char *const allowed[] = {"from", "to", NULL};
    struct report_req q;
    if (!report_begin(r, &q, allowed))
        return;
    figures_report(r, &q, "report_sources", "sources", NULL);
}

/* ------------------------------------------------------------------ funnel */

static const char *const *const sources = vocab_lead_sources;

void reports_funnel(struct request *r)
{
    static const char *const allowed[] = {"from",   "to",       "attribution", "campaign_id",
                                          "source", "owner_id", NULL};
    struct report_req q;
    enum dim d = DIM_FIRST;
    const char *model;
    const char *campaign = req_query(r, "campaign_id"), *source = req_query(r, "source");
    const char *owner = req_query(r, "owner_id");
    char meta[512], win[128], dimv[2] = {0};
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
    answer(r, q.csv, "funnel", meta, res);
    PQclear(res);
}

/* ------------------------------------------------------------------ rejections */

void reports_rejections(struct request *r)
{
    static const char *const allowed[] = {"from", "to", "group_by", "attribution", NULL};
    static const char *const groups[] = {"campaign", "source", "owner", NULL};
    struct report_req q;
    enum dim d = DIM_SOURCE;
    const char *model = NULL, *group = req_query(r, "group_by");
    char meta[256], win[128], dimv[2] = {0};
    const char *stmt;
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
    answer(r, q.csv, "rejections", meta, res);
    PQclear(res);
}

/* ------------------------------------------------------------------ follow-up */

void reports_follow_up(struct request *r)
{
    static const char *const allowed[] = {"from", "to", NULL};
    struct report_req q;
    char meta[512], win[128], sla[24];
    PGresult *res, *cal;
    enum ll_err err;
    if (!report_begin(r, &q, allowed))
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
        answer(r, q.csv, "follow-up", meta, res);
        free(tz_json);
        json_decref(tz);
    }
    PQclear(cal);
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
