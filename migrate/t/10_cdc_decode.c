/*
 * 10_cdc_decode.c - the binlog decoder (migrate/cdc/cdc_decode.h) on
 * hand-made TABLE_MAP and ROWS event bodies: every column type of the
 * monolith's schema, signed and unsigned integers at their limits, NULLs,
 * CHAR (short and longer than 255 bytes) and ENUM, which the connector's
 * own decoder gets wrong, DATETIME(3), and the refusals (MINIMAL images,
 * missing column names, truncated bytes).
 */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "migrate/cdc/cdc_decode.h"
#include "t.h"

struct b {
    uint8_t p[4096];
    size_t  n;
};

static void
put(struct b *b, const void *p, size_t n)
{
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void
u8(struct b *b, unsigned v)
{
    b->p[b->n++] = (uint8_t)v;
}

static void
le(struct b *b, uint64_t v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        u8(b, (unsigned)(v >> (8 * i)) & 0xff);
}

static void
be(struct b *b, uint64_t v, size_t n)
{
    size_t i;

    for (i = n; i > 0; i--)
        u8(b, (unsigned)(v >> (8 * (i - 1))) & 0xff);
}

static void
lstr(struct b *b, const char *s) /* packed length + bytes */
{
    u8(b, (unsigned)strlen(s));
    put(b, s, strlen(s));
}

/* The columns: id BIGINT, n INT, t TINYINT, u INT UNSIGNED, v VARCHAR(200)
 * utf8mb4, c CHAR(2) utf8mb4, l CHAR(100) utf8mb4, x TEXT, e ENUM('a','bb'),
 * d DATETIME(3). */
#define NCOLS 10
static const char *const names[NCOLS] = {"id", "n", "t", "u", "v", "c", "l", "x", "e", "d"};

static void
table_map(struct b *b, int with_names)
{
    struct b om = {{0}, 0};
    size_t   i;

    le(b, 42, 6); /* table id */
    le(b, 1, 2);
    lstr(b, "shop");
    u8(b, 0);
    lstr(b, "things");
    u8(b, 0);
    u8(b, NCOLS);
    put(b, (uint8_t[]){8, 3, 1, 3, 15, 254, 254, 252, 254, 18}, NCOLS);
    u8(b, 2 + 2 + 2 + 1 + 2 + 1); /* metadata bytes */
    le(b, 800, 2);                /* VARCHAR(200) utf8mb4 */
    u8(b, 0xfe);                  /* CHAR(2): real type STRING, 8 bytes */
    u8(b, 8);
    u8(b, 0xfe ^ 0x10); /* CHAR(100): 400 bytes, two bits of it in the type byte */
    u8(b, 400 & 0xff);
    u8(b, 2);    /* TEXT: 2 length bytes */
    u8(b, 0xf7); /* ENUM, pack length 1 */
    u8(b, 1);
    u8(b, 3);        /* DATETIME(3) */
    le(b, 0x3fe, 2); /* null bitmap: all but id nullable */
    u8(b, 1);        /* SIGNEDNESS over id, n, t, u: u unsigned */
    u8(b, 1);
    u8(b, 0x10);
    if (with_names) {
        for (i = 0; i < NCOLS; i++)
            lstr(&om, names[i]);
        u8(b, 4); /* COLUMN_NAME */
        u8(b, (unsigned)om.n);
        put(b, om.p, om.n);
    }
    u8(b, 6); /* ENUM_STR_VALUE */
    u8(b, 6);
    put(b, (uint8_t[]){2, 1, 'a', 2, 'b', 'b'}, 6);
    u8(b, 2); /* DEFAULT_CHARSET: utf8mb4 (45), but character column 1 (c) ascii (11) */
    u8(b, 3);
    put(b, (uint8_t[]){45, 1, 11}, 3);
    u8(b, 8); /* SIMPLE_PRIMARY_KEY: column 0 */
    u8(b, 1);
    u8(b, 0);
}

static uint64_t
datetime2(int y, int mo, int d, int h, int mi, int s)
{
    uint64_t ym = (uint64_t)(y * 13 + mo);

    return (ym << 22 | (uint64_t)d << 17 | (uint64_t)h << 12 | (uint64_t)mi << 6 | (uint64_t)s) +
           0x8000000000ULL;
}

/* One full image; nulls marks columns left NULL. */
static void
row(struct b *b, uint64_t id, int32_t n, int8_t t, uint32_t u, const char *v, const char *c,
    const char *x, unsigned e, unsigned nulls)
{
    le(b, nulls, 2);
    le(b, id, 8);
    if (!(nulls & 2))
        le(b, (uint32_t)n, 4);
    if (!(nulls & 4))
        u8(b, (uint8_t)t);
    if (!(nulls & 8))
        le(b, u, 4);
    if (!(nulls & 16)) {
        le(b, strlen(v), 2); /* max 800 bytes: 2 length bytes */
        put(b, v, strlen(v));
    }
    if (!(nulls & 32)) {
        u8(b, (unsigned)strlen(c));
        put(b, c, strlen(c));
    }
    if (!(nulls & 64)) {
        le(b, 5, 2); /* CHAR(100): 2 length bytes, padded by the server */
        put(b, "ab   ", 5);
    }
    if (!(nulls & 128)) {
        le(b, strlen(x), 2);
        put(b, x, strlen(x));
    }
    if (!(nulls & 256))
        u8(b, e);
    if (!(nulls & 512)) {
        be(b, datetime2(2026, 12, 7, 14, 31, 5), 5);
        be(b, 1230, 2); /* .123: hundreds of microseconds */
    }
}

static void
rows_header(struct b *b, int v2, int update)
{
    le(b, 42, 6);
    le(b, 1, 2);
    if (v2) {
        le(b, 2, 2); /* no extra data */
    }
    u8(b, NCOLS);
    le(b, 0x3ff, 2);
    if (update)
        le(b, 0x3ff, 2);
}

static void
test_table_map(struct arena *a)
{
    struct b          b = {{0}, 0};
    struct cdc_table *t;
    char              err[CDC_ERR_MAX];
    size_t            i;

    table_map(&b, 1);
    T_EQ_INT(cdc_table_map_parse(b.p, b.n, a, &t, err), ERR_OK, "table map parses");
    T_EQ_STR(t->db, "shop", "database name");
    T_EQ_STR(t->name, "things", "table name");
    T_EQ_INT(t->ncols, NCOLS, "column count");
    for (i = 0; i < NCOLS; i++)
        T_EQ_STR(t->names[i], names[i], "column %zu name", i);
    T_EQ_INT(t->cols[5].type, CDC_T_STRING, "CHAR(2) is a STRING");
    T_EQ_INT(t->cols[5].meta, 8, "CHAR(2) utf8mb4 holds 8 bytes");
    T_EQ_INT(t->cols[6].type, CDC_T_STRING, "CHAR(100) real type from the folded byte");
    T_EQ_INT(t->cols[6].meta, 400, "CHAR(100) utf8mb4 holds 400 bytes");
    T_EQ_INT(t->cols[8].type, CDC_T_ENUM, "ENUM resolved from STRING metadata");
    T_EQ_INT(t->cols[8].nlabels, 2, "ENUM labels");
    T_EQ_STR(t->cols[8].labels[1], "bb", "second ENUM label");
    T_EQ_INT(t->cols[3].is_unsigned, 1, "INT UNSIGNED from SIGNEDNESS");
    T_EQ_INT(t->cols[1].is_unsigned, 0, "INT signed");
    T_EQ_INT(t->cols[0].pk, 1, "primary key column");
    T_EQ_INT(t->cols[1].pk, 0, "not a key column");
    T_EQ_INT(t->cols[0].nullable, 0, "id not nullable");
    T_EQ_INT(t->cols[9].meta, 3, "DATETIME(3) precision");
    T_EQ_INT(t->cols[4].charset, 45, "VARCHAR: the default charset");
    T_EQ_INT(t->cols[5].charset, 11, "CHAR(2): its own charset");
    T_EQ_INT(t->cols[7].charset, 45, "TEXT: the default charset");
    T_EQ_INT(t->cols[0].charset, 0, "BIGINT: no charset");

    b.n = 0;
    table_map(&b, 0);
    T_EQ_INT(cdc_table_map_parse(b.p, b.n, a, &t, err), ERR_INVALID, "no column names: refused");
    T_OK(strstr(err, "binlog_row_metadata must be FULL") != NULL, "says why: %s", err);
    b.n = 0;
    table_map(&b, 1);
    T_EQ_INT(cdc_table_map_parse(b.p, 20, a, &t, err), ERR_INVALID, "truncated: refused");
}

static const struct cdc_table *
things(struct arena *a)
{
    struct b          b = {{0}, 0};
    struct cdc_table *t;
    char              err[CDC_ERR_MAX];

    table_map(&b, 1);
    return cdc_table_map_parse(b.p, b.n, a, &t, err) == ERR_OK ? t : NULL;
}

static void
test_rows(struct arena *a)
{
    const struct cdc_table *t = things(a);
    struct cdc_change      *ch = NULL;
    struct b                b = {{0}, 0};
    size_t                  n = 0, cap = 0;
    char                    err[CDC_ERR_MAX];
    int                     v2;

    for (v2 = 0; v2 < 2; v2++) {
        b.n = 0;
        n = 0;
        rows_header(&b, v2, 0);
        row(&b, 9223372036854775807ULL, -2147483647 - 1, -128, 4294967295U,
            "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", "DE", "long text", 2, 0);
        row(&b, (uint64_t)-5, -1, -1, 0, "", "", "", 1, 2 | 4 | 16 | 32 | 128 | 512);
        T_EQ_INT(cdc_rows_parse(t, v2 ? CDC_EV_WRITE_ROWS : CDC_EV_WRITE_ROWS_V1, b.p, b.n, a, &ch,
                                &n, &cap, err),
                 ERR_OK, "write rows v%d parse: %s", v2 + 1, err);
        T_EQ_INT(n, 2, "two inserts");
        T_EQ_INT(ch[0].op, CDC_INSERT, "insert");
        T_OK(ch[0].before == NULL, "an insert has no before image");
        T_EQ_STR(ch[0].table, "things", "table");
        T_EQ_STR(ch[0].after[0], "9223372036854775807", "BIGINT max");
        T_EQ_STR(ch[0].after[1], "-2147483648", "INT min sign-extended");
        T_EQ_STR(ch[0].after[2], "-128", "TINYINT min sign-extended");
        T_EQ_STR(ch[0].after[3], "4294967295", "INT UNSIGNED max");
        T_EQ_STR(ch[0].after[4], "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80",
                 "VARCHAR multibyte UTF-8 unchanged");
        T_EQ_STR(ch[0].after[5], "DE", "CHAR(2)");
        T_EQ_STR(ch[0].after[6], "ab", "CHAR(100) without padding");
        T_EQ_STR(ch[0].after[7], "long text", "TEXT");
        T_EQ_STR(ch[0].after[8], "bb", "ENUM label");
        T_EQ_STR(ch[0].after[9], "2026-12-07T14:31:05.123Z", "DATETIME(3)");
        T_EQ_STR(ch[1].after[0], "-5", "BIGINT negative");
        T_OK(ch[1].after[1] == NULL && ch[1].after[2] == NULL && ch[1].after[9] == NULL,
             "NULLs are NULL pointers");
        T_EQ_STR(ch[1].after[3], "0", "zero");
        T_EQ_STR(ch[1].after[8], "a", "first ENUM label");
    }

    b.n = 0;
    n = 0;
    rows_header(&b, 0, 1);
    row(&b, 7, 1, 1, 1, "old", "AA", "x", 1, 0);
    row(&b, 7, 2, 2, 2, "new", "BB", "y", 2, 0);
    T_EQ_INT(cdc_rows_parse(t, CDC_EV_UPDATE_ROWS_V1, b.p, b.n, a, &ch, &n, &cap, err), ERR_OK,
             "update parses");
    T_EQ_INT(n, 1, "one update of two images");
    T_EQ_INT(ch[0].op, CDC_UPDATE, "update");
    T_EQ_STR(ch[0].before[4], "old", "before image");
    T_EQ_STR(ch[0].after[4], "new", "after image");

    b.n = 0;
    n = 0;
    rows_header(&b, 0, 0);
    row(&b, 7, 2, 2, 2, "gone", "BB", "y", 2, 0);
    T_EQ_INT(cdc_rows_parse(t, CDC_EV_DELETE_ROWS_V1, b.p, b.n, a, &ch, &n, &cap, err), ERR_OK,
             "delete parses");
    T_OK(n == 1 && ch[0].op == CDC_DELETE && ch[0].after == NULL, "delete has only before");
    T_EQ_STR(ch[0].before[4], "gone", "deleted row's value");

    b.n = 0;
    n = 0;
    le(&b, 42, 6);
    le(&b, 1, 2);
    u8(&b, NCOLS);
    le(&b, 0x001, 2); /* MINIMAL: only the key */
    le(&b, 0, 1);
    le(&b, 7, 8);
    T_EQ_INT(cdc_rows_parse(t, CDC_EV_DELETE_ROWS_V1, b.p, b.n, a, &ch, &n, &cap, err), ERR_INVALID,
             "a MINIMAL image is refused");
    T_OK(strstr(err, "not FULL") != NULL, "says why: %s", err);

    b.n = 0;
    n = 0;
    rows_header(&b, 0, 0);
    row(&b, 7, 2, 2, 2, "cut", "BB", "y", 2, 0);
    T_EQ_INT(cdc_rows_parse(t, CDC_EV_WRITE_ROWS_V1, b.p, b.n - 3, a, &ch, &n, &cap, err),
             ERR_INVALID, "a truncated row is refused");

    b.n = 0;
    n = 0;
    rows_header(&b, 0, 0);
    row(&b, 7, 2, 2, 2, "x", "BB", "y", 3, 0);
    T_EQ_INT(cdc_rows_parse(t, CDC_EV_WRITE_ROWS_V1, b.p, b.n, a, &ch, &n, &cap, err), ERR_INVALID,
             "an ENUM index without a label is refused");
}

/* Integer widths at their limits, both signednesses, table-driven. */
static void
test_ints(struct arena *a)
{
    static const struct {
        uint8_t     type;
        int         is_unsigned;
        uint64_t    raw;
        size_t      bytes;
        const char *want;
    } cases[] = {
        {CDC_T_TINY, 0, 0x7f, 1, "127"},
        {CDC_T_TINY, 0, 0x80, 1, "-128"},
        {CDC_T_TINY, 1, 0xff, 1, "255"},
        {CDC_T_SHORT, 0, 0x8000, 2, "-32768"},
        {CDC_T_SHORT, 1, 0xffff, 2, "65535"},
        {CDC_T_INT24, 0, 0x800000, 3, "-8388608"},
        {CDC_T_INT24, 0, 0xffffff, 3, "-1"},
        {CDC_T_INT24, 1, 0xffffff, 3, "16777215"},
        {CDC_T_LONG, 0, 0xffffffff, 4, "-1"},
        {CDC_T_LONG, 0, 0x7fffffff, 4, "2147483647"},
        {CDC_T_LONGLONG, 0, 0x8000000000000000ULL, 8, "-9223372036854775808"},
        {CDC_T_LONGLONG, 1, 0xffffffffffffffffULL, 8, "18446744073709551615"},
        {CDC_T_LONGLONG, 0, 0, 8, "0"},
    };
    struct cdc_column c;
    struct b          b;
    const char       *v;
    size_t            i, used;
    char              err[CDC_ERR_MAX];

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&c, 0, sizeof(c));
        c.name = "n";
        c.type = cases[i].type;
        c.is_unsigned = cases[i].is_unsigned;
        b.n = 0;
        le(&b, cases[i].raw, cases[i].bytes);
        T_EQ_INT(cdc_value_decode(&c, b.p, b.n, a, &v, &used, err), ERR_OK, "int case %zu", i);
        T_EQ_STR(v, cases[i].want, "int case %zu value", i);
        T_EQ_INT(used, cases[i].bytes, "int case %zu width", i);
    }
    memset(&c, 0, sizeof(c));
    c.name = "ts";
    c.type = CDC_T_TIMESTAMP2;
    c.meta = 3;
    b.n = 0;
    be(&b, 1796653865, 4); /* 2026-12-07T14:31:05Z */
    be(&b, 1230, 2);
    T_EQ_INT(cdc_value_decode(&c, b.p, b.n, a, &v, &used, err), ERR_OK, "TIMESTAMP(3)");
    T_EQ_STR(v, "2026-12-07T14:31:05.123Z", "TIMESTAMP(3) in UTC");
    T_EQ_INT(used, 6, "TIMESTAMP(3) width");
    c.type = CDC_T_DATETIME2;
    c.meta = 0;
    b.n = 0;
    be(&b, datetime2(1970, 1, 1, 0, 0, 0), 5);
    T_EQ_INT(cdc_value_decode(&c, b.p, b.n, a, &v, &used, err), ERR_OK, "DATETIME(0)");
    T_EQ_STR(v, "1970-01-01T00:00:00.000Z", "DATETIME(0) with three fraction digits");
    T_EQ_INT(used, 5, "DATETIME(0) has no fraction bytes");
    c.type = CDC_T_DATE;
    b.n = 0;
    le(&b, 2026u << 9 | 12u << 5 | 7u, 3);
    T_EQ_INT(cdc_value_decode(&c, b.p, b.n, a, &v, &used, err), ERR_OK, "DATE");
    T_EQ_STR(v, "2026-12-07", "DATE text");
    memset(&c, 0, sizeof(c));
    c.name = "f";
    c.type = CDC_T_NEWDECIMAL;
    T_EQ_INT(cdc_value_decode(&c, b.p, b.n, a, &v, &used, err), ERR_INVALID,
             "a type we do not decode is refused");
}

int
main(void)
{
    struct arena *a = arena_create();

    test_table_map(a);
    test_rows(a);
    test_ints(a);
    arena_destroy(a);
    return T_DONE();
}
