/*
 * provider.h - the payment provider adapter: what payments asks of a card
 * provider (a bank), whichever one it is. One implementation ships, the
 * simulated provider (provider_sim.c); a real one would be another struct
 * provider_ops.
 *
 * Every operation names the charge by its idempotency key, which payments
 * records (commits) before the first call: the same key always answers the
 * same result and is never performed twice, so a redelivery, a restart or a
 * concurrent duplicate can repeat a call without charging again, and a crash
 * between the provider's answer and payments' commit is resolved by asking
 * (lookup) rather than by charging again.
 */
#ifndef SOUK_PAYMENTS_PROVIDER_H
#define SOUK_PAYMENTS_PROVIDER_H

#include <stdint.h>

#include "err.h"

struct arena;
struct provider;

/* What the provider knows of a key. */
enum provider_outcome {
    PROVIDER_UNKNOWN,  /* no authorisation was ever made with this key */
    PROVIDER_APPROVED, /* authorised (and maybe captured, voided, refunded since) */
    PROVIDER_DECLINED,
};

/* One authorisation request. The card travels as the provider's token. */
struct provider_charge {
    const char *key; /* idempotency key */
    int64_t     order_id;
    int64_t     amount_minor;
    const char *currency;
    const char *card_token;
};

/* A key's record at the provider: its outcome, the provider's reference and
 * when each operation happened ("" when it did not). */
struct provider_record {
    enum provider_outcome outcome;
    const char           *ref; /* "" unless approved */
    int64_t               amount_minor;
    const char           *currency;
    const char           *authorized_at, *captured_at, *voided_at, *refunded_at;
};

/* Operations on a key after its authorisation. */
enum provider_op { PROVIDER_CAPTURE, PROVIDER_VOID, PROVIDER_REFUND };

struct provider_ops {
    const char *name; /* "sim" */
    /* A handle on the provider for one thread; url is what the provider needs
     * to be reached. NULL only on out-of-memory. */
    struct provider *(*open)(const char *url, int64_t latency_ms);
    void (*close)(struct provider *p);
    /* Authorise c (or answer what c.key already got): out->outcome is
     * PROVIDER_APPROVED or PROVIDER_DECLINED. ERR_UNAVAILABLE: the provider
     * did not answer; nothing was recorded, the caller may try again with the
     * same key. ERR_INVALID: a card token the provider does not know. */
    MUST_CHECK int (*authorize)(struct provider *p, struct arena *a,
                                const struct provider_charge *c, struct provider_record *out);
    /* What the provider knows of key (PROVIDER_UNKNOWN: nothing); never
     * charges. ERR_UNAVAILABLE when it cannot be asked. */
    MUST_CHECK int (*lookup)(struct provider *p, struct arena *a, const char *key,
                             struct provider_record *out);
    /* Capture, void or refund the approved authorisation of key, once:
     * repeating an operation already done is ERR_OK and does nothing.
     * ERR_CONFLICT when it does not apply (not approved, a void after a
     * capture, a refund before one), ERR_UNAVAILABLE when unreachable. */
    MUST_CHECK int (*operate)(struct provider *p, struct arena *a, const char *key,
                              enum provider_op op);
};

/* The simulated provider (provider_sim.c): a ledger in the schema provider of
 * the payments database, written on its own connection in autocommit. */
extern const struct provider_ops provider_sim;

#endif
