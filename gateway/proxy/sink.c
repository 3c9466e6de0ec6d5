/*
 * sink.c - writing to one stream without copying in the common case. Views
 * (the loop's read buffer, a rendered head) are gathered, then offered to
 * the kernel with one uv_try_write; only the bytes it does not take are
 * copied into a queued uv_write (pinned views, a static file, are pointed
 * at instead, their owner held until the write is done). The owner stops reading the other side
 * while anything is queued (sink_busy), so each direction holds at most one
 * read buffer's worth: that is the backpressure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

struct swrite {
    uv_write_t   w;
    struct sink *s;
    size_t       len;
    void        *pin; /* held while the write points into it; NULL when none */
    void (*pin_drop)(void *pin);
    char data[];
};

void
sink_init(struct sink *s, uv_stream_t *stream, sink_fn *drained, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->stream = stream;
    s->drained = drained;
    s->ctx = ctx;
}

void
sink_add(struct sink *s, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (s->niov == GW_SINK_IOV)
        (void)sink_flush(s); /* a failure is sticky: the owner sees it at its flush */
    s->iov[s->niov++] = uv_buf_init((char *)p, (unsigned)n);
    s->batch += n;
}

void
sink_add_pinned(struct sink *s, const void *p, size_t n, void *pin, void (*hold)(void *),
                void (*drop)(void *))
{
    if (n == 0)
        return;
    if (s->niov == GW_SINK_IOV || (s->pin != NULL && s->pin != pin))
        (void)sink_flush(s);
    s->pin = pin;
    s->pin_hold = hold;
    s->pin_drop = drop;
    s->pinned[s->niov] = 1;
    sink_add(s, p, n);
}

void
sink_chunk(struct sink *s, const void *p, size_t n)
{
    int len;

    if (s->niov + 3 > GW_SINK_IOV || s->nframe == GW_SINK_IOV)
        (void)sink_flush(s);
    len = snprintf(s->frame[s->nframe], sizeof(s->frame[0]), "%zx\r\n", n);
    sink_add(s, s->frame[s->nframe++], (size_t)len);
    sink_add(s, p, n);
    sink_add(s, "\r\n", 2);
}

static void
on_write(uv_write_t *w, int status)
{
    struct swrite *sw = w->data;
    struct sink   *s = sw->s;

    s->queued -= sw->len;
    if (sw->pin != NULL)
        sw->pin_drop(sw->pin);
    free(sw);
    if (status < 0)
        s->failed = 1;
    if (status < 0 || s->queued == 0)
        s->drained(s->ctx, status);
}

static void
batch_reset(struct sink *s)
{
    memset(s->pinned, 0, sizeof(s->pinned));
    s->pin = NULL;
    s->niov = 0;
    s->nframe = 0;
    s->batch = 0;
}

/* Queue the bytes of the batch from offset skip on: the views die when the
 * caller returns to the loop, so they are copied, except pinned ones (a
 * static file, up to 16 MiB), which the write points at while it holds
 * their pin. */
static int
queue_rest(struct sink *s, size_t skip)
{
    struct swrite *sw;
    uv_buf_t       b[GW_SINK_IOV];
    size_t         copy = 0, off = 0, total = 0, n;
    int            i, nb = 0, pinned = 0;

    for (i = 0, n = skip; i < s->niov; i++) {
        if (n >= s->iov[i].len) {
            n -= s->iov[i].len;
            continue;
        }
        if (s->pinned[i])
            pinned = 1;
        else
            copy += s->iov[i].len - n;
        n = 0;
    }
    sw = malloc(sizeof(*sw) + copy);
    if (sw == NULL)
        return -1;
    for (i = 0; i < s->niov; i++) {
        n = s->iov[i].len;
        if (skip >= n) {
            skip -= n;
            continue;
        }
        if (s->pinned[i]) {
            b[nb++] = uv_buf_init(s->iov[i].base + skip, (unsigned)(n - skip));
        } else {
            memcpy(sw->data + off, s->iov[i].base + skip, n - skip);
            b[nb++] = uv_buf_init(sw->data + off, (unsigned)(n - skip));
            off += n - skip;
        }
        total += n - skip;
        skip = 0;
    }
    sw->s = s;
    sw->len = total;
    sw->pin = NULL;
    sw->w.data = sw;
    if (pinned) {
        s->pin_hold(s->pin);
        sw->pin = s->pin;
        sw->pin_drop = s->pin_drop;
    }
    if (uv_write(&sw->w, s->stream, b, (unsigned)nb, on_write) != 0) {
        if (sw->pin != NULL)
            sw->pin_drop(sw->pin);
        free(sw);
        return -1;
    }
    s->queued += total;
    return 0;
}

int
sink_flush(struct sink *s)
{
    size_t done = 0;
    int    r;

    if (s->failed) {
        batch_reset(s);
        return -1;
    }
    if (s->niov == 0)
        return 0;
    /* Bytes already queued go first: only an empty queue may try directly. */
    if (s->queued == 0) {
        r = uv_try_write(s->stream, s->iov, (unsigned)s->niov);
        if (r >= 0)
            done = (size_t)r;
        else if (r != UV_EAGAIN)
            s->failed = 1;
    }
    if (!s->failed && done < s->batch && queue_rest(s, done) != 0)
        s->failed = 1;
    batch_reset(s);
    return s->failed ? -1 : 0;
}
