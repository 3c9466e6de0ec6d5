/*
 * search.h - the search service's structs and cross-file prototypes.
 * api.c decodes and encodes JSON, search.c is pure logic (query words,
 * tsquery text, price buckets, typo-correction decisions), store.c holds
 * every SQL statement, events.c consumes the catalog's product events.
 */
#ifndef SOUK_SEARCH_H
#define SOUK_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "err.h"
#include "mq.h"
#include "req.h"
#include "service.h"

struct search_config {
    struct service_config svc; /* SOUK_LISTEN, SOUK_SEARCH_DB, SOUK_AMQP_URL, ... */
};

extern struct search_config search_cfg; /* read-only after main() */

#define SEARCH_Q_MAX          200  /* bytes of q after percent-decoding */
#define SEARCH_MAX_WORDS      16   /* words of q */
#define SEARCH_MAX_FILTERS    8    /* attribute filters */
#define SEARCH_VALUE_MAX      255  /* bytes of a filter value */
#define SEARCH_FACET_TOP      1000 /* facets count the first N matches in result order */
#define SEARCH_COUNT_CAP      1000 /* total is exact up to N, else "at least N" */
#define SEARCH_RANK_WINDOW    1000 /* relevance ranks the first N matches (physical order) */
#define SEARCH_PREFIX_MIN     2    /* the last word of q matches as a prefix from N bytes */
#define SEARCH_SUGGEST_LIMIT  20   /* max ?limit= of suggest */
#define SEARCH_MAX_PRICE      1000000000000LL
#define SEARCH_MIN_SIMILARITY 0.2 /* trigrams, as search_correct's threshold */
#define SEARCH_CANDIDATES     5   /* lexicon candidates looked at per word */
#define SEARCH_CORRECT_MIN    3   /* letters a word needs before it is corrected */
#define SEARCH_CORRECT_MAX    32  /* the lexicon keeps words of 3..32 letters */

enum search_sort { SORT_RELEVANCE, SORT_PRICE_ASC, SORT_PRICE_DESC, SORT_NEWEST, SORT_NAME };

/* One word of q: lower-cased text in the arena and where it sits in q. */
struct search_word {
    const char *text;
    size_t      off, len;
};

struct search_words {
    struct search_word w[SEARCH_MAX_WORDS];
    size_t             n;
};

struct search_filter {
    const char *name, *value;
};

struct search_query {
    const char          *tsquery;              /* text for to_tsquery('english', ...) */
    const char          *category, *brand;     /* NULL = any */
    int64_t              min_price, max_price; /* -1 = unbounded */
    struct search_filter filters[SEARCH_MAX_FILTERS];
    size_t               nfilters;
    enum search_sort     sort;
    int64_t              page, limit;
    int                  facets; /* 1: compute facets */
};

/* Fixed price buckets (minor units): [0, b0), [b0, b1), ..., [b_last, inf). */
#define SEARCH_PRICE_BUCKETS 8

struct search_facet {
    const char *value, *label; /* attributes: value = attribute name, label = value */
    int64_t     count;
};

struct search_item {
    int64_t     id;
    const char *summary; /* the v1 summary as JSON text */
};

struct search_result {
    int64_t              total;       /* at most SEARCH_COUNT_CAP */
    int                  total_exact; /* 0: there are more than total */
    struct search_item  *items;
    size_t               nitems;
    struct search_facet *categories, *brands, *attrs;
    size_t               ncategories, nbrands, nattrs;
    int64_t              price[SEARCH_PRICE_BUCKETS];
};

/* What the database knows about one query word (store_correct): whether it
 * matches any document, and the most similar lexicon words, best first. */
struct search_candidate {
    const char *word;
    double      similarity;
};

struct search_fix {
    const char             *word;
    int                     matched;
    struct search_candidate cand[SEARCH_CANDIDATES];
    size_t                  ncand;
};

struct search_suggestion {
    int64_t     id;
    const char *name;
};

/* search.c: pure logic */
/* Split q into words (ASCII letters and digits, and any byte >= 0x80; '.'
 * between digits and '-' between word bytes stay inside a word), lower-cased;
 * a number followed by a unit ("32 gb") becomes one word ("32gb"). ERR_INVALID
 * when q has more than SEARCH_MAX_WORDS words. */
MUST_CHECK int search_words_parse(const char *q, struct arena *a, struct search_words *out);
/* "w1 & w2" for to_tsquery, the last word as a prefix ("w2:*") when it has
 * at least prefix_min bytes (0: never); "" when there are no words. Words hold
 * no tsquery syntax. */
const char *search_tsquery(struct arena *a, const struct search_words *w, size_t prefix_min);
/* The words joined by single spaces. */
const char *search_words_join(struct arena *a, const struct search_words *w);
/* The sort called z; name is allowed only when with_name (v1). */
MUST_CHECK int search_sort_parse(const char *z, int with_name, enum search_sort *out);
const char    *search_sort_name(enum search_sort s);
/* Bucket index of a price, and the bucket's bounds (max -1 = open). */
int  search_price_bucket(int64_t minor);
void search_price_range(int bucket, int64_t *min, int64_t *max);
/* The bucket bounds as a PostgreSQL bigint[] literal. */
const char *search_price_bounds(struct arena *a);
/* The word to replace f->word with, or NULL to keep it: only a word that
 * matches nothing, has 3..32 letters and no digits, and only by a candidate
 * similar enough (trigrams) and close in spelling (edit distance). */
const char *search_correct_pick(const struct search_fix *f);
/* Optimal string alignment distance of a and b (bytes): insertions,
 * deletions, substitutions and swaps of neighbours each cost 1. */
size_t search_edit_distance(const char *a, const char *b);
/* q with words[i] replaced by repl[i] where repl[i] is not NULL. */
const char *search_corrected_text(struct arena *a, const char *q, const struct search_words *w,
                                  const char *const *repl);
/* 1 when name is one of names (NULL-terminated), else 0. */
int search_listed(const char *const *names, const char *name);
/* A PostgreSQL text[] literal of items (quoted and escaped). */
const char *search_pg_array(struct arena *a, const char *const *items, size_t n);
int         search_attr_name_valid(const char *name);

/* store.c: every SQL statement */
extern const struct db_stmt search_stmts[];
MUST_CHECK int              store_search(struct work *w, const struct search_query *q,
                                         struct search_result *out);
MUST_CHECK int store_correct(struct work *w, const struct search_words *sw, struct search_fix *out);
MUST_CHECK int store_suggest(struct work *w, const char *tsquery, const char *prefix, int64_t limit,
                             struct search_suggestion **out, size_t *n);
/* Apply one product event inside the consumer's transaction (w->db is mq's
 * connection, so the statement is not from search_stmts). doc NULL for a
 * delete; path the event's category_path (a JSON array) or NULL. *applied
 * is 0 when the stored version was already as new. */
MUST_CHECK int store_apply(struct work *w, int64_t id, int64_t version, const char *doc,
                           const char *path, int *applied);

/* events.c */
extern const struct mq_consumer search_consumers[];

/* api.c: handlers */
int search_v1(struct req *r);
int search_v2(struct req *r);
int search_suggest(struct req *r);

#endif
