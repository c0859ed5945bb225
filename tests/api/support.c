/* Support for the HTTP tests: real daemons as child processes, libcurl requests, and
 * the harness's PostgreSQL. Failures abort the current test with a message. */
#include "support.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct daemon main_daemon;
char admin_key[64], readonly_key[64], other_admin_key[64];

extern char **environ;

int test_scale(int full)
{
    const char *quick = getenv("LL_TEST_QUICK");
    return quick && !strcmp(quick, "1") ? (full + 9) / 10 : full;
}

const char *env_or_die(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "api-tests: %s is not set; run through tests/harness.sh (make test)\n",
                name);
        exit(2);
    }
    return v;
}

int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

bool wait_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (cond(arg))
            return true;
        sleep_ms(10);
    }
    return cond(arg);
}

/* Builds argv for the daemon, honouring LL_DAEMON_WRAPPER (e.g. valgrind ...). */
static int build_argv(const char **argv, int max, char *wrapbuf, size_t wraplen,
                      const char *const *args)
{
    int n = 0;
    const char *wrap = getenv("LL_DAEMON_WRAPPER");
    if (wrap && *wrap) {
        snprintf(wrapbuf, wraplen, "%s", wrap);
        for (char *tok = strtok(wrapbuf, " "); tok && n < max - 8; tok = strtok(NULL, " "))
            argv[n++] = tok;
    }
    argv[n++] = env_or_die("LL_DAEMON");
    for (; *args && n < max - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return n;
}

static void put_env(const char *const *env)
{
    for (; env && *env; env++)
        putenv((char *)*env);
}

static bool healthy(void *arg)
{
    struct daemon *d = arg;
    int status;
    if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
        d->pid = -1;
        return true; /* exited: stop waiting */
    }
    CURL *c = curl_easy_init();
    char url[96];
    long code = 0;
    snprintf(url, sizeof url, "%s/healthz", d->base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 500L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code == 200;
}

bool daemon_start(struct daemon *d, const char *const *env)
{
    daemon_spawn(d, env);
    return daemon_ready(d);
}

void daemon_spawn(struct daemon *d, const char *const *env)
{
    static int seq;
    const char *argv[32];
    char wrap[512];
    const char *args[] = {"serve", NULL};
    memset(d, 0, sizeof *d);
    d->port = free_port();
    snprintf(d->base, sizeof d->base, "http://127.0.0.1:%d", d->port);
    snprintf(d->log, sizeof d->log, "%s/daemon-%d-%d.log", env_or_die("LL_TEST_TMP"), getpid(),
             seq++);
    build_argv(argv, 32, wrap, sizeof wrap, args);
    d->pid = fork();
    if (d->pid == 0) {
        char listen[64], dburl[512];
        int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        snprintf(listen, sizeof listen, "LEADLOOP_LISTEN=127.0.0.1:%d", d->port);
        snprintf(dburl, sizeof dburl, "DATABASE_URL=%s", env_or_die("LL_TEST_DATABASE_URL"));
        putenv(listen);
        putenv(dburl);
        putenv((char *)"LEADLOOP_LOG_LEVEL=info");
        put_env(env);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
}

bool daemon_ready(struct daemon *d)
{
    /* 30 s (valgrind, which takes a while to start a process: 60 s): a daemon migrates
     * first, and under the sanitizers on a loaded machine another daemon's migration (the
     * advisory lock) or a busy PostgreSQL can hold it that long */
    if (!wait_until(healthy, d, getenv("LL_DAEMON_WRAPPER") ? 60000 : 30000) || d->pid < 0) {
        fprintf(stderr, "daemon did not come up; its log %s:\n", d->log);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "cat %s >&2", d->log);
        if (system(cmd) != 0)
            fprintf(stderr, "(no log)\n");
        return false;
    }
    return true;
}

int daemon_wait(struct daemon *d)
{
    int status = 0;
    if (d->pid <= 0)
        return -1;
    while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
        ;
    d->pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int daemon_stop(struct daemon *d, int sig)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, sig);
    return daemon_wait(d);
}

int run_leadloopd(const char *const *args, const char *const *env, char *out, size_t outlen,
                  char *err, size_t errlen)
{
    int po[2], pe[2], status = 0;
    const char *argv[32];
    pid_t pid;
    if (pipe(po) != 0 || pipe(pe) != 0)
        return -1;
    argv[0] = env_or_die("LL_DAEMON");
    int n = 1;
    for (; *args && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        char dburl[512];
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        snprintf(dburl, sizeof dburl, "DATABASE_URL=%s", env_or_die("LL_TEST_DATABASE_URL"));
        putenv(dburl);
        put_env(env);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    /* Read both pipes to the end (small outputs; stderr first would risk a deadlock only
     * past 64 KiB of stdout). */
    size_t ol = 0, el = 0;
    ssize_t got;
    char sink[4096];
    while ((got = read(po[0], out && ol + 1 < outlen ? out + ol : sink,
                       out && ol + 1 < outlen ? outlen - ol - 1 : sizeof sink)) > 0)
        if (out && ol + 1 < outlen)
            ol += (size_t)got;
    while ((got = read(pe[0], err && el + 1 < errlen ? err + el : sink,
                       err && el + 1 < errlen ? errlen - el - 1 : sizeof sink)) > 0)
        if (err && el + 1 < errlen)
            el += (size_t)got;
    if (out)
        out[ol] = '\0';
    if (err)
        err[el] = '\0';
    close(po[0]);
    close(pe[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ------------------------------------------------------------------ HTTP */

size_t growbuf_append(char *data, size_t size, size_t n, void *arg)
{
    struct growbuf *b = arg;
    size_t add = size * n;
    char *grown = realloc(b->p, b->len + add + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, data, add);
    b->p = grown;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

struct upload {
    const char *p;
    size_t left;
};

static size_t feed(char *buf, size_t size, size_t n, void *arg)
{
    struct upload *u = arg;
    size_t take = size * n < u->left ? size * n : u->left;
    if (take > 65536)
        take = 65536;
    memcpy(buf, u->p, take);
    u->p += take;
    u->left -= take;
    return take;
}

static struct resp *perform(struct daemon *d, const char *method, const char *path, const char *key,
                            const char *const *headers, const char *body, size_t len, bool chunked)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    struct growbuf bb = {NULL, 0}, hb = {NULL, 0};
    struct upload up = {body, len};
    struct resp *r = calloc(1, sizeof *r);
    char url[8192], auth[128];
    CURLcode rc;

    snprintf(url, sizeof url, "%s%s", d->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, growbuf_append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &bb);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, growbuf_append);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        hl = curl_slist_append(hl, auth);
    }
    hl = curl_slist_append(hl, "Expect:");
    for (; headers && *headers; headers++)
        hl = curl_slist_append(hl, *headers);
    if (chunked) {
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK || rc == CURLE_SEND_ERROR, "%s %s: curl failed: %s", method, path,
                  curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    r->body = bb.p ? bb.p : strdup("");
    r->len = bb.len;
    r->headers = hb.p ? hb.p : strdup("");
    r->json = json_loadb(r->body, r->len, 0, NULL);
    return r;
}

struct resp *req(struct daemon *d, const char *method, const char *path, const char *key,
                 const char *const *headers, const char *body, size_t len)
{
    return perform(d, method, path, key, headers, body, len, false);
}

struct resp *req_chunked(struct daemon *d, const char *method, const char *path, const char *key,
                         const char *const *headers, const char *body, size_t len)
{
    return perform(d, method, path, key, headers, body, len, true);
}

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

struct resp *get(const char *path, const char *key)
{
    return req(&main_daemon, "GET", path, key, NULL, NULL, 0);
}

struct resp *post(const char *path, const char *key, const char *json)
{
    return req(&main_daemon, "POST", path, key, json_ct, json, strlen(json));
}

struct resp *patch(const char *path, const char *key, const char *json, const char *if_match)
{
    char im[96];
    const char *h[3] = {"Content-Type: application/merge-patch+json", NULL, NULL};
    if (if_match) {
        snprintf(im, sizeof im, "If-Match: %s", if_match);
        h[1] = im;
    }
    return req(&main_daemon, "PATCH", path, key, h, json, strlen(json));
}

struct resp *del(const char *path, const char *key)
{
    return req(&main_daemon, "DELETE", path, key, NULL, NULL, 0);
}

struct resp *send_json(const char *method, const char *path, const char *key, const char *body,
                       size_t len, const char *if_match, const char *idem_key)
{
    char im[128], ik[320];
    const char *h[4] = {!strcmp(method, "PATCH") ? "Content-Type: application/merge-patch+json"
                                                 : "Content-Type: application/json",
                        NULL, NULL, NULL};
    int n = 1;
    if (if_match) {
        snprintf(im, sizeof im, "If-Match: %s", if_match);
        h[n++] = im;
    }
    if (idem_key) {
        snprintf(ik, sizeof ik, "Idempotency-Key: %s", idem_key);
        h[n++] = ik;
    }
    return req(&main_daemon, method, path, key, h, body, len);
}

struct resp *put(const char *path, const char *key, const char *json, const char *if_match)
{
    return send_json("PUT", path, key, json, strlen(json), if_match, NULL);
}

struct resp *post_idem(const char *path, const char *key, const char *json, const char *idem_key)
{
    return send_json("POST", path, key, json, strlen(json), NULL, idem_key);
}

struct resp *del_if(const char *path, const char *key, const char *if_match)
{
    return send_json("DELETE", path, key, NULL, 0, if_match, NULL);
}

char *raw_request(struct daemon *d, const char *bytes, size_t len)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)d->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {10, 0};
    struct growbuf b = {NULL, 0};
    char buf[4096];
    ssize_t got;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
    shutdown(fd, SHUT_WR);
    while ((got = read(fd, buf, sizeof buf)) > 0)
        growbuf_append(buf, 1, (size_t)got, &b);
    close(fd);
    return b.p ? b.p : strdup("");
}

char *resp_header(const struct resp *r, const char *name)
{
    size_t n = strlen(name);
    /* The last header block wins (after a 100 Continue there are two). */
    char *found = NULL;
    for (const char *line = r->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if ((size_t)(end - line) > n && !strncasecmp(line, name, n) && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            free(found);
            found = strndup(v, (size_t)(end - v));
        }
        line = end + 2;
    }
    return found;
}

void resp_free(struct resp *r)
{
    if (!r)
        return;
    json_decref(r->json);
    free(r->body);
    free(r->headers);
    free(r);
}

const char *jstr(const struct resp *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->json, key));
    return s ? s : "";
}

bool problem_names(const struct resp *r, const char *field)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r->json, "errors"), i, e)
    {
        const char *f = json_string_value(json_object_get(e, "field"));
        if (f && !strcmp(f, field))
            return true;
    }
    return false;
}

void assert_problem(const struct resp *r, long status, const char *slug)
{
    char type[128];
    char *ct = resp_header(r, "Content-Type");
    char *rid = resp_header(r, "X-Request-Id");
    ck_assert_msg(r->status == status, "expected status %ld, got %ld: %s", status, r->status,
                  r->body);
    ck_assert_msg(ct && !strcmp(ct, "application/problem+json"),
                  "expected application/problem+json, got %s", ct ? ct : "(none)");
    ck_assert_msg(r->json != NULL, "problem body is not JSON: %s", r->body);
    snprintf(type, sizeof type, "https://leadloop.dev/problems/%s", slug);
    ck_assert_str_eq(jstr(r, "type"), type);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "status")), status);
    ck_assert_msg(*jstr(r, "title") && *jstr(r, "detail"), "title and detail must be set");
    ck_assert_msg(rid && !strcmp(jstr(r, "request_id"), rid),
                  "request_id member must equal the X-Request-Id header");
    free(ct);
    free(rid);
}

/* ------------------------------------------------------------------ PostgreSQL */

PGconn *pg_test(void)
{
    PGconn *pg = PQconnectdb(env_or_die("LL_TEST_DATABASE_URL"));
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "cannot connect: %s", PQerrorMessage(pg));
    return pg;
}

PGconn *pg_db(const char *dbname)
{
    const char *keys[] = {"dbname", "dbname", NULL};
    const char *vals[] = {env_or_die("LL_TEST_PG_ADMIN_URL"), dbname, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "cannot connect: %s", PQerrorMessage(pg));
    return pg;
}

void pg_ok(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%.1000s: %.2000s", sql,
                  PQresultErrorMessage(res));
    PQclear(res);
}

char *pg_value(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "%.1000s: %.2000s",
                  sql, PQresultErrorMessage(res));
    char *v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

char *pg_value_p(PGconn *pg, const char *sql, const char *param)
{
    const char *vals[1] = {param};
    PGresult *res = PQexecParams(pg, sql, 1, NULL, vals, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "%.1000s: %.2000s",
                  sql, PQresultErrorMessage(res));
    char *v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

long pg_long(PGconn *pg, const char *sql)
{
    char *v = pg_value(pg, sql);
    long n = atol(v);
    free(v);
    return n;
}

bool test_on_citus(void)
{
    const char *v = getenv("LL_TEST_CITUS");
    return v && *v && strcmp(v, "0") != 0;
}

bool pg_has_citus(PGconn *pg)
{
    return test_on_citus() &&
           pg_long(pg, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'") > 0;
}

long pg_cluster_long(PGconn *pg, const char *sql)
{
    if (!pg_has_citus(pg))
        return pg_long(pg, sql);
    const char *vals[1] = {sql};
    PGresult *res = PQexecParams(pg,
                                 "SELECT coalesce(sum(result::bigint), 0), bool_and(success)"
                                 " FROM run_command_on_all_nodes($1)",
                                 1, NULL, vals, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(res, 0, 1), "t"),
                  "%s on every node: %s", sql, PQresultErrorMessage(res));
    long n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

void pg_lock_row(PGconn *pg, const char *table, const char *id)
{
    char sql[400];
    PGresult *res;
    const char *vals[2] = {id, id};
    if (!strcmp(table, "workspaces")) { /* distributed by id */
        res = PQexecParams(pg, "SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE", 1, NULL, vals,
                           NULL, NULL, 0);
    } else {
        snprintf(sql, sizeof sql, "SELECT workspace_id FROM %s WHERE id = $1", table);
        char *ws = pg_value_p(pg, sql, id);
        vals[0] = ws;
        /* the distribution column's equality makes the locking read one Citus can route */
        snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE workspace_id = $1 AND id = $2 FOR UPDATE",
                 table);
        res = PQexecParams(pg, sql, 2, NULL, vals, NULL, NULL, 0);
        free(ws);
    }
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "lock %s %s: %s",
                  table, id, PQresultErrorMessage(res));
    PQclear(res);
}

void pg_lock_workspaces(PGconn *pg, const char *slug)
{
    const char *vals[1] = {slug};
    PGresult *res = PQexecParams(pg,
                                 slug ? "SELECT id FROM workspaces WHERE slug = $1 ORDER BY id"
                                      : "SELECT id FROM workspaces ORDER BY id",
                                 slug ? 1 : 0, NULL, vals, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0, "workspaces %s: %s",
                  slug ? slug : "(all)", PQresultErrorMessage(res));
    for (int i = 0; i < PQntuples(res); i++)
        pg_lock_row(pg, "workspaces", PQgetvalue(res, i, 0));
    PQclear(res);
}

long pg_lock_waiters(PGconn *pg, const char *application_name)
{
    if (!pg_has_citus(pg)) {
        char *v = pg_value_p(pg,
                             "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                             " current_database() AND wait_event_type = 'Lock'"
                             " AND ($1::text IS NULL OR application_name = $1)",
                             application_name);
        long n = atol(v);
        free(v);
        return n;
    }
    /* on Citus a session waits for a row lock on the worker that holds the row, where its
     * backend is named after the coordinator's (global pid), not after the application.
     * The look at every node is bounded: a stuck one counts as no waiter (-1 noted). */
    const char *vals[1] = {application_name};
    pg_ok(pg, "SET statement_timeout = 5000");
    PGresult *res = PQexecParams(
        pg,
        "WITH s AS MATERIALIZED (SELECT global_pid, pid, nodeid, datname, application_name,"
        " wait_event_type FROM citus_stat_activity)"
        " SELECT count(DISTINCT a.global_pid) FROM s a"
        " JOIN s w ON w.global_pid = a.global_pid AND w.wait_event_type = 'Lock'"
        " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
        " AND ($1::text IS NULL OR a.application_name = $1)",
        1, NULL, vals, NULL, NULL, 0);
    long n = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        n = atol(PQgetvalue(res, 0, 0));
    else
        fprintf(stderr, "pg_lock_waiters: citus_stat_activity: %s", PQresultErrorMessage(res));
    PQclear(res);
    pg_ok(pg, "RESET statement_timeout");
    return n;
}

void pg_trigger_ok(PGconn *pg, const char *sql)
{
    if (pg_has_citus(pg))
        pg_ok(pg, "SET citus.enable_unsafe_triggers = on");
    pg_ok(pg, sql);
}

void pg_function_ok(PGconn *pg, const char *sql, const char *signature)
{
    pg_ok(pg, sql);
    if (!pg_has_citus(pg))
        return;
    /* a function that depends on no distributed object stays on the coordinator; the
     * triggers that call it fire on the workers */
    char q[300];
    snprintf(q, sizeof q, "SELECT count(*) FROM pg_dist_object WHERE objid = '%s'::regprocedure",
             signature);
    if (pg_long(pg, q) == 0) {
        snprintf(q, sizeof q, "SELECT create_distributed_function('%s')", signature);
        pg_ok(pg, q);
    }
    /* fired on a shard, it may still write a reference table */
    snprintf(q, sizeof q, "ALTER FUNCTION %s SET citus.allow_nested_distributed_execution = on",
             signature);
    pg_ok(pg, q);
}

bool workspace_key(const char *slug, const char *role, char key[64])
{
    char out[256], err[1024];
    const char *ws[] = {"workspace", "create", slug, NULL};
    const char *mk[] = {"keys", "create", "--workspace", slug, "--role",
                        role,   "--name", "tests",       NULL};
    if (run_leadloopd(ws, NULL, NULL, 0, err, sizeof err) != 0 ||
        run_leadloopd(mk, NULL, out, sizeof out, err, sizeof err) != 0) {
        fprintf(stderr, "leadloopd workspace/keys create %s: %s\n", slug, err);
        return false;
    }
    out[strcspn(out, "\n")] = '\0';
    if (strlen(out) != 47)
        return false;
    memcpy(key, out, 48);
    return true;
}

void fresh_database(const char *name, char *url, size_t urllen)
{
    char sql[256];
    PGconn *admin = pg_db("postgres");
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    pg_ok(admin, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    pg_ok(admin, sql);
    PQfinish(admin);
    /* same server, other database: swap the last path segment of the test URL */
    const char *base = env_or_die("LL_TEST_DATABASE_URL");
    const char *slash = strrchr(base, '/');
    snprintf(url, urllen, "%.*s/%s", (int)(slash - base), base, name);
}

/* One cell into the row being read; the text is copied. */
static void table_add_cell(struct csv_table *t, const char *s, size_t n)
{
    struct csv_table_row *row = &t->rows[t->nrows - 1];
    row->cells = realloc(row->cells, (row->ncells + 1) * sizeof *row->cells);
    ck_assert_ptr_nonnull(row->cells);
    row->cells[row->ncells] = strndup(s, n);
    ck_assert_ptr_nonnull(row->cells[row->ncells]);
    row->ncells++;
}

static void table_add_row(struct csv_table *t)
{
    t->rows = realloc(t->rows, (t->nrows + 1) * sizeof *t->rows);
    ck_assert_ptr_nonnull(t->rows);
    memset(&t->rows[t->nrows++], 0, sizeof *t->rows);
}

bool csv_table_read(const char *s, size_t len, struct csv_table *t, char *why, size_t whylen)
{
    const char *end = s + len;
    char *cell = malloc(len + 1);
    size_t n;
    ck_assert_ptr_nonnull(cell);
    memset(t, 0, sizeof *t);
    snprintf(why, whylen, "%s", "");
    while (s < end) {
        table_add_row(t);
        for (;;) { /* one cell, then a comma (next cell) or CRLF / the end (next row) */
            n = 0;
            if (s < end && *s == '"') {
                for (s++;; s++) {
                    if (s == end) {
                        snprintf(why, whylen, "row %zu: a quoted cell is not closed", t->nrows);
                        goto bad;
                    }
                    if (*s == '"' && s + 1 < end && s[1] == '"')
                        cell[n++] = *s++;
                    else if (*s == '"')
                        break;
                    else
                        cell[n++] = *s;
                }
                s++;
            } else {
                for (; s < end && *s != ',' && *s != '\r' && *s != '\n'; s++) {
                    if (*s == '"') {
                        snprintf(why, whylen, "row %zu: a quote inside an unquoted cell", t->nrows);
                        goto bad;
                    }
                    cell[n++] = *s;
                }
            }
            table_add_cell(t, cell, n);
            if (s < end && *s == ',') {
                s++;
                continue;
            }
            if (s == end)
                break;
            if (end - s < 2 || s[0] != '\r' || s[1] != '\n') {
                snprintf(why, whylen, "row %zu: a cell ends with neither a comma nor CRLF",
                         t->nrows);
                goto bad;
            }
            s += 2;
            break;
        }
    }
    free(cell);
    return true;
bad:
    free(cell);
    csv_table_free(t);
    return false;
}

void csv_table_free(struct csv_table *t)
{
    for (size_t i = 0; i < t->nrows; i++) {
        for (size_t k = 0; k < t->rows[i].ncells; k++)
            free(t->rows[i].cells[k]);
        free(t->rows[i].cells);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}

char *pg_dump_test(size_t *len)
{
    /* the shell expands both variables; PG_BINDIR as tests/harness.sh takes it */
    static const char cmd[] = "\"${PG_BINDIR:-/usr/lib/postgresql/15/bin}/pg_dump\" --no-password"
                              " -d \"$LL_TEST_DATABASE_URL\" 2>&1";
    size_t cap = 1 << 20, n = 0, got;
    char *buf = malloc(cap);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(buf && p, "cannot run pg_dump: %s", strerror(errno));
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 2) {
            buf = realloc(buf, cap *= 2);
            ck_assert_ptr_nonnull(buf);
        }
    }
    buf[n] = '\0';
    int rc = pclose(p);
    ck_assert_msg(rc == 0, "pg_dump failed (%d): %.500s", rc, buf);
    *len = n;
    return buf;
}

/* ------------------------------------------------------------------ raw sockets */

long sock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A connection to d from the loopback address 127.0.0.`from` (1 is 127.0.0.1). */
int sock_from(const struct daemon *d, int from)
{
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    src.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)from);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst.sin_port = htons((uint16_t)d->port);
    ck_assert_msg(bind(fd, (struct sockaddr *)&src, sizeof src) == 0, "bind 127.0.0.%d: %s", from,
                  strerror(errno));
    ck_assert_msg(connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0, "connect: %s",
                  strerror(errno));
    return fd;
}

void sock_send(int fd, const char *s, size_t n)
{
    ck_assert_int_eq(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until the server closes or timeout_ms pass; *closed says which. New string. */
char *sock_read_until_close(int fd, int timeout_ms, bool *closed)
{
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    long end = sock_now_ms() + timeout_ms;
    *closed = false;
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long left = end - sock_now_ms();
        ssize_t n;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        n = recv(fd, buf + len, 4096, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* Reads one whole answer (head and Content-Length body) within timeout_ms. New string. */
char *sock_read_answer(int fd, int timeout_ms)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    long end = sock_now_ms() + timeout_ms;
    ck_assert_ptr_nonnull(buf);
    buf[0] = '\0';
    while (len < cap - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        const char *head_end = strstr(buf, "\r\n\r\n"), *cl;
        long left = end - sock_now_ms();
        ssize_t n;
        if (head_end && (cl = strcasestr(buf, "Content-Length:")) && cl < head_end &&
            len >= (size_t)(head_end + 4 - buf) + (size_t)atol(cl + 15))
            break;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return buf;
}

/* ------------------------------------------------------------------ reports */

void report_add(struct report *rep, const char *fmt, ...)
{
    char line[1400];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    char *grown = realloc(rep->text, rep->len + (size_t)n + 2);
    ck_assert_ptr_nonnull(grown);
    rep->text = grown;
    memcpy(rep->text + rep->len, line, (size_t)n);
    rep->len += (size_t)n;
    rep->text[rep->len++] = '\n';
    rep->text[rep->len] = '\0';
    rep->failed++;
}
