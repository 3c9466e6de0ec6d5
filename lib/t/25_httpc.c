/*
 * 25_httpc.c - lib/httpc against a canned HTTP server on a thread of this
 * process (varnishtest-style: each path answers fixed bytes, late, or never):
 * Content-Length, chunked and close-delimited bodies, keep-alive reuse, a
 * stale kept-alive connection, forwarded X-Request-Id, caps, malformed and
 * truncated answers, a refused port, a silent server and a full backlog.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "httpc.h"
#include "t.h"

static atomic_int srv_accepts, srv_stop;

static int
listen_on(int backlog, int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t          len = sizeof(sa);
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        perror("listen_on");
        exit(1);
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static void
put(int fd, const char *p, size_t n)
{
    ssize_t k;

    while (n > 0) {
        k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

static void
puts_fd(int fd, const char *z)
{
    put(fd, z, strlen(z));
}

/* One request head into buf (NUL-terminated); 0 when the peer closed or the
 * test is over. */
static int
read_head(int fd, char *buf, size_t cap)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    size_t        n = 0;
    ssize_t       k;

    while (!atomic_load(&srv_stop)) {
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k <= 0)
            return 0;
        n += (size_t)k;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            return 1;
        if (n + 1 >= cap)
            return 0;
    }
    return 0;
}

/* The X-Request-Id the client sent, or "-". */
static void
reply_reqid(int fd, const char *head)
{
    const char *p = strstr(head, "\r\nX-Request-Id: ");
    char        out[512];
    size_t      n = 1;

    if (p != NULL) {
        p += 16;
        n = strcspn(p, "\r");
    } else {
        p = "-";
    }
    snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%.*s", n, (int)n, p);
    puts_fd(fd, out);
}

/* "METHOD|Content-Type|body" of a small request (its body came with the
 * head, in read_head's buffer). */
static void
reply_echo(int fd, const char *head)
{
    const char *body = strstr(head, "\r\n\r\n") + 4;
    const char *ct = strstr(head, "\r\nContent-Type: ");
    char        out[1024], text[700];
    int         n;

    n = snprintf(text, sizeof(text), "%.*s|%.*s|%s", (int)strcspn(head, " "), head,
                 ct != NULL ? (int)strcspn(ct + 16, "\r") : 1, ct != NULL ? ct + 16 : "-", body);
    snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", n, text);
    puts_fd(fd, out);
}

static void
reply_bigchunked(int fd)
{
    static char chunk[65536];
    int         i;

    memset(chunk, 'x', sizeof(chunk));
    puts_fd(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (i = 0; i < 32; i++) {
        puts_fd(fd, "10000\r\n");
        put(fd, chunk, sizeof(chunk));
        puts_fd(fd, "\r\n");
    }
    puts_fd(fd, "0\r\n\r\n");
}

/* Answer one request; 0 closes the connection. */
static int
answer(int fd, const char *head, int *served)
{
    static const struct {
        const char *path, *bytes;
        int         keep;
    } canned[] = {
        {"/cl ",
         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n"
         "{\"a\":\"cl\"}",
         1},
        {"/chunked ",
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n8\r\n:\"chunk\"\r\n"
         "1\r\n}\r\n0\r\n\r\n",
         1},
        {"/close ", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 0},
        {"/eof ", "HTTP/1.1 200 OK\r\n\r\nno-length-body", 0},
        {"/404 ",
         "HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json\r\n"
         "Content-Length: 2\r\n\r\n{}",
         1},
        {"/big ", "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\nxxxx", 0},
        {"/garbage ", "HTPP/9 what\r\n\r\n", 0},
        {"/short ", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-a-few", 0},
        {"/extra ", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", 1},
    };
    const char *path = strchr(head, ' ');
    size_t      i;

    if (path == NULL)
        return 0;
    path++;
    (*served)++;
    if (strncmp(path, "/silent ", 8) == 0)
        return 1; /* never answered: wait for the next request or the close */
    if (strncmp(path, "/reqid ", 7) == 0) {
        reply_reqid(fd, head);
        return 1;
    }
    if (strncmp(path, "/echo ", 6) == 0) {
        reply_echo(fd, head);
        return 1;
    }
    if (strncmp(path, "/bigchunked ", 12) == 0) {
        reply_bigchunked(fd);
        return 0;
    }
    /* Answers once, then closes the connection on the next request without
     * answering it: a kept-alive connection gone stale under the client. */
    if (strncmp(path, "/once ", 6) == 0) {
        if (*served > 1)
            return 0;
        puts_fd(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nonce");
        return 1;
    }
    for (i = 0; i < sizeof(canned) / sizeof(canned[0]); i++)
        if (strncmp(path, canned[i].path, strlen(canned[i].path)) == 0) {
            puts_fd(fd, canned[i].bytes);
            return canned[i].keep;
        }
    puts_fd(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return 1;
}

static void *
conn_main(void *arg)
{
    int  fd = (int)(intptr_t)arg, served = 0;
    char head[8192];

    while (read_head(fd, head, sizeof(head)) && answer(fd, head, &served))
        ;
    close(fd);
    return NULL;
}

static void *
srv_main(void *arg)
{
    int           lfd = (int)(intptr_t)arg, fd;
    struct pollfd pfd = {lfd, POLLIN, 0};
    pthread_t     th;

    while (!atomic_load(&srv_stop)) {
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&srv_accepts, 1);
        if (pthread_create(&th, NULL, conn_main, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(th);
    }
    close(lfd);
    return NULL;
}

static int64_t
ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char base[64];

static int
get(struct httpc *c, struct arena *a, const char *path, int timeout_ms, struct httpc_resp **out)
{
    return httpc_get(c, a, arena_printf(a, "%s%s", base, path), timeout_ms, out);
}

static void
test_bodies(struct httpc *c, struct arena *a)
{
    struct httpc_resp *res = NULL;
    int                rc, i;

    rc = get(c, a, "/cl", 1000, &res);
    T_EQ_INT(rc, ERR_OK, "content-length: ok (%s)", httpc_error(c));
    if (rc)
        return;
    T_EQ_INT(res->status, 200, "content-length: status 200");
    T_EQ_STR(res->body, "{\"a\":\"cl\"}", "content-length: the body");
    T_EQ_INT(res->len, 10, "content-length: its length");
    T_EQ_STR(httpc_resp_header(res, "content-type"), "application/json",
             "content-length: a header, looked up case-insensitively");
    T_OK(httpc_resp_header(res, "X-Nope") == NULL, "content-length: an absent header is NULL");
    for (i = 0; i < 3; i++) {
        rc = get(c, a, "/cl", 1000, &res);
        T_EQ_INT(rc, ERR_OK, "keep-alive: request %d ok", i + 2);
    }
    rc = get(c, a, "/chunked", 1000, &res);
    T_EQ_INT(rc, ERR_OK, "chunked: ok (%s)", httpc_error(c));
    if (rc == ERR_OK)
        T_EQ_STR(res->body, "{\"a\":\"chunk\"}", "chunked: the framing is removed");
    T_EQ_INT(httpc_connects(c), 1, "keep-alive: five requests on one connection");
    T_EQ_INT(atomic_load(&srv_accepts), 1, "keep-alive: the server accepted once");
    rc = get(c, a, "/404", 1000, &res);
    T_EQ_INT(rc, ERR_OK, "404: a status is not an error");
    if (rc == ERR_OK)
        T_EQ_INT(res->status, 404, "404: the status");
    rc = get(c, a, "/close", 1000, &res);
    T_EQ_INT(rc == ERR_OK ? res->status : rc, 200, "connection: close: ok");
    rc = get(c, a, "/cl", 1000, &res);
    T_EQ_INT(rc, ERR_OK, "after connection: close: ok");
    T_EQ_INT(httpc_connects(c), 2, "after connection: close: a new connection");
    rc = get(c, a, "/eof", 1000, &res);
    T_EQ_INT(rc, ERR_OK, "close-delimited body: ok (%s)", httpc_error(c));
    if (rc == ERR_OK)
        T_EQ_STR(res->body, "no-length-body", "close-delimited body: read to the end");
}

static void
test_reuse(struct httpc *c, struct arena *a)
{
    struct httpc_resp *res = NULL;
    uint64_t           before;
    int                rc;

    rc = get(c, a, "/once", 1000, &res);
    T_EQ_INT(rc, ERR_OK, "stale: first answer ok");
    before = httpc_connects(c);
    rc = get(c, a, "/once", 1000, &res);
    T_EQ_INT(rc, ERR_OK, "stale: a connection closed under the client is retried (%s)",
             httpc_error(c));
    if (rc == ERR_OK)
        T_EQ_STR(res->body, "once", "stale: answered on a fresh connection");
    T_EQ_INT(httpc_connects(c), before + 1, "stale: exactly one new connection");
    rc = get(c, a, "/extra", 1000, &res);
    T_EQ_INT(rc, ERR_OK, "extra bytes: the response is fine");
    before = httpc_connects(c);
    rc = get(c, a, "/cl", 1000, &res);
    T_EQ_INT(httpc_connects(c), before + 1, "extra bytes: that connection is not reused");
}

static void
test_forward(struct httpc *c, struct arena *a)
{
    struct httpc_resp *res = NULL;
    int                rc;

    rc = httpc_request(c, a,
                       &(struct httpc_req){arena_printf(a, "%s/reqid", base), 1000, "req-42.abc",
                                           "00-0af7651916cd43dd8448eb211c80319c-"
                                           "b7ad6b7169203331-01"},
                       &res);
    T_EQ_INT(rc, ERR_OK, "x-request-id: ok");
    if (rc == ERR_OK)
        T_EQ_STR(res->body, "req-42.abc", "x-request-id: forwarded");
    rc = httpc_request(
        c, a, &(struct httpc_req){arena_printf(a, "%s/reqid", base), 1000, "a\r\nX-Evil: 1", NULL},
        &res);
    T_EQ_INT(rc, ERR_OK, "x-request-id with CR LF: ok");
    if (rc == ERR_OK)
        T_EQ_STR(res->body, "-", "x-request-id with CR LF: not forwarded (no header injection)");
    rc = get(c, a, "/reqid", 1000, &res);
    if (rc == ERR_OK)
        T_EQ_STR(res->body, "-", "httpc_get: no X-Request-Id");
}

/* httpc_send: a write with a JSON body, on a connection of its own. */
static void
test_send(struct httpc *c, struct arena *a)
{
    struct httpc_resp *res = NULL;
    uint64_t           before;
    int                rc;

    rc = get(c, a, "/cl", 1000, &res); /* leaves an idle kept-alive connection */
    T_EQ_INT(rc, ERR_OK, "send: a GET first");
    before = httpc_connects(c);
    rc = httpc_send(c, a, "PATCH", arena_printf(a, "%s/echo", base), 1000, "Bearer t",
                    "{\"hold\":true}", &res);
    T_EQ_INT(rc, ERR_OK, "send: PATCH answered");
    if (rc == ERR_OK)
        T_EQ_STR(res->body, "PATCH|application/json|{\"hold\":true}",
                 "send: the method, the content type and the body arrive");
    T_EQ_INT(httpc_connects(c), before + 1,
             "send: a write takes a new connection, never an idle one");
    rc = httpc_send(c, a, "DELETE", arena_printf(a, "%s/echo", base), 1000, NULL, NULL, &res);
    if (rc == ERR_OK)
        T_EQ_STR(res->body, "DELETE|-|", "send: no body, no content type");
    rc = httpc_send(c, a, "PA TCH", arena_printf(a, "%s/echo", base), 1000, NULL, "{}", &res);
    T_EQ_INT(rc, ERR_INVALID, "send: a malformed method is refused before anything is sent");
    rc = httpc_send(c, a, "POST", arena_printf(a, "%s/once", base), 1000, NULL, "{}", &res);
    T_EQ_INT(rc, ERR_OK, "send: POST to a path that answers once");
    rc = httpc_send(c, a, "POST", arena_printf(a, "%s/once", base), 1000, NULL, "{}", &res);
    T_EQ_INT(rc, ERR_OK, "send: ...again, on a fresh connection, answered again");
}

static void
test_failures(struct httpc *c, struct arena *a)
{
    static const struct {
        const char *path;
        int         want;
    } rows[] = {
        {"/big", ERR_TOO_LARGE},
        {"/bigchunked", ERR_TOO_LARGE},
        {"/garbage", ERR_UPSTREAM},
        {"/short", ERR_UPSTREAM},
        {"/cl", ERR_OK},
    };
    struct httpc_resp *res = NULL;
    size_t             i;
    int                rc;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        rc = get(c, a, rows[i].path, 2000, &res);
        T_EQ_INT(rc, rows[i].want, "failure: %s (%s)", rows[i].path, httpc_error(c));
    }
}

static void
test_urls(struct httpc *c, struct arena *a)
{
    static const char *bad[] = {
        "https://127.0.0.1/", "ftp://127.0.0.1/", "http://",
        "http:///x",          "http://a b/",      "http://user@127.0.0.1/",
        "http://[::1/",       "127.0.0.1:80/",    "http://h\r\nX: 1/",
    };
    struct httpc_resp *res = NULL;
    size_t             i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        T_EQ_INT(httpc_get(c, a, bad[i], 100, &res), ERR_INVALID, "url %zu is refused", i);
    T_EQ_INT(httpc_get(c, a, NULL, 100, &res), ERR_INVALID, "a NULL url is refused");
    T_EQ_INT(get(c, a, "/cl", 0, &res), ERR_INVALID, "a zero timeout is refused");
}

static void
test_down(struct arena *a)
{
    struct httpc      *c = httpc_new(0);
    struct httpc_resp *res = NULL;
    int64_t            t0, ms;
    int                port, fd, fill[3], i, rc;

    fd = listen_on(1, &port);
    close(fd); /* nothing listens there now */
    t0 = ms_now();
    rc = httpc_get(c, a, arena_printf(a, "http://127.0.0.1:%d/x", port), 1000, &res);
    T_EQ_INT(rc, ERR_UNAVAILABLE, "refused port: unavailable (%s)", httpc_error(c));
    T_OK(ms_now() - t0 < 500, "refused port: at once");

    t0 = ms_now();
    rc = get(c, a, "/silent", 300, &res);
    ms = ms_now() - t0;
    T_EQ_INT(rc, ERR_TIMEOUT, "silent server: timeout (%s)", httpc_error(c));
    T_OK(ms >= 290 && ms < 800, "silent server: within the bound (%lld ms)", (long long)ms);

    /* A listener whose accept queue is full drops SYNs: connect hangs. */
    fd = listen_on(0, &port);
    for (i = 0; i < 3; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    usleep(50000);
    t0 = ms_now();
    rc = httpc_get(c, a, arena_printf(a, "http://127.0.0.1:%d/x", port), 300, &res);
    ms = ms_now() - t0;
    T_EQ_INT(rc, ERR_TIMEOUT, "full backlog: connect times out (%s)", httpc_error(c));
    T_OK(ms < 800, "full backlog: within the bound (%lld ms)", (long long)ms);
    for (i = 0; i < 3; i++)
        close(fill[i]);
    close(fd);
    httpc_free(c);
}

int
main(void)
{
    struct arena *a = arena_create();
    struct httpc *c = httpc_new(1 << 20);
    pthread_t     th;
    int           lfd, port;

    lfd = listen_on(64, &port);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    if (pthread_create(&th, NULL, srv_main, (void *)(intptr_t)lfd) != 0)
        return 1;
    test_bodies(c, a);
    test_reuse(c, a);
    test_forward(c, a);
    test_send(c, a);
    test_failures(c, a);
    test_urls(c, a);
    test_down(a);
    httpc_free(c);
    atomic_store(&srv_stop, 1);
    pthread_join(th, NULL);
    usleep(100000); /* connection threads see srv_stop */
    arena_destroy(a);
    return T_DONE();
}
