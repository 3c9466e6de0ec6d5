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
use Test::More;
use Souk::Test;
use Souk::Gateway;
use Souk::Playbook;

my $shop = Souk::Playbook->start('users', name => 'migusers', user => 'accounts-team', redis => 1,
    seed => [qw(--products 10 --users 20 --orders 5 --reviews 5 --carts 1)],
    routes => [route(name => 'accounts', path => '/api/v1/accounts', legacy => 'monolith',
        new => 'users', hold_ms => 10000)]);
my ($mono, $users, $gw) = @$shop{qw(mono service gw)};

# ---- the load: new customers, one registration each ----------------------------------------------

my $n = 0;
# writers($count, $through): $count registrations; with $through more until the step ends.
my $calls = 0;
sub writers {
    my ($count, $through) = @_;
    my @mine = map { 'load' . ++$n . '@migrate.test' } 1 .. $count;
    my $call = ++$calls;
    my $more = $through ? sub { my ($w, $k) = @_; "more$call-$w-$k\@migrate.test" } : undef;
    return load(2, \@mine, 0.02, sub {
        my ($ua, $email) = @_;
        return $ua->request('POST', $gw->url . '/api/v1/accounts/register',
            {headers => {'Content-Type' => 'application/json'},
                content => qq({"email":"$email","password":"pass-$email","name":"N $email"})});
    }, $more);
}
sub has_all {
    my ($side, $answers, $what) = @_;
    my $rows = $side eq 'monolith' ? mariadb_sql($mono->{db}, 'SELECT id FROM users')
        : pg_sql($users->{db}{db}, 'SELECT id FROM users');
    my %have = map { ($_->[0] => 1) } @$rows;
    my @lost = grep { !$have{$_} } @{acked_ids($answers)};
    is_deeply(\@lost, [], "$what: every acknowledged account is on the $side");
}

my ($load1, $load2) = $shop->walk(writers => \&writers, load => [16, 20], canary => 20,
    what => 'registrations', through => 1);
has_all('users service', [@$load1, @$load2], 'after the cutover');

# Everyone who registered before the switch (seeded or under load) logs in on the service.
my @bad;
for my $e ('admin@souk.test', map { $_->[3] } grep { $_->[0] =~ /^2/ } @$load1, @$load2) {
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

$shop->roll_back(writers => \&writers, load => 10, what => 'registrations', through => 1, settled => sub {
    my ($load4) = @_;
    my $all = [@$load1, @$load2, @$load3, @$load4];
    has_all('monolith', $all, 'after the rollback');
    has_all('users service', $all, 'after the rollback');
});

done_testing;
