# 40_map_users.t - the users mapping (migrate/map/users.c) both ways against real servers:
# backfill + souk-sync carry accounts registered on the monolith (also after the backfill) to
# souk-users, where they log in with their monolith password, with the events souk-users
# itself would write; after cutover, souk-sync --reverse writes the service's accounts and
# addresses back into the monolith with skip_replication, and the forward capture skips them
# (no echo). A monolith row -> service row -> monolith row is the same row.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;

my $mono = mariadb_fresh('mapusers');
my $users = pg_fresh('users');
my $inbox = pg_fresh('reviews');    # any database with the backbone's tables: reverse's inbox
my $admin_dsn = mariadb_admin_dsn($mono->{db});
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_USERS_DB => $users->{dsn});
my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 10 --users 8 --orders 3 --reviews 5
    --carts 1 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;

sub mono  { mariadb_sql($mono->{db}, $_[0]) }
sub users { pg_sql($users->{db}, $_[0]) }
my $MY_TS = q{CONCAT(LEFT(DATE_FORMAT(%s, '%%Y-%%m-%%dT%%H:%%i:%%s.%%f'), 23), 'Z')};
my $PG_TS = q{to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')};
# The canonical rows of both sides (map_verify of users.c, written out here).
sub canon_mono {
    return [mono('SELECT id, email, password_hash, name, role, ' . sprintf($MY_TS, 'created_at')
        . ' FROM users ORDER BY id'), mono('SELECT user_id, line1, line2, city, postal_code,
        country, ' . sprintf($MY_TS, 'updated_at') . ' FROM addresses ORDER BY user_id')];
}
sub canon_users {
    return [users('SELECT id, email, password_hash, name, role, ' . sprintf($PG_TS, 'created_at')
        . ' FROM users ORDER BY id'), users('SELECT user_id, line1, line2, city, postal_code,
        country, ' . sprintf($PG_TS, 'updated_at') . ' FROM addresses ORDER BY user_id')];
}

# --- forward: backfill, then the stream from the backfill's position ------------------------
my $msvc = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn});
sub register {
    my ($svc, $email) = @_;
    my $res = http(POST => $svc->url . '/api/v1/accounts/register',
        {json => {email => $email, password => 'pass-' . $email, name => "N $email"}});
    is($res->{status}, 201, "register $email") or diag $res->{body};
    return $res->{json};
}
sub login {
    my ($svc, $email) = @_;
    return http(POST => $svc->url . '/api/v1/accounts/login',
        {json => {email => $email, password => 'pass-' . $email}});
}
sub address {
    my ($svc, $token, $city) = @_;
    my $res = http(PUT => $svc->url . '/api/v1/accounts/me/address', {json => {line1 => '1 Road',
        city => $city, postal_code => 'N1', country => 'GB'},
        headers => {Authorization => "Bearer $token"}});
    is($res->{status}, 200, "address in $city") or diag $res->{body};
}

my $before = register($msvc, 'before@map.test');    # registered before the backfill
($rc, $out, $err) = soukctl(\%env, qw(backfill users));
is($rc, 0, 'backfill users') or diag $err;
my $sync = spawn_service('sync', SOUK_SYNC_DOMAIN => 'users', %env,
    SOUK_SYNC_BINLOG_DB => $admin_dsn);    # from the backfill's snapshot (sync_position)

my @after = map { register($msvc, "after$_\@map.test") } 1 .. 3;    # while the sync runs
my $tok = login($msvc, 'after1@map.test')->{json}{token};
address($msvc, $tok, 'Leeds');
address($msvc, $tok, 'York');
ok(wait_until('the stream reached users', sub {
    (users("SELECT count(*) FROM addresses WHERE user_id = $after[0]{id} AND city = 'York'")
        ->[0][0] // 0) == 1 }, 20), 'souk-sync applied the monolith\'s writes');
is_deeply(canon_users(), canon_mono(), 'users and addresses: the same canonical rows on both sides');
is_deeply(users(q{SELECT type, aggregate_id FROM outbox WHERE type = 'user.registered'
    ORDER BY aggregate_id}), [map { ['user.registered', $_->{id}] } @after],
    'one user.registered per account registered after the backfill, as souk-users writes it');
is(users("SELECT version FROM addresses WHERE user_id = $after[0]{id}")->[0][0], 2,
    'the address version counts both writes');
is(users(q{SELECT count(*) FROM outbox WHERE type = 'user.address_changed'})->[0][0], 2,
    '... each announced by user.address_changed');

# The case from `make run`: accounts made on the monolith log in on souk-users.
my $amqp = rabbit_vhost();
my $redis = redis_start();    # souk-users keeps its v2 sessions there (its /ready needs it)
my $usvc = spawn_service('users', SOUK_USERS_DB => $users->{dsn}, SOUK_AMQP_URL => $amqp,
    SOUK_REDIS_URL => $redis->url);
for my $email ('before@map.test', 'after3@map.test', 'demo@souk.test') {
    my $pw = $email eq 'demo@souk.test' ? 'souk-demo' : undef;
    my $res = $pw ? http(POST => $usvc->url . '/api/v1/accounts/login',
        {json => {email => $email, password => $pw}}) : login($usvc, $email);
    is($res->{status}, 200, "$email (registered on the monolith) logs in on souk-users")
        or diag $res->{body};
}

# --- reverse: from cutover on, the service's writes go back into the monolith -------------
my $skipped0 = metric_value($sync->url, 'souk_sync_skipped_total') // 0;
# The monolith's own account (privileges on its database only) may set skip_replication.
my $rev = spawn_service('sync', SOUK_SYNC_DOMAIN => 'users', SOUK_SYNC_REVERSE => 1,
    SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_USERS_DB => $users->{dsn},
    SOUK_REVERSE_DB => $inbox->{dsn}, SOUK_AMQP_URL => $amqp);
my $new = register($usvc, 'new@map.test');
ok($new->{id} % 2 == 0, "an account registered on souk-users has an even id ($new->{id})");
my $utok = login($usvc, 'new@map.test')->{json}{token};
address($usvc, $utok, 'Bath');
my $otok = login($usvc, 'after2@map.test')->{json}{token};    # a monolith account, now on users
address($usvc, $otok, 'Hull');
ok(wait_until('reverse wrote back', sub {
    (mono("SELECT COUNT(*) FROM addresses WHERE city IN ('Bath', 'Hull')")->[0][0] // 0) == 2 },
    20), 'the service\'s writes reached the monolith') or diag $rev->stderr_text;
is_deeply(canon_mono(), canon_users(), 'both sides hold the same canonical rows again');
my $res = login($msvc, 'new@map.test');
is($res->{status}, 200, 'the account made on souk-users logs in on the monolith (rollback works)');
is($res->{json}{user}{id}, $new->{id}, '... with the same id');

# No echo: the monolith transactions reverse sync wrote carry skip_replication, so the
# forward stream skips them and souk-users' rows and events do not move again. (Two at
# least: one per account; a third event may find its rows written already, and a
# transaction that changes no row leaves nothing in the binlog.)
ok(wait_until('forward skipped them', sub {
    (metric_value($sync->url, 'souk_sync_skipped_total') // 0) >= $skipped0 + 2 }, 20),
    'souk-sync skipped the reverse transactions (souk_sync_skipped_total)')
    or diag join "\n", grep {/^souk_sync/} split /\n/, http(GET => $sync->url . '/metrics')->{body};
is(users("SELECT version FROM addresses WHERE user_id = $new->{id}")->[0][0], 1,
    'the address written on souk-users is still at version 1 (no echo)');
is(users(q{SELECT count(*) FROM outbox WHERE type = 'user.address_changed'})->[0][0], 4,
    'souk-users announced its two address writes, the stream added none');

# An email the monolith gave another id (registered there directly while the forward sync
# was stopped) never lets reverse sync overwrite that account: the event fails loudly.
$sync->stop;
my $mclash = register($msvc, 'clash@map.test');
my $hash = mono("SELECT password_hash FROM users WHERE id = $mclash->{id}")->[0][0];
my $uclash = register($usvc, 'clash@map.test');
isnt($uclash->{id}, $mclash->{id}, 'two accounts, two ids');
ok(wait_until('refused', sub { $rev->stderr_text =~ /aggregate $uclash->{id}\) not written back/ },
    20), 'reverse sync refuses the clashing account (logged, retried)');
is_deeply(mono("SELECT id, password_hash FROM users WHERE email = 'clash\@map.test'"),
    [[$mclash->{id}, $hash]], 'the monolith\'s account keeps its id and password');
done_testing();
