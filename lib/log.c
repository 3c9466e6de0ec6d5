/*
 * log.c - JSON-lines logger (see log.h). A line is built in a private buffer
 * and written with one write(2) under a mutex, so concurrent threads never
 * interleave. Messages are forced to valid UTF-8 so every line parses as
 * JSON even when it quotes hostile request bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#define LOG_MSG_MAX  4096  /* formatted message; longer ones are cut */
#define LOG_LINE_MAX 65536 /* whole line including extra members */
#define LOG_SVC_MAX  64

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

static _Atomic int     min_level = LOG_INFO;
static char            svc_name[LOG_SVC_MAX] = "souk"; /* set once, before threads start */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local void (*ctx_fn)(struct buf *b, void *arg);
static _Thread_local void *ctx_arg;

void
log_open(const char *svc, const char *level)
{
    int i, found = 0;

    if (svc != NULL)
        snprintf(svc_name, sizeof(svc_name), "%s", svc);
    atomic_store(&min_level, LOG_INFO);
    for (i = LOG_DEBUG; level != NULL && i <= LOG_OFF; i++) {
        if (strcmp(level, level_names[i]) == 0) {
            atomic_store(&min_level, i);
            found = 1;
        }
    }
    if (level != NULL && !found)
        log_warn("unknown log level \"%s\", using info", level);
}

const char *
log_svc(void)
{
    return svc_name;
}

int
log_enabled(enum log_level l)
{
    return (unsigned)l < LOG_OFF &&
           (int)l >= atomic_load_explicit(&min_level, memory_order_relaxed);
}

void
log_timestamp(char out[32])
{
    struct timespec ts;
    struct tm       tm;
    char            s[24];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", s, (int)(ts.tv_nsec / 1000000) % 1000);
}

static void
put_timestamp(struct buf *b)
{
    char ts[32];

    log_timestamp(ts);
    buf_printf(b, "{\"ts\":\"%s\"", ts);
}

static void
write_all(const char *p, size_t n)
{
    ssize_t w;

    pthread_mutex_lock(&write_lock);
    while (n > 0) {
        w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* nowhere to report a failing stderr */
        p += w;
        n -= (size_t)w;
    }
    pthread_mutex_unlock(&write_lock);
}

static void
build_line(struct buf *b, enum log_level l, const char *extra, const char *msg, size_t n)
{
    put_timestamp(b);
    buf_puts(b, ",\"level\":\"");
    buf_puts(b, level_names[l]);
    buf_puts(b, "\",\"svc\":");
    buf_json_str(b, svc_name, strlen(svc_name));
    buf_puts(b, ",\"msg\":");
    buf_json_str(b, msg, n);
    if (extra != NULL && extra[0] != '\0') {
        buf_putc(b, ',');
        buf_puts(b, extra);
    } else if (extra == NULL && ctx_fn != NULL) {
        buf_putc(b, ',');
        ctx_fn(b, ctx_arg);
    }
    buf_puts(b, "}\n");
}

void
log_context(void (*fn)(struct buf *b, void *arg), void *arg)
{
    ctx_fn = fn;
    ctx_arg = arg;
}

void
log_write(enum log_level l, const char *extra, const char *fmt, va_list ap)
{
    char       msg[LOG_MSG_MAX];
    int        n;
    size_t     len;
    struct buf b;

    if (!log_enabled(l))
        return;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        n = 0;
    len = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
    buf_init(&b, LOG_LINE_MAX);
    build_line(&b, l, extra, msg, len);
    if (buf_error(&b)) {
        /* Only an oversized extra can overflow: keep the message, drop it. */
        buf_reset(&b);
        build_line(&b, l, "\"log_extra_dropped\":true", msg, len);
    }
    write_all(buf_data(&b), buf_len(&b));
    buf_free(&b);
}

void
log_debug(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_write(LOG_DEBUG, NULL, fmt, ap);
    va_end(ap);
}

void
log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_write(LOG_INFO, NULL, fmt, ap);
    va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_write(LOG_WARN, NULL, fmt, ap);
    va_end(ap);
}

void
log_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_write(LOG_ERROR, NULL, fmt, ap);
    va_end(ap);
}
