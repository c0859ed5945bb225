/* Janitors (include/leadloop/janitor.h): a ticker, a connection per run, the work. */
#include "leadloop/janitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/db.h"
#include "leadloop/log.h"

static void run(void *arg)
{
    struct janitor *j = arg;
    char err[256];
    PGconn *pg = db_connect_once(j->conninfo, err, sizeof err);
    if (!pg) {
        log_warn("%s: %s", j->name, err);
        return;
    }
    j->work(j, pg);
    PQfinish(pg);
}

bool janitor_start(struct janitor *j, const char *name, const char *conninfo, long interval_s,
                   void (*work)(struct janitor *j, PGconn *pg))
{
    j->name = name;
    j->work = work;
    j->conninfo = strdup(conninfo ? conninfo : "");
    if (!j->conninfo)
        return false;
    if (!ticker_start(&j->ticker, interval_s * 1000, run, j)) {
        free(j->conninfo);
        j->conninfo = NULL;
        return false;
    }
    return true;
}

bool janitor_stopping(struct janitor *j)
{
    return ticker_stopping(&j->ticker);
}

void janitor_stop(struct janitor *j)
{
    ticker_stop(&j->ticker);
    free(j->conninfo);
    j->conninfo = NULL;
}

void janitor_exec(struct janitor *j, PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK)
        log_debug("%s: %s rows", j->name, PQcmdTuples(res));
    else if (st == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) >= 1)
        log_debug("%s: %s%s%s", j->name, PQgetvalue(res, 0, 0), PQnfields(res) > 1 ? ", " : "",
                  PQnfields(res) > 1 ? PQgetvalue(res, 0, 1) : "");
    else if (st != PGRES_TUPLES_OK)
        log_warn("%s: %s", j->name, PQresultErrorField(res, PG_DIAG_SQLSTATE));
    PQclear(res);
}

void janitor_each_workspace(struct janitor *j, PGconn *pg, const char *due,
                            const char *const *stmts, long batch)
{
    PGresult *ws = PQexec(pg, due);
    bool ok = PQresultStatus(ws) == PGRES_TUPLES_OK;
    if (!ok)
        log_warn("%s: %s", j->name, PQresultErrorField(ws, PG_DIAG_SQLSTATE));
    for (int i = 0; ok && i < PQntuples(ws) && !janitor_stopping(j); i++) {
        const char *vals[1] = {PQgetvalue(ws, i, 0)};
        long deleted = 0, statements = 0;
        for (const char *const *s = stmts; ok && *s; s++) {
            long n;
            do {
                PGresult *res = PQexecParams(pg, *s, 1, NULL, vals, NULL, NULL, 0);
                ok = PQresultStatus(res) == PGRES_COMMAND_OK;
                n = ok ? atol(PQcmdTuples(res)) : 0;
                if (!ok)
                    log_warn("%s: %s", j->name, PQresultErrorField(res, PG_DIAG_SQLSTATE));
                PQclear(res);
                deleted += n;
                statements++;
            } while (ok && n >= batch && !janitor_stopping(j));
        }
        if (deleted > 0)
            log_info("%s: deleted %ld rows in %ld statements (workspace %s)", j->name, deleted,
                     statements, vals[0]);
    }
    PQclear(ws);
}
