/*
 * decode_json.c - libFuzzer target: lib/decode.c's decode_object on what
 * lib/req.c's req_json hands it (req_json itself reads the input as the body
 * of a JSON request), with field tables covering every type: strings with
 * and without a length range, integers with a range (narrow, negative, the
 * full int64 range) and without, booleans, objects and arrays, nullable and
 * required members; an object member is decoded again with a nested table.
 * The same document is also read with JSON_ALLOW_NUL, which lets a string
 * with a NUL byte reach the decoder.
 *
 * Every document is decoded with details of several sizes (1 to 256 bytes)
 * to exercise the truncation of details.
 *
 * Invariants: ERR_OK or ERR_INVALID only; on ERR_OK every member is a known
 * field, every value has its field's type and range, a string is a NUL-free
 * arena copy of the JSON string, present bits are exactly the members given,
 * required ones included, and nothing else was written; on ERR_INVALID the
 * detail is non-empty, NUL-terminated inside its buffer and valid UTF-8
 * (it reaches clients inside problem+json). req_json refuses with
 * ERR_BAD_JSON or ERR_INVALID (not an object) and a detail, never more.
 */
#include <string.h>

#include "arena.h"
#include "conn.h"
#include "decode.h"
#include "fuzz.h"
#include "req.h"

struct rec {
    char   *name, *note, *free_text;
    int64_t qty, big, n, neg;
    int     flag, maybe;
    json_t *obj, *arr, *any_arr;
    char    guard[8]; /* never written */
};

#define R struct rec
/* name, type, offset, required, min, max, nullable */
static const struct decode_field strict_fields[] = {
    {"name", DECODE_STR, offsetof(R, name), 1, 1, 16, 0},
    {"qty", DECODE_I64, offsetof(R, qty), 1, 1, 99, 0},
    {"note", DECODE_STR, offsetof(R, note), 0, 0, 0, 1},
    {"text", DECODE_STR, offsetof(R, free_text), 0, 0, 2000, 0},
    {"big", DECODE_I64, offsetof(R, big), 0, INT64_MIN, INT64_MAX, 0},
    {"n", DECODE_I64, offsetof(R, n), 0, 0, 0, 1},
    {"neg", DECODE_I64, offsetof(R, neg), 0, -5, -1, 0},
    {"flag", DECODE_BOOL, offsetof(R, flag), 0, 0, 0, 0},
    {"maybe", DECODE_BOOL, offsetof(R, maybe), 0, 0, 0, 1},
    {"obj", DECODE_OBJECT, offsetof(R, obj), 0, 0, 0, 0},
    {"arr", DECODE_ARRAY, offsetof(R, arr), 0, 0, 0, 1},
    {"items", DECODE_ARRAY, offsetof(R, any_arr), 0, 0, 0, 0},
    {NULL, 0, 0, 0, 0, 0, 0},
};

/* Everything optional: most documents get past the required check. */
static const struct decode_field loose_fields[] = {
    {"name", DECODE_STR, offsetof(R, name), 0, 0, 0, 1},
    {"qty", DECODE_I64, offsetof(R, qty), 0, 0, 0, 0},
    {"note", DECODE_STR, offsetof(R, note), 0, 3, 3, 0},
    {"flag", DECODE_BOOL, offsetof(R, flag), 0, 0, 0, 0},
    {"obj", DECODE_OBJECT, offsetof(R, obj), 0, 0, 0, 1},
    {"arr", DECODE_ARRAY, offsetof(R, arr), 0, 0, 0, 0},
    {"big", DECODE_I64, offsetof(R, big), 0, INT64_MIN + 1, 0, 1},
    {NULL, 0, 0, 0, 0, 0, 0},
};
#undef R

static const size_t detail_sizes[] = {1, 2, 5, 17, 40, 256};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1); /* deterministic member order: a crash reproduces */
    return 0;
}

static int
field_index(const struct decode_field *fields, const char *key)
{
    int i;

    for (i = 0; fields[i].name != NULL; i++)
        if (strcmp(fields[i].name, key) == 0)
            return i;
    return -1;
}

static int
range_set(const struct decode_field *f)
{
    return f->min != 0 || f->max != 0;
}

static size_t
field_size(const struct decode_field *f)
{
    return f->type == DECODE_I64    ? sizeof(int64_t)
           : f->type == DECODE_BOOL ? sizeof(int)
                                    : sizeof(void *);
}

static void
check_ok(json_t *obj, const struct decode_field *fields, const struct rec *r, uint32_t present)
{
    const struct decode_field *f;
    const char                *key, *s;
    json_t                    *v;
    const char                *field;
    static const char          zero[8];
    int                        i;

    FUZZ_CHECK(json_is_object(obj));
    FUZZ_CHECK(memcmp(r->guard, "\0\0\0\0\0\0\0", 8) == 0);
    json_object_foreach(obj, key, v)
    {
        FUZZ_CHECK(field_index(fields, key) >= 0);
    }
    for (i = 0, f = fields; f->name != NULL; f++, i++) {
        v = json_object_get(obj, f->name);
        FUZZ_CHECK(((present >> i) & 1) == (v != NULL));
        field = (const char *)r + f->offset;
        if (v == NULL || (json_is_null(v) && f->nullable)) {
            FUZZ_CHECK(v != NULL || !f->required);
            FUZZ_CHECK(memcmp(field, zero, field_size(f)) == 0); /* left untouched */
            continue;
        }
        switch (f->type) {
        case DECODE_STR:
            s = *(char *const *)(const void *)field;
            FUZZ_CHECK(json_is_string(v) && s != NULL && s != json_string_value(v));
            FUZZ_CHECK(strlen(s) == json_string_length(v) &&
                       memcmp(s, json_string_value(v), strlen(s)) == 0);
            if (range_set(f))
                FUZZ_CHECK((int64_t)strlen(s) >= f->min && (int64_t)strlen(s) <= f->max);
            break;
        case DECODE_I64:
            FUZZ_CHECK(json_is_integer(v) &&
                       *(const int64_t *)(const void *)field == json_integer_value(v));
            if (range_set(f))
                FUZZ_CHECK(json_integer_value(v) >= f->min && json_integer_value(v) <= f->max);
            break;
        case DECODE_BOOL:
            FUZZ_CHECK(json_is_boolean(v) &&
                       *(const int *)(const void *)field == (json_is_true(v) ? 1 : 0));
            break;
        case DECODE_OBJECT:
        case DECODE_ARRAY:
            FUZZ_CHECK(*(json_t *const *)(const void *)field == v);
            FUZZ_CHECK(f->type == DECODE_OBJECT ? json_is_object(v) : json_is_array(v));
            break;
        }
    }
}

static void
check_detail(const char *detail, size_t detail_len)
{
    size_t n = strnlen(detail, detail_len);

    FUZZ_CHECK(n < detail_len);
    FUZZ_CHECK(n > 0 || detail_len == 1);
    FUZZ_CHECK(utf8_valid(detail, n));
}

static void
decode_with(json_t *j, const struct decode_field *fields, int depth)
{
    struct rec    r;
    struct arena *a;
    uint32_t      present;
    size_t        k;
    char         *detail;
    int           rc;

    for (k = 0; k < sizeof(detail_sizes) / sizeof(detail_sizes[0]); k++) {
        memset(&r, 0, sizeof(r));
        a = arena_create();
        detail = malloc(detail_sizes[k]); /* exactly: writing past it is an ASan report */
        FUZZ_CHECK(detail != NULL);
        memset(detail, 'x', detail_sizes[k]);
        present = 0xdeadbeef;
        rc = decode_object(j, fields, &r, &present, a, detail, detail_sizes[k]);
        FUZZ_CHECK(rc == ERR_OK || rc == ERR_INVALID);
        if (rc == ERR_OK) {
            check_ok(j, fields, &r, present);
            if (r.obj != NULL && depth < 3)
                decode_with(r.obj, loose_fields, depth + 1);
        } else {
            FUZZ_CHECK(present == 0);
            check_detail(detail, detail_sizes[k]);
        }
        free(detail);
        arena_destroy(a);
    }
    /* No detail buffer and no present bits at all. */
    memset(&r, 0, sizeof(r));
    a = arena_create();
    rc = decode_object(j, fields, &r, NULL, a, NULL, 0);
    FUZZ_CHECK(rc == ERR_OK || rc == ERR_INVALID);
    arena_destroy(a);
}

/* The bytes as the body of a JSON request, read by req_json as a handler
 * would; the object (NULL when refused) lives as long as *a. */
static json_t *
via_req_json(const uint8_t *data, size_t size, struct arena **a)
{
    static struct req_hdr ct = {"Content-Type", "application/json"};
    struct req_state     *st;
    json_t               *j = NULL;
    int                   rc;

    *a = arena_create();
    st = arena_new(*a, struct req_state);
    st->req.arena = *a;
    st->req.st = st;
    st->req.method = "POST";
    st->req.path = "/fuzz";
    st->req.request_id = "fuzz";
    st->hdrs = &ct;
    st->nhdrs = 1;
    buf_init_in(&st->body, *a, size);
    buf_append(&st->body, data, size);
    rc = req_json(&st->req, &j);
    if (rc != ERR_OK) {
        FUZZ_CHECK(j == NULL && (rc == ERR_BAD_JSON || rc == ERR_INVALID) && st->err == rc);
        FUZZ_CHECK(st->detail != NULL && st->detail[0] != '\0');
    } else {
        FUZZ_CHECK(json_is_object(j));
    }
    return j;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena *a;
    json_error_t  e;
    json_t       *j = via_req_json(data, size, &a);

    if (j != NULL) {
        decode_with(j, strict_fields, 0);
        decode_with(j, loose_fields, 0);
    }
    arena_destroy(a);
    /* JSON_ALLOW_NUL, which req_json does not use, lets a NUL reach the decoder. */
    j = json_loadb((const char *)data, size,
                   JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (j != NULL) {
        decode_with(j, strict_fields, 0);
        decode_with(j, loose_fields, 0);
        json_decref(j);
    }
    return 0;
}
