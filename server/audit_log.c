/* GET /v1/audit: the rows the audit triggers wrote (sql/0009_audit.sql), one workspace's,
 * filtered and paged like every list (list.c). Each row is written to JSON text straight
 * from its columns; old and new are embedded as PostgreSQL prints them. */
#include "leadloop/audit_log.h"

#include <string.h>

#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/jw.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

#define AUDIT_COLUMNS                                                                              \
    "id, " DB_TS("created_at") ", actor, api_key_id, api_key_prefix, user_id, db_user,"            \
                               " request_id, host(client_addr), method, route, entity, entity_id," \
                               " lead_id, operation, old, new, coalesce(to_json(redacted), '[]')"

static const struct sort_key sorts[] = {{"created_at", "created_at", "timestamptz"},
                                        {NULL, NULL, NULL}};
static const char *const entities[] = {"workspace",
                                       "user",
                                       "api_key",
                                       "campaign",
                                       "lead",
                                       "touch",
                                       "feedback",
                                       "stage_change",
                                       "feedback_reason",
                                       "webhook",
                                       "invitation",
                                       "interaction",
                                       "sla_goal",
                                       NULL};
/* The entities whose rows carry their lead's id as their subject (audit_log_by_subject). */
static const char *const lead_parts[] = {"touch", "feedback", "stage_change", "interaction", NULL};
static const char *const operations[] = {"create", "update",  "delete",     "erase",
                                         "revoke", "archive", "transition", NULL};
static const char *const *const actors = vocab_audit_actors;

static void audit_write(struct jw *w, const PGresult *res, int row)
{
    jw_lit(w, "{");
    jw_text(w, "id", res, row, 0);
    jw_text(w, "created_at", res, row, 1);
    jw_lit(w, ",\"actor\":{");
    jw_text(w, "type", res, row, 2);
    jw_text(w, "api_key_id", res, row, 3);
    jw_text(w, "api_key_prefix", res, row, 4);
    jw_text(w, "user_id", res, row, 5);
    jw_text(w, "db_user", res, row, 6);
    jw_lit(w, "},\"request\":{");
    jw_text(w, "id", res, row, 7);
    jw_text(w, "client_addr", res, row, 8);
    jw_text(w, "method", res, row, 9);
    jw_text(w, "route", res, row, 10);
    jw_lit(w, "}");
    jw_text(w, "entity", res, row, 11);
    jw_text(w, "entity_id", res, row, 12);
    jw_text(w, "lead_id", res, row, 13);
    jw_text(w, "operation", res, row, 14);
    jw_json(w, "old", res, row, 15);
    jw_json(w, "new", res, row, 16);
    jw_json(w, "redacted", res, row, 17);
    jw_lit(w, "}");
}

void audit_log_list(struct request *r)
{
    static const char *const allowed[] = {
        "limit",   "cursor",    "sort",  "entity", "entity_id", "lead_id",    "api_key_id",
        "user_id", "operation", "actor", "since",  "until",     "request_id", NULL};
    static const char *const uuids[] = {"lead_id", "api_key_id", "user_id"};
    static const char *const uuid_sql[] = {" AND lead_id = $?::uuid", " AND api_key_id = $?::uuid",
                                           " AND user_id = $?::uuid"};
    static const char *const times[] = {"since", "until"};
    static const char *const time_sql[] = {" AND created_at >= $?::timestamptz",
                                           " AND created_at < $?::timestamptz"};
    const char *entity = req_query(r, "entity"), *entity_id = req_query(r, "entity_id");
    const char *operation = req_query(r, "operation"), *actor = req_query(r, "actor");
    const char *lead_id = req_query(r, "lead_id"), *request_id = req_query(r, "request_id");
    struct listing l;
    struct qb q;

    if (!req_query_allowed(r, allowed) || !list_params(r, &l, sorts, "-created_at"))
        return;
    if (entity && !jv_in_list(entity, entities)) {
        reply_bad_param(r, "entity", "is not an audited entity");
        return;
    }
    if (entity_id && (!util_utf8_valid(entity_id, strlen(entity_id)) ||
                      jv_utf8_chars(entity_id) < 1 || jv_utf8_chars(entity_id) > 200)) {
        reply_bad_param(r, "entity_id", "must be 1 to 200 characters");
        return;
    }
    if (operation && !jv_in_list(operation, operations)) {
        reply_bad_param(r, "operation", "is not an audited operation");
        return;
    }
    if (actor && !jv_in_list(actor, actors)) {
        reply_bad_param(r, "actor", "must be api_key, cli or sql");
        return;
    }
    if (request_id && !http_request_id_ok(request_id)) {
        reply_bad_param(r, "request_id", "must be 1 to 128 of A-Z a-z 0-9 . _ : -");
        return;
    }
    for (int i = 0; i < 3; i++) {
        const char *v = req_query(r, uuids[i]);
        if (v && !util_is_uuid(v)) {
            reply_bad_param(r, uuids[i], "must be a UUID");
            return;
        }
    }
    for (int i = 0; i < 2; i++) {
        const char *v = req_query(r, times[i]);
        if (v && !jv_timestamp_valid(v)) {
            reply_bad_param(r, times[i], "must be an RFC 3339 timestamp with a time zone");
            return;
        }
    }
    list_begin(&q, "SELECT " AUDIT_COLUMNS ", ", &l);
    qb_addp(&q, ", id FROM audit_log WHERE workspace_id = $?", r->auth.workspace_id);
    /* A lead's rows, and an entity's that is not a part of a lead, have their id as their
     * subject: said so, the index on it finds them. */
    if (lead_id)
        qb_addp(&q, " AND coalesce(lead_id::text, entity_id) = $?", lead_id);
    else if (entity_id && entity && !jv_in_list(entity, lead_parts))
        qb_addp(&q, " AND coalesce(lead_id::text, entity_id) = $?", entity_id);
    if (entity)
        qb_addp(&q, " AND entity = $?", entity);
    if (entity_id)
        qb_addp(&q, " AND entity_id = $?", entity_id);
    if (operation)
        qb_addp(&q, " AND operation = $?", operation);
    if (actor)
        qb_addp(&q, " AND actor = $?", actor);
    if (request_id)
        qb_addp(&q, " AND request_id = $?", request_id);
    for (int i = 0; i < 3; i++)
        if (req_query(r, uuids[i]))
            qb_addp(&q, uuid_sql[i], req_query(r, uuids[i]));
    for (int i = 0; i < 2; i++)
        if (req_query(r, times[i]))
            qb_addp(&q, time_sql[i], req_query(r, times[i]));
    list_apply(&q, &l, "id");
    list_answer_w(r, &q, &l, audit_write);
    qb_free(&q);
}
