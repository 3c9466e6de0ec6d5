# soukctl backfill inventory: every monolith product's stock becomes a stock row (on_hand =
# the monolith's stock, nothing reserved, version 0), a product without an inventory row gets
# 0; every CONFIRMED monolith order becomes a SOLD reservation with its lines, its units
# counted as received and sold (received = on_hand + sold), as a sale through the saga leaves
# them; nothing is written to the outbox, a repeat leaves rows that moved alone and adds no
# sale twice, --if-empty does nothing on a filled database; souk-inventory then knows exactly
# the monolith's products (404 for others) and holds their units.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib";
use Test::More;
use Souk::Test;
use InventoryTest;

my $mono = mariadb_fresh('inv_backfill');
my $inv = pg_fresh('inventory');
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_INVENTORY_DB => $inv->{dsn});
my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 120 --users 5 --orders 10 --reviews 0
    --carts 0 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
sub mono { mariadb_sql($mono->{db}, $_[0]) }
sub inv { pg_sql($inv->{db}, $_[0]) }

# One product without an inventory row (a shop that lost it): it gets 0.
my ($gone) = @{mono('SELECT MAX(product_id) FROM inventory')->[0]};
mariadb_sql($mono->{db}, "DELETE FROM inventory WHERE product_id = $gone");

($rc, $out, $err) = soukctl(\%env, qw(backfill inventory --batch 50));
is($rc, 0, 'backfill inventory exits 0') or diag $err;
my $confirmed = mono("SELECT COUNT(*) FROM orders WHERE status = 'CONFIRMED'")->[0][0];
ok($confirmed > 0, "the seed has CONFIRMED orders ($confirmed)");
like($out, qr/^backfilled 120 products, $confirmed sales in [\d.]+ s$/m, 'and says what it did');
like($err, qr/^backfill: products\s+120\/120\s/m, 'progress on stderr ends at the total');

my %want = map { $_->[0] => $_->[1] } @{mono('SELECT p.id, COALESCE(i.stock, 0) FROM products p
    LEFT JOIN inventory i ON i.product_id = p.id')};
my %got = map { $_->[0] => $_->[1] } @{inv('SELECT product_id, on_hand FROM stock')};
is_deeply(\%got, \%want, 'every product with the monolith\'s stock as on hand');
is($got{$gone}, 0, 'the product without an inventory row has 0');
is_deeply(inv('SELECT count(*) FROM stock WHERE received <> on_hand + sold OR reserved <> 0
    OR version <> 0 OR catalog_version <> 0 OR deleted'), [[0]],
    'received = on_hand + sold, nothing reserved, versions 0');
my %sold = map { $_->[0] => $_->[1] } @{mono("SELECT oi.product_id, SUM(oi.quantity)
    FROM order_items oi JOIN orders o ON o.id = oi.order_id WHERE o.status = 'CONFIRMED'
    GROUP BY oi.product_id")};
my %isold = map { $_->[0] => $_->[1] } @{inv('SELECT product_id, sold FROM stock WHERE sold > 0')};
is_deeply(\%isold, \%sold, 'sold: the units of the monolith\'s CONFIRMED orders, per product');
is_deeply(inv("SELECT count(DISTINCT order_id), count(*) FILTER (WHERE state <> 'SOLD')
    FROM audit_holds"), [[$confirmed, 0]], 'one SOLD reservation per CONFIRMED order');
is_deeply(inv("SELECT count(*) FROM reservation_lines"),
    mono("SELECT COUNT(*) FROM order_items oi JOIN orders o ON o.id = oi.order_id
        WHERE o.status = 'CONFIRMED'"), 'with every line');
is_deeply(inv('SELECT count(*) FROM outbox'), [[0]], 'no events written');

# A repeat does not reset stock that moved; --if-empty does nothing.
my ($p1) = @{inv('SELECT min(product_id) FROM stock')->[0]};
inv("UPDATE stock SET received = 999 + sold, on_hand = 999, version = 5 WHERE product_id = $p1");
my $before = inv('SELECT product_id, received, on_hand, sold FROM stock ORDER BY product_id');
($rc, $out) = soukctl(\%env, qw(backfill inventory));
is($rc, 0, 'a repeat exits 0');
is_deeply(inv("SELECT on_hand, version FROM stock WHERE product_id = $p1"),
    [[999, 5]], 'and leaves a row that moved alone');
is_deeply(inv('SELECT product_id, received, on_hand, sold FROM stock ORDER BY product_id'), $before,
    'and counts no sale twice');
($rc, $out) = soukctl(\%env, qw(backfill inventory --if-empty));
is($rc, 0, '--if-empty exits 0');
like($out, qr/^inventory already has stock; nothing to do$/m, '--if-empty: nothing to do');

# The service on the backfilled database.
my $svc = spawn_service('inventory', SOUK_INVENTORY_DB => $inv->{dsn},
    SOUK_AMQP_URL => rabbit_vhost(), SOUK_JWT_SECRET => $InventoryTest::SECRET);
my $admin = InventoryTest::mint(role => 'admin', sub => '1');
my ($pid, $stock) = @{mono("SELECT product_id, stock FROM inventory WHERE stock > 0
    AND product_id <> $p1 ORDER BY product_id LIMIT 1")->[0]};
my $res = http(GET => $svc->url . "/api/v2/products/$pid/stock",
    {headers => {Authorization => "Bearer $admin"}});
is($res->{status}, 200, 'v2 stock of a backfilled product: 200');
is($res->{json}{available}, $stock, "available = the monolith's stock ($stock)");
my ($max) = @{mono('SELECT MAX(id) FROM products')->[0]};
is(http(PUT => $svc->url . '/api/v1/products/' . ($max + 1) . '/stock',
    {headers => {Authorization => "Bearer $admin"}, json => {stock => 1}})->{status}, 404,
    'a product the monolith does not have: 404');
is(http(PUT => $svc->url . "/api/v1/products/$gone/stock",
    {headers => {Authorization => "Bearer $admin"}, json => {stock => 4}})->{status}, 200,
    'the product without an inventory row is known: 200');

done_testing;
