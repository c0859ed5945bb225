/* Configuration: one table of settings (environment variable, flag, type, default,
 * bounds, help). Defaults, then the environment, then flags; --help and the man page's
 * SETTINGS section (leadloopd --man) come from here. */
#include "leadloop/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/log.h"
#include "leadloop/util.h"

enum setting_type { T_STR, T_LONG, T_ENUM, T_LISTEN };

struct setting {
    const char *env;
    const char *flag;
    enum setting_type type;
    const char *def;
    long min, max;              /* T_LONG */
    const char *const *choices; /* T_ENUM: index is the stored value */
    size_t offset, size;        /* into struct config */
    const char *help;
};

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"json", "text", NULL};
static const char *const cookie_secure_modes[] = {"auto", "always", "never", NULL};
static const char *const io_modes[] = {"events", "threads", NULL};
static const char *const on_off[] = {"on", "off", NULL};

#define STR(field)                                                                                 \
    T_STR, NULL, 0, 0, NULL, offsetof(struct config, field), sizeof(((struct config *)0)->field)
#define LNG(def, lo, hi, field)                                                                    \
    T_LONG, def, lo, hi, NULL, offsetof(struct config, field), sizeof(long)
#define ENM(def, ch, field) T_ENUM, def, 0, 0, ch, offsetof(struct config, field), sizeof(long)

static const struct setting settings[] = {
    {"LEADLOOP_LISTEN", "--listen", T_LISTEN, "127.0.0.1:8080", 0, 0, NULL,
     offsetof(struct config, listen), sizeof(((struct config *)0)->listen),
     "address and port to serve on (host:port, IPv4)"},
    {"DATABASE_URL", "--database-url", STR(database_url),
     "PostgreSQL connection string or URI (libpq); empty: libpq's PG* environment"},
    {"LEADLOOP_DB_POOL", "--db-pool", LNG("8", 1, 500, db_pool),
     "PostgreSQL connections in the pool"},
    {"DATABASE_READ_URL", "--database-read-url", STR(database_read_url),
     "a streaming replica of DATABASE_URL (connection string or URI) that lists and reports "
     "may read from; empty: every read goes to DATABASE_URL"},
    {"LEADLOOP_READ_POOL", "--read-pool", LNG("4", 1, 100, read_pool),
     "connections to DATABASE_READ_URL; a read that finds none free goes to the primary"},
    {"LEADLOOP_READ_MAX_LAG_MS", "--read-max-lag-ms", LNG("3000", 100, 600000, read_max_lag_ms),
     "reads go to the replica only while it has everything the primary had this long ago; "
     "a replica further behind, or down, is skipped until it catches up"},
    {"LEADLOOP_DB_ACQUIRE_TIMEOUT_MS", "--db-acquire-timeout-ms",
     LNG("2000", 1, 600000, db_acquire_timeout_ms),
     "wait at most this long for a pool connection, then answer 503"},
    {"LEADLOOP_KEY_CONNECTIONS", "--key-connections", LNG("0", 0, 500, key_connections),
     "pool connections one API key may hold at once; its other requests wait for a turn "
     "(0: all but one)"},
    {"LEADLOOP_RATE_PER_S", "--rate-per-s", LNG("100", 0, 100000, rate_per_s),
     "requests per second an API key may make on average, unless an admin set its own "
     "(0: no limit)"},
    {"LEADLOOP_RATE_BURST", "--rate-burst", LNG("200", 0, 1000000, rate_burst),
     "requests an API key may make at once after a pause (0: as many as LEADLOOP_RATE_PER_S)"},
    {"LEADLOOP_WORKSPACE_RATE_PER_S", "--workspace-rate-per-s", LNG("0", 0, 1000000, ws_rate_per_s),
     "requests per second all the keys of a workspace may make together (0: no limit)"},
    {"LEADLOOP_WORKSPACE_RATE_BURST", "--workspace-rate-burst",
     LNG("0", 0, 10000000, ws_rate_burst),
     "requests a workspace's keys may make at once (0: as many as LEADLOOP_WORKSPACE_RATE_PER_S)"},
    {"LEADLOOP_BULK_SLOTS", "--bulk-slots", LNG("0", 0, 256, bulk_slots),
     "bulk requests (lead batches, CSV imports, touch batches) served at once; 0: one per "
     "CPU core, at least 2"},
    {"LEADLOOP_BULK_WAIT_MS", "--bulk-wait-ms", LNG("30000", 1, 600000, bulk_wait_ms),
     "a bulk request waits this long for its turn, before its body is read; then 503"},
    {"LEADLOOP_STATEMENT_TIMEOUT_MS", "--statement-timeout-ms",
     LNG("5000", 0, 3600000, statement_timeout_ms),
     "PostgreSQL statement_timeout per connection (0: none)"},
    {"LEADLOOP_LIST_TIMEOUT_MS", "--list-timeout-ms", LNG("2000", 0, 3600000, list_timeout_ms),
     "statement_timeout of a list's query (GET of a collection, q= searches included), set for "
     "that query alone, then 503; 0, or not below the statement timeout: the statement timeout"},
    {"LEADLOOP_MAX_BODY", "--max-body", LNG("1048576", 1024, 1073741824, max_body),
     "largest request body in bytes; larger gets 413"},
    {"LEADLOOP_MAX_IMPORT", "--max-import", LNG("67108864", 1024, 1073741824, max_import),
     "largest CSV import body in bytes (POST /v1/leads/import); larger gets 413"},
    {"LEADLOOP_IO", "--io", ENM("events", io_modes, io_mode),
     "how requests are carried: events (a few event-loop threads, each running many requests "
     "as fibers over non-blocking sockets) or threads (a thread per connection)"},
    {"LEADLOOP_LOOPS", "--loops", LNG("0", 0, 64, loops),
     "event-loop threads with LEADLOOP_IO=events (0: one per CPU core)"},
    {"LEADLOOP_DB_PIPELINE", "--db-pipeline", ENM("on", on_off, db_pipeline),
     "with LEADLOOP_IO=events, point reads (GET of one resource) send their statements on "
     "their loop's pipelined connection, one more connection per loop beside the pool (on), "
     "or each takes a pool connection (off)"},
    {"LEADLOOP_MAX_CONNECTIONS", "--max-connections", LNG("512", 1, 1048576, max_connections),
     "open HTTP connections at most (with LEADLOOP_IO=threads each has a thread)"},
    {"LEADLOOP_MAX_CONNECTIONS_PER_IP", "--max-connections-per-ip",
     LNG("256", 1, 65536, max_connections_per_ip), "open HTTP connections per client address"},
    {"LEADLOOP_CONNECTION_TIMEOUT_S", "--connection-timeout-s",
     LNG("30", 1, 3600, connection_timeout_s), "idle HTTP connections are closed after this"},
    {"LEADLOOP_HEADER_TIMEOUT_S", "--header-timeout-s", LNG("10", 1, 600, header_timeout_s),
     "a request's line and headers must arrive whole within this; then 408 or close"},
    {"LEADLOOP_MIN_BODY_RATE", "--min-body-rate", LNG("1024", 0, 1073741824, min_body_rate),
     "bytes per second a request body must average once the header timeout has passed; "
     "slower connections are closed (0: no minimum)"},
    {"LEADLOOP_MAX_PENDING", "--max-pending", LNG("4096", 16, 1048576, max_pending),
     "connections whose first request head is still arriving; when full, the one waiting "
     "longest is closed"},
    {"LEADLOOP_SHUTDOWN_TIMEOUT_S", "--shutdown-timeout-s", LNG("10", 0, 3600, shutdown_timeout_s),
     "on SIGTERM, wait this long for requests in flight; the process exits by then"},
    {"LEADLOOP_AUTH_CACHE_TTL_S", "--auth-cache-ttl-s", LNG("30", 0, 3600, auth_cache_ttl_s),
     "keep resolved API keys this long (revocations still apply at once; 0: no cache)"},
    {"LEADLOOP_SLA_HOURS", "--sla-hours", LNG("24", 1, 8760, sla_hours),
     "a lead handed to sales with no feedback after this many hours is overdue (reports)"},
    {"LEADLOOP_SESSION_TTL_H", "--session-ttl-h", LNG("168", 1, 8760, session_ttl_h),
     "a web app sign-in lasts at most this many hours"},
    {"LEADLOOP_SESSION_IDLE_H", "--session-idle-h", LNG("24", 1, 8760, session_idle_h),
     "a web app session unused for this many hours ends"},
    {"LEADLOOP_INVITATION_TTL_H", "--invitation-ttl-h", LNG("168", 1, 8760, invitation_ttl_h),
     "an invitation link can be used for this many hours"},
    {"LEADLOOP_AUDIT_RETENTION_DAYS", "--audit-retention-days",
     LNG("365", 1, 36500, audit_retention_days),
     "audit log rows older than this many days are deleted (GET /v1/audit)"},
    {"LEADLOOP_AUDIT_PURGE_INTERVAL_S", "--audit-purge-interval-s",
     LNG("600", 1, 86400, audit_purge_interval_s),
     "how often, in seconds, the audit log's old rows are looked for and deleted"},
    {"LEADLOOP_CHANGES_RETENTION_DAYS", "--changes-retention-days",
     LNG("30", 1, 36500, changes_retention_days),
     "the change feed keeps changes this many days; an older cursor answers 410"},
    {"LEADLOOP_CHANGES_PURGE_INTERVAL_S", "--changes-purge-interval-s",
     LNG("600", 1, 86400, changes_purge_interval_s),
     "how often, in seconds, the change feed's expired changes are looked for and deleted"},
    {"LEADLOOP_WEBHOOK_SENDERS", "--webhook-senders", LNG("2", 0, 16, webhook_senders),
     "threads that deliver webhooks (0: this daemon delivers none; others on the database do)"},
    {"LEADLOOP_WEBHOOK_ALLOW_PRIVATE", "--webhook-allow-private",
     LNG("0", 0, 1, webhook_allow_private),
     "1: webhook URLs may reach loopback, private and link-local addresses (tests, internal "
     "receivers); 0: refused when registered and when delivered"},
    {"LEADLOOP_WEBHOOK_TIMEOUT_MS", "--webhook-timeout-ms",
     LNG("10000", 100, 60000, webhook_timeout_ms),
     "one delivery attempt, connecting included, gives up after this"},
    {"LEADLOOP_WEBHOOK_RETRY_MIN_MS", "--webhook-retry-min-ms",
     LNG("30000", 10, 86400000, webhook_retry_min_ms),
     "the first retry of a failed delivery comes after this, doubling each time"},
    {"LEADLOOP_WEBHOOK_RETRY_MAX_MS", "--webhook-retry-max-ms",
     LNG("3600000", 10, 86400000, webhook_retry_max_ms), "the longest wait between two retries"},
    {"LEADLOOP_WEBHOOK_RETRY_FOR_S", "--webhook-retry-for-s",
     LNG("259200", 1, 2592000, webhook_retry_for_s),
     "a delivery is retried this long, then failed; an endpoint whose deliveries all failed "
     "this long is turned off"},
    {"LEADLOOP_WEBHOOK_LEASE_S", "--webhook-lease-s", LNG("60", 1, 3600, webhook_lease_s),
     "an attempt under way belongs to its daemon this long; if that daemon dies, another "
     "retries it then"},
    {"LEADLOOP_CORS_ORIGINS", "--cors-origins", STR(cors_origins),
     "comma-separated origins allowed by CORS (exact match, e.g. https://app.example.com)"},
    {"LEADLOOP_COOKIE_SECURE", "--cookie-secure", ENM("auto", cookie_secure_modes, cookie_secure),
     "mark the session cookie Secure: auto (when X-Forwarded-Proto or Forwarded says https), "
     "always (behind TLS), never"},
    {"LEADLOOP_LOG_LEVEL", "--log-level", ENM("info", log_levels, log_level), "least level logged"},
    {"LEADLOOP_LOG_FORMAT", "--log-format", ENM("json", log_formats, log_format),
     "log lines as JSON objects or text"},
    {"LEADLOOP_MIGRATIONS_DIR", "--migrations-dir", STR(migrations_dir),
     "read migrations from this directory instead of the embedded ones"},
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static bool parse_listen(struct config *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    long port;
    size_t hostlen;
    if (!colon || colon == v)
        return false;
    hostlen = (size_t)(colon - v);
    if (hostlen >= sizeof cfg->listen_host)
        return false;
    if (!util_parse_long(colon + 1, 1, 65535, &port))
        return false;
    memcpy(cfg->listen_host, v, hostlen);
    cfg->listen_host[hostlen] = '\0';
    cfg->listen_port = (unsigned short)port;
    return true;
}

static bool apply(struct config *cfg, const struct setting *s, const char *v, const char *source,
                  char *err, size_t errlen)
{
    char *field = (char *)cfg + s->offset;
    switch (s->type) {
    case T_LISTEN:
        if (strlen(v) >= s->size || !parse_listen(cfg, v)) {
            snprintf(err, errlen, "%s %s: '%s' is not HOST:PORT with a port in 1..65535", source,
                     s->env, v);
            return false;
        }
        __attribute__((fallthrough)); /* and is kept as text too */
    case T_STR:
        if (strlen(v) >= s->size) {
            snprintf(err, errlen, "%s %s: longer than %zu bytes", source, s->env, s->size - 1);
            return false;
        }
        strcpy(field, v);
        return true;
    case T_LONG:
        if (!util_parse_long(v, s->min, s->max, (long *)(void *)field)) {
            snprintf(err, errlen, "%s %s: '%s' is not an integer in %ld..%ld", source, s->env, v,
                     s->min, s->max);
            return false;
        }
        return true;
    case T_ENUM:
        for (long i = 0; s->choices[i]; i++) {
            if (!strcmp(v, s->choices[i])) {
                *(long *)(void *)field = i;
                return true;
            }
        }
        {
            char list[128] = "";
            for (int i = 0; s->choices[i]; i++) {
                if (i)
                    strcat(list, ", ");
                strcat(list, s->choices[i]);
            }
            snprintf(err, errlen, "%s %s: '%s' is not one of %s", source, s->env, v, list);
        }
        return false;
    }
    return false;
}

/* A flag overrides its variable, so a bad value in the environment does not matter then. */
static bool flag_given(const struct setting *s, int argc, char **argv)
{
    size_t fl = strlen(s->flag);
    for (int a = 0; a < argc; a++)
        if (!strncmp(argv[a], s->flag, fl) && (argv[a][fl] == '\0' || argv[a][fl] == '='))
            return true;
    return false;
}

bool config_load(struct config *cfg, int argc, char **argv, char **rest, int *nrest, char *err,
                 size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    *nrest = 0;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (s->def && !apply(cfg, s, s->def, "default", err, errlen))
            return false;
    }
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        const char *v = getenv(s->env);
        if (v && !flag_given(s, argc, argv) &&
            !apply(cfg, s, v, "environment variable", err, errlen))
            return false;
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        const struct setting *found = NULL;
        const char *value = NULL;
        if (!strcmp(arg, "--no-migrate")) {
            cfg->no_migrate = true;
            continue;
        }
        for (size_t i = 0; i < NSETTINGS && !found; i++) {
            size_t fl = strlen(settings[i].flag);
            if (!strncmp(arg, settings[i].flag, fl) && (arg[fl] == '\0' || arg[fl] == '=')) {
                found = &settings[i];
                value = arg[fl] == '=' ? arg + fl + 1 : NULL;
            }
        }
        if (!found) {
            rest[(*nrest)++] = argv[a];
            continue;
        }
        if (!value) {
            if (a + 1 >= argc) {
                snprintf(err, errlen, "flag %s (%s) needs a value", found->flag, found->env);
                return false;
            }
            value = argv[++a];
        }
        if (!apply(cfg, found, value, "flag for", err, errlen))
            return false;
    }
    return true;
}

void config_help(FILE *out)
{
    fprintf(out, "Settings (environment variable, or flag; flags win):\n");
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        char range[160] = "";
        if (s->type == T_LONG) {
            snprintf(range, sizeof range, " [%ld..%ld]", s->min, s->max);
        } else if (s->type == T_ENUM) {
            strcpy(range, " [");
            for (int k = 0; s->choices[k]; k++) {
                if (k)
                    strcat(range, "|");
                strcat(range, s->choices[k]);
            }
            strcat(range, "]");
        }
        fprintf(out, "  %-32s %s VALUE\n      %s%s%s%s%s\n", s->env, s->flag, s->help, range,
                s->def ? " (default " : "", s->def ? s->def : "", s->def ? ")" : "");
    }
    fprintf(out, "  %-32s %s\n      %s\n", "", "--no-migrate",
            "serve: do not apply migrations on start");
}

/* Writes text for roff: a backslash or hyphen-minus escaped (a plain "-" may be typeset as a
 * hyphen, which breaks copying a flag), and a line that would start with a control
 * character guarded with \&. */
static void roff_text(FILE *out, const char *text)
{
    if (*text == '.' || *text == '\'')
        fputs("\\&", out);
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-')
            fputs("\\-", out);
        else
            fputc(*p, out);
    }
}

void config_man(FILE *out)
{
    fputs(".SH SETTINGS\n"
          "Each setting is an environment variable and a flag of the same meaning; a flag wins "
          "over its variable. A bad value stops the start with a message naming the variable "
          "and the allowed range.\n",
          out);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        fputs(".TP\n.BR ", out);
        roff_text(out, s->env);
        fputs(" \", \" ", out);
        roff_text(out, s->flag);
        fputs(" \" \" \\fIVALUE\\fR\n", out);
        roff_text(out, s->help);
        fputs(".", out);
        if (s->type == T_LONG) {
            fprintf(out, " From %ld to %ld", s->min, s->max);
        } else if (s->type == T_ENUM) {
            fputs(" One of ", out);
            for (int k = 0; s->choices[k]; k++)
                fprintf(out, "%s\\fB%s\\fR", k ? ", " : "", s->choices[k]);
        }
        if (s->def) {
            fputs(s->type == T_LONG || s->type == T_ENUM ? "; default " : " Default ", out);
            fputs("\\fB", out);
            roff_text(out, s->def);
            fputs("\\fR.\n", out);
        } else {
            fputs(s->type == T_LONG || s->type == T_ENUM ? ".\n" : "\n", out);
        }
    }
    fputs(".TP\n.B \\-\\-no\\-migrate\n"
          "serve: do not apply migrations on start.\n",
          out);
}
