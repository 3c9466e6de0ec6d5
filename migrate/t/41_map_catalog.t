# 41_map_catalog.t - the catalog mapping (migrate/map/catalog.c) both ways against real
# servers: backfill + souk-sync turn the monolith's product rows, EAV attribute rows, stock
# rows and categories into catalog documents with their version moved on and the product
# events souk-catalog itself writes, so its cache (a page cached before the change) and the
# v1 product page follow; a product's price and stock agree on both sides (the case from
# `make run`: stock 69 in catalog, 0 in the monolith). After cutover, souk-sync --reverse
# writes the catalog's products, attributes and categories back (stock stays the
# monolith's), in skip_replication sessions the forward stream skips.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;

my $mono = mariadb_fresh('mapcat');
my $cat = pg_fresh('catalog');
my $inbox = pg_fresh('reviews');    # a database with the backbone's tables: reverse's inbox
my $admin_dsn = mariadb_admin_dsn($mono->{db});
my %env = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_CATALOG_DB => $cat->{dsn});
my ($rc, $out, $err) = soukctl(\%env, qw(seed --products 30 --users 4 --orders 3 --reviews 20
    --carts 1 --now 2025-06-01));
is($rc, 0, 'seed a small monolith') or diag $err;

sub mono { mariadb_sql($mono->{db}, $_[0]) }
sub cat  { pg_sql($cat->{db}, $_[0]) }
# The canonical product rows of both sides (catalog.c's map_verify, written out here).
sub canon_mono {
    my $w = $_[0] ? "WHERE p.id = $_[0]" : '';
    return mono(q{SELECT p.id, p.sku, p.name, p.description, p.brand, p.category_id,
        p.price_minor, p.currency, CONCAT(DATE_FORMAT(p.created_at, '%Y-%m-%dT%H:%i:%s'), '.000Z'),
        CONCAT(DATE_FORMAT(p.updated_at, '%Y-%m-%dT%H:%i:%s'), '.000Z'), COALESCE(i.stock, 0),
        COALESCE((SELECT GROUP_CONCAT(CONCAT(LENGTH(a.name), ':', a.name, LENGTH(a.value), ':',
        a.value) ORDER BY CAST(a.name AS BINARY) SEPARATOR '') FROM product_attributes a
        WHERE a.product_id = p.id), '') FROM products p LEFT JOIN inventory i
        ON i.product_id = p.id } . "$w ORDER BY p.id");
}
sub canon_cat {
    my $w = $_[0] ? "AND id = $_[0]" : '';
    return cat(qq{SELECT id, doc->>'sku', doc->>'name', doc->>'description', doc->>'brand',
        doc->'category'->>'id', doc->'price'->>'amount', doc->'price'->>'currency',
        left(doc->>'created_at', 19) || '.000Z', left(doc->>'updated_at', 19) || '.000Z',
        doc->>'stock', coalesce((SELECT string_agg(octet_length(a.key) || ':' || a.key
        || octet_length(a.value) || ':' || a.value, '' ORDER BY a.key COLLATE "C")
        FROM jsonb_each_text(doc->'attributes') a), '') FROM products
        WHERE deleted_at IS NULL $w ORDER BY id});
}

($rc, $out, $err) = soukctl(\%env, qw(backfill catalog));
is($rc, 0, 'backfill catalog') or diag $err;
is_deeply(canon_cat(), canon_mono(), 'after the backfill: the same canonical products');
my $sync = spawn_service('sync', SOUK_SYNC_DOMAIN => 'catalog', %env,
    SOUK_SYNC_BINLOG_DB => $admin_dsn);    # from the backfill's snapshot (sync_position)

my $amqp = rabbit_vhost();
my $redis = redis_start();
my $csvc = spawn_service('catalog', SOUK_CATALOG_DB => $cat->{dsn}, SOUK_AMQP_URL => $amqp,
    SOUK_REDIS_URL => $redis->{url});
my $msvc = spawn_service('monolith', SOUK_MONOLITH_DB => $mono->{dsn});
my $admin = http(POST => $msvc->url . '/api/v1/accounts/login',
    {json => {email => 'admin@souk.test', password => 'souk-demo'}})->{json}{token};
my %auth = (headers => {Authorization => "Bearer $admin"});
sub page { http(GET => $_[0]->url . "/api/v1/products/$_[1]")->{json} }

# A product page cached by the catalog before the monolith changes the product.
my ($pid, $cid) = @{mono('SELECT id, category_id FROM products ORDER BY id LIMIT 1')->[0]};
my $old = page($csvc, $pid);
is($old->{price}{amount}, page($msvc, $pid)->{price}{amount}, 'the pages agree before');
my $v0 = cat("SELECT version FROM products WHERE id = $pid")->[0][0];

# --- forward: an update (price, name, attributes), stock, a new product -----------------
my $res = http(PUT => $msvc->url . "/api/v1/products/$pid", {%auth, json => {sku => "SKU-$pid-X",
    name => 'Renamed Radio', description => 'd', brand => 'b', category_id => $cid + 0,
    price => {amount => $old->{price}{amount} + 100, currency => 'EUR'},
    attributes => {colour => 'teal', size => 'L'}}});
is($res->{status}, 200, 'the monolith updates the product') or diag $res->{body};
$res = http(PUT => $msvc->url . "/api/v1/products/$pid/stock", {%auth, json => {stock => 69}});
is($res->{status}, 200, 'the monolith sets its stock to 69') or diag $res->{body};
$res = http(POST => $msvc->url . '/api/v1/products', {%auth, json => {sku => 'NEW-1',
    name => 'New Kettle', description => 'boils', brand => 'k', category_id => $cid + 0,
    price => {amount => 1999, currency => 'EUR'}, attributes => {litres => '2'}}});
is($res->{status}, 201, 'the monolith creates a product') or diag $res->{body};
my $new = $res->{json}{id};
ok($new % 2 == 1, "the monolith gave it an odd id ($new)");

ok(wait_until('synced', sub { (cat("SELECT doc->>'stock' FROM products WHERE id = $pid")->[0][0]
    // '') eq '69' && @{cat("SELECT 1 FROM products WHERE id = $new")} }, 20),
    'souk-sync applied the monolith\'s writes') or diag $sync->stderr_text;
is_deeply(canon_cat(), canon_mono(), 'every product: the same canonical rows on both sides');
ok(cat("SELECT version FROM products WHERE id = $pid")->[0][0] > $v0,
    'the document\'s version moved on');
my %types = map { $_->[0] => $_->[1] } @{cat("SELECT type, count(*) FROM outbox
    WHERE aggregate_id IN ($pid, $new) GROUP BY type")};
ok($types{'product.updated'} && $types{'product.price_changed'} && $types{'product.created'},
    'product.created, product.updated and product.price_changed in catalog\'s outbox')
    or diag explain \%types;
is(cat(qq{SELECT envelope::jsonb->'payload'->'old_price'->>'amount' FROM outbox
    WHERE type = 'product.price_changed' AND aggregate_id = $pid})->[0][0],
    $old->{price}{amount}, '... with the old price');

# The case from `make run`: the v1 pages agree (the cache heard of the change).
ok(wait_until('the catalog page follows', sub {
    (page($csvc, $pid)->{price}{amount} // 0) == $old->{price}{amount} + 100 }, 20),
    'the catalog\'s cached page shows the synced price');
for my $id ($pid, $new) {
    is_deeply(page($csvc, $id), page($msvc, $id),
        "product $id: the same v1 page (price, stock, attributes) on catalog and monolith");
}

# --- reverse: after cutover the catalog's writes reach the monolith -----------------------
my $skipped0 = metric_value($sync->url, 'souk_sync_skipped_total') // 0;
my $rev = spawn_service('sync', SOUK_SYNC_DOMAIN => 'catalog', SOUK_SYNC_REVERSE => 1,
    SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_CATALOG_DB => $cat->{dsn},
    SOUK_REVERSE_DB => $inbox->{dsn}, SOUK_AMQP_URL => $amqp);
my $cadmin = jwt_mint(role => 'admin', sub => '1');
$res = http(PUT => $csvc->url . "/api/v1/products/$new/price", {json => {amount => 2499,
    currency => 'EUR'}, headers => {Authorization => "Bearer $cadmin"}});
is($res->{status}, 200, 'the catalog changes a price') or diag $res->{body};
$res = http(POST => $csvc->url . '/api/v1/products', {json => {sku => 'CAT-1', name => 'Cat Lamp',
    description => 'glows', brand => 'c', category_id => $cid + 0,
    price => {amount => 5000, currency => 'EUR'}, attributes => {watts => 40}},
    headers => {Authorization => "Bearer $cadmin"}});
is($res->{status}, 201, 'the catalog creates a product') or diag $res->{body};
my $made = $res->{json}{id} // 0;
ok($made % 2 == 0, "the catalog gave it an even id ($made)");
$res = http(POST => $csvc->url . '/api/v1/products', {json => {sku => 'CAT-2', name => 'Bare',
    category_id => $cid + 0, price => {amount => 100, currency => 'EUR'}},
    headers => {Authorization => "Bearer $cadmin"}});
is($res->{status}, 201, 'the catalog creates a product without brand or description')
    or diag $res->{body};
my $bare = $res->{json}{id} // 0;
ok(wait_until('written back', sub {
    (mono("SELECT price_minor FROM products WHERE id = $new")->[0][0] // 0) == 2499
        && @{mono("SELECT 1 FROM products WHERE id = $made")}
        && @{mono("SELECT 1 FROM products WHERE id = $bare")} }, 20),
    'the catalog\'s writes reached the monolith') or diag $rev->stderr_text;
is(mono("SELECT value FROM product_attributes WHERE product_id = $made AND name = 'watts'")
    ->[0][0], '40', '... with its attributes');
# Stock stays the monolith's (inventory has not migrated): the new product has none there,
# and catalog's replica of it is 0 too.
is_deeply(canon_mono($new), canon_cat($new), "product $new: the same canonical row both sides");
is_deeply(canon_mono($made), canon_cat($made), "product $made: the same canonical row both sides");
is_deeply(canon_mono($bare), canon_cat($bare), "product $bare (no brand, no description): the same");
ok(wait_until('no echo', sub {
    (metric_value($sync->url, 'souk_sync_skipped_total') // 0) >= $skipped0 + 3 }, 20),
    'souk-sync skipped the reverse transactions');
is(cat("SELECT count(*) FROM outbox WHERE aggregate_id = $made")->[0][0], 1,
    'no echo: the catalog\'s product has only its own product.created');
done_testing();
