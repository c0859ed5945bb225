/* Leads in bulk. POST /v1/leads/batch takes 1..1000 JSON leads, POST /v1/leads/import a
 * CSV file. Every lead is validated in C by leads_read, as on POST /v1/leads, and the valid
 * ones are written many per statement (json_to_recordset) with what a new lead implies,
 * written as leads_insert writes it (LEADS_CREATED_CTES: the first stage change, external
 * ids, the `created` touch; the change feed row comes from its trigger). A statement that
 * fails is run again lead by lead, each in a savepoint of its own, so a bad lead is reported
 * alone and never fails the others. The batch's writes take the connection and the caller
 * (struct batch); its transaction is run again whole when it meets a deadlock (db_tx_run). */
#include "leadloop/lead_bulk.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/auth.h"
#include "leadloop/csv.h"
#include "leadloop/csv_read.h"
#include "leadloop/db.h"
#include "leadloop/idempotency.h"
#include "leadloop/jsonv.h"
#include "leadloop/jw.h"
#include "leadloop/leads.h"
#include "leadloop/request.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

#define BATCH_MAX       1000
#define CHUNK_ROWS      1000 /* CSV rows per statement and per transaction */
#define REJECTIONS_MAX  1000 /* listed in the import's answer */
#define CSV_MAX_COLUMNS 256

/* The input of the multi-row statements: one JSON object per lead, numbered n (the item's
 * index or the CSV row), as record_add writes it. */
#define RECORD_SOURCE                                                                              \
    " json_to_recordset($2::json) AS i(n integer, email text, first_name text, last_name text,"    \
    " company text, title text, phone text, country text, source text, score smallint,"            \
    " owner_id uuid, consent jsonb, custom jsonb, external_ids jsonb, campaign_id uuid,"           \
    " created_at timestamptz, utm_source text, utm_medium text, utm_campaign text,"                \
    " utm_term text, utm_content text, landing_page text, referrer text)"

/* Creates leads: $1 workspace, $2 records, $3 key, $4 user, $5 the default source (after
 * the one the visit gives, ll_lead_source). A record
 * whose email is taken (by a lead, or by an earlier record) is skipped: its row comes back
 * with a NULL id. The ids are drawn beforehand so that each lead maps back to its record. */
static const char sql_create[] =
    "WITH i AS (SELECT gen_random_uuid() AS id, i.* FROM" RECORD_SOURCE "),"
    " created AS (INSERT INTO leads (workspace_id, id, email, first_name, last_name, company, "
    "title,"
    " phone, country, source, score, owner_id, consent, custom, external_ids, first_campaign_id,"
    " latest_campaign_id, first_touch_at, latest_touch_at, created_at, "
    "stage_changed_at, " LEAD_VISIT_COLUMNS ")"
    " SELECT $1, id, email, first_name, last_name, company, title, phone, country,"
    " coalesce(source, ll_lead_source(utm_medium, utm_source, referrer, landing_page), $5),"
    " score, owner_id, ll_consent(consent), jsonb_strip_nulls(coalesce(custom, '{}')),"
    " coalesce(external_ids, '{}'), campaign_id, campaign_id,"
    " CASE WHEN campaign_id IS NOT NULL THEN coalesce(created_at, now()) END,"
    " CASE WHEN campaign_id IS NOT NULL THEN coalesce(created_at, now()) END,"
    " coalesce(created_at, now()), coalesce(created_at, now()), " LEAD_VISIT_COLUMNS
    " FROM i ORDER BY n"
    " ON CONFLICT (workspace_id, ll_fold(email)) WHERE email IS NOT NULL DO NOTHING RETURNING "
    "*)," LEADS_CREATED_CTES("$3", "$4") " SELECT i.n, created.id FROM i LEFT JOIN created"
                                         " ON created.id = i.id";

/* The import's upsert: $1..$4 as above. A record creates a lead (source: the visit's, else
 * 'import') or updates the one holding its email with its non-empty cells, keeping the
 * lead's source when the record has none (so records with and without a source go through
 * two INSERTs, on disjoint emails); campaign_id only counts on create, as on PUT. External
 * ids are merged in. Answers the number created, the number updated, and the updated leads
 * that hold external ids (a uuid[], NULL for none), whose lookup rows
 * sql_import_external_drop and _add then keep in step in the same transaction, as
 * leads_update keeps them: statements of their own, because Citus refuses them as CTEs
 * over this statement's RETURNING (a correlated subquery over a CTE). */
#define UPSERT_INSERT                                                                              \
    " INSERT INTO leads AS d (workspace_id, email, first_name, last_name, company, title, phone,"  \
    " country, source, score, owner_id, custom, external_ids, first_campaign_id,"                  \
    " latest_campaign_id, first_touch_at, latest_touch_at, created_at, "                           \
    "stage_changed_at, " LEAD_VISIT_COLUMNS ")"                                                    \
    " SELECT $1, email, first_name, last_name, company, title, phone, country,"                    \
    " coalesce(source, ll_lead_source(utm_medium, utm_source, referrer, landing_page), 'import')," \
    " score, owner_id, coalesce(custom, '{}'), coalesce(external_ids, '{}'), campaign_id,"         \
    " campaign_id, CASE WHEN campaign_id IS NOT NULL THEN coalesce(created_at, now()) END,"        \
    " CASE WHEN campaign_id IS NOT NULL THEN coalesce(created_at, now()) END,"                     \
    " coalesce(created_at, now()), coalesce(created_at, now()), " LEAD_VISIT_COLUMNS " FROM i"
#define UPSERT_UPDATE                                                                              \
    " ON CONFLICT (workspace_id, ll_fold(email)) WHERE email IS NOT NULL DO UPDATE SET"            \
    " email = EXCLUDED.email, first_name = coalesce(EXCLUDED.first_name, d.first_name),"           \
    " last_name = coalesce(EXCLUDED.last_name, d.last_name),"                                      \
    " company = coalesce(EXCLUDED.company, d.company), title = coalesce(EXCLUDED.title, d.title)," \
    " phone = coalesce(EXCLUDED.phone, d.phone), country = coalesce(EXCLUDED.country, d.country)," \
    " score = coalesce(EXCLUDED.score, d.score),"                                                  \
    " owner_id = coalesce(EXCLUDED.owner_id, d.owner_id), custom = d.custom || EXCLUDED.custom,"   \
    " external_ids = d.external_ids || EXCLUDED.external_ids,"                                     \
    " utm_source = coalesce(EXCLUDED.utm_source, d.utm_source),"                                   \
    " utm_medium = coalesce(EXCLUDED.utm_medium, d.utm_medium),"                                   \
    " utm_campaign = coalesce(EXCLUDED.utm_campaign, d.utm_campaign),"                             \
    " utm_term = coalesce(EXCLUDED.utm_term, d.utm_term),"                                         \
    " utm_content = coalesce(EXCLUDED.utm_content, d.utm_content),"                                \
    " landing_page = coalesce(EXCLUDED.landing_page, d.landing_page),"                             \
    " referrer = coalesce(EXCLUDED.referrer, d.referrer),"                                         \
    " version = d.version + 1, updated_at = EXCLUDED.updated_at"
#define UPSERT_RETURNING                                                                           \
    " RETURNING workspace_id, id, created_at, external_ids, first_campaign_id, xmax = 0 AS is_new"
static const char sql_import_upsert[] =
    "WITH i AS (SELECT * FROM" RECORD_SOURCE "),"
    " a AS (" UPSERT_INSERT " WHERE source IS NOT NULL ORDER BY n" UPSERT_UPDATE
    ", source = EXCLUDED.source" UPSERT_RETURNING "),"
    " b AS (" UPSERT_INSERT " WHERE source IS NULL ORDER BY n" UPSERT_UPDATE UPSERT_RETURNING "),"
    " l AS (SELECT * FROM a UNION ALL SELECT * FROM b),"
    " created AS (SELECT * FROM l WHERE is_new)," LEADS_CREATED_CTES(
        "$3", "$4") " SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new),"
                    " array_agg(id) FILTER (WHERE NOT is_new AND external_ids <> '{}') FROM l";
/* $1 workspace, $2 the updated leads that hold external ids: a system's old pair goes when
 * its id changed; the new pairs come. */
static const char sql_import_external_drop[] =
    "DELETE FROM lead_external_ids x USING leads l WHERE l.workspace_id = $1"
    " AND l.id = ANY ($2::uuid[]) AND x.workspace_id = $1 AND x.lead_id = l.id"
    " AND (l.external_ids ->> x.system) IS DISTINCT FROM x.external_id";
static const char sql_import_external_add[] =
    "INSERT INTO lead_external_ids (workspace_id, system, external_id, lead_id)"
    " SELECT l.workspace_id, e.key, e.value, l.id FROM leads l, jsonb_each_text(l.external_ids) e"
    " WHERE l.workspace_id = $1 AND l.id = ANY ($2::uuid[]) AND NOT EXISTS (SELECT 1"
    " FROM lead_external_ids x WHERE x.workspace_id = l.workspace_id AND x.system = e.key"
    " AND x.external_id = e.value AND x.lead_id = l.id)";

/* $1 workspace, $2 a JSON array of emails (or nulls): each folded as the unique index
 * compares emails, and the lead holding it, in order. */
static const char sql_lookup[] =
    "SELECT ll_fold(x.e), (SELECT l.id FROM leads l WHERE l.workspace_id = $1"
    " AND ll_fold(l.email) = ll_fold(x.e) AND l.email IS NOT NULL)"
    " FROM json_array_elements_text($2::json) WITH ORDINALITY AS x(e, n) ORDER BY x.n";
static const char sql_fold[] = "SELECT ll_fold(x.e) FROM json_array_elements_text($1::json)"
                               " WITH ORDINALITY AS x(e, n) ORDER BY x.n";
static const char sql_by_email[] =
    "SELECT id FROM leads WHERE workspace_id = $1 AND ll_fold(email) = ll_fold($2)";

static const char invalid_lead[] = "the lead is not valid";

/* ---------------------------------------------------------------- small tools */

/* A validated lead as one record of RECORD_SOURCE, numbered n. Absent fields are left out
 * (NULL in the record); consent, custom and external ids are jansson's JSON text. */
static void record_add(struct jw *b, long n, const struct lead_in *in)
{
    static const char *const names[] = {"email",    "first_name",  "last_name", "company",
                                        "title",    "phone",       "country",   "source",
                                        "owner_id", "campaign_id", "created_at"};
    const char *vals[] = {in->email,    in->first_name,  in->last_name, in->company,
                          in->title,    in->phone,       in->country,   in->source,
                          in->owner_id, in->campaign_id, in->created_at};
    char num[32];
    snprintf(num, sizeof num, "{\"n\":%ld", n);
    jw_lit(b, num);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (!vals[k])
            continue;
        jw_lit(b, ",\"");
        jw_lit(b, names[k]);
        jw_lit(b, "\":");
        jw_str(b, vals[k], strlen(vals[k]));
    }
    for (int k = 0; k < LEAD_NVISIT; k++) {
        if (!in->visit[k])
            continue;
        jw_lit(b, ",\"");
        jw_lit(b, vocab_visit_fields[k]);
        jw_lit(b, "\":");
        jw_str(b, in->visit[k], strlen(in->visit[k]));
    }
    if (in->has_score && in->score[0]) {
        jw_lit(b, ",\"score\":");
        jw_lit(b, in->score);
    }
    if (in->consent && strcmp(in->consent, "null") != 0) {
        jw_lit(b, ",\"consent\":");
        jw_lit(b, in->consent);
    }
    if (in->custom) {
        jw_lit(b, ",\"custom\":");
        jw_lit(b, in->custom);
    }
    if (in->external_ids) {
        jw_lit(b, ",\"external_ids\":");
        jw_lit(b, in->external_ids);
    }
    jw_lit(b, "}");
}

/* Folded emails seen so far, each with a number (the CSV row or batch item it went to).
 * Open addressing, at most half full. */
struct seen {
    struct seen_slot {
        char *key; /* owned */
        long val;
    } * slots;
    size_t cap, n;
};

static size_t seen_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) /* NOLINT(clang-analyzer-core.NullDereference): keys are emails */
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static long *seen_find(struct seen *t, const char *key)
{
    if (!t->cap)
        return NULL;
    for (size_t i = seen_hash(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slots[i].key)
            return NULL;
        if (!strcmp(t->slots[i].key, key))
            return &t->slots[i].val;
    }
}

/* Sets key (stolen, even on failure) to val. False when out of memory. */
static bool seen_put(struct seen *t, char *key, long val)
{
    long *old = seen_find(t, key);
    if (old) {
        *old = val;
        free(key);
        return true;
    }
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        struct seen_slot *slots = calloc(cap, sizeof *slots);
        if (!slots) {
            free(key);
            return false;
        }
        for (size_t i = 0; i < t->cap; i++) {
            size_t j;
            if (!t->slots[i].key)
                continue;
            for (j = seen_hash(t->slots[i].key) & (cap - 1); slots[j].key; j = (j + 1) & (cap - 1))
                ;
            slots[j] = t->slots[i];
        }
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    size_t i = seen_hash(key) & (t->cap - 1);
    while (t->slots[i].key)
        i = (i + 1) & (t->cap - 1);
    t->slots[i].key = key;
    t->slots[i].val = val;
    t->n++;
    return true;
}

static void seen_free(struct seen *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].key);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* The database failed, not the lead: such an error fails the whole request. */
static bool fatal(enum ll_err err)
{
    return err == LL_E_UNAVAILABLE || err == LL_E_INTERNAL;
}

static bool email_taken(const PGresult *res, enum ll_err err)
{
    char buf[64];
    const char *c = db_constraint(res, buf, sizeof buf);
    return err == LL_E_CONFLICT && c && !strcmp(c, "leads_email_key");
}

/* The id of the lead holding email (new string), or NULL. */
static char *find_by_email(struct db_conn *db, const struct auth_ctx *auth, const char *email)
{
    const char *vals[2] = {auth->workspace_id, email};
    PGresult *res = db_exec(db, sql_by_email, 2, vals);
    char *id = NULL;
    if (db_check(db, res) == LL_OK && PQntuples(res) == 1)
        id = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return id;
}

/* ---------------------------------------------------------------- POST /v1/leads/batch */

struct item;

/* A batch being written: the connection, the caller, and the items. */
struct batch {
    struct db_conn *db;
    const struct auth_ctx *auth;
    const char *request_id; /* named in the items' problems */
    struct item *items;
    size_t n;
    bool upsert;
};

struct item {
    struct lead_in in;
    bool valid;        /* leads_read found nothing wrong */
    int status;        /* its answer once decided (0: not yet) */
    json_t *problem;   /* why it failed, with status >= 400 (new) */
    char id[37];       /* the lead it wrote */
    char *fold;        /* upsert: the email as the database compares it (new) */
    char *strings;     /* in's text fields, copied out of the body (item_own) */
    char existing[37]; /* upsert: the lead holding the email before the batch, or "" */
};

static void item_ok(struct item *it, int status, const char *id)
{
    snprintf(it->id, sizeof it->id, "%s", id);
    it->status = status;
}

/* errors and extra are stolen. */
static void item_failed(const char *request_id, struct item *it, enum ll_err err,
                        const char *detail, json_t *errors, json_t *extra)
{
    it->status = problem_kind(err)->status;
    it->problem = problem_new(err, detail, request_id, errors, extra);
}

/* Forgets what an earlier run of the batch's transaction found for the item. */
static void item_reset(struct item *it)
{
    it->status = 0;
    json_decref(it->problem);
    it->problem = NULL;
    it->id[0] = '\0';
    free(it->fold);
    it->fold = NULL;
    it->existing[0] = '\0';
}

/* Copies the text fields in borrowed from the body into one block the item owns, so
 * that the parsed body (six times the size of its text) can go before the batch is
 * written. False when out of memory. */
static bool item_own(struct item *it)
{
    const char **f[] = {&it->in.email,    &it->in.first_name,  &it->in.last_name,  &it->in.company,
                        &it->in.title,    &it->in.phone,       &it->in.country,    &it->in.source,
                        &it->in.owner_id, &it->in.campaign_id, &it->in.created_at, &it->in.visit[0],
                        &it->in.visit[1], &it->in.visit[2],    &it->in.visit[3],   &it->in.visit[4],
                        &it->in.visit[5], &it->in.visit[6]};
    _Static_assert(LEAD_NVISIT == 7, "item_own copies each field of the visit");
    size_t total = 0, nf = sizeof f / sizeof f[0];
    char *p;
    for (size_t k = 0; k < nf; k++)
        if (*f[k])
            total += strlen(*f[k]) + 1;
    if (total == 0)
        return true;
    if (!(p = it->strings = malloc(total)))
        return false;
    for (size_t k = 0; k < nf; k++)
        if (*f[k]) {
            size_t len = strlen(*f[k]) + 1;
            memcpy(p, *f[k], len);
            *f[k] = p;
            p += len;
        }
    return true;
}

/* False when out of memory. */
static bool batch_validate(struct request *r, json_t *leads, struct item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *lead = json_array_get(leads, i);
        struct jv v;
        jv_init(&v);
        if (json_is_object(lead)) {
            leads_read(&v, lead, LEAD_CREATE, &items[i].in);
        } else { /* not a lead at all: there is no field to name but the item */
            char field[32];
            snprintf(field, sizeof field, "leads[%zu]", i);
            jv_add(&v, field, "must be an object");
        }
        if (jv_ok(&v) && leads_history_allowed(&r->auth, &items[i].in)) {
            items[i].valid = true;
        } else { /* nothing of it is written: drop what it borrowed from the body */
            if (jv_ok(&v)) {
                char field[48];
                snprintf(field, sizeof field, "leads[%zu].created_at", i);
                item_failed(r->request_id, &items[i], LL_E_FORBIDDEN, leads_history_refused,
                            leads_history_errors(field), NULL);
            } else {
                item_failed(r->request_id, &items[i], LL_E_VALIDATION, invalid_lead, jv_take(&v),
                            NULL);
            }
            lead_in_free(&items[i].in);
            memset(&items[i].in, 0, sizeof items[i].in);
        }
        jv_free(&v);
        if (items[i].valid && !item_own(&items[i]))
            return false;
    }
    return true;
}

/* Writes the item alone, in a savepoint: merge-updates lead id, or creates it when id is
 * NULL. In upsert mode a create that loses a race for the email to a concurrent request
 * updates that lead instead. Returns LL_OK, or the database failure that fails the batch. */
static enum ll_err item_write(struct batch *b, struct item *it, const char *id, bool upsert)
{
    PGresult *res = NULL;
    char *holder = NULL;
    const char *detail;
    json_t *errors, *extra;
    enum ll_err err, werr = LL_OK;

    if ((err = db_tx_begin(b->db)) != LL_OK)
        return err;
    if (id) {
        res = leads_update(b->db, b->auth, id, &it->in, NULL, &werr);
        if (werr == LL_OK && PQntuples(res) == 0) { /* erased since the lookup: a new lead */
            PQclear(res);
            res = NULL;
            id = NULL;
        }
    }
    if (!id) {
        res = leads_insert(b->db, b->auth, &it->in, &werr);
        if (upsert && email_taken(res, werr) &&
            (holder = find_by_email(b->db, b->auth, it->in.email))) {
            PQclear(res);
            res = leads_update(b->db, b->auth, holder, &it->in, NULL, &werr);
            id = holder;
        }
    }
    if (werr == LL_OK && PQntuples(res) == 1) {
        if ((err = db_tx_commit(b->db)) == LL_OK)
            item_ok(it, id ? 200 : 201, PQgetvalue(res, 0, 0));
    } else {
        if (werr == LL_OK) /* updated by no row: the lead changed under us */
            werr = LL_E_CONFLICT;
        werr = leads_write_problem(b->db, b->auth, res, werr, &it->in, &detail, &errors, &extra);
        db_tx_rollback(b->db);
        if (fatal(werr)) {
            json_decref(errors);
            json_decref(extra);
            err = werr;
        } else {
            item_failed(b->request_id, it, werr, detail, errors, extra);
        }
    }
    PQclear(res);
    free(holder);
    return err;
}

/* Creates the picked items with one statement, in a savepoint. An item it could not write
 * (its email taken, or all of them when the statement failed) is left without a result,
 * for item_write to run it alone and give it the answer it would get alone. */
static enum ll_err create_many(struct batch *bt, struct item *items, size_t n, const bool *pick)
{
    struct jw b = {0};
    PGresult *res = NULL;
    enum ll_err err = LL_OK;
    size_t count = 0;

    jw_raw(&b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (!pick[i])
            continue;
        if (count++)
            jw_raw(&b, ",", 1);
        record_add(&b, (long)i, &items[i].in);
    }
    jw_raw(&b, "]", 1);
    if (!jw_cstr(&b)) {
        err = LL_E_INTERNAL;
        goto out;
    }
    if (count == 0 || (err = db_tx_begin(bt->db)) != LL_OK)
        goto out;
    const char *vals[5] = {bt->auth->workspace_id, b.p, auth_key_or_null(bt->auth),
                           bt->auth->user_id[0] ? bt->auth->user_id : NULL, "other"};
    res = db_exec_adhoc(bt->db, sql_create, 5, vals);
    if (db_check(bt->db, res) != LL_OK) { /* the items are written one by one instead */
        db_tx_rollback(bt->db);
        goto out;
    }
    if ((err = db_tx_commit(bt->db)) != LL_OK)
        goto out;
    for (int row = 0; row < PQntuples(res); row++) {
        long k = atol(PQgetvalue(res, row, 0));
        if (!PQgetisnull(res, row, 1) && k >= 0 && (size_t)k < n)
            item_ok(&items[k], 201, PQgetvalue(res, row, 1));
    }
out:
    PQclear(res);
    jw_free(&b);
    return err;
}

static enum ll_err batch_create(struct batch *b, struct item *items, size_t n)
{
    bool *pick = calloc(n, sizeof *pick);
    enum ll_err err;
    if (!pick)
        return LL_E_INTERNAL;
    for (size_t i = 0; i < n; i++)
        pick[i] = items[i].valid;
    err = create_many(b, items, n, pick);
    for (size_t i = 0; i < n && err == LL_OK; i++)
        if (items[i].valid && !items[i].status)
            err = item_write(b, &items[i], NULL, false);
    free(pick);
    return err;
}

/* Finds, in one query, the email of each valid item folded as the unique index folds it
 * and the lead that holds it before the batch. */
static enum ll_err batch_lookup(struct batch *bt, struct item *items, size_t n)
{
    struct jw b = {0};
    PGresult *res = NULL;
    enum ll_err err = LL_OK;

    jw_raw(&b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            jw_raw(&b, ",", 1);
        if (items[i].valid)
            jw_str(&b, items[i].in.email, strlen(items[i].in.email));
        else
            jw_lit(&b, "null");
    }
    jw_raw(&b, "]", 1);
    if (!jw_cstr(&b)) {
        err = LL_E_INTERNAL;
        goto out;
    }
    const char *vals[2] = {bt->auth->workspace_id, b.p};
    res = db_exec_adhoc(bt->db, sql_lookup, 2, vals);
    if ((err = db_check(bt->db, res)) != LL_OK)
        goto out;
    if ((size_t)PQntuples(res) != n) {
        err = LL_E_INTERNAL;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!items[i].valid)
            continue;
        if (!(items[i].fold = strdup(PQgetvalue(res, (int)i, 0)))) {
            err = LL_E_INTERNAL;
            goto out;
        }
        snprintf(items[i].existing, sizeof items[i].existing, "%s", PQgetvalue(res, (int)i, 1));
    }
out:
    PQclear(res);
    jw_free(&b);
    return err;
}

/* Upsert means items in order, each updating the lead that holds its email (counting the
 * leads earlier items wrote) or else creating one. The items that would create a lead (the
 * first with an email no lead holds) go first, in one statement: that changes nothing,
 * since no other item touches their lead, unless external ids could collide between them
 * and items that run alone; then those keep their turn. The rest run one by one. */
static enum ll_err batch_upsert(struct batch *b, struct item *items, size_t n)
{
    struct seen written = {0}; /* folded email -> the item that last wrote its lead */
    bool *pick = calloc(n, sizeof *pick), alone_ids = false;
    enum ll_err err;

    if (!pick)
        return LL_E_INTERNAL;
    if ((err = batch_lookup(b, items, n)) != LL_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        char *key;
        if (!items[i].valid)
            continue;
        pick[i] = !items[i].existing[0] && !seen_find(&written, items[i].fold);
        alone_ids = alone_ids || (!pick[i] && items[i].in.external_ids);
        if (!(key = strdup(items[i].fold)) || !seen_put(&written, key, -1)) {
            err = LL_E_INTERNAL;
            goto out;
        }
    }
    for (size_t i = 0; alone_ids && i < n; i++)
        pick[i] = pick[i] && !items[i].in.external_ids;
    seen_free(&written);
    if ((err = create_many(b, items, n, pick)) != LL_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const long *last;
        const char *id;
        char *key;
        if (!items[i].valid)
            continue;
        if (!items[i].status) {
            last = seen_find(&written, items[i].fold);
            id = last ? items[*last].id : items[i].existing[0] ? items[i].existing : NULL;
            if ((err = item_write(b, &items[i], id, true)) != LL_OK)
                goto out;
        }
        if (items[i].id[0] &&
            (!(key = strdup(items[i].fold)) || !seen_put(&written, key, (long)i))) {
            err = LL_E_INTERNAL;
            goto out;
        }
    }
out:
    free(pick);
    seen_free(&written);
    return err;
}

/* The batch's transaction, for db_tx_run: writes the valid items, from scratch on each run. */
static enum ll_err batch_run(struct db_conn *db, void *arg)
{
    struct batch *b = arg;
    (void)db; /* b->db, the same connection */

    /* The handler refuses an empty batch; said here for the analyzer. */
    if (b->n == 0)
        return LL_OK;
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].valid)
            item_reset(&b->items[i]);
    return b->upsert ? batch_upsert(b, b->items, b->n) : batch_create(b, b->items, b->n);
}

/* Answers 200 with each item's result, in order, and the counts: written straight to
 * JSON text (a tree of 1,000 results cost a batch more memory than its leads). */
static void batch_answer(struct request *r, const struct item *items, size_t n)
{
    struct jw w;
    long created = 0, updated = 0, failed = 0;
    char buf[96];
    size_t len;
    int k;

    jw_init(&w, 64 + n * 80);
    jw_lit(&w, "{\"results\":[");
    for (size_t i = 0; i < n; i++) {
        const struct item *it = &items[i];
        if (!it->status || (it->status >= 400 && !it->problem)) { /* a bug, or out of memory */
            jw_free(&w);
            reply_problem(r, LL_E_INTERNAL, "an item of the batch could not be answered", NULL,
                          NULL);
            return;
        }
        k = snprintf(buf, sizeof buf, "%s{\"index\":%zu,\"status\":%d,", i ? "," : "", i,
                     it->status);
        jw_raw(&w, buf, (size_t)k);
        if (it->status >= 400) {
            char *p = json_dumps(it->problem, JSON_COMPACT);
            if (!p) {
                jw_free(&w);
                reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
                return;
            }
            jw_lit(&w, "\"problem\":");
            jw_lit(&w, p);
            free(p);
        } else {
            jw_lit(&w, "\"id\":");
            jw_str(&w, it->id, strlen(it->id));
        }
        jw_lit(&w, "}");
        created += it->status == 201;
        updated += it->status == 200;
        failed += it->status >= 400;
    }
    k = snprintf(buf, sizeof buf, "],\"created\":%ld,\"updated\":%ld,\"failed\":%ld}", created,
                 updated, failed);
    jw_raw(&w, buf, (size_t)k);
    char *text = jw_take(&w, &len);
    reply_owned(r, 200, "application/json", text, len);
}

void lead_bulk_batch(struct request *r)
{
    static const char *const fields[] = {"mode", "leads", NULL};
    static const char *const modes[] = {"create", "upsert", NULL};
    json_t *body = NULL, *leads;
    struct item *items = NULL;
    const char *mode = "create";
    size_t n = 0;
    struct batch b = {.db = r->db, .auth = &r->auth, .request_id = r->request_id};
    struct jv v;
    enum ll_err err;

    jv_init(&v);
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    req_body_release(r);
    jv_known(&v, body, fields, NULL);
    jv_enum(&v, body, "mode", false, modes, &mode);
    leads = json_object_get(body, "leads");
    if (!leads)
        jv_add(&v, "leads", "is required");
    else if (!json_is_array(leads) || json_array_size(leads) < 1 ||
             json_array_size(leads) > BATCH_MAX)
        jv_add(&v, "leads", "must be an array of 1 to %d leads", BATCH_MAX);
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the batch is not valid", jv_take(&v), NULL);
        goto out;
    }
    n = json_array_size(leads);
    if (!(items = calloc(n, sizeof *items))) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        goto out;
    }
    if (!batch_validate(r, leads, items, n)) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        goto out;
    }
    b.upsert = !strcmp(mode, "upsert");
    b.items = items;
    b.n = n;
    /* the items own all they need: the parsed body goes before the batch is written */
    json_decref(body);
    body = NULL;

    /* One transaction for the batch; each item that fails is undone alone. Two batches that
     * update the same leads in another order can deadlock: the one PostgreSQL picks is run
     * again whole, after the other.
     * No db_tx_custom_plans here, unlike the import: a batch adds at most BATCH_MAX leads to
     * its transaction, where an import grew leads from 0 to 100,000 rows under one cached
     * plan (autovacuum's analyze invalidates cached plans between transactions); planning
     * each of a batch's 8,000 foreign-key checks again cost it a fifth of its time. */
    if ((err = db_tx_run(r->db, batch_run, &b)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    batch_answer(r, items, n);
out:
    for (size_t i = 0; items && i < n; i++) {
        lead_in_free(&items[i].in);
        json_decref(items[i].problem);
        free(items[i].fold);
        free(items[i].strings);
    }
    free(items);
    json_decref(body);
    jv_free(&v);
}

/* ---------------------------------------------------------------- CSV (RFC 4180) */

/* The text of a cell: in place, or with its "" pairs undone into scratch (valid until the
 * next call). */
static const char *cell_text(const struct csv_field *cell, struct jw *scratch, size_t *len)
{
    if (!cell->escaped) {
        *len = cell->n;
        return cell->s;
    }
    jw_reset(scratch);
    if (!jw_reserve(scratch, cell->n + 1)) {
        *len = 0;
        return "";
    }
    scratch->len = csv_field_copy(cell, scratch->p);
    *len = scratch->len;
    return scratch->p;
}

/* ---------------------------------------------------------------- POST /v1/leads/import */

/* The lead fields a column may name (created_at: history, for admins and importing keys).
 * A column `external_id.<system>` gives an external id, `custom.<name>` the custom field
 * <name>; the columns of csv_ignored are ignored (and named in the answer); any other
 * column goes into custom under its own name. */
static const char *const csv_fields[] = {
    "email",       "first_name",   "last_name",  "company",      "title",
    "phone",       "country",      "source",     "score",        "owner_id",
    "campaign_id", "utm_source",   "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "landing_page", "referrer",   "created_at"};
#define FIELD_EMAIL 0
#define FIELD_SCORE 8
#define FIELD_COUNT (sizeof csv_fields / sizeof csv_fields[0])
/* What else a column may be (struct import's fields[]). */
#define FIELD_CUSTOM   (-1)
#define FIELD_EXTERNAL (-2)
#define FIELD_IGNORED  (-3)
/* The columns of the lead list's CSV (lead_export.c) that an import cannot set: a lead's
 * id, stage, dates and version are the database's, its campaigns come from touches, and
 * consent is set through the JSON API. So an export imports back, with these left out.
 * (Its created_at is history: imported by an admin or importing key, refused otherwise.) */
static const char *const csv_ignored[] = {"id",
                                          "stage",
                                          "first_campaign_id",
                                          "latest_campaign_id",
                                          "consent.email_opt_in",
                                          "consent.captured_at",
                                          "consent.how",
                                          "version",
                                          "updated_at",
                                          "stage_changed_at",
                                          "recycle_on",
                                          NULL};
static const char custom_prefix[] = "custom.", external_prefix[] = "external_id.";

struct rejection {
    long row, seq;
    char *field; /* NULL: the row as a whole */
    char *message;
};

/* A valid row waiting for its chunk's statement: its email and record live in text. */
struct pending {
    long row;
    size_t email_off, rec_off, rec_len;
    bool dup;
};

/* An import: what it asks (the header's columns, the mode), where it writes, and what came
 * of it. It holds no request: whether anyone still waits for it is asked of `abandoned`. */
struct import {
    struct db_conn *db;
    const struct auth_ctx *auth;
    bool create;
    bool (*abandoned)(void *arg); /* true: stop, write nothing more (NULL: never) */
    void *abandoned_arg;
    bool stopped; /* a chunk could not be written (failed_row); else an error is memory's */
    long created, updated, rejected;
    bool oom;
    size_t ncols;
    char *names[CSV_MAX_COLUMNS]; /* owned */
    int fields[CSV_MAX_COLUMNS];  /* index in csv_fields, or FIELD_CUSTOM, _EXTERNAL, _IGNORED */
    const char *keys[CSV_MAX_COLUMNS]; /* custom and external: the key (in names[k]) */
    struct csv_field cells[CSV_MAX_COLUMNS + 1];
    struct jw scratch, text, payload;
    struct pending rows[CHUNK_ROWS];
    size_t nrows;
    struct seen seen; /* folded email -> the first row with it */
    struct rejection *rej;
    size_t nrej, caprej;
    long seq;
    long failed_row; /* the first row of a chunk the database failed to write */
    long row;        /* the last data row read */
    /* Chunked idempotent import (idem_chunked_begin): the rows before resume_row were
     * written by an earlier try, whose counts and rejections come back from resumed (JSON
     * text); each chunk saves how far it got with save(save_arg, ...) before its commit. */
    long resume_row;
    const char *resumed;
    enum ll_err (*save)(void *arg, long next_row, const char *progress);
    void *save_arg;
};

static int rejection_cmp(const void *a, const void *b)
{
    const struct rejection *x = a, *y = b;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Keeps the first REJECTIONS_MAX by row. Safe at any time: an entry with that many before
 * it can only fall further back as rows are added. */
static void rejections_trim(struct import *im)
{
    if (im->nrej > 1)
        qsort(im->rej, im->nrej, sizeof *im->rej, rejection_cmp);
    while (im->nrej > REJECTIONS_MAX) {
        im->nrej--;
        free(im->rej[im->nrej].field);
        free(im->rej[im->nrej].message);
    }
}

/* Lists one problem of a row (the caller counts the row in `rejected`). */
static void reject(struct import *im, long row, const char *field, const char *message)
{
    struct rejection *e;
    if (im->nrej == im->caprej) {
        size_t cap = im->caprej ? im->caprej * 2 : 64;
        struct rejection *grown = realloc(im->rej, cap * sizeof *grown);
        if (!grown) {
            im->oom = true;
            return;
        }
        im->rej = grown;
        im->caprej = cap;
    }
    e = &im->rej[im->nrej];
    e->row = row;
    e->seq = im->seq++;
    e->field = field ? strdup(field) : NULL;
    e->message = strdup(message);
    if ((field && !e->field) || !e->message) {
        free(e->field);
        free(e->message);
        im->oom = true;
        return;
    }
    im->nrej++;
    if (im->nrej >= (size_t)2 * REJECTIONS_MAX)
        rejections_trim(im);
}

static void import_free(struct import *im)
{
    if (!im)
        return;
    for (size_t k = 0; k < im->ncols; k++)
        free(im->names[k]);
    for (size_t i = 0; i < im->nrej; i++) {
        free(im->rej[i].field);
        free(im->rej[i].message);
    }
    free(im->rej);
    jw_free(&im->scratch);
    jw_free(&im->text);
    jw_free(&im->payload);
    seen_free(&im->seen);
    free(im);
}

/* The import's counts and rejections so far, as JSON text (new), for its progress. */
static char *progress_text(struct import *im)
{
    json_t *list = json_array();
    char *text;
    rejections_trim(im);
    for (size_t i = 0; i < im->nrej; i++) {
        const struct rejection *e = &im->rej[i];
        json_array_append_new(list, json_pack("{s:I, s:s?, s:s}", "row", (json_int_t)e->row,
                                              "field", e->field, "message", e->message));
    }
    json_t *p = json_pack("{s:I, s:I, s:I, s:o}", "created", (json_int_t)im->created, "updated",
                          (json_int_t)im->updated, "rejected", (json_int_t)im->rejected,
                          "rejections", list);
    text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    return text;
}

/* Takes the counts and rejections an earlier try saved (progress_text) in place of what
 * the rows before resume_row gave this time. False when it does not read. */
static bool progress_restore(struct import *im, const char *text)
{
    json_t *p = json_loads(text, 0, NULL), *list, *e;
    json_int_t created, updated, rejected;
    size_t i;
    bool ok = p &&
              !json_unpack(p, "{s:I, s:I, s:I, s:o}", "created", &created, "updated", &updated,
                           "rejected", &rejected, "rejections", &list) &&
              json_is_array(list);
    if (ok) {
        for (size_t k = 0; k < im->nrej; k++) {
            free(im->rej[k].field);
            free(im->rej[k].message);
        }
        im->nrej = 0;
        im->seq = 0;
        im->created = (long)created;
        im->updated = (long)updated;
        im->rejected = (long)rejected;
        json_array_foreach(list, i, e)
        {
            json_t *row = json_object_get(e, "row"), *msg = json_object_get(e, "message");
            if (!json_is_integer(row) || !json_is_string(msg)) {
                ok = false;
                break;
            }
            reject(im, (long)json_integer_value(row),
                   json_string_value(json_object_get(e, "field")), json_string_value(msg));
        }
    }
    json_decref(p);
    return ok && !im->oom;
}

/* What column k (its name in im->names[k]) sets: fields[k] and, for a custom field or an
 * external id, keys[k]. */
static void column_kind(struct import *im, size_t k)
{
    const char *name = im->names[k];
    im->fields[k] = FIELD_CUSTOM;
    im->keys[k] = name;
    for (size_t f = 0; f < FIELD_COUNT; f++)
        if (!strcmp(name, csv_fields[f]))
            im->fields[k] = (int)f;
    if (im->fields[k] >= 0)
        return;
    if (jv_in_list(name, csv_ignored)) {
        im->fields[k] = FIELD_IGNORED;
    } else if (!strncmp(name, external_prefix, sizeof external_prefix - 1)) {
        im->fields[k] = FIELD_EXTERNAL;
        im->keys[k] = name + sizeof external_prefix - 1;
    } else if (!strncmp(name, custom_prefix, sizeof custom_prefix - 1)) {
        im->keys[k] = name + sizeof custom_prefix - 1;
    }
}

/* Reads the header into names and fields. Answers 400/422 and returns false when it is
 * not usable: nothing is imported then. */
static bool import_header(struct request *r, struct import *im, size_t n)
{
    bool email = false;
    struct jv v;
    if (n > CSV_MAX_COLUMNS) {
        reply_bad_field(r, "header", "must have at most 256 columns");
        return false;
    }
    jv_init(&v);
    for (size_t k = 0; k < n; k++) {
        size_t len, seen_before = 0;
        const char *s = cell_text(&im->cells[k], &im->scratch, &len);
        char label[32];
        snprintf(label, sizeof label, "column %zu", k + 1);
        if (!util_utf8_valid(s, len)) {
            char detail[80];
            snprintf(detail, sizeof detail, "the CSV header is not UTF-8 (column %zu)", k + 1);
            reply_problem(r, LL_E_MALFORMED, detail, NULL, NULL);
            jv_free(&v);
            return false;
        }
        if (!(im->names[k] = strndup(s, len))) {
            reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
            jv_free(&v);
            return false;
        }
        im->ncols = k + 1;
        column_kind(im, k);
        email = email || im->fields[k] == FIELD_EMAIL;
        for (size_t j = 0; j < k; j++)
            seen_before += !strcmp(im->names[j], im->names[k]) ||
                           (im->fields[j] == FIELD_CUSTOM && im->fields[k] == FIELD_CUSTOM &&
                            !strcmp(im->keys[j], im->keys[k])); /* "x" and "custom.x" */
        if (len == 0)
            jv_add(&v, label, "has an empty name");
        else if (seen_before == 1)
            jv_add(&v, im->names[k],
                   "is a column name used twice (or names a custom field "
                   "another column names)");
        else if (im->fields[k] == FIELD_EXTERNAL && !jv_external_system_ok(im->keys[k]))
            jv_add(&v, im->names[k],
                   "names an external id system that does not match ^[a-z0-9][a-z0-9_.-]{0,63}$");
        else if (im->fields[k] == FIELD_CUSTOM &&
                 (jv_utf8_chars(im->keys[k]) < 1 || jv_utf8_chars(im->keys[k]) > 64))
            jv_add(&v, im->names[k], "is too long for a custom field (at most 64 characters)");
    }
    if (!email)
        jv_add(&v, "email", "is a required column");
    if (!jv_ok(&v)) {
        reply_problem(r, LL_E_VALIDATION, "the CSV header is not valid", jv_take(&v), NULL);
        jv_free(&v);
        return false;
    }
    /* history (the leads' created_at) is an admin's or an importing key's to write */
    for (size_t k = 0; k < n; k++)
        if (!strcmp(im->names[k], "created_at") && !auth_may_import(&r->auth)) {
            reply_problem(r, LL_E_FORBIDDEN, leads_history_refused,
                          leads_history_errors("created_at"), NULL);
            jv_free(&v);
            return false;
        }
    jv_free(&v);
    return true;
}

/* A score cell as an integer when it is one; else the text, for leads_read to refuse. */
static json_t *score_value(const char *s, size_t len)
{
    char buf[24];
    long num;
    if (len < sizeof buf) {
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (util_parse_long(buf, LONG_MIN, LONG_MAX, &num))
            return json_integer(num);
    }
    return json_stringn(s, len);
}

/* Validates data row `row` (its cells in im->cells) as a lead; a valid one joins the
 * pending chunk, an invalid one is rejected with every problem found. */
static void import_row(struct import *im, long row, size_t ncells)
{
    json_t *lead = json_object(), *custom = json_object(), *external = json_object();
    struct lead_in in;
    struct jv v, cells;
    bool bad_email = false;
    size_t i;
    json_t *e;

    memset(&in, 0, sizeof in);
    jv_init(&v);
    jv_init(&cells);
    if (!lead || !custom || !external) {
        im->oom = true;
        goto out;
    }
    if (ncells != im->ncols) {
        char msg[96];
        snprintf(msg, sizeof msg, "has %zu cells; the header has %zu", ncells, im->ncols);
        reject(im, row, NULL, msg);
        im->rejected++;
        goto out;
    }
    for (size_t k = 0; k < ncells; k++) {
        size_t len;
        const char *s = cell_text(&im->cells[k], &im->scratch, &len);
        int f = im->fields[k];
        size_t guard = csv_unguard(s, len); /* what the lead list's CSV added, undone */
        s += guard;
        len -= guard;
        if (len == 0 || f == FIELD_IGNORED) /* an empty cell: the field is absent */
            continue;
        if (!util_utf8_valid(s, len)) {
            jv_add(&cells, im->names[k], "must be UTF-8 text without NUL bytes");
            bad_email = bad_email || f == FIELD_EMAIL;
        } else if (f == FIELD_CUSTOM) {
            json_object_set_new(custom, im->keys[k], json_stringn(s, len));
        } else if (f == FIELD_EXTERNAL) {
            json_object_set_new(external, im->keys[k], json_stringn(s, len));
        } else {
            json_object_set_new(lead, csv_fields[f],
                                f == FIELD_SCORE ? score_value(s, len) : json_stringn(s, len));
        }
    }
    if (json_object_size(custom) > 0)
        json_object_set(lead, "custom", custom);
    if (json_object_size(external) > 0) /* validated as the JSON object is */
        json_object_set(lead, "external_ids", external);
    leads_read(&v, lead, LEAD_CREATE, &in);
    if (!jv_ok(&v) || !jv_ok(&cells)) {
        json_array_foreach(cells.errors, i, e)
        {
            reject(im, row, json_string_value(json_object_get(e, "field")),
                   json_string_value(json_object_get(e, "message")));
        }
        json_array_foreach(v.errors, i, e)
        {
            const char *field = json_string_value(json_object_get(e, "field"));
            if (bad_email && field && !strcmp(field, "email")) /* said already */
                continue;
            reject(im, row, field, json_string_value(json_object_get(e, "message")));
        }
        im->rejected++;
        goto out;
    }
    struct pending *p = &im->rows[im->nrows];
    p->row = row;
    p->dup = false;
    p->email_off = im->text.len;
    jw_raw(&im->text, in.email, strlen(in.email) + 1); /* with its NUL */
    p->rec_off = im->text.len;
    record_add(&im->text, row, &in);
    p->rec_len = im->text.len - p->rec_off;
    im->oom = im->oom || im->text.oom;
    im->nrows++;
out:
    lead_in_free(&in);
    jv_free(&v);
    jv_free(&cells);
    json_decref(custom);
    json_decref(external);
    json_decref(lead);
}

/* Rejects the pending rows whose email an earlier row of the file had. Emails are folded
 * as the unique index folds them: ASCII here (ll_fold lowers it the same), the others by
 * the database, in one query. */
static enum ll_err import_dedup(struct import *im)
{
    const size_t n = im->nrows; /* a local: the calls below reach im, not the rows' count */
    char **folds = calloc(n, sizeof *folds);
    PGresult *res = NULL;
    enum ll_err err = LL_OK;
    size_t others = 0;

    if (!folds)
        return LL_E_INTERNAL;
    jw_reset(&im->payload);
    jw_raw(&im->payload, "[", 1);
    for (size_t k = 0; k < n; k++) {
        const char *email = im->text.p + im->rows[k].email_off;
        bool ascii = true;
        for (const char *c = email; *c && ascii; c++)
            ascii = (unsigned char)*c < 0x80;
        if (!ascii) {
            if (others++)
                jw_raw(&im->payload, ",", 1);
            jw_str(&im->payload, email, strlen(email));
            continue;
        }
        if (!(folds[k] = strdup(email))) {
            err = LL_E_INTERNAL;
            goto out;
        }
        for (char *c = folds[k]; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
    }
    jw_raw(&im->payload, "]", 1);
    if (!jw_cstr(&im->payload)) {
        err = LL_E_INTERNAL;
        goto out;
    }
    if (others > 0) {
        const char *vals[1] = {im->payload.p};
        int row = 0;
        res = db_exec_adhoc(im->db, sql_fold, 1, vals);
        if ((err = db_check(im->db, res)) != LL_OK)
            goto out;
        if ((size_t)PQntuples(res) != others) {
            err = LL_E_INTERNAL;
            goto out;
        }
        for (size_t k = 0; k < n; k++) {
            if (!folds[k] && !(folds[k] = strdup(PQgetvalue(res, row++, 0)))) {
                err = LL_E_INTERNAL;
                goto out;
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        const long *first = seen_find(&im->seen, folds[k]);
        if (first) {
            char msg[64];
            snprintf(msg, sizeof msg, "duplicate of row %ld", *first);
            reject(im, im->rows[k].row, "email", msg);
            im->rejected++;
            im->rows[k].dup = true;
        } else if (!seen_put(&im->seen, folds[k], im->rows[k].row)) {
            folds[k] = NULL; /* stolen */
            err = LL_E_INTERNAL;
            goto out;
        } else {
            folds[k] = NULL; /* stolen */
        }
    }
out:
    for (size_t k = 0; k < n; k++)
        free(folds[k]);
    free(folds);
    PQclear(res);
    return err;
}

/* True when nobody waits for the import any more, or the daemon stops. */
static bool import_abandoned(const struct import *im)
{
    return im->abandoned && im->abandoned(im->abandoned_arg);
}

/* Names the rejected row from a failed statement's error, as a single lead would be told. */
static void reject_db(struct import *im, long row, const PGresult *res, enum ll_err err)
{
    struct lead_in none; /* no email or external ids: no lookup of who holds them */
    const char *detail;
    json_t *errors, *extra, *e;
    size_t i;
    memset(&none, 0, sizeof none);
    leads_write_problem(im->db, im->auth, res, err, &none, &detail, &errors, &extra);
    if (json_array_size(errors) == 0)
        reject(im, row, NULL, detail);
    json_array_foreach(errors, i, e)
    {
        reject(im, row, json_string_value(json_object_get(e, "field")),
               json_string_value(json_object_get(e, "message")));
    }
    im->rejected++;
    json_decref(errors);
    json_decref(extra);
}

/* Runs the import statement on the pending rows picked by idx (n of them), in a savepoint,
 * and counts what it did. When it fails, *retry asks the caller to run the rows one by one
 * (n > 1); a single row is rejected. Returns LL_OK, or the failure that stops the import. */
static enum ll_err import_exec(struct import *im, const size_t *idx, size_t n, bool *retry)
{
    PGresult *res = NULL;
    enum ll_err err, werr;

    *retry = false;
    jw_reset(&im->payload);
    jw_raw(&im->payload, "[", 1);
    for (size_t k = 0; k < n; k++) {
        const struct pending *p = &im->rows[idx[k]];
        if (k)
            jw_raw(&im->payload, ",", 1);
        jw_raw(&im->payload, im->text.p + p->rec_off, p->rec_len);
    }
    jw_raw(&im->payload, "]", 1);
    if (!jw_cstr(&im->payload))
        return LL_E_INTERNAL;
    const char *vals[5] = {im->auth->workspace_id, im->payload.p, auth_key_or_null(im->auth),
                           im->auth->user_id[0] ? im->auth->user_id : NULL, "import"};
    if ((err = db_tx_begin(im->db)) != LL_OK)
        return err;
    db_tx_custom_plans(im->db);
    res = db_exec_adhoc(im->db, im->create ? sql_create : sql_import_upsert, im->create ? 5 : 4,
                        vals);
    werr = db_check(im->db, res);
    if (werr == LL_OK && !im->create && !PQgetisnull(res, 0, 2)) {
        const char *ids[2] = {im->auth->workspace_id, PQgetvalue(res, 0, 2)};
        PGresult *ext = db_exec_adhoc(im->db, sql_import_external_drop, 2, ids);
        if ((werr = db_check(im->db, ext)) == LL_OK) {
            PQclear(ext);
            ext = db_exec_adhoc(im->db, sql_import_external_add, 2, ids);
            werr = db_check(im->db, ext);
        }
        if (werr != LL_OK) { /* the failed statement answers: its error says why */
            PQclear(res);
            res = ext;
        } else {
            PQclear(ext);
        }
    }
    if (werr == LL_OK && import_abandoned(im)) { /* nobody waits for it, or the daemon stops */
        db_tx_rollback(im->db);
        err = LL_E_UNAVAILABLE;
        goto out;
    }
    if (werr == LL_OK) {
        if ((err = db_tx_commit(im->db)) != LL_OK)
            goto out;
        if (!im->create) {
            im->created += atol(PQgetvalue(res, 0, 0));
            im->updated += atol(PQgetvalue(res, 0, 1));
            goto out;
        }
        for (int row = 0; row < PQntuples(res); row++) {
            if (!PQgetisnull(res, row, 1)) {
                im->created++;
            } else {
                reject(im, atol(PQgetvalue(res, row, 0)), "email", "already exists");
                im->rejected++;
            }
        }
        goto out;
    }
    db_tx_rollback(im->db);
    if (n > 1)
        *retry = true;
    else if (fatal(werr))
        err = werr;
    else
        reject_db(im, im->rows[idx[0]].row, res, werr);
out:
    PQclear(res);
    return err;
}

/* Writes the pending rows in a transaction of their own: duplicates of earlier rows are
 * rejected, the others written by one statement, or row by row when it fails. */
static enum ll_err import_flush(struct import *im)
{
    size_t idx[CHUNK_ROWS], n = 0;
    long created = im->created, updated = im->updated;
    enum ll_err err;
    bool retry, single;

    if (im->nrows == 0)
        return LL_OK;
    if (im->oom)
        return LL_E_INTERNAL;
    if ((err = import_dedup(im)) != LL_OK)
        return err;
    for (size_t k = 0; k < im->nrows; k++)
        if (!im->rows[k].dup)
            idx[n++] = k;
    if (n > 0 && import_abandoned(im))
        err = LL_E_UNAVAILABLE;
    else if (n > 0 && (err = db_tx_begin(im->db)) == LL_OK) {
        err = import_exec(im, idx, n, &retry);
        for (size_t k = 0; retry && k < n && err == LL_OK; k++)
            err = import_abandoned(im) ? LL_E_UNAVAILABLE : import_exec(im, &idx[k], 1, &single);
        if (err == LL_OK && import_abandoned(im))
            err = LL_E_UNAVAILABLE;
        if (err == LL_OK && im->save) { /* how far it got, committed with the chunk */
            char *progress = progress_text(im);
            err = progress ? im->save(im->save_arg, im->row + 1, progress) : LL_E_INTERNAL;
            free(progress);
        }
        if (err == LL_OK)
            err = db_tx_commit(im->db);
        else
            db_tx_rollback(im->db);
    }
    if (err != LL_OK) { /* nothing of this chunk was written */
        im->created = created;
        im->updated = updated;
        im->failed_row = im->rows[0].row;
    }
    im->nrows = 0;
    jw_reset(&im->text);
    return err != LL_OK ? err : im->oom ? LL_E_INTERNAL : LL_OK;
}

/* The pending rows of a chunk an earlier try wrote: their emails join those seen (for the
 * duplicates of later rows), nothing is written. */
static enum ll_err import_skip(struct import *im)
{
    enum ll_err err = im->oom ? LL_E_INTERNAL : im->nrows ? import_dedup(im) : LL_OK;
    im->nrows = 0;
    jw_reset(&im->text);
    return err;
}

/* The first pass: the whole file must read as CSV before a row is written. */
static bool import_readable(struct request *r)
{
    struct csv c;
    struct csv_field cell;
    size_t n;
    enum csv_status st;
    csv_init(&c, r->body, r->body_len);
    while ((st = csv_row(&c, &cell, 1, &n)) == CSV_ROW)
        ;
    if (st == CSV_BAD) {
        char detail[120];
        snprintf(detail, sizeof detail, "the body is not readable as CSV: %s (line %ld)", c.why,
                 c.bad_line);
        reply_problem(r, LL_E_MALFORMED, detail, NULL, NULL);
        return false;
    }
    return true;
}

static json_t *import_answer(struct import *im)
{
    json_t *list = json_array();
    rejections_trim(im);
    for (size_t i = 0; i < im->nrej; i++) {
        const struct rejection *e = &im->rej[i];
        json_array_append_new(list, json_pack("{s:I, s:s?, s:s}", "row", (json_int_t)e->row,
                                              "field", e->field, "message", e->message));
    }
    json_t *ignored = json_array();
    for (size_t k = 0; k < im->ncols; k++)
        if (im->fields[k] == FIELD_IGNORED)
            json_array_append_new(ignored, json_string(im->names[k]));
    return json_pack("{s:I, s:I, s:I, s:o, s:o}", "created", (json_int_t)im->created, "updated",
                     (json_int_t)im->updated, "rejected", (json_int_t)im->rejected, "rejections",
                     list, "ignored_columns", ignored);
}

/* The import stopped at a chunk that could not be written: say what was written before
 * it. */
static void import_failed(struct request *r, const struct import *im, enum ll_err err)
{
    long row = im->failed_row;
    const char *written =
        r->idem_chunked ? "the rows before it were written; retry with the same Idempotency-Key"
                          " to import the rest (the answer then counts the whole file)"
                        : "the rows counted in created and updated were written";
    char detail[240];
    if (err == LL_E_UNAVAILABLE && req_abandoned(r))
        snprintf(detail, sizeof detail,
                 "the import stopped at row %ld because the server is stopping (or the client "
                 "left); %s",
                 row, written);
    else
        snprintf(detail, sizeof detail,
                 "the import stopped at row %ld because the database failed; %s", row, written);
    reply_problem(r, err == LL_E_UNAVAILABLE ? err : LL_E_INTERNAL, detail, NULL,
                  json_pack("{s:I, s:I}", "created", (json_int_t)im->created, "updated",
                            (json_int_t)im->updated));
}

/* The domain of an import: validates the data rows c holds after the header and writes the
 * valid ones for auth, a chunk of CHUNK_ROWS at a time, each chunk in a transaction of its own
 * (so the counts and rejections run on across chunks and a chunk is not run again). Returns
 * LL_OK; the failure that stopped it at a chunk (im->stopped, im->failed_row; the chunks
 * before it are written); or LL_E_INTERNAL when memory ran out reading a row. */
static enum ll_err import_run(struct db_conn *db, const struct auth_ctx *auth, struct import *im,
                              struct csv *c)
{
    size_t n;
    long row = 0;
    enum ll_err err;

    im->db = db;
    im->auth = auth;
    im->stopped = false;
    while (csv_row(c, im->cells, CSV_MAX_COLUMNS + 1, &n) == CSV_ROW) {
        import_row(im, im->row = ++row, n);
        if (im->oom)
            return LL_E_INTERNAL;
        if (row < im->resume_row) { /* written by an earlier try: only seen */
            if ((im->nrows == CHUNK_ROWS || row == im->resume_row - 1) &&
                (err = import_skip(im)) != LL_OK)
                return err;
            if (row == im->resume_row - 1 && !progress_restore(im, im->resumed))
                return LL_E_INTERNAL;
            continue;
        }
        if (im->nrows == CHUNK_ROWS && (err = import_flush(im)) != LL_OK) {
            im->stopped = true;
            return err;
        }
    }
    if ((err = import_flush(im)) != LL_OK)
        im->stopped = true;
    return err;
}

static bool client_gone(void *r)
{
    return req_abandoned(r);
}

static enum ll_err save_progress(void *r, long next_row, const char *progress)
{
    return idem_chunked_save(r, next_row, progress);
}

void lead_bulk_import(struct request *r)
{
    static const char *const allowed[] = {"mode", NULL};
    const char *mode;
    struct import *im = NULL;
    struct csv c;
    size_t n;
    char *resumed = NULL;
    enum ll_err err;

    if (!req_query_allowed(r, allowed))
        return;
    mode = req_query(r, "mode");
    if (mode && strcmp(mode, "upsert") != 0 && strcmp(mode, "create") != 0) {
        reply_bad_param(r, "mode", "must be upsert or create");
        return;
    }
    if (!r->body || !import_readable(r))
        goto empty;
    if (!(im = calloc(1, sizeof *im))) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        return;
    }
    im->create = mode && !strcmp(mode, "create");
    im->abandoned = client_gone;
    im->abandoned_arg = r;
    csv_init(&c, r->body, r->body_len);
    if (csv_row(&c, im->cells, CSV_MAX_COLUMNS + 1, &n) != CSV_ROW)
        goto empty;
    if (!import_header(r, im, n))
        goto out;
    /* With an Idempotency-Key, each chunk commits with the progress a retry goes on from,
     * under the key's lock (not one transaction: 100,000 rows ran past the statement
     * timeout in one). */
    if (r->idem_active) {
        if (!idem_chunked_begin(r, &im->resume_row, &resumed))
            goto out;
        im->resumed = resumed;
        im->save = save_progress;
        im->save_arg = r;
    }
    err = import_run(r->db, &r->auth, im, &c);
    if (err != LL_OK && im->stopped)
        import_failed(r, im, err);
    else if (err != LL_OK)
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
    else
        reply_json(r, 200, import_answer(im));
    goto out;
empty:
    if (!r->answered)
        reply_problem(r, LL_E_MALFORMED, "the body must be CSV with a header row", NULL, NULL);
out:
    import_free(im);
    free(resumed);
}
