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

static int on_product(struct mq_msg *m);
static int on_user_registered(struct mq_msg *m);

const struct mq_consumer reviews_consumers[] = {
    {EVENT_PRODUCT_CREATED, on_product},         {EVENT_PRODUCT_UPDATED, on_product},
    {EVENT_PRODUCT_PRICE_CHANGED, on_product},   {EVENT_PRODUCT_DELETED, on_product},
    {EVENT_USER_REGISTERED, on_user_registered}, {EVENT__COUNT, NULL},
};

/* product.created, .updated, .price_changed and .deleted: only the version
 * and whether the product still exists matter here (a delete leaves a
 * tombstone). */
static int
on_product(struct mq_msg *m)
{
    return mq_msg_product_exists(m, "reviews", store_product_apply);
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

    rc = mq_msg_positive(m, m->ev->payload, "user_id", &id);
    if (rc)
        return rc;
    if (!json_is_string(name))
        return mq_msg_bad(m, "payload.name must be a string");
    z = json_string_value(name);
    if (strlen(z) != json_string_length(name))
        return mq_msg_bad(m, "payload.name must not contain NUL bytes");
    return store_user_apply(&m->work, id, z);
}

int
events_review_created(struct work *w, const struct review *rv)
{
    return mq_outbox_put(w, EVENT_REVIEW_CREATED, rv->id,
                         json_pack("{s:I,s:I,s:I,s:I,s:s}", "review_id", (json_int_t)rv->id,
                                   "product_id", (json_int_t)rv->product_id, "user_id",
                                   (json_int_t)rv->user_id, "rating", (json_int_t)rv->rating,
                                   "created_at", rv->created_at));
}
