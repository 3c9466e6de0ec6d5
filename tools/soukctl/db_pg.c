/*
 * db_pg.c - `soukctl db create TARGET` for a PostgreSQL target: as the
 * superuser in SOUK_PG_ADMIN_DSN, a login role and a database it owns, which
 * no other role may connect to or create objects in (DESIGN.md §2: a role
 * has no privilege on any other service's database).
 */
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "soukctl.h"

/* One statement of the recipe. The server writes it with format() from the
 * role ($1), its password ($2) and the database ($3) - %I quotes an
 * identifier, %L a literal - so no name or password is pasted into SQL here.
 * The query yields no row when the step is not needed. One statement per
 * step because CREATE DATABASE cannot run inside a transaction. */
#define PG_STEP(in_db, what, skip_if, fmt)                                                         \
    {                                                                                              \
        in_db, what,                                                                               \
            "SELECT format('" fmt "', $1::text, $2::text, $3::text) WHERE NOT (" skip_if ")"       \
    }

static const struct pg_step {
    int         in_db; /* 1: run in the new database, 0: in the admin dsn's */
    const char *what;  /* for the failure message */
    const char *sql;
} pg_steps[] = {
    PG_STEP(0, "create the role", "EXISTS (SELECT FROM pg_roles WHERE rolname = $1::text)",
            "CREATE ROLE %1$I"),
    PG_STEP(0, "set the role's password", "false", "ALTER ROLE %1$I WITH LOGIN PASSWORD %2$L"),
    PG_STEP(0, "create the database", "EXISTS (SELECT FROM pg_database WHERE datname = $3::text)",
            "CREATE DATABASE %3$I OWNER %1$I ENCODING ''UTF8'' TEMPLATE template0"),
    PG_STEP(0, "give the database to the role", "false", "ALTER DATABASE %3$I OWNER TO %1$I"),
    PG_STEP(0, "close the database to other roles", "false",
            "REVOKE ALL ON DATABASE %3$I FROM PUBLIC"),
    PG_STEP(1, "close the public schema to other roles", "false",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
    PG_STEP(1, "give the public schema to the role", "false", "GRANT ALL ON SCHEMA public TO %1$I"),
};
#define PG_NSTEPS (sizeof(pg_steps) / sizeof(pg_steps[0]))

/* dsn with its database replaced by name (a plain identifier): the path of
 * a URL, or a trailing dbname= of a key=value string (the last one wins). */
static const char *
with_dbname(const char *dsn, const char *name, struct arena *a)
{
    const char *p = strstr(dsn, "://"), *end, *rest;

    if (p == NULL)
        return arena_printf(a, "%s dbname=%s", dsn, name);
    p += 3;
    end = p + strcspn(p, "/?#");
    rest = end + strcspn(end, "?#");
    return arena_printf(a, "%.*s/%s%s", (int)(end - dsn), dsn, name, rest);
}

static int
run_step(struct db *db, struct arena *a, const struct pg_step *s, const char *const *params)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_sql(db, a, s->sql, 3, params, &rs);
    if (rc == ERR_OK && rs->nrows == 1)
        rc = db_exec_sql(db, a, db_get(rs, 0, 0), 0, NULL, NULL);
    if (rc == ERR_UNAVAILABLE)
        common_fail("cannot connect as SOUK_PG_ADMIN_DSN%s; is PostgreSQL running?",
                    s->in_db ? " to the new database" : "");
    else if (rc)
        common_fail("cannot %s (see the log line above)", s->what);
    return rc;
}

int
db_create_pg(struct ctl *ctl, const struct ctl_target *t)
{
    struct arena  *a = arena_create();
    struct db     *conn[2] = {NULL, NULL};
    struct mdb_dsn d;
    size_t         i;
    int            rc;

    /* PostgreSQL folds unquoted names to lower case: plain lower-case words
     * keep the dsn, psql and the catalogs spelling them alike. */
    rc = common_dsn_parse(t->kind, common_target_dsn(ctl, t), a, &d);
    if (rc || !common_plain_ident(d.name, 63) || !common_plain_ident(d.user, 63) ||
        strspn(d.name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(d.name) ||
        strspn(d.user, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(d.user)) {
        common_fail("%s must be postgresql://user:pass@host:port/db with a lower-case plain user "
                    "and database name",
                    t->env);
        rc = ERR_INVALID;
        goto done;
    }
    conn[0] = db_new(ctl->cfg.pg_admin_dsn, NULL);
    conn[1] = db_new(with_dbname(ctl->cfg.pg_admin_dsn, d.name, a), NULL);
    if (conn[0] == NULL || conn[1] == NULL) {
        rc = ERR_INTERNAL;
        goto done;
    }
    for (i = 0; i < PG_NSTEPS && rc == ERR_OK; i++)
        rc = run_step(conn[pg_steps[i].in_db], a, &pg_steps[i],
                      (const char *const[]){d.user, d.pass, d.name});
    if (rc)
        goto done;
    printf("database %s ready for role %s (no other role may connect)\n", d.name, d.user);
done:
    db_free(conn[0]);
    db_free(conn[1]);
    arena_destroy(a);
    return rc ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
