# v1 contract: the admin sales report, GET /api/v1/reports/sales. Admin only (401 without a
# token, 403 for a customer), from/to validation (400 problem+json), the shape and member order,
# an empty range, and the month arithmetic after a checkout: one more order, its units and
# its revenue in the month it was placed. Runs unchanged against the monolith (computed in
# the request) and against souk-reporting behind the gateway (kept from order events: the
# figure is waited for, not expected at once; Souk::Contract sales_after).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use POSIX ();
use Test::More;
use Souk::Test;
use Souk::Contract;

my $t = contract_target();
my $path = '/api/v1/reports/sales';

# --- who may ask --------------------------------------------------------------
is_problem($t->api(GET => $path), 401, 'unauthorized', 'no token: 401');
my $ann = $t->user(name => 'Ann');
is_problem($t->api(GET => $path, token => $ann->{token}), 403, 'forbidden', 'a customer: 403');

# --- bad input ----------------------------------------------------------------
for my $q ('from=2025-13-01', 'from=2025-02-30', 'to=2025-02-29', 'from=25-01-01',
    'to=2025-01-01T00:00:00Z', 'from=2025-03-01&to=2025-02-01', 'from=') {
    is_problem($t->admin_api(GET => "$path?$q"), 400, 'invalid-request', "?$q: 400");
}

# --- an empty range ----------------------------------------------------------
my $res = $t->sales('1971-01-01', '1971-12-31');
answers($res, 200, 'sales_report', 'empty range: 200 SalesReport');
is_deeply($res->{json}, {from => '1971-01-01', to => '1971-12-31', months => []},
    'empty range: no months');

# --- a checkout counts in its month -------------------------------------------
my $day = sub { POSIX::strftime('%Y-%m-%d', gmtime(time + $_[0] * 86400)) };
my ($from, $to) = ($day->(-1), $day->(1));    # placed today (UTC), whatever the hour
my $month = substr($day->(0), 0, 7);
my $before = $t->sales($from, $to)->{json}{months} // [];
my %base = (orders => 0, items => 0, revenue => 0);
for my $m (grep { $_->{month} eq $month } @$before) {
    %base = (orders => $m->{orders}, items => $m->{items}, revenue => $m->{revenue}{amount});
}
$t->address($ann, {line1 => '1 Main St', line2 => '', city => 'Porto', postal_code => '4000',
    country => 'PT'});
my $gear = $t->product(name => 'Gear', price => {amount => 1250, currency => 'EUR'});
$t->stock($gear->{id}, 10);
$t->cart_add($ann, $gear->{id}, 3);
$res = $t->checkout($ann, '4242424242424242');
is($res->{status}, 201, 'a checkout: 201') or diag($res->{body});
my $want = {month => $month, orders => $base{orders} + 1, items => $base{items} + 3,
    revenue => {amount => $base{revenue} + 3750, currency => 'EUR'}};
$res = $t->sales_after($from, $to, sub { grep { $_->{month} eq $month
    && $_->{orders} == $want->{orders} } @{$_[0] // []} });
answers($res, 200, 'sales_report', 'after a checkout: 200 SalesReport');
in_order($res, 'sales_report', 'after a checkout: members in order');
is_deeply([grep { $_->{month} eq $month } @{$res->{json}{months}}], [$want],
    'after a checkout: one more order, its 3 units and 3 x 12.50 in its month');
is_deeply($t->sales($to, $to)->{json}{months}, [],
    'a range that ends after the order but starts the day after: without it')
    if $to ne $day->(0);

$t->finish;
done_testing;
