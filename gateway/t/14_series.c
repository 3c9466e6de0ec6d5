/*
 * 14_series.c - what GET /stats makes of the per-side counters (admin/series.c):
 * attempts and failures per side, the p99 as the upper bound of its latency
 * bucket, req/s and error rate over the window, one point per tick with null
 * before a route was first seen, and the window's bounds.
 */
#include <string.h>

#include "gw.h"
#include "t.h"

static json_t *
side(json_t *j, const char *route, const char *name)
{
    return json_object_get(json_object_get(json_object_get(j, "routes"), route), name);
}

static double
num(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static json_t *
series(json_t *side_j, const char *key)
{
    return json_object_get(json_object_get(side_j, "series"), key);
}

int
main(void)
{
    struct gw_stat *s = stats_route("products");
    json_t         *j, *l, *n;
    int             i;

    for (i = 0; i < 99; i++)
        stats_side(s, 0, 200, 800); /* 0.8 ms: the <= 1 ms bucket */
    stats_side(s, 0, 200, 150000);  /* 150 ms: the <= 200 ms bucket */
    stats_side(s, 1, 500, 3000);
    stats_side(s, 1, 0, 40000); /* no answer */
    stats_side(s, 1, 200, 3000);
    series_tick();

    j = stats_json(5);
    l = side(j, "products", "legacy");
    n = side(j, "products", "new");
    T_EQ_INT(json_integer_value(json_object_get(j, "window_s")), 5, "the window asked for");
    T_EQ_INT(json_integer_value(json_object_get(l, "requests")), 100, "legacy attempts");
    T_EQ_INT(json_integer_value(json_object_get(l, "errors")), 0, "no legacy failure");
    T_OK(num(l, "p99_ms") == 1.0, "p99 of 99 fast and 1 slow: the fast bucket's bound (got %g)",
         num(l, "p99_ms"));
    T_OK(num(l, "rps") == 100.0, "100 in the one second seen (got %g)", num(l, "rps"));
    T_EQ_INT(json_integer_value(json_object_get(n, "errors")), 2,
             "a 5xx and no answer are failures");
    T_OK(num(n, "error_rate") > 0.66 && num(n, "error_rate") < 0.67, "error rate 2/3 on new");
    T_EQ_INT(json_array_size(series(l, "rps")), 5, "five points for five seconds");
    T_OK(json_is_null(json_array_get(series(l, "rps"), 0)), "null before the route was seen");
    T_EQ_INT(json_integer_value(json_array_get(series(l, "rps"), 4)), 100,
             "the newest second last");
    json_decref(j);

    stats_side(s, 0, 200, 150000);
    stats_side(s, 0, 200, 150000); /* 102 in the window: the 101st is slow */
    series_tick();
    j = stats_json(5);
    l = side(j, "products", "legacy");
    T_OK(num(l, "p99_ms") == 200.0, "p99 over the window moves to the slow bucket (got %g)",
         num(l, "p99_ms"));
    T_OK(json_number_value(json_array_get(series(l, "p99_ms"), 4)) == 200.0,
         "the last second's own p99");
    T_OK(json_number_value(json_array_get(series(l, "p99_ms"), 3)) == 1.0,
         "and the second before, its own");
    T_EQ_INT(json_integer_value(json_array_get(series(l, "rps"), 4)), 2, "two in the last second");
    T_EQ_INT(json_integer_value(json_object_get(l, "requests")), 102, "totals since start");
    json_decref(j);

    series_tick(); /* a quiet second */
    j = stats_json(1);
    l = side(j, "products", "legacy");
    T_OK(json_is_null(json_object_get(l, "p99_ms")), "no p99 without requests");
    T_OK(json_is_null(json_object_get(l, "error_rate")), "nor an error rate");
    T_OK(num(l, "rps") == 0.0, "0 req/s");
    json_decref(j);

    j = stats_json(0);
    T_EQ_INT(json_integer_value(json_object_get(j, "window_s")), 120, "out of range: all 120 s");
    json_decref(j);
    stats_free_all();
    return T_DONE();
}
