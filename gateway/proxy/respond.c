/*
 * respond.c - an upstream's answer on its way to the client: the uconn
 * callbacks of an exchange. The head is rewritten (forward.c) and the body
 * streamed as the parser decodes it, re-chunked when the upstream did not
 * state a length; reading the upstream stops while the client has not taken
 * what was written (the sink's backpressure). A 5xx from the new pool in
 * mode new may still be replaced by legacy's answer, since nothing was sent.
 */
#include <string.h>

#include "gw.h"

static void
on_connected(void *owner)
{
    struct exch   *x = owner;
    struct client *c = x->c;

    if (x->finished)
        return;
    sink_add(&x->u->out, buf_data(&c->uhead), buf_len(&c->uhead));
    x->head_sent = 1;
    if (c->req_done) {
        upstream_expect(x->u, x->route->timeout_ms);
        client_phase(c, CP_WAIT);
    } else {
        client_stream(c, CP_BODY); /* parses the body bytes held while connecting */
    }
    proxy_flush(x);
}

static void
on_failed(void *owner, int err, int got_head)
{
    struct exch *x = owner;

    (void)got_head;
    if (!x->finished)
        proxy_attempt_failed(x, err);
}

static int
on_head(void *owner, int status, const struct hp_head *h)
{
    struct exch   *x = owner;
    struct client *c = x->c;
    int            close;

    if (status >= 500 && proxy_fallback(x, status))
        return -1;
    x->status = status;
    x->resp_started = 1;
    x->no_body = strcmp(c->hph.method, "HEAD") == 0 || status == 204 || status == 304;
    x->chunk_out = !x->no_body && !h->has_length && c->hph.http_minor > 0;
    /* HTTP/1.0 clients read an unframed body to the close; a request still
     * being read when its answer starts ends the connection too. */
    close = c->close_after || c->loop->draining || c->eof || !c->hph.keep_alive || !c->req_done ||
            (!x->no_body && !h->has_length && c->hph.http_minor == 0);
    if (close)
        c->close_after = 1;
    forward_response(x, status, h, close);
    sink_add(&c->out, buf_data(&c->ohead), buf_len(&c->ohead));
    c->bytes += buf_len(&c->ohead);
    if (x->mirror != NULL) {
        mirror_legacy_head(x->mirror, &x->u->rh);
        x->copy = mirror_body_buf(x->mirror);
    }
    return strcmp(c->hph.method, "HEAD") == 0 ? 1 : 0;
}

static void
on_body(void *owner, const char *p, size_t n)
{
    struct exch   *x = owner;
    struct client *c = x->c;

    if (x->chunk_out)
        sink_chunk(&c->out, p, n);
    else
        sink_add(&c->out, p, n);
    c->bytes += n;
    if (x->copy != NULL)
        buf_append(x->copy, p, n); /* bounded: an overflow is a shadow drop */
}

static void
on_done(void *owner)
{
    struct exch *x = owner;

    if (x->chunk_out)
        sink_add(&x->c->out, "0\r\n\r\n", 5);
    x->resp_done = 1;
}

static void
on_read_end(void *owner)
{
    struct exch   *x = owner;
    struct client *c = x->c;

    if (x->finished)
        return;
    if (sink_flush(&c->out) != 0) {
        proxy_abort(x, 0, NULL); /* the client is gone */
        return;
    }
    if (x->resp_done) {
        proxy_maybe_finish(x);
        return;
    }
    if (sink_busy(&c->out)) {
        upstream_pause(x->u); /* resumed by proxy_client_drained */
        client_write_wait(c);
    }
}

static void
on_drained(void *owner)
{
    struct exch *x = owner;

    if (!x->finished)
        client_resume(x->c);
}

const struct uconn_ops proxy_uconn_ops = {
    on_connected, on_failed, on_head, on_body, on_done, on_read_end, on_drained,
};
