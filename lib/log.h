/*
 * log.h - structured JSON-lines logging to stderr, one object per line:
 * {"ts":"2026-11-25T16:37:45.123Z","level":"info","svc":"monolith","msg":"..."}
 * Request-flavoured lines (rlog_* in req.h) add request_id, method and path.
 * Thread-safe: each line is written with one write(2).
 */
#ifndef SOUK_LOG_H
#define SOUK_LOG_H

#include <stdarg.h>

struct buf;

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

/* Set the service name and minimum level ("debug", "info", "warn", "error", "off");
 * an unknown level means info. */
void log_open(const char *svc, const char *level);
/* The service name given to log_open ("souk" before it), e.g. for
 * PostgreSQL's application_name. */
const char *log_svc(void);
/* 1 when lines of level l are written. */
int log_enabled(enum log_level l);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The general form: extra is NULL or pre-rendered JSON members without braces
 * (e.g. "\"request_id\":\"abc\",\"status\":200"), appended to the object. */
void log_write(enum log_level l, const char *extra, const char *fmt, va_list ap);

/* The calling thread's log context: while set, every line this thread
 * writes without extra members of its own (log_info & co.) gets the members
 * fn(b, arg) appends to b (JSON members without braces, as extra). fn runs
 * only when a line is written, so setting it costs nothing. fn NULL clears
 * it. A request's worker sets the request's (request_id, trace_id, method,
 * path), a consumer the message's (event_id, event_type, trace_id), so code
 * below them logs with the ids that lead back to the request. */
void log_context(void (*fn)(struct buf *b, void *arg), void *arg);

/* The time now as RFC 3339 UTC with milliseconds ("2026-01-31T12:00:00.123Z",
 * 24 characters and a NUL), the form every log line's "ts" uses. */
void log_timestamp(char out[32]);

#endif
