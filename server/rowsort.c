/* The order of a report's rows by one of its figures (rowsort.h). Numbers are compared as
 * decimal text, digit by digit, rather than as doubles: a sum of amounts may have more
 * digits than a double holds, and two different figures must never tie by rounding. */
#include "leadloop/rowsort.h"

#include <stdlib.h>
#include <string.h>

/* A number's parts: its sign, its integer digits without leading zeros and its fraction
 * digits without trailing zeros. False when s is not [-]digits[.digits]. */
struct num {
    bool neg;
    const char *ip, *fp;
    size_t il, fl;
};

static bool num_parse(const char *s, struct num *n)
{
    memset(n, 0, sizeof *n);
    if (*s == '-' || *s == '+')
        n->neg = *s++ == '-';
    const char *start = s;
    while (*s >= '0' && *s <= '9')
        s++;
    if (s == start)
        return false;
    n->ip = start;
    n->il = (size_t)(s - start);
    if (*s == '.') {
        n->fp = ++s;
        while (*s >= '0' && *s <= '9')
            s++;
        n->fl = (size_t)(s - n->fp);
    }
    if (*s)
        return false;
    while (n->il > 0 && *n->ip == '0')
        n->ip++, n->il--;
    while (n->fl > 0 && n->fp[n->fl - 1] == '0')
        n->fl--;
    if (n->il == 0 && n->fl == 0)
        n->neg = false; /* -0 is 0 */
    return true;
}

/* Compares the magnitudes of two parsed numbers. */
static int magnitude_cmp(const struct num *a, const struct num *b)
{
    if (a->il != b->il)
        return a->il < b->il ? -1 : 1;
    int c = memcmp(a->ip, b->ip, a->il);
    if (c)
        return c < 0 ? -1 : 1;
    size_t common = a->fl < b->fl ? a->fl : b->fl;
    c = common ? memcmp(a->fp, b->fp, common) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return a->fl == b->fl ? 0 : (a->fl < b->fl ? -1 : 1);
}

int rowsort_compare_numbers(const char *a, const char *b)
{
    struct num x, y;
    if (!num_parse(a, &x) || !num_parse(b, &y))
        return 0;
    if (x.neg != y.neg)
        return x.neg ? -1 : 1;
    int c = magnitude_cmp(&x, &y);
    return x.neg ? -c : c;
}

struct item {
    size_t row;
    const char *value;
};

struct how {
    bool numeric, desc;
};

/* qsort_r's comparison: by value (nulls last), then by row number, which makes the sort
 * stable (qsort is not). */
static int item_cmp(const void *pa, const void *pb, void *arg)
{
    const struct item *a = pa, *b = pb;
    const struct how *how = arg;
    if (!a->value || !b->value) {
        if (a->value || b->value)
            return a->value ? -1 : 1;
    } else {
        int c =
            how->numeric ? rowsort_compare_numbers(a->value, b->value) : strcmp(a->value, b->value);
        if (c)
            return how->desc ? -c : c;
    }
    return a->row < b->row ? -1 : a->row > b->row;
}

bool rowsort_order(size_t n, rowsort_value_fn value, const void *ctx, bool numeric, bool desc,
                   size_t *order)
{
    struct how how = {numeric, desc};
    struct item *items;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (n == 0) /* nothing to order (and qsort_r must not be given a null array) */
        return true;
    if (!(items = malloc(n * sizeof *items)))
        return false;
    for (size_t i = 0; i < n; i++)
        items[i] = (struct item){i, value(ctx, i)};
    qsort_r(items, n, sizeof *items, item_cmp, &how);
    for (size_t i = 0; i < n; i++)
        order[i] = items[i].row;
    free(items);
    return true;
}
