# soukctl backfill payments: the monolith's payments with their ids (APPROVED as CAPTURED,
# REFUNDED, DECLINED), the simulated provider's ledger of those charges (one authorisation and
# one capture per approved charge, the refund), the id sequence, no events; safe to repeat;
# --if-empty; and souk-payments then shows a backfilled payment.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib', 'services/payments/t';
use Souk::Test;
use PaymentsTest;

infra('postgres', 'rabbitmq', 'mariadb');
my $mono = mariadb_fresh('backfill_pay');
my $pay = pg_fresh('payments');
my $db = $pay->{db};
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_PAYMENTS_DB => $pay->{dsn});

my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 40 --users 12 --orders 30 --reviews 0
    --carts 1 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;
sub mono { mariadb_sql($mono->{db}, $_[0]) }
my $n = mono('SELECT COUNT(*) FROM payments')->[0][0];
ok($n > 10, "$n payments in the monolith");
# The seed only approves; make one refunded and one declined to see the mapping.
my ($refunded, $declined) = map { $_->[0] } @{mono('SELECT id FROM payments ORDER BY id LIMIT 2')};
mono("UPDATE payments SET status = 'REFUNDED' WHERE id = $refunded");
mono("UPDATE payments SET status = 'DECLINED' WHERE id = $declined");

($rc, $out, $err) = soukctl(\%env, qw(backfill payments --batch 7));
is($rc, 0, 'backfill payments exits 0') or diag $err;
like($out, qr/^backfilled $n payments, $n provider charges in [\d.]+ s$/m, 'and says what it did');

is_deeply(pg_sql($db, q{SELECT id, order_id, user_id, amount_minor, currency, card_last4,
    provider_ref FROM payments ORDER BY id}),
    mono(q{SELECT p.id, p.order_id, o.user_id, p.amount_minor, p.currency, p.card_last4,
    p.provider_ref FROM payments p JOIN orders o ON o.id = p.order_id ORDER BY p.id}),
    'every payment with its id, order, owner, amount, last4 and reference');
is_deeply(pg_sql($db, q{SELECT state, count(*) FROM payments GROUP BY 1 ORDER BY 1}),
    [['CAPTURED', $n - 2], ['DECLINED', 1], ['REFUNDED', 1]],
    'APPROVED became CAPTURED; REFUNDED and DECLINED kept');
is(pg_sql($db, "SELECT idempotency_key FROM payments WHERE id = $refunded")->[0][0],
    "monolith_$refunded", 'keys name the monolith\'s payment');
is_deeply(pg_sql($db, q{SELECT sum(authorized), sum(captured), sum(refunded), sum(voided),
    count(*) FROM audit_provider}), [[$n - 1, $n - 1, 1, 0, $n]],
    'the provider\'s ledger: one authorisation and capture per approved charge, one refund');
is(pg_sql($db, q{SELECT count(*) FROM audit_payments a JOIN payments p ON p.id = a.payment_id
    JOIN audit_provider v ON v.idempotency_key = p.idempotency_key AND v.order_id = a.order_id})->[0][0],
    $n, 'each payment matches its provider row by key and order');
# The identity scheme (migrate/map/README.md): the service's next id is even, steps by 2 and is
# above every id the monolith allocated or reserved (its rows and its auto-increment counter).
my ($next, $step) = @{pg_sql($db, q{SELECT CASE WHEN s.is_called THEN s.last_value + p.seqincrement
    ELSE s.last_value END, p.seqincrement FROM payments_id_seq s, pg_sequence p
    WHERE p.seqrelid = 'payments_id_seq'::regclass})->[0]};
my ($floor) = @{mono(q{SELECT GREATEST(MAX(id), (SELECT AUTO_INCREMENT - 1 FROM
    information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'payments'))
    FROM payments})->[0]};
ok($next % 2 == 0 && $step == 2 && $next > $floor,
    "the id sequence: next id $next even, step $step, above the monolith's $floor");
is(pg_sql($db, 'SELECT count(*) FROM outbox')->[0][0], 0, 'no events written');
unlike(join(' ', map { join ' ', map { $_ // '' } @$_ } @{pg_sql($db,
    'SELECT p::text FROM payments p UNION ALL SELECT c::text FROM provider.charges c')}),
    qr/(?<![0-9A-Za-z_])\d{12,19}(?![0-9A-Za-z_])/, 'no card number');

($rc, $out, $err) = soukctl(\%env, qw(backfill payments));
is($rc, 0, 'a second run exits 0') or diag $err;
is(pg_sql($db, 'SELECT count(*) FROM payments')->[0][0], $n, 'no duplicates');
is(pg_sql($db, 'SELECT count(*) FROM provider.charges')->[0][0], $n, 'nor at the provider');
($rc, $out, $err) = soukctl(\%env, qw(backfill payments --if-empty));
is($rc, 0, '--if-empty exits 0') or diag $err;
like($out, qr/payments already has payments; nothing to do/, 'and does nothing');

my $svc = spawn_service('payments', SOUK_PAYMENTS_DB => $pay->{dsn}, SOUK_AMQP_URL => rabbit_vhost());
my ($order, $user) = @{mono("SELECT p.order_id, o.user_id FROM payments p JOIN orders o
    ON o.id = p.order_id WHERE p.id = $refunded")->[0]};
my $r = http(GET => $svc->url . "/api/v2/payments/$order",
    {headers => {Authorization => 'Bearer ' . jwt_mint(sub => "$user")}});
is($r->{status}, 200, 'souk-payments shows a backfilled payment to its owner');
is($r->{json}{state}, 'REFUNDED', 'in its state');
is_deeply([map { $_->{op} } @{$r->{json}{provider}{operations}}], [qw(authorize capture refund)],
    'with the provider\'s operations');
undef $svc;
done_testing;
