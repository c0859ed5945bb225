/* The growable buffer and the JSON text writer on it. Strings from PostgreSQL are valid
 * UTF-8 (the database checks its encoding), so escaping the ASCII specials is all JSON
 * asks. */
#include "leadloop/jw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w, size_t cap)
{
    w->p = malloc(cap);
    w->len = 0;
    w->cap = cap;
    w->oom = w->p == NULL;
}

void jw_free(struct jw *w)
{
    free(w->p);
    memset(w, 0, sizeof *w);
}

char *jw_take(struct jw *w, size_t *len)
{
    char *p;
    jw_raw(w, "", 1); /* the NUL; it may move the text, so p is read after it */
    if (w->oom) {
        jw_free(w);
        return NULL;
    }
    p = w->p;
    *len = w->len - 1;
    memset(w, 0, sizeof *w); /* empty and reusable, as after jw_free */
    return p;
}

static bool room(struct jw *w, size_t n)
{
    if (w->oom)
        return false;
    if (w->len + n <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n)
        cap *= 2;
    char *grown = realloc(w->p, cap);
    if (!grown) {
        w->oom = true;
        return false;
    }
    w->p = grown;
    w->cap = cap;
    return true;
}

void jw_reset(struct jw *w)
{
    w->len = 0;
}

bool jw_reserve(struct jw *w, size_t n)
{
    return room(w, n);
}

const char *jw_cstr(struct jw *w)
{
    if (!room(w, 1))
        return NULL;
    w->p[w->len] = '\0';
    return w->p;
}

void jw_printf(struct jw *w, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        w->oom = true;
        return;
    }
    if (!room(w, (size_t)n + 1)) /* vsnprintf writes a NUL after the text */
        return;
    va_start(ap, fmt);
    vsnprintf(w->p + w->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->len += (size_t)n;
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
    if (!room(w, n))
        return;
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

void jw_lit(struct jw *w, const char *s)
{
    jw_raw(w, s, strlen(s));
}

/* Bytes JSON strings may not hold as they are: control characters, '"' and '\\'. */
static const unsigned char special[256] = {1, 1, 1, 1, 1, 1, 1, 1, 1,         1,         1, 1,
                                           1, 1, 1, 1, 1, 1, 1, 1, 1,         1,         1, 1,
                                           1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1};

void jw_str(struct jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    /* Most strings need no escaping: find out in one tight pass and copy them whole. */
    while (i < n && !special[(unsigned char)s[i]])
        i++;
    if (i == n) {
        if (!room(w, n + 2))
            return;
        w->p[w->len++] = '"';
        memcpy(w->p + w->len, s, n);
        w->len += n;
        w->p[w->len++] = '"';
        return;
    }
    if (!room(w, n * 6 + 2)) /* the worst case: every byte a \u00XX */
        return;
    char *o = w->p + w->len;
    *o++ = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            *o++ = '\\';
            if (c == '\n')
                *o++ = 'n';
            else if (c == '\t')
                *o++ = 't';
            else if (c == '\r')
                *o++ = 'r';
            else {
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->p);
}

static void key(struct jw *w, const char *k)
{
    if (w->len > 0 && w->p[w->len - 1] != '{' && w->p[w->len - 1] != '[')
        jw_raw(w, ",", 1);
    jw_str(w, k, strlen(k));
    jw_raw(w, ":", 1);
}

void jw_text(struct jw *w, const char *k, const PGresult *res, int row, int col)
{
    key(w, k);
    if (PQgetisnull(res, row, col))
        jw_raw(w, "null", 4);
    else
        jw_str(w, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

void jw_json(struct jw *w, const char *k, const PGresult *res, int row, int col)
{
    key(w, k);
    if (PQgetisnull(res, row, col))
        jw_raw(w, "null", 4);
    else
        jw_raw(w, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

void jw_bool(struct jw *w, const char *k, const PGresult *res, int row, int col)
{
    key(w, k);
    if (PQgetisnull(res, row, col))
        jw_raw(w, "null", 4);
    else if (PQgetvalue(res, row, col)[0] == 't')
        jw_raw(w, "true", 4);
    else
        jw_raw(w, "false", 5);
}
