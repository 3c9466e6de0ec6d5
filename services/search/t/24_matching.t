# What shoppers type, and a bounded count (migration 0004): model tokens written inside
# names as paths ("i7/32GB/512GB") are words of their own, a number and its unit may be
# typed apart ("32 gb"), "15.6" is one number, the last word matches as a prefix ("headph",
# "chelsea bo"), and the total is exact up to the cap, then "at least the cap" (v2 says so
# with total_exact; v1 keeps the monolith's shape). Products travel through the catalog's
# API and events; the thousand-odd products of the cap go straight through search_apply,
# the consumer's own function, which is faster than a thousand events.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib", "$FindBin::Bin/../../catalog/t/lib";
use Test::More;
use Souk::Test;
use SearchTest;

my $t = SearchTest->start;
my $CAP = 1000;    # SEARCH_COUNT_CAP

my %cat = map { ($_->[0] => $t->category(@$_)) }
    ([laptops => 'Laptops'], [headphones => 'Headphones'], [shoes => 'Shoes'], [desks => 'Desks']);
my @spec = (
    [probook => 'Nordtek ProBook 14 i7/32GB/512GB', 'laptops',
        {cpu => 'i7', ram_gb => 32, storage_gb => 512, screen_in => '14'}],
    [blade => 'Aperio Blade 15.6 M3/16GB/1TB', 'laptops',
        {cpu => 'M3', ram_gb => 16, storage_gb => 1024, screen_in => '15.6'}],
    [echo => 'Sonique Echo Wireless Over-Ear Headphones — Black', 'headphones', {type => 'Over-Ear'}],
    [pulse => 'Sonique Pulse On-Ear Headphones — Silver', 'headphones', {type => 'On-Ear'}],
    [boot => 'Stride Pulse Chelsea Boot — Blue', 'shoes', {colour => 'Blue'}],
    [desk => 'Oak Desk 15 cm deep, 6 drawers', 'desks', {material => 'Oak'}],
);
my %p;
for (@spec) {
    my ($key, $name, $c, $attrs) = @$_;
    $p{$key} = $t->product(name => $name, category_id => $cat{$c}, attributes => $attrs,
        description => "The $name.")->{id};
}
$t->wait_for('/api/v1/search?q=drawers', sub { $_[0]{total} == 1 }, 'the products reach search');

sub v1 { $t->get("/api/v1/search?$_[0]")->{json} }
sub v2 { $t->get("/api/v2/search?$_[0]")->{json} }
sub ids { [sort { $a <=> $b } map { $_->{id} } @{$_[0]{items}}] }
sub of { [sort { $a <=> $b } map { $p{$_} } @_] }

# --- tokens ---------------------------------------------------------------------------------
for my $c (['i7', 'probook'], ['32gb', 'probook'], ['32GB', 'probook'], ['32%20gb', 'probook'],
    ['512gb', 'probook'], ['i7%2F32GB', 'probook'], ['m3', 'blade'], ['1tb', 'blade'],
    ['1%20TB', 'blade'], ['15.6', 'blade'], ['i7%20laptop', 'probook'], ['m3%20laptops', 'blade'],
    ['16gb%20laptop', 'blade']) {
    my ($q, @want) = @$c;
    is_deeply(ids(v1("q=$q")), of(@want), "tokens: v1 '$q' finds @want");
    is_deeply(ids(v2("q=$q")), of(@want), "tokens: v2 '$q' finds @want");
}
is_deeply(ids(v1('q=15%206')), of('desk'), 'tokens: "15 6" is two numbers, not 15.6');
is_deeply(ids(v2('q=over-ear')), of('echo'), 'tokens: a hyphenated word is one word');
is_deeply(ids(v2('q=on-ear%20headphones')), of('pulse'), 'tokens: and its own product only');
is_deeply([map { $_->{id} } @{$t->get('/api/v2/search/suggest?q=nordtek%20i7')->{json}{suggestions}}],
    of('probook'), 'tokens: suggest splits the name alike');

# --- prefixes -------------------------------------------------------------------------------
for my $c (['headph', qw(echo pulse)], ['sonique%20headph', qw(echo pulse)],
    ['chelsea%20bo', 'boot'], ['wireless%20over-e', 'echo'], ['nordtek%20lap', 'probook'],
    ['laptops', qw(probook blade)], ['Headphones', qw(echo pulse)]) {
    my ($q, @want) = @$c;
    is_deeply(ids(v1("q=$q")), of(@want), "prefix: v1 '$q' finds @want");
    is_deeply(ids(v2("q=$q")), of(@want), "prefix: v2 '$q' finds @want");
}
is(v1('q=chelsea%20b')->{total}, 0, 'prefix: one letter is not a prefix (too broad)');
is(v1('q=headphx')->{total}, 0, 'prefix: a longer word than any is no match');
ok(!exists v2('q=headph')->{corrected_query}, 'prefix: a prefix that matches is not "corrected"');

# --- the total cap --------------------------------------------------------------------------
# capword products with ids above the catalog's, cheaper as the id grows: the cheapest is
# the last in the table's physical order.
sub apply_range {
    my ($from, $to) = @_;
    $t->sql("SELECT count(search_apply(g, 1, jsonb_build_object('name', 'Capword item ' || g,
        'sku', 'CAP-' || g, 'brand', 'Capco', 'description', 'One of many.',
        'category', jsonb_build_object('id', 1, 'slug', 'caps', 'name', 'Caps'),
        'price', jsonb_build_object('amount', 1000000 - g, 'currency', 'EUR'),
        'created_at', '2026-01-01T00:00:00Z', 'attributes', '{}'::jsonb), false, NULL))
        FROM generate_series($from, $to) g");
}
my $base = 900000;
apply_range($base + 1, $base + $CAP - 1);
my $r = v2('q=capword');
is_deeply([@$r{qw(total total_exact)}], [$CAP - 1, JSON::PP::true], 'cap: below it the total is exact');
apply_range($base + $CAP, $base + $CAP);
$r = v2('q=capword');
is_deeply([@$r{qw(total total_exact)}], [$CAP, JSON::PP::true], 'cap: at it, still exact');
apply_range($base + $CAP + 1, $base + $CAP + 50);
$r = v2('q=capword');
is_deeply([@$r{qw(total total_exact)}], [$CAP, JSON::PP::false],
    'cap: above it, the cap as a lower bound, flagged');
is(scalar @{$r->{items}}, 20, 'cap: a full first page');
my $r1 = v1('q=capword');
is($r1->{total}, $CAP, 'cap: v1 reports the cap (a lower bound) in total');
is_deeply([sort keys %$r1], [qw(items limit page query total)], 'cap: v1 keeps the monolith\'s members');
is_deeply([@{v2('q=capword%20item%20' . ($base + 1))}{qw(total total_exact)}], [1, JSON::PP::true],
    'cap: a narrower query is exact');

# Pages walk the whole result once: the ranked window, then the rest in table order.
my (%seen, $dups);
for my $page (1 .. 11) {
    for (@{v1("q=capword&limit=100&page=$page")->{items}}) { $dups++ if $seen{$_->{id}}++ }
}
is(scalar keys %seen, $CAP + 50, 'pages: every match once over the pages, past the window too');
ok(!$dups, 'pages: none twice');
is(scalar @{v1('q=capword&limit=100&page=11')->{items}}, 50, 'pages: the last page holds the rest');

# Sorts other than relevance are exact over every match, not only the window.
is(v2('q=capword&sort=price_asc&limit=1')->{items}[0]{id}, $base + $CAP + 50,
    'sort: the cheapest of all matches first, though it lies past the window');
is(v1('q=capword&sort=newest&limit=1')->{items}[0]{id}, $base + $CAP + 50,
    'sort: newest (ties: highest id) over every match');

# Deleting brings the count back under the cap.
$t->sql("SELECT count(search_apply(g, 2, NULL, true, NULL))
    FROM generate_series($base + $CAP - 10, $base + $CAP + 50) g");
$r = v2('q=capword');
is_deeply([@$r{qw(total total_exact)}], [$CAP - 11, JSON::PP::true], 'cap: exact again after deletes');

$t->finish;
done_testing;
