# Souk::Test::free_port(s), the ports every test file's servers listen on: below the kernel's
# ephemeral range (from 20000 up, where tests/run.sh's servers are not), never a default port
# of `make run`, distinct across test files running at once, reserved while its taker lives
# even when nothing listens on it (a server stopped to be started again), and never one that
# something else listens on. Needs no servers.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test;
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();

my ($low) = split ' ', do { local (@ARGV, $/) = ('/proc/sys/net/ipv4/ip_local_port_range'); <> // '32768' };
$low = 32768 if !$low || $low < 21000;
my %default = map { $_ => 1 } 53306, 55432, 56379, 55672, 8080, 8081, 7000 .. 7110;

my @p = free_ports(50);
is(scalar(grep { $_ >= 20000 && $_ < $low } @p), 50, "50 ports, all in [20000, $low)");
is(scalar(grep { $default{$_} } @p), 0, 'none of them a default port');
is(scalar(keys %{{map { $_ => 1 } @p}}), 50, 'all distinct');

# child(sub, @args): run the sub in a child; its first line of output comes back through a pipe
# (the child then waits for the parent to close the pipe, so what it holds is held meanwhile).
my %GO;    # the write ends the parent holds, one per live child
sub child {
    my ($code) = @_;
    pipe(my $out_r, my $out_w) or die "pipe: $!";
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $out_r;
        close $go_w;
        close $_ for values %GO;    # a sibling's, or it never sees its EOF
        my $line = eval { $code->() } // "died: $@";
        $line =~ s/\n/ /g;
        syswrite $out_w, "$line\n";
        close $out_w;
        sysread $go_r, my $x, 1;    # EOF: the parent is done with us
        POSIX::_exit(0);
    }
    close $out_w;
    close $go_r;
    $GO{$pid} = $go_w;
    my $line = <$out_r> // '';
    chomp $line;
    return {pid => $pid, line => $line, go => $go_w};
}
sub release { my ($c) = @_; delete $GO{$c->{pid}}; close $c->{go}; waitpid $c->{pid}, 0 }

# Three test files at once, 200 ports each: no port twice.
my @kids = map { child(sub { join ' ', free_ports(200) }) } 1 .. 3;
my %seen;
$seen{$_}++ for map { split ' ', $_->{line} } @kids;
is(scalar(keys %seen), 600, 'three processes at once, 200 ports each: 600 distinct ports')
    or diag(join "\n", map { $_->{line} } @kids);
release($_) for @kids;

# A reserved port with nothing listening on it is not handed to another process...
my $a = child(sub { free_port() });
my $held = $a->{line};
like($held, qr/^\d+$/, 'a process takes a port');
ok(IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $held, Listen => 1),
    '...nothing listens on it');
{
    local $ENV{SOUK_TEST_PORTS} = "$held-$held";
    my $b = child(sub { free_port() });
    like($b->{line}, qr/^died: free_port: only 0 of 1 free ports/,
        '...and another process, offered only that port, does not get it');
    release($b);
    release($a);
    $b = child(sub { free_port() });
    is($b->{line}, $held, 'once its taker is gone, it is free again');
    release($b);
}

# ... nor is a port something else listens on.
my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
    or die "listen: $!";
my $bp = $busy->sockport;
{
    local $ENV{SOUK_TEST_PORTS} = "$bp-$bp";
    my $b = child(sub { free_port() });
    like($b->{line}, qr/^died: free_port: only 0 of 1 free ports/, 'a port with a listener is not free');
    release($b);
    close $busy;
    $b = child(sub { free_port() });
    is($b->{line}, $bp, 'and is once the listener is gone');
    release($b);
}

done_testing;
