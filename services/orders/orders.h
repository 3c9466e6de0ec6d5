/*
 * orders.h - the orders service's structs and cross-file prototypes.
 * api.c (v1) and api_v2.c decode and encode JSON, cart.c reads the user's
 * cart from souk-cart, orders.c is pure logic (the state machine table,
 * pricing, outcomes), store.c holds every SQL statement, events.c the saga's
 * consumers and the events orders emits, wait.c lets a checkout sleep until
 * its order's outcome commits, sweep.c cancels orders past their deadline.
 */
#ifndef SOUK_ORDERS_H
#define SOUK_ORDERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "card.h"
#include "db.h"
#include "err.h"
#include "mq.h"
#include "req.h"
#include "service.h"

struct orders_config {
    struct service_config svc; /* SOUK_LISTEN, SOUK_ORDERS_DB, SOUK_AMQP_URL, ... */
    const char           *cart_url;
    int64_t               cart_timeout_ms;
    int64_t               sync_wait_ms; /* v1 checkout waits this long for the outcome */
    int64_t               deadline_s;   /* a pending order is cancelled after this */
    int64_t               sweep_ms;     /* the deadline sweeper's period */
    int64_t               waiters;      /* handler threads when SOUK_WORKERS is 0 */
    int64_t               consumers;    /* SOUK_ORDERS_CONSUMERS: consumer threads */
};

extern struct orders_config orders_cfg; /* read-only after main() */

/* The monolith's limits (monolith/api_orders.c, bounds.h). */
#define ORDER_KEY_MAX   128
#define ORDER_LINES_MAX 100
#define ORDER_QTY_MAX   99

/* The saga's states, as the v1 contract names them (OrderStatus). */
enum order_state {
    ORDER_STATE_PENDING,
    ORDER_STATE_CONFIRMED,
    ORDER_STATE_REJECTED,
    ORDER_STATE_CANCELLED,
    ORDER_STATE__COUNT
};

/* What moves an order (orders.c's transition table). */
enum order_event {
    ORDER_EV_INVENTORY_REJECTED, /* -> REJECTED */
    ORDER_EV_PAYMENT_SUCCEEDED,  /* -> CONFIRMED */
    ORDER_EV_PAYMENT_FAILED,     /* -> CANCELLED */
    ORDER_EV_DEADLINE,           /* -> CANCELLED */
    ORDER_EV__COUNT
};

struct money {
    int64_t minor;
    char    currency[4];
};

struct address {
    const char *line1, *line2, *city, *postal_code, *country; /* line1 NULL: none */
};

struct line {
    int64_t      product_id, quantity;
    const char  *name;
    struct money unit;
};

/* What inventory said was short (the first one, for the v1 detail). */
struct shortage {
    int64_t product_id, requested, available;
    void   *list; /* events.c: inventory's whole shortages array (json_t), or NULL */
};

struct order {
    int64_t          id, user_id;
    enum order_state state;
    const char      *reason; /* NULL unless failed: out-of-stock, payment-declined, ... */
    struct shortage  shortage;
    struct money     total;
    struct line     *lines;
    size_t           n;
    struct address   ship;
    const char      *card_last4, *payment_status; /* payment_status NULL: no payment yet */
    const char      *created_at, *deadline, *updated_at, *trace_id;
    int64_t          age_s;  /* seconds since created_at (saga tracker) */
    int              failed; /* the saga failed this checkout: not a v1 order */
};

/* A checkout being placed: the request's inputs, then the priced cart. */
struct checkout {
    int64_t      user_id;
    const char  *card_number; /* never stored, logged or sent */
    char         token[CARD_TOKEN_MAX];
    char         last4[5];
    const char  *idempotency_key; /* NULL: none */
    char         request_hash[65];
    const char  *cart_version; /* souk-cart's ETag of the cart read; NULL: none */
    struct line *lines;        /* from the cart: product_id and quantity; store.c prices them */
    size_t       n;
};

/* One saga event of an order's timeline. */
struct saga_event {
    const char *at, *direction, *type, *service, *event_id, *trace_id, *note;
};

/* orders.c: pure logic */
const char *order_state_name(enum order_state s);
/* ERR_OK and *out for a state name ("PENDING"), else ERR_INVALID. */
MUST_CHECK int order_state_parse(const char *name, enum order_state *out);
/* The state ev moves from to: ERR_OK and *to, or ERR_ORDER_STATE when the
 * table has no such row (a terminal state, a duplicate, a late event). */
MUST_CHECK int order_transition(enum order_state from, enum order_event ev, enum order_state *to);
int            order_state_terminal(enum order_state s);
/* The v1 answer to a failed order: the error code, and its detail in a. */
int order_failure(const struct order *o, struct arena *a, const char **detail);
/* Sum of the lines (the first line's currency); ERR_CONFLICT if currencies
 * differ or the sum overflows. */
MUST_CHECK int order_total(const struct line *lines, size_t n, struct money *out);
/* The lines sorted by product id, as v1 lists them. */
void order_lines_sort(struct line *lines, size_t n);
/* The Idempotency-Key fingerprint of a request: HMAC(secret, user, card). */
void order_request_hash(const char *secret, int64_t user_id, const char *card, char out[65]);

/* cart.c: souk-cart over HTTP */
/* The user's cart (product_id and quantity per line, and the cart's ETag as
 * c->cart_version) read with the request's own Authorization header.
 * ERR_CART_EMPTY, ERR_UNAVAILABLE (cart down, slow or answering nonsense:
 * logged). */
MUST_CHECK int cart_lines(struct req *r, struct checkout *c);
void          *cart_thread_new(void);
void           cart_thread_free(void *state);

/* store.c: every SQL statement */
extern const struct db_stmt orders_stmts[];
/* The order with this user's key: ERR_OK and *id when the request hash
 * matches, ERR_IDEMPOTENCY_REUSED when it does not, ERR_NOT_FOUND. */
MUST_CHECK int store_key_find(struct work *w, const struct checkout *c, int64_t *id);
/* ERR_DUPLICATE when a PENDING or CONFIRMED order of the user was placed
 * from this very state of the cart (c->cart_version), else ERR_OK. */
MUST_CHECK int store_cart_taken(struct work *w, const struct checkout *c);
/* ERR_OK when the customer replica knows the user; ERR_UNPROCESSABLE when it
 * has no address for them; ERR_NOT_FOUND when it does not know them. */
MUST_CHECK int store_customer_address(struct work *w, int64_t user_id, struct address *out);
/* Price c's lines from the product replica (name, unit price). ERR_OUT_OF_STOCK
 * with *missing when a product is unknown or deleted. */
MUST_CHECK int store_price(struct work *w, struct checkout *c, int64_t *missing);
/* Insert the order PENDING with its lines, order.created in the outbox and
 * the timeline's first entry, in one transaction; fills o. ERR_DUPLICATE
 * when a concurrent request with the same key, or a live order of the same
 * cart version, won. */
MUST_CHECK int store_order_create(struct work *w, const struct checkout *c,
                                  const struct address *ship, struct order *o);
/* One order with its lines (names from the replica when it knows them). */
MUST_CHECK int store_order_get(struct work *w, int64_t id, struct order **out);
/* A page of the user's v1 orders (PENDING and CONFIRMED), newest first. */
MUST_CHECK int store_orders_v1(struct work *w, int64_t user_id, int64_t page, int64_t limit,
                               struct order **out, size_t *n, int64_t *total);
/* The order's timeline, oldest first. */
MUST_CHECK int store_saga_events(struct work *w, int64_t id, struct saga_event **out, size_t *n);
/* Orders in state (or any, all = 1) created at least older_than_s ago,
 * oldest first (saga tracker). */
MUST_CHECK int store_sagas(struct work *w, int all, enum order_state state, int64_t older_than_s,
                           int64_t limit, struct order **out, size_t *n);
/* Apply ev to order id inside the transaction open on w->db: lock it, ask
 * the state machine, update it; *o is the order after (NULL when unknown).
 * ERR_ORDER_STATE when the event does not apply (nothing changed). */
MUST_CHECK int store_order_move(struct work *w, int64_t id, enum order_event ev, const char *reason,
                                const struct shortage *s, struct order **o);
/* Record a timeline entry for order id if orders knows it. */
MUST_CHECK int store_saga_record(struct work *w, int64_t id, const char *direction,
                                 const char *type, const char *service, const char *event_id,
                                 const char *note);
/* Mark the consumed event event_id in order id's timeline as ignored (it did
 * not apply to the state it found). */
MUST_CHECK int store_saga_ignored(struct work *w, int64_t id, const char *event_id);
/* Ids of pending orders past their deadline (at most limit). */
MUST_CHECK int store_overdue(struct work *w, int64_t limit, int64_t **ids, size_t *n);
/* Replica writes; *applied is 0 when a newer version was already there. */
MUST_CHECK int store_product_apply(struct work *w, int64_t id, int64_t version, int deleted,
                                   const char *name, const struct money *price, int *applied);
MUST_CHECK int store_customer_known(struct work *w, int64_t id);
MUST_CHECK int store_address_apply(struct work *w, int64_t id, int64_t version,
                                   const struct address *a, int *applied);

/* A page of the retained order events (order_log): envelopes as stored. */
struct order_log_page {
    const char **envelope;
    size_t      *len;
    size_t       n;
    int64_t      last, head; /* the page's last seq (after when empty); the log's newest */
};
MUST_CHECK int store_order_log(struct work *w, int64_t after, int64_t limit,
                               struct order_log_page *p);

/* events.c */
extern const struct mq_consumer orders_consumers[];
/* order.created for o (c's card) into the outbox, in w's transaction. */
MUST_CHECK int events_order_created(struct work *w, const struct order *o,
                                    const struct checkout *c);
/* Move order id by ev and emit what the move means (order.confirmed,
 * .rejected, .cancelled), in w's transaction. ERR_ORDER_STATE: ignored. */
MUST_CHECK int events_order_move(struct work *w, int64_t id, enum order_event ev,
                                 const char *reason, const struct shortage *s);

/* wait.c: checkouts waiting for their order's outcome */
struct waiter;
/* Register interest in order id before reading its state (so no commit in
 * between is missed); the waiter lives as long as a. */
struct waiter *wait_begin(struct arena *a, int64_t id);
/* Sleep until order id's state may have changed or until deadline_ms (a
 * CLOCK_MONOTONIC time in ms); 0 when the deadline passed. */
int wait_sleep(struct waiter *wt, int64_t deadline_ms);
/* Register the waiting metrics (once, before serving). */
void wait_setup(void);
/* Wake every checkout waiting for order id (after a commit). */
void    wait_wake(int64_t id);
int64_t wait_now_ms(void);

/* sweep.c: the deadline sweeper, a lib/sweep.h job: cancels the pending
 * orders past their deadline (a batch per round). */
int sweep_deadline(struct work *w, int *more);

/* api.c: v1 handlers and what v2 shares with them */
int order_create(struct req *r);
int order_list(struct req *r);
int order_get(struct req *r);
/* Decode and check a checkout request and place it (or find the order its
 * Idempotency-Key names): *o, *replayed. Fails the request itself. */
MUST_CHECK int api_checkout(struct req *r, struct order **o, int *replayed);
json_t        *api_money(const struct money *m);
json_t        *api_address(const struct address *a);
json_t        *api_lines(const struct line *l, size_t n);

/* feed.c: the retained order events as a paged admin feed */
int order_events(struct req *r);
/* Souk-Order-Version: ID:VERSION on a checkout's answer (read-your-writes at history). */
void feed_version_header(struct req *r, const struct order *o);

/* api_v2.c */
int order_create_v2(struct req *r);
int order_get_v2(struct req *r);
int saga_list(struct req *r);

#endif
