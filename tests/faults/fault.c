/* The fault suite's harness: scenes (a fresh database and a daemon), the cluster's
 * control, the load of libcurl clients and the check of acknowledged creates. */
#include "fault.h"

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void fault_report(const char *scenario, const char *fmt, ...)
{
    va_list ap;
    printf("fault: %s: ", scenario);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void pg_control(const char *what)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>&1", env_or_die("LL_TEST_PGCTL"), what);
    ck_assert_msg(system(cmd) == 0, "the cluster's '%s' failed", what);
}

/* The cluster as the scene needs it: running, not frozen. */
static void cluster_up(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' status >/dev/null 2>&1", env_or_die("LL_TEST_PGCTL"));
    if (system(cmd) == 0) {
        pg_control("thaw");
        return;
    }
    pg_control("start");
}

PGconn *scene_pg(const struct scene *s)
{
    PGconn *pg = PQconnectdb(s->dburl);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "cannot connect to %s: %s", s->dburl,
                  PQerrorMessage(pg));
    return pg;
}

long scene_daemon_backends(const struct scene *s)
{
    PGconn *pg = scene_pg(s);
    long n = pg_long(pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                         " 'leadloopd' AND datname = current_database()");
    PQfinish(pg);
    return n;
}

static void command(const struct scene *s, const char *const *args, char *out, size_t outlen)
{
    char err[2048];
    const char *env[] = {s->dbenv, NULL};
    int rc = run_leadloopd(args, env, out, outlen, err, sizeof err);
    ck_assert_msg(rc == 0, "leadloopd %s %s failed (%d): %s", args[0], args[1] ? args[1] : "", rc,
                  err);
}

void scene_workspace_key(const struct scene *s, const char *slug, char key[64])
{
    const char *ws[] = {"workspace", "create", slug, NULL};
    const char *args[] = {"keys",  "create", "--workspace", slug, "--role",
                          "admin", "--name", slug,          NULL};
    char out[256];
    command(s, ws, NULL, 0);
    command(s, args, out, sizeof out);
    out[strcspn(out, "\n")] = '\0';
    ck_assert_msg(strlen(out) == 47, "unexpected key output: %s", out);
    memcpy(key, out, 48);
}

void scene_begin(struct scene *s, const char *name, const char *const *env)
{
    const char *migrate[] = {"migrate", NULL};
    char db[64];
    memset(s, 0, sizeof *s);
    s->d.pid = -1;
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(db, sizeof db, "fault_%s", name);
    for (char *p = db; *p; p++)
        if (*p == '-')
            *p = '_';
    cluster_up();
    fresh_database(db, s->dburl, sizeof s->dburl);
    snprintf(s->dbenv, sizeof s->dbenv, "DATABASE_URL=%s", s->dburl);
    command(s, migrate, NULL, 0);
    scene_workspace_key(s, "faults", s->key);
    scene_daemon_start(s, env);
}

void scene_daemon_start(struct scene *s, const char *const *env)
{
    const char *all[24];
    int n = 0;
    all[n++] = s->dbenv; /* info: the access log tells what each request got */
    for (; env && *env && n < 23; env++)
        all[n++] = *env;
    all[n] = NULL;
    ck_assert_msg(daemon_start(&s->d, all), "the daemon of scene %s did not start", s->name);
}

void scene_end(struct scene *s)
{
    if (s->d.pid > 0) {
        int rc = daemon_stop(&s->d, SIGTERM);
        ck_assert_msg(rc == 0, "the daemon exited with %d on SIGTERM; log: %s", rc, s->d.log);
    }
}

/* ------------------------------------------------------------------ the load */

/* Whether the header block (the last one) has name: value starting with want. */
static bool has_header(const char *headers, const char *name, const char *want)
{
    size_t n = strlen(name);
    bool found = false;
    for (const char *line = headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if ((size_t)(end - line) > n && !strncasecmp(line, name, n) && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            found = !want || !strncmp(v, want, strlen(want));
        }
        line = end + 2;
    }
    return found;
}

long client_request(struct client *c, const char *method, const char *path,
                    const char *const *headers, const char *body, size_t len)
{
    struct load *l = c->load;
    struct curl_slist *hl = NULL;
    struct growbuf bb = {NULL, 0}, hb = {NULL, 0};
    char url[512], auth[128];
    double t0 = now_s(), secs;
    CURLcode rc;

    snprintf(url, sizeof url, "%s%s", l->scene->d.base, path);
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, growbuf_append);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &bb);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, growbuf_append);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &hb);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, l->hang_ms);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", l->scene->key);
    hl = curl_slist_append(hl, auth);
    hl = curl_slist_append(hl, "Expect:");
    for (; headers && *headers; headers++)
        hl = curl_slist_append(hl, *headers);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hl);
    if (body) {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    rc = curl_easy_perform(c->curl);
    secs = now_s() - t0;
    c->status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
    curl_slist_free_all(hl);

    c->tally.total++;
    atomic_fetch_add(&l->answered, 1);
    if (secs > c->tally.max_s)
        c->tally.max_s = secs;
    if (secs > l->bound_s)
        c->tally.over_bound++;
    if (rc == CURLE_OPERATION_TIMEDOUT)
        c->tally.hung++;
    else if (rc != CURLE_OK)
        c->tally.no_answer++;
    else if (c->status >= 200 && c->status < 300)
        c->tally.ok++;
    else if (c->status == 503) {
        c->tally.unavailable++;
        if (!has_header(hb.p, "Content-Type", "application/problem+json") ||
            !has_header(hb.p, "Retry-After", NULL))
            c->tally.bad_503++;
    } else if (c->status >= 500)
        c->tally.server_error++;
    else if (c->status == 409) /* a retry while its first try still holds the key: retry */
        c->tally.conflict++;
    else
        c->tally.client_error++;
    free(hb.p);
    free(c->body);
    c->body = bb.p;
    c->len = bb.len;
    return c->status;
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    while (!atomic_load(&c->load->stop) && c->load->step(c))
        ;
    return NULL;
}

void load_start(struct load *l, struct scene *s, int nclients, bool (*step)(struct client *c),
                void *arg, double bound_s, long hang_ms)
{
    memset(l, 0, sizeof *l);
    l->scene = s;
    l->nclients = nclients;
    l->bound_s = bound_s;
    l->hang_ms = hang_ms;
    l->step = step;
    l->arg = arg;
    l->threads = calloc((size_t)nclients, sizeof *l->threads);
    l->clients = calloc((size_t)nclients, sizeof *l->clients);
    ck_assert(l->threads && l->clients);
    for (int i = 0; i < nclients; i++) {
        struct client *c = &l->clients[i];
        c->id = i;
        c->load = l;
        c->curl = curl_easy_init();
        c->acked_cap = 1 << 16;
        c->acked = calloc((size_t)c->acked_cap, 1);
        ck_assert(c->curl && c->acked);
    }
    for (int i = 0; i < nclients; i++)
        ck_assert_int_eq(pthread_create(&l->threads[i], NULL, client_main, &l->clients[i]), 0);
}

void load_stop(struct load *l)
{
    atomic_store(&l->stop, true);
    for (int i = 0; i < l->nclients; i++)
        pthread_join(l->threads[i], NULL);
}

struct tally load_tally(const struct load *l)
{
    struct tally t = {0};
    for (int i = 0; i < l->nclients; i++) {
        const struct tally *c = &l->clients[i].tally;
        t.total += c->total;
        t.ok += c->ok;
        t.unavailable += c->unavailable;
        t.client_error += c->client_error;
        t.conflict += c->conflict;
        t.server_error += c->server_error;
        t.no_answer += c->no_answer;
        t.hung += c->hung;
        t.bad_503 += c->bad_503;
        t.over_bound += c->over_bound;
        if (c->max_s > t.max_s)
            t.max_s = c->max_s;
    }
    return t;
}

void load_free(struct load *l)
{
    for (int i = 0; i < l->nclients; i++) {
        curl_easy_cleanup(l->clients[i].curl);
        free(l->clients[i].acked);
        free(l->clients[i].body);
    }
    free(l->clients);
    free(l->threads);
    l->clients = NULL;
    l->threads = NULL;
}

bool load_progress(struct load *l, long more, double timeout_s)
{
    long want = atomic_load(&l->acked_total) + more;
    double until = now_s() + timeout_s;
    while (now_s() < until) {
        if (atomic_load(&l->acked_total) >= want)
            return true;
        pause_ms(20);
    }
    return atomic_load(&l->acked_total) >= want;
}

bool load_answered(struct load *l, long more, double timeout_s)
{
    long want = atomic_load(&l->answered) + more;
    double until = now_s() + timeout_s;
    while (now_s() < until) {
        if (atomic_load(&l->answered) >= want)
            return true;
        pause_ms(20);
    }
    return atomic_load(&l->answered) >= want;
}

long probe_readyz(const struct scene *s, double *secs)
{
    CURL *c = curl_easy_init();
    char url[128];
    long code = 0;
    double t0 = now_s();
    ck_assert(c);
    snprintf(url, sizeof url, "%s/readyz", s->d.base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (secs)
        *secs = now_s() - t0;
    return code;
}

double assert_recovered(struct scene *s, const char *after, struct tally *t)
{
    char text[256];
    double t0 = now_s(), ready;
    struct load l;
    bool progressed;
    while (probe_readyz(s, NULL) != 200 && now_s() - t0 < 15)
        pause_ms(100);
    ready = now_s() - t0;
    if (ready >= 15) {
        struct resp *r = req(&s->d, "GET", "/readyz", NULL, NULL, NULL, 0);
        struct resp *m = req(&s->d, "GET", "/metrics", NULL, NULL, NULL, 0);
        const char *db = strstr(m->body, "leadloop_db_pool_size");
        ck_assert_msg(false, "/readyz not 200 within 15 s after %s: %ld %s; %s", after, r->status,
                      r->body, db ? db : m->body);
    }
    load_start(&l, s, 4, mixed_step, NULL, 5.0, 20000);
    progressed = load_progress(&l, 40, 20);
    load_stop(&l);
    *t = load_tally(&l);
    load_free(&l);
    ck_assert_msg(progressed, "after %s, 40 creates were not acknowledged within 20 s", after);
    ck_assert_msg(t->ok == t->total, "after %s, every answer must be a 2xx: %s", after,
                  tally_text(t, text, sizeof text));
    return ready;
}

const char *tally_text(const struct tally *t, char *buf, size_t len)
{
    snprintf(buf, len,
             "answers=%ld ok=%ld 503=%ld 409=%ld 4xx=%ld 5xx_other=%ld no_answer=%ld hung=%ld "
             "bad_503=%ld over_bound=%ld max_s=%.2f",
             t->total, t->ok, t->unavailable, t->conflict, t->client_error, t->server_error,
             t->no_answer, t->hung, t->bad_503, t->over_bound, t->max_s);
    return buf;
}

/* ------------------------------------------------------------------ steps */

bool create_step(struct client *c)
{
    static const char *const ct = "Content-Type: application/json";
    char body[128], idem[96];
    const char *h[3] = {ct, idem, NULL};
    double give_up = 0;
    long n = c->next;
    if (n >= c->acked_cap)
        return false;
    snprintf(body, sizeof body, "{\"name\":\"f%d-%ld\",\"channel\":\"email\"}", c->id, n);
    snprintf(idem, sizeof idem, "Idempotency-Key: f%d-%ld", c->id, n);
    for (;;) {
        long st = client_request(c, "POST", "/v1/campaigns", h, body, strlen(body));
        if (st >= 200 && st < 300) {
            c->acked[n] = 1;
            atomic_fetch_add(&c->load->acked_total, 1);
            break;
        }
        if (st != 0 && st != 503 && st != 409)
            break; /* an answer that a retry would not change: counted in the tally */
        /* Retried with the same key until acknowledged; once the load is stopping, for
         * 30 s more at most (the fault is over by then). */
        if (atomic_load(&c->load->stop)) {
            if (give_up == 0)
                give_up = now_s() + 30;
            else if (now_s() > give_up)
                break;
        }
        pause_ms(50);
    }
    c->next = n + 1;
    return true;
}

bool create_once_step(struct client *c)
{
    static const char *const ct = "Content-Type: application/json";
    char body[128], idem[96];
    const char *h[3] = {ct, idem, NULL};
    long n = c->next, st;
    if (n >= c->acked_cap)
        return false;
    snprintf(body, sizeof body, "{\"name\":\"f%d-%ld\",\"channel\":\"email\"}", c->id, n);
    snprintf(idem, sizeof idem, "Idempotency-Key: f%d-%ld", c->id, n);
    st = client_request(c, "POST", "/v1/campaigns", h, body, strlen(body));
    if (st >= 200 && st < 300) {
        c->acked[n] = 1;
        atomic_fetch_add(&c->load->acked_total, 1);
    }
    c->next = n + 1;
    return st != 0; /* no answer: the daemon is gone */
}

bool read_step(struct client *c)
{
    client_request(c, "GET", "/v1/campaigns?limit=5", NULL, NULL, 0);
    return true;
}

bool mixed_step(struct client *c)
{
    return (c->tally.total % 2) ? read_step(c) : create_step(c);
}

struct creates creates_check(const struct load *l)
{
    struct creates r = {0};
    PGconn *pg = scene_pg(l->scene);
    PGresult *res = PQexec(pg, "SELECT name, count(*) FROM campaigns GROUP BY name");
    long *rows = NULL;
    long total = 0;
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    for (int i = 0; i < l->nclients; i++)
        total += l->clients[i].acked_cap;
    rows = calloc((size_t)total, sizeof *rows);
    ck_assert(rows);
    for (int i = 0; i < PQntuples(res); i++) {
        int id;
        long n, count = atol(PQgetvalue(res, i, 1));
        ck_assert_msg(sscanf(PQgetvalue(res, i, 0), "f%d-%ld", &id, &n) == 2 && id >= 0 &&
                          id < l->nclients && n >= 0 && n < l->clients[id].acked_cap,
                      "a campaign the load did not create: %s", PQgetvalue(res, i, 0));
        rows[(long)id * l->clients[0].acked_cap + n] = count;
        r.rows += count;
    }
    for (int id = 0; id < l->nclients; id++) {
        const struct client *c = &l->clients[id];
        for (long n = 0; n < c->acked_cap; n++) {
            long got = rows[(long)id * l->clients[0].acked_cap + n];
            r.acked += c->acked[n];
            if (c->acked[n] && got == 0)
                r.lost++;
            if (got > 1)
                r.dup += got - 1;
            if (!c->acked[n] && got > 0)
                r.extra++;
        }
    }
    free(rows);
    PQclear(res);
    PQfinish(pg);
    return r;
}
