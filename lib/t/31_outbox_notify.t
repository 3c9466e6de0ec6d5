# The outbox relay is woken by the commit (mq_outbox_put NOTIFYs; the relay LISTENs), not by
# its poll: with the poll stretched to 10 s (SOUK_OUTBOX_POLL_MS), events committed through
# mq_outbox_put are still consumed at once, one after another, and a row put into the outbox
# by hand (no NOTIFY) waits for the poll, which still publishes it. souk-mqprobe on a real PostgreSQL and RabbitMQ.
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use lib 'tests/lib';
use Souk::Test;
use Souk::Probe;

infra('postgres', 'rabbitmq');

my $db = probe_db('outbox_notify');

sub effects { http(GET => $_[0]->url . '/effects')->{json}{rows} }

my $p = spawn_service('mqprobe', SOUK_PROBE_DB => pg_admin_dsn($db), SOUK_AMQP_URL => rabbit_vhost(),
    SOUK_OUTBOX_POLL_MS => 10000);
ok(wait_until('ready', sub { http(GET => $p->url . '/ready')->{status} == 200 }, 30), 'probe ready');
Time::HiRes::sleep(0.5); # the relay is now idle, in its 10 s wait

my @took;
for my $i (1 .. 5) {
    my $t0 = Time::HiRes::time();
    is(http(POST => $p->url . '/emit', {json => {n => 1, start => $i}})->{status}, 201, "emit $i");
    ok(wait_until("effect $i", sub { effects($p) >= $i }, 15), "event $i consumed");
    push @took, Time::HiRes::time() - $t0;
    Time::HiRes::sleep(0.2);
}
my ($worst) = sort { $b <=> $a } @took;
cmp_ok($worst, '<', 2.5, sprintf('each within %.2f s of its commit, not after the 10 s poll', $worst));

# a row written without mq_outbox_put (no NOTIFY) is found by the poll
pg_sql($db, q{INSERT INTO outbox (id, type, aggregate_id, envelope) SELECT gen_random_uuid(), type,
    aggregate_id, envelope FROM outbox ORDER BY seq LIMIT 1});
my $t0 = Time::HiRes::time();
ok(wait_until('the poll', sub {
    pg_sql($db, 'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0] == 0 }, 25),
    'a row without a NOTIFY is published by the poll');
cmp_ok(Time::HiRes::time() - $t0, '<', 21, 'within two polls');
undef $p;

done_testing;
