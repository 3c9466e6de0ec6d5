# soukctl migrate: the state table (the `migrate` target), the step order, and verify for the
# reviews domain against a real monolith and a real reviews database: equal sides agree; a
# changed, missing or extra row on either side is found and named by its id; shadow is
# refused after a verify that found differences; status shows every domain's step, the last
# verify and who ran what when. (The sync step is 34_migrate_playbook.t's: here the state
# row is put at "sync" by hand so verify runs with no capture process moving rows.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Souk::Test;

my $mono = mariadb_fresh('migverify');
my $revs = pg_fresh('reviews');
my $state = pg_fresh('migrate');
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_REVIEWS_DB => $revs->{dsn},
    SOUK_MIGRATE_DB => $state->{dsn}, USER => 'tester');

my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 40 --users 10 --orders 5 --reviews 120
    --carts 1 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;

# ---- usage and the step order ------------------------------------------------------------------

($rc, $out) = soukctl(\%env, qw(migrate --help));
is($rc, 0, 'migrate --help');
like($out, qr/^\s+backfill\s.*^\s+sync\s.*^\s+verify\s.*^\s+shadow\s.*^\s+canary\s.*^\s+cutover\s.*^\s+reverse\s.*^\s+finish\s.*^\s+rollback\s/ms,
    '...lists the steps in playbook order');
($rc, $out) = soukctl(\%env, qw(migrate status --help));
is($rc, 0, 'migrate status --help');
like($out, qr/^usage: soukctl migrate status/m, '...its usage');
($rc, $out) = soukctl(\%env, qw(migrate reviews cutover --help));
is($rc, 0, 'a step has its own --help');
like($out, qr/^usage: soukctl migrate reviews cutover/m, '...naming the step');
($rc, undef, $err) = soukctl(\%env, qw(migrate nosuch verify));
is($rc, 2, 'an unknown domain is a usage error');
($rc, undef, $err) = soukctl(\%env, qw(migrate reviews jump));
is($rc, 2, 'an unknown step is a usage error');
($rc, undef, $err) = soukctl(\%env, qw(migrate reviews verify));
is($rc, 1, 'verify before backfill and sync is refused');
like($err, qr/reviews verify: the domain is at none \(last run: - never started\)/, '...saying where the domain is');

($rc, $out, $err) = soukctl(\%env, qw(migrate reviews backfill));
is($rc, 0, 'migrate reviews backfill') or diag $err;
like($out, qr/^reviews backfill: done in/m, '...done');
($rc, undef, $err) = soukctl(\%env, qw(migrate reviews cutover));
is($rc, 1, 'cutover right after backfill is refused');

sub state_row { pg_sql($state->{db}, "SELECT step, status, updated_by FROM migration_state WHERE domain = 'reviews'")->[0] }
is_deeply(state_row(), ['backfill', 'done', 'tester'], 'the state row: backfill done, by $USER');
pg_sql($state->{db}, "UPDATE migration_state SET step = 'sync', done_step = 'sync' WHERE domain = 'reviews'");

# ---- verify ----------------------------------------------------------------------------------

sub verify { my ($rc, $out, $err) = soukctl(\%env, qw(migrate reviews verify --range 25)); ($rc, $out . $err) }

my ($vrc, $vout) = verify();
is($vrc, 0, 'verify right after the backfill agrees') or diag $vout;
like($vout, qr/^verify reviews reviews: 120 rows on the monolith, 120 on the service; \d+ ranges of 25 keys, 0 differed; 0 keys still differ/m,
    '...counting every review on both sides, by ranges of 25 ids');
like($vout, qr/^verify reviews ratings: .* 0 keys still differ/m, '...and the ratings');
like($vout, qr/^verify reviews user names: .* 0 keys still differ/m, '...and the user names');
is_deeply(state_row(), ['verify', 'done', 'tester'], 'the state moves to verify');
is(pg_sql($state->{db}, "SELECT verify_ok FROM migration_state WHERE domain = 'reviews'")->[0][0], 't',
    'and records that the sides agreed');

my ($a, $b, $c, $d) = map { $_->[0] } @{mariadb_sql($mono->{db}, 'SELECT id FROM reviews ORDER BY id LIMIT 4')};
my $max = mariadb_sql($mono->{db}, 'SELECT MAX(id) FROM reviews')->[0][0];
pg_sql($revs->{db}, "UPDATE reviews SET doc = jsonb_set(doc, '{title}', '\"changed\"') WHERE id = $a");
pg_sql($revs->{db}, "DELETE FROM reviews WHERE id = $b");
mariadb_sql($mono->{db}, "UPDATE reviews SET body = CONCAT(body, '!') WHERE id = $c");
my $extra = $max + 1000;
pg_sql($revs->{db}, "INSERT INTO reviews (id, product_id, user_id, doc, created_at)
    SELECT $extra, product_id, 999999, doc, created_at FROM reviews WHERE id = $d");
($vrc, $vout) = verify();
is($vrc, 1, 'verify fails when the sides differ');
like($vout, qr/^  reviews id $a: differs$/m, 'a row changed on the service is found by its id');
like($vout, qr/^  reviews id $b: missing on the service$/m, 'a row missing on the service');
like($vout, qr/^  reviews id $c: differs$/m, 'a row changed on the monolith');
like($vout, qr/^  reviews id $extra: only on the service$/m, 'an extra row on the service');
like($vout, qr/^verify reviews reviews: 120 rows on the monolith, 120 on the service; \d+ ranges of 25 keys, [1-9]\d* differed; 4 keys still differ/m,
    '...4 keys in all, in the ranges whose checksums differ');
my @listed = $vout =~ /^  reviews id (\d+):/mg;
is(scalar(@listed), 4, '...and no other review is named');
is(pg_sql($state->{db}, "SELECT verify_ok FROM migration_state WHERE domain = 'reviews'")->[0][0], 'f',
    'the state records the failed verify');

($rc, undef, $err) = soukctl(\%env, qw(migrate reviews shadow));
is($rc, 1, 'shadow after a verify that found differences is refused');
like($err, qr/the last verify found differences; run soukctl migrate reviews verify/, '...saying why');

# ---- status ------------------------------------------------------------------------------------

($rc, $out, $err) = soukctl(\%env, qw(migrate status));
is($rc, 0, 'migrate status') or diag $err;
like($out, qr/^DOMAIN\s+STEP\s+LAST RUN\s+BY\s+AT\s+SYNC LAG\s+REVERSE LAG\s+LAST VERIFY\s+HOLD$/m, 'a header');
like($out, qr/^reviews\s+verify\s+shadow failed\s+tester\s+\S+Z\s+-\s+-\s+DIFFERED \S+Z\s+-$/m,
    'reviews: at verify, the shadow that failed, who, when, no sync yet, the verify that differed, no hold yet');
like($out, qr/^who ran what when/m, 'the log follows');
like($out, qr/tester\s+reviews\s+backfill\s+done\s+\d+ ms/, '...with the backfill, who ran it and how long it took');
like($out, qr/tester\s+reviews\s+verify\s+failed/, '...and the failed verify');

done_testing;
