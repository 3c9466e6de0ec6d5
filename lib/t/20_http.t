# lib/t/20_http.t - the HTTP server of lib/ (server, conn, req, router, auth,
# limits, drain) through the real interface of build/bin/souk-testd.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

use Souk::Test;

my $JSON = JSON::PP->new->utf8->canonical;
my %SHORT = (SOUK_HTTP_HEADER_TIMEOUT_MS => 500, SOUK_HTTP_BODY_TIMEOUT_MS => 500,
    SOUK_HTTP_IDLE_TIMEOUT_MS => 1500);
my $svc = spawn_service('testd', %SHORT);
my $url = $svc->url;
my $port = $svc->port;

# ---- helpers ------------------------------------------------------------------

my %LEFT;    # unparsed bytes per socket

sub conn {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp', Timeout => 5)
        or die "connect: $!";
    $s->autoflush(1);
    return $s;
}

sub bye {
    my ($s) = @_;
    delete $LEFT{$s};
    close $s;
}

sub put {
    my ($s, $bytes) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($s, $bytes, length($bytes) - $off, $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}

# Read until $want complete responses are parsed, the peer closes, or $timeout
# seconds pass. Bytes past the last parsed response stay for the next call.
# Returns (\@responses, $closed, $elapsed).
sub read_responses {
    my ($s, $want, $timeout, $head_only) = @_;
    my ($buf, $closed, $t0) = (delete $LEFT{$s} // '', 0, time);
    my $sel = IO::Select->new($s);
    my @res;
    while (1) {
        push @res, parse_responses(\$buf, defined $want ? $want - @res : undef, $head_only && !@res);
        last if defined $want && @res >= $want;
        my $left = $t0 + ($timeout // 5) - time;
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($s, $buf, 65536, length $buf);
        if (!$n) { $closed = 1; last }
    }
    push @res, parse_responses(\$buf, defined $want ? $want - @res : undef, $head_only && !@res);
    $LEFT{$s} = $buf if length $buf;
    return (\@res, $closed, time - $t0);
}

# Take up to $max complete responses off the front of $$buf ($head_only: the
# first one answers a HEAD and has no body).
sub parse_responses {
    my ($buf, $max, $head_only) = @_;
    my @out;
    while ((!defined $max || @out < $max)
        && $$buf =~ /\A(HTTP\/1\.[01]) (\d{3}) ([^\r]*)\r\n((?:[^\r]+\r\n)*)\r\n/) {
        my ($status, $hdr_text, $hlen) = ($2, $4, length $&);
        my %h;
        for (split /\r\n/, $hdr_text) {
            my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
            $h{lc $k} = $v;
        }
        my $len = ($head_only && !@out) || $status < 200 || $status == 204 ? 0
            : $h{'content-length'} // 0;
        last if length($$buf) < $hlen + $len;
        my $body = substr($$buf, $hlen, $len);
        substr($$buf, 0, $hlen + $len) = '';
        my $json;
        $json = eval { $JSON->decode($body) }
            if length $body && ($h{'content-type'} // '') =~ /json/;
        push @out, {status => $status, headers => \%h, body => $body, json => $json};
    }
    return @out;
}

# One request on a fresh connection; the first response.
sub raw1 {
    my ($bytes, $timeout, $to_close) = @_;
    my $s = conn();
    put($s, $bytes);
    my ($res, $closed, $t) = read_responses($s, $to_close ? undef : 1, $timeout);
    bye($s);
    return ($res->[0], $closed, $t);
}

sub raw_problem_ok {
    my ($res, $status, $slug, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $res //= {status => 0, headers => {}, body => ''};
    return is_problem($res, $status, $slug, $name);
}

# The secret of souk-testd (lib/t/testd.c).
sub jwt { my ($claims, %o) = @_; jwt_sign($claims, secret => 'souk-dev-secret', %o) }

sub claims {
    my (%o) = @_;
    return {sub => '42', role => 'customer', iat => int(time()) - 10, exp => int(time()) + 3600,
        iss => 'souk', %o};
}

sub get { http(GET => "$url$_[0]", {headers => $_[1] // {}}) }

sub post_json {
    my ($path, $body, $ct) = @_;
    return http(POST => "$url$path",
        {body => $body, headers => {'Content-Type' => $ct // 'application/json'}});
}

sub metric {
    my ($text, $series) = @_;
    return $text =~ /^\Q$series\E (\d+)$/m ? $1 : 0;
}

# ---- built-in routes ----------------------------------------------------------------

{
    my $r = get('/health');
    is($r->{status}, 200, 'GET /health');
    is_deeply($r->{json}, {status => 'ok'}, '/health body');
    $r = get('/ready');
    is($r->{status}, 200, 'GET /ready');
    is_deeply($r->{json}, {status => 'ready', checks => {self => 'ok'}}, '/ready lists checks');
    like($r->{headers}{'x-request-id'} // '', qr/^[0-9a-f]{32}$/, 'generated X-Request-Id');

    my $series = 'souk_http_requests_total{route="GET /health",status="200"}';
    my $m1 = get('/metrics');
    is($m1->{status}, 200, 'GET /metrics');
    like($m1->{headers}{'content-type'}, qr{^text/plain}, 'metrics are text');
    get('/health') for 1 .. 3;
    my $m2 = get('/metrics')->{body};
    is(metric($m2, $series), metric($m1->{body}, $series) + 3, 'per-route counter increases');
    like($m2, qr/^souk_http_in_flight \d+$/m, 'in-flight gauge');
    like($m2, qr/^souk_http_request_duration_seconds_count\{route="GET \/items\/\{id\}"\} \d+$/m,
        'per-route latency histogram');
}

# ---- routing ----------------------------------------------------------------------------

{
    my $r = get('/items/7');
    is_deeply([$r->{status}, $r->{json}], [200, {id => 7}], 'GET /items/{id}');
    is(get('/items/%37')->{json}{id}, 7, 'percent-encoded parameter is decoded');
    is(get('/it%65ms/8')->{json}{id}, 8, 'percent-encoded literal segment matches');
    is_problem(get('/items/0'), 404, 'not-found', 'id 0 is not found');
    is_problem(get('/items/abc'), 404, 'not-found', 'non-numeric id is not found');
    is_problem(get('/nope'), 404, 'not-found', 'unknown path is 404');
    is_problem(get('/items/1/'), 404, 'not-found', 'trailing slash does not match');
    is_problem(get('/items//'), 404, 'not-found', 'empty parameter does not match');
    my ($res) = raw1("GET /items/%zz HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_problem_ok($res, 400, 'invalid-request', 'invalid escape is 400');
    ($res) = raw1("GET /items/1%00 HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_problem_ok($res, 400, 'invalid-request', '%00 is 400');
    $r = http(DELETE => "$url/echo");
    is_problem($r, 405, 'method-not-allowed', 'wrong method is 405');
    is($r->{headers}{allow}, 'GET, HEAD, POST', 'Allow lists the methods');
    is(http(POST => "$url/health")->{headers}{allow}, 'GET, HEAD', 'Allow on a built-in');
    $r = get('/echo?a=1&b=x+y%21&c');
    is_deeply($r->{json}, {a => '1', b => 'x y!', c => ''}, 'query string is form-decoded');
}

# ---- HEAD ----------------------------------------------------------------------------------

{
    my $s = conn();
    put($s, "HEAD /items/5 HTTP/1.1\r\nHost: x\r\n\r\nGET /items/6 HTTP/1.1\r\nHost: x\r\n\r\n");
    my ($res) = read_responses($s, 2, 5, 1);
    is($res->[0]{status}, 200, 'HEAD is served by the GET route');
    is($res->[0]{headers}{'content-length'}, 8, 'HEAD has the GET content-length');
    is($res->[0]{body}, '', 'HEAD has no body');
    is_deeply($res->[1]{json}, {id => 6}, 'the next response follows right after HEAD');
    bye($s);
}

# ---- keep-alive and pipelining ------------------------------------------------------------

{
    my $s = conn();
    put($s, "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    my ($a) = read_responses($s, 1);
    put($s, "GET /items/2 HTTP/1.1\r\nHost: x\r\n\r\n");
    my ($b) = read_responses($s, 1);
    is_deeply([map { $_->[0]{json}{id} } $a, $b], [1, 2], 'keep-alive: two requests, one socket');
    ok(!exists $b->[0]{headers}{connection}, 'HTTP/1.1 keeps the connection by default');
    bye($s);

    $s = conn();
    put($s, "GET /items/3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    my ($c) = read_responses($s, 1);
    is(lc($c->[0]{headers}{connection} // ''), 'keep-alive', 'HTTP/1.0 keep-alive is honoured');
    put($s, "GET /items/4 HTTP/1.0\r\n\r\n");
    my ($d, $closed) = read_responses($s, undef, 3);
    is($d->[0]{json}{id}, 4, 'second HTTP/1.0 request');
    is(lc($d->[0]{headers}{connection} // ''), 'close', 'HTTP/1.0 without keep-alive closes');
    ok($closed, 'server closed the HTTP/1.0 connection');
    bye($s);

    # The slow one first: answers must still come back in request order.
    $s = conn();
    put($s, "GET /sleep?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n"
        . "GET /items/2 HTTP/1.1\r\nHost: x\r\n\r\n"
        . "GET /items/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    my ($p, $pclosed) = read_responses($s, undef, 5);
    is(scalar @$p, 3, 'pipelining: three responses');
    is_deeply([$p->[0]{json}{slept_ms}, $p->[1]{json}{id}, $p->[2]{json}{id}], [300, 2, 3],
        'pipelined responses in request order');
    ok($pclosed, 'Connection: close on the last pipelined request closes');
    bye($s);

    # Deeper than LIMIT_PIPELINE_DEPTH (32): reading pauses and resumes.
    $s = conn();
    put($s, join('', map { "GET /items/$_ HTTP/1.1\r\nHost: x\r\n\r\n" } 1 .. 80));
    my ($deep) = read_responses($s, 80, 10);
    is_deeply([map { $_->{json}{id} } @$deep], [1 .. 80], '80 pipelined requests, in order');
    bye($s);
}

# ---- bodies ------------------------------------------------------------------------------

{
    my $body = '{"name":"chunky","qty":7}';
    my $chunks = join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) } unpack('(A5)*', $body));
    my ($res) = raw1("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n");
    is($res->{status}, 201, 'chunked request body');
    is_deeply($res->{json}, {name => 'chunky', qty => 7}, 'chunked body decoded');

    my $r = http(POST => "$url/raw", {body => 'x' x 1024});
    is_deeply([$r->{status}, $r->{json}], [200, {bytes => 1024}], 'body at the route limit');

    my $closed;
    ($res, $closed) = raw1("POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n"
        . ('y' x 2000), 5, 1);
    raw_problem_ok($res, 413, 'payload-too-large', '413 from Content-Length');
    is(lc($res->{headers}{connection} // ''), 'close', '413 closes the connection');
    ok($closed, 'server closed after 413');

    my $big = join('', map { "100\r\n" . ('z' x 256) . "\r\n" } 1 .. 6);
    ($res) = raw1("POST /raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n$big"
        . "0\r\n\r\n");
    raw_problem_ok($res, 413, 'payload-too-large', '413 while chunks accumulate');

    ($res) = raw1("POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    raw_problem_ok($res, 400, 'invalid-request', 'Content-Length with Transfer-Encoding is 400');

    my $s = conn();
    put($s, "POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    my ($cont) = read_responses($s, 1, 2);
    is($cont->[0]{status}, 100, 'Expect: 100-continue is answered');
    put($s, 'hello');
    my ($fin) = read_responses($s, 1, 2);
    is($fin->[0]{json}{bytes}, 5, 'then the body is read');
    bye($s);
}

# ---- limits --------------------------------------------------------------------------------

{
    my ($res) = raw1("GET /echo?x=" . ('a' x 9000) . " HTTP/1.1\r\nHost: x\r\n\r\n");
    raw_problem_ok($res, 414, 'uri-too-long', '414 for a long request line');
    ($res) = raw1("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " . ('b' x 17000) . "\r\n\r\n");
    raw_problem_ok($res, 431, 'headers-too-large', '431 for a huge header');
    ($res) = raw1("GET /health HTTP/1.1\r\n" . join('', map { "X-H$_: v\r\n" } 1 .. 70) . "\r\n");
    raw_problem_ok($res, 431, 'headers-too-large', '431 for too many headers');
    ($res) = raw1("GET /health HTTP/1.1\r\nHost x\r\n\r\n");
    raw_problem_ok($res, 400, 'invalid-request', 'malformed header line is 400');
    ($res) = raw1("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    raw_problem_ok($res, 400, 'invalid-request', 'HTTP/2 preface is 400');
}

# ---- JSON input -------------------------------------------------------------------------------

{
    my $r = post_json('/echo', '{"name":"bob","qty":3}', 'application/json; charset=UTF-8');
    is_deeply([$r->{status}, $r->{json}], [201, {name => 'bob', qty => 3}], 'POST /echo 201');
    $r = post_json('/echo', '{"name": "bob",');
    is_problem($r, 400, 'malformed-json', 'malformed json');
    like($r->{json}{detail}, qr/^invalid json at line 1 column \d+: /, 'detail has line and column');
    is_problem(post_json('/echo', '{"name":"a"}', 'text/plain'), 415, 'unsupported-media-type',
        'wrong content-type');
    is_problem(post_json('/echo', '{"name":"a"}', 'application/json; charset=latin1'), 415,
        'unsupported-media-type', 'wrong charset');
    $r = post_json('/echo', '{"name":"a","name":"b"}');
    is_problem($r, 400, 'malformed-json', 'duplicate keys');
    like($r->{json}{detail}, qr/duplicate/, 'detail says duplicate');
    $r = post_json('/echo', '{"name":"a","colour":"red"}');
    is_problem($r, 400, 'invalid-request', 'unknown field');
    like($r->{json}{detail}, qr/colour/, 'detail names the field');
    is_problem(post_json('/echo', '{"name":"a","qty":"3"}'), 400, 'invalid-request', 'wrong type');
    is_problem(post_json('/echo', '{"name":"a","qty":100}'), 400, 'invalid-request', 'out of range');
    is_problem(post_json('/echo', '{"qty":1}'), 400, 'invalid-request', 'missing field');
    $r = post_json('/echo', '[1,2]');
    is_problem($r, 400, 'invalid-request', 'array root');
    is($r->{json}{detail}, 'body must be a json object', 'array root detail');
    $r = post_json('/echo', '');
    is_problem($r, 400, 'malformed-json', 'empty body');
    is($r->{json}{detail}, 'empty body', 'empty body detail');
    is_problem(post_json('/echo', '{"name":"a"} x'), 400, 'malformed-json', 'trailing garbage');
}

# ---- auth ------------------------------------------------------------------------------------

{
    my $r = get('/me');
    is_problem($r, 401, 'unauthorized', 'missing token');
    like($r->{headers}{'www-authenticate'} // '', qr/^Bearer/, 'WWW-Authenticate: Bearer');
    my %bad = (
        'malformed'    => 'Bearer abc.def',
        'not bearer'   => 'Basic dXNlcjpwdw==',
        'wrong secret' => 'Bearer ' . jwt(claims(), secret => 'not-the-secret'),
        'expired'      => 'Bearer ' . jwt(claims(iat => int(time()) - 7200, exp => int(time()) - 3600)),
        'alg none'     => 'Bearer ' . jwt(claims(), header => {alg => 'none', typ => 'JWT'}, sig => ''),
        'wrong issuer' => 'Bearer ' . jwt(claims(iss => 'evil')),
    );
    for my $name (sort keys %bad) {
        is_problem(get('/me', {Authorization => $bad{$name}}), 401, 'unauthorized', "$name token");
    }
    my $cust = 'Bearer ' . jwt(claims());
    $r = get('/me', {Authorization => $cust});
    is_deeply([$r->{status}, $r->{json}], [200, {sub => '42', role => 'customer'}], 'valid token');
    is_problem(get('/admin', {Authorization => $cust}), 403, 'forbidden', 'customer on admin');
    is_problem(get('/admin'), 401, 'unauthorized', 'anonymous on admin');
    $r = get('/admin', {Authorization => 'Bearer ' . jwt(claims(role => 'admin', sub => '1'))});
    is($r->{status}, 200, 'admin on admin');
}

# ---- errors and request ids ----------------------------------------------------------------

{
    my $r = get('/boom');
    is_problem($r, 500, 'internal', '/boom is a 500 problem');
    is($r->{json}{detail}, 'internal error', '500 detail is generic');
    unlike($r->{body}, qr/db\.c|secret|simulated/, 'no internals in the body');
    is($r->{json}{instance}, '/boom', 'instance is the path');
    # RFC 9457: instance is a URI reference, so the decoded path is encoded again.
    is(get("/nope/1'%20OR%20'1'='1%25%22%C3%A9")->{json}{instance},
        "/nope/1'%20OR%20'1'='1%25%22%C3%A9", 'instance is the path as a URI reference');
    like($svc->stderr_text, qr/"level":"error".*simulated driver failure/, 'detail is logged');

    $r = get('/nope', {'X-Request-Id' => 'abc-123.X_y'});
    is($r->{headers}{'x-request-id'}, 'abc-123.X_y', 'client X-Request-Id honoured');
    is($r->{json}{request_id}, 'abc-123.X_y', 'problem carries the request id');
    for my $bad ('has space', 'x' x 129, 'semi;colon') {
        $r = get('/health', {'X-Request-Id' => $bad});
        like($r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/, 'invalid X-Request-Id replaced');
    }
}

# ---- slow and vanishing clients ------------------------------------------------------------

{
    my $s = conn();
    put($s, "GET /health HTTP/1.1\r\nHost: x\r\n");
    my ($res, $closed, $t) = read_responses($s, undef, 4);
    raw_problem_ok($res->[0], 408, 'request-timeout', 'slow headers get 408');
    ok($closed && $t < 2, sprintf('slow headers cut off (%.2fs)', $t));
    bye($s);

    # Trickling bytes must not extend the deadline.
    $s = conn();
    my $t0 = time;
    put($s, "GET /health HTTP/1.1\r\n");
    for (1 .. 8) { sleep 0.15; put($s, "X-T$_: 1\r\n") or last }
    ($res, $closed) = read_responses($s, undef, 3);
    ok($closed && time - $t0 < 2.5, 'trickled headers are cut off too');
    bye($s);

    $s = conn();
    put($s, "POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
    ($res, $closed, $t) = read_responses($s, undef, 4);
    raw_problem_ok($res->[0], 408, 'request-timeout', 'slow body gets 408');
    ok($closed && $t < 2, sprintf('slow body cut off (%.2fs)', $t));
    bye($s);

    $s = conn();
    put($s, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    ($res, $closed, $t) = read_responses($s, undef, 4);
    ok($closed && $t > 1 && $t < 3.5, sprintf('idle keep-alive closed (%.2fs)', $t));
    bye($s);

    # Gone mid-body, and gone while the handler runs: the server carries on.
    $s = conn();
    put($s, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na");
    bye($s);
    $s = conn();
    put($s, "GET /sleep?ms=200 HTTP/1.1\r\nHost: x\r\n\r\nGET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    bye($s);
    sleep 0.4;
    is(get('/health')->{status}, 200, 'server still answers after clients vanished');
}

# ---- SIGTERM drain -----------------------------------------------------------------------

{
    my $d = spawn_service('testd', %SHORT);
    my $dport = $d->port;
    my $idle = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$dport") or die "connect: $!";
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$dport") or die "connect: $!";
    put($s, "GET /sleep?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n");
    # SIGTERM once the request is in flight (the gauge counts the /metrics request too), not
    # after a fixed 0.15 s: a loaded machine may not have read it yet, and then it is not.
    ok(wait_until('the request in flight', sub { (metric_value($d, 'souk_http_in_flight') // 0) >= 2 }, 5),
        'a request in flight');
    $d->{done} = 1;    # reaped here, not by the guard
    kill 'TERM', $d->pid;
    my ($res, $closed) = read_responses($s, undef, 5);
    is($res->[0]{status}, 200, 'in-flight request completes during drain');
    is($res->[0]{json}{slept_ms}, 1500, 'with its answer');
    is(lc($res->[0]{headers}{connection} // ''), 'close', 'Connection: close while draining');
    ok($closed, 'connection closed after the drained answer');
    my ($gone) = read_responses($idle, undef, 2);
    ok(!@$gone, 'idle keep-alive connection closed without an answer');
    my ($got, $t0) = (0, time);
    while (time - $t0 < 5) {
        $got = waitpid($d->pid, POSIX::WNOHANG());
        last if $got == $d->pid;
        sleep 0.02;
    }
    is($got, $d->pid, 'process exited after the drain');
    is($?, 0, 'exit status 0');
}

done_testing;
