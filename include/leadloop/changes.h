/* The change feed: GET /v1/changes, read in commit-safe order from the rows the change
 * trigger writes (sql/0012_change_feed.sql), long polls woken by LISTEN/NOTIFY, and the
 * retention janitor. The webhook dispatcher reads the same rows through changes_page. */
#ifndef LEADLOOP_CHANGES_H
#define LEADLOOP_CHANGES_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "leadloop/cursor.h"
#include "leadloop/problem.h"

struct request;
struct db_conn;

/* GET /v1/changes */
void changes_list(struct request *r);

/* Subscribes to the change notifications (before listen_start) and starts the retention
 * janitor (retention_days, every purge_interval_s). conninfo is copied. */
bool changes_start(const char *conninfo, long retention_days, long purge_interval_s)
    __attribute__((warn_unused_result));
void changes_stop(void);

/* A page of the feed after `after`, at most limit (1..1000) changes whose type is in types
 * (NULL: every type; else a NULL-terminated list of exact types), api_key changes only when
 * with_keys. On success the changes are in text (or items), *next the position to continue from
 * (the frontier when the page is short), *held true when changes after the frontier exist but wait
 * for an older transaction to end, and *expired true (with no items) when `after` is before what
 * retention kept. *frontier is the feed's frontier in every case, expired and future included. */
struct changes_query {
    const char *workspace_id;
    struct change_pos after;
    long limit;
    const char *const *types;
    bool with_keys;
    bool meta_only; /* items without data (the webhook dispatcher needs positions) */
    /* no cursor (after is zero): from the oldest change kept, never expired */
    bool from_start;
};
struct changes_page {
    json_t *items; /* meta_only: [{"xid", "seq", "type"}], new */
    char *text;    /* otherwise: the JSON array of the changes, new */
    size_t text_len;
    int count; /* changes in the page */
    struct change_pos next, frontier;
    bool more, held, expired, future;
};
enum ll_err changes_page(struct db_conn *db, const struct changes_query *q,
                         struct changes_page *out) __attribute__((warn_unused_result));
/* Frees items and text (and NULLs them). */
void changes_page_free(struct changes_page *p);

/* The changes at the given positions (xids and seqs: text[] literals of equal length,
 * e.g. "{1234,1234}" and "{7,8}"), in feed order, each as {"seq": n, "body": "<the change
 * as GET /v1/changes shows it, JSON text>"}; a change no longer kept is left out. *items
 * is a new array. */
enum ll_err changes_render(struct db_conn *db, const char *workspace_id, const char *xids,
                           const char *seqs, json_t **items) __attribute__((warn_unused_result));

/* Splits a comma-separated list of change types ("lead.created", or "lead.*" for all of
 * an entity's) into list (pointers into buf, NULL-terminated, at most max). False with
 * *bad at the first unknown type, or *bad NULL when the list is empty or too long. */
bool changes_types_parse(const char *s, char *buf, size_t buflen, const char **list, int max,
                         const char **bad) __attribute__((warn_unused_result));

/* A write request of workspace_id succeeded: wakes this daemon's waiters at once, and
 * the other daemons' through a NOTIFY that a thread of its own sends (http_on_write). */
void changes_written(const char *workspace_id);

/* A counter bumped by every notification of a workspace's changes (and when the listener
 * reconnects): read it, query, and if nothing new came wait for it to move. */
uint64_t changes_generation(const char *workspace_id);
/* Waits until the generation of workspace_id differs from seen or timeout_ms passed;
 * true when it moved. */
bool changes_wait(const char *workspace_id, uint64_t seen, long timeout_ms);

/* The same over every workspace (the webhook dispatcher): a counter bumped by every
 * notification, and a wait for it to move (true) or timeout_ms. */
uint64_t changes_generation_any(void);
bool changes_wait_any(uint64_t seen, long timeout_ms);
/* Wakes every waiter at once (shutdown). */
void changes_wake_all(void);

#endif
