# soukctl migrate cart, end to end like 34 (reviews), 35 (catalog) and 36 (users): signed-in
# customers add products to their carts through the gateway while the playbook runs.
# backfill + sync + verify agree under that load; the cutover under load fails no add and
# loses none; the carts read the same on souk-cart as they did on the monolith; adds made on
# souk-cart after the cutover reach the monolith's carts (reverse sync of cart.changed), where
# the monolith's checkout (orders still legacy) sees them; a rollback under load loses no add
# made on either side; no customer ever sees another's lines.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp ();
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use Souk::Test;
use Souk::Gateway;
use Souk::Playbook;

my $SECRET = $Souk::Gateway::JWT_SECRET;
my $mono = mariadb_fresh('migcart');
my $redis = redis_start();
my $state = pg_fresh('migrate');
my $var = File::Temp->newdir('souk-migcart-XXXXXX', TMPDIR => 1);
END { stop_supervisors("$var") if $var }
my $admin_dsn = "mysql://souk_admin:" . ($ENV{SOUK_MARIADB_ADMIN_PASSWORD} // 'souk-dev')
    . "\@127.0.0.1:$mono->{port}/$mono->{db}";

my ($rc, $out, $err) = soukctl({SOUK_MONOLITH_DB => $mono->{dsn}},
    qw(seed --products 60 --users 12 --orders 3 --reviews 5 --carts 4 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
mariadb_sql($mono->{db}, 'UPDATE inventory SET stock = 100');    # the checkout below must not run short
my $m = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_JWT_SECRET => $SECRET);
# souk-cart takes its price snapshots from the monolith's v1 product answer (the same shape
# as souk-catalog's), so the test needs no catalog of its own.
my $cart = fresh_service('cart', SOUK_JWT_SECRET => $SECRET, SOUK_REDIS_URL => $redis->{url},
    SOUK_CATALOG_URL => $m->url);
my $gw = Souk::Gateway->start(routes => table(
    upstreams => {monolith => pool("127.0.0.1:" . $m->port), cart => pool("127.0.0.1:" . $cart->port)},
    routes => [
        route(name => 'cart', path => '/api/v1/cart', legacy => 'monolith', new => 'cart',
            hold_ms => 10000),
        route(name => 'catch_all', path => '/', legacy => 'monolith'),
    ]));
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_CART_DB => $cart->{db}{dsn},
    SOUK_REDIS_URL => $redis->{url},
    SOUK_MIGRATE_DB => $state->{dsn}, SOUK_SYNC_BINLOG_DB => $admin_dsn, SOUK_VAR_DIR => "$var",
    SOUK_SYNC_CART_LISTEN => '127.0.0.1:' . free_port(),
    SOUK_REVERSE_CART_LISTEN => '127.0.0.1:' . free_port(),
    SOUK_GATEWAY_ADMIN_LISTEN => '127.0.0.1:' . $gw->admin_port,
    SOUK_GATEWAY_ADMIN_TOKEN => $Souk::Gateway::ADMIN_TOKEN, USER => 'cart-team',
    SOUK_LOG_LEVEL => 'warn', SOUK_REVERSE_DB => $state->{dsn}, SOUK_AMQP_URL => $cart->{amqp});
sub migrate {
    my @r = soukctl(\%env, 'migrate', 'cart', @_);
    diag($r[1] . $r[2] . logs_tail("$var")) if $r[0];
    @r;
}
sub lag { Souk::Playbook::sync_lag($env{SOUK_SYNC_CART_LISTEN}) }
sub caught_up { ok(wait_until(sub { my $l = lag(); defined $l && $l == 0 }, 20), $_[0]) }

# ---- the load: customers add products, each (customer, product) once ---------------------------

my @users = map { $_->[0] + 0 } @{mariadb_sql($mono->{db},
    q{SELECT id FROM users WHERE role = 'customer' ORDER BY id LIMIT 4})};
my @products = map { $_->[0] + 0 } @{mariadb_sql($mono->{db}, 'SELECT id FROM products ORDER BY id')};
my %token = map { ($_ => jwt_mint(sub => "$_", role => 'customer', secret => $SECRET)) } @users;
my %next;    # user -> index of the next product it adds
my @acked;   # [user, product] of every add that was answered 2xx
sub writers {
    my ($count) = @_;
    my @mine;
    for my $i (0 .. $count - 1) {
        my $u = $users[$i % @users];
        push @mine, [$u, $products[$next{$u}++]];
    }
    my $wait = load(2, \@mine, 0.02, sub {
        my ($ua, $it) = @_;
        return $ua->request('POST', $gw->url . '/api/v1/cart/items',
            {headers => {'Content-Type' => 'application/json',
                Authorization => "Bearer $token{$it->[0]}"},
                content => qq({"product_id":$it->[1],"quantity":1})});
    });
    return sub {
        my $answers = $wait->();
        push @acked, map { $mine[$_] } grep { $answers->[$_][0] =~ /^2/ } 0 .. $#$answers;
        return $answers;
    };
}
sub cart_at {
    my ($base, $u) = @_;
    return http(GET => "$base/api/v1/cart", {headers => {Authorization => "Bearer $token{$u}"}})->{json};
}
sub has_all {
    my ($base, $what) = @_;
    my %have;
    for my $u (@users) { $have{"$u:$_->{product_id}"} = 1 for @{cart_at($base, $u)->{items}} }
    my @lost = map { "$_->[0]:$_->[1]" } grep { !$have{"$_->[0]:$_->[1]"} } @acked;
    is_deeply(\@lost, [], "$what: every acknowledged add is in its customer's cart");
}
# The syncs are asynchronous (the lag metric is sampled once a second): wait, bounded, for
# both sides to agree, then name the customers whose carts still differ.
sub differing { grep { !eq_deeply_json(cart_at($m->url, $_), cart_at($cart->url, $_)) } @users }
sub same_carts {
    my ($what) = @_;
    my @diff;
    wait_until(sub { @diff = differing(); !@diff }, 20);
    is_deeply(\@diff, [], "$what: every customer's v1 cart reads the same on both sides");
}
sub eq_deeply_json { JSON::PP->new->canonical->encode($_[0]) eq JSON::PP->new->canonical->encode($_[1]) }

my $wait = writers(12);
($rc) = migrate('backfill');
is($rc, 0, 'backfill the carts while customers add to them');
($rc) = migrate('sync');
is($rc, 0, 'sync');
my $load1 = $wait->();
no_failures_in($load1, 'adds during backfill and sync');
caught_up('the sync catches up');
same_carts('before the cutover');
($rc, $out) = migrate('verify');
is($rc, 0, 'verify: both sides agree') or diag $out;
($rc) = migrate('shadow');
is($rc, 0, 'shadow');
($rc) = migrate('canary', 20);
is($rc, 0, 'canary 20');

$wait = writers(16);
sleep 0.2;
($rc, $out) = migrate('cutover');
is($rc, 0, 'cutover under load');
my ($held) = $out =~ /writes held (\d+) ms/;
ok(defined $held && $held < 5000, 'writes were held ' . ($held // '?') . ' ms');
my $load2 = $wait->();
no_failures_in($load2, 'adds during the cutover');
is($gw->route_named('cart')->{mode}, 'new', 'the cart route on new');
caught_up('the sync drained what the monolith took before the fence');
has_all($cart->url, 'souk-cart after the cutover');

# After the cutover: adds on souk-cart reach the monolith's carts (reverse sync).
my $load3 = writers(8)->();
no_failures_in($load3, 'adds after the cutover (on souk-cart)');
same_carts('after the cutover (reverse sync wrote souk-cart\'s carts into the monolith)');
has_all($m->url, 'the monolith after the cutover');
# No customer sees another's lines: each cart holds only what that customer added.
my @foreign;
for my $u (@users) {
    my %mine = map { ($_->[1] => 1) } grep { $_->[0] == $u } @acked;
    my %seeded = map { ($_->[0] => 1) } @{mariadb_sql($mono->{db},
        "SELECT ci.product_id FROM cart_items ci JOIN carts c ON c.id = ci.cart_id WHERE c.user_id = $u")};
    push @foreign, map { "$u:$_->{product_id}" } grep { !$mine{$_->{product_id}} && !$seeded{$_->{product_id}} }
        @{cart_at($cart->url, $u)->{items}};
}
is_deeply(\@foreign, [], 'no cart shows a line its customer did not add');

# The monolith's checkout (orders still legacy) sees the cart that lives in souk-cart now.
my $buyer = $users[0];
my $lines = cart_at($cart->url, $buyer)->{items};
ok(@$lines >= 2, 'the buyer has lines added on both sides (' . scalar(@$lines) . ')');
my $res = http(POST => $gw->url . '/api/v1/orders', {json => {card_number => '4242424242424242'},
    headers => {Authorization => "Bearer $token{$buyer}", 'Idempotency-Key' => 'cart-migrate-1'}});
is($res->{status}, 201, 'the monolith\'s checkout takes the cart written on souk-cart') or diag $res->{body};
is_deeply([sort { $a <=> $b } map { $_->{product_id} } @{$res->{json}{lines} // $res->{json}{items} // []}],
    [sort { $a <=> $b } map { $_->{product_id} } @$lines], '... with exactly its lines');
@acked = grep { $_->[0] != $buyer } @acked;    # the buyer's cart is empty now, on both sides
ok(wait_until(sub { @{cart_at($cart->url, $buyer)->{items}} == 0 }, 20),
    'the checkout emptied the cart on souk-cart too (forward sync)');

$wait = writers(8);
sleep 0.2;
($rc) = migrate('rollback');
is($rc, 0, 'rollback under load');
my $load4 = $wait->();
no_failures_in($load4, 'adds during the rollback');
is($gw->route_named('cart')->{mode}, 'legacy', 'the cart route back on the monolith');
same_carts('after the rollback');
has_all($m->url, 'the monolith after the rollback');
caught_up('the forward sync catches up');
($rc, $out) = migrate('verify');
is($rc, 0, 'verify: both sides agree after the rollback') or diag $out;

done_testing;
