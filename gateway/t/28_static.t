# gateway/t/28_static.t - the pages the gateway serves itself (edge/static.c): a "static"
# route on the data listener and the console on the admin listener. Types by extension,
# ETag and 304, immutable caching for hashed names and no-cache for index.html, the .gz
# variant when the client takes gzip, the single-page fallback, traversal and encoded
# traversal refused without a file outside the directory, HEAD, 405, /api/ left to the
# proxied routes, the route's rate limit and auth as on proxied routes, slow readers of a big
# file costing no copy each, the table's validation of the route kind, and SIGHUP / PUT /routes picking
# up a rebuilt directory.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use File::Path qw(make_path remove_tree);
use File::Temp ();
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Socket::INET ();
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Test::More;

use Souk::Test;
use Souk::FakeUpstream;
use Souk::Gateway;

my $tmp = File::Temp->newdir('souk-static-XXXXXX', TMPDIR => 1);
my $web = "$tmp/web";
my $secret = "$tmp/secret.txt";    # beside the web dir: must never be served

sub spew {
    my ($path, $bytes) = @_;
    (my $dir = $path) =~ s{/[^/]+$}{};
    make_path($dir);
    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh $bytes;
    close $fh;
}

my $js = "export const x = 1;\n" . ("console.log('souk storefront');\n" x 200);
my $gz;
gzip(\$js => \$gz) or die $GzipError;
sub build_site {
    my ($marker) = @_;
    remove_tree("$web/storefront");
    spew("$web/storefront/index.html", "<!doctype html><title>shop $marker</title>");
    spew("$web/storefront/main-AB12CD34.js", $js);
    spew("$web/storefront/main-AB12CD34.js.gz", $gz);
    spew("$web/storefront/style-ZZ99YY88.css", "body{color:#222}");
    spew("$web/storefront/icons/cart.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
    spew("$web/storefront/data.bin", "\x00\x01");
}
build_site('one');
spew("$web/console/index.html", "<!doctype html><title>console</title>");
spew($secret, "top secret");
symlink($secret, "$web/storefront/link.txt") or die "symlink: $!";
my $BIG = 12 << 20;    # under the 16 MiB a file
spew("$web/big/blob.bin", 'b' x $BIG);

my $mono = Souk::FakeUpstream->start(name => 'mono', reply => {json => {from => 'mono'}});
# Static routes go through the edge policy as proxied ones do: a rate limit (one token every
# 20 s, so the bucket is still empty a moment after its burst even when the four requests are
# slow: with one every 4 s a loaded sanitizer run had 4 s for them) and auth.
my $tbl = Souk::Gateway::table(upstreams => {monolith => Souk::Gateway::pool($mono)}, routes => [
    {name => 'pages_limited', path => '/limited', methods => ['GET', 'HEAD'], static => 'storefront',
        rate_limit => {ip => {rate => 0.05, burst => 3}}},
    {name => 'pages_staff', path => '/staff', methods => ['GET', 'HEAD'], static => 'storefront',
        auth => 'admin'},
    {name => 'big', path => '/big', methods => ['GET', 'HEAD'], static => 'big'},
    {name => 'storefront', path => '/', methods => ['GET', 'HEAD'], static => 'storefront'},
    Souk::Gateway::route(name => 'catch_all', path => '/', legacy => 'monolith')]);
my $gw = Souk::Gateway->start(routes => $tbl, env => {SOUK_GATEWAY_WEB_DIR => $web});
my $url = $gw->url;

sub get { my ($path, %h) = @_; http(GET => "$url$path", {headers => \%h}) }

# ---- types, caching, security headers --------------------------------------------------------

{
    my $r = get('/');
    is($r->{status}, 200, 'GET / is 200');
    like($r->{body}, qr/shop one/, '...the app\'s index.html');
    is($r->{headers}{'content-type'}, 'text/html; charset=utf-8', '...as text/html');
    is($r->{headers}{'cache-control'}, 'no-cache', '...revalidated (no-cache)');
    is($r->{headers}{'x-content-type-options'}, 'nosniff', '...nosniff');
    like($r->{headers}{'content-security-policy'} // '', qr/default-src 'self'/, '...a CSP of self only');
    unlike($r->{headers}{'content-security-policy'} // '', qr/unsafe|\*/, '...with nothing unsafe or wildcard');
    ok(!exists $r->{headers}{'x-fake'}, '...from the gateway, not the monolith');
    like($r->{headers}{etag} // '', qr/^"[0-9a-f]{16}"$/, '...a strong ETag');

    my %want = ('/main-AB12CD34.js' => 'text/javascript; charset=utf-8',
        '/style-ZZ99YY88.css' => 'text/css; charset=utf-8', '/icons/cart.svg' => 'image/svg+xml',
        '/data.bin' => 'application/octet-stream', '/index.html' => 'text/html; charset=utf-8');
    for my $p (sort keys %want) {
        my $x = get($p);
        is("$x->{status} $x->{headers}{'content-type'}", "200 $want{$p}", "GET $p: $want{$p}");
    }
    is(get('/main-AB12CD34.js')->{headers}{'cache-control'}, 'public, max-age=31536000, immutable',
        'a hashed name is immutable');
    is(get('/icons/cart.svg')->{headers}{'cache-control'}, 'no-cache', 'an unhashed one is revalidated');
    is(get('/main-AB12CD34.js')->{body}, $js, 'the bytes are the file\'s');
}

# ---- ETag / If-None-Match ----------------------------------------------------------------------

{
    my $etag = get('/')->{headers}{etag};
    my $r = get('/', 'If-None-Match' => $etag);
    is($r->{status}, 304, 'If-None-Match with the ETag is 304');
    is($r->{body} // '', '', '...without a body');
    is($r->{headers}{etag}, $etag, '...with the ETag');
    is(get('/', 'If-None-Match' => qq{"nope", W/$etag})->{status}, 304, 'a list with the weak form is 304');
    is(get('/', 'If-None-Match' => '*')->{status}, 304, '* is 304');
    is(get('/', 'If-None-Match' => '"0000000000000000"')->{status}, 200, 'another ETag is 200');
}

# ---- gzip ----------------------------------------------------------------------------------------

{
    my $r = get('/main-AB12CD34.js', 'Accept-Encoding' => 'gzip, deflate');
    is($r->{headers}{'content-encoding'}, 'gzip', 'Accept-Encoding gzip: the .gz is sent');
    is($r->{body}, $gz, '...its bytes');
    is($r->{headers}{vary}, 'Accept-Encoding', '...with Vary');
    is($r->{headers}{'content-type'}, 'text/javascript; charset=utf-8', '...and the type of the file');
    isnt($r->{headers}{etag}, get('/main-AB12CD34.js')->{headers}{etag}, '...under its own ETag');
    my $plain = get('/main-AB12CD34.js', 'Accept-Encoding' => 'gzip;q=0, identity');
    ok(!defined $plain->{headers}{'content-encoding'} && $plain->{body} eq $js, 'gzip;q=0: plain');
    is($plain->{headers}{vary}, 'Accept-Encoding', '...still with Vary');
    ok(!defined get('/main-AB12CD34.js')->{headers}{'content-encoding'}, 'no Accept-Encoding: plain');
    is(get('/main-AB12CD34.js', 'Accept-Encoding' => 'gzip', 'If-None-Match' => $r->{headers}{etag})->{status},
        304, 'the gzip ETag revalidates the gzip variant');
}

# ---- single-page fallback and not found ----------------------------------------------------------

{
    my $r = get('/product/12');
    is($r->{status}, 200, 'a client-side route (/product/12) is 200');
    like($r->{body}, qr/shop one/, '...with index.html');
    like(get('/orders?page=2')->{body}, qr/shop one/, 'a query string is ignored');
    like(get('/orders/')->{body}, qr/shop one/, 'a route with a trailing slash too');
    is(get('/icons/')->{status}, 200, '...and a directory without an index.html');
    is_problem(get('/nosuch.js'), 404, 'not-found', 'a missing asset is a 404 problem');
    is_problem(get('/link.txt'), 404, 'not-found', 'a symbolic link out of the directory is not served');
}

# ---- traversal ---------------------------------------------------------------------------------

{
    for my $p ('/%2e%2e/secret.txt', '/..%2fsecret.txt', '/icons/%2E%2E/%2E%2E/secret.txt',
        '/a%5c..%5csecret.txt', '/%00', '/index.html%00.js', '/./index.html', '/icons//cart.svg',
        '/%zz') {
        my $r = get($p);
        ok(($r->{status} == 400 || $r->{status} == 404) && ($r->{headers}{'content-type'} // '') eq
            'application/problem+json' && $r->{body} !~ /top secret/, "GET $p is a 400/404 problem")
            or diag("$r->{status} $r->{body}");
    }
    # Raw bytes: the client does not normalise "..".
    for my $p ('/../secret.txt', '/icons/../../secret.txt', '/..') {
        my $raw = raw_http($gw->port, "GET $p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        like($raw, qr{^HTTP/1\.1 (400|404) }, "raw GET $p is 400/404");
        unlike($raw, qr/top secret/, '...and never the file outside the directory');
    }
}

# ---- HEAD, 405, the API stays proxied ---------------------------------------------------------------

{
    my $r = http(HEAD => "$url/main-AB12CD34.js");
    is($r->{status}, 200, 'HEAD is 200');
    is($r->{headers}{'content-length'}, length($js), '...with the length of the file');
    is($r->{body} // '', '', '...and no body');
    my $p = http(POST => "$url/product/12", {body => 'x'});
    is_problem($p, 405, 'method-not-allowed', 'POST to a page is 405');
    is($p->{headers}{allow}, 'GET, HEAD', '...with Allow');
    is(http(DELETE => "$url/")->{status}, 405, 'DELETE / is 405');
    my $a = get('/api/v9/nothing');
    is($a->{headers}{'x-fake'}, 'mono', 'an unknown /api/ path still goes to the monolith');
    is(http(POST => "$url/api/v1/x", {body => '{}'})->{headers}{'x-fake'}, 'mono', '...as do API writes');
}

# ---- the edge policy: rate limit and auth ------------------------------------------------------------

{
    my @st = map { get('/limited/')->{status} } 1 .. 3;
    is_deeply(\@st, [200, 200, 200], 'a rate-limited static route: the burst of 3 is served');
    my $r = get('/limited/main-AB12CD34.js');
    is_problem($r, 429, 'too-many-requests', '...the 4th request is 429');
    ok(($r->{headers}{'retry-after'} // 0) >= 1, '...with Retry-After');
    is(get('/')->{status}, 200, 'another static route without a limit is not affected');
    my $m = $gw->admin(GET => '/metrics')->{body} // '';
    like($m, qr/rate_limited[^\n]*route="pages_limited"[^\n]* [1-9]/,
        'the refusal is counted for the route') or diag join "\n", grep { /rate_limited/ } split /\n/, $m;
    is_problem(get('/staff/'), 401, 'unauthorized', 'a static route with auth admin: no token is 401');
    is_problem(get('/staff/', Authorization => 'Bearer ' . Souk::Gateway::token(7)), 403, 'forbidden',
        '...a customer is 403');
    my $ok = get('/staff/', Authorization => 'Bearer ' . Souk::Gateway::token(1, 'admin'));
    is($ok->{status}, 200, '...an admin gets the page');
    like($ok->{body}, qr/shop one/, '...its index.html');
}

# ---- slow readers of a big file: no copy per client ----------------------------------------------
# Each client stops reading after the first bytes (a tiny receive buffer), so most of the 12 MiB
# file waits in the gateway. It is written from the in-memory site, not copied per client: the
# gateway's resident memory grows by far less than a copy each would cost.

sub rss_kib {
    open my $fh, '<', "/proc/$gw->{pid}/status" or return 0;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}

{
    is(length(get('/big/blob.bin')->{body} // ''), $BIG, 'a big file is served whole');
    my $before = rss_kib();
    my @slow;
    for (1 .. 4) {
        my $s = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
        setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096) or die "SO_RCVBUF: $!";
        $s->connect(Socket::pack_sockaddr_in($gw->{port}, Socket::inet_aton('127.0.0.1')))
            or die "connect: $!";
        print $s "GET /big/blob.bin HTTP/1.1\r\nHost: x\r\n\r\n";
        # The head and the first bytes went out in the same flush that queued the rest.
        my $got = '';
        $s->sysread($got, 16) or die "read: $!";
        like($got, qr{^HTTP/1\.1 200}, "slow reader $_: the answer has begun");
        push @slow, $s;
    }
    my $grew = rss_kib() - $before;
    ok($grew < 12 * 1024, "4 slow readers of a 12 MiB file: the gateway grew by $grew KiB "
        . '(< 12 MiB; a copy each was over 20 MiB)');
    close $_ for @slow;
    is(get('/index.html')->{status}, 200, 'the gateway serves on after they hang up');
}

# ---- the console on the admin listener --------------------------------------------------------------

{
    my $aurl = $gw->admin_url;
    my $r = http(GET => "$aurl/");
    is($r->{status}, 200, 'admin GET / without a token: the console');
    like($r->{body}, qr/console/, '...its index.html');
    like(http(GET => "$aurl/routes-view")->{body}, qr/console/, '...with its client-side routes');
    is_problem(http(GET => "$aurl/routes"), 401, 'unauthorized', 'the admin API still needs the token');
    is($gw->admin(GET => '/routes')->{status}, 200, '...and works with it');
    # /api/ on the admin listener is the public API through the route table (29_console_api.t)
    is(http(GET => "$aurl/api/nothing")->{headers}{'x-fake'}, 'mono', 'admin /api/ paths are never the console\'s');
    is_problem(http(POST => "$aurl/"), 401, 'unauthorized', 'a write to the console is the API\'s (401)');
    is_problem(http(GET => "$aurl/%2e%2e/secret.txt"), 400, 'invalid-request', 'admin traversal is 400');
}

# ---- validation of the route kind -------------------------------------------------------------------

{
    my $bad = Souk::Gateway::table(upstreams => {monolith => Souk::Gateway::pool($mono)}, routes => [
        {name => 's1', path => '/', static => '../etc'},
        {name => 's2', path => '/x', static => 'storefront', legacy => 'monolith'},
        {name => 's3', path => '/y', static => 'storefront', methods => ['POST']},
        {name => 's4', path => '/p/{id}', static => 'storefront'},
        Souk::Gateway::route(name => 'catch_all', path => '/', legacy => 'monolith')]);
    my $r = $gw->put_routes($bad);
    is_problem($r, 400, 'invalid-request', 'a bad static route is refused');
    like($r->{body}, qr/routes\[0\]\.static/, '...an app that is not a directory name');
    like($r->{body}, qr/routes\[1\]\.legacy: not allowed on a static route/, '...an upstream on it');
    like($r->{body}, qr/routes\[2\]\.methods/, '...a write method');
    like($r->{body}, qr/routes\[3\]\.path/, '...a template');
    is(get('/')->{status}, 200, '...and the old table stays');
}

# ---- reload picks up a rebuilt directory ------------------------------------------------------------

{
    build_site('two');
    like(get('/')->{body}, qr/shop one/, 'a rebuilt directory is not read per request');
    $gw->hup;
    # SIGHUP is handled on the control loop, which reads the whole directory again (the 12 MiB
    # file too): 30 s for a sanitizer build on a loaded machine.
    ok(wait_until(sub { get('/')->{body} =~ /shop two/ }, 30), 'SIGHUP serves the rebuilt pages');
    build_site('three');
    is($gw->put_routes($tbl)->{status}, 200, 'PUT /routes');
    like(get('/')->{body}, qr/shop three/, '...serves the rebuilt pages too');
    remove_tree("$web/storefront");
    $gw->hup;
    ok(wait_until(sub { get('/')->{status} == 404 }, 30), 'an app removed from the directory is 404 after SIGHUP');
    is_problem(get('/'), 404, 'not-found', '...a problem');
    ok($gw->alive, 'the gateway is still up');
}

done_testing;
