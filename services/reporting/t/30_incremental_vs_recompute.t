# services/reporting/t/30_incremental_vs_recompute.t - the incremental tallies equal a
# recomputation after a random stream of orders, confirmations, cancellations (also after a
# confirmation: a refund) and rejections, published shuffled (any order of arrival, a
# confirmation before its order.created), with exact redeliveries (the same event id twice)
# and repeats (the same news under a new id), consumed by four threads at once. Compared:
# every per-day tally against a GROUP BY over the facts (state CONFIRMED and placed, not the
# counted flag the consumer keeps), the facts against the stream's own truth, the v1 report
# against the truth per month, and the month x category x country view after a refresh.
# Deterministic by seed: SOUK_TEST_SEED=N replays a run (the seed is printed).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../../tests/lib";
use List::Util qw(shuffle sum0);
use Test::More;
use Souk::Test;
use Souk::Publisher;

my $SEED = $ENV{SOUK_TEST_SEED} // (time ^ $$) % 1000000;
diag("seed $SEED (SOUK_TEST_SEED=$SEED replays this stream)");
srand($SEED);
my $ORDERS = 300;
my @COUNTRIES = qw(GB PT DE FR);
my @CATS = qw(laptops phones audio books toys);

my $SECRET = 'reporting-test-secret-0123456789abcdef';
my $vhost = rabbit_vhost();
my $rep = fresh_service('reporting', SOUK_AMQP_URL => $vhost, SOUK_JWT_SECRET => $SECRET,
    SOUK_REPORTING_REFRESH_MS => 300, SOUK_REPORTING_CONSUMERS => 4);
my $db = $rep->{db}{db};
my $pub = Souk::Publisher->new($vhost);
my $admin = jwt_mint(sub => '1', role => 'admin', iat => time - 5, secret => $SECRET);
my @fivexx;
sub sql { pg_sql($db, $_[0]) }

# --- the catalog: 20 products, each in a category (published first: categories are taken
# when an order is placed) ---------------------------------------------------------------------
my %cat = map { $_ => $CATS[int rand @CATS] } 1 .. 20;
my @events = map {
    $pub->envelope('product.created', $_, {version => 1, product => {id => $_, sku => "S$_",
        name => "P$_", description => '', brand => 'Acme', images => [],
        price => {amount => 100, currency => 'EUR'},
        category => {id => 1, slug => $cat{$_}, name => $cat{$_}}, attributes => {}, stock => 1,
        rating => {average => 0, count => 0}, created_at => '2026-01-01T00:00:00Z',
        updated_at => '2026-01-01T00:00:00Z'}})
} 1 .. 20;
$pub->publish_envelopes(@events);
ok(wait_until('the category replica', sub {
    sql('SELECT count(*) FROM products_replica')->[0][0] == 20 }, 20), 'categories replicated');

# --- the stream and its truth -----------------------------------------------------------------
my (@stream, %truth);    # truth: order id -> {day, country, lines, final}
my @fates = ((['CONFIRMED']) x 10, (['CONFIRMED', 'CANCELLED']) x 2, (['CANCELLED']) x 3,
    (['REJECTED']) x 3, ([]) x 2);
for my $id (1 .. $ORDERS) {
    my $day = sprintf('2026-%02d-%02d', 1 + int rand 4, 1 + int rand 28);
    my $country = $COUNTRIES[int rand @COUNTRIES];
    my %seen;
    my @lines = grep { !$seen{$_->[0]}++ }
        map { [1 + int rand 20, 1 + int rand 5, 100 * (1 + int rand 50)] } 1 .. 1 + int rand 4;
    my $fate = $fates[int rand @fates];
    $truth{$id} = {day => $day, country => $country, lines => \@lines,
        final => @$fate ? $fate->[-1] : 'PENDING'};
    my $total = sum0(map { $_->[1] * $_->[2] } @lines);
    my @evs = ($pub->envelope('order.created', $id, {order_id => $id, user_id => 7,
        lines => [map { {product_id => $_->[0], quantity => $_->[1],
            unit_price => {amount => $_->[2], currency => 'EUR'}} } @lines],
        total => {amount => $total, currency => 'EUR'},
        card => {token => 'sim_ok_4242_0123456789abcdef', last4 => '4242'},
        ship_to => {line1 => 'x', line2 => '', city => 'y', postal_code => 'z',
            country => $country}, deadline => "${day}T12:00:30Z",
        created_at => "${day}T12:00:00Z"}));
    for my $state (@$fate) {
        my %p = (order_id => $id, user_id => 7, at => "${day}T12:00:01Z");
        %p = (%p, lines => [map { {product_id => $_->[0], quantity => $_->[1]} } @lines],
            total => {amount => $total, currency => 'EUR'}) if $state eq 'CONFIRMED';
        %p = (%p, reason => 'deadline') if $state eq 'CANCELLED';
        %p = (%p, shortages => [{product_id => $lines[0][0], requested => 9, available => 0}])
            if $state eq 'REJECTED';
        push @evs, $pub->envelope('order.' . lc $state, $id, \%p);
    }
    for my $e (@evs) {
        push @stream, $e;
        push @stream, $e if rand() < 0.2;                                     # redelivery
        push @stream, {%$e, id => Souk::Publisher::uuid()} if rand() < 0.1;   # repeat, new id
    }
}
@stream = shuffle(@stream);
my %ids = map { $_->{id} => 1 } @stream;
note(scalar(@stream) . ' deliveries, ' . scalar(keys %ids) . ' distinct events');
while (my @batch = splice(@stream, 0, 250)) {
    $pub->publish_envelopes(@batch);
}
my $want = 20 + keys %ids;
ok(wait_until('every event applied', sub { sql('SELECT count(*) FROM inbox')->[0][0] >= $want },
    45), "every distinct event consumed once ($want)");

# --- tallies = recomputation over the facts --------------------------------------------------
# Rows as "key|orders|items|revenue" lines, tallies without their all-zero rows (an order
# that stopped counting leaves its day's row at zero).
sub lines_of { join "\n", map { join '|', map { $_ // '' } @$_ } @{sql($_[0])} }
my %cmp = (
    day => ['SELECT day, orders, items, revenue FROM sales_day'
            . ' WHERE (orders, items, revenue) <> (0, 0, 0) ORDER BY 1',
        "SELECT day, count(*), sum(items), sum(revenue) FROM facts"
            . " WHERE state = 'CONFIRMED' AND placed GROUP BY 1 ORDER BY 1"],
    'day x country' => ['SELECT day, country, orders, items, revenue FROM sales_day_country'
            . ' WHERE (orders, items, revenue) <> (0, 0, 0) ORDER BY 1, 2',
        "SELECT day, country, count(*), sum(items), sum(revenue) FROM facts"
            . " WHERE state = 'CONFIRMED' AND placed GROUP BY 1, 2 ORDER BY 1, 2"],
    'day x category' => ['SELECT day, category, orders, items, revenue FROM sales_day_category'
            . ' WHERE (orders, items, revenue) <> (0, 0, 0) ORDER BY 1, 2',
        "SELECT f.day, l.category, count(DISTINCT f.order_id), sum(l.quantity),"
            . " sum(l.quantity * l.unit_minor) FROM facts f JOIN fact_lines l USING (order_id)"
            . " WHERE f.state = 'CONFIRMED' AND f.placed GROUP BY 1, 2 ORDER BY 1, 2"],
);
for my $k (sort keys %cmp) {
    my ($inc, $re) = map { lines_of($_) } @{$cmp{$k}};
    ok(length $re, "$k: the recomputation has rows");
    is($inc, $re, "$k: incremental tallies = recomputation over the facts");
}

# --- facts = the stream's truth --------------------------------------------------------------
my %facts = map { $_->[0] => $_ } @{sql('SELECT order_id, state, placed, counted, day, country,'
    . ' items, revenue FROM facts')};
my @wrong = grep {
    my ($t, $f) = ($truth{$_}, $facts{$_});
    !$f || $f->[1] ne $t->{final} || $f->[2] ne 't' || $f->[4] ne $t->{day}
        || $f->[5] ne $t->{country} || ($f->[3] eq 't') != ($t->{final} eq 'CONFIRMED')
        || $f->[6] != sum0(map { $_->[1] } @{$t->{lines}})
        || $f->[7] != sum0(map { $_->[1] * $_->[2] } @{$t->{lines}})
} 1 .. $ORDERS;
is(scalar(@wrong), 0, 'every fact ends where its order ended, whatever the arrival order')
    or diag('orders: ' . join(' ', @wrong[0 .. ($#wrong > 9 ? 9 : $#wrong)]));

# --- the reports = the truth -----------------------------------------------------------------
my (%month, %mcc);
for my $id (grep { $truth{$_}{final} eq 'CONFIRMED' } 1 .. $ORDERS) {
    my $t = $truth{$id};
    my $m = substr($t->{day}, 0, 7);
    my $x = $month{$m} //= {month => $m, orders => 0, items => 0,
        revenue => {amount => 0, currency => 'EUR'}};
    $x->{orders}++;
    my %in;
    for my $l (@{$t->{lines}}) {
        $x->{items} += $l->[1];
        $x->{revenue}{amount} += $l->[1] * $l->[2];
        my $k = join '|', $m, $cat{$l->[0]}, $t->{country};
        my $y = $mcc{$k} //= [0, 0, 0];
        $y->[0]++ unless $in{$k}++;
        $y->[1] += $l->[1];
        $y->[2] += $l->[1] * $l->[2];
    }
}
my $r = api_request($rep->url, \@fivexx, GET => '/api/v1/reports/sales', token => $admin);
is_deeply($r->{json}{months}, [map { $month{$_} } sort keys %month],
    'v1 report = the truth, month by month');

# The view as of a refresh that saw every change the feed counted (all events are applied by
# now): a refresh that ran while the stream was still being applied can have every month x
# category x country row with some of them partial, so the row count is no sign of the end.
ok(wait_until('the views to see every change', sub {
    my $r = sql('SELECT r.view_name, r.changes, f.changes FROM refreshes r, feed f');
    @$r >= 2 && !grep { $_->[1] != $_->[2] } @$r }, 20),
    'the views were refreshed after the last change');
my $rows = api_request($rep->url, \@fivexx, GET => '/api/v2/reports/sales/rollup',
    token => $admin)->{json}{rows} || [];
is(scalar @$rows, scalar keys %mcc, 'the rollup view has every month x category x country');
is_deeply({map { (join('|', @$_{qw(month category country)}) =>
    [$_->{orders}, $_->{items}, $_->{revenue}{amount}]) } @$rows}, \%mcc,
    'rollup view = the truth');

no_failures(\@fivexx, [$rep]);
done_testing;
