package Souk::Test;
# Helpers for souk integration tests (STYLE.md §2.18). Core Perl modules only.
#
#   use Test::More;
#   use lib 'tests/lib';
#   use Souk::Test;
#   my $db  = mariadb_fresh('orders');
#   my $svc = spawn_service('monolith', SOUK_MONOLITH_DB => $db->{dsn});
#   is(http(GET => $svc->url . '/health')->{status}, 200, 'health');
#   undef $svc;    # SIGTERM now and check the exit status as a test
#   done_testing;
use strict;
use warnings;
use Exporter 'import';
use Cwd ();
use File::Spec ();
use File::Temp ();
use HTTP::Tiny ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Scalar::Util ();
use Test::More ();
use Test2::API ();    # ships with Test::More; for the done_testing hook
use Time::HiRes ();

our @EXPORT = qw(free_port infra mariadb_fresh mariadb_sql spawn_service http raw_http
    is_problem repo_root soukctl);

my $ROOT = Cwd::abs_path(File::Spec->catdir((File::Spec->splitpath(__FILE__))[1], '..', '..', '..'));
sub repo_root { $ROOT }

# Where the binaries are: `make check` points this at the sanitizer build.
sub _bin {
    my $build = $ENV{SOUK_BUILD} || 'build';
    $build = File::Spec->catdir($ROOT, $build) unless File::Spec->file_name_is_absolute($build);
    return File::Spec->catfile($build, 'bin', $_[0]);
}

my $JSON = JSON::PP->new->utf8->canonical;

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        Listen => 1) or die "free_port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# --- servers ----------------------------------------------------------------

my %KEY = (mariadb => 'mariadb_port', postgres => 'pg_port', redis => 'redis_port',
    rabbitmq => 'rabbit_port');
my %ENVNAME = (mariadb => 'MARIADB', postgres => 'PG', redis => 'REDIS', rabbitmq => 'RABBIT');
my %INFRA;
my ($OWN_VAR, $OWN_PID);    # set when this process started servers itself

# infra(@servers): ports of the servers tests/run.sh started (SOUK_TEST_*_PORT), or, when a
# test file runs alone, servers started here once per process and stopped at END.
sub infra {
    my @want = @_ ? @_ : ('mariadb');
    my @start;
    for my $n (@want) {
        die "infra: unknown server '$n'\n" unless $KEY{$n};
        if (my $p = $ENV{"SOUK_TEST_$ENVNAME{$n}_PORT"}) {
            $INFRA{$KEY{$n}} = $p;
            $INFRA{var_dir} //= $ENV{SOUK_TEST_VAR_DIR};
        } elsif (!$INFRA{$KEY{$n}}) {
            push @start, $n;
        }
    }
    _start_own(@start) if @start;
    return {%INFRA};
}

sub _start_own {
    my @names = @_;
    unless ($OWN_VAR) {
        $OWN_VAR = File::Temp::tempdir('souk-test-XXXXXX', TMPDIR => 1, CLEANUP => 1);
        chmod 0755, $OWN_VAR;    # the postgres user must reach its data dir inside
        $OWN_PID = $$;
    }
    local %ENV = (%ENV, SOUK_VAR_DIR => $OWN_VAR, SOUK_REDIS_PERSIST => 0);
    for my $n (@names) {
        $ENV{"SOUK_$ENVNAME{$n}_PORT"} = $INFRA{$KEY{$n}} = free_port();
    }
    $ENV{SOUK_RABBIT_DIST_PORT} = free_port();
    $ENV{SOUK_RABBIT_EPMD_PORT} = free_port();
    my ($rc, $out, $err) = _run(["$ROOT/scripts/start-local.sh", @names]);
    Test::More::note($out) if length $out;
    die "infra: start-local.sh @names failed:\n$out$err" if $rc;
    $INFRA{var_dir} = $OWN_VAR;
}

# _run([cmd...], {ENV => value}): run without a shell; (exit status, stdout, stderr).
sub _run {
    my ($cmd, $env) = @_;
    my $o = File::Temp->new;
    my $e = File::Temp->new;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        @ENV{keys %$env} = values %$env if $env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $o->filename;
        open STDERR, '>', $e->filename;
        exec @$cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $rc = $?;
    return ($rc, _slurp($o->filename), _slurp($e->filename));
}

# soukctl(\%env, @args): run the built soukctl; (exit code, stdout, stderr).
sub soukctl {
    my ($env, @args) = @_;
    my ($rc, $out, $err) = _run([_bin('soukctl'), @args], $env);
    return ($rc >> 8, $out, $err);
}

sub _slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    return scalar <$fh> // '';
}

# --- MariaDB ----------------------------------------------------------------

# mariadb_sql($db, $sql): run SQL as souk_admin; rows as arrayrefs. The client's batch
# mode escapes tabs/newlines/backslashes and prints NULL as "NULL" (read back as undef).
sub mariadb_sql {
    my ($db, $sql) = @_;
    my $port = infra('mariadb')->{mariadb_port};
    my ($rc, $out, $err) = _run(
        ['mariadb', '--no-defaults', '--protocol=tcp', '-h', '127.0.0.1', '-P', $port,
            '-u', 'souk_admin', '--batch', '--skip-column-names',
            (defined $db ? ('-D', $db) : ()), '-e', $sql],
        {MYSQL_PWD => $ENV{SOUK_MARIADB_ADMIN_PASSWORD} // 'souk-dev'});
    die "mariadb_sql: $err" if $rc;
    my %unesc = (n => "\n", t => "\t", 0 => "\0", '\\' => '\\');
    return [map {
        [map { $_ eq 'NULL' ? undef : s/\\([nt0\\])/$unesc{$1}/gr } split /\t/, $_, -1]
    } split /\n/, $out];
}

# mariadb_fresh($name): a new database and a user allowed only on it, with the monolith
# schema applied by soukctl (so the migrations run on every test run).
my $FRESH = 0;
sub mariadb_fresh {
    my ($name) = @_;
    my $port = infra('mariadb')->{mariadb_port};
    (my $slug = lc($name // 'db')) =~ s/[^a-z0-9_]+/_/g;
    my $db = sprintf('t_%s_%d_%d', substr($slug, 0, 40), $$, ++$FRESH);    # names: 64 chars max
    my ($user, $pw) = ($db, 'souk-test');
    mariadb_sql(undef, "CREATE DATABASE `$db` CHARACTER SET utf8mb4;
        CREATE USER '$user'\@'%' IDENTIFIED BY '$pw';
        GRANT ALL PRIVILEGES ON `$db`.* TO '$user'\@'%';");
    my $dsn = "mysql://$user:$pw\@127.0.0.1:$port/$db";
    unless ($ENV{SOUK_TEST_NO_SCHEMA}) {
        my $ctl = _bin('soukctl');
        die "mariadb_fresh: $ctl is missing (build first, or set SOUK_TEST_NO_SCHEMA=1)\n"
            unless -x $ctl;
        my ($rc, $out, $err) = _run([$ctl, qw(schema up monolith)], {SOUK_MONOLITH_DB => $dsn});
        die "mariadb_fresh: soukctl schema up monolith failed ($rc):\n$out$err" if $rc;
    }
    return {db => $db, user => $user, password => $pw, port => $port, dsn => $dsn};
}

# --- services ---------------------------------------------------------------

my %LIVE;    # weak refs to running services, stopped at END before the servers

# done_testing (or the end of a plan-less file) stops the services still running, so their
# exit status is still counted as a test.
Test2::API::test2_add_callback_testing_done(sub { $_->stop for grep {defined} values %LIVE });

# spawn_service($name, %env): run build/bin/souk-$name on a free port until /ready is 200.
sub spawn_service {
    my ($name, %env) = @_;
    (my $tag = uc $name) =~ s/-/_/g;
    if (my $target = $ENV{"SOUK_TEST_TARGET_$tag"}) {    # an instance someone runs already
        my ($host, $port) = $target =~ /^(?:.*:\/\/)?([^:\/]+):(\d+)/
            or die "SOUK_TEST_TARGET_$tag: want HOST:PORT, got '$target'\n";
        return bless {name => $name, host => $host, port => $port, external => 1},
            'Souk::Test::Service';
    }
    my $bin = _bin("souk-$name");
    die "spawn_service: $bin is missing (build first)\n" unless -x $bin;
    my $port = free_port();
    my $err = File::Temp->new(TEMPLATE => "souk-$name-XXXXXX", TMPDIR => 1);
    my %set = (SOUK_LISTEN => "127.0.0.1:$port",
        SOUK_LOG_LEVEL => $ENV{SOUK_LOG_LEVEL} // 'warn', %env);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        @ENV{keys %set} = values %set;
        open STDIN, '<', '/dev/null';
        open STDERR, '>', $err->filename;
        open STDOUT, '>&', \*STDERR;    # keep the test's stdout pure TAP
        exec $bin or POSIX::_exit(127);
    }
    my $s = bless {name => $name, host => '127.0.0.1', port => $port, pid => $pid,
        err => $err, owner => $$}, 'Souk::Test::Service';
    $LIVE{Scalar::Util::refaddr($s)} = $s;
    Scalar::Util::weaken($LIVE{Scalar::Util::refaddr($s)});

    my $ua = HTTP::Tiny->new(timeout => 1, keep_alive => 0);
    my $deadline = Time::HiRes::time() + ($ENV{SOUK_TEST_READY_TIMEOUT} || 20);
    while (1) {
        my $res = $ua->get("http://127.0.0.1:$port/ready");
        return $s if $res->{status} == 200;
        my $why = waitpid($pid, POSIX::WNOHANG()) == $pid ? "exited with status $?"
            : Time::HiRes::time() > $deadline ? "not ready (last /ready: $res->{status})"
            : undef;
        if ($why) {
            $s->{done} = 1;    # reported here; DESTROY must not add a test
            if (kill 0, $pid) { kill 'KILL', $pid; waitpid $pid, 0 }
            Test::More::diag("souk-$name stderr:\n" . $s->stderr_text);
            die "spawn_service: souk-$name $why\n";
        }
        Time::HiRes::sleep(0.05);
    }
}

# --- HTTP -------------------------------------------------------------------

my $UA;
sub http {
    my ($method, $url, $o) = @_;
    $o ||= {};
    $UA ||= HTTP::Tiny->new(keep_alive => 1, timeout => 30, agent => 'souk-test');
    my %h = %{$o->{headers} || {}};
    my $body = $o->{body};
    if (exists $o->{json}) {
        $body = $JSON->encode($o->{json});
        $h{'Content-Type'} = 'application/json' unless grep { lc eq 'content-type' } keys %h;
    }
    my $r = $UA->request($method, $url, {headers => \%h, (defined $body ? (content => $body) : ())});
    my $ct = $r->{headers}{'content-type'} // '';
    my $json;
    $json = eval { $JSON->decode($r->{content}) }
        if $ct =~ m{^application/(?:problem\+)?json\b}i && length($r->{content} // '');
    return {status => $r->{status}, headers => $r->{headers}, body => $r->{content},
        json => $json};
}

# raw_http($port, $bytes, $timeout): write bytes as they are, return everything the server
# sends until it closes or $timeout seconds (default 5) pass.
sub raw_http {
    my ($port, $bytes, $timeout) = @_;
    my $addr = $port =~ /:/ ? $port : "127.0.0.1:$port";
    my $sock = IO::Socket::INET->new(PeerAddr => $addr, Proto => 'tcp', Timeout => 5)
        or die "raw_http: connect $addr: $!";
    local $SIG{PIPE} = 'IGNORE';    # the server may close before we finish writing
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
        last unless $n;
        $off += $n;
    }
    my ($out, $sel) = ('', IO::Select->new($sock));
    my $deadline = Time::HiRes::time() + ($timeout // 5);
    while ((my $left = $deadline - Time::HiRes::time()) > 0) {
        last unless $sel->can_read($left);
        last unless sysread($sock, $out, 65536, length $out);    # 0 = closed, undef = reset
    }
    close $sock;
    return $out;
}

# is_problem($res, $status, $slug, $name): one test that $res (from http()) is an RFC 9457
# problem with that status and a type ending in $slug.
sub is_problem {
    my ($res, $status, $slug, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @bad;
    my $j = $res->{json};
    push @bad, "status is $res->{status}, want $status" if $res->{status} != $status;
    push @bad, "content-type is '" . ($res->{headers}{'content-type'} // '') . "'"
        unless ($res->{headers}{'content-type'} // '') =~ m{^application/problem\+json\s*(?:;|$)}i;
    if (ref $j ne 'HASH') {
        push @bad, 'body is not a JSON object';
    } else {
        push @bad, "type is '" . ($j->{type} // 'missing') . "', want ...$slug"
            unless defined $j->{type} && !ref $j->{type} && $j->{type} =~ m{(?:^|[/:#])\Q$slug\E$};
        push @bad, 'title missing' unless defined $j->{title} && !ref $j->{title} && length $j->{title};
        push @bad, 'body status is ' . ($j->{status} // 'missing')
            unless defined $j->{status} && $j->{status} =~ /^\d+$/ && $j->{status} == $status;
        push @bad, 'detail missing' unless defined $j->{detail} && !ref $j->{detail};
    }
    my $ok = Test::More::ok(!@bad, $name // "problem $status $slug");
    Test::More::diag(join("\n", @bad) . "\nbody: " . ($res->{body} // '')) unless $ok;
    return $ok;
}

our $LATE_FAILURE;    # a service exited badly after the plan was complete

END {
    {
        local $?;    # the test's exit status; only a bad service exit may raise it
        $_->stop for grep {defined} values %LIVE;
        if ($OWN_VAR && $OWN_PID == $$) {
            my ($rc, $out, $err) = _run(["$ROOT/scripts/stop-local.sh"], {SOUK_VAR_DIR => $OWN_VAR});
            print STDERR "stop-local.sh: $out$err" if $rc;
        }
    }
    $? ||= 1 if $LATE_FAILURE;
}

package Souk::Test::Service;

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub url  { "http://$_[0]{host}:$_[0]{port}" }

sub stderr_text {
    my $s = shift;
    return '' unless $s->{err};
    return Souk::Test::_slurp($s->{err}->filename);
}

# stop: SIGTERM, wait up to 10 s (then SIGKILL), and check for a clean exit: a test while the
# plan is open, a diagnostic after it. True if the exit was clean.
sub stop {
    my $s = shift;
    return 1 if $s->{external} || $s->{done} || $s->{owner} != $$;
    $s->{done} = 1;
    kill 'TERM', $s->{pid};
    my $deadline = Time::HiRes::time() + 10;
    my $got = 0;
    while (Time::HiRes::time() < $deadline) {
        last if ($got = waitpid($s->{pid}, POSIX::WNOHANG())) == $s->{pid};
        Time::HiRes::sleep(0.02);
    }
    my $status = $?;
    my $why;
    if ($got != $s->{pid}) {
        kill 'KILL', $s->{pid};
        waitpid $s->{pid}, 0;
        $why = 'did not exit within 10 s of SIGTERM';
    } elsif ($status) {
        $why = ($status & 127) ? 'killed by signal ' . ($status & 127) : 'exit status ' . ($status >> 8);
    }
    my $name = "souk-$s->{name} exits cleanly on SIGTERM";
    my $ended = eval { Test2::API::test2_stack()->top->ended } || ${^GLOBAL_PHASE} eq 'DESTRUCT';
    if (!$ended) {
        local $Test::Builder::Level = $Test::Builder::Level + 2;
        Test::More::ok(!$why, $name) or Test::More::diag("$why; stderr:\n" . $s->stderr_text);
    } elsif ($why) {    # too late for a test (file-scope guards die after done_testing)
        print STDERR "# not ok: $name: $why; stderr:\n" . $s->stderr_text;
        $Souk::Test::LATE_FAILURE = 1;
    }
    return !$why;
}

sub DESTROY { local ($@, $!, $?); $_[0]->stop }

1;
