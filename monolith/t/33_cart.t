# Cart: add, replace, remove, totals at today's prices, limits and bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../tests/lib";
use Test::More;
use Souk::Test;
use Souk::Shop;

my $t = Souk::Shop->start('cart');
my $admin = $t->admin;
my $u = $t->user;
my $v = $t->user;
my $cat = $t->category('misc', 'Misc');
my $a = $t->product($admin, name => 'Alpha', category_id => $cat,
    price => {amount => 1250, currency => 'EUR'}, stock => 100);
my $b = $t->product($admin, name => 'Beta', category_id => $cat,
    price => {amount => 399, currency => 'EUR'}, stock => 0);

my $res = $t->api(GET => '/api/v1/cart', token => $u->{token});
is($res->{status}, 200, 'cart: 200 before anything was added');
is_deeply($res->{json}, {items => [], total => {amount => 0, currency => 'EUR'},
    item_count => 0}, 'cart: empty');

$res = $t->api(POST => '/api/v1/cart/items', token => $u->{token},
    json => {product_id => $a->{id}, quantity => 2});
is($res->{status}, 200, 'add: 200');
is_deeply($res->{json}, {
    items => [{product_id => $a->{id}, name => 'Alpha', quantity => 2,
        unit_price => {amount => 1250, currency => 'EUR'},
        line_total => {amount => 2500, currency => 'EUR'}}],
    total => {amount => 2500, currency => 'EUR'}, item_count => 2}, 'add: the cart comes back');
$res = $t->api(POST => '/api/v1/cart/items', token => $u->{token},
    json => {product_id => $a->{id}, quantity => 3});
is($res->{json}{items}[0]{quantity}, 5, 'add: adding again sums the quantity');
is(scalar @{$res->{json}{items}}, 1, 'add: still one line');
$res = $t->api(POST => '/api/v1/cart/items', token => $u->{token},
    json => {product_id => $b->{id}, quantity => 1});
is($res->{status}, 200, 'add: a product with no stock can be put in the cart');
is_deeply([map { $_->{product_id} } @{$res->{json}{items}}], [$a->{id}, $b->{id}],
    'add: lines in the order they were added');
is_deeply($res->{json}{total}, {amount => 5 * 1250 + 399, currency => 'EUR'}, 'add: total');
is($res->{json}{item_count}, 6, 'add: item_count counts units');
is_deeply($t->api(GET => '/api/v1/cart', token => $u->{token})->{json}, $res->{json},
    'get: the same cart');
is_deeply($t->api(GET => '/api/v1/cart', token => $v->{token})->{json}{items}, [],
    'get: another user has their own cart');

# Prices are today's: the cart is not a quote.
$t->api(PUT => "/api/v1/products/$a->{id}", token => $admin->{token},
    json => {sku => $a->{sku}, name => 'Alpha 2', category_id => $cat,
        price => {amount => 1000, currency => 'EUR'}});
$res = $t->api(GET => '/api/v1/cart', token => $u->{token});
is_deeply($res->{json}{items}[0]{unit_price}, {amount => 1000, currency => 'EUR'},
    'price change: the cart shows the new price');
is($res->{json}{items}[0]{name}, 'Alpha 2', 'price change: and the new name');

# --- replace and remove ------------------------------------------------------
$res = $t->api(PUT => "/api/v1/cart/items/$a->{id}", token => $u->{token},
    json => {quantity => 7});
is($res->{status}, 200, 'put: 200');
is($res->{json}{items}[0]{quantity}, 7, 'put: replaces the quantity');
is_problem($t->api(PUT => "/api/v1/cart/items/$a->{id}", token => $v->{token},
    json => {quantity => 1}), 404, 'not-found', 'put: a product not in my cart is 404');
is_problem($t->api(PUT => '/api/v1/cart/items/999999', token => $u->{token},
    json => {quantity => 1}), 404, 'not-found', 'put: unknown product is 404');
$res = $t->api(DELETE => "/api/v1/cart/items/$b->{id}", token => $u->{token});
is($res->{status}, 200, 'delete: 200');
is_deeply([map { $_->{product_id} } @{$res->{json}{items}}], [$a->{id}],
    'delete: the line is gone');
is_problem($t->api(DELETE => "/api/v1/cart/items/$b->{id}", token => $u->{token}), 404,
    'not-found', 'delete: again is 404');
is_problem($t->api(DELETE => "/api/v1/cart/items/$a->{id}", token => $v->{token}), 404,
    'not-found', 'delete: from someone else\'s cart is 404 (and does nothing)');
is($t->sql1("SELECT ci.quantity FROM cart_items ci JOIN carts c ON c.id = ci.cart_id"
    . " WHERE c.user_id = $u->{id} AND ci.product_id = $a->{id}"), 7,
    'delete: the other cart is untouched');

# --- limits -----------------------------------------------------------------
$res = $t->api(PUT => "/api/v1/cart/items/$a->{id}", token => $u->{token},
    json => {quantity => 99});
is($res->{status}, 200, 'limits: 99 in a line is fine');
is_problem($t->api(POST => '/api/v1/cart/items', token => $u->{token},
    json => {product_id => $a->{id}, quantity => 1}), 409, 'conflict',
    'limits: adding past 99 in a line is 409');
is($t->api(GET => '/api/v1/cart', token => $u->{token})->{json}{items}[0]{quantity}, 99,
    'limits: the line kept 99');

my @many = map { $t->product($admin, category_id => $cat) } 1 .. 100;
my $ok = 0;
for my $p (@many) {
    $ok++ if $t->api(POST => '/api/v1/cart/items', token => $v->{token},
        json => {product_id => $p->{id}, quantity => 1})->{status} == 200;
}
is($ok, 100, 'limits: 100 lines fit');
is_problem($t->api(POST => '/api/v1/cart/items', token => $v->{token},
    json => {product_id => $a->{id}, quantity => 1}), 409, 'conflict',
    'limits: the 101st line is 409');
is($t->api(POST => '/api/v1/cart/items', token => $v->{token},
    json => {product_id => $many[0]{id}, quantity => 1})->{status}, 200,
    'limits: an existing line can still grow');

# --- bad input --------------------------------------------------------------
my $before = $t->sql('SELECT cart_id, product_id, quantity FROM cart_items'
    . ' ORDER BY cart_id, product_id');
for my $c (
    [{product_id => $a->{id}, quantity => 0}, 'quantity 0'],
    [{product_id => $a->{id}, quantity => -1}, 'quantity -1'],
    [{product_id => $a->{id}, quantity => -99999999999}, 'a large negative quantity'],
    [{product_id => $a->{id}, quantity => 100}, 'quantity 100'],
    [{product_id => $a->{id}, quantity => 1000000000000}, 'quantity 10^12'],
    [{product_id => $a->{id}, quantity => '18446744073709551617'}, 'quantity as a huge string'],
    [{product_id => $a->{id}, quantity => 1.5}, 'quantity 1.5'],
    [{product_id => $a->{id}, quantity => '2'}, 'quantity as a string'],
    [{product_id => $a->{id}, quantity => undef}, 'quantity null'],
    [{product_id => $a->{id}, quantity => JSON::PP::true}, 'quantity true'],
    [{product_id => $a->{id}}, 'missing quantity'],
    [{quantity => 1}, 'missing product_id'],
    [{product_id => "$a->{id}", quantity => 1}, 'product_id as a string'],
    [{product_id => 0, quantity => 1}, 'product_id 0'],
    [{product_id => -5, quantity => 1}, 'product_id negative'],
    [{product_id => "1 OR 1=1", quantity => 1}, 'product_id injection'],
    [{product_id => $a->{id}, quantity => 1, price => 1}, 'unknown field price'],
    [{product_id => $a->{id}, quantity => 1, user_id => $v->{id}}, 'unknown field user_id'],
    ) {
    is_problem($t->api(POST => '/api/v1/cart/items', token => $u->{token}, json => $c->[0]), 400,
        'invalid-request', "add: $c->[1] is 400");
}
my $huge = $t->api(POST => '/api/v1/cart/items', token => $u->{token},
    body => qq({"product_id": $a->{id}, "quantity": 99999999999999999999999}),
    headers => {'Content-Type' => 'application/json'});
is($huge->{status}, 400, 'add: a quantity past int64 is 400');
like($huge->{json}{type} // '', qr/(invalid-request|malformed-json)$/, 'add: ... as a problem');
is_problem($t->api(POST => '/api/v1/cart/items', token => $u->{token},
    json => {product_id => 999999, quantity => 1}), 404, 'not-found',
    'add: unknown product is 404');
is_problem($t->api(POST => '/api/v1/cart/items', token => $u->{token},
    json => {product_id => 9223372036854775807, quantity => 1}), 404, 'not-found',
    'add: the largest id is just unknown');
is_problem($t->api(POST => '/api/v1/cart/items', token => $u->{token},
    body => '{"product_id": 1, "quantity": 1', headers => {'Content-Type' => 'application/json'}),
    400, 'malformed-json', 'add: truncated JSON is 400');
is_problem($t->api(POST => '/api/v1/cart/items', token => $u->{token},
    body => '{"product_id": 1, "quantity": 1}', headers => {'Content-Type' => 'text/plain'}),
    415, 'unsupported-media-type', 'add: text/plain is 415');
is_problem($t->api(POST => '/api/v1/cart/items', token => $u->{token}, body => 'null',
    headers => {'Content-Type' => 'application/json'}), 400, 'invalid-request',
    'add: a JSON null body is 400');
is_problem($t->api(POST => '/api/v1/cart/items', token => $u->{token},
    body => '{"product_id": 1, "quantity": 1} trailing', headers =>
    {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'add: trailing garbage is 400');
for my $c ([{quantity => 0}, 'quantity 0'], [{quantity => -3}, 'quantity -3'],
    [{quantity => 100}, 'quantity 100'], [{quantity => '5'}, 'quantity a string'],
    [{}, 'missing quantity'], [{quantity => 1, product_id => $b->{id}}, 'product_id in body']) {
    is_problem($t->api(PUT => "/api/v1/cart/items/$a->{id}", token => $u->{token},
        json => $c->[0]), 400, 'invalid-request', "put: $c->[1] is 400");
}
for my $id ('abc', '0', '-1', '1.0', '99999999999999999999', "1'%20OR%20'1'='1") {
    is_problem($t->api(PUT => "/api/v1/cart/items/$id", token => $u->{token},
        json => {quantity => 1}), 404, 'not-found', "put: id $id is 404");
    is_problem($t->api(DELETE => "/api/v1/cart/items/$id", token => $u->{token}), 404,
        'not-found', "delete: id $id is 404");
}
is_deeply($t->sql('SELECT cart_id, product_id, quantity FROM cart_items'
    . ' ORDER BY cart_id, product_id'), $before, 'bad input: no cart changed');

my $big = '{"product_id": 1, "quantity": 1, "pad": "' . ('x' x 20000) . '"}';
my $r413 = $t->raw("POST /api/v1/cart/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    . "$u->{token}\r\nContent-Type: application/json\r\nContent-Length: " . length($big)
    . "\r\nConnection: close\r\n\r\n$big");
is_problem($r413, 413, 'payload-too-large', 'add: a 20 kB body is 413');
my $r413b = $t->raw("POST /api/v1/cart/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    . "$u->{token}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n"
    . "Connection: close\r\n\r\n{\"product_id\"");
is_problem($r413b, 413, 'payload-too-large', 'add: a declared 100 MB body is 413 at once');

for my $m (['GET', '/api/v1/cart'], ['POST', '/api/v1/cart/items'],
    ['PUT', "/api/v1/cart/items/$a->{id}"], ['DELETE', "/api/v1/cart/items/$a->{id}"]) {
    is_problem($t->api($m->[0] => $m->[1], ($m->[0] =~ /POST|PUT/
        ? (json => {product_id => $a->{id}, quantity => 1}) : ())), 401, 'unauthorized',
        "$m->[0] $m->[1] without a token is 401");
}

$t->finish;
undef $t;
done_testing;
