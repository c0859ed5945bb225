/* Interactions: the calls, emails, meetings, notes, messages, forms and tickets that sales
 * and support tools log on a lead, one by one or in batches; idempotent by the tool's own
 * (source, external_id). They join the lead's timeline and stop its follow-up clock
 * (sql/functions/40_reports.sql). */
#ifndef LEADLOOP_INTERACTIONS_H
#define LEADLOOP_INTERACTIONS_H
#include <jansson.h>
#include <libpq-fe.h>

#include "leadloop/db.h"

struct request;

/* The columns an interaction is read with (from interactions AS i), in the order
 * interactions_json expects. */
#define INTERACTION_COLUMNS_WITH(TS)                                                               \
    "i.id, i.lead_id, i.kind, i.direction, i.outcome, " TS(                                        \
        "i.occurred_at") ", i.user_id, i.actor_name, i.subject, i.body, i.duration_seconds, "      \
                         "i.campaign_id, i.source, i.external_id, i.version, " TS(                 \
                             "i.created_at") ", " TS("i.updated_at")
#define INTERACTION_COLUMNS INTERACTION_COLUMNS_WITH(DB_TS)
/* The same in a RETURNING clause (db.h DB_TS_RET). */
#define INTERACTION_RETURNING INTERACTION_COLUMNS_WITH(DB_TS_RET)

/* The one representation of an interaction (new reference) from INTERACTION_COLUMNS at
 * row. */
json_t *interactions_json(const PGresult *res, int row);

/* POST /v1/leads/{id}/interactions */
void interactions_create(struct request *r);
/* POST /v1/interactions/batch */
void interactions_batch(struct request *r);
/* GET /v1/leads/{id}/interactions */
void interactions_list_by_lead(struct request *r);
/* GET /v1/interactions/{id} */
void interactions_get(struct request *r);
#endif
