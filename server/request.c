/* struct request and what handlers do with it: read its headers, query and body, and make
 * the answer (status, headers, body) that the layer below sends. No HTTP library here: the
 * headers come through the transport the request was made with (struct req_transport),
 * so a handler runs the same whichever thread or event loop serves its connection. */
#include "leadloop/request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/db.h"
#include "leadloop/uri.h"
#include "leadloop/util.h"

void req_init(struct request *r, const struct config *cfg, const struct req_transport *t,
              void *conn)
{
    r->transport = t;
    r->conn = conn;
    r->cfg = cfg;
    r->start_ns = util_now_ns();
    r->max_body = cfg->max_body;
}

bool req_arg_add(struct request *r, const char *key, const char *value)
{
    size_t klen = strlen(key), vlen = value ? strlen(value) : 0;
    struct req_arg *grown, *a;
    char *text;
    grown = realloc(r->args, (r->nargs + 1) * sizeof *grown);
    if (!grown)
        return false;
    r->args = grown;
    if (!(text = malloc(klen + 1 + (value ? vlen + 1 : 0))))
        return false;
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
    return true;
}

/* Frees a streamed body's state (an answer replaced, or the request's end). */
static void stream_drop(struct request *r)
{
    if (r->stream.free)
        r->stream.free(r->stream.arg);
    memset(&r->stream, 0, sizeof r->stream);
}

void req_fini(struct request *r)
{
    for (size_t i = 0; i < r->nargs; i++)
        free(r->args[i].key); /* the value shares its allocation */
    free(r->args);
    r->args = NULL;
    r->nargs = 0;
    free(r->body);
    r->body = NULL;
    free(r->resp_body);
    r->resp_body = NULL;
    stream_drop(r);
    free(r->path);
    r->path = NULL;
}

int req_header_count(struct request *r, const char *name)
{
    return r->transport->header_count(r->conn, name);
}

bool req_abandoned(struct request *r)
{
    return r->transport->gone(r->conn);
}

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
    return r->transport->header(r->conn, name);
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

void reply_fixed_headers(struct request *r, const char *const (*list)[2])
{
    r->fixed_headers = list;
}

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
    stream_drop(r);
    free(r->resp_body);
    r->status = status;
    r->content_type = type;
    r->resp_body = body;
    r->resp_static = NULL;
    r->resp_len = len;
    r->answered = true;
}

void reply_static(struct request *r, int status, const char *content_type, const void *body,
                  size_t len)
{
    set_body(r, status, content_type, NULL, len);
    r->resp_static = body;
}

void reply_stream(struct request *r, int status, const char *content_type,
                  long (*read)(void *arg, char *buf, size_t cap), void (*free_arg)(void *arg),
                  void *arg)
{
    if (r->answered) { /* a second answer would not be sent */
        free_arg(arg);
        return;
    }
    set_body(r, status, content_type, NULL, 0);
    r->stream.read = read;
    r->stream.free = free_arg;
    r->stream.arg = arg;
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

bool req_owned(struct request *r, const char *sql, const char *not_found)
{
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    PGresult *res;
    enum ll_err err;
    bool ok = false;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        return false;
    }
    res = db_exec(r->db, sql, 2, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
    else
        ok = true;
    PQclear(res);
    return ok;
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
