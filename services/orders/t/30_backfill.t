# soukctl backfill orders: the monolith's orders (with lines and payment), product prices and
# customers' addresses become souk-orders' orders and replicas with the same ids; then
# souk-orders answers the monolith's v1 orders exactly as the monolith does; --if-empty and a
# repeat change nothing; history's backfill runs beside a live consumer's rows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../../tests/lib";
use Test::More;
use Souk::Test;

my $mono = mariadb_fresh('backfill_orders');
my $odb = pg_fresh('orders');
my $hdb = pg_fresh('history');
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_ORDERS_DB => $odb->{dsn},
    SOUK_HISTORY_DB => $hdb->{dsn});
my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 40 --users 8 --orders 30 --reviews 0
    --carts 0 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
sub mono1 { mariadb_sql($mono->{db}, $_[0])->[0][0] }
sub osql { pg_sql($odb->{db}, $_[0]) }
sub osql1 { osql($_[0])->[0][0] }

($rc, $out, $err) = soukctl(\%env, qw(backfill orders --batch 7));
is($rc, 0, 'backfill orders exits 0') or diag $err;
like($out, qr/^backfilled /m, 'and says what it did');
is(osql1('SELECT count(*) FROM orders'), mono1('SELECT COUNT(*) FROM orders'), 'every order');
is(osql1('SELECT count(*) FROM order_items'), mono1('SELECT COUNT(*) FROM order_items'),
    'every line (pages of 7 orders never split an order)');
is(osql1('SELECT count(*) FROM products_replica WHERE version = 1'),
    mono1('SELECT COUNT(*) FROM products'), 'every product price, at version 1');
is(osql1('SELECT count(*) FROM customers_replica'), mono1('SELECT COUNT(*) FROM users'),
    'every customer');
is(osql1('SELECT count(*) FROM customers_replica WHERE line1 IS NOT NULL AND address_version = 1'),
    mono1('SELECT COUNT(*) FROM addresses'), 'their addresses, at version 1');
is(osql1('SELECT sum(total_minor) FROM audit_orders'), mono1('SELECT SUM(total_minor) FROM orders'),
    'audit_orders: the same money');
is(osql1('SELECT count(*) FROM outbox'), 0, 'no events written');
is(osql1("SELECT count(DISTINCT order_id) FROM order_log WHERE type = 'order.created'"),
    mono1('SELECT COUNT(*) FROM orders'), "every order's events in the retained log (not published)");
like($err, qr/backfill history: \d+ of \d+ orders, \d+ rows\/s/, 'history: progress shown');
is(pg_sql($hdb->{db}, 'SELECT count(*) FROM order_rows WHERE v1')->[0][0],
    mono1('SELECT COUNT(*) FROM orders'), 'history: every order, a v1 order');
# "my orders" reads a customer's rows newest first: the backfill writes them in that order, so
# they share adjacent pages (in table order, user_id never goes down, created_at never up)
is(pg_sql($hdb->{db}, 'SELECT count(*) FROM (SELECT user_id, created_at, lag(user_id) OVER w AS pu,'
    . ' lag(created_at) OVER w AS pc FROM order_rows WINDOW w AS (ORDER BY ctid)) r'
    . ' WHERE pu > user_id OR (pu = user_id AND pc < created_at)')->[0][0], 0,
    "history: rows stored by customer, newest first");
# The identity scheme (migrate/map/README.md): the service's next id is even, steps by 2 and is
# above every id the monolith allocated or reserved (its rows and its auto-increment counter).
my $seq = osql1("SELECT pg_get_serial_sequence('orders', 'id')");
my ($next, $step) = @{osql("SELECT CASE WHEN s.is_called THEN s.last_value + p.seqincrement "
    . "ELSE s.last_value END, p.seqincrement FROM $seq s, pg_sequence p "
    . "WHERE p.seqrelid = '$seq'::regclass")->[0]};
my $floor = mono1(q{SELECT GREATEST(MAX(id), (SELECT AUTO_INCREMENT - 1 FROM
    information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders'))
    FROM orders});
ok($next % 2 == 0 && $step == 2 && $next > $floor,
    "the id sequence: next id $next even, step $step, above the monolith's $floor");

my $before = osql('SELECT id, status, total_minor FROM orders ORDER BY id');
($rc, $out, $err) = soukctl(\%env, qw(backfill orders --if-empty));
is($rc, 0, '--if-empty exits 0') or diag $err;
like($out . $err, qr/already has orders/, '--if-empty: nothing to do');
like($out, qr/history already has orders/, '--if-empty: history has them too');
($rc, $out, $err) = soukctl(\%env, qw(backfill orders));
is($rc, 0, 'a repeat exits 0') or diag $err;
is_deeply(osql('SELECT id, status, total_minor FROM orders ORDER BY id'), $before,
    'a repeat changes nothing');

# Each user's v1 orders, and every order, against the monolith's own answers.
my $m = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn});
my $o = fresh_service('orders', SOUK_ORDERS_DB => $odb->{dsn});
my $h = spawn_service('history', SOUK_HISTORY_DB => $hdb->{dsn}, SOUK_AMQP_URL => $o->{amqp});
my $admin = jwt_mint(sub => '1', role => 'admin', iat => time - 5);
my $users = mariadb_sql($mono->{db}, 'SELECT DISTINCT user_id FROM orders ORDER BY user_id');
my $ids = mariadb_sql($mono->{db}, 'SELECT id FROM orders ORDER BY id');
# $svc's v1 answers (lists and every order) against the monolith's, byte for byte
sub as_monolith {
    my ($svc, $what) = @_;
    my ($same, $n) = (0, 0);
    for my $u (map { $_->[0] } @$users) {
        my $tok = jwt_mint(sub => "$u", role => 'customer', iat => time - 5);
        for my $q ('', '?limit=3&page=2') {
            my @r = map { http(GET => $_->url . "/api/v1/orders$q",
                {headers => {Authorization => "Bearer $tok"}}) } $m, $svc;
            $n++;
            $same++ if $r[0]{status} == 200 && $r[0]{body} eq $r[1]{body};
            diag "$what: user $u $q:\n$r[0]{body}\n$r[1]{body}" if $r[0]{body} ne $r[1]{body};
        }
    }
    is($same, $n, "$what: v1 order lists byte for byte as the monolith ($n pages)");
    my $diff = grep {
        my $id = $_->[0];
        my @r = map { http(GET => $_->url . "/api/v1/orders/$id",
            {headers => {Authorization => "Bearer $admin"}})->{body} } $m, $svc;
        $r[0] ne $r[1];
    } @$ids;
    is($diff, 0, "$what: every v1 order as the monolith (" . scalar(@$ids) . ' orders)');
}
as_monolith($o, 'orders');
as_monolith($h, 'history (backfilled)');
# the same rows again by replaying orders' retained log: backfill and replay agree
($rc, $out, $err) = soukctl({SOUK_ORDERS_URL => $o->url, SOUK_HISTORY_URL => $h->url},
    qw(history rebuild));
is($rc, 0, 'soukctl history rebuild from the backfilled log') or diag $err;
as_monolith($h, 'history (rebuilt from the log)');
ok(mono1("SELECT COUNT(*) FROM orders WHERE status <> 'CONFIRMED'") > 0,
    'the seed has orders in other states too (shown by both)');

# A history whose live consumer got there first (a row of its own, one order id the backfill
# also copies) still gets the monolith's orders, and keeps the consumer's row; an order of the
# new service's (one whose order.created in orders' log is not marked backfilled) is not
# legacy: its payment is what its events say, as the consumer and a rebuild would have it.
my $h2 = pg_fresh('history');
my ($x, $y) = @{mariadb_sql($mono->{db},
    "SELECT MIN(id), MAX(id) FROM orders WHERE status = 'CONFIRMED'")->[0]};
pg_sql($h2->{db}, "INSERT INTO order_rows (id, user_id, status, created, v1_json)"
    . " VALUES ($x, 1, 'PENDING', true, 'live')");
osql("UPDATE order_log SET envelope = jsonb_set(envelope, '{payload,backfilled}', 'false')"
    . " WHERE order_id = $y AND type = 'order.created'");
osql("UPDATE orders SET payment_status = NULL WHERE id = $y");
($rc, $out, $err) = soukctl({%env, SOUK_HISTORY_DB => $h2->{dsn}}, qw(backfill orders));
is($rc, 0, 'backfill into a history with a live row exits 0') or diag $err;
is(pg_sql($h2->{db}, 'SELECT count(*) FROM order_rows WHERE legacy')->[0][0],
    mono1('SELECT COUNT(*) FROM orders') - 2, "the monolith's orders are in, as legacy");
is(pg_sql($h2->{db}, "SELECT v1_json FROM order_rows WHERE id = $x")->[0][0], 'live',
    "the consumer's row is kept");
is_deeply(pg_sql($h2->{db}, "SELECT legacy, payment FROM order_rows WHERE id = $y")->[0],
    ['f', 'APPROVED'], "the new service's order is not legacy; its payment from its events");

# orders' feed bounds a page by bytes too (8 MiB), so history's replay takes any page: three
# 3 MiB events come two to a page although the limit allows ten
my $seq0 = osql1('SELECT max(seq) FROM order_log');
osql("INSERT INTO order_log (event_id, type, order_id, envelope) SELECT gen_random_uuid(),"
    . " 'order.confirmed', $y, jsonb_build_object('pad', repeat('x', 3 << 20))"
    . " FROM generate_series(1, 3)");
my $f = http(GET => $o->url . "/api/v2/admin/order-events?after=$seq0&limit=10",
    {headers => {Authorization => "Bearer $admin"}});
is_deeply([$f->{status}, scalar @{$f->{json}{events}}, $f->{json}{next_after}],
    [200, 2, $seq0 + 2], 'a feed page stops before 8 MiB of events');
done_testing;
