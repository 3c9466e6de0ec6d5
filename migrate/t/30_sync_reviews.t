# 30_sync_reviews.t - souk-sync --domain reviews end to end: while a bounded write load runs on
# the monolith, soukctl backfill reviews (which records its snapshot's GTID) and souk-sync (which
# streams from it) reach equality with the monolith; a kill -9 mid-stream and a restart resume at
# the committed position and lose or repeat nothing; skip_replication writes are not applied;
# the cutover marker is recorded; /ready and /metrics say so; DML logged as a statement stops it.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;
use POSIX ();
use Time::HiRes ();
use File::Temp ();

my $mono = mariadb_fresh('sync');
my $revs = pg_fresh('reviews');
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_REVIEWS_DB => $revs->{dsn});
my %sync_env = (%env, SOUK_SYNC_DOMAIN => 'reviews', SOUK_LOG_LEVEL => 'info', SOUK_SYNC_HEARTBEAT_MS => 200,
    SOUK_SYNC_SERVER_ID => 5000 + $$ % 1000,
    SOUK_SYNC_BINLOG_DB => mariadb_admin_dsn($mono->{db}));

my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 30 --users 40 --orders 0 --reviews 80
    --carts 0 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;

sub m1 { mariadb_sql($mono->{db}, $_[0])->[0][0] }
sub p1 { pg_sql($revs->{db}, $_[0])->[0][0] }

# --- a bounded write load on the monolith ---------------------------------------------------
# It runs until the test has seen the backfill, the stream, a kill and a restart happen during
# it (the stop file), and at least $OPS operations; at most $MAX_OPS or 120 s. A fixed count
# would end first on a fast machine ("the load still runs" failed, the kill landed after it;
# SOUK_SYNC_LOAD_OPS=20 shows it: the old fixed load of 20 failed so, this one passes).
my ($OPS, $MAX_OPS) = ($ENV{SOUK_SYNC_LOAD_OPS} || 160, 3000);
my $ctl = File::Temp::tempdir('souk-sync-load-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub load_done { -s "$ctl/progress" // 0 }    # one byte per operation
my @ops = (
    sub { "INSERT IGNORE INTO reviews (product_id, user_id, rating, title, body)"
        . " SELECT p.id, u.id, 1 + $_[0] % 5, 'load $_[0]', 'b\xc3\xa9 $_[0]'"
        . " FROM products p, users u ORDER BY RAND() LIMIT 1" },
    sub { "UPDATE reviews SET rating = 1 + MOD(rating, 5), title = 'upd $_[0]' ORDER BY RAND() LIMIT 1" },
    sub { "DELETE FROM reviews ORDER BY RAND() LIMIT 1" },
    sub { "UPDATE users SET name = 'N\xc3\xa4me $_[0]' ORDER BY RAND() LIMIT 1" },
    sub { "INSERT INTO users (email, password_hash, name) VALUES ('load$_[0]\@x.test', 'h', 'L $_[0]')" },
    sub { "START TRANSACTION;"
        . " INSERT IGNORE INTO reviews (product_id, user_id, rating, title, body)"
        . " SELECT p.id, u.id, 5, 'tx $_[0]', 'both' FROM products p, users u ORDER BY RAND() LIMIT 1;"
        . " UPDATE reviews SET rating = 1 ORDER BY RAND() LIMIT 1; COMMIT" },
    sub { "INSERT INTO products (sku, name, description, category_id, price_minor)"
        . " SELECT 'load-$_[0]', 'p', 'd', MIN(id), 100 FROM categories" },
);
my $load = fork // die "fork: $!";
if (!$load) {
    open my $progress, '>>', "$ctl/progress" or POSIX::_exit(2);
    $progress->autoflush(1);
    my $until = Time::HiRes::time() + 120;
    for my $i (1 .. $MAX_OPS) {
        last if $i > $OPS && (-e "$ctl/stop" || Time::HiRes::time() > $until);
        my $sql = $i % 25 == 0
            ? "UPDATE reviews SET id = id + 1000000 WHERE id < 1000000 ORDER BY RAND() LIMIT 1"
            : $i % 40 == 0
            # a product with reviews goes: InnoDB's cascade is not in the binlog
            ? "DELETE FROM products WHERE id = (SELECT product_id FROM reviews GROUP BY product_id"
              . " ORDER BY COUNT(*) DESC LIMIT 1)"
            : $ops[$i % @ops]->($i);
        eval { mariadb_sql($mono->{db}, "SET NAMES utf8mb4; $sql") };
        print $progress '.';
        Time::HiRes::sleep(0.01);
    }
    POSIX::_exit(0);
}

Time::HiRes::sleep(0.5);    # the load is under way
($rc, $out, $err) = soukctl(\%env, qw(backfill reviews --batch 20));
is($rc, 0, 'backfill reviews during the load') or diag $err;
like($out, qr/^stream position for souk-sync --domain reviews: (\d+-\d+-\d+)/m,
    'it records where its snapshot stands in the binlog');
my $snap = p1(q{SELECT gtid FROM sync_position WHERE domain = 'reviews'});
like($snap, qr/^\d+-\d+-\d+/, 'in sync_position');

my $sync = spawn_service('sync', %sync_env);
ok(wait_until('the sync applies', sub { (metric_value($sync, 'souk_sync_applied_total') // 0) > 5 },
    20), 'souk-sync applies the stream');
like($sync->stderr_text, qr/streaming \S+ after \Q$snap\E/, 'starting at the backfill\'s snapshot');

# --- kill -9 mid-stream, restart ----------------------------------------------------------
ok(kill(0, $load) && waitpid($load, POSIX::WNOHANG()) == 0, 'the load still runs');
kill 'KILL', $sync->pid;
waitpid $sync->pid, 0;
$sync->{done} = 1;
my $at_kill = p1(q{SELECT gtid FROM sync_position WHERE domain = 'reviews'});
my $ops_at_kill = load_done();
ok(wait_until('writes while souk-sync is down', sub { load_done() >= $ops_at_kill + 10 }, 60),
    'writes go on while it is down');
$sync = spawn_service('sync', %sync_env);
like($sync->stderr_text, qr/streaming \S+ after \Q$at_kill\E/,
    "the restart resumes at the committed position ($at_kill)");
my $ops_at_restart = load_done();
ok(wait_until('writes after the restart', sub { load_done() >= $ops_at_restart + 10 }, 60),
    'and after the restart');

open my $stop, '>', "$ctl/stop" or die "$ctl/stop: $!";
close $stop;
waitpid $load, 0;
is($?, 0, 'the load finished (' . load_done() . ' operations)');

# --- the cutover marker: applied means everything before it is applied -----------------------
sub marker {
    mariadb_sql($mono->{db}, "INSERT INTO souk_migration_marker (domain, token) VALUES ('$_[0]', UUID())");
    return m1("SELECT token FROM souk_migration_marker WHERE domain = '$_[0]' ORDER BY id DESC LIMIT 1");
}
mariadb_sql($mono->{db}, "INSERT INTO souk_migration_marker (domain, token) VALUES ('catalog', UUID())");
my $token = marker('reviews');
ok(wait_until('the marker', sub {
    (p1(q{SELECT marker FROM sync_position WHERE domain = 'reviews'}) // '') eq $token }, 30),
    'the marker is applied');

# --- both sides equal (canonical text, migrate/README.md) --------------------------------------
my $MY_TS = "CONCAT(LEFT(DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')";
my $PG_TS = qq{to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')};
my $mrev = mariadb_sql($mono->{db}, "SET NAMES utf8mb4; SELECT id, product_id, user_id, rating,"
    . " title, MD5(body), $MY_TS FROM reviews ORDER BY id");
my $prev = pg_sql($revs->{db}, "SELECT id, product_id, user_id, doc->>'rating', doc->>'title',"
    . " md5(doc->>'body'), $PG_TS FROM reviews ORDER BY id");
ok(@$mrev > 50, scalar(@$mrev) . ' reviews in the monolith');
is_deeply($prev, $mrev, 'reviews: every row equal on both sides');
is_deeply(pg_sql($revs->{db}, 'SELECT product_id, count, sum FROM ratings WHERE count > 0 ORDER BY 1'),
    mariadb_sql($mono->{db}, 'SELECT product_id, COUNT(*), SUM(rating) FROM reviews GROUP BY 1 ORDER BY 1'),
    'ratings: each product\'s count and sum equal (no change lost or applied twice)');
is_deeply(pg_sql($revs->{db}, 'SELECT id, name FROM users_replica ORDER BY id'),
    mariadb_sql($mono->{db}, 'SET NAMES utf8mb4; SELECT id, name FROM users ORDER BY id'),
    'user names equal');
is_deeply(pg_sql($revs->{db}, 'SELECT id FROM products WHERE NOT deleted ORDER BY id'),
    mariadb_sql($mono->{db}, 'SELECT id FROM products ORDER BY id'), 'products equal');
ok(p1('SELECT count(*) FROM products WHERE deleted') > 0, 'deleted products are tombstones');

# --- skip_replication: reverse sync's writes do not come back -------------------------------
my $rid = $mrev->[0][0];
mariadb_sql($mono->{db}, "SET SESSION skip_replication = 1;"
    . " UPDATE reviews SET title = 'written back' WHERE id = $rid");
$token = marker('reviews');
ok(wait_until('the second marker', sub {
    (p1(q{SELECT marker FROM sync_position WHERE domain = 'reviews'}) // '') eq $token }, 30),
    'the next marker is applied');
is(p1("SELECT doc->>'title' FROM reviews WHERE id = $rid"), $mrev->[0][4],
    'a skip_replication write is not applied');
ok(metric_value($sync, 'souk_sync_skipped_total') >= 1, 'and counted as skipped');

# --- probes -------------------------------------------------------------------------------
is(http(GET => $sync->url . '/ready')->{status}, 200, '/ready');
ok(wait_until('lag 0', sub { my $v = metric_value($sync, 'souk_sync_lag_events');
    defined $v && $v == 0 }, 10), 'lag in events is 0 once caught up');
for my $m (qw(souk_sync_lag_seconds souk_sync_applied_per_second souk_sync_position_seq
    souk_sync_changes_total)) {
    ok(defined metric_value($sync, $m), "/metrics has $m");
}
ok(metric_value($sync, 'souk_sync_position_seq') > 0, 'the position in /metrics');
# --- DML on a captured table logged as a statement stops the sync, loudly ----------------------
mariadb_sql($mono->{db}, "SET SESSION binlog_format = 'STATEMENT';"
    . " UPDATE reviews SET title = 'as a statement' WHERE id = $rid");
ok(wait_until('refused', sub { (metric_value($sync, 'souk_sync_refused') // 0) == 1 }, 10),
    'a statement on a captured table stops the sync');
is(http(GET => $sync->url . '/ready')->{status}, 503, '/ready says so');
like($sync->stderr_text, qr/STOPPED at \S+: transaction \S+: DML on captured table reviews/,
    'and the log says why');
isnt(p1("SELECT doc->>'title' FROM reviews WHERE id = $rid"), 'as a statement',
    'nothing of it is applied');
no_failures([], [$sync], expected => qr/as a statement/);
undef $sync;
done_testing;
