/*
 * catalog.c - the catalog's pure logic: checking a product document the way
 * the monolith checks its input (plus images), names, slugs, image URLs and
 * UTF-8. The list queries are in query.c. No I/O, so t/10_catalog.c can
 * test it table-driven.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "decode.h"
#include "str.h"

const char *const catalog_doc_fields[DOC__COUNT] = {
#define X(name, key) key,
    DOC_FIELDS(X)
#undef X
};

/* ---- names and text ------------------------------------------------------------ */

/* Attribute names become JSON keys and jsonpath member names, never SQL; a
 * strict alphabet also keeps list parameters like "page" unambiguous. */
int
catalog_attr_name_valid(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > 64)
        return 0;
    for (i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return name[0] >= 'a' && name[0] <= 'z';
}

/* [a-z0-9][a-z0-9-]{0,99}: slugs appear in URLs as they are. */
int
catalog_slug_valid(const char *z)
{
    size_t i, n = strlen(z);

    if (n == 0 || n > MAX_SLUG || z[0] == '-')
        return 0;
    for (i = 0; i < n; i++)
        if (!((z[i] >= 'a' && z[i] <= 'z') || (z[i] >= '0' && z[i] <= '9') || z[i] == '-'))
            return 0;
    return 1;
}

/* https://host[:port][/path][?query][#frag] in printable ASCII without the
 * characters that would need quoting in HTML or JSON. Storefronts put these
 * in <img src>, so nothing else is accepted. */
int
catalog_image_url_valid(const char *z)
{
    const char *p, *host;
    size_t      n = strlen(z);

    if (n > MAX_IMAGE_URL || strncmp(z, "https://", 8) != 0)
        return 0;
    host = z + 8;
    for (p = host; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '.' || *p == '-';
         p++)
        ;
    if (p == host || host[0] == '.' || host[0] == '-')
        return 0;
    if (*p == ':') {
        const char *port = ++p;

        while (*p >= '0' && *p <= '9')
            p++;
        if (p == port || p - port > 5)
            return 0;
    }
    if (*p != '\0' && *p != '/' && *p != '?' && *p != '#')
        return 0;
    for (; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("\"'<>\\^`{|}", *p) != NULL)
            return 0;
    return 1;
}

static int
upper(int c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

int
catalog_attr_cmp(const char *a, const char *b)
{
    while (*a != '\0' && upper((unsigned char)*a) == upper((unsigned char)*b)) {
        a++;
        b++;
    }
    return upper((unsigned char)*a) - upper((unsigned char)*b);
}

static const struct {
    const char       *name;
    enum product_sort sort;
} sorts[] = {
    {"relevance", SORT_RELEVANCE},   {"newest", SORT_NEWEST}, {"price_asc", SORT_PRICE_ASC},
    {"price_desc", SORT_PRICE_DESC}, {"name", SORT_NAME},
};

int
catalog_sort_parse(const char *z, enum product_sort *out)
{
    size_t i;

    for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++) {
        if (strcmp(z, sorts[i].name) == 0) {
            *out = sorts[i].sort;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

/* ---- product documents --------------------------------------------------------- */

static const struct decode_field product_fields[] = {
    {"sku", DECODE_STR, offsetof(struct product_in, sku), 1, 1, 64, 0},
    {"name", DECODE_STR, offsetof(struct product_in, name), 1, 1, 200, 0},
    {"description", DECODE_STR, offsetof(struct product_in, description), 0, 0, 20000, 0},
    {"brand", DECODE_STR, offsetof(struct product_in, brand), 0, 0, 100, 0},
    {"category_id", DECODE_I64, offsetof(struct product_in, category_id), 1, 1, INT64_MAX, 0},
    {"price", DECODE_OBJECT, offsetof(struct product_in, price_obj), 1, 0, 0, 0},
    {"attributes", DECODE_OBJECT, offsetof(struct product_in, attributes), 0, 0, 0, 0},
    {"images", DECODE_ARRAY, offsetof(struct product_in, images), 0, 0, 0, 0},
    {NULL},
};

struct price_in {
    int64_t     amount;
    const char *currency;
};

static const struct decode_field price_fields[] = {
    {"amount", DECODE_I64, offsetof(struct price_in, amount), 1, 0, MAX_PRICE, 0},
    {"currency", DECODE_STR, offsetof(struct price_in, currency), 1, 3, 3, 0},
    {NULL},
};

int
catalog_fail(char *detail, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, len, fmt, ap);
    va_end(ap);
    return ERR_INVALID;
}

/* Values may be strings, integers or booleans (as in the monolith); they keep
 * their JSON type in the document, so v2 can compare numbers as numbers. */
static int
attrs_check(json_t *obj, char *detail, size_t len)
{
    const char *k;
    json_t     *v;

    if (obj == NULL)
        return ERR_OK;
    if (json_object_size(obj) > MAX_ATTRS)
        return catalog_fail(detail, len, "at most %d attributes", MAX_ATTRS);
    json_object_foreach(obj, k, v)
    {
        if (!catalog_attr_name_valid(k))
            return catalog_fail(detail, len, "attribute names must match [a-z][a-z0-9_]{0,63}");
        if (json_is_string(v) && json_string_length(v) <= MAX_ATTR_VALUE &&
            strlen(json_string_value(v)) == json_string_length(v))
            continue;
        if (json_is_integer(v) || json_is_boolean(v))
            continue;
        return catalog_fail(
            detail, len,
            "attribute \"%.64s\" must be a string of at most 255 bytes, an integer or a "
            "boolean",
            k);
    }
    return ERR_OK;
}

static int
images_check(json_t *arr, char *detail, size_t len)
{
    size_t  i;
    json_t *v;

    if (arr == NULL)
        return ERR_OK;
    if (json_array_size(arr) > MAX_IMAGES)
        return catalog_fail(detail, len, "at most %d images", MAX_IMAGES);
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
            !catalog_image_url_valid(json_string_value(v)))
            return catalog_fail(detail, len, "images[%zu] must be an https url of at most %d bytes",
                                i, MAX_IMAGE_URL);
    }
    return ERR_OK;
}

int
catalog_price_check(json_t *obj, struct arena *a, struct money *out, char *detail,
                    size_t detail_len)
{
    struct price_in price = {0};
    int             rc;

    rc = decode_object(obj, price_fields, &price, NULL, a, detail, detail_len);
    if (rc)
        return rc;
    if (strcmp(price.currency, "EUR") != 0)
        return catalog_fail(detail, detail_len, "the shop sells in EUR only");
    out->minor = price.amount;
    memcpy(out->currency, "EUR", 4);
    return ERR_OK;
}

int
catalog_product_check(json_t *body, struct arena *a, struct product_in *out, char *detail,
                      size_t detail_len)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = decode_object(body, product_fields, out, NULL, a, detail, detail_len);
    if (rc)
        return rc;
    rc = catalog_price_check(out->price_obj, a, &out->price, detail, detail_len);
    if (rc)
        return rc;
    if (out->description == NULL)
        out->description = "";
    if (out->brand == NULL)
        out->brand = "";
    rc = attrs_check(out->attributes, detail, detail_len);
    if (rc)
        return rc;
    return images_check(out->images, detail, detail_len);
}
