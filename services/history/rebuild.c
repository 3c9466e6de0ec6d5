/*
 * rebuild.c - the admin endpoints `soukctl history rebuild` drives. The
 * rebuild replays orders' retained order events (its paged admin feed, not
 * its database) into a fresh table while the live consumer keeps applying
 * every new event to both tables, then swaps the fresh table in (store.c):
 *   POST /api/v2/admin/history/rebuild   a fresh empty build table, building
 *   POST /api/v2/admin/history/replay    one page of orders' feed, applied to it
 *   POST /api/v2/admin/history/swap      rename it over the live one
 *   GET  /api/v2/admin/history/rebuild   building?, orders live and built
 *   DELETE /api/v2/admin/history/rebuild  abort: not building, build table dropped
 * The replay page is what the feed answered ({"events": [envelope, ...]});
 * soukctl forwards its bytes without parsing them.
 */
#include <string.h>

#include "history.h"

int
rebuild_begin(struct req *r)
{
    int rc = store_rebuild_begin(service_work(r));

    if (rc)
        return rc;
    return req_reply(r, 201, json_pack("{s:b}", "building", 1));
}

/* One envelope of the page into e; 400 (req_fail) when it is not one. */
static int
envelope(struct req *r, json_t *env, size_t i, struct hist_event *e)
{
    enum event_type type;
    json_t         *agg = json_object_get(env, "aggregate_id");
    const char     *key = json_string_value(json_object_get(env, "type")), *why;

    if (key == NULL || event_type_by_key(key, &type) != ERR_OK || !json_is_integer(agg))
        return req_fail(r, ERR_INVALID, "events[%zu] is not an event envelope", i);
    if (events_decode(r->arena, type, json_integer_value(agg), json_object_get(env, "payload"), e,
                      &why) != ERR_OK)
        return req_fail(r, ERR_INVALID, "events[%zu]: %s", i, why);
    return ERR_OK;
}

int
rebuild_replay(struct req *r)
{
    struct work      *w = service_work(r);
    struct hist_event e;
    json_t           *body, *events, *env;
    size_t            i;
    int               rc, building;

    rc = req_json(r, &body);
    if (rc)
        return rc;
    events = json_object_get(body, "events");
    if (!json_is_array(events))
        return req_fail(r, ERR_INVALID, "\"events\" must be an array of envelopes");
    rc = db_begin(w->db);
    if (rc)
        return rc;
    rc = store_building(w, &building);
    if (rc == ERR_OK && !building)
        rc = req_fail(r, ERR_CONFLICT, "no rebuild is running");
    json_array_foreach(events, i, env) {
        if (rc == ERR_OK)
            rc = envelope(r, env, i, &e);
        if (rc == ERR_OK)
            rc = events_apply(w, HIST_BUILD, &e);
    }
    if (rc == ERR_OK)
        rc = db_commit(w->db);
    else
        db_rollback(w->db);
    if (rc)
        return rc;
    return req_reply(r, 200, json_pack("{s:I}", "applied", (json_int_t)json_array_size(events)));
}

int
rebuild_swap(struct req *r)
{
    int64_t live = 0, built = 0;
    int     rc = store_rebuild_swap(service_work(r), &live, &built);

    if (rc == ERR_NOT_FOUND)
        return req_fail(r, ERR_CONFLICT, "no rebuild is running");
    if (rc == ERR_CONFLICT)
        return req_fail(r, rc, "the rebuilt table holds %lld orders, the live one %lld: replay on",
                        (long long)built, (long long)live);
    if (rc)
        return rc;
    cache_forget_all(); /* the pages of the old table */
    return req_reply(r, 200, json_pack("{s:I,s:I}", "live", (json_int_t)live, "built",
                                       (json_int_t)built));
}

/* soukctl calls it when its rebuild fails, so the consumer stops writing two
 * tables; idempotent (no rebuild running: the same 200). */
int
rebuild_abort(struct req *r)
{
    int rc = store_rebuild_abort(service_work(r));

    if (rc)
        return rc;
    return req_reply(r, 200, json_pack("{s:b}", "building", 0));
}

int
rebuild_status(struct req *r)
{
    int64_t live, built;
    int     building, rc = store_rebuild_state(service_work(r), &building, &live, &built);

    if (rc)
        return rc;
    return req_reply(r, 200, json_pack("{s:b,s:I,s:I}", "building", building, "live",
                                       (json_int_t)live, "built", (json_int_t)built));
}
