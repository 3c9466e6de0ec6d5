/*
 * 29_card.c - the Luhn check, the test cards' behaviours and the simulated
 * provider's tokens (lib/card.c): a token reads back as the behaviour and
 * last four digits of the number it came from, and nothing else parses.
 */
#include <string.h>

#include "card.h"
#include "t.h"

static const struct {
    const char         *number;
    int                 valid;
    enum card_behaviour behaviour;
} cards[] = {
    {"4242424242424242", 1, CARD_APPROVE},
    {"4000000000000002", 1, CARD_DECLINE},
    {"4000000000000119", 1, CARD_UNAVAILABLE},
    {"5555555555554444", 1, CARD_APPROVE},
    {"4242424242424241", 0, CARD_APPROVE},
    {"42424242424", 0, CARD_APPROVE}, /* 11 digits */
    {"42424242424242424242", 0, CARD_APPROVE},
    {"4242 4242 4242 4242", 0, CARD_APPROVE},
    {"", 0, CARD_APPROVE},
    {"abcdabcdabcdabcd", 0, CARD_APPROVE},
};

static const char *const bad_tokens[] = {
    "",
    "sim_",
    "sim_ok_4242_",
    "sim_ok_4242_0123456789abcde",   /* 15 hex */
    "sim_ok_4242_0123456789abcdef0", /* 17 hex */
    "sim_ok_4242_0123456789ABCDEF",  /* upper case */
    "sim_ok_42a2_0123456789abcdef",
    "sim_maybe_4242_0123456789abcdef",
    "tok_ok_4242_0123456789abcdef",
    "sim_ok4242_0123456789abcdef",
    "4242424242424242",
};

int
main(void)
{
    size_t i;

    for (i = 0; i < sizeof(cards) / sizeof(cards[0]); i++) {
        char                tok[CARD_TOKEN_MAX], tok2[CARD_TOKEN_MAX], last4[5], l4[5];
        enum card_behaviour b;

        T_OK(card_valid(cards[i].number) == cards[i].valid, "valid(%s) = %d", cards[i].number,
             cards[i].valid);
        if (!cards[i].valid) {
            T_OK(card_tokenize(cards[i].number, tok) == ERR_INVALID, "no token for %s",
                 cards[i].number);
            continue;
        }
        T_OK(card_behaviour(cards[i].number) == cards[i].behaviour, "behaviour of %s",
             cards[i].number);
        T_OK(card_tokenize(cards[i].number, tok) == ERR_OK, "tokenize %s", cards[i].number);
        T_OK(strstr(tok, cards[i].number) == NULL, "the token %s does not hold the number", tok);
        T_OK(card_tokenize(cards[i].number, tok2) == ERR_OK && strcmp(tok, tok2) != 0,
             "two tokens of one number differ");
        card_last4(cards[i].number, last4);
        T_OK(card_token_parse(tok, &b, l4) == ERR_OK, "parse %s", tok);
        T_OK(b == cards[i].behaviour && strcmp(l4, last4) == 0, "%s reads back as %s", tok, last4);
    }
    for (i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
        enum card_behaviour b;

        T_OK(card_token_parse(bad_tokens[i], &b, NULL) == ERR_INVALID, "refused: \"%s\"",
             bad_tokens[i]);
    }
    return t_done();
}
