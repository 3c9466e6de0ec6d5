/*
 * api.c - the v1 reviews endpoints, answering exactly as the monolith's
 * monolith/api_reviews.c: a paginated list with the product's average rating,
 * and one review per user per product. Handlers decode, check (review.c),
 * call store.c, and encode.
 */
#include <stddef.h>

#include "bounds.h"
#include "reviews.h"

/* The monolith's table, so every detail is its text; review_input_check
 * holds the same rules as tested logic and re-checks what was decoded. */
static const struct decode_field review_fields[] = {
    {"rating", DECODE_I64, offsetof(struct review, rating), 1, REVIEW_RATING_MIN, REVIEW_RATING_MAX,
     0},
    {"title", DECODE_STR, offsetof(struct review, title), 0, 0, REVIEW_TITLE_MAX, 0},
    {"body", DECODE_STR, offsetof(struct review, body), 1, 1, REVIEW_BODY_MAX, 0},
    {NULL, DECODE_STR, 0, 0, 0, 0, 0},
};

/* Members in the monolith's order (the gateway's shadow mode compares them). */
static json_t *
review_encode(const struct review *rv)
{
    return json_pack("{s:I,s:I,s:I,s:s,s:I,s:s,s:s,s:s}", "id", (json_int_t)rv->id, "product_id",
                     (json_int_t)rv->product_id, "user_id", (json_int_t)rv->user_id, "author",
                     rv->author, "rating", (json_int_t)rv->rating, "title", rv->title, "body",
                     rv->body, "created_at", rv->created_at);
}

/* GET /api/v1/products/{id}/reviews?page&limit: newest first. */
int
review_list(struct req *r)
{
    struct review_page pg;
    int64_t            id, page, limit, avg;
    json_t            *items;
    size_t             i;
    int                rc;

    rc = req_param_id(r, "id", "product", &id);
    if (rc)
        return rc;
    rc = req_paging(r, REVIEW_PAGE_MAX, &page, &limit);
    if (rc)
        return rc;
    rc = store_reviews(service_work(r), id, page, limit, &pg);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc)
        return rc;
    items = json_array();
    for (i = 0; i < pg.n; i++)
        json_array_append_new(items, review_encode(&pg.items[i]));
    avg = rating_average_x100(&pg.rating);
    return req_reply(r, 200,
                     json_pack("{s:o,s:I,s:I,s:I,s:f,s:I}", "items", items, "page",
                               (json_int_t)page, "limit", (json_int_t)limit, "total",
                               (json_int_t)pg.rating.count, "average_rating", (double)avg / 100.0,
                               "count", (json_int_t)pg.rating.count));
}

/* POST /api/v1/products/{id}/reviews {"rating","title","body"} (ROUTE_USER). */
int
review_create(struct req *r)
{
    struct review *rv = arena_new(r->arena, struct review);
    json_t        *body;
    char           detail[128];
    int            rc;

    rc = req_param_id(r, "id", "product", &rv->product_id);
    if (rc)
        return rc;
    rc = req_json(r, &body);
    if (rc)
        return rc;
    rc = req_decode(r, body, review_fields, rv, NULL);
    if (rc)
        return rc;
    rc = review_input_check(rv, detail, sizeof(detail));
    if (rc)
        return req_fail(r, rc, "%s", detail);
    if (rv->title == NULL)
        rv->title = "";
    rv->user_id = r->user.user_id;
    rc = store_review_create(service_work(r), rv);
    if (rc == ERR_DUPLICATE)
        return req_fail(r, ERR_ALREADY_REVIEWED, "you have already reviewed this product");
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc)
        return rc;
    return req_reply(r, 201, review_encode(rv));
}
