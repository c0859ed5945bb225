/* libFuzzer target: list cursors and change-feed cursors as a client may send them. A
 * list cursor that reads must write back to a cursor that reads the same; a feed cursor
 * that reads must be the one spelling cursor_feed_format gives its position. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WS "7a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"

static void list_cursor(const char *s, const char *sort)
{
    char value[1200], id[37], again[CURSOR_LIST_SIZE], value2[1200], id2[37];
    bool desc = sort[0] == '-';
    if (cursor_list_decode(s, sort, value, sizeof value, id) != CURSOR_OK)
        return;
    if (strlen(id) != 36 || !cursor_list_encode(desc, sort + desc, value, id, again) ||
        cursor_list_decode(again, sort, value2, sizeof value2, id2) != CURSOR_OK ||
        strcmp(value, value2) != 0 || strcmp(id, id2) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    struct change_pos p;
    char text[64];
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    list_cursor(s, "name");
    list_cursor(s, "-created_at");
    if (cursor_feed_parse(s, WS, &p)) {
        cursor_feed_format(&p, WS, text);
        if (strcmp(text, s) != 0 || p.seq > INT64_MAX)
            abort();
    }
    free(s);
    return 0;
}
