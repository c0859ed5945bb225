/* Route matching: method + path against a table of patterns. Matching is a linear scan
 * over a short table: a few hundred nanoseconds, far below one query. The table itself is
 * server/routes.c's; this module knows no handler, so the handlers' modules (which use
 * router.h for their types) and the matcher include no circle. */
#include "leadloop/router.h"

#include <stdbool.h>
#include <string.h>

/* Matches path against pattern, copying captures into buf. With tail, the pattern's last
 * {name} takes the rest of the path, slashes included, and may be empty (ROUTE_TAIL). */
static bool match(const char *pattern, const char *path, bool tail, const char **params, char *buf,
                  size_t buflen)
{
    const char *p = pattern, *s = path;
    size_t used = 0;
    int np = 0;
    while (*p) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            bool rest = tail && close[1] == '\0';
            const char *end = rest ? NULL : strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if ((len == 0 && !rest) || np >= ROUTER_MAX_PARAMS || used + len + 1 > buflen)
                return false;
            memcpy(buf + used, s, len);
            buf[used + len] = '\0';
            params[np++] = buf + used;
            used += len + 1;
            s += len;
            p = close + 1;
        } else if (*p++ != *s++) {
            return false;
        }
    }
    return *s == '\0';
}

static int templates(const char *pattern)
{
    int n = 0;
    for (; *pattern; pattern++)
        n += *pattern == '{';
    return n;
}

/* A path that fits several patterns belongs to those with the fewest templates, as
 * OpenAPI matches concrete paths before templated ones: /v1/leads/batch is not a lead
 * id, so GET there is 405 (Allow: POST), not GET /v1/leads/{id}. */
const struct route *router_match(const struct route_table *t, const char *path, int method,
                                 const char *params[ROUTER_MAX_PARAMS], char *buf, size_t buflen,
                                 int *allowed)
{
    const struct route *found = NULL;
    int fewest = ROUTER_MAX_PARAMS + 1;
    *allowed = 0;
    for (size_t i = 0; i < t->n; i++) {
        const char *tmp[ROUTER_MAX_PARAMS];
        int nt;
        if (!match(t->routes[i].pattern, path, t->routes[i].flags & ROUTE_TAIL, tmp, buf, buflen))
            continue;
        if ((nt = templates(t->routes[i].pattern)) > fewest)
            continue;
        if (nt < fewest) { /* a more concrete pattern: what the others allowed does not count */
            fewest = nt;
            *allowed = 0;
            found = NULL;
        }
        *allowed |= t->routes[i].method;
        if (t->routes[i].method == method && !found) {
            found = &t->routes[i];
            memcpy(params, tmp, sizeof tmp);
        }
    }
    if (found) /* the captures of a later, non-matching route may have overwritten buf */
        match(found->pattern, path, found->flags & ROUTE_TAIL, params, buf, buflen);
    return found;
}

const struct route *router_at(const struct route_table *t, size_t i)
{
    return i < t->n ? &t->routes[i] : NULL;
}

int router_index(const struct route_table *t, const struct route *rt)
{
    return rt ? (int)(rt - t->routes) : -1;
}

static const struct {
    int method;
    const char *name;
} methods[] = {{HTTP_GET, "GET"},     {HTTP_POST, "POST"},     {HTTP_PUT, "PUT"},
               {HTTP_PATCH, "PATCH"}, {HTTP_DELETE, "DELETE"}, {HTTP_OPTIONS, "OPTIONS"},
               {HTTP_HEAD, "HEAD"}};

int router_method_parse(const char *method)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(method, methods[i].name))
            return methods[i].method;
    return HTTP_OTHER;
}

const char *router_method_name(int method)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (method == methods[i].method)
            return methods[i].name;
    return "OTHER";
}

void router_methods_list(int set, char *buf, size_t buflen)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (!(set & methods[i].method))
            continue;
        size_t n = strlen(methods[i].name) + 2;
        if (used + n + 1 > buflen)
            break;
        if (used) {
            memcpy(buf + used, ", ", 2);
            used += 2;
        }
        memcpy(buf + used, methods[i].name, n - 2);
        used += n - 2;
        buf[used] = '\0';
    }
}
