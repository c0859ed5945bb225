/* Lead scoring's routes: GET /v1/scoring (the version in force, the draft's version and
 * the rescore's progress), GET and PUT /v1/scoring/draft (the whole document, If-Match on
 * its version), POST /v1/scoring/draft/publish (the next immutable version; the rescore of
 * every lead starts in the background), GET /v1/scoring/versions/{n} and
 * GET /v1/leads/{id}/score (a lead's scores, its ledger and its recent changes). The
 * document is checked by ll_scoring_check, in SQL beside the scoring that reads it, so that
 * the vocabulary of fields, operators and events has one home; the answers are built as
 * JSON by PostgreSQL (single small objects, not lists). */
#include "leadloop/scoring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/conditional.h"
#include "leadloop/db.h"
#include "leadloop/embedded.h"
#include "leadloop/jsonv.h"
#include "leadloop/log.h"
#include "leadloop/request.h"
#include "leadloop/ticker.h"
#include "leadloop/util.h"

/* Leads scored per rescore step (one statement, one transaction). */
#define RESCORE_CHUNK 10000
/* The bound of one step. */
#define RESCORE_STEP_MS 120000
#define STR_(x)         #x
#define STR(x)          STR_(x)

static const char state_sql[] =
    "SELECT json_build_object('published_version', s.version,"
    " 'draft_version', (SELECT d.version FROM scoring_drafts d WHERE d.workspace_id = $1),"
    " 'threshold', CASE WHEN s.threshold_mode IS NOT NULL THEN json_build_object('fit',"
    " s.threshold_fit, 'engagement', s.threshold_engagement, 'mode', s.threshold_mode) END,"
    " 'rescore', CASE WHEN s.workspace_id IS NOT NULL THEN json_build_object('version', s.version,"
    " 'total', s.total, 'done', coalesce((SELECT sum(x.done)::bigint FROM scoring_run_lanes x"
    " WHERE x.workspace_id = $1), s.done), 'state', CASE WHEN s.finished_at IS NULL THEN 'running'"
    " ELSE 'done' END, 'started_at', " DB_TS("s.started_at") ", 'finished_at', " DB_TS(
        "s.finished_at") ") END)::text"
                         " FROM (SELECT 1) one LEFT JOIN scoring_runs s ON s.workspace_id = $1";

/* Answers the JSON text in column 0 of row 0 of res with status. */
static void answer_text(struct request *r, int status, const PGresult *res)
{
    json_t *body = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (!body)
        reply_problem(r, LL_E_INTERNAL, "the answer could not be read", NULL, NULL);
    else
        reply_json(r, status, body);
}

static void answer_state(struct request *r, int status)
{
    const char *vals[1] = {r->auth.workspace_id};
    PGresult *res = db_exec(r->db, state_sql, 1, vals);
    enum ll_err err = db_check(r->db, res);
    if (err != LL_OK)
        reply_db_error(r, err);
    else
        answer_text(r, status, res);
    PQclear(res);
}

void scoring_get(struct request *r)
{
    if (req_query_allowed(r, NULL))
        answer_state(r, 200);
}

static void answer_draft(struct request *r, int status)
{
    const char *vals[1] = {r->auth.workspace_id};
    PGresult *res = db_exec(
        r->db,
        "SELECT (jsonb_build_object('groups', '[]'::jsonb, 'rules', '[]'::jsonb, 'threshold',"
        " null) || coalesce(d.document, '{}') || jsonb_build_object('version',"
        " coalesce(d.version, 0), 'updated_at', " DB_TS(
            "d.updated_at") "))::text,"
                            " coalesce(d.version, 0) FROM (SELECT 1) one LEFT JOIN scoring_drafts d"
                            " ON d.workspace_id = $1",
        1, vals);
    enum ll_err err = db_check(r->db, res);
    if (err != LL_OK) {
        reply_db_error(r, err);
    } else {
        reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 1));
        answer_text(r, status, res);
    }
    PQclear(res);
}

void scoring_draft_get(struct request *r)
{
    if (req_query_allowed(r, NULL))
        answer_draft(r, 200);
}

/* 422 naming every field ll_scoring_check found at fault; true when there was none. */
static bool check_document(struct request *r, const char *doc)
{
    const char *vals[2] = {r->auth.workspace_id, doc};
    PGresult *res = db_exec(r->db, "SELECT field, message FROM ll_scoring_check($1, $2)", 2, vals);
    enum ll_err err = db_check(r->db, res);
    bool ok = false;
    if (err != LL_OK) {
        reply_db_error(r, err);
    } else if (PQntuples(res) == 0) {
        ok = true;
    } else {
        json_t *errors = json_array();
        for (int i = 0; i < PQntuples(res); i++)
            json_array_append_new(errors, json_pack("{s:s, s:s}", "field", PQgetvalue(res, i, 0),
                                                    "message", PQgetvalue(res, i, 1)));
        reply_problem(r, LL_E_VALIDATION, "the rule set is not valid", errors, NULL);
    }
    PQclear(res);
    return ok;
}

/* The whole document replaces the draft; If-Match names the draft's version (0: none yet). */
void scoring_draft_put(struct request *r)
{
    json_t *body = NULL;
    char *doc = NULL;
    PGresult *res = NULL;
    struct conditional cond;
    enum ll_err err;
    if (!req_query_allowed(r, NULL) || !(body = req_json_object(r)))
        goto out;
    if (!(doc = json_dumps(body, JSON_COMPACT))) {
        reply_problem(r, LL_E_INTERNAL, "the rule set could not be stored", NULL, NULL);
        goto out;
    }
    if (!check_document(r, doc))
        goto out;
    conditional_from_request(&cond, r);
    const char *vals[3] = {r->auth.workspace_id, doc, conditional_param(&cond)};
    res = db_exec(r->db,
                  "WITH cur AS (SELECT coalesce((SELECT version FROM scoring_drafts WHERE"
                  " workspace_id = $1 FOR UPDATE), 0) AS v), w AS (INSERT INTO scoring_drafts"
                  " AS d (workspace_id, document) SELECT $1, $2::jsonb FROM cur WHERE"
                  " $3::integer IS NULL OR cur.v = $3 ON CONFLICT (workspace_id) DO UPDATE SET"
                  " document = EXCLUDED.document, version = d.version + 1,"
                  " updated_at = excluded.updated_at"
                  " RETURNING d.version) SELECT (SELECT version FROM w), (SELECT v FROM cur)",
                  3, vals);
    if ((err = db_check(r->db, res)) != LL_OK) {
        reply_db_error(r, err);
    } else if (PQgetisnull(res, 0, 0)) {
        reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 1));
        reply_problem(r, LL_E_PRECONDITION, "the draft is not at the version If-Match names", NULL,
                      NULL);
    } else {
        answer_draft(r, 200);
    }
out:
    PQclear(res);
    free(doc);
    json_decref(body);
}

/* The draft (at the version If-Match names, when given) becomes the next version; its
 * rescore is the rescorer thread's work. 202: the scores follow. */
void scoring_publish(struct request *r)
{
    PGresult *res = NULL;
    struct conditional cond;
    enum ll_err err;
    bool tx = false;
    if (!req_query_allowed(r, NULL))
        return;
    if (r->body_len > 0) {
        json_t *body = req_json_object(r);
        if (!body)
            return;
        void *it = json_object_iter(body);
        if (it) {
            char field[80];
            snprintf(field, sizeof field, "%.64s", json_object_iter_key(it));
            json_decref(body);
            reply_bad_field(r, field, "is not a field: publish takes none, it publishes the draft");
            return;
        }
        json_decref(body);
    }
    if ((err = db_tx_begin(r->db)) != LL_OK) {
        reply_db_error(r, err);
        return;
    }
    tx = true;
    conditional_from_request(&cond, r);
    const char *vals[1] = {r->auth.workspace_id};
    res = db_exec(r->db,
                  "SELECT document::text, version FROM scoring_drafts WHERE workspace_id = $1"
                  " FOR UPDATE",
                  1, vals);
    if ((err = db_check(r->db, res)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    if (PQntuples(res) == 0) {
        reply_problem(r, LL_E_NOT_FOUND, "there is no draft to publish (PUT /v1/scoring/draft)",
                      NULL, NULL);
        goto out;
    }
    if (!conditional_allows(&cond, atol(PQgetvalue(res, 0, 1)))) {
        reply_header(r, "ETag", "\"%s\"", PQgetvalue(res, 0, 1));
        reply_problem(r, LL_E_PRECONDITION, "the draft is not at the version If-Match names", NULL,
                      NULL);
        goto out;
    }
    /* campaigns a rule names may have changed since the draft was stored */
    if (!check_document(r, PQgetvalue(res, 0, 0)))
        goto out;
    const char *pv[4] = {r->auth.workspace_id, PQgetvalue(res, 0, 1),
                         r->auth.key_id[0] ? r->auth.key_id : NULL,
                         r->auth.user_id[0] ? r->auth.user_id : NULL};
    PGresult *pub = db_exec(r->db, "SELECT ll_scoring_publish($1, $2, $3, $4)", 4, pv);
    err = db_check(r->db, pub);
    PQclear(pub);
    if (err != LL_OK || (err = db_tx_commit(r->db)) != LL_OK) {
        reply_db_error(r, err);
        goto out;
    }
    tx = false;
    answer_state(r, 202);
out:
    if (tx)
        db_tx_rollback(r->db);
    PQclear(res);
}

void scoring_version_get(struct request *r)
{
    const char *n = r->params[0];
    size_t len = strlen(n);
    if (!req_query_allowed(r, NULL))
        return;
    if (len == 0 || len > 9 || strspn(n, "0123456789") != len || n[0] == '0') {
        reply_problem(r, LL_E_NOT_FOUND, "no such scoring version", NULL, NULL);
        return;
    }
    const char *vals[2] = {r->auth.workspace_id, n};
    PGresult *res =
        db_exec(r->db,
                "SELECT (document || jsonb_build_object('version', version, 'draft_version',"
                " draft_version, 'published_at', " DB_TS(
                    "published_at") ", 'published_by_key',"
                                    " published_by_key, 'published_by_user', "
                                    "published_by_user))::text FROM scoring_versions"
                                    " WHERE workspace_id = $1 AND version = $2::integer",
                2, vals);
    enum ll_err err = db_check(r->db, res);
    if (err != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, "no such scoring version", NULL, NULL);
    else
        answer_text(r, 200, res);
    PQclear(res);
}

static const char lead_score_sql[] =
    "SELECT json_build_object('lead_id', l.id, 'fit', coalesce(s.fit, 0), 'engagement',"
    " coalesce(s.engagement, 0), 'version', s.version, 'scored_at', " DB_TS(
        "s.scored_at") ","
                       " 'points', coalesce((SELECT json_agg(json_build_object('kind', p.kind, "
                       "'group',"
                       " nullif(p.grp, ''), 'rule_id', nullif(p.rule_id, ''), 'points', p.points, "
                       "'adjust',"
                       " p.adjust, 'version', p.version) ORDER BY p.kind, p.grp, p.rule_id) FROM "
                       "lead_score_points"
                       " p WHERE p.workspace_id = $1 AND p.lead_id = l.id), '[]'),"
                       " 'changes', coalesce((SELECT json_agg(json_build_object('version', "
                       "c.version, 'cause',"
                       " c.cause, 'fit_from', c.fit_from, 'fit', c.fit_to, 'engagement_from', "
                       "c.engagement_from,"
                       " 'engagement', c.engagement_to, 'crossed_threshold', c.crossed, "
                       "'moved_to', c.moved_to,"
                       " 'changed_at', " DB_TS(
                           "c.changed_at") ") ORDER BY c.seq DESC) FROM (SELECT * FROM"
                                           " lead_score_changes c WHERE c.workspace_id = $1 AND "
                                           "c.lead_id = l.id ORDER BY c.seq DESC"
                                           " LIMIT 20) c), '[]'))::text"
                                           " FROM leads l LEFT JOIN lead_scores s ON "
                                           "s.workspace_id = l.workspace_id AND s.lead_id = l.id"
                                           " WHERE l.workspace_id = $1 AND l.id = $2";

void scoring_lead_get(struct request *r)
{
    if (!req_query_allowed(r, NULL))
        return;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, "no such lead", NULL, NULL);
        return;
    }
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    PGresult *res = db_exec(r->db, lead_score_sql, 2, vals);
    enum ll_err err = db_check(r->db, res);
    if (err != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, "no such lead", NULL, NULL);
    else
        answer_text(r, 200, res);
    PQclear(res);
}

/* GET /v1/reports/scoring: per score band of width 10, the leads, how many sales accepted
 * and won, their rates and the amount won (sql/queries/report_scoring.sql). JSON only. */
void scoring_report(struct request *r)
{
    static const char *const allowed[] = {"score", "version", "from", "to", NULL};
    const char *score = req_query(r, "score"), *version = req_query(r, "version");
    const char *from = req_query(r, "from"), *to = req_query(r, "to"), *sql = NULL;
    if (!req_query_allowed(r, allowed))
        return;
    if (!score)
        score = "fit";
    if (strcmp(score, "fit") && strcmp(score, "engagement")) {
        reply_bad_param(r, "score", "must be fit or engagement");
        return;
    }
    if (version && (strlen(version) == 0 || strlen(version) > 9 ||
                    strspn(version, "0123456789") != strlen(version) || version[0] == '0')) {
        reply_bad_param(r, "version", "must be a published version's number (1, 2, ...)");
        return;
    }
    if (from && !jv_date_valid(from)) {
        reply_bad_param(r, "from", "must be a date YYYY-MM-DD");
        return;
    }
    if (to && !jv_date_valid(to)) {
        reply_bad_param(r, "to", "must be a date YYYY-MM-DD");
        return;
    }
    if (from && to && strcmp(from, to) > 0) {
        reply_bad_param(r, "to", "must not be before from");
        return;
    }
    for (size_t i = 0; i < embedded_queries_count; i++)
        if (!strcmp(embedded_queries[i].name, "report_scoring"))
            sql = embedded_queries[i].text;
    if (!sql) {
        reply_problem(r, LL_E_INTERNAL, "internal error", NULL, NULL);
        return;
    }
    const char *vals[5] = {r->auth.workspace_id, from, to, score, version};
    PGresult *res = db_exec(r->db, sql, 5, vals);
    enum ll_err err = db_check(r->db, res);
    if (err != LL_OK) {
        reply_db_error(r, err);
        PQclear(res);
        return;
    }
    json_t *bands = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *rate =
            PQgetisnull(res, i, 4) ? json_null() : json_real(atof(PQgetvalue(res, i, 4)));
        json_t *wrate =
            PQgetisnull(res, i, 6) ? json_null() : json_real(atof(PQgetvalue(res, i, 6)));
        json_array_append_new(
            bands, json_pack("{s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:I}", "score_from",
                             (json_int_t)atoll(PQgetvalue(res, i, 0)), "score_to",
                             (json_int_t)atoll(PQgetvalue(res, i, 1)), "leads",
                             (json_int_t)atoll(PQgetvalue(res, i, 2)), "accepted",
                             (json_int_t)atoll(PQgetvalue(res, i, 3)), "acceptance_rate", rate,
                             "won", (json_int_t)atoll(PQgetvalue(res, i, 5)), "won_rate", wrate,
                             "won_amount", (json_int_t)atoll(PQgetvalue(res, i, 7))));
    }
    PQclear(res);
    reply_json(r, 200,
               json_pack("{s:s, s:o, s:o, s:o, s:o}", "score", score, "version",
                         version ? json_integer(atol(version)) : json_null(), "from",
                         from ? json_string(from) : json_null(), "to",
                         to ? json_string(to) : json_null(), "data", bands));
}

/* The rescorers: threads that run the steps of due rescores, each step its own
 * transaction, so that a restart resumes from the cursors the last committed steps left
 * (scoring_run_lanes). A rescore has RESCORERS lanes, and each thread takes the step of a
 * lane the others are not in: one per core. */
#define RESCORERS 2
static char *rescore_conninfo;
static struct rescorer {
    struct ticker ticker;
    PGconn *pg; /* its thread's alone */
} rescorers[RESCORERS];

static void rescore_once(void *arg)
{
    struct rescorer *me = arg;
    char err[256];
    while (!ticker_stopping(&me->ticker)) {
        if (!me->pg) {
            if (!(me->pg = db_connect_once(rescore_conninfo, err, sizeof err))) {
                log_warn("rescorer: %s", err);
                return;
            }
            /* a step of RESCORE_CHUNK leads takes about a second on two cores: its bound is
             * its own, not the requests' */
            PGresult *set = PQexec(me->pg, "SET statement_timeout = " STR(RESCORE_STEP_MS));
            PQclear(set);
        }
        PGresult *res = PQexec(me->pg, "SELECT ll_score_step(" STR(RESCORE_CHUNK) ")");
        long n = -1;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            n = atol(PQgetvalue(res, 0, 0));
        else
            log_warn("rescorer: %s", PQerrorMessage(me->pg));
        PQclear(res);
        if (n < 0) {
            PQfinish(me->pg);
            me->pg = NULL;
            return;
        }
        if (n == 0)
            return;
    }
}

void scoring_rescorer_stop(void)
{
    for (int i = 0; i < RESCORERS; i++) {
        ticker_stop(&rescorers[i].ticker);
        if (rescorers[i].pg)
            PQfinish(rescorers[i].pg);
        rescorers[i].pg = NULL;
    }
    free(rescore_conninfo);
    rescore_conninfo = NULL;
}

bool scoring_rescorer_start(const char *conninfo)
{
    rescore_conninfo = strdup(conninfo ? conninfo : "");
    if (!rescore_conninfo)
        return false;
    for (int i = 0; i < RESCORERS; i++) {
        if (!ticker_start(&rescorers[i].ticker, 250, rescore_once, &rescorers[i])) {
            for (int j = 0; j < i; j++)
                ticker_stop(&rescorers[j].ticker);
            free(rescore_conninfo);
            rescore_conninfo = NULL;
            return false;
        }
    }
    return true;
}
