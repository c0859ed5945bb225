/* Prometheus metrics: request counts by route and status, a latency histogram per
 * route, and the pool's gauges. Lock-free counters; rendering reads them relaxed. */
#ifndef LEADLOOP_METRICS_H
#define LEADLOOP_METRICS_H
#include <stddef.h>
#include <stdint.h>

struct route_table;

/* The routes the counters are kept for, by index (the daemon's table). Before the first
 * request; without it every request counts as unmatched. */
void metrics_routes(const struct route_table *t);
/* route_idx is the route table index, or -1 for a request no route matched. */
void metrics_request(int route_idx, int status, uint64_t duration_ns);
/* The exposition text; new, caller frees. NULL when out of memory. */
char *metrics_render(size_t *len);

#endif
