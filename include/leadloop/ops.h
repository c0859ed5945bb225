/* Operational routes: liveness, readiness, metrics and the API contract. */
#ifndef LEADLOOP_OPS_H
#define LEADLOOP_OPS_H
struct request;
void ops_healthz(struct request *r);
void ops_readyz(struct request *r);
void ops_metrics(struct request *r);
void ops_openapi(struct request *r);
#endif
