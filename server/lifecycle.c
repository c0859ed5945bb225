/* The lifecycle. Forward along the funnel (new < mql < sales_accepted < sales_qualified <
 * opportunity < customer), any open stage to recycled or disqualified (disqualified with
 * a reason), recycled back to mql, a customer to opportunity for its next deal, and a
 * disqualified lead back to marketing as recycled (stages.c has the rules). A transition
 * locks the lead, checks the move, and moves it with ll_lead_move (sql/functions/75_lead_move.sql:
 * the stage and its history row; the change feed row comes from its trigger), in one
 * transaction that is run again when it meets a deadlock (db_tx_run). */
#include "leadloop/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/auth.h"
#include "leadloop/conditional.h"
#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/lead_route.h"
#include "leadloop/leads.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/stages.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

static const char not_found[] = "no lead with this id";

#define CHANGE_COLUMNS                                                                             \
    "s.id, s.lead_id, s.from_stage, s.to_stage, s.reason, s.by_key_id, s.by_user_id, " DB_TS(      \
        "s.changed_at")

/* The lead, locked, and for a dated move ($3, else NULL): whether it comes before the
 * lead's creation or last move (then that time), or more than 5 minutes ahead. Every table
 * by workspace_id = $1 itself: Citus locks rows (FOR UPDATE) only in a statement it can
 * route by that constant. */
static const char sql_lock[] =
    "SELECT stage, version, erased_at IS NOT NULL, merged_into,"
    " CASE WHEN $3::timestamptz < h.last THEN " DB_TS(
        "h.last") " END,"
                  " coalesce($3::timestamptz > now() + interval '5 minutes', false)"
                  " FROM leads l CROSS JOIN LATERAL (SELECT greatest(l.created_at, (SELECT "
                  "max(changed_at)"
                  " FROM lead_stage_changes s WHERE s.workspace_id = $1 AND s.lead_id "
                  "= l.id))"
                  " AS last) h WHERE l.workspace_id = $1 AND l.id = $2 FOR UPDATE OF l";
/* $1 ws, $2 lead, $3 to, $4 reason, $5 key, $6 user, $7 when (NULL: now): the lead as moved
 * (LEAD_COLUMNS), then its history row (CHANGE_COLUMNS). */
static const char sql_move[] =
    "WITH m AS (SELECT * FROM ll_lead_move($1::uuid, $2::uuid, $3, $4, $5::uuid, $6::uuid, NULL,"
    " $7::timestamptz))"
    " SELECT l.*, c.* FROM (SELECT " LEAD_COLUMNS " FROM (SELECT (m.moved).* FROM m) u) l,"
    " (SELECT " CHANGE_COLUMNS " FROM (SELECT (m.change).* FROM m) s) c";

/* A stage change as the API shows it; columns from `first` on (CHANGE_COLUMNS). */
static json_t *change_json_at(const PGresult *res, int row, int first)
{
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:{s:o, s:o}, s:o}", "id", db_json_text(res, row, first),
        "lead_id", db_json_text(res, row, first + 1), "from", db_json_text(res, row, first + 2),
        "to", db_json_text(res, row, first + 3), "reason", db_json_text(res, row, first + 4),
        "changed_by", "api_key_id", db_json_text(res, row, first + 5), "user_id",
        db_json_text(res, row, first + 6), "changed_at", db_json_text(res, row, first + 7));
}

static json_t *change_json(const PGresult *res, int row)
{
    return change_json_at(res, row, 0);
}

/* A transition: what it asks, and what came of it. */
struct transition {
    const struct auth_ctx *auth;
    const char *lead, *to, *reason, *at;
    struct conditional cond;
    /* the outcome: refused (with why), or res */
    enum ll_err refused;  /* LL_OK, or NOT_FOUND, MERGED, GONE, PRECONDITION, CONFLICT,
                             VALIDATION (at: too early or ahead) */
    char last[40];        /* VALIDATION: the lead's last move, or "" when at is ahead */
    char stage[32];       /* the lead's stage (CONFLICT: the move is not allowed from it) */
    char merged_into[37]; /* MERGED */
    long version;         /* PRECONDITION: the lead's version */
    PGresult *res;        /* LL_OK: sql_move's row (new) */
};

/* Locks the lead, checks it and the move, moves it. Returns LL_OK, the refusal (also in
 * t->refused; nothing written) or the database's failure. */
static enum ll_err transition_step(struct db_conn *db, struct transition *t)
{
    const char *lv[3] = {t->auth->workspace_id, t->lead, t->at};
    PGresult *res;
    enum ll_err err;
    PQclear(t->res);
    t->res = NULL;
    t->refused = LL_OK;
    res = db_exec(db, sql_lock, 3, lv);
    if ((err = db_check(db, res)) != LL_OK) {
        PQclear(res);
        return err;
    }
    if (PQntuples(res) == 0) {
        t->refused = LL_E_NOT_FOUND;
    } else if (!PQgetisnull(res, 0, 3)) {
        t->refused = LL_E_MERGED;
        snprintf(t->merged_into, sizeof t->merged_into, "%s", PQgetvalue(res, 0, 3));
    } else if (PQgetvalue(res, 0, 2)[0] == 't') {
        t->refused = LL_E_GONE;
    } else if (!conditional_allows(&t->cond, t->version = atol(PQgetvalue(res, 0, 1)))) {
        t->refused = LL_E_PRECONDITION;
    } else if (snprintf(t->stage, sizeof t->stage, "%s", PQgetvalue(res, 0, 0)) &&
               !stages_allowed(t->stage, t->to)) {
        t->refused = LL_E_CONFLICT;
    } else if (!PQgetisnull(res, 0, 4) || PQgetvalue(res, 0, 5)[0] == 't') {
        t->refused = LL_E_VALIDATION; /* history is written in order, and not ahead */
        snprintf(t->last, sizeof t->last, "%s", PQgetvalue(res, 0, 4));
    }
    PQclear(res);
    if (t->refused)
        return t->refused; /* nothing written: rolled back */
    const char *mv[7] = {t->auth->workspace_id,
                         t->lead,
                         t->to,
                         t->reason,
                         auth_key_or_null(t->auth),
                         t->auth->user_id[0] ? t->auth->user_id : NULL,
                         t->at};
    t->res = db_exec(db, sql_move, 7, mv);
    return db_check(db, t->res);
}

/* The domain of one transition, run by db_tx_run. */
static enum ll_err transition_run(struct db_conn *db, void *arg)
{
    return transition_step(db, arg);
}

/* 409 naming the stages a lead in t->stage may move to; where (NULL, or the move's place
 * in a list, "transitions[2]") leads the detail. */
static void answer_not_allowed(struct request *r, const struct transition *t, const char *where)
{
    const char *targets[8];
    char detail[340];
    size_t n = stages_targets(t->stage, targets);
    json_t *allowed = json_array();
    int len = snprintf(detail, sizeof detail, "%s%sa lead in stage %s cannot move to %s; ",
                       where ? where : "", where ? ": " : "", t->stage, t->to);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(allowed, json_string(targets[i]));
        len += snprintf(detail + len, sizeof detail - (size_t)len, "%s%s",
                        i ? ", " : "allowed: ", targets[i]);
    }
    reply_problem(r, LL_E_CONFLICT, detail, NULL,
                  json_pack("{s:s, s:o}", "stage", t->stage, "allowed", allowed));
}

/* Reads a move's fields from obj into t (at required or not), its errors into v named
 * as in obj. */
static void transition_read(struct jv *v, json_t *obj, bool at_required, struct transition *t)
{
    jv_known(v, obj, (const char *const[]){"to", "reason", "at", NULL}, NULL);
    jv_enum(v, obj, "to", true, vocab_stages, &t->to);
    jv_timestamp(v, obj, "at", at_required, &t->at);
    if (!json_is_null(json_object_get(obj, "reason")))
        jv_string(v, obj, "reason", false, 1, 500, &t->reason);
    if (t->to && !strcmp(t->to, "disqualified") && !t->reason)
        jv_add(v, "reason", "is required to disqualify a lead");
}

/* Answers a move the domain refused (t->refused, not LL_OK); where is NULL for a single
 * transition, else the move's place in a list ("transitions[2]"), which the answer names. */
static void answer_refused(struct request *r, const struct transition *t, const char *where)
{
    char field[64], msg[120];
    if (t->refused == LL_E_MERGED) {
        lead_route_merged(r, r->params[0], t->merged_into);
    } else if (t->refused == LL_E_GONE) {
        reply_problem(r, LL_E_GONE, "this lead was erased", NULL, NULL);
    } else if (t->refused == LL_E_CONFLICT) {
        answer_not_allowed(r, t, where);
    } else if (t->refused == LL_E_VALIDATION) { /* at: before the last move, or ahead */
        snprintf(field, sizeof field, "%s%sat", where ? where : "", where ? "." : "");
        if (t->last[0])
            snprintf(msg, sizeof msg, "must not be before the lead's creation or last move, %s",
                     t->last);
        else
            snprintf(msg, sizeof msg, "must not be more than 5 minutes ahead");
        reply_problem(r, LL_E_VALIDATION,
                      where ? "the history is not valid" : "the transition is not valid",
                      json_pack("[{s:s, s:s}]", "field", field, "message", msg), NULL);
    } else {
        conditional_reply(r, t->refused, t->version, not_found, NULL);
    }
}

void lifecycle_transition(struct request *r)
{
    json_t *body = NULL;
    struct transition t = {.auth = &r->auth, .lead = r->params[0]};
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
    transition_read(&v, body, false, &t);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the transition is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (t.at && !auth_may_import(&r->auth)) { /* a dated move is history */
        reply_problem(r, LL_E_FORBIDDEN, leads_history_refused, leads_history_errors("at"), NULL);
        goto out;
    }
    conditional_from_request(&t.cond, r);
    err = db_tx_run(r->db, transition_run, &t);
    if (t.refused) {
        answer_refused(r, &t, NULL);
    } else if (err) {
        reply_db_error(r, err);
    } else {
        json_t *change = change_json_at(t.res, 0, LEAD_NCOLS);
        json_object_set_new(change, "lead", leads_json(t.res, 0));
        reply_header(r, "ETag", "\"%s\"", PQgetvalue(t.res, 0, LEAD_COL_VERSION));
        reply_header(r, "Location", "/v1/leads/%s/history", r->params[0]);
        reply_json(r, 201, change);
    }
out:
    PQclear(t.res);
    json_decref(body);
    jv_free(&v);
}

/* ------------------------------------------------------ a history brought in */

#define HISTORY_MAX 100 /* moves in one POST /v1/leads/{id}/history */

/* A lead's stage history from another CRM: its dated moves, oldest first. */
struct history {
    struct transition moves[HISTORY_MAX];
    size_t n;
    size_t at; /* the move being made, or the one refused */
};

/* The domain, run by db_tx_run: each move as a transition makes it, in order, in one
 * transaction; the first one refused ends it, and nothing of the list is written. */
static enum ll_err history_run(struct db_conn *db, void *arg)
{
    struct history *h = arg;
    enum ll_err err = LL_OK;
    for (size_t i = 0; i < h->n; i++) { /* run again after a deadlock: from the start */
        PQclear(h->moves[i].res);
        h->moves[i].res = NULL;
        h->moves[i].refused = LL_OK;
    }
    for (h->at = 0; h->at < h->n; h->at++)
        if ((err = transition_step(db, &h->moves[h->at])) != LL_OK)
            break;
    return err;
}

/* Reads move i of the list into t (as a transition, with at required), its errors named
 * transitions[i].<field> in v. */
static void history_read(struct jv *v, json_t *item, size_t i, struct transition *t)
{
    struct jv one;
    char prefix[48];
    json_t *e;
    size_t k;

    snprintf(prefix, sizeof prefix, "transitions[%zu]", i);
    if (!json_is_object(item)) {
        jv_add(v, prefix, "must be an object");
        return;
    }
    jv_init(&one);
    transition_read(&one, item, true, t);
    json_array_foreach(one.errors, k, e)
    {
        char field[96];
        snprintf(field, sizeof field, "%s.%s", prefix,
                 json_string_value(json_object_get(e, "field")));
        jv_add(v, field, "%s", json_string_value(json_object_get(e, "message")));
    }
    jv_free(&one);
}

/* POST /v1/leads/{id}/history: a lead's stage history from another CRM, a list of dated
 * moves, oldest first, made in one transaction under the lifecycle's rules, each dated
 * not before the one before it. A move that would be refused alone refuses the list,
 * naming its place in it; then nothing is written. History, so for an admin key or a key
 * with import only. */
void lifecycle_history_import(struct request *r)
{
    json_t *body = NULL, *list, *item;
    struct history *h = NULL;
    struct jv v;
    enum ll_err err;
    size_t i;

    jv_init(&v);
    if (!req_query_allowed(r, NULL))
        goto out;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        goto out;
    }
    if (!(body = req_json_object(r)))
        goto out;
    if (!auth_may_import(&r->auth)) { /* as the role check refuses, with the key's role */
        reply_problem(r, LL_E_FORBIDDEN, leads_history_refused, leads_history_errors("transitions"),
                      json_pack("{s:s}", "role", auth_role_name(r->auth.role)));
        goto out;
    }
    if (!(h = calloc(1, sizeof *h))) {
        reply_db_error(r, LL_E_INTERNAL);
        goto out;
    }
    jv_known(&v, body, (const char *const[]){"transitions", NULL}, NULL);
    list = json_object_get(body, "transitions");
    if (!json_is_array(list) || json_array_size(list) < 1 || json_array_size(list) > HISTORY_MAX) {
        jv_add(&v, "transitions", "is required: an array of 1 to %d moves, oldest first",
               HISTORY_MAX);
    } else {
        h->n = json_array_size(list);
        json_array_foreach(list, i, item)
        {
            h->moves[i].auth = &r->auth;
            h->moves[i].lead = r->params[0];
            history_read(&v, item, i, &h->moves[i]);
        }
    }
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the history is not valid", jv_take(&v), NULL);
        goto out;
    }
    conditional_from_request(&h->moves[0].cond, r); /* the lead as it is before the first */
    err = db_tx_run(r->db, history_run, h);
    struct transition *t = &h->moves[h->at < h->n ? h->at : h->n - 1];
    char where[48];
    snprintf(where, sizeof where, "transitions[%zu]", h->at);
    if (t->refused) {
        answer_refused(r, t, where);
    } else if (err) {
        reply_db_error(r, err);
    } else {
        json_t *data = json_array();
        for (i = 0; i < h->n; i++)
            json_array_append_new(data, change_json_at(h->moves[i].res, 0, LEAD_NCOLS));
        reply_header(r, "ETag", "\"%s\"", PQgetvalue(t->res, 0, LEAD_COL_VERSION));
        reply_header(r, "Location", "/v1/leads/%s/history", r->params[0]);
        reply_json(r, 201, json_pack("{s:o, s:o}", "data", data, "lead", leads_json(t->res, 0)));
    }
out:
    for (i = 0; h && i < h->n; i++)
        PQclear(h->moves[i].res);
    free(h);
    json_decref(body);
    jv_free(&v);
}

static const struct sort_key history_sorts[] = {{"changed_at", "s.changed_at", "timestamptz"},
                                                {NULL, NULL, NULL}};

void lifecycle_history(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort", NULL};
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, history_sorts, "changed_at") ||
        !lead_route_found(r))
        return;
    list_begin(&q, "SELECT " CHANGE_COLUMNS ", ", &l);
    qb_addp(&q, ", s.id FROM lead_stage_changes s WHERE s.workspace_id = $?", r->auth.workspace_id);
    qb_addp(&q, " AND s.lead_id = $?", r->params[0]);
    list_apply(&q, &l, "s.id");
    list_answer(r, &q, &l, change_json);
    qb_free(&q);
}

/* The lead's entries (touches, stage changes, feedback, field edits, merges), each
 * rendered by PostgreSQL into the item of its type: ll_lead_timeline, sql/0014_merge.sql. */
static const char sql_timeline[] = "SELECT x.type, " DB_TS("x.at") ", x.item, ";
static const char sql_timeline_from[] =
    ", x.id FROM ll_lead_timeline($?::uuid, $?::uuid) x WHERE true";
static const struct sort_key timeline_sorts[] = {{"at", "x.at", "timestamptz"}, {NULL, NULL, NULL}};

static json_t *timeline_json(const PGresult *res, int row)
{
    json_t *item = json_loads(PQgetvalue(res, row, 2), 0, NULL);
    return json_pack("{s:o, s:o, s:o}", "type", db_json_text(res, row, 0), "at",
                     db_json_text(res, row, 1), PQgetvalue(res, row, 0), item ? item : json_null());
}

void lifecycle_timeline(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort", NULL};
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, timeline_sorts, "-at") ||
        !lead_route_found(r))
        return;
    list_begin(&q, sql_timeline, &l);
    const char *sub[2] = {r->auth.workspace_id, r->params[0]};
    qb_addpv(&q, sql_timeline_from, 2, sub);
    list_apply(&q, &l, "x.id");
    list_answer(r, &q, &l, timeline_json);
    qb_free(&q);
}
