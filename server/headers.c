/* Header values the daemon decides on: Content-Type, Accept-Encoding, If-None-Match,
 * If-Match and Accept, parsed here and only here (they were in http.c and reports.c), as
 * pure functions over the value's text. Every loop stops at the value's NUL; nothing is
 * allocated. */
#include "leadloop/headers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadloop/util.h"

bool headers_media_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, want, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

bool headers_accepts_gzip(const char *ae)
{
    double gzip = -1, any = -1;
    if (!ae)
        return false;
    for (const char *p = ae; *p;) {
        char coding[16];
        size_t n = 0;
        double q = 1;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        for (; *p && *p != ';' && *p != ',' && *p != ' ' && *p != '\t'; p++)
            if (n + 1 < sizeof coding) /* a longer coding is none of those below */
                coding[n++] = *p;
        coding[n] = '\0';
        while (*p && *p != ',') { /* parameters: only q matters */
            if (*p == ';') {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
                    q = strtod(p + 2, NULL);
            } else {
                p++;
            }
        }
        if (!strcasecmp(coding, "gzip") || !strcasecmp(coding, "x-gzip"))
            gzip = q > gzip ? q : gzip;
        else if (!strcmp(coding, "*"))
            any = q > any ? q : any;
    }
    return gzip >= 0 ? gzip > 0 : any > 0;
}

bool headers_if_none_match_lists(const char *h, const char *etag)
{
    size_t n = strlen(etag);
    if (!h)
        return false;
    for (const char *p = h; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (!strncmp(p, "W/", 2))
            p += 2;
        if (*p == '"') { /* a quoted tag, compared whole: a comma inside it ends nothing */
            const char *end = strchr(p + 1, '"');
            if (!end)
                return false;
            if ((size_t)(end + 1 - p) == n && !strncmp(p, etag, n) &&
                (end[1] == '\0' || end[1] == ',' || end[1] == ' ' || end[1] == '\t'))
                return true;
            p = end + 1;
        }
        while (*p && *p != ',')
            p++;
    }
    return false;
}

bool headers_if_match_lists(const char *h, long version)
{
    char want[32];
    const char *p;
    size_t wl = (size_t)snprintf(want, sizeof want, "\"%ld\"", version);
    for (p = h; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (!strncmp(p, want, wl) && (p[wl] == '\0' || p[wl] == ',' || p[wl] == ' '))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

int headers_if_match_version(const char *h, long *version)
{
    char digits[24];
    size_t n;
    if (!h || !strcmp(h, "*"))
        return 0;
    n = strlen(h);
    if (n < 3 || n > 22 || h[0] != '"' || h[n - 1] != '"')
        return -1;
    /* Entity tags compare as text (RFC 9110 8.8.3.2): "01" and "+1" are not the tag "1"
     * that the ETag header gives, and headers_if_match_lists would not match them. */
    if (h[1] == '0' || strspn(h + 1, "0123456789") != n - 2)
        return -1;
    memcpy(digits, h + 1, n - 2);
    digits[n - 2] = '\0';
    return util_parse_long(digits, 1, 2147483647L, version) ? 1 : -1;
}

int headers_accept_csv(const char *accept)
{
    double q_of[2] = {-1, -1};
    int spec[2] = {0, 0}, pos[2] = {0, 0}, at = 0;
    if (!accept || !*accept)
        return 0;
    for (const char *p = accept; *p;) {
        char type[64];
        size_t n = 0;
        double q = 1;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        while (*p && *p != ';' && *p != ',' && *p != ' ' && n + 1 < sizeof type)
            type[n++] = *p++;
        type[n] = '\0';
        while (*p && *p != ',') { /* parameters: only q matters */
            if (*p == ';') {
                p++;
                while (*p == ' ')
                    p++;
                if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
                    q = strtod(p + 2, NULL);
            } else {
                p++;
            }
        }
        at++;
        /* how specifically this range names JSON [0] and CSV [1]: 3 exact, 2 subtype
         * wildcard, 1 any */
        int s[2] = {!strcasecmp(type, "application/json") ? 3
                    : !strcasecmp(type, "application/*")  ? 2
                    : !strcmp(type, "*/*")                ? 1
                                                          : 0,
                    !strcasecmp(type, "text/csv") ? 3
                    : !strcasecmp(type, "text/*") ? 2
                    : !strcmp(type, "*/*")        ? 1
                                                  : 0};
        for (int i = 0; i < 2; i++)
            if (s[i] > spec[i] || (s[i] == spec[i] && s[i] > 0 && q > q_of[i])) {
                spec[i] = s[i];
                q_of[i] = q;
                pos[i] = s[i] == 1 ? at + i : at; /* any/any alone: JSON first */
            }
    }
    if (q_of[0] <= 0 && q_of[1] <= 0)
        return -1;
    return q_of[1] > q_of[0] || (q_of[1] == q_of[0] && pos[1] < pos[0]);
}
