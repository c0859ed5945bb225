/* The web app (/app) and the API reference (/docs), served from files compiled into the
 * binary (scripts/embed-assets.sh turns build/web into a table of them), so a deployed
 * daemon needs no file beside it. */
#ifndef LEADLOOP_ASSETS_H
#define LEADLOOP_ASSETS_H
#include <stddef.h>

struct request;

/* One embedded file. All borrowed, static. */
struct asset_file {
    const char *path;         /* its URL path: "/app/assets/main.X.js" */
    const unsigned char *raw; /* the file as built */
    size_t raw_len;
    const unsigned char *gz; /* gzip -9 of it, or NULL when that is no smaller */
    size_t gz_len;
    const char *etag;    /* "\"<first 32 hex of its SHA-256>\"", quotes included */
    const char *etag_gz; /* the same with ".gz": the compressed bytes are another representation */
};

/* The table, sorted by path (byte order); generated into build/web-embed/assets.c. */
extern const struct asset_file assets_files[];
extern const size_t assets_files_count;

/* The embedded file at this URL path, or NULL. Borrowed. */
const struct asset_file *assets_find(const char *path);

/* Handlers (routes.c): GET / redirects to /app; GET /app and /app/{path} serve the app's
 * files, and its page for any path that names none (the app routes on the client); GET
 * /docs and /docs/{path} serve the API reference. */
void assets_root(struct request *r);
void assets_app(struct request *r);
void assets_docs(struct request *r);

#endif
