# services/reporting/t/20_api.t - souk-reporting against real PostgreSQL and RabbitMQ in a
# private vhost. Order and product events are published as orders and catalog would publish
# them (Souk::Publisher: a relay-only souk-mqprobe whose outbox the test writes). Checks: admin
# only (401 / 403 problem+json), bad input is 400 problem+json, the v1 body is the monolith's
# shape with the freshness in headers, the month arithmetic (confirmed orders only, by placed
# day; cancel after confirm subtracts; confirm before created counts once created arrives),
# v2 groups by category and country with as_of/age_ms, and the views after a refresh.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../../tests/lib";
use Test::More;
use Souk::Test;
use Souk::Publisher;

my $SECRET = 'reporting-test-secret-0123456789abcdef';
my $vhost = rabbit_vhost();
my $rep = fresh_service('reporting', SOUK_AMQP_URL => $vhost, SOUK_JWT_SECRET => $SECRET,
    SOUK_REPORTING_REFRESH_MS => 200, SOUK_REPORTING_CACHE_MS => 60000,    # only events drop it
    SOUK_MQ_MAX_ATTEMPTS => 2, SOUK_MQ_RETRY_DELAY_MS => 100);
my $pub = Souk::Publisher->new($vhost);

sub token {
    my ($sub, $role) = @_;
    return jwt_mint(sub => "$sub", role => $role // 'customer', iat => time - 5, secret => $SECRET);
}
my $admin = token(1, 'admin');
my @fivexx;
sub api { api_request($rep->url, \@fivexx, GET => $_[0], token => $_[1] // $admin) }

# --- admin only, bad input -------------------------------------------------------------------
for my $path ('/api/v1/reports/sales', '/api/v2/reports/sales', '/api/v2/reports/sales/rollup',
    '/api/v2/reports/top-products?month=2026-01') {
    is_problem(api_request($rep->url, \@fivexx, GET => $path), 401, 'unauthorized',
        "$path without a token: 401");
    is_problem(api($path, token(7)), 403, 'forbidden', "$path as a customer: 403");
}
for my $q ('from=2026-1-01', 'to=2026-02-30', 'from=2025-02-29', 'from=0999-12-31',
    'from=2026-03-01&to=2026-02-01', 'from=2026-01-01T00:00:00Z', 'to=') {
    is_problem(api("/api/v1/reports/sales?$q"), 400, 'invalid-request', "v1 ?$q: 400");
}
is_problem(api('/api/v2/reports/sales?group=day'), 400, 'invalid-request', 'v2 group=day: 400');
is_problem(api('/api/v2/reports/sales?from=2026-02-30'), 400, 'invalid-request',
    'v2 bad day: 400');
is_problem(api('/api/v2/reports/sales/rollup?from=2026-13'), 400, 'invalid-request',
    'rollup from=2026-13: 400');
is_problem(api('/api/v2/reports/sales/rollup?from=2026-03&to=2026-02'), 400,
    'invalid-request', 'rollup from after to: 400');
is_problem(api('/api/v2/reports/top-products'), 400, 'invalid-request', 'top-products needs month');
is_problem(api('/api/v2/reports/top-products?month=2026-01&limit=0'), 400, 'invalid-request',
    'top-products limit=0: 400');

# --- empty -----------------------------------------------------------------------------------
my $r = api('/api/v1/reports/sales');
is($r->{status}, 200, 'v1 with no data: 200');
is($r->{body}, '{"from":"1970-01-01","to":"9999-12-31","months":[]}',
    'v1 with no data: the monolith\'s defaults and no months');
like($r->{headers}{'souk-as-of'} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    'v1: Souk-As-Of header');
like($r->{headers}{'souk-data-age-ms'} // '', qr/^\d+$/, 'v1: Souk-Data-Age-Ms header');

# --- events ----------------------------------------------------------------------------------
sub product {
    my ($id, $slug, $version) = @_;
    $pub->publish('product.created', $id, {version => $version // 1, product => {id => $id,
        sku => "SKU-$id", name => "P$id", description => '', brand => 'Acme',
        price => {amount => 1000, currency => 'EUR'}, images => [],
        category => {id => length $slug, slug => $slug, name => $slug},
        attributes => {}, stock => 5, rating => {average => 0, count => 0},
        created_at => '2026-01-01T00:00:00Z', updated_at => '2026-01-01T00:00:00Z'}});
}
my %LINES;    # order id -> its lines, for order.confirmed
sub created {
    my ($id, $day, $country, @lines) = @_;
    $LINES{$id} = \@lines;
    my $total = 0;
    $total += $_->[1] * $_->[2] for @lines;
    return $pub->envelope('order.created', $id, {order_id => $id, user_id => 7,
        lines => [map { {product_id => $_->[0], quantity => $_->[1],
            unit_price => {amount => $_->[2], currency => 'EUR'}} } @lines],
        total => {amount => $total, currency => 'EUR'},
        card => {token => 'sim_ok_4242_0123456789abcdef', last4 => '4242'},
        ship_to => {line1 => 'x', line2 => '', city => 'y', postal_code => 'z',
            country => $country},
        deadline => "${day}T10:00:30Z", created_at => "${day}T10:00:00Z"},
        occurred_at => "${day}T10:00:00.000Z");
}
sub moved {
    my ($type, $id) = @_;
    my %p = (order_id => $id, user_id => 7, at => '2026-03-01T00:00:00Z');
    my @l = @{$LINES{$id} || [[1, 1, 1000]]};
    my $total = 0;
    $total += $_->[1] * $_->[2] for @l;
    %p = (%p, lines => [map { {product_id => $_->[0], quantity => $_->[1]} } @l],
        total => {amount => $total, currency => 'EUR'}) if $type eq 'confirmed';
    %p = (%p, reason => 'deadline') if $type eq 'cancelled';
    %p = (%p, shortages => [{product_id => 1, requested => 9, available => 0}])
        if $type eq 'rejected';
    # Later than the service's start, so it is the newest time the feed has seen.
    return $pub->envelope("order.$type", $id, \%p, occurred_at => '2099-03-01T00:00:00.000Z');
}

product(1, 'laptops');
product(2, 'phones');
ok(wait_until('the product replica', sub {
    pg_sql($rep->{db}{db}, 'SELECT count(*) FROM products_replica')->[0][0] == 2 }, 20),
    'product.created fills the category replica');
my @batch = (
    created(1, '2026-01-15', 'GB', [1, 2, 1000], [2, 1, 500]), moved(confirmed => 1),
    created(2, '2026-01-20', 'PT', [2, 3, 500]), moved(confirmed => 2),
    created(3, '2026-02-01', 'GB', [1, 1, 1000]), moved(rejected => 3),
    created(4, '2026-02-03', 'GB', [1, 5, 1000]), moved(confirmed => 4), moved(cancelled => 4),
    moved(confirmed => 5), created(5, '2026-02-10', 'DE', [1, 1, 1000]),
    created(6, '2026-02-11', 'DE', [2, 1, 500]),    # still pending: not counted
);
$pub->publish_envelopes(@batch);
# Six consumer threads take the batch in any order; the report can equal the final one while an
# event is still in flight (order 4 created only, its confirmation next), so every event of the
# batch must be in the inbox as well before the figures below are judged.
my $ids = join(', ', map { "'$_->{id}'" } @batch);
ok(wait_until('every event of the batch applied', sub { pg_sql($rep->{db}{db},
    "SELECT count(*) FROM inbox WHERE event_id IN ($ids)")->[0][0] == @batch }, 20),
    'the batch consumed');
my $want = [{month => '2026-01', orders => 2, items => 6,
        revenue => {amount => 4000, currency => 'EUR'}},
    {month => '2026-02', orders => 1, items => 1, revenue => {amount => 1000, currency => 'EUR'}}];
ok(wait_until('the report to show every event', sub {
    my $j = api('/api/v1/reports/sales')->{json};
    $j && JSON::PP->new->canonical->encode($j->{months}) eq JSON::PP->new->canonical->encode($want)
}, 20), 'v1: confirmed orders by month (rejected, cancelled-after-confirm and pending left out; '
    . 'confirm-before-created counted)') or diag(explain(api('/api/v1/reports/sales')->{json}));
$r = api('/api/v1/reports/sales?from=2026-01-01&to=2026-12-31');
is(key_order($r->{body}), key_order('{"from":"","to":"","months":[{"month":"","orders":0,'
    . '"items":0,"revenue":{"amount":0,"currency":""}}]}'), 'v1: the monolith\'s members in order');
is_deeply(api('/api/v1/reports/sales?from=2026-01-16&to=2026-01-31')->{json},
    {from => '2026-01-16', to => '2026-01-31', months => [{month => '2026-01', orders => 1,
        items => 3, revenue => {amount => 1500, currency => 'EUR'}}]},
    'v1: a day range inside a month sums only its days');
is_deeply(api('/api/v1/reports/sales?from=2026-02-04&to=2026-02-09')->{json}{months}, [],
    'v1: a range whose only order was cancelled after confirming is empty');
my $age = api('/api/v1/reports/sales')->{headers}{'souk-as-of'};
is($age, '2099-03-01T00:00:00.000Z', 'v1: Souk-As-Of is the newest event applied');

# --- v2 --------------------------------------------------------------------------------------
sub rows { [map { my %h = %$_; $h{revenue} = $h{revenue}{amount}; \%h } @{$_[0]{rows}}] }
$r = api('/api/v2/reports/sales?group=month_category');
is($r->{status}, 200, 'v2 month_category: 200');
is_deeply(rows($r->{json}), [
    {month => '2026-01', category => 'laptops', orders => 1, items => 2, revenue => 2000},
    {month => '2026-01', category => 'phones', orders => 2, items => 4, revenue => 2000},
    {month => '2026-02', category => 'laptops', orders => 1, items => 1, revenue => 1000}],
    'v2 month_category: per category, orders counted once per category') or diag(explain($r->{json}));
like($r->{json}{as_of}, qr/^2099-03-01T/, 'v2: as_of in the body');
like($r->{json}{age_ms}, qr/^\d+$/, 'v2: age_ms in the body');
is_deeply(rows(api('/api/v2/reports/sales?group=month_country&from=2026-01-01&to=2026-02-28')
    ->{json}), [
    {month => '2026-01', country => 'GB', orders => 1, items => 3, revenue => 2500},
    {month => '2026-01', country => 'PT', orders => 1, items => 3, revenue => 1500},
    {month => '2026-02', country => 'DE', orders => 1, items => 1, revenue => 1000}],
    'v2 month_country');
is_deeply(rows(api('/api/v2/reports/sales')->{json}), rows({rows => [map { {%$_} } @$want]}),
    'v2 month: the same figures as v1');

# The views: recomputed from the facts by the refresh job (every 200 ms here). A refresh that
# ran while the events above were still arriving shows a partial picture (it may even have as
# many rows), so wait until both views have seen every change the feed counted.
sub refreshes { pg_sql($rep->{db}{db}, 'SELECT r.view_name, r.changes, f.changes,'
    . ' extract(epoch FROM r.refreshed_at) FROM refreshes r, feed f ORDER BY 1') }
sub views_current { my $r = refreshes(); @$r >= 2 && !grep { $_->[1] != $_->[2] } @$r }
ok(wait_until('the views to see every event published so far', \&views_current, 20),
    'the views were refreshed after the last change');
my $roll = api('/api/v2/reports/sales/rollup?from=2026-01&to=2026-02')->{json};
is(scalar @{$roll->{rows} || []}, 4, 'rollup: four rows') or diag(explain($roll));
is_deeply(rows($roll), [
    {month => '2026-01', category => 'laptops', country => 'GB', orders => 1, items => 2,
        revenue => 2000},
    {month => '2026-01', category => 'phones', country => 'GB', orders => 1, items => 1,
        revenue => 500},
    {month => '2026-01', category => 'phones', country => 'PT', orders => 1, items => 3,
        revenue => 1500},
    {month => '2026-02', category => 'laptops', country => 'DE', orders => 1, items => 1,
        revenue => 1000}], 'rollup: month x category x country') or diag(explain($roll));
like($roll->{as_of}, qr/^\d{4}-\d\d-\d\dT/, 'rollup: as_of is the refresh time');
ok($roll->{age_ms} < 10000, 'rollup: refreshed within the last seconds');
# The views refresh one after the other: the top products may come a round later.
my $top = sub { [map { [$_->{rank}, $_->{product_id}, $_->{items}, $_->{revenue}{amount}] }
    @{api('/api/v2/reports/top-products?month=2026-01&limit=5')->{json}{products} || []}] };
is_deeply($top->(), [[1, 1, 2, 2000], [2, 2, 4, 2000]], 'top-products: by revenue, ties by product id');
is(scalar @{api('/api/v2/reports/top-products?month=2025-01')->{json}{products}}, 0,
    'top-products: a month without sales is empty');

# The tally reports are answered from kept bytes between events (cache.c): the same body, the
# age recomputed; an event applied drops them at once.
my ($a1, $a2) = map { api('/api/v1/reports/sales') } 1 .. 2;
is($a2->{body}, $a1->{body}, 'cache: a repeated report is the same answer');
cmp_ok($a2->{headers}{'souk-data-age-ms'}, '>=', $a1->{headers}{'souk-data-age-ms'},
    'cache: its age is computed when served');
$pub->publish_envelopes(created(7, '2026-01-05', 'GB', [2, 1, 500]), moved(confirmed => 7));
ok(wait_until('the new order in the report', sub {
    (api('/api/v1/reports/sales?from=2026-01-01&to=2026-01-31')->{json}{months}[0]{orders} // 0)
        == 3 }, 20), 'cache: an order applied shows in the next answer');
is(api('/api/v1/reports/sales')->{json}{months}[0]{orders}, 3,
    'cache: every cached range was dropped by it');

# The refresh job records the changes each refresh saw; with no new change it only marks the
# view current (its as_of moves on), it does not recompute it.
ok(wait_until('the views to catch up with the last change', \&views_current, 20),
    'the views saw every change');
my $seen = refreshes();
ok(wait_until('the views to be marked current again', sub {
    my $now = refreshes();
    !grep { $now->[$_][3] <= $seen->[$_][3] } 0 .. $#$now }, 20),
    'with nothing new, the views are marked current as of later rounds');
is_deeply([map { $_->[1] } @{refreshes()}], [map { $_->[1] } @$seen],
    '... without a refresh (the changes they reflect are the same)');

# A round is counted right after its transaction commits, so the refreshes row seen above may
# be ahead of the counter by a moment: wait for each counter (as strict: it must move above 0).
for ([hit => 'souk_reporting_cache_total{result="hit"}', '/metrics: cache hits counted'],
    [miss => 'souk_reporting_cache_total{result="miss"}', '/metrics: cache misses counted'],
    [refreshed => 'souk_reporting_view_rounds_total{result="refreshed"}',
        '/metrics: view refreshes counted'],
    [current => 'souk_reporting_view_rounds_total{result="current"}',
        '/metrics: rounds that found the views current counted']) {
    my ($what, $series, $name) = @$_;
    ok(wait_until("the $what counter", sub { (metric_value($rep, $series) // 0) > 0 }, 20), $name)
        or diag("$series: " . (metric_value($rep, $series) // 'absent'));
}

# A malformed order.created (no lines) is refused: retried, then parked for `soukctl dlq`;
# nothing of it counts, and the events after it still apply.
my $before = api('/api/v1/reports/sales')->{body};
my $bad = $pub->invalid(created(9, '2026-01-06', 'GB', [1, 1, 1000]));
$bad->{payload}{lines} = [];
$pub->publish_envelopes($bad, moved(confirmed => 9));
ok(wait_until('the malformed event parked', sub {
    (soukctl({SOUK_AMQP_URL => $vhost}, qw(dlq list reporting)))[1] =~ /^\Q$bad->{id}\E\t/m }, 30),
    'a malformed order.created is parked in the dead-letter queue')
    or diag(join "\n", (soukctl({SOUK_AMQP_URL => $vhost}, qw(dlq list reporting)))[1, 2],
        grep {/reporting: order/} split /\n/, $rep->stderr_text);
like((soukctl({SOUK_AMQP_URL => $vhost}, qw(dlq list reporting)))[1],
    qr/payload\.lines must be a non-empty array/, '... with why');
is(api('/api/v1/reports/sales')->{body}, $before, '... and the report is as it was');

no_failures(\@fivexx, [$rep], expected => qr/payload\.lines must be a non-empty array/);
done_testing;
