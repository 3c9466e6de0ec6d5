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
    "sorts before one already applied. DIR defaults to SOUK_MIGRATIONS_DIR, else the\n"
    "target's directory (below) in the repository the binary was built from. The\n"
    "database is the one in the target's variable. On PostgreSQL each file and its\n"
    "record commit in one transaction; on MariaDB DDL commits implicitly, so a file\n"
    "that fails half-way leaves its earlier statements applied.\n"
    "\n";

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

/* Merge the schema_migrations rows into the plan and count what forbids going on. */
static void
merge_applied(struct plan *pl, const struct schema_row *rows, size_t nrows, const char *dir)
{
    struct migration *m;
    const char       *last = "";
    size_t            i;

    for (i = 0; i < nrows; i++) {
        m = find(pl, rows[i].version);
        if (m == NULL) {
            common_fail("%s was applied but is missing from %s", rows[i].version, dir);
            pl->problems++;
            continue;
        }
        m->applied_sum = rows[i].checksum;
        m->applied_at = rows[i].applied_at;
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
}

static int
run_up(const struct schema_driver *drv, void *conn, struct arena *a, struct plan *pl,
       const char *dir)
{
    struct migration *m;
    double            t;
    size_t            i, n = 0;
    int               rc;

    for (i = 0; i < pl->n; i++) {
        m = &pl->m[i];
        if (m->applied_sum != NULL)
            continue;
        t = common_now();
        rc = drv->apply(conn, a, dir, m->version, blank_sql(m->sql) ? NULL : m->sql, m->sum);
        if (rc)
            return rc;
        printf("applied %s (%.0f ms)\n", m->version, (common_now() - t) * 1000);
        fflush(stdout);
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

/* The driver for each kind of target. */
static const struct schema_driver *const schema_drivers[] = {
    [CTL_MARIADB] = &schema_mdb,
    [CTL_POSTGRES] = &schema_pg,
};

static int
schema_run(struct ctl *ctl, const struct ctl_target *t, const char *dir, int up)
{
    const struct schema_driver *drv = schema_drivers[t->kind];
    struct schema_row          *rows;
    struct arena               *a = arena_create();
    struct plan                 pl = {0};
    void                       *conn = NULL;
    size_t                      nrows;
    int                         rc;

    rc = read_dir(dir, a, &pl);
    if (rc == ERR_OK)
        rc = check_numbers(&pl, dir);
    if (rc == ERR_OK)
        rc = drv->open(ctl, t, a, &conn);
    if (rc == ERR_OK)
        rc = drv->applied(conn, a, &rows, &nrows);
    if (rc)
        goto done;
    merge_applied(&pl, rows, nrows, dir);
    if (!up)
        print_status(&pl);
    if (pl.problems) {
        common_fail("refusing to go on: %d problem%s above", pl.problems,
                    pl.problems > 1 ? "s" : "");
        rc = ERR_CONFLICT;
        goto done;
    }
    if (up)
        rc = run_up(drv, conn, a, &pl, dir);
done:
    if (conn != NULL)
        drv->close(conn);
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
            common_targets_help(stdout);
            return CTL_EXIT_OK;
        }
        if (c != 'd') {
            fputs(schema_usage, stderr);
            common_targets_help(stderr);
            return CTL_EXIT_USAGE;
        }
        dir = optarg;
    }
    if (argc - optind != 2 || (strcmp(argv[optind], "up") && strcmp(argv[optind], "status"))) {
        fputs(schema_usage, stderr);
        common_targets_help(stderr);
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
