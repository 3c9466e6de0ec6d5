# The Redis cache-aside: writes go through to the cache, the next read sees them at once,
# a delete is a 404 at once (a tombstone), a reader filling the cache with an older version
# after a write is refused, /metrics counts hits and misses, and with Redis stopped reads
# and writes still succeed from PostgreSQL, the cache working again once Redis is back.
# The outbox relay runs unpaused here: every event ends up published.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib";
use Test::More;
use Time::HiRes ();
use Souk::Test;
use CatalogTest qw(redis_cmd);

# The fill script exactly as cache.c has it, so this file plays the slow reader.
my $src = do { local (@ARGV, $/) = ("$FindBin::Bin/../cache.c"); <> };
my ($lit) = $src =~ /set_if_newer\[\]\s*=\s*(.*?);/s or die "no set_if_newer in cache.c\n";
my $script = join '', map { s/\\n/\n/gr =~ s/\\(["\\])/$1/gr } $lit =~ /"((?:[^"\\]|\\.)*)"/g;

my $c = CatalogTest->start(SOUK_CATALOG_CACHE_TTL => 120, SOUK_OUTBOX_PAUSED => 0);
my $port = $c->{redis}{port};
my $cat = $c->category('laptops', 'Laptops');
my %body = (sku => 'C-1', name => 'Cached laptop', category_id => $cat,
    price => {amount => 1000, currency => 'EUR'}, attributes => {colour => 'red'});
my $p = $c->admin_api(POST => '/api/v1/products', json => \%body)->{json};
my $key = "catalog:v1:product:$p->{id}";
my $url = "/api/v1/products/$p->{id}";

sub cached { redis_cmd($port, 'GET', $_[0] // $key) }
sub fill { redis_cmd($port, 'EVAL', $script, 1, $_[0], $_[1], "$_[1]:$_[2]", 300) }

# --- write-through and hits ---------------------------------------------------------------
like(cached(), qr/^1:\{"id":$p->{id},/, 'create: the new document is written through (v1)');
my $ttl = redis_cmd($port, 'TTL', $key);
ok($ttl > 0 && $ttl <= 120, "create: with SOUK_CATALOG_CACHE_TTL ($ttl s)");
my ($hits, $misses) = map { $c->metric($_) } qw(souk_catalog_cache_hits_total
    souk_catalog_cache_misses_total);
my $res = $c->api(GET => $url);
is($res->{status}, 200, 'get: 200');
is($res->{body}, substr(cached(), 2), 'get: the cached bytes as they are');
is($c->metric('souk_catalog_cache_hits_total'), $hits + 1, 'get: a hit');
redis_cmd($port, 'DEL', $key);
is($c->api(GET => $url)->{body}, $res->{body}, 'get after eviction: the same answer');
is($c->metric('souk_catalog_cache_misses_total'), $misses + 1, 'get after eviction: a miss');
like(cached(), qr/^1:/, 'get after eviction: the read filled the cache');
my $ratio = $c->metric('souk_catalog_cache_hit_ratio');
ok(defined $ratio && $ratio > 0 && $ratio < 1, "metrics: hit ratio $ratio");
ok(defined $c->metric('souk_catalog_cache_errors_total'), 'metrics: cache errors are counted');

# --- an update is visible on the very next read ---------------------------------------------
my $old = $res->{body};
$res = $c->admin_api(PUT => $url, json => {%body, name => 'Renamed laptop',
    price => {amount => 2000, currency => 'EUR'}});
is($res->{status}, 200, 'update: 200');
like(cached(), qr/^2:.*"Renamed laptop"/, 'update: version 2 written through');
is($c->api(GET => $url)->{json}{name}, 'Renamed laptop', 'update: the next read sees it');

# A reader that read version 1 before the update committed fills the cache only now.
my $refused = $c->metric('souk_catalog_cache_stale_writes_refused_total');
is(fill($key, 1, $old), 0, 'stale fill: the script refuses an older version');
like(cached(), qr/^2:/, 'stale fill: the cache keeps version 2');
is($c->api(GET => $url)->{json}{name}, 'Renamed laptop', 'stale fill: reads still see the update');
is(fill($key, 2, $old), 2, 'stale fill: the same version is not replaced either (2: held)');
is(fill('catalog:test:scratch', 7, 'x'), 1, 'fill script: an absent key is stored');
is(fill('catalog:test:scratch', 8, 'y'), 1, 'fill script: a newer version is stored');
is(redis_cmd($port, 'GET', 'catalog:test:scratch'), '8:y', 'fill script: version and bytes');

$res = $c->admin_api(PUT => "$url/price", json => {amount => 3000, currency => 'EUR'});
like(cached(), qr/^3:.*"amount":3000/, 'price: the price change is written through');
is($c->api(GET => $url)->{json}{price}{amount}, 3000, 'price: the next read sees it');

# --- a delete is a 404 at once --------------------------------------------------------------
is($c->admin_api(DELETE => $url)->{status}, 204, 'delete: 204');
is(cached(), '4:', 'delete: a tombstone with the deleting version');
is_problem($c->api(GET => $url), 404, 'not-found', 'delete: 404 at once');
is(fill($key, 3, $old), 0, 'delete: a stale fill cannot bring the product back');
is_problem($c->api(GET => $url), 404, 'not-found', 'delete: still 404');
redis_cmd($port, 'DEL', $key);
is_problem($c->api(GET => $url), 404, 'not-found', 'delete: 404 from PostgreSQL too');
is(cached(), '4:', 'delete: the read put the tombstone back');

# --- the category list ----------------------------------------------------------------------
is(scalar @{$c->api(GET => '/api/v1/categories')->{json}{items}}, 1, 'categories: one');
like(cached('catalog:v1:categories'), qr/^1:\{"items":/, 'categories: cached with version 1');
my $two = $c->category('phones', 'Phones');
is(scalar @{$c->api(GET => '/api/v1/categories')->{json}{items}}, 2,
    'categories: a new one shows at once');
is(fill('catalog:v1:categories', 1, '{"items":[]}'), 0, 'categories: a stale fill is refused');
is(scalar @{$c->api(GET => '/api/v1/categories')->{json}{items}}, 2, 'categories: still two');

# --- a writer behind a newer cached version -----------------------------------------------
my $q = $c->admin_api(POST => '/api/v1/products', json => {%body, sku => 'C-2'})->{json};
my $k2 = "catalog:v1:product:$q->{id}";
fill($k2, 99, '{"from":"the future"}');
is($c->admin_api(PUT => "/api/v1/products/$q->{id}", json => {%body, sku => 'C-2'})->{status}, 200,
    'writer: the write succeeds');
like(cached($k2), qr/^99:/, 'writer: its write-through does not replace a newer version');
# > rather than + 1: the catalog's own product events (the cache's second line, relayed in
# this file) are refused by version 99 too.
cmp_ok($c->metric('souk_catalog_cache_stale_writes_refused_total'), '>', $refused,
    'metrics: the refused write is counted');
redis_cmd($port, 'DEL', $k2);

# --- Redis down -----------------------------------------------------------------------------
my $errors = $c->metric('souk_catalog_cache_errors_total');
$c->{redis}->stop;
for my $i (1 .. 3) {
    $res = $c->api(GET => "/api/v1/products/$q->{id}");
    is($res->{status}, 200, "redis down: get $i is 200 from PostgreSQL");
}
is($res->{json}{sku}, 'C-2', 'redis down: the right product');
is($c->api(GET => '/api/v1/categories')->{status}, 200, 'redis down: categories 200');
is($c->api(GET => '/api/v1/products')->{status}, 200, 'redis down: list 200');
$res = $c->admin_api(PUT => "/api/v1/products/$q->{id}", json => {%body, sku => 'C-2',
    name => 'Written while Redis was down'});
is($res->{status}, 200, 'redis down: a write succeeds');
is($c->api(GET => "/api/v1/products/$q->{id}")->{json}{name}, 'Written while Redis was down',
    'redis down: reads see it');
is_problem($c->api(GET => $url), 404, 'not-found', 'redis down: a deleted product is 404');
cmp_ok($c->metric('souk_catalog_cache_errors_total'), '>', $errors, 'redis down: errors counted');
like($c->{svc}->stderr_text, qr/may show an older version until its product event/,
    'redis down: the write logged it');

# --- Redis back -----------------------------------------------------------------------------
$c->{redis}->start;
my ($back, $deadline) = (0, Time::HiRes::time() + 15);
while (!$back && Time::HiRes::time() < $deadline) {
    $hits = $c->metric('souk_catalog_cache_hits_total');
    $res = $c->api(GET => "/api/v1/products/$q->{id}");
    $back = $res->{status} == 200 && $c->metric('souk_catalog_cache_hits_total') > $hits;
    Time::HiRes::sleep(0.2) unless $back;
}
ok($back, 'redis back: reads are cache hits again');
like(cached($k2), qr/^3:.*Written while Redis was down/,
    'redis back: the cache holds the current version');

# --- the relay (not paused in this file) publishes every event ------------------------------
my ($unsent, $until) = (undef, Time::HiRes::time() + 15);
while (Time::HiRes::time() < $until) {
    $unsent = $c->sql('SELECT count(*) FROM outbox WHERE sent_at IS NULL')->[0][0];
    last if $unsent == 0;
    Time::HiRes::sleep(0.2);
}
is($unsent, 0, 'relay: every outbox row was published');
cmp_ok($c->metric('souk_events_published_total'), '>=', 8, 'relay: published events counted');

$c->finish(qr/redis|cache entry/);
done_testing;
