# The event backbone (lib/mq*.c) end to end with souk-mqprobe, a real PostgreSQL and a real
# RabbitMQ: no event lost while the broker is down, none applied twice, poison events parked in
# the DLQ after their retries and replayed by soukctl, and an event committed by a process that
# was killed -9 before publishing still published after the restart.
# This file stops and starts its broker, so it runs its own (not the run's shared one).
use strict;
use warnings;
use Test::More;
use POSIX ();
use Time::HiRes ();
use lib 'tests/lib';

BEGIN { delete $ENV{SOUK_TEST_RABBIT_PORT} }    # a private broker: we take it down below
use Souk::Test;
use Souk::Probe;

infra('postgres', 'rabbitmq');
my $db = probe_db('backbone');    # outbox and inbox are lib's own migration, as in every service
my $dsn = pg_admin_dsn($db);
my $amqp = rabbit_vhost();
my %env = (SOUK_PROBE_DB => $dsn, SOUK_AMQP_URL => $amqp, SOUK_MQ_MAX_ATTEMPTS => 3,
    SOUK_MQ_RETRY_DELAY_MS => 100);

sub effects { http(GET => $_[0]->url . '/effects')->{json} }
sub hooks { http(GET => $_[0]->url . '/hooks')->{json} }

sub metric { metric_value(@_) // -1 }

sub emit {
    my ($svc, %body) = @_;
    my $r = http(POST => $svc->url . '/emit', {json => \%body});
    is($r->{status}, 201, "emit $body{n} from " . ($body{start} // 0)) or diag($r->{body});
}

sub dlq { soukctl({SOUK_AMQP_URL => $amqp}, 'dlq', @_) }

my $p = spawn_service('mqprobe', %env);

# -- the happy path
emit($p, n => 10, start => 0);
ok(wait_until('10 effects', sub { effects($p)->{rows} == 10 }), 'ten events consumed');
ok(wait_until('10 hooks', sub { hooks($p)->{after_commit} == 10 }, 20),
    'after_commit: the hook ran once per applied event');
is(hooks($p)->{outside_tx}, 10, 'after_commit: each time after the commit (no transaction open)');

# -- broker down while 1000 events are committed
my ($rc, $out, $err) = rabbitmqctl('-q', 'stop_app');
is($rc, 0, 'broker stopped') or diag($err);
emit($p, n => 1000, start => 1000);
is(pg_sql($db, 'SELECT count(*) FROM emitted')->[0][0], 1010, 'every write committed while the broker is down');
ok(wait_until('backlog gauge', sub { metric($p, 'souk_outbox_backlog') == 1000 }, 10),
    '/metrics shows the 1000-row outbox backlog');
ok(wait_until('not ready', sub { http(GET => $p->url . '/ready')->{status} == 503 }, 15),
    '/ready is 503 while the broker is down');
($rc, $out, $err) = rabbitmqctl('-q', 'start_app');
is($rc, 0, 'broker started again') or diag($err);
ok(wait_until('1010 effects', sub { effects($p)->{rows} >= 1010 }, 90), 'the backlog drains');
Time::HiRes::sleep(0.5);
is_deeply(effects($p), {rows => 1010, events => 1010, numbers => 1010},
    'exactly 1010 effects: none lost, none applied twice');
is(pg_sql($db, 'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0], 0, 'outbox all sent');
# the gauge is refreshed once a second by the relay: give it that long, and the slack a
# sanitizer build on a loaded machine needs (5 s was a margin, not the state)
ok(wait_until('backlog gauge 0', sub { metric($p, 'souk_outbox_backlog') == 0 }, 20),
    'backlog gauge back to 0');
my @order = map { $_->[0] } @{pg_sql($db,
    "SELECT aggregate_id FROM outbox ORDER BY seq")};
is_deeply(\@order, [sort { $a <=> $b } @order], 'outbox seq follows commit order');

# -- the same event delivered twice: one effect
my $dups = metric($p, 'souk_events_duplicates_total');
pg_sql($db, 'UPDATE outbox SET sent_at = NULL WHERE aggregate_id BETWEEN 1000 AND 1004');
ok(wait_until('duplicates', sub { metric($p, 'souk_events_duplicates_total') >= $dups + 5 }, 30),
    'five re-published events are recognised as duplicates');
is(effects($p)->{rows}, 1010, 'and change nothing');
is_deeply({map { my $h = hooks($p); ($_ => $h->{$_}) } qw(after_commit outside_tx)},
    {after_commit => 1010, outside_tx => 1010},
    'after_commit: once per applied event, none for the duplicates');

# -- a transient failure: retried after a delay, applied once
emit($p, n => 1, start => 6000, fail_attempts => 1);
ok(wait_until('retried event', sub { effects($p)->{rows} == 1011 }, 30),
    'an event that fails once is applied on its second attempt');
cmp_ok(metric($p, 'souk_events_retried_total'), '>=', 1, 'and counted as retried');
ok(wait_until('1011 hooks', sub { hooks($p)->{after_commit} == 1011 }, 20),
    'after_commit: run for the good attempt');
Time::HiRes::sleep(0.2);
is(hooks($p)->{after_commit}, 1011, 'after_commit: not for the failed one');

# -- a poison event: parked after 3 attempts, replayed once the cause is fixed
pg_sql($db, 'INSERT INTO poison VALUES (5000)');
emit($p, n => 1, start => 5000);
ok(wait_until('dead letter', sub { metric($p, 'souk_events_dead_lettered_total') == 1 }, 30),
    'the poison event is dead-lettered');
($rc, $out, $err) = dlq('list', 'probe');
is($rc, 0, 'soukctl dlq list') or diag($err);
my @dead = map { [split /\t/] } grep {length} split /\n/, $out;
is(scalar @dead, 1, 'one dead letter listed');
my ($id, $type, $attempts, $died, $why) = @{$dead[0] || []};
like($id // '', qr/^[0-9a-f-]{36}$/, 'with its event id');
is($type, 'product.updated', 'its type');
is($attempts, 3, 'after max_attempts attempts');
like($why // '', qr/number 5000 is poisoned/, 'and the handler\'s reason');
is(effects($p)->{rows}, 1011, 'no effect from the poison event');
is(hooks($p)->{after_commit}, 1011, 'after_commit: never run for a rolled-back attempt');
($rc, $out) = dlq('show', 'probe', $id);
like($out, qr/"aggregate_id":5000/, 'dlq show prints the envelope');
($rc, $out, $err) = dlq('replay', 'probe', 'not-a-uuid');
is($rc, 2, 'replay of a malformed id is a usage error');
($rc, $out, $err) = dlq('replay', 'probe', '00000000-0000-4000-8000-000000000000');
is($rc, 1, 'replay of an unknown id fails');
like($err, qr/no dead letter/, 'and says so');
is(scalar(@{[grep {length} split /\n/, (dlq('list', 'probe'))[1]]}), 1, 'listing left the DLQ as it was');
pg_sql($db, 'DELETE FROM poison');
($rc, $out, $err) = dlq('replay', 'probe', $id);
is($rc, 0, 'replay after the fix') or diag($err);
like($out, qr/replayed 1 message/, 'replays one message');
ok(wait_until('replayed effect', sub { effects($p)->{rows} == 1012 }, 30), 'the replayed event is applied');
Time::HiRes::sleep(0.3);
is(effects($p)->{numbers}, 1012, 'once');
is((dlq('list', 'probe'))[1], '', 'the DLQ is empty');

# -- drop; and an envelope that cannot be decoded goes to the DLQ without retries
pg_sql($db, 'INSERT INTO poison VALUES (7000)');
emit($p, n => 1, start => 7000);
pg_sql($db, q[INSERT INTO outbox (id, type, aggregate_id, envelope)
    VALUES ('11111111-1111-4111-8111-111111111111', 'product.updated', 1, '{"not":"an envelope"')]);
ok(wait_until('two dead letters', sub { metric($p, 'souk_events_dead_lettered_total') == 3 }, 30),
    'poison and undecodable envelopes parked');
($rc, $out) = dlq('list', 'probe');
like($out, qr/11111111-1111-4111-8111-111111111111\tproduct\.updated\t1\t[^\t]+\tundecodable envelope/,
    'the undecodable one after a single attempt');
($rc, $out) = dlq('drop', 'probe', '--all');
like($out, qr/dropped 2 message/, 'dlq drop --all');
is((dlq('list', 'probe'))[1], '', 'the DLQ is empty again');

# -- kill -9 between commit and publish
$p->stop;
my $paused = spawn_service('mqprobe', %env, SOUK_OUTBOX_PAUSED => 1, SOUK_PROBE_CONSUME => 0);
emit($paused, n => 20, start => 8000);
is(pg_sql($db, 'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0], 20,
    '20 events committed, none published');
kill 'KILL', $paused->pid;
waitpid $paused->pid, 0;
$paused->{done} = 1;    # killed on purpose: not a shutdown to check
$p = spawn_service('mqprobe', %env);
ok(wait_until('after restart', sub { effects($p)->{rows} == 1032 }, 30),
    'after the restart every committed event is published and applied');
Time::HiRes::sleep(0.3);
is(effects($p)->{numbers}, 1032, 'each once');

# -- publisher confirms out of order: 1000 rows waiting, relayed in full batches that go half to
# the probe's quorum queue and half to no queue (the souk.unrouted alternate exchange, another
# quorum queue), so the broker confirms each batch out of order. Every row is published once.
$p->stop;
$paused = spawn_service('mqprobe', %env, SOUK_OUTBOX_PAUSED => 1, SOUK_PROBE_CONSUME => 0);
emit($paused, n => 1000, start => 20000, mixed => 1);
$paused->stop;
is(pg_sql($db, 'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0], 1000,
    'confirms: 1000 mixed events wait in the outbox');
$p = spawn_service('mqprobe', %env);
ok(wait_until('mixed backlog drained', sub {
    pg_sql($db, 'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0] == 0 }, 60),
    'confirms: the backlog drains');
is(metric($p, 'souk_outbox_publishes_total'), 1000, 'confirms: 1000 publishes, none republished');
is(metric($p, 'souk_events_publish_failures_total'), 0, 'confirms: no failed batch');
ok(wait_until('mixed effects', sub { effects($p)->{rows} == 1532 }, 30),
    'confirms: the 500 routed events are applied');
is(metric($p, 'souk_events_duplicates_total'), 0, 'confirms: the consumer saw no copy');

# -- a poison event that kills the consumer (abort() in its handler): the quorum queue counts the
# deliveries that were never settled (x-delivery-count); after max_attempts (3) of them the event
# is parked in probe.dlq without running the handler again, and the events behind it flow.
$p->stop;
my $emitter = spawn_service('mqprobe', %env, SOUK_PROBE_CONSUME => 0);
emit($emitter, n => 10, start => 30000);
ok(wait_until('abort batch sent', sub {
    pg_sql($db, 'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0] == 0 }, 30),
    'abort: 10 events published, the first one deadly');
$emitter->stop;
my ($crashes, $settled) = (0, 0);
for my $launch (1 .. 8) {
    my $c = launch_service('mqprobe', %env, SOUK_PROBE_ABORT_ON => 30000, SOUK_OUTBOX_PAUSED => 1);
    my $died = wait_until("launch $launch dies or applies the rest", sub {
        return 'died' if waitpid($c->pid, POSIX::WNOHANG()) == $c->pid;
        return pg_sql($db, 'SELECT count(*) FROM effects WHERE n BETWEEN 30000 AND 30009')->[0][0] == 9;
    }, 20);
    if (($died || '') ne 'died') {    # alive: it settled (or hangs: stop says so)
        $settled = $c->stop;
        last;
    }
    $c->{done} = 1;    # reaped above
    $crashes++;
    is($? & 127, POSIX::SIGABRT(), "abort: launch $launch died of the poison event") or last;
}
ok($settled, 'abort: the consumer settled after its crashes');
is($crashes, 3, 'abort: it crashed max_attempts (3) times, no more');
($rc, $out, $err) = dlq('list', 'probe');
@dead = map { [split /\t/] } grep {length} split /\n/, $out;
is(scalar @dead, 1, 'abort: one dead letter');
like($dead[0][4] // '', qr/handled 3 time\(s\) without being settled/, 'abort: the reason says why');
is($dead[0][2], 3, 'abort: after 3 attempts');
is_deeply(pg_sql($db, 'SELECT count(*), count(DISTINCT n), min(n), max(n) FROM effects
    WHERE n BETWEEN 30000 AND 30009'), [[9, 9, 30001, 30009]],
    'abort: the nine others applied exactly once, the deadly one not at all');
($rc, $out) = dlq('drop', 'probe', '--all');

# -- a crash after the commit and before the ack (in the after-commit hook). With max_attempts 1
# the redelivery is past the limit by that one unsettled delivery alone; the inbox shows the
# event was applied, so it is acked as a duplicate, not parked (a dead letter replayed after the
# inbox horizon would apply it twice).
$emitter = spawn_service('mqprobe', %env, SOUK_PROBE_CONSUME => 0);
emit($emitter, n => 1, start => 31000);
ok(wait_until('after-commit event sent', sub {
    pg_sql($db, 'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0] == 0 }, 30),
    'after commit: the event is published');
$emitter->stop;
my %one = (%env, SOUK_MQ_MAX_ATTEMPTS => 1, SOUK_OUTBOX_PAUSED => 1);
my $c = launch_service('mqprobe', %one, SOUK_PROBE_ABORT_AFTER_COMMIT_ON => 31000);
ok(wait_until('the hook aborts', sub { waitpid($c->pid, POSIX::WNOHANG()) == $c->pid }, 20),
    'after commit: the process died in the hook');
$c->{done} = 1;
is(pg_sql($db, 'SELECT count(*) FROM effects WHERE n = 31000')->[0][0], 1,
    'after commit: the effect was committed');
$c = spawn_service('mqprobe', %one);
ok(wait_until('the copy is settled', sub {
    metric($c, 'souk_events_duplicates_total') >= 1 }, 20), 'after commit: the redelivery is a duplicate');
($rc, $out, $err) = dlq('list', 'probe');
is(scalar(grep {length} split /\n/, $out), 0, 'after commit: nothing parked') or diag($out);
is(pg_sql($db, 'SELECT count(*) FROM effects WHERE n = 31000')->[0][0], 1, 'after commit: applied once');
$c->stop;

# -- inbox pruning: rows past SOUK_MQ_INBOX_RETAIN_S go, recent ones stay
pg_sql($db, q[INSERT INTO inbox (event_id, type, processed_at)
    SELECT gen_random_uuid(), 'product.updated', now() - make_interval(days => d)
    FROM generate_series(1, 1500) g, (VALUES (3), (1)) v(d)]);
my $kept = pg_sql($db, q[SELECT count(*) FROM inbox WHERE processed_at > now() - interval '2 days'])->[0][0];
$p = spawn_service('mqprobe', %env, SOUK_MQ_INBOX_RETAIN_S => 2 * 86400);
ok(wait_until('old inbox rows pruned', sub {
    pg_sql($db, q[SELECT count(*) FROM inbox WHERE processed_at < now() - interval '2 days'])->[0][0] == 0 }, 20),
    'prune: the 1500 rows older than the horizon are gone (in batches of 1000)');
is(pg_sql($db, 'SELECT count(*) FROM inbox')->[0][0], $kept, 'prune: every recent row stays');

# -- broker flow control: a memory alarm (watermark 0) makes RabbitMQ stop reading from publishing
# connections. The relay must not hang: /ready says 503, SIGTERM exits within the drain timeout
# (10 s), and once the alarm is over every event is applied exactly once.
my $alarm = 0;
END { rabbitmqctl('-q', 'set_vm_memory_high_watermark', '0.4') if $alarm }    # even if we die
$p->stop;
$p = spawn_service('mqprobe', %env);
($rc, $out, $err) = rabbitmqctl('-q', 'set_vm_memory_high_watermark', '0');
$alarm = 1;
is($rc, 0, 'flow: memory alarm raised') or diag($err);
emit($p, n => 3, start => 40000);    # small: the relay waits for confirms and reads the notice
ok(wait_until('not ready under the alarm', sub { http(GET => $p->url . '/ready')->{status} == 503 }, 20),
    'flow: /ready is 503 while the broker blocks publishing');
emit($p, n => 40, start => 40003, pad => 500_000);    # 20 MB: more than the socket buffers hold
Time::HiRes::sleep(0.5);
is(http(GET => $p->url . '/ready')->{status}, 503, 'flow: and stays 503');
my $t0 = Time::HiRes::time();
$p->stop;
cmp_ok(Time::HiRes::time() - $t0, '<', 10, 'flow: SIGTERM exits within the drain timeout');
like($p->stderr_text, qr/the broker blocks publishing/, 'flow: told by the broker (connection.blocked)');
# The 20 MB relayed as one batch while the alarm lasts: the publish stalls in send() before
# any notice can be read, and the watchdog cuts it.
$p = spawn_service('mqprobe', %env);
ok(wait_until('stalled publish cut', sub { $p->stderr_text =~ /stalled/ }, 30),
    'flow: a publish stalled in send() is cut');
ok(wait_until('not ready after the cut', sub { http(GET => $p->url . '/ready')->{status} == 503 }, 10),
    'flow: /ready is 503 after the cut');
Time::HiRes::sleep(1);
is(http(GET => $p->url . '/ready')->{status}, 503, 'flow: and stays 503 while publishes fail');
$t0 = Time::HiRes::time();
$p->stop;
cmp_ok(Time::HiRes::time() - $t0, '<', 10, 'flow: SIGTERM exits within the drain timeout');
($rc, $out, $err) = rabbitmqctl('-q', 'set_vm_memory_high_watermark', '0.4');
is($rc, 0, 'flow: alarm cleared') or diag($err);
$alarm = 0 if $rc == 0;
$p = spawn_service('mqprobe', %env);
ok(wait_until('flow events applied', sub {
    pg_sql($db, 'SELECT count(*) FROM effects WHERE n BETWEEN 40000 AND 40042')->[0][0] >= 43 }, 60),
    'flow: after the alarm every event is applied');
Time::HiRes::sleep(0.5);
is_deeply(pg_sql($db, 'SELECT count(*), count(DISTINCT n) FROM effects WHERE n BETWEEN 40000 AND 40042'),
    [[43, 43]], 'flow: nothing lost, nothing applied twice');

done_testing;
