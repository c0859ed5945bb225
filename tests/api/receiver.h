/* A webhook receiver for the HTTP tests: a libmicrohttpd server in the test process on
 * 127.0.0.1 that logs every request, verifies its Standard Webhooks signature with code of
 * its own (nothing from server/), and answers as the test scripted.
 *
 * Typical use:
 *     struct receiver *rc = receiver_start(secret);
 *     ... register receiver_url(rc, "/hook", url, sizeof url) with the daemon, cause events ...
 *     ck_assert(receiver_wait_count(rc, 1, 10000));
 *     const struct receiver_entry *e = receiver_entry(rc, 0);
 *     ck_assert(e->verified && e->fresh);
 *     receiver_stop(rc);
 *
 * Every function may be called from any thread while the daemon under test delivers. A
 * malformed secret given to the receiver fails the current test. */
#ifndef LEADLOOP_TESTS_RECEIVER_H
#define LEADLOOP_TESTS_RECEIVER_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* How far a webhook-timestamp may be from the receiver's clock to count as fresh. */
#define RECEIVER_TOLERANCE_S 300
/* Secrets a receiver holds at most (receiver_add_secret beyond them fails the test). */
#define RECEIVER_SECRETS_MAX 8
/* Bodies longer than this are answered 413 (and logged, body cut). */
#define RECEIVER_BODY_MAX (1024 * 1024)

/* One request received. Every pointer is owned by the receiver and stays valid until
 * receiver_stop; an entry never changes once it is in the log. */
struct receiver_entry {
    const char *method, *path; /* "POST", "/hook" (query string excluded) */
    const char *id;            /* webhook-id, "" when absent */
    const char *timestamp;     /* webhook-timestamp as sent, "" when absent */
    long long ts;              /* its value; 0 when absent or not an integer */
    const char *signature;     /* webhook-signature as sent, "" when absent */
    const char *content_type;  /* "" when absent */
    const char *user_agent;    /* "" when absent */
    const char *body;          /* NUL-terminated */
    size_t body_len;
    json_t *json;       /* the body parsed, NULL when it is not JSON (borrowed) */
    int signatures;     /* how many "v1," signatures the header holds */
    unsigned matched;   /* bit i: a v1 signature matches secret i (in the order set) */
    bool verified;      /* matched != 0, and id and timestamp present */
    bool fresh;         /* ts within RECEIVER_TOLERANCE_S of the receiver's clock */
    int status;         /* answered; 0: the connection was closed without an answer */
    double received_at; /* CLOCK_MONOTONIC seconds, for the spacing of retries */
};

struct receiver;

/* Listens on 127.0.0.1 on a port of the kernel's choosing. secret: "whsec_<base64>", or
 * NULL for none yet (nothing verifies then). New; fails the test if it cannot start. */
struct receiver *receiver_start(const char *secret);
/* Stops serving and frees the receiver and its log. Accepts NULL. */
void receiver_stop(struct receiver *r);

int receiver_port(const struct receiver *r);
/* "http://127.0.0.1:PORT" followed by path into out. */
void receiver_url(const struct receiver *r, const char *path, char *out, size_t len);

/* Replaces every secret with this one (NULL: none). */
void receiver_set_secret(struct receiver *r, const char *secret);
/* Accepts this secret too (a rotation: a delivery verifies when any of its v1 signatures
 * matches any secret held). */
void receiver_add_secret(struct receiver *r, const char *secret);

/* The next n requests are answered status (500, 410, ...; 0 closes the connection without
 * an answer), after those already scripted; once the script is used up, 200. */
void receiver_script(struct receiver *r, int n, int status);
/* Holds each answer back ms milliseconds after the request is logged (a slow receiver, so
 * that a test can act while deliveries are under way); 0, the default, answers at once.
 * Requests are served one at a time, so this also spaces them. */
void receiver_set_delay_ms(struct receiver *r, int ms);

/* Requests received so far. */
size_t receiver_count(struct receiver *r);
/* Waits until at least n requests have been received, or timeout_ms passed; true in the
 * first case. A condition variable: woken by each request, no polling. */
bool receiver_wait_count(struct receiver *r, size_t n, int timeout_ms);
/* Entry i (0 is the first received); NULL when i >= receiver_count. Borrowed. */
const struct receiver_entry *receiver_entry(struct receiver *r, size_t i);
/* The last entry with this webhook-id, NULL when none. Borrowed. */
const struct receiver_entry *receiver_find(struct receiver *r, const char *id);

/* How many distinct webhook-ids were received (absent ones count as one id, ""). */
size_t receiver_distinct_ids(struct receiver *r);
/* How many requests carried this webhook-id. */
size_t receiver_id_count(struct receiver *r, const char *id);
/* Requests whose webhook-id had come before: receiver_count - receiver_distinct_ids. */
size_t receiver_duplicates(struct receiver *r);

#endif
