/* Webhook endpoints and their deliveries (admin only). An endpoint starts following the
 * change feed where the feed is when it is created; its secret is shown once, on create
 * and on rotation. Every statement is scoped by the caller's workspace. */
#include "leadloop/webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/changes.h"
#include "leadloop/conditional.h"
#include "leadloop/jsonv.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/resource.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"
#include "leadloop/webhook_client.h"

#define WEBHOOK_COLUMNS                                                                            \
    "id, url, description, to_json(types)::text, active, disabled_reason, CASE WHEN "              \
    "previous_expires_at > now() THEN " DB_TS("previous_expires_at") " END, " DB_TS(               \
        "failing_since") ", version, " DB_TS("created_at") ", " DB_TS("updated_at")
#define COL_VERSION 8
/* WEBHOOK_COLUMNS compares with now() and calls to_json, neither IMMUTABLE: a write selects
 * them from its RETURNING * (Citus refuses them in RETURNING itself). */

static bool allow_private;
static const char not_found[] = "no webhook with this id";

static const char sql_insert[] =
    "WITH e AS (INSERT INTO webhook_endpoints (workspace_id, url, description, types, active,"
    " secret) VALUES ($1, $2, $3, ll_json_texts($4::jsonb), coalesce($5::boolean, true), $6) "
    "RETURNING *),"
    " c AS (INSERT INTO webhook_cursors (workspace_id, endpoint_id) SELECT workspace_id, id FROM e)"
    " SELECT " WEBHOOK_COLUMNS " FROM e";
static const char sql_get[] =
    "SELECT " WEBHOOK_COLUMNS " FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2";
static const char sql_version[] =
    "SELECT version FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2";
/* $3 url, $4 description given, $5 description, $6 types, $7 active, $8 If-Match version.
 * Turning it on again clears why the daemon turned it off. Types absent ($6 NULL) keep the
 * list: ARRAY() of no rows is '{}' (every type), not NULL, so coalesce would not. */
static const char sql_update[] =
    "WITH w AS (UPDATE webhook_endpoints SET url = coalesce($3, url),"
    " description = CASE WHEN $4::boolean THEN $5 ELSE description END,"
    " types = CASE WHEN $6::jsonb IS NULL THEN types"
    " ELSE ARRAY(SELECT jsonb_array_elements_text($6::jsonb)) END,"
    " active = coalesce($7::boolean, active),"
    " disabled_reason = CASE WHEN $7::boolean THEN NULL ELSE disabled_reason END,"
    " failing_since = CASE WHEN $7::boolean AND NOT active THEN NULL ELSE failing_since END,"
    " version = version + 1, updated_at = now()"
    " WHERE workspace_id = $1 AND id = $2 AND ($8::integer IS NULL OR version = $8)"
    " RETURNING *) SELECT " WEBHOOK_COLUMNS " FROM w";
static const char sql_delete[] = "DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2"
                                 " AND ($3::integer IS NULL OR version = $3) RETURNING id";
/* The old secret keeps signing (beside the new one) for $4 seconds. */
static const char sql_rotate[] =
    "WITH w AS (UPDATE webhook_endpoints SET previous_secret = secret, secret = $3,"
    " previous_expires_at = now() + make_interval(secs => $4::integer),"
    " version = version + 1, updated_at = now()"
    " WHERE workspace_id = $1 AND id = $2 AND ($5::integer IS NULL OR version = $5)"
    " RETURNING *) SELECT " WEBHOOK_COLUMNS " FROM w";
static const char sql_ping[] =
    "INSERT INTO webhook_deliveries AS d (workspace_id, endpoint_id, type, payload)"
    " SELECT e.workspace_id, e.id, 'webhook.ping', json_build_object('type', 'webhook.ping',"
    " 'webhook_id', e.id, 'occurred_at', " DB_TS(
        "now()") ")::text"
                 " FROM webhook_endpoints e WHERE e.workspace_id = $1 AND e.id = $2"
                 " RETURNING " WEBHOOK_DELIVERY_RETURNING;
static const char sql_redeliver[] =
    "UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now()"
    " WHERE d.workspace_id = $1 AND d.endpoint_id = $2 AND d.id = $3"
    " RETURNING " WEBHOOK_DELIVERY_RETURNING;
static const char sql_endpoint_exists[] =
    "SELECT 1 FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2";

static const struct sort_key sorts[] = {{"created_at", "created_at", "timestamptz"}, {NULL}};
static const struct sort_key delivery_sorts[] = {{"created_at", "d.created_at", "timestamptz"},
                                                 {NULL}};
static const char *const fields[] = {"url", "description", "types", "active", NULL};
static const char *const readonly[] = {
    "id",         "secret",        "disabled_reason", "version", "created_at",
    "updated_at", "failing_since", "secret_rotation", NULL};

void webhooks_configure(bool private_ok)
{
    allow_private = private_ok;
}

static json_t *webhook_json(const PGresult *res, int row)
{
    json_t *types = json_loads(PQgetvalue(res, row, 3), 0, NULL);
    json_t *rotation = PQgetisnull(res, row, 6)
                           ? json_null()
                           : json_pack("{s:o}", "previous_expires_at", db_json_text(res, row, 6));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                     db_json_text(res, row, 0), "url", db_json_text(res, row, 1), "description",
                     db_json_text(res, row, 2), "types", types ? types : json_array(), "active",
                     db_json_bool(res, row, 4), "disabled_reason", db_json_text(res, row, 5),
                     "secret_rotation", rotation, "failing_since", db_json_text(res, row, 7),
                     "version", db_json_int(res, row, COL_VERSION), "created_at",
                     db_json_text(res, row, 9), "updated_at", db_json_text(res, row, 10));
}

json_t *webhooks_delivery_json(const PGresult *res, int row)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                     db_json_text(res, row, 0), "webhook_id", db_json_text(res, row, 1), "type",
                     db_json_text(res, row, 2), "seq", db_json_int(res, row, 3), "status",
                     db_json_text(res, row, 4), "attempts", db_json_int(res, row, 5),
                     "next_attempt_at", db_json_text(res, row, 6), "last_attempt_at",
                     db_json_text(res, row, 7), "last_status", db_json_int(res, row, 8),
                     "last_error", db_json_text(res, row, 9), "delivered_at",
                     db_json_text(res, row, 10), "created_at", db_json_text(res, row, 11));
}

static void answer(struct request *r, int status, const PGresult *res, const char *secret)
{
    json_t *o = webhook_json(res, 0);
    reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, COL_VERSION));
    if (status == 201)
        reply_header(r, "Location", "/v1/webhooks/%s", PQgetvalue(res, 0, 0));
    if (secret)
        json_object_set_new(o, "secret", json_string(secret));
    reply_json(r, status, o);
}

/* The body's url (checked: scheme, length, where it resolves) and types (each a known
 * change type; none: every type). *types_out is new JSON text or NULL when absent. */
static void read_fields(struct jv *v, json_t *body, bool create, const char **url, char **types_out,
                        const char **description, bool *desc_null, bool *has_active, bool *active)
{
    json_t *types = NULL;
    *types_out = NULL;
    if (jv_string(v, body, "url", create, 8, 2048, url)) {
        const char *why = webhook_client_url_check(*url, allow_private);
        if (why)
            jv_add(v, "url", "%s", why);
    }
    if (jv_string_set(v, body, "types", false, 32, 64, &types)) {
        size_t i;
        json_t *t;
        json_array_foreach(types, i, t)
        {
            char buf[80];
            const char *list[2], *bad;
            if (!changes_types_parse(json_string_value(t), buf, sizeof buf, list, 1, &bad) ||
                strchr(json_string_value(t), '*'))
                jv_add(v, "types", "names an unknown change type: %.64s", json_string_value(t));
        }
        *types_out = json_dumps(types, JSON_COMPACT);
    }
    jv_text(v, body, "description", false, true, 0, 500, description, desc_null);
    *has_active = jv_bool(v, body, "active", false, active);
}

void webhooks_create(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *url = NULL, *description = NULL;
    char *types = NULL, secret[WEBHOOK_SECRET_LEN + 1] = "";
    bool desc_null = false, has_active = false, active = true;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, fields, readonly);
    read_fields(&v, body, true, &url, &types, &description, &desc_null, &has_active, &active);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the webhook is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (!webhook_client_secret_new(secret)) {
        reply_problem(r, LL_E_INTERNAL, "no random secret could be made", NULL, NULL);
        goto out;
    }
    const char *vals[6] = {r->auth.workspace_id,
                           url,
                           desc_null ? NULL : description,
                           types,
                           has_active ? (active ? "true" : "false") : NULL,
                           secret};
    res = db_exec(r->db, sql_insert, 6, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else
        answer(r, 201, res, secret);
out:
    memset(secret, 0, sizeof secret);
    free(types);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void webhooks_list(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, sorts, "created_at"))
        return;
    list_begin(&q, "SELECT " WEBHOOK_COLUMNS ", ", &l);
    qb_addp(&q, ", id FROM webhook_endpoints WHERE workspace_id = $?", r->auth.workspace_id);
    list_apply(&q, &l, "id");
    list_answer(r, &q, &l, webhook_json);
    qb_free(&q);
}

void webhooks_get(struct request *r)
{
    PGresult *res = req_fetch_by_id(r, sql_get, not_found);
    if (res)
        answer(r, 200, res, NULL);
    PQclear(res);
}

/* A conditional write that matched no row: 404, 412 or 409 (conditional.h). */
static void answer_no_row(struct request *r, const struct conditional *cond)
{
    long current = 0;
    enum ll_err err =
        conditional_no_row(r->db, sql_version, r->auth.workspace_id, r->params[0], cond, &current);
    conditional_reply(r, err, current, not_found, "the resource changed meanwhile; retry");
}

void webhooks_update(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    const char *url = NULL, *description = NULL;
    char *types = NULL;
    struct conditional cond;
    bool desc_null = false, has_active = false, active = false;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL))
        goto out;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        goto out;
    }
    if (!(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, fields, readonly);
    if (json_is_null(json_object_get(body, "url")))
        jv_add(&v, "url", "cannot be removed (null)");
    else if (json_is_null(json_object_get(body, "active")))
        jv_add(&v, "active", "cannot be removed (null)");
    else if (json_is_null(json_object_get(body, "types")))
        jv_add(&v, "types", "cannot be removed (null); [] means every type");
    if (jv_ok(&v))
        read_fields(&v, body, false, &url, &types, &description, &desc_null, &has_active, &active);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the change is not valid", jv_take(&v), NULL);
        goto out;
    }
    bool desc_given = json_object_get(body, "description") != NULL;
    conditional_from_request(&cond, r);
    const char *vals[8] = {r->auth.workspace_id,
                           r->params[0],
                           url,
                           desc_given ? "true" : "false",
                           desc_null ? NULL : description,
                           types,
                           has_active ? (active ? "true" : "false") : NULL,
                           conditional_param(&cond)};
    res = db_exec(r->db, sql_update, 8, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        answer_no_row(r, &cond);
    else
        answer(r, 200, res, NULL);
out:
    free(types);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void webhooks_delete(struct request *r)
{
    PGresult *res;
    struct conditional cond;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        return;
    }
    conditional_from_request(&cond, r);
    const char *vals[3] = {r->auth.workspace_id, r->params[0], conditional_param(&cond)};
    res = db_exec(r->db, sql_delete, 3, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        answer_no_row(r, &cond);
    else
        reply_empty(r, 204);
    PQclear(res);
}

/* A POST whose body may be absent or an object; false when it answered. */
static bool optional_body(struct request *r, json_t **body)
{
    *body = NULL;
    if (!r->body_present || r->body_len == 0)
        return true;
    return (*body = req_json_object(r)) != NULL;
}

void webhooks_rotate_secret(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    char secret[WEBHOOK_SECRET_LEN + 1] = "", keep[24] = "86400";
    struct conditional cond;
    bool is_null = false;
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !optional_body(r, &body))
        goto out;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        goto out;
    }
    if (body) {
        jv_known(&v, body, (const char *const[]){"previous_valid_for_s", NULL}, NULL);
        jv_int(&v, body, "previous_valid_for_s", false, false, 0, 604800, keep, &is_null);
    }
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the rotation is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (!webhook_client_secret_new(secret)) {
        reply_problem(r, LL_E_INTERNAL, "no random secret could be made", NULL, NULL);
        goto out;
    }
    conditional_from_request(&cond, r);
    const char *vals[5] = {r->auth.workspace_id, r->params[0], secret, keep,
                           conditional_param(&cond)};
    res = db_exec(r->db, sql_rotate, 5, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        answer_no_row(r, &cond);
    else
        answer(r, 200, res, secret);
out:
    memset(secret, 0, sizeof secret);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void webhooks_ping(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    enum ll_err err;
    if (!req_query_allowed(r, NULL) || !optional_body(r, &body))
        goto out;
    if (body && json_object_size(body) > 0) {
        reply_problem(r, LL_E_VALIDATION, "a ping takes no fields",
                      json_pack("[{s:s, s:s}]", "field",
                                json_object_iter_key(json_object_iter(body)), "message",
                                "is not a field of a ping"),
                      NULL);
        goto out;
    }
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        goto out;
    }
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    res = db_exec(r->db, sql_ping, 2, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
    else
        reply_json(r, 202, webhooks_delivery_json(res, 0));
out:
    PQclear(res);
    json_decref(body);
}

void webhooks_deliveries(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort", "status", NULL};
    static const char *const *const statuses = vocab_delivery_statuses;
    const char *status = req_query(r, "status");
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, delivery_sorts, "-created_at"))
        return;
    if (status && !jv_in_list(status, statuses)) {
        (void)reply_bad_param(r, "status", "must be pending, delivered or failed");
        return;
    }
    if (!req_owned(r, sql_endpoint_exists, not_found))
        return;
    list_begin(&q, "SELECT " WEBHOOK_DELIVERY_COLUMNS ", ", &l);
    qb_addp(&q, ", d.id FROM webhook_deliveries d WHERE d.workspace_id = $?", r->auth.workspace_id);
    qb_addp(&q, " AND d.endpoint_id = $?", r->params[0]);
    if (status)
        qb_addp(&q, " AND d.status = $?", status);
    list_apply(&q, &l, "d.id");
    list_answer(r, &q, &l, webhooks_delivery_json);
    qb_free(&q);
}

void webhooks_redeliver(struct request *r)
{
    PGresult *res = NULL;
    enum ll_err err;
    json_t *body = NULL;
    if (!req_query_allowed(r, NULL) || !optional_body(r, &body))
        goto out;
    if (body && json_object_size(body) > 0) {
        reply_problem(r, LL_E_VALIDATION, "a redelivery takes no fields",
                      json_pack("[{s:s, s:s}]", "field",
                                json_object_iter_key(json_object_iter(body)), "message",
                                "is not a field of a redelivery"),
                      NULL);
        goto out;
    }
    if (!util_is_uuid(r->params[0]) || !util_is_uuid(r->params[1])) {
        reply_problem(r, LL_E_NOT_FOUND, "no delivery with this id for this webhook", NULL, NULL);
        goto out;
    }
    const char *vals[3] = {r->auth.workspace_id, r->params[0], r->params[1]};
    res = db_exec(r->db, sql_redeliver, 3, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, "no delivery with this id for this webhook", NULL, NULL);
    else
        reply_json(r, 202, webhooks_delivery_json(res, 0));
out:
    PQclear(res);
    json_decref(body);
}
