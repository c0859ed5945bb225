/* Validation of JSON request bodies, collecting every error with its field name. */
#include "leadloop/jsonv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "leadloop/iso.h"
#include "leadloop/util.h"

void jv_init(struct jv *v)
{
    v->errors = json_array();
}

void jv_free(struct jv *v)
{
    json_decref(v->errors);
    v->errors = NULL;
}

bool jv_ok(const struct jv *v)
{
    return v->errors && json_array_size(v->errors) == 0;
}

json_t *jv_take(struct jv *v)
{
    json_t *e = v->errors;
    v->errors = NULL;
    return e;
}

void jv_add(struct jv *v, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(v->errors, json_pack("{s:s, s:s}", "field", field, "message", msg));
}

bool jv_in_list(const char *key, const char *const *list)
{
    for (; list && *list; list++)
        if (!strcmp(key, *list))
            return true;
    return false;
}

void jv_known(struct jv *v, json_t *obj, const char *const *allowed, const char *const *readonly)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        if (jv_in_list(key, allowed))
            continue;
        if (jv_in_list(key, readonly))
            jv_add(v, key, "is read-only");
        else
            jv_add(v, key, "is not a known field");
    }
}

size_t jv_utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Fetches field; false when absent (adding "is required" when it must be there). */
static json_t *get(struct jv *v, json_t *obj, const char *field, bool required)
{
    json_t *val = json_object_get(obj, field);
    if (!val && required)
        jv_add(v, field, "is required");
    return val;
}

bool jv_string(struct jv *v, json_t *obj, const char *field, bool required, size_t min_chars,
               size_t max_chars, const char **out)
{
    json_t *val = get(v, obj, field, required);
    size_t n;
    if (!val)
        return false;
    if (!json_is_string(val)) {
        jv_add(v, field, "must be a string");
        return false;
    }
    if (memchr(json_string_value(val), '\0', json_string_length(val))) {
        jv_add(v, field, "must not contain NUL characters");
        return false;
    }
    n = jv_utf8_chars(json_string_value(val));
    if (n < min_chars || n > max_chars) {
        if (min_chars > 0)
            jv_add(v, field, "must be %zu to %zu characters long", min_chars, max_chars);
        else
            jv_add(v, field, "must be at most %zu characters long", max_chars);
        return false;
    }
    *out = json_string_value(val);
    return true;
}

bool jv_enum(struct jv *v, json_t *obj, const char *field, bool required, const char *const *values,
             const char **out)
{
    json_t *val = get(v, obj, field, required);
    char list[256] = "";
    if (!val)
        return false;
    if (json_is_string(val) && jv_in_list(json_string_value(val), values)) {
        *out = json_string_value(val);
        return true;
    }
    for (const char *const *p = values; *p; p++) {
        if (p != values)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, *p, sizeof list - strlen(list) - 1);
    }
    jv_add(v, field, "must be one of: %s", list);
    return false;
}

/* A practical address check: local@domain, no spaces or control characters, the domain
 * with a dot and no empty labels. Non-ASCII (internationalised) addresses are allowed. */
bool jv_email_valid(const char *s)
{
    const char *at = strrchr(s, '@');
    size_t len = strlen(s);
    if (!at || at == s || len > 254 || (size_t)(at - s) > 64)
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
            c == ';' || c == ':' || c == '\\' || c == '"' || c == '[' || c == ']')
            return false;
        if (c == '@' && p != at)
            return false;
    }
    const char *d = at + 1;
    if (!*d || *d == '.' || d[strlen(d) - 1] == '.' || !strchr(d, '.') || strstr(d, ".."))
        return false;
    if (s[0] == '.' || at[-1] == '.' || strstr(s, "..") != NULL)
        return false;
    return true;
}

bool jv_email(struct jv *v, json_t *obj, const char *field, bool required, const char **out)
{
    const char *s;
    if (!jv_string(v, obj, field, required, 3, 254, &s))
        return false;
    if (!jv_email_valid(s)) {
        jv_add(v, field, "is not a valid email address");
        return false;
    }
    *out = s;
    return true;
}

bool jv_bool(struct jv *v, json_t *obj, const char *field, bool required, bool *out)
{
    json_t *val = get(v, obj, field, required);
    if (!val)
        return false;
    if (!json_is_boolean(val)) {
        jv_add(v, field, "must be true or false");
        return false;
    }
    *out = json_is_true(val);
    return true;
}

bool jv_text(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
             size_t min_chars, size_t max_chars, const char **out, bool *is_null)
{
    json_t *val = get(v, obj, field, required);
    if (!val)
        return false;
    if (json_is_null(val)) {
        if (!nullable) {
            jv_add(v, field, "cannot be null");
            return false;
        }
        *out = NULL;
        *is_null = true;
        return true;
    }
    *is_null = false;
    return jv_string(v, obj, field, required, min_chars, max_chars, out);
}

bool jv_int(struct jv *v, json_t *obj, const char *field, bool required, bool nullable, long min,
            long max, char buf[24], bool *is_null)
{
    json_t *val = get(v, obj, field, required);
    if (!val)
        return false;
    *is_null = false;
    if (json_is_null(val) && nullable) {
        *is_null = true;
        return true;
    }
    if (!json_is_integer(val) || json_integer_value(val) < min || json_integer_value(val) > max) {
        jv_add(v, field, "must be an integer from %ld to %ld%s", min, max,
               nullable ? ", or null" : "");
        return false;
    }
    snprintf(buf, 24, "%lld", (long long)json_integer_value(val));
    return true;
}

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* YYYY-MM-DD of a real day, years 1900..9999. */
static bool date_prefix_ok(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return false;
    int y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    return !(m == 2 && d == 29 && !leap);
}

bool jv_date_valid(const char *s)
{
    return s && strlen(s) == 10 && date_prefix_ok(s);
}

bool jv_timestamp_valid(const char *s)
{
    size_t i = 19;
    if (!s || strlen(s) < 20 || !date_prefix_ok(s) || (s[10] != 'T' && s[10] != 't'))
        return false;
    if (!digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
        !digits(s + 17, 2) || num(s + 11, 2) > 23 || num(s + 14, 2) > 59 || num(s + 17, 2) > 60)
        return false;
    if (s[i] == '.') {
        size_t f = ++i;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f || i - f > 9)
            return false;
    }
    if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0')
        return true;
    return (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) && s[i + 3] == ':' &&
           digits(s + i + 4, 2) && s[i + 6] == '\0' && num(s + i + 1, 2) <= 23 &&
           num(s + i + 4, 2) <= 59;
}

long long jv_timestamp_epoch(const char *s)
{
    /* days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant) */
    long long y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    long long t = days * 86400 + (long long)num(s + 11, 2) * 3600 + (long long)num(s + 14, 2) * 60 +
                  num(s + 17, 2);
    size_t i = 19;
    if (s[i] == '.')
        for (i++; s[i] >= '0' && s[i] <= '9'; i++)
            ;
    if (s[i] == '+' || s[i] == '-') {
        long long off = num(s + i + 1, 2) * 3600 + num(s + i + 4, 2) * 60;
        t += s[i] == '+' ? -off : off;
    }
    return t;
}

bool jv_string_set(struct jv *v, json_t *obj, const char *field, bool required, size_t max_items,
                   size_t max_chars, json_t **out)
{
    json_t *val = get(v, obj, field, required), *item;
    size_t i, j;
    if (!val)
        return false;
    if (!json_is_array(val) || json_array_size(val) > max_items) {
        jv_add(v, field, "must be an array of at most %zu strings", max_items);
        return false;
    }
    json_array_foreach(val, i, item)
    {
        const char *s = json_string_value(item);
        size_t n = s ? jv_utf8_chars(s) : 0;
        if (!s || n < 1 || n > max_chars || memchr(s, 0, json_string_length(item))) {
            jv_add(v, field, "items must be strings of 1 to %zu characters", max_chars);
            return false;
        }
        for (j = 0; j < i; j++) {
            if (json_equal(item, json_array_get(val, j))) {
                jv_add(v, field, "must not repeat an item (\"%s\")", s);
                return false;
            }
        }
    }
    *out = val;
    return true;
}

bool jv_custom(struct jv *v, json_t *obj, const char *field, bool patch, json_t **out)
{
    json_t *val = get(v, obj, field, false), *item;
    const char *key;
    char name[96];
    char *text;
    size_t size;
    bool ok = true;
    if (!val)
        return false;
    if (!json_is_object(val)) {
        jv_add(v, field, "must be an object of scalar values");
        return false;
    }
    if (json_object_size(val) > 50) {
        jv_add(v, field, "must have at most 50 keys");
        return false;
    }
    json_object_foreach(val, key, item)
    {
        size_t kn = jv_utf8_chars(key);
        snprintf(name, sizeof name, "%s.%.64s", field, key);
        if (kn < 1 || kn > 64) {
            jv_add(v, field, "keys must be 1 to 64 characters");
            ok = false;
        } else if (json_is_object(item) || json_is_array(item)) {
            jv_add(v, name, "must be a string, number, boolean or null");
            ok = false;
        } else if (json_is_null(item) && !patch) {
            continue; /* a null on create simply means absent */
        } else if (json_is_string(item) &&
                   (jv_utf8_chars(json_string_value(item)) > 2000 ||
                    memchr(json_string_value(item), 0, json_string_length(item)))) {
            jv_add(v, name, "must be at most 2000 characters, without NUL");
            ok = false;
        }
    }
    text = json_dumps(val, JSON_COMPACT);
    size = text ? strlen(text) : 0;
    free(text);
    if (ok && size > 16384) {
        jv_add(v, field, "must be at most 16 KiB as JSON");
        ok = false;
    }
    if (ok)
        *out = val;
    return ok;
}

bool jv_external_system_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

bool jv_external_ids(struct jv *v, json_t *obj, const char *field, bool patch, json_t **out)
{
    json_t *val = get(v, obj, field, false), *item;
    const char *key;
    char name[96];
    bool ok = true;
    if (!val)
        return false;
    if (!json_is_object(val) || json_object_size(val) > 50) {
        jv_add(v, field, "must be an object {system: id} with at most 50 systems");
        return false;
    }
    json_object_foreach(val, key, item)
    {
        snprintf(name, sizeof name, "%s.%.64s", field, key);
        if (!jv_external_system_ok(key)) {
            jv_add(v, field, "system names must match ^[a-z0-9][a-z0-9_.-]{0,63}$");
            ok = false;
        } else if (json_is_null(item) && patch) {
            continue;
        } else if (!json_is_string(item) || json_string_length(item) < 1 ||
                   jv_utf8_chars(json_string_value(item)) > 255 ||
                   memchr(json_string_value(item), 0, json_string_length(item))) {
            jv_add(v, name, "must be a string of 1 to 255 characters%s", patch ? ", or null" : "");
            ok = false;
        }
    }
    if (ok)
        *out = val;
    return ok;
}

/* The shape of the code-like validators: a string the predicate accepts, or (when
 * nullable) null, which sets *out to NULL and *is_null (either may be NULL). */
static bool coded(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
                  bool (*ok)(const char *), const char *what, const char **out, bool *is_null)
{
    json_t *val = get(v, obj, field, required);
    if (!val)
        return false;
    if (is_null)
        *is_null = false;
    if (json_is_null(val) && nullable) {
        if (is_null)
            *is_null = true;
        if (out)
            *out = NULL;
        return true;
    }
    if (!json_is_string(val) || !ok(json_string_value(val))) {
        jv_add(v, field, "must be %s%s", what, nullable ? " or null" : "");
        return false;
    }
    *out = json_string_value(val);
    return true;
}

bool jv_uuid(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
             const char **out, bool *is_null)
{
    return coded(v, obj, field, required, nullable, util_is_uuid, "a UUID", out, is_null);
}

bool jv_date(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
             const char **out, bool *is_null)
{
    return coded(v, obj, field, required, nullable, jv_date_valid, "a date YYYY-MM-DD", out,
                 is_null);
}

bool jv_timestamp(struct jv *v, json_t *obj, const char *field, bool required, const char **out)
{
    return coded(v, obj, field, required, false, jv_timestamp_valid,
                 "an RFC 3339 timestamp with a time zone, e.g. 2026-11-25T17:10:09Z", out, NULL);
}

bool jv_url_valid(const char *s)
{
    size_t i = 1;
    if (!s || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    while ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
           (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '.' || s[i] == '-')
        i++;
    if (s[i] != ':' || !s[i + 1] || jv_utf8_chars(s) > 2048)
        return false;
    /* a blank or control character cannot be in a URL: it would end it in a log, a
     * header or a CSV cell read by another tool */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

bool jv_url(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
            const char **out, bool *is_null)
{
    json_t *val = json_object_get(obj, field);
    if (json_is_string(val) && memchr(json_string_value(val), 0, json_string_length(val))) {
        jv_add(v, field, "must not contain NUL characters");
        return false;
    }
    return coded(v, obj, field, required, nullable, jv_url_valid,
                 "an absolute URL of at most 2048 characters, e.g. https://example.com/pricing",
                 out, is_null);
}

bool jv_currency(struct jv *v, json_t *obj, const char *field, bool required, const char **out)
{
    return coded(v, obj, field, required, false, iso_currency,
                 "an ISO 4217 currency code in upper case, e.g. EUR", out, NULL);
}

bool jv_country(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
                const char **out, bool *is_null)
{
    return coded(v, obj, field, required, nullable, iso_country,
                 "an ISO 3166-1 alpha-2 country code in upper case, e.g. DE", out, is_null);
}
