/* The request path: what happens to a request between its head and its answer, as one
 * table of stages run in order (see `stages` below). A stage either lets the request go
 * on, or answers it (the path then jumps to the answer), or waits for the body. The layer
 * below (http.c) runs the stages that need no body when the head has arrived, and the rest
 * when the whole request has; so a refused upload is refused before its body is read.
 *
 * The stages live here and not in request.c because they use the modules that themselves
 * work on a struct request (auth, rate limits, idempotency, audit): request.c is below all
 * of them, this file above. */
#include "leadloop/reqpath.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadloop/audit.h"
#include "leadloop/auth.h"
#include "leadloop/bulk_slots.h"
#include "leadloop/db.h"
#include "leadloop/headers.h"
#include "leadloop/idempotency.h"
#include "leadloop/keycap.h"
#include "leadloop/log.h"
#include "leadloop/metrics.h"
#include "leadloop/ratelimit.h"
#include "leadloop/replica.h"
#include "leadloop/router.h"
#include "leadloop/routes.h"
#include "leadloop/session.h"
#include "leadloop/uri.h"
#include "leadloop/util.h"

_Static_assert(REQ_MAX_PARAMS == ROUTER_MAX_PARAMS, "request.h and router.h disagree");

static const struct config *conf;
/* Called after every successful write request (reqpath_on_write). */
static void (*write_hook)(const char *workspace_id);

static const char cors_allow_headers[] =
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-CSRF-Token, "
    "X-Request-Id";
static const char cors_expose_headers[] =
    "Content-Disposition, ETag, Idempotent-Replayed, Link, Location, RateLimit, "
    "RateLimit-Policy, Retry-After, X-Request-Id";

/* What a stage tells the path. */
enum stage_result {
    STAGE_NEXT,     /* go on to the next stage */
    STAGE_ANSWERED, /* it answered: straight to the answer */
    STAGE_WAIT,     /* the body is still coming: resume here when it has */
};

/* ---------------------------------------------------------------- helpers */

static bool origin_allowed(const char *origin)
{
    const char *list = conf->cors_origins;
    size_t n = strlen(origin);
    while (origin && *list) {
        while (*list == ' ' || *list == ',')
            list++;
        const char *end = strchr(list, ',');
        size_t len = end ? (size_t)(end - list) : strlen(list);
        while (len > 0 && list[len - 1] == ' ')
            len--;
        if (len == n && len > 0 && !strncmp(list, origin, len))
            return true;
        list += len;
        while (*list && *list != ',')
            list++;
    }
    return false;
}

/* Decodes the route's captured segments in place. The router matched the path as it came
 * (http.c keeps libmicrohttpd from decoding it), so a %2F inside an id kept it one segment;
 * here it becomes the id's "/", and "%252F" the literal "%2F". False when a segment is not
 * validly encoded. */
static bool decode_params(struct request *r)
{
    int n = 0;
    for (const char *p = r->route->pattern; *p; p++)
        n += *p == '{';
    for (int i = 0; i < n && i < ROUTER_MAX_PARAMS; i++)
        if (!uri_decode_segment((char *)r->params[i])) /* into param_buf, which r owns */
            return false;
    return true;
}

static void too_large(struct request *r)
{
    char detail[120];
    long limit = r->max_body ? r->max_body : conf->max_body;
    snprintf(detail, sizeof detail, "the body exceeds the limit of %ld bytes", limit);
    reply_problem(r, LL_E_TOO_LARGE, detail, NULL,
                  json_pack("{s:I}", "max_body_bytes", (json_int_t)limit));
}

static void answer_options(struct request *r)
{
    char methods[96];
    router_methods_list(r->allowed | HTTP_OPTIONS, methods, sizeof methods);
    reply_header(r, "Allow", "%s", methods);
    if (req_header(r, "Origin") && origin_allowed(req_header(r, "Origin"))) {
        reply_header(r, "Access-Control-Allow-Methods", "%s", methods);
        reply_header(r, "Access-Control-Allow-Headers", "%s", cors_allow_headers);
        reply_header(r, "Access-Control-Max-Age", "600");
    }
    reply_empty(r, 204);
}

static void bulk_release(struct request *r)
{
    if (!r->bulk_slot)
        return;
    r->bulk_slot = false;
    bulk_slots_release(r->auth.workspace_id);
}

static void key_turn_release(struct request *r)
{
    if (r->key_turn)
        keycap_release(auth_principal(&r->auth));
    r->key_turn = false;
}

/* ---------------------------------------------------------------- the stages */

/* Framing: what the daemon refuses to read at all (RFC 9112 6.1), and whether a body
 * follows. 400, answered on the head even without a body. */
static enum stage_result stage_framing(struct request *r)
{
    const char *te = req_header(r, "Transfer-Encoding");
    const char *cl = req_header(r, "Content-Length");
    const char *detail = NULL;
    if (req_header_count(r, "Content-Length") > 1 || req_header_count(r, "Transfer-Encoding") > 1)
        detail = "duplicate Content-Length or Transfer-Encoding header";
    else if (te && cl) /* a request smuggling attempt, or a broken proxy */
        detail = "Transfer-Encoding and Content-Length together are refused";
    else if (te && strcasecmp(te, "chunked") != 0)
        detail = "only the chunked Transfer-Encoding is supported";
    if (detail) {
        reply_problem(r, LL_E_MALFORMED, detail, NULL, NULL);
        return STAGE_ANSWERED;
    }
    r->body_present = te != NULL || (cl && strcmp(cl, "0") != 0);
    return STAGE_NEXT;
}

/* Route: method and path to a route (404, 405 with Allow, OPTIONS answered here), then
 * what the route says of the body from the headers alone: 413 by Content-Length, 415. */
static enum stage_result stage_route(struct request *r)
{
    const char *cl = req_header(r, "Content-Length"), *ct;
    int allowed = 0;
    r->route = router_match(&routes, r->path, r->method, r->params, r->param_buf,
                            sizeof r->param_buf, &allowed);
    r->allowed = allowed;
    if (!r->route && allowed && r->method == HTTP_OPTIONS) {
        answer_options(r);
        return STAGE_ANSWERED;
    }
    if (!r->route && allowed) {
        char methods[96];
        router_methods_list(r->allowed | HTTP_OPTIONS, methods, sizeof methods);
        reply_header(r, "Allow", "%s", methods);
        reply_problem(r, LL_E_METHOD, "this path does not accept this method", NULL, NULL);
        return STAGE_ANSWERED;
    }
    if (!r->route) {
        reply_problem(r, LL_E_NOT_FOUND, "no resource at this path", NULL, NULL);
        return STAGE_ANSWERED;
    }
    if (!decode_params(r)) {
        reply_problem(r, LL_E_NOT_FOUND,
                      "no resource at this path: a path segment has a % that starts no "
                      "%HH escape, or an encoded NUL byte (%00)",
                      NULL, NULL);
        return STAGE_ANSWERED;
    }
    r->max_body = r->route->flags & ROUTE_CSV ? conf->max_import : conf->max_body;
    if (cl) {
        long len;
        if (!util_parse_long(cl, 0, 0x7fffffffffffffffL, &len) || len > r->max_body) {
            too_large(r);
            return STAGE_ANSWERED;
        }
    }
    if (!r->body_present || !(r->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH)))
        return STAGE_NEXT;
    ct = req_header(r, "Content-Type");
    if (r->route->flags & ROUTE_CSV) {
        if (ct && headers_media_type_is(ct, "text/csv"))
            return STAGE_NEXT;
        reply_problem(r, LL_E_MEDIA_TYPE, "send the body as text/csv", NULL, NULL);
        return STAGE_ANSWERED;
    }
    if (ct &&
        (headers_media_type_is(ct, "application/json") ||
         (r->method == HTTP_PATCH && headers_media_type_is(ct, "application/merge-patch+json"))))
        return STAGE_NEXT;
    reply_problem(r, LL_E_MEDIA_TYPE,
                  r->method == HTTP_PATCH
                      ? "send the body as application/merge-patch+json or application/json"
                      : "send the body as application/json",
                  NULL, NULL);
    return STAGE_ANSWERED;
}

/* The X-CSRF-Token of a cookie-authenticated write must be its session's (session.c): a
 * page of another site can make the browser send the cookie, not read the token. */
static bool csrf_ok(struct request *r, const char *token, size_t n)
{
    char want[SESSION_CSRF_LEN + 1], copy[SESSION_TOKEN_LEN + 1];
    const char *got = req_header(r, "X-CSRF-Token");
    unsigned char diff = 0;
    if (!(r->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE)))
        return true;
    if (!got || strlen(got) != SESSION_CSRF_LEN || n != SESSION_TOKEN_LEN)
        return false;
    memcpy(copy, token, n);
    copy[n] = '\0';
    session_csrf(copy, want);
    for (size_t i = 0; i < SESSION_CSRF_LEN; i++) /* in constant time */
        diff |= (unsigned char)(want[i] ^ got[i]);
    return diff == 0;
}

/* Resolves the caller with a connection held just for that: an API key's hash, or a
 * session's cookie token. */
static enum ll_err resolve(struct request *r, const char *key_hash, const char *cookie, size_t n)
{
    struct db_conn *db = NULL;
    enum ll_err err = db_acquire(&db);
    if (err)
        return err;
    err = key_hash ? auth_resolve(db, key_hash, &r->auth)
                   : session_resolve(db, cookie, n, conf->session_idle_h, &r->auth);
    db_release(db);
    return err;
}

/* Auth: who calls, once per request. An Authorization header names an API key (from the
 * cache, else the database); without one, the session cookie names a person signed in to
 * the web app, whose writes must carry the session's CSRF token. Then the route's roles.
 * 401, 403. */
static enum stage_result stage_auth(struct request *r)
{
    const char *secret = NULL, *authz = req_header(r, "Authorization"), *cookie = NULL;
    char hash[65];
    size_t cookie_len = 0;
    enum ll_err err = LL_OK;
    if (r->route->flags & ROUTE_PUBLIC)
        return STAGE_NEXT;
    if (!authz)
        cookie = session_cookie(req_header(r, "Cookie"), &cookie_len);
    if (cookie) {
        err = resolve(r, NULL, cookie, cookie_len);
    } else if (!auth_parse_bearer(authz, &secret)) {
        reply_problem(r, LL_E_UNAUTHORIZED, "a valid API key or session is required", NULL, NULL);
        return STAGE_ANSWERED;
    } else if (!auth_cached(secret, hash, &r->auth)) {
        err = resolve(r, hash, NULL, 0);
    }
    if (err == LL_E_UNAUTHORIZED && cookie) {
        session_cookie_clear(r);
        reply_problem(r, LL_E_UNAUTHORIZED,
                      "the session has ended (signed out, expired or revoked); sign in again", NULL,
                      NULL);
        return STAGE_ANSWERED;
    }
    if (err == LL_E_UNAUTHORIZED) {
        reply_problem(r, LL_E_UNAUTHORIZED, "a valid API key or session is required", NULL, NULL);
        return STAGE_ANSWERED;
    }
    if (err == LL_E_UNAVAILABLE) {
        reply_problem(r, err,
                      "no database connection is free or the database is down; retry shortly", NULL,
                      NULL);
        return STAGE_ANSWERED;
    }
    if (err) {
        reply_db_error(r, err);
        return STAGE_ANSWERED;
    }
    r->authed = true;
    if (cookie && !csrf_ok(r, cookie, cookie_len)) {
        reply_problem(r, LL_E_CSRF,
                      "a write in a session needs the session's X-CSRF-Token header (from the "
                      "sign-in answer or GET /v1/session)",
                      NULL, NULL);
        return STAGE_ANSWERED;
    }
    if (!(r->auth.role & r->route->roles)) {
        reply_problem(r, LL_E_FORBIDDEN,
                      cookie ? "your role may not do this" : "this API key's role may not do this",
                      NULL, json_pack("{s:s}", "role", auth_role_name(r->auth.role)));
        return STAGE_ANSWERED;
    }
    return STAGE_NEXT;
}

/* The key's rate limit: its leases here, else a lease from the database (on a connection
 * taken for that). Answers 429 and returns false past the limit. */
static bool admit_rate(struct request *r)
{
    struct rl_verdict v;
    if (!ratelimit_local(&r->auth, &v)) {
        struct db_conn *db = NULL;
        if (db_acquire(&db) == LL_OK) {
            ratelimit_take(db, &r->auth, &v);
            db_release(db);
        } else {
            v.allowed = true; /* no connection: the request will say so itself */
            v.limited = false;
        }
    }
    if (v.limited) {
        snprintf(r->rl_policy, sizeof r->rl_policy, "%s", v.policy);
        snprintf(r->rl_state, sizeof r->rl_state, "%s", v.state);
    }
    if (v.allowed)
        return true;
    reply_header(r, "Retry-After", "%ld", v.retry_after);
    reply_problem(r, LL_E_RATE_LIMITED,
                  "this API key (or its workspace) has made more requests than its rate limit "
                  "allows; retry after Retry-After seconds",
                  NULL, NULL);
    return false;
}

/* Admission: the key's rate limit (429), then for a bulk request with a body a bulk slot
 * (503), taken before the body is read. A bulk route without a body takes no slot: it has
 * nothing to parse, and its handler refuses it. */
static enum stage_result stage_admission(struct request *r)
{
    if (r->authed && !admit_rate(r))
        return STAGE_ANSWERED;
    if (!(r->route->flags & ROUTE_BULK) || !r->body_present)
        return STAGE_NEXT;
    r->bulk_slot = bulk_slots_take(r->auth.workspace_id, conf->bulk_wait_ms);
    if (r->bulk_slot)
        return STAGE_NEXT;
    reply_problem(r, LL_E_UNAVAILABLE,
                  "no bulk slot is free (too many bulk requests at once, or the server is "
                  "stopping); retry shortly",
                  NULL, NULL);
    return STAGE_ANSWERED;
}

/* Body: waits for it (reqpath_body keeps it), then 413 when it went over the limit. */
static enum stage_result stage_body(struct request *r)
{
    if (!r->body_done)
        return STAGE_WAIT;
    if (!r->body_too_large)
        return STAGE_NEXT;
    too_large(r);
    return STAGE_ANSWERED;
}

/* Connection: a pool connection for the rest of the request, after a turn among its key's
 * shares of the pool (so a key's own flood waits behind itself, not everyone). 429, 503. */
static enum stage_result stage_connection(struct request *r)
{
    enum ll_err err;
    if (r->route->flags & ROUTE_NO_DB)
        return STAGE_NEXT;
    if (r->authed &&
        !(r->key_turn = keycap_take(auth_principal(&r->auth), conf->db_acquire_timeout_ms))) {
        reply_header(r, "Retry-After", "1");
        reply_problem(r, LL_E_RATE_LIMITED,
                      "this API key has as many requests at the database as it may; retry "
                      "shortly",
                      NULL, NULL);
        return STAGE_ANSWERED;
    }
    if ((r->route->flags & ROUTE_REPLICA) && r->method == HTTP_GET &&
        replica_acquire(&r->db, r->authed ? auth_principal(&r->auth) : NULL))
        return STAGE_NEXT;
    err = (r->route->flags & ROUTE_POINT) ? db_acquire_shared(&r->db) : db_acquire(&r->db);
    if (err == LL_OK)
        return STAGE_NEXT;
    reply_problem(r, err, "no database connection is free or the database is down; retry shortly",
                  NULL, NULL);
    return STAGE_ANSWERED;
}

/* Audit: who writes, for the audit triggers (server/audit.c). 503 when it cannot be set. */
static enum stage_result stage_audit(struct request *r)
{
    return audit_attach(r) ? STAGE_ANSWERED : STAGE_NEXT;
}

/* Idempotency: a POST with Idempotency-Key is replayed, refused (409, 422, 410), or runs
 * inside the transaction that will store its answer (server/idempotency.c). */
static enum stage_result stage_idempotency(struct request *r)
{
    if (r->method == HTTP_POST && !(r->route->flags & ROUTE_NO_IDEMPOTENCY) &&
        req_header(r, "Idempotency-Key") && idem_before(r))
        return STAGE_ANSWERED;
    return STAGE_NEXT;
}

/* Handler: the route's own work; it must answer. */
static enum stage_result stage_handler(struct request *r)
{
    r->route->handler(r);
    r->handled = true;
    if (!r->answered)
        reply_problem(r, LL_E_INTERNAL, "the handler gave no answer", NULL, NULL);
    return STAGE_NEXT;
}

/* Answer: the idempotency record is stored with the answer (or rolled back), a write is
 * told to the change feed, and what the request held is given back before its answer is
 * sent: its pool connection, its key's turn, its bulk slot (a streamed body keeps its
 * key's turn until the request ends, reqpath_end: its reader takes pool connections).
 * Runs for every request that got this far, whichever stage answered it. */
static enum stage_result stage_answer(struct request *r)
{
    idem_after(r);
    /* before the answer: the caller's next read may come the moment it has it */
    if (r->handled && r->authed && (r->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE)))
        replica_note_write(r->db, auth_principal(&r->auth));
    if (r->handled && write_hook && r->authed && r->status < 300 &&
        (r->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE)))
        write_hook(r->auth.workspace_id);
    db_release(r->db);
    r->db = NULL;
    if (!r->stream.read) /* a streamed body's reads count as the key's: reqpath_end's */
        key_turn_release(r);
    bulk_release(r);
    return STAGE_NEXT;
}

/* The request path, top to bottom. A stage that answers sends the request straight to the
 * last one, the answer. */
static const struct stage {
    const char *name;
    enum stage_result (*run)(struct request *r);
} stages[] = {
    {"framing", stage_framing},         /* 400; whether a body follows */
    {"route", stage_route},             /* 404, 405, OPTIONS; 413 by Content-Length, 415 */
    {"auth", stage_auth},               /* 401, 403 */
    {"admission", stage_admission},     /* 429 rate limit; 503 no bulk slot */
    {"body", stage_body},               /* waits for the body; 413 */
    {"connection", stage_connection},   /* 429 the key's pool share; 503 no connection */
    {"audit", stage_audit},             /* 503 */
    {"idempotency", stage_idempotency}, /* replay, 409, 410, 422 */
    {"handler", stage_handler},         /* the route's answer */
    {"answer", stage_answer},           /* store, tell, give back */
};
#define NSTAGES      ((int)(sizeof stages / sizeof stages[0]))
#define STAGE_ANSWER (NSTAGES - 1)

/* Runs the stages from r->stage on, stopping before the stage `until`. True when the
 * request has its answer; false when the path stopped before (at `until`, or waiting for
 * the body). */
static bool run(struct request *r, int until)
{
    while (r->stage < until) {
        enum stage_result res = stages[r->stage].run(r);
        if (res == STAGE_WAIT)
            return false;
        if (res == STAGE_ANSWERED && r->stage < STAGE_ANSWER) {
            log_debug("request %s answered by the %s stage", r->request_id, stages[r->stage].name);
            r->stage = STAGE_ANSWER;
            until = NSTAGES; /* an answered request always goes to the end */
        } else {
            r->stage++;
        }
    }
    return r->stage == NSTAGES;
}

/* ---------------------------------------------------------------- the path's entries */

void reqpath_start(const struct config *cfg)
{
    metrics_routes(&routes);
    conf = cfg;
    bulk_slots_init(cfg->bulk_slots);
    ratelimit_init(cfg->rate_per_s, cfg->rate_burst, cfg->ws_rate_per_s, cfg->ws_rate_burst);
    keycap_init(cfg->key_connections ? cfg->key_connections
                                     : (cfg->db_pool > 1 ? cfg->db_pool - 1 : 1));
}

void reqpath_on_write(void (*hook)(const char *workspace_id))
{
    write_hook = hook;
}

void reqpath_quiesce(void)
{
    bulk_slots_close();
}

void reqpath_stop(void)
{
    ratelimit_reset();
}

bool reqpath_begin(struct request *r, const char *method, const char *url)
{
    const char *rid;
    r->method = router_method_parse(method);
    snprintf(r->method_name, sizeof r->method_name, "%s",
             r->method == HTTP_OTHER ? "OTHER" : method);
    r->path = strdup(url);
    if (!r->path)
        return false;
    rid = req_header(r, "X-Request-Id");
    if (http_request_id_ok(rid)) {
        snprintf(r->request_id, sizeof r->request_id, "%s", rid);
    } else {
        util_request_id(r->request_id);
    }
    return true;
}

bool reqpath_head(struct request *r)
{
    /* framing alone first: a request the daemon will not read is refused at once */
    if (run(r, 1))
        return true;
    /* A request without a body goes on in reqpath_finish: answered on a later call, its
     * connection is kept alive (libmicrohttpd 0.9.75 closes it after an answer queued on
     * the first). A request with a body goes as far as it can before the body is read. */
    return r->body_present && run(r, NSTAGES);
}

bool reqpath_body(struct request *r, const char *data, size_t n)
{
    if (r->answered || r->body_too_large)
        return true; /* drained */
    if (r->body_len + n > (size_t)r->max_body) {
        r->body_too_large = true; /* sticky: keep draining, answer 413 at the end */
        bulk_release(r);
        req_body_release(r);
        return true;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        if (cap > (size_t)r->max_body + 1)
            cap = (size_t)r->max_body + 1;
        char *grown = realloc(r->body, cap);
        if (!grown)
            return false;
        r->body = grown;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return true;
}

void reqpath_finish(struct request *r)
{
    r->body_done = true;
    (void)run(r, NSTAGES); /* with the body here, no stage waits: it answers */
}

void reqpath_headers(struct request *r, void (*add)(void *ctx, const char *name, const char *value),
                     void *ctx)
{
    const char *origin = req_header(r, "Origin");
    if (r->content_type)
        add(ctx, "Content-Type", r->content_type);
    add(ctx, "X-Request-Id", r->request_id);
    if (r->rl_policy[0]) {
        add(ctx, "RateLimit-Policy", r->rl_policy);
        add(ctx, "RateLimit", r->rl_state);
    }
    /* API answers are never to be cached; the web app's files say how they may be */
    bool cache_set = false;
    for (int i = 0; i < r->nheaders; i++)
        cache_set = cache_set || !strcasecmp(r->headers[i].name, "Cache-Control");
    if (!cache_set)
        add(ctx, "Cache-Control", "no-store");
    if (origin && *conf->cors_origins && origin_allowed(origin)) {
        add(ctx, "Access-Control-Allow-Origin", origin);
        add(ctx, "Access-Control-Expose-Headers", cors_expose_headers);
        add(ctx, "Vary", "Origin");
    }
    for (int i = 0; i < r->nheaders; i++)
        add(ctx, r->headers[i].name, r->headers[i].value);
    for (const char *const(*h)[2] = r->fixed_headers; h && (*h)[0]; h++)
        add(ctx, (*h)[0], (*h)[1]);
}

void reqpath_end(struct request *r)
{
    uint64_t ns = util_now_ns() - r->start_ns;
    metrics_request(router_index(&routes, r->route), r->status, ns);
    log_access(r->method_name, r->route ? r->route->pattern : "unmatched", r->status,
               (double)ns / 1e6, r->request_id, r->authed ? r->auth.key_prefix : NULL);
    db_release(r->db); /* a request that ended before its answer */
    r->db = NULL;
    key_turn_release(r);
    bulk_release(r);
}
