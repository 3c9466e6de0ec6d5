/*
 * 12_map.c - the mapping registry (migrate/map/map.h): every domain is
 * complete (capture, apply, copy, verify, touched keys, identity, reverse), its reverse
 * events are in EVENT_MAP, and a change's columns read from the right image.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "event.h"
#include "migrate/map/map.h"
#include "work.h"
#include "t.h"

static size_t
marks(const char *sql)
{
    size_t n = 0;

    for (; sql != NULL && *sql; sql++)
        n += *sql == '?';
    return n;
}

/* map_touched keeps every key a kv apply names, in order, past the
 * list's first growth. */
static void
touched_check(void)
{
    struct arena  *a = arena_create();
    struct map_ext x = {0};
    struct work    w = {.arena = a, .ext = &x};
    int64_t        i;
    int            ok = 1;

    for (i = 1; i <= 40; i++)
        map_touched(&w, "carts", i * 7);
    for (i = 0; i < 40; i++)
        ok = ok && strcmp(x.whats[i], "carts") == 0 && strtoll(x.keys[i], NULL, 10) == (i + 1) * 7;
    T_EQ_INT(x.ntouched, 40, "map_touched counts 40 keys");
    T_OK(ok, "map_touched keeps 40 keys in order across growths");
    arena_destroy(a);
}

/* Every touch row names a captured table and a verify entity (the
 * cutover's held verify reads only those keys: a typo would skip them). */
static void
touch_check(const struct map_domain *d)
{
    const struct map_touch *t;
    size_t                  i;
    int                     table, what;

    for (t = d->touch; t != NULL && t->table != NULL; t++) {
        for (i = 0, table = 0; d->tables[i] != NULL; i++)
            table |= strcmp(d->tables[i], t->table) == 0;
        for (i = 0, what = 0; d->verify != NULL && d->verify[i].what != NULL; i++)
            what |= strcmp(d->verify[i].what, t->what) == 0;
        T_OK(table && what && t->key != NULL,
             "%s: touch %s -> %s.%s is a captured table and "
             "a verified entity",
             d->name, t->table, t->what, t->key);
    }
}

static void
domain_check(const struct map_domain *d)
{
    const struct map_reverse_step *s;
    enum event_type                t;
    size_t                         i;

    T_OK(map_find(d->name) == d, "%s: map_find finds it", d->name);
    T_OK(d->db_env != NULL && strncmp(d->db_env, "SOUK_", 5) == 0, "%s: its database variable",
         d->name);
    T_OK(d->tables != NULL && d->tables[0] != NULL, "%s: captures tables", d->name);
    T_OK(d->apply != NULL, "%s: applies changes", d->name);
    if (d->kv) /* kept in Redis: its own copy and verify rows (map_ext in w->ext) */
        T_OK(d->copy == NULL && d->copy_kv != NULL && d->verify_kv != NULL,
             "%s: backfill and verify of a kv domain", d->name);
    else
        T_OK(d->copy != NULL && d->copy[0].what != NULL && d->copy_nonempty != NULL,
             "%s: backfill steps", d->name);
    for (i = 0; d->copy != NULL && d->copy[i].what != NULL; i++)
        T_EQ_INT(marks(d->copy[i].read_sql), 2, "%s: copy %s reads after a key, a page", d->name,
                 d->copy[i].what);
    for (i = 0; d->verify != NULL && d->verify[i].what != NULL && d->kv; i++)
        T_OK(d->verify[i].mono_sql == NULL && d->verify[i].svc_sql == NULL,
             "%s: verify %s through verify_kv", d->name, d->verify[i].what);
    for (i = 0; d->verify != NULL && d->verify[i].what != NULL && !d->kv; i++) {
        /* (the loop above counted a kv domain's entries) */
        T_EQ_INT(marks(d->verify[i].mono_sql), 2, "%s: verify %s on the monolith pages by key",
                 d->name, d->verify[i].what);
        T_OK(strstr(d->verify[i].svc_sql, "$1") && strstr(d->verify[i].svc_sql, "$2"),
             "%s: verify %s on the service pages by key", d->name, d->verify[i].what);
    }
    T_OK(d->verify != NULL && d->verify[0].what != NULL, "%s: canonical rows to verify", d->name);
    /* A kv domain allocates no ids (carts are keyed by the user's id). */
    T_OK(d->kv || (d->ident != NULL && d->ident[0] != NULL),
         "%s: sequences under the identity scheme", d->name);
    T_OK(d->reverse != NULL && d->reverse->events[0] != NULL, "%s: reverse sync", d->name);
    for (i = 0; d->reverse != NULL && d->reverse->events[i] != NULL; i++)
        T_OK(event_type_by_key(d->reverse->events[i], &t) == ERR_OK, "%s: %s is in EVENT_MAP",
             d->name, d->reverse->events[i]);
    for (s = d->reverse != NULL ? d->reverse->steps : NULL; s != NULL && s->svc_sql != NULL; s++) {
        T_OK(strstr(s->svc_sql, "$1") != NULL && marks(s->mono_put) > 0,
             "%s: a reverse step reads one aggregate and writes rows", d->name);
        T_OK(s->mono_gone == NULL || marks(s->mono_gone) > 0,
             "%s: a reverse delete names the aggregate", d->name);
    }
}

int
main(void)
{
    static const char *const names[] = {"id", "name", "value"};
    static const char *const old[] = {"7", "colour", "red"};
    static const char *const new[] = {"7", "colour", NULL};
    static const struct {
        enum cdc_op        op;
        const char *const *before, *const *after;
        const char *col, *value, *before_value;
    } cases[] = {
        {CDC_INSERT, NULL, old, "value", "red", NULL},
        {CDC_UPDATE, old, new, "value", NULL, "red"}, /* SQL NULL after */
        {CDC_UPDATE, old, new, "name", "colour", "colour"},
        {CDC_DELETE, old, NULL, "value", "red", "red"}, /* a delete reads its before image */
        {CDC_UPDATE, old, new, "missing", NULL, NULL},
    };
    size_t i;

    for (i = 0; map_domains[i] != NULL; i++) {
        domain_check(map_domains[i]);
        touch_check(map_domains[i]);
    }
    T_OK(map_find("catalog")->touch != NULL && map_find("reviews")->touch != NULL &&
             map_find("users")->touch != NULL && map_find("cart")->touch != NULL,
         "reviews, catalog, users and cart say which keys a change touches");
    touched_check();
    T_OK(map_find("reviews") && map_find("catalog") && map_find("users") && map_find("cart"),
         "reviews, catalog, users and cart are registered");
    T_OK(map_find("nope") == NULL, "an unknown domain is NULL");

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cdc_change c = {"product_attributes", cases[i].op,   3, names,
                               cases[i].before,      cases[i].after};
        const char       *v = map_value(&c, cases[i].col), *b = map_before(&c, cases[i].col);

        T_OK(v == cases[i].value || (v && cases[i].value && strcmp(v, cases[i].value) == 0),
             "case %zu: map_value(%s)", i, cases[i].col);
        T_OK(b == cases[i].before_value ||
                 (b && cases[i].before_value && strcmp(b, cases[i].before_value) == 0),
             "case %zu: map_before(%s)", i, cases[i].col);
    }
    return T_DONE();
}
