/* Files compiled into the binary by scripts/embed.sh: the OpenAPI document and the
 * migrations, so a deployed daemon needs nothing beside it. All borrowed, static. */
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
extern const struct embedded_file embedded_migrations[]; /* ends with {NULL} */
extern const size_t embedded_migrations_count;

#endif
