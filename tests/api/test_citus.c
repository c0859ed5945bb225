/* The schema as `leadloopd migrate` leaves it, on plain PostgreSQL and on a Citus cluster
 * (`make test-citus`: tests/harness.sh with LL_TEST_CITUS=1, docs/SCALING.md). On plain
 * PostgreSQL nothing is distributed and the bulk triggers are statement triggers. On Citus
 * every workspace-scoped table is distributed by workspace and colocated with workspaces,
 * none keeps a statement trigger, workspaces land on both workers with every row of each on
 * its one node, and the report statements and a point read are planned as one task on that
 * node. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "suites.h"
#include "support.h"

static bool on_citus(void)
{
    const char *v = getenv("LL_TEST_CITUS");
    return v && *v && strcmp(v, "0") != 0;
}

START_TEST(schema_distributed_as_the_database_is)
{
    PGconn *pg = pg_test();
    /* statement-level triggers on the workspace tables (tgtype bit 0 clear) */
    long stmt_triggers =
        pg_long(pg, "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON"
                    " c.oid = t.tgrelid WHERE NOT t.tgisinternal AND"
                    " t.tgtype & 1 = 0 AND c.relnamespace = 'public'::regnamespace");
    if (!on_citus()) {
        ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'"),
                         0);
        ck_assert_int_eq(pg_long(pg, "SELECT ll_distributed('leads')::int"), 0);
        ck_assert_int_eq(pg_long(pg, "SELECT ll_citus_distribute()"), 0);
        ck_assert_int_gt(stmt_triggers, 20); /* the set-based ones of inserts and reports */
        PQfinish(pg);
        return;
    }
    ck_assert_int_eq(stmt_triggers, 0);
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM pg_dist_node WHERE groupid > 0"
                                 " AND isactive AND noderole = 'primary'"),
                     2);
    /* every table with a workspace_id, and workspaces, in one colocation group */
    ck_assert_int_eq(
        pg_long(pg, "SELECT count(*) FROM pg_class c WHERE c.relnamespace ="
                    " 'public'::regnamespace AND c.relkind = 'r' AND (c.relname = 'workspaces'"
                    " OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND"
                    " a.attname = 'workspace_id' AND NOT a.attisdropped)) AND NOT EXISTS"
                    " (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid AND"
                    " p.partmethod = 'h' AND p.colocationid = (SELECT colocationid FROM"
                    " pg_dist_partition WHERE logicalrelid = 'workspaces'::regclass))"),
        0);
    ck_assert_int_gt(pg_long(pg, "SELECT count(*) FROM pg_dist_partition"), 40);
    char *col = pg_value(pg, "SELECT column_to_column_name(logicalrelid, partkey) FROM"
                             " pg_dist_partition WHERE logicalrelid = 'workspaces'::regclass");
    ck_assert_str_eq(col, "id");
    free(col);
    /* the schema's own tables stay on the coordinator */
    ck_assert_int_eq(pg_long(pg, "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid"
                                 " IN ('schema_migrations'::regclass,"
                                 " 'schema_repeatables'::regclass)"),
                     0);
    /* the foreign keys came back (every one includes workspace_id) */
    ck_assert_int_gt(pg_long(pg, "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
                                 " AND conrelid = 'lead_stage_changes'::regclass"),
                     0);
    PQfinish(pg);
}
END_TEST

/* The node port that holds workspace ws's rows ("" on plain PostgreSQL: one node). */
static char *node_of(PGconn *pg, const char *ws)
{
    if (!on_citus())
        return strdup("");
    return pg_value_p(pg,
                      "SELECT nodeport::text FROM citus_shards WHERE table_name ="
                      " 'leads'::regclass AND shardid ="
                      " get_shard_id_for_distribution_column('leads', $1::uuid)",
                      ws);
}

START_TEST(workspaces_on_both_workers_each_whole_on_one)
{
    PGconn *pg = pg_test();
    char key[64], first_node[16] = "", slug[32];
    bool spread = false;
    /* workspaces until two are on different workers (each lands on one of the two with
     * one chance in two: 16 tries leave one chance in 32,768 of failing) */
    for (int i = 0; i < 16 && !spread; i++) {
        char path[128], body[128], *ws, *node, *n;
        snprintf(slug, sizeof slug, "citus-spread-%d", i);
        ck_assert_msg(workspace_key(slug, "admin", key), "workspace %s", slug);
        ws = pg_value_p(pg, "SELECT id::text FROM workspaces WHERE slug = $1", slug);
        /* a lead through the API, with its first stage row, touch-less */
        snprintf(body, sizeof body, "{\"email\":\"spread%d@citus.example\",\"source\":\"web\"}", i);
        struct resp *r = post("/v1/leads", key, body);
        ck_assert_msg(r->status == 201, "create: %ld %s", r->status, r->body);
        snprintf(path, sizeof path, "/v1/leads/%s", jstr(r, "id"));
        resp_free(r);
        r = get(path, key);
        ck_assert_int_eq(r->status, 200);
        resp_free(r);
        node = node_of(pg, ws);
        /* every row of the workspace on that one node: the lead, its stage row, its report
         * facts, its audit rows and changes are all in shards placed there */
        if (on_citus()) {
            n = pg_value_p(pg,
                           "SELECT count(DISTINCT s.nodeport)::text FROM pg_dist_partition p JOIN"
                           " citus_shards s ON s.table_name = p.logicalrelid AND s.shardid ="
                           " get_shard_id_for_distribution_column(p.logicalrelid, $1::uuid)"
                           " WHERE p.partmethod = 'h'",
                           ws);
            ck_assert_str_eq(n, "1");
            free(n);
            n = pg_value_p(pg,
                           "SELECT (SELECT count(*) FROM leads WHERE workspace_id = $1::uuid)"
                           " + (SELECT count(*) FROM report_leads WHERE workspace_id = $1::uuid)"
                           " + (SELECT count(*) FROM changes WHERE workspace_id = $1::uuid"
                           " AND type = 'lead.created')",
                           ws);
            ck_assert_str_eq(n, "3");
            free(n);
        }
        if (!first_node[0])
            snprintf(first_node, sizeof first_node, "%s", node);
        else
            spread = strcmp(first_node, node) != 0;
        if (!on_citus())
            spread = i >= 1; /* one node: two workspaces are enough */
        free(node);
        free(ws);
    }
    ck_assert_msg(spread, "16 workspaces all landed on one node");
    PQfinish(pg);
}
END_TEST

/* The plan of sql as text (new string). */
static char *explain(PGconn *pg, const char *sql)
{
    char *q = malloc(strlen(sql) + 16), *out;
    size_t len = 0;
    sprintf(q, "EXPLAIN %s", sql);
    PGresult *res = PQexec(pg, q);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "EXPLAIN: %s", PQresultErrorMessage(res));
    for (int i = 0; i < PQntuples(res); i++)
        len += strlen(PQgetvalue(res, i, 0)) + 1;
    out = calloc(len + 1, 1);
    for (int i = 0; i < PQntuples(res); i++) {
        strcat(out, PQgetvalue(res, i, 0));
        strcat(out, "\n");
    }
    PQclear(res);
    free(q);
    return out;
}

/* A sql/queries/ file's statement (its comment lines left out); new string. */
static char *query_file(const char *name)
{
    char path[512], line[4096];
    snprintf(path, sizeof path, "%s/queries/%s.sql", env_or_die("LL_MIGRATIONS"), name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s", path);
    size_t cap = 1 << 16, len = 0;
    char *s = calloc(cap, 1);
    while (fgets(line, sizeof line, f)) {
        const char *p = line + strspn(line, " ");
        if (!strncmp(p, "--", 2))
            continue;
        size_t n = strlen(line);
        ck_assert(len + n + 1 < cap);
        memcpy(s + len, line, n);
        len += n;
    }
    fclose(f);
    return s;
}

START_TEST(reads_of_one_workspace_are_one_task_on_its_node)
{
    PGconn *pg = pg_test();
    char *ws = pg_value(pg, "SELECT id::text FROM workspaces WHERE slug = 'test-a'");
    /* each report's statement with its arguments after the workspace (sql/queries/) */
    static const struct {
        const char *name, *args;
    } reports[] = {{"report_campaigns", "NULL, NULL, 3"},
                   {"report_sources", "NULL, NULL"},
                   {"report_funnel", "NULL, NULL, NULL, NULL, NULL, 1"},
                   {"report_follow_up", "NULL, NULL, 24"},
                   {"report_sla", "NULL, 'month'"},
                   {NULL, NULL}};
    char sql[512], *plan;
    snprintf(sql, sizeof sql,
             "SELECT id, email FROM leads WHERE workspace_id = '%s' AND id ="
             " '00000000-0000-0000-0000-000000000000'",
             ws);
    plan = explain(pg, sql);
    if (on_citus())
        ck_assert_msg(strstr(plan, "Task Count: 1") && !strstr(plan, "Task Count: 2"),
                      "point read:\n%s", plan);
    else
        ck_assert_msg(strstr(plan, "Index") != NULL, "point read:\n%s", plan);
    free(plan);
    for (int i = 0; reports[i].name; i++) {
        char *text = query_file(reports[i].name);
        PGresult *prep = PQprepare(pg, reports[i].name, text, 0, NULL);
        ck_assert_msg(PQresultStatus(prep) == PGRES_COMMAND_OK, "%s: %s", reports[i].name,
                      PQresultErrorMessage(prep));
        PQclear(prep);
        snprintf(sql, sizeof sql, "EXECUTE %s('%s', %s)", reports[i].name, ws, reports[i].args);
        plan = explain(pg, sql);
        /* one task, on the workspace's node, where the statement reads a distributed table
         * (the others read through the report functions, each of whose statements is one
         * task in turn); none over several shards, none pulled through the coordinator */
        if (on_citus())
            ck_assert_msg((!strstr(plan, "Custom Scan (Citus") || strstr(plan, "Task Count: 1")) &&
                              !strstr(plan, "Task Count: 2") && !strstr(plan, "Task Count: 4") &&
                              !strstr(plan, "pull to coordinator") && !strstr(plan, "repartition"),
                          "%s:\n%s", reports[i].name, plan);
        else
            ck_assert_msg(strstr(plan, "Task Count") == NULL, "%s:\n%s", reports[i].name, plan);
        free(plan);
        free(text);
    }
    free(ws);
    PQfinish(pg);
}
END_TEST

Suite *citus_suite(void)
{
    Suite *s = suite_create("citus");
    TCase *t = tcase_create("distribution");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, schema_distributed_as_the_database_is);
    tcase_add_test(t, workspaces_on_both_workers_each_whole_on_one);
    tcase_add_test(t, reads_of_one_workspace_are_one_task_on_its_node);
    suite_add_tcase(s, t);
    return s;
}
