/*
 * metrics.h - process-wide counters, gauges and histograms rendered as
 * Prometheus text for GET /metrics. A metric is a static struct registered
 * once at startup (a table, not code paths); updates are lock-free atomics.
 */
#ifndef SOUK_METRICS_H
#define SOUK_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

struct buf;

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

#define METRICS_BUCKETS 12 /* latency buckets, seconds: see metrics.c */

struct metric {
    const char      *name; /* souk_http_requests_total */
    const char      *help;
    enum metric_kind kind;
    const char      *labels; /* NULL or rendered labels: route="/x",status="200" */
    _Atomic int64_t  value;  /* counter / gauge */
    _Atomic uint64_t buckets[METRICS_BUCKETS + 1]; /* histogram; last = +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
    int64_t          scale; /* gauge: rendered as value / scale when > 1 (ratios) */
    struct metric   *next;  /* registry chain, owned by metrics.c */
};

/* Add m to the registry (idempotent). Not thread-safe with render: register
 * before serving. */
void metrics_register(struct metric *m);
/* A heap metric with labels (for per-route series created at startup);
 * lives until process exit. */
struct metric *metrics_labeled(const char *name, const char *help, enum metric_kind kind,
                               const char *labels);

static inline void
metrics_add(struct metric *m, int64_t v)
{
    atomic_fetch_add_explicit(&m->value, v, memory_order_relaxed);
}
static inline void
metrics_set(struct metric *m, int64_t v)
{
    atomic_store_explicit(&m->value, v, memory_order_relaxed);
}
/* Record one observation of us microseconds. */
void metrics_observe(struct metric *m, uint64_t us);

/* Append every registered metric as Prometheus text exposition. */
void metrics_render(struct buf *b);

#endif
