/* Unit tests of db.c's reading of errors: the constraint an error names, as PostgreSQL
 * sends it and as Citus does (no CONSTRAINT NAME field, the shard's constraint in the
 * message). */
#include <check.h>
#include <string.h>

#include "leadloop/db.h"
#include "suites.h"

START_TEST(constraint_field_wins_as_sent)
{
    char buf[64];
    const char *c = db_constraint_of("leads_email_key",
                                     "duplicate key value violates unique"
                                     " constraint \"leads_email_key\"",
                                     buf, sizeof buf);
    ck_assert_str_eq(c, "leads_email_key");
    /* a name of the schema that ends in digits is kept as PostgreSQL names it */
    ck_assert_str_eq(db_constraint_of("t_2024", NULL, buf, sizeof buf), "t_2024");
}
END_TEST

START_TEST(citus_messages_name_the_shard_constraint)
{
    char buf[64];
    ck_assert_str_eq(db_constraint_of(NULL,
                                      "duplicate key value violates unique constraint"
                                      " \"leads_email_key_102013\"",
                                      buf, sizeof buf),
                     "leads_email_key");
    ck_assert_str_eq(db_constraint_of(NULL,
                                      "insert or update on table \"campaigns_102031\" violates"
                                      " foreign key constraint"
                                      " \"campaigns_workspace_id_owner_id_fkey_102031\"",
                                      buf, sizeof buf),
                     "campaigns_workspace_id_owner_id_fkey");
    ck_assert_str_eq(db_constraint_of(NULL,
                                      "new row for relation \"leads_102012\" violates check"
                                      " constraint \"leads_consent_102012\"",
                                      buf, sizeof buf),
                     "leads_consent");
    /* no shard suffix: the name as it is */
    ck_assert_str_eq(
        db_constraint_of(NULL, "violates check constraint \"campaigns_dates\"", buf, sizeof buf),
        "campaigns_dates");
}
END_TEST

START_TEST(no_constraint_no_name)
{
    char buf[16];
    ck_assert_ptr_null(db_constraint_of(NULL, NULL, buf, sizeof buf));
    ck_assert_ptr_null(
        db_constraint_of(NULL, "canceling statement due to statement timeout", buf, sizeof buf));
    ck_assert_ptr_null(db_constraint_of(NULL, "violates constraint \"\"", buf, sizeof buf));
    /* longer than the buffer: none rather than a cut name */
    ck_assert_ptr_null(
        db_constraint_of(NULL, "violates constraint \"a_rather_long_name_1\"", buf, sizeof buf));
    ck_assert_ptr_null(db_constraint(NULL, buf, sizeof buf));
    ck_assert(!db_unique_violation(NULL));
}
END_TEST

Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, constraint_field_wins_as_sent);
    tcase_add_test(tc, citus_messages_name_the_shard_constraint);
    tcase_add_test(tc, no_constraint_no_name);
    suite_add_tcase(s, tc);
    return s;
}
