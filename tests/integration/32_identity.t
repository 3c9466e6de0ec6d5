# Identity across the migration (issue 14, migrate/map/README.md "Identity"): once a domain is
# backfilled, the monolith and the service allocate ids that can never meet (the monolith
# odd: MariaDB auto_increment_increment=2, offset=1; the service even, above everything the
# monolith had allocated at backfill: its sequence INCREMENT BY 2). The defect this
# reproduces: after `soukctl backfill users` a customer who registered on souk-users got the
# id the monolith gave its next customer (501 on `make run`), so the monolith's checkout,
# still legacy, used the other customer's cart with the first one's token.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Souk::Test;

my $mono = mariadb_fresh('ident');
my $users = pg_fresh('users');
my $cat = pg_fresh('catalog');
my $revs = pg_fresh('reviews');
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_USERS_DB => $users->{dsn},
    SOUK_CATALOG_DB => $cat->{dsn}, SOUK_REVIEWS_DB => $revs->{dsn});

my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 20 --users 12 --orders 5 --reviews 10
    --carts 1 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
sub mono1 { mariadb_sql($mono->{db}, $_[0])->[0][0] }

is_deeply(mariadb_sql(undef, 'SELECT @@GLOBAL.auto_increment_increment,
    @@GLOBAL.auto_increment_offset'), [[2, 1]],
    'the monolith\'s MariaDB allocates odd ids (start-local.sh)');

for my $t (qw(users catalog reviews)) {
    ($rc, $out, $err) = soukctl(\%env, 'backfill', $t);
    is($rc, 0, "backfill $t") or diag $err;
}

my $amqp = rabbit_vhost();
my $msvc = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn});
my $redis = redis_start();    # souk-users' v2 sessions (its /ready needs it)
my $usvc = spawn_service('users', SOUK_USERS_DB => $users->{dsn}, SOUK_AMQP_URL => $amqp,
    SOUK_OUTBOX_PAUSED => 1, SOUK_REDIS_URL => $redis->url);

sub register {
    my ($svc, $email) = @_;
    my $res = http(POST => $svc->url . '/api/v1/accounts/register',
        {json => {email => $email, password => 'correct horse', name => $email}});
    is($res->{status}, 201, "register $email") or diag $res->{body};
    $res = http(POST => $svc->url . '/api/v1/accounts/login',
        {json => {email => $email, password => 'correct horse'}});
    return {id => $res->{json}{user}{id}, token => $res->{json}{token}, email => $email};
}

# --- the case from `make run`: one customer on each side right after the backfill ---------
my $u = register($usvc, 'una@ident.test');
my $m = register($msvc, 'mo@ident.test');
isnt($u->{id}, $m->{id}, "the users service ($u->{id}) and the monolith ($m->{id}) gave "
    . 'different ids');
ok($u->{id} % 2 == 0, 'the service allocates even ids');
ok($m->{id} % 2 == 1, 'the monolith allocates odd ids');
ok($u->{id} > mono1('SELECT MAX(id) FROM users'), '... above everything the monolith had');

# The monolith's checkout is still legacy: Mo fills a cart there; Una's token (a users-service
# id the monolith has not heard of) must not reach it.
my $pid = mono1('SELECT MIN(p.id) FROM products p JOIN inventory i ON i.product_id = p.id
    WHERE i.stock > 5');
my $res = http(POST => $msvc->url . '/api/v1/cart/items', {json => {product_id => $pid + 0,
    quantity => 2}, headers => {Authorization => "Bearer $m->{token}"}});
is($res->{status}, 200, 'Mo adds to the monolith cart') or diag $res->{body};
$res = http(GET => $msvc->url . '/api/v1/cart', {headers => {Authorization => "Bearer $u->{token}"}});
ok(!($res->{status} == 200 && @{$res->{json}{items} // []}),
    "Una's token does not show Mo's cart on the monolith ($res->{status})");
$res = http(POST => $msvc->url . '/api/v1/orders', {json => {},
    headers => {Authorization => "Bearer $u->{token}", 'Idempotency-Key' => 'ident-1'}});
isnt($res->{status}, 201, "Una's token does not check out Mo's cart on the monolith")
    or diag $res->{body};
is(mono1("SELECT COUNT(*) FROM cart_items ci JOIN carts c ON c.id = ci.cart_id
    WHERE c.user_id = $m->{id}"), 1, "Mo's cart is untouched");
$res = http(GET => $usvc->url . '/api/v1/accounts/me', {headers => {Authorization =>
    "Bearer $m->{token}"}});
ok(!($res->{status} == 200 && $res->{json}{email} eq $u->{email}),
    "Mo's token is not Una on the users service ($res->{status})");

# --- many registrations, interleaved: never one id twice --------------------------------
my %seen = ($u->{id} => 1, $m->{id} => 1);
my $dups = 0;
for my $i (1 .. 6) {
    for my $s ([u => $usvc], [m => $msvc]) {
        my $r = register($s->[1], "$s->[0]$i\@ident.test");
        $dups++ if $seen{$r->{id}}++;
    }
}
is($dups, 0, 'twelve more registrations on both sides: no id given twice');

# --- the same holds for catalog and reviews ids (sequences moved at backfill) -----------
for my $c ([$cat, 'products'], [$cat, 'categories'], [$revs, 'reviews']) {
    my ($db, $t) = @$c;
    my $seq = pg_sql($db->{db}, "SELECT pg_get_serial_sequence('$t', 'id')")->[0][0];
    my $next = pg_sql($db->{db}, "SELECT nextval('$seq')")->[0][0];
    ok($next % 2 == 0 && $next > mono1("SELECT MAX(id) FROM $t"),
        "$t: the service's next id ($next) is even and above the monolith's");
}

# A repeated backfill keeps the scheme (and moves the service further up, never down).
($rc, $out, $err) = soukctl(\%env, qw(backfill users));
is($rc, 0, 'backfill users again') or diag $err;
my $again = register($usvc, 'again@ident.test');
ok($again->{id} % 2 == 0 && !$seen{$again->{id}}, "and the next service id ($again->{id}) is "
    . 'still even and new');

# A shop filled before the scheme existed (the old backfill: step 1, at the largest id): the
# next `make run` (backfill --if-empty, nothing to copy) still moves it to even ids.
pg_sql($users->{db}, "ALTER SEQUENCE users_id_seq INCREMENT BY 1;
    SELECT setval('users_id_seq', (SELECT max(id) FROM users))");
($rc, $out, $err) = soukctl(\%env, qw(backfill users --if-empty));
is($rc, 0, 'backfill users --if-empty on a filled service') or diag $err;
like($out, qr/already has users; nothing to do/, '... copies nothing');
my $late = register($usvc, 'late@ident.test');
ok($late->{id} % 2 == 0 && !$seen{$late->{id}}, "... but the next service id ($late->{id}) is "
    . 'even and new again');

done_testing();
