# soukctl schema up|status on the monolith: idempotent, forward-only (a changed, missing or
# out-of-order file is refused), and the schema it builds has every table and foreign key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use Digest::SHA ();
use File::Copy ();
use File::Temp ();
use POSIX ();
use Test::More;
use Souk::Test;

my $ROOT = repo_root();
my $MIGRATIONS = "$ROOT/monolith/migrations";

sub ctl { soukctl(@_) }

sub sql1 { my ($db, $q) = @_; return mariadb_sql($db->{db}, $q)->[0][0] }

# --- a fresh database: the harness already ran `schema up` once -------------------------------
my $db = mariadb_fresh('schema');
my %env = (SOUK_MONOLITH_DB => $db->{dsn}, SOUK_MIGRATIONS_DIR => $MIGRATIONS);

my ($rc, $out, $err) = ctl(\%env, qw(schema up monolith));
is($rc, 0, 'second schema up exits 0') or diag $err;
is($out, "up to date\n", 'second schema up: "up to date"');

($rc, $out, $err) = ctl(\%env, qw(schema status monolith));
is($rc, 0, 'schema status exits 0') or diag $err;
like($out, qr/^0001_schema\.sql\s+applied \d{4}-\d\d-\d\d /m, 'status lists 0001 as applied');

my @files = sort map { (split m{/})[-1] } glob("$MIGRATIONS/[0-9][0-9][0-9][0-9]_*.sql");
my $rows = mariadb_sql($db->{db}, 'SELECT version, checksum FROM schema_migrations ORDER BY version');
is_deeply([map { $_->[0] } @$rows], \@files, 'every migration file is recorded');
for my $r (@$rows) {
    is($r->[1], Digest::SHA::sha256_hex(do { local (@ARGV, $/) = ("$MIGRATIONS/$r->[0]"); <> }),
        "$r->[0]: recorded checksum is the file's SHA-256");
}

my @tables = qw(addresses cart_items carts categories inventory order_items orders payments
    product_attributes products reviews schema_migrations souk_cart_version souk_migration_marker
    users);
is_deeply([sort map { $_->[0] } @{mariadb_sql($db->{db},
    "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")}],
    \@tables, 'every expected table exists (and no other)');
is(sql1($db, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
    . "AND engine <> 'InnoDB'"), 0, 'every table is InnoDB');

# child table, column -> parent table, column
my @fks = (
    [qw(addresses user_id users id)],          [qw(cart_items cart_id carts id)],
    [qw(cart_items product_id products id)],   [qw(carts user_id users id)],
    [qw(categories parent_id categories id)],  [qw(inventory product_id products id)],
    [qw(order_items order_id orders id)],      [qw(order_items product_id products id)],
    [qw(orders user_id users id)],             [qw(payments order_id orders id)],
    [qw(product_attributes product_id products id)], [qw(products category_id categories id)],
    [qw(reviews product_id products id)],      [qw(reviews user_id users id)],
);
# Sorted here: information_schema's collation orders "_" after letters.
sub by_cols { join("\0", @$a) cmp join("\0", @$b) }
is_deeply([sort by_cols @{mariadb_sql($db->{db},
    "SELECT table_name, column_name, referenced_table_name, referenced_column_name "
        . "FROM information_schema.key_column_usage WHERE table_schema = DATABASE() "
        . "AND referenced_table_name IS NOT NULL")}],
    [sort by_cols @fks], 'every expected foreign key exists (and no other)');

my %checks = map { $_->[0] => 1 } @{mariadb_sql($db->{db},
    "SELECT constraint_name FROM information_schema.check_constraints "
        . "WHERE constraint_schema = DATABASE()")};
ok($checks{$_}, "CHECK constraint $_ exists")
    for qw(products_price_nonneg inventory_stock_nonneg cart_items_quantity reviews_rating);

# --- forward-only: a copy of the migrations we may edit ----------------------------------------
my $db2 = mariadb_fresh('schema_edit');
my $dir = File::Temp::tempdir(CLEANUP => 1);
File::Copy::copy($_, $dir) or die "copy $_: $!" for glob("$MIGRATIONS/*.sql");
%env = (SOUK_MONOLITH_DB => $db2->{dsn});

($rc, $out, $err) = ctl(\%env, qw(schema up monolith --dir), $dir);
is($rc, 0, 'copied migrations: up to date') or diag $err;

open my $fh, '>>', "$dir/0001_schema.sql" or die $!;
print $fh "-- an innocent-looking edit\n";
close $fh;
($rc, $out, $err) = ctl(\%env, qw(schema up monolith --dir), $dir);
is($rc, 1, 'an edited applied file: schema up exits 1');
like($err, qr/0001_schema\.sql changed after it was applied/, 'the message names the edited file');
($rc, $out, $err) = ctl(\%env, qw(schema status monolith --dir), $dir);
is($rc, 1, 'an edited applied file: schema status exits 1 too');
like($out, qr/0001_schema\.sql\s+applied .*CHANGED/, 'status marks the file as changed');
File::Copy::copy("$MIGRATIONS/0001_schema.sql", $dir) or die $!;

my $next = sprintf '%04d_t_extra.sql', @files + 1;
open $fh, '>', "$dir/$next" or die $!;
print $fh "-- 20_schema.t\nCREATE TABLE t_extra (id BIGINT PRIMARY KEY);\n"
    . "INSERT INTO t_extra VALUES (1), (2);\n";
close $fh;
($rc, $out, $err) = ctl(\%env, qw(schema up monolith --dir), $dir);
is($rc, 0, 'a new file is applied') or diag $err;
like($out, qr/^applied \Q$next\E/m, "output: applied $next");
is(sql1($db2, 'SELECT COUNT(*) FROM t_extra'), 2, 'every statement of the new file ran');
($rc, $out) = ctl(\%env, qw(schema up monolith --dir), $dir);
is($out, "up to date\n", 'and then it is up to date');

unlink "$dir/$next" or die $!;
($rc, $out, $err) = ctl(\%env, qw(schema up monolith --dir), $dir);
is($rc, 1, 'an applied file that disappeared: exit 1');
like($err, qr/\Q$next\E was applied but is missing/, 'the message names the missing file');

my $bad = sprintf '%04d_t_bad.sql', @files + 2;
open $fh, '>', "$dir/$next" or die $!;
print $fh "-- 20_schema.t\nCREATE TABLE t_extra (id BIGINT PRIMARY KEY);\n"
    . "INSERT INTO t_extra VALUES (1), (2);\n";
close $fh;
open $fh, '>', "$dir/$bad" or die $!;
print $fh "CREATE TABLE t_half (id INT PRIMARY KEY);\nALTER TABLE t_no_such_table ADD x INT;\n";
close $fh;
($rc, $out, $err) = ctl(\%env, qw(schema up monolith --dir), $dir);
is($rc, 1, 'a failing file: exit 1');
like($err, qr/\Q$bad\E failed/, 'the message names the failing file');
is(sql1($db2, "SELECT COUNT(*) FROM schema_migrations WHERE version = '$bad'"), 0,
    'a failing file is not recorded');

unlink "$dir/$bad" or die $!;
open $fh, '>', "$dir/" . sprintf('%04d_t_twin.sql', @files + 1) or die $!;
close $fh;
($rc, $out, $err) = ctl(\%env, qw(schema up monolith --dir), $dir);
is($rc, 1, 'two files with one number: exit 1');
like($err, qr/share a number/, 'the message says why');

# --- usage -------------------------------------------------------------------------------------
($rc) = ctl({}, qw(schema up));
is($rc, 2, 'missing target: usage error (2)');
($rc, $out, $err) = ctl({}, qw(schema up nosuchtarget));
is($rc, 2, 'unknown target: usage error (2)');
like($err, qr/unknown target "nosuchtarget"/, 'unknown target is named');
($rc, $out) = ctl({}, qw(schema --help));
is($rc, 0, 'schema --help exits 0');
like($out, qr/^usage: soukctl schema up TARGET/, 'schema --help prints usage');
($rc, $out, $err) = ctl({SOUK_MONOLITH_DB => 'mysql://nobody:x@127.0.0.1:1/none'},
    qw(schema up monolith --dir), $MIGRATIONS);
is($rc, 1, 'database down: exit 1');
like($err, qr/cannot reach the monolith database/, 'database down: a clear message');

done_testing;
