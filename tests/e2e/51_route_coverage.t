# Route coverage: gateway/routes.default.json with every route that has a service switched to
# mode new, in front of the real services (and a fake monolith that marks its answers), is
# walked with every endpoint of the v1 contract (contracts/api-v1.yaml) and every endpoint
# the services declare (services/*/main.c, v1 and v2). Routes must be as fine as ownership:
#
#   - an endpoint on a route in mode new must reach a service that serves it: a 404 from the
#     service's router ("no such resource": no such route) or a 405 fails, a 404 for an
#     unknown id ("product not found") is fine; a gateway 5xx (no upstream, timeout) fails;
#   - an endpoint on a route without a service must be in %STAYS_LEGACY below (the routes that
#     stay on the monolith until their service exists) and be answered by the monolith;
#   - the process endpoints are the gateway's own (%GATEWAY_OWN).
#
# An endpoint in none of these categories, or a route in %STAYS_LEGACY that has a service by
# now, fails the test: the list and the table are kept honest together.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib', 'tests/contract/lib';

BEGIN { delete $ENV{SOUK_TEST_TARGET}; $ENV{SOUK_CONTRACT_MODE} = 'services' }
use Souk::Test;
use Souk::FakeUpstream;
use Souk::Gateway ();
use Souk::Contract;
use JSON::PP ();

# Routes of the default table that stay on the monolith until their service exists. Keep in
# step with gateway/README.md ("The default table").
my %STAYS_LEGACY = ();
# Answered by the gateway itself on its data listener, never proxied.
my %GATEWAY_OWN = ('GET /health' => 200, 'GET /ready' => 200, 'GET /metrics' => 404);

my $JSON = JSON::PP->new->utf8->canonical;
my $root = repo_root();
my $slurp = sub { local (@ARGV, $/) = @_; <> };

# ---- the endpoints ------------------------------------------------------------------------

# contracts/api-v1.yaml: "  /path:" then "    method:" lines under "paths:".
my (@contract, $in_paths, $cur);
for (split /\n/, $slurp->("$root/contracts/api-v1.yaml")) {
    if (/^(\S+):/) { $in_paths = $1 eq 'paths'; next }
    next unless $in_paths;
    if (m{^  (/\S*):\s*$}) { $cur = $1; next }
    push @contract, [uc $1, $cur] if $cur && /^    (get|put|post|delete|patch|head|options):/;
}
ok(@contract >= 20, scalar(@contract) . ' endpoints in the v1 contract');

# services/*/main.c: {"METHOD", "/api/...", handler, ...} rows of the route tables.
my %declared;    # "METHOD /path" => service
for my $main (glob "$root/services/*/main.c") {
    my ($svc) = $main =~ m{services/([^/]+)/main\.c$};
    my $text = $slurp->($main);
    $declared{"$1 $2"}{$svc} = 1 while $text =~ /\{\s*"([A-Z]+)",\s*"(\/api\/[^"]+)"/g;
}
ok(scalar(grep { m{ /api/v2/} } keys %declared), 'the services declare v2 endpoints');

# ---- the stack: the real services, a fake monolith, the default table all in mode new ------

# The gateway's own /health, /ready and /metrics log their access line at debug (probes stay
# out of the info log), and the walk finds who answered by that line.
my $t = do { local $ENV{SOUK_LOG_LEVEL} = 'debug'; contract_target() };
my $gw = $t->{gateway};
my $monolith = Souk::FakeUpstream->start(name => 'monolith', reply => {json => {from => 'monolith'}});
my $table = $JSON->decode($slurp->("$root/gateway/routes.default.json"));
my %by_addr = ($monolith->addr => 'monolith');
for my $name (sort keys %{$table->{upstreams}}) {
    my $addr = $name eq 'monolith' ? $monolith->addr
        : $t->{svc}{$name} ? '127.0.0.1:' . $t->{svc}{$name}->port : undef;
    ok(defined $addr, "upstream $name of the default table runs in this test") or next;
    $table->{upstreams}{$name}{servers} = [$addr];
    $by_addr{$addr} = $name;
}
my %route = map { ($_->{name} => $_) } @{$table->{routes}};
for my $r (values %route) {
    $r->{mode} = 'new' if $r->{new};
    ok(!($r->{new} && $STAYS_LEGACY{$r->{name}}),
        "route $r->{name} is not both a service's and on the stays-legacy list");
}
for my $name (sort keys %STAYS_LEGACY) {
    ok($route{$name} && !$route{$name}{new}, "route $name (stays legacy) is in the default table");
}
my $put = $gw->put_routes($table);
is($put->{status}, 200, 'the default table, all in mode new, is installed') or diag($put->{body});

# ---- the walk -----------------------------------------------------------------------------

my $seq = 0;
my $token = $t->admin_token;    # every edge policy lets an admin through

# One request through the gateway; its answer and the gateway's access line for it.
sub through {
    my ($method, $path) = @_;
    (my $target = $path) =~ s/\{[a-z_]+\}/987654321/g;    # ids no fixture has
    my $rid = sprintf('coverage-%d-%d', $$, ++$seq);
    my $res = http($method, $gw->url . $target, {headers => {Authorization => "Bearer $token",
        'X-Request-Id' => $rid}, ($method =~ /^(?:POST|PUT|PATCH)$/ ? (json => {}) : ())});
    my $line = wait_until("the access line of $rid",
        sub { (grep { ($_->{request_id} // '') eq $rid } $gw->log_lines)[0] }, 5);
    return ($res, $line || {}, $target);
}

sub check {
    my ($method, $path, $owner) = @_;    # owner: {service => 1} of those that declare it, if known
    my ($res, $line, $target) = through($method, $path);
    my $what = "$method $path";
    my $detail = $res->{json} && ref $res->{json} eq 'HASH' ? $res->{json}{detail} // '' : '';
    my $route = $route{$line->{route} // ''};
    my $side = $by_addr{$line->{upstream} // ''} // '';
    my $why = "$res->{status} route=" . ($line->{route} // '-') . " upstream=$side $detail";
    if (exists $GATEWAY_OWN{$what}) {
        is($res->{status} . ' ' . ($line->{route} // ''), "$GATEWAY_OWN{$what} gateway",
            "$what: the gateway's own") or diag($why);
    } elsif ($route && $route->{new} && $route->{mode} eq 'new') {
        my $served = $side eq $route->{new} && $res->{status} != 405 && $res->{status} < 500
            && !($res->{status} == 404 && $detail eq 'no such resource');
        ok($served, "$what: served by $route->{new} (route $route->{name})") or diag($why);
        # (orders and history both declare the v1 order reads; the route names which serves)
        ok($owner->{$side}, "$what: a service that declares it")
            or diag("$side answered; declared by " . join(', ', sort keys %$owner)) if defined $owner;
    } elsif ($route && $STAYS_LEGACY{$route->{name}}) {
        is(($res->{headers}{'x-fake'} // '') . " $res->{status}", 'monolith 200',
            "$what: stays on the monolith (route $route->{name}) until $STAYS_LEGACY{$route->{name}}")
            or diag($why);
    } else {
        fail("$what: on no service's route and not on the stays-legacy list") or diag($why);
    }
}

check(@$_) for @contract;
check(split(/ /, $_, 2), $declared{$_}) for sort keys %declared;

ok($gw->alive, 'the gateway is still running');
done_testing;
