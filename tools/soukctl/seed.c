/*
 * seed.c - `soukctl seed`: deterministic demo data for the monolith. Reads
 * the options, prepares the session for a bulk load and runs the phases in
 * seed_*.c in order. Same seed, counts and --now give the same rows (except
 * password_hash, whose Argon2id salt is random by design).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "soukctl.h"
#include "str.h"

#define SEED_DAY 86400

static const char seed_usage[] =
    "usage: soukctl seed [--scale N] [--products N] [--users N] [--orders N]\n"
    "                    [--reviews N] [--carts N] [--seed S] [--now YYYY-MM-DD]\n"
    "                    [--batch N] [--if-empty] [--reset]\n"
    "\n"
    "Loads deterministic demo data into the monolith database (SOUK_MONOLITH_DB):\n"
    "categories, products with EAV attributes and stock, users (admin@souk.test,\n"
    "demo@souk.test, customerN@souk.test; password \"souk-demo\"), addresses, reviews,\n"
    "orders over the 24 months before --now with lines and payments, and carts.\n"
    "\n"
    "  --scale N     multiplies the defaults: 2000 products, 500 users and 5000 orders\n"
    "                per unit (default 1); reviews default to 1.5 per product, carts to\n"
    "                one per 50 users\n"
    "  --products N, --users N, --orders N, --reviews N, --carts N\n"
    "                exact counts, overriding --scale (e.g. --scale 50 --orders 1000000)\n"
    "  --seed S      PRNG seed (default 42); same seed and counts, same data\n"
    "  --now DATE    the day the data ends (default: today, UTC)\n"
    "  --batch N     rows per INSERT statement (default 1000)\n"
    "  --if-empty    do nothing when products already has rows\n"
    "  --reset       delete every seeded table's rows first\n";

struct seed_opts {
    int64_t     scale, products, users, orders, reviews, carts, seed, batch;
    const char *now;
    int         if_empty, reset, help;
};

/* Numeric options: a row each; -1 means "not given". */
static const struct seed_num {
    const char *name;
    size_t      off;
    int64_t     min, max;
} seed_nums[] = {
    {"scale", offsetof(struct seed_opts, scale), 1, 10000},
    {"products", offsetof(struct seed_opts, products), 0, 50000000},
    {"users", offsetof(struct seed_opts, users), 2, 50000000},
    {"orders", offsetof(struct seed_opts, orders), 0, 500000000},
    {"reviews", offsetof(struct seed_opts, reviews), 0, 500000000},
    {"carts", offsetof(struct seed_opts, carts), 0, 50000000},
    {"seed", offsetof(struct seed_opts, seed), 0, INT64_MAX},
    {"batch", offsetof(struct seed_opts, batch), 1, 5000},
};
#define SEED_NNUMS (sizeof(seed_nums) / sizeof(seed_nums[0]))

/* Tables the seed writes, children first (the order --reset deletes in). */
static const char *const seed_tables[] = {
    "cart_items",  "carts",      "reviews",   "payments",
    "order_items", "orders",     "inventory", "product_attributes",
    "products",    "categories", "addresses", "users",
    NULL,
};

static const struct seed_phase {
    const char *name;
    int (*run)(struct seed *s);
} seed_phases[] = {
    {"catalog", catalog_load}, {"people", people_load}, {"orders", orders_load},
    {"reviews", reviews_load}, {"carts", carts_load},
};

struct rng
rng_for(uint64_t seed, const char *purpose, uint64_t id)
{
    struct rng r = {seed};
    uint64_t   h = 1469598103934665603ULL;

    for (; *purpose; purpose++)
        h = (h ^ (unsigned char)*purpose) * 1099511628211ULL;
    r.s ^= h + id * 0xd1b54a32d192ed03ULL;
    (void)rng_next(&r);
    return r;
}

const char *
rng_pick(struct rng *r, const char *const *list)
{
    size_t n = 0;

    while (list[n] != NULL)
        n++;
    return list[rng_below(r, n)];
}

const char *
seed_time(struct arena *a, int64_t t, int ms)
{
    time_t    tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    return arena_printf(a, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

void
seed_progress(struct seed *s, const char *what, int64_t done, int64_t total, int force)
{
    double t = common_now();

    if (!force && t - s->last_progress < 0.5)
        return;
    s->last_progress = t;
    fprintf(stderr, "seed: %-18s %9lld/%-9lld (%.1f s)\n", what, (long long)done, (long long)total,
            t - s->t0);
}

/* --now YYYY-MM-DD (or today), as midnight UTC. */
static int
parse_now(const char *z, int64_t *out)
{
    struct tm tm = {0};
    int64_t   y, m, d;
    time_t    t = time(NULL);
    int       rc;

    if (z == NULL) {
        *out = (int64_t)t - (int64_t)t % SEED_DAY;
        return ERR_OK;
    }
    rc = strlen(z) == 10 && z[4] == '-' && z[7] == '-' ? ERR_OK : ERR_INVALID;
    if (rc == ERR_OK)
        rc = str_to_i64((struct str){z, 4}, 1971, 9999, &y);
    if (rc == ERR_OK)
        rc = str_to_i64((struct str){z + 5, 2}, 1, 12, &m);
    if (rc == ERR_OK)
        rc = str_to_i64((struct str){z + 8, 2}, 1, 31, &d);
    if (rc) {
        common_fail("--now must be a date YYYY-MM-DD, got \"%s\"", z);
        return rc;
    }
    tm.tm_year = (int)y - 1900;
    tm.tm_mon = (int)m - 1;
    tm.tm_mday = (int)d;
    *out = (int64_t)timegm(&tm);
    return ERR_OK;
}

static int
parse_opts(int argc, char **argv, struct seed_opts *o)
{
    struct option opts[SEED_NNUMS + 5] = {{0}};
    size_t        i;
    int           c, idx, rc;

    for (i = 0; i < SEED_NNUMS; i++) {
        opts[i] = (struct option){seed_nums[i].name, required_argument, NULL, 'n'};
        *(int64_t *)((char *)o + seed_nums[i].off) = -1;
    }
    opts[i++] = (struct option){"now", required_argument, NULL, 't'};
    opts[i++] = (struct option){"if-empty", no_argument, &o->if_empty, 1};
    opts[i++] = (struct option){"reset", no_argument, &o->reset, 1};
    opts[i++] = (struct option){"help", no_argument, NULL, 'h'};
    optind = 1;
    for (c = getopt_long(argc, argv, "h", opts, &idx); c != -1;
         c = getopt_long(argc, argv, "h", opts, &idx)) {
        if (c == 'n') {
            rc = common_int_opt(seed_nums[idx].name, optarg, seed_nums[idx].min, seed_nums[idx].max,
                                (int64_t *)((char *)o + seed_nums[idx].off));
            if (rc)
                return rc;
        } else if (c == 't') {
            o->now = optarg;
        } else if (c == 'h') {
            o->help = 1;
        } else if (c != 0) {
            return ERR_INVALID;
        }
    }
    if (optind != argc) {
        common_fail("unexpected argument \"%s\"", argv[optind]);
        return ERR_INVALID;
    }
    return ERR_OK;
}

static int64_t
given_or(int64_t v, int64_t scale, int64_t per_unit)
{
    return v >= 0 ? v : scale * per_unit;
}

/* Turn options into the run's counts; reviews need distinct (user, product) pairs. */
static int
plan(const struct seed_opts *o, struct seed *s)
{
    static const uint64_t strides[] = {7919, 104729, 1299709};
    int64_t               scale = o->scale > 0 ? o->scale : 1, cap;
    size_t                i;

    s->products = given_or(o->products, scale, 2000);
    s->users = given_or(o->users, scale, 500);
    s->orders = given_or(o->orders, scale, 5000);
    cap = s->products * (s->users - 1) / 2; /* distinct (user, product) pairs, half used */
    s->reviews =
        o->reviews >= 0 ? o->reviews : (s->products * 3 / 2 < cap ? s->products * 3 / 2 : cap);
    s->carts = o->carts >= 0 ? o->carts : (s->users + 49) / 50;
    s->seed = o->seed >= 0 ? (uint64_t)o->seed : 42;
    s->batch = o->batch > 0 ? (size_t)o->batch : 1000;
    if (s->products == 0 && (s->orders > 0 || s->reviews > 0 || s->carts > 0)) {
        common_fail("orders, reviews and carts need products (--products 0 asks for none)");
        return ERR_INVALID;
    }
    if (s->reviews > cap || s->carts > s->users - 1) {
        common_fail("too many reviews or carts for %lld users and %lld products "
                    "(reviews <= users*products/2, carts < users)",
                    (long long)s->users, (long long)s->products);
        return ERR_INVALID;
    }
    for (i = 0; i < 3 && s->products > 0 && s->products % (int64_t)strides[i] == 0; i++)
        ;
    s->stride = strides[i < 3 ? i : 0];
    return parse_now(o->now, &s->now);
}

/* 1 when products has rows, 0 when empty, -1 when it cannot be read. */
static int
has_products(struct seed *s, struct arena *a)
{
    struct mdb_rows *rs;
    int              rc;

    rc = mdb_query(s->db, a, "SELECT EXISTS (SELECT 1 FROM products)", NULL, 0, &rs);
    if (rc == ERR_UNAVAILABLE)
        common_fail("cannot connect to the monolith database (SOUK_MONOLITH_DB); is MariaDB "
                    "running? (see the log line above)");
    else if (rc)
        common_fail("cannot read the monolith's products table; has `soukctl schema up "
                    "monolith` run? (see the log line above)");
    if (rc)
        return -1;
    return mdb_i64(rs, 0, 0) != 0;
}

/* TRUNCATE is a commit of its own, so this runs before the load's transaction. */
static int
reset_tables(struct seed *s, struct arena *a)
{
    size_t i;
    int    rc = ERR_OK;

    for (i = 0; seed_tables[i] != NULL && rc == ERR_OK; i++)
        rc = mdb_exec_multi(s->db, arena_printf(a, "TRUNCATE TABLE %s", seed_tables[i]));
    if (rc == ERR_OK)
        fputs("seed: --reset: emptied the seeded tables\n", stderr);
    return rc;
}

/* Foreign keys and unique checks are off while loading: the generator
 * guarantees both (ids are assigned here, pairs are de-duplicated), and the
 * server skips a lookup per row. Session settings, restored afterwards. */
static int
load(struct seed *s, int reset, struct arena *a)
{
    size_t i;
    int    rc;

    rc = mdb_exec_multi(s->db, "SET foreign_key_checks = 0, unique_checks = 0");
    if (rc == ERR_OK && reset)
        rc = reset_tables(s, a);
    if (rc == ERR_OK)
        rc = mdb_begin(s->db);
    for (i = 0; rc == ERR_OK && i < sizeof(seed_phases) / sizeof(seed_phases[0]); i++) {
        rc = seed_phases[i].run(s);
        if (rc)
            common_fail("seeding failed in the %s phase (see the log line above)",
                        seed_phases[i].name);
    }
    if (rc == ERR_OK)
        rc = mdb_commit(s->db);
    else
        mdb_rollback(s->db);
    if (mdb_exec_multi(s->db, "SET foreign_key_checks = 1, unique_checks = 1") != ERR_OK)
        rc = rc ? rc : ERR_INTERNAL;
    return rc;
}

static int
seed_run(struct ctl *ctl, const struct seed_opts *o)
{
    struct arena *a = arena_create();
    struct seed   s = {0};
    int           rc, full;
    double        dt;

    rc = plan(o, &s);
    if (rc)
        goto done;
    s.t0 = common_now();
    s.last_progress = s.t0;
    s.db = mdb_new(ctl->cfg.monolith_db);
    if (s.db == NULL) {
        common_fail("SOUK_MONOLITH_DB is not a mysql:// dsn");
        rc = ERR_INVALID;
        goto done;
    }
    full = has_products(&s, a);
    rc = full < 0 ? ERR_UNAVAILABLE : ERR_OK;
    if (full > 0 && o->if_empty && !o->reset) {
        fputs("seed: products already has rows; nothing to do (--if-empty)\n", stderr);
        goto done;
    }
    if (full > 0 && !o->reset) {
        common_fail("products already has rows: seed loads into an empty database "
                    "(--if-empty skips, --reset deletes the seeded tables first)");
        rc = ERR_CONFLICT;
    }
    /* Argon2id costs ~50 ms per hash: every seeded user shares one hash of
     * "souk-demo", or a million users would take half a day. */
    if (rc == ERR_OK)
        rc = auth_init();
    if (rc == ERR_OK)
        rc = auth_password_hash("souk-demo", 0, 0, s.password_hash);
    if (rc == ERR_OK)
        rc = load(&s, o->reset, a);
    if (rc)
        goto done;
    dt = common_now() - s.t0;
    fprintf(stderr, "seed: loaded %llu rows in %.1f s (%.0f rows/s), seed %llu\n",
            (unsigned long long)s.rows, dt, (double)s.rows / (dt > 0 ? dt : 1),
            (unsigned long long)s.seed);
done:
    free(s.price);
    mdb_free(s.db);
    arena_destroy(a);
    return rc ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

int
seed_main(struct ctl *ctl, int argc, char **argv)
{
    struct seed_opts o = {0};
    int              rc;

    rc = parse_opts(argc, argv, &o);
    if (rc == ERR_OK && o.help) {
        fputs(seed_usage, stdout);
        return CTL_EXIT_OK;
    }
    if (rc) {
        fputs("soukctl: see `soukctl seed --help`\n", stderr);
        return CTL_EXIT_USAGE;
    }
    return seed_run(ctl, &o);
}
