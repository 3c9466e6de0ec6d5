/*
 * event.h - the event types every service publishes or consumes (one table,
 * mirrored row for row in contracts/events.md; a test checks they agree) and
 * the envelope of DESIGN.md §3: id, type, version, occurred_at, aggregate_id,
 * trace_id, payload. Services supply only payloads; this module owns the rest.
 */
#ifndef SOUK_EVENT_H
#define SOUK_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct arena;

/* name, routing key (= type in dotted lower case), payload version. */
/* clang-format off */
#define EVENT_MAP(X)                                         \
    X(PRODUCT_CREATED,       "product.created",       1)    \
    X(PRODUCT_UPDATED,       "product.updated",       1)    \
    X(PRODUCT_PRICE_CHANGED, "product.price_changed", 1)    \
    X(PRODUCT_DELETED,       "product.deleted",       1)    \
    X(USER_REGISTERED,       "user.registered",       1)    \
    X(USER_ADDRESS_CHANGED,  "user.address_changed",  1)    \
    X(REVIEW_CREATED,        "review.created",        1)    \
    X(ORDER_CREATED,         "order.created",         1)    \
    X(ORDER_CONFIRMED,       "order.confirmed",       1)    \
    X(ORDER_REJECTED,        "order.rejected",        1)    \
    X(ORDER_CANCELLED,       "order.cancelled",       1)    \
    X(INVENTORY_RESERVED,    "inventory.reserved",    1)    \
    X(INVENTORY_REJECTED,    "inventory.rejected",    1)    \
    X(INVENTORY_RELEASED,    "inventory.released",    1)    \
    X(INVENTORY_SOLD,        "inventory.sold",        1)    \
    X(INVENTORY_STOCK_CHANGED, "inventory.stock_changed", 1) \
    X(PAYMENT_SUCCEEDED,     "payment.succeeded",     1)    \
    X(PAYMENT_FAILED,        "payment.failed",        1)    \
    X(PAYMENT_CAPTURED,      "payment.captured",      1)    \
    X(PAYMENT_REFUNDED,      "payment.refunded",      1)    \
    X(CART_CHANGED,          "cart.changed",          1)
/* clang-format on */

enum event_type {
#define X(name, key, version) EVENT_##name,
    EVENT_MAP(X)
#undef X
        EVENT__COUNT
};

#define EVENT_ID_LEN 36 /* a UUID in text form */

struct event {
    char            id[EVENT_ID_LEN + 1];
    enum event_type type;
    int             version;
    const char     *occurred_at; /* RFC 3339 UTC with milliseconds */
    int64_t         aggregate_id;
    const char     *trace_id; /* "" when none */
    json_t         *payload;  /* an object; borrowed from the envelope */
};

/* Routing key ("product.created") and payload version of t. */
const char *event_key(enum event_type t);
int         event_version(enum event_type t);
/* The type whose routing key is key: ERR_OK, or ERR_NOT_FOUND. */
MUST_CHECK int event_type_by_key(const char *key, enum event_type *out);

/* A random (version 4) UUID, lower-case text, NUL-terminated. */
void event_uuid(char out[EVENT_ID_LEN + 1]);
/* 1 when z is a UUID in lower- or upper-case text form. */
int event_uuid_valid(const char *z);

/* A new envelope for payload (an object; the envelope takes a reference):
 * fresh id, the type's version, occurred_at = now. trace_id may be NULL. */
void event_init(struct event *e, struct arena *a, enum event_type type, int64_t aggregate_id,
                const char *trace_id, json_t *payload);

/* The envelope as compact JSON text (keys in a fixed order), in a. */
MUST_CHECK int event_encode(const struct event *e, struct arena *a, char **out, size_t *len);
/* Parse and check an envelope: ERR_OK, or ERR_INVALID with a short reason in
 * why[why_len] (malformed JSON, a missing or mistyped field, an unknown type,
 * a version newer than this build knows). The JSON tree lives as long as a. */
MUST_CHECK int event_decode(const char *p, size_t n, struct arena *a, struct event *out, char *why,
                            size_t why_len);

#endif
