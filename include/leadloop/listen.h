/* One database connection that LISTENs, in one thread, for the channels the daemon's
 * modules subscribe to (revoked API keys, the change feed), and calls them back. A lost
 * connection is reopened once a second; subscribers hear when it goes down and comes back,
 * because notifications sent meanwhile are lost. */
#ifndef LEADLOOP_LISTEN_H
#define LEADLOOP_LISTEN_H
#include <stdbool.h>

/* Called on the listener thread: keep them short, and do not call listen_* from them. */
struct listen_sub {
    const char *channel;                          /* borrowed: a static name */
    void (*note)(const char *payload, void *arg); /* one notification's payload */
    void (*up)(bool listening, void *arg);        /* now listening (true) or lost (false) */
    void *arg;
};

/* Adds a subscription; before listen_start only (at most 8). */
bool listen_add(const struct listen_sub *sub) __attribute__((warn_unused_result));
/* Starts the thread when there is a subscription (else does nothing). conninfo is copied. */
bool listen_start(const char *conninfo) __attribute__((warn_unused_result));
/* Stops the thread (within 250 ms) and forgets the subscriptions. Safe when not started. */
void listen_stop(void);

#endif
