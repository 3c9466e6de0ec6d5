/*
 * card.h - payment cards at the edge of a checkout: the Luhn check, the
 * last four digits, and the simulated provider's tokenization.
 *
 * A card number never leaves the request that carried it. The checkout
 * (monolith or orders) turns it into a token here, as a real shop hands the
 * number to its provider's client-side tokenization and keeps only the
 * token; the token and the last four digits are what travel in events, get
 * stored and get logged.
 *
 * The provider is simulated, with deterministic test cards (the v1
 * contract): 4242 4242 4242 4242 is approved, 4000 0000 0000 0002 declined,
 * 4000 0000 0000 0119 unavailable (the provider does not answer); any other
 * number with a valid Luhn checksum is approved. Because the provider is
 * simulated, its token names that behaviour in clear:
 *   "sim_" BEHAVIOUR "_" LAST4 "_" 16 random hex digits
 * with BEHAVIOUR one of "ok", "decline", "down". payments' provider adapter
 * reads it back with card_token_behaviour; nothing else interprets a token.
 */
#ifndef SOUK_CARD_H
#define SOUK_CARD_H
#include "err.h"

enum card_behaviour { CARD_APPROVE, CARD_DECLINE, CARD_UNAVAILABLE };

#define CARD_TOKEN_MAX 48 /* including the NUL */

/* 1 when z is 12 to 19 decimal digits with a valid Luhn checksum. */
int card_valid(const char *z);
/* What the simulated provider does with the card number z (valid or not). */
enum card_behaviour card_behaviour(const char *z);
/* The last four digits of a valid number z, NUL-terminated. */
void card_last4(const char *z, char out[5]);
/* Tokenize the valid number z into out: ERR_OK, or ERR_INVALID when z is
 * not a valid card number (nothing written then). */
MUST_CHECK int card_tokenize(const char *z, char out[CARD_TOKEN_MAX]);
/* Read a token back: ERR_OK with the behaviour and the last four digits
 * (last4 may be NULL), or ERR_INVALID for anything that is not a token
 * card_tokenize made. */
MUST_CHECK int card_token_parse(const char *token, enum card_behaviour *out, char last4[5]);

#endif
