/*
 * fuzz.h - what every libFuzzer target here shares: the entry points
 * (declared, so -Wmissing-prototypes holds), FUZZ_CHECK for an invariant
 * (a broken one aborts, so libFuzzer saves the input as a crash), FNV-1a
 * for comparing what two runs saw, and a strict UTF-8 check.
 */
#ifndef SOUK_FUZZ_H
#define SOUK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FNV_INIT 0xcbf29ce484222325ULL

static inline uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t               i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* 1 when the n bytes at p are well-formed UTF-8 (no overlongs, surrogates
 * or code points past U+10FFFF). */
static inline int
utf8_valid(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p, *end = s + n;

    while (s < end) {
        unsigned c = *s++;
        int      k = c < 0x80             ? 0
                     : (c & 0xe0) == 0xc0 ? 1
                     : (c & 0xf0) == 0xe0 ? 2
                     : (c & 0xf8) == 0xf0 ? 3
                                          : -1;
        unsigned cp = k == 1 ? c & 0x1f : k == 2 ? c & 0x0f : c & 0x07;
        int      i;

        if (k < 0 || end - s < k)
            return 0;
        if (k == 0)
            continue;
        for (i = 0; i < k; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i] & 0x3f);
        }
        s += k;
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

#endif
