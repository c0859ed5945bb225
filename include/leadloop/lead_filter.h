/* Which leads GET /v1/leads lists: its filters and sort read from the query once, and the
 * statement's FROM and WHERE built from them, the same for a page of JSON and for every
 * page of the CSV export (lead_export.h). */
#ifndef LEADLOOP_LEAD_FILTER_H
#define LEADLOOP_LEAD_FILTER_H
#include <stdbool.h>

#include "leadloop/list.h"

struct request;

/* The list's filters, checked. Strings are borrowed from the request (owner_id=me: from
 * its auth). */
struct lead_filter {
    const char *stage, *owner, *campaign, *source, *score_min, *text;
    const char *times[3]; /* created_since, created_until, updated_since */
    const char *utm[3];   /* utm_source, utm_medium, utm_campaign: equal to */
    bool awaiting, overdue, recycle_due;
    char like[400]; /* text, its LIKE metacharacters escaped */
    char sla[24];
};

/* Reads the filters and, into l, the sort (and, unless paging is false, limit and cursor;
 * with paging false they are refused) of GET /v1/leads. Answers 400 and returns false when
 * one is bad or a query parameter is unknown. */
bool lead_filter_read(struct request *r, struct lead_filter *f, struct listing *l, bool paging)
    __attribute__((warn_unused_result));

/* Appends ", <id> FROM ... WHERE ..." to q: the leads of workspace_id that f lets through,
 * the id column (lead_filter_id) first, for a SELECT of lead columns. A search (f->text)
 * adds its conditions; the caller picks how it pages (list_apply or list_apply_search).
 * Values are borrowed from f: it must outlive q's use. */
void lead_filter_sql(struct qb *q, const struct lead_filter *f, const char *workspace_id);

/* The id column a page's keyset is on ("id", or the work list's "waiting_id"). */
const char *lead_filter_id(const struct lead_filter *f);

#endif
