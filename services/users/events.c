/*
 * events.c - the events the users service publishes, written to its outbox
 * inside the writing transaction (lib/mq.c relays them): user.registered
 * (reviews keeps a name replica from it) and user.address_changed (orders
 * keeps an address replica). Payloads: contracts/events.md. The service
 * consumes nothing.
 */
#include <string.h>

#include "mq.h"
#include "users.h"

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
events_user_registered(struct req *r, struct db *db, const struct user *u)
{
    json_t *payload;

    payload = json_pack("{s:I,s:s,s:s,s:s,s:s}", "user_id", (json_int_t)u->id, "email", u->email,
                        "name", u->name, "role", u->role, "created_at", u->created_at);
    if (payload == NULL)
        return ERR_INTERNAL;
    arena_defer(r->arena, json_release, payload);
    return mq_outbox_put(db, r->arena, EVENT_USER_REGISTERED, u->id, trace_id(r), payload);
}

int
events_address_changed(struct req *r, struct db *db, int64_t user_id, const struct address *a,
                       int64_t version)
{
    json_t *payload;

    /* version grows by one on every write of the address, so a replica keeps
     * the newest and ignores duplicates and late arrivals. */
    payload = json_pack("{s:I,s:o,s:I}", "user_id", (json_int_t)user_id, "address", api_address(a),
                        "version", (json_int_t)version);
    if (payload == NULL)
        return ERR_INTERNAL;
    arena_defer(r->arena, json_release, payload);
    return mq_outbox_put(db, r->arena, EVENT_USER_ADDRESS_CHANGED, user_id, trace_id(r), payload);
}
