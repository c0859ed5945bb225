/* The route table: every route the daemon serves, its handler, the roles allowed and how
 * the request path treats it (server/reqpath.c). openapi.yaml documents each of them with
 * the same roles (x-required-role), and tests/unit/test_inventory.c checks both ways. */
#include "leadloop/routes.h"

#include "leadloop/admin.h"
#include "leadloop/assets.h"
#include "leadloop/audit_log.h"
#include "leadloop/auth.h"
#include "leadloop/campaigns.h"
#include "leadloop/changes.h"
#include "leadloop/feedback.h"
#include "leadloop/interactions.h"
#include "leadloop/invitations.h"
#include "leadloop/lead_bulk.h"
#include "leadloop/lead_export.h"
#include "leadloop/leads.h"
#include "leadloop/lifecycle.h"
#include "leadloop/merge.h"
#include "leadloop/ops.h"
#include "leadloop/reports.h"
#include "leadloop/scoring.h"
#include "leadloop/routing.h"
#include "leadloop/session.h"
#include "leadloop/sla.h"
#include "leadloop/touches.h"
#include "leadloop/webhooks.h"
#include "leadloop/workspace.h"

#define PUB (ROUTE_PUBLIC | ROUTE_NO_DB)
/* lists and reports: may read from the read replica (server/replica.c) */
#define RD ROUTE_REPLICA

static const struct route table[] = {
    {HTTP_GET, "/healthz", ops_healthz, 0, PUB},
    {HTTP_GET, "/readyz", ops_readyz, 0, PUB}, /* its own connection, sooner */
    {HTTP_GET, "/metrics", ops_metrics, 0, PUB},
    {HTTP_GET, "/openapi.yaml", ops_openapi, 0, PUB},
    /* the web app and the API reference: files built into the binary */
    {HTTP_GET, "/", assets_root, 0, PUB},
    {HTTP_GET, "/app", assets_app, 0, PUB},
    {HTTP_GET, "/app/{path}", assets_app, 0, PUB | ROUTE_TAIL},
    {HTTP_GET, "/docs", assets_docs, 0, PUB},
    {HTTP_GET, "/docs/{path}", assets_docs, 0, PUB | ROUTE_TAIL},

    {HTTP_GET, "/v1/api-keys", admin_keys_list, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/api-keys", admin_keys_create, ROLES_ADMIN, ROUTE_NO_IDEMPOTENCY},
    {HTTP_GET, "/v1/api-keys/{id}", admin_keys_get, ROLES_ADMIN, ROUTE_POINT},
    {HTTP_PATCH, "/v1/api-keys/{id}", admin_keys_update, ROLES_ADMIN, 0},
    {HTTP_DELETE, "/v1/api-keys/{id}", admin_keys_revoke, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/users", admin_users_list, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/users", admin_users_create, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/users/{id}", admin_users_get, ROLES_ADMIN, ROUTE_POINT},
    {HTTP_PATCH, "/v1/users/{id}", admin_users_update, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/audit", audit_log_list, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/invitations", invitations_list, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/invitations", invitations_create, ROLES_ADMIN, ROUTE_NO_IDEMPOTENCY},
    {HTTP_DELETE, "/v1/invitations/{id}", invitations_revoke, ROLES_ADMIN, 0},
    /* people in the web app: public routes that take a connection (sign-in, the invitee's
     * password); their answers hold a secret, so they are never stored for a replay */
    {HTTP_POST, "/v1/invitations/accept", invitations_accept, 0,
     ROUTE_PUBLIC | ROUTE_NO_IDEMPOTENCY},
    {HTTP_POST, "/v1/session", session_create, 0, ROUTE_PUBLIC | ROUTE_NO_IDEMPOTENCY},
    {HTTP_GET, "/v1/session", session_get, ROLES_ANY, 0},
    {HTTP_DELETE, "/v1/session", session_delete, ROLES_ANY, 0},
    {HTTP_PUT, "/v1/session/password", session_password, ROLES_ANY, 0},
    {HTTP_GET, "/v1/sessions", sessions_list, ROLES_ANY, 0},
    {HTTP_DELETE, "/v1/sessions/{id}", sessions_revoke, ROLES_ANY, 0},
    /* takes a connection only while it queries: a long poll (wait=) gives it back */
    {HTTP_GET, "/v1/changes", changes_list, ROLES_ANY, ROUTE_NO_DB},
    {HTTP_GET, "/v1/webhooks", webhooks_list, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/webhooks", webhooks_create, ROLES_ADMIN, ROUTE_NO_IDEMPOTENCY},
    {HTTP_GET, "/v1/webhooks/{id}", webhooks_get, ROLES_ADMIN, ROUTE_POINT},
    {HTTP_PATCH, "/v1/webhooks/{id}", webhooks_update, ROLES_ADMIN, 0},
    {HTTP_DELETE, "/v1/webhooks/{id}", webhooks_delete, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/webhooks/{id}/rotate-secret", webhooks_rotate_secret, ROLES_ADMIN,
     ROUTE_NO_IDEMPOTENCY},
    {HTTP_POST, "/v1/webhooks/{id}/ping", webhooks_ping, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/webhooks/{id}/deliveries", webhooks_deliveries, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", webhooks_redeliver,
     ROLES_ADMIN, 0},

    {HTTP_POST, "/v1/campaigns", campaigns_create, ROLES_MARKETING, 0},
    {HTTP_GET, "/v1/campaigns", campaigns_list, ROLES_ANY, RD},
    {HTTP_GET, "/v1/campaigns/{id}", campaigns_get, ROLES_ANY, ROUTE_POINT},
    {HTTP_PATCH, "/v1/campaigns/{id}", campaigns_update, ROLES_MARKETING, 0},
    {HTTP_DELETE, "/v1/campaigns/{id}", campaigns_archive, ROLES_MARKETING, 0},
    {HTTP_POST, "/v1/campaigns/{id}/touches", touches_create, ROLES_MARKETING, 0},
    {HTTP_POST, "/v1/campaigns/{id}/touches/batch", touches_batch, ROLES_MARKETING, ROUTE_BULK},
    {HTTP_GET, "/v1/campaigns/{id}/members", touches_members, ROLES_ANY, RD},
    {HTTP_GET, "/v1/leads/{id}/touches", touches_list_by_lead, ROLES_ANY, RD},

    {HTTP_POST, "/v1/leads", leads_create, ROLES_WRITERS, 0},
    {HTTP_POST, "/v1/leads/batch", lead_bulk_batch, ROLES_WRITERS, ROUTE_BULK},
    {HTTP_POST, "/v1/leads/import", lead_bulk_import, ROLES_WRITERS, ROUTE_CSV | ROUTE_BULK},
    {HTTP_GET, "/v1/leads", lead_export_list, ROLES_ANY, RD},
    {HTTP_GET, "/v1/leads/{id}", leads_get, ROLES_ANY, ROUTE_POINT},
    {HTTP_PATCH, "/v1/leads/{id}", leads_update_handler, ROLES_WRITERS, 0},
    {HTTP_DELETE, "/v1/leads/{id}", leads_erase, ROLES_WRITERS, 0},
    {HTTP_GET, "/v1/leads/by-email/{email}", leads_get_by_email, ROLES_ANY, ROUTE_POINT},
    {HTTP_PUT, "/v1/leads/by-email/{email}", leads_put_by_email, ROLES_WRITERS, 0},
    {HTTP_POST, "/v1/leads/{id}/transitions", lifecycle_transition, ROLES_WRITERS, 0},
    {HTTP_POST, "/v1/leads/{id}/merge", merge_leads, ROLES_WRITERS, 0},
    {HTTP_GET, "/v1/leads/{id}/history", lifecycle_history, ROLES_ANY, RD},
    {HTTP_POST, "/v1/leads/{id}/history", lifecycle_history_import, ROLES_WRITERS, 0},
    {HTTP_GET, "/v1/leads/{id}/timeline", lifecycle_timeline, ROLES_ANY, RD},
    {HTTP_POST, "/v1/leads/{id}/feedback", feedback_create, ROLES_SALES, 0},
    {HTTP_GET, "/v1/leads/{id}/feedback", feedback_list_lead, ROLES_ANY, RD},
    {HTTP_GET, "/v1/feedback", feedback_list, ROLES_ANY, RD},
    {HTTP_POST, "/v1/leads/{id}/interactions", interactions_create, ROLES_WRITERS, 0},
    {HTTP_GET, "/v1/leads/{id}/interactions", interactions_list_by_lead, ROLES_ANY, RD},
    {HTTP_POST, "/v1/interactions/batch", interactions_batch, ROLES_WRITERS, ROUTE_BULK},
    {HTTP_GET, "/v1/interactions/{id}", interactions_get, ROLES_ANY, ROUTE_POINT},
    {HTTP_GET, "/v1/feedback-reasons", reasons_list, ROLES_ANY, 0},
    {HTTP_POST, "/v1/feedback-reasons", reasons_create, ROLES_ADMIN, 0},
    {HTTP_PATCH, "/v1/feedback-reasons/{code}", reasons_update, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/workspace", workspace_get, ROLES_ANY, 0},
    {HTTP_PATCH, "/v1/workspace", workspace_update, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/scoring", scoring_get, ROLES_ANY, 0},
    {HTTP_GET, "/v1/scoring/draft", scoring_draft_get, ROLES_ANY, 0},
    {HTTP_PUT, "/v1/scoring/draft", scoring_draft_put, ROLES_MARKETING, 0},
    {HTTP_POST, "/v1/scoring/draft/publish", scoring_publish, ROLES_MARKETING, 0},
    {HTTP_GET, "/v1/scoring/versions/{n}", scoring_version_get, ROLES_ANY, ROUTE_POINT},
    {HTTP_GET, "/v1/leads/{id}/score", scoring_lead_get, ROLES_ANY, 0},
    {HTTP_GET, "/v1/reports/campaigns", reports_campaigns, ROLES_ANY, RD},
    {HTTP_GET, "/v1/reports/sources", reports_sources, ROLES_ANY, RD},
    {HTTP_GET, "/v1/reports/funnel", reports_funnel, ROLES_ANY, RD},
    {HTTP_GET, "/v1/reports/rejections", reports_rejections, ROLES_ANY, RD},
    {HTTP_GET, "/v1/reports/follow-up", reports_follow_up, ROLES_ANY, RD},
    {HTTP_GET, "/v1/reports/trends", reports_trends, ROLES_ANY, RD},
    {HTTP_GET, "/v1/reports/scoring", scoring_report, ROLES_ANY, RD},
    {HTTP_GET, "/v1/reports/sla", reports_sla, ROLES_ANY, RD},
    {HTTP_GET, "/v1/sla/goals", sla_goals_list, ROLES_ANY, 0},
    {HTTP_POST, "/v1/sla/goals", sla_goals_create, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/sla/goals/{id}", sla_goals_get, ROLES_ANY, ROUTE_POINT},
    {HTTP_PATCH, "/v1/sla/goals/{id}", sla_goals_update, ROLES_ADMIN, 0},
    {HTTP_DELETE, "/v1/sla/goals/{id}", sla_goals_delete, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/leads/{id}/route", routing_lead_route, ROLES_WRITERS, 0},
    {HTTP_GET, "/v1/leads/{id}/assignments", routing_lead_assignments, ROLES_ANY, 0},
    /* routing (issue 17): reads for every role, writes for admins */
    {HTTP_GET, "/v1/routing/pools", routing_pools_list, ROLES_ANY, 0},
    {HTTP_POST, "/v1/routing/pools", routing_pools_create, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/routing/pools/{id}", routing_pools_get, ROLES_ANY, ROUTE_POINT},
    {HTTP_PATCH, "/v1/routing/pools/{id}", routing_pools_update, ROLES_ADMIN, 0},
    {HTTP_DELETE, "/v1/routing/pools/{id}", routing_pools_delete, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/routing/pools/{id}/members", routing_members_list, ROLES_ANY, 0},
    {HTTP_PUT, "/v1/routing/pools/{id}/members/{user_id}", routing_members_put, ROLES_ADMIN, 0},
    {HTTP_DELETE, "/v1/routing/pools/{id}/members/{user_id}", routing_members_delete, ROLES_ADMIN,
     0},
    {HTTP_GET, "/v1/routing/absences", routing_absences_list, ROLES_ANY, 0},
    {HTTP_POST, "/v1/routing/absences", routing_absences_create, ROLES_ADMIN, 0},
    {HTTP_DELETE, "/v1/routing/absences/{id}", routing_absences_delete, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/routing/rules", routing_rules_get, ROLES_ANY, 0},
    {HTTP_PUT, "/v1/routing/rules", routing_rules_put, ROLES_ADMIN, 0},
    {HTTP_POST, "/v1/routing/dry-run", routing_dry_run, ROLES_ANY, 0},
    {HTTP_POST, "/v1/routing/reassign-due", routing_reassign_due, ROLES_ADMIN, 0},
    {HTTP_GET, "/v1/leads/by-external-id/{system}/{external_id}", leads_get_by_external_id,
     ROLES_ANY, ROUTE_POINT},
    {HTTP_PUT, "/v1/leads/by-external-id/{system}/{external_id}", leads_put_by_external_id,
     ROLES_WRITERS, 0},
};

const struct route_table routes = {table, sizeof table / sizeof table[0]};
