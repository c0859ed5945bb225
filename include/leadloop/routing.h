/* Routing (issue 17): who gets a lead. Pools of sales users and their members, absences,
 * the workspace's ordered rules (one document), the dry run, routing a lead on demand, its
 * assignment log, and the pass that re-assigns leads whose pool SLA ran out. The engine is
 * SQL (sql/functions/74_routing.sql), so that every write path shares it: a live move to
 * mql (ll_lead_move) routes in its own transaction. */
#ifndef LEADLOOP_ROUTING_H
#define LEADLOOP_ROUTING_H
#include <stdbool.h>

struct request;

void routing_pools_list(struct request *r);
void routing_pools_create(struct request *r);
void routing_pools_get(struct request *r);
void routing_pools_update(struct request *r);
void routing_pools_delete(struct request *r);
void routing_members_list(struct request *r);
void routing_members_put(struct request *r);
void routing_members_delete(struct request *r);
void routing_absences_list(struct request *r);
void routing_absences_create(struct request *r);
void routing_absences_delete(struct request *r);
void routing_rules_get(struct request *r);
void routing_rules_put(struct request *r);
void routing_dry_run(struct request *r);
void routing_reassign_due(struct request *r);
void routing_lead_route(struct request *r);
void routing_lead_assignments(struct request *r);

/* The re-assignment pass in the background: every interval_s, on a connection of its own,
 * re-routes the leads whose pool SLA ran out (a bounded batch at a time). False when no
 * thread could start. routing_janitor_stop is safe when it did not start. */
bool routing_janitor_start(const char *conninfo, long interval_s)
    __attribute__((warn_unused_result));
void routing_janitor_stop(void);

#endif
