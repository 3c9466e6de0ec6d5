/*
 * resp.h - rendering the status line and headers of a settled answer
 * (server side only; handlers never call this).
 */
#ifndef SOUK_RESP_H
#define SOUK_RESP_H

struct req;

/* Render the head of r's answer into its private state; "Connection: close"
 * when close, "Connection: keep-alive" for a kept HTTP/1.0 client. Extra
 * headers that would exceed the head's bound are dropped (logged). */
void resp_render_head(struct req *r, int close);

#endif
