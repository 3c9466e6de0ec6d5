# v1 contract: checkout and the customer's orders. Every outcome of POST /api/v1/orders with
# the simulated provider's test cards (201 CONFIRMED, 409 out-of-stock, 402 declined, 503
# unavailable + Retry-After, 422 no address, 409 cart-empty, also for a repeat right after a
# 201), Idempotency-Key replays and reuse, my orders and one order, ownership, bad input.
# Runs unchanged against the monolith (one transaction) and against souk-orders, -inventory
# and -payments behind the gateway (the saga over RabbitMQ, answered synchronously for v1
# clients).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use Test::More;
use Souk::Test;
use Souk::Contract;

my ($OK, $DECLINE, $DOWN, $OTHER) =
    qw(4242424242424242 4000000000000002 4000000000000119 5555555555554444);
my $t = contract_target();
my %home = (line1 => '12 Analytical Row', line2 => 'Flat 3', city => 'London',
    postal_code => 'NW1 6XE', country => 'GB');
my ($ann, $bob, $nomad) = map { $t->user(name => $_) } qw(Ann Bob Nomad);
$t->address($ann, \%home);
$t->address($bob, {%home, line1 => '1 Other Street', line2 => ''});
my $anvil = $t->product(name => 'Anvil', price => {amount => 1999, currency => 'EUR'});
my $bucket = $t->product(name => 'Bucket', price => {amount => 500, currency => 'EUR'});
$t->stock($anvil->{id}, 50);
$t->stock($bucket->{id}, 3);

sub eur { {amount => $_[0], currency => 'EUR'} }
sub line {
    my ($p, $qty) = @_;
    return {product_id => $p->{id}, name => $p->{name}, quantity => $qty,
        unit_price => $p->{price}, line_total => eur($p->{price}{amount} * $qty)};
}
sub cart_lines { $t->api(GET => '/api/v1/cart', token => $_[0]{token})->{json}{items} }
sub v1_lines { [map { my %l = %$_; delete @l{qw(price_changed unavailable)}; \%l } @{$_[0] || []}] }
sub orders { $t->api(GET => "/api/v1/orders$_[1]", token => $_[0]{token}) }

# --- no orders, an empty cart, no address -------------------------------------
my $res = orders($ann, '');
answers($res, 200, 'order_page', 'my orders: 200 OrderPage');
is_deeply($res->{json}, {items => [], page => 1, limit => 20, total => 0}, 'my orders: none yet');

is_problem($t->checkout($ann, $OK), 409, 'cart-empty', 'checkout: an empty cart is 409 cart-empty');
$t->cart_add($nomad, $anvil->{id}, 1);
is_problem($t->checkout($nomad, $OK), 422, 'unprocessable', 'checkout: no address is 422');
is_deeply(v1_lines(cart_lines($nomad)), [line($anvil, 1)], 'no address: the cart is kept');

# --- confirmed ----------------------------------------------------------------
$t->cart_add($ann, $anvil->{id}, 2);
$t->cart_add($ann, $bucket->{id}, 1);
my $key = "k1-$t->{tag}";
$res = $t->checkout($ann, $OK, 'Idempotency-Key' => $key);
answers($res, 201, 'order', 'checkout: 201 Order');
in_order($res, 'order', 'checkout: member order');
my $o1 = $res->{json};
is($res->{headers}{location}, "/api/v1/orders/$o1->{id}", 'checkout: Location of the order');
is_deeply({%$o1, id => 0, created_at => ''}, {id => 0, user_id => $ann->{id}, status => 'CONFIRMED',
    total => eur(2 * 1999 + 500), items => [line($anvil, 2), line($bucket, 1)],
    shipping_address => \%home, payment => {status => 'APPROVED', card_last4 => '4242'},
    created_at => ''}, 'checkout: CONFIRMED, lines at the price of the day, the address, the last 4');
ok(!exists $res->{headers}{'idempotent-replayed'}, 'checkout: a first checkout is no replay');
# a double click or a client's retry after its 201: the cart was ordered (the monolith emptied
# it in the checkout's transaction; the services have not yet, but refuse its state twice)
is_problem($t->checkout($ann, $OK), 409, 'cart-empty',
    'checkout: a repeat right after the 201, without a key, is 409 cart-empty');
$t->cart_settled($ann);
is_deeply(cart_lines($ann), [], 'checkout: the cart is empty afterwards');

# --- idempotency --------------------------------------------------------------
$res = $t->checkout($ann, $OK, 'Idempotency-Key' => $key);
answers($res, 200, 'order', 'replay: 200 Order');
is($res->{headers}{'idempotent-replayed'}, 'true', 'replay: Idempotent-Replayed: true');
is($res->{headers}{location}, "/api/v1/orders/$o1->{id}", 'replay: Location of the first order');
is_deeply($res->{json}, $o1, 'replay: the first order, although the cart is empty now');
is_problem($t->checkout($ann, $OTHER, 'Idempotency-Key' => $key), 422, 'idempotency-key-reused',
    'replay: the same key with another card is 422');
$t->cart_add($bob, $anvil->{id}, 1);
$res = $t->checkout($bob, $OK, 'Idempotency-Key' => $key);
is($res->{status}, 201, 'idempotency: keys are per user (Bob\'s is a new checkout)');
isnt($res->{json}{id}, $o1->{id}, 'idempotency: ... with an order of his own');
my $b1 = $res->{json};
$t->cart_settled($bob);

# --- out of stock, declined, provider down: nothing kept ----------------------
$t->cart_add($ann, $anvil->{id}, 1);
$t->cart_add($ann, $bucket->{id}, 3);    # 2 of 3 left
$res = $t->checkout($ann, $OK);
is_problem($res, 409, 'out-of-stock', 'out of stock: 409 out-of-stock');
like($res->{json}{detail} // '', qr/\b$bucket->{id}\b/, 'out of stock: the detail names the product');
is_deeply(v1_lines(cart_lines($ann)), [line($anvil, 1), line($bucket, 3)], 'out of stock: the cart is kept');

$t->api(PUT => "/api/v1/cart/items/$bucket->{id}", token => $ann->{token}, json => {quantity => 1});
is_problem($t->checkout($ann, $DECLINE), 402, 'payment-declined', 'declined: 402 payment-declined');
is_deeply(v1_lines(cart_lines($ann)), [line($anvil, 1), line($bucket, 1)], 'declined: the cart is kept');

my $k2 = "k2-$t->{tag}";
$res = $t->checkout($ann, $DOWN, 'Idempotency-Key' => $k2);
is_problem($res, 503, 'payment-unavailable', 'provider down: 503 payment-unavailable');
like($res->{headers}{'retry-after'} // '', qr/^\d+$/, 'provider down: Retry-After in seconds');
is_deeply(v1_lines(cart_lines($ann)), [line($anvil, 1), line($bucket, 1)], 'provider down: the cart is kept');

$res = $t->checkout($ann, $OTHER, 'Idempotency-Key' => $k2);
answers($res, 201, 'order', 'retry: a failed checkout\'s key runs again (201)');
my $o2 = $res->{json};
is_deeply([@$o2{qw(status total)}, $o2->{payment}{card_last4}], ['CONFIRMED', eur(1999 + 500), '4444'],
    'retry: CONFIRMED, total, the other card\'s last 4');
$t->cart_settled($ann);
is_deeply($o2->{items}, [line($anvil, 1), line($bucket, 1)], 'retry: the lines by product id');

# --- my orders, one order, ownership ------------------------------------------
$res = orders($ann, '');
answers($res, 200, 'order_page', 'my orders: 200 OrderPage');
in_order($res, 'order_page', 'my orders: member order');
is_deeply($res->{json}, {items => [$o2, $o1], page => 1, limit => 20, total => 2},
    'my orders: the confirmed ones, newest first, as checkout returned them (failures are no v1 orders)');
is_deeply(orders($ann, '?limit=1&page=2')->{json}, {items => [$o1], page => 2, limit => 1, total => 2},
    'my orders: pages');
is_deeply([map { $_->{id} } @{orders($bob, '')->{json}{items}}], [$b1->{id}], 'my orders: only mine');
for my $q ('limit=0', 'limit=101', 'page=0', 'page=x') {
    is_problem(orders($ann, "?$q"), 400, 'invalid-request', "my orders: $q is 400");
}

$res = $t->api(GET => "/api/v1/orders/$o1->{id}", token => $ann->{token});
answers($res, 200, 'order', 'order: 200 Order');
is_deeply($res->{json}, $o1, 'order: as checkout returned it');
is_deeply($t->admin_api(GET => "/api/v1/orders/$o1->{id}")->{json}, $o1, 'order: an admin sees it');
my $theirs = $t->api(GET => "/api/v1/orders/$o1->{id}", token => $bob->{token});
is_problem($theirs, 404, 'not-found', 'ownership: Bob gets 404 for Ann\'s order, not 403');
my $none = $t->api(GET => '/api/v1/orders/999999999', token => $bob->{token});
is_problem($none, 404, 'not-found', 'order: an unknown id is 404');
is($theirs->{json}{detail}, $none->{json}{detail}, 'ownership: reads exactly like a missing order');
for my $id ('abc', '0', '-1', '99999999999999999999') {
    is_problem($t->api(GET => "/api/v1/orders/$id", token => $ann->{token}), 404, 'not-found',
        "order: id $id is 404");
}

# --- bad input ----------------------------------------------------------------
$t->cart_add($ann, $anvil->{id}, 1);
for my $c (['4242424242424241', 'a card failing Luhn'], ['4242 4242 4242 4242', 'spaces'],
    ['42424242424', 'too short'], ['4' x 20, 'too long'], ['', 'empty']) {
    is_problem($t->checkout($ann, $c->[0]), 400, 'invalid-request', "checkout: card $c->[1] is 400");
}
for my $c ([{card_number => 0 + $OK}, 'a card as a number'], [{}, 'no card'],
    [{card_number => $OK, amount => 1}, 'an unknown member'], [{card_number => undef}, 'a null card']) {
    is_problem($t->api(POST => '/api/v1/orders', token => $ann->{token}, json => $c->[0]), 400,
        'invalid-request', "checkout: $c->[1] is 400");
}
is_problem($t->api(POST => '/api/v1/orders', token => $ann->{token}, body => '{"card_number":',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'checkout: truncated JSON is 400 malformed-json');
is_problem($t->checkout($ann, $OK, 'Idempotency-Key' => 'x' x 129), 400, 'invalid-request',
    'checkout: a 129-character Idempotency-Key is 400');
is_problem($t->api(POST => '/api/v1/orders', json => {card_number => $OK}), 401, 'unauthorized',
    'checkout: no token is 401');
is_problem($t->api(GET => '/api/v1/orders'), 401, 'unauthorized', 'my orders: no token is 401');
is_deeply(v1_lines(cart_lines($ann)), [line($anvil, 1)], 'bad input: the cart is untouched');
is(orders($ann, '')->{json}{total}, 2, 'bad input: no order was made');

$t->finish;
done_testing;
