/* One source for each value list: the daemon's C tables (server/vocab.c), the CHECK
 * constraints of the live schema (read from pg_constraint after the migrations ran), the
 * enums of the openapi.yaml the daemon serves, and the rows its reports answer with must
 * name the same values in the same order. A value added in one place and not the others
 * fails here, naming the places that differ. The routes and their roles are compared with
 * openapi.yaml by the unit test tests/unit/test_inventory.c, which links the route table. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/vocab.h"
#include "suites.h"
#include "support.h"

/* ------------------------------------------------------------------ a YAML reader */

/* What the contract needs of YAML, as openapi.yaml writes it (redocly lints it): block
 * mappings by indentation, block sequences ("- "), flow sequences of plain or quoted
 * scalars ("[a, b]", over several lines), plain and quoted scalars, block scalars (| and
 * >, skipped), comments. Each scalar or flow sequence becomes an entry named by its path
 * of keys, sequence items as their index: "components/schemas/Source/enum". A block
 * sequence of scalars becomes one entry as a flow sequence would. Anchors, aliases, flow
 * mappings and multi-line plain scalars are not read (openapi.yaml has none that matter). */
#define YAML_MAX_DEPTH  32
#define YAML_MAX_VALUES 64

struct yaml_entry {
    char *path;
    char *values[YAML_MAX_VALUES]; /* a scalar is one value */
    size_t n;
    bool list;
};

struct yaml_doc {
    struct yaml_entry *e;
    size_t n, cap;
};

static void yaml_free(struct yaml_doc *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->e[i].path);
        for (size_t k = 0; k < d->e[i].n; k++)
            free(d->e[i].values[k]);
    }
    free(d->e);
    memset(d, 0, sizeof *d);
}

static struct yaml_entry *yaml_add(struct yaml_doc *d, const char *path, bool list)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 1024;
        d->e = realloc(d->e, d->cap * sizeof *d->e);
        ck_assert_ptr_nonnull(d->e);
    }
    struct yaml_entry *e = &d->e[d->n++];
    memset(e, 0, sizeof *e);
    e->path = strdup(path);
    e->list = list;
    ck_assert_ptr_nonnull(e->path);
    return e;
}

/* A scalar without its quotes and surrounding blanks (new string). */
static char *yaml_scalar(const char *s, size_t len)
{
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len >= 2 && (s[0] == '\'' || s[0] == '"') && s[len - 1] == s[0])
        s++, len -= 2;
    char *out = strndup(s, len);
    ck_assert_ptr_nonnull(out);
    return out;
}

static void yaml_value(struct yaml_entry *e, const char *s, size_t len)
{
    ck_assert_msg(e->n < YAML_MAX_VALUES, "%s: more than %d values", e->path, YAML_MAX_VALUES);
    e->values[e->n++] = yaml_scalar(s, len);
}

/* The items of a flow sequence "[a, 'b', c]" into e. */
static void yaml_flow(struct yaml_entry *e, const char *s)
{
    const char *p = strchr(s, '[') + 1, *end = strrchr(s, ']');
    while (p < end) {
        const char *c = p;
        char q = 0;
        for (; c < end && (q || *c != ','); c++)
            if ((*c == '\'' || *c == '"') && (!q || q == *c))
                q = q ? 0 : *c;
        if (c > p)
            yaml_value(e, p, (size_t)(c - p));
        p = c + 1;
    }
}

/* The end of a key ("key:" or "key: value"), or NULL when the line holds no key. */
static const char *yaml_key_end(const char *s)
{
    if (*s == '\'' || *s == '"') {
        const char *q = strchr(s + 1, *s);
        return q && q[1] == ':' && (q[2] == '\0' || q[2] == ' ') ? q + 1 : NULL;
    }
    for (const char *c = s; *c; c++)
        if (*c == ':' && (c[1] == '\0' || c[1] == ' '))
            return c;
    return NULL;
}

static void yaml_read(const char *text, struct yaml_doc *d)
{
    struct frame {
        int indent;
        char key[160];
        int items;  /* sequence items seen under this key */
        bool empty; /* "key:" with nothing after it: a nested block follows */
    } st[YAML_MAX_DEPTH];
    int depth = 0, scalar_indent = -1;
    char *copy = strdup(text), *save = NULL, *flow = NULL;
    struct yaml_entry *open_flow = NULL;
    ck_assert_ptr_nonnull(copy);
    memset(d, 0, sizeof *d);
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        int ind = 0;
        while (l[ind] == ' ')
            ind++;
        char *s = l + ind;
        size_t len = strlen(s);
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\r'))
            s[--len] = '\0';
        if (open_flow) { /* a flow sequence continued from an earlier line */
            size_t had = strlen(flow), add = strlen(s);
            flow = realloc(flow, had + add + 2);
            ck_assert_ptr_nonnull(flow);
            flow[had] = ' ';
            memcpy(flow + had + 1, s, add + 1);
            if (strchr(s, ']')) {
                yaml_flow(open_flow, flow);
                free(flow);
                flow = NULL;
                open_flow = NULL;
            }
            continue;
        }
        if (len == 0 || *s == '#' || (scalar_indent >= 0 && ind > scalar_indent))
            continue;
        scalar_indent = -1;
        /* Leave the blocks this line is not inside. A "- " at the indent of a key that
         * opened a block is that key's sequence (YAML allows it unindented). */
        while (depth > 0 && (st[depth - 1].indent > ind ||
                             (st[depth - 1].indent == ind &&
                              !(s[0] == '-' && s[1] == ' ' && st[depth - 1].empty &&
                                st[depth - 1].key[0] != '['))))
            depth--;
        char path[1024] = "";
        size_t used = 0;
        for (int i = 0; i < depth; i++)
            used +=
                (size_t)snprintf(path + used, sizeof path - used, "%s%s", i ? "/" : "", st[i].key);
        ck_assert_uint_lt(used, sizeof path);
        if (s[0] == '-' && (s[1] == ' ' || s[1] == '\0')) {
            ck_assert_msg(depth > 0, "a sequence item outside any key: %s", l);
            struct frame *parent = &st[depth - 1];
            int index = parent->items++;
            s += 2, ind += 2;
            if (!yaml_key_end(s)) { /* a scalar item: the parent's list grows */
                struct yaml_entry *e =
                    d->n && !strcmp(d->e[d->n - 1].path, path) ? &d->e[d->n - 1] : NULL;
                if (!e)
                    e = yaml_add(d, path, true);
                yaml_value(e, s, strlen(s));
                continue;
            }
            ck_assert_int_lt(depth, YAML_MAX_DEPTH);
            st[depth] = (struct frame){.indent = ind - 2, .empty = false};
            snprintf(st[depth].key, sizeof st[depth].key, "[%d]", index);
            used += (size_t)snprintf(path + used, sizeof path - used, "/[%d]", index);
            depth++;
        }
        const char *colon = yaml_key_end(s);
        if (!colon)
            continue; /* a continued plain scalar: not needed */
        char *key = yaml_scalar(s, (size_t)(colon - s));
        const char *rest = colon + 1;
        while (*rest == ' ')
            rest++;
        snprintf(path + used, sizeof path - used, "%s%s", used ? "/" : "", key);
        if (*rest == '\0') {
            ck_assert_int_lt(depth, YAML_MAX_DEPTH);
            st[depth] = (struct frame){.indent = ind, .empty = true};
            snprintf(st[depth].key, sizeof st[depth].key, "%s", key);
            depth++;
        } else if (*rest == '[') {
            struct yaml_entry *e = yaml_add(d, path, true);
            if (strchr(rest, ']')) {
                yaml_flow(e, rest);
            } else {
                open_flow = e;
                flow = strdup(rest);
                ck_assert_ptr_nonnull(flow);
            }
        } else if (*rest == '|' || *rest == '>') {
            scalar_indent = ind;
        } else if (*rest != '#') {
            yaml_value(yaml_add(d, path, false), rest, strlen(rest));
        }
        free(key);
    }
    ck_assert_msg(open_flow == NULL, "a flow sequence never closed: %s",
                  open_flow ? open_flow->path : "");
    free(copy);
}

static const struct yaml_entry *yaml_get(const struct yaml_doc *d, const char *path)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->e[i].path, path))
            return &d->e[i];
    return NULL;
}

START_TEST(the_yaml_reader_reads_what_the_contract_needs)
{
    static const char text[] = "# a comment\n"
                               "a:\n"
                               "  b: plain\n"
                               "  c: 'quoted: yes'\n"
                               "  d: [x, 'y, z',\n"
                               "      \"w\"]\n"
                               "  text: |\n"
                               "    enum: [not, read]\n"
                               "    - nor: this\n"
                               "  e:\n"
                               "    - one\n"
                               "    - 'two'\n"
                               "  f:\n"
                               "  - name: first\n"
                               "    in: query\n"
                               "  - name: second\n"
                               "    schema:\n"
                               "      enum: [p, q]\n"
                               "'/v1/x/{id}':\n"
                               "  get:\n"
                               "    x-required-role: sales\n";
    struct yaml_doc d;
    yaml_read(text, &d);
    const struct yaml_entry *e;
    ck_assert_str_eq(yaml_get(&d, "a/b")->values[0], "plain");
    ck_assert_str_eq(yaml_get(&d, "a/c")->values[0], "quoted: yes");
    e = yaml_get(&d, "a/d");
    ck_assert_msg(e && e->list && e->n == 3, "a/d: a flow sequence of 3 over two lines");
    ck_assert_str_eq(e->values[1], "y, z");
    ck_assert_str_eq(e->values[2], "w");
    ck_assert_msg(yaml_get(&d, "a/text/enum") == NULL && yaml_get(&d, "a/text/[0]/nor") == NULL,
                  "a block scalar's text is not read as YAML");
    e = yaml_get(&d, "a/e");
    ck_assert_msg(e && e->list && e->n == 2, "a/e: a block sequence of 2");
    ck_assert_str_eq(e->values[1], "two");
    ck_assert_str_eq(yaml_get(&d, "a/f/[0]/in")->values[0], "query");
    ck_assert_str_eq(yaml_get(&d, "a/f/[1]/name")->values[0], "second");
    ck_assert_uint_eq(yaml_get(&d, "a/f/[1]/schema/enum")->n, 2);
    ck_assert_str_eq(yaml_get(&d, "/v1/x/{id}/get/x-required-role")->values[0], "sales");
    yaml_free(&d);
}
END_TEST

/* ------------------------------------------------------------------ the lists */

static size_t count(const char *const *list)
{
    size_t n = 0;
    while (list[n])
        n++;
    return n;
}

static bool in(const char *v, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, list[i]))
            return true;
    return false;
}

/* True when values (n) are list, in its order. */
static bool same(const char *const *list, const char *const *values, size_t n)
{
    size_t i = 0;
    for (; list[i] && i < n; i++)
        if (strcmp(list[i], values[i]))
            return false;
    return list[i] == NULL && i == n;
}

static void join(const char *const *list, size_t n, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", list[i]);
}

/* Compares what `where` says (got, n values) with the C table of list `name`; a
 * mismatch goes to rep, naming the values one has and the other lacks. */
static void compare(struct report *rep, const char *name, const char *const *c, const char *where,
                    const char *const *got, size_t n)
{
    size_t nc = count(c);
    char missing[512] = "", extra[512] = "", a[512], b[512];
    size_t um = 0, ue = 0;
    rep->checked++;
    for (size_t i = 0; i < nc; i++)
        if (!in(c[i], got, n))
            um += (size_t)snprintf(missing + um, sizeof missing - um, " %s", c[i]);
    for (size_t i = 0; i < n; i++)
        if (!in(got[i], c, nc))
            ue += (size_t)snprintf(extra + ue, sizeof extra - ue, " %s", got[i]);
    join(c, nc, a, sizeof a);
    join(got, n, b, sizeof b);
    if (um || ue)
        report_add(rep, "%s: %s differs from server/vocab.c: missing [%s ], extra [%s ]", name,
                   where, missing, extra);
    else if (nc != n || strcmp(a, b))
        report_add(rep, "%s: %s has them in another order: [%s], server/vocab.c [%s]", name, where,
                   b, a);
}

/* The quoted literals of the first ARRAY[...] in a constraint's definition, as
 * pg_get_constraintdef writes them: ARRAY['web'::text, 'event'::text]. */
static size_t array_literals(const char *def, char *buf, size_t cap, const char **out, size_t max)
{
    const char *p = strstr(def, "ARRAY["), *end = p ? strchr(p, ']') : NULL;
    size_t n = 0, used = 0;
    for (p = p ? p + 6 : NULL; p && p < end && n < max; p++) {
        if (*p != '\'')
            continue;
        out[n++] = buf + used;
        for (p++; p < end && !(*p == '\'' && p[1] != '\''); p++) {
            ck_assert_uint_lt(used + 1, cap);
            buf[used++] = *p;
            if (*p == '\'')
                p++; /* '' is one quote */
        }
        buf[used++] = '\0';
    }
    return n;
}

/* Where a list lives: the C table, the CHECK (on table.column alone, or the constraint
 * named `constraint`) and the named schemas of openapi.yaml that are its enum. */
struct list {
    const char *name;
    const char *const *c;
    const char *table, *column, *constraint;
    const char *schemas[3];
};

static const struct list lists[] = {
    {"lead sources", vocab_lead_sources, "leads", "source", NULL, {"Source"}},
    {"lead stages", vocab_stages, "leads", "stage", NULL, {"Stage"}},
    {"campaign channels", vocab_channels, "campaigns", "channel", NULL, {"Channel"}},
    {"campaign statuses", vocab_campaign_statuses, "campaigns", "status", NULL, {"CampaignStatus"}},
    {"touch kinds", vocab_touch_kinds, "campaign_touches", "kind", NULL, {"TouchKind"}},
    {"feedback kinds", vocab_feedback_kinds, "feedback", "kind", NULL, {"FeedbackKind"}},
    {"reason kinds", vocab_reason_kinds, "feedback_reasons", "kinds", NULL, {"ReasonKind"}},
    {"interaction kinds",
     vocab_interaction_kinds,
     "interactions",
     "kind",
     NULL,
     {"InteractionKind"}},
    {"interaction directions",
     vocab_interaction_directions,
     "interactions",
     "direction",
     NULL,
     {"InteractionDirection"}},
    {"interaction outcomes",
     vocab_interaction_outcomes,
     "interactions",
     "outcome",
     NULL,
     {"InteractionOutcome"}},
    /* the kinds that must give a reason: the same list, a second CHECK */
    {"reason kinds", vocab_reason_kinds, "feedback", NULL, "feedback_reason_kind", {NULL}},
    {"key roles", vocab_roles, "api_keys", "role", NULL, {"Role"}},
    {"user teams", vocab_teams, "users", "team", NULL, {"Team"}},
    {"audit actors", vocab_audit_actors, "audit_log", "actor", NULL, {"AuditActorType"}},
    {"webhook delivery statuses",
     vocab_delivery_statuses,
     "webhook_deliveries",
     "status",
     NULL,
     {NULL}},
};
#define NLISTS (sizeof lists / sizeof lists[0])

/* The one CHECK with an ARRAY[...] on the list's column alone (or the named one). */
static void check_constraint(PGconn *pg, struct report *rep, const struct list *l)
{
    static const char sql[] = "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
                              " WHERE c.contype = 'c' AND c.conrelid = $1::regclass"
                              " AND pg_get_constraintdef(c.oid) LIKE '%ARRAY[%'"
                              " AND CASE WHEN $3::text IS NOT NULL THEN c.conname = $3"
                              " ELSE c.conkey = ARRAY[(SELECT attnum FROM pg_attribute"
                              " WHERE attrelid = $1::regclass AND attname = $2)] END";
    const char *params[] = {l->table, l->column, l->constraint};
    char where[256], buf[2048];
    const char *vals[YAML_MAX_VALUES];
    PGresult *res = PQexecParams(pg, sql, 3, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", l->name, PQerrorMessage(pg));
    if (PQntuples(res) != 1) {
        report_add(rep, "%s: expected one CHECK ... ARRAY[...] on %s.%s, found %d", l->name,
                   l->table, l->column ? l->column : l->constraint, PQntuples(res));
    } else {
        snprintf(where, sizeof where, "the CHECK %s on %s", PQgetvalue(res, 0, 0), l->table);
        size_t n = array_literals(PQgetvalue(res, 0, 1), buf, sizeof buf, vals, YAML_MAX_VALUES);
        compare(rep, l->name, l->c, where, vals, n);
    }
    PQclear(res);
}

static void fetch_contract(struct yaml_doc *d)
{
    struct resp *r = get("/openapi.yaml", NULL);
    ck_assert_msg(r->status == 200, "GET /openapi.yaml: %ld", r->status);
    yaml_read(r->body, d);
    resp_free(r);
    ck_assert_msg(d->n > 1000, "read only %zu entries from openapi.yaml", d->n);
}

START_TEST(c_tables_checks_and_openapi_enums_name_the_same_values)
{
    struct report rep = {0};
    struct yaml_doc d;
    PGconn *pg = pg_test();
    fetch_contract(&d);

    for (size_t i = 0; i < NLISTS; i++) {
        const struct list *l = &lists[i];
        check_constraint(pg, &rep, l);
        for (int k = 0; k < 3 && l->schemas[k]; k++) {
            char path[256], where[300];
            snprintf(path, sizeof path, "components/schemas/%s/enum", l->schemas[k]);
            snprintf(where, sizeof where, "openapi.yaml's %s", path);
            const struct yaml_entry *e = yaml_get(&d, path);
            if (!e || !e->list)
                report_add(&rep, "%s: openapi.yaml has no %s", l->name, path);
            else
                compare(&rep, l->name, l->c, where, (const char *const *)e->values, e->n);
        }
    }
    PQfinish(pg);
    yaml_free(&d);
    ck_assert_msg(rep.failed == 0, "%d of %d comparisons differ:\n%s", rep.failed, rep.checked,
                  rep.text);
    ck_assert_int_ge(rep.checked, 20);
    free(rep.text);
}
END_TEST

/* Enums written out in place rather than as a $ref to the named schema: each that draws
 * most of its values from a list must be the whole list, or one of the subsets below. */
static const struct subset {
    const char *path;
    const char *const *c;
    size_t n; /* its first n values */
} subsets[] = {
    /* the funnel report's rows: the stages up to customer, in funnel order */
    {"components/schemas/FunnelStageRow/properties/stage/enum", vocab_stages, 6},
};

START_TEST(enums_written_in_place_repeat_a_whole_list)
{
    struct report rep = {0};
    struct yaml_doc d;
    int repeats = 0;
    fetch_contract(&d);
    for (size_t i = 0; i < d.n; i++) {
        const struct yaml_entry *e = &d.e[i];
        const char *const *values = (const char *const *)e->values;
        size_t len = strlen(e->path);
        if (!e->list || len < 5 || strcmp(e->path + len - 5, "/enum"))
            continue;
        const struct subset *sub = NULL;
        for (size_t k = 0; k < sizeof subsets / sizeof subsets[0]; k++)
            if (!strcmp(subsets[k].path, e->path))
                sub = &subsets[k];
        if (sub) {
            const char *want[YAML_MAX_VALUES];
            memcpy(want, sub->c, sub->n * sizeof *want);
            want[sub->n] = NULL;
            compare(&rep, "a subset", want, e->path, values, e->n);
            continue;
        }
        /* the whole of some list (ReasonKind is all of one list and most of another) */
        bool whole = false;
        for (size_t k = 0; k < NLISTS && !whole; k++)
            whole = same(lists[k].c, values, e->n);
        repeats += whole;
        for (size_t k = 0; k < NLISTS && !whole; k++) {
            size_t common = 0;
            for (size_t v = 0; v < e->n; v++)
                common += in(values[v], lists[k].c, count(lists[k].c));
            if (2 * common > e->n)
                compare(&rep, lists[k].name, lists[k].c, e->path, values, e->n);
        }
    }
    yaml_free(&d);
    ck_assert_msg(rep.failed == 0, "%d enums differ from the list they repeat:\n%s", rep.failed,
                  rep.text);
    ck_assert_msg(repeats >= 12, "found only %d enums that are a whole list", repeats);
    free(rep.text);
}
END_TEST

/* Sizes that openapi.yaml states for arrays that hold one item per value of a list. */
START_TEST(array_sizes_in_openapi_count_the_lists)
{
    static const struct {
        const char *path;
        const char *const *c;
        size_t n; /* 0: the whole list */
    } sizes[] = {
        {"components/schemas/SourcesReport/properties/data/minItems", vocab_lead_sources, 0},
        {"components/schemas/SourcesReport/properties/data/maxItems", vocab_lead_sources, 0},
        {"components/schemas/FunnelReport/properties/data/minItems", vocab_stages, 6},
        {"components/schemas/FunnelReport/properties/data/maxItems", vocab_stages, 6},
        {"components/schemas/ReasonKinds/maxItems", vocab_reason_kinds, 0},
    };
    struct yaml_doc d;
    char errors[2048] = "";
    size_t used = 0;
    fetch_contract(&d);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const struct yaml_entry *e = yaml_get(&d, sizes[i].path);
        long want = (long)(sizes[i].n ? sizes[i].n : count(sizes[i].c));
        if (!e || e->list || atol(e->values[0]) != want)
            used +=
                (size_t)snprintf(errors + used, sizeof errors - used, "%s: expected %ld, got %s\n",
                                 sizes[i].path, want, e && !e->list ? e->values[0] : "(none)");
    }
    yaml_free(&d);
    ck_assert_msg(used == 0, "%s", errors);
}
END_TEST

/* The reports answer a row for every source and every funnel stage, in the list's
 * order: the daemon's SQL that lists them agrees with the C table. */
START_TEST(reports_answer_a_row_per_source_and_funnel_stage)
{
    static const struct {
        const char *path, *member;
        const char *const *c;
        size_t n;
    } reports[] = {
        {"/v1/reports/sources", "source", vocab_lead_sources, 0},
        {"/v1/reports/funnel", "stage", vocab_stages, 6},
    };
    struct report rep = {0};
    for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++) {
        const char *got[YAML_MAX_VALUES], *want[YAML_MAX_VALUES];
        size_t n = 0, k;
        json_t *row;
        struct resp *r = get(reports[i].path, readonly_key);
        ck_assert_msg(r->status == 200, "GET %s: %ld %s", reports[i].path, r->status, r->body);
        json_array_foreach(json_object_get(r->json, "data"), k, row)
        {
            if (n < YAML_MAX_VALUES)
                got[n++] = json_string_value(json_object_get(row, reports[i].member));
            ck_assert_msg(got[n - 1], "%s: a row without %s", reports[i].path, reports[i].member);
        }
        size_t nw = reports[i].n ? reports[i].n : count(reports[i].c);
        memcpy(want, reports[i].c, nw * sizeof *want);
        want[nw] = NULL;
        compare(&rep, reports[i].path, want, "the report's rows", got, n);
        resp_free(r);
    }
    ck_assert_msg(rep.failed == 0, "%s", rep.text);
    free(rep.text);
}
END_TEST

Suite *contract_suite(void)
{
    Suite *s = suite_create("contract");
    TCase *reader = tcase_create("yaml_reader");
    tcase_add_test(reader, the_yaml_reader_reads_what_the_contract_needs);
    suite_add_tcase(s, reader);
    TCase *lists_tc = tcase_create("value_lists_agree");
    tcase_add_test(lists_tc, c_tables_checks_and_openapi_enums_name_the_same_values);
    tcase_add_test(lists_tc, enums_written_in_place_repeat_a_whole_list);
    tcase_add_test(lists_tc, array_sizes_in_openapi_count_the_lists);
    tcase_add_test(lists_tc, reports_answer_a_row_per_source_and_funnel_stage);
    suite_add_tcase(s, lists_tc);
    return s;
}
