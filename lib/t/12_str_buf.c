/*
 * 12_str_buf.c - number parsing at the edge (str_to_i64), UTF-8 checks and
 * the bounded buffer: limits, the sticky error, printf, JSON string
 * escaping, and buffers the arena frees (which must live in the arena).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "str.h"
#include "t.h"

static const struct {
    const char *in;
    int64_t     min, max;
    int         rc;
    int64_t     want;
} i64_cases[] = {
    {"0", INT64_MIN, INT64_MAX, ERR_OK, 0},
    {"-1", INT64_MIN, INT64_MAX, ERR_OK, -1},
    {"42", INT64_MIN, INT64_MAX, ERR_OK, 42},
    {"007", INT64_MIN, INT64_MAX, ERR_OK, 7},
    {"9223372036854775807", INT64_MIN, INT64_MAX, ERR_OK, INT64_MAX},
    {"-9223372036854775808", INT64_MIN, INT64_MAX, ERR_OK, INT64_MIN},
    {"9223372036854775808", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"-9223372036854775809", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"99999999999999999999", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"-", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"12a", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"a12", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {" 1", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"1 ", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"+1", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"1.0", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"0x10", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"--1", INT64_MIN, INT64_MAX, ERR_INVALID, 0},
    {"1", 1, 64, ERR_OK, 1},
    {"64", 1, 64, ERR_OK, 64},
    {"0", 1, 64, ERR_INVALID, 0},
    {"65", 1, 64, ERR_INVALID, 0},
    {"-5", -5, 5, ERR_OK, -5},
    {"-6", -5, 5, ERR_INVALID, 0},
};

static void
test_str_to_i64(void)
{
    size_t  i;
    int64_t v;
    int     rc;

    for (i = 0; i < sizeof(i64_cases) / sizeof(i64_cases[0]); i++) {
        v = 0;
        rc = str_to_i64(str_from(i64_cases[i].in), i64_cases[i].min, i64_cases[i].max, &v);
        T_EQ_INT(rc, i64_cases[i].rc, "str_to_i64(\"%s\") rc", i64_cases[i].in);
        if (rc == ERR_OK)
            T_EQ_INT(v, i64_cases[i].want, "str_to_i64(\"%s\") value", i64_cases[i].in);
    }
    T_EQ_INT(str_z_to_i64(NULL, 0, 10, &v), ERR_INVALID, "NULL is invalid");
    T_EQ_INT(str_to_i64((struct str){"123", 2}, 0, 999, &v), ERR_OK, "a view parses its length");
    T_EQ_INT(v, 12, "only the view's bytes count");
}

static const struct {
    const char *z;
    int         valid;
} utf8_cases[] = {
    {"", 1},
    {"plain ascii", 1},
    {"caf\xc3\xa9", 1},
    {"\xe2\x82\xac", 1},
    {"\xf0\x9f\x98\x80", 1},
    {"\xf4\x8f\xbf\xbf", 1}, /* U+10FFFF */
    {"\xe9t\xe9", 0},
    {"\xc3", 0},
    {"\xe2\x82", 0},         /* truncated */
    {"\xc0\xaf", 0},         /* overlong '/' */
    {"\xe0\x80\xaf", 0},     /* overlong */
    {"\xed\xa0\x80", 0},     /* a surrogate */
    {"\xf4\x90\x80\x80", 0}, /* past U+10FFFF */
    {"\xff", 0},
    {"\x80", 0},
};

static void
test_utf8(void)
{
    size_t i;

    for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++)
        T_EQ_INT(str_utf8_valid(utf8_cases[i].z), utf8_cases[i].valid, "utf-8 case %zu", i);
}

static void
test_str_views(void)
{
    struct str s = STR_LIT("Content-Type");

    T_OK(str_eq(s, "Content-Type"), "str_eq exact");
    T_OK(!str_eq(s, "content-type"), "str_eq is case-sensitive");
    T_OK(str_eqi(s, "CONTENT-TYPE"), "str_eqi ignores ASCII case");
    T_OK(!str_eqi(s, "Content-Typ"), "str_eqi compares lengths");
    T_OK(str_has_prefix(s, "Content-"), "str_has_prefix");
    T_OK(!str_has_prefix(STR_LIT("Con"), "Content-"), "a prefix longer than s");
    T_EQ_INT(str_from(NULL).len, 0, "str_from(NULL) is empty");
}

static void
test_buf_limits(void)
{
    struct buf b;
    char      *p;
    size_t     n;

    buf_init(&b, 8);
    T_EQ_STR(buf_data(&b), "", "an empty buffer reads as \"\"");
    buf_puts(&b, "12345678");
    T_EQ_INT(buf_error(&b), ERR_OK, "exactly max bytes fit");
    buf_putc(&b, '9');
    T_EQ_INT(buf_error(&b), ERR_TOO_LARGE, "one more byte overflows");
    buf_puts(&b, "");
    T_EQ_INT(buf_error(&b), ERR_TOO_LARGE, "the error is sticky");
    T_EQ_STR(buf_data(&b), "12345678", "contents stop at the failure");
    buf_reset(&b);
    T_EQ_INT(buf_error(&b), ERR_OK, "reset clears the error");
    buf_printf(&b, "%d-%s", 12, "ab");
    T_EQ_STR(buf_data(&b), "12-ab", "printf appends");
    buf_printf(&b, "%s", "toolong");
    T_EQ_INT(buf_error(&b), ERR_TOO_LARGE, "printf past max overflows");
    buf_reset(&b);
    buf_append(&b, "x\0y", 3);
    T_EQ_INT(buf_len(&b), 3, "append copies NUL bytes");
    p = buf_take(&b, &n);
    T_OK(p != NULL && n == 3 && memcmp(p, "x\0y", 4) == 0, "take hands over the bytes");
    T_EQ_INT(buf_len(&b), 0, "take leaves the buffer empty");
    free(p);
    buf_free(&b);
}

static const struct {
    const char *in;
    size_t      n;
    const char *want;
} json_cases[] = {
    {"plain", 5, "\"plain\""},
    {"", 0, "\"\""},
    {"a\"b", 3, "\"a\\\"b\""},
    {"a\\b", 3, "\"a\\\\b\""},
    {"\n\t\r", 3, "\"\\u000a\\u0009\\u000d\""},
    {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
    {"nul\0x", 5, "\"nul\\u0000x\""},
    {"caf\xc3\xa9", 5, "\"caf\xc3\xa9\""},
    {"</script>", 9, "\"</script>\""},
};

struct holder {
    int        n;
    struct buf b;
};

static void
test_buf_json(void)
{
    struct buf b;
    size_t     i;

    for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
        buf_init(&b, 1024);
        buf_json_str(&b, json_cases[i].in, json_cases[i].n);
        T_EQ_STR(buf_data(&b), json_cases[i].want, "json escape case %zu", i);
        buf_free(&b);
    }
}

static void
test_buf_arena(void)
{
    struct arena  *a = arena_create();
    struct buf    *in;
    struct holder *h;

    in = buf_new(a, 1024);
    buf_puts(in, "freed by the arena"); /* LSan reports a leak if it is not */
    T_OK(arena_owns(a, in), "buf_new's struct buf is arena memory");
    h = arena_new(a, struct holder);
    buf_init_in(&h->b, a, 8);
    buf_puts(&h->b, "embedded"); /* freed by the arena too */
    buf_puts(&h->b, "!");
    T_OK(buf_len(&h->b) == 8 && buf_error(&h->b) == ERR_TOO_LARGE, "buf_init_in sets the limit");
    arena_destroy(a);
}

/* A struct buf on the stack whose bytes the arena would free: refused. */
static void
init_in_stack(void)
{
    struct arena *a = arena_create();
    struct buf    b;

    buf_init_in(&b, a, 64);
    buf_puts(&b, "x");
    arena_destroy(a);
}

static void
test_buf_ownership(void)
{
    T_ABORTS(init_in_stack, "not in the arena", "buf_init_in refuses a stack struct buf");
}

int
main(void)
{
    test_str_to_i64();
    test_str_views();
    test_utf8();
    test_buf_limits();
    test_buf_json();
    test_buf_arena();
    test_buf_ownership();
    return T_DONE();
}
