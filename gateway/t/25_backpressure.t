# gateway/t/25_backpressure.t - a client that stops reading is its own problem, never the
# upstream's: while the gateway holds the upstream back for it (the sink's backpressure), the
# upstream's response timeout does not run, so no breaker failure and no canary failure is
# counted against a healthy server. The slow reader is bounded by its own (idle) timeout and
# only its connection is closed; everyone else keeps getting answers from the same server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use IO::Socket::INET ();
use JSON::PP ();
use Socket qw(SOL_SOCKET SO_RCVBUF inet_aton pack_sockaddr_in);
use Test::More;
use Time::HiRes qw(time sleep);

use Souk::Test;
use Souk::FakeUpstream;
use Souk::Gateway;

my $JSON = JSON::PP->new->utf8->canonical;
my $IDLE_MS = 4000;            # the slow readers' own bound
my $TIMEOUT_MS = 1000;         # the upstream's response (inactivity) timeout

# 8 MiB: more than the socket buffers on both sides hold
my $new = Souk::FakeUpstream->start(name => 'new', reply => {json => {from => 'new'}},
    paths => {'/big' => {body => 'x' x 1024, repeat => 8192, headers => ['Content-Type' => 'application/octet-stream']}});
my $legacy = Souk::FakeUpstream->start(name => 'legacy', reply => {json => {from => 'legacy'}});

my $gw = Souk::Gateway->start(env => {SOUK_GATEWAY_IDLE_TIMEOUT_MS => $IDLE_MS},
    routes => table(
        upstreams => {new => pool($new), legacy => pool($legacy)},
        routes => [
            # every read of this route goes to new; 5 % failures over 5 answers roll it back
            route(name => 'canary', path => '/big', legacy => 'legacy', new => 'new',
                mode => 'canary', canary_percent => 100, timeout_ms => $TIMEOUT_MS,
                rollback => {error_rate => 0.05, window_ms => 60000, min_requests => 5}),
            # the same server with no way around it: an open breaker would answer 503 here.
            # Its own timeout is longer: the fake upstream is one process, busy with the big
            # bodies, and under ASan a small answer can take over a second (seen in CI).
            route(name => 'plain', path => '/small', new => 'new', mode => 'new',
                timeout_ms => 5 * $TIMEOUT_MS),
        ]));
my $url = $gw->url;

sub breaker {
    my $ups = $gw->admin(GET => '/upstreams')->{json} // {};
    for my $p (@{$ups->{pools} || []}) {
        for my $s (@{$p->{servers} || []}) { return $s->{breaker} if $s->{address} eq $new->addr }
    }
    return {};
}

# A client with a tiny receive window that asks for the big body again and again and never
# reads a byte of it.
sub slow_reader {
    socket(my $s, Socket::PF_INET(), Socket::SOCK_STREAM(), 0) or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096) or die "SO_RCVBUF: $!";
    connect($s, pack_sockaddr_in($gw->port, inet_aton('127.0.0.1'))) or die "connect: $!";
    put($s, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n" x 4);
    return $s;
}

my $mark = $new->mark;
my @slow = map { slow_reader() } 1 .. 6;
ok(scalar(my @first = $new->wait_requests(6, since => $mark, path => '/big', timeout => 10)) >= 6,
    'every slow reader\'s first request reached the upstream');

# Well past the upstream timeout (5x), others keep being served by the same server.
my ($ok, $n, @bad) = (0, 0);
my $t0 = time;
while (time - $t0 < 5 * $TIMEOUT_MS / 1000) {
    for my $path ('/small/x', '/big') {
        next if $path eq '/big' && $n % 10;    # a big one now and then (read in full)
        my $r = http(GET => "$url$path", {timeout => 10});
        $n++;
        if ($r->{status} == 200 && ($r->{headers}{'x-fake'} // '') eq 'new') { $ok++ }
        else { push @bad, "$path: $r->{status} " . ($r->{headers}{'x-fake'} // '-') }
    }
    sleep 0.05;
}
is($ok, $n, "other clients got $n answers from the upstream, all 200") or diag(join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)]);

my $b = breaker();
is($b->{state}, 'closed', 'the breaker of the upstream stays closed') or diag($JSON->encode($b));
is($b->{trips} // -1, 0, '...and never tripped');
my $r = $gw->route_named('canary');
is($r && $r->{mode}, 'canary', 'no canary rollback');
unlike($gw->admin(GET => '/events')->{body}, qr/rollback/, '...and no rollback event');
my $st = $new->addr;
unlike(join("\n", grep { /"upstream":"\Q$st\E"/ && /"status":504/ } split /\n/, $gw->stderr_text),
    qr/504/, 'no request to the upstream ended as a timeout');

# The slow readers are closed by their own idle timeout, and only they are: a keep-alive
# client that keeps talking meanwhile stays connected.
my $keep = conn($gw->port);
my ($served, $asked) = (0, 0);
my $talk = sub {
    $asked++;
    put($keep, "GET /small/$asked HTTP/1.1\r\nHost: x\r\n\r\n");
    my ($res, $gone) = read_responses($keep, 1, 5);
    $served++ if !$gone && $res->[0] && $res->[0]{status} == 200;
};
my %open = map { ($_ => $slow[$_]) } 0 .. $#slow;
$_->blocking(0) for @slow;
my $deadline = time + $IDLE_MS / 1000 + 10;
while (%open && time < $deadline) {
    for my $i (keys %open) {    # drain what was buffered, then see the close
        my $got;
        1 while ($got = sysread($open{$i}, my $buf, 1 << 20));
        delete $open{$i} if (defined $got && $got == 0) || (!defined $got && $!{ECONNRESET});
    }
    $talk->();
    sleep 0.1;
}
is(scalar(keys %open), 0, 'every slow reader was closed by its own timeout');
$talk->();
is($served, $asked, "the other connection stayed open and was served ($asked requests)");

ok($gw->alive, "the gateway is still running");
diag(join "\n", grep { !/"status":200/ } split /\n/, $gw->stderr_text) if $ENV{GW_DEBUG};
done_testing;
