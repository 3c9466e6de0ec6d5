/*
 * 10_arena.c - the request allocator: alignment, large blocks, string
 * helpers, deferred cleanups in reverse order, reuse after reset, and the
 * ownership rule (a cleanup never targets a stack object or, for
 * arena_defer_owned, an object outside the arena).
 */
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "t.h"

static char order[8];
static int  norder;

static void
record(void *p)
{
    order[norder++] = *(const char *)p;
    order[norder] = '\0';
}

static void
test_alignment(void)
{
    static const size_t sizes[] = {1, 3, 7, 8, 15, 16, 17, 31, 100, 1000, 4095, 9000};
    struct arena       *a = arena_create();
    size_t              i, j;
    int                 aligned = 1, zeroed = 1;
    unsigned char      *p;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        p = arena_alloc(a, sizes[i]);
        aligned &= (uintptr_t)p % alignof(max_align_t) == 0;
        for (j = 0; j < sizes[i]; j++)
            zeroed &= p[j] == 0;
        for (j = 0; j < sizes[i]; j++)
            p[j] = 0xa5; /* ASan catches an overlap with the next allocation */
    }
    T_OK(aligned, "every allocation is aligned for max_align_t");
    T_OK(zeroed, "every allocation is zeroed");
    T_OK(arena_alloc(a, 0) != NULL, "a zero-byte allocation is a valid pointer");
    arena_destroy(a);
}

static void
test_large(void)
{
    struct arena  *a = arena_create();
    unsigned char *big = arena_alloc(a, 1 << 20);
    unsigned char *small = arena_alloc(a, 10);
    unsigned char *big2 = arena_alloc(a, 3 << 20);

    big[0] = 1;
    big[(1 << 20) - 1] = 2;
    big2[(3 << 20) - 1] = 3;
    T_OK(big != NULL && small != NULL && big2 != NULL, "large allocations succeed");
    T_EQ_INT(big[(1 << 20) - 1] + big2[(3 << 20) - 1], 5, "large blocks are usable end to end");
    T_OK(arena_used(a) >= (4u << 20) + 10, "arena_used counts large blocks");
    arena_destroy(a);
}

static void
test_strings(void)
{
    struct arena *a = arena_create();

    T_EQ_STR(arena_strndup(a, "hello world", 5), "hello", "strndup copies n bytes");
    T_EQ_STR(arena_strndup(a, "", 0), "", "strndup of nothing is empty");
    T_EQ_STR(arena_strdup(a, "abc"), "abc", "strdup");
    T_EQ_STR(arena_printf(a, "%s-%d-%05.1f", "x", 42, 3.14159), "x-42-003.1", "printf formats");
    T_EQ_INT((long long)strlen(arena_printf(a, "%3000d", 1)), 3000, "printf of a long result");
    arena_destroy(a);
}

static void
test_defer(void)
{
    struct arena *a = arena_create();
    static char   c1 = '1', c2 = '2', c3 = '3';

    arena_defer(a, record, &c1);
    arena_defer(a, record, &c2);
    arena_defer(a, record, &c3);
    T_EQ_STR(order, "", "cleanups do not run early");
    arena_reset(a);
    T_EQ_STR(order, "321", "reset runs cleanups newest first");
    norder = 0;
    order[0] = '\0';
    arena_reset(a);
    T_EQ_STR(order, "", "cleanups run once");
    arena_defer(a, record, &c1);
    arena_defer(a, record, &c2);
    arena_destroy(a);
    T_EQ_STR(order, "21", "destroy runs cleanups newest first");
    arena_destroy(NULL);
    T_OK(1, "destroying NULL is a no-op");
}

static void
test_reset_reuses(void)
{
    struct arena *a = arena_create();
    void         *first = arena_alloc(a, 64), *again;

    (void)arena_alloc(a, 100000); /* forces a second block */
    arena_reset(a);
    T_EQ_INT(arena_used(a), 0, "reset clears the usage count");
    again = arena_alloc(a, 64);
    T_OK(first == again, "reset reuses the first block");
    arena_destroy(a);
}

static void
test_owns(void)
{
    struct arena *a = arena_create(), *b = arena_create();
    char         *p = arena_alloc(a, 100), *big = arena_alloc(a, 1 << 20);
    char         *heap = malloc(16), local = 0;

    T_OK(arena_owns(a, p) && arena_owns(a, p + 99), "owns both ends of an allocation");
    T_OK(arena_owns(a, big + (1 << 20) - 1), "owns a large block");
    T_OK(!arena_owns(a, p + 100), "does not own the unused rest of a block");
    T_OK(!arena_owns(b, p), "another arena does not own it");
    T_OK(!arena_owns(a, heap) && !arena_owns(a, &local) && !arena_owns(a, NULL),
         "heap, stack and NULL are not owned");
    arena_reset(a);
    T_OK(!arena_owns(a, p) && !arena_owns(a, big), "nothing is owned after reset");
    free(heap);
    arena_destroy(a);
    arena_destroy(b);
}

static void
test_defer_accepts(void)
{
    struct arena *a = arena_create();
    char         *in = arena_new(a, char);
    static char   c4 = '4';

    norder = 0;
    order[0] = '\0';
    *in = 'a';
    arena_defer_owned(a, record, in);
    arena_defer(a, record, &c4);
    arena_defer(a, free, malloc(8)); /* LSan reports it if the cleanup did not run */
    arena_defer(a, free, NULL);
    arena_destroy(a);
    T_EQ_STR(order, "4a", "owned, static and heap objects get their cleanups");
}

/* Misuses, each run in a child that must abort (t_aborts). */
typedef void defer_fn(struct arena *a, arena_cleanup_fn *fn, void *p);

static void
try_defer(defer_fn *defer, void *p)
{
    struct arena *a = arena_create();

    defer(a, record, p);
    arena_destroy(a);
}

static void
defer_stack(void)
{
    char local = 'x';

    try_defer(arena_defer, &local);
}

static void *
defer_stack_thread(void *unused)
{
    (void)unused;
    defer_stack();
    return NULL;
}

static void
defer_stack_in_thread(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, defer_stack_thread, NULL) == 0)
        pthread_join(t, NULL);
}

static void
owned_stack(void)
{
    char local = 'x';

    try_defer(arena_defer_owned, &local);
}

static void
owned_static(void)
{
    static char c = 'x';

    try_defer(arena_defer_owned, &c);
}

static void
owned_heap(void)
{
    try_defer(arena_defer_owned, calloc(1, 8));
}

static void
owned_other_arena(void)
{
    try_defer(arena_defer_owned, arena_new(arena_create(), char));
}

static void
owned_after_reset(void)
{
    struct arena *a = arena_create();
    char         *p = arena_alloc(a, 8);

    arena_reset(a);
    arena_defer_owned(a, record, p);
    arena_destroy(a);
}

static const struct {
    void (*fn)(void);
    const char *want, *name;
} misuses[] = {
    {defer_stack, "on the stack", "arena_defer refuses a stack object"},
    {defer_stack_in_thread, "on the stack", "... on a thread's own stack too"},
    {owned_stack, "not in the arena", "arena_defer_owned refuses a stack object"},
    {owned_static, "not in the arena", "... a static object"},
    {owned_heap, "not in the arena", "... a heap object"},
    {owned_other_arena, "not in the arena", "... another arena's object"},
    {owned_after_reset, "not in the arena", "... and memory from before a reset"},
};

static void
test_defer_refuses(void)
{
    size_t i;

    for (i = 0; i < sizeof(misuses) / sizeof(misuses[0]); i++)
        T_ABORTS(misuses[i].fn, misuses[i].want, "%s", misuses[i].name);
}

int
main(void)
{
    test_alignment();
    test_large();
    test_strings();
    test_defer();
    test_reset_reuses();
    test_owns();
    test_defer_accepts();
    test_defer_refuses();
    return T_DONE();
}
