/*
 * soukctl.h - the operator's tool: one binary, one file per subcommand
 * (varnish style). main.c dispatches, common.c holds what the subcommands
 * share, seed_*.c generate the demo data. Single-threaded by design.
 */
#ifndef SOUKCTL_H
#define SOUKCTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "err.h"
#include "mdb.h"

#define CTL_EXIT_OK    0
#define CTL_EXIT_FAIL  1 /* the operation failed; the message says why */
#define CTL_EXIT_USAGE 2 /* bad command line */

/* Effective configuration, read once from SOUK_* variables (common.c table). */
struct ctl_config {
    const char *monolith_db;    /* SOUK_MONOLITH_DB */
    const char *catalog_db;     /* SOUK_CATALOG_DB */
    const char *search_db;      /* SOUK_SEARCH_DB */
    const char *users_db;       /* SOUK_USERS_DB */
    const char *reviews_db;     /* SOUK_REVIEWS_DB */
    const char *cart_db;        /* SOUK_CART_DB */
    const char *orders_db;      /* SOUK_ORDERS_DB */
    const char *inventory_db;   /* SOUK_INVENTORY_DB */
    const char *payments_db;    /* SOUK_PAYMENTS_DB */
    const char *reporting_db;   /* SOUK_REPORTING_DB */
    const char *history_db;     /* SOUK_HISTORY_DB */
    const char *orders_url;     /* SOUK_ORDERS_URL: history rebuild's feed */
    const char *history_url;    /* SOUK_HISTORY_URL */
    const char *jwt_secret;     /* SOUK_JWT_SECRET: history rebuild's admin token */
    const char *backbone_db;    /* SOUK_BACKBONE_DB */
    const char *migrate_db;     /* SOUK_MIGRATE_DB: soukctl migrate's state */
    const char *admin_dsn;      /* SOUK_MARIADB_ADMIN_DSN */
    const char *pg_admin_dsn;   /* SOUK_PG_ADMIN_DSN */
    const char *migrations_dir; /* SOUK_MIGRATIONS_DIR; "" = found from the binary */
    const char *backbone_dir;   /* SOUK_BACKBONE_MIGRATIONS_DIR; "" = <root>/lib/migrations */
    const char *amqp_url;       /* SOUK_AMQP_URL */
    const char *log_level;      /* SOUK_LOG_LEVEL */
};

/* Which server a target lives on: it picks the driver for db and schema. */
enum ctl_kind { CTL_MARIADB, CTL_POSTGRES };

/* A database soukctl manages: which variable holds its dsn and where its
 * migrations live, relative to the repository root. */
struct ctl_target {
    const char   *name; /* "monolith" */
    enum ctl_kind kind;
    const char   *env;        /* "SOUK_MONOLITH_DB", for messages */
    size_t        dsn_offset; /* of a const char * in struct ctl_config */
    const char   *migrations; /* "monolith/migrations"; NULL: none of its own */
    int           backbone;   /* 1: the event backbone's tables too (lib/migrations) */
};

struct ctl {
    struct ctl_config cfg;
    const char       *root; /* repository root guessed from the binary's path */
};

typedef int ctl_cmd_fn(struct ctl *ctl, int argc, char **argv);

/* Subcommands: argv[0] is the subcommand name; each returns a CTL_EXIT_* code. */
int db_main(struct ctl *ctl, int argc, char **argv);
int schema_main(struct ctl *ctl, int argc, char **argv);
int seed_main(struct ctl *ctl, int argc, char **argv);
int dlq_main(struct ctl *ctl, int argc, char **argv);
int search_main(struct ctl *ctl, int argc, char **argv);
int history_main(struct ctl *ctl, int argc, char **argv);
int backfill_main(struct ctl *ctl, int argc, char **argv);
int status_main(struct ctl *ctl, int argc, char **argv);
int logs_main(struct ctl *ctl, int argc, char **argv);
int check_main(struct ctl *ctl, int argc, char **argv);
int migrate_main(struct ctl *ctl, int argc, char **argv);

/* db_pg.c: `db create` for a PostgreSQL target (db.c dispatches by kind). */
int db_create_pg(struct ctl *ctl, const struct ctl_target *t);

/* common.c */
MUST_CHECK int common_config(struct ctl *ctl, const char *argv0);
void           common_config_help(FILE *f);
/* The target called name, or NULL (after printing the known ones). */
const struct ctl_target *common_target(const char *name);
const char              *common_target_dsn(const struct ctl *ctl, const struct ctl_target *t);
/* One line per target (name, server, variable, migrations) for --help texts. */
void common_targets_help(FILE *f);
/* The parts of a target's dsn: mysql://... for MariaDB, postgresql:// (or
 * postgres://) for PostgreSQL, same URL grammar. ERR_INVALID when malformed. */
MUST_CHECK int common_dsn_parse(enum ctl_kind kind, const char *dsn, struct arena *a,
                                struct mdb_dsn *out);
/* 1 when z is a plain identifier ([A-Za-z0-9_], 1..max bytes): what may be
 * pasted into SQL text where a parameter cannot go. */
int common_plain_ident(const char *z, size_t max);
/* The target's own migrations directory: flag, else SOUK_MIGRATIONS_DIR,
 * else next to the binary; NULL for a target without migrations of its own. */
const char *common_migrations_dir(const struct ctl *ctl, const struct ctl_target *t,
                                  const char *flag, struct arena *a);
/* The event backbone's migrations directory (SOUK_BACKBONE_MIGRATIONS_DIR,
 * else <root>/lib/migrations). */
const char *common_backbone_dir(const struct ctl *ctl, struct arena *a);
/* Whole file into a (NUL-terminated); ERR_NOT_FOUND or ERR_INTERNAL with a message. */
MUST_CHECK int common_read_file(const char *path, struct arena *a, char **out, size_t *len);
/* Seconds since an arbitrary origin (CLOCK_MONOTONIC). */
double common_now(void);
/* "soukctl: " + message + newline on stderr. */
void common_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse an integer option value in [min, max]; prints the error itself. */
MUST_CHECK int common_int_opt(const char *opt, const char *value, int64_t min, int64_t max,
                              int64_t *out);
/* 1 when argv holds -h or --help. */
int common_wants_help(int argc, char **argv);

/* -------------------------------------------------------------- schema */

/* A schema_migrations row, in an arena. */
struct schema_row {
    const char *version, *checksum, *applied_at;
};

/* What `schema` needs from one kind of server (schema_mdb.c, schema_pg.c).
 * The plan (files, checksums, the refusal rules) lives in schema.c and is
 * the same for every kind; each call prints its own failure message. */
struct schema_driver {
    /* Connect to t's database, take its schema lock (another soukctl on the
     * same database: wait, then ERR_BUSY) and create schema_migrations. */
    int (*open)(const struct ctl *ctl, const struct ctl_target *t, struct arena *a, void **conn);
    /* Every schema_migrations row. */
    int (*applied)(void *conn, struct arena *a, struct schema_row **rows, size_t *n);
    /* Run sql (NULL: the file is blank) and record version and checksum. */
    int (*apply)(void *conn, struct arena *a, const char *dir, const char *version, const char *sql,
                 const char *sum);
    void (*close)(void *conn);
};

extern const struct schema_driver schema_mdb, schema_pg;

/* ------------------------------------------------------------- seeding */

/* splitmix64: tiny, fast, and the same sequence on every platform. */
struct rng {
    uint64_t s;
};

static inline uint64_t
rng_next(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) (n > 0); the modulo bias is far below anything we measure. */
static inline uint64_t
rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

/* Uniform in [lo, hi]. */
static inline int64_t
rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo) + 1);
}

/* 1 with probability pct/100. */
static inline int
rng_pct(struct rng *r, unsigned pct)
{
    return rng_below(r, 100) < pct;
}

/* Uniform in [0, 1). */
static inline double
rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* A stream derived from the run's seed, a purpose and an entity id, so one
 * entity's values do not depend on how many others were generated first. */
struct rng rng_for(uint64_t seed, const char *purpose, uint64_t id);
/* A uniform pick from a NULL-terminated list. */
const char *rng_pick(struct rng *r, const char *const *list);

/* Everything the generators share: the run's parameters and the lookups one
 * phase leaves for the next. */
struct seed {
    struct mdb *db;
    uint64_t    seed;
    int64_t     now; /* anchor (unix seconds): all times lie before it */
    int64_t     products, users, orders, reviews, carts;
    size_t      batch;  /* rows per INSERT */
    int64_t    *price;  /* price[product id] in minor units, for order lines */
    uint64_t    stride; /* popularity rank -> product id permutation */
    char        password_hash[128];
    double      t0;
    double      last_progress;
    uint64_t    rows; /* loaded so far, all tables */
    size_t      uncommitted;
};

/* One table being bulk-loaded with multi-row INSERTs (seed_batch.c). */
struct batch {
    struct seed    *s;
    const char     *table;
    const char     *head; /* "INSERT INTO t (a, b) VALUES " */
    size_t          ncols, nrows;
    struct mdb_arg *args; /* s->batch rows of ncols */
    struct arena   *a;    /* string copies of the buffered rows */
    char           *full; /* SQL for a full batch, built once */
    uint64_t        total;
};

void batch_open(struct batch *b, struct seed *s, const char *table, const char *head, size_t ncols);
/* Buffer one row (strings are copied); sends a statement when full. */
MUST_CHECK int batch_row(struct batch *b, const struct mdb_arg *row);
/* Send what is buffered. */
MUST_CHECK int batch_flush(struct batch *b);
void           batch_close(struct batch *b);
/* "products 40000/100000 (3.2 s)" on stderr, at most twice a second. */
void seed_progress(struct seed *s, const char *what, int64_t done, int64_t total, int force);
/* A DATETIME(3) literal for unix time t plus ms, in a. */
const char *seed_time(struct arena *a, int64_t t, int ms);

/* Phases, in load order (each writes its tables through batches). */
MUST_CHECK int catalog_load(struct seed *s);
MUST_CHECK int people_load(struct seed *s);
MUST_CHECK int orders_load(struct seed *s);
MUST_CHECK int reviews_load(struct seed *s);
MUST_CHECK int carts_load(struct seed *s);

/* Shared lookups between phases. */
int64_t catalog_popular(struct seed *s, struct rng *r); /* a product id, skewed to bestsellers */
/* n distinct popular product ids into ids (fewer when the catalogue is smaller). */
size_t  catalog_pick(struct seed *s, struct rng *r, int64_t *ids, size_t n);
int64_t people_created(const struct seed *s, int64_t user_id);
int     people_has_address(const struct seed *s, int64_t user_id);
/* The user's address (same every call): line1, line2, city, postal code, country. */
void people_address(const struct seed *s, int64_t user_id, struct arena *a, const char *out[5]);
/* A random customer with an address (never the admin). */
int64_t people_customer(struct seed *s, struct rng *r);

#endif
