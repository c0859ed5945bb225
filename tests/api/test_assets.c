/* The web app and the API reference as the daemon serves them from the files built into
 * it (server/assets.c): / redirects to /app; any /app path that names no file gets the
 * app's page; hashed files are cached for ever under an ETag of their content, pages are
 * revalidated (304); gzip when the client takes it, the same bytes otherwise; the CSP and
 * the other headers; 404 for an unknown hashed file and for path detours; no database
 * needed; and the app's first load within its budget. */
#include <check.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

static const char csp_app[] = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                              "base-uri 'none'; form-action 'self'";
static const char csp_docs[] = "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/* The budget for the app's first load (its page, script and styles), compressed. */
#define FIRST_LOAD_BUDGET (250 * 1024)

/* GET path on main_daemon with one extra header line (NULL: none). */
static struct resp *get_with(const char *path, const char *header)
{
    const char *h[] = {header, NULL};
    return req(&main_daemon, "GET", path, NULL, header ? h : NULL, NULL, 0);
}

/* Asserts header name of r is want. */
static void header_is(const struct resp *r, const char *name, const char *want)
{
    char *v = resp_header(r, name);
    ck_assert_msg(v && !strcmp(v, want), "%s: expected '%s', got '%s'", name, want,
                  v ? v : "(absent)");
    free(v);
}

static void header_absent(const struct resp *r, const char *name)
{
    char *v = resp_header(r, name);
    ck_assert_msg(!v, "%s: expected none, got '%s'", name, v);
}

/* The value of attr="..." after the first occurrence of `after` in html (new string). */
static char *attr_after(const char *html, const char *after, const char *attr)
{
    const char *p = strstr(html, after), *q, *end;
    char pat[32];
    ck_assert_msg(p != NULL, "the page has no %s: %.400s", after, html);
    snprintf(pat, sizeof pat, "%s=\"", attr);
    q = strstr(p, pat);
    ck_assert_msg(q != NULL, "no %s after %s", attr, after);
    q += strlen(pat);
    end = strchr(q, '"');
    ck_assert_ptr_nonnull(end);
    return strndup(q, (size_t)(end - q));
}

/* The app's script and stylesheet, as its page names them (new strings). */
static void app_files(char **js, char **css)
{
    struct resp *r = get("/app", NULL);
    ck_assert_int_eq(r->status, 200);
    *js = attr_after(r->body, "<script", "src");
    *css = attr_after(r->body, "<link rel=\"stylesheet\"", "href");
    resp_free(r);
    ck_assert_msg(!strncmp(*js, "/app/assets/", 12), "script at %s", *js);
    ck_assert_msg(!strncmp(*css, "/app/assets/", 12), "styles at %s", *css);
}

/* The strong ETag the build gives len bytes at p: the first 32 hex of their SHA-256. */
static void content_etag(const void *p, size_t len, char out[40])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    ck_assert(EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL));
    out[0] = '"';
    for (int i = 0; i < 16; i++)
        snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
    out[33] = '"';
    out[34] = '\0';
}

/* GET path with libcurl decoding gzip itself (it sends Accept-Encoding: gzip); the body as
 * decoded into *body (new), the Content-Encoding header seen into enc. */
static size_t decoded_get(const char *path, char **body, char enc[32])
{
    CURL *c = curl_easy_init();
    struct growbuf bb = {NULL, 0}, hb = {NULL, 0};
    char url[512];
    long status = 0;
    snprintf(url, sizeof url, "%s%s", main_daemon.base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, growbuf_append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &bb);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, growbuf_append);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    ck_assert_int_eq(status, 200);
    struct resp head = {200, NULL, 0, hb.p, NULL};
    char *e = resp_header(&head, "Content-Encoding");
    snprintf(enc, 32, "%s", e ? e : "");
    free(e);
    free(hb.p);
    *body = bb.p;
    return bb.len;
}

START_TEST(root_redirects_to_the_app)
{
    struct resp *r = get("/", NULL);
    ck_assert_int_eq(r->status, 302);
    header_is(r, "Location", "/app");
    char *rid = resp_header(r, "X-Request-Id");
    ck_assert_ptr_nonnull(rid);
    free(rid);
    resp_free(r);
}
END_TEST

/* The app routes in the browser: every address of it gets its page, as /app does. */
START_TEST(a_deep_app_path_gets_the_page)
{
    static const char *const paths[] = {"/app/", "/app/leads/6f1c2b1e-8d4e-4b7a-9c3d-1e2f3a4b5c6d",
                                        "/app/reports/campaigns?model=first_touch",
                                        "/app/index.html", "/app/settings/users/"};
    struct resp *app = get("/app", NULL);
    ck_assert_int_eq(app->status, 200);
    header_is(app, "Content-Type", "text/html; charset=utf-8");
    header_is(app, "Cache-Control", "no-cache");
    ck_assert_msg(strstr(app->body, "<div id=\"app\">") != NULL, "not the app's page: %.300s",
                  app->body);
    char *etag = resp_header(app, "ETag"), want[40];
    content_etag(app->body, app->len, want);
    ck_assert_str_eq(etag, want);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct resp *r = get(paths[i], NULL);
        ck_assert_msg(r->status == 200, "GET %s: %ld", paths[i], r->status);
        ck_assert_msg(r->len == app->len && !memcmp(r->body, app->body, r->len),
                      "GET %s: not the app's page: %.200s", paths[i], r->body);
        header_is(r, "ETag", etag);
        header_is(r, "Content-Type", "text/html; charset=utf-8");
        resp_free(r);
    }
    free(etag);
    resp_free(app);
}
END_TEST

/* A file under assets/ has its content's hash in its name: cached for a year, immutable,
 * under a strong ETag of its content. */
START_TEST(a_hashed_file_is_immutable_under_the_etag_of_its_content)
{
    char *js, *css, want[40];
    app_files(&js, &css);
    struct resp *r = get(js, NULL);
    ck_assert_int_eq(r->status, 200);
    header_is(r, "Content-Type", "text/javascript; charset=utf-8");
    header_is(r, "Cache-Control", "public, max-age=31536000, immutable");
    content_etag(r->body, r->len, want);
    header_is(r, "ETag", want);
    header_absent(r, "Content-Encoding");
    resp_free(r);

    r = get(css, NULL);
    ck_assert_int_eq(r->status, 200);
    header_is(r, "Content-Type", "text/css; charset=utf-8");
    header_is(r, "Cache-Control", "public, max-age=31536000, immutable");
    content_etag(r->body, r->len, want);
    header_is(r, "ETag", want);
    resp_free(r);
    free(js);
    free(css);
}
END_TEST

START_TEST(if_none_match_with_the_etag_answers_304)
{
    char *js, *css, inm[160];
    app_files(&js, &css);
    free(css);
    struct resp *r = get(js, NULL);
    char *etag = resp_header(r, "ETag");
    ck_assert_ptr_nonnull(etag);
    resp_free(r);

    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    r = get_with(js, inm);
    ck_assert_int_eq(r->status, 304);
    ck_assert_uint_eq(r->len, 0);
    header_is(r, "ETag", etag);
    header_is(r, "Cache-Control", "public, max-age=31536000, immutable");
    resp_free(r);

    /* weakly compared, in a list, or "*" */
    snprintf(inm, sizeof inm, "If-None-Match: \"other\", W/%s", etag);
    r = get_with(js, inm);
    ck_assert_int_eq(r->status, 304);
    resp_free(r);
    r = get_with(js, "If-None-Match: *");
    ck_assert_int_eq(r->status, 304);
    resp_free(r);

    /* another tag, or the identity tag when the answer would be compressed: the file */
    r = get_with(js, "If-None-Match: \"0123456789abcdef0123456789abcdef\"");
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_gt(r->len, 0);
    resp_free(r);
    const char *h[] = {"Accept-Encoding: gzip", inm, NULL};
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    r = req(&main_daemon, "GET", js, NULL, h, NULL, 0);
    ck_assert_int_eq(r->status, 200);
    header_is(r, "Content-Encoding", "gzip");
    char *gz_etag = resp_header(r, "ETag"), want[200];
    resp_free(r);
    snprintf(want, sizeof want, "%.*s.gz\"", (int)strlen(etag) - 1, etag);
    ck_assert_str_eq(gz_etag, want);
    snprintf(inm, sizeof inm, "If-None-Match: %s", gz_etag);
    r = req(&main_daemon, "GET", js, NULL, h, NULL, 0);
    ck_assert_int_eq(r->status, 304);
    header_is(r, "Vary", "Accept-Encoding");
    resp_free(r);

    /* the page too: revalidated, then not sent again */
    r = get("/app/leads/x", NULL);
    free(etag);
    etag = resp_header(r, "ETag");
    resp_free(r);
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    r = get_with("/app/leads/y", inm);
    ck_assert_int_eq(r->status, 304);
    header_is(r, "Cache-Control", "no-cache");
    resp_free(r);
    free(gz_etag);
    free(etag);
    free(js);
}
END_TEST

START_TEST(gzip_when_accepted_and_the_same_bytes_otherwise)
{
    char *js, *css, *decoded, enc[32];
    app_files(&js, &css);
    free(css);
    struct resp *plain = get(js, NULL);
    ck_assert_int_eq(plain->status, 200);
    header_absent(plain, "Content-Encoding");
    header_is(plain, "Vary", "Accept-Encoding");

    struct resp *gz = get_with(js, "Accept-Encoding: gzip, deflate, br");
    ck_assert_int_eq(gz->status, 200);
    header_is(gz, "Content-Encoding", "gzip");
    header_is(gz, "Vary", "Accept-Encoding");
    header_is(gz, "Content-Type", "text/javascript; charset=utf-8");
    ck_assert_msg(gz->len > 2 && (unsigned char)gz->body[0] == 0x1f &&
                      (unsigned char)gz->body[1] == 0x8b,
                  "not gzip");
    ck_assert_uint_lt(gz->len, plain->len);

    /* decompressed, the very bytes sent without gzip */
    size_t n = decoded_get(js, &decoded, enc);
    ck_assert_str_eq(enc, "gzip");
    ck_assert_uint_eq(n, plain->len);
    ck_assert(!memcmp(decoded, plain->body, n));
    free(decoded);

    /* q=0 refuses gzip, even with "*" */
    static const char *const refuse[] = {"Accept-Encoding: gzip;q=0", "Accept-Encoding: identity",
                                         "Accept-Encoding: gzip;q=0, *;q=1",
                                         "Accept-Encoding: *;q=0"};
    for (size_t i = 0; i < sizeof refuse / sizeof refuse[0]; i++) {
        struct resp *r = get_with(js, refuse[i]);
        ck_assert_int_eq(r->status, 200);
        header_absent(r, "Content-Encoding");
        ck_assert_msg(r->len == plain->len && !memcmp(r->body, plain->body, r->len),
                      "%s: not the file as built", refuse[i]);
        resp_free(r);
    }
    resp_free(plain);
    resp_free(gz);
    free(js);
}
END_TEST

START_TEST(the_csp_and_the_other_headers)
{
    char *js, *css;
    app_files(&js, &css);
    const char *app_paths[] = {"/app", "/app/leads/1", js, css};
    for (size_t i = 0; i < sizeof app_paths / sizeof app_paths[0]; i++) {
        struct resp *r = get_with(app_paths[i], "Accept-Encoding: gzip");
        ck_assert_msg(r->status == 200, "GET %s: %ld", app_paths[i], r->status);
        header_is(r, "Content-Security-Policy", csp_app);
        header_is(r, "X-Content-Type-Options", "nosniff");
        header_is(r, "Referrer-Policy", "same-origin");
        header_is(r, "X-Frame-Options", "DENY");
        resp_free(r);
    }
    struct resp *page = get("/docs", NULL);
    ck_assert_int_eq(page->status, 200);
    header_is(page, "Content-Type", "text/html; charset=utf-8");
    header_is(page, "Cache-Control", "no-cache");
    char *redoc = attr_after(page->body, "<script", "src");
    const char *docs_paths[] = {"/docs", "/docs/", "/docs/init.js", redoc};
    for (size_t i = 0; i < sizeof docs_paths / sizeof docs_paths[0]; i++) {
        struct resp *r = get(docs_paths[i], NULL);
        ck_assert_msg(r->status == 200, "GET %s: %ld", docs_paths[i], r->status);
        header_is(r, "Content-Security-Policy", csp_docs);
        header_is(r, "X-Content-Type-Options", "nosniff");
        header_is(r, "Referrer-Policy", "same-origin");
        header_is(r, "X-Frame-Options", "DENY");
        if (i < 2)
            ck_assert(r->len == page->len && !memcmp(r->body, page->body, r->len));
        else
            header_is(r, "Content-Type", "text/javascript; charset=utf-8");
        resp_free(r);
    }
    /* the reference renders the daemon's own contract, with no other host named */
    struct resp *init = get("/docs/init.js", NULL);
    ck_assert_msg(strstr(init->body, "'/openapi.yaml'") != NULL, "%s", init->body);
    resp_free(init);
    ck_assert_msg(!strncmp(redoc, "/docs/assets/redoc.", 19), "%s", redoc);
    struct resp *r = get(redoc, NULL);
    header_is(r, "Cache-Control", "public, max-age=31536000, immutable");
    ck_assert_msg(!strstr(r->body, "cdn.redoc.ly"), "Redoc would load its logo from its CDN");
    resp_free(r);
    resp_free(page);
    free(redoc);
    free(js);
    free(css);
}
END_TEST

START_TEST(an_unknown_file_is_404)
{
    static const char *const paths[] = {"/app/assets/main.00000000.js", "/app/assets/",
                                        "/app/assets/x/y.css",          "/docs/nope.js",
                                        "/docs/assets/redoc.0.js",      "/docs/index.htm"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct resp *r = get(paths[i], NULL);
        ck_assert_msg(r->status == 404, "GET %s: %ld", paths[i], r->status);
        assert_problem(r, 404, "not-found");
        header_is(r, "Cache-Control", "no-store");
        resp_free(r);
    }
}
END_TEST

/* Paths that reach a file or the page by a detour are refused, whatever the escapes; sent
 * raw, as a client that does not tidy its paths sends them. */
START_TEST(path_detours_are_refused)
{
    static const char *const paths[] = {
        "/app/../openapi.yaml",
        "/app/%2e%2e/openapi.yaml",
        "/app/%2E%2e/x",
        "/app/.%2e/x",
        "/app/assets/../index.html",
        "/app/./index.html",
        "/app/%2e/x",
        "/app/a%2Fb",
        "/app/assets%2fmain.js",
        "/app/a%5Cb",
        "/app/a%5cb",
        "/docs/../openapi.yaml",
        "/docs/%2e%2e/%2e%2e/etc/passwd",
        "/docs/assets/..%2Finit.js",
        "/app/x/..",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char raw[512];
        int n = snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         paths[i]);
        char *got = raw_request(&main_daemon, raw, (size_t)n);
        ck_assert_msg(!strncmp(got, "HTTP/1.1 404 ", 13), "GET %s: %.200s", paths[i], got);
        ck_assert_msg(strstr(got, "application/problem+json") != NULL, "GET %s: %.300s", paths[i],
                      got);
        ck_assert_msg(!strstr(got, "text/html"), "GET %s: got a page", paths[i]);
        free(got);
    }
    /* a dot inside a name is no detour */
    struct resp *r = get("/app/leads/a..b", NULL);
    ck_assert_int_eq(r->status, 200);
    resp_free(r);
}
END_TEST

START_TEST(other_methods_are_405)
{
    static const char *const paths[] = {"/app", "/app/leads/1", "/docs", "/"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct resp *r = post(paths[i], NULL, "{}");
        ck_assert_msg(r->status == 405, "POST %s: %ld", paths[i], r->status);
        assert_problem(r, 405, "method-not-allowed");
        header_is(r, "Allow", "GET, OPTIONS");
        resp_free(r);
        r = req(&main_daemon, "DELETE", paths[i], NULL, NULL, NULL, 0);
        ck_assert_int_eq(r->status, 405);
        resp_free(r);
    }
    struct resp *r = req(&main_daemon, "OPTIONS", "/app/x", NULL, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 204);
    header_is(r, "Allow", "GET, OPTIONS");
    resp_free(r);
}
END_TEST

/* The files need no database: with the daemon's database refusing every connection, it
 * is not ready (/readyz), yet serves the app and the reference. */
START_TEST(served_without_the_database)
{
    char url[512], envbuf[600];
    struct daemon d;
    fresh_database("ll_assets_nodb", url, sizeof url);
    snprintf(envbuf, sizeof envbuf, "DATABASE_URL=%s", url);
    const char *env[] = {envbuf, "LEADLOOP_DB_ACQUIRE_TIMEOUT_MS=200", NULL};
    ck_assert(daemon_start(&d, env));

    PGconn *admin = pg_db("postgres");
    pg_ok(admin, "ALTER DATABASE ll_assets_nodb ALLOW_CONNECTIONS false");
    pg_ok(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                 " WHERE datname = 'll_assets_nodb'");
    struct resp *r = req(&d, "GET", "/readyz", NULL, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 503);
    resp_free(r);
    static const char *const paths[] = {"/app", "/app/leads/1", "/docs", "/docs/init.js"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        r = req(&d, "GET", paths[i], NULL, NULL, NULL, 0);
        ck_assert_msg(r->status == 200, "GET %s without a database: %ld %.200s", paths[i],
                      r->status, r->body);
        resp_free(r);
    }
    r = req(&d, "GET", "/", NULL, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 302);
    resp_free(r);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
    pg_ok(admin, "DROP DATABASE ll_assets_nodb");
    PQfinish(admin);
}
END_TEST

/* The budget: the app's first load (its page, script and styles) under 250 KB
 * compressed. The figures are printed for the README. */
START_TEST(the_first_load_is_within_its_budget)
{
    char *js, *css;
    app_files(&js, &css);
    const char *paths[] = {"/app", js, css};
    size_t raw = 0, sent = 0;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct resp *r = get(paths[i], NULL);
        struct resp *gz = get_with(paths[i], "Accept-Encoding: gzip");
        ck_assert_int_eq(r->status, 200);
        ck_assert_int_eq(gz->status, 200);
        raw += r->len;
        sent += gz->len;
        resp_free(r);
        resp_free(gz);
    }
    printf("assets: the app's first load (page, script, styles): %zu bytes, %zu with gzip\n", raw,
           sent);
    fflush(stdout);
    ck_assert_msg(sent < FIRST_LOAD_BUDGET, "first load %zu bytes compressed, over %d", sent,
                  FIRST_LOAD_BUDGET);
    free(js);
    free(css);
}
END_TEST

Suite *assets_suite(void)
{
    Suite *s = suite_create("assets");
    TCase *tc = tcase_create("assets");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, root_redirects_to_the_app);
    tcase_add_test(tc, a_deep_app_path_gets_the_page);
    tcase_add_test(tc, a_hashed_file_is_immutable_under_the_etag_of_its_content);
    tcase_add_test(tc, if_none_match_with_the_etag_answers_304);
    tcase_add_test(tc, gzip_when_accepted_and_the_same_bytes_otherwise);
    tcase_add_test(tc, the_csp_and_the_other_headers);
    tcase_add_test(tc, an_unknown_file_is_404);
    tcase_add_test(tc, path_detours_are_refused);
    tcase_add_test(tc, other_methods_are_405);
    tcase_add_test(tc, served_without_the_database);
    tcase_add_test(tc, the_first_load_is_within_its_budget);
    suite_add_tcase(s, tc);
    return s;
}
