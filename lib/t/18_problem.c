/*
 * 18_problem.c - problem+json rendering (req_finish) for every row of the
 * ERR_MAP table, the programmer-error cases, and the status line and
 * headers (req_render_head). Drives req.c without a server, and
 * problem_render (the gateway's renderer too) directly.
 */
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "conn.h"
#include "log.h"
#include "problem.h"
#include "req.h"
#include "resp.h"
#include "t.h"

static struct req *
req_new(const char *path)
{
    struct arena     *a = arena_create();
    struct req_state *st = arena_new(a, struct req_state);

    st->req.arena = a;
    st->req.st = st;
    st->req.method = "GET";
    st->req.path = path;
    st->req.request_id = "rid-1";
    buf_init(&st->body, 0);
    return &st->req;
}

static void
decref(void *p)
{
    json_decref(p);
}

/* The body as JSON (NULL if it does not parse), released with the arena. */
static json_t *
body_json(struct req *r)
{
    json_t *j = json_loadb(r->st->out, r->st->out_len, JSON_REJECT_DUPLICATES, NULL);

    if (j != NULL)
        arena_defer(r->arena, decref, j);
    return j;
}

static const char *
jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* 1 when the keys appear in the body text in RFC 9457 order. */
static int
keys_in_order(struct req *r)
{
    static const char *const keys[] = {"\"type\"",   "\"title\"",    "\"status\"",
                                       "\"detail\"", "\"instance\"", "\"request_id\""};
    const char              *p = r->st->out, *q;
    size_t                   i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        q = strstr(p, keys[i]);
        if (q == NULL)
            return 0;
        p = q;
    }
    return 1;
}

static void
test_table(void)
{
    struct req *r;
    json_t     *j;
    char        type[128], detail[32];
    int         e, rc;

    for (e = 1; e < ERR__COUNT; e++) {
        r = req_new("/api/v1/things/7");
        rc = req_fail(r, e, "detail for %d", e);
        req_finish(r, rc);
        j = body_json(r);
        snprintf(type, sizeof(type), "%s%s", ERR_TYPE_BASE, err_type(e));
        snprintf(detail, sizeof(detail), "detail for %d", e);
        T_EQ_INT(r->st->status, err_status(e), "%s: status", err_name(e));
        T_EQ_STR(r->st->ctype, "application/problem+json", "%s: content type", err_name(e));
        T_OK(j != NULL, "%s: body is json", err_name(e));
        T_EQ_STR(jstr(j, "type"), type, "%s: type", err_name(e));
        T_EQ_STR(jstr(j, "title"), err_title(e), "%s: title", err_name(e));
        T_EQ_INT(json_integer_value(json_object_get(j, "status")), err_status(e), "%s: body status",
                 err_name(e));
        T_EQ_STR(jstr(j, "detail"), err_status(e) == 500 ? "internal error" : detail, "%s: detail",
                 err_name(e));
        T_EQ_STR(jstr(j, "instance"), "/api/v1/things/7", "%s: instance", err_name(e));
        T_EQ_STR(jstr(j, "request_id"), "rid-1", "%s: request_id", err_name(e));
        T_OK(keys_in_order(r), "%s: keys in order", err_name(e));
        arena_destroy(r->arena);
    }
}

static void
test_cases(void)
{
    struct req *r;
    json_t     *j;

    r = req_new("/x");
    req_finish(r, ERR_NOT_FOUND);
    j = body_json(r);
    T_EQ_STR(jstr(j, "detail"), "not found", "no detail: the title, lower-cased");
    arena_destroy(r->arena);

    r = req_new("/x");
    req_finish(r, ERR_OK);
    j = body_json(r);
    T_EQ_INT(r->st->status, 500, "ERR_OK without a reply is a 500");
    T_EQ_STR(jstr(j, "type"), ERR_TYPE_BASE "internal", "... of type internal");
    arena_destroy(r->arena);

    r = req_new("/x");
    (void)req_reply(r, 202, json_pack("{s:i}", "a", 1));
    req_finish(r, ERR_CONFLICT);
    T_EQ_INT(r->st->status, 202, "a reply, then a failure: the reply stands");
    arena_destroy(r->arena);

    r = req_new("/x");
    req_finish(r, 9999);
    j = body_json(r);
    T_EQ_INT(r->st->status, 500, "an unknown code is a 500");
    T_EQ_STR(jstr(j, "type"), ERR_TYPE_BASE "internal", "... of type internal");
    arena_destroy(r->arena);

    r = req_new("/bad\xff\xfe/path");
    req_finish(r, req_fail(r, ERR_INVALID, "bad byte \xc3 here"));
    j = body_json(r);
    T_OK(j != NULL, "invalid UTF-8 in path and detail still gives valid json");
    T_EQ_STR(jstr(j, "detail"), "bad byte \xef\xbf\xbd here", "invalid UTF-8 becomes U+FFFD");
    arena_destroy(r->arena);

    r = req_new("");
    req_finish(r, ERR_REQ_TIMEOUT);
    j = body_json(r);
    T_OK(j != NULL && json_object_get(j, "instance") == NULL, "no instance when no path");
    arena_destroy(r->arena);
}

static int
has(struct req *r, const char *text)
{
    return strstr(buf_data(&r->st->head), text) != NULL;
}

static void
test_head(void)
{
    struct req *r;

    r = req_new("/x");
    req_finish(r, req_fail(r, ERR_UNAUTHORIZED, "missing bearer token"));
    resp_render_head(r, 0);
    T_OK(has(r, "HTTP/1.1 401 Unauthorized\r\n"), "401 status line");
    T_OK(has(r, "\r\nWWW-Authenticate: Bearer"), "401 carries WWW-Authenticate");
    T_OK(has(r, "\r\nX-Request-Id: rid-1\r\n"), "X-Request-Id");
    T_OK(has(r, "\r\nDate: "), "Date");
    T_OK(!has(r, "Connection:"), "HTTP/1.1 keep-alive says nothing");
    arena_destroy(r->arena);

    r = req_new("/x");
    (void)req_reply_bytes(r, 200, "text/plain", "hello", 5);
    req_set_header(r, "X-Evil", "a\r\nSet-Cookie: b");
    req_finish(r, ERR_OK);
    resp_render_head(r, 1);
    T_OK(has(r, "\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"), "type and length");
    T_OK(has(r, "\r\nConnection: close\r\n\r\n"), "Connection: close ends the head");
    T_OK(has(r, "\r\nX-Evil: a  Set-Cookie: b\r\n"), "CR/LF in a header value are blanked");
    arena_destroy(r->arena);

    r = req_new("/x");
    r->st->http10 = 1;
    (void)req_reply(r, 204, NULL);
    req_finish(r, ERR_OK);
    resp_render_head(r, 0);
    T_OK(has(r, "HTTP/1.1 204 No Content\r\n"), "204 status line");
    T_OK(!has(r, "Content-Length"), "204 has no Content-Length");
    T_OK(has(r, "\r\nConnection: keep-alive\r\n"), "HTTP/1.0 keep-alive is said");
    arena_destroy(r->arena);

    r = req_new("/x");
    req_finish(r, req_fail(r, ERR_METHOD, "nope"));
    T_EQ_STR(r->st->ctype, "application/problem+json", "405 is a problem too");
    arena_destroy(r->arena);
}

/* What the gateway passes: no instance before a head, extra members, request
 * bytes that must be escaped. */
static void
test_render(void)
{
    struct buf b;

    buf_init(&b, 4096);
    problem_render(&b, ERR_TOO_MANY, "slow down", "/a\"b?x", 4, "rid-9", "\"retry_after\":3");
    T_EQ_STR(buf_data(&b),
             "{\"type\":\"" ERR_TYPE_BASE "too-many-requests\",\"title\":\"Too many requests\","
             "\"status\":429,\"detail\":\"slow down\",\"instance\":\"/a\\\"b\","
             "\"request_id\":\"rid-9\",\"retry_after\":3}",
             "problem_render: every member, instance cut at its length and escaped");
    buf_reset(&b);
    problem_render(&b, ERR_INVALID, "bad \x01", NULL, 0, NULL, NULL);
    T_EQ_STR(buf_data(&b),
             "{\"type\":\"" ERR_TYPE_BASE "invalid-request\",\"title\":\"Invalid request\","
             "\"status\":400,\"detail\":\"bad \\u0001\"}",
             "problem_render: no instance, no request id, control byte escaped");
    buf_free(&b);
}

int
main(void)
{
    log_open("t", "off");
    test_table();
    test_cases();
    test_head();
    test_render();
    return T_DONE();
}
