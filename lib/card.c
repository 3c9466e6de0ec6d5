/*
 * card.c - the Luhn check, last four digits and the simulated provider's
 * tokens (card.h). No I/O but the random part of a token.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "card.h"

/* The simulated provider's test cards and what it does with each; the
 * behaviour's name is the one a token carries. */
static const struct {
    const char         *number;
    enum card_behaviour behaviour;
} test_cards[] = {
    {"4242424242424242", CARD_APPROVE},
    {"4000000000000002", CARD_DECLINE},
    {"4000000000000119", CARD_UNAVAILABLE},
};

static const char *const behaviour_names[] = {
    [CARD_APPROVE] = "ok",
    [CARD_DECLINE] = "decline",
    [CARD_UNAVAILABLE] = "down",
};

#define NBEHAVIOURS (sizeof(behaviour_names) / sizeof(behaviour_names[0]))

int
card_valid(const char *z)
{
    size_t i, n = strlen(z);
    int    sum = 0, dbl = 0;

    if (n < 12 || n > 19)
        return 0;
    for (i = n; i-- > 0;) {
        int d = z[i] - '0';

        if (d < 0 || d > 9)
            return 0;
        if (dbl) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

enum card_behaviour
card_behaviour(const char *z)
{
    size_t i;

    for (i = 0; i < sizeof(test_cards) / sizeof(test_cards[0]); i++)
        if (strcmp(z, test_cards[i].number) == 0)
            return test_cards[i].behaviour;
    return CARD_APPROVE;
}

void
card_last4(const char *z, char out[5])
{
    size_t n = strlen(z);

    memcpy(out, n >= 4 ? z + n - 4 : "0000", 4);
    out[4] = '\0';
}

int
card_tokenize(const char *z, char out[CARD_TOKEN_MAX])
{
    unsigned char raw[8];
    char          hex[2 * sizeof(raw) + 1], last4[5];
    int           n;

    if (!card_valid(z))
        return ERR_INVALID;
    card_last4(z, last4);
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    n = snprintf(out, CARD_TOKEN_MAX, "sim_%s_%s_%s", behaviour_names[card_behaviour(z)], last4,
                 hex);
    return n > 0 && n < CARD_TOKEN_MAX ? ERR_OK : ERR_INTERNAL;
}

static int
all_in(const char *z, size_t n, const char *set)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (z[i] == '\0' || strchr(set, z[i]) == NULL)
            return 0;
    return 1;
}

int
card_token_parse(const char *token, enum card_behaviour *out, char last4[5])
{
    size_t i, len;

    if (strncmp(token, "sim_", 4) != 0)
        return ERR_INVALID;
    token += 4;
    for (i = 0; i < NBEHAVIOURS; i++) {
        len = strlen(behaviour_names[i]);
        if (strncmp(token, behaviour_names[i], len) == 0 && token[len] == '_')
            break;
    }
    if (i == NBEHAVIOURS)
        return ERR_INVALID;
    token += len + 1;
    /* LAST4 "_" 16 lower-case hex digits, and nothing after */
    if (!all_in(token, 4, "0123456789") || token[4] != '_' ||
        !all_in(token + 5, 16, "0123456789abcdef") || token[21] != '\0')
        return ERR_INVALID;
    *out = (enum card_behaviour)i;
    if (last4 != NULL) {
        memcpy(last4, token, 4);
        last4[4] = '\0';
    }
    return ERR_OK;
}
