/*
 * reviews.h - the reviews service's structs and cross-file prototypes.
 * api.c decodes and encodes JSON, review.c is pure logic (input rules, the
 * rating aggregate's arithmetic), store.c holds every SQL statement, events.c
 * keeps the product and user replicas from events and emits review.created.
 */
#ifndef SOUK_REVIEWS_H
#define SOUK_REVIEWS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "bounds.h"
#include "db.h"
#include "err.h"
#include "mq.h"
#include "req.h"
#include "service.h"

struct reviews_config {
    struct service_config svc; /* SOUK_LISTEN, SOUK_REVIEWS_DB, SOUK_AMQP_URL, ... */
};

extern struct reviews_config reviews_cfg; /* read-only after main() */

/* The monolith's rules (monolith/api_reviews.c), byte lengths. */
#define REVIEW_RATING_MIN 1
#define REVIEW_RATING_MAX 5
#define REVIEW_TITLE_MAX  200
#define REVIEW_BODY_MAX   5000
#define REVIEW_PAGE_MAX   LIMIT_PAGE_INDEX /* ?page= upper bound, as the monolith */

/* A review as the v1 API shows it. author is "" when the user replica does
 * not know the user yet (README.md). */
struct review {
    int64_t     id, product_id, user_id, rating;
    const char *author, *title, *body, *created_at;
};

/* The per-product aggregate kept with every insert: count and sum of ratings. */
struct rating {
    int64_t count, sum;
};

struct review_page {
    struct review *items;
    size_t         n;
    struct rating  rating;
};

/* review.c: pure logic */
/* ERR_OK when rv's rating, title and body follow the v1 rules; otherwise
 * ERR_INVALID with the same detail the monolith's decoder gives. */
MUST_CHECK int review_input_check(const struct review *rv, char *detail, size_t detail_len);
/* Add one rating to the aggregate. */
void rating_add(struct rating *a, int64_t rating);
/* 1 when the aggregate is one some reviews can have (0 <= count, each rating 1..5). */
int rating_valid(const struct rating *a);
/* The mean rating × 100, rounded half away from zero (MariaDB's
 * ROUND(AVG(rating) * 100), as the monolith answers); 0 without reviews. */
int64_t rating_average_x100(const struct rating *a);
/* Row offset of page (1-based) of limit rows. */
int64_t review_offset(int64_t page, int64_t limit);

/* store.c: every SQL statement */
extern const struct db_stmt reviews_stmts[];
/* The product's aggregate and one page of its reviews, newest first, from one
 * snapshot. ERR_NOT_FOUND when the product replica does not know the product
 * or holds its tombstone. */
MUST_CHECK int store_reviews(struct work *w, int64_t product_id, int64_t page, int64_t limit,
                             struct review_page *out);
/* Insert rv (product_id, user_id, rating, title, body), update the product's
 * aggregate and put review.created into the outbox, in one transaction; fills
 * id, author and created_at. ERR_NOT_FOUND (unknown or deleted product),
 * ERR_DUPLICATE (the user already reviewed it). */
MUST_CHECK int store_review_create(struct work *w, struct review *rv);
/* Replica writes, inside the consumer's transaction on mq's connection (so
 * they run SQL text, not reviews_stmts). *applied is 0 when the replica
 * already held this version or a newer one. */
MUST_CHECK int store_product_apply(struct work *w, int64_t id, int64_t version, int deleted,
                                   int *applied);
MUST_CHECK int store_user_apply(struct work *w, int64_t id, const char *name);

/* events.c */
extern const struct mq_consumer reviews_consumers[];
/* review.created for rv into the outbox, inside the transaction open on w->db. */
MUST_CHECK int events_review_created(struct work *w, const struct review *rv);

/* api.c: handlers */
int review_list(struct req *r);
int review_create(struct req *r);

#endif
