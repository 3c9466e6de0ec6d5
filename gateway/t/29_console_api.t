# gateway/t/29_console_api.t - what the control room (web/console) needs from the admin
# listener: GET /stats (per route and side: attempts, errors, req/s, error rate, p99, one
# point a second; token required; a bad window is a 400 problem), and the public API carried
# on the admin listener through the same route table and edge checks (no admin token, the
# route's own auth: an admin route still wants an admin JWT); /migration: the record soukctl
# reports, validated, bounded, and kept across a restart (migration.json beside the routes file:
# mode 0600, puts coalesced into one write and flushed at a stop, a bounded loader that logs a
# duplicate key, a non-object, an oversized file or a FIFO; never over a routes file of that name).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use Test::More;
use File::Temp ();
use POSIX ();

use Souk::Test;
use Souk::FakeUpstream;
use Souk::Gateway;

my $L = Souk::FakeUpstream->start(name => 'legacy', reply => {json => {side => 'legacy'}});
my $N = Souk::FakeUpstream->start(name => 'new', reply => {json => {side => 'new'}});
$N->set(reply => {json => {side => 'new'}}, paths => {'/api/v1/c' => {status => 500, json => {error => 'broken'}}});

my $gw = Souk::Gateway->start(routes => table(
    upstreams => {legacy => pool($L), new => pool($N)},
    routes => [
        route(name => 'products', path => '/api/v1/products', legacy => 'legacy', new => 'new', mode => 'shadow',
            shadow => {methods => ['GET', 'HEAD'], ignore => [], headers => [], max_body => 65536, max_inflight => 64}),
        route(name => 'canaried', path => '/api/v1/c', legacy => 'legacy', new => 'new', mode => 'new'),
        route(name => 'admin_only', path => '/api/v2/admin', legacy => 'legacy', auth => 'admin'),
        route(name => 'rest', path => '/', legacy => 'legacy'),
    ]));
my $pub = "http://127.0.0.1:$gw->{port}";

# ---- the token and the window --------------------------------------------------------------
is_problem($gw->admin(GET => '/stats', {token => undef}), 401, 'unauthorized', 'GET /stats without the token: 401');
is_problem($gw->admin(GET => '/stats', {token => 'wrong'}), 401, 'unauthorized', 'GET /stats with a wrong token: 401');
for my $w ('0', '121', 'abc', '-1', '', '99999999999', '1.5') {
    is_problem($gw->admin(GET => "/stats?window=$w"), 400, 'invalid-request', "GET /stats?window=$w: 400");
}
is_problem($gw->admin(POST => '/stats', {json => {}}), 405, 'method-not-allowed', 'POST /stats: 405');

# ---- counting per side ----------------------------------------------------------------------
my $r0 = $gw->admin(GET => '/stats');
is($r0->{status}, 200, 'GET /stats: 200');
is($r0->{json}{window_s}, 60, 'the default window is 60 s');

http(GET => "$pub/api/v1/products/$_") for 1 .. 20;
http(GET => "$pub/api/v1/c/$_") for 1 .. 10;

my $st;
wait_until('the shadow copies and the second are counted', sub {
    $st = $gw->admin(GET => '/stats?window=10')->{json};
    my $p = $st->{routes}{products};
    my $sum = 0;
    $sum += $_ // 0 for @{$p->{legacy}{series}{rps}};
    return $p->{legacy}{requests} >= 20 && $p->{new}{requests} >= 20 && $sum >= 20;
}, 10);
my $p = $st->{routes}{products};
is($st->{window_s}, 10, 'window=10 is honoured');
is(scalar @{$p->{legacy}{series}{rps}}, 10, 'ten points in a 10 s series');
is(scalar @{$p->{new}{series}{p99_ms}}, 10, 'and ten p99 points');
is($p->{legacy}{requests}, 20, 'legacy answered the 20 reads');
is($p->{new}{requests}, 20, 'the new side got the 20 shadow copies');
is($p->{legacy}{errors}, 0, 'no legacy error');
ok(defined $p->{legacy}{p99_ms} && $p->{legacy}{p99_ms} > 0 && $p->{legacy}{p99_ms} < 5000,
    'a legacy p99 in milliseconds') or diag explain $p->{legacy};
ok($p->{legacy}{rps} > 0, 'a legacy req/s over the window');
is($p->{legacy}{error_rate}, 0, 'legacy error rate 0');

my $c;
wait_until('the failing new side is counted', sub {
    $c = $gw->admin(GET => '/stats?window=10')->{json}{routes}{canaried};
    return $c && $c->{new}{errors} >= 10 && defined $c->{new}{error_rate};
}, 10);
is($c->{new}{requests}, 10, 'ten attempts on new');
is($c->{new}{errors}, 10, 'all ten answered 500: counted as errors');
is($c->{new}{error_rate}, 1, 'error rate 1 on new');
is($c->{legacy}{requests}, 0, 'none on legacy (mode new, no fallback)');
ok(!exists $st->{routes}{'-'}, 'no row for unmatched requests');

# ---- the public API on the admin listener -----------------------------------------------------
my $via = http(GET => $gw->admin_url . '/api/v1/products/7');
is($via->{status}, 200, '/api/ on the admin listener needs no admin token');
is($via->{json}{side}, 'legacy', 'and goes through the route table (products: legacy answers in shadow)');
is($via->{headers}{'x-fake'}, 'legacy', 'to the route\'s upstream');
is_problem(http(GET => $gw->admin_url . '/api/v2/admin/sagas'), 401, 'unauthorized',
    'an admin route wants its JWT on the admin listener too');
is_problem(http(GET => $gw->admin_url . '/api/v2/admin/sagas', {headers => {Authorization => 'Bearer ' . token(5, 'customer')}}),
    403, 'forbidden', 'a customer JWT is refused there, as on the public listener');
my $adm = http(GET => $gw->admin_url . '/api/v2/admin/sagas', {headers => {Authorization => 'Bearer ' . token(1, 'admin')}});
is($adm->{status}, 200, 'an admin JWT passes');
is(scalar $L->requests(path => '/api/v2/admin/sagas'), 1, 'and only that one reached the upstream');
is_problem(http(POST => $gw->admin_url . '/apix', {headers => {Authorization => 'Bearer nope'}, json => {}}), 401,
    'unauthorized', 'a path that only starts like /api is the admin listener\'s own: it wants the admin token');
http(GET => $gw->admin_url . '/apix');
is(scalar $L->requests(path => '/apix') + scalar $N->requests(path => '/apix'), 0, 'and is never carried upstream');
is_problem($gw->admin(GET => '/api'), 404, 'not-found', '/api itself is no admin resource');
my $w = http(POST => $gw->admin_url . '/api/v1/c/1', {json => {x => 1}});
is($w->{status}, 500, 'a write on the admin listener goes to the route\'s side as well (new: 500)');

# A held route holds the admin listener's writes too, and releases them when the hold ends.
is($gw->admin(PATCH => '/routes/canaried', {json => {hold => JSON_TRUE}})->{status}, 200, 'canaried is held');
my $before = $N->count(path => '/api/v1/c/held');
my $hs = conn($gw->admin_port);
put($hs, "POST /api/v1/c/held HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
ok(wait_until('the write waits at the gateway', sub { ($gw->admin(GET => '/holds')->{json}{routes}{canaried}{held} // 0) == 1 }, 30),
    'the admin listener\'s write is held');
is($N->count(path => '/api/v1/c/held'), $before, 'and not sent');
is($gw->admin(PATCH => '/routes/canaried', {json => {hold => JSON_FALSE}})->{status}, 200, 'the hold ends');
my ($hr) = read_responses($hs, 1, 10);
is($hr->[0]{status}, 500, 'the write was released to new (its 500)');
is($N->count(path => '/api/v1/c/held'), $before + 1, 'once');

# ---- /migration: the record soukctl migrate reports ----------------------------------------------
my $rep = {step => 'cutover', status => 'done', detail => 'writes held 62 ms; verify: 0 differ', updated_by => 'ops',
    updated_at => '2026-12-08T00:00:00Z', done_step => 'cutover', verify_at => '2026-12-08T00:00:01Z',
    verify_ok => JSON_TRUE, verify_detail => '1200 rows, none differ', canary_percent => 10, hold_ms => 2000,
    log => ['2026-12-08T00:00:00Z cutover done (ops, 412 ms): writes held 62 ms']};
is_problem($gw->admin(PUT => '/migration/reviews', {json => $rep, token => undef}), 401, 'unauthorized', 'PUT /migration without the token: 401');
is_problem($gw->admin(GET => '/migration', {token => undef}), 401, 'unauthorized', 'GET /migration without the token: 401');
is_deeply($gw->admin(GET => '/migration')->{json}, {domains => {}}, 'no report yet');
is($gw->admin(PUT => '/migration/reviews', {json => $rep})->{status}, 200, 'a report is taken');
my $m = $gw->admin(GET => '/migration')->{json}{domains}{reviews};
is($m->{verify_detail}, '1200 rows, none differ', 'and given back');
like($m->{received_at} // '', qr/^\d{4}-\d\d-\d\dT/, 'with when it came');
for my $bad ([{%$rep, step => 7}, 'report.step'], [{%$rep, extra => 1}, 'report.extra'], [{status => 'done'}, 'report.step'],
    [{%$rep, canary_percent => 101}, 'report.canary_percent'], [{%$rep, log => [1]}, 'report.log'],
    [{%$rep, detail => 'x' x 5000}, 'report.detail'], [[1], 'report']) {
    my $r = $gw->admin(PUT => '/migration/reviews', {json => $bad->[0]});
    is_problem($r, 400, 'invalid-request', "a bad report is refused ($bad->[1])");
    like($r->{json}{detail} // '', qr/\Q$bad->[1]\E/, "naming $bad->[1]");
}
is_problem($gw->admin(PUT => '/migration/bad%20name', {json => $rep}), 400, 'invalid-request', 'a bad domain name: 400');
is_problem($gw->admin(PUT => '/migration/reviews', {body => '{"step":', headers => {'Content-Type' => 'application/json'}}), 400,
    'malformed-json', 'a body that is not JSON: 400');
(my $mfile = $gw->routes_file) =~ s{[^/]+$}{migration.json};
sub writes { scalar grep { /migration record \S+ written: / } split /\n/, $_[0]->stderr_text }
sub file_json {
    open my $fh, '<', $_[0] or return undef;
    my $doc = eval { JSON::PP->new->decode(do { local $/; <$fh> }) };
    return $doc;
}
my $writes_before = writes($gw);
$gw->admin(PUT => "/migration/d$_", {json => $rep}) for 1 .. 15;
is_problem($gw->admin(PUT => '/migration/d16', {json => $rep}), 409, 'conflict', 'a 17th domain: 409');
is($gw->admin(PUT => '/migration/d15', {json => {%$rep, status => 'failed'}})->{status}, 200, 'a known one is still replaced');
is($gw->admin(GET => '/migration')->{json}{domains}{reviews}{status}, 'done', 'the bad reports changed nothing');

# ---- the record survives a restart: migration.json beside the routes file --------------------------
# 16 puts in a row (soukctl migrate status) are written together, shortly after the first.
ok(wait_until('the 16 puts are in the file', sub { (((file_json($mfile) // {})->{d15} // {})->{status} // '') eq 'failed' }, 10),
    'the 16 puts are written');
ok(-f $mfile && !-e "$mfile.tmp", 'the record is written beside the routes file (no .tmp left)');
is((stat $mfile)[2] & 07777, 0600, 'readable by the gateway\'s user only (who ran what, the differing ids)');
my $nwrites = writes($gw) - $writes_before;
ok($nwrites >= 1 && $nwrites < 16, "16 puts in a row are fewer writes than puts ($nwrites)");
my $before_restart = $gw->admin(GET => '/migration')->{json};
$gw->restart;
my $after = $gw->admin(GET => '/migration');
is($after->{status}, 200, 'after a restart GET /migration answers');
is_deeply($after->{json}, $before_restart, 'with every domain\'s record as it was (received_at kept)');
is($after->{json}{domains}{reviews}{verify_detail}, '1200 rows, none differ', '...the last verify of reviews');
is_problem($gw->admin(PUT => '/migration/d16', {json => $rep}), 409, 'conflict', 'the 16 loaded domains still count');
is($gw->admin(PUT => '/migration/d15', {json => {%$rep, status => 'running'}})->{status}, 200, 'a put after the restart');
$gw->restart;
is($gw->admin(GET => '/migration')->{json}{domains}{d15}{status}, 'running', 'is what the next restart loads');

# A record edited by hand: a domain that fails the checks is left out, the others are kept;
# a file that is not JSON is logged and the gateway starts with no record.
{
    open my $fh, '<', $mfile or die "$mfile: $!";
    my $doc = JSON::PP->new->decode(do { local $/; <$fh> });
    close $fh;
    $doc->{d1}{canary_percent} = 500;
    delete $doc->{d2}{received_at};
    open $fh, '>', $mfile or die "$mfile: $!";
    print $fh JSON::PP->new->encode($doc);
    close $fh;
}
$gw->restart;
my $left = $gw->admin(GET => '/migration')->{json}{domains};
ok(!exists $left->{d1} && !exists $left->{d2}, 'a bad domain in the file is left out (a bad field, no received_at)');
is(scalar(keys %$left), 14, 'the 14 others are loaded');
ok((grep { /migration record .*domain d1 left out/ } split /\n/, $gw->stderr_text), 'and the gateway says which') or diag $gw->stderr_text;
{ open my $fh, '>', $mfile or die; print $fh '{"reviews": '; close $fh }
$gw->restart;
is_deeply($gw->admin(GET => '/migration')->{json}, {domains => {}}, 'a file that is not JSON: the gateway starts with no record');
ok((grep { /migration record .* not loaded/ } split /\n/, $gw->stderr_text), 'and logs why');
is($gw->admin(PUT => '/migration/reviews', {json => $rep})->{status}, 200, 'and takes reports again');

# What the loader refuses (one bounded loader for the routes file and the record): duplicate
# keys, a top level that is not an object, a file over 4 MiB, and a FIFO (which must not wedge
# the start waiting for a writer). Each is logged and the gateway starts with no record.
ok(wait_until('that put is written', sub { (file_json($mfile) // {})->{reviews} }, 10), 'that put is written');
my $one = JSON::PP->new->canonical->encode({%$rep, received_at => '2026-12-08T00:00:00Z'});
for my $case (["{\"reviews\": $one, \"reviews\": $one}", qr/duplicate/, 'duplicate keys'],
    ['[1]', qr/not an object/, 'an array'],
    ['{"x": "' . ('y' x (5 << 20)) . '"}', qr/larger than the limit/, 'a file over 4 MiB'],
    [undef, qr/not a regular file/, 'a FIFO']) {
    my ($text, $why, $name) = @$case;
    unlink $mfile;
    if (defined $text) { open my $fh, '>', $mfile or die; print $fh $text; close $fh }
    else { POSIX::mkfifo($mfile, 0600) or die "mkfifo: $!" }
    $gw->restart;
    is_deeply($gw->admin(GET => '/migration')->{json}, {domains => {}}, "$name: the gateway starts with no record");
    ok((grep { /migration record .*$why/ } split /\n/, $gw->stderr_text), "$name: logged") or diag $gw->stderr_text;
}
is($gw->admin(PUT => '/migration/reviews', {json => $rep})->{status}, 200, 'a put over the FIFO');
ok(wait_until('the FIFO is replaced by the record', sub { -f $mfile && (file_json($mfile) // {})->{reviews} }, 10),
    'the FIFO is replaced by the record');

# A put right before a stop is written by the drain, not lost with the timer.
is($gw->admin(PUT => '/migration/late', {json => $rep})->{status}, 200, 'a put just before a stop');
$gw->restart;
is($gw->admin(GET => '/migration')->{json}{domains}{late}{step}, 'cutover', 'is there after the restart');
$gw->stop;

# A routes file named migration.json: the record stays in memory, the routes file is never
# overwritten by it.
{
    my $dir = File::Temp->newdir('souk-gw-XXXXXX', TMPDIR => 1);
    my $g3 = Souk::Gateway->start(dir => $dir, routes_file => "$dir/migration.json",
        routes => table(upstreams => {legacy => pool($L)}, routes => [route(name => 'rest', path => '/', legacy => 'legacy')]));
    ok((grep { /routes file .* is where the migration record would be: the record is kept in memory only/ } split /\n/, $g3->stderr_text),
        'a routes file named migration.json: logged') or diag $g3->stderr_text;
    is($g3->admin(PUT => '/migration/reviews', {json => $rep})->{status}, 200, 'a put is taken');
    is($g3->admin(GET => '/migration')->{json}{domains}{reviews}{step}, 'cutover', 'and kept in memory');
    $g3->restart;    # the stop would write a dirty record: there is none to write
    ok(file_json("$dir/migration.json")->{routes}, 'the routes file is still the route table');
    is_deeply($g3->admin(GET => '/migration')->{json}, {domains => {}}, 'the record did not survive (memory only)');
    is($g3->routes->{routes}[0]{name}, 'rest', 'and the gateway routes as before');
    $g3->stop;
}

# ---- /sync: each domain's souk-sync /metrics, read by the gateway ------------------------------
sub sync_metrics {
    my (%v) = @_;
    return join '', map {"# TYPE souk_sync_$_ gauge\nsouk_sync_$_ $v{$_}\n"} sort keys %v;
}
my $S = Souk::FakeUpstream->start(name => 'sync', reply => {status => 404, body => 'no'});
$S->set(paths => {'/metrics' => {headers => ['Content-Type' => 'text/plain'],
    body => sync_metrics(lag_seconds => 3, lag_events => 42, applied_per_second => 120.5, applied_total => 9000,
        errors_total => 0, refused => 0) . "souk_sync_lag_seconds_other 77\n"}});
my $dead = free_port();
my $g2 = Souk::Gateway->start(routes => table(upstreams => {legacy => pool($L)}, routes => [route(name => 'rest', path => '/', legacy => 'legacy')]),
    env => {SOUK_GATEWAY_SYNC => 'reviews=' . $S->addr . ",users=127.0.0.1:$dead"});
is_problem($g2->admin(GET => '/sync', {token => undef}), 401, 'unauthorized', 'GET /sync without the token: 401');
my $sy;
wait_until('both syncs were read', sub {
    $sy = $g2->admin(GET => '/sync')->{json};
    return $sy->{domains}{reviews}{up} && @{$sy->{domains}{users}{series}{at} || []} >= 1;
}, 30);    # the gateway reads the syncs on its own schedule: room for a loaded sanitizer build
my $rv = $sy->{domains}{reviews};
is($rv->{lag_seconds}, 3, 'the reviews sync lag, from its /metrics (not a longer name\'s)');
is($rv->{lag_events}, 42, 'its lag in events');
is($rv->{applied_per_second}, 120.5, 'its applied rate');
is($rv->{applied_total}, 9000, 'its applied total');
is($rv->{address}, $S->addr, 'its address');
ok(!$sy->{domains}{users}{up}, 'a sync that does not answer is down');
like($sy->{domains}{users}{error} // '', qr/GET http:\/\/127\.0\.0\.1:$dead\/metrics/, 'with why');
is($sy->{domains}{users}{lag_seconds}, undef, 'and no lag');
$S->set(paths => {'/metrics' => {body => sync_metrics(lag_seconds => 0, applied_per_second => 3)}});
wait_until('the lag is followed over time', sub {
    $sy = $g2->admin(GET => '/sync')->{json};
    my $lag = $sy->{domains}{reviews}{series}{lag_seconds};
    return @$lag >= 2 && defined $lag->[-1] && $lag->[-1] == 0;
}, 30);
is($sy->{domains}{reviews}{series}{lag_seconds}[0], 3, 'the series keeps the earlier lag');
is(scalar @{$sy->{domains}{reviews}{series}{at}}, scalar @{$sy->{domains}{reviews}{series}{applied_per_second}}, 'a time per point');
is($sy->{domains}{reviews}{lag_events}, undef, 'a value the sync stopped publishing is null');
is(scalar(grep { !defined } @{$sy->{domains}{users}{series}{lag_seconds}}), scalar @{$sy->{domains}{users}{series}{lag_seconds}},
    'the dead sync has no lag point');
$g2->stop;

for my $bad ('reviews', 'reviews=', '=127.0.0.1:1', 'reviews=nohostport') {
    my $ok = eval { Souk::Gateway->start(routes => table(upstreams => {legacy => pool($L)},
        routes => [route(name => 'rest', path => '/', legacy => 'legacy')]), env => {SOUK_GATEWAY_SYNC => $bad}); 1 };
    ok(!$ok, "SOUK_GATEWAY_SYNC=$bad: the gateway refuses to start");
}
done_testing;
