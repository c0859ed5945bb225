/* The webhook suite (issue 11). Endpoints are registered through /v1/webhooks and delivered
 * by daemons started here with senders and private addresses allowed (main() sets
 * LEADLOOP_WEBHOOK_SENDERS=0 for every daemon it starts: the main daemon delivers nothing,
 * so these daemons are the only senders) to receivers in this process (receiver.c), which
 * verify every signature with an HMAC of their own. Covered: a retry keeps its webhook-id; 410
 * turns an endpoint off; a daemon killed mid-delivery loses no event; two daemons make no
 * duplicate; rotation, ping, redelivery, type filters, where a new endpoint starts; bad input; and
 * a delivery's body is the change as GET /v1/changes shows it. Each test has a workspace of its
 * own. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "receiver.h"
#include "suites.h"
#include "support.h"

/* How long a delivery may take to arrive or settle (sanitizer builds, a loaded machine). */
#define WAIT_MS       60000
#define MAX_DAEMONS   4
#define MAX_ENDPOINTS 32

struct hook {
    char id[40];
    char secret[64];
};

/* ------------------------------------------------------------------ clean-up */

/* The daemons and endpoints a test made, in static storage: a failed assertion ends the
 * test's process at once (check forks one per test), and the exit handler then kills the
 * daemons and turns the endpoints off, so that nothing of a failed test delivers into the
 * next one (a later receiver may get the same port). */
static struct daemon daemons[MAX_DAEMONS];
static char endpoints[MAX_ENDPOINTS][40];
static int nendpoints;
static bool exit_handler_set;

static void clean_up_at_exit(void)
{
    for (int i = 0; i < MAX_DAEMONS; i++)
        if (daemons[i].pid > 0)
            daemon_stop(&daemons[i], SIGKILL);
    if (nendpoints == 0)
        return;
    /* no ck_assert here: this runs inside exit() */
    PGconn *pg = PQconnectdb(getenv("LL_TEST_DATABASE_URL"));
    for (int i = 0; i < nendpoints && PQstatus(pg) == CONNECTION_OK; i++) {
        const char *vals[1] = {endpoints[i]};
        PQclear(PQexecParams(pg, "UPDATE webhook_endpoints SET active = false WHERE id = $1", 1,
                             NULL, vals, NULL, NULL, 0));
    }
    PQfinish(pg);
}

static void set_exit_handler(void)
{
    if (!exit_handler_set) {
        ck_assert_int_eq(atexit(clean_up_at_exit), 0);
        exit_handler_set = true;
    }
}

/* Starts a daemon that delivers to 127.0.0.1 promptly: 2 senders, private addresses
 * allowed, 1 s per attempt, retries from 50 ms, a lease of 2 s. extra: more "NAME=value" entries
 * (they win), NULL-terminated, or NULL. Borrowed; stop it with daemon_stop. */
static struct daemon *hook_daemon(const char *const *extra)
{
    const char *env[16] = {"LEADLOOP_WEBHOOK_SENDERS=2",       "LEADLOOP_WEBHOOK_ALLOW_PRIVATE=1",
                           "LEADLOOP_WEBHOOK_RETRY_MIN_MS=50", "LEADLOOP_WEBHOOK_RETRY_MAX_MS=400",
                           "LEADLOOP_WEBHOOK_TIMEOUT_MS=1000", "LEADLOOP_WEBHOOK_LEASE_S=2"};
    int n = 6, slot = 0;
    for (; extra && *extra && n < 15; extra++)
        env[n++] = *extra;
    env[n] = NULL;
    set_exit_handler();
    while (slot < MAX_DAEMONS && daemons[slot].pid > 0)
        slot++;
    ck_assert_msg(slot < MAX_DAEMONS, "more than %d delivering daemons", MAX_DAEMONS);
    ck_assert_msg(daemon_start(&daemons[slot], env), "a delivering daemon did not start (log %s)",
                  daemons[slot].log);
    return &daemons[slot];
}

/* Before the delivery tests (in the runner's process): endpoints of other suites that
 * point elsewhere than this machine are turned off. The OWASP suite registers
 * https://93.184.216.34/..., reachable from here, counting on the main daemon sending
 * nothing; this suite's daemons deliver every workspace's webhooks and must send nothing out
 * of the test run (nor spend their attempts on it). */
static void others_turned_off(void)
{
    PGconn *pg = pg_test();
    pg_ok(pg, "UPDATE webhook_endpoints SET active = false"
              " WHERE active AND url NOT LIKE 'http://127.0.0.1:%'");
    PQfinish(pg);
}

/* ------------------------------------------------------------------ requests */

static struct resp *call(struct daemon *d, const char *method, const char *path, const char *key,
                         const char *body)
{
    const char *h[] = {strcmp(method, "PATCH") ? "Content-Type: application/json"
                                               : "Content-Type: application/merge-patch+json",
                       NULL};
    return req(d, method, path, key, body ? h : NULL, body, body ? strlen(body) : 0);
}

static void expect(const struct resp *r, long status, const char *what)
{
    ck_assert_msg(r->status == status, "%s: expected %ld, got %ld: %s", what, status, r->status,
                  r->body);
}

/* A 4xx problem of this type whose errors[] names field. */
static void expect_field(const struct resp *r, long status, const char *slug, const char *field,
                         const char *what)
{
    ck_assert_msg(r->status == status, "%s: expected %ld naming %s, got %ld: %s", what, status,
                  field, r->status, r->body);
    assert_problem(r, status, slug);
    ck_assert_msg(problem_names(r, field), "%s: expected errors[] to name %s, got %s", what, field,
                  r->body);
}

static const char *js(json_t *o, const char *member)
{
    const char *s = json_string_value(json_object_get(o, member));
    return s ? s : "";
}

/* v as compact JSON, for a message: one of four static buffers, taken in turn (nothing to
 * free, so a message built on success leaks nothing); cut at 2,000 bytes. */
static const char *dump(const json_t *v)
{
    static char bufs[4][2048];
    static int next;
    char *out = bufs[next++ % 4], *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, sizeof bufs[0], "%s", text ? text : "(none)");
    free(text);
    return out;
}

static long long ji(json_t *o, const char *member)
{
    return (long long)json_integer_value(json_object_get(o, member));
}

/* Registers rc's /hook on d (extra: more members of the body, or NULL); the receiver is
 * given the secret. */
static void hook_create(struct daemon *d, const char *key, struct receiver *rc, const char *extra,
                        struct hook *h)
{
    char url[128], body[1024];
    receiver_url(rc, "/hook", url, sizeof url);
    snprintf(body, sizeof body, "{\"url\":\"%s\"%s%s}", url, extra ? "," : "", extra ? extra : "");
    struct resp *r = call(d, "POST", "/v1/webhooks", key, body);
    expect(r, 201, "POST /v1/webhooks");
    snprintf(h->id, sizeof h->id, "%s", jstr(r, "id"));
    snprintf(h->secret, sizeof h->secret, "%s", jstr(r, "secret"));
    ck_assert_msg(strlen(h->id) == 36 && !strncmp(h->secret, "whsec_", 6),
                  "expected an id and a whsec_ secret: %s", r->body);
    resp_free(r);
    if (nendpoints < MAX_ENDPOINTS)
        snprintf(endpoints[nendpoints++], sizeof endpoints[0], "%s", h->id);
    receiver_set_secret(rc, h->secret);
}

static void hook_delete(struct daemon *d, const char *key, const struct hook *h)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/webhooks/%s", h->id);
    struct resp *r = call(d, "DELETE", path, key, NULL);
    expect(r, 204, "DELETE the webhook");
    resp_free(r);
}

/* GET /v1/webhooks/{id} on d (new reference). */
static json_t *hook_get(struct daemon *d, const char *key, const struct hook *h)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/webhooks/%s", h->id);
    struct resp *r = call(d, "GET", path, key, NULL);
    expect(r, 200, "GET the webhook");
    json_t *o = json_incref(r->json);
    resp_free(r);
    return o;
}

/* The endpoint's deliveries, newest first (new reference to the data array). */
static json_t *hook_deliveries(struct daemon *d, const char *key, const struct hook *h)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/webhooks/%s/deliveries?limit=100", h->id);
    struct resp *r = call(d, "GET", path, key, NULL);
    expect(r, 200, "GET the deliveries");
    json_t *data = json_incref(json_object_get(r->json, "data"));
    ck_assert_msg(json_is_array(data), "deliveries: no data array: %s", r->body);
    resp_free(r);
    return data;
}

/* A lead made on the main daemon; its id into id (40 bytes). */
static void make_lead(const char *key, const char *email, char *id)
{
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    struct resp *r = post("/v1/leads", key, body);
    expect(r, 201, "POST /v1/leads");
    snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

/* n leads <prefix>-<i>@example.com through POST /v1/leads/batch on the main daemon, up to
 * 1,000 a request. */
static void make_leads(const char *key, const char *prefix, int n)
{
    size_t cap = 1000 * 64 + 64;
    char *body = malloc(cap);
    ck_assert_ptr_nonnull(body);
    for (int from = 0; from < n; from += 1000) {
        int to = from + 1000 < n ? from + 1000 : n;
        size_t len = (size_t)snprintf(body, cap, "{\"leads\":[");
        for (int i = from; i < to; i++)
            len += (size_t)snprintf(body + len, cap - len, "%s{\"email\":\"%s-%d@example.com\"}",
                                    i > from ? "," : "", prefix, i);
        snprintf(body + len, cap - len, "]}");
        struct resp *r = post("/v1/leads/batch", key, body);
        expect(r, 200, "POST /v1/leads/batch");
        ck_assert_msg(ji(r->json, "created") == to - from, "batch: expected %d created: %.300s",
                      to - from, r->body);
        resp_free(r);
    }
    free(body);
}

/* ------------------------------------------------------------------ the database */

static char *workspace_id(PGconn *pg, const char *slug)
{
    return pg_value_p(pg, "SELECT id FROM workspaces WHERE slug = $1", slug);
}

/* The workspace's latest change so far (0: none). */
static long last_seq(PGconn *pg, const char *ws)
{
    char *v =
        pg_value_p(pg, "SELECT coalesce(max(seq), 0) FROM changes WHERE workspace_id = $1", ws);
    long n = atol(v);
    free(v);
    return n;
}

struct count_probe {
    PGconn *pg;
    char sql[512];
    long want;
};

static bool count_reached(void *arg)
{
    struct count_probe *p = arg;
    return pg_long(p->pg, p->sql) >= p->want;
}

/* Waits until the endpoint has want deliveries with this status; false at the deadline. */
static bool wait_deliveries(PGconn *pg, const struct hook *h, const char *status, long want,
                            int timeout_ms)
{
    struct count_probe p = {.pg = pg, .want = want};
    snprintf(p.sql, sizeof p.sql,
             "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = '%s' AND status = '%s'",
             h->id, status);
    return wait_until(count_reached, &p, timeout_ms);
}

static long count_deliveries(PGconn *pg, const struct hook *h, const char *status)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = '%s' AND status = '%s'",
             h->id, status);
    return pg_long(pg, sql);
}

/* ------------------------------------------------------------------ the receiver's log */

/* Every entry signed by one of the receiver's secrets, with a fresh timestamp, a JSON
 * body, the Standard Webhooks headers and a POST to /hook; the first bad one named. */
static void expect_all_verified(struct receiver *rc)
{
    size_t n = receiver_count(rc);
    for (size_t i = 0; i < n; i++) {
        const struct receiver_entry *e = receiver_entry(rc, i);
        ck_assert_msg(e->verified && e->fresh,
                      "request %zu (webhook-id %s): expected a verified, fresh signature, got "
                      "verified %d fresh %d signature \"%s\" timestamp \"%s\"",
                      i, e->id, e->verified, e->fresh, e->signature, e->timestamp);
        ck_assert_msg(!strcmp(e->method, "POST") && !strcmp(e->path, "/hook") &&
                          !strcmp(e->content_type, "application/json") && e->json,
                      "request %zu: expected a JSON POST to /hook, got %s %s (%s): %.200s", i,
                      e->method, e->path, e->content_type, e->body);
    }
}

/* The seqs received (each once, ascending) into a new array; *n their count. */
static long long *received_seqs(struct receiver *rc, size_t *n)
{
    size_t count = receiver_count(rc), k = 0;
    long long *seqs = calloc(count + 1, sizeof *seqs);
    ck_assert_ptr_nonnull(seqs);
    for (size_t i = 0; i < count; i++) {
        long long s = ji(receiver_entry(rc, i)->json, "seq");
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++)
            seen = seqs[j] == s;
        if (!seen)
            seqs[k++] = s;
    }
    *n = k;
    return seqs;
}

/* ------------------------------------------------------------------ delivery */

START_TEST(a_failed_attempt_is_retried_with_the_same_webhook_id)
{
    char key[64], lead[40];
    struct hook h;
    ck_assert(workspace_key("hooks-retry", "admin", key));
    PGconn *pg = pg_test();
    struct receiver *rc = receiver_start(NULL);
    struct daemon *d = hook_daemon(NULL);
    hook_create(d, key, rc, NULL, &h);
    receiver_script(rc, 1, 500);
    make_lead(key, "retry@example.com", lead);

    ck_assert_msg(receiver_wait_count(rc, 2, WAIT_MS),
                  "expected an attempt answered 500 and its retry, got %zu requests",
                  receiver_count(rc));
    expect_all_verified(rc);
    const struct receiver_entry *first = receiver_entry(rc, 0), *second = receiver_entry(rc, 1);
    ck_assert_int_eq(first->status, 500);
    ck_assert_int_eq(second->status, 200);
    ck_assert_msg(!strcmp(first->id, second->id),
                  "a retry must keep its webhook-id: first %s, then %s", first->id, second->id);
    ck_assert_msg(json_equal(first->json, second->json), "a retry must send the same body: %s / %s",
                  first->body, second->body);
    ck_assert_msg(second->received_at - first->received_at >= 0.045,
                  "the retry came %.3f s after the failure, before the 50 ms backoff",
                  second->received_at - first->received_at);
    ck_assert_str_eq(js(first->json, "type"), "lead.created");
    ck_assert_str_eq(js(first->json, "entity_id"), lead);
    ck_assert_str_eq(js(json_object_get(first->json, "data"), "id"), lead);

    ck_assert_msg(wait_deliveries(pg, &h, "delivered", 1, WAIT_MS),
                  "the delivery was not recorded as delivered");
    json_t *list = hook_deliveries(d, key, &h);
    ck_assert_msg(json_array_size(list) == 1, "expected one delivery, got %zu",
                  json_array_size(list));
    json_t *dl = json_array_get(list, 0);
    ck_assert_msg(
        !strcmp(js(dl, "id"), first->id) && !strcmp(js(dl, "webhook_id"), h.id) &&
            !strcmp(js(dl, "status"), "delivered") && ji(dl, "attempts") == 2 &&
            ji(dl, "last_status") == 200 && json_is_null(json_object_get(dl, "last_error")) &&
            json_is_string(json_object_get(dl, "delivered_at")) &&
            json_is_null(json_object_get(dl, "next_attempt_at")) &&
            !strcmp(js(dl, "type"), "lead.created") && ji(dl, "seq") == ji(first->json, "seq"),
        "expected delivery %s delivered after 2 attempts (last 200, seq %lld), got %s", first->id,
        ji(first->json, "seq"), dump(dl));
    json_decref(list);
    json_t *o = hook_get(d, key, &h);
    ck_assert_msg(json_is_true(json_object_get(o, "active")) &&
                      json_is_null(json_object_get(o, "failing_since")),
                  "a success ends failing_since; got active %d failing_since %s",
                  json_is_true(json_object_get(o, "active")), js(o, "failing_since"));
    json_decref(o);
    ck_assert_uint_eq(receiver_count(rc), 2);

    hook_delete(d, key, &h);
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);
    receiver_stop(rc);
    PQfinish(pg);
}
END_TEST

struct active_probe {
    struct daemon *d;
    const char *key;
    const struct hook *h;
};

static bool turned_off(void *arg)
{
    struct active_probe *p = arg;
    json_t *o = hook_get(p->d, p->key, p->h);
    bool off = json_is_false(json_object_get(o, "active"));
    json_decref(o);
    return off;
}

START_TEST(a_410_turns_the_endpoint_off_until_it_is_turned_on)
{
    char key[64], lead[40], path[128];
    struct hook gone, ctl;
    ck_assert(workspace_key("hooks-gone", "admin", key));
    PGconn *pg = pg_test();
    struct receiver *rc_gone = receiver_start(NULL), *rc_ctl = receiver_start(NULL);
    struct daemon *d = hook_daemon(NULL);
    hook_create(d, key, rc_gone, NULL, &gone);
    hook_create(d, key, rc_ctl, NULL, &ctl); /* a control that receives everything */
    receiver_script(rc_gone, 1, 410);
    make_lead(key, "gone-a@example.com", lead);

    ck_assert_msg(receiver_wait_count(rc_gone, 1, WAIT_MS), "the first delivery did not arrive");
    struct active_probe probe = {d, key, &gone};
    ck_assert_msg(wait_until(turned_off, &probe, WAIT_MS),
                  "an endpoint that answered 410 is still active");
    json_t *o = hook_get(d, key, &gone);
    ck_assert_msg(strstr(js(o, "disabled_reason"), "410"),
                  "expected a disabled_reason naming the 410, got %s", js(o, "disabled_reason"));
    json_decref(o);
    json_t *list = hook_deliveries(d, key, &gone);
    ck_assert_msg(json_array_size(list) == 1 &&
                      !strcmp(js(json_array_get(list, 0), "status"), "failed") &&
                      ji(json_array_get(list, 0), "last_status") == 410 &&
                      ji(json_array_get(list, 0), "attempts") == 1,
                  "expected one failed delivery answered 410 after 1 attempt, got %s", dump(list));
    json_decref(list);

    /* Two more leads and a ping to each endpoint, awaited at the control: by then the
     * dispatcher has made every delivery of them it would make, and the senders have
     * claimed every due one. The endpoint turned off is sent nothing: its ping and
     * whatever else it holds wait, unattempted. */
    make_lead(key, "gone-b@example.com", lead);
    ck_assert_msg(receiver_wait_count(rc_ctl, 2, WAIT_MS), "the control missed lead b");
    make_lead(key, "gone-c@example.com", lead);
    snprintf(path, sizeof path, "/v1/webhooks/%s/ping", gone.id);
    struct resp *r = call(d, "POST", path, key, NULL);
    expect(r, 202, "ping the endpoint turned off");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/webhooks/%s/ping", ctl.id);
    r = call(d, "POST", path, key, NULL);
    expect(r, 202, "ping the control");
    resp_free(r);
    ck_assert_msg(receiver_wait_count(rc_ctl, 4, WAIT_MS),
                  "the control expected lead a, b, c and a ping, got %zu", receiver_count(rc_ctl));
    ck_assert_msg(receiver_count(rc_gone) == 1,
                  "an endpoint turned off received %zu requests after its 410",
                  receiver_count(rc_gone) - 1);
    list = hook_deliveries(d, key, &gone);
    size_t i;
    json_t *dl;
    json_array_foreach(list, i, dl)
    {
        bool first = i + 1 == json_array_size(list);
        ck_assert_msg(first ? ji(dl, "attempts") == 1
                            : ji(dl, "attempts") == 0 && !strcmp(js(dl, "status"), "pending"),
                      "expected the 410'd delivery, then only unattempted ones, got %s",
                      dump(list));
    }
    ck_assert_msg(!strcmp(js(json_array_get(list, 0), "type"), "webhook.ping"),
                  "expected the ping, kept, newest: %s", dump(list));
    json_decref(list);

    /* On again: the reason goes, and what it missed (b, c) arrives, with the ping */
    snprintf(path, sizeof path, "/v1/webhooks/%s", gone.id);
    r = call(d, "PATCH", path, key, "{\"active\":true}");
    expect(r, 200, "turn it on again");
    ck_assert_msg(json_is_true(json_object_get(r->json, "active")) &&
                      json_is_null(json_object_get(r->json, "disabled_reason")),
                  "expected active with no disabled_reason: %s", r->body);
    resp_free(r);
    ck_assert_msg(receiver_wait_count(rc_gone, 4, WAIT_MS),
                  "expected lead b, lead c and the ping after turning it on, got %zu requests",
                  receiver_count(rc_gone) - 1);
    expect_all_verified(rc_gone);
    expect_all_verified(rc_ctl);
    int created = 0, pings = 0;
    for (size_t k = 1; k < 4; k++) {
        const char *type = js(receiver_entry(rc_gone, k)->json, "type");
        created += !strcmp(type, "lead.created");
        pings += !strcmp(type, "webhook.ping");
    }
    ck_assert_msg(created == 2 && pings == 1, "expected 2 lead.created and 1 ping, got %d and %d",
                  created, pings);

    hook_delete(d, key, &gone);
    hook_delete(d, key, &ctl);
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);
    receiver_stop(rc_gone);
    receiver_stop(rc_ctl);
    PQfinish(pg);
}
END_TEST

START_TEST(an_endpoint_failing_for_the_whole_retry_period_is_turned_off)
{
    char key[64], lead[40];
    struct hook h;
    const char *env[] = {"LEADLOOP_WEBHOOK_RETRY_FOR_S=1", "LEADLOOP_WEBHOOK_RETRY_MAX_MS=200",
                         NULL};
    ck_assert(workspace_key("hooks-exhausted", "admin", key));
    PGconn *pg = pg_test();
    struct receiver *rc = receiver_start(NULL);
    struct daemon *d = hook_daemon(env);
    hook_create(d, key, rc, NULL, &h);
    receiver_script(rc, 1000000, 503);

    /* the first delivery fails for its whole second of retries */
    make_lead(key, "exhausted-a@example.com", lead);
    ck_assert_msg(wait_deliveries(pg, &h, "failed", 1, WAIT_MS), "the delivery never failed");
    json_t *list = hook_deliveries(d, key, &h);
    json_t *first = json_array_get(list, 0);
    ck_assert_msg(ji(first, "attempts") > 1 && ji(first, "last_status") == 503,
                  "expected several attempts, the last answered 503: %s", dump(first));
    json_decref(list);
    /* The first failure can itself end the retry period: failing_since is set at the first
     * attempt and the last one, on a loaded machine, can run more than a second later. The
     * outcome and the endpoint's state are written in one statement, so what GET says now
     * is what that failure decided. */
    json_t *after_first = hook_get(d, key, &h);
    bool off_after_first = json_is_false(json_object_get(after_first, "active"));
    json_decref(after_first);
    /* the second fails too, more than the retry period after the first failure */
    make_lead(key, "exhausted-b@example.com", lead);
    struct active_probe probe = {d, key, &h};
    ck_assert_msg(wait_until(turned_off, &probe, WAIT_MS),
                  "an endpoint failing for longer than the retry period is still active");
    json_t *o = hook_get(d, key, &h);
    ck_assert_msg(strstr(js(o, "disabled_reason"), "retry period") &&
                      json_is_string(json_object_get(o, "failing_since")),
                  "expected disabled_reason naming the retry period and failing_since: %s",
                  dump(o));
    json_decref(o);
    /* turned off by the first failure, the second lead is not delivered while it is off */
    ck_assert_int_eq(count_deliveries(pg, &h, "failed"), off_after_first ? 1 : 2);
    expect_all_verified(rc);

    hook_delete(d, key, &h);
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);
    receiver_stop(rc);
    PQfinish(pg);
}
END_TEST

START_TEST(a_change_no_longer_kept_fails_alone_in_its_batch)
{
    /* Two workspaces' deliveries, waiting for their retry while the daemon is stopped; the
     * first one's change is then deleted (as the feed's retention would) and both made due,
     * it first. One sender claims both in one batch: the lost change's delivery fails, the
     * other is delivered all the same. */
    char key_a[64], key_b[64], lead[40], sql[512];
    struct hook a, b;
    const char *env[] = {"LEADLOOP_WEBHOOK_RETRY_MIN_MS=600000",
                         "LEADLOOP_WEBHOOK_RETRY_MAX_MS=600000", "LEADLOOP_WEBHOOK_SENDERS=1",
                         NULL};
    ck_assert(workspace_key("hooks-lost-a", "admin", key_a));
    ck_assert(workspace_key("hooks-lost-b", "admin", key_b));
    PGconn *pg = pg_test();
    struct receiver *rc_a = receiver_start(NULL), *rc_b = receiver_start(NULL);
    struct daemon *d = hook_daemon(env);
    hook_create(d, key_a, rc_a, NULL, &a);
    hook_create(d, key_b, rc_b, NULL, &b);
    receiver_script(rc_a, 1, 503);
    receiver_script(rc_b, 1, 503);
    make_lead(key_a, "lost-a@example.com", lead);
    make_lead(key_b, "lost-b@example.com", lead);
    struct count_probe failed = {.pg = pg, .want = 2};
    snprintf(failed.sql, sizeof failed.sql,
             "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id IN ('%s', '%s')"
             " AND status = 'pending' AND last_status = 503",
             a.id, b.id);
    ck_assert_msg(wait_until(count_reached, &failed, WAIT_MS),
                  "expected both first attempts answered 503 and recorded");
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);

    snprintf(sql, sizeof sql,
             "DELETE FROM changes c USING webhook_deliveries d WHERE d.endpoint_id = '%s'"
             " AND c.workspace_id = d.workspace_id AND c.xid = d.change_xid"
             " AND c.seq = d.change_seq",
             a.id);
    pg_ok(pg, sql);
    snprintf(sql, sizeof sql,
             "UPDATE webhook_deliveries SET next_attempt_at = now() - CASE endpoint_id"
             " WHEN '%s' THEN interval '2 s' ELSE interval '1 s' END"
             " WHERE endpoint_id IN ('%s', '%s')",
             a.id, a.id, b.id);
    pg_ok(pg, sql);
    d = hook_daemon(env);
    ck_assert_msg(receiver_wait_count(rc_b, 2, WAIT_MS),
                  "the other workspace's delivery was not sent again (%zu requests)",
                  receiver_count(rc_b));
    ck_assert_msg(wait_deliveries(pg, &b, "delivered", 1, WAIT_MS),
                  "the other workspace's delivery is not delivered");
    ck_assert_msg(wait_deliveries(pg, &a, "failed", 1, WAIT_MS),
                  "the delivery of the deleted change did not fail");
    json_t *list = hook_deliveries(d, key_a, &a);
    json_t *lost = json_array_get(list, 0);
    ck_assert_msg(strstr(js(lost, "last_error"), "no longer kept") && ji(lost, "attempts") == 2,
                  "expected the lost change's delivery failed after 2 attempts, naming why: %s",
                  dump(lost));
    json_decref(list);
    ck_assert_uint_eq(receiver_count(rc_a), 1);
    expect_all_verified(rc_a);
    expect_all_verified(rc_b);

    hook_delete(d, key_a, &a);
    hook_delete(d, key_b, &b);
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);
    receiver_stop(rc_a);
    receiver_stop(rc_b);
    PQfinish(pg);
}
END_TEST

/* Compares what rc received with the workspace's changes after seq `after` (in PostgreSQL):
 * every change arrived, nothing else did, each change under one webhook-id only, and an id
 * that arrived twice was attempted twice (a retry). Failures are collected in rep. */
static void compare_with_changes(struct receiver *rc, PGconn *pg, const char *ws, long after,
                                 struct report *rep)
{
    char sql[256], *v;
    size_t n_seqs, count = receiver_count(rc);
    long long *seqs = received_seqs(rc, &n_seqs);
    snprintf(sql, sizeof sql,
             "SELECT seq FROM changes WHERE workspace_id = '%s' AND seq > %ld ORDER BY seq", ws,
             after);
    PGresult *res = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    int expected = PQntuples(res);
    for (int i = 0; i < expected; i++) {
        long long s = atoll(PQgetvalue(res, i, 0));
        bool got = false;
        for (size_t j = 0; j < n_seqs && !got; j++)
            got = seqs[j] == s;
        if (!got && rep->failed < 20)
            report_add(rep, "change %lld was never delivered", s);
        else if (!got)
            rep->failed++;
    }
    if ((size_t)expected != n_seqs)
        report_add(rep, "expected %d distinct changes, received %zu", expected, n_seqs);
    long long *seq_of = calloc(count + 1, sizeof *seq_of);
    ck_assert_ptr_nonnull(seq_of);
    for (size_t i = 0; i < count; i++)
        seq_of[i] = ji(receiver_entry(rc, i)->json, "seq");
    for (size_t i = 0; i < count; i++) {
        const struct receiver_entry *e = receiver_entry(rc, i);
        for (size_t j = 0; j < i; j++) {
            const struct receiver_entry *f = receiver_entry(rc, j);
            if (seq_of[i] != seq_of[j])
                continue;
            if (strcmp(e->id, f->id)) {
                report_add(rep, "change %lld arrived under two webhook-ids, %s and %s", seq_of[i],
                           f->id, e->id);
            } else {
                v = pg_value_p(pg, "SELECT attempts FROM webhook_deliveries WHERE id = $1", e->id);
                if (atol(v) < 2)
                    report_add(rep, "webhook-id %s arrived twice but was attempted %s time(s)",
                               e->id, v);
                free(v);
            }
            break;
        }
    }
    free(seq_of);
    PQclear(res);
    free(seqs);
}

START_TEST(a_daemon_killed_mid_delivery_loses_no_event)
{
    char key[64];
    struct hook h;
    struct report rep = {0};
    ck_assert(workspace_key("hooks-kill", "admin", key));
    PGconn *pg = pg_test();
    char *ws = workspace_id(pg, "hooks-kill");
    struct receiver *rc = receiver_start(NULL);
    receiver_set_delay_ms(rc, 3); /* 500 deliveries take 1.5 s at least */
    struct daemon *d = hook_daemon(NULL);
    hook_create(d, key, rc, NULL, &h);
    long before = last_seq(pg, ws);
    make_leads(key, "kill", 500);

    ck_assert_msg(receiver_wait_count(rc, 100, WAIT_MS), "100 deliveries expected, got %zu",
                  receiver_count(rc));
    ck_assert_int_eq(daemon_stop(d, SIGKILL), 128 + SIGKILL);
    size_t at_kill = receiver_count(rc);
    ck_assert_msg(at_kill < 500, "all %zu deliveries arrived before the kill", at_kill);
    long recorded = count_deliveries(pg, &h, "delivered");

    d = hook_daemon(NULL);
    ck_assert_msg(wait_deliveries(pg, &h, "delivered", 500, WAIT_MS),
                  "after the restart: %ld of 500 deliveries delivered, %zu requests received",
                  count_deliveries(pg, &h, "delivered"), receiver_count(rc));
    compare_with_changes(rc, pg, ws, before, &rep);
    ck_assert_msg(rep.failed == 0, "%d mismatches:\n%s", rep.failed, rep.text);
    expect_all_verified(rc);
    fprintf(stderr,
            "webhooks: killed after %zu requests (%ld recorded delivered); %zu requests in all "
            "for 500 changes\n",
            at_kill, recorded, receiver_count(rc));

    hook_delete(d, key, &h);
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);
    receiver_stop(rc);
    free(rep.text);
    free(ws);
    PQfinish(pg);
}
END_TEST

START_TEST(two_daemons_deliver_5000_events_without_a_duplicate)
{
    char key[64];
    struct hook h;
    struct report rep = {0};
    /* a lease far beyond the run: no attempt is retried because it seemed lost, so any
     * duplicate would be two daemons sending one delivery */
    const char *env[] = {"LEADLOOP_WEBHOOK_LEASE_S=60", NULL};
    ck_assert(workspace_key("hooks-pair", "admin", key));
    PGconn *pg = pg_test();
    char *ws = workspace_id(pg, "hooks-pair");
    struct receiver *rc = receiver_start(NULL);
    struct daemon *a = hook_daemon(env), *b = hook_daemon(env);
    hook_create(a, key, rc, NULL, &h);
    long before = last_seq(pg, ws);
    make_leads(key, "pair", 5000);

    ck_assert_msg(wait_deliveries(pg, &h, "delivered", 5000, 4 * WAIT_MS),
                  "%ld of 5000 deliveries delivered, %zu requests received",
                  count_deliveries(pg, &h, "delivered"), receiver_count(rc));
    ck_assert_int_eq(count_deliveries(pg, &h, "pending"), 0);
    compare_with_changes(rc, pg, ws, before, &rep);
    ck_assert_msg(rep.failed == 0, "%d mismatches:\n%s", rep.failed, rep.text);
    ck_assert_msg(receiver_duplicates(rc) == 0 && receiver_count(rc) == 5000,
                  "expected 5000 requests with no duplicate, got %zu with %zu duplicates",
                  receiver_count(rc), receiver_duplicates(rc));
    char *retried = pg_value_p(pg,
                               "SELECT count(*) FROM webhook_deliveries WHERE attempts <> 1"
                               " AND endpoint_id = $1",
                               h.id);
    ck_assert_msg(!strcmp(retried, "0"), "%s deliveries took more than one attempt", retried);
    free(retried);
    expect_all_verified(rc);

    hook_delete(a, key, &h);
    ck_assert_int_eq(daemon_stop(a, SIGTERM), 0);
    ck_assert_int_eq(daemon_stop(b, SIGTERM), 0);
    receiver_stop(rc);
    free(rep.text);
    free(ws);
    PQfinish(pg);
}
END_TEST

/* ------------------------------------------------------------------ the API's operations */

START_TEST(rotation_signs_with_both_secrets_then_only_the_new_one)
{
    char key[64], lead[40], path[128], s1[64], s2[64], s3[64];
    struct hook h;
    ck_assert(workspace_key("hooks-rotate", "admin", key));
    struct receiver *rc = receiver_start(NULL);
    struct daemon *d = hook_daemon(NULL);
    hook_create(d, key, rc, NULL, &h);
    snprintf(s1, sizeof s1, "%s", h.secret);
    make_lead(key, "rotate-1@example.com", lead);
    ck_assert_msg(receiver_wait_count(rc, 1, WAIT_MS), "the first delivery did not arrive");
    const struct receiver_entry *e = receiver_entry(rc, 0);
    ck_assert_msg(e->verified && e->signatures == 1 && e->matched == 1,
                  "before the rotation: expected one signature by the secret, got %d (matched %u)",
                  e->signatures, e->matched);

    snprintf(path, sizeof path, "/v1/webhooks/%s/rotate-secret", h.id);
    struct resp *r = call(d, "POST", path, key, NULL);
    expect(r, 200, "rotate-secret");
    snprintf(s2, sizeof s2, "%s", jstr(r, "secret"));
    ck_assert_msg(!strncmp(s2, "whsec_", 6) && strcmp(s1, s2),
                  "expected a new whsec_ secret, got \"%s\"", s2);
    ck_assert_msg(json_is_string(json_object_get(json_object_get(r->json, "secret_rotation"),
                                                 "previous_expires_at")),
                  "expected secret_rotation.previous_expires_at: %s", r->body);
    resp_free(r);
    receiver_add_secret(rc, s2); /* bit 1 */
    json_t *o = hook_get(d, key, &h);
    ck_assert_msg(!json_object_get(o, "secret"), "GET shows the secret: %s", dump(o));
    json_decref(o);
    make_lead(key, "rotate-2@example.com", lead);
    ck_assert_msg(receiver_wait_count(rc, 2, WAIT_MS), "the second delivery did not arrive");
    e = receiver_entry(rc, 1);
    ck_assert_msg(e->verified && e->signatures == 2 && e->matched == 3,
                  "during the rotation: expected two signatures, by the old and the new secret, "
                  "got %d (matched %u): %s",
                  e->signatures, e->matched, e->signature);

    r = call(d, "POST", path, key, "{\"previous_valid_for_s\":0}");
    expect(r, 200, "rotate-secret, the old one ending now");
    snprintf(s3, sizeof s3, "%s", jstr(r, "secret"));
    ck_assert_msg(json_is_null(json_object_get(r->json, "secret_rotation")),
                  "expected no rotation under way: %s", r->body);
    resp_free(r);
    receiver_add_secret(rc, s3); /* bit 2 */
    make_lead(key, "rotate-3@example.com", lead);
    ck_assert_msg(receiver_wait_count(rc, 3, WAIT_MS), "the third delivery did not arrive");
    e = receiver_entry(rc, 2);
    ck_assert_msg(e->verified && e->signatures == 1 && e->matched == 4,
                  "after previous_valid_for_s=0: expected one signature, by the newest secret, "
                  "got %d (matched %u): %s",
                  e->signatures, e->matched, e->signature);

    /* bad rotations */
    r = call(d, "POST", path, key, "{\"previous_valid_for_s\":-1}");
    expect_field(r, 422, "validation-failed", "previous_valid_for_s", "a negative period");
    resp_free(r);
    r = call(d, "POST", path, key, "{\"previous_valid_for_s\":604801}");
    expect_field(r, 422, "validation-failed", "previous_valid_for_s", "a period over a week");
    resp_free(r);
    r = call(d, "POST", path, key, "{\"secret\":\"whsec_AAAA\"}");
    expect_field(r, 422, "validation-failed", "secret", "a secret of one's own");
    resp_free(r);

    hook_delete(d, key, &h);
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);
    receiver_stop(rc);
}
END_TEST

START_TEST(ping_and_redelivery_arrive_signed_with_their_webhook_id)
{
    char key[64], lead[40], path[200], ping_id[40];
    struct hook h;
    ck_assert(workspace_key("hooks-ping", "admin", key));
    PGconn *pg = pg_test();
    struct receiver *rc = receiver_start(NULL);
    struct daemon *d = hook_daemon(NULL);
    hook_create(d, key, rc, NULL, &h);

    snprintf(path, sizeof path, "/v1/webhooks/%s/ping", h.id);
    struct resp *r = call(d, "POST", path, key, NULL);
    expect(r, 202, "ping");
    ck_assert_msg(!strcmp(jstr(r, "type"), "webhook.ping") &&
                      !strcmp(jstr(r, "webhook_id"), h.id) &&
                      json_is_null(json_object_get(r->json, "seq")) && strlen(jstr(r, "id")) == 36,
                  "expected a webhook.ping delivery of this webhook without seq: %s", r->body);
    snprintf(ping_id, sizeof ping_id, "%s", jstr(r, "id"));
    resp_free(r);
    ck_assert_msg(receiver_wait_count(rc, 1, WAIT_MS), "the ping did not arrive");
    const struct receiver_entry *e = receiver_entry(rc, 0);
    ck_assert_msg(!strcmp(e->id, ping_id), "the ping's webhook-id: expected %s, got %s", ping_id,
                  e->id);
    ck_assert_msg(!strcmp(js(e->json, "type"), "webhook.ping") &&
                      !strcmp(js(e->json, "webhook_id"), h.id) &&
                      json_is_string(json_object_get(e->json, "occurred_at")),
                  "expected a ping naming the webhook: %s", e->body);
    r = call(d, "POST", path, key, "{}");
    expect(r, 202, "ping with {}");
    resp_free(r);
    r = call(d, "POST", path, key, "{\"message\":\"hi\"}");
    expect_field(r, 422, "validation-failed", "message", "a ping with a field");
    resp_free(r);
    ck_assert_msg(receiver_wait_count(rc, 2, WAIT_MS), "the second ping did not arrive");

    /* a change, delivered, then sent again on request with its webhook-id */
    make_lead(key, "ping@example.com", lead);
    ck_assert_msg(receiver_wait_count(rc, 3, WAIT_MS), "the lead's delivery did not arrive");
    e = receiver_entry(rc, 2);
    char id[40];
    snprintf(id, sizeof id, "%s", e->id);
    ck_assert_msg(wait_deliveries(pg, &h, "delivered", 3, WAIT_MS),
                  "three deliveries expected delivered");
    snprintf(path, sizeof path, "/v1/webhooks/%s/deliveries/%s/redeliver", h.id, id);
    r = call(d, "POST", path, key, NULL);
    expect(r, 202, "redeliver");
    ck_assert_msg(!strcmp(jstr(r, "id"), id) && !strcmp(jstr(r, "status"), "pending"),
                  "expected delivery %s pending again: %s", id, r->body);
    resp_free(r);
    ck_assert_msg(receiver_wait_count(rc, 4, WAIT_MS), "the redelivery did not arrive");
    const struct receiver_entry *again = receiver_entry(rc, 3);
    ck_assert_msg(!strcmp(again->id, id), "a redelivery keeps its webhook-id: expected %s, got %s",
                  id, again->id);
    ck_assert_msg(json_equal(again->json, e->json), "a redelivery sends the same body: %s / %s",
                  e->body, again->body);
    ck_assert_msg(wait_deliveries(pg, &h, "delivered", 3, WAIT_MS) &&
                      count_deliveries(pg, &h, "pending") == 0,
                  "the redelivery was not recorded");
    expect_all_verified(rc);

    /* what is not there */
    snprintf(path, sizeof path, "/v1/webhooks/%s/deliveries/%s/redeliver", h.id,
             "00000000-0000-4000-8000-000000000000");
    r = call(d, "POST", path, key, NULL);
    assert_problem(r, 404, "not-found");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/webhooks/%s/deliveries/%s/redeliver", h.id, "nope");
    r = call(d, "POST", path, key, NULL);
    assert_problem(r, 404, "not-found");
    resp_free(r);
    snprintf(path, sizeof path, "/v1/webhooks/%s/deliveries/%s/redeliver", h.id, id);
    r = call(d, "POST", path, key, "{\"now\":true}");
    expect_field(r, 422, "validation-failed", "now", "a redelivery with a field");
    resp_free(r);

    hook_delete(d, key, &h);
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);
    receiver_stop(rc);
    PQfinish(pg);
}
END_TEST

START_TEST(types_filter_what_is_delivered)
{
    char key[64], lead[40];
    struct hook only, all;
    ck_assert(workspace_key("hooks-types", "admin", key));
    struct receiver *rc_only = receiver_start(NULL), *rc_all = receiver_start(NULL);
    struct daemon *d = hook_daemon(NULL);
    hook_create(d, key, rc_only, "\"types\":[\"campaign.created\"]", &only);
    hook_create(d, key, rc_all, NULL, &all);
    make_lead(key, "types@example.com", lead);
    struct resp *r = post("/v1/campaigns", key, "{\"name\":\"Types\",\"channel\":\"email\"}");
    expect(r, 201, "POST /v1/campaigns");
    resp_free(r);

    ck_assert_msg(receiver_wait_count(rc_only, 1, WAIT_MS), "the campaign was not delivered");
    ck_assert_msg(receiver_wait_count(rc_all, 2, WAIT_MS),
                  "the unfiltered endpoint expected the lead and the campaign, got %zu",
                  receiver_count(rc_all));
    /* the lead comes first in the feed: a delivery of it would exist by now */
    json_t *list = hook_deliveries(d, key, &only);
    ck_assert_msg(json_array_size(list) == 1 &&
                      !strcmp(js(json_array_get(list, 0), "type"), "campaign.created"),
                  "expected only campaign.created, got %s", dump(list));
    json_decref(list);
    ck_assert_uint_eq(receiver_count(rc_only), 1);
    ck_assert_str_eq(js(receiver_entry(rc_only, 0)->json, "type"), "campaign.created");
    expect_all_verified(rc_only);
    expect_all_verified(rc_all);

    hook_delete(d, key, &only);
    hook_delete(d, key, &all);
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);
    receiver_stop(rc_only);
    receiver_stop(rc_all);
}
END_TEST

START_TEST(a_new_endpoint_gets_only_later_changes)
{
    char key[64], early[40], held_lead[40], later[40];
    struct hook h;
    ck_assert(workspace_key("hooks-later", "admin", key));
    struct receiver *rc = receiver_start(NULL);
    struct daemon *d = hook_daemon(NULL);
    make_lead(key, "later-0@example.com", early);

    /* A transaction open elsewhere holds the feed's frontier back: the lead made now is
     * committed before the endpoint exists, but still behind the frontier when it is made. */
    PGconn *held = pg_test();
    pg_ok(held, "BEGIN");
    pg_ok(held, "SELECT pg_current_xact_id()");
    make_lead(key, "later-1@example.com", held_lead);
    hook_create(d, key, rc, NULL, &h);
    pg_ok(held, "COMMIT");
    PQfinish(held);
    make_lead(key, "later-2@example.com", later);

    ck_assert_msg(receiver_wait_count(rc, 1, WAIT_MS), "the later lead was not delivered");
    /* earlier changes precede it in the feed: their deliveries would exist by now */
    json_t *list = hook_deliveries(d, key, &h);
    ck_assert_msg(json_array_size(list) == 1,
                  "expected one delivery (lead %s), got %zu; earlier leads %s, %s: %s", later,
                  json_array_size(list), early, held_lead, dump(list));
    json_decref(list);
    ck_assert_uint_eq(receiver_count(rc), 1);
    ck_assert_str_eq(js(receiver_entry(rc, 0)->json, "entity_id"), later);
    expect_all_verified(rc);

    hook_delete(d, key, &h);
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);
    receiver_stop(rc);
}
END_TEST

START_TEST(a_delivery_is_the_change_as_the_feed_shows_it)
{
    char key[64], lead[40], path[128], campaign[40], body[256];
    struct hook h;
    struct report rep = {0};
    ck_assert(workspace_key("hooks-body", "admin", key));
    PGconn *pg = pg_test();
    char *ws = workspace_id(pg, "hooks-body");
    struct receiver *rc = receiver_start(NULL);
    struct daemon *d = hook_daemon(NULL);
    hook_create(d, key, rc, NULL, &h);
    long before = last_seq(pg, ws);

    /* changes of several kinds: a campaign, a lead in it (and its touch), an edit, a stage */
    struct resp *r = post("/v1/campaigns", key, "{\"name\":\"Body\",\"channel\":\"webinar\"}");
    expect(r, 201, "POST /v1/campaigns");
    snprintf(campaign, sizeof campaign, "%s", jstr(r, "id"));
    resp_free(r);
    snprintf(body, sizeof body,
             "{\"email\":\"body@example.com\",\"first_name\":\"Zoë\",\"campaign_id\":\"%s\","
             "\"custom\":{\"industry\":\"software\",\"employees\":120}}",
             campaign);
    r = post("/v1/leads", key, body);
    expect(r, 201, "POST /v1/leads");
    snprintf(lead, sizeof lead, "%s", jstr(r, "id"));
    resp_free(r);
    snprintf(path, sizeof path, "/v1/leads/%s", lead);
    r = patch(path, key, "{\"score\":42,\"title\":\"CTO\"}", NULL);
    expect(r, 200, "PATCH the lead");
    resp_free(r);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM changes WHERE workspace_id = '%s' AND seq > %ld", ws, before);
    long expected = pg_long(pg, sql);
    ck_assert_msg(expected >= 3, "expected at least 3 changes, the feed has %ld", expected);

    ck_assert_msg(wait_deliveries(pg, &h, "delivered", expected, WAIT_MS),
                  "expected %ld deliveries, %ld delivered", expected,
                  count_deliveries(pg, &h, "delivered"));
    compare_with_changes(rc, pg, ws, before, &rep);
    ck_assert_msg(rep.failed == 0, "%d mismatches:\n%s", rep.failed, rep.text);
    expect_all_verified(rc);

    /* the feed from its start, each change beside the body that was delivered for it */
    char cursor[80] = "";
    size_t matched = 0;
    for (int pages = 0; pages < 100; pages++) {
        snprintf(path, sizeof path, "/v1/changes?limit=1000%s%s", cursor[0] ? "&after=" : "",
                 cursor);
        r = get(path, key);
        expect(r, 200, "GET /v1/changes");
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(r->json, "data"), i, item)
        {
            if (ji(item, "seq") <= before)
                continue;
            const struct receiver_entry *e = NULL;
            for (size_t k = 0; k < receiver_count(rc) && !e; k++)
                if (ji(receiver_entry(rc, k)->json, "seq") == ji(item, "seq"))
                    e = receiver_entry(rc, k);
            if (!e) {
                report_add(&rep, "change %lld (%s) was not delivered", ji(item, "seq"),
                           js(item, "type"));
                continue;
            }
            char *feed = json_dumps(item, JSON_COMPACT | JSON_SORT_KEYS);
            if (!json_equal(e->json, item))
                report_add(&rep, "change %lld:\n  feed     %s\n  delivery %s", ji(item, "seq"),
                           feed, e->body);
            free(feed);
            matched++;
        }
        bool more = json_is_true(json_object_get(r->json, "has_more"));
        snprintf(cursor, sizeof cursor, "%s", jstr(r, "next_cursor"));
        resp_free(r);
        if (!more)
            break;
    }
    ck_assert_msg(rep.failed == 0, "%d mismatches:\n%s", rep.failed, rep.text);
    ck_assert_msg(matched == (size_t)expected, "the feed showed %zu of the %ld changes", matched,
                  expected);

    hook_delete(d, key, &h);
    ck_assert_int_eq(daemon_stop(d, SIGTERM), 0);
    receiver_stop(rc);
    free(rep.text);
    free(ws);
    PQfinish(pg);
}
END_TEST

/* ------------------------------------------------------------------ bad input */

/* A URL of len bytes: https://93.184.216.34/ and 'a's. */
static char *long_url(size_t len)
{
    char *s = malloc(len + 1);
    ck_assert_ptr_nonnull(s);
    strcpy(s, "https://93.184.216.34/");
    memset(s + strlen(s), 'a', len - strlen(s));
    s[len] = '\0';
    return s;
}

START_TEST(bad_webhooks_are_refused_naming_the_field)
{
    char key[64], path[160], body[4400];
    /* on the main daemon, which allows no private address */
    ck_assert(workspace_key("hooks-bad", "admin", key));
    static const char *const urls[] = {
        "\"ftp://93.184.216.34/hook\"",
        "\"93.184.216.34/hook\"",
        "\"not a url\"",
        "\"\"",
        "42",
        "null",
        "\"https://user:pass@93.184.216.34/hook\"",
        "\"https://user@93.184.216.34/hook\"",
        "\"https://93.184.216.34/hook#frag\"",
        "\"https://93.184.216.34:0/hook\"",
        "\"http://127.0.0.1:8080/hook\"",
        "\"http://localhost/hook\"",
        "\"http://10.1.2.3/hook\"",
        "\"http://172.16.0.1/hook\"",
        "\"http://192.168.1.1/hook\"",
        "\"http://169.254.169.254/latest/meta-data\"",
        "\"http://100.64.0.1/hook\"",
        "\"http://224.0.0.1/hook\"",
        "\"http://0.0.0.0/hook\"",
        "\"http://[::1]/hook\"",
        "\"http://[fd00::1]/hook\"",
        "\"http://[fe80::1]/hook\"",
        "\"http://[::ffff:127.0.0.1]/hook\"",
        "\"http://2130706433/hook\"",
        "\"http://0x7f.1/hook\"",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        snprintf(body, sizeof body, "{\"url\":%s}", urls[i]);
        struct resp *r = post("/v1/webhooks", key, body);
        expect_field(r, 422, "validation-failed", "url", body);
        resp_free(r);
    }
    char *too_long = long_url(2049), *longest = long_url(2048);
    snprintf(body, sizeof body, "{\"url\":\"%s\",\"active\":false}", too_long);
    struct resp *r = post("/v1/webhooks", key, body);
    expect_field(r, 422, "validation-failed", "url", "a url of 2049 bytes");
    resp_free(r);
    r = post("/v1/webhooks", key, "{\"types\":[\"lead.created\"]}");
    expect_field(r, 422, "validation-failed", "url", "no url");
    resp_free(r);

    static const struct {
        const char *members, *field;
    } others[] = {
        {"\"types\":[\"lead.nope\"]", "types"},
        {"\"types\":[\"lead.*\"]", "types"},
        {"\"types\":[\"webhook.ping\"]", "types"},
        {"\"types\":\"lead.created\"", "types"},
        {"\"types\":[1]", "types"},
        {"\"types\":[\"lead.created\",\"lead.created\"]", "types"},
        {"\"types\":null", "types"},
        {"\"colour\":\"blue\"", "colour"},
        {"\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"", "secret"},
        {"\"id\":\"00000000-0000-4000-8000-000000000000\"", "id"},
        {"\"disabled_reason\":\"none\"", "disabled_reason"},
        {"\"version\":3", "version"},
        {"\"active\":\"yes\"", "active"},
        {"\"description\":5", "description"},
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        /* off, so that a webhook made by mistake is sent nothing */
        bool sets_active = !strncmp(others[i].members, "\"active\"", 8);
        snprintf(body, sizeof body, "{\"url\":\"https://93.184.216.34/hook\",%s%s}",
                 others[i].members, sets_active ? "" : ",\"active\":false");
        r = post("/v1/webhooks", key, body);
        expect_field(r, 422, "validation-failed", others[i].field, body);
        resp_free(r);
    }
    char desc[600];
    memset(desc, 'd', 501);
    desc[501] = '\0';
    snprintf(body, sizeof body, "{\"url\":\"https://93.184.216.34/hook\",\"description\":\"%s\"}",
             desc);
    r = post("/v1/webhooks", key, body);
    expect_field(r, 422, "validation-failed", "description", "a description of 501 characters");
    resp_free(r);
    r = post("/v1/webhooks", key, "[]");
    ck_assert_msg(r->status == 400 || r->status == 422, "an array body: %ld %s", r->status,
                  r->body);
    resp_free(r);
    PGconn *pg = pg_test();
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM webhook_endpoints e JOIN workspaces w"
                                 " ON w.id = e.workspace_id WHERE w.slug = 'hooks-bad'"),
                     0);
    PQfinish(pg);

    /* a public address is accepted (off, so that nothing is sent to it), the longest URL
     * too; then the changes a PATCH may not make */
    snprintf(body, sizeof body, "{\"url\":\"%s\",\"active\":false}", longest);
    r = post("/v1/webhooks", key, body);
    expect(r, 201, "a url of 2048 bytes");
    resp_free(r);
    r = post("/v1/webhooks", key,
             "{\"url\":\"https://93.184.216.34/hook\",\"active\":false,\"types\":[\"lead.created\","
             "\"feedback.created\"],\"description\":\"CRM\"}");
    expect(r, 201, "a public address");
    ck_assert_msg(!strncmp(jstr(r, "secret"), "whsec_", 6), "no secret: %s", r->body);
    snprintf(path, sizeof path, "/v1/webhooks/%s", jstr(r, "id"));
    resp_free(r);
    static const struct {
        const char *body, *field;
    } patches[] = {
        {"{\"url\":null}", "url"},
        {"{\"active\":null}", "active"},
        {"{\"types\":null}", "types"},
        {"{\"url\":\"http://127.0.0.1/hook\"}", "url"},
        {"{\"url\":\"gopher://93.184.216.34/\"}", "url"},
        {"{\"types\":[\"lead.nope\"]}", "types"},
        {"{\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}", "secret"},
        {"{\"failing_since\":null}", "failing_since"},
        {"{\"colour\":\"blue\"}", "colour"},
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        r = patch(path, key, patches[i].body, NULL);
        expect_field(r, 422, "validation-failed", patches[i].field, patches[i].body);
        resp_free(r);
    }
    r = get(path, key);
    expect(r, 200, "GET after the refused patches");
    ck_assert_msg(!strcmp(jstr(r, "url"), "https://93.184.216.34/hook") &&
                      json_array_size(json_object_get(r->json, "types")) == 2 &&
                      json_integer_value(json_object_get(r->json, "version")) == 1,
                  "a refused patch changed the webhook: %s", r->body);
    resp_free(r);

    /* the deliveries' list */
    snprintf(path + strlen(path), sizeof path - strlen(path), "/deliveries?status=sent");
    r = get(path, key);
    expect_field(r, 400, "invalid-parameter", "status", "status=sent");
    resp_free(r);
    *strchr(path, '?') = '\0';
    strcat(path, "?limit=0");
    r = get(path, key);
    expect_field(r, 400, "invalid-parameter", "limit", "limit=0");
    resp_free(r);
    *strchr(path, '?') = '\0';
    strcat(path, "?colour=blue");
    r = get(path, key);
    ck_assert_msg(r->status == 400, "an unknown parameter: %ld %s", r->status, r->body);
    resp_free(r);
    r = get("/v1/webhooks/00000000-0000-4000-8000-000000000000/deliveries", key);
    assert_problem(r, 404, "not-found");
    resp_free(r);
    r = get("/v1/webhooks/not-a-uuid/deliveries", key);
    assert_problem(r, 404, "not-found");
    resp_free(r);
    free(too_long);
    free(longest);
}
END_TEST

START_TEST(only_admins_and_only_their_workspace)
{
    char key[64], readonly[64], other[64], path[200], id[40];
    ck_assert(workspace_key("hooks-roles", "admin", key));
    ck_assert(workspace_key("hooks-roles", "readonly", readonly));
    ck_assert(workspace_key("hooks-roles-other", "admin", other));
    struct resp *r =
        post("/v1/webhooks", key, "{\"url\":\"https://93.184.216.34/roles\",\"active\":false}");
    expect(r, 201, "create");
    snprintf(id, sizeof id, "%s", jstr(r, "id"));
    resp_free(r);
    snprintf(path, sizeof path, "/v1/webhooks/%s/ping", id);
    r = post(path, key, "{}");
    expect(r, 202, "ping (kept: the endpoint is off)");
    char delivery[40];
    snprintf(delivery, sizeof delivery, "%s", jstr(r, "id"));
    resp_free(r);

    static const struct {
        const char *method, *tail, *body;
    } ops[] = {
        {"GET", "", NULL},
        {"PATCH", "", "{\"description\":\"x\"}"},
        {"DELETE", "", NULL},
        {"POST", "/rotate-secret", NULL},
        {"POST", "/ping", NULL},
        {"GET", "/deliveries", NULL},
        {"POST", "/deliveries/", NULL}, /* the delivery's id and /redeliver follow */
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        bool redeliver = !strcmp(ops[i].tail, "/deliveries/");
        snprintf(path, sizeof path, "/v1/webhooks/%s%s%s%s", id, ops[i].tail,
                 redeliver ? delivery : "", redeliver ? "/redeliver" : "");
        r = call(&main_daemon, ops[i].method, path, readonly, ops[i].body);
        ck_assert_msg(r->status == 403, "%s %s with a readonly key: expected 403, got %ld: %s",
                      ops[i].method, path, r->status, r->body);
        assert_problem(r, 403, "forbidden");
        resp_free(r);
        r = call(&main_daemon, ops[i].method, path, other, ops[i].body);
        ck_assert_msg(r->status == 404,
                      "%s %s with another workspace's admin key: expected 404, got %ld: %s",
                      ops[i].method, path, r->status, r->body);
        assert_problem(r, 404, "not-found");
        resp_free(r);
    }
    r = get("/v1/webhooks", readonly);
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = post("/v1/webhooks", readonly, "{\"url\":\"https://93.184.216.34/ro\",\"active\":false}");
    assert_problem(r, 403, "forbidden");
    resp_free(r);
    r = get("/v1/webhooks", other);
    expect(r, 200, "the other workspace's list");
    ck_assert_msg(json_array_size(json_object_get(r->json, "data")) == 0,
                  "another workspace's list shows this one's webhooks: %s", r->body);
    resp_free(r);
    r = get("/v1/webhooks", key);
    expect(r, 200, "the list");
    ck_assert_msg(
        json_array_size(json_object_get(r->json, "data")) == 1 &&
            !json_object_get(json_array_get(json_object_get(r->json, "data"), 0), "secret"),
        "expected one webhook, without its secret: %s", r->body);
    resp_free(r);
    /* still there, untouched */
    snprintf(path, sizeof path, "/v1/webhooks/%s", id);
    r = get(path, key);
    expect(r, 200, "GET by its own workspace");
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "version")), 1);
    resp_free(r);
    r = del(path, key);
    expect(r, 204, "DELETE");
    resp_free(r);
    r = get(path, key);
    assert_problem(r, 404, "not-found");
    resp_free(r);
}
END_TEST

START_TEST(a_patch_changes_only_what_it_names)
{
    char key[64], path[160];
    ck_assert(workspace_key("hooks-patch", "admin", key));
    struct resp *r = post("/v1/webhooks", key,
                          "{\"url\":\"https://93.184.216.34/patch\",\"active\":false,"
                          "\"types\":[\"lead.created\",\"touch.created\"],\"description\":\"d\"}");
    expect(r, 201, "create");
    snprintf(path, sizeof path, "/v1/webhooks/%s", jstr(r, "id"));
    resp_free(r);

    r = patch(path, key, "{\"description\":\"CRM sync\"}", NULL);
    expect(r, 200, "PATCH description");
    char *types = json_dumps(json_object_get(r->json, "types"), JSON_COMPACT);
    ck_assert_msg(!strcmp(types, "[\"lead.created\",\"touch.created\"]") &&
                      !strcmp(jstr(r, "description"), "CRM sync") &&
                      !strcmp(jstr(r, "url"), "https://93.184.216.34/patch") &&
                      json_is_false(json_object_get(r->json, "active")),
                  "a PATCH of the description changed other members: %s", r->body);
    free(types);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "version")), 2);
    resp_free(r);
    /* the values it has: nothing changes, version included */
    r = patch(path, key, "{\"description\":\"CRM sync\",\"active\":false}", "\"2\"");
    expect(r, 200, "PATCH with the values it has");
    ck_assert_msg(json_integer_value(json_object_get(r->json, "version")) == 2,
                  "a PATCH that changes nothing raised the version: %s", r->body);
    resp_free(r);
    r = patch(path, key, "{\"types\":[]}", "\"2\"");
    expect(r, 200, "PATCH types to every type");
    ck_assert_msg(json_array_size(json_object_get(r->json, "types")) == 0 &&
                      json_integer_value(json_object_get(r->json, "version")) == 3,
                  "expected types [] at version 3: %s", r->body);
    resp_free(r);
    r = patch(path, key, "{\"description\":null}", "\"2\"");
    assert_problem(r, 412, "precondition-failed");
    resp_free(r);
    r = del(path, key);
    expect(r, 204, "DELETE");
    resp_free(r);
}
END_TEST

Suite *webhooks_suite(void)
{
    Suite *s = suite_create("webhooks");
    TCase *api = tcase_create("webhooks-api");
    tcase_set_timeout(api, 60);
    tcase_add_test(api, bad_webhooks_are_refused_naming_the_field);
    tcase_add_test(api, only_admins_and_only_their_workspace);
    tcase_add_test(api, a_patch_changes_only_what_it_names);
    suite_add_tcase(s, api);
    TCase *tc = tcase_create("webhooks-delivery");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, others_turned_off, NULL);
    tcase_add_test(tc, a_failed_attempt_is_retried_with_the_same_webhook_id);
    tcase_add_test(tc, a_410_turns_the_endpoint_off_until_it_is_turned_on);
    tcase_add_test(tc, an_endpoint_failing_for_the_whole_retry_period_is_turned_off);
    tcase_add_test(tc, rotation_signs_with_both_secrets_then_only_the_new_one);
    tcase_add_test(tc, ping_and_redelivery_arrive_signed_with_their_webhook_id);
    tcase_add_test(tc, types_filter_what_is_delivered);
    tcase_add_test(tc, a_new_endpoint_gets_only_later_changes);
    tcase_add_test(tc, a_change_no_longer_kept_fails_alone_in_its_batch);
    tcase_add_test(tc, a_delivery_is_the_change_as_the_feed_shows_it);
    tcase_add_test(tc, a_daemon_killed_mid_delivery_loses_no_event);
    tcase_add_test(tc, two_daemons_deliver_5000_events_without_a_duplicate);
    suite_add_tcase(s, tc);
    return s;
}
