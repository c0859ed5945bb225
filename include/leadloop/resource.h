/* Domain-side helpers shared by the resource files: fetching one resource by its {id}
 * (SQL on the request's connection, so here and not in the HTTP layer) and escaping text
 * for LIKE. Conditional writes are conditional.h's. */
#ifndef LEADLOOP_RESOURCE_H
#define LEADLOOP_RESOURCE_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "leadloop/request.h"

/* For routes on one resource by {id}: refuses query parameters, answers 404 when the id
 * is not a UUID or sql ($1 workspace, $2 id) finds no row, or the database error.
 * Otherwise returns the result (new; PQclear it) with at least one row, for the caller
 * to answer. */
PGresult *req_fetch_by_id(struct request *r, const char *sql, const char *not_found)
    __attribute__((warn_unused_result));
/* Escapes LIKE's metacharacters (% _ \) of s into out (cap bytes; false when too long). */
bool like_escape(const char *s, char *out, size_t cap);

#endif
