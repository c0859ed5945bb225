/* Validation of JSON request bodies: each check adds {field, message} to a list, so a
 * client learns every problem at once. Fields are named as in the body ("consent.how"). */
#ifndef LEADLOOP_JSONV_H
#define LEADLOOP_JSONV_H
#include <jansson.h>
#include <stdbool.h>

struct jv {
    json_t *errors; /* new array, owned until jv_take / jv_free */
};

void jv_init(struct jv *v);
void jv_free(struct jv *v);
bool jv_ok(const struct jv *v);
/* Hands the errors array over (new reference); v is empty afterwards. */
json_t *jv_take(struct jv *v);
void jv_add(struct jv *v, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Every key of obj must be in allowed (NULL-terminated); read-only names get their own
 * message. */
void jv_known(struct jv *v, json_t *obj, const char *const *allowed, const char *const *readonly);

/* Each getter: absent -> *out untouched, returns false; wrong -> adds an error, false;
 * present and valid -> true. null is accepted only where nullable says so (and then
 * *is_null is set). Strings are borrowed from obj. */
bool jv_string(struct jv *v, json_t *obj, const char *field, bool required, size_t min_chars,
               size_t max_chars, const char **out);
bool jv_enum(struct jv *v, json_t *obj, const char *field, bool required, const char *const *values,
             const char **out);
bool jv_email(struct jv *v, json_t *obj, const char *field, bool required, const char **out);
bool jv_uuid(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
             const char **out, bool *is_null);
bool jv_bool(struct jv *v, json_t *obj, const char *field, bool required, bool *out);

/* Validation of a single value, shared with other checks. */
bool jv_email_valid(const char *s);
/* Number of UTF-8 code points (the string is valid UTF-8, jansson ensures it). */
size_t jv_utf8_chars(const char *s);

#endif
