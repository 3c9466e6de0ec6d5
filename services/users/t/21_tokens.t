# One identity on both sides of the migration: a token the monolith issues is accepted by
# souk-users and one souk-users issues is accepted by the monolith (shared SOUK_JWT_SECRET,
# the same claims), and the two answer the accounts API in the same shapes and with the
# same problems.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib",
    "$FindBin::Bin/../../../monolith/t/lib";
use Test::More;
use Souk::Test;
use Souk::Shop;
use Souk::Users;

my $m = Souk::Shop->start('users_tokens');    # fresh MariaDB schema + souk-monolith
my $u = Souk::Users->start('tokens');         # fresh users database + souk-users
my $ME = '/api/v1/accounts/me';
my $ADDR = '/api/v1/accounts/me/address';

sub claims {
    my ($token) = @_;
    my @p = split /\./, $token // '';
    return eval { Souk::Shop->decode_json(Souk::Shop::b64url_decode($p[1] // '')) } || {};
}
sub keys_in_order { join ',', ($_[0]{body} // '') =~ /"(\w+)":/g }

# --- a monolith token on users --------------------------------------------------
my $email = "ada.$$\@example.test";
my $ma = $m->user(email => $email, password => 'ada-password', name => 'Ada', address => 0);
is_deeply([sort keys %{claims($ma->{token})}], [qw(exp iat iss role sub)],
    'monolith token: sub, role, iat, exp, iss');
my $res = $u->api(GET => $ME, token => $ma->{token});
is_problem($res, 404, 'not-found',
    'users: a monolith token for an id users does not know is accepted, then 404');
is($res->{json}{detail}, 'account not found', 'users: ... "account not found", as the monolith');
is_problem($u->api(PUT => $ADDR, token => $ma->{token},
    json => {line1 => '1 Loop', city => 'London', postal_code => 'N1', country => 'GB'}),
    404, 'not-found', 'users: address with that token is 404 too, not 401');
my $mghost = $m->api(GET => $ME, token => Souk::Shop->mint(sub => '999999999'));
is_problem($mghost, 404, 'not-found', 'monolith: its own answer for an unknown id');
is($mghost->{json}{detail}, $res->{json}{detail}, 'both: the same detail');

# The same account on users (both databases are fresh, so the ids line up as a backfill
# would keep them).
my $ureg = $u->api(POST => '/api/v1/accounts/register',
    json => {email => $email, password => 'ada-password', name => 'Ada'});
is($ureg->{status}, 201, 'users: the same account registers');
is($ureg->{json}{id}, $ma->{id}, 'users: ... with the same id');
$res = $u->api(GET => $ME, token => $ma->{token});
is($res->{status}, 200, 'users: the monolith token now opens /me');
my $mme = $m->api(GET => $ME, token => $ma->{token});
my %a = %{$res->{json} || {}};
my %b = %{$mme->{json} || {}};
like(delete $a{created_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'users: created_at');
like(delete $b{created_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'monolith: created_at');
is_deeply(\%a, \%b, 'both: /me is the same account (id, email, name, role, address)');
is(keys_in_order($res), keys_in_order($mme), 'both: /me members in the same order');

# --- a users token on the monolith -----------------------------------------------
my $ulogin = $u->api(POST => '/api/v1/accounts/login',
    json => {email => uc $email, password => 'ada-password'});
is($ulogin->{status}, 200, 'users: login');
my $mlogin = $m->api(POST => '/api/v1/accounts/login',
    json => {email => uc $email, password => 'ada-password'});
is(keys_in_order($ulogin), keys_in_order($mlogin), 'both: login members in the same order');
my ($uc, $mc) = (claims($ulogin->{json}{token}), claims($mlogin->{json}{token}));
is_deeply([sort keys %$uc], [sort keys %$mc], 'both: the same claims');
is_deeply([@$uc{qw(sub role iss)}], [@$mc{qw(sub role iss)}], 'both: the same sub, role, iss');
is($uc->{exp} - $uc->{iat}, $mc->{exp} - $mc->{iat}, 'both: the same lifetime');
$res = $m->api(GET => $ME, token => $ulogin->{json}{token});
isnt($res->{status}, 401, 'monolith: a users token is not 401');
is($res->{status}, 200, 'monolith: ... it opens /me');
is($res->{json}{id}, $ma->{id}, 'monolith: ... for the same account');
my $addr = {line1 => '12 Analytical Row', line2 => '', city => 'London', postal_code => 'NW1 6XE',
    country => 'GB'};
my $mput = $m->api(PUT => $ADDR, token => $ulogin->{json}{token}, json => $addr);
is($mput->{status}, 200, 'monolith: a users token may write the address');
my $uput = $u->api(PUT => $ADDR, token => $mlogin->{json}{token}, json => $addr);
is($uput->{status}, 200, 'users: a monolith token may write the address');
is($uput->{body}, $mput->{body}, 'both: the same address reply, byte for byte');

my $foreign = Souk::Shop->mint(sub => "$ma->{id}", secret => 'another-secret-0123456789abcdef');
is_problem($u->api(GET => $ME, token => $foreign), 401, 'unauthorized',
    'users: a token signed with another secret is 401');
is_problem($m->api(GET => $ME, token => $foreign), 401, 'unauthorized',
    'monolith: ... and there too');

# --- the same problems on both sides ------------------------------------------------
my $J = {'Content-Type' => 'application/json'};
my @cases = (
    ['register: bad email', POST => '/api/v1/accounts/register',
        json => {email => 'nope', password => 'long-enough', name => 'x'}],
    ['register: short password', POST => '/api/v1/accounts/register',
        json => {email => 'a@b.cd', password => 'short', name => 'x'}],
    ['register: name as a number', POST => '/api/v1/accounts/register',
        json => {email => 'a@b.cd', password => 'long-enough', name => 5}],
    ['register: unknown field', POST => '/api/v1/accounts/register',
        json => {email => 'a@b.cd', password => 'long-enough', name => 'x', role => 'admin'}],
    ['register: missing name', POST => '/api/v1/accounts/register',
        json => {email => 'a@b.cd', password => 'long-enough'}],
    ['register: email taken', POST => '/api/v1/accounts/register',
        json => {email => uc $email, password => 'long-enough', name => 'x'}],
    ['register: truncated JSON', POST => '/api/v1/accounts/register', body => '{"email":',
        headers => $J],
    ['register: duplicate key', POST => '/api/v1/accounts/register', headers => $J,
        body => '{"email":"a@b.cd","email":"a@b.cd","password":"long-enough","name":"x"}'],
    ['register: an array', POST => '/api/v1/accounts/register', body => '[]', headers => $J],
    ['register: a form', POST => '/api/v1/accounts/register', body => 'email=x',
        headers => {'Content-Type' => 'application/x-www-form-urlencoded'}],
    ['register: too large', POST => '/api/v1/accounts/register', headers => $J,
        body => '{"name":"' . ('x' x 20000) . '"}'],
    ['login: wrong password', POST => '/api/v1/accounts/login',
        json => {email => $email, password => 'wrong-password'}],
    ['login: unknown email', POST => '/api/v1/accounts/login',
        json => {email => "nobody.$$\@example.test", password => 'wrong-password'}],
    ['login: not an email', POST => '/api/v1/accounts/login',
        json => {email => "' OR 1=1 --", password => 'x'}],
    ['login: missing password', POST => '/api/v1/accounts/login', json => {email => $email}],
    ['me: no token', GET => $ME],
    ['me: expired', GET => $ME,
        token => Souk::Shop->mint(sub => "$ma->{id}", exp => time - 10)],
    ['me: alg none', GET => $ME, headers => {Authorization => 'Bearer '
        . Souk::Shop::b64url('{"alg":"none"}') . '.' . Souk::Shop::b64url('{"sub":"1"}') . '.'}],
    ['address: bad country', PUT => $ADDR, token => $mlogin->{json}{token},
        json => {%$addr, country => 'gb'}],
    ['address: unknown field', PUT => $ADDR, token => $mlogin->{json}{token},
        json => {%$addr, phone => '1'}],
    ['address: missing city', PUT => $ADDR, token => $mlogin->{json}{token},
        json => {line1 => 'x', postal_code => 'y', country => 'GB'}],
    ['me: wrong method', DELETE => $ME, token => $mlogin->{json}{token}],
);
for my $c (@cases) {
    my ($why, $method, $path, %o) = @$c;
    my ($ur, $mr) = ($u->api($method => $path, %o), $m->api($method => $path, %o));
    my @f = qw(type title status detail);
    is_deeply({status => $ur->{status}, map { $_ => ($ur->{json} || {})->{$_} } @f},
        {status => $mr->{status}, map { $_ => ($mr->{json} || {})->{$_} } @f},
        "both: $why answers the same problem ($mr->{status})");
}

$u->finish;
$m->finish;
undef $u;
undef $m;
# --- a monolith token on cart ----------------------------------------------------
# souk-cart has no accounts of its own: the verified token's sub is the cart's owner, so a
# token the monolith issued opens that user's cart, and a forged one does not.
{
    my $redis = redis_start();
    my $cart = spawn_service('cart', SOUK_CART_DB => pg_fresh('cart')->{dsn},
        SOUK_REDIS_URL => $redis->url, SOUK_AMQP_URL => rabbit_vhost(),
        SOUK_JWT_SECRET => $Souk::Shop::SECRET, SOUK_CATALOG_URL => 'http://127.0.0.1:9');
    my $get = sub {
        http(GET => $cart->url . '/api/v1/cart', {headers => {Authorization => "Bearer $_[0]"}});
    };
    my $r = $get->($ma->{token});
    is($r->{status}, 200, 'cart: a monolith-issued token opens the cart');
    is_deeply($r->{json}{items}, [], 'cart: ... the user\'s (empty) cart');
    is_problem($get->(Souk::Shop->mint(sub => $ma->{id}, secret => 'not-the-shared-secret')),
        401, 'unauthorized', 'cart: a token signed with another secret is 401');
    $cart->stop;
}

done_testing;
