/* The order of a report's rows by one of its figures (sort=field or sort=-field): a stable
 * sort of row numbers, so that rows with equal figures keep the statement's own order. */
#ifndef LEADLOOP_ROWSORT_H
#define LEADLOOP_ROWSORT_H
#include <stdbool.h>
#include <stddef.h>

/* Compares two numbers as PostgreSQL writes integers and numerics ("-12", "3.5000",
 * "0.25"), exactly, whatever their length: <0, 0 or >0 as a is less than, equal to or
 * greater than b. Text that is not such a number compares as 0 with everything. */
int rowsort_compare_numbers(const char *a, const char *b);

/* The value of row i, or NULL when the figure is null; ctx is the caller's. */
typedef const char *(*rowsort_value_fn)(const void *ctx, size_t i);

/* Fills order[0..n) with the row numbers 0..n-1 sorted by value(ctx, i): as numbers when
 * numeric, else as text (byte order), descending when desc; nulls last either way, and
 * ties in their first order. Returns false when out of memory (order is then 0..n-1). */
bool rowsort_order(size_t n, rowsort_value_fn value, const void *ctx, bool numeric, bool desc,
                   size_t *order) __attribute__((warn_unused_result));

#endif
