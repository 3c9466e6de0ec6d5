# The rating replica: reviews' review.created events (published here through the catalog's
# own outbox, the shape souk-reviews writes) update a product's rating exactly as the
# monolith computes it (count and sum kept, round(100 * sum / count) / 100 half up), each a
# document write: version + 1 and product.updated with the new document. The cache shows
# the new rating at once (written through after the commit), a duplicate event changes
# nothing, a deleted or unknown product is left alone, and a malformed payload is parked in
# catalog.dlq after its retries.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib";
use JSON::PP ();
use Test::More;
use Souk::Test;
use CatalogTest qw(redis_cmd);

my $JSON = JSON::PP->new->utf8->canonical;
my $c = CatalogTest->start(SOUK_OUTBOX_PAUSED => 0, SOUK_MQ_MAX_ATTEMPTS => 2,
    SOUK_MQ_RETRY_DELAY_MS => 50);
my $port = $c->{redis}{port};
my $top = $c->category('kitchen', 'Kitchen');
my $cat = $c->category('kettles', 'Kettles', $top);

my $SEQ = 0;
sub product {
    my $res = $c->admin_api(POST => '/api/v1/products', json => {sku => 'R-' . ++$SEQ,
        name => "Kettle $SEQ", category_id => $cat, price => {amount => 2500, currency => 'EUR'}});
    die "product: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    return $res->{json}{id};
}

# review($product_id, @ratings): one review.created envelope per rating into the outbox, as
# souk-reviews writes them; the catalog's relay publishes them and its consumer applies them.
my $REVIEW = 0;
sub review {
    my ($pid, @ratings) = @_;
    my @rows = map {
        my $rid = ++$REVIEW;
        my $uuid = sprintf('%08x-%04x-4%03x-8%03x-%012x', $$, $rid & 0xffff, $rid >> 16 & 0xfff,
            int(rand(0xfff)), int(rand(2**40)));
        my $env = $JSON->encode({id => $uuid, type => 'review.created', version => 1,
            occurred_at => '2026-12-05T06:01:26.123Z', aggregate_id => $rid, trace_id => '',
            payload => {review_id => $rid, product_id => $pid, user_id => $rid, rating => $_,
                created_at => '2026-12-05T06:01:26Z'}});
        Souk::Test::event_invalid_on_purpose($uuid) if $_ < 1 || $_ > 5;
        "('$uuid', 'review.created', $rid, '$env')";
    } @ratings;
    $c->sql('INSERT INTO outbox (id, type, aggregate_id, envelope) VALUES ' . join(', ', @rows));
    return $REVIEW;
}

sub row { $c->sql("SELECT version, rating_count, rating_sum FROM products WHERE id = $_[0]")->[0] }
sub cached { redis_cmd($port, 'GET', "catalog:v1:product:$_[0]") // '' }
sub page { $c->api(GET => "/api/v1/products/$_[0]") }
sub updates {
    my ($pid) = @_;
    return [map { $JSON->decode($_->[0])->{payload} } @{$c->sql("SELECT envelope FROM outbox
        WHERE type = 'product.updated' AND aggregate_id = $pid ORDER BY seq")}];
}

# --- one review -------------------------------------------------------------------------
my $p = product();
my $res = page($p);
is_deeply($res->{json}{rating}, {average => 0, count => 0}, 'a new product: 0 of 0');
like(cached($p), qr/^1:/, 'the read cached version 1');
my $hits = $c->metric('souk_catalog_cache_hits_total');

review($p, 4);
ok(wait_until('the cache at version 2', sub { cached($p) =~ /^2:/ }, 20),
    'review.created: the new version is written through to the cache (no read in between)');
like(cached($p), qr/"rating":\{"average":4\.0,"count":1\}/, 'the cached page has the rating');
is_deeply(row($p), [2, 1, 4], 'the row: version 2, count 1, sum 4');
$res = page($p);
is_deeply($res->{json}{rating}, {average => 4, count => 1}, 'the next read shows it');
is($res->{body}, substr(cached($p), 2), '... from the cache');
is($c->metric('souk_catalog_cache_hits_total'), $hits + 1, '... as a hit');

my $ev = updates($p);
is(scalar @$ev, 1, 'product.updated emitted once');
is($ev->[0]{version}, 2, 'with the new version');
is_deeply($ev->[0]{product}{rating}, {average => 4, count => 1}, 'and the new rating');
is_deeply($ev->[0]{category_path}, [qw(kitchen kettles)], 'and the category path');
my $doc = $JSON->decode($c->sql("SELECT doc FROM products WHERE id = $p")->[0][0]);
is_deeply($ev->[0]{product}, $doc, 'the event carries the stored document');

# --- exact arithmetic -------------------------------------------------------------------
review($p, 5, 5);    # 4 + 5 + 5 = 14 / 3 = 4.666.. -> 4.67
ok(wait_until('3 ratings', sub { (row($p)->[1] // 0) == 3 }, 20), 'two more ratings applied');
ok(wait_until('cache v4', sub { cached($p) =~ /^4:/ }, 20), 'cache at version 4');
like(page($p)->{body}, qr/"rating":\{"average":4\.67,"count":3\}/,
    '14 / 3 renders as the monolith does: 4.67');
is_deeply([map { $_->{version} } @{updates($p)}], [2, 3, 4], 'one product.updated per rating, in order');

my $q = product();    # 51 x 4 + 50 x 3 = 354 over 101: 3.50, not 3.51 (round once, exactly)
review($q, (4) x 51, (3) x 50);
ok(wait_until('101 ratings', sub { (row($q)->[1] // 0) == 101 }, 60), '101 ratings applied');
is_deeply(row($q), [102, 101, 354], 'count 101, sum 354, version 102');
ok(wait_until('cache v102', sub { cached($q) =~ /^102:/ }, 20), 'the cache follows');
like(page($q)->{body}, qr/"rating":\{"average":3\.5,"count":101\}/, '354 / 101 is 3.5');
my $r = product();
review($r, 1, 2, 2);    # 5 / 3 = 1.666.. -> 1.67; then 6 / 4 = 1.5
ok(wait_until('3 ratings', sub { (row($r)->[1] // 0) == 3 }, 20), 'three ratings');
is_deeply(page($r)->{json}{rating}, {average => 1.67, count => 3}, '5 / 3 is 1.67');
review($r, 1);
ok(wait_until('4 ratings', sub { (row($r)->[1] // 0) == 4 }, 20), 'a fourth');
like(page($r)->{body}, qr/"rating":\{"average":1\.5,"count":4\}/, '6 / 4 is 1.5');

# --- a duplicate changes nothing --------------------------------------------------------
my $dups = $c->metric('souk_events_duplicates_total');
my $before = row($p);
$c->sql("UPDATE outbox SET sent_at = NULL WHERE type = 'review.created'
    AND aggregate_id = (SELECT min(aggregate_id) FROM outbox WHERE type = 'review.created')");
ok(wait_until('duplicate', sub { $c->metric('souk_events_duplicates_total') >= $dups + 1 }, 20),
    'a re-published review.created is recognised as a duplicate');
is_deeply(row($p), $before, 'and changes neither the rating nor the version');
is(scalar @{updates($p)}, 3, 'and emits nothing');

# --- an admin write keeps the rating ----------------------------------------------------
$res = $c->admin_api(PUT => "/api/v1/products/$p", json => {sku => 'R-1', name => 'Kettle renamed',
    category_id => $cat, price => {amount => 2600, currency => 'EUR'}});
is($res->{status}, 200, 'PUT: 200');
is_deeply($res->{json}{rating}, {average => 4.67, count => 3}, 'PUT: the rating stays');
is_deeply(row($p), [5, 3, 14], 'PUT: version 5, the aggregate untouched');

# --- deleted and unknown products -------------------------------------------------------
my $consumed = $c->metric('souk_events_consumed_total');
is($c->admin_api(DELETE => "/api/v1/products/$r")->{status}, 204, 'delete a rated product');
review($r, 5);
review(987654321, 5);
ok(wait_until('consumed', sub { $c->metric('souk_events_consumed_total') >= $consumed + 2 }, 20),
    'reviews of a deleted and an unknown product are consumed');
is_deeply(row($r), [6, 4, 6], 'the tombstone is left alone');
is_problem(page($r), 404, 'not-found', 'and stays 404');

# --- a malformed payload ----------------------------------------------------------------
review($q, 9);
ok(wait_until('parked', sub { $c->metric('souk_events_dead_lettered_total') == 1 }, 20),
    'a rating of 9 is retried, then parked in catalog.dlq');
is_deeply(row($q), [102, 101, 354], 'and changes nothing');
my ($rc, $out) = soukctl({SOUK_AMQP_URL => $c->{amqp}}, qw(dlq list catalog));
like($out, qr/\treview\.created\t2\t[^\t]+\tpayload needs an integer product_id/,
    'soukctl dlq list catalog shows it with the reason');

is(http(GET => "$c->{url}/ready")->{status}, 200, 'ready (the consumer is subscribed)');
$c->finish(qr/review\.created|parked a message/);
done_testing;
