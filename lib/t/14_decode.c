/*
 * 14_decode.c - strict JSON decoding: one table of documents and the detail
 * each must produce, then the values and present bits of good input.
 */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "decode.h"
#include "t.h"

struct item {
    char   *name;
    int64_t quantity;
    int     gift;
    char   *note;
    json_t *attrs;
    json_t *tags;
    int64_t any;
};

#define I struct item
static const struct decode_field item_fields[] = {
    {"name", DECODE_STR, offsetof(I, name), 1, 1, 200, 0},
    {"quantity", DECODE_I64, offsetof(I, quantity), 1, 1, 99, 0},
    {"gift", DECODE_BOOL, offsetof(I, gift), 0, 0, 0, 0},
    {"note", DECODE_STR, offsetof(I, note), 0, 0, 0, 1},
    {"attrs", DECODE_OBJECT, offsetof(I, attrs), 0, 0, 0, 0},
    {"tags", DECODE_ARRAY, offsetof(I, tags), 0, 0, 0, 1},
    {"any", DECODE_I64, offsetof(I, any), 0, 0, 0, 0},
    {NULL},
};
#undef I

static const struct {
    const char *json;
    const char *detail; /* NULL = accepted */
} cases[] = {
    {"{\"name\":\"a\",\"quantity\":1}", NULL},
    {"{\"name\":\"a\",\"quantity\":1,\"foo\":1}", "unknown field \"foo\""},
    {"{\"foo\":1}", "unknown field \"foo\""},
    {"{\"na\\\"me\\n\":1}", "unknown field \"na?me?\""},
    {"{\"quantity\":1}", "\"name\" is required"},
    {"{\"name\":\"a\"}", "\"quantity\" is required"},
    {"{\"name\":1,\"quantity\":1}", "\"name\" must be a string of 1 to 200 bytes"},
    {"{\"name\":\"\",\"quantity\":1}", "\"name\" must be a string of 1 to 200 bytes"},
    {"{\"name\":null,\"quantity\":1}", "\"name\" must be a string of 1 to 200 bytes"},
    {"{\"name\":\"a\",\"quantity\":0}", "\"quantity\" must be an integer between 1 and 99"},
    {"{\"name\":\"a\",\"quantity\":100}", "\"quantity\" must be an integer between 1 and 99"},
    {"{\"name\":\"a\",\"quantity\":99}", NULL},
    {"{\"name\":\"a\",\"quantity\":1.0}", "\"quantity\" must be an integer between 1 and 99"},
    {"{\"name\":\"a\",\"quantity\":\"1\"}", "\"quantity\" must be an integer between 1 and 99"},
    {"{\"name\":\"a\",\"quantity\":true}", "\"quantity\" must be an integer between 1 and 99"},
    {"{\"name\":\"a\",\"quantity\":1,\"any\":1.5}", "\"any\" must be an integer"},
    {"{\"name\":\"a\",\"quantity\":1,\"any\":-9223372036854775808}", NULL},
    {"{\"name\":\"a\",\"quantity\":1,\"gift\":1}", "\"gift\" must be a boolean"},
    {"{\"name\":\"a\",\"quantity\":1,\"gift\":null}", "\"gift\" must be a boolean"},
    {"{\"name\":\"a\",\"quantity\":1,\"note\":null}", NULL},
    {"{\"name\":\"a\",\"quantity\":1,\"note\":5}", "\"note\" must be a string"},
    {"{\"name\":\"a\",\"quantity\":1,\"attrs\":[]}", "\"attrs\" must be an object"},
    {"{\"name\":\"a\",\"quantity\":1,\"tags\":{}}", "\"tags\" must be an array"},
    {"{\"name\":\"a\",\"quantity\":1,\"tags\":null}", NULL},
    {"{\"name\":\"a\\u0000b\",\"quantity\":1}", "\"name\" must not contain NUL bytes"},
    {"[1]", "expected a JSON object"},
};

static void
test_table(void)
{
    struct arena *a = arena_create();
    struct item   it;
    json_t       *j;
    char          detail[128];
    size_t        i;
    int           rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        j = json_loads(cases[i].json, JSON_ALLOW_NUL, NULL);
        if (!T_OK(j != NULL, "case %zu parses", i))
            continue;
        memset(&it, 0, sizeof(it));
        detail[0] = '\0';
        rc = decode_object(j, item_fields, &it, NULL, a, detail, sizeof(detail));
        T_EQ_INT(rc, cases[i].detail ? ERR_INVALID : ERR_OK, "%s rc", cases[i].json);
        T_EQ_STR(detail, cases[i].detail ? cases[i].detail : "", "%s detail", cases[i].json);
        json_decref(j);
    }
    arena_destroy(a);
}

static void
test_values(void)
{
    struct arena *a = arena_create();
    struct item   it = {0};
    json_t       *j;
    uint32_t      present = 0xffffffff;
    char          detail[128];
    int           rc;

    it.note = "untouched";
    j = json_loads("{\"gift\":true,\"quantity\":7,\"name\":\"caf\\u00e9\",\"note\":null,"
                   "\"attrs\":{\"k\":1}}",
                   0, NULL);
    rc = decode_object(j, item_fields, &it, &present, a, detail, sizeof(detail));
    T_EQ_INT(rc, ERR_OK, "good document decodes");
    T_EQ_STR(it.name, "caf\xc3\xa9", "string value, UTF-8");
    T_OK(it.name != json_string_value(json_object_get(j, "name")), "string is an arena copy");
    T_EQ_INT(it.quantity, 7, "integer value");
    T_EQ_INT(it.gift, 1, "boolean value");
    T_EQ_STR(it.note, "untouched", "null leaves a nullable field untouched");
    T_OK(it.attrs == json_object_get(j, "attrs"), "object is borrowed");
    T_EQ_INT(present, 0x1f, "present bits: name quantity gift note attrs");
    json_decref(j);

    j = json_loads("{\"name\":\"x\",\"foo\":1}", 0, NULL);
    present = 0xffffffff;
    rc = decode_object(j, item_fields, &it, &present, a, NULL, 0);
    T_EQ_INT(rc, ERR_INVALID, "a NULL detail buffer is allowed");
    T_EQ_INT(present, 0, "present is cleared on failure");
    json_decref(j);
    arena_destroy(a);
}

/* Unknown keys are quoted back bounded, and never cut inside a character. */
static void
test_long_key(void)
{
    struct arena *a = arena_create();
    struct item   it;
    char          key[301], doc[400], detail[256], small[47], want[128];
    json_t       *j;
    int           i;

    memset(key, 'k', 63);
    memcpy(key + 63, "\xc3\xa9", 2); /* straddles the 64-byte quote limit */
    key[65] = '\0';
    snprintf(doc, sizeof(doc), "{\"%s\":1}", key);
    j = json_loads(doc, 0, NULL);
    T_EQ_INT(decode_object(j, item_fields, &it, NULL, a, detail, sizeof(detail)), ERR_INVALID,
             "a long unknown key fails");
    snprintf(want, sizeof(want), "unknown field \"%.63s...\"", key);
    T_EQ_STR(detail, want, "the key is cut before a split character");
    json_decref(j);

    for (i = 0; i < 150; i++)
        memcpy(key + 2 * i, "\xc3\xa9", 2);
    key[300] = '\0';
    snprintf(doc, sizeof(doc), "{\"%s\":1}", key);
    j = json_loads(doc, 0, NULL);
    T_EQ_INT(decode_object(j, item_fields, &it, NULL, a, small, sizeof(small)), ERR_INVALID,
             "a long unknown key fails into a small buffer");
    T_EQ_INT((long long)strlen(small), 45, "the detail drops the half character at its end");
    T_EQ_STR(small + 43, "\xc3\xa9", "the detail ends with a whole character");
    json_decref(j);
    arena_destroy(a);
}

int
main(void)
{
    test_table();
    test_values();
    test_long_key();
    return T_DONE();
}
