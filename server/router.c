/* The route table: every route the daemon serves, with the roles allowed. Matching is a
 * linear scan over a short table: a few hundred nanoseconds, far below one query. */
#include "leadloop/router.h"

#include <string.h>

#include "leadloop/admin.h"
#include "leadloop/audit_log.h"
#include "leadloop/auth.h"
#include "leadloop/campaigns.h"
#include "leadloop/changes.h"
#include "leadloop/feedback.h"
#include "leadloop/lead_bulk.h"
#include "leadloop/leads.h"
#include "leadloop/lifecycle.h"
#include "leadloop/merge.h"
#include "leadloop/ops.h"
#include "leadloop/reports.h"
#include "leadloop/touches.h"
#include "leadloop/webhooks.h"

#define PUB (ROUTE_PUBLIC | ROUTE_NO_DB)

static const struct route routes[] = {
    {HTTP_GET, "/healthz", ops_healthz, 0, PUB},
    {HTTP_GET, "/readyz", ops_readyz, 0, PUB}, /* its own connection, sooner */
    {HTTP_GET, "/metrics", ops_metrics, 0, PUB},
    {HTTP_GET, "/openapi.yaml", ops_openapi, 0, PUB},

    {HTTP_GET, "/v1/api-keys", admin_keys_list, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/api-keys", admin_keys_create, ROLES_ADMIN, ROUTE_NO_IDEMPOTENCY},
    {HTTP_GET, "/v1/api-keys/{id}", admin_keys_get, ROLES_ADMIN, 0},
    {HTTP_PATCH, "/v1/api-keys/{id}", admin_keys_update, ROLES_ADMIN, 0},
    {HTTP_DELETE, "/v1/api-keys/{id}", admin_keys_revoke, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/users", admin_users_list, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/users", admin_users_create, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/users/{id}", admin_users_get, ROLES_ADMIN, 0},
    {HTTP_PATCH, "/v1/users/{id}", admin_users_update, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/audit", audit_log_list, ROLES_ADMIN, 0},
    /* takes a connection only while it queries: a long poll (wait=) gives it back */
    {HTTP_GET, "/v1/changes", changes_list, ROLES_ANY, ROUTE_NO_DB},
    {HTTP_GET, "/v1/webhooks", webhooks_list, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/webhooks", webhooks_create, ROLES_ADMIN, ROUTE_NO_IDEMPOTENCY},
    {HTTP_GET, "/v1/webhooks/{id}", webhooks_get, ROLES_ADMIN, 0},
    {HTTP_PATCH, "/v1/webhooks/{id}", webhooks_update, ROLES_ADMIN, 0},
    {HTTP_DELETE, "/v1/webhooks/{id}", webhooks_delete, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/webhooks/{id}/rotate-secret", webhooks_rotate_secret, ROLES_ADMIN,
     ROUTE_NO_IDEMPOTENCY},
    {HTTP_POST, "/v1/webhooks/{id}/ping", webhooks_ping, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/webhooks/{id}/deliveries", webhooks_deliveries, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", webhooks_redeliver,
     ROLES_ADMIN, 0},

    {HTTP_POST, "/v1/campaigns", campaigns_create, ROLES_MARKETING, 0},
    {HTTP_GET, "/v1/campaigns", campaigns_list, ROLES_ANY, 0},
    {HTTP_GET, "/v1/campaigns/{id}", campaigns_get, ROLES_ANY, 0},
    {HTTP_PATCH, "/v1/campaigns/{id}", campaigns_update, ROLES_MARKETING, 0},
    {HTTP_DELETE, "/v1/campaigns/{id}", campaigns_archive, ROLES_MARKETING, 0},
    {HTTP_POST, "/v1/campaigns/{id}/touches", touches_create, ROLES_MARKETING, 0},
    {HTTP_POST, "/v1/campaigns/{id}/touches/batch", touches_batch, ROLES_MARKETING, ROUTE_BULK},
    {HTTP_GET, "/v1/campaigns/{id}/members", touches_members, ROLES_ANY, 0},
    {HTTP_GET, "/v1/leads/{id}/touches", touches_list_by_lead, ROLES_ANY, 0},

    {HTTP_POST, "/v1/leads", leads_create, ROLES_WRITERS, 0},
    {HTTP_POST, "/v1/leads/batch", lead_bulk_batch, ROLES_WRITERS, ROUTE_BULK},
    {HTTP_POST, "/v1/leads/import", lead_bulk_import, ROLES_WRITERS, ROUTE_CSV | ROUTE_BULK},
    {HTTP_GET, "/v1/leads", leads_list, ROLES_ANY, 0},
    {HTTP_GET, "/v1/leads/{id}", leads_get, ROLES_ANY, 0},
    {HTTP_PATCH, "/v1/leads/{id}", leads_update_handler, ROLES_WRITERS, 0},
    {HTTP_DELETE, "/v1/leads/{id}", leads_erase, ROLES_WRITERS, 0},
    {HTTP_GET, "/v1/leads/by-email/{email}", leads_get_by_email, ROLES_ANY, 0},
    {HTTP_PUT, "/v1/leads/by-email/{email}", leads_put_by_email, ROLES_WRITERS, 0},
    {HTTP_POST, "/v1/leads/{id}/transitions", lifecycle_transition, ROLES_WRITERS, 0},
    {HTTP_POST, "/v1/leads/{id}/merge", merge_leads, ROLES_WRITERS, 0},
    {HTTP_GET, "/v1/leads/{id}/history", lifecycle_history, ROLES_ANY, 0},
    {HTTP_GET, "/v1/leads/{id}/timeline", lifecycle_timeline, ROLES_ANY, 0},
    {HTTP_POST, "/v1/leads/{id}/feedback", feedback_create, ROLES_SALES, 0},
    {HTTP_GET, "/v1/leads/{id}/feedback", feedback_list_lead, ROLES_ANY, 0},
    {HTTP_GET, "/v1/feedback", feedback_list, ROLES_ANY, 0},
    {HTTP_GET, "/v1/feedback-reasons", reasons_list, ROLES_ANY, 0},
    {HTTP_POST, "/v1/feedback-reasons", reasons_create, ROLES_ADMIN, 0},
    {HTTP_PATCH, "/v1/feedback-reasons/{code}", reasons_update, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/workspace", workspace_get, ROLES_ANY, 0},
    {HTTP_PATCH, "/v1/workspace", workspace_update, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/reports/campaigns", reports_campaigns, ROLES_ANY, 0},
    {HTTP_GET, "/v1/reports/sources", reports_sources, ROLES_ANY, 0},
    {HTTP_GET, "/v1/reports/funnel", reports_funnel, ROLES_ANY, 0},
    {HTTP_GET, "/v1/reports/rejections", reports_rejections, ROLES_ANY, 0},
    {HTTP_GET, "/v1/reports/follow-up", reports_follow_up, ROLES_ANY, 0},
    {HTTP_GET, "/v1/leads/by-external-id/{system}/{external_id}", leads_get_by_external_id,
     ROLES_ANY, 0},
    {HTTP_PUT, "/v1/leads/by-external-id/{system}/{external_id}", leads_put_by_external_id,
     ROLES_WRITERS, 0},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* Matches path against pattern, copying captures into buf. */
static bool match(const char *pattern, const char *path, const char **params, char *buf,
                  size_t buflen)
{
    const char *p = pattern, *s = path;
    size_t used = 0;
    int np = 0;
    while (*p && *s) {
        if (*p == '{') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || np >= ROUTER_MAX_PARAMS || used + len + 1 > buflen)
                return false;
            memcpy(buf + used, s, len);
            buf[used + len] = '\0';
            params[np++] = buf + used;
            used += len + 1;
            s += len;
            p = strchr(p, '}') + 1;
        } else if (*p++ != *s++) {
            return false;
        }
    }
    return *p == '\0' && *s == '\0';
}

static int templates(const char *pattern)
{
    int n = 0;
    for (; *pattern; pattern++)
        n += *pattern == '{';
    return n;
}

/* A path that fits several patterns belongs to those with the fewest templates, as
 * OpenAPI matches concrete paths before templated ones: /v1/leads/batch is not a lead
 * id, so GET there is 405 (Allow: POST), not GET /v1/leads/{id}. */
const struct route *router_match(const char *path, int method,
                                 const char *params[ROUTER_MAX_PARAMS], char *buf, size_t buflen,
                                 int *allowed)
{
    const struct route *found = NULL;
    int fewest = ROUTER_MAX_PARAMS + 1;
    *allowed = 0;
    for (size_t i = 0; i < NROUTES; i++) {
        const char *tmp[ROUTER_MAX_PARAMS];
        int t;
        if (!match(routes[i].pattern, path, tmp, buf, buflen))
            continue;
        if ((t = templates(routes[i].pattern)) > fewest)
            continue;
        if (t < fewest) { /* a more concrete pattern: what the others allowed does not count */
            fewest = t;
            *allowed = 0;
            found = NULL;
        }
        *allowed |= routes[i].method;
        if (routes[i].method == method && !found) {
            found = &routes[i];
            memcpy(params, tmp, sizeof tmp);
        }
    }
    if (found) /* the captures of a later, non-matching route may have overwritten buf */
        match(found->pattern, path, params, buf, buflen);
    return found;
}

size_t router_count(void)
{
    return NROUTES;
}

const struct route *router_at(size_t i)
{
    return i < NROUTES ? &routes[i] : NULL;
}

int router_index(const struct route *rt)
{
    return rt ? (int)(rt - routes) : -1;
}

static const struct {
    int method;
    const char *name;
} methods[] = {{HTTP_GET, "GET"},     {HTTP_POST, "POST"},     {HTTP_PUT, "PUT"},
               {HTTP_PATCH, "PATCH"}, {HTTP_DELETE, "DELETE"}, {HTTP_OPTIONS, "OPTIONS"},
               {HTTP_HEAD, "HEAD"}};

int router_method_parse(const char *method)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(method, methods[i].name))
            return methods[i].method;
    return HTTP_OTHER;
}

const char *router_method_name(int method)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (method == methods[i].method)
            return methods[i].name;
    return "OTHER";
}

void router_methods_list(int set, char *buf, size_t buflen)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (!(set & methods[i].method))
            continue;
        size_t n = strlen(methods[i].name) + 2;
        if (used + n + 1 > buflen)
            break;
        if (used) {
            memcpy(buf + used, ", ", 2);
            used += 2;
        }
        memcpy(buf + used, methods[i].name, n - 2);
        used += n - 2;
        buf[used] = '\0';
    }
}
