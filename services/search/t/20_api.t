# souk-search end to end: products are written through the catalog's admin API, travel as
# events (catalog outbox -> relay -> RabbitMQ -> search inbox) into the search projection, and
# are found by v1 search (byte for byte the monolith's answer where both match alike), v2
# search (relevance, typo correction, facets, filters, sorts, pages) and suggest. Updates,
# price changes and deletes are followed; stale versions are ignored; bad input is a 4xx
# problem+json, never a 5xx.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib",
    "$FindBin::Bin/../../catalog/t/lib", "$FindBin::Bin/../../../monolith/t/lib";
use Test::More;
use Souk::Test;
use Souk::Shop;
use SearchTest;

my $t = SearchTest->start;
$t->catalog->ids_like_monolith;    # the same ids as the monolith's for the same writes
my $m = Souk::Shop->start('search_v1');    # the legacy search, fed the same products
my $madmin = $m->admin;

# --- the same shop on both sides ----------------------------------------------------------
my %cat;
for ([electronics => 'Electronics'], [laptops => 'Laptops', 'electronics'], [bags => 'Bags'],
    [furniture => 'Furniture'], [minis => 'Minis', 'laptops']) {
    my ($slug, $name, $parent) = @$_;
    $cat{$slug} = $t->category($slug, $name, defined $parent ? $cat{$parent} : undef);
    is($m->category($slug, $name, $parent), $cat{$slug}, "category $slug: same id on both sides");
}

my @spec = (
    [zen => {name => 'Zenbook Laptop 14', brand => 'Asus', category_id => $cat{laptops},
        description => 'A light machine for travel.', price => {amount => 129900, currency => 'EUR'},
        attributes => {ram_gb => 16, colour => 'silver', touch => JSON::PP::false, cpu => 'x86-64'}}],
    [pack => {name => 'Travel Backpack', brand => 'Osprey', category_id => $cat{bags},
        description => 'Fits a laptop up to 15 inches.', price => {amount => 8900, currency => 'EUR'},
        attributes => {colour => 'black'}}],
    [gamer => {name => 'Gaming Laptop 17', brand => 'Acer', category_id => $cat{laptops},
        description => 'Fast and loud.', price => {amount => 189900, currency => 'EUR'},
        attributes => {ram_gb => 32, colour => 'black'}}],
    [sleeve => {name => 'Laptop Sleeve', brand => 'Osprey', category_id => $cat{bags},
        description => 'Protects your notebook.', price => {amount => 2900, currency => 'EUR'},
        attributes => {colour => 'grey'}}],
    [chair => {name => 'Office Chair', brand => 'Sitwell', category_id => $cat{furniture},
        description => 'Comfortable for long days.', price => {amount => 19900, currency => 'EUR'},
        attributes => {colour => 'black', material => 'mesh'}}],
    # two levels below electronics: the category filter reaches one level of children
    [mini => {name => 'Quasar Pocket PC', brand => 'Quasar', category_id => $cat{minis},
        description => 'Small and quick.', price => {amount => 39900, currency => 'EUR'},
        attributes => {colour => 'white'}}],
);
my (%p, %body);
for (@spec) {
    my ($key, $f) = @$_;
    my $sku = "SKU-$key-$$";
    $body{$key} = {%$f, sku => $sku};
    $p{$key} = $t->product(%{$body{$key}});
    my $mp = $m->product($madmin, %{$body{$key}});
    is($mp->{id}, $p{$key}{id}, "product $key: same id on both sides");
}
$t->wait_for('/api/v1/search?q=laptop', sub { $_[0]{total} == 4 },
    'the catalog\'s product.created events reach search');
$t->wait_for('/api/v1/search?q=chair', sub { $_[0]{total} == 1 }, 'chair is searchable');
$t->wait_for('/api/v1/search?q=quasar', sub { $_[0]{total} == 1 }, 'all six are searchable');

# matches (migration 0003) must hold exactly the live documents, with their columns.
my $matches_drift = 'SELECT count(*) FROM documents d FULL JOIN matches m ON m.id = d.id
    WHERE (m.id IS NOT NULL) IS DISTINCT FROM (d.id IS NOT NULL AND NOT d.deleted)
       OR (m.id IS NOT NULL AND (m.price_minor, m.created_at, m.brand, m.name, m.category_path,
           m.attrs, m.tsv) IS DISTINCT FROM (d.price_minor, d.created_at, d.brand, d.name,
           d.category_path, d.attrs, d.tsv))';

sub ids { [map { $_->{id} } @{$_[0]{items}}] }
sub v2 { $t->get("/api/v2/search?$_[0]")->{json} }

# --- v1: the monolith's shape -------------------------------------------------------------
for my $q ('q=zenbook', 'q=chair', 'q=laptop&sort=price_asc', 'q=laptop&sort=price_desc&limit=2',
    'q=laptop&colour=black&sort=price_asc', 'q=laptop&category=bags&sort=price_asc',
    'q=laptop&min_price=5000&max_price=130000&sort=price_asc', 'q=laptop&sort=name',
    'q=nothing-like-this', 'q=laptop&category=electronics&sort=price_asc', 'q=quasar&category=laptops',
    'q=quasar&category=minis', 'q=quasar&category=electronics', 'q=quasar&category=bags') {
    my $s = $t->get("/api/v1/search?$q");
    my $l = $m->api(GET => "/api/v1/search?$q");
    is($s->{status}, 200, "v1 $q: 200");
    is($s->{body}, $l->{body}, "v1 $q: byte for byte the monolith's answer");
}

# The category tree, as the monolith: a category and its direct children.
sub v1_total { $t->get("/api/v1/search?$_[0]")->{json}{total} }
is(v1_total('q=laptop&category=electronics'), 2, 'category: a parent finds its children\'s products');
is(v1_total('q=quasar&category=laptops'), 1, 'category: laptops finds its child minis\' products');
is(v1_total('q=quasar&category=minis'), 1, 'category: and minis its own');
is(v1_total('q=quasar&category=electronics'), 0, 'category: a grandparent does not (one level)');
is_deeply($t->sql("SELECT array_to_string(category_path, '/') FROM documents WHERE id = $p{mini}{id}"),
    [['electronics/laptops/minis']], 'category: the projection keeps the whole path, root first');

# --- relevance, typo correction, suggest --------------------------------------------------
my $r = v2('q=laptop');
is($r->{total}, 4, 'relevance: 4 products mention laptop');
is($r->{items}[-1]{id}, $p{pack}{id}, 'relevance: the description-only match ranks last');
is_deeply([sort { $a <=> $b } @{ids($r)}[0 .. 2]],
    [sort { $a <=> $b } map { $p{$_}{id} } qw(zen gamer sleeve)], 'relevance: name hits first');
ok(!exists $r->{corrected_query}, 'relevance: no correction when the words match');
is($r->{query}, 'laptop', 'v2 echoes q');

$r = v2('q=lapotp');
is($r->{corrected_query}, 'laptop', 'typo: "lapotp" is corrected to "laptop"');
is($r->{total}, 4, 'typo: and finds the laptops');
is($r->{query}, 'lapotp', 'typo: query is what was asked');
$r = v2('q=zenbok%20lapotp');
is($r->{corrected_query}, 'zenbook laptop', 'typo: each misspelt word is corrected');
is_deeply(ids($r), [$p{zen}{id}], 'typo: the corrected words together find the Zenbook');
$r = v2('q=Gaming%20lapotp');
is($r->{corrected_query}, 'Gaming laptop', 'typo: a correct word keeps its spelling');
$r = v2('q=ultrabook');
ok(!exists $r->{corrected_query} && $r->{total} == 0,
    'typo: a different word with similar trigrams is no typo ("ultrabook" is not "zenbook")');
$r = v2('q=qqqqzzzz');
is($r->{total}, 0, 'typo: nothing similar gives nothing');
ok(!exists $r->{corrected_query}, 'typo: and no correction');
is($t->get('/api/v1/search?q=lapotp')->{json}{total}, 0, 'typo: v1 does not correct (legacy semantics)');

my $s = $t->get('/api/v2/search/suggest?q=lap')->{json};
is($s->{suggestions}[0]{name}, 'Laptop Sleeve', 'suggest: a name starting with the prefix first');
is_deeply([sort map { $_->{id} } @{$s->{suggestions}}],
    [sort { $a <=> $b } map { $p{$_}{id} } qw(zen gamer sleeve)], 'suggest: every "lap..." word');
is_deeply($t->get('/api/v2/search/suggest?q=zenbook%20la')->{json},
    {suggestions => [{id => $p{zen}{id}, name => 'Zenbook Laptop 14'}]}, 'suggest: words then a prefix');
is(scalar @{$t->get('/api/v2/search/suggest?q=l&limit=2')->{json}{suggestions}}, 2, 'suggest: limit');
is_deeply($t->get('/api/v2/search/suggest?q=xyzzy')->{json}, {suggestions => []},
    'suggest: nothing');
is($t->get('/api/v2/search/suggest?q=osp')->{json}{suggestions}[0]{name} // '',
    'Laptop Sleeve', 'suggest: brands count too');

# --- facets -------------------------------------------------------------------------------
$r = v2('q=laptop');
my $f = $r->{facets};
is_deeply({map { ($_->{value} => $_->{count}) } @{$f->{category}}}, {laptops => 2, bags => 2},
    'facets: categories');
is_deeply([map { $_->{name} } sort { $a->{value} cmp $b->{value} } @{$f->{category}}],
    ['Bags', 'Laptops'], 'facets: category names');
is_deeply({map { ($_->{value} => $_->{count}) } @{$f->{brand}}}, {Osprey => 2, Asus => 1, Acer => 1},
    'facets: brands');
is_deeply([map { [$_->{min}, $_->{max}, $_->{count}] } @{$f->{price}}],
    [[0, 2500, 0], [2500, 5000, 1], [5000, 10000, 1], [10000, 25000, 0], [25000, 50000, 0],
        [50000, 100000, 0], [100000, 250000, 2], [250000, undef, 0]], 'facets: fixed price buckets');
is_deeply({map { ($_->{value} => $_->{count}) } @{$f->{attributes}{colour}}},
    {black => 2, silver => 1, grey => 1}, 'facets: attribute values');
is_deeply($f->{attributes}{ram_gb}, [{value => '16', count => 1}, {value => '32', count => 1}],
    'facets: numeric attributes as text');
is(v2('q=laptop&brand=Osprey')->{facets}{brand}[0]{count}, 2, 'facets: over the filtered set');

# --- filters, sorts, pages ----------------------------------------------------------------
is_deeply([sort @{ids(v2('q=laptop&category=laptops'))}], [sort map { $p{$_}{id} } qw(zen gamer)],
    'filter: category');
is_deeply(ids(v2('q=quasar&category=laptops')), [$p{mini}{id}], 'filter: category with its children');
is(v2('q=quasar&category=electronics')->{total}, 0, 'filter: not its grandchildren');
is(v2('q=laptop&brand=Osprey')->{total}, 2, 'filter: brand');
is(v2('q=laptop&brand=osprey')->{total}, 0, 'filter: brand is exact');
is_deeply(ids(v2('q=laptop&min_price=5000&max_price=129900&sort=price_asc')),
    [$p{pack}{id}, $p{zen}{id}], 'filter: price range, bounds inclusive');
is_deeply([sort @{ids(v2('q=laptop&attr.colour=black'))}], [sort map { $p{$_}{id} } qw(pack gamer)],
    'filter: attribute');
is_deeply(ids(v2('q=laptop&attr.ram_gb=16&attr.colour=silver')), [$p{zen}{id}],
    'filter: two attributes, a number matched as text');
is(v2('q=laptop&attr.colour=black&category=furniture')->{total}, 0, 'filter: all must hold');
is_deeply(ids(v2('q=laptop&sort=price_asc')), [map { $p{$_}{id} } qw(sleeve pack zen gamer)],
    'sort: price_asc');
is_deeply(ids(v2('q=laptop&sort=price_desc')), [map { $p{$_}{id} } qw(gamer zen pack sleeve)],
    'sort: price_desc');
is_deeply(ids(v2('q=laptop&sort=newest')), [map { $p{$_}{id} } qw(sleeve gamer pack zen)],
    'sort: newest (ties: higher id first)');
my @pages = map { v2("q=laptop&sort=price_asc&limit=3&page=$_") } 1 .. 3;
is_deeply([map { scalar @{$_->{items}} } @pages], [3, 1, 0], 'pages: 3 + 1 + 0');
is_deeply([map { @{ids($_)} } @pages], ids(v2('q=laptop&sort=price_asc')), 'pages: in order');
is_deeply([map { ($_->{page}, $_->{limit}, $_->{total}) } $pages[1]], [2, 3, 4],
    'pages: page, limit and total');

# --- updates, price changes, deletes ------------------------------------------------------
$t->update($p{zen}{id}, %{$body{zen}}, name => 'Zenbook Ultrabook 14');
# Waits use v1: v2 would "correct" a word that is not there yet to one that is.
$t->wait_for('/api/v1/search?q=ultrabook', sub { $_[0]{total} == 1 }, 'update: the new name is found');
is_deeply([map { $_->{name} } grep { $_->{id} == $p{zen}{id} } @{v2('q=laptop')->{items}}],
    ['Zenbook Ultrabook 14'], 'update: every answer shows the new document');
is(v2('q=zenbook%20laptop%2014')->{total}, 1, 'update: still found by its category');
is(v2('q=ultrabok')->{corrected_query}, 'ultrabook', 'update: the new words reach the lexicon');
$t->price($p{gamer}{id}, 99900);
$t->wait_for('/api/v1/search?q=gaming', sub { ($_[0]{items}[0]{price}{amount} // 0) == 99900 },
    'price change: the new price is shown');
is_deeply(ids(v2('q=laptop&max_price=100000&category=laptops')), [$p{gamer}{id}],
    'price change: and filtered on');
$t->delete($p{chair}{id});
$t->wait_for('/api/v1/search?q=chair', sub { $_[0]{total} == 0 }, 'delete: gone from search');
is_deeply($t->get('/api/v2/search/suggest?q=offi')->{json}, {suggestions => []},
    'delete: gone from suggest');

my ($v) = @{$t->sql("SELECT version, deleted FROM documents WHERE id = $p{chair}{id}")};
is_deeply($v, [2, 't'], 'delete: a tombstone keeps the deleting version');
my $stale = $t->sql("SELECT search_apply($p{chair}{id}, 1, '{\"name\":\"Office Chair\"}', false)");
is($stale->[0][0], 'f', 'an older version after the delete is ignored');
is(v2('q=chair')->{total}, 0, 'and the product stays deleted');
$stale = $t->sql("SELECT search_apply($p{zen}{id}, 2, '{\"name\":\"Old Name\"}', false)");
is($stale->[0][0], 'f', 'a duplicate of the applied version is ignored');
is(v2('q=ultrabook')->{total}, 1, 'and the newer document stays');

my ($lex) = @{$t->sql("SELECT count(*) FROM lexicon WHERE word IN ('chair', 'office', 'sitwell')")};
is($lex->[0], 0, 'lexicon: words of a deleted product leave it');

is($t->sql($matches_drift)->[0][0], 0, 'matches: one row per live product, in step with documents');

# The category filter's expression is the one the GIN index holds.
my $plan = join "\n", map { $_->[0] // '' } @{$t->sql(join ' ',
    'SET enable_seqscan = off;',
    "EXPLAIN SELECT id FROM matches d WHERE search_category_keys(d.category_path) @> ARRAY['laptops'];")};
like($plan, qr/Bitmap Index Scan on matches_category/, 'category: the filter uses its index')
    or diag $plan;

# --- bad input: 4xx problem+json, never 5xx -----------------------------------------------
for my $x (['/api/v1/search', 'no q'], ['/api/v1/search?q=', 'empty q'],
    ['/api/v1/search?q=%20%09', 'blank q'], ['/api/v1/search?q=' . ('a' x 201), 'q over 200 bytes'],
    ['/api/v1/search?q=%ff%fe', 'q not utf-8'], ['/api/v1/search?q=a&page=0', 'page 0'],
    ['/api/v1/search?q=a&page=x', 'page not a number'],
    ['/api/v1/search?q=a&limit=101', 'limit over 100'], ['/api/v1/search?q=a&limit=-1', 'negative limit'],
    ['/api/v1/search?q=a&min_price=1e3', 'min_price not an integer'],
    ['/api/v1/search?q=a&max_price=99999999999999999999', 'max_price overflows'],
    ['/api/v1/search?q=a&sort=cheapest', 'unknown sort'],
    ['/api/v1/search?q=a&Colour=x', 'attribute name not lower-case'],
    ['/api/v1/search?q=a&colour=' . ('x' x 256), 'attribute value over 255 bytes'],
    ['/api/v1/search?q=a&' . join('&', map {"a$_=1"} 1 .. 9), 'nine attribute filters'],
    ['/api/v1/search?q=a&colour=%c0%af', 'attribute value not utf-8'],
    ['/api/v1/search?q=' . join('%20', ('w') x 17), 'seventeen words'],
    ['/api/v2/search?q=a&sort=name', 'v2: sort=name is v1 only'],
    ['/api/v2/search?q=a&colour=black', 'v2: attributes need attr.'],
    ['/api/v2/search?q=a&attr.Bad-Name=x', 'v2: bad attribute name'],
    ['/api/v2/search?q=a&attr.=x', 'v2: empty attribute name'],
    ['/api/v2/search?q=a&min_price=-5', 'v2: negative price'],
    ['/api/v2/search?q=a&brand=%ff', 'v2: brand not utf-8'],
    ['/api/v2/search?limit=5', 'v2: no q'],
    ['/api/v2/search/suggest', 'suggest: no q'],
    ['/api/v2/search/suggest?q=a&limit=21', 'suggest: limit over 20'],
    ['/api/v2/search/suggest?q=a&page=2', 'suggest: unknown parameter']) {
    is_problem($t->get($x->[0]), 400, 'invalid-request', "bad input: $x->[1]");
}
is_problem($t->get('/api/v2/search/nope'), 404, 'not-found', 'unknown path: 404');
is_problem(http(POST => $t->url . '/api/v2/search?q=a'), 405, 'method-not-allowed', 'POST: 405');
for my $q ("' OR 1=1 --", "laptop'); DROP TABLE documents; --", 'a & b | !c', 'lap:*', '(((', '\\',
    '%_%', "\x{00e9}t\x{00e9}", 'x' x 200) {
    utf8::encode(my $enc = $q);
    $enc =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge;
    for my $path ("/api/v1/search?q=$enc", "/api/v2/search?q=$enc", "/api/v2/search/suggest?q=$enc",
        "/api/v2/search?q=a&category=$enc&brand=$enc&attr.colour=$enc") {
        is($t->get($path)->{status}, 200, "hostile text is only text: $path");
    }
}
is(v2('q=laptop')->{total}, 4, 'and the documents are all still there');

$t->finish;
$m->finish;
done_testing;
