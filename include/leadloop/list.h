/* Lists: a small SQL builder (constant fragments, values always as $n parameters),
 * sorted keyset pagination with opaque cursors bound to their sort, and the answer
 * {"data": [...], "next_cursor": ...} with a Link header. */
#ifndef LEADLOOP_LIST_H
#define LEADLOOP_LIST_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "leadloop/db.h"
#include "leadloop/jw.h"

struct request;

#define QB_MAX_PARAMS 40

/* A statement built from constant fragments, its values as $n parameters. Its text is a
 * jw it owns: qb_init starts it (q may be uninitialised memory), qb_free frees it; between
 * the two, qb_init is not called again. */
struct qb {
    struct jw sql; /* the text; read it with qb_sql */
    const char *vals[QB_MAX_PARAMS];
    char own[QB_MAX_PARAMS][64]; /* storage for numbers and the like */
    int n;
    bool overflow;    /* more than QB_MAX_PARAMS parameters */
    int window_param; /* a search's: the parameter that turns its window off; else -1 */
};

void qb_init(struct qb *q, const char *sql);
/* Frees q's text; q may be zeroed. */
void qb_free(struct qb *q);
/* Appends a constant SQL fragment; "$?" in it is replaced by the next parameter, which
 * takes the value v (borrowed: must outlive the query). */
void qb_add(struct qb *q, const char *fragment);
void qb_addp(struct qb *q, const char *fragment, const char *v);
/* Same with n values for the fragment's n "$?", in order. */
void qb_addpv(struct qb *q, const char *fragment, int n, const char *const *vals);
/* Same, with a value copied into the builder (up to 63 bytes). */
void qb_addc(struct qb *q, const char *fragment, const char *v);
/* The statement's text (borrowed: valid until q changes), or NULL when it could not be
 * built (too many parameters, out of memory). */
const char *qb_sql(struct qb *q);
/* Runs q on db with its parameters (db_exec). Returns the result (new, PQclear it) and in
 * *err db_check's verdict; NULL and LL_E_INTERNAL, logged, when q could not be built. */
PGresult *qb_exec(struct db_conn *db, struct qb *q, enum ll_err *err);

struct sort_key {
    const char *name; /* as in ?sort=, e.g. "created_at" */
    const char *expr; /* SQL expression ordered on (with the id as tie-breaker) */
    const char *cast; /* SQL type of the cursor value: timestamptz, text, integer, date */
};

struct listing {
    long limit;
    const struct sort_key *sort;
    bool desc;
    bool has_cursor;
    char after[1200]; /* the sort key of the last row shown */
    char after_id[37];
};

/* Reads limit, sort (among keys, NULL-terminated by name; default_sort like
 * "-created_at") and cursor. Answers 400 and returns false when bad. */
bool list_params(struct request *r, struct listing *l, const struct sort_key *keys,
                 const char *default_sort) __attribute__((warn_unused_result));

/* Appends the cursor condition, ORDER BY and LIMIT (one more than the page). The SELECT
 * must end with two columns: the sort key as text (list_begin writes it) and the id. */
void list_apply(struct qb *q, const struct listing *l, const char *id_expr);

/* list_apply for a search (q=): the same, and the query first looks for its page among the
 * list's first 100 pages' worth of rows of the workspace (of table, in the list's order,
 * after the cursor). A common term fills its page there at once; PostgreSQL, left alone,
 * chose that order for a term it thought common and then read the whole table when the
 * matches were all old (4.5 s at a million leads). When the page is not there, list_answer
 * runs the query again without the window and without index order, which reads only the
 * matches, through the search indexes (schema 0007). Both run planned for their values. */
void list_apply_search(struct qb *q, const struct listing *l, const char *id_expr,
                       const char *table, const char *workspace_id);

/* Starts a list's SELECT in q (qb_init: the caller qb_frees q once answered): the columns
 * (a constant fragment ending with ", "), then the sort key as text (timestamps in the API's
 * exact format). The caller goes on with ", <id> FROM ...", so that the row ends with the two
 * columns list_answer pages on. */
void list_begin(struct qb *q, const char *columns, const struct listing *l);

/* Runs q and answers the page: row_json turns a row into an item (new reference). q stays
 * the caller's. */
void list_answer(struct request *r, struct qb *q, const struct listing *l,
                 json_t *(*row_json)(const PGresult *res, int row));

/* Runs a list's query as list_answer does (in a transaction bounded by
 * LEADLOOP_LIST_TIMEOUT_MS; a search first within its window): for a caller that pages
 * through a list itself. Returns the result (new, PQclear it, even when *err is set; NULL
 * when it could not be run). */
PGresult *list_fetch(struct request *r, struct qb *q, const struct listing *l, enum ll_err *err);

/* Keyset paging of a whole list (an export), one page of `page` rows after the other with
 * the same statement: l, read by list_params, gets a cursor before its first row (the
 * bound of the sort's type: infinity, the largest integer, the all-f UUID, or their
 * opposites), so that the statement list_apply builds has its keyset condition from the
 * start and each page is an index range, whatever the plan. The statement borrows
 * l->after and l->after_id: l must stay where it is while the statement is used. */
void list_export_begin(struct listing *l, long page);
/* After a page (the rows of res, which end with list_begin's two columns): moves l past its
 * last row. Returns true when another page may follow (the page was full). */
bool list_export_next(struct listing *l, const PGresult *res);

struct jw;
/* The same, with rows written as JSON text straight from the result. */
void list_answer_w(struct request *r, struct qb *q, const struct listing *l,
                   void (*row_write)(struct jw *w, const PGresult *res, int row));

#endif
