package Souk::Test;
# Helpers for souk integration tests (STYLE.md §2.18): the run's servers, fresh databases,
# services; with what Souk::Ports (free ports), Souk::Token (JWTs) and Souk::Http (requests,
# problem checks) define, exported from here too. Core Perl modules only.
#
#   use Test::More;
#   use lib 'tests/lib';
#   use Souk::Test;
#   my $db  = mariadb_fresh('orders');      # or pg_fresh('catalog'), redis_start(), rabbit_vhost()
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

our @EXPORT = qw(free_port free_ports infra mariadb_fresh mariadb_sql pg_fresh pg_sql pg_admin_dsn
    redis_start rabbit_vhost rabbitmqctl spawn_service launch_service http raw_http is_problem repo_root soukctl
    mariadb_admin_dsn jwt_mint jwt_sign b64url b64url_decode wait_until key_order json_shape fresh_service
    api_request metric_value no_failures);

my $ROOT = Cwd::abs_path(File::Spec->catdir((File::Spec->splitpath(__FILE__))[1], '..', '..', '..'));
sub repo_root { $ROOT }

# Where the binaries are: `make check` points this at the sanitizer build.
sub _bin {
    my $build = $ENV{SOUK_BUILD} || 'build';
    $build = File::Spec->catdir($ROOT, $build) unless File::Spec->file_name_is_absolute($build);
    return File::Spec->catfile($build, 'bin', $_[0]);
}

my $JSON = JSON::PP->new->utf8->canonical;

# Ports (Souk::Ports) and tokens (Souk::Token) live apart; Souk::Test exports them as its own.
use Souk::Ports qw(free_port free_ports);
use Souk::Token qw(jwt_mint jwt_sign b64url b64url_decode);
use Souk::Http qw(http raw_http is_problem key_order json_shape);
our $DEV_SECRET = $Souk::Token::DEV_SECRET;


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
my @FRESH_DBS;    # every database pg_fresh made, for the event capture below
my $CAPTURE_JSON = JSON::PP->new->canonical->utf8;    # SOUK_API_CAPTURE lines
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

# With SOUK_API_CAPTURE=DIR, when the file's tests are done, every event in the outbox of each
# database pg_fresh made (the exact bytes the relay publishes) is appended to
# DIR/<pid>.events.jsonl for contracts/bin/events.mjs, which checks it against its schema.
# A test that writes a malformed event on purpose names its id with event_invalid_on_purpose:
# the check then wants that event to fail its schema.
my %INVALID_ON_PURPOSE;
sub event_invalid_on_purpose { $INVALID_ON_PURPOSE{$_} = 1 for @_ }
Test2::API::test2_add_callback_testing_done(sub {
    return unless $ENV{SOUK_API_CAPTURE} && @FRESH_DBS;
    my @lines;
    for my $db (@FRESH_DBS) {
        my $rows = eval {
            pg_sql($db, "SELECT to_regclass('public.outbox') IS NOT NULL")->[0][0] eq 't'
                ? pg_sql($db, 'SELECT envelope FROM outbox ORDER BY seq') : [];
        } // [];    # a database the test dropped has nothing left to check
        for my $r (@$rows) {
            utf8::decode(my $text = $r->[0]);
            my ($id) = $text =~ /"id":"([^"]+)"/;
            push @lines, $CAPTURE_JSON->encode({file => $0, db => $db, envelope => $text,
                ($id && $INVALID_ON_PURPOSE{$id} ? (invalid_on_purpose => JSON::PP::true) : ())});
        }
    }
    return unless @lines;
    open my $fh, '>>', "$ENV{SOUK_API_CAPTURE}/$$.events.jsonl" or return;
    print $fh map {"$_\n"} @lines;
    close $fh;
});

# --- PostgreSQL -------------------------------------------------------------

# mariadb_admin_dsn($db): souk_admin (who may stream the binlog: REPLICATION SLAVE) on database
# $db (default none), as souk-sync wants it in SOUK_SYNC_BINLOG_DB.
sub mariadb_admin_dsn {
    my ($db) = @_;
    my $port = infra('mariadb')->{mariadb_port};
    return "mysql://souk_admin:" . ($ENV{SOUK_MARIADB_ADMIN_PASSWORD} // 'souk-dev')
        . "\@127.0.0.1:$port/" . ($db // '');
}

my $PSQL = -x '/usr/lib/postgresql/15/bin/psql' ? '/usr/lib/postgresql/15/bin/psql' : 'psql';
my $PG_ADMIN_PW = $ENV{SOUK_PG_ADMIN_PASSWORD} // 'souk-dev';

# pg_admin_dsn($db): the superuser souk_admin on database $db (default postgres), as soukctl
# wants it in SOUK_PG_ADMIN_DSN.
sub pg_admin_dsn {
    my ($db) = @_;
    my $port = infra('postgres')->{pg_port};
    return "postgresql://souk_admin:$PG_ADMIN_PW\@127.0.0.1:$port/" . ($db // 'postgres');
}

# pg_sql($db, $sql, $user, $password): run SQL (several statements allowed) with psql, as
# souk_admin unless $user is given; rows of every statement that returns rows, as arrayrefs.
# Unaligned output: a value holding a tab or a newline comes back split. SQL NULL is undef.
# Dies with psql's message (e.g. "permission denied for database ...") on any error.
sub pg_sql {
    my ($db, $sql, $user, $pw) = @_;
    my $port = infra('postgres')->{pg_port};
    my $f = File::Temp->new(SUFFIX => '.sql');
    print $f $sql;
    close $f;
    my $null = "\x01NULL\x01";
    my ($rc, $out, $err) = _run(
        [$PSQL, '-X', '-q', '-A', '-t', '-F', "\t", '-P', "null=$null", '-v', 'ON_ERROR_STOP=1',
            '-h', '127.0.0.1', '-p', $port, '-U', $user // 'souk_admin', '-d', $db // 'postgres',
            '-f', $f->filename],
        {PGPASSWORD => defined $user ? $pw // '' : $PG_ADMIN_PW, PGCONNECT_TIMEOUT => 10,
            PGAPPNAME => 'souk-test'});
    die "pg_sql: $err" if $rc;
    return [map { [map { $_ eq $null ? undef : $_ } split /\t/, $_, -1] } split /\n/, $out];
}

# pg_fresh($svc): a new database and login role for service $svc ('catalog', 'search'),
# unique per call, made by `soukctl db create $svc` and migrated by `soukctl schema up $svc`
# (so both are tested on every run). SOUK_TEST_NO_SCHEMA=1 skips the migrations (and, without
# a built soukctl, creates the database with psql instead).
sub pg_fresh {
    my ($svc) = @_;
    die "pg_fresh: want a service name\n" unless defined $svc && $svc =~ /^[a-z][a-z0-9_]*$/;
    my $port = infra('postgres')->{pg_port};
    my $db = sprintf('t_%s_%d_%d', substr($svc, 0, 40), $$, ++$FRESH);    # names: 63 chars max
    my ($user, $pw) = ($db, 'souk-test');
    my $dsn = "postgresql://$user:$pw\@127.0.0.1:$port/$db";
    my %env = ('SOUK_' . uc($svc) . '_DB' => $dsn, SOUK_PG_ADMIN_DSN => pg_admin_dsn());
    my $ctl = _bin('soukctl');
    if (-x $ctl) {
        my ($rc, $out, $err) = _run([$ctl, 'db', 'create', $svc], \%env);
        die "pg_fresh: soukctl db create $svc failed ($rc):\n$out$err" if $rc;
    } elsif ($ENV{SOUK_TEST_NO_SCHEMA}) {
        pg_sql(undef, "CREATE ROLE $user LOGIN PASSWORD '$pw'");
        pg_sql(undef, "CREATE DATABASE $db OWNER $user");
        pg_sql(undef, "REVOKE ALL ON DATABASE $db FROM PUBLIC");
    } else {
        die "pg_fresh: $ctl is missing (build first, or set SOUK_TEST_NO_SCHEMA=1)\n";
    }
    unless ($ENV{SOUK_TEST_NO_SCHEMA}) {
        my ($rc, $out, $err) = _run([$ctl, 'schema', 'up', $svc], \%env);
        die "pg_fresh: soukctl schema up $svc failed ($rc):\n$out$err" if $rc;
    }
    push @FRESH_DBS, $db;
    return {db => $db, user => $user, password => $pw, port => $port, dsn => $dsn};
}

# --- Redis ------------------------------------------------------------------

my %REDIS;    # weak refs to private redis-servers, stopped at END

# redis_start(): a private redis-server on a free port for this test file (no persistence),
# stopped at END. Returns a Souk::Test::Redis: {port, url => "redis://127.0.0.1:N/0", pid};
# ->stop and ->start take it down and bring it back on the same port ("Redis down" tests).
sub redis_start {
    my $port = free_port();
    my $r = bless {port => $port, url => "redis://127.0.0.1:$port/0", owner => $$,
        dir => File::Temp::tempdir('souk-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1)},
        'Souk::Test::Redis';
    $REDIS{Scalar::Util::refaddr($r)} = $r;
    Scalar::Util::weaken($REDIS{Scalar::Util::refaddr($r)});
    $r->start;
    return $r;
}

# --- RabbitMQ ---------------------------------------------------------------

# rabbitmqctl(@args): run $var_dir/bin/rabbitmqctl (written by start-local.sh) against the
# run's broker; (exit code, stdout, stderr). E.g. rabbitmqctl(qw(-q list_queues -p), $vhost).
sub rabbitmqctl {
    my $var = infra('rabbitmq')->{var_dir} // die "rabbitmqctl: no var dir for the broker\n";
    my ($rc, $out, $err) = _run(["$var/bin/rabbitmqctl", @_]);
    return ($rc >> 8, $out, $err);
}

# rabbit_vhost(): a fresh vhost on the run's broker with all permissions for user souk;
# returns its URL amqp://souk:PASSWORD@127.0.0.1:PORT/VHOST (the vhost percent-encoded).
# The vhost is left for the broker to forget (each run's broker is thrown away).
my $VHOSTS = 0;
sub rabbit_vhost {
    my $port = infra('rabbitmq')->{rabbit_port};
    (my $file = (File::Spec->splitpath($0))[2]) =~ s/\.t$//;
    $file =~ s/[^A-Za-z0-9_]+/_/g;
    my $vhost = sprintf('t_%s_%d_%d', substr($file, 0, 60), $$, ++$VHOSTS);
    for my $cmd (['add_vhost', $vhost], ['set_permissions', '-p', $vhost, 'souk', '.*', '.*', '.*']) {
        my ($rc, $out, $err) = rabbitmqctl('-q', @$cmd);
        die "rabbit_vhost: rabbitmqctl @$cmd failed ($rc):\n$out$err" if $rc;
    }
    my $pw = $ENV{SOUK_RABBIT_PASSWORD} // 'souk-dev';
    my $enc = sub { $_[0] =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ger };
    return sprintf('amqp://souk:%s@127.0.0.1:%d/%s', $enc->($pw), $port, $enc->($vhost));
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
    my $s = launch_service($name, %env);
    my ($port, $pid) = @$s{qw(port pid)};
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

# launch_service($name, %env): start build/bin/souk-$name on a free port without waiting for
# /ready (for a process that may die at once); the same guard as spawn_service. A caller that
# reaps the process itself sets {done} on the guard.
sub launch_service {
    my ($name, %env) = @_;
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
    return $s;
}

# fresh_service($name, %env): souk-$name on a database of its own (pg_fresh($name), given as
# SOUK_<NAME>_DB) and, unless %env has SOUK_AMQP_URL, a vhost of its own. The service guard
# also holds {db} (pg_fresh's answer) and {amqp}.
sub fresh_service {
    my ($name, %env) = @_;
    my $db = pg_fresh($name);
    my $amqp = $env{SOUK_AMQP_URL} //= rabbit_vhost();
    my $s = spawn_service($name, 'SOUK_' . uc($name) . '_DB' => $db->{dsn}, %env);
    @$s{qw(db amqp)} = ($db, $amqp);
    return $s;
}

# api_request($base, \@bad, $method, $path, token => ..., cookie => ..., json => ...,
# body => ..., headers => {...}, allow_5xx => 1): http() against $base with a bearer token
# and a cookie; a 5xx answer (unless allowed) is remembered in @bad for no_failures().
sub api_request {
    my ($base, $bad, $method, $path, %o) = @_;
    my %h = %{$o{headers} || {}};
    $h{Authorization} = "Bearer $o{token}" if defined $o{token};
    $h{Cookie} = $o{cookie} if defined $o{cookie};
    my $res = http($method, $base . $path, {headers => \%h,
        (exists $o{json} ? (json => $o{json}) : ()),
        (defined $o{body} ? (body => $o{body}) : ())});
    push @$bad, "$method $path -> $res->{status}: " . ($res->{body} // '')
        if $res->{status} >= 500 && !$o{allow_5xx};
    return $res;
}

# metric_value($svc_or_url, $series): the value of a series on GET /metrics (undef if absent).
sub metric_value {
    my ($svc, $series) = @_;
    my $text = http(GET => (ref $svc ? $svc->url : $svc) . '/metrics')->{body} // '';
    return $text =~ /^\Q$series\E (\S+)$/m ? $1 + 0 : undef;
}

# no_failures(\@bad, \@services, %o): two tests: no 5xx was remembered in @bad, and no
# service logged an error line, except lines matching $o{expected} and refusals of GET /ready
# (a backbone still connecting when spawn_service polls it) unless $o{ready} is true.
# $o{name} prefixes the test names.
sub no_failures {
    my ($bad, $svcs, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $p = defined $o{name} ? "$o{name}: " : '';
    Test::More::is_deeply($bad, [], "${p}no 5xx responses") or Test::More::diag(join "\n", @$bad);
    my @err = grep {
        /"level":"error"/ && ($o{ready} || !/"path":"\/ready"/)
            && !($o{expected} && /$o{expected}/)
    } map { split /\n/, $_->stderr_text } @$svcs;
    Test::More::is(scalar @err, 0, "${p}no error lines in the log")
        or Test::More::diag(join "\n", @err[0 .. ($#err > 20 ? 20 : $#err)]);
}

# wait_until($what, sub { ... }, $timeout_s, $step_s) or wait_until(sub { ... }, $timeout_s,
# $step_s): poll the sub every $step_s (default 0.05 s) until it returns true (that value is
# returned) or $timeout_s (default 30) pass (a diagnostic naming $what, then 0).
sub wait_until {
    my $what = ref $_[0] eq 'CODE' ? 'a condition' : shift;
    my ($cond, $timeout, $step) = @_;
    $timeout //= 30;
    my $deadline = Time::HiRes::time() + $timeout;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        last if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep($step // 0.05);
    }
    Test::More::diag("timed out after $timeout s waiting for $what");
    return 0;
}

our $LATE_FAILURE;    # a service exited badly after the plan was complete

END {
    {
        local $?;    # the test's exit status; only a bad service exit may raise it
        $_->stop for grep {defined} values %LIVE;
        $_->stop for grep {defined} values %REDIS;
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
    # Under `make check` a sanitizer report goes to a file of its own (tests/run.sh, log_path),
    # <log_path>.<program>.<pid>: show it with the stderr it would have gone to.
    my @san = map { /(?:^|:)log_path=([^:]+)/ ? glob("$1.*.$s->{pid}") : () }
        grep {defined} @ENV{qw(ASAN_OPTIONS UBSAN_OPTIONS)};
    return join '', map { Souk::Test::_slurp($_) } $s->{err}->filename, @san;
}

# resume_if_stopped($pid): SIGCONT, before the SIGTERM, to a process a test left stopped
# (SIGSTOP), so it exits now and not after 10 s + KILL. Only to a stopped one, and never after
# the SIGTERM: a CONT that reaches an exiting sanitizer build while LeakSanitizer stops its
# threads to scan them can leave it hung (CI saw two gateways never exit that way).
sub resume_if_stopped {
    my ($pid) = @_;
    open(my $fh, '<', "/proc/$pid/stat") or return;
    my $stat = <$fh> // '';
    close $fh;
    kill 'CONT', $pid if $stat =~ /\)\s+[Tt]\s/;
}

# stop: SIGTERM, wait up to 10 s (then SIGKILL), and check for a clean exit: a test while the
# plan is open, a diagnostic after it. True if the exit was clean.
sub stop {
    my $s = shift;
    return 1 if $s->{external} || $s->{done} || $s->{owner} != $$;
    $s->{done} = 1;
    resume_if_stopped($s->{pid});
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

package Souk::Test::Redis;

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }
sub url  { $_[0]{url} }

# start: run redis-server in the foreground of a child and wait until it answers PING.
# Does nothing when it is running already.
sub start {
    my $r = shift;
    return $r if $r->{pid};
    my $log = "$r->{dir}/redis.log";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        chdir $r->{dir};
        exec 'redis-server', '--port', $r->{port}, '--bind', '127.0.0.1', '--save', '',
            '--appendonly', 'no', '--daemonize', 'no', '--dir', $r->{dir}
            or POSIX::_exit(127);
    }
    $r->{pid} = $pid;
    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline) {
        return $r if $r->ping;
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            delete $r->{pid};
            die "redis_start: redis-server exited ($?):\n" . Souk::Test::_slurp($log);
        }
        Time::HiRes::sleep(0.05);
    }
    $r->stop;
    die "redis_start: redis-server not answering on port $r->{port}:\n" . Souk::Test::_slurp($log);
}

# ping: true when the server answers +PONG.
sub ping {
    my $r = shift;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$r->{port}", Proto => 'tcp',
        Timeout => 1) or return 0;
    syswrite $s, "PING\r\n";
    my $got = '';
    IO::Select->new($s)->can_read(1) and sysread $s, $got, 64;
    return $got =~ /^\+PONG/;
}

# stop: SIGTERM and wait (SIGKILL after 10 s); the port is free again afterwards.
sub stop {
    my $r = shift;
    my $pid = delete $r->{pid} or return $r;
    return $r if $r->{owner} != $$;
    Souk::Test::Service::resume_if_stopped($pid);
    kill 'TERM', $pid;
    my $deadline = Time::HiRes::time() + 10;
    while (waitpid($pid, POSIX::WNOHANG()) != $pid) {
        if (Time::HiRes::time() > $deadline) { kill 'KILL', $pid; waitpid $pid, 0; last }
        Time::HiRes::sleep(0.02);
    }
    return $r;
}

sub DESTROY { local ($@, $!, $?); $_[0]->stop }

1;
