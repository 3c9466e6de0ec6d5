/*
 * seed_catalog.c - categories, products, their EAV attributes and stock.
 * Every product kind is a row of seed_kinds: its category, price range,
 * brands, attribute generators and the function that names it; the word
 * lists live in seed_words.c. Adding a kind means adding rows, not code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seed_words.h"
#include "soukctl.h"
#include "str.h"

#define SEED_MONTH     (30 * 86400)
#define SEED_MAX_ATTRS 6

static const struct seed_category {
    const char *slug, *name, *parent;
} seed_categories[] = {
    {"clothing", "Clothing", NULL},
    {"shirts", "Shirts", "clothing"},
    {"trousers", "Trousers", "clothing"},
    {"shoes", "Shoes", "clothing"},
    {"electronics", "Electronics", NULL},
    {"laptops", "Laptops", "electronics"},
    {"phones", "Phones", "electronics"},
    {"headphones", "Headphones", "electronics"},
    {"books", "Books", NULL},
    {"fiction", "Fiction", "books"},
    {"non-fiction", "Non-fiction", "books"},
    {"home", "Home", NULL},
    {"kitchen", "Kitchen", "home"},
    {"furniture", "Furniture", "home"},
};
#define SEED_NCATEGORIES (sizeof(seed_categories) / sizeof(seed_categories[0]))

/* ------------------------------------------------ generated attribute values */

static const char *
gen_trouser_size(struct rng *r, struct arena *a)
{
    return arena_printf(a, "W%lld/L%lld", (long long)rng_range(r, 14, 19) * 2,
                        (long long)rng_range(r, 15, 17) * 2);
}

static const char *
gen_shoe_size(struct rng *r, struct arena *a)
{
    return arena_printf(a, "%lld", (long long)rng_range(r, 36, 47));
}

static const char *
gen_author(struct rng *r, struct arena *a)
{
    return arena_printf(a, "%s %s", rng_pick(r, words_first_names), rng_pick(r, words_last_names));
}

static const char *
gen_pages(struct rng *r, struct arena *a)
{
    return arena_printf(a, "%lld", (long long)rng_range(r, 96, 880));
}

/* ISBN-13 with a valid check digit, in the 978 range. */
static const char *
gen_isbn(struct rng *r, struct arena *a)
{
    char d[14];
    int  i, sum = 0;

    memcpy(d, "978", 3);
    for (i = 3; i < 12; i++)
        d[i] = (char)('0' + rng_below(r, 10));
    for (i = 0; i < 12; i++)
        sum += (d[i] - '0') * (i % 2 ? 3 : 1);
    d[12] = (char)('0' + (10 - sum % 10) % 10);
    d[13] = '\0';
    return arena_strdup(a, d);
}

static const char *
gen_width(struct rng *r, struct arena *a)
{
    return arena_printf(a, "%lld", (long long)rng_range(r, 8, 44) * 5);
}

/* ------------------------------------------------------------ attributes */

struct seed_attr {
    const char        *name;
    const char *const *values;                          /* a pick from these, or */
    const char *(*gen)(struct rng *r, struct arena *a); /* a generated value */
};

static const struct seed_attr attrs_shirt[] = {
    {"size", words_sizes, NULL},
    {"colour", words_colours, NULL},
    {"material", words_fabrics, NULL},
    {"fit", words_fits, NULL},
    {NULL, NULL, NULL},
};
static const struct seed_attr attrs_trousers[] = {
    {"size", NULL, gen_trouser_size},
    {"colour", words_colours, NULL},
    {"material", words_trouser_fabrics, NULL},
    {NULL, NULL, NULL},
};
static const struct seed_attr attrs_shoes[] = {
    {"size_eu", NULL, gen_shoe_size},
    {"colour", words_colours, NULL},
    {"material", words_shoe_materials, NULL},
    {NULL, NULL, NULL},
};
static const struct seed_attr attrs_laptop[] = {
    {"cpu", words_cpus, NULL},
    {"ram_gb", words_ram, NULL},
    {"storage_gb", words_storage, NULL},
    {"screen_in", words_laptop_screens, NULL},
    {NULL, NULL, NULL},
};
static const struct seed_attr attrs_phone[] = {
    {"storage_gb", words_phone_storage, NULL},
    {"colour", words_phone_colours, NULL},
    {"screen_in", words_phone_screens, NULL},
    {NULL, NULL, NULL},
};
static const struct seed_attr attrs_headphones[] = {
    {"type", words_headphone_types, NULL},
    {"wireless", words_yes_no, NULL},
    {"colour", words_phone_colours, NULL},
    {NULL, NULL, NULL},
};
static const struct seed_attr attrs_book[] = {
    {"author", NULL, gen_author},        {"pages", NULL, gen_pages}, {"isbn", NULL, gen_isbn},
    {"language", words_languages, NULL}, {NULL, NULL, NULL},
};
static const struct seed_attr attrs_kitchen[] = {
    {"material", words_kitchen_materials, NULL},
    {"capacity_l", words_capacities, NULL},
    {NULL, NULL, NULL},
};
static const struct seed_attr attrs_furniture[] = {
    {"material", words_woods, NULL},
    {"colour", words_furniture_colours, NULL},
    {"width_cm", NULL, gen_width},
    {NULL, NULL, NULL},
};

/* ----------------------------------------------------------------- names */

typedef const char *name_fn(struct rng *r, struct arena *a, const char *brand,
                            const char *const *v);

static const char *
name_shirt(struct rng *r, struct arena *a, const char *brand, const char *const *v)
{
    return arena_printf(a, "%s %s Fit %s Shirt — %s", brand, v[3], rng_pick(r, words_shirt_styles),
                        v[1]);
}

static const char *
name_trousers(struct rng *r, struct arena *a, const char *brand, const char *const *v)
{
    return arena_printf(a, "%s %s %s Trousers — %s", brand, rng_pick(r, words_trouser_cuts), v[2],
                        v[1]);
}

static const char *
name_shoes(struct rng *r, struct arena *a, const char *brand, const char *const *v)
{
    return arena_printf(a, "%s %s %s — %s", brand, rng_pick(r, words_models),
                        rng_pick(r, words_shoe_types), v[1]);
}

/* "Nordtek ProBook 14 i7/16GB/512GB"; 1024 GB and up read as TB. */
static const char *
name_laptop(struct rng *r, struct arena *a, const char *brand, const char *const *v)
{
    int64_t storage = 0;

    if (str_z_to_i64(v[2], 1, 1 << 20, &storage) == ERR_OK && storage >= 1024)
        return arena_printf(a, "%s %s %s %s/%sGB/%lldTB", brand, rng_pick(r, words_laptop_lines),
                            v[3], v[0], v[1], (long long)(storage / 1024));
    return arena_printf(a, "%s %s %s %s/%sGB/%sGB", brand, rng_pick(r, words_laptop_lines), v[3],
                        v[0], v[1], v[2]);
}

static const char *
name_phone(struct rng *r, struct arena *a, const char *brand, const char *const *v)
{
    return arena_printf(a, "%s %s %lld %sGB — %s", brand, rng_pick(r, words_phone_lines),
                        (long long)rng_range(r, 5, 15), v[0], v[1]);
}

static const char *
name_headphones(struct rng *r, struct arena *a, const char *brand, const char *const *v)
{
    return arena_printf(a, "%s %s %s%s Headphones — %s", brand, rng_pick(r, words_models),
                        strcmp(v[1], "yes") == 0 ? "Wireless " : "", v[0], v[2]);
}

static const char *
name_fiction(struct rng *r, struct arena *a, const char *brand, const char *const *v)
{
    (void)brand;
    return arena_printf(a, "The %s %s — %s", rng_pick(r, words_fiction_title_adjs),
                        rng_pick(r, words_fiction_title_nouns), v[0]);
}

static const char *
name_nonfiction(struct rng *r, struct arena *a, const char *brand, const char *const *v)
{
    (void)brand;
    return arena_printf(a, rng_pick(r, words_nonfiction_patterns), rng_pick(r, words_topics), v[0]);
}

static const char *
name_kitchen(struct rng *r, struct arena *a, const char *brand, const char *const *v)
{
    return arena_printf(a, "%s %s %s %s L", brand, v[0], rng_pick(r, words_kitchen_items), v[1]);
}

static const char *
name_furniture(struct rng *r, struct arena *a, const char *brand, const char *const *v)
{
    return arena_printf(a, "%s %s %s %s %s cm — %s", brand, rng_pick(r, words_furniture_styles),
                        v[0], rng_pick(r, words_furniture_items), v[2], v[1]);
}

/* ------------------------------------------------------------------ kinds */

static const struct seed_kind {
    const char              *category; /* slug in seed_categories */
    const char              *sku;      /* prefix */
    const char              *noun;     /* for descriptions */
    const char              *the;      /* "The " before the name, "" when it is a title */
    unsigned                 weight;   /* share of the catalogue */
    int64_t                  lo, hi;   /* price range, whole euros */
    const char *const       *brands;
    const struct seed_attr  *attrs;
    name_fn                 *name;
    const struct words_kind *words; /* adjectives, uses, feature sentences */
} seed_kinds[] = {
    {"shirts", "SHI", "shirt", "The ", 16, 19, 129, words_fashion_brands, attrs_shirt, name_shirt,
     &words_kind_shirt},
    {"trousers", "TRO", "pair of trousers", "The ", 10, 29, 179, words_fashion_brands,
     attrs_trousers, name_trousers, &words_kind_trousers},
    {"shoes", "SHO", "shoe", "The ", 10, 39, 249, words_shoe_brands, attrs_shoes, name_shoes,
     &words_kind_shoes},
    {"laptops", "LAP", "laptop", "The ", 6, 499, 2899, words_tech_brands, attrs_laptop, name_laptop,
     &words_kind_laptop},
    {"phones", "PHO", "smartphone", "The ", 6, 149, 1499, words_tech_brands, attrs_phone,
     name_phone, &words_kind_phone},
    {"headphones", "HEA", "pair of headphones", "The ", 8, 19, 449, words_audio_brands,
     attrs_headphones, name_headphones, &words_kind_headphones},
    {"fiction", "BKF", "novel", "", 14, 7, 29, words_publishers, attrs_book, name_fiction,
     &words_kind_fiction},
    {"non-fiction", "BKN", "book", "", 10, 9, 49, words_publishers, attrs_book, name_nonfiction,
     &words_kind_nonfiction},
    {"kitchen", "KIT", "piece of cookware", "The ", 10, 12, 249, words_home_brands, attrs_kitchen,
     name_kitchen, &words_kind_kitchen},
    {"furniture", "FUR", "piece of furniture", "The ", 10, 59, 1999, words_home_brands,
     attrs_furniture, name_furniture, &words_kind_furniture},
};
#define SEED_NKINDS (sizeof(seed_kinds) / sizeof(seed_kinds[0]))

static int64_t
category_id(const char *slug)
{
    size_t i;

    for (i = 0; i < SEED_NCATEGORIES; i++)
        if (strcmp(seed_categories[i].slug, slug) == 0)
            return (int64_t)i + 1;
    return 0; /* a typo in the tables above; the FK check in the tests catches it */
}

static const struct seed_kind *
pick_kind(struct rng *r)
{
    unsigned total = 0, x;
    size_t   i;

    for (i = 0; i < SEED_NKINDS; i++)
        total += seed_kinds[i].weight;
    x = (unsigned)rng_below(r, total);
    for (i = 0; x >= seed_kinds[i].weight; i++)
        x -= seed_kinds[i].weight;
    return &seed_kinds[i];
}

/* Mostly .99 endings, some .49 and round prices, as shops do. */
static int64_t
price_minor(struct rng *r, const struct seed_kind *k)
{
    static const int64_t cents[] = {99, 99, 99, 99, 49, 0};

    return rng_range(r, k->lo, k->hi) * 100 + cents[rng_below(r, 6)];
}

static const char *
describe(struct rng *r, struct arena *a, const struct seed_kind *k, const char *name)
{
    const struct words_kind *w = k->words;
    const char              *adj = rng_pick(r, w->adjs);
    const char              *f1 = rng_pick(r, w->features), *f2 = rng_pick(r, w->features);

    while (f2 == f1)
        f2 = rng_pick(r, w->features);
    return arena_printf(a, "%s%s is %s %s %s made for %s. %s %s %s", k->the, name,
                        strchr("aeiou", adj[0]) ? "an" : "a", adj, k->noun, rng_pick(r, w->uses),
                        f1, f2, rng_pick(r, words_closers));
}

static int
load_categories(struct seed *s)
{
    size_t i;
    int    rc = ERR_OK;

    for (i = 0; i < SEED_NCATEGORIES && rc == ERR_OK; i++) {
        const struct seed_category *c = &seed_categories[i];

        rc = mdb_exec(
            s->db, "INSERT INTO categories (id, slug, name, parent_id) VALUES (?, ?, ?, ?)",
            (struct mdb_arg[]){MDB_I64((int64_t)i + 1), MDB_STR(c->slug), MDB_STR(c->name),
                               c->parent ? MDB_I64(category_id(c->parent)) : MDB_NULL},
            4, NULL, NULL);
    }
    return rc;
}

/* One product: its row, attribute rows and stock row. */
static int
product(struct seed *s, struct batch *b, int64_t id, struct arena *a)
{
    struct rng              r = rng_for(s->seed, "product", (uint64_t)id);
    const struct seed_kind *k = pick_kind(&r);
    const char             *v[SEED_MAX_ATTRS], *brand, *name, *at;
    int64_t                 stock;
    size_t                  i;
    int                     rc;

    brand = rng_pick(&r, k->brands);
    for (i = 0; k->attrs[i].name != NULL; i++)
        v[i] = k->attrs[i].gen ? k->attrs[i].gen(&r, a) : rng_pick(&r, k->attrs[i].values);
    name = k->name(&r, a, brand, v);
    s->price[id] = price_minor(&r, k);
    at = seed_time(a, s->now - rng_range(&r, 24 * SEED_MONTH, 36 * SEED_MONTH), 0);
    stock = rng_pct(&r, 6) ? 0 : rng_range(&r, 1, rng_pct(&r, 80) ? 120 : 500);
    rc = batch_row(
        &b[0], (struct mdb_arg[]){MDB_I64(id),
                                  MDB_STR(arena_printf(a, "%s-%06lld", k->sku, (long long)id)),
                                  MDB_STR(name), MDB_STR(describe(&r, a, k, name)),
                                  MDB_I64(category_id(k->category)), MDB_STR(brand),
                                  MDB_I64(s->price[id]), MDB_STR("EUR"), MDB_STR(at), MDB_STR(at)});
    for (i = 0; rc == ERR_OK && k->attrs[i].name != NULL; i++)
        rc = batch_row(&b[1],
                       (struct mdb_arg[]){MDB_I64(id), MDB_STR(k->attrs[i].name), MDB_STR(v[i])});
    if (rc == ERR_OK)
        rc = batch_row(&b[2], (struct mdb_arg[]){MDB_I64(id), MDB_I64(stock), MDB_STR(at)});
    return rc;
}

int
catalog_load(struct seed *s)
{
    struct arena *a = arena_create();
    struct batch  b[3];
    int64_t       id;
    size_t        i;
    int           rc;

    s->price = calloc((size_t)s->products + 1, sizeof(*s->price));
    if (s->price == NULL)
        abort();
    batch_open(&b[0], s, "products",
               "INSERT INTO products (id, sku, name, description, category_id, brand, "
               "price_minor, currency, created_at, updated_at) VALUES ",
               10);
    batch_open(&b[1], s, "product_attributes",
               "INSERT INTO product_attributes (product_id, name, value) VALUES ", 3);
    batch_open(&b[2], s, "inventory",
               "INSERT INTO inventory (product_id, stock, updated_at) VALUES ", 3);
    rc = load_categories(s);
    for (id = 1; rc == ERR_OK && id <= s->products; id++) {
        rc = product(s, b, id, a);
        arena_reset(a);
        seed_progress(s, "products", id, s->products, id == s->products);
    }
    for (i = 0; i < 3; i++) {
        if (rc == ERR_OK)
            rc = batch_flush(&b[i]);
        batch_close(&b[i]);
    }
    arena_destroy(a);
    return rc;
}

int64_t
catalog_popular(struct seed *s, struct rng *r)
{
    double  u = rng_unit(r);
    int64_t rank = (int64_t)(u * u * (double)s->products);

    return 1 + (int64_t)(((uint64_t)rank * s->stride) % (uint64_t)s->products);
}

size_t
catalog_pick(struct seed *s, struct rng *r, int64_t *ids, size_t n)
{
    size_t  i = 0, j;
    int64_t id;

    if ((int64_t)n > s->products)
        n = (size_t)s->products;
    while (i < n) {
        id = catalog_popular(s, r);
        for (j = 0; j < i && ids[j] != id; j++)
            ;
        if (j == i)
            ids[i++] = id; /* not drawn before */
    }
    return n;
}
