# souk-payments never charges twice, against a real PostgreSQL and RabbitMQ: an unavailable
# provider is retried with a bounded back-off and then reported; duplicate reservations of an
# order, one after the other and at the same time on several consumer threads, make one
# authorisation at the provider; a process killed (-9, by the test-only fault hook
# SOUK_PAYMENTS_FAULT=crash-after-provider) between the provider's answer and its commit is
# settled after the restart by asking the provider, not by charging again, for an
# authorisation, a capture, and an authorisation whose order is cancelled meanwhile.
use strict;
use warnings;
use Test::More;
use POSIX ();
use Time::HiRes ();
use lib 'tests/lib', 'services/payments/t';
use Souk::Test;
use PaymentsTest;

my ($db, %env) = shop_env(SOUK_PAYMENTS_RETRY_BASE_MS => 100, SOUK_PAYMENTS_RETRY_MAX_MS => 300);
my @bad;

sub inbox { pg_sql($db, 'SELECT count(*) FROM inbox')->[0][0] }
sub one_charge {
    my ($order, %want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $rows = provider_rows($db, $order);
    is(scalar @$rows, 1, "order $order: one key at the provider");
    is_deeply({map { $_ => $rows->[0]{$_} } qw(authorized captured refunded voided)},
        {authorized => 1, captured => 0, refunded => 0, voided => 0, %want},
        "order $order: the provider authorised once" . (%want ? ' (' . join(', ',
            map {"$_ $want{$_}"} sort keys %want) . ')' : ''));
    is($rows->[0]{key}, payment($db, $order)->{key}, "order $order: under payments' key");
}

# -- an unavailable provider: 4 tries, waits of 100, 200, 300 ms, then payment.failed
my $svc = spawn_service('payments', %env, SOUK_PAYMENTS_CONSUMERS => 8);
my $t0 = Time::HiRes::time();
reserved($db, 1001, card => 'down', last4 => '0119');
ok(wait_state($db, 1001, 'FAILED'), 'a provider that never answers: the payment fails');
my $took = Time::HiRes::time() - $t0;
cmp_ok($took, '>=', 0.6, sprintf('after the back-off (%.2f s >= 0.6 s of waits)', $took));
cmp_ok($took, '<', 4, 'bounded (well within an order\'s deadline)');
is_deeply(published($db, 'payment.failed', 1001),
    [{order_id => 1001, reason => 'unavailable', attempts => 4}],
    'payment.failed: unavailable after 4 attempts');
is(payment($db, 1001)->{attempts}, 4, 'the payment records 4 attempts');
my @tries = $svc->stderr_text =~ /order 1001: the provider did not answer \(try (\d) of 4\); retrying in (\d+) ms/g;
is_deeply(\@tries, [1, 100, 2, 200, 3, 300], 'three retries, waits doubling up to the cap');
is_deeply(provider_rows($db, 1001), [], 'the provider recorded nothing');
is(metric_value($svc, 'souk_payments_provider_unanswered_total'), 4, 'metrics: 4 unanswered calls');
is(metric_value($svc, 'souk_payments_transitions_total{state="FAILED"}'), 1, 'metrics: one FAILED');

# -- duplicates one after the other: the same event again, and another reservation of the order
my $id = reserved($db, 2001);
ok(wait_state($db, 2001, 'AUTHORIZED'), 'order 2001 authorised');
my $dups = metric_value($svc, 'souk_events_duplicates_total') // 0;
pg_sql($db, "UPDATE outbox SET sent_at = NULL WHERE id = '$id'");
reserved($db, 2001);
ok(wait_until('duplicate skipped', sub {
    (metric_value($svc, 'souk_events_duplicates_total') // 0) > $dups && inbox() == 3 }),
    'the redelivered event is a duplicate, the second reservation is consumed');
one_charge(2001);
is(scalar @{published($db, 'payment.succeeded', 2001)}, 1, 'one payment.succeeded');
undef $svc;

# -- duplicates at once: 20 orders, each reserved 3 times, on 8 threads, 200 ms per call
$svc = spawn_service('payments', %env, SOUK_PAYMENTS_CONSUMERS => 8,
    SOUK_PAYMENTS_PROVIDER_LATENCY_MS => 200);
my @orders = (3001 .. 3020);
my $t1 = Time::HiRes::time();
inject_many($db, map { ['inventory.reserved', $_, reserved_payload($_)] } (@orders) x 3);
ok(wait_until('60 reservations', sub { inbox() == 3 + 60 }, 60), 'all 60 reservations consumed');
my $charging = Time::HiRes::time() - $t1;
# One thread would make the 20 authorisations one after the other, each after a 200 ms sleep:
# never two within 150 ms. On 8 threads many fall together (not a timing bound, which a
# loaded machine could miss).
my $together = pg_sql($db, q{SELECT max(n) FROM (SELECT count(*) AS n FROM provider.charges a
    JOIN provider.charges b ON b.authorized_at >= a.authorized_at
    AND b.authorized_at < a.authorized_at + interval '150 milliseconds'
    WHERE a.order_id BETWEEN 3001 AND 3020 AND b.order_id BETWEEN 3001 AND 3020
    GROUP BY a.idempotency_key) x})->[0][0];
cmp_ok($together, '>=', 3, "up to $together authorisations within 150 ms: the charges ran in "
    . sprintf('parallel (%.2f s for 20 of 200 ms)', $charging));
is(pg_sql($db, "SELECT count(*) FROM payments WHERE order_id BETWEEN 3001 AND 3020
    AND state = 'AUTHORIZED'")->[0][0], 20, 'the 20 orders are authorised');
is_deeply(pg_sql($db, "SELECT count(*), sum(authorized) FROM audit_provider
    WHERE order_id BETWEEN 3001 AND 3020")->[0], ['20', '20'], 'one key and one authorisation each')
    or diag explain pg_sql($db, 'SELECT order_id, count(*) FROM audit_provider GROUP BY 1 HAVING count(*) > 1');
is(pg_sql($db, "SELECT count(*) FROM outbox WHERE type = 'payment.succeeded'
    AND aggregate_id BETWEEN 3001 AND 3020")->[0][0], 20, 'one payment.succeeded each');

# -- a cancellation racing the authorisation: 10 orders whose reservation and cancellation are
# published together, so another thread takes the cancellation while the 200 ms authorisation
# runs (or before it starts). Either way no money stays held: voided, or never authorised.
my @race = (3101 .. 3110);
inject_many($db, map { (['inventory.reserved', $_, reserved_payload($_)],
    ['order.cancelled', $_, {order_id => $_, user_id => 7, reason => 'deadline',
        at => '2026-12-07T10:00:30Z'}]) } @race);
ok(wait_until('20 race events', sub { inbox() == 3 + 60 + 20 }, 60), 'all 20 consumed');
my %end = map { @$_ } @{pg_sql($db, 'SELECT order_id, state FROM payments
    WHERE order_id BETWEEN 3101 AND 3110')};
is_deeply([grep { ($end{$_} // '') !~ /^(VOIDED|CANCELLED)$/ } @race], [],
    'each order ends VOIDED (cancelled during the authorisation) or CANCELLED (before it)')
    or diag explain \%end;
is_deeply(pg_sql($db, q{SELECT count(*) FROM audit_provider WHERE order_id BETWEEN 3101 AND 3110
    AND authorized <> voided}), [[0]], 'every authorisation made was voided');
is(pg_sql($db, q{SELECT count(*) FROM outbox WHERE type = 'payment.refunded'
    AND aggregate_id BETWEEN 3101 AND 3110})->[0][0],
    scalar(grep { $end{$_} eq 'VOIDED' } @race), 'one payment.refunded (void) per voided order');
note(sprintf('%d voided during the authorisation, %d cancelled before it',
    scalar(grep { $end{$_} eq 'VOIDED' } @race), scalar(grep { $end{$_} eq 'CANCELLED' } @race)));
undef $svc;

# -- kill -9 between the provider's answer and the commit
sub crashing {
    my ($what) = @_;
    my $c = launch_service('payments', %env, SOUK_PAYMENTS_FAULT => 'crash-after-provider');
    my $deadline = Time::HiRes::time() + 30;
    my $got = 0;
    while (Time::HiRes::time() < $deadline) {
        last if ($got = waitpid($c->pid, POSIX::WNOHANG())) == $c->pid;
        Time::HiRes::sleep(0.05);
    }
    my $status = $?;
    $c->{done} = 1;    # reaped here: a kill on purpose, not a shutdown to check
    ok($got == $c->pid && ($status & 127) == 9, "$what: the process killed itself (-9)")
        or diag($c->stderr_text);
    like($c->stderr_text, qr/crash-after-provider: killing myself/, "$what: at the fault point");
    diag("CRASHLOG $what:\n" . $c->stderr_text);
}

# The crashing process publishes the event itself (its relay) and dies handling it.
# an authorisation: made at the provider, not committed here
reserved($db, 4001);
crashing('authorisation');
is(payment($db, 4001)->{state}, 'AUTHORIZING', 'payments has the key, not the outcome');
is_deeply(published($db, 'payment.succeeded', 4001), [], 'nothing published');
one_charge(4001);
$svc = spawn_service('payments', %env);
ok(wait_state($db, 4001, 'AUTHORIZED'), 'after the restart: authorised');
one_charge(4001);
is(scalar @{published($db, 'payment.succeeded', 4001)}, 1, 'one payment.succeeded');
is(published($db, 'payment.succeeded', 4001)->[0]{provider_ref},
    pg_sql($db, q{SELECT ref FROM provider.charges WHERE order_id = 4001})->[0][0],
    'with the reference of the one authorisation');
# the consumer logs "handled" after the commit that wait_state saw: wait for the line
ok(wait_until('the log line', sub { $svc->stderr_text =~ /skipped|handled inventory\.reserved/ }, 20),
    'the redelivery was handled') or diag($svc->stderr_text);
undef $svc;

# a capture: done at the provider, not committed here
confirmed($db, 4001);
crashing('capture');
is(payment($db, 4001)->{state}, 'AUTHORIZED', 'the capture is not recorded here');
one_charge(4001, captured => 1);
$svc = spawn_service('payments', %env);
ok(wait_state($db, 4001, 'CAPTURED'), 'after the restart: captured');
one_charge(4001, captured => 1);
is(scalar @{published($db, 'payment.captured', 4001)}, 1, 'one payment.captured');
undef $svc;

# an authorisation, then the order is cancelled while payments is down
reserved($db, 4002);
crashing('authorisation of 4002');
is(payment($db, 4002)->{state}, 'AUTHORIZING', 'order 4002: the key, not the outcome');
cancelled($db, 4002);
$svc = spawn_service('payments', %env);
ok(wait_state($db, 4002, 'VOIDED'), 'after the restart the cancellation voids the authorisation');
one_charge(4002, voided => 1);
is_deeply([map { $_->{kind} } @{published($db, 'payment.refunded', 4002)}], ['void'],
    'one payment.refunded (void)');
ok(wait_until('both consumed', sub { pg_sql($db, q{SELECT count(*) FROM inbox i JOIN outbox o
    ON o.id = i.event_id WHERE o.aggregate_id = 4002})->[0][0] == 2 }), 'the redelivered reservation is consumed too')
    or diag(join "\n", grep { /error|warn|4002/ } split /\n/, $svc->stderr_text);
is(payment($db, 4002)->{state}, 'VOIDED', 'and changes nothing');
# The redelivered reservation and the cancellation may come in either order: the succeeded
# event is there only if the reservation came first (orders ignores it for a cancelled order).
cmp_ok(scalar @{published($db, 'payment.succeeded', 4002)}, '<=', 1, 'at most one payment.succeeded');

no_failures(\@bad, [$svc]);
done_testing;
