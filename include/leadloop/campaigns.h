/* Campaigns: what marketing runs (channel, budget, cost, dates), the source of leads. */
#ifndef LEADLOOP_CAMPAIGNS_H
#define LEADLOOP_CAMPAIGNS_H
#include <jansson.h>
#include <libpq-fe.h>

#include "leadloop/db.h"

struct request;

/* The columns a campaign is read with, in the order campaigns_json expects. */
#define CAMPAIGN_COLUMNS                                                                           \
    "id, name, channel, status, budget, cost, currency, starts_on::text, ends_on::text, "          \
    "owner_id, to_json(tags)::text, description, version, " DB_TS("created_at") ", " DB_TS(        \
        "updated_at")

/* The one representation of a campaign (new reference) from CAMPAIGN_COLUMNS at row. */
json_t *campaigns_json(const PGresult *res, int row);
void campaigns_create(struct request *r);
void campaigns_list(struct request *r);
void campaigns_get(struct request *r);
void campaigns_update(struct request *r);
void campaigns_archive(struct request *r);
#endif
