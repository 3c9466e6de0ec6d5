/*
 * schema.c - `soukctl schema up|status TARGET`: forward-only migrations.
 * Files NNNN_name.sql in the target's migrations directory are applied in
 * name order and recorded in schema_migrations with their SHA-256. An
 * applied file that changed or disappeared stops everything: history is
 * never rewritten, a fix is a new file. A database that publishes or
 * consumes events has two tracks: the event backbone's (lib/migrations,
 * recorded as "backbone/NNNN_x.sql"), applied first, then its own.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
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
    "that fails half-way leaves its earlier statements applied. Targets marked\n"
    "lib/migrations first get the event backbone's tables (outbox, inbox) from there\n"
    "(SOUK_BACKBONE_MIGRATIONS_DIR), recorded as backbone/NNNN_name.sql.\n"
    "\n";

#define SUPERSEDES     "-- soukctl: supersedes "
#define SUPERSEDES_MAX 4

/* One migration: a file, a schema_migrations row, or both. */
struct migration {
    const char *version; /* the file name, e.g. "0001_schema.sql" */
    const char *sql;     /* file contents; NULL when the file is missing */
    char        sum[65];
    /* Earlier revisions of the file a database may have applied instead:
     * the checksums its "-- soukctl: supersedes <sha256>" lines name. */
    char        old_sums[SUPERSEDES_MAX][65];
    int         nold;
    const char *applied_sum; /* NULL when not applied */
    const char *applied_at;
};

/* One track of migrations: a directory, and the prefix its rows carry in
 * schema_migrations ("" for the target's own, "backbone/" for lib's). */
struct plan {
    const char       *dir, *prefix;
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

/* The checksums text's "-- soukctl: supersedes <sha256>" lines name. Such a
 * line says the file was edited after some databases applied it, in a way
 * that leaves them with the schema the new text builds (e.g. DDL moved to
 * the backbone track, which creates it IF NOT EXISTS before this file). */
static void
read_supersedes(const char *text, struct migration *m)
{
    const char *p = text;
    size_t      n;

    while ((p = strstr(p, SUPERSEDES)) != NULL) {
        p += sizeof(SUPERSEDES) - 1;
        n = strspn(p, "0123456789abcdef");
        if (n == 64 && m->nold < SUPERSEDES_MAX) {
            memcpy(m->old_sums[m->nold], p, 64);
            m->old_sums[m->nold++][64] = '\0';
        }
    }
}

static int
superseded(const struct migration *m, const char *sum)
{
    int i;

    for (i = 0; i < m->nold; i++)
        if (strcmp(m->old_sums[i], sum) == 0)
            return 1;
    return 0;
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
        memset(&pl->m[pl->n], 0, sizeof(pl->m[pl->n]));
        pl->m[pl->n].version = arena_strdup(a, e->d_name);
        pl->m[pl->n].sql = text;
        auth_sha256_hex(text, len, pl->m[pl->n].sum);
        read_supersedes(text, &pl->m[pl->n]);
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

/* The file name of a schema_migrations row if it belongs to pl's track, else NULL. */
static const char *
in_track(const struct plan *pl, const char *version)
{
    size_t n = strlen(pl->prefix);

    if (strncmp(version, pl->prefix, n) != 0 || strchr(version + n, '/') != NULL)
        return NULL;
    return version + n;
}

/* Merge the schema_migrations rows of pl's track into it and count what forbids going on. */
static void
merge_applied(struct plan *pl, const struct schema_row *rows, size_t nrows)
{
    struct migration *m;
    const char       *last = "", *dir = pl->dir, *name;
    size_t            i;

    for (i = 0; i < nrows; i++) {
        name = in_track(pl, rows[i].version);
        if (name == NULL)
            continue;
        m = find(pl, name);
        if (m == NULL) {
            common_fail("%s was applied but is missing from %s", rows[i].version, dir);
            pl->problems++;
            continue;
        }
        m->applied_sum = rows[i].checksum;
        m->applied_at = rows[i].applied_at;
        if (strcmp(m->sum, m->applied_sum) != 0 && !superseded(m, m->applied_sum)) {
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

/* Apply pl's pending files in order; *n counts them. */
static int
run_up(const struct schema_driver *drv, void *conn, struct arena *a, struct plan *pl, size_t *n)
{
    struct migration *m;
    const char       *version;
    double            t;
    size_t            i;
    int               rc;

    for (i = 0; i < pl->n; i++) {
        m = &pl->m[i];
        if (m->applied_sum != NULL)
            continue;
        version = arena_printf(a, "%s%s", pl->prefix, m->version);
        t = common_now();
        rc = drv->apply(conn, a, pl->dir, version, blank_sql(m->sql) ? NULL : m->sql, m->sum);
        if (rc)
            return rc;
        printf("applied %s (%.0f ms)\n", version, (common_now() - t) * 1000);
        fflush(stdout);
        (*n)++;
    }
    return ERR_OK;
}

static void
print_status(const struct plan *pl)
{
    const struct migration *m;
    const char             *note;
    size_t                  i;
    char                    name[300];

    for (i = 0; i < pl->n; i++) {
        m = &pl->m[i];
        snprintf(name, sizeof(name), "%s%s", pl->prefix, m->version);
        if (m->applied_sum == NULL) {
            printf("%-40s pending\n", name);
            continue;
        }
        note = "";
        if (strcmp(m->sum, m->applied_sum) != 0)
            note = superseded(m, m->applied_sum) ? " (as an earlier revision it supersedes)"
                                                 : " (CHANGED since)";
        printf("%-40s applied %s%s\n", name, m->applied_at, note);
    }
}

/* The driver for each kind of target. */
static const struct schema_driver *const schema_drivers[] = {
    [CTL_MARIADB] = &schema_mdb,
    [CTL_POSTGRES] = &schema_pg,
};

/* The target's tracks, in the order they are applied: the backbone's
 * first, so a service's own files may refer to outbox and inbox. */
static size_t
tracks(struct ctl *ctl, const struct ctl_target *t, const char *dir, struct arena *a,
       struct plan pl[2])
{
    size_t n = 0;

    memset(pl, 0, 2 * sizeof(*pl));
    if (t->backbone) {
        pl[n].dir = common_backbone_dir(ctl, a);
        pl[n++].prefix = "backbone/";
    }
    if (dir != NULL) {
        pl[n].dir = dir;
        pl[n++].prefix = "";
    }
    return n;
}

static int
schema_run(struct ctl *ctl, const struct ctl_target *t, const char *dir, int up)
{
    const struct schema_driver *drv = schema_drivers[t->kind];
    struct schema_row          *rows;
    struct arena               *a = arena_create();
    struct plan                 pl[2];
    void                       *conn = NULL;
    size_t                      nrows, ntracks, i, applied = 0;
    int                         rc = ERR_OK, problems = 0;

    ntracks = tracks(ctl, t, dir, a, pl);
    for (i = 0; rc == ERR_OK && i < ntracks; i++) {
        rc = read_dir(pl[i].dir, a, &pl[i]);
        if (rc == ERR_OK)
            rc = check_numbers(&pl[i], pl[i].dir);
    }
    if (rc == ERR_OK)
        rc = drv->open(ctl, t, a, &conn);
    if (rc == ERR_OK)
        rc = drv->applied(conn, a, &rows, &nrows);
    if (rc)
        goto done;
    for (i = 0; i < ntracks; i++) {
        merge_applied(&pl[i], rows, nrows);
        if (!up)
            print_status(&pl[i]);
        problems += pl[i].problems;
    }
    if (problems) {
        common_fail("refusing to go on: %d problem%s above", problems, problems > 1 ? "s" : "");
        rc = ERR_CONFLICT;
        goto done;
    }
    for (i = 0; up && rc == ERR_OK && i < ntracks; i++)
        rc = run_up(drv, conn, a, &pl[i], &applied);
    if (up && rc == ERR_OK && applied == 0)
        puts("up to date");
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
