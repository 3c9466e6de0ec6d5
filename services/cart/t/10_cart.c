/*
 * 10_cart.c - cart.c: key formats and TTLs, the cookie, the line's text
 * form, and the arithmetic of adding, setting, merging and product events.
 */
#include <stdint.h>
#include <string.h>

#include "cart.h"
#include "t.h"

static const struct cart_ttls TTLS = {604800, 86400};
static const char             HEX[] = "0123456789abcdef0123456789abcdef";

static struct cart_line
line(int64_t pid, int64_t qty, int64_t seq, int64_t price)
{
    struct cart_line l;

    memset(&l, 0, sizeof(l));
    l.product_id = pid;
    l.quantity = qty;
    l.seq = seq;
    l.unit.minor = l.added.minor = price;
    memcpy(l.unit.currency, "EUR", 4);
    memcpy(l.added.currency, "EUR", 4);
    l.name = "P";
    return l;
}

static void
test_keys(void)
{
    struct cart_ref ref;
    char            idx[CART_KEY_MAX];

    cart_ref_user(&ref, 42, &TTLS);
    T_EQ_STR(ref.key, "souk:cart:u:42", "user key");
    T_EQ_INT(ref.kind, CART_USER, "user kind");
    T_EQ_INT(ref.ttl_s, 604800, "user TTL");
    T_EQ_INT(ref.index_ttl_s, 604800, "product sets outlive every cart");
    cart_ref_user(&ref, INT64_MAX, &TTLS);
    T_EQ_STR(ref.key, "souk:cart:u:9223372036854775807", "the largest user id fits");
    T_EQ_INT(cart_ref_anon(&ref, HEX, &TTLS), ERR_OK, "anonymous id accepted");
    T_EQ_STR(ref.key, "souk:cart:a:0123456789abcdef0123456789abcdef", "anonymous key");
    T_EQ_INT(ref.ttl_s, 86400, "anonymous TTL");
    T_EQ_INT(ref.index_ttl_s, 604800, "anonymous: product sets still take the longest TTL");
    {
        struct cart_ttls longer_anon = {10, 20};

        cart_ref_user(&ref, 1, &longer_anon);
        T_EQ_INT(ref.index_ttl_s, 20, "product sets: the longer of both TTLs");
    }
    T_EQ_INT(cart_ref_anon(&ref, "0123456789ABCDEF0123456789ABCDEF", &TTLS), ERR_INVALID,
             "anonymous id: upper case refused");
    T_EQ_INT(cart_ref_anon(&ref, "42", &TTLS), ERR_INVALID, "anonymous id: a user id refused");
    T_EQ_INT(cart_ref_anon(&ref, NULL, &TTLS), ERR_INVALID, "anonymous id: NULL refused");
    cart_index_key(7, idx);
    T_EQ_STR(idx, "souk:cart:p:7", "product set key");
}

static void
test_cookie(void)
{
    static const struct {
        const char *header;
        int         found;
    } rows[] = {
        {"souk_cart=0123456789abcdef0123456789abcdef", 1},
        {"a=b; souk_cart=0123456789abcdef0123456789abcdef; c=d", 1},
        {"a=b;souk_cart=0123456789abcdef0123456789abcdef", 1},
        {"  souk_cart=0123456789abcdef0123456789abcdef  ", 0}, /* trailing junk in the value */
        {"souk_cart=0123456789ABCDEF0123456789ABCDEF", 0},
        {"souk_cart=0123456789abcdef0123456789abcde", 0},
        {"souk_cart=0123456789abcdef0123456789abcdef0", 0},
        {"souk_cart=../../u:1", 0},
        {"souk_cart=", 0},
        {"souk_cart", 0},
        {"xsouk_cart=0123456789abcdef0123456789abcdef", 0},
        {"souk_cart2=0123456789abcdef0123456789abcdef", 0},
        {"souk_cart=bad; souk_cart=0123456789abcdef0123456789abcdef", 0},
        {"", 0},
        {NULL, 0},
    };
    char   out[CART_ANON_ID_LEN + 1];
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int found = cart_cookie_find(rows[i].header, out);

        T_EQ_INT(found, rows[i].found, "cookie row %zu: \"%s\"", i,
                 rows[i].header ? rows[i].header : "(null)");
        if (found)
            T_EQ_STR(out, HEX, "cookie row %zu: the id", i);
    }
}

static void
test_line_text(struct arena *a)
{
    static const char *junk[] = {
        "",
        "1",
        "2 1 1 0 100 EUR 100 EUR 0 x",
        "1 1 0 0 100 EUR 100 EUR 0 x",
        "1 1 100 0 100 EUR 100 EUR 0 x",
        "1 -1 1 0 100 EUR 100 EUR 0 x",
        "1 1 1 0 -5 EUR 100 EUR 0 x",
        "1 1 1 0 100 eur 100 EUR 0 x",
        "1 1 1 0 100 EURO 100 EUR 0 x",
        "1 1 1 0 100 EUR 100 EUR 2 x",
        "1 1 1 0 100 EUR 100 EUR 0",
        "1  1 1 0 100 EUR 100 EUR 0 x",
        "1 1 1 0 1000000000001 EUR 100 EUR 0 x",
        "1 x 1 0 100 EUR 100 EUR 0 x",
    };
    struct cart_line l = line(9, 3, 17, 1250), back;
    char            *z;
    size_t           n, i;

    l.version = 4;
    l.unit.minor = 999;
    l.unavailable = 1;
    l.name = "Alpha  Widget ünicode ";
    z = cart_line_encode(&l, a, &n);
    T_EQ_STR(z, "1 17 3 4 1250 EUR 999 EUR 1 Alpha  Widget ünicode ", "line text");
    T_EQ_INT(cart_line_decode(z, n, 9, a, &back), ERR_OK, "line text decodes");
    T_EQ_INT(back.product_id, 9, "round trip: product id");
    T_EQ_INT(back.seq, 17, "round trip: seq");
    T_EQ_INT(back.quantity, 3, "round trip: quantity");
    T_EQ_INT(back.version, 4, "round trip: version");
    T_EQ_INT(back.added.minor, 1250, "round trip: price when added");
    T_EQ_INT(back.unit.minor, 999, "round trip: price today");
    T_EQ_STR(back.unit.currency, "EUR", "round trip: currency");
    T_EQ_INT(back.unavailable, 1, "round trip: unavailable");
    T_EQ_STR(back.name, "Alpha  Widget ünicode ", "round trip: a name with spaces");
    l.name = "";
    z = cart_line_encode(&l, a, &n);
    T_EQ_INT(cart_line_decode(z, n, 9, a, &back), ERR_OK, "an empty name decodes");
    T_EQ_STR(back.name, "", "an empty name round-trips");
    for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        T_EQ_INT(cart_line_decode(junk[i], strlen(junk[i]), 1, a, &back), ERR_INVALID,
                 "junk line %zu \"%s\" is refused", i, junk[i]);
}

static void
test_add_set(void)
{
    struct cart_line    lines[MAX_CART_LINES], out;
    struct cart         c = {lines, 0, NULL};
    struct product_snap p = {5, {700, "EUR"}, "Five"};
    size_t              i;

    T_EQ_INT(cart_add(&c, &p, 2, &out), ERR_OK, "add: a new line");
    T_EQ_INT(out.seq, 1, "add: the first line is seq 1");
    T_EQ_INT(out.quantity, 2, "add: its quantity");
    T_EQ_STR(out.name, "Five", "add: the snapshot's name");
    lines[c.n++] = out;
    lines[0].unit.minor = 650; /* an event moved the price */
    T_OK(cart_line_price_changed(&lines[0]), "price changed since the add");
    T_EQ_INT(cart_add(&c, &p, 97, &out), ERR_OK, "add: up to 99 in a line");
    T_EQ_INT(out.quantity, 99, "add: the quantities add up");
    T_EQ_INT(out.seq, 1, "add: the line keeps its place");
    T_OK(!cart_line_price_changed(&out), "add: a fresh snapshot clears price_changed");
    T_EQ_INT(cart_add(&c, &p, 98, &out), ERR_CONFLICT, "add: past 99 is a conflict");
    T_EQ_INT(cart_add(&c, &p, 0, &out), ERR_INVALID, "add: 0 is refused");
    T_EQ_INT(cart_add(&c, &p, 100, &out), ERR_INVALID, "add: 100 is refused");
    for (i = 1; i < MAX_CART_LINES; i++)
        lines[c.n++] = line((int64_t)i + 100, 1, (int64_t)i + 1, 100);
    p.id = 999;
    T_EQ_INT(cart_add(&c, &p, 1, &out), ERR_CONFLICT, "add: the 101st line is a conflict");
    p.id = 150;
    T_EQ_INT(cart_add(&c, &p, 1, &out), ERR_OK, "add: an existing line still grows when full");
    T_EQ_INT(cart_set(&c, 150, 42, &out), ERR_OK, "set: a line in the cart");
    T_EQ_INT(out.quantity, 42, "set: replaces the quantity");
    T_EQ_INT(out.unit.minor, 100, "set: keeps the price");
    T_EQ_INT(cart_set(&c, 999, 1, &out), ERR_NOT_FOUND, "set: not in the cart is not found");
    T_EQ_INT(cart_set(&c, 150, 100, &out), ERR_INVALID, "set: 100 is refused");
}

static void
test_merge(void)
{
    struct cart_line ul[MAX_CART_LINES], al[4], out[4];
    struct cart      u = {ul, 0, NULL}, an = {al, 0, NULL};
    size_t           n, i;

    ul[u.n++] = line(1, 5, 1, 100);
    ul[u.n++] = line(2, 98, 2, 200);
    al[an.n++] = line(2, 7, 1, 200); /* capped at 99 */
    al[an.n++] = line(3, 4, 2, 300); /* new: appended */
    al[an.n++] = line(1, 1, 3, 100);
    al[2].unavailable = 1; /* a deletion the anonymous cart heard of */
    al[2].version = 9;
    n = cart_merge(&u, &an, out);
    T_EQ_INT(n, 3, "merge: three lines change");
    T_EQ_INT(out[0].product_id, 2, "merge: the overlapping line first (anon order)");
    T_EQ_INT(out[0].quantity, 99, "merge: quantities add up, capped at 99");
    T_EQ_INT(out[0].seq, 2, "merge: an existing line keeps its place");
    T_EQ_INT(out[1].product_id, 3, "merge: a new line");
    T_EQ_INT(out[1].seq, 3, "merge: appended after the user's lines");
    T_EQ_INT(out[1].quantity, 4, "merge: with its quantity");
    T_EQ_INT(out[2].quantity, 6, "merge: 5 + 1");
    T_EQ_INT(out[2].unavailable, 1, "merge: deleted stays deleted");
    T_EQ_INT(out[2].version, 9, "merge: the newer version wins");

    /* A full user cart takes no new lines but still merges quantities. */
    u.n = 0;
    for (i = 0; i < MAX_CART_LINES; i++)
        ul[u.n++] = line((int64_t)i + 1, 1, (int64_t)i + 1, 100);
    an.n = 0;
    al[an.n++] = line(500, 1, 1, 100);
    al[an.n++] = line(1, 2, 2, 100);
    n = cart_merge(&u, &an, out);
    T_EQ_INT(n, 1, "merge into a full cart: only the existing line");
    T_EQ_INT(out[0].quantity, 3, "merge into a full cart: its quantity");
    u.n = MAX_CART_LINES - 1;
    n = cart_merge(&u, &an, out);
    T_EQ_INT(n, 2, "merge with room for one: the new line fits");
    an.n = 0;
    T_EQ_INT(cart_merge(&u, &an, out), 0, "merge of an empty cart: nothing");
    u.n = 1;
    ul[0] = line(1, 99, 1, 100);
    an.n = 0;
    al[an.n++] = line(1, 5, 1, 100);
    T_EQ_INT(cart_merge(&u, &an, out), 0, "merge: a line already at 99 does not change");
}

static void
test_events(void)
{
    struct cart_line     l = line(4, 2, 1, 1000), out;
    struct product_event up = {4, 3, 0, {800, "EUR"}, "Renamed"};
    struct product_event del = {4, 5, 1, {0, ""}, NULL};

    T_OK(cart_line_apply(&l, &up, &out), "event: a newer version applies");
    T_EQ_INT(out.unit.minor, 800, "event: the new price");
    T_EQ_INT(out.added.minor, 1000, "event: the price at add time stays");
    T_EQ_STR(out.name, "Renamed", "event: the new name");
    T_OK(cart_line_price_changed(&out), "event: price_changed");
    T_EQ_INT(out.quantity, 2, "event: the quantity stays");
    l = out;
    T_OK(!cart_line_apply(&l, &up, &out), "event: the same version again is a no-op");
    up.version = 2;
    T_OK(!cart_line_apply(&l, &up, &out), "event: an older version is a no-op");
    T_OK(cart_line_apply(&l, &del, &out), "event: a delete applies");
    T_EQ_INT(out.unavailable, 1, "event: unavailable");
    T_EQ_INT(out.unit.minor, 800, "event: a delete keeps the last price");
    l = out;
    up.version = 4;
    T_OK(!cart_line_apply(&l, &up, &out), "event: an update older than the delete is ignored");
    up.price.minor = 1000;
    up.version = 9;
    l = line(4, 2, 1, 1000);
    T_OK(cart_line_apply(&l, &up, &out), "event: same price, newer version");
    T_OK(!cart_line_price_changed(&out), "event: back to the price at add time is no change");
}

static void
test_totals(void)
{
    struct cart_line lines[3];
    struct cart      c = {lines, 0, NULL};
    struct money     m;
    int64_t          items;

    cart_total(&c, &m, &items);
    T_EQ_INT(m.minor, 0, "empty cart: total 0");
    T_EQ_STR(m.currency, "EUR", "empty cart: EUR, as the monolith");
    T_EQ_INT(items, 0, "empty cart: no items");
    lines[c.n++] = line(1, 5, 1, 1250);
    lines[c.n++] = line(2, 1, 2, 399);
    cart_total(&c, &m, &items);
    T_EQ_INT(m.minor, 5 * 1250 + 399, "total: the line totals");
    T_EQ_INT(items, 6, "total: item_count counts units");
    cart_line_total(&lines[0], &m);
    T_EQ_INT(m.minor, 6250, "line total");
    lines[c.n++] = line(3, 99, 3, CART_PRICE_MAX);
    cart_total(&c, &m, &items);
    T_OK(m.minor > 0, "total: the largest prices do not overflow");
}

static void
test_sort(void)
{
    struct cart_line lines[3];
    struct cart      c = {lines, 3, NULL};

    lines[0] = line(1, 1, 3, 1);
    lines[1] = line(2, 1, 1, 1);
    lines[2] = line(3, 1, 2, 1);
    cart_sort(&c);
    T_EQ_INT(lines[0].product_id * 100 + lines[1].product_id * 10 + lines[2].product_id, 231,
             "lines sort in the order they were added");
    T_OK(cart_find(&c, 3) == &lines[1], "find: by product id");
    T_OK(cart_find(&c, 4) == NULL, "find: absent");
}

/* order.confirmed: cart [p1 x3, p2 x1, p3 x5, p4 x1]; each row an order and
 * what stays (quantities of p1..p4, 0 = gone) with how many lines go. */
static void
test_order_apply(void)
{
    static const struct {
        struct order_line o[3];
        size_t            n;
        int64_t           after[4];
        size_t            n_keep, n_gone;
        const char       *what;
    } rows[] = {
        {{{1, 2}, {2, 1}, {3, 3}}, 3, {1, 0, 2, 1}, 2, 1, "re-added quantity stays, p2 gone"},
        {{{1, 3}}, 1, {0, 1, 5, 1}, 0, 1, "exactly the line's quantity: gone"},
        {{{1, 9}}, 1, {0, 1, 5, 1}, 0, 1, "more than the line holds: gone, never negative"},
        {{{9, 1}}, 1, {3, 1, 5, 1}, 0, 0, "a product the cart does not hold: nothing"},
        {{{3, 2}, {3, 2}}, 2, {3, 1, 1, 1}, 1, 0, "two lines of one product add up"},
        {{{0, 0}}, 0, {3, 1, 5, 1}, 0, 0, "an empty order: nothing"},
    };
    struct cart_line lines[4] = {line(1, 3, 1, 100), line(2, 1, 2, 100), line(3, 5, 3, 100),
                                 line(4, 1, 4, 100)};
    struct cart      c = {lines, 4, NULL};
    struct cart_line keep[4];
    int64_t          gone[4], got[4];
    size_t           i, j, n_keep, n_gone;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cart_order_apply(&c, rows[i].o, rows[i].n, keep, &n_keep, gone, &n_gone);
        for (j = 0; j < 4; j++)
            got[j] = lines[j].quantity;
        for (j = 0; j < n_keep; j++)
            got[keep[j].product_id - 1] = keep[j].quantity;
        for (j = 0; j < n_gone; j++)
            got[gone[j] - 1] = 0;
        T_EQ_INT(n_keep, rows[i].n_keep, "order apply: %s: lines kept with less", rows[i].what);
        T_EQ_INT(n_gone, rows[i].n_gone, "order apply: %s: lines gone", rows[i].what);
        for (j = 0; j < 4; j++)
            T_EQ_INT(got[j], rows[i].after[j], "order apply: %s: p%zu", rows[i].what, j + 1);
    }
    cart_order_apply(&c, rows[0].o, 3, keep, &n_keep, gone, &n_gone);
    T_EQ_INT(keep[0].seq, 1, "order apply: a kept line keeps its place");
}

int
main(void)
{
    struct arena *a = arena_create();

    test_keys();
    test_cookie();
    test_line_text(a);
    test_add_set();
    test_merge();
    test_events();
    test_totals();
    test_sort();
    test_order_apply();
    T_OK(cart_currency_valid("EUR") && !cart_currency_valid("eu") && !cart_currency_valid(NULL),
         "currency codes");
    arena_destroy(a);
    return T_DONE();
}
