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
use POSIX ();
use Test::More ();

use Souk::Test ();

our @EXPORT = qw(load no_failures_in acked_ids stop_supervisors logs_tail running);

# load($procs, \@items, $pause, $request): $procs processes share @items (each takes its own
# slice), send one request per item, one at a time, $pause seconds apart; each answer
# ("status id why") goes to a file. Returns a sub that waits for them and gives
# [status, id, why] for every request (id: the "id" of the JSON answer).
sub load {
    my ($procs, $items, $pause, $request) = @_;
    my $each = int(@$items / $procs);
    my (@pids, @files);
    for my $w (0 .. $procs - 1) {
        my $file = File::Temp->new;
        push @files, $file;
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $ua = HTTP::Tiny->new(timeout => 30);
            open my $fh, '>', $file->filename or POSIX::_exit(1);
            $fh->autoflush(1);
            for my $item (@$items[$w * $each .. ($w + 1) * $each - 1]) {
                my $r = $request->($ua, $item);
                my ($id) = ($r->{content} // '') =~ /^\{"id"\s*:\s*(\d+)/;
                ($id) = ($r->{content} // '') =~ /"id"\s*:\s*(\d+)/ unless defined $id;
                (my $why = $r->{status} =~ /^2/ ? '' : substr($r->{content} // '', 0, 300)) =~ s/\s+/ /g;
                print $fh "$r->{status} " . ($id // '-') . " $why\n";
                select(undef, undef, undef, $pause);
            }
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    return sub {
        waitpid($_, 0) for @pids;
        return [map { open my $fh, '<', $_->filename or die; map { chomp; [split / /, $_, 3] } <$fh> } @files];
    };
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
