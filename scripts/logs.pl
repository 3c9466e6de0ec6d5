#!/usr/bin/perl
# logs.pl - read the local shop's logs ($SOUK_VAR_DIR/log/<process>.log, JSON lines) as a
# person does: one line per entry, "time process level message key=value...", filtered by
# process, level and request/trace id; -f follows them (`make logs`, and `make run`'s quiet
# console: `logs.pl -f --new --level warn`). Core Perl only. --help for the options.
use strict;
use warnings;
use Getopt::Long qw(:config bundling no_ignore_case);
use JSON::PP ();
use File::Basename ();
use Time::HiRes ();
use Cwd ();

my $ROOT = File::Basename::dirname(File::Basename::dirname(Cwd::abs_path(__FILE__)));
my $VAR = $ENV{SOUK_VAR_DIR} || "$ROOT/var";
# The souk processes whose logs are JSON lines, and supervise (make run's supervisor), whose
# lines are plain text and always shown: a crash report must never be filtered away.
my @APPS = qw(monolith users catalog search reviews cart orders inventory payments history reporting gateway);
my %RANK = (debug => 0, info => 1, warn => 2, warning => 2, error => 3, fatal => 4);

my %o = (lines => 10, level => 'debug');
GetOptions(\%o, 'follow|f', 'lines|n=i', 'level|l=s', 'trace|t=s', 'new', 'json', 'no-access',
    'help|h') or usage(2);
usage(0) if $o{help};
fail("unknown level '$o{level}' (debug, info, warn, error)") unless defined $RANK{$o{level}};
my $min = $RANK{$o{level}};

sub fail { print STDERR "logs: $_[0]\n"; exit 2 }

sub usage {
    print {$_[0] ? *STDERR : *STDOUT} <<"EOT";
usage: logs.pl [-f] [-n N] [--level L] [--trace ID] [--no-access] [--new] [--json] [PROCESS...]
  (also soukctl logs ..., make logs [P=..] [LEVEL=..] [TRACE=..])
  Shows the last N (10) entries of each process's log under \$SOUK_VAR_DIR/log ($VAR/log),
  oldest first, as "time process level message key=value ...".
  PROCESS      monolith users catalog search reviews cart orders inventory payments history reporting gateway
               supervise (default: all of them), or any other name with a log there
               (mariadb, postgres, ...)
  -f           follow: keep printing new entries (files that appear later too); Ctrl-C stops
  --new        with -f: only entries written from now on
  --level L    only entries at L or above: debug (default), info, warn, error
  --trace ID   only entries whose request_id, trace_id or event_id contains ID
  --no-access  leave out the access lines (one per HTTP request)
  --json       print the JSON lines as they are
  Lines that are not JSON (a crash, a supervisor report) pass every filter but --trace.
EOT
    exit $_[0];
}

my @names = @ARGV ? @ARGV : (@APPS, 'supervise');
my %file;
for my $n (@names) {
    fail("bad process name '$n'") unless $n =~ /^[A-Za-z0-9_.-]+$/;
    $file{$n} = "$VAR/log/$n.log";
}
unless ($o{follow} || grep { -e $file{$_} } @names) {
    print STDERR "logs: no log of @names under $VAR/log (is the shop started? SOUK_VAR_DIR)\n";
    exit 1;
}
$| = 1;
my $JSON = JSON::PP->new->utf8(0);
my $width = 0;
for (@names) { $width = length if length > $width }

# One log line as shown, or undef when a filter leaves it out.
sub render {
    my ($name, $line) = @_;
    chomp $line;
    return undef if $line eq '';
    my $e = $line =~ /^\{/ ? eval { $JSON->decode($line) } : undef;
    if (ref $e ne 'HASH') {
        return undef if defined $o{trace};
        return "$line\n" if $o{json};
        # supervise.sh's lines start with a timestamp: keep the columns aligned.
        return sprintf("%s %-*s %s\n", $1, $width, $name, $2)
            if $line =~ /^\d{4}-\d\d-\d\dT([\d:.]+)Z? (.*)$/;
        return sprintf("%-*s %s\n", $width, $name, $line);
    }
    my $lv = lc($e->{level} // 'info');
    return undef if ($RANK{$lv} // 1) < $min;
    return undef if $o{'no-access'} && ($e->{msg} // '') eq 'access';
    if (defined $o{trace}) {
        return undef unless grep { defined $e->{$_} && !ref $e->{$_} && index($e->{$_}, $o{trace}) >= 0 }
            qw(request_id trace_id event_id);
    }
    return "$line\n" if $o{json};
    my $ts = $e->{ts} // '';
    $ts =~ s/^\d{4}-\d\d-\d\dT([\d:.]+)Z?$/$1/;
    my @kv;
    for my $k (sort keys %$e) {
        next if $k =~ /^(ts|level|svc|msg)$/;
        my $v = $e->{$k};
        next unless defined $v;    # e.g. the gateway's mode and upstream on its own answers
        $v = $JSON->encode($v) if ref $v;
        $v = qq("$v") if $v =~ /[\s"]/ || $v eq '';
        push @kv, "$k=$v";
    }
    return join(' ', $ts, sprintf('%-*s', $width, $name), sprintf('%-5s', uc $lv),
        $e->{msg} // '', @kv) . "\n";
}

sub show { my $t = render(@_); print $t if defined $t }

# The last $n entries of a process's log that pass the filters, oldest first, each as
# [time key, rendered]. Read from the end in blocks, so a filter over a big file stops as soon
# as it has found them.
sub tail_entries {
    my ($name, $n) = @_;
    open my $fh, '<', $file{$name} or return ();
    my ($pos, $rest, @got) = (-s $fh, '');
    while ($pos > 0 && @got < $n) {
        my $len = $pos < 65536 ? $pos : 65536;
        $pos -= $len;
        seek $fh, $pos, 0;
        my $chunk;
        read $fh, $chunk, $len;
        my @l = split /\n/, $chunk . $rest, -1;
        $rest = $pos > 0 ? shift @l : '';    # cut by the block: completed by the next one
        for my $line (reverse @l) {
            my $t = render($name, $line);
            push @got, [$line, $t] if defined $t;
            last if @got >= $n;
        }
    }
    # A line without a timestamp (a crash message) takes the one before it, so merging
    # processes by time keeps each file's own order.
    my $key = '';
    return map {
        $key = $1 if $_->[0] =~ /^(?:\{"ts":")?(\d{4}-\d\d-\d\dT[\d:.]+Z?)/;
        [$key, $_->[1]]
    } reverse @got;
}

# The last N entries of every process, merged by time.
sub print_tail {
    my ($i, @all) = (0);
    push @all, map { [$_->[0], $i++, $_->[1]] } tail_entries($_, $o{lines}) for @names;
    print map { $_->[2] } sort { $a->[0] cmp $b->[0] || $a->[1] <=> $b->[1] } @all;
}

unless ($o{follow}) {
    print_tail();
    exit 0;
}

# Following: poll every file; a file replaced or truncated is read again from its start.
my %fh;
for my $n (@names) {
    next unless open my $fh, '<', $file{$n};
    seek $fh, 0, 2;
    $fh{$n} = [$fh, (stat $fh)[1]];
}
print_tail() unless $o{new};    # (an entry written in between may show twice)
$SIG{TERM} = $SIG{INT} = sub { exit 0 };
while (1) {
    for my $n (@names) {
        my @st = stat $file{$n};
        if (!$fh{$n} || (@st && $st[1] != $fh{$n}[1]) || (@st && $st[7] < tell $fh{$n}[0])) {
            next unless @st && open my $fh, '<', $file{$n};
            $fh{$n} = [$fh, $st[1]];
        }
        my $fh = $fh{$n}[0];
        while (defined(my $line = <$fh>)) {
            if ($line !~ /\n\z/) {    # a line still being written: read it whole next time
                seek $fh, -length($line), 1;
                last;
            }
            show($n, $line);
        }
        seek $fh, 0, 1;    # clear EOF
    }
    Time::HiRes::sleep(0.2);
}
