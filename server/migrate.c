/* Schema migrations, in two kinds (sql/README.md). Numbered files (sql/NNNN_name.sql:
 * tables, indexes, data) run once each, in order, each in its own transaction together
 * with its row in schema_migrations, so a failed file leaves no trace; an applied file
 * must never change. Repeatable files (sql/functions/NN_name.sql: the one current
 * definition of each function and trigger) run after them whenever their text changed or
 * a numbered file was applied, all that are due in one transaction with their rows in
 * schema_repeatables, so the functions are never half new. A numbered file that says
 * "-- migrate: after functions" (a backfill calling the current functions) runs after the
 * repeatable ones. A session advisory lock makes daemons that start together take turns:
 * the first applies, the others find it done. */
#include "leadloop/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "leadloop/embedded.h"
#include "leadloop/util.h"

/* An arbitrary constant: "LEADLOOP" as bytes would not fit a bigint nicely. */
#define MIGRATE_LOCK_KEY "4231337000101"

/* The line that moves a numbered file after the repeatable ones. */
#define AFTER_FUNCTIONS "-- migrate: after functions\n"

const char migrate_sql_state[] = "SELECT count(*), coalesce(max(name), '') FROM schema_migrations";

struct migration {
    char name[128];
    char *text; /* owned when read from a directory */
    size_t len;
    char sum[65]; /* SHA-256 of text, hex */
};

struct set {
    struct migration *m;
    size_t n;
    bool owned;
};

/* NNNN_name.sql (digits 4) or NN_name.sql (digits 2), name of [a-z0-9_]. */
static bool name_ok(const char *f, size_t digits)
{
    size_t n = strlen(f);
    if (n < digits + 6 || strcmp(f + n - 4, ".sql") != 0)
        return false;
    for (size_t i = 0; i < digits; i++)
        if (f[i] < '0' || f[i] > '9')
            return false;
    if (f[digits] != '_')
        return false;
    for (size_t i = digits + 1; i < n - 4; i++)
        if (!((f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9') || f[i] == '_'))
            return false;
    return true;
}

static int numbered_file(const struct dirent *d)
{
    return name_ok(d->d_name, 4);
}

static int repeatable_file(const struct dirent *d)
{
    return name_ok(d->d_name, 2);
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

static void checksum(struct migration *m)
{
    unsigned char digest[32];
    util_sha256(m->text, m->len, digest);
    util_hex(digest, 32, m->sum);
}

static void set_free(struct set *s)
{
    if (s->owned && s->m)
        for (size_t i = 0; i < s->n; i++)
            free(s->m[i].text);
    free(s->m);
    s->m = NULL;
    s->n = 0;
}

static bool load_embedded(const struct embedded_file *files, size_t count, struct set *out)
{
    out->owned = false;
    out->n = count;
    out->m = calloc(count + 1, sizeof *out->m);
    if (!out->m)
        return false;
    for (size_t i = 0; i < count; i++) {
        snprintf(out->m[i].name, sizeof out->m[i].name, "%s", files[i].name);
        out->m[i].text = (char *)files[i].text;
        out->m[i].len = files[i].len;
        checksum(&out->m[i]);
    }
    return true;
}

/* The files of dir that filter accepts, in name order. A missing directory is an empty
 * set when optional (a directory of numbered files only). */
static bool load_dir(const char *dir, int (*filter)(const struct dirent *), bool optional,
                     struct set *out, char *err, size_t errlen)
{
    struct dirent **ents = NULL;
    int count = scandir(dir, &ents, filter, alphasort);
    bool ok = true;
    out->owned = true;
    out->n = 0;
    out->m = NULL;
    if (count < 0) {
        if (optional && errno == ENOENT)
            return true;
        snprintf(err, errlen, "cannot read migrations directory %s: %s", dir, strerror(errno));
        return false;
    }
    out->m = calloc((size_t)count + 1, sizeof *out->m);
    if (!out->m) {
        snprintf(err, errlen, "out of memory reading %s", dir);
        ok = false;
    }
    for (int i = 0; i < count; i++) {
        char path[1024];
        struct migration *m = ok ? &out->m[i] : NULL;
        if (m) {
            snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
            snprintf(m->name, sizeof m->name, "%.*s", (int)(strlen(ents[i]->d_name) - 4),
                     ents[i]->d_name);
            m->text = read_file(path, &m->len);
            out->n = (size_t)i + 1;
            if (!m->text) {
                snprintf(err, errlen, "cannot read %s", path);
                ok = false;
            } else {
                checksum(m);
            }
        }
        free(ents[i]);
    }
    free(ents);
    if (!ok)
        set_free(out);
    return ok;
}

/* dir NULL or "": the embedded files; otherwise dir/NNNN_*.sql and dir/functions/NN_*.sql. */
static bool load(const char *dir, struct set *numbered, struct set *repeatable, char *err,
                 size_t errlen)
{
    char sub[1024];
    if (!dir || !*dir) {
        if (load_embedded(embedded_migrations, embedded_migrations_count, numbered) &&
            load_embedded(embedded_repeatables, embedded_repeatables_count, repeatable))
            return true;
        snprintf(err, errlen, "out of memory");
        return false;
    }
    snprintf(sub, sizeof sub, "%s/functions", dir);
    return load_dir(dir, numbered_file, false, numbered, err, errlen) &&
           load_dir(sub, repeatable_file, true, repeatable, err, errlen);
}

/* Whether the database runs Citus (migrate_run finds out). */
static bool citus;

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

/* The length of the statement at sql, up to and with its terminating ';' (or the rest).
 * Knows what may hold a ';' in our files: quoted strings and identifiers, dollar-quoted
 * bodies, line and block comments (no E'' strings, no BEGIN ATOMIC bodies). */
static size_t statement_len(const char *sql)
{
    const char *p = sql;
    while (*p) {
        if (*p == ';')
            return (size_t)(p - sql) + 1;
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            while (*p && *p != q)
                p++;
            if (*p)
                p++;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            int depth = 1;
            for (p += 2; *p && depth; p++) {
                if (p[0] == '/' && p[1] == '*')
                    depth++, p++;
                else if (p[0] == '*' && p[1] == '/')
                    depth--, p++;
            }
        } else if (*p == '$' && (p == sql || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
                                               (p[-1] >= 'A' && p[-1] <= 'Z') ||
                                               (p[-1] >= '0' && p[-1] <= '9')))) {
            const char *t = p + 1, *end;
            while (*t == '_' || (*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z'))
                t++;
            if (*t != '$') {
                p++;
                continue;
            }
            size_t taglen = (size_t)(t - p) + 1;
            char tag[64];
            if (taglen >= sizeof tag) {
                p++;
                continue;
            }
            memcpy(tag, p, taglen);
            tag[taglen] = '\0';
            end = strstr(t + 1, tag);
            p = end ? end + taglen : p + strlen(p);
        } else {
            p++;
        }
    }
    return (size_t)(p - sql);
}

/* On Citus, each statement of a file on its own: Citus sends the text of a DDL statement
 * on a distributed table to the workers as it came, and a text of many is refused there. */
static bool exec_file(PGconn *pg, const char *sql, char *err, size_t errlen, const char *what)
{
    if (!citus)
        return exec_ok(pg, sql, err, errlen, what);
    while (*sql) {
        size_t n = statement_len(sql);
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++)
            blank = sql[i] == ' ' || sql[i] == '\n' || sql[i] == '\t' || sql[i] == ';';
        if (!blank) {
            char *one = strndup(sql, n);
            bool ok = one && exec_ok(pg, one, err, errlen, what);
            free(one);
            if (!ok)
                return false;
        }
        sql += n;
    }
    return true;
}

static bool exec_params_ok(PGconn *pg, const char *sql, const char *a, const char *b, char *err,
                           size_t errlen, const char *what)
{
    const char *vals[2] = {a, b};
    PGresult *res = PQexecParams(pg, sql, 2, NULL, vals, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "recording %s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

/* The checksum recorded for name in rows (name, checksum), or NULL. Borrowed from rows. */
static const char *recorded(const PGresult *rows, const char *name)
{
    for (int r = 0; r < PQntuples(rows); r++)
        if (!strcmp(PQgetvalue(rows, r, 0), name))
            return PQgetvalue(rows, r, 1);
    return NULL;
}

static bool after_functions(const struct migration *m)
{
    return !strncmp(m->text, AFTER_FUNCTIONS, strlen(AFTER_FUNCTIONS)) ||
           strstr(m->text, "\n" AFTER_FUNCTIONS) != NULL;
}

/* On Citus, a migration's DDL runs on one connection per node (a transaction that changed
 * a distributed table may not change another in parallel), and may change the triggers of
 * distributed tables (every trigger here touches only its workspace's rows, on its node). */
static const char sql_begin_citus[] = "BEGIN; SET LOCAL citus.multi_shard_modify_mode TO "
                                      "'sequential'; SET LOCAL citus.enable_unsafe_triggers TO on";

static bool begin(PGconn *pg, char *err, size_t errlen, const char *what)
{
    return exec_ok(pg, citus ? sql_begin_citus : "BEGIN", err, errlen, what);
}

/* Applies one numbered file with its row, in a transaction. */
static bool apply_numbered(PGconn *pg, const struct migration *m, FILE *progress, char *err,
                           size_t errlen)
{
    if (!begin(pg, err, errlen, m->name))
        return false;
    if (!exec_file(pg, m->text, err, errlen, m->name) ||
        !exec_params_ok(pg, "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                        m->name, m->sum, err, errlen, m->name) ||
        !exec_ok(pg, "COMMIT", err, errlen, m->name)) {
        PQclear(PQexec(pg, "ROLLBACK"));
        return false;
    }
    if (progress)
        fprintf(progress, "applied %s\n", m->name);
    return true;
}

/* Applies the repeatable files that are due (all of them when every is set), in one
 * transaction: either every due function and trigger is new, or none is. */
static bool apply_repeatables(PGconn *pg, const struct set *rep, const PGresult *rows, bool every,
                              FILE *progress, char *err, size_t errlen)
{
    char what[160];
    size_t due = 0;
    for (size_t i = 0; i < rep->n; i++) {
        const char *have = recorded(rows, rep->m[i].name);
        if (every || !have || strcmp(have, rep->m[i].sum) != 0)
            due++;
    }
    if (due == 0)
        return true;
    if (!begin(pg, err, errlen, "functions"))
        return false;
    for (size_t i = 0; i < rep->n; i++) {
        const struct migration *m = &rep->m[i];
        const char *have = recorded(rows, m->name);
        if (!every && have && !strcmp(have, m->sum))
            continue;
        snprintf(what, sizeof what, "functions/%s", m->name);
        if (!exec_file(pg, m->text, err, errlen, what) ||
            !exec_params_ok(pg,
                            "INSERT INTO schema_repeatables (name, checksum) VALUES ($1, $2)"
                            " ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum,"
                            " applied_at = now()",
                            m->name, m->sum, err, errlen, what)) {
            PQclear(PQexec(pg, "ROLLBACK"));
            return false;
        }
    }
    if (!exec_ok(pg, "COMMIT", err, errlen, "functions")) {
        PQclear(PQexec(pg, "ROLLBACK"));
        return false;
    }
    for (size_t i = 0; progress && i < rep->n; i++) {
        const char *have = recorded(rows, rep->m[i].name);
        if (every || !have || strcmp(have, rep->m[i].sum) != 0)
            fprintf(progress, "applied functions/%s\n", rep->m[i].name);
    }
    return true;
}

/* On Citus: distributes the tables that are not yet (sql/functions/95_citus.sql), and
 * when it did, applies every repeatable file again, which creates the functions on the
 * workers too (a function is propagated once the tables it reads are distributed) and
 * turns the statement triggers of the distributed tables into row triggers. */
static bool distribute(PGconn *pg, const struct set *rep, const PGresult *rows, FILE *progress,
                       char *err, size_t errlen)
{
    PGresult *res;
    long n = 0;
    if (!begin(pg, err, errlen, "distributing"))
        return false;
    res = PQexec(pg, "SELECT ll_citus_distribute()");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "distributing: %s", PQresultErrorMessage(res));
        PQclear(res);
        PQclear(PQexec(pg, "ROLLBACK"));
        return false;
    }
    n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (!exec_ok(pg, "COMMIT", err, errlen, "distributing")) {
        PQclear(PQexec(pg, "ROLLBACK"));
        return false;
    }
    if (n == 0)
        return true;
    if (progress)
        fprintf(progress, "distributed %ld tables by workspace (Citus)\n", n);
    return apply_repeatables(pg, rep, rows, true, progress, err, errlen);
}

bool migrate_run(PGconn *pg, const char *dir, FILE *progress, char *err, size_t errlen)
{
    struct set num = {0}, rep = {0};
    PGresult *applied = NULL, *reps = NULL;
    bool ok = false, locked = false, any = false, newer = false;
    const char *newest_unknown = NULL;

    *err = '\0';
    if (!load(dir, &num, &rep, err, errlen))
        goto out;
    if (!exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen,
                 "taking the migration lock"))
        goto out;
    locked = true;
    if (!exec_ok(pg,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " name text PRIMARY KEY, checksum text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now());"
                 "CREATE TABLE IF NOT EXISTS schema_repeatables ("
                 " name text PRIMARY KEY, checksum text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 err, errlen, "creating schema_migrations"))
        goto out;
    {
        PGresult *ext = PQexec(pg, "SELECT 1 FROM pg_extension WHERE extname = 'citus'");
        citus = PQresultStatus(ext) == PGRES_TUPLES_OK && PQntuples(ext) == 1;
        PQclear(ext);
    }
    applied = PQexec(pg, "SELECT name, checksum FROM schema_migrations ORDER BY name");
    if (PQresultStatus(applied) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "reading schema_migrations: %s", PQresultErrorMessage(applied));
        goto out;
    }
    reps = PQexec(pg, "SELECT name, checksum FROM schema_repeatables");
    if (PQresultStatus(reps) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "reading schema_repeatables: %s", PQresultErrorMessage(reps));
        goto out;
    }
    for (size_t i = 0; i < num.n; i++) {
        const char *have = recorded(applied, num.m[i].name);
        if (have && strcmp(have, num.m[i].sum) != 0) {
            snprintf(err, errlen,
                     "migration %s was changed after it was applied (checksum %.12s... in the "
                     "database, %.12s... now); restore the file and put the change in a new "
                     "migration",
                     num.m[i].name, have, num.m[i].sum);
            goto out;
        }
    }
    /* A database migrated by a newer leadloopd (it has numbered files this one does not
     * know) keeps that version's functions: this older one must not put its own back. */
    for (int r = 0; r < PQntuples(applied); r++) {
        bool known = false;
        for (size_t i = 0; i < num.n && !known; i++)
            known = !strcmp(PQgetvalue(applied, r, 0), num.m[i].name);
        if (!known) {
            newer = true;
            newest_unknown = PQgetvalue(applied, r, 0);
        }
    }
    for (size_t i = 0; i < num.n; i++) {
        if (recorded(applied, num.m[i].name) || after_functions(&num.m[i]))
            continue;
        if (!apply_numbered(pg, &num.m[i], progress, err, errlen))
            goto out;
        any = true;
    }
    if (newer) {
        if (progress && rep.n)
            fprintf(progress,
                    "functions left as they are: the database has migration %s, which this "
                    "leadloopd does not know\n",
                    newest_unknown);
    } else if (!apply_repeatables(pg, &rep, reps, any, progress, err, errlen)) {
        goto out;
    }
    for (size_t i = 0; i < num.n; i++)
        if (!recorded(applied, num.m[i].name) && after_functions(&num.m[i]) &&
            !apply_numbered(pg, &num.m[i], progress, err, errlen))
            goto out;
    if (citus && !newer && !distribute(pg, &rep, reps, progress, err, errlen))
        goto out;
    ok = true;
out:
    if (locked)
        PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    PQclear(applied);
    PQclear(reps);
    set_free(&num);
    set_free(&rep);
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
