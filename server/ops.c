/* Operational routes: liveness (no database), readiness (database reachable and schema
 * current), Prometheus metrics and the embedded API contract. */
#include "leadloop/ops.h"

#include <stdlib.h>
#include <string.h>

#include "leadloop/db.h"
#include "leadloop/embedded.h"
#include "leadloop/metrics.h"
#include "leadloop/migrate.h"
#include "leadloop/request.h"

void ops_healthz(struct request *r)
{
    reply_raw(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

/* A load balancer asks often and must hear "not ready" within a second, whatever the
 * database does: the probe waits for a connection at most READY_WAIT_MS and for its
 * statement at most READY_STATEMENT_MS (then up to as long again for the cancel). */
#define READY_WAIT_MS      250
#define READY_STATEMENT_MS 250

void ops_readyz(struct request *r)
{
    struct db_conn *db = NULL;
    PGresult *res = NULL;
    enum ll_err err = db_acquire_within(&db, READY_WAIT_MS, READY_STATEMENT_MS);
    if (err != LL_OK) {
        reply_problem(r, LL_E_UNAVAILABLE,
                      "no database connection came free in time or the database is not reachable",
                      NULL, NULL);
        return;
    }
    res = db_exec(db, migrate_sql_state, 0, NULL);
    err = db_check(db, res);
    if (err == LL_OK && PQntuples(res) == 1 &&
        migrate_state_current(atol(PQgetvalue(res, 0, 0)), PQgetvalue(res, 0, 1))) {
        reply_json(r, 200,
                   json_pack("{s:s, s:s}", "status", "ready", "schema_version", migrate_latest()));
    } else if (err == LL_OK || err == LL_E_INTERNAL) { /* no table yet is 42P01 */
        reply_problem(r, LL_E_UNAVAILABLE, "the database schema is not current; run migrations",
                      NULL, NULL);
    } else {
        reply_problem(r, LL_E_UNAVAILABLE, "the database is not reachable", NULL, NULL);
    }
    PQclear(res);
    db_release(db);
}

void ops_metrics(struct request *r)
{
    size_t len = 0;
    char *text = metrics_render(&len);
    if (!text) {
        reply_problem(r, LL_E_INTERNAL, "out of memory", NULL, NULL);
        return;
    }
    reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

void ops_openapi(struct request *r)
{
    reply_raw(r, 200, "application/yaml", embedded_openapi, embedded_openapi_len);
}
