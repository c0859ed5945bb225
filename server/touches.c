/* Touches: facts of the form "campaign C reached lead L at time T in this way", never
 * edited. Recording one also moves the lead's latest campaign (when it is the lead's
 * latest touch) and appends to the change feed, in one statement; the lead's version and
 * updated_at stay, because a touch is not an edit of the lead. A batch records each touch
 * in a savepoint of its own, so that a bad item fails alone. The members of a campaign
 * are derived from its touches, one row per lead. */
#include "leadloop/touches.h"

#include <stdio.h>
#include <string.h>

#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/lead_route.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

/* The kinds that count as the lead responding to the campaign. */
#define RESPONSE_KINDS "('clicked', 'responded', 'registered', 'attended', 'visited', 'created')"

#define BATCH_MAX 1000

/* $1 workspace, $2 campaign, $3 lead id or $4 email (one of them NULL), $5 kind,
 * $6 occurred_at or NULL for now. Answers one row: whether the campaign exists, whether
 * the lead does, whether it is erased, whether occurred_at is too far in the future, then
 * the touch (all NULL unless it was recorded), then the lead the lead was merged into.
 * Checking and writing in one statement leaves no gap between them; campaigns and leads
 * are never deleted, so what the check found is still there when the foreign keys look.
 * The lead is locked as the foreign key's check would lock it (FOR KEY SHARE), but before
 * the check reads it: an erasure or a merge under way commits first, and the check sees
 * the lead as they left it (a merged lead's touches must all have moved). */
static const char sql_insert[] =
    "WITH c AS (SELECT id FROM campaigns WHERE workspace_id = $1 AND id = $2),"
    " li AS (SELECT id, erased_at, merged_into FROM leads WHERE workspace_id = $1"
    " AND id = $3::uuid FOR KEY SHARE),"
    " le AS (SELECT id, erased_at, merged_into FROM leads WHERE workspace_id = $1"
    " AND ll_fold(email) = ll_fold($4::text) AND email IS NOT NULL AND erased_at IS NULL"
    " FOR KEY SHARE),"
    " l AS (SELECT * FROM li UNION ALL SELECT * FROM le),"
    " p AS (SELECT coalesce($6::timestamptz, now()) AS at,"
    " coalesce($6::timestamptz > now() + interval '5 minutes', false) AS future),"
    " t AS (INSERT INTO campaign_touches (workspace_id, campaign_id, lead_id, kind, occurred_at)"
    " SELECT $1, c.id, l.id, $5::text, p.at FROM c, l, p"
    " WHERE l.erased_at IS NULL AND l.merged_into IS NULL AND NOT p.future RETURNING *),"
    /* The lead's first and latest campaign follow its earliest and latest touch (a tie
     * goes to the newest record). The WHERE compares with the lead's own first/latest
     * touch times, which PostgreSQL re-reads after waiting for a concurrent touch's row
     * lock; and a touch between the two changes nothing (no write, no lock held). */
    " u AS (UPDATE leads d SET"
    " first_campaign_id = CASE WHEN d.first_touch_at IS NULL OR t.occurred_at < d.first_touch_at"
    " THEN t.campaign_id ELSE d.first_campaign_id END,"
    " first_touch_at = LEAST(d.first_touch_at, t.occurred_at),"
    " latest_campaign_id = CASE WHEN d.latest_touch_at IS NULL"
    " OR t.occurred_at >= d.latest_touch_at THEN t.campaign_id ELSE d.latest_campaign_id END,"
    " latest_touch_at = GREATEST(d.latest_touch_at, t.occurred_at)"
    " FROM t WHERE d.workspace_id = t.workspace_id AND d.id = t.lead_id"
    " AND (d.first_touch_at IS NULL OR t.occurred_at < d.first_touch_at"
    " OR d.latest_touch_at IS NULL OR t.occurred_at >= d.latest_touch_at))"
    " SELECT EXISTS (SELECT FROM c), EXISTS (SELECT FROM l),"
    " EXISTS (SELECT FROM l WHERE erased_at IS NOT NULL), (SELECT future FROM p), " TOUCH_COLUMNS
    ", (SELECT merged_into FROM l LIMIT 1) FROM (VALUES (1)) AS one LEFT JOIN t ON true";
static const char sql_campaign_exists[] =
    "SELECT 1 FROM campaigns WHERE workspace_id = $1 AND id = $2";

static const char *const *const kinds = vocab_touch_kinds;
static const char *const fields[] = {"lead_id", "email", "kind", "occurred_at", NULL};
static const char *const readonly[] = {"id", "campaign_id", "created_at", NULL};

static const char campaign_not_found[] = "no campaign with this id";
static const char invalid[] = "the touch is not valid";
static const char lead_unknown[] = "no lead with this id in this workspace";
static const char email_unknown[] = "no lead with this email in this workspace";

/* A touch from six columns starting at col (new reference). */
static json_t *touch_json_at(const PGresult *res, int row, int col)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "id", db_json_text(res, row, col),
                     "campaign_id", db_json_text(res, row, col + 1), "lead_id",
                     db_json_text(res, row, col + 2), "kind", db_json_text(res, row, col + 3),
                     "occurred_at", db_json_text(res, row, col + 4), "created_at",
                     db_json_text(res, row, col + 5));
}

json_t *touches_json(const PGresult *res, int row)
{
    return touch_json_at(res, row, 0);
}

static bool is_true(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* Answers 404 (or the database error) and returns false unless sql ($1 workspace, $2 id)
 * finds a row. */
static bool exists(struct request *r, const char *sql, const char *id, const char *not_found)
{
    const char *vals[2] = {r->auth.workspace_id, id};
    PGresult *res;
    enum ll_err err;
    bool found = false;
    if (!util_is_uuid(id)) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        return false;
    }
    res = db_exec(r->db, sql, 2, vals);
    err = db_check(r->db, res);
    if (err)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
    else
        found = true;
    PQclear(res);
    return found;
}

/* A validated touch; strings borrowed from the body. */
struct touch_in {
    const char *lead_id, *email, *kind, *occurred_at;
};

static void read_touch(struct jv *v, json_t *body, struct touch_in *in)
{
    bool by_id = json_object_get(body, "lead_id") != NULL;
    bool by_email = json_object_get(body, "email") != NULL;
    memset(in, 0, sizeof *in);
    jv_known(v, body, fields, readonly);
    if (by_id && by_email)
        jv_add(v, "email", "must not be given with lead_id: name the lead by one of them");
    else if (!by_id && !by_email)
        jv_add(v, "lead_id", "is required (or email)");
    jv_uuid(v, body, "lead_id", false, false, &in->lead_id, NULL);
    jv_email(v, body, "email", false, &in->email);
    jv_enum(v, body, "kind", true, kinds, &in->kind);
    jv_timestamp(v, body, "occurred_at", false, &in->occurred_at);
}

/* What recording one touch came to. */
struct outcome {
    enum ll_err err;
    const char *detail; /* static; NULL when the database failed (answer reply_db_error) */
    json_t *errors;     /* new or NULL: {field, message} for a 422 */
    PGresult *res;      /* new, on LL_OK: the row of sql_insert */
};

static void outcome_free(struct outcome *o)
{
    json_decref(o->errors);
    PQclear(o->res);
    o->errors = NULL;
    o->res = NULL;
}

static json_t *field_error(const char *field, const char *message)
{
    return json_pack("{s:s, s:s}", "field", field, "message", message);
}

/* Records the touch in in for the campaign of the path. */
static void touch_insert(struct request *r, const struct touch_in *in, struct outcome *o)
{
    const char *vals[6] = {r->auth.workspace_id, r->params[0], in->lead_id, in->email, in->kind,
                           in->occurred_at};
    PGresult *res = db_exec(r->db, sql_insert, 6, vals);
    memset(o, 0, sizeof *o);
    o->err = db_check(r->db, res);
    if (o->err == LL_E_VALIDATION) {
        /* The one value PostgreSQL parses that C did not check in full is occurred_at:
         * a time zone offset beyond PostgreSQL's +-15:59 is refused as 22009. */
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        o->detail = "a value was refused by the database";
        if (state && !strncmp(state, "22", 2)) {
            o->detail = invalid;
            o->errors = json_pack("[o]", field_error("occurred_at", "is not a time we can store"));
        }
    } else if (o->err == LL_E_CONFLICT) {
        o->detail = "the touch conflicts with a concurrent change; retry it";
    } else if (o->err != LL_OK) {
        /* the database failed: detail stays NULL */
    } else if (!is_true(res, 0, 0)) {
        o->err = LL_E_NOT_FOUND;
        o->detail = campaign_not_found;
    } else if (!is_true(res, 0, 1) || is_true(res, 0, 3)) {
        o->err = LL_E_VALIDATION;
        o->detail = invalid;
        o->errors = json_array();
        if (!is_true(res, 0, 1))
            json_array_append_new(o->errors, in->lead_id ? field_error("lead_id", lead_unknown)
                                                         : field_error("email", email_unknown));
        if (is_true(res, 0, 3))
            json_array_append_new(
                o->errors, field_error("occurred_at", "must not be more than 5 minutes ahead"));
    } else if (!PQgetisnull(res, 0, 10)) { /* a lead merged into another takes no touches */
        char message[160];
        snprintf(message, sizeof message, "names a lead merged into %s: record it on that lead",
                 PQgetvalue(res, 0, 10));
        o->err = LL_E_VALIDATION;
        o->detail = invalid;
        o->errors = json_pack("[o]", field_error("lead_id", message));
    } else if (is_true(res, 0, 2)) {
        o->err = LL_E_GONE;
        o->detail = "the lead was erased; its touches stay, but it takes no new ones";
    } else {
        o->res = res;
        res = NULL;
    }
    PQclear(res);
}

void touches_create(struct request *r)
{
    json_t *body = NULL;
    struct touch_in in = {0};
    struct outcome o = {0};
    struct jv v;

    jv_init(&v);
    if (!req_query_allowed(r, NULL))
        goto out;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, campaign_not_found, NULL, NULL);
        goto out;
    }
    if (!(body = req_json_object(r)))
        goto out;
    read_touch(&v, body, &in);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, invalid, jv_take(&v), NULL);
        goto out;
    }
    touch_insert(r, &in, &o);
    if (o.err == LL_OK) {
        reply_header(r, "Location", "/v1/leads/%s/touches", PQgetvalue(o.res, 0, 6));
        reply_json(r, 201, touch_json_at(o.res, 0, 4));
    } else if (o.detail) {
        reply_problem(r, o.err, o.detail, o.errors, NULL);
        o.errors = NULL; /* stolen */
    } else {
        reply_db_error(r, o.err);
    }
out:
    outcome_free(&o);
    json_decref(body);
    jv_free(&v);
}

/* Records item i of a batch in a savepoint of its own, so that its failure undoes only
 * itself, and appends its result. Returns LL_OK, or the error that fails the whole batch
 * (the database, not the item, is at fault). */
static enum ll_err batch_item(struct request *r, size_t i, json_t *item, json_t *results,
                              long *created)
{
    struct touch_in in = {0};
    struct outcome o = {0};
    struct jv v;
    json_t *result;
    enum ll_err err = LL_OK;

    jv_init(&v);
    if (!json_is_object(item)) {
        char field[32];
        snprintf(field, sizeof field, "touches[%zu]", i);
        jv_add(&v, field, "must be an object");
    } else {
        read_touch(&v, item, &in);
    }
    if (!jv_ok(&v)) {
        o.err = LL_E_VALIDATION;
        o.detail = invalid;
        o.errors = jv_take(&v);
    } else {
        if ((err = db_tx_begin(r->db)) != LL_OK)
            goto out;
        touch_insert(r, &in, &o);
        if (o.err == LL_OK)
            err = db_tx_commit(r->db);
        else
            db_tx_rollback(r->db);
        if (err == LL_OK && o.err != LL_OK && !o.detail)
            err = o.err;
        if (err != LL_OK)
            goto out;
    }
    result = json_pack("{s:I, s:i}", "index", (json_int_t)i, "status",
                       o.err == LL_OK ? 201 : problem_kind(o.err)->status);
    if (o.err == LL_OK) {
        json_object_set_new(result, "id", db_json_text(o.res, 0, 4));
        (*created)++;
    } else {
        json_object_set_new(result, "problem",
                            problem_new(o.err, o.detail, r->request_id, o.errors, NULL));
        o.errors = NULL; /* stolen */
    }
    json_array_append_new(results, result);
out:
    outcome_free(&o);
    jv_free(&v);
    return err;
}

void touches_batch(struct request *r)
{
    static const char *const batch_fields[] = {"touches", NULL};
    json_t *body = NULL, *items, *results = NULL;
    struct jv v;
    bool in_tx = false;
    long created = 0;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL))
        goto out;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, campaign_not_found, NULL, NULL);
        goto out;
    }
    if (!(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, batch_fields, NULL);
    items = json_object_get(body, "touches");
    if (!items)
        jv_add(&v, "touches", "is required");
    else if (!json_is_array(items) || json_array_size(items) < 1 ||
             json_array_size(items) > BATCH_MAX)
        jv_add(&v, "touches", "must be an array of 1 to %d touches", BATCH_MAX);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the batch is not valid", jv_take(&v), NULL);
        goto out;
    }
    /* One transaction for the batch: it is all there or (if the database fails) none. */
    if ((err = db_tx_begin(r->db)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    in_tx = true;
    if (!exists(r, sql_campaign_exists, r->params[0], campaign_not_found))
        goto out;
    results = json_array();
    for (size_t i = 0; i < json_array_size(items); i++) {
        if ((err = batch_item(r, i, json_array_get(items, i), results, &created)) != LL_OK) {
            reply_db_error(r, err);
            goto out;
        }
    }
    in_tx = false;
    if ((err = db_tx_commit(r->db)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    reply_json(r, 200,
               json_pack("{s:O, s:I, s:I}", "results", results, "created", (json_int_t)created,
                         "failed", (json_int_t)json_array_size(items) - created));
out:
    if (in_tx)
        db_tx_rollback(r->db);
    json_decref(results);
    json_decref(body);
    jv_free(&v);
}

static const struct sort_key by_occurred[] = {{"occurred_at", "occurred_at", "timestamptz"},
                                              {NULL, NULL, NULL}};

void touches_list_by_lead(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", "sort", NULL};
    struct listing l;
    struct qb q;

    if (!req_query_allowed(r, allowed) || !list_params(r, &l, by_occurred, "-occurred_at"))
        return;
    /* An erased lead still lists its touches: they are facts about a campaign, and name
     * no one once the lead is erased. */
    if (!lead_route_found(r))
        return;
    list_begin(&q, "SELECT " TOUCH_COLUMNS ", ", &l);
    qb_addp(&q, ", t.id FROM campaign_touches t WHERE t.workspace_id = $?", r->auth.workspace_id);
    qb_addp(&q, " AND t.lead_id = $?", r->params[0]);
    list_apply(&q, &l, "t.id");
    list_answer(r, &q, &l, touches_json);
    qb_free(&q);
}

static json_t *member_json(const PGresult *res, int row)
{
    json_t *latest = json_pack("{s:o, s:o}", "kind", db_json_text(res, row, 6), "occurred_at",
                               db_json_text(res, row, 7));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "lead_id",
                     db_json_text(res, row, 0), "email", db_json_text(res, row, 1), "first_name",
                     db_json_text(res, row, 2), "last_name", db_json_text(res, row, 3), "company",
                     db_json_text(res, row, 4), "stage", db_json_text(res, row, 5), "latest_touch",
                     latest, "responded", db_json_bool(res, row, 8), "first_responded_at",
                     db_json_text(res, row, 9));
}

/* Ordered by each lead's first touch of the campaign. The grouped subquery pages on
 * (first touch, lead id) over an index-only scan of touches_by_campaign; the lead's fields,
 * latest touch and first response are looked up for the page's rows only. */
static const struct sort_key by_first_touch[] = {{"first_touch_at", "m.first_at", "timestamptz"},
                                                 {NULL, NULL, NULL}};

void touches_members(struct request *r)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    struct listing l;
    struct qb q;

    if (!req_query_allowed(r, allowed) || !list_params(r, &l, by_first_touch, "first_touch_at"))
        return;
    if (!exists(r, sql_campaign_exists, r->params[0], campaign_not_found))
        return;
    list_begin(&q,
               "SELECT p.lead_id, CASE WHEN d.erased_at IS NULL THEN d.email END,"
               " CASE WHEN d.erased_at IS NULL THEN d.first_name END,"
               " CASE WHEN d.erased_at IS NULL THEN d.last_name END,"
               " CASE WHEN d.erased_at IS NULL THEN d.company END, d.stage,"
               " lt.kind, " DB_TS("lt.occurred_at") ", r.first_at IS NOT NULL, " DB_TS(
                   "r.first_at") ", p.k, p.lead_id FROM (SELECT m.lead_id, m.first_at, ",
               &l);
    qb_addp(&q,
            " AS k FROM (SELECT lead_id, min(occurred_at) AS first_at FROM campaign_touches"
            " WHERE workspace_id = $?",
            r->auth.workspace_id);
    qb_addp(&q, " AND campaign_id = $? GROUP BY lead_id) m WHERE true", r->params[0]);
    list_apply(&q, &l, "m.lead_id");
    qb_add(&q, ") p JOIN leads d ON d.workspace_id = $1 AND d.id = p.lead_id"
               " CROSS JOIN LATERAL (SELECT x.kind, x.occurred_at FROM campaign_touches x"
               " WHERE x.workspace_id = $1 AND x.campaign_id = $2 AND x.lead_id = p.lead_id"
               " ORDER BY x.occurred_at DESC, x.id DESC LIMIT 1) lt"
               " CROSS JOIN LATERAL (SELECT min(x.occurred_at) AS first_at FROM campaign_touches x"
               " WHERE x.workspace_id = $1 AND x.campaign_id = $2 AND x.lead_id = p.lead_id"
               " AND x.kind IN " RESPONSE_KINDS ") r"
               " ORDER BY p.first_at, p.lead_id");
    list_answer(r, &q, &l, member_json);
    qb_free(&q);
}
