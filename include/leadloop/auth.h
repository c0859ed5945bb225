/* API keys: generation, hashing and resolution of `Authorization: Bearer` to a
 * workspace, role and user. Only the SHA-256 of a key is ever stored. */
#ifndef LEADLOOP_AUTH_H
#define LEADLOOP_AUTH_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "leadloop/db.h"
#include "leadloop/problem.h"

struct db_conn;

#include "leadloop/auth_ctx.h"

/* Parses an Authorization header value; on success *secret points into header. */
bool auth_parse_bearer(const char *header, const char **secret) __attribute__((warn_unused_result));

/* Hashes the key into hash (hex), and looks it up in the cache, without the database:
 * true with *out filled when the cache holds it. */
bool auth_cached(const char *secret, char hash[65], struct auth_ctx *out)
    __attribute__((warn_unused_result));

/* Looks the key up in the database by the hash auth_cached made (after it said no, so a
 * key is hashed and looked up in the cache once), and caches it: LL_OK, LL_E_UNAUTHORIZED
 * (unknown or revoked) or a database error. */
enum ll_err auth_resolve(struct db_conn *db, const char hash[65], struct auth_ctx *out)
    __attribute__((warn_unused_result));

/* A new random key, its visible prefix and hash (hex, 65 bytes). */
bool auth_key_new(char secret[AUTH_SECRET_LEN + 1], char prefix[AUTH_PREFIX_LEN + 1],
                  char hash_hex[65]) __attribute__((warn_unused_result));
/* SHA-256 (hex) of a NUL-terminated secret. */
void auth_key_hash_hex(const char *secret, char hash_hex[65]);

/* Inserts a new key for a workspace (user_id may be NULL; rate_per_s and rate_burst both
 * NULL for the daemon's default limit, or both integers as text; can_import: it may write
 * history) and writes its secret,
 * shown once. Returns the new PGresult of INSERT ... RETURNING AUTH_KEY_COLUMNS (PQclear it).
 * On a prefix collision (one in 2^48) it retries once with a new key. */
PGresult *auth_key_insert(PGconn *pg, const char *workspace_id, const char *name, const char *role,
                          const char *user_id, const char *rate_per_s, const char *rate_burst,
                          bool can_import, char secret[AUTH_SECRET_LEN + 1]);
/* The columns an API key is shown with, in this order. */
#define AUTH_KEY_COLUMNS_WITH(TS)                                                                  \
    "id, name, prefix, role, user_id, " TS("created_at") ", " TS("last_used_at") ", " TS(          \
        "revoked_at") ", rate_per_s, rate_burst, can_import"
#define AUTH_KEY_COLUMNS AUTH_KEY_COLUMNS_WITH(DB_TS)
/* The same in a RETURNING clause (db.h DB_TS_RET). */
#define AUTH_KEY_RETURNING AUTH_KEY_COLUMNS_WITH(DB_TS_RET)

/* 0 when unknown. */
int auth_role_parse(const char *name);
const char *auth_role_name(int role);

#endif
