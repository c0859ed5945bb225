/* Touches: a campaign reaching a lead (sent, opened, clicked, ...), the raw material of
 * attribution; recorded one by one or in batches, listed per lead, and summed up per lead
 * as the campaign's members. */
#ifndef LEADLOOP_TOUCHES_H
#define LEADLOOP_TOUCHES_H
#include <jansson.h>
#include <libpq-fe.h>

#include "leadloop/db.h"

struct request;

/* The columns a touch is read with (from campaign_touches AS t), in the order
 * touches_json expects. */
#define TOUCH_COLUMNS                                                                              \
    "t.id, t.campaign_id, t.lead_id, t.kind, " DB_TS("t.occurred_at") ", " DB_TS("t.created_at")

/* The one representation of a touch (new reference) from TOUCH_COLUMNS at row. */
json_t *touches_json(const PGresult *res, int row);

/* POST /v1/campaigns/{id}/touches */
void touches_create(struct request *r);
/* POST /v1/campaigns/{id}/touches/batch */
void touches_batch(struct request *r);
/* GET /v1/leads/{id}/touches */
void touches_list_by_lead(struct request *r);
/* GET /v1/campaigns/{id}/members */
void touches_members(struct request *r);
#endif
