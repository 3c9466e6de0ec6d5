package Souk::Playbook;
# Helpers for the live-migration playbook's end-to-end tests (tests/integration/34_*, 35_*):
# a bounded write load of forked clients, what it was told, the syncs' lag, and cleaning up
# the supervise.sh processes the playbook started. Core Perl modules only.
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

our @EXPORT = qw(load during no_failures_in acked_ids stop_supervisors logs_tail running);

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
# Those extra items go at most one per $EXTRA_PAUSE s per process. Not used yet by 34-38:
# with writes going on through `migrate cutover`, its full verify (before the hold) refused
# the cutover in 1 run of 3 here ("N keys still differ after re-reading": the sync lagged
# past migrate_verify.c's 5 x 200 ms of re-reading), so those tests still end their fixed
# load early; once that re-check waits for the sync (fenced, not timed), pass $more and
# check during() around the step.
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
    for my $f (glob("$var/run/super-*.pid")) {
        open my $fh, '<', $f or next;
        my $pid = <$fh> // next;
        chomp $pid;
        kill 'TERM', $pid if $pid =~ /^\d+$/;
    }
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
