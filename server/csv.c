/* CSV cells for the reports (and any other CSV the daemon writes): RFC 4180 quoting and
 * the formula guard, in one place so that every writer neutralises the same cells. */
#include "leadloop/csv.h"

#include <string.h>

#include "leadloop/jw.h"

/* csv_formula_risk on n bytes. */
static bool risk_n(const char *s, size_t n)
{
    size_t i = 0;
    /* OWASP's list: = + - @ start a formula; a tab or a carriage return first is on it
     * too (a line feed as well, its neighbour). Blanks and quotes before the sign are
     * dropped by some importers before they look, so they do not make it safe. */
    if (n > 0 && (*s == '\t' || *s == '\r' || *s == '\n'))
        return true;
    static const char blanks[] = {' ', '\t', '\r', '\n', '"', '\''}; /* not a string */
    while (i < n && memchr(blanks, s[i], sizeof blanks))
        i++;
    return i < n && (s[i] == '=' || s[i] == '+' || s[i] == '-' || s[i] == '@');
}

/* csv_guard_needed on n bytes. */
static bool guard_n(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] == '\'')
        i++;
    return risk_n(s, n) || (i > 0 && i < n && (s[i] == '\t' || s[i] == '\r' || s[i] == '\n'));
}

bool csv_formula_risk(const char *s)
{
    return risk_n(s, strlen(s));
}

bool csv_guard_needed(const char *s)
{
    return guard_n(s, strlen(s));
}

size_t csv_unguard(const char *s, size_t n)
{
    return n > 1 && s[0] == '\'' && guard_n(s + 1, n - 1) ? 1 : 0;
}

void csv_cell(struct jw *w, const char *s, bool text)
{
    if (!text && !strpbrk(s, ",\"\r\n")) {
        jw_lit(w, s);
        return;
    }
    /* The apostrophe goes inside the quotes: before the opening quote it would make the
     * cell unquoted, and its commas would split it into live cells. */
    jw_lit(w, text && csv_guard_needed(s) ? "\"'" : "\"");
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        jw_raw(w, s, (size_t)(q - s) + 1);
        jw_lit(w, "\"");
    }
    jw_lit(w, s);
    jw_lit(w, "\"");
}
