package Souk::Ports;
# The ports test servers listen on (free_port, free_ports), reserved per process. Exported by
# Souk::Test as well. Core Perl modules only.
use strict;
use warnings;
use Exporter 'import';
use Fcntl ();
use File::Spec ();
use IO::Socket::INET ();

our @EXPORT_OK = qw(free_port free_ports);

sub _slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    return scalar <$fh> // '';
}

# free_port(): a port for a test's server, reserved for this process's lifetime; free_ports($n):
# $n distinct ones. Chosen at random in [20000, the kernel's ephemeral low bound): the kernel
# never hands those out itself (a port-0 listener, a connection's source port took a port
# under a server's feet), tests/run.sh takes its servers' ports below 20000, and the default
# ports of `make run` are skipped. A port counts as free when it binds (no SO_REUSEADDR, so
# one in TIME_WAIT does not) and no other test process holds its reservation: an flock on
# $TMPDIR/souk-test-ports-UID/PORT, held until this process exits (the kernel drops it even
# on SIGKILL; the files stay, as unlinking a lock file races with its next taker). So test
# files running at once (prove -j2, other checkouts) never get the same port, and a port
# whose server a test stops and starts again (Redis down, a killed service) stays its own.
# SOUK_TEST_PORTS=LOW-HIGH narrows the range (tests/integration/20_free_port.t).
my ($PORT_DIR, %PORT_HELD);
my %PORT_DEFAULT = map { $_ => 1 } 53306, 55432, 56379, 55672, 8080, 8081, 7000 .. 7110;
sub free_ports {
    my ($n) = @_;
    my ($low, $high) = (20000, split ' ', (_slurp('/proc/sys/net/ipv4/ip_local_port_range') || '32768'));
    $high = 32768 if !$high || $high < $low + 1000;
    ($low, $high) = ($1, $2 + 1) if ($ENV{SOUK_TEST_PORTS} // '') =~ /^(\d+)-(\d+)$/ && $1 <= $2;
    $PORT_DIR //= do {
        my $d = File::Spec->catdir(File::Spec->tmpdir, "souk-test-ports-$<");
        mkdir $d, 0700;
        -d $d && -w _ or die "free_port: $d: not a writable directory\n";
        $d;
    };
    my @got;
    for (1 .. 20000) {
        last if @got == $n;
        my $port = $low + int rand($high - $low);
        next if $PORT_DEFAULT{$port} || $PORT_HELD{$port};
        open my $lock, '>>', "$PORT_DIR/$port" or next;
        next unless flock $lock, Fcntl::LOCK_EX() | Fcntl::LOCK_NB();
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
            Proto => 'tcp', Listen => 1, ReuseAddr => 0) or next;    # the lock goes with $lock
        close $s;
        $PORT_HELD{$port} = $lock;
        push @got, $port;
    }
    die "free_port: only " . scalar(@got) . " of $n free ports in [$low, $high)\n" if @got < $n;
    return @got;
}
sub free_port { (free_ports(1))[0] }

1;
