/* The CSV reader (RFC 4180) of the lead import, moved out of lead_bulk.c so that it can
 * be unit-tested and fuzzed alone. It reads in place: a field is a pointer into the body
 * and a length, and only a field holding "" pairs is ever copied (csv_field_copy). */
#include "leadloop/csv_read.h"

#include <string.h>

void csv_init(struct csv *c, const char *buf, size_t len)
{
    c->p = buf;
    c->end = buf + len;
    c->line = 1;
    c->bad_line = 0;
    c->why = NULL;
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) /* a UTF-8 byte order mark */
        c->p += 3;
}

/* The length of the line end at p (LF, CRLF, or a CR that ends the file), else 0. */
static size_t eol(const char *p, const char *end)
{
    if (p < end && *p == '\n')
        return 1;
    if (p < end && *p == '\r')
        return p + 1 == end ? 1 : p[1] == '\n' ? 2 : 0;
    return 0;
}

enum csv_status csv_row(struct csv *c, struct csv_field *fields, size_t max, size_t *n)
{
    const char *p = c->p, *end = c->end;
    size_t e;
    *n = 0;
    while ((e = eol(p, end)) > 0) {
        p += e;
        c->line++;
    }
    if (p == end) {
        c->p = p;
        return CSV_END;
    }
    for (;;) {
        struct csv_field cell = {p, 0, false};
        if (p < end && *p == '"') {
            const char *q = ++p;
            long opened = c->line;
            for (;; q++) {
                if (q == end) {
                    c->bad_line = opened;
                    c->why = "a quoted cell is never closed";
                    return CSV_BAD;
                }
                if (*q == '"' && q + 1 < end && q[1] == '"') {
                    cell.escaped = true;
                    q++;
                } else if (*q == '"') {
                    break;
                } else if (*q == '\n') {
                    c->line++;
                }
            }
            cell.s = p;
            cell.n = (size_t)(q - p);
            p = q + 1;
            if (p < end && *p != ',' && !eol(p, end)) {
                c->bad_line = c->line;
                c->why = "text follows the closing quote of a cell";
                return CSV_BAD;
            }
        } else {
            const char *q = p;
            while (q < end && *q != ',' && *q != '\n')
                q++;
            cell.n = (size_t)(q - p);
            if (cell.n > 0 && p[cell.n - 1] == '\r') /* of CRLF, or a CR ending the file */
                cell.n--;
            p = q;
        }
        if (*n < max)
            fields[*n] = cell;
        (*n)++;
        if (p == end)
            break;
        if (*p == ',') {
            p++;
            continue;
        }
        p += eol(p, end);
        c->line++;
        break;
    }
    c->p = p;
    return CSV_ROW;
}

size_t csv_field_copy(const struct csv_field *f, char *out)
{
    size_t len = 0;
    if (!f->escaped) {
        memcpy(out, f->s, f->n);
        out[f->n] = '\0';
        return f->n;
    }
    for (size_t i = 0; i < f->n; i++) {
        out[len++] = f->s[i];
        if (f->s[i] == '"')
            i++; /* the second quote of the pair */
    }
    out[len] = '\0';
    return len;
}
