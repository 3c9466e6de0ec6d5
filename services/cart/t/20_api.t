# services/cart/t/20_api.t - souk-cart against real Redis, PostgreSQL (its inbox), RabbitMQ
# and a real souk-catalog whose products an admin creates through its API: every endpoint
# answering as the monolith, bad input, ownership, anonymous carts and their cookie, merge at
# login, price_changed / unavailable from the catalog's events, sliding TTLs, and a catalog
# that is slow or down.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../../tests/lib";
use HTTP::Tiny ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes ();
use Souk::Test;

my $SECRET = 'cart-test-secret-0123456789abcdef0123';
my $HEX32 = qr/^[0-9a-f]{32}$/;
sub token { jwt_mint(sub => "$_[0]", role => $_[1] // 'customer', secret => $SECRET) }

my $redis = redis_start();
my $cat = fresh_service('catalog', SOUK_REDIS_URL => $redis->{url}, SOUK_JWT_SECRET => $SECRET);
my %CART_ENV = (SOUK_AMQP_URL => $cat->{amqp}, SOUK_REDIS_URL => $redis->{url},
    SOUK_CATALOG_URL => $cat->url, SOUK_JWT_SECRET => $SECRET);
my $cart = fresh_service('cart', %CART_ENV);
$CART_ENV{SOUK_CART_DB} = $cart->{db}{dsn};    # for the extra carts below
my $kdb = $cart->{db};

my @fivexx;
# api($method, $path, token => , cookie => , json => , body => , headers => , base => ,
# may_fail => 1)
sub api {
    my ($method, $path, %o) = @_;
    return api_request($o{base} // $cart->url, \@fivexx, $method, $path, %o,
        allow_5xx => $o{may_fail});
}
sub cart_of { api(GET => '/api/v1/cart', @_)->{json} }
sub add { my ($pid, $qty, %o) = @_; api(POST => '/api/v1/cart/items', json => {product_id => $pid, quantity => $qty}, %o) }
sub ids { [map { $_->{product_id} } @{$_[0]{items}}] }
sub qty { my ($c, $pid) = @_; my ($l) = grep { $_->{product_id} == $pid } @{$c->{items}}; $l ? $l->{quantity} : 0 }
sub line { my ($c, $pid) = @_; my ($l) = grep { $_->{product_id} == $pid } @{$c->{items}}; $l }
sub set_cookie { my $h = $_[0]{headers}{'set-cookie'}; ref $h ? join("\n", @$h) : $h // '' }
sub cookie_id { set_cookie($_[0]) =~ /souk_cart=([0-9a-f]{32})/ ? $1 : undef }

my $admin = token(1, 'admin');
sub catalog {
    my ($method, $path, $json) = @_;
    return http($method, $cat->url . $path, {headers => {Authorization => "Bearer $admin"},
        (defined $json ? (json => $json) : ())});
}
my $cat_id = catalog(POST => '/api/v2/categories', {slug => 'misc', name => 'Misc'})->{json}{id};
my $SKU = 0;
sub product {
    my ($name, $price) = @_;
    $SKU++;
    my $res = catalog(POST => '/api/v1/products', {sku => "SKU-$SKU", name => $name // "Thing $SKU",
        category_id => $cat_id, price => {amount => $price // 100, currency => 'EUR'}});
    die "catalog: product: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    return $res->{json}{id};
}

my ($ua, $ub, $uc, $ud) = (token(1001), token(1002), token(1003), token(1004));
my $a = product('Alpha', 1250);
my $b = product('Beta two words', 399);

# --- empty carts ---------------------------------------------------------------------------
my $empty = {items => [], total => {amount => 0, currency => 'EUR'}, item_count => 0};
for my $who ([token => $ua], [cookie => 'souk_cart=0123456789abcdef0123456789abcdef'], []) {
    my $res = api(GET => '/api/v1/cart', @$who);
    is($res->{status}, 200, 'empty: 200 (' . ($who->[0] // 'nobody') . ')');
    is_deeply($res->{json}, $empty, 'empty: the monolith\'s empty cart');
    is(set_cookie($res), '', 'empty: a read sets no cookie');
}

# --- add, replace, remove (monolith/t/33_cart.t) ------------------------------------------
my $res = add($a, 2, token => $ua);
is($res->{status}, 200, 'add: 200');
is_deeply($res->{json}, {items => [{product_id => $a, name => 'Alpha', quantity => 2,
    unit_price => {amount => 1250, currency => 'EUR'},
    line_total => {amount => 2500, currency => 'EUR'}}],
    total => {amount => 2500, currency => 'EUR'}, item_count => 2}, 'add: the cart comes back');
like($res->{body}, qr/^\{"items":\[\{"product_id":\d+,"name":"Alpha","quantity":2,"unit_price":\{"amount":1250,"currency":"EUR"\},"line_total":\{"amount":2500,"currency":"EUR"\}\}\],"total":\{"amount":2500,"currency":"EUR"\},"item_count":2\}$/,
    'add: members in the monolith\'s order');
is(set_cookie($res), '', 'add: a signed-in user gets no cart cookie');
$res = add($a, 3, token => $ua);
is(qty($res->{json}, $a), 5, 'add: adding again sums the quantity');
is(scalar @{$res->{json}{items}}, 1, 'add: still one line');
$res = add($b, 1, token => $ua);
is_deeply(ids($res->{json}), [$a, $b], 'add: lines in the order they were added');
is_deeply($res->{json}{total}, {amount => 5 * 1250 + 399, currency => 'EUR'}, 'add: total');
is($res->{json}{item_count}, 6, 'add: item_count counts units');
is_deeply(cart_of(token => $ua), $res->{json}, 'get: the same cart');
is_deeply(cart_of(token => $ub), $empty, 'get: another user has their own cart');

$res = api(PUT => "/api/v1/cart/items/$a", token => $ua, json => {quantity => 7});
is($res->{status}, 200, 'put: 200');
is(qty($res->{json}, $a), 7, 'put: replaces the quantity');
is_deeply(ids($res->{json}), [$a, $b], 'put: the line keeps its place');
is_problem(api(PUT => "/api/v1/cart/items/$a", token => $ub, json => {quantity => 1}), 404,
    'not-found', 'put: a product not in my cart is 404');
is_problem(api(PUT => '/api/v1/cart/items/999999', token => $ua, json => {quantity => 1}), 404,
    'not-found', 'put: unknown product is 404');
is(api(PUT => '/api/v1/cart/items/999999', token => $ua, json => {quantity => 1})->{json}{detail},
    'cart item not found', 'put: the monolith\'s detail');
$res = api(DELETE => "/api/v1/cart/items/$b", token => $ua);
is($res->{status}, 200, 'delete: 200');
is_deeply(ids($res->{json}), [$a], 'delete: the line is gone');
is_problem(api(DELETE => "/api/v1/cart/items/$b", token => $ua), 404, 'not-found',
    'delete: again is 404');
is_problem(api(DELETE => "/api/v1/cart/items/$a", token => $ub), 404, 'not-found',
    'delete: from someone else\'s cart is 404 (and does nothing)');
is(qty(cart_of(token => $ua), $a), 7, 'delete: the other cart is untouched');
$res = add($b, 1, token => $ua);
is_deeply(ids($res->{json}), [$a, $b], 'add after delete: appended again');

# --- limits ----------------------------------------------------------------------------------
is(api(PUT => "/api/v1/cart/items/$a", token => $ua, json => {quantity => 99})->{status}, 200,
    'limits: 99 in a line is fine');
$res = add($a, 1, token => $ua);
is_problem($res, 409, 'conflict', 'limits: adding past 99 in a line is 409');
is($res->{json}{detail}, 'a cart line holds at most 99 and a cart at most 100 lines',
    'limits: the monolith\'s detail');
is(qty(cart_of(token => $ua), $a), 99, 'limits: the line kept 99');
my @many = map { product(undef, 10) } 1 .. 100;
my $ok = grep { add($_, 1, token => $ub)->{status} == 200 } @many;
is($ok, 100, 'limits: 100 lines fit');
is_problem(add($a, 1, token => $ub), 409, 'conflict', 'limits: the 101st line is 409');
is(add($many[0], 1, token => $ub)->{status}, 200, 'limits: an existing line can still grow');
is_deeply(ids(cart_of(token => $ub)), \@many, 'limits: 100 lines in the order added');

# --- bad input -------------------------------------------------------------------------------
my $before = cart_of(token => $ua);
for my $c (
    [{product_id => $a, quantity => 0}, 'quantity 0'],
    [{product_id => $a, quantity => -1}, 'quantity -1'],
    [{product_id => $a, quantity => -99999999999}, 'a large negative quantity'],
    [{product_id => $a, quantity => 100}, 'quantity 100'],
    [{product_id => $a, quantity => 1000000000000}, 'quantity 10^12'],
    [{product_id => $a, quantity => '18446744073709551617'}, 'quantity as a huge string'],
    [{product_id => $a, quantity => 1.5}, 'quantity 1.5'],
    [{product_id => $a, quantity => '2'}, 'quantity as a string'],
    [{product_id => $a, quantity => undef}, 'quantity null'],
    [{product_id => $a, quantity => JSON::PP::true}, 'quantity true'],
    [{product_id => $a}, 'missing quantity'],
    [{quantity => 1}, 'missing product_id'],
    [{product_id => "$a", quantity => 1}, 'product_id as a string'],
    [{product_id => 0, quantity => 1}, 'product_id 0'],
    [{product_id => -5, quantity => 1}, 'product_id negative'],
    [{product_id => "1 OR 1=1", quantity => 1}, 'product_id injection'],
    [{product_id => $a, quantity => 1, price => 1}, 'unknown field price'],
    [{product_id => $a, quantity => 1, user_id => 1002}, 'unknown field user_id'],
    ) {
    is_problem(api(POST => '/api/v1/cart/items', token => $ua, json => $c->[0]), 400,
        'invalid-request', "add: $c->[1] is 400");
}
$res = api(POST => '/api/v1/cart/items', token => $ua,
    body => qq({"product_id": $a, "quantity": 99999999999999999999999}),
    headers => {'Content-Type' => 'application/json'});
is($res->{status}, 400, 'add: a quantity past int64 is 400');
is_problem(add(999999, 1, token => $ua), 404, 'not-found', 'add: unknown product is 404');
is(add(999999, 1, token => $ua)->{json}{detail}, 'product not found', 'add: its detail');
is_problem(add(9223372036854775807, 1, token => $ua), 404, 'not-found',
    'add: the largest id is just unknown');
is_problem(api(POST => '/api/v1/cart/items', token => $ua, body => '{"product_id": 1, "quantity": 1',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'add: truncated JSON is 400');
is_problem(api(POST => '/api/v1/cart/items', token => $ua, body => '{"product_id": 1, "quantity": 1}',
    headers => {'Content-Type' => 'text/plain'}), 415, 'unsupported-media-type',
    'add: text/plain is 415');
is_problem(api(POST => '/api/v1/cart/items', token => $ua, body => 'null',
    headers => {'Content-Type' => 'application/json'}), 400, 'invalid-request',
    'add: a JSON null body is 400');
for my $c ([{quantity => 0}, 'quantity 0'], [{quantity => -3}, 'quantity -3'],
    [{quantity => 100}, 'quantity 100'], [{quantity => '5'}, 'quantity a string'],
    [{}, 'missing quantity'], [{quantity => 1, product_id => $b}, 'product_id in body']) {
    is_problem(api(PUT => "/api/v1/cart/items/$a", token => $ua, json => $c->[0]), 400,
        'invalid-request', "put: $c->[1] is 400");
}
for my $id ('abc', '0', '-1', '1.0', '99999999999999999999', "1'%20OR%20'1'='1") {
    is_problem(api(PUT => "/api/v1/cart/items/$id", token => $ua, json => {quantity => 1}), 404,
        'not-found', "put: id $id is 404");
    is_problem(api(DELETE => "/api/v1/cart/items/$id", token => $ua), 404, 'not-found',
        "delete: id $id is 404");
}
is_deeply(cart_of(token => $ua), $before, 'bad input: the cart did not change');
my $big = '{"product_id": 1, "quantity": 1, "pad": "' . ('x' x 20000) . '"}';
is_problem(api(POST => '/api/v1/cart/items', token => $ua, body => $big,
    headers => {'Content-Type' => 'application/json'}), 413, 'payload-too-large',
    'add: a 20 kB body is 413');

# --- identity: tokens decide, cookies only name anonymous carts ------------------------------
for my $bad (['garbage', 'not.a.token'], ['another secret', jwt_mint(sub => '1001',
    secret => 'some-other-secret-0123456789abcdef')], ['expired', jwt_mint(sub => '1001',
    secret => $SECRET, iat => time - 7200, exp => time - 3600)]) {
    is_problem(api(GET => '/api/v1/cart', token => $bad->[1]), 401, 'unauthorized',
        "a $bad->[0] token is 401, never the anonymous cart");
}
$res = add($b, 3, cookie => 'x=1');
is($res->{status}, 200, 'anonymous: add without a token is 200');
my $anon1 = cookie_id($res);
like($anon1 // '', $HEX32, 'anonymous: a souk_cart cookie with a 128-bit id');
like(set_cookie($res), qr/souk_cart=$anon1; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax/,
    'anonymous: Path, Max-Age, HttpOnly, SameSite=Lax');
is_deeply(ids(cart_of(cookie => "souk_cart=$anon1")), [$b], 'anonymous: the cookie reads it back');
is(qty(cart_of(cookie => "a=b; souk_cart=$anon1; c=d"), $b), 3, 'anonymous: among other cookies');
is_deeply(cart_of(), $empty, 'anonymous: no cookie, no cart');
my $anon2 = cookie_id(add($a, 1));
isnt($anon2, $anon1, 'anonymous: another visitor gets another id');
is_deeply(ids(cart_of(cookie => "souk_cart=$anon2")), [$a], 'anonymous: ... and another cart');
is(qty(cart_of(cookie => "souk_cart=$anon1"), $a), 0, 'anonymous: the first cart is untouched');
$res = api(PUT => "/api/v1/cart/items/$b", cookie => "souk_cart=$anon1", json => {quantity => 4});
is(qty($res->{json}, $b), 4, 'anonymous: put');
is_problem(api(DELETE => "/api/v1/cart/items/$b", cookie => "souk_cart=$anon2"), 404,
    'not-found', 'anonymous: one visitor cannot remove from another\'s cart');
is_problem(api(PUT => "/api/v1/cart/items/$b", json => {quantity => 1}), 404, 'not-found',
    'anonymous: put without a cart is 404');
my $ua_cart = cart_of(token => $ua);
for my $forged ('souk_cart=u:1001', 'souk_cart=souk:cart:u:1001', 'souk_cart=1001',
    'souk_cart=../u/1001', 'souk_cart=' . uc($anon1), "souk_cart=${anon1}0",
    'souk_cart=' . ('0' x 32) . '%00') {
    $res = api(GET => '/api/v1/cart', cookie => $forged);
    is_deeply($res->{json}, $empty, "forged cookie '$forged': ignored, an empty cart");
    $res = add($b, 1, cookie => $forged);
    is($res->{status}, 200, "forged cookie '$forged': an add makes a new anonymous cart");
    my $id = cookie_id($res);
    ok($id && $id ne $anon1 && $id ne $anon2, "forged cookie '$forged': with a fresh id");
}
is_deeply(cart_of(token => $ua), $ua_cart, 'forged cookies: the user\'s cart is untouched');
is_deeply(ids(cart_of(cookie => "souk_cart=$anon1")), [$b], 'forged cookies: so is anon 1');

# --- merge at login ----------------------------------------------------------------------------
my $c1 = product('Gamma', 500);
is(add($a, 1, token => $uc)->{status}, 200, 'merge: the user has a line');
my $anon3 = cookie_id(add($a, 99));
add($c1, 2, cookie => "souk_cart=$anon3");
$res = api(GET => '/api/v1/cart', token => $uc, cookie => "souk_cart=$anon3");
is($res->{status}, 200, 'merge: GET with token and cookie');
is_deeply(ids($res->{json}), [$a, $c1], 'merge: anonymous lines appended after the user\'s');
is(qty($res->{json}, $a), 99, 'merge: quantities added, capped at 99');
is(qty($res->{json}, $c1), 2, 'merge: a new line keeps its quantity');
like(set_cookie($res), qr/souk_cart=; Path=\/; Max-Age=0/, 'merge: the cookie is cleared');
my $merged = $res->{json};
$res = api(GET => '/api/v1/cart', token => $uc, cookie => "souk_cart=$anon3");
is_deeply($res->{json}, $merged, 'merge: a retry with the same cookie adds nothing');
is_deeply(cart_of(cookie => "souk_cart=$anon3"), $empty, 'merge: the anonymous cart is gone');
my $anon4 = cookie_id(add($b, 2));
$res = add($b, 1, token => $uc, cookie => "souk_cart=$anon4");
is(qty($res->{json}, $b), 3, 'merge: on an add too (2 merged + 1 added)');
like(set_cookie($res), qr/Max-Age=0/, 'merge: ... and the cookie is cleared');
# Line cap: user 1002 holds 100 lines; a new line is dropped, an existing one still merges.
my $anon5 = cookie_id(add($c1, 5));
add($many[1], 3, cookie => "souk_cart=$anon5");
$res = api(GET => '/api/v1/cart', token => $ub, cookie => "souk_cart=$anon5");
is(scalar @{$res->{json}{items}}, 100, 'merge into a full cart: still 100 lines');
is(qty($res->{json}, $c1), 0, 'merge into a full cart: the new line is dropped');
is(qty($res->{json}, $many[1]), 4, 'merge into a full cart: the existing line merged');
# Concurrent merges of one cookie (two tabs logging in at once): exactly one applies.
my $anon6 = cookie_id(add($c1, 10));
my @kids;
for (1 .. 4) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = HTTP::Tiny->new->get($cart->url . '/api/v1/cart', {headers => {
            Authorization => "Bearer $ud", Cookie => "souk_cart=$anon6"}});
        POSIX::_exit($r->{status} == 200 ? 0 : 1);
    }
    push @kids, $pid;
}
my $kids_ok = 0;
for (@kids) { waitpid $_, 0; $kids_ok++ if $? == 0 }
is($kids_ok, 4, 'concurrent merges: every request answered 200');
is(qty(cart_of(token => $ud), $c1), 10, 'concurrent merges: merged exactly once');

# --- product events: price_changed and unavailable ------------------------------------------
my $d = product('Delta', 2000);
my $e = product('Epsilon', 300);
add($d, 2, token => $ua);
add($e, 1, token => $ua);
my $anon7 = cookie_id(add($d, 1));
is(catalog(PUT => "/api/v1/products/$d/price", {amount => 1800, currency => 'EUR'})->{status},
    200, 'events: the admin changes a price in the catalog');
my $got = wait_until('price_changed on the user\'s line',
    sub { my $l = line(cart_of(token => $ua), $d); $l && $l->{price_changed} ? $l : undef }, 20);
is_deeply($got, {product_id => $d, name => 'Delta', quantity => 2,
    unit_price => {amount => 1800, currency => 'EUR'}, line_total => {amount => 3600,
    currency => 'EUR'}, price_changed => JSON::PP::true},
    'events: the line shows today\'s price and "price_changed": true');
ok(!exists line(cart_of(token => $ua), $e)->{price_changed}, 'events: other lines are not flagged');
ok(wait_until('price_changed on the anonymous line',
    sub { (line(cart_of(cookie => "souk_cart=$anon7"), $d) // {})->{price_changed} }, 20),
    'events: anonymous carts are flagged too');
$res = add($d, 1, token => $ua);
ok(!exists line($res->{json}, $d)->{price_changed}, 'events: adding again takes a fresh snapshot');
is(line($res->{json}, $d)->{unit_price}{amount}, 1800, 'events: ... at today\'s price');
is(catalog(DELETE => "/api/v1/products/$e")->{status}, 204, 'events: the admin deletes a product');
ok(wait_until('unavailable on the user\'s line',
    sub { (line(cart_of(token => $ua), $e) // {})->{unavailable} }, 20),
    'events: the line shows "unavailable": true');
is_problem(add($e, 1, token => $ua), 404, 'not-found', 'events: a deleted product cannot be added');
is(api(PUT => "/api/v1/cart/items/$e", token => $ua, json => {quantity => 2})->{status}, 200,
    'events: an unavailable line can still be changed');
is(api(DELETE => "/api/v1/cart/items/$e", token => $ua)->{status}, 200, '... and removed');
my $inbox = sub { pg_sql($kdb->{db}, "SELECT type, count(*) FROM inbox GROUP BY type ORDER BY type") };
wait_until('the inbox rows', sub { @{$inbox->()} == 2 }, 10);
is_deeply($inbox->(), [['product.deleted', 1], ['product.price_changed', 1]],
    'events: the inbox holds each consumed event once');

# --- a catalog that does not answer in time ----------------------------------------------------
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 8,
    Proto => 'tcp') or die "listen: $!";
{
    my $slow = spawn_service('cart', %CART_ENV, SOUK_AMQP_URL => rabbit_vhost(),
        SOUK_CATALOG_URL => 'http://127.0.0.1:' . $silent->sockport, SOUK_CATALOG_TIMEOUT_MS => 300);
    my $t0 = Time::HiRes::time();
    $res = add($a, 1, token => $ua, base => $slow->url, may_fail => 1);
    my $took = Time::HiRes::time() - $t0;
    is_problem($res, 503, 'unavailable', 'slow catalog: an add is 503');
    ok($took < 2, sprintf('slow catalog: within the timeout (%.2f s)', $took));
    is($res->{headers}{'retry-after'}, '1', 'slow catalog: Retry-After');
    is_deeply(cart_of(token => $ua, base => $slow->url), cart_of(token => $ua),
        'slow catalog: the cart is unchanged and still readable');
}

# --- sliding TTLs ---------------------------------------------------------------------------------
{
    my $r2 = redis_start();
    my $short = spawn_service('cart', %CART_ENV, SOUK_REDIS_URL => $r2->{url},
        SOUK_AMQP_URL => rabbit_vhost(), SOUK_CART_TTL_USER_S => 4, SOUK_CART_TTL_ANON_S => 4);
    my $base = $short->url;
    add($a, 1, token => $ua, base => $base);
    my $anon = cookie_id(add($a, 1, base => $base));
    like(set_cookie(add($b, 1, cookie => "souk_cart=$anon", base => $base)), qr/Max-Age=4;/,
        'ttl: the cookie lives as long as the cart');
    # Reads 2 s apart keep a 4 s cart alive for 6 s: 2 s of room for the reads themselves (with
    # a 2 s TTL and reads 1.2 s apart a loaded machine had 0.8 s for two requests).
    for (1 .. 3) {
        Time::HiRes::sleep(2);
        is(qty(cart_of(token => $ua, base => $base), $a), 1, "ttl: read $_ slides the user's TTL");
        is(qty(cart_of(cookie => "souk_cart=$anon", base => $base), $a), 1,
            "ttl: read $_ slides the anonymous TTL");
    }
    Time::HiRes::sleep(5);
    is_deeply(cart_of(token => $ua, base => $base), $empty, 'ttl: the user\'s cart expired');
    is_deeply(cart_of(cookie => "souk_cart=$anon", base => $base), $empty,
        'ttl: the anonymous cart expired');
    is(qty(add($a, 2, cookie => "souk_cart=$anon", base => $base)->{json}, $a), 2,
        'ttl: an expired cart starts afresh');
}

# --- the catalog is down ----------------------------------------------------------------------
my $keep = cart_of(token => $ua);
$cat->stop;
$res = add($b, 1, token => $ua, may_fail => 1);
is_problem($res, 503, 'unavailable', 'catalog down: an add is 503');
like($res->{json}{detail} // '', qr/cart is unchanged/, 'catalog down: the detail says so');
is_deeply(cart_of(token => $ua), $keep, 'catalog down: the cart is unchanged');
$res = api(PUT => "/api/v1/cart/items/$a", token => $ua, json => {quantity => 3});
is($res->{status}, 200, 'catalog down: put works without it');
is(qty($res->{json}, $a), 3, 'catalog down: ... and answers the cart');
is(http(GET => $cart->url . '/ready')->{status}, 200, 'catalog down: cart stays ready');

# 5xx answers are logged as errors: only the expected ones (catalog down, /ready at start).
no_failures(\@fivexx, [$cart], name => 'cart', expected => qr/the catalog did not answer/);
done_testing;
