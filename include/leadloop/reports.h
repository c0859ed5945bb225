/* Reports (GET /v1/reports/...): campaigns (by attribution model), sources, funnel,
 * rejections, follow-up and trends, as JSON or CSV; every report's rows sort by a figure. */
#ifndef LEADLOOP_REPORTS_H
#define LEADLOOP_REPORTS_H
#include <stdbool.h>

struct request;

void reports_campaigns(struct request *r);
void reports_sources(struct request *r);
void reports_funnel(struct request *r);
void reports_rejections(struct request *r);
void reports_follow_up(struct request *r);
void reports_sla(struct request *r);
void reports_trends(struct request *r);

/* The thread that folds the report deltas into the day and month sums every second. */
bool reports_compactor_start(const char *conninfo) __attribute__((warn_unused_result));
void reports_compactor_stop(void);

#endif
