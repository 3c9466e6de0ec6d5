/*
 * trace.h - the request id and W3C trace context rules, shared by the
 * services' server (conn_parse.c, req.c) and the gateway (ids.c): which
 * X-Request-Id a client may choose, which traceparent is well formed, and
 * the random ids made when they are not.
 */
#ifndef SOUK_TRACE_H
#define SOUK_TRACE_H

#include <stddef.h>

struct arena;

#define TRACE_REQUEST_ID_MAX 128 /* a client's X-Request-Id is honoured up to this length */
#define TRACE_PARENT_LEN     55  /* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define TRACE_ID_LEN         32

/* 1 when the n bytes at p are a request id a client may choose: 1..128
 * characters of [A-Za-z0-9._-], safe in logs and headers alike. */
int trace_request_id_ok(const char *p, size_t n);

/* 1 when the n bytes at p are a valid traceparent (W3C Trace Context §3.2):
 * lower-case hex version (not ff), trace id and parent id (neither all
 * zeros) and flags; version 00 is exactly 55 bytes, a later version may
 * append fields after a '-'. */
int trace_parent_ok(const char *p, size_t n);

/* n random lower-case hex digits at out (no NUL). Unique, not secret. */
void trace_hex(char *out, size_t n);

/* A new request id (32 hex digits) in a. */
char *trace_request_id_new(struct arena *a);

/* The traceparent to send on (out: TRACE_PARENT_LEN + 1 bytes, NUL-terminated):
 * a valid in (n bytes; NULL or invalid starts a new sampled trace) continued
 * with a new parent id, our span. */
void trace_parent_next(const char *in, size_t n, char out[TRACE_PARENT_LEN + 1]);

/* The trace id of a valid traceparent into out (NUL-terminated); 0 and out
 * untouched when tp (n bytes) is not valid. */
int trace_id(const char *tp, size_t n, char out[TRACE_ID_LEN + 1]);

#endif
