#!/usr/bin/env perl
# The rule of contracts/README.md: every /api/ route in a route table (struct route arrays of
# monolith/ and services/*/, outside their tests) is described, with its method, by api-v1.yaml
# (an /api/v1/ route) or api-v2.yaml (an /api/v2/ route), and every described operation is
# served by some route table.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use Souk::Test qw(repo_root);

my $root = repo_root();

sub slurp { open my $fh, '<', $_[0] or die "$_[0]: $!"; local $/; scalar <$fh> }

# "METHOD /path/{}" keys: path parameters by position, not by name.
sub key { my ($m, $p) = @_; uc($m) . ' ' . ($p =~ s/\{[^}]*\}/{}/gr) }

# routes($c_text): the [method, path] rows of its `struct route NAME[] = {...};` tables.
sub routes {
    my ($text) = @_;
    my @rows;
    while ($text =~ /struct\s+route\s+\w+\[\]\s*=\s*\{(.*?)\n\};/gs) {
        my $table = $1;
        push @rows, [$1, $2] while $table =~ /\{\s*"([A-Z]+)"\s*,\s*"(\/api\/[^"]*)"/g;
    }
    return @rows;
}

# operations($yaml_text): "METHOD /path" of every operation under `paths:`.
sub operations {
    my ($text) = @_;
    my ($paths) = $text =~ /^paths:\n(.*?)(?=^\S)/ms or die "no paths:\n";
    my (@ops, $path);
    for (split /\n/, $paths) {
        if (/^  (\/\S*):\s*$/) { $path = $1 }
        elsif (/^    (get|put|post|delete|patch):\s*$/ && $path) { push @ops, key($1, $path) }
    }
    return @ops;
}

my %served;
for my $f (grep { !m{/t/} } glob("$root/monolith/*.c"), glob("$root/services/*/*.c")) {
    (my $rel = $f) =~ s{^\Q$root\E/}{};
    push @{$served{key(@$_)}}, $rel for routes(slurp($f));
}
ok(scalar keys %served, scalar(keys %served) . ' /api/ routes in the route tables');

my %described;
for my $v (1, 2) {
    $described{$_} = "api-v$v.yaml" for operations(slurp("$root/contracts/api-v$v.yaml"));
}
for my $k (sort keys %served) {
    my ($v) = $k =~ m{ /api/v(\d+)/};
    is($described{$k} // 'nowhere', "api-v$v.yaml",
        "$k (@{[join ', ', sort @{$served{$k}}]}) is described");
}
for my $k (sort keys %described) {
    next unless $k =~ m{ /api/};
    ok($served{$k}, "$k ($described{$k}) is served by a route table");
}

# The parsers: a table row and a document operation are seen.
is_deeply([routes("static const struct route r[] = {\n    {\"GET\", \"/api/v2/x/{id}\", h, 0, 0},\n    {NULL},\n};")],
    [['GET', '/api/v2/x/{id}']], 'route table parser');
is_deeply([operations("paths:\n  /api/v2/x/{id}:\n    get:\n      x: 1\n    post:\n      y: 2\ncomponents:\n")],
    ['GET /api/v2/x/{}', 'POST /api/v2/x/{}'], 'document parser');

done_testing;
