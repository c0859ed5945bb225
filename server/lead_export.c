/* GET /v1/leads: JSON (leads_list) or, with Accept: text/csv, every match as CSV. Before
 * the first byte: the filters are checked, one statement
 * finds the columns (the external id systems and custom fields the leads use) and the
 * first page is read, so that anything wrong up to there is still answered as a problem.
 * Then the answer streams (reply_stream): each page is a statement of its own, after the
 * last row of the one before (keyset, list_export_begin), so the daemon holds one page
 * whatever the count and no transaction stays open between pages. The pages do not share
 * a snapshot: a lead written during the export may be in it or not, as in the JSON list's
 * pages, but none is listed twice unless its sort value changes meanwhile.
 *
 * The request gives its pool connection back once the first page is read, as any
 * request does on its answer; each later page takes one from the pool for its statement
 * only (the reader of a slow client holds none while its bytes go out). So a client
 * that leaves mid-stream leaves no connection behind, and none in a transaction
 * (list_fetch rolls back its own). When the database fails mid-stream, or no connection
 * comes free within the acquire timeout, the status line has gone already: the
 * connection is closed before the chunked body's last chunk, so the client sees a
 * truncated body. */
#include "leadloop/lead_export.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/csv.h"
#include "leadloop/db.h"
#include "leadloop/headers.h"
#include "leadloop/jw.h"
#include "leadloop/lead_filter.h"
#include "leadloop/leads.h"
#include "leadloop/list.h"
#include "leadloop/log.h"
#include "leadloop/request.h"
#include "leadloop/vocab.h"

/* The columns before the external ids and custom fields, in their documented order
 * (openapi.yaml, GET /v1/leads): each a column of LEAD_COLUMNS (col), or a member of the
 * consent object (col < 0), written as text (quoted, guarded) or not (numbers, booleans). */
static const struct column {
    const char *name;
    int col;
    bool text;
} columns[] = {
    {"id", 0, true},
    {"email", 1, true},
    {"first_name", 2, true},
    {"last_name", 3, true},
    {"company", 4, true},
    {"title", 5, true},
    {"phone", 6, true},
    {"country", 7, true},
    {"source", 8, true},
    {"stage", 9, true},
    {"score", 10, false},
    {"owner_id", 11, true},
    {"first_campaign_id", 15, true},
    {"latest_campaign_id", 16, true},
    {"utm_source", LEAD_COL_VISIT + LEAD_UTM_SOURCE, true},
    {"utm_medium", LEAD_COL_VISIT + LEAD_UTM_MEDIUM, true},
    {"utm_campaign", LEAD_COL_VISIT + LEAD_UTM_CAMPAIGN, true},
    {"utm_term", LEAD_COL_VISIT + LEAD_UTM_TERM, true},
    {"utm_content", LEAD_COL_VISIT + LEAD_UTM_CONTENT, true},
    {"landing_page", LEAD_COL_VISIT + LEAD_LANDING_PAGE, true},
    {"referrer", LEAD_COL_VISIT + LEAD_REFERRER, true},
    {"consent.email_opt_in", -1, false},
    {"consent.captured_at", -1, true},
    {"consent.how", -1, true},
    {"version", LEAD_COL_VERSION, false},
    {"created_at", 18, true},
    {"updated_at", 19, true},
    {"stage_changed_at", 20, true},
    {"recycle_on", 22, true},
};
#define NCOLUMNS    (sizeof columns / sizeof columns[0])
#define COL_CONSENT 12
#define COL_CUSTOM  13
#define COL_EXT     14

/* The external id systems, then the custom fields, the export's leads use: $1 workspace
 * and the filters' parameters follow (lead_filter_sql). Bytewise order, one past the most
 * the export takes (to tell that there are too many). */
static const char keys_head[] = "SELECT DISTINCT x.kind, x.k COLLATE \"C\" FROM (SELECT custom,"
                                " external_ids";
static const char keys_tail[] =
    ") l CROSS JOIN LATERAL (SELECT 1, jsonb_object_keys(l.external_ids)"
    " UNION ALL SELECT 2, jsonb_object_keys(l.custom)) x(kind, k) ORDER BY 1, 2 LIMIT $?";

/* An export under way; freed with the request (export_free). */
struct export
{
    struct request *r; /* borrowed: the request outlives its stream */
    struct lead_filter f;
    struct listing l;   /* the page statement borrows its cursor (list_export_begin) */
    struct qb q;        /* the page statement */
    char **keys;        /* the columns after the fixed ones, "external_id.x" or "custom.y" */
    size_t nkeys, next; /* the first next of them are external ids */
    struct jw out;      /* the CSV of the page being sent */
    size_t off;         /* how much of out has been sent */
    bool more;          /* another page may follow */
    long rows;
};

static void export_free(void *arg)
{
    struct export *e = arg;
    if (!e)
        return;
    for (size_t i = 0; i < e->nkeys; i++)
        free(e->keys[i]);
    free(e->keys);
    qb_free(&e->q);
    jw_free(&e->out);
    free(e);
}

/* A JSON value as a cell: a string is text; a number or boolean is not; null is empty. */
static void json_cell(struct jw *w, json_t *v)
{
    char *text;
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v)) {
        csv_cell(w, json_string_value(v), true);
        return;
    }
    text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text) {
        w->oom = true;
        return;
    }
    csv_cell(w, text, !json_is_number(v) && !json_is_boolean(v));
    free(text);
}

static json_t *column_json(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : json_loads(PQgetvalue(res, row, col), 0, NULL);
}

static void write_header(struct export *e)
{
    for (size_t c = 0; c < NCOLUMNS; c++) {
        jw_lit(&e->out, c ? "," : "");
        csv_cell(&e->out, columns[c].name, false);
    }
    for (size_t k = 0; k < e->nkeys; k++) {
        jw_lit(&e->out, ",");
        /* a name of the client's: quoted and guarded, though its prefix keeps it from
         * starting a formula */
        csv_cell(&e->out, e->keys[k], true);
    }
    jw_lit(&e->out, "\r\n");
}

static void write_row(struct export *e, const PGresult *res, int row)
{
    json_t *consent = column_json(res, row, COL_CONSENT);
    json_t *custom = column_json(res, row, COL_CUSTOM), *ext = column_json(res, row, COL_EXT);
    for (size_t c = 0; c < NCOLUMNS; c++) {
        int col = columns[c].col;
        jw_lit(&e->out, c ? "," : "");
        if (col < 0)
            json_cell(&e->out, json_object_get(consent, strchr(columns[c].name, '.') + 1));
        else if (!PQgetisnull(res, row, col))
            csv_cell(&e->out, PQgetvalue(res, row, col), columns[c].text);
    }
    for (size_t k = 0; k < e->nkeys; k++) {
        jw_lit(&e->out, ",");
        json_cell(&e->out,
                  json_object_get(k < e->next ? ext : custom, strchr(e->keys[k], '.') + 1));
    }
    jw_lit(&e->out, "\r\n");
    json_decref(consent);
    json_decref(custom);
    json_decref(ext);
}

/* Reads the next page into out (emptied first, unless keep). False when the database
 * failed (err) or memory ran out (LL_E_INTERNAL). */
static bool next_page(struct export *e, bool keep, enum ll_err *err)
{
    PGresult *res = list_fetch(e->r, &e->q, &e->l, err);
    bool ok = *err == LL_OK && res;
    if (!keep) {
        jw_reset(&e->out);
        e->off = 0;
    }
    if (ok) {
        for (int i = 0; i < PQntuples(res); i++)
            write_row(e, res, i);
        e->rows += PQntuples(res);
        e->more = list_export_next(&e->l, res);
        if (e->out.oom) {
            *err = LL_E_INTERNAL;
            ok = false;
        }
    } else if (*err == LL_OK) {
        *err = LL_E_INTERNAL;
    }
    PQclear(res);
    return ok;
}

static long export_read(void *arg, char *buf, size_t cap)
{
    struct export *e = arg;
    enum ll_err err;
    bool ok = false;
    size_t n;
    while (e->off == e->out.len) {
        if (!e->more)
            return 0;
        if (req_abandoned(e->r)) /* the client left, or the daemon stops */
            return -1;
        /* a connection for this page's statement only */
        if ((err = db_acquire(&e->r->db)) == LL_OK) {
            ok = next_page(e, false, &err);
            db_release(e->r->db);
            e->r->db = NULL;
        }
        if (err != LL_OK || !ok) {
            log_error("request %s: the lead export failed after %ld rows (%s); its connection "
                      "is closed before the body's end",
                      e->r->request_id, e->rows, problem_kind(err)->slug);
            return -1;
        }
    }
    n = e->out.len - e->off < cap ? e->out.len - e->off : cap;
    memcpy(buf, e->out.p + e->off, n);
    e->off += n;
    return (long)n;
}

/* Reads the extra columns into e->keys. Answers and returns false when it cannot. */
static bool read_keys(struct export *e)
{
    struct request *r = e->r;
    struct qb q;
    PGresult *res;
    enum ll_err err;
    char limit[24];
    bool ok = false;
    int n;

    qb_init(&q, keys_head);
    lead_filter_sql(&q, &e->f, r->auth.workspace_id);
    snprintf(limit, sizeof limit, "%d", LEAD_EXPORT_MAX_KEYS + 1);
    qb_addc(&q, keys_tail, limit);
    res = qb_exec(r->db, &q, &err);
    if (err) {
        reply_db_error(r, err);
        goto out;
    }
    n = PQntuples(res);
    if (n > LEAD_EXPORT_MAX_KEYS) {
        char detail[200];
        snprintf(detail, sizeof detail,
                 "these leads have more than %d custom fields and external id systems between "
                 "them, one column each; narrow the export with filters",
                 LEAD_EXPORT_MAX_KEYS);
        reply_problem(r, LL_E_VALIDATION, detail, NULL, NULL);
        goto out;
    }
    if (n > 0 && !(e->keys = calloc((size_t)n, sizeof *e->keys))) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        bool external = PQgetvalue(res, i, 0)[0] == '1';
        const char *k = PQgetvalue(res, i, 1);
        size_t len = strlen(k) + 16;
        if (!(e->keys[i] = malloc(len))) {
            reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
            goto out;
        }
        snprintf(e->keys[i], len, "%s.%s", external ? "external_id" : "custom", k);
        e->nkeys++;
        e->next += external;
    }
    ok = true;
out:
    PQclear(res);
    qb_free(&q);
    return ok;
}

void lead_export(struct request *r)
{
    struct export *e = calloc(1, sizeof *e);
    enum ll_err err;

    if (!e) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        return;
    }
    e->r = r;
    qb_init(&e->q, ""); /* export_free frees it whatever happens */
    if (!lead_filter_read(r, &e->f, &e->l, false) || !read_keys(e))
        goto fail;
    list_export_begin(&e->l, LEAD_EXPORT_PAGE);
    qb_free(&e->q);
    list_begin(&e->q, "SELECT " LEAD_COLUMNS ", ", &e->l);
    lead_filter_sql(&e->q, &e->f, r->auth.workspace_id);
    if (e->f.text)
        list_apply_search(&e->q, &e->l, lead_filter_id(&e->f), "leads", r->auth.workspace_id);
    else
        list_apply(&e->q, &e->l, lead_filter_id(&e->f));
    jw_init(&e->out, (size_t)64 * 1024);
    write_header(e);
    if (!next_page(e, true, &err)) { /* nothing sent yet: still a problem */
        if (err == LL_E_INTERNAL)
            reply_problem(r, err, "the export could not be made", NULL, NULL);
        else
            reply_problem(r, err,
                          "the export's first page took too long or the database failed; "
                          "narrow it with filters, or retry shortly",
                          NULL, NULL);
        goto fail;
    }
    reply_header(r, "Content-Disposition", "attachment; filename=\"leads.csv\"");
    reply_stream(r, 200, "text/csv; charset=utf-8", export_read, export_free, e);
    return;
fail:
    export_free(e);
}

void lead_export_list(struct request *r)
{
    int csv = headers_accept_csv(req_header(r, "Accept"));
    if (csv < 0)
        reply_problem(r, LL_E_NOT_ACCEPTABLE,
                      "the lead list is application/json or text/csv (see the Accept header)", NULL,
                      NULL);
    else if (csv)
        lead_export(r);
    else
        leads_list(r);
}
