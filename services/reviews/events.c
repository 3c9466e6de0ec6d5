/*
 * events.c - what reviews hears and says on souk.events.
 * In: the catalog's product events keep the products replica (id, version,
 * deleted), so reviews answers 404 for unknown and deleted products without
 * calling the catalog; user.registered keeps users_replica (id, name) for the
 * reviews' author. Every product event is a full snapshot with a version and
 * is applied only when newer, so duplicates and reordering are harmless (the
 * inbox drops exact redeliveries before that).
 * Out: review.created through the outbox, in the review's transaction.
 */
#include <string.h>

#include "log.h"
#include "reviews.h"

struct mq *reviews_mq; /* started by main(), read by /ready */

static int on_product_upsert(struct mq_msg *m);
static int on_product_deleted(struct mq_msg *m);
static int on_user_registered(struct mq_msg *m);

const struct mq_consumer reviews_consumers[] = {
    {EVENT_PRODUCT_CREATED, on_product_upsert},       {EVENT_PRODUCT_UPDATED, on_product_upsert},
    {EVENT_PRODUCT_PRICE_CHANGED, on_product_upsert}, {EVENT_PRODUCT_DELETED, on_product_deleted},
    {EVENT_USER_REGISTERED, on_user_registered},      {EVENT__COUNT, NULL},
};

/* A malformed payload fails: mq retries it, then parks it in the dead-letter
 * queue with this reason, where an operator can look at it. */
static int
bad(struct mq_msg *m, const char *why)
{
    log_error("reviews: %s %s: %s", event_key(m->ev->type), m->ev->id, why);
    m->error = why;
    return ERR_INVALID;
}

/* member name of the payload as an integer >= 1. */
static int
positive(struct mq_msg *m, json_t *obj, const char *name, int64_t *out)
{
    json_t *v = json_object_get(obj, name);

    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return bad(m, arena_printf(m->arena, "payload.%s must be a positive integer", name));
    *out = json_integer_value(v);
    return ERR_OK;
}

static int
product_apply(struct mq_msg *m, int64_t version, int deleted)
{
    int rc, applied;

    rc = store_product_apply(m->db, m->arena, m->ev->aggregate_id, version, deleted, &applied);
    if (rc)
        return rc;
    log_debug("reviews: %s product %lld v%lld %s", event_key(m->ev->type),
              (long long)m->ev->aggregate_id, (long long)version, applied ? "applied" : "stale");
    return ERR_OK;
}

/* product.created, product.updated, product.price_changed:
 * {"version": N, "product": DOC}; only DOC's id matters here. */
static int
on_product_upsert(struct mq_msg *m)
{
    json_t *doc = json_object_get(m->ev->payload, "product");
    int64_t version, id;
    int     rc;

    rc = positive(m, m->ev->payload, "version", &version);
    if (rc)
        return rc;
    if (!json_is_object(doc))
        return bad(m, "payload.product must be an object");
    rc = positive(m, doc, "id", &id);
    if (rc)
        return rc;
    if (id != m->ev->aggregate_id)
        return bad(m, "payload.product.id differs from aggregate_id");
    return product_apply(m, version, 0);
}

/* product.deleted: {"version": N, "product_id": ID}; leaves a tombstone. */
static int
on_product_deleted(struct mq_msg *m)
{
    int64_t version, id;
    int     rc;

    rc = positive(m, m->ev->payload, "version", &version);
    if (rc)
        return rc;
    rc = positive(m, m->ev->payload, "product_id", &id);
    if (rc)
        return rc;
    if (id != m->ev->aggregate_id)
        return bad(m, "payload.product_id differs from aggregate_id");
    return product_apply(m, version, 1);
}

/* user.registered: {"user_id","email","name","role","created_at"}; only the
 * id and the name are kept (the reviews' author). */
static int
on_user_registered(struct mq_msg *m)
{
    json_t     *name = json_object_get(m->ev->payload, "name");
    const char *z;
    int64_t     id;
    int         rc;

    rc = positive(m, m->ev->payload, "user_id", &id);
    if (rc)
        return rc;
    if (!json_is_string(name))
        return bad(m, "payload.name must be a string");
    z = json_string_value(name);
    if (strlen(z) != json_string_length(name))
        return bad(m, "payload.name must not contain NUL bytes");
    return store_user_apply(m->db, m->arena, id, z);
}

/* The trace id of W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>" when the
 * caller sent one, else the request id, so the event leads back to the
 * request that caused it. */
static const char *
trace_id(struct req *r)
{
    const char *tp = req_header(r, "traceparent");
    size_t      i;

    if (tp == NULL || strlen(tp) < 55 || tp[2] != '-' || tp[35] != '-')
        return r->request_id;
    for (i = 3; i < 35; i++)
        if (!((tp[i] >= '0' && tp[i] <= '9') || (tp[i] >= 'a' && tp[i] <= 'f')))
            return r->request_id;
    return arena_strndup(r->arena, tp + 3, 32);
}

static void
json_release(void *p)
{
    json_decref(p);
}

int
events_review_created(struct req *r, struct db *db, const struct review *rv)
{
    json_t *payload;

    payload = json_pack("{s:I,s:I,s:I,s:I,s:s}", "review_id", (json_int_t)rv->id, "product_id",
                        (json_int_t)rv->product_id, "user_id", (json_int_t)rv->user_id, "rating",
                        (json_int_t)rv->rating, "created_at", rv->created_at);
    if (payload == NULL)
        return ERR_INTERNAL;
    arena_defer(r->arena, json_release, payload);
    return mq_outbox_put(db, r->arena, EVENT_REVIEW_CREATED, rv->id, trace_id(r), payload);
}
