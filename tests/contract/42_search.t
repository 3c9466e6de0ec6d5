# v1 contract: search (GET /api/v1/search). Runs unchanged against the monolith's LIKE search
# and against souk-search (fed by the catalog's events) behind the gateway. Only what both
# promise is asserted: whole words found in names and descriptions, case-insensitively;
# relevance order is each side's own, so results without a sort compare as sets.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use Test::More;
use Souk::Test;
use Souk::Contract;

my $t = contract_target();
my $cat = $t->categories;
my ($parent, $child, $other) = @$cat{qw(parent child other)};
my $tag = $t->tag;
my $kettle = "${tag}kettle";    # a word only this file's products hold
my $mug = "${tag}mug";

my @spec = (
    [steel  => "Steel $kettle 1L",      $child,  4900, {colour => 'silver'}, 'Boils fast.'],
    [glass  => "Glass $kettle",         $child,  3900, {colour => 'clear'},  'See it boil.'],
    [travel => 'Travel Boiler',         $parent, 2900, {colour => 'black'},  "A small $kettle for trips."],
    [retro  => "Retro \u\L$kettle\E",   $other,  3900, {colour => 'black'},  'Whistles.'],
    [mugA   => "Enamel $mug",           $other,  1200, {colour => 'white'},  'Holds tea.'],
    [mugB   => "Stoneware $mug",        $other,  1500, {colour => 'black'},  ''],
);
my %p;
for (@spec) {
    my ($key, $name, $c, $amount, $attrs, $desc) = @$_;
    $p{$key} = $t->product(name => $name, category_id => $c->{id}, attributes => $attrs,
        description => $desc, price => {amount => $amount, currency => 'EUR'});
}
$t->settle;

sub search { $t->api(GET => "/api/v1/search?$_[0]") }
sub ids { [map { $_->{id} } @{$_[0]{json}{items} || []}] }
sub set { [sort { $a <=> $b } @{ids($_[0])}] }
sub ids_of { [sort { $a <=> $b } map { $p{$_}{id} } @_] }
my @kettles = qw(steel glass travel retro);

my $res = search("q=$kettle");
answers($res, 200, 'search_page', 'search: 200 {items, page, limit, total, query}');
in_order($res, 'search_page', 'search: member order (items are summaries)');
is_deeply([@{$res->{json}}{qw(page limit total query)}], [1, 20, 4, $kettle],
    'search: page 1, limit 20, total 4, the query echoed');
is_deeply(set($res), ids_of(@kettles), 'search: names and descriptions, any case');
my ($item) = grep { $_->{id} == $p{steel}{id} } @{$res->{json}{items}};
is_deeply($item, {map { ($_ => $p{steel}{$_}) } qw(id sku name brand category price attributes)},
    'search: an item is the product\'s summary');
is_deeply(set(search('q=' . uc $kettle)), ids_of(@kettles), 'search: q is case-insensitive');
is_deeply(set(search("q=$mug")), ids_of(qw(mugA mugB)), 'search: another word');
is(search("q=$tag")->{json}{total}, 6, 'search: a word every description holds');
$res = search("q=${tag}nothing");
answers($res, 200, 'search_page', 'search: no match is 200');
is_deeply([$res->{json}{total}, ids($res)], [0, []], 'search: no match, empty items');

sub by { my ($key, @ps) = @_; [map { $_->{id} } sort { $key->($a, $b) || $a->{id} <=> $b->{id} } map { $p{$_} } @ps] }
is_deeply(ids(search("q=$kettle&sort=price_asc")),
    by(sub { $_[0]{price}{amount} <=> $_[1]{price}{amount} }, @kettles), 'sort: price_asc, ties by id');
is_deeply(ids(search("q=$kettle&sort=price_desc")),
    by(sub { $_[1]{price}{amount} <=> $_[0]{price}{amount} }, @kettles), 'sort: price_desc, ties by id');
is_deeply(ids(search("q=$kettle&sort=name")), by(sub { uc $_[0]{name} cmp uc $_[1]{name} }, @kettles),
    'sort: name');
is_deeply(ids(search("q=$kettle&sort=newest")), [sort { $b <=> $a } map { $p{$_}{id} } @kettles],
    'sort: newest');
is_deeply(set(search("q=$kettle&sort=relevance")), ids_of(@kettles), 'sort: relevance, the same set');

my @pages = map { search("q=$kettle&sort=price_asc&limit=3&page=$_") } 1 .. 3;
is_deeply([map { scalar @{ids($_)} } @pages], [3, 1, 0], 'pages: 3 + 1, then an empty page');
is_deeply([map { $_->{json}{total} } @pages], [4, 4, 4], 'pages: total on every page');
is_deeply([map { @{ids($_)} } @pages], ids(search("q=$kettle&sort=price_asc")), 'pages: together, all');
is_deeply([@{$pages[0]{json}}{qw(page limit)}], [1, 3], 'pages: page and limit echoed');

is_deeply(set(search("q=$kettle&category=$parent->{slug}")), ids_of(qw(steel glass travel)),
    'filter: a category with its children');
is_deeply(set(search("q=$kettle&category=$child->{slug}")), ids_of(qw(steel glass)),
    'filter: a child category');
is_deeply(set(search("q=$kettle&min_price=3000&max_price=3900")), ids_of(qw(glass retro)),
    'filter: price bounds are inclusive');
is_deeply(set(search("q=$kettle&colour=black")), ids_of(qw(travel retro)), 'filter: an attribute');
is_deeply(set(search("q=$kettle&colour=black&category=$other->{slug}")), ids_of(qw(retro)),
    'filter: attribute and category');
is(search("q=$kettle&colour=purple")->{json}{total}, 0, 'filter: nothing matches');

for my $q ('', 'q=', 'q=+++', 'sort=name', "q=$kettle&limit=0", "q=$kettle&limit=101",
    "q=$kettle&page=0", "q=$kettle&sort=best", "q=$kettle&min_price=-5", "q=$kettle&Bad=1",
    'q=' . ('a' x 201), "q=$kettle&" . join('&', map {"a$_=1"} 1 .. 9), "q=%FF%FE") {
    is_problem(search($q), 400, 'invalid-request',
        'search: ' . (length $q > 40 ? substr($q, 0, 37) . '...' : "'$q'") . ' is 400');
}

$t->finish;
done_testing;
