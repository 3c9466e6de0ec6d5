# Product page cache hits answered on the I/O loop (issue 12): lib/server.h's loop handlers and
# lib/kv.h's kv_async. A hit never goes to a worker (souk_cache_loop_hits_total), and it is
# the same answer as the worker's: bytes, access line, route metrics, request id, auth policy.
# A miss goes to a worker and fills; writes and deletes are seen at once from any connection;
# Redis down, dead or stopped: reads still answer 200 from PostgreSQL within bounded time, and
# hits come back on the loop when Redis does.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib";
use Test::More;
use JSON::PP ();
use Time::HiRes ();
use Souk::Test;
use CatalogTest qw(redis_cmd);

my %body = (sku => 'L-1', name => 'Loop laptop', description => 'served from the loop',
    price => {amount => 1000, currency => 'EUR'}, attributes => {colour => 'red'});
my $route = 'route="GET /api/v1/products/{id}"';

sub loop_hits   { $_[0]->metric('souk_cache_loop_hits_total') // 0 }
sub loop_passes { $_[0]->metric('souk_cache_loop_passes_total') // 0 }
sub route_200   { $_[0]->metric("souk_http_requests_total{$route,status=\"$_[1]\"}") // 0 }

# A GET on a connection of its own: the response, and in list context the seconds it took.
sub timed_get {
    my ($c, $path, %h) = @_;
    my $t0 = Time::HiRes::time();
    my $res = $c->api(GET => $path, headers => {Connection => 'close', %h});
    my $took = Time::HiRes::time() - $t0;
    return wantarray ? ($res, $took) : $res;
}

# The access line of request id $rid, as a hash without its timing members.
sub access_line {
    my ($c, $rid) = @_;
    for my $l (split /\n/, $c->{svc}->stderr_text) {
        my $j = eval { JSON::PP::decode_json($l) } or next;
        next unless ($j->{msg} // '') eq 'access' && ($j->{request_id} // '') eq $rid;
        delete @{$j}{qw(ts time duration_ms)};
        return $j;
    }
    return undef;
}

# --- hit, miss, write, delete -----------------------------------------------------------------
{
    # A generous deadline: these checks are about where a hit is answered, not about a Redis
    # answer that comes late on a loaded machine (the next blocks are).
    my $c = CatalogTest->start(SOUK_LOOPS => 2, SOUK_WORKERS => 2, SOUK_LOG_LEVEL => 'info',
        SOUK_CATALOG_CACHE_LOOP_TIMEOUT_MS => 1000);
    my $port = $c->{redis}{port};
    my $cat = $c->category('laptops', 'Laptops');
    my $p = $c->admin_api(POST => '/api/v1/products', json => {%body, category_id => $cat})
        ->{json};
    my $key = "catalog:v1:product:$p->{id}";
    my $url = "/api/v1/products/$p->{id}";
    is(redis_cmd($port, 'DEL', $key), 1, 'setup: the written-through page is evicted');

    # A miss: passed to a worker, read from PostgreSQL, filled.
    my ($hits, $passes, $n200) = (loop_hits($c), loop_passes($c), route_200($c, 200));
    my ($miss) = timed_get($c, $url, 'X-Request-Id' => 'loop-test-one');
    is($miss->{status}, 200, 'miss: 200');
    is(loop_passes($c), $passes + 1, 'miss: passed on to a worker');
    is(loop_hits($c), $hits, 'miss: not a loop hit');
    like(redis_cmd($port, 'GET', $key), qr/^1:/, 'miss: the worker filled the cache');

    # A hit: answered on the loop, the same bytes as the worker's and as the cache holds.
    my ($hit) = timed_get($c, $url, 'X-Request-Id' => 'loop-test-two');
    is($hit->{status}, 200, 'hit: 200');
    is(loop_hits($c), $hits + 1, 'hit: answered on the loop (souk_cache_loop_hits_total)');
    is(loop_passes($c), $passes + 1, 'hit: nothing passed on');
    is($hit->{body}, $miss->{body}, 'hit: byte for byte the worker\'s answer');
    is($hit->{body}, substr(redis_cmd($port, 'GET', $key), 2), 'hit: the cached bytes');
    is($hit->{headers}{'content-type'}, $miss->{headers}{'content-type'}, 'hit: content type');
    is($hit->{headers}{'x-request-id'}, 'loop-test-two', 'hit: the request id is echoed');
    is(route_200($c, 200), $n200 + 2, 'hit: counted in the route\'s metrics like the miss');

    # The same access line either way (but for the request id).
    my ($la, $lb);
    ok(wait_until('access lines', sub {
        ($la, $lb) = (access_line($c, 'loop-test-one'), access_line($c, 'loop-test-two'));
        $la && $lb }, 5), 'access: both requests logged');
    # Ids of one length: the header that echoes them counts in bytes.
    delete $_->{request_id}, delete $_->{trace_id} for grep { defined } $la, $lb;
    is_deeply($lb, $la, 'access: the loop\'s line has the worker\'s members and values')
        or diag(JSON::PP->new->canonical->encode([$la, $lb]));

    # A public route ignores Authorization, on the loop as on a worker.
    $hits = loop_hits($c);
    my ($anon) = timed_get($c, $url, Authorization => 'Bearer not-a-token');
    is($anon->{status}, 200, 'auth: a public route ignores a bad token');
    is($anon->{body}, $hit->{body}, 'auth: the same page');
    is(loop_hits($c), $hits + 1, 'auth: from the loop');

    # Pipelined: a miss (worker) then a hit (loop) on one connection come back in order.
    my $q = $c->admin_api(POST => '/api/v1/products',
        json => {%body, sku => 'L-2', name => 'Second', category_id => $cat})->{json};
    redis_cmd($port, 'DEL', "catalog:v1:product:$q->{id}");
    my $raw = raw_http($c->{svc}->port,
        "GET /api/v1/products/$q->{id} HTTP/1.1\r\nHost: x\r\n\r\n"
            . "GET $url HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    my @skus = $raw =~ /"sku":"([^"]*)"/g;
    is_deeply(\@skus, ['L-2', 'L-1'], 'pipelined: answers in request order');

    # A write is seen at once by a read on another connection, from the loop.
    my $res = $c->admin_api(PUT => $url, json => {%body, category_id => $cat,
        name => 'Renamed on a worker'});
    is($res->{status}, 200, 'write: 200');
    $hits = loop_hits($c);
    my ($after) = timed_get($c, $url);
    is($after->{json}{name}, 'Renamed on a worker', 'write: the next read shows version 2');
    is(loop_hits($c), $hits + 1, 'write: that read was a loop hit');
    is($after->{body}, $res->{body}, 'write: the same bytes the write answered');

    # A delete is 404 at once, from the loop (the tombstone).
    is($c->admin_api(DELETE => $url)->{status}, 204, 'delete: 204');
    $hits = loop_hits($c);
    my ($gone) = timed_get($c, $url);
    is_problem($gone, 404, 'not-found', 'delete: the next read is 404');
    is($gone->{json}{detail}, 'product not found', 'delete: the worker\'s detail');
    is(loop_hits($c), $hits + 1, 'delete: answered on the loop');

    # A bad id is the worker's 404.
    is_problem($c->api(GET => '/api/v1/products/0x1'), 404, 'not-found', 'bad id: 404');
    $c->finish();
}

# --- Redis stopped, then back -------------------------------------------------------------------
{
    my $c = CatalogTest->start(SOUK_LOOPS => 2, SOUK_WORKERS => 2,
        SOUK_CATALOG_CACHE_TIMEOUT_MS => 200, SOUK_CATALOG_CACHE_LOOP_TIMEOUT_MS => 100);
    my $r = $c->{redis};
    my $cat = $c->category('phones', 'Phones');
    my $p = $c->admin_api(POST => '/api/v1/products',
        json => {%body, sku => 'L-3', category_id => $cat})->{json};
    my $url = "/api/v1/products/$p->{id}";
    my $hits = loop_hits($c);
    is(timed_get($c, $url)->{status}, 200, 'up: 200');
    is(loop_hits($c), $hits + 1, 'up: a loop hit');

    # Stopped (SIGSTOP): a GET that gets no answer times out on the loop and goes to a worker.
    kill 'STOP', $r->pid;
    my $passes = loop_passes($c);
    for my $i (1 .. 3) {
        my ($res, $took) = timed_get($c, $url);
        is($res->{status}, 200, "stopped: get $i is 200");
        cmp_ok($took, '<', 3, "stopped: get $i within bounded time (${\ sprintf '%.3f', $took} s)");
        is($res->{json}{sku}, 'L-3', "stopped: get $i is the product");
    }
    cmp_ok(loop_passes($c), '>=', $passes + 3, 'stopped: the reads were passed to workers');
    kill 'CONT', $r->pid;

    # Down (the port refuses): the same, promptly.
    $r->stop;
    for my $i (1 .. 5) {
        my ($res, $took) = timed_get($c, $url);
        is($res->{status}, 200, "down: get $i is 200 from PostgreSQL");
        cmp_ok($took, '<', 3, "down: get $i within bounded time (${\ sprintf '%.3f', $took} s)");
    }
    is(timed_get($c, '/health')->{status}, 200, 'down: the loop still answers /health');

    # Back: hits come from the loop again once the back-off is over.
    $r->start;
    my $back = wait_until('loop hits again', sub {
        my $h = loop_hits($c);
        timed_get($c, $url)->{status} == 200 && loop_hits($c) > $h;
    }, 15);
    ok($back, 'back: product pages are answered on the loop again');
    $c->finish(qr/redis/);
}

# --- a Redis that never was (a dead port) ----------------------------------------------------------
{
    my $dead = free_port();
    my $c = CatalogTest->start(SOUK_LOOPS => 2, SOUK_WORKERS => 2,
        SOUK_REDIS_URL => "redis://127.0.0.1:$dead/0", SOUK_CATALOG_CACHE_TIMEOUT_MS => 100);
    my $cat = $c->category('tablets', 'Tablets');
    my $p = $c->admin_api(POST => '/api/v1/products',
        json => {%body, sku => 'L-4', category_id => $cat})->{json};
    is($p->{sku}, 'L-4', 'dead port: a write succeeds');
    for my $i (1 .. 5) {
        my ($res, $took) = timed_get($c, "/api/v1/products/$p->{id}");
        is($res->{status}, 200, "dead port: get $i is 200");
        cmp_ok($took, '<', 3, "dead port: get $i within bounded time");
    }
    is(loop_hits($c), 0, 'dead port: no loop hits');
    $c->finish(qr/redis|cache entry/);
}

# --- loop hits off (SOUK_CATALOG_CACHE_LOOP_TIMEOUT_MS=0): hits on workers, as before ------------
{
    my $c = CatalogTest->start(SOUK_CATALOG_CACHE_LOOP_TIMEOUT_MS => 0);
    my $cat = $c->category('desks', 'Desks');
    my $p = $c->admin_api(POST => '/api/v1/products',
        json => {%body, sku => 'L-5', category_id => $cat})->{json};
    my $hits = $c->metric('souk_catalog_cache_hits_total');
    my ($res) = timed_get($c, "/api/v1/products/$p->{id}");
    is($res->{status}, 200, 'off: 200');
    is($c->metric('souk_catalog_cache_hits_total'), $hits + 1, 'off: a cache hit ...');
    is(loop_hits($c), 0, 'off: ... on a worker');
    $c->finish();
}

done_testing;
