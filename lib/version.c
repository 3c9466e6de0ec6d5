/*
 * version.c - the build's version string and the souk_build_info gauge, the
 * Prometheus convention for exposing it (one series of value 1 whose label
 * carries the version). Kept in its own file so that a new version rebuilds
 * only this object.
 */
#include <pthread.h>

#include "metrics.h"
#include "version.h"

#ifndef SOUK_VERSION
#define SOUK_VERSION "dev"
#endif

const char souk_version[] = SOUK_VERSION;

static pthread_once_t registered = PTHREAD_ONCE_INIT;

static void
register_once(void)
{
    struct metric *m;

    /* git describe prints [0-9a-zA-Z.-] only: nothing to escape in a label. */
    m = metrics_labeled("souk_build_info", "The souk version this process runs.", METRIC_GAUGE,
                        "version=\"" SOUK_VERSION "\"");
    metrics_set(m, 1);
}

void
version_metric_register(void)
{
    pthread_once(&registered, register_once); /* one series, however many servers run */
}
