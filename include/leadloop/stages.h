/* The lifecycle's stages and the rules between them, in one place: which stages exist,
 * which are open (a lead sales can still work), which moves a transition may make, and
 * where each kind of feedback takes a lead. Pure functions over stage names; the SQL CHECK
 * on leads.stage (sql/) must list the same names. */
#ifndef LEADLOOP_STAGES_H
#define LEADLOOP_STAGES_H
#include <stdbool.h>
#include <stddef.h>

/* Every stage is vocab_stages (vocab.h): the funnel in order (new, mql, sales_accepted,
 * sales_qualified, opportunity, customer), then recycled and disqualified. */

/* True when s (may be NULL) names a stage. */
bool stages_is_stage(const char *s);
/* True for the open stages: the funnel before customer (new .. opportunity). */
bool stages_is_open(const char *s);
/* Writes into out (room for 8) the stages a lead in `from` may move to, borrowed static
 * names; returns how many (0 for an unknown stage). An open stage moves forward along the
 * funnel or out to recycled or disqualified; recycled goes back to mql; customer starts a
 * new deal as opportunity; disqualified goes back to marketing as recycled. No stage is
 * final. */
size_t stages_targets(const char *from, const char *out[8]);
bool stages_allowed(const char *from, const char *to);

/* Where feedback of kind takes a lead in stage: the stage after (static), or NULL when
 * the stage does not take that kind, with why (whylen bytes) saying so. accepted and
 * rejected are the verdict on a lead in new or mql (to sales_accepted, or to disqualified
 * when disqualifies else recycled); won and lost close a lead sales accepted (customer,
 * or as rejected; lost back to customer when was_customer: the lead was a customer
 * before this deal); contacted and meeting_booked keep an open stage, recycled sends it
 * back as a rejection does; a correction (of an amount) keeps any stage. */
const char *stages_after_feedback(const char *kind, const char *stage, bool disqualifies,
                                  bool was_customer, char *why, size_t whylen);

#endif
