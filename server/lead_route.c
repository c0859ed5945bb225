/* The answers every route of one lead gives about the lead itself: not found (404), or
 * merged into another lead (308 to the same route of the survivor, so that a client that
 * follows redirects never notices, and one that does not reads merged_into). */
#include "leadloop/lead_route.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "leadloop/db.h"
#include "leadloop/request.h"
#include "leadloop/util.h"

static const char sql_lead[] = "SELECT merged_into FROM leads WHERE workspace_id = $1 AND id = $2";
static const char not_found[] = "no lead with this id";
static const char prefix[] = "/v1/leads/";

void lead_route_merged(struct request *r, const char *lead_id, const char *survivor)
{
    const size_t plen = sizeof prefix - 1, idlen = strlen(lead_id);
    const char *rest = NULL;
    char detail[160];

    /* the path's id may be written in capitals: UUIDs compare without case */
    if (!strncmp(r->path, prefix, plen) && !strncasecmp(r->path + plen, lead_id, idlen))
        rest = r->path + plen + idlen;
    if (!rest || (*rest && *rest != '/')) {
        reply_problem(r, LL_E_CONFLICT,
                      "the lead was merged into another meanwhile; retry the request", NULL,
                      json_pack("{s:s}", "merged_into", survivor));
        return;
    }
    snprintf(detail, sizeof detail, "this lead was merged into %s; it answers at %s%s", survivor,
             prefix, survivor);
    reply_header(r, "Location", "%s%s%s", prefix, survivor, rest);
    reply_problem(r, LL_E_MERGED, detail, NULL, json_pack("{s:s}", "merged_into", survivor));
}

bool lead_route_found(struct request *r)
{
    const char *vals[2] = {r->auth.workspace_id, r->params[0]};
    PGresult *res;
    enum ll_err err;
    bool found = false;
    if (!util_is_uuid(r->params[0])) {
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
        return false;
    }
    res = db_exec(r->db, sql_lead, 2, vals);
    if ((err = db_check(r->db, res)) != LL_OK)
        reply_db_error(r, err);
    else if (PQntuples(res) == 0)
        reply_problem(r, LL_E_NOT_FOUND, not_found, NULL, NULL);
    else if (!PQgetisnull(res, 0, 0))
        lead_route_merged(r, r->params[0], PQgetvalue(res, 0, 0));
    else
        found = true;
    PQclear(res);
    return found;
}
