/*
 * shop.c - the shop's pure logic: the simulated payment provider's answer
 * (its test cards are lib/card.h's), input checks and money arithmetic. No I/O here,
 * so monolith/t/10_shop.c can test it table-driven.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "card.h"
#include "monolith.h"

/* The simulated provider's answer for card_number: its test cards and the
 * Luhn check are lib/card.h's, the one table the monolith and payments'
 * provider share (approved, declined, unavailable). */
enum payment_result
shop_payment_charge(const char *card_number, int64_t amount_minor, char ref[33])
{
    static const enum payment_result by_behaviour[] = {
        [CARD_APPROVE] = PAYMENT_APPROVED,
        [CARD_DECLINE] = PAYMENT_DECLINED,
        [CARD_UNAVAILABLE] = PAYMENT_TRANSIENT,
    };
    unsigned char       raw[8];
    enum payment_result r;

    if (!card_valid(card_number) || amount_minor < 0)
        return PAYMENT_INVALID;
    r = by_behaviour[card_behaviour(card_number)];
    if (r != PAYMENT_APPROVED)
        return r;
    randombytes_buf(raw, sizeof(raw));
    memcpy(ref, "sim_", 4);
    sodium_bin2hex(ref + 4, 33 - 4, raw, sizeof(raw));
    return PAYMENT_APPROVED;
}

/* Attribute names become SQL parameters, never identifiers, but a strict
 * alphabet also keeps query strings like "page" or "sort" unambiguous. */
int
shop_attr_name_valid(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > 64)
        return 0;
    for (i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return name[0] >= 'a' && name[0] <= 'z';
}

static const struct {
    const char       *name;
    enum product_sort sort;
} sorts[] = {
    {"relevance", SORT_RELEVANCE},   {"newest", SORT_NEWEST}, {"price_asc", SORT_PRICE_ASC},
    {"price_desc", SORT_PRICE_DESC}, {"name", SORT_NAME},
};

int
shop_sort_parse(const char *z, enum product_sort *out)
{
    size_t i;

    for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++) {
        if (strcmp(z, sorts[i].name) == 0) {
            *out = sorts[i].sort;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

static int
digits(const char *z, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (z[i] < '0' || z[i] > '9')
            return 0;
    return 1;
}

/* YYYY-MM-DD naming a real calendar day. */
int
shop_date_valid(const char *z)
{
    int m, d;

    if (strlen(z) != 10 || z[4] != '-' || z[7] != '-' || !digits(z, 4) || !digits(z + 5, 2) ||
        !digits(z + 8, 2))
        return 0;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int              y;

    y = (z[0] - '0') * 1000 + (z[1] - '0') * 100 + (z[2] - '0') * 10 + (z[3] - '0');
    m = (z[5] - '0') * 10 + (z[6] - '0');
    d = (z[8] - '0') * 10 + (z[9] - '0');
    if (y < 1000 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    /* MariaDB rejects 29 February outside leap years rather than rolling over. */
    return !(m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
}

/* YYYY-MM */
int
shop_month_valid(const char *z)
{
    int m;

    if (strlen(z) != 7 || z[4] != '-' || !digits(z, 4) || !digits(z + 5, 2))
        return 0;
    m = (z[5] - '0') * 10 + (z[6] - '0');
    return m >= 1 && m <= 12 && z[0] != '0';
}

void
shop_line_total(const struct line *l, struct money *out)
{
    out->minor = l->unit.minor * l->quantity;
    memcpy(out->currency, l->unit.currency, sizeof(out->currency));
}

void
shop_cart_total(const struct line *lines, size_t n, struct money *out, int64_t *items)
{
    size_t i;

    out->minor = 0;
    memcpy(out->currency, "EUR", 4);
    *items = 0;
    for (i = 0; i < n; i++) {
        out->minor += lines[i].unit.minor * lines[i].quantity;
        *items += lines[i].quantity;
        memcpy(out->currency, lines[i].unit.currency, sizeof(out->currency));
    }
}

/* What the client asked for, so a reused Idempotency-Key with a different
 * request is told apart from a retry. Keyed (HMAC) and bound to the user:
 * a plain hash of a card number is reversible by brute force from its last
 * four digits and issuer prefix. */
void
shop_request_hash(const char *key, int64_t user_id, const char *card_number, char out[65])
{
    char msg[64];
    int  n;

    n = snprintf(msg, sizeof(msg), "checkout:%lld:%s", (long long)user_id, card_number);
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = 0; /* card numbers are at most 19 digits; never reached */
    auth_hmac_hex(key, msg, (size_t)n, out);
}
