/* The one mapping from domain errors (and SQLSTATEs) to HTTP status and problem type. */
#include "leadloop/problem.h"

#include <string.h>

static const struct problem_kind kinds[LL_E_COUNT] = {
    [LL_OK] = {200, "ok", "OK"},
    [LL_E_MALFORMED] = {400, "malformed-request", "The request could not be read"},
    [LL_E_PARAM] = {400, "invalid-parameter", "A query parameter is not valid"},
    [LL_E_UNAUTHORIZED] = {401, "unauthorized", "A valid API key is required"},
    [LL_E_FORBIDDEN] = {403, "forbidden", "The API key's role does not allow this"},
    [LL_E_NOT_FOUND] = {404, "not-found", "Not found"},
    [LL_E_METHOD] = {405, "method-not-allowed", "Method not allowed"},
    [LL_E_NOT_ACCEPTABLE] = {406, "not-acceptable", "No acceptable representation"},
    [LL_E_CONFLICT] = {409, "conflict", "Conflict with the current state"},
    [LL_E_GONE] = {410, "gone", "Gone"},
    [LL_E_PRECONDITION] = {412, "precondition-failed", "Precondition failed"},
    [LL_E_TOO_LARGE] = {413, "content-too-large", "Request body too large"},
    [LL_E_MEDIA_TYPE] = {415, "unsupported-media-type", "Unsupported media type"},
    [LL_E_VALIDATION] = {422, "validation-failed", "The request body is not valid"},
    [LL_E_UNAVAILABLE] = {503, "unavailable", "Service temporarily unavailable"},
    [LL_E_INTERNAL] = {500, "internal", "Internal error"},
    [LL_E_TIMEOUT] = {408, "request-timeout", "The request did not arrive in time"},
    [LL_E_URI_TOO_LONG] = {414, "uri-too-long", "The request target is too long"},
    [LL_E_HEADERS_TOO_LARGE] = {431, "headers-too-large", "The request headers are too large"},
    [LL_E_RATE_LIMITED] = {429, "rate-limited", "Too many requests"},
    [LL_E_VERSION] = {505, "http-version-not-supported", "HTTP version not supported"},
    [LL_E_MERGED] = {308, "lead-merged", "The lead was merged into another"},
    [LL_E_CSRF] = {403, "csrf", "The session's CSRF token is missing or wrong"},
};

const struct problem_kind *problem_kind(enum ll_err err)
{
    if ((int)err < 0 || err >= LL_E_COUNT)
        err = LL_E_INTERNAL;
    return &kinds[err];
}

json_t *problem_new(enum ll_err err, const char *detail, const char *request_id, json_t *errors,
                    json_t *extra)
{
    const struct problem_kind *k = problem_kind(err);
    char type[96];
    json_t *p = json_object();
    if (!p) {
        json_decref(errors);
        json_decref(extra);
        return NULL;
    }
    strcpy(type, PROBLEM_TYPE_BASE);
    strncat(type, k->slug, sizeof type - strlen(type) - 1);
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(k->title));
    json_object_set_new(p, "status", json_integer(k->status));
    json_object_set_new(p, "detail", json_string(detail ? detail : k->title));
    if (request_id)
        json_object_set_new(p, "request_id", json_string(request_id));
    if (errors)
        json_object_set_new(p, "errors", errors);
    if (extra) {
        json_object_update(p, extra);
        json_decref(extra);
    }
    return p;
}

enum ll_err problem_from_sqlstate(const char *s)
{
    if (!s || strlen(s) != 5)
        return LL_E_UNAVAILABLE; /* no SQLSTATE: the connection is gone */
    if (!strcmp(s, "23505"))     /* unique_violation */
        return LL_E_CONFLICT;
    if (!strcmp(s, "23503")) /* foreign_key_violation: a referenced id does not exist */
        return LL_E_VALIDATION;
    if (!strncmp(s, "23", 2) || !strncmp(s, "22", 2)) /* integrity, data exception */
        return LL_E_VALIDATION;
    /* serialization failure, deadlock: db.c runs the statement or transaction again (up to
     * 3 times, db_exec, db_tx_run); one that still fails is a 409 the client may retry */
    if (!strcmp(s, "40001") || !strcmp(s, "40P01"))
        return LL_E_CONFLICT;
    if (!strcmp(s, "55P03")) /* lock_not_available */
        return LL_E_CONFLICT;
    if (!strcmp(s, "57014") || !strncmp(s, "08", 2) || !strncmp(s, "53", 2) ||
        !strcmp(s, "57P01") || !strcmp(s, "57P02") || !strcmp(s, "57P03"))
        return LL_E_UNAVAILABLE; /* timeout, connection, resources, shutdown */
    return LL_E_INTERNAL;
}
