/* The HTTP layer: libmicrohttpd in thread-per-connection mode (libpq blocks, and this is
 * the one mode where blocking in a callback is allowed). Per-request state lives from
 * the first access callback to the request-completed callback, which also runs on abort.
 * The chain is: framing checks -> route -> body (limited) -> auth -> handler -> answer. */
#include "leadloop/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/resource.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "leadloop/audit.h"
#include "leadloop/auth.h"
#include "leadloop/db.h"
#include "leadloop/gate.h"
#include "leadloop/headers.h"
#include "leadloop/idempotency.h"
#include "leadloop/keycap.h"
#include "leadloop/ratelimit.h"
#include "leadloop/log.h"
#include "leadloop/metrics.h"
#include "leadloop/uri.h"
#include "leadloop/util.h"

/* Called after every successful write request (http_on_write). */
static void (*write_hook)(const char *workspace_id);

static struct MHD_Daemon *daemon_handle;
static const struct config *conf;
static atomic_long inflight;
static atomic_bool abandon_all; /* http_stop: handlers still running must give up */
static atomic_bool stopping;    /* http_stop: kept-alive clients are told to go */

/* Bulk slots: a bulk request (ROUTE_BULK) takes one before its body is read, so that the
 * bodies waiting for their turn stay in the kernel's socket buffers, not in our heap, and
 * the batches being parsed at once (about 5 MB of heap for 1,000 leads) are as many as there
 * are slots. Bulk work is PostgreSQL's: more batches at once than cores do no more. */
#define BULK_HOLDERS 256
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* set up by bulk_init */
    long slots, free, waiting;
    long per_workspace; /* slots one workspace may hold at once: all but one */
    struct {
        char workspace_id[37];
        long held;
    } holders[BULK_HOLDERS]; /* workspaces holding slots now (held > 0) */
    bool closing;            /* http_stop: no more slots, waiters answered at once */
} bulk = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void bulk_init(long slots)
{
    pthread_condattr_t attr;
    if (slots == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        slots = cores > 2 ? cores : 2;
    }
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&bulk.cv, &attr);
    pthread_condattr_destroy(&attr);
    bulk.slots = bulk.free = slots;
    bulk.per_workspace = slots > 1 ? slots - 1 : 1;
    memset(bulk.holders, 0, sizeof bulk.holders);
    bulk.waiting = 0;
    bulk.closing = false;
}

/* The holder entry of a workspace (a free one when absent and want_new); bulk.mu held. */
static long *bulk_held(const char *workspace_id, bool want_new)
{
    int free_i = -1;
    for (int i = 0; i < BULK_HOLDERS; i++) {
        if (bulk.holders[i].held > 0 && !strcmp(bulk.holders[i].workspace_id, workspace_id))
            return &bulk.holders[i].held;
        if (free_i < 0 && bulk.holders[i].held == 0)
            free_i = i;
    }
    if (!want_new || free_i < 0)
        return NULL;
    snprintf(bulk.holders[free_i].workspace_id, sizeof bulk.holders[0].workspace_id, "%s",
             workspace_id);
    return &bulk.holders[free_i].held;
}

/* Takes a slot for a workspace, waiting up to wait_ms. A workspace never holds them all:
 * one tenant's slow or many bulk requests leave a slot for the others. */
static bool bulk_take(const char *workspace_id, long wait_ms)
{
    struct timespec deadline;
    long *held = NULL;
    bool got;
    util_deadline(&deadline, wait_ms);
    pthread_mutex_lock(&bulk.mu);
    bulk.waiting++;
    for (;;) {
        long *h = bulk_held(workspace_id, false);
        if (bulk.closing || (bulk.free > 0 && (!h || *h < bulk.per_workspace)))
            break;
        if (pthread_cond_timedwait(&bulk.cv, &bulk.mu, &deadline) == ETIMEDOUT)
            break;
    }
    bulk.waiting--;
    got = false;
    if (bulk.free > 0 && !bulk.closing) {
        held = bulk_held(workspace_id, true);
        if (held && *held < bulk.per_workspace) {
            (*held)++;
            bulk.free--;
            got = true;
        }
    }
    pthread_mutex_unlock(&bulk.mu);
    return got;
}

static void bulk_release(struct request *r)
{
    long *held;
    if (!r->bulk_slot)
        return;
    r->bulk_slot = false;
    pthread_mutex_lock(&bulk.mu);
    bulk.free++;
    held = bulk_held(r->auth.workspace_id, false);
    if (held)
        (*held)--;
    /* every waiter: the one a slot fits may be of another workspace than the first */
    pthread_cond_broadcast(&bulk.cv);
    pthread_mutex_unlock(&bulk.mu);
}

void http_bulk_stats(long *slots, long *in_use, long *waiting)
{
    pthread_mutex_lock(&bulk.mu);
    *slots = bulk.slots;
    *in_use = bulk.slots - bulk.free;
    *waiting = bulk.waiting;
    pthread_mutex_unlock(&bulk.mu);
}

static void bulk_close(void)
{
    pthread_mutex_lock(&bulk.mu);
    bulk.closing = true;
    pthread_cond_broadcast(&bulk.cv);
    pthread_mutex_unlock(&bulk.mu);
}

static const char cors_allow_headers[] =
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-Id";
static const char cors_expose_headers[] =
    "Content-Disposition, ETag, Idempotent-Replayed, Link, Location, RateLimit, "
    "RateLimit-Policy, Retry-After, X-Request-Id";

bool http_request_id_ok(const char *s)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= 128 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return n > 0;
}

const char *req_header(struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_query(struct request *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nargs; i++)
        if (r->args[i].key_len == n && !memcmp(r->args[i].key, name, n))
            return r->args[i].value;
    return NULL;
}

bool req_query_at(const struct request *r, size_t i, const char **key, const char **value)
{
    if (i >= r->nargs)
        return false;
    *key = r->args[i].key;
    *value = r->args[i].value;
    return true;
}

/* ---------------------------------------------------------------- answers */

void reply_header(struct request *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    if (r->nheaders >= REQ_MAX_HEADERS)
        return;
    snprintf(r->headers[r->nheaders].name, sizeof r->headers[0].name, "%s", name);
    va_start(ap, fmt);
    int n = vsnprintf(r->headers[r->nheaders].value, sizeof r->headers[0].value, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof r->headers[0].value)
        return; /* a truncated header would lie; drop it */
    r->nheaders++;
}

static void set_body(struct request *r, int status, const char *type, char *body, size_t len)
{
    free(r->resp_body);
    r->status = status;
    r->content_type = type;
    r->resp_body = body;
    r->resp_len = len;
    r->answered = true;
}

void reply_json(struct request *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        return;
    }
    set_body(r, status, "application/json", text, strlen(text));
}

void reply_raw(struct request *r, int status, const char *type, const char *body, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        return;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    set_body(r, status, type, copy, len);
}

void reply_owned(struct request *r, int status, const char *content_type, char *body, size_t len)
{
    if (!body) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        return;
    }
    set_body(r, status, content_type, body, len);
}

void reply_empty(struct request *r, int status)
{
    set_body(r, status, NULL, NULL, 0);
}

void reply_problem(struct request *r, enum ll_err err, const char *detail, json_t *errors,
                   json_t *extra)
{
    const struct problem_kind *k = problem_kind(err);
    json_t *p = problem_new(err, detail, r->request_id, errors, extra);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (err == LL_E_UNAUTHORIZED)
        reply_header(r, "WWW-Authenticate", "Bearer realm=\"leadloop\"");
    if (err == LL_E_UNAVAILABLE)
        reply_header(r, "Retry-After", "1");
    if (!text) { /* out of memory: a static body still tells the truth */
        static const char oom[] = "{\"type\":\"" PROBLEM_TYPE_BASE "internal\",\"title\":"
                                  "\"Internal error\",\"status\":500}";
        text = strdup(oom);
        k = problem_kind(LL_E_INTERNAL);
    }
    set_body(r, k->status, "application/problem+json", text, text ? strlen(text) : 0);
}

void reply_db_error(struct request *r, enum ll_err err)
{
    switch (err) {
    case LL_E_UNAVAILABLE:
        reply_problem(r, err, "the database is unavailable or too slow; retry shortly", NULL, NULL);
        break;
    case LL_E_CONFLICT:
        reply_problem(r, err, "the request conflicts with a concurrent change; retry", NULL, NULL);
        break;
    case LL_E_VALIDATION:
        reply_problem(r, err, "a value was refused by the database", NULL, NULL);
        break;
    default:
        reply_problem(r, LL_E_INTERNAL,
                      "an internal error occurred; the request id helps us find it", NULL, NULL);
    }
}

/* ---------------------------------------------------------------- request helpers */

bool req_query_allowed(struct request *r, const char *const *allowed)
{
    json_t *errors = json_array();
    for (size_t i = 0; i < r->nargs && json_array_size(errors) < 20; i++) {
        const struct req_arg *q = &r->args[i];
        bool known = false;
        /* Decoded names and values are bytes; refuse what is not UTF-8 (or holds a NUL,
         * from %00) here, once, rather than in every handler (and jansson cannot name such
         * a field anyway). */
        if (!util_utf8_valid(q->key, q->key_len)) {
            json_array_append_new(errors,
                                  json_pack("{s:s, s:s}", "field", "(not UTF-8)", "message",
                                            "query parameter names must be UTF-8 without NUL"));
            continue;
        }
        for (const char *const *a = allowed; a && *a && !known; a++)
            known = !strcmp(q->key, *a);
        if (!known)
            json_array_append_new(errors, json_pack("{s:s, s:s}", "field", q->key, "message",
                                                    "is not a known query parameter"));
        else if (q->value && !util_utf8_valid(q->value, q->value_len))
            json_array_append_new(errors, json_pack("{s:s, s:s}", "field", q->key, "message",
                                                    "must be UTF-8 text without NUL bytes"));
    }
    if (json_array_size(errors) == 0) {
        json_decref(errors);
        return true;
    }
    reply_problem(r, LL_E_PARAM, "the request has unknown query parameters", errors, NULL);
    return false;
}

bool reply_bad_param(struct request *r, const char *name, const char *message)
{
    char detail[300];
    snprintf(detail, sizeof detail, "query parameter %s %s", name, message);
    reply_problem(r, LL_E_PARAM, detail,
                  json_pack("[{s:s, s:s}]", "field", name, "message", message), NULL);
    return false;
}

void reply_bad_field(struct request *r, const char *field, const char *message)
{
    char detail[300];
    snprintf(detail, sizeof detail, "%s %s", field, message);
    reply_problem(r, LL_E_VALIDATION, detail,
                  json_pack("[{s:s, s:s}]", "field", field, "message", message), NULL);
}

void req_body_release(struct request *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
}

json_t *req_json_object(struct request *r)
{
    json_error_t e;
    json_t *obj;
    char detail[300];
    if (!r->body_present || r->body_len == 0) {
        reply_problem(r, LL_E_MALFORMED, "a JSON object body is required", NULL, NULL);
        return NULL;
    }
    obj = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!obj) {
        snprintf(detail, sizeof detail, "the body is not valid JSON: %s (line %d, column %d)",
                 e.text, e.line, e.column);
        reply_problem(r, LL_E_MALFORMED, detail, NULL, NULL);
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        reply_problem(r, LL_E_MALFORMED, "the body must be a JSON object", NULL, NULL);
        return NULL;
    }
    return obj;
}

bool req_if_match(struct request *r, long version)
{
    const char *h = req_header(r, "If-Match");
    char want[32];
    if (!h || headers_if_match_lists(h, version))
        return true;
    snprintf(want, sizeof want, "\"%ld\"", version);
    reply_problem(r, LL_E_PRECONDITION,
                  "If-Match does not match the current version; fetch it again and retry", NULL,
                  json_pack("{s:s}", "current_etag", want));
    return false;
}

int req_if_match_version(struct request *r, long *version)
{
    return headers_if_match_version(req_header(r, "If-Match"), version);
}

const char *req_if_match_param(struct request *r, char buf[24])
{
    long want = 0;
    int im = req_if_match_version(r, &want);
    if (im == 0)
        return NULL;
    snprintf(buf, 24, "%ld", im > 0 ? want : 0L);
    return buf;
}

void reply_missing_or_stale(struct request *r, const char *sql_version, const char *not_found)
{
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    PGresult *res = db_exec(r->db, sql_version, 2, vals);
    enum ll_err err = db_check(r->db, res);
    if (err)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
    else if (req_if_match(r, atol(PQgetvalue(res, 0, 0))))
        reply_problem(r, LL_E_CONFLICT, "the resource changed meanwhile; retry", NULL, NULL);
    PQclear(res);
}

bool like_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s; s++) {
        if (o + 3 > cap)
            return false;
        if (*s == '%' || *s == '_' || *s == '\\')
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
    return true;
}

PGresult *req_fetch_by_id(struct request *r, const char *sql, const char *not_found)
{
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return NULL;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        return NULL;
    }
    res = db_exec(r->db, sql, 2, vals);
    err = db_check(r->db, res);
    if (err)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
    else
        return res;
    PQclear(res);
    return NULL;
}

/* ---------------------------------------------------------------- the chain */

struct header_scan {
    int content_length;
    int transfer_encoding;
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct header_scan *hs = cls;
    (void)kind;
    (void)value;
    if (!strcasecmp(key, "Content-Length"))
        hs->content_length++;
    else if (!strcasecmp(key, "Transfer-Encoding"))
        hs->transfer_encoding++;
    return MHD_YES;
}

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
 * (keep_escapes), so a %2F inside an id kept it one segment; here it becomes the id's "/",
 * and "%252F" the literal "%2F". False when a segment is not validly encoded. */
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

/* Decides, from the request line and headers alone, what can be decided. */
static void inspect_headers(struct request *r)
{
    struct header_scan hs = {0, 0};
    const char *te, *cl, *ct;
    int allowed = 0;

    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_header, &hs);
    te = req_header(r, "Transfer-Encoding");
    cl = req_header(r, "Content-Length");
    if (hs.content_length > 1 || hs.transfer_encoding > 1) {
        r->early_err = LL_E_MALFORMED;
        r->early_detail = "duplicate Content-Length or Transfer-Encoding header";
        return;
    }
    if (te && cl) { /* RFC 9112 6.1: a request smuggling attempt, or a broken proxy */
        r->early_err = LL_E_MALFORMED;
        r->early_detail = "Transfer-Encoding and Content-Length together are refused";
        return;
    }
    if (te && strcasecmp(te, "chunked") != 0) {
        r->early_err = LL_E_MALFORMED;
        r->early_detail = "only the chunked Transfer-Encoding is supported";
        return;
    }
    r->body_present = te != NULL || (cl && strcmp(cl, "0") != 0);
    r->route =
        router_match(r->path, r->method, r->params, r->param_buf, sizeof r->param_buf, &allowed);
    r->allowed = allowed;
    if (!r->route) {
        if (allowed && r->method == HTTP_OPTIONS)
            return;
        r->early_err = allowed ? LL_E_METHOD : LL_E_NOT_FOUND;
        r->early_detail =
            allowed ? "this path does not accept this method" : "no resource at this path";
        return;
    }
    if (!decode_params(r)) {
        r->early_err = LL_E_NOT_FOUND;
        r->early_detail = "no resource at this path: a path segment has a % that starts no "
                          "%HH escape, or an encoded NUL byte (%00)";
        return;
    }
    r->max_body = r->route->flags & ROUTE_CSV ? conf->max_import : conf->max_body;
    if (cl) {
        long len;
        if (!util_parse_long(cl, 0, 0x7fffffffffffffffL, &len) || len > r->max_body) {
            r->early_err = LL_E_TOO_LARGE;
            return;
        }
    }
    if (r->body_present && (r->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH))) {
        ct = req_header(r, "Content-Type");
        if (r->route->flags & ROUTE_CSV) {
            if (!ct || !headers_media_type_is(ct, "text/csv")) {
                r->early_err = LL_E_MEDIA_TYPE;
                r->early_detail = "send the body as text/csv";
            }
            return;
        }
        if (!ct || !(headers_media_type_is(ct, "application/json") ||
                     (r->method == HTTP_PATCH &&
                      headers_media_type_is(ct, "application/merge-patch+json")))) {
            r->early_err = LL_E_MEDIA_TYPE;
            r->early_detail =
                r->method == HTTP_PATCH
                    ? "send the body as application/merge-patch+json or application/json"
                    : "send the body as application/json";
        }
    }
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

static bool admit_key(struct request *r);

/* The key's rate limit: its leases here, else a lease from the database (on the request's
 * pool connection, or one taken for that). Answers 429 and returns false past the limit. */
static bool admit_rate(struct request *r)
{
    struct rl_verdict v;
    if (r->rated || !r->authed)
        return true;
    r->rated = true;
    if (!ratelimit_local(&r->auth, &v)) {
        struct db_conn *db = r->db;
        if (db || db_acquire(&db) == LL_OK) {
            ratelimit_take(db, &r->auth, &v);
            if (db != r->db)
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

static void key_turn_release(struct request *r)
{
    if (r->key_turn)
        keycap_release(r->auth.key_id);
    r->key_turn = false;
}

static void dispatch(struct request *r)
{
    enum ll_err err;

    if (r->body_too_large || r->early_err == LL_E_TOO_LARGE) {
        too_large(r);
        return;
    }
    if (r->early_err) {
        if (r->early_err == LL_E_METHOD) {
            char methods[96];
            router_methods_list(r->allowed | HTTP_OPTIONS, methods, sizeof methods);
            reply_header(r, "Allow", "%s", methods);
        }
        reply_problem(r, r->early_err, r->early_detail, NULL, NULL);
        return;
    }
    if (!r->route) { /* OPTIONS on a known path */
        answer_options(r);
        return;
    }
    if (!(r->route->flags & ROUTE_PUBLIC) && !r->authed && !admit_key(r))
        return;
    if (!admit_rate(r))
        return;
    if (!(r->route->flags & ROUTE_NO_DB) && !r->db) {
        /* a key's share of the pool first: its own flood waits behind it, not everyone */
        if (r->authed &&
            !(r->key_turn = keycap_take(r->auth.key_id, conf->db_acquire_timeout_ms))) {
            reply_header(r, "Retry-After", "1");
            reply_problem(r, LL_E_RATE_LIMITED,
                          "this API key has as many requests at the database as it may; retry "
                          "shortly",
                          NULL, NULL);
            return;
        }
        err = db_acquire(&r->db);
        if (err) {
            reply_problem(r, err,
                          "no database connection is free or the database is down; retry shortly",
                          NULL, NULL);
            goto out;
        }
    }
    if (audit_attach(r)) /* audit: who writes, for the audit triggers (server/audit.c) */
        goto out;
    if (r->method == HTTP_POST && !(r->route->flags & ROUTE_NO_IDEMPOTENCY) &&
        req_header(r, "Idempotency-Key") && idem_before(r))
        goto out;
    r->route->handler(r);
    if (!r->answered)
        reply_problem(r, LL_E_INTERNAL, "the handler gave no answer", NULL, NULL);
    idem_after(r);
    if (write_hook && r->authed && r->status < 300 &&
        (r->method & (HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE)))
        write_hook(r->auth.workspace_id);
out:
    db_release(r->db);
    r->db = NULL;
    key_turn_release(r);
}

static enum MHD_Result queue(struct request *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    const char *origin = req_header(r, "Origin");

    if (r->resp_body)
        resp = MHD_create_response_from_buffer_with_free_callback(r->resp_len, r->resp_body, free);
    else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    r->resp_body = NULL; /* owned by the response now */
    if (r->content_type)
        MHD_add_response_header(resp, "Content-Type", r->content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    if (r->rl_policy[0]) {
        MHD_add_response_header(resp, "RateLimit-Policy", r->rl_policy);
        MHD_add_response_header(resp, "RateLimit", r->rl_state);
    }
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (origin && *conf->cors_origins && origin_allowed(origin)) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", cors_expose_headers);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    for (int i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    if (atomic_load(&stopping) && !MHD_get_response_header(resp, "Connection"))
        /* a kept-alive client's next request goes elsewhere */
        MHD_add_response_header(resp, "Connection", "close");
    ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    return ret;
}

struct collect {
    struct request *r;
    bool oom;
};

/* Copies one query argument into r->args, decoded; stops when out of memory. */
static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct collect *co = cls;
    struct request *r = co->r;
    size_t klen = strlen(key), vlen = value ? strlen(value) : 0;
    struct req_arg *grown, *a;
    char *text;
    (void)kind;
    grown = realloc(r->args, (r->nargs + 1) * sizeof *grown);
    if (grown)
        r->args = grown;
    if (!grown || !(text = malloc(klen + 1 + (value ? vlen + 1 : 0)))) {
        co->oom = true;
        return MHD_NO;
    }
    a = &r->args[r->nargs++];
    memcpy(text, key, klen + 1);
    a->key = text;
    a->key_len = uri_decode(a->key, NULL); /* lenient, as libmicrohttpd's own decoder was */
    a->value = NULL;
    a->value_len = 0;
    if (value) {
        a->value = text + klen + 1;
        memcpy(a->value, value, vlen + 1);
        a->value_len = uri_decode(a->value, NULL);
    }
    return MHD_YES;
}

static void args_free(struct request *r)
{
    for (size_t i = 0; i < r->nargs; i++)
        free(r->args[i].key); /* the value shares its allocation */
    free(r->args);
    r->args = NULL;
    r->nargs = 0;
}

static struct request *request_new(struct MHD_Connection *c, const char *url, const char *method)
{
    struct request *r = calloc(1, sizeof *r);
    struct collect co = {r, false};
    const char *rid;
    if (!r)
        return NULL;
    r->conn = c;
    r->cfg = conf;
    r->start_ns = util_now_ns();
    r->max_body = conf->max_body;
    r->method = router_method_parse(method);
    snprintf(r->method_name, sizeof r->method_name, "%s",
             r->method == HTTP_OTHER ? "OTHER" : method);
    r->path = strdup(url);
    if (r->path)
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &co);
    if (!r->path || co.oom) {
        args_free(r);
        free(r->path);
        free(r);
        return NULL;
    }
    rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (http_request_id_ok(rid)) {
        snprintf(r->request_id, sizeof r->request_id, "%s", rid);
    } else {
        unsigned char raw[16];
        if (!util_random(raw, sizeof raw))
            memset(raw, 0, sizeof raw);
        util_hex(raw, sizeof raw, r->request_id);
    }
    atomic_fetch_add(&inflight, 1);
    return r;
}

/* Resolves the key (cache first, else with a pool connection held just for that) and
 * checks the route's roles. Answers and returns false when refused. */
static bool admit_key(struct request *r)
{
    struct db_conn *db = NULL;
    const char *secret = NULL;
    enum ll_err err = LL_OK;
    if (!auth_parse_bearer(req_header(r, "Authorization"), &secret)) {
        reply_problem(r, LL_E_UNAUTHORIZED, "a valid API key is required", NULL, NULL);
        return false;
    }
    if (!auth_cached(secret, &r->auth)) {
        err = db_acquire(&db);
        if (err) {
            reply_problem(r, err,
                          "no database connection is free or the database is down; retry shortly",
                          NULL, NULL);
            return false;
        }
        err = auth_resolve(db, secret, &r->auth);
        db_release(db);
    }
    if (err == LL_E_UNAUTHORIZED) {
        reply_problem(r, LL_E_UNAUTHORIZED, "a valid API key is required", NULL, NULL);
        return false;
    }
    if (err) {
        reply_db_error(r, err);
        return false;
    }
    r->authed = true;
    if (!(r->auth.role & r->route->roles)) {
        reply_problem(r, LL_E_FORBIDDEN, "this API key's role may not do this", NULL,
                      json_pack("{s:s}", "role", auth_role_name(r->auth.role)));
        return false;
    }
    return true;
}

/* Admission, from the request line and headers alone, before a byte of the body is read:
 * framing, route, size, media type, key and role, and a bulk slot. Returns true when it
 * answered; a request with a body is then answered at once and its connection closed, so
 * a refused upload is never read. A request without a body is answered on a later call
 * (which keeps the connection alive in libmicrohttpd 0.9.75): nothing is saved by hurrying. */
static bool admit(struct request *r)
{
    bool framing = r->early_err == LL_E_TOO_LARGE || r->early_err == LL_E_MALFORMED;
    if (!framing && !r->body_present)
        return false;
    if (framing || r->early_err || !r->route)
        dispatch(r);
    else if (!(r->route->flags & ROUTE_PUBLIC) && (!admit_key(r) || !admit_rate(r)))
        ;
    else if ((r->route->flags & ROUTE_BULK) &&
             !(r->bulk_slot = bulk_take(r->auth.workspace_id, conf->bulk_wait_ms)))
        reply_problem(r, LL_E_UNAVAILABLE,
                      "no bulk slot is free (too many bulk requests at once, or the server is "
                      "stopping); retry shortly",
                      NULL, NULL);
    if (!r->answered)
        return false;
    reply_header(r, "Connection", "close");
    return true;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *data_size, void **con_cls)
{
    struct request *r = *con_cls;
    (void)cls;
    (void)version;
    if (!r) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r = request_new(c, url, method);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->gc = ci ? ci->socket_context : NULL;
        gate_conn_phase(r->gc, GATE_BUSY);
        inspect_headers(r);
        if (admit(r))
            return queue(r);
        if (r->body_present) /* the client's clock runs while it sends the body */
            gate_conn_phase(r->gc, GATE_BODY);
        return MHD_YES;
    }
    if (*data_size) {
        size_t n = *data_size;
        *data_size = 0;
        gate_conn_body(r->gc, n);
        if (r->answered || r->early_err || r->body_too_large)
            return MHD_YES; /* drained */
        if (r->body_len + n > (size_t)r->max_body) {
            r->body_too_large = true; /* sticky: keep draining, answer 413 at the end */
            bulk_release(r);
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
            return MHD_YES;
        }
        if (r->body_len + n + 1 > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 4096;
            while (cap < r->body_len + n + 1)
                cap *= 2;
            if (cap > (size_t)r->max_body + 1)
                cap = (size_t)r->max_body + 1;
            char *grown = realloc(r->body, cap);
            if (!grown)
                return MHD_NO;
            r->body = grown;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, data, n);
        r->body_len += n;
        r->body[r->body_len] = '\0';
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    gate_conn_phase(r->gc, GATE_BUSY);
    dispatch(r);
    bulk_release(r); /* not held while the answer is sent */
    return queue(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *r = *con_cls;
    uint64_t ns;
    (void)cls;
    (void)c;
    (void)toe;
    if (!r)
        return;
    ns = util_now_ns() - r->start_ns;
    metrics_request(router_index(r->route), r->status, ns);
    log_access(r->method_name, r->route ? r->route->pattern : "unmatched", r->status,
               (double)ns / 1e6, r->request_id, r->authed ? r->auth.key_prefix : NULL);
    db_release(r->db);
    key_turn_release(r);
    bulk_release(r); /* a request that ended before its answer */
    gate_conn_phase(r->gc, GATE_IDLE);
    free(r->body);
    free(r->resp_body);
    free(r->path);
    args_free(r);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&inflight, 1);
}

/* libmicrohttpd's decoder of the request target: none. Its own would turn %2F into "/"
 * before the router sees the path, and an external id holding "/" could not be named. The
 * path is routed as sent and its captured segments decoded after (decode_params); query
 * arguments, whose '+' libmicrohttpd turns into a space before calling this, are decoded
 * when the request is made (collect_arg). */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    if (gate_intercept(msg))
        return; /* answered as problem+json, and logged */
    log_warn("libmicrohttpd: %s", msg);
}

/* A connection opens or closes (libmicrohttpd's thread); its watch entry lives as long. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? gate_conn_open(ci->connect_fd) : NULL;
    } else {
        gate_conn_close(*socket_context);
        *socket_context = NULL;
    }
}

/* A request line has arrived, on the connection's own thread: its head's clock starts,
 * and libmicrohttpd's error pages on this thread from now on are ours to answer. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    (void)cls;
    (void)uri;
    if (ci && ci->socket_context) {
        gate_conn_bind_thread(ci->socket_context);
        gate_conn_phase(ci->socket_context, GATE_HEAD);
    }
    return NULL; /* the request is made on the first access call */
}

/* Connections beyond 1,024 (RLIMIT_NOFILE's usual soft limit) need descriptors. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("cannot raise the open-file limit: %s", strerror(errno));
    }
}

void http_on_write(void (*hook)(const char *workspace_id))
{
    write_hook = hook;
}

bool http_start(const struct config *cfg)
{
    /* No listening socket of its own: the gate accepts, and hands checked connections over */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;

    conf = cfg;
    bulk_init(cfg->bulk_slots);
    ratelimit_init(cfg->rate_per_s, cfg->rate_burst, cfg->ws_rate_per_s, cfg->ws_rate_burst);
    keycap_init(cfg->key_connections ? cfg->key_connections
                                     : (cfg->db_pool > 1 ? cfg->db_pool - 1 : 1));
    raise_fd_limit();
    if (!gate_listen(cfg))
        return false;
    daemon_handle = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        /* the gate keeps to max_connections; the slack covers connections it has made
         * close to make room, until libmicrohttpd has closed them */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)gate_mhd_limit(cfg),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_STRICT_FOR_CLIENT,
        (int)1, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_request_line, NULL,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024), MHD_OPTION_UNESCAPE_CALLBACK,
        keep_escapes, NULL, MHD_OPTION_END);
    if (!daemon_handle || !gate_start(daemon_handle)) {
        log_error("cannot start the HTTP daemon on %s", cfg->listen);
        if (daemon_handle)
            MHD_stop_daemon(daemon_handle);
        daemon_handle = NULL;
        gate_stop();
        return false;
    }
    log_info("listening on http://%s", cfg->listen);
    return true;
}

static void wait_inflight(uint64_t until)
{
    while (atomic_load(&inflight) > 0 && util_now_ns() < until) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void http_stop(long deadline_s)
{
    uint64_t start, total, margin;
    if (!daemon_handle)
        return;
    atomic_store(&stopping, true); /* answers from now on close their connections */
    bulk_close();
    gate_stop(); /* no new connections; those in flight keep going */
    start = util_now_ns();
    total = (uint64_t)deadline_s * 1000000000u;
    /* what is still running a second before the deadline (a quarter of it, when short) is
     * stopped: its queries cancelled, its handler told to give up (req_abandoned) */
    margin = total / 4 < 1000000000u ? total / 4 : 1000000000u;
    wait_inflight(start + total - margin);
    if (atomic_load(&inflight) > 0) {
        log_warn("shutdown: %ld requests still in flight near the deadline; cancelling their "
                 "queries",
                 atomic_load(&inflight));
        atomic_store(&abandon_all, true);
        db_cancel_all();
        wait_inflight(start + total - margin / 4);
    }
    MHD_stop_daemon(daemon_handle);
    daemon_handle = NULL;
    ratelimit_reset();
}

bool req_abandoned(struct request *r)
{
    return atomic_load(&abandon_all) || gate_conn_gone(r->gc);
}
