/* Cursors the API hands out and reads back: a list's keyset cursor (base64url of
 * "<sort>|<value>|<id>") and the change feed's position ("<xid hex>.<seq hex>.<ws8>").
 * Pure functions over text: what a cursor may hold is decided here, what its value means
 * (a timestamp, a date, an integer) by the caller. */
#ifndef LEADLOOP_CURSOR_H
#define LEADLOOP_CURSOR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest "<sort>|<value>|<id>" a list cursor carries, and the room its base64url
 * text needs with its NUL. */
#define CURSOR_LIST_RAW  1600
#define CURSOR_LIST_SIZE 2200

enum cursor_status {
    CURSOR_OK,
    CURSOR_BAD,        /* not a cursor this API gave out */
    CURSOR_OTHER_SORT, /* a cursor of another sort order */
};

/* Writes the cursor after the row (value, id) of a list sorted by the key named sort,
 * descending when desc, into out. False when it would be longer than CURSOR_LIST_RAW (such
 * a sort value cannot page). */
bool cursor_list_encode(bool desc, const char *sort, const char *value, const char *id,
                        char out[CURSOR_LIST_SIZE]) __attribute__((warn_unused_result));

/* Reads a list cursor given for the sort order sort (as in ?sort=: "name" or "-name"). On
 * CURSOR_OK, value (room for value_cap bytes) and id hold the sort value and the row id; on
 * anything else they are left as they were. The value is valid UTF-8 without NUL; the id is a UUID.
 */
enum cursor_status cursor_list_decode(const char *cursor, const char *sort, char *value,
                                      size_t value_cap, char id[37])
    __attribute__((warn_unused_result));

/* A position in one workspace's change feed: everything at or before it has been
 * served. */
struct change_pos {
    uint64_t xid, seq;
};

/* Cursor text <-> feed position. A cursor names its workspace (the first 8 hex digits of
 * its id), so one workspace's cursor is refused in another; each position has exactly one
 * spelling (lower-case hex, no leading zeros), the one cursor_feed_format writes. */
void cursor_feed_format(const struct change_pos *p, const char *workspace_id, char out[64]);
bool cursor_feed_parse(const char *s, const char *workspace_id, struct change_pos *out)
    __attribute__((warn_unused_result));

#endif
