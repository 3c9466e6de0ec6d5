package Souk::Gateway;
# Gateway test helpers (gateway/t/*.t): start build/bin/souk-gateway with its own listen,
# admin and routes settings, talk to its admin API, build route tables, mint JWTs, and
# speak raw HTTP/1.1 on a socket. Core Perl modules only.
#
#   my $up = Souk::FakeUpstream->start(name => 'up');
#   my $gw = Souk::Gateway->start(routes => table(
#       upstreams => {up => pool($up)},
#       routes    => [route(name => 'all', path => '/', legacy => 'up')]));
#   my $r = http(GET => $gw->url . '/x');
#   my $j = $gw->admin(GET => '/routes')->{json};
#
# spawn_service() in Souk::Test sets SOUK_LISTEN and polls /ready; the gateway reads
# SOUK_GATEWAY_LISTEN and has two listeners, so it is started here. The object is a
# Souk::Test::Service, so stopping it is the same test ("exits cleanly on SIGTERM").
use strict;
use warnings;
use Exporter 'import';
use File::Temp ();
use HTTP::Tiny ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Scalar::Util ();
use Test::More ();
use Test2::API ();
use Time::HiRes ();

use Souk::Test ();
use Souk::FakeUpstream ();

our @EXPORT = qw(table pool route jwt token conn put read_responses raw_req
    JSON_TRUE JSON_FALSE deep_find);

our $ADMIN_TOKEN = 'gw-test-admin-token';
our $JWT_SECRET = 'gw-test-jwt-secret';
my $JSON = JSON::PP->new->utf8->canonical;
sub JSON_TRUE  { JSON::PP::true }
sub JSON_FALSE { JSON::PP::false }

my %LIVE;
Test2::API::test2_add_callback_testing_done(sub { $_->stop for grep {defined} values %LIVE });

sub _bin {
    my $build = $ENV{SOUK_BUILD} || 'build';
    $build = Souk::Test::repo_root() . "/$build" unless $build =~ m{^/};
    return "$build/bin/souk-gateway";
}

# Distinct free ports, reserved for this process (Souk::Test::free_ports).
sub _ports { Souk::Test::free_ports($_[0]) }

# start(routes => table | routes_json => text | routes_file => path, env => {...}, loops => n)
sub start {
    my ($class, %o) = @_;
    my $dir = $o{dir} // File::Temp->newdir('souk-gw-XXXXXX', TMPDIR => 1);
    my $file = $o{routes_file} // "$dir/routes.json";
    if (defined $o{routes} || defined $o{routes_json}) {
        open my $fh, '>', $file or die "$file: $!";
        print $fh $o{routes_json} // $JSON->pretty->encode($o{routes});
        close $fh;
    }
    my ($port, $aport) = _ports(2);
    my %env = (
        SOUK_GATEWAY_LISTEN       => "127.0.0.1:$port",
        SOUK_GATEWAY_ADMIN_LISTEN => "127.0.0.1:$aport",
        SOUK_GATEWAY_ADMIN_TOKEN  => $ADMIN_TOKEN,
        SOUK_GATEWAY_ROUTES       => $file,
        SOUK_JWT_SECRET           => $JWT_SECRET,
        SOUK_LOOPS                => $o{loops} // 2,
        SOUK_GATEWAY_ACCESS_LOG   => 1,
        SOUK_LOG_LEVEL            => $ENV{SOUK_LOG_LEVEL} // 'info',
        %{$o{env} || {}});
    my $bin = _bin();
    die "Souk::Gateway: $bin is missing (build first)\n" unless -x $bin;
    my $err = File::Temp->new(TEMPLATE => 'souk-gateway-XXXXXX', TMPDIR => 1);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        @ENV{keys %env} = values %env;
        open STDIN, '<', '/dev/null';
        open STDERR, '>', $err->filename;
        open STDOUT, '>&', \*STDERR;
        exec $bin or POSIX::_exit(127);
    }
    my $s = bless {name => 'gateway', host => '127.0.0.1', port => $port, admin_port => $aport,
        pid => $pid, err => $err, owner => $$, dir => $dir, routes_file => $file,
        opts => {%o, dir => $dir, routes_file => $file}}, $class;
    $LIVE{Scalar::Util::refaddr($s)} = $s;
    Scalar::Util::weaken($LIVE{Scalar::Util::refaddr($s)});

    my $ua = HTTP::Tiny->new(timeout => 1, keep_alive => 0);
    my $deadline = Time::HiRes::time() + ($ENV{SOUK_TEST_READY_TIMEOUT} || 20);
    while (1) {
        my $res = $ua->get("http://127.0.0.1:$aport/routes",
            {headers => {Authorization => "Bearer $ADMIN_TOKEN"}});
        if ($res->{status} == 200 && IO::Socket::INET->new("127.0.0.1:$port")) {
            return $s;
        }
        my $why = waitpid($pid, POSIX::WNOHANG()) == $pid ? "exited with status $?"
            : Time::HiRes::time() > $deadline ? "not ready (last GET /routes: $res->{status})"
            : undef;
        if ($why) {
            $s->{done} = 1;
            if (kill 0, $pid) { kill 'KILL', $pid; waitpid $pid, 0 }
            Test::More::diag("souk-gateway stderr:\n" . $s->stderr_text);
            die "Souk::Gateway: souk-gateway $why\n";
        }
        Time::HiRes::sleep(0.05);
    }
}

our @ISA = ('Souk::Test::Service');

sub admin_port  { $_[0]{admin_port} }
sub admin_url   { "http://127.0.0.1:$_[0]{admin_port}" }
sub routes_file { $_[0]{routes_file} }
sub alive       { my $s = shift; !$s->{done} && waitpid($s->{pid}, POSIX::WNOHANG()) == 0 }

# admin($method, $path, {json => ..., body => ..., token => ..., headers => ...})
sub admin {
    my ($s, $method, $path, $o) = @_;
    $o = {%{$o || {}}};
    my $tok = exists $o->{token} ? delete $o->{token} : $ADMIN_TOKEN;
    $o->{headers} = {%{$o->{headers} || {}}, (defined $tok ? (Authorization => "Bearer $tok") : ())};
    return Souk::Test::http($method, $s->admin_url . $path, $o);
}

# The current table (GET /routes), and one route of it by name.
sub routes {
    my $r = $_[0]->admin(GET => '/routes');
    die "GET /routes: $r->{status} $r->{body}\n" unless $r->{status} == 200 && $r->{json};
    return $r->{json};
}

sub route_named {
    my ($s, $name) = @_;
    my $t = $s->routes;
    my $list = ref $t eq 'HASH' ? $t->{routes} : $t;
    return (grep { ref eq 'HASH' && ($_->{name} // '') eq $name } @{$list || []})[0];
}

sub put_routes {
    my ($s, $table) = @_;
    return $s->admin(PUT => '/routes', {json => $table});
}

sub hup { kill 'HUP', $_[0]{pid} }

# restart: stop (a test: clean exit) and start again with the same routes file and env.
sub restart {
    my $s = shift;
    $s->stop;
    my %o = %{$s->{opts}};
    delete @o{qw(routes routes_json)};
    my $n = Souk::Gateway->start(%o);
    delete $LIVE{Scalar::Util::refaddr($n)};
    $n->{done} = 1;           # the new process now belongs to $s
    $s->{$_} = $n->{$_} for qw(port admin_port pid err owner);
    $s->{done} = 0;
    $LIVE{Scalar::Util::refaddr($s)} = $s;
    Scalar::Util::weaken($LIVE{Scalar::Util::refaddr($s)});
    return $s;
}

# shadow_stats($route): that route's entry of GET /shadow, with the counters found under
# whatever names as matches / mismatches / drops (undef if absent), and the raw entry.
sub shadow_stats {
    my ($s, $name) = @_;
    my $r = $s->admin(GET => '/shadow');
    my $j = $r->{json};
    my $e;
    if (ref $j eq 'HASH') {
        my $routes = $j->{routes} // $j;
        $e = ref $routes eq 'HASH' ? $routes->{$name}
            : ref $routes eq 'ARRAY' ? (grep { ref eq 'HASH' && ($_->{name} // $_->{route} // '') eq $name } @$routes)[0]
            : undef;
    } elsif (ref $j eq 'ARRAY') {
        ($e) = grep { ref eq 'HASH' && ($_->{name} // $_->{route} // '') eq $name } @$j;
    }
    $e //= (deep_find($j, sub { ref $_[0] eq 'HASH' && ($_[0]{name} // $_[0]{route} // '') eq $name }))[0];
    my $pick = sub {
        my ($re) = @_;
        return undef unless ref $e eq 'HASH';
        for my $k (sort keys %$e) { return $e->{$k} if $k =~ $re && !ref $e->{$k} }
        for my $sub (grep { ref eq 'HASH' } values %$e) {    # {"counts": {...}}
            for my $k (sort keys %$sub) { return $sub->{$k} if $k =~ $re && !ref $sub->{$k} }
        }
        return undef;
    };
    return {entry => $e, raw => $r->{body}, status => $r->{status},
        matches => $pick->(qr/^match(?:es|ed)?$/i), mismatches => $pick->(qr/^mismatch(?:es|ed)?$/i),
        drops => $pick->(qr/^drop(?:s|ped)?$/i)};
}

# access_log: the JSON lines of stderr that look like access events.
sub log_lines {
    my $s = shift;
    return grep {defined} map { eval { $JSON->decode($_) } } grep {/^\{/} split /\n/, $s->stderr_text;
}

# ---- route tables ------------------------------------------------------------------------

sub table {
    my (%o) = @_;
    return {version => 1, upstreams => $o{upstreams} // {}, routes => $o{routes} // []};
}

# pool(fake or "host:port", ..., {health => ..., balance => ...})
sub pool {
    my $opt = ref $_[-1] eq 'HASH' ? pop : {};
    my @servers = map { ref $_ ? $_->addr : $_ } @_;
    return {servers => \@servers, balance => 'round_robin', max_idle => 64, %$opt};
}

sub route {
    my (%o) = @_;
    return {mode => 'legacy', auth => 'public', max_body => 1048576, connect_timeout_ms => 1000,
        timeout_ms => 5000, retries => 0, fallback => JSON::PP::false, %o};
}

# ---- JWT ---------------------------------------------------------------------------------

# jwt(\%claims, secret => , header => {...}, sig => 'literal')
sub jwt { my ($claims, %o) = @_; Souk::Test::jwt_sign($claims, secret => $JWT_SECRET, %o) }

# token($sub, $role, %claims_override): a valid token for the test gateway.
sub token {
    my ($sub, $role, %c) = @_;
    return Souk::Test::jwt_mint(sub => "$sub", role => $role // 'customer', iat => time - 5,
        secret => $JWT_SECRET, %c);
}

# ---- raw HTTP ----------------------------------------------------------------------------

my %LEFT;

sub conn {
    my ($port, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp', Timeout => 5,
        ($o{local} ? (LocalAddr => $o{local}) : ())) or die "connect $port: $!";
    $s->autoflush(1);
    return $s;
}

sub put {
    my ($s, $bytes) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($s, $bytes, length($bytes) - $off, $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}

# read_responses($sock, $want, $timeout, %o): read until $want responses are complete, the
# peer closes, or $timeout (default 5) seconds pass. o: head => 1 (the first answers a
# HEAD). Bytes past the last complete response stay for the next call.
# Returns (\@responses, $closed, $elapsed, $garbage): each response is {status, reason,
# version, headers (lower-case name => values joined by ", "), hlist, body, chunked, json,
# t (seconds from the call to its last byte), first_byte_t}.
sub read_responses {
    my ($s, $want, $timeout, %o) = @_;
    my ($buf, $closed, $t0, $first) = (delete $LEFT{$s} // '', 0, Time::HiRes::time(), undef);
    my $sel = IO::Select->new($s);
    my @res;
    my $take = sub {
        while (!defined $want || @res < $want) {
            my $r = _parse_response(\$buf, $o{head} && !@res, $closed) or last;
            $r->{t} = Time::HiRes::time() - $t0;
            $r->{first_byte_t} = $first;
            push @res, $r;
        }
    };
    while (1) {
        $take->();
        last if defined $want && @res >= $want;
        my $left = $t0 + ($timeout // 5) - Time::HiRes::time();
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($s, $buf, 262144, length $buf);
        if (!$n) { $closed = 1; last }
        $first //= Time::HiRes::time() - $t0;
    }
    $take->();
    $LEFT{$s} = $buf if length $buf;
    return (\@res, $closed, Time::HiRes::time() - $t0, $buf);
}

sub _parse_response {
    my ($buf, $head_only, $closed) = @_;
    my $he = index($$buf, "\r\n\r\n");
    return undef if $he < 0;
    my @lines = split /\r\n/, substr($$buf, 0, $he);
    my ($ver, $status, $reason) = (shift @lines) =~ /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/
        or return undef;
    my (%h, @hl);
    for (@lines) {
        my ($k, $v) = /^([^:]+):[ \t]*(.*?)[ \t]*$/ or next;
        push @hl, [$k, $v];
        $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}, $v" : $v;
    }
    my $pos = $he + 4;
    my ($body, $chunked) = ('', 0);
    if ($head_only || $status =~ /^(?:1..|204|304)$/) {
        # no body
    } elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        $chunked = 1;
        while (1) {
            my $e = index($$buf, "\r\n", $pos);
            return undef if $e < 0;
            my ($size) = substr($$buf, $pos, $e - $pos) =~ /^([0-9a-fA-F]+)/ or return undef;
            $size = hex $size;
            if ($size == 0) {
                my $end = index($$buf, "\r\n\r\n", $e);
                return undef if $end < 0;
                $pos = $end + 4;
                last;
            }
            return undef if length($$buf) < $e + 2 + $size + 2;
            $body .= substr($$buf, $e + 2, $size);
            $pos = $e + 2 + $size + 2;
        }
    } elsif (defined $h{'content-length'}) {
        my ($len) = $h{'content-length'} =~ /^(\d+)/;
        return undef if length($$buf) < $pos + $len;
        $body = substr($$buf, $pos, $len);
        $pos += $len;
    } else {
        return undef unless $closed;    # read until close
        $body = substr($$buf, $pos);
        $pos = length $$buf;
    }
    substr($$buf, 0, $pos, '');
    my $json;
    $json = eval { $JSON->decode($body) }
        if length $body && ($h{'content-type'} // '') =~ /json/;
    return {version => $ver, status => $status, reason => $reason, headers => \%h,
        hlist => \@hl, body => $body, chunked => $chunked, json => $json};
}

# raw_req($port, $bytes, %o): one connection; write $bytes, read (want => n responses, or
# until close), return ($responses, $closed, $elapsed, $leftover).
sub raw_req {
    my ($port, $bytes, %o) = @_;
    my $s = conn($port, %o);
    put($s, $bytes);
    my @r = read_responses($s, $o{want}, $o{timeout} // 5, head => $o{head});
    delete $LEFT{$s};
    close $s;
    return @r;
}

# deep_find($data, sub { ... }): every node (hash, array or scalar) the sub accepts.
sub deep_find {
    my ($d, $pred, $out) = @_;
    $out //= [];
    push @$out, $d if $pred->($d);
    if (ref $d eq 'HASH') { deep_find($_, $pred, $out) for values %$d }
    elsif (ref $d eq 'ARRAY') { deep_find($_, $pred, $out) for @$d }
    return @$out;
}

1;
