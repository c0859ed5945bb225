/* Prometheus metrics with relaxed atomic counters: requests by route and status, a
 * latency histogram per route, pool gauges. */
#include "leadloop/metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/bulk_slots.h"
#include "leadloop/db.h"
#include "leadloop/gate.h"
#include "leadloop/jw.h"
#include "leadloop/replica.h"
#include "leadloop/router.h"

#define MAX_ROUTES 64
static const int statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409,
                               410, 412, 413, 415, 422, 429, 500, 503, 0 /* other */};
#define NSTATUS (sizeof statuses / sizeof statuses[0])
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

/* Row MAX_ROUTES is for requests that matched no route. */
static atomic_ulong counts[MAX_ROUTES + 1][NSTATUS];
static atomic_ulong hist[MAX_ROUTES + 1][NBUCKETS + 1]; /* last: +Inf */
static atomic_ullong sum_ns[MAX_ROUTES + 1];

void metrics_request(int route_idx, int status, uint64_t ns)
{
    size_t r = route_idx < 0 || route_idx >= MAX_ROUTES ? MAX_ROUTES : (size_t)route_idx;
    size_t s = NSTATUS - 1, b = NBUCKETS;
    double secs = (double)ns / 1e9;
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (statuses[i] == status)
            s = i;
    for (size_t i = 0; i < NBUCKETS; i++) {
        if (secs <= buckets[i]) {
            b = i;
            break;
        }
    }
    atomic_fetch_add_explicit(&counts[r][s], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hist[r][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sum_ns[r], ns, memory_order_relaxed);
}

static const struct route_table *route_table;

void metrics_routes(const struct route_table *t)
{
    route_table = t;
}

static void route_labels(size_t r, const char **route, const char **method)
{
    const struct route *rt = route_table ? router_at(route_table, r) : NULL;
    *route = rt ? rt->pattern : "unmatched";
    *method = rt ? router_method_name(rt->method) : "";
}

char *metrics_render(size_t *len)
{
    struct jw b;
    size_t count = route_table ? route_table->n : 0,
           nroutes = count < MAX_ROUTES ? count : MAX_ROUTES;
    struct db_stats st;
    long slots, bulk_in_use, bulk_waiting;
    struct gate_stats gs;
    struct replica_stats rs;
    jw_init(&b, 16384);
    jw_printf(&b,
              "# HELP leadloop_http_requests_total HTTP requests answered, by route and status.\n"
              "# TYPE leadloop_http_requests_total counter\n");
    for (size_t r = 0; r <= MAX_ROUTES; r++) {
        const char *route, *method;
        if (r >= nroutes && r != MAX_ROUTES)
            continue;
        route_labels(r, &route, &method);
        for (size_t s = 0; s < NSTATUS; s++) {
            unsigned long v = atomic_load_explicit(&counts[r][s], memory_order_relaxed);
            if (v == 0)
                continue;
            char status[8];
            if (statuses[s])
                snprintf(status, sizeof status, "%d", statuses[s]);
            else
                strcpy(status, "other");
            jw_printf(
                &b, "leadloop_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %lu\n",
                route, method, status, v);
        }
    }
    jw_printf(&b, "# HELP leadloop_http_request_duration_seconds Time from first byte to answer.\n"
                  "# TYPE leadloop_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= MAX_ROUTES; r++) {
        const char *route, *method;
        unsigned long cum = 0;
        if (r >= nroutes && r != MAX_ROUTES)
            continue;
        route_labels(r, &route, &method);
        for (size_t i = 0; i <= NBUCKETS; i++)
            cum += atomic_load_explicit(&hist[r][i], memory_order_relaxed);
        if (cum == 0)
            continue;
        cum = 0;
        for (size_t i = 0; i <= NBUCKETS; i++) {
            cum += atomic_load_explicit(&hist[r][i], memory_order_relaxed);
            if (i < NBUCKETS)
                jw_printf(
                    &b,
                    "leadloop_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                    "le=\"%g\"} %lu\n",
                    route, method, buckets[i], cum);
            else
                jw_printf(
                    &b,
                    "leadloop_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                    "le=\"+Inf\"} %lu\n",
                    route, method, cum);
        }
        jw_printf(
            &b, "leadloop_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n",
            route, method, (double)atomic_load_explicit(&sum_ns[r], memory_order_relaxed) / 1e9);
        jw_printf(&b,
                  "leadloop_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %lu\n",
                  route, method, cum);
    }
    db_stats(&st);
    jw_printf(
        &b,
        "# HELP leadloop_db_pool_size Connections the pool may hold.\n"
        "# TYPE leadloop_db_pool_size gauge\nleadloop_db_pool_size %ld\n"
        "# HELP leadloop_db_pool_in_use Connections lent to requests now.\n"
        "# TYPE leadloop_db_pool_in_use gauge\nleadloop_db_pool_in_use %ld\n"
        "# HELP leadloop_db_pool_waiting Requests waiting for a connection now.\n"
        "# TYPE leadloop_db_pool_waiting gauge\nleadloop_db_pool_waiting %ld\n"
        "# HELP leadloop_db_acquire_timeouts_total Requests answered 503 for want of a "
        "connection.\n"
        "# TYPE leadloop_db_acquire_timeouts_total counter\nleadloop_db_acquire_timeouts_total "
        "%lu\n"
        "# HELP leadloop_db_errors_total Failed connections and statements (server side).\n"
        "# TYPE leadloop_db_errors_total counter\nleadloop_db_errors_total %lu\n"
        "# HELP leadloop_db_statements_late_total Statements past their deadline "
        "(LEADLOOP_STATEMENT_TIMEOUT_MS), then cancelled.\n"
        "# TYPE leadloop_db_statements_late_total counter\nleadloop_db_statements_late_total "
        "%lu\n"
        "# HELP leadloop_db_connections_closed_total Connections closed because PostgreSQL "
        "did not answer in time.\n"
        "# TYPE leadloop_db_connections_closed_total counter\n"
        "leadloop_db_connections_closed_total %lu\n"
        "# HELP leadloop_db_retries_total Statements and transactions run again after a "
        "serialization failure or a deadlock.\n"
        "# TYPE leadloop_db_retries_total counter\nleadloop_db_retries_total %lu\n"
        "# HELP leadloop_db_pipelined_total Statements sent on an event loop's pipelined "
        "connection (point reads, LEADLOOP_DB_PIPELINE).\n"
        "# TYPE leadloop_db_pipelined_total counter\nleadloop_db_pipelined_total %lu\n",
        st.size, st.in_use, st.waiting, st.acquire_timeouts, st.errors, st.statements_late,
        st.connections_closed, st.retries, st.pipelined);
    replica_stats(&rs);
    if (rs.on)
        jw_printf(
            &b,
            "# HELP leadloop_replica_up Whether the read replica (DATABASE_READ_URL) answered its "
            "last probe as a standby.\n"
            "# TYPE leadloop_replica_up gauge\nleadloop_replica_up %d\n"
            "# HELP leadloop_replica_lag_seconds How long ago the primary had nothing the replica "
            "has not replayed (-1: never measured).\n"
            "# TYPE leadloop_replica_lag_seconds gauge\nleadloop_replica_lag_seconds %.3f\n"
            "# HELP leadloop_replica_reads_total Lists and reports sent to the read replica.\n"
            "# TYPE leadloop_replica_reads_total counter\nleadloop_replica_reads_total %lu\n"
            "# HELP leadloop_replica_skipped_total Lists and reports sent to the primary instead, "
            "by reason.\n"
            "# TYPE leadloop_replica_skipped_total counter\n"
            "leadloop_replica_skipped_total{reason=\"lag\"} %lu\n"
            "leadloop_replica_skipped_total{reason=\"down\"} %lu\n"
            "leadloop_replica_skipped_total{reason=\"own_writes\"} %lu\n"
            "leadloop_replica_skipped_total{reason=\"busy\"} %lu\n"
            "# HELP leadloop_replica_fallbacks_total Reads the replica failed mid-request "
            "(connection lost, shutting down, recovery conflict) that then ran on the primary.\n"
            "# TYPE leadloop_replica_fallbacks_total counter\nleadloop_replica_fallbacks_total "
            "%lu\n",
            rs.up ? 1 : 0, rs.lag_s, rs.served, rs.lagging, rs.down, rs.own_writes, rs.busy,
            st.replica_fallbacks);
    bulk_slots_stats(&slots, &bulk_in_use, &bulk_waiting);
    jw_printf(&b,
              "# HELP leadloop_bulk_slots Bulk requests served at once (LEADLOOP_BULK_SLOTS).\n"
              "# TYPE leadloop_bulk_slots gauge\nleadloop_bulk_slots %ld\n"
              "# HELP leadloop_bulk_in_use Bulk slots taken now.\n"
              "# TYPE leadloop_bulk_in_use gauge\nleadloop_bulk_in_use %ld\n"
              "# HELP leadloop_bulk_waiting Bulk requests waiting for a slot now.\n"
              "# TYPE leadloop_bulk_waiting gauge\nleadloop_bulk_waiting %ld\n",
              slots, bulk_in_use, bulk_waiting);
    gate_stats(&gs);
    jw_printf(
        &b,
        "# HELP leadloop_gate_pending Connections whose first request head is still arriving.\n"
        "# TYPE leadloop_gate_pending gauge\nleadloop_gate_pending %ld\n"
        "# HELP leadloop_connections Connections being served now.\n"
        "# TYPE leadloop_connections gauge\nleadloop_connections %ld\n"
        "# HELP leadloop_gate_closed_total Connections refused or closed by the gate, by reason.\n"
        "# TYPE leadloop_gate_closed_total counter\n"
        "leadloop_gate_closed_total{reason=\"bad_head\"} %llu\n"
        "leadloop_gate_closed_total{reason=\"head_timeout\"} %llu\n"
        "leadloop_gate_closed_total{reason=\"made_room\"} %llu\n"
        "leadloop_gate_closed_total{reason=\"slow_body\"} %llu\n"
        "leadloop_gate_closed_total{reason=\"libmicrohttpd_error\"} %llu\n",
        gs.pending, gs.watched, (unsigned long long)gs.refused, (unsigned long long)gs.timed_out,
        (unsigned long long)gs.evicted, (unsigned long long)gs.too_slow,
        (unsigned long long)gs.intercepted);
    return jw_take(&b, len);
}
