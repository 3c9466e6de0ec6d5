/*
 * map.c - the registry of domain mappings (map.h) and the helpers every
 * mapping uses to read a captured change by column name.
 */
#include <string.h>

#include "migrate/map/map.h"

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
