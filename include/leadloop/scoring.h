/* Lead scoring (issue 17): a workspace's rule-set draft, its published versions, the
 * rescore a publish starts (a background thread, resumable) and a lead's scores with their
 * ledger. The rules, their check and the scoring itself are SQL (sql/functions/78_scoring.sql). */
#ifndef LEADLOOP_SCORING_H
#define LEADLOOP_SCORING_H
#include <stdbool.h>

struct request;

void scoring_get(struct request *r);
void scoring_draft_get(struct request *r);
void scoring_draft_put(struct request *r);
void scoring_publish(struct request *r);
void scoring_version_get(struct request *r);
void scoring_lead_get(struct request *r);
void scoring_report(struct request *r);

/* The rescorer: a thread that runs the steps of due rescores (ll_score_step) on its own
 * connection. Stop is safe when start did not run or failed. */
bool scoring_rescorer_start(const char *conninfo) __attribute__((warn_unused_result));
void scoring_rescorer_stop(void);
#endif
