/* Webhooks: the endpoints an admin registers (/v1/webhooks), their deliveries, a ping
 * and a redelivery. Sending is server/webhook_delivery.c's job. */
#ifndef LEADLOOP_WEBHOOKS_H
#define LEADLOOP_WEBHOOKS_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "leadloop/db.h"

struct request;

/* Whether URLs that resolve to private addresses are accepted (LEADLOOP_WEBHOOK_ALLOW_PRIVATE);
 * set once at start. */
void webhooks_configure(bool allow_private);

void webhooks_list(struct request *r);
void webhooks_create(struct request *r);
void webhooks_get(struct request *r);
void webhooks_update(struct request *r);
void webhooks_delete(struct request *r);
void webhooks_rotate_secret(struct request *r);
void webhooks_ping(struct request *r);
void webhooks_deliveries(struct request *r);
void webhooks_redeliver(struct request *r);

/* The columns a delivery is read with (from webhook_deliveries AS d), in the order
 * webhooks_delivery_json expects, and its representation (new reference). */
#define WEBHOOK_DELIVERY_COLUMNS_WITH(TS)                                                          \
    "d.id, d.endpoint_id, d.type, d.change_seq, d.status, d.attempts, CASE WHEN d.status ="        \
    " 'pending' THEN " TS("d.next_attempt_at") " END, " TS(                                        \
        "d.last_attempt_at") ", "                                                                  \
                             "d.last_status, d.last_error, " TS("d.delivered_at") ", " TS(         \
                                 "d.created_at")
#define WEBHOOK_DELIVERY_COLUMNS WEBHOOK_DELIVERY_COLUMNS_WITH(DB_TS)
/* The same in a RETURNING clause (db.h DB_TS_RET). */
#define WEBHOOK_DELIVERY_RETURNING WEBHOOK_DELIVERY_COLUMNS_WITH(DB_TS_RET)
json_t *webhooks_delivery_json(const PGresult *res, int row);

#endif
