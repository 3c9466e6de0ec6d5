# soukctl migrate reports each domain's record to the gateway's admin API (PUT
# /migration/{domain}) for the control room (web/console, GET /migration): a step's start and
# its end with who, when and the log; a restarted gateway still has it (migration.json beside
# its routes file); `migrate status` sends every domain again, with the last verify's detail; a gateway that is down costs a warning, not the
# step. Real MariaDB, PostgreSQL and souk-gateway.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Souk::Test;
use Souk::FakeUpstream;
use Souk::Gateway;

my $mono = mariadb_fresh('migreport');
my $revs = pg_fresh('reviews');
my $state = pg_fresh('migrate');
my $up = Souk::FakeUpstream->start(name => 'monolith');
my $gw = Souk::Gateway->start(routes => table(upstreams => {monolith => pool($up)},
    routes => [route(name => 'rest', path => '/', legacy => 'monolith')]));
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_REVIEWS_DB => $revs->{dsn}, SOUK_MIGRATE_DB => $state->{dsn},
    USER => 'tester', SOUK_GATEWAY_ADMIN_LISTEN => '127.0.0.1:' . $gw->admin_port,
    SOUK_GATEWAY_ADMIN_TOKEN => $Souk::Gateway::ADMIN_TOKEN);

my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 20 --users 5 --orders 2 --reviews 30 --carts 1 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;

sub report { $gw->admin(GET => '/migration')->{json}{domains}{$_[0]} }

($rc, $out, $err) = soukctl(\%env, qw(migrate reviews backfill));
is($rc, 0, 'migrate reviews backfill') or diag $err;
unlike($err, qr/control room/, 'no warning: the gateway took the reports');
my $r = report('reviews');
is($r->{step}, 'backfill', 'the gateway has the step');
is($r->{status}, 'done', 'done');
is($r->{done_step}, 'backfill', 'where the playbook stands');
is($r->{updated_by}, 'tester', 'who ran it');
like($r->{updated_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'when');
like($r->{detail} // '', qr/\S/, 'what it did');
ok(grep({ /backfill\s+started/ } @{$r->{log}}) && grep({ /backfill\s+done/ } @{$r->{log}}), 'the log: started, then done')
    or diag explain $r->{log};

# A restarted gateway keeps the record; status sends every domain again (a verify since).
pg_sql($state->{db}, "UPDATE migration_state SET verify_at = now(), verify_ok = false,
    verify_detail = 'reviews id 7: differs; reviews id 9: missing on the service' WHERE domain = 'reviews'");
$gw->restart;
$env{SOUK_GATEWAY_ADMIN_LISTEN} = '127.0.0.1:' . $gw->admin_port;    # restart() takes new ports
is_deeply($gw->admin(GET => '/migration')->{json}{domains}{reviews}, $r, 'a restarted gateway still has the record as reported');
($rc, $out, $err) = soukctl(\%env, qw(migrate status));
is($rc, 0, 'migrate status') or diag $err;
$r = report('reviews');
is($r->{step}, 'backfill', 'status sent the record again');
is($r->{verify_ok}, JSON_FALSE, 'with the last verify: the sides differed');
like($r->{verify_detail} // '', qr/reviews id 7: differs; reviews id 9: missing/, 'and the differing ids');

# A gateway that is down: the step still runs, one warning says the copy is stale.
$gw->stop;
($rc, $out, $err) = soukctl(\%env, qw(migrate reviews backfill));
is($rc, 0, 'a step runs with the gateway down');
like($err, qr/the control room's copy of reviews is not updated/, 'with a warning');
done_testing;
