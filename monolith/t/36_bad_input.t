# Bad input, swept across every endpoint: broken and wrong-shaped JSON, wrong media types,
# oversized bodies, bad ids, injection strings, bad tokens. Each gets the right 4xx as
# application/problem+json; nothing is ever a 500 and the data stays intact.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../tests/lib";
use Test::More;
use Souk::Test;
use Souk::Shop;

my $t = Souk::Shop->start('bad_input');
my $admin = $t->admin;
my $u = $t->user;
my $cat = $t->category('bad', 'Bad');
my $p = $t->product($admin, name => 'Target', category_id => $cat, stock => 10);
$t->cart_add($u, $p->{id}, 1);

my $pid = $p->{id};
# method, path, token, a valid body (so a failure is the input's fault), body limit
my @body_routes = (
    ['POST', '/api/v1/accounts/register', undef,
        {email => 'x@y.zz', password => 'long-enough', name => 'x'}, 16384],
    ['POST', '/api/v1/accounts/login', undef, {email => $u->{email}, password => 'nope'}, 16384],
    ['PUT', '/api/v1/accounts/me/address', $u->{token},
        {line1 => 'a', city => 'b', postal_code => 'c', country => 'PT'}, 16384],
    ['POST', '/api/v1/products', $admin->{token}, {sku => 'Z', name => 'z', category_id => $cat,
        price => {amount => 1, currency => 'EUR'}}, 256 * 1024],
    ['PUT', "/api/v1/products/$pid", $admin->{token}, {sku => $p->{sku}, name => 'z',
        category_id => $cat, price => {amount => 1, currency => 'EUR'}}, 256 * 1024],
    ['PUT', "/api/v1/products/$pid/stock", $admin->{token}, {stock => 10}, 16384],
    ['POST', "/api/v1/products/$pid/reviews", $u->{token}, {rating => 5, body => 'x'}, 16384],
    ['POST', '/api/v1/cart/items', $u->{token}, {product_id => $pid, quantity => 1}, 16384],
    ['PUT', "/api/v1/cart/items/$pid", $u->{token}, {quantity => 1}, 16384],
    ['POST', '/api/v1/orders', $u->{token}, {card_number => '4000000000000002'}, 16384],
);

my $users = $t->sql1('SELECT COUNT(*) FROM users');
my $snap = sub {
    [map { $t->sql("SELECT * FROM $_ ORDER BY 1") }
        qw(products inventory product_attributes addresses cart_items orders payments reviews)]
};
my $before = $snap->();

my $JSON = 'application/json';
my @cases = (
    ['{"a":', $JSON, 400, 'malformed-json', 'truncated JSON'],
    ["{'a': 1}", $JSON, 400, 'malformed-json', 'single quotes'],
    ['{"a": 1,}', $JSON, 400, 'malformed-json', 'trailing comma'],
    ['{"a": NaN}', $JSON, 400, 'malformed-json', 'NaN'],
    ["{\"a\": \"\xff\xfe\"}", $JSON, 400, 'malformed-json', 'invalid UTF-8'],
    ['{"a": "x\u0000y"}', $JSON, 400, 'malformed-json', 'an escaped NUL'],
    ['{"a": 1} {"b": 2}', $JSON, 400, 'malformed-json', 'two documents'],
    ['[' x 4000 . ']' x 4000, $JSON, 400, 'malformed-json', 'nesting 4000 deep'],
    ['', $JSON, 400, 'malformed-json', 'an empty body'],
    ['[]', $JSON, 400, 'invalid-request', 'an array'],
    ['"text"', $JSON, 400, 'invalid-request', 'a string'],
    ['42', $JSON, 400, 'invalid-request', 'a number'],
    ['null', $JSON, 400, 'invalid-request', 'null'],
    ['{}', $JSON, 400, 'invalid-request', 'an empty object'],
    ['{"zzz": 1}', $JSON, 400, 'invalid-request', 'only an unknown field'],
    ['{"a": 1}', 'text/plain', 415, 'unsupported-media-type', 'text/plain'],
    ['a=1', 'application/x-www-form-urlencoded', 415, 'unsupported-media-type', 'a form'],
    ['{"a": 1}', undef, 415, 'unsupported-media-type', 'no Content-Type'],
);

for my $r (@body_routes) {
    my ($m, $path, $tok, $good, $limit) = @$r;
    my %auth = defined $tok ? (token => $tok) : ();
    for my $c (@cases) {
        my ($body, $ct, $st, $slug, $what) = @$c;
        is_problem($t->api($m => $path, %auth, body => $body,
            headers => {defined $ct ? ('Content-Type' => $ct) : ()}), $st, $slug,
            "$m $path: $what is $st");
    }
    is_problem($t->api($m => $path, %auth, json => {%$good, zzz => 1}), 400, 'invalid-request',
        "$m $path: a valid body plus an unknown field is 400");
    my %wrong = map { ($_ => [$good->{$_}]) } keys %$good;    # an array fits no field
    is_problem($t->api($m => $path, %auth, json => \%wrong), 400, 'invalid-request',
        "$m $path: every field of the wrong type is 400");
    # Over the route's limit: the answer is 413 whether or not the body was sent.
    my $pad = '{"pad": "' . ('x' x ($limit + 10)) . '"}';
    my $auth = defined $tok ? "Authorization: Bearer $tok\r\n" : '';
    is_problem($t->raw("$m $path HTTP/1.1\r\nHost: t\r\n${auth}Content-Type: $JSON\r\n"
        . 'Content-Length: ' . length($pad) . "\r\nConnection: close\r\n\r\n$pad", 10), 413,
        'payload-too-large', "$m $path: a body over ${limit} B is 413");
}
is($t->sql1('SELECT COUNT(*) FROM users'), $users, 'no user was created by bad input');
is_deeply($snap->(), $before, 'no table changed');

# --- ids --------------------------------------------------------------------
my @id_routes = (
    ['GET', '/api/v1/products/%s', undef, undef],
    ['PUT', '/api/v1/products/%s', $admin->{token},
        {sku => 'Q', name => 'q', category_id => $cat, price => {amount => 1, currency => 'EUR'}}],
    ['PUT', '/api/v1/products/%s/stock', $admin->{token}, {stock => 1}],
    ['GET', '/api/v1/products/%s/reviews', undef, undef],
    ['POST', '/api/v1/products/%s/reviews', $u->{token}, {rating => 1, body => 'x'}],
    ['PUT', '/api/v1/cart/items/%s', $u->{token}, {quantity => 1}],
    ['DELETE', '/api/v1/cart/items/%s', $u->{token}, undef],
    ['GET', '/api/v1/orders/%s', $u->{token}, undef],
);
for my $r (@id_routes) {
    my ($m, $fmt, $tok, $body) = @$r;
    for my $id ('987654321', 'abc', '0', '-1', '+1', '01x', '1.5', '1e2', '0x1F', '%201',
        '9223372036854775808', '99999999999999999999999', '%27%20OR%201%3D1%20--',
        '1%20OR%201%3D1', '1;DROP%20TABLE%20products', '%E2%82%AC') {
        my $path = sprintf($fmt, $id);
        is_problem($t->api($m => $path, (defined $tok ? (token => $tok) : ()),
            (defined $body ? (json => $body) : ())), 404, 'not-found', "$m $path is 404");
    }
    # A NUL byte is refused while the path is decoded, before routing.
    my $path = sprintf($fmt, '%00');
    is_problem($t->api($m => $path, (defined $tok ? (token => $tok) : ()),
        (defined $body ? (json => $body) : ())), 400, 'invalid-request', "$m $path is 400");
}
is_deeply($snap->(), $before, 'still no table changed');

# --- query strings ------------------------------------------------------------
my @inj = ("' OR 1=1 --", "%' UNION SELECT id, email, password_hash FROM users --",
    "1; DROP TABLE products", "\" OR \"\"=\"", "') OR ('a'='a", "\\", "%00", "\x{e9}t\x{e9}",
    'x' x 300);
sub enc { (my $s = shift) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge; $s }
my @get_routes = (
    ['/api/v1/products', undef, [qw(category sort page limit min_price max_price colour q)]],
    ['/api/v1/search', undef, [qw(q category sort page limit colour)]],
    ["/api/v1/products/$pid/reviews", undef, [qw(page limit)]],
    ['/api/v1/orders', $u->{token}, [qw(page limit)]],
    ['/api/v1/reports/sales', $admin->{token}, [qw(from to)]],
    ['/api/v1/categories', undef, [qw(parent)]],
    ['/api/v1/cart', $u->{token}, [qw(x)]],
    ['/api/v1/accounts/me', $u->{token}, [qw(id)]],
);
my %seen;
for my $r (@get_routes) {
    my ($path, $tok, $names) = @$r;
    for my $n (@$names) {
        for my $v (@inj) {
            my $q = $path =~ /search/ && $n ne 'q' ? 'q=a&' : '';
            my $res = $t->api(GET => "$path?$q$n=" . enc($v),
                (defined $tok ? (token => $tok) : ()));
            my $ok = $res->{status} == 200 || ($res->{status} == 400
                && ($res->{headers}{'content-type'} // '') =~ m{^application/problem\+json});
            $seen{"$res->{status}"}++;
            ok($ok, "GET $path?$n=" . substr($v, 0, 24) . " is 200 or a 400 problem")
                or diag "status $res->{status}: $res->{body}";
        }
    }
}
# Names that are injection strings are never attribute filters.
for my $n (@inj[0 .. 4]) {
    is_problem($t->api(GET => '/api/v1/products?' . enc($n) . '=1'), 400, 'invalid-request',
        'GET /api/v1/products with parameter name ' . substr($n, 0, 20) . ' is 400');
}
is($t->sql1('SELECT COUNT(*) FROM users'), $users, 'users intact after injection strings');
is_deeply($snap->(), $before, 'every table intact after injection strings');

# --- tokens on every protected route ----------------------------------------------
my $now = time;
my %bad_tok = (
    'none' => undef,
    'malformed' => 'Bearer not-a-token',
    'expired' => 'Bearer ' . $t->mint(sub => "$u->{id}", iat => $now - 100, exp => $now - 10),
    'wrong secret' => 'Bearer ' . $t->mint(sub => "$u->{id}", secret => 'guess'),
    'admin role, wrong secret' => 'Bearer ' . $t->mint(sub => "$admin->{id}", role => 'admin',
        secret => 'guess'),
);
my @protected = (['GET', '/api/v1/accounts/me', 0], ['PUT', '/api/v1/accounts/me/address', 0],
    ['GET', '/api/v1/cart', 0], ['POST', '/api/v1/cart/items', 0],
    ['PUT', "/api/v1/cart/items/$pid", 0], ['DELETE', "/api/v1/cart/items/$pid", 0],
    ['POST', '/api/v1/orders', 0], ['GET', '/api/v1/orders', 0], ['GET', '/api/v1/orders/1', 0],
    ['POST', "/api/v1/products/$pid/reviews", 0], ['POST', '/api/v1/products', 1],
    ['PUT', "/api/v1/products/$pid", 1], ['PUT', "/api/v1/products/$pid/stock", 1],
    ['GET', '/api/v1/reports/sales', 1]);
for my $r (@protected) {
    my ($m, $path, $adm) = @$r;
    for my $why (sort keys %bad_tok) {
        is_problem($t->api($m => $path, json => {},
            (defined $bad_tok{$why} ? (headers => {Authorization => $bad_tok{$why}}) : ())),
            401, 'unauthorized', "$m $path with token $why is 401");
    }
    is_problem($t->api($m => $path, token => $u->{token}, json => {}), 403, 'forbidden',
        "$m $path as a customer is 403") if $adm;
}
# A token minted as admin with the right secret is an admin (the role lives in the token).
is($t->api(GET => '/api/v1/reports/sales', token => $t->mint(sub => "$u->{id}",
    role => 'admin'))->{status}, 200, 'a correctly signed admin token opens admin routes');

# --- the HTTP layer -------------------------------------------------------------
my $r = $t->raw("GET /api/v1/products?" . ('a' x 9000) . " HTTP/1.1\r\nHost: t\r\n"
    . "Connection: close\r\n\r\n");
ok($r->{status} == 414 || $r->{status} == 400, 'a 9 kB request line is 414 (or 400)')
    or diag "status $r->{status}";
$r = $t->raw("GET /api/v1/products HTTP/1.1\r\nHost: t\r\nX-Big: " . ('b' x 20000)
    . "\r\nConnection: close\r\n\r\n");
is($r->{status}, 431, '20 kB of headers is 431');
$r = $t->raw("GET /api/v1/products HTTP/1.1\r\nHost: t\r\n"
    . join('', map {"X-H$_: 1\r\n"} 1 .. 100) . "Connection: close\r\n\r\n");
is($r->{status}, 431, '100 header lines is 431');
$r = $t->raw("POST /api/v1/cart/items HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer $u->{token}"
    . "\r\nContent-Type: application/json\r\nContent-Length: abc\r\nConnection: close\r\n\r\n");
is($r->{status}, 400, 'a non-numeric Content-Length is 400');
$r = $t->raw("THIS IS NOT HTTP\r\n\r\n");
is($r->{status}, 400, 'garbage is 400');
$r = $t->raw("POST /api/v1/cart/items HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer $u->{token}"
    . "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close"
    . "\r\n\r\n4000\r\n" . ('x' x 16384) . "\r\n4000\r\n" . ('x' x 16384) . "\r\n0\r\n\r\n");
is_problem($r, 413, 'payload-too-large', 'a chunked body over the limit is 413');
$r = $t->raw("POST /api/v1/cart/items HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer $u->{token}"
    . "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close"
    . "\r\n\r\n" . sprintf('%x', length("{\"product_id\":$pid,\"quantity\":2}"))
    . "\r\n{\"product_id\":$pid,\"quantity\":2}\r\n0\r\n\r\n");
is($r->{status}, 200, 'a small chunked body is fine');
is($r->{json}{items}[0]{quantity}, 3, '... and was applied');
is_problem($t->api(GET => '/api/v1/../../etc/passwd'), 404, 'not-found', 'dot segments are 404');
is_problem($t->api(PATCH => "/api/v1/products/$pid", token => $admin->{token}, json => {}), 405,
    'method-not-allowed', 'PATCH is 405');

$t->finish;
undef $t;
done_testing;
