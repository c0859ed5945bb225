/* Campaigns: what marketing runs (channel, budget, cost, dates), the source of leads. */
#ifndef LEADLOOP_CAMPAIGNS_H
#define LEADLOOP_CAMPAIGNS_H
struct request;
void campaigns_create(struct request *r);
void campaigns_list(struct request *r);
void campaigns_get(struct request *r);
void campaigns_update(struct request *r);
void campaigns_archive(struct request *r);
#endif
