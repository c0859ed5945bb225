/* Configuration: one table of settings read from the environment and overridden by
 * flags. --help is generated from the same table. */
#ifndef LEADLOOP_CONFIG_H
#define LEADLOOP_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct config {
    char listen[128]; /* host:port */
    char listen_host[64];
    unsigned short listen_port;
    char database_url[1024];
    long db_pool;
    char database_read_url[1024]; /* a streaming replica; empty: none */
    long read_pool;               /* connections to it */
    long read_max_lag_ms;         /* skipped while further behind than this */
    long db_acquire_timeout_ms;
    long key_connections;              /* pool connections one API key may hold (0: all but one) */
    long rate_per_s, rate_burst;       /* a key's default rate limit (0: none) */
    long ws_rate_per_s, ws_rate_burst; /* a workspace's rate limit (0: none) */
    long statement_timeout_ms;
    long list_timeout_ms; /* a list's query alone, when below statement_timeout_ms (0: none) */
    long max_body;
    long max_import; /* body limit of the CSV import route */
    long max_connections;
    long io_mode;     /* 0 events (fibers on event loops), 1 threads (a thread per connection) */
    long loops;       /* event-loop threads (0: one per core) */
    long db_pipeline; /* 0 on: point reads pipelined on their loop's connection; 1 off */
    long max_connections_per_ip;
    long connection_timeout_s;
    long header_timeout_s; /* a request head must arrive whole within this */
    long min_body_rate;    /* bytes/s a body must average (after header_timeout_s) */
    long max_pending;      /* connections whose first head is still arriving */
    long shutdown_timeout_s;
    long auth_cache_ttl_s;
    long bulk_slots;          /* bulk requests at once (0: one per core, at least 2) */
    long bulk_wait_ms;        /* a bulk request's wait for its turn */
    long sla_hours;           /* follow-up report: overdue after this */
    long session_ttl_h;       /* a sign-in lasts at most this long */
    long session_idle_h;      /* ... and ends after this long unused */
    long invitation_ttl_h;    /* an invitation link works this long */
    long cookie_secure;       /* 0 auto (X-Forwarded-Proto), 1 always, 2 never */
    char cors_origins[1024];  /* comma-separated exact origins */
    long log_level;           /* enum log_level */
    long log_format;          /* enum log_format */
    char migrations_dir[512]; /* empty: the embedded migrations */
    bool no_migrate;

    long webhook_senders, webhook_allow_private, webhook_timeout_ms, webhook_retry_min_ms,
        webhook_retry_max_ms, webhook_retry_for_s, webhook_lease_s;
    long changes_retention_days; /* GET /v1/changes keeps this many days */
    long changes_purge_interval_s;
    long audit_retention_days;   /* audit_log rows older than this are deleted */
    long audit_purge_interval_s; /* how often the audit janitor looks for them */
};

/* Fills cfg from defaults, then the environment, then the flags in argv. Flags the
 * table does not know are moved, in order, to rest (borrowed pointers into argv);
 * *nrest receives their count. On a bad value writes a message naming the variable and
 * the allowed range to err and returns false. */
bool config_load(struct config *cfg, int argc, char **argv, char **rest, int *nrest, char *err,
                 size_t errlen) __attribute__((warn_unused_result));

/* Writes the settings part of --help, generated from the table. */
void config_help(FILE *out);
/* The man page's SETTINGS section in roff, from the same table as config_help. */
void config_man(FILE *out);

#endif
