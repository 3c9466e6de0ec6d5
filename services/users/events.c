/*
 * events.c - the events the users service publishes, written to its outbox
 * inside the writing transaction (lib/mq.c relays them): user.registered
 * (reviews keeps a name replica from it) and user.address_changed (orders
 * keeps an address replica). Payloads: contracts/events.md. The service
 * consumes nothing.
 */
#include "mq.h"
#include "users.h"

int
events_user_registered(struct work *w, const struct user *u)
{
    return mq_outbox_put(w, EVENT_USER_REGISTERED, u->id,
                         json_pack("{s:I,s:s,s:s,s:s,s:s}", "user_id", (json_int_t)u->id, "email",
                                   u->email, "name", u->name, "role", u->role, "created_at",
                                   u->created_at));
}

int
events_address_changed(struct work *w, int64_t user_id, const struct address *a, int64_t version)
{
    /* version grows by one on every write of the address, so a replica keeps
     * the newest and ignores duplicates and late arrivals. */
    return mq_outbox_put(w, EVENT_USER_ADDRESS_CHANGED, user_id,
                         json_pack("{s:I,s:o,s:I}", "user_id", (json_int_t)user_id, "address",
                                   api_address(a), "version", (json_int_t)version));
}
