# One outbox relay per database publishes: the holder of a session advisory lock. The relay
# asks for the lock only when its database session is new (lib/mq_relay.c keeps the answer
# while db_session stays the same), so this checks what that must still guarantee: two
# souk-mqprobe processes on one database, one lock holder at a time; the holder's session
# killed (pg_terminate_backend) several times while events are being committed; every event
# is still published and its effect applied once, and the lock ends held by one session.
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use lib 'tests/lib';
use Souk::Test;
use Souk::Probe;

infra('postgres', 'rabbitmq');

my $db = probe_db('relay_leader');

# pg_locks is the whole cluster's: other test files' relays hold the same key in their databases
my $LOCK = q{locktype = 'advisory' AND classid = 1936684395 AND objid = 1 AND objsubid = 2 AND granted
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())};
sub holders { pg_sql($db, "SELECT pid FROM pg_locks WHERE $LOCK") }
sub effects { pg_sql($db, 'SELECT count(*), count(DISTINCT n) FROM effects')->[0] }

my %env = (SOUK_PROBE_DB => pg_admin_dsn($db), SOUK_AMQP_URL => rabbit_vhost(), SOUK_OUTBOX_POLL_MS => 200);
my @p = map { spawn_service('mqprobe', %env) } 1 .. 2;
for my $p (@p) {
    ok(wait_until('ready', sub { http(GET => $p->url . '/ready')->{status} == 200 }, 30), 'probe ready');
}
ok(wait_until('a leader', sub { @{holders()} == 1 }, 10), 'one relay holds the lock');

my $n = 0;
sub emit_some { my ($p, $k) = @_; my $r = http(POST => $p->url . '/emit', {json => {n => $k, start => $n + 1}});
    $n += $k if $r->{status} == 201; return $r->{status} }

is(emit_some($p[0], 50), 201, 'first 50 committed');
ok(wait_until('50 effects', sub { effects()->[0] == 50 }, 30), 'first 50 applied');

# kill the leader's session while the other probe commits: the lock moves or is taken again
my @killed;
for my $round (1 .. 4) {
    # The next leader, once a relay has reconnected and taken the lock: a fixed 0.3 s was too
    # short on a loaded machine (no holder yet, nothing to kill that round).
    my $pid;
    wait_until("round $round: a new leader", sub {
        my @h = map { $_->[0] } @{holders()};
        $pid = @h == 1 && !grep({ $_ == $h[0] } @killed) ? $h[0] : undef;
        return defined $pid;
    }, 30);
    push @killed, $pid if defined $pid;
    pg_sql($db, "SELECT pg_terminate_backend($pid)") if defined $pid;
    is(emit_some($p[$round % 2], 25), 201, "round $round: 25 more committed");
}
is(scalar @killed, 4, 'a leader session was there to kill each round');
ok(wait_until('every effect', sub { effects()->[0] >= $n }, 60), "all $n events applied")
    or diag(explain effects());
Time::HiRes::sleep(1);    # a late copy would show now
is_deeply(effects(), [$n, $n], "each of the $n events applied exactly once");
is(pg_sql($db, 'SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0], 0, 'nothing left unsent');
my $h = holders();
is(scalar @$h, 1, 'one relay holds the lock at the end')
    or diag(explain pg_sql($db, "SELECT l.pid, l.mode, l.granted, a.application_name, a.state, a.backend_start
        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.$LOCK"));
ok(!grep({ my $k = $_; grep { $_->[0] == $k } @$h } @killed), 'held by a session that was not killed');
undef @p;

done_testing;
