# soukctl seed: the counts asked for, the same rows for the same seed, a different catalogue for
# another seed, and data a shop could have produced: no orphans (the load runs with foreign key
# checks off), no negative stock, order totals equal to their lines, one payment per paid order.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use File::Temp ();
use POSIX ();
use Test::More;
use Souk::Test;

my $ROOT = repo_root();

sub ctl { soukctl(@_) }

sub sql1 { my ($db, $q) = @_; return mariadb_sql($db->{db}, $q)->[0][0] }

my @SMALL = qw(--products 300 --users 50 --orders 400 --now 2026-01-01);

# Order-independent fingerprint of every seeded table. users.password_hash is left out: its
# Argon2id salt is random by design.
my @TABLES = qw(categories products product_attributes inventory addresses orders order_items
    payments reviews carts cart_items);
sub fingerprint {
    my ($db) = @_;
    my %sum = map { (split /\./, $_->[0])[1] => $_->[1] }
        @{mariadb_sql($db->{db}, 'CHECKSUM TABLE ' . join(', ', @TABLES) . ' EXTENDED')};
    $sum{users} = sql1($db, 'SELECT SUM(CRC32(CONCAT_WS(0x1f, id, email, name, role, created_at))) '
        . 'FROM users');
    return \%sum;
}

sub seed {
    my ($db, @args) = @_;
    my ($rc, $out, $err) = ctl({SOUK_MONOLITH_DB => $db->{dsn}}, 'seed', @args);
    is($rc, 0, "seed @args: exit 0") or diag $err;
    return $err;
}

my $d1 = mariadb_fresh('seed_a');
my $d2 = mariadb_fresh('seed_b');
my $d3 = mariadb_fresh('seed_c');
my $log = seed($d1, @SMALL);
like($log, qr/^seed: loaded \d+ rows in [\d.]+ s \(\d+ rows\/s\)/m, 'seed prints a summary');
seed($d2, @SMALL);
seed($d3, @SMALL, qw(--seed 7));

# --- counts -------------------------------------------------------------------------------------
my %want = (products => 300, inventory => 300, users => 50, orders => 400,
    reviews => 450, carts => 1, categories => 14);
is(sql1($d1, "SELECT COUNT(*) FROM $_"), $want{$_}, "$_: $want{$_} rows") for sort keys %want;
cmp_ok(sql1($d1, 'SELECT COUNT(*) FROM addresses'), '>', 30, 'most users have an address');
cmp_ok(sql1($d1, 'SELECT COUNT(*) FROM product_attributes'), '>=', 600,
    'every product has attributes (2 to 4 each)');

# --- determinism ----------------------------------------------------------------------------------
my ($fa, $fb, $fc) = map { fingerprint($_) } $d1, $d2, $d3;
is_deeply($fb, $fa, 'same seed and counts: identical tables');
isnt($fc->{products}, $fa->{products}, 'another --seed: another catalogue');
is(sql1($d1, 'SELECT COUNT(DISTINCT password_hash) FROM users'), 1,
    'every user shares one password hash');
like(sql1($d1, 'SELECT password_hash FROM users WHERE id = 1'), qr/^\$argon2id\$/,
    'the hash is Argon2id');

# --- the people a demo needs ---------------------------------------------------------------------
is_deeply(mariadb_sql($d1->{db}, 'SELECT id, email, role FROM users WHERE id <= 3 ORDER BY id'),
    [[1, 'admin@souk.test', 'admin'], [2, 'demo@souk.test', 'customer'],
        [3, 'customer3@souk.test', 'customer']], 'admin, demo customer, then customerN');
is(sql1($d1, "SELECT COUNT(*) FROM users WHERE role = 'admin'"), 1, 'exactly one admin');
is(sql1($d1, 'SELECT COUNT(*) FROM orders WHERE user_id = 2'), 20, 'the demo customer has 20 orders');
is(sql1($d1, 'SELECT COUNT(*) FROM addresses WHERE user_id = 2'), 1, 'the demo customer has an address');
is(sql1($d1, 'SELECT user_id FROM carts WHERE id = 1'), 2, 'the demo customer has a cart');

# --- integrity (the load ran with foreign_key_checks = 0) --------------------------------------
my @fks = (
    [qw(addresses user_id users id)],          [qw(cart_items cart_id carts id)],
    [qw(cart_items product_id products id)],   [qw(carts user_id users id)],
    [qw(inventory product_id products id)],    [qw(order_items order_id orders id)],
    [qw(order_items product_id products id)],  [qw(orders user_id users id)],
    [qw(payments order_id orders id)],         [qw(product_attributes product_id products id)],
    [qw(products category_id categories id)],  [qw(reviews product_id products id)],
    [qw(reviews user_id users id)],
);
for my $fk (@fks) {
    my ($t, $col, $p, $pcol) = @$fk;
    is(sql1($d1, "SELECT COUNT(*) FROM $t c LEFT JOIN $p p ON p.$pcol = c.$col "
        . "WHERE p.$pcol IS NULL"), 0, "no $t.$col without its $p row");
}
is(sql1($d1, 'SELECT COUNT(*) FROM categories c LEFT JOIN categories p ON p.id = c.parent_id '
    . 'WHERE c.parent_id IS NOT NULL AND p.id IS NULL'), 0, 'every category parent exists');
is(sql1($d1, 'SELECT COUNT(*) FROM (SELECT product_id, user_id FROM reviews '
    . 'GROUP BY product_id, user_id HAVING COUNT(*) > 1) d'), 0, 'one review per user and product');
is(sql1($d1, 'SELECT COUNT(*) FROM (SELECT sku FROM products GROUP BY sku HAVING COUNT(*) > 1) d'),
    0, 'skus are unique');

# --- values a shop could have produced ---------------------------------------------------------
is(sql1($d1, 'SELECT COUNT(*) FROM inventory WHERE stock < 0'), 0, 'no negative stock');
cmp_ok(sql1($d1, 'SELECT COUNT(*) FROM inventory WHERE stock = 0'), '>', 0, 'some products are sold out');
is(sql1($d1, 'SELECT COUNT(*) FROM orders o LEFT JOIN (SELECT order_id, '
    . 'SUM(quantity * unit_price_minor) s FROM order_items GROUP BY order_id) l ON l.order_id = o.id '
    . 'WHERE l.s IS NULL OR l.s <> o.total_minor'), 0, 'every order total equals the sum of its lines');
is(sql1($d1, 'SELECT COUNT(*) FROM order_items i JOIN products p ON p.id = i.product_id '
    . 'WHERE i.unit_price_minor <> p.price_minor OR i.quantity < 1'), 0,
    'lines carry the product price and a positive quantity');
is(sql1($d1, "SELECT COUNT(*) FROM orders o LEFT JOIN payments p ON p.order_id = o.id "
    . "WHERE (o.status = 'CONFIRMED') <> (p.id IS NOT NULL)"), 0, 'a payment for every confirmed order only');
is(sql1($d1, "SELECT COUNT(*) FROM payments p JOIN orders o ON o.id = p.order_id "
    . "WHERE p.amount_minor <> o.total_minor OR p.status <> 'APPROVED'"), 0,
    'payments are approved for the order total');
is(sql1($d1, 'SELECT COUNT(*) FROM orders o JOIN addresses d ON d.user_id = o.user_id '
    . 'WHERE o.ship_city <> d.city OR o.ship_line1 <> d.line1 OR o.ship_country <> d.country'), 0,
    'orders copy the customer address');
is(sql1($d1, "SELECT COUNT(*) FROM orders WHERE created_at >= '2026-01-01' "
    . "OR created_at < '2024-01-01'"), 0, 'orders lie in the 24 months before --now');
cmp_ok(sql1($d1, 'SELECT COUNT(DISTINCT DATE_FORMAT(created_at, "%Y-%m")) FROM orders'), '>=', 20,
    'orders spread over the months');
cmp_ok(sql1($d1, 'SELECT AVG(rating) FROM reviews'), '>', 3.5, 'ratings lean positive');
is(sql1($d1, 'SELECT COUNT(*) FROM orders WHERE id > 1 AND created_at < '
    . '(SELECT MAX(created_at) FROM orders o2 WHERE o2.id < orders.id)'), 0,
    'order ids rise with created_at');
like(sql1($d1, "SELECT name FROM products WHERE sku LIKE 'LAP-%' LIMIT 1"),
    qr/^\S+ \S+ [\d.]+ \S+.*\/\d+GB\/\d+[GT]B$/, 'laptop names read like "Nordtek ProBook 14 i7/16GB/512GB"');
cmp_ok(sql1($d1, 'SELECT MIN(LENGTH(description)) FROM products'), '>', 120,
    'every product has a description of a few sentences');
is(sql1($d1, "SELECT COUNT(*) FROM products p WHERE NOT EXISTS (SELECT 1 FROM product_attributes a "
    . "WHERE a.product_id = p.id)"), 0, 'every product has EAV attributes');

# --- re-running ---------------------------------------------------------------------------------
my ($rc, $out, $err) = ctl({SOUK_MONOLITH_DB => $d1->{dsn}}, qw(seed --if-empty));
is($rc, 0, '--if-empty on a seeded database: exit 0');
like($err, qr/nothing to do/, '--if-empty says it did nothing');
is(sql1($d1, 'SELECT COUNT(*) FROM products'), 300, '--if-empty left the data alone');
($rc, $out, $err) = ctl({SOUK_MONOLITH_DB => $d1->{dsn}}, 'seed', @SMALL);
is($rc, 1, 'seeding a non-empty database without --if-empty or --reset: exit 1');
seed($d1, @SMALL, '--reset');
is_deeply(fingerprint($d1), $fa, '--reset and the same seed: identical tables again');

($rc, $out, $err) = ctl({}, qw(seed --products -1));
is($rc, 2, 'a negative count is a usage error');
($rc, $out, $err) = ctl({}, qw(seed --now 2026-13-01));
isnt($rc, 0, 'a bad --now is refused');

done_testing;
