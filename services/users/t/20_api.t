# souk-users against a real PostgreSQL and RabbitMQ: the v1 accounts API (the monolith's
# shapes and answers), bad input as 4xx problems, ownership and bad tokens, the outbox rows
# of user.registered and user.address_changed, and login throttling shared by replicas.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib",
    "$FindBin::Bin/../../../monolith/t/lib";
use JSON::PP ();
use Test::More;
use Time::HiRes ();
use Souk::Test;
use Souk::Shop ();
use Souk::Users;

my $t = Souk::Users->start('api');
my $TS = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
my $REG = '/api/v1/accounts/register';
my $LOGIN = '/api/v1/accounts/login';
my $ME = '/api/v1/accounts/me';
my $ADDR = '/api/v1/accounts/me/address';
my $JSON_CT = {'Content-Type' => 'application/json'};
sub mint { Souk::Shop->mint(@_) }

# --- register ---------------------------------------------------------------
my $email = 'Alice.' . $$ . '@Example.TEST';
my $res = $t->api(POST => $REG,
    json => {email => $email, password => 'alice-password', name => 'Alice'});
is($res->{status}, 201, 'register: 201');
like($res->{headers}{'content-type'}, qr{^application/json}, 'register: application/json');
my $alice = $res->{json};
like($alice->{id}, qr/^[1-9]\d*$/, 'register: numeric id');
is($alice->{email}, lc $email, 'register: email is stored lower-cased');
is($alice->{name}, 'Alice', 'register: name');
is($alice->{role}, 'customer', 'register: role customer');
like($alice->{created_at}, $TS, 'register: created_at is RFC 3339 UTC, whole seconds');
ok(exists $alice->{shipping_address} && !defined $alice->{shipping_address},
    'register: shipping_address is null');
is(join(',', $res->{body} =~ /"(\w+)":/g), 'id,email,name,role,created_at,shipping_address',
    'register: the monolith\'s members in the monolith\'s order, nothing else');
like($t->sql1("SELECT password_hash FROM users WHERE id = $alice->{id}"), qr/^\$argon2id\$/,
    'register: the password is stored as an Argon2id hash');

is_problem($t->api(POST => $REG,
    json => {email => uc $email, password => 'another-password', name => 'Alice 2'}),
    409, 'email-taken', 'register: the same email in other case is taken');
is_problem($t->api(POST => $REG,
    json => {email => lc $email, password => 'another-password', name => 'Alice 3'}),
    409, 'email-taken', 'register: the same email is taken');

my @bad_register = (
    [{password => 'long-enough', name => 'x'}, 'missing email'],
    [{email => 'a@b.c', name => 'x'}, 'missing password'],
    [{email => 'a@b.c', password => 'long-enough'}, 'missing name'],
    [{email => 'not-an-email', password => 'long-enough', name => 'x'}, 'email without @'],
    [{email => 'a@b', password => 'long-enough', name => 'x'}, 'email without a dot'],
    [{email => 'a b@c.de', password => 'long-enough', name => 'x'}, 'email with a space'],
    [{email => 'a@b@c.de', password => 'long-enough', name => 'x'}, 'email with two @'],
    [{email => "x\@y.z' OR '1'='1", password => 'long-enough', name => 'x'}, 'email injection'],
    [{email => 'a' x 250 . '@b.cd', password => 'long-enough', name => 'x'}, 'email over 254'],
    [{email => 12345, password => 'long-enough', name => 'x'}, 'email as a number'],
    [{email => {a => 1}, password => 'long-enough', name => 'x'}, 'email as an object'],
    [{email => JSON::PP::true, password => 'long-enough', name => 'x'}, 'email as a boolean'],
    [{email => 'a@b.c', password => 'short', name => 'x'}, 'password under 8 bytes'],
    [{email => 'a@b.c', password => 'x' x 129, name => 'x'}, 'password over 128 bytes'],
    [{email => 'a@b.c', password => 12345678, name => 'x'}, 'password as a number'],
    [{email => 'a@b.c', password => undef, name => 'x'}, 'null password'],
    [{email => 'a@b.c', password => 'long-enough', name => ''}, 'empty name'],
    [{email => 'a@b.c', password => 'long-enough', name => 'x' x 201}, 'name over 200 bytes'],
    [{email => 'a@b.c', password => 'long-enough', name => undef}, 'null name'],
    [{email => 'a@b.c', password => 'long-enough', name => ['x']}, 'name as an array'],
    [{email => 'a@b.c', password => 'long-enough', name => 'x', role => 'admin'},
        'unknown field (role)'],
    [{email => 'a@b.c', password => 'long-enough', name => 'x', id => 1}, 'unknown field (id)'],
);
for my $c (@bad_register) {
    is_problem($t->api(POST => $REG, json => $c->[0]), 400, 'invalid-request',
        "register: $c->[1] is 400");
}
for my $c (
    ['{"email":', 'truncated JSON'],
    ['{"email":"d@e.fg","email":"d@e.fg","password":"long-enough","name":"x"}', 'duplicate key'],
    ['', 'empty body'],
    ["{'email': 1}", 'single-quoted JSON'],
    ["{\"email\":\"a\@b.c\",\"password\":\"long-enough\",\"name\":\"\xff\xfe\"}", 'invalid UTF-8'],
    ['{"email":"a@b.c","password":"long-enough","name":"x"} trailing', 'trailing bytes'],
    ['{"email":"a@b.c\\u0000","password":"long-enough","name":"x"}', 'a NUL in the email'],
    ) {
    is_problem($t->api(POST => $REG, body => $c->[0], headers => $JSON_CT), 400,
        'malformed-json', "register: $c->[1] is 400 malformed-json");
}
for my $c (['["a@b.c"]', 'an array'], ['"a@b.c"', 'a string'], ['null', 'null'], ['42', 'a number']) {
    is_problem($t->api(POST => $REG, body => $c->[0], headers => $JSON_CT), 400, 'invalid-request',
        "register: $c->[1] as the body is 400");
}
is_problem($t->api(POST => $REG, body => 'email=a@b.c&password=long-enough&name=x',
    headers => {'Content-Type' => 'application/x-www-form-urlencoded'}), 415,
    'unsupported-media-type', 'register: a form body is 415');
is_problem($t->api(POST => $REG, body => '{"email":"a@b.c","password":"long-enough","name":"x"}'),
    415, 'unsupported-media-type', 'register: no Content-Type is 415');
is_problem($t->api(POST => $REG, headers => $JSON_CT,
    body => '{"email":"a@b.c","password":"long-enough","name":"' . ('x' x 20000) . '"}'),
    413, 'payload-too-large', 'register: a body over 16 KiB is 413');
is($t->sql1('SELECT count(*) FROM users'), 1, 'register: no rejected request created a user');

# Injection-shaped values are data.
my $bobby = "Robert'); DROP TABLE users; --";
$res = $t->api(POST => $REG,
    json => {email => "o'brien.$$\@example.test", password => "' OR '1'='1", name => $bobby});
is($res->{status}, 201, 'register: quotes in email, password and name are fine');
is($res->{json}{name}, $bobby, 'register: the name comes back verbatim');
my $obrien = $res->{json};
is($t->sql1('SELECT count(*) FROM users'), 2, 'register: the users table is intact');
is($t->api(POST => $LOGIN,
    json => {email => "O'Brien.$$\@example.test", password => "' OR '1'='1"})->{status}, 200,
    'login: a password with quotes works, email in any case');

# --- login ------------------------------------------------------------------
$res = $t->api(POST => $LOGIN, json => {email => $email, password => 'alice-password'});
is($res->{status}, 200, 'login: 200');
my $login = $res->{json};
is(join(',', $res->{body} =~ /^\{"(\w+)":.*?,"(\w+)":.*?,"(\w+)":\d+,"(\w+)":\{/),
    'token,token_type,expires_in,user', 'login: the monolith\'s members in order');
is($login->{token_type}, 'Bearer', 'login: token_type Bearer');
is($login->{expires_in}, 3600, 'login: expires_in is the default TTL');
is_deeply($login->{user}, $alice, 'login: the user is the registered one');
my @part = split /\./, $login->{token} // '';
is(scalar @part, 3, 'login: the token has three parts');
my $head = eval { Souk::Shop->decode_json(Souk::Shop::b64url_decode($part[0])) } || {};
my $claims = eval { Souk::Shop->decode_json(Souk::Shop::b64url_decode($part[1])) } || {};
is($head->{alg}, 'HS256', 'token: alg HS256');
ok(($part[1] ? Souk::Shop::b64url_decode($part[1]) : '') =~ /"sub":"$alice->{id}"/,
    'token: sub is the id as a string');
is($claims->{role}, 'customer', 'token: role');
is($claims->{iss}, 'souk', 'token: iss souk');
is(($claims->{exp} // 0) - ($claims->{iat} // 0), 3600, 'token: exp = iat + 1 h');
ok(abs(($claims->{iat} // 0) - time) < 60, 'token: iat is now');
my $token = $login->{token};

my $wrong = $t->api(POST => $LOGIN, json => {email => $email, password => 'wrong-password'});
is_problem($wrong, 401, 'login-failed', 'login: wrong password is 401 login-failed');
my $nobody = $t->api(POST => $LOGIN,
    json => {email => "nobody.$$\@example.test", password => 'alice-password'});
is_problem($nobody, 401, 'login-failed', 'login: unknown email is 401 login-failed');
is($nobody->{json}{detail}, $wrong->{json}{detail},
    'login: unknown email and wrong password read the same');
for my $c (
    [{email => "' OR 1=1 --", password => "' OR 1=1 --"}, 'an injection string'],
    [{email => "x\@y.z' OR '1'='1", password => 'x'}, 'injection after a plausible email'],
    [{email => "x\@y.z'; DROP TABLE users; --", password => 'x'}, 'DROP TABLE in the email'],
    [{email => 'not-an-email', password => 'alice-password'}, 'a string that is not an email'],
    ) {
    is_problem($t->api(POST => $LOGIN, json => $c->[0]), 401, 'login-failed',
        "login: $c->[1] is just a failed login");
}
for my $c (
    [{email => $email}, 'missing password'],
    [{password => 'alice-password'}, 'missing email'],
    [{email => $email, password => ''}, 'empty password'],
    [{email => $email, password => 'alice-password', remember => JSON::PP::true}, 'unknown field'],
    [{email => [$email], password => 'alice-password'}, 'email as an array'],
    [{email => $email, password => 42}, 'password as a number'],
    ) {
    is_problem($t->api(POST => $LOGIN, json => $c->[0]), 400, 'invalid-request',
        "login: $c->[1] is 400");
}
is_problem($t->api(POST => $LOGIN, body => "{'email': 1}", headers => $JSON_CT), 400,
    'malformed-json', 'login: single-quoted JSON is 400');
is_problem($t->api(POST => $LOGIN, headers => $JSON_CT,
    body => '{"email":"' . ('a' x 17000) . '","password":"x"}'), 413, 'payload-too-large',
    'login: a huge body is 413');
is($t->sql1('SELECT count(*) FROM users'), 2, 'login: the users table is intact');

# --- me and ownership ---------------------------------------------------------
$res = $t->api(GET => $ME, token => $token);
is($res->{status}, 200, 'me: 200');
is_deeply($res->{json}, $alice, 'me: the same user');

my $bob = $t->user(name => 'Bob');
$res = $t->api(GET => $ME, token => $bob->{token});
is($res->{json}{id}, $bob->{id}, 'ownership: bob\'s token shows bob');
isnt($res->{json}{id}, $alice->{id}, 'ownership: ... never alice');
$res = $t->api(GET => $ME, token => $bob->{token}, headers => {'X-User-Id' => $alice->{id}});
is($res->{json}{id}, $bob->{id}, 'ownership: a client-sent X-User-Id is ignored');
is_problem($t->api(GET => $ME, headers => {'X-User-Id' => $alice->{id}}), 401, 'unauthorized',
    'ownership: X-User-Id without a token is 401');
$res = $t->api(GET => "$ME?id=$alice->{id}&user_id=$alice->{id}", token => $bob->{token});
is($res->{json}{id}, $bob->{id}, 'ownership: query parameters do not pick the user');
for my $p ("/api/v1/accounts/$alice->{id}", "/api/v1/accounts/me/$alice->{id}",
    "/api/v1/users/$alice->{id}", "/api/v1/accounts/$alice->{id}/address") {
    is_problem($t->api(GET => $p, token => $bob->{token}), 404, 'not-found',
        "ownership: no endpoint takes a user id ($p)");
}

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
        Souk::Shop::b64url(Souk::Shop::b64url_decode($part[1]) =~ s/"sub":"\d+"/"sub":"$bob->{id}"/r),
        $part[2]),
    'expired' => 'Bearer ' . mint(sub => "$alice->{id}", iat => $now - 7200, exp => $now - 3600),
    'expired one second ago' => 'Bearer ' . mint(sub => "$alice->{id}", exp => $now - 1),
    'wrong secret' => 'Bearer ' . mint(sub => "$alice->{id}", secret => 'not-the-secret'),
    'alg none' => 'Bearer ' . join('.', Souk::Shop::b64url('{"alg":"none","typ":"JWT"}'),
        Souk::Shop::b64url(Souk::Shop->encode_json({sub => "$alice->{id}", role => 'customer',
            iat => $now, exp => $now + 600, iss => 'souk'})), ''),
    'alg HS512 header' => 'Bearer ' . mint(sub => "$alice->{id}",
        header => {alg => 'HS512', typ => 'JWT'}),
    'wrong issuer' => 'Bearer ' . mint(sub => "$alice->{id}", iss => 'evil'),
    'no exp' => 'Bearer ' . mint(sub => "$alice->{id}", exp => undef),
    'numeric sub' => 'Bearer ' . mint(sub => 0 + $alice->{id}),
    'non-numeric sub' => 'Bearer ' . mint(sub => 'alice'),
    'role superuser' => 'Bearer ' . mint(sub => "$alice->{id}", role => 'superuser'),
    'issued far in the future' => 'Bearer ' . mint(sub => "$alice->{id}",
        iat => $now + 86400, exp => $now + 90000),
);
for my $why (sort keys %bad) {
    my %h = defined $bad{$why} ? (headers => {Authorization => $bad{$why}}) : ();
    is_problem($t->api(GET => $ME, %h), 401, 'unauthorized', "me: $why is 401");
    is_problem($t->api(PUT => $ADDR, %h, json => {line1 => 'x', city => 'y',
        postal_code => 'z', country => 'PT'}), 401, 'unauthorized', "address: $why is 401");
}
$res = $t->api(GET => $ME, token => mint(sub => "$alice->{id}"));
is($res->{status}, 200, 'me: a token minted with the shared secret is accepted');
is($res->{json}{id}, $alice->{id}, 'me: ... for the user in sub');
is($t->api(GET => $ME, headers => {Authorization => "bearer $token"})->{status}, 200,
    'me: the scheme name is case-insensitive');
my $ghost = $t->api(GET => $ME, token => mint(sub => '999999999'));
is_problem($ghost, 404, 'not-found', 'me: a valid token for a user that does not exist is 404');
is($ghost->{json}{detail}, 'account not found', 'me: ... "account not found"');

# --- address ----------------------------------------------------------------
my $addr = {line1 => 'Rua Augusta 1', line2 => '2 Esq', city => 'Lisboa',
    postal_code => '1100-048', country => 'PT'};
$res = $t->api(PUT => $ADDR, token => $token, json => $addr);
is($res->{status}, 200, 'address: 200');
is_deeply($res->{json}, $addr, 'address: echoed');
is(join(',', $res->{body} =~ /"(\w+)":/g), 'line1,line2,city,postal_code,country',
    'address: members in the monolith\'s order');
is_deeply($t->api(GET => $ME, token => $token)->{json}{shipping_address}, $addr,
    'address: me shows it');
is($t->api(GET => $ME, token => $bob->{token})->{json}{shipping_address}, undef,
    'address: bob still has none');
my %no_line2 = (%$addr, city => "Porto'; --");
delete $no_line2{line2};
$res = $t->api(PUT => $ADDR, token => $token, json => \%no_line2);
is($res->{status}, 200, 'address: replace without line2');
is_deeply($t->api(GET => $ME, token => $token)->{json}{shipping_address},
    {%no_line2, line2 => ''}, 'address: replaced, line2 empty, quotes verbatim');
is($t->sql1("SELECT count(*) FROM addresses WHERE user_id = $alice->{id}"), 1,
    'address: still one row per user');
$res = $t->api(PUT => $ADDR, token => $token, json => {%$addr, line2 => undef});
is($res->{status}, 200, 'address: line2 may be null');
is($res->{json}{line2}, '', 'address: ... and reads back as ""');

for my $c (
    [{%$addr, country => 'pt'}, 'lower-case country'],
    [{%$addr, country => 'PRT'}, 'three-letter country'],
    [{%$addr, country => 'P1'}, 'country with a digit'],
    [{%$addr, country => "P\x{e9}"}, 'country with a non-ASCII letter'],
    [{%$addr, city => ''}, 'empty city'],
    [{%$addr, city => undef}, 'null city'],
    [{%$addr, postal_code => 1100}, 'postal_code as a number'],
    [{%$addr, postal_code => 'x' x 21}, 'postal_code over 20 bytes'],
    [{%$addr, line1 => 'x' x 201}, 'line1 over 200 bytes'],
    [{%$addr, line2 => 'x' x 201}, 'line2 over 200 bytes'],
    [{%$addr, line2 => 5}, 'line2 as a number'],
    [{%$addr, phone => '123'}, 'unknown field'],
    [{%$addr, user_id => $bob->{id}}, 'a user_id field'],
    [{line1 => 'x'}, 'missing fields'],
    [{}, 'an empty object'],
    ) {
    is_problem($t->api(PUT => $ADDR, token => $token, json => $c->[0]), 400, 'invalid-request',
        "address: $c->[1] is 400");
}
is_problem($t->api(PUT => $ADDR, token => $token, body => '[1,2]', headers => $JSON_CT), 400,
    'invalid-request', 'address: an array body is 400');
is_problem($t->api(PUT => $ADDR, token => $token, body => '{"line1":', headers => $JSON_CT), 400,
    'malformed-json', 'address: truncated JSON is 400');
is_problem($t->api(PUT => $ADDR, token => $token, headers => $JSON_CT,
    body => '{"line1":"' . ('x' x 17000) . '"}'), 413, 'payload-too-large',
    'address: a huge body is 413');
is_problem($t->api(PUT => $ADDR, json => $addr), 401, 'unauthorized', 'address: no token is 401');
my $gaddr = $t->api(PUT => $ADDR, token => mint(sub => '999999999'), json => $addr);
is_problem($gaddr, 404, 'not-found', 'address: a token for a missing user is 404');
is($gaddr->{json}{detail}, 'account not found', 'address: ... "account not found"');
is_deeply($t->api(GET => $ME, token => $token)->{json}{shipping_address},
    {%$addr, line2 => ''}, 'address: the failed writes changed nothing');

# --- roles ------------------------------------------------------------------
$t->sql("UPDATE users SET role = 'admin' WHERE id = $bob->{id}");
$res = $t->api(POST => $LOGIN, json => {email => $bob->{email}, password => $bob->{password}});
is($res->{json}{user}{role}, 'admin', 'roles: after promotion login says admin');
my $bc = Souk::Shop->decode_json(Souk::Shop::b64url_decode((split /\./, $res->{json}{token})[1]));
is($bc->{role}, 'admin', 'roles: ... and the token carries it');

# --- events -------------------------------------------------------------------
sub outbox {
    my ($type) = @_;
    return [map { {aggregate_id => $_->[0], env => JSON::PP::decode_json($_->[1])} }
        @{$t->sql("SELECT aggregate_id, envelope FROM outbox WHERE type = '$type' ORDER BY seq")}];
}
my $reg = outbox('user.registered');
is(scalar @$reg, 3, 'events: one user.registered per account, none for rejected requests');
is_deeply([map { $_->{aggregate_id} } @$reg], [$alice->{id}, $obrien->{id}, $bob->{id}],
    'events: aggregate_id is the user id');
is_deeply($reg->[0]{env}{payload}, {user_id => $alice->{id}, email => lc $email,
    name => 'Alice', role => 'customer', created_at => $alice->{created_at}},
    'events: user.registered payload');
is($reg->[0]{env}{type}, 'user.registered', 'events: envelope type');
is($reg->[0]{env}{version}, 1, 'events: envelope version');
is($reg->[0]{env}{aggregate_id}, $alice->{id}, 'events: envelope aggregate_id');
like($reg->[0]{env}{id}, qr/^[0-9a-f-]{36}$/, 'events: envelope id is a UUID');
my $chg = outbox('user.address_changed');
is(scalar @$chg, 3, 'events: one user.address_changed per successful write');
is_deeply([map { $_->{env}{payload}{version} } @$chg], [1, 2, 3],
    'events: address versions count the writes');
is_deeply($chg->[0]{env}{payload}, {user_id => $alice->{id}, address => $addr, version => 1},
    'events: user.address_changed payload');
is_deeply($chg->[1]{env}{payload}{address}, {%no_line2, line2 => ''},
    'events: the replaced address, line2 ""');
is_deeply([map { $_->{aggregate_id} } @$chg], [($alice->{id}) x 3],
    'events: aggregate_id is the user id');
my $deadline = Time::HiRes::time() + 30;
Time::HiRes::sleep(0.2)
    while $t->sql1('SELECT count(*) FROM outbox WHERE sent_at IS NULL') > 0
    && Time::HiRes::time() < $deadline;
is($t->sql1('SELECT count(*) FROM outbox WHERE sent_at IS NULL'), 0,
    'events: the relay published every row (broker confirmed)');
my $unrouted = -1;
$deadline = Time::HiRes::time() + 30;    # the broker's queue counts lag a little
while (Time::HiRes::time() < $deadline) {
    my ($rc, $out) = rabbitmqctl('-q', 'list_queues', '-p', $t->vhost, 'name', 'messages');
    ($unrouted) = $out =~ /^souk\.unrouted\s+(\d+)/m;
    last if ($unrouted // -1) >= 6;
    Time::HiRes::sleep(0.5);
}
is($unrouted, 6, 'events: with no consumer bound yet they wait in souk.unrouted');

# --- throttling -----------------------------------------------------------------
# Two more replicas with small limits, a short window and a slower Argon2id, sharing the
# database: failures counted by one are seen by the other. The window must outlast the longest
# sequence below (seven Argon2id logins from one address: over a second each on a loaded
# machine under ASan), or its count starts again midway.
my $WINDOW = 12;
my %lim = (SOUK_USERS_LOGIN_MAX_FAILURES => 3, SOUK_USERS_LOGIN_IP_MAX_FAILURES => 6,
    SOUK_USERS_LOGIN_WINDOW_S => $WINDOW, SOUK_ARGON2_OPS => 4, SOUK_ARGON2_MEM_KIB => 65536,
    SOUK_WORKERS => 2);
my @rep = ($t->replica(%lim), $t->replica(%lim));
my $n = 0;
my (@fail_secs, @thr_secs);    # seconds taken by 401s (one Argon2id each) and by 429s
sub attempt {
    my ($em, $pw, $ip) = @_;
    my $t0 = Time::HiRes::time();
    my $r = $t->api(POST => $LOGIN, svc => $rep[$n++ % 2], json => {email => $em, password => $pw},
        headers => {'X-Forwarded-For' => $ip});
    $r->{secs} = Time::HiRes::time() - $t0;
    push @{$r->{status} == 429 ? \@thr_secs : \@fail_secs}, $r->{secs} if $r->{status} != 200;
    return $r;
}

# Hashed at the replicas' cost; logged in from an address of its own.
my $carol = $t->user(name => 'Carol', svc => $rep[0], ip => '192.0.2.200');
for my $i (1 .. 3) {
    my $r = attempt($carol->{email}, 'wrong-password', '198.51.100.1');
    is_problem($r, 401, 'login-failed', "throttle: account failure $i of 3 is 401");
}
for my $c (['wrong-password', 'a 4th wrong password'], [$carol->{password}, 'even the right one']) {
    my $r = attempt($carol->{email}, $c->[0], '198.51.100.2');
    is_problem($r, 429, 'too-many-requests', "throttle: then $c->[1] is 429");
    like($r->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, 'throttle: ... with Retry-After');
    ok(($r->{headers}{'retry-after'} // 99) <= $WINDOW, 'throttle: ... within the window');
}
is($t->api(POST => $LOGIN, json => {email => $carol->{email}, password => $carol->{password}},
    svc => $rep[0], headers => {'X-Forwarded-For' => '198.51.100.3'})->{status}, 429,
    'throttle: the count is per account, whatever the address');

# An unknown email is throttled exactly like a known one.
my $ghost_email = $t->email('ghost');
my @g = map { attempt($ghost_email, 'wrong-password', '198.51.100.4') } 1 .. 4;
is_deeply([map { $_->{status} } @g], [401, 401, 401, 429],
    'throttle: an unknown email answers the same sequence');
ok(defined $g[3]{headers}{'retry-after'}, 'throttle: ... with Retry-After too');
is($t->sql1("SELECT count(*) FROM login_throttle WHERE key LIKE '%\@%'"), 0,
    'throttle: the table holds no emails');

# A success resets the account's count.
my $dave = $t->user(name => 'Dave', svc => $rep[1], ip => '192.0.2.201');
my @d = map { attempt($dave->{email}, 'wrong-password', '198.51.100.5')->{status} } 1 .. 2;
push @d, attempt($dave->{email}, $dave->{password}, '198.51.100.5')->{status};
push @d, map { attempt($dave->{email}, 'wrong-password', '198.51.100.6')->{status} } 1 .. 4;
is_deeply(\@d, [401, 401, 200, 401, 401, 401, 429],
    'throttle: a successful login resets the account count');

# Per client address: the last X-Forwarded-For hop (the one the gateway appended).
my @e = map { attempt($t->email('ip'), 'wrong-password', '203.0.113.7')->{status} } 1 .. 6;
is_deeply(\@e, [(401) x 6], 'throttle: six failures from one address, six accounts');
my $ip_thr = attempt($t->email('ip'), 'wrong-password', '203.0.113.7');
is_problem($ip_thr, 429, 'too-many-requests', 'throttle: the 7th from that address is 429');
ok(defined $ip_thr->{headers}{'retry-after'}, 'throttle: ... with Retry-After');
is(attempt($dave->{email}, $dave->{password}, '203.0.113.7')->{status}, 429,
    'throttle: ... even with a right password');
is(attempt($dave->{email}, $dave->{password}, '192.0.2.1, 203.0.113.7')->{status}, 429,
    'throttle: a client-sent first hop does not escape it');
is(attempt($t->email('ip'), 'wrong-password', '203.0.113.7, 192.0.2.9')->{status}, 401,
    'throttle: another last hop is another address');

# Cheap rejection: a 429 is answered without the Argon2id work every 401 does.
# Medians: a worker's first request also pays for its database connection.
my $med_fail = (sort { $a <=> $b } @fail_secs)[@fail_secs / 2];
my $med_thr = (sort { $a <=> $b } @thr_secs)[@thr_secs / 2];
ok(@thr_secs >= 5 && $med_thr < $med_fail / 2, 'throttle: a throttled attempt runs no Argon2id')
    or diag(sprintf('throttled %s vs failed %s', join(' ', map { sprintf '%.3f', $_ } @thr_secs),
        join(' ', map { sprintf '%.3f', $_ } @fail_secs)));

# After the window every count starts again.
Time::HiRes::sleep($WINDOW + 0.5);
is(attempt($carol->{email}, $carol->{password}, '203.0.113.7')->{status}, 200,
    'throttle: after the window the account and the address may log in');
is(attempt($ghost_email, 'wrong-password', '198.51.100.4')->{status}, 401,
    'throttle: after the window an unknown email is a plain failure again');

# --- routing ------------------------------------------------------------------
is_problem($t->api(GET => '/api/v1/nope'), 404, 'not-found', 'routing: unknown path is 404');
my $m405 = $t->api(DELETE => $ME, token => $token);
is_problem($m405, 405, 'method-not-allowed', 'routing: wrong method is 405');
like($m405->{headers}{allow} // '', qr/GET/, 'routing: 405 lists Allow');
is_problem($t->api(GET => $REG), 405, 'method-not-allowed', 'routing: GET register is 405');
is($t->api(GET => '/health')->{status}, 200, 'GET /health');
is($t->api(GET => '/ready')->{status}, 200, 'GET /ready');

$t->finish;
undef $t;
done_testing;
