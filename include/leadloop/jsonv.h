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

/* A string or, when nullable, null (then *out is NULL and *is_null true). */
bool jv_text(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
             size_t min_chars, size_t max_chars, const char **out, bool *is_null);
/* An integer in [min, max], or null when nullable; *out as text (buf of 24 bytes). */
bool jv_int(struct jv *v, json_t *obj, const char *field, bool required, bool nullable, long min,
            long max, char buf[24], bool *is_null);
/* A calendar date YYYY-MM-DD, or null when nullable. */
bool jv_date(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
             const char **out, bool *is_null);
/* An RFC 3339 timestamp with a time zone (Z or +hh:mm). */
bool jv_timestamp(struct jv *v, json_t *obj, const char *field, bool required, const char **out);
/* ISO 4217 currency / ISO 3166-1 alpha-2 country (upper case), or null when nullable. */
bool jv_currency(struct jv *v, json_t *obj, const char *field, bool required, const char **out);
bool jv_country(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
                const char **out, bool *is_null);
/* An absolute URL (or IRI) of 1 to 2048 characters: a scheme ([A-Za-z][A-Za-z0-9+.-]*),
 * ':', then at least one character and no blank or control character; or null when
 * nullable. */
bool jv_url(struct jv *v, json_t *obj, const char *field, bool required, bool nullable,
            const char **out, bool *is_null);
bool jv_url_valid(const char *s);
/* An array of at most max_items distinct strings of 1..max_chars; *out borrowed. */
bool jv_string_set(struct jv *v, json_t *obj, const char *field, bool required, size_t max_items,
                   size_t max_chars, json_t **out);
/* An object of scalars (strings <= 2000 chars), keys 1..64 chars, <= 50 keys, <= 16 KiB
 * serialised. With patch, null members are allowed (they remove). *out borrowed. */
bool jv_custom(struct jv *v, json_t *obj, const char *field, bool patch, json_t **out);
/* {system: id}: system ^[a-z0-9][a-z0-9_.-]{0,63}$, id 1..255 chars; null members with
 * patch. *out borrowed. */
bool jv_external_ids(struct jv *v, json_t *obj, const char *field, bool patch, json_t **out);
bool jv_external_system_ok(const char *system);
/* A date string check, shared with query parameters. */
bool jv_date_valid(const char *s);
bool jv_timestamp_valid(const char *s);
/* The seconds since 1970 of a timestamp that jv_timestamp_valid accepts (fractions cut). */
long long jv_timestamp_epoch(const char *s);

/* True when key is one of the NULL-terminated list. */
bool jv_in_list(const char *key, const char *const *list);

/* Validation of a single value, shared with other checks. */
bool jv_email_valid(const char *s);
/* Number of UTF-8 code points (the string is valid UTF-8, jansson ensures it). */
size_t jv_utf8_chars(const char *s);

#endif
