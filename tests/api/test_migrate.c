/* Repeatable migrations (sql/functions/, sql/README.md): a changed file is applied again
 * and only it, a failing one leaves every function as it was, a numbered migration brings
 * every repeatable one round again, a file marked "after functions" runs after them, and
 * an older leadloopd leaves a newer database's functions alone. Each test migrates a
 * database of its own from a copy of the sql directory that it edits. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "support.h"

struct mig {
    char db[64];
    char dir[512];
    char envdb[600], envdir[600];
};

/* A fresh database and a fresh copy of the sql directory, both named after the test. */
static void mig_init(struct mig *m, const char *name)
{
    char url[512], cmd[1400];
    snprintf(m->db, sizeof m->db, "%s", name);
    fresh_database(name, url, sizeof url);
    snprintf(m->dir, sizeof m->dir, "%s/%s", env_or_die("LL_TEST_TMP"), name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", m->dir, env_or_die("LL_MIGRATIONS"),
             m->dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(m->envdb, sizeof m->envdb, "DATABASE_URL=%s", url);
    snprintf(m->envdir, sizeof m->envdir, "LEADLOOP_MIGRATIONS_DIR=%s", m->dir);
}

/* `leadloopd migrate` from the copy (embedded false) or from the binary's own files;
 * its exit status, with what it printed in out and err. */
static int mig_run(struct mig *m, bool embedded, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env[] = {m->envdb, embedded ? NULL : m->envdir, NULL};
    const char *args[] = {"migrate", NULL};
    return run_leadloopd(args, env, out, outlen, err, errlen);
}

/* Runs a shell command on the copy (cd'd into it). */
static void mig_sh(struct mig *m, const char *script)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s", m->dir, script);
    ck_assert_msg(system(cmd) == 0, "failed: %s", script);
}

static char *value(struct mig *m, const char *sql)
{
    PGconn *pg = pg_db(m->db);
    char *v = pg_value(pg, sql);
    PQfinish(pg);
    return v;
}

static const char checksums[] =
    "SELECT string_agg(name || '=' || checksum, ',' ORDER BY name) FROM schema_repeatables";
static const char edit_fields[] = "SELECT array_to_string(ll_lead_edit_fields(), ',')";

START_TEST(changed_repeatable_is_applied_again_alone)
{
    struct mig m;
    char out[8192], err[4096];
    mig_init(&m, "ll_rep_changed");
    ck_assert_msg(mig_run(&m, false, out, sizeof out, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(strstr(out, "applied 0001_init\n") &&
                      strstr(out, "applied functions/10_basics\n"),
                  "first migration printed: %s", out);
    char *before = value(&m, checksums);
    char *n = value(&m, "SELECT count(*) FROM schema_repeatables");
    ck_assert_int_ge(atoi(n), 5);
    free(n);

    /* the same files again: nothing to do */
    ck_assert_msg(mig_run(&m, false, out, sizeof out, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(strstr(out, "applied") == NULL, "nothing changed, yet: %s", out);

    /* one function edited where it lives: its body changes, no other file runs */
    mig_sh(&m, "sed -i \"s/'custom', 'external_ids'\\]/'custom', 'external_ids', 'x_test']/\" "
               "functions/10_basics.sql");
    ck_assert_msg(mig_run(&m, false, out, sizeof out, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(out, "applied functions/10_basics\n");
    char *fields = value(&m, edit_fields);
    ck_assert_msg(strstr(fields, ",external_ids,x_test"), "ll_lead_edit_fields() is %s", fields);
    char *after = value(&m, checksums);
    ck_assert_str_ne(before, after);
    /* the other files' checksums are as they were */
    ck_assert_str_eq(strstr(before, ",20_"), strstr(after, ",20_"));
    free(fields);
    free(before);
    free(after);
}
END_TEST

START_TEST(failing_repeatable_leaves_every_function_as_it_was)
{
    struct mig m;
    char out[8192], err[4096];
    mig_init(&m, "ll_rep_failing");
    ck_assert_msg(mig_run(&m, false, out, sizeof out, err, sizeof err) == 0, "%s", err);
    char *sums = value(&m, checksums), *fields = value(&m, edit_fields);

    /* a good change in one file, a failing statement in a later one */
    mig_sh(&m, "sed -i \"s/'custom', 'external_ids'\\]/'custom', 'external_ids', 'y_test']/\" "
               "functions/10_basics.sql && echo 'SELECT 1 / 0;' >> functions/80_timeline.sql");
    ck_assert_int_ne(mig_run(&m, false, out, sizeof out, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "functions/80_timeline") && strstr(err, "division by zero"),
                  "message: %s", err);
    char *sums2 = value(&m, checksums), *fields2 = value(&m, edit_fields);
    ck_assert_str_eq(sums, sums2);
    ck_assert_str_eq(fields, fields2);
    /* serve migrates first, so it refuses to start as well */
    const char *env[] = {m.envdb, m.envdir, NULL};
    const char *serve[] = {"serve", "--listen", "127.0.0.1:1", NULL};
    ck_assert_int_ne(run_leadloopd(serve, env, out, sizeof out, err, sizeof err), 0);

    /* mended: both files are applied */
    mig_sh(&m, "sed -i '$d' functions/80_timeline.sql");
    ck_assert_msg(mig_run(&m, false, out, sizeof out, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(out, "applied functions/10_basics\n");
    char *fields3 = value(&m, edit_fields);
    ck_assert_msg(strstr(fields3, ",y_test"), "ll_lead_edit_fields() is %s", fields3);
    free(sums), free(sums2), free(fields), free(fields2), free(fields3);
}
END_TEST

/* A numbered migration that adds a secret column to an audited table: every repeatable
 * file runs again, and the audit and change triggers of sql/functions/90_attach.sql
 * leave the new column out. */
START_TEST(numbered_migration_brings_the_functions_round_again)
{
    struct mig m;
    char out[8192], err[4096];
    mig_init(&m, "ll_rep_numbered");
    ck_assert_msg(mig_run(&m, false, out, sizeof out, err, sizeof err) == 0, "%s", err);
    mig_sh(&m, "printf 'ALTER TABLE campaigns ADD COLUMN api_token text;\\n' > 9998_token.sql");
    ck_assert_msg(mig_run(&m, false, out, sizeof out, err, sizeof err) == 0, "%s", err);
    static const char first[] = "applied 9998_token\napplied functions/10_basics\n";
    ck_assert_msg(!strncmp(out, first, strlen(first)) &&
                      strstr(out, "applied functions/90_attach\n"),
                  "migration printed: %s", out);
    char *args = value(&m, "SELECT string_agg(encode(tgargs, 'escape'), ';' ORDER BY tgname)"
                           " FROM pg_trigger WHERE tgrelid = 'campaigns'::regclass"
                           " AND tgname IN ('audit', 'change_feed')");
    ck_assert_msg(strstr(args, "api_token") != NULL, "the triggers' arguments: %s", args);
    free(args);
}
END_TEST

/* A backfill marked "-- migrate: after functions" runs after the repeatable files, so it
 * can call a function that only they define, on a fresh database too. */
START_TEST(after_functions_migration_runs_after_the_functions)
{
    struct mig m;
    char out[8192], err[4096];
    mig_init(&m, "ll_rep_after");
    mig_sh(&m, "printf '%s\\n' 'CREATE OR REPLACE FUNCTION ll_test_answer() RETURNS integer"
               " LANGUAGE sql RETURN 42;' >> functions/80_timeline.sql &&"
               " printf '%s\\n' '-- A backfill.' '-- migrate: after functions'"
               " 'CREATE TABLE test_backfill AS SELECT ll_test_answer() AS a;' > 0500_backfill.sql"
               " && printf '%s\\n' 'CREATE TABLE test_later (a integer);' > 0600_later.sql");
    ck_assert_msg(mig_run(&m, false, out, sizeof out, err, sizeof err) == 0, "%s", err);
    const char *later = strstr(out, "applied 0600_later\n");
    const char *fn = strstr(out, "applied functions/80_timeline\n");
    const char *backfill = strstr(out, "applied 0500_backfill\n");
    ck_assert_msg(later && fn && backfill && later < fn && fn < backfill,
                  "expected 0600_later, then the functions, then 0500_backfill: %s", out);
    char *a = value(&m, "SELECT a FROM test_backfill");
    ck_assert_str_eq(a, "42");
    free(a);
}
END_TEST

/* A leadloopd that does not know every numbered migration of the database is older than
 * what migrated it: it leaves the newer functions alone, and says so. */
START_TEST(older_leadloopd_leaves_newer_functions_alone)
{
    struct mig m;
    char out[8192], err[4096];
    mig_init(&m, "ll_rep_older");
    mig_sh(&m, "printf 'SELECT 1;\\n' > 9999_newer.sql && sed -i "
               "\"s/'custom', 'external_ids'\\]/'custom', 'external_ids', 'z_test']/\" "
               "functions/10_basics.sql");
    ck_assert_msg(mig_run(&m, false, out, sizeof out, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(mig_run(&m, true, out, sizeof out, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(strstr(out, "functions left as they are") && strstr(out, "9999_newer"),
                  "the embedded migration printed: %s", out);
    char *fields = value(&m, edit_fields);
    ck_assert_msg(strstr(fields, ",z_test"), "ll_lead_edit_fields() is %s", fields);
    free(fields);
}
END_TEST

Suite *migrate_suite(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc = tcase_create("repeatable");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, changed_repeatable_is_applied_again_alone);
    tcase_add_test(tc, failing_repeatable_leaves_every_function_as_it_was);
    tcase_add_test(tc, numbered_migration_brings_the_functions_round_again);
    tcase_add_test(tc, after_functions_migration_runs_after_the_functions);
    tcase_add_test(tc, older_leadloopd_leaves_newer_functions_alone);
    suite_add_tcase(s, tc);
    return s;
}
