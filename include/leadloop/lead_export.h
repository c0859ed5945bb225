/* The lead list as CSV: GET /v1/leads with Accept: text/csv. Every lead the list's filters
 * let through, streamed in pages read one after the other by keyset (so the daemon holds
 * one page at a time, whatever the count), in a stable documented column order that the
 * CSV import reads back. */
#ifndef LEADLOOP_LEAD_EXPORT_H
#define LEADLOOP_LEAD_EXPORT_H

struct request;

/* Rows read per statement. */
#define LEAD_EXPORT_PAGE 500
/* The most external id systems and custom fields the export makes columns of. */
#define LEAD_EXPORT_MAX_KEYS 1000

/* GET /v1/leads: by its Accept header (as the reports negotiate), the CSV export here,
 * JSON by leads_list, or 406. */
void lead_export_list(struct request *r);

/* Answers the request: the CSV stream, or a problem (400 for a bad filter, limit or cursor,
 * 422 when the leads hold more distinct custom fields and external id systems than
 * LEAD_EXPORT_MAX_KEYS, 503 when the database fails before the first byte). A failure
 * after the first byte closes the connection before the body's end. */
void lead_export(struct request *r);

#endif
