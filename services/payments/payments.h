/*
 * payments.h - the payments service's structs and cross-file prototypes.
 * payments.c is pure logic (the payment state machine as a table, the retry
 * schedule), store.c holds every SQL statement of payments' own tables,
 * provider_sim.c is the simulated bank behind provider.h, events.c runs the
 * saga's reactions (inventory.reserved, order.confirmed, order.cancelled)
 * and api.c the HTTP view.
 */
#ifndef SOUK_PAYMENTS_H
#define SOUK_PAYMENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "err.h"
#include "mq.h"
#include "provider.h"
#include "req.h"
#include "service.h"

struct payments_config {
    struct service_config svc; /* SOUK_LISTEN, SOUK_PAYMENTS_DB, SOUK_AMQP_URL, ... */
    int64_t               retry_limit, retry_base_ms, retry_max_ms, latency_ms, consumers;
    const char           *fault; /* tests only: "" or "crash-after-provider" */
};

extern struct payments_config payments_cfg; /* read-only after main() */
/* The provider adapter in use (main.c): the simulated one. */
extern const struct provider_ops *const payments_provider;

/* What a thread owns besides the handler's or the message's own connection
 * (service_ext, m->work.ext): a second connection to payments' database in
 * autocommit, which records an order's idempotency key and each try of its
 * authorisation before the provider is called (so the records survive the
 * message's rollback), and a handle on
 * the provider. Both connect on first use. */
struct payments_thread {
    struct db       *db;
    struct provider *provider;
};

/* ---- payments.c: the state machine (pure) ---- */

/* A payment's states (the column payments.state). NONE is no row, or a row
 * whose key the provider has never seen. */
#define PAYMENT_STATES(X)                                                                          \
    X(NONE, "NONE")                                                                                \
    X(AUTHORIZING, "AUTHORIZING") /* key recorded, the provider's answer not yet */                \
    X(AUTHORIZED, "AUTHORIZED")                                                                    \
    X(DECLINED, "DECLINED")                                                                        \
    X(FAILED, "FAILED") /* the provider did not answer, RETRY_LIMIT times */                       \
    X(CAPTURED, "CAPTURED")                                                                        \
    X(VOIDED, "VOIDED")                                                                            \
    X(REFUNDED, "REFUNDED")                                                                        \
    X(CANCELLED, "CANCELLED") /* the order was cancelled before any authorisation */

enum payment_state {
#define X(name, text) PAYMENT_##name,
    PAYMENT_STATES(X)
#undef X
};

/* What happens to a payment: the saga's events and the provider's answers. */
enum payment_input {
    PAY_IN_RESERVED,    /* inventory.reserved: authorise the order's amount */
    PAY_IN_APPROVED,    /* the provider approved */
    PAY_IN_DECLINED,    /* the provider declined */
    PAY_IN_UNAVAILABLE, /* the provider did not answer, every try */
    PAY_IN_CONFIRMED,   /* order.confirmed: capture */
    PAY_IN_CANCELLED,   /* order.cancelled: give back what is held or taken */
};

/* What the provider is asked on a transition. */
enum payment_action {
    PAY_DO_NOTHING,
    PAY_DO_AUTHORIZE,
    PAY_DO_CAPTURE,
    PAY_DO_VOID,
    PAY_DO_REFUND
};

/* The event a transition emits. */
enum payment_emit {
    PAY_EMIT_NONE,
    PAY_EMIT_SUCCEEDED,
    PAY_EMIT_FAILED,
    PAY_EMIT_CAPTURED,
    PAY_EMIT_VOIDED,
    PAY_EMIT_REFUNDED,
};

struct payment_step {
    enum payment_state  from;
    enum payment_input  in;
    enum payment_state  to;
    enum payment_action action;
    enum payment_emit   emit;
};

/* The row of the transition table for (from, in), or NULL when in does not
 * apply to from (a duplicate, a late or reordered event): nothing changes. */
const struct payment_step *payment_step(enum payment_state from, enum payment_input in);
/* The state an AUTHORIZING payment is really in, from what the provider
 * knows of its key: AUTHORIZED, DECLINED, or NONE (never authorised). */
enum payment_state payment_resolve(enum provider_outcome o);
const char        *payment_state_name(enum payment_state s);
/* ERR_OK and *out for a stored state name, ERR_INVALID otherwise. */
MUST_CHECK int payment_state_parse(const char *z, enum payment_state *out);
/* Milliseconds to wait after failed try n (1-based) before the next one:
 * base doubled per try, at most max. */
int64_t payment_backoff_ms(int64_t n, int64_t base, int64_t max);
/* The longest a payment can spend on an unavailable provider: limit tries
 * of latency_ms each and the waits between them. */
int64_t payment_retry_total_ms(int64_t limit, int64_t base, int64_t max, int64_t latency_ms);

/* ---- store.c ---- */

/* An order's payment as payments records it. */
struct payment {
    int64_t            id, order_id, user_id; /* user_id 0: unknown (cancelled first) */
    enum payment_state state;
    int64_t            amount_minor; /* -1: unknown (cancelled first) */
    const char        *currency, *card_last4, *key, *provider_ref, *failure; /* NULL: none */
    int64_t            attempts;
    const char        *created_at, *updated_at;
};

/* What inventory.reserved asks to be charged. */
struct payment_request {
    int64_t     order_id, user_id, amount_minor;
    const char *currency, *card_token, *card_last4;
};

extern const struct db_stmt payments_stmts[];
/* On the thread's autocommit connection (w->db = payments_thread.db): the
 * order's payment row in state AUTHORIZING with a new idempotency key, unless
 * the order has a row already; committed when this returns. *created says
 * whether this call made it. */
MUST_CHECK int store_payment_open(struct work *w, const struct payment_request *rq, int *created);
/* Inside the message's transaction: the order's payment, locked until the
 * transaction ends (so one handler at a time decides about an order).
 * ERR_NOT_FOUND without one. */
MUST_CHECK int store_payment_lock(struct work *w, int64_t order_id, struct payment *out);
/* Inside the message's transaction: a row in state CANCELLED for an order
 * payments has not seen yet; *created is 0 when the order had a row. */
MUST_CHECK int store_payment_cancel_first(struct work *w, int64_t order_id, int *created);
/* On the thread's autocommit connection: the tries of the order's
 * authorisation counted so far, by any process (0: none). */
MUST_CHECK int store_payment_tries(struct work *w, int64_t order_id, int64_t *tries);
/* On the thread's autocommit connection: count one more try of the order's
 * authorisation, committed when this returns (before the provider is called,
 * so a crash during the call still counts it); *tries is the count with it. */
MUST_CHECK int store_payment_try(struct work *w, int64_t order_id, int64_t *tries);
/* Write p's state, provider_ref, attempts and failure; a state other than
 * AUTHORIZING also forgets the order's counted tries. */
MUST_CHECK int store_payment_save(struct work *w, const struct payment *p);
/* The order's payment (no lock); ERR_NOT_FOUND without one. */
MUST_CHECK int store_payment_get(struct work *w, int64_t order_id, struct payment *out);

/* ---- events.c ---- */
extern const struct mq_consumer payments_consumers[];
/* Register payments' metrics (before serving). */
void  events_setup(void);
void *payments_thread_new(void);
void  payments_thread_free(void *state);

/* ---- api.c ---- */
int payment_get(struct req *r);

#endif
