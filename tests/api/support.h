/* Support for the HTTP tests: a libcurl client, daemons started as real processes on
 * free loopback ports, the harness's PostgreSQL cluster, and the leadloopd commands. */
#ifndef LEADLOOP_TESTS_SUPPORT_H
#define LEADLOOP_TESTS_SUPPORT_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct daemon {
    pid_t pid;
    int port;
    char base[64]; /* http://127.0.0.1:PORT */
    char log[256]; /* its stderr */
};

struct resp {
    long status;
    char *body;
    size_t len;
    char *headers; /* raw header block */
    json_t *json;  /* parsed body when JSON, else NULL */
};

/* The daemon most tests talk to, started by main(). */
extern struct daemon main_daemon;
/* Admin, readonly and other-workspace admin keys of the test workspaces. */
extern char admin_key[64], readonly_key[64], other_admin_key[64];

const char *env_or_die(const char *name);
/* How many rows a test of scale writes: full, or a tenth with LL_TEST_QUICK=1 (the daemon
 * under ASan/UBSan in CI, where the C paths matter and PostgreSQL's time does not). */
int test_scale(int full);
int free_port(void);

/* Starts the daemon with extra environment entries ("NAME=value", NULL-terminated) and
 * waits until /healthz answers. Returns false if it exited or never answered. */
bool daemon_start(struct daemon *d, const char *const *env);
/* daemon_start's two halves, for daemons that must start at once: fork and exec (from a
 * thread alone in its process: a fork beside other threads may copy a lock they hold),
 * then wait for /healthz. */
void daemon_spawn(struct daemon *d, const char *const *env);
bool daemon_ready(struct daemon *d);
/* Sends sig and waits for the exit; returns the exit status (or 128+signal). */
int daemon_stop(struct daemon *d, int sig);
/* Waits for the exit without signalling. */
int daemon_wait(struct daemon *d);

/* Runs bin/leadloopd with args and extra env; captures stdout into out (may be NULL). */
int run_leadloopd(const char *const *args, const char *const *env, char *out, size_t outlen,
                  char *err, size_t errlen);

/* One request. headers: NULL-terminated "Name: value" list. body may be NULL. */
struct resp *req(struct daemon *d, const char *method, const char *path, const char *key,
                 const char *const *headers, const char *body, size_t len);
struct resp *req_chunked(struct daemon *d, const char *method, const char *path, const char *key,
                         const char *const *headers, const char *body, size_t len);
/* Shorthands on main_daemon with JSON bodies. */
struct resp *get(const char *path, const char *key);
struct resp *post(const char *path, const char *key, const char *json);
struct resp *patch(const char *path, const char *key, const char *json, const char *if_match);
struct resp *del(const char *path, const char *key);
/* A request on main_daemon with a body of len bytes (NULL: none) sent as JSON (PATCH as
 * merge-patch), and If-Match and Idempotency-Key headers unless NULL. */
struct resp *send_json(const char *method, const char *path, const char *key, const char *body,
                       size_t len, const char *if_match, const char *idem_key);
struct resp *put(const char *path, const char *key, const char *json, const char *if_match);
struct resp *post_idem(const char *path, const char *key, const char *json, const char *idem_key);
struct resp *del_if(const char *path, const char *key, const char *if_match);
/* Sends raw bytes on a fresh connection and returns what came back (new string). */
char *raw_request(struct daemon *d, const char *bytes, size_t len);

/* Header value (new string) or NULL. */
char *resp_header(const struct resp *r, const char *name);
void resp_free(struct resp *r);
/* A string member of the JSON body, or "" */
const char *jstr(const struct resp *r, const char *key);

/* True when the problem's errors[] has a member with this field. */
bool problem_names(const struct resp *r, const char *field);

/* Asserts r is an RFC 9457 problem with this status (checks content type and members). */
void assert_problem(const struct resp *r, long status, const char *slug);

/* Connection to the test database (LL_TEST_DATABASE_URL); new, PQfinish it. */
PGconn *pg_test(void);
/* Connection to another database on the harness's server; new. */
PGconn *pg_db(const char *dbname);
/* A fresh, empty database; returns its URL in url. */
void fresh_database(const char *name, char *url, size_t urllen);
/* Runs sql and requires success. */
void pg_ok(PGconn *pg, const char *sql);
/* The single value of a one-row query (new string). */
char *pg_value(PGconn *pg, const char *sql);

/* The single value of a one-row query with one text parameter $1 (new string). */
char *pg_value_p(PGconn *pg, const char *sql, const char *param);
/* The single value of a one-row query as a number. */
long pg_long(PGconn *pg, const char *sql);

/* True when the tests run against a Citus cluster (LL_TEST_CITUS). */
bool test_on_citus(void);
/* True on Citus when pg's database has the citus extension (fresh_database's do not). */
bool pg_has_citus(PGconn *pg);
/* A one-number query (a count) run on every node of a Citus cluster and summed; on plain
 * PostgreSQL pg_long. For what lives per node: pg_locks, pg_stat_database. */
long pg_cluster_long(PGconn *pg, const char *sql);
/* Locks row id of table FOR UPDATE, in pg's open transaction, through its workspace: Citus
 * runs a locking read only with an equality on the distribution column. */
void pg_lock_row(PGconn *pg, const char *table, const char *id);
/* Locks workspace slug's row FOR UPDATE (slug NULL: every workspace's, one at a time). */
void pg_lock_workspaces(PGconn *pg, const char *slug);
/* Sessions of this application (NULL: any) in the test database waiting for a lock, on any
 * node of a Citus cluster. */
long pg_lock_waiters(PGconn *pg, const char *application_name);
/* Runs trigger DDL (CREATE/DROP TRIGGER); on Citus with citus.enable_unsafe_triggers on in
 * pg's session first. */
void pg_trigger_ok(PGconn *pg, const char *sql);
/* Runs sql, which creates function signature (e.g. "f()"); on Citus also makes sure the
 * workers have it, where triggers fire. */
void pg_function_ok(PGconn *pg, const char *sql, const char *signature);

/* The whole test database as pg_dump writes it (plain SQL: the schema and every row); new
 * string, len bytes. */
char *pg_dump_test(size_t *len);

/* Creates workspace slug unless it exists, and a key with this role in it (the secret
 * into key). False, with the command's message on stderr, when either fails. */
bool workspace_key(const char *slug, const char *role, char key[64]);

/* A CSV text read by RFC 4180's grammar: rows of cells, quotes undone. */
struct csv_table {
    struct csv_table_row {
        char **cells;
        size_t ncells;
    } * rows;
    size_t nrows;
};
/* Reads s (len bytes) into t (free with csv_table_free). False, saying why, when s breaks
 * the grammar: a quote inside an unquoted cell, an unclosed quoted cell, anything but a
 * comma or CRLF after a cell. */
bool csv_table_read(const char *s, size_t len, struct csv_table *t, char *why, size_t whylen);
void csv_table_free(struct csv_table *t);

/* Polls cond (returns true when done) every ms milliseconds up to timeout_ms. */
bool wait_until(bool (*cond)(void *), void *arg, int timeout_ms);

/* Mismatches of a test that checks many cases, reported together at its end: text holds
 * one line per failure (new; free it), failed counts them, checked is the caller's. */
struct report {
    char *text;
    size_t len;
    int failed, checked;
};
void report_add(struct report *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A growing NUL-terminated buffer, and libcurl's write callback that appends to one. */
struct growbuf {
    char *p;
    size_t len;
};
size_t growbuf_append(char *data, size_t size, size_t n, void *arg);

/* Raw sockets, for what libcurl would not send. Monotonic milliseconds. */
long sock_now_ms(void);
/* A connection to d from the loopback address 127.0.0.`from` (1 is 127.0.0.1). */
int sock_from(const struct daemon *d, int from);
/* Sends all n bytes (fails the test otherwise). */
void sock_send(int fd, const char *s, size_t n);
/* Reads until the server closes or timeout_ms pass; *closed says which. New string. */
char *sock_read_until_close(int fd, int timeout_ms, bool *closed);
/* Reads one whole answer (head and Content-Length body) within timeout_ms. New string. */
char *sock_read_answer(int fd, int timeout_ms);

#endif
