# gateway/t/22_shadow_canary.t - the strangler modes (DESIGN.md §5). Shadow: the client gets
# the legacy answer unchanged and without added latency; reads are mirrored to the new pool
# and compared as normalised JSON (key order ignored, ignore pointers, status, headers);
# mismatches are counted with both bodies; writes are not mirrored; bounded in-flight
# mirrors are dropped and counted. Canary: the split over many users, stickiness by user
# and by cookie, writes on legacy, automatic rollback visible in /routes and /events.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use JSON::PP ();
use Test::More;
use Time::HiRes qw(time sleep);

use Souk::Test;
use Souk::FakeUpstream;
use Souk::Gateway;

my $JSON = JSON::PP->new->utf8->canonical;
sub fake { Souk::FakeUpstream->start(name => $_[0], reply => {json => {side => $_[0]}}) }

my ($L, $N) = (fake('legacy'), fake('new'));
my ($CL, $CN) = (fake('c-legacy'), fake('c-new'));
my ($RL, $RN) = (fake('rb-legacy'), fake('rb-new'));
my ($FL, $FN) = (fake('fb-legacy'), fake('fb-new'));

my $LEGACY_EQ = '{ "id": 1, "name": "a", "price": 10 }';    # not canonical on purpose
$L->set(paths => {
    '/sh/eq' => {body => $LEGACY_EQ, headers => ['Content-Type' => 'application/json', 'X-Legacy' => 'yes']},
    '/sh/diff' => {json => {id => 2, price => 10}},
    '/sh/status' => {json => {id => 3}},
    '/sh/ign/ok' => {json => {request_id => 'aaa', items => [{id => 1, created_at => 't1'}, {id => 2, created_at => 't2'}]}},
    '/sh/ign/bad' => {json => {request_id => 'aaa', items => [{id => 1, created_at => 't1'}]}},
    '/sh/slow' => {json => {ok => 1}},
    '/sh/write' => {status => 201, json => {ok => 1}},
});
$N->set(paths => {
    '/sh/eq' => {json => {price => 10, name => 'a', id => 1}},
    '/sh/diff' => {json => {id => 2, price => 11}},
    '/sh/status' => {status => 404, json => {id => 3}},
    '/sh/ign/ok' => {json => {request_id => 'bbb', items => [{id => 1, created_at => 'x1'}, {id => 2, created_at => 'x2'}]}},
    '/sh/ign/bad' => {json => {request_id => 'bbb', items => [{id => 9, created_at => 'x1'}]}},
    '/sh/slow' => {delay_ms => 2000, json => {ok => 1}},
    '/sh/write' => {status => 201, json => {ok => 1}},
});
$RN->set(reply => {status => 500, json => {error => 'broken'}});
$FN->set(paths => {'/fb/ok' => {json => {side => 'fb-new'}}, '/fb/500' => {status => 500, json => {error => 'new'}},
    '/fb/close' => {action => 'close'}, '/nofb/500' => {status => 500, json => {error => 'new'}}});

sub shadow_route {
    my ($name, $path, %o) = @_;
    return route(name => $name, path => $path, legacy => 'legacy', new => 'new', mode => 'shadow',
        shadow => {methods => ['GET', 'HEAD'], ignore => $o{ignore} // [], headers => ['content-type'],
            max_body => 1048576, max_inflight => $o{max_inflight} // 64});
}

my $gw = Souk::Gateway->start(routes => table(
    upstreams => {legacy => pool($L), new => pool($N), 'c-legacy' => pool($CL), 'c-new' => pool($CN),
        'rb-legacy' => pool($RL), 'rb-new' => pool($RN), 'fb-legacy' => pool($FL), 'fb-new' => pool($FN),
        'fb-dead' => pool('127.0.0.1:' . free_port())},
    routes => [
        shadow_route('sh_eq', '/sh/eq'),
        shadow_route('sh_diff', '/sh/diff'),
        shadow_route('sh_status', '/sh/status'),
        shadow_route('sh_ign', '/sh/ign', ignore => ['/request_id', '/items/*/created_at']),
        shadow_route('sh_slow', '/sh/slow', max_inflight => 2),
        shadow_route('sh_write', '/sh/write'),
        route(name => 'c_user', path => '/c/user', legacy => 'c-legacy', new => 'c-new',
            mode => 'canary', canary_percent => 30, auth => 'user'),
        route(name => 'c_anon', path => '/c/anon', legacy => 'c-legacy', new => 'c-new',
            mode => 'canary', canary_percent => 30),
        route(name => 'c_rb', path => '/c/rb', legacy => 'rb-legacy', new => 'rb-new',
            mode => 'canary', canary_percent => 50, auth => 'user',
            rollback => {error_rate => 0.05, window_ms => 30000, min_requests => 20}),
        route(name => 'fb', path => '/fb', legacy => 'fb-legacy', new => 'fb-new', mode => 'new',
            fallback => JSON_TRUE),
        route(name => 'fb_dead', path => '/fbdead', legacy => 'fb-legacy', new => 'fb-dead', mode => 'new',
            fallback => JSON_TRUE),
        route(name => 'nofb', path => '/nofb', legacy => 'fb-legacy', new => 'fb-new', mode => 'new'),
    ]));
my $url = $gw->url;

sub get { http(GET => "$url$_[0]", {headers => $_[1] // {}}) }

# Wait until the route has compared $n answers; its stats.
sub compared {
    my ($route, $n) = @_;
    my $st;
    wait_until(sub {
        $st = $gw->shadow_stats($route);
        ($st->{matches} // 0) + ($st->{mismatches} // 0) >= $n;
    }, 30);    # the copies are compared off the answer's path: a loaded sanitizer build is slow
    return $st;
}

# Does the data hold $want, as a structure or as a JSON string of it?
sub holds {
    my ($data, $want) = @_;
    my $w = $JSON->encode($want);
    return scalar deep_find($data, sub {
        my $d = $_[0];
        my $v = ref $d ? $d : defined $d && $d =~ /^\s*[\[{]/ ? eval { $JSON->decode($d) } : undef;
        defined $v && ref $v && $JSON->encode($v) eq $w;
    });
}

# ---- shadow ------------------------------------------------------------------------------

{
    my $r = get('/sh/eq');
    is($r->{status}, 200, 'shadow: the client gets an answer');
    is($r->{body}, $LEGACY_EQ, 'shadow: exactly the legacy bytes');
    is_deeply([$r->{headers}{'x-fake'}, $r->{headers}{'x-legacy'}], ['legacy', 'yes'],
        'shadow: and the legacy headers');
    my ($m) = $N->wait_requests(1, path => '/sh/eq', timeout => 3);
    ok($m && $m->{method} eq 'GET' && $m->{target} eq '/sh/eq', 'the read is mirrored to the new pool');
    my $st = compared('sh_eq', 1);
    is_deeply([$st->{matches}, $st->{mismatches} // 0], [1, 0],
        'same JSON with keys in another order is a match') or diag($st->{raw});

    $r = get('/sh/diff');
    is_deeply($r->{json}, {id => 2, price => 10}, 'a different new answer: the client still gets legacy');
    $st = compared('sh_diff', 1);
    is_deeply([$st->{matches} // 0, $st->{mismatches}], [0, 1], 'a different value is a mismatch') or diag($st->{raw});
    ok(holds($st->{entry}, {id => 2, price => 10}) && holds($st->{entry}, {id => 2, price => 11}),
        'the mismatch sample keeps both bodies') or diag($st->{raw});

    $r = get('/sh/status');
    is($r->{status}, 200, 'a 404 from new: the client gets the legacy 200');
    $st = compared('sh_status', 1);
    is($st->{mismatches}, 1, 'a different status is a mismatch') or diag($st->{raw});

    get('/sh/ign/ok');
    $st = compared('sh_ign', 1);
    is_deeply([$st->{matches}, $st->{mismatches} // 0], [1, 0],
        'differences only under ignore pointers (/request_id, /items/*/created_at) match') or diag($st->{raw});
    get('/sh/ign/bad');
    $st = compared('sh_ign', 2);
    is($st->{mismatches}, 1, '...but other differences still count') or diag($st->{raw});

    # The new pool answers after 2 s: the client must not wait for it.
    my $mark = $N->mark;
    my @lat;
    for (1 .. 5) {
        my $t0 = time;
        $r = get('/sh/slow');
        push @lat, time - $t0;
        is($r->{status}, 200, 'slow shadow: the client is answered') if $_ == 1;
    }
    my ($max) = sort { $b <=> $a } @lat;
    ok($max < 0.2, sprintf('a 2 s shadow adds no latency (slowest of 5: %.0f ms)', $max * 1000));
    my $st2 = $gw->shadow_stats('sh_slow');
    ok(($st2->{drops} // 0) >= 1, 'mirrors beyond max_inflight (2) are dropped and counted')
        or diag($st2->{raw});
    my @mirrored = $N->wait_requests(2, since => $mark, path => '/sh/slow', timeout => 3);
    ok(@mirrored >= 1 && @mirrored <= 2, 'at most max_inflight mirrors were sent (' . scalar(@mirrored) . ')');
    $st2 = compared('sh_slow', 1);
    ok(($st2->{matches} // 0) >= 1, 'the slow mirror is still compared when it arrives') or diag($st2->{raw});

    $mark = $N->mark;
    $r = http(POST => "$url/sh/write", {json => {x => 1}});
    is($r->{status}, 201, 'a write on a shadow route goes to legacy');
    is($L->count(path => '/sh/write', method => 'POST'), 1, 'legacy got the POST');
    get('/sh/write');
    $N->wait_requests(1, since => $mark, path => '/sh/write', timeout => 3);
    is($N->count(since => $mark, path => '/sh/write', method => 'POST'), 0, 'writes are not mirrored');
    is($N->count(since => $mark, path => '/sh/write', method => 'GET'), 1, '(a GET on the same route is)');
}

# ---- canary: split and stickiness by user ----------------------------------------------------

my (%side, $new);
{
    my $bad = 0;
    for my $u (1 .. 1000) {
        my $r = get("/c/user/x?u=$u", {Authorization => 'Bearer ' . token($u, 'customer')});
        $bad++, next unless $r->{status} == 200;
        $side{$u} = $r->{headers}{'x-fake'};
    }
    is($bad, 0, 'canary: 1000 users answered');
    $new = grep { $_ eq 'c-new' } values %side;
    ok($new >= 250 && $new <= 350, "canary 30%: $new of 1000 users on new (250..350)");
    my $flips = 0;
    for my $u (1 .. 60) {
        for (1 .. 3) {
            my $r = get("/c/user/again?u=$u", {Authorization => 'Bearer ' . token($u, 'customer')});
            $flips++ if ($r->{headers}{'x-fake'} // '') ne ($side{$u} // '');
        }
    }
    is($flips, 0, 'canary: the same user always lands on the same side');

    my @on_new = (grep { ($side{$_} // '') eq 'c-new' } sort { $a <=> $b } keys %side)[0 .. 29];
    my @sides = map {
        http(POST => "$url/c/user/write", {json => {x => 1},
            headers => {Authorization => 'Bearer ' . token($_, 'customer')}})->{headers}{'x-fake'} // '?'
    } grep {defined} @on_new;
    is_deeply([sort { $a cmp $b } keys %{{map { ($_ => 1) } @sides}}], ['c-legacy'],
        'canary: writes go to legacy, even for users on new');
}

# ---- canary: anonymous clients stick by cookie --------------------------------------------------

{
    my ($n, $on_new, $no_cookie, $flips) = (400, 0, 0, 0);
    for my $i (1 .. $n) {
        my $r = get("/c/anon/x?i=$i");
        my $sc = $r->{headers}{'set-cookie'};
        $sc = $sc->[0] if ref $sc;
        my ($cookie) = ($sc // '') =~ /^\s*([^=;\s]+=[^;]*)/;
        if (!$cookie) { $no_cookie++; next }
        my $first = $r->{headers}{'x-fake'} // '';
        $on_new++ if $first eq 'c-new';
        for (1 .. 2) {
            my $again = get("/c/anon/y?i=$i", {Cookie => $cookie});
            $flips++ if ($again->{headers}{'x-fake'} // '') ne $first;
        }
    }
    is($no_cookie, 0, 'an anonymous client gets a canary cookie');
    is($flips, 0, 'with the cookie it stays on the side of its first answer');
    ok($on_new >= 0.2 * $n && $on_new <= 0.4 * $n, "anonymous split: $on_new of $n on new (20%..40%)");
}

# ---- canary: automatic rollback -------------------------------------------------------------

{
    my ($to_new, $u) = (0, 5000);
    my $mark = $RN->mark;
    while ($to_new < 25 && $u < 5200) {    # min_requests 20 answers from new, all 500
        my $r = get("/c/rb/x?u=$u", {Authorization => 'Bearer ' . token($u, 'customer')});
        $to_new++ if ($r->{headers}{'x-fake'} // '') eq 'rb-new';
        $u++;
        last if $RN->count(since => $mark) >= 20 && $to_new >= 20;
    }
    ok($to_new >= 20, "the new pool answered $to_new requests with 500");
    my $route = wait_until(sub {
        my $r = $gw->route_named('c_rb');
        $r && $r->{mode} eq 'legacy' ? $r : undef;
    }, 30);    # made on the control loop (install, fsync) after the failing answers asked for it
    ok($route, 'auto-rollback: GET /routes shows the route back on legacy')
        or diag($JSON->encode($gw->route_named('c_rb')));
    my $ev = $gw->admin(GET => '/events');
    is($ev->{status}, 200, 'GET /events');
    ok(scalar(deep_find($ev->{json}, sub { !ref $_[0] && defined $_[0] && $_[0] =~ /rollback/i }))
        && $ev->{body} =~ /c_rb/, 'a rollback event names the route') or diag($ev->{body});
    my $seen = $RN->count;
    my @st = map { get("/c/rb/after?u=$_", {Authorization => 'Bearer ' . token($_, 'customer')})->{status} }
        6000 .. 6039;
    is_deeply(\@st, [(200) x 40], 'after the rollback every request is answered by legacy');
    is($RN->count, $seen, 'and the new pool gets nothing');
}

# ---- mode new, with and without fallback to legacy --------------------------------------------

{
    is(get('/fb/ok')->{headers}{'x-fake'}, 'fb-new', 'mode new: reads go to new');
    is(http(POST => "$url/fb/ok", {json => {}})->{headers}{'x-fake'}, 'fb-new', 'mode new: writes go to new');
    my ($lm, $nm) = ($FL->mark, $FN->mark);
    my $r = get('/fb/500');
    is_deeply([$r->{status}, $r->{headers}{'x-fake'}], [200, 'fb-legacy'], 'fallback: a GET failing with 5xx on new is answered by legacy');
    is($FN->count(since => $nm, path => '/fb/500'), 1, '...after new was tried once');
    $r = get('/fb/close');
    is_deeply([$r->{status}, $r->{headers}{'x-fake'}], [200, 'fb-legacy'], 'fallback: a connection failure on new too');
    $r = get('/fbdead/x');
    is_deeply([$r->{status}, $r->{headers}{'x-fake'}], [200, 'fb-legacy'], 'fallback: new refusing connections too');
    $lm = $FL->mark;
    $r = http(POST => "$url/fb/500", {json => {x => 1}});
    is($r->{status}, 500, 'fallback: a failed POST is not replayed on legacy');
    is($FL->count(since => $lm, method => 'POST'), 0, '...legacy never saw it');
    $r = get('/nofb/500');
    is($r->{status}, 500, 'without fallback: the new answer stands');
}

ok($gw->alive, 'the gateway is still running');
done_testing;
