/*
 * str.c - views and number parsing without atoi/strtol's silent failures.
 */
#include <string.h>

#include "str.h"

struct str
str_from(const char *z)
{
    struct str s = {z ? z : "", z ? strlen(z) : 0};

    return s;
}

int
str_eq(struct str s, const char *z)
{
    size_t n = strlen(z);

    return s.len == n && memcmp(s.p, z, n) == 0;
}

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int
str_eqi(struct str s, const char *z)
{
    size_t i, n = strlen(z);

    if (s.len != n)
        return 0;
    for (i = 0; i < n; i++)
        if (lower((unsigned char)s.p[i]) != lower((unsigned char)z[i]))
            return 0;
    return 1;
}

int
str_has_prefix(struct str s, const char *prefix)
{
    size_t n = strlen(prefix);

    return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

int
str_to_i64(struct str s, int64_t min, int64_t max, int64_t *out)
{
    size_t   i = 0;
    int      neg = 0;
    uint64_t v = 0, limit;

    if (s.len == 0 || s.len > 20)
        return ERR_INVALID;
    if (s.p[0] == '-') {
        neg = 1;
        i = 1;
        if (s.len == 1)
            return ERR_INVALID;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < s.len; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';

        if (d > 9)
            return ERR_INVALID;
        if (v > (limit - d) / 10)
            return ERR_INVALID;
        v = v * 10 + d;
    }
    {
        int64_t x = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;

        if (x < min || x > max)
            return ERR_INVALID;
        *out = x;
    }
    return ERR_OK;
}

int
str_z_to_i64(const char *z, int64_t min, int64_t max, int64_t *out)
{
    if (z == NULL)
        return ERR_INVALID;
    return str_to_i64(str_from(z), min, max, out);
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* either case */
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
str_pct_byte(const char *p, const char *end)
{
    int hi, lo;

    if (end - p < 3 || *p != '%')
        return -1;
    hi = hexval((unsigned char)p[1]);
    lo = hexval((unsigned char)p[2]);
    if (hi < 0 || lo < 0)
        return -1;
    return hi * 16 + lo;
}

/* Lead byte -> continuation bytes and the range of the first one (the
 * others are 0x80..0xbf): that rules out overlongs, surrogates and code
 * points past U+10FFFF. */
int
str_utf8_valid(const char *z)
{
    const unsigned char *p = (const unsigned char *)z;
    unsigned             lo, hi;
    int                  n, i;

    while (*p) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        lo = 0x80;
        hi = 0xbf;
        if (*p >= 0xc2 && *p <= 0xdf)
            n = 1;
        else if (*p >= 0xe0 && *p <= 0xef) {
            n = 2;
            if (*p == 0xe0)
                lo = 0xa0; /* overlong */
            if (*p == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (*p >= 0xf0 && *p <= 0xf4) {
            n = 3;
            if (*p == 0xf0)
                lo = 0x90; /* overlong */
            if (*p == 0xf4)
                hi = 0x8f; /* past U+10FFFF */
        } else
            return 0;
        for (i = 1; i <= n; i++, lo = 0x80, hi = 0xbf)
            if (p[i] < lo || p[i] > hi)
                return 0;
        p += n + 1;
    }
    return 1;
}
