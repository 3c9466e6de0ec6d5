# soukctl backfill orders also fills reporting (SOUK_REPORTING_DB set): every monolith order
# as a fact with its lines and categories, the tallies and views recomputed from them; then
# souk-reporting answers the v1 sales report byte for byte as the monolith computes it (the
# gateway's shadow comparison in small), for several ranges; --if-empty and a repeat change
# nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../../tests/lib";
use Test::More;
use Souk::Test;

my $SECRET = 'reporting-test-secret-0123456789abcdef';
my $mono = mariadb_fresh('backfill_reporting');
my $odb = pg_fresh('orders');
my $rdb = pg_fresh('reporting');
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_ORDERS_DB => $odb->{dsn},
    SOUK_REPORTING_DB => $rdb->{dsn});
my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 40 --users 20 --orders 400 --reviews 0
    --carts 0 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
sub mono1 { mariadb_sql($mono->{db}, $_[0])->[0][0] }
sub rsql1 { pg_sql($rdb->{db}, $_[0])->[0][0] }

($rc, $out, $err) = soukctl(\%env, qw(backfill orders));
is($rc, 0, 'backfill orders exits 0') or diag $err;
like($out, qr/^backfilled \d+ order facts \(\d+ counted\), \d+ lines, \d+ products into reporting/m,
    'and says what it did for reporting');
like($err, qr/^backfill: reporting facts\s+\d+\/\d+/m, 'with progress on stderr');
is(rsql1('SELECT count(*) FROM facts'), mono1('SELECT COUNT(*) FROM orders'), 'a fact per order');
is(rsql1('SELECT count(*) FROM fact_lines'), mono1('SELECT COUNT(*) FROM order_items'),
    'a fact line per order line');
is(rsql1('SELECT count(*) FROM facts WHERE counted'),
    mono1("SELECT COUNT(*) FROM orders WHERE status = 'CONFIRMED'"), 'the confirmed ones count');
is(rsql1("SELECT count(*) FROM fact_lines WHERE category = ''"), 0, 'every line has a category');
is(rsql1('SELECT count(*) FROM products_replica'), mono1('SELECT COUNT(*) FROM products'),
    'the category replica');

my $admin = jwt_mint(sub => '1', role => 'admin', iat => time - 5, secret => $SECRET);
my $m = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_JWT_SECRET => $SECRET);
my $r = fresh_service('reporting', SOUK_REPORTING_DB => $rdb->{dsn}, SOUK_JWT_SECRET => $SECRET);
sub report {
    my ($svc, $q) = @_;
    my $res = http(GET => $svc->url . "/api/v1/reports/sales$q",
        {headers => {Authorization => "Bearer $admin"}});
    return "$res->{status} $res->{body}";
}
my @ranges = ('', '?from=2024-07-01&to=2025-03-15', '?from=2025-01-31&to=2025-01-31',
    '?from=2024-02-29&to=2024-12-01', '?to=2024-12-31', '?from=2025-05-01');
for my $q (@ranges) {
    is(report($r, $q), report($m, $q), "v1 $q: the monolith's answer, byte for byte");
}
like(report($r, ''), qr/"months":\[\{"month"/, 'the report has months');

($rc, $out, $err) = soukctl(\%env, qw(backfill orders --if-empty));
is($rc, 0, '--if-empty exits 0') or diag $err;
like($out, qr/reporting already has order facts; nothing to do/, '--if-empty: nothing to do');
($rc, $out, $err) = soukctl(\%env, qw(backfill orders));
is($rc, 0, 'a repeat exits 0') or diag $err;
is(report($r, ''), report($m, ''), 'a repeat: still the monolith\'s answer');
($rc, $out, $err) = soukctl({%env, SOUK_REPORTING_DB => undef}, qw(backfill orders));
like($err, qr/SOUK_REPORTING_DB is not set; reporting is not filled/,
    'without SOUK_REPORTING_DB reporting is left alone');

done_testing;
