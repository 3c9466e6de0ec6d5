# gateway/t/23_auth_ratelimit.t - edge concerns: JWT per route policy (DESIGN.md §6) with
# 401/403 problem+json and nothing reaching the upstream; client-sent X-User-* stripped;
# X-User-Id / X-User-Role from a valid token; token-bucket rate limits per client IP and
# per user, per route, with 429 and Retry-After.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use HTTP::Tiny ();
use JSON::PP ();
use MIME::Base64 qw(encode_base64url);
use Test::More;
use Time::HiRes qw(time sleep);

use Souk::Test;
use Souk::FakeUpstream;
use Souk::Gateway;

my $up = Souk::FakeUpstream->start(name => 'up', reply => {json => {ok => 1}});
my $gw = Souk::Gateway->start(routes => table(
    upstreams => {up => pool($up)},
    routes => [
        route(name => 'pub', path => '/pub', legacy => 'up'),
        route(name => 'user', path => '/user', legacy => 'up', auth => 'user'),
        route(name => 'admin', path => '/admin', legacy => 'up', auth => 'admin'),
        # A token every 4 s: the checks that a bucket is still empty a moment after its burst
        # hold on a loaded machine too (at 1 s a slow moment refilled it in between).
        route(name => 'rl_ip', path => '/rl/ip', legacy => 'up',
            rate_limit => {ip => {rate => 0.25, burst => 5}}),
        route(name => 'rl_user', path => '/rl/user', legacy => 'up', auth => 'user',
            rate_limit => {user => {rate => 0.25, burst => 5}}),
    ]));
my $url = $gw->url;

sub get { http(GET => "$url$_[0]", {headers => $_[1] // {}}) }
sub bearer { {Authorization => "Bearer $_[0]"} }

my $now = time;
my %claims = (sub => '42', role => 'customer', iat => int($now) - 5, exp => int($now) + 3600, iss => 'souk');
my $good = token(42, 'customer');
(my $tampered = $good) =~ s/\.([^.]{5})([^.]*)$/'.' . ($1 eq 'AAAAA' ? 'BBBBB' : 'AAAAA') . $2/e;
my %bad = (
    'no token' => {},
    'a malformed token' => bearer('not-a-jwt'),
    'an empty bearer' => {Authorization => 'Bearer '},
    'another scheme' => {Authorization => "Basic $good"},
    'a forged signature' => bearer($tampered),
    'a token signed with the wrong secret' => bearer(jwt({%claims}, secret => 'not-the-secret')),
    'an expired token' => bearer(jwt({%claims, iat => int($now) - 7200, exp => int($now) - 60})),
    'alg none' => bearer(jwt({%claims}, header => {alg => 'none', typ => 'JWT'}, sig => '')),
    'alg none with a signature' => bearer(jwt({%claims}, header => {alg => 'none', typ => 'JWT'})),
    'alg HS512' => bearer(jwt({%claims}, header => {alg => 'HS512', typ => 'JWT'})),
    'a payload changed after signing' => bearer(do {
        my ($h, undef, $s) = split /\./, $good;
        join '.', $h, encode_base64url(JSON::PP->new->canonical->encode({%claims, role => 'admin'})), $s;
    }),
    'a wrong issuer' => bearer(jwt({%claims, iss => 'evil'})),
    'no exp' => bearer(jwt({map { ($_ => $claims{$_}) } grep { $_ ne 'exp' } keys %claims})),
    'issued in the future' => bearer(jwt({%claims, iat => int($now) + 3600, exp => int($now) + 7200})),
);

# ---- rejections ------------------------------------------------------------------------------

{
    my $mark = $up->mark;
    for my $what (sort keys %bad) {
        is_problem(get('/user/x', $bad{$what}), 401, 'unauthorized', "auth user: $what is 401");
    }
    is_problem(get('/admin/x', $bad{'no token'}), 401, 'unauthorized', 'auth admin: no token is 401');
    is_problem(get('/admin/x', $bad{'alg none'}), 401, 'unauthorized', 'auth admin: alg none is 401');
    is_problem(get('/admin/x', bearer($good)), 403, 'forbidden', 'auth admin: a customer is 403');
    is($up->count(since => $mark), 0, 'no rejected request reached the upstream');

    # A public route serves anonymous callers: a bad token there is no identity, not a 401.
    for my $what ('an expired token', 'a forged signature', 'alg none') {
        $mark = $up->mark;
        is(get('/pub/x', $bad{$what})->{status}, 200, "auth public: $what passes as anonymous");
        my ($got) = $up->requests(since => $mark);
        ok($got && !(grep { /^x-user-/ } keys %{$got->{headers}}), "auth public: $what forwards no identity");
    }
}

# ---- identity headers ----------------------------------------------------------------------------

{
    my $spoof = {'X-User-Id' => '999', 'X-User-Role' => 'admin', 'x-user-email' => 'root@x',
        'X-USER-NAME' => 'root'};
    my $mark = $up->mark;
    is(get('/pub/x', $spoof)->{status}, 200, 'public route with spoofed X-User-* headers');
    my ($got) = $up->requests(since => $mark);
    is_deeply([grep { /^x-user-/ } sort keys %{$got ? $got->{headers} : {x => 1}}], [],
        'client-sent X-User-* headers never reach the upstream');

    $mark = $up->mark;
    my $r = get('/user/x', {%$spoof, %{bearer($good)}});
    is($r->{status}, 200, 'auth user with a valid token');
    ($got) = $up->requests(since => $mark);
    is_deeply([map { $_->[1] } grep { lc $_->[0] eq 'x-user-id' } @{$got ? $got->{hlist} : []}], ['42'],
        'exactly one X-User-Id, from the token');
    is($got && $got->{headers}{'x-user-role'}, 'customer', 'X-User-Role from the token');
    ok($got && !(grep { /^x-user-(?!id$|role$)/ } keys %{$got->{headers}}), 'no other X-User-* header');
    is($got && $got->{headers}{authorization}, "Bearer $good",
        'Authorization is passed on (every service verifies the token itself)');

    my $admin = token(7, 'admin');
    $mark = $up->mark;
    is(get('/admin/x', bearer($admin))->{status}, 200, 'auth admin with an admin token');
    ($got) = $up->requests(since => $mark);
    is_deeply([$got && $got->{headers}{'x-user-id'}, $got && $got->{headers}{'x-user-role'}], ['7', 'admin'],
        'the admin identity is forwarded');

    $mark = $up->mark;
    get('/pub/x', {%$spoof, %{bearer($good)}});
    ($got) = $up->requests(since => $mark);
    ok($got && ($got->{headers}{'x-user-id'} // '42') eq '42',
        'a public route never forwards a client-chosen X-User-Id');
}

# ---- rate limits -----------------------------------------------------------------------------------

sub burst {
    my ($n, $path, $h, %o) = @_;
    my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 5, ($o{local} ? (local_address => $o{local}) : ()));
    return [map { $ua->get("$url$path", {headers => $h // {}}) } 1 .. $n];
}

{
    my $mark = $up->mark;
    my $res = burst(8, '/rl/ip/x');
    my @st = map { $_->{status} } @$res;
    my $ok = grep { $_ == 200 } @st;
    ok($ok >= 5 && $ok <= 6, "per IP: the burst (5) passes ($ok of 8)") or diag("@st");
    is_deeply([@st[0 .. 4]], [(200) x 5], 'the first five are 200');
    is($st[-1], 429, 'then 429');
    my ($limited) = grep { $_->{status} == 429 } @$res;
    if ($limited) {
        my $ct = $limited->{headers}{'content-type'} // '';
        my $j = eval { JSON::PP->new->decode($limited->{content}) };
        is_problem({status => 429, headers => $limited->{headers}, body => $limited->{content}, json => $j},
            429, 'too-many-requests', '429 is a problem');
        like($limited->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, 'with Retry-After in seconds');
    } else {
        fail('no 429 to inspect') for 1 .. 2;
    }
    is($up->count(since => $mark), $ok, 'limited requests never reach the upstream');

    is(get('/rl/ip/x', {'X-Forwarded-For' => '198.51.100.7'})->{status}, 429,
        'a client X-Forwarded-For does not buy a new bucket');
    is(get('/pub/x')->{status}, 200, 'other routes are not limited');
    my $other = burst(3, '/rl/ip/x', {}, local => '127.0.0.2');
    is_deeply([map { $_->{status} } @$other], [200, 200, 200], 'another client address has its own bucket');

    sleep 4.3;
    is(get('/rl/ip/x')->{status}, 200, 'a token comes back after 1/rate seconds');
}

{
    my $u1 = bearer(token(101, 'customer'));
    my $u2 = bearer(token(102, 'customer'));
    my @st = map { $_->{status} } @{burst(8, '/rl/user/x', $u1)};
    my $ok = grep { $_ == 200 } @st;
    ok($ok >= 5 && $ok <= 6 && $st[-1] == 429, "per user: burst then 429 ($ok of 8 passed)") or diag("@st");
    is_deeply([map { $_->{status} } @{burst(3, '/rl/user/x', $u2)}], [200, 200, 200],
        'another user from the same address has its own bucket');
    my $r = get('/rl/user/x', $u1);
    is($r->{status}, 429, 'the first user is still limited');
    like($r->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, 'with Retry-After');
}

ok($gw->alive, 'the gateway is still running');
done_testing;
