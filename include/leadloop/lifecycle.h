/* The one lifecycle both teams share: stages, the moves allowed between them, the
 * transitions that record every move, and each lead's history and timeline. */
#ifndef LEADLOOP_LIFECYCLE_H
#define LEADLOOP_LIFECYCLE_H
#include <stdbool.h>
#include <stddef.h>

struct request;

/* Writes into out (room for 8) the stages a lead in `from` may move to; returns how many
 * (0 for a final or unknown stage). */
size_t lifecycle_targets(const char *from, const char *out[8]);
bool lifecycle_allowed(const char *from, const char *to);
bool lifecycle_is_stage(const char *s);

void lifecycle_transition(struct request *r);
void lifecycle_history(struct request *r);
void lifecycle_timeline(struct request *r);

#endif
