# soukctl check orders against hand-made audit views: three fresh databases (one per saga
# service, each read with its own role, as the checker reads the real ones) hold tables named
# and shaped exactly as the views of SAGA.md. A consistent shop is clean (exit 0) and its counts
# are printed; then every rule is broken on its own (or with the one rule the same rows must
# also break), and the checker names exactly those violations (exit 1); --wait judges again
# until a settling shop is clean; bad command lines and unreadable databases exit 2.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use POSIX ();
use Time::HiRes ();
use Souk::Test;

# Databases with only the backbone's tables: the audit "views" here are tables of our own.
my %db = map { ($_ => pg_fresh('backbone')) } qw(orders inventory payments);
my %env = (SOUK_ORDERS_DB => $db{orders}{dsn}, SOUK_INVENTORY_DB => $db{inventory}{dsn},
    SOUK_PAYMENTS_DB => $db{payments}{dsn});

sub sql { my ($svc, $sql) = @_; pg_sql($db{$svc}{db}, $sql, $db{$svc}{user}, $db{$svc}{password}) }

# A settled shop: order 1 CONFIRMED (2 lines sold), 2 REJECTED (short), 3 CANCELLED (declined,
# nothing authorized), 4 CANCELLED (deadline after authorization: voided), 5 CANCELLED after a
# capture (refunded), 6 CANCELLED (provider unavailable: no provider row).
my %WORLD = (
    orders => q{
        DROP TABLE IF EXISTS audit_orders;
        CREATE TABLE audit_orders (order_id bigint, user_id bigint, status text,
            total_minor bigint, currency text, created_at timestamptz, deadline timestamptz);
        INSERT INTO audit_orders (order_id, user_id, status, total_minor, currency, created_at,
            deadline)
        SELECT id, 100 + id, st, 1000 * id, 'EUR', now(), now() + interval '30 s'
          FROM (VALUES (1, 'CONFIRMED'), (2, 'REJECTED'), (3, 'CANCELLED'), (4, 'CANCELLED'),
                       (5, 'CANCELLED'), (6, 'CANCELLED')) v (id, st);},
    inventory => q{
        DROP TABLE IF EXISTS audit_stock, audit_holds;
        CREATE TABLE audit_stock (product_id bigint, received bigint, on_hand bigint,
            reserved bigint, sold bigint);
        INSERT INTO audit_stock VALUES (10, 20, 18, 0, 2), (11, 5, 4, 0, 1), (12, 3, 3, 0, 0);
        CREATE TABLE audit_holds (order_id bigint, product_id bigint, quantity int, state text);
        INSERT INTO audit_holds VALUES (1, 10, 2, 'SOLD'), (1, 11, 1, 'SOLD'),
            (2, 10, 50, 'REJECTED'), (3, 10, 1, 'RELEASED'), (4, 11, 1, 'RELEASED'),
            (5, 10, 1, 'RELEASED'), (6, 12, 2, 'RELEASED');},
    payments => q{
        DROP TABLE IF EXISTS audit_provider, audit_payments;
        CREATE TABLE audit_provider (order_id bigint, idempotency_key text, authorized int,
            captured int, refunded int, voided int);
        INSERT INTO audit_provider VALUES (1, 'order-1', 1, 1, 0, 0), (3, 'order-3', 0, 0, 0, 0),
            (4, 'order-4', 1, 0, 0, 1), (5, 'order-5', 1, 1, 1, 0);
        CREATE TABLE audit_payments (order_id bigint, payment_id bigint, state text,
            amount_minor bigint);
        INSERT INTO audit_payments VALUES (1, 1, 'CAPTURED', 1000), (3, 2, 'DECLINED', 3000),
            (4, 3, 'VOIDED', 4000), (5, 4, 'REFUNDED', 5000);},
);

# world(svc => extra SQL, ...): the settled shop afresh, then the changes given.
sub world {
    my (%change) = @_;
    for my $svc (sort keys %WORLD) {
        sql($svc, $WORLD{$svc} . ($change{$svc} // ''));
    }
}

# check(@args): (exit code, stdout, stderr, [violations as "order 1 rule"], {counts}).
sub check {
    my ($rc, $out, $err) = soukctl(\%env, 'check', 'orders', @_);
    my @v = sort map { /^(order|product) (-?\d+): ([a-z-]+): / ? "$1 $2 $3" : () } split /\n/, $out;
    return ($rc, $out, $err, \@v);
}

# -- the settled shop is clean, and its counts are printed
world();
my ($rc, $out, $err, $v) = check();
is($rc, 0, 'a settled shop: exit 0') or diag "$out$err";
is_deeply($v, [], 'no violation');
like($out, qr/^orders: 6 \(PENDING 0, CONFIRMED 1, REJECTED 1, CANCELLED 4\)$/m, 'orders by status');
like($out, qr/^provider: 4 keys, 3 authorizations, 2 captures, 1 refunds, 1 voids$/m,
    'what the provider did');
like($out, qr/^payments: 4 \(CAPTURED 1, DECLINED 1, REFUNDED 1, VOIDED 1\)$/m,
    "payments' own view by state");
like($out, qr/^stock: 3 products, 28 units received, 25 on hand, 3 sold, 0 reserved$/m,
    'units received, on hand, sold and reserved');
like($out, qr/^order lines at inventory: 7 \(REJECTED 1, RELEASED 4, SOLD 2\)$/m, 'lines by state');
like($out, qr/^violations: 0$/m, 'violations: 0');

# -- every rule broken: [name, {svc => SQL}, [expected violations]]
my @cases = (
    ['an order still pending', {orders => "UPDATE audit_orders SET status = 'PENDING' WHERE order_id = 6"},
        ['order 6 terminal']],
    ['an unknown status', {orders => "UPDATE audit_orders SET status = 'SHIPPED' WHERE order_id = 6"},
        ['order 6 known-status']],
    ['two provider keys for one order',
        {payments => "INSERT INTO audit_provider VALUES (4, 'order-4-again', 0, 0, 0, 0)"},
        ['order 4 one-provider-key']],
    ['a confirmed order authorized twice',
        {payments => 'UPDATE audit_provider SET authorized = 2 WHERE order_id = 1'},
        ['order 1 confirmed-authorized-once']],
    ['a confirmed order charged twice',
        {payments => 'UPDATE audit_provider SET captured = 2 WHERE order_id = 1'},
        ['order 1 confirmed-captured-once']],
    ['a confirmed order never captured',
        {payments => 'UPDATE audit_provider SET captured = 0 WHERE order_id = 1'},
        ['order 1 confirmed-captured-once']],
    ['a confirmed order the provider never saw',
        {payments => 'DELETE FROM audit_provider WHERE order_id = 1'},
        ['order 1 confirmed-authorized-once', 'order 1 confirmed-captured-once']],
    ['a confirmed order refunded', {payments => 'UPDATE audit_provider SET refunded = 1 WHERE order_id = 1'},
        ['order 1 confirmed-not-refunded']],
    ['a confirmed order voided', {payments => 'UPDATE audit_provider SET voided = 1 WHERE order_id = 1'},
        ['order 1 confirmed-not-refunded']],
    ['a confirmed order with a line not sold',
        {inventory => "INSERT INTO audit_holds VALUES (1, 12, 1, 'RELEASED')"},
        ['order 1 confirmed-lines-sold']],
    ['a confirmed order inventory never saw',
        {inventory => 'DELETE FROM audit_holds WHERE order_id = 1;'
            . ' UPDATE audit_stock SET sold = 0, on_hand = received'},
        ['order 1 confirmed-lines-sold']],
    ['a cancelled order whose capture was not refunded',
        {payments => 'UPDATE audit_provider SET captured = 1 WHERE order_id = 4'},
        ['order 4 no-capture-kept']],
    ['a cancelled order whose authorization was not voided',
        {payments => 'UPDATE audit_provider SET voided = 0 WHERE order_id = 4'},
        ['order 4 no-authorization-kept']],
    ['a cancelled order refunded without a capture being kept, authorization not released',
        {payments => 'UPDATE audit_provider SET refunded = 0 WHERE order_id = 5'},
        ['order 5 no-authorization-kept', 'order 5 no-capture-kept']],
    ['a rejected order charged', {payments => "INSERT INTO audit_provider VALUES (2, 'order-2', 1, 1, 0, 0)"},
        ['order 2 no-authorization-kept', 'order 2 no-capture-kept']],
    ['a cancelled order still holding stock',
        {inventory => "UPDATE audit_holds SET state = 'HELD' WHERE order_id = 3;"
            . ' UPDATE audit_stock SET reserved = 1 WHERE product_id = 10'},
        ['order 3 no-stock-kept']],
    ['a cancelled order with a sale kept',
        {inventory => "UPDATE audit_holds SET state = 'SOLD' WHERE order_id = 4;"
            . ' UPDATE audit_stock SET sold = 2, on_hand = 3 WHERE product_id = 11'},
        ['order 4 no-stock-kept']],
    ['a line in an unknown state', {inventory => "UPDATE audit_holds SET state = 'LOST' WHERE order_id = 2"},
        ['order 2 known-hold-state']],
    ['lines for a product without stock',
        {inventory => "INSERT INTO audit_holds VALUES (2, 99, 1, 'REJECTED')"}, ['product 99 stock-row']],
    ['negative stock', {inventory => 'UPDATE audit_stock SET received = -1, on_hand = -1 WHERE product_id = 12'},
        ['product 12 not-negative', 'product 12 reserved-within-on-hand']],
    ['stock not conserved', {inventory => 'UPDATE audit_stock SET on_hand = 17 WHERE product_id = 10'},
        ['product 10 stock-conserved']],
    ['reserved without a held line', {inventory => 'UPDATE audit_stock SET reserved = 1 WHERE product_id = 12'},
        ['product 12 reserved-is-held']],
    ['sold without a sold line',
        {inventory => 'UPDATE audit_stock SET sold = 1, on_hand = 2 WHERE product_id = 12'},
        ['product 12 sold-is-sold-lines']],
    ['more reserved than on hand (an oversell)',
        {orders => "INSERT INTO audit_orders (order_id, user_id, status) VALUES (8, 108, 'PENDING')",
         inventory => "INSERT INTO audit_holds VALUES (8, 12, 4, 'HELD');"
            . ' UPDATE audit_stock SET reserved = 4 WHERE product_id = 12'},
        ['order 8 terminal', 'product 12 reserved-within-on-hand']],
    ['a charge without an order',
        {payments => "INSERT INTO audit_provider VALUES (999, 'order-999', 1, 0, 0, 0)"},
        ['order 999 charge-has-order']],
    ['lines for an order never created',
        {inventory => "INSERT INTO audit_holds VALUES (998, 12, 1, 'REJECTED')"},
        ['order 998 hold-has-order']],
);
my %rules_seen;
for my $c (@cases) {
    my ($name, $change, $want) = @$c;
    world(%$change);
    ($rc, $out, $err, $v) = check();
    is($rc, 1, "$name: exit 1") or diag "$out$err";
    is_deeply($v, [sort @$want], "$name: exactly " . join(', ', @$want)) or diag $out;
    like($out, qr/^violations: ${\ scalar @$want}$/m, "$name: counted");
    $rules_seen{(split / /, $_)[2]} = 1 for @$want;
}
# every rule the checker knows was broken at least once above (its --help lists them)
my @all = qw(terminal known-status one-provider-key confirmed-authorized-once
    confirmed-captured-once confirmed-not-refunded confirmed-lines-sold no-capture-kept
    no-authorization-kept no-stock-kept known-hold-state stock-row not-negative stock-conserved
    reserved-is-held sold-is-sold-lines reserved-within-on-hand charge-has-order hold-has-order);
is_deeply([grep { !$rules_seen{$_} } @all], [], 'every rule was shown to fire');

# -- --max-shown: all counted, fewer printed
world(orders => "UPDATE audit_orders SET status = 'PENDING'");
($rc, $out, $err, $v) = check('--max-shown', 2);
is($rc, 1, '--max-shown: still exit 1');
is(scalar @$v, 2, 'two violations printed');
like($out, qr/^\.\.\. and 4 more violations$/m, 'the rest announced');
like($out, qr/^violations: 6$/m, 'all six counted');

# -- --wait: order 7 is pending with a held line and an authorization; it confirms 1.5 s into
# the wait, and the checker, judging again, ends clean. Without --wait the same shop fails.
world(orders => "INSERT INTO audit_orders (order_id, user_id, status) VALUES (7, 107, 'PENDING')",
    inventory => "INSERT INTO audit_holds VALUES (7, 11, 1, 'HELD');"
        . ' UPDATE audit_stock SET reserved = 1 WHERE product_id = 11',
    payments => "INSERT INTO audit_provider VALUES (7, 'order-7', 1, 0, 0, 0)");
($rc, $out, $err, $v) = check();
is($rc, 1, 'a shop still settling fails without --wait');
is_deeply($v, ['order 7 terminal'], 'the pending order is named');
# t0 before the fork: the child's 1.5 s count from the fork, and a parent scheduled late after
# it (a loaded machine) would otherwise measure less than the wait it asserts
my $t0 = Time::HiRes::time();
my $pid = fork // die "fork: $!";
if (!$pid) {
    Time::HiRes::sleep(1.5);
    sql('payments', "UPDATE audit_provider SET captured = 1 WHERE order_id = 7");
    sql('inventory', "UPDATE audit_holds SET state = 'SOLD' WHERE order_id = 7;"
        . ' UPDATE audit_stock SET reserved = 0, on_hand = 3, sold = 2 WHERE product_id = 11');
    sql('orders', "UPDATE audit_orders SET status = 'CONFIRMED' WHERE order_id = 7");
    POSIX::_exit(0);
}
($rc, $out, $err, $v) = check('--wait', 20);
my $took = Time::HiRes::time() - $t0;
waitpid $pid, 0;
is($?, 0, 'the shop settled in the background');
is($rc, 0, '--wait: clean once it settled') or diag "$out$err";
ok($took >= 1.4 && $took < 15, sprintf('it waited for it (%.1f s)', $took));
like($out, qr/^orders: 7 \(PENDING 0, CONFIRMED 2,/m, 'the counts are the settled ones');
like($err, qr/settled after [\d.]+ s/, 'and says so');

# --wait gives up: a violation that stays is reported after SECONDS
world(payments => 'UPDATE audit_provider SET captured = 2 WHERE order_id = 1');
$t0 = Time::HiRes::time();
($rc, $out, $err, $v) = check('--wait', 2);
$took = Time::HiRes::time() - $t0;
is($rc, 1, '--wait: a lasting violation still fails');
ok($took >= 1.9 && $took < 10, sprintf('after the wait (%.1f s)', $took));
is_deeply($v, ['order 1 confirmed-captured-once'], 'and is named');
like($err, qr/still violated after/, 'and says so');

# -- command line and databases
($rc, $out) = soukctl(\%env, qw(check --help));
is($rc, 0, '--help: exit 0');
like($out, qr/^usage: soukctl check orders/, '--help: usage');
for my $args (['check'], [qw(check stock)], [qw(check orders --wait)], [qw(check orders --wait x)],
    [qw(check orders --wait -1)], [qw(check orders --bogus)]) {
    ($rc, $out, $err) = soukctl(\%env, @$args);
    is($rc, 2, "@$args: exit 2");
}
my $port = free_port();
($rc, $out, $err) = soukctl({%env, SOUK_PAYMENTS_DB => "postgresql://nobody:x\@127.0.0.1:$port/none"},
    qw(check orders));
is($rc, 2, 'payments unreachable: exit 2');
like($err, qr/cannot read audit_provider from SOUK_PAYMENTS_DB/, 'and names the database');
sql('inventory', 'DROP TABLE audit_stock');
($rc, $out, $err) = soukctl(\%env, qw(check orders));
is($rc, 2, 'a view missing: exit 2');
like($err, qr/cannot read audit_stock from SOUK_INVENTORY_DB/, 'and names it');
unlike($out, qr/violations:/, 'no verdict from half the facts');

# another service's role cannot stand in: each database is read with its own DSN
($rc, $out, $err) = soukctl({%env, SOUK_ORDERS_DB => $db{payments}{dsn} =~ s{/[^/]+$}{/$db{orders}{db}}r},
    qw(check orders));
is($rc, 2, "the payments role cannot read the orders database: exit 2");

done_testing;
