# souk-history against real PostgreSQL and RabbitMQ, fed by order events that a real
# souk-orders publishes from its outbox: the v1 shapes (as orders' v1), the v2 list with its
# cursor and status filter, ownership (another user's order is 404), duplicates and
# reordering, and bad input (4xx problem+json, never a 500).
use strict;
use warnings;
use Test::More;
use lib 'tests/lib', 'services/history/t';
use Souk::Test;
use HistoryTest;

# a long page-cache TTL: only an apply's invalidation can refresh a cached page here
my ($h, $o) = start_pair(SOUK_HISTORY_CACHE_TTL_MS => 60000);
my ($hdb, $odb) = ($h->{db}{db}, $o->{db}{db});
my @bad;
sub api { api_request($h->url, \@bad, @_) }
my ($alice, $bob, $admin) = (tok(7), tok(8), tok(1, 'admin'));

# Alice: 1001 confirmed, 1002 pending, 1003 rejected (a failed checkout: not v1),
# 1004 cancelled (payment declined); Bob: 1005 pending. 1006: the terminal event first.
inject_many($odb,
    created(1001, 7, at => '2026-12-07T10:00:01Z'), moved('order.confirmed', 1001, 7),
    created(1002, 7, at => '2026-12-07T10:00:02Z'),
    created(1003, 7, at => '2026-12-07T10:00:03Z'), moved('order.rejected', 1003, 7),
    created(1004, 7, at => '2026-12-07T10:00:04Z'), moved('order.cancelled', 1004, 7),
    created(1005, 8, at => '2026-12-07T10:00:05Z'),
    moved('order.confirmed', 1006, 7, at => '2026-12-07T10:00:09Z'));
# every event applied, not just a row per order: with two consumer threads an order's row can
# exist while its confirmation or rejection is still being applied
ok(wait_until('history to apply every event', sub { caught_up($hdb, $odb) }, 20),
    'history applied every event');
is(row_count($hdb, 'version >= 1'), 6, 'every order has a row');
ok(row_count($hdb, 'id = 1006 AND NOT created') == 1, 'a terminal event before created is kept');
my $r = api(GET => '/api/v1/orders', token => $alice);
is($r->{status}, 200, 'v1 list');
my @ids = map { $_->{id} } @{$r->{json}{items}};
is_deeply(\@ids, [1002, 1001], 'v1 lists PENDING and CONFIRMED, newest first');
is($r->{json}{total}, 2, 'v1 total');
is_deeply([@{$r->{json}}{qw(page limit)}], [1, 20], 'v1 paging defaults');
like($r->{body}, qr/^\{"items":\[\{"id":1002,"user_id":7,"status":"PENDING","total":/,
    'v1 members in the monolith\'s order');
my ($c) = grep { $_->{id} == 1001 } @{$r->{json}{items}};
is_deeply($c, {id => 1001, user_id => 7, status => 'CONFIRMED',
    total => {amount => 4498, currency => 'EUR'},
    items => [{product_id => 42, name => 'Blue mug', quantity => 2,
            unit_price => {amount => 1999, currency => 'EUR'},
            line_total => {amount => 3998, currency => 'EUR'}},
        {product_id => 7, name => 'Tea "Earl" Grey', quantity => 1,
            unit_price => {amount => 500, currency => 'EUR'},
            line_total => {amount => 500, currency => 'EUR'}}],
    shipping_address => {line1 => 'Rua Augusta 10', line2 => '3 Dto', city => 'Lisboa',
        postal_code => '1100-053', country => 'PT'},
    payment => {status => 'APPROVED', card_last4 => '4242'},
    created_at => '2026-12-07T10:00:01Z'}, 'a confirmed v1 order, whole');
my ($p) = grep { $_->{id} == 1002 } @{$r->{json}{items}};
is($p->{payment}, undef, 'a pending order has no payment yet');

# the terminal event's created arrives late: merged, state kept
inject_many($odb, created(1006, 7, at => '2026-12-07T10:00:06Z'));
ok(wait_until('1006 created', sub { row_count($hdb, 'id = 1006 AND created') == 1 }, 20),
    'created after the terminal event');
$r = api(GET => '/api/v1/orders/1006', token => $alice);
is($r->{json}{status}, 'CONFIRMED', 'created after confirmed: still CONFIRMED');
# duplicates and a move back from terminal change nothing
my ($dup) = inject_many($odb, moved('order.cancelled', 1001, 7), created(1001, 7, at => '2026-12-07T11:00:00Z'));
inject_many($odb, created(1099, 7, at => '2026-12-07T09:00:00Z'));    # a marker after them
# the marker alone proves nothing: another consumer thread may still hold the duplicates
ok(wait_until('the duplicates and the marker', sub { caught_up($hdb, $odb) }, 20),
    'duplicates and marker applied');
is(row_count($hdb, 'id = 1099 AND created'), 1, 'marker applied');
$r = api(GET => '/api/v1/orders/1001', token => $alice);
is_deeply([@{$r->{json}}{qw(status created_at)}], ['CONFIRMED', '2026-12-07T10:00:01Z'],
    'no move back from a terminal state; a second created changes nothing');

# one order: owner, other user, admin, failed checkout, unknown, bad ids
is(api(GET => '/api/v1/orders/1002', token => $alice)->{status}, 200, 'owner reads her order');
$r = api(GET => '/api/v1/orders/1002', token => $bob);
is($r->{status}, 404, "another user's order is 404");
is_problem($r, 404, "not-found", '404 is problem+json');
is(api(GET => '/api/v1/orders/1002', token => $admin)->{status}, 200, 'an admin reads any');
is(api(GET => '/api/v1/orders/1003', token => $alice)->{status}, 404, 'a failed checkout is no v1 order');
is(api(GET => '/api/v1/orders/999999', token => $alice)->{status}, 404, 'unknown id');
for my $bad ('0', '-1', 'abc', '99999999999999999999999') {
    $r = api(GET => "/api/v1/orders/$bad", token => $alice);
    is_problem($r, 404, "not-found", "bad id $bad: 404 problem");
}
is(api(GET => '/api/v1/orders')->{status}, 401, 'no token: 401');
is_deeply([map { $_->{id} } @{api(GET => '/api/v1/orders', token => $bob)->{json}{items}}],
    [1005], 'Bob sees only his own');
for my $q ('page=0', 'limit=0', 'limit=101', 'limit=abc', 'page=1000001') {
    $r = api(GET => "/api/v1/orders?$q", token => $alice);
    is_problem($r, 400, "invalid-request", "v1 ?$q: 400 problem");
}
$r = api(GET => '/api/v1/orders?page=2&limit=2', token => $alice);
is_deeply([scalar @{$r->{json}{items}}, $r->{json}{total}], [2, 4], 'v1 page 2');

# v2: all of them, by status, with a cursor
$r = api(GET => '/api/v2/orders?limit=2', token => $alice);
is($r->{status}, 200, 'v2 list');
my @all;
push @all, map { $_->{id} } @{$r->{json}{items}};
my $pages = 1;
while (defined $r->{json}{cursor}) {
    like($r->{json}{next}, qr{^/api/v2/orders\?limit=2&cursor=}, 'a next link');
    $r = api(GET => $r->{json}{next}, token => $alice);
    is($r->{status}, 200, 'next page');
    push @all, map { $_->{id} } @{$r->{json}{items}};
    last if ++$pages > 10;
}
is_deeply(\@all, [1006, 1004, 1003, 1002, 1001, 1099], 'v2 pages cover every order once, newest first');
$r = api(GET => '/api/v2/orders?status=CANCELLED', token => $alice);
is_deeply([map { [$_->{id}, $_->{status}, $_->{reason}, $_->{payment}{status}] } @{$r->{json}{items}}],
    [[1004, 'CANCELLED', 'payment-declined', 'declined']], 'v2 status filter, reason, payment summary');
$r = api(GET => '/api/v2/orders?status=REJECTED', token => $alice);
is_deeply([map { [$_->{id}, $_->{reason}, $_->{version}] } @{$r->{json}{items}}],
    [[1003, 'out-of-stock', 2]], 'v2 shows failed checkouts');
for my $q ('status=SHIPPED', 'status=', 'cursor=zz', 'cursor=1-0', 'cursor=', 'limit=0',
    'limit=100000', 'cursor=' . ('f' x 40) . '-1') {
    $r = api(GET => "/api/v2/orders?$q", token => $alice);
    is_problem($r, 400, "invalid-request", "v2 ?$q: 400 problem") or diag($r->{body});
}
# read-your-writes header syntax
for my $v ('x', '1001', '1001:3', '1001:0', ':1', '1001:1:1') {
    $r = api(GET => '/api/v1/orders', token => $alice, headers => {'Souk-Min-Order-Version' => $v});
    is_problem($r, 400, "invalid-request", "Souk-Min-Order-Version $v: 400");
}
$r = api(GET => '/api/v1/orders', token => $alice, headers => {'Souk-Min-Order-Version' => '1001:2'});
ok($r->{status} == 200 && !defined $r->{headers}{'souk-stale'}, 'a version history has: no wait, not stale');

# the page cache: a repeated page is served from memory (an edit behind history's back does
# not show), and an apply of one of the user's events drops it at once
my $page = api(GET => '/api/v1/orders?limit=7', token => $alice)->{body};
pg_sql($hdb, "UPDATE order_rows SET v1_json = replace(v1_json, 'Blue mug', 'Red mug')");
is(api(GET => '/api/v1/orders?limit=7', token => $alice)->{body}, $page, 'page cache: a repeat is the cached page');
cmp_ok(metric_value($h, 'souk_cache_loop_hits_total') // 0, '>', 0, 'page cache: hits answered on the I/O loop');
inject_many($odb, created(1100, 7, at => '2026-12-07T12:00:00Z'));
ok(wait_until('the new order in the cached page', sub {
    my $r = api(GET => '/api/v1/orders?limit=7', token => $alice);
    ($r->{json}{items}[0]{id} // 0) == 1100 }, 30), 'page cache: dropped by the apply (TTL 60 s)');
like(api(GET => '/api/v1/orders?limit=7', token => $alice)->{body}, qr/Red mug/,
    'page cache: the page was read again');

no_failures(\@bad, [$h, $o], expected => qr/must be|not an order event/);
done_testing;
