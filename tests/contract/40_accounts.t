# v1 contract: accounts (register, login, me, shipping address). Runs unchanged against the
# monolith and against souk-users behind the gateway (tests/contract/README.md).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use JSON::PP ();
use MIME::Base64 ();
use Test::More;
use Souk::Test;
use Souk::Contract;

my $t = contract_target();
my $JSON = JSON::PP->new->utf8->canonical;

sub claims {
    my ($tok) = @_;
    my $p = (split /\./, $tok // '')[1] // '';
    $p =~ tr{-_}{+/};
    $p .= '=' x ((4 - length($p) % 4) % 4);
    return eval { $JSON->decode(MIME::Base64::decode_base64($p)) } // {};
}

# --- register -----------------------------------------------------------------
my $email = $t->email;
my $res = $t->api(POST => '/api/v1/accounts/register',
    json => {email => uc $email, password => 'correct horse battery', name => 'Ada Lovelace'});
answers($res, 201, 'user', 'register: 201, a User without an address');
in_order($res, 'user', 'register: member order');
my $ada = $res->{json};
is($ada->{email}, lc $email, 'register: the email is stored lower-cased');
is($ada->{name}, 'Ada Lovelace', 'register: name');
is($ada->{role}, 'customer', 'register: role customer');
cmp_ok($ada->{id}, '>', 0, 'register: a positive id');

is_problem($t->api(POST => '/api/v1/accounts/register',
    json => {email => $email, password => 'another password', name => 'Impostor'}),
    409, 'email-taken', 'register: the same email again is 409 email-taken');

for my $case (
    [{password => 'correct horse battery', name => 'X'}, 'invalid-request', 'email missing'],
    [{email => $t->email, name => 'X'}, 'invalid-request', 'password missing'],
    [{email => $t->email, password => 'correct horse battery'}, 'invalid-request', 'name missing'],
    [{email => $t->email, password => 'short', name => 'X'}, 'invalid-request', 'a 5-byte password'],
    [{email => $t->email, password => 'x' x 129, name => 'X'}, 'invalid-request', 'a 129-byte password'],
    [{email => 'not-an-email', password => 'correct horse battery', name => 'X'}, 'invalid-request', 'not an email'],
    [{email => $t->email, password => 'correct horse battery', name => ''}, 'invalid-request', 'an empty name'],
    [{email => $t->email, password => 'correct horse battery', name => 'X', role => 'admin'}, 'invalid-request', 'an unknown member (role)'],
    [{email => $t->email, password => 12345678, name => 'X'}, 'invalid-request', 'a number as password'],
    [{email => $t->email, password => 'correct horse battery', name => undef}, 'invalid-request', 'null name'],
) {
    my ($body, $slug, $what) = @$case;
    is_problem($t->api(POST => '/api/v1/accounts/register', json => $body), 400, $slug,
        "register: $what is 400 $slug");
}
is_problem($t->api(POST => '/api/v1/accounts/register', body => '{"email": ',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'register: truncated JSON is 400 malformed-json');
is_problem($t->api(POST => '/api/v1/accounts/register',
    body => '{"email":"a@b.c","email":"d@e.f","password":"correct horse","name":"X"}',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'register: a duplicate key is 400 malformed-json');
is_problem($t->api(POST => '/api/v1/accounts/register', body => '["x"]',
    headers => {'Content-Type' => 'application/json'}), 400, 'invalid-request',
    'register: an array root is 400 invalid-request');
is_problem($t->api(POST => '/api/v1/accounts/register', body => 'email=a@b.c',
    headers => {'Content-Type' => 'application/x-www-form-urlencoded'}), 415,
    'unsupported-media-type', 'register: a form body is 415');
is_problem($t->api(POST => '/api/v1/accounts/register', json => {email => $t->email,
    password => 'correct horse battery', name => 'x' x 17000}), 413, 'payload-too-large',
    'register: a body over 16 KiB is 413');

# --- login --------------------------------------------------------------------
$res = $t->api(POST => '/api/v1/accounts/login',
    json => {email => $email, password => 'correct horse battery'});
answers($res, 200, 'login', 'login: 200 {token, token_type, expires_in, user}');
in_order($res, 'login', 'login: member order');
my $login = $res->{json};
is($login->{token_type}, 'Bearer', 'login: token_type Bearer');
is_deeply($login->{user}, $ada, 'login: the registered user');
my $c = claims($login->{token});
is($c->{sub}, "$ada->{id}", 'token: sub is the user id as a decimal string');
is(json_shape($c->{sub}), 'string', 'token: sub is a JSON string');
is($c->{role}, 'customer', 'token: role');
is($c->{iss}, 'souk', 'token: iss souk');
is(($c->{exp} // 0) - ($c->{iat} // 0), $login->{expires_in}, 'token: exp - iat = expires_in');
my $tok = $login->{token};

$res = $t->api(POST => '/api/v1/accounts/login',
    json => {email => uc $email, password => 'correct horse battery'});
is($res->{status}, 200, 'login: the email is case-insensitive');
is_problem($t->api(POST => '/api/v1/accounts/login',
    json => {email => $email, password => 'wrong horse battery'}), 401, 'login-failed',
    'login: a wrong password is 401 login-failed');
my $unknown = $t->api(POST => '/api/v1/accounts/login',
    json => {email => $t->email, password => 'correct horse battery'});
is_problem($unknown, 401, 'login-failed', 'login: an unknown email is 401 login-failed');
is($unknown->{json}{detail}, 'invalid email or password', 'login: the same detail either way');
is_problem($t->api(POST => '/api/v1/accounts/login',
    json => {email => 'nobody', password => 'correct horse battery'}), 401, 'login-failed',
    'login: a non-email is 401 login-failed');
is_problem($t->api(POST => '/api/v1/accounts/login', json => {email => $email}), 400,
    'invalid-request', 'login: password missing is 400');
is_problem($t->api(POST => '/api/v1/accounts/login', body => 'nope',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'login: not JSON is 400 malformed-json');

# --- me -----------------------------------------------------------------------
$res = $t->api(GET => '/api/v1/accounts/me', token => $tok);
answers($res, 200, 'user', 'me: 200 User');
in_order($res, 'user', 'me: member order');
is_deeply($res->{json}, $ada, 'me: the token\'s account');

is_problem($t->api(GET => '/api/v1/accounts/me'), 401, 'unauthorized', 'me: no token is 401');
for my $bad (
    [$t->token(sub => "$ada->{id}", secret => 'not-the-secret-0123456789abcdef0123'), 'a foreign signature'],
    [$t->token(sub => "$ada->{id}", exp => time - 60, iat => time - 3660), 'an expired token'],
    [$t->token(sub => "$ada->{id}", header => {alg => 'none', typ => 'JWT'}), 'alg none'],
    [$t->token(sub => "$ada->{id}", iss => 'elsewhere'), 'a foreign iss'],
    ['garbage', 'not a JWT'],
) {
    is_problem($t->api(GET => '/api/v1/accounts/me', token => $bad->[0]), 401, 'unauthorized',
        "me: $bad->[1] is 401");
}
is_problem($t->api(GET => '/api/v1/accounts/me', headers => {Authorization => "Basic $tok"}),
    401, 'unauthorized', 'me: another scheme than Bearer is 401');
is_problem($t->api(GET => '/api/v1/accounts/me', token => $t->token(sub => '999999999')), 404,
    'not-found', 'me: a valid token for no account is 404');

# --- shipping address ---------------------------------------------------------
my $addr = {line1 => '1 Market Street', city => 'Lisbon', postal_code => '1100-001', country => 'PT'};
$res = $t->api(PUT => '/api/v1/accounts/me/address', token => $tok, json => $addr);
answers($res, 200, 'address', 'address: 200 Address');
in_order($res, 'address', 'address: member order');
is_deeply($res->{json}, {%$addr, line2 => ''}, 'address: line2 is "" when absent');

$res = $t->api(GET => '/api/v1/accounts/me', token => $tok);
answers($res, 200, 'user_with_address', 'me: now with the address');
is_deeply($res->{json}{shipping_address}, {%$addr, line2 => ''}, 'me: the address as written');

my $addr2 = {line1 => '2 Rua Augusta', line2 => 'Floor 3', city => 'Porto', postal_code => '4000-001',
    country => 'PT'};
$res = $t->api(PUT => '/api/v1/accounts/me/address', token => $tok, json => $addr2);
is_deeply($res->{json}, $addr2, 'address: a second write replaces the first');
is_deeply($t->api(GET => '/api/v1/accounts/me', token => $tok)->{json}{shipping_address}, $addr2,
    'me: shows the replacement');
$res = $t->api(PUT => '/api/v1/accounts/me/address', token => $tok, json => {%$addr, line2 => undef});
is($res->{status} == 200 && $res->{json}{line2}, '', 'address: null line2 is ""');

for my $case (
    [{%$addr, country => 'pt'}, 'a lower-case country'],
    [{%$addr, country => 'PRT'}, 'a 3-letter country'],
    [{line1 => 'x', postal_code => '1', country => 'PT'}, 'city missing'],
    [{%$addr, line1 => ''}, 'an empty line1'],
    [{%$addr, city => 'x' x 101}, 'a 101-byte city'],
    [{%$addr, planet => 'Earth'}, 'an unknown member'],
    [{%$addr, postal_code => 1100}, 'a number as postal_code'],
) {
    is_problem($t->api(PUT => '/api/v1/accounts/me/address', token => $tok, json => $case->[0]),
        400, 'invalid-request', "address: $case->[1] is 400");
}
is_problem($t->api(PUT => '/api/v1/accounts/me/address', json => $addr), 401, 'unauthorized',
    'address: no token is 401');
is_problem($t->api(PUT => '/api/v1/accounts/me/address', token => $t->token(sub => '999999999'),
    json => $addr), 404, 'not-found', 'address: a token for no account is 404');

# --- problems: one shape everywhere -----------------------------------------------
for my $case (
    [POST => '/api/v1/accounts/register', {json => {email => 'x'}}, 400],
    [GET => '/api/v1/accounts/me', {}, 401],
    [GET => '/api/v1/accounts/me', {token => $t->token(sub => '999999999')}, 404],
    [DELETE => '/api/v1/accounts/me', {token => $tok}, 405],
) {
    my ($m, $path, $o, $status) = @$case;
    $res = $t->api($m, $path, %$o, headers => {'X-Request-Id' => "contract-$status"});
    is($res->{status}, $status, "problem: $m $path is $status");
    is_deeply([conforms($res->{json}, $SPEC{problem})], [], "problem $status: the members, typed");
    in_order($res, 'problem', "problem $status: member order");
    is_deeply([@{$res->{json} || {}}{qw(instance request_id)}], [$path, "contract-$status"],
        "problem $status: instance is the path, request_id the X-Request-Id sent");
    is($res->{headers}{'x-request-id'}, "contract-$status", "problem $status: X-Request-Id echoed");
}
like($res->{headers}{allow} // '', qr/\bGET\b/, 'problem 405: Allow lists GET');

# --- one account never sees another's -----------------------------------------
my $bob = $t->user(name => 'Bob');
$res = $t->api(GET => '/api/v1/accounts/me', token => $bob->{token});
is($res->{json}{id}, $bob->{id}, 'ownership: Bob\'s token is Bob');
isnt($bob->{id}, $ada->{id}, 'ownership: another id');
is($res->{json}{shipping_address}, undef, 'ownership: Bob has no address (Ada\'s is hers)');
is_deeply($t->api(GET => '/api/v1/accounts/me', token => $tok)->{json}{shipping_address},
    {%$addr, line2 => ''}, 'ownership: Ada\'s address is hers alone');

$t->finish;
done_testing;
