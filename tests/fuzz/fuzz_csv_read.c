/* libFuzzer target: the import's CSV reader over any body. Every field must lie inside
 * the body, its copy be no longer than it, and the reader must end (CSV_END or CSV_BAD,
 * with a reason and a line) without reading past the end: ASan sees the body's exact
 * length because it is copied into a buffer of that size. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/csv_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1);
    char *text = malloc(size + 1);
    struct csv c;
    struct csv_field f[4];
    size_t n;
    long rows = 0;
    enum csv_status st;
    if (!body || !text)
        abort();
    memcpy(body, data, size);
    csv_init(&c, body, size);
    while ((st = csv_row(&c, f, 4, &n)) == CSV_ROW) {
        if (n == 0 || ++rows > (long)size)
            abort(); /* a record has a field, and each consumes a byte */
        for (size_t i = 0; i < n && i < 4; i++) {
            if (f[i].s < body || f[i].s + f[i].n > body + size)
                abort();
            if (csv_field_copy(&f[i], text) > f[i].n)
                abort();
        }
    }
    if (st == CSV_BAD && (!c.why || c.bad_line < 1 || c.bad_line > c.line))
        abort();
    free(body);
    free(text);
    return 0;
}
