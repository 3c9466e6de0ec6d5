# services/cart/t/21_order_confirmed.t - souk-cart gives up the ordered lines when
# order.confirmed reaches it (contracts/events.md, "The order saga"): the ordered quantities
# leave the user's cart, a line the user added to since keeps what exceeds the order, lines
# the order does not name stay, other users' carts are untouched, and the same order delivered
# again (under a new event id, so the inbox cannot tell) changes nothing. The events are
# published through the catalog's outbox (its relay publishes any row there) on the vhost both
# services share: real Redis, PostgreSQL, RabbitMQ and souk-catalog.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../../tests/lib";
use JSON::PP ();
use Test::More;
use Souk::Test;

my $SECRET = 'cart-test-secret-0123456789abcdef0123';
sub token { jwt_mint(sub => "$_[0]", role => $_[1] // 'customer', secret => $SECRET) }

my $redis = redis_start();
my $cat = fresh_service('catalog', SOUK_REDIS_URL => $redis->{url}, SOUK_JWT_SECRET => $SECRET);
my $cart = fresh_service('cart', SOUK_AMQP_URL => $cat->{amqp}, SOUK_REDIS_URL => $redis->{url},
    SOUK_CATALOG_URL => $cat->url, SOUK_JWT_SECRET => $SECRET);

my @fivexx;
sub api { my ($m, $p, %o) = @_; api_request($cart->url, \@fivexx, $m, $p, %o) }
my $admin = token(1, 'admin');
sub catalog {
    my ($method, $path, $json) = @_;
    return http($method, $cat->url . $path, {headers => {Authorization => "Bearer $admin"},
        json => $json});
}
my $cat_id = catalog(POST => '/api/v2/categories', {slug => 'misc', name => 'Misc'})->{json}{id};
my $SKU = 0;
sub product {
    my $res = catalog(POST => '/api/v1/products', {sku => 'SKU-' . ++$SKU, name => "Thing $SKU",
        category_id => $cat_id, price => {amount => 100 * $SKU, currency => 'EUR'}});
    die "catalog: product: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    return $res->{json}{id};
}
sub add {
    my ($tok, $pid, $qty) = @_;
    my $res = api(POST => '/api/v1/cart/items', token => $tok, json => {product_id => $pid, quantity => $qty});
    die "add: $res->{status} $res->{body}\n" unless $res->{status} == 200;
}
# The cart as [product_id, quantity] pairs, in the order of the lines.
sub lines { [map { [$_->{product_id}, $_->{quantity}] } @{api(GET => '/api/v1/cart', token => $_[0])->{json}{items}}] }

# confirmed($order_id, $user_id, [[product_id, quantity], ...]): an order.confirmed envelope
# put in the catalog's outbox; its event id, once the cart's inbox has it.
my $EV = 0;
sub confirmed {
    my ($oid, $uid, $lines) = @_;
    my $id = sprintf('00000000-0000-4000-8000-%012d', ++$EV);
    my $env = JSON::PP->new->canonical->encode({id => $id, type => 'order.confirmed', version => 1,
        occurred_at => '2026-12-07T10:00:00.000Z', aggregate_id => $oid, trace_id => "trace-$EV",
        payload => {order_id => $oid, user_id => $uid, at => '2026-12-07T10:00:00Z',
            total => {amount => 100, currency => 'EUR'},
            lines => [map { {product_id => $_->[0], quantity => $_->[1]} } @$lines]}});
    pg_sql($cat->{db}{db}, "INSERT INTO outbox (id, type, aggregate_id, envelope)"
        . " VALUES ('$id', 'order.confirmed', $oid, '$env')");
    ok(wait_until("event $id in the cart's inbox",
        sub { pg_sql($cart->{db}{db}, "SELECT count(*) FROM inbox WHERE event_id = '$id'")->[0][0] }, 20),
        "order $oid: the cart consumed order.confirmed");
    return $id;
}

my ($ann, $bob, $cid) = (token(2001), token(2002), token(2003));
my ($p1, $p2, $p3, $p4) = map { product() } 1 .. 4;

# Ann checked out p1 x2, p2 x1, p3 x3 and, before the event came, added p1 once more; p3 had
# 5 in the cart (the order took 3) and p4 was never ordered. Bob's cart holds p1 too.
add($ann, $p1, 2);
add($ann, $p2, 1);
add($ann, $p3, 5);
add($ann, $p4, 1);
add($ann, $p1, 1);
add($bob, $p1, 2);
is_deeply(lines($ann), [[$p1, 3], [$p2, 1], [$p3, 5], [$p4, 1]], 'before: Ann\'s cart');

confirmed(9001, 2001, [[$p1, 2], [$p2, 1], [$p3, 3]]);
is_deeply(lines($ann), [[$p1, 1], [$p3, 2], [$p4, 1]],
    'confirmed: the ordered quantities are gone, what exceeds them stays, in the same order');
is_deeply(lines($bob), [[$p1, 2]], 'confirmed: Bob\'s cart is untouched');

# The same order again under another event id (a republished event): the marker stops it.
confirmed(9001, 2001, [[$p1, 2], [$p2, 1], [$p3, 3]]);
is_deeply(lines($ann), [[$p1, 1], [$p3, 2], [$p4, 1]], 'duplicate: the same order takes nothing twice');

# A second order of what is left empties the cart; the removed lines are gone for good (a
# later add starts a new line at the end).
confirmed(9002, 2001, [[$p1, 1], [$p3, 2], [$p4, 1]]);
is_deeply(lines($ann), [], 'second order: the whole cart is gone');
add($ann, $p3, 1);
is_deeply(lines($ann), [[$p3, 1]], 'second order: a new add makes a fresh line');

# An order of a user whose cart is empty (or expired), and one naming products the cart never
# held: nothing to take, nothing created.
confirmed(9003, 2003, [[$p2, 4]]);
is_deeply(lines($cid), [], 'no cart: still empty');
confirmed(9004, 2002, [[$p4, 9]]);
is_deeply(lines($bob), [[$p1, 2]], 'an order of other products leaves the cart as it was');

# A price change after the order still reaches the lines that stayed (the product sets were
# kept right: p3's set lists Ann's cart again, p2's no longer does).
is(catalog(PUT => "/api/v1/products/$p3", {sku => 'SKU-3', name => 'Thing 3 renamed',
    category_id => $cat_id, price => {amount => 333, currency => 'EUR'}})->{status}, 200,
    'catalog: p3 renamed');
ok(wait_until('Ann\'s p3 line renamed', sub {
    (api(GET => '/api/v1/cart', token => $ann)->{json}{items}[0]{name} // '') eq 'Thing 3 renamed' }, 20),
    'events: a product event still finds the line left after the order');

is_deeply(\@fivexx, [], 'no 5xx answers');
done_testing;
