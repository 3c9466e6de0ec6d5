/*
 * inventory.h - the inventory service's structs and cross-file prototypes.
 * api.c decodes and encodes JSON, inventory.c is pure logic (the holds' state
 * machine as a table, the reservation plan, stock arithmetic), store.c holds
 * every SQL statement, events.c the saga's consumers, the hold sweeper and
 * the events written to the outbox.
 */
#ifndef SOUK_INVENTORY_H
#define SOUK_INVENTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "err.h"
#include "mq.h"
#include "req.h"
#include "service.h"

struct inventory_config {
    struct service_config svc;       /* SOUK_LISTEN, SOUK_INVENTORY_DB, SOUK_AMQP_URL, ... */
    int64_t               hold_s;    /* SOUK_INVENTORY_HOLD_S: a hold's time to live */
    int64_t               sweep_ms;  /* SOUK_INVENTORY_SWEEP_MS: between sweeper rounds */
    int64_t               consumers; /* SOUK_INVENTORY_CONSUMERS: consumer threads */
};

extern struct inventory_config inventory_cfg; /* read-only after main() */

#define STOCK_MAX        1000000000 /* v1 StockInput.stock, as the monolith */
#define HOLD_LINES_MAX   100        /* lines of one order inventory accepts */
#define HOLD_QUANTITY    1000000    /* units of one line at most (audit_holds.quantity is int) */
#define SWEEP_BATCH      100        /* expired holds released per sweeper round */
#define HOLDS_LIST_LIMIT 100        /* ?limit= of the v2 stock read */

/* A reservation's state, per order (every line of an order shares it):
 * name, the state column's text, the reason that tells it apart when two
 * share a text. EXPIRED is a release by the sweeper (RELEASED, reason
 * hold-expired in the table and the audit), kept apart because a payment
 * that still arrives for it sells the units again if they are there.
 * NONE: inventory has not seen the order. */
/* clang-format off */
#define HOLD_STATES(X)                                                                             \
    X(NONE, "NONE", NULL) X(HELD, "HELD", NULL) X(SOLD, "SOLD", NULL)                              \
    X(RELEASED, "RELEASED", NULL) X(REJECTED, "REJECTED", NULL)                                    \
    X(EXPIRED, "RELEASED", "hold-expired")
/* clang-format on */

enum hold_state {
#define X(name, text, reason) HOLD_##name,
    HOLD_STATES(X)
#undef X
        HOLD__COUNT
};

/* What happens to a reservation: the saga's events and the sweeper. */
enum hold_event {
    ON_ORDER_CREATED,
    ON_PAYMENT_SUCCEEDED,
    ON_ORDER_CONFIRMED,
    ON_PAYMENT_FAILED,
    ON_ORDER_CANCELLED,
    ON_HOLD_EXPIRED,
};

/* What a transition does to stock, per unit of each line (inventory.c
 * ACTIONS: the deltas of reserved, on_hand and sold). */
enum hold_action { ACT_NONE, ACT_RESERVE, ACT_SELL, ACT_RELEASE, ACT_GIVE_BACK, ACT_SELL_LATE };

struct hold_transition {
    enum hold_state  from;
    enum hold_event  on;
    enum hold_state  to;
    enum hold_action act;
    const char      *reason; /* inventory.released's reason; NULL when it emits none */
    int              fresh;  /* 1: takes units not held, so they must be available */
};

struct hold_line {
    int64_t product_id, quantity;
};

/* One product's stock. available = on_hand - reserved. */
struct stock_level {
    int64_t product_id, received, on_hand, reserved, sold, version;
    int     known; /* 0: no row, or a deleted product's */
};

struct shortage {
    int64_t product_id, requested, available;
};

/* An order.created as inventory needs it (events.c decodes it). The amount
 * and card are carried forward to inventory.reserved untouched. */
struct order_in {
    int64_t           order_id, user_id;
    struct hold_line *lines;
    size_t            n;
    int64_t           amount;
    const char       *currency, *card_token, *card_last4;
};

/* What store_hold_apply did. applied 0: the event did not apply to the
 * state found (a duplicate, a late or reordered event): nothing changed. */
struct hold_result {
    int                 applied;
    enum hold_state     from, to;
    enum hold_action    act;
    const char         *reason;
    struct hold_line   *lines; /* the order's lines, by product id */
    size_t              n;
    struct stock_level *levels; /* the products whose stock changed, after the change */
    size_t              nlevels;
    struct shortage    *shortages; /* to == REJECTED */
    size_t              nshort;
    const char         *hold_until; /* to == HELD: RFC 3339 UTC */
};

/* A live hold as the v2 read shows it. */
struct hold_view {
    int64_t     order_id, quantity;
    const char *hold_until, *created_at;
};

/* ---- inventory.c: pure logic ---- */
/* The state column's text of s ("RELEASED" for EXPIRED), and its own name
 * for logs and metrics ("EXPIRED"). */
const char *hold_state_name(enum hold_state s);
const char *hold_state_label(enum hold_state s);
/* ERR_OK and *out for a state column and its reason (may be NULL);
 * ERR_INVALID for anything else. */
MUST_CHECK int hold_state_parse(const char *z, const char *reason, enum hold_state *out);
/* The row of the transition table for (from, on); NULL: the event does not
 * apply (it is acknowledged and changes nothing). */
const struct hold_transition *hold_transition_find(enum hold_state from, enum hold_event on);
/* Per unit of a line: how reserved, on_hand and sold move under act. */
void hold_action_delta(enum hold_action act, int64_t *reserved, int64_t *on_hand, int64_t *sold);
/* Sort lines by product id and merge repeated products (one lock order for
 * every transaction, one hold per product). ERR_INVALID when a merged
 * quantity passes HOLD_QUANTITY. */
MUST_CHECK int hold_lines_normalize(struct hold_line *lines, size_t *n);
/* The lines levels cannot cover (levels by product id, as many as lines;
 * an unknown or deleted product has nothing available), written to out
 * (room for n); their count. */
size_t hold_shortages(const struct hold_line *lines, size_t n, const struct stock_level *levels,
                      struct shortage *out);
/* An admin sets the sellable level to available: on_hand moves so that
 * on_hand - reserved = available, and the difference counts as received. */
void stock_set_available(struct stock_level *l, int64_t available);

/* ---- store.c: every SQL statement ---- */
extern const struct db_stmt inventory_stmts[];
/* Set product id's available stock (admin PUT) and write
 * inventory.stock_changed, in one transaction. ERR_NOT_FOUND: an unknown or
 * deleted product. */
MUST_CHECK int store_stock_set(struct work *w, int64_t id, int64_t available,
                               struct stock_level *out);
/* Product id's stock and up to limit of its live holds, oldest first.
 * ERR_NOT_FOUND: unknown or deleted. */
MUST_CHECK int store_stock_get(struct work *w, int64_t id, int64_t limit, struct stock_level *out,
                               struct hold_view **holds, size_t *n);
/* Apply on to order_id's reservation inside the transaction open on w->db:
 * serialises on the order, reads its state, follows the transition table,
 * moves stock (rows locked in product id order, so never negative and never
 * oversold) and records the new state. in: the order (ON_ORDER_CREATED
 * only), its lines normalized. hold_s: a new hold's time to live. */
MUST_CHECK int store_hold_apply(struct work *w, int64_t order_id, enum hold_event on,
                                const struct order_in *in, int64_t hold_s, struct hold_result *out);
/* Up to limit orders whose hold has expired, oldest first. */
MUST_CHECK int store_holds_expired(struct work *w, int64_t limit, int64_t **ids, size_t *n);
/* The product replica (catalog's product events): created or deleted at
 * catalog version; applied only when newer. */
MUST_CHECK int store_product_apply(struct work *w, int64_t id, int64_t version, int deleted,
                                   int *applied);

/* ---- events.c ---- */
/* Registers the service's metrics (service_spec.setup). */
void                            events_setup(void);
extern const struct mq_consumer inventory_consumers[];
extern struct sweep_spec        inventory_sweeps[];
/* inventory.stock_changed for l, inside the transaction open on w->db. */
MUST_CHECK int events_stock_changed(struct work *w, const struct stock_level *l);

/* ---- api.c: handlers ---- */
int stock_put(struct req *r);
int stock_get_v2(struct req *r);

#endif
