# Several consumer threads on one queue (mq_spec.consumer_threads), with souk-mqprobe, a real
# PostgreSQL and RabbitMQ: slow handlers run in parallel, each thread with its own state
# (ctx_new), every event applied exactly once, duplicates (the same event id delivered twice
# while other threads are busy) still skipped by the inbox; one thread keeps the old
# one-at-a-time behaviour.
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use lib 'tests/lib';
use Souk::Test;
use Souk::Probe;

infra('postgres', 'rabbitmq');

sub probe_db_n { probe_db(sprintf('mqthreads_%d', $_[0])) }

sub effects { http(GET => $_[0]->url . '/effects')->{json} }
sub hooks { http(GET => $_[0]->url . '/hooks')->{json} }

# -- four threads, 20 events whose handler takes 400 ms: 8 s one at a time, 2 s on four threads;
# the margin between is the room a loaded machine has (with 200 ms it was 0.4 s: 3.6 vs 4)
my $SLEEP_MS = 400;
my $serial = 20 * $SLEEP_MS / 1000;
my $db = probe_db_n(1);
my %env = (SOUK_PROBE_DB => pg_admin_dsn($db), SOUK_AMQP_URL => rabbit_vhost(),
    SOUK_PROBE_SLEEP_MS => $SLEEP_MS);
my $p = spawn_service('mqprobe', %env, SOUK_PROBE_CONSUMERS => 4);
is(hooks($p)->{threads}, 4, 'four consumer threads, each made its own state');
my $t0 = Time::HiRes::time();
my $r = http(POST => $p->url . '/emit', {json => {n => 20, start => 1}});
is($r->{status}, 201, 'emit 20');
ok(wait_until('20 effects', sub { effects($p)->{rows} >= 20 }, 30), 'all 20 handled');
my $took = Time::HiRes::time() - $t0;
cmp_ok($took, '<', $serial - 1, sprintf('in %.1f s, faster than one thread could (%g s)', $took, $serial));
my $h = hooks($p);
cmp_ok($h->{max_parallel}, '>=', 3, "handlers ran in parallel (at most $h->{max_parallel} at once)");
cmp_ok($h->{max_parallel}, '<=', 4, 'never more than the four threads');
is($h->{foreign_ctx}, 0, "each handler saw its own thread's state");
Time::HiRes::sleep(0.3);
is_deeply(effects($p), {rows => 20, events => 20, numbers => 20}, 'each event applied once');
is(http(GET => $p->url . '/ready')->{status}, 200, '/ready: every thread subscribed');

# -- the same ten events again, at once: four threads race on them, the inbox keeps one each
my $dups = metric_value($p, 'souk_events_duplicates_total') // 0;
pg_sql($db, 'UPDATE outbox SET sent_at = NULL WHERE aggregate_id BETWEEN 1 AND 10');
ok(wait_until('duplicates', sub { (metric_value($p, 'souk_events_duplicates_total') // 0) >= $dups + 10 },
    30), 'ten re-published events recognised as duplicates');
is_deeply(effects($p), {rows => 20, events => 20, numbers => 20}, 'and applied nothing');
undef $p;

# -- one thread (the default): one message at a time, as before
$db = probe_db_n(2);
%env = (%env, SOUK_PROBE_DB => pg_admin_dsn($db), SOUK_AMQP_URL => rabbit_vhost(),
    SOUK_PROBE_SLEEP_MS => 50);
$p = spawn_service('mqprobe', %env);
is(hooks($p)->{threads}, 1, 'one consumer thread by default');
$r = http(POST => $p->url . '/emit', {json => {n => 10, start => 1}});
ok(wait_until('10 effects', sub { effects($p)->{rows} >= 10 }, 30), 'ten handled');
is(hooks($p)->{max_parallel}, 1, 'one at a time');
undef $p;

done_testing;
