#!/usr/bin/env perl
# fuzz/seeds.pl - (re)write the committed seed corpora in fuzz/corpus/<target>/.
# Usage: perl fuzz/seeds.pl   (from anywhere; core modules only)
# The seeds are small, realistic inputs in each target's input format (see the comment at the
# top of each fuzz/<target>.c). Run it after changing a format; commit what it writes.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);

my $root = dirname(__FILE__) . '/corpus';

sub seeds {
    my ($target, %files) = @_;
    my $dir = "$root/$target";
    remove_tree($dir);
    make_path($dir);
    for my $name (sort keys %files) {
        open(my $fh, '>:raw', "$dir/$name") or die "$dir/$name: $!";
        print $fh $files{$name};
        close($fh) or die "$dir/$name: $!";
    }
}

# ---- http_request: 7 control bytes (split count, three 16-bit split points), then the stream.
sub http {
    my ($stream, @cuts) = @_;
    my $n = length($stream);
    @cuts = (int($n / 3), int($n / 2), $n - 2) unless @cuts;
    push @cuts, 0 while @cuts < 3;
    return pack('C n n n', scalar(@cuts) - 1, @cuts[0 .. 2]) . $stream;
}
my $H = "Host: shop.example\r\n";
my $json = '{"items":[{"product_id":12,"quantity":2}],"note":"caf\u00e9"}';
my $chunked = "POST /api/v1/cart/items HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n"
    . "Content-Type: application/json\r\n\r\n"
    . "5;name=value;q=\"a\\\"b\"\r\n{\"a\":\r\n7 ; x\r\n\"hello\"\r\n1\r\n}\r\n"
    . "0;last\r\nX-Checksum: 1\r\nX-Trailer: t\r\n\r\n";
seeds('http_request',
    'get-headers' => http("GET /api/v1/products?limit=10&q=caf%C3%A9+au+lait HTTP/1.1\r\n$H"
        . "User-Agent: curl/8.0\r\nAccept: */*\r\nX-Request-Id: abc-123.x_y\r\n"
        . "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
        . "Cookie: souk_canary=abc; a=b\r\nAuthorization: Bearer x.y.z\r\n\r\n"),
    'post-content-length' => http("POST /api/v1/orders HTTP/1.1\r\n$H"
        . "Content-Type: application/json\r\nContent-Length: " . length($json) . "\r\n"
        . "Idempotency-Key: k-1\r\n\r\n$json"),
    'chunked-ext-trailers' => http($chunked),
    'chunked-split-in-size' => http($chunked, 80, 110, 140),
    'pipelined-pair' => http("GET /api/v1/categories HTTP/1.1\r\n$H\r\n"
        . "POST /api/v1/accounts/login HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\n{}"),
    'pipelined-close' => http("GET /a HTTP/1.1\r\n${H}Connection: close\r\n\r\nGET /b HTTP/1.1\r\n$H\r\n"),
    'http10-keep-alive' => http("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /x HTTP/1.0\r\n\r\n"),
    'head-expect' => http("HEAD /api/v1/products/7 HTTP/1.1\r\n$H\r\n"
        . "PUT /api/v1/products/7 HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 3\r\n\r\n{ }"),
    'hop-by-hop' => http("GET /x HTTP/1.1\r\n${H}Connection: keep-alive, X-Secret, Upgrade\r\n"
        . "X-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: websocket\r\n"
        . "X-User-Id: 1\r\nX-User-Role: admin\r\nX-Forwarded-For: 10.0.0.1\r\n"
        . "X-Forwarded-For: 10.0.0.2\r\nVia: 1.0 a\r\n\r\n"),
    'options-star' => http("OPTIONS * HTTP/1.1\r\n$H\r\n"),
    'percent-path' => http("GET /api/v1/products/%2e%2e/4%2F2/reviews?x=%00&y=%zz HTTP/1.1\r\n$H\r\n"),
    'bare-lf' => http("GET / HTTP/1.1\n$H\n"),
    'smuggle-cl-te' => http("POST /v HTTP/1.1\r\n${H}Content-Length: 6\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nX"),
    'smuggle-te-cl' => http("POST /v HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n"
        . "Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n"),
    'smuggle-cl-cl' => http("POST /v HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
    'smuggle-te-obsfold' => http("POST /v HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n"
        . "5\r\nhello\r\n0\r\n\r\n"),
    'smuggle-te-gzip' => http("POST /v HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
    'smuggle-chunk-wrap' => http("POST /v HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n"
        . "10000000000000005\r\nhello\r\n0\r\n\r\n"),
    'smuggle-in-body' => http("POST /v HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n"
        . "0\r\n\r\nGET /api/v1/reports/sales HTTP/1.1\r\n${H}X-User-Role: admin\r\n\r\n"),
    'space-before-colon' => http("GET /v HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\nhello"),
    'absolute-form' => http("GET http://evil.example/admin HTTP/1.1\r\n$H\r\n"),
    'connect' => http("CONNECT shop.example:443 HTTP/1.1\r\n$H\r\n"),
    'no-host' => http("GET /v HTTP/1.1\r\nX-Foo: a\r\n\r\n"),
    'nul-bare-cr' => http("GET /v HTTP/1.1\r\n${H}X-Foo: a\rb\r\nX-Bar: \0\r\n\r\n"),
    # at the limit of lib/bounds.h: 64 header lines. (No 16 KiB seed: every input would be
    # allowed to grow that large and runs get 4x slower; long runs of `make fuzz` get there.)
    'limit-64-lines' => http("GET /many HTTP/1.1\r\n$H"
        . join('', map { "X-H$_: v\r\n" } 1 .. 63) . "\r\nGET /next HTTP/1.1\r\n$H\r\n"),
);

# ---- router: method byte, max_params byte, Allow size byte, then the path.
sub route { pack('C C C', @_[0 .. 2]) . $_[3] }
seeds('router',
    'products-id' => route(0, 8, 63, '/api/v1/products/42'),
    'reviews-head' => route(1, 8, 63, '/api/v1/products/4%2F2/reviews'),
    'cart-delete' => route(4, 1, 20, '/api/v1/cart/items/%41%42'),
    'method-not-allowed' => route(4, 8, 63, '/api/v1/orders'),
    'many-params' => route(0, 9, 63, '/m/1/2/3/4/5/6/7/8/9/10'),
    'empty-param' => route(5, 2, 10, '/x/'),
    'bad-escape' => route(0, 8, 63, '/api/v1/products/%zz'),
    'nul-escape' => route(0, 8, 63, '/api/v1/products/%00'),
    'root' => route(1, 0, 0, '/'),
    'literal-escape' => route(6, 8, 63, '/a%20b/c%25d'),
    'form-query' => route(2, 3, 5, '/api/v1/search?q=a+b%2B%C3%A9&x=%'),
);

# ---- routes_json: a routes document, optionally NUL and a probe "METHOD /path".
sub slurp {
    my ($f) = @_;
    open(my $fh, '<:raw', $f) or die "$f: $!";
    local $/;
    return scalar <$fh>;
}
my $default = slurp(dirname(__FILE__) . '/../gateway/routes.default.json');
my $full = <<'JSON';
{
  "version": 1,
  "upstreams": {
    "monolith": {"servers": ["127.0.0.1:7000"], "health": {"path": "/health", "interval_ms": 500}},
    "catalog":  {"servers": ["127.0.0.1:7101", "[::1]:7102"], "balance": "least_conn", "max_idle": 8}
  },
  "routes": [
    {"name": "products", "path": "/api/v1/products", "methods": ["GET", "HEAD"],
     "legacy": "monolith", "new": "catalog", "mode": "canary", "canary_percent": 10,
     "rate_limit": {"ip": {"rate": 50, "burst": 100}, "user": {"rate": 0.5}},
     "shadow": {"ignore": ["/request_id", "/items/*/created_at", "/a~1b/~0c"], "headers": ["content-type"],
                "methods": ["GET"], "max_body": 65536, "max_inflight": 4},
     "rollback": {"error_rate": 0.05, "window_ms": 30000, "min_requests": 20}},
    {"name": "reviews", "path": "/api/v1/products/{id}/reviews", "legacy": "monolith", "new": "catalog",
     "mode": "shadow", "auth": "user", "max_body": 0, "timeout_ms": 2000, "connect_timeout_ms": 100,
     "retries": 0},
    {"name": "new-only", "path": "/api/v2/{a}/{b}", "new": "catalog", "mode": "new", "legacy": "monolith",
     "fallback": true},
    {"name": "catch_all", "path": "/", "legacy": "monolith"}
  ]
}
JSON
my $bad = <<'JSON';
{"version": 2, "upstreams": {"bad name": {"servers": ["nohost", "1.2.3.4:0", "1.2.3.4:0"]}, "empty": {}},
 "routes": [{"name": "a", "path": "/x/../{y}z", "mode": "canary", "methods": ["GET", "GET", "BREW"],
   "legacy": "nope", "extra": 1, "rate_limit": {"ip": {"burst": 0}}},
  {"name": "a", "path": "/x/../{y}z", "shadow": {"ignore": ["no-slash", "/~2"]}}]}
JSON
seeds('routes_json',
    'default' => $default,
    'default-probe' => "$default\0GET /api/v1/products/5/reviews",
    'full' => $full,
    'full-probe' => "$full\0HEAD /api/v2/x%2Fy/z",
    'invalid-everything' => $bad,
    'not-json' => "{\"version\": 1, \"routes\": [",
);

# ---- decode_json: a request body.
seeds('decode_json',
    'valid-strict' => '{"name":"widget","qty":3,"note":null,"text":"caf\u00e9","big":-9223372036854775808,'
        . '"n":1,"neg":-2,"flag":true,"maybe":null,"obj":{"name":"x","qty":1,"note":"abc","big":null},'
        . '"arr":[1,2],"items":[]}',
    'missing-required' => '{"qty":1}',
    'wrong-types' => '{"name":1,"qty":"1","flag":"yes","obj":[],"arr":{}}',
    'out-of-range' => '{"name":"","qty":100,"neg":0}',
    'real-not-int' => '{"name":"a","qty":1.0}',
    'unknown-long-key' => '{"name":"a","qty":1,"' . ('\u00e9' x 40) . '\u0001\"":1}',
    'duplicate' => '{"name":"a","name":"b","qty":1}',
    'nul-in-string' => '{"name":"a\u0000b","qty":1}',
    'not-object' => '[{"name":"a"}]',
    'nested' => '{"obj":{"obj":{"obj":{"note":"abc"}}}}',
);

# ---- auth_token: a token; also "header\nclaims" signed by the harness.
sub tok {
    my ($secret, $head, $claims) = @_;
    my $s = encode_base64url($head) . '.' . encode_base64url($claims);
    return $s . '.' . encode_base64url(hmac_sha256($s, $secret));
}
my $hs = '{"alg":"HS256","typ":"JWT"}';
my $claims = '{"sub":"42","role":"customer","iat":1700000000,"exp":1700003600,"iss":"souk"}';
seeds('auth_token',
    # signed with the dev secret, which the harness does not verify with
    'valid-looking' => tok('souk-dev-secret-change-me', $hs, $claims),
    'alg-none' => encode_base64url('{"alg":"none"}') . '.' . encode_base64url($claims) . '.',
    'claims' => $claims,
    'claims-admin' => '{"sub":"1","role":"admin","iat":1699999000,"exp":1800000000,"iss":"souk"}',
    'header-and-claims' => "{\"alg\":\"HS256\"}\n$claims",
    'bad-sub' => '{"sub":"007","role":"customer","iat":1700000000,"exp":1700003600,"iss":"souk"}',
    'crit' => "{\"alg\":\"HS256\",\"crit\":[\"x\"]}\n$claims",
);
print "seeds written under $root\n";
