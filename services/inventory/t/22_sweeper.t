# The hold sweeper: a hold past SOUK_INVENTORY_HOLD_S is released (inventory.released, reason
# hold-expired, the units back and a stock_changed), a hold still in time and a sale are left
# alone; a payment that arrives after the release sells the units anew while they are
# available and never beyond; a sweeper round releases more than one batch. Two instances
# sweeping the same database release each hold once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib";
use Test::More;
use Souk::Test;
use InventoryTest;

# Holds live 3 s. Nothing below depends on how fast the machine is: a sale that comes after
# its own hold expired is a late sale (below), and that a release never comes early is
# checked on the rows (updated_at >= hold_until).
my $t = InventoryTest->start(SOUK_INVENTORY_HOLD_S => 3, SOUK_INVENTORY_SWEEP_MS => 100);
$t->more;    # a second sweeper on the same database

sub counters { my $s = $t->stock($_[0]); [@$s{qw(received on_hand reserved sold)}] }

$t->product(41, 10);
$t->order_created(200, [[41, 2]]);
$t->order_created(201, [[41, 3]]);
ok($t->wait_state(200, 'HELD') && $t->wait_state(201, 'HELD'), 'two holds');
# 201 is the hold still in time: its payment must not race the 3 s TTL on a slow machine (a
# late sale would add a 254th release below), so its hold_until moves an hour on.
is_deeply($t->sql("UPDATE reservations SET hold_until = now() + interval '1 hour'
    WHERE order_id = 201 AND state = 'HELD' RETURNING order_id"), [[201]], '201 still held, given an hour');
$t->payment_succeeded(201);
ok($t->wait_state(201, 'SOLD'), 'one of them sold');
is($t->stock(41)->{sold}, 3, 'stock 41: 3 sold');

ok($t->wait_state(200, 'RELEASED', 15), 'past its hold_until the sweeper releases the other');
my $rel = $t->events('inventory.released', 200);
is_deeply($rel, [{order_id => 200, reason => 'hold-expired', lines => [{product_id => 41, quantity => 2}]}],
    'inventory.released once, reason hold-expired (two sweepers, one release)');
is_deeply(counters(41), [10, 7, 0, 3], 'the units are back; the sale stays');
ok((grep { $_->{available} == 7 && $_->{reserved} == 0 && $_->{on_hand} == 7 }
    @{$t->events('inventory.stock_changed', 41)}), 'and a stock_changed says so');
is_deeply($t->sql("SELECT reason, updated_at >= hold_until FROM reservations WHERE order_id = 200"),
    [['hold-expired', 't']], 'the reservation keeps why, and was released at or after hold_until');

# A payment that still arrives after the release (inventory was down or behind for longer than
# the TTL): the units are sold anew while they are there, never beyond.
$t->payment_succeeded(200);
ok($t->wait_state(200, 'SOLD'), 'a late payment.succeeded sells the released units anew');
is_deeply($t->events('inventory.sold', 200),
    [{order_id => 200, lines => [{product_id => 41, quantity => 2}]}], 'inventory.sold');
is_deeply(counters(41), [10, 5, 0, 5], 'stock 41: 5 sold, from what was available');

$t->order_created(202, [[41, 4]]);
ok($t->wait_state(202, 'HELD'), 'order 202 holds 4');
ok(wait_until('202 expired', sub { ($t->events('inventory.released', 202)->[0]{reason} // '')
    eq 'hold-expired' }, 20), 'and is released past its hold_until');
is($t->admin_api(PUT => '/api/v1/products/41/stock', json => {stock => 1})->{status}, 200,
    'the admin leaves 1 unit');
my $before = $t->consumed;
$t->payment_succeeded(202);
ok(wait_until('consumed', sub { $t->consumed >= $before + 1 }), 'a late payment.succeeded for 4');
is($t->state(202), 'RELEASED', '... finds 1 available and sells nothing');
is_deeply(counters(41), [6, 1, 0, 5], '... never oversold');
is(scalar @{$t->events('inventory.sold', 202)}, 0, '... no inventory.sold');
like($t->{svc}->stderr_text . $t->{svcs}[1]->stderr_text, qr/order 202: paid after its hold expired/,
    '... and says so in the error log');
$before = $t->consumed;
$t->order_cancelled(202);
ok(wait_until('consumed', sub { $t->consumed >= $before + 1 }), 'order.cancelled after the expiry');
is(scalar @{$t->events('inventory.released', 202)}, 1, '... releases nothing twice');
is($t->sql('SELECT reason FROM reservations WHERE order_id = 202')->[0][0], 'order-cancelled',
    '... and closes the reservation');

# Reordered: the cancellation before the late payment. The payment must not sell for a dead
# order, even with the units there.
$t->order_created(203, [[41, 1]]);
ok($t->wait_state(203, 'HELD'), 'order 203 holds the last unit');
ok(wait_until('203 expired', sub { ($t->events('inventory.released', 203)->[0]{reason} // '')
    eq 'hold-expired' }, 20), 'and is released past its hold_until');
my $v41 = $t->stock(41)->{version};
$before = $t->consumed;
$t->order_cancelled(203);    # one after the other: two instances consume in any order
ok(wait_until('consumed', sub { $t->consumed >= $before + 1 }), 'order.cancelled');
$t->payment_succeeded(203);
ok(wait_until('consumed', sub { $t->consumed >= $before + 2 }), 'then payment.succeeded');
is($t->state(203), 'RELEASED', '... nothing sold for the cancelled order');
is_deeply(counters(41), [6, 1, 0, 5], '... the unit stays available');
is($t->stock(41)->{version}, $v41, '... and no stock row changed');
is(scalar @{$t->events('inventory.released', 203)}, 1, '... one inventory.released (the expiry)');

# More expired holds than one round's batch (100): the sweeper goes on at once.
$t->product(42, 1000);
$t->sql("BEGIN; UPDATE stock SET reserved = reserved + 250 WHERE product_id = 42;
    INSERT INTO reservations (order_id, state, hold_until, created_at)
    SELECT g, 'HELD', now() - interval '1 minute', now() - interval '2 minutes'
    FROM generate_series(1001, 1250) g;
    INSERT INTO reservation_lines (order_id, product_id, quantity)
    SELECT g, 42, 1 FROM generate_series(1001, 1250) g; COMMIT");
ok(wait_until('250 released', sub { $t->sql("SELECT count(*) FROM reservations
    WHERE order_id BETWEEN 1001 AND 1250 AND state = 'RELEASED'")->[0][0] == 250 }, 20),
    '250 expired holds released');
is_deeply(counters(42), [1000, 1000, 0, 0], 'all 250 units back');
is(scalar @{$t->events('inventory.released')}, 253, 'one inventory.released per order');

is_deeply($t->sql("SELECT count(*) FROM reservations WHERE reason = 'hold-expired'
    AND updated_at < hold_until"), [[0]], 'no hold was released before its hold_until');
# A sweeper counts a release right after its commit, so the last rows seen released above may
# be ahead of the counters for a moment: wait for the sum, then hold it to exactly 253.
sub expired_sum {
    my $n = 0;
    $n += metric_value($_->url, 'souk_inventory_holds_expired_total') // 0 for @{$t->{svcs}};
    return $n;
}
my $exp;
wait_until('the sweepers to count every release', sub { ($exp = expired_sum()) >= 253 }, 20);
is($exp, 253, 'souk_inventory_holds_expired_total over both sweepers: 253');

$t->finish(qr/paid after its hold expired/);
done_testing;
