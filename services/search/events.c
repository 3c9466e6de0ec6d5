/*
 * events.c - the catalog's product events, the only input of the search
 * projection. Every product event is a full snapshot with a version, and
 * search_apply keeps a row only when the version is newer, so duplicates and
 * reordering are harmless. Their "category_path" gives the category filter
 * its tree. Search publishes nothing.
 */
#include <stdlib.h>

#include "log.h"
#include "search.h"

static int on_product_upsert(struct mq_msg *m);
static int on_product_deleted(struct mq_msg *m);

const struct mq_consumer search_consumers[] = {
    {EVENT_PRODUCT_CREATED, on_product_upsert},
    {EVENT_PRODUCT_UPDATED, on_product_upsert},
    {EVENT_PRODUCT_PRICE_CHANGED, on_product_upsert},
    {EVENT_PRODUCT_DELETED, on_product_deleted},
    {EVENT__COUNT, NULL},
};

static void
text_release(void *p)
{
    free(p);
}

/* "category_path" (optional): the category's slugs, root first, as JSON
 * text; NULL when the event has none (search falls back to the product's
 * own slug). */
static int
path_get(struct mq_msg *m, char **out)
{
    json_t *path = json_object_get(m->ev->payload, "category_path");
    size_t  i;
    json_t *v;

    *out = NULL;
    if (path == NULL || json_is_null(path))
        return ERR_OK;
    if (!json_is_array(path))
        return mq_msg_bad(m, "payload.category_path must be an array of slugs");
    json_array_foreach(path, i, v)
    {
        if (!json_is_string(v))
            return mq_msg_bad(m, "payload.category_path must be an array of slugs");
    }
    *out = json_dumps(path, JSON_COMPACT);
    if (*out == NULL)
        return mq_msg_bad(m, "payload.category_path cannot be serialised");
    arena_defer(m->work.arena, text_release, *out);
    return ERR_OK;
}

/* product.created, product.updated, product.price_changed:
 * {"version": N, "product": DOC, "category_path"?: [slug, ...]}. */
static int
on_product_upsert(struct mq_msg *m)
{
    json_t *doc = json_object_get(m->ev->payload, "product");
    json_t *id = json_object_get(doc, "id");
    int64_t version;
    char   *text, *path;
    int     rc, applied;

    rc = mq_msg_positive(m, m->ev->payload, "version", &version);
    if (rc)
        return rc;
    if (!json_is_object(doc) || !json_is_integer(id) || json_integer_value(id) < 1)
        return mq_msg_bad(m, "payload.product must be a document with a positive id");
    if (json_integer_value(id) != m->ev->aggregate_id)
        return mq_msg_bad(m, "payload.product.id differs from aggregate_id");
    rc = path_get(m, &path);
    if (rc)
        return rc;
    text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL)
        return mq_msg_bad(m, "payload.product cannot be serialised");
    arena_defer(m->work.arena, text_release, text);
    rc = store_apply(&m->work, m->ev->aggregate_id, version, text, path, &applied);
    if (rc)
        return rc;
    log_debug("search: %s product %lld v%lld %s", event_key(m->ev->type),
              (long long)m->ev->aggregate_id, (long long)version, applied ? "applied" : "stale");
    return ERR_OK;
}

/* product.deleted: {"version": N, "product_id": ID}; leaves a tombstone
 * with the version, so an older update arriving late changes nothing. */
static int
on_product_deleted(struct mq_msg *m)
{
    json_t *id = json_object_get(m->ev->payload, "product_id");
    int64_t version;
    int     rc, applied;

    rc = mq_msg_positive(m, m->ev->payload, "version", &version);
    if (rc)
        return rc;
    if (!json_is_integer(id) || json_integer_value(id) != m->ev->aggregate_id ||
        m->ev->aggregate_id < 1)
        return mq_msg_bad(m, "payload.product_id must equal aggregate_id");
    rc = store_apply(&m->work, m->ev->aggregate_id, version, NULL, NULL, &applied);
    if (rc)
        return rc;
    log_debug("search: product.deleted %lld v%lld %s", (long long)m->ev->aggregate_id,
              (long long)version, applied ? "applied" : "stale");
    return ERR_OK;
}
