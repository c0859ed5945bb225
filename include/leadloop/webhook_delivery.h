/* Webhook delivery: a dispatcher thread that turns the change feed into deliveries, one
 * per endpoint and change, and sender threads that POST them (server/webhook_client.c)
 * and retry with exponential backoff. Several daemons on one database share the work: a
 * delivery is made once (a unique row), and taken by one sender at a time (a lease). */
#ifndef LEADLOOP_WEBHOOK_DELIVERY_H
#define LEADLOOP_WEBHOOK_DELIVERY_H
#include <stdbool.h>

struct webhook_delivery_config {
    long senders; /* sender threads; 0 turns delivery off in this daemon */
    bool allow_private;
    long timeout_ms;   /* one attempt, connecting included */
    long retry_min_ms; /* the first retry's delay, doubling up to retry_max_ms */
    long retry_max_ms;
    long retry_for_s; /* a delivery is retried this long after it was made, then failed */
    long lease_s;     /* an attempt under way is someone else's to retry after this */
};

/* Starts the threads (none when senders is 0). cfg is copied. */
bool webhook_delivery_start(const struct webhook_delivery_config *cfg)
    __attribute__((warn_unused_result));
/* Stops them: an attempt under way finishes (at most the timeout). Safe when not started. */
void webhook_delivery_stop(void);

#endif
