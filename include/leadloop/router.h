/* Routes: method + path pattern -> handler and the roles allowed, and matching a request
 * path against a table of them (the daemon's table is server/routes.c). */
#ifndef LEADLOOP_ROUTER_H
#define LEADLOOP_ROUTER_H
#include <stddef.h>

struct request;
typedef void (*route_handler)(struct request *r);

enum http_method {
    HTTP_GET = 1,
    HTTP_POST = 2,
    HTTP_PUT = 4,
    HTTP_PATCH = 8,
    HTTP_DELETE = 16,
    HTTP_OPTIONS = 32,
    HTTP_HEAD = 64,
    HTTP_OTHER = 128
};

enum route_flags {
    ROUTE_PUBLIC = 1, /* no API key */
    ROUTE_NO_DB = 2,  /* answered without a pool connection */
    /* POST without Idempotency-Key replays: its answer holds a secret, never stored */
    ROUTE_NO_IDEMPOTENCY = 4,
    /* the body is text/csv up to LEADLOOP_MAX_IMPORT instead of JSON up to MAX_BODY */
    ROUTE_CSV = 8,
    /* takes one of LEADLOOP_BULK_SLOTS before its body is read */
    ROUTE_BULK = 16,
    /* the pattern's last {name} takes the rest of the path, slashes and all, and may be
     * empty: "/app/{path}" matches /app/, /app/leads and /app/assets/main.js */
    ROUTE_TAIL = 32,
    /* a point read (GET of one resource): a few short statements, no transaction, so they
     * share their event loop's pipelined connection (db_acquire_shared) */
    ROUTE_POINT = 64,
    /* a list or report (GET, no writes): may read from the read replica
     * (DATABASE_READ_URL, server/replica.c) */
    ROUTE_REPLICA = 128,
};

struct route {
    int method;
    const char *pattern; /* "/v1/users/{id}": {name} matches one non-empty segment
                          * (the last one more with ROUTE_TAIL) */
    route_handler handler;
    int roles; /* enum role bits allowed; 0 with ROUTE_PUBLIC */
    unsigned flags;
};

/* A table of routes (the daemon's is server/routes.c's `routes`). */
struct route_table {
    const struct route *routes;
    size_t n;
};

#define ROUTER_MAX_PARAMS 4

/* Finds the route for path and method. Captured segments are copied into buf (size
 * buflen) and pointed to by params. When no route has this method but some route has
 * this path, returns NULL with *allowed set to their methods (for 405 and OPTIONS). */
const struct route *router_match(const struct route_table *t, const char *path, int method,
                                 const char *params[ROUTER_MAX_PARAMS], char *buf, size_t buflen,
                                 int *allowed);

const struct route *router_at(const struct route_table *t, size_t i);  /* borrowed; NULL past */
int router_index(const struct route_table *t, const struct route *rt); /* -1 for NULL */

int router_method_parse(const char *method);
const char *router_method_name(int method);
/* "GET, POST" for a set of methods; buf of at least 64 bytes. */
void router_methods_list(int methods, char *buf, size_t buflen);

#endif
