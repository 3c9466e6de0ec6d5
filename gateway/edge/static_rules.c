/*
 * static_rules.c - the pure rules of serving files (unit-tested in
 * t/13_static.c): the type by extension, which names are immutable, the
 * request path made safe to look up, If-None-Match and Accept-Encoding.
 */
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "gateway.h"
#include "str.h"

#define HASH_MIN 8 /* esbuild's [hash] is 8 characters */

static const struct {
    const char *ext, *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"wasm", "application/wasm"},
};

const char *
static_type(const char *name)
{
    const char *slash = strrchr(name, '/'), *dot;
    size_t      i;

    dot = strrchr(slash != NULL ? slash : name, '.');
    if (dot == NULL)
        return "application/octet-stream";
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(dot + 1, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

int
static_hashed(const char *path)
{
    const char *name = strrchr(path, '/'), *dot, *dash;
    size_t      n;

    name = name != NULL ? name + 1 : path;
    dot = strchr(name, '.');
    if (dot == NULL)
        return 0;
    for (dash = dot; dash > name && dash[-1] != '-'; dash--)
        ;
    n = (size_t)(dot - dash);
    return dash > name + 1 && n >= HASH_MIN &&
           strspn(dash, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") >= n;
}

/* Each segment of the decoded path: no "." or "..", none empty except a
 * last one (a directory's "x/"). */
static int
segments_ok(const char *z)
{
    const char *seg = z, *end;

    if (*z == '\0')
        return 1;
    for (;;) {
        end = strchrnul(seg, '/');
        if ((end == seg && *end != '\0') || (end - seg == 1 && seg[0] == '.') ||
            (end - seg == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        if (*end == '\0')
            return 1;
        seg = end + 1;
    }
}

int
static_clean(struct arena *a, const char *p, size_t n, char **out)
{
    char       *z = arena_alloc(a, n + 1), *o = z;
    const char *end = p + n;
    int         c;

    *out = NULL;
    while (p < end) {
        if (*p == '%') {
            c = str_pct_byte(p, end);
            if (c < 0 || c == '/' || c == '\\')
                return ERR_INVALID; /* an escaped separator hides a segment from the rules */
            p += 3;
        } else {
            c = (unsigned char)*p++;
        }
        if (c < 0x20 || c == 0x7f || c == '\\')
            return ERR_INVALID;
        *o++ = (char)c;
    }
    *o = '\0';
    if (!segments_ok(z))
        return ERR_INVALID;
    *out = z;
    return ERR_OK;
}

static struct str
trim(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return (struct str){p, (size_t)(end - p)};
}

int
static_etag_match(const char *inm, size_t n, const char *etag)
{
    const char *p = inm, *end = inm + n, *comma;
    size_t      elen = strlen(etag);
    struct str  t;

    while (p < end) {
        comma = memchr(p, ',', (size_t)(end - p));
        if (comma == NULL)
            comma = end;
        t = trim(p, comma);
        if (t.len == 1 && t.p[0] == '*')
            return 1;
        if (t.len > 2 && t.p[0] == 'W' && t.p[1] == '/') {
            t.p += 2;
            t.len -= 2;
        }
        if (t.len == elen && memcmp(t.p, etag, elen) == 0)
            return 1;
        p = comma + 1;
    }
    return 0;
}

/* The q of one coding's parameters ("; q=0.5"): 0 when refused. */
static int
q_refuses(struct str params)
{
    const char *p = params.p, *end = params.p + params.len;

    for (; p + 1 < end; p++)
        if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (p == end || *p != '0')
                return 0;
            for (p++; p < end && (*p == '.' || *p == '0'); p++)
                ;
            return p == end || *p == ' ' || *p == ';';
        }
    return 0;
}

int
static_accepts_gzip(const char *ae, size_t n)
{
    const char *p = ae, *end = ae + n, *comma, *semi;
    struct str  name;
    int         gzip = -1, star = -1;

    while (p < end) {
        comma = memchr(p, ',', (size_t)(end - p));
        if (comma == NULL)
            comma = end;
        semi = memchr(p, ';', (size_t)(comma - p));
        name = trim(p, semi != NULL ? semi : comma);
        if ((name.len == 4 && strncasecmp(name.p, "gzip", 4) == 0) ||
            (name.len == 6 && strncasecmp(name.p, "x-gzip", 6) == 0))
            gzip = semi == NULL || !q_refuses(trim(semi, comma));
        else if (name.len == 1 && name.p[0] == '*')
            star = semi == NULL || !q_refuses(trim(semi, comma));
        p = comma + 1;
    }
    return gzip >= 0 ? gzip : star > 0;
}
