/* leadloopd: the commands (serve, migrate, workspace, keys), signals and shutdown. */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leadloop/audit.h"
#include "leadloop/auth.h"
#include "leadloop/config.h"
#include "leadloop/db.h"
#include "leadloop/http.h"
#include "leadloop/idempotency.h"
#include "leadloop/keycache.h"
#include "leadloop/changes.h"
#include "leadloop/listen.h"
#include "leadloop/webhook_client.h"
#include "leadloop/webhook_delivery.h"
#include "leadloop/webhooks.h"
#include "leadloop/invitations.h"
#include "leadloop/jsonv.h"
#include "leadloop/log.h"
#include "leadloop/password.h"
#include "leadloop/session.h"
#include "leadloop/reports.h"
#include "leadloop/scoring.h"
#include "leadloop/routing.h"
#include "leadloop/migrate.h"
#include "leadloop/replica.h"

#ifndef LEADLOOP_VERSION
#define LEADLOOP_VERSION "dev"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "leadloopd %s: the system of record between marketing and sales.\n\n"
            "Usage:\n"
            "  leadloopd serve [--no-migrate] [settings]   serve the HTTP API\n"
            "  leadloopd migrate [settings]                apply pending schema migrations\n"
            "  leadloopd workspace create SLUG [--name NAME]\n"
            "  leadloopd keys create --workspace SLUG --role ROLE --name NAME [--user ID]\n"
            "                        [--import]            prints the new key once\n"
            "  leadloopd keys list [--workspace SLUG]\n"
            "  leadloopd keys revoke ID\n"
            "  leadloopd invite --workspace SLUG --email EMAIL --name NAME --role ROLE\n"
            "                   [--team TEAM] [--url BASE]\n"
            "                                              prints a one-time link to the web app\n"
            "  leadloopd --help | --version | --man\n\n"
            "Roles: admin, marketing, sales, readonly.\n\n",
            LEADLOOP_VERSION);
    config_help(out);
}

/* The manual page, leadloopd(8), in roff: the commands here, the settings from the table
 * behind --help (config_man), so that the two cannot list different settings. `make man`
 * writes it from the built binary. */
static void man_page(FILE *out)
{
    fprintf(out,
            ".TH LEADLOOPD 8 \"\" \"leadloopd %s\" \"Leadloop\"\n"
            ".SH NAME\n"
            "leadloopd \\- the system of record between marketing and sales, as an HTTP API\n"
            ".SH SYNOPSIS\n"
            ".B leadloopd serve\n[\\fB\\-\\-no\\-migrate\\fR] [\\fIsettings\\fR]\n.br\n"
            ".B leadloopd migrate\n[\\fIsettings\\fR]\n.br\n"
            ".B leadloopd workspace create\n\\fISLUG\\fR [\\fB\\-\\-name\\fR \\fINAME\\fR]\n.br\n"
            ".B leadloopd keys create \\-\\-workspace\n\\fISLUG\\fR \\fB\\-\\-role\\fR "
            "\\fIROLE\\fR \\fB\\-\\-name\\fR \\fINAME\\fR [\\fB\\-\\-user\\fR \\fIID\\fR] "
            "[\\fB\\-\\-import\\fR]\n.br\n"
            ".B leadloopd keys list\n[\\fB\\-\\-workspace\\fR \\fISLUG\\fR]\n.br\n"
            ".B leadloopd keys revoke\n\\fIID\\fR|\\fIPREFIX\\fR\n.br\n"
            ".B leadloopd invite \\-\\-workspace\n\\fISLUG\\fR \\fB\\-\\-email\\fR \\fIEMAIL\\fR "
            "\\fB\\-\\-name\\fR \\fINAME\\fR \\fB\\-\\-role\\fR \\fIROLE\\fR "
            "[\\fB\\-\\-team\\fR \\fITEAM\\fR] [\\fB\\-\\-url\\fR \\fIBASE\\fR]\n.br\n"
            ".B leadloopd\n\\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR | \\fB\\-\\-man\\fR\n"
            ".SH DESCRIPTION\n"
            "Marketing records campaigns and the leads they bring; sales gives feedback on "
            "every lead it receives; Leadloop turns that feedback into the reports marketing "
            "acts on. \\fBleadloopd\\fR serves this as JSON over HTTP and keeps everything in "
            "PostgreSQL 15. Its API is described by the OpenAPI document it serves at "
            "\\fBGET /openapi.yaml\\fR. It has no TLS of its own: put a TLS-terminating "
            "reverse proxy in front of it.\n"
            ".SH COMMANDS\n"
            ".TP\n.B serve\n"
            "Applies pending migrations (unless \\fB\\-\\-no\\-migrate\\fR), then serves the "
            "API until SIGTERM or SIGINT, which finish the requests in flight within "
            "LEADLOOP_SHUTDOWN_TIMEOUT_S.\n"
            ".TP\n.B migrate\n"
            "Applies pending schema migrations (compiled into the binary) under an advisory "
            "lock, printing each one applied. Safe to run while other daemons serve.\n"
            ".TP\n.B workspace create\n"
            "Creates a workspace, or says it exists.\n"
            ".TP\n.B keys create\n"
            "Creates an API key of role \\fBadmin\\fR, \\fBmarketing\\fR, \\fBsales\\fR or "
            "\\fBreadonly\\fR and prints its secret on standard output, once: only its "
            "SHA\\-256 is stored. With \\fB\\-\\-import\\fR it may write history (a new "
            "lead's created_at, dated stage changes), as admin keys may.\n"
            ".TP\n.B keys list\n"
            "Lists API keys: id, prefix, workspace, role, times, status and name.\n"
            ".TP\n.B keys revoke\n"
            "Revokes a key by id or prefix; every daemon on the database stops accepting it "
            "at once.\n"
            ".TP\n.B invite\n"
            "Invites a person into the web app with a role (the first admin comes from here) "
            "and prints the one-time link on standard output: opened in a browser, it lets "
            "the person set a password and signs them in. \\fB\\-\\-url\\fR is the address "
            "people reach the daemon at (default: http:// and LEADLOOP_LISTEN).\n",
            LEADLOOP_VERSION);
    config_man(out);
    fputs(".SH EXIT STATUS\n"
          "0 on success; 1 when the command failed (the database unreachable, a migration "
          "failed, the daemon could not start); 2 for a usage error or a bad setting.\n"
          ".SH FILES\n"
          "A packaged daemon reads its settings from the systemd unit's EnvironmentFile, "
          "\\fI/etc/leadloop/leadloopd.env\\fR (see \\fBleadloopd.service\\fR).\n"
          ".SH SEE ALSO\n"
          ".BR psql (1),\n"
          ".BR pg_dump (1),\n"
          ".BR systemd.exec (5)\n",
          out);
}

/* Finds "--name VALUE" or "--name=VALUE" in the command's own arguments. */
static const char *arg_value(char **args, int n, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < n; i++) {
        if (!strncmp(args[i], name, len)) {
            if (args[i][len] == '=')
                return args[i] + len + 1;
            if (args[i][len] == '\0' && i + 1 < n)
                return args[i + 1];
        }
    }
    return NULL;
}

/* Whether the switch (a flag without a value, named with a trailing '!' in args_known's
 * list) is among the command's arguments. */
static bool arg_flag(char **args, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(args[i], name))
            return true;
    return false;
}

/* Fails on arguments that are neither a known flag (with its value; a switch, named with a
 * trailing '!', without one) nor expected. */
static bool args_known(char **args, int n, int positional, const char *const *flags)
{
    int pos = 0;
    for (int i = 0; i < n; i++) {
        bool known = false;
        if (args[i][0] != '-') {
            if (pos++ < positional)
                continue;
            fprintf(stderr, "leadloopd: unexpected argument '%s'\n", args[i]);
            return false;
        }
        for (const char *const *f = flags; *f && !known; f++) {
            size_t len = strlen(*f);
            if ((*f)[len - 1] == '!') {
                known = !strncmp(args[i], *f, len - 1) && args[i][len - 1] == '\0';
                continue;
            }
            if (!strncmp(args[i], *f, len) && (args[i][len] == '=' || args[i][len] == '\0')) {
                known = true;
                if (args[i][len] == '\0')
                    i++;
            }
        }
        if (!known) {
            fprintf(stderr, "leadloopd: unknown flag '%s' (see leadloopd --help)\n", args[i]);
            return false;
        }
    }
    return true;
}

static PGconn *connect_or_say(const struct config *cfg)
{
    char err[512];
    PGconn *pg = db_connect_once(cfg->database_url, err, sizeof err);
    if (!pg)
        fprintf(stderr, "leadloopd: cannot connect to PostgreSQL (DATABASE_URL): %s\n", err);
    return pg;
}

static int cmd_migrate(const struct config *cfg, FILE *progress)
{
    char err[1024] = "";
    PGconn *pg = connect_or_say(cfg);
    int rc = 1;
    if (!pg)
        return 1;
    db_detect_citus(pg); /* for the daemon's connections (db.c) */
    if (!audit_cli(pg, "migrate"))
        fprintf(stderr, "leadloopd: cannot set the audit context: %s", PQerrorMessage(pg));
    else if (migrate_run(pg, cfg->migrations_dir, progress, err, sizeof err))
        rc = 0;
    else
        fprintf(stderr, "leadloopd: migration failed: %s\n", err);
    PQfinish(pg);
    return rc;
}

/* The shutdown's last word: whatever still runs at LEADLOOP_SHUTDOWN_TIMEOUT_S (a handler
 * stuck in a call that cannot be cancelled, a background thread) does not keep the process.
 * Nothing acknowledged is lost: an unfinished transaction dies with its connection. */
static void *shutdown_watchdog(void *arg)
{
    long deadline_s = *(const long *)arg;
    struct timespec ts = {deadline_s, 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    log_error("shutdown: still running at the %lds deadline; exiting now", deadline_s);
    _exit(1);
    return NULL;
}

static int cmd_serve(const struct config *cfg)
{
    sigset_t set;
    int sig = 0;
    if (!cfg->no_migrate && cmd_migrate(cfg, NULL) != 0)
        return 1;
    if (cfg->no_migrate) { /* whether it runs on Citus: cmd_migrate found out otherwise */
        PGconn *pg = connect_or_say(cfg);
        if (pg)
            db_detect_citus(pg);
        PQfinish(pg);
    }
    /* Block the signals before any thread starts, so that only sigwait sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* glibc gives each thread (one per connection) its own heap arena and keeps what they
     * held: under the batch bench that was 60 MiB of the peak RSS. Two arenas serve a
     * daemon whose threads mostly wait on the network. */
    mallopt(M_ARENA_MAX, 2);
    json_object_seed(0);
    webhooks_configure(cfg->webhook_allow_private);
    http_on_write(changes_written);
    if (!webhook_client_global_init()) {
        log_error("cannot set up libcurl");
        return 1;
    }
    if (!password_init()) {
        log_error("cannot set up libsodium (password hashing)");
        return 1;
    }
    if (!db_init(cfg->database_url, cfg->db_pool, cfg->db_acquire_timeout_ms,
                 cfg->statement_timeout_ms)) {
        log_error("out of memory");
        return 1;
    }
    /* The background threads, in order; each stop function is safe when its start did not
     * run or failed, so one cleanup stops whatever started. */
    const char *failed = NULL;
    if (!replica_start(cfg->database_read_url, cfg->read_pool, cfg->read_max_lag_ms))
        failed = "read replica probe";
    else if (!keycache_start(cfg->auth_cache_ttl_s))
        failed = "key cache";
    else if (!changes_start(cfg->database_url, cfg->changes_retention_days,
                            cfg->changes_purge_interval_s))
        failed = "change feed janitor";
    else if (!listen_start(cfg->database_url))
        failed = "notification listener";
    else if (!idem_janitor_start(cfg->database_url, 600))
        failed = "idempotency janitor";
    else if (!session_janitor_start(cfg->database_url, 600))
        failed = "session janitor";
    else if (!reports_compactor_start(cfg->database_url))
        failed = "report compactor";
    else if (!scoring_rescorer_start(cfg->database_url))
        failed = "rescorer";
    else if (!audit_janitor_start(cfg->database_url, cfg->audit_retention_days,
                                  cfg->audit_purge_interval_s))
        failed = "audit janitor";
    else if (!routing_janitor_start(cfg->database_url, 30))
        failed = "routing re-assignment";
    else if (!webhook_delivery_start(
                 &(struct webhook_delivery_config){.senders = cfg->webhook_senders,
                                                   .allow_private = cfg->webhook_allow_private,
                                                   .timeout_ms = cfg->webhook_timeout_ms,
                                                   .retry_min_ms = cfg->webhook_retry_min_ms,
                                                   .retry_max_ms = cfg->webhook_retry_max_ms,
                                                   .retry_for_s = cfg->webhook_retry_for_s,
                                                   .lease_s = cfg->webhook_lease_s}))
        failed = "webhook delivery";
    else if (!http_start(cfg))
        failed = "HTTP daemon";
    if (failed) {
        log_error("cannot start the %s", failed);
    } else {
        sigwait(&set, &sig);
        log_info("received %s: finishing requests in flight (deadline %lds)",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg->shutdown_timeout_s);
        pthread_t watchdog;
        if (pthread_create(&watchdog, NULL, shutdown_watchdog, (void *)&cfg->shutdown_timeout_s) ==
            0)
            pthread_detach(watchdog);
        http_stop(cfg->shutdown_timeout_s);
    }
    webhook_delivery_stop();
    routing_janitor_stop();
    audit_janitor_stop();
    scoring_rescorer_stop();
    reports_compactor_stop();
    session_janitor_stop();
    idem_janitor_stop();
    listen_stop();
    changes_stop();
    keycache_stop();
    replica_stop();
    db_shutdown();
    webhook_client_global_cleanup();
    log_info("stopped");
    return failed ? 1 : 0;
}

static int cmd_workspace(const struct config *cfg, char **args, int n)
{
    static const char *const flags[] = {"--name", NULL};
    /* Under a lock, not ON CONFLICT: on Citus the slug has no unique key (workspaces are
     * distributed by id); on plain PostgreSQL the key stays as well. */
    static const char sql_lock[] = "SELECT pg_advisory_lock(hashtext('ll_workspace_slug'))";
    static const char sql_find[] = "SELECT id FROM workspaces WHERE slug = $1";
    static const char sql[] = "INSERT INTO workspaces (slug, name) VALUES ($1, $2) RETURNING id";
    const char *slug = n >= 2 ? args[1] : NULL, *name;
    PGconn *pg;
    PGresult *res;
    int rc = 1;
    if (n < 2 || strcmp(args[0], "create") || args[1][0] == '-' ||
        !args_known(args + 1, n - 1, 1, flags)) {
        fprintf(stderr, "usage: leadloopd workspace create SLUG [--name NAME]\n");
        return 2;
    }
    name = arg_value(args, n, "--name");
    if (!name)
        name = slug;
    if (!(pg = connect_or_say(cfg)))
        return 1;
    if (!audit_cli_begin(pg, "workspace create")) {
        fprintf(stderr, "leadloopd: cannot set the audit context: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return 1;
    }
    const char *vals[2] = {slug, name};
    PQclear(PQexec(pg, sql_lock));
    res = PQexecParams(pg, sql_find, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
        PQclear(res);
        res = PQexecParams(pg, sql, 2, NULL, vals, NULL, NULL, 0);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK || !audit_cli_end(pg, true)) {
        fprintf(stderr, "leadloopd: cannot create workspace '%s': %s", slug,
                PQresultStatus(res) != PGRES_TUPLES_OK ? PQresultErrorMessage(res)
                                                       : PQerrorMessage(pg));
    } else {
        fprintf(stderr,
                !strncmp(PQcmdStatus(res), "INSERT", 6) ? "workspace %s created\n"
                                                        : "workspace %s exists\n",
                slug);
        rc = 0;
    }
    PQclear(res);
    audit_cli_end(pg, false);
    PQfinish(pg);
    return rc;
}

static int keys_create(PGconn *pg, char **args, int n)
{
    static const char *const flags[] = {"--workspace", "--role",    "--name",
                                        "--user",      "--import!", NULL};
    const char *ws = arg_value(args, n, "--workspace"), *role = arg_value(args, n, "--role");
    const char *name = arg_value(args, n, "--name"), *user = arg_value(args, n, "--user");
    char secret[AUTH_SECRET_LEN + 1];
    PGresult *wres, *res;
    int rc = 1;
    if (!args_known(args, n, 0, flags) || !ws || !role || !name) {
        fprintf(stderr, "usage: leadloopd keys create --workspace SLUG --role ROLE --name NAME "
                        "[--user ID] [--import]\n");
        return 2;
    }
    if (!auth_role_parse(role)) {
        fprintf(stderr, "leadloopd: --role must be admin, marketing, sales or readonly\n");
        return 2;
    }
    const char *wv[1] = {ws};
    wres =
        PQexecParams(pg, "SELECT id FROM workspaces WHERE slug = $1", 1, NULL, wv, NULL, NULL, 0);
    if (PQresultStatus(wres) != PGRES_TUPLES_OK || PQntuples(wres) != 1) {
        fprintf(stderr, "leadloopd: no workspace '%s' (create it: leadloopd workspace create %s)\n",
                ws, ws);
        PQclear(wres);
        return 1;
    }
    res = auth_key_insert(pg, PQgetvalue(wres, 0, 0), name, role, user, NULL, NULL,
                          arg_flag(args, n, "--import"), secret);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        fprintf(stderr, "API key %s (%s, role %s) created in workspace %s; it is shown only now:\n",
                PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2), role, ws);
        printf("%s\n", secret);
        rc = 0;
    } else {
        fprintf(stderr, "leadloopd: cannot create the key: %s",
                res ? PQresultErrorMessage(res) : "out of memory\n");
    }
    memset(secret, 0, sizeof secret);
    PQclear(res);
    PQclear(wres);
    return rc;
}

static int keys_list(PGconn *pg, char **args, int n)
{
    static const char *const flags[] = {"--workspace", NULL};
    static const char sql[] = "SELECT k.id, k.prefix, w.slug, k.role, k.name, " DB_TS(
        "k.created_at") ","
                        " coalesce(" DB_TS(
                            "k.last_used_at") ", '-'),"
                                              " coalesce('revoked ' || " DB_TS(
                                                  "k.revoked_at") ", 'active')"
                                                                  " FROM api_keys k JOIN "
                                                                  "workspaces w ON w.id = "
                                                                  "k.workspace_id"
                                                                  " WHERE $1::text IS NULL OR "
                                                                  "w.slug = $1 ORDER BY w.slug, "
                                                                  "k.created_at";
    const char *vals[1];
    PGresult *res;
    int rc = 1;
    if (!args_known(args, n, 0, flags))
        return 2;
    vals[0] = arg_value(args, n, "--workspace");
    res = PQexecParams(pg, sql, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        printf("%-36s  %-12s  %-16s  %-9s  %-27s  %-27s  %-35s  %s\n", "ID", "PREFIX", "WORKSPACE",
               "ROLE", "CREATED", "LAST USED", "STATUS", "NAME");
        for (int i = 0; i < PQntuples(res); i++)
            printf("%-36s  %-12s  %-16s  %-9s  %-27s  %-27s  %-35s  %s\n", PQgetvalue(res, i, 0),
                   PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
                   PQgetvalue(res, i, 5), PQgetvalue(res, i, 6), PQgetvalue(res, i, 7),
                   PQgetvalue(res, i, 4));
        rc = 0;
    } else {
        fprintf(stderr, "leadloopd: %s", PQresultErrorMessage(res));
    }
    PQclear(res);
    return rc;
}

static int keys_revoke(PGconn *pg, char **args, int n)
{
    /* least(): as coalesce(revoked_at, now()), in a form Citus takes (server/admin.c) */
    static const char sql[] = "UPDATE api_keys SET revoked_at = least(revoked_at, now())"
                              " WHERE id::text = $1 OR prefix = $1"
                              " RETURNING prefix, encode(key_hash, 'hex')";
    PGresult *res;
    int rc = 1;
    if (n != 1 || args[0][0] == '-') {
        fprintf(stderr, "usage: leadloopd keys revoke ID (or PREFIX)\n");
        return 2;
    }
    const char *vals[1] = {args[0]};
    res = PQexecParams(pg, sql, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "leadloopd: %s", PQresultErrorMessage(res));
    else if (PQntuples(res) == 0)
        fprintf(stderr, "leadloopd: no API key %s\n", args[0]);
    else {
        fprintf(stderr, "API key %s revoked\n", PQgetvalue(res, 0, 0));
        rc = 0;
        if (db_citus()) { /* the daemons' caches: see sql/functions/30_api_keys.sql */
            const char *hv[1] = {PQgetvalue(res, 0, 1)};
            PQclear(PQexecParams(pg, "SELECT pg_notify('leadloop_api_keys', $1)", 1, NULL, hv, NULL,
                                 NULL, 0));
        }
    }
    PQclear(res);
    return rc;
}

/* leadloopd invite: the web app's first admin (and anyone else) without a key. */
static int cmd_invite(const struct config *cfg, char **args, int n)
{
    static const char *const flags[] = {"--workspace", "--email", "--name", "--role",
                                        "--team",      "--url",   NULL};
    const char *ws = arg_value(args, n, "--workspace"), *email = arg_value(args, n, "--email");
    const char *name = arg_value(args, n, "--name"), *role = arg_value(args, n, "--role");
    const char *team = arg_value(args, n, "--team"), *url = arg_value(args, n, "--url");
    char token[SESSION_TOKEN_LEN + 1], hash[65], ttl[24], base[160];
    PGconn *pg;
    PGresult *wres = NULL, *res = NULL;
    int rc = 1;
    if (!args_known(args, n, 0, flags) || !ws || !email || !name || !role) {
        fprintf(stderr, "usage: leadloopd invite --workspace SLUG --email EMAIL --name NAME "
                        "--role ROLE [--team TEAM] [--url BASE]\n");
        return 2;
    }
    if (!auth_role_parse(role) || (team && strcmp(team, "marketing") && strcmp(team, "sales"))) {
        fprintf(stderr, "leadloopd: --role must be admin, marketing, sales or readonly; --team "
                        "marketing or sales\n");
        return 2;
    }
    if (!jv_email_valid(email)) {
        fprintf(stderr, "leadloopd: --email is not a valid email address\n");
        return 2;
    }
    snprintf(base, sizeof base, "%s", url ? url : "");
    if (!url)
        snprintf(base, sizeof base, "http://%s", cfg->listen);
    if (!(pg = connect_or_say(cfg)))
        return 1;
    if (!audit_cli_begin(pg, "invite")) {
        fprintf(stderr, "leadloopd: cannot set the audit context: %s", PQerrorMessage(pg));
        goto out;
    }
    const char *wv[1] = {ws};
    wres =
        PQexecParams(pg, "SELECT id FROM workspaces WHERE slug = $1", 1, NULL, wv, NULL, NULL, 0);
    if (PQresultStatus(wres) != PGRES_TUPLES_OK || PQntuples(wres) != 1) {
        fprintf(stderr, "leadloopd: no workspace '%s' (create it: leadloopd workspace create %s)\n",
                ws, ws);
        goto out;
    }
    if (!session_token_new("lli_", PQgetvalue(wres, 0, 0), token, hash)) {
        fprintf(stderr, "leadloopd: no random bytes\n");
        goto out;
    }
    snprintf(ttl, sizeof ttl, "%ld", cfg->invitation_ttl_h);
    const char *vals[9] = {PQgetvalue(wres, 0, 0), email, name, role, team, hash, NULL, NULL, ttl};
    res = PQexecParams(pg, invitations_sql_create, 9, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "leadloopd: cannot invite: %s", PQresultErrorMessage(res));
    } else if (PQntuples(res) == 0) {
        fprintf(stderr,
                "leadloopd: %s can sign in already (a new password: an admin "
                "deactivates and invites again)\n",
                email);
    } else {
        fprintf(stderr,
                "%s invited into workspace %s as %s; the link works once, until %s, and is "
                "shown only now:\n",
                email, ws, role, PQgetvalue(res, 0, 5));
        rc = audit_cli_end(pg, true) ? 0 : 1;
        if (rc == 0)
            printf("%s/app/invitation#token=%s\n", base, token);
        else
            fprintf(stderr, "leadloopd: cannot invite: %s", PQerrorMessage(pg));
    }
out:
    audit_cli_end(pg, false);
    explicit_bzero(token, sizeof token);
    PQclear(res);
    PQclear(wres);
    PQfinish(pg);
    return rc;
}

static int cmd_keys(const struct config *cfg, char **args, int n)
{
    char command[16];
    PGconn *pg;
    int rc;
    if (n < 1 ||
        (strcmp(args[0], "create") && strcmp(args[0], "list") && strcmp(args[0], "revoke"))) {
        fprintf(stderr, "usage: leadloopd keys create|list|revoke ... (see leadloopd --help)\n");
        return 2;
    }
    if (!(pg = connect_or_say(cfg)))
        return 1;
    snprintf(command, sizeof command, "keys %s", args[0]);
    if (!audit_cli_begin(pg, command)) {
        fprintf(stderr, "leadloopd: cannot set the audit context: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return 1;
    }
    if (!strcmp(args[0], "create"))
        rc = keys_create(pg, args + 1, n - 1);
    else if (!strcmp(args[0], "list"))
        rc = keys_list(pg, args + 1, n - 1);
    else
        rc = keys_revoke(pg, args + 1, n - 1);
    if (!audit_cli_end(pg, rc == 0) && rc == 0) {
        fprintf(stderr, "leadloopd: keys %s: %s", args[0], PQerrorMessage(pg));
        rc = 1;
    }
    PQfinish(pg);
    return rc;
}

int main(int argc, char **argv)
{
    struct config cfg;
    char err[512];
    char **rest;
    int nrest = 0, rc;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("leadloopd %s\n", LEADLOOP_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "--man")) {
        man_page(stdout);
        return 0;
    }
    rest = calloc((size_t)argc, sizeof *rest);
    if (!rest)
        return 1;
    if (!config_load(&cfg, argc - 2, argv + 2, rest, &nrest, err, sizeof err)) {
        fprintf(stderr, "leadloopd: %s\n", err);
        free(rest);
        return 2;
    }
    log_setup((int)cfg.log_level, (int)cfg.log_format);
    if (!strcmp(argv[1], "serve") || !strcmp(argv[1], "migrate")) {
        if (nrest > 0) {
            fprintf(stderr, "leadloopd: unknown argument '%s' (see leadloopd --help)\n", rest[0]);
            rc = 2;
        } else {
            rc = !strcmp(argv[1], "serve") ? cmd_serve(&cfg) : cmd_migrate(&cfg, stdout);
        }
    } else if (!strcmp(argv[1], "workspace")) {
        rc = cmd_workspace(&cfg, rest, nrest);
    } else if (!strcmp(argv[1], "keys")) {
        rc = cmd_keys(&cfg, rest, nrest);
    } else if (!strcmp(argv[1], "invite")) {
        rc = cmd_invite(&cfg, rest, nrest);
    } else {
        fprintf(stderr, "leadloopd: unknown command '%s' (see leadloopd --help)\n", argv[1]);
        rc = 2;
    }
    free(rest);
    return rc;
}
