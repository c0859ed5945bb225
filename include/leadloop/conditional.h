/* Conditional writes (If-Match), one rule for every resource: how the header becomes a
 * condition on the row's version, and what a write that matched no row answers. Every
 * editable row carries `version`, and its ETag is "<version>" (DESIGN section 5).
 *
 * The rule: no If-Match, or "*", writes any version; one strong tag "N" writes version N
 * only; anything else (a weak or foreign tag, a list) can match no version, and the write
 * fails 412. A write that matched no row is 404 when the row is missing, 412 (with the
 * current ETag) when If-Match names another version, and 409 when it names the current
 * one: the row changed between the write and the look that followed it. */
#ifndef LEADLOOP_CONDITIONAL_H
#define LEADLOOP_CONDITIONAL_H
#include <stdbool.h>

#include "leadloop/db.h"
#include "leadloop/problem.h"

struct request;

struct conditional {
    int state;      /* 0: any version; 1: `version` only; -1: no version */
    long version;   /* with state 1 */
    char param[24]; /* conditional_param's text */
};

/* Parses an If-Match header value (NULL when absent) into c. */
void conditional_init(struct conditional *c, const char *if_match);
/* The same from a request's If-Match header. */
void conditional_from_request(struct conditional *c, struct request *r);

/* The condition as one statement parameter, for `($n::integer IS NULL OR version = $n)`:
 * NULL for any version, else the version as text ("0", which no row has, when none may
 * match). Borrowed from c. */
const char *conditional_param(const struct conditional *c);
/* For a write that locked its row first: true when the row at `version` may be written. */
bool conditional_allows(const struct conditional *c, long version);

/* After a conditional write matched no row, finds out why with sql_version ($1 workspace,
 * $2 key -> the row's version): LL_E_NOT_FOUND, LL_E_PRECONDITION (*current: the row's
 * version), LL_E_CONFLICT (If-Match allows the current version: the row changed meanwhile),
 * or the database error. */
enum ll_err conditional_no_row(struct db_conn *db, const char *sql_version, const char *workspace,
                               const char *key, const struct conditional *c, long *current)
    __attribute__((warn_unused_result));

/* Answers the outcome of conditional_no_row (or LL_E_PRECONDITION of a locked row at version
 * current): 404 with not_found, 412 with the current ETag, 409 with changed, or the database
 * error. */
void conditional_reply(struct request *r, enum ll_err err, long current, const char *not_found,
                       const char *changed);

#endif
