/* Assertions and small requests shared by the resource suites (test_campaigns.c,
 * test_leads.c, test_transitions.c, test_idempotency.c, test_workspaces.c). */
#include "checks.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char random_id[] = "5b0d2f0c-8e4a-4c1b-9d7e-0f3a6b2c1d99";

void expect_status(const struct resp *r, long status, const char *what)
{
    ck_assert_msg(r->status == status, "%s: expected %ld, got %ld: %s", what, status, r->status,
                  r->body);
}

/* Asserts r is a 422 naming field. */
void expect_invalid(const struct resp *r, const char *field, const char *what)
{
    ck_assert_msg(r->status == 422, "%s: expected 422 naming %s, got %ld: %s", what, field,
                  r->status, r->body);
    assert_problem(r, 422, "validation-failed");
    ck_assert_msg(problem_names(r, field), "%s: expected errors[] to name %s, got %s", what, field,
                  r->body);
}

/* Text of v for a message (a few at a time; the main thread only). */
const char *js(const json_t *v)
{
    static char buf[8][2048];
    static int n;
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT), *out = buf[n++ % 8];
    snprintf(out, sizeof buf[0], "%s", s ? s : "(nothing)");
    free(s);
    return out;
}

long jint(const struct resp *r, const char *key)
{
    return (long)json_integer_value(json_object_get(r->json, key));
}

void expect_header(const struct resp *r, const char *name, const char *want)
{
    char *got = resp_header(r, name);
    ck_assert_msg(got && !strcmp(got, want), "header %s: expected %s, got %s", name, want,
                  got ? got : "(none)");
    free(got);
}

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ": RFC 3339, UTC, microseconds. */
bool is_timestamp(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    if (!s || strlen(s) != sizeof shape - 1)
        return false;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
    return true;
}

void url_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in && o + 4 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/* POSTs body and requires 201; the new id into id. */
void create(const char *path, const char *key, const char *body, char id[40])
{
    struct resp *r = post(path, key, body);
    ck_assert_msg(r->status == 201, "POST %s %s: expected 201, got %ld: %s", path, body, r->status,
                  r->body);
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

void new_user(const char *key, const char *email, char id[40])
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"Owner\",\"email\":\"%s\",\"team\":\"marketing\"}",
             email);
    create("/v1/users", key, body, id);
}

/* A new API key of role in the workspace of admin (the secret into key). */
void new_key(const char *admin, const char *role, char key[64])
{
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"core %s\",\"role\":\"%s\"}", role, role);
    struct resp *r = post("/v1/api-keys", admin, body);
    expect_status(r, 201, "create key");
    snprintf(key, 64, "%s", jstr(r, "secret"));
    resp_free(r);
}

/* Follows next_cursor from path (which has a query) and joins member `field` of every
 * item with ','; checks each page's Link header against its next_cursor. */
void collect(const char *key, const char *path, const char *field, char *out, size_t cap)
{
    char url[1024];
    size_t used = 0;
    out[0] = '\0';
    snprintf(url, sizeof url, "%s", path);
    for (int page = 0; page < 100; page++) {
        struct resp *r = get(url, key);
        expect_status(r, 200, url);
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(r->json, "data"), i, item)
        {
            const char *v = json_string_value(json_object_get(item, field));
            used +=
                (size_t)snprintf(out + used, cap - used, "%s%s", used ? "," : "", v ? v : "null");
            ck_assert_msg(used < cap, "collect: result too long");
        }
        json_t *next = json_object_get(r->json, "next_cursor");
        char *link = resp_header(r, "Link");
        if (!json_is_string(next)) {
            ck_assert_msg(json_is_null(next), "%s: next_cursor must be a string or null", url);
            ck_assert_msg(link == NULL, "%s: no Link header on the last page, got %s", url, link);
            resp_free(r);
            return;
        }
        ck_assert_msg(link && strstr(link, json_string_value(next)) && strstr(link, "rel=\"next\""),
                      "%s: Link must carry next_cursor, got %s", url, link ? link : "(none)");
        free(link);
        snprintf(url, sizeof url, "%s&cursor=%s", path, json_string_value(next));
        resp_free(r);
    }
    ck_abort_msg("%s: more than 100 pages", path);
}

void *race(void *arg)
{
    struct racer *x = arg;
    pthread_barrier_wait(x->barrier);
    x->r = send_json(x->method, x->path, x->key, x->body, strlen(x->body), x->if_match, x->idem);
    return NULL;
}
