# lib/t/21_events_contract.t - EVENT_MAP in lib/event.h and the "Event types" table of
# contracts/events.md list the same (type, version) pairs, each with a payload section and a
# payload schema in contracts/events/. Fails when a row is on one side only or a version differs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";

use Test::More;

my $root = "$FindBin::Bin/../..";

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    return scalar <$fh>;
}

# X(NAME, "key", version) rows of the EVENT_MAP macro (backslash-continued lines).
sub header_rows {
    my ($text) = @_;
    my ($map) = $text =~ /#define\s+EVENT_MAP\(X\)((?:[^\n]*\\\n)*[^\n]*\n)/
        or die "lib/event.h: no EVENT_MAP\n";
    my %rows;
    while ($map =~ /X\(\s*(\w+)\s*,\s*"([^"]+)"\s*,\s*(\d+)\s*\)/g) {
        die "lib/event.h: $2 twice\n" if exists $rows{$2};
        $rows{$2} = $3;
    }
    return \%rows;
}

# | `key` | version | ... rows of the table under "## Event types" (up to the next heading).
sub doc_rows {
    my ($text) = @_;
    my ($table) = $text =~ /^## Event types\n(.*?)(?=^#)/ms or die "events.md: no Event types\n";
    my %rows;
    for my $line (split /\n/, $table) {
        next unless $line =~ /^\|\s*`([^`]+)`\s*\|\s*(\d+)\s*\|/;
        die "events.md: $1 twice\n" if exists $rows{$1};
        $rows{$1} = $2;
    }
    return \%rows;
}

my $h = header_rows(slurp("$root/lib/event.h"));
my $doc_text = slurp("$root/contracts/events.md");
my $d = doc_rows($doc_text);

ok(scalar keys %$h, 'EVENT_MAP has rows') or diag('parser found nothing in lib/event.h');
ok(scalar keys %$d, 'events.md has rows') or diag('parser found nothing in contracts/events.md');

for my $k (sort keys %$h) {
    ok(exists $d->{$k}, "$k (lib/event.h) is in contracts/events.md");
    is($d->{$k}, $h->{$k}, "$k: same version in both") if exists $d->{$k};
    like($doc_text, qr/^### `\Q$k\E` \(version $h->{$k}\)$/m, "$k: has a payload section");
}
for my $k (sort keys %$d) {
    ok(exists $h->{$k}, "$k (contracts/events.md) is in lib/event.h EVENT_MAP");
}
for my $k (sort keys %$h) {
    like($k, qr/^[a-z][a-z_]*(?:\.[a-z][a-z_]*)+$/, "$k: dotted lower case");
}

# Every (type, version) of EVENT_MAP has its payload schema, contracts/events/TYPE.vN.json
# (tests/run.sh validates every published event against it; contracts/bin/events.mjs compat
# keeps published versions compatible), and no schema names a type or a version the map lacks.
my %schemas = map { m{/([a-z_.]+)\.v(\d+)\.json$} ? ("$1\@$2" => 1) : () }
    glob "$root/contracts/events/*.json";
for my $k (sort keys %$h) {
    ok($schemas{"$k\@$h->{$k}"}, "$k: contracts/events/$k.v$h->{$k}.json exists");
}
for my $s (sort keys %schemas) {
    my ($k, $v) = split /\@/, $s;
    ok(exists $h->{$k} && $v <= $h->{$k}, "contracts/events/$k.v$v.json: $k version $v is in EVENT_MAP");
}

# The parsers themselves: a row added on one side only must be seen.
my $h2 = header_rows("#define EVENT_MAP(X) \\\n    X(A_B, \"a.b\", 1) \\\n    X(C_D, \"c.d\", 2)\n");
is_deeply($h2, {'a.b' => 1, 'c.d' => 2}, 'header parser reads every continued line');
my $d2 = doc_rows("## Event types\n\n| t | v |\n|---|---|\n| `a.b` | 1 | x |\n| `c.d` | 2 | y |\n\n## Next\n| `e.f` | 1 |\n");
is_deeply($d2, {'a.b' => 1, 'c.d' => 2}, 'doc parser reads only the Event types table');

done_testing;
