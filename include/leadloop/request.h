/* A request as handlers see it: the request line, its decoded query and path parameters,
 * its body, who sent it (auth), a pool connection, and the answer being made. Handlers read
 * it through req_*() and answer through reply_*(). Nothing here knows the HTTP library:
 * the layer below (http.c) lends its connection through struct req_transport, and the
 * request path (reqpath.c) runs the stages around the handler. */
#ifndef LEADLOOP_REQUEST_H
#define LEADLOOP_REQUEST_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leadloop/auth.h"
#include "leadloop/config.h"
#include "leadloop/problem.h"

struct db_conn;
struct route;

/* The most a handler adds: the web app's files carry eight (assets.c), plus room. */
#define REQ_MAX_HEADERS 8
/* Long enough for a Link header holding the longest cursor (a 200-character name). */
#define REQ_HEADER_VALUE_MAX 2048
/* The path parameters a route captures (router.h's ROUTER_MAX_PARAMS, checked there). */
#define REQ_MAX_PARAMS 4
/* An IPv6 address as text, NUL included (INET6_ADDRSTRLEN). */
#define REQ_ADDR_MAX 46

/* A query argument, percent-decoded (uri.c): key and value share one allocation; value is
 * NULL for a name without '='. Either may hold NUL bytes (from %00) within its length. */
struct req_arg {
    char *key, *value;
    size_t key_len, value_len;
};

/* What the layer below lends a request, called with its connection (request.conn). Its
 * functions may only be called on the thread that runs the request at the time, whichever
 * that is; a transport that moves requests between threads gives the same functions. */
struct req_transport {
    /* The first value of a request header (name case-insensitive), borrowed for the
     * request's life; NULL when absent. */
    const char *(*header)(void *conn, const char *name);
    /* How many times a header was sent. */
    int (*header_count)(void *conn, const char *name);
    /* True when an answer would reach nobody (the client closed its connection) or the
     * daemon wants running handlers to give up. */
    bool (*gone)(void *conn);
};

/* A body made while it is sent (reply_stream), for an answer too large to hold at once.
 * Its functions run on the request's thread, after its handler has returned and the
 * request has given its pool connection back: a reader that needs the database takes a
 * connection (db_acquire into r->db) and gives it back before it returns. */
struct req_stream {
    /* Writes the body's next bytes into buf (at most cap, cap > 0): returns how many (> 0),
     * 0 at the body's end, or -1 when it cannot go on: the connection is then closed
     * before the body's end, which an HTTP/1.1 client sees as a chunked body without its
     * last chunk. */
    long (*read)(void *arg, char *buf, size_t cap);
    /* Frees arg when the request ends, however it ends (the client may leave first). */
    void (*free)(void *arg);
    void *arg; /* owned through free */
};

struct request {
    const struct req_transport *transport; /* borrowed (static in the layer below) */
    void *conn;                            /* the transport's connection: opaque here */
    const struct config *cfg;
    int method; /* enum http_method (router.h) */
    char method_name[16];
    char *path;           /* owned; as sent, percent-escapes and all */
    struct req_arg *args; /* the query's arguments, decoded (owned) */
    size_t nargs;
    const struct route *route;
    const char *params[REQ_MAX_PARAMS]; /* the path's captured segments, decoded */
    char param_buf[4096]; /* room for a 255-character id percent-encoded (up to 3,060 bytes) */
    char request_id[129];
    char client_addr[REQ_ADDR_MAX]; /* the client's IP address as text; "" when unknown */
    uint64_t start_ns;

    /* body: read whole, up to the limit */
    char *body; /* owned, NUL-terminated */
    size_t body_len, body_cap;
    long max_body; /* the route's limit */
    bool body_present, body_too_large;

    /* the request path's own (reqpath.c) */
    int stage;      /* the next stage to run */
    bool body_done; /* the whole body has arrived (or there is none) */
    bool bulk_slot; /* holds one of LEADLOOP_BULK_SLOTS until it completes */
    bool key_turn;  /* holds one of its key's pool shares (keycap) */
    bool handled;   /* the route's handler ran */
    int allowed;    /* methods of the path, for 405 and OPTIONS */

    struct auth_ctx auth;
    bool authed;
    char rl_policy[128]; /* RateLimit-Policy and RateLimit of the key's buckets, or "" */
    char rl_state[128];
    struct db_conn *db; /* borrowed from the pool for the request's life */

    bool idem_active;  /* inside the transaction of an Idempotency-Key */
    bool idem_chunked; /* or committing in chunks under its lock (idem_chunked_begin) */
    char idem_key[256];
    char idem_hash[65];

    /* the answer */
    int status;
    char *resp_body;          /* owned */
    const char *resp_static;  /* or a body that outlives the request (reply_static): borrowed */
    struct req_stream stream; /* or a body made while it is sent (reply_stream) */
    size_t resp_len;
    const char *content_type;
    struct {
        char name[32];
        char value[REQ_HEADER_VALUE_MAX];
    } headers[REQ_MAX_HEADERS];
    int nheaders;
    /* headers whose names and values outlive the request (reply_fixed_headers): borrowed,
     * {name, value} pairs ending with a NULL name; they need none of the slots above */
    const char *const (*fixed_headers)[2];
    bool answered;
};

/* --- for the layers below the handlers (http.c, reqpath.c) --- */

/* Sets up r, zeroed by the caller, for a request on conn of transport t (both borrowed
 * for the request's life). */
void req_init(struct request *r, const struct config *cfg, const struct req_transport *t,
              void *conn);
/* Appends a query argument as sent (percent-decoded here; value NULL for a name without
 * '='). False when out of memory. */
bool req_arg_add(struct request *r, const char *key, const char *value)
    __attribute__((warn_unused_result));
/* Frees what r owns (not r itself). */
void req_fini(struct request *r);
/* How many times a request header was sent. */
int req_header_count(struct request *r, const char *name);
/* Sane X-Request-Id: 1..128 of [A-Za-z0-9._:-]. (Named for the header it checks; the
 * audit log's filter uses it too.) */
bool http_request_id_ok(const char *s);

/* --- for handlers --- */

/* Answers with a JSON body; steals body. */
void reply_json(struct request *r, int status, json_t *body);
/* Answers with raw bytes (copied). */
void reply_raw(struct request *r, int status, const char *content_type, const char *body,
               size_t len);
void reply_empty(struct request *r, int status);
/* Answers with bytes that live as long as the program (the embedded files): borrowed, sent
 * without a copy. */
void reply_static(struct request *r, int status, const char *content_type, const void *body,
                  size_t len);
/* Answers with a body it takes over (malloc'd; NULL means out of memory: 500). */
void reply_owned(struct request *r, int status, const char *content_type, char *body, size_t len);
/* Answers with a body that read makes while it is sent (struct req_stream); steals arg,
 * freed by free_arg when the request ends (at once when r was answered already). The
 * request keeps its key's turn until then, not its pool connection. */
void reply_stream(struct request *r, int status, const char *content_type,
                  long (*read)(void *arg, char *buf, size_t cap), void (*free_arg)(void *arg),
                  void *arg);
/* Answers with a problem; errors and extra are stolen (either may be NULL). */
void reply_problem(struct request *r, enum ll_err err, const char *detail, json_t *errors,
                   json_t *extra);
/* A 503 from a failed statement when the database is the cause, else the mapped error. */
void reply_db_error(struct request *r, enum ll_err err);
/* Whether the resource the path names (r->params[0], a UUID) is the workspace's: sql takes
 * the workspace ($1) and that id ($2) and returns a row if so. Answers 404 with not_found
 * (or the database's error) and returns false when it is not. */
bool req_owned(struct request *r, const char *sql, const char *not_found);
/* Adds the {name, value} pairs of list (ended by a NULL name, borrowed: it must outlive
 * the request, as a static table does) to the answer's headers. */
void reply_fixed_headers(struct request *r, const char *const (*list)[2]);
/* Adds a response header (printf-style value). */
void reply_header(struct request *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A request header or query argument (decoded); borrowed, NULL when absent. */
const char *req_header(struct request *r, const char *name);
const char *req_query(struct request *r, const char *name);
/* The i-th query argument in the order sent, decoded (borrowed; *value NULL for a name
 * without '='). False past the last. */
bool req_query_at(const struct request *r, size_t i, const char **key, const char **value);

/* Rejects (400, naming each) query parameters not in the NULL-terminated list.
 * Returns false when it has answered. */
bool req_query_allowed(struct request *r, const char *const *allowed)
    __attribute__((warn_unused_result));

/* 400 invalid-parameter naming one query parameter. Returns false (for `return bad(...)`). */
bool reply_bad_param(struct request *r, const char *name, const char *message);
/* 422 validation-failed naming one body field. */
void reply_bad_field(struct request *r, const char *field, const char *message);

/* Parses the body as a JSON object. Returns a new reference, or NULL after answering
 * 400 (absent, malformed, not an object, duplicate keys). */
json_t *req_json_object(struct request *r) __attribute__((warn_unused_result));
/* True when a long handler should give up and write nothing more: the client has closed
 * its connection (its answer would reach nobody), or the daemon is stopping and its
 * deadline is near. */
bool req_abandoned(struct request *r) __attribute__((warn_unused_result));
/* Frees the body's text, once parsed, for a handler that holds a large request long
 * (the idempotency record kept its hash before the handler ran). */
void req_body_release(struct request *r);

#endif
