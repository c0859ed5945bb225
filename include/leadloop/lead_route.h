/* What every route of one lead (/v1/leads/{id}...) answers about the lead itself before
 * its own work: 404 when the workspace has no such lead, and 308 to the survivor when the
 * lead was merged into another (POST /v1/leads/{id}/merge). */
#ifndef LEADLOOP_LEAD_ROUTE_H
#define LEADLOOP_LEAD_ROUTE_H
#include <stdbool.h>

struct request;

/* Answers for lead_id, merged into survivor (ids as text, borrowed). When the request's
 * path is a route of lead_id, 308 Permanent Redirect with Location the same path on the
 * survivor and a problem-style body (lead-merged) with merged_into. Otherwise (an upsert
 * that found the lead by email or external id just before it was merged) 409: retry. */
void lead_route_merged(struct request *r, const char *lead_id, const char *survivor);

/* For the read routes of lead r->params[0]: true when the workspace has the lead (an
 * erased one too: its routes decide what it shows). Otherwise answers 404, the 308 of a
 * merged lead, or the database error, and returns false. */
bool lead_route_found(struct request *r) __attribute__((warn_unused_result));

#endif
