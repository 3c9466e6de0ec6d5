# soukctl migrate catalog, end to end like 34_migrate_playbook.t does reviews: a monolith,
# souk-catalog, the gateway (products and categories move; stock stays on the monolith), and
# the syncs the playbook starts. The write load is the shop's admin creating and repricing
# products through the gateway. backfill + sync + verify agree under load; the cutover
# under load fails no request and loses no acknowledged write; products created on the
# service reach the monolith (reverse sync); a rollback under load loses nothing. The cutover
# verifies the whole domain before the hold and only what the sync changed since under it: a
# product changed after the full verify and wrong on the service stops the cutover.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp ();
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use Souk::Test;
use Souk::Gateway;
use Souk::Playbook;

my $shop = Souk::Playbook->start('catalog', name => 'migcat', user => 'catalog-team', redis => 1,
    seed => [qw(--products 120 --users 5 --orders 5 --reviews 20 --carts 1)],
    routes => [
        route(name => 'products', path => '/api/v1/products', legacy => 'monolith', new => 'catalog',
            hold_ms => 10000),
        route(name => 'stock', path => '/api/v1/products/{id}/stock', legacy => 'monolith'),
        route(name => 'categories', path => '/api/v1/categories', legacy => 'monolith',
            new => 'catalog', hold_ms => 10000),
    ]);
my ($mono, $cat, $gw, $SECRET) = @$shop{qw(mono service gw secret)};

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
# With $through, new products go on until the step ends (numbered apart: 1e6 + call, process, k).
my $calls = 0;
sub writers {
    my ($count, $through) = @_;
    my $call = ++$calls;
    my $more = $through ? sub { my ($w, $k) = @_; ['create', 1_000_000 + $call * 100_000 + $w * 10_000 + $k] } : undef;
    load(2, [map { $n++; $n % 2 ? ['create', $n] : ['update', $n, shift @pids] } 1 .. $count], 0.02,
        \&admin_write, $more);
}

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

# ---- backfill + sync + verify under load, shadow, canary, cutover under load ------------------

my ($load1, $load2) = $shop->walk(writers => \&writers, load => [30, 40], canary => 30,
    what => "the admin's writes", through => 1, synced => sub { has_all('catalog service', $_[0], 'after the sync') },
    cutover => sub {
        my ($out) = @_;
        like($out, qr/full verify \d+ ms before the hold; .*held verify \d+ ms/,
            '...the full verify ran before the hold');
        like($out, qr/^verify catalog products: \d+ keys changed since the full verify began; 0 differ$/m,
            '...and only the changed keys under it');
    });
has_all('catalog service', [@$load1, @$load2], 'after the cutover');

my $load3 = writers(10)->();
no_failures_in($load3, 'load after the cutover (on the service)');
my @created = map { $_->[1] } grep { $_->[0] =~ /^2/ } @$load3;
ok(wait_until(sub { my $h = products_of(mariadb_sql($mono->{db}, 'SELECT id, sku FROM products'));
    !grep { !exists $h->{$_} } @created }, 20), 'the reverse sync brought the service\'s writes into the monolith');

# ---- rollback under load ----------------------------------------------------------------------

$shop->roll_back(writers => \&writers, load => 20, what => "the admin's writes", through => 1, settled => sub {
    my $all = [@$load1, @$load2, @$load3, @{$_[0]}];
    has_all('monolith', $all, 'after the rollback');
    has_all('catalog service', $all, 'after the rollback');
});

# ---- a row changed between the full verify and the hold, wrong on the service ----------------

is(($shop->migrate('shadow'))[0], 0, 'shadow again');
is(($shop->migrate('canary', 30))[0], 0, 'canary 30 again');
my $victim = mariadb_sql($mono->{db},
    'SELECT p.id FROM products p JOIN inventory i ON i.product_id = p.id ORDER BY p.id LIMIT 1')->[0][0];
my $gate = File::Temp->newdir('souk-migcat-gate-XXXXXX', TMPDIR => 1);
# --before-hold runs after the full verify: it says so, then waits (bounded) for the test.
my $hook = "touch $gate/ready; i=0; while [ ! -e $gate/go ] && [ \$i -lt 1200 ]; do sleep 0.05; i=\$((i+1)); done";
my $child = fork // die "fork: $!";
if (!$child) {
    my @r = $shop->soukctl(qw(migrate catalog cutover --before-hold), $hook);
    open my $fh, '>', "$gate/result" or POSIX::_exit(1);
    print $fh join("\0", @r);
    close $fh;
    POSIX::_exit(0);
}
ok(wait_until(sub { -e "$gate/ready" }, 60), 'the cutover\'s full verify passed');
# Stock: the one member the reverse sync never writes back (it would copy the service's wrong
# value into the monolith, and both sides would agree again).
my $stock = mariadb_sql($mono->{db}, "SELECT stock FROM inventory WHERE product_id = $victim")->[0][0] + 7;
mariadb_sql($mono->{db}, "UPDATE inventory SET stock = $stock WHERE product_id = $victim");
ok(wait_until(sub { (pg_sql($cat->{db}{db}, "SELECT doc->>'stock' FROM products WHERE id = $victim")->[0][0] // '') eq $stock }, 20),
    'a product changed on the monolith after it reaches the service');
pg_sql($cat->{db}{db}, qq{UPDATE products SET doc = jsonb_set(doc, '{stock}', '-1') WHERE id = $victim});
open my $go, '>', "$gate/go" or die;
close $go;
waitpid($child, 0);
my ($crc, $cout, $cerr) = split /\0/, do { local $/; open my $fh, '<', "$gate/result" or die; <$fh> // '' }, 3;
is($crc, 1, 'the cutover refuses') or diag "$cout$cerr";
like($cout, qr/^verify catalog products: [1-9]\d* keys changed since the full verify began; 1 differ$/m,
    '...its verify under the hold found the changed product');
like($cout, qr/^  products id $victim: differs$/m, '...by its id');
like($cerr, qr/the sides differ \(listed above\); routes unchanged/, '...and says so');
is_deeply([map { my $r = $gw->route_named($_); [$r->{mode}, $r->{hold} ? 1 : 0] } qw(products categories)],
    [['canary', 0], ['canary', 0]], 'the routes stay where they were, not held');
my $after = writers(2)->();
no_failures_in($after, 'writes after the refused cutover');

my ($rc, $out) = $shop->soukctl(qw(migrate status catalog));
like($out, qr/^catalog\s+canary 30\s+cutover failed\s+catalog-team\s+\S+\s+\d+ ev [\d.]+ s\s+\S+\s+agreed/m,
    'status: catalog at canary after the refused cutover, by whom, the sync lag');
like($out, qr/catalog-team\s+catalog\s+rollback\s+done\s+\d+ ms\s+routes on legacy; writes held \d+ ms; reverse stopped/,
    '...and the log has the rollback');

done_testing;
