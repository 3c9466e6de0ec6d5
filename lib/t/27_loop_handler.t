# lib/t/27_loop_handler.t - loop handlers (lib/server.h server_loop_route) through the real
# interface of build/bin/souk-testd: GET /memo/{key} has a loop half that answers "hit*" and
# "gone*" keys on the I/O loop on its next turn, passes "now*" at once and anything else after a
# turn. Whoever answers, the answer, access line, route metrics and auth are the server's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use JSON::PP ();
use Test::More;
use Souk::Test;

my $SECRET = 'loop-handler-test-secret-0123456789abcdef';
my $svc = spawn_service('testd', SOUK_LOG_LEVEL => 'info', SOUK_JWT_SECRET => $SECRET);
my $url = $svc->url;
my $memo = 'route="GET /memo/{key}"';

sub get { my ($p, %h) = @_; http(GET => "$url$p", {headers => {Connection => 'close', %h}}) }
sub metric_of { metric_value($url, $_[0]) // 0 }

sub access_line {
    my ($rid) = @_;
    for my $l (split /\n/, $svc->stderr_text) {
        my $j = eval { JSON::PP::decode_json($l) } or next;
        next unless ($j->{msg} // '') eq 'access' && ($j->{request_id} // '') eq $rid;
        delete @{$j}{qw(ts time duration_ms request_id trace_id)};
        return $j;
    }
    return undef;
}

# --- answered on the loop, passed on, passed at once -------------------------------------------
my ($hits, $passes, $ok) = (metric_of('souk_cache_loop_hits_total'), metric_of('souk_cache_loop_passes_total'),
    metric_of("souk_http_requests_total{$memo,status=\"200\"}"));
my $hit = get('/memo/hit-1', 'X-Request-Id' => 'memo-aaaa');
is($hit->{status}, 200, 'hit: 200');
is_deeply($hit->{json}, {key => 'hit-1', from => 'loop', passed => JSON::PP::false},
    'hit: answered by the loop half');
is($hit->{headers}{'x-request-id'}, 'memo-aaaa', 'hit: the request id is echoed');
is(metric_of('souk_cache_loop_hits_total'), $hits + 1, 'hit: souk_cache_loop_hits_total');

my $later = get('/memo/hit-2', 'X-Request-Id' => 'memo-bbbb');
my $pass = get('/memo/miss-1', 'X-Request-Id' => 'memo-cccc');
is_deeply($pass->{json}, {key => 'miss-1', from => 'worker', passed => JSON::PP::true},
    'pass after a turn: the worker answers, r->passed set');
my $now = get('/memo/now-1');
is_deeply($now->{json}, {key => 'now-1', from => 'worker', passed => JSON::PP::true},
    'pass at once: the worker answers');
is(metric_of('souk_cache_loop_passes_total'), $passes + 2, 'passes: souk_cache_loop_passes_total');
is(metric_of("souk_http_requests_total{$memo,status=\"200\"}"), $ok + 4,
    'route metrics: every answer counted under the route, wherever it came from');

my $gone = get('/memo/gone-1');
is_problem($gone, 404, 'not-found', 'a failure on the loop: the one problem renderer');
is($gone->{json}{detail}, 'no memo gone-1', 'its detail');
is($gone->{json}{instance}, '/memo/gone-1', 'its instance');

# Same access line members and values, loop or worker (but the bytes: the bodies differ).
my ($la, $lb);
ok(wait_until('access lines', sub { ($la, $lb) = (access_line('memo-bbbb'), access_line('memo-cccc'));
    $la && $lb }, 5), 'access: both logged');
for (grep { defined } $la, $lb) {
    $_->{path} =~ s/(hit-2|miss-1)$/KEY/;
    $_->{bytes} = $_->{bytes} > 0 ? 'some' : 'none';
}
is_deeply($la, $lb, 'access: the same line from the loop as from a worker')
    or diag(JSON::PP->new->canonical->encode([$la, $lb]));

# --- auth runs on the loop before the loop half --------------------------------------------
$hits = metric_of('souk_cache_loop_hits_total');
is_problem(get('/memo-user/hit-3'), 401, 'unauthorized', 'user route, no token: 401');
is_problem(get('/memo-user/hit-3', Authorization => 'Bearer nope'), 401, 'unauthorized',
    'user route, bad token: 401');
is(metric_of('souk_cache_loop_hits_total'), $hits, 'refused before the loop half ran');
my $tok = jwt_mint(secret => $SECRET);
my $mine = get('/memo-user/hit-3', Authorization => "Bearer $tok");
is($mine->{json}{from}, 'loop', 'user route, good token: the loop half answers');
my $mine2 = get('/memo-user/miss-3', Authorization => "Bearer $tok");
is_deeply($mine2->{json}, {key => 'miss-3', from => 'worker', passed => JSON::PP::true},
    'user route, passed: the worker answers without authenticating twice');

# --- pipelined: loop and worker answers in request order ------------------------------------
my $raw = raw_http($svc->port, join('', map { "GET /memo/$_ HTTP/1.1\r\nHost: x\r\n\r\n" }
    qw(miss-a hit-b now-c hit-d)) . "GET /memo/hit-e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
my @keys = $raw =~ /"key":"([^"]+)"/g;
is_deeply(\@keys, [qw(miss-a hit-b now-c hit-d hit-e)], 'pipelined: in request order');

# --- HEAD is served by the GET route, on the loop too --------------------------------------
my $head = http(HEAD => "$url/memo/hit-h");
is($head->{status}, 200, 'HEAD: 200');
is($head->{body} // '', '', 'HEAD: no body');

no_failures([], [$svc]);

# --- loop halves off: a NULL loop state sends everything to a worker ------------------------
my $off = spawn_service('testd', SOUK_TESTD_LOOP_HALVES => 0);
my $w = http(GET => $off->url . '/memo/hit-1')->{json};
is_deeply($w, {key => 'hit-1', from => 'worker', passed => JSON::PP::false},
    'off: the worker answers, nothing passed');

# --- SIGTERM with loop halves (their state freed on each loop): a clean drain ----------------
ok($svc->stop, 'drain: souk-testd exits cleanly after SIGTERM');
$off->stop;
done_testing;
