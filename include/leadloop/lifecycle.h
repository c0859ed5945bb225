/* The one lifecycle both teams share: the transitions that record every move (the stages
 * and the moves allowed between them are stages.h's), and each lead's history and
 * timeline. */
#ifndef LEADLOOP_LIFECYCLE_H
#define LEADLOOP_LIFECYCLE_H
#include <stdbool.h>
#include <stddef.h>

struct request;

void lifecycle_transition(struct request *r);
void lifecycle_history(struct request *r);
void lifecycle_history_import(struct request *r);
void lifecycle_timeline(struct request *r);

#endif
