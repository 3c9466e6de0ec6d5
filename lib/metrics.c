/*
 * metrics.c - the metric registry and the Prometheus text format 0.0.4
 * renderer. Registration and rendering take a mutex; updates are relaxed
 * atomics on the metric itself, so the request path never locks.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "xalloc.h"

/* Upper bounds of the latency buckets: microseconds and their "le" text. */
static const uint64_t bucket_us[METRICS_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
};
static const char *const bucket_le[METRICS_BUCKETS + 1] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "+Inf",
};
static const char *const kind_names[] = {"counter", "gauge", "histogram"};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric  *registry_head, *registry_tail; /* registration order */

void
metrics_register(struct metric *m)
{
    struct metric *x;

    pthread_mutex_lock(&registry_lock);
    for (x = registry_head; x != NULL; x = x->next) {
        if (x == m)
            break;
        /* One name, one type: Prometheus rejects a family of mixed kinds. */
        assert(strcmp(x->name, m->name) != 0 || x->kind == m->kind);
    }
    if (x == NULL) {
        m->next = NULL;
        if (registry_tail != NULL)
            registry_tail->next = m;
        else
            registry_head = m;
        registry_tail = m;
    }
    pthread_mutex_unlock(&registry_lock);
}

struct metric *
metrics_labeled(const char *name, const char *help, enum metric_kind kind, const char *labels)
{
    struct metric *m = xcalloc(1, sizeof(*m));

    /* Copies, so callers may build the strings in an arena; the registry
     * keeps them reachable until exit. */
    m->name = xstrdup(name);
    m->help = xstrdup(help);
    m->kind = kind;
    m->labels = xstrdup(labels);
    metrics_register(m);
    return m;
}

void
metrics_observe(struct metric *m, uint64_t us)
{
    size_t i = 0;

    while (i < METRICS_BUCKETS && us > bucket_us[i])
        i++;
    /* Buckets hold per-bucket counts; render makes them cumulative. */
    atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, us, memory_order_relaxed);
}

/* HELP text escapes only backslash and newline (format 0.0.4). */
static void
put_help(struct buf *b, const char *z)
{
    for (; z != NULL && *z != '\0'; z++) {
        if (*z == '\\')
            buf_puts(b, "\\\\");
        else if (*z == '\n')
            buf_puts(b, "\\n");
        else
            buf_putc(b, *z);
    }
}

static int
has_labels(const struct metric *m)
{
    return m->labels != NULL && m->labels[0] != '\0';
}

/* name + suffix, then {labels} with le merged in when given. */
static void
put_series(struct buf *b, const struct metric *m, const char *suffix, const char *le)
{
    buf_puts(b, m->name);
    buf_puts(b, suffix);
    if (!has_labels(m) && le == NULL)
        return;
    buf_putc(b, '{');
    if (has_labels(m))
        buf_puts(b, m->labels);
    if (le != NULL)
        buf_printf(b, "%sle=\"%s\"", has_labels(m) ? "," : "", le);
    buf_putc(b, '}');
}

static void
render_histogram(struct buf *b, struct metric *m)
{
    uint64_t cum = 0, sum;
    size_t   i;

    for (i = 0; i <= METRICS_BUCKETS; i++) {
        cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        put_series(b, m, "_bucket", bucket_le[i]);
        buf_printf(b, " %llu\n", (unsigned long long)cum);
    }
    sum = atomic_load_explicit(&m->sum_us, memory_order_relaxed);
    /* Integer arithmetic keeps the seconds exact; no float formatting. */
    put_series(b, m, "_sum", NULL);
    buf_printf(b, " %llu.%06llu\n", (unsigned long long)(sum / 1000000),
               (unsigned long long)(sum % 1000000));
    /* _count is the +Inf bucket rather than m->count, so an observe racing
     * with this scrape can never make the two disagree. */
    put_series(b, m, "_count", NULL);
    buf_printf(b, " %llu\n", (unsigned long long)cum);
}

static void
render_series(struct buf *b, struct metric *m)
{
    int64_t v;

    if (m->kind == METRIC_HISTOGRAM) {
        render_histogram(b, m);
        return;
    }
    put_series(b, m, "", NULL);
    v = atomic_load_explicit(&m->value, memory_order_relaxed);
    if (m->kind == METRIC_GAUGE && m->scale > 1)
        buf_printf(b, " %.6f\n", (double)v / (double)m->scale);
    else
        buf_printf(b, " %lld\n", (long long)v);
}

/* 1 when m is the first registered metric with its name. */
static int
family_head(const struct metric *m)
{
    const struct metric *x = registry_head;

    while (x != m && strcmp(x->name, m->name) != 0)
        x = x->next;
    return x == m;
}

void
metrics_render(struct buf *b)
{
    struct metric *m, *y;

    pthread_mutex_lock(&registry_lock);
    for (m = registry_head; m != NULL; m = m->next) {
        /* A family is rendered where its name first appears, with every
         * series of that name, even ones registered later. */
        if (!family_head(m))
            continue;
        buf_printf(b, "# HELP %s ", m->name);
        put_help(b, m->help);
        buf_printf(b, "\n# TYPE %s %s\n", m->name, kind_names[m->kind]);
        for (y = m; y != NULL; y = y->next)
            if (strcmp(y->name, m->name) == 0)
                render_series(b, y);
    }
    pthread_mutex_unlock(&registry_lock);
}
