/*
 * events.c - the events the catalog publishes, written to its outbox inside
 * the writing transaction (lib/mq.c relays them). Every product event is a
 * full-state snapshot with the document's version (contracts/events.md), so
 * consumers keep the newest and ignore duplicates and reordering. The catalog
 * consumes nothing.
 */
#include <string.h>

#include "catalog.h"
#include "db.h"
#include "mq.h"

/* The trace id of W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>" when the
 * caller sent one, else the request id, so an event can be followed back to
 * the request that caused it. */
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
events_product(struct req *r, struct db *db, enum event_type type, const struct product_row *row,
               const struct money *old_price)
{
    json_error_t jerr;
    json_t      *doc, *payload;

    doc = json_loadb(row->doc, row->len, 0, &jerr);
    if (doc == NULL) {
        rlog_error(r, "product %lld: stored document does not parse: %s", (long long)row->id,
                   jerr.text);
        return ERR_INTERNAL;
    }
    payload =
        json_pack("{s:I,s:o}", "version", (json_int_t)row->version, "product", api_doc(doc, -1, 0));
    json_decref(doc);
    if (payload == NULL)
        return ERR_INTERNAL;
    arena_defer(r->arena, json_release, payload);
    if (old_price != NULL)
        json_object_set_new(payload, "old_price",
                            json_pack("{s:I,s:s}", "amount", (json_int_t)old_price->minor,
                                      "currency", old_price->currency));
    return mq_outbox_put(db, r->arena, type, row->id, trace_id(r), payload);
}

int
events_product_deleted(struct req *r, struct db *db, int64_t id, int64_t version)
{
    json_t *payload;

    payload = json_pack("{s:I,s:I}", "version", (json_int_t)version, "product_id", (json_int_t)id);
    if (payload == NULL)
        return ERR_INTERNAL;
    arena_defer(r->arena, json_release, payload);
    return mq_outbox_put(db, r->arena, EVENT_PRODUCT_DELETED, id, trace_id(r), payload);
}
