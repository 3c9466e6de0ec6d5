/*
 * schema.c - `soukctl schema up|status TARGET`: forward-only migrations.
 * Files NNNN_name.sql in the target's migrations directory are applied in
 * name order and recorded in schema_migrations with their SHA-256. An
 * applied file that changed or disappeared stops everything: history is
 * never rewritten, a fix is a new file.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soukctl.h"

#define SCHEMA_LOCK_WAIT 60 /* seconds to wait for another soukctl on the same database */

static const char schema_usage[] =
    "usage: soukctl schema up TARGET [--dir DIR]\n"
    "       soukctl schema status TARGET [--dir DIR]\n"
    "\n"
    "up      apply TARGET's pending migrations (NNNN_name.sql, in order) and record\n"
    "        each in schema_migrations with its SHA-256; prints \"applied FILE\" or\n"
    "        \"up to date\"\n"
    "status  list every migration as applied or pending\n"
    "\n"
    "Both refuse (exit 1) when an applied file has changed, is missing, or a new file\n"
    "sorts before one already applied. DIR defaults to SOUK_MIGRATIONS_DIR, else\n"
    "<repo>/TARGET/migrations next to the binary. The database is SOUK_MONOLITH_DB.\n";

static const char schema_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version    VARCHAR(255) NOT NULL PRIMARY KEY,"
    " checksum   CHAR(64)     NOT NULL,"
    " applied_at DATETIME(3)  NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/* One migration: a file, a schema_migrations row, or both. */
struct migration {
    const char *version; /* the file name, e.g. "0001_schema.sql" */
    const char *sql;     /* file contents; NULL when the file is missing */
    char        sum[65];
    const char *applied_sum; /* NULL when not applied */
    const char *applied_at;
};

struct plan {
    struct migration *m;
    size_t            n;
    int               problems; /* changed, missing or out-of-order files */
};

/* NNNN_something.sql */
static int
is_migration(const char *name)
{
    size_t n = strlen(name);

    return n > 9 && strspn(name, "0123456789") == 4 && name[4] == '_' &&
           strcmp(name + n - 4, ".sql") == 0;
}

static int
by_version(const void *x, const void *y)
{
    return strcmp(((const struct migration *)x)->version, ((const struct migration *)y)->version);
}

/* 1 when sql holds nothing but blanks and comments (the server rejects an empty query). */
static int
blank_sql(const char *p)
{
    while (*p != '\0') {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';') {
            p++;
        } else if ((p[0] == '-' && p[1] == '-') || p[0] == '#') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*' && strstr(p + 2, "*/") != NULL) {
            p = strstr(p + 2, "*/") + 2;
        } else {
            return 0;
        }
    }
    return 1;
}

static int
read_dir(const char *dir, struct arena *a, struct plan *pl)
{
    struct dirent *e;
    DIR           *d;
    size_t         cap = 16, len;
    char          *text;
    int            rc = ERR_OK;

    d = opendir(dir);
    if (d == NULL) {
        common_fail("cannot open migrations directory %s", dir);
        return ERR_NOT_FOUND;
    }
    pl->m = arena_array(a, struct migration, cap);
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        if (!is_migration(e->d_name))
            continue;
        if (pl->n == cap) {
            struct migration *m = arena_array(a, struct migration, cap * 2);

            memcpy(m, pl->m, cap * sizeof(*m));
            pl->m = m;
            cap *= 2;
        }
        rc = common_read_file(arena_printf(a, "%s/%s", dir, e->d_name), a, &text, &len);
        if (rc)
            break;
        pl->m[pl->n].version = arena_strdup(a, e->d_name);
        pl->m[pl->n].sql = text;
        common_sha256_hex(text, len, pl->m[pl->n].sum);
        pl->n++;
    }
    closedir(d);
    qsort(pl->m, pl->n, sizeof(*pl->m), by_version);
    return rc;
}

/* Two files may not share a number: their order would be an accident. */
static int
check_numbers(const struct plan *pl, const char *dir)
{
    size_t i;

    for (i = 1; i < pl->n; i++) {
        if (strncmp(pl->m[i - 1].version, pl->m[i].version, 4) == 0) {
            common_fail("%s and %s in %s share a number", pl->m[i - 1].version, pl->m[i].version,
                        dir);
            return ERR_CONFLICT;
        }
    }
    return ERR_OK;
}

static struct migration *
find(struct plan *pl, const char *version)
{
    size_t i;

    for (i = 0; i < pl->n; i++)
        if (strcmp(pl->m[i].version, version) == 0)
            return &pl->m[i];
    return NULL;
}

/* Merge schema_migrations into the plan and count what forbids going on. */
static int
read_applied(struct mdb *db, struct arena *a, struct plan *pl, const char *dir)
{
    struct mdb_rows  *rs;
    struct migration *m;
    const char       *last = "";
    size_t            i;
    int               rc;

    rc = mdb_query(db, a, "SELECT version, checksum, applied_at FROM schema_migrations", NULL, 0,
                   &rs);
    if (rc)
        return rc;
    for (i = 0; i < rs->nrows; i++) {
        m = find(pl, mdb_get(rs, i, 0));
        if (m == NULL) {
            common_fail("%s was applied but is missing from %s", mdb_get(rs, i, 0), dir);
            pl->problems++;
            continue;
        }
        m->applied_sum = mdb_get(rs, i, 1);
        m->applied_at = mdb_get(rs, i, 2);
        if (strcmp(m->sum, m->applied_sum) != 0) {
            common_fail("%s/%s changed after it was applied (checksum %.12s…, applied %.12s…); "
                        "never edit an applied migration, add a new file",
                        dir, m->version, m->sum, m->applied_sum);
            pl->problems++;
        }
        if (strcmp(m->version, last) > 0)
            last = m->version;
    }
    for (i = 0; i < pl->n; i++) {
        if (pl->m[i].applied_sum == NULL && strcmp(pl->m[i].version, last) < 0) {
            common_fail("%s/%s is new but sorts before %s, which is already applied", dir,
                        pl->m[i].version, last);
            pl->problems++;
        }
    }
    return ERR_OK;
}

/* MariaDB commits DDL implicitly, so a file cannot be applied and recorded
 * atomically: the row is written right after the file succeeds. A file that
 * fails half-way leaves its earlier statements applied and no row; fix the
 * database by hand (or recreate it) before running again. */
static int
apply(struct mdb *db, struct migration *m, const char *dir)
{
    double t = common_now();
    int    rc = ERR_OK;

    if (!blank_sql(m->sql))
        rc = mdb_exec_multi(db, m->sql);
    if (rc) {
        common_fail("%s/%s failed (see the log line above); statements before the failing one "
                    "may have been applied (MariaDB DDL is not transactional)",
                    dir, m->version);
        return rc;
    }
    rc = mdb_exec(db,
                  "INSERT INTO schema_migrations (version, checksum, applied_at) "
                  "VALUES (?, ?, NOW(3))",
                  (struct mdb_arg[]){MDB_STR(m->version), MDB_STR(m->sum)}, 2, NULL, NULL);
    if (rc) {
        common_fail("%s was applied but could not be recorded in schema_migrations", m->version);
        return rc;
    }
    printf("applied %s (%.0f ms)\n", m->version, (common_now() - t) * 1000);
    fflush(stdout);
    return ERR_OK;
}

static int
run_up(struct mdb *db, struct plan *pl, const char *dir)
{
    size_t i, n = 0;
    int    rc;

    for (i = 0; i < pl->n; i++) {
        if (pl->m[i].applied_sum != NULL)
            continue;
        rc = apply(db, &pl->m[i], dir);
        if (rc)
            return rc;
        n++;
    }
    if (n == 0)
        puts("up to date");
    return ERR_OK;
}

static void
print_status(const struct plan *pl)
{
    size_t i;

    for (i = 0; i < pl->n; i++) {
        if (pl->m[i].applied_sum == NULL)
            printf("%-40s pending\n", pl->m[i].version);
        else
            printf("%-40s applied %s%s\n", pl->m[i].version, pl->m[i].applied_at,
                   strcmp(pl->m[i].sum, pl->m[i].applied_sum) ? " (CHANGED since)" : "");
    }
}

/* Another soukctl on the same database waits here; the lock dies with the connection. */
static int
lock(struct mdb *db, struct arena *a, const char *dbname)
{
    struct mdb_rows *rs;
    int              rc;

    rc = mdb_query(db, a, "SELECT GET_LOCK(?, ?)",
                   (struct mdb_arg[]){MDB_STR(arena_printf(a, "soukctl.schema.%.40s", dbname)),
                                      MDB_I64(SCHEMA_LOCK_WAIT)},
                   2, &rs);
    if (rc == ERR_OK && mdb_i64(rs, 0, 0) != 1) {
        common_fail("another soukctl holds the schema lock on %s", dbname);
        rc = ERR_BUSY;
    }
    return rc;
}

static int
schema_run(struct ctl *ctl, const struct ctl_target *t, const char *dir, int up)
{
    struct arena  *a = arena_create();
    struct mdb    *db = NULL;
    struct mdb_dsn d;
    struct plan    pl = {0};
    int            rc;

    rc = read_dir(dir, a, &pl);
    if (rc == ERR_OK)
        rc = check_numbers(&pl, dir);
    if (rc)
        goto done;
    db = mdb_new(common_target_dsn(ctl, t));
    rc = db == NULL ? ERR_INVALID : mdb_dsn_parse(common_target_dsn(ctl, t), a, &d);
    if (rc) {
        common_fail("the %s dsn is not mysql://user:pass@host:port/db", t->name);
        goto done;
    }
    rc = lock(db, a, d.name);
    if (rc == ERR_OK)
        rc = mdb_exec_multi(db, schema_table_sql);
    if (rc == ERR_OK)
        rc = read_applied(db, a, &pl, dir);
    if (rc) {
        if (rc != ERR_BUSY)
            common_fail("cannot reach the %s database %s on %s:%u as %s (see the log line above)",
                        t->name, d.name, d.host, d.port, d.user);
        goto done;
    }
    if (!up)
        print_status(&pl);
    if (pl.problems) {
        common_fail("refusing to go on: %d problem%s above", pl.problems,
                    pl.problems > 1 ? "s" : "");
        rc = ERR_CONFLICT;
        goto done;
    }
    if (up)
        rc = run_up(db, &pl, dir);
done:
    mdb_free(db);
    arena_destroy(a);
    return rc ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

int
schema_main(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const struct ctl_target *t;
    struct arena            *a;
    const char              *dir = NULL;
    int                      c, rc;

    optind = 1;
    for (c = getopt_long(argc, argv, "d:h", opts, NULL); c != -1;
         c = getopt_long(argc, argv, "d:h", opts, NULL)) {
        if (c == 'h') {
            fputs(schema_usage, stdout);
            return CTL_EXIT_OK;
        }
        if (c != 'd') {
            fputs(schema_usage, stderr);
            return CTL_EXIT_USAGE;
        }
        dir = optarg;
    }
    if (argc - optind != 2 || (strcmp(argv[optind], "up") && strcmp(argv[optind], "status"))) {
        fputs(schema_usage, stderr);
        return CTL_EXIT_USAGE;
    }
    t = common_target(argv[optind + 1]);
    if (t == NULL)
        return CTL_EXIT_USAGE;
    a = arena_create();
    rc = schema_run(ctl, t, common_migrations_dir(ctl, t, dir, a), strcmp(argv[optind], "up") == 0);
    arena_destroy(a);
    return rc;
}
