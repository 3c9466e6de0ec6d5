/*
 * events.c - what history hears: order.created, .confirmed, .rejected and
 * .cancelled, decoded into a hist_event and merged into the order's row
 * (history.c), so duplicates and reordering are harmless (the inbox drops
 * exact redeliveries before that). While a rebuild runs, every event is
 * applied to the build table too, so the rebuild misses nothing that
 * arrives while it replays. After the commit, reads waiting for a version
 * (wait.c) wake.
 */
#include <string.h>

#include "history.h"
#include "log.h"

static int on_order(struct mq_msg *m);

const struct mq_consumer history_consumers[] = {
    {EVENT_ORDER_CREATED, on_order},
    {EVENT_ORDER_CONFIRMED, on_order},
    {EVENT_ORDER_REJECTED, on_order},
    {EVENT_ORDER_CANCELLED, on_order},
    {EVENT__COUNT, NULL},
};

static const struct {
    enum event_type type;
    enum hist_kind  kind;
    const char     *at; /* the payload member that says when */
} kinds[] = {
    {EVENT_ORDER_CREATED, HIST_CREATED, "created_at"},
    {EVENT_ORDER_CONFIRMED, HIST_CONFIRMED, "at"},
    {EVENT_ORDER_REJECTED, HIST_REJECTED, "at"},
    {EVENT_ORDER_CANCELLED, HIST_CANCELLED, "at"},
};

static int
positive(json_t *o, const char *name, int64_t *out)
{
    json_t *v = json_object_get(o, name);

    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return ERR_INVALID;
    *out = json_integer_value(v);
    return ERR_OK;
}

static const char *
string(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);

    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)
               ? json_string_value(v)
               : NULL;
}

static int
money(json_t *m, int64_t *minor, const char **currency)
{
    json_t *amount = json_object_get(m, "amount");

    *currency = string(m, "currency");
    if (!json_is_integer(amount) || *currency == NULL || strlen(*currency) != 3)
        return ERR_INVALID;
    *minor = json_integer_value(amount);
    return ERR_OK;
}

/* The v1 items array from order.created's priced lines (name "" when an
 * older orders did not send it). A checkout always has lines; a monolith
 * order soukctl backfilled may have none ([], as backfill_history renders it),
 * so empty is allowed only for those. */
static int
items(struct arena *a, json_t *lines, int may_be_empty, const char **out)
{
    struct buf *b = buf_new(a, 1 << 22);
    size_t      i;
    json_t     *l;

    if (!json_is_array(lines) || (json_array_size(lines) == 0 && !may_be_empty))
        return ERR_INVALID;
    buf_putc(b, '[');
    json_array_foreach(lines, i, l) {
        int64_t     pid, qty, unit;
        const char *cur, *name = string(l, "name");

        if (positive(l, "product_id", &pid) || positive(l, "quantity", &qty) ||
            money(json_object_get(l, "unit_price"), &unit, &cur))
            return ERR_INVALID;
        if (i > 0)
            buf_putc(b, ',');
        hist_item(b, pid, name ? name : "", name ? strlen(name) : 0, qty, unit, cur);
    }
    buf_putc(b, ']');
    *out = arena_strndup(a, buf_data(b), buf_len(b));
    return buf_error(b);
}

static const char *const address_members[] = {"line1", "line2", "city", "postal_code", "country"};

static int
address(struct arena *a, json_t *ad, const char **out)
{
    struct buf *b = buf_new(a, 1 << 16);
    size_t      i;

    buf_putc(b, '{');
    for (i = 0; i < sizeof(address_members) / sizeof(address_members[0]); i++) {
        const char *z = string(ad, address_members[i]);

        if (z == NULL)
            return ERR_INVALID;
        buf_printf(b, "%s\"%s\":", i ? "," : "", address_members[i]);
        buf_json_str(b, z, strlen(z));
    }
    buf_putc(b, '}');
    *out = arena_strndup(a, buf_data(b), buf_len(b));
    return buf_error(b);
}

static int
created(struct arena *a, json_t *p, struct hist_event *e, const char **why)
{
    const char *cur;

    /* only in orders' retained log, for orders soukctl backfill imported */
    e->legacy = json_is_true(json_object_get(p, "backfilled"));
    if (items(a, json_object_get(p, "lines"), e->legacy, &e->items))
        return *why = "payload.lines must be priced lines", ERR_INVALID;
    if (money(json_object_get(p, "total"), &e->total_minor, &cur))
        return *why = "payload.total must be money", ERR_INVALID;
    memcpy(e->currency, cur, 4);
    if (address(a, json_object_get(p, "ship_to"), &e->ship))
        return *why = "payload.ship_to must be an address", ERR_INVALID;
    e->card_last4 = string(json_object_get(p, "card"), "last4");
    if (e->card_last4 == NULL)
        return *why = "payload.card.last4 must be a string", ERR_INVALID;
    if (e->card_last4[0] == '\0')
        e->card_last4 = NULL; /* a backfilled order without a payment */
    e->payment = e->legacy ? string(p, "payment_status") : NULL;
    return ERR_OK;
}

int
events_decode(struct arena *a, enum event_type type, int64_t aggregate_id, json_t *p,
              struct hist_event *e, const char **why)
{
    size_t i;

    memset(e, 0, sizeof(*e));
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i].type == type)
            break;
    if (i == sizeof(kinds) / sizeof(kinds[0]))
        return *why = "not an order event", ERR_INVALID;
    e->kind = kinds[i].kind;
    if (positive(p, "order_id", &e->order_id) || e->order_id != aggregate_id)
        return *why = "payload.order_id must be the aggregate id", ERR_INVALID;
    if (positive(p, "user_id", &e->user_id))
        return *why = "payload.user_id must be a positive integer", ERR_INVALID;
    e->at = string(p, kinds[i].at);
    if (e->at == NULL)
        return *why = "payload time missing", ERR_INVALID;
    if (e->kind == HIST_CANCELLED && (e->reason = string(p, "reason")) == NULL)
        return *why = "payload.reason must be a string", ERR_INVALID;
    if (e->kind == HIST_CREATED)
        return created(a, p, e, why);
    return ERR_OK;
}

int
events_apply(struct work *w, enum hist_table t, const struct hist_event *e)
{
    struct hist_row r;
    int             rc;

    rc = store_row_lock(w, t, e->order_id, &r);
    if (rc)
        return rc;
    if (!hist_merge(&r, e))
        return ERR_OK;
    hist_render(&r, w->arena);
    return store_row_save(w, t, &r);
}

/* After the commit: the user's cached pages go, reads waiting for a version wake. */
static void
applied(struct mq_msg *m, void *arg)
{
    (void)m;
    cache_forget(*(int64_t *)arg);
    wait_wake();
}

static int
on_order(struct mq_msg *m)
{
    struct hist_event e;
    const char       *why;
    int               rc, building;

    rc = events_decode(m->work.arena, m->ev->type, m->ev->aggregate_id, m->ev->payload, &e, &why);
    if (rc)
        return mq_msg_bad(m, why);
    rc = store_building(&m->work, &building);
    if (rc == ERR_OK)
        rc = events_apply(&m->work, HIST_LIVE, &e);
    if (rc == ERR_OK && building)
        rc = events_apply(&m->work, HIST_BUILD, &e);
    if (rc)
        return rc;
    log_debug("history: %s order %lld applied%s", event_key(m->ev->type),
              (long long)e.order_id, building ? " (and to the rebuild)" : "");
    m->after_commit = applied;
    m->after_commit_arg = arena_alloc(m->work.arena, sizeof(int64_t));
    *(int64_t *)m->after_commit_arg = e.user_id;
    return ERR_OK;
}
