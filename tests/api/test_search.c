/* Search and the lists' own timeout: q= finds what it found before the search indexes
 * (schema 0007), compared with an oracle written in SQL without LIKE; a search is served
 * by those indexes; and LEADLOOP_LIST_TIMEOUT_MS stops a slow list with 503 while the
 * connection's next statement has the general timeout again. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "suites.h"
#include "support.h"

static void create_on(struct daemon *d, const char *path, const char *key, const char *body,
                      char id[40])
{
    const char *const ct[] = {"Content-Type: application/json", NULL};
    struct resp *r = req(d, "POST", path, key, ct, body, strlen(body));
    ck_assert_msg(r->status == 201, "POST %s %s: expected 201, got %ld: %s", path, body, r->status,
                  r->body);
    if (id)
        snprintf(id, 40, "%s", jstr(r, "id"));
    resp_free(r);
}

/* The ids of the first max_pages pages of path (which has a query already), in order,
 * comma-separated. */
static void collect_ids(struct daemon *d, const char *key, const char *path, int max_pages,
                        char *out, size_t cap)
{
    char url[1024];
    size_t used = 0;
    out[0] = '\0';
    snprintf(url, sizeof url, "%s", path);
    for (int page = 0; page < max_pages; page++) {
        struct resp *r = req(d, "GET", url, key, NULL, NULL, 0);
        ck_assert_msg(r->status == 200, "GET %s: expected 200, got %ld: %s", url, r->status,
                      r->body);
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(r->json, "data"), i, item)
        {
            const char *id = json_string_value(json_object_get(item, "id"));
            used +=
                (size_t)snprintf(out + used, cap - used, "%s%s", used ? "," : "", id ? id : "null");
            ck_assert_msg(used < cap, "collect_ids: result too long");
        }
        json_t *next = json_object_get(r->json, "next_cursor");
        if (!json_is_string(next)) {
            resp_free(r);
            return;
        }
        snprintf(url, sizeof url, "%s&cursor=%s", path, json_string_value(next));
        resp_free(r);
    }
}

/* What q must find, by an oracle that knows nothing of LIKE or its escapes: the same
 * folding (ll_fold), then starts_with (leads) or strpos (campaigns). $1 the workspace's
 * slug, $2 q; the ids are aggregated in the list's order. */
static const char lead_oracle[] =
    "FROM leads WHERE workspace_id = (SELECT id FROM workspaces WHERE slug = $1)"
    " AND erased_at IS NULL AND (starts_with(ll_fold(email), ll_fold($2))"
    " OR starts_with(ll_fold(first_name), ll_fold($2))"
    " OR starts_with(ll_fold(last_name), ll_fold($2))"
    " OR starts_with(ll_fold(company), ll_fold($2)))";
static const char campaign_oracle[] =
    "FROM campaigns WHERE workspace_id = (SELECT id FROM workspaces WHERE slug = $1)"
    " AND strpos(ll_fold(name), ll_fold($2)) > 0";

/* A list order: the query's sort parameter and the same order in SQL. */
struct order {
    const char *param, *sql;
};
static const struct order newest_first = {"", "created_at DESC, id DESC"};

struct search {
    const char *slug, *key, *resource, *oracle;
};

static int count_ids(const char *ids)
{
    int n = *ids ? 1 : 0;
    for (; *ids; ids++)
        n += *ids == ',';
    return n;
}

/* Pages through the search for q (limit a page, in order o, up to max_pages) and compares
 * the ids with the oracle's; want: the number of matches expected by hand (-1: none). */
static void check_q(PGconn *pg, const struct search *s, const char *q, int limit,
                    const struct order *o, int max_pages, int want)
{
    static char got[16384];
    char enc[400], path[512], sql[2048];
    url_encode(q, enc, sizeof enc);
    snprintf(path, sizeof path, "/v1/%s?limit=%d&q=%s%s", s->resource, limit, enc, o->param);
    collect_ids(&main_daemon, s->key, path, max_pages, got, sizeof got);

    snprintf(sql, sizeof sql, "SELECT coalesce(string_agg(id::text, ',' ORDER BY %s), '') %s",
             o->sql, s->oracle);
    const char *vals[2] = {s->slug, q};
    PGresult *res = PQexecParams(pg, sql, 2, NULL, vals, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "oracle: %s", PQerrorMessage(pg));
    const char *expect = PQgetvalue(res, 0, 0);
    size_t shown = strlen(got);
    ck_assert_msg(!strncmp(got, expect, shown) && (expect[shown] == '\0' || expect[shown] == ','),
                  "%s: expected [%s], got [%s]", path, expect, got);
    ck_assert_msg(expect[shown] == '\0' || count_ids(got) == max_pages * limit,
                  "%s: %d pages shown, expected [%s]", path, max_pages, expect);
    if (want >= 0)
        ck_assert_msg(count_ids(got) == want, "%s: expected %d matches, got %d: [%s]", path, want,
                      count_ids(got), got);
    PQclear(res);
}

/* ------------------------------------------------------------------ what q finds */

START_TEST(lead_search_finds_prefixes_as_before)
{
    char key[64], other[64], erased[40], path[96];
    ck_assert(workspace_key("search-leads", "admin", key));
    ck_assert(workspace_key("search-leads-other", "admin", other));
    static const char *const leads[] = {
        "{\"email\":\"zoe.dubois@acme.example\",\"first_name\":\"Zoë\",\"last_name\":\"Dubois\","
        "\"company\":\"Acme Co\"}",
        "{\"email\":\"ZOË.Ünïcode@example.com\",\"first_name\":\"ÄNGSTRÖM\",\"last_name\":"
        "\"Øster\",\"company\":\"Ünicode GmbH\"}",
        "{\"email\":\"x_y%z@meta.example\",\"company\":\"50% off_sale\\\\co\"}",
        "{\"email\":\"xay-z@meta.example\",\"company\":\"50x offxsalexco\"}",
        "{\"email\":\"ab@meta.example\",\"first_name\":\"a_b\",\"last_name\":\"back\\\\slash\"}",
        "{\"email\":\"axb@meta.example\",\"first_name\":\"axb\",\"last_name\":\"backxslash\"}",
        "{\"email\":\"party@emoji.example\",\"company\":\"🎉 Party Ltd\"}",
        "{\"email\":\"Σίσυφος@greek.example\",\"first_name\":\"Σίσυφος\"}",
        "{\"email\":\"plain@nothing.example\"}",
    };
    for (size_t i = 0; i < sizeof leads / sizeof leads[0]; i++)
        create_on(&main_daemon, "/v1/leads", key, leads[i], NULL);
    /* the same names in another workspace, and an erased lead: never found */
    create_on(&main_daemon, "/v1/leads", other, leads[0], NULL);
    create_on(&main_daemon, "/v1/leads", key,
              "{\"email\":\"zoe.erased@acme.example\",\"first_name\":\"Zoë\"}", erased);
    snprintf(path, sizeof path, "/v1/leads/%s", erased);
    struct resp *r = req(&main_daemon, "DELETE", path, key, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 204);
    resp_free(r);

    static const struct {
        const char *q;
        int want;
    } cases[] = {
        {"zoë", 2}, /* a first name, and an email folded */
        {"ZOË", 2},
        {"zoe.d", 1},
        {"z", 2},
        {"zo", 2},
        {"acme", 1},
        {"ACME C", 1},
        {"co", 0}, /* a prefix, not a substring */
        {"dubois", 1},
        {"ängs", 1},
        {"ÄNGSTRÖM", 1},
        {"ström", 0},
        {"øst", 1},
        {"ünicode", 1},
        {"zoë.ünïcode@", 1},
        {"50%", 1},
        {"50% off_", 1},
        {"50x", 1},
        {"50", 2},
        {"a_b", 1},
        {"a_", 1},
        {"ax", 1},
        {"back\\", 1},
        {"backx", 1},
        {"x_y%", 1},
        {"x_", 1},
        {"%", 0},
        {"_", 0},
        {"\\", 0},
        {"🎉", 1},
        {"🎉 p", 1},
        {"σίσυφος", 1},
        {"ΣΊΣΥΦΟΣ", 1},
        {"@", 0},
        {"pla", 1},
        {"nothing", 0},
    };
    const struct search s = {"search-leads", key, "leads", lead_oracle};
    PGconn *pg = pg_test();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_q(pg, &s, cases[i].q, 2, &newest_first, 50, cases[i].want);
    PQfinish(pg);
}
END_TEST

START_TEST(campaign_search_finds_substrings_as_before)
{
    char key[64];
    ck_assert(workspace_key("search-campaigns", "admin", key));
    static const char *const names[] = {
        "Élan Été 2026",
        "ÉLAN reprise",
        "Summer 100% sale_now",
        "Summer 100x salexnow",
        "Path C:\\\\temp",
        "Zoë's webinar",
        "🎉 Launch",
        "ab",
        "a",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"channel\":\"other\"}", names[i]);
        create_on(&main_daemon, "/v1/campaigns", key, body, NULL);
    }
    static const struct {
        const char *q;
        int want;
    } cases[] = {
        {"élan", 2},  {"ÉLAN", 2},    {"lan", 2},   {"été", 1},  {"100%", 1}, {"0% s", 1},
        {"sale_", 1}, {"e_n", 1},     {"100", 2},   {":\\t", 1}, {"\\", 1},   {"%", 1},
        {"_", 1},     {"🎉", 1},       {"zoë's", 1}, {"ZO", 1},   {"a", 9},    {"ab", 1},
        {"n w", 0},   {"nothing", 0}, {"s w", 1},
    };
    const struct search s = {"search-campaigns", key, "campaigns", campaign_oracle};
    PGconn *pg = pg_test();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_q(pg, &s, cases[i].q, 2, &newest_first, 50, cases[i].want);
    PQfinish(pg);
}
END_TEST

/* A search first looks for its page among the list's next 100 pages' worth of rows (200
 * rows for a page of one): pages whose matches lie inside that window, beyond it and
 * across it come out as the oracle orders them, in every sort. */
START_TEST(search_pages_agree_with_the_oracle_across_the_window)
{
    char key[64];
    ck_assert(workspace_key("search-window", "readonly", key));
    PGconn *pg = pg_test();
    /* 450 leads a minute apart (g = 1 the newest), scores with many ties, updated in
     * another order; "Rare" every 97th, "Oldie" only among the oldest fifty */
    pg_ok(pg, "INSERT INTO leads (workspace_id, email, first_name, company, score, created_at,"
              " updated_at, stage_changed_at)"
              " SELECT w.id, 'w' || g || '@window.example',"
              " CASE WHEN g % 97 = 0 THEN 'Rare' WHEN g > 400 AND g % 10 = 1 THEN 'Oldie'"
              " ELSE 'Common' END, 'Co ' || g, nullif(g % 7, 6),"
              " now() - g * interval '1 minute', now() - ((g * 37) % 450) * interval '1 minute',"
              " now() FROM workspaces w, generate_series(1, 450) g WHERE w.slug = 'search-window'");
    pg_ok(pg, "INSERT INTO campaigns (workspace_id, name, channel, starts_on, created_at)"
              " SELECT w.id, CASE WHEN g % 97 = 0 THEN 'Rare ' ELSE 'Common ' END || g, 'other',"
              " CASE WHEN g % 3 > 0 THEN date '2026-01-01' + g % 40 END,"
              " now() - g * interval '1 minute'"
              " FROM workspaces w, generate_series(1, 450) g WHERE w.slug = 'search-window'");
    static const struct order lead_orders[] = {
        {"", "created_at DESC, id DESC"},
        {"&sort=created_at", "created_at, id"},
        {"&sort=-updated_at", "updated_at DESC, id DESC"},
        {"&sort=score", "coalesce(score, -1), id"},
        {"&sort=-score", "coalesce(score, -1) DESC, id DESC"},
    };
    static const struct order campaign_orders[] = {
        {"", "created_at DESC, id DESC"},
        {"&sort=name", "name, id"},
        {"&sort=-starts_on", "coalesce(starts_on, 'infinity'::date) DESC, id DESC"},
    };
    static const struct {
        const char *q;
        int limit, max_pages;
    } lead_terms[] = {
        {"rare", 1, 50},  /* 4 matches, 2 of them past the first window */
        {"oldie", 1, 50}, /* 5 matches, all past it */
        {"w4", 2, 50},    /* 61 matches: w4, w40..w49, w400..w449 */
        {"co 1", 1, 4},   /* 111 matches, all in the first window */
        {"common", 1, 4}, /* nearly all */
        {"nobody", 1, 50},
    };
    static const struct {
        const char *q;
        int limit, max_pages;
    } campaign_terms[] = {
        {"rare", 1, 50},
        {"on 4", 2, 50},
        {"common", 1, 4},
    };
    const struct search leads = {"search-window", key, "leads", lead_oracle};
    const struct search campaigns = {"search-window", key, "campaigns", campaign_oracle};
    for (size_t o = 0; o < sizeof lead_orders / sizeof lead_orders[0]; o++)
        for (size_t t = 0; t < sizeof lead_terms / sizeof lead_terms[0]; t++)
            check_q(pg, &leads, lead_terms[t].q, lead_terms[t].limit, &lead_orders[o],
                    lead_terms[t].max_pages, -1);
    for (size_t o = 0; o < sizeof campaign_orders / sizeof campaign_orders[0]; o++)
        for (size_t t = 0; t < sizeof campaign_terms / sizeof campaign_terms[0]; t++)
            check_q(pg, &campaigns, campaign_terms[t].q, campaign_terms[t].limit,
                    &campaign_orders[o], campaign_terms[t].max_pages, -1);
    PQfinish(pg);
}
END_TEST

/* ------------------------------------------------------------------ the list timeout */

#define LIST_TIMEOUT_MS 200

struct held_get {
    struct daemon *d;
    char path[96];
    struct resp *r;
};

static void *get_in_thread(void *arg)
{
    struct held_get *h = arg;
    h->r = req(h->d, "GET", h->path, admin_key, NULL, NULL, 0);
    return NULL;
}

/* True once the daemon's statement has waited for a lock ten times the list timeout: a
 * statement bounded by that timeout would have been cancelled long before. */
static bool waited_past_the_list_timeout(void *arg)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'leadloopd'"
             " AND wait_event_type = 'Lock' AND clock_timestamp() - query_start > interval '%d ms'",
             10 * LIST_TIMEOUT_MS);
    char *n = pg_value(arg, sql);
    bool yes = atoi(n) > 0;
    free(n);
    return yes;
}

static void expect_list_timeout(struct daemon *d, const char *path)
{
    struct resp *r = req(d, "GET", path, admin_key, NULL, NULL, 0);
    assert_problem(r, 503, "unavailable");
    char *ra = resp_header(r, "Retry-After");
    ck_assert_msg(ra && !strcmp(ra, "1"), "%s: Retry-After: %s", path, ra ? ra : "(none)");
    ck_assert_msg(strstr(r->body, "too long") != NULL, "%s: detail: %s", path, r->body);
    free(ra);
    resp_free(r);
}

/* A list waits for a lock the test holds: it is stopped after LEADLOOP_LIST_TIMEOUT_MS
 * (whether it was already prepared, is prepared now, or is a search planned each time),
 * and the next statement on the same pooled connection waits under the general timeout. */
START_TEST(list_timeout_stops_a_slow_list_alone)
{
    struct daemon d;
    char env_list[64], id[40], path[96];
    pthread_t t;
    snprintf(env_list, sizeof env_list, "LEADLOOP_LIST_TIMEOUT_MS=%d", LIST_TIMEOUT_MS);
    const char *env[] = {"LEADLOOP_DB_POOL=1", "LEADLOOP_STATEMENT_TIMEOUT_MS=60000", env_list,
                         NULL};
    create_on(&main_daemon, "/v1/campaigns", admin_key,
              "{\"name\":\"Held back\",\"channel\":\"other\"}", id);
    ck_assert(daemon_start(&d, env));
    struct resp *r = req(&d, "GET", "/v1/campaigns?limit=1", admin_key, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 200); /* prepared on the one connection */
    resp_free(r);

    PGconn *locker = pg_test(), *watch = pg_test();
    pg_ok(locker, "BEGIN");
    pg_ok(locker, "LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE");
    expect_list_timeout(&d, "/v1/campaigns?limit=1");       /* prepared before */
    expect_list_timeout(&d, "/v1/campaigns?sort=name");     /* prepared now */
    expect_list_timeout(&d, "/v1/campaigns?q=held%20back"); /* a search */

    /* the same connection, a statement that is not a list: the general timeout */
    struct held_get h = {&d, "", NULL};
    snprintf(h.path, sizeof h.path, "/v1/campaigns/%s", id);
    ck_assert_int_eq(pthread_create(&t, NULL, get_in_thread, &h), 0);
    ck_assert_msg(wait_until(waited_past_the_list_timeout, watch, 20000),
                  "GET %s never waited longer than the list timeout", h.path);
    pg_ok(locker, "COMMIT");
    pthread_join(t, NULL);
    ck_assert_msg(h.r->status == 200, "GET %s: expected 200, got %ld: %s", h.path, h.r->status,
                  h.r->body);
    resp_free(h.r);

    /* and lists answer again */
    snprintf(path, sizeof path, "/v1/campaigns?q=held%%20back");
    r = req(&d, "GET", path, admin_key, NULL, NULL, 0);
    ck_assert_msg(r->status == 200 && strstr(r->body, id), "%s: %ld %s", path, r->status, r->body);
    resp_free(r);
    PQfinish(watch);
    PQfinish(locker);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* ------------------------------------------------------------------ the indexes */

#define SEARCH_INDEXES 5

/* The scans of each search index so far, in the order of their names. */
static void search_index_scans(PGconn *pg, long scans[SEARCH_INDEXES])
{
    PGresult *res = PQexec(pg, "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname IN"
                               " ('campaigns_search_name', 'leads_search_company',"
                               " 'leads_search_email', 'leads_search_first_name',"
                               " 'leads_search_last_name') ORDER BY indexrelname");
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == SEARCH_INDEXES,
                  "search indexes: %d found: %s", PQntuples(res), PQerrorMessage(pg));
    for (int i = 0; i < SEARCH_INDEXES; i++)
        scans[i] = atol(PQgetvalue(res, i, 0));
    PQclear(res);
}

struct scans_since {
    PGconn *pg;
    long before[SEARCH_INDEXES], now[SEARCH_INDEXES];
};

static bool every_search_index_scanned(void *arg)
{
    struct scans_since *s = arg;
    search_index_scans(s->pg, s->now);
    for (int i = 0; i < SEARCH_INDEXES; i++)
        if (s->now[i] <= s->before[i])
            return false;
    return true;
}

/* In a database of its own (no other test's scans in its statistics), with enough rows
 * that a scan would cost more than the indexes: one search of each kind, and each index
 * it should use counts a scan. */
START_TEST(searches_use_the_search_indexes)
{
    char url[512], envdb[600], out[256], err[2048], key[64];
    fresh_database("ll_search", url, sizeof url);
    snprintf(envdb, sizeof envdb, "DATABASE_URL=%s", url);
    const char *env[] = {envdb, NULL};
    const char *migrate[] = {"migrate", NULL};
    const char *ws[] = {"workspace", "create", "big", NULL};
    const char *mk[] = {"keys",     "create", "--workspace", "big", "--role",
                        "readonly", "--name", "t",           NULL};
    ck_assert_msg(run_leadloopd(migrate, env, out, sizeof out, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(run_leadloopd(ws, env, out, sizeof out, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(run_leadloopd(mk, env, out, sizeof out, err, sizeof err) == 0, "%s", err);
    out[strcspn(out, "\n")] = '\0';
    ck_assert_msg(strlen(out) == 47, "keys create printed: %s", out);
    memcpy(key, out, 48);

    PGconn *pg = pg_db("ll_search");
    pg_ok(pg, "INSERT INTO leads (workspace_id, email, first_name, last_name, company)"
              " SELECT w.id, 'lead' || g || '@big.example', 'First' || g % 100,"
              " 'Last' || g % 1000, 'Company ' || g % 500"
              " FROM workspaces w, generate_series(1, 20000) g WHERE w.slug = 'big'");
    pg_ok(pg, "INSERT INTO campaigns (workspace_id, name, channel)"
              " SELECT w.id, 'Campaign number ' || g, 'other'"
              " FROM workspaces w, generate_series(1, 20000) g WHERE w.slug = 'big'");
    pg_ok(pg, "ANALYZE leads, campaigns");
    /* the statistics this connection's statements (the report triggers read leads) have
     * not reported yet go now, before the baseline */
    struct scans_since since = {.pg = pg};
    pg_ok(pg, "SELECT pg_stat_force_next_flush()");
    search_index_scans(pg, since.before);

    struct daemon d;
    ck_assert(daemon_start(&d, env));
    static const struct {
        const char *path;
        int want;
    } searches[] = {
        {"/v1/leads?q=lead12345%40", 1},
        {"/v1/campaigns?q=number%2012345", 1},
    };
    for (size_t i = 0; i < sizeof searches / sizeof searches[0]; i++) {
        struct resp *r = req(&d, "GET", searches[i].path, key, NULL, NULL, 0);
        ck_assert_msg(r->status == 200, "%s: %ld %s", searches[i].path, r->status, r->body);
        ck_assert_int_eq(json_array_size(json_object_get(r->json, "data")), searches[i].want);
        resp_free(r);
    }
    /* the daemon's backend reports its counts within a second or so of going idle */
    ck_assert_msg(wait_until(every_search_index_scanned, &since, 15000),
                  "scans of campaigns_search_name, leads_search_company, _email, _first_name, "
                  "_last_name: %ld %ld %ld %ld %ld before the searches, %ld %ld %ld %ld %ld after",
                  since.before[0], since.before[1], since.before[2], since.before[3],
                  since.before[4], since.now[0], since.now[1], since.now[2], since.now[3],
                  since.now[4]);
    PQfinish(pg);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* ------------------------------------------------------------------ pg_trgm and the role */

/* Runs `leadloopd migrate` on database db as role; true when it succeeded. */
static bool migrate_as(const char *role, const char *db, char *err, size_t errlen)
{
    char envdb[300], out[4096];
    snprintf(envdb, sizeof envdb, "DATABASE_URL=postgresql://%s@127.0.0.1:%s/%s", role,
             env_or_die("LL_TEST_PGPORT"), db);
    const char *env[] = {envdb, NULL};
    const char *migrate[] = {"migrate", NULL};
    return run_leadloopd(migrate, env, out, sizeof out, err, errlen) == 0;
}

/* The migration creates pg_trgm and btree_gin as the database's owner (trusted
 * extensions); a role that may not create them gets a message saying what to do, and once
 * a superuser has created them, in a schema of their own even, the same role migrates. */
START_TEST(migrate_creates_the_search_extensions_or_says_who_may)
{
    char url[512], err[4096];
    PGconn *admin = pg_db("postgres");
    pg_ok(admin, "DROP DATABASE IF EXISTS ll_trgm_owned");
    fresh_database("ll_trgm", url, sizeof url);
    pg_ok(admin, "DROP ROLE IF EXISTS ll_migrator");
    pg_ok(admin, "CREATE ROLE ll_migrator LOGIN");

    /* the database's owner, no superuser: the migration creates the extension */
    pg_ok(admin, "CREATE DATABASE ll_trgm_owned OWNER ll_migrator");
    ck_assert_msg(migrate_as("ll_migrator", "ll_trgm_owned", err, sizeof err),
                  "the owner's migration failed: %s", err);
    PGconn *pg = pg_db("ll_trgm_owned");
    char *v =
        pg_value(pg, "SELECT count(*) FROM pg_indexes WHERE indexname = 'campaigns_search_name'");
    ck_assert_str_eq(v, "1");
    free(v);
    PQfinish(pg);

    /* a role that may create tables but not extensions */
    pg = pg_db("ll_trgm");
    pg_ok(pg, "GRANT CREATE ON SCHEMA public TO ll_migrator");
    ck_assert_msg(!migrate_as("ll_migrator", "ll_trgm", err, sizeof err),
                  "migrated without pg_trgm");
    ck_assert_msg(strstr(err, "0007_search") && strstr(err, "pg_trgm") &&
                      strstr(err, "CREATE EXTENSION pg_trgm"),
                  "the message should name the migration, pg_trgm and the fix: %s", err);
    v = pg_value(pg, "SELECT count(*) FROM schema_migrations WHERE name < '0007'");
    ck_assert_msg(atoi(v) == 6, "the migrations before 0007 apply: %s", v);
    free(v);

    /* a superuser creates them, outside the search_path; one is not enough */
    pg_ok(pg, "CREATE SCHEMA ext");
    pg_ok(pg, "CREATE EXTENSION pg_trgm SCHEMA ext");
    ck_assert_msg(!migrate_as("ll_migrator", "ll_trgm", err, sizeof err),
                  "migrated without btree_gin");
    ck_assert_msg(strstr(err, "CREATE EXTENSION btree_gin"),
                  "the message should name btree_gin: %s", err);
    pg_ok(pg, "CREATE EXTENSION btree_gin SCHEMA ext");
    pg_ok(pg, "GRANT USAGE ON SCHEMA ext TO ll_migrator");
    ck_assert_msg(migrate_as("ll_migrator", "ll_trgm", err, sizeof err),
                  "migration after CREATE EXTENSION failed: %s", err);
    v = pg_value(pg, "SELECT indexdef FROM pg_indexes WHERE indexname = 'campaigns_search_name'");
    ck_assert_msg(strstr(v, "ext.gin_trgm_ops") != NULL, "index: %s", v);
    free(v);
    PQfinish(pg);
    pg_ok(admin, "DROP DATABASE ll_trgm_owned");
    PQfinish(admin);
}
END_TEST

Suite *search_suite(void)
{
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("search");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, lead_search_finds_prefixes_as_before);
    tcase_add_test(tc, campaign_search_finds_substrings_as_before);
    tcase_add_test(tc, search_pages_agree_with_the_oracle_across_the_window);
    tcase_add_test(tc, list_timeout_stops_a_slow_list_alone);
    tcase_add_test(tc, searches_use_the_search_indexes);
    tcase_add_test(tc, migrate_creates_the_search_extensions_or_says_who_may);
    suite_add_tcase(s, tc);
    return s;
}
