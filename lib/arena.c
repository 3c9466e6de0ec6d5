/*
 * arena.c - bump allocator over a chain of malloc'd blocks.
 * The first block is embedded after the header and survives arena_reset so a
 * connection can reuse one arena for many requests without touching malloc.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_BLOCK 8192
#define ARENA_ALIGN 16

struct block {
    struct block *next;
    size_t        size;
    size_t        used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct cleanup {
    struct cleanup   *next;
    arena_cleanup_fn *fn;
    void             *p;
};

struct arena {
    struct block   *head;     /* current block; the chain ends at first */
    struct block   *first;    /* kept across resets */
    struct cleanup *cleanups; /* newest first */
    size_t          total;
};

static void *
xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL) {
        fputs("souk: out of memory\n", stderr);
        abort();
    }
    return p;
}

static struct block *
block_new(size_t size)
{
    struct block *b = xmalloc(sizeof(*b) + size);

    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct arena *
arena_create(void)
{
    struct arena *a = xmalloc(sizeof(*a));

    a->first = block_new(ARENA_BLOCK);
    a->head = a->first;
    a->cleanups = NULL;
    a->total = 0;
    return a;
}

static void
run_cleanups(struct arena *a)
{
    struct cleanup *c;

    /* A cleanup may not allocate from a, but it may register nothing new;
     * pop before calling so a crash in one does not re-run it. */
    while (a->cleanups != NULL) {
        c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->p);
    }
}

void
arena_reset(struct arena *a)
{
    struct block *b, *next;

    run_cleanups(a);
    for (b = a->head; b != a->first; b = next) {
        next = b->next;
        free(b);
    }
    a->head = a->first;
    a->first->used = 0;
    a->total = 0;
}

void
arena_destroy(struct arena *a)
{
    if (a == NULL)
        return;
    arena_reset(a);
    free(a->first);
    free(a);
}

void *
arena_alloc(struct arena *a, size_t n)
{
    struct block *b = a->head;
    size_t        off, size;
    void         *p;

    if (n == 0)
        n = 1;
    off = (b->used + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (off > b->size || n > b->size - off) {
        size = n > ARENA_BLOCK / 2 ? n : ARENA_BLOCK * 2;
        if (n > SIZE_MAX / 2) {
            fputs("souk: arena request too large\n", stderr);
            abort();
        }
        b = block_new(size);
        b->next = a->head;
        a->head = b;
        off = 0;
    }
    p = b->data + off;
    b->used = off + n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

char *
arena_strndup(struct arena *a, const char *p, size_t n)
{
    char *s = arena_alloc(a, n + 1);

    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

char *
arena_strdup(struct arena *a, const char *z)
{
    return arena_strndup(a, z, strlen(z));
}

char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    int     n;
    char   *s;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return arena_strdup(a, "");
    s = arena_alloc(a, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    char   *s;

    va_start(ap, fmt);
    s = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

void
arena_defer(struct arena *a, arena_cleanup_fn *fn, void *p)
{
    struct cleanup *c = arena_new(a, struct cleanup);

    c->fn = fn;
    c->p = p;
    c->next = a->cleanups;
    a->cleanups = c;
}

size_t
arena_used(const struct arena *a)
{
    return a->total;
}
