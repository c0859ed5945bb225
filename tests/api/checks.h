/* Assertions and small requests shared by the resource suites: each fails the running
 * test with a message that names what it expected and what it got. On main_daemon. */
#ifndef LEADLOOP_TESTS_CHECKS_H
#define LEADLOOP_TESTS_CHECKS_H
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "support.h"

/* A well-formed UUID that no workspace has. */
extern const char random_id[];

void expect_status(const struct resp *r, long status, const char *what);
/* Asserts r is a 422 naming field. */
void expect_invalid(const struct resp *r, const char *field, const char *what);
void expect_header(const struct resp *r, const char *name, const char *want);
/* Text of v for a message (a few at a time; the main thread only). Borrowed. */
const char *js(const json_t *v);
long jint(const struct resp *r, const char *key);
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ": RFC 3339, UTC, microseconds. */
bool is_timestamp(const char *s);
void url_encode(const char *in, char *out, size_t cap);

/* POSTs body and requires 201; the new id into id. */
void create(const char *path, const char *key, const char *body, char id[40]);
void new_user(const char *key, const char *email, char id[40]);
/* A new API key of role in the workspace of admin (the secret into key). */
void new_key(const char *admin, const char *role, char key[64]);
/* Follows next_cursor from path (which has a query) and joins member `field` of every
 * item with ','; checks each page's Link header against its next_cursor. */
void collect(const char *key, const char *path, const char *field, char *out, size_t cap);

/* One request of several sent at once: each racer waits at barrier, then sends; the
 * answer goes to r (new, resp_free it). race() is a pthread start routine. */
struct racer {
    pthread_barrier_t *barrier;
    const char *method, *path, *key, *body, *if_match, *idem;
    struct resp *r;
};
void *race(void *arg);

#endif
