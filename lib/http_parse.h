/*
 * http_parse.h - the one file that knows the HTTP/1.x request parser library
 * (http-parser 2.9 today). llhttp keeps the same callback model, so swapping
 * it means rewriting http_parse.c only. The connection code sees a request
 * as a stream of events through struct hp_events.
 */
#ifndef SOUK_HTTP_PARSE_H
#define SOUK_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct hp;

/* What is known when the header block is complete. */
struct hp_head {
    const char *method;         /* "GET" (static string) */
    int         http_minor;     /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    int         keep_alive;     /* the client allows another request after this one */
    int         chunked;        /* Transfer-Encoding: chunked */
    int         has_length;     /* a Content-Length header was given */
    uint64_t    content_length; /* valid when has_length */
};

/* Callbacks return 0 to go on, -1 to abort parsing (hp_feed returns HP_ABORTED).
 * Data callbacks may be called several times for one item (split reads).
 * For a response parser (hp_new_response), url is never called and head may
 * return 1: the response has no body whatever its headers say (it answers
 * a HEAD request). */
struct hp_events {
    int (*begin)(void *ctx); /* first byte of a request */
    int (*url)(void *ctx, const char *p, size_t n);
    int (*field)(void *ctx, const char *p, size_t n);
    int (*value)(void *ctx, const char *p, size_t n);
    int (*head)(void *ctx, const struct hp_head *h);
    int (*body)(void *ctx, const char *p, size_t n); /* decoded (chunked framing removed) */
    int (*done)(void *ctx);
};

enum hp_status {
    HP_OK,      /* every byte consumed */
    HP_PAUSED,  /* a callback called hp_pause; the rest is unparsed */
    HP_ABORTED, /* a callback returned -1 */
    HP_ERROR,   /* malformed request: see hp_error */
};

/* A parser for a stream of requests; free with hp_free. Never NULL (aborts on OOM). */
struct hp *hp_new(const struct hp_events *ev, void *ctx);
void       hp_free(struct hp *p);
/* A parser for a stream of responses (a proxy's upstream side), same events
 * and rules; hp_head.method is "" and keep_alive means the server keeps the
 * connection open. Never NULL. */
struct hp *hp_new_response(const struct hp_events *ev, void *ctx);

/* Parse n > 0 bytes; *used gets how many were consumed. */
enum hp_status hp_feed(struct hp *p, const char *data, size_t n, size_t *used);
/* From a callback: stop after the current event. hp_resume undoes it. */
void hp_pause(struct hp *p);
void hp_resume(struct hp *p);
/* Method of the request being parsed (valid from the url event on). */
const char *hp_method(const struct hp *p);
/* A short lower-case description of the last HP_ERROR. */
const char *hp_error(const struct hp *p);
/* Status code of the response being parsed (valid from the head event on). */
int hp_status_code(const struct hp *p);
/* The peer closed the stream: a response delimited by the close completes
 * (the done event runs). HP_OK at a message boundary or after that done
 * event; HP_ERROR when a message was cut short. */
enum hp_status hp_finish(struct hp *p);

#endif
