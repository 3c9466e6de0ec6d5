# soukctl migrate catalog, end to end like 34_migrate_playbook.t does reviews: a monolith,
# souk-catalog, the gateway (products and categories move; stock stays on the monolith), and
# the syncs the playbook starts. The write load is the shop's admin creating and repricing
# products through the gateway. backfill + sync + verify agree under load; the cutover
# under load fails no request and loses no acknowledged write; products created on the
# service reach the monolith (reverse sync); a rollback under load loses nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp ();
use Test::More;
use Time::HiRes qw(time sleep);
use Souk::Test;
use Souk::Gateway;
use Souk::Playbook;

my $SECRET = $Souk::Gateway::JWT_SECRET;
my $mono = mariadb_fresh('migcat');
my $redis = redis_start();
my $cat = fresh_service('catalog', SOUK_JWT_SECRET => $SECRET, SOUK_REDIS_URL => $redis->{url});
my $state = pg_fresh('migrate');
my $var = File::Temp->newdir('souk-migcat-XXXXXX', TMPDIR => 1);
END { stop_supervisors("$var") if $var }
my $admin_dsn = "mysql://souk_admin:" . ($ENV{SOUK_MARIADB_ADMIN_PASSWORD} // 'souk-dev')
    . "\@127.0.0.1:$mono->{port}/$mono->{db}";

my ($rc, $out, $err) = soukctl({SOUK_MONOLITH_DB => $mono->{dsn}},
    qw(seed --products 120 --users 5 --orders 5 --reviews 20 --carts 1 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
my $m = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_JWT_SECRET => $SECRET);
my $gw = Souk::Gateway->start(routes => table(
    upstreams => {monolith => pool("127.0.0.1:" . $m->port), catalog => pool("127.0.0.1:" . $cat->port)},
    routes => [
        route(name => 'products', path => '/api/v1/products', legacy => 'monolith', new => 'catalog',
            hold_ms => 10000),
        route(name => 'stock', path => '/api/v1/products/{id}/stock', legacy => 'monolith'),
        route(name => 'categories', path => '/api/v1/categories', legacy => 'monolith',
            new => 'catalog', hold_ms => 10000),
        route(name => 'catch_all', path => '/', legacy => 'monolith'),
    ]));
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_CATALOG_DB => $cat->{db}{dsn},
    SOUK_MIGRATE_DB => $state->{dsn}, SOUK_SYNC_BINLOG_DB => $admin_dsn, SOUK_VAR_DIR => "$var",
    SOUK_SYNC_CATALOG_LISTEN => '127.0.0.1:' . free_port(),
    SOUK_REVERSE_CATALOG_LISTEN => '127.0.0.1:' . free_port(),
    SOUK_GATEWAY_ADMIN_LISTEN => '127.0.0.1:' . $gw->admin_port,
    SOUK_GATEWAY_ADMIN_TOKEN => $Souk::Gateway::ADMIN_TOKEN, USER => 'catalog-team',
    SOUK_LOG_LEVEL => 'warn', SOUK_REVERSE_DB => $state->{dsn}, SOUK_AMQP_URL => $cat->{amqp});
sub migrate {
    my @r = soukctl(\%env, 'migrate', 'catalog', @_);
    diag($r[1] . $r[2] . logs_tail("$var")) if $r[0];
    @r;
}
sub lag { Souk::Playbook::sync_lag($env{SOUK_SYNC_CATALOG_LISTEN}) }
sub caught_up { ok(wait_until(sub { my $l = lag(); defined $l && $l == 0 }, 20), $_[0]) }

# ---- the write load: new products and new prices, as the admin --------------------------------

my $admin_id = mariadb_sql($mono->{db}, "SELECT id FROM users WHERE role = 'admin' LIMIT 1")->[0][0];
my @cats = map { $_->[0] } @{mariadb_sql($mono->{db}, 'SELECT id FROM categories ORDER BY id')};
my @pids = map { $_->[0] } @{mariadb_sql($mono->{db}, 'SELECT id FROM products ORDER BY id')};
my $n = 0;
sub admin_write {
    my ($ua, $item) = @_;
    my $tok = Souk::Test::jwt_mint(sub => "$admin_id", role => 'admin', iat => int(time) - 5,
        secret => $SECRET);
    my %h = (Authorization => "Bearer $tok", 'Content-Type' => 'application/json');
    my ($what, $k, $pid) = @$item;
    my ($amount, $cat_id) = (1000 + $k, $cats[$k % @cats]);
    my $body = qq({"sku":"LOAD-$k","name":"Load $k","description":"d","brand":"b","category_id":$cat_id,)
        . qq("price":{"amount":$amount,"currency":"EUR"},"attributes":{"run":"$k"}});
    return $what eq 'create'
        ? $ua->request('POST', $gw->url . '/api/v1/products', {headers => \%h, content => $body})
        : $ua->request('PUT', $gw->url . "/api/v1/products/$pid", {headers => \%h, content => $body});
}
# Half new products, half repricing existing ones (each product once: no lost update to argue).
sub writers { my ($count) = @_; load(2, [map { $n++; $n % 2 ? ['create', $n] : ['update', $n, shift @pids] } 1 .. $count], 0.02, \&admin_write) }

sub products_of { my ($rows) = @_; my %h = map { ($_->[0] => $_->[1]) } @$rows; \%h }
sub has_all {
    my ($side, $answers, $what) = @_;
    my $rows = $side eq 'monolith'
        ? mariadb_sql($mono->{db}, 'SELECT id, sku FROM products')
        : pg_sql($cat->{db}{db}, "SELECT id, doc->>'sku' FROM products WHERE deleted_at IS NULL");
    my $have = products_of($rows);
    my @lost = grep { !exists $have->{$_} } @{acked_ids($answers)};
    is_deeply(\@lost, [], "$what: every acknowledged product is on the $side");
}

# ---- backfill + sync + verify under load -----------------------------------------------------

my $wait = writers(30);
($rc) = migrate('backfill');
is($rc, 0, 'backfill catalog while the admin writes');
($rc) = migrate('sync');
is($rc, 0, 'sync');
my $load1 = $wait->();
no_failures_in($load1, 'load during backfill and sync');
caught_up('the sync catches up');
($rc, $out) = migrate('verify');
is($rc, 0, 'verify: both sides agree') or diag $out;
has_all('catalog service', $load1, 'after the sync');

($rc) = migrate('shadow');
is($rc, 0, 'shadow');
($rc) = migrate('canary', 30);
is($rc, 0, 'canary 30');

# ---- cutover under load ---------------------------------------------------------------------

$wait = writers(40);
sleep 0.2;
($rc, $out) = migrate('cutover');
is($rc, 0, 'cutover under load');
my ($held) = $out =~ /writes held (\d+) ms/;
ok(defined $held && $held < 5000, 'writes were held ' . ($held // '?') . ' ms');
my $load2 = $wait->();
no_failures_in($load2, 'load during the cutover');
is_deeply([map { $gw->route_named($_)->{mode} } qw(products categories stock)], [qw(new new legacy)],
    'products and categories on new, stock still on the monolith');
caught_up('the sync drained what the monolith took before the fence');
has_all('catalog service', [@$load1, @$load2], 'after the cutover');

my $load3 = writers(10)->();
no_failures_in($load3, 'load after the cutover (on the service)');
my @created = map { $_->[1] } grep { $_->[0] =~ /^2/ } @$load3;
ok(wait_until(sub { my $h = products_of(mariadb_sql($mono->{db}, 'SELECT id, sku FROM products'));
    !grep { !exists $h->{$_} } @created }, 20), 'the reverse sync brought the service\'s writes into the monolith');

# ---- rollback under load ----------------------------------------------------------------------

$wait = writers(20);
sleep 0.2;
($rc, $out) = migrate('rollback');
is($rc, 0, 'rollback under load');
my $load4 = $wait->();
no_failures_in($load4, 'load during the rollback');
is_deeply([map { $gw->route_named($_)->{mode} } qw(products categories)], [qw(legacy legacy)],
    'products and categories back on the monolith');
caught_up('the forward sync runs and catches up');
my $all = [@$load1, @$load2, @$load3, @$load4];
has_all('monolith', $all, 'after the rollback');
has_all('catalog service', $all, 'after the rollback');
($rc, $out) = migrate('verify');
is($rc, 0, 'verify: both sides agree after the rollback') or diag $out;

($rc, $out) = soukctl(\%env, qw(migrate status catalog));
like($out, qr/^catalog\s+verify\s+verify done\s+catalog-team\s+\S+\s+\d+ ev [\d.]+ s\s+-\s+agreed/m,
    'status: catalog verified after the rollback, by whom, the sync lag, no reverse sync');
like($out, qr/catalog-team\s+catalog\s+rollback\s+done\s+\d+ ms\s+routes on legacy; writes held \d+ ms; reverse stopped/,
    '...and the log has the rollback');

done_testing;
