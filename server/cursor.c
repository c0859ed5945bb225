/* The API's cursors, written and read in one place (they were in list.c and changes.c).
 * A cursor is opaque to clients but not trusted: everything read back is checked as if
 * it were any other input, and a cursor is accepted only in the spelling we write. */
#include "leadloop/cursor.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/util.h"

bool cursor_list_encode(bool desc, const char *sort, const char *value, const char *id,
                        char out[CURSOR_LIST_SIZE])
{
    char raw[CURSOR_LIST_RAW];
    int len = snprintf(raw, sizeof raw, "%s%s|%s|%s", desc ? "-" : "", sort, value, id);
    if (len <= 0 || (size_t)len >= sizeof raw)
        return false;
    util_b64url_encode((const unsigned char *)raw, (size_t)len, out);
    return true;
}

enum cursor_status cursor_list_decode(const char *cursor, const char *sort, char *value,
                                      size_t value_cap, char id[37])
{
    /* "sort|value|id": the value may hold '|' (a name), the id never does */
    unsigned char raw[CURSOR_LIST_RAW];
    long n = util_b64url_decode(cursor, strlen(cursor), raw, sizeof raw - 1);
    char *first, *last;
    if (n <= 0)
        return CURSOR_BAD;
    raw[n] = '\0';
    first = strchr((char *)raw, '|');
    last = strrchr((char *)raw, '|');
    if (!first || first == last || !util_is_uuid(last + 1) ||
        !util_utf8_valid((char *)raw, (size_t)n))
        return CURSOR_BAD;
    *first = '\0';
    *last = '\0';
    if (strcmp((char *)raw, sort) != 0)
        return CURSOR_OTHER_SORT;
    if (strlen(first + 1) >= value_cap)
        return CURSOR_BAD;
    snprintf(value, value_cap, "%s", first + 1);
    snprintf(id, 37, "%s", last + 1);
    return CURSOR_OK;
}

void cursor_feed_format(const struct change_pos *p, const char *workspace_id, char out[64])
{
    char tag[9] = "00000000";
    for (int i = 0, j = 0; workspace_id && workspace_id[i] && j < 8; i++)
        if (workspace_id[i] != '-')
            tag[j++] = workspace_id[i];
    snprintf(out, 64, "%" PRIx64 ".%" PRIx64 ".%s", p->xid, p->seq, tag);
}

static bool parse_hex64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v * 16 + (uint64_t)d;
    }
    *out = v;
    return true;
}

bool cursor_feed_parse(const char *s, const char *workspace_id, struct change_pos *out)
{
    const char *d1 = strchr(s, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    char want[64];
    struct change_pos p;
    if (!d2 || !parse_hex64(s, (size_t)(d1 - s), &p.xid) ||
        !parse_hex64(d1 + 1, (size_t)(d2 - d1 - 1), &p.seq) || p.seq > INT64_MAX)
        return false; /* seq is a bigint: a larger one is no position of ours */
    cursor_feed_format(&p, workspace_id, want);
    if (strcmp(want, s) != 0) /* another workspace's, or not in our one spelling */
        return false;
    *out = p;
    return true;
}
