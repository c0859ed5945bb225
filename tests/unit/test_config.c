/* Unit tests of config.c: defaults, the environment, flags overriding it, unknown flags
 * passed through, bad values named in the error, and the generated --help text. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leadloop/config.h"
#include "leadloop/log.h"
#include "suites.h"

/* Every variable the table reads; --help must list each one. */
static const char *const variables[] = {
    "LEADLOOP_LISTEN",
    "DATABASE_URL",
    "LEADLOOP_DB_POOL",
    "LEADLOOP_DB_ACQUIRE_TIMEOUT_MS",
    "LEADLOOP_STATEMENT_TIMEOUT_MS",
    "LEADLOOP_LIST_TIMEOUT_MS",
    "LEADLOOP_MAX_BODY",
    "LEADLOOP_MAX_CONNECTIONS",
    "LEADLOOP_MAX_CONNECTIONS_PER_IP",
    "LEADLOOP_CONNECTION_TIMEOUT_S",
    "LEADLOOP_SHUTDOWN_TIMEOUT_S",
    "LEADLOOP_CORS_ORIGINS",
    "LEADLOOP_LOG_LEVEL",
    "LEADLOOP_LOG_FORMAT",
    "LEADLOOP_MIGRATIONS_DIR",
};
#define NVARIABLES (sizeof variables / sizeof variables[0])

/* The environment of whoever runs the tests must not leak into them: drop DATABASE_URL
 * and every LEADLOOP_ variable, including ones this file does not know yet. */
static void clear_env(void)
{
    char names[64][128];
    int n = 0;

    for (char **e = environ; *e && n < 64; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        if (!strncmp(*e, "LEADLOOP_", 9) && len < sizeof names[0]) {
            memcpy(names[n], *e, len);
            names[n++][len] = '\0';
        }
    }
    for (int i = 0; i < n; i++)
        unsetenv(names[i]);
    unsetenv("DATABASE_URL");
}

/* Loads with the given flags; asserts success. */
static void load_ok(struct config *cfg, int argc, char **argv, char **rest, int *nrest)
{
    char err[256] = "";
    bool ok = config_load(cfg, argc, argv, rest, nrest, err, sizeof err);
    ck_assert_msg(ok, "config_load failed: %s", err);
}

/* Loads with the given flags; asserts failure and an error mentioning every want. */
static void load_fails(int argc, char **argv, const char *const *want)
{
    struct config cfg;
    char *rest[8];
    int nrest;
    char err[256] = "";
    bool ok = config_load(&cfg, argc, argv, rest, &nrest, err, sizeof err);

    ck_assert_msg(!ok, "config_load succeeded; expected an error containing '%s'", want[0]);
    for (; *want; want++)
        ck_assert_msg(strstr(err, *want) != NULL, "error '%s' does not contain '%s'", err, *want);
}

START_TEST(defaults)
{
    struct config cfg;
    char *rest[1];
    int nrest = -1;

    load_ok(&cfg, 0, NULL, rest, &nrest);
    ck_assert_int_eq(nrest, 0);
    ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
    ck_assert_str_eq(cfg.listen_host, "127.0.0.1");
    ck_assert_uint_eq(cfg.listen_port, 8080);
    ck_assert_str_eq(cfg.database_url, "");
    ck_assert_int_eq(cfg.db_pool, 8);
    ck_assert_int_eq(cfg.db_acquire_timeout_ms, 2000);
    ck_assert_int_eq(cfg.statement_timeout_ms, 5000);
    ck_assert_int_eq(cfg.list_timeout_ms, 2000);
    ck_assert_int_eq(cfg.max_body, 1048576);
    ck_assert_int_eq(cfg.max_connections, 512);
    ck_assert_int_eq(cfg.max_connections_per_ip, 256);
    ck_assert_int_eq(cfg.connection_timeout_s, 30);
    ck_assert_int_eq(cfg.shutdown_timeout_s, 10);
    ck_assert_str_eq(cfg.cors_origins, "");
    ck_assert_int_eq(cfg.log_level, LOG_INFO);
    ck_assert_int_eq(cfg.log_format, LOG_FORMAT_JSON);
    ck_assert_str_eq(cfg.migrations_dir, "");
    ck_assert(!cfg.no_migrate);
}
END_TEST

START_TEST(environment)
{
    struct config cfg;
    char *rest[1];
    int nrest;

    setenv("LEADLOOP_LISTEN", "0.0.0.0:9000", 1);
    setenv("DATABASE_URL", "postgresql://app@db.internal/leadloop", 1);
    setenv("LEADLOOP_DB_POOL", "16", 1);
    setenv("LEADLOOP_STATEMENT_TIMEOUT_MS", "0", 1);
    setenv("LEADLOOP_LIST_TIMEOUT_MS", "750", 1);
    setenv("LEADLOOP_MAX_BODY", "2048", 1);
    setenv("LEADLOOP_CORS_ORIGINS", "https://a.example.com,https://b.example.com", 1);
    setenv("LEADLOOP_LOG_LEVEL", "debug", 1);
    setenv("LEADLOOP_LOG_FORMAT", "text", 1);
    setenv("LEADLOOP_MIGRATIONS_DIR", "/srv/sql", 1);
    load_ok(&cfg, 0, NULL, rest, &nrest);
    ck_assert_str_eq(cfg.listen, "0.0.0.0:9000");
    ck_assert_str_eq(cfg.listen_host, "0.0.0.0");
    ck_assert_uint_eq(cfg.listen_port, 9000);
    ck_assert_str_eq(cfg.database_url, "postgresql://app@db.internal/leadloop");
    ck_assert_int_eq(cfg.db_pool, 16);
    ck_assert_int_eq(cfg.statement_timeout_ms, 0);
    ck_assert_int_eq(cfg.list_timeout_ms, 750);
    ck_assert_int_eq(cfg.max_body, 2048);
    ck_assert_str_eq(cfg.cors_origins, "https://a.example.com,https://b.example.com");
    ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
    ck_assert_int_eq(cfg.log_format, LOG_FORMAT_TEXT);
    ck_assert_str_eq(cfg.migrations_dir, "/srv/sql");
    /* untouched settings keep their defaults */
    ck_assert_int_eq(cfg.max_connections, 512);
}
END_TEST

START_TEST(bounds_are_inclusive)
{
    struct config cfg;
    char *rest[1];
    int nrest;

    setenv("LEADLOOP_DB_POOL", "1", 1);
    setenv("LEADLOOP_LISTEN", "localhost:1", 1);
    load_ok(&cfg, 0, NULL, rest, &nrest);
    ck_assert_int_eq(cfg.db_pool, 1);
    ck_assert_str_eq(cfg.listen_host, "localhost");
    ck_assert_uint_eq(cfg.listen_port, 1);

    setenv("LEADLOOP_DB_POOL", "500", 1);
    setenv("LEADLOOP_LISTEN", "localhost:65535", 1);
    load_ok(&cfg, 0, NULL, rest, &nrest);
    ck_assert_int_eq(cfg.db_pool, 500);
    ck_assert_uint_eq(cfg.listen_port, 65535);
}
END_TEST

START_TEST(flag_with_separate_value_wins)
{
    struct config cfg;
    char *argv[] = {"--db-pool", "4", "--listen", "127.0.0.2:81"};
    char *rest[4];
    int nrest;

    setenv("LEADLOOP_DB_POOL", "16", 1);
    setenv("LEADLOOP_LISTEN", "0.0.0.0:9000", 1);
    load_ok(&cfg, 4, argv, rest, &nrest);
    ck_assert_int_eq(nrest, 0);
    ck_assert_int_eq(cfg.db_pool, 4);
    ck_assert_str_eq(cfg.listen, "127.0.0.2:81");
    ck_assert_str_eq(cfg.listen_host, "127.0.0.2");
    ck_assert_uint_eq(cfg.listen_port, 81);
}
END_TEST

START_TEST(flag_with_equals_wins)
{
    struct config cfg;
    char *argv[] = {"--db-pool=4", "--log-format=text", "--database-url=host=/tmp dbname=x"};
    char *rest[3];
    int nrest;

    setenv("LEADLOOP_DB_POOL", "16", 1);
    setenv("LEADLOOP_LOG_FORMAT", "json", 1);
    load_ok(&cfg, 3, argv, rest, &nrest);
    ck_assert_int_eq(nrest, 0);
    ck_assert_int_eq(cfg.db_pool, 4);
    ck_assert_int_eq(cfg.log_format, LOG_FORMAT_TEXT);
    ck_assert_str_eq(cfg.database_url, "host=/tmp dbname=x");
}
END_TEST

START_TEST(last_flag_wins)
{
    struct config cfg;
    char *argv[] = {"--db-pool=4", "--db-pool", "6"};
    char *rest[3];
    int nrest;

    load_ok(&cfg, 3, argv, rest, &nrest);
    ck_assert_int_eq(cfg.db_pool, 6);
}
END_TEST

START_TEST(unknown_flags_pass_through_in_order)
{
    struct config cfg;
    char *argv[] = {"--verbose", "--db-pool", "4", "SLUG", "--name=Acme", "--no-migrate"};
    char *rest[6];
    int nrest = -1;

    load_ok(&cfg, 6, argv, rest, &nrest);
    ck_assert_int_eq(nrest, 3);
    /* borrowed pointers into argv, not copies */
    ck_assert_ptr_eq(rest[0], argv[0]);
    ck_assert_ptr_eq(rest[1], argv[3]);
    ck_assert_ptr_eq(rest[2], argv[4]);
    ck_assert_int_eq(cfg.db_pool, 4);
    ck_assert(cfg.no_migrate);
}
END_TEST

START_TEST(flag_prefix_is_not_a_match)
{
    struct config cfg;
    char *argv[] = {"--db-pool-size=3", "--max-connections-per-ip=7", "--listenx"};
    char *rest[3];
    int nrest;

    load_ok(&cfg, 3, argv, rest, &nrest);
    ck_assert_int_eq(nrest, 2);
    ck_assert_str_eq(rest[0], "--db-pool-size=3");
    ck_assert_str_eq(rest[1], "--listenx");
    ck_assert_int_eq(cfg.db_pool, 8);
    ck_assert_int_eq(cfg.max_connections, 512);
    ck_assert_int_eq(cfg.max_connections_per_ip, 7);
}
END_TEST

START_TEST(flag_without_value_fails)
{
    char *argv[] = {"--db-pool"};
    static const char *const want[] = {"--db-pool", "LEADLOOP_DB_POOL", NULL};

    load_fails(1, argv, want);
}
END_TEST

START_TEST(bad_flag_value_names_the_variable)
{
    char *argv[] = {"--db-pool=0"};
    static const char *const want[] = {"LEADLOOP_DB_POOL", "'0'", "1..500", NULL};

    setenv("LEADLOOP_DB_POOL", "4", 1);
    load_fails(1, argv, want);
}
END_TEST

/* A bad value in the environment fails with a message naming the variable, the value and
 * what is allowed. */
static const struct {
    const char *var, *value;
    const char *want[4];
} bad_env[] = {
    {"LEADLOOP_DB_POOL", "0", {"LEADLOOP_DB_POOL", "'0'", "1..500"}},
    {"LEADLOOP_DB_POOL", "abc", {"LEADLOOP_DB_POOL", "'abc'", "1..500"}},
    {"LEADLOOP_DB_POOL", "501", {"LEADLOOP_DB_POOL", "'501'", "1..500"}},
    {"LEADLOOP_DB_POOL", "", {"LEADLOOP_DB_POOL", "1..500"}},
    {"LEADLOOP_DB_POOL", " 8", {"LEADLOOP_DB_POOL", "1..500"}},
    {"LEADLOOP_DB_POOL", "99999999999999999999", {"LEADLOOP_DB_POOL", "1..500"}},
    {"LEADLOOP_MAX_BODY", "1023", {"LEADLOOP_MAX_BODY", "1024..1073741824"}},
    {"LEADLOOP_LIST_TIMEOUT_MS", "-1", {"LEADLOOP_LIST_TIMEOUT_MS", "'-1'", "0..3600000"}},
    {"LEADLOOP_LISTEN", "nope", {"LEADLOOP_LISTEN", "'nope'", "1..65535"}},
    {"LEADLOOP_LISTEN", "host:99999", {"LEADLOOP_LISTEN", "'host:99999'", "1..65535"}},
    {"LEADLOOP_LISTEN", "host:0", {"LEADLOOP_LISTEN", "1..65535"}},
    {"LEADLOOP_LISTEN", "host:", {"LEADLOOP_LISTEN", "1..65535"}},
    {"LEADLOOP_LISTEN", ":8080", {"LEADLOOP_LISTEN", "1..65535"}},
    {"LEADLOOP_LOG_FORMAT", "xml", {"LEADLOOP_LOG_FORMAT", "'xml'", "json, text"}},
    {"LEADLOOP_LOG_LEVEL", "INFO", {"LEADLOOP_LOG_LEVEL", "debug, info, warn, error"}},
};

START_TEST(bad_environment_value)
{
    setenv(bad_env[_i].var, bad_env[_i].value, 1);
    load_fails(0, NULL, bad_env[_i].want);
}
END_TEST

START_TEST(too_long_string_fails)
{
    char url[1100];
    static const char *const want[] = {"DATABASE_URL", "1023", NULL};

    memset(url, 'x', sizeof url - 1);
    url[sizeof url - 1] = '\0';
    setenv("DATABASE_URL", url, 1);
    load_fails(0, NULL, want);
}
END_TEST

START_TEST(help_lists_every_variable)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(out);
    config_help(out);
    ck_assert_int_eq(fclose(out), 0);
    for (size_t i = 0; i < NVARIABLES; i++)
        ck_assert_msg(strstr(text, variables[i]) != NULL, "--help does not mention %s:\n%s",
                      variables[i], text);
    /* flags, ranges, choices and defaults come from the same table */
    static const char *const parts[] = {"--db-pool",
                                        "--listen",
                                        "--no-migrate",
                                        "[1..500]",
                                        "[json|text]",
                                        "(default 8)",
                                        "(default 127.0.0.1:8080)"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        ck_assert_msg(strstr(text, parts[i]) != NULL, "--help does not mention %s:\n%s", parts[i],
                      text);
    free(text);
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("load");

    tcase_add_checked_fixture(tc, clear_env, NULL);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, environment);
    tcase_add_test(tc, bounds_are_inclusive);
    tcase_add_test(tc, flag_with_separate_value_wins);
    tcase_add_test(tc, flag_with_equals_wins);
    tcase_add_test(tc, last_flag_wins);
    tcase_add_test(tc, unknown_flags_pass_through_in_order);
    tcase_add_test(tc, flag_prefix_is_not_a_match);
    tcase_add_test(tc, flag_without_value_fails);
    tcase_add_test(tc, bad_flag_value_names_the_variable);
    tcase_add_loop_test(tc, bad_environment_value, 0, (int)(sizeof bad_env / sizeof bad_env[0]));
    tcase_add_test(tc, too_long_string_fails);
    tcase_add_test(tc, help_lists_every_variable);
    suite_add_tcase(s, tc);
    return s;
}
