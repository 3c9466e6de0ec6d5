# A backfilled shop passes `soukctl check orders`: a seeded monolith (orders in every state,
# their payments, stock) copied by `soukctl backfill orders`, `inventory` and `payments` into
# the three saga databases is what `make run` starts with, and the checker's rules (SAGA.md)
# must hold there before any saga has run: a CONFIRMED order has one authorisation, one
# capture and every line SOLD; stock is conserved (received = on_hand + sold, sold = Σ SOLD).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Souk::Test;

my $mono = mariadb_fresh('backfill_check');
my %db = map { ($_ => pg_fresh($_)) } qw(orders inventory payments history);
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, map { ('SOUK_' . uc($_) . '_DB' => $db{$_}{dsn}) }
    keys %db);
my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 40 --users 8 --orders 30 --reviews 0
    --carts 0 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
sub mono1 { mariadb_sql($mono->{db}, $_[0])->[0][0] }
ok(mono1("SELECT COUNT(*) FROM orders WHERE status = 'CONFIRMED'") > 0,
    'the seed has CONFIRMED orders');
ok(mono1("SELECT COUNT(*) FROM orders WHERE status <> 'CONFIRMED'") > 0,
    'and orders in other states');

for my $d (qw(orders inventory payments)) {
    ($rc, $out, $err) = soukctl(\%env, 'backfill', $d);
    is($rc, 0, "backfill $d exits 0") or diag $err;
}
($rc, $out, $err) = soukctl(\%env, qw(check orders));
is($rc, 0, 'soukctl check orders on the backfilled shop: exit 0') or diag "$out\n$err";
like($out, qr/^violations: 0$/m, 'violations: 0') or diag $out;

# The stock each product had on the monolith is still what inventory can sell.
my $stock = mariadb_sql($mono->{db}, 'SELECT p.id, COALESCE(i.stock, 0) FROM products p'
    . ' LEFT JOIN inventory i ON i.product_id = p.id ORDER BY p.id');
my $inv = pg_sql($db{inventory}{db}, 'SELECT product_id, on_hand - reserved FROM audit_stock'
    . ' ORDER BY product_id');
is_deeply($inv, $stock, 'inventory: what is left to sell is the monolith\'s stock');

# A repeat changes nothing and the shop stays clean.
($rc, $out, $err) = soukctl(\%env, qw(backfill inventory));
is($rc, 0, 'a repeat of backfill inventory exits 0') or diag $err;
($rc, $out, $err) = soukctl(\%env, qw(check orders));
is($rc, 0, 'still clean after a repeat') or diag "$out\n$err";
done_testing;
