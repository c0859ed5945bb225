/* Sales feedback on leads (append-only), the reasons sales gives, and the workspace's
 * reporting currency: the raw material of the closed-loop reports. */
#ifndef LEADLOOP_FEEDBACK_H
#define LEADLOOP_FEEDBACK_H
struct request;
void feedback_create(struct request *r);
void feedback_list_lead(struct request *r);
void feedback_list(struct request *r);
void reasons_list(struct request *r);
void reasons_create(struct request *r);
void reasons_update(struct request *r);
void workspace_get(struct request *r);
void workspace_update(struct request *r);
#endif
