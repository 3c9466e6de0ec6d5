package CatalogTest;
# Shared helpers for the catalog's black-box tests: a fresh database, Redis and vhost, one
# souk-catalog, HS256 tokens minted with the test secret, a 5xx tally and a tiny Redis client
# (RESP over a socket); key_order and json_shape are in Souk::Test. Core Perl modules only.
use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET ();
use Souk::Test;

our @EXPORT_OK = qw(mint redis_cmd);
our $SECRET = 'catalog-test-secret-0123456789abcdef';

# start(%env): {db, redis, amqp, svc, url, admin, customer} with the outbox relay paused, so
# every event stays in the outbox table for the test to read.
sub start {
    my ($class, %env) = @_;
    my $redis = redis_start();
    # The I/O loop's Redis deadline (20 ms by default) is about a loaded shop's latency, not
    # what these files check: on a loaded 2-core CI machine a GET missed it (an error line, a
    # miss instead of a hit in 22_ratings). 24_cache_loop.t sets its own where it tests it.
    my $svc = fresh_service('catalog', SOUK_REDIS_URL => $redis->{url},
        SOUK_JWT_SECRET => $SECRET, SOUK_OUTBOX_PAUSED => 1,
        SOUK_CATALOG_CACHE_LOOP_TIMEOUT_MS => 1000, %env);
    return bless {db => $svc->{db}, redis => $redis, amqp => $svc->{amqp}, svc => $svc,
        url => $svc->url, admin => mint(role => 'admin', sub => '1'), customer => mint(sub => '2'),
        bad => []}, $class;
}

# api($method, $path, token => ..., json => ..., body => ..., headers => {...}): api_request();
# any 5xx is remembered for finish().
sub api { my ($t, @a) = @_; api_request($t->{url}, $t->{bad}, @a) }

sub admin_api { my ($t, $m, $p, %o) = @_; $t->api($m, $p, token => $t->{admin}, %o) }

# sql($text): rows of the catalog database, as souk_admin.
sub sql { pg_sql($_[0]{db}{db}, $_[1]) }

# ids_like_monolith(): for the files that feed a monolith (Souk::Shop) and this catalog the
# same writes and compare their answers byte for byte, ids included: the catalog's sequences
# allocate as the monolith's MariaDB does under the identity scheme (1, 3, 5, ...: odd,
# auto_increment_increment=2; migrate/map/README.md "Identity"). A real catalog never does
# (it allocates even ids once backfilled; tests/integration/32_identity.t); here it only makes
# both sides number the same creations alike, as they did with step 1 before the scheme.
sub ids_like_monolith {
    my ($t) = @_;
    $t->sql("ALTER SEQUENCE $_ INCREMENT BY 2 RESTART WITH 1")
        for map { $t->sql("SELECT pg_get_serial_sequence('$_', 'id')")->[0][0] }
        qw(categories products);
    return $t;
}

# category($slug, $name, $parent_id): POST /api/v2/categories; the new id.
sub category {
    my ($t, $slug, $name, $parent) = @_;
    my $res = $t->admin_api(POST => '/api/v2/categories',
        json => {slug => $slug, name => $name, (defined $parent ? (parent_id => $parent) : ())});
    die "category $slug: $res->{status} $res->{body}\n" unless $res->{status} == 201;
    return $res->{json}{id};
}

# metric($name): the value of an unlabelled series on /metrics (undef when absent).
sub metric { metric_value($_[0]{url}, $_[1]) }

# finish($expected): no 5xx was seen, and the service logged no error but lines matching
# $expected (and /ready refusals while the relay was still connecting at start).
sub finish {
    my ($t, $expected) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    no_failures($t->{bad}, [$t->{svc}], expected => $expected);
}

# mint(%claims): an HS256 token (sub, role, iat, exp, iss) signed with $SECRET.
sub mint { jwt_mint(secret => $SECRET, @_) }

# redis_cmd($port, @args): one command over RESP; the reply (arrays as arrayrefs, errors
# as {error => text}).
sub redis_cmd {
    my ($port, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp', Timeout => 5)
        or die "redis_cmd: connect $port: $!";
    binmode $s;
    my $req = '*' . scalar(@args) . "\r\n";
    for (@args) {
        my $a = "$_";
        utf8::encode($a) if utf8::is_utf8($a);
        $req .= '$' . length($a) . "\r\n$a\r\n";
    }
    print $s $req;
    my $r = _reply($s);
    close $s;
    return $r;
}

sub _reply {
    my ($s) = @_;
    my $line = <$s> // die "redis_cmd: connection closed\n";
    $line =~ s/\r\n\z//;
    my $type = substr($line, 0, 1, '');
    return $line if $type eq '+';
    return {error => $line} if $type eq '-';
    return 0 + $line if $type eq ':';
    if ($type eq '$') {
        return undef if $line < 0;
        my $buf = '';
        read($s, $buf, $line + 2, length $buf) while length($buf) < $line + 2;
        return substr($buf, 0, $line);
    }
    return [map { _reply($s) } 1 .. $line] if $type eq '*';
    die "redis_cmd: unexpected reply '$type$line'\n";
}

1;
