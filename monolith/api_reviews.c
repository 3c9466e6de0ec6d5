/*
 * api_reviews.c - product reviews: a paginated list with the product's
 * average rating, and one review per user per product.
 */
#include <stddef.h>

#include "monolith.h"

static const struct decode_field review_fields[] = {
    {"rating", DECODE_I64, offsetof(struct review, rating), 1, 1, 5, 0},
    {"title", DECODE_STR, offsetof(struct review, title), 0, 0, 200, 0},
    {"body", DECODE_STR, offsetof(struct review, body), 1, 1, 5000, 0},
    {NULL},
};

static json_t *
review_encode(const struct review *rv)
{
    return json_pack("{s:I,s:I,s:I,s:s,s:I,s:s,s:s,s:s}", "id", (json_int_t)rv->id, "product_id",
                     (json_int_t)rv->product_id, "user_id", (json_int_t)rv->user_id, "author",
                     rv->author, "rating", (json_int_t)rv->rating, "title", rv->title, "body",
                     rv->body, "created_at", rv->created_at);
}

int
review_list(struct req *r)
{
    struct review *rv;
    size_t         n, i;
    int64_t        id, page, limit, total, avg;
    json_t        *items;
    int            rc;

    rc = req_param_id(r, "id", "product", &id);
    if (rc)
        return rc;
    rc = api_page(r, &page, &limit);
    if (rc)
        return rc;
    rc = store_reviews(r, id, page, limit, &rv, &n, &total, &avg);
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc)
        return rc;
    items = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(items, review_encode(&rv[i]));
    return req_reply(r, 200,
                     json_pack("{s:o,s:I,s:I,s:I,s:f,s:I}", "items", items, "page",
                               (json_int_t)page, "limit", (json_int_t)limit, "total",
                               (json_int_t)total, "average_rating", (double)avg / 100.0, "count",
                               (json_int_t)total));
}

int
review_create(struct req *r)
{
    struct review *rv = arena_new(r->arena, struct review);
    json_t        *body;
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
    if (rv->title == NULL)
        rv->title = "";
    rv->user_id = r->user.user_id;
    rc = store_review_create(r, rv);
    if (rc == ERR_DUPLICATE)
        return req_fail(r, ERR_ALREADY_REVIEWED, "you have already reviewed this product");
    if (rc == ERR_NOT_FOUND)
        return req_fail(r, rc, "product not found");
    if (rc == ERR_UNAUTHORIZED)
        return req_fail(r, ERR_NOT_FOUND, "account not found");
    if (rc)
        return rc;
    return req_reply(r, 201, review_encode(rv));
}
