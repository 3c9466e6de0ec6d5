# souk-payments against a real PostgreSQL and RabbitMQ: the saga's reactions (authorise on
# inventory.reserved, capture on order.confirmed, void or refund on order.cancelled, and a
# cancellation that comes before the reservation), the declined card, what it publishes, the
# audit views, GET /api/v2/payments/{order_id} (owner, admin, others, bad input) and that no
# card number reaches a row or a log line. Duplicates, an unavailable provider and a crash
# between the provider's answer and the commit are in 30_never_twice.t.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib', 'services/payments/t';
use Souk::Test;
use PaymentsTest;

infra('postgres', 'rabbitmq');
my $svc = fresh_service('payments', SOUK_PAYMENTS_CONSUMERS => 4, SOUK_LOG_LEVEL => 'info');
my $db = $svc->{db}{db};
my @bad;
my $admin = jwt_mint(sub => '1', role => 'admin');
my $owner = jwt_mint(sub => '7');
my $other = jwt_mint(sub => '8');
sub api { api_request($svc->url, \@bad, GET => "/api/v2/payments/$_[0]", token => $_[1]) }

# -- happy path: authorised, then captured on order.confirmed
reserved($db, 1001);
ok(wait_state($db, 1001, 'AUTHORIZED'), 'inventory.reserved: the order is authorised');
my $p = payment($db, 1001);
is($p->{amount}, 3998, 'for the order\'s amount');
like($p->{key}, qr/^pay_1001_[0-9a-f]{32}$/, 'under an idempotency key of its own');
my $succ = published($db, 'payment.succeeded', 1001);
is(scalar @$succ, 1, 'one payment.succeeded');
is_deeply($succ->[0], {order_id => 1001, payment_id => $p->{id},
    amount => {amount => 3998, currency => 'EUR'}, provider_ref => $p->{ref},
    card_last4 => '4242'}, 'with the order, the payment, the amount, the reference, the last4');
like($p->{ref}, qr/^sim_ch_[0-9a-f]{32}$/, 'the provider\'s reference');
is_deeply(provider_rows($db, 1001),
    [{key => $p->{key}, authorized => 1, captured => 0, refunded => 0, voided => 0}],
    'audit_provider: one authorisation under that key');
is_deeply(pg_sql($db, 'SELECT order_id, payment_id, state, amount_minor FROM audit_payments
    WHERE order_id = 1001'), [[1001, $p->{id}, 'AUTHORIZED', 3998]], 'audit_payments');

confirmed($db, 1001);
ok(wait_state($db, 1001, 'CAPTURED'), 'order.confirmed: captured');
is_deeply(published($db, 'payment.captured', 1001),
    [{order_id => 1001, payment_id => $p->{id}, amount => {amount => 3998, currency => 'EUR'}}],
    'one payment.captured');
is_deeply(provider_rows($db, 1001),
    [{key => $p->{key}, authorized => 1, captured => 1, refunded => 0, voided => 0}],
    'audit_provider: captured once');

# -- the API: owner and admin see it with the provider's operations; others do not
my $r = api(1001, $owner);
is($r->{status}, 200, 'GET by the order\'s owner');
is($r->{json}{state}, 'CAPTURED', 'state');
is_deeply($r->{json}{amount}, {amount => 3998, currency => 'EUR'}, 'amount');
is($r->{json}{card_last4}, '4242', 'last4');
is($r->{json}{provider}{idempotency_key}, $p->{key}, 'the provider part names the key');
is($r->{json}{provider}{outcome}, 'approved', 'the provider\'s outcome');
is_deeply([map { $_->{op} } @{$r->{json}{provider}{operations}}], [qw(authorize capture)],
    'and its operations, in order');
like($r->{json}{provider}{operations}[0]{at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'with times');
is(api(1001, $admin)->{status}, 200, 'GET by an admin');
is_problem(api(1001, $other), 404, 'not-found', 'another customer: 404, as if absent');
is_problem(api(999999, $admin), 404, 'not-found', 'an order without a payment: 404');
is_problem(api(1001, undef), 401, 'unauthorized', 'no token: 401');
is_problem(api(1001, jwt_mint(sub => '7', secret => 'x' x 32)), 401, 'unauthorized',
    'a forged token: 401');
for my $id ('abc', '0', '-1', '1.5', '99999999999999999999', '%2500') {
    is_problem(api($id, $admin), 404, 'not-found', "order id '$id': 404");
}
is_problem(api('%00', $admin), 400, 'invalid-request', 'a broken escape in the path: 400');
is_problem(api_request($svc->url, \@bad, POST => '/api/v2/payments/1001', token => $admin,
    json => {}), 405, 'method-not-allowed', 'POST: 405');

# -- cancelled after capture: refunded
cancelled($db, 1001);
ok(wait_state($db, 1001, 'REFUNDED'), 'order.cancelled after the capture: refunded');
is_deeply(published($db, 'payment.refunded', 1001),
    [{order_id => 1001, payment_id => $p->{id}, amount => {amount => 3998, currency => 'EUR'},
        kind => 'refund'}], 'payment.refunded kind refund');
is_deeply(provider_rows($db, 1001),
    [{key => $p->{key}, authorized => 1, captured => 1, refunded => 1, voided => 0}],
    'audit_provider: refunded once');
cancelled($db, 1001);
confirmed($db, 1001);
reserved($db, 1001);
ok(wait_until('three late events handled', sub {
    pg_sql($db, q{SELECT count(*) FROM inbox})->[0][0] == 6 }), 'late events are consumed');
is(payment($db, 1001)->{state}, 'REFUNDED', 'and change nothing (REFUNDED is terminal)');
is(scalar @{published($db, 'payment.refunded', 1001)}, 1, 'no second refund');
is(scalar @{provider_rows($db, 1001)}, 1, 'no second key');

# -- authorised, then cancelled: voided
reserved($db, 1002);
ok(wait_state($db, 1002, 'AUTHORIZED'), 'order 1002 authorised');
cancelled($db, 1002, reason => 'deadline');
ok(wait_state($db, 1002, 'VOIDED'), 'order.cancelled before the capture: voided');
my $p2 = payment($db, 1002);
is_deeply(published($db, 'payment.refunded', 1002),
    [{order_id => 1002, payment_id => $p2->{id}, amount => {amount => 3998, currency => 'EUR'},
        kind => 'void'}], 'payment.refunded kind void');
is_deeply(provider_rows($db, 1002),
    [{key => $p2->{key}, authorized => 1, captured => 0, refunded => 0, voided => 1}],
    'audit_provider: voided, never captured');
confirmed($db, 1002);
ok(wait_until('late confirmation', sub { pg_sql($db, q{SELECT count(*) FROM inbox})->[0][0] == 9 }),
    'a confirmation after the void is consumed');
is(payment($db, 1002)->{state}, 'VOIDED', 'and captures nothing');
is(provider_rows($db, 1002)->[0]{captured}, 0, 'the provider captured nothing');

# -- declined card
reserved($db, 1003, card => 'decline', last4 => '0002');
ok(wait_state($db, 1003, 'DECLINED'), 'a declined card');
is_deeply(published($db, 'payment.failed', 1003),
    [{order_id => 1003, reason => 'declined', attempts => 1}], 'payment.failed declined, 1 attempt');
is_deeply(published($db, 'payment.succeeded', 1003), [], 'no payment.succeeded');
is_deeply([map { $_->{authorized} } @{provider_rows($db, 1003)}], [0],
    'the provider recorded the decline, authorised nothing');
cancelled($db, 1003, reason => 'payment-declined');
ok(wait_until('cancel of declined', sub { pg_sql($db, q{SELECT count(*) FROM inbox})->[0][0] == 11 }),
    'its cancellation is consumed');
is(payment($db, 1003)->{state}, 'DECLINED', 'and has nothing to give back');
$r = api(1003, $owner);
is($r->{json}{failure}, 'declined', 'GET shows the failure');
is($r->{json}{provider}{outcome}, 'declined', 'and the provider\'s decline');
is_deeply($r->{json}{provider}{operations}, [], 'with no operation');

# -- cancelled before the reservation: recorded, never authorised
cancelled($db, 1004);
ok(wait_state($db, 1004, 'CANCELLED'), 'a cancellation before any reservation is recorded');
reserved($db, 1004);
ok(wait_until('late reservation', sub { pg_sql($db, q{SELECT count(*) FROM inbox})->[0][0] == 13 }),
    'the late reservation is consumed');
is(payment($db, 1004)->{state}, 'CANCELLED', 'and authorises nothing');
is_deeply(provider_rows($db, 1004), [], 'the provider never heard of the order');
is_deeply(published($db, 'payment.succeeded', 1004), [], 'no payment.succeeded');
$r = api(1004, $admin);
is($r->{status}, 200, 'GET of a payment cancelled first (admin)');
is($r->{json}{amount}, undef, 'amount unknown');
is($r->{json}{provider}, undef, 'nothing at the provider');
is_problem(api(1004, $owner), 404, 'not-found', 'its owner is unknown to payments: 404');

# -- a malformed reservation is dead-lettered, not charged
my $bad_id = inject($db, 'inventory.reserved', 1005, {order_id => 1005, user_id => 7,
    lines => [{product_id => 42, quantity => 1}], amount => {amount => 100, currency => 'EUR'},
    card => {token => '4242424242424242', last4 => '4242'}, hold_until => '2026-12-07T10:01:00Z'});
Souk::Test::event_invalid_on_purpose($bad_id);
ok(wait_until('dead letter', sub { (metric_value($svc, 'souk_events_dead_lettered_total') // 0) >= 1 }, 40),
    'a reservation whose card is no token is parked after its retries');
is(payment($db, 1005), undef, 'no payment row for it');
is_deeply(provider_rows($db, 1005), [], 'nothing at the provider');

# -- no card number anywhere
my $dump = join "\n", map { join "\t", map { $_ // '' } @$_ } @{pg_sql($db,
    q{SELECT p::text FROM payments p UNION ALL SELECT c::text FROM provider.charges c})};
my $number = qr/(?<![0-9A-Za-z_])\d{12,19}(?![0-9A-Za-z_])/;    # hex ids hold digit runs too
# A UUID's last group is 12 hex digits, all of them decimal now and then (event ids are in
# every consumer line): UUIDs are taken out before looking for a card number.
my $uuid = qr/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
(my $dump_nouuid = $dump) =~ s/$uuid//g;
unlike($dump_nouuid, $number, 'no card number in payments or the provider\'s ledger');
my $log = $svc->stderr_text;
like($log, qr/order 1001/, 'the log has the orders (info level)');
(my $log_nouuid = $log) =~ s/$uuid//g;
unlike($log_nouuid, $number, 'no card number in the log');
unlike($dump . $log, qr/4242424242424242|4000000000000002|4000000000000119/,
    'none of the test cards, written out, anywhere');
unlike($log, qr/sim_(?:ok|decline|down)_/, 'nor a card token');

# -- metrics
is(metric_value($svc, 'souk_payments_transitions_total{state="CAPTURED"}'), 1, 'metrics: one capture');
is(metric_value($svc, 'souk_payments_transitions_total{state="DECLINED"}'), 1, 'metrics: one decline');
is(metric_value($svc, 'souk_payments_transitions_total{state="CANCELLED"}'), 1,
    'metrics: one cancelled before its reservation');
is(metric_value($svc, 'souk_payments_provider_seconds_count'), 6,
    'metrics: every provider call of the consumers timed (3 authorisations, capture, void, refund)');

no_failures(\@bad, [$svc], expected => qr/payload\.card is not a token/);
done_testing;
