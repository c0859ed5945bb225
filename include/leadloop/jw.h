/* The daemon's one growable byte buffer, and on it a JSON text writer for answers
 * rendered straight from result rows: no tree, and PostgreSQL's jsonb text embedded as it
 * is (it is valid JSON already). Other text (Prometheus metrics, SQL parameters, the
 * statements list.h's qb builds) uses the same buffer through jw_raw, jw_printf and
 * jw_cstr. */
#ifndef LEADLOOP_JW_H
#define LEADLOOP_JW_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* A zeroed struct jw ({0}) is an empty buffer too: it allocates on first use. After an
 * allocation failed it stays failed (oom): appends do nothing, jw_take and jw_cstr give
 * NULL. */
struct jw {
    char *p; /* owned until jw_take */
    size_t len, cap;
    bool oom;
};

void jw_init(struct jw *w, size_t cap);
/* Frees the text and leaves w empty (reusable). Accepts a zeroed w. */
void jw_free(struct jw *w);
/* Hands the text over (new, NUL-terminated; caller frees); NULL after an allocation failed. */
char *jw_take(struct jw *w, size_t *len);
/* Empties w, keeping its storage (and its oom). */
void jw_reset(struct jw *w);
/* Makes room for n more bytes; false (and oom) when that fails. */
bool jw_reserve(struct jw *w, size_t n) __attribute__((warn_unused_result));
/* The text so far, NUL-terminated in place (the NUL is not counted in len); borrowed:
 * valid until the next change to w. NULL after an allocation failed. */
const char *jw_cstr(struct jw *w);
/* Appends printf-formatted text. */
void jw_printf(struct jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void jw_raw(struct jw *w, const char *s, size_t n);
void jw_lit(struct jw *w, const char *s);           /* a literal fragment: {, ", etc. */
void jw_str(struct jw *w, const char *s, size_t n); /* a quoted, escaped string */
/* "key": then the column as a JSON string / raw JSON (numbers, booleans, jsonb) / a
 * boolean from 't'/'f'; SQL NULL as null. first: no comma before. */
void jw_text(struct jw *w, const char *key, const PGresult *res, int row, int col);
void jw_json(struct jw *w, const char *key, const PGresult *res, int row, int col);
void jw_bool(struct jw *w, const char *key, const PGresult *res, int row, int col);

#endif
