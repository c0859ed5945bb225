/* libFuzzer target: header values as a client may send them, through each parser of
 * headers.c. The results are checked against what must hold whatever the value. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *h = malloc(size + 1);
    long version = -1;
    int im, accept;
    if (!h)
        abort();
    memcpy(h, data, size);
    h[size] = '\0';
    (void)headers_media_type_is(h, "application/json");
    (void)headers_media_type_is(h, "text/csv");
    im = headers_if_match_version(h, &version);
    if (im < -1 || im > 1 || (im == 1 && (version < 1 || version > 2147483647L)))
        abort();
    /* a value naming one version is listed by the other parser too */
    if (im == 1 && !headers_if_match_lists(h, version))
        abort();
    (void)headers_if_match_lists(h, (long)(size % 7));
    (void)headers_accepts_gzip(h);
    /* a value is listed by If-None-Match as itself when it is one quoted tag */
    if (size >= 2 && h[0] == '"' && h[size - 1] == '"' && !memchr(h + 1, '"', size - 2) &&
        !memchr(h, '\0', size) && !headers_if_none_match_lists(h, h))
        abort();
    (void)headers_if_none_match_lists(h, "\"0123456789abcdef0123456789abcdef\"");
    accept = headers_accept_csv(h);
    if (accept < -1 || accept > 1)
        abort();
    free(h);
    return 0;
}
