/*
 * db.c - `soukctl db create TARGET`: with the admin account, create the
 * target's database and its user (from the target's dsn), allowed on that
 * database only. Idempotent: re-running resets the password to the dsn's.
 * This file does MariaDB targets; db_pg.c does PostgreSQL ones.
 */
#include <stdio.h>
#include <string.h>

#include "soukctl.h"

static const char db_usage[] =
    "usage: soukctl db create TARGET\n"
    "\n"
    "Creates TARGET's database and its user, with the names and password from\n"
    "TARGET's dsn (its variable is listed below). Safe to repeat: a repeat resets\n"
    "the password to the dsn's.\n"
    "\n"
    "MariaDB (as SOUK_MARIADB_ADMIN_DSN): a utf8mb4 database and the user at\n"
    "127.0.0.1 and localhost with ALL privileges on that database only; the\n"
    "monolith's user also gets REPLICATION SLAVE and BINLOG MONITOR (global), which\n"
    "live migration's souk-sync needs to stream the binlog.\n"
    "PostgreSQL (as SOUK_PG_ADMIN_DSN): a login role and a UTF8 database it owns;\n"
    "no other role may connect (REVOKE ALL ON DATABASE ... FROM PUBLIC) or create\n"
    "in its public schema.\n"
    "\n";

/* Hosts the user may connect from: the dsn's usual spellings of this machine. */
static const char *const db_hosts[] = {"127.0.0.1", "localhost", NULL};

/* The statements for one host; pw is an already quoted literal. */
static int
create_user(struct mdb *admin, struct arena *a, const struct mdb_dsn *d, const char *host,
            const char *pw)
{
    const char *sql;
    char       *grant_db = arena_alloc(a, 2 * strlen(d->name) + 1), *p = grant_db;
    size_t      i;
    int         rc;

    /* In GRANT ... ON `db`.*, _ and % are wildcards: souk_monolith would also
     * grant soukXmonolith. Escape them so the role gets exactly its database. */
    for (i = 0; d->name[i]; i++) {
        if (d->name[i] == '_' || d->name[i] == '%')
            *p++ = '\\';
        *p++ = d->name[i];
    }
    *p = '\0';
    sql = arena_printf(a,
                       "CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY %s;"
                       "ALTER USER '%s'@'%s' IDENTIFIED BY %s;"
                       "GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%s'",
                       d->user, host, pw, d->user, host, pw, grant_db, d->user, host);
    rc = mdb_exec_multi(admin, sql);
    if (rc)
        common_fail("cannot create user %s@%s (see the log line above)", d->user, host);
    return rc;
}

/* The monolith's account also reads the binlog for live migration's forward
 * sync (migrate/README.md): REPLICATION SLAVE for COM_BINLOG_DUMP, BINLOG
 * MONITOR for @@gtid_binlog_pos and the snapshot's position (MariaDB 10.11
 * names them so). Both are global: they show every database's changes. */
static int
grant_binlog(struct mdb *admin, struct arena *a, const struct mdb_dsn *d, const char *host)
{
    int rc = mdb_exec_multi(admin, arena_printf(a,
                                                "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* "
                                                "TO '%s'@'%s'",
                                                d->user, host));

    if (rc)
        common_fail("cannot grant the binlog to %s@%s (see the log line above)", d->user, host);
    return rc;
}

static int
db_create(struct ctl *ctl, const struct ctl_target *t)
{
    struct arena  *a = arena_create();
    struct mdb    *admin = NULL;
    struct mdb_dsn d;
    char          *pw;
    size_t         i;
    int            rc;

    rc = mdb_dsn_parse(common_target_dsn(ctl, t), a, &d);
    if (rc || !common_plain_ident(d.name, 64) || !common_plain_ident(d.user, 80)) {
        common_fail("%s dsn must be mysql://user:pass@host:port/db with a plain user and "
                    "database name",
                    t->name);
        rc = ERR_INVALID;
        goto done;
    }
    admin = mdb_new(ctl->cfg.admin_dsn);
    if (admin == NULL) {
        common_fail("SOUK_MARIADB_ADMIN_DSN is not a mysql:// dsn");
        rc = ERR_INVALID;
        goto done;
    }
    rc = mdb_quote(admin, a, d.pass, &pw);
    if (rc) {
        common_fail("cannot connect as the admin (SOUK_MARIADB_ADMIN_DSN); is MariaDB running?");
        goto done;
    }
    rc = mdb_exec_multi(admin, arena_printf(a,
                                            "CREATE DATABASE IF NOT EXISTS `%s` "
                                            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                                            d.name));
    if (rc) {
        common_fail("cannot create database %s (see the log line above)", d.name);
        goto done;
    }
    for (i = 0; db_hosts[i] != NULL && rc == ERR_OK; i++)
        rc = create_user(admin, a, &d, db_hosts[i], pw);
    for (i = 0; db_hosts[i] != NULL && rc == ERR_OK && strcmp(t->name, "monolith") == 0; i++)
        rc = grant_binlog(admin, a, &d, db_hosts[i]);
    if (rc)
        goto done;
    printf("database %s ready for user %s (127.0.0.1, localhost)\n", d.name, d.user);
done:
    mdb_free(admin);
    arena_destroy(a);
    return rc ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

int
db_main(struct ctl *ctl, int argc, char **argv)
{
    const struct ctl_target *t;

    if (common_wants_help(argc, argv)) {
        fputs(db_usage, stdout);
        common_targets_help(stdout);
        return CTL_EXIT_OK;
    }
    if (argc != 3 || strcmp(argv[1], "create") != 0) {
        fputs(db_usage, stderr);
        common_targets_help(stderr);
        return CTL_EXIT_USAGE;
    }
    t = common_target(argv[2]);
    if (t == NULL)
        return CTL_EXIT_USAGE;
    return t->kind == CTL_POSTGRES ? db_create_pg(ctl, t) : db_create(ctl, t);
}
