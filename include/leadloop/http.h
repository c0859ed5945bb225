/* The HTTP layer on libmicrohttpd (thread per connection): reads and limits bodies,
 * assigns request ids, routes, authenticates, calls the handler, answers, and writes
 * the access log. Handlers see a struct request and answer through reply_*(). */
#ifndef LEADLOOP_HTTP_H
#define LEADLOOP_HTTP_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leadloop/auth.h"
#include "leadloop/config.h"
#include "leadloop/problem.h"
#include "leadloop/router.h"

struct MHD_Connection;
struct db_conn;
struct gate_conn;

#define REQ_MAX_HEADERS 8
/* Long enough for a Link header holding the longest cursor (a 200-character name). */
#define REQ_HEADER_VALUE_MAX 2048

/* A query argument, percent-decoded (uri.c): key and value share one allocation; value is
 * NULL for a name without '='. Either may hold NUL bytes (from %00) within its length. */
struct req_arg {
    char *key, *value;
    size_t key_len, value_len;
};

struct request {
    struct MHD_Connection *conn;
    struct gate_conn *gc; /* the connection's client clock (borrowed; may be NULL) */
    const struct config *cfg;
    int method;
    char method_name[16];
    char *path;           /* owned; as sent, percent-escapes and all */
    struct req_arg *args; /* the query's arguments, decoded (owned) */
    size_t nargs;
    const struct route *route;
    const char *params[ROUTER_MAX_PARAMS]; /* the path's captured segments, decoded */
    char param_buf[4096]; /* room for a 255-character id percent-encoded (up to 3,060 bytes) */
    char request_id[129];
    uint64_t start_ns;

    /* body: read whole, up to the limit */
    char *body; /* owned, NUL-terminated */
    size_t body_len, body_cap;
    long max_body; /* the route's limit */
    bool body_present, body_too_large;
    bool bulk_slot;        /* holds one of LEADLOOP_BULK_SLOTS until it completes */
    bool key_turn;         /* holds one of its key's pool shares (keycap) */
    enum ll_err early_err; /* decided from the headers; answered once the body is drained */
    const char *early_detail;
    int allowed; /* methods of the path, for 405 and OPTIONS */

    struct auth_ctx auth;
    bool authed;
    bool rated;          /* the rate limit was checked */
    char rl_policy[128]; /* RateLimit-Policy and RateLimit of the key's buckets, or "" */
    char rl_state[128];
    struct db_conn *db; /* borrowed from the pool for the request's life */

    bool idem_active; /* inside the transaction of an Idempotency-Key */
    char idem_key[256];
    char idem_hash[65];

    /* the answer */
    int status;
    char *resp_body; /* owned */
    size_t resp_len;
    const char *content_type;
    struct {
        char name[32];
        char value[REQ_HEADER_VALUE_MAX];
    } headers[REQ_MAX_HEADERS];
    int nheaders;
    bool answered;
};

/* Sets what is told, after each successful write request (POST, PUT, PATCH, DELETE with
 * a 2xx answer), its workspace: the change feed's wake-ups. Before http_start. */
void http_on_write(void (*hook)(const char *workspace_id));
/* Starts the daemon (listening). */
bool http_start(const struct config *cfg) __attribute__((warn_unused_result));
/* Stops accepting, waits for requests in flight up to the deadline, then stops. */
void http_stop(long deadline_s);
/* The bulk slots (LEADLOOP_BULK_SLOTS): how many, how many are taken, how many requests
 * wait for one. */
void http_bulk_stats(long *slots, long *in_use, long *waiting);

/* --- for handlers --- */

/* Answers with a JSON body; steals body. */
void reply_json(struct request *r, int status, json_t *body);
/* Answers with raw bytes (copied). */
void reply_raw(struct request *r, int status, const char *content_type, const char *body,
               size_t len);
void reply_empty(struct request *r, int status);
/* Answers with a body it takes over (malloc'd; NULL means out of memory: 500). */
void reply_owned(struct request *r, int status, const char *content_type, char *body, size_t len);
/* Answers with a problem; errors and extra are stolen (either may be NULL). */
void reply_problem(struct request *r, enum ll_err err, const char *detail, json_t *errors,
                   json_t *extra);
/* A 503 from a failed statement when the database is the cause, else the mapped error. */
void reply_db_error(struct request *r, enum ll_err err);
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

/* If-Match as a version for a conditional write: 0 when absent or "*", 1 with *version
 * set, -1 when it can match no version (weak or foreign tag: the write must fail 412). */
int req_if_match_version(struct request *r, long *version);
/* The same as a statement parameter: NULL without If-Match (or "*"), else the version as
 * text in buf ("0", which no row has, for a tag that can match nothing). */
const char *req_if_match_param(struct request *r, char buf[24]);
/* After a conditional write touched no row: answers 404 when sql_version ($1 workspace,
 * $2 id -> version) finds nothing, else 412 with the current ETag. */
void reply_missing_or_stale(struct request *r, const char *sql_version, const char *not_found);
/* Escapes LIKE's metacharacters (% _ \) of s into out (cap bytes; false when too long). */
bool like_escape(const char *s, char *out, size_t cap);

/* If-Match: true when absent or matching version; answers 412 and returns false else. */
bool req_if_match(struct request *r, long version) __attribute__((warn_unused_result));

/* For routes on one resource by {id}: refuses query parameters, answers 404 when the id
 * is not a UUID or sql ($1 workspace, $2 id) finds no row, or the database error.
 * Otherwise returns the result (new; PQclear it) with at least one row, for the caller
 * to answer. */
PGresult *req_fetch_by_id(struct request *r, const char *sql, const char *not_found)
    __attribute__((warn_unused_result));

/* Sane X-Request-Id: 1..128 of [A-Za-z0-9._:-]. */
bool http_request_id_ok(const char *s);

#endif
