# souk-payments counts the tries of an unavailable provider across crashes, against a real
# PostgreSQL and RabbitMQ: a payments process killed (-9) between the retries of a "down" card,
# once or one after another, does not make the order wait RETRY_LIMIT tries again; the payment
# fails `unavailable` after RETRY_LIMIT tries in all, and `attempts` reports all of them. A
# process killed during the last try leaves nothing to try after the restart (the provider is
# only asked what the key got), and an approval made by the last try before a crash is found,
# not lost and not made again.
use strict;
use warnings;
use Test::More;
use POSIX ();
use Time::HiRes ();
use lib 'tests/lib', 'services/payments/t';
use Souk::Test;
use PaymentsTest;

# Waits of 1 s between tries: time to see a try in the log and kill the process before the
# next one.
my ($db, %env) = shop_env(SOUK_PAYMENTS_RETRY_BASE_MS => 1000, SOUK_PAYMENTS_RETRY_MAX_MS => 1000);
my @all;    # every instance, killed ones included, for the log check at the end

sub start { my $s = spawn_service('payments', %env, @_); push @all, $s; $s }

# The tries an instance logged for an order ("did not answer (try N of L)"), in order.
sub tries_logged {
    my ($svc, $order) = @_;
    return [$svc->stderr_text =~ /order $order: the provider did not answer \(try (\d+) of \d+\)/g];
}

# kill -9 $svc as soon as $cond is true (polled every 20 ms, up to 20 s).
sub kill_when {
    my ($svc, $what, $cond) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $deadline = Time::HiRes::time() + 20;
    my $seen;
    Time::HiRes::sleep(0.02) until ($seen = $cond->()) || Time::HiRes::time() > $deadline;
    kill 'KILL', $svc->pid;
    waitpid $svc->pid, 0;
    $svc->{done} = 1;    # killed on purpose: no "exits cleanly" test
    ok($seen, "killed -9 $what") or diag($svc->stderr_text);
}

sub kill_after_try {
    my ($svc, $order, $n) = @_;
    kill_when($svc, "after try $n of order $order",
        sub { (grep { $_ == $n } @{tries_logged($svc, $order)}) > 0 });
}

sub fails_after_four {
    my ($order, $last) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(wait_state($db, $order, 'FAILED', 20), "order $order: the payment fails");
    is_deeply(published($db, 'payment.failed', $order),
        [{order_id => $order, reason => 'unavailable', attempts => 4}],
        "order $order: payment.failed unavailable, attempts 4 (every try, before the crashes too)");
    is(payment($db, $order)->{attempts}, 4, "order $order: the payment records 4 attempts");
    is_deeply(provider_rows($db, $order), [], "order $order: the provider recorded nothing");
}

# -- killed once, after 2 tries: 2 more after the restart, not 4
my $svc = start();
reserved($db, 5001, card => 'down', last4 => '0119');
kill_after_try($svc, 5001, 2);
is_deeply(tries_logged($svc, 5001), [1, 2], 'order 5001: 2 tries before the crash');
is(payment($db, 5001)->{state}, 'AUTHORIZING', 'order 5001: undecided');
is_deeply(published($db, 'payment.failed', 5001), [], 'order 5001: nothing published');
$svc = start();
fails_after_four(5001);
is_deeply(tries_logged($svc, 5001), [3], 'after the restart: try 3, then try 4, the last');
is(metric_value($svc, 'souk_payments_provider_unanswered_total'), 2,
    'after the restart: 2 unanswered calls (4 in all)');

# -- killed twice, after try 1 and after try 2: one try each, the third instance makes the last 2
reserved($db, 5002, card => 'down', last4 => '0119');
kill_after_try($svc, 5002, 1);
$svc = start();
kill_after_try($svc, 5002, 2);
is_deeply(tries_logged($svc, 5002), [2], 'order 5002: the second instance made try 2 only');
$svc = start();
fails_after_four(5002);
is_deeply(tries_logged($svc, 5002), [3], 'the third instance: tries 3 and 4');
is_deeply(pg_sql($db, 'SELECT count(*) FROM payment_tries'), [[0]],
    'the tries of a decided payment are forgotten');
$svc->stop;    # not by undef: @all holds the guard too

# -- killed during the last try (each try takes 2 s, the limit is 2): after the restart the
# provider is only asked what the key got (nothing), and the payment fails with 2 attempts.
$svc = start(SOUK_PAYMENTS_RETRY_LIMIT => 2, SOUK_PAYMENTS_PROVIDER_LATENCY_MS => 2000);
reserved($db, 5003, card => 'down', last4 => '0119');
kill_when($svc, 'during try 2 of 2 of order 5003', sub {
    (pg_sql($db, 'SELECT tries FROM payment_tries WHERE order_id = 5003')->[0][0] // 0) == 2 });
is_deeply(tries_logged($svc, 5003), [1], 'order 5003: try 1 answered nothing, try 2 was under way');
$svc = start(SOUK_PAYMENTS_RETRY_LIMIT => 2);
ok(wait_state($db, 5003, 'FAILED'), 'order 5003: fails after the restart');
is_deeply(published($db, 'payment.failed', 5003),
    [{order_id => 5003, reason => 'unavailable', attempts => 2}], 'with attempts 2');
is(metric_value($svc, 'souk_payments_provider_unanswered_total') // 0, 0,
    'no authorisation was tried again');
$svc->stop;    # not by undef: @all holds the guard too

# -- the last try approved, and the process died before its commit: the restart (tries spent)
# finds the approval at the provider and charges nothing more.
my $c = launch_service('payments', %env, SOUK_PAYMENTS_RETRY_LIMIT => 1,
    SOUK_PAYMENTS_FAULT => 'crash-after-provider');
push @all, $c;
reserved($db, 5004);
ok(wait_until('the fault', sub { waitpid($c->pid, POSIX::WNOHANG()) == $c->pid }, 20),
    'order 5004: killed itself after the approval');
$c->{done} = 1;
is(payment($db, 5004)->{state}, 'AUTHORIZING', 'order 5004: the approval is not recorded here');
$svc = start(SOUK_PAYMENTS_RETRY_LIMIT => 1);
ok(wait_state($db, 5004, 'AUTHORIZED'), 'order 5004: authorised after the restart');
is(payment($db, 5004)->{attempts}, 1, 'with 1 attempt');
is_deeply([map { $_->{authorized} } @{provider_rows($db, 5004)}], [1], 'one authorisation');
is(scalar @{published($db, 'payment.succeeded', 5004)}, 1, 'one payment.succeeded');

no_failures([], \@all);
done_testing;
