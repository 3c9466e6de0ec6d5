/*
 * api_v2.c - the asynchronous v2 checkout and the saga's views: the order's
 * state with its timeline (every saga event orders consumed or emitted, with
 * its time, service and trace id), and the admin saga tracker (orders by
 * state and age). v2 shows failed orders too, with the reason.
 */
#include <string.h>

#include "orders.h"

#define SAGAS_LIMIT_MAX  1000
#define OLDER_THAN_MAX_S 315360000 /* ten years */

static json_t *
nullable(const char *z)
{
    return z != NULL ? json_string(z) : json_null();
}

static json_t *
order_encode_v2(const struct order *o)
{
    json_t *j = json_pack(
        "{s:I,s:I,s:s,s:o,s:o,s:o,s:o,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)o->id, "user_id",
        (json_int_t)o->user_id, "status", order_state_name(o->state), "reason", nullable(o->reason),
        "total", api_money(&o->total), "items", api_lines(o->lines, o->n), "shipping_address",
        api_address(&o->ship), "card_last4", o->card_last4 ? o->card_last4 : "", "created_at",
        o->created_at, "deadline", o->deadline, "updated_at", o->updated_at, "trace_id",
        o->trace_id ? o->trace_id : "");

    if (o->state == ORDER_STATE_REJECTED && o->shortage.product_id > 0)
        json_object_set_new(j, "shortage",
                            json_pack("{s:I,s:I,s:I}", "product_id",
                                      (json_int_t)o->shortage.product_id, "requested",
                                      (json_int_t)o->shortage.requested, "available",
                                      (json_int_t)o->shortage.available));
    return j;
}

/* POST /api/v2/orders {"card_number"} (ROUTE_USER): 202 with the pending
 * order at once (200 for an Idempotency-Key replay); the outcome is read with
 * GET /api/v2/orders/{id}. */
int
order_create_v2(struct req *r)
{
    struct order *o;
    const char   *url;
    int           rc, replayed;

    rc = api_checkout(r, &o, &replayed);
    if (rc)
        return rc;
    if (replayed)
        req_set_header(r, "Idempotent-Replayed", "true");
    feed_version_header(r, o);
    url = arena_printf(r->arena, "/api/v2/orders/%lld", (long long)o->id);
    req_set_header(r, "Location", url);
    return req_reply(r, replayed ? 200 : 202, order_encode_v2(o));
}

static json_t *
timeline(const struct saga_event *e, size_t n)
{
    json_t *arr = json_array();
    size_t  i;

    for (i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:s}", "at", e[i].at, "direction",
                           e[i].direction, "type", e[i].type, "service", e[i].service, "event_id",
                           nullable(e[i].event_id), "trace_id", e[i].trace_id, "note", e[i].note));
    return arr;
}

/* GET /api/v2/orders/{id} (ROUTE_USER): the owner's or, for an admin, any. */
int
order_get_v2(struct req *r)
{
    struct saga_event *e;
    struct order      *o;
    json_t            *j;
    int64_t            id;
    size_t             n;
    int                rc;

    rc = req_param_id(r, "id", "order", &id);
    if (rc)
        return rc;
    rc = store_order_get(service_work(r), id, &o);
    if (rc == ERR_OK && o->user_id != r->user.user_id && r->user.role != AUTH_ADMIN)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "order not found");
    if (rc)
        return rc;
    rc = store_saga_events(service_work(r), id, &e, &n);
    if (rc)
        return rc;
    j = order_encode_v2(o);
    json_object_set_new(j, "timeline", timeline(e, n));
    return req_reply(r, 200, j);
}

/* GET /api/v2/admin/sagas?state=PENDING&older_than=SECONDS&limit=N (admin):
 * orders in that state (any without one) created at least that long ago,
 * oldest first: the stuck sagas. */
int
saga_list(struct req *r)
{
    const char      *state = req_query(r, "state");
    enum order_state s = ORDER_STATE_PENDING;
    struct order    *o;
    int64_t          older, limit;
    json_t          *items;
    size_t           n, i;
    int              rc;

    if (state != NULL && order_state_parse(state, &s) != ERR_OK)
        return req_fail(r, ERR_INVALID,
                        "state must be one of PENDING, CONFIRMED, REJECTED, CANCELLED");
    rc = req_query_i64(r, "older_than", 0, 0, OLDER_THAN_MAX_S, &older);
    if (rc)
        return rc;
    rc = req_query_i64(r, "limit", 100, 1, SAGAS_LIMIT_MAX, &limit);
    if (rc)
        return rc;
    rc = store_sagas(service_work(r), state == NULL, s, older, limit, &o, &n);
    if (rc)
        return rc;
    items = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(
            items,
            json_pack("{s:I,s:I,s:s,s:o,s:o,s:s,s:s,s:s,s:I,s:s}", "id", (json_int_t)o[i].id,
                      "user_id", (json_int_t)o[i].user_id, "status", order_state_name(o[i].state),
                      "reason", nullable(o[i].reason), "total", api_money(&o[i].total),
                      "created_at", o[i].created_at, "deadline", o[i].deadline, "updated_at",
                      o[i].updated_at, "age_s", (json_int_t)o[i].age_s, "trace_id",
                      o[i].trace_id ? o[i].trace_id : ""));
    return req_reply(r, 200,
                     json_pack("{s:o,s:o,s:I,s:I}", "items", items, "state", nullable(state),
                               "older_than", (json_int_t)older, "limit", (json_int_t)limit));
}
