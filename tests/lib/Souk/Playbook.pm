package Souk::Playbook;
# Helpers for the live-migration playbook's end-to-end tests (tests/integration/34_* to 38_*,
# bench/cutover_catalog.t): the shop a domain moves in (a seeded monolith, the domain's service,
# a gateway in front of both, the playbook's state database and the environment soukctl migrate
# runs in), the walk every domain takes under a writer load with the checks they all share, a
# bounded write load of forked clients, what it was told, the syncs' lag, and cleaning up the
# supervise.sh processes the playbook started. What is specific to a domain (its writes, what
# proves nothing was lost, its checks on new) stays in its test. Core Perl modules only.
#
#   my $shop = Souk::Playbook->start('users', name => 'migusers', user => 'accounts-team',
#       seed => [qw(--products 10 --users 20 --orders 5 --reviews 5 --carts 1)],
#       routes => [route(name => 'accounts', path => '/api/v1/accounts', legacy => 'monolith',
#           new => 'users', hold_ms => 10000)]);          # a catch_all to the monolith is added
#   sub writers { my ($count) = @_; load(2, [...$count items...], 0.02, sub { my ($ua, $item) = @_; ... }) }
#   my ($load1, $load2) = $shop->walk(writers => \&writers, load => [16, 20], canary => 20,
#       what => 'registrations', synced => sub { my ($load1) = @_; ... });  # backfill .. cutover
#   ... the domain's own checks on new ...
#   my $load4 = $shop->roll_back(writers => \&writers, load => 10, what => 'registrations',
#       settled => sub { my ($load4) = @_; ... });        # rollback under load .. verify
#   my ($rc, $out, $err) = $shop->migrate('verify');      # soukctl migrate users verify
#   my ($answers, $rc, $out) = $shop->under_load(sub { writers(10) }, 'rollback');
#
#   my $wait = load(2, \@items, 0.02, sub { my ($ua, $item) = @_; $ua->request(...) });
#   ... run playbook steps meanwhile ...
#   my $answers = $wait->();            # [[status, id, why], ...] of every request
#   no_failures_in($answers, 'load during the cutover');
use strict;
use warnings;
use Exporter 'import';
use File::Temp ();
use HTTP::Tiny ();
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time);
use Test::More ();

use Souk::Test ();
use Souk::Gateway ();

our @EXPORT = qw(load during loaded_during no_failures_in acked_ids stop_supervisors logs_tail running);

# ---- the shop a domain moves in ----------------------------------------------------------------

my @VARS;    # every shop's SOUK_VAR_DIR: its supervisors are stopped at the end, even after a die
END { stop_supervisors($_) for @VARS }

# Souk::Playbook->start($domain, %o): a fresh monolith seeded with @{$o{seed}} (and --now
# 2025-06-01; the seed is a check named $o{seed_check}), the monolith, the domain's service on
# a fresh database (after the monolith: $o{service_env}->($shop) may name it), a gateway with
# @{$o{routes}} and a catch_all to the monolith, the playbook's state database and a
# SOUK_VAR_DIR. $o{redis}: a private Redis, named to the service and to the playbook (a domain
# kept in Redis would otherwise reach for the default port, another run's). $o{user}: who runs
# the playbook. $o{timed}: say how long the seed and each step took (the bench).
# Fields: domain, mono (mariadb_fresh), redis, state (pg_fresh), var, monolith, service, gw,
# routes, env (the playbook's), secret.
sub start {
    my ($class, $domain, %o) = @_;
    my $name = $o{name} // "mig$domain";
    my $self = bless {domain => $domain, secret => $Souk::Gateway::JWT_SECRET, timed => $o{timed},
        routes => $o{routes}}, $class;
    my $mono = $self->{mono} = Souk::Test::mariadb_fresh($name);
    $self->{redis} = Souk::Test::redis_start() if $o{redis};
    $self->{state} = Souk::Test::pg_fresh('migrate');
    $self->{var} = File::Temp->newdir("souk-$name-XXXXXX", TMPDIR => 1);
    push @VARS, "$self->{var}";

    my $t0 = Time::HiRes::time();
    my ($rc, $out, $err) = Souk::Test::soukctl({SOUK_MONOLITH_DB => $mono->{dsn}},
        'seed', @{$o{seed}}, qw(--now 2025-06-01));
    Test::More::is($rc, 0, $o{seed_check} // 'seed a small monolith') or Test::More::diag($err);
    Test::More::diag(sprintf 'seed: %.1f s', Time::HiRes::time() - $t0) if $o{timed};

    my $m = $self->{monolith} = Souk::Test::spawn_service('monolith',
        SOUK_MONOLITH_DB => $mono->{dsn}, SOUK_JWT_SECRET => $self->{secret});
    my %redis = $o{redis} ? (SOUK_REDIS_URL => $self->{redis}{url}) : ();
    my $svc = $self->{service} = Souk::Test::fresh_service($domain,
        SOUK_JWT_SECRET => $self->{secret}, %redis, $o{service_env} ? $o{service_env}->($self) : ());
    $self->{gw} = Souk::Gateway->start(routes => Souk::Gateway::table(
        upstreams => {monolith => Souk::Gateway::pool("$m->{host}:" . $m->port),
            $domain => Souk::Gateway::pool("$svc->{host}:" . $svc->port)},
        routes => [@{$o{routes}},
            Souk::Gateway::route(name => 'catch_all', path => '/', legacy => 'monolith')]));

    # The binlog stream needs the admin user (REPLICATION SLAVE), not the test database's own.
    my $binlog = Souk::Test::mariadb_admin_dsn($mono->{db});
    my $D = uc $domain;
    $self->{env} = {SOUK_MONOLITH_DB => $mono->{dsn}, "SOUK_${D}_DB" => $svc->{db}{dsn}, %redis,
        SOUK_MIGRATE_DB => $self->{state}{dsn}, SOUK_SYNC_BINLOG_DB => $binlog,
        SOUK_VAR_DIR => "$self->{var}",
        "SOUK_SYNC_${D}_LISTEN" => '127.0.0.1:' . Souk::Test::free_port(),
        "SOUK_REVERSE_${D}_LISTEN" => '127.0.0.1:' . Souk::Test::free_port(),
        SOUK_GATEWAY_ADMIN_LISTEN => '127.0.0.1:' . $self->{gw}->admin_port,
        SOUK_GATEWAY_ADMIN_TOKEN => $Souk::Gateway::ADMIN_TOKEN, USER => $o{user},
        SOUK_LOG_LEVEL => 'warn', SOUK_REVERSE_DB => $self->{state}{dsn},
        SOUK_AMQP_URL => $svc->{amqp}};
    return $self;
}

# soukctl in the playbook's environment: (exit code, stdout, stderr).
sub soukctl {
    my ($self, @args) = @_;
    return Souk::Test::soukctl($self->{env}, @args);
}

# soukctl migrate <domain> @args; on a failure, what it said and the logs' tails.
sub migrate {
    my ($self, @args) = @_;
    my $t0 = Time::HiRes::time();
    my @r = $self->soukctl('migrate', $self->{domain}, @args);
    Test::More::diag($r[1] . $r[2] . logs_tail("$self->{var}")) if $r[0];
    Test::More::diag(sprintf '%s: %.1f s', join(' ', @args), Time::HiRes::time() - $t0) if $self->{timed};
    return @r;
}

sub sync_listen    { $_[0]{env}{'SOUK_SYNC_' . uc($_[0]{domain}) . '_LISTEN'} }
sub reverse_listen { $_[0]{env}{'SOUK_REVERSE_' . uc($_[0]{domain}) . '_LISTEN'} }

# The forward sync's lag in events; undef when it does not answer.
sub lag { sync_lag($_[0]->sync_listen) }

# A check: the forward sync reports lag 0 within $timeout s (default 20).
sub caught_up {
    my ($self, $what, $timeout) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::ok(Souk::Test::wait_until("$what: sync lag 0", sub { my $l = $self->lag; defined $l && $l == 0 },
        $timeout // 20), $what);
}

# A check: every route the domain moves (it has a new side) is on $mode, the others still on
# legacy, and none holds its writes.
sub routes_are {
    my ($self, $mode, $what) = @_;
    my (@got, @want);
    for my $r (@{$self->{routes}}) {
        my $now = $self->{gw}->route_named($r->{name}) // {};
        push @got, "$r->{name} on " . ($now->{mode} // '?') . ($now->{hold} ? ', held' : '');
        push @want, "$r->{name} on " . ($r->{new} ? $mode : 'legacy');
    }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::is_deeply(\@got, \@want, "$what: " . join(', ', @want) . ', none held');
}

# ---- the walk ----------------------------------------------------------------------------------

# $shop->under_load($start, @step): soukctl migrate <domain> @step while the load $start->()
# starts runs (it is under way when the step begins: a hold meets writes in flight).
# (the load's answers, exit code, stdout, stderr, when the step began and ended).
sub under_load {
    my ($self, $start, @step) = @_;
    my $wait = $start->();
    Time::HiRes::sleep(0.2);
    my $t0 = Time::HiRes::time();
    my ($rc, $out, $err) = $self->migrate(@step);
    my $t1 = Time::HiRes::time();
    return ($wait->(), $rc, $out // '', $err // '', $t0, $t1);
}

# A check: some of a load's requests were sent while the step ran ($t0 .. $t1), so it really
# ran under load (a fixed count can end first on a fast machine: see load's $more).
sub loaded_during {
    my ($answers, $t0, $t1, $step) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $n = during($answers, $t0, $t1);
    return Test::More::ok($n > 0, "$n writes were sent while the $step ran");
}

# $shop->to_canary($percent): verify, shadow, canary: where a cutover starts from. Three checks.
sub to_canary {
    my ($self, $percent) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    Test::More::is(($self->migrate('verify'))[0], 0, 'verify: both sides agree');
    Test::More::is(($self->migrate('shadow'))[0], 0, 'shadow');
    Test::More::is(($self->migrate('canary', $percent))[0], 0, "canary $percent");
}

# $shop->walk(%o): backfill → sync → verify → shadow → canary → cutover, with $o{writers}->($n)
# (a load: a sub that waits for it and gives its answers) writing $o{load}[0] times during the
# backfill and the sync, $o{load}[1] times across the cutover. Checks each step, that no write
# failed, that the sync caught up (then $o{synced}->($load1)), the hold under 5 s (then
# $o{cutover}->($out)), the routes on new and the sync drained. ($load1, $load2): the answers.
# $o{through}: the cutover's writers are called ($n, 1) and keep writing until the step ends
# (load's $more), and a check says some writes were sent while it ran (roll_back the same).
sub walk {
    my ($self, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $wait = $o{writers}->($o{load}[0]);
    Test::More::is(($self->migrate('backfill'))[0], 0, "backfill $self->{domain} under load ($o{what})");
    Test::More::is(($self->migrate('sync'))[0], 0, 'sync');
    my $load1 = $wait->();
    no_failures_in($load1, "$o{what} during backfill and sync");
    $self->caught_up('the sync catches up');
    $o{synced}->($load1) if $o{synced};
    $self->to_canary($o{canary});

    my ($load2, $rc, $out, undef, $t0, $t1) =
        $self->under_load(sub { $o{writers}->($o{load}[1], $o{through}) }, 'cutover');
    Test::More::is($rc, 0, 'cutover under load');
    loaded_during($load2, $t0, $t1, 'cutover') if $o{through};
    my ($held) = $out =~ /writes held (\d+) ms/;
    Test::More::ok(defined $held && $held < 5000, 'writes were held ' . ($held // '?') . ' ms');
    $o{cutover}->($out) if $o{cutover};
    no_failures_in($load2, "$o{what} during the cutover");
    $self->routes_are('new', 'after the cutover');
    $self->caught_up('the sync drained what the monolith took before the fence');
    return ($load1, $load2);
}

# $shop->roll_back(%o): the rollback with $o{writers}->($o{load}) writing across it. Checks it,
# that no write failed, the routes back on legacy, the forward sync caught up (then
# $o{settled}->($answers)), and a verify. The load's answers.
sub roll_back {
    my ($self, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($answers, $rc, undef, undef, $t0, $t1) =
        $self->under_load(sub { $o{writers}->($o{load}, $o{through}) }, 'rollback');
    Test::More::is($rc, 0, 'rollback under load');
    loaded_during($answers, $t0, $t1, 'rollback') if $o{through};
    no_failures_in($answers, "$o{what} during the rollback");
    $self->routes_are('legacy', 'after the rollback');
    $self->caught_up('the forward sync catches up');
    $o{settled}->($answers) if $o{settled};
    Test::More::is(($self->migrate('verify'))[0], 0, 'verify: both sides agree after the rollback');
    return $answers;
}

# ---- the write load ----------------------------------------------------------------------------

# load($procs, \@items, $pause, $request, $more): $procs processes share @items (each takes its
# own slice), send one request per item, one at a time, $pause seconds apart; each answer
# ("status id why") goes to a file. Returns a sub that waits for them and gives
# [status, id, why, item, sent_at] for every request (id: the "id" of the JSON answer;
# sent_at: Time::HiRes::time() when it was sent, for during()).
# With $more (sub { my ($w, $k) = @_; an item }), each process goes on past its slice with
# $more->($w, 1), $more->($w, 2), ... until that sub is called (at most 120 s, 2000 items, or
# until $more returns undef):
# so the step the test runs meanwhile (a cutover, a rollback) happens under load however
# fast the machine sends @items (a fixed count ended before the cutover's hold on a fast one).
# Those extra items go at most one per $EXTRA_PAUSE s per process (walk's and roll_back's
# `through`: 35 and 36 write through the cutover and the rollback).
our $EXTRA_PAUSE = 0.25;
my $JSON = JSON::PP->new->canonical;
sub load {
    my ($procs, $items, $pause, $request, $more) = @_;
    my $each = int(@$items / $procs);
    my $stop = File::Temp->newdir('souk-load-XXXXXX', TMPDIR => 1);
    my (@pids, @files);
    for my $w (0 .. $procs - 1) {
        my $file = File::Temp->new;
        push @files, $file;
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $ua = HTTP::Tiny->new(timeout => 30);
            open my $fh, '>', $file->filename or POSIX::_exit(1);
            $fh->autoflush(1);
            my @mine = @$items[$w * $each .. ($w + 1) * $each - 1];
            my ($k, $until) = (0, time + 120);
            while (1) {
                my $extra = !@mine;
                my $item = !$extra ? shift @mine
                    : $more && !-e "$stop/stop" && $k < 2000 && time < $until ? $more->($w, ++$k)
                    : undef;
                last unless defined $item;    # $more has no more
                my $sent = time;
                my $r = $request->($ua, $item);
                my ($id) = ($r->{content} // '') =~ /^\{"id"\s*:\s*(\d+)/;
                ($id) = ($r->{content} // '') =~ /"id"\s*:\s*(\d+)/ unless defined $id;
                (my $why = $r->{status} =~ /^2/ ? '' : substr($r->{content} // '', 0, 300)) =~ s/\s+/ /g;
                print $fh $JSON->encode([$r->{status}, $id // '-', $why, $item, $sent]), "\n";
                select(undef, undef, undef, $extra && $pause < $EXTRA_PAUSE ? $EXTRA_PAUSE : $pause);
            }
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    return sub {
        open my $fh, '>', "$stop/stop" or die "$stop/stop: $!";
        close $fh;
        waitpid($_, 0) for @pids;
        return [map { open my $fh, '<', $_->filename or die; map { $JSON->decode($_) } <$fh> } @files];
    };
}

# during($answers, $t0, $t1): how many of load's requests were sent between $t0 and $t1 (a step
# the test timed), to check that the step really ran under load.
sub during {
    my ($answers, $t0, $t1) = @_;
    return scalar grep { defined $_->[4] && $_->[4] >= $t0 && $_->[4] <= $t1 } @$answers;
}

# Every answer was a 2xx (the client saw no failure).
sub no_failures_in {
    my ($answers, $what) = @_;
    my @bad = grep { $_->[0] !~ /^2/ } @$answers;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    Test::More::is(scalar(@bad), 0, "$what: every one of " . scalar(@$answers)
        . ' writes was acknowledged') or Test::More::diag(Test::More::explain([@bad[0 .. ($#bad < 4 ? $#bad : 4)]]));
}

sub acked_ids { [map { $_->[1] } grep { $_->[0] =~ /^2/ && $_->[1] ne '-' } @{$_[0]}] }

# souk_sync_lag_events of the sync listening on $listen, undef when it does not answer.
sub sync_lag {
    my ($listen) = @_;
    my $r = Souk::Test::http(GET => "http://$listen/metrics");
    return undef unless $r->{status} == 200;
    my ($lag) = $r->{body} =~ /^souk_sync_lag_events(?:\{[^}]*\})? (\S+)$/m;
    return $lag;
}

# 1 while $pid runs (a zombie does not).
sub running {
    my $st = do { open my $f, '<', "/proc/$_[0]/stat" or return 0; local $/; <$f> };
    return $st !~ /\) Z /;
}

# SIGTERM to every supervise.sh the playbook started in $var (its pid files).
sub stop_supervisors {
    my ($var) = @_;
    my %pids;
    for my $f (glob("$var/run/super-*.pid")) {
        open my $fh, '<', $f or next;
        my $pid = <$fh> // next;
        chomp $pid;
        $pids{$pid} = 1 if $pid =~ /^\d+$/;
    }
    # And every supervise.sh running with this SOUK_VAR_DIR whose pid file is gone or names
    # another (a second one started for the same NAME): none outlives the test.
    for my $dir (glob('/proc/[0-9]*')) {
        my ($pid) = $dir =~ m{(\d+)$};
        open my $c, '<', "$dir/cmdline" or next;
        next unless (do { local $/; <$c> } // '') =~ m{scripts/supervise\.sh\0};
        open my $e, '<', "$dir/environ" or next;
        $pids{$pid} = 1 if grep { $_ eq "SOUK_VAR_DIR=$var" } split /\0/, do { local $/; <$e> } // '';
    }
    kill 'TERM', keys %pids if %pids;
}

# The last lines of every log in $var/log, for a diagnosis.
sub logs_tail {
    my ($var) = @_;
    my $out = '';
    for my $f (glob("$var/log/*.log")) {
        open my $fh, '<', $f or next;
        my @l = <$fh>;
        $out .= "--- $f\n" . join('', @l[($#l > 14 ? $#l - 14 : 0) .. $#l]);
    }
    return $out;
}

1;
