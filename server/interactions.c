/* Interactions: what sales and support tools log on a lead (a call, an email, a meeting, a
 * note, a message, a form, a ticket), so that the lead's timeline is one face of the
 * customer. A tool names its record by (source, external_id): sent again, the stored
 * interaction is answered (200) and updated in place when its fields differ, so that a
 * sync tool may resend an edited call log and a retried batch creates nothing twice. Each
 * write locks its lead (FOR KEY SHARE, as the foreign key would, but before the check
 * reads it: an erasure or a merge under way commits first) and runs in a transaction of
 * its own. A batch writes its valid items with one statement (sql_batch), so that the
 * report, audit and change triggers run once for it; when that statement cannot decide
 * them (an item's value refused, one external id twice), each item is written in a
 * savepoint of its own instead, so that a bad item fails alone. The report triggers of
 * the table refresh the lead's follow-up facts (first attempt, first contact) in the
 * same transaction. */
#include "leadloop/interactions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leadloop/db.h"
#include "leadloop/jsonv.h"
#include "leadloop/lead_route.h"
#include "leadloop/list.h"
#include "leadloop/problem.h"
#include "leadloop/request.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

#define BATCH_MAX 1000
/* How far ahead of the daemon's clock occurred_at may be (a logging tool's clock skew). */
#define FUTURE_SKEW_S 300

/* The lead, by id ($2) or by email ($2), locked: whether it is erased, and the lead it
 * was merged into. An erased lead has no email, so by email finds live leads only. */
static const char sql_lead_by_id[] = "SELECT id, erased_at IS NOT NULL, merged_into FROM leads"
                                     " WHERE workspace_id = $1 AND id = $2 FOR KEY SHARE";
static const char sql_lead_by_email[] =
    "SELECT id, erased_at IS NOT NULL, merged_into FROM leads WHERE workspace_id = $1"
    " AND ll_fold(email) = ll_fold($2::text) AND email IS NOT NULL FOR KEY SHARE";
/* $1 ws, $2 lead, $3 kind, $4 direction, $5 outcome, $6 occurred_at (NULL: now, or the
 * stored time on an update), $7 user, $8 actor_name, $9 subject, $10 body, $11 duration,
 * $12 campaign, $13 source, $14 external_id. A resend of the same (source, external_id)
 * for the same lead replaces the fields it differs in (a new version); one that differs in
 * nothing, or names another lead, writes nothing and answers no row (sql_by_external). */
static const char sql_upsert[] =
    "INSERT INTO interactions AS i (workspace_id, lead_id, kind, direction, outcome,"
    " occurred_at, user_id, actor_name, subject, body, duration_seconds, campaign_id, source,"
    " external_id) VALUES ($1, $2, $3, $4, $5, coalesce($6::timestamptz, now()), $7::uuid, $8,"
    " $9, $10, $11::integer, $12::uuid, $13, $14)"
    " ON CONFLICT (workspace_id, source, external_id) DO UPDATE SET kind = excluded.kind,"
    " direction = excluded.direction, outcome = excluded.outcome,"
    " occurred_at = coalesce($6::timestamptz, i.occurred_at), user_id = excluded.user_id,"
    " actor_name = excluded.actor_name, subject = excluded.subject, body = excluded.body,"
    " duration_seconds = excluded.duration_seconds, campaign_id = excluded.campaign_id,"
    " version = i.version + 1, updated_at = excluded.updated_at"
    " WHERE i.lead_id = excluded.lead_id AND (i.kind, i.direction, i.outcome, i.occurred_at,"
    " i.user_id, i.actor_name, i.subject, i.body, i.duration_seconds, i.campaign_id)"
    " IS DISTINCT FROM (excluded.kind, excluded.direction, excluded.outcome,"
    " coalesce($6::timestamptz, i.occurred_at), excluded.user_id, excluded.actor_name,"
    " excluded.subject, excluded.body, excluded.duration_seconds, excluded.campaign_id)"
    " RETURNING " INTERACTION_RETURNING ", i.xmax = 0";
/* The interaction a tool's (source, external_id) names, after sql_upsert wrote nothing
 * (its conflict locked the row, so it is the committed one). */
static const char sql_by_external[] =
    "SELECT " INTERACTION_COLUMNS " FROM interactions i WHERE i.workspace_id = $1"
    " AND i.source = $2 AND i.external_id = $3";
static const char sql_get[] =
    "SELECT " INTERACTION_COLUMNS " FROM interactions i WHERE i.workspace_id = $1 AND i.id = $2";

/* Columns of INTERACTION_COLUMNS: the two the module reads, the two numbers, and how many. */
enum { C_ID = 0, C_LEAD = 1, C_DURATION = 10, C_VERSION = 14, C_NCOLS = 17 };

#define INTERACTION_FIELDS                                                                         \
    "kind", "direction", "outcome", "occurred_at", "user_id", "actor_name", "subject", "body",     \
        "duration_seconds", "campaign_id", "source", "external_id"
/* The single route names its lead in the path: lead_id and lead_email are read-only there;
 * a batch's item names it by one of them. */
static const char *const fields_single[] = {INTERACTION_FIELDS, NULL};
static const char *const fields_item[] = {INTERACTION_FIELDS, "lead_id", "lead_email", NULL};
static const char *const readonly_single[] = {"id",      "version",    "created_at", "updated_at",
                                              "lead_id", "lead_email", NULL};
static const char *const readonly_item[] = {"id", "version", "created_at", "updated_at", NULL};

static const char invalid[] = "the interaction is not valid";
static const char not_found[] = "no lead with this id";

json_t *interactions_json(const PGresult *res, int row)
{
    static const char *const names[C_NCOLS] = {
        "id",      "lead_id",     "kind",    "direction",  "outcome",          "occurred_at",
        "user_id", "actor_name",  "subject", "body",       "duration_seconds", "campaign_id",
        "source",  "external_id", "version", "created_at", "updated_at"};
    json_t *o = json_object();
    for (int c = 0; c < C_NCOLS; c++) {
        bool number = c == C_DURATION || c == C_VERSION;
        json_object_set_new(o, names[c],
                            number ? db_json_int(res, row, c) : db_json_text(res, row, c));
    }
    return o;
}

/* A validated interaction (strings borrowed from the body) and what came of writing it. */
struct interaction_in {
    const struct auth_ctx *auth;
    const char *lead_id, *lead_email;
    const char *kind, *direction, *outcome, *occurred_at, *user_id, *actor_name, *subject, *body,
        *campaign_id, *source, *external_id;
    const char *duration; /* NULL when absent */
    char duration_buf[24];
    /* the outcome: refused (with why), or res */
    enum ll_err refused; /* LL_OK, or NOT_FOUND, MERGED, GONE, VALIDATION, CONFLICT */
    char merged_into[37];
    const char *field;
    char why[160];
    char existing[37]; /* CONFLICT: the interaction that holds (source, external_id) */
    bool created;      /* a new interaction (201), else the stored one (200) */
    PGresult *res;     /* LL_OK: the interaction (INTERACTION_COLUMNS), new */
};

/* A kind that goes one way or the other, so that its direction is required. */
static bool kind_has_direction(const char *kind)
{
    static const char *const directed[] = {"call", "email", "meeting", "message", NULL};
    return kind && jv_in_list(kind, directed);
}

/* Whether the body gives field a value (absent and null give none). */
static bool given(json_t *body, const char *field)
{
    json_t *x = json_object_get(body, field);
    return x && !json_is_null(x);
}

/* An optional string (absent or null: NULL) of at most max characters. */
static void optional_text(struct jv *v, json_t *body, const char *field, size_t min, size_t max,
                          const char **out)
{
    bool isnull = false;
    jv_text(v, body, field, false, true, min, max, out, &isnull);
}

static void optional_enum(struct jv *v, json_t *body, const char *field, const char *const *values,
                          const char **out)
{
    if (!json_is_null(json_object_get(body, field)))
        jv_enum(v, body, field, false, values, out);
}

/* Reads and checks everything C can: the fields, their combinations and the time. In a
 * batch (by_item), the item names its lead by lead_id or lead_email. */
static void read_interaction(struct jv *v, json_t *body, bool by_item, struct interaction_in *in)
{
    bool isnull = false;
    jv_known(v, body, by_item ? fields_item : fields_single,
             by_item ? readonly_item : readonly_single);
    if (by_item) {
        bool by_id = json_object_get(body, "lead_id") != NULL;
        bool by_email = json_object_get(body, "lead_email") != NULL;
        if (by_id && by_email)
            jv_add(v, "lead_email", "must not be given with lead_id: name the lead by one of them");
        else if (!by_id && !by_email)
            jv_add(v, "lead_id", "is required (or lead_email)");
        jv_uuid(v, body, "lead_id", false, false, &in->lead_id, NULL);
        jv_email(v, body, "lead_email", false, &in->lead_email);
    }
    jv_enum(v, body, "kind", true, vocab_interaction_kinds, &in->kind);
    optional_enum(v, body, "direction", vocab_interaction_directions, &in->direction);
    if (kind_has_direction(in->kind) && !given(body, "direction"))
        jv_add(v, "direction", "is required for a %s: inbound or outbound", in->kind);
    optional_enum(v, body, "outcome", vocab_interaction_outcomes, &in->outcome);
    if (!json_is_null(json_object_get(body, "occurred_at")) &&
        jv_timestamp(v, body, "occurred_at", false, &in->occurred_at) &&
        jv_timestamp_epoch(in->occurred_at) > (long long)time(NULL) + FUTURE_SKEW_S)
        jv_add(v, "occurred_at", "must not be more than 5 minutes ahead");
    jv_uuid(v, body, "user_id", false, true, &in->user_id, &isnull);
    optional_text(v, body, "actor_name", 1, 200, &in->actor_name);
    optional_text(v, body, "subject", 0, 200, &in->subject);
    optional_text(v, body, "body", 0, 10000, &in->body);
    if (jv_int(v, body, "duration_seconds", false, true, 0, 2147483647L, in->duration_buf,
               &isnull) &&
        !isnull)
        in->duration = in->duration_buf;
    jv_uuid(v, body, "campaign_id", false, true, &in->campaign_id, &isnull);
    optional_text(v, body, "source", 1, 64, &in->source);
    if (in->source && !jv_external_system_ok(in->source))
        jv_add(v, "source", "must match ^[a-z0-9][a-z0-9_.-]{0,63}$");
    optional_text(v, body, "external_id", 1, 255, &in->external_id);
    if (in->external_id && !given(body, "source"))
        jv_add(v, "source", "is required with an external_id: the system the id is of");
}

static enum ll_err refuse(struct interaction_in *in, enum ll_err err, const char *field,
                          const char *why)
{
    in->refused = err;
    in->field = field;
    snprintf(in->why, sizeof in->why, "%s", why ? why : "");
    return err;
}

/* The domain, run by db_tx_run: locks the lead, checks it, and records the interaction
 * or updates the one the tool's (source, external_id) names. */
static enum ll_err interaction_record(struct db_conn *db, void *arg)
{
    struct interaction_in *in = arg;
    const char *ws = in->auth->workspace_id;
    const char *lv[2] = {ws, in->lead_id ? in->lead_id : in->lead_email};
    const char *lead_field = in->lead_id || !in->lead_email ? "lead_id" : "lead_email";
    char lead[37] = "";
    PGresult *res;
    enum ll_err err;

    PQclear(in->res);
    in->res = NULL;
    in->refused = LL_OK;
    in->existing[0] = '\0';
    in->created = false;
    res = db_exec(db, in->lead_id ? sql_lead_by_id : sql_lead_by_email, 2, lv);
    if ((err = db_check(db, res)) != LL_OK) {
    } else if (PQntuples(res) == 0) {
        err = refuse(in, LL_E_NOT_FOUND, lead_field,
                     in->lead_id ? "no lead with this id in this workspace"
                                 : "no lead with this email in this workspace");
    } else if (!PQgetisnull(res, 0, 2)) {
        snprintf(in->merged_into, sizeof in->merged_into, "%s", PQgetvalue(res, 0, 2));
        err = refuse(in, LL_E_MERGED, lead_field, NULL);
        snprintf(in->why, sizeof in->why, "names a lead merged into %s: log it on that lead",
                 in->merged_into);
    } else if (PQgetvalue(res, 0, 1)[0] == 't') {
        err = refuse(in, LL_E_GONE, lead_field, "the lead was erased; it takes no interactions");
    } else {
        snprintf(lead, sizeof lead, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    if (err != LL_OK)
        return err;

    const char *iv[14] = {
        ws,          lead,           in->kind,    in->direction, in->outcome,  in->occurred_at,
        in->user_id, in->actor_name, in->subject, in->body,      in->duration, in->campaign_id,
        in->source,  in->external_id};
    res = db_exec(db, sql_upsert, 14, iv);
    err = db_check(db, res);
    if (err == LL_E_VALIDATION) {
        char buf[64];
        const char *c = db_constraint(res, buf, sizeof buf);
        if (c && !strcmp(c, "interactions_user"))
            err = refuse(in, err, "user_id", "is not a user of this workspace");
        else if (c && !strcmp(c, "interactions_campaign"))
            err = refuse(in, err, "campaign_id", "is not a campaign of this workspace");
        else /* a time zone offset beyond PostgreSQL's +-15:59 (22009) */
            err = refuse(in, err, "occurred_at", "is not a time we can store");
    }
    if (err != LL_OK) {
        PQclear(res);
        return err;
    }
    if (PQntuples(res) == 1) {
        in->created = PQgetvalue(res, 0, C_NCOLS)[0] == 't';
        in->res = res;
        return LL_OK;
    }
    PQclear(res);
    /* nothing written: the tool's interaction is stored as sent, or on another lead */
    const char *ev[3] = {ws, in->source, in->external_id};
    res = db_exec(db, sql_by_external, 3, ev);
    if ((err = db_check(db, res)) != LL_OK || PQntuples(res) != 1) {
        PQclear(res);
        return err != LL_OK ? err : LL_E_CONFLICT;
    }
    if (strcmp(PQgetvalue(res, 0, C_LEAD), lead)) {
        err = refuse(in, LL_E_CONFLICT, "external_id", NULL);
        snprintf(in->why, sizeof in->why, "is logged on another lead (%s) by this source",
                 PQgetvalue(res, 0, C_LEAD));
        snprintf(in->existing, sizeof in->existing, "%s", PQgetvalue(res, 0, C_ID));
        PQclear(res);
        return err;
    }
    in->res = res;
    return LL_OK;
}

/* The problem of a refused interaction (new reference), for a batch's item. */
static json_t *refusal_problem(struct request *r, const struct interaction_in *in)
{
    /* as in a touches batch: an unknown or merged lead is a bad value of the item */
    enum ll_err err =
        in->refused == LL_E_MERGED || in->refused == LL_E_NOT_FOUND ? LL_E_VALIDATION : in->refused;
    const char *detail = err == LL_E_GONE       ? "the lead was erased"
                         : err == LL_E_CONFLICT ? "the interaction conflicts with a stored one"
                                                : invalid;
    json_t *errors =
        in->field ? json_pack("[{s:s, s:s}]", "field", in->field, "message", in->why) : NULL;
    return problem_new(err, detail, r->request_id, errors,
                       in->existing[0] ? json_pack("{s:s}", "existing_id", in->existing) : NULL);
}

void interactions_create(struct request *r)
{
    json_t *body = NULL;
    struct interaction_in in = {.auth = &r->auth};
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
    read_interaction(&v, body, false, &in);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, invalid, jv_take(&v), NULL);
        goto out;
    }
    in.lead_id = r->params[0];
    err = db_tx_run(r->db, interaction_record, &in);
    if (in.refused == LL_E_NOT_FOUND)
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
    else if (in.refused == LL_E_MERGED)
        lead_route_merged(r, r->params[0], in.merged_into);
    else if (in.refused == LL_E_GONE)
        reply_problem(r, LL_E_GONE, in.why, NULL, NULL);
    else if (in.refused == LL_E_CONFLICT)
        reply_problem(r, LL_E_CONFLICT, "the interaction conflicts with a stored one",
                      json_pack("[{s:s, s:s}]", "field", in.field, "message", in.why),
                      json_pack("{s:s}", "existing_id", in.existing));
    else if (in.refused == LL_E_VALIDATION)
        reply_bad_field(r, in.field, in.why);
    else if (err)
        reply_db_error(r, err);
    else {
        /* the lead's interactions, as a touch's: an erasure of the lead withdraws an
         * answer under its URL from Idempotency-Key replays (the text may name anyone) */
        reply_header(r, "Location", "/v1/leads/%s/interactions", PQgetvalue(in.res, 0, C_LEAD));
        reply_json(r, in.created ? 201 : 200, interactions_json(in.res, 0));
    }
out:
    PQclear(in.res);
    json_decref(body);
    jv_free(&v);
}

/* One item of a batch: its interaction, and its result once done: the problem it failed
 * with, or the id of its interaction (created, or found logged before). */
struct item {
    struct interaction_in in;
    json_t *problem; /* new, when the item failed */
    char id[37];
    bool done;
};

/* The batch's statement: $1 workspace, $2 the valid items as a JSON array of
 * {n, lead_id or lead_email, the fields}. Each item is decided as interaction_record
 * decides one, with the same locks, and answers one row in item order: n, whether its
 * lead was found, is erased, the lead it was merged into; the interaction written (id,
 * whether created); and the one its (source, external_id) named before (id, whether on
 * the item's lead). The ids of new interactions are drawn beforehand, so that each maps
 * back to its item. The interactions named by the items' external ids are locked and read
 * first, so that a resend without occurred_at keeps the stored time (an interaction
 * logged by a concurrent transaction since this statement began is found by the insert's
 * conflict, not by ex: such an item gets no row of either, and is written again one by one).
 * Leads are looked up one item's lead at a time (LATERAL) by their unique indexes, as in
 * a touches batch. */
static const char sql_batch[] =
    "WITH i AS (SELECT gen_random_uuid() AS new_id, i.* FROM json_to_recordset($2::json)"
    " AS i(n integer, lead_id uuid, lead_email text, kind text, direction text, outcome text,"
    " occurred_at timestamptz, user_id uuid, actor_name text, subject text, body text,"
    " duration_seconds integer, campaign_id uuid, source text, external_id text)),"
    " li AS (SELECT l.* FROM (SELECT DISTINCT lead_id FROM i WHERE lead_id IS NOT NULL) e,"
    " LATERAL (SELECT id, erased_at, merged_into FROM leads WHERE workspace_id = $1"
    " AND id = e.lead_id FOR KEY SHARE) l),"
    " le AS (SELECT l.*, e.folded FROM (SELECT DISTINCT ll_fold(lead_email) AS folded FROM i"
    " WHERE lead_email IS NOT NULL) e, LATERAL (SELECT id, erased_at, merged_into FROM leads"
    " WHERE workspace_id = $1 AND ll_fold(email) = e.folded AND email IS NOT NULL"
    " FOR KEY SHARE) l),"
    " d AS (SELECT i.*, coalesce(li.id, le.id) AS lead,"
    " coalesce(li.erased_at, le.erased_at) IS NOT NULL AS erased,"
    " coalesce(li.merged_into, le.merged_into) AS merged"
    " FROM i LEFT JOIN li ON li.id = i.lead_id LEFT JOIN le ON le.folded = ll_fold(i.lead_email)),"
    " ex AS (SELECT x.id, x.lead_id, x.source, x.external_id, x.occurred_at FROM d,"
    " LATERAL (SELECT * FROM interactions x WHERE x.workspace_id = $1 AND x.source = d.source"
    " AND x.external_id = d.external_id FOR UPDATE) x WHERE d.external_id IS NOT NULL),"
    " w AS (INSERT INTO interactions AS x (id, workspace_id, lead_id, kind, direction, outcome,"
    " occurred_at, user_id, actor_name, subject, body, duration_seconds, campaign_id, source,"
    " external_id) SELECT d.new_id, $1, d.lead, d.kind, d.direction, d.outcome,"
    " coalesce(d.occurred_at, ex.occurred_at, now()), d.user_id, d.actor_name, d.subject,"
    " d.body, d.duration_seconds, d.campaign_id, d.source, d.external_id FROM d"
    " LEFT JOIN ex ON ex.source = d.source AND ex.external_id = d.external_id"
    " WHERE d.lead IS NOT NULL AND NOT d.erased AND d.merged IS NULL ORDER BY d.n"
    " ON CONFLICT (workspace_id, source, external_id) DO UPDATE SET kind = excluded.kind,"
    " direction = excluded.direction, outcome = excluded.outcome,"
    " occurred_at = excluded.occurred_at, user_id = excluded.user_id,"
    " actor_name = excluded.actor_name, subject = excluded.subject, body = excluded.body,"
    " duration_seconds = excluded.duration_seconds, campaign_id = excluded.campaign_id,"
    " version = x.version + 1, updated_at = excluded.updated_at"
    " WHERE x.lead_id = excluded.lead_id AND (x.kind, x.direction, x.outcome, x.occurred_at,"
    " x.user_id, x.actor_name, x.subject, x.body, x.duration_seconds, x.campaign_id)"
    " IS DISTINCT FROM (excluded.kind, excluded.direction, excluded.outcome,"
    " excluded.occurred_at, excluded.user_id, excluded.actor_name, excluded.subject,"
    " excluded.body, excluded.duration_seconds, excluded.campaign_id)"
    " RETURNING x.id, x.source, x.external_id, x.xmax = 0 AS created)"
    " SELECT d.n, d.lead IS NOT NULL, d.erased, d.merged, w.id, w.created, ex.id,"
    " ex.lead_id = d.lead FROM d"
    " LEFT JOIN w ON w.id = d.new_id OR (w.source = d.source AND w.external_id = d.external_id)"
    " LEFT JOIN ex ON ex.source = d.source AND ex.external_id = d.external_id ORDER BY d.n";

/* Whether two items to write name the same (source, external_id): one statement cannot
 * write one interaction twice, so such a batch is written item by item. */
static bool external_ids_repeat(const struct item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct interaction_in *a = &items[i].in;
        if (items[i].problem || !a->external_id)
            continue;
        for (size_t j = i + 1; j < n; j++) {
            const struct interaction_in *b = &items[j].in;
            if (!items[j].problem && b->external_id && !strcmp(a->source, b->source) &&
                !strcmp(a->external_id, b->external_id))
                return true;
        }
    }
    return false;
}

/* What the row of sql_batch says of its item it; false when it says nothing sure (the
 * item is written one by one then). */
static bool batch_row_read(struct request *r, const PGresult *res, int row, struct item *it)
{
    struct interaction_in *in = &it->in;
    const char *lead_field = in->lead_id ? "lead_id" : "lead_email";
    bool t[8] = {false};
    for (int c = 1; c < 8; c++)
        t[c] = !PQgetisnull(res, row, c) && PQgetvalue(res, row, c)[0] == 't';
    in->existing[0] = '\0';
    if (!t[1]) {
        refuse(in, LL_E_NOT_FOUND, lead_field,
               in->lead_id ? "no lead with this id in this workspace"
                           : "no lead with this email in this workspace");
    } else if (!PQgetisnull(res, row, 3)) {
        refuse(in, LL_E_MERGED, lead_field, NULL);
        snprintf(in->why, sizeof in->why, "names a lead merged into %s: log it on that lead",
                 PQgetvalue(res, row, 3));
    } else if (t[2]) {
        refuse(in, LL_E_GONE, lead_field, "the lead was erased; it takes no interactions");
    } else if (!PQgetisnull(res, row, 4)) { /* written: created or updated in place */
        snprintf(it->id, sizeof it->id, "%s", PQgetvalue(res, row, 4));
        in->created = t[5];
        return true;
    } else if (PQgetisnull(res, row, 6)) { /* logged meanwhile by another transaction */
        return false;
    } else if (t[7]) { /* logged before on this lead, as sent */
        snprintf(it->id, sizeof it->id, "%s", PQgetvalue(res, row, 6));
        in->created = false;
        return true;
    } else {
        refuse(in, LL_E_CONFLICT, "external_id", NULL);
        snprintf(in->why, sizeof in->why, "is logged on another lead by this source");
        snprintf(in->existing, sizeof in->existing, "%s", PQgetvalue(res, row, 6));
    }
    it->problem = refusal_problem(r, in);
    return true;
}

/* Writes every item not failed yet with one statement (sql_batch), in a savepoint: the
 * report, audit and change triggers then run once for the batch, not once per item.
 * Returns LL_OK with the items it decided done, or with none done when the statement
 * failed on something one item could cause (an unknown user or campaign, a value the
 * database refuses, a conflict with a concurrent writer): item_write then writes them one
 * by one, so that each gets the answer it would get alone. Otherwise the error that fails
 * the batch. */
static enum ll_err batch_many(struct request *r, struct item *items, size_t n)
{
    json_t *records = json_array();
    char *text = NULL;
    PGresult *res = NULL;
    enum ll_err err = LL_OK;

    for (size_t i = 0; i < n; i++) {
        const struct interaction_in *in = &items[i].in;
        if (items[i].problem)
            continue;
        json_t *rec = json_pack(
            "{s:I, s:s?, s:s?, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}",
            "n", (json_int_t)i, "lead_id", in->lead_id, "lead_email", in->lead_email, "kind",
            in->kind, "direction", in->direction, "outcome", in->outcome, "occurred_at",
            in->occurred_at, "user_id", in->user_id, "actor_name", in->actor_name, "subject",
            in->subject, "body", in->body, "campaign_id", in->campaign_id, "source", in->source,
            "external_id", in->external_id);
        if (rec && in->duration)
            json_object_set_new(rec, "duration_seconds",
                                json_integer(strtoll(in->duration, NULL, 10)));
        json_array_append_new(records, rec);
    }
    if (json_array_size(records) == 0 || external_ids_repeat(items, n))
        goto out;
    if (!(text = json_dumps(records, JSON_COMPACT))) {
        err = LL_E_INTERNAL;
        goto out;
    }
    if ((err = db_tx_begin(r->db)) != LL_OK)
        goto out;
    const char *vals[2] = {r->auth.workspace_id, text};
    res = db_exec_adhoc(r->db, sql_batch, 2, vals);
    err = db_check(r->db, res);
    if (err != LL_OK) {
        db_tx_rollback(r->db);
        if (err == LL_E_VALIDATION || err == LL_E_CONFLICT)
            err = LL_OK; /* the items are written one by one instead */
        goto out;
    }
    if ((err = db_tx_commit(r->db)) != LL_OK)
        goto out;
    for (int row = 0; row < PQntuples(res); row++) {
        long k = atol(PQgetvalue(res, row, 0));
        if (k < 0 || (size_t)k >= n || items[k].problem || items[k].done)
            continue;
        items[k].done = batch_row_read(r, res, row, &items[k]);
    }
out:
    PQclear(res);
    free(text);
    json_decref(records);
    return err;
}

/* Writes one item in a savepoint of its own (interaction_record), so that its failure
 * undoes only itself. Returns LL_OK, or the error that fails the whole batch (the
 * database, not the item, is at fault). */
static enum ll_err item_write(struct request *r, struct item *it)
{
    struct interaction_in *in = &it->in;
    enum ll_err err = db_tx_run(r->db, interaction_record, in);
    if (in->refused != LL_OK) {
        it->problem = refusal_problem(r, in);
        err = LL_OK;
    } else if (err == LL_OK) {
        snprintf(it->id, sizeof it->id, "%s", PQgetvalue(in->res, 0, C_ID));
    }
    it->done = true;
    return err;
}

void interactions_batch(struct request *r)
{
    static const char *const batch_fields[] = {"items", NULL};
    json_t *body = NULL, *items, *results = NULL;
    struct item *list = NULL;
    size_t n = 0;
    long created = 0, existing = 0;
    bool in_tx = false;
    struct jv v;
    enum ll_err err = LL_OK;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    jv_known(&v, body, batch_fields, NULL);
    items = json_object_get(body, "items");
    if (!items)
        jv_add(&v, "items", "is required");
    else if (!json_is_array(items) || json_array_size(items) < 1 ||
             json_array_size(items) > BATCH_MAX)
        jv_add(&v, "items", "must be an array of 1 to %d interactions", BATCH_MAX);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the batch is not valid", jv_take(&v), NULL);
        goto out;
    }
    n = json_array_size(items);
    if (!(list = calloc(n, sizeof *list))) {
        reply_db_error(r, LL_E_INTERNAL);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(items, i);
        struct jv iv;
        list[i].in.auth = &r->auth;
        jv_init(&iv);
        if (json_is_object(item))
            read_interaction(&iv, item, true, &list[i].in);
        else
            jv_add(&iv, "items[]", "must be an object");
        if (!jv_ok(&iv))
            list[i].problem =
                problem_new(LL_E_VALIDATION, invalid, r->request_id, jv_take(&iv), NULL);
        jv_free(&iv);
    }
    /* One transaction for the batch: it is all there or (if the database fails) none.
     * The items are written by one statement, or one by one when it cannot decide them. */
    if ((err = db_tx_begin(r->db)) != LL_OK)
        goto out;
    in_tx = true;
    err = batch_many(r, list, n);
    for (size_t i = 0; i < n && err == LL_OK; i++)
        if (!list[i].problem && !list[i].done)
            err = item_write(r, &list[i]);
    if (err != LL_OK)
        goto out;
    in_tx = false;
    if ((err = db_tx_commit(r->db)) != LL_OK)
        goto out;
    results = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *result;
        if (list[i].problem) {
            int status = json_integer_value(json_object_get(list[i].problem, "status"));
            result = json_pack("{s:I, s:i, s:O}", "index", (json_int_t)i, "status", status,
                               "problem", list[i].problem);
        } else {
            bool c = list[i].in.created;
            result = json_pack("{s:I, s:i, s:s}", "index", (json_int_t)i, "status", c ? 201 : 200,
                               "id", list[i].id);
            created += c;
            existing += !c;
        }
        json_array_append_new(results, result);
    }
    reply_json(r, 200,
               json_pack("{s:O, s:I, s:I, s:I}", "results", results, "created", (json_int_t)created,
                         "existing", (json_int_t)existing, "failed",
                         (json_int_t)(n - created - existing)));
out:
    if (err != LL_OK)
        reply_db_error(r, err);
    if (in_tx)
        db_tx_rollback(r->db);
    for (size_t i = 0; i < n && list; i++) {
        PQclear(list[i].in.res);
        json_decref(list[i].problem);
    }
    free(list);
    json_decref(results);
    json_decref(body);
    jv_free(&v);
}

static const struct sort_key by_occurred[] = {{"occurred_at", "i.occurred_at", "timestamptz"},
                                              {NULL, NULL, NULL}};

void interactions_list_by_lead(struct request *r)
{
    static const char *const allowed[] = {
        "limit", "cursor", "sort", "kind", "direction", "occurred_after", "occurred_before", NULL};
    const char *kind = req_query(r, "kind"), *direction = req_query(r, "direction");
    const char *after = req_query(r, "occurred_after"), *before = req_query(r, "occurred_before");
    struct listing l;
    struct qb q;

    if (!req_query_allowed(r, allowed) || !list_params(r, &l, by_occurred, "-occurred_at"))
        return;
    if (kind && !jv_in_list(kind, vocab_interaction_kinds)) {
        reply_bad_param(r, "kind", "is not an interaction kind");
        return;
    }
    if (direction && !jv_in_list(direction, vocab_interaction_directions)) {
        reply_bad_param(r, "direction", "must be inbound or outbound");
        return;
    }
    if ((after && !jv_timestamp_valid(after)) || (before && !jv_timestamp_valid(before))) {
        reply_bad_param(r,
                        after && !jv_timestamp_valid(after) ? "occurred_after" : "occurred_before",
                        "must be an RFC 3339 timestamp with a time zone");
        return;
    }
    /* An erased lead still lists its interactions, without what named anyone. */
    if (!lead_route_found(r))
        return;
    list_begin(&q, "SELECT " INTERACTION_COLUMNS ", ", &l);
    qb_addp(&q, ", i.id FROM interactions i WHERE i.workspace_id = $?", r->auth.workspace_id);
    qb_addp(&q, " AND i.lead_id = $?", r->params[0]);
    if (kind)
        qb_addp(&q, " AND i.kind = $?", kind);
    if (direction)
        qb_addp(&q, " AND i.direction = $?", direction);
    if (after)
        qb_addp(&q, " AND i.occurred_at >= $?::timestamptz", after);
    if (before)
        qb_addp(&q, " AND i.occurred_at < $?::timestamptz", before);
    list_apply(&q, &l, "i.id");
    list_answer(r, &q, &l, interactions_json);
    qb_free(&q);
}

void interactions_get(struct request *r)
{
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, "no interaction with this id", NULL, NULL);
        return;
    }
    res = db_exec(r->db, sql_get, 2, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, "no interaction with this id", NULL, NULL);
    else
        reply_json(r, 200, interactions_json(res, 0));
    PQclear(res);
}
