/*
 * 19_event.c - the event table and envelope: lookups for every EVENT_MAP row,
 * encode -> decode round trips, a table of refused envelopes with the reason
 * each must give, and UUID text validity.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "event.h"
#include "t.h"

/* Written out by hand, not generated from EVENT_MAP: a renamed key or a
 * bumped version must be a deliberate edit here too. */
static const struct {
    enum event_type type;
    const char     *key;
    int             version;
} rows[] = {
    {EVENT_PRODUCT_CREATED, "product.created", 1},
    {EVENT_PRODUCT_UPDATED, "product.updated", 1},
    {EVENT_PRODUCT_PRICE_CHANGED, "product.price_changed", 1},
    {EVENT_PRODUCT_DELETED, "product.deleted", 1},
    {EVENT_USER_REGISTERED, "user.registered", 1},
    {EVENT_USER_ADDRESS_CHANGED, "user.address_changed", 1},
    {EVENT_REVIEW_CREATED, "review.created", 1},
    {EVENT_ORDER_CREATED, "order.created", 1},
    {EVENT_ORDER_CONFIRMED, "order.confirmed", 1},
    {EVENT_ORDER_REJECTED, "order.rejected", 1},
    {EVENT_ORDER_CANCELLED, "order.cancelled", 1},
    {EVENT_INVENTORY_RESERVED, "inventory.reserved", 1},
    {EVENT_INVENTORY_REJECTED, "inventory.rejected", 1},
    {EVENT_INVENTORY_RELEASED, "inventory.released", 1},
    {EVENT_INVENTORY_SOLD, "inventory.sold", 1},
    {EVENT_INVENTORY_STOCK_CHANGED, "inventory.stock_changed", 1},
    {EVENT_PAYMENT_SUCCEEDED, "payment.succeeded", 1},
    {EVENT_PAYMENT_FAILED, "payment.failed", 1},
    {EVENT_PAYMENT_CAPTURED, "payment.captured", 1},
    {EVENT_PAYMENT_REFUNDED, "payment.refunded", 1},
    {EVENT_CART_CHANGED, "cart.changed", 1},
};

#define ID  "\"id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\""
#define TY  "\"type\":\"product.created\""
#define VER "\"version\":1"
#define AT  "\"occurred_at\":\"2026-12-05T06:01:26.123Z\""
#define AGG "\"aggregate_id\":42"
#define TR  "\"trace_id\":\"\""
#define PL  "\"payload\":{\"version\":1,\"product_id\":42}"

static const struct {
    const char *json;
    const char *reason; /* a substring of why; NULL = accepted */
} envelopes[] = {
    {"{" ID "," TY "," VER "," AT "," AGG "," TR "," PL "}", NULL},
    {"{" PL "," TR "," AGG "," AT "," VER "," TY "," ID "}", NULL},
    {"{\"id\":\"0F8FAD5B-D9CB-469F-A165-70867728950E\"," TY "," VER "," AT "," AGG "," TR "," PL
     "}",
     NULL},
    {"", "malformed json"},
    {"{", "malformed json"},
    {"{" ID "," TY "," VER "," AT "," AGG "," TR "," PL "} x", "malformed json"},
    {"[1]", "envelope must be an object"},
    {"{" ID "," ID "," TY "," VER "," AT "," AGG "," TR "," PL "}", "malformed json"},
    {"{" TY "," VER "," AT "," AGG "," TR "," PL "}", "\"id\" is required"},
    {"{" ID "," VER "," AT "," AGG "," TR "," PL "}", "\"type\" is required"},
    {"{" ID "," TY "," AT "," AGG "," TR "," PL "}", "\"version\" is required"},
    {"{" ID "," TY "," VER "," AGG "," TR "," PL "}", "\"occurred_at\" is required"},
    {"{" ID "," TY "," VER "," AT "," TR "," PL "}", "\"aggregate_id\" is required"},
    {"{" ID "," TY "," VER "," AT "," AGG "," PL "}", "\"trace_id\" is required"},
    {"{" ID "," TY "," VER "," AT "," AGG "," TR "}", "\"payload\" is required"},
    {"{" ID "," TY "," VER "," AT "," AGG "," TR "," PL ",\"extra\":1}", "unknown field \"extra\""},
    {"{\"id\":7," TY "," VER "," AT "," AGG "," TR "," PL "}", "\"id\" must be a string"},
    {"{\"id\":\"not-a-uuid\"," TY "," VER "," AT "," AGG "," TR "," PL "}",
     "\"id\" must be a uuid"},
    {"{" ID ",\"type\":\"product.exploded\"," VER "," AT "," AGG "," TR "," PL "}",
     "unknown event type \"product.exploded\""},
    {"{" ID ",\"type\":null," VER "," AT "," AGG "," TR "," PL "}", "\"type\" must be a string"},
    {"{" ID "," TY ",\"version\":\"1\"," AT "," AGG "," TR "," PL "}",
     "\"version\" must be an integer"},
    {"{" ID "," TY ",\"version\":1.0," AT "," AGG "," TR "," PL "}",
     "\"version\" must be an integer"},
    {"{" ID "," TY ",\"version\":0," AT "," AGG "," TR "," PL "}",
     "\"version\" must be at least 1"},
    {"{" ID "," TY ",\"version\":2," AT "," AGG "," TR "," PL "}",
     "version 2 of product.created is newer than this build knows"},
    {"{" ID "," TY "," VER ",\"occurred_at\":0," AGG "," TR "," PL "}",
     "\"occurred_at\" must be a string"},
    {"{" ID "," TY "," VER "," AT ",\"aggregate_id\":\"42\"," TR "," PL "}",
     "\"aggregate_id\" must be an integer"},
    {"{" ID "," TY "," VER "," AT "," AGG ",\"trace_id\":null," PL "}",
     "\"trace_id\" must be a string"},
    {"{" ID "," TY "," VER "," AT "," AGG "," TR ",\"payload\":[]}",
     "\"payload\" must be an object"},
};

static const struct {
    const char *z;
    int         valid;
} uuids[] = {
    {"0f8fad5b-d9cb-469f-a165-70867728950e", 1},   {"0F8FAD5B-D9CB-469F-A165-70867728950E", 1},
    {"00000000-0000-0000-0000-000000000000", 1},   {"0f8fad5b-d9cb-469f-a165-70867728950", 0},
    {"0f8fad5b-d9cb-469f-a165-70867728950e0", 0},  {"0f8fad5bd9cb-469f-a165-70867728950e-", 0},
    {"0f8fad5b-d9cb-469f-a165_70867728950e", 0},   {"0g8fad5b-d9cb-469f-a165-70867728950e", 0},
    {"{0f8fad5b-d9cb-469f-a165-70867728950e}", 0}, {"", 0},
};

static void
test_rows(void)
{
    enum event_type t;
    size_t          i;

    T_EQ_INT(sizeof(rows) / sizeof(rows[0]), EVENT__COUNT, "every EVENT_MAP row is in the test");
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        T_EQ_STR(event_key(rows[i].type), rows[i].key, "key of %s", rows[i].key);
        T_EQ_INT(event_version(rows[i].type), rows[i].version, "version of %s", rows[i].key);
        t = EVENT__COUNT;
        T_EQ_INT(event_type_by_key(rows[i].key, &t), ERR_OK, "%s is known", rows[i].key);
        T_EQ_INT(t, rows[i].type, "%s maps back to its type", rows[i].key);
    }
    T_EQ_INT(event_type_by_key("product.exploded", &t), ERR_NOT_FOUND, "unknown key");
    T_EQ_INT(event_type_by_key("PRODUCT.CREATED", &t), ERR_NOT_FOUND, "keys are case-sensitive");
    T_EQ_INT(event_type_by_key(NULL, &t), ERR_NOT_FOUND, "NULL key");
}

static void
test_round_trip(enum event_type type)
{
    struct arena *a = arena_create();
    struct event  e, d;
    json_t       *payload = json_pack("{s:i, s:I, s:s}", "version", 3, "product_id",
                                      (json_int_t)9007199254740993LL, "name", "caf\xc3\xa9");
    char          why[128], *s;
    size_t        n;
    const char   *keys[] = {
          "{\"id\":",           ",\"type\":",     ",\"version\":", ",\"occurred_at\":",
          ",\"aggregate_id\":", ",\"trace_id\":", ",\"payload\":"};
    const char *p, *q;
    size_t      i;
    int         ordered = 1;

    event_init(&e, a, type, 9007199254740993LL, "trace-1", payload);
    json_decref(payload); /* the envelope keeps its own reference */
    T_OK(event_uuid_valid(e.id), "%s: fresh id is a uuid", event_key(type));
    T_EQ_INT(strlen(e.occurred_at), 24, "%s: occurred_at has milliseconds", event_key(type));
    T_EQ_INT(e.occurred_at[23], 'Z', "%s: occurred_at is UTC", event_key(type));
    T_EQ_INT(event_encode(&e, a, &s, &n), ERR_OK, "%s: encodes", event_key(type));
    T_EQ_INT(strlen(s), n, "%s: length", event_key(type));
    for (p = s, i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        q = strstr(p, keys[i]);
        if (q == NULL || (i == 0 && q != s))
            ordered = 0;
        p = q != NULL ? q + 1 : p;
    }
    T_OK(ordered, "%s: keys in order: %s", event_key(type), s);
    T_OK(strstr(s, "\"aggregate_id\":9007199254740993") != NULL, "%s: aggregate_id is an integer",
         event_key(type));
    T_OK(strchr(s, ' ') == NULL && strchr(s, '\n') == NULL, "%s: compact", event_key(type));
    T_EQ_INT(event_decode(s, n, a, &d, why, sizeof(why)), ERR_OK, "%s: decodes (%s)",
             event_key(type), why);
    T_EQ_STR(d.id, e.id, "%s: id survives", event_key(type));
    T_EQ_INT(d.type, type, "%s: type survives", event_key(type));
    T_EQ_INT(d.version, event_version(type), "%s: version survives", event_key(type));
    T_EQ_STR(d.occurred_at, e.occurred_at, "%s: occurred_at survives", event_key(type));
    T_EQ_INT(d.aggregate_id, 9007199254740993LL, "%s: aggregate_id survives", event_key(type));
    T_EQ_STR(d.trace_id, "trace-1", "%s: trace_id survives", event_key(type));
    T_OK(json_equal(d.payload, e.payload), "%s: payload survives", event_key(type));
    arena_destroy(a);
}

static void
test_decode_table(void)
{
    struct arena *a = arena_create();
    struct event  e;
    char          why[128];
    size_t        i;
    int           rc;

    for (i = 0; i < sizeof(envelopes) / sizeof(envelopes[0]); i++) {
        memset(why, 'x', sizeof(why));
        rc = event_decode(envelopes[i].json, strlen(envelopes[i].json), a, &e, why, sizeof(why));
        if (envelopes[i].reason == NULL) {
            T_EQ_INT(rc, ERR_OK, "envelope %zu accepted (%s)", i, why);
            T_EQ_STR(e.id, "0f8fad5b-d9cb-469f-a165-70867728950e", "envelope %zu id, lower-case",
                     i);
            T_EQ_INT(e.aggregate_id, 42, "envelope %zu aggregate_id", i);
            continue;
        }
        T_EQ_INT(rc, ERR_INVALID, "envelope %zu refused", i);
        if (!T_OK(strstr(why, envelopes[i].reason) != NULL, "envelope %zu says \"%s\"", i,
                  envelopes[i].reason))
            printf("#   got \"%s\"\n", why);
    }
    rc = event_decode("{}", 2, a, &e, NULL, 0);
    T_EQ_INT(rc, ERR_INVALID, "no room for a reason is fine");
    arena_destroy(a);
}

static void
test_uuids(void)
{
    char   id[EVENT_ID_LEN + 1], prev[EVENT_ID_LEN + 1] = "";
    size_t i;

    for (i = 0; i < sizeof(uuids) / sizeof(uuids[0]); i++)
        T_EQ_INT(event_uuid_valid(uuids[i].z), uuids[i].valid, "uuid \"%s\"", uuids[i].z);
    T_EQ_INT(event_uuid_valid(NULL), 0, "uuid NULL");
    for (i = 0; i < 4; i++) {
        event_uuid(id);
        T_OK(event_uuid_valid(id), "event_uuid gives a uuid: %s", id);
        T_OK(id[14] == '4' && strchr("89ab", id[19]) != NULL, "version 4, RFC 4122 variant");
        T_OK(strcmp(id, prev) != 0, "differs from the previous one");
        memcpy(prev, id, sizeof(id));
    }
}

int
main(void)
{
    size_t i;

    test_rows();
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        test_round_trip(rows[i].type);
    test_decode_table();
    test_uuids();
    return T_DONE();
}
