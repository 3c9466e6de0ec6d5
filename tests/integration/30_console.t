# The local shop as a person runs it (issue 17), on free ports and a private var dir: the
# monolith, catalog and gateway started by scripts/supervise.sh as `make run` starts them.
# - probes (/health, /ready, /metrics: the gateway's active checks, soukctl status) leave no
#   access line at info in the logs, yet count in /metrics; real requests do leave one;
# - `soukctl status` shows every process up and ready (checks, backlog, version, route modes)
#   and exits 0; with a migration under way (soukctl migrate catalog backfill, sync), the
#   souk-sync process the playbook runs and each domain's step and sync lag (`status migrate`); a process killed with SIGKILL is DOWN (exit 1) until its supervisor has
#   restarted it, then up again with a new pid; the supervisor reports the death;
# - the console stream (`logs.pl -f --new --level warn`, what make run shows) carries the
#   warnings and the supervisor's report but no access line, while the log files hold them.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

my $ROOT = repo_root();
my $BUILD = $ENV{SOUK_BUILD} || 'build';
$BUILD = "$ROOT/$BUILD" unless $BUILD =~ m{^/};
my $var = File::Temp::tempdir('souk-console-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$var/$_" for qw(run log gateway);

my $mono = mariadb_fresh('console');
my $cat_db = pg_fresh('catalog');
my $redis = redis_start();
my $amqp = rabbit_vhost();
# The ports, reserved for this process (free_ports): no parallel test takes one meanwhile.
my %port;
@port{qw(monolith catalog gateway admin)} = free_ports(4);
my $token = 'console-admin-token';
my %env = (
    SOUK_VAR_DIR => $var,
    SOUK_RESTART_DELAY => 8,    # long enough to see a killed process down before it is back (status on a loaded sanitizer build)
    SOUK_MONOLITH_LISTEN => "127.0.0.1:$port{monolith}",
    SOUK_CATALOG_LISTEN => "127.0.0.1:$port{catalog}",
    SOUK_GATEWAY_LISTEN => "127.0.0.1:$port{gateway}",
    SOUK_GATEWAY_ADMIN_LISTEN => "127.0.0.1:$port{admin}",
    SOUK_GATEWAY_ADMIN_TOKEN => $token,
    SOUK_LOG_LEVEL => 'info',    # what make run uses: the files hold every access line
    SOUK_LOOPS => 1,
    SOUK_WORKERS => 2,
);
@ENV{keys %env} = values %env;

# The gateway checks the monolith's /health every 200 ms: probes a-plenty within the test.
my $routes = {
    version => 1,
    upstreams => {
        monolith => {servers => ["127.0.0.1:$port{monolith}"],
            health => {path => '/health', interval_ms => 200}},
        catalog => {servers => ["127.0.0.1:$port{catalog}"]},
    },
    routes => [
        {name => 'products', path => '/api/v1/products', methods => ['GET', 'HEAD'],
            legacy => 'monolith', new => 'catalog', mode => 'canary', canary_percent => 10},
        {name => 'catch_all', path => '/', legacy => 'monolith'},
    ],
};
open my $rf, '>', "$var/gateway/routes.json" or die;
print $rf JSON::PP->new->encode($routes);
close $rf;

# supervise(NAME, ENV => VALUE ...): as run-local.sh's start_app does.
my @sups;
sub supervise {
    my ($name, %e) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$var/log/supervise.log" or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        exec "$ROOT/scripts/supervise.sh", $name, 'env', (map {"$_=$e{$_}"} sort keys %e),
            "$BUILD/bin/souk-$name"
            or POSIX::_exit(127);
    }
    push @sups, $pid;
    return $pid;
}

sub slurp { open my $fh, '<', $_[0] or return ''; local $/; return scalar <$fh> }
sub app_pid { (slurp("$var/run/app-$_[0].pid") =~ /(\d+)/)[0] }
# A generous probe timeout: under ASan with two test files at a time, one /ready can take 2 s.
sub status { soukctl({}, 'status', '--timeout', 10000, @_) }
sub access_lines {    # the JSON access lines of a log file
    my @l;
    for (split /\n/, slurp($_[0])) {
        my $e = eval { JSON::PP->new->decode($_) } or next;
        push @l, $e if ($e->{msg} // '') eq 'access';
    }
    return @l;
}

# The console of make run, from before anything starts until the end.
my $console = "$var/console.out";
my $con_pid = fork // die;
if (!$con_pid) {
    open STDOUT, '>', $console or POSIX::_exit(127);
    open STDERR, '>&', \*STDOUT;
    exec "$ROOT/scripts/logs.pl", '--follow', '--new', '--level', 'warn' or POSIX::_exit(127);
}

END {
    local $?;
    if ($var && -d "$var/run") {
        system("SOUK_VAR_DIR=$var $ROOT/scripts/stop-local.sh >/dev/null 2>&1");
    }
    # Should stop-local.sh have missed one, a supervisor left behind would restart its
    # process forever: ours are known by pid.
    kill 'TERM', grep { waitpid($_, POSIX::WNOHANG()) == 0 } @sups;
    kill 'TERM', $con_pid if $con_pid;
}

supervise('monolith', SOUK_LISTEN => "127.0.0.1:$port{monolith}", SOUK_MONOLITH_DB => $mono->{dsn});
supervise('catalog', SOUK_LISTEN => "127.0.0.1:$port{catalog}", SOUK_CATALOG_DB => $cat_db->{dsn},
    SOUK_AMQP_URL => $amqp, SOUK_REDIS_URL => $redis->{url});
supervise('gateway', SOUK_GATEWAY_ROUTES => "$var/gateway/routes.json");

my @procs = qw(monolith catalog gateway);
# The table below is the one that said "all ready": asking again could catch a probe mid-blip.
my ($rc, $out, $err);
ok(wait_until('every process up and ready', sub { ($rc, $out, $err) = status(@procs); $rc == 0 }, 60),
    'soukctl status exits 0 once monolith, catalog and gateway are ready')
    or diag($out, $err, slurp("$var/log/supervise.log"));

# --- the table --------------------------------------------------------------------
like($out, qr/^PROCESS\s+ADDRESS\s+PID\s+STATE\s+READY\s+VERSION\s+DETAILS$/m, 'a header line');
my ($version) = slurp_metrics("http://127.0.0.1:$port{monolith}/metrics")
    =~ /^souk_build_info\{version="([^"]+)"\} 1$/m;
ok(defined $version && length $version, "/metrics carries souk_build_info (version $version)");
for my $p (@procs) {
    my $pid = app_pid($p);
    like($out, qr/^\Q$p\E\s+127\.0\.0\.1:$port{$p}\s+$pid\s+up\s+ready\s+\Q$version\E\b/m,
        "$p: address, pid $pid from the pid file, up, ready, version");
}
like($out, qr/^monolith\s.*\bmariadb=ok\b/m, 'monolith: what /ready checks');
like($out, qr/^catalog\s.*\bpostgresql=ok\b.*\bbacklog=\d+/m, 'catalog: its checks and the outbox backlog');
like($out, qr/^\s+products\s+canary 10%\s+monolith -> catalog$/m, 'gateway route products: canary 10%');
like($out, qr/^\s+catch_all\s+legacy\s+monolith -> -$/m, 'gateway route catch_all: legacy');

($rc, $out) = soukctl({SOUK_GATEWAY_ADMIN_TOKEN => 'wrong'}, 'status', 'gateway');
like($out, qr/admin API .* did not answer: status 401/, 'a wrong admin token is reported');

# --- a live migration: the souk-sync process and each domain's step ------------------------
my $mig = pg_fresh('migrate');
my %menv = (SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_CATALOG_DB => $cat_db->{dsn},
    SOUK_MIGRATE_DB => $mig->{dsn}, SOUK_SYNC_CATALOG_LISTEN => '127.0.0.1:' . free_port(),
    SOUK_SYNC_BINLOG_DB => mariadb_admin_dsn($mono->{db}),
    USER => 'console');
@ENV{keys %menv} = values %menv;    # as make run's shell has them
for my $step (qw(backfill sync)) {
    ($rc, $out, $err) = soukctl({}, 'migrate', 'catalog', $step);
    is($rc, 0, "soukctl migrate catalog $step") or diag($out, $err);
}
ok(wait_until('souk-sync up and ready', sub { ($rc, $out, $err) = status('migrate'); $rc == 0 }, 30),
    'status migrate exits 0 once souk-sync is ready') or diag($out, $err);
my $sync_pid = app_pid('sync-catalog');
like($out, qr/^sync-catalog\s+\Q$menv{SOUK_SYNC_CATALOG_LISTEN}\E\s+$sync_pid\s+up\s+ready\b.*\bsync=ok\b/m,
    'the souk-sync process: its address, pid, up, ready');
like($out, qr/^migrations \(soukctl migrate status\):\nDOMAIN\s+STEP\s+LAST RUN\s.*SYNC LAG\s+REVERSE LAG\s.*\ncatalog\s+sync\s+sync done\s+console\s+\S+\s+\d+ ev [\d.]+ s\s+-\s/m,
    'the migration: catalog at step sync, who ran it, its sync lag');
unlike($out, qr/^(monolith|gateway)\s/m, 'status migrate lists only the migration');
($rc, $out) = status();
like($out, qr/^monolith\s.*^sync-catalog\s.*^migrations /ms, 'plain status lists the processes, souk-sync, then the migration');
($rc, $out, $err) = soukctl({SOUK_MIGRATE_DB => 'postgresql://nobody:x@127.0.0.1:1/none'}, 'status', 'migrate');
is($rc, 1, 'status migrate: exit 1 when the migrate database does not answer');
like($err, qr/the migration state \(SOUK_MIGRATE_DB\) cannot be read/, '...saying which');

# --- probes are quiet, requests are not -----------------------------------------------
my @bad;
api_request("http://127.0.0.1:$port{gateway}", \@bad, GET => '/api/v1/products?limit=1')
    for 1 .. 3;
api_request("http://127.0.0.1:$port{monolith}", \@bad, GET => "/console-probe-$_", allow_5xx => 1)
    for 1 .. 2;
for my $p (@procs) { http(GET => "http://127.0.0.1:$port{$p}/$_") for qw(health ready metrics) }
is_deeply(\@bad, [], 'no 5xx from the traffic');
my $probes = 0;
ok(wait_until('the monolith counts the probes', sub {
    $probes = metric_value("http://127.0.0.1:$port{monolith}",
        'souk_http_requests_total{route="GET /health",status="200"}') // 0;
    $probes >= 5;
}, 10), "the gateway's health checks count in /metrics ($probes)");

my @mono = access_lines("$var/log/monolith.log");
ok((grep { ($_->{path} // '') =~ m{^/console-probe-} } @mono) == 2,
    'monolith.log: an access line per request');
my @cat = access_lines("$var/log/catalog.log");
is(scalar(grep { ($_->{path} // '') eq '/api/v1/products' } @mono, @cat), 3,
    'monolith.log and catalog.log (canary): the requests the gateway forwarded');
is_deeply([map {"$_->{path} $_->{level}"} grep { ($_->{path} // '') =~ m{^/(health|ready|metrics)$} } @mono],
    [], 'monolith.log: no access line of a probe at info');
my @gw = access_lines("$var/log/gateway.log");
ok((grep { ($_->{path} // '') eq '/api/v1/products' } @gw) == 3, 'gateway.log: a line per request');
is_deeply([map { $_->{path} } grep { ($_->{path} // '') =~ m{^/(health|ready|metrics)$} } @gw],
    [], 'gateway.log: no access line of a probe at info');
is_deeply([map { $_->{path} } grep { ($_->{path} // '') =~ m{^/(health|ready|metrics)$} } @cat],
    [], 'catalog.log: no access line of a probe at info');

# --- a process killed: down, reported, restarted ---------------------------------------
my $old = app_pid('monolith');
kill 'KILL', $old;
ok(wait_until('the monolith gone', sub { !kill 0, $old }, 5), "monolith (pid $old) killed");
($rc, $out) = status(@procs);
is($rc, 1, 'status: exit 1 while the monolith is down');
like($out, qr/^monolith\s+127\.0\.0\.1:$port{monolith}\s+-\s+DOWN\s.*supervisor \(pid \d+\) restarts it/m,
    'the monolith is DOWN, its supervisor named') or diag($out);
like($out, qr/^catalog\s+\S+\s+\d+\s+up\s+ready/m, 'the others stay up');

my $new;
ok(wait_until('the monolith back', sub { (status(@procs))[0] == 0 }, 60),
    'status exits 0 again once the supervisor restarted it');
$new = app_pid('monolith');
isnt($new, $old, "a new monolith process (pid $new)");
($rc, $out) = status('monolith');
like($out, qr/^monolith\s+\S+\s+$new\s+up\s+ready/m, 'the new pid, up and ready');

my $sup = slurp("$var/log/supervise.log");
like($sup, qr/ monolith exited with signal 9 \(KILL\) after \d+ s; restarting in 8 s\. Last lines of \S+monolith\.log:\n(    .*\n)+/,
    'the supervisor reports the death, the back-off and the last log lines');
like($sup, qr/ monolith restarted \(pid $new\)/, 'and the restart');

# --- the console ------------------------------------------------------------------------
ok(wait_until('the report on the console', sub { slurp($console) =~ /monolith exited with signal 9/ }, 10),
    'the console shows the supervisor report');
ok(wait_until('a gateway warning on the console',
    sub { slurp($console) =~ /^\S+ gateway +WARN +upstream 127\.0\.0\.1:$port{monolith} is unhealthy/m }, 10),
    "the console shows the gateway's warning, with its name in front");
my $con = slurp($console);
unlike($con, qr/\baccess\b/, 'the console carries no access line');
unlike($con, qr/^\S+ +\S+ +(INFO|DEBUG) /m, 'nor any info line (but the report quoting the log)');
ok(scalar(@mono) > 0 && scalar(@gw) > 0, 'while the log files hold the access lines');

# --- make logs: filters --------------------------------------------------------------------
my ($rid) = map { $_->{request_id} } grep { ($_->{path} // '') eq '/console-probe-1' } @mono;
my (undef, $t) = soukctl({}, 'logs', '--trace', $rid, 'monolith');
is(scalar(() = $t =~ /\n/g), 1, 'soukctl logs --trace: the one line of that request')
    && like($t, qr/^\S+ monolith INFO  access .*path=\/console-probe-1\b/, 'formatted for a person');
$t = `$ROOT/scripts/logs.pl -n 1000 --level warn gateway catalog`;
unlike($t, qr/ (INFO|DEBUG) /, 'logs --level warn: nothing below warn');
like($t, qr/gateway +WARN +upstream 127\.0\.0\.1:$port{monolith} is unhealthy/, 'logs --level warn: the warning');

# --- stop -------------------------------------------------------------------------------------
system("$ROOT/scripts/stop-local.sh >/dev/null");
for my $p (@procs) {
    ok(!-e "$var/run/app-$p.pid" && !-e "$var/run/super-$p.pid", "$p: stopped, pid files gone");
}
ok(wait_until('the supervisors to exit', sub { !grep { waitpid($_, POSIX::WNOHANG()) == 0 } @sups }, 10),
    'the supervisors exited');
ok(!kill(0, $new), 'the monolith is gone too');
($rc) = status(@procs);
is($rc, 1, 'status: exit 1 when everything is stopped');

done_testing;

sub slurp_metrics { http(GET => $_[0])->{body} // '' }
