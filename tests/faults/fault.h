/* The fault suite's harness: a scenario's world (a fresh database on the harness's
 * PostgreSQL cluster, a workspace, an admin key, a daemon), control of that cluster
 * (crash, restart, freeze), a load of libcurl clients that tally every answer and its
 * time, and the check that acknowledged creates are in the database exactly once.
 *
 * A scenario is a Check TCase in a file of its own (see scenarios.h): it builds a scene,
 * starts a load, does its harm, asserts on the tallies, and prints one line of figures
 * with fault_report. */
#ifndef LEADLOOP_TESTS_FAULT_H
#define LEADLOOP_TESTS_FAULT_H
#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "support.h"

/* ------------------------------------------------------------------ the scene */

struct scene {
    char name[48];
    char dburl[512];
    char dbenv[540]; /* "DATABASE_URL=<dburl>", for the daemon's environment */
    char key[64];    /* an admin key of workspace "faults" */
    struct daemon d;
};

/* Thaws and starts the cluster if a scenario before left it frozen or stopped, creates
 * a fresh database fault_<name>, migrates it, creates a workspace and an admin key, and
 * starts a daemon on it with env (NULL-terminated "NAME=value" entries; may be NULL).
 * Fails the test on any error. */
void scene_begin(struct scene *s, const char *name, const char *const *env);
/* Creates another workspace on the scene's database and an admin key of it. */
void scene_workspace_key(const struct scene *s, const char *slug, char key[64]);
/* Starts (another) daemon on the scene's database; the previous one must have exited. */
void scene_daemon_start(struct scene *s, const char *const *env);
/* Stops the daemon if it runs (SIGTERM; it must exit 0) and leaves the cluster running. */
void scene_end(struct scene *s);
/* A new connection to the scene's database; PQfinish it. */
PGconn *scene_pg(const struct scene *s);
/* Backends of the scene's daemons now (application_name leadloopd). */
long scene_daemon_backends(const struct scene *s);

/* The harness's control of its cluster (tests/harness.sh, LL_TEST_PGCTL): stop,
 * immediate, start, freeze, thaw. Fails the test when the command fails. */
void pg_control(const char *what);

/* Prints "fault: <scenario>: <figures>" on stdout at once. */
void fault_report(const char *scenario, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic seconds. */
double now_s(void);
/* Pauses between retries of a client (pacing, not synchronisation). */
void pause_ms(int ms);

/* ------------------------------------------------------------------ the load */

/* What the answers were. A 503 is "good" when it is problem+json with Retry-After. */
struct tally {
    long total, ok, unavailable, client_error, server_error, no_answer, hung;
    /* 409 to a retried create whose first try is still being answered (or whose backend,
     * cut off by a deadline, still holds the key's lock): documented as "retry" */
    long conflict;
    long bad_503;    /* 503 without application/problem+json or Retry-After */
    long over_bound; /* answered later than the load's bound_s */
    double max_s;
};

struct load;

struct client {
    int id;
    struct load *load;
    CURL *curl;
    struct tally tally;
    /* the last answer */
    long status;
    char *body;
    size_t len;
    /* creates of this client: name "f<id>-<n>", acked[n] once a 2xx came back */
    long next;
    unsigned char *acked;
    long acked_cap;
};

struct load {
    struct scene *scene;
    int nclients;
    double bound_s; /* an answer later than this counts in over_bound */
    long hang_ms;   /* a request unanswered this long counts as hung */
    /* One unit of work; the client loops on it until the load stops or it returns false. */
    bool (*step)(struct client *c);
    void *arg;
    atomic_bool stop;
    atomic_long acked_total, answered;
    pthread_t *threads;
    struct client *clients;
};

/* Starts nclients threads calling step. bound_s and hang_ms as above. */
void load_start(struct load *l, struct scene *s, int nclients, bool (*step)(struct client *c),
                void *arg, double bound_s, long hang_ms);
/* Asks the clients to stop after their current step and joins them. */
void load_stop(struct load *l);
/* The sum of the clients' tallies. */
struct tally load_tally(const struct load *l);
/* Frees what load_start allocated. */
void load_free(struct load *l);
/* Waits (polling, up to timeout_s) until `more` creates beyond those acked now are acked;
 * false when they were not. */
bool load_progress(struct load *l, long more, double timeout_s);

/* The same for answers of any kind (or none). */
bool load_answered(struct load *l, long more, double timeout_s);

/* One request on the client's connection (kept alive), tallied; the answer is in
 * c->status (0 when none came), c->body. Returns c->status. */
long client_request(struct client *c, const char *method, const char *path,
                    const char *const *headers, const char *body, size_t len);

/* Steps for load_start. create_step: a campaign "f<id>-<n>" with Idempotency-Key of the
 * same name, retried with the same key on 503, 409 and no answer until acknowledged or
 * until the load stops and 30 s more passed. read_step: a page of campaigns. mixed_step:
 * one of each in turn. */
bool create_step(struct client *c);
bool read_step(struct client *c);
bool mixed_step(struct client *c);
/* A create tried once (acknowledged or not), for a daemon that is going away. */
bool create_once_step(struct client *c);

/* What the database holds of the load's creates. lost: acknowledged but absent;
 * dup: rows beyond one per name; extra: present but never acknowledged (the client gave
 * up, or was cut off by the fault, after the write committed: allowed). */
struct creates {
    long acked, rows, lost, dup, extra;
};
struct creates creates_check(const struct load *l);

/* GET /readyz on a connection of its own: the status (0: no answer in 10 s); *secs (may be
 * NULL) how long it took. */
long probe_readyz(const struct scene *s, double *secs);

/* After a fault: waits until /readyz answers 200 (15 s at most), then runs four clients
 * until 40 more creates are acknowledged and requires every answer to be a 2xx. Returns
 * the seconds until ready; *t gets the tally. */
double assert_recovered(struct scene *s, const char *after, struct tally *t);

/* Formats a tally as "answers=N ok=N 503=N ..." into buf. */
const char *tally_text(const struct tally *t, char *buf, size_t len);

#endif
