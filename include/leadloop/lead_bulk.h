/* Leads in bulk: a JSON batch of up to 1000 leads (created, or upserted by email) and a
 * CSV import. Each lead is validated as POST /v1/leads validates it (leads_read) and
 * written with the same side rows as leads_insert, many leads per statement. */
#ifndef LEADLOOP_LEAD_BULK_H
#define LEADLOOP_LEAD_BULK_H
struct request;

/* POST /v1/leads/batch {mode, leads}: answers 200 with one result per item, in order. */
void lead_bulk_batch(struct request *r);
/* POST /v1/leads/import?mode= (text/csv): answers 200 with the counts and rejections. */
void lead_bulk_import(struct request *r);

#endif
