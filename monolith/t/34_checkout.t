# Checkout: one transaction that is all or nothing. Prices are frozen in the order, stock
# goes down, the cart empties and a payment row appears - or, on any failure (out of stock,
# declined, provider down, empty cart), nothing changes at all. Idempotency-Key replays.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../tests/lib";
use Test::More;
use Souk::Test;
use Souk::Shop;

my $t = Souk::Shop->start('checkout');
my $TS = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
my $OK = '4242424242424242';
my $DECLINE = '4000000000000002';
my $TRANSIENT = '4000000000000119';
my $admin = $t->admin;
my $u = $t->user(address => {line1 => 'Rua Augusta 10', line2 => '3 Dto', city => 'Lisboa',
    postal_code => '1100-053', country => 'PT'});
my $cat = $t->category('checkout', 'Checkout');
my $a = $t->product($admin, name => 'Anvil', category_id => $cat,
    price => {amount => 1999, currency => 'EUR'}, stock => 5);
my $b = $t->product($admin, name => 'Bucket', category_id => $cat,
    price => {amount => 500, currency => 'EUR'}, stock => 3);

# Everything checkout may touch, to prove a failure touched none of it.
sub snapshot {
    my ($user) = @_;
    return {
        stock => $t->sql('SELECT product_id, stock FROM inventory ORDER BY product_id'),
        cart => $t->sql('SELECT ci.product_id, ci.quantity FROM cart_items ci'
            . " JOIN carts c ON c.id = ci.cart_id WHERE c.user_id = $user->{id}"
            . ' ORDER BY ci.product_id'),
        orders => $t->sql('SELECT id, status FROM orders ORDER BY id'),
        items => $t->sql1('SELECT COUNT(*) FROM order_items'),
        payments => $t->sql1('SELECT COUNT(*) FROM payments'),
    };
}

sub checkout {
    my ($user, $card, %h) = @_;
    return $t->api(POST => '/api/v1/orders', token => $user->{token},
        json => {card_number => $card}, headers => \%h, allow_5xx => 1);
}

# --- happy path --------------------------------------------------------------
$t->cart_add($u, $a->{id}, 2);
$t->cart_add($u, $b->{id}, 1);
my $res = checkout($u, $OK);
is($res->{status}, 201, 'checkout: 201');
my $o = $res->{json};
is($res->{headers}{location}, "/api/v1/orders/$o->{id}", 'checkout: Location of the order');
like($o->{id}, qr/^[1-9]\d*$/, 'order: id');
is($o->{user_id}, $u->{id}, 'order: user_id');
is($o->{status}, 'CONFIRMED', 'order: CONFIRMED');
is_deeply($o->{total}, {amount => 2 * 1999 + 500, currency => 'EUR'}, 'order: total');
is_deeply($o->{items}, [
    {product_id => $a->{id}, name => 'Anvil', quantity => 2,
        unit_price => {amount => 1999, currency => 'EUR'},
        line_total => {amount => 3998, currency => 'EUR'}},
    {product_id => $b->{id}, name => 'Bucket', quantity => 1,
        unit_price => {amount => 500, currency => 'EUR'},
        line_total => {amount => 500, currency => 'EUR'}},
], 'order: lines with names and prices');
is_deeply($o->{shipping_address}, $u->{address}, 'order: the shipping address is copied');
is_deeply($o->{payment}, {status => 'APPROVED', card_last4 => '4242'}, 'order: payment');
like($o->{created_at}, $TS, 'order: created_at');
is_deeply([sort keys %$o],
    [sort qw(id user_id status total items shipping_address payment created_at)],
    'order: no other fields');

is($t->sql1("SELECT stock FROM inventory WHERE product_id = $a->{id}"), 3, 'stock: A 5 -> 3');
is($t->sql1("SELECT stock FROM inventory WHERE product_id = $b->{id}"), 2, 'stock: B 3 -> 2');
is_deeply($t->api(GET => '/api/v1/cart', token => $u->{token})->{json}{items}, [],
    'cart: empty after checkout');
is($t->sql1("SELECT COUNT(*) FROM cart_items"), 0, 'cart: no rows left');
is_deeply($t->sql("SELECT amount_minor, currency, status, card_last4, provider_ref <> ''"
    . " FROM payments WHERE order_id = $o->{id}"), [[4498, 'EUR', 'APPROVED', '4242', 1]],
    'payment: one row with the amount');
is_deeply($t->sql("SELECT product_id, quantity, unit_price_minor FROM order_items"
    . " WHERE order_id = $o->{id} ORDER BY product_id"),
    [[$a->{id}, 2, 1999], [$b->{id}, 1, 500]], 'order_items: rows');
is($t->sql1("SELECT card_last4 FROM payments WHERE order_id = $o->{id}"), '4242',
    'payment: only the last four digits are kept');
ok(!grep({ grep { defined && /$OK/ } @$_ } @{$t->sql('SELECT * FROM payments')},
    @{$t->sql('SELECT * FROM orders')}), 'payment: the card number is stored nowhere');

# The order keeps the prices of its moment.
$res = $t->api(PUT => "/api/v1/products/$a->{id}", token => $admin->{token},
    json => {sku => $a->{sku}, name => 'Anvil', category_id => $cat,
        price => {amount => 2999, currency => 'EUR'}});
is($res->{status}, 200, 'price change: 200');
$res = $t->api(PUT => '/api/v1/accounts/me/address', token => $u->{token},
    json => {line1 => 'Elsewhere 1', city => 'Porto', postal_code => '4000-001', country => 'PT'});
my $again = $t->api(GET => "/api/v1/orders/$o->{id}", token => $u->{token});
is($again->{status}, 200, 'order: GET 200');
is_deeply($again->{json}, $o, 'order: unchanged by a later price and address change');

# --- cart empty, no address ---------------------------------------------------
my $s0 = snapshot($u);
is_problem(checkout($u, $OK), 409, 'cart-empty', 'empty cart: 409 cart-empty');
is_deeply(snapshot($u), $s0, 'empty cart: nothing changed');

my $nomad = $t->user(address => 0);
$t->cart_add($nomad, $a->{id}, 1);
$s0 = snapshot($nomad);
is_problem(checkout($nomad, $OK), 422, 'unprocessable', 'no address: 422');
is_deeply(snapshot($nomad), $s0, 'no address: nothing changed');

# --- out of stock -----------------------------------------------------------
# A has 3 left, B 2. The first line (A, lower id) fits and the second does not: the
# decrement of A must be rolled back too.
$t->cart_add($u, $a->{id}, 1);
$t->cart_add($u, $b->{id}, 3);
$s0 = snapshot($u);
$res = checkout($u, $OK);
is_problem($res, 409, 'out-of-stock', 'out of stock: 409 out-of-stock');
like($res->{json}{detail} // '', qr/\b$b->{id}\b/, 'out of stock: the detail names the product');
is_deeply(snapshot($u), $s0, 'out of stock: stock, cart, orders, payments all unchanged');

$t->api(PUT => "/api/v1/cart/items/$b->{id}", token => $u->{token}, json => {quantity => 2});
$t->stock($admin, $b->{id}, 0);
$s0 = snapshot($u);
is_problem(checkout($u, $OK), 409, 'out-of-stock', 'out of stock: stock 0 is 409');
is_deeply(snapshot($u), $s0, 'out of stock: still nothing changed');
$t->stock($admin, $b->{id}, 2);

# --- payment failures ---------------------------------------------------------
$s0 = snapshot($u);
$res = checkout($u, $DECLINE);
is_problem($res, 402, 'payment-declined', 'declined: 402 payment-declined');
is_deeply(snapshot($u), $s0, 'declined: nothing changed (no order, no payment, stock, cart)');

$res = checkout($u, $TRANSIENT);
is_problem($res, 503, 'payment-unavailable', 'provider down: 503 payment-unavailable');
like($res->{headers}{'retry-after'} // '', qr/^\d+$/, 'provider down: Retry-After');
is_deeply(snapshot($u), $s0, 'provider down: nothing changed');

for my $c (['4242424242424241', 'a card failing Luhn'], ['4242 4242 4242 4242', 'spaces'],
    ['42424242424', 'too short'], ['4' x 20, 'too long'], ['', 'empty'],
    ["' OR 1=1 --", 'an injection string']) {
    is_problem(checkout($u, $c->[0]), 400, 'invalid-request', "card: $c->[1] is 400");
}
for my $c ([{card_number => 4242424242424242}, 'card as a number'], [{}, 'missing card'],
    [{card_number => $OK, amount => 1}, 'unknown field amount'],
    [{card_number => $OK, user_id => $admin->{id}}, 'unknown field user_id'],
    [{card_number => undef}, 'null card']) {
    is_problem($t->api(POST => '/api/v1/orders', token => $u->{token}, json => $c->[0]), 400,
        'invalid-request', "checkout: $c->[1] is 400");
}
is_problem($t->api(POST => '/api/v1/orders', token => $u->{token}, body => '{"card_number":',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'checkout: malformed JSON is 400');
is_problem($t->api(POST => '/api/v1/orders', json => {card_number => $OK}), 401, 'unauthorized',
    'checkout: no token is 401');
is_deeply(snapshot($u), $s0, 'bad input: nothing changed');

# Any other Luhn-valid card is approved.
$res = checkout($u, '5555555555554444');
is($res->{status}, 201, 'another valid card: 201');
is($res->{json}{payment}{card_last4}, '4444', 'another valid card: last4');
is($res->{json}{total}{amount}, 2999 + 2 * 500, 'the new order has the new price');

# --- idempotency: sequential ------------------------------------------------------
$t->cart_add($u, $a->{id}, 1);
my $key = "seq-$$-" . time;
my @r = map { checkout($u, $OK, 'Idempotency-Key' => $key) } 1 .. 5;
is($r[0]{status}, 201, "idempotent: the first is 201") or diag $r[0]{body};
is_deeply([map { $_->{status} } @r[1 .. 4]], [200, 200, 200, 200], 'idempotent: replays are 200');
is_deeply([map { $_->{headers}{'idempotent-replayed'} // '' } @r[1 .. 4]], [('true') x 4],
    'idempotent: replays say so');
my $kid = $r[0]{json}{id};
is_deeply([map { $_->{json}{id} } @r], [($kid) x 5], 'idempotent: the same order id 5 times');
is_deeply($r[4]{json}, $r[0]{json}, 'idempotent: the same order body');
is($t->sql1("SELECT COUNT(*) FROM orders WHERE idempotency_key = '$key'"), 1,
    'idempotent: one order');
is($t->sql1("SELECT COUNT(*) FROM payments WHERE order_id = $kid"), 1,
    'idempotent: one payment');
is($t->sql1("SELECT stock FROM inventory WHERE product_id = $a->{id}"), 1,
    'idempotent: stock taken once (3 - 1 - 1)');

$t->cart_add($u, $b->{id}, 1);
$s0 = snapshot($u);
is_problem(checkout($u, '5555555555554444', 'Idempotency-Key' => $key), 422,
    'idempotency-key-reused', 'idempotent: same key, another card is 422');
$res = checkout($u, $OK, 'Idempotency-Key' => $key);
is($res->{status}, 200, 'idempotent: same key, same card, new cart: still the old order');
is($res->{json}{id}, $kid, 'idempotent: ... with the old id');
is_deeply(snapshot($u), $s0, 'idempotent: replays touched nothing (the new cart is intact)');

$t->stock($admin, $b->{id}, 10);
my $w = $t->user;
$t->cart_add($w, $b->{id}, 1);
$res = checkout($w, $OK, 'Idempotency-Key' => $key);
is($res->{status}, 201, 'idempotent: keys are per user');
isnt($res->{json}{id}, $kid, 'idempotent: ... another user gets their own order');

# A failed attempt does not burn its key.
my $k2 = "fail-$$";
is_problem(checkout($u, $TRANSIENT, 'Idempotency-Key' => $k2), 503, 'payment-unavailable',
    'idempotent: provider down with a key');
is($t->sql1("SELECT COUNT(*) FROM orders WHERE idempotency_key = '$k2'"), 0,
    'idempotent: the failed attempt left no order');
is_problem(checkout($u, $TRANSIENT, 'Idempotency-Key' => $k2), 503, 'payment-unavailable',
    'idempotent: the retry really tries again');
$res = checkout($u, $OK, 'Idempotency-Key' => $k2);
is($res->{status}, 201, 'idempotent: after a failure the key can succeed');

for my $k ('x' x 129, "a b", "caf\xc3\xa9", "a\x7fb") {
    my $body = qq({"card_number":"$OK"});
    is_problem($t->raw("POST /api/v1/orders HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer"
        . " $u->{token}\r\nContent-Type: application/json\r\nIdempotency-Key: $k\r\n"
        . 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n$body"),
        400, 'invalid-request', 'idempotent: key ' . substr($k, 0, 10) . '... is 400');
}
is_problem(checkout($u, $OK, 'Idempotency-Key' => 'x' x 128), 409, 'cart-empty',
    'idempotent: a 128-character key is accepted');

# Keys are compared byte for byte: a key differing only in case is a new purchase.
$t->stock($admin, $b->{id}, 10);
$t->cart_add($u, $b->{id}, 1);
my $ckey = "Case-$$";
$res = checkout($u, $OK, 'Idempotency-Key' => $ckey);
is($res->{status}, 201, 'idempotent: first purchase with a mixed-case key');
$t->cart_add($u, $b->{id}, 1);
my $res2 = checkout($u, $OK, 'Idempotency-Key' => lc $ckey);
is($res2->{status}, 201, 'idempotent: the lower-cased key is another purchase');
isnt($res2->{json}{id}, $res->{json}{id}, 'idempotent: ... with its own order');
like($t->sql1("SELECT request_hash FROM orders WHERE id = $res->{json}{id}"), qr/^[0-9a-f]{64}$/,
    'idempotent: a request fingerprint is stored');
isnt($t->sql1("SELECT request_hash FROM orders WHERE id = $res->{json}{id}"),
    $t->sql1("SELECT SHA2('$OK', 256)"), 'idempotent: ... and it is not a plain hash of the card');

# --- idempotency: concurrent ------------------------------------------------------
$t->cart_add($u, $b->{id}, 1);
my $ck = "conc-$$";
my $stock_b = $t->sql1("SELECT stock FROM inventory WHERE product_id = $b->{id}");
my $out = $t->parallel(5, sub {
    Souk::Shop::brief($t->child_http(POST => '/api/v1/orders', token => $u->{token},
        json => {card_number => $OK}, headers => {'Idempotency-Key' => $ck}));
});
my @st = sort map { $_->{status} // 0 } @$out;
is_deeply(\@st, [200, 200, 200, 200, 201], 'concurrent idempotent: one 201, four 200')
    or diag explain $out;
my %ids = map { ($_->{id} // 'none') => 1 } @$out;
is(scalar keys %ids, 1, 'concurrent idempotent: one order id in every response');
my ($cid) = keys %ids;
is($t->sql1("SELECT COUNT(*) FROM orders WHERE idempotency_key = '$ck'"), 1,
    'concurrent idempotent: one order');
is($t->sql1("SELECT COUNT(*) FROM payments p JOIN orders o ON o.id = p.order_id"
    . " WHERE o.idempotency_key = '$ck'"), 1, 'concurrent idempotent: one payment');
is($t->sql1("SELECT stock FROM inventory WHERE product_id = $b->{id}"), $stock_b - 1,
    'concurrent idempotent: stock taken once');

# Concurrent checkouts of one cart without a key: one order, the rest find it empty.
$t->cart_add($u, $b->{id}, 1);
my $before = $t->sql1('SELECT COUNT(*) FROM orders');
$out = $t->parallel(5, sub {
    Souk::Shop::brief($t->child_http(POST => '/api/v1/orders', token => $u->{token},
        json => {card_number => $OK}));
});
@st = sort map { $_->{status} // 0 } @$out;
is_deeply(\@st, [201, 409, 409, 409, 409], 'one cart, 5 checkouts: one order, four 409')
    or diag explain $out;
is(scalar(grep { ($_->{type} // '') =~ m{/cart-empty$} } @$out), 4,
    '... and the 409s are cart-empty');
is($t->sql1('SELECT COUNT(*) FROM orders'), $before + 1, '... one new order');
is($t->sql1("SELECT COUNT(*) FROM orders o LEFT JOIN payments p ON p.order_id = o.id"
    . " WHERE p.id IS NULL OR o.status <> 'CONFIRMED'"), 0,
    'every order is confirmed and has exactly its payment');

$t->finish(qr/PAYMENT_UNAVAILABLE/);    # the 503s asked for above are logged as errors
undef $t;
done_testing;
