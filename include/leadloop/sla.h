/* The two-sided SLA's goals (/v1/sla/goals): marketing's and sales' commitments for a month
 * or a quarter, per team or per person, and the period names they are given by
 * ("2026-12", "2026-Q4"). GET /v1/reports/sla measures them (server/sla_report.c). */
#ifndef LEADLOOP_SLA_H
#define LEADLOOP_SLA_H
#include <stdbool.h>

struct request;

/* A period as the API names it: "YYYY-MM" (a month) or "YYYY-Qn" (a quarter), years
 * 2000..2999. On success writes its kind ("month" or "quarter") and first day
 * ("YYYY-MM-DD") into the caller's buffers. */
bool sla_period_parse(const char *s, char kind[8], char start[11])
    __attribute__((warn_unused_result));

void sla_goals_list(struct request *r);
void sla_goals_create(struct request *r);
void sla_goals_get(struct request *r);
void sla_goals_update(struct request *r);
void sla_goals_delete(struct request *r);

#endif
