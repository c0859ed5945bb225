/* The route table against the contract built into the binary (OWASP API9, improper
 * inventory): every route the daemon serves is an operation of openapi.yaml with the same
 * x-required-role, and every operation there is a route. The HTTP tests walk the
 * document; only this test sees a route that the document lacks. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/auth.h"
#include "leadloop/embedded.h"
#include "leadloop/router.h"
#include "leadloop/routes.h"
#include "suites.h"

struct documented {
    char method[8], path[160], role[16];
    bool served;
};

/* The operations under paths: (two spaces an indent, as redocly lints the document);
 * block scalars are skipped. Returns how many were read into ops. */
static int documented_operations(struct documented *ops, int cap)
{
    char *text = strndup(embedded_openapi, embedded_openapi_len), *save = NULL;
    char path[160] = "";
    int n = 0, scalar = -1;
    bool in_paths = false;
    struct documented *cur = NULL;
    ck_assert_ptr_nonnull(text);
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(l);
        int ind = 0;
        while (l[ind] == ' ')
            ind++;
        if (l[ind] == '\0' || l[ind] == '#' || (scalar >= 0 && ind > scalar))
            continue;
        scalar = l[len - 1] == '|' || l[len - 1] == '>' ? ind : -1;
        if (ind == 0) {
            in_paths = !strcmp(l, "paths:");
            continue;
        }
        if (!in_paths)
            continue;
        if (ind == 2 && l[2] == '/') {
            snprintf(path, sizeof path, "%.*s", (int)(len - 3), l + 2);
            cur = NULL;
        } else if (ind == 4) {
            static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
            cur = NULL;
            for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
                size_t m = strlen(methods[i]);
                if (strncmp(l + 4, methods[i], m) || strcmp(l + 4 + m, ":"))
                    continue;
                ck_assert_int_lt(n, cap);
                cur = &ops[n++];
                memset(cur, 0, sizeof *cur);
                for (size_t k = 0; k < m; k++)
                    cur->method[k] = (char)(methods[i][k] - 'a' + 'A');
                snprintf(cur->path, sizeof cur->path, "%s", path);
            }
        } else if (cur && ind == 6 && !strncmp(l + 6, "x-required-role: ", 17)) {
            snprintf(cur->role, sizeof cur->role, "%s", l + 6 + 17);
        }
    }
    free(text);
    return n;
}

/* The x-required-role that a route's roles stand for. admin and sales without marketing
 * is the one exception the document describes: x-required-role sales, marketing refused. */
static const char *required_role(const struct route *rt)
{
    if (rt->flags & ROUTE_PUBLIC)
        return rt->roles == 0 ? "none" : "(public with roles)";
    switch (rt->roles) {
    case ROLES_ADMIN:
        return "admin";
    case ROLES_MARKETING:
        return "marketing";
    case ROLES_WRITERS:
    case ROLES_SALES:
        return "sales";
    case ROLES_ANY:
        return "readonly";
    default:
        return "(roles that no x-required-role names)";
    }
}

START_TEST(routes_and_documented_operations_are_the_same)
{
    static struct documented ops[256];
    int n = documented_operations(ops, 256);
    char errors[16384] = "";
    size_t used = 0;

    ck_assert_msg(n >= 40, "read only %d operations from the embedded openapi.yaml", n);
    for (size_t i = 0; i < routes.n; i++) {
        const struct route *rt = router_at(&routes, i);
        const char *method = router_method_name(rt->method), *want = required_role(rt);
        struct documented *d = NULL;
        for (int k = 0; k < n && !d; k++)
            if (!strcmp(ops[k].method, method) && !strcmp(ops[k].path, rt->pattern))
                d = &ops[k];
        if (!d)
            used +=
                (size_t)snprintf(errors + used, sizeof errors - used,
                                 "%s %s is served but not in openapi.yaml\n", method, rt->pattern);
        else if (strcmp(d->role, want))
            used += (size_t)snprintf(errors + used, sizeof errors - used,
                                     "%s %s: x-required-role %s, the route allows %s\n", method,
                                     rt->pattern, d->role, want);
        if (d)
            d->served = true;
        /* x-required-role sales stands for two sets of roles: the exception (admin and
         * sales only) is the one the document's introduction names, in these words. */
        char exception[256];
        snprintf(exception, sizeof exception,
                 "`%s %s` (`x-required-role: sales`) takes `admin` and `sales`", method,
                 rt->pattern);
        bool documented = strstr(embedded_openapi, exception) != NULL;
        if (documented != (rt->roles == ROLES_SALES && !(rt->flags & ROUTE_PUBLIC)))
            used +=
                (size_t)snprintf(errors + used, sizeof errors - used,
                                 "%s %s: the route allows %s, and openapi.yaml %s it as"
                                 " taking admin and sales keys only\n",
                                 method, rt->pattern,
                                 rt->roles == ROLES_SALES ? "admin and sales only" : "other roles",
                                 documented ? "names" : "does not name");
        ck_assert_uint_lt(used, sizeof errors);
    }
    for (int k = 0; k < n; k++)
        if (!ops[k].served)
            used += (size_t)snprintf(errors + used, sizeof errors - used,
                                     "%s %s is in openapi.yaml but no route serves it\n",
                                     ops[k].method, ops[k].path);
    ck_assert_msg(used == 0, "the route table and openapi.yaml differ:\n%s", errors);
}
END_TEST

Suite *inventory_suite(void)
{
    Suite *s = suite_create("inventory");
    TCase *tc = tcase_create("inventory");
    tcase_add_test(tc, routes_and_documented_operations_are_the_same);
    suite_add_tcase(s, tc);
    return s;
}
