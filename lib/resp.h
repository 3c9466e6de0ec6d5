/*
 * resp.h - rendering the status line and headers of a settled answer
 * (server side only; handlers never call this), and the reason phrases and
 * Date text the gateway's own heads share.
 */
#ifndef SOUK_RESP_H
#define SOUK_RESP_H

struct req;

/* Render the head of r's answer into its private state; "Connection: close"
 * when close, "Connection: keep-alive" for a kept HTTP/1.0 client. Extra
 * headers that would exceed the head's bound are dropped (logged). */
void resp_render_head(struct req *r, int close);

/* The reason phrase of an HTTP status ("Not Found"), "Unknown" for one not
 * in the table. A static string. */
const char *resp_reason(int status);
/* The Date header value now (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT").
 * The text is the calling thread's, formatted at most once a second, and
 * valid until its next call. */
const char *resp_date(void);

#endif
