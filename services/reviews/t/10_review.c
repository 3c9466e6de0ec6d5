/*
 * 10_review.c - review.c: the v1 input rules and the rating aggregate's
 * arithmetic. The averages marked "MariaDB" were read from the monolith's
 * own query, ROUND(AVG(rating) * 100), over reviews with those ratings.
 */
#include <stdint.h>
#include <string.h>

#include "reviews.h"
#include "t.h"

static char *
repeat(char c, size_t n)
{
    static char buf[2][REVIEW_BODY_MAX + 2];
    static int  k;
    char       *p = buf[k++ % 2];

    memset(p, c, n);
    p[n] = '\0';
    return p;
}

static void
test_input(void)
{
    static const struct {
        int64_t     rating;
        int         title_len; /* -1 = absent */
        int         body_len;  /* -1 = absent */
        int         want;
        const char *detail;
    } rows[] = {
        {1, -1, 1, ERR_OK, ""},
        {5, 0, 5000, ERR_OK, ""},
        {3, 200, 10, ERR_OK, ""},
        {0, -1, 1, ERR_INVALID, "\"rating\" must be an integer between 1 and 5"},
        {6, -1, 1, ERR_INVALID, "\"rating\" must be an integer between 1 and 5"},
        {-1, -1, 1, ERR_INVALID, "\"rating\" must be an integer between 1 and 5"},
        {INT64_MIN, -1, 1, ERR_INVALID, "\"rating\" must be an integer between 1 and 5"},
        {INT64_MAX, -1, 1, ERR_INVALID, "\"rating\" must be an integer between 1 and 5"},
        {5, 201, 1, ERR_INVALID, "\"title\" must be a string of 0 to 200 bytes"},
        {5, -1, 0, ERR_INVALID, "\"body\" must be a string of 1 to 5000 bytes"},
        {5, -1, 5001, ERR_INVALID, "\"body\" must be a string of 1 to 5000 bytes"},
        {5, -1, -1, ERR_INVALID, "\"body\" must be a string of 1 to 5000 bytes"},
        /* the rating is checked first, as the decoder's table order */
        {0, 201, 0, ERR_INVALID, "\"rating\" must be an integer between 1 and 5"},
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct review rv = {0};
        char          detail[128] = "";
        int           rc;

        rv.rating = rows[i].rating;
        rv.title = rows[i].title_len < 0 ? NULL : repeat('t', (size_t)rows[i].title_len);
        rv.body = rows[i].body_len < 0 ? NULL : repeat('b', (size_t)rows[i].body_len);
        rc = review_input_check(&rv, detail, sizeof(detail));
        T_EQ_INT(rc, rows[i].want, "input row %zu: rating %lld title %d body %d", i,
                 (long long)rows[i].rating, rows[i].title_len, rows[i].body_len);
        if (rows[i].want != ERR_OK)
            T_EQ_STR(detail, rows[i].detail, "input row %zu: detail", i);
    }
}

static void
test_average(void)
{
    static const struct {
        int64_t count, sum, want;
    } rows[] = {
        {0, 0, 0}, /* no reviews: 0, as COALESCE(..., 0) */
        {1, 1, 100},
        {1, 5, 500},
        {2, 9, 450},     /* the monolith test's 4.5 */
        {3, 14, 467},    /* MariaDB: 4, 5, 5 -> 4.67 */
        {3, 13, 433},    /* MariaDB */
        {8, 15, 188},    /* MariaDB: 187.5 rounds half up */
        {200, 901, 451}, /* 450.5 */
        {7, 30, 429},
        {6, 25, 417},
        {9, 41, 456},
        /* MariaDB: exact, not AVG's 4 shown decimals rounded twice (3.5050 -> 3.51) */
        {101, 152, 150},
        {101, 354, 350},
        {103, 189, 183},
        {107, 130, 121},
        {109, 539, 494},
        {111, 550, 495},
        /* impossible aggregates answer 0 instead of nonsense */
        {-1, 5, 0},
        {2, 11, 0},
        {2, 1, 0},
        {INT64_MAX / 5, INT64_MAX / 5 * 5, 500},
        {INT64_MAX / 5, INT64_MAX / 5 * 2 + 1, 200},
    };
    size_t  i;
    int64_t n, s, bad = 0;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct rating a = {rows[i].count, rows[i].sum};

        T_EQ_INT(rating_average_x100(&a), rows[i].want, "average of sum %lld over %lld",
                 (long long)rows[i].sum, (long long)rows[i].count);
    }
    /* Every aggregate of up to 300 reviews against the closed form. */
    for (n = 1; n <= 300; n++)
        for (s = n; s <= 5 * n; s++) {
            struct rating a = {n, s};

            bad += rating_average_x100(&a) != (200 * s + n) / (2 * n);
        }
    T_EQ_INT(bad, 0, "average: every sum of up to 300 reviews rounds half up");
}

static void
test_aggregate(void)
{
    static const int64_t ratings[] = {4, 5, 5, 1, 3};
    static const struct {
        int64_t count, sum;
        int     valid;
    } rows[] = {
        {0, 0, 1}, {1, 1, 1},  {1, 5, 1}, {3, 15, 1}, {1, 0, 0},
        {1, 6, 0}, {-1, 0, 0}, {0, 1, 0}, {2, 1, 0},  {INT64_MAX, INT64_MAX, 0},
    };
    struct rating a = {0, 0};
    size_t        i;

    for (i = 0; i < sizeof(ratings) / sizeof(ratings[0]); i++)
        rating_add(&a, ratings[i]);
    T_EQ_INT(a.count, 5, "aggregate: count after five reviews");
    T_EQ_INT(a.sum, 18, "aggregate: sum after five reviews");
    T_EQ_INT(rating_average_x100(&a), 360, "aggregate: 18 / 5 = 3.60");
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct rating b = {rows[i].count, rows[i].sum};

        T_EQ_INT(rating_valid(&b), rows[i].valid, "valid: count %lld sum %lld",
                 (long long)rows[i].count, (long long)rows[i].sum);
    }
}

static void
test_offset(void)
{
    T_EQ_INT(review_offset(1, 20), 0, "offset: page 1");
    T_EQ_INT(review_offset(3, 1), 2, "offset: page 3 of 1");
    T_EQ_INT(review_offset(REVIEW_PAGE_MAX, 100), 99999900, "offset: the last page");
}

int
main(void)
{
    test_input();
    test_average();
    test_aggregate();
    test_offset();
    return T_DONE();
}
