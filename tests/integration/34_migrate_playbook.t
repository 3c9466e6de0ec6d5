# soukctl migrate reviews, end to end against real processes: a monolith, souk-reviews, the
# gateway in front of both, souk-sync started by the playbook under scripts/supervise.sh.
# While a bounded write load (new reviews through the gateway) runs, backfill + sync + verify
# reach equality; shadow and canary switch the route; the cutover, under the same kind of
# load, holds the writes at the gateway, writes its marker, waits for the sync to apply it,
# verifies and flips the route with the release: no client request fails, every
# acknowledged review is in the service, the hold time is reported.
# After the cutover the service's writes reach the monolith through the reverse sync; a
# rollback under load moves the route back without losing a write on either side; a second
# cutover and finish end it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use File::Temp ();
use POSIX ();
use Time::HiRes qw(time sleep);
use Souk::Test;
use Souk::Gateway;
use Souk::Playbook;

my $shop = Souk::Playbook->start('reviews', name => 'migplay', user => 'playbook',
    seed => [qw(--products 40 --users 30 --orders 5 --reviews 60 --carts 1)],
    routes => [route(name => 'reviews', path => '/api/v1/products/{id}/reviews', legacy => 'monolith',
        new => 'reviews', hold_ms => 10000)]);
my ($mono, $rev, $gw, $SECRET, $var) = @$shop{qw(mono service gw secret var)};
sub migrate { $shop->migrate(@_) }
sub sync_lag { $shop->lag }
my $reverse = $shop->reverse_listen;
my ($rc, $out, $err);

# ---- the write load --------------------------------------------------------------------------

# (user, product) pairs nobody has reviewed yet: one review each, so every write must succeed.
my %seen = map { ("$_->[0]/$_->[1]" => 1) } @{mariadb_sql($mono->{db}, 'SELECT user_id, product_id FROM reviews')};
my @users = map { $_->[0] } @{mariadb_sql($mono->{db}, "SELECT id FROM users WHERE role = 'customer' ORDER BY id")};
my @products = map { $_->[0] } @{mariadb_sql($mono->{db}, 'SELECT id FROM products ORDER BY id')};
my @pairs = grep { !$seen{"$_->[0]/$_->[1]"} } map { my $u = $_; map { [$u, $_] } @products } @users;

# writers($n, $each, $pause, $through): $n processes posting $each new reviews each through the
# gateway; with $through they go on, each with its own share of the pairs left, until the step
# the test runs ends (Souk::Playbook::load's $more), and what they sent leaves @pairs.
sub writers {
    my ($n, $each, $pause, $through) = @_;
    my @mine = splice(@pairs, 0, $n * $each);
    die "not enough review pairs\n" if @mine < $n * $each;
    my $more = $through ? sub { my ($w, $k) = @_; $pairs[($k - 1) * $n + $w] } : undef;
    my $wait = load($n, \@mine, $pause, sub {
        my ($ua, $p) = @_;
        my $tok = Souk::Test::jwt_mint(sub => "$p->[0]", role => 'customer', iat => int(time) - 5,
            secret => $SECRET);
        return $ua->request('POST', $gw->url . "/api/v1/products/$p->[1]/reviews",
            {headers => {Authorization => "Bearer $tok", 'Content-Type' => 'application/json'},
                content => qq({"rating":4,"title":"load","body":"u$p->[0] p$p->[1]"})});
    }, $more);
    return $wait unless $through;
    return sub {
        my $answers = $wait->();
        my %sent = map { ("$_->[3][0]/$_->[3][1]" => 1) } @$answers;
        @pairs = grep { !$sent{"$_->[0]/$_->[1]"} } @pairs;
        return $answers;
    };
}

sub service_has {
    my ($answers, $what) = @_;
    my @ids = @{acked_ids($answers)};
    my %have = map { ($_->[0] => 1) } @{pg_sql($rev->{db}{db}, 'SELECT id FROM reviews')};
    my @lost = grep { !$have{$_} } @ids;
    is_deeply(\@lost, [], "$what: all " . scalar(@ids) . ' acknowledged reviews are in the service');
}

# ---- backfill + sync + verify under load ------------------------------------------------------

my $wait = writers(2, 20, 0.03);
($rc, $out) = migrate('backfill');
is($rc, 0, 'backfill while reviews are being written');
($rc, $out) = migrate('sync');
is($rc, 0, 'sync: souk-sync started under supervise.sh');
like($out, qr/sync started on 127\.0\.0\.1:\d+/, '...on the address given');
ok(-s "$var/run/super-sync-reviews.pid", '...with its supervisor pid file in SOUK_VAR_DIR/run');
my $load1 = $wait->();
no_failures_in($load1, 'load during backfill and sync');
$shop->caught_up('the sync catches up (lag 0)');
service_has($load1, 'after the sync caught up');
($rc, $out) = migrate('verify');
is($rc, 0, 'verify: both sides agree after backfill + sync under load') or diag $out;
like($out, qr/^verify reviews reviews: (\d+) rows on the monolith, \1 on the service; .* 0 keys still differ/m,
    '...the same number of reviews on both sides');

# A sync that lags longer than verify's re-reading of the keys that differ: the re-read is
# fenced (a marker the sync must apply first), not timed. souk-sync is stopped (SIGSTOP) while
# a review changes on the monolith and verify starts, and woken 2.5 s later: verify waits for
# it and agrees (with 5 re-reads 200 ms apart it reported the review as differing).
{
    my $pid = do { open my $fh, '<', "$var/run/app-sync-reviews.pid" or die "sync pid: $!"; <$fh> + 0 };
    ok($pid > 0 && kill('STOP', $pid), "souk-sync ($pid) stopped");
    mariadb_sql($mono->{db}, "UPDATE reviews SET body = CONCAT(body, ' (edited)') ORDER BY id LIMIT 1");
    my $res = File::Temp->new;
    my $child = fork // die "fork: $!";
    if (!$child) {
        my @r = migrate('verify');
        open my $fh, '>', $res->filename or POSIX::_exit(1);
        print $fh "$r[0]\n$r[1]";
        close $fh;
        POSIX::_exit(0);
    }
    Time::HiRes::sleep(2.5);
    kill 'CONT', $pid;
    waitpid $child, 0;
    my ($vrc, $vout) = do { open my $fh, '<', $res->filename or die; local $/; split /\n/, <$fh> // '', 2 };
    is($vrc, 0, 'verify while the sync lags 2.5 s behind a change: it waits for the sync, both sides agree')
        or diag $vout;
    like($vout // '', qr/^verify reviews reviews: .* 0 keys still differ/m, '...no key reported');
}

# ---- shadow, canary ---------------------------------------------------------------------------

($rc) = migrate('shadow');
is($rc, 0, 'shadow');
is($gw->route_named('reviews')->{mode}, 'shadow', '...the gateway route is in shadow');
($rc) = migrate('canary', 50);
is($rc, 0, 'canary 50');
my $route = $gw->route_named('reviews');
is_deeply([$route->{mode}, $route->{canary_percent}], ['canary', 50], '...canary at 50 %');

# ---- cutover under load -------------------------------------------------------------------------

sub monolith_has {
    my ($answers, $what) = @_;
    my @ids = @{acked_ids($answers)};
    my %have = map { ($_->[0] => 1) } @{mariadb_sql($mono->{db}, 'SELECT id FROM reviews')};
    my @lost = grep { !$have{$_} } @ids;
    is_deeply(\@lost, [], "$what: all " . scalar(@ids) . ' acknowledged reviews are in the monolith');
}

my ($load2, $t0, $t1);
($load2, $rc, $out, $err, $t0, $t1) = $shop->under_load(sub { writers(2, 30, 0.02, 1) }, 'cutover');
is($rc, 0, 'cutover under load') or diag $err;
loaded_during($load2, $t0, $t1, 'cutover');
my ($held) = $out =~ /writes held (\d+) ms/;
ok(defined $held, "the hold time is reported ($out)");
ok(defined $held && $held < 5000, "...and writes were held for less than 5 s (" . ($held // '?') . ' ms)');
no_failures_in($load2, 'load during the cutover');
$shop->routes_are('new', 'after the cutover');
$shop->caught_up('the sync drained what the monolith took before the fence');
service_has([@$load1, @$load2], 'after the cutover');
is(pg_sql($rev->{db}{db}, 'SELECT count(*) FROM reviews')->[0][0], 60 + @$load1 + @$load2,
    'the service has the seed, the first load and the second, once each');
like($gw->admin(GET => '/events')->{body}, qr/"type":"hold_end"[^}]*route reviews/, 'the gateway logged the hold');

# Writes after the cutover go to the service; the reverse sync brings them into the monolith.
my $load3 = writers(2, 10, 0.02)->();
no_failures_in($load3, 'load after the cutover');
my @new_ids = map { $_->[1] } @$load3;
is(scalar(grep { $_ % 2 } @new_ids), 0, 'the service allocated even ids (the monolith allocates odd ones)');
ok(wait_until(sub { mariadb_sql($mono->{db}, 'SELECT COUNT(*) FROM reviews WHERE id IN (' . join(',', @new_ids) . ')')->[0][0] == @new_ids }, 20),
    'the reverse sync wrote every review made on the service into the monolith');
monolith_has([@$load1, @$load2, @$load3], 'after the reverse sync');

($rc, $out) = $shop->soukctl(qw(migrate status reviews));
is($rc, 0, 'status');
like($out, qr/^reviews\s+cutover\s+cutover done\s+playbook\s+\S+\s+\d+ ev [\d.]+ s\s+up\s+agreed \S+\s+\d+ ms$/m,
    'status: cutover done by playbook, the sync lag, reverse sync up, the last verify, the hold time');
like($out, qr/playbook\s+reviews\s+cutover\s+done\s+\d+ ms\s+reviews: \d+\/\d+ rows, 0 differ; .*full verify \d+ ms before the hold; reverse started on \S+; marker \S+ applied after \d+ ms; reviews: \d+ changed, 0 differ; ratings: \d+ changed, 0 differ; user names: \d+ changed, 0 differ; held verify \d+ ms; routes on new; writes held \d+ ms/,
    'the log says what the cutover did: the full verify before the hold, the changed keys under it');

# ---- rollback after the cutover, under load --------------------------------------------------------

my $load4;
($load4, $rc, $out, $err, $t0, $t1) = $shop->under_load(sub { writers(2, 20, 0.02, 1) }, 'rollback');
is($rc, 0, 'rollback after the cutover, under load') or diag $err;
loaded_during($load4, $t0, $t1, 'rollback');
like($out, qr/routes on legacy; writes held \d+ ms/, '...reports the hold');
no_failures_in($load4, 'load during the rollback');
$shop->routes_are('legacy', 'after the rollback');
$shop->caught_up('the forward sync runs and catches up');
my $all = [@$load1, @$load2, @$load3, @$load4];
monolith_has($all, 'after the rollback');
service_has($all, 'after the rollback');
($rc, $out) = migrate('verify');
is($rc, 0, 'verify: both sides agree after the rollback') or diag $out;
ok(!http(GET => "http://$reverse/health")->{status}
    || http(GET => "http://$reverse/health")->{status} != 200, 'the reverse sync is stopped');

# ---- again, then finish --------------------------------------------------------------------------

($rc) = migrate('shadow');
is($rc, 0, 'shadow again');
($rc) = migrate('canary', 100);
is($rc, 0, 'canary 100');
($rc) = migrate('cutover');
is($rc, 0, 'cutover again');
$shop->routes_are('new', 'after the second cutover');
my $super = do { open my $f, '<', "$var/run/super-sync-reviews.pid" or die "no pid file: $!"; local $/; <$f> };
chomp $super;
($rc) = migrate('finish');
is($rc, 0, 'finish');
ok(wait_until(sub { !running($super) && !defined sync_lag() }, 15),
    'finish stopped the forward sync (its supervisor and /metrics are gone)')
    or diag("supervisor $super running: " . running($super) . '; lag: ' . (sync_lag() // 'none'));
ok(!-e "$var/run/super-sync-reviews.pid", '...and its pid file');
is(http(GET => "http://$reverse/health")->{status}, 200, '...the reverse sync stays');

done_testing;
