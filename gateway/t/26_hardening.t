# gateway/t/26_hardening.t - holes an unlucky client or an operator mistake could open:
# writes are never sent to both sides (fallback and retries are for GET/HEAD/OPTIONS only);
# the gateway refuses to listen beyond loopback with the dev JWT secret or a short one; a
# canary rollback happens in memory even when the routes file cannot be written (reported on
# /events and /ready); /metrics is served on the admin listener only.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

use Souk::Test;
use Souk::FakeUpstream;
use Souk::Gateway;

my $JSON = JSON::PP->new->utf8->canonical;
sub fake { Souk::FakeUpstream->start(name => $_[0], reply => {json => {from => $_[0]}}, @_[1 .. $#_]) }

my $wl = fake('w-legacy');
my ($wn1, $wn2) = map {
    fake("w-new$_", paths => {'/w/slow' => {action => 'never'}, '/w/503' => {status => 503}})
} 1, 2;
# Reads get their own new servers: the writes above count against w-new's breakers.
my ($rd1, $rd2) = map { fake("rd-new$_", reply => {action => 'never'}) } 1, 2;
my ($rl, $rn) = (fake('rb-legacy'), fake('rb-new', reply => {status => 500, json => {error => 1}}));
my $other = fake('other');

my $dir = File::Temp->newdir('souk-gw-hard-XXXXXX', TMPDIR => 1);
my $file = "$dir/routes.json";
my $gw = Souk::Gateway->start(routes_file => $file, routes => table(
    upstreams => {'w-legacy' => pool($wl), 'w-new' => pool($wn1, $wn2), 'rb-legacy' => pool($rl),
        'rb-new' => pool($rn), 'rd-new' => pool($rd1, $rd2), other => pool($other)},
    routes => [
        route(name => 'w', path => '/w', legacy => 'w-legacy', new => 'w-new', mode => 'new',
            fallback => JSON_TRUE, retries => 1, timeout_ms => 300),
        route(name => 'rd', path => '/rd', legacy => 'w-legacy', new => 'rd-new', mode => 'new',
            fallback => JSON_TRUE, retries => 1, timeout_ms => 300),
        route(name => 'rb', path => '/rb', legacy => 'rb-legacy', new => 'rb-new', mode => 'canary',
            canary_percent => 100, rollback => {error_rate => 0.1, window_ms => 60000, min_requests => 5}),
        route(name => 'other', path => '/', legacy => 'other'),
    ]));
my $url = $gw->url;

# ---- 2. fallback and retries never split a write ----------------------------------------------

for my $case (
    ['DELETE', '/w/slow', "DELETE /w/slow/1 HTTP/1.1\r\nHost: x\r\n\r\n", 504],
    ['PUT', '/w/slow', "PUT /w/slow/1 HTTP/1.1\r\nHost: x\r\n\r\n", 504],
    ['PUT', '/w/slow', "PUT /w/slow/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 504],
    ['DELETE', '/w/503', "DELETE /w/503/1 HTTP/1.1\r\nHost: x\r\n\r\n", 503],
    ['PATCH', '/w/503', "PATCH /w/503/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 503],
) {
    my ($m, $path, $bytes, $want) = @$case;
    my ($lm, $m1, $m2) = ($wl->mark, $wn1->mark, $wn2->mark);
    my ($res) = raw_req($gw->port, $bytes, want => 1, timeout => 5);
    my $what = "$m $path" . ($bytes =~ /Content-Length: (\d+)/ ? " (Content-Length $1)" : ' (no body)');
    is($res->[0] && $res->[0]{status}, $want, "mode new with fallback: $what answers $want from new");
    is($wl->count(since => $lm), 0, "...and is never sent to legacy");
    is($wn1->count(since => $m1) + $wn2->count(since => $m2), 1, '...nor retried on new');
}
for my $m (qw(GET HEAD OPTIONS)) {
    my ($m1, $m2) = ($rd1->mark, $rd2->mark);
    my ($res) = raw_req($gw->port, "$m /rd/1 HTTP/1.1\r\nHost: x\r\n\r\n", want => 1,
        timeout => 5, head => $m eq 'HEAD');
    is_deeply([$res->[0] && $res->[0]{status}, $res->[0] && $res->[0]{headers}{'x-fake'}],
        [200, 'w-legacy'], "$m timing out on new falls back to legacy");
    is($rd1->count(since => $m1) + $rd2->count(since => $m2), 2, "...after a retry on new");
}

# ---- 5. /metrics on the admin listener only ----------------------------------------------------

{
    my $mark = $other->mark;
    my $r = http(GET => "$url/metrics");
    is_problem($r, 404, 'not-found', 'GET /metrics on the data listener: 404 problem');
    is($other->count(since => $mark), 0, '...answered by the gateway, not proxied');
    $r = http(GET => $gw->admin_url . '/metrics');
    is($r->{status}, 200, 'GET /metrics on the admin listener');
    like($r->{body}, qr/^souk_gateway_requests_total\{route="w"/m, '...with the route counters');
    is(http(GET => "$url/health")->{status}, 200, '/health stays on the data listener');
    is(http(GET => "$url/ready")->{status}, 200, '/ready too');
}

# ---- 4. a canary rollback the routes file cannot take -------------------------------------------

{
    # A directory where the temporary file goes: open() fails even for root.
    mkdir "$file.tmp" or die "mkdir $file.tmp: $!";
    my $before = do { local (@ARGV, $/) = $file; <> };
    my $n = 0;
    $n++ while http(GET => "$url/rb/x")->{headers}{'x-fake'} eq 'rb-new' && $n < 20;
    ok($n >= 5, "the new pool failed $n reads");
    # The failing answers ask for the rollback; the control loop makes it (install, the write
    # that fails here): 30 s, not 5, for a sanitizer build on a loaded machine.
    my $route = wait_until(sub { my $r = $gw->route_named('rb'); $r && $r->{mode} eq 'legacy' }, 30);
    ok($route, 'rollback: the route is back on legacy in memory');
    is(http(GET => "$url/rb/y")->{headers}{'x-fake'}, 'rb-legacy', '...and reads go to legacy');
    my $ev = $gw->admin(GET => '/events');
    like($ev->{body}, qr/"type":"rollback"/, '/events: the rollback');
    like($ev->{body}, qr/"type":"persist_failed"[^}]*\Q$file\E/, '/events: the routes file was not written');
    my $ready = http(GET => "$url/ready");
    is($ready->{status}, 200, '/ready: still serving');
    is($ready->{json} && $ready->{json}{status}, 'degraded', '/ready: degraded') or diag($ready->{body});
    like($ready->{json} && $ready->{json}{checks}{routes_file}, qr/not written/, '/ready: says why');
    is(do { local (@ARGV, $/) = $file; <> }, $before, 'the file still holds the old table');

    rmdir "$file.tmp" or die "rmdir: $!";
    my $p = $gw->admin(PATCH => '/routes/rb', {json => {mode => 'legacy'}});
    is($p->{status}, 200, 'a later change persists once the file can be written');
    like(do { local (@ARGV, $/) = $file; <> }, qr/"mode": "legacy"/, '...the file has the rollback');
    $ready = http(GET => "$url/ready");
    is($ready->{json} && $ready->{json}{status}, 'ready', '/ready: ready again') or diag($ready->{body});
}

# ---- 3. the dev JWT secret on a public listener ---------------------------------------------------

# Run souk-gateway with env; its exit status and stderr, or undef if it is still running
# after $secs (then stopped).
sub run_gateway {
    my (%env) = @_;
    my ($port, $aport) = (free_port(), free_port());
    my $err = File::Temp->new(TMPDIR => 1);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        delete $ENV{SOUK_JWT_SECRET};
        my %e = (SOUK_GATEWAY_LISTEN => "0.0.0.0:$port", SOUK_GATEWAY_ADMIN_LISTEN => "127.0.0.1:$aport",
            SOUK_GATEWAY_ROUTES => $file, SOUK_LOOPS => 1, %env);
        defined $e{$_} ? ($ENV{$_} = $e{$_}) : delete $ENV{$_} for keys %e;
        open STDERR, '>', $err->filename;
        open STDOUT, '>&', \*STDERR;
        exec(Souk::Test::repo_root() . '/' . ($ENV{SOUK_BUILD} || 'build') . '/bin/souk-gateway')
            or POSIX::_exit(127);
    }
    my $deadline = time + 5;
    while (time < $deadline) {
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            return ($? >> 8, do { local (@ARGV, $/) = $err->filename; <> });
        }
        sleep 0.05;
    }
    my $up = IO::Socket::INET->new("127.0.0.1:$port") ? 1 : 0;
    kill 'TERM', $pid;
    waitpid $pid, 0;
    return (undef, "still running after 5 s (listening: $up)");
}

for my $case (['the dev secret', undef], ['a 31-byte secret', 'x' x 31],
    ['the dev secret by name', 'souk-dev-secret-change-me']) {
    my ($rc, $err) = run_gateway(SOUK_JWT_SECRET => $case->[1]);
    ok(defined $rc && $rc != 0, "0.0.0.0 with $case->[0]: refuses to start") or diag($err);
    like($err // '', qr/SOUK_JWT_SECRET/, '...and says which setting') if defined $rc;
}
{
    my ($rc, $err) = run_gateway(SOUK_JWT_SECRET => 'k' x 32);
    ok(!defined $rc, '0.0.0.0 with a 32-byte secret: starts') or diag($err);
    ($rc, $err) = run_gateway(SOUK_JWT_SECRET => undef, SOUK_GATEWAY_LISTEN => '127.0.0.1:' . free_port());
    ok(!defined $rc, 'loopback with the dev secret: starts (make run)') or diag($err);
}

ok($gw->alive, 'the gateway is still running');
done_testing;
