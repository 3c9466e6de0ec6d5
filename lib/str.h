/*
 * str.h - (pointer, length) views into request data and bounded number
 * parsing. A view does not own its bytes; copy with arena_strndup at a driver
 * boundary.
 */
#ifndef SOUK_STR_H
#define SOUK_STR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct str {
    const char *p;
    size_t      len;
};

#define STR_LIT(lit) ((struct str){(lit), sizeof(lit) - 1})

/* A view of NUL-terminated z (NULL gives the empty view). */
struct str str_from(const char *z);
/* 1 when s equals z exactly / ignoring ASCII case. */
int str_eq(struct str s, const char *z);
int str_eqi(struct str s, const char *z);
/* 1 when s starts with prefix. */
int str_has_prefix(struct str s, const char *prefix);

/* Parse all of s as a base-10 integer in [min, max] (optional leading '-').
 * Returns ERR_INVALID on empty input, junk, overflow or range. */
MUST_CHECK int str_to_i64(struct str s, int64_t min, int64_t max, int64_t *out);
/* Same for a NUL-terminated string (NULL is ERR_INVALID). */
MUST_CHECK int str_z_to_i64(const char *z, int64_t min, int64_t max, int64_t *out);

/* The byte (0..255) the escape "%XX" at p encodes, either hex case, or -1
 * when p..end does not start with one. What a bad escape or %00 means is the
 * caller's rule (router_decode in router.h decodes whole strings). */
int str_pct_byte(const char *p, const char *end);

/* 1 when NUL-terminated z is well-formed UTF-8 (RFC 3629: no overlongs,
 * surrogates or code points past U+10FFFF), the only text PostgreSQL,
 * utf8mb4 columns and JSON take: input must pass it before it is echoed or
 * stored. */
int str_utf8_valid(const char *z);

#endif
