/* Invitations: how a person gets into the web app. An admin invites an email with a role;
 * the answer holds a one-time link (shown once: the database keeps only the token's hash)
 * that the admin passes on. The invitee opens it, sets a password, and is signed in. A
 * link works once, until it expires (LEADLOOP_INVITATION_TTL_H) or the admin revokes it; a
 * new invitation for the same person revokes the earlier ones. */
#include "leadloop/invitations.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/admin.h"
#include "leadloop/audit.h"
#include "leadloop/auth.h"
#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/list.h"
#include "leadloop/log.h"
#include "leadloop/password.h"
#include "leadloop/request.h"
#include "leadloop/session.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

#define INVITATION_COLUMNS                                                                         \
    "id, user_id, email, role, " DB_TS("created_at") ", " DB_TS("expires_at") ", " DB_TS(          \
        "accepted_at") ", " DB_TS("revoked_at") ", created_by_user_id, created_by_key_id"

/* $1..$9: ll_invite's arguments (sql/functions/65_people.sql); no row: already a member. */
const char invitations_sql_create[] =
    "SELECT " INVITATION_COLUMNS " FROM ll_invite($1, $2, $3, $4, $5, decode($6, 'hex'), $7, $8,"
    " $9)";
/* least() keeps the first time, as coalesce(x, now()) would: in a form Citus takes
 * (server/admin.c sql_key_revoke) */
static const char sql_revoke[] =
    "UPDATE invitations SET revoked_at = least(revoked_at, now()) WHERE workspace_id = $1"
    " AND id = $2 RETURNING accepted_at IS NOT NULL";
static const char sql_for_accept[] =
    "SELECT i.id, i.user_id, i.role, u.email, i.accepted_at IS NOT NULL,"
    " i.revoked_at IS NOT NULL, i.expires_at <= now()"
    " FROM invitations i JOIN users u ON u.workspace_id = i.workspace_id AND u.id = i.user_id"
    " WHERE i.workspace_id = $1 AND i.token_hash = decode($2, 'hex') FOR UPDATE OF i, u";
static const char sql_accept_user[] =
    "UPDATE users SET password_hash = $3, role = $4, active = true,"
    " activated_at = least(activated_at, now()), version = version + 1, updated_at = now()"
    " WHERE workspace_id = $1 AND id = $2";
static const char sql_accepted[] =
    "UPDATE invitations SET accepted_at = now() WHERE workspace_id = $1 AND id = $2";

static json_t *invitation_json(const PGresult *res, int row)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                     db_json_text(res, row, 0), "user_id", db_json_text(res, row, 1), "email",
                     db_json_text(res, row, 2), "role", db_json_text(res, row, 3), "created_at",
                     db_json_text(res, row, 4), "expires_at", db_json_text(res, row, 5),
                     "accepted_at", db_json_text(res, row, 6), "revoked_at",
                     db_json_text(res, row, 7), "created_by_user_id", db_json_text(res, row, 8),
                     "created_by_key_id", db_json_text(res, row, 9));
}

/* ------------------------------------------------------------------ creating */

void invitations_create(struct request *r)
{
    json_t *body = NULL, *out;
    const char *email = NULL, *name = NULL, *role = NULL, *team = NULL;
    char token[SESSION_TOKEN_LEN + 1], hash[65], ttl[24];
    PGresult *res = NULL;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, (const char *const[]){"email", "name", "role", "team", NULL},
             (const char *const[]){"id", "user_id", "token", "url", "created_at", "expires_at",
                                   "accepted_at", "revoked_at", NULL});
    jv_email(&v, body, "email", true, &email);
    jv_string(&v, body, "name", true, 1, 200, &name);
    jv_enum(&v, body, "role", true, vocab_roles, &role);
    jv_enum(&v, body, "team", false, vocab_teams, &team);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the invitation is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (!session_token_new("lli_", r->auth.workspace_id, token, hash)) {
        reply_problem(r, LL_E_INTERNAL, "no random bytes for an invitation", NULL, NULL);
        goto out;
    }
    snprintf(ttl, sizeof ttl, "%ld", r->cfg->invitation_ttl_h);
    const char *vals[9] = {r->auth.workspace_id,
                           email,
                           name,
                           role,
                           team,
                           hash,
                           r->auth.user_id[0] ? r->auth.user_id : NULL,
                           auth_key_or_null(&r->auth),
                           ttl};
    res = db_exec(r->db, invitations_sql_create, 9, vals);
    err = db_check(r->db, res);
    if (err == LL_OK && PQntuples(res) == 0) {
        reply_problem(r, LL_E_CONFLICT, "this person already has an account in this workspace",
                      json_pack("[{s:s, s:s}]", "field", "email", "message",
                                "already belongs to a user who can sign in"),
                      NULL);
        goto out;
    }
    if (err) {
        reply_db_error(r, err);
        goto out;
    }
    out = invitation_json(res, 0);
    json_object_set_new(out, "token", json_string(token));
    json_object_set_new(out, "url", json_sprintf("/app/invitation#token=%s", token));
    reply_header(r, "Location", "/v1/invitations/%s", PQgetvalue(res, 0, 0));
    reply_json(r, 201, out);
out:
    explicit_bzero(token, sizeof token);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

/* ------------------------------------------------------------------ listing, revoking */

void invitations_list(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "pending", NULL};
    static const struct sort_key sorts[] = {{"created_at", "created_at", "timestamptz"}, {NULL}};
    const char *pending = req_query(r, "pending");
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, sorts, "-created_at"))
        return;
    if (pending && strcmp(pending, "true") && strcmp(pending, "false")) {
        reply_bad_param(r, "pending", "must be true or false");
        return;
    }
    list_begin(&q, "SELECT " INVITATION_COLUMNS ", ", &l);
    qb_add(&q, ", id FROM invitations WHERE workspace_id = ");
    qb_addp(&q, "$?", r->auth.workspace_id);
    if (pending && !strcmp(pending, "true"))
        qb_add(&q, " AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()");
    else if (pending)
        qb_add(&q, " AND NOT (accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now())");
    list_apply(&q, &l, "id");
    list_answer(r, &q, &l, invitation_json);
    qb_free(&q);
}

void invitations_revoke(struct request *r)
{
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, "no invitation with this id", NULL, NULL);
        return;
    }
    res = db_exec(r->db, sql_revoke, 2, vals);
    err = db_check(r->db, res);
    if (err == LL_OK && PQntuples(res) != 1)
        reply_problem(r, LL_E_NOT_FOUND, "no invitation with this id", NULL, NULL);
    else if (err)
        reply_db_error(r, err);
    else if (PQgetvalue(res, 0, 0)[0] == 't')
        reply_problem(r, LL_E_CONFLICT, "the invitation was accepted already", NULL, NULL);
    else
        reply_empty(r, 204);
    PQclear(res);
}

/* ------------------------------------------------------------------ accepting */

struct accept {
    const char *workspace_id, *hash, *password;
    char user_id[37];
    const char *refusal; /* why the link no longer works (410), or NULL */
    const char *weak;    /* why the password is refused (422), or NULL */
    bool unknown;        /* no invitation has this token (404) */
    bool busy;           /* no hashing turn came (503) */
    const char *request_id;
    long wait_ms;
};

/* The invitation, locked; the password checked and hashed; the person's password, role and
 * activation, and the invitation's use, in one transaction. */
static enum ll_err accept_tx(struct db_conn *db, void *arg)
{
    struct accept *ac = arg;
    char hash[PASSWORD_HASH_MAX], id[37];
    const char *vals[2] = {ac->workspace_id, ac->hash};
    PGresult *res = db_exec(db, sql_for_accept, 2, vals);
    enum ll_err err = db_check(db, res);
    ac->unknown = err == LL_OK && PQntuples(res) != 1;
    if (err || ac->unknown)
        goto out;
    ac->refusal = PQgetvalue(res, 0, 4)[0] == 't'   ? "this invitation link was used already"
                  : PQgetvalue(res, 0, 5)[0] == 't' ? "this invitation was revoked"
                  : PQgetvalue(res, 0, 6)[0] == 't' ? "this invitation link has expired"
                                                    : NULL;
    ac->weak = ac->refusal ? NULL : password_weakness(ac->password, PQgetvalue(res, 0, 3));
    if (ac->refusal || ac->weak)
        goto out;
    if (!password_hash(ac->password, hash, ac->wait_ms)) {
        ac->busy = true;
        goto out;
    }
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    snprintf(ac->user_id, sizeof ac->user_id, "%s", PQgetvalue(res, 0, 1));
    /* the writes are the invitee's own: the audit log names them */
    if ((err = audit_user_local(db, ac->user_id, ac->request_id, "/v1/invitations/accept")))
        goto out;
    const char *uv[4] = {ac->workspace_id, ac->user_id, hash, PQgetvalue(res, 0, 2)};
    PGresult *u = db_exec(db, sql_accept_user, 4, uv);
    err = db_check(db, u);
    PQclear(u);
    explicit_bzero(hash, sizeof hash);
    if (err)
        goto out;
    const char *av[2] = {ac->workspace_id, id};
    u = db_exec(db, sql_accepted, 2, av);
    err = db_check(db, u);
    PQclear(u);
out:
    PQclear(res);
    return err;
}

void invitations_accept(struct request *r)
{
    json_t *body = NULL;
    const char *token = NULL;
    char ws[37], hash[65];
    struct accept ac = {.wait_ms = r->cfg->db_acquire_timeout_ms};
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, (const char *const[]){"token", "password", NULL}, NULL);
    jv_string(&v, body, "token", true, 1, 200, &token);
    jv_string(&v, body, "password", true, 1, PASSWORD_MAX_BYTES, &ac.password);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the acceptance is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (!session_token_parse("lli_", token, strlen(token), ws, hash)) {
        reply_problem(r, LL_E_NOT_FOUND, "no invitation has this link; ask for a new one", NULL,
                      NULL);
        goto out;
    }
    ac.workspace_id = ws;
    ac.hash = hash;
    ac.request_id = r->request_id;
    err = db_tx_run(r->db, accept_tx, &ac);
    if (err) {
        reply_db_error(r, err);
    } else if (ac.unknown) {
        reply_problem(r, LL_E_NOT_FOUND, "no invitation has this link; ask for a new one", NULL,
                      NULL);
    } else if (ac.refusal) {
        reply_problem(r, LL_E_GONE, ac.refusal, NULL, NULL);
    } else if (ac.weak) {
        reply_bad_field(r, "password", ac.weak);
    } else if (ac.busy) {
        reply_problem(r, LL_E_UNAVAILABLE, "too many sign-ins at once; retry shortly", NULL, NULL);
    } else {
        log_info("invitation accepted: user %s of workspace %s", ac.user_id, ws);
        session_start(r, ws, ac.user_id, 200);
    }
out:
    json_decref(body);
    jv_free(&v);
}
