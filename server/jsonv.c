/* Validation of JSON request bodies, collecting every error with its field name. */
#include "leadloop/jsonv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

static bool in_list(const char *key, const char *const *list)
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
        if (in_list(key, allowed))
            continue;
        if (in_list(key, readonly))
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
    if (json_is_string(val) && in_list(json_string_value(val), values)) {
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

bool jv_uuid(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
             const char **out, bool *is_null)
{
    json_t *val = get(v, obj, field, required);
    if (!val)
        return false;
    if (json_is_null(val) && nullable) {
        if (is_null)
            *is_null = true;
        return true;
    }
    if (!json_is_string(val) || !util_is_uuid(json_string_value(val))) {
        jv_add(v, field, "must be a UUID%s", nullable ? " or null" : "");
        return false;
    }
    if (is_null)
        *is_null = false;
    *out = json_string_value(val);
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
