/*
 * events.c - the events the catalog publishes, written to its outbox inside
 * the writing transaction (lib/mq.c relays them), and the one it consumes.
 * Every product event is a full-state snapshot with the document's version
 * (contracts/events.md), so consumers keep the newest and ignore duplicates
 * and reordering; it names the category's path for search's category filter.
 * review.created keeps the rating replica: a document write like any other
 * (version + 1, product.updated), in the consumer's inbox transaction.
 */
#include "catalog.h"
#include "db.h"
#include "log.h"
#include "mq.h"

static int on_review_created(struct mq_msg *m);

const struct mq_consumer catalog_consumers[] = {
    {EVENT_REVIEW_CREATED, on_review_created},
    {EVENT__COUNT, NULL},
};

static void
json_release(void *p)
{
    json_decref(p);
}

int
events_product_put(struct db *db, struct arena *a, const char *trace, enum event_type type,
                   const struct product_row *row, const struct money *old_price)
{
    json_error_t jerr;
    json_t      *doc, *payload, *path;

    doc = json_loadb(row->doc, row->len, 0, &jerr);
    if (doc == NULL) {
        log_error("product %lld: stored document does not parse: %s", (long long)row->id,
                  jerr.text);
        return ERR_INTERNAL;
    }
    payload =
        json_pack("{s:I,s:o}", "version", (json_int_t)row->version, "product", api_doc(doc, -1, 0));
    json_decref(doc);
    if (payload == NULL)
        return ERR_INTERNAL;
    arena_defer(a, json_release, payload);
    if (old_price != NULL)
        json_object_set_new(payload, "old_price",
                            json_pack("{s:I,s:s}", "amount", (json_int_t)old_price->minor,
                                      "currency", old_price->currency));
    if (row->category_path != NULL) {
        path = json_loads(row->category_path, 0, &jerr);
        if (!json_is_array(path)) {
            json_decref(path);
            log_error("product %lld: category path is not an array", (long long)row->id);
            return ERR_INTERNAL;
        }
        json_object_set_new(payload, "category_path", path);
    }
    return mq_outbox_put(db, a, type, row->id, trace != NULL && *trace ? trace : NULL, payload);
}

int
events_product(struct req *r, struct db *db, enum event_type type, const struct product_row *row,
               const struct money *old_price)
{
    return events_product_put(db, r->arena, req_trace_id(r), type, row, old_price);
}

int
events_product_deleted(struct req *r, struct db *db, int64_t id, int64_t version)
{
    return mq_outbox_req(
        db, r, EVENT_PRODUCT_DELETED, id,
        json_pack("{s:I,s:I}", "version", (json_int_t)version, "product_id", (json_int_t)id));
}

/* ---- review.created: the rating replica ----------------------------------------- */

/* What the after-commit hook writes through to the cache. */
struct rating_written {
    int64_t id, version;
    char   *body;
    size_t  len;
};

/* After the commit (lib/mq.h after_commit): the product page with its new
 * rating goes to the cache, set-if-newer like every write, so the next read
 * shows it and a reader's late fill with the old version is refused. */
static void
rating_cached(struct mq_msg *m, void *arg)
{
    const struct rating_written *w = arg;

    cache_product_write(m->ctx, m->arena, w->id, w->version, w->body, w->len);
}

/* {"review_id", "product_id", "user_id", "rating", "created_at"}: one more
 * rating for the product (the inbox makes a redelivery a no-op). A deleted
 * or unknown product is acked and left alone. A malformed payload fails, is
 * retried and then parked in catalog.dlq with the reason. */
static int
on_review_created(struct mq_msg *m)
{
    struct rating_written *w;
    struct product_row     row;
    json_int_t             product_id = 0, rating = 0;
    int                    rc, found;

    if (json_unpack(m->ev->payload, "{s:I,s:I}", "product_id", &product_id, "rating", &rating) !=
            0 ||
        product_id < 1 || rating < 1 || rating > 5) {
        return mq_msg_bad(m, "payload needs an integer product_id >= 1 and rating 1..5");
    }
    rc = store_rating_add(m->db, m->arena, product_id, rating, &row, &found);
    if (rc)
        return rc;
    if (!found) {
        log_info("catalog: review.created %s: product %lld is deleted or unknown; ignored",
                 m->ev->id, (long long)product_id);
        return ERR_OK;
    }
    rc = events_product_put(m->db, m->arena, m->ev->trace_id, EVENT_PRODUCT_UPDATED, &row, NULL);
    if (rc)
        return rc;
    w = arena_new(m->arena, struct rating_written);
    w->id = row.id;
    w->version = row.version;
    rc = api_v1_page_bytes(m->arena, &row, &w->body, &w->len);
    if (rc)
        return rc;
    m->after_commit = rating_cached;
    m->after_commit_arg = w;
    return ERR_OK;
}
