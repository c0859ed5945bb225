/* Leads: the shared record both teams work from. Creation, reads, merge-patch updates,
 * the sync upserts (by email, by external id), erasure; and the pieces the batch and
 * import paths reuse so that a lead is validated and written one way only. */
#ifndef LEADLOOP_LEADS_H
#define LEADLOOP_LEADS_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "leadloop/db.h"
#include "leadloop/problem.h"

struct request;
struct jv;
struct auth_ctx;
struct conditional;

/* The columns a lead is read with, in the order leads_json expects; a statement may add
 * columns after them. */
#define LEAD_COLUMNS                                                                               \
    "id, email, first_name, last_name, company, title, phone, country, source, stage, score, "     \
    "owner_id, consent::text, custom::text, external_ids::text, first_campaign_id, "               \
    "latest_campaign_id, version, " DB_TS("created_at") ", " DB_TS("updated_at") ", " DB_TS(       \
        "stage_changed_at") ", erased_at IS NOT NULL, recycle_on::text, " LEAD_VISIT_COLUMNS
#define LEAD_COL_VERSION 17
#define LEAD_COL_ERASED  21
#define LEAD_COL_VISIT   23 /* the first of LEAD_VISIT_COLUMNS */
#define LEAD_NCOLS       30

/* The visit that brought the lead: its campaign (UTM) parameters, the page it landed on
 * and the page that sent it there. Optional text; a new lead without a source gets one
 * derived from them (ll_lead_source, sql/functions/10_basics.sql). In this order in
 * struct lead_in's visit[] and vocab_visit_fields (their names). */
#define LEAD_VISIT_COLUMNS                                                                         \
    "utm_source, utm_medium, utm_campaign, utm_term, utm_content, landing_page, referrer"
enum lead_visit {
    LEAD_UTM_SOURCE,
    LEAD_UTM_MEDIUM,
    LEAD_UTM_CAMPAIGN,
    LEAD_UTM_TERM,
    LEAD_UTM_CONTENT,
    LEAD_LANDING_PAGE,
    LEAD_REFERRER,
    LEAD_NVISIT
};

enum lead_mode {
    LEAD_CREATE, /* email required; nulls mean absent */
    LEAD_PATCH,  /* all optional; null removes (where allowed) */
    LEAD_UPSERT, /* like create, email optional (the path names the lead) */
};

/* A validated lead body. Strings and objects are borrowed from the JSON body; the
 * serialised objects are owned (lead_in_free). */
struct lead_in {
    const char *email, *first_name, *last_name, *company, *title, *phone, *country, *source;
    const char *owner_id, *campaign_id;
    const char *created_at; /* history: when a lead created now was created (import) */
    char score[24];
    bool has_score;
    /* which of the nullable fields the body set (to a value or to null) */
    bool set_first, set_last, set_company, set_title, set_phone, set_country, set_owner;
    bool set_consent;
    const char *visit[LEAD_NVISIT]; /* enum lead_visit; NULL with set_visit: cleared */
    bool set_visit[LEAD_NVISIT];
    char *consent, *custom, *external_ids; /* JSON text or NULL; consent "null" to clear */
};

void lead_in_free(struct lead_in *in);

/* Validates body for mode into in, adding errors to v. */
void leads_read(struct jv *v, json_t *body, enum lead_mode mode, struct lead_in *in);

/* Whether the caller may write the history in asks for (in->created_at): an admin or a key
 * made for importing (auth_may_import). When not, the answer is 403 with
 * leads_history_refused and leads_history_errors(field) (new). */
bool leads_history_allowed(const struct auth_ctx *auth, const struct lead_in *in);
extern const char leads_history_refused[];
json_t *leads_history_errors(const char *field);

/* What a new lead implies, written once for every statement that creates leads (POST
 * /v1/leads, PUT upserts, the batch, the import): CTEs to follow a CTE named `created`
 * holding the new leads' rows (at least workspace_id, id, created_at, external_ids and
 * first_campaign_id), with key and user the statement's parameters ("$3") of the acting
 * API key and user. They write each lead's first stage change (to new), its external ids as
 * lookup rows, and the `created` touch of its first campaign; the change feed and audit rows
 * come from the tables' triggers.
 *
 * Why CTEs and not a SQL function or trigger: the rows must be written by the statement
 * that inserts the leads. A trigger on leads runs per row, and the statement triggers that
 * keep the report facts (sql/0005_reports.sql) would then run once per lead instead of once
 * per batch; a function called by the statement writes in statements of its own, whose
 * change feed rows (touch.created) would come before the lead's own (lead.created). */
#define LEADS_CREATED_CTES(key, user)                                                              \
    " x AS (INSERT INTO lead_external_ids (workspace_id, system, external_id, lead_id)"            \
    " SELECT c.workspace_id, e.key, e.value, c.id FROM created c,"                                 \
    " jsonb_each_text(c.external_ids) e),"                                                         \
    " s AS (INSERT INTO lead_stage_changes (workspace_id, lead_id, from_stage, to_stage,"          \
    " by_key_id, by_user_id, changed_at) SELECT workspace_id, id, NULL, 'new', " key               \
    "::uuid, " user "::uuid, created_at FROM created),"                                            \
    " t AS (INSERT INTO campaign_touches (workspace_id, campaign_id, lead_id, kind, occurred_at)"  \
    " SELECT workspace_id, first_campaign_id, id, 'created', created_at FROM created"              \
    " WHERE first_campaign_id IS NOT NULL)"

/* Inserts a lead with what it implies (LEADS_CREATED_CTES), in one statement, for the
 * caller auth. Returns the new row (LEAD_COLUMNS) or the failed result, and the error. */
PGresult *leads_insert(struct db_conn *db, const struct auth_ctx *auth, const struct lead_in *in,
                       enum ll_err *err);

/* Merge-updates lead id with the fields set in in, if cond (If-Match; NULL: any version)
 * allows its version. No row: not found, erased, merged or refused by cond. Returns the
 * new row (LEAD_COLUMNS) or the failed result (NULL when the transaction that new external
 * ids need could not begin), and the error. */
PGresult *leads_update(struct db_conn *db, const struct auth_ctx *auth, const char *id,
                       const struct lead_in *in, const struct conditional *cond, enum ll_err *err);

/* Describes a failed lead write: the error to answer and its detail, errors and extra
 * members (new references or NULL). Looks up the lead holding a taken email or external
 * id. */
enum ll_err leads_write_problem(struct db_conn *db, const struct auth_ctx *auth,
                                const PGresult *res, enum ll_err err, const struct lead_in *in,
                                const char **detail, json_t **errors, json_t **extra);

/* A lead row as the API shows it, written as JSON text; leads_json parses that text
 * into a tree (new reference) where a lead is part of a larger answer. */
struct jw;
void leads_write(struct jw *w, const PGresult *res, int row);
json_t *leads_json(const PGresult *res, int row);

void leads_create(struct request *r);
/* GET /v1/leads as JSON (lead_export_list routes it here). */
void leads_list(struct request *r);
void leads_get(struct request *r);
void leads_update_handler(struct request *r);
void leads_erase(struct request *r);
void leads_put_by_email(struct request *r);
void leads_put_by_external_id(struct request *r);
void leads_get_by_email(struct request *r);
void leads_get_by_external_id(struct request *r);

#endif
