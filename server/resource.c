/* Helpers the resource files share: one resource by its {id} (it runs SQL, so it is no
 * part of the HTTP layer) and LIKE escaping. A conditional write that touched no row is
 * answered by conditional.c. */
#include "leadloop/resource.h"

#include <stdlib.h>

#include "leadloop/db.h"
#include "leadloop/util.h"

bool like_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s; s++) {
        if (o + 3 > cap)
            return false;
        if (*s == '%' || *s == '_' || *s == '\\')
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
    return true;
}

PGresult *req_fetch_by_id(struct request *r, const char *sql, const char *not_found)
{
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    PGresult *res;
    enum ll_err err;
    if (!req_query_allowed(r, NULL))
        return NULL;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        return NULL;
    }
    res = db_exec(r->db, sql, 2, vals);
    err = db_check(r->db, res);
    if (err)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
    else
        return res;
    PQclear(res);
    return NULL;
}
