/* Leads. Each write is one statement (data-modifying CTEs): the lead and what it implies
 * (LEADS_CREATED_CTES: its stage history, external ids and `created` touch; the change feed
 * row from its trigger) are written together or not at all. The write functions take the
 * connection and the caller (db, auth), the handlers read the request and answer. An erased lead
 * keeps its anonymous facts and answers 410; its erasure reaches every copy of its personal data
 * (feedback notes, stage reasons, idempotency answers, the audit log) in one transaction. */
#include "leadloop/leads.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leadloop/audit.h"
#include "leadloop/auth.h"
#include "leadloop/conditional.h"
#include "leadloop/db.h"
#include "leadloop/idempotency.h"
#include "leadloop/jsonv.h"
#include "leadloop/jw.h"
#include "leadloop/lead_filter.h"
#include "leadloop/lead_route.h"
#include "leadloop/list.h"
#include "leadloop/request.h"
#include "leadloop/resource.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

/* $1 workspace, $2 email, $3..$7 names/company/title/phone, $8 country, $9 source, $10
 * score, $11 owner, $12 consent, $13 custom, $14 external ids, $15 campaign, $16 key,
 * $17 user, $18..$24 the visit (LEAD_VISIT_COLUMNS). Without a source, the visit's
 * (ll_lead_source), else other. */
static const char sql_insert[] =
    "WITH created AS (INSERT INTO leads (workspace_id, email, first_name, last_name, company, "
    "title,"
    " phone, country, source, score, owner_id, consent, custom, external_ids, first_campaign_id,"
    " latest_campaign_id, first_touch_at, latest_touch_at, created_at, "
    "stage_changed_at, " LEAD_VISIT_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6,"
    " $7, $8, coalesce($9, ll_lead_source($19, $18, $24, $23), 'other'), $10::smallint,"
    " $11::uuid, ll_consent($12::jsonb),"
    " jsonb_strip_nulls(coalesce($13::jsonb, '{}')), coalesce($14::jsonb, '{}'), $15::uuid,"
    " $15::uuid, CASE WHEN $15 IS NOT NULL THEN coalesce($25::timestamptz, now()) END,"
    " CASE WHEN $15 IS NOT NULL THEN coalesce($25::timestamptz, now()) END,"
    " coalesce($25::timestamptz, now()), coalesce($25::timestamptz, now()),"
    " $18, $19, $20, $21, $22, $23, $24) RETURNING *)," LEADS_CREATED_CTES(
        "$16", "$17") " SELECT " LEAD_COLUMNS " FROM created";
/* and merged_into after the lead's columns (LEAD_NCOLS) */
static const char sql_get[] =
    "SELECT " LEAD_COLUMNS ", merged_into FROM leads WHERE workspace_id = $1 AND id = $2";
static const char sql_state[] = "SELECT version, erased_at IS NOT NULL, merged_into FROM leads"
                                " WHERE workspace_id = $1 AND id = $2";
static const char sql_by_email[] =
    "SELECT id FROM leads WHERE workspace_id = $1 AND ll_fold(email) = ll_fold($2)";
static const char sql_by_external[] =
    "SELECT x.lead_id FROM lead_external_ids x, jsonb_each_text($2::jsonb) e"
    " WHERE x.workspace_id = $1 AND x.system = e.key AND x.external_id = e.value LIMIT 1";
static const char sql_same_email[] = "SELECT ll_fold($1) = ll_fold($2)";
/* The lookups (GET by email, by external id). They leave erased leads in (410), but an
 * erasure removes a lead's email and external ids, so an erased lead is found by neither. */
static const char sql_get_by_email[] =
    "SELECT " LEAD_COLUMNS " FROM leads WHERE workspace_id = $1 AND ll_fold(email) = ll_fold($2)";
static const char sql_get_by_external[] =
    "SELECT " LEAD_COLUMNS " FROM leads WHERE workspace_id = $1 AND id = (SELECT lead_id"
    " FROM lead_external_ids WHERE workspace_id = $1 AND system = $2 AND external_id = $3)";
/* The lead, locked for its erasure: a write to it under way (a transition or feedback,
 * with the idempotency record of its answer) commits first, and the erasure's next
 * statement, with a snapshot of its own, sees all it wrote. */
static const char sql_erase_lock[] = "SELECT version, erased_at IS NOT NULL, merged_into"
                                     " FROM leads WHERE workspace_id = $1 AND id = $2 FOR UPDATE";
/* Every personal value of the lead, wherever it is kept: its own columns, its external
 * ids, the notes of its feedback, the reasons of its stage changes and the subjects,
 * bodies and actor names of its interactions (free text, which may name anyone). The
 * facts stay: stages, times, touches, kinds, ratings, amounts. The audit log's redaction
 * (ll_audit_redact_lead, sql/0009_audit.sql) names the same fields. The leads merged into
 * it are the same person: they are erased with it, and the email its merge records keep
 * (lead_merges) goes. Returns the ids erased. */
static const char sql_erase[] =
    "WITH u AS (UPDATE leads SET email = NULL, first_name = NULL, last_name = NULL,"
    " company = NULL, title = NULL, phone = NULL, consent = NULL, custom = '{}',"
    " landing_page = NULL, referrer = NULL,"
    " external_ids = '{}', erased_at = now(), version = version + 1, updated_at = now()"
    " WHERE workspace_id = $1 AND (id = $2 OR merged_into = $2) AND erased_at IS NULL"
    " RETURNING workspace_id, id),"
    " m AS (UPDATE lead_merges g SET email = NULL FROM u WHERE g.workspace_id = u.workspace_id"
    " AND g.lead_id = u.id AND g.email IS NOT NULL),"
    " d AS (DELETE FROM lead_external_ids x USING u"
    " WHERE x.workspace_id = u.workspace_id AND x.lead_id = u.id),"
    " n AS (UPDATE feedback b SET note = NULL FROM u"
    " WHERE b.workspace_id = u.workspace_id AND b.lead_id = u.id AND b.note IS NOT NULL),"
    " s AS (UPDATE lead_stage_changes c SET reason = NULL FROM u"
    " WHERE c.workspace_id = u.workspace_id AND c.lead_id = u.id AND c.reason IS NOT NULL),"
    " i AS (UPDATE interactions x SET subject = NULL, body = NULL, actor_name = NULL FROM u"
    " WHERE x.workspace_id = u.workspace_id AND x.lead_id = u.id"
    " AND (x.subject IS NOT NULL OR x.body IS NOT NULL OR x.actor_name IS NOT NULL))"
    " SELECT id FROM u";
/* (The UTM parameters stay: they name the campaign, like the lead's touches. The two URLs
 * go: a page's address may carry the visitor's email or name in its query.) */
/* ... and leave the change feed's earlier rows about it (sql/0012_change_feed.sql). */
static const char sql_erase_changes[] = "SELECT ll_changes_redact_lead($1, $2)";

static const char *const *const sources = vocab_lead_sources;
static const char *const writable[] = {"email", "first_name", "last_name", "company", "title",
                                       "phone", "country", "source", "score", "owner_id", "consent",
                                       "custom", "external_ids", "campaign_id",
                                       /* the visit: vocab_visit_fields */
                                       "utm_source", "utm_medium", "utm_campaign", "utm_term",
                                       "utm_content", "landing_page", "referrer", NULL};
/* on create, a lead may say when it was created (history, for importers) */
static const char *const writable_create[] = {
    "email",        "first_name",  "last_name",   "company",
    "title",        "phone",       "country",     "source",
    "score",        "owner_id",    "consent",     "custom",
    "external_ids", "campaign_id", "utm_source",  "utm_medium",
    "utm_campaign", "utm_term",    "utm_content", "landing_page",
    "referrer",     "created_at",  NULL};
static const char *const readonly_create[] = {"id",
                                              "stage",
                                              "version",
                                              "updated_at",
                                              "stage_changed_at",
                                              "first_campaign_id",
                                              "latest_campaign_id",
                                              "erased",
                                              "recycle_on",
                                              NULL};
static const char *const readonly[] = {"id",
                                       "stage",
                                       "version",
                                       "created_at",
                                       "updated_at",
                                       "stage_changed_at",
                                       "first_campaign_id",
                                       "latest_campaign_id",
                                       "erased",
                                       "recycle_on",
                                       NULL};
static const char not_found[] = "no lead with this id";

void lead_in_free(struct lead_in *in)
{
    free(in->consent);
    free(in->custom);
    free(in->external_ids);
    in->consent = in->custom = in->external_ids = NULL;
}

/* The one representation of a lead, written straight from its row (LEAD_COLUMNS): the
 * jsonb columns are embedded as PostgreSQL prints them. */
void leads_write(struct jw *w, const PGresult *res, int row)
{
    static const char *const names[] = {"id",    "email", "first_name", "last_name", "company",
                                        "title", "phone", "country",    "source",    "stage"};
    jw_lit(w, "{");
    for (int c = 0; c < 10; c++)
        jw_text(w, names[c], res, row, c);
    jw_json(w, "score", res, row, 10);
    jw_text(w, "owner_id", res, row, 11);
    jw_json(w, "consent", res, row, 12);
    jw_json(w, "custom", res, row, 13);
    jw_json(w, "external_ids", res, row, 14);
    jw_text(w, "first_campaign_id", res, row, 15);
    jw_text(w, "latest_campaign_id", res, row, 16);
    jw_json(w, "version", res, row, 17);
    jw_text(w, "created_at", res, row, 18);
    jw_text(w, "updated_at", res, row, 19);
    jw_text(w, "stage_changed_at", res, row, 20);
    jw_text(w, "recycle_on", res, row, 22);
    for (int k = 0; k < LEAD_NVISIT; k++)
        jw_text(w, vocab_visit_fields[k], res, row, LEAD_COL_VISIT + k);
    jw_lit(w, "}");
}

json_t *leads_json(const PGresult *res, int row)
{
    struct jw w;
    size_t len;
    char *text;
    json_t *o;
    jw_init(&w, 1024);
    leads_write(&w, res, row);
    text = jw_take(&w, &len);
    o = text ? json_loadb(text, len, 0, NULL) : NULL;
    free(text);
    return o ? o : json_object();
}

static void answer_lead(struct request *r, int status, const PGresult *res)
{
    struct jw w;
    size_t len = 0;
    char *body;
    reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, LEAD_COL_VERSION));
    if (status == 201)
        reply_header(r, "Location", "/v1/leads/%s", PQgetvalue(res, 0, 0));
    jw_init(&w, 1024);
    leads_write(&w, res, 0);
    body = jw_take(&w, &len);
    reply_owned(r, status, "application/json", body, len);
}

/* consent: null, or {email_opt_in, captured_at, how}; in a patch members may be null
 * (removed), except email_opt_in. */
static void read_consent(struct jv *v, json_t *body, bool patch, struct lead_in *in)
{
    json_t *c = json_object_get(body, "consent"), *copy;
    const char *s;
    bool b;
    struct jv inner;
    if (!c)
        return;
    in->set_consent = true;
    if (json_is_null(c)) {
        in->consent = strdup("null");
        return;
    }
    if (!json_is_object(c)) {
        jv_add(v, "consent", "must be an object {email_opt_in, captured_at, how} or null");
        return;
    }
    jv_init(&inner);
    jv_known(&inner, c, (const char *const[]){"email_opt_in", "captured_at", "how", NULL}, NULL);
    if (json_is_null(json_object_get(c, "email_opt_in")))
        jv_add(&inner, "email_opt_in", "cannot be null");
    else
        jv_bool(&inner, c, "email_opt_in", !patch, &b);
    if (!json_is_null(json_object_get(c, "captured_at")))
        jv_timestamp(&inner, c, "captured_at", false, &s);
    if (!json_is_null(json_object_get(c, "how")))
        jv_string(&inner, c, "how", false, 0, 200, &s);
    /* name the members as consent.x */
    size_t i;
    json_t *e;
    json_array_foreach(inner.errors, i, e)
    {
        char name[96];
        snprintf(name, sizeof name, "consent.%s", json_string_value(json_object_get(e, "field")));
        jv_add(v, name, "%s", json_string_value(json_object_get(e, "message")));
    }
    if (jv_ok(&inner)) {
        copy = patch ? json_incref(c) : json_deep_copy(c);
        if (!patch) { /* on create a null member is simply absent */
            const char *k;
            json_t *val, *tmp;
            json_object_foreach_safe(copy, tmp, k, val)
            {
                if (json_is_null(val))
                    json_object_del(copy, k);
            }
        }
        in->consent = json_dumps(copy, JSON_COMPACT);
        json_decref(copy);
    }
    jv_free(&inner);
}

void leads_read(struct jv *v, json_t *body, enum lead_mode mode, struct lead_in *in)
{
    bool isnull;
    bool patch = mode == LEAD_PATCH;
    json_t *obj;
    memset(in, 0, sizeof *in);
    if (patch)
        jv_known(v, body, writable, readonly);
    else
        jv_known(v, body, writable_create, readonly_create);
    if (!patch && jv_timestamp(v, body, "created_at", false, &in->created_at) &&
        jv_timestamp_epoch(in->created_at) > (long long)time(NULL) + 300)
        jv_add(v, "created_at", "must not be more than 5 minutes ahead");
    if (patch && json_object_get(body, "campaign_id"))
        jv_add(v, "campaign_id", "is set on create only; record a touch to credit a campaign");
    if (json_is_null(json_object_get(body, "email")) ||
        (patch && json_is_null(json_object_get(body, "source"))))
        jv_add(v, json_is_null(json_object_get(body, "email")) ? "email" : "source",
               "cannot be null");
    else
        jv_email(v, body, "email", mode == LEAD_CREATE, &in->email);
    in->set_first = jv_text(v, body, "first_name", false, true, 0, 200, &in->first_name, &isnull);
    in->set_last = jv_text(v, body, "last_name", false, true, 0, 200, &in->last_name, &isnull);
    in->set_company = jv_text(v, body, "company", false, true, 0, 200, &in->company, &isnull);
    in->set_title = jv_text(v, body, "title", false, true, 0, 200, &in->title, &isnull);
    in->set_phone = jv_text(v, body, "phone", false, true, 0, 50, &in->phone, &isnull);
    in->set_country = jv_country(v, body, "country", false, true, &in->country, &isnull);
    if (!json_is_null(json_object_get(body, "source")))
        jv_enum(v, body, "source", false, sources, &in->source);
    in->has_score = jv_int(v, body, "score", false, true, 0, 100, in->score, &isnull);
    if (in->has_score && isnull)
        in->score[0] = '\0';
    in->set_owner = jv_uuid(v, body, "owner_id", false, true, &in->owner_id, &isnull);
    if (!patch && !json_is_null(json_object_get(body, "campaign_id")))
        jv_uuid(v, body, "campaign_id", false, false, &in->campaign_id, &isnull);
    read_consent(v, body, patch, in);
    /* the visit: UTM parameters of 1 to 255 characters, absolute URLs; null clears */
    for (int k = 0; k < LEAD_NVISIT; k++)
        in->set_visit[k] = k < LEAD_LANDING_PAGE ? jv_text(v, body, vocab_visit_fields[k], false,
                                                           true, 1, 255, &in->visit[k], &isnull)
                                                 : jv_url(v, body, vocab_visit_fields[k], false,
                                                          true, &in->visit[k], &isnull);
    if (json_is_null(json_object_get(body, "custom")) ||
        json_is_null(json_object_get(body, "external_ids"))) {
        jv_add(v, json_is_null(json_object_get(body, "custom")) ? "custom" : "external_ids",
               "cannot be null (send {} to keep, or null members to remove)");
    } else {
        if (jv_custom(v, body, "custom", patch, &obj))
            in->custom = json_dumps(obj, JSON_COMPACT);
        if (jv_external_ids(v, body, "external_ids", patch, &obj))
            in->external_ids = json_dumps(obj, JSON_COMPACT);
    }
}

PGresult *leads_insert(struct db_conn *db, const struct auth_ctx *auth, const struct lead_in *in,
                       enum ll_err *err)
{
    const char *vals[25] = {auth->workspace_id,
                            in->email,
                            in->first_name,
                            in->last_name,
                            in->company,
                            in->title,
                            in->phone,
                            in->country,
                            in->source,
                            in->has_score && in->score[0] ? in->score : NULL,
                            in->owner_id,
                            in->consent && strcmp(in->consent, "null") ? in->consent : NULL,
                            in->custom,
                            in->external_ids,
                            in->campaign_id,
                            auth_key_or_null(auth),
                            auth->user_id[0] ? auth->user_id : NULL};
    for (int k = 0; k < LEAD_NVISIT; k++)
        vals[17 + k] = in->visit[k];
    vals[24] = in->created_at;
    PGresult *res = db_exec(db, sql_insert, 25, vals);
    *err = db_check(db, res);
    return res;
}

/* Keeps lead_external_ids in step with a patch's external ids ($3) once lead $2 is
 * updated: drops the pairs whose system changed, adds the new ones. Old and new pairs
 * differ, so they cannot collide; another lead holding a new pair is a unique violation
 * (409). Statements of their own after the UPDATE, each with workspace_id = $1, rather
 * than CTEs reading the UPDATE's RETURNING: Citus refuses that chain (a correlated
 * subquery over a CTE). */
static const char sql_external_drop[] =
    "DELETE FROM lead_external_ids x USING leads l WHERE l.workspace_id = $1 AND l.id = $2"
    " AND x.workspace_id = $1 AND x.lead_id = $2"
    " AND x.system IN (SELECT jsonb_object_keys($3::jsonb))"
    " AND (l.external_ids ->> x.system) IS DISTINCT FROM x.external_id";
static const char sql_external_add[] =
    "INSERT INTO lead_external_ids (workspace_id, system, external_id, lead_id)"
    " SELECT $1, e.key, e.value, $2 FROM jsonb_each_text(jsonb_strip_nulls($3::jsonb)) e"
    " WHERE NOT EXISTS (SELECT 1 FROM lead_external_ids x WHERE x.workspace_id = $1"
    " AND x.system = e.key AND x.external_id = e.value AND x.lead_id = $2)";

/* The UPDATE of leads_update, and its new row (LEAD_COLUMNS) or the failure (new). */
static PGresult *update_row(struct db_conn *db, const struct auth_ctx *auth, const char *id,
                            const struct lead_in *in, const struct conditional *cond,
                            enum ll_err *err)
{
    struct qb q;
    PGresult *res;
    qb_init(&q, "WITH u AS (UPDATE leads SET version = version + 1, updated_at = now()");
    if (in->email)
        qb_addp(&q, ", email = $?", in->email);
    if (in->set_first)
        qb_addp(&q, ", first_name = $?", in->first_name);
    if (in->set_last)
        qb_addp(&q, ", last_name = $?", in->last_name);
    if (in->set_company)
        qb_addp(&q, ", company = $?", in->company);
    if (in->set_title)
        qb_addp(&q, ", title = $?", in->title);
    if (in->set_phone)
        qb_addp(&q, ", phone = $?", in->phone);
    if (in->set_country)
        qb_addp(&q, ", country = $?", in->country);
    if (in->source)
        qb_addp(&q, ", source = $?", in->source);
    if (in->has_score)
        qb_addp(&q, ", score = $?::smallint", in->score[0] ? in->score : NULL);
    if (in->set_owner)
        qb_addp(&q, ", owner_id = $?::uuid", in->owner_id);
    for (int k = 0; k < LEAD_NVISIT; k++) {
        char frag[48];
        if (!in->set_visit[k])
            continue;
        snprintf(frag, sizeof frag, ", %s = $?", vocab_visit_fields[k]);
        qb_addp(&q, frag, in->visit[k]);
    }
    if (in->consent) { /* RFC 7396: null clears, an object merges */
        qb_addp(&q, ", consent = CASE WHEN $?::jsonb = 'null' THEN NULL", in->consent);
        qb_addp(&q, " ELSE ll_consent(jsonb_strip_nulls(coalesce(consent, '{}') || $?::jsonb)) END",
                in->consent);
    }
    if (in->custom)
        qb_addp(&q, ", custom = jsonb_strip_nulls(custom || $?::jsonb)", in->custom);
    if (in->external_ids)
        qb_addp(&q, ", external_ids = jsonb_strip_nulls(external_ids || $?::jsonb)",
                in->external_ids);
    qb_addp(&q, " WHERE workspace_id = $?", auth->workspace_id);
    qb_addp(&q, " AND id = $? AND erased_at IS NULL AND merged_into IS NULL", id);
    if (cond && conditional_param(cond))
        qb_addc(&q, " AND version = $?::integer", conditional_param(cond));
    qb_add(&q, " RETURNING *) SELECT " LEAD_COLUMNS " FROM u");
    res = qb_exec(db, &q, err);
    qb_free(&q);
    return res;
}

PGresult *leads_update(struct db_conn *db, const struct auth_ctx *auth, const char *id,
                       const struct lead_in *in, const struct conditional *cond, enum ll_err *err)
{
    PGresult *res, *ext;
    if (!in->external_ids)
        return update_row(db, auth, id, in, cond, err);
    /* three statements that stand or fall together: a transaction (a savepoint in one) */
    if ((*err = db_tx_begin(db)) != LL_OK)
        return NULL;
    res = update_row(db, auth, id, in, cond, err);
    if (*err == LL_OK && PQntuples(res) == 1) {
        const char *vals[3] = {auth->workspace_id, id, in->external_ids};
        ext = db_exec(db, sql_external_drop, 3, vals);
        if ((*err = db_check(db, ext)) == LL_OK) {
            PQclear(ext);
            ext = db_exec(db, sql_external_add, 3, vals);
            *err = db_check(db, ext);
        }
        if (*err != LL_OK) { /* the failed statement answers: its error says why */
            PQclear(res);
            res = ext;
        } else {
            PQclear(ext);
        }
    }
    if (*err == LL_OK)
        *err = db_tx_commit(db);
    else
        db_tx_rollback(db);
    return res;
}

/* The id of the lead an email or external id already belongs to (new string or NULL). */
static char *holder_of(struct db_conn *db, const struct auth_ctx *auth, const char *sql,
                       const char *value)
{
    const char *vals[2] = {auth->workspace_id, value};
    PGresult *res = db_exec(db, sql, 2, vals);
    char *id = NULL;
    if (db_check(db, res) == LL_OK && PQntuples(res) == 1)
        id = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return id;
}

static json_t *field_error(const char *field, const char *message)
{
    return json_pack("[{s:s, s:s}]", "field", field, "message", message);
}

enum ll_err leads_write_problem(struct db_conn *db, const struct auth_ctx *auth,
                                const PGresult *res, enum ll_err err, const struct lead_in *in,
                                const char **detail, json_t **errors, json_t **extra)
{
    char buf[64];
    const char *c = db_constraint(res, buf, sizeof buf);
    char *id = NULL;
    *errors = *extra = NULL;
    *detail = NULL;
    if (err == LL_E_CONFLICT && c && !strcmp(c, "leads_email_key")) {
        id = in->email ? holder_of(db, auth, sql_by_email, in->email) : NULL;
        *detail = "a lead with this email already exists";
        *errors = field_error("email", "is already taken");
    } else if (err == LL_E_CONFLICT && c && !strcmp(c, "lead_external_ids_pkey")) {
        id = in->external_ids ? holder_of(db, auth, sql_by_external, in->external_ids) : NULL;
        *detail = "an external id is already held by another lead";
        *errors = field_error("external_ids", "is already held by another lead");
    } else if (err == LL_E_VALIDATION && c && strstr(c, "owner_id")) {
        *detail = "owner_id is not a user of this workspace";
        *errors = field_error("owner_id", "is not a user of this workspace");
    } else if (err == LL_E_VALIDATION && c && strstr(c, "campaign")) {
        *detail = "campaign_id is not a campaign of this workspace";
        *errors = field_error("campaign_id", "is not a campaign of this workspace");
    } else if (err == LL_E_VALIDATION && c && !strcmp(c, "leads_custom")) {
        *detail = "custom would exceed 50 keys or 16 KiB";
        *errors = field_error("custom", "would exceed 50 keys or 16 KiB");
    } else if (err == LL_E_VALIDATION && c && !strcmp(c, "leads_consent")) {
        *detail = "consent needs email_opt_in";
        *errors = field_error("consent.email_opt_in", "is required");
    } else if (err == LL_E_VALIDATION && c && !strncmp(c, "leads_", 6) &&
               jv_in_list(c + 6, vocab_visit_fields)) { /* the visit's CHECKs (schema 0017) */
        *detail = "a field of the visit is too long or empty";
        *errors = field_error(c + 6, "is too long or empty");
    } else if (err == LL_E_VALIDATION) {
        *detail = "a value was refused by the database";
    } else if (err == LL_E_CONFLICT) {
        *detail = "the request conflicts with a concurrent change; retry";
    } else if (err == LL_E_UNAVAILABLE) {
        *detail = "the database is unavailable or too slow; retry shortly";
    } else {
        err = LL_E_INTERNAL;
        *detail = "an internal error occurred; the request id helps us find it";
    }
    if (id)
        *extra = json_pack("{s:s}", "existing_id", id);
    free(id);
    return err;
}

static void answer_write_error(struct request *r, const PGresult *res, enum ll_err err,
                               const struct lead_in *in)
{
    const char *detail;
    json_t *errors, *extra;
    err = leads_write_problem(r->db, &r->auth, res, err, in, &detail, &errors, &extra);
    reply_problem(r, err, detail, errors, extra);
}

static const char changed[] = "the lead changed meanwhile; retry";

/* Why a lead may not be written as asked, read from its state (sql_state's columns). */
struct lead_refusal {
    enum ll_err why;      /* LL_OK: it may be written; else NOT_FOUND, MERGED, GONE,
                           * PRECONDITION, or CONFLICT (a write matched no row, yet it may be
                           * written now: it changed meanwhile) */
    char merged_into[37]; /* MERGED: the survivor */
    long version;         /* PRECONDITION: the lead's version */
};

/* Reads a state row (none: no such lead) against cond into f; returns f->why. */
static enum ll_err lead_refused(const PGresult *res, const struct conditional *cond,
                                struct lead_refusal *f)
{
    memset(f, 0, sizeof *f);
    if (PQntuples(res) == 0) {
        f->why = LL_E_NOT_FOUND;
    } else if (!PQgetisnull(res, 0, 2)) {
        f->why = LL_E_MERGED;
        snprintf(f->merged_into, sizeof f->merged_into, "%s", PQgetvalue(res, 0, 2));
    } else if (PQgetvalue(res, 0, 1)[0] == 't') {
        f->why = LL_E_GONE;
    } else if (!conditional_allows(cond, f->version = atol(PQgetvalue(res, 0, 0)))) {
        f->why = LL_E_PRECONDITION;
    }
    return f->why;
}

/* After a write of lead id matched no row, finds out why into f (CONFLICT when it may be
 * written now). Returns the look's database error, else LL_OK. */
static enum ll_err lead_no_row(struct db_conn *db, const struct auth_ctx *auth, const char *id,
                               const struct conditional *cond, struct lead_refusal *f)
{
    const char *vals[2] = {auth->workspace_id, id};
    PGresult *res = db_exec(db, sql_state, 2, vals);
    enum ll_err err = db_check(db, res);
    memset(f, 0, sizeof *f);
    if (err == LL_OK && lead_refused(res, cond, f) == LL_OK)
        f->why = LL_E_CONFLICT;
    PQclear(res);
    return err;
}

/* Answers a refusal of lead id: 404, 308 to the survivor (409 off its routes), 410, 412
 * with the current ETag, or 409 when it changed meanwhile. */
static void answer_refusal(struct request *r, const char *id, const struct lead_refusal *f)
{
    if (f->why == LL_E_MERGED)
        lead_route_merged(r, id, f->merged_into);
    else if (f->why == LL_E_GONE)
        reply_problem(r, LL_E_GONE, "this lead was erased", NULL, NULL);
    else
        conditional_reply(r, f->why, f->version, not_found, changed);
}

/* After a write matched no row: 404, 308, 410, 412, or 409 when it may be written now. */
static void answer_no_row(struct request *r, const char *id, const struct conditional *cond)
{
    struct lead_refusal f;
    enum ll_err err = lead_no_row(r->db, &r->auth, id, cond, &f);
    if (err)
        reply_db_error(r, err);
    else
        answer_refusal(r, id, &f);
}

const char leads_history_refused[] =
    "only an admin key or a key made for importing may write history";

bool leads_history_allowed(const struct auth_ctx *auth, const struct lead_in *in)
{
    return !in->created_at || auth_may_import(auth);
}

json_t *leads_history_errors(const char *field)
{
    return json_pack("[{s:s, s:s}]", "field", field, "message",
                     "needs an admin key, or a key with import: other callers' leads are "
                     "created when they are written");
}

static bool read_body(struct request *r, enum lead_mode mode, json_t **body, struct lead_in *in)
{
    struct jv v;
    memset(in, 0, sizeof *in);
    if (!req_query_allowed(r, NULL) || !(*body = req_json_object(r)))
        return false;
    jv_init(&v);
    leads_read(&v, *body, mode, in);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the lead is not valid", jv_take(&v), NULL);
        jv_free(&v);
        return false;
    }
    jv_free(&v);
    if (!leads_history_allowed(&r->auth, in)) {
        reply_problem(r, LL_E_FORBIDDEN, leads_history_refused, leads_history_errors("created_at"),
                      NULL);
        return false;
    }
    return true;
}

void leads_create(struct request *r)
{
    json_t *body = NULL;
    struct lead_in in;
    PGresult *res = NULL;
    enum ll_err err;
    if (read_body(r, LEAD_CREATE, &body, &in)) {
        res = leads_insert(r->db, &r->auth, &in, &err);
        if (err)
            answer_write_error(r, res, err, &in);
        else
            answer_lead(r, 201, res);
    }
    PQclear(res);
    lead_in_free(&in);
    json_decref(body);
}

/* A lead read (by id, by email, by external id): the lead with its ETag; 410 if erased. */
static void answer_read(struct request *r, const PGresult *res)
{
    if (PQgetvalue(res, 0, LEAD_COL_ERASED)[0] == 't')
        reply_problem(r, LL_E_GONE, "this lead was erased", NULL, NULL);
    else
        answer_lead(r, 200, res);
}

void leads_get(struct request *r)
{
    PGresult *res = req_fetch_by_id(r, sql_get, not_found);
    if (res && !PQgetisnull(res, 0, LEAD_NCOLS))
        lead_route_merged(r, r->params[0], PQgetvalue(res, 0, LEAD_NCOLS));
    else if (res)
        answer_read(r, res);
    PQclear(res);
}

/* The path of the by-email routes: an email address in UTF-8 (else 404). */
static bool path_email_ok(struct request *r)
{
    const char *email = r->params[0];
    if (util_utf8_valid(email, strlen(email)) && jv_email_valid(email))
        return true;
    reply_problem(r, LL_E_NOT_FOUND, "the path does not hold a valid email address", NULL, NULL);
    return false;
}

/* The path of the by-external-id routes: a system name and an id of 1 to 255 characters
 * (else 404). The router has decoded each on its own, so the id may hold "/" (%2F). */
static bool path_external_ok(struct request *r)
{
    const char *system = r->params[0], *xid = r->params[1];
    if (jv_external_system_ok(system) && util_utf8_valid(xid, strlen(xid)) &&
        jv_utf8_chars(xid) <= 255)
        return true;
    reply_problem(r, LL_E_NOT_FOUND, "the path does not hold a valid system and external id", NULL,
                  NULL);
    return false;
}

static void lookup(struct request *r, const char *sql, int n, const char *const *vals,
                   const char *none)
{
    PGresult *res = db_exec(r->db, sql, n, vals);
    enum ll_err err = db_check(r->db, res);
    if (err)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, none, NULL, NULL);
    else
        answer_read(r, res);
    PQclear(res);
}

void leads_get_by_email(struct request *r)
{
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    if (req_query_allowed(r, NULL) && path_email_ok(r))
        lookup(r, sql_get_by_email, 2, vals, "no lead has this email");
}

void leads_get_by_external_id(struct request *r)
{
    const char *vals[3] = {r->auth.workspace_id, r->params[0], r->params[1]};
    if (req_query_allowed(r, NULL) && path_external_ok(r))
        lookup(r, sql_get_by_external, 3, vals, "no lead holds this external id");
}

void leads_update_handler(struct request *r)
{
    json_t *body = NULL;
    struct lead_in in;
    struct conditional cond;
    PGresult *res = NULL;
    enum ll_err err;
    memset(&in, 0, sizeof in);
    conditional_from_request(&cond, r);
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        return;
    }
    if (read_body(r, LEAD_PATCH, &body, &in)) {
        if (json_object_size(body) == 0) { /* nothing to change: answer the lead as it is */
            res = req_fetch_by_id(r, sql_get, not_found);
            if (res && !PQgetisnull(res, 0, LEAD_NCOLS))
                lead_route_merged(r, r->params[0], PQgetvalue(res, 0, LEAD_NCOLS));
            else if (res && PQgetvalue(res, 0, LEAD_COL_ERASED)[0] == 't')
                reply_problem(r, LL_E_GONE, "this lead was erased", NULL, NULL);
            else if (res && !conditional_allows(&cond, atol(PQgetvalue(res, 0, LEAD_COL_VERSION))))
                conditional_reply(r, LL_E_PRECONDITION, atol(PQgetvalue(res, 0, LEAD_COL_VERSION)),
                                  not_found, changed);
            else if (res)
                answer_lead(r, 200, res);
        } else {
            res = leads_update(r->db, &r->auth, r->params[0], &in, &cond, &err);
            if (err)
                answer_write_error(r, res, err, &in);
            else if (PQntuples(res) == 0)
                answer_no_row(r, r->params[0], &cond);
            else
                answer_lead(r, 200, res);
        }
    }
    PQclear(res);
    lead_in_free(&in);
    json_decref(body);
}

/* An erasure: the lead and its If-Match, and why it was refused. */
struct erasure {
    const struct auth_ctx *auth;
    const char *lead;
    struct conditional cond;
    struct lead_refusal refused; /* why LL_OK: erased, or a database error */
};

/* The domain, run by db_tx_run: the lead locked and checked (404, 308, 410, If-Match), its
 * personal data erased, the idempotency answers that show it withdrawn, and its values in
 * the audit log (the erasure's own rows included) redacted; and the same for the leads
 * merged into it. */
static enum ll_err erase_run(struct db_conn *db, void *arg)
{
    struct erasure *e = arg;
    const char *vals[2] = {e->auth->workspace_id, e->lead};
    PGresult *res, *gone = NULL;
    enum ll_err err;

    memset(&e->refused, 0, sizeof e->refused);
    res = db_exec(db, sql_erase_lock, 2, vals);
    if ((err = db_check(db, res)) != LL_OK)
        goto out;
    if ((err = lead_refused(res, &e->cond, &e->refused)) != LL_OK)
        goto out; /* nothing written: rolled back */
    gone = db_exec(db, sql_erase, 2, vals);
    if ((err = db_check(db, gone)) != LL_OK)
        goto out;
    for (int i = 0; i < PQntuples(gone) && err == LL_OK; i++) {
        const char *lead[2] = {e->auth->workspace_id, PQgetvalue(gone, i, 0)};
        PQclear(res);
        res = db_exec(db, sql_erase_changes, 2, lead);
        if ((err = db_check(db, res)) == LL_OK &&
            (err = idem_forget_lead(db, lead[0], lead[1])) == LL_OK)
            err = audit_redact_lead(db, lead[0], lead[1]);
    }
out:
    PQclear(res);
    PQclear(gone);
    return err;
}

void leads_erase(struct request *r)
{
    struct erasure e = {.auth = &r->auth, .lead = r->params[0]};
    enum ll_err err;

    if (!req_query_allowed(r, NULL))
        return;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        return;
    }
    conditional_from_request(&e.cond, r);
    err = db_tx_run(r->db, erase_run, &e);
    if (e.refused.why)
        answer_refusal(r, r->params[0], &e.refused);
    else if (err)
        reply_db_error(r, err);
    else
        reply_empty(r, 204);
}

/* A sync upsert (PUT by email, PUT by external id): what it asks, and what came of it. */
struct upsert {
    struct lead_in *in; /* the validated body; in->email is the body's (NULL: none) */
    const char *email;  /* by email: the path's address */
    const char *pair;   /* by external id: the path's pair as JSON text, {"system": "id"} */
    struct conditional cond;
    /* the outcome: refused before writing (field, why), refused by the lead's state, a
     * write the database refused (detail, errors, extra), or the lead written (res) */
    const char *field, *why;
    struct lead_refusal state;
    char *id;               /* the lead found to update (new), NULL when created */
    int status;             /* written: 201 created, 200 updated */
    PGresult *res;          /* the lead written (LEAD_COLUMNS) or the failed write; new */
    const char *detail;     /* a refused write: leads_write_problem's */
    json_t *errors, *extra; /* new references or NULL */
};

static void upsert_free(struct upsert *u)
{
    PQclear(u->res);
    free(u->id);
    json_decref(u->errors);
    json_decref(u->extra);
    u->res = NULL;
    u->id = NULL;
    u->errors = u->extra = NULL;
}

static enum ll_err upsert_refuse(struct upsert *u, const char *field, const char *why)
{
    u->field = field;
    u->why = why;
    return LL_E_VALIDATION;
}

/* Creates, or merge-updates the lead `id` (when not NULL; u takes it). email: the address a
 * created lead gets when the body has none (the path's, for PUT by-email); an update takes
 * only the body's, so that a path in another case than the stored address changes nothing.
 * A create that loses a race to a concurrent one (same email) becomes an update of it.
 * Returns LL_OK when written, else what u says. */
static enum ll_err upsert_write(struct db_conn *db, const struct auth_ctx *auth, struct upsert *u,
                                char *id, const char *email)
{
    struct lead_in *in = u->in;
    const char *body_email = in->email;
    enum ll_err err = LL_OK;
    u->id = id;
    for (int attempt = 0; attempt < 2; attempt++) {
        PQclear(u->res);
        u->res = NULL;
        if (u->id && in->campaign_id)
            return upsert_refuse(u, "campaign_id",
                                 "is set only when the lead is created; record a touch to "
                                 "credit a campaign");
        if (u->id) {
            in->email = body_email;
            u->res = leads_update(db, auth, u->id, in, &u->cond, &err);
            if (!err && PQntuples(u->res) == 0) {
                err = lead_no_row(db, auth, u->id, &u->cond, &u->state);
                return err ? err : u->state.why;
            }
            if (!err)
                u->status = 200;
            break;
        }
        in->email = body_email ? body_email : email;
        u->res = leads_insert(db, auth, in, &err);
        char buf[64];
        const char *c = db_constraint(u->res, buf, sizeof buf);
        if (err == LL_E_CONFLICT && c && !strcmp(c, "leads_email_key") && attempt == 0 &&
            (u->id = holder_of(db, auth, sql_by_email, in->email)) != NULL)
            continue;
        if (!err)
            u->status = 201;
        break;
    }
    if (!err)
        return LL_OK;
    return leads_write_problem(db, auth, u->res, err, in, &u->detail, &u->errors, &u->extra);
}

/* True when two addresses are the same lead's: equal once folded. */
static bool same_email(struct db_conn *db, const char *a, const char *b)
{
    const char *vals[2] = {a, b};
    PGresult *res;
    bool same;
    if (!strcmp(a, b))
        return true;
    res = db_exec(db, sql_same_email, 2, vals);
    same = db_check(db, res) == LL_OK && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return same;
}

/* PUT by email: the lead holding the path's address, updated, or created with it. */
static enum ll_err upsert_by_email(struct db_conn *db, const struct auth_ctx *auth,
                                   struct upsert *u)
{
    if (u->in->email && !same_email(db, u->in->email, u->email))
        return upsert_refuse(u, "email", "must equal the email in the path");
    return upsert_write(db, auth, u, holder_of(db, auth, sql_by_email, u->email), u->email);
}

/* PUT by external id: the lead holding the path's pair, else the body's email, updated;
 * else created (with the pair among its external ids, which the body holds). */
static enum ll_err upsert_by_external_id(struct db_conn *db, const struct auth_ctx *auth,
                                         struct upsert *u)
{
    char *id = holder_of(db, auth, sql_by_external, u->pair);
    if (!id && u->in->email)
        id = holder_of(db, auth, sql_by_email, u->in->email);
    if (!id && !u->in->email)
        return upsert_refuse(u, "email",
                             "is required to create a lead (no lead holds this external id)");
    return upsert_write(db, auth, u, id, u->in->email);
}

/* Answers an upsert with what came of it (err: its domain function's). */
static void answer_upsert(struct request *r, struct upsert *u, enum ll_err err)
{
    if (u->field) {
        reply_bad_field(r, u->field, u->why);
    } else if (u->state.why) {
        answer_refusal(r, u->id, &u->state);
    } else if (u->detail) {
        reply_problem(r, err, u->detail, u->errors, u->extra);
        u->errors = u->extra = NULL; /* stolen */
    } else if (err) {
        reply_db_error(r, err);
    } else {
        answer_lead(r, u->status, u->res);
    }
}

void leads_put_by_email(struct request *r)
{
    json_t *body = NULL;
    struct lead_in in;
    struct upsert u = {.in = &in, .email = r->params[0]};
    memset(&in, 0, sizeof in);
    if (!path_email_ok(r))
        return;
    if (read_body(r, LEAD_UPSERT, &body, &in)) {
        conditional_from_request(&u.cond, r);
        answer_upsert(r, &u, upsert_by_email(r->db, &r->auth, &u));
    }
    upsert_free(&u);
    lead_in_free(&in);
    json_decref(body);
}

void leads_put_by_external_id(struct request *r)
{
    json_t *body = NULL, *ext, *pair = NULL;
    struct lead_in in;
    struct upsert u = {.in = &in};
    const char *system = r->params[0], *xid = r->params[1];
    char *pair_text = NULL;
    memset(&in, 0, sizeof in);
    if (!path_external_ok(r))
        return;
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    /* The path's pair joins the body's external ids, which must not contradict it. */
    ext = json_object_get(body, "external_ids");
    pair = json_string(xid);
    if (json_is_object(ext) && json_object_get(ext, system) &&
        !json_equal(json_object_get(ext, system), pair)) {
        reply_bad_field(r, "external_ids", "must not give the path's system another id");
        goto out;
    }
    if (!ext) {
        ext = json_object();
        json_object_set_new(body, "external_ids", ext);
    }
    if (json_is_object(ext))
        json_object_set_new(ext, system, json_string(xid));
    {
        struct jv v;
        jv_init(&v);
        leads_read(&v, body, LEAD_UPSERT, &in);
        if (!jv_ok(&v)) {
            reply_problem(r, LL_E_VALIDATION, "the lead is not valid", jv_take(&v), NULL);
            jv_free(&v);
            goto out;
        }
        jv_free(&v);
    }
    json_decref(pair);
    pair = json_pack("{s:s}", system, xid);
    pair_text = json_dumps(pair, JSON_COMPACT);
    u.pair = pair_text;
    conditional_from_request(&u.cond, r);
    answer_upsert(r, &u, upsert_by_external_id(r->db, &r->auth, &u));
out:
    upsert_free(&u);
    free(pair_text);
    json_decref(pair);
    lead_in_free(&in);
    json_decref(body);
}

/* GET /v1/leads as JSON: a page (lead_export_list negotiates, and answers CSV itself). */
void leads_list(struct request *r)
{
    struct lead_filter f;
    struct listing l;
    struct qb q;

    if (!lead_filter_read(r, &f, &l, true))
        return;
    list_begin(&q, "SELECT " LEAD_COLUMNS ", ", &l);
    lead_filter_sql(&q, &f, r->auth.workspace_id);
    if (f.text)
        list_apply_search(&q, &l, lead_filter_id(&f), "leads", r->auth.workspace_id);
    else
        list_apply(&q, &l, lead_filter_id(&f));
    list_answer_w(r, &q, &l, leads_write);
    qb_free(&q);
}
