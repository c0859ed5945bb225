/* Schema migrations. Each file runs in its own transaction together with its row in
 * schema_migrations, so a failed file leaves no trace. A session advisory lock makes
 * daemons that start together take turns: the first applies, the others find it done. */
#include "leadloop/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/embedded.h"
#include "leadloop/util.h"

/* An arbitrary constant: "LEADLOOP" as bytes would not fit a bigint nicely. */
#define MIGRATE_LOCK_KEY "4231337000101"

const char migrate_sql_state[] = "SELECT count(*), coalesce(max(name), '') FROM schema_migrations";

struct migration {
    char name[128];
    char *text; /* owned when read from a directory */
    size_t len;
};

static bool name_ok(const char *f)
{
    size_t n = strlen(f);
    if (n < 10 || strcmp(f + n - 4, ".sql") != 0)
        return false;
    for (int i = 0; i < 4; i++)
        if (f[i] < '0' || f[i] > '9')
            return false;
    if (f[4] != '_')
        return false;
    for (size_t i = 5; i < n - 4; i++)
        if (!((f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9') || f[i] == '_'))
            return false;
    return true;
}

static int filter(const struct dirent *d)
{
    return name_ok(d->d_name);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) != NULL) {
        if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        } else {
            buf[size] = '\0';
            *len = (size_t)size;
        }
    }
    fclose(f);
    return buf;
}

static void free_list(struct migration *m, size_t n, bool owned)
{
    if (owned)
        for (size_t i = 0; i < n; i++)
            free(m[i].text);
    free(m);
}

static bool load(const char *dir, struct migration **out, size_t *n, char *err, size_t errlen)
{
    struct dirent **ents = NULL;
    struct migration *m;
    int count;
    bool ok = true;
    if (!dir || !*dir) {
        m = calloc(embedded_migrations_count + 1, sizeof *m);
        if (!m)
            return false;
        for (size_t i = 0; i < embedded_migrations_count; i++) {
            snprintf(m[i].name, sizeof m[i].name, "%s", embedded_migrations[i].name);
            m[i].text = (char *)embedded_migrations[i].text;
            m[i].len = embedded_migrations[i].len;
        }
        *out = m;
        *n = embedded_migrations_count;
        return true;
    }
    count = scandir(dir, &ents, filter, alphasort);
    if (count < 0) {
        snprintf(err, errlen, "cannot read migrations directory %s: %s", dir, strerror(errno));
        return false;
    }
    m = calloc((size_t)count + 1, sizeof *m);
    for (int i = 0; i < count; i++) {
        char path[1024];
        if (ok && m) {
            snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
            snprintf(m[i].name, sizeof m[i].name, "%.*s", (int)(strlen(ents[i]->d_name) - 4),
                     ents[i]->d_name);
            m[i].text = read_file(path, &m[i].len);
            if (!m[i].text) {
                snprintf(err, errlen, "cannot read %s", path);
                ok = false;
            }
        }
        free(ents[i]);
    }
    free(ents);
    if (!m)
        return false;
    if (!ok) {
        free_list(m, (size_t)count, true);
        return false;
    }
    *out = m;
    *n = (size_t)count;
    return true;
}

static bool exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen, const char *what)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

static void checksum(const struct migration *m, char hex[65])
{
    unsigned char digest[32];
    util_sha256(m->text, m->len, digest);
    util_hex(digest, 32, hex);
}

bool migrate_run(PGconn *pg, const char *dir, FILE *progress, char *err, size_t errlen)
{
    struct migration *list = NULL;
    size_t n = 0;
    PGresult *applied = NULL;
    bool ok = false, locked = false;
    bool owned = dir && *dir;

    if (!load(dir, &list, &n, err, errlen))
        goto out;
    if (!exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen,
                 "taking the migration lock"))
        goto out;
    locked = true;
    if (!exec_ok(pg,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " name text PRIMARY KEY, checksum text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 err, errlen, "creating schema_migrations"))
        goto out;
    applied = PQexec(pg, "SELECT name, checksum FROM schema_migrations");
    if (PQresultStatus(applied) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "reading schema_migrations: %s", PQresultErrorMessage(applied));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char sum[65];
        const char *have = NULL;
        checksum(&list[i], sum);
        for (int r = 0; r < PQntuples(applied); r++)
            if (!strcmp(PQgetvalue(applied, r, 0), list[i].name))
                have = PQgetvalue(applied, r, 1);
        if (have) {
            if (strcmp(have, sum) != 0) {
                snprintf(err, errlen,
                         "migration %s was changed after it was applied (checksum %.12s... in the "
                         "database, %.12s... now); restore the file and put the change in a new "
                         "migration",
                         list[i].name, have, sum);
                goto out;
            }
            continue;
        }
        if (!exec_ok(pg, "BEGIN", err, errlen, list[i].name))
            goto out;
        if (!exec_ok(pg, list[i].text, err, errlen, list[i].name)) {
            PQclear(PQexec(pg, "ROLLBACK"));
            goto out;
        }
        const char *vals[2] = {list[i].name, sum};
        PGresult *res =
            PQexecParams(pg, "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", 2,
                         NULL, vals, NULL, NULL, 0);
        bool ins = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ins)
            snprintf(err, errlen, "recording %s: %s", list[i].name, PQresultErrorMessage(res));
        PQclear(res);
        if (!ins || !exec_ok(pg, "COMMIT", err, errlen, list[i].name)) {
            PQclear(PQexec(pg, "ROLLBACK"));
            goto out;
        }
        if (progress)
            fprintf(progress, "applied %s\n", list[i].name);
    }
    ok = true;
out:
    if (locked)
        PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    PQclear(applied);
    if (list)
        free_list(list, n, owned);
    for (char *nl = strchr(err, '\n'); !ok && nl; nl = strchr(nl, '\n'))
        *nl = ' ';
    return ok;
}

const char *migrate_latest(void)
{
    return embedded_migrations_count ? embedded_migrations[embedded_migrations_count - 1].name : "";
}

bool migrate_state_current(long count, const char *newest)
{
    return count >= (long)embedded_migrations_count && strcmp(newest, migrate_latest()) >= 0;
}
