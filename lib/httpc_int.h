/*
 * httpc_int.h - what httpc.c (sockets, exchange) and httpc_text.c (URL and
 * request text) share. Private to lib/.
 */
#ifndef SOUK_HTTPC_INT_H
#define SOUK_HTTPC_INT_H

#include <stddef.h>

#include "httpc.h"

#define HTTPC_HOST_MAX 264 /* "host:port" */

struct arena;

/* A parsed url. */
struct target {
    char        hostport[HTTPC_HOST_MAX]; /* what to connect to; the cache key */
    const char *host;                     /* the authority as written, for Host: */
    size_t      host_len;
    const char *path; /* after the authority, up to '#'; may be "" or start with '?' */
    size_t      path_len;
};

/* "http://host[:port][/path][?query][#frag]" into t; ERR_INVALID if not one. */
int httpc_target_parse(const char *url, struct target *t);
/* What a request sends besides rq: the method (NULL = GET), a JSON body
 * (NULL = none) and an Authorization value (NULL = none). */
struct httpc_extra {
    const char *method, *body, *authorization;
};

/* The request head for t in a (and the body, if any), with rq's request id
 * and traceparent and the Authorization value, each only when safe on a
 * header line. */
char *httpc_request_text(struct arena *a, const struct httpc_req *rq, const struct httpc_extra *x,
                         const struct target *t);

#endif
