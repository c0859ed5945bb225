/* The OWASP API Security Top 10 (2023) checks that are generated from the contract. The
 * daemon's own openapi.yaml (GET /openapi.yaml) is read with a small line parser: its
 * paths, their methods, each operation's x-required-role, request body and success
 * response, and the property names of the schemas. From that, for every operation:
 * - API5: each role and no key get what x-required-role says (403 below it, 401 without
 *   a key, never 401/403 at or above it);
 * - API9: OPTIONS on each documented path lists exactly its documented methods;
 * - API1: another workspace's admin key, given this workspace's real ids in the path, gets
 *   what ids never issued get (404), sees none of its data, and changes none of its rows;
 *   given them in a body (owner_id, campaign_id, ...), the 422 an unknown id gets;
 * - API3: every member a JSON write must not set (the resource's members that its request
 *   schema lacks, and workspace_id) answers 422 naming it alone, and writes nothing; the
 *   CSV import's columns of those names only fill custom fields.
 * A new route or field in openapi.yaml is covered without touching this file; a route
 * whose ids or bodies the fixtures below do not know fails, saying what to add. Each
 * test prints how many checks it made. docs/SECURITY.md maps the tests to the risks. */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "suites.h"
#include "support.h"

/* ------------------------------------------------------------------ mismatch lists */

/* Fails the test with every mismatch (the whole list also goes to stderr: Check cuts
 * long messages), or prints what was checked. */
static void report_finish(struct report *rep, const char *what)
{
    if (rep->failed)
        fprintf(stderr, "owasp: %s: %d of %d checks failed:\n%s", what, rep->failed, rep->checked,
                rep->text);
    else
        printf("owasp: %s: %d checks passed\n", what, rep->checked);
    fflush(stdout);
    ck_assert_msg(rep->failed == 0, "%s: %d of %d checks failed (all on stderr):\n%.3000s", what,
                  rep->failed, rep->checked, rep->text);
    free(rep->text);
}

/* ------------------------------------------------------------------ the contract */

#define SPEC_NAME   64
#define SPEC_PROPS  48
#define SPEC_ALLOF  4
#define SPEC_PARAMS 4

struct schema {
    char name[SPEC_NAME];
    char props[SPEC_PROPS][SPEC_NAME];
    char items[SPEC_PROPS][SPEC_NAME]; /* the schema an array property's items refer to */
    int nprops;
    char allof[SPEC_ALLOF][SPEC_NAME]; /* schemas referred to by allOf */
    int nallof;
};

struct named_ref {
    char name[SPEC_NAME], schema[SPEC_NAME]; /* components/responses: name -> its schema */
};

struct op {
    char method[8];
    char path[160];
    char role[16];            /* x-required-role */
    bool json, csv;           /* request body media types */
    char req[SPEC_NAME];      /* request body schema */
    char resp[SPEC_NAME + 1]; /* success (200/201) body schema, or "@name" of a response */
    int nparams;              /* {names} in the path */
    char params[SPEC_PARAMS][SPEC_NAME];
    bool web; /* tagged Web app: pages for browsers, not the API (test_assets.c tests them) */
};

struct spec {
    char *text;
    struct op ops[128];
    int nops;
    struct schema schemas[256];
    int nschemas;
    struct named_ref responses[128];
    int nresponses;
};

static int indent_of(const char *l)
{
    int n = 0;
    while (l[n] == ' ')
        n++;
    return n;
}

/* The name a "$ref: '#/components/<kind>/<name>'" line refers to, or NULL. */
static const char *ref_to(const char *s, const char *kind, char out[SPEC_NAME])
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "$ref: '#/components/%s/", kind);
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        return NULL;
    s += strlen(prefix);
    size_t n = strcspn(s, "'");
    snprintf(out, SPEC_NAME, "%.*s", (int)n, s);
    return out;
}

/* "key: value" -> key into out; false for a line that is no mapping key. */
static bool key_of(const char *s, char *out, size_t cap)
{
    size_t n = strcspn(s, ":");
    if (s[n] != ':' || n == 0 || n >= cap || s[0] == '-')
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

static void op_params(struct op *o)
{
    for (const char *p = strchr(o->path, '{'); p && o->nparams < SPEC_PARAMS;
         p = strchr(p + 1, '{')) {
        size_t n = strcspn(p + 1, "}");
        snprintf(o->params[o->nparams++], SPEC_NAME, "%.*s", (int)n, p + 1);
    }
}

/* Reads the parts of openapi.yaml these tests need. The document is block-style YAML at
 * two spaces an indent, as redocly lints it; block scalars (descriptions) are skipped. */
static void spec_parse(struct spec *sp)
{
    enum { NONE, PATHS, COMPONENTS } top = NONE;
    char section[SPEC_NAME] = "", block6[SPEC_NAME] = "", key[SPEC_NAME], name[SPEC_NAME];
    char mode6[SPEC_NAME] = "", sub[SPEC_NAME] = "";
    int scalar_indent = -1, prop = -1;
    bool success = false;
    struct op *o = NULL;
    struct schema *sc = NULL;
    struct named_ref *nr = NULL;
    char *save = NULL;

    for (char *l = strtok_r(sp->text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(l);
        while (len > 0 && (l[len - 1] == ' ' || l[len - 1] == '\r'))
            l[--len] = '\0';
        int ind = indent_of(l);
        const char *s = l + ind;
        if (*s == '\0' || *s == '#')
            continue;
        if (scalar_indent >= 0 && ind > scalar_indent)
            continue; /* inside a block scalar */
        scalar_indent = -1;
        if (l[len - 1] == '|' || l[len - 1] == '>' || (len >= 2 && !strcmp(l + len - 2, "|-")))
            scalar_indent = ind;

        if (ind == 0) {
            top = !strcmp(s, "paths:") ? PATHS : !strcmp(s, "components:") ? COMPONENTS : NONE;
            o = NULL;
            sc = NULL;
            nr = NULL;
            continue;
        }
        if (top == PATHS) {
            if (ind == 2 && s[0] == '/') {
                snprintf(section, sizeof section, "%.*s", (int)(strlen(s) - 1), s);
                o = NULL;
            } else if (ind == 4) {
                static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
                o = NULL;
                for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
                    if (strncmp(s, methods[i], strlen(methods[i])) || s[strlen(methods[i])] != ':')
                        continue;
                    ck_assert_int_lt(sp->nops, (int)(sizeof sp->ops / sizeof sp->ops[0]));
                    o = &sp->ops[sp->nops++];
                    for (size_t k = 0; methods[i][k]; k++)
                        o->method[k] = (char)(methods[i][k] - 'a' + 'A');
                    snprintf(o->path, sizeof o->path, "%s", section);
                    op_params(o);
                }
                block6[0] = '\0';
            } else if (o && ind == 6 && key_of(s, key, sizeof key)) {
                snprintf(block6, sizeof block6, "%s", key);
                if (!strcmp(key, "x-required-role"))
                    snprintf(o->role, sizeof o->role, "%s", s + strlen("x-required-role: "));
                if (!strcmp(key, "tags") && strstr(s, "[Web app]"))
                    o->web = true;
            } else if (o && !strcmp(block6, "requestBody")) {
                if (ind == 10 && !strcmp(s, "text/csv:"))
                    o->csv = true;
                else if (ind == 10 && (!strcmp(s, "application/json:") ||
                                       !strcmp(s, "application/merge-patch+json:")))
                    o->json = true;
                else if (!o->req[0] && ref_to(s, "schemas", name))
                    snprintf(o->req, sizeof o->req, "%s", name);
            } else if (o && !strcmp(block6, "responses")) {
                if (ind == 8)
                    success = !strcmp(s, "'200':") || !strcmp(s, "'201':");
                else if (success && !o->resp[0] && ref_to(s, "responses", name))
                    snprintf(o->resp, sizeof o->resp, "@%s", name);
                else if (success && !o->resp[0] && ref_to(s, "schemas", name))
                    snprintf(o->resp, sizeof o->resp, "%s", name);
            }
            continue;
        }
        if (top != COMPONENTS)
            continue;
        if (ind == 2) {
            snprintf(section, sizeof section, "%.*s", (int)(strlen(s) - 1), s);
            sc = NULL;
            nr = NULL;
        } else if (ind == 4 && key_of(s, key, sizeof key)) {
            sc = NULL;
            nr = NULL;
            if (!strcmp(section, "schemas")) {
                ck_assert_int_lt(sp->nschemas, (int)(sizeof sp->schemas / sizeof sp->schemas[0]));
                sc = &sp->schemas[sp->nschemas++];
                snprintf(sc->name, sizeof sc->name, "%s", key);
            } else if (!strcmp(section, "responses")) {
                ck_assert_int_lt(sp->nresponses,
                                 (int)(sizeof sp->responses / sizeof sp->responses[0]));
                nr = &sp->responses[sp->nresponses++];
                snprintf(nr->name, sizeof nr->name, "%s", key);
            }
            mode6[0] = sub[0] = '\0';
            prop = -1;
        } else if (nr) {
            if (!nr->schema[0] && ref_to(s, "schemas", name))
                snprintf(nr->schema, sizeof nr->schema, "%s", name);
        } else if (sc) {
            if (ind == 6 && key_of(s, key, sizeof key)) {
                snprintf(mode6, sizeof mode6, "%s", key);
                prop = -1;
            } else if (!strcmp(mode6, "properties") && ind == 8 && key_of(s, key, sizeof key)) {
                ck_assert_int_lt(sc->nprops, SPEC_PROPS);
                prop = sc->nprops++;
                snprintf(sc->props[prop], SPEC_NAME, "%s", key);
            } else if (!strcmp(mode6, "properties") && ind == 10 && key_of(s, key, sizeof key)) {
                snprintf(sub, sizeof sub, "%s", key);
            } else if (!strcmp(mode6, "properties") && ind == 12 && prop >= 0 &&
                       !strcmp(sub, "items") && ref_to(s, "schemas", name)) {
                snprintf(sc->items[prop], SPEC_NAME, "%s", name);
            } else if (!strcmp(mode6, "allOf") && ind == 8 &&
                       ref_to(s + (s[0] == '-' ? 2 : 0), "schemas", name)) {
                ck_assert_int_lt(sc->nallof, SPEC_ALLOF);
                snprintf(sc->allof[sc->nallof++], SPEC_NAME, "%s", name);
            } else if (!strcmp(mode6, "allOf") && ind == 10 && key_of(s, key, sizeof key)) {
                snprintf(sub, sizeof sub, "%s", key);
            } else if (!strcmp(mode6, "allOf") && ind == 12 && !strcmp(sub, "properties") &&
                       key_of(s, key, sizeof key)) {
                ck_assert_int_lt(sc->nprops, SPEC_PROPS);
                snprintf(sc->props[sc->nprops++], SPEC_NAME, "%s", key);
            }
        }
    }
}

/* The contract as the daemon serves it; new, free with spec_free. */
static struct spec *spec_load(void)
{
    struct spec *sp = calloc(1, sizeof *sp);
    ck_assert_ptr_nonnull(sp);
    struct resp *r = get("/openapi.yaml", NULL);
    ck_assert_msg(r->status == 200, "GET /openapi.yaml: %ld", r->status);
    sp->text = strdup(r->body);
    ck_assert_ptr_nonnull(sp->text);
    resp_free(r);
    spec_parse(sp);
    /* The web app's files are cached by their own rules, and / redirects: these checks
     * are the API's, so the operations tagged Web app are left out of all of them. */
    int kept = 0;
    for (int i = 0; i < sp->nops; i++)
        if (!sp->ops[i].web)
            sp->ops[kept++] = sp->ops[i];
    ck_assert_msg(kept < sp->nops, "no operation tagged Web app read from openapi.yaml");
    sp->nops = kept;
    /* the parser must have seen what the document has, or every check below is hollow */
    ck_assert_msg(sp->nops >= 40, "read only %d operations from openapi.yaml", sp->nops);
    for (int i = 0; i < sp->nops; i++) {
        struct op *o = &sp->ops[i];
        ck_assert_msg(o->role[0], "%s %s: no x-required-role read", o->method, o->path);
        ck_assert_msg(o->json || o->csv || !o->req[0], "%s %s: a body schema without a media type",
                      o->method, o->path);
    }
    return sp;
}

static void spec_free(struct spec *sp)
{
    free(sp->text);
    free(sp);
}

static const struct schema *spec_schema(const struct spec *sp, const char *name)
{
    if (name[0] == '@') { /* a response of components/responses: its body's schema */
        for (int i = 0; i < sp->nresponses; i++)
            if (!strcmp(sp->responses[i].name, name + 1))
                return spec_schema(sp, sp->responses[i].schema);
        return NULL;
    }
    for (int i = 0; i < sp->nschemas; i++)
        if (!strcmp(sp->schemas[i].name, name))
            return &sp->schemas[i];
    return NULL;
}

/* True when schema name (allOf followed) has property prop. */
static bool spec_has_prop(const struct spec *sp, const char *name, const char *prop, int depth)
{
    const struct schema *sc = spec_schema(sp, name);
    if (!sc || depth > 4)
        return false;
    for (int i = 0; i < sc->nprops; i++)
        if (!strcmp(sc->props[i], prop))
            return true;
    for (int i = 0; i < sc->nallof; i++)
        if (spec_has_prop(sp, sc->allof[i], prop, depth + 1))
            return true;
    return false;
}

/* Calls fn for each property of schema name, allOf followed. */
static void spec_each_prop(const struct spec *sp, const char *name, int depth,
                           void (*fn)(const char *prop, void *arg), void *arg)
{
    const struct schema *sc = spec_schema(sp, name);
    if (!sc || depth > 4)
        return;
    for (int i = 0; i < sc->nprops; i++)
        fn(sc->props[i], arg);
    for (int i = 0; i < sc->nallof; i++)
        spec_each_prop(sp, sc->allof[i], depth + 1, fn, arg);
}

/* ------------------------------------------------------------------ helpers */

static void random_uuid(char out[37])
{
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fread(b, 1, sizeof b, f), sizeof b);
    fclose(f);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* What a path parameter stands for: a param of that name after the collection segment
 * (or anywhere, with "*"). */
struct binding {
    const char *param, *collection;
    char value[160];
};

/* The path with each {param} replaced by its binding (URL-encoded as needed); false,
 * with the missing one in missing, when some parameter has none. */
static bool fill_path(const char *tmpl, const struct binding *b, int nb, char *out, size_t cap,
                      char *missing, size_t mcap)
{
    size_t o = 0;
    const char *seg = tmpl; /* start of the current segment */
    char collection[SPEC_NAME] = "";
    for (const char *p = tmpl; *p && o + 1 < cap;) {
        if (*p == '/') {
            /* the segment that ends here names the collection of the next {id} */
            if (p > seg && *seg != '{')
                snprintf(collection, sizeof collection, "%.*s", (int)(p - seg), seg);
            seg = p + 1;
            out[o++] = *p++;
            continue;
        }
        if (*p != '{') {
            out[o++] = *p++;
            continue;
        }
        size_t n = strcspn(p + 1, "}");
        const char *value = NULL;
        for (int i = 0; i < nb && !value; i++)
            if (strlen(b[i].param) == n && !strncmp(b[i].param, p + 1, n) &&
                (!strcmp(b[i].collection, "*") || !strcmp(b[i].collection, collection)))
                value = b[i].value;
        if (!value) {
            snprintf(missing, mcap, "{%.*s} after /%s/", (int)n, p + 1, collection);
            return false;
        }
        for (const char *v = value; *v && o + 4 < cap; v++) {
            if (*v == '@') { /* the one character of our values a path must encode */
                memcpy(out + o, "%40", 3);
                o += 3;
            } else {
                out[o++] = *v;
            }
        }
        p += n + 2;
    }
    out[o] = '\0';
    return true;
}

static void drop_request_ids(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_del(j, "request_id");
        json_object_foreach(j, k, v) drop_request_ids(v);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) drop_request_ids(v);
    }
}

/* The answer without its request ids, as compact JSON (new string), or the raw body. */
static char *comparable(const struct resp *r)
{
    if (!r->json)
        return strdup(r->body);
    json_t *copy = json_deep_copy(r->json);
    drop_request_ids(copy);
    char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    return s;
}

static bool is_problem_type(const struct resp *r, const char *slug)
{
    char type[128];
    snprintf(type, sizeof type, "https://leadloop.dev/problems/%s", slug);
    return r->json && !strcmp(jstr(r, "type"), type);
}

/* API8: what every answer must be, whatever it says: errors are RFC 9457 problems whose
 * request_id is the X-Request-Id, nothing is to be cached, and no text of PostgreSQL's or
 * of the daemon's insides shows. Adds a mismatch to rep for each failure. */
static void answer_check(struct report *rep, const char *method, const char *path,
                         const struct resp *r)
{
    static const char *const internals[] = {"SQLSTATE",    "violates",     "duplicate key",
                                            "relation \"", "syntax error", "libpq",
                                            "PostgreSQL",  "server/",      "Segmentation"};
    char *ct = resp_header(r, "Content-Type"), *rid = resp_header(r, "X-Request-Id");
    char *cache = resp_header(r, "Cache-Control");
    if (r->status >= 400 &&
        (!ct || strcmp(ct, "application/problem+json") || !r->json || !*jstr(r, "type") ||
         !*jstr(r, "title") || !rid || strcmp(jstr(r, "request_id"), rid) ||
         json_integer_value(json_object_get(r->json, "status")) != r->status))
        report_add(rep, "%s %s: %ld is no problem+json with its request id: %s %.200s", method,
                   path, r->status, ct ? ct : "(no type)", r->body);
    if (!cache || strcmp(cache, "no-store"))
        report_add(rep, "%s %s: Cache-Control %s, expected no-store", method, path,
                   cache ? cache : "(none)");
    for (size_t i = 0; i < sizeof internals / sizeof internals[0]; i++)
        if (r->json && strstr(r->body, internals[i]))
            report_add(rep, "%s %s: the answer shows '%s': %.300s", method, path, internals[i],
                       r->body);
    free(ct);
    free(rid);
    free(cache);
}

/* Sends body (NULL: none) as the operation's media type, and checks the answer's form. */
static struct resp *call(struct report *rep, const struct op *o, const char *path, const char *key,
                         const char *body)
{
    struct resp *r;
    if (body && o->csv) {
        const char *h[] = {"Content-Type: text/csv", NULL};
        r = req(&main_daemon, o->method, path, key, h, body, strlen(body));
    } else {
        r = send_json(o->method, path, key, body, body ? strlen(body) : 0, NULL, NULL);
    }
    answer_check(rep, o->method, path, r);
    return r;
}

/* ------------------------------------------------------------------ a database of its own */

/* What own_database replaced, for own_database_end to put back. */
struct own_db {
    struct daemon main;
    char admin[64], readonly[64], other_admin[64], url[512];
};

/* A fresh database called name, migrated, with the workspaces test-a and test-b and their
 * keys, and a daemon on it (main()'s settings) that stands in for main_daemon, with
 * admin_key, readonly_key, other_admin_key and LL_TEST_DATABASE_URL, until
 * own_database_end. For the tests that fingerprint every row of every table around each of
 * hundreds of requests ("no row of any workspace changed"): in the test database that would
 * read every row the suites before wrote (a 100,000-row import among them), a scan of a
 * fraction of a second each time; here only the test's own fixtures. */
static void own_database(const char *name, struct own_db *saved)
{
    const char *env[] = {"LEADLOOP_MAX_BODY=" MAIN_MAX_BODY, "LEADLOOP_CORS_ORIGINS=" MAIN_CORS,
                         NULL};
    const char *migrate[] = {"migrate", NULL};
    char url[512], err[2048];
    saved->main = main_daemon;
    memcpy(saved->admin, admin_key, sizeof saved->admin);
    memcpy(saved->readonly, readonly_key, sizeof saved->readonly);
    memcpy(saved->other_admin, other_admin_key, sizeof saved->other_admin);
    snprintf(saved->url, sizeof saved->url, "%s", env_or_die("LL_TEST_DATABASE_URL"));
    fresh_database(name, url, sizeof url);
    setenv("LL_TEST_DATABASE_URL", url, 1);
    ck_assert_msg(run_leadloopd(migrate, NULL, NULL, 0, err, sizeof err) == 0, "migrate %s: %s",
                  name, err);
    ck_assert(workspace_key("test-a", "admin", admin_key));
    ck_assert(workspace_key("test-a", "readonly", readonly_key));
    ck_assert(workspace_key("test-b", "admin", other_admin_key));
    ck_assert_msg(daemon_start(&main_daemon, env), "the daemon on %s did not start", name);
}

/* Stops own_database's daemon (it must exit 0 on SIGTERM) and puts main_daemon, the keys
 * and LL_TEST_DATABASE_URL back. */
static void own_database_end(struct own_db *saved)
{
    int rc = daemon_stop(&main_daemon, SIGTERM);
    char log[256];
    snprintf(log, sizeof log, "%s", main_daemon.log);
    main_daemon = saved->main;
    memcpy(admin_key, saved->admin, sizeof saved->admin);
    memcpy(readonly_key, saved->readonly, sizeof saved->readonly);
    memcpy(other_admin_key, saved->other_admin, sizeof saved->other_admin);
    setenv("LL_TEST_DATABASE_URL", saved->url, 1);
    ck_assert_msg(rc == 0, "the daemon of its own database exited with %d on SIGTERM; log: %s", rc,
                  log);
}

/* ------------------------------------------------------------------ fingerprints */

/* The tables that hold workspace data: every logged table but the report figures
 * (derived from the others and folded by a daemon thread every second, so they move
 * without a request) and schema_migrations; unlogged tables (rate-limit buckets) hold
 * counters, not data. Columns: name, has workspace_id, has last_used_at. */
static PGresult *data_tables(PGconn *pg)
{
    PGresult *res = PQexec(
        pg, "SELECT c.relname,"
            " EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
            " AND a.attname = 'workspace_id' AND NOT a.attisdropped),"
            " EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
            " AND a.attname = 'last_used_at' AND NOT a.attisdropped)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relpersistence = 'p'"
            " AND c.relname NOT LIKE 'report\\_%' AND c.relname <> 'schema_migrations'"
            /* where a daemon's webhook dispatcher is in the change feed: it moves by itself */
            " AND c.relname <> 'webhook_cursors'"
            " ORDER BY 1");
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    ck_assert_int_ge(PQntuples(res), 10);
    return res;
}

/* One word per data table, "table=rows:digest"; new string.
 * With workspace_id: that workspace's rows, the digest an md5 of their text.
 * Without: every row; the digest is the newest row version's transaction id (xmin), which
 * any insert or update after the last fingerprint raises, and a delete lowers the count:
 * cheap enough to take around every request. api_keys.last_used_at is left out (the md5
 * of the rows without it instead): authentication itself writes it, once a minute a key. */
static char *fingerprint(PGconn *pg, const char *workspace_id)
{
    PGresult *tables = data_tables(pg);
    size_t cap = 256 + (size_t)PQntuples(tables) * 400, used;
    char *sql = malloc(cap);
    ck_assert_ptr_nonnull(sql);
    used = (size_t)snprintf(sql, cap, "SELECT concat_ws(' '");
    for (int i = 0; i < PQntuples(tables); i++) {
        const char *t = PQgetvalue(tables, i, 0), *where = "";
        bool scoped = PQgetvalue(tables, i, 1)[0] == 't';
        bool touched = PQgetvalue(tables, i, 2)[0] == 't';
        if (workspace_id)
            where = scoped                     ? " WHERE t.workspace_id = $1"
                    : !strcmp(t, "workspaces") ? " WHERE t.id = $1"
                                               : " WHERE false";
        if (workspace_id || touched)
            used += (size_t)snprintf(
                sql + used, cap - used,
                ", (SELECT '%s=' || count(*) || ':' || md5(coalesce(string_agg(x, ',' ORDER BY x),"
                " '')) FROM (SELECT (to_jsonb(t) - 'last_used_at')::text AS x FROM \"%s\" t%s) s)",
                t, t, where);
        else
            used += (size_t)snprintf(sql + used, cap - used,
                                     ", (SELECT '%s=' || count(*) || ':' ||"
                                     " coalesce(max(t.xmin::text::bigint), 0) FROM \"%s\" t)",
                                     t, t);
        ck_assert_uint_lt(used, cap);
    }
    snprintf(sql + used, cap - used, ")");
    PQclear(tables);
    char *fp = workspace_id ? pg_value_p(pg, sql, workspace_id) : pg_value(pg, sql);
    free(sql);
    return fp;
}

/* The words of two fingerprints that differ, into out. */
static void fingerprint_diff(const char *a, const char *b, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    while (*a && *b && o + 1 < cap) {
        size_t na = strcspn(a, " "), nb = strcspn(b, " ");
        if (na != nb || strncmp(a, b, na))
            o += (size_t)snprintf(out + o, cap - o, "%s%.*s -> %.*s", o ? "; " : "", (int)na, a,
                                  (int)nb, b);
        a += na + (a[na] == ' ');
        b += nb + (b[nb] == ' ');
    }
}

/* ------------------------------------------------------------------ fixtures */

/* A valid body for each write operation, aimed at the fixtures: the BOLA test sends it
 * from the other workspace (so that a missing check would change something), the mass
 * assignment test adds one member to it. "{lead}" stands for the fixture lead's id. An
 * operation left out here gets "{}". */
static const struct {
    const char *method, *path, *body;
} bodies[] = {
    {"POST", "/v1/api-keys", "{\"name\":\"owasp key\",\"role\":\"readonly\"}"},
    {"PATCH", "/v1/api-keys/{id}", "{\"name\":\"owasp renamed\"}"},
    {"POST", "/v1/users",
     "{\"name\":\"Owasp\",\"email\":\"owasp.mass@example.com\",\"team\":\"sales\"}"},
    {"PATCH", "/v1/users/{id}", "{\"name\":\"owasp renamed\"}"},
    {"POST", "/v1/campaigns", "{\"name\":\"owasp\",\"channel\":\"email\"}"},
    {"PATCH", "/v1/campaigns/{id}", "{\"name\":\"owasp renamed\"}"},
    {"POST", "/v1/campaigns/{id}/touches", "{\"lead_id\":\"{lead}\",\"kind\":\"clicked\"}"},
    {"POST", "/v1/campaigns/{id}/touches/batch",
     "{\"touches\":[{\"lead_id\":\"{lead}\",\"kind\":\"clicked\"}]}"},
    {"POST", "/v1/leads", "{\"email\":\"owasp.mass@example.com\"}"},
    {"POST", "/v1/leads/batch", "{\"leads\":[{\"email\":\"owasp.mass@example.com\"}]}"},
    {"POST", "/v1/leads/import", "email\r\nowasp.mass@example.com\r\n"},
    {"PUT", "/v1/leads/by-email/{email}", "{\"title\":\"owasp\"}"},
    {"PUT", "/v1/leads/by-external-id/{system}/{external_id}", "{\"title\":\"owasp\"}"},
    {"PATCH", "/v1/leads/{id}", "{\"title\":\"owasp\"}"},
    {"POST", "/v1/leads/{id}/transitions", "{\"to\":\"sales_accepted\"}"},
    {"POST", "/v1/leads/{id}/history",
     "{\"transitions\":[{\"to\":\"sales_accepted\",\"at\":\"2020-01-01T00:00:00Z\"}]}"},
    {"POST", "/v1/leads/{id}/feedback", "{\"kind\":\"contacted\",\"rating\":2}"},
    {"POST", "/v1/leads/{id}/merge", "{\"from\":\"{lead}\"}"},
    {"POST", "/v1/leads/{id}/interactions", "{\"kind\":\"note\",\"subject\":\"owasp\"}"},
    {"POST", "/v1/interactions/batch",
     "{\"items\":[{\"lead_id\":\"{lead}\",\"kind\":\"note\",\"subject\":\"owasp\"}]}"},
    {"POST", "/v1/feedback-reasons",
     "{\"code\":\"owasp_mass\",\"label\":\"owasp\",\"kinds\":[\"rejected\"]}"},
    {"PATCH", "/v1/feedback-reasons/{code}", "{\"label\":\"owasp\"}"},
    {"PATCH", "/v1/workspace", "{\"name\":\"owasp\"}"},
    {"POST", "/v1/sla/goals", "{\"period\":\"2031-01\",\"metric\":\"mqls\",\"target\":5}"},
    {"PATCH", "/v1/sla/goals/{id}", "{\"target\":6}"},
    {"PUT", "/v1/scoring/draft", "{\"groups\":[],\"rules\":[]}"},
    /* a public address (the main daemon refuses private ones), turned off: nothing is
     * sent to it, whichever daemon delivers */
    {"POST", "/v1/webhooks", "{\"url\":\"https://93.184.216.34/owasp\",\"active\":false}"},
    {"PATCH", "/v1/webhooks/{id}", "{\"description\":\"owasp\"}"},
    {"POST", "/v1/webhooks/{id}/rotate-secret", "{\"previous_valid_for_s\":0}"},
    {"POST", "/v1/invitations",
     "{\"email\":\"owasp.invited@example.com\",\"name\":\"Owasp\",\"role\":\"sales\"}"},
    {"POST", "/v1/invitations/accept",
     "{\"token\":\"lli_00000000000000000000000000000000_"
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
     "\"password\":\"owasp password 1\"}"},
    {"POST", "/v1/session", "{\"email\":\"owasp.nobody@example.com\",\"password\":\"owasp pw\"}"},
    /* routing: shapes that pass validation; their ids need not exist (a refused id answers
     * after the members are checked) */
    {"POST", "/v1/routing/pools", "{\"name\":\"owasp\",\"method\":\"weighted\"}"},
    {"PATCH", "/v1/routing/pools/{id}", "{\"name\":\"owasp renamed\"}"},
    {"PUT", "/v1/routing/pools/{id}/members/{user_id}", "{\"weight\":2}"},
    {"POST", "/v1/routing/absences",
     "{\"user_id\":\"00000000-0000-4000-8000-000000000000\","
     "\"starts_at\":\"2031-01-01T00:00:00Z\",\"ends_at\":\"2031-01-02T00:00:00Z\"}"},
    {"PUT", "/v1/routing/rules",
     "{\"rules\":[{\"target\":{\"user_id\":\"00000000-0000-4000-8000-000000000000\"}}]}"},
    {"POST", "/v1/routing/dry-run", "{\"lead_id\":\"{lead}\"}"},
    {"POST", "/v1/routing/reassign-due", "{}"},
    {"POST", "/v1/leads/{id}/route", "{}"},
    {"PUT", "/v1/session/password",
     "{\"current_password\":\"owasp password 1\",\"new_password\":\"owasp password 2\"}"},
};

/* The body for an operation with "{lead}" replaced (new string); *known false when the
 * table above has none. */
static char *body_for(const struct op *o, const char *lead_id, bool *known)
{
    const char *b = "{}";
    *known = false;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        if (!strcmp(bodies[i].method, o->method) && !strcmp(bodies[i].path, o->path)) {
            b = bodies[i].body;
            *known = true;
        }
    char *out = malloc(strlen(b) + 64);
    ck_assert_ptr_nonnull(out);
    const char *at = strstr(b, "{lead}");
    if (at)
        sprintf(out, "%.*s%s%s", (int)(at - b), b, lead_id, at + 6);
    else
        strcpy(out, b);
    return out;
}

#define FIXTURE_BINDINGS 18

/* One of each resource of a workspace that a path can name, and what of them must never
 * show elsewhere. */
struct fixtures {
    char marker[16]; /* in every free-text value */
    char user[40], key[40], campaign[40], lead[40], reason[64], email[128], external_id[64];
    char webhook[40], delivery[40], invitation[40], session[40], interaction[40], goal[40];
    char pool[40], absence[40];
    char scoring_version[16];
    struct binding b[FIXTURE_BINDINGS];
    int nb;
    char workspace_b[40]; /* test-b's workspace id */
};

static bool scoring_done(void *key)
{
    struct resp *r = get("/v1/scoring", key);
    json_t *state = json_object_get(json_object_get(r->json, "rescore"), "state");
    bool done = json_is_string(state) && !strcmp(json_string_value(state), "done");
    resp_free(r);
    return done;
}

static void created(struct resp *r, const char *what, char *id, size_t cap)
{
    ck_assert_msg(r->status == 201, "fixture %s: %ld %s", what, r->status, r->body);
    if (id)
        snprintf(id, cap, "%s", jstr(r, "id"));
    resp_free(r);
}

/* Creates the fixtures with an admin key of their workspace; tag keeps two tests' apart.
 * Every free-text value carries the marker; the values that also appear in paths (email,
 * external id, reason code) do not, since an answer may rightly repeat its own path. */
static void fixtures_make(struct fixtures *f, const char *tag, const char *key, const char *marker)
{
    char body[512], path[160];
    memset(f, 0, sizeof f[0]);
    snprintf(f->marker, sizeof f->marker, "%s", marker);
    snprintf(body, sizeof body,
             "{\"name\":\"%s user\",\"email\":\"owasp.%s.user@example.com\",\"team\":\"sales\"}",
             marker, tag);
    created(post("/v1/users", key, body), "user", f->user, sizeof f->user);
    snprintf(body, sizeof body, "{\"name\":\"%s key\",\"role\":\"readonly\",\"user_id\":\"%s\"}",
             marker, f->user);
    created(post("/v1/api-keys", key, body), "api key", f->key, sizeof f->key);
    snprintf(body, sizeof body,
             "{\"name\":\"%s campaign\",\"channel\":\"webinar\",\"owner_id\":\"%s\","
             "\"tags\":[\"%s\"],\"description\":\"%s plans\"}",
             marker, f->user, marker, marker);
    created(post("/v1/campaigns", key, body), "campaign", f->campaign, sizeof f->campaign);
    snprintf(f->email, sizeof f->email, "owasp.%s.lead@example.com", tag);
    snprintf(f->external_id, sizeof f->external_id, "OWASP-%s-1", tag);
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"first_name\":\"%s\",\"company\":\"%s Co\",\"owner_id\":\"%s\","
             "\"campaign_id\":\"%s\",\"external_ids\":{\"crm\":\"%s\"},"
             "\"custom\":{\"plan\":\"%s\"}}",
             f->email, marker, marker, f->user, f->campaign, f->external_id, marker);
    created(post("/v1/leads", key, body), "lead", f->lead, sizeof f->lead);
    snprintf(path, sizeof path, "/v1/campaigns/%s/touches", f->campaign);
    snprintf(body, sizeof body, "{\"lead_id\":\"%s\",\"kind\":\"clicked\"}", f->lead);
    created(post(path, key, body), "touch", NULL, 0);
    snprintf(path, sizeof path, "/v1/leads/%s/transitions", f->lead);
    snprintf(body, sizeof body, "{\"to\":\"mql\",\"reason\":\"%s scored\"}", marker);
    created(post(path, key, body), "transition", NULL, 0);
    snprintf(f->reason, sizeof f->reason, "owasp_%s_only", tag);
    snprintf(body, sizeof body,
             "{\"code\":\"%s\",\"label\":\"%s reason\",\"kinds\":[\"rejected\"]}", f->reason,
             marker);
    created(post("/v1/feedback-reasons", key, body), "feedback reason", NULL, 0);
    snprintf(path, sizeof path, "/v1/leads/%s/feedback", f->lead);
    snprintf(body, sizeof body, "{\"kind\":\"contacted\",\"rating\":4,\"note\":\"%s called\"}",
             marker);
    created(post(path, key, body), "feedback", NULL, 0);
    snprintf(path, sizeof path, "/v1/leads/%s/interactions", f->lead);
    snprintf(body, sizeof body,
             "{\"kind\":\"call\",\"direction\":\"outbound\",\"subject\":\"%s call\"}", marker);
    created(post(path, key, body), "interaction", f->interaction, sizeof f->interaction);
    snprintf(body, sizeof body,
             "{\"url\":\"https://93.184.216.34/%s\",\"description\":\"%s hook\","
             "\"active\":false}",
             tag, marker);
    created(post("/v1/webhooks", key, body), "webhook", f->webhook, sizeof f->webhook);
    snprintf(path, sizeof path, "/v1/webhooks/%s/ping", f->webhook);
    struct resp *ping = post(path, key, "{}");
    ck_assert_msg(ping->status == 202, "fixture ping: %ld %s", ping->status, ping->body);
    snprintf(f->delivery, sizeof f->delivery, "%s", jstr(ping, "id"));
    resp_free(ping);
    /* a person who signed in (their session), and a pending invitation */
    snprintf(body, sizeof body,
             "{\"email\":\"owasp.%s.person@example.com\",\"name\":\"%s person\","
             "\"role\":\"sales\"}",
             tag, marker);
    struct resp *inv = post("/v1/invitations", key, body);
    ck_assert_msg(inv->status == 201, "fixture invitation: %ld %s", inv->status, inv->body);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"owasp password 1\"}",
             jstr(inv, "token"));
    resp_free(inv);
    struct resp *acc = post("/v1/invitations/accept", NULL, body);
    ck_assert_msg(acc->status == 200, "fixture session: %ld %s", acc->status, acc->body);
    snprintf(f->session, sizeof f->session, "%s", jstr(acc, "id"));
    resp_free(acc);
    snprintf(body, sizeof body,
             "{\"email\":\"owasp.%s.invitee@example.com\",\"name\":\"%s invitee\","
             "\"role\":\"marketing\"}",
             tag, marker);
    created(post("/v1/invitations", key, body), "invitation", f->invitation, sizeof f->invitation);
    /* the fixture user's goal: one per fixture, however many a workspace gets */
    snprintf(body, sizeof body,
             "{\"period\":\"2030-12\",\"metric\":\"mqls\",\"target\":9,\"owner_id\":\"%s\"}",
             f->user);
    created(post("/v1/sla/goals", key, body), "SLA goal", f->goal, sizeof f->goal);

    /* a routing pool with the user as its member, and an absence of theirs */
    snprintf(body, sizeof body, "{\"name\":\"%s pool\",\"method\":\"round_robin\"}", marker);
    created(post("/v1/routing/pools", key, body), "routing pool", f->pool, sizeof f->pool);
    snprintf(path, sizeof path, "/v1/routing/pools/%s/members/%s", f->pool, f->user);
    created(put(path, key, "{\"weight\":3}", NULL), "pool member", NULL, 0);
    snprintf(body, sizeof body,
             "{\"user_id\":\"%s\",\"starts_at\":\"2030-01-01T00:00:00Z\","
             "\"ends_at\":\"2030-01-02T00:00:00Z\",\"note\":\"%s away\"}",
             f->user, marker);
    created(post("/v1/routing/absences", key, body), "absence", f->absence, sizeof f->absence);
    /* a published scoring version (an empty rule set: every lead scores 0) */
    struct resp *draft = put("/v1/scoring/draft", key, "{\"groups\":[],\"rules\":[]}", NULL);
    ck_assert_msg(draft->status == 200, "fixture scoring draft: %ld %s", draft->status,
                  draft->body);
    resp_free(draft);
    struct resp *pub = post("/v1/scoring/draft/publish", key, "{}");
    ck_assert_msg(pub->status == 202, "fixture scoring version: %ld %s", pub->status, pub->body);
    json_t *pv = json_object_get(pub->json, "published_version");
    snprintf(f->scoring_version, sizeof f->scoring_version, "%lld",
             (long long)json_integer_value(pv));
    resp_free(pub);
    /* its rescore runs in the background: done before the tests compare test-a's rows */
    ck_assert_msg(wait_until(scoring_done, (void *)key, 60000), "fixture scoring: no rescore");

    struct binding b[] = {
        {"id", "api-keys", ""},
        {"id", "users", ""},
        {"id", "campaigns", ""},
        {"id", "leads", ""},
        {"code", "feedback-reasons", ""},
        {"email", "*", ""},
        {"system", "*", "crm"},
        {"external_id", "*", ""},
        {"id", "webhooks", ""},
        {"delivery_id", "*", ""},
        {"id", "invitations", ""},
        {"id", "sessions", ""},
        {"id", "interactions", ""},
        {"id", "goals", ""},
        {"id", "pools", ""},
        {"user_id", "*", ""},
        {"id", "absences", ""},
        {"n", "versions", ""},
    };
    snprintf(b[0].value, sizeof b[0].value, "%s", f->key);
    snprintf(b[1].value, sizeof b[1].value, "%s", f->user);
    snprintf(b[2].value, sizeof b[2].value, "%s", f->campaign);
    snprintf(b[3].value, sizeof b[3].value, "%s", f->lead);
    snprintf(b[4].value, sizeof b[4].value, "%s", f->reason);
    snprintf(b[5].value, sizeof b[5].value, "%s", f->email);
    snprintf(b[7].value, sizeof b[7].value, "%s", f->external_id);
    snprintf(b[8].value, sizeof b[8].value, "%s", f->webhook);
    snprintf(b[9].value, sizeof b[9].value, "%s", f->delivery);
    snprintf(b[10].value, sizeof b[10].value, "%s", f->invitation);
    snprintf(b[11].value, sizeof b[11].value, "%s", f->session);
    snprintf(b[12].value, sizeof b[12].value, "%s", f->interaction);
    snprintf(b[13].value, sizeof b[13].value, "%s", f->goal);
    snprintf(b[14].value, sizeof b[14].value, "%s", f->pool);
    snprintf(b[15].value, sizeof b[15].value, "%s", f->user);
    snprintf(b[16].value, sizeof b[16].value, "%s", f->absence);
    snprintf(b[17].value, sizeof b[17].value, "%s", f->scoring_version);
    memcpy(f->b, b, sizeof b);
    f->nb = (int)(sizeof b / sizeof b[0]);

    struct resp *r = get("/v1/workspace", other_admin_key);
    ck_assert_int_eq(r->status, 200);
    snprintf(f->workspace_b, sizeof f->workspace_b, "%s", jstr(r, "id"));
    resp_free(r);
}

/* The same bindings with values never issued, of the same shapes. */
static void bindings_never_issued(const struct fixtures *f, struct binding *out)
{
    memcpy(out, f->b, sizeof f->b);
    for (int i = 0; i < f->nb; i++) {
        char u[37];
        random_uuid(u);
        if (!strcmp(out[i].param, "id"))
            snprintf(out[i].value, sizeof out[i].value, "%s", u);
        else if (!strcmp(out[i].param, "code"))
            snprintf(out[i].value, sizeof out[i].value, "owasp_never_%.8s", u);
        else if (!strcmp(out[i].param, "email"))
            snprintf(out[i].value, sizeof out[i].value, "owasp.never.%.8s@example.com", u);
        else if (!strcmp(out[i].param, "external_id"))
            snprintf(out[i].value, sizeof out[i].value, "NEVER-%.8s", u);
        else if (!strcmp(out[i].param, "n"))
            snprintf(out[i].value, sizeof out[i].value, "999999");
    }
}

/* Why a body shows something of the fixtures, or NULL. */
static const char *leaks(const struct fixtures *f, const char *body)
{
    const char *ids[] = {f->user,    f->key,      f->campaign,   f->lead,
                         f->webhook, f->delivery, f->interaction};
    if (strcasestr(body, f->marker))
        return "a value of test-a's";
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (strstr(body, ids[i]))
            return "an id of test-a's";
    return NULL;
}

/* ------------------------------------------------------------------ API5: roles */

static int role_rank(const char *role)
{
    static const char *const ranks[] = {"readonly", "sales", "marketing", "admin"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(role, ranks[i]))
            return i;
    return -1;
}

/* The operations that do not follow the ranking, as info.description says: feedback is
 * sales' word, so a marketing key may not give it; and a lead's history from another CRM
 * takes a key made with import (or an admin key), which the matrix's keys are not. */
static const struct {
    const char *method, *path, *role;
} refused_despite_rank[] = {{"POST", "/v1/leads/{id}/feedback", "marketing"},
                            {"POST", "/v1/leads/{id}/history", "marketing"},
                            {"POST", "/v1/leads/{id}/history", "sales"}};

static bool role_may(const struct op *o, const char *role)
{
    if (!strcmp(o->role, "none"))
        return true;
    if (!role)
        return false;
    for (size_t i = 0; i < sizeof refused_despite_rank / sizeof refused_despite_rank[0]; i++)
        if (!strcmp(o->method, refused_despite_rank[i].method) &&
            !strcmp(o->path, refused_despite_rank[i].path) &&
            !strcmp(role, refused_despite_rank[i].role))
            return false;
    return role_rank(role) >= role_rank(o->role);
}

START_TEST(every_operation_answers_each_role_as_its_x_required_role)
{
    struct spec *sp = spec_load();
    struct report rep = {NULL, 0, 0, 0};
    char marketing[64], sales[64];
    ck_assert(workspace_key("test-a", "marketing", marketing));
    ck_assert(workspace_key("test-a", "sales", sales));
    const struct {
        const char *role, *key;
    } callers[] = {{"admin", admin_key},
                   {"marketing", marketing},
                   {"sales", sales},
                   {"readonly", readonly_key},
                   {NULL, NULL}};
    const size_t ncallers = sizeof callers / sizeof callers[0];

    for (size_t i = 0; i < sizeof refused_despite_rank / sizeof refused_despite_rank[0]; i++) {
        bool found = false;
        for (int k = 0; k < sp->nops; k++)
            found = found || (!strcmp(sp->ops[k].method, refused_despite_rank[i].method) &&
                              !strcmp(sp->ops[k].path, refused_despite_rank[i].path));
        if (!found)
            report_add(&rep, "the exception %s %s is no operation of openapi.yaml",
                       refused_despite_rank[i].method, refused_despite_rank[i].path);
    }
    for (int k = 0; k < sp->nops; k++) {
        const struct op *o = &sp->ops[k];
        struct binding b[SPEC_PARAMS];
        char path[400], missing[128];
        if (strcmp(o->role, "none") && role_rank(o->role) < 0) {
            report_add(&rep, "%s %s: unknown x-required-role '%s'", o->method, o->path, o->role);
            continue;
        }
        /* ids never issued: a permitted call finds nothing (404) and changes nothing */
        for (int p = 0; p < o->nparams; p++) {
            b[p].param = o->params[p];
            b[p].collection = "*";
            random_uuid(b[p].value);
        }
        ck_assert(fill_path(o->path, b, o->nparams, path, sizeof path, missing, sizeof missing));
        const char *body = o->csv ? "email\r\n" : o->json || o->req[0] ? "{}" : NULL;
        for (size_t c = 0; c < ncallers; c++) {
            const char *who = callers[c].role ? callers[c].role : "no key";
            bool may = role_may(o, callers[c].role);
            struct resp *r = call(&rep, o, path, callers[c].key, body);
            rep.checked++;
            if (!callers[c].role && !may) {
                char *www = resp_header(r, "WWW-Authenticate");
                if (r->status != 401 || !is_problem_type(r, "unauthorized") || !www)
                    report_add(&rep,
                               "%s %s (x-required-role %s), %s: expected 401 with "
                               "WWW-Authenticate, got %ld: %.200s",
                               o->method, path, o->role, who, r->status, r->body);
                free(www);
            } else if (!may) {
                if (r->status != 403 || !is_problem_type(r, "forbidden") ||
                    strcmp(jstr(r, "role"), callers[c].role))
                    report_add(&rep,
                               "%s %s (x-required-role %s), %s: expected 403 naming the "
                               "role, got %ld: %.200s",
                               o->method, path, o->role, who, r->status, r->body);
            } else if (r->status == 401 || r->status == 403 || r->status >= 500) {
                report_add(&rep, "%s %s (x-required-role %s), %s: permitted, got %ld: %.200s",
                           o->method, path, o->role, who, r->status, r->body);
            } else if (!strcmp(o->method, "GET") && o->nparams == 0 && r->status != 200) {
                report_add(&rep, "%s %s (x-required-role %s), %s: expected 200, got %ld: %.200s",
                           o->method, path, o->role, who, r->status, r->body);
            }
            resp_free(r);
        }
    }
    printf("owasp: role matrix: %d operations x %zu callers (admin, marketing, sales, readonly, "
           "no key)\n",
           sp->nops, ncallers);
    spec_free(sp);
    report_finish(&rep, "role matrix");
}
END_TEST

/* API9: the daemon serves each documented path with exactly the documented methods
 * (OPTIONS answers without a key and lists them in Allow). */
START_TEST(every_documented_path_allows_exactly_its_methods)
{
    struct spec *sp = spec_load();
    struct report rep = {NULL, 0, 0, 0};
    for (int k = 0; k < sp->nops; k++) {
        const struct op *o = &sp->ops[k];
        bool first = true;
        for (int j = 0; j < k; j++)
            first = first && strcmp(sp->ops[j].path, o->path);
        if (!first)
            continue;
        static const char *const order[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
        char want[96] = "", path[400], missing[128];
        size_t used = 0;
        for (size_t m = 0; m < sizeof order / sizeof order[0]; m++)
            for (int j = k; j < sp->nops; j++)
                if (!strcmp(sp->ops[j].path, o->path) && !strcmp(sp->ops[j].method, order[m]))
                    used += (size_t)snprintf(want + used, sizeof want - used, "%s, ", order[m]);
        snprintf(want + used, sizeof want - used, "OPTIONS");
        struct binding b[SPEC_PARAMS];
        for (int p = 0; p < o->nparams; p++) {
            b[p].param = o->params[p];
            b[p].collection = "*";
            random_uuid(b[p].value);
        }
        ck_assert(fill_path(o->path, b, o->nparams, path, sizeof path, missing, sizeof missing));
        struct resp *r = req(&main_daemon, "OPTIONS", path, NULL, NULL, NULL, 0);
        answer_check(&rep, "OPTIONS", path, r);
        char *allow = resp_header(r, "Allow");
        rep.checked++;
        if (r->status != 204 || !allow || strcmp(allow, want))
            report_add(&rep, "OPTIONS %s: expected 204 with Allow: %s, got %ld with Allow: %s",
                       o->path, want, r->status, allow ? allow : "(none)");
        free(allow);
        resp_free(r);
    }
    spec_free(sp);
    report_finish(&rep, "documented paths and methods");
}
END_TEST

/* ------------------------------------------------------------------ API1: BOLA */

START_TEST(another_workspace_gets_404_for_every_id_of_this_one)
{
    struct spec *sp = spec_load();
    struct report rep = {NULL, 0, 0, 0};
    struct fixtures f;
    struct binding never[FIXTURE_BINDINGS];
    int operations = 0, lists = 0;
    fixtures_make(&f, "bola", admin_key, "zq7alpha");
    bindings_never_issued(&f, never);
    PGconn *pg = pg_test();
    char *ws_a = pg_value(pg, "SELECT id FROM workspaces WHERE slug = 'test-a'");
    char *before = fingerprint(pg, ws_a);

    for (int k = 0; k < sp->nops; k++) {
        const struct op *o = &sp->ops[k];
        char theirs[400], random_path[400], missing[128];
        bool known;
        if (o->nparams == 0)
            continue;
        operations++;
        if (!fill_path(o->path, f.b, f.nb, theirs, sizeof theirs, missing, sizeof missing)) {
            report_add(&rep, "%s %s: no fixture for %s: add one to fixtures_make", o->method,
                       o->path, missing);
            continue;
        }
        ck_assert(fill_path(o->path, never, f.nb, random_path, sizeof random_path, missing,
                            sizeof missing));
        char *body = o->json || o->csv ? body_for(o, f.lead, &known) : NULL;
        struct resp *a = call(&rep, o, theirs, other_admin_key, body);
        struct resp *n = call(&rep, o, random_path, other_admin_key, body);
        const char *leak = leaks(&f, a->body);
        rep.checked++;
        /* a PUT creates or updates by a key of the caller's own workspace: theirs is no
         * different from a key never used there, and creates (201) as that would */
        bool upsert = !strcmp(o->method, "PUT");
        if (!upsert && a->status != 404)
            report_add(&rep, "%s %s with test-a's ids from test-b: expected 404, got %ld: %.200s",
                       o->method, o->path, a->status, a->body);
        else if (upsert && (a->status == 200 || a->status == 204))
            report_add(&rep,
                       "%s %s with test-a's key from test-b: found test-a's resource "
                       "(%ld): %.200s",
                       o->method, o->path, a->status, a->body);
        else if (leak)
            report_add(&rep, "%s %s from test-b: the answer shows %s: %.300s", o->method, o->path,
                       leak, a->body);
        else if (a->status != n->status)
            report_add(&rep, "%s %s from test-b: test-a's ids answer %ld, ids never issued %ld",
                       o->method, o->path, a->status, n->status);
        else if (a->status >= 400) {
            char *ca = comparable(a), *cn = comparable(n);
            if (strcmp(ca, cn))
                report_add(&rep, "%s %s from test-b: test-a's ids answer %s, ids never issued %s",
                           o->method, o->path, ca, cn);
            free(ca);
            free(cn);
        }
        free(body);
        resp_free(a);
        resp_free(n);
    }
    /* the collections of test-b show nothing of test-a's */
    for (int k = 0; k < sp->nops; k++) {
        const struct op *o = &sp->ops[k];
        if (strcmp(o->method, "GET") || o->nparams > 0 || strncmp(o->path, "/v1/", 4))
            continue;
        struct resp *r = call(&rep, o, o->path, other_admin_key, NULL);
        const char *leak = leaks(&f, r->body);
        lists++;
        rep.checked++;
        if (r->status != 200 || leak)
            report_add(&rep, "GET %s from test-b: %ld, %s: %.300s", o->path, r->status,
                       leak ? leak : "expected 200", r->body);
        resp_free(r);
    }

    char *after = fingerprint(pg, ws_a), diff[2048];
    fingerprint_diff(before, after, diff, sizeof diff);
    rep.checked++;
    if (strcmp(before, after))
        report_add(&rep, "test-a's rows changed: %s", diff);
    printf("owasp: BOLA: %d operations with a path parameter, %d calls from test-b (test-a's ids "
           "and ids never issued), %d lists of test-b\n",
           operations, 2 * operations, lists);
    free(before);
    free(after);
    free(ws_a);
    PQfinish(pg);
    spec_free(sp);
    report_finish(&rep, "BOLA");
}
END_TEST

/* ------------------------------------------------------------------ API3: mass assignment */

/* A plausible value for a member the server owns. */
static json_t *owned_value(const char *field, const char *workspace_b)
{
    static const struct {
        const char *field, *value;
    } named[] = {{"stage", "customer"},
                 {"stage_before", "new"},
                 {"stage_after", "customer"},
                 {"from", "new"},
                 {"role", "admin"},
                 {"slug", "test-b"},
                 {"code", "owasp_renamed"},
                 {"prefix", "llk_AAAAAAAA"},
                 {"secret", "llk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}};
    size_t n = strlen(field);
    char u[37];
    if (!strcmp(field, "workspace_id"))
        return json_string(workspace_b);
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (!strcmp(field, named[i].field))
            return json_string(named[i].value);
    if (!strcmp(field, "id") || (n > 3 && !strcmp(field + n - 3, "_id"))) {
        random_uuid(u);
        return json_string(u);
    }
    if (!strcmp(field, "version") || !strcmp(field, "created") || !strcmp(field, "updated") ||
        !strcmp(field, "failed"))
        return json_integer(99);
    if (n > 3 && !strcmp(field + n - 3, "_at"))
        return json_string("2026-01-01T00:00:00.000000Z");
    if (n > 3 && !strcmp(field + n - 3, "_on"))
        return json_string("2026-12-31");
    if (!strcmp(field, "active"))
        return json_true();
    return json_string("owasp");
}

/* Why a problem is not 422 validation-failed naming field and nothing else, or NULL. */
static const char *refusal_mismatch(json_t *problem, long status, const char *field)
{
    json_t *errors = json_object_get(problem, "errors"), *e;
    size_t i;
    bool named = false;
    const char *type = json_string_value(json_object_get(problem, "type"));
    if (status != 422 || !type || strcmp(type, "https://leadloop.dev/problems/validation-failed"))
        return "expected 422 validation-failed";
    json_array_foreach(errors, i, e)
    {
        const char *f = json_string_value(json_object_get(e, "field"));
        if (!f || strcmp(f, field))
            return "errors[] names another field too (is the rest of the body valid?)";
        named = true;
    }
    return named ? NULL : "errors[] does not name the field";
}

/* Member names of a body to probe. */
struct names {
    const struct spec *sp;
    const char *req;
    char names[SPEC_PROPS + 1][SPEC_NAME];
    int n;
};

static void names_add(struct names *nm, const char *name)
{
    for (int i = 0; i < nm->n; i++)
        if (!strcmp(nm->names[i], name))
            return;
    if (nm->n <= SPEC_PROPS)
        snprintf(nm->names[nm->n++], SPEC_NAME, "%s", name);
}

static void add_if_not_writable(const char *prop, void *arg)
{
    struct names *nm = arg;
    if (!spec_has_prop(nm->sp, nm->req, prop, 0))
        names_add(nm, prop);
}

/* What the server owns: the members of the resource that the request schema lacks, and
 * workspace_id, which no body has. */
static void owned_members(struct names *nm, const char *resource)
{
    names_add(nm, "workspace_id");
    if (resource[0])
        spec_each_prop(nm->sp, resource, 0, add_if_not_writable, nm);
}

static void add_if_reference(const char *prop, void *arg)
{
    size_t n = strlen(prop);
    /* an interaction's external_id is the logging tool's id of it, no Leadloop resource */
    if (!strcmp(prop, "external_id"))
        return;
    if (n > 3 && !strcmp(prop + n - 3, "_id"))
        names_add(arg, prop);
}

/* The request's members that name another resource by id. */
static void reference_members(struct names *nm, const char *resource)
{
    (void)resource;
    spec_each_prop(nm->sp, nm->req, 0, add_if_reference, nm);
}

/* The resource an item schema of a batch makes: the success body of the operation whose
 * request is that schema ("" when none is). */
static const char *item_resource(const struct spec *sp, const char *item)
{
    for (int k = 0; k < sp->nops; k++)
        if (!strcmp(sp->ops[k].req, item))
            return sp->ops[k].resp;
    return "";
}

/* One member to set in a body: at its top, or in the first item of an array. */
struct probe {
    const char *array; /* NULL: the body itself */
    const char *member;
};

/* The probes of a JSON write, by members(): of the body, and of the first item of each
 * array whose items another operation creates one by one (the batches). */
static int probes_of(const struct spec *sp, const struct op *o,
                     void (*members)(struct names *nm, const char *resource),
                     struct names lists[SPEC_PROPS + 1], struct probe *out, int cap)
{
    const struct schema *req = spec_schema(sp, o->req);
    int n = 0, nl = 0;
    for (int pass = -1; req && pass < req->nprops; pass++) {
        struct names *nm = &lists[nl];
        const char *array = NULL;
        memset(nm, 0, sizeof *nm);
        nm->sp = sp;
        if (pass < 0) {
            nm->req = o->req;
            members(nm, o->resp);
        } else if (req->items[pass][0] && item_resource(sp, req->items[pass])[0]) {
            array = req->props[pass];
            nm->req = req->items[pass];
            members(nm, item_resource(sp, req->items[pass]));
        } else {
            continue;
        }
        nl++;
        for (int m = 0; m < nm->n && n < cap; m++)
            out[n++] = (struct probe){array, nm->names[m]};
    }
    return n;
}

/* The base body with the probe's member set to value (stolen); new string. */
static char *body_with(const struct op *o, const char *base, const struct probe *pr, json_t *value)
{
    json_t *body = json_loads(base, 0, NULL), *target = body;
    ck_assert_msg(body != NULL, "%s %s: bodies[] has no JSON object", o->method, o->path);
    if (pr->array) {
        target = json_array_get(json_object_get(body, pr->array), 0);
        ck_assert_msg(json_is_object(target), "%s %s: bodies[] has no %s[0] object", o->method,
                      o->path, pr->array);
    }
    json_object_set_new(target, pr->member, value);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

/* Sends text, which sets the probe's member: the answer must refuse that member alone
 * (422 naming it; for a batch item, 200 with the item refused so), and no row of any
 * workspace may change. Returns the answer (resp_free it). */
static struct resp *send_refused(struct report *rep, PGconn *pg, const struct op *o,
                                 const char *path, const char *key, const char *text,
                                 const struct probe *pr)
{
    char *fp0 = fingerprint(pg, NULL);
    struct resp *r = call(rep, o, path, key, text);
    char *fp1 = fingerprint(pg, NULL), diff[1024];
    const char *why;
    if (pr->array) {
        json_t *item = json_array_get(json_object_get(r->json, "results"), 0);
        why = r->status != 200
                  ? "expected 200 with the item refused"
                  : refusal_mismatch(json_object_get(item, "problem"),
                                     (long)json_integer_value(json_object_get(item, "status")),
                                     pr->member);
    } else {
        why = refusal_mismatch(r->json, r->status, pr->member);
    }
    rep->checked++;
    if (why)
        report_add(rep, "%s %s with %s%s%s: %s; got %ld %.300s", o->method, o->path,
                   pr->array ? pr->array : "", pr->array ? "[0]." : "", pr->member, why, r->status,
                   r->body);
    if (strcmp(fp0, fp1)) {
        fingerprint_diff(fp0, fp1, diff, sizeof diff);
        report_add(rep, "%s %s with %s%s%s: a row was written: %s", o->method, o->path,
                   pr->array ? pr->array : "", pr->array ? "[0]." : "", pr->member, diff);
    }
    free(fp0);
    free(fp1);
    return r;
}

START_TEST(members_the_server_owns_are_refused_on_every_json_write)
{
    struct spec *sp = spec_load();
    struct report rep = {NULL, 0, 0, 0};
    struct fixtures f;
    static struct names lists[SPEC_PROPS + 1];
    struct probe probes[256];
    int operations = 0, members = 0, items = 0;
    struct own_db saved;
    own_database("ll_owasp_mass", &saved);
    fixtures_make(&f, "mass", admin_key, "zq7alpha");
    PGconn *pg = pg_test();

    for (int k = 0; k < sp->nops; k++) {
        const struct op *o = &sp->ops[k];
        char path[400], missing[128];
        bool known;
        if (!o->json)
            continue;
        operations++;
        if (!fill_path(o->path, f.b, f.nb, path, sizeof path, missing, sizeof missing)) {
            report_add(&rep, "%s %s: no fixture for %s: add one to fixtures_make", o->method,
                       o->path, missing);
            continue;
        }
        if (!spec_schema(sp, o->req))
            report_add(&rep, "%s %s: request schema '%s' not found in openapi.yaml", o->method,
                       o->path, o->req);
        char *base = body_for(o, f.lead, &known);
        if (!known)
            report_add(&rep, "%s %s: no valid body in bodies[]: add one", o->method, o->path);
        int n = probes_of(sp, o, owned_members, lists, probes, 256);
        for (int i = 0; i < n; i++) {
            char *text =
                body_with(o, base, &probes[i], owned_value(probes[i].member, f.workspace_b));
            resp_free(send_refused(&rep, pg, o, path, admin_key, text, &probes[i]));
            free(text);
            if (probes[i].array)
                items++;
            else
                members++;
        }
        free(base);
    }
    printf("owasp: mass assignment: %d JSON write operations, %d bodies with a member the server "
           "owns, %d batch items with one\n",
           operations, members, items);
    PQfinish(pg);
    spec_free(sp);
    own_database_end(&saved);
    report_finish(&rep, "mass assignment");
}
END_TEST

/* API1 in bodies: a member that names another resource (owner_id, campaign_id, lead_id,
 * user_id, author_id) given another workspace's id is refused exactly like an id never
 * issued (422 naming it), and writes nothing. */
START_TEST(another_workspaces_ids_in_a_body_are_refused_like_unknown_ones)
{
    struct spec *sp = spec_load();
    struct report rep = {NULL, 0, 0, 0};
    struct fixtures a, b;
    static struct names lists[SPEC_PROPS + 1];
    struct probe probes[256];
    int operations = 0, references = 0;
    struct own_db saved;
    own_database("ll_owasp_refs", &saved);
    fixtures_make(&a, "refa", admin_key, "zq7alpha");
    fixtures_make(&b, "refb", other_admin_key, "zq7beta");
    const struct {
        const char *member, *theirs;
    } refs[] = {{"owner_id", a.user},
                {"user_id", a.user},
                {"author_id", a.user},
                {"campaign_id", a.campaign},
                {"lead_id", a.lead}};
    PGconn *pg = pg_test();

    for (int k = 0; k < sp->nops; k++) {
        const struct op *o = &sp->ops[k];
        char path[400], missing[128];
        bool known;
        if (!o->json)
            continue;
        /* test-b writes to its own resources, naming test-a's in the body */
        if (!fill_path(o->path, b.b, b.nb, path, sizeof path, missing, sizeof missing)) {
            report_add(&rep, "%s %s: no fixture for %s: add one to fixtures_make", o->method,
                       o->path, missing);
            continue;
        }
        int n = probes_of(sp, o, reference_members, lists, probes, 256);
        if (n == 0)
            continue;
        operations++;
        char *base = body_for(o, b.lead, &known);
        for (int i = 0; i < n; i++) {
            const char *theirs = NULL;
            char never[37];
            for (size_t j = 0; j < sizeof refs / sizeof refs[0]; j++)
                if (!strcmp(refs[j].member, probes[i].member))
                    theirs = refs[j].theirs;
            if (!theirs) {
                report_add(&rep, "%s %s: no test-a resource for the member %s: add it to refs[]",
                           o->method, o->path, probes[i].member);
                continue;
            }
            random_uuid(never);
            char *ta = body_with(o, base, &probes[i], json_string(theirs));
            char *tn = body_with(o, base, &probes[i], json_string(never));
            struct resp *ra = send_refused(&rep, pg, o, path, other_admin_key, ta, &probes[i]);
            struct resp *rn = call(&rep, o, path, other_admin_key, tn);
            char *ca = comparable(ra), *cn = comparable(rn);
            /* the same words, but for the id itself where the answer repeats it */
            char *at = strstr(ca, theirs);
            if (at)
                memcpy(at, never, 36);
            rep.checked++;
            references++;
            if (strcmp(ca, cn))
                report_add(&rep, "%s %s: %s of test-a answers %s, one never issued %s", o->method,
                           o->path, probes[i].member, ca, cn);
            free(ca);
            free(cn);
            free(ta);
            free(tn);
            resp_free(ra);
            resp_free(rn);
        }
        free(base);
    }
    printf("owasp: ids in bodies: %d operations, %d members naming test-a's resources from "
           "test-b\n",
           operations, references);
    PQfinish(pg);
    spec_free(sp);
    own_database_end(&saved);
    report_finish(&rep, "ids of another workspace in bodies");
}
END_TEST

/* API3 for the one body that is not JSON: a CSV column is a lead field or a custom field,
 * so columns named like what the server owns set nothing but custom members (or, for the
 * lead list's CSV columns, nothing: they are ignored, and named in ignored_columns).
 * (created_at is a lead field of an import: history, for admins and importing keys;
 * test_history.) */
START_TEST(import_columns_named_like_server_owned_members_only_fill_custom)
{
    char csv[512], never[37];
    const char *h[] = {"Content-Type: text/csv", NULL};
    struct resp *w = get("/v1/workspace", other_admin_key);
    ck_assert_int_eq(w->status, 200);
    random_uuid(never);
    snprintf(csv, sizeof csv,
             "email,id,workspace_id,stage,version,updated_at\r\n"
             "owasp.csv.owned@example.com,%s,%s,customer,99,2020-01-01T00:00:00Z\r\n",
             never, jstr(w, "id"));
    struct resp *r =
        req(&main_daemon, "POST", "/v1/leads/import?mode=create", admin_key, h, csv, strlen(csv));
    ck_assert_msg(r->status == 200 && json_integer_value(json_object_get(r->json, "created")) == 1,
                  "import: %ld %s", r->status, r->body);
    ck_assert_int_eq(json_array_size(json_object_get(r->json, "ignored_columns")), 4);
    resp_free(r);
    r = get("/v1/leads?q=owasp.csv.owned", admin_key);
    json_t *lead = json_array_get(json_object_get(r->json, "data"), 0);
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 1, "%s", r->body);
    ck_assert_str_ne(json_string_value(json_object_get(lead, "id")), never);
    ck_assert_str_eq(json_string_value(json_object_get(lead, "stage")), "new");
    ck_assert_int_eq(json_integer_value(json_object_get(lead, "version")), 1);
    ck_assert_str_ne(json_string_value(json_object_get(lead, "updated_at")),
                     "2020-01-01T00:00:00.000000Z");
    json_t *custom = json_object_get(lead, "custom");
    ck_assert_ptr_null(json_object_get(custom, "stage"));
    ck_assert_str_eq(json_string_value(json_object_get(custom, "workspace_id")), jstr(w, "id"));
    resp_free(r);
    r = get("/v1/leads?q=owasp.csv.owned", other_admin_key);
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 0,
                  "the lead reached the workspace its CSV named: %s", r->body);
    resp_free(r);
    resp_free(w);
}
END_TEST

Suite *owasp_suite(void)
{
    Suite *s = suite_create("owasp");
    TCase *tc = tcase_create("owasp");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, every_operation_answers_each_role_as_its_x_required_role);
    tcase_add_test(tc, every_documented_path_allows_exactly_its_methods);
    tcase_add_test(tc, another_workspace_gets_404_for_every_id_of_this_one);
    tcase_add_test(tc, members_the_server_owns_are_refused_on_every_json_write);
    tcase_add_test(tc, another_workspaces_ids_in_a_body_are_refused_like_unknown_ones);
    tcase_add_test(tc, import_columns_named_like_server_owned_members_only_fill_custom);
    suite_add_tcase(s, tc);
    return s;
}
