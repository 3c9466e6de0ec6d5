/*
 * seed_reviews.c - product reviews: at most one per (user, product), popular
 * products get more of them, ratings lean positive as real ones do. Titles
 * and bodies come from per-rating word lists.
 */
#include <stdio.h>
#include <stdlib.h>

#include "soukctl.h"

#define SEED_DAY  86400
#define SEED_DEMO 2

static const char *const titles_1[] = {"Would not buy again", "Poor quality", "Very disappointed",
                                       NULL};
static const char *const titles_2[] = {"Not great", "Disappointing", "Expected more", NULL};
static const char *const titles_3[] = {"Okay", "Does the job", "Decent for the price", NULL};
static const char *const titles_4[] = {"Very good", "Solid choice", "Happy with it", "Good value",
                                       NULL};
static const char *const titles_5[] = {
    "Excellent",          "Love it", "Exactly as described", "Best purchase this year",
    "Highly recommended", NULL};

static const char *const openers_1[] = {"It stopped working properly within a week.",
                                        "The quality is far below what the photos suggest.",
                                        "Sadly it did not match the description at all.", NULL};
static const char *const openers_2[] = {
    "It works, but it feels cheaper than expected.", "The finish is rough in places.",
    "Sizing and details were not quite what I hoped for.", NULL};
static const char *const openers_3[] = {"It is fine for everyday use.",
                                        "Nothing special, but nothing wrong either.",
                                        "Reasonable quality for what it costs.", NULL};
static const char *const openers_4[] = {"Really pleased with this purchase.",
                                        "Good quality and it arrived quickly.",
                                        "It does everything I need and looks good doing it.", NULL};
static const char *const openers_5[] = {
    "Absolutely love it and use it every day.", "Outstanding quality, far better than expected.",
    "This is the best one I have owned, and I have tried a few.", NULL};
static const char *const details[] = {
    "Delivery was fast and the packaging was neat.",
    "I compared several options before choosing this one.",
    "I bought it as a gift and ended up ordering a second one for myself.",
    "Customer service answered my question within a day.",
    "After a few months it still looks new.",
    "The colour is exactly as shown on the website.",
    NULL};

/* Rating 1..5 by weight, with its words. */
static const struct seed_rating {
    unsigned           weight;
    const char *const *titles, *const *openers;
} seed_ratings[] = {
    {7, titles_1, openers_1},  {6, titles_2, openers_2},  {12, titles_3, openers_3},
    {30, titles_4, openers_4}, {45, titles_5, openers_5},
};

/* Open addressing over (product << 32 | user); 0 marks an empty slot. */
struct pairset {
    uint64_t *k;
    size_t    mask;
};

static void
pairset_init(struct pairset *p, int64_t n)
{
    size_t cap = 16;

    while (cap < (size_t)n * 2)
        cap *= 2;
    p->k = calloc(cap, sizeof(*p->k));
    if (p->k == NULL)
        abort();
    p->mask = cap - 1;
}

/* 1 when key was added, 0 when it was there already. */
static int
pairset_add(struct pairset *p, uint64_t key)
{
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) & p->mask;

    while (p->k[i] != 0) {
        if (p->k[i] == key)
            return 0;
        i = (i + 1) & p->mask;
    }
    p->k[i] = key;
    return 1;
}

static const struct seed_rating *
pick_rating(struct rng *r, int *rating)
{
    unsigned x = (unsigned)rng_below(r, 100);
    int      i;

    for (i = 0; x >= seed_ratings[i].weight; i++)
        x -= seed_ratings[i].weight;
    *rating = i + 1;
    return &seed_ratings[i];
}

static int
review(struct seed *s, struct batch *b, int64_t id, struct rng *r, struct pairset *seen,
       struct arena *a)
{
    const struct seed_rating *w;
    int64_t                   product, user_id, from;
    int                       rating;

    do {
        product = catalog_popular(s, r);
        user_id = rng_range(r, SEED_DEMO, s->users);
    } while (!pairset_add(seen, (uint64_t)product << 32 | (uint64_t)user_id));
    w = pick_rating(r, &rating);
    from = people_created(s, user_id);
    if (from < s->now - 730 * SEED_DAY)
        from = s->now - 730 * SEED_DAY;
    return batch_row(
        b, (struct mdb_arg[]){
               MDB_I64(id), MDB_I64(product), MDB_I64(user_id), MDB_I64(rating),
               MDB_STR(rng_pick(r, w->titles)),
               MDB_STR(arena_printf(a, "%s %s", rng_pick(r, w->openers), rng_pick(r, details))),
               MDB_STR(seed_time(a, rng_range(r, from, s->now - 3600), (int)rng_below(r, 1000)))});
}

int
reviews_load(struct seed *s)
{
    struct rng     r = rng_for(s->seed, "reviews", 0);
    struct arena  *a = arena_create();
    struct pairset seen;
    struct batch   b;
    int64_t        id;
    int            rc = ERR_OK;

    pairset_init(&seen, s->reviews);
    batch_open(&b, s, "reviews",
               "INSERT INTO reviews (id, product_id, user_id, rating, title, body, created_at) "
               "VALUES ",
               7);
    for (id = 1; rc == ERR_OK && id <= s->reviews; id++) {
        rc = review(s, &b, id, &r, &seen, a);
        arena_reset(a);
        seed_progress(s, "reviews", id, s->reviews, id == s->reviews);
    }
    if (rc == ERR_OK)
        rc = batch_flush(&b);
    batch_close(&b);
    free(seen.k);
    arena_destroy(a);
    return rc;
}
