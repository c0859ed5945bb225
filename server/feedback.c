/* Feedback: sales' verdict on a lead, recorded as an event and moving the lead's stage
 * in the same transaction (accepted -> sales_accepted, won -> customer, rejected / lost /
 * recycled -> recycled or disqualified as the reason says) with ll_lead_move, the one home
 * of a stage change and its history row (sql/functions/75_lead_move.sql). Corrections are new
 * events: a correction names the won or lost entry of the same lead whose amount it
 * replaces in the reports, and moves nothing. */
#include "leadloop/feedback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/auth.h"
#include "leadloop/conditional.h"
#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/lead_route.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/stages.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

/* The lead, locked, with what the checks need: its stage, whether erased, whether
 * occurred_at ($3) is in the future, the workspace's currency, the lead it was merged
 * into, and whether it was ever a customer (a lost deal then leaves it one). */
static const char sql_lock[] =
    "SELECT l.stage, l.erased_at IS NOT NULL, coalesce($3::timestamptz > now() + interval"
    " '1 minute', false), w.currency, l.merged_into, EXISTS (SELECT 1 FROM"
    " lead_stage_changes s WHERE s.workspace_id = $1 AND s.lead_id = $2"
    " AND s.to_stage = 'customer')"
    " FROM leads l JOIN workspaces w ON w.id = l.workspace_id"
    " WHERE l.workspace_id = $1 AND l.id = $2 FOR UPDATE OF l";
/* The entry a correction names ($2), if it is of the workspace: its lead and kind. */
static const char sql_corrected[] =
    "SELECT lead_id = $3::uuid, kind FROM feedback WHERE workspace_id = $1 AND id = $2";
static const char sql_reason[] = "SELECT kinds::text[] @> ARRAY[$3::text], disqualifies,"
                                 " recycle_after_days, active FROM feedback_reasons"
                                 " WHERE workspace_id = $1 AND code = $2";
/* $1 ws, $2 lead, $3 kind, $4 reason, $5 rating, $6 amount, $7 currency, $8 note, $9 author
 * user, $10 key, $11 occurred_at, $12 stage before, $13 stage after, $14 corrects */
static const char sql_insert[] =
    "WITH f AS (INSERT INTO feedback (workspace_id, lead_id, kind, reason, rating, amount,"
    " currency, note, author_user_id, author_key_id, occurred_at, stage_before, stage_after,"
    " corrects) VALUES ($1, $2, $3, $4, $5::smallint, $6::bigint, $7, $8, $9::uuid, $10,"
    " coalesce($11::timestamptz, now()), $12, $13, $14::uuid) RETURNING *)"
    " SELECT " FEEDBACK_COLUMNS " FROM f";
/* The move the feedback makes, after its row (so that the change feed tells the feedback
 * first): $1 ws, $2 lead, $3 stage after, $4 kind, $5 reason, $6 key, $7 author user, $8
 * occurred_at, $9 recycle days, $10 whether the caller writes history. A recycled lead
 * comes back to marketing $9 days after the feedback's day in the workspace's time zone.
 * The move happens now, or, for a caller that imports history (an admin, a key with
 * import), when the feedback did, unless that is before the lead's last move: an imported
 * verdict moves the stage on its own day. */
static const char sql_move[] =
    "SELECT 1 FROM ll_lead_move($1::uuid, $2::uuid, $3, 'feedback: ' || $4"
    " || coalesce(' (' || $5 || ')', ''), $6::uuid, $7::uuid, CASE WHEN $3 = 'recycled' THEN"
    " (coalesce($8::timestamptz, now()) AT TIME ZONE (SELECT time_zone FROM workspaces"
    " WHERE id = $1::uuid))::date + $9::integer END,"
    " CASE WHEN $10::boolean AND $8::timestamptz < now() AND $8::timestamptz >= (SELECT"
    " greatest(l.created_at, max(s.changed_at)) FROM leads l LEFT JOIN lead_stage_changes s"
    " ON s.workspace_id = l.workspace_id AND s.lead_id = l.id WHERE l.workspace_id = $1::uuid"
    " AND l.id = $2::uuid GROUP BY l.created_at) THEN $8::timestamptz END)";

static const char *const *const kinds = vocab_feedback_kinds;
static const char not_found[] = "no lead with this id";

json_t *feedback_json(const PGresult *res, int row)
{
    return json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:o, s:o}, s:o, s:o, s:o, s:o, s:o}", "id",
        db_json_text(res, row, 0), "lead_id", db_json_text(res, row, 1), "kind",
        db_json_text(res, row, 2), "reason", db_json_text(res, row, 3), "rating",
        db_json_int(res, row, 4), "amount", db_json_int(res, row, 5), "currency",
        db_json_text(res, row, 6), "note", db_json_text(res, row, 7), "author", "user_id",
        db_json_text(res, row, 8), "api_key_id", db_json_text(res, row, 9), "occurred_at",
        db_json_text(res, row, 10), "created_at", db_json_text(res, row, 11), "stage_before",
        db_json_text(res, row, 12), "stage_after", db_json_text(res, row, 13), "corrects",
        db_json_text(res, row, 14));
}

/* A piece of feedback: what it says, and what came of recording it. */
struct feedback_in {
    const struct auth_ctx *auth;
    const char *lead, *kind, *reason, *currency, *note, *at, *author;
    const char *corrects;        /* correction: the entry it corrects, else NULL */
    const char *rating, *amount; /* NULL when absent */
    /* the outcome: refused (with why), or res */
    enum ll_err refused; /* LL_OK, or NOT_FOUND, MERGED, GONE, VALIDATION, CONFLICT */
    char merged_into[37];
    const char *field; /* VALIDATION: the field at fault, and why */
    char why[300];     /* VALIDATION, CONFLICT */
    char stage[32];    /* the lead's stage before */
    PGresult *res;     /* LL_OK: the feedback row (FEEDBACK_COLUMNS), new */
};

static enum ll_err refuse(struct feedback_in *f, enum ll_err err, const char *field,
                          const char *why)
{
    f->refused = err;
    f->field = field;
    if (why)
        snprintf(f->why, sizeof f->why, "%s", why);
    return err;
}

/* Checks the reason named (active, for this kind) and reads what it does; LL_OK or refused. */
static enum ll_err feedback_reason(struct db_conn *db, struct feedback_in *f, bool *disqualifies,
                                   char days[24])
{
    const char *rv[3] = {f->auth->workspace_id, f->reason, f->kind};
    PGresult *res = db_exec(db, sql_reason, 3, rv);
    enum ll_err err = db_check(db, res);
    if (err != LL_OK) {
    } else if (PQntuples(res) == 0 || PQgetvalue(res, 0, 3)[0] != 't') {
        err = refuse(f, LL_E_VALIDATION, "reason",
                     PQntuples(res) == 0 ? "is not a reason of this workspace"
                                         : "is no longer active");
    } else if (PQgetvalue(res, 0, 0)[0] != 't') {
        err = refuse(f, LL_E_VALIDATION, "reason", NULL);
        snprintf(f->why, sizeof f->why, "does not apply to %s feedback", f->kind);
    } else {
        *disqualifies = PQgetvalue(res, 0, 1)[0] == 't';
        if (!PQgetisnull(res, 0, 2))
            snprintf(days, 24, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return err;
}

/* Checks the entry a correction names: of this workspace (a foreign key keeps it so
 * whatever writes), of this lead, and won or lost; LL_OK or refused. */
static enum ll_err feedback_corrected(struct db_conn *db, struct feedback_in *f)
{
    const char *cv[3] = {f->auth->workspace_id, f->corrects, f->lead};
    PGresult *res = db_exec(db, sql_corrected, 3, cv);
    enum ll_err err = db_check(db, res);
    if (err != LL_OK) {
    } else if (PQntuples(res) == 0) {
        err = refuse(f, LL_E_VALIDATION, "corrects", "names no feedback of this workspace");
    } else if (PQgetvalue(res, 0, 0)[0] != 't') {
        err = refuse(f, LL_E_VALIDATION, "corrects", "names feedback of another lead");
    } else if (strcmp(PQgetvalue(res, 0, 1), "won") && strcmp(PQgetvalue(res, 0, 1), "lost")) {
        err = refuse(f, LL_E_VALIDATION, "corrects", NULL);
        snprintf(f->why, sizeof f->why, "names %s feedback; only won or lost amounts are corrected",
                 PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return err;
}

/* The domain, run by db_tx_run: locks the lead, checks it, the time, the currency, the
 * reason and the corrected entry, records the feedback and makes the move it implies. */
static enum ll_err feedback_record(struct db_conn *db, void *arg)
{
    struct feedback_in *f = arg;
    const char *lv[3] = {f->auth->workspace_id, f->lead, f->at};
    char days[24] = "";
    bool disqualifies = false, was_customer = false;
    PGresult *res;
    enum ll_err err;

    PQclear(f->res);
    f->res = NULL;
    f->refused = LL_OK;
    res = db_exec(db, sql_lock, 3, lv);
    if ((err = db_check(db, res)) != LL_OK) {
    } else if (PQntuples(res) == 0) {
        err = refuse(f, LL_E_NOT_FOUND, NULL, NULL);
    } else if (!PQgetisnull(res, 0, 4)) {
        err = refuse(f, LL_E_MERGED, NULL, NULL);
        snprintf(f->merged_into, sizeof f->merged_into, "%s", PQgetvalue(res, 0, 4));
    } else if (PQgetvalue(res, 0, 1)[0] == 't') {
        err = refuse(f, LL_E_GONE, NULL, NULL);
    } else if (PQgetvalue(res, 0, 2)[0] == 't') {
        err = refuse(f, LL_E_VALIDATION, "occurred_at", "must not be in the future");
    } else if (f->currency && strcmp(f->currency, PQgetvalue(res, 0, 3)) != 0) {
        err = refuse(f, LL_E_VALIDATION, "currency", NULL);
        snprintf(f->why, sizeof f->why, "must be the workspace's reporting currency, %s",
                 PQgetvalue(res, 0, 3));
    } else {
        snprintf(f->stage, sizeof f->stage, "%s", PQgetvalue(res, 0, 0));
        was_customer = PQgetvalue(res, 0, 5)[0] == 't';
    }
    PQclear(res);
    if (err != LL_OK ||
        (f->reason && (err = feedback_reason(db, f, &disqualifies, days)) != LL_OK) ||
        (f->corrects && (err = feedback_corrected(db, f)) != LL_OK))
        return err;
    const char *after =
        stages_after_feedback(f->kind, f->stage, disqualifies, was_customer, f->why, sizeof f->why);
    if (!after)
        return refuse(f, LL_E_CONFLICT, NULL, NULL);
    const char *iv[14] = {f->auth->workspace_id,
                          f->lead,
                          f->kind,
                          f->reason,
                          f->rating,
                          f->amount,
                          f->currency,
                          f->note,
                          f->author,
                          auth_key_or_null(f->auth),
                          f->at,
                          f->stage,
                          after,
                          f->corrects};
    f->res = db_exec(db, sql_insert, 14, iv);
    err = db_check(db, f->res);
    char buf[64];
    const char *c = db_constraint(f->res, buf, sizeof buf);
    if (err == LL_E_VALIDATION && c && !strcmp(c, "feedback_author"))
        return refuse(f, LL_E_VALIDATION, "author_id", "is not a user of this workspace");
    if (err != LL_OK || !strcmp(f->stage, after))
        return err;
    const char *mv[10] = {f->auth->workspace_id,
                          f->lead,
                          after,
                          f->kind,
                          f->reason,
                          auth_key_or_null(f->auth),
                          f->author,
                          f->at,
                          days[0] ? days : NULL,
                          auth_may_import(f->auth) ? "true" : "false"};
    res = db_exec(db, sql_move, 10, mv);
    err = db_check(db, res);
    PQclear(res);
    return err;
}

void feedback_create(struct request *r)
{
    static const char *const fields[] = {"kind", "reason",      "rating",    "amount",   "currency",
                                         "note", "occurred_at", "author_id", "corrects", NULL};
    static const char *const readonly[] = {"id",           "lead_id",     "created_at", "author",
                                           "stage_before", "stage_after", NULL};
    json_t *body = NULL;
    struct feedback_in f = {.auth = &r->auth, .lead = r->params[0]};
    const char *author_id = NULL;
    char rating[24], amount[24];
    bool has_rating = false, has_amount = false, isnull = false;
    struct jv v;
    enum ll_err err;

    f.author = r->auth.user_id[0] ? r->auth.user_id : NULL;
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
    jv_enum(&v, body, "kind", true, kinds, &f.kind);
    if (json_object_get(body, "reason") && !json_is_null(json_object_get(body, "reason")))
        jv_string(&v, body, "reason", false, 1, 64, &f.reason);
    has_rating = jv_int(&v, body, "rating", false, true, 1, 5, rating, &isnull) && !isnull;
    has_amount =
        jv_int(&v, body, "amount", false, true, 0, 9000000000000000L, amount, &isnull) && !isnull;
    if (json_object_get(body, "currency") && !json_is_null(json_object_get(body, "currency")))
        jv_currency(&v, body, "currency", false, &f.currency);
    if (!json_is_null(json_object_get(body, "note")))
        jv_string(&v, body, "note", false, 0, 4096, &f.note);
    if (f.note && strlen(f.note) > 4096)
        jv_add(&v, "note", "must be at most 4 KiB");
    if (!json_is_null(json_object_get(body, "occurred_at")))
        jv_timestamp(&v, body, "occurred_at", false, &f.at);
    if (json_object_get(body, "author_id")) {
        if (r->auth.role != ROLE_ADMIN)
            jv_add(&v, "author_id", "can be named by admin keys only");
        else if (jv_uuid(&v, body, "author_id", false, false, &author_id, &isnull))
            f.author = author_id;
    }
    const char *kind = f.kind;
    if (kind && (!strcmp(kind, "rejected") || !strcmp(kind, "lost") || !strcmp(kind, "recycled")) &&
        (!json_object_get(body, "reason") || json_is_null(json_object_get(body, "reason"))))
        jv_add(&v, "reason", "is required for %s feedback", kind);
    if (kind && f.reason && strcmp(kind, "rejected") && strcmp(kind, "lost") &&
        strcmp(kind, "recycled"))
        jv_add(&v, "reason", "is given only with rejected, lost or recycled feedback");
    bool correction = kind && !strcmp(kind, "correction");
    if (kind && (!strcmp(kind, "won") || correction) &&
        (!json_object_get(body, "amount") || json_is_null(json_object_get(body, "amount"))))
        jv_add(&v, "amount", "is required for %s feedback", kind);
    if (correction &&
        (!json_object_get(body, "corrects") || json_is_null(json_object_get(body, "corrects"))))
        jv_add(&v, "corrects",
               "is required for correction feedback: the id of the won or lost "
               "feedback it corrects");
    else if (json_object_get(body, "corrects") && kind && !correction)
        jv_add(&v, "corrects", "is given only with correction feedback");
    else if (correction)
        jv_uuid(&v, body, "corrects", true, false, &f.corrects, &isnull);
    if (correction && has_rating)
        jv_add(&v, "rating", "is not given with correction feedback");
    if (has_amount && !f.currency)
        jv_add(&v, "currency", "is required with an amount");
    if (!has_amount && f.currency)
        jv_add(&v, "amount", "is required with a currency");
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the feedback is not valid", jv_take(&v), NULL);
        goto out;
    }
    f.rating = has_rating ? rating : NULL;
    f.amount = has_amount ? amount : NULL;

    err = db_tx_run(r->db, feedback_record, &f);
    if (f.refused == LL_E_NOT_FOUND)
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
    else if (f.refused == LL_E_MERGED)
        lead_route_merged(r, r->params[0], f.merged_into);
    else if (f.refused == LL_E_GONE)
        reply_problem(r, LL_E_GONE, "this lead was erased; it takes no feedback", NULL, NULL);
    else if (f.refused == LL_E_VALIDATION)
        reply_bad_field(r, f.field, f.why);
    else if (f.refused == LL_E_CONFLICT)
        reply_problem(r, LL_E_CONFLICT, f.why, NULL, json_pack("{s:s}", "stage", f.stage));
    else if (err)
        reply_db_error(r, err);
    else {
        reply_header(r, "Location", "/v1/leads/%s/feedback", r->params[0]);
        reply_json(r, 201, feedback_json(f.res, 0));
    }
out:
    PQclear(f.res);
    json_decref(body);
    jv_free(&v);
}

static const struct sort_key sorts[] = {{"occurred_at", "f.occurred_at", "timestamptz"},
                                        {NULL, NULL, NULL}};

void feedback_list_lead(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort", NULL};
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, sorts, "-occurred_at") ||
        !lead_route_found(r))
        return;
    list_begin(&q, "SELECT " FEEDBACK_COLUMNS ", ", &l);
    qb_addpv(&q, ", f.id FROM feedback f WHERE f.workspace_id = $? AND f.lead_id = $?", 2, vals);
    list_apply(&q, &l, "f.id");
    list_answer(r, &q, &l, feedback_json);
    qb_free(&q);
}

void feedback_list(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort",  "campaign_id", "author_id",
                                          "kind",  "reason", "since", "until",       NULL};
    const char *campaign = req_query(r, "campaign_id"), *author = req_query(r, "author_id");
    const char *kind = req_query(r, "kind"), *reason = req_query(r, "reason");
    const char *since = req_query(r, "since"), *until = req_query(r, "until");
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, sorts, "-occurred_at"))
        return;
    if (campaign && !util_is_uuid(campaign)) {
        reply_bad_param(r, "campaign_id", "must be a UUID");
        return;
    }
    if (author && !util_is_uuid(author)) {
        reply_bad_param(r, "author_id", "must be a UUID");
        return;
    }
    if (kind && !jv_in_list(kind, kinds)) {
        reply_bad_param(r, "kind", "is not a feedback kind");
        return;
    }
    if ((since && !jv_timestamp_valid(since)) || (until && !jv_timestamp_valid(until))) {
        reply_bad_param(r, since && !jv_timestamp_valid(since) ? "since" : "until",
                        "must be an RFC 3339 timestamp with a time zone");
        return;
    }
    list_begin(&q, "SELECT " FEEDBACK_COLUMNS ", ", &l);
    qb_addp(&q, ", f.id FROM feedback f WHERE f.workspace_id = $?", r->auth.workspace_id);
    if (campaign)
        qb_addp(&q,
                " AND EXISTS (SELECT 1 FROM campaign_touches t WHERE t.workspace_id ="
                " f.workspace_id AND t.lead_id = f.lead_id AND t.campaign_id = $?::uuid)",
                campaign);
    if (author)
        qb_addp(&q, " AND f.author_user_id = $?::uuid", author);
    if (kind)
        qb_addp(&q, " AND f.kind = $?", kind);
    if (reason)
        qb_addp(&q, " AND f.reason = $?", reason);
    if (since)
        qb_addp(&q, " AND f.occurred_at >= $?::timestamptz", since);
    if (until)
        qb_addp(&q, " AND f.occurred_at < $?::timestamptz", until);
    list_apply(&q, &l, "f.id");
    list_answer(r, &q, &l, feedback_json);
    qb_free(&q);
}

/* ------------------------------------------------------------------ reasons */

static const char *const *const reason_kinds = vocab_reason_kinds;

json_t *reasons_json(const PGresult *res, int row)
{
    json_t *k = json_loads(PQgetvalue(res, row, 2), 0, NULL);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "code",
                     db_json_text(res, row, 0), "label", db_json_text(res, row, 1), "kinds",
                     k ? k : json_array(), "disqualifies", db_json_bool(res, row, 3),
                     "recycle_after_days", db_json_int(res, row, 4), "active",
                     db_json_bool(res, row, 5), "version", db_json_int(res, row, 6), "created_at",
                     db_json_text(res, row, 7), "updated_at", db_json_text(res, row, 8));
}

static void answer_reason(struct request *r, int status, const PGresult *res)
{
    reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 6));
    if (status == 201)
        reply_header(r, "Location", "/v1/feedback-reasons/%s", PQgetvalue(res, 0, 0));
    reply_json(r, status, reasons_json(res, 0));
}

static const struct sort_key reason_sorts[] = {{"code", "code", "text"}, {NULL, NULL, NULL}};

void reasons_list(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "active", NULL};
    const char *active = req_query(r, "active");
    struct listing l;
    struct qb q;
    if (!req_query_allowed(r, allowed) || !list_params(r, &l, reason_sorts, "code"))
        return;
    if (active && strcmp(active, "true") && strcmp(active, "false")) {
        reply_bad_param(r, "active", "must be true or false");
        return;
    }
    list_begin(&q, "SELECT " REASON_COLUMNS ", ", &l);
    /* the id column list_answer pages on: reasons are keyed by code; a constant uuid keeps
     * the (key, id) form */
    qb_addp(&q,
            ", '00000000-0000-0000-0000-000000000000'::uuid FROM feedback_reasons"
            " WHERE workspace_id = $?",
            r->auth.workspace_id);
    if (active)
        qb_addp(&q, " AND active = $?::boolean", active);
    list_apply(&q, &l, "'00000000-0000-0000-0000-000000000000'::uuid");
    list_answer(r, &q, &l, reasons_json);
    qb_free(&q);
}

struct reason_in {
    const char *code, *label;
    json_t *kinds;
    bool disq, has_disq, active, has_active, null_days;
    char days[24];
    bool has_days;
};

static void read_reason(struct jv *v, json_t *body, bool create, struct reason_in *in)
{
    static const char *const fields[] = {
        "code", "label", "kinds", "disqualifies", "recycle_after_days", "active", NULL};
    static const char *const readonly[] = {"version", "created_at", "updated_at", NULL};
    size_t i;
    json_t *k;
    memset(in, 0, sizeof *in);
    if (create)
        jv_known(v, body, fields, readonly);
    else
        jv_known(v, body, fields + 1,
                 (const char *const[]){"code", "version", "created_at", "updated_at", NULL});
    if (create) {
        jv_string(v, body, "code", true, 1, 64, &in->code);
        if (in->code) {
            bool ok = in->code[0] >= 'a' && in->code[0] <= 'z';
            for (const char *c = in->code; *c && ok; c++)
                ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
            if (!ok)
                jv_add(v, "code", "must match ^[a-z][a-z0-9_]{0,63}$");
        }
    }
    jv_string(v, body, "label", create, 1, 200, &in->label);
    if (jv_string_set(v, body, "kinds", create, 3, 16, &in->kinds)) {
        if (json_array_size(in->kinds) == 0)
            jv_add(v, "kinds", "must name at least one of rejected, lost, recycled");
        json_array_foreach(in->kinds, i, k) if (!jv_in_list(json_string_value(k), reason_kinds))
            jv_add(v, "kinds", "items must be rejected, lost or recycled");
    }
    in->has_disq = jv_bool(v, body, "disqualifies", false, &in->disq);
    in->has_active = jv_bool(v, body, "active", false, &in->active);
    in->has_days =
        jv_int(v, body, "recycle_after_days", false, true, 1, 3650, in->days, &in->null_days);
}

void reasons_create(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    char *kinds_text = NULL;
    struct reason_in in;
    struct jv v;
    enum ll_err err;
    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    read_reason(&v, body, true, &in);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the reason is not valid", jv_take(&v), NULL);
        goto out;
    }
    kinds_text = json_dumps(in.kinds, JSON_COMPACT);
    const char *vals[7] = {r->auth.workspace_id,
                           in.code,
                           in.label,
                           kinds_text,
                           in.has_disq ? (in.disq ? "true" : "false") : "false",
                           in.has_days && !in.null_days ? in.days : NULL,
                           in.has_active ? (in.active ? "true" : "false") : "true"};
    res = db_exec(r->db,
                  "INSERT INTO feedback_reasons (workspace_id, code, label, kinds, disqualifies,"
                  " recycle_after_days, active) VALUES ($1, $2, $3, ll_json_texts($4::jsonb),"
                  " $5::boolean, $6::integer, $7::boolean)"
                  " RETURNING " REASON_RETURNING,
                  7, vals);
    err = db_check(r->db, res);
    char buf[64];
    const char *c = db_constraint(res, buf, sizeof buf);
    if (err == LL_E_CONFLICT && c && !strcmp(c, "feedback_reasons_pkey"))
        reply_problem(r, err, "a reason with this code exists",
                      json_pack("[{s:s, s:s}]", "field", "code", "message", "is already taken"),
                      NULL);
    else if (err)
        reply_db_error(r, err);
    else
        answer_reason(r, 201, res);
out:
    free(kinds_text);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}

void reasons_update(struct request *r)
{
    json_t *body = NULL;
    PGresult *res = NULL;
    char *kinds_text = NULL;
    struct reason_in in;
    struct jv v;
    struct qb q;
    struct conditional cond;
    long current = 0;
    enum ll_err err;
    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    for (const char *const *f =
             (const char *const[]){"label", "kinds", "disqualifies", "active", NULL};
         *f; f++)
        if (json_is_null(json_object_get(body, *f)))
            jv_add(&v, *f, "cannot be null");
    if (jv_ok(&v))
        read_reason(&v, body, false, &in);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the change is not valid", jv_take(&v), NULL);
        goto out;
    }
    if (json_object_size(body) == 0) { /* nothing to change: no new version */
        qb_init(&q, "UPDATE feedback_reasons SET code = code");
    } else {
        qb_init(&q, "UPDATE feedback_reasons SET version = version + 1, updated_at = now()");
        if (in.label)
            qb_addp(&q, ", label = $?", in.label);
        if (in.kinds) {
            kinds_text = json_dumps(in.kinds, JSON_COMPACT);
            qb_addp(&q, ", kinds = ARRAY(SELECT jsonb_array_elements_text($?::jsonb))", kinds_text);
        }
        if (in.has_disq)
            qb_addp(&q, ", disqualifies = $?::boolean", in.disq ? "true" : "false");
        if (in.has_active)
            qb_addp(&q, ", active = $?::boolean", in.active ? "true" : "false");
        if (in.has_days)
            qb_addp(&q, ", recycle_after_days = $?::integer", in.null_days ? NULL : in.days);
    }
    qb_addp(&q, " WHERE workspace_id = $?", r->auth.workspace_id);
    qb_addp(&q, " AND code = $?", r->params[0]);
    conditional_from_request(&cond, r);
    if (conditional_param(&cond))
        qb_addp(&q, " AND version = $?::integer", conditional_param(&cond));
    qb_add(&q, " RETURNING " REASON_RETURNING);
    res = qb_exec(r->db, &q, &err);
    qb_free(&q);
    if (err)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0) {
        err = conditional_no_row(r->db,
                                 "SELECT version FROM feedback_reasons WHERE workspace_id = $1"
                                 " AND code = $2",
                                 r->auth.workspace_id, r->params[0], &cond, &current);
        conditional_reply(r, err, current, "no reason with this code",
                          "the reason changed meanwhile; retry");
    } else {
        answer_reason(r, 200, res);
    }
out:
    free(kinds_text);
    PQclear(res);
    json_decref(body);
    jv_free(&v);
}
