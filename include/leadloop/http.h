/* The HTTP layer on libmicrohttpd (thread per connection): accepts requests, reads their
 * heads and bodies, runs each through the request path (reqpath.h), and sends the answer.
 * Handlers see a struct request (request.h), never libmicrohttpd. */
#ifndef LEADLOOP_HTTP_H
#define LEADLOOP_HTTP_H
#include <stdbool.h>

#include "leadloop/config.h"

/* Sets what is told, after each successful write request (POST, PUT, PATCH, DELETE with
 * a 2xx answer), its workspace: the change feed's wake-ups. Before http_start. */
void http_on_write(void (*hook)(const char *workspace_id));
/* Starts the daemon (listening). */
bool http_start(const struct config *cfg) __attribute__((warn_unused_result));
/* Stops accepting, waits for requests in flight up to the deadline, then stops. */
void http_stop(long deadline_s);

#endif
