/* A JSON text writer for answers rendered straight from result rows: no tree, and
 * PostgreSQL's jsonb text embedded as it is (it is valid JSON already). */
#ifndef LEADLOOP_JW_H
#define LEADLOOP_JW_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct jw {
    char *p; /* owned until jw_take */
    size_t len, cap;
    bool oom;
};

void jw_init(struct jw *w, size_t cap);
void jw_free(struct jw *w);
/* Hands the text over (new, NUL-terminated; caller frees); NULL after an allocation failed. */
char *jw_take(struct jw *w, size_t *len);

void jw_raw(struct jw *w, const char *s, size_t n);
void jw_lit(struct jw *w, const char *s);           /* a literal fragment: {, ", etc. */
void jw_str(struct jw *w, const char *s, size_t n); /* a quoted, escaped string */
/* "key": then the column as a JSON string / raw JSON (numbers, booleans, jsonb) / a
 * boolean from 't'/'f'; SQL NULL as null. first: no comma before. */
void jw_text(struct jw *w, const char *key, const PGresult *res, int row, int col);
void jw_json(struct jw *w, const char *key, const PGresult *res, int row, int col);
void jw_bool(struct jw *w, const char *key, const PGresult *res, int row, int col);

#endif
