/* Erasure reaches every copy of a lead's personal data: a lead given distinctive values
 * through every write that keeps them (create, transition reason, feedback note, a touch
 * by email, a batch and a CSV import, each under an Idempotency-Key) is erased; then no
 * replay of those keys answers a personal value, none re-creates the lead, and a pg_dump
 * of the whole test database holds none of the values. Every value carries a token made
 * for this run, so the other tests' rows in the same database cannot match. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "suites.h"
#include "support.h"

static void expect_status(const struct resp *r, long status, const char *what)
{
    ck_assert_msg(r->status == status, "%s: expected %ld, got %ld: %s", what, status, r->status,
                  r->body);
}

static void expect_header(const struct resp *r, const char *name, const char *want)
{
    char *got = resp_header(r, name);
    ck_assert_msg(got && !strcmp(got, want), "header %s: expected %s, got %s", name, want,
                  got ? got : "(none)");
    free(got);
}

/* The personal values of the lead, each holding the run's token. */
enum {
    EMAIL,
    FIRST,
    LAST,
    COMPANY,
    TITLE,
    PHONE,
    CUSTOM,
    EXTERNAL,
    CONSENT,
    NOTE,
    REASON,
    BATCH_TITLE,
    IMPORT_LAST,
    NVALUES
};
static const char *const value_names[NVALUES] = {"email",
                                                 "first_name",
                                                 "last_name",
                                                 "company",
                                                 "title",
                                                 "phone",
                                                 "custom value",
                                                 "external id",
                                                 "consent how",
                                                 "feedback note",
                                                 "transition reason",
                                                 "title from the batch",
                                                 "last_name from the import"};
static char token[40], values[NVALUES][96];

static void make_values(void)
{
    /* each value: its text before the token and after it */
    static const char *const parts[NVALUES][2] = {{"erasure.", "@example.com"},
                                                  {"Firstname", ""},
                                                  {"Lastname", ""},
                                                  {"Company", ""},
                                                  {"Title", ""},
                                                  {"+1 555 ", ""},
                                                  {"Custom", ""},
                                                  {"Ext", ""},
                                                  {"Consent", ""},
                                                  {"Note", ""},
                                                  {"Reason", ""},
                                                  {"BatchTitle", ""},
                                                  {"ImportLast", ""}};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(token, sizeof token, "Zq%lxW%lx", (unsigned long)getpid(), (unsigned long)ts.tv_nsec);
    for (int i = 0; i < NVALUES; i++)
        snprintf(values[i], sizeof values[i], "%s%s%s", parts[i][0], token, parts[i][1]);
}

/* The names of the values found in text (case-insensitively), or "" (a few at a time). */
static const char *found_in(const char *text)
{
    static char buf[4][600];
    static int n;
    char *out = buf[n++ % 4];
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < NVALUES; i++)
        if (strcasestr(text, values[i]))
            len += (size_t)snprintf(out + len, sizeof buf[0] - len, "%s%s", len ? ", " : "",
                                    value_names[i]);
    if (!len && strcasestr(text, token))
        snprintf(out, sizeof buf[0], "the token %s", token);
    return out;
}

/* A replay: the stored answer, marked as such, and no personal value in it or its
 * headers. */
static void expect_replay(const struct resp *r, long status, const char *what)
{
    expect_status(r, status, what);
    expect_header(r, "Idempotent-Replayed", "true");
    ck_assert_msg(!*found_in(r->body) && !*found_in(r->headers),
                  "%s: the replay shows the erased lead's %s%s:\n%s%s", what, found_in(r->body),
                  found_in(r->headers), r->headers, r->body);
}

static struct resp *post_csv_idem(const char *path, const char *key, const char *csv,
                                  const char *idem_key)
{
    char ik[320];
    const char *h[3] = {"Content-Type: text/csv", ik, NULL};
    snprintf(ik, sizeof ik, "Idempotency-Key: %s", idem_key);
    return req(&main_daemon, "POST", path, key, h, csv, strlen(csv));
}

static long leads_with_email(PGconn *pg)
{
    char *n = pg_value_p(pg, "SELECT count(*) FROM leads WHERE ll_fold(email) = ll_fold($1)",
                         values[EMAIL]);
    long count = atol(n);
    free(n);
    return count;
}

START_TEST(erasure_leaves_no_personal_value_in_replays_or_the_database)
{
    char adm[64], camp[40], id[40], path[128], sub[160], body[2048], csv[512];
    char k_create[64], k_move[64], k_feedback[64], k_touch[64], k_batch[64], k_import[64],
        k_dup[64];
    struct resp *first[7], *r;
    size_t len;

    make_values();
    ck_assert(workspace_key("erasure", "admin", adm));
    snprintf(k_create, sizeof k_create, "erasure-create-%d", (int)getpid());
    snprintf(k_move, sizeof k_move, "erasure-move-%d", (int)getpid());
    snprintf(k_feedback, sizeof k_feedback, "erasure-feedback-%d", (int)getpid());
    snprintf(k_touch, sizeof k_touch, "erasure-touch-%d", (int)getpid());
    snprintf(k_batch, sizeof k_batch, "erasure-batch-%d", (int)getpid());
    snprintf(k_import, sizeof k_import, "erasure-import-%d", (int)getpid());
    snprintf(k_dup, sizeof k_dup, "erasure-duplicate-%d", (int)getpid());

    r = post("/v1/campaigns", adm, "{\"name\":\"Erasure campaign\",\"channel\":\"email\"}");
    expect_status(r, 201, "campaign");
    snprintf(camp, sizeof camp, "%s", jstr(r, "id"));
    resp_free(r);

    /* every write that keeps a personal value, each under a key */
    snprintf(body, sizeof body,
             "{\"email\":\"%s\",\"first_name\":\"%s\",\"last_name\":\"%s\",\"company\":\"%s\","
             "\"title\":\"%s\",\"phone\":\"%s\",\"custom\":{\"hobby\":\"%s\"},"
             "\"external_ids\":{\"crm\":\"%s\"},"
             "\"consent\":{\"email_opt_in\":true,\"how\":\"%s\"},\"campaign_id\":\"%s\"}",
             values[EMAIL], values[FIRST], values[LAST], values[COMPANY], values[TITLE],
             values[PHONE], values[CUSTOM], values[EXTERNAL], values[CONSENT], camp);
    char create_body[2048];
    snprintf(create_body, sizeof create_body, "%s", body);
    first[0] = post_idem("/v1/leads", adm, create_body, k_create);
    expect_status(first[0], 201, "create");
    snprintf(id, sizeof id, "%s", jstr(first[0], "id"));
    snprintf(path, sizeof path, "/v1/leads/%s", id);

    char move_body[256], feedback_body[256], touch_body[256], batch_body[512], dup_body[256];
    snprintf(sub, sizeof sub, "%s/transitions", path);
    snprintf(move_body, sizeof move_body, "{\"to\":\"mql\",\"reason\":\"%s\"}", values[REASON]);
    first[1] = post_idem(sub, adm, move_body, k_move);
    expect_status(first[1], 201, "transition");
    snprintf(sub, sizeof sub, "%s/feedback", path);
    snprintf(feedback_body, sizeof feedback_body,
             "{\"kind\":\"accepted\",\"rating\":4,\"note\":\"%s\"}", values[NOTE]);
    first[2] = post_idem(sub, adm, feedback_body, k_feedback);
    expect_status(first[2], 201, "feedback");
    snprintf(sub, sizeof sub, "/v1/campaigns/%s/touches", camp);
    snprintf(touch_body, sizeof touch_body, "{\"email\":\"%s\",\"kind\":\"clicked\"}",
             values[EMAIL]);
    first[3] = post_idem(sub, adm, touch_body, k_touch);
    expect_status(first[3], 201, "touch by email");
    snprintf(batch_body, sizeof batch_body,
             "{\"mode\":\"upsert\",\"leads\":[{\"email\":\"%s\",\"title\":\"%s\"},"
             "{\"email\":\"bystander-%d@example.com\",\"first_name\":\"Bystander\"}]}",
             values[EMAIL], values[BATCH_TITLE], (int)getpid());
    first[4] = post_idem("/v1/leads/batch", adm, batch_body, k_batch);
    expect_status(first[4], 200, "batch");
    ck_assert_msg(json_integer_value(json_object_get(first[4]->json, "updated")) == 1 &&
                      json_integer_value(json_object_get(first[4]->json, "created")) == 1,
                  "the batch updates the lead and creates another: %s", first[4]->body);
    snprintf(csv, sizeof csv, "email,last_name,phone\r\n%s,%s,%s\r\n", values[EMAIL],
             values[IMPORT_LAST], values[PHONE]);
    first[5] = post_csv_idem("/v1/leads/import", adm, csv, k_import);
    expect_status(first[5], 200, "import");
    ck_assert_msg(json_integer_value(json_object_get(first[5]->json, "updated")) == 1,
                  "the import updates the lead: %s", first[5]->body);
    snprintf(dup_body, sizeof dup_body, "{\"email\":\"%s\"}", values[EMAIL]);
    first[6] = post_idem("/v1/leads", adm, dup_body, k_dup);
    expect_status(first[6], 409, "a second create with the email");

    /* the dump sees every value before the erasure: the search below can find them */
    char *dump = pg_dump_test(&len);
    for (int i = 0; i < NVALUES; i++)
        ck_assert_msg(strcasestr(dump, values[i]), "before the erasure the dump lacks the %s %s",
                      value_names[i], values[i]);
    free(dump);

    r = del(path, adm);
    expect_status(r, 204, "erase");
    resp_free(r);

    /* (i) replays: the answers that showed the lead are withdrawn (410 to any request
     * with their key), the batch's, the import's and the refusal's stay (they show
     * none of its data); no replay runs a request again */
    struct {
        const char *path, *body, *key;
        long status;
        bool same;
    } replays[7] = {
        {"/v1/leads", create_body, k_create, 410, false},
        {NULL, move_body, k_move, 410, false},
        {NULL, feedback_body, k_feedback, 410, false},
        {NULL, touch_body, k_touch, 410, false},
        {"/v1/leads/batch", batch_body, k_batch, 200, true},
        {"/v1/leads/import", csv, k_import, 200, true},
        {"/v1/leads", dup_body, k_dup, 409, true},
    };
    char move_path[160], feedback_path[160], touch_path[160];
    snprintf(move_path, sizeof move_path, "%s/transitions", path);
    snprintf(feedback_path, sizeof feedback_path, "%s/feedback", path);
    snprintf(touch_path, sizeof touch_path, "/v1/campaigns/%s/touches", camp);
    replays[1].path = move_path;
    replays[2].path = feedback_path;
    replays[3].path = touch_path;
    for (int i = 0; i < 7; i++) {
        char what[96];
        snprintf(what, sizeof what, "replay of %s (%s)", replays[i].key, replays[i].path);
        r = i == 5 ? post_csv_idem(replays[i].path, adm, replays[i].body, replays[i].key)
                   : post_idem(replays[i].path, adm, replays[i].body, replays[i].key);
        expect_replay(r, replays[i].status, what);
        if (replays[i].status == 410) {
            assert_problem(r, 410, "gone");
            char *loc = resp_header(r, "Location"), *etag = resp_header(r, "ETag");
            ck_assert_msg(!loc && !etag, "%s: Location %s, ETag %s", what, loc ? loc : "-",
                          etag ? etag : "-");
        }
        if (replays[i].same)
            ck_assert_msg(r->len == first[i]->len && !memcmp(r->body, first[i]->body, r->len),
                          "%s: not the stored answer:\n%s\n%s", what, first[i]->body, r->body);
        resp_free(r);
    }
    /* a withdrawn answer is 410 to its key whatever the request */
    r = post_idem("/v1/leads", adm, "{\"email\":\"someone.else@example.com\"}", k_create);
    expect_replay(r, 410, "the create's key with another body");
    resp_free(r);
    PGconn *pg = pg_test();
    ck_assert_msg(leads_with_email(pg) == 0, "a replay created the erased lead again");

    /* what stays of the lead names no one */
    snprintf(sub, sizeof sub, "%s/feedback", path);
    r = get(sub, adm);
    expect_status(r, 200, "feedback of the erased lead");
    json_t *fb = json_array_get(json_object_get(r->json, "data"), 0);
    ck_assert_msg(fb && json_is_null(json_object_get(fb, "note")) &&
                      !strcmp(json_string_value(json_object_get(fb, "kind")), "accepted") &&
                      json_integer_value(json_object_get(fb, "rating")) == 4,
                  "the feedback keeps its kind and rating, not its note: %s", r->body);
    resp_free(r);
    snprintf(sub, sizeof sub, "%s/history", path);
    r = get(sub, adm);
    expect_status(r, 200, "history of the erased lead");
    ck_assert_msg(!*found_in(r->body), "the history shows the %s: %s", found_in(r->body), r->body);
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 3,
                  "the history keeps its three changes: %s", r->body);
    resp_free(r);

    /* the audit log keeps who did what to the lead, and when, without its values: the
     * create, the updates of the batch and the import, the transition, the feedback and
     * the erasure itself, each naming the fields whose values went */
    snprintf(sub, sizeof sub, "/v1/audit?limit=500&lead_id=%s", id);
    r = get(sub, adm);
    expect_status(r, 200, "the erased lead's audit rows");
    ck_assert_msg(!*found_in(r->body), "the audit log shows the %s: %.1500s", found_in(r->body),
                  r->body);
    struct {
        const char *entity, *operation, *redacted;
        bool found;
    } want[] = {{"lead", "create",
                 "[\"company\",\"consent\",\"custom\",\"email\","
                 "\"external_ids\",\"first_name\",\"last_name\",\"phone\","
                 "\"title\"]"},
                {"lead", "erase", NULL},
                {"feedback", "create", "[\"note\"]"},
                {"feedback", "update", "[\"note\"]"},
                {"stage_change", "create", NULL}};
    json_t *row;
    size_t k;
    bool reason_redacted = false;
    long lead_updates = 0;
    json_array_foreach(json_object_get(r->json, "data"), k, row)
    {
        const char *entity = json_string_value(json_object_get(row, "entity"));
        const char *op = json_string_value(json_object_get(row, "operation"));
        char *redacted = json_dumps(json_object_get(row, "redacted"), JSON_COMPACT);
        ck_assert_msg(json_string_length(
                          json_object_get(json_object_get(row, "actor"), "api_key_prefix")) == 12,
                      "the row still says who: %.1500s", r->body);
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
            if (strcmp(entity, want[w].entity) || strcmp(op, want[w].operation))
                continue;
            want[w].found = true;
            if (want[w].redacted)
                ck_assert_msg(!strcmp(redacted, want[w].redacted), "%s %s: redacted %s, want %s",
                              entity, op, redacted, want[w].redacted);
        }
        if (!strcmp(entity, "lead") && !strcmp(op, "update"))
            lead_updates++;
        if (!strcmp(entity, "stage_change") && strstr(redacted, "\"reason\""))
            reason_redacted = true;
        free(redacted);
    }
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++)
        ck_assert_msg(want[w].found, "no %s %s row about the erased lead: %.1500s", want[w].entity,
                      want[w].operation, r->body);
    ck_assert_msg(lead_updates >= 2 && reason_redacted,
                  "the batch's and the import's updates, and the transition's reason: %.1500s",
                  r->body);
    resp_free(r);

    /* (ii) no value anywhere in the database */
    dump = pg_dump_test(&len);
    const char *left = found_in(dump);
    if (*left) {
        const char *at = strcasestr(dump, token);
        const char *from = at;
        while (from > dump && from[-1] != '\n')
            from--;
        ck_abort_msg("after the erasure the dump still holds the %s, e.g. on the line:\n%.600s",
                     left, from);
    }
    free(dump);
    PQfinish(pg);
    for (int i = 0; i < 7; i++)
        resp_free(first[i]);
}
END_TEST

Suite *erasure_suite(void)
{
    Suite *s = suite_create("erasure");
    TCase *tc = tcase_create("erasure");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, erasure_leaves_no_personal_value_in_replays_or_the_database);
    suite_add_tcase(s, tc);
    return s;
}
