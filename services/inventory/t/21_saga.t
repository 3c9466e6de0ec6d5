# The saga's reactions, driven by real events through a private RabbitMQ vhost: order.created
# holds every line or none (inventory.reserved carrying amount and card forward, or
# inventory.rejected naming the short lines), payment.succeeded (or order.confirmed) makes the
# hold a sale, payment.failed and order.cancelled release it, a cancellation after the sale
# gives the units back. Every stock move is an inventory.stock_changed with the product's next
# version. Duplicates (the same event id again, or the same fact under a new id), reordered
# and late events change nothing; a malformed payload is parked after its retries, listed over
# the admin API without its card token, and replayed unchanged. At the end
# the audit views satisfy the checker's invariants.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib";
use Test::More;
use Souk::Test;
use InventoryTest;

my $t = InventoryTest->start(SOUK_MQ_MAX_ATTEMPTS => 2);

sub counters { my $s = $t->stock($_[0]); [@$s{qw(received on_hand reserved sold)}] }
sub versions { [map { $_->{version} } @{$t->events('inventory.stock_changed', $_[0])}] }
sub nevents { scalar @{$t->events($_[0], $_[1])} }
# consume(sub { publish ... }, $n): run the publisher, wait until $n more events are consumed.
sub consume {
    my ($pub, $n) = @_;
    my $before = $t->consumed;
    $pub->();
    return wait_until("$n events consumed", sub { $t->consumed >= $before + $n });
}

$t->product(31, 10);
$t->product(32, 5);
$t->product(33, 1);

# --- happy path: hold, then sale ---------------------------------------------------------
$t->order_created(100, [[31, 3]], user_id => 42);
ok($t->wait_state(100, 'HELD'), 'order.created: HELD');
my $r = $t->events('inventory.reserved', 100);
is(scalar @$r, 1, 'inventory.reserved written once');
my $hold_until = delete $r->[0]{hold_until};
is_deeply($r->[0], {order_id => 100, user_id => 42, lines => [{product_id => 31, quantity => 3}],
    amount => {amount => 3000, currency => 'EUR'},
    card => {token => 'sim_ok_4242_9f86d081884c7d65', last4 => '4242'}},
    'inventory.reserved: lines, the total as amount and the card carried forward');
like($hold_until, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'hold_until is an RFC 3339 time');
my ($until_s) = @{$t->sql("SELECT extract(epoch FROM hold_until - created_at)::int
    FROM reservations WHERE order_id = 100")->[0]};
is($until_s, 60, 'the hold lives SOUK_INVENTORY_HOLD_S (default 60 s)');
is_deeply(counters(31), [10, 10, 3, 0], 'stock 31: 3 of 10 reserved');
is_deeply($t->events('inventory.stock_changed', 31)->[-1],
    {product_id => 31, available => 7, on_hand => 10, reserved => 3, version => 2},
    'inventory.stock_changed: available 7, version 2');

$t->payment_succeeded(100);
ok($t->wait_state(100, 'SOLD'), 'payment.succeeded: SOLD');
is_deeply($t->events('inventory.sold', 100),
    [{order_id => 100, lines => [{product_id => 31, quantity => 3}]}], 'inventory.sold');
is_deeply(counters(31), [10, 7, 0, 3], 'stock 31: 3 sold, 7 on hand, none reserved');
is_deeply($t->events('inventory.stock_changed', 31)->[-1],
    {product_id => 31, available => 7, on_hand => 7, reserved => 0, version => 3},
    'the sale is a stock change too (version 3)');

ok(consume(sub { $t->order_confirmed(100, [[31, 3]]) }, 1), 'order.confirmed after the sale');
is($t->state(100), 'SOLD', '... changes nothing');
is(nevents('inventory.sold', 100), 1, '... and sells nothing twice');

# order.confirmed first also sells (payment.succeeded then finds SOLD).
$t->order_created(106, [[31, 1]]);
ok($t->wait_state(106, 'HELD'), 'order 106 held');
$t->order_confirmed(106, [[31, 1]]);
ok($t->wait_state(106, 'SOLD'), 'order.confirmed on a hold: SOLD');
ok(consume(sub { $t->payment_succeeded(106) }, 1), 'a late payment.succeeded');
is(nevents('inventory.sold', 106), 1, '... sells nothing twice');
is_deeply(counters(31), [10, 6, 0, 4], 'stock 31: 4 sold');

# --- every line or none -------------------------------------------------------------------
$t->order_created(101, [[32, 2], [33, 2], [999, 1]]);
ok($t->wait_state(101, 'REJECTED'), 'a short line: REJECTED');
is_deeply($t->events('inventory.rejected', 101), [{order_id => 101, shortages => [
    {product_id => 33, requested => 2, available => 1},
    {product_id => 999, requested => 1, available => 0}]}],
    'inventory.rejected names the short lines (an unknown product has none available)');
is_deeply(counters(32), [5, 5, 0, 0], 'nothing of 32 is held');
is_deeply(versions(32), [1], 'and no stock_changed for 32');
is_deeply($t->sql('SELECT product_id, quantity, state FROM audit_holds WHERE order_id = 101
    ORDER BY product_id'), [[32, 2, 'REJECTED'], [33, 2, 'REJECTED'], [999, 1, 'REJECTED']],
    'audit_holds: every line of the rejected order, REJECTED');

# Repeated products are one hold; lines come out in product order.
$t->order_created(102, [[33, 1], [32, 1], [32, 2]]);
ok($t->wait_state(102, 'HELD'), 'repeated product lines are merged and held');
is_deeply($t->events('inventory.reserved', 102)->[0]{lines},
    [{product_id => 32, quantity => 3}, {product_id => 33, quantity => 1}], 'lines merged');
is_deeply(counters(32), [5, 5, 3, 0], 'stock 32: 3 reserved');
is_deeply(counters(33), [1, 1, 1, 0], 'stock 33: the last unit reserved');

# --- payment.failed releases ---------------------------------------------------------------
$t->payment_failed(102);
ok($t->wait_state(102, 'RELEASED'), 'payment.failed: RELEASED');
is_deeply($t->events('inventory.released', 102), [{order_id => 102, reason => 'payment-failed',
    lines => [{product_id => 32, quantity => 3}, {product_id => 33, quantity => 1}]}],
    'inventory.released, reason payment-failed');
is_deeply([counters(32), counters(33)], [[5, 5, 0, 0], [1, 1, 0, 0]], 'the units are back');

# --- order.cancelled releases a hold, and gives a sale back ------------------------------
$t->order_created(103, [[32, 4]]);
ok($t->wait_state(103, 'HELD'), 'order 103 held');
$t->order_cancelled(103);
ok($t->wait_state(103, 'RELEASED'), 'order.cancelled on a hold: RELEASED');
is($t->events('inventory.released', 103)->[0]{reason}, 'order-cancelled', 'reason order-cancelled');
is_deeply(counters(32), [5, 5, 0, 0], 'stock 32 whole again');

$t->order_created(104, [[32, 2]]);
ok($t->wait_state(104, 'HELD'), 'order 104 held');
$t->payment_succeeded(104);
ok($t->wait_state(104, 'SOLD'), 'and sold');
is_deeply(counters(32), [5, 3, 0, 2], 'stock 32: 2 sold');
$t->order_cancelled(104, 'deadline');
ok($t->wait_state(104, 'RELEASED'), 'order.cancelled after the sale: RELEASED');
is_deeply($t->events('inventory.released', 104), [{order_id => 104, reason => 'order-cancelled',
    lines => [{product_id => 32, quantity => 2}]}], 'inventory.released gives the sale back');
is_deeply(counters(32), [5, 5, 0, 0], 'stock 32: the units back on hand, sold back to 0');

# --- duplicates ---------------------------------------------------------------------------
my $dups = $t->metric('souk_events_duplicates_total') // 0;
my @v31 = @{versions(31)};
my $sold_before = nevents('inventory.sold');
my $resent = scalar @{$t->sql("UPDATE outbox SET sent_at = NULL WHERE aggregate_id IN (100, 102, 104)
    AND type IN ('order.created', 'payment.succeeded', 'payment.failed', 'order.cancelled')
    RETURNING 1")};
is($resent, 7, 'seven events of orders 100, 102 and 104 sent again');
# every one of them, so none is left to count in the consume() totals below
ok(wait_until('duplicates', sub { ($t->metric('souk_events_duplicates_total') // 0) >= $dups + $resent }),
    'the same events again (same ids) are recognised as duplicates');
ok(consume(sub {
    $t->order_created(100, [[31, 3]]);    # the same facts under new ids
    $t->payment_succeeded(100);
    $t->order_cancelled(102);
    $t->payment_failed(104);
}, 4), 'the same facts under new ids are consumed');
is_deeply([map { $t->state($_) } 100, 102, 104], [qw(SOLD RELEASED RELEASED)], 'states unchanged');
is_deeply(versions(31), \@v31, 'no stock change for 31');
is(nevents('inventory.sold'), $sold_before, 'nothing sold twice');
is(nevents('inventory.reserved', 100), 1, 'nothing reserved twice');

# --- reordered and late events -------------------------------------------------------------
$t->order_cancelled(105);
ok($t->wait_state(105, 'RELEASED'), 'order.cancelled before its order.created: a tombstone');
ok(consume(sub { $t->order_created(105, [[31, 1]]) }, 1), 'the late order.created');
is($t->state(105), 'RELEASED', '... holds nothing for a cancelled order');
is(nevents('inventory.reserved', 105), 0, '... and reserves nothing');
is_deeply($t->sql('SELECT count(*) FROM reservation_lines WHERE order_id = 105'), [[0]],
    'the tombstone has no lines');
ok(consume(sub { $t->payment_succeeded(107); $t->payment_failed(108); $t->order_confirmed(109, [[31, 1]]) }, 3),
    'payment and confirmation events for orders inventory never saw');
is_deeply($t->sql('SELECT count(*) FROM reservations WHERE order_id IN (107, 108, 109)'), [[0]],
    '... are acknowledged and change nothing');
ok(consume(sub { $t->payment_failed(100) }, 1), 'payment.failed after the sale');
is($t->state(100), 'SOLD', '... leaves the sale alone');
ok(consume(sub { $t->order_cancelled(101) }, 1), 'order.cancelled of a rejected order');
is($t->state(101), 'REJECTED', '... changes nothing');

# --- a malformed payload is retried, then parked --------------------------------------------
my $id = $t->publish('order.created', 110, {%{InventoryTest::order_created_payload(110, [[31, 1]])},
    lines => [{product_id => 31, quantity => 0, unit_price => {amount => 1, currency => 'EUR'}}]});
Souk::Test::event_invalid_on_purpose($id);
ok(wait_until('parked', sub { ($t->metric('souk_events_dead_lettered_total') // 0) == 1 }),
    'an order.created with quantity 0 is parked after its retries');
is($t->state(110), undef, 'and holds nothing');
my ($rc, $out) = soukctl({SOUK_AMQP_URL => $t->{amqp}}, qw(dlq list inventory));
like($out, qr/order\.created\t2\t[^\t]+\tpayload\.lines\[\] need a product_id/,
    'soukctl dlq list inventory shows it with the reason');

# The dead letters over the API (the control room's): the card token stays out of the list,
# a replay still sends the message back exactly as published, token and all.
my $dl = $t->admin_api(GET => '/api/v2/admin/dlq/inventory');
is($dl->{status}, 200, 'GET /api/v2/admin/dlq/inventory: 200');
my ($parked) = grep { ($_->{event_id} // '') eq $id } @{$dl->{json}{items} || []};
is_deeply($parked && $parked->{envelope}{payload}{card}, {last4 => '4242'},
    'the listed envelope\'s card has last4 and no token') or diag explain $parked;
unlike($dl->{body}, qr/sim_ok_4242/, 'the token appears nowhere in the answer');
my $rp = $t->admin_api(POST => '/api/v2/admin/dlq/inventory/replay', json => {event_id => $id});
is($rp->{status} . ' ' . ($rp->{json}{replayed} // ''), '200 1', 'replay: 200, one message');
ok(wait_until('parked again', sub { ($t->metric('souk_events_dead_lettered_total') // 0) == 2 }),
    'the replayed message is consumed again and parked again (its cause is not fixed)');
($rc, $out) = soukctl({SOUK_AMQP_URL => $t->{amqp}}, qw(dlq show inventory), $id);
like($out, qr/"token"\s*:\s*"sim_ok_4242_9f86d081884c7d65"/,
    'the replayed message still carries the card token (replay republishes it unchanged)');

# --- every stock change is a stock_changed with the next version ----------------------------
for my $p (31, 32, 33) {
    my $v = versions($p);
    is_deeply($v, [1 .. $t->stock($p)->{version}], "product $p: versions 1..N without gaps");
}

# --- metrics: committed transitions by the state reached -------------------------------------
my %reached = map { $_ => $t->metric("souk_inventory_reservations_total{state=\"$_\"}") }
    qw(HELD SOLD RELEASED REJECTED);
is_deeply(\%reached, {HELD => 5, SOLD => 3, RELEASED => 4, REJECTED => 1},
    'souk_inventory_reservations_total by state (ignored events not counted)');

# --- the checker's invariants ----------------------------------------------------------------
is_deeply($t->sql('SELECT product_id FROM audit_stock WHERE received <> on_hand + sold
    OR reserved < 0 OR reserved > on_hand OR on_hand < 0 OR sold < 0'), [],
    'received = on_hand + sold, 0 <= reserved <= on_hand');
is_deeply($t->sql("SELECT s.product_id FROM audit_stock s LEFT JOIN (SELECT product_id,
    sum(quantity) FILTER (WHERE state = 'HELD') AS held,
    sum(quantity) FILTER (WHERE state = 'SOLD') AS sold FROM audit_holds GROUP BY product_id) h
    ON h.product_id = s.product_id
    WHERE s.reserved <> coalesce(h.held, 0) OR s.sold <> coalesce(h.sold, 0)"), [],
    'reserved = sum of HELD lines, sold = sum of SOLD lines');

$t->finish(qr/payload\.lines\[\]|parked a message/);
done_testing;
