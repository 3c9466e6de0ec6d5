/*
 * cdc_decode.c - TABLE_MAP metadata and row images, byte by byte
 * (cdc_decode.h). The layouts are MariaDB's (sql/log_event.h,
 * sql/log_event_server.cc, the KB's "Rows event" and "TABLE_MAP_EVENT"
 * pages): little-endian lengths and integers, big-endian temporal packing,
 * bitmaps least significant bit first except SIGNEDNESS (most significant).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "migrate/cdc/cdc_decode.h"

/* Optional metadata field types (MariaDB enum Table_map_log_event::Optional_metadata_field_type).
 */
enum {
    OM_SIGNEDNESS = 1,
    OM_DEFAULT_CHARSET,
    OM_COLUMN_CHARSET,
    OM_COLUMN_NAME,
    OM_SET_STR_VALUE,
    OM_ENUM_STR_VALUE,
    OM_GEOMETRY_TYPE,
    OM_SIMPLE_PRIMARY_KEY,
    OM_PRIMARY_KEY_WITH_PREFIX,
};

/* A bounded reader: every get fails (sticky) instead of reading past end. */
struct rd {
    const uint8_t *p, *end;
    int            bad;
};

static int
rd_need(struct rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static uint64_t
rd_le(struct rd *r, size_t n)
{
    uint64_t v = 0;
    size_t   i;

    if (!rd_need(r, n))
        return 0;
    for (i = 0; i < n; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return v;
}

static uint64_t
rd_be(struct rd *r, size_t n)
{
    uint64_t v = 0;
    size_t   i;

    if (!rd_need(r, n))
        return 0;
    for (i = 0; i < n; i++)
        v = v << 8 | r->p[i];
    r->p += n;
    return v;
}

/* A length-encoded integer (net_field_length); 251 (NULL) is malformed here. */
static uint64_t
rd_packed(struct rd *r)
{
    uint8_t b;

    if (!rd_need(r, 1))
        return 0;
    b = *r->p++;
    if (b < 251)
        return b;
    if (b == 252)
        return rd_le(r, 2);
    if (b == 253)
        return rd_le(r, 3);
    if (b == 254)
        return rd_le(r, 8);
    r->bad = 1;
    return 0;
}

static const uint8_t *
rd_bytes(struct rd *r, size_t n)
{
    const uint8_t *p = r->p;

    if (!rd_need(r, n))
        return NULL;
    r->p += n;
    return p;
}

static char *
rd_str(struct rd *r, struct arena *a, size_t n)
{
    const uint8_t *p = rd_bytes(r, n);

    return p != NULL ? arena_strndup(a, (const char *)p, n) : NULL;
}

static int
fail(char *err, const char *what)
{
    snprintf(err, CDC_ERR_MAX, "%s", what);
    return ERR_INVALID;
}

/* ---- TABLE_MAP ------------------------------------------------------------------------------ */

static int
is_numeric(uint8_t t)
{
    return t == CDC_T_TINY || t == CDC_T_SHORT || t == CDC_T_INT24 || t == CDC_T_LONG ||
           t == CDC_T_LONGLONG || t == CDC_T_FLOAT || t == CDC_T_DOUBLE || t == CDC_T_NEWDECIMAL;
}

static int
is_character(uint8_t t)
{
    return t == CDC_T_STRING || t == CDC_T_VARCHAR || t == CDC_T_VAR_STRING || t == CDC_T_BLOB ||
           t == CDC_T_TINY_BLOB || t == CDC_T_MEDIUM_BLOB || t == CDC_T_LONG_BLOB;
}

/* The per-column metadata block: its width depends on the type. CHAR, ENUM
 * and SET all travel as STRING, the real type in the first metadata byte;
 * a CHAR longer than 255 bytes keeps two bits of its length there too. */
static void
column_meta(struct rd *r, struct cdc_column *c)
{
    uint8_t b0, b1;

    switch (c->type) {
    case CDC_T_FLOAT:
    case CDC_T_DOUBLE:
    case CDC_T_BLOB:
    case CDC_T_TINY_BLOB:
    case CDC_T_MEDIUM_BLOB:
    case CDC_T_LONG_BLOB:
    case CDC_T_GEOMETRY:
    case CDC_T_JSON:
    case CDC_T_TIMESTAMP2:
    case CDC_T_DATETIME2:
    case CDC_T_TIME2:
        c->meta = (uint16_t)rd_le(r, 1);
        break;
    case CDC_T_VARCHAR:
    case CDC_T_VAR_STRING:
        c->meta = (uint16_t)rd_le(r, 2);
        break;
    case CDC_T_NEWDECIMAL:
    case CDC_T_BIT:
        c->meta = (uint16_t)rd_be(r, 2);
        break;
    case CDC_T_STRING:
    case CDC_T_ENUM:
    case CDC_T_SET:
        b0 = (uint8_t)rd_le(r, 1);
        b1 = (uint8_t)rd_le(r, 1);
        if ((b0 & 0x30) != 0x30) {
            c->meta = (uint16_t)(b1 | (((b0 & 0x30) ^ 0x30) << 4));
            c->type = (uint8_t)(b0 | 0x30);
        } else {
            c->meta = b1;
            c->type = b0;
        }
        break;
    default:
        c->meta = 0;
    }
}

/* ENUM_STR_VALUE: for each ENUM column in order, its labels. */
static void
enum_labels(struct rd *r, struct cdc_table *t, struct arena *a)
{
    size_t i, k, len;

    for (i = 0; i < t->ncols && r->p < r->end && !r->bad; i++) {
        if (t->cols[i].type != CDC_T_ENUM)
            continue;
        t->cols[i].nlabels = (size_t)rd_packed(r);
        if (t->cols[i].nlabels > (size_t)(r->end - r->p)) {
            r->bad = 1;
            return;
        }
        t->cols[i].labels = arena_alloc(a, (t->cols[i].nlabels + 1) * sizeof(char *));
        for (k = 0; k < t->cols[i].nlabels; k++) {
            len = (size_t)rd_packed(r);
            t->cols[i].labels[k] = rd_str(r, a, len);
        }
    }
}

/* One optional metadata field (type, length, value) applied to t. */
static void
optional_field(struct rd *r, struct cdc_table *t, struct arena *a, uint8_t type)
{
    size_t i, k = 0;

    switch (type) {
    case OM_SIGNEDNESS:
        for (i = 0; i < t->ncols && !r->bad; i++) {
            if (!is_numeric(t->cols[i].type))
                continue;
            if (!rd_need(r, k / 8 + 1))
                return;
            t->cols[i].is_unsigned = (r->p[k / 8] & (0x80 >> (k % 8))) != 0;
            k++;
        }
        break;
    case OM_DEFAULT_CHARSET: {
        uint32_t def = (uint32_t)rd_packed(r);

        for (i = 0; i < t->ncols; i++)
            if (is_character(t->cols[i].type))
                t->cols[i].charset = def;
        while (r->p < r->end && !r->bad) { /* (index among character columns, collation) */
            size_t   idx = (size_t)rd_packed(r);
            uint32_t cs = (uint32_t)rd_packed(r);

            for (i = 0, k = 0; i < t->ncols; i++)
                if (is_character(t->cols[i].type) && k++ == idx)
                    t->cols[i].charset = cs;
        }
        break;
    }
    case OM_COLUMN_CHARSET:
        for (i = 0; i < t->ncols && r->p < r->end && !r->bad; i++)
            if (is_character(t->cols[i].type))
                t->cols[i].charset = (uint32_t)rd_packed(r);
        break;
    case OM_COLUMN_NAME:
        for (i = 0; i < t->ncols && !r->bad; i++)
            t->cols[i].name = rd_str(r, a, (size_t)rd_packed(r));
        break;
    case OM_ENUM_STR_VALUE:
        enum_labels(r, t, a);
        break;
    case OM_SIMPLE_PRIMARY_KEY:
    case OM_PRIMARY_KEY_WITH_PREFIX:
        while (r->p < r->end && !r->bad) {
            i = (size_t)rd_packed(r);
            if (type == OM_PRIMARY_KEY_WITH_PREFIX)
                (void)rd_packed(r);
            if (i < t->ncols)
                t->cols[i].pk = 1;
        }
        break;
    default: /* SET labels, geometry types, ENUM/SET charsets: not needed */
        break;
    }
}

int
cdc_table_map_parse(const uint8_t *p, size_t len, struct arena *a, struct cdc_table **out,
                    char *err)
{
    struct rd         r = {p, p + len, 0}, f;
    struct cdc_table *t = arena_new(a, struct cdc_table);
    const uint8_t    *types, *nulls;
    size_t            i, mlen;

    memset(t, 0, sizeof(*t));
    t->id = rd_le(&r, 6);
    (void)rd_le(&r, 2); /* flags */
    t->db = rd_str(&r, a, (size_t)rd_le(&r, 1));
    (void)rd_le(&r, 1); /* NUL */
    t->name = rd_str(&r, a, (size_t)rd_le(&r, 1));
    (void)rd_le(&r, 1);
    t->ncols = (size_t)rd_packed(&r);
    if (r.bad || t->ncols == 0 || t->ncols > 4096)
        return fail(err, "malformed TABLE_MAP event");
    types = rd_bytes(&r, t->ncols);
    mlen = (size_t)rd_packed(&r);
    f = (struct rd){r.p, r.p + mlen, 0};
    if (types == NULL || rd_bytes(&r, mlen) == NULL)
        return fail(err, "malformed TABLE_MAP event");
    t->cols = arena_alloc(a, t->ncols * sizeof(*t->cols));
    memset(t->cols, 0, t->ncols * sizeof(*t->cols));
    for (i = 0; i < t->ncols; i++) {
        t->cols[i].type = types[i];
        column_meta(&f, &t->cols[i]);
    }
    nulls = rd_bytes(&r, (t->ncols + 7) / 8);
    if (f.bad || nulls == NULL)
        return fail(err, "malformed TABLE_MAP metadata");
    for (i = 0; i < t->ncols; i++)
        t->cols[i].nullable = (nulls[i / 8] >> (i % 8)) & 1;
    while (r.p < r.end && !r.bad) {
        uint8_t type = (uint8_t)rd_le(&r, 1);
        size_t  flen = (size_t)rd_packed(&r);

        f = (struct rd){r.p, r.p + flen, 0};
        if (rd_bytes(&r, flen) == NULL)
            break;
        optional_field(&f, t, a, type);
        if (f.bad)
            return fail(err, "malformed TABLE_MAP optional metadata");
    }
    if (r.bad)
        return fail(err, "malformed TABLE_MAP optional metadata");
    t->names = arena_alloc(a, t->ncols * sizeof(char *));
    for (i = 0; i < t->ncols; i++) {
        if (t->cols[i].name == NULL) {
            snprintf(err, CDC_ERR_MAX,
                     "table %s.%s: no column names in TABLE_MAP (binlog_row_metadata must be FULL)",
                     t->db, t->name);
            return ERR_INVALID;
        }
        t->names[i] = t->cols[i].name;
    }
    *out = t;
    return ERR_OK;
}

/* ---- values --------------------------------------------------------------------------------- */

static const char *
int_text(struct arena *a, uint64_t v, size_t bytes, int is_unsigned)
{
    int64_t s;

    if (is_unsigned)
        return arena_printf(a, "%llu", (unsigned long long)v);
    if (bytes < 8 && (v & (1ULL << (8 * bytes - 1))))
        v |= ~0ULL << (8 * bytes); /* sign-extend */
    s = (int64_t)v;
    return arena_printf(a, "%lld", (long long)s);
}

/* Fractional seconds of fsp digits in (fsp+1)/2 big-endian bytes, as microseconds. */
static uint32_t
frac_us(struct rd *r, unsigned fsp)
{
    static const uint32_t scale[] = {0, 10000, 10000, 100, 100, 1, 1};
    size_t                n = (fsp + 1) / 2;

    return n ? (uint32_t)rd_be(r, n) * scale[fsp] : 0;
}

/* DATETIME2: 40 bits big-endian, offset by 2^39: sign, year*13+month (17),
 * day (5), hour (5), minute (6), second (6); then the fraction. */
static const char *
datetime2_text(struct rd *r, struct arena *a, unsigned fsp)
{
    int64_t  v = (int64_t)rd_be(r, 5) - 0x8000000000LL;
    uint32_t us = frac_us(r, fsp);
    int64_t  ym = (v >> 22) & 0x1FFFF;

    return arena_printf(a, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", (int)(ym / 13), (int)(ym % 13),
                        (int)((v >> 17) & 31), (int)((v >> 12) & 31), (int)((v >> 6) & 63),
                        (int)(v & 63), us / 1000);
}

static const char *
timestamp2_text(struct rd *r, struct arena *a, unsigned fsp)
{
    time_t    s = (time_t)rd_be(r, 4);
    uint32_t  us = frac_us(r, fsp);
    struct tm tm;

    gmtime_r(&s, &tm);
    return arena_printf(a, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us / 1000);
}

/* A string of len bytes; CHAR drops the trailing spaces the server pads with. */
static const char *
string_text(struct rd *r, struct arena *a, size_t len, int is_char)
{
    const uint8_t *p = rd_bytes(r, len);

    if (p == NULL)
        return NULL;
    while (is_char && len > 0 && p[len - 1] == ' ')
        len--;
    return arena_strndup(a, (const char *)p, len);
}

static const char *
enum_text(struct rd *r, struct arena *a, const struct cdc_column *c, char *err)
{
    uint64_t v = rd_le(r, c->meta == 2 ? 2 : 1);

    if (r->bad)
        return NULL;
    if (v == 0) /* the "" error value of a non-strict insert */
        return arena_strdup(a, "");
    if (v > c->nlabels || c->labels == NULL) {
        snprintf(err, CDC_ERR_MAX, "column %s: ENUM value %llu has no label", c->name,
                 (unsigned long long)v);
        return NULL;
    }
    return c->labels[v - 1];
}

int
cdc_value_decode(const struct cdc_column *c, const uint8_t *p, size_t len, struct arena *a,
                 const char **out, size_t *used, char *err)
{
    struct rd   r = {p, p + len, 0};
    const char *v = NULL;
    uint64_t    d;

    err[0] = '\0';
    switch (c->type) {
    case CDC_T_TINY:
        v = int_text(a, rd_le(&r, 1), 1, c->is_unsigned);
        break;
    case CDC_T_SHORT:
        v = int_text(a, rd_le(&r, 2), 2, c->is_unsigned);
        break;
    case CDC_T_INT24:
        v = int_text(a, rd_le(&r, 3), 3, c->is_unsigned);
        break;
    case CDC_T_LONG:
        v = int_text(a, rd_le(&r, 4), 4, c->is_unsigned);
        break;
    case CDC_T_LONGLONG:
        v = int_text(a, rd_le(&r, 8), 8, c->is_unsigned);
        break;
    case CDC_T_VARCHAR:
    case CDC_T_VAR_STRING:
        v = string_text(&r, a, (size_t)rd_le(&r, c->meta > 255 ? 2 : 1), 0);
        break;
    case CDC_T_STRING:
        v = string_text(&r, a, (size_t)rd_le(&r, c->meta > 255 ? 2 : 1), 1);
        break;
    case CDC_T_BLOB:
    case CDC_T_TINY_BLOB:
    case CDC_T_MEDIUM_BLOB:
    case CDC_T_LONG_BLOB:
        if (c->meta < 1 || c->meta > 4)
            return fail(err, "malformed BLOB metadata");
        v = string_text(&r, a, (size_t)rd_le(&r, c->meta), 0);
        break;
    case CDC_T_ENUM:
        v = enum_text(&r, a, c, err);
        break;
    case CDC_T_DATETIME2:
        v = c->meta <= 6 ? datetime2_text(&r, a, c->meta) : NULL;
        break;
    case CDC_T_TIMESTAMP2:
        v = c->meta <= 6 ? timestamp2_text(&r, a, c->meta) : NULL;
        break;
    case CDC_T_DATE:
        d = rd_le(&r, 3);
        v = arena_printf(a, "%04u-%02u-%02u", (unsigned)(d >> 9), (unsigned)((d >> 5) & 15),
                         (unsigned)(d & 31));
        break;
    default:
        snprintf(err, CDC_ERR_MAX, "column %s: binlog type %u is not decoded", c->name,
                 (unsigned)c->type);
        return ERR_INVALID;
    }
    if (r.bad || v == NULL) {
        if (err[0] == '\0')
            snprintf(err, CDC_ERR_MAX, "column %s: malformed value", c->name);
        return ERR_INVALID;
    }
    *out = v;
    *used = (size_t)(r.p - p);
    return ERR_OK;
}

/* ---- ROWS ----------------------------------------------------------------------------------- */

uint64_t
cdc_rows_table_id(const uint8_t *p, size_t len)
{
    struct rd r = {p, p + len, 0};

    return rd_le(&r, 6);
}

/* One image: the null bitmap over the present columns, then their values. */
static int
image(struct rd *r, const struct cdc_table *t, struct arena *a, const char ***out, char *err)
{
    const char   **v = arena_alloc(a, t->ncols * sizeof(char *));
    const uint8_t *nulls = rd_bytes(r, (t->ncols + 7) / 8);
    size_t         i, used;
    int            rc;

    if (nulls == NULL)
        return fail(err, "malformed row image");
    for (i = 0; i < t->ncols; i++) {
        v[i] = NULL;
        if ((nulls[i / 8] >> (i % 8)) & 1)
            continue;
        rc = cdc_value_decode(&t->cols[i], r->p, (size_t)(r->end - r->p), a, &v[i], &used, err);
        if (rc) {
            char why[CDC_ERR_MAX];

            snprintf(why, sizeof(why), "%s", err);
            snprintf(err, CDC_ERR_MAX, "%.40s.%.40s: %.160s", t->db, t->name, why);
            return rc;
        }
        r->p += used;
    }
    *out = v;
    return ERR_OK;
}

static int
all_present(const uint8_t *bits, size_t ncols)
{
    size_t i;

    for (i = 0; i < ncols; i++)
        if (!((bits[i / 8] >> (i % 8)) & 1))
            return 0;
    return 1;
}

static void
push(struct arena *a, struct cdc_change **changes, size_t *n, size_t *cap,
     const struct cdc_change *c)
{
    struct cdc_change *grown;

    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        grown = arena_alloc(a, *cap * sizeof(*grown));
        if (*n)
            memcpy(grown, *changes, *n * sizeof(*grown));
        *changes = grown;
    }
    (*changes)[(*n)++] = *c;
}

int
cdc_rows_parse(const struct cdc_table *t, int ev, const uint8_t *p, size_t len, struct arena *a,
               struct cdc_change **changes, size_t *n, size_t *cap, char *err)
{
    struct rd         r = {p, p + len, 0};
    int               v2 = ev >= CDC_EV_WRITE_ROWS && ev <= CDC_EV_DELETE_ROWS;
    int               kind = ev - (v2 ? CDC_EV_WRITE_ROWS : CDC_EV_WRITE_ROWS_V1);
    struct cdc_change c;
    const uint8_t    *present, *present2 = NULL;
    const char      **img;
    size_t            width, extra;
    int               rc;

    if (!v2 && (ev < CDC_EV_WRITE_ROWS_V1 || ev > CDC_EV_DELETE_ROWS_V1))
        return fail(err, "not a rows event (compressed row events are not decoded)");
    (void)rd_le(&r, 6); /* table id */
    (void)rd_le(&r, 2); /* flags */
    if (v2) {
        extra = (size_t)rd_le(&r, 2);
        if (extra < 2 || rd_bytes(&r, extra - 2) == NULL)
            return fail(err, "malformed rows event");
    }
    width = (size_t)rd_packed(&r);
    present = rd_bytes(&r, (width + 7) / 8);
    if (kind == 1)
        present2 = rd_bytes(&r, (width + 7) / 8);
    if (r.bad || present == NULL || (kind == 1 && present2 == NULL))
        return fail(err, "malformed rows event");
    if (width != t->ncols || !all_present(present, width) ||
        (present2 != NULL && !all_present(present2, width))) {
        snprintf(err, CDC_ERR_MAX, "%s.%s: row image is not FULL (binlog_row_image must be FULL)",
                 t->db, t->name);
        return ERR_INVALID;
    }
    while (r.p < r.end) {
        memset(&c, 0, sizeof(c));
        c.table = t->name;
        c.ncols = t->ncols;
        c.names = t->names;
        c.op = kind == 0 ? CDC_INSERT : kind == 1 ? CDC_UPDATE : CDC_DELETE;
        rc = image(&r, t, a, &img, err);
        if (rc)
            return rc;
        if (kind == 0)
            c.after = img;
        else
            c.before = img;
        if (kind == 1) {
            rc = image(&r, t, a, &img, err);
            if (rc)
                return rc;
            c.after = img;
        }
        push(a, changes, n, cap, &c);
    }
    return ERR_OK;
}
