# v1 contract: categories and products (list with filters, sorts and pages; product page;
# admin create and replace). Runs unchanged against the monolith and against souk-catalog
# behind the gateway (tests/contract/README.md).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use JSON::PP ();
use Test::More;
use Souk::Test;
use Souk::Contract;

my $t = contract_target();
my $cat = $t->categories;
my ($parent, $child, $other) = @$cat{qw(parent child other)};
my $tag = $t->tag;
my $customer = $t->token(sub => '424242');

# --- categories ---------------------------------------------------------------
my $res = $t->api(GET => '/api/v1/categories');
answers($res, 200, 'categories', 'categories: 200 {items}');
in_order($res, 'categories', 'categories: member order');
my %byid = map { ($_->{id} => $_) } @{$res->{json}{items}};
is_deeply($byid{$child->{id}}, {id => $child->{id}, slug => $child->{slug}, name => $child->{name},
    parent_id => $parent->{id}}, 'categories: a child names its parent');
is($byid{$parent->{id}}{parent_id}, undef, 'categories: a top-level category has parent_id null');
my @ids = map { $_->{id} } @{$res->{json}{items}};
is_deeply(\@ids, [sort { $a <=> $b } @ids], 'categories: ordered by id');

# --- create -------------------------------------------------------------------
my %laptop = (sku => "$tag-LAP", name => 'Contract Laptop 14', brand => 'Asus',
    description => 'A light machine.', category_id => $child->{id},
    price => {amount => 129900, currency => 'EUR'},
    attributes => {ram_gb => 16, colour => 'silver', touch => JSON::PP::false, cpu => 'x86-64'});
$res = $t->admin_api(POST => '/api/v1/products', json => {%laptop,
    attributes => {%{$laptop{attributes}}, suite => $tag}});
answers($res, 201, 'product', 'create: 201 Product');
in_order($res, 'product', 'create: member order');
my $lap = $res->{json};
is_deeply([@$lap{qw(sku name brand description)}], [@laptop{qw(sku name brand description)}],
    'create: sku, name, brand and description as sent');
is_deeply($lap->{category}, {id => $child->{id}, slug => $child->{slug}, name => $child->{name}},
    'create: the category as {id, slug, name}');
is_deeply($lap->{price}, {amount => 129900, currency => 'EUR'}, 'create: price in minor units');
is_deeply($lap->{attributes}, {ram_gb => '16', colour => 'silver', touch => 'false', cpu => 'x86-64',
    suite => $tag}, 'create: attribute values read back as strings');
my ($attr_order) = key_order($res->{body}) =~ /(?:^|;)\.attributes:([^;]*)/;
is($attr_order, join(',', sort keys %{$lap->{attributes}}), 'create: attributes by name');
is($lap->{stock}, 0, 'create: stock 0');
is_deeply($lap->{rating}, {average => 0, count => 0}, 'create: rating 0 of 0');

$res = $t->api(GET => "/api/v1/products/$lap->{id}");
answers($res, 200, 'product', 'get: 200 Product');
in_order($res, 'product', 'get: member order');
is_deeply($res->{json}, $lap, 'get: the product as created');

is_problem($t->admin_api(POST => '/api/v1/products', json => {%laptop, name => 'Copy'}), 409,
    'duplicate', 'create: an existing sku is 409 duplicate');
is_problem($t->api(POST => '/api/v1/products', json => {%laptop, sku => "$tag-X1"}), 401,
    'unauthorized', 'create: no token is 401');
is_problem($t->api(POST => '/api/v1/products', token => $customer,
    json => {%laptop, sku => "$tag-X2"}), 403, 'forbidden', 'create: a customer token is 403');

my %ok = (sku => "$tag-BAD", name => 'Bad', category_id => $other->{id},
    price => {amount => 100, currency => 'EUR'});
for my $case (
    [{%ok, category_id => 999999999}, 'an unknown category_id'],
    [{%ok, price => {amount => 100, currency => 'USD'}}, 'a price in USD'],
    [{%ok, price => {amount => -1, currency => 'EUR'}}, 'a negative price'],
    [{%ok, price => {amount => 10.5, currency => 'EUR'}}, 'a fractional amount'],
    [{%ok, price => {amount => '100', currency => 'EUR'}}, 'a string amount'],
    [{%ok, price => {amount => 100}}, 'a price without currency'],
    [{%ok, price => 100}, 'a number as price'],
    [{%ok, sku => ''}, 'an empty sku'],
    [{%ok, sku => 'x' x 65}, 'a 65-byte sku'],
    [{%ok, name => 'x' x 201}, 'a 201-byte name'],
    [{map { ($_ => $ok{$_}) } qw(name category_id price)}, 'sku missing'],
    [{map { ($_ => $ok{$_}) } qw(sku name price)}, 'category_id missing'],
    [{%ok, id => 5}, 'an id'],
    [{%ok, colour => 'red'}, 'an unknown member'],
    [{%ok, attributes => {Colour => 'red'}}, 'an attribute name with a capital'],
    [{%ok, attributes => {colour => ['red']}}, 'an array attribute value'],
    [{%ok, attributes => {colour => 1.5}}, 'a fractional attribute value'],
    [{%ok, attributes => {colour => 'x' x 256}}, 'a 256-byte attribute value'],
    [{%ok, attributes => {map { ("a$_" => 'x') } 1 .. 65}}, '65 attributes'],
    [{%ok, attributes => 'colour=red'}, 'a string as attributes'],
) {
    is_problem($t->admin_api(POST => '/api/v1/products', json => $case->[0]), 400,
        'invalid-request', "create: $case->[1] is 400");
}
is_problem($t->admin_api(POST => '/api/v1/products', body => '{"sku":',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'create: truncated JSON is 400 malformed-json');
is_problem($t->admin_api(POST => '/api/v1/products', body => 'sku=x',
    headers => {'Content-Type' => 'text/plain'}), 415, 'unsupported-media-type',
    'create: text/plain is 415');

# --- replace ------------------------------------------------------------------
my %put = (%laptop, name => 'Contract Laptop 14 (2025)', brand => 'ASUS', description => 'Lighter.',
    price => {amount => 119900, currency => 'EUR'}, attributes => {ram_gb => 32, suite => $tag});
$res = $t->admin_api(PUT => "/api/v1/products/$lap->{id}", json => \%put);
answers($res, 200, 'product', 'replace: 200 Product');
in_order($res, 'product', 'replace: member order');
is($res->{json}{id}, $lap->{id}, 'replace: the same id');
is_deeply([@{$res->{json}}{qw(name brand description)}], [@put{qw(name brand description)}],
    'replace: new name, brand, description');
is_deeply($res->{json}{price}, {amount => 119900, currency => 'EUR'}, 'replace: new price');
is_deeply($res->{json}{attributes}, {ram_gb => '32', suite => $tag},
    'replace: the attributes are replaced, not merged');
is($res->{json}{created_at}, $lap->{created_at}, 'replace: created_at kept');
my $lap2 = $res->{json};
is_deeply($t->api(GET => "/api/v1/products/$lap->{id}")->{json}, $lap2, 'get: shows the replacement');
is_problem($t->admin_api(PUT => '/api/v1/products/999999999', json => \%put), 404, 'not-found',
    'replace: an unknown id is 404');
is_problem($t->api(PUT => "/api/v1/products/$lap->{id}", json => \%put), 401, 'unauthorized',
    'replace: no token is 401');
is_problem($t->api(PUT => "/api/v1/products/$lap->{id}", token => $customer, json => \%put), 403,
    'forbidden', 'replace: a customer token is 403');
is_problem($t->admin_api(PUT => "/api/v1/products/$lap->{id}", json => {%put, price => {amount => 1,
    currency => 'GBP'}}), 400, 'invalid-request', 'replace: a GBP price is 400');

is($t->api(GET => "/api/v1/products/$lap->{id}", token => 'garbage')->{status}, 200,
    'get: a public route ignores Authorization (contracts/README.md)');

# --- get: unknown ids ---------------------------------------------------------
for my $id (qw(999999999 abc 0 -1 1.5 99999999999999999999)) {
    is_problem($t->api(GET => "/api/v1/products/$id"), 404, 'not-found', "get: id '$id' is 404");
}

# --- list ---------------------------------------------------------------------
# Seven more products over three categories, prices with a tie, names out of id order.
my @spec = (
    [bag    => 'Travel Backpack', $other,  8900,   {colour => 'black'}],
    [chair  => 'Office Chair',    $parent, 19900,  {colour => 'black', material => 'mesh'}],
    [gamer  => 'Gaming Laptop',   $child,  189900, {colour => 'black', ram_gb => 32}],
    [sleeve => 'Laptop Sleeve',   $other,  2900,   {colour => 'grey'}],
    [desk   => 'Standing Desk',   $parent, 19900,  {colour => 'white', material => 'oak'}],
    [lamp   => 'Desk Lamp',       $parent, 4900,   {colour => 'black', touch => JSON::PP::true}],
    [cable  => 'USB Cable',       $other,  900,    {}],
);
my %p = (laptop => $lap2);
for (@spec) {
    my ($key, $name, $c, $amount, $attrs) = @$_;
    $p{$key} = $t->product(name => $name, category_id => $c->{id}, attributes => $attrs,
        price => {amount => $amount, currency => 'EUR'});
}
my @all = values %p;
my $base = "/api/v1/products?suite=$tag";
sub list { $t->api(GET => "$base$_[0]") }
sub ids { [map { $_->{id} } @{$_[0]{json}{items} || []}] }
sub by { my ($key, @ps) = @_; [map { $_->{id} } sort { $key->($a, $b) || $a->{id} <=> $b->{id} } @ps] }

$res = list('');
answers($res, 200, 'product_page', 'list: 200 {items, page, limit, total}');
in_order($res, 'product_page', 'list: member order (items are summaries)');
is_deeply([@{$res->{json}}{qw(page limit total)}], [1, 20, 8], 'list: page 1, limit 20, total 8');
is_deeply(ids($res), [sort { $b <=> $a } map { $_->{id} } @all], 'list: newest first by default');
my ($item) = grep { $_->{id} == $lap->{id} } @{$res->{json}{items}};
is_deeply($item, {map { ($_ => $lap2->{$_}) } qw(id sku name brand category price attributes)},
    'list: an item is the product\'s summary');

is_deeply(ids(list('&sort=price_asc')), by(sub { $_[0]{price}{amount} <=> $_[1]{price}{amount} }, @all),
    'list: sort=price_asc (ties by id)');
is_deeply(ids(list('&sort=price_desc')), by(sub { $_[1]{price}{amount} <=> $_[0]{price}{amount} }, @all),
    'list: sort=price_desc (ties by id)');
is_deeply(ids(list('&sort=name')), by(sub { uc $_[0]{name} cmp uc $_[1]{name} }, @all),
    'list: sort=name');
is_deeply(ids(list('&sort=newest')), ids(list('')), 'list: sort=newest is the default');

my @pages = map { list("&sort=price_asc&limit=3&page=$_") } 1 .. 4;
is_deeply([map { scalar @{ids($_)} } @pages], [3, 3, 2, 0], 'pages: 3 + 3 + 2, then an empty page');
is_deeply([map { $_->{json}{total} } @pages], [8, 8, 8, 8], 'pages: total on every page');
is_deeply([map { $_->{json}{page} } @pages], [1, 2, 3, 4], 'pages: page echoed');
is_deeply([map { @{ids($_)} } @pages], ids(list('&sort=price_asc')), 'pages: together, the whole list');

sub ids_of { [sort { $a <=> $b } map { $p{$_}{id} } @_] }
sub sorted { [sort { $a <=> $b } @{ids($_[0])}] }
is_deeply(sorted(list("&category=$parent->{slug}")), ids_of(qw(chair desk lamp laptop gamer)),
    'filter: a category includes its children');
is_deeply(sorted(list("&category=$child->{slug}")), ids_of(qw(laptop gamer)),
    'filter: a child category alone');
is_deeply(sorted(list("&category=$other->{slug}")), ids_of(qw(bag sleeve cable)),
    'filter: another category');
is(list('&category=no-such-category')->{json}{total}, 0, 'filter: an unknown category matches nothing');
is_deeply(sorted(list('&min_price=4900&max_price=19900')), ids_of(qw(bag chair desk lamp)),
    'filter: min_price and max_price are inclusive');
is_deeply(sorted(list('&colour=black')), ids_of(qw(bag chair gamer lamp)), 'filter: an attribute');
is_deeply(sorted(list('&colour=black&material=mesh')), ids_of(qw(chair)), 'filter: attributes AND');
is_deeply(sorted(list('&ram_gb=32')), ids_of(qw(laptop gamer)), 'filter: an integer attribute as text');
is_deeply(sorted(list('&touch=true')), ids_of(qw(lamp)), 'filter: a boolean attribute as text');
is_deeply(sorted(list("&category=$parent->{slug}&colour=black&max_price=100000&sort=price_asc")),
    ids_of(qw(chair lamp)), 'filter: category, attribute and price together');
$res = list('&colour=black&limit=2&sort=name');
is_deeply([$res->{json}{total}, scalar @{ids($res)}], [4, 2], 'filter: total counts every page');
is(list('&q=Chair')->{json}{total}, 8, 'list: q is ignored by the list');

for my $q ('limit=0', 'limit=101', 'limit=abc', 'page=0', 'page=-1', 'page=1000001', 'sort=cheapest',
    'min_price=-1', 'max_price=x', 'Bad-Name=1', '9lives=1', 'colour=' . ('x' x 256),
    join('&', map {"a$_=1"} 1 .. 9)) {
    is_problem($t->api(GET => "/api/v1/products?$q"), 400, 'invalid-request',
        'list: ' . (length $q > 40 ? substr($q, 0, 37) . '...' : $q) . ' is 400');
}
is(list('&limit=100')->{json}{limit}, 100, 'list: limit 100 is allowed');

$t->finish;
done_testing;
