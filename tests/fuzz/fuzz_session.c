/* libFuzzer target: a Cookie header as a browser (or anyone) may send it, through the
 * session cookie's reader and the token parser of session.c. What must hold whatever the
 * value: the cookie's value lies inside the header, and a token that parses names a
 * workspace id in canonical form and a 64-digit hash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/session.h"
#include "leadloop/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *h = malloc(size + 1), ws[37], hash[65];
    size_t n = 0;
    const char *v;
    if (!h)
        abort();
    memcpy(h, data, size);
    h[size] = '\0';
    v = session_cookie(h, &n);
    if (v && (v < h || v + n > h + size))
        abort();
    /* the whole input as a token, and the cookie's value as one */
    for (int i = 0; i < 2; i++) {
        const char *t = i ? v : h;
        size_t len = i ? n : strlen(h);
        if (!t)
            continue;
        if (session_token_parse("lls_", t, len, ws, hash) &&
            (!util_is_uuid(ws) || strlen(hash) != 64))
            abort();
    }
    free(h);
    return 0;
}
