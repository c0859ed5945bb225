/* Admin routes: the API keys and the users (marketers and sellers) of a workspace.
 * Every statement is scoped by the caller's workspace, so another workspace's id is
 * simply not found. */
#include "leadloop/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/conditional.h"
#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/keycache.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/resource.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

/* ------------------------------------------------------------------ API keys */

static const char sql_keys_list[] = "SELECT " AUTH_KEY_COLUMNS ", ";
static const struct sort_key key_sorts[] = {{"created_at", "created_at", "timestamptz"}, {NULL}};
static const char sql_key_get[] =
    "SELECT " AUTH_KEY_COLUMNS " FROM api_keys WHERE workspace_id = $1 AND id = $2";
/* least() skips NULL: a key revoked before keeps its first revocation time, as
 * coalesce(revoked_at, now()) would, which Citus refuses (a STABLE function in COALESCE or
 * CASE of an UPDATE) where it takes now() alone, evaluated once. */
static const char sql_key_revoke[] =
    "UPDATE api_keys SET revoked_at = least(revoked_at, now())"
    " WHERE workspace_id = $1 AND id = $2 RETURNING id, encode(key_hash, 'hex')";

static const char *const *const roles = vocab_roles;

static const char sql_key_update[] =
    "UPDATE api_keys SET name = coalesce($3, name),"
    " rate_per_s = CASE WHEN $4::boolean THEN $5::integer ELSE rate_per_s END,"
    " rate_burst = CASE WHEN $4::boolean THEN $6::integer ELSE rate_burst END,"
    " can_import = coalesce($7::boolean, can_import)"
    " WHERE workspace_id = $1 AND id = $2 RETURNING " AUTH_KEY_RETURNING
    ", encode(key_hash, 'hex')";

/* The other daemons' key caches forget the key. On plain PostgreSQL the trigger of
 * sql/functions/30_api_keys.sql sends this notice; on Citus the trigger fires on a worker,
 * whose notices reach nobody (the daemons listen on the coordinator), so the daemon sends it
 * there. A failure leaves the other caches to their TTL (LEADLOOP_AUTH_CACHE_TTL_S). */
static void key_changed_elsewhere(struct db_conn *db, const char *hash_hex)
{
    const char *vals[1] = {hash_hex};
    if (db_citus())
        PQclear(db_exec(db, "SELECT pg_notify('leadloop_api_keys', $1)", 1, vals));
}

/* One API key as the API shows it (never its hash). New reference. */
json_t *admin_key_json(const PGresult *res, int row)
{
    json_t *limit =
        PQgetisnull(res, row, 8)
            ? json_null()
            : json_pack("{s:I, s:I}", "per_second", (json_int_t)atol(PQgetvalue(res, row, 8)),
                        "burst", (json_int_t)atol(PQgetvalue(res, row, 9)));
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", db_json_text(res, row, 0),
        "name", db_json_text(res, row, 1), "prefix", db_json_text(res, row, 2), "role",
        db_json_text(res, row, 3), "user_id", db_json_text(res, row, 4), "created_at",
        db_json_text(res, row, 5), "last_used_at", db_json_text(res, row, 6), "revoked_at",
        db_json_text(res, row, 7), "rate_limit", limit, "import", db_json_bool(res, row, 10));
}

/* The body's rate_limit: absent (*given false), null (the default: per and burst NULL) or
 * {"per_second": 1..100000, "burst": 1..1000000}. Errors name rate_limit.<member>. */
static void rate_limit_in(struct jv *v, json_t *body, bool *given, char per[24], char burst[24],
                          const char **per_out, const char **burst_out)
{
    static const char *const members[] = {"per_second", "burst", NULL};
    json_t *rl = json_object_get(body, "rate_limit");
    const char *k;
    json_t *val;
    *given = rl != NULL;
    *per_out = *burst_out = NULL;
    if (!rl || json_is_null(rl))
        return;
    if (!json_is_object(rl)) {
        jv_add(v, "rate_limit", "must be an object {per_second, burst} or null");
        return;
    }
    json_object_foreach(rl, k, val)
    {
        if (!jv_in_list(k, members))
            jv_add(v, "rate_limit", "has an unknown member %s", k);
    }
    json_t *p = json_object_get(rl, "per_second"), *b = json_object_get(rl, "burst");
    if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 100000)
        jv_add(v, "rate_limit.per_second", "must be an integer from 1 to 100000");
    if (!json_is_integer(b) || json_integer_value(b) < 1 || json_integer_value(b) > 1000000)
        jv_add(v, "rate_limit.burst", "must be an integer from 1 to 1000000");
    if (!jv_ok(v))
        return;
    snprintf(per, 24, "%lld", (long long)json_integer_value(p));
    snprintf(burst, 24, "%lld", (long long)json_integer_value(b));
    *per_out = per;
    *burst_out = burst;
}

/* The SELECT of a list: columns, then the sort key and id that list_answer pages on. */
static void list_select(struct qb *q, const char *columns, const struct listing *l,
                        const char *from)
{
    list_begin(q, columns, l);
    qb_add(q, ", id");
    qb_add(q, from);
}

void admin_keys_list(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, key_sorts, "-created_at"))
        return;
    list_select(&q, sql_keys_list, &l, " FROM api_keys WHERE workspace_id = ");
    qb_addp(&q, "$?", r->auth.workspace_id);
    list_apply(&q, &l, "id");
    list_answer(r, &q, &l, admin_key_json);
    qb_free(&q);
}

void admin_keys_create(struct request *r)
{
    static const char *const fields[] = {"name", "role", "user_id", "rate_limit", "import", NULL};
    static const char *const readonly[] = {"id",           "prefix",     "secret", "created_at",
                                           "last_used_at", "revoked_at", NULL};
    json_t *body = NULL, *out = NULL;
    PGresult *res = NULL;
    const char *name = NULL, *role = NULL, *user_id = NULL, *per = NULL, *burst = NULL;
    bool user_null = false, rl_given, can_import = false;
    char secret[AUTH_SECRET_LEN + 1], per_buf[24], burst_buf[24];
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, fields, readonly);
    jv_string(&v, body, "name", true, 1, 200, &name);
    jv_enum(&v, body, "role", true, roles, &role);
    jv_uuid(&v, body, "user_id", false, true, &user_id, &user_null);
    rate_limit_in(&v, body, &rl_given, per_buf, burst_buf, &per, &burst);
    jv_bool(&v, body, "import", false, &can_import);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the API key is not valid", jv_take(&v), NULL);
        goto out;
    }
    /* in a transaction of the handle's: on Citus that is where the audit context is set
     * (db_set_tx_local), and the insert runs on the raw connection */
    if ((err = db_tx_begin(r->db)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    res = auth_key_insert(db_pg(r->db), r->auth.workspace_id, name, role,
                          user_null ? NULL : user_id, per, burst, can_import, secret);
    err = db_check(r->db, res);
    if (err == LL_OK)
        err = db_tx_commit(r->db);
    else
        db_tx_rollback(r->db);
    if (err == LL_E_VALIDATION && user_id) { /* the only foreign key */
        reply_problem(r, err, "the API key is not valid",
                      json_pack("[{s:s, s:s}]", "field", "user_id", "message",
                                "is not a user of this workspace"),
                      NULL);
        goto out;
    }
    if (err) {
        reply_db_error(r, err);
        goto out;
    }
    out = admin_key_json(res, 0);
    json_object_set_new(out, "secret", json_string(secret));
    reply_header(r, "Location", "/v1/api-keys/%s", PQgetvalue(res, 0, 0));
    reply_json(r, 201, out);
out:
    memset(secret, 0, sizeof secret);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void admin_keys_get(struct request *r)
{
    PGresult *res = req_fetch_by_id(r, sql_key_get, "no API key with this id");
    if (res)
        reply_json(r, 200, admin_key_json(res, 0));
    PQclear(res);
}

/* Renames a key or sets its rate limit (null: the daemon's default). The change reaches
 * every daemon's key cache at once (the notify trigger of 0004, 0010). */
void admin_keys_update(struct request *r)
{
    static const char *const fields[] = {"name", "rate_limit", "import", NULL};
    static const char *const readonly[] = {"id",           "prefix",     "secret",
                                           "role",         "user_id",    "created_at",
                                           "last_used_at", "revoked_at", NULL};
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *name = NULL, *per = NULL, *burst = NULL;
    char per_buf[24], burst_buf[24];
    bool rl_given = false, can_import = false, import_given;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL))
        goto out;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, "no API key with this id", NULL, NULL);
        goto out;
    }
    if (!(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, fields, readonly);
    if (json_is_null(json_object_get(body, "name")))
        jv_add(&v, "name", "cannot be removed (null)");
    jv_string(&v, body, "name", false, 1, 200, &name);
    rate_limit_in(&v, body, &rl_given, per_buf, burst_buf, &per, &burst);
    import_given = jv_bool(&v, body, "import", false, &can_import);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the change is not valid", jv_take(&v), NULL);
        goto out;
    }
    const char *vals[7] = {r->auth.workspace_id,
                           r->params[0],
                           name,
                           rl_given ? "true" : "false",
                           per,
                           burst,
                           import_given ? (can_import ? "true" : "false") : NULL};
    res = db_exec(r->db, sql_key_update, 7, vals);
    err = db_check(r->db, res);
    if (err)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, "no API key with this id", NULL, NULL);
    else {
        keycache_forget(PQgetvalue(res, 0, 11)); /* here at once; elsewhere by notification */
        key_changed_elsewhere(r->db, PQgetvalue(res, 0, 11));
        reply_json(r, 200, admin_key_json(res, 0));
    }
out:
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void admin_keys_revoke(struct request *r)
{
    PGresult *res = req_fetch_by_id(r, sql_key_revoke, "no API key with this id");
    if (res) {
        keycache_forget(PQgetvalue(res, 0, 1)); /* here at once; elsewhere by notification */
        key_changed_elsewhere(r->db, PQgetvalue(res, 0, 1));
        reply_empty(r, 204);
    }
    PQclear(res);
}

/* ------------------------------------------------------------------ users */

static const char sql_users_list[] = "SELECT " USER_COLUMNS ", ";
static const struct sort_key user_sorts[] = {{"created_at", "created_at", "timestamptz"}, {NULL}};
static const char sql_user_get[] =
    "SELECT " USER_COLUMNS " FROM users WHERE workspace_id = $1 AND id = $2";
static const char sql_user_version[] =
    "SELECT version FROM users WHERE workspace_id = $1 AND id = $2";
static const char sql_user_insert[] =
    "INSERT INTO users (workspace_id, name, email, team, role) VALUES ($1, $2, $3, $4,"
    " coalesce($5, $4)) RETURNING " USER_RETURNING;
static const char sql_user_by_email[] =
    "SELECT id FROM users WHERE workspace_id = $1"
    " AND lower(email COLLATE \"und-x-icu\") = lower($2 COLLATE \"und-x-icu\")";
/* $7: the version If-Match asked for, or NULL for any. */
static const char sql_user_update[] =
    "UPDATE users SET name = coalesce($3, name), email = coalesce($4, email),"
    " team = coalesce($5, team), active = coalesce($6::boolean, active),"
    " role = coalesce($8, role), version = version + 1, updated_at = now()"
    " WHERE workspace_id = $1 AND id = $2 AND ($7::integer IS NULL OR version = $7)"
    " RETURNING " USER_RETURNING;

static const char *const *const teams = vocab_teams;
static const char *const user_fields[] = {"name", "email", "team", "role", "active", NULL};
static const char *const user_readonly[] = {"id",         "version",      "created_at",
                                            "updated_at", "activated_at", NULL};

json_t *admin_user_json(const PGresult *res, int row)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                     db_json_text(res, row, 0), "name", db_json_text(res, row, 1), "email",
                     db_json_text(res, row, 2), "team", db_json_text(res, row, 3), "role",
                     db_json_text(res, row, 8), "active", db_json_bool(res, row, 4), "version",
                     db_json_int(res, row, 5), "activated_at", db_json_text(res, row, 9),
                     "created_at", db_json_text(res, row, 6), "updated_at",
                     db_json_text(res, row, 7));
}

/* Answers one user row with its ETag. */
static void answer_user(struct request *r, int status, const PGresult *res)
{
    reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 5));
    if (status == 201)
        reply_header(r, "Location", "/v1/users/%s", PQgetvalue(res, 0, 0));
    reply_json(r, status, admin_user_json(res, 0));
}

/* 409 naming the user that already has this email. */
static void answer_email_taken(struct request *r, const char *email)
{
    const char *vals[2] = {r->auth.workspace_id, email};
    PGresult *res = db_exec(r->db, sql_user_by_email, 2, vals);
    json_t *extra = NULL;
    if (db_check(r->db, res) == LL_OK && PQntuples(res) == 1)
        extra = json_pack("{s:o}", "existing_id", db_json_text(res, 0, 0));
    reply_problem(r, LL_E_CONFLICT, "a user with this email already exists",
                  json_pack("[{s:s, s:s}]", "field", "email", "message", "is already taken"),
                  extra);
    PQclear(res);
}

void admin_users_list(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "team", "active", NULL};
    const char *team = req_query(r, "team"), *active = req_query(r, "active");
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, user_sorts, "created_at"))
        return;
    if (team && strcmp(team, "marketing") && strcmp(team, "sales")) {
        reply_problem(
            r, LL_E_PARAM, "team must be marketing or sales",
            json_pack("[{s:s, s:s}]", "field", "team", "message", "must be marketing or sales"),
            NULL);
        return;
    }
    if (active && strcmp(active, "true") && strcmp(active, "false")) {
        reply_problem(
            r, LL_E_PARAM, "active must be true or false",
            json_pack("[{s:s, s:s}]", "field", "active", "message", "must be true or false"), NULL);
        return;
    }
    list_select(&q, sql_users_list, &l, " FROM users WHERE workspace_id = ");
    qb_addp(&q, "$?", r->auth.workspace_id);
    if (team)
        qb_addp(&q, " AND team = $?", team);
    if (active)
        qb_addp(&q, " AND active = $?::boolean", active);
    list_apply(&q, &l, "id");
    list_answer(r, &q, &l, admin_user_json);
    qb_free(&q);
}

void admin_users_create(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *name = NULL, *email = NULL, *team = NULL, *role = NULL;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, (const char *const[]){"name", "email", "team", "role", NULL}, user_readonly);
    if (json_object_get(body, "active"))
        jv_add(&v, "active", "can only be changed with PATCH");
    jv_string(&v, body, "name", true, 1, 200, &name);
    jv_email(&v, body, "email", true, &email);
    jv_enum(&v, body, "team", true, teams, &team);
    jv_enum(&v, body, "role", false, vocab_roles, &role);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the user is not valid", jv_take(&v), NULL);
        goto out;
    }
    const char *vals[5] = {r->auth.workspace_id, name, email, team, role};
    res = db_exec(r->db, sql_user_insert, 5, vals);
    err = db_check(r->db, res);
    if (err == LL_E_CONFLICT)
        answer_email_taken(r, email);
    else if (err)
        reply_db_error(r, err);
    else
        answer_user(r, 201, res);
out:
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void admin_users_get(struct request *r)
{
    PGresult *res = req_fetch_by_id(r, sql_user_get, "no user with this id");
    if (res)
        answer_user(r, 200, res);
    PQclear(res);
}

void admin_users_update(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *name = NULL, *email = NULL, *team = NULL, *role = NULL;
    bool active = false, has_active = false;
    long current = 0;
    struct conditional cond;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL))
        goto out;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, "no user with this id", NULL, NULL);
        goto out;
    }
    if (!(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, user_fields, user_readonly);
    for (const char *const *f = user_fields; *f; f++)
        if (json_is_null(json_object_get(body, *f)))
            jv_add(&v, *f, "cannot be removed (null)");
    if (jv_ok(&v)) {
        jv_string(&v, body, "name", false, 1, 200, &name);
        jv_email(&v, body, "email", false, &email);
        jv_enum(&v, body, "team", false, teams, &team);
        jv_enum(&v, body, "role", false, vocab_roles, &role);
        has_active = jv_bool(&v, body, "active", false, &active);
    }
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the change is not valid", jv_take(&v), NULL);
        goto out;
    }
    conditional_from_request(&cond, r);
    if (json_object_size(body) == 0) { /* nothing to change: no new version */
        const char *gv[2] = {r->auth.workspace_id, r->params[0]};
        res = db_exec(r->db, sql_user_get, 2, gv);
        err = db_check(r->db, res);
        if (err == LL_OK && PQntuples(res) == 0)
            err = LL_E_NOT_FOUND;
        else if (err == LL_OK && !conditional_allows(&cond, current = atol(PQgetvalue(res, 0, 5))))
            err = LL_E_PRECONDITION;
        if (err)
            conditional_reply(r, err, current, "no user with this id", NULL);
        else
            answer_user(r, 200, res);
        goto out;
    }
    const char *vals[8] = {r->auth.workspace_id,
                           r->params[0],
                           name,
                           email,
                           team,
                           has_active ? (active ? "true" : "false") : NULL,
                           conditional_param(&cond),
                           role};
    res = db_exec(r->db, sql_user_update, 8, vals);
    err = db_check(r->db, res);
    if (err == LL_E_CONFLICT && email) {
        answer_email_taken(r, email);
    } else if (err) {
        reply_db_error(r, err);
    } else if (PQntuples(res) == 1) { /* a deactivation's sessions end in its trigger */
        answer_user(r, 200, res);
    } else { /* nothing updated: no such user, or If-Match refused */
        err = conditional_no_row(r->db, sql_user_version, r->auth.workspace_id, r->params[0], &cond,
                                 &current);
        conditional_reply(r, err, current, "no user with this id",
                          "the user changed meanwhile; retry");
    }
out:
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}
