/* Reports against a computation from scratch: every report's figures computed in SQL
 * straight from leads, campaign_touches, lead_stage_changes and feedback (never from the
 * report tables the triggers keep), and compared with what the report endpoints answer.
 * Used by the random reports test and by the merge test. */
#ifndef LEADLOOP_TESTS_SCRATCH_H
#define LEADLOOP_TESTS_SCRATCH_H
#include <libpq-fe.h>

/* The workspace to compare and how to ask for its reports. */
struct scratch_ws {
    const char *ws_id;               /* the workspace's id */
    const char *key;                 /* a key of it (any role reads reports) */
    const char *funnel_campaigns[3]; /* the funnel is also asked for each, one per model */
    const char *funnel_owner;        /* and for this owner (alone and with the others), or NULL */
};

/* Compares, for the window from..to (dates YYYY-MM-DD, either NULL for no bound), the
 * campaigns report (each attribution model), the sources report, the rejections by
 * campaign (each model), source and owner, the funnel (whole, for a campaign by each
 * model, for a source, and with funnel_owner for the owner alone and with the others) and
 * the follow-up report; fails the test at the first report that
 * differs, naming its first differing row. Returns how many reports it compared. */
int scratch_compare_all(PGconn *pg, const struct scratch_ws *w, const char *from, const char *to);

/* Compares, for the window from..to, the trends report (every figure by campaign, channel
 * and source, by week and by month, the models in turn) and the campaigns report by
 * channel (each model) with the same computed from scratch. Returns how many it compared. */
int scratch_compare_trends(PGconn *pg, const struct scratch_ws *w, const char *from,
                           const char *to);

#endif
