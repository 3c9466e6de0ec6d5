# services/reviews/t/20_api.t - souk-reviews against real PostgreSQL and RabbitMQ. The
# product replica is fed by a real souk-catalog in the same vhost (products created through
# its admin API); user.registered events and duplicated events are written into that
# catalog's outbox, which its relay publishes like any other row.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../../tests/lib";
use HTTP::Tiny ();
use JSON::PP ();
use POSIX ();
use Test::More;
use Souk::Test;

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);
my $SECRET = 'reviews-test-secret-0123456789abcdef';
my $JSON = JSON::PP->new->utf8->canonical;
my $TS = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

# reviews first: its queue must be bound before the catalog publishes anything.
my $rev = fresh_service('reviews', SOUK_JWT_SECRET => $SECRET);
my $redis = redis_start();
my $cat = fresh_service('catalog', SOUK_AMQP_URL => $rev->{amqp},
    SOUK_REDIS_URL => $redis->{url}, SOUK_JWT_SECRET => $SECRET);
my ($rdb, $cdb) = ($rev->{db}, $cat->{db});

sub token {
    my ($sub, $role, %o) = @_;
    return jwt_mint(sub => "$sub", role => $role // 'customer', iat => time - 5,
        secret => $o{secret} // $SECRET);
}
my $admin = token(1, 'admin');

my @fivexx;
sub api { api_request($rev->url, \@fivexx, @_) }
sub review {
    my ($user, $pid, $json) = @_;
    return api(POST => "/api/v1/products/$pid/reviews", token => token($user), json => $json);
}
sub list { api(GET => "/api/v1/products/$_[0]/reviews" . ($_[1] // '')) }
sub rsql { pg_sql($rdb->{db}, $_[0]) }
sub csql { pg_sql($cdb->{db}, $_[0]) }

sub catalog {
    my ($method, $path, $json) = @_;
    return http($method, $cat->url . $path, {headers => {Authorization => "Bearer $admin"},
        (defined $json ? (json => $json) : ())});
}
my $cat_id = catalog(POST => '/api/v2/categories', {slug => 'gadgets', name => 'Gadgets'})
    ->{json}{id};
sub product {
    my ($sku, $name) = @_;
    my $res = catalog(POST => '/api/v1/products', {sku => $sku, name => $name,
        category_id => $cat_id, description => "A $name", price => {amount => 999,
        currency => 'EUR'}});
    die "catalog: product $sku: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    return $res->{json}{id};
}
sub visible {
    my ($pid) = @_;
    ok(wait_until("product $pid in the replica", sub { list($pid)->{status} == 200 }, 20),
        "product $pid reached the replica");
}

# An envelope (contracts/events.md) written into the catalog's outbox; its relay publishes it.
sub uuid { rsql('SELECT gen_random_uuid()')->[0][0] }
sub inject {
    my ($type, $agg, $payload, $id) = @_;
    $id //= uuid();
    my $env = $JSON->encode({id => $id, type => $type, version => 1,
        occurred_at => '2026-01-02T03:04:05.678Z', aggregate_id => $agg, trace_id => '',
        payload => $payload});
    inject_raw($type, $agg, $env);
    return $id;
}
sub inject_raw {
    my ($type, $agg, $env) = @_;
    (my $q = $env) =~ s/'/''/g;
    csql("INSERT INTO outbox (id, type, aggregate_id, envelope) VALUES (gen_random_uuid(), "
        . "'$type', $agg, '$q')");
}
sub user_registered {
    my ($id, $name) = @_;
    return inject('user.registered', $id, {user_id => $id, email => "u$id\@example.com",
        name => $name, role => 'customer', created_at => '2026-01-02T03:04:05Z'});
}
sub replica_name { my $r = rsql("SELECT name FROM users_replica WHERE id = $_[0]"); @$r ? $r->[0][0] : undef }

# --- unknown products, before any event --------------------------------------
is_problem(list(999999), 404, 'not-found', 'list: unknown product is 404');
is_problem(review(11, 999999, {rating => 5, body => 'x'}), 404, 'not-found',
    'create: unknown product is 404');
for my $id (qw(abc 0 -1 1.5 99999999999999999999), '1%20OR%201=1', "1';DROP%20TABLE%20reviews;--") {
    is_problem(list($id), 404, 'not-found', "list: product id '$id' is 404");
}

# --- the replicas fill from events -------------------------------------------
my $radio = product('R-1', 'Pocket radio');
my $kettle = product('K-1', 'Steel kettle');
my $ruler = product('S-1', 'Steel ruler');
visible($_) for $radio, $kettle, $ruler;
user_registered(11, 'Reviewer 1');
user_registered(12, 'Reviewer 2');
ok(wait_until('user names in the replica', sub { defined replica_name(12) }, 20),
    'user names reached the replica');

my $res = list($radio);
is($res->{status}, 200, 'list: 200 for a product without reviews');
is_deeply($res->{json}, {items => [], page => 1, limit => 20, total => 0, average_rating => 0,
    count => 0}, 'list: empty page in the monolith shape');
is($res->{body}, '{"items":[],"page":1,"limit":20,"total":0,"average_rating":0.0,"count":0}',
    'list: member order and number format as the monolith');

# --- create -------------------------------------------------------------------
$res = review(11, $radio, {rating => 4, title => 'Good', body => 'Clear sound.'});
is($res->{status}, 201, 'create: 201');
my $r1 = $res->{json};
like($r1->{id}, qr/^[1-9]\d*$/, 'create: id');
is($r1->{product_id}, $radio, 'create: product_id');
is($r1->{user_id}, 11, 'create: user_id from the token');
is($r1->{author}, 'Reviewer 1', 'create: author from the users replica');
is($r1->{rating}, 4, 'create: rating');
is($r1->{title}, 'Good', 'create: title');
is($r1->{body}, 'Clear sound.', 'create: body');
like($r1->{created_at}, $TS, 'create: created_at');
like($res->{body}, qr/^\{"id":\d+,"product_id":\d+,"user_id":11,"author":"Reviewer 1","rating":4,"title":"Good","body":"Clear sound\.","created_at":"[^"]+"\}$/,
    'create: member order as the monolith');

is_problem(review(11, $radio, {rating => 1, body => 'Again'}), 409, 'already-reviewed',
    'create: a second review by the same user is 409');
my $inj = "'); DELETE FROM reviews; --";
$res = review(12, $radio, {rating => 5, body => $inj});
is($res->{status}, 201, 'create: a body that looks like SQL is stored');
is($res->{json}{body}, $inj, 'create: verbatim');
is($res->{json}{title}, '', 'create: title defaults to empty');
is(review(11, $kettle, {rating => 1, body => 'Rusty'})->{status}, 201,
    'create: the same user may review another product');

$res = list($radio);
is($res->{json}{total}, 2, 'list: total');
is($res->{json}{count}, 2, 'list: count');
is($res->{json}{average_rating}, 4.5, 'list: average of 4 and 5');
is_deeply([map { $_->{user_id} } @{$res->{json}{items}}], [12, 11], 'list: newest first');
is_deeply($res->{json}{items}[1], $r1, 'list: items have the created shape');

$res = review(13, $radio, {rating => 5, body => 'Great'});
is($res->{json}{author}, '', 'create: a user the replica does not know yet has author ""');
is(list($radio)->{json}{average_rating}, 4.67, 'list: 14 / 3 rounds to 4.67');
user_registered(13, 'Reviewer 3');
ok(wait_until('the late user name', sub { (list($radio)->{json}{items}[0]{author} // '') eq
    'Reviewer 3' }), 'list: the author appears once user.registered arrives');

# --- pagination ---------------------------------------------------------------
$res = list($radio, '?limit=1&page=3');
is(scalar @{$res->{json}{items}}, 1, 'page: one item');
is($res->{json}{items}[0]{id}, $r1->{id}, 'page: page 3 of 1 is the oldest');
is_deeply([@{$res->{json}}{qw(page limit total count)}], [3, 1, 3, 3], 'page: echo and totals');
$res = list($radio, '?limit=2&page=2');
is(scalar @{$res->{json}{items}}, 1, 'page: the last page is short');
$res = list($radio, '?limit=2&page=9');
is_deeply($res->{json}{items}, [], 'page: past the end is empty');
is($res->{json}{total}, 3, 'page: past the end still counts');
is($res->{json}{average_rating}, 4.67, 'page: past the end still averages');
is(list($radio, '?limit=100')->{status}, 200, 'page: limit 100 is allowed');
for my $q ('?limit=0', '?limit=101', '?page=0', '?page=abc', '?page=1000001', '?limit=-1',
    '?limit=1.5', '?page=%27%20OR%201=1') {
    is_problem(list($radio, $q), 400, 'invalid-request', "page: $q is 400");
}

# --- averages stay exact over many reviews -------------------------------------
my @ratings = (1, 2, 2, 2, 2, 2, 2, 2);    # 15 / 8 = 1.875: rounds half up to 1.88
for my $i (0 .. $#ratings) {
    is(review(100 + $i, $ruler, {rating => $ratings[$i], body => "r$i"})->{status}, 201,
        "many: review $i");
}
$res = list($ruler, '?limit=3');
is_deeply([@{$res->{json}}{qw(total count average_rating)}], [8, 8, 1.88],
    'many: count 8, average 1.875 rounds to 1.88 as MariaDB ROUND does');
is(review(108, $ruler, {rating => 5, body => 'r8'})->{status}, 201, 'many: a ninth review');
is(list($ruler)->{json}{average_rating}, 2.22, 'many: 20 / 9 = 2.22');

# Concurrent creates by one user for one product: exactly one wins.
my @kids;
for (1 .. 6) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = HTTP::Tiny->new(timeout => 10)->post($rev->url . "/api/v1/products/$ruler/reviews",
            {headers => {'Content-Type' => 'application/json',
                Authorization => 'Bearer ' . token(200)},
             content => '{"rating":3,"body":"race"}'});
        POSIX::_exit($r->{status} == 201 ? 0 : $r->{status} == 409 ? 1 : 2);
    }
    push @kids, $pid;
}
my %exit;
$exit{(waitpid($_, 0), $? >> 8)[1]}++ for @kids;
is_deeply(\%exit, {0 => 1, 1 => 5}, 'race: one 201, five 409, no other status');
is_deeply([@{list($ruler)->{json}}{qw(count average_rating)}], [10, 2.3],
    'race: the aggregate counted the winner once (23 / 10)');

my $drift = rsql('SELECT count(*) FROM ratings a FULL JOIN (SELECT product_id, count(*) n,'
    . " sum((doc->>'rating')::bigint) s FROM reviews GROUP BY product_id) v USING (product_id)"
    . ' WHERE a.count IS DISTINCT FROM v.n OR a.sum IS DISTINCT FROM v.s');
is($drift->[0][0], 0, 'aggregate: every product\'s count and sum equal its reviews\'');

# --- bad input: 4xx problem+json, nothing written --------------------------------
my $before = rsql('SELECT count(*) FROM reviews')->[0][0];
my $path = "/api/v1/products/$kettle/reviews";
for my $c ([{rating => 0, body => 'x'}, 'rating 0'], [{rating => 6, body => 'x'}, 'rating 6'],
    [{rating => -1, body => 'x'}, 'rating -1'], [{rating => '5', body => 'x'}, 'rating "5"'],
    [{rating => 5.5, body => 'x'}, 'rating 5.5'], [{rating => 5.0, body => 'x', title => []},
    'title an array'], [{rating => undef, body => 'x'}, 'rating null'],
    [{rating => JSON::PP::true, body => 'x'}, 'rating true'], [{rating => 5}, 'missing body'],
    [{rating => 5, body => ''}, 'empty body'], [{body => 'x'}, 'missing rating'],
    [{rating => 5, body => 'x' x 5001}, 'body over 5000 bytes'],
    [{rating => 5, body => 'x', title => 'x' x 201}, 'title over 200 bytes'],
    [{rating => 5, body => 'x', user_id => 12}, 'unknown field user_id'],
    [{rating => 5, body => 'x', verified => JSON::PP::true}, 'unknown field verified'],
    [{rating => '5; DROP TABLE reviews', body => 'x'}, 'injection in rating'],
    [{rating => 5, body => {'$gt' => ''}}, 'an object as body']) {
    is_problem(api(POST => $path, token => token(12), json => $c->[0]), 400, 'invalid-request',
        "bad input: $c->[1] is 400");
}
for my $c (['{"rating": 5,', 'malformed-json', 'truncated JSON'],
    ['{"rating":5,"body":"x","body":"y"}', 'malformed-json', 'a duplicate key'],
    ["{\"rating\":5,\"body\":\"\xff\"}", 'malformed-json', 'invalid UTF-8'],
    ['[5]', 'invalid-request', 'an array'], ['', 'malformed-json', 'an empty body'],
    ['null', 'invalid-request', 'null'], ['{"rating":5,"body":"a\u0000b"}', 'malformed-json',
    'a NUL in body']) {
    is_problem(api(POST => $path, token => token(12), body => $c->[0],
        headers => {'Content-Type' => 'application/json'}), 400, $c->[1],
        "bad input: $c->[2] is 400");
}
is_problem(api(POST => $path, token => token(12), json => {rating => 5, body => 'x' x 20000}),
    413, 'payload-too-large', 'bad input: a huge body is 413');
is_problem(api(POST => $path, token => token(12), body => '{"rating":5,"body":"x"}',
    headers => {'Content-Type' => 'text/plain'}), 415, 'unsupported-media-type',
    'bad input: text/plain is 415');
is(rsql('SELECT count(*) FROM reviews')->[0][0], $before, 'bad input: nothing was written');
my $injected = 0;
for my $s ("' OR 1=1 --", "\"; DROP TABLE reviews; --", "%' UNION SELECT * FROM inbox --",
    "\\' OR 1=1 #", "<script>alert(1)</script>", "caf\x{e9} \x{1F600}") {
    $res = review(300 + $injected++, $kettle, {rating => 3, title => $s, body => $s});
    is($res->{status}, 201, "injection: stored as text: $s");
    is_deeply([@{$res->{json}}{qw(title body)}], [$s, $s], "injection: verbatim: $s");
}
ok(rsql("SELECT to_regclass('reviews') IS NOT NULL")->[0][0] eq 't', 'injection: table intact');

# --- identity -----------------------------------------------------------------------
is_problem(api(POST => $path, json => {rating => 5, body => 'x'}), 401, 'unauthorized',
    'auth: no token is 401');
is_problem(api(POST => $path, token => 'not.a.token', json => {rating => 5, body => 'x'}), 401,
    'unauthorized', 'auth: a malformed token is 401');
is_problem(api(POST => $path, token => token(12, 'customer', secret => 'another-secret-entirely-0123456789'),
    json => {rating => 5, body => 'x'}), 401, 'unauthorized', 'auth: a foreign signature is 401');

# --- review.created through the outbox -------------------------------------------------
my $rows = rsql("SELECT aggregate_id, envelope FROM outbox WHERE type = 'review.created'"
    . " ORDER BY seq");
is(scalar @$rows, rsql('SELECT count(*) FROM reviews')->[0][0],
    'outbox: one review.created per review');
my $env = $JSON->decode($rows->[0][1]);
is($rows->[0][0], $r1->{id}, 'outbox: aggregate_id is the review id');
is_deeply([@$env{qw(type version aggregate_id)}], ['review.created', 1, $r1->{id}],
    'outbox: envelope type, version, aggregate_id');
is_deeply($env->{payload}, {review_id => $r1->{id}, product_id => $radio, user_id => 11,
    rating => 4, created_at => $r1->{created_at}}, 'outbox: payload exactly');
like($env->{trace_id}, qr/\S/, 'outbox: trace_id set from the request');
ok(wait_until('the relay', sub {
    rsql("SELECT count(*) FROM outbox WHERE sent_at IS NULL")->[0][0] == 0 }),
    'outbox: the relay published every row');

# --- deletes and duplicates ---------------------------------------------------------------
is(catalog(DELETE => "/api/v1/products/$kettle")->{status}, 204, 'catalog: kettle deleted');
ok(wait_until('the tombstone', sub { list($kettle)->{status} == 404 }),
    'deleted: list is 404 after product.deleted');
is_problem(list($kettle), 404, 'not-found', 'deleted: list is a 404 problem');
is_problem(review(12, $kettle, {rating => 5, body => 'x'}), 404, 'not-found',
    'deleted: create is 404');
my $tomb = rsql("SELECT version, deleted FROM products WHERE id = $kettle")->[0];
is($tomb->[1], 't', 'deleted: the replica keeps a tombstone');

# The kettle's product.created again: the very same event (same id), and the same content
# under a new id. Neither may bring the product back, and the event id is processed once.
my $created = csql("SELECT id, envelope FROM outbox WHERE type = 'product.created' AND "
    . "aggregate_id = $kettle")->[0];
my $orig_id = $JSON->decode($created->[1])->{id};
inject_raw('product.created', $kettle, $created->[1]);
inject_raw('product.created', $kettle, $created->[1]);
my $copy = $JSON->decode($created->[1]);
$copy->{id} = uuid();
inject_raw('product.created', $kettle, $JSON->encode($copy));
my $same = user_registered(11, 'Impostor');
inject_raw('user.registered', 11, csql("SELECT envelope FROM outbox WHERE envelope LIKE "
    . "'%$same%'")->[0][0]);
# A marker behind them in the same queue: once it is applied, they were all consumed.
my $marker = product('M-1', 'Marker');
visible($marker);
ok(wait_until('the duplicates', sub { rsql("SELECT count(*) FROM inbox WHERE event_id IN "
    . "('$copy->{id}', '$same')")->[0][0] == 2 }), 'duplicates: consumed');
is(rsql("SELECT count(*) FROM inbox WHERE event_id = '$orig_id'")->[0][0], 1,
    'duplicates: the same event twice is one inbox row');
is_problem(list($kettle), 404, 'not-found', 'duplicates: an old product.created did not '
    . 'resurrect the deleted product');
is_deeply(rsql("SELECT version, deleted FROM products WHERE id = $kettle")->[0], $tomb,
    'duplicates: the tombstone kept its version');
is(replica_name(11), 'Reviewer 1', 'duplicates: user.registered again keeps the first name');
no_failures(\@fivexx, [$rev], name => 'reviews', ready => 1);

done_testing;
