# Database per service (DESIGN.md §2): `soukctl db create` gives catalog, search and reporting
# each a role and a database no other role can connect to or read (reporting's materialized
# views included), and `soukctl schema` on
# PostgreSQL is forward-only, idempotent, transactional per file and serialised by a lock.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Copy ();
use File::Temp ();
use POSIX ();
use Test::More;
use Souk::Test;

my $cat = pg_fresh('catalog');
my $sea = pg_fresh('search');
my $rep = pg_fresh('reporting');

sub as_owner { my ($d, $sql) = @_; return pg_sql($d->{db}, $sql, $d->{user}, $d->{password}) }

# --- no role reaches the other's database --------------------------------------------------
for ([$cat, $sea], [$sea, $cat], [$rep, $cat], [$cat, $rep]) {
    my ($me, $other) = @$_;
    my $rows = eval { pg_sql($other->{db}, 'SELECT 1', $me->{user}, $me->{password}) };
    ok(!$rows, "$me->{user} cannot connect to $other->{db}");
    like($@, qr/permission denied for database/, '... refused with "permission denied"');

    my $p = pg_sql(undef, "SELECT has_database_privilege('$me->{user}', '$other->{db}', 'CONNECT'),
        has_database_privilege('$me->{user}', '$other->{db}', 'CREATE'),
        has_database_privilege('$me->{user}', '$other->{db}', 'TEMP')")->[0];
    is_deeply($p, [qw(f f f)], "$me->{user} has no privilege on database $other->{db}");

    # Even if it could connect, it could not read or write a table, nor create one.
    my $t = pg_sql($other->{db}, "SELECT c.relname,
            has_table_privilege('$me->{user}', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE'),
            has_table_privilege('$other->{user}', c.oid, 'SELECT, INSERT, UPDATE, DELETE')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1");
    ok(scalar(grep { $_->[0] eq 'schema_migrations' } @$t), "$other->{db} has its tables");
    is_deeply([grep { $_->[1] ne 'f' } @$t], [], "$me->{user} may not touch any table of it");
    is_deeply([grep { $_->[2] ne 't' } @$t], [], "$other->{user} owns every one of them");
    is(pg_sql($other->{db}, "SELECT has_schema_privilege('$me->{user}', 'public', 'CREATE')")->[0][0],
        'f', "$me->{user} cannot create in $other->{db}'s public schema");
}
is_deeply(pg_sql(undef, "SELECT has_database_privilege('public', '$cat->{db}', 'CONNECT'),
    has_database_privilege('public', '$sea->{db}', 'CONNECT')")->[0], [qw(f f)],
    'PUBLIC may connect to neither');
is_deeply(pg_sql(undef, "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles
    WHERE rolname = '$cat->{user}'")->[0], [qw(f f f)], 'the service role is not privileged');
is(as_owner($cat, "SELECT current_user, count(*) FROM schema_migrations")->[0][0], $cat->{user},
    'the owner reads its own tables');

# --- db create is idempotent and resets the password ------------------------------------------
my %cenv = (SOUK_CATALOG_DB => $cat->{dsn}, SOUK_PG_ADMIN_DSN => pg_admin_dsn());
my ($rc, $out, $err) = soukctl(\%cenv, qw(db create catalog));
is($rc, 0, 'db create again exits 0') or diag $err;
like($out, qr/^database $cat->{db} ready for role $cat->{user}/, '... and says so');
(my $dsn2 = $cat->{dsn}) =~ s/:souk-test\@/:souk-other\@/;
($rc, $out, $err) = soukctl({%cenv, SOUK_CATALOG_DB => $dsn2}, qw(db create catalog));
is($rc, 0, 'db create with a new password exits 0') or diag $err;
ok(eval { pg_sql($cat->{db}, 'SELECT 1', $cat->{user}, 'souk-other') }, 'the new password works');
ok(!eval { pg_sql($cat->{db}, 'SELECT 1', $cat->{user}, 'souk-test') }, 'the old one does not');
soukctl(\%cenv, qw(db create catalog));    # back to the first
($rc, $out, $err) = soukctl({%cenv, SOUK_CATALOG_DB => 'postgresql://Bad-Name:x@127.0.0.1/x'},
    qw(db create catalog));
is($rc, 1, 'db create refuses a name that is not a plain word');
like($err, qr/SOUK_CATALOG_DB must be postgresql:/, '... naming the variable');

# --- schema up|status ------------------------------------------------------------------------
($rc, $out, $err) = soukctl(\%cenv, qw(schema up catalog));
is($rc, 0, 'schema up again exits 0') or diag $err;
is($out, "up to date\n", '... and changes nothing');
($rc, $out, $err) = soukctl(\%cenv, qw(schema status catalog));
is($rc, 0, 'schema status exits 0') or diag $err;
like($out, qr/^0001_\S+\.sql\s+applied \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/m,
    'status lists 0001 as applied, with the time');

# A copy of the migrations we may edit, on a database migrated from the originals.
my $dir = File::Temp::tempdir(CLEANUP => 1);
my $src = repo_root() . '/services/catalog/migrations';
$src = $ENV{SOUK_MIGRATIONS_DIR} if $ENV{SOUK_MIGRATIONS_DIR};
File::Copy::copy($_, $dir) or die "copy $_: $!" for glob("$src/*.sql");
my ($first) = sort glob("$dir/[0-9][0-9][0-9][0-9]_*.sql");
sub ctl_dir { soukctl(\%cenv, 'schema', @_, 'catalog', '--dir', $dir) }
sub spew { open my $fh, '>', $_[0] or die "$_[0]: $!"; print $fh $_[1]; close $fh }

($rc, $out) = ctl_dir('up');
is("$rc $out", "0 up to date\n", 'the copied files are the applied ones');

spew("$dir/9998_broken.sql", "CREATE TABLE half_done (x int);\nSELECT no_such_column;\n");
($rc, $out, $err) = ctl_dir('up');
is($rc, 1, 'a failing file exits 1');
like($err, qr/9998_broken\.sql failed/, '... naming the file');
is_deeply(pg_sql($cat->{db}, "SELECT to_regclass('public.half_done') IS NULL,
    (SELECT count(*) FROM schema_migrations WHERE version = '9998_broken.sql')")->[0],
    [qw(t 0)], '... and leaves nothing of it behind (one transaction)');

spew("$dir/9998_broken.sql", "CREATE TABLE half_done (x int);\n");
($rc, $out, $err) = ctl_dir('up');
is($rc, 0, 'the fixed file applies') or diag $err;
like($out, qr/^applied 9998_broken\.sql \(\d+ ms\)$/m, '... and is reported');
is(as_owner($cat, "SELECT count(*) FROM half_done")->[0][0], 0, '... its table belongs to the role');

spew("$dir/0000_early.sql", "SELECT 1;\n");
($rc, $out, $err) = ctl_dir('up');
is($rc, 1, 'a new file sorting before an applied one is refused');
like($err, qr/0000_early\.sql is new but sorts before/, '... with a message');
unlink "$dir/0000_early.sql";

{
    open my $fh, '>>', $first or die;
    print $fh "\n-- an edit after the fact\n";
}
($rc, $out, $err) = ctl_dir('up');
is($rc, 1, 'a changed applied file is refused');
like($err, qr/changed after it was applied/, '... with a message');
($rc, $out, $err) = ctl_dir('status');
is($rc, 1, 'status refuses too');
like($out, qr/\(CHANGED since\)/, '... after marking the file');

# --- two soukctl at once: the lock serialises them ---------------------------------------------
my $race;
{
    local $ENV{SOUK_TEST_NO_SCHEMA} = 1;
    $race = pg_fresh('catalog');
}
my $rdir = File::Temp::tempdir(CLEANUP => 1);
spew("$rdir/0001_slow.sql", "SELECT pg_sleep(0.5);\nCREATE TABLE raced (x int);\n");
my @kids;
for my $i (1, 2) {
    my $o = File::Temp->new;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my ($r, $so, $se) = soukctl({SOUK_CATALOG_DB => $race->{dsn}},
            qw(schema up catalog --dir), $rdir);
        open my $fh, '>', $o->filename or POSIX::_exit(3);
        print $fh $so, $se;
        close $fh;
        POSIX::_exit($r);
    }
    push @kids, [$pid, $o];
}
my @outs;
for my $k (@kids) {
    waitpid $k->[0], 0;
    is($? >> 8, 0, "concurrent schema up $k->[0] exits 0");
    push @outs, do { local (@ARGV, $/) = ($k->[1]->filename); <> };
}
is_deeply([sort @outs], [sort("up to date\n", $outs[0] =~ /^applied/ ? $outs[0] : $outs[1])],
    'one applied the file, the other found it up to date') or diag explain \@outs;
is(pg_sql($race->{db}, "SELECT count(*) FROM schema_migrations WHERE version = '0001_slow.sql'")
    ->[0][0], 1, 'recorded once');

done_testing;
