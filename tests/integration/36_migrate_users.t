# soukctl migrate users, end to end like 34 (reviews) and 35 (catalog): customers register
# through the gateway while the playbook runs. backfill + sync + verify agree under that
# load; the cutover under load fails no registration and loses none; every customer
# registered before the switch logs in on souk-users afterwards (the issue's "200 customers
# could not log in"); accounts registered on the service reach the monolith with ids the
# monolith never gives (reverse sync); a rollback under load loses no account on either side.
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
my $mono = mariadb_fresh('migusers');
my $users = fresh_service('users', SOUK_JWT_SECRET => $SECRET);
my $state = pg_fresh('migrate');
my $var = File::Temp->newdir('souk-migusers-XXXXXX', TMPDIR => 1);
END { stop_supervisors("$var") if $var }
my $admin_dsn = "mysql://souk_admin:" . ($ENV{SOUK_MARIADB_ADMIN_PASSWORD} // 'souk-dev')
    . "\@127.0.0.1:$mono->{port}/$mono->{db}";

my ($rc, $out, $err) = soukctl({SOUK_MONOLITH_DB => $mono->{dsn}},
    qw(seed --products 10 --users 20 --orders 5 --reviews 5 --carts 1 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
my $m = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_JWT_SECRET => $SECRET);
my $gw = Souk::Gateway->start(routes => table(
    upstreams => {monolith => pool("127.0.0.1:" . $m->port), users => pool("127.0.0.1:" . $users->port)},
    routes => [
        route(name => 'accounts', path => '/api/v1/accounts', legacy => 'monolith', new => 'users',
            hold_ms => 10000),
        route(name => 'catch_all', path => '/', legacy => 'monolith'),
    ]));
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_USERS_DB => $users->{db}{dsn},
    SOUK_MIGRATE_DB => $state->{dsn}, SOUK_SYNC_BINLOG_DB => $admin_dsn, SOUK_VAR_DIR => "$var",
    SOUK_SYNC_USERS_LISTEN => '127.0.0.1:' . free_port(),
    SOUK_REVERSE_USERS_LISTEN => '127.0.0.1:' . free_port(),
    SOUK_GATEWAY_ADMIN_LISTEN => '127.0.0.1:' . $gw->admin_port,
    SOUK_GATEWAY_ADMIN_TOKEN => $Souk::Gateway::ADMIN_TOKEN, USER => 'accounts-team',
    SOUK_LOG_LEVEL => 'warn', SOUK_REVERSE_DB => $state->{dsn}, SOUK_AMQP_URL => $users->{amqp});
sub migrate {
    my @r = soukctl(\%env, 'migrate', 'users', @_);
    diag($r[1] . $r[2] . logs_tail("$var")) if $r[0];
    @r;
}
sub lag { Souk::Playbook::sync_lag($env{SOUK_SYNC_USERS_LISTEN}) }
sub caught_up { ok(wait_until(sub { my $l = lag(); defined $l && $l == 0 }, 20), $_[0]) }

# ---- the load: new customers, one registration each ----------------------------------------------

my $n = 0;
my @emails;
sub writers {
    my ($count) = @_;
    my @mine = map { 'load' . ++$n . '@migrate.test' } 1 .. $count;
    push @emails, @mine;
    return load(2, \@mine, 0.02, sub {
        my ($ua, $email) = @_;
        return $ua->request('POST', $gw->url . '/api/v1/accounts/register',
            {headers => {'Content-Type' => 'application/json'},
                content => qq({"email":"$email","password":"pass-$email","name":"N $email"})});
    });
}
sub has_all {
    my ($side, $answers, $what) = @_;
    my $rows = $side eq 'monolith' ? mariadb_sql($mono->{db}, 'SELECT id FROM users')
        : pg_sql($users->{db}{db}, 'SELECT id FROM users');
    my %have = map { ($_->[0] => 1) } @$rows;
    my @lost = grep { !$have{$_} } @{acked_ids($answers)};
    is_deeply(\@lost, [], "$what: every acknowledged account is on the $side");
}

my $wait = writers(16);
($rc) = migrate('backfill');
is($rc, 0, 'backfill users while customers register');
($rc) = migrate('sync');
is($rc, 0, 'sync');
my $load1 = $wait->();
no_failures_in($load1, 'registrations during backfill and sync');
caught_up('the sync catches up');
($rc, $out) = migrate('verify');
is($rc, 0, 'verify: both sides agree') or diag $out;
($rc) = migrate('shadow');
is($rc, 0, 'shadow');
($rc) = migrate('canary', 20);
is($rc, 0, 'canary 20');

$wait = writers(20);
sleep 0.2;
($rc, $out) = migrate('cutover');
is($rc, 0, 'cutover under load');
my ($held) = $out =~ /writes held (\d+) ms/;
ok(defined $held && $held < 5000, 'writes were held ' . ($held // '?') . ' ms');
my $load2 = $wait->();
no_failures_in($load2, 'registrations during the cutover');
is($gw->route_named('accounts')->{mode}, 'new', 'accounts on new');
caught_up('the sync drained what the monolith took before the fence');
has_all('users service', [@$load1, @$load2], 'after the cutover');

# Everyone who registered before the switch (seeded or under load) logs in on the service.
my @bad;
for my $e ('admin@souk.test', @emails) {
    my $pw = $e eq 'admin@souk.test' ? 'souk-demo' : "pass-$e";
    my $r = http(POST => $gw->url . '/api/v1/accounts/login', {json => {email => $e, password => $pw}});
    push @bad, "$e: $r->{status}" unless $r->{status} == 200 && ($r->{headers}{'x-fake'} // 'users') ne 'monolith';
}
is_deeply(\@bad, [], 'every account registered before the switch logs in through the gateway (now souk-users)');

my $load3 = writers(6)->();
no_failures_in($load3, 'registrations after the cutover (on the service)');
my @ids = @{acked_ids($load3)};
is(scalar(grep { $_ % 2 } @ids), 0, 'the service gives even ids');
ok(wait_until(sub { mariadb_sql($mono->{db}, 'SELECT COUNT(*) FROM users WHERE id IN (' . join(',', @ids) . ')')->[0][0] == @ids }, 20),
    'the reverse sync wrote them into the monolith');

$wait = writers(10);
sleep 0.2;
($rc) = migrate('rollback');
is($rc, 0, 'rollback under load');
my $load4 = $wait->();
no_failures_in($load4, 'registrations during the rollback');
is($gw->route_named('accounts')->{mode}, 'legacy', 'accounts back on the monolith');
caught_up('the forward sync catches up');
my $all = [@$load1, @$load2, @$load3, @$load4];
has_all('monolith', $all, 'after the rollback');
has_all('users service', $all, 'after the rollback');
($rc, $out) = migrate('verify');
is($rc, 0, 'verify: both sides agree after the rollback') or diag $out;

done_testing;
