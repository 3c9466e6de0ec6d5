/*
 * api.c - the reads. Every answer is stored bytes: a page is the rows'
 * pre-rendered JSON joined with commas inside the list's envelope, with no
 * JSON parsed or built per row (DESIGN.md §8). v1 answers as orders' and
 * the monolith's v1 (contracts/api-v1.yaml); v2 lists every order of the
 * user, failed checkouts too, by status, with an opaque cursor. Another
 * user's order is 404, never 403; an admin sees any one order.
 */
#include <string.h>

#include "bounds.h"
#include "history.h"

#define PAGE_BYTES (64 << 20)

static void
join(struct buf *b, const struct hist_page *p)
{
    size_t i;

    buf_putc(b, '[');
    for (i = 0; i < p->n; i++) {
        if (i > 0)
            buf_putc(b, ',');
        buf_append(b, p->json[i], p->len[i]);
    }
    buf_putc(b, ']');
}

static int
reply(struct req *r, struct buf *b)
{
    int rc = buf_error(b);

    if (rc)
        return rc;
    return req_reply_bytes(r, 200, "application/json", buf_data(b), buf_len(b));
}

/* GET /api/v1/orders?page&limit: the user's orders, newest first. */
int
orders_list_v1(struct req *r)
{
    struct hist_page  p = {0};
    struct cache_mark m;
    struct buf       *b;
    const char       *hit;
    size_t            n;
    int64_t           page, limit, user = r->user.user_id;
    int               rc, ryw = req_header(r, "Souk-Min-Order-Version") != NULL;

    rc = req_paging(r, LIMIT_PAGE_INDEX, &page, &limit);
    if (rc)
        return rc;
    /* the loop half looked already when it passed this request on */
    if (!ryw && !r->passed && cache_get(r->arena, user, page, limit, &hit, &n))
        return req_reply_bytes(r, 200, "application/json", hit, n);
    rc = wait_min_version(r);
    m = cache_mark(user); /* after the wait: what it waited for is in */
    if (rc == ERR_OK)
        rc = store_v1_page(service_work(r), user, page, limit, &p);
    if (rc)
        return rc;
    b = buf_new(r->arena, PAGE_BYTES);
    buf_puts(b, "{\"items\":");
    join(b, &p);
    buf_printf(b, ",\"page\":%lld,\"limit\":%lld,\"total\":%lld}", (long long)page,
               (long long)limit, (long long)p.total);
    if (buf_error(b) == ERR_OK)
        cache_put(m, user, page, limit, buf_data(b), buf_len(b));
    return reply(r, b);
}

/* GET /api/v1/orders/{id}: the owner's (or, for an admin, any) v1 order. */
int
order_get_v1(struct req *r)
{
    const char *json;
    size_t      len;
    int64_t     id, owner;
    int         rc;

    rc = req_param_id(r, "id", "order", &id);
    if (rc == ERR_OK)
        rc = wait_min_version(r);
    if (rc)
        return rc;
    rc = store_one(service_work(r), id, 0, &json, &len, &owner);
    if (rc == ERR_OK && owner != r->user.user_id && r->user.role != AUTH_ADMIN)
        rc = ERR_NOT_FOUND;
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "order not found");
    if (rc)
        return rc;
    return req_reply_bytes(r, 200, "application/json", json, len);
}

/* GET /api/v2/orders?status&limit&cursor: every order of the user, newest
 * first; "cursor" (and the "next" link) continue after the last one. */
int
orders_list_v2(struct req *r)
{
    struct hist_page p = {0};
    const char      *status = req_query(r, "status"), *cursor = req_query(r, "cursor"), *next;
    struct buf      *b;
    int64_t          limit, us = 0, id = 0;
    int              rc;

    rc = req_query_i64(r, "limit", 20, 1, LIMIT_PAGE_SIZE, &limit);
    if (rc)
        return rc;
    if (status != NULL && hist_status_check(status) != ERR_OK)
        return req_fail(r, ERR_INVALID,
                        "status must be one of PENDING, CONFIRMED, REJECTED, CANCELLED");
    if (cursor != NULL && hist_cursor_decode(cursor, &us, &id) != ERR_OK)
        return req_fail(r, ERR_INVALID, "cursor is not one this API gave out");
    rc = wait_min_version(r);
    if (rc == ERR_OK)
        rc = store_v2_page(service_work(r), r->user.user_id, status, cursor != NULL, us, id, limit,
                           &p);
    if (rc)
        return rc;
    b = buf_new(r->arena, PAGE_BYTES);
    buf_puts(b, "{\"items\":");
    join(b, &p);
    if ((int64_t)p.n < limit) {
        buf_puts(b, ",\"cursor\":null,\"next\":null}");
        return reply(r, b);
    }
    next = hist_cursor_encode(r->arena, p.last_us, p.last_id);
    buf_printf(b, ",\"cursor\":\"%s\",\"next\":\"/api/v2/orders?limit=%lld%s%s&cursor=%s\"}",
               next, (long long)limit, status ? "&status=" : "", status ? status : "", next);
    req_set_header(r, "Link",
                   arena_printf(r->arena, "</api/v2/orders?limit=%lld%s%s&cursor=%s>; rel=\"next\"",
                                (long long)limit, status ? "&status=" : "", status ? status : "",
                                next));
    return reply(r, b);
}
