# The poison check counts handler starts, not the broker's returns (lib/mq_consume.c,
# inbox_starts). A good event that came back to the queue six times without any handler
# seeing it (souk-mqbounce takes it and drops the connection each time, as a consumer that
# loses its connection or stops with the message in its buffer does) has x-delivery-count 6.
# With max_attempts 3, counting the broker's returns parked it at once as "killed its consumer
# every time" (seen in services/payments/t/30_never_twice.t under load); it must be handled, once.
use strict;
use warnings;
use Test::More;
use File::Temp ();
use lib 'tests/lib';
use Souk::Test;
use Souk::Probe;

infra('postgres', 'rabbitmq');
my $db = probe_db('returns');
my $amqp = rabbit_vhost();
my %env = (SOUK_PROBE_DB => pg_admin_dsn($db), SOUK_AMQP_URL => $amqp, SOUK_MQ_MAX_ATTEMPTS => 3);

# the probe's queue exists and one event waits in the outbox, not published
my $p = spawn_service('mqprobe', %env, SOUK_OUTBOX_PAUSED => 1);
ok(wait_until('ready', sub { http(GET => $p->url . '/ready')->{status} == 200 }, 30), 'probe ready');
is(http(POST => $p->url . '/emit', {json => {n => 1, start => 5000}})->{status}, 201, 'one event committed');
undef $p;
my ($id, $type, $envelope) = @{pg_sql($db, 'SELECT id, type, envelope FROM outbox')->[0]};
pg_sql($db, 'UPDATE outbox SET sent_at = now()');    # published by the bouncer instead

my $file = File::Temp->new;
print $file $envelope;
close $file;
my ($rc, $out, $err) = Souk::Test::_run([Souk::Test::_bin('souk-mqbounce'), $amqp, 'probe', $type, $id, "$file", 6]);
is($rc, 0, 'the event was published and returned six times unseen') or diag($out, $err);

$p = spawn_service('mqprobe', %env);
ok(wait_until('the effect', sub {
    pg_sql($db, 'SELECT count(*) FROM effects WHERE n = 5000')->[0][0] >= 1 }, 30),
    'the event is handled') or diag($p->stderr_text);
is_deeply(pg_sql($db, 'SELECT count(*) FROM effects WHERE n = 5000'), [[1]], '... once');
is_deeply(pg_sql($db, "SELECT starts FROM inbox_starts WHERE event_id = '$id'"), [[1]],
    'one handler start recorded for the redelivery');
($rc, $out) = soukctl({SOUK_AMQP_URL => $amqp}, 'dlq', 'list', 'probe');
is(scalar(grep {length} split /\n/, $out // ''), 0, 'nothing parked') or diag($out);
unlike($p->stderr_text, qr/parked a message/, 'no park in the log');
undef $p;

done_testing;
