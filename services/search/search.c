/*
 * search.c - the search service's pure logic: splitting q into words, the
 * tsquery text built from them, sorts, price buckets and the decision to
 * replace a misspelt word. No I/O; unit-tested by t/10_search.c.
 */
#include <string.h>

#include "buf.h"
#include "search.h"

/* Upper bounds of the fixed price buckets, minor units (EUR cents). */
static const int64_t price_bounds[SEARCH_PRICE_BUCKETS - 1] = {
    2500, 5000, 10000, 25000, 50000, 100000, 250000,
};

static const struct {
    const char      *name;
    enum search_sort sort;
    int              v1_only;
} sorts[] = {
    {"relevance", SORT_RELEVANCE, 0},
    {"price_asc", SORT_PRICE_ASC, 0},
    {"price_desc", SORT_PRICE_DESC, 0},
    {"newest", SORT_NEWEST, 0},
    {"name", SORT_NAME, 1},
};

/* Word bytes: ASCII letters and digits, and every byte of a multi-byte UTF-8
 * sequence (letters of other scripts). Everything else separates words, so a
 * word never holds tsquery syntax (& | ! ( ) : * ' \ < > or spaces). */
static int
word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static int
digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* '.' between two digits ("15.6") and '-' between two word bytes ("over-ear",
 * "wi-fi") stay inside a word, as the indexed text's parser keeps them: one
 * number, one hyphenated word. Neither is tsquery syntax there. */
static int
joiner(const char *q, size_t i)
{
    if (i == 0 || q[i + 1] == '\0')
        return 0;
    if (q[i] == '.')
        return digit((unsigned char)q[i - 1]) && digit((unsigned char)q[i + 1]);
    return q[i] == '-' && word_byte((unsigned char)q[i - 1]) && word_byte((unsigned char)q[i + 1]);
}

/* Units shoppers type apart from their number ("32 gb"), while names write
 * them together ("32GB", one token in the index). */
static const char *const units[] = {"gb", "tb", "mb", NULL};

static int
number(const char *z)
{
    if (!digit((unsigned char)*z))
        return 0;
    for (; *z; z++)
        if (!digit((unsigned char)*z) && *z != '.')
            return 0;
    return 1;
}

int
search_listed(const char *const *names, const char *name)
{
    size_t i;

    for (i = 0; names[i]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

/* "32" "gb" -> "32gb": the merged word spans both in q. */
static void
join_units(struct arena *a, struct search_words *out)
{
    size_t i, k = 0;

    for (i = 0; i < out->n; i++, k++) {
        out->w[k] = out->w[i];
        if (i + 1 < out->n && number(out->w[i].text) && search_listed(units, out->w[i + 1].text)) {
            out->w[k].text = arena_printf(a, "%s%s", out->w[i].text, out->w[i + 1].text);
            out->w[k].len = out->w[i + 1].off + out->w[i + 1].len - out->w[i].off;
            i++;
        }
    }
    out->n = k;
}

int
search_words_parse(const char *q, struct arena *a, struct search_words *out)
{
    size_t i = 0, start, k;
    char  *w;

    out->n = 0;
    while (q[i] != '\0') {
        if (!word_byte((unsigned char)q[i])) {
            i++;
            continue;
        }
        start = i;
        while (q[i] != '\0' && (word_byte((unsigned char)q[i]) || joiner(q, i)))
            i++;
        if (out->n == SEARCH_MAX_WORDS)
            return ERR_INVALID;
        w = arena_strndup(a, q + start, i - start);
        for (k = 0; w[k]; k++)
            if (w[k] >= 'A' && w[k] <= 'Z')
                w[k] = (char)(w[k] - 'A' + 'a');
        out->w[out->n].text = w;
        out->w[out->n].off = start;
        out->w[out->n].len = i - start;
        out->n++;
    }
    join_units(a, out);
    return ERR_OK;
}

/* The words of w joined by sep, with ":*" after the last one when it has at
 * least prefix_min bytes (0: never). */
static const char *
join(struct arena *a, const struct search_words *w, const char *sep, size_t prefix_min)
{
    struct buf b;
    char      *out;
    size_t     i;

    buf_init(&b, 4096);
    for (i = 0; i < w->n; i++) {
        if (i)
            buf_puts(&b, sep);
        buf_puts(&b, w->w[i].text);
    }
    if (w->n && prefix_min > 0 && strlen(w->w[w->n - 1].text) >= prefix_min)
        buf_puts(&b, ":*");
    out = arena_strdup(a, buf_data(&b));
    buf_free(&b);
    return out;
}

const char *
search_tsquery(struct arena *a, const struct search_words *w, size_t prefix_min)
{
    return join(a, w, " & ", prefix_min);
}

const char *
search_words_join(struct arena *a, const struct search_words *w)
{
    return join(a, w, " ", 0);
}

int
search_sort_parse(const char *z, int with_name, enum search_sort *out)
{
    size_t i;

    for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++) {
        if (strcmp(z, sorts[i].name) == 0 && (with_name || !sorts[i].v1_only)) {
            *out = sorts[i].sort;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

const char *
search_sort_name(enum search_sort s)
{
    size_t i;

    for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
        if (sorts[i].sort == s)
            return sorts[i].name;
    return "relevance";
}

/* The same rule as PostgreSQL's width_bucket(price, bounds), which the
 * facet query uses: bucket i holds bounds[i-1] <= price < bounds[i]. */
int
search_price_bucket(int64_t minor)
{
    int i;

    for (i = 0; i < SEARCH_PRICE_BUCKETS - 1; i++)
        if (minor < price_bounds[i])
            return i;
    return SEARCH_PRICE_BUCKETS - 1;
}

void
search_price_range(int bucket, int64_t *min, int64_t *max)
{
    *min = bucket > 0 ? price_bounds[bucket - 1] : 0;
    *max = bucket < SEARCH_PRICE_BUCKETS - 1 ? price_bounds[bucket] : -1;
}

const char *
search_price_bounds(struct arena *a)
{
    struct buf b;
    char      *out;
    int        i;

    buf_init(&b, 256);
    buf_putc(&b, '{');
    for (i = 0; i < SEARCH_PRICE_BUCKETS - 1; i++)
        buf_printf(&b, "%s%lld", i ? "," : "", (long long)price_bounds[i]);
    buf_putc(&b, '}');
    out = arena_strdup(a, buf_data(&b));
    buf_free(&b);
    return out;
}

/* Letters only (ASCII or multi-byte), the lexicon's alphabet. Words with
 * digits are model numbers and sizes ("x86", "16gb"): never "corrected". */
static size_t
letters(const char *z)
{
    size_t n = 0;

    for (; *z; z++) {
        unsigned char c = (unsigned char)*z;

        if (c >= 0x80 && c < 0xc0)
            continue; /* continuation byte: counted with its lead byte */
        if (!((c >= 'a' && c <= 'z') || c >= 0x80))
            return 0;
        n++;
    }
    return n;
}

#define DIST_MAX_WORD 64 /* longer words are never corrected anyway */

size_t
search_edit_distance(const char *a, const char *b)
{
    size_t d[DIST_MAX_WORD + 1][DIST_MAX_WORD + 1];
    size_t n = strlen(a), m = strlen(b), i, j, best;

    if (n > DIST_MAX_WORD || m > DIST_MAX_WORD)
        return n > m ? n : m;
    for (i = 0; i <= n; i++)
        d[i][0] = i;
    for (j = 0; j <= m; j++)
        d[0][j] = j;
    for (i = 1; i <= n; i++) {
        for (j = 1; j <= m; j++) {
            best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

/* Typos a shopper makes: one slip in a short word, about one per four
 * letters in a long one ("lapotp" -> "laptop" is 1, "ultrabook" ->
 * "zenbook" is 5 and stays a different word). */
static size_t
edits_allowed(size_t letters_n)
{
    return letters_n <= 4 ? 1 : letters_n <= 8 ? 2 : 3;
}

const char *
search_correct_pick(const struct search_fix *f)
{
    size_t n = letters(f->word), i;

    if (f->matched || n < SEARCH_CORRECT_MIN || n > SEARCH_CORRECT_MAX)
        return NULL;
    for (i = 0; i < f->ncand; i++) {
        const struct search_candidate *c = &f->cand[i];

        if (c->similarity < SEARCH_MIN_SIMILARITY || strcmp(c->word, f->word) == 0)
            continue;
        if (search_edit_distance(f->word, c->word) <= edits_allowed(n))
            return c->word;
    }
    return NULL;
}

const char *
search_corrected_text(struct arena *a, const char *q, const struct search_words *w,
                      const char *const *repl)
{
    struct buf b;
    size_t     i, at = 0;
    char      *out;

    buf_init(&b, 4096);
    for (i = 0; i < w->n; i++) {
        if (repl[i] == NULL)
            continue;
        buf_append(&b, q + at, w->w[i].off - at);
        buf_puts(&b, repl[i]);
        at = w->w[i].off + w->w[i].len;
    }
    buf_puts(&b, q + at);
    out = arena_strdup(a, buf_data(&b));
    buf_free(&b);
    return out;
}

const char *
search_pg_array(struct arena *a, const char *const *items, size_t n)
{
    struct buf  b;
    size_t      i;
    const char *p;
    char       *out;

    buf_init(&b, 1 << 16);
    buf_putc(&b, '{');
    for (i = 0; i < n; i++) {
        buf_puts(&b, i ? ",\"" : "\"");
        for (p = items[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                buf_putc(&b, '\\');
            buf_putc(&b, *p);
        }
        buf_putc(&b, '"');
    }
    buf_putc(&b, '}');
    out = arena_strdup(a, buf_data(&b));
    buf_free(&b);
    return out;
}

/* The monolith's attribute names: [a-z][a-z0-9_]{0,63}. */
int
search_attr_name_valid(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > 64 || !(name[0] >= 'a' && name[0] <= 'z'))
        return 0;
    for (i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}
