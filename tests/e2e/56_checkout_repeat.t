# A repeated checkout of one cart (a double click, a client retrying after its 201, several
# tabs at once) is one order and one charge, as on the monolith, where the checkout empties
# the cart in its own transaction and the repeat finds it empty (409 cart-empty). On the
# services the cart is emptied later, by souk-cart on order.confirmed, so orders refuses to
# turn one state of the cart (souk-cart's ETag) into a second live order. Real processes
# (tests/lib/Souk/Saga.pm): souk-cart, -orders, -inventory, -payments behind the gateway.
#
#   sequential      201, then at once (order.confirmed not yet applied, or applied) 409
#                   cart-empty, with or without another Idempotency-Key
#   concurrent      6 checkouts of one cart at once: one 201, five 409 cart-empty; 4 with one
#                   Idempotency-Key: one 201, three replays of that order (never cart-empty)
#   failed first    a declined checkout frees the cart's state: the retry is 201
#   after           one order and one authorisation + capture per round; the cart changed
#                   after an order checks out again; soukctl check orders: no violation
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;
use Souk::Saga qw(CARD_OK CARD_DECLINED);

my $s = Souk::Saga->start(env => {orders => {SOUK_ORDERS_WAITERS => 16}});
my ($ann, $bob, $cy, $di) = @{$s->buyers(4)};
my $p = $s->product(price => 700, stock => 50);

my @bad;
sub api { my ($m, $path, %o) = @_; api_request($s->url, \@bad, $m, $path, %o) }
sub sql1 { my ($svc, $q) = @_; my $r = pg_sql($s->db($svc)->{db}, $q); @$r ? $r->[0][0] : undef }
sub checkout {
    my ($u, %h) = @_;
    my $card = delete $h{card} // CARD_OK;
    api(POST => '/api/v1/orders', token => $u->{token}, json => {card_number => $card},
        headers => \%h, allow_5xx => 1);
}
sub live_orders { sql1(orders => "SELECT count(*) FROM audit_orders WHERE user_id = $_[0]{id}"
    . " AND status IN ('PENDING', 'CONFIRMED')") }
# What the simulated provider did for the user's orders: authorisations and captures.
sub charges {
    my ($u) = @_;
    my $ids = join(',', map { $_->[0] } @{pg_sql($s->db('orders')->{db},
        "SELECT order_id FROM audit_orders WHERE user_id = $u->{id}")}) || '0';
    return sql1(payments => 'SELECT coalesce(sum(authorized), 0) || \'/\' ||'
        . " coalesce(sum(captured), 0) FROM audit_provider WHERE order_id IN ($ids)");
}
sub cart_items { api(GET => '/api/v1/cart', token => $_[0]{token})->{json}{items} }
sub settled {
    my ($u, $what) = @_;
    ok(wait_until("$what: the cart empties", sub { my $i = cart_items($u); $i && !@$i }, 20),
        "$what: the cart is emptied by order.confirmed");
}

# --- sequential ------------------------------------------------------------------------------
$s->cart_add($ann, $p->{id}, 2);
my $res = checkout($ann);
is($res->{status}, 201, 'sequential: the first checkout is 201') or diag($res->{body});
is_problem(checkout($ann), 409, 'cart-empty', 'sequential: the repeat at once is 409 cart-empty');
is_problem(checkout($ann, 'Idempotency-Key' => "other-$$"), 409, 'cart-empty',
    'sequential: a repeat with a key of its own is 409 cart-empty too');
settled($ann, 'sequential');
is_problem(checkout($ann), 409, 'cart-empty', 'sequential: after the cart emptied: 409 cart-empty');
is(live_orders($ann), 1, 'sequential: one order');
ok(wait_until('one capture', sub { charges($ann) eq '1/1' }, 20), 'sequential: one charge')
    or diag('authorised/captured: ' . charges($ann));

# the cart changed after the order: that is a new checkout
$s->cart_add($ann, $p->{id}, 1);
is(checkout($ann)->{status}, 201, 'sequential: a cart filled again checks out again');
settled($ann, 'again');
is(live_orders($ann), 2, 'again: two orders in all');

# --- concurrent ------------------------------------------------------------------------------
my $N = 6;
$s->cart_add($bob, $p->{id}, 1);
my $got = $s->parallel($N, [1 .. $N], sub {
    my ($ua, $i) = @_;
    my $r = $ua->request(POST => $s->url . '/api/v1/orders', {headers => {
        Authorization => "Bearer $bob->{token}", 'Content-Type' => 'application/json'},
        content => '{"card_number":"' . CARD_OK . '"}'});
    my $type = $r->{content} =~ /"type"\s*:\s*"[^"]*\/([a-z-]+)"/ ? $1 : '';
    return {status => $r->{status}, type => $type};
}, timeout => 60);
my %n;
$n{$_->{status} . ($_->{type} ? " $_->{type}" : '')}++ for grep { $_ } @$got;
is_deeply(\%n, {201 => 1, '409 cart-empty' => $N - 1},
    "concurrent: $N checkouts of one cart: one 201, the rest 409 cart-empty") or diag(explain($got));
settled($bob, 'concurrent');
is(live_orders($bob), 1, 'concurrent: one order');
ok(wait_until('one capture', sub { charges($bob) eq '1/1' }, 20), 'concurrent: one charge')
    or diag('authorised/captured: ' . charges($bob));

# the same Idempotency-Key at once: a repeat that finds the cart's state taken by its own
# key's order is that order's replay, not cart-empty
$s->cart_add($di, $p->{id}, 1);
my $key = "conc-$$";
$got = $s->parallel(4, [1 .. 4], sub {
    my ($ua) = @_;
    my $r = $ua->request(POST => $s->url . '/api/v1/orders', {headers => {
        Authorization => "Bearer $di->{token}", 'Content-Type' => 'application/json',
        'Idempotency-Key' => $key}, content => '{"card_number":"' . CARD_OK . '"}'});
    my ($id) = $r->{content} =~ /^\{"id":(\d+)/;
    return {status => $r->{status}, id => $id // 0};
}, timeout => 60);
is_deeply([sort map { $_ ? $_->{status} : 0 } @$got], [200, 200, 200, 201],
    'one key, at once: one 201, three 200') or diag(explain($got));
is(scalar(keys %{{map { ($_ ? $_->{id} : 0) => 1 } @$got}}), 1, 'one key, at once: one order id');
settled($di, 'one key');
is(live_orders($di), 1, 'one key: one order');

# --- a failed checkout frees the cart's state ------------------------------------------------
$s->cart_add($cy, $p->{id}, 1);
is_problem(checkout($cy, card => CARD_DECLINED), 402, 'payment-declined', 'failed first: 402');
$res = checkout($cy);
is($res->{status}, 201, 'failed first: the retry of the same cart is 201') or diag($res->{body});
settled($cy, 'failed first');
is(live_orders($cy), 1, 'failed first: one live order');

# --- the checker -----------------------------------------------------------------------------
my ($rc, $out, $err) = $s->check('--wait', 30);
is($rc, 0, 'soukctl check orders: no violation') or diag("$out\n$err");
is_deeply(\@bad, [], 'no unexpected 5xx');
done_testing;
