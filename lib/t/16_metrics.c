/*
 * 16_metrics.c - Prometheus text rendering: one HELP/TYPE per family even
 * when its series were registered apart, labels merged with le, cumulative
 * buckets, and _sum in seconds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "t.h"

static struct metric requests = {
    .name = "souk_requests_total", .help = "Requests served.", .kind = METRIC_COUNTER};
static struct metric inflight = {.name = "souk_inflight",
                                 .help = "Requests in flight.\nBackslash \\ too.",
                                 .kind = METRIC_GAUGE};
static struct metric latency = {.name = "souk_latency_seconds",
                                .help = "Request latency.",
                                .kind = METRIC_HISTOGRAM,
                                .labels = "route=\"/a\""};

static const struct {
    const char *name, *text;
} want[] = {
    {"counter family with both series",
     "# HELP souk_requests_total Requests served.\n# TYPE souk_requests_total counter\n"
     "souk_requests_total 3\nsouk_requests_total{status=\"500\"} 1\n"},
    {"gauge with escaped HELP", "# HELP souk_inflight Requests in flight.\\nBackslash \\\\ too.\n"
                                "# TYPE souk_inflight gauge\nsouk_inflight -2\n"},
    {"histogram TYPE then first bucket",
     "# TYPE souk_latency_seconds histogram\n"
     "souk_latency_seconds_bucket{route=\"/a\",le=\"0.0005\"} 2\n"},
    {"le is inclusive", "souk_latency_seconds_bucket{route=\"/a\",le=\"0.001\"} 3\n"},
    {"empty bucket repeats the count",
     "souk_latency_seconds_bucket{route=\"/a\",le=\"0.0025\"} 3\n"},
    {"bucket 1", "souk_latency_seconds_bucket{route=\"/a\",le=\"1\"} 4\n"},
    {"bucket 2.5", "souk_latency_seconds_bucket{route=\"/a\",le=\"2.5\"} 4\n"},
    {"bucket +Inf", "souk_latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 5\n"},
    {"sum in seconds", "souk_latency_seconds_sum{route=\"/a\"} 3.801001\n"},
    {"count", "souk_latency_seconds_count{route=\"/a\"} 5\n"},
    {"second series of the family", "souk_latency_seconds_bucket{route=\"/b\",le=\"+Inf\"} 0\n"},
    {"empty series sum", "souk_latency_seconds_sum{route=\"/b\"} 0.000000\n"},
    {"histogram without labels", "\nsouk_plain_seconds_bucket{le=\"0.0005\"} 1\n"},
    {"sum and count without labels",
     "\nsouk_plain_seconds_sum 0.000000\nsouk_plain_seconds_count 1\n"},
};

static int
count(const char *hay, const char *needle)
{
    int n = 0;

    for (hay = strstr(hay, needle); hay != NULL; hay = strstr(hay + 1, needle))
        n++;
    return n;
}

/* Every _bucket line of a histogram series is >= the one before it. */
static int
cumulative(const char *text, const char *series)
{
    const char        *p = text;
    unsigned long long prev = 0, v;
    char              *end;

    for (p = strstr(p, series); p != NULL; p = strstr(p, series)) {
        p = strchr(p, '}') + 2;
        v = strtoull(p, &end, 10);
        if (v < prev)
            return 0;
        prev = v;
    }
    return 1;
}

int
main(void)
{
    struct metric *errors, *plain;
    struct buf     out;
    size_t         i;

    metrics_register(&requests);
    metrics_register(&inflight);
    metrics_register(&latency);
    metrics_register(&requests); /* idempotent */
    errors = metrics_labeled("souk_requests_total", "ignored", METRIC_COUNTER, "status=\"500\"");
    (void)metrics_labeled("souk_latency_seconds", "ignored", METRIC_HISTOGRAM, "route=\"/b\"");
    plain = metrics_labeled("souk_plain_seconds", "No labels.", METRIC_HISTOGRAM, NULL);

    metrics_add(&requests, 2);
    metrics_add(&requests, 1);
    metrics_add(errors, 1);
    metrics_set(&inflight, -2);
    metrics_observe(&latency, 0);
    metrics_observe(&latency, 500); /* on a bound: le is inclusive */
    metrics_observe(&latency, 501);
    metrics_observe(&latency, 800000);
    metrics_observe(&latency, 3000000); /* past the last bound: only +Inf */
    metrics_observe(plain, 0);

    buf_init(&out, 1 << 20);
    metrics_render(&out);
    T_EQ_INT(buf_error(&out), ERR_OK, "render fits");
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        T_OK(strstr(buf_data(&out), want[i].text) != NULL, "render: %s", want[i].name);
    T_EQ_INT(count(buf_data(&out), "# HELP "), 4, "one HELP per family");
    T_EQ_INT(count(buf_data(&out), "# TYPE "), 4, "one TYPE per family");
    T_EQ_INT(count(buf_data(&out), "# TYPE souk_latency_seconds "), 1, "histogram typed once");
    T_EQ_INT(count(buf_data(&out), "_bucket{route=\"/a\""), METRICS_BUCKETS + 1,
             "13 buckets per histogram series");
    T_OK(cumulative(buf_data(&out), "souk_latency_seconds_bucket{route=\"/a\""),
         "buckets are cumulative");
    T_OK(strstr(buf_data(&out), "ignored") == NULL, "HELP comes from the first registration");
    T_OK(buf_len(&out) > 0 && buf_data(&out)[buf_len(&out) - 1] == '\n', "ends with a newline");
    if (t_failed)
        printf("# output:\n%s", buf_data(&out));
    buf_free(&out);
    return T_DONE();
}
