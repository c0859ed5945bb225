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

/* One element of a comma-separated list whose elements are a token and parameters, of
 * which only q matters (Accept, Accept-Encoding): the token into tok (cut to cap - 1
 * bytes: a longer one is none that the callers look for) and its q (1 when absent).
 * Advances *p past it; false at the list's end. */
static bool list_item(const char **p, char *tok, size_t cap, double *q)
{
    const char *s = *p;
    size_t n = 0;
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    *p = s;
    if (!*s)
        return false;
    for (; *s && *s != ';' && *s != ',' && *s != ' ' && *s != '\t'; s++)
        if (n + 1 < cap)
            tok[n++] = *s;
    tok[n] = '\0';
    *q = 1;
    while (*s && *s != ',') {
        if (*s == ';') {
            s++;
            while (*s == ' ' || *s == '\t')
                s++;
            if ((s[0] == 'q' || s[0] == 'Q') && s[1] == '=')
                *q = strtod(s + 2, NULL);
        } else {
            s++;
        }
    }
    *p = s;
    return true;
}

bool headers_accepts_gzip(const char *ae)
{
    double gzip = -1, any = -1, q;
    char coding[16];
    for (const char *p = ae; p && list_item(&p, coding, sizeof coding, &q);) {
        if (!strcasecmp(coding, "gzip") || !strcasecmp(coding, "x-gzip"))
            gzip = q > gzip ? q : gzip;
        else if (!strcmp(coding, "*"))
            any = q > any ? q : any;
    }
    return gzip >= 0 ? gzip > 0 : any > 0;
}

/* True when the list of entity tags h (NULL: none) holds "*" or tag (quoted, as the ETag
 * header gives it). A weak tag (W/"...") counts only when weak is true: If-None-Match
 * compares weakly, If-Match strongly (RFC 9110 8.8.3.2). A quoted tag is taken whole, so a
 * comma inside one ends nothing. */
static bool tag_listed(const char *h, const char *tag, bool weak)
{
    size_t n = strlen(tag);
    for (const char *p = h; p && *p;) {
        bool is_weak;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        is_weak = !strncmp(p, "W/", 2);
        if (is_weak)
            p += 2;
        if (*p == '"') {
            const char *end = strchr(p + 1, '"');
            if (!end)
                return false;
            if ((weak || !is_weak) && (size_t)(end + 1 - p) == n && !strncmp(p, tag, n) &&
                (end[1] == '\0' || end[1] == ',' || end[1] == ' ' || end[1] == '\t'))
                return true;
            p = end + 1;
        }
        while (*p && *p != ',')
            p++;
    }
    return false;
}

bool headers_if_none_match_lists(const char *h, const char *etag)
{
    return tag_listed(h, etag, true);
}

bool headers_if_match_lists(const char *h, long version)
{
    char want[32];
    snprintf(want, sizeof want, "\"%ld\"", version);
    return tag_listed(h, want, false);
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
    char type[64];
    double q;
    for (const char *p = accept; list_item(&p, type, sizeof type, &q);) {
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
