/* Unit tests of router.c: matching exact paths and {id} captures, 405 with the allowed
 * methods, 404 for unknown paths, and the method names. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/router.h"
#include "leadloop/routes.h"
#include "suites.h"

/* router_match with a request-sized capture buffer. */
struct match {
    const struct route *rt;
    const char *params[ROUTER_MAX_PARAMS];
    char buf[256];
    int allowed;
};

static void do_match(struct match *m, const char *path, int method)
{
    memset(m, 0, sizeof *m);
    m->allowed = -1;
    m->rt = router_match(&routes, path, method, m->params, m->buf, sizeof m->buf, &m->allowed);
}

/* The route matched for method and path; fails when none is. */
static void expect_route(struct match *m, const char *path, int method, const char *pattern)
{
    do_match(m, path, method);
    ck_assert_msg(m->rt != NULL, "%s %s: expected route %s, got none (allowed %d)",
                  router_method_name(method), path, pattern, m->allowed);
    ck_assert_msg(!strcmp(m->rt->pattern, pattern), "%s %s: expected route %s, got %s",
                  router_method_name(method), path, pattern, m->rt->pattern);
    ck_assert_int_eq(m->rt->method, method);
    ck_assert_ptr_nonnull(m->rt->handler);
    ck_assert_msg(m->allowed & method, "allowed %d lacks the matched method %d", m->allowed,
                  method);
}

START_TEST(exact_paths)
{
    struct match m;

    expect_route(&m, "/healthz", HTTP_GET, "/healthz");
    ck_assert_int_eq(m.allowed, HTTP_GET);
    expect_route(&m, "/readyz", HTTP_GET, "/readyz");
    expect_route(&m, "/metrics", HTTP_GET, "/metrics");
    expect_route(&m, "/openapi.yaml", HTTP_GET, "/openapi.yaml");
    expect_route(&m, "/v1/users", HTTP_GET, "/v1/users");
    expect_route(&m, "/v1/users", HTTP_POST, "/v1/users");
    ck_assert_int_eq(m.allowed, HTTP_GET | HTTP_POST);
    expect_route(&m, "/v1/api-keys", HTTP_POST, "/v1/api-keys");
}
END_TEST

START_TEST(id_is_captured)
{
    struct match m;

    expect_route(&m, "/v1/users/6f1c2b1e-8d4e-4b7a-9c3d-1e2f3a4b5c6d", HTTP_GET, "/v1/users/{id}");
    ck_assert_str_eq(m.params[0], "6f1c2b1e-8d4e-4b7a-9c3d-1e2f3a4b5c6d");
    ck_assert_int_eq(m.allowed, HTTP_GET | HTTP_PATCH);

    expect_route(&m, "/v1/users/x", HTTP_PATCH, "/v1/users/{id}");
    ck_assert_str_eq(m.params[0], "x");

    expect_route(&m, "/v1/api-keys/k1", HTTP_DELETE, "/v1/api-keys/{id}");
    ck_assert_str_eq(m.params[0], "k1");
    ck_assert_int_eq(m.allowed, HTTP_GET | HTTP_PATCH | HTTP_DELETE);
    /* the capture lives in the caller's buffer */
    ck_assert(m.params[0] >= m.buf && m.params[0] < m.buf + sizeof m.buf);
}
END_TEST

/* A ROUTE_TAIL route's last {path} takes the rest of the path, slashes and all, or
 * nothing; its routes without a tail still win the paths they name exactly. */
START_TEST(tail_takes_the_rest_of_the_path)
{
    struct match m;

    expect_route(&m, "/app/assets/main.X.js", HTTP_GET, "/app/{path}");
    ck_assert_str_eq(m.params[0], "assets/main.X.js");
    expect_route(&m, "/app/leads/6f1c2b1e-8d4e-4b7a-9c3d-1e2f3a4b5c6d/", HTTP_GET, "/app/{path}");
    ck_assert_str_eq(m.params[0], "leads/6f1c2b1e-8d4e-4b7a-9c3d-1e2f3a4b5c6d/");
    expect_route(&m, "/app/", HTTP_GET, "/app/{path}");
    ck_assert_str_eq(m.params[0], "");
    expect_route(&m, "/app//x", HTTP_GET, "/app/{path}");
    ck_assert_str_eq(m.params[0], "/x");
    expect_route(&m, "/app", HTTP_GET, "/app");
    expect_route(&m, "/docs/", HTTP_GET, "/docs/{path}");
    ck_assert_str_eq(m.params[0], "");
    expect_route(&m, "/", HTTP_GET, "/");

    /* a tail longer than the capture buffer matches nothing */
    char path[400];
    memset(path, 'a', sizeof path - 1);
    memcpy(path, "/app/", 5);
    path[sizeof path - 1] = '\0';
    do_match(&m, path, HTTP_GET);
    ck_assert_ptr_null(m.rt);

    /* without ROUTE_TAIL, {id} still takes one segment */
    do_match(&m, "/v1/users/a/b", HTTP_GET);
    ck_assert_ptr_null(m.rt);
    do_match(&m, "/app/x", HTTP_POST);
    ck_assert_ptr_null(m.rt);
    ck_assert_int_eq(m.allowed, HTTP_GET);
}
END_TEST

START_TEST(wrong_method_sets_allowed)
{
    struct match m;

    do_match(&m, "/healthz", HTTP_POST);
    ck_assert_ptr_null(m.rt);
    ck_assert_int_eq(m.allowed, HTTP_GET);

    do_match(&m, "/v1/users", HTTP_DELETE);
    ck_assert_ptr_null(m.rt);
    ck_assert_int_eq(m.allowed, HTTP_GET | HTTP_POST);

    do_match(&m, "/v1/users/abc", HTTP_PUT);
    ck_assert_ptr_null(m.rt);
    ck_assert_int_eq(m.allowed, HTTP_GET | HTTP_PATCH);

    do_match(&m, "/v1/api-keys/abc", HTTP_OPTIONS);
    ck_assert_ptr_null(m.rt);
    ck_assert_int_eq(m.allowed, HTTP_GET | HTTP_PATCH | HTTP_DELETE);

    do_match(&m, "/v1/users", HTTP_OTHER);
    ck_assert_ptr_null(m.rt);
    ck_assert_int_eq(m.allowed, HTTP_GET | HTTP_POST);
}
END_TEST

/* Paths that no route has: 404, so nothing is allowed. */
static const char *const unknown_paths[] = {
    "",
    "/ap",      /* a prefix of /app */
    "/appx",    /* /app longer, no slash */
    "/docsx/y", /* /docs longer, then a tail */
    "/nope",
    "/healthz/",     /* trailing slash */
    "/healthzz",     /* longer */
    "/health",       /* shorter */
    "/HEALTHZ",      /* case matters */
    "/v1/users/",    /* empty {id} */
    "/v1/users//",   /* empty {id}, then an extra segment */
    "/v1/users/x/",  /* trailing slash after {id} */
    "/v1/users/x/y", /* one segment too many */
    "/v1//users",    /* empty segment */
    "//v1/users",    /* empty first segment */
    "/v1/api-keys/", /* empty {id} */
    "/v2/users",     /* other version */
};

START_TEST(unknown_path_allows_nothing)
{
    struct match m;
    const char *path = unknown_paths[_i];

    do_match(&m, path, HTTP_GET);
    ck_assert_msg(m.rt == NULL, "GET '%s': expected no route, got %s", path,
                  m.rt ? m.rt->pattern : "");
    ck_assert_msg(m.allowed == 0, "GET '%s': expected allowed 0, got %d", path, m.allowed);
}
END_TEST

/* Every route is reachable: a path made from its pattern matches that route itself, not
 * an earlier one, and the router's index functions agree with the table. */
START_TEST(every_route_matches_itself)
{
    ck_assert_uint_gt(routes.n, 0);
    ck_assert_ptr_null(router_at(&routes, routes.n));
    ck_assert_int_eq(router_index(&routes, NULL), -1);
    for (size_t i = 0; i < routes.n; i++) {
        const struct route *rt = router_at(&routes, i);
        char path[256];
        size_t o = 0;
        struct match m;

        ck_assert_ptr_nonnull(rt);
        ck_assert_int_eq(router_index(&routes, rt), (int)i);
        for (const char *p = rt->pattern; *p && o + 8 < sizeof path; p++) {
            if (*p == '{') {
                memcpy(path + o, "seg", 3);
                o += 3;
                p = strchr(p, '}');
                ck_assert_ptr_nonnull(p);
            } else {
                path[o++] = *p;
            }
        }
        path[o] = '\0';
        do_match(&m, path, rt->method);
        ck_assert_msg(m.rt == rt, "%s %s: expected route %zu (%s), got %d",
                      router_method_name(rt->method), path, i, rt->pattern,
                      router_index(&routes, m.rt));
        /* a route open to everyone has no roles; any other route names some */
        if (rt->flags & ROUTE_PUBLIC)
            ck_assert_int_eq(rt->roles, 0);
        else
            ck_assert_int_ne(rt->roles, 0);
    }
}
END_TEST

START_TEST(methods_list)
{
    char buf[64];

    router_methods_list(HTTP_GET | HTTP_POST | HTTP_OPTIONS, buf, sizeof buf);
    ck_assert_str_eq(buf, "GET, POST, OPTIONS");
    router_methods_list(HTTP_OPTIONS | HTTP_GET, buf, sizeof buf);
    ck_assert_str_eq(buf, "GET, OPTIONS");
    router_methods_list(HTTP_DELETE, buf, sizeof buf);
    ck_assert_str_eq(buf, "DELETE");
    router_methods_list(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "");
    router_methods_list(HTTP_GET | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE | HTTP_OPTIONS |
                            HTTP_HEAD,
                        buf, sizeof buf);
    ck_assert_str_eq(buf, "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD");
}
END_TEST

START_TEST(method_names)
{
    static const struct {
        const char *name;
        int method;
    } known[] = {{"GET", HTTP_GET},     {"POST", HTTP_POST},     {"PUT", HTTP_PUT},
                 {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
                 {"HEAD", HTTP_HEAD}};

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        ck_assert_int_eq(router_method_parse(known[i].name), known[i].method);
        ck_assert_str_eq(router_method_name(known[i].method), known[i].name);
    }
    /* methods are case-sensitive (RFC 9110) */
    ck_assert_int_eq(router_method_parse("get"), HTTP_OTHER);
    ck_assert_int_eq(router_method_parse("TRACE"), HTTP_OTHER);
    ck_assert_int_eq(router_method_parse("BREW"), HTTP_OTHER);
    ck_assert_int_eq(router_method_parse(""), HTTP_OTHER);
    ck_assert_int_eq(router_method_parse("GETX"), HTTP_OTHER);
    ck_assert_str_eq(router_method_name(HTTP_OTHER), "OTHER");
}
END_TEST

Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("match");

    tcase_add_test(tc, exact_paths);
    tcase_add_test(tc, id_is_captured);
    tcase_add_test(tc, tail_takes_the_rest_of_the_path);
    tcase_add_test(tc, wrong_method_sets_allowed);
    tcase_add_loop_test(tc, unknown_path_allows_nothing, 0,
                        (int)(sizeof unknown_paths / sizeof unknown_paths[0]));
    tcase_add_test(tc, every_route_matches_itself);
    suite_add_tcase(s, tc);

    tc = tcase_create("methods");
    tcase_add_test(tc, methods_list);
    tcase_add_test(tc, method_names);
    suite_add_tcase(s, tc);
    return s;
}
