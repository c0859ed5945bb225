/* The CSV reader (RFC 4180) of the lead import: records of fields out of a body held in
 * memory, without copying it. include/leadloop/csv.h is the writer of the CSV answers;
 * the two share no code, so they stay apart. Pure functions: no allocation, no I/O. */
#ifndef LEADLOOP_CSV_READ_H
#define LEADLOOP_CSV_READ_H
#include <stdbool.h>
#include <stddef.h>

/* One field of a record. s points into the body (borrowed: valid while the body is); a
 * quoted field without its quotes. */
struct csv_field {
    const char *s;
    size_t n;
    bool escaped; /* holds "" pairs, to be undone by csv_field_copy */
};

/* A reader over buf[0..len), which it borrows. */
struct csv {
    const char *p, *end;
    long line;       /* of the cursor, from 1 */
    long bad_line;   /* where the error is, after CSV_BAD */
    const char *why; /* what is wrong, after CSV_BAD (static text) */
};

enum csv_status { CSV_ROW, CSV_END, CSV_BAD };

/* Starts reading buf (borrowed), skipping a UTF-8 byte order mark. */
void csv_init(struct csv *c, const char *buf, size_t len);

/* Reads the next record: its first max fields into fields, *n counting them all (so more
 * than max says the record is too wide). Lines end with LF, CRLF, or a CR that ends the
 * body; empty lines are skipped. A quote inside an unquoted field is taken as it is; a
 * quoted field may hold commas, "" pairs and line breaks. CSV_BAD, with why and bad_line
 * set, when a quoted field is never closed or text follows its closing quote. */
enum csv_status csv_row(struct csv *c, struct csv_field *fields, size_t max, size_t *n)
    __attribute__((warn_unused_result));

/* Copies the text of f into out, which has room for f->n + 1 bytes, with its "" pairs
 * undone and a NUL after it. Returns its length (at most f->n). */
size_t csv_field_copy(const struct csv_field *f, char *out);

#endif
