/*
 * payments.c - the payment state machine as a table, and the retry schedule
 * for an unavailable provider. No I/O: t/10_payments.c tests it.
 */
#include <string.h>

#include "payments.h"

/* (from, input) → (to, what the provider is asked, what is emitted). Anything
 * not listed does not apply and changes nothing: a duplicate reservation of a
 * payment already decided, a confirmation of a declined one, a second
 * cancellation. Money is always given back: a cancellation voids an
 * authorisation and refunds a capture. */
#define PAYMENT_TRANSITIONS(X)                                                                     \
    X(AUTHORIZING, RESERVED, AUTHORIZING, AUTHORIZE, NONE) /* first try, or after a crash */       \
    X(AUTHORIZING, APPROVED, AUTHORIZED, NOTHING, SUCCEEDED)                                       \
    X(AUTHORIZING, DECLINED, DECLINED, NOTHING, FAILED)                                            \
    X(AUTHORIZING, UNAVAILABLE, FAILED, NOTHING, FAILED)                                           \
    X(AUTHORIZED, CONFIRMED, CAPTURED, CAPTURE, CAPTURED)                                          \
    X(AUTHORIZED, CANCELLED, VOIDED, VOID, VOIDED)                                                 \
    X(CAPTURED, CANCELLED, REFUNDED, REFUND, REFUNDED)                                             \
    X(NONE, CANCELLED, CANCELLED, NOTHING, NONE) /* nothing authorised: nothing ever will be */

static const struct payment_step steps[] = {
#define X(from, in, to, action, emit)                                                              \
    {PAYMENT_##from, PAY_IN_##in, PAYMENT_##to, PAY_DO_##action, PAY_EMIT_##emit},
    PAYMENT_TRANSITIONS(X)
#undef X
};

static const char *const state_names[] = {
#define X(name, text) [PAYMENT_##name] = text,
    PAYMENT_STATES(X)
#undef X
};

#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

const struct payment_step *
payment_step(enum payment_state from, enum payment_input in)
{
    size_t i;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (steps[i].from == from && steps[i].in == in)
            return &steps[i];
    return NULL;
}

enum payment_state
payment_resolve(enum provider_outcome o)
{
    static const enum payment_state by_outcome[] = {
        [PROVIDER_UNKNOWN] = PAYMENT_NONE,
        [PROVIDER_APPROVED] = PAYMENT_AUTHORIZED,
        [PROVIDER_DECLINED] = PAYMENT_DECLINED,
    };

    return by_outcome[o];
}

const char *
payment_state_name(enum payment_state s)
{
    return (size_t)s < NSTATES ? state_names[s] : "?";
}

int
payment_state_parse(const char *z, enum payment_state *out)
{
    size_t i;

    /* NONE is never stored. */
    for (i = PAYMENT_NONE + 1; z != NULL && i < NSTATES; i++)
        if (strcmp(z, state_names[i]) == 0) {
            *out = (enum payment_state)i;
            return ERR_OK;
        }
    return ERR_INVALID;
}

int64_t
payment_backoff_ms(int64_t n, int64_t base, int64_t max)
{
    int64_t ms = base;

    for (; n > 1 && ms < max; n--)
        ms *= 2;
    return ms < max ? ms : max;
}

int64_t
payment_retry_total_ms(int64_t limit, int64_t base, int64_t max, int64_t latency_ms)
{
    int64_t n, total = limit * latency_ms;

    for (n = 1; n < limit; n++)
        total += payment_backoff_ms(n, base, max);
    return total;
}
