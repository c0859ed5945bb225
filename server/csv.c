/* CSV cells for the reports (and any other CSV the daemon writes): RFC 4180 quoting and
 * the formula guard, in one place so that every writer neutralises the same cells. */
#include "leadloop/csv.h"

#include <string.h>

#include "leadloop/jw.h"

bool csv_formula_risk(const char *s)
{
    /* OWASP's list: = + - @ start a formula; a tab or a carriage return first is on it
     * too (a line feed as well, its neighbour). Blanks and quotes before the sign are
     * dropped by some importers before they look, so they do not make it safe. */
    if (*s == '\t' || *s == '\r' || *s == '\n')
        return true;
    s += strspn(s, " \t\r\n\"'");
    return *s == '=' || *s == '+' || *s == '-' || *s == '@';
}

void csv_cell(struct jw *w, const char *s, bool text)
{
    if (!text && !strpbrk(s, ",\"\r\n")) {
        jw_lit(w, s);
        return;
    }
    /* The apostrophe goes inside the quotes: before the opening quote it would make the
     * cell unquoted, and its commas would split it into live cells. */
    jw_lit(w, text && csv_formula_risk(s) ? "\"'" : "\"");
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        jw_raw(w, s, (size_t)(q - s) + 1);
        jw_lit(w, "\"");
    }
    jw_lit(w, s);
    jw_lit(w, "\"");
}
