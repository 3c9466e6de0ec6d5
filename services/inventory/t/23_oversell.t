# Never oversold, never negative, under concurrency: three souk-inventory instances consume
# one queue (competing consumers, each its own transactions on one database). 200
# order.created for a product with 50 units, half of them also holding a second product
# listed first (the lock order is the product id's, whatever the order of the lines): exactly
# 50 are held, 150 rejected, nothing below zero, no deadlock retried. Then sales, releases and
# 60 more orders race: the released units are held again at most once, and the counters
# still add up (the checker's invariants).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib";
use Test::More;
use Souk::Test;
use InventoryTest;

my $t = InventoryTest->start();
$t->more for 1 .. 2;
my ($A, $B) = (51, 52);
$t->product($A, 50);
$t->product($B, 1000);

sub counters { my $s = $t->stock($_[0]); [@$s{qw(received on_hand reserved sold)}] }
sub states {
    my ($lo, $hi) = @_;
    my %n = map { $_->[0] => $_->[1] } @{$t->sql("SELECT state, count(*) FROM reservations
        WHERE order_id BETWEEN $lo AND $hi GROUP BY state")};
    return \%n;
}
sub metric_sum {
    my ($name) = @_;
    my $n = 0;
    $n += metric_value($_->url, $name) // 0 for @{$t->{svcs}};
    return $n;
}

# Every instance's consumers attached before the burst (the sharing check below needs them).
my ($vhost) = $t->{amqp} =~ m{/([^/]*)$};
$vhost =~ s/%([0-9a-fA-F]{2})/chr hex $1/ge;
my $want = 3 * ($ENV{SOUK_INVENTORY_CONSUMERS} // 4);
my $consumers = 0;
ok(wait_until('every consumer attached', sub {
    my (undef, $out) = rabbitmqctl(qw(-q list_queues -p), $vhost, qw(name consumers));
    $consumers = ($out // '') =~ /^inventory\s+(\d+)$/m ? $1 : 0;
    $consumers >= $want }, 30), "the inventory queue has every instance's consumers ($consumers)")
    or diag("the inventory queue has $consumers consumers of $want");

# --- 200 buyers, 50 units ----------------------------------------------------------------
my $before = $t->consumed;
$t->publish_many(map {
    ['order.created', $_, InventoryTest::order_created_payload($_,
        $_ % 2 ? [[$B, 1], [$A, 1]] : [[$A, 1]])]
} 3001 .. 3200);
ok(wait_until('200 orders consumed', sub { $t->consumed >= $before + 200 }, 90),
    '200 order.created consumed by three instances');
my @per = map { metric_value($_->url, 'souk_events_consumed_total') // 0 } @{$t->{svcs}};
cmp_ok(scalar(grep { $_ > 0 } @per), '>=', 2, "the instances shared the work (@per)");
is_deeply(states(3001, 3200), {HELD => 50, REJECTED => 150}, 'exactly 50 held, 150 rejected');
is_deeply(counters($A), [50, 50, 50, 0], "product $A: 50 reserved of 50, none oversold");
my ($held_b) = @{$t->sql("SELECT count(*) FROM reservations r JOIN reservation_lines l
    ON l.order_id = r.order_id AND l.product_id = $B WHERE r.state = 'HELD'")->[0]};
is($t->stock($B)->{reserved}, $held_b, "product $B: reserved = its held lines ($held_b)");
is(metric_sum('souk_events_retried_total'), 0, 'no transaction had to be retried (no deadlock)');
my $rej = $t->events('inventory.rejected');
is(scalar @$rej, 150, '150 inventory.rejected');
is(scalar(grep { $_->{shortages}[0]{product_id} == $A && $_->{shortages}[0]{available} == 0 } @$rej),
    150, 'each names product A with nothing available');

# --- sales, releases and new buyers race ---------------------------------------------------
my @held = map { $_->[0] + 0 } @{$t->sql("SELECT order_id FROM reservations
    WHERE order_id BETWEEN 3001 AND 3200 AND state = 'HELD' ORDER BY order_id")};
my @sell = @held[0 .. 24];
my @fail = @held[25 .. 49];
$before = $t->consumed;
my @evs;
for my $i (0 .. 59) {    # interleaved: a sale, a failure, a new order
    push @evs, ['payment.succeeded', $sell[$i], {order_id => $sell[$i], payment_id => $sell[$i],
        amount => {amount => 1000, currency => 'EUR'}, provider_ref => "p$sell[$i]",
        card_last4 => '4242'}] if $i < 25;
    push @evs, ['payment.failed', $fail[$i], {order_id => $fail[$i], reason => 'declined',
        attempts => 1}] if $i < 25;
    push @evs, ['order.created', 3301 + $i,
        InventoryTest::order_created_payload(3301 + $i, [[$A, 1], [$B, 2]])];
}
$t->publish_many(@evs);
ok(wait_until('110 events consumed', sub { $t->consumed >= $before + 110 }, 90),
    '25 sales, 25 failures and 60 new orders consumed');
is_deeply(states(3001, 3200), {SOLD => 25, RELEASED => 25, REJECTED => 150},
    'the first 50: 25 sold, 25 released');
my $new = states(3301, 3360);
my $new_held = $new->{HELD} // 0;
is($new_held + ($new->{REJECTED} // 0), 60, "the 60 new orders: $new_held held, the rest rejected");
cmp_ok($new_held, '<=', 25, 'at most the 25 released units were held again');
is_deeply(counters($A), [50, 25, $new_held, 25], "product $A: 25 sold, 25 on hand, $new_held reserved");
cmp_ok($t->stock($A)->{on_hand} - $t->stock($A)->{reserved}, '>=', 0, 'available never negative');
is(metric_sum('souk_events_retried_total'), 0, 'still no retried transaction');

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
my $last = $t->events('inventory.stock_changed', $A)->[-1];
is_deeply($last, {product_id => $A, available => 25 - $new_held, on_hand => 25,
    reserved => $new_held, version => $t->stock($A)->{version}},
    'the last stock_changed of A is the stored level, at its version');
my @v = map { $_->{version} } @{$t->events('inventory.stock_changed', $A)};
is_deeply(\@v, [1 .. $t->stock($A)->{version}], 'A: one stock_changed per version, in commit order');

$t->finish;
done_testing;
