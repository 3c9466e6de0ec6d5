/*
 * bounds.h - every size and time bound at the edge, named together.
 * Exceeding a size gives ERR_TOO_LARGE / ERR_HEADERS_TOO_LARGE / ERR_URI_TOO_LONG;
 * the timeouts cut slow clients off (slowloris).
 */
#ifndef SOUK_BOUNDS_H
#define SOUK_BOUNDS_H

#define LIMIT_REQUEST_LINE   8192       /* method + target + version → 414 */
#define LIMIT_HEADER_BYTES   16384      /* all header lines together → 431 */
#define LIMIT_HEADER_COUNT   64         /* → 431 */
#define LIMIT_BODY_DEFAULT   (1 << 20)  /* per route override in struct route → 413 */
#define LIMIT_RESPONSE_BYTES (64 << 20) /* a handler's reply buffer */
#define LIMIT_PAGE_SIZE      100        /* max ?limit= of list endpoints */
#define LIMIT_PAGE_INDEX     1000000    /* max ?page= of v1 list endpoints */
#define LIMIT_PIPELINE_DEPTH 32         /* parsed-but-unanswered requests per connection */
/* orders' admin feed (GET /api/v2/admin/order-events): a page stops before
 * this many bytes of envelopes (one event always goes, whatever its size);
 * history's replay takes a page as its body, so its bound is twice this */
#define LIMIT_FEED_PAGE_BYTES (8 << 20)

#define LIMIT_HEADER_TIMEOUT_MS 10000 /* first byte to end of headers */
#define LIMIT_BODY_TIMEOUT_MS   30000 /* end of headers to end of body */
#define LIMIT_IDLE_TIMEOUT_MS   60000 /* keep-alive between requests */
#define LIMIT_DRAIN_TIMEOUT_MS  10000 /* SIGTERM: wait for in-flight requests */

#endif
