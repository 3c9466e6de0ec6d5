# gateway/t/24_admin_reload.t - the admin API and live route changes (STYLE.md §2.15):
# bearer token, PUT validated with every reason listed and the old table kept, dry-run,
# PATCH of the mode, persistence to the routes file across a restart, SIGHUP reload,
# in-flight requests finishing on the table they started with, and 20 route swaps under
# load with zero failed requests.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

use Souk::Test;
use Souk::FakeUpstream;
use Souk::Gateway;

my $JSON = JSON::PP->new->utf8->canonical;
my $A = Souk::FakeUpstream->start(name => 'A', reply => {json => {from => 'A'}},
    paths => {'/slow' => {delay_ms => 1000, json => {from => 'A', slow => 1}}});
my $B = Souk::FakeUpstream->start(name => 'B', reply => {json => {from => 'B'}});

sub tbl {
    my ($main, @extra) = @_;
    return table(upstreams => {a => pool($A), b => pool($B)}, routes => [
        route(name => 'main', path => '/', legacy => $main),
        route(name => 'sw', path => '/sw', legacy => 'a', new => 'b', mode => 'legacy'),
        @extra]);
}

my $gw = Souk::Gateway->start(routes => tbl('a'));
sub from { my $r = http(GET => $gw->url . $_[0]); $r->{status} == 200 ? $r->{headers}{'x-fake'} // '?' : $r->{status} }
sub slurp { open my $fh, '<', $_[0] or return undef; local $/; scalar <$fh> }
sub names { [sort map { $_->{name} } @{$_[0]{routes} || []}] }

# ---- the admin token ------------------------------------------------------------------------

{
    my $tok = $Souk::Gateway::ADMIN_TOKEN;
    for my $c (['no token', undef], ['a wrong token', 'nope'], ['a prefix of the token', substr($tok, 0, -1)],
        ['the token plus a byte', "${tok}x"], ['an empty token', '']) {
        is_problem($gw->admin(GET => '/routes', {token => $c->[1]}), 401, 'unauthorized', "admin: $c->[0] is 401");
    }
    is_problem(Souk::Test::http(GET => $gw->admin_url . '/routes', {headers => {Authorization => "Basic $tok"}}),
        401, 'unauthorized', 'admin: another scheme is 401');
    is_problem($gw->admin(PUT => '/routes', {token => 'nope', json => tbl('b')}), 401, 'unauthorized',
        'admin: PUT with a wrong token is 401');
    is(from('/x'), 'A', '...and changed nothing');
    for my $p (qw(/routes /shadow /upstreams /events)) {
        my $r = $gw->admin(GET => $p);
        ok($r->{status} == 200 && defined $r->{json}, "GET $p is JSON") or diag("$r->{status} $r->{body}");
    }
    like($gw->admin(GET => '/upstreams')->{body}, qr/\Q${\ $A->addr}\E/, 'GET /upstreams lists the servers');
}

my $before = $gw->routes;
is_deeply(names($before), ['main', 'sw'], 'GET /routes has the table');

# ---- PUT: invalid tables keep the old one -------------------------------------------------------

{
    my $bad = tbl('a',
        route(name => 'main', path => '/dup', legacy => 'a'),
        route(name => 'pct', path => '/pct', legacy => 'a', new => 'b', mode => 'canary', canary_percent => 150));
    $bad->{routes}[0]{mode} = 'bogus';
    $bad->{routes}[1]{legacy} = 'nope';
    $bad->{upstreams}{c} = {servers => ['not-an-address'], balance => 'round_robin', max_idle => 64};
    my $file_before = slurp($gw->routes_file);
    my $r = $gw->put_routes($bad);
    is_problem($r, 400, 'invalid-request', 'PUT of an invalid table is 400');
    my $body = $r->{body} // '';
    like($body, qr/routes\[0\]\.mode/, 'the reasons name routes[0].mode');
    like($body, qr/routes\[1\]\.legacy/, '...routes[1].legacy (unknown upstream)');
    like($body, qr/routes\[3\]\.canary_percent/, '...routes[3].canary_percent (150)');
    like($body, qr/upstreams\.c\.servers/, '...upstreams.c.servers');
    like($body, qr/routes\[2\]\.name.*(?:duplicate|unique|already|twice)|(?:duplicate|unique|already|twice).*\bmain\b/is,
        '...the duplicate route name');
    is_deeply($gw->routes, $before, 'the old table is still active');
    is(from('/x'), 'A', 'and still routes');
    is(slurp($gw->routes_file), $file_before, 'and the routes file is untouched');

    is_problem($gw->admin(PUT => '/routes', {body => '{"version":1,', headers => {'Content-Type' => 'application/json'}}),
        400, 'malformed-json', 'PUT of broken JSON is 400');
    is_problem($gw->put_routes({%{tbl('b')}, version => 2}), 400, 'invalid-request', 'PUT of version 2 is 400');
    is_deeply($gw->routes, $before, 'still the old table');
}

# ---- dry-run ----------------------------------------------------------------------------------

{
    my $file_before = slurp($gw->routes_file);
    my $r = $gw->admin(POST => '/routes/dry-run',
        {json => tbl('b', route(name => 'extra', path => '/extra', legacy => 'b'))});
    is($r->{status}, 200, 'dry-run of a valid table');
    like($r->{body} // '', qr/main/, 'the diff names the changed route');
    like($r->{body} // '', qr/extra/, 'and the added one');
    is_deeply($gw->routes, $before, 'dry-run changes nothing');
    is(slurp($gw->routes_file), $file_before, 'not even the file');
    is(from('/x'), 'A', 'traffic still goes to A');
    my $bad = tbl('a');
    $bad->{routes}[0]{mode} = 'bogus';
    is_problem($gw->admin(POST => '/routes/dry-run', {json => $bad}), 400, 'invalid-request',
        'dry-run of an invalid table is 400');
}

# ---- PUT, PATCH, persistence ----------------------------------------------------------------------

{
    my $r = $gw->put_routes(tbl('b', route(name => 'extra', path => '/extra', legacy => 'a')));
    is($r->{status}, 200, 'PUT of a valid table') or diag($r->{body});
    is(from('/x'), 'B', 'the next request sees the new table');
    is(from('/extra/1'), 'A', 'including the new route');
    is_deeply(names($gw->routes), ['extra', 'main', 'sw'], 'GET /routes shows it');
    my $disk = eval { $JSON->decode(slurp($gw->routes_file)) };
    ok($disk && (grep { $_->{name} eq 'main' && $_->{legacy} eq 'b' } @{$disk->{routes}}),
        'the routes file holds the new table');

    is(from('/sw/1'), 'A', 'sw starts on legacy');
    $r = $gw->admin(PATCH => '/routes/sw', {json => {mode => 'new'}});
    is($r->{status}, 200, 'PATCH mode new') or diag($r->{body});
    is(from('/sw/1'), 'B', 'now on new');
    is($gw->route_named('sw')->{mode}, 'new', 'GET /routes shows mode new');
    $r = $gw->admin(PATCH => '/routes/sw', {json => {mode => 'canary', canary_percent => 100}});
    is($r->{status}, 200, 'PATCH canary 100');
    is(from('/sw/2'), 'B', 'canary 100 reads go to new');
    is(http(POST => $gw->url . '/sw/2', {json => {}})->{headers}{'x-fake'}, 'A', 'writes stay on legacy');
    is_problem($gw->admin(PATCH => '/routes/sw', {json => {mode => 'bogus'}}), 400, 'invalid-request',
        'PATCH of a bad mode is 400');
    is_problem($gw->admin(PATCH => '/routes/main', {json => {mode => 'new'}}), 400, 'invalid-request',
        'PATCH to new on a route without a new pool is 400');
    is_problem($gw->admin(PATCH => '/routes/nosuch', {json => {mode => 'new'}}), 404, 'not-found',
        'PATCH of an unknown route is 404');
    is_problem($gw->admin(PATCH => '/routes/sw', {json => {mode => 'new'}, token => 'nope'}), 401, 'unauthorized',
        'PATCH without the token is 401');
    $r = $gw->admin(PATCH => '/routes/sw', {json => {mode => 'new'}});
    is($r->{status}, 200, 'PATCH back to new');
    $disk = eval { $JSON->decode(slurp($gw->routes_file)) };
    ok($disk && (grep { $_->{name} eq 'sw' && $_->{mode} eq 'new' } @{$disk->{routes}}), 'PATCH is persisted');

    my $ev = $gw->admin(GET => '/events');
    ok($ev->{status} == 200 && length($ev->{body} // '') > 2, 'GET /events records the changes')
        or diag($ev->{body});

    $gw->restart;
    is_deeply(names($gw->routes), ['extra', 'main', 'sw'], 'after a restart: the PUT table');
    is($gw->route_named('sw')->{mode}, 'new', 'after a restart: the PATCHed mode');
    is(from('/x'), 'B', 'after a restart: routing as before');
}

# ---- SIGHUP --------------------------------------------------------------------------------------

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', "$path.tmp" or die "$path.tmp: $!";
    print $fh $text;
    close $fh;
    rename "$path.tmp", $path or die "rename: $!";
}

{
    write_file($gw->routes_file, $JSON->pretty->encode(tbl('a', route(name => 'hup', path => '/hup', legacy => 'b'))));
    $gw->hup;
    ok(wait_until(sub { grep { $_ eq 'hup' } @{names($gw->routes)} }, 10), 'SIGHUP loads the edited file');
    is(from('/x'), 'A', 'and routes by it');
    is(from('/hup/1'), 'B', 'including the new route');

    write_file($gw->routes_file, '{"version": 1, "routes": [{"name": "broken"');
    $gw->hup;
    # The signal is handled on the control loop: wait for its outcome (the reload_failed event),
    # not a fixed 0.5 s, before asking whether the gateway kept its table. The earlier good
    # SIGHUP's events must not count, so the event's own type is what is waited on.
    my $ev;
    wait_until('the failed reload is recorded', sub {
        $ev = $gw->admin(GET => '/events');
        ($ev->{body} // '') =~ /reload_failed/;
    }, 30);
    ok($gw->alive, 'SIGHUP with a broken file: still running');
    ok((grep { $_ eq 'hup' } @{names($gw->routes)}), 'and the last good table stays');
    is(from('/hup/2'), 'B', 'and routes by it');
    like($ev->{body} // '', qr/reload_failed/, 'GET /events mentions the failed reload')
        or diag($ev->{body});
    ok($gw->put_routes(tbl('a'))->{status} == 200, 'a PUT replaces the broken file');
    ok(eval { $JSON->decode(slurp($gw->routes_file)) }, 'the routes file is valid JSON again');
}

# ---- in-flight requests keep their table -------------------------------------------------------

{
    my $s = conn($gw->port);
    my $slow = $A->count(path => '/slow');
    put($s, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    # In flight means A has it (it answers 1 s later): a fixed 0.2 s let a loaded gateway read
    # the request only after the swap, and route it by the new table.
    $A->wait_requests($slow + 1, path => '/slow', timeout => 30);
    is($gw->put_routes(tbl('b'))->{status}, 200, 'swap while a request is in flight');
    my ($res) = read_responses($s, 1, 5);
    is_deeply([$res->[0] && $res->[0]{status}, $res->[0] && $res->[0]{headers}{'x-fake'}], [200, 'A'],
        'the in-flight request finishes on the table it started with');
    put($s, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    ($res) = read_responses($s, 1, 5);
    is($res->[0] && $res->[0]{headers}{'x-fake'}, 'B', 'the next request on that connection sees the new table');
    close $s;
}

# ---- hot reload under load -------------------------------------------------------------------

{
    is($gw->put_routes(tbl('a'))->{status}, 200, 'start on A');
    my $dir = File::Temp->newdir('souk-load-XXXXXX', TMPDIR => 1);
    my $port = $gw->port;
    # The clients run until the 20 PUTs are done (the stop file), at most 30 s: a fixed 5 s ended
    # before the last swaps on a loaded machine, which then ran without load.
    my ($t0, $stop_at) = (time, time + 30);
    my @kids;
    for my $k (1 .. 4) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my %n = (ok => 0, fail => 0, A => 0, B => 0, reconnects => 0);
            my @why;
            my $s;
            until (-e "$dir/stop" || time > $stop_at) {
                $s //= eval { conn($port) };
                if (!$s) { $n{fail}++; push @why, "connect: $!"; next }
                put($s, "GET /load/$k HTTP/1.1\r\nHost: x\r\n\r\n");
                my ($res, $closed) = read_responses($s, 1, 5);
                my $r = $res->[0];
                if ($r && $r->{status} == 200) {
                    $n{ok}++;
                    $n{$r->{headers}{'x-fake'} // 'other'}++;
                } else {
                    $n{fail}++;
                    push @why, $r ? "status $r->{status}" : $closed ? 'closed without an answer' : 'no answer in 5 s';
                }
                if ($closed || !$r || lc($r->{headers}{connection} // '') eq 'close') {
                    close $s;
                    undef $s;
                    $n{reconnects}++;
                }
            }
            open my $fh, '>', "$dir/$k" or POSIX::_exit(1);
            print $fh $JSON->encode({%n, why => [@why[0 .. ($#why < 4 ? $#why : 4)]]});
            close $fh;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    my ($puts, $put_fail) = (0, 0);
    sleep 0.3;
    for my $i (1 .. 20) {
        my $r = $gw->put_routes(tbl($i % 2 ? 'b' : 'a'));
        $puts++;
        $put_fail++ unless $r->{status} == 200;
        sleep 0.2;
    }
    open my $stop, '>', "$dir/stop" or die "$dir/stop: $!";
    close $stop;
    waitpid $_, 0 for @kids;
    my $took = time - $t0;
    my %tot = (ok => 0, fail => 0, A => 0, B => 0);
    my @why;
    for my $k (1 .. 4) {
        my $j = eval { $JSON->decode(slurp("$dir/$k") // '') } or do { $tot{fail}++; push @why, "client $k died"; next };
        $tot{$_} += $j->{$_} // 0 for keys %tot;
        push @why, @{$j->{why} || []};
    }
    is($put_fail, 0, "20 PUTs under load all succeeded ($puts)");
    is($tot{fail}, 0, "zero failed requests during the swaps ($tot{ok} ok)") or diag(join "\n", @why);
    ok($tot{ok} >= 200, sprintf('the load was real (%d requests in %.1f s)', $tot{ok}, $took));
    ok($tot{A} > 0 && $tot{B} > 0, "both tables served traffic (A $tot{A}, B $tot{B})");
}

# The same with wrk: 32 keep-alive connections, as fast as the fake upstreams allow, while the
# 20 swaps are made; wrk is told to run 30 s and is interrupted (it reports on SIGINT) once
# they are done. What is checked is the traffic served DURING the swaps: the gateway's count
# of main-route requests at the first PUT and after the last one (a window of at least 3 s:
# 20 x 0.15 s). FLOOR: measured 3916 and 4677 in that window (~4.2 s) on the shared 2-core
# machine with two busy loops (`while :; do :; done` x2) beside it, release build; the
# sanitizer build is 2-3x slower (~1300-2300). 800 is well below both, so a loaded machine
# meets it, while a gateway that stalls traffic during the swaps (a ~5x drop) does not.
my $FLOOR = 800;
sub main_requests {
    my $m = $gw->admin(GET => '/metrics')->{body} // '';
    my $n = 0;
    $n += $1 while $m =~ /^souk_gateway_requests_total\{route="main"[^}]*\} (\d+)$/mg;
    return $n;
}
SKIP: {
    my ($wrk) = grep { -x } map {"$_/wrk"} split /:/, $ENV{PATH} // '';
    skip 'wrk is not installed (the forked Perl clients above covered hot reload)', 4 unless $wrk;
    my $lua = Souk::Test::repo_root() . '/bench/report.lua';
    my $out = File::Temp->new;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', $out->filename;
        open STDERR, '>&', \*STDOUT;
        $ENV{BENCH_PATH} = '/wrk';
        exec $wrk, '-t2', '-c32', '-d30s', '--timeout', '5s', '-s', $lua, $gw->url or POSIX::_exit(127);
    }
    my ($ok, $i) = (0, 0);
    my $t0 = time;
    sleep 0.3 while time - $t0 < 10 && main_requests() == 0;    # wrk has connected
    my ($w0, $tw0) = (main_requests(), time);
    while ($i < 20 && time - $t0 < 28) {    # all inside wrk's 30 s
        $ok++ if $gw->put_routes(tbl(++$i % 2 ? 'b' : 'a'))->{status} == 200;
        sleep 0.15;
    }
    my ($w1, $tw1) = (main_requests(), time);
    kill 'INT', $pid;
    waitpid $pid, 0;
    my $text = slurp($out->filename) // '';
    my ($n, $errors, $non2xx) = $text =~ /RESULT .*errors=(\d+) non2xx=(\d+) requests=(\d+)/ ? ($3, $1, $2) : (0, -1, -1);
    is_deeply([$i, $ok], [20, 20], 'wrk: 20 PUTs under load, all succeeded');
    is($errors, 0, 'wrk: no socket errors or timeouts') or diag($text);
    is($non2xx, 0, 'wrk: no non-2xx answers') or diag($text);
    cmp_ok($w1 - $w0, '>=', $FLOOR, sprintf('wrk: %d requests served during the 20 swaps (%.1f s; %d in all)',
        $w1 - $w0, $tw1 - $tw0, $n));
}

ok($gw->alive, 'the gateway is still running');
done_testing;
