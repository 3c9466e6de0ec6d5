# souk-users' v2 sessions against a real PostgreSQL, RabbitMQ and Redis, black-box: sign in,
# list, refresh rotating the token and sliding the TTL (read in Redis), a reused token ending
# the session, signing out one session and every session, ownership, bad input as 4xx
# problems, concurrent refreshes of one token, expiry, the per-user cap, refresh reading the
# account's role and existence in PostgreSQL, Redis down, and the cookie through the gateway.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib",
    "$FindBin::Bin/../../../monolith/t/lib";
use Digest::SHA ();
use HTTP::Tiny ();
use POSIX ();
use JSON::PP ();
use Test::More;
use Time::HiRes ();
use Souk::Test;
use Souk::Gateway ();
use Souk::Users;

my $t = Souk::Users->start('sessions');
my $S = '/api/v2/sessions';
my $REFRESH = "$S/refresh";
my $TS = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
my $TOKEN = qr/^[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/;
my $TTL = 30 * 86400;
my $JSON = JSON::PP->new->utf8->canonical;
my $ip = 0;

# Each bad sign-in comes from an address of its own, so the login throttle (20 failures per
# address) never refuses the good ones that follow.
sub fresh_ip { sprintf('10.9.%d.%d', int(++$ip / 250), $ip % 250 + 1) }

sub signin {
    my ($u, %o) = @_;
    return $t->api(POST => $S, svc => $o{svc},
        json => {email => $u->{email}, password => $o{password} // $u->{password}},
        headers => {'User-Agent' => $o{ua} // 'souk-test/1', 'X-Forwarded-For' => fresh_ip()});
}

sub refresh {
    my ($token, %o) = @_;
    return $t->api(POST => $REFRESH, svc => $o{svc}, json => {refresh_token => $token});
}

sub claims { $JSON->decode(b64url_decode((split /\./, $_[0])[1])) }
sub cookie_of { my $c = $_[0]{headers}{'set-cookie'} // ''; ref $c ? join("\n", @$c) : $c }

my $alice = $t->user(name => 'Alice');
my $bob = $t->user(name => 'Bob');

# --- sign in ------------------------------------------------------------------------------
my $res = signin($alice, ua => 'Firefox/1');
is($res->{status}, 201, 'sign in: 201') or diag $res->{body};
my $s1 = $res->{json};
like($s1->{session}{id}, qr/^[0-9a-f]{32}$/, 'sign in: a session id');
like($s1->{session}{$_}, $TS, "sign in: session.$_ is RFC 3339") for qw(created_at expires_at);
like($s1->{refresh_token}, $TOKEN, 'sign in: a refresh token');
is(substr($s1->{refresh_token}, 0, 32), $s1->{session}{id}, 'sign in: ... that names its session');
is($s1->{token_type}, 'Bearer', 'sign in: token_type Bearer');
is($s1->{expires_in}, 900, 'sign in: the access token lives 900 s by default');
my $c = claims($s1->{access_token});
is_deeply([$c->{sub}, $c->{role}, $c->{iss}, $c->{sid}, $c->{exp} - $c->{iat}],
    ["$alice->{id}", 'customer', 'souk', $s1->{session}{id}, 900],
    'sign in: the access token has sub, role, iss, iat, exp and the session\'s sid');
like(cookie_of($res), qr/^souk_refresh=\Q$s1->{refresh_token}\E; Path=\/api\/v2\/sessions; Max-Age=$TTL; HttpOnly; SameSite=Strict$/,
    'sign in: the refresh token in an HttpOnly, SameSite=Strict cookie for the sessions path only');
is($res->{headers}{'cache-control'}, 'no-store', 'sign in: not cached');
$res = $t->api(GET => '/api/v1/accounts/me', token => $s1->{access_token});
is($res->{status} . ' ' . ($res->{json}{id} // ''), "200 $alice->{id}",
    'the access token opens the v1 account');

my $key1 = "users:sess:$s1->{session}{id}";
my %h = split /\n/, $t->redis_cmd('HGETALL', $key1), -1;
is($h{uid}, $alice->{id}, 'redis: the session names its user');
is($h{h}, Digest::SHA::sha256_hex($s1->{refresh_token}), 'redis: the token\'s SHA-256 is kept');
my $secret = (split /\./, $s1->{refresh_token})[1];
ok(!grep({ index($_, $secret) >= 0 } values %h), 'redis: the token itself is not');
my $ttl = $t->redis_cmd('TTL', $key1);
ok($ttl > $TTL - 60 && $ttl <= $TTL, "redis: the session lives SOUK_SESSION_TTL_S (TTL $ttl)");
is($t->redis_cmd('ZSCORE', "users:sessions:$alice->{id}", $s1->{session}{id}) > 0, 1,
    'redis: the session is in the user\'s index');

# v1 login answers as it did.
$res = $t->api(POST => '/api/v1/accounts/login',
    json => {email => $alice->{email}, password => $alice->{password}});
is(join(',', $res->{status}, sort keys %{$res->{json}}), '200,expires_in,token,token_type,user',
    'v1 login: unchanged');
ok(!exists claims($res->{json}{token})->{sid}, 'v1 login: its token names no session');

# Bad credentials: exactly v1's answer.
for my $case ([password => 'wrong password'], [email => 'nobody@example.test']) {
    my %body = (email => $alice->{email}, password => $alice->{password}, @$case);
    my $v2 = $t->api(POST => $S, json => \%body, headers => {'X-Forwarded-For' => fresh_ip()});
    my $v1 = $t->api(POST => '/api/v1/accounts/login', json => \%body,
        headers => {'X-Forwarded-For' => fresh_ip()});
    is_problem($v2, 401, 'login-failed', "sign in: $case->[0] wrong is 401 login-failed");
    is($v2->{json}{detail}, $v1->{json}{detail}, "sign in: ... with v1's detail");
    ok(!defined $v2->{headers}{'set-cookie'}, '... and no cookie');
}

# --- list ---------------------------------------------------------------------------------
my $s2 = signin($alice, ua => "Chrome/2\tx")->{json};
my $sb = signin($bob)->{json};
$res = $t->api(GET => $S, token => $s1->{access_token});
is($res->{status}, 200, 'list: 200');
my %by = map { ($_->{id} => $_) } @{$res->{json}{items}};
is_deeply([sort keys %by], [sort $s1->{session}{id}, $s2->{session}{id}],
    'list: alice\'s two sessions, not bob\'s');
is_deeply([map { $by{$_}{current} ? 1 : 0 } $s1->{session}{id}, $s2->{session}{id}], [1, 0],
    'list: current is the session of the access token');
like($by{$s1->{session}{id}}{$_}, $TS, "list: $_") for qw(created_at last_used_at expires_at);
is($by{$s1->{session}{id}}{user_agent}, 'Firefox/1', 'list: the user agent');
is($by{$s2->{session}{id}}{user_agent}, 'Chrome/2?x', 'list: a user agent\'s control bytes as ?');
$res = $t->api(GET => $S, token => $bob->{token});
is_deeply([map { $_->{id} } @{$res->{json}{items}}], [$sb->{session}{id}],
    'list: bob (with a v1 token) sees only his');
ok(!$res->{json}{items}[0]{current}, 'list: a v1 token is no session\'s');

# --- refresh rotates and slides -------------------------------------------------------------
is($t->redis_cmd('EXPIRE', $key1, 100), 1, 'redis: the session\'s TTL shortened to 100 s');
$res = refresh($s1->{refresh_token});
is($res->{status}, 200, 'refresh: 200') or diag $res->{body};
my $r1 = $res->{json};
is($r1->{session}{id}, $s1->{session}{id}, 'refresh: the same session');
like($r1->{refresh_token}, $TOKEN, 'refresh: a refresh token');
isnt($r1->{refresh_token}, $s1->{refresh_token}, 'refresh: ... a new one (rotated)');
is(claims($r1->{access_token})->{sid}, $s1->{session}{id}, 'refresh: a new access token, same sid');
like(cookie_of($res), qr/^souk_refresh=\Q$r1->{refresh_token}\E;/, 'refresh: the cookie too');
$ttl = $t->redis_cmd('TTL', $key1);
ok($ttl > $TTL - 60, "refresh: the TTL slid back to SOUK_SESSION_TTL_S (TTL $ttl)");
is($t->redis_cmd('HGET', $key1, 'h'), Digest::SHA::sha256_hex($r1->{refresh_token}),
    'redis: the new token\'s digest is current');

# The old token again: stolen or copied; the session ends.
is_problem(refresh($s1->{refresh_token}), 401, 'unauthorized', 'reuse: the rotated token is 401');
is($t->redis_cmd('EXISTS', $key1), 0, 'reuse: ... and the session is gone from Redis');
is_problem(refresh($r1->{refresh_token}), 401, 'unauthorized',
    'reuse: the newest token of that session is 401 too');
$res = $t->api(GET => $S, token => $s2->{access_token});
is_deeply([map { $_->{id} } @{$res->{json}{items}}], [$s2->{session}{id}],
    'reuse: the list shows the other session only');

# Refresh by cookie (a browser: no body).
$res = $t->api(POST => $REFRESH, cookie => "a=1; souk_refresh=$s2->{refresh_token}; b=2");
is($res->{status}, 200, 'cookie refresh: 200') or diag $res->{body};
my $r2 = $res->{json};
like(cookie_of($res), qr/^souk_refresh=\Q$r2->{refresh_token}\E;/, 'cookie refresh: a new cookie');
$res = $t->api(POST => $REFRESH, cookie => "souk_refresh=$s1->{refresh_token}");
is_problem($res, 401, 'unauthorized', 'cookie refresh: an ended session is 401');
like(cookie_of($res), qr/^souk_refresh=; .*Max-Age=0/, '... and the cookie is cleared');

# A browser whose access token has expired still sends it; refresh does not look at it.
$res = $t->api(POST => $REFRESH, cookie => "souk_refresh=$r2->{refresh_token}",
    token => jwt_mint(sub => "$alice->{id}", iat => time - 7200, exp => time - 3600,
        secret => $Souk::Users::SECRET));
is($res->{status}, 200, 'refresh: an expired access token beside it does not matter')
    or diag $res->{body};
$r2 = $res->{json};

# --- sign out one ---------------------------------------------------------------------------
my $s3 = signin($alice)->{json};
my $s4 = signin($alice)->{json};
is_problem($t->api(DELETE => "$S/$s3->{session}{id}", token => $bob->{token}), 404, 'not-found',
    'sign out: bob cannot end alice\'s session (404)');
is(refresh($s3->{refresh_token})->{status}, 200, '... which still refreshes');
$s3 = signin($alice)->{json};
$res = $t->api(DELETE => "$S/$s3->{session}{id}", token => $s4->{access_token});
is($res->{status}, 204, 'sign out: alice ends one of her sessions (204)');
is($res->{body} // '', '', 'sign out: no body');
ok(!defined $res->{headers}{'set-cookie'}, 'sign out: another session\'s cookie is left alone');
is_problem(refresh($s3->{refresh_token}), 401, 'unauthorized', 'sign out: its refresh is 401');
is_problem($t->api(DELETE => "$S/$s3->{session}{id}", token => $s4->{access_token}), 404,
    'not-found', 'sign out: twice is 404');
$res = refresh($s4->{refresh_token});
is($res->{status}, 200, 'sign out: her other sessions still refresh');
$s4 = $res->{json};
$res = $t->api(DELETE => "$S/$s4->{session}{id}", token => $s4->{access_token});
like(cookie_of($res), qr/^souk_refresh=; .*Max-Age=0/, 'sign out of the current session clears the cookie');

# --- sign out everywhere --------------------------------------------------------------------
my @mine = map { signin($alice)->{json} } 1 .. 3;
$res = $t->api(DELETE => $S, token => $mine[0]{access_token});
is($res->{status}, 204, 'sign out everywhere: 204');
like(cookie_of($res), qr/^souk_refresh=; .*Max-Age=0/, 'sign out everywhere: the cookie cleared');
is(join(',', map { refresh($_->{refresh_token})->{status} } @mine, $r2), '401,401,401,401',
    'sign out everywhere: no session of hers refreshes');
is_deeply($t->api(GET => $S, token => $mine[0]{access_token})->{json}{items}, [],
    'sign out everywhere: the list is empty');
is($t->redis_cmd('EXISTS', "users:sessions:$alice->{id}"), 0, '... and her index is gone');
is(refresh($sb->{refresh_token})->{status}, 200, 'sign out everywhere: bob is still signed in');
is($t->api(GET => '/api/v1/accounts/me', token => $mine[0]{access_token})->{status}, 200,
    'an access token outlives its session until exp (stateless by design)');

# --- bad input ----------------------------------------------------------------------------
my $JSONH = {'Content-Type' => 'application/json'};
my @bad_signin = (
    [{password => 'x'}, 400, 'invalid-request', 'missing email'],
    [{email => $alice->{email}}, 400, 'invalid-request', 'missing password'],
    [{email => 1, password => 'x'}, 400, 'invalid-request', 'email as a number'],
    [{email => $alice->{email}, password => ['x']}, 400, 'invalid-request', 'password as an array'],
    [{email => $alice->{email}, password => 'x', sid => 'y'}, 400, 'invalid-request', 'unknown field'],
    [{email => "x\@y.z' OR '1'='1", password => 'x'}, 401, 'login-failed', 'sql injection'],
    [{email => "<script>\@x.de", password => "\$ne"}, 401, 'login-failed', 'markup'],
);
for my $b (@bad_signin) {
    is_problem($t->api(POST => $S, json => $b->[0], headers => {'X-Forwarded-For' => fresh_ip()}),
        $b->[1], $b->[2], "sign in: $b->[3] is $b->[1]");
}
for my $b (['{"email":', 400, 'malformed-json', 'malformed JSON'],
    ['[]', 400, 'invalid-request', 'an array'],
    ['{"email":"a@b.c","email":"d@e.f","password":"x"}', 400, 'malformed-json', 'duplicate keys'],
    ['{"email":"' . ('a' x 20000) . '@b.c","password":"x"}', 413, 'payload-too-large', 'a huge body'])
{
    is_problem($t->api(POST => $S, body => $b->[0], headers => $JSONH), $b->[1], $b->[2],
        "sign in: $b->[3] is $b->[1]");
    is_problem($t->api(POST => $REFRESH, body => $b->[0], headers => $JSONH), $b->[1], $b->[2],
        "refresh: $b->[3] is $b->[1]");
}
is_problem($t->api(POST => $S, body => 'email=a', headers => {'Content-Type' => 'text/plain'}),
    415, 'unsupported-media-type', 'sign in: not JSON is 415');
my $sid_b = $sb->{session}{id};
for my $tok ('garbage', "$sid_b.", "$sid_b." . ('A' x 43), "$sid_b." . ('A' x 44),
    uc($sid_b) . '.' . ('A' x 43), "' OR 1=1 --", "$sid_b.\$ne", ('x' x 512), "../../$sid_b")
{
    is_problem(refresh($tok), 401, 'unauthorized', 'refresh: garbage token ' . substr($tok, 0, 20)
        . ' is 401');
}
is_problem($t->api(POST => $REFRESH), 401, 'unauthorized', 'refresh: no token at all is 401');
is_problem($t->api(POST => $REFRESH, json => {}), 401, 'unauthorized', 'refresh: {} is 401');
is_problem($t->api(POST => $REFRESH, json => {refresh_token => 42}), 400, 'invalid-request',
    'refresh: a number is 400');
is_problem($t->api(POST => $REFRESH, json => {refresh_token => 'x' x 513}), 400, 'invalid-request',
    'refresh: a token over 512 bytes is 400');
is_problem($t->api(POST => $REFRESH, json => {refresh => 'x'}), 400, 'invalid-request',
    'refresh: an unknown field is 400');
is_problem($t->api(POST => $REFRESH, cookie => 'souk_refresh=garbage'), 401, 'unauthorized',
    'refresh: a garbage cookie is 401');
for my $id ('987654321', '%27%20OR%201%3D1', '..%2f..%2fx', 'x' x 200, uc $sid_b) {
    is_problem($t->api(DELETE => "$S/$id", token => $bob->{token}), 404, 'not-found',
        "sign out: id " . substr($id, 0, 16) . ' is 404');
}
is_problem($t->api(GET => $S), 401, 'unauthorized', 'list: no token is 401');
is_problem($t->api(DELETE => $S), 401, 'unauthorized', 'sign out everywhere: no token is 401');
is_problem($t->api(GET => $S, token => 'x.y.z'), 401, 'unauthorized', 'list: a bad token is 401');
is_problem($t->api(GET => $S, token => jwt_mint(sub => "$bob->{id}", sid => 'a b',
    secret => $Souk::Users::SECRET)), 401, 'unauthorized', 'list: a token whose sid is odd is 401');
is_problem($t->api(GET => $S, token => jwt_mint(sub => "$bob->{id}",
    secret => 'another-secret-0123456789abcdef')), 401, 'unauthorized',
    'list: a token signed with another secret is 401');

# --- concurrent refreshes of one token ---------------------------------------------------
# N processes wait on one pipe; closing it starts them together.
sub race {
    my ($token, $n, $svc) = @_;
    my $base = $svc ? $svc->url : $t->url;
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    my @kids;
    for (1 .. $n) {
        pipe(my $out_r, my $out_w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $go_w;
            close $out_r;
            my $ua = HTTP::Tiny->new(timeout => 10);
            $ua->head("$base/health");    # connected before the start
            sysread $go_r, my $x, 1;
            my $r = $ua->post("$base$REFRESH", {headers => {'Content-Type' => 'application/json'},
                content => $JSON->encode({refresh_token => $token})});
            print $out_w "$r->{status} $r->{content}\n";
            close $out_w;
            POSIX::_exit(0);
        }
        close $out_w;
        push @kids, [$pid, $out_r];
    }
    close $go_r;
    Time::HiRes::sleep(0.2);
    close $go_w;
    my @got;
    for my $k (@kids) {
        my $fh = $k->[1];
        my $line = <$fh> // '';
        waitpid $k->[0], 0;
        push @got, $line;
    }
    return @got;
}

my $sr = signin($bob)->{json};
my @got = race($sr->{refresh_token}, 10);
my @won = grep {/^200 /} @got;
is(scalar @won, 1, 'race: 10 refreshes of one token, exactly one 200') or diag explain \@got;
is(scalar(grep {/^401 /} @got), 9, 'race: ... the other nine 401');
my ($won) = map { $JSON->decode(substr($_, 4)) } @won;
is(refresh($won->{refresh_token})->{status}, 401,
    'race: without a grace period the losers\' reuse ended the session');

is(metric_value($t->svc, 'souk_users_session_events_total{event="reused"}'), 2,
    'metrics: two reuses counted (the stolen token above, the race)');
my $graced = $t->replica(SOUK_SESSION_REUSE_GRACE_S => 30);
$sr = signin($bob, svc => $graced)->{json};
@got = race($sr->{refresh_token}, 10, $graced);
@won = grep {/^200 /} @got;
is(scalar @won, 1, 'race with a grace period: exactly one 200') or diag explain \@got;
($won) = map { $JSON->decode(substr($_, 4)) } @won;
like(join('', grep {/^401 /} @got), qr/already used/, 'race with a grace period: the others 401');
is(refresh($won->{refresh_token}, svc => $graced)->{status}, 200,
    'race with a grace period: the winner\'s token still refreshes');
is(metric_value($graced, 'souk_users_session_events_total{event="raced"}'), 9,
    'metrics: nine raced refreshes counted');

# --- expiry and the cap ---------------------------------------------------------------------
my $capped = $t->replica(SOUK_SESSION_MAX_PER_USER => 2);
my $carol = $t->user(name => 'Carol');
my @cs = map { signin($carol, svc => $capped)->{json} } 1 .. 3;
is_problem(refresh($cs[0]{refresh_token}, svc => $capped), 401, 'unauthorized',
    'cap: a third session ends the first (SOUK_SESSION_MAX_PER_USER=2)');
is($t->redis_cmd('EXISTS', "users:sess:$cs[0]{session}{id}"), 0, 'cap: ... gone from Redis');
is(scalar @{$t->api(GET => $S, token => $cs[2]{access_token}, svc => $capped)->{json}{items}}, 2,
    'cap: two sessions listed');

my $short = $t->replica(SOUK_SESSION_TTL_S => 2);
my $se = signin($carol, svc => $short)->{json};
like($se->{session}{expires_at}, $TS, 'expiry: a 2 s session');
ok(wait_until('the 2 s session to end', sub {
    $t->redis_cmd('EXISTS', "users:sess:$se->{session}{id}") eq '0' }, 30),
    'expiry: Redis drops a session SOUK_SESSION_TTL_S after its last use');
is_problem(refresh($se->{refresh_token}, svc => $short), 401, 'unauthorized',
    'expiry: its refresh is 401');
ok(!grep({ $_->{id} eq $se->{session}{id} }
    @{$t->api(GET => $S, token => $se->{access_token}, svc => $short)->{json}{items}}),
    'expiry: the list does not show it');

# --- the gateway passes the cookie both ways ---------------------------------------------
{
    my $gw = Souk::Gateway->start(env => {SOUK_JWT_SECRET => $Souk::Users::SECRET},
        routes => Souk::Gateway::table(
            upstreams => {users => Souk::Gateway::pool('127.0.0.1:' . $t->svc->port)},
            routes => [Souk::Gateway::route(name => 'sessions_v2', path => $S, new => 'users',
                mode => 'new', auth => 'public')]));
    my $res = http(POST => $gw->url . $S,
        {json => {email => $bob->{email}, password => $bob->{password}}});
    is($res->{status}, 201, 'gateway: sign in through the gateway');
    like(cookie_of($res), qr/^souk_refresh=\Q$res->{json}{refresh_token}\E;/,
        'gateway: Set-Cookie comes through');
    my $r = http(POST => $gw->url . $REFRESH,
        {headers => {Cookie => "souk_refresh=$res->{json}{refresh_token}"}});
    is($r->{status}, 200, 'gateway: Cookie goes through (refresh by cookie)') or diag $r->{body};
    $r = http(GET => $gw->url . $S, {headers => {Authorization => "Bearer $r->{json}{access_token}"}});
    is($r->{status}, 200, 'gateway: the bearer token reaches the list');
    $gw->stop;
}

# --- refresh reads the account in PostgreSQL ----------------------------------------------
# The role and the account's existence come from the users database at every refresh, not
# from the session: a demoted admin's next token says so, a deleted account's sessions end.
{
    my $carol = $t->user(name => 'Carol');
    my $sc = signin($carol)->{json};
    my $sc2 = signin($carol)->{json};
    is(claims($sc->{access_token})->{role}, 'customer', 'account: signed in as customer');
    $t->sql("UPDATE users SET role = 'admin' WHERE id = $carol->{id}");
    my $res = refresh($sc->{refresh_token});
    is($res->{status}, 200, 'account: refresh after a role change is 200') or diag $res->{body};
    is(claims($res->{json}{access_token})->{role}, 'admin',
        'account: ... and the new token carries the role now in the database');
    $t->sql("UPDATE users SET role = 'customer' WHERE id = $carol->{id}");
    $res = refresh($res->{json}{refresh_token});
    is(claims($res->{json}{access_token} // '.e30.')->{role}, 'customer',
        'account: demoted back, the next refresh says customer');
    $t->sql("DELETE FROM users WHERE id = $carol->{id}");
    is_problem(refresh($res->{json}{refresh_token}), 401, 'unauthorized',
        'account: the user deleted, refresh is 401');
    is($t->redis_cmd('EXISTS', "users:sess:$sc->{session}{id}"), 0,
        'account: ... and the session is gone from Redis');
    is($t->redis_cmd('EXISTS', "users:sess:$sc2->{session}{id}"), 0,
        'account: ... and so is the user\'s other session');
    is_problem(refresh($sc2->{refresh_token}), 401, 'unauthorized',
        'account: the other session\'s token is 401 too');
}

# --- Redis down ---------------------------------------------------------------------------
{
    my $redis = redis_start();
    my $u = spawn_service('users', SOUK_USERS_DB => $t->db->{dsn}, SOUK_AMQP_URL => $t->{amqp},
        SOUK_REDIS_URL => $redis->url, Souk::Users::_env());
    my $base = $u->url;
    is(signin($bob, svc => $u)->{status}, 201, 'redis down: (up first)');
    $redis->stop;
    is_problem(http(GET => "$base/ready"), 503, 'unavailable', 'redis down: /ready is 503');
    is_problem(http(POST => "$base$S", {json => {email => $bob->{email},
        password => $bob->{password}}}), 503, 'unavailable', 'redis down: sign in is 503, not 500');
    is(http(POST => "$base/api/v1/accounts/login", {json => {email => $bob->{email},
        password => $bob->{password}}})->{status}, 200, 'redis down: v1 login still works');
    $redis->start;
    # users reconnects to Redis on its own schedule: 30 s for a sanitizer build on a loaded machine
    ok(wait_until('ready again', sub { http(GET => "$base/ready")->{status} == 200 }, 30),
        'redis back: /ready is 200 again');
    is(signin($bob, svc => $u)->{status}, 201, 'redis back: sign in works');
    $u->stop;
    no_failures([], [$u], name => 'redis down', expected => qr/redis/);
}

$t->finish;
done_testing;
