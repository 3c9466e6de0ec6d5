# The cache after a Redis blip (issue 9, defect 4): a product write whose write-through hits a
# dropped Redis connection, on a worker thread that may be backing off from Redis, must still
# leave the cache fresh for every other thread; and when Redis is really down at write time
# (and comes back holding the old page), the product event the write committed repairs the
# entry, so no thread serves the old product until its TTL runs out.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib";
use Test::More;
use Time::HiRes ();
use Souk::Test;
use CatalogTest qw(redis_cmd);

my %body = (sku => 'B-1', name => 'Before the blip', description => 'x',
    price => {amount => 1000, currency => 'EUR'}, attributes => {colour => 'red'});

# Reads on fresh connections, so they spread over the worker threads.
sub names {
    my ($c, $id, $n) = @_;
    return map { $c->api(GET => "/api/v1/products/$id", headers => {Connection => 'close'})
        ->{json}{name} // '?' } 1 .. $n;
}

# --- a dropped connection under the writer ------------------------------------------------
{
    my $c = CatalogTest->start(SOUK_WORKERS => 4, SOUK_CATALOG_CACHE_TTL => 300);
    my $port = $c->{redis}{port};
    my $cat = $c->category('laptops', 'Laptops');
    my $p = $c->admin_api(POST => '/api/v1/products', json => {%body, category_id => $cat})
        ->{json};
    my $key = "catalog:v1:product:$p->{id}";
    names($c, $p->{id}, 8);    # every worker has its Redis connection open
    like(redis_cmd($port, 'GET', $key), qr/^1:/, 'blip: version 1 is cached');

    # Every client connection of the service dies; a few reads put their threads into
    # back-off, then the write comes (on one of them or not).
    my $killed = redis_cmd($port, 'CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    cmp_ok($killed, '>=', 1, "blip: $killed Redis connections killed");
    names($c, $p->{id}, 4);
    my $res = $c->admin_api(PUT => "/api/v1/products/$p->{id}",
        json => {%body, category_id => $cat, name => 'After the blip'});
    is($res->{status}, 200, 'blip: the write succeeds');
    like(redis_cmd($port, 'GET', $key), qr/^2:.*After the blip/,
        'blip: the writer wrote version 2 through despite the dropped connection');
    Time::HiRes::sleep(1.2);    # past every thread's back-off: reads go to Redis again
    my @seen = names($c, $p->{id}, 12);
    is_deeply([grep { $_ ne 'After the blip' } @seen], [],
        'blip: every read on every thread shows the write') or diag("@seen");
    $c->finish(qr/redis|cache entry/);
}

# --- Redis down at write time, back with the old page --------------------------------------
{
    my $c = CatalogTest->start(SOUK_WORKERS => 4, SOUK_CATALOG_CACHE_TTL => 300,
        SOUK_OUTBOX_PAUSED => 0, SOUK_MQ_RETRY_DELAY_MS => 300);
    my $r = $c->{redis};
    my $cat = $c->category('phones', 'Phones');
    my $p = $c->admin_api(POST => '/api/v1/products',
        json => {%body, sku => 'B-2', category_id => $cat})->{json};
    my $key = "catalog:v1:product:$p->{id}";
    names($c, $p->{id}, 4);
    like(redis_cmd($r->{port}, 'GET', $key), qr/^1:/, 'outage: version 1 is cached');
    is(redis_cmd($r->{port}, 'SAVE'), 'OK', 'outage: Redis saved (it comes back with version 1)');
    $r->stop;
    my $res = $c->admin_api(PUT => "/api/v1/products/$p->{id}",
        json => {%body, sku => 'B-2', category_id => $cat, name => 'Written in the outage'});
    is($res->{status}, 200, 'outage: the write succeeds without Redis');
    $r->start;
    like(redis_cmd($r->{port}, 'GET', $key) // '', qr/^[12]:/, 'outage: Redis is back');
    names($c, $p->{id}, 8);     # the threads reconnect (or back off) ...
    Time::HiRes::sleep(1.2);    # ... and read from Redis again: no fall-through hides it
    my @seen;
    ok(wait_until('fresh reads', sub {
        @seen = names($c, $p->{id}, 8);
        !grep { $_ ne 'Written in the outage' } @seen
    }, 15), 'outage: the product event repairs the cache: every read shows the write')
        or diag("@seen");
    like(redis_cmd($r->{port}, 'GET', $key), qr/^2:.*Written in the outage/,
        'outage: the cache holds version 2');
    $c->finish(qr/redis|cache entry|product page/);
}

done_testing;
