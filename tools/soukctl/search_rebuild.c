/*
 * search_rebuild.c - `soukctl search rebuild`: build the search projection
 * afresh from the catalog's database and swap it in while search keeps
 * serving. The transform and the swap are SQL functions of the search
 * migrations (search_rebuild_begin/load/finish/swap; finish derives the
 * lexicon and the narrow match table from the loaded documents, swap
 * exchanges all three tables at once); this file moves rows
 * from one database to the other in batches and reports progress.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "db.h"
#include "str.h"
#include "soukctl.h"

static const char rebuild_usage[] =
    "usage: soukctl search rebuild [--batch N] [--pause-ms MS]\n"
    "\n"
    "Reads every product of the catalog (SOUK_CATALOG_DB, live and deleted, with\n"
    "its category path) in batches of N (default 500), projects them into a new\n"
    "index in SOUK_SEARCH_DB (documents_new, then lexicon_new and matches_new from\n"
    "it), builds its indexes, then swaps it in within one transaction: the live\n"
    "tables are locked for a moment, events the search consumer applied meanwhile\n"
    "are merged when newer, the old tables are dropped and the new ones renamed.\n"
    "Search answers throughout. Progress goes to stderr. Only one rebuild runs at\n"
    "a time.\n"
    "--pause-ms sleeps between batches to spare a busy catalog database\n"
    "(default 0).\n";

#define REBUILD_LOCK "hashtext('soukctl.search.rebuild')"
#define BATCH_BYTES  (256 << 20) /* documents are at most 256 KiB each */

/* The catalog's tables (services/catalog/migrations): a tombstone keeps its
 * row with deleted_at set and the deleting version. The category path is
 * what the catalog's events carry: the slugs from the top-level category
 * down to the product's, root first, walked up categories.parent_id. */
static const char src_count_sql[] = "SELECT count(*) FROM products";
static const char src_batch_sql[] =
    "SELECT p.id, p.version, p.deleted_at IS NOT NULL, p.doc::text,"
    " (WITH RECURSIVE up (parent_id, slug, depth) AS ("
    "    SELECT c.parent_id, c.slug, 0 FROM categories c"
    "     WHERE c.id = (p.doc->'category'->>'id')::bigint"
    "    UNION ALL"
    "    SELECT c.parent_id, c.slug, up.depth + 1 FROM categories c"
    "      JOIN up ON c.id = up.parent_id WHERE up.depth < 64)"
    "  SELECT coalesce(jsonb_agg(up.slug ORDER BY up.depth DESC), '[]'::jsonb) FROM up)::text"
    " FROM products p WHERE p.id > $1::bigint ORDER BY p.id LIMIT $2::integer";

static const char dst_lock_sql[] = "SELECT pg_try_advisory_lock(" REBUILD_LOCK ")";
static const char dst_begin_sql[] = "SELECT search_rebuild_begin()";
static const char dst_load_sql[] = "SELECT search_rebuild_load($1::jsonb)";
static const char dst_finish_sql[] = "SELECT search_rebuild_finish()";
static const char dst_swap_sql[] = "SELECT search_rebuild_swap($1::bigint)";

struct rebuild {
    struct db *src, *dst;
    int64_t    batch, pause_ms, total, done, last_id;
    double     t0, last_progress;
};

static void
progress(struct rebuild *rb, const char *what, int force)
{
    double now = common_now();

    if (!force && now - rb->last_progress < 0.5)
        return;
    rb->last_progress = now;
    fprintf(stderr, "search rebuild: %s %lld/%lld products (%.1f s)\n", what, (long long)rb->done,
            (long long)rb->total, now - rb->t0);
}

/* One batch as the JSON array search_rebuild_load takes; doc and the
 * category path are the catalog's jsonb text, already valid JSON. */
static void
batch_json(const struct db_rows *rs, struct buf *b)
{
    size_t i;

    buf_putc(b, '[');
    for (i = 0; i < rs->nrows; i++) {
        buf_printf(b, "%s{\"id\":%s,\"version\":%s,\"deleted\":%s,\"doc\":", i ? "," : "",
                   db_get(rs, i, 0), db_get(rs, i, 1),
                   strcmp(db_get(rs, i, 2), "t") == 0 ? "true" : "false");
        buf_append(b, db_get(rs, i, 3), db_len(rs, i, 3));
        buf_puts(b, ",\"category_path\":");
        buf_append(b, db_get(rs, i, 4), db_len(rs, i, 4));
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
}

/* Copy one batch; *n is how many products it held (0 at the end). */
static int
copy_batch(struct rebuild *rb, struct arena *a, size_t *n)
{
    const char     *params[2] = {db_i64_text(a, rb->last_id), db_i64_text(a, rb->batch)};
    const char     *load[1];
    struct db_rows *rs;
    struct buf     *b;
    int             rc;

    rc = db_exec_sql(rb->src, a, src_batch_sql, 2, params, &rs);
    if (rc) {
        common_fail("cannot read the catalog's products (SOUK_CATALOG_DB)");
        return rc;
    }
    *n = rs->nrows;
    if (rs->nrows == 0)
        return ERR_OK;
    b = buf_new(a, BATCH_BYTES);
    batch_json(rs, b);
    rc = buf_error(b);
    if (rc) {
        common_fail("a batch exceeds %d MiB; use a smaller --batch", BATCH_BYTES >> 20);
        return rc;
    }
    load[0] = buf_data(b);
    rc = db_exec_sql(rb->dst, a, dst_load_sql, 1, load, NULL);
    if (rc) {
        common_fail("cannot load products after id %lld into documents_new",
                    (long long)rb->last_id);
        return rc;
    }
    rb->last_id = db_i64(rs, rs->nrows - 1, 0);
    rb->done += (int64_t)rs->nrows;
    return ERR_OK;
}

/* Single values from one statement on db (NULL params). */
static int
scalar(struct db *db, struct arena *a, const char *sql, int nparams, const char *const *params,
       const char **out)
{
    struct db_rows *rs;
    int             rc;

    rc = db_exec_sql(db, a, sql, nparams, params, &rs);
    if (rc)
        return rc;
    *out = rs->nrows == 1 && db_get(rs, 0, 0) ? db_get(rs, 0, 0) : "";
    return ERR_OK;
}

static int
prepare(struct rebuild *rb, struct arena *a, const char **mark)
{
    const char *v;
    int         rc;

    rc = scalar(rb->dst, a, dst_lock_sql, 0, NULL, &v);
    if (rc) {
        common_fail("cannot reach the search database (SOUK_SEARCH_DB)");
        return rc;
    }
    if (strcmp(v, "t") != 0) {
        common_fail("another search rebuild is running on this database");
        return ERR_BUSY;
    }
    rc = scalar(rb->src, a, src_count_sql, 0, NULL, &v);
    if (rc) {
        common_fail("cannot read the catalog's products (SOUK_CATALOG_DB)");
        return rc;
    }
    rc = str_z_to_i64(v, 0, INT64_MAX, &rb->total);
    if (rc)
        return rc;
    rc = scalar(rb->dst, a, dst_begin_sql, 0, NULL, mark);
    if (rc)
        common_fail("cannot create documents_new (is the search schema up to date?)");
    return rc;
}

static int
rebuild(struct ctl *ctl, int64_t batch, int64_t pause_ms)
{
    struct rebuild rb = {.batch = batch, .pause_ms = pause_ms, .t0 = common_now()};
    struct arena  *a = arena_create(), *ba = arena_create();
    const char    *mark, *merged;
    size_t         n = 1;
    int            rc;

    rb.src = db_new(ctl->cfg.catalog_db, NULL);
    rb.dst = db_new(ctl->cfg.search_db, NULL);
    rc = prepare(&rb, a, &mark);
    while (rc == ERR_OK && n > 0) {
        arena_reset(ba);
        rc = copy_batch(&rb, ba, &n);
        if (n > 0)
            progress(&rb, "loaded", 0);
        if (n > 0 && rb.pause_ms > 0)
            nanosleep(&(struct timespec){rb.pause_ms / 1000, (rb.pause_ms % 1000) * 1000000}, NULL);
    }
    if (rc)
        goto done;
    progress(&rb, "loaded", 1);
    rc = db_exec_sql(rb.dst, a, dst_finish_sql, 0, NULL, NULL);
    if (rc) {
        common_fail("cannot index documents_new");
        goto done;
    }
    fprintf(stderr, "search rebuild: indexed (%.1f s)\n", common_now() - rb.t0);
    rc = scalar(rb.dst, a, dst_swap_sql, 1, (const char *[]){mark}, &merged);
    if (rc) {
        common_fail("cannot swap the new index in; the live one is unchanged");
        goto done;
    }
    printf("rebuilt %lld products, merged %s applied meanwhile (%.1f s)\n", (long long)rb.done,
           merged, common_now() - rb.t0);
done:
    db_free(rb.src);
    db_free(rb.dst); /* closing the session releases the advisory lock */
    arena_destroy(ba);
    arena_destroy(a);
    return rc ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

int
search_main(struct ctl *ctl, int argc, char **argv)
{
    int64_t batch = 500, pause_ms = 0;
    int     i, rc;

    if (common_wants_help(argc, argv)) {
        fputs(rebuild_usage, stdout);
        return CTL_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "rebuild") != 0) {
        fputs(rebuild_usage, stderr);
        return CTL_EXIT_USAGE;
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            rc = common_int_opt("--batch", argv[++i], 1, 10000, &batch);
            if (rc)
                return CTL_EXIT_USAGE;
        } else if (strcmp(argv[i], "--pause-ms") == 0 && i + 1 < argc) {
            rc = common_int_opt("--pause-ms", argv[++i], 0, 60000, &pause_ms);
            if (rc)
                return CTL_EXIT_USAGE;
        } else {
            common_fail("unknown option \"%s\"", argv[i]);
            fputs(rebuild_usage, stderr);
            return CTL_EXIT_USAGE;
        }
    }
    return rebuild(ctl, batch, pause_ms);
}
