# A request's trace id across the async hops (issue 9, defect 6): it is in the access log line
# of the service that took the request, in the envelope of every event the request caused,
# and in the log lines of every consumer that handled those events - including the events a
# consumer causes in turn (review.created -> catalog's rating -> product.updated -> search).
use strict;
use warnings;
use JSON::PP ();
use Test::More;
use lib 'tests/lib';
use Souk::Test;

infra('postgres', 'redis', 'rabbitmq');
my ($cdb, $sdb, $rdb, $kdb) = map { pg_fresh($_) } qw(catalog search reviews cart);
my $redis = redis_start();
my $amqp = rabbit_vhost();
my %mq = (SOUK_AMQP_URL => $amqp, SOUK_LOG_LEVEL => 'info');    # access and consumer lines
my $admin = jwt_mint(sub => '1', role => 'admin');
my $customer = jwt_mint(sub => '7', role => 'customer');

# The consumers first, so their queues and bindings exist before catalog publishes.
my $search = spawn_service('search', %mq, SOUK_SEARCH_DB => $sdb->{dsn});
my $reviews = spawn_service('reviews', %mq, SOUK_REVIEWS_DB => $rdb->{dsn});
my $catalog = spawn_service('catalog', %mq, SOUK_CATALOG_DB => $cdb->{dsn},
    SOUK_REDIS_URL => $redis->url);
my $cart = spawn_service('cart', %mq, SOUK_CART_DB => $kdb->{dsn}, SOUK_REDIS_URL => $redis->url,
    SOUK_CATALOG_URL => $catalog->url);

sub call {
    my ($svc, $method, $path, $token, $trace, $json) = @_;
    return http($method, $svc->url . $path, {headers => {Authorization => "Bearer $token",
        traceparent => "00-$trace-00f067aa0ba902b7-01"}, (defined $json ? (json => $json) : ())});
}

# The JSON log lines of $svc that carry $trace.
sub lines_with {
    my ($svc, $trace) = @_;
    return grep { ($_->{trace_id} // '') eq $trace }
        map { my $l = eval { JSON::PP::decode_json($_) }; $l ? $l : () }
        split /\n/, $svc->stderr_text;
}

sub inbox_has {
    my ($db, $id) = @_;
    return pg_sql($db->{db}, "SELECT count(*) FROM inbox WHERE event_id = '$id'")->[0][0];
}

my $cat = call($catalog, POST => '/api/v2/categories', $admin, '1' x 32,
    {slug => 'shoes', name => 'Shoes'});
is($cat->{status}, 201, 'category created') or diag($cat->{body});
my %doc = (sku => 'TR-1', name => 'Traced shoe', description => 'x', brand => 'B',
    category_id => $cat->{json}{id}, price => {amount => 1000, currency => 'EUR'});
my $p = call($catalog, POST => '/api/v1/products', $admin, '2' x 32, \%doc);
is($p->{status}, 201, 'product created') or diag($p->{body});
my $id = $p->{json}{id};

# --- one admin write: product.updated and product.price_changed, four consumers --------------
my $trace = '4bf92f3577b34da6a3ce929d0e0e4736';
my $res = call($catalog, PUT => "/api/v1/products/$id", $admin, $trace,
    {%doc, name => 'Traced shoe, renamed', price => {amount => 1200, currency => 'EUR'}});
is($res->{status}, 200, 'the traced write succeeds') or diag($res->{body});
ok((grep { $_->{msg} eq 'access' && $_->{path} eq "/api/v1/products/$id" }
    lines_with($catalog, $trace)), 'catalog: the access line carries the trace id');

my $events = pg_sql($cdb->{db}, "SELECT id, type, envelope FROM outbox WHERE aggregate_id = $id
    AND seq > (SELECT min(seq) FROM outbox WHERE aggregate_id = $id) ORDER BY seq");
is_deeply([map { $_->[1] } @$events], [qw(product.updated product.price_changed)],
    'the write caused two events');
for my $e (@$events) {
    is(JSON::PP::decode_json($e->[2])->{trace_id}, $trace, "$e->[1]: the envelope's trace_id");
}
my %consumers = (search => [$search, $sdb], reviews => [$reviews, $rdb], cart => [$cart, $kdb],
    catalog => [$catalog, $cdb]);
for my $name (sort keys %consumers) {
    my ($svc, $db) = @{$consumers{$name}};
    ok(wait_until("$name consumed both", sub { (grep { inbox_has($db, $_->[0]) } @$events) == 2 },
        30), "$name: consumed both events");
    # the consumer logs "handled" after the commit the inbox row shows: wait for the lines
    my $with = sub {
        my %handled = map { ($_->{event_id} // '') => 1 } lines_with($svc, $trace);
        [grep { $handled{$_} } map { $_->[0] } @$events];
    };
    wait_until("$name: the log lines of both events", sub { @{$with->()} == @$events }, 20);
    is_deeply($with->(), [map { $_->[0] } @$events],
        "$name: its log lines for both events carry the trace id");
}

# --- two hops: a review, catalog's rating, the product.updated it causes, search -------------
my $trace2 = '0af7651916cd43dd8448eb211c80319c';
$res = call($reviews, POST => "/api/v1/products/$id/reviews", $customer, $trace2,
    {rating => 4, title => 'Good', body => 'Fits well.'});
is($res->{status}, 201, 'the traced review is created') or diag($res->{body});
ok((grep { $_->{msg} eq 'access' } lines_with($reviews, $trace2)),
    'reviews: the access line carries the trace id');
is(JSON::PP::decode_json(pg_sql($rdb->{db},
    "SELECT envelope FROM outbox WHERE type = 'review.created'")->[0][0])->{trace_id}, $trace2,
    'review.created carries it');
my $rated;
ok(wait_until('catalog rating event', sub {
    $rated = pg_sql($cdb->{db}, "SELECT id, envelope FROM outbox WHERE aggregate_id = $id
        ORDER BY seq DESC LIMIT 1")->[0];
    JSON::PP::decode_json($rated->[1])->{payload}{product}{rating}{count}
}, 30), 'catalog applied the rating');
is(JSON::PP::decode_json($rated->[1])->{trace_id}, $trace2,
    'the product.updated catalog caused carries the review request\'s trace id');
# (its "handled" line comes after the commit that wrote the event above)
ok(wait_until('catalog: the line for review.created',
    sub { grep { ($_->{event_type} // '') eq 'review.created' } lines_with($catalog, $trace2) }, 20),
    'catalog: its consumer lines for review.created carry it');
ok(wait_until('search consumed the rating', sub { inbox_has($sdb, $rated->[0]) }, 30),
    'search consumed the rating update');
ok(wait_until('search: the line for the rating update',    # logged after the inbox commit
    sub { grep { ($_->{event_id} // '') eq $rated->[0] } lines_with($search, $trace2) }, 20),
    'search: its line for that event carries the first request\'s trace id');

done_testing;
