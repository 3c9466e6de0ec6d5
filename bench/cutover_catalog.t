# How long `soukctl migrate catalog cutover` holds the writes at scale (issue 14: target < 1 s
# for catalog at 100 k products). A measurement, not a test of the number: it prints the
# figures and fails only when a step of the playbook fails. Not in `make test` (bench/ is not
# one of its directories); run it on the test servers:
#   BENCH_PRODUCTS=100000 tests/run.sh bench/cutover_catalog.t
# Seeds the monolith, backfills catalog, starts the sync, then runs BENCH_CUTOVERS cutover +
# rollback rounds (default 3) while the admin reprices products through the gateway (a light
# write load: a cutover verifies what the sync changed since its full verify).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../tests/lib";
use File::Temp ();
use Test::More;
use Time::HiRes qw(time sleep);
use Souk::Test;
use Souk::Gateway;
use Souk::Playbook;

my $PRODUCTS = $ENV{BENCH_PRODUCTS} // 100_000;
my $ROUNDS = $ENV{BENCH_CUTOVERS} // 3;
my $SECRET = $Souk::Gateway::JWT_SECRET;
my $mono = mariadb_fresh('benchcut');
my $redis = redis_start();
my $cat = fresh_service('catalog', SOUK_JWT_SECRET => $SECRET, SOUK_REDIS_URL => $redis->{url});
my $state = pg_fresh('migrate');
my $var = File::Temp->newdir('souk-benchcut-XXXXXX', TMPDIR => 1);
END { stop_supervisors("$var") if $var }
my $admin_dsn = "mysql://souk_admin:" . ($ENV{SOUK_MARIADB_ADMIN_PASSWORD} // 'souk-dev')
    . "\@127.0.0.1:$mono->{port}/$mono->{db}";

my $t0 = time;
my ($rc, $out, $err) = soukctl({SOUK_MONOLITH_DB => $mono->{dsn}},
    'seed', '--products', $PRODUCTS, qw(--users 50 --orders 10 --reviews 10 --carts 1 --now 2025-06-01));
is($rc, 0, "seed $PRODUCTS products") or diag $err;
diag(sprintf 'seed: %.1f s', time - $t0);
my $m = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_JWT_SECRET => $SECRET);
my $gw = Souk::Gateway->start(routes => table(
    upstreams => {monolith => pool("127.0.0.1:" . $m->port), catalog => pool("127.0.0.1:" . $cat->port)},
    routes => [
        route(name => 'products', path => '/api/v1/products', legacy => 'monolith', new => 'catalog',
            hold_ms => 10000),
        route(name => 'categories', path => '/api/v1/categories', legacy => 'monolith',
            new => 'catalog', hold_ms => 10000),
        route(name => 'catch_all', path => '/', legacy => 'monolith'),
    ]));
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_CATALOG_DB => $cat->{db}{dsn},
    SOUK_MIGRATE_DB => $state->{dsn}, SOUK_SYNC_BINLOG_DB => $admin_dsn, SOUK_VAR_DIR => "$var",
    SOUK_SYNC_CATALOG_LISTEN => '127.0.0.1:' . free_port(),
    SOUK_REVERSE_CATALOG_LISTEN => '127.0.0.1:' . free_port(),
    SOUK_GATEWAY_ADMIN_LISTEN => '127.0.0.1:' . $gw->admin_port,
    SOUK_GATEWAY_ADMIN_TOKEN => $Souk::Gateway::ADMIN_TOKEN, USER => 'bench',
    SOUK_LOG_LEVEL => 'warn', SOUK_REVERSE_DB => $state->{dsn}, SOUK_AMQP_URL => $cat->{amqp});
sub migrate {
    my $t = time;
    my @r = soukctl(\%env, 'migrate', 'catalog', @_);
    diag($r[1] . $r[2] . logs_tail("$var")) if $r[0];
    diag(sprintf '%s: %.1f s', join(' ', @_), time - $t);
    @r;
}
sub caught_up {
    ok(wait_until(sub { my $l = Souk::Playbook::sync_lag($env{SOUK_SYNC_CATALOG_LISTEN}); defined $l && $l == 0 }, 120),
        'the sync caught up');
}

my $admin_id = mariadb_sql($mono->{db}, "SELECT id FROM users WHERE role = 'admin' LIMIT 1")->[0][0];
my @cats = map { $_->[0] } @{mariadb_sql($mono->{db}, 'SELECT id FROM categories ORDER BY id')};
my @pids = map { $_->[0] } @{mariadb_sql($mono->{db}, 'SELECT id FROM products ORDER BY id LIMIT 400')};
sub reprice {
    my ($ua, $pid) = @_;
    my $tok = Souk::Test::jwt_mint(sub => "$admin_id", role => 'admin', iat => int(time) - 5, secret => $SECRET);
    my $body = qq({"sku":"BENCH-$pid","name":"Bench $pid","description":"d","brand":"b",)
        . qq("category_id":$cats[$pid % @cats],"price":{"amount":@{[1000 + $pid % 997]},"currency":"EUR"}});
    return $ua->request('PUT', $gw->url . "/api/v1/products/$pid", {headers => {
        Authorization => "Bearer $tok", 'Content-Type' => 'application/json'}, content => $body});
}

is((migrate('backfill'))[0], 0, 'backfill');
is((migrate('sync'))[0], 0, 'sync');
caught_up();
is((migrate('verify'))[0], 0, 'verify');
is((migrate('shadow'))[0], 0, 'shadow');
is((migrate('canary', 10))[0], 0, 'canary 10');

my @held;
for my $round (1 .. $ROUNDS) {
    my $wait = load(2, [splice(@pids, 0, 60)], 0.05, \&reprice);
    ($rc, $out) = migrate('cutover');
    is($rc, 0, "cutover $round");
    my ($held) = $out =~ /writes held (\d+) ms/;
    my ($full) = $out =~ /full verify (\d+) ms before the hold/;
    my ($marker) = $out =~ /applied after (\d+) ms/;
    my ($hv) = $out =~ /held verify (\d+) ms/;
    my ($changed) = $out =~ /products: (\d+) changed/;
    push @held, $held // -1;
    diag(sprintf 'round %d: writes held %s ms (marker %s ms, held verify %s ms over %s changed products); full verify before the hold %s ms',
        $round, map { $_ // '?' } $held, $marker, $hv, $changed, $full);
    no_failures_in($wait->(), "load during cutover $round");
    if ($round < $ROUNDS) {
        is((migrate('rollback'))[0], 0, "rollback $round");
        caught_up();
        is((migrate('verify'))[0], 0, 'verify');
        is((migrate('shadow'))[0], 0, 'shadow');
        is((migrate('canary', 10))[0], 0, 'canary 10');
    }
}
diag("catalog with $PRODUCTS products: writes held " . join(', ', @held) . ' ms');
done_testing;
