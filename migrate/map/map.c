/*
 * map.c - the registry of domain mappings (map.h) and the helpers every
 * mapping uses to read a captured change by column name.
 */
#include <string.h>

#include "arena.h"
#include "migrate/map/map.h"
#include "work.h"

extern const struct map_domain map_reviews, map_catalog, map_users, map_cart;

/* In the order domains migrate (DESIGN.md §5). */
const struct map_domain *const map_domains[] = {
    &map_reviews, &map_catalog, &map_users, &map_cart, NULL,
};

const struct map_domain *
map_find(const char *name)
{
    size_t i;

    for (i = 0; map_domains[i] != NULL; i++)
        if (strcmp(map_domains[i]->name, name) == 0)
            return map_domains[i];
    return NULL;
}

static const char *
column(const struct cdc_change *c, const char *const *image, const char *col)
{
    size_t i;

    if (image == NULL)
        return NULL;
    for (i = 0; i < c->ncols; i++)
        if (strcmp(c->names[i], col) == 0)
            return image[i];
    return NULL;
}

const char *
map_value(const struct cdc_change *c, const char *col)
{
    return column(c, c->after != NULL ? c->after : c->before, col);
}

const char *
map_before(const struct cdc_change *c, const char *col)
{
    return column(c, c->before, col);
}

void
map_touched(struct work *w, const char *what, int64_t key)
{
    struct map_ext *x = w->ext;
    const char    **whats, **keys;

    if (x->ntouched == x->cap) { /* a transaction's changes: usually a handful */
        x->cap = x->cap ? 2 * x->cap : 16;
        whats = arena_alloc(w->arena, x->cap * sizeof(*whats));
        keys = arena_alloc(w->arena, x->cap * sizeof(*keys));
        if (x->ntouched > 0) {
            memcpy(whats, x->whats, x->ntouched * sizeof(*whats));
            memcpy(keys, x->keys, x->ntouched * sizeof(*keys));
        }
        x->whats = whats;
        x->keys = keys;
    }
    x->whats[x->ntouched] = what;
    x->keys[x->ntouched++] = arena_printf(w->arena, "%lld", (long long)key);
}
