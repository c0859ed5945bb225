/* People signed in to the web app (include/leadloop/session.h): sign-in, the session
 * cookie and its CSRF token, sign-out, password changes, and a person's sessions.
 *
 * A session token is random and the database keeps only its SHA-256, as for API keys. The
 * cookie is HttpOnly (no script reads it), SameSite=Lax (other sites' forms and scripts do
 * not send it with their writes) and Secure behind TLS. Writes made with the cookie must
 * also carry the session's CSRF token in X-CSRF-Token: a hash of the session token, which
 * only the app (given it by the sign-in answer or GET /v1/session) can know. Every sign-in
 * makes a new session, whatever cookie the browser had (no session fixation), and revokes
 * the one it replaces. Failed sign-ins are counted per account and per client address in
 * PostgreSQL (sql/functions/65_signin.sql) and slow the next attempts down. */
#include "leadloop/session.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadloop/auth.h"
#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/list.h"
#include "leadloop/log.h"
#include "leadloop/password.h"
#include "leadloop/request.h"
#include "leadloop/janitor.h"
#include "leadloop/util.h"

/* Free failures before each further one locks the key: per account, per address (an office
 * behind one address has many people). */
#define FREE_PER_ACCOUNT "5"
#define FREE_PER_ADDRESS "20"
#define EMAIL_KEY        "'email:' || lower($1 COLLATE \"und-x-icu\")"

static const char sql_locked[] =
    "SELECT ceil(extract(epoch FROM ll_signin_locked(ARRAY[" EMAIL_KEY ", 'addr:' || $2])"
    " - now()))::bigint";
static const char sql_failed[] = "SELECT ll_signin_failed(ARRAY[" EMAIL_KEY ", 'addr:' || $2],"
                                 " ARRAY[" FREE_PER_ACCOUNT ", " FREE_PER_ADDRESS "])";
static const char sql_succeeded[] = "DELETE FROM signin_failures WHERE key = " EMAIL_KEY;
/* The accounts an email and password may open: active people with a password. */
static const char sql_candidates[] =
    "SELECT u.workspace_id, u.id, u.password_hash FROM users u"
    " JOIN workspaces w ON w.id = u.workspace_id"
    " WHERE lower(u.email COLLATE \"und-x-icu\") = lower($1 COLLATE \"und-x-icu\")"
    " AND u.password_hash IS NOT NULL AND u.active AND ($2::text IS NULL OR w.slug = $2)"
    " ORDER BY u.workspace_id LIMIT 5";
static const char sql_insert[] =
    "INSERT INTO sessions (workspace_id, user_id, token_hash, expires_at, client_addr,"
    " user_agent) VALUES ($1, $2, decode($3, 'hex'), now() + $4 * interval '1 hour',"
    " nullif($5, ''), left($6, 300)) RETURNING id";
static const char sql_revoke_token[] =
    "UPDATE sessions SET revoked_at = now() WHERE workspace_id = $1"
    " AND token_hash = decode($2, 'hex') AND revoked_at IS NULL";
static const char sql_view[] = "SELECT s.id, " DB_TS("s.created_at") ", " DB_TS(
    "s.expires_at") ","
                    " u.id, u.name, u.email, u.team, u.role, w.id, w.slug, w.name, w.currency"
                    " FROM sessions s"
                    " JOIN users u ON u.workspace_id = s.workspace_id AND u.id = s.user_id"
                    " JOIN workspaces w ON w.id = s.workspace_id"
                    " WHERE s.workspace_id = $1 AND s.id = $2";
/* $3: how long unused ends it, in hours. The role is the user's now, so a changed role or a
 * deactivation applies to the next request. */
static const char sql_resolve[] =
    "SELECT s.id, s.user_id, u.role, s.last_seen_at < now() - interval '60 seconds'"
    " FROM sessions s JOIN users u ON u.workspace_id = s.workspace_id AND u.id = s.user_id"
    " WHERE s.workspace_id = $1 AND s.token_hash = decode($2, 'hex') AND s.revoked_at IS NULL"
    " AND s.expires_at > now() AND s.last_seen_at > now() - $3 * interval '1 hour' AND u.active";
/* last_seen_at is kept to the minute, like an API key's last_used_at. */
static const char sql_touch[] =
    "UPDATE sessions SET last_seen_at = now() WHERE workspace_id = $1 AND id = $2";
/* The key's user through a subquery on the workspace $1: Citus refuses the outer join whose
 * condition is a NULL $3 (a key without a user) as a "complex join". */
static const char sql_key_view[] =
    "SELECT w.id, w.slug, w.name, w.currency, u.id, u.name, u.email, u.team, u.role, k.name"
    " FROM workspaces w JOIN api_keys k ON k.workspace_id = w.id AND k.id = $2"
    " LEFT JOIN LATERAL (SELECT * FROM users x WHERE x.workspace_id = $1 AND x.id = $3::uuid) u"
    " ON true WHERE w.id = $1";
static const char sql_revoke_one[] =
    "UPDATE sessions SET revoked_at = now() WHERE workspace_id = $1 AND id = $2"
    " AND revoked_at IS NULL AND ($3::uuid IS NULL OR user_id = $3) RETURNING id";
static const char sql_user_secret[] =
    "SELECT password_hash, email FROM users WHERE workspace_id = $1 AND id = $2";
/* The new password, and the end of the person's other sessions (whoever knew the old
 * password is out), in one statement. */
static const char sql_set_password[] =
    "WITH u AS (UPDATE users SET password_hash = $4 WHERE workspace_id = $1 AND id = $2"
    " RETURNING id)"
    " UPDATE sessions s SET revoked_at = now() FROM u WHERE s.workspace_id = $1"
    " AND s.user_id = u.id AND s.id <> $3 AND s.revoked_at IS NULL";
#define INFO_COLUMNS                                                                               \
    "id, user_id, " DB_TS("created_at") ", " DB_TS("last_seen_at") ", " DB_TS(                     \
        "expires_at") ", client_addr, user_agent"

/* ------------------------------------------------------------------ tokens */

bool session_token_new(const char *prefix, const char *workspace_id,
                       char token[SESSION_TOKEN_LEN + 1], char hash_hex[65])
{
    unsigned char raw[32], digest[32];
    size_t n = 0;
    if (!util_random(raw, sizeof raw))
        return false;
    memcpy(token, prefix, 4);
    n = 4;
    for (const char *p = workspace_id; *p && n < 36; p++)
        if (*p != '-')
            token[n++] = *p;
    token[n++] = '_';
    util_b64url_encode(raw, sizeof raw, token + n);
    util_sha256(token, SESSION_TOKEN_LEN, digest);
    util_hex(digest, 32, hash_hex);
    return strlen(token) == SESSION_TOKEN_LEN;
}

bool session_token_parse(const char *prefix, const char *s, size_t n, char workspace_id[37],
                         char hash_hex[65])
{
    unsigned char digest[32];
    size_t w = 0;
    if (n != SESSION_TOKEN_LEN || memcmp(s, prefix, 4) != 0 || s[36] != '_')
        return false;
    for (size_t i = 4; i < 36; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        if (i == 12 || i == 16 || i == 20 || i == 24)
            workspace_id[w++] = '-';
        workspace_id[w++] = c;
    }
    workspace_id[w] = '\0';
    for (size_t i = 37; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    util_sha256(s, n, digest);
    util_hex(digest, 32, hash_hex);
    return true;
}

void session_csrf(const char *token, char out[SESSION_CSRF_LEN + 1])
{
    char input[SESSION_TOKEN_LEN + 16];
    unsigned char digest[32];
    int n = snprintf(input, sizeof input, "csrf:%.*s", SESSION_TOKEN_LEN, token);
    util_sha256(input, (size_t)n, digest);
    util_b64url_encode(digest, sizeof digest, out);
}

const char *session_cookie(const char *h, size_t *n)
{
    const size_t name_len = sizeof SESSION_COOKIE - 1;
    while (h && *h) {
        while (*h == ' ' || *h == ';' || *h == '\t')
            h++;
        const char *end = strchr(h, ';');
        size_t len = end ? (size_t)(end - h) : strlen(h);
        if (len > name_len && !strncmp(h, SESSION_COOKIE, name_len) && h[name_len] == '=') {
            const char *v = h + name_len + 1;
            size_t vn = len - name_len - 1;
            while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                vn--;
            if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') { /* RFC 6265 allows quotes */
                v++;
                vn -= 2;
            }
            *n = vn;
            return v;
        }
        h += len;
    }
    return NULL;
}

/* ------------------------------------------------------------------ the cookie */

/* Behind TLS: told by the setting, or by the proxy in front (the flag only ever makes the
 * cookie stricter, so a client that lies about it only locks itself out). */
static bool over_tls(struct request *r)
{
    const char *xfp = req_header(r, "X-Forwarded-Proto"), *fwd = req_header(r, "Forwarded");
    if (r->cfg->cookie_secure == 1)
        return true;
    if (r->cfg->cookie_secure == 2)
        return false;
    if (xfp && !strncasecmp(xfp, "https", 5) && (xfp[5] == '\0' || xfp[5] == ','))
        return true;
    return fwd && strcasestr(fwd, "proto=https") != NULL;
}

static void cookie_set(struct request *r, const char *token, long max_age_s)
{
    reply_header(r, "Set-Cookie", "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s",
                 SESSION_COOKIE, token, max_age_s, over_tls(r) ? "; Secure" : "");
}

void session_cookie_clear(struct request *r)
{
    reply_header(r, "Set-Cookie", "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax%s",
                 SESSION_COOKIE, over_tls(r) ? "; Secure" : "");
}

/* ------------------------------------------------------------------ resolving */

enum ll_err session_resolve(struct db_conn *db, const char *token, size_t n, long idle_h,
                            struct auth_ctx *out)
{
    char ws[37], hash[65], idle[24];
    PGresult *res;
    enum ll_err err;
    if (!session_token_parse("lls_", token, n, ws, hash))
        return LL_E_UNAUTHORIZED;
    snprintf(idle, sizeof idle, "%ld", idle_h);
    const char *vals[3] = {ws, hash, idle};
    res = db_exec(db, sql_resolve, 3, vals);
    err = db_check(db, res);
    if (err == LL_OK && PQntuples(res) != 1)
        err = LL_E_UNAUTHORIZED;
    if (err == LL_OK) {
        memset(out, 0, sizeof *out);
        snprintf(out->workspace_id, sizeof out->workspace_id, "%s", ws);
        snprintf(out->session_id, sizeof out->session_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->user_id, sizeof out->user_id, "%s", PQgetvalue(res, 0, 1));
        out->role = auth_role_parse(PQgetvalue(res, 0, 2)); /* the same names as a key's */
        if (PQgetvalue(res, 0, 3)[0] == 't') {
            const char *tv[2] = {ws, out->session_id};
            PGresult *t = db_exec(db, sql_touch, 2, tv);
            if (db_check(db, t) != LL_OK) /* a hint only: the request goes on */
                log_debug("session last_seen_at not updated");
            PQclear(t);
        }
    }
    PQclear(res);
    return err;
}

/* ------------------------------------------------------------------ answers */

static json_t *user_json(const PGresult *res, int row, int c)
{
    if (PQgetisnull(res, row, c))
        return json_null();
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "id", db_json_text(res, row, c), "name",
                     db_json_text(res, row, c + 1), "email", db_json_text(res, row, c + 2), "team",
                     db_json_text(res, row, c + 3), "role", db_json_text(res, row, c + 4));
}

/* Answers the session session_id of workspace_id, with the CSRF token of its token. */
static void answer_session(struct request *r, const char *workspace_id, const char *session_id,
                           const char *token, int status)
{
    char csrf[SESSION_CSRF_LEN + 1];
    const char *vals[2] = {workspace_id, session_id};
    PGresult *res = db_exec(r->db, sql_view, 2, vals);
    enum ll_err err = db_check(r->db, res);
    if (err == LL_OK && PQntuples(res) != 1)
        err = LL_E_NOT_FOUND;
    if (err) {
        reply_db_error(r, err);
        PQclear(res);
        return;
    }
    session_csrf(token, csrf);
    reply_json(r, status,
               json_pack("{s:s, s:o, s:o, s:o, s:{s:o, s:o, s:o, s:o}, s:s, s:o, s:o}", "kind",
                         "session", "id", db_json_text(res, 0, 0), "user", user_json(res, 0, 3),
                         "role", db_json_text(res, 0, 7), "workspace", "id",
                         db_json_text(res, 0, 8), "slug", db_json_text(res, 0, 9), "name",
                         db_json_text(res, 0, 10), "currency", db_json_text(res, 0, 11),
                         "csrf_token", csrf, "created_at", db_json_text(res, 0, 1), "expires_at",
                         db_json_text(res, 0, 2)));
    PQclear(res);
}

void session_start(struct request *r, const char *workspace_id, const char *user_id, int status)
{
    char token[SESSION_TOKEN_LEN + 1], hash[65], ttl[24], old_ws[37], old_hash[65];
    const char *ua = req_header(r, "User-Agent");
    size_t on = 0;
    const char *old = session_cookie(req_header(r, "Cookie"), &on);
    PGresult *res = NULL;
    enum ll_err err;

    /* The browser's earlier session ends here: a sign-in never keeps or adopts one. */
    if (old && session_token_parse("lls_", old, on, old_ws, old_hash)) {
        const char *ov[2] = {old_ws, old_hash};
        res = db_exec(r->db, sql_revoke_token, 2, ov);
        if (db_check(r->db, res) != LL_OK)
            log_debug("replaced session not revoked");
        PQclear(res);
    }
    if (!session_token_new("lls_", workspace_id, token, hash)) {
        reply_problem(r, LL_E_INTERNAL, "no random bytes for a session", NULL, NULL);
        return;
    }
    snprintf(ttl, sizeof ttl, "%ld", r->cfg->session_ttl_h);
    const char *vals[6] = {workspace_id, user_id, hash, ttl, r->client_addr, ua ? ua : ""};
    res = db_exec(r->db, sql_insert, 6, vals);
    err = db_check(r->db, res);
    if (err) {
        reply_db_error(r, err);
    } else {
        cookie_set(r, token, r->cfg->session_ttl_h * 3600);
        log_info("signed in: user %s of workspace %s, session %s", user_id, workspace_id,
                 PQgetvalue(res, 0, 0));
        answer_session(r, workspace_id, PQgetvalue(res, 0, 0), token, status);
    }
    PQclear(res);
}

/* ------------------------------------------------------------------ throttling */

/* 429 with Retry-After when the account or the address is locked; true when it answered. */
static bool throttled(struct request *r, const char *email)
{
    const char *vals[2] = {email, r->client_addr};
    PGresult *res = db_exec(r->db, sql_locked, 2, vals);
    enum ll_err err = db_check(r->db, res);
    long wait = err == LL_OK && !PQgetisnull(res, 0, 0) ? atol(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    if (err) {
        reply_db_error(r, err);
        return true;
    }
    if (wait <= 0)
        return false;
    reply_header(r, "Retry-After", "%ld", wait);
    reply_problem(r, LL_E_RATE_LIMITED,
                  "too many failed sign-ins for this account or from this address; wait "
                  "Retry-After seconds, then try again",
                  NULL, NULL);
    return true;
}

/* Counts a failure (best effort: the answer is the same either way). */
static void failed(struct request *r, const char *email)
{
    const char *vals[2] = {email, r->client_addr};
    PGresult *res = db_exec(r->db, sql_failed, 2, vals);
    if (db_check(r->db, res) != LL_OK)
        log_warn("a failed sign-in was not counted");
    PQclear(res);
    log_info("sign-in failed from %s", r->client_addr[0] ? r->client_addr : "-");
}

static void wrong_credentials(struct request *r, const char *email)
{
    failed(r, email);
    reply_problem(r, LL_E_UNAUTHORIZED, "the email or the password is wrong", NULL, NULL);
}

/* ------------------------------------------------------------------ routes */

void session_create(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *email = NULL, *password = NULL, *slug = NULL;
    int match = -1, matches = 0;
    struct jv v;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, (const char *const[]){"email", "password", "workspace", NULL}, NULL);
    jv_email(&v, body, "email", true, &email);
    jv_string(&v, body, "password", true, 1, PASSWORD_MAX_BYTES, &password);
    jv_string(&v, body, "workspace", false, 1, 63, &slug);
    if (password && strlen(password) > PASSWORD_MAX_BYTES)
        jv_add(&v, "password", "must be at most 1024 bytes long");
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the sign-in is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (throttled(r, email))
        goto out;
    const char *cv[2] = {email, slug};
    res = db_exec(r->db, sql_candidates, 2, cv);
    enum ll_err err = db_check(r->db, res);
    if (err) {
        reply_db_error(r, err);
        goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        int ok = password_verify(PQgetvalue(res, i, 2), password, r->cfg->db_acquire_timeout_ms);
        if (ok < 0) {
            reply_problem(r, LL_E_UNAVAILABLE, "too many sign-ins at once; retry shortly", NULL,
                          NULL);
            goto out;
        }
        if (ok == 1 && matches++ == 0)
            match = i;
    }
    /* no account: the same work as a wrong password, so that timing tells nothing */
    if (PQntuples(res) == 0 && password_verify(NULL, password, r->cfg->db_acquire_timeout_ms) < 0) {
        reply_problem(r, LL_E_UNAVAILABLE, "too many sign-ins at once; retry shortly", NULL, NULL);
        goto out;
    }
    if (matches == 0) {
        wrong_credentials(r, email);
        goto out;
    }
    if (matches > 1) {
        reply_bad_field(r, "workspace",
                        "this email and password open several workspaces: name one by its slug");
        goto out;
    }
    PGresult *ok = db_exec(r->db, sql_succeeded, 1, (const char *[]){email});
    if (db_check(r->db, ok) != LL_OK)
        log_debug("sign-in failures not cleared");
    PQclear(ok);
    session_start(r, PQgetvalue(res, match, 0), PQgetvalue(res, match, 1), 200);
out:
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void session_get(struct request *r)
{
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    if (r->auth.session_id[0]) {
        size_t n = 0;
        const char *token = session_cookie(req_header(r, "Cookie"), &n);
        char copy[SESSION_TOKEN_LEN + 1];
        snprintf(copy, sizeof copy, "%.*s", (int)n, token ? token : "");
        answer_session(r, r->auth.workspace_id, r->auth.session_id, copy, 200);
        return;
    }
    const char *vals[3] = {r->auth.workspace_id, r->auth.key_id,
                           r->auth.user_id[0] ? r->auth.user_id : NULL};
    res = db_exec(r->db, sql_key_view, 3, vals);
    err = db_check(r->db, res);
    if (err == LL_OK && PQntuples(res) != 1)
        err = LL_E_UNAUTHORIZED;
    if (err) {
        reply_db_error(r, err);
    } else {
        reply_json(r, 200,
                   json_pack("{s:s, s:s, s:{s:o, s:o, s:o, s:o}, s:o, s:{s:s, s:s, s:o}}", "kind",
                             "api_key", "role", auth_role_name(r->auth.role), "workspace", "id",
                             db_json_text(res, 0, 0), "slug", db_json_text(res, 0, 1), "name",
                             db_json_text(res, 0, 2), "currency", db_json_text(res, 0, 3), "user",
                             user_json(res, 0, 4), "api_key", "id", r->auth.key_id, "prefix",
                             r->auth.key_prefix, "name", db_json_text(res, 0, 9)));
    }
    PQclear(res);
}

/* 409 for the session routes called with an API key. */
static bool not_a_session(struct request *r)
{
    if (r->auth.session_id[0])
        return false;
    reply_problem(r, LL_E_CONFLICT,
                  "this request was made with an API key, not in a session; revoke a key with "
                  "DELETE /v1/api-keys/{id}",
                  NULL, NULL);
    return true;
}

void session_delete(struct request *r)
{
    const char *vals[3] = {r->auth.workspace_id, r->auth.session_id, r->auth.user_id};
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL) || not_a_session(r))
        return;
    res = db_exec(r->db, sql_revoke_one, 3, vals);
    err = db_check(r->db, res);
    if (err) {
        reply_db_error(r, err);
    } else {
        session_cookie_clear(r);
        reply_empty(r, 204);
    }
    PQclear(res);
}

void session_password(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *current = NULL, *fresh = NULL, *weak;
    char hash[PASSWORD_HASH_MAX];
    struct jv v;
    enum ll_err err;
    int ok;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, (const char *const[]){"current_password", "new_password", NULL}, NULL);
    jv_string(&v, body, "current_password", true, 1, PASSWORD_MAX_BYTES, &current);
    jv_string(&v, body, "new_password", true, 1, PASSWORD_MAX_BYTES, &fresh);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the change is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (not_a_session(r))
        goto out;
    const char *uv[2] = {r->auth.workspace_id, r->auth.user_id};
    res = db_exec(r->db, sql_user_secret, 2, uv);
    err = db_check(r->db, res);
    if (err == LL_OK && PQntuples(res) != 1)
        err = LL_E_NOT_FOUND;
    if (err) {
        reply_db_error(r, err);
        goto out;
    }
    if (throttled(r, PQgetvalue(res, 0, 1)))
        goto out;
    ok = password_verify(PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0), current,
                         r->cfg->db_acquire_timeout_ms);
    if (ok < 0) {
        reply_problem(r, LL_E_UNAVAILABLE, "too many sign-ins at once; retry shortly", NULL, NULL);
        goto out;
    }
    if (ok == 0) {
        failed(r, PQgetvalue(res, 0, 1));
        reply_bad_field(r, "current_password", "is not your current password");
        goto out;
    }
    if ((weak = password_weakness(fresh, PQgetvalue(res, 0, 1)))) {
        reply_bad_field(r, "new_password", weak);
        goto out;
    }
    if (!password_hash(fresh, hash, r->cfg->db_acquire_timeout_ms)) {
        reply_problem(r, LL_E_UNAVAILABLE, "too many sign-ins at once; retry shortly", NULL, NULL);
        goto out;
    }
    const char *pv[4] = {r->auth.workspace_id, r->auth.user_id, r->auth.session_id, hash};
    PGresult *a = db_exec(r->db, sql_set_password, 4, pv);
    err = db_check(r->db, a);
    PQclear(a);
    if (err)
        reply_db_error(r, err);
    else
        reply_empty(r, 204);
out:
    explicit_bzero(hash, sizeof hash); /* the hash of a password is still a secret */
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

static json_t *info_json(const PGresult *res, int row)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", db_json_text(res, row, 0),
                     "user_id", db_json_text(res, row, 1), "created_at", db_json_text(res, row, 2),
                     "last_seen_at", db_json_text(res, row, 3), "expires_at",
                     db_json_text(res, row, 4), "client_addr", db_json_text(res, row, 5),
                     "user_agent", db_json_text(res, row, 6));
}

void sessions_list(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "user_id", NULL};
    static const struct sort_key sorts[] = {{"created_at", "created_at", "timestamptz"}, {NULL}};
    const char *user = req_query(r, "user_id");
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, sorts, "-created_at"))
        return;
    if (user && !util_is_uuid(user)) {
        reply_bad_param(r, "user_id", "must be a user's id (a UUID)");
        return;
    }
    if (r->auth.role != ROLE_ADMIN) { /* only one's own */
        if (user && strcasecmp(user, r->auth.user_id) != 0) {
            reply_problem(r, LL_E_FORBIDDEN, "only an admin may list another user's sessions", NULL,
                          NULL);
            return;
        }
        user = r->auth.user_id[0] ? r->auth.user_id : "00000000-0000-0000-0000-000000000000";
    }
    list_begin(&q, "SELECT " INFO_COLUMNS ", ", &l);
    qb_add(&q, ", id FROM sessions WHERE workspace_id = ");
    qb_addp(&q, "$?", r->auth.workspace_id);
    qb_add(&q, " AND revoked_at IS NULL AND expires_at > now()");
    if (user)
        qb_addp(&q, " AND user_id = $?::uuid", user);
    list_apply(&q, &l, "id");
    list_answer(r, &q, &l, info_json);
    qb_free(&q);
}

void sessions_revoke(struct request *r)
{
    const char *own = r->auth.role == ROLE_ADMIN ? NULL
                      : r->auth.user_id[0]       ? r->auth.user_id
                                                 : "00000000-0000-0000-0000-000000000000";
    const char *vals[3] = {r->auth.workspace_id, r->params[0], own};
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, "no live session with this id", NULL, NULL);
        return;
    }
    res = db_exec(r->db, sql_revoke_one, 3, vals);
    err = db_check(r->db, res);
    if (err == LL_OK && PQntuples(res) != 1)
        err = LL_E_NOT_FOUND;
    if (err == LL_E_NOT_FOUND)
        reply_problem(r, err, "no live session with this id", NULL, NULL);
    else if (err)
        reply_db_error(r, err);
    else
        reply_empty(r, 204);
    PQclear(res);
}

/* ------------------------------------------------------------------ the janitor */

/* Ended sessions are kept a week (an admin looking into a sign-in finds it), then go, a
 * workspace at a time (janitor_each_workspace), 5,000 a statement; failure counts go once
 * their window and lock are over (signin_failures belongs to no workspace). */
#define PURGE_BATCH 5000
static const char sql_purge_due[] =
    "SELECT DISTINCT workspace_id FROM sessions WHERE expires_at < now() - interval '7 days'"
    " OR revoked_at < now() - interval '7 days'";
static const char sql_purge[] =
    "DELETE FROM sessions WHERE workspace_id = $1 AND id IN (SELECT id FROM sessions"
    " WHERE workspace_id = $1 AND (expires_at < now() - interval '7 days'"
    " OR revoked_at < now() - interval '7 days') LIMIT 5000)";
static const char sql_forgive[] =
    "DELETE FROM signin_failures WHERE window_start < now() - interval '15 minutes'"
    " AND (locked_until IS NULL OR locked_until < now())";

static struct janitor janitor;

static void purge(struct janitor *j, PGconn *pg)
{
    static const char *const stmts[] = {sql_purge, NULL};
    janitor_each_workspace(j, pg, sql_purge_due, stmts, PURGE_BATCH);
    janitor_exec(j, pg, sql_forgive);
}

bool session_janitor_start(const char *conninfo, long interval_s)
{
    return janitor_start(&janitor, "session janitor", conninfo, interval_s, purge);
}

void session_janitor_stop(void)
{
    janitor_stop(&janitor);
}
