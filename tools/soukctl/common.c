/*
 * common.c - what soukctl's subcommands share: the SOUK_* configuration
 * table, the table of managed databases (targets), file reading, checksums
 * and small command-line helpers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "auth.h"
#include "cfg.h"
#include "soukctl.h"
#include "str.h"

static const struct cfg_var ctl_vars[] = {
    CFG_STR_ROW("SOUK_MONOLITH_DB", struct ctl_config, monolith_db,
                "mysql://souk_monolith:souk-dev@127.0.0.1:53306/souk_monolith",
                "the monolith's MariaDB database"),
    CFG_STR_ROW("SOUK_CATALOG_DB", struct ctl_config, catalog_db,
                "postgresql://catalog:souk-dev@127.0.0.1:55432/catalog",
                "the catalog service's PostgreSQL database"),
    CFG_STR_ROW("SOUK_SEARCH_DB", struct ctl_config, search_db,
                "postgresql://search:souk-dev@127.0.0.1:55432/search",
                "the search service's PostgreSQL database"),
    CFG_STR_ROW("SOUK_USERS_DB", struct ctl_config, users_db,
                "postgresql://users:souk-dev@127.0.0.1:55432/users",
                "the users service's PostgreSQL database"),
    CFG_STR_ROW("SOUK_REVIEWS_DB", struct ctl_config, reviews_db,
                "postgresql://reviews:souk-dev@127.0.0.1:55432/reviews",
                "the reviews service's PostgreSQL database"),
    CFG_STR_ROW("SOUK_CART_DB", struct ctl_config, cart_db,
                "postgresql://cart:souk-dev@127.0.0.1:55432/cart",
                "the cart service's PostgreSQL database (its inbox)"),
    CFG_STR_ROW("SOUK_ORDERS_DB", struct ctl_config, orders_db,
                "postgresql://orders:souk-dev@127.0.0.1:55432/orders",
                "the orders service's PostgreSQL database"),
    CFG_STR_ROW("SOUK_INVENTORY_DB", struct ctl_config, inventory_db,
                "postgresql://inventory:souk-dev@127.0.0.1:55432/inventory",
                "the inventory service's PostgreSQL database"),
    CFG_STR_ROW("SOUK_PAYMENTS_DB", struct ctl_config, payments_db,
                "postgresql://payments:souk-dev@127.0.0.1:55432/payments",
                "the payments service's PostgreSQL database"),
    CFG_STR_ROW("SOUK_HISTORY_DB", struct ctl_config, history_db,
                "postgresql://history:souk-dev@127.0.0.1:55432/history",
                "the history service's PostgreSQL database (backfill orders fills it)"),
    CFG_STR_ROW("SOUK_ORDERS_URL", struct ctl_config, orders_url, "http://127.0.0.1:7106",
                "souk-orders (history rebuild reads its order-events feed)"),
    CFG_STR_ROW("SOUK_HISTORY_URL", struct ctl_config, history_url, "http://127.0.0.1:7109",
                "souk-history (history rebuild)"),
    CFG_STR_ROW("SOUK_JWT_SECRET", struct ctl_config, jwt_secret, AUTH_DEV_SECRET,
                "signs the admin token history rebuild presents"),
    CFG_STR_ROW("SOUK_REPORTING_DB", struct ctl_config, reporting_db,
                "postgresql://reporting:souk-dev@127.0.0.1:55432/reporting",
                "the reporting service's PostgreSQL database"),
    CFG_STR_ROW("SOUK_BACKBONE_DB", struct ctl_config, backbone_db,
                "postgresql://backbone:souk-dev@127.0.0.1:55432/backbone",
                "a database with only the event backbone's tables (lib's tests)"),
    CFG_STR_ROW("SOUK_MIGRATE_DB", struct ctl_config, migrate_db,
                "postgresql://migrate:souk-dev@127.0.0.1:55432/migrate",
                "soukctl migrate's state: each domain's step, who ran what when"),
    CFG_STR_ROW("SOUK_MARIADB_ADMIN_DSN", struct ctl_config, admin_dsn,
                "mysql://souk_admin:souk-dev@127.0.0.1:53306/mysql",
                "MariaDB account that may create databases and users (db create)"),
    CFG_STR_ROW("SOUK_PG_ADMIN_DSN", struct ctl_config, pg_admin_dsn,
                "postgresql://souk_admin:souk-dev@127.0.0.1:55432/postgres",
                "PostgreSQL superuser that may create databases and roles (db create)"),
    CFG_STR_ROW("SOUK_AMQP_URL", struct ctl_config, amqp_url,
                "amqp://souk:souk-dev@127.0.0.1:55672/%2f", "RabbitMQ (dlq)"),
    CFG_STR_ROW("SOUK_MIGRATIONS_DIR", struct ctl_config, migrations_dir, "",
                "migrations directory (default: the target's, under <repo>)"),
    CFG_STR_ROW("SOUK_BACKBONE_MIGRATIONS_DIR", struct ctl_config, backbone_dir, "",
                "the event backbone's migrations (default: <repo>/lib/migrations)"),
    CFG_STR_ROW("SOUK_LOG_LEVEL", struct ctl_config, log_level, "warn",
                "debug, info, warn or error (JSON lines on stderr)"),
    {NULL, CFG_STR, 0, NULL, 0, 0, NULL},
};

static const struct ctl_target ctl_targets[] = {
    {"monolith", CTL_MARIADB, "SOUK_MONOLITH_DB", offsetof(struct ctl_config, monolith_db),
     "monolith/migrations", 0},
    {"catalog", CTL_POSTGRES, "SOUK_CATALOG_DB", offsetof(struct ctl_config, catalog_db),
     "services/catalog/migrations", 1},
    {"search", CTL_POSTGRES, "SOUK_SEARCH_DB", offsetof(struct ctl_config, search_db),
     "services/search/migrations", 1},
    {"users", CTL_POSTGRES, "SOUK_USERS_DB", offsetof(struct ctl_config, users_db),
     "services/users/migrations", 1},
    {"reviews", CTL_POSTGRES, "SOUK_REVIEWS_DB", offsetof(struct ctl_config, reviews_db),
     "services/reviews/migrations", 1},
    {"cart", CTL_POSTGRES, "SOUK_CART_DB", offsetof(struct ctl_config, cart_db),
     "services/cart/migrations", 1},
    {"orders", CTL_POSTGRES, "SOUK_ORDERS_DB", offsetof(struct ctl_config, orders_db),
     "services/orders/migrations", 1},
    {"inventory", CTL_POSTGRES, "SOUK_INVENTORY_DB", offsetof(struct ctl_config, inventory_db),
     "services/inventory/migrations", 1},
    {"payments", CTL_POSTGRES, "SOUK_PAYMENTS_DB", offsetof(struct ctl_config, payments_db),
     "services/payments/migrations", 1},
    {"history", CTL_POSTGRES, "SOUK_HISTORY_DB", offsetof(struct ctl_config, history_db),
     "services/history/migrations", 1},
    {"reporting", CTL_POSTGRES, "SOUK_REPORTING_DB", offsetof(struct ctl_config, reporting_db),
     "services/reporting/migrations", 1},
    {"backbone", CTL_POSTGRES, "SOUK_BACKBONE_DB", offsetof(struct ctl_config, backbone_db), NULL,
     1},
    /* The backbone's tables too: the reverse syncs keep their inbox here (SOUK_REVERSE_DB). */
    {"migrate", CTL_POSTGRES, "SOUK_MIGRATE_DB", offsetof(struct ctl_config, migrate_db),
     "tools/soukctl/migrations", 1},
    {NULL, CTL_MARIADB, NULL, 0, NULL, 0},
};

void
common_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("soukctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *
env_get(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

/* The binary lives in <root>/<build>/bin/, so the root is two levels up.
 * (<limits.h> is shadowed by lib/limits.h under -Ilib, hence no PATH_MAX.) */
static const char *
guess_root(const char *argv0)
{
    static char path[4096];
    ssize_t     n;
    char       *slash;
    int         i;

    n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0) {
        if (realpath(argv0, path) == NULL)
            return ".";
        n = (ssize_t)strlen(path);
    }
    path[n] = '\0';
    for (i = 0; i < 3; i++) {
        slash = strrchr(path, '/');
        if (slash == NULL)
            return ".";
        *slash = '\0';
    }
    return path[0] ? path : "/";
}

int
common_config(struct ctl *ctl, const char *argv0)
{
    struct buf errors;
    int        rc;

    memset(ctl, 0, sizeof(*ctl));
    buf_init(&errors, 65536);
    rc = cfg_parse(ctl_vars, &ctl->cfg, env_get, NULL, &errors);
    if (rc)
        fprintf(stderr, "soukctl: bad configuration:\n%s", buf_data(&errors));
    buf_free(&errors);
    ctl->root = guess_root(argv0);
    return rc;
}

void
common_config_help(FILE *f)
{
    const struct cfg_var *v;

    fputs("environment:\n", f);
    for (v = ctl_vars; v->env != NULL; v++)
        fprintf(f, "  %-24s %s\n  %-24s (default \"%s\")\n", v->env, v->help, "", v->def);
}

const struct ctl_target *
common_target(const char *name)
{
    const struct ctl_target *t;

    for (t = ctl_targets; name != NULL && t->name != NULL; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    common_fail("unknown target \"%s\"; known targets:", name ? name : "");
    for (t = ctl_targets; t->name != NULL; t++)
        fprintf(stderr, "  %s\n", t->name);
    return NULL;
}

const char *
common_target_dsn(const struct ctl *ctl, const struct ctl_target *t)
{
    return *(const char *const *)((const char *)&ctl->cfg + t->dsn_offset);
}

void
common_targets_help(FILE *f)
{
    const struct ctl_target *t;

    fputs("targets:\n", f);
    for (t = ctl_targets; t->name != NULL; t++)
        fprintf(f, "  %-9s %-10s %-17s %s%s\n", t->name,
                t->kind == CTL_MARIADB ? "MariaDB" : "PostgreSQL", t->env,
                t->backbone ? "lib/migrations " : "", t->migrations ? t->migrations : "");
}

int
common_dsn_parse(enum ctl_kind kind, const char *dsn, struct arena *a, struct mdb_dsn *out)
{
    const char *rest, *host;
    int         rc;

    if (kind == CTL_MARIADB)
        return mdb_dsn_parse(dsn, a, out);
    /* The PostgreSQL URL has the MariaDB one's grammar: parse it as one and
     * fix the default port, which mdb_dsn_parse takes as 3306. */
    if (dsn != NULL && strncmp(dsn, "postgresql://", 13) == 0)
        rest = dsn + 13;
    else if (dsn != NULL && strncmp(dsn, "postgres://", 11) == 0)
        rest = dsn + 11;
    else
        return ERR_INVALID;
    rc = mdb_dsn_parse(arena_printf(a, "mysql://%s", rest), a, out);
    if (rc)
        return rc;
    host = rest + strcspn(rest, "/");
    while (host > rest && host[-1] != '@')
        host--;
    if (host[0] == '[')
        host = strchr(host, ']');
    if (strcspn(host, ":/") == strcspn(host, "/"))
        out->port = 5432;
    return ERR_OK;
}

int
common_plain_ident(const char *z, size_t max)
{
    size_t n = strlen(z);

    if (n == 0 || n > max)
        return 0;
    return strspn(z, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

const char *
common_migrations_dir(const struct ctl *ctl, const struct ctl_target *t, const char *flag,
                      struct arena *a)
{
    if (flag != NULL && flag[0] != '\0')
        return flag;
    if (t->migrations == NULL)
        return NULL;
    if (ctl->cfg.migrations_dir[0] != '\0')
        return ctl->cfg.migrations_dir;
    return arena_printf(a, "%s/%s", ctl->root, t->migrations);
}

const char *
common_backbone_dir(const struct ctl *ctl, struct arena *a)
{
    if (ctl->cfg.backbone_dir[0] != '\0')
        return ctl->cfg.backbone_dir;
    return arena_printf(a, "%s/lib/migrations", ctl->root);
}

int
common_read_file(const char *path, struct arena *a, char **out, size_t *len)
{
    FILE *f = NULL;
    char *p;
    long  n;
    int   rc = ERR_INTERNAL;

    f = fopen(path, "rb");
    if (f == NULL) {
        common_fail("cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL;
    }
    n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        common_fail("cannot size %s: %s", path, strerror(errno));
        goto done;
    }
    p = arena_alloc(a, (size_t)n + 1);
    if (n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n) {
        common_fail("cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    *out = p;
    *len = (size_t)n;
    rc = ERR_OK;
done:
    fclose(f);
    return rc;
}

double
common_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
common_int_opt(const char *opt, const char *value, int64_t min, int64_t max, int64_t *out)
{
    int rc;

    rc = str_z_to_i64(value, min, max, out);
    if (rc)
        common_fail("--%s must be an integer between %lld and %lld, got \"%s\"", opt,
                    (long long)min, (long long)max, value ? value : "");
    return rc;
}

int
common_wants_help(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}
