/*
 * builtin.h - the routes every souk process serves before its own table
 * (GET /health, /ready, /metrics) and the per-route HTTP metrics they
 * report: request counters by status, latency histograms, in-flight gauge.
 */
#ifndef SOUK_BUILTIN_H
#define SOUK_BUILTIN_H

#include "err.h"
#include "server.h"

struct metric;
struct server;

#define BUILTIN_ROUTES 3

/* GET /health, /ready, /metrics; ends with a NULL row. */
extern const struct route builtin_routes[BUILTIN_ROUTES + 1];
/* souk_http_in_flight: requests parsed and not yet answered. */
extern struct metric builtin_in_flight;

/* 1 when rt is cheap enough to answer on the loop thread (GET /health). */
int builtin_inline(const struct route *rt);
/* Per-route statistics for srv (builtins, then srv->spec->routes, then one
 * for unmatched requests); freed with builtin_stats_free. ERR_INTERNAL on OOM. */
MUST_CHECK int builtin_stats_init(struct server *srv);
void           builtin_stats_free(struct server *srv);

#endif
