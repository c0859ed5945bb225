/* The request path: the declared list of stages a request goes through, from its head to
 * its answer (framing, route, auth, admission, body, connection, audit, idempotency,
 * handler, answer; see the table in reqpath.c). The layer below (http.c) feeds it the
 * request's head, its body and its end; it never calls back into that layer. */
#ifndef LEADLOOP_REQPATH_H
#define LEADLOOP_REQPATH_H
#include <stdbool.h>
#include <stddef.h>

#include "leadloop/config.h"
#include "leadloop/request.h"

/* Sets up what the stages share (bulk slots, rate limits, keys' pool shares) from cfg
 * (borrowed for the daemon's life). Before the first request. */
void reqpath_start(const struct config *cfg);
/* Sets what is told, after each successful write request (POST, PUT, PATCH, DELETE with a
 * 2xx answer), its workspace. Before reqpath_start's first request. */
void reqpath_on_write(void (*hook)(const char *workspace_id));
/* The daemon is stopping: bulk requests are refused from now on, at once. */
void reqpath_quiesce(void);
/* After the last request: forgets the rate limits' leases. */
void reqpath_stop(void);

/* The request line, for a request set up by req_init: the method, the target as sent
 * (path and query; the query's arguments come with req_arg_add), and the request id
 * (X-Request-Id when sane, else a new one). False when out of memory. */
bool reqpath_begin(struct request *r, const char *method, const char *url)
    __attribute__((warn_unused_result));
/* The head has arrived: runs the stages that need no body. Returns true when the request
 * is answered already (a refusal); a request with a body is refused before a byte of its
 * body is read. A request without a body is never answered here (its answer comes from
 * reqpath_finish): whatever it is, nothing is saved by answering on the head. */
bool reqpath_head(struct request *r) __attribute__((warn_unused_result));
/* A piece of the body: kept up to the route's limit, counted and dropped past it (the
 * answer is then 413, once the body is drained). False when out of memory. */
bool reqpath_body(struct request *r, const char *data, size_t n)
    __attribute__((warn_unused_result));
/* The whole request has arrived: runs the remaining stages, up to the answer. */
void reqpath_finish(struct request *r);
/* The answer's headers, in order, each passed to add (name and value borrowed for the call
 * only): the content type, the request id, rate-limit state, caching, CORS, then the
 * handler's own. */
void reqpath_headers(struct request *r, void (*add)(void *ctx, const char *name, const char *value),
                     void *ctx);
/* The request has ended, answered or not (aborted, timed out): counts and logs it and gives
 * back what it held. r itself is the caller's to free. */
void reqpath_end(struct request *r);

#endif
