/*
 * store.c - every SQL statement of the search service, as one table, and the
 * row -> struct mapping. Ranking, facets and corrections are SQL functions
 * created by the migrations (search_run: 0004, search_correct, search_apply:
 * 0003); this file only calls them.
 */
#include <stdlib.h>
#include <string.h>

#include "search.h"

/* clang-format off */
#define SEARCH_SQL(X)                                                                              \
    X(RUN, 14,                                                                                     \
      "SELECT kind, id, body, value, label, n FROM search_run($1, $2, $3, $4::bigint, $5::bigint," \
      " $6::text[], $7::text[], $8, $9::integer, $10::bigint, $11::integer, $12::bigint[],"        \
      " $13::integer, $14::integer)")                                                              \
    X(CORRECT, 1,                                                                                  \
      "SELECT i, matched, candidate, similarity FROM search_correct($1::text[])")                  \
    /* Type-ahead: any 1000 prefix matches (a bound: "a" matches everything), */                   \
    /* then names that start with the text first, shorter first. A tombstone */                    \
    /* has no name_tsv, so it never matches. */                                                    \
    X(SUGGEST, 3,                                                                                  \
      "SELECT c.id, c.name FROM (SELECT d.id, d.name FROM documents d"                             \
      " WHERE d.name_tsv @@ to_tsquery('simple', $1) LIMIT 1000) c"                              \
      " ORDER BY starts_with(lower(c.name), $2) DESC, length(c.name), c.id LIMIT $3::integer")
/* clang-format on */

enum search_stmt { SEARCH_SQL(DB_STMT_ENUM) };

const struct db_stmt search_stmts[] = {SEARCH_SQL(DB_STMT_ROW){NULL, 0, NULL}};

/* The consumer runs on mq's connection, which has no statement table. */
static const char apply_sql[] =
    "SELECT search_apply($1::bigint, $2::bigint, $3::jsonb, $4::boolean, $5::jsonb)";

static const char *
opt_i64(struct arena *a, int64_t v)
{
    return v < 0 ? NULL : db_i64_text(a, v);
}

/* Facet rows of one kind, counted first so the arrays are exact. */
static struct search_facet *
facets(struct arena *a, const struct db_rows *rs, const char *kind, size_t *n)
{
    struct search_facet *f;
    size_t               i, k = 0;

    for (i = 0; i < rs->nrows; i++)
        k += strcmp(db_get(rs, i, 0), kind) == 0;
    f = arena_array(a, struct search_facet, k + 1);
    *n = 0;
    for (i = 0; i < rs->nrows; i++) {
        if (strcmp(db_get(rs, i, 0), kind) != 0)
            continue;
        f[*n].value = db_get(rs, i, 3);
        f[*n].label = db_get(rs, i, 4);
        f[*n].count = db_i64(rs, i, 5);
        (*n)++;
    }
    return f;
}

static void
result_map(struct arena *a, const struct db_rows *rs, struct search_result *out)
{
    size_t  i;
    int64_t b;

    memset(out, 0, sizeof(*out));
    out->items = arena_array(a, struct search_item, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++) {
        const char *kind = db_get(rs, i, 0);

        if (strcmp(kind, "total") == 0) {
            /* counted up to the cap + 1: one more than the cap says "more" */
            out->total = db_i64(rs, i, 5);
            out->total_exact = out->total <= SEARCH_COUNT_CAP;
            if (!out->total_exact)
                out->total = SEARCH_COUNT_CAP;
        } else if (strcmp(kind, "item") == 0 && db_get(rs, i, 2) != NULL) {
            out->items[out->nitems].id = db_i64(rs, i, 1);
            out->items[out->nitems].summary = db_get(rs, i, 2);
            out->nitems++;
        } else if (strcmp(kind, "price") == 0) {
            b = strtoll(db_get(rs, i, 3), NULL, 10);
            if (b >= 0 && b < SEARCH_PRICE_BUCKETS)
                out->price[b] = db_i64(rs, i, 5);
        }
    }
    out->categories = facets(a, rs, "category", &out->ncategories);
    out->brands = facets(a, rs, "brand", &out->nbrands);
    out->attrs = facets(a, rs, "attr", &out->nattrs);
}

int
store_search(struct work *w, const struct search_query *q, struct search_result *out)
{
    const char     *names[SEARCH_MAX_FILTERS], *values[SEARCH_MAX_FILTERS], *params[14];
    struct db_rows *rs;
    size_t          i;
    int             rc;

    for (i = 0; i < q->nfilters; i++) {
        names[i] = q->filters[i].name;
        values[i] = q->filters[i].value;
    }
    params[0] = q->tsquery;
    params[1] = q->category;
    params[2] = q->brand;
    params[3] = opt_i64(w->arena, q->min_price);
    params[4] = opt_i64(w->arena, q->max_price);
    params[5] = search_pg_array(w->arena, names, q->nfilters);
    params[6] = search_pg_array(w->arena, values, q->nfilters);
    params[7] = search_sort_name(q->sort);
    params[8] = db_i64_text(w->arena, q->limit);
    params[9] = db_i64_text(w->arena, (q->page - 1) * q->limit);
    params[10] = q->facets ? db_i64_text(w->arena, SEARCH_FACET_TOP) : "0";
    params[11] = search_price_bounds(w->arena);
    params[12] = db_i64_text(w->arena, SEARCH_COUNT_CAP);
    params[13] = db_i64_text(w->arena, SEARCH_RANK_WINDOW);
    rc = db_exec(w->db, w->arena, SQL_RUN, params, &rs);
    if (rc)
        return rc;
    result_map(w->arena, rs, out);
    return ERR_OK;
}

/* Rows come ordered by word, then candidate rank; a word without any
 * candidate has one row with a NULL candidate. */
int
store_correct(struct work *w, const struct search_words *sw, struct search_fix *out)
{
    const char     *words[SEARCH_MAX_WORDS];
    const char     *params[1];
    struct db_rows *rs;
    size_t          i;
    int64_t         k;
    int             rc;

    for (i = 0; i < sw->n; i++) {
        words[i] = sw->w[i].text;
        memset(&out[i], 0, sizeof(out[i]));
        out[i].word = sw->w[i].text;
    }
    params[0] = search_pg_array(w->arena, words, sw->n);
    rc = db_exec(w->db, w->arena, SQL_CORRECT, params, &rs);
    if (rc)
        return rc;
    for (i = 0; i < rs->nrows; i++) {
        struct search_fix *f;
        const char        *cand = db_get(rs, i, 2), *sim = db_get(rs, i, 3);

        k = db_i64(rs, i, 0);
        if (k < 1 || (size_t)k > sw->n)
            return ERR_INTERNAL;
        f = &out[k - 1];
        f->matched = strcmp(db_get(rs, i, 1), "t") == 0;
        if (cand == NULL || f->ncand == SEARCH_CANDIDATES)
            continue;
        f->cand[f->ncand].word = cand;
        f->cand[f->ncand].similarity = sim ? strtod(sim, NULL) : 0.0;
        f->ncand++;
    }
    return ERR_OK;
}

int
store_suggest(struct work *w, const char *tsquery, const char *prefix, int64_t limit,
              struct search_suggestion **out, size_t *n)
{
    const char     *params[] = {tsquery, prefix, db_i64_text(w->arena, limit)};
    struct db_rows *rs;
    size_t          i;
    int             rc;

    rc = db_exec(w->db, w->arena, SQL_SUGGEST, params, &rs);
    if (rc)
        return rc;
    *out = arena_array(w->arena, struct search_suggestion, rs->nrows + 1);
    for (i = 0; i < rs->nrows; i++) {
        (*out)[i].id = db_i64(rs, i, 0);
        (*out)[i].name = db_get(rs, i, 1);
    }
    *n = rs->nrows;
    return ERR_OK;
}

int
store_apply(struct work *w, int64_t id, int64_t version, const char *doc, const char *path,
            int *applied)
{
    const char     *params[] = {db_i64_text(w->arena, id), db_i64_text(w->arena, version), doc,
                            doc == NULL ? "true" : "false", path};
    struct db_rows *rs;
    int             rc;

    rc = db_exec_sql(w->db, w->arena, apply_sql, 5, params, &rs);
    if (rc)
        return rc;
    *applied = rs->nrows == 1 && db_get(rs, 0, 0) != NULL && strcmp(db_get(rs, 0, 0), "t") == 0;
    return ERR_OK;
}
