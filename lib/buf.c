/*
 * buf.c - see buf.h. Growth doubles; the limit is enforced before any
 * allocation so a hostile length never reaches malloc.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->err = ERR_OK;
}

void
buf_free(struct buf *b)
{
    free(b->p);
    buf_init(b, b->max);
}

static void
free_buf(void *p)
{
    buf_free(p);
}

void
buf_init_in(struct buf *b, struct arena *a, size_t max)
{
    buf_init(b, max);
    arena_defer_owned(a, free_buf, b);
}

struct buf *
buf_new(struct arena *a, size_t max)
{
    struct buf *b = arena_new(a, struct buf);

    buf_init_in(b, a, max);
    return b;
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    b->err = ERR_OK;
    if (b->p)
        b->p[0] = '\0';
}

static int
reserve(struct buf *b, size_t n)
{
    size_t cap;
    char  *p;

    if (b->err)
        return 0;
    if (n > b->max || b->len > b->max - n) {
        b->err = ERR_TOO_LARGE;
        return 0;
    }
    if (b->len + n + 1 <= b->cap)
        return 1;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    p = realloc(b->p, cap);
    if (p == NULL) {
        fputs("souk: out of memory\n", stderr);
        abort();
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
    if (!reserve(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *z)
{
    buf_append(b, z, strlen(z));
}

void
buf_putc(struct buf *b, char c)
{
    buf_append(b, &c, 1);
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int     n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || !reserve(b, (size_t)n))
        return;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when the
 * bytes are not one (overlongs, surrogates and > U+10FFFF are invalid). */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
    size_t   len, i;
    uint32_t c;

    if (p[0] < 0x80)
        return 1;
    if (p[0] < 0xc2 || p[0] > 0xf4)
        return 0;
    len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
    if (len > n)
        return 0;
    c = p[0] & (0x7f >> len);
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
        (len == 4 && (c < 0x10000 || c > 0x10ffff)))
        return 0;
    return len;
}

/* Client bytes (paths, headers) reach logs and problem bodies through here,
 * so invalid UTF-8 becomes U+FFFD and the document always stays valid JSON. */
void
buf_json_str(struct buf *b, const char *z, size_t n)
{
    static const char    hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)z;
    size_t               i, len;

    buf_putc(b, '"');
    for (i = 0; i < n; i += len) {
        unsigned char c = p[i];

        len = utf8_len(p + i, n - i);
        if (len == 0) {
            buf_puts(b, "\ufffd");
            len = 1;
        } else if (len > 1) {
            buf_append(b, p + i, len);
        } else if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

            buf_append(b, esc, sizeof(esc));
        } else {
            buf_putc(b, (char)c);
        }
    }
    buf_putc(b, '"');
}

int
buf_error(const struct buf *b)
{
    return b->err;
}

char *
buf_take(struct buf *b, size_t *len)
{
    char *p = b->p;

    if (len)
        *len = b->len;
    buf_init(b, b->max);
    return p;
}
