/* Who is calling: the workspace, key, role and user an API key resolves to (or, for a
 * person signed in to the web app, the session and its user), and the roles. A type of its own,
 * shared by the modules that resolve it (auth), cache it (keycache) and act on it (the request
 * path, the handlers), so none of them has to include another's functions to name it. */
#ifndef LEADLOOP_AUTH_CTX_H
#define LEADLOOP_AUTH_CTX_H
#include <stdbool.h>
#include <stddef.h>

enum role { ROLE_ADMIN = 1, ROLE_MARKETING = 2, ROLE_SALES = 4, ROLE_READONLY = 8 };
#define ROLES_ANY       (ROLE_ADMIN | ROLE_MARKETING | ROLE_SALES | ROLE_READONLY)
#define ROLES_WRITERS   (ROLE_ADMIN | ROLE_MARKETING | ROLE_SALES)
#define ROLES_MARKETING (ROLE_ADMIN | ROLE_MARKETING)
#define ROLES_SALES     (ROLE_ADMIN | ROLE_SALES)
#define ROLES_ADMIN     ROLE_ADMIN

#define AUTH_SECRET_LEN 47 /* "llk_" + 43 base64url chars (32 random bytes) */
#define AUTH_PREFIX_LEN 12

struct auth_ctx {
    char workspace_id[37];
    char key_id[37];     /* "" for a session */
    char session_id[37]; /* "" for an API key */
    char user_id[37];    /* "" when the key has no user */
    char key_prefix[AUTH_PREFIX_LEN + 1];
    int role;
    long rate_per_s, rate_burst; /* the key's own rate limit; 0: the daemon's default */
    bool can_import;             /* the key may write history (api_keys.can_import) */
};

/* Whether the caller may write history (a new lead's created_at, dated stage changes): an
 * admin key or person, or a key made for importing. */
static inline bool auth_may_import(const struct auth_ctx *a)
{
    return (a->role & ROLE_ADMIN) || a->can_import;
}

/* The caller that rate limits, pool shares and idempotency records belong to: the API
 * key, or the signed-in person (their user id, the same for all their sessions). Borrowed
 * from a. */
static inline const char *auth_principal(const struct auth_ctx *a)
{
    return a->key_id[0] ? a->key_id : a->user_id;
}

/* The key's id as a statement parameter: NULL for a session (its writes have a user and
 * no key). */
static inline const char *auth_key_or_null(const struct auth_ctx *a)
{
    return a->key_id[0] ? a->key_id : NULL;
}

#endif
