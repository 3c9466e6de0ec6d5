package Souk::FakeUpstream;
# A scriptable fake HTTP/1.1 upstream for gateway tests (STYLE.md §2.15: varnishtest
# `server s1 {...}`, h2o one_shot_http_upstream). Core Perl modules only.
#
#   my $up = Souk::FakeUpstream->start(name => 'legacy',
#       reply => {status => 200, json => {ok => 1}},          # the default answer
#       paths => {'/slow' => {delay_ms => 2000, body => 'late'},  # longest prefix wins;
#                 'POST /w' => {status => 201}},                  # "METHOD /prefix" too
#       queue => [{action => 'close'}],                       # used first, one per request
#       health => {status => 503});                           # GET /health (default 200)
#   ... send traffic through the gateway ...
#   my @r = $up->requests(path => '/slow');   # parsed: method target path headers body raw
#   $up->set(reply => {status => 500});       # change the script; the next request sees it
#
# One forked process serves every connection with a select() loop, so a delayed or
# never-answered request does not hold up the others. Every event is appended as one JSON
# line to a log file that the test reads back: each accepted connection ("conn"), every
# chunk of bytes read ("data"), every complete request ("req", with the connection id and
# its sequence number on that connection, for keep-alive counting), a request the strict
# parser below refused ("bad", answered 400 and closed) and the peer closing ("eof").
#
# A reply is a hash:
#   status, reason, headers => [name => value, ...], body => bytes | json => data
#   echo => 1            body = JSON of the request (method, target, headers, body)
#   repeat => N          the body N times over (a large body without a large script)
#   delay_ms => N        wait before the status line
#   action => 'reply' | 'never' (keep the connection, never answer)
#           | 'close' (close without answering) | 'reset' (close with RST)
#   chunked => 1         Transfer-Encoding: chunked; the parts are the chunks
#   parts => [bytes...], part_delay_ms => N   send the body in parts with pauses between
#   no_length => 1       no Content-Length: the body ends when the connection closes
#   close => 1           Connection: close, then close
#   raw => bytes         write these bytes verbatim instead of a built response
# Every built response carries X-Fake (the name), X-Fake-Conn and X-Fake-Seq.
# The parser is deliberately strict (RFC 9112): anything a gateway forwards that a strict
# server would read differently shows up as a "bad" event.
use strict;
use warnings;
use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use Fcntl qw(O_APPEND O_CREAT O_WRONLY);
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Socket qw(IPPROTO_TCP SOL_SOCKET SO_LINGER TCP_NODELAY);
use Time::HiRes ();
use Souk::Test ();

my $J = JSON::PP->new->latin1->canonical;    # byte strings in and out, controls escaped
my $TCHAR = qr/[!#\$%&'*+.^_`|~0-9A-Za-z-]/;

sub start {
    my ($class, %o) = @_;
    my $dir = File::Temp->newdir('souk-fake-XXXXXX', TMPDIR => 1);
    my $self = bless {name => $o{name} // 'fake', dir => $dir, log => "$dir/events",
        script => "$dir/script", owner => $$, events => [], off => 0}, $class;
    delete @o{qw(name port)};
    $self->set(%o);
    open my $fh, '>', $self->{log} or die "fake upstream: $self->{log}: $!";
    close $fh;
    # A reserved port (Souk::Test::free_port): while stopped it stays refused, not another's.
    $self->_spawn(Souk::Test::free_port());
    return $self;
}

sub _spawn {
    my ($self, $port) = @_;
    my $ls;
    my $deadline = Time::HiRes::time() + 5;
    until ($ls = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
            Listen => 128, ReuseAddr => 1, Proto => 'tcp')) {
        die "fake upstream $self->{name}: listen on $port: $!\n"
            if !$port || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
    $self->{port} = $ls->sockport;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        eval { _serve($ls, $self->{log}, $self->{script}, $self->{name}) };
        print STDERR "# fake upstream $self->{name}: $@" if $@;
        POSIX::_exit(0);
    }
    close $ls;
    $self->{pid} = $pid;
}

sub name { $_[0]{name} }
sub port { $_[0]{port} }
sub addr { "127.0.0.1:$_[0]{port}" }
sub pid  { $_[0]{pid} }

# set(%script): replace the whole script (reply, paths, queue, health). The queue restarts.
sub set {
    my ($self, %s) = @_;
    $s{gen} = ++$self->{gen};    # a new queue even if the script text is the same
    my $tmp = "$self->{script}.tmp";
    open my $fh, '>', $tmp or die "fake upstream: $tmp: $!";
    print $fh $J->encode(\%s);
    close $fh or die "fake upstream: $tmp: $!";
    rename $tmp, $self->{script} or die "fake upstream: rename: $!";
    $self->{current} = \%s;
}

# update(%changes): change some keys of the script, keep the others.
sub update {
    my ($self, %c) = @_;
    my %s = %{$self->{current} || {}};
    delete $s{gen};
    $self->set(%s, %c);
}

# stop: kill the server now (connections are reset); the port is then refused.
sub stop {
    my $self = shift;
    return unless $self->{pid} && $self->{owner} == $$;
    kill 'KILL', $self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};
}

# restart: a new server process on the same port, same log and script.
sub restart {
    my $self = shift;
    $self->stop;
    $self->_spawn($self->{port});
}

sub DESTROY {
    local ($@, $!, $?);
    $_[0]->stop;
}

# ---- reading the log -------------------------------------------------------------------

sub events {
    my $self = shift;
    open my $fh, '<', $self->{log} or die "fake upstream: $self->{log}: $!";
    seek $fh, $self->{off}, 0;
    local $/ = "\n";
    while (my $line = <$fh>) {
        last unless $line =~ /\n\z/;    # a line still being written
        $self->{off} += length $line;
        push @{$self->{events}}, $J->decode($line);
    }
    close $fh;
    return @{$self->{events}};
}

# mark: a position in the log; pass it as since => $mark to look only at what came after.
sub mark { scalar(my @e = $_[0]->events) }

sub _since {
    my ($self, $since) = @_;
    my @e = $self->events;
    return @e[($since // 0) .. $#e];
}

# requests(%filter): complete requests, oldest first, without the health checks unless
# health => 1. Filters: since => mark, path => prefix or qr//, method => 'GET'.
sub requests {
    my ($self, %f) = @_;
    return grep {
        $_->{ev} eq 'req'
            && ($f{health} || !$_->{health})
            && (!defined $f{method} || $_->{method} eq $f{method})
            && (!defined $f{path}
                || (ref $f{path} ? $_->{target} =~ $f{path} : index($_->{target}, $f{path}) == 0))
    } $self->_since($f{since});
}

sub count { scalar(my @r = shift->requests(@_)) }

# health_checks(%filter): the requests to the health path.
sub health_checks { grep { $_->{health} } shift->requests(@_, health => 1) }

# wait_requests($n, %filter, timeout => s): wait until at least $n requests match; returns
# them (maybe fewer, on timeout).
sub wait_requests {
    my ($self, $n, %f) = @_;
    my $deadline = Time::HiRes::time() + (delete $f{timeout} // 5);
    while (1) {
        my @r = $self->requests(%f);
        return @r if @r >= $n || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.02);
    }
}

# bytes(since => mark): every byte read from any connection, concatenated.
sub bytes {
    my ($self, %f) = @_;
    return join '', map { $_->{bytes} } grep { $_->{ev} eq 'data' } $self->_since($f{since});
}

# bad(since => mark): requests the strict parser refused.
sub bad {
    my ($self, %f) = @_;
    return grep { $_->{ev} eq 'bad' } $self->_since($f{since});
}

# connections(since => mark): accepted connections.
sub connections {
    my ($self, %f) = @_;
    return grep { $_->{ev} eq 'conn' } $self->_since($f{since});
}

# eofs(since => mark): connection ids the peer closed.
sub eofs {
    my ($self, %f) = @_;
    return map { $_->{conn} } grep { $_->{ev} eq 'eof' } $self->_since($f{since});
}

# ---- the server (child process) ----------------------------------------------------------

sub _serve {
    my ($ls, $logf, $scriptf, $name) = @_;
    $SIG{TERM} = sub { POSIX::_exit(0) };
    $SIG{PIPE} = 'IGNORE';
    my $ppid = getppid;
    $ls->blocking(0);
    sysopen my $log, $logf, O_WRONLY | O_APPEND | O_CREAT or die "$logf: $!";
    my $emit = sub {
        my $line = $J->encode({@_, t => Time::HiRes::time()}) . "\n";
        my $off = 0;
        while ($off < length $line) {
            my $n = syswrite $log, $line, length($line) - $off, $off;
            die "log: $!" unless defined $n;
            $off += $n;
        }
    };

    my ($script, $stext, $qi) = ({}, '', 0);
    my $load = sub {
        open my $fh, '<', $scriptf or return;
        local $/;
        my $t = <$fh> // '';
        close $fh;
        return if $t eq $stext || $t eq '';
        my $s = eval { $J->decode($t) } or return;
        ($script, $stext, $qi) = ($s, $t, 0);
    };

    my (%conns, @timers, $nconn);
    my $close = sub {
        my ($c, $rst) = @_;
        return if $c->{closed};
        $c->{closed} = 1;
        setsockopt($c->{sock}, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)) if $rst;
        close $c->{sock};
        delete $conns{$c->{id}};
    };
    my $later = sub {
        my ($ms, $code) = @_;
        push @timers, [Time::HiRes::time() + ($ms || 0) / 1000, $code];
    };
    my $process;    # parse what is buffered and answer (recursive through replies)

    my $pick = sub {
        my ($req) = @_;
        if ($req->{health}) {
            return $script->{health} // {status => 200, json => {status => 'ok'}};
        }
        my $q = $script->{queue} || [];
        return $q->[$qi++] if $qi < @$q;
        my ($best, $blen) = (undef, -1);
        for my $k (keys %{$script->{paths} || {}}) {
            my ($m, $p) = $k =~ /^([A-Z]+) (.*)$/ ? ($1, $2) : (undef, $k);
            next if defined $m && $m ne $req->{method};
            next unless index($req->{target}, $p) == 0;
            my $len = length($p) + (defined $m ? 0.5 : 0);
            ($best, $blen) = ($script->{paths}{$k}, $len) if $len > $blen;
        }
        return $best // $script->{reply} // {status => 200, json => {ok => JSON::PP::true}};
    };

    my $respond = sub {
        my ($c, $req, $rep) = @_;
        my $action = $rep->{action} // 'reply';
        return if $action eq 'never';    # stays busy: nothing else is answered on it
        return $close->($c, 0) if $action eq 'close';
        return $close->($c, 1) if $action eq 'reset';
        if (defined $rep->{raw}) {
            $c->{out} .= $rep->{raw};
            if ($rep->{close}) { $c->{closing} = 1 } else { $c->{busy} = 0; $process->($c) }
            return;
        }
        my $status = $rep->{status} // 200;
        my $body = $rep->{body} // '';
        my @h = @{$rep->{headers} || []};
        if ($rep->{echo}) {
            $body = $J->encode({method => $req->{method}, target => $req->{target},
                headers => $req->{hlist}, body => $req->{body}, conn => $c->{id},
                seq => $req->{seq}, name => $name});
            push @h, 'Content-Type' => 'application/json';
        } elsif (exists $rep->{json}) {
            $body = $J->encode($rep->{json});
            push @h, 'Content-Type' => 'application/json'
                unless grep { lc eq 'content-type' } @h[grep { !($_ % 2) } 0 .. $#h];
        }
        $body x= $rep->{repeat} if $rep->{repeat};
        my @parts = $rep->{parts} ? @{$rep->{parts}} : ($body);
        my $total = 0;
        $total += length for @parts;
        my $nobody = $req->{method} eq 'HEAD' || $status =~ /^(?:1..|204|304)$/;
        my $closing = $rep->{close} || $rep->{no_length} || !$req->{keep_alive};
        my $head = sprintf("HTTP/1.1 %d %s\r\n", $status, $rep->{reason} // 'Fake');
        $head .= "X-Fake: $name\r\nX-Fake-Conn: $c->{id}\r\nX-Fake-Seq: $req->{seq}\r\n";
        while (my ($k, $v) = splice @h, 0, 2) { $head .= "$k: $v\r\n" }
        if ($rep->{chunked}) {
            $head .= "Transfer-Encoding: chunked\r\n";
        } elsif (!$rep->{no_length} && $status !~ /^(?:1..|204)$/) {
            $head .= "Content-Length: $total\r\n";
        }
        $head .= "Connection: close\r\n" if $closing;
        $head .= "\r\n";
        my @chunks = $nobody ? () : grep { length } @parts;
        my $send_part;
        $send_part = sub {
            return if $c->{closed};
            if (@chunks) {
                my $p = shift @chunks;
                $c->{out} .= $rep->{chunked} ? sprintf("%x\r\n%s\r\n", length $p, $p) : $p;
            }
            if (@chunks) {
                $later->($rep->{part_delay_ms}, $send_part);
                return;
            }
            $c->{out} .= "0\r\n\r\n" if $rep->{chunked} && !$nobody;
            undef $send_part;
            if ($closing) { $c->{closing} = 1 } else { $c->{busy} = 0; $process->($c) }
        };
        $c->{out} .= $head;
        $send_part->();
    };

    # Parse one request off the front of $c->{in}: undef = need more, 'bad' = refused,
    # else the request hash.
    my $parse = sub {
        my ($c) = @_;
        my $in = \$c->{in};
        my $he = index($$in, "\r\n\r\n");
        if ($he < 0) {
            return 'bad' if length($$in) > 65536;
            return 'bad' if $$in =~ /\A[^\r]*\n/;    # a bare LF ends the request line
            return undef;
        }
        my @lines = split /\r\n/, substr($$in, 0, $he), -1;
        my $rl = shift @lines;
        my ($method, $target, $minor) = $rl =~ /\A($TCHAR+) ([\x21-\x7e]+) HTTP\/1\.([01])\z/
            or return 'bad';
        my (@hl, %h);
        for my $l (@lines) {
            my ($k, $v) = $l =~ /\A($TCHAR+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*\z/
                or return 'bad';
            push @hl, [$k, $v];
            push @{$h{lc $k}}, $v;
        }
        return 'bad' if $minor && @{$h{host} || []} != 1;
        my $te = $h{'transfer-encoding'};
        my $cl = $h{'content-length'};
        return 'bad' if $te && $cl;
        return 'bad' if $cl && (@$cl != 1 || $cl->[0] !~ /\A\d{1,15}\z/);
        return 'bad' if $te && (@$te != 1 || lc($te->[0]) ne 'chunked');
        my $pos = $he + 4;
        my ($body, $need) = ('', 0);
        my $want_continue = lc(join ',', @{$h{expect} || []}) eq '100-continue';
        if ($te) {
            while (1) {
                pos($$in) = $pos;
                if ($$in !~ /\G([0-9a-fA-F]{1,15})((?:;[^\r\n]*)?)\r\n/gc) {
                    return 'bad' if length($$in) - $pos > 4096
                        || $$in =~ /\G(?![0-9a-fA-F]{0,15}(?:;[^\r\n]*)?\r?\z)/gc;
                    $need = 1;
                    last;
                }
                my $size = hex $1;
                my $p = pos($$in);
                if ($size == 0) {
                    # trailers: lines until an empty line
                    my $q = $p;
                    while (1) {
                        my $e = index($$in, "\r\n", $q);
                        if ($e < 0) { $need = 1; last }
                        if ($e == $q) { $pos = $e + 2; last }
                        substr($$in, $q, $e - $q) =~ /\A$TCHAR+:/ or return 'bad';
                        $q = $e + 2;
                    }
                    last;
                }
                if (length($$in) < $p + $size + 2) { $need = 1; last }
                return 'bad' if substr($$in, $p + $size, 2) ne "\r\n";
                $body .= substr($$in, $p, $size);
                $pos = $p + $size + 2;
            }
        } elsif ($cl) {
            if (length($$in) < $pos + $cl->[0]) {
                $need = 1;
            } else {
                $body = substr($$in, $pos, $cl->[0]);
                $pos += $cl->[0];
            }
        }
        if ($need) {
            if ($want_continue && !$c->{continued}) {
                $c->{continued} = 1;
                $c->{out} .= "HTTP/1.1 100 Continue\r\n\r\n";
            }
            return undef;
        }
        $c->{continued} = 0;
        my $raw = substr($$in, 0, $pos, '');
        my $conn_tok = lc join ',', @{$h{connection} || []};
        my ($path, $query) = $target =~ /\A([^?]*)(?:\?(.*))?\z/s;
        return {method => $method, target => $target, path => $path, query => $query,
            version => "1.$minor", hlist => \@hl,
            headers => {map { ($_ => join(', ', @{$h{$_}})) } keys %h},
            body => $body, raw => $raw, chunked => $te ? 1 : 0,
            keep_alive => $minor ? $conn_tok !~ /\bclose\b/ : $conn_tok =~ /\bkeep-alive\b/};
    };

    $process = sub {
        my ($c) = @_;
        while (!$c->{closed} && !$c->{busy} && length $c->{in}) {
            my $req = $parse->($c);
            return unless defined $req;
            if (!ref $req) {
                $emit->(ev => 'bad', name => $name, conn => $c->{id}, raw => $c->{in});
                $c->{in} = '';
                $c->{busy} = 1;
                $c->{out} .= "HTTP/1.1 400 Fake Parser\r\nX-Fake: $name\r\n"
                    . "Content-Length: 0\r\nConnection: close\r\n\r\n";
                $c->{closing} = 1;
                return;
            }
            $load->();
            $req->{seq} = ++$c->{seq};
            $req->{health} = ($req->{method} eq 'GET' || $req->{method} eq 'HEAD')
                && $req->{path} eq ($script->{health_path} // '/health') ? 1 : 0;
            $emit->(ev => 'req', name => $name, conn => $c->{id}, %$req);
            my $rep = $pick->($req);
            $c->{busy} = 1;
            if ($rep->{delay_ms}) {
                $later->($rep->{delay_ms}, sub { $respond->($c, $req, $rep) unless $c->{closed} });
            } else {
                $respond->($c, $req, $rep);
            }
        }
    };

    while (1) {
        POSIX::_exit(0) if getppid != $ppid;    # the test is gone
        my $now = Time::HiRes::time();
        my @due = grep { $_->[0] <= $now } @timers;
        @timers = grep { $_->[0] > $now } @timers;
        $_->[1]->() for sort { $a->[0] <=> $b->[0] } @due;
        my $wait = 0.2;
        for (@timers) { my $d = $_->[0] - $now; $wait = $d if $d < $wait }
        $wait = 0 if $wait < 0;
        my $r = IO::Select->new($ls, map { $_->{sock} } values %conns);
        my $w = IO::Select->new(map { $_->{sock} } grep { length $_->{out} } values %conns);
        my ($rr, $ww) = IO::Select->select($r, $w, undef, $wait);
        my %by_fd = map { (fileno($_->{sock}) => $_) } values %conns;
        for my $s (@{$ww || []}) {
            my $c = $by_fd{fileno $s} or next;
            my $n = syswrite $s, $c->{out};
            if (defined $n) {
                substr($c->{out}, 0, $n, '');
            } elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                $close->($c, 0);
                next;
            }
            if (!length $c->{out} && $c->{closing}) {
                shutdown $s, 1;
                $close->($c, 0);
            }
        }
        for my $s (@{$rr || []}) {
            if ($s == $ls) {
                while (my $cs = $ls->accept) {
                    $cs->blocking(0);
                    setsockopt($cs, IPPROTO_TCP, TCP_NODELAY, 1);
                    my $id = ++$nconn;
                    $conns{$id} = {sock => $cs, id => $id, in => '', out => '', seq => 0};
                    $emit->(ev => 'conn', name => $name, conn => $id, peer => $cs->peerport);
                }
                next;
            }
            next unless defined fileno $s;    # closed by a failed write just above
            my $c = $by_fd{fileno $s} or next;
            next if $c->{closed};
            my $n = sysread $s, my $buf, 262144;
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                $emit->(ev => 'eof', name => $name, conn => $c->{id}, error => "$!");
                $close->($c, 0);
                next;
            }
            if ($n == 0) {
                $emit->(ev => 'eof', name => $name, conn => $c->{id});
                $close->($c, 0);
                next;
            }
            $emit->(ev => 'data', name => $name, conn => $c->{id}, bytes => $buf);
            $c->{in} .= $buf;
            $process->($c);
        }
    }
}

1;
