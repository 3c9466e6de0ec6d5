/*
 * 10_shop.c - the monolith's pure logic: test cards, Luhn, attribute names,
 * sort names, dates, money totals and the idempotency request hash.
 */
#include <sodium.h>
#include <string.h>

#include "monolith.h"
#include "t.h"

struct monolith_config monolith; /* main.c is not linked into unit tests */

static const struct {
    const char         *card;
    enum payment_result want;
} cards[] = {
    {"4242424242424242", PAYMENT_APPROVED},
    {"4000000000000002", PAYMENT_DECLINED},
    {"4000000000000119", PAYMENT_TRANSIENT},
    {"5555555555554444", PAYMENT_APPROVED}, /* any other Luhn-valid card */
    {"4242424242424241", PAYMENT_INVALID},  /* checksum off by one */
    {"42424242", PAYMENT_INVALID},          /* too short */
    {"4242-4242-4242-4242", PAYMENT_INVALID},
    {"", PAYMENT_INVALID},
    {"42424242424242424242", PAYMENT_INVALID}, /* 20 digits */
};

static const struct {
    const char *name;
    int         valid;
} attr_names[] = {
    {"colour", 1},
    {"ram_gb", 1},
    {"a", 1},
    {"", 0},
    {"Colour", 0},
    {"1abc", 0},
    {"ram-gb", 0},
    {"x' OR 1=1", 0},
    {"_x", 0},
    {"a234567890123456789012345678901234567890123456789012345678901234", 1},  /* 64 */
    {"a2345678901234567890123456789012345678901234567890123456789012345", 0}, /* 65 */
};

static const struct {
    const char *z;
    int         date_ok, month_ok;
} dates[] = {
    {"2026-11-25", 1, 0}, {"2026-13-01", 0, 0}, {"2026-00-10", 0, 0},  {"2026-02-32", 0, 0},
    {"0999-01-01", 0, 0}, {"2026-1-01", 0, 0},  {"2026-11", 0, 1},     {"2026-13", 0, 0},
    {"", 0, 0},           {"20261125", 0, 0},   {"2026-11-25'", 0, 0}, {"2024-02-31", 0, 0},
    {"2024-02-29", 1, 0}, {"2023-02-29", 0, 0}, {"2000-02-29", 1, 0},  {"1900-02-29", 0, 0},
    {"2026-04-31", 0, 0}, {"2026-12-31", 1, 0},
};

int
main(void)
{
    struct line       lines[] = {{1, 2, "a", {1999, "EUR"}}, {2, 3, "b", {500, "EUR"}}};
    struct money      total;
    char              ref[33], h1[65], h2[65], h3[65];
    size_t            i;
    int64_t           items;
    enum product_sort s;

    if (sodium_init() < 0)
        return 1;
    for (i = 0; i < sizeof(cards) / sizeof(cards[0]); i++)
        T_EQ_INT(shop_payment_charge(cards[i].card, 1000, ref), cards[i].want, "card \"%s\"",
                 cards[i].card);
    T_EQ_INT(shop_payment_charge("4242424242424242", 1, ref), PAYMENT_APPROVED, "approve ref");
    T_OK(strncmp(ref, "sim_", 4) == 0 && strlen(ref) == 20, "provider ref looks like sim_<hex>");
    T_EQ_INT(shop_payment_charge("4242424242424242", -1, ref), PAYMENT_INVALID,
             "negative amount is refused");

    for (i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
        T_EQ_INT(shop_attr_name_valid(attr_names[i].name), attr_names[i].valid,
                 "attribute name \"%s\"", attr_names[i].name);

    T_EQ_INT(shop_sort_parse("price_asc", &s), ERR_OK, "price_asc parses");
    T_EQ_INT(s, SORT_PRICE_ASC, "price_asc maps");
    T_EQ_INT(shop_sort_parse("price", &s), ERR_INVALID, "unknown sort is invalid");

    for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        T_EQ_INT(shop_date_valid(dates[i].z), dates[i].date_ok, "date \"%s\"", dates[i].z);
        T_EQ_INT(shop_month_valid(dates[i].z), dates[i].month_ok, "month \"%s\"", dates[i].z);
    }

    shop_line_total(&lines[0], &total);
    T_EQ_INT(total.minor, 3998, "line total is unit × quantity");
    shop_cart_total(lines, 2, &total, &items);
    T_EQ_INT(total.minor, 5498, "cart total");
    T_EQ_INT(items, 5, "cart item count");
    T_EQ_STR(total.currency, "EUR", "cart currency");
    shop_cart_total(lines, 0, &total, &items);
    T_EQ_INT(total.minor, 0, "empty cart totals zero");

    shop_request_hash("k1", 7, "4242424242424242", h1);
    shop_request_hash("k1", 7, "4242424242424242", h2);
    shop_request_hash("k1", 7, "5555555555554444", h3);
    T_EQ_STR(h1, h2, "request hash is stable");
    T_OK(strcmp(h1, h3) != 0, "different cards hash differently");
    T_EQ_INT(strlen(h1), 64, "hash is 64 hex digits");
    shop_request_hash("k2", 7, "4242424242424242", h3);
    T_OK(strcmp(h1, h3) != 0, "the hash depends on the server key");
    shop_request_hash("k1", 8, "4242424242424242", h3);
    T_OK(strcmp(h1, h3) != 0, "the hash depends on the user");
    {
        unsigned char plain[crypto_hash_sha256_BYTES];
        char          hex[65];

        crypto_hash_sha256(plain, (const unsigned char *)"4242424242424242", 16);
        sodium_bin2hex(hex, sizeof(hex), plain, sizeof(plain));
        T_OK(strcmp(h1, hex) != 0, "the hash is not a plain sha-256 of the card");
    }
    return T_DONE();
}
