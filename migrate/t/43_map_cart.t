# 43_map_cart.t - the cart mapping (migrate/map/cart.c) forward, against real servers: the
# monolith's carts + cart_items become souk-cart's Redis hashes through `soukctl migrate cart
# backfill` (seeded carts and one filled through v1) and souk-sync (adds, quantity changes,
# removals, a cart emptied, while it streams). Afterwards every user's v1 cart reads the same
# on the monolith and on souk-cart (members, order, names, prices), no user sees another's
# lines, and `soukctl migrate cart verify` agrees - and names the user whose cart differs
# when the stream is stopped behind a write. Reverse: souk-cart's writes (adds, quantities,
# removals, a merge at login) publish cart.changed, which souk-sync --reverse writes into
# carts + cart_items with skip_replication (the forward sync skips them: no echo); an event
# not newer than the version the monolith holds changes nothing; anonymous carts publish
# nothing.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;

my $mono = mariadb_fresh('mapcart');
my $redis = redis_start();
my $state = pg_fresh('migrate');
my $admin_dsn = mariadb_admin_dsn($mono->{db});
my %env = (SOUK_MONOLITH_DB => $mono->{dsn},
    SOUK_REDIS_URL => $redis->{url}, SOUK_MIGRATE_DB => $state->{dsn}, USER => 'tester');
my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 12 --users 10 --orders 2 --reviews 3
    --carts 6 --now 2025-06-01));
is($rc, 0, 'seed a small monolith with carts') or diag $err;
sub mono { mariadb_sql($mono->{db}, $_[0]) }
my @pid = map { $_->[0] + 0 } @{mono('SELECT id FROM products ORDER BY id LIMIT 4')};
my $seeded = mono('SELECT COUNT(*) FROM cart_items')->[0][0];
ok($seeded > 0, "the seed filled carts ($seeded lines)");

my $msvc = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn});
# souk-cart's price snapshots (adds on the service, after the "cutover" below) come from the
# monolith's v1 product answer, the same shape as souk-catalog's.
my $cart = fresh_service('cart', SOUK_REDIS_URL => $redis->{url}, SOUK_CATALOG_URL => $msvc->url);
$env{SOUK_CART_DB} = $cart->{db}{dsn};
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

# --- reverse: souk-cart's writes (cart.changed) back into carts + cart_items ---------------------
$sync = spawn_service('sync', SOUK_SYNC_DOMAIN => 'cart', %env, SOUK_SYNC_BINLOG_DB => $admin_dsn);
my $skipped0 = metric_value($sync->url, 'souk_sync_skipped_total') // 0;
my $inbox = pg_fresh('reviews');    # any database with the backbone's tables: reverse's inbox
my $rev = spawn_service('sync', SOUK_SYNC_DOMAIN => 'cart', SOUK_SYNC_REVERSE => 1,
    SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_CART_DB => $cart->{db}{dsn},
    SOUK_REVERSE_DB => $inbox->{dsn}, SOUK_AMQP_URL => $cart->{amqp});
sub s_write { api($cart->url, $user{$_[0]}{token}, @_[1 .. $#_]) }
is(s_write(ann => POST => '/api/v1/cart/items', {product_id => $pid[1], quantity => 2})->{status},
    200, 'ann adds on souk-cart');
is(s_write(ann => PUT => "/api/v1/cart/items/$pid[0]", {quantity => 9})->{status}, 200, 'ann: 9');
is(s_write(ann => DELETE => "/api/v1/cart/items/$pid[3]")->{status}, 200, 'ann removes a line');
is(s_write(cat => POST => '/api/v1/cart/items', {product_id => $pid[2], quantity => 1})->{status},
    200, 'cat (an empty cart in the monolith) adds on souk-cart');
ok(wait_until('reverse wrote back', sub {
    my $c = mc('cat'); @{$c->{items}} == 1 && (mc('ann')->{items}[0]{quantity} // 0) == 9 }, 20),
    'souk-cart\'s writes reached the monolith') or diag $rev->stderr_text;
for my $n (qw(ann bob cat)) {
    is_deeply(mc($n), s_cart($n), "$n: the monolith's v1 cart is souk-cart's again");
}
is(mono("SELECT version FROM souk_cart_version WHERE user_id = $user{ann}{id}")->[0][0], 3,
    'the monolith keeps the newest cart.changed version written back (3 writes of ann\'s)');
# No echo: the reverse transactions carry skip_replication; souk-sync skips them.
ok(wait_until('forward skipped them', sub {
    (metric_value($sync->url, 'souk_sync_skipped_total') // 0) >= $skipped0 + 2 }, 20),
    'souk-sync skipped the reverse transactions');
# An event not newer than the version written is ignored: pretend the monolith has seen a
# later one, then write on souk-cart.
my $bob_before = mc('bob');
mono("INSERT INTO souk_cart_version (user_id, version) VALUES ($user{bob}{id}, 100)"
    . ' ON DUPLICATE KEY UPDATE version = 100');
is(s_write(bob => DELETE => "/api/v1/cart/items/$pid[2]")->{status}, 200, 'bob removes on souk-cart');
is(s_write(cat => PUT => "/api/v1/cart/items/$pid[2]", {quantity => 3})->{status}, 200, 'cat: 3');
ok(wait_until('cat written back', sub { (mc('cat')->{items}[0]{quantity} // 0) == 3 }, 20),
    'a later event (cat\'s) was written back');
is_deeply(mc('bob'), $bob_before, 'bob\'s older-versioned event changed nothing in the monolith');

# An anonymous cart publishes nothing (the monolith has none); its merge at login does.
sub events { pg_sql($cart->{db}{db}, q{SELECT count(*) FROM outbox WHERE type = 'cart.changed'})->[0][0] }
my $n0 = events();
my $anon = http(POST => $cart->url . '/api/v1/cart/items', {json => {product_id => $pid[0], quantity => 1}});
is($anon->{status}, 200, 'an anonymous add on souk-cart');
my ($cookie) = (ref $anon->{headers}{'set-cookie'} ? join(';', @{$anon->{headers}{'set-cookie'}})
    : $anon->{headers}{'set-cookie'} // '') =~ /(souk_cart=[0-9a-f]{32})/;
is(events(), $n0, '... writes no cart.changed');
my $merged = api_request($cart->url, \@fivexx, GET => '/api/v1/cart', token => $user{cat}{token},
    cookie => $cookie);
is(scalar @{$merged->{json}{items}}, 2, 'cat logs in with the cookie: the anonymous line merges');
is(events(), $n0 + 1, '... and the merge writes one cart.changed');
ok(wait_until('merge written back', sub { @{mc('cat')->{items}} == 2 }, 20),
    'the merged cart reaches the monolith');
is_deeply(mc('cat'), s_cart('cat'), 'cat: the same v1 cart on both sides after the merge');
is_deeply(\@fivexx, [], 'no 5xx');
done_testing();
