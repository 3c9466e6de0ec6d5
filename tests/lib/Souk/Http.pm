package Souk::Http;
# HTTP for tests: requests with the answer decoded (http), raw bytes (raw_http), the problem
# check (is_problem) and the shape of answers (key_order, json_shape). Exported by Souk::Test
# as well. With SOUK_API_CAPTURE=DIR every answer http() gets is appended to DIR/PID.jsonl for
# the OpenAPI check at the end of a run. Core Perl modules only.
use strict;
use warnings;
use Exporter 'import';
use B ();
use HTTP::Tiny ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use MIME::Base64 ();
use Test::More ();
use Time::HiRes ();

our @EXPORT_OK = qw(http raw_http is_problem key_order json_shape);

my $JSON = JSON::PP->new->utf8->canonical;
my $CAPTURE_JSON = JSON::PP->new->canonical->utf8;    # SOUK_API_CAPTURE lines

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
    _capture($method, $url, $r) if $ENV{SOUK_API_CAPTURE};
    return {status => $r->{status}, headers => $r->{headers}, body => $r->{content},
        json => $json};
}

# With SOUK_API_CAPTURE=DIR (tests/run.sh sets it), every exchange of http() is appended to
# DIR/<pid>.jsonl for contracts/bin/validate-responses.mjs, which checks each answer against
# the OpenAPI document of its route (contracts/README.md). One file per process: forked
# children write their own. Answers carrying X-Fake come from a test double
# (Souk::FakeUpstream), not from the shop, and are not captured.
sub _capture {
    my ($method, $url, $r) = @_;
    return if $r->{status} == 599;    # HTTP::Tiny's own error: no answer to check
    return if exists $r->{headers}{'x-fake'};    # a test double's answer, not the shop's
    my $body = $r->{content} // '';
    my %rec = (file => $0, method => $method, url => $url, status => $r->{status},
        headers => $r->{headers});
    if (utf8::decode(my $text = $body)) { $rec{body} = $text }
    else { $rec{body_base64} = MIME::Base64::encode_base64($body, '') }
    open my $fh, '>>', "$ENV{SOUK_API_CAPTURE}/$$.jsonl" or return;
    print $fh $CAPTURE_JSON->encode(\%rec), "\n";
    close $fh;
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

# key_order($json_text): the member names of every object in the text, in the order they
# appear, by path (".:id,sku,...;.category:id,slug,name;.items[]:..."), to compare the
# shapes of two answers whose values differ. Items of an array share one path.
sub key_order {
    my ($text) = @_;
    my ($pos, %keys) = (0);
    my $ws = sub { $pos++ while $pos < length($text) && substr($text, $pos, 1) =~ /\s/ };
    my $string = sub {
        my $j = $pos + 1;
        $j += substr($text, $j, 1) eq '\\' ? 2 : 1 while substr($text, $j, 1) ne '"';
        my $s = substr($text, $pos + 1, $j - $pos - 1);
        $pos = $j + 1;
        return $s;
    };
    my $value;
    $value = sub {
        my ($path) = @_;
        $ws->();
        my $c = substr($text, $pos, 1);
        if ($c eq '{' || $c eq '[') {
            $pos++;
            my $at = $path eq '' ? '.' : $path;
            $keys{$at} //= [] if $c eq '{';
            $ws->();
            if (substr($text, $pos, 1) eq ($c eq '{' ? '}' : ']')) { $pos++; return }
            while (1) {
                my $sub = "$path\[]";
                if ($c eq '{') {
                    $ws->();
                    my $k = $string->();
                    $ws->();
                    $pos++;    # ':'
                    push @{$keys{$at}}, $k unless grep { $_ eq $k } @{$keys{$at}};
                    $sub = "$path.$k";
                }
                $value->($sub);
                $ws->();
                last if substr($text, $pos++, 1) ne ',';
            }
        } elsif ($c eq '"') {
            $string->();
        } else {
            $pos++ while $pos < length($text) && substr($text, $pos, 1) !~ /[,\]\}\s]/;
        }
    };
    $value->('');
    undef $value;    # the closure refers to itself
    return join ';', map { "$_:" . join(',', @{$keys{$_}}) } sort keys %keys;
}

# json_shape($data): $data (decoded JSON) with every scalar replaced by its JSON type
# (string, number, boolean, null), so two answers compare by structure and types.
sub json_shape {
    my ($d) = @_;
    return {map { ($_ => json_shape($d->{$_})) } keys %$d} if ref $d eq 'HASH';
    return [map { json_shape($_) } @$d] if ref $d eq 'ARRAY';
    return 'null' unless defined $d;
    return 'boolean' if JSON::PP::is_bool($d);
    my $f = B::svref_2object(\$d)->FLAGS;
    return ($f & (B::SVp_IOK() | B::SVp_NOK())) && !($f & B::SVp_POK()) ? 'number' : 'string';
}

1;
