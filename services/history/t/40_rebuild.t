# `soukctl history rebuild`: history's table rebuilt by replaying orders' retained order events
# (its admin feed over HTTP; soukctl gets no usable database DSN at all), while a reader loops
# on GET /api/v1/orders (never a non-200, never fewer orders) and new orders keep arriving;
# then the rebuilt table holds every order in the right state, including one the live table
# had wrong, and the build table is gone.
use strict;
use warnings;
use Test::More;
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use lib 'tests/lib', 'services/history/t';
use Souk::Test;
use HistoryTest;

my ($h, $o) = start_pair();
my ($hdb, $odb) = ($h->{db}{db}, $o->{db}{db});
my $alice = tok(7);
my %want;    # order id -> status

# 150 orders of Alice's and Bob's before the rebuild, in every outcome
my @ev;
my @moves = (undef, 'order.confirmed', 'order.rejected', 'order.cancelled');
for my $i (1 .. 150) {
    my ($oid, $uid) = (3000 + $i, $i % 3 ? 7 : 8);
    my $m = $moves[$i % 4];
    push @ev, created($oid, $uid, at => sprintf('2026-12-07T10:%02d:%02dZ', $i / 60, $i % 60));
    push @ev, moved($m, $oid, $uid) if $m;
    $want{$oid} = $m ? {'order.confirmed' => 'CONFIRMED', 'order.rejected' => 'REJECTED',
        'order.cancelled' => 'CANCELLED'}->{$m} : 'PENDING';
}
inject_many($odb, @ev[$_ * 50 .. ($_ * 50 + 49 > $#ev ? $#ev : $_ * 50 + 49)]) for 0 .. int($#ev / 50);
# every event applied, not only every order.created: a move applied later by the other consumer
# thread would undo the edit below or drop an order from Alice's v1 total under the reader
ok(wait_until('every event of the 150 orders', sub { caught_up($hdb, $odb) }, 30),
    'history applied every event');
is(row_count($hdb, 'created'), 150, 'history has them all');
# the live table gets one wrong (as a bug would leave it): the rebuild must correct it
pg_sql($hdb, "UPDATE order_rows SET status = 'PENDING', terminal = false,"
    . " v1_json = replace(v1_json, 'CONFIRMED', 'PENDING') WHERE id = 3001");
my $v1_before = api_request($h->url, [], GET => '/api/v1/orders?limit=100', token => $alice)
    ->{json}{total};
ok($v1_before > 0, "Alice has $v1_before v1 orders before");

my $dir = File::Temp::tempdir('souk-hrb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub child {
    my ($code) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) { eval { $code->(); 1 } or print STDERR "child: $@"; POSIX::_exit(0) }
    return $pid;
}
# the reader: status and total of every read, until told to stop (bounded: 60 s)
my $reader = child(sub {
    open my $fh, '>', "$dir/reads" or die $!;
    $fh->autoflush(1);
    my $end = Time::HiRes::time() + 60;
    while (!-e "$dir/stop" && Time::HiRes::time() < $end) {
        my $r = api_request($h->url, [], GET => '/api/v1/orders?limit=100', token => $alice);
        print $fh "$r->{status} " . ($r->{json}{total} // -1) . "\n";
    }
});
# the writer: 30 new orders (Alice's, confirmed) while the rebuild runs
my $writer = child(sub {
    for my $i (1 .. 30) {
        my $oid = 5000 + $i;
        inject_many($odb, created($oid, 7, at => "2026-12-07T11:00:${\ sprintf('%02d', $i)}Z"),
            moved('order.confirmed', $oid, 7));
        Time::HiRes::sleep(0.05);
    }
});
$want{5000 + $_} = 'CONFIRMED' for 1 .. 30;

Time::HiRes::sleep(0.2);
my $nodb = 'postgresql://nobody:none@127.0.0.1:1/none';
my ($rc, $out, $err) = soukctl({SOUK_ORDERS_URL => $o->url, SOUK_HISTORY_URL => $h->url,
    SOUK_JWT_SECRET => $HistoryTest::SECRET, SOUK_ORDERS_DB => $nodb, SOUK_HISTORY_DB => $nodb,
    SOUK_MONOLITH_DB => 'mysql://nobody:none@127.0.0.1:1/none'}, qw(history rebuild --batch 7));
is($rc, 0, 'soukctl history rebuild succeeds without any database') or diag($err);
like($err, qr/history rebuild: seq \d+ of \d+, \d+ events, \d+ events\/s/, 'progress on stderr');
like($err, qr/swapped in/, 'swapped in');
waitpid $writer, 0;
# their confirmations too (created alone may be ahead of them): the table is compared whole
ok(wait_until('the new orders and their confirmations', sub { caught_up($hdb, $odb) }, 30),
    'every event of the orders placed during the rebuild applied');
is(row_count($hdb, 'created'), 180, 'the orders placed during the rebuild are there');
open my $stop, '>', "$dir/stop" or die $!;
close $stop;
waitpid $reader, 0;

open my $fh, '<', "$dir/reads" or die $!;
my @reads = map { [split] } <$fh>;
cmp_ok(scalar @reads, '>', 5, scalar(@reads) . ' reads during the rebuild');
is_deeply([grep { $_->[0] != 200 } @reads], [], 'every read answered 200');
my ($prev, @less) = ($v1_before);
for (@reads) { push @less, "$prev -> $_->[1]" if $_->[1] < $prev; $prev = $_->[1] }
is_deeply(\@less, [], 'no read showed fewer orders than the one before');

my %got = map { $_->[0] => $_->[1] } @{pg_sql($hdb, 'SELECT id, status FROM order_rows WHERE created')};
is_deeply(\%got, \%want, 'the rebuilt table holds every order in its state (3001 corrected)');
is(pg_sql($hdb, "SELECT to_regclass('order_rows_build') IS NULL AND"
    . " NOT (SELECT building FROM rebuild_state)")->[0][0], 't', 'the build table is gone, building off');
my $r = api_request($h->url, [], GET => '/api/v1/orders/3001', token => $alice);
is($r->{json}{status}, 'CONFIRMED', 'the v1 answer is the corrected one');

# a monolith order backfilled without lines: its order.created in orders' log (where
# soukctl backfill orders writes it, never the outbox) has "lines": []; a rebuild keeps it
my $bare = created(7001, 7, at => '2026-12-07T09:00:00Z', lines => [], last4 => '');
$bare->[2]{backfilled} = JSON::PP::true;
$bare->[2]{payment_status} = undef;
my $eid = HistoryTest::uuid(7001);
my $env = JSON::PP->new->canonical->encode({id => $eid, type => 'order.created', version => 1,
    occurred_at => '2026-12-07T09:00:00.000Z', aggregate_id => 7001, trace_id => '',
    payload => $bare->[2]});
$env =~ s/'/''/g;
pg_sql($odb, "INSERT INTO order_log (event_id, type, order_id, envelope) VALUES"
    . " ('$eid', 'order.created', 7001, '$env')");
($rc, $out, $err) = soukctl({SOUK_ORDERS_URL => $o->url, SOUK_HISTORY_URL => $h->url,
    SOUK_JWT_SECRET => $HistoryTest::SECRET}, qw(history rebuild --batch 500));
is($rc, 0, 'a rebuild with a backfilled order without lines succeeds') or diag($err);
is(pg_sql($hdb, "SELECT items FROM order_rows WHERE id = 7001")->[0][0], '[]',
    'that order is there, with no items');

# a rebuild that fails (orders' feed does not answer) is aborted: no build table, building off
($rc, $out, $err) = soukctl({SOUK_ORDERS_URL => 'http://127.0.0.1:1', SOUK_HISTORY_URL => $h->url,
    SOUK_JWT_SECRET => $HistoryTest::SECRET}, qw(history rebuild));
isnt($rc, 0, 'a rebuild without the feed fails');
like($err, qr/aborted/, 'and says it aborted');
is(pg_sql($hdb, "SELECT to_regclass('order_rows_build') IS NULL AND"
    . " NOT (SELECT building FROM rebuild_state)")->[0][0], 't', 'no build table, building off');

# an answer of the "feed" that is not a page (here history's own rebuild state, 200 JSON
# without events, head, next_after) is an error, not an empty feed that leads to a swap
($rc, $out, $err) = soukctl({SOUK_ORDERS_URL => $h->url . '/api/v2/admin/history/rebuild?x=',
    SOUK_HISTORY_URL => $h->url, SOUK_JWT_SECRET => $HistoryTest::SECRET}, qw(history rebuild));
isnt($rc, 0, 'a feed answer that is not a page fails the rebuild');
like($err, qr/not a page of the feed/, 'and says so');
unlike($err, qr/not yet|swapped/, 'no swap was tried');

# the endpoints refuse what makes no sense
my $admin = tok(1, 'admin');
is(api_request($h->url, [], POST => '/api/v2/admin/history/swap', token => $admin)->{status}, 409,
    'a swap without a rebuild: 409');
is(api_request($h->url, [], POST => '/api/v2/admin/history/replay', token => $alice,
    json => {events => []})->{status}, 403, 'replay needs an admin');
is(api_request($h->url, [], POST => '/api/v2/admin/history/replay', token => $admin,
    json => {events => []})->{status}, 409, 'replay without a rebuild: 409');
is(api_request($o->url, [], GET => '/api/v2/admin/order-events', token => $alice)->{status}, 403,
    "orders' feed needs an admin");
done_testing;
