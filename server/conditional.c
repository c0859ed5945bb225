/* Conditional writes: the one home of how If-Match becomes a condition on a row's version
 * and of what a write that matched no row answers (include/leadloop/conditional.h). */
#include "leadloop/conditional.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/headers.h"
#include "leadloop/request.h"

void conditional_init(struct conditional *c, const char *h)
{
    memset(c, 0, sizeof *c);
    c->state = headers_if_match_version(h, &c->version); /* 0 none, 1 a version, -1 no match */
    if (c->state != 0)
        snprintf(c->param, sizeof c->param, "%ld", c->state > 0 ? c->version : 0L);
}

void conditional_from_request(struct conditional *c, struct request *r)
{
    conditional_init(c, req_header(r, "If-Match"));
}

const char *conditional_param(const struct conditional *c)
{
    return c->state == 0 ? NULL : c->param;
}

bool conditional_allows(const struct conditional *c, long version)
{
    return c->state == 0 || (c->state == 1 && c->version == version);
}

enum ll_err conditional_no_row(struct db_conn *db, const char *sql_version, const char *workspace,
                               const char *key, const struct conditional *c, long *current)
{
    const char *vals[2] = {workspace, key};
    PGresult *res = db_exec(db, sql_version, 2, vals);
    enum ll_err err = db_check(db, res);
    *current = 0;
    if (err == LL_OK && PQntuples(res) == 0) {
        err = LL_E_NOT_FOUND;
    } else if (err == LL_OK) {
        *current = atol(PQgetvalue(res, 0, 0));
        err = conditional_allows(c, *current) ? LL_E_CONFLICT : LL_E_PRECONDITION;
    }
    PQclear(res);
    return err;
}

void conditional_reply(struct request *r, enum ll_err err, long current, const char *not_found,
                       const char *changed)
{
    char etag[32];
    if (err == LL_E_NOT_FOUND) {
        reply_problem(r, err, not_found, NULL, NULL);
    } else if (err == LL_E_PRECONDITION) {
        snprintf(etag, sizeof etag, "\"%ld\"", current);
        reply_problem(r, err,
                      "If-Match does not match the current version; fetch it again and retry", NULL,
                      json_pack("{s:s}", "current_etag", etag));
    } else if (err == LL_E_CONFLICT) {
        reply_problem(r, err, changed, NULL, NULL);
    } else {
        reply_db_error(r, err);
    }
}
