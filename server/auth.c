/* API keys. A key is "llk_" + 32 random bytes in base64url; the database keeps only its
 * SHA-256 (a fast hash is right here: the key has 256 bits of entropy, nothing to brute
 * force) and its first 12 characters, shown in lists and logs to tell keys apart. */
#include "leadloop/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadloop/db.h"
#include "leadloop/keycache.h"
#include "leadloop/log.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

static const char sql_resolve[] =
    "SELECT k.workspace_id, k.id, k.role, coalesce(k.user_id::text, ''), k.prefix,"
    " k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds',"
    " coalesce(k.rate_per_s, 0), coalesce(k.rate_burst, 0), k.can_import"
    " FROM api_keys k WHERE k.key_hash = decode($1, 'hex') AND k.revoked_at IS NULL";
/* last_used_at is kept to the minute: a write per request would double the cost of reads. */
static const char sql_touch[] =
    "UPDATE api_keys SET last_used_at = now() WHERE workspace_id = $1 AND id = $2";

static const char *const *const role_names = vocab_roles; /* by enum role bit */

bool auth_parse_bearer(const char *h, const char **secret)
{
    size_t n;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    n = strlen(h);
    while (n > 0 && h[n - 1] == ' ')
        n--;
    if (n != AUTH_SECRET_LEN || strncmp(h, "llk_", 4) != 0)
        return false;
    for (size_t i = 4; i < n; i++) {
        char c = h[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    *secret = h;
    return true;
}

void auth_key_hash_hex(const char *secret, char hash_hex[65])
{
    unsigned char digest[32];
    util_sha256(secret, strlen(secret), digest);
    util_hex(digest, 32, hash_hex);
}

bool auth_key_new(char secret[AUTH_SECRET_LEN + 1], char prefix[AUTH_PREFIX_LEN + 1],
                  char hash_hex[65])
{
    unsigned char raw[32];
    if (!util_random(raw, sizeof raw))
        return false;
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the encoder writes the NUL */
    memcpy(secret, "llk_", 4);
    util_b64url_encode(raw, sizeof raw, secret + 4);
    memcpy(prefix, secret, AUTH_PREFIX_LEN);
    prefix[AUTH_PREFIX_LEN] = '\0';
    auth_key_hash_hex(secret, hash_hex);
    return true;
}

int auth_role_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, role_names[i]))
            return 1 << i;
    return 0;
}

const char *auth_role_name(int role)
{
    for (int i = 0; i < 4; i++)
        if (role == 1 << i)
            return role_names[i];
    return "none";
}

bool auth_cached(const char *secret, char hash[65], struct auth_ctx *out)
{
    char secret_copy[AUTH_SECRET_LEN + 1];
    memcpy(secret_copy, secret, AUTH_SECRET_LEN);
    secret_copy[AUTH_SECRET_LEN] = '\0';
    auth_key_hash_hex(secret_copy, hash);
    return keycache_get(hash, out);
}

enum ll_err auth_resolve(struct db_conn *db, const char hash[65], struct auth_ctx *out)
{
    const char *params[1] = {hash};
    PGresult *res;
    enum ll_err err;
    uint64_t generation;

    generation = keycache_generation();
    res = db_exec(db, sql_resolve, 1, params);
    err = db_check(db, res);
    if (err == LL_OK && PQntuples(res) != 1)
        err = LL_E_UNAUTHORIZED;
    if (err == LL_OK) {
        snprintf(out->workspace_id, sizeof out->workspace_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->key_id, sizeof out->key_id, "%s", PQgetvalue(res, 0, 1));
        out->role = auth_role_parse(PQgetvalue(res, 0, 2));
        snprintf(out->user_id, sizeof out->user_id, "%s", PQgetvalue(res, 0, 3));
        snprintf(out->key_prefix, sizeof out->key_prefix, "%s", PQgetvalue(res, 0, 4));
        out->rate_per_s = atol(PQgetvalue(res, 0, 6));
        out->rate_burst = atol(PQgetvalue(res, 0, 7));
        out->can_import = PQgetvalue(res, 0, 8)[0] == 't';
        if (PQgetvalue(res, 0, 5)[0] == 't') {
            const char *tp[2] = {out->workspace_id, out->key_id};
            PGresult *t = db_exec(db, sql_touch, 2, tp);
            /* Best effort: last_used_at is a hint, and a failed touch must not fail the
             * request it belongs to (db_check has counted and logged the failure). */
            if (db_check(db, t) != LL_OK)
                log_debug("api key last_used_at not updated");
            PQclear(t);
        }
        keycache_put(hash, out, generation);
    }
    PQclear(res);
    return err;
}

PGresult *auth_key_insert(PGconn *pg, const char *workspace_id, const char *name, const char *role,
                          const char *user_id, const char *rate_per_s, const char *rate_burst,
                          bool can_import, char secret[AUTH_SECRET_LEN + 1])
{
    static const char sql[] =
        "INSERT INTO api_keys (workspace_id, name, prefix, key_hash, role, user_id, rate_per_s,"
        " rate_burst, can_import) VALUES ($1, $2, $3, decode($4, 'hex'), $5, $6, $7, $8, $9)"
        " RETURNING " AUTH_KEY_RETURNING;
    PGresult *res = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        char prefix[AUTH_PREFIX_LEN + 1], hash[65];
        const char *vals[9] = {workspace_id, name,       prefix,
                               hash,         role,       user_id,
                               rate_per_s,   rate_burst, can_import ? "true" : "false"};
        if (!auth_key_new(secret, prefix, hash))
            return NULL;
        PQclear(res);
        res = PQexecParams(pg, sql, 9, NULL, vals, NULL, NULL, 0);
        char buf[64];
        const char *constraint = db_constraint(res, buf, sizeof buf);
        if (!(db_unique_violation(res) && constraint && !strcmp(constraint, "api_keys_prefix_key")))
            break;
    }
    return res;
}
