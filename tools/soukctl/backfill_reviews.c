/*
 * backfill_reviews.c - `soukctl backfill reviews`: the monolith's reviews
 * into the reviews service's database as documents with the same ids, the
 * per-product ratings (count, sum) and the two replicas that events fill
 * later (products, users_replica), so reviews answers the monolith's v1
 * list right after a backfill. The transformation is the reviews domain's
 * mapping (migrate/map/reviews.c), shared with forward sync and verify.
 */
#include "backfill.h"
#include "migrate/map/map.h"

extern const struct map_domain map_reviews;

const struct backfill_target backfill_reviews = {
    .name = "reviews",
    .map = &map_reviews,
};
