/*
 * events.c - the events the catalog publishes, written to its outbox inside
 * the writing transaction (lib/mq.c relays them), and the ones it consumes.
 * Every product event is a full-state snapshot with the document's version
 * (contracts/events.md), so consumers keep the newest and ignore duplicates
 * and reordering; it names the category's path for search's category filter.
 * review.created keeps the rating replica: a document write like any other
 * (version + 1, product.updated), in the consumer's inbox transaction. The
 * catalog's own product events come back to it to write the page they show
 * through to the cache: the second line behind a writer whose write-through
 * failed (Redis down), so no thread serves an old product for the TTL.
 * inventory.stock_changed keeps the stock replica (DOC.stock), newer
 * inventory versions only.
 */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "db.h"
#include "log.h"
#include "mq.h"

static int on_review_created(struct mq_msg *m);
static int on_product_written(struct mq_msg *m);
static int on_product_deleted(struct mq_msg *m);
static int on_stock_changed(struct mq_msg *m);

const struct mq_consumer catalog_consumers[] = {
    {EVENT_REVIEW_CREATED, on_review_created},
    {EVENT_PRODUCT_CREATED, on_product_written},
    {EVENT_PRODUCT_UPDATED, on_product_written},
    {EVENT_PRODUCT_PRICE_CHANGED, on_product_written},
    {EVENT_PRODUCT_DELETED, on_product_deleted},
    {EVENT_INVENTORY_STOCK_CHANGED, on_stock_changed},
    {EVENT__COUNT, NULL},
};

/* The members beside the document: the old price, the category path. */
static int
payload_extras(json_t *payload, const struct product_row *row, const struct money *old_price)
{
    json_error_t jerr;
    json_t      *path;

    if (old_price != NULL)
        json_object_set_new(payload, "old_price",
                            json_pack("{s:I,s:s}", "amount", (json_int_t)old_price->minor,
                                      "currency", old_price->currency));
    if (row->category_path == NULL)
        return ERR_OK;
    path = json_loads(row->category_path, 0, &jerr);
    if (!json_is_array(path)) {
        json_decref(path);
        log_error("product %lld: category path is not an array", (long long)row->id);
        return ERR_INTERNAL;
    }
    json_object_set_new(payload, "category_path", path);
    return ERR_OK;
}

int
events_product(struct work *w, enum event_type type, const struct product_row *row,
               const struct money *old_price)
{
    json_error_t jerr;
    json_t      *doc, *payload;

    doc = json_loadb(row->doc, row->len, 0, &jerr);
    if (doc == NULL) {
        log_error("product %lld: stored document does not parse: %s", (long long)row->id,
                  jerr.text);
        return ERR_INTERNAL;
    }
    payload = json_pack("{s:I,s:o}", "version", (json_int_t)row->version, "product",
                        render_doc(doc, -1, 0));
    json_decref(doc);
    if (payload != NULL && payload_extras(payload, row, old_price) != ERR_OK) {
        json_decref(payload);
        return ERR_INTERNAL;
    }
    return mq_outbox_put(w, type, row->id, payload);
}

int
events_product_deleted(struct work *w, int64_t id, int64_t version)
{
    return mq_outbox_put(
        w, EVENT_PRODUCT_DELETED, id,
        json_pack("{s:I,s:I}", "version", (json_int_t)version, "product_id", (json_int_t)id));
}

/* ---- review.created: the rating replica ----------------------------------------- */

/* What the after-commit hook writes through to the cache. */
struct page_written {
    int64_t id, version;
    char   *body;
    size_t  len;
};

/* After the commit (lib/mq.h after_commit): the product page with its new
 * rating goes to the cache, set-if-newer like every write, so the next read
 * shows it and a reader's late fill with the old version is refused. A
 * failure here is undone by the product.updated event just written (it
 * invalidates the older entry). */
static void
page_cached(struct mq_msg *m, void *arg)
{
    const struct page_written *w = arg;

    cache_product_put(&m->work, w->id, w->version, w->body, w->len, 1);
}

/* {"review_id", "product_id", "user_id", "rating", "created_at"}: one more
 * rating for the product (the inbox makes a redelivery a no-op). A deleted
 * or unknown product is acked and left alone. A malformed payload fails, is
 * retried and then parked in catalog.dlq with the reason. */
static int
on_review_created(struct mq_msg *m)
{
    struct page_written *w;
    struct product_row   row;
    json_int_t           product_id = 0, rating = 0;
    int                  rc, found;

    if (json_unpack(m->ev->payload, "{s:I,s:I}", "product_id", &product_id, "rating", &rating) !=
            0 ||
        product_id < 1 || rating < 1 || rating > 5) {
        return mq_msg_bad(m, "payload needs an integer product_id >= 1 and rating 1..5");
    }
    rc = store_rating_add(&m->work, product_id, rating, &row, &found);
    if (rc)
        return rc;
    if (!found) {
        log_info("catalog: review.created %s: product %lld is deleted or unknown; ignored",
                 m->ev->id, (long long)product_id);
        return ERR_OK;
    }
    rc = events_product(&m->work, EVENT_PRODUCT_UPDATED, &row, NULL);
    if (rc)
        return rc;
    w = arena_new(m->work.arena, struct page_written);
    w->id = row.id;
    w->version = row.version;
    rc = render_v1_page(m->work.arena, &row, &w->body, &w->len);
    if (rc)
        return rc;
    m->after_commit = page_cached;
    m->after_commit_arg = w;
    return ERR_OK;
}

/* ---- the catalog's own product events: the cache's second line --------------------- */

/* A Redis that is still down fails the event, which is retried later (and
 * parked after the attempts: the TTL bounds what is left then). */
static int
cached(struct mq_msg *m, int rc)
{
    if (rc == ERR_OK)
        return ERR_OK;
    m->error = "redis: an older product page could not be invalidated";
    log_warn("catalog: %s %s: %s", event_key(m->ev->type), m->ev->id, m->error);
    return ERR_UPSTREAM; /* not ERR_UNAVAILABLE: that would hold the queue for Redis */
}

/* product.created/updated/price_changed {"version", "product": DOC}: the
 * cache's second line behind the writer's write-through. The entry goes if
 * it shows an older version, and the next read fills it from PostgreSQL; a
 * no-op when the write-through worked. Events come late and in any order, so
 * this never stores a page: a late one must not bring back an older page
 * (or a deleted product) after an eviction. */
static int
on_product_written(struct mq_msg *m)
{
    json_t    *doc;
    json_int_t version = 0;

    if (json_unpack(m->ev->payload, "{s:I,s:o}", "version", &version, "product", &doc) != 0 ||
        version < 1 || !json_is_object(doc) || m->ev->aggregate_id < 1)
        return mq_msg_bad(m, "payload needs an integer version >= 1 and a product object");
    return cached(m, cache_product_invalidate(&m->work, m->ev->aggregate_id, version));
}

/* product.deleted {"version", "product_id"}: as above; the writer's
 * tombstone, or the next read's, says 404. */
static int
on_product_deleted(struct mq_msg *m)
{
    int64_t version;
    int     rc;

    rc = mq_msg_positive(m, m->ev->payload, "version", &version);
    if (rc)
        return rc;
    if (m->ev->aggregate_id < 1)
        return mq_msg_bad(m, "aggregate_id must be a product id");
    return cached(m, cache_product_invalidate(&m->work, m->ev->aggregate_id, version));
}

/* ---- inventory.stock_changed: the stock replica ---------------------------------------- */

/* {"product_id", "available", "on_hand", "reserved", "version"}: DOC.stock =
 * available when inventory's version is newer (a duplicate, an older or a
 * reordered event changes nothing; a deleted or unknown product is left
 * alone). Like a catalog write, the page is invalidated before the commit
 * (a Redis that is down fails the event, which is retried) and written
 * through after it, so no reader keeps the old stock for the TTL. */
static int
on_stock_changed(struct mq_msg *m)
{
    struct page_written *w;
    struct product_row   row;
    json_int_t           id = 0, available = -1, version = 0;
    int                  rc, found;

    if (json_unpack(m->ev->payload, "{s:I,s:I,s:I}", "product_id", &id, "available", &available,
                    "version", &version) != 0 ||
        id < 1 || available < 0 || version < 1 || id != m->ev->aggregate_id)
        return mq_msg_bad(m, "payload needs product_id (the aggregate_id), available >= 0 and "
                             "version >= 1");
    rc = store_stock_apply(&m->work, id, available, version, &row, &found);
    if (rc)
        return rc;
    if (!found) {
        log_debug("catalog: inventory.stock_changed %s: product %lld v%lld stale or gone",
                  m->ev->id, (long long)id, (long long)version);
        return ERR_OK;
    }
    rc = cached(m, cache_product_invalidate(&m->work, id, row.version));
    if (rc)
        return rc;
    w = arena_new(m->work.arena, struct page_written);
    w->id = row.id;
    w->version = row.version;
    rc = render_v1_page(m->work.arena, &row, &w->body, &w->len);
    if (rc)
        return rc;
    m->after_commit = page_cached;
    m->after_commit_arg = w;
    return ERR_OK;
}
