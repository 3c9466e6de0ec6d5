# lib/t/22_db_kv.t - lib/db.c and lib/kv.c against the run's PostgreSQL and Redis,
# through build/bin/souk-dbkv-probe (lib/t/dbkv_probe.c), which prints
# "label ERR_NAME" for every operation: SQLSTATE mapping, statements prepared at
# connect, reconnect after pg_terminate_backend, binary-safe Redis values, and a
# Redis that is not there.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";

use File::Spec;
use File::Temp ();
use POSIX ();
use Test::More;

use Souk::Test;

my $build = $ENV{SOUK_BUILD} || 'build';
$build = File::Spec->catdir(repo_root(), $build) unless File::Spec->file_name_is_absolute($build);
my $PROBE = File::Spec->catfile($build, 'bin', 'souk-dbkv-probe');
plan skip_all => "$PROBE is not built" unless -x $PROBE;

my $infra = infra('postgres', 'redis');

# probe($cmd, %env): run the probe; ({label => [ERR_NAME, rest]}, stdout, stderr, status).
sub probe {
    my ($cmd, %env) = @_;
    my $o = File::Temp->new;
    my $e = File::Temp->new;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        @ENV{keys %env} = values %env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $o->filename;
        open STDERR, '>', $e->filename;
        exec $PROBE, $cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $status = $? >> 8;
    my ($out, $err) = map { local $/; open my $fh, '<', $_ or die; scalar <$fh> // '' }
        $o->filename, $e->filename;
    my %r;
    for (split /\n/, $out) {
        my ($label, $name, $rest) = split / /, $_, 3;
        $r{$label} = [$name, $rest];
    }
    diag("souk-dbkv-probe $cmd stderr:\n$err") if $status && length $err;
    return (\%r, $out, $err, $status);
}

# check($r, $label => $expected, ...): one test per label, in the given order.
sub check {
    my ($r, $out, @pairs) = @_;
    my $bad = 0;
    while (my ($label, $want) = splice @pairs, 0, 2) {
        is($r->{$label} && $r->{$label}[0], $want, "$label -> $want") or $bad++;
    }
    diag("probe output:\n$out") if $bad;
}

# ---- PostgreSQL ------------------------------------------------------------------

my $db = sprintf('t_dbkv_%d_%d', $$, time);
pg_sql(undef, "CREATE DATABASE $db");
my $dsn = pg_admin_dsn($db);

{
    my ($r, $out, $err, $status) = probe('pg-errors', SOUK_TEST_DB => $dsn);
    is($status, 0, 'pg-errors exits 0');
    check($r, $out,
        schema => 'OK', insert => 'OK', duplicate => 'DUPLICATE', bad_integer => 'INVALID',
        out_of_range => 'INVALID', foreign_key => 'CONFLICT', check => 'CONFLICT',
        not_null => 'CONFLICT', syntax => 'INTERNAL', select => 'OK', params => 'OK',
        i64_text => 'OK',
        tx_begin => 'OK', tx_insert => 'OK', tx_rolled_back => 'OK', tx_begin2 => 'OK',
        tx_dup => 'DUPLICATE', tx_commit_failed => 'INTERNAL', tx_begin3 => 'OK',
        tx_insert3 => 'OK', tx_commit => 'OK',
        cache_again => 'OK', cache_syntax => 'INTERNAL', cache_shape => 'OK', cache_star => 'OK',
        cache_alter => 'OK', cache_stale => 'INTERNAL', cache_fresh => 'OK');
    is($r->{cache_prepared}[0], '1', 'a text with parameters is prepared once in the session');
    is($r->{cache_cols}[0], '2', 'after the stale plan failed once, the text runs with the new shape');
    like($err, qr/query \\"SELEC \$1::int.*42601/, 'a text that does not prepare fails with its own error');
    is($r->{affected}[0], '1', 'db_affected after one INSERT');
    is(join(' ', @{$r->{row} // []}), '1 3 1 one null 3', 'row: nrows ncols i64 text NULL len');
    is($r->{sum}[0], '42', 'text parameters');
    is($r->{tx_rows}[0], '0', 'rolled-back insert is gone');
    like($err, qr/"level":"info".*duplicate key value violates unique constraint/,
        'duplicate logged at info, constraint named');
    unlike($err, qr/Key \(id\)=/, 'the duplicate value (DETAIL) is not logged');
    like($err, qr/invalid input syntax for type bigint.*22P02/, 'bad integer logged with SQLSTATE');
    like($err, qr/"level":"error"[^\n]*query \\"SELEC 1/, 'syntax error logged as error, with the query');
    my $rows = pg_sql($db, 'SELECT id FROM probe_parent ORDER BY id');
    is(join(',', map { $_->[0] } @$rows), '1,11', 'committed rows only');
}

{
    my ($r, $out, $err) = probe('pg-badstmt', SOUK_TEST_DB => $dsn);
    check($r, $out, exec => 'INTERNAL', ping => 'INTERNAL');
    like($err, qr/prepare of statement MISSING_TABLE failed: relation \\"probe_no_such_table\\" does not exist/,
        'the log names the statement and the server message');
}

{
    my ($r, $out, $err) = probe('pg-reconnect', SOUK_TEST_DB => $dsn);
    check($r, $out,
        ping => 'OK', kill => 'OK', after_kill => 'OK', kill_tx_begin => 'OK',
        kill_in_tx => 'OK', in_tx_lost => 'UNAVAILABLE', in_tx_still_lost => 'UNAVAILABLE',
        begin_again => 'OK', exec_again => 'OK', commit_again => 'OK', ping_again => 'OK');
    like($err, qr/reconnecting once/, 'the reconnect is logged');
}

{
    my $port = free_port();
    my ($r, $out, $err) = probe('pg-errors',
        SOUK_TEST_DB => "postgresql://souk_admin:x\@127.0.0.1:$port/nope");
    check($r, $out, schema => 'UNAVAILABLE', insert => 'UNAVAILABLE', tx_begin => 'UNAVAILABLE');
    like($err, qr/postgresql connect to 127\.0\.0\.1:$port\/nope failed/, 'connect failure logged');
    unlike($err, qr/souk_admin:x/, 'the password is not logged');
}

pg_sql(undef, "DROP DATABASE $db WITH (FORCE)");

# ---- Redis -----------------------------------------------------------------------

{
    my $url = "redis://127.0.0.1:$infra->{redis_port}/0";
    my ($r, $out, $err) = probe('kv', SOUK_TEST_REDIS => $url, SOUK_TEST_KEY => "t22:$$:" . time);
    check($r, $out,
        ping => 'OK', set => 'OK', get => 'OK', del => 'OK', get_absent => 'OK',
        del_absent => 'OK', rpush => 'OK', lrange => 'OK', wrongtype => 'INTERNAL',
        cleanup => 'OK');
    is($r->{same}[0], '1', 'binary value with NUL bytes round-trips');
    is($r->{absent}[0], '1', 'deleted key reads as absent');
    is($r->{rpush_n}[0], '2', 'integer reply');
    is(join(' ', @{$r->{lrange_v} // []}), 'x yz', 'array reply');
    like($err, qr/WRONGTYPE/, 'error reply logged');
}

{
    my $url = "redis://127.0.0.1:$infra->{redis_port}/3";
    my ($r, $out) = probe('kv', SOUK_TEST_REDIS => $url, SOUK_TEST_KEY => "t22db3:$$");
    check($r, $out, ping => 'OK', set => 'OK', get => 'OK');
}

{
    my $port = free_port();
    my ($r, $out, $err) = probe('kv-down', SOUK_TEST_REDIS => "redis://127.0.0.1:$port/0");
    check($r, $out, ping => 'UNAVAILABLE', ping_again => 'UNAVAILABLE', set => 'UNAVAILABLE');
    my @errors = $err =~ /"level":"error"/g;
    is(scalar @errors, 1, 'one error line for three failed calls');
}

{
    my ($r, $out) = probe('kv-url');
    check($r, $out,
        'redis://127.0.0.1:6379/0' => 'OK', 'redis://localhost' => 'OK',
        'redis://h:1/15' => 'OK', 'redis://h:0' => 'INVALID', 'redis://:6379' => 'INVALID',
        'http://h:1' => 'INVALID', 'redis://h:x' => 'INVALID', 'redis://u@h:1' => 'INVALID',
        'redis://h:1/x' => 'INVALID', 'redis://h:70000' => 'INVALID');
}

done_testing;
