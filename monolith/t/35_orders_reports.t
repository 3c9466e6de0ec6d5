# My orders (newest first, with lines and product names), one order (owner or admin only)
# and the admin sales report, cross-checked against SQL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../tests/lib";
use Test::More;
use Souk::Test;
use Souk::Shop;

my $t = Souk::Shop->start('orders');
my $admin = $t->admin;
my $u = $t->user;
my $v = $t->user;
my $cat = $t->category('orders', 'Orders');
my $p1 = $t->product($admin, name => 'Pen', category_id => $cat,
    price => {amount => 1000, currency => 'EUR'}, stock => 1000);
my $p2 = $t->product($admin, name => 'Paper', category_id => $cat,
    price => {amount => 250, currency => 'EUR'}, stock => 1000);

sub order {
    my ($user, @lines) = @_;
    while (my ($p, $q) = splice @lines, 0, 2) { $t->cart_add($user, $p->{id}, $q) }
    my $res = $t->api(POST => '/api/v1/orders', token => $user->{token},
        json => {card_number => '4242424242424242'});
    die "checkout: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    return $res->{json};
}

# --- my orders --------------------------------------------------------------
my $res = $t->api(GET => '/api/v1/orders', token => $u->{token});
is($res->{status}, 200, 'my orders: 200 with none');
is_deeply($res->{json}, {items => [], page => 1, limit => 20, total => 0}, 'my orders: empty');

my $o1 = order($u, $p1, 1);
my $o2 = order($u, $p2, 2);
my $o3 = order($u, $p1, 1, $p2, 1);
my $o4 = order($v, $p2, 4);

$res = $t->api(GET => '/api/v1/orders', token => $u->{token});
is($res->{status}, 200, 'my orders: 200');
is($res->{json}{total}, 3, 'my orders: total');
is_deeply([map { $_->{id} } @{$res->{json}{items}}], [$o3->{id}, $o2->{id}, $o1->{id}],
    'my orders: newest first');
is_deeply($res->{json}{items}, [$o3, $o2, $o1], 'my orders: each as checkout returned it');
is_deeply([map { $_->{name} } @{$res->{json}{items}[0]{items}}], ['Pen', 'Paper'],
    'my orders: lines carry product names');
$res = $t->api(GET => '/api/v1/orders?limit=2', token => $u->{token});
is_deeply([map { $_->{id} } @{$res->{json}{items}}], [$o3->{id}, $o2->{id}], 'my orders: limit');
$res = $t->api(GET => '/api/v1/orders?limit=2&page=2', token => $u->{token});
is_deeply([map { $_->{id} } @{$res->{json}{items}}], [$o1->{id}], 'my orders: page 2');
is_deeply([@{$res->{json}}{qw(page limit total)}], [2, 2, 3], 'my orders: paging fields');
is_deeply([map { $_->{id} } @{$t->api(GET => '/api/v1/orders', token => $v->{token})->{json}{items}}],
    [$o4->{id}], 'my orders: only mine');
for my $q ('limit=0', 'limit=101', 'page=0', 'page=x', "limit=1'%20OR%201=1") {
    is_problem($t->api(GET => "/api/v1/orders?$q", token => $u->{token}), 400,
        'invalid-request', "my orders: $q is 400");
}
is_problem($t->api(GET => '/api/v1/orders'), 401, 'unauthorized', 'my orders: no token is 401');

# --- one order --------------------------------------------------------------
$res = $t->api(GET => "/api/v1/orders/$o1->{id}", token => $u->{token});
is($res->{status}, 200, 'order: the owner gets it');
is_deeply($res->{json}, $o1, 'order: as checkout returned it');
my $theirs = $t->api(GET => "/api/v1/orders/$o1->{id}", token => $v->{token});
is_problem($theirs, 404, 'not-found', 'order: another customer gets 404, not 403');
my $none = $t->api(GET => '/api/v1/orders/999999', token => $v->{token});
is_problem($none, 404, 'not-found', 'order: unknown id is 404');
is($theirs->{json}{detail}, $none->{json}{detail},
    'order: someone else\'s order reads exactly like a missing one');
$res = $t->api(GET => "/api/v1/orders/$o1->{id}", token => $admin->{token});
is($res->{status}, 200, 'order: an admin sees any order');
is_deeply($res->{json}, $o1, 'order: the admin sees the same order');
for my $id ('abc', '0', '-1', '1.0', '99999999999999999999', '%27%20OR%201=1') {
    is_problem($t->api(GET => "/api/v1/orders/$id", token => $u->{token}), 404, 'not-found',
        "order: id $id is 404");
}
is_problem($t->api(GET => "/api/v1/orders/$o1->{id}"), 401, 'unauthorized',
    'order: no token is 401');

# --- sales report -----------------------------------------------------------
# More orders, then spread them over months with SQL (the report groups by created_at).
my @more = map { order($_ % 2 ? $u : $v, $p1, 1 + $_ % 3, ($_ % 4 ? ($p2, $_ % 5 + 1) : ())) }
    1 .. 16;
my @when = ('2024-12-31 23:59:59.999', '2025-01-01 00:00:00.000', '2025-01-15 12:00:00',
    '2025-01-31 23:59:59.999', '2025-02-01 00:00:00', '2025-02-28 18:30:00',
    '2025-03-10 09:00:00', '2025-06-30 23:59:59.999', '2025-07-01 00:00:00');
my @all = ($o1, $o2, $o3, $o4, @more);
for my $i (0 .. $#all) {
    $t->sql("UPDATE orders SET created_at = '$when[$i % @when]' WHERE id = $all[$i]{id}");
}
# Orders that are not CONFIRMED never count.
for my $st ('PENDING', 'CANCELLED', 'REJECTED') {
    $t->sql("INSERT INTO orders (user_id, status, total_minor, currency, created_at)"
        . " VALUES ($u->{id}, '$st', 777, 'EUR', '2025-01-20 10:00:00');"
        . " INSERT INTO order_items (order_id, product_id, quantity, unit_price_minor, currency)"
        . " VALUES (LAST_INSERT_ID(), $p1->{id}, 7, 111, 'EUR')");
}
is($t->sql1("SELECT COUNT(*) FROM orders WHERE status <> 'CONFIRMED'"), 3,
    'report: three orders that must not count');

# The cross-check reads totals from orders.total_minor, a different path from the
# report's SUM over order_items.
sub expected {
    my ($from, $to) = @_;
    my $rows = $t->sql("SELECT DATE_FORMAT(o.created_at, '%Y-%m'), COUNT(*), SUM(o.total_minor),"
        . " SUM((SELECT SUM(quantity) FROM order_items oi WHERE oi.order_id = o.id))"
        . " FROM orders o WHERE o.status = 'CONFIRMED'"
        . " AND DATE(o.created_at) BETWEEN '$from' AND '$to' GROUP BY 1 ORDER BY 1");
    return [map { {month => $_->[0], orders => 0 + $_->[1], items => 0 + $_->[3],
        revenue => {amount => 0 + $_->[2], currency => 'EUR'}} } @$rows];
}
sub report {
    my ($q) = @_;
    return $t->api(GET => "/api/v1/reports/sales$q", token => $admin->{token});
}

$res = report('?from=2025-01-01&to=2025-12-31');
is($res->{status}, 200, 'report: 200');
is($res->{json}{from}, '2025-01-01', 'report: from echoed');
is($res->{json}{to}, '2025-12-31', 'report: to echoed');
my $exp = expected('2025-01-01', '2025-12-31');
is_deeply($res->{json}{months}, $exp, 'report: monthly totals match SQL')
    or diag explain $res->{json};
is_deeply([map { $_->{month} } @{$res->{json}{months}}],
    ['2025-01', '2025-02', '2025-03', '2025-06', '2025-07'], 'report: months in order, no gaps filled');
my $jan = $res->{json}{months}[0];
my $n_jan = grep { $when[$_ % @when] =~ /^2025-01/ } 0 .. $#all;
is($jan->{orders}, $n_jan, 'report: January counts its orders, not the cancelled ones');

is_deeply(report('?from=2025-01-31&to=2025-01-31')->{json}{months},
    expected('2025-01-31', '2025-01-31'), 'report: one day, both ends inclusive (23:59:59.999)');
is(report('?from=2025-01-31&to=2025-01-31')->{json}{months}[0]{orders},
    scalar(grep { $when[$_ % @when] =~ /^2025-01-31/ } 0 .. $#all), 'report: ... that day only');
is_deeply(report('?from=2025-02-01&to=2025-06-30')->{json}{months},
    expected('2025-02-01', '2025-06-30'), 'report: a range cutting through months');
is_deeply(report('?from=2024-12-31&to=2024-12-31')->{json}{months},
    expected('2024-12-31', '2024-12-31'), 'report: the last moment of a year');
is_deeply(report('?from=2030-01-01&to=2030-12-31')->{json}{months}, [],
    'report: an empty range');
$res = report('');
is($res->{status}, 200, 'report: without from and to');
is_deeply($res->{json}{months}, expected('1000-01-01', '9999-12-31'),
    'report: without from and to everything counts');
is_deeply(report('?from=2025-02-01')->{json}{months}, expected('2025-02-01', '9999-12-31'),
    'report: only from');
is_deeply(report('?to=2025-01-15')->{json}{months}, expected('1000-01-01', '2025-01-15'),
    'report: only to');
is_deeply(report('?from=2024-02-29&to=2024-02-29')->{json}{months}, [],
    'report: 29 February of a leap year is a date');

for my $q ('?from=2025-13-01', '?from=2025-00-10', '?from=2025-01-32', '?from=2025-02-30',
    '?from=2025-02-29', '?to=2025-04-31', '?from=2025-1-1', '?from=20250101', '?from=abc',
    '?from=', '?to=2025-01-01T00:00:00', '?from=2025-02-01&to=2025-01-31',
    "?from=2025-01-01'%20OR%201=1%20--", '?from=2025-01-01%00', '?to=0000-01-01') {
    is_problem(report($q), 400, 'invalid-request', "report: $q is 400");
}
is_problem($t->api(GET => '/api/v1/reports/sales', token => $u->{token}), 403, 'forbidden',
    'report: a customer is 403');
is_problem($t->api(GET => '/api/v1/reports/sales'), 401, 'unauthorized',
    'report: no token is 401');

$t->finish;
undef $t;
done_testing;
