/* Touches: facts of the form "campaign C reached lead L at time T in this way", never
 * edited. Recording one also moves the lead's latest campaign (when it is the lead's
 * latest touch) and appends to the change feed, in one statement; the lead's version and
 * updated_at stay, because a touch is not an edit of the lead. A batch validates every
 * item in C, then records all the valid ones in one statement (sql_batch), so that the
 * report triggers refresh its leads once; when that statement fails on a value one item
 * could hold, the batch records each touch in a savepoint of its own instead, so that a
 * bad item fails alone. The members of a campaign are derived from its touches, one row
 * per lead. */
#include "leadloop/touches.h"

#include <stdio.h>
#include <stdlib.h>
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
/* The batch's statement: $1 workspace, $2 campaign (checked before), $3 the valid items as
 * a JSON array of {n, lead_id or email, kind, occurred_at}. Each item is decided as
 * sql_insert decides one touch, with the same locks, and answers one row in item order with
 * sql_insert's columns after n (the campaign's column is true). The touch ids are drawn
 * beforehand so that each touch maps back to its item. Each touched lead is updated once,
 * with the earliest and latest of its touches in the batch: as the batch is one campaign's,
 * that gives what recording them one by one would (a touch before the lead's first makes
 * the campaign its first, one at or after its latest its latest). Its rows are locked
 * first in id order, as ll_report_refresh locks them, so that two batches over the same
 * leads wait for each other instead of deadlocking. The leads are looked up one item's
 * lead or email at a time (LATERAL), by their unique indexes: joined as sets, the plan
 * followed the table's statistics, and right after an import had grown the workspace
 * tenfold they still said it was small (a nested loop over every lead of the workspace
 * for each item: 3 s a batch, past the statement timeout). */
static const char sql_batch[] =
    "WITH i AS (SELECT gen_random_uuid() AS id, i.* FROM json_to_recordset($3::json)"
    " AS i(n integer, lead_id uuid, email text, kind text, occurred_at timestamptz)),"
    " li AS (SELECT l.* FROM (SELECT DISTINCT lead_id FROM i WHERE lead_id IS NOT NULL) e,"
    " LATERAL (SELECT id, erased_at, merged_into FROM leads WHERE workspace_id = $1"
    " AND id = e.lead_id FOR KEY SHARE) l),"
    " le AS (SELECT l.*, e.folded FROM (SELECT DISTINCT ll_fold(email) AS folded FROM i"
    " WHERE email IS NOT NULL) e, LATERAL (SELECT id, erased_at, merged_into FROM leads"
    " WHERE workspace_id = $1 AND ll_fold(email) = e.folded AND email IS NOT NULL"
    " AND erased_at IS NULL FOR KEY SHARE) l),"
    " d AS (SELECT i.id, i.n, i.kind, coalesce(i.occurred_at, now()) AS at,"
    " coalesce(i.occurred_at > now() + interval '5 minutes', false) AS future,"
    " coalesce(li.id, le.id) AS lead_id, coalesce(li.erased_at, le.erased_at) AS erased_at,"
    " coalesce(li.merged_into, le.merged_into) AS merged_into"
    " FROM i LEFT JOIN li ON li.id = i.lead_id LEFT JOIN le ON le.folded = ll_fold(i.email)),"
    " t AS (INSERT INTO campaign_touches (id, workspace_id, campaign_id, lead_id, kind,"
    " occurred_at) SELECT id, $1, $2, lead_id, kind, at FROM d WHERE lead_id IS NOT NULL"
    " AND erased_at IS NULL AND merged_into IS NULL AND NOT future ORDER BY n RETURNING *),"
    " m AS (SELECT lead_id, min(occurred_at) AS lo, max(occurred_at) AS hi FROM t"
    " GROUP BY lead_id),"
    " k AS (SELECT x.id, m.lo, m.hi FROM leads x JOIN m ON m.lead_id = x.id"
    " WHERE x.workspace_id = $1 ORDER BY x.id FOR NO KEY UPDATE OF x),"
    " u AS (UPDATE leads x SET"
    " first_campaign_id = CASE WHEN x.first_touch_at IS NULL OR k.lo < x.first_touch_at"
    " THEN $2::uuid ELSE x.first_campaign_id END,"
    " first_touch_at = LEAST(x.first_touch_at, k.lo),"
    " latest_campaign_id = CASE WHEN x.latest_touch_at IS NULL OR k.hi >= x.latest_touch_at"
    " THEN $2::uuid ELSE x.latest_campaign_id END,"
    " latest_touch_at = GREATEST(x.latest_touch_at, k.hi)"
    " FROM k WHERE x.workspace_id = $1 AND x.id = k.id"
    " AND (x.first_touch_at IS NULL OR k.lo < x.first_touch_at"
    " OR x.latest_touch_at IS NULL OR k.hi >= x.latest_touch_at))"
    " SELECT d.n, true, d.lead_id IS NOT NULL, d.erased_at IS NOT NULL, d.future, " TOUCH_COLUMNS
    ", d.merged_into FROM d LEFT JOIN t ON t.id = d.id ORDER BY d.n";
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

/* What the row of sql_insert at row (or of sql_batch, whose columns start at base 1) says
 * of the touch in in; res stays the caller's. */
static void outcome_read(const PGresult *res, int row, int base, const struct touch_in *in,
                         struct outcome *o)
{
    if (!is_true(res, row, base)) {
        o->err = LL_E_NOT_FOUND;
        o->detail = campaign_not_found;
    } else if (!is_true(res, row, base + 1) || is_true(res, row, base + 3)) {
        o->err = LL_E_VALIDATION;
        o->detail = invalid;
        o->errors = json_array();
        if (!is_true(res, row, base + 1))
            json_array_append_new(o->errors, in->lead_id ? field_error("lead_id", lead_unknown)
                                                         : field_error("email", email_unknown));
        if (is_true(res, row, base + 3))
            json_array_append_new(
                o->errors, field_error("occurred_at", "must not be more than 5 minutes ahead"));
    } else if (!PQgetisnull(res, row, base + 10)) { /* a lead merged into another takes none */
        char message[160];
        snprintf(message, sizeof message, "names a lead merged into %s: record it on that lead",
                 PQgetvalue(res, row, base + 10));
        o->err = LL_E_VALIDATION;
        o->detail = invalid;
        o->errors = json_pack("[o]", field_error("lead_id", message));
    } else if (is_true(res, row, base + 2)) {
        o->err = LL_E_GONE;
        o->detail = "the lead was erased; its touches stay, but it takes no new ones";
    } else {
        o->err = LL_OK;
    }
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
    } else {
        outcome_read(res, 0, 0, in, o);
        if (o->err == LL_OK) {
            o->res = res;
            res = NULL;
        }
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

/* One item of a batch: its touch (strings borrowed from the body), what became of it, and
 * the id of its touch when it was recorded. */
struct item {
    struct touch_in in;
    struct outcome o;
    json_t *id;
    bool done;
};

/* Validates item i in C, as POST /v1/campaigns/{id}/touches does; an invalid one is done. */
static void item_read(size_t i, json_t *body, struct item *it)
{
    struct jv v;
    jv_init(&v);
    if (!json_is_object(body)) {
        char field[32];
        snprintf(field, sizeof field, "touches[%zu]", i);
        jv_add(&v, field, "must be an object");
    } else {
        read_touch(&v, body, &it->in);
    }
    if (!jv_ok(&v)) {
        it->o.err = LL_E_VALIDATION;
        it->o.detail = invalid;
        it->o.errors = jv_take(&v);
        it->done = true;
    }
    jv_free(&v);
}

/* Records every item not done yet with one statement (sql_batch), in a savepoint. Returns
 * LL_OK with each of them done, or with none done when the statement failed on something
 * one item could cause (a value PostgreSQL refuses, a deadlock with another writer): then
 * item_write runs them one by one, so that each gets the answer it would get alone.
 * Otherwise the error that fails the batch. */
static enum ll_err batch_many(struct request *r, struct item *items, size_t n)
{
    json_t *records = json_array();
    char *text = NULL;
    PGresult *res = NULL;
    enum ll_err err = LL_OK;

    for (size_t i = 0; i < n; i++) {
        const struct touch_in *in = &items[i].in;
        if (!items[i].done)
            json_array_append_new(records,
                                  json_pack("{s:I, s:s?, s:s?, s:s, s:s?}", "n", (json_int_t)i,
                                            "lead_id", in->lead_id, "email", in->email, "kind",
                                            in->kind, "occurred_at", in->occurred_at));
    }
    if (json_array_size(records) == 0)
        goto out;
    if (!(text = json_dumps(records, JSON_COMPACT))) {
        err = LL_E_INTERNAL;
        goto out;
    }
    if ((err = db_tx_begin(r->db)) != LL_OK)
        goto out;
    const char *vals[3] = {r->auth.workspace_id, r->params[0], text};
    res = db_exec_adhoc(r->db, sql_batch, 3, vals);
    err = db_check(r->db, res);
    if (err != LL_OK) {
        db_tx_rollback(r->db);
        if (err == LL_E_VALIDATION || err == LL_E_CONFLICT)
            err = LL_OK; /* the items are recorded one by one instead */
        goto out;
    }
    if ((err = db_tx_commit(r->db)) != LL_OK)
        goto out;
    for (int row = 0; row < PQntuples(res); row++) {
        long k = atol(PQgetvalue(res, row, 0));
        if (k < 0 || (size_t)k >= n || items[k].done)
            continue;
        outcome_read(res, row, 1, &items[k].in, &items[k].o);
        if (items[k].o.err == LL_OK)
            items[k].id = db_json_text(res, row, 5);
        items[k].done = true;
    }
out:
    PQclear(res);
    free(text);
    json_decref(records);
    return err;
}

/* Records one item in a savepoint of its own, so that its failure undoes only itself.
 * Returns LL_OK, or the error that fails the whole batch (the database, not the item, is at
 * fault). */
static enum ll_err item_write(struct request *r, struct item *it)
{
    enum ll_err err;
    if ((err = db_tx_begin(r->db)) != LL_OK)
        return err;
    touch_insert(r, &it->in, &it->o);
    if (it->o.err == LL_OK)
        err = db_tx_commit(r->db);
    else
        db_tx_rollback(r->db);
    if (err == LL_OK && it->o.err != LL_OK && !it->o.detail)
        err = it->o.err;
    if (err == LL_OK && it->o.err == LL_OK)
        it->id = db_json_text(it->o.res, 0, 4);
    it->done = true;
    return err;
}

/* The result of item i in the batch's answer (new reference). */
static json_t *item_result(struct request *r, size_t i, struct item *it)
{
    json_t *result = json_pack("{s:I, s:i}", "index", (json_int_t)i, "status",
                               it->o.err == LL_OK ? 201 : problem_kind(it->o.err)->status);
    if (it->o.err == LL_OK) {
        json_object_set(result, "id", it->id);
    } else {
        json_object_set_new(
            result, "problem",
            problem_new(it->o.err, it->o.detail, r->request_id, it->o.errors, NULL));
        it->o.errors = NULL; /* stolen */
    }
    return result;
}

void touches_batch(struct request *r)
{
    static const char *const batch_fields[] = {"touches", NULL};
    json_t *body = NULL, *items, *results = NULL;
    struct item *list = NULL;
    size_t n = 0;
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
    n = json_array_size(items);
    if (!(list = calloc(n, sizeof *list))) {
        reply_db_error(r, LL_E_INTERNAL);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        item_read(i, json_array_get(items, i), &list[i]);
    /* One transaction for the batch: it is all there or (if the database fails) none. */
    if ((err = db_tx_begin(r->db)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    in_tx = true;
    if (!exists(r, sql_campaign_exists, r->params[0], campaign_not_found))
        goto out;
    err = batch_many(r, list, n);
    for (size_t i = 0; i < n && err == LL_OK; i++)
        if (!list[i].done)
            err = item_write(r, &list[i]);
    if (err != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    in_tx = false;
    if ((err = db_tx_commit(r->db)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    results = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(results, item_result(r, i, &list[i]));
        created += list[i].o.err == LL_OK;
    }
    reply_json(r, 200,
               json_pack("{s:O, s:I, s:I}", "results", results, "created", (json_int_t)created,
                         "failed", (json_int_t)n - created));
out:
    if (in_tx)
        db_tx_rollback(r->db);
    for (size_t i = 0; i < n && list; i++) {
        outcome_free(&list[i].o);
        json_decref(list[i].id);
    }
    free(list);
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
