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
use Test::More;
use Time::HiRes qw(time sleep);
use Souk::Test;
use Souk::Gateway;
use Souk::Playbook;

my $PRODUCTS = $ENV{BENCH_PRODUCTS} // 100_000;
my $ROUNDS = $ENV{BENCH_CUTOVERS} // 3;
my $shop = Souk::Playbook->start('catalog', name => 'benchcut', user => 'bench', redis => 1, timed => 1,
    seed => ['--products', $PRODUCTS, qw(--users 50 --orders 10 --reviews 10 --carts 1)],
    seed_check => "seed $PRODUCTS products",
    routes => [
        route(name => 'products', path => '/api/v1/products', legacy => 'monolith', new => 'catalog',
            hold_ms => 10000),
        route(name => 'categories', path => '/api/v1/categories', legacy => 'monolith',
            new => 'catalog', hold_ms => 10000),
    ]);
my ($mono, $gw, $SECRET) = @$shop{qw(mono gw secret)};
sub migrate { $shop->migrate(@_) }
sub caught_up { $shop->caught_up('the sync caught up', 120) }

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
$shop->to_canary(10);

my @held;
for my $round (1 .. $ROUNDS) {
    my $wait = load(2, [splice(@pids, 0, 60)], 0.05, \&reprice);
    my ($rc, $out) = migrate('cutover');
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
        $shop->to_canary(10);
    }
}
diag("catalog with $PRODUCTS products: writes held " . join(', ', @held) . ' ms');
done_testing;
