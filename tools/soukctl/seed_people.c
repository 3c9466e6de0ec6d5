/*
 * seed_people.c - users, their addresses and a few open carts.
 * User 1 is the admin, user 2 the demo customer, the rest customerN. A
 * user's sign-up time and address are functions of (seed, id), so the order
 * phase can copy an address without keeping every user in memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seed_words.h"
#include "soukctl.h"

#define SEED_DAY         86400
#define SEED_ADMIN       1
#define SEED_DEMO        2
#define SEED_ADDRESS_PCT 90 /* customers with a shipping address */

static const char *const streets_de[] = {"Hauptstraße", "Bahnhofstraße",  "Gartenweg",
                                         "Lindenallee", "Schillerstraße", NULL};
static const char *const streets_fr[] = {"Rue de la Paix", "Rue Victor Hugo", "Avenue des Fleurs",
                                         "Boulevard Voltaire", NULL};
static const char *const streets_nl[] = {"Kerkstraat", "Dorpsstraat", "Molenweg", "Prinsengracht",
                                         NULL};
static const char *const streets_en[] = {"High Street", "Station Road", "Church Lane",
                                         "Victoria Road", NULL};
static const char *const streets_it[] = {"Via Roma", "Via Garibaldi", "Corso Italia", "Via Dante",
                                         NULL};
static const char *const streets_es[] = {"Calle Mayor", "Calle del Sol", "Avenida de América",
                                         "Calle de Alcalá", NULL};
static const char *const streets_pt[] = {"Rua Augusta", "Avenida da Liberdade", "Rua do Carmo",
                                         NULL};
static const char *const streets_nordic[] = {"Storgatan", "Kungsgatan", "Strandvejen", "Nørregade",
                                             NULL};

/* A city, how its postal codes look ('#' a digit, '@' a letter) and how
 * its addresses are written. */
static const struct seed_city {
    const char        *city, *country, *postal;
    const char *const *streets;
    int                number_first; /* "12 High Street" rather than "Hauptstraße 12" */
} seed_cities[] = {
    {"Berlin", "DE", "1####", streets_de, 0},
    {"Munich", "DE", "8####", streets_de, 0},
    {"Hamburg", "DE", "2####", streets_de, 0},
    {"Cologne", "DE", "5####", streets_de, 0},
    {"Paris", "FR", "750##", streets_fr, 1},
    {"Lyon", "FR", "6900#", streets_fr, 1},
    {"Amsterdam", "NL", "10## @@", streets_nl, 0},
    {"Rotterdam", "NL", "30## @@", streets_nl, 0},
    {"London", "GB", "@@# #@@", streets_en, 1},
    {"Manchester", "GB", "M# #@@", streets_en, 1},
    {"Milan", "IT", "201##", streets_it, 0},
    {"Rome", "IT", "001##", streets_it, 0},
    {"Madrid", "ES", "280##", streets_es, 0},
    {"Barcelona", "ES", "080##", streets_es, 0},
    {"Vienna", "AT", "1###", streets_de, 0},
    {"Brussels", "BE", "1###", streets_fr, 1},
    {"Stockholm", "SE", "1## ##", streets_nordic, 0},
    {"Dublin", "IE", "D0# @#@#", streets_en, 1},
    {"Lisbon", "PT", "1###-###", streets_pt, 0},
    {"Copenhagen", "DK", "1###", streets_nordic, 0},
};
#define SEED_NCITIES (sizeof(seed_cities) / sizeof(seed_cities[0]))

int64_t
people_created(const struct seed *s, int64_t user_id)
{
    struct rng r = rng_for(s->seed, "user-created", (uint64_t)user_id);

    if (user_id <= SEED_DEMO)
        return s->now - 1100 * SEED_DAY;
    return s->now - rng_range(&r, 30 * SEED_DAY, 1095 * SEED_DAY);
}

int
people_has_address(const struct seed *s, int64_t user_id)
{
    struct rng r = rng_for(s->seed, "user-has-address", (uint64_t)user_id);

    if (user_id <= SEED_DEMO)
        return user_id == SEED_DEMO;
    return rng_pct(&r, SEED_ADDRESS_PCT);
}

static const char *
postal_code(struct rng *r, struct arena *a, const char *pattern)
{
    char  *p = arena_strdup(a, pattern);
    size_t i;

    for (i = 0; p[i] != '\0'; i++) {
        if (p[i] == '#')
            p[i] = (char)('0' + rng_below(r, 10));
        else if (p[i] == '@')
            p[i] = (char)('A' + rng_below(r, 26));
    }
    return p;
}

void
people_address(const struct seed *s, int64_t user_id, struct arena *a, const char *out[5])
{
    struct rng              r = rng_for(s->seed, "user-address", (uint64_t)user_id);
    const struct seed_city *c = &seed_cities[rng_below(&r, SEED_NCITIES)];
    const char             *street = rng_pick(&r, c->streets);
    long long               number = rng_range(&r, 1, 180);

    out[0] = c->number_first ? arena_printf(a, "%lld %s", number, street)
                             : arena_printf(a, "%s %lld", street, number);
    out[1] = rng_pct(&r, 25) ? arena_printf(a, "Apt %lld", (long long)rng_range(&r, 1, 40)) : "";
    out[2] = c->city;
    out[3] = postal_code(&r, a, c->postal);
    out[4] = c->country;
}

/* The demo customer is left out (the orders phase sets its order count)
 * unless a tiny user base has no other customer with an address. */
int64_t
people_customer(struct seed *s, struct rng *r)
{
    int64_t id;
    int     tries;

    for (tries = 0; s->users > SEED_DEMO && tries < 1000; tries++) {
        id = rng_range(r, SEED_DEMO + 1, s->users);
        if (people_has_address(s, id))
            return id;
    }
    return SEED_DEMO;
}

static int
user(struct seed *s, struct batch *b, int64_t id, struct arena *a)
{
    struct rng  r = rng_for(s->seed, "user", (uint64_t)id);
    const char *email, *name, *addr[5], *at;
    int         rc;

    email = id == SEED_ADMIN  ? "admin@souk.test"
            : id == SEED_DEMO ? "demo@souk.test"
                              : arena_printf(a, "customer%lld@souk.test", (long long)id);
    name = id == SEED_ADMIN  ? "Souk Admin"
           : id == SEED_DEMO ? "Demo Customer"
                             : arena_printf(a, "%s %s", rng_pick(&r, words_first_names),
                                            rng_pick(&r, words_last_names));
    at = seed_time(a, people_created(s, id), (int)rng_below(&r, 1000));
    rc = batch_row(&b[0], (struct mdb_arg[]){
                              MDB_I64(id), MDB_STR(email), MDB_STR(s->password_hash), MDB_STR(name),
                              MDB_STR(id == SEED_ADMIN ? "admin" : "customer"), MDB_STR(at)});
    if (rc || !people_has_address(s, id))
        return rc;
    people_address(s, id, a, addr);
    return batch_row(&b[1], (struct mdb_arg[]){MDB_I64(id), MDB_STR(addr[0]), MDB_STR(addr[1]),
                                               MDB_STR(addr[2]), MDB_STR(addr[3]), MDB_STR(addr[4]),
                                               MDB_STR(at)});
}

int
people_load(struct seed *s)
{
    struct arena *a = arena_create();
    struct batch  b[2];
    int64_t       id;
    int           rc = ERR_OK;

    batch_open(&b[0], s, "users",
               "INSERT INTO users (id, email, password_hash, name, role, created_at) VALUES ", 6);
    batch_open(&b[1], s, "addresses",
               "INSERT INTO addresses (user_id, line1, line2, city, postal_code, country, "
               "updated_at) VALUES ",
               7);
    for (id = 1; rc == ERR_OK && id <= s->users; id++) {
        rc = user(s, b, id, a);
        arena_reset(a);
        seed_progress(s, "users", id, s->users, id == s->users);
    }
    if (rc == ERR_OK)
        rc = batch_flush(&b[0]);
    if (rc == ERR_OK)
        rc = batch_flush(&b[1]);
    batch_close(&b[0]);
    batch_close(&b[1]);
    arena_destroy(a);
    return rc;
}

/* ------------------------------------------------------------------ carts */

/* Cart 1 is the demo customer's; the others belong to distinct customers. */
static int
cart(struct seed *s, struct batch *b, int64_t id, int64_t user_id, struct rng *r, struct arena *a)
{
    int64_t     items[4];
    size_t      i, n;
    const char *at = seed_time(a, s->now - rng_range(r, 3600, 14 * SEED_DAY), 0);
    int         rc;

    rc = batch_row(&b[0],
                   (struct mdb_arg[]){MDB_I64(id), MDB_I64(user_id), MDB_STR(at), MDB_STR(at)});
    n = catalog_pick(s, r, items, (size_t)rng_range(r, 1, 4));
    for (i = 0; rc == ERR_OK && i < n; i++)
        rc = batch_row(&b[1], (struct mdb_arg[]){MDB_I64(id), MDB_I64(items[i]),
                                                 MDB_I64(rng_range(r, 1, 3)), MDB_STR(at)});
    return rc;
}

int
carts_load(struct seed *s)
{
    struct rng     r = rng_for(s->seed, "carts", 0);
    struct arena  *a = arena_create();
    unsigned char *taken = calloc((size_t)s->users + 1, 1);
    struct batch   b[2];
    int64_t        id, user_id;
    int            rc = ERR_OK;

    if (taken == NULL)
        abort();
    batch_open(&b[0], s, "carts", "INSERT INTO carts (id, user_id, created_at, updated_at) VALUES ",
               4);
    batch_open(&b[1], s, "cart_items",
               "INSERT INTO cart_items (cart_id, product_id, quantity, added_at) VALUES ", 4);
    taken[SEED_ADMIN] = taken[SEED_DEMO] = 1;
    for (id = 1; rc == ERR_OK && id <= s->carts; id++) {
        user_id = SEED_DEMO;
        while (id > 1 && taken[user_id])
            user_id = rng_range(&r, SEED_DEMO + 1, s->users);
        taken[user_id] = 1;
        rc = cart(s, b, id, user_id, &r, a);
        arena_reset(a);
    }
    if (rc == ERR_OK)
        rc = batch_flush(&b[0]);
    if (rc == ERR_OK)
        rc = batch_flush(&b[1]);
    batch_close(&b[0]);
    batch_close(&b[1]);
    free(taken);
    arena_destroy(a);
    return rc;
}
