/* Merge: a duplicate lead folded into the lead that stays (the survivor), with everything
 * recorded about it. */
#ifndef LEADLOOP_MERGE_H
#define LEADLOOP_MERGE_H

struct request;

/* POST /v1/leads/{id}/merge {"from": "<duplicate id>"}: the lead of the path survives. */
void merge_leads(struct request *r);

#endif
