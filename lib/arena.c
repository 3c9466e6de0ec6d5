/*
 * arena.c - bump allocator over a chain of malloc'd blocks.
 * The first block is embedded after the header and survives arena_reset so a
 * connection can reuse one arena for many requests without touching malloc.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#endif

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

/* The calling thread's stack bounds, looked up once per thread. */
static _Thread_local uintptr_t stack_lo, stack_hi;

static int
on_stack(const void *p)
{
    pthread_attr_t at;
    void          *lo;
    size_t         n;

    if (stack_hi == 0) {
        stack_hi = 1; /* unknown: [0, 1) holds no object */
        if (pthread_getattr_np(pthread_self(), &at) == 0) {
            if (pthread_attr_getstack(&at, &lo, &n) == 0) {
                stack_lo = (uintptr_t)lo;
                stack_hi = stack_lo + n;
            }
            pthread_attr_destroy(&at);
        }
    }
#ifdef ARENA_ASAN
    /* With detect_stack_use_after_return, ASan moves locals to a fake stack. */
    if (__asan_addr_is_in_fake_stack(__asan_get_current_fake_stack(), (void *)p, NULL, NULL))
        return 1;
#endif
    return (uintptr_t)p >= stack_lo && (uintptr_t)p < stack_hi;
}

/* A misuse is a programmer error that would free or write through a dead
 * pointer later, far from its cause: stop here, in every build. */
static void
refuse(const char *fn, const void *p, const char *why)
{
    fprintf(stderr, "souk: %s(%p): %s\n", fn, p, why);
    abort();
}

static void
push(struct arena *a, arena_cleanup_fn *fn, void *p)
{
    struct cleanup *c = arena_new(a, struct cleanup);

    c->fn = fn;
    c->p = p;
    c->next = a->cleanups;
    a->cleanups = c;
}

void
arena_defer(struct arena *a, arena_cleanup_fn *fn, void *p)
{
    if (p != NULL && on_stack(p))
        refuse("arena_defer", p, "the object is on the stack, not owned by the arena");
    push(a, fn, p);
}

void
arena_defer_owned(struct arena *a, arena_cleanup_fn *fn, void *p)
{
    if (!arena_owns(a, p))
        refuse("arena_defer_owned", p, "the object is not in the arena's memory");
    push(a, fn, p);
}

int
arena_owns(const struct arena *a, const void *p)
{
    const struct block *b;
    uintptr_t           q = (uintptr_t)p;

    for (b = a->head; b != NULL; b = b->next)
        if (q >= (uintptr_t)b->data && q - (uintptr_t)b->data < b->used)
            return 1;
    return 0;
}

size_t
arena_used(const struct arena *a)
{
    return a->total;
}
