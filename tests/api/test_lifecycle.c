/* The daemon's life: migrations, a PostgreSQL restart under a running daemon, an
 * exhausted pool, and shutdown with a request in flight. These run last: they stop
 * PostgreSQL and start daemons of their own. */
#include <check.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "suites.h"
#include "support.h"

/* The numbered migrations (NNNN_name.sql) in LL_MIGRATIONS, or with functions the
 * repeatable ones of its functions/ as well: the lines a migration of a fresh database
 * prints. */
static int count_migration_files(bool functions)
{
    char dir[1024];
    int n = 0;
    for (int pass = 0; pass < (functions ? 2 : 1); pass++) {
        snprintf(dir, sizeof dir, "%s%s", env_or_die("LL_MIGRATIONS"), pass ? "/functions" : "");
        DIR *d = opendir(dir);
        struct dirent *e;
        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
            if (strlen(e->d_name) > 9 && !strcmp(e->d_name + strlen(e->d_name) - 4, ".sql") &&
                e->d_name[0] >= '0' && e->d_name[0] <= '9')
                n++;
        closedir(d);
    }
    return n;
}

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

START_TEST(migrate_twice_changes_nothing)
{
    static const char state[] = "SELECT string_agg(name || checksum || applied_at::text, ',' ORDER "
                                "BY name) FROM schema_migrations";
    PGconn *pg = pg_test();
    char *before = pg_value(pg, state), out[4096], err[4096];
    const char *args[] = {"migrate", NULL};
    ck_assert_int_eq(run_leadloopd(args, NULL, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(out, "applied") == NULL, "nothing left to apply, yet: %s", out);
    char *after = pg_value(pg, state);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    PQfinish(pg);
}
END_TEST

START_TEST(concurrent_migrations_apply_each_file_once)
{
    char url[512], envbuf[600];
    fresh_database("ll_concurrent", url, sizeof url);
    snprintf(envbuf, sizeof envbuf, "DATABASE_URL=%s", url);
    const char *env[] = {envbuf, NULL};
    int pipes[2][2];
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pipe(pipes[i]), 0);
        pids[i] = fork();
        if (pids[i] == 0) {
            char out[4096], err[4096];
            const char *args[] = {"migrate", NULL};
            int rc = run_leadloopd(args, env, out, sizeof out, err, sizeof err);
            if (write(pipes[i][1], out, strlen(out)) < 0)
                rc = 99;
            _exit(rc);
        }
        close(pipes[i][1]);
    }
    char all[8192] = "";
    for (int i = 0; i < 2; i++) {
        char buf[4096];
        ssize_t got = read(pipes[i][0], buf, sizeof buf - 1);
        buf[got > 0 ? got : 0] = '\0';
        strcat(all, buf);
        int status;
        waitpid(pids[i], &status, 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "migrate %d failed", i);
        close(pipes[i][0]);
    }
    ck_assert_int_eq(count_lines_with(all, "applied "), count_migration_files(true));
    PGconn *pg = pg_db("ll_concurrent");
    char *rows = pg_value(pg, "SELECT count(*) FROM schema_migrations");
    ck_assert_int_eq(atoi(rows), count_migration_files(false));
    free(rows);
    PQfinish(pg);
}
END_TEST

START_TEST(changed_applied_migration_is_refused)
{
    char url[512], envdb[600], envdir[600], dir[300], cmd[1024], out[4096], err[4096];
    fresh_database("ll_changed", url, sizeof url);
    snprintf(dir, sizeof dir, "%s/migrations", env_or_die("LL_TEST_TMP"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dir, env_or_die("LL_MIGRATIONS"),
             dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(envdb, sizeof envdb, "DATABASE_URL=%s", url);
    snprintf(envdir, sizeof envdir, "LEADLOOP_MIGRATIONS_DIR=%s", dir);
    const char *env[] = {envdb, envdir, NULL};
    const char *migrate[] = {"migrate", NULL};
    ck_assert_int_eq(run_leadloopd(migrate, env, out, sizeof out, err, sizeof err), 0);
    snprintf(cmd, sizeof cmd, "echo '-- an edit after the fact' >> '%s/0001_init.sql'", dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_ne(run_leadloopd(migrate, env, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "0001_init") && strstr(err, "changed"), "message: %s", err);
    /* serve migrates first, so it refuses to start as well */
    const char *serve[] = {"serve", "--listen", "127.0.0.1:1", NULL};
    ck_assert_int_ne(run_leadloopd(serve, env, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "changed"), "serve message: %s", err);
}
END_TEST

struct probe {
    struct daemon *d;
    long want;
};

static bool readyz_is(void *arg)
{
    struct probe *p = arg;
    struct resp *r = req(p->d, "GET", "/readyz", NULL, NULL, NULL, 0);
    bool ok = r->status == p->want;
    resp_free(r);
    return ok;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(readyz_follows_postgresql_restart)
{
    char cmd[600];
    pid_t pid = main_daemon.pid;
    snprintf(cmd, sizeof cmd, "'%s' stop >/dev/null", env_or_die("LL_TEST_PGCTL"));
    ck_assert_int_eq(system(cmd), 0);
    struct resp *r = get("/readyz", NULL);
    assert_problem(r, 503, "unavailable");
    char *ra = resp_header(r, "Retry-After");
    ck_assert_ptr_nonnull(ra);
    free(ra);
    resp_free(r);
    r = get("/healthz", NULL); /* alive without its database */
    ck_assert_int_eq(r->status, 200);
    resp_free(r);

    snprintf(cmd, sizeof cmd, "'%s' start >/dev/null", env_or_die("LL_TEST_PGCTL"));
    ck_assert_int_eq(system(cmd), 0);
    double t0 = now_s();
    struct probe p = {&main_daemon, 200};
    ck_assert_msg(wait_until(readyz_is, &p, 2000), "not ready within 2 s of PostgreSQL's restart");
    ck_assert_msg(now_s() - t0 <= 2.0, "ready after %.2f s", now_s() - t0);
    ck_assert_int_eq(main_daemon.pid, pid);
    ck_assert_int_eq(kill(pid, 0), 0); /* the same process */
    r = get("/v1/users", admin_key);   /* and the pool serves again */
    ck_assert_int_eq(r->status, 200);
    resp_free(r);
}
END_TEST

/* --- a request held inside PostgreSQL by a row lock the test owns --- */

struct held {
    struct daemon *d;
    char path[96];
    struct resp *r;
};

static void *patch_in_thread(void *arg)
{
    struct held *h = arg;
    const char *const ct[] = {"Content-Type: application/json", NULL};
    h->r = req(h->d, "PATCH", h->path, admin_key, ct, "{\"name\":\"Patient\"}", 18);
    return NULL;
}

static bool lock_waiter_present(void *arg)
{
    return pg_lock_waiters(arg, "leadloopd") > 0;
}

static bool port_closed(void *arg)
{
    struct daemon *d = arg;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc;
    ck_assert_int_ge(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* connect() is refused once the daemon stopped listening */
    rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
    return rc != 0;
}

/* Starts a PATCH on user `id` that blocks on a row lock held by `locker`. */
static void hold_request(struct held *h, pthread_t *t, PGconn *locker, const char *id)
{
    PGconn *watch = pg_test();
    pg_ok(locker, "BEGIN");
    pg_lock_row(locker, "users", id);
    snprintf(h->path, sizeof h->path, "/v1/users/%s", id);
    ck_assert_int_eq(pthread_create(t, NULL, patch_in_thread, h), 0);
    ck_assert_msg(wait_until(lock_waiter_present, watch, 10000),
                  "the PATCH never reached the lock");
    PQfinish(watch);
}

static void new_user(char id[40], const char *email)
{
    char body[200];
    snprintf(body, sizeof body, "{\"name\":\"Slow\",\"email\":\"%s\",\"team\":\"sales\"}", email);
    struct resp *r = post("/v1/users", admin_key, body);
    ck_assert_int_eq(r->status, 201);
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

START_TEST(exhausted_pool_answers_503_and_keeps_answering_without_a_connection)
{
    struct daemon d;
    const char *env[] = {"LEADLOOP_DB_POOL=1", "LEADLOOP_DB_ACQUIRE_TIMEOUT_MS=200", NULL};
    char id[40];
    pthread_t t;
    struct held h = {&d, "", NULL};
    new_user(id, "pool@example.com");
    ck_assert(daemon_start(&d, env));
    PGconn *locker = pg_test();
    hold_request(&h, &t, locker, id);

    /* another key finds the pool empty: 503 (the holder's own key would wait for its
     * share of the pool instead: 429, see one_key_cannot_take_the_whole_pool) */
    struct resp *r = req(&d, "GET", "/v1/users", other_admin_key, NULL, NULL, 0);
    assert_problem(r, 503, "unavailable");
    char *ra = resp_header(r, "Retry-After");
    ck_assert_str_eq(ra, "1");
    free(ra);
    resp_free(r);
    /* 401, 404, 405 and OPTIONS need no connection */
    r = req(&d, "GET", "/v1/users", NULL, NULL, NULL, 0);
    assert_problem(r, 401, "unauthorized");
    resp_free(r);
    r = req(&d, "GET", "/nope", admin_key, NULL, NULL, 0);
    assert_problem(r, 404, "not-found");
    resp_free(r);
    r = req(&d, "DELETE", "/v1/users", admin_key, NULL, NULL, 0);
    assert_problem(r, 405, "method-not-allowed");
    resp_free(r);
    r = req(&d, "OPTIONS", "/v1/users", NULL, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 204);
    resp_free(r);
    r = req(&d, "GET", "/metrics", NULL, NULL, NULL, 0);
    ck_assert_msg(strstr(r->body, "leadloop_db_pool_in_use 1") &&
                      strstr(r->body, "leadloop_db_acquire_timeouts_total 1"),
                  "gauges: %s", r->body);
    resp_free(r);

    pg_ok(locker, "COMMIT");
    pthread_join(t, NULL);
    ck_assert_int_eq(h.r->status, 200);
    resp_free(h.r);
    PQfinish(locker);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

/* A batch of one lead whose email is h->path. */
static void *batch_in_thread(void *arg)
{
    struct held *h = arg;
    char body[160];
    snprintf(body, sizeof body, "{\"leads\":[{\"email\":\"%s\"}]}", h->path);
    h->r = req(h->d, "POST", "/v1/leads/batch", admin_key, json_ct, body, strlen(body));
    return NULL;
}

/* Starts a batch (of lead h->path) whose foreign-key check on its workspace blocks on a
 * lock held by `locker` on workspace slug's row (NULL: every workspace's): it holds a bulk
 * slot until the lock goes. */
static void hold_batch_on(struct held *h, pthread_t *t, PGconn *locker, const char *slug)
{
    PGconn *watch = pg_test();
    pg_ok(locker, "BEGIN");
    pg_lock_workspaces(locker, slug);
    ck_assert_int_eq(pthread_create(t, NULL, batch_in_thread, h), 0);
    ck_assert_msg(wait_until(lock_waiter_present, watch, 10000),
                  "the batch never reached the lock");
    PQfinish(watch);
}

static void hold_batch(struct held *h, pthread_t *t, PGconn *locker)
{
    hold_batch_on(h, t, locker, NULL);
}

/* For wait_until: the daemon's /metrics shows a text. */
struct metric_wait {
    struct daemon *d;
    const char *text;
};

static bool metrics_show(void *arg)
{
    const struct metric_wait *w = arg;
    struct resp *r = req(w->d, "GET", "/metrics", NULL, NULL, NULL, 0);
    bool yes = r->status == 200 && strstr(r->body, w->text) != NULL;
    resp_free(r);
    return yes;
}

/* LEADLOOP_BULK_SLOTS: a bulk request beyond the slots waits for one, then gets 503;
 * other requests go on, and the slot comes back when its request ends. */
START_TEST(bulk_requests_beyond_the_slots_wait_then_answer_503)
{
    struct daemon d;
    const char *env[] = {"LEADLOOP_BULK_SLOTS=1", "LEADLOOP_BULK_WAIT_MS=300", NULL};
    static const char second[] = "{\"leads\":[{\"email\":\"slot-2@example.com\"}]}";
    static const char third[] = "{\"leads\":[{\"email\":\"slot-3@example.com\"}]}";
    struct held h = {&d, "slot-1@example.com", NULL};
    pthread_t t;
    ck_assert(daemon_start(&d, env));
    PGconn *locker = pg_test();
    hold_batch(&h, &t, locker);

    struct resp *r = req(&d, "POST", "/v1/leads/batch", admin_key, json_ct, second, strlen(second));
    assert_problem(r, 503, "unavailable");
    ck_assert_msg(strstr(r->body, "bulk"), "%s", r->body);
    char *ra = resp_header(r, "Retry-After");
    ck_assert_str_eq(ra, "1");
    free(ra);
    resp_free(r);
    r = req(&d, "GET", "/v1/leads?limit=1", admin_key, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    resp_free(r);
    /* a key that may not write, or no key at all, waits for no slot */
    r = req(&d, "POST", "/v1/leads/batch", readonly_key, json_ct, second, strlen(second));
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = req(&d, "POST", "/v1/leads/batch", "llk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            json_ct, second, strlen(second));
    assert_problem(r, 401, "unauthorized");
    resp_free(r);

    pg_ok(locker, "COMMIT");
    pthread_join(t, NULL);
    ck_assert_int_eq(h.r->status, 200);
    resp_free(h.r);
    r = req(&d, "POST", "/v1/leads/batch", admin_key, json_ct, third, strlen(third));
    ck_assert_int_eq(r->status, 200);
    resp_free(r);
    PQfinish(locker);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* SIGTERM answers the bulk requests waiting for a slot at once (503), and lets the one
 * holding it finish. */
START_TEST(sigterm_answers_bulk_requests_waiting_for_a_slot)
{
    struct daemon d;
    const char *env[] = {"LEADLOOP_BULK_SLOTS=1", "LEADLOOP_BULK_WAIT_MS=60000", NULL};
    struct held a = {&d, "drain-a@example.com", NULL}, b = {&d, "drain-b@example.com", NULL};
    pthread_t ta, tb;
    ck_assert(daemon_start(&d, env));
    PGconn *locker = pg_test();
    hold_batch(&a, &ta, locker);
    ck_assert_int_eq(pthread_create(&tb, NULL, batch_in_thread, &b), 0);
    struct metric_wait waiting = {&d, "leadloop_bulk_waiting 1"};
    ck_assert_msg(wait_until(metrics_show, &waiting, 10000), "the second batch never waited");

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
    pthread_join(tb, NULL); /* with the lock still held: answered without its slot */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_problem(b.r, 503, "unavailable");
    /* at once, not when its 60 s wait ends */
    ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 10);
    resp_free(b.r);
    pg_ok(locker, "COMMIT");
    pthread_join(ta, NULL);
    ck_assert_msg(a.r->status == 200, "batch in flight got %ld: %s", a.r->status, a.r->body);
    resp_free(a.r);
    PQfinish(locker);
    ck_assert_int_eq(daemon_wait(&d), 0);
}
END_TEST

/* One workspace cannot hold every bulk slot: with two, workspace A's second batch waits
 * (then 503) while its first is held, and workspace B's batch takes the free slot. */
START_TEST(one_workspace_cannot_hold_every_bulk_slot)
{
    struct daemon d;
    const char *env[] = {"LEADLOOP_BULK_SLOTS=2", "LEADLOOP_BULK_WAIT_MS=300", NULL};
    static const char second[] = "{\"leads\":[{\"email\":\"fair-2@example.com\"}]}";
    static const char other[] = "{\"leads\":[{\"email\":\"fair-b@example.com\"}]}";
    struct held h = {&d, "fair-1@example.com", NULL};
    pthread_t t;
    ck_assert(daemon_start(&d, env));
    PGconn *locker = pg_test();
    /* only workspace A's row: A's batches block on it, B's do not */
    hold_batch_on(&h, &t, locker, "test-a");

    struct resp *r = req(&d, "POST", "/v1/leads/batch", admin_key, json_ct, second, strlen(second));
    assert_problem(r, 503, "unavailable"); /* A may not take the last slot */
    resp_free(r);
    r = req(&d, "POST", "/v1/leads/batch", other_admin_key, json_ct, other, strlen(other));
    ck_assert_msg(r->status == 200, "workspace B's batch got %ld: %s", r->status, r->body);
    resp_free(r);

    pg_ok(locker, "COMMIT");
    pthread_join(t, NULL);
    ck_assert_int_eq(h.r->status, 200);
    resp_free(h.r);
    PQfinish(locker);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* A CSV import of n leads named <prefix>-<i>@example.com (new). */
static char *import_csv(const char *prefix, int n, size_t *len)
{
    size_t cap = 32 + (size_t)n * 64, o;
    char *csv = malloc(cap);
    ck_assert_ptr_nonnull(csv);
    o = (size_t)snprintf(csv, cap, "email\n");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(csv + o, cap - o, "%s-%d@example.com\n", prefix, i);
    *len = o;
    return csv;
}

struct import_call {
    struct daemon *d;
    const char *prefix;
    struct resp *r;
};

static void *import_in_thread(void *arg)
{
    struct import_call *c = arg;
    static const char *const csv_ct[] = {"Content-Type: text/csv", NULL};
    size_t len;
    char *csv = import_csv(c->prefix, 3000, &len);
    c->r = req(c->d, "POST", "/v1/leads/import", admin_key, csv_ct, csv, len);
    free(csv);
    return NULL;
}

static long leads_named(PGconn *pg, const char *prefix)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM leads WHERE email LIKE '%s-%%'", prefix);
    return pg_long(pg, sql);
}

/* SIGTERM while an import waits on a lock: the daemon exits within its deadline (3 s), the
 * import answers 503, and none of its rows is committed, then or later. */
START_TEST(sigterm_during_an_import_keeps_the_deadline_and_commits_nothing)
{
    struct daemon d;
    const char *env[] = {"LEADLOOP_SHUTDOWN_TIMEOUT_S=3", NULL};
    struct import_call c = {&d, "sigterm-import", NULL};
    struct timespec t0, t1;
    pthread_t t;
    ck_assert(daemon_start(&d, env));
    PGconn *locker = pg_test(), *watch = pg_test();
    pg_ok(locker, "BEGIN");
    pg_lock_workspaces(locker, "test-a");
    ck_assert_int_eq(pthread_create(&t, NULL, import_in_thread, &c), 0);
    ck_assert_msg(wait_until(lock_waiter_present, watch, 10000), "the import never waited");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
    int rc = daemon_wait(&d);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("shutdown: SIGTERM during an import: exit %d after %.2f s (deadline 3 s)\n", rc, s);
    ck_assert_msg(s < 3.2, "exited after %.2f s", s);
    ck_assert_int_eq(rc, 0);
    pthread_join(t, NULL);
    assert_problem(c.r, 503, "unavailable");
    ck_assert_msg(strstr(c.r->body, "stopping"), "%s", c.r->body);
    resp_free(c.r);
    pg_ok(locker, "COMMIT");
    ck_assert_int_eq(leads_named(watch, "sigterm-import"), 0);
    PQfinish(locker);
    PQfinish(watch);
}
END_TEST

/* A client that leaves while its import waits: the import writes nothing afterwards. */
START_TEST(an_import_whose_client_left_commits_nothing)
{
    struct daemon d;
    struct sockaddr_in a = {.sin_family = AF_INET};
    char head[512];
    size_t len;
    char *csv = import_csv("left-import", 200, &len);
    ck_assert(daemon_start(&d, NULL));
    PGconn *locker = pg_test(), *watch = pg_test();
    pg_ok(locker, "BEGIN");
    pg_lock_workspaces(locker, "test-a");
    int fd = socket(AF_INET, SOCK_STREAM, 0), n;
    a.sin_port = htons((uint16_t)d.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    n = snprintf(head, sizeof head,
                 "POST /v1/leads/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: text/csv\r\nContent-Length: %zu\r\n\r\n",
                 admin_key, len);
    ck_assert_int_eq(write(fd, head, (size_t)n), n);
    ck_assert_int_eq(write(fd, csv, len), (ssize_t)len);
    ck_assert_msg(wait_until(lock_waiter_present, watch, 10000), "the import never waited");
    close(fd); /* the client gives up */
    pg_ok(locker, "COMMIT");
    struct metric_wait answered = {&d, "route=\"/v1/leads/import\""};
    ck_assert_msg(wait_until(metrics_show, &answered, 10000), "the import never finished");
    ck_assert_int_eq(leads_named(watch, "left-import"), 0);
    free(csv);
    PQfinish(locker);
    PQfinish(watch);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

static bool lock_waiters(PGconn *pg, int n)
{
    return pg_lock_waiters(pg, "leadloopd") >= n;
}

static bool two_lock_waiters(void *arg)
{
    return lock_waiters(arg, 2);
}

/* One key holds at most its share of the pool (pool 3: two connections): its third slow
 * request waits for a turn and gets 429, while another workspace's key is still served. */
START_TEST(one_key_cannot_take_the_whole_pool)
{
    struct daemon d;
    const char *env[] = {"LEADLOOP_DB_POOL=3", "LEADLOOP_DB_ACQUIRE_TIMEOUT_MS=300", NULL};
    struct held a = {&d, "", NULL}, b = {&d, "", NULL}, c = {&d, "", NULL};
    pthread_t ta, tb;
    char id[40];
    new_user(id, "keycap@example.com");
    ck_assert(daemon_start(&d, env));
    PGconn *locker = pg_test(), *watch = pg_test();
    pg_ok(locker, "BEGIN");
    pg_lock_row(locker, "users", id);
    snprintf(a.path, sizeof a.path, "/v1/users/%s", id);
    snprintf(b.path, sizeof b.path, "/v1/users/%s", id);
    snprintf(c.path, sizeof c.path, "/v1/users/%s", id);
    ck_assert_int_eq(pthread_create(&ta, NULL, patch_in_thread, &a), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, patch_in_thread, &b), 0);
    ck_assert_msg(wait_until(two_lock_waiters, watch, 10000), "the PATCHes never waited");

    patch_in_thread(&c); /* the key's third: no turn within the acquire timeout */
    assert_problem(c.r, 429, "rate-limited");
    char *ra = resp_header(c.r, "Retry-After");
    ck_assert_str_eq(ra, "1");
    free(ra);
    resp_free(c.r);
    struct resp *r = req(&d, "GET", "/v1/leads?limit=1", other_admin_key, NULL, NULL, 0);
    ck_assert_msg(r->status == 200, "another key got %ld: %s", r->status, r->body);
    resp_free(r);

    pg_ok(locker, "COMMIT");
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ck_assert_int_eq(a.r->status, 200);
    ck_assert_int_eq(b.r->status, 200);
    resp_free(a.r);
    resp_free(b.r);
    PQfinish(locker);
    PQfinish(watch);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

static char *field_of(const struct resp *r, const char *name)
{
    char *v = resp_header(r, name);
    ck_assert_msg(v != NULL, "no %s header in: %s", name, r->headers);
    return v;
}

static struct resp *patch_key(struct daemon *d, const char *id, const char *json)
{
    char path[96];
    static const char *const ct[] = {"Content-Type: application/merge-patch+json", NULL};
    snprintf(path, sizeof path, "/v1/api-keys/%s", id);
    return req(d, "PATCH", path, admin_key, ct, json, strlen(json));
}

struct default_limit_wait {
    struct daemon *d;
    const char *key;
};

/* For wait_until: the key's request answers 200 under the default policy (1000/s). */
static bool default_limit_back(void *arg)
{
    const struct default_limit_wait *w = arg;
    struct resp *r = req(w->d, "GET", "/v1/leads?limit=1", w->key, NULL, NULL, 0);
    char *policy = resp_header(r, "RateLimit-Policy");
    bool yes = r->status == 200 && policy && strstr(policy, "q=1000;w=1") != NULL;
    free(policy);
    resp_free(r);
    return yes;
}

/* A key's own limit, set by an admin, holds across two daemons on one database: burst 3 at
 * one a second allows three requests at once in all, then 429 with Retry-After and the
 * RateLimit fields; another key goes on; null gives the key the default back. */
START_TEST(rate_limit_per_key_holds_across_daemons)
{
    struct daemon d1, d2;
    const char *env[] = {"LEADLOOP_RATE_PER_S=1000", "LEADLOOP_RATE_BURST=0", NULL};
    char key[64], id[40];
    ck_assert(workspace_key("test-a", "sales", key));
    ck_assert(daemon_start(&d1, env));
    ck_assert(daemon_start(&d2, env));
    struct resp *r = req(&d1, "GET", "/v1/api-keys?limit=1", admin_key, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    resp_free(r);
    /* the new key is the newest of its workspace */
    PGconn *pg = pg_test();
    char *v = pg_value(pg, "SELECT id FROM api_keys ORDER BY created_at DESC LIMIT 1");
    snprintf(id, sizeof id, "%s", v);
    free(v);

    r = patch_key(&d1, id, "{\"rate_limit\":{\"per_second\":1,\"burst\":0}}");
    assert_problem(r, 422, "validation-failed");
    ck_assert(problem_names(r, "rate_limit.burst"));
    resp_free(r);
    r = patch_key(&d1, id, "{\"rate_limit\":{\"per_second\":1,\"burst\":3}}");
    ck_assert_msg(r->status == 200, "%ld %s", r->status, r->body);
    json_t *rl = json_object_get(r->json, "rate_limit");
    ck_assert_int_eq(json_integer_value(json_object_get(rl, "burst")), 3);
    resp_free(r);

    int ok = 0, limited = 0;
    for (int i = 0; i < 6; i++) {
        r = req(i % 2 ? &d2 : &d1, "GET", "/v1/leads?limit=1", key, NULL, NULL, 0);
        char *policy = field_of(r, "RateLimit-Policy"), *state = field_of(r, "RateLimit");
        ck_assert_msg(strstr(policy, "\"key\";q=3;w=3") != NULL, "policy %s", policy);
        ck_assert_msg(strncmp(state, "\"key\";r=", 8) == 0, "state %s", state);
        if (r->status == 200) {
            ok++;
        } else {
            assert_problem(r, 429, "rate-limited");
            char *ra = field_of(r, "Retry-After");
            ck_assert_int_ge(atol(ra), 1);
            free(ra);
            limited++;
        }
        free(policy);
        free(state);
        resp_free(r);
    }
    /* 3 at once, and at most one more if a second passed meanwhile */
    ck_assert_msg(ok >= 3 && ok <= 4 && limited == 6 - ok, "ok %d, limited %d", ok, limited);
    r = req(&d2, "GET", "/v1/leads?limit=1", admin_key, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200); /* another key: its own bucket */
    resp_free(r);

    r = patch_key(&d2, id, "{\"rate_limit\":null}"); /* back to the default (1000/s) */
    ck_assert_int_eq(r->status, 200);
    ck_assert(json_is_null(json_object_get(r->json, "rate_limit")));
    resp_free(r);
    /* the other daemon hears of it (the key cache's notification) and applies it */
    struct default_limit_wait w = {&d1, key};
    ck_assert_msg(wait_until(default_limit_back, &w, 5000),
                  "the other daemon never applied the default limit again");
    PQfinish(pg);
    ck_assert_int_eq(daemon_stop(&d1, SIGTERM), 0);
    ck_assert_int_eq(daemon_stop(&d2, SIGTERM), 0);
}
END_TEST

START_TEST(statement_timeout_answers_503)
{
    struct daemon d;
    const char *env[] = {"LEADLOOP_STATEMENT_TIMEOUT_MS=300", NULL};
    const char *const ct[] = {"Content-Type: application/json", NULL};
    char id[40], path[96];
    new_user(id, "timeout@example.com");
    ck_assert(daemon_start(&d, env));
    PGconn *locker = pg_test();
    pg_ok(locker, "BEGIN");
    pg_lock_row(locker, "users", id);
    snprintf(path, sizeof path, "/v1/users/%s", id);
    struct resp *r = req(&d, "PATCH", path, admin_key, ct, "{\"name\":\"Late\"}", 15);
    assert_problem(r, 503, "unavailable");
    ck_assert_msg(strstr(r->body, "SELECT") == NULL && strstr(r->body, "statement") == NULL,
                  "no SQL or server text in an answer: %s", r->body);
    resp_free(r);
    pg_ok(locker, "ROLLBACK");
    r = req(&d, "PATCH", path, admin_key, ct, "{\"name\":\"Late\"}", 15);
    ck_assert_int_eq(r->status, 200); /* the connection is fine afterwards */
    resp_free(r);
    PQfinish(locker);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

START_TEST(sigterm_lets_a_request_in_flight_finish)
{
    struct daemon d;
    char id[40];
    pthread_t t;
    struct held h = {&d, "", NULL};
    new_user(id, "sigterm@example.com");
    ck_assert(daemon_start(&d, NULL));
    PGconn *locker = pg_test();
    hold_request(&h, &t, locker, id);

    ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
    ck_assert_msg(wait_until(port_closed, &d, 5000), "still accepting connections after SIGTERM");
    pg_ok(locker, "COMMIT"); /* now let the request finish */
    pthread_join(t, NULL);
    ck_assert_msg(h.r->status == 200, "request in flight got %ld: %s", h.r->status, h.r->body);
    ck_assert_str_eq(jstr(h.r, "name"), "Patient");
    resp_free(h.r);
    PQfinish(locker);
    ck_assert_int_eq(daemon_wait(&d), 0);
}
END_TEST

START_TEST(bad_configuration_stops_the_start_naming_the_variable)
{
    char out[8192], err[1024];
    const char *args[] = {"serve", NULL};
    const char *env1[] = {"LEADLOOP_DB_POOL=0", NULL};
    ck_assert_int_ne(run_leadloopd(args, env1, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "LEADLOOP_DB_POOL") && strstr(err, "1..500"), "%s", err);
    const char *env2[] = {"LEADLOOP_LOG_FORMAT=xml", NULL};
    ck_assert_int_ne(run_leadloopd(args, env2, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "LEADLOOP_LOG_FORMAT") && strstr(err, "json"), "%s", err);
    const char *flag[] = {"serve", "--max-body", "12", NULL};
    ck_assert_int_ne(run_leadloopd(flag, NULL, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "LEADLOOP_MAX_BODY"), "%s", err);
    const char *help[] = {"--help", NULL};
    ck_assert_int_eq(run_leadloopd(help, NULL, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(out, "LEADLOOP_STATEMENT_TIMEOUT_MS") && strstr(out, "keys create"), "%s",
                  out);
}
END_TEST

Suite *lifecycle_suite(void)
{
    Suite *s = suite_create("lifecycle");
    TCase *tc = tcase_create("lifecycle");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, migrate_twice_changes_nothing);
    tcase_add_test(tc, concurrent_migrations_apply_each_file_once);
    tcase_add_test(tc, changed_applied_migration_is_refused);
    tcase_add_test(tc, bad_configuration_stops_the_start_naming_the_variable);
    tcase_add_test(tc, exhausted_pool_answers_503_and_keeps_answering_without_a_connection);
    tcase_add_test(tc, bulk_requests_beyond_the_slots_wait_then_answer_503);
    tcase_add_test(tc, one_workspace_cannot_hold_every_bulk_slot);
    tcase_add_test(tc, one_key_cannot_take_the_whole_pool);
    tcase_add_test(tc, rate_limit_per_key_holds_across_daemons);
    tcase_add_test(tc, sigterm_during_an_import_keeps_the_deadline_and_commits_nothing);
    tcase_add_test(tc, an_import_whose_client_left_commits_nothing);
    tcase_add_test(tc, sigterm_answers_bulk_requests_waiting_for_a_slot);
    tcase_add_test(tc, statement_timeout_answers_503);
    tcase_add_test(tc, sigterm_lets_a_request_in_flight_finish);
    tcase_add_test(tc, readyz_follows_postgresql_restart);
    suite_add_tcase(s, tc);
    return s;
}
