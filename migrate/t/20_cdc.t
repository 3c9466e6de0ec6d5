# 20_cdc.t - change capture against the real server (migrate/cdc): every column type of the
# monolith's schema round-trips into canonical text, a transaction's rows arrive together,
# skip_replication is flagged, DML logged as a statement is refused loudly, and the account
# `soukctl db create monolith` makes may stream the binlog.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;
use File::Temp ();
use JSON::PP ();

my $JSON = JSON::PP->new->utf8;
my $db = mariadb_fresh('cdc');
my $name = $db->{db};
my $admin_dsn = mariadb_admin_dsn($name);

sub pos_now { mariadb_sql(undef, 'SELECT @@gtid_binlog_pos')->[0][0] // '' }

# probe($dsn, $tables, $gtid, $n): the transactions the capture hands out, decoded.
sub probe {
    my ($dsn, $tables, $gtid, $n, $timeout) = @_;
    my $out = File::Temp->new;
    my $bin = (repo_root() . '/' . ($ENV{SOUK_BUILD} || 'build') . '/bin/souk-cdc-probe');
    my $rc = system("$bin '$dsn' '$tables' '$gtid' $n " . ($timeout // 10000)
        . " >" . $out->filename . " 2>&1");
    open my $fh, '<', $out->filename or die;
    my @lines = <$fh>;
    my @json = map { my $l = $_; eval { $JSON->decode($l) } // { raw => $l } } @lines;
    return ($rc >> 8, \@json);
}

# --- every column type ----------------------------------------------------------------------
mariadb_sql($name, q{CREATE TABLE every_type (
    id  BIGINT NOT NULL PRIMARY KEY,
    big BIGINT NULL, i INT NULL, t TINYINT NULL,
    v   VARCHAR(200) NULL, c CHAR(2) NULL, c3 CHAR(64) NULL, a CHAR(8) CHARACTER SET ascii NULL,
    x   TEXT NULL, e ENUM('customer','admin') NULL, d DATETIME(3) NULL
) DEFAULT CHARSET=utf8mb4});
my $long = join('', map { chr(0x61 + $_ % 26) } 1 .. 60000);    # a long TEXT
my $start = pos_now();
mariadb_sql($name, qq{SET NAMES utf8mb4; INSERT INTO every_type VALUES
    (1, -9223372036854775808, -2147483648, -128, 'h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80',
     'DE', 'x y ', 'ab', 'short', 'admin', '2026-12-07 14:31:05.123'),
    (2, 9223372036854775807, 2147483647, 127, '', '', '', '', '', 'customer',
     '1999-01-02 03:04:05.000'),
    (3, -1, -1, -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (4, 0, 0, 0, 'x', 'a', 'b', 'c', '$long', 'customer', '2000-02-29 23:59:59.999')});
my ($rc, $txns) = probe($admin_dsn, 'every_type', $start, 1);
is($rc, 0, 'one transaction captured') or diag explain $txns;
my @ch = @{$txns->[0]{changes} // []};
is(scalar @ch, 4, 'the four rows of one INSERT arrive together');
my %want = (
    1 => {big => '-9223372036854775808', i => '-2147483648', t => '-128',
        v => "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", c => 'DE', c3 => 'x y', a => 'ab',
        x => 'short', e => 'admin', d => '2026-12-07T14:31:05.123Z'},
    2 => {big => '9223372036854775807', i => '2147483647', t => '127', v => '', c => '',
        c3 => '', a => '', x => '', e => 'customer', d => '1999-01-02T03:04:05.000Z'},
    3 => {big => '-1', i => '-1', t => '-1', v => undef, c => undef, c3 => undef, a => undef,
        x => undef, e => undef, d => undef},
    4 => {big => '0', i => '0', t => '0', v => 'x', c => 'a', c3 => 'b', a => 'c', x => $long,
        e => 'customer', d => '2000-02-29T23:59:59.999Z'},
);
for my $c (@ch) {
    my $id = $c->{after}{id};
    is($c->{op}, 'insert', "row $id is an insert");
    is($c->{before}, undef, "row $id has no before image");
    for my $col (sort keys %{$want{$id}}) {
        my $got = $c->{after}{$col};
        utf8::encode($got) if defined $got;    # JSON::PP decoded characters; compare bytes
        is($got, $want{$id}{$col}, "row $id column $col");
    }
}

# The canonical text is what the server itself says the values are.
my $rows = mariadb_sql($name, q{SET NAMES utf8mb4; SELECT id, big, i, t, v, c, c3, a, e,
    CONCAT(LEFT(DATE_FORMAT(d, '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z') FROM every_type ORDER BY id});
my %by = map { $_->{after}{id} => $_->{after} } @ch;
for my $r (@$rows) {
    my @cols = qw(id big i t v c c3 a e d);
    my @got = map { my $v = $by{$r->[0]}{$_}; utf8::encode($v) if defined $v; $v } @cols;
    is_deeply(\@got, $r, "row $r->[0] equals the server's own text");
}

# --- updates and deletes, several tables, one transaction --------------------------------------
$start = pos_now();
mariadb_sql($name, q{SET NAMES utf8mb4; START TRANSACTION;
    UPDATE every_type SET i = -7, e = 'admin', d = '2027-01-01 00:00:00.5' WHERE id = 2;
    DELETE FROM every_type WHERE id = 3;
    INSERT INTO users (id, email, password_hash, name) VALUES (77, 'a@b.c', 'h', 'Zo\xc3\xab');
    COMMIT;});
mariadb_sql($name, q{UPDATE every_type SET t = 5 WHERE id = 4});
($rc, $txns) = probe($admin_dsn, 'every_type,users', $start, 2);
is($rc, 0, 'two transactions captured');
my @t1 = @{$txns->[0]{changes} // []};
is(scalar @t1, 3, 'first transaction: three changes together');
is_deeply([map { "$_->{table}:$_->{op}" } @t1],
    ['every_type:update', 'every_type:delete', 'users:insert'], 'in commit order');
is($t1[0]{before}{i}, '2147483647', 'update: before image');
is($t1[0]{after}{i}, '-7', 'update: after image');
is($t1[0]{after}{e}, 'admin', 'update: ENUM after');
is($t1[0]{after}{d}, '2027-01-01T00:00:00.500Z', 'update: DATETIME(3) after');
is($t1[1]{before}{id}, '3', 'delete: the old row');
is($t1[1]{after}, undef, 'delete: no after image');
is($t1[2]{after}{role}, 'customer', 'users.role ENUM default');
like($t1[2]{after}{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'users.created_at');
is(scalar @{$txns->[1]{changes}}, 1, 'second transaction on its own');
like($txns->[0]{gtid}, qr/^\d+-\d+-\d+$/, 'GTID D-S-N');
ok(!$txns->[0]{skip}, 'no skip_replication');

# --- skip_replication -----------------------------------------------------------------------
$start = pos_now();
# As the database's own account (what reverse sync writes with), not the admin.
my @as_user = ('mariadb', '--no-defaults', '--protocol=tcp', '-h', '127.0.0.1', '-P', $db->{port},
    '-u', $db->{user}, "-p$db->{password}", $name, '-e');
is(system(@as_user, 'SET SESSION skip_replication = 1; INSERT INTO every_type (id) VALUES (10)'), 0,
    'the monolith\'s account may write with skip_replication');
mariadb_sql($name, q{INSERT INTO every_type (id) VALUES (11)});
($rc, $txns) = probe($admin_dsn, 'every_type', $start, 2);
is($rc, 0, 'both transactions captured');
ok($txns->[0]{skip}, 'a skip_replication session\'s write is flagged');
ok(!$txns->[1]{skip}, 'the next one is not');

# --- statements are refused -----------------------------------------------------------------
$start = pos_now();
mariadb_sql($name, q{INSERT INTO users (id, email, password_hash, name) VALUES (78, 'b@b.c', 'h', 'n')});
mariadb_sql($name, q{SET SESSION binlog_format = 'STATEMENT';
    UPDATE every_type SET t = 9 WHERE id = 1});
($rc, $txns) = probe($admin_dsn, 'every_type,users', $start, 5, 4000);
is($rc, 3, 'the reader stops at DML logged as a statement');
is(scalar(grep { $_->{changes} } @$txns), 1, 'the row-based transaction before it was captured');
like($txns->[-1]{error} // '', qr/captured table every_type arrived as a statement/,
    'and says why') or diag explain $txns;
# A statement on a table nobody captures is nothing to refuse.
$start = pos_now();
mariadb_sql($name, q{SET SESSION binlog_format = 'STATEMENT'; UPDATE products SET brand = 'x' WHERE id = 0});
mariadb_sql($name, q{INSERT INTO every_type (id) VALUES (12)});
($rc, $txns) = probe($admin_dsn, 'every_type', $start, 1);
is($rc, 0, 'a statement on an uncaptured table passes');
is($txns->[0]{changes}[0]{after}{id}, '12', 'and the stream goes on');

# --- the monolith's own account, as `soukctl db create monolith` makes it -------------------------
my $acct = "t_sync_$$";
my $own = "mysql://$acct:pw-$$\@127.0.0.1:$db->{port}/$acct";
my ($crc, $cout, $cerr) = soukctl({SOUK_MONOLITH_DB => $own,
    SOUK_MARIADB_ADMIN_DSN => mariadb_admin_dsn()}, qw(db create monolith));
is($crc, 0, 'soukctl db create monolith') or diag "$cout$cerr";
mariadb_sql($acct, 'CREATE TABLE k (id BIGINT PRIMARY KEY)');
$start = pos_now();
mariadb_sql($acct, 'INSERT INTO k VALUES (1)');
($rc, $txns) = probe($own, 'k', $start, 1);
is($rc, 0, 'the monolith\'s account streams the binlog') or diag explain $txns;
mariadb_sql(undef, "DROP DATABASE `$acct`; DROP USER '$acct'\@'127.0.0.1'; DROP USER '$acct'\@'localhost'");

done_testing;
