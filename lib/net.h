/*
 * net.h - the socket plumbing the servers share: "host:port" parsing, one
 * listening socket made by hand (libuv 1.44 has no UV_TCP_REUSEPORT), and
 * closing everything a libuv loop still holds.
 */
#ifndef SOUK_NET_H
#define SOUK_NET_H

#include <sys/socket.h>
#include <uv.h>

#include "err.h"

#define NET_LISTEN_BACKLOG 1024

/* Resolve "host:port" ("[v6]:port", ":port" for every address; the port is
 * numeric) into *ss and *len, the first address getaddrinfo gives. passive
 * asks for a bindable address (AI_PASSIVE). Returns ERR_INVALID when the
 * text has no port, the host is too long, or it does not resolve. */
MUST_CHECK int net_parse_hostport(const char *hostport, int passive, struct sockaddr_storage *ss,
                                  socklen_t *len);

/* A non-blocking, close-on-exec TCP socket with SO_REUSEADDR (and
 * SO_REUSEPORT when reuseport is set, to join a group of loops), bound to ss
 * and listening. The caller owns *fd. Returns ERR_UNAVAILABLE with errno
 * kept from the failing call (the caller logs it with its own context). */
MUST_CHECK int net_listen_fd(const struct sockaddr_storage *ss, socklen_t len, int reuseport,
                             int *fd);

/* Close every handle of loop not already closing; the callbacks run on the
 * loop's next turn. Safe from inside a running loop. */
void net_uv_close_handles(uv_loop_t *loop);
/* net_uv_close_handles, then run loop until the closes are done: only for a
 * loop that never ran or has exited. */
void net_uv_close_all(uv_loop_t *loop);

#endif
