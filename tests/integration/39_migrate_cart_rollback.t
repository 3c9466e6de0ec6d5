# soukctl migrate cart rollback ends the reverse sync cleanly: what souk-cart published before
# the rollback's fence is in the monolith, then the reverse sync's queue is gone, so a write
# made on souk-cart after the rollback (its cart.changed) waits nowhere and is not written back
# into the monolith when the next cutover starts the reverse sync again, from a fresh queue.
# Before the fix, reverse-cart stayed bound: the event waited there and the second cutover's
# reverse sync put the line back into a monolith cart that no longer had it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp ();
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use Souk::Test;
use Souk::Gateway;
use Souk::Playbook;

my $SECRET = $Souk::Gateway::JWT_SECRET;
my $mono = mariadb_fresh('migcartrb');
my $redis = redis_start();
my $state = pg_fresh('migrate');
my $var = File::Temp->newdir('souk-migcartrb-XXXXXX', TMPDIR => 1);
END { stop_supervisors("$var") if $var }
my $admin_dsn = mariadb_admin_dsn($mono->{db});

my ($rc, $out, $err) = soukctl({SOUK_MONOLITH_DB => $mono->{dsn}},
    qw(seed --products 20 --users 6 --orders 0 --reviews 0 --carts 2 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
my $m = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_JWT_SECRET => $SECRET);
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
(my $vhost = (split m{/}, $cart->{amqp})[-1]) =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;

sub migrate {
    my @r = soukctl(\%env, 'migrate', 'cart', @_);
    diag($r[1] . $r[2] . logs_tail("$var")) if $r[0];
    @r;
}
sub caught_up {
    ok(wait_until(sub { my $l = Souk::Playbook::sync_lag($env{SOUK_SYNC_CART_LISTEN});
        defined $l && $l == 0 }, 20), $_[0]);
}

my ($ua, $ub) = map { $_->[0] + 0 } @{mariadb_sql($mono->{db},
    q{SELECT id FROM users WHERE role = 'customer' ORDER BY id LIMIT 2})};
my @products = map { $_->[0] + 0 } @{mariadb_sql($mono->{db}, 'SELECT id FROM products ORDER BY id')};
my %token = map { ($_ => jwt_mint(sub => "$_", role => 'customer', secret => $SECRET)) } $ua, $ub;
# The products neither customer has yet: each write below adds a line that is new everywhere.
my %had = map { ($_->[0] => 1) } @{mariadb_sql($mono->{db},
    "SELECT ci.product_id FROM cart_items ci JOIN carts c ON c.id = ci.cart_id WHERE c.user_id IN ($ua, $ub)")};
my @fresh = grep { !$had{$_} } @products;
ok(@fresh >= 4, 'four products in neither customer\'s cart');
my ($p_before, $p_after, $p_probe, $p_victim) = @fresh;

sub write_cart {
    my ($base, $method, $u, $path, $json) = @_;
    my $res = http($method => "$base/api/v1/cart$path",
        {headers => {Authorization => "Bearer $token{$u}"}, $json ? (json => $json) : ()});
    ok($res->{status} =~ /^2/, "$method /api/v1/cart$path for user $u on $base: $res->{status}")
        or diag $res->{body};
}
sub mono_has {
    my ($u, $p) = @_;
    return @{mariadb_sql($mono->{db}, "SELECT 1 FROM cart_items ci JOIN carts c ON c.id = ci.cart_id"
        . " WHERE c.user_id = $u AND ci.product_id = $p")} ? 1 : 0;
}
# The reverse queue's bindings to the event exchange and its waiting messages, from the broker.
sub reverse_bindings {
    my ($rc, $out, $err) = rabbitmqctl(qw(-q list_bindings -p), $vhost,
        qw(source_name destination_name routing_key));
    die "rabbitmqctl list_bindings: $err" if $rc;
    return [sort map { (split /\t/)[2] } grep { /^souk\.events\treverse-cart\t/ } split /\n/, $out];
}
# Messages per queue of the vhost (the broker's counts lag a few seconds behind).
sub queues {
    my ($rc, $out, $err) = rabbitmqctl(qw(-q list_queues -p), $vhost, qw(name messages));
    die "rabbitmqctl list_queues: $err" if $rc;
    return {map { my ($q, $n) = split /\t/; ($q => $n) } grep { /\t\d+$/ } split /\n/, $out};
}
sub outbox_sent {
    wait_until(sub { pg_sql($cart->{db}{db},
        'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0] == 0 }, 20);
}

# A rollback before any cutover: there is no reverse queue to end, which is no error.
($rc, $out) = migrate('rollback');
is($rc, 0, 'a rollback before anything ran (no reverse queue yet)');
like($out, qr/queue reverse-cart deleted \(0 events in it\)/, '...ends the queue that is not there');

($rc) = migrate('backfill');
is($rc, 0, 'backfill');
($rc) = migrate('sync');
is($rc, 0, 'sync');
caught_up('the sync catches up');
is((migrate('verify'))[0], 0, 'verify: both sides agree');
is((migrate('shadow'))[0], 0, 'shadow');
is((migrate('canary', 20))[0], 0, 'canary 20');
($rc, $out) = migrate('cutover');
is($rc, 0, 'cutover');
is_deeply(reverse_bindings(), ['cart.changed'], 'the reverse sync\'s queue is bound to cart.changed');

# Published before the rollback's fence: written back by the rollback, lost by nobody.
write_cart($gw->url, POST => $ua, '/items', {product_id => $p_before, quantity => 2});
($rc, $out) = migrate('rollback');
is($rc, 0, 'rollback');
like($out, qr/reverse stopped; queue reverse-cart deleted \(\d+ events in it\)/,
    '...stopped the reverse sync, then deleted its queue');
is($gw->route_named('cart')->{mode}, 'legacy', 'the cart route back on the monolith');
is(mono_has($ua, $p_before), 1, 'the add made on souk-cart before the rollback is in the monolith');
is_deeply(reverse_bindings(), [], 'after the rollback nothing binds cart.changed to the reverse queue');

# After the rollback souk-cart still writes (here: directly; in a shop, order.confirmed): its
# cart.changed must not wait for the next cutover.
write_cart($cart->url, POST => $ub, '/items', {product_id => $p_after, quantity => 1});
ok(outbox_sent(), 'souk-cart published that write\'s cart.changed');
my $q;
ok(wait_until(sub { $q = queues(); ($q->{'reverse-cart'} // 0) + ($q->{'souk.unrouted'} // 0) > 0 }, 20),
    'the broker counted the event');
is($q->{'reverse-cart'} // 0, 0, 'it does not wait in the reverse sync\'s queue');
ok(!exists $q->{'reverse-cart'} && !exists $q->{'reverse-cart.retry'},
    'the reverse sync\'s queue and its retry queue are gone');

# The monolith's cart does not have that line: the customer adds it there and removes it
# again, and the forward sync removes it from souk-cart too, so the sides agree again.
write_cart($gw->url, POST => $ub, '/items', {product_id => $p_after, quantity => 1});
write_cart($gw->url, DELETE => $ub, "/items/$p_after");
caught_up('the forward sync catches up');
ok(wait_until(sub { (migrate('verify'))[0] == 0 }, 20), 'verify: both sides agree again');
is((migrate('shadow'))[0], 0, 'shadow again');
is((migrate('canary', 20))[0], 0, 'canary 20 again');

# ---- a cart changed between the full verify and the hold, wrong on souk-cart ----------------

my $gate = File::Temp->newdir('souk-migcartrb-gate-XXXXXX', TMPDIR => 1);
# --before-hold runs after the full verify: it says so, then waits (bounded) for the test.
my $hook = "touch $gate/ready; i=0; while [ ! -e $gate/go ] && [ \$i -lt 1200 ]; do sleep 0.05; i=\$((i+1)); done";
my $child = fork // die "fork: $!";
if (!$child) {
    my @r = soukctl(\%env, qw(migrate cart cutover --before-hold), $hook);
    open my $fh, '>', "$gate/result" or POSIX::_exit(1);
    print $fh join("\0", @r);
    close $fh;
    POSIX::_exit(0);
}
ok(wait_until(sub { -e "$gate/ready" }, 60), 'the cutover\'s full verify passed');
# The monolith takes the write (canary: writes are legacy); the forward sync copies it, then
# the line goes from souk-cart's Redis behind everyone's back.
write_cart($m->url, POST => $ua, '/items', {product_id => $p_victim, quantity => 3});
my $hkey = "souk:cart:u:$ua";
sub redis { my $o = `redis-cli -p $redis->{port} @_`; chomp $o; $o }
ok(wait_until(sub { redis('HEXISTS', $hkey, $p_victim) eq '1' }, 20),
    'a cart changed on the monolith after the full verify reaches souk-cart');
is(redis('HDEL', $hkey, $p_victim), '1', '...and is made wrong there');
open my $go, '>', "$gate/go" or die;
close $go;
waitpid($child, 0);
my ($crc, $cout, $cerr) = split /\0/, do { local $/; open my $fh, '<', "$gate/result" or die; <$fh> // '' }, 3;
is($crc, 1, 'the cutover refuses') or diag "$cout$cerr";
like($cout, qr/^verify cart carts: 1 keys changed since the full verify began; 1 differ$/m,
    '...its verify under the hold read only the changed cart and found it wrong');
like($cout, qr/^  carts id $ua: differs$/m, '...by its user id');
like($cerr, qr/the sides differ \(listed above\); routes unchanged/, '...and says so');
is_deeply([map { [$_->{mode}, $_->{hold} ? 1 : 0] } $gw->route_named('cart')], [['canary', 0]],
    'the route stays on canary, not held');
is_deeply(reverse_bindings(), [], '...and the reverse sync\'s queue is gone again');
# Repair: the monolith sets the quantity again; the forward sync writes the line back.
write_cart($m->url, PUT => $ua, "/items/$p_victim", {quantity => 2});
caught_up('the forward sync catches up');
ok(wait_until(sub { (migrate('verify'))[0] == 0 }, 20), 'verify: both sides agree once more');

($rc, $out) = migrate('cutover');
is($rc, 0, 'the second cutover');
like($out, qr/^verify cart carts: \d+ keys changed since the full verify began; 0 differ$/m,
    '...verified under its hold only the carts changed since its full verify');
is_deeply(reverse_bindings(), ['cart.changed'], 'the reverse sync\'s queue is bound again');

# A write on souk-cart after the second cutover reaches the monolith: by then the reverse sync
# has consumed whatever its queue held when it started.
write_cart($gw->url, POST => $ua, '/items', {product_id => $p_probe, quantity => 1});
ok(wait_until(sub { mono_has($ua, $p_probe) }, 20), 'a write after the second cutover is written back');
sleep 1;
is(mono_has($ub, $p_after), 0,
    'the line added on souk-cart after the rollback (and removed on the monolith) did not come back');

done_testing;
