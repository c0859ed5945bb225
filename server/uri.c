/* Percent-decoding of the request target's path segments and query arguments (uri.h
 * says why the daemon does it rather than libmicrohttpd). */
#include "leadloop/uri.h"

#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t uri_decode(char *s, bool *malformed)
{
    size_t in = 0, out = 0;
    bool bad = false;
    while (s[in]) {
        int hi, lo;
        /* s[in + 2] is read only when s[in + 1] is a hex digit: never past the end */
        if (s[in] == '%' && (hi = hex_value(s[in + 1])) >= 0 && (lo = hex_value(s[in + 2])) >= 0) {
            s[out++] = (char)(hi << 4 | lo);
            in += 3;
            continue;
        }
        bad = bad || s[in] == '%';
        s[out++] = s[in++];
    }
    s[out] = '\0';
    if (malformed)
        *malformed = bad;
    return out;
}

bool uri_decode_segment(char *s)
{
    bool malformed;
    size_t len = uri_decode(s, &malformed);
    return !malformed && memchr(s, '\0', len) == NULL;
}
