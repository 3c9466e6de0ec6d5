# The stock replica: inventory's inventory.stock_changed events (published here through the
# catalog's own outbox, the shape souk-inventory writes) set the product's DOC.stock to
# `available`, only when inventory's per-product version is newer than the last one applied:
# a duplicate, an older or an equal version changes nothing. Each applied event is a document
# write (version + 1) whose page is written through to the cache, so the product page shows
# the new stock at once; a deleted or unknown product is left alone; a malformed payload is
# parked in catalog.dlq after its retries.
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
my $cat = $c->category('kettles', 'Kettles');

my $SEQ = 0;
sub product {
    my $res = $c->admin_api(POST => '/api/v1/products', json => {sku => 'S-' . ++$SEQ,
        name => "Kettle $SEQ", category_id => $cat, price => {amount => 2500, currency => 'EUR'}});
    die "product: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    return $res->{json}{id};
}

# stock_changed($product_id, $available, $version, %payload_overrides): one envelope into
# the outbox, as souk-inventory writes it; the relay publishes it, the consumer applies it.
my $EV = 0;
sub stock_changed {
    my ($pid, $avail, $version, %o) = @_;
    my $n = ++$EV;
    my $uuid = sprintf('%08x-%04x-4%03x-8%03x-%012x', $$, $n & 0xffff, $n >> 16 & 0xfff,
        int(rand(0xfff)), int(rand(2**40)));
    my $env = $JSON->encode({id => $uuid, type => 'inventory.stock_changed', version => 1,
        occurred_at => '2026-12-07T10:00:00.000Z', aggregate_id => $pid, trace_id => '',
        payload => {product_id => $pid, available => $avail, on_hand => $avail + 1,
            reserved => 1, version => $version, %o}});
    $c->sql("INSERT INTO outbox (id, type, aggregate_id, envelope)
        VALUES ('$uuid', 'inventory.stock_changed', $pid, '$env')");
    return $uuid;
}

sub row { $c->sql("SELECT version, stock_version, (doc->>'stock')::bigint FROM products
    WHERE id = $_[0]")->[0] }
sub cached { redis_cmd($port, 'GET', "catalog:v1:product:$_[0]") // '' }
sub page { $c->api(GET => "/api/v1/products/$_[0]") }
sub consumed { $c->metric('souk_events_consumed_total') // 0 }

my $p = product();
is(page($p)->{json}{stock}, 0, 'a new product: stock 0');
like(cached($p), qr/^1:/, 'the read cached version 1');

stock_changed($p, 7, 1);
ok(wait_until('stock 7', sub { (row($p)->[2] // -1) == 7 }, 20), 'stock_changed v1: stock 7');
is_deeply(row($p), [2, 1, 7], 'the row: version 2, stock version 1');
ok(wait_until('cache v2', sub { cached($p) =~ /^2:/ }, 5), 'the new page is written through');
like(cached($p), qr/"stock":7\b/, 'the cached page shows stock 7');
my $res = page($p);
is($res->{json}{stock}, 7, 'the product page shows 7');
is($res->{body}, substr(cached($p), 2), '... from the cache');
is($c->admin_api(GET => "/api/v2/products?ids=$p")->{json}{items}[0]{stock}, 7,
    'the v2 document too');
is($c->sql("SELECT count(*) FROM outbox WHERE type = 'product.updated' AND aggregate_id = $p")
    ->[0][0], 0, 'a stock change is not a product.updated (it is not an edit)');

# --- newer only ---------------------------------------------------------------------------
my $before = consumed();
stock_changed($p, 3, 3);
stock_changed($p, 5, 2);    # older, arrives late
stock_changed($p, 9, 3);    # the same version again under another id
ok(wait_until('3 consumed', sub { consumed() >= $before + 3 }, 20), 'three more consumed');
is_deeply(row($p), [3, 3, 3], 'v3 applied (stock 3); the late v2 and a second v3 are not');
is(page($p)->{json}{stock}, 3, 'the page shows 3');

my $dups = $c->metric('souk_events_duplicates_total') // 0;
$c->sql("UPDATE outbox SET sent_at = NULL WHERE type = 'inventory.stock_changed' AND aggregate_id = $p");
ok(wait_until('duplicates', sub { ($c->metric('souk_events_duplicates_total') // 0) >= $dups + 4 }, 20),
    'a redelivery of every event is recognised as a duplicate');
is_deeply(row($p), [3, 3, 3], 'and changes nothing');

# --- an admin write keeps the stock ---------------------------------------------------------
$res = $c->admin_api(PUT => "/api/v1/products/$p", json => {sku => 'S-1', name => 'Kettle renamed',
    category_id => $cat, price => {amount => 2600, currency => 'EUR'}});
is($res->{status}, 200, 'PUT product: 200');
is($res->{json}{stock}, 3, 'PUT product: the stock replica stays');
stock_changed($p, 0, 4);
ok(wait_until('stock 0', sub { (row($p)->[2] // -1) == 0 }, 20), 'v4: sold out');
is(page($p)->{json}{stock}, 0, 'the page shows 0');

# --- deleted and unknown products ----------------------------------------------------------
my $q = product();
is($c->admin_api(DELETE => "/api/v1/products/$q")->{status}, 204, 'delete a product');
$before = consumed();
stock_changed($q, 4, 1);
stock_changed(987654321, 4, 1);
ok(wait_until('consumed', sub { consumed() >= $before + 2 }, 20),
    'stock of a deleted and an unknown product consumed');
is_deeply(row($q), [2, 0, 0], 'the tombstone is left alone');
is_problem(page($q), 404, 'not-found', 'and stays 404');

# --- a malformed payload ------------------------------------------------------------------
Souk::Test::event_invalid_on_purpose(stock_changed($p, -1, 5, available => -1));
ok(wait_until('parked', sub { ($c->metric('souk_events_dead_lettered_total') // 0) == 1 }, 20),
    'available -1 is retried, then parked in catalog.dlq');
is_deeply(row($p), [5, 4, 0], 'and changes nothing');

$c->finish(qr/inventory\.stock_changed|parked a message/);
done_testing;
