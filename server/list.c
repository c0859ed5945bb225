/* Lists: SQL built only from constant fragments with $n parameters, keyset pagination on
 * (sort key, id) so pages stay stable while rows are inserted, and opaque cursors that
 * carry the sort they belong to. */
#include "leadloop/list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/cursor.h"
#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/jw.h"
#include "leadloop/log.h"
#include "leadloop/request.h"
#include "leadloop/util.h"

void qb_init(struct qb *q, const char *sql)
{
    jw_init(&q->sql, 2048); /* most lists' statements fit: no copy as they grow */
    q->n = 0;
    q->overflow = false;
    q->window_param = -1;
    qb_add(q, sql);
}

void qb_free(struct qb *q)
{
    jw_free(&q->sql);
}

const char *qb_sql(struct qb *q)
{
    return q->overflow ? NULL : jw_cstr(&q->sql);
}

PGresult *qb_exec(struct db_conn *db, struct qb *q, enum ll_err *err)
{
    const char *sql = qb_sql(q);
    PGresult *res;
    if (!sql) {
        log_error("a statement could not be built (%s)",
                  q->overflow ? "too many parameters" : "out of memory");
        *err = LL_E_INTERNAL;
        return NULL;
    }
    res = db_exec(db, sql, q->n, q->vals);
    *err = db_check(db, res);
    return res;
}

static void put(struct qb *q, const char *s, size_t n)
{
    jw_raw(&q->sql, s, n);
}

/* Appends the fragment, numbering each "$?" from the parameters taken so far. */
static void add_numbered(struct qb *q, const char *f, int first)
{
    int next = first;
    for (const char *p = f; *p;) {
        const char *mark = strstr(p, "$?");
        if (!mark) {
            put(q, p, strlen(p));
            break;
        }
        put(q, p, (size_t)(mark - p));
        char num[16];
        int n = snprintf(num, sizeof num, "$%d", next++);
        put(q, num, (size_t)n);
        p = mark + 2;
    }
}

void qb_add(struct qb *q, const char *fragment)
{
    add_numbered(q, fragment, q->n + 1);
}

void qb_addpv(struct qb *q, const char *fragment, int n, const char *const *vals)
{
    int first = q->n + 1;
    if (q->n + n > QB_MAX_PARAMS) {
        q->overflow = true;
        return;
    }
    for (int i = 0; i < n; i++)
        q->vals[q->n++] = vals[i];
    add_numbered(q, fragment, first);
}

void qb_addp(struct qb *q, const char *fragment, const char *v)
{
    qb_addpv(q, fragment, 1, &v);
}

void qb_addc(struct qb *q, const char *fragment, const char *v)
{
    if (q->n >= QB_MAX_PARAMS) {
        q->overflow = true;
        return;
    }
    snprintf(q->own[q->n], sizeof q->own[0], "%s", v);
    qb_addp(q, fragment, q->own[q->n]);
}

void list_begin(struct qb *q, const char *columns, const struct listing *l)
{
    char key[256];
    if (!strcmp(l->sort->cast, "timestamptz"))
        snprintf(key, sizeof key, DB_TS("%s"), l->sort->expr);
    else
        snprintf(key, sizeof key, "(%s)::text", l->sort->expr);
    qb_init(q, columns);
    qb_add(q, key);
}

#define bad reply_bad_param

/* A cursor's sort value must parse as the sort's type, or PostgreSQL would refuse it. */
static bool key_value_ok(const struct sort_key *k, const char *v)
{
    long n;
    if (!strcmp(k->cast, "timestamptz"))
        return jv_timestamp_valid(v);
    if (!strcmp(k->cast, "date"))
        return jv_date_valid(v) || !strcmp(v, "infinity");
    if (!strcmp(k->cast, "integer"))
        return util_parse_long(v, -2147483647L, 2147483647L, &n);
    return true;
}

bool list_params(struct request *r, struct listing *l, const struct sort_key *keys,
                 const char *default_sort)
{
    const char *limit = req_query(r, "limit"), *cursor = req_query(r, "cursor");
    const char *sort = req_query(r, "sort");
    const char *name;
    memset(l, 0, sizeof *l);
    l->limit = 50;
    if (limit && !util_parse_long(limit, 1, 500, &l->limit))
        return bad(r, "limit", "must be an integer from 1 to 500");
    if (!sort)
        sort = default_sort;
    l->desc = sort[0] == '-';
    name = l->desc ? sort + 1 : sort;
    for (const struct sort_key *k = keys; k->name; k++)
        if (!strcmp(k->name, name))
            l->sort = k;
    if (!l->sort) {
        char msg[256] = "must be one of:";
        for (const struct sort_key *k = keys; k->name; k++) {
            strncat(msg, k == keys ? " " : ", ", sizeof msg - strlen(msg) - 1);
            strncat(msg, k->name, sizeof msg - strlen(msg) - 1);
            strncat(msg, ", -", sizeof msg - strlen(msg) - 1);
            strncat(msg, k->name, sizeof msg - strlen(msg) - 1);
        }
        return bad(r, "sort", msg);
    }
    if (cursor) {
        enum cursor_status st =
            cursor_list_decode(cursor, sort, l->after, sizeof l->after, l->after_id);
        if (st == CURSOR_OTHER_SORT)
            return bad(r, "cursor", "belongs to another sort order; start again without it");
        if (st != CURSOR_OK || !key_value_ok(l->sort, l->after))
            return bad(r, "cursor", "is not a cursor this API gave out");
        l->has_cursor = true;
    }
    return true;
}

/* The rows after the cursor: (sort key, id) beyond the last row shown. */
static void after_cursor(struct qb *q, const struct listing *l, const char *id_expr)
{
    char frag[512];
    if (!l->has_cursor)
        return;
    snprintf(frag, sizeof frag, " AND (%s, %s) %s ($?::%s, ", l->sort->expr, id_expr,
             l->desc ? "<" : ">", l->sort->cast);
    qb_addp(q, frag, l->after);
    qb_addp(q, "$?::uuid)", l->after_id);
}

static void order_limit(struct qb *q, const struct listing *l, const char *id_expr)
{
    char frag[512], limit[24];
    snprintf(frag, sizeof frag, " ORDER BY %s %s, %s %s LIMIT $?", l->sort->expr,
             l->desc ? "DESC" : "ASC", id_expr, l->desc ? "DESC" : "ASC");
    snprintf(limit, sizeof limit, "%ld", l->limit + 1);
    qb_addc(q, frag, limit);
}

void list_apply(struct qb *q, const struct listing *l, const char *id_expr)
{
    after_cursor(q, l, id_expr);
    order_limit(q, l, id_expr);
}

void list_apply_search(struct qb *q, const struct listing *l, const char *id_expr,
                       const char *table, const char *workspace_id)
{
    const char *dir = l->desc ? "DESC" : "ASC", *back = l->desc ? "ASC" : "DESC";
    char frag[768];
    after_cursor(q, l, id_expr);
    /* The window ends at the row 100 pages on, found in the list's index; PostgreSQL
     * takes the bound as an index condition, so that a scan in the list's order stops
     * there. "true" for the switch folds the bound away (list_fetch sets it). */
    q->window_param = q->n;
    snprintf(frag, sizeof frag,
             " AND ($?::boolean OR (%s, %s) %s (SELECT k, i FROM (SELECT %s AS k, %s AS i"
             " FROM %s WHERE workspace_id = $?",
             l->sort->expr, id_expr, l->desc ? ">=" : "<=", l->sort->expr, id_expr, table);
    qb_addpv(q, frag, 2, (const char *const[]){"false", workspace_id});
    after_cursor(q, l, id_expr);
    snprintf(frag, sizeof frag, " ORDER BY %s %s, %s %s LIMIT %ld) w ORDER BY k %s, i %s LIMIT 1))",
             l->sort->expr, dir, id_expr, dir, 100 * (l->limit + 1), back, back);
    qb_add(q, frag);
    order_limit(q, l, id_expr);
}

static void url_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in && o + 4 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

struct link_builder {
    char *buf;
    size_t len, cap;
};

static void link_add_arg(struct link_builder *lb, const char *key, const char *value)
{
    char k[256], v[1024];
    if (!strcmp(key, "cursor"))
        return;
    url_encode(key, k, sizeof k);
    url_encode(value ? value : "", v, sizeof v);
    int n = snprintf(lb->buf + lb->len, lb->cap - lb->len, "%s=%s&", k, v);
    if (n > 0 && (size_t)n < lb->cap - lb->len)
        lb->len += (size_t)n;
    else
        lb->len = lb->cap; /* too long: no Link header, next_cursor still says it */
}

static void add_link(struct request *r, const char *cursor)
{
    char url[REQ_HEADER_VALUE_MAX];
    struct link_builder lb = {url, 0, sizeof url};
    lb.len = (size_t)snprintf(url, sizeof url, "%s?", r->path);
    const char *key, *value;
    for (size_t i = 0; req_query_at(r, i, &key, &value); i++)
        link_add_arg(&lb, key, value);
    if (lb.len + strlen(cursor) + 8 < lb.cap) {
        snprintf(url + lb.len, lb.cap - lb.len, "cursor=%s", cursor);
        reply_header(r, "Link", "<%s>; rel=\"next\"", url);
    }
}

/* Runs the list's query in a transaction of its own, bounded by LEADLOOP_LIST_TIMEOUT_MS
 * with SET LOCAL: one expensive list gives its connection back to the pool within that
 * bound, and the connection's next user has the general statement timeout again. Nothing
 * is written, so the transaction is rolled back once the rows are read. A search is
 * planned for its pattern each time (unnamed statement: only a pattern the planner sees
 * selects an index range), first within its window, then, when its page is not there,
 * over all its matches (list_apply_search). Returns the result (new, PQclear it, even
 * when *err is set). */
PGresult *list_fetch(struct request *r, struct qb *q, const struct listing *l, enum ll_err *err)
{
    long ms = r->cfg->list_timeout_ms, general = r->cfg->statement_timeout_ms;
    bool search = q->window_param >= 0;
    /* only shorter: the daemon holds every statement to the general timeout itself */
    bool bounded = ms > 0 && (general == 0 || ms < general);
    bool tx = bounded || search;
    PGresult *res = NULL;
    if (!qb_sql(q)) {
        *err = LL_E_INTERNAL;
        return NULL;
    }
    if (tx && (*err = db_tx_begin_bounded(r->db, bounded ? ms : 0)) != LL_OK)
        return NULL;
    if (!search) {
        res = qb_exec(r->db, q, err);
    } else {
        q->vals[q->window_param] = "false";
        res = db_exec_adhoc(r->db, qb_sql(q), q->n, q->vals);
        *err = db_check(r->db, res);
        if (*err == LL_OK && PQntuples(res) <= l->limit) {
            /* Not a full page: read the matches through the search indexes, sorted,
             * rather than the table in index order. */
            PQclear(res);
            res = NULL;
            *err = db_tx_set(r->db, "enable_indexscan", "off");
            if (*err == LL_OK) {
                q->vals[q->window_param] = "true";
                res = db_exec_adhoc(r->db, qb_sql(q), q->n, q->vals);
                *err = db_check(r->db, res);
            }
        }
    }
    if (tx)
        db_tx_rollback(r->db);
    return res;
}

/* True when the statement was cancelled: its timeout (or a shutdown's cancel). */
static bool timed_out(const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state && !strcmp(state, "57014");
}

/* Runs q and answers {"data": [...], "next_cursor": ...}, each row written by write_w or,
 * when that is NULL, turned into a tree by row_json and serialised. */
static void answer(struct request *r, struct qb *q, const struct listing *l,
                   json_t *(*row_json)(const PGresult *, int),
                   void (*row_write)(struct jw *, const PGresult *, int))
{
    PGresult *res;
    enum ll_err err;
    struct jw w;
    char cursor[CURSOR_LIST_SIZE];
    bool more;
    int n, cols, shown;
    if (!qb_sql(q)) {
        reply_problem(r, LL_E_INTERNAL, q->overflow ? "query too long" : "out of memory", NULL,
                      NULL);
        return;
    }
    res = list_fetch(r, q, l, &err);
    if (err) {
        if (err == LL_E_UNAVAILABLE && timed_out(res))
            reply_problem(r, err,
                          "the list took too long and was stopped; narrow it with filters, or "
                          "retry shortly",
                          NULL, NULL);
        else
            reply_db_error(r, err);
        PQclear(res);
        return;
    }
    n = PQntuples(res);
    cols = PQnfields(res);
    more = n > l->limit;
    shown = more ? (int)l->limit : n;
    jw_init(&w, 1024 + (size_t)shown * 512);
    jw_lit(&w, "{\"data\":[");
    for (int i = 0; i < shown; i++) {
        if (i)
            jw_lit(&w, ",");
        if (row_write) {
            row_write(&w, res, i);
        } else {
            /* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): one of the two is given */
            json_t *item = row_json(res, i);
            char *text = item ? json_dumps(item, JSON_COMPACT) : NULL;
            if (text)
                jw_lit(&w, text);
            else
                w.oom = true;
            free(text);
            json_decref(item);
        }
    }
    jw_lit(&w, "],\"next_cursor\":");
    if (more) /* a sort value too long for a cursor cannot page; show one page */
        more = cursor_list_encode(l->desc, l->sort->name, PQgetvalue(res, shown - 1, cols - 2),
                                  PQgetvalue(res, shown - 1, cols - 1), cursor);
    if (more) {
        jw_str(&w, cursor, strlen(cursor));
        add_link(r, cursor);
    } else {
        jw_lit(&w, "null");
    }
    jw_lit(&w, "}");
    size_t len = 0;
    char *body = jw_take(&w, &len);
    reply_owned(r, 200, "application/json", body, len);
    PQclear(res);
}

void list_answer(struct request *r, struct qb *q, const struct listing *l,
                 json_t *(*row_json)(const PGresult *res, int row))
{
    answer(r, q, l, row_json, NULL);
}

void list_answer_w(struct request *r, struct qb *q, const struct listing *l,
                   void (*row_write)(struct jw *w, const PGresult *res, int row))
{
    answer(r, q, l, NULL, row_write);
}

void list_export_begin(struct listing *l, long page)
{
    const char *cast = l->sort->cast;
    bool integer = !strcmp(cast, "integer");
    l->limit = page - 1; /* list_apply reads one more than the limit */
    l->has_cursor = true;
    /* Every value of the sort's column comes after this one in the list's order: the
     * columns sorted on are never infinite (times and days the API writes) nor beyond an
     * integer's range. */
    if (l->desc)
        snprintf(l->after, sizeof l->after, "%s", integer ? "2147483647" : "infinity");
    else
        snprintf(l->after, sizeof l->after, "%s", integer ? "-2147483648" : "-infinity");
    snprintf(l->after_id, sizeof l->after_id, "%s",
             l->desc ? "ffffffff-ffff-ffff-ffff-ffffffffffff"
                     : "00000000-0000-0000-0000-000000000000");
}

bool list_export_next(struct listing *l, const PGresult *res)
{
    int n = PQntuples(res), cols = PQnfields(res);
    if (n == 0)
        return false;
    snprintf(l->after, sizeof l->after, "%s", PQgetvalue(res, n - 1, cols - 2));
    snprintf(l->after_id, sizeof l->after_id, "%s", PQgetvalue(res, n - 1, cols - 1));
    return n > l->limit;
}
