/* The caller's workspace: its name, reporting currency, time zone and follow-up SLA
 * (GET and PATCH /v1/workspace). */
#ifndef LEADLOOP_WORKSPACE_H
#define LEADLOOP_WORKSPACE_H
#include <stdbool.h>

struct request;

void workspace_get(struct request *r);
void workspace_update(struct request *r);

/* Business hours' parts, shared with the unit tests: a local time "HH:MM" (00:00 to 23:59,
 * or 24:00 when end_of_day) and a day name ("mon" .. "sun") as its ISO number (1..7; 0
 * when unknown). */
bool workspace_time_ok(const char *s, bool end_of_day);
int workspace_day_number(const char *name);
#endif
