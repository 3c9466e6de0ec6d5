/*
 * jcheck.c - strict, table-driven checking of JSON objects into C structs
 * (see gateway.h). Unlike lib/decode.c, which stops at the first problem for
 * a client's request body, this reports every problem with its path, because
 * an operator fixing a route table wants the whole list in one round trip.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "gateway.h"

#define KEY_QUOTE 64 /* bytes of a user-supplied key quoted in a path */

void
jcheck_bad(struct jcheck *c, const char *path, const char *fmt, ...)
{
    va_list ap;

    c->nerr++;
    if (c->errors == NULL)
        return;
    buf_printf(c->errors, "%s: ", path);
    va_start(ap, fmt);
    buf_vprintf(c->errors, fmt, ap);
    va_end(ap);
    buf_putc(c->errors, '\n');
}

void
jcheck_path(char *out, const char *parent, const char *key)
{
    size_t n = strlen(key);

    /* Cut at a character boundary: the line must stay valid UTF-8 for JSON. */
    if (n > KEY_QUOTE) {
        n = KEY_QUOTE;
        while (n > 0 && ((unsigned char)key[n] & 0xc0) == 0x80)
            n--;
    }
    snprintf(out, JCHECK_PATH_LEN, "%s%s%.*s", parent, parent[0] != '\0' ? "." : "", (int)n, key);
}

void
jcheck_index(char *out, const char *parent, size_t i)
{
    if (snprintf(out, JCHECK_PATH_LEN, "%s[%zu]", parent, i) >= JCHECK_PATH_LEN)
        memcpy(out + JCHECK_PATH_LEN - 4, "...", 4); /* still says where, roughly */
}

int
jcheck_enum_index(const char *const *names, const char *z)
{
    int i;

    for (i = 0; z != NULL && names[i] != NULL; i++)
        if (strcmp(names[i], z) == 0)
            return i;
    return -1;
}

static void
check_enum(struct jcheck *c, const struct jcheck_field *f, json_t *v, const char *path, void *dst)
{
    const char *const *names = f->aux;
    struct buf         list;
    int                i = jcheck_enum_index(names, json_string_value(v));

    if (i >= 0) {
        memcpy(dst, &i, sizeof(i));
        return;
    }
    buf_init(&list, 256);
    for (i = 0; names[i] != NULL; i++)
        buf_printf(&list, "%s%s", i == 0 ? "" : names[i + 1] == NULL ? " or " : ", ", names[i]);
    jcheck_bad(c, path, "must be %s", buf_data(&list));
    buf_free(&list);
}

static void
check_number(struct jcheck *c, const struct jcheck_field *f, json_t *v, const char *path, void *dst)
{
    json_int_t n = json_integer_value(v);
    double     d = json_number_value(v);

    if (f->type == JCHECK_NUM) {
        if (!json_is_number(v) || !(d >= f->min && d <= f->max))
            jcheck_bad(c, path, "must be a number between %g and %g", f->min, f->max);
        else
            memcpy(dst, &d, sizeof(d));
        return;
    }
    if (!json_is_integer(v) || n < f->min || n > f->max)
        jcheck_bad(c, path, "must be an integer between %.0f and %.0f", f->min, f->max);
    else if (f->type == JCHECK_INT)
        *(int *)dst = (int)n;
    else if (f->type == JCHECK_I64)
        *(int64_t *)dst = n;
    else
        *(size_t *)dst = (size_t)n;
}

static void
check_string(struct jcheck *c, const struct jcheck_field *f, json_t *v, const char *path,
             char **dst)
{
    const char *problem;

    if (!json_is_string(v)) {
        jcheck_bad(c, path, "must be a string");
        return;
    }
    problem = f->problem != NULL ? f->problem(json_string_value(v)) : NULL;
    if (problem != NULL)
        jcheck_bad(c, path, "%s", problem);
    else
        *dst = arena_strdup(c->a, json_string_value(v));
}

static void
check_strings(struct jcheck *c, const struct jcheck_field *f, json_t *v, const char *path,
              void *base)
{
    char  **dst = (char **)(void *)((char *)base + f->off);
    int    *n = (int *)(void *)((char *)base + f->cnt);
    json_t *s;
    size_t  i;
    char    sub[JCHECK_PATH_LEN];

    if (!json_is_array(v) || json_array_size(v) > f->max) {
        jcheck_bad(c, path, "must be an array of at most %.0f strings", f->max);
        return;
    }
    *n = 0;
    json_array_foreach(v, i, s)
    {
        jcheck_index(sub, path, i);
        dst[*n] = NULL;
        check_string(c, f, s, sub, &dst[*n]);
        *n += dst[*n] != NULL;
    }
}

static void
check_field(struct jcheck *c, const struct jcheck_field *f, json_t *v, const char *path, void *base)
{
    void *dst = (char *)base + f->off;
    int   on = json_is_true(v);

    switch (f->type) {
    case JCHECK_INT:
    case JCHECK_I64:
    case JCHECK_SIZE:
    case JCHECK_NUM:
        check_number(c, f, v, path, dst);
        break;
    case JCHECK_BOOL:
        if (!json_is_boolean(v))
            jcheck_bad(c, path, "must be true or false");
        else
            memcpy(dst, &on, sizeof(on));
        break;
    case JCHECK_ENUM:
        check_enum(c, f, v, path, dst);
        break;
    case JCHECK_STR:
        check_string(c, f, v, path, dst);
        break;
    case JCHECK_STRS:
        check_strings(c, f, v, path, base);
        break;
    case JCHECK_OBJ:
        jcheck_object(c, v, path, f->aux, base);
        break;
    case JCHECK_FN:
        f->fn(c, v, path, dst);
        break;
    }
}

void
jcheck_object(struct jcheck *c, json_t *obj, const char *path, const struct jcheck_field *fields,
              void *base)
{
    const struct jcheck_field *f;
    const char                *key;
    json_t                    *v;
    char                       sub[JCHECK_PATH_LEN];

    if (!json_is_object(obj)) {
        jcheck_bad(c, path, "must be an object");
        return;
    }
    json_object_foreach(obj, key, v)
    {
        jcheck_path(sub, path, key);
        for (f = fields; f->name != NULL && strcmp(f->name, key) != 0; f++)
            ;
        if (f->name == NULL)
            jcheck_bad(c, sub, "unknown field");
        else
            check_field(c, f, v, sub, base);
    }
    for (f = fields; f->name != NULL; f++) {
        if (f->required && json_object_get(obj, f->name) == NULL) {
            jcheck_path(sub, path, f->name);
            jcheck_bad(c, sub, "required");
        }
    }
}
