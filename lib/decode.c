/*
 * decode.c - table-driven strict JSON object decoding (see decode.h).
 * Details reach clients as problem+json, so they quote field names from the
 * table or, for unknown members, a sanitised and bounded copy of the key.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "decode.h"

#define KEY_QUOTE_MAX 64 /* bytes of an unknown key quoted back in a detail */

static void __attribute__((format(printf, 3, 4)))
set_detail(char *detail, size_t detail_len, const char *fmt, ...)
{
    va_list       ap;
    int           n;
    size_t        end, lead, need;
    unsigned char c;

    if (detail == NULL || detail_len == 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(detail, detail_len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n < detail_len)
        return;
    /* Truncated: never leave half a UTF-8 sequence, the detail must stay valid JSON text. */
    end = detail_len - 1;
    lead = end;
    while (lead > 0 && ((unsigned char)detail[lead - 1] & 0xc0) == 0x80)
        lead--;
    if (lead > 0 && (unsigned char)detail[lead - 1] >= 0xc0) {
        c = (unsigned char)detail[lead - 1];
        need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (end - (lead - 1) < need)
            end = lead - 1;
    }
    detail[end] = '\0';
}

/* A printable, bounded copy of key for a detail: control characters and
 * quotes become '?', and a long key is cut at a character boundary. */
static void
quote_key(const char *key, char out[KEY_QUOTE_MAX + 4])
{
    size_t i, n = strlen(key);

    if (n > KEY_QUOTE_MAX) {
        n = KEY_QUOTE_MAX;
        while (n > 0 && ((unsigned char)key[n] & 0xc0) == 0x80)
            n--;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];

        out[i] = c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
    }
    if (n < strlen(key)) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int
range_set(const struct decode_field *f)
{
    return f->min != 0 || f->max != 0;
}

/* The detail for a value of the wrong type or out of range for f. */
static int
type_error(const struct decode_field *f, char *detail, size_t detail_len)
{
    static const char *const names[] = {
        [DECODE_STR] = "a string",     [DECODE_I64] = "an integer", [DECODE_BOOL] = "a boolean",
        [DECODE_OBJECT] = "an object", [DECODE_ARRAY] = "an array",
    };

    if (f->type == DECODE_I64 && range_set(f))
        set_detail(detail, detail_len, "\"%s\" must be an integer between %lld and %lld", f->name,
                   (long long)f->min, (long long)f->max);
    else if (f->type == DECODE_STR && range_set(f))
        set_detail(detail, detail_len, "\"%s\" must be a string of %lld to %lld bytes", f->name,
                   (long long)f->min, (long long)f->max);
    else
        set_detail(detail, detail_len, "\"%s\" must be %s", f->name, names[f->type]);
    return ERR_INVALID;
}

/* Check v against f and store it in out. */
static int
decode_value(json_t *v, const struct decode_field *f, void *out, struct arena *a, char *detail,
             size_t detail_len)
{
    char       *field = (char *)out + f->offset;
    const char *s;
    size_t      n;
    json_int_t  i;

    switch (f->type) {
    case DECODE_STR:
        if (!json_is_string(v))
            return type_error(f, detail, detail_len);
        s = json_string_value(v);
        n = json_string_length(v);
        if (strlen(s) != n) {
            set_detail(detail, detail_len, "\"%s\" must not contain NUL bytes", f->name);
            return ERR_INVALID;
        }
        if (range_set(f) && ((int64_t)n < f->min || (int64_t)n > f->max))
            return type_error(f, detail, detail_len);
        *(char **)field = arena_strndup(a, s, n);
        return ERR_OK;
    case DECODE_I64:
        /* json_is_integer is false for reals, so 1.0 is rejected here. */
        if (!json_is_integer(v))
            return type_error(f, detail, detail_len);
        i = json_integer_value(v);
        if (range_set(f) && (i < f->min || i > f->max))
            return type_error(f, detail, detail_len);
        *(int64_t *)field = (int64_t)i;
        return ERR_OK;
    case DECODE_BOOL:
        if (!json_is_boolean(v))
            return type_error(f, detail, detail_len);
        *(int *)field = json_is_true(v);
        return ERR_OK;
    case DECODE_OBJECT:
    case DECODE_ARRAY:
        if (f->type == DECODE_OBJECT ? !json_is_object(v) : !json_is_array(v))
            return type_error(f, detail, detail_len);
        *(json_t **)field = v;
        return ERR_OK;
    }
    assert(!"unknown decode_type");
    return ERR_INTERNAL;
}

static int
find_unknown(json_t *obj, const struct decode_field *fields, char *detail, size_t detail_len)
{
    const struct decode_field *f;
    const char                *key;
    json_t                    *v;
    char                       quoted[KEY_QUOTE_MAX + 4];

    json_object_foreach(obj, key, v)
    {
        for (f = fields; f->name != NULL; f++)
            if (strcmp(f->name, key) == 0)
                break;
        if (f->name == NULL) {
            quote_key(key, quoted);
            set_detail(detail, detail_len, "unknown field \"%s\"", quoted);
            return ERR_INVALID;
        }
    }
    return ERR_OK;
}

int
decode_object(json_t *obj, const struct decode_field *fields, void *out, uint32_t *present,
              struct arena *a, char *detail, size_t detail_len)
{
    const struct decode_field *f;
    json_t                    *v;
    uint32_t                   bits = 0;
    int                        rc, i;

    if (present != NULL)
        *present = 0;
    if (!json_is_object(obj)) {
        set_detail(detail, detail_len, "expected a JSON object");
        return ERR_INVALID;
    }
    rc = find_unknown(obj, fields, detail, detail_len);
    if (rc)
        return rc;
    for (f = fields, i = 0; f->name != NULL; f++, i++) {
        assert(i < DECODE_PRESENT_MAX); /* the present bits hold 32 fields */
        v = json_object_get(obj, f->name);
        if (v == NULL) {
            if (!f->required)
                continue;
            set_detail(detail, detail_len, "\"%s\" is required", f->name);
            return ERR_INVALID;
        }
        bits |= (uint32_t)1 << i;
        if (json_is_null(v) && f->nullable)
            continue;
        rc = decode_value(v, f, out, a, detail, detail_len);
        if (rc)
            return rc;
    }
    if (present != NULL)
        *present = bits;
    return ERR_OK;
}
