# services/cart/t/22_etag.t - souk-cart names each state of a cart with an ETag on every answer
# that shows the cart (GET and the writes), so souk-orders can refuse to make two live orders
# of one state (services/orders/migrations/0002_cart_version.sql). The ETag stays while the
# cart does not change (reads, and writes that change nothing: a 404 removal, a repeated
# order.confirmed), and is new after every change: an add, a quantity set, a removal, a merge
# at login, a product event that reaches a line, order.confirmed taking lines out (also the
# last ones: the emptied cart keeps an ETag of its own). The v1 JSON is unchanged. Real Redis,
# PostgreSQL, RabbitMQ and souk-catalog; events through the catalog's outbox.
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
    SOUK_CATALOG_URL => $cat->url, SOUK_JWT_SECRET => $SECRET, SOUK_CART_PRICE_CACHE_MS => 0);

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
sub etag { $_[0]{headers}{etag} }
sub get { api(GET => '/api/v1/cart', token => $_[0]) }

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
    wait_until("event $id in the cart's inbox",
        sub { pg_sql($cart->{db}{db}, "SELECT count(*) FROM inbox WHERE event_id = '$id'")->[0][0] }, 20)
        or die "the cart never consumed order.confirmed $oid\n";
}

my ($ann, $uid) = (token(3001), 3001);
my ($p1, $p2) = map { product() } 1 .. 2;

my $res = get($ann);
is($res->{status}, 200, 'a cart never written: 200');
my %seen;
my $add = api(POST => '/api/v1/cart/items', token => $ann, json => {product_id => $p1, quantity => 2});
my $t1 = etag($add);
like($t1 // '', qr/^"[0-9a-f]{16}"$/, 'an add answers an ETag (a quoted opaque value)');
is(etag(get($ann)), $t1, 'GET answers the same ETag');
is(etag(get($ann)), $t1, '... and again: reads change nothing');
is_deeply([sort keys %{get($ann)->{json}}], [qw(item_count items total)], 'the v1 members only');
is_deeply([sort keys %{get($ann)->{json}{items}[0]}],
    [qw(line_total name product_id quantity unit_price)], 'the v1 line members only');
$seen{$t1} = 1;

sub changed {
    my ($what, $res) = @_;
    my $t = etag(get($ann));
    ok(defined $t && !$seen{$t}, "$what: a new ETag") or diag("ETag " . ($t // 'none'));
    is(etag($res), $t, "$what: the write answers it") if $res;
    $seen{$t // ''} = 1;
    return $t;
}
changed('another add', api(POST => '/api/v1/cart/items', token => $ann,
    json => {product_id => $p2, quantity => 1}));
changed('a quantity set', api(PUT => "/api/v1/cart/items/$p2", token => $ann,
    json => {quantity => 3}));
changed('the same quantity set again (a write)', api(PUT => "/api/v1/cart/items/$p2",
    token => $ann, json => {quantity => 3}));
my $before = etag(get($ann));
is_problem(api(DELETE => '/api/v1/cart/items/999999', token => $ann), 404, 'not-found',
    'removing a line that is not there: 404');
is(etag(get($ann)), $before, '... and the ETag stays');
changed('a removal', api(DELETE => "/api/v1/cart/items/$p2", token => $ann));

# merge at login: an anonymous cart into Ann's
$res = api(POST => '/api/v1/cart/items', json => {product_id => $p2, quantity => 1});
my ($cookie) = ($res->{headers}{'set-cookie'} // '') =~ /(souk_cart=[0-9a-f]{32})/;
ok($cookie, 'an anonymous cart') && ok(etag($res), '... with an ETag of its own');
changed('a merge at login', api(GET => '/api/v1/cart', token => $ann, cookie => $cookie));

# a product event reaching a line
is(catalog(PUT => "/api/v1/products/$p1/price", {amount => 4242, currency => 'EUR'})->{status}, 200,
    'the admin changes a price');
ok(wait_until('the price reaches the cart', sub {
    (grep { $_->{product_id} == $p1 && $_->{unit_price}{amount} == 4242 } @{get($ann)->{json}{items}})
}, 20), 'the line shows the new price');
changed('a product event');

# order.confirmed: part of the cart, then the rest
my $lines = get($ann)->{json}{items};
confirmed(9101, $uid, [[$p1, 1]]);
changed('order.confirmed taking part of a line');
$before = etag(get($ann));
confirmed(9101, $uid, [[$p1, 1]]);
is(etag(get($ann)), $before, 'the same order again changes nothing, the ETag stays');
confirmed(9102, $uid, [map { [$_->{product_id}, $_->{quantity}] } @{get($ann)->{json}{items}}]);
is_deeply(get($ann)->{json}{items}, [], 'order.confirmed took the last lines');
changed('order.confirmed emptying the cart');
changed('an add to the emptied cart', api(POST => '/api/v1/cart/items', token => $ann,
    json => {product_id => $p1, quantity => 1}));
is_deeply(\@fivexx, [], 'no 5xx');
done_testing;
