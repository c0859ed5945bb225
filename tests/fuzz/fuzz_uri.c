/* libFuzzer target: percent-decoding of path segments and query arguments. The decoded
 * text is never longer than the input, and decoding what a well-formed segment decoded to,
 * with its '%' escaped again, gives it back. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *a = malloc(size + 1), *b = malloc(size + 1), *c = malloc(3 * size + 1);
    bool malformed = false;
    size_t n, len, o = 0;
    if (!a || !b || !c)
        abort();
    c[0] = '\0';
    memcpy(a, data, size);
    a[size] = '\0';
    len = strlen(a);
    memcpy(b, a, len + 1);
    n = uri_decode(a, &malformed);
    if (n > len || a[n] != '\0')
        abort();
    if (uri_decode_segment(b)) {
        if (strlen(b) > len)
            abort();
        /* escape every byte again and decode: the same segment */
        for (const char *p = b; *p; p++)
            o += (size_t)snprintf(c + o, 4, "%%%02X", (unsigned char)*p);
        if (!uri_decode_segment(c) || strcmp(c, b) != 0)
            abort();
    }
    free(a);
    free(b);
    free(c);
    return 0;
}
