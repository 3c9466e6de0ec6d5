/*
 * review.c - pure logic of reviews: the v1 input rules and the arithmetic of
 * the per-product rating aggregate (count, sum). No I/O; t/10_review.c.
 */
#include <stdio.h>
#include <string.h>

#include "reviews.h"

/* Byte length of z within [min, max]. */
static int
length_in(const char *z, size_t min, size_t max)
{
    size_t n = strlen(z);

    return n >= min && n <= max;
}

int
review_input_check(const struct review *rv, char *detail, size_t detail_len)
{
    /* The details are the words lib/decode.c uses for a range, so a client
     * sees the monolith's text. */
    if (rv->rating < REVIEW_RATING_MIN || rv->rating > REVIEW_RATING_MAX) {
        snprintf(detail, detail_len, "\"rating\" must be an integer between %d and %d",
                 REVIEW_RATING_MIN, REVIEW_RATING_MAX);
        return ERR_INVALID;
    }
    if (rv->title != NULL && !length_in(rv->title, 0, REVIEW_TITLE_MAX)) {
        snprintf(detail, detail_len, "\"title\" must be a string of 0 to %d bytes",
                 REVIEW_TITLE_MAX);
        return ERR_INVALID;
    }
    if (rv->body == NULL || !length_in(rv->body, 1, REVIEW_BODY_MAX)) {
        snprintf(detail, detail_len, "\"body\" must be a string of 1 to %d bytes", REVIEW_BODY_MAX);
        return ERR_INVALID;
    }
    return ERR_OK;
}

void
rating_add(struct rating *a, int64_t rating)
{
    a->count++;
    a->sum += rating;
}

int
rating_valid(const struct rating *a)
{
    if (a->count < 0 || a->count > INT64_MAX / REVIEW_RATING_MAX)
        return 0;
    return a->sum >= a->count * REVIEW_RATING_MIN && a->sum <= a->count * REVIEW_RATING_MAX;
}

int64_t
rating_average_x100(const struct rating *a)
{
    uint64_t count, rem, x100;
    int      i;

    if (!rating_valid(a) || a->count == 0)
        return 0;
    /* round(100 * sum / count), half up: MariaDB's exact DECIMAL AVG rounds
     * the same way (checked against it for every sum of up to 12 reviews and
     * the double-rounding traps such as 354 over 101 = 3.50, not 3.51). Two
     * digits of long division keep every product below 2^64. */
    count = (uint64_t)a->count;
    x100 = (uint64_t)a->sum / count;
    rem = (uint64_t)a->sum % count;
    for (i = 0; i < 2; i++) {
        x100 = x100 * 10 + rem * 10 / count;
        rem = rem * 10 % count;
    }
    if (2 * rem >= count)
        x100++;
    return (int64_t)x100;
}

int64_t
review_offset(int64_t page, int64_t limit)
{
    return (page - 1) * limit;
}
