/* Reports (GET /v1/reports/...): campaigns (by attribution model), sources, funnel,
 * rejections and follow-up, as JSON or CSV. */
#ifndef LEADLOOP_REPORTS_H
#define LEADLOOP_REPORTS_H

struct request;

void reports_campaigns(struct request *r);
void reports_sources(struct request *r);
void reports_funnel(struct request *r);
void reports_rejections(struct request *r);
void reports_follow_up(struct request *r);

#endif
