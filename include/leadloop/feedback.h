/* Sales feedback on leads (append-only) and the reasons sales gives: the raw material of
 * the closed-loop reports. */
#ifndef LEADLOOP_FEEDBACK_H
#define LEADLOOP_FEEDBACK_H
#include <jansson.h>
#include <libpq-fe.h>

#include "leadloop/db.h"

struct request;

/* The columns feedback is read with (from feedback AS f), in the order feedback_json
 * expects. */
#define FEEDBACK_COLUMNS                                                                           \
    "f.id, f.lead_id, f.kind, f.reason, f.rating, f.amount, f.currency, f.note, "                  \
    "f.author_user_id, f.author_key_id, " DB_TS("f.occurred_at") ", " DB_TS(                       \
        "f.created_at") ", f.stage_before, f.stage_after, f.corrects"
/* The columns a reason is read with, in the order reasons_json expects. */
#define REASON_COLUMNS                                                                             \
    "code, label, to_json(kinds)::text, disqualifies, recycle_after_days, active, "                \
    "version, " DB_TS("created_at") ", " DB_TS("updated_at")
/* The same in a RETURNING clause (db.h DB_TS_RET). */
#define REASON_RETURNING                                                                           \
    "code, label, " DB_TEXTS_RET("kinds") ", disqualifies, recycle_after_days, active, "           \
                                          "version, " DB_TS_RET("created_at") ", " DB_TS_RET(      \
                                              "updated_at")

/* The one representation of feedback and of a reason (new references). */
json_t *feedback_json(const PGresult *res, int row);
json_t *reasons_json(const PGresult *res, int row);
void feedback_create(struct request *r);
void feedback_list_lead(struct request *r);
void feedback_list(struct request *r);
void reasons_list(struct request *r);
void reasons_create(struct request *r);
void reasons_update(struct request *r);
#endif
