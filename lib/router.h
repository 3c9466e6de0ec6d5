/*
 * router.h - percent-decoding shared by the router (server_route_match, in
 * router.c), req.c's query and path-parameter accessors, and mdb_dsn.c.
 */
#ifndef SOUK_ROUTER_H
#define SOUK_ROUTER_H

#include <stddef.h>

#include "err.h"

enum router_decode {
    ROUTER_STRICT = 0,    /* path: a bad escape or %00 is ERR_INVALID */
    ROUTER_FORM = 1 << 0, /* query: '+' is a space; a bad escape or %00 is kept as text */
};

/* Decode n bytes at p into out (room for n + 1 bytes; NUL-terminated);
 * *out_len gets the decoded length. ERR_INVALID only in ROUTER_STRICT mode. */
MUST_CHECK int router_decode(const char *p, size_t n, unsigned mode, char *out, size_t *out_len);

#endif
