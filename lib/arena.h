/*
 * arena.h - region allocator with deferred cleanups (one per request or
 * message). Allocation never fails: on OOM the process aborts, so callers
 * have no NULL checks. Cleanups registered with arena_defer run in reverse
 * order when the arena is reset or destroyed (nginx pool cleanups).
 */
#ifndef SOUK_ARENA_H
#define SOUK_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

typedef void arena_cleanup_fn(void *p);

/* A new empty arena; free it with arena_destroy. */
struct arena *arena_create(void);
/* Run cleanups, free every block, free the arena. NULL is a no-op. */
void arena_destroy(struct arena *a);
/* Run cleanups and forget every allocation, keeping the first block for reuse. */
void arena_reset(struct arena *a);

/* n zeroed bytes aligned for any type, valid until reset/destroy. */
void *arena_alloc(struct arena *a, size_t n);
#define arena_new(a, type)      ((type *)arena_alloc((a), sizeof(type)))
#define arena_array(a, type, n) ((type *)arena_alloc((a), sizeof(type) * (n)))

/* NUL-terminated copies in a. */
char *arena_strndup(struct arena *a, const char *p, size_t n);
char *arena_strdup(struct arena *a, const char *z);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);

/* Call fn(p) when a is reset or destroyed (latest registered runs first).
 * p is NULL or a heap object a now owns (a json_t, a PGresult, malloc'd
 * bytes): it must live until a's next reset. Aborts if p is on the calling
 * thread's stack, which dies with its frame, before the arena runs fn. */
void arena_defer(struct arena *a, arena_cleanup_fn *fn, void *p);
/* arena_defer for an object inside a's own memory (a struct from arena_new
 * that holds a resource, e.g. buf_new's struct buf). Aborts unless
 * arena_owns(a, p): an object elsewhere may be gone when fn runs. */
void arena_defer_owned(struct arena *a, arena_cleanup_fn *fn, void *p);
/* Whether p points into memory a has handed out since its last reset. */
int arena_owns(const struct arena *a, const void *p);

/* Bytes handed out so far (for metrics and tests). */
size_t arena_used(const struct arena *a);

#endif
