# The event backbone's tables belong to lib/: `soukctl schema up` applies lib/migrations (the
# "backbone/" track) to every service database that publishes or consumes, before the
# service's own files. A fresh database gets outbox and inbox from there; a database migrated
# with the old files (whose 0001 created them itself) upgrades in place: its 0001 is accepted
# as the revision the new file supersedes, the backbone file is a no-op on its tables, and the
# rows in them stay. A changed file that names no such revision is still refused.
use strict;
use warnings;
use File::Temp ();
use Test::More;
use lib 'tests/lib';
use Souk::Test;
use Digest::SHA ();

my $ROOT = repo_root();
# The services' 0001 files as they were at 71a0c28, the last commit whose services created
# outbox/inbox themselves, kept as fixtures (a shallow clone has no history to read them from).
my $OLD = "$ROOT/tests/integration/fixtures/pre-backbone";

infra('postgres');

sub tables {
    my ($db) = @_;
    return [map { $_->[0] } @{pg_sql($db, "SELECT table_name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_name IN ('outbox', 'inbox') ORDER BY 1")}];
}

sub versions { [map { $_->[0] } @{pg_sql($_[0], 'SELECT version FROM schema_migrations ORDER BY 1')}] }

sub old_file {
    my ($svc, $name) = @_;
    my $text = do { local (@ARGV, $/) = ("$OLD/$svc/$name"); <> };
    die "$OLD/$svc/$name: missing fixture\n" unless defined $text && length $text;
    return $text;
}

for my $svc (qw(catalog search users reviews cart)) {
    my $var = 'SOUK_' . uc($svc) . '_DB';
    my $dir = "$ROOT/services/$svc/migrations";
    my ($first) = map { (split m{/})[-1] } glob("$dir/0001_*.sql");

    # --- fresh -------------------------------------------------------------------------
    my $fresh = pg_fresh($svc);
    is_deeply(tables($fresh->{db}), [qw(inbox outbox)], "$svc fresh: outbox and inbox exist");
    my $v = versions($fresh->{db});
    ok((grep { $_ eq 'backbone/0001_backbone.sql' } @$v), "$svc fresh: the backbone file is recorded");
    ok((grep { $_ eq $first } @$v), "$svc fresh: $first is recorded");
    unlike(do { local (@ARGV, $/) = ("$dir/$first"); <> }, qr/CREATE TABLE (outbox|inbox)/,
        "$svc: $first no longer creates the backbone's tables");

    # --- migrated with the old files ------------------------------------------------------
    my $old = File::Temp::tempdir(CLEANUP => 1);
    my $none = File::Temp::tempdir(CLEANUP => 1);    # no backbone track back then
    for my $f (glob("$dir/*.sql")) {
        my $name = (split m{/}, $f)[-1];
        open my $fh, '>', "$old/$name" or die "$old/$name: $!";
        print $fh $name eq $first ? old_file($svc, $name)
            : do { local (@ARGV, $/) = ($f); <> };
        close $fh;
    }
    my $oldsum = Digest::SHA::sha256_hex(do { local (@ARGV, $/) = ("$old/$first"); <> });
    like(do { local (@ARGV, $/) = ("$dir/$first"); <> }, qr/^-- soukctl: supersedes $oldsum$/m,
        "$svc: $first names the old revision's checksum");
    my $db = do { local $ENV{SOUK_TEST_NO_SCHEMA} = 1; pg_fresh($svc) };
    my %env = ($var => $db->{dsn});
    my ($rc, $out, $err) = soukctl({%env, SOUK_MIGRATIONS_DIR => $old,
        SOUK_BACKBONE_MIGRATIONS_DIR => $none}, 'schema', 'up', $svc);
    is($rc, 0, "$svc old: migrated with the old files") or diag($err);
    ok((grep { $_ eq 'inbox' } @{tables($db->{db})}), "$svc old: its 0001 made the inbox");
    pg_sql($db->{db}, "INSERT INTO inbox (event_id, type)
        VALUES ('00000000-0000-4000-8000-000000000001', 'product.updated')");

    ($rc, $out, $err) = soukctl(\%env, 'schema', 'up', $svc);
    is($rc, 0, "$svc upgrade: schema up with the new files exits 0") or diag($err);
    my @backbone = map { (split m{/})[-1] } sort glob("$ROOT/lib/migrations/*.sql");
    is(join('', map { s/\(\d+ ms\)$/(N ms)/r . "\n" } split /\n/, $out),
        join('', map {"applied backbone/$_ (N ms)\n"} @backbone),
        "$svc upgrade: only the backbone files are applied (@backbone)");
    is_deeply(tables($db->{db}), [qw(inbox outbox)], "$svc upgrade: outbox and inbox exist");
    is(pg_sql($db->{db}, 'SELECT count(*) FROM inbox')->[0][0], 1, "$svc upgrade: the inbox kept its row");
    ($rc, $out, $err) = soukctl(\%env, 'schema', 'status', $svc);
    like($out, qr/^\Q$first\E\s+applied .* \(as an earlier revision it supersedes\)$/m,
        "$svc upgrade: status says $first was applied as the superseded revision");
    ($rc, $out) = soukctl(\%env, 'schema', 'up', $svc);
    is($out, "up to date\n", "$svc upgrade: a second run is up to date");
}

# --- a change that supersedes nothing is still refused ------------------------------------------
my $db = do { local $ENV{SOUK_TEST_NO_SCHEMA} = 1; pg_fresh('cart') };
my $edited = File::Temp::tempdir(CLEANUP => 1);
my ($first) = map { (split m{/})[-1] } glob("$ROOT/services/cart/migrations/0001_*.sql");
open my $fh, '>', "$edited/$first" or die $!;
print $fh old_file('cart', $first) . "-- one more line\n";
close $fh;
my ($rc, $out, $err) = soukctl({SOUK_CART_DB => $db->{dsn}, SOUK_MIGRATIONS_DIR => $edited,
    SOUK_BACKBONE_MIGRATIONS_DIR => File::Temp::tempdir(CLEANUP => 1)}, qw(schema up cart));
is($rc, 0, 'edited: migrated with an edited old revision') or diag($err);
($rc, $out, $err) = soukctl({SOUK_CART_DB => $db->{dsn}}, qw(schema up cart));
is($rc, 1, 'edited: the current file does not supersede that revision: refused');
like($err, qr/\Q$first\E changed after it was applied/, 'edited: the message names the file');

done_testing;
