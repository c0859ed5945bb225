/* Files compiled into the binary by scripts/embed.sh: the OpenAPI document, the migrations
 * (numbered and repeatable) and the long SQL statements, so a deployed daemon needs nothing
 * beside it. All borrowed, static. */
#ifndef LEADLOOP_EMBEDDED_H
#define LEADLOOP_EMBEDDED_H
#include <stddef.h>

struct embedded_file {
    const char *name; /* "0001_init" (no directory, no .sql) */
    const char *text; /* NUL-terminated */
    size_t len;
};

extern const char *const embedded_openapi;
extern const size_t embedded_openapi_len;
/* Each table ends with {NULL}, in file-name order. */
extern const struct embedded_file embedded_migrations[]; /* sql/NNNN_*.sql */
extern const size_t embedded_migrations_count;
extern const struct embedded_file embedded_repeatables[]; /* sql/functions/NN_name.sql */
extern const size_t embedded_repeatables_count;
extern const struct embedded_file embedded_queries[]; /* sql/queries/name.sql */
extern const size_t embedded_queries_count;

#endif
