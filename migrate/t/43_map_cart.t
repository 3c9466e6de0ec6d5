# 43_map_cart.t - the cart mapping (migrate/map/cart.c) forward, against real servers: the
# monolith's carts + cart_items become souk-cart's Redis hashes through `soukctl migrate cart
# backfill` (seeded carts and one filled through v1) and souk-sync (adds, quantity changes,
# removals, a cart emptied, while it streams). Afterwards every user's v1 cart reads the same
# on the monolith and on souk-cart (members, order, names, prices), no user sees another's
# lines, and `soukctl migrate cart verify` agrees - and names the user whose cart differs
# when the stream is stopped behind a write.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;

my $mono = mariadb_fresh('mapcart');
my $redis = redis_start();
my $state = pg_fresh('migrate');
my $admin_dsn = "mysql://souk_admin:" . ($ENV{SOUK_MARIADB_ADMIN_PASSWORD} // 'souk-dev')
    . "\@127.0.0.1:$mono->{port}/$mono->{db}";
# The catalog is not needed: souk-cart calls it only for adds, and this test adds on the
# monolith (the cart routes are legacy until cutover).
my $cart = fresh_service('cart', SOUK_REDIS_URL => $redis->{url},
    SOUK_CATALOG_URL => 'http://127.0.0.1:9');
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_CART_DB => $cart->{db}{dsn},
    SOUK_REDIS_URL => $redis->{url}, SOUK_MIGRATE_DB => $state->{dsn}, USER => 'tester');
my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 12 --users 10 --orders 2 --reviews 3
    --carts 6 --now 2025-06-01));
is($rc, 0, 'seed a small monolith with carts') or diag $err;
sub mono { mariadb_sql($mono->{db}, $_[0]) }
my @pid = map { $_->[0] + 0 } @{mono('SELECT id FROM products ORDER BY id LIMIT 4')};
my $seeded = mono('SELECT COUNT(*) FROM cart_items')->[0][0];
ok($seeded > 0, "the seed filled carts ($seeded lines)");

my $msvc = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn});
my @fivexx;
sub api {
    my ($base, $tok, $method, $path, $json) = @_;
    return api_request($base, \@fivexx, $method, $path, token => $tok,
        (defined $json ? (json => $json) : ()));
}
my %user;    # name -> {id, token}
for my $n (qw(ann bob cat dan)) {
    my $res = http(POST => $msvc->url . '/api/v1/accounts/register',
        {json => {email => "$n\@cart.test", password => "pass-$n-123", name => $n}});
    is($res->{status}, 201, "register $n") or diag $res->{body};
    my $login = http(POST => $msvc->url . '/api/v1/accounts/login',
        {json => {email => "$n\@cart.test", password => "pass-$n-123"}});
    $user{$n} = {id => $res->{json}{id}, token => $login->{json}{token}};
}
sub m_cart { api($msvc->url, $user{$_[0]}{token}, @_[1 .. $#_]) }
sub add { my $r = m_cart($_[0], POST => '/api/v1/cart/items', {product_id => $_[1], quantity => $_[2]});
    is($r->{status}, 200, "$_[0] adds $_[2] of $_[1] on the monolith") or diag $r->{body} }

add(ann => $pid[0], 2);
add(ann => $pid[1], 1);
($rc, $out, $err) = soukctl(\%env, qw(migrate cart backfill));
is($rc, 0, 'migrate cart backfill') or diag $err;
like($out . $err, qr/backfilled \d+ cart lines/, '... copies the lines into Redis') or diag $out . $err;

my $sync = spawn_service('sync', SOUK_SYNC_DOMAIN => 'cart', %env,
    SOUK_SYNC_BINLOG_DB => $admin_dsn);
# While it streams: a quantity changed, a line removed, new carts, a cart emptied.
is(m_cart(ann => PUT => "/api/v1/cart/items/$pid[0]", {quantity => 5})->{status}, 200, 'ann: 5');
is(m_cart(ann => DELETE => "/api/v1/cart/items/$pid[1]")->{status}, 200, 'ann removes a line');
add(bob => $pid[2], 1);
select(undef, undef, undef, 0.01);    # added_at apart: the order is the monolith's
add(bob => $pid[0], 4);
add(cat => $pid[3], 1);
is(m_cart(cat => DELETE => "/api/v1/cart/items/$pid[3]")->{status}, 200, 'cat empties the cart');
add(ann => $pid[3], 7);

sub s_cart { api($cart->url, $user{$_[0]}{token}, GET => '/api/v1/cart')->{json} }
sub mc { m_cart($_[0], GET => '/api/v1/cart')->{json} }
ok(wait_until('the stream reached the carts', sub {
    my $c = s_cart('ann'); @{$c->{items}} == 2 && $c->{items}[1]{quantity} == 7 }, 20),
    'souk-sync applied the monolith\'s cart writes') or diag $sync->stderr_text;
for my $n (qw(ann bob cat dan)) {
    is_deeply(s_cart($n), mc($n), "$n: the same v1 cart on souk-cart as on the monolith");
}
is_deeply([map { $_->{product_id} } @{s_cart('bob')->{items}}], [$pid[2], $pid[0]],
    'bob\'s lines in the order they were added');
is_deeply(s_cart('dan'), {items => [], total => {amount => 0, currency => 'EUR'}, item_count => 0},
    'a user without a monolith cart has an empty cart on souk-cart');
ok(!grep({ $_->{product_id} == $pid[2] } @{s_cart('ann')->{items}}),
    'no line of bob\'s cart shows in ann\'s');

# verify: both sides' canonical rows (every user's cart, seeded ones too).
pg_sql($state->{db}, "UPDATE migration_state SET step = 'sync', done_step = 'sync' WHERE domain = 'cart'");
sub verify { my ($rc, $out, $err) = soukctl(\%env, qw(migrate cart verify)); ($rc, $out . $err) }
my ($vrc, $vout) = verify();
is($vrc, 0, 'verify agrees') or diag $vout;
like($vout, qr/^verify cart carts: (\d+) rows on the monolith, \1 on the service;.* 0 keys still differ/m,
    '... with as many carts on each side') or diag $vout;

# A write the stream has not applied: verify names that user.
$sync->stop;
add(dan => $pid[1], 3);
($vrc, $vout) = verify();
isnt($vrc, 0, 'verify with the sync stopped behind a write fails');
like($vout, qr/\b$user{dan}{id}\b.*missing on the service/, '... naming dan\'s cart') or diag $vout;
is_deeply(\@fivexx, [], 'no 5xx');
done_testing();
