/* The value lists of the API (see vocab.h): one C home for each, used by the resources
 * that validate them and compared with the schema and openapi.yaml by the contract test. */
#include "leadloop/vocab.h"

#include <stddef.h>

const char *const vocab_lead_sources[] = {"web",     "event",  "referral", "paid", "outbound",
                                          "partner", "import", "other",    NULL};
const char *const vocab_stages[] = {"new",         "mql",      "sales_accepted", "sales_qualified",
                                    "opportunity", "customer", "recycled",       "disqualified",
                                    NULL};
const char *const vocab_channels[] = {"email",       "webinar", "event",       "paid_search",
                                      "paid_social", "content", "direct_mail", "referral",
                                      "other",       NULL};
const char *const vocab_campaign_statuses[] = {"planned",   "active",   "paused",
                                               "completed", "archived", NULL};
const char *const vocab_touch_kinds[] = {
    "sent", "opened", "clicked", "responded", "registered", "attended", "visited", "created", NULL};
const char *const vocab_feedback_kinds[] = {"accepted",       "rejected",   "contacted",
                                            "meeting_booked", "won",        "lost",
                                            "recycled",       "correction", NULL};
const char *const vocab_interaction_kinds[] = {"call",    "email", "meeting", "note",
                                               "message", "form",  "ticket",  NULL};
const char *const vocab_interaction_directions[] = {"inbound", "outbound", NULL};
const char *const vocab_interaction_outcomes[] = {
    "connected", "no_answer", "left_message", "busy", "wrong_number", "sent",
    "replied",   "bounced",   "scheduled",    "held", "no_show",      "cancelled",
    "opened",    "resolved",  "other",        NULL};
const char *const vocab_reason_kinds[] = {"rejected", "lost", "recycled", NULL};
const char *const vocab_roles[] = {"admin", "marketing", "sales", "readonly", NULL};
const char *const vocab_teams[] = {"marketing", "sales", NULL};
const char *const vocab_audit_actors[] = {"api_key", "user", "cli", "sql", NULL};
const char *const vocab_delivery_statuses[] = {"pending", "delivered", "failed", NULL};
const char *const vocab_visit_fields[] = {"utm_source",  "utm_medium",   "utm_campaign", "utm_term",
                                          "utm_content", "landing_page", "referrer",     NULL};
