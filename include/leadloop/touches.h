/* Touches: a campaign reaching a lead (sent, opened, clicked, ...), the raw material of
 * attribution; recorded one by one or in batches, listed per lead, and summed up per lead
 * as the campaign's members. */
#ifndef LEADLOOP_TOUCHES_H
#define LEADLOOP_TOUCHES_H
struct request;

/* POST /v1/campaigns/{id}/touches */
void touches_create(struct request *r);
/* POST /v1/campaigns/{id}/touches/batch */
void touches_batch(struct request *r);
/* GET /v1/leads/{id}/touches */
void touches_list_by_lead(struct request *r);
/* GET /v1/campaigns/{id}/members */
void touches_members(struct request *r);
#endif
