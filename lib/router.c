/*
 * router.c - route matching over a struct route table (server_route_match,
 * declared in server.h) and percent-decoding. Templates are matched segment
 * by segment: a literal segment must equal the percent-decoded request
 * segment, "{name}" takes any non-empty segment. Nothing here allocates.
 */
#include <string.h>

#include "router.h"
#include "server.h"
#include "str.h"

int
router_decode(const char *p, size_t n, unsigned mode, char *out, size_t *out_len)
{
    const char *end = p + n;
    size_t      len = 0;
    int         c;

    while (p < end) {
        if (*p == '%') {
            c = str_pct_byte(p, end);
            if (c <= 0) { /* invalid, or %00: a NUL never reaches a C string */
                if (!(mode & ROUTER_FORM))
                    return ERR_INVALID;
                out[len++] = *p++;
                continue;
            }
            out[len++] = (char)c;
            p += 3;
        } else if (*p == '+' && (mode & ROUTER_FORM)) {
            out[len++] = ' ';
            p++;
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    *out_len = len;
    return ERR_OK;
}

/* 1 when the raw request segment s..e decodes to exactly lit..lit_end. */
static int
segment_eq(const char *s, const char *e, const char *lit, const char *lit_end)
{
    int c;

    while (s < e) {
        if (lit == lit_end)
            return 0;
        c = (unsigned char)*s;
        if (c == '%') {
            c = str_pct_byte(s, e);
            s += 3;
        } else {
            s++;
        }
        if (c != (unsigned char)*lit++)
            return 0;
    }
    return lit == lit_end;
}

/* Match path against one template, capturing {name} segments. */
static int
path_match(const char *tpl, const char *path, size_t path_len, struct route_param *params,
           int max_params, int *nparams)
{
    const char *p = path, *end = path + path_len, *t = tpl, *seg, *tseg;
    int         n = 0;

    if (*t != '/' || path_len == 0 || *p != '/')
        return 0;
    while (*t == '/') {
        if (p == end || *p != '/')
            return 0;
        t++;
        p++;
        tseg = t;
        while (*t != '\0' && *t != '/')
            t++;
        seg = p;
        while (p < end && *p != '/')
            p++;
        if (t - tseg >= 2 && *tseg == '{' && t[-1] == '}') {
            if (p == seg)
                return 0; /* a parameter is never empty */
            if (n < max_params) {
                params[n].name = tseg + 1;
                params[n].name_len = (size_t)(t - tseg - 2);
                params[n].value = seg;
                params[n].value_len = (size_t)(p - seg);
                n++;
            }
        } else if (!segment_eq(seg, p, tseg, t)) {
            return 0;
        }
    }
    if (*t != '\0' || p != end)
        return 0; /* "/a/b" vs "/a", and a trailing slash, do not match */
    *nparams = n;
    return 1;
}

/* Append method to the "GET, POST" list unless it is there already. */
static void
allow_add(char *allow, size_t allow_len, const char *method)
{
    size_t      used = strlen(allow), mlen = strlen(method);
    const char *p = allow;

    while (*p != '\0') {
        if (strncmp(p, method, mlen) == 0 && (p[mlen] == ',' || p[mlen] == '\0'))
            return;
        p = strchr(p, ',');
        if (p == NULL)
            break;
        p += 2;
    }
    if (used + (used ? 2 : 0) + mlen + 1 > allow_len)
        return;
    if (used) {
        memcpy(allow + used, ", ", 2);
        used += 2;
    }
    memcpy(allow + used, method, mlen + 1);
}

static int
path_valid(const char *path, size_t path_len)
{
    const char *p = path, *end = path + path_len;

    for (; p < end; p++)
        if (*p == '%' && str_pct_byte(p, end) <= 0)
            return 0;
    return 1;
}

int
server_route_match(const struct route *routes, const char *method, const char *path,
                   size_t path_len, const struct route **out, struct route_param *params,
                   int max_params, int *nparams, char *allow, size_t allow_len)
{
    const struct route *rt, *head_via_get = NULL;
    int                 is_head = strcmp(method, "HEAD") == 0, n, np = 0, any = 0;

    *out = NULL;
    *nparams = 0;
    if (allow_len > 0)
        allow[0] = '\0';
    if (!path_valid(path, path_len))
        return ERR_INVALID;
    for (rt = routes; rt != NULL && rt->method != NULL; rt++) {
        if (!path_match(rt->path, path, path_len, params, max_params, &n))
            continue;
        any = 1;
        if (strcmp(rt->method, method) == 0) {
            *out = rt;
            *nparams = n;
            if (allow_len > 0)
                allow[0] = '\0';
            return ERR_OK;
        }
        if (is_head && head_via_get == NULL && strcmp(rt->method, "GET") == 0) {
            head_via_get = rt;
            np = n;
        }
        if (allow_len > 0) {
            allow_add(allow, allow_len, rt->method);
            if (strcmp(rt->method, "GET") == 0)
                allow_add(allow, allow_len, "HEAD");
        }
    }
    if (head_via_get != NULL) {
        /* The captures were overwritten by later candidates: match again. */
        path_match(head_via_get->path, path, path_len, params, max_params, &np);
        *out = head_via_get;
        *nparams = np;
        if (allow_len > 0)
            allow[0] = '\0';
        return ERR_OK;
    }
    return any ? ERR_METHOD : ERR_NOT_FOUND;
}
