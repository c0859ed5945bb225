/* GET /v1/audit: a workspace's audit log (admin keys only), newest first by default, with
 * filters and keyset paging. */
#ifndef LEADLOOP_AUDIT_LOG_H
#define LEADLOOP_AUDIT_LOG_H

struct request;

void audit_log_list(struct request *r);

#endif
