/*
 * feed.c - the retained order events (order_log, migrations/0003) as a paged
 * admin feed, GET /api/v2/admin/order-events?after=SEQ&limit=N, which
 * `soukctl history rebuild` replays; and the version a checkout's answer
 * names for history's read-your-writes. The envelopes are returned as
 * stored, joined, never parsed here.
 *
 * The seqs are allocated at insert, so a page may pass a seq whose
 * transaction commits later. A rebuild does not depend on the feed for
 * those: history applies every event it consumes to the table being
 * rebuilt too, from before its first page on (services/history/README.md).
 */
#include "buf.h"
#include "orders.h"

#define FEED_LIMIT_MAX 5000

int
order_events(struct req *r)
{
    struct order_log_page p;
    struct buf           *b;
    int64_t               after, limit;
    size_t                i;
    int                   rc;

    rc = req_query_i64(r, "after", 0, 0, INT64_MAX, &after);
    if (rc == ERR_OK)
        rc = req_query_i64(r, "limit", 500, 1, FEED_LIMIT_MAX, &limit);
    if (rc == ERR_OK)
        rc = store_order_log(service_work(r), after, limit, &p);
    if (rc)
        return rc;
    b = buf_new(r->arena, (size_t)1 << 30);
    buf_puts(b, "{\"events\":[");
    for (i = 0; i < p.n; i++) {
        if (i > 0)
            buf_putc(b, ',');
        buf_append(b, p.envelope[i], p.len[i]);
    }
    buf_printf(b, "],\"after\":%lld,\"next_after\":%lld,\"head\":%lld}", (long long)after,
               (long long)p.last, (long long)p.head);
    rc = buf_error(b);
    if (rc)
        return rc;
    return req_reply_bytes(r, 200, "application/json", buf_data(b), buf_len(b));
}

/* 1 once order.created is out, 2 once the move to a terminal state is: how
 * many of the order's events history must have applied to show this state. */
void
feed_version_header(struct req *r, const struct order *o)
{
    req_set_header(r, "Souk-Order-Version",
                   arena_printf(r->arena, "%lld:%d", (long long)o->id,
                                order_state_terminal(o->state) ? 2 : 1));
}
