/* CSV cells (RFC 4180) for the answers the daemon writes, and the one rule against formula
 * injection (OWASP "CSV Injection"): a text cell is always quoted, and one a spreadsheet
 * could take for a formula starts with an apostrophe inside its quotes. Pure functions. */
#ifndef LEADLOOP_CSV_H
#define LEADLOOP_CSV_H
#include <stdbool.h>
#include <stddef.h>

struct jw;

/* True when a spreadsheet could run s as a formula: it starts with =, +, -, @, a tab, a
 * carriage return or a line feed, or with one of = + - @ once leading blanks (space, tab,
 * CR, LF) and quote marks (" ') are skipped, as some importers trim them first. */
bool csv_formula_risk(const char *s);

/* True when csv_cell gives the text cell s its apostrophe: csv_formula_risk(s), or s is
 * apostrophes followed by a tab, CR or LF (so that a cell that had one is told apart
 * from one that did not, and csv_unguard undoes exactly what csv_cell did). */
bool csv_guard_needed(const char *s);

/* How many bytes to drop from the start of a cell read back (s, n bytes, not necessarily
 * NUL-terminated): 1 when it is a guarded cell, an apostrophe followed by a value that
 * csv_guard_needed says needs one (so that what csv_cell wrote reads back as it was, a
 * phone number "+49 30 1234" among them), else 0. */
size_t csv_unguard(const char *s, size_t n);

/* Appends s (NUL-terminated) to w as one cell. A text cell (anything that did not come
 * from a number column: names, ids, dates, JSON) is always quoted, its quotes doubled, so
 * no comma, semicolon, quote or line break in it can end the cell, and it gets a leading
 * apostrophe inside the quotes when csv_guard_needed says so. A cell that is not text (a
 * number, or one of our column names) is written as it is, quoted only when it holds a
 * comma, quote or line break. The empty text cell is "", apart from a NULL's empty cell,
 * which the caller writes by writing nothing. */
void csv_cell(struct jw *w, const char *s, bool text);

#endif
