/* The web app (/app) and the API reference (/docs), served from the files compiled into
 * the binary (include/leadloop/assets.h). Each file goes out as built or gzip-compressed
 * (compressed once, at build time), with a strong ETag from its content, cached for a year
 * when its name holds its content hash (under an assets/ directory) and revalidated
 * otherwise, and with the headers that keep a browser from running anything but the
 * daemon's own code. These routes are public and take no database connection. */
#include "leadloop/assets.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "leadloop/headers.h"
#include "leadloop/request.h"
#include "leadloop/router.h"

/* The headers every file gets, with its page's Content-Security-Policy. The app loads
 * scripts, styles, images and data from the daemon only; images may also be data: URLs
 * (charts exported, icons inlined by the bundler). No page may frame it. */
#define SECURITY_HEADERS                                                                           \
    {"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "same-origin"},                     \
    {                                                                                              \
        "X-Frame-Options", "DENY"                                                                  \
    }
static const char *const headers_app[][2] = {
    SECURITY_HEADERS,
    {"Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
    {NULL, NULL}};
/* Redoc (the API reference) inserts <style> elements as it renders, and runs its search
 * index in a worker it makes from a blob: URL; its scripts still come from the daemon only. */
static const char *const headers_docs[][2] = {
    SECURITY_HEADERS,
    {"Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                "style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
    {NULL, NULL}};

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".webp", "image/webp"},
    {".ico", "image/vnd.microsoft.icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

/* The media type of a file by its extension; bytes of an unknown kind are not guessed at
 * (nosniff), only downloaded. */
static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcasecmp(dot, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

const struct asset_file *assets_find(const char *path)
{
    size_t lo = 0, hi = assets_files_count;
    while (lo < hi) { /* the table is sorted by path, byte order (scripts/embed-assets.sh) */
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, assets_files[mid].path);
        if (c == 0)
            return &assets_files[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* True when a file's name holds its content hash, so that it may be cached for ever:
 * web/build.mjs puts exactly those under an assets/ directory. */
static bool immutable(const char *path)
{
    return strstr(path, "/assets/") != NULL;
}

/* Answers with file f: 304 when If-None-Match names the representation this request gets
 * (the compressed one has an ETag of its own), else the bytes, compressed when the client
 * takes gzip and that is smaller. */
static void serve(struct request *r, const struct asset_file *f, const char *const (*page)[2])
{
    bool gz = f->gz && headers_accepts_gzip(req_header(r, "Accept-Encoding"));
    const char *etag = gz ? f->etag_gz : f->etag;

    reply_fixed_headers(r, page);
    reply_header(r, "Cache-Control", "%s",
                 immutable(f->path) ? "public, max-age=31536000, immutable" : "no-cache");
    reply_header(r, "ETag", "%s", etag);
    if (f->gz) /* what a cache keeps depends on the request's Accept-Encoding */
        reply_header(r, "Vary", "Accept-Encoding");
    if (headers_if_none_match_lists(req_header(r, "If-None-Match"), etag)) {
        reply_empty(r, 304);
        return;
    }
    if (gz)
        reply_header(r, "Content-Encoding", "gzip");
    reply_static(r, 200, content_type(f->path), gz ? f->gz : f->raw, gz ? f->gz_len : f->raw_len);
}

/* True when the segment seg (len bytes, as sent) is "." or "..", an escaped dot (%2e)
 * counting as a dot. */
static bool dot_segment(const char *seg, size_t len)
{
    size_t dots = 0;
    for (size_t i = 0; i < len; dots++) {
        if (seg[i] == '.')
            i++;
        else if (len - i >= 3 && seg[i] == '%' && seg[i + 1] == '2' &&
                 (seg[i + 2] == 'e' || seg[i + 2] == 'E'))
            i += 3;
        else
            return false;
    }
    return dots == 1 || dots == 2;
}

/* True when the path as sent (escapes and all) names a file without a detour: no "." or
 * ".." segment, escaped or not, no "\", and no escaped "/" or "\". The lookup is an exact
 * match in a table, so nothing outside it can be read either way; this refuses what would
 * otherwise get the app's page for a path that no link makes. */
static bool plain_path(const char *raw)
{
    for (const char *p = raw; *p; p++)
        if (*p == '\\' || (p[0] == '%' && ((p[1] == '2' && (p[2] == 'f' || p[2] == 'F')) ||
                                           (p[1] == '5' && (p[2] == 'c' || p[2] == 'C')))))
            return false;
    for (const char *seg = raw; *seg == '/';) {
        size_t len = strcspn(++seg, "/");
        if (dot_segment(seg, len))
            return false;
        seg += len;
    }
    return true;
}

/* The file at prefix + tail (tail decoded by the request path), or NULL. */
static const struct asset_file *find_under(const char *prefix, const char *tail)
{
    char path[512];
    int n = snprintf(path, sizeof path, "%s%s", prefix, tail);
    if (n < 0 || (size_t)n >= sizeof path) /* longer than any file's path */
        return NULL;
    return assets_find(path);
}

/* The part of the path after the route's prefix, decoded: its {path}, or "" for a route
 * without one (its params are not set then). */
static const char *tail_of(const struct request *r)
{
    return strchr(r->route->pattern, '{') ? r->params[0] : "";
}

static void not_built(struct request *r)
{
    reply_problem(r, LL_E_NOT_FOUND, "this daemon was built without the web app's files", NULL,
                  NULL);
}

/* 404 for a path with a . or .. segment or an escaped / or \ (true when it answered). */
static bool refused_path(struct request *r)
{
    if (plain_path(r->path))
        return false;
    reply_problem(r, LL_E_NOT_FOUND,
                  "no resource at this path: a . or .. segment, or an escaped / or \\, is "
                  "refused",
                  NULL, NULL);
    return true;
}

void assets_root(struct request *r)
{
    reply_header(r, "Location", "/app");
    reply_empty(r, 302);
}

void assets_app(struct request *r)
{
    const char *tail = tail_of(r);
    const struct asset_file *f;
    if (refused_path(r))
        return;
    if ((f = find_under("/app/", tail))) {
        serve(r, f, headers_app);
        return;
    }
    /* A hashed file that is not there is an old page asking for what a newer build
     * replaced: the page instead would be run as a script, so say so. */
    if (!strncmp(tail, "assets/", 7)) {
        reply_problem(r, LL_E_NOT_FOUND, "no such file of the web app", NULL, NULL);
        return;
    }
    /* Any other path is one of the app's own pages (it routes in the browser): its page. */
    if ((f = assets_find("/app/index.html")))
        serve(r, f, headers_app);
    else
        not_built(r);
}

void assets_docs(struct request *r)
{
    const char *tail = tail_of(r);
    const struct asset_file *f;
    if (refused_path(r))
        return;
    if (!*tail) {
        if ((f = assets_find("/docs/index.html")))
            serve(r, f, headers_docs);
        else
            not_built(r);
        return;
    }
    if ((f = find_under("/docs/", tail)))
        serve(r, f, headers_docs);
    else
        reply_problem(r, LL_E_NOT_FOUND, "no such file of the API reference", NULL, NULL);
}
