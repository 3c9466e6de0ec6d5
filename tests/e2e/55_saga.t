# The checkout saga end to end (DESIGN.md §3, contracts/events.md "The order saga") on real
# processes: souk-orders, -inventory, -payments, -cart, -catalog, -users behind souk-gateway,
# RabbitMQ between them (tests/lib/Souk/Saga.pm). Every outcome is checked where it lands:
# the v1 answer, the v2 order and its timeline, and the services' audit views (what inventory
# holds and sold, what the simulated provider did).
#
#   happy path          201 CONFIRMED; the timeline shows every step with its service and the
#                       request's trace id; one authorisation, one capture; the hold sold; the
#                       cart emptied
#   out of stock        409; REJECTED; nothing held, nothing charged
#   declined            402; CANCELLED; the hold released; nothing authorised
#   provider down       503 + Retry-After; payments tried SOUK_PAYMENTS_RETRY_LIMIT times, then
#                       CANCELLED; the hold released; nothing recorded at the provider
#   deadline            payments stopped: the order stays PENDING (the admin saga tracker lists
#                       it) until the sweeper cancels it at its deadline; the hold released;
#                       payments, back, leaves no authorisation standing and captures nothing
#   duplicates, reorder events published again (the same id, and copies under new ids, late
#                       for orders already terminal) change nothing
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes ();
use lib 'tests/lib';
use Souk::Test;
use Souk::Saga qw(CARD_OK CARD_DECLINED CARD_DOWN);

my ($DEADLINE, $RETRIES) = (12, 3);
my $s = Souk::Saga->start(env => {
    # a few waiting checkouts at a time, each holds a database connection (default 64)
    orders => {SOUK_ORDERS_DEADLINE_S => $DEADLINE, SOUK_ORDERS_SWEEP_MS => 200,
        SOUK_ORDERS_WAITERS => 8},
    inventory => {SOUK_INVENTORY_HOLD_S => 4 * $DEADLINE},
    payments => {SOUK_PAYMENTS_RETRY_LIMIT => $RETRIES, SOUK_PAYMENTS_RETRY_BASE_MS => 100,
        SOUK_PAYMENTS_CONSUMERS => 2},
});
my $u = $s->buyer;
my $anvil = $s->product(price => 1999, stock => 5);
my $bell = $s->product(price => 500, stock => 1);

# --- what this file adds to Souk::Saga ------------------------------------------------------
my @bad;    # 5xx answers nobody asked for
sub api { my ($m, $p, %o) = @_; api_request($s->url, \@bad, $m, $p, %o) }
sub sql { my ($svc, $q) = @_; pg_sql($s->db($svc)->{db}, $q) }
sub sql1 { my $r = sql(@_); @$r ? $r->[0][0] : undef }
sub checkout { my ($card, %h) = @_; api(POST => '/api/v1/orders', token => $u->{token},
    json => {card_number => $card}, headers => \%h, allow_5xx => 1) }
sub cart_items { api(GET => '/api/v1/cart', token => $u->{token})->{json}{items} }
sub order_v2 { my $r = api(GET => "/api/v2/orders/$_[0]", token => $u->{token}); $r->{status} == 200 ? $r->{json} : undef }
# The newest order of the buyer (a failed v1 checkout answers no id; the order is kept).
sub last_order { sql1(orders => "SELECT max(order_id) FROM audit_orders WHERE user_id = $u->{id}") }
# wait_status($id, $status, $timeout_s, @types): the v2 order once it has that status and an
# event of each of @types in its timeline; undef if that never happens.
sub wait_status {
    my ($id, $status, $timeout, @want) = @_;
    my $o;
    wait_until("order $id $status", sub {
        $o = order_v2($id);
        return 0 unless $o && $o->{status} eq $status;
        my %have = map { ($_->{type} => 1) } @{$o->{timeline} || []};
        !grep { !$have{$_} } @want;
    }, $timeout) or return undef;
    return $o;
}
# republish($service, $type, $order, same_id => 1): the newest $type event of the order in the
# outbox of $service published once more by its relay: as a copy under a new event id (the
# inboxes cannot tell; the state machines must), or, with same_id, the very row marked unsent
# again (the inboxes drop it). The event id.
sub republish {
    my ($svc, $type, $oid, %o) = @_;
    my $old = sql1($svc, "SELECT id FROM outbox WHERE type = '$type' AND aggregate_id = $oid"
        . ' ORDER BY seq DESC LIMIT 1') // die "no $type of order $oid in the outbox of $svc\n";
    if ($o{same_id}) {
        sql($svc, "UPDATE outbox SET sent_at = NULL WHERE id = '$old'");
        return $old;
    }
    my $id = sql1($svc, 'SELECT gen_random_uuid()');
    sql($svc, "INSERT INTO outbox (id, type, aggregate_id, envelope) SELECT '$id', type,"
        . " aggregate_id, replace(envelope, id::text, '$id') FROM outbox WHERE id = '$old'");
    return $id;
}
sub sent { my ($svc, $id) = @_; wait_until("$svc published $id",
    sub { sql1($svc, "SELECT count(*) FROM outbox WHERE id = '$id' AND sent_at IS NOT NULL") }, 20) }
sub consumed { my ($svc, $id) = @_; wait_until("$svc consumed $id",
    sub { sql1($svc, "SELECT count(*) FROM inbox WHERE event_id = '$id'") }, 20) }

# What the audit views say (SAGA.md): a product's stock, an order's holds and provider record.
sub stock_of { my $r = $s->stock($_[0]); $r ? {map { ($_ => 0 + $r->{$_}) } keys %$r} : undef }
sub holds_of {
    my ($oid) = @_;
    return [map { "$_->[0]x$_->[1] $_->[2]" } @{sql(inventory => 'SELECT product_id, quantity,'
        . " state FROM audit_holds WHERE order_id = $oid ORDER BY product_id")}];
}
sub provider_of {
    my ($oid) = @_;
    my $r = sql(payments => 'SELECT count(*), coalesce(sum(authorized), 0), coalesce(sum(captured), 0),'
        . " coalesce(sum(refunded), 0), coalesce(sum(voided), 0) FROM audit_provider WHERE order_id = $oid")->[0];
    return {keys => 0 + $r->[0], authorized => 0 + $r->[1], captured => 0 + $r->[2],
        refunded => 0 + $r->[3], voided => 0 + $r->[4]};
}
sub settles { my ($what, $cond) = @_; ok(wait_until($what, $cond, 20), $what) }

# --- happy path -----------------------------------------------------------------------------
$s->cart_add($u, $anvil->{id}, 2);
my $trace = '4bf92f3577b34da6a3ce929d0e0e4736';
my $res = checkout(CARD_OK, traceparent => "00-$trace-00f067aa0ba902b7-01");
is($res->{status}, 201, 'happy: v1 checkout is 201') or diag($res->{body});
is($res->{json}{status}, 'CONFIRMED', 'happy: the order is CONFIRMED when v1 answers');
my $o1 = $res->{json}{id} // 0;
my @steps = (['order.created', 'orders'], ['inventory.reserved', 'inventory'],
    ['payment.succeeded', 'payments'], ['order.confirmed', 'orders']);
my $v2 = wait_status($o1, 'CONFIRMED', 20, map { $_->[0] } @steps);
ok($v2, 'happy: v2 shows CONFIRMED with the whole timeline') or diag(explain(order_v2($o1)));
my %seen = map { ($_->{type} => $_) } @{$v2->{timeline} || []};
for my $st (@steps) {
    is($seen{$st->[0]}{service}, $st->[1], "happy: timeline: $st->[0] from $st->[1]");
    like($seen{$st->[0]}{at} // '', qr/^\d{4}-\d\d-\d\dT/, "happy: timeline: $st->[0] has its time");
}
is_deeply([sort keys %{{map { ($_->{trace_id} => 1) } @{$v2->{timeline} || []}}}], [$trace],
    'happy: every event of the timeline carries the request\'s trace id');
my @types = map { $_->{type} } @{$v2->{timeline} || []};
my ($created, $confirmed) = map { my $t = $_; (grep { $types[$_] eq $t } 0 .. $#types)[0] // -1 }
    'order.created', 'order.confirmed';
ok($created >= 0 && $confirmed > $created, 'happy: the timeline is in order (created before confirmed)')
    or diag("@types");
settles('happy: the authorisation is captured (payment.captured)', sub { provider_of($o1)->{captured} == 1 });
is_deeply(provider_of($o1), {keys => 1, authorized => 1, captured => 1, refunded => 0, voided => 0},
    'happy: one provider key, one authorisation, one capture');
settles('happy: the hold became a sale', sub { "@{holds_of($o1)}" eq "$anvil->{id}x2 SOLD" });
is_deeply(stock_of($anvil->{id}), {received => 5, on_hand => 3, reserved => 0, sold => 2},
    'happy: stock 5 -> 3 on hand, 2 sold, nothing reserved');
settles('happy: the cart is emptied (order.confirmed)', sub { !@{cart_items() || [1]} });

# --- out of stock ---------------------------------------------------------------------------
$s->cart_add($u, $bell->{id}, 2);
$res = checkout(CARD_OK);
is_problem($res, 409, 'out-of-stock', 'out of stock: v1 409 out-of-stock');
my $o2 = last_order();
isnt($o2, $o1, 'out of stock: the failed checkout is kept as an order');
$v2 = wait_status($o2, 'REJECTED', 20, 'order.created', 'inventory.rejected', 'order.rejected');
ok($v2, 'out of stock: v2 REJECTED with inventory.rejected and order.rejected');
is_deeply(provider_of($o2), {keys => 0, authorized => 0, captured => 0, refunded => 0, voided => 0},
    'out of stock: nothing charged, the provider never asked');
ok(!grep({ / (HELD|SOLD)$/ } @{holds_of($o2)}), 'out of stock: nothing held')
    or diag("@{holds_of($o2)}");
is_deeply(stock_of($bell->{id}), {received => 1, on_hand => 1, reserved => 0, sold => 0},
    'out of stock: the bell\'s stock untouched');
is_deeply([map { [$_->{product_id}, $_->{quantity}] } @{cart_items()}], [[$bell->{id}, 2]],
    'out of stock: the cart is kept');
api(DELETE => "/api/v1/cart/items/$bell->{id}", token => $u->{token});

# --- declined -------------------------------------------------------------------------------
$s->cart_add($u, $anvil->{id}, 1);
is_problem(checkout(CARD_DECLINED), 402, 'payment-declined', 'declined: v1 402');
my $o3 = last_order();
$v2 = wait_status($o3, 'CANCELLED', 20, 'inventory.reserved', 'payment.failed', 'order.cancelled');
ok($v2, 'declined: v2 CANCELLED after payment.failed');
is($v2->{reason}, 'payment-declined', 'declined: reason payment-declined');
settles('declined: the hold is released', sub { "@{holds_of($o3)}" eq "$anvil->{id}x1 RELEASED" });
is_deeply(stock_of($anvil->{id}), {received => 5, on_hand => 3, reserved => 0, sold => 2},
    'declined: stock back where it was');
is(provider_of($o3)->{authorized}, 0, 'declined: nothing authorised');

# --- provider unavailable -------------------------------------------------------------------
my $t0 = Time::HiRes::time();
$res = checkout(CARD_DOWN);
is_problem($res, 503, 'payment-unavailable', 'provider down: v1 503 payment-unavailable');
like($res->{headers}{'retry-after'} // '', qr/^\d+$/, 'provider down: Retry-After');
my $o4 = last_order();
$v2 = wait_status($o4, 'CANCELLED', 20, 'payment.failed');
ok($v2, 'provider down: v2 CANCELLED');
is($v2->{reason}, 'payment-unavailable', 'provider down: reason payment-unavailable');
my ($failed) = @{sql(payments => "SELECT envelope FROM outbox WHERE type = 'payment.failed'"
    . " AND aggregate_id = $o4")};
my $payload = $failed ? JSON::PP::decode_json($failed->[0])->{payload} : {};
is_deeply([@$payload{qw(reason attempts)}], ['unavailable', $RETRIES],
    "provider down: payment.failed after $RETRIES attempts");
cmp_ok(Time::HiRes::time() - $t0, '<', $DEADLINE, 'provider down: given up on before the deadline');
is(provider_of($o4)->{authorized}, 0, 'provider down: nothing authorised');
settles('provider down: the hold is released', sub { "@{holds_of($o4)}" eq "$anvil->{id}x1 RELEASED" });
is_deeply([map { [$_->{product_id}, $_->{quantity}] } @{cart_items()}], [[$anvil->{id}, 1]],
    'provider down: the cart is kept');

# --- deadline: payments stopped -------------------------------------------------------------
$s->kill9('payments');
$t0 = Time::HiRes::time();
$res = api(POST => '/api/v2/orders', token => $u->{token}, json => {card_number => CARD_OK});
is($res->{status}, 202, 'deadline: v2 checkout answers 202 at once') or diag($res->{body});
my $o5 = $res->{json}{id} // 0;
is($res->{json}{status}, 'PENDING', 'deadline: PENDING');
settles('deadline: held while payments is away', sub { "@{holds_of($o5)}" eq "$anvil->{id}x1 HELD" });
my $sagas = api_request($s->svc('orders')->url, \@bad, GET => '/api/v2/admin/sagas?state=PENDING',
    token => $s->admin_token);    # Souk::Saga's gateway has no sagas_v2 route
is($sagas->{status}, 200, 'deadline: the admin saga tracker answers');
ok((grep { $_->{id} == $o5 } @{$sagas->{json}{items} || []}), 'deadline: it lists the pending order');
is(order_v2($o5)->{status}, 'PENDING', 'deadline: still PENDING before the deadline');
$v2 = wait_status($o5, 'CANCELLED', $DEADLINE + 15, 'order.cancelled');
my $took = Time::HiRes::time() - $t0;
ok($v2, 'deadline: the sweeper cancelled it');
is($v2->{reason}, 'deadline', 'deadline: reason deadline');
cmp_ok($took, '>=', $DEADLINE - 1, "deadline: not before its deadline (${took}s)");
settles('deadline: the hold is released', sub { "@{holds_of($o5)}" eq "$anvil->{id}x1 RELEASED" });
$s->restart('payments');
settles('deadline: payments, back, has worked through what it missed',
    sub { !sql1(payments => "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        && sql1(payments => "SELECT count(*) FROM audit_payments WHERE order_id = $o5") });
# Both events it missed (the reservation and the cancellation) waited in its queue; its consumer
# threads may take them in either order, and an authorisation stands until the cancellation
# is applied: wait for both before judging the provider.
ok(consumed(payments => sql1(inventory => "SELECT (envelope::jsonb)->>'id' FROM outbox"
    . " WHERE type = 'inventory.reserved' AND aggregate_id = $o5")), 'deadline: payments took the reservation');
ok(consumed(payments => sql1(orders => "SELECT (envelope::jsonb)->>'id' FROM outbox"
    . " WHERE type = 'order.cancelled' AND aggregate_id = $o5")), 'deadline: and the cancellation');
my $pr = provider_of($o5);
is($pr->{captured}, 0, 'deadline: nothing captured for the cancelled order');
is($pr->{authorized}, $pr->{voided} + $pr->{refunded}, 'deadline: no authorisation left standing');
is(order_v2($o5)->{status}, 'CANCELLED', 'deadline: still CANCELLED');

# --- duplicates and reordering --------------------------------------------------------------
# The cart now holds anvil x1 (from the failed checkouts); whatever comes again must leave it,
# the orders, the stock and the provider as they are.
my %before = (stock => stock_of($anvil->{id}), bell => stock_of($bell->{id}),
    p1 => provider_of($o1), p3 => provider_of($o3), holds1 => holds_of($o1), holds2 => holds_of($o2));
my @again = (
    # [service that published it, type, order, same id?, consumers to wait for]
    [orders => 'order.confirmed', $o1, 1, qw(cart inventory payments)],
    [orders => 'order.confirmed', $o1, 0, qw(cart inventory payments)],
    [payments => 'payment.succeeded', $o1, 0, qw(orders inventory)],
    [inventory => 'inventory.reserved', $o1, 0, qw(payments)],
    [orders => 'order.created', $o1, 0, qw(inventory)],
    [orders => 'order.created', $o2, 0, qw(inventory)],          # late: REJECTED long ago
    [inventory => 'inventory.reserved', $o3, 0, qw(payments)],   # late: declined and CANCELLED
    [payments => 'payment.failed', $o3, 0, qw(orders inventory)],
    [orders => 'order.cancelled', $o5, 0, qw(inventory payments)],
);
for my $e (@again) {
    my ($from, $type, $oid, $same, @to) = @$e;
    my $what = ($same ? 'the same' : 'a copy of') . " $type of order $oid";
    my $id = republish($from, $type, $oid, same_id => $same);
    ok(sent($from, $id), "again: $what is published");
    next if $same;    # its inbox rows are there from the first time: the copy below follows it
    ok(consumed($_, $id), "again: $what was consumed by $_") for @to;
}
Time::HiRes::sleep(0.5);    # effects of the last copies committed with their inbox rows
is(order_v2($o1)->{status}, 'CONFIRMED', 'again: the confirmed order stays CONFIRMED');
is(order_v2($o2)->{status}, 'REJECTED', 'again: the rejected order stays REJECTED');
is(order_v2($o3)->{status}, 'CANCELLED', 'again: the declined order stays CANCELLED');
is(scalar(grep { $_->{type} eq 'order.confirmed' && $_->{direction} eq 'out' }
    @{order_v2($o1)->{timeline}}), 1, 'again: order.confirmed was emitted once');
is_deeply(provider_of($o1), $before{p1}, 'again: never charged or captured twice');
is_deeply(provider_of($o3), $before{p3}, 'again: a late inventory.reserved charges no cancelled order');
is_deeply(holds_of($o1), $before{holds1}, 'again: the sale stands as it was');
is_deeply(holds_of($o2), $before{holds2}, 'again: a late order.created holds nothing for a rejected order');
is_deeply(stock_of($anvil->{id}), $before{stock}, 'again: the anvil\'s stock unchanged');
is_deeply(stock_of($bell->{id}), $before{bell}, 'again: the bell\'s stock unchanged');
is_deeply([map { [$_->{product_id}, $_->{quantity}] } @{cart_items()}], [[$anvil->{id}, 1]],
    'again: the cart lost nothing to the repeated order.confirmed');

# --- the books balance ----------------------------------------------------------------------
for my $r (@{sql(inventory => 'SELECT product_id, received, on_hand, reserved, sold FROM audit_stock')}) {
    my ($pid, $rec, $on, $res_, $sold) = @$r;
    is($rec, $on + $sold, "stock of $pid: received = on hand + sold");
    is($res_, sql1(inventory => "SELECT coalesce(sum(quantity), 0) FROM audit_holds"
        . " WHERE product_id = $pid AND state = 'HELD'"), "stock of $pid: reserved = what is held");
}
is(sql1(orders => "SELECT count(*) FROM audit_orders WHERE status = 'PENDING'"), 0,
    'every order reached a terminal state');

is_deeply(\@bad, [], 'no 5xx answers but the 503s asked for');
my ($rc, $out) = $s->check('--wait', 30);
is($rc, 0, 'soukctl check orders: no violation') or diag($out);
done_testing;
