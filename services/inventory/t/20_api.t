# souk-inventory's HTTP API: PUT /api/v1/products/{id}/stock answers exactly as the
# monolith's (admin only, the monolith's decode details, 404 for unknown or deleted
# products) and sets the sellable level (held units stay held); every write is an
# inventory.stock_changed with the next version; GET /api/v2/products/{id}/stock shows the
# counters and the live holds. The set of known products comes from catalog's product
# events (created, deleted; a stale one changes nothing).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib";
use Test::More;
use Souk::Test;
use InventoryTest;

my $t = InventoryTest->start();
my $base = $t->{url};

# --- health ------------------------------------------------------------------------------
is(http(GET => "$base/health")->{status}, 200, 'health');
is(http(GET => "$base/ready")->{status}, 200, 'ready');

# --- known products from catalog events --------------------------------------------------
my $before = $t->consumed;
$t->product_created(11);
$t->product_created(12);
$t->product_deleted(12, 3);
$t->product_deleted(13, 2);    # deleted before inventory heard of it: a tombstone
ok(wait_until('4 product events', sub { $t->consumed >= $before + 4 }), 'product events consumed');
is_deeply([map { [$_->[0] + 0, $_->[1] + 0, $_->[2]] } @{$t->sql('SELECT product_id,
    catalog_version, deleted FROM stock ORDER BY product_id')}],
    [[11, 1, 'f'], [12, 3, 't'], [13, 2, 't']], 'stock rows: 11 known, 12 and 13 tombstones');
$before = $t->consumed;
$t->product_created(12);    # a late, older event cannot bring 12 back
ok(wait_until('consumed', sub { $t->consumed >= $before + 1 }), 'late product.created consumed');
is($t->stock(12)->{deleted}, 't', 'a late product.created leaves the tombstone');

# --- PUT /api/v1/products/{id}/stock -------------------------------------------------------
my $res = $t->admin_api(PUT => '/api/v1/products/11/stock', json => {stock => 7});
is($res->{status}, 200, 'PUT stock: 200');
is_deeply($res->{json}, {product_id => 11, stock => 7}, 'PUT stock: the monolith\'s body');
is_deeply([@{$t->stock(11)}{qw(received on_hand reserved sold version)}], [7, 7, 0, 0, 1],
    'received 7, on hand 7, version 1');
my $ev = $t->events('inventory.stock_changed', 11);
is_deeply($ev, [{product_id => 11, available => 7, on_hand => 7, reserved => 0, version => 1}],
    'inventory.stock_changed written with version 1');
$res = $t->admin_api(PUT => '/api/v1/products/11/stock', json => {stock => 0});
is($res->{status}, 200, 'PUT stock 0: 200');
is_deeply([@{$t->stock(11)}{qw(received on_hand version)}], [0, 0, 2],
    'down to 0: received follows (net units put in), version 2');
is($t->admin_api(PUT => '/api/v1/products/11/stock', json => {stock => 1000000000})->{status},
    200, 'a billion is allowed');
is_deeply([map { $_->{version} } @{$t->events('inventory.stock_changed', 11)}], [1, 2, 3],
    'one stock_changed per write, versions 1, 2, 3');

for my $c ([{stock => -1}, 'negative', qr/"stock" must be an integer between 0 and 1000000000/],
    [{stock => 1000000001}, 'over a billion', qr/between 0 and 1000000000/],
    [{stock => '5'}, 'a string', qr/"stock"/], [{stock => 2.5}, 'a real', qr/"stock"/],
    [{stock => undef}, 'null', qr/"stock"/], [{}, 'missing', qr/"stock" is required/],
    [{stock => 5, delta => 1}, 'unknown field', qr/unknown field "delta"/]) {
    $res = $t->admin_api(PUT => '/api/v1/products/11/stock', json => $c->[0]);
    is_problem($res, 400, 'invalid-request', "PUT stock: $c->[1] is 400");
    like($res->{json}{detail} // '', $c->[2], "... with the monolith's detail");
}
is_problem($t->admin_api(PUT => '/api/v1/products/11/stock', body => '{"stock":',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json', 'broken JSON is 400');
is_problem($t->admin_api(PUT => '/api/v1/products/11/stock', body => '{"stock":1,"stock":2}',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json', 'a duplicate key is 400');
is_problem($t->admin_api(PUT => '/api/v1/products/11/stock', body => '[1]',
    headers => {'Content-Type' => 'application/json'}), 400, 'invalid-request', 'an array is 400');
is_problem($t->admin_api(PUT => '/api/v1/products/11/stock', body => 'stock=1',
    headers => {'Content-Type' => 'text/plain'}), 415, 'unsupported-media-type', 'text/plain is 415');
is_problem($t->admin_api(PUT => '/api/v1/products/11/stock',
    json => {stock => 1, pad => 'x' x 17000}), 413, 'payload-too-large', 'a body over 16 KiB is 413');
is($t->stock(11)->{on_hand}, 1000000000, 'bad requests changed nothing');
is(scalar @{$t->events('inventory.stock_changed', 11)}, 3, '... and wrote no event');

for my $p (['/api/v1/products/999999/stock', 'unknown product'],
    ['/api/v1/products/12/stock', 'deleted product'], ['/api/v1/products/13/stock', 'tombstone'],
    ['/api/v1/products/abc/stock', 'non-numeric id'], ['/api/v1/products/0/stock', 'id 0'],
    ['/api/v1/products/-1/stock', 'negative id'],
    ['/api/v1/products/99999999999999999999/stock', 'id out of range']) {
    is_problem($t->admin_api(PUT => $p->[0], json => {stock => 1}), 404, 'not-found',
        "PUT stock: $p->[1] is 404");
}
like($t->admin_api(PUT => '/api/v1/products/999999/stock', json => {stock => 1})->{json}{detail},
    qr/^product not found$/, '404 detail as the monolith: product not found');

is_problem($t->api(PUT => '/api/v1/products/11/stock', json => {stock => 1}), 401, 'unauthorized',
    'no token is 401');
is_problem($t->api(PUT => '/api/v1/products/11/stock', token => 'junk', json => {stock => 1}),
    401, 'unauthorized', 'a junk token is 401');
is_problem($t->api(PUT => '/api/v1/products/11/stock',
    token => jwt_mint(role => 'admin', sub => '1'), json => {stock => 1}), 401, 'unauthorized',
    'a token signed with another secret is 401');
is_problem($t->api(PUT => '/api/v1/products/11/stock', token => $t->{customer},
    json => {stock => 1}), 403, 'forbidden', 'a customer is 403');
is($t->stock(11)->{on_hand}, 1000000000, 'refused requests changed nothing');

# --- GET /api/v2/products/{id}/stock -----------------------------------------------------
$t->product(21, 5);
$before = $t->consumed;
# one after the other: inventory takes events on several consumer threads, so two published
# together may be held in either order
$t->order_created(9001, [[21, 2]]);
ok($t->wait_state(9001, 'HELD'), 'the first order holds 2 units');
$t->order_created(9002, [[21, 1]]);
ok($t->wait_state(9002, 'HELD'), 'two orders hold 3 units');
$res = $t->admin_api(GET => '/api/v2/products/21/stock');
is($res->{status}, 200, 'v2 stock: 200');
my $body = $res->{json};
my @holds = @{delete $body->{holds}};
is_deeply($body, {product_id => 21, available => 2, on_hand => 5, reserved => 3, sold => 0,
    received => 5, version => 3}, 'v2 stock: the counters');
is_deeply([map { [$_->{order_id}, $_->{quantity}] } @holds], [[9001, 2], [9002, 1]],
    'v2 stock: the live holds, oldest first');
like($holds[0]{hold_until}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'hold_until in RFC 3339');
like($holds[0]{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'created_at in RFC 3339');
is(scalar @{$t->admin_api(GET => '/api/v2/products/21/stock?limit=1')->{json}{holds}}, 1,
    'limit=1: one hold');
is_problem($t->admin_api(GET => '/api/v2/products/21/stock?limit=0'), 400, 'invalid-request',
    'limit 0 is 400');
is_problem($t->admin_api(GET => '/api/v2/products/21/stock?limit=101'), 400, 'invalid-request',
    'limit 101 is 400');
is_deeply($t->admin_api(GET => '/api/v2/products/11/stock')->{json}{holds}, [],
    'a product without holds: []');
is_problem($t->admin_api(GET => '/api/v2/products/999999/stock'), 404, 'not-found',
    'v2 stock: unknown is 404');
is_problem($t->admin_api(GET => '/api/v2/products/12/stock'), 404, 'not-found',
    'v2 stock: deleted is 404');
is_problem($t->api(GET => '/api/v2/products/21/stock'), 401, 'unauthorized', 'v2 stock: 401');
is_problem($t->api(GET => '/api/v2/products/21/stock', token => $t->{customer}), 403,
    'forbidden', 'v2 stock: a customer is 403');

# --- PUT with holds: the level is what the shop can sell -----------------------------------
$res = $t->admin_api(PUT => '/api/v1/products/21/stock', json => {stock => 10});
is_deeply($res->{json}, {product_id => 21, stock => 10}, 'PUT 10 while 3 are held: 200');
is_deeply([@{$t->stock(21)}{qw(received on_hand reserved)}], [13, 13, 3],
    'on hand 13 = 10 available + 3 held; the 3 more count as received');
$res = $t->admin_api(PUT => '/api/v1/products/21/stock', json => {stock => 0});
is_deeply([@{$t->stock(21)}{qw(received on_hand reserved)}], [3, 3, 3],
    'PUT 0: on hand is what is held, never below it');
is($t->admin_api(GET => '/api/v2/products/21/stock')->{json}{available}, 0, 'available 0');

# --- the audit views -------------------------------------------------------------------
is_deeply($t->sql('SELECT product_id, received, on_hand, reserved, sold FROM audit_stock
    WHERE product_id = 21'), [[21, 3, 3, 3, 0]], 'audit_stock has the counters');
is_deeply($t->sql('SELECT order_id, product_id, quantity, state FROM audit_holds ORDER BY order_id'),
    [[9001, 21, 2, 'HELD'], [9002, 21, 1, 'HELD']], 'audit_holds: one row per line with its state');

$t->finish;
done_testing;
