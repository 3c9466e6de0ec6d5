/*
 * 10_search.c - the search service's pure logic, table-driven: splitting q
 * into words, the tsquery text, sorts, price buckets, typo-correction
 * decisions, the corrected query text and the parameter checks.
 */
#include "search.h"
#include "t.h"

static void
test_words(struct arena *a)
{
    static const struct {
        const char *q;
        int         rc;
        const char *tsquery, *prefix, *joined, *search; /* search: SEARCH_PREFIX_MIN */
    } cases[] = {
        {"laptop", ERR_OK, "laptop", "laptop:*", "laptop", "laptop:*"},
        {"Red  LAPTOP", ERR_OK, "red & laptop", "red & laptop:*", "red laptop", "red & laptop:*"},
        /* '-' between word bytes and '.' between digits stay inside a word */
        {"  wi-fi, 16GB!", ERR_OK, "wi-fi & 16gb", "wi-fi & 16gb:*", "wi-fi 16gb",
         "wi-fi & 16gb:*"},
        {"over-ear -x y- 15.6 .5 7. v1.2", ERR_OK, "over-ear & x & y & 15.6 & 5 & 7 & v1.2",
         "over-ear & x & y & 15.6 & 5 & 7 & v1.2:*", "over-ear x y 15.6 5 7 v1.2",
         "over-ear & x & y & 15.6 & 5 & 7 & v1.2:*"},
        {"a.b 1-2", ERR_OK, "a & b & 1-2", "a & b & 1-2:*", "a b 1-2", "a & b & 1-2:*"},
        /* i7/32GB/512GB as the index splits it; a number and its unit become one word */
        {"i7/32GB/512GB", ERR_OK, "i7 & 32gb & 512gb", "i7 & 32gb & 512gb:*", "i7 32gb 512gb",
         "i7 & 32gb & 512gb:*"},
        {"32 gb laptop", ERR_OK, "32gb & laptop", "32gb & laptop:*", "32gb laptop",
         "32gb & laptop:*"},
        {"laptop 1.5 TB", ERR_OK, "laptop & 1.5tb", "laptop & 1.5tb:*", "laptop 1.5tb",
         "laptop & 1.5tb:*"},
        {"gb 32 cm", ERR_OK, "gb & 32 & cm", "gb & 32 & cm:*", "gb 32 cm", "gb & 32 & cm:*"},
        /* a one-letter last word is too broad to be a prefix in search */
        {"chelsea bo", ERR_OK, "chelsea & bo", "chelsea & bo:*", "chelsea bo", "chelsea & bo:*"},
        {"shirt m", ERR_OK, "shirt & m", "shirt & m:*", "shirt m", "shirt & m"},
        {"' OR 1=1 --", ERR_OK, "or & 1 & 1", "or & 1 & 1:*", "or 1 1", "or & 1 & 1"},
        {"a&b|!c:*(d)<->'e'\\", ERR_OK, "a & b & c & d & e", "a & b & c & d & e:*", "a b c d e",
         "a & b & c & d & e"},
        {"caf\xc3\xa9 cr\xc3\xa8me", ERR_OK, "caf\xc3\xa9 & cr\xc3\xa8me",
         "caf\xc3\xa9 & cr\xc3\xa8me:*", "caf\xc3\xa9 cr\xc3\xa8me",
         "caf\xc3\xa9 & cr\xc3\xa8me:*"},
        {"%%% ---", ERR_OK, "", "", "", ""},
        {"a b c d e f g h i j k l m n o p", ERR_OK, NULL, NULL, NULL, NULL}, /* 16 words */
        {"a b c d e f g h i j k l m n o p q", ERR_INVALID, NULL, NULL, NULL, NULL},
    };
    struct search_words w;
    size_t              i;
    int                 rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rc = search_words_parse(cases[i].q, a, &w);
        T_EQ_INT(rc, cases[i].rc, "words of \"%s\": rc", cases[i].q);
        if (rc || cases[i].tsquery == NULL)
            continue;
        T_EQ_STR(search_tsquery(a, &w, 0), cases[i].tsquery, "tsquery of \"%s\"", cases[i].q);
        T_EQ_STR(search_tsquery(a, &w, 1), cases[i].prefix, "prefix tsquery of \"%s\"", cases[i].q);
        T_EQ_STR(search_words_join(a, &w), cases[i].joined, "joined words of \"%s\"", cases[i].q);
        T_EQ_STR(search_tsquery(a, &w, SEARCH_PREFIX_MIN), cases[i].search,
                 "search tsquery of \"%s\"", cases[i].q);
    }
}

static void
test_sorts(void)
{
    static const struct {
        const char      *z;
        int              with_name, rc;
        enum search_sort sort;
    } cases[] = {
        {"relevance", 0, ERR_OK, SORT_RELEVANCE},
        {"price_asc", 0, ERR_OK, SORT_PRICE_ASC},
        {"price_desc", 0, ERR_OK, SORT_PRICE_DESC},
        {"newest", 0, ERR_OK, SORT_NEWEST},
        {"name", 1, ERR_OK, SORT_NAME},
        {"name", 0, ERR_INVALID, SORT_RELEVANCE},
        {"Newest", 1, ERR_INVALID, SORT_RELEVANCE},
        {"", 1, ERR_INVALID, SORT_RELEVANCE},
        {"price_asc;drop", 1, ERR_INVALID, SORT_RELEVANCE},
    };
    enum search_sort s;
    size_t           i;
    int              rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s = SORT_RELEVANCE;
        rc = search_sort_parse(cases[i].z, cases[i].with_name, &s);
        T_EQ_INT(rc, cases[i].rc, "sort \"%s\" (with name %d)", cases[i].z, cases[i].with_name);
        if (rc == ERR_OK) {
            T_EQ_INT(s, cases[i].sort, "sort \"%s\" value", cases[i].z);
            T_EQ_STR(search_sort_name(s), cases[i].z, "sort \"%s\" round trip", cases[i].z);
        }
    }
}

static void
test_buckets(struct arena *a)
{
    static const struct {
        int64_t minor;
        int     bucket;
        int64_t min, max;
    } cases[] = {
        {0, 0, 0, 2500},          {2499, 0, 0, 2500},
        {2500, 1, 2500, 5000},    {9999, 2, 5000, 10000},
        {10000, 3, 10000, 25000}, {129900, 6, 100000, 250000},
        {250000, 7, 250000, -1},  {SEARCH_MAX_PRICE, 7, 250000, -1},
    };
    int64_t min, max;
    size_t  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        T_EQ_INT(search_price_bucket(cases[i].minor), cases[i].bucket, "price %lld bucket",
                 (long long)cases[i].minor);
        search_price_range(cases[i].bucket, &min, &max);
        T_EQ_INT(min, cases[i].min, "bucket %d min", cases[i].bucket);
        T_EQ_INT(max, cases[i].max, "bucket %d max", cases[i].bucket);
    }
    T_EQ_STR(search_price_bounds(a), "{2500,5000,10000,25000,50000,100000,250000}",
             "bucket bounds as a bigint[] literal");
}

#define C(w, s)                                                                                    \
    {                                                                                              \
        w, s                                                                                       \
    }

static void
test_correct(void)
{
    static const struct {
        struct search_fix f;
        const char       *pick;
    } cases[] = {
        /* the motivating typo: a swap */
        {{"lapotp", 0, {C("laptop", 0.27), C("laptops", 0.25)}, 2}, "laptop"},
        /* a word that matches a document stays */
        {{"lapotp", 1, {C("laptop", 0.27)}, 1}, NULL},
        {{"lapotp", 0, {{NULL, 0}}, 0}, NULL},                 /* nothing similar */
        {{"bakpack", 0, {C("backpack", 0.6)}, 1}, "backpack"}, /* a missing letter */
        {{"shrit", 0, {C("shirt", 0.2)}, 1}, "shirt"},         /* at the threshold */
        {{"shrit", 0, {C("shirt", 0.19)}, 1}, NULL},           /* below it */
        /* similar trigrams, a different word: the next candidate is the typo's */
        {{"ultrabok", 0, {C("zenbook", 0.3), C("ultrabook", 0.25)}, 2}, "ultrabook"},
        {{"ultrabook", 0, {C("zenbook", 0.2)}, 1}, NULL}, /* five edits away */
        {{"cat", 0, {C("car", 0.33)}, 1}, "car"},         /* one slip in a short word */
        {{"cat", 0, {C("cable", 0.25)}, 1}, NULL},        /* three edits */
        {{"ab", 0, {C("abc", 0.5)}, 1}, NULL},            /* too short to judge */
        {{"16gb", 0, {C("gb", 0.4)}, 1}, NULL},           /* digits: a size, not a typo */
        {{"x86", 0, {C("xbox", 0.3)}, 1}, NULL},          /* model numbers stay */
        {{"laptop", 0, {C("laptop", 1.0), C("laptops", 0.8)}, 2}, "laptops"},
        {{"caf\xc3\xa9s", 0, {C("caf\xc3\xa9", 0.5)}, 1}, "caf\xc3\xa9"},
        {{"abcdefghijklmnopqrstuvwxyzabcdefg", 0, {C("abcdefghijklmnopqrstuvwxyzabcdef", 0.9)}, 1},
         NULL}, /* longer than the lexicon keeps */
    };
    static const struct {
        const char *a, *b;
        size_t      d;
    } dist[] = {
        {"laptop", "laptop", 0}, {"lapotp", "laptop", 1},     {"bakpack", "backpack", 1},
        {"shrit", "shirt", 1},   {"ultrabook", "zenbook", 5}, {"", "abc", 3},
        {"abc", "", 3},          {"kitten", "sitting", 3},    {"ca", "abc", 3},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        T_EQ_STR(search_correct_pick(&cases[i].f), cases[i].pick, "correct \"%s\" (case %zu)",
                 cases[i].f.word, i);
    for (i = 0; i < sizeof(dist) / sizeof(dist[0]); i++)
        T_EQ_INT(search_edit_distance(dist[i].a, dist[i].b), dist[i].d, "distance %s / %s",
                 dist[i].a, dist[i].b);
}

static void
test_corrected_text(struct arena *a)
{
    static const struct {
        const char *q;
        const char *repl[4];
        const char *out;
    } cases[] = {
        {"lapotp", {"laptop"}, "laptop"},
        {"Red Lapotp 16GB", {NULL, "laptop", NULL}, "Red laptop 16GB"},
        {"  bakpack,  lapotp!", {"backpack", "laptop"}, "  backpack,  laptop!"},
        {"fine words", {NULL, NULL}, "fine words"},
        {"32 gb lapotp", {NULL, "laptop"}, "32 gb laptop"}, /* "32 gb" is one word */
    };
    struct search_words w;
    size_t              i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        T_EQ_INT(search_words_parse(cases[i].q, a, &w), ERR_OK, "parse \"%s\"", cases[i].q);
        T_EQ_STR(search_corrected_text(a, cases[i].q, &w, cases[i].repl), cases[i].out,
                 "corrected \"%s\"", cases[i].q);
    }
}

static void
test_checks(struct arena *a)
{
    static const struct {
        const char *z;
        int         attr;
    } cases[] = {
        {"ram_gb", 1}, {"colour", 1}, {"Ram", 0},         {"1ram", 0},
        {"ram-gb", 0}, {"", 0},       {"caf\xc3\xa9", 0}, {"\xff", 0},
    };
    const char *items[] = {"plain", "with \"quote\"", "back\\slash", "{,}"};
    size_t      i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        T_EQ_INT(search_attr_name_valid(cases[i].z), cases[i].attr, "attribute name #%zu", i);
    }
    T_EQ_STR(search_pg_array(a, items, 4),
             "{\"plain\",\"with \\\"quote\\\"\",\"back\\\\slash\",\"{,}\"}", "text[] literal");
    T_EQ_STR(search_pg_array(a, items, 0), "{}", "empty text[] literal");
}

int
main(void)
{
    struct arena *a = arena_create();

    test_words(a);
    test_sorts();
    test_buckets(a);
    test_correct();
    test_corrected_text(a);
    test_checks(a);
    arena_destroy(a);
    return T_DONE();
}
