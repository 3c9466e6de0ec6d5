/*
 * buf.h - bounded growable byte buffer with a sticky error (varnish VSB,
 * curl dynbuf). Append freely; check once with buf_error. The bytes are
 * always NUL-terminated for convenience. The buffer owns its memory. A
 * caller's struct buf (buf_init) is freed by the caller with buf_free; a
 * buffer the arena frees is made in the arena (buf_new), so the struct can
 * never die before the arena's cleanup writes to it.
 */
#ifndef SOUK_BUF_H
#define SOUK_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct arena;

struct buf {
    char  *p;   /* read via buf_data */
    size_t len; /* read via buf_len */
    size_t cap;
    size_t max; /* appending past max sets err */
    int    err; /* sticky: ERR_OK or ERR_TOO_LARGE */
};

/* An empty buffer that refuses to grow past max bytes; the caller frees it
 * with buf_free. */
void buf_init(struct buf *b, size_t max);
/* Release the memory; b can be re-initialised. */
void buf_free(struct buf *b);
/* An empty buffer that refuses to grow past max bytes, its struct in a; the
 * bytes (malloc'd as it grows) are freed when a is reset or destroyed. */
struct buf *buf_new(struct arena *a, size_t max);
/* buf_init for a struct buf embedded in an object allocated from a, whose
 * bytes a frees at reset or destroy. Aborts if b is not in a's memory (a
 * stack or foreign struct would be gone when the cleanup runs). */
void buf_init_in(struct buf *b, struct arena *a, size_t max);
/* Drop the contents and clear the error, keeping the memory. */
void buf_reset(struct buf *b);

void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *z);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Append n bytes at z as a JSON string literal with quotes and escapes;
 * invalid UTF-8 becomes U+FFFD, so the result is always valid JSON. */
void buf_json_str(struct buf *b, const char *z, size_t n);

/* ERR_OK, or ERR_TOO_LARGE once any append overflowed max. */
MUST_CHECK int buf_error(const struct buf *b);
static inline const char *
buf_data(const struct buf *b)
{
    return b->p ? b->p : "";
}
static inline size_t
buf_len(const struct buf *b)
{
    return b->len;
}
/* Take ownership of the bytes (caller frees with free()); b becomes empty. */
char *buf_take(struct buf *b, size_t *len);

#endif
