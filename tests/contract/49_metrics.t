# Every process of the target answers GET /metrics in a text format Prometheus accepts:
# `promtool check metrics` (Debian's prometheus package) finds no problem, after traffic has
# filled the counters and histograms. Against the monolith: souk-monolith; against the
# services: each service and souk-gateway (its /metrics is on the admin listener only).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use File::Temp ();
use Test::More;
use Souk::Test;
use Souk::Contract;

my $promtool = (grep { -x } '/usr/bin/promtool', map {"$_/promtool"} split /:/, $ENV{PATH})[0];
ok($promtool, 'promtool is installed (scripts/bootstrap.sh: prometheus)') or BAIL_OUT('no promtool');

my $t = contract_target();
# Traffic on every route family, so labelled series and histogram buckets exist.
my $u = $t->user;
my $p = $t->product;
$t->settle;
$t->api(GET => "/api/v1/products/$p->{id}");
$t->api(GET => '/api/v1/search?q=' . $t->tag);
$t->api(GET => "/api/v1/products/$p->{id}/reviews");
$t->api(GET => '/api/v1/cart', token => $u->{token});
$t->api(GET => '/api/v1/products/0');    # a 404 too

my %procs = $t->{svc} ? map { ($_ => $t->{svc}{$_}->url) } keys %{$t->{svc}} : ();
$procs{gateway} = $t->{gateway}->admin_url if $t->{gateway};
$procs{target} = $t->url unless %procs;    # an external target: what answers there
ok(scalar keys %procs, 'processes: ' . join(' ', sort keys %procs));

for my $name (sort keys %procs) {
    my $res = http(GET => "$procs{$name}/metrics");
    is($res->{status}, 200, "$name: GET /metrics is 200") or next;
    like($res->{headers}{'content-type'} // '', qr{^text/plain; version=0\.0\.4}, "$name: text format 0.0.4");
    my $f = File::Temp->new;
    print $f $res->{body};
    close $f;
    my $out = `'$promtool' check metrics < '@{[$f->filename]}' 2>&1`;
    is($? >> 8, 0, "$name: promtool check metrics finds no problem") or diag($out);
}

$t->finish;
done_testing;
