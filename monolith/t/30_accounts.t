# Accounts: register, login, me, shipping address, and every way a token can be wrong.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../tests/lib";
use Test::More;
use Souk::Test;
use Souk::Shop;

my $t = Souk::Shop->start('accounts');
my $TS = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

# --- register ---------------------------------------------------------------
my $email = 'Alice.' . $$ . '@Example.TEST';
my $res = $t->api(POST => '/api/v1/accounts/register',
    json => {email => $email, password => 'alice-password', name => 'Alice'});
is($res->{status}, 201, 'register: 201');
like($res->{headers}{'content-type'}, qr{^application/json}, 'register: application/json');
my $alice = $res->{json};
like($alice->{id}, qr/^[1-9]\d*$/, 'register: numeric id');
is($alice->{email}, lc $email, 'register: email is stored lower-cased');
is($alice->{name}, 'Alice', 'register: name');
is($alice->{role}, 'customer', 'register: role customer');
like($alice->{created_at}, $TS, 'register: created_at is RFC 3339 UTC');
ok(exists $alice->{shipping_address} && !defined $alice->{shipping_address},
    'register: shipping_address is null');
is_deeply([sort keys %$alice], [sort qw(id email name role created_at shipping_address)],
    'register: no other fields (no password hash)');
like($t->sql1("SELECT password_hash FROM users WHERE id = $alice->{id}"), qr/^\$argon2id\$/,
    'register: the password is stored as an Argon2id hash');

is_problem($t->api(POST => '/api/v1/accounts/register',
    json => {email => uc $email, password => 'another-password', name => 'Alice 2'}),
    409, 'email-taken', 'register: the same email in other case is taken');

for my $c (
    [{password => 'long-enough', name => 'x'}, 'missing email'],
    [{email => 'a@b.c', name => 'x'}, 'missing password'],
    [{email => 'a@b.c', password => 'long-enough'}, 'missing name'],
    [{email => 'not-an-email', password => 'long-enough', name => 'x'}, 'email without @'],
    [{email => 'a@b', password => 'long-enough', name => 'x'}, 'email without a dot'],
    [{email => 'a b@c.de', password => 'long-enough', name => 'x'}, 'email with a space'],
    [{email => 'a@b@c.de', password => 'long-enough', name => 'x'}, 'email with two @'],
    [{email => 'a@b.c', password => 'short', name => 'x'}, 'password under 8 bytes'],
    [{email => 'a@b.c', password => 'x' x 129, name => 'x'}, 'password over 128 bytes'],
    [{email => 'a@b.c', password => 12345678, name => 'x'}, 'password as a number'],
    [{email => 'a@b.c', password => 'long-enough', name => ''}, 'empty name'],
    [{email => 'a@b.c', password => 'long-enough', name => undef}, 'null name'],
    [{email => 'a@b.c', password => 'long-enough', name => ['x']}, 'name as an array'],
    [{email => 'a@b.c', password => 'long-enough', name => 'x', role => 'admin'},
        'unknown field (role)'],
    ) {
    is_problem($t->api(POST => '/api/v1/accounts/register', json => $c->[0]), 400,
        'invalid-request', "register: $c->[1] is 400");
}
is_problem($t->api(POST => '/api/v1/accounts/register', body => '{"email":',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'register: truncated JSON is 400 malformed-json');
is_problem($t->api(POST => '/api/v1/accounts/register',
    body => '{"email":"d@e.fg","email":"d@e.fg","password":"long-enough","name":"x"}',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'register: a duplicate key is rejected');
is_problem($t->api(POST => '/api/v1/accounts/register', body => '["a@b.c"]',
    headers => {'Content-Type' => 'application/json'}), 400, 'invalid-request',
    'register: an array body is 400');
is_problem($t->api(POST => '/api/v1/accounts/register', body => '',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'register: an empty body is 400');
is_problem($t->api(POST => '/api/v1/accounts/register',
    body => 'email=a@b.c&password=long-enough&name=x',
    headers => {'Content-Type' => 'application/x-www-form-urlencoded'}), 415,
    'unsupported-media-type', 'register: a form body is 415');
is($t->sql1('SELECT COUNT(*) FROM users'), 1, 'register: no rejected request created a user');

# Injection-shaped values are data.
my $bobby = "Robert'); DROP TABLE users; --";
$res = $t->api(POST => '/api/v1/accounts/register',
    json => {email => "o'brien.$$\@example.test", password => "' OR '1'='1", name => $bobby});
is($res->{status}, 201, 'register: quotes in email, password and name are fine');
is($res->{json}{name}, $bobby, 'register: the name comes back verbatim');
is($t->sql1('SELECT COUNT(*) FROM users'), 2, 'register: the users table is intact');
ok($t->api(POST => '/api/v1/accounts/login',
    json => {email => "o'brien.$$\@example.test", password => "' OR '1'='1"})->{status} == 200,
    'login: a password with quotes works');

# --- login ------------------------------------------------------------------
$res = $t->api(POST => '/api/v1/accounts/login',
    json => {email => $email, password => 'alice-password'});
is($res->{status}, 200, 'login: 200 (email in any case)');
my $login = $res->{json};
is($login->{token_type}, 'Bearer', 'login: token_type Bearer');
is($login->{expires_in}, 3600, 'login: expires_in is the default TTL');
is_deeply($login->{user}, $alice, 'login: the user is the registered one');
my @part = split /\./, $login->{token} // '';
is(scalar @part, 3, 'login: the token has three parts');
my $head = eval { Souk::Shop->decode_json(Souk::Shop::b64url_decode($part[0])) } || {};
my $claims = eval { Souk::Shop->decode_json(Souk::Shop::b64url_decode($part[1])) } || {};
is($head->{alg}, 'HS256', 'token: alg HS256');
ok(defined $claims->{sub} && !ref $claims->{sub} && $part[1] && $claims->{sub} eq "$alice->{id}"
    && Souk::Shop::b64url_decode($part[1]) =~ /"sub":"\d+"/, 'token: sub is the id as a string');
is($claims->{role}, 'customer', 'token: role');
is($claims->{iss}, 'souk', 'token: iss souk');
is(($claims->{exp} // 0) - ($claims->{iat} // 0), 3600, 'token: exp = iat + 1 h');
ok(abs(($claims->{iat} // 0) - time) < 60, 'token: iat is now');
my $token = $login->{token};

my $wrong = $t->api(POST => '/api/v1/accounts/login',
    json => {email => $email, password => 'wrong-password'});
is_problem($wrong, 401, 'login-failed', 'login: wrong password is 401 login-failed');
my $nobody = $t->api(POST => '/api/v1/accounts/login',
    json => {email => "nobody.$$\@example.test", password => 'alice-password'});
is_problem($nobody, 401, 'login-failed', 'login: unknown email is 401 login-failed');
is($nobody->{json}{detail}, $wrong->{json}{detail},
    'login: unknown email and wrong password read the same');
is_problem($t->api(POST => '/api/v1/accounts/login',
    json => {email => "' OR 1=1 --", password => "' OR 1=1 --"}), 401, 'login-failed',
    'login: an injection string is just a failed login');
is_problem($t->api(POST => '/api/v1/accounts/login',
    json => {email => "x\@y.z' OR '1'='1", password => 'x'}), 401, 'login-failed',
    'login: injection after a plausible email is a failed login');
is_problem($t->api(POST => '/api/v1/accounts/login', json => {email => $email}), 400,
    'invalid-request', 'login: missing password is 400');
is_problem($t->api(POST => '/api/v1/accounts/login',
    json => {email => $email, password => 'alice-password', remember => JSON::PP::true}),
    400, 'invalid-request', 'login: unknown field is 400');
is_problem($t->api(POST => '/api/v1/accounts/login', body => "{'email': 1}",
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'login: single-quoted JSON is 400');

# --- me ---------------------------------------------------------------------
$res = $t->api(GET => '/api/v1/accounts/me', token => $token);
is($res->{status}, 200, 'me: 200');
is_deeply($res->{json}, $alice, 'me: the same user');

my $me = '/api/v1/accounts/me';
my $now = time;
my %bad = (
    'no Authorization header' => undef,
    'empty bearer' => 'Bearer ',
    'Basic scheme' => 'Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=',
    'token without scheme' => $token,
    'garbage token' => 'Bearer abc.def.ghi',
    'two parts' => 'Bearer ' . join('.', @part[0, 1]),
    'four parts' => "Bearer $token.x",
    'tampered payload' => 'Bearer ' . join('.', $part[0],
        Souk::Shop::b64url(Souk::Shop::b64url_decode($part[1]) =~ s/"customer"/"admin"/r),
        $part[2]),
    'expired' => 'Bearer ' . $t->mint(sub => "$alice->{id}", iat => $now - 7200,
        exp => $now - 3600),
    'expired one second ago' => 'Bearer ' . $t->mint(sub => "$alice->{id}", exp => $now - 1),
    'wrong secret' => 'Bearer ' . $t->mint(sub => "$alice->{id}", secret => 'not-the-secret'),
    'alg none' => 'Bearer ' . join('.', Souk::Shop::b64url('{"alg":"none","typ":"JWT"}'),
        Souk::Shop::b64url(Souk::Shop->encode_json({sub => "$alice->{id}", role => 'customer',
            iat => $now, exp => $now + 600, iss => 'souk'})), ''),
    'alg HS512 header' => 'Bearer ' . $t->mint(sub => "$alice->{id}",
        header => {alg => 'HS512', typ => 'JWT'}),
    'wrong issuer' => 'Bearer ' . $t->mint(sub => "$alice->{id}", iss => 'evil'),
    'no issuer' => 'Bearer ' . $t->mint(sub => "$alice->{id}", iss => undef),
    'no exp' => 'Bearer ' . $t->mint(sub => "$alice->{id}", exp => undef),
    'numeric sub' => 'Bearer ' . $t->mint(sub => 0 + $alice->{id}),
    'non-numeric sub' => 'Bearer ' . $t->mint(sub => 'alice'),
    'sub 0' => 'Bearer ' . $t->mint(sub => '0'),
    'role superuser' => 'Bearer ' . $t->mint(sub => "$alice->{id}", role => 'superuser'),
    'issued far in the future' => 'Bearer ' . $t->mint(sub => "$alice->{id}",
        iat => $now + 86400, exp => $now + 90000),
);
for my $why (sort keys %bad) {
    my $r = $t->api(GET => $me,
        defined $bad{$why} ? (headers => {Authorization => $bad{$why}}) : ());
    is_problem($r, 401, 'unauthorized', "me: $why is 401");
}
$res = $t->api(GET => $me, token => $t->mint(sub => "$alice->{id}"));
is($res->{status}, 200, 'me: a token minted with the shared secret is accepted');
is($res->{json}{id}, $alice->{id}, 'me: ... for the user in sub');
$res = $t->api(GET => $me, headers => {Authorization => "bearer $token"});
is($res->{status}, 200, 'me: the scheme name is case-insensitive');
is_problem($t->api(GET => $me, token => $t->mint(sub => '999999999')), 404, 'not-found',
    'me: a valid token for a user that does not exist is 404');

# --- address ----------------------------------------------------------------
my $addr = {line1 => 'Rua Augusta 1', line2 => '2 Esq', city => 'Lisboa',
    postal_code => '1100-048', country => 'PT'};
$res = $t->api(PUT => '/api/v1/accounts/me/address', token => $token, json => $addr);
is($res->{status}, 200, 'address: 200');
is_deeply($res->{json}, $addr, 'address: echoed');
is_deeply($t->api(GET => $me, token => $token)->{json}{shipping_address}, $addr,
    'address: me shows it');
my %no_line2 = (%$addr, city => "Porto'; --");
delete $no_line2{line2};
$res = $t->api(PUT => '/api/v1/accounts/me/address', token => $token, json => \%no_line2);
is($res->{status}, 200, 'address: replace without line2');
is_deeply($t->api(GET => $me, token => $token)->{json}{shipping_address},
    {%no_line2, line2 => ''}, 'address: replaced, line2 empty, quotes verbatim');
is($t->sql1("SELECT COUNT(*) FROM addresses WHERE user_id = $alice->{id}"), 1,
    'address: still one row per user');
$res = $t->api(PUT => '/api/v1/accounts/me/address', token => $token,
    json => {%$addr, line2 => undef});
is($res->{status}, 200, 'address: line2 may be null');

for my $c (
    [{%$addr, country => 'pt'}, 'lower-case country'],
    [{%$addr, country => 'PRT'}, 'three-letter country'],
    [{%$addr, country => 'P1'}, 'country with a digit'],
    [{%$addr, city => ''}, 'empty city'],
    [{%$addr, city => undef}, 'null city'],
    [{%$addr, postal_code => 1100}, 'postal_code as a number'],
    [{%$addr, line1 => 'x' x 201}, 'line1 over 200 bytes'],
    [{%$addr, phone => '123'}, 'unknown field'],
    [{line1 => 'x'}, 'missing fields'],
    ) {
    is_problem($t->api(PUT => '/api/v1/accounts/me/address', token => $token, json => $c->[0]),
        400, 'invalid-request', "address: $c->[1] is 400");
}
is_problem($t->api(PUT => '/api/v1/accounts/me/address', json => $addr), 401, 'unauthorized',
    'address: no token is 401');
is_problem($t->api(PUT => '/api/v1/accounts/me/address', token => $t->mint(sub => '999999999'),
    json => $addr), 404, 'not-found', 'address: a token for a missing user is 404');

# A correctly signed token whose account does not exist (deleted, or issued elsewhere):
# writes keyed by it are 404 "account not found", never a 409 or a 500.
{
    my $ghost = $t->mint(sub => '999999999');
    my $cat = $t->category('ghost', 'Ghost');
    $t->sql("INSERT INTO products (sku, name, description, category_id, price_minor)"
        . " VALUES ('GHOST-1', 'Ghost item', '', $cat, 100)");
    my $gp = $t->sql1("SELECT id FROM products WHERE sku = 'GHOST-1'");
    $t->sql("INSERT INTO inventory (product_id, stock) VALUES ($gp, 5)");
    for my $c (['POST', '/api/v1/cart/items', {product_id => 0 + $gp, quantity => 1}],
        ['POST', '/api/v1/orders', {card_number => '4242424242424242'}],
        ['POST', "/api/v1/products/$gp/reviews", {rating => 5, body => 'boo'}]) {
        my $r = $t->api($c->[0] => $c->[1], token => $ghost, json => $c->[2]);
        is_problem($r, 404, 'not-found', "ghost account: $c->[0] $c->[1] is 404");
        is($r->{json}{detail}, 'account not found', "ghost account: ... account not found");
    }
    is($t->api(GET => '/api/v1/cart', token => $ghost)->{status}, 200,
        'ghost account: reading the (empty) cart is fine');
    is_deeply($t->api(GET => '/api/v1/orders', token => $ghost)->{json}{items}, [],
        'ghost account: no orders');
}

# --- roles ------------------------------------------------------------------
for my $route (['POST', '/api/v1/products', {}], ['PUT', '/api/v1/products/1', {}],
    ['PUT', '/api/v1/products/1/stock', {stock => 1}],
    ['GET', '/api/v1/reports/sales', undef]) {
    my ($m, $p, $body) = @$route;
    is_problem($t->api($m => $p, token => $token, (defined $body ? (json => $body) : ())),
        403, 'forbidden', "roles: a customer on $m $p is 403");
    is_problem($t->api($m => $p, (defined $body ? (json => $body) : ())),
        401, 'unauthorized', "roles: no token on $m $p is 401");
    is_problem($t->api($m => $p, token => $t->mint(sub => "$alice->{id}", exp => $now - 5),
        (defined $body ? (json => $body) : ())), 401, 'unauthorized',
        "roles: an expired token on $m $p is 401, not 403");
}
$t->sql("UPDATE users SET role = 'admin' WHERE id = $alice->{id}");
is_problem($t->api(GET => '/api/v1/reports/sales', token => $token), 403, 'forbidden',
    'roles: the role is the token\'s; an old customer token stays customer');
$res = $t->api(POST => '/api/v1/accounts/login',
    json => {email => $email, password => 'alice-password'});
is($res->{json}{user}{role}, 'admin', 'roles: after promotion login says admin');
is($t->api(GET => '/api/v1/reports/sales', token => $res->{json}{token})->{status}, 200,
    'roles: the new token opens admin routes');

# --- routing ----------------------------------------------------------------
is_problem($t->api(GET => '/api/v1/nope'), 404, 'not-found', 'routing: unknown path is 404');
my $m405 = $t->api(DELETE => '/api/v1/accounts/me', token => $token);
is_problem($m405, 405, 'method-not-allowed', 'routing: wrong method is 405');
like($m405->{headers}{allow} // '', qr/GET/, 'routing: 405 lists Allow');
is($t->api(GET => '/health')->{status}, 200, 'GET /health');
is($t->api(GET => '/ready')->{status}, 200, 'GET /ready');

$t->finish;
undef $t;
done_testing;
