/* The value lists of the API, once for the daemon: what a lead's source, stage, a
 * campaign's channel and status, a touch's kind, a feedback's kind, a reason's kinds, a
 * key's role and a user's team may be. The migrations' CHECK constraints and the enums of
 * openapi.yaml state them too; tests/api/test_contract.c fails when any of them differ.
 * Each list is NULL-terminated, static and borrowed. */
#ifndef LEADLOOP_VOCAB_H
#define LEADLOOP_VOCAB_H

extern const char *const vocab_lead_sources[];
/* In funnel order, then the two stages off the funnel (recycled, disqualified). */
extern const char *const vocab_stages[];
extern const char *const vocab_channels[];
extern const char *const vocab_campaign_statuses[];
extern const char *const vocab_touch_kinds[];
extern const char *const vocab_feedback_kinds[];
/* What an interaction logged on a lead may be, which way it went, and what came of it. */
extern const char *const vocab_interaction_kinds[];
extern const char *const vocab_interaction_directions[];
extern const char *const vocab_interaction_outcomes[];
/* The feedback kinds that give a reason, and that a feedback reason may be for. */
extern const char *const vocab_reason_kinds[];
/* In the order of enum role's bits (auth.h): admin, marketing, sales, readonly. */
extern const char *const vocab_roles[];
extern const char *const vocab_teams[];
extern const char *const vocab_audit_actors[];
extern const char *const vocab_delivery_statuses[];
/* The fields of a lead's visit, in the order of enum lead_visit (leads.h): utm_source,
 * utm_medium, utm_campaign, utm_term, utm_content, landing_page, referrer. */
extern const char *const vocab_visit_fields[];

#endif
