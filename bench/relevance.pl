#!/usr/bin/env perl
# bench/relevance.pl - precision at 5 and 10 of search engines over a fixed list of
# shopper queries (bench/queries.tsv: query <TAB> SQL condition on the catalog's
# products). The relevant ids of each query come from the catalog database (psql);
# each engine is asked GET <base><path>?q=...&limit=10 and scored on items[].id.
# A query that returns fewer than k items scores what it returned over k.
#
#   bench/relevance.pl --dsn postgresql://... --queries bench/queries.tsv \
#       --engine monolith=http://127.0.0.1:N/api/v1/search \
#       --engine search=http://127.0.0.1:M/api/v1/search [--md FILE]
#
# Prints one line per query and "MEAN name p5=... p10=..." per engine; --md writes
# the markdown table (a cell per engine: P@5 / P@10 (the engine's total)). Core
# modules only.
use strict;
use warnings;
use Getopt::Long;
use HTTP::Tiny;
use JSON::PP;

my ($dsn, $queries, $md, @engines);
GetOptions('dsn=s' => \$dsn, 'queries=s' => \$queries, 'md=s' => \$md,
    'engine=s' => \@engines)
    or die "usage: $0 --dsn DSN --queries FILE --engine NAME=URL... [--md FILE]\n";
die "relevance.pl: --dsn, --queries and at least one --engine are required\n"
    unless $dsn && $queries && @engines;
@engines = map { /^([^=]+)=(.+)$/ or die "bad --engine $_\n"; [$1, $2] } @engines;

my $http = HTTP::Tiny->new(timeout => 120, keep_alive => 1);
my $json = JSON::PP->new;

sub uri_escape {
    my $s = shift;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub relevant_ids {
    my $rule = shift;
    my $sql = "SELECT id FROM products WHERE deleted_at IS NULL AND ($rule)";
    open(my $fh, '-|', 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $dsn, '-c', $sql)
        or die "relevance.pl: psql: $!\n";
    my %ids = map { chomp; ($_ => 1) } <$fh>;
    close $fh or die "relevance.pl: psql failed for: $rule\n";
    return \%ids;
}

sub ask {
    my ($url, $q) = @_;
    my $res = $http->get($url . '?q=' . uri_escape($q) . '&limit=10');
    die "relevance.pl: GET $url?q=$q: $res->{status} $res->{content}\n" unless $res->{success};
    my $body = $json->decode($res->{content});
    return ([map { $_->{id} } @{ $body->{items} }], $body->{total});
}

sub precision {
    my ($ids, $rel, $k) = @_;
    my $hit = grep { $rel->{$_} } @{$ids}[0 .. ($#$ids < $k - 1 ? $#$ids : $k - 1)];
    return $hit / $k;
}

my @rows;
my %sum;
open(my $qf, '<', $queries) or die "relevance.pl: $queries: $!\n";
while (my $line = <$qf>) {
    chomp $line;
    next if $line =~ /^(#|\s*$)/;
    my ($q, $rule) = split /\t/, $line, 2;
    die "relevance.pl: no rule for query '$q'\n" unless defined $rule && $rule ne '';
    my $rel = relevant_ids($rule);
    my %row = (q => $q, nrel => scalar keys %$rel);
    for my $e (@engines) {
        my ($ids, $total) = ask($e->[1], $q);
        $row{ $e->[0] } = { p5 => precision($ids, $rel, 5), p10 => precision($ids, $rel, 10),
            total => $total // 0 };
        $sum{ $e->[0] }{p5} += $row{ $e->[0] }{p5};
        $sum{ $e->[0] }{p10} += $row{ $e->[0] }{p10};
    }
    push @rows, \%row;
    printf "%-28s relevant=%-6d %s\n", $q, $row{nrel},
        join(' ', map { sprintf '%s p5=%.1f p10=%.1f total=%d', $_->[0], @{ $row{ $_->[0] } }{qw(p5 p10 total)} } @engines);
}
die "relevance.pl: no queries in $queries\n" unless @rows;

my $n = @rows;
printf "MEAN %s p5=%.3f p10=%.3f\n", $_->[0], $sum{ $_->[0] }{p5} / $n, $sum{ $_->[0] }{p10} / $n
    for @engines;

exit 0 unless $md;
open(my $out, '>', $md) or die "relevance.pl: $md: $!\n";
my @names = map { $_->[0] } @engines;
print $out '| query | relevant products | ', join(' | ', @names), " |\n";
print $out '|---|---:|', join('|', map { '---:' } @names), "|\n";
for my $r (@rows) {
    print $out "| `$r->{q}` | $r->{nrel} | ",
        join(' | ', map { sprintf '%.1f / %.1f (%d)', @{ $r->{$_} }{qw(p5 p10 total)} } @names), " |\n";
}
print $out "| **mean** | | ",
    join(' | ', map { sprintf '**%.2f** / %.2f', $sum{$_}{p5} / $n, $sum{$_}{p10} / $n } @names), " |\n";
close $out;
