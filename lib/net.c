/*
 * net.c - "host:port" parsing, listening sockets and loop teardown, shared
 * by server.c and the gateway so both bind and close the same way.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

int
net_parse_hostport(const char *hostport, int passive, struct sockaddr_storage *ss, socklen_t *len)
{
    const char     *colon = hostport != NULL ? strrchr(hostport, ':') : NULL;
    char            host[256];
    size_t          n;
    struct addrinfo hints, *res = NULL;
    int             rc;

    if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
        return ERR_INVALID;
    n = (size_t)(colon - hostport);
    memcpy(host, hostport, n);
    host[n] = '\0';
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') { /* getaddrinfo wants bare v6 */
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    rc = getaddrinfo(host[0] != '\0' ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0 || res == NULL)
        return ERR_INVALID;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return ERR_OK;
}

int
net_listen_fd(const struct sockaddr_storage *ss, socklen_t len, int reuseport, int *fd)
{
    int one = 1, s, saved;

    *fd = -1;
    s = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return ERR_UNAVAILABLE;
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuseport && setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(s, (const struct sockaddr *)ss, len) != 0 || listen(s, NET_LISTEN_BACKLOG) != 0) {
        saved = errno; /* close may clobber the reason the caller reports */
        close(s);
        errno = saved;
        return ERR_UNAVAILABLE;
    }
    *fd = s;
    return ERR_OK;
}

static void
close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void
net_uv_close_handles(uv_loop_t *loop)
{
    uv_walk(loop, close_walk, NULL);
}

void
net_uv_close_all(uv_loop_t *loop)
{
    net_uv_close_handles(loop);
    uv_run(loop, UV_RUN_DEFAULT);
}
