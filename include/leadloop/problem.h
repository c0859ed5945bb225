/* Domain errors and their one mapping to HTTP: status, RFC 9457 problem type and title. */
#ifndef LEADLOOP_PROBLEM_H
#define LEADLOOP_PROBLEM_H
#include <jansson.h>
#include <stddef.h>

enum ll_err {
    LL_OK = 0,
    LL_E_MALFORMED,         /* 400 the request itself cannot be read */
    LL_E_PARAM,             /* 400 a query parameter is unknown or bad */
    LL_E_UNAUTHORIZED,      /* 401 */
    LL_E_FORBIDDEN,         /* 403 */
    LL_E_NOT_FOUND,         /* 404 */
    LL_E_METHOD,            /* 405 */
    LL_E_NOT_ACCEPTABLE,    /* 406 */
    LL_E_CONFLICT,          /* 409 */
    LL_E_GONE,              /* 410 */
    LL_E_PRECONDITION,      /* 412 */
    LL_E_TOO_LARGE,         /* 413 */
    LL_E_MEDIA_TYPE,        /* 415 */
    LL_E_VALIDATION,        /* 422 */
    LL_E_UNAVAILABLE,       /* 503, with Retry-After */
    LL_E_INTERNAL,          /* 500 */
    LL_E_TIMEOUT,           /* 408 the request did not arrive in time */
    LL_E_URI_TOO_LONG,      /* 414 */
    LL_E_HEADERS_TOO_LARGE, /* 431 */
    LL_E_VERSION,           /* 505 */
    LL_E_RATE_LIMITED,      /* 429, with Retry-After */
    LL_E_MERGED,            /* 308 not an error: the lead was merged; Location, merged_into */
    LL_E_CSRF,              /* 403 a write in a session without its CSRF token */
    LL_E_COUNT
};

struct problem_kind {
    int status;
    const char *slug;  /* last part of the type URI */
    const char *title; /* fixed per type, as RFC 9457 asks */
};

/* Borrowed, static. */
const struct problem_kind *problem_kind(enum ll_err err);

#define PROBLEM_TYPE_BASE "https://leadloop.dev/problems/"

/* Builds the problem document. detail and request_id are copied; errors (an array of
 * {field, message}) and extra (members merged in) are stolen, either may be NULL.
 * Returns a new reference. */
json_t *problem_new(enum ll_err err, const char *detail, const char *request_id, json_t *errors,
                    json_t *extra);

/* Maps a PostgreSQL SQLSTATE (5 chars, may be NULL when the connection is gone). */
enum ll_err problem_from_sqlstate(const char *sqlstate);

#endif
