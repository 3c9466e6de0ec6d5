/*
 * events.c - what reporting hears on souk.events (it says nothing).
 * order.created places an order's fact (day, country, priced lines);
 * order.confirmed, .cancelled and .rejected move its state up the lattice
 * (reporting.c). Whenever that makes the order start or stop counting, the
 * tallies change by it in the same transaction, so they always equal a
 * recomputation over the facts; duplicates and reordering are harmless (the
 * inbox drops exact redeliveries before that). catalog's product events keep
 * the product -> category replica, applied only when newer.
 */
#include <string.h>

#include "log.h"
#include "reporting.h"

static int on_order(struct mq_msg *m);
static int on_product_upsert(struct mq_msg *m);
static int on_product_deleted(struct mq_msg *m);

const struct mq_consumer reporting_consumers[] = {
    {EVENT_ORDER_CREATED, on_order},
    {EVENT_ORDER_CONFIRMED, on_order},
    {EVENT_ORDER_CANCELLED, on_order},
    {EVENT_ORDER_REJECTED, on_order},
    {EVENT_PRODUCT_CREATED, on_product_upsert},
    {EVENT_PRODUCT_UPDATED, on_product_upsert},
    {EVENT_PRODUCT_PRICE_CHANGED, on_product_upsert},
    {EVENT_PRODUCT_DELETED, on_product_deleted},
    {EVENT__COUNT, NULL},
};

static const struct {
    enum event_type type;
    enum fact_event ev;
} order_events[] = {
    {EVENT_ORDER_CREATED, FACT_EV_CREATED},
    {EVENT_ORDER_CONFIRMED, FACT_EV_CONFIRMED},
    {EVENT_ORDER_CANCELLED, FACT_EV_CANCELLED},
    {EVENT_ORDER_REJECTED, FACT_EV_REJECTED},
};

/* A non-negative integer member of obj. */
static int
nonneg(struct mq_msg *m, json_t *obj, const char *name, int64_t *out)
{
    json_t *v = json_object_get(obj, name);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return mq_msg_bad(m,
                          arena_printf(m->work.arena, "payload.%s must be an integer >= 0", name));
    *out = json_integer_value(v);
    return ERR_OK;
}

/* A string member of obj without NUL bytes. */
static int
string(struct mq_msg *m, json_t *obj, const char *name, const char **out)
{
    json_t *v = json_object_get(obj, name);

    *out = json_string_value(v);
    if (*out == NULL || strlen(*out) != json_string_length(v))
        return mq_msg_bad(m, arena_printf(m->work.arena, "payload.%s must be a string", name));
    return ERR_OK;
}

static int
line_decode(struct mq_msg *m, json_t *l, struct fact_line *out)
{
    int rc;

    rc = mq_msg_positive(m, l, "product_id", &out->product_id);
    if (rc == ERR_OK)
        rc = mq_msg_positive(m, l, "quantity", &out->quantity);
    if (rc == ERR_OK)
        rc = nonneg(m, json_object_get(l, "unit_price"), "amount", &out->unit_minor);
    return rc;
}

/* order.created: {"lines": [priced line], "ship_to": {"country"}, "created_at"}. */
static int
placed_decode(struct mq_msg *m, struct placed *p)
{
    json_t *pl = m->ev->payload, *lines = json_object_get(pl, "lines");
    size_t  i;
    int     rc;

    rc = string(m, pl, "created_at", &p->created_at);
    if (rc == ERR_OK)
        rc = string(m, json_object_get(pl, "ship_to"), "country", &p->country);
    if (rc)
        return rc;
    /* Checked here, so a malformed time is parked as bad input, not retried as a failure. */
    if (strlen(p->created_at) < 20 || p->created_at[10] != 'T' ||
        !report_day_valid(arena_strndup(m->work.arena, p->created_at, 10)))
        return mq_msg_bad(m, "payload.created_at must be an RFC 3339 time");
    p->n = json_array_size(lines);
    if (!json_is_array(lines) || p->n == 0 || p->n > REPORT_LINES_MAX)
        return mq_msg_bad(m, "payload.lines must be a non-empty array");
    p->lines = arena_array(m->work.arena, struct fact_line, p->n);
    for (i = 0; i < p->n; i++) {
        rc = line_decode(m, json_array_get(lines, i), &p->lines[i]);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

static int
fact_event_of(enum event_type t, enum fact_event *out)
{
    size_t i;

    for (i = 0; i < sizeof(order_events) / sizeof(order_events[0]); i++)
        if (order_events[i].type == t) {
            *out = order_events[i].ev;
            return ERR_OK;
        }
    return ERR_NOT_FOUND;
}

static void
tallies_changed(struct mq_msg *m, void *arg)
{
    (void)m;
    (void)arg;
    cache_bump();
}

static int
on_order(struct mq_msg *m)
{
    struct placed   p = {0};
    struct fact     cur, next;
    enum fact_event ev;
    int64_t         id;
    int             rc, delta;

    rc = fact_event_of(m->ev->type, &ev);
    if (rc)
        return mq_msg_bad(m, "not an order event");
    rc = mq_msg_positive(m, m->ev->payload, "order_id", &id);
    if (rc)
        return rc;
    if (id != m->ev->aggregate_id)
        return mq_msg_bad(m, "payload.order_id differs from aggregate_id");
    if (ev == FACT_EV_CREATED) {
        rc = placed_decode(m, &p);
        if (rc)
            return rc;
    }
    rc = store_fact_lock(&m->work, id, &cur);
    if (rc)
        return rc;
    if (!fact_apply(&cur, ev, &next, &delta)) {
        log_debug("reporting: %s order %lld changes nothing", event_key(m->ev->type),
                  (long long)id);
        return ERR_OK;
    }
    if (next.placed && !cur.placed)
        rc = store_fact_place(&m->work, id, &p);
    if (rc == ERR_OK)
        rc = store_fact_settle(&m->work, id, &next, delta, m->ev->occurred_at);
    if (rc == ERR_OK)
        m->after_commit = tallies_changed; /* the feed moved: cached answers are old */
    return rc;
}

/* product.created, .updated, .price_changed: {"version", "product": DOC}; the
 * category is DOC.category.slug ("" when the document has none). */
static int
on_product_upsert(struct mq_msg *m)
{
    json_t     *doc, *slug;
    const char *category = "";
    int64_t     version;
    int         rc, applied;

    rc = mq_msg_product(m, &version, &doc);
    if (rc)
        return rc;
    slug = json_object_get(json_object_get(doc, "category"), "slug");
    if (json_is_string(slug) && strlen(json_string_value(slug)) == json_string_length(slug))
        category = json_string_value(slug);
    rc = store_product_apply(&m->work, m->ev->aggregate_id, version, 0, category, &applied);
    if (rc == ERR_OK)
        log_debug("reporting: %s product %lld v%lld %s", event_key(m->ev->type),
                  (long long)m->ev->aggregate_id, (long long)version,
                  applied ? "applied" : "stale");
    return rc;
}

/* product.deleted: a tombstone that keeps the category past orders had
 * (lib's replica helper checks, applies and logs it). */
static int
product_gone(struct work *w, int64_t id, int64_t version, int deleted, int *applied)
{
    return store_product_apply(w, id, version, deleted, NULL, applied);
}

static int
on_product_deleted(struct mq_msg *m)
{
    return mq_msg_product_exists(m, "reporting", product_gone);
}
