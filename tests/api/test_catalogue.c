/* The catalogue of bad inputs: every case under $LL_TEST_DATA/invalid (default
 * tests/data/invalid) is a directory with `input`, the raw request body, and `expect`,
 * one line per write endpoint it applies to: ENDPOINT STATUS SLUG [FIELD] ('*': every
 * endpoint). Each case is sent to each of its endpoints; the answer must be that problem
 * (naming FIELD in errors[]), and no table may have changed. All mismatches are
 * reported together. */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

struct endpoint {
    const char *name, *method;
    char path[160];
    int cases;
};

/* Rows and versions of every table a write could touch, as one line. */
static const char fingerprint_sql[] =
    "SELECT concat_ws(', ',"
    " 'campaigns ' || (SELECT count(*) || '/v' || coalesce(sum(version), 0) FROM campaigns),"
    " 'leads ' || (SELECT count(*) || '/v' || coalesce(sum(version), 0) FROM leads),"
    " 'lead_external_ids ' || (SELECT count(*) FROM lead_external_ids),"
    " 'campaign_touches ' || (SELECT count(*) FROM campaign_touches),"
    " 'lead_stage_changes ' || (SELECT count(*) FROM lead_stage_changes),"
    " 'changes ' || (SELECT count(*) FROM changes),"
    " 'users ' || (SELECT count(*) || '/v' || coalesce(sum(version), 0) FROM users),"
    " 'api_keys ' || (SELECT count(*) FROM api_keys),"
    " 'idempotency_keys ' || (SELECT count(*) FROM idempotency_keys),"
    " 'feedback ' || (SELECT count(*) FROM feedback))";

/* Reads a whole file (new buffer, NUL added after len bytes); NULL if unreadable. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    if (!f)
        return NULL;
    do {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *grown = realloc(buf, cap);
            ck_assert_ptr_nonnull(grown);
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dir that are directories, sorted (new array of new strings). */
static int subdirs(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        char p[1024];
        DIR *probe;
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (!(probe = opendir(p)))
            continue;
        closedir(probe);
        names = realloc(names, sizeof *names * (size_t)(n + 1));
        ck_assert_ptr_nonnull(names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 0)
        qsort(names, (size_t)n, sizeof *names, cmp_names);
    *out = names;
    return n;
}

/* Why r is not the expected problem, or NULL when it is. */
static const char *mismatch(const struct resp *r, long status, const char *slug, const char *field,
                            char *why, size_t cap)
{
    char type[160];
    char *ct = resp_header(r, "Content-Type"), *rid = resp_header(r, "X-Request-Id");
    snprintf(type, sizeof type, "https://leadloop.dev/problems/%s", slug);
    why[0] = '\0';
    if (r->status != status)
        snprintf(why, cap, "expected status %ld, got %ld", status, r->status);
    else if (!ct || strcmp(ct, "application/problem+json"))
        snprintf(why, cap, "expected application/problem+json, got %s", ct ? ct : "(none)");
    else if (!r->json || strcmp(jstr(r, "type"), type))
        snprintf(why, cap, "expected type %s", type);
    else if (json_integer_value(json_object_get(r->json, "status")) != status)
        snprintf(why, cap, "member status differs from the HTTP status");
    else if (!rid || strcmp(jstr(r, "request_id"), rid))
        snprintf(why, cap, "request_id does not match X-Request-Id");
    else if (field && !problem_names(r, field))
        snprintf(why, cap, "expected errors[] to name %s", field);
    free(ct);
    free(rid);
    return why[0] ? why : NULL;
}

static void run_case(PGconn *pg, struct endpoint *eps, int neps, const char *dir, const char *name,
                     struct report *rep)
{
    char path[1100], line[512];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/input", dir);
    char *body = slurp(path, &len);
    snprintf(path, sizeof path, "%s/expect", dir);
    FILE *f = fopen(path, "r");
    if (!body || !f) {
        report_add(rep, "%s: needs readable input and expect files", name);
        free(body);
        if (f)
            fclose(f);
        return;
    }
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        char ep[64], slug[64], field[256];
        long status;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        field[0] = '\0';
        if (sscanf(line, "%63s %ld %63s %255s", ep, &status, slug, field) < 3) {
            report_add(rep, "%s: cannot read expect line '%s'", name, line);
            continue;
        }
        lines++;
        bool matched = false;
        for (int i = 0; i < neps; i++) {
            if (strcmp(ep, "*") && strcmp(ep, eps[i].name))
                continue;
            matched = true;
            char *before = pg_value(pg, fingerprint_sql), why[300];
            struct resp *r =
                send_json(eps[i].method, eps[i].path, admin_key, body, len, NULL, NULL);
            char *after = pg_value(pg, fingerprint_sql);
            rep->checked++;
            eps[i].cases++;
            if (mismatch(r, status, slug, field[0] ? field : NULL, why, sizeof why))
                report_add(rep, "%s -> %s %s: %s; body %.300s", name, eps[i].method, eps[i].path,
                           why, r->body);
            if (strcmp(before, after))
                report_add(rep, "%s -> %s %s: a row was written: %s became %s", name, eps[i].method,
                           eps[i].path, before, after);
            free(before);
            free(after);
            resp_free(r);
        }
        if (!matched)
            report_add(rep, "%s: unknown endpoint '%s'", name, ep);
    }
    if (lines == 0)
        report_add(rep, "%s: expect names no endpoint", name);
    fclose(f);
    free(body);
}

START_TEST(invalid_inputs_are_refused_and_write_nothing)
{
    const char *data = getenv("LL_TEST_DATA");
    char root[512], id[40];
    struct report rep = {NULL, 0, 0, 0};
    struct endpoint eps[] = {
        {"campaigns.create", "POST", "/v1/campaigns", 0},
        {"campaigns.patch", "PATCH", "", 0},
        {"leads.create", "POST", "/v1/leads", 0},
        {"leads.patch", "PATCH", "", 0},
        {"leads.put-by-email", "PUT", "/v1/leads/by-email/catalogue.new%40example.com", 0},
        {"leads.put-by-external-id", "PUT", "/v1/leads/by-external-id/crm/CAT-NEW", 0},
        {"leads.transition", "POST", "", 0},
        {"users.create", "POST", "/v1/users", 0},
        {"users.patch", "PATCH", "", 0},
        {"api-keys.create", "POST", "/v1/api-keys", 0},
        {"touches.create", "POST", "", 0},
        {"touches.batch", "POST", "", 0},
        {"leads.batch", "POST", "/v1/leads/batch", 0},
        {"feedback.create", "POST", "", 0},
    };
    int neps = (int)(sizeof eps / sizeof eps[0]);

    /* the rows the PATCH and transition cases aim at */
    struct resp *r =
        post("/v1/campaigns", admin_key, "{\"name\":\"Catalogue\",\"channel\":\"email\"}");
    ck_assert_msg(r->status == 201, "campaign: %s", r->body);
    snprintf(eps[1].path, sizeof eps[1].path, "/v1/campaigns/%s", jstr(r, "id"));
    snprintf(eps[10].path, sizeof eps[10].path, "/v1/campaigns/%s/touches", jstr(r, "id"));
    snprintf(eps[11].path, sizeof eps[11].path, "/v1/campaigns/%s/touches/batch", jstr(r, "id"));
    resp_free(r);
    r = post("/v1/leads", admin_key, "{\"email\":\"catalogue.target@example.com\"}");
    ck_assert_msg(r->status == 201, "lead: %s", r->body);
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    snprintf(eps[3].path, sizeof eps[3].path, "/v1/leads/%s", id);
    snprintf(eps[6].path, sizeof eps[6].path, "/v1/leads/%s/transitions", id);
    snprintf(eps[13].path, sizeof eps[13].path, "/v1/leads/%s/feedback", id);
    resp_free(r);
    r = post(
        "/v1/users", admin_key,
        "{\"name\":\"Catalogue\",\"email\":\"catalogue.target@example.com\",\"team\":\"sales\"}");
    ck_assert_msg(r->status == 201, "user: %s", r->body);
    snprintf(eps[8].path, sizeof eps[8].path, "/v1/users/%s", jstr(r, "id"));
    resp_free(r);

    snprintf(root, sizeof root, "%s/invalid", data && *data ? data : "tests/data");
    char **groups = NULL;
    int ngroups = subdirs(root, &groups), ncases = 0;
    ck_assert_msg(ngroups > 0, "no case groups in %s (set LL_TEST_DATA to the data directory)",
                  root);
    PGconn *pg = pg_test();
    for (int g = 0; g < ngroups; g++) {
        char gdir[768], **cases = NULL;
        snprintf(gdir, sizeof gdir, "%s/%s", root, groups[g]);
        int n = subdirs(gdir, &cases);
        for (int c = 0; c < n; c++) {
            char cdir[1024], name[256];
            snprintf(cdir, sizeof cdir, "%s/%s", gdir, cases[c]);
            snprintf(name, sizeof name, "%s/%s", groups[g], cases[c]);
            run_case(pg, eps, neps, cdir, name, &rep);
            ncases++;
            free(cases[c]);
        }
        free(cases);
        free(groups[g]);
    }
    free(groups);
    PQfinish(pg);

    for (int i = 0; i < neps; i++)
        if (eps[i].cases < 10)
            report_add(&rep, "only %d cases reached %s", eps[i].cases, eps[i].name);
    ck_assert_msg(ncases >= 100, "only %d cases in %s", ncases, root);
    if (rep.failed) /* Check cuts long messages; the whole list goes to stderr */
        fprintf(stderr, "catalogue failures:\n%s", rep.text);
    ck_assert_msg(rep.failed == 0, "%d of %d checks of %d cases failed:\n%s", rep.failed,
                  rep.checked, ncases, rep.text);
    free(rep.text);
}
END_TEST

Suite *catalogue_suite(void)
{
    Suite *s = suite_create("catalogue");
    TCase *tc = tcase_create("catalogue");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, invalid_inputs_are_refused_and_write_nothing);
    suite_add_tcase(s, tc);
    return s;
}
