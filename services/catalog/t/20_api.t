# Catalog API against real PostgreSQL, Redis and RabbitMQ. v1 is compared answer for answer
# with a monolith fed the same requests (bytes, member order, types, statuses, problem types);
# then the catalog's own parts: images, price and delete, v2 attribute queries, admin-only
# writes, bad input (4xx problem+json, never 5xx) and the outbox row each write leaves.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../../tests/lib", "$FindBin::Bin/../../../monolith/t/lib";
use Test::More;
use HTTP::Tiny ();
use JSON::PP ();
use POSIX ();
use Souk::Test;
use Souk::Shop;
use CatalogTest qw(mint);

my $c = CatalogTest->start->ids_like_monolith;    # the same ids as the monolith's for the same writes
my $m = Souk::Shop->start('catalog_v1');    # the legacy answers to compare with
my $madmin = $m->admin;
my $JSON = JSON::PP->new->utf8->canonical;

# Both sides, the same request; the monolith with its own admin token.
sub both {
    my ($method, $path, %o) = @_;
    my $admin = delete $o{admin};
    return ($c->api($method, $path, ($admin ? (token => $c->{admin}) : ()), %o),
        $m->api($method, $path, ($admin ? (token => $madmin->{token}) : ()), %o));
}

# The body with its timestamps blanked (they differ by the milliseconds between the two).
sub untimed { (my $b = $_[0] // '') =~ s/"(created_at|updated_at)":"[^"]*"/"$1":"T"/g; $b }

# Percent-encode what HTTP::Tiny refuses in a query, as the monolith's tests do.
sub q_enc { (my $q = $_[0]) =~ s{([^A-Za-z0-9_.~\-?&=%,])}{sprintf('%%%02X', ord $1)}ge; $q }

# --- categories ---------------------------------------------------------------------------
is_deeply($c->api(GET => '/api/v1/categories')->{json}, {items => []}, 'categories: empty');
my %cat;
for ([electronics => 'Electronics'], [laptops => 'Laptops', 'electronics'],
    [phones => 'Phones', 'electronics'], [books => 'Books']) {
    my ($slug, $name, $parent) = @$_;
    $cat{$slug} = $c->category($slug, $name, defined $parent ? $cat{$parent} : undef);
    is($cat{$slug}, $m->category($slug, $name, $parent), "category $slug: the monolith's id");
}
my ($cr, $mr) = both(GET => '/api/v1/categories');
is($cr->{status}, 200, 'categories: 200');
is($cr->{body}, $mr->{body}, 'categories: byte for byte the monolith\'s answer');

my %cgood = (slug => 'toys', name => 'Toys');
is_problem($c->api(POST => '/api/v2/categories', json => \%cgood), 401, 'unauthorized',
    'category create: no token is 401');
is_problem($c->api(POST => '/api/v2/categories', token => $c->{customer}, json => \%cgood), 403,
    'forbidden', 'category create: a customer is 403');
for my $x ([{%cgood, slug => 'books'}, 409, 'duplicate', 'a taken slug'],
    [{%cgood, parent_id => 987654}, 400, 'invalid-request', 'an unknown parent'],
    [{%cgood, slug => 'Toys'}, 400, 'invalid-request', 'an upper-case slug'],
    [{%cgood, slug => "t' OR 1=1 --"}, 400, 'invalid-request', 'an injection-shaped slug'],
    [{%cgood, slug => 'x' x 101}, 400, 'invalid-request', 'a slug over 100 bytes'],
    [{%cgood, name => ''}, 400, 'invalid-request', 'an empty name'],
    [{%cgood, parent_id => '1'}, 400, 'invalid-request', 'parent_id as a string'],
    [{%cgood, id => 9}, 400, 'invalid-request', 'an unknown field'],
    [{slug => 'toys'}, 400, 'invalid-request', 'no name']) {
    is_problem($c->admin_api(POST => '/api/v2/categories', json => $x->[0]), $x->[1], $x->[2],
        "category create: $x->[3] is $x->[1]");
}
is(scalar @{$c->api(GET => '/api/v1/categories')->{json}{items}}, 4,
    'category create: bad requests wrote nothing');

# --- create: the same products on both sides ----------------------------------------------
my @bodies = (
    {sku => 'LAP-1', name => 'Laptop Pro 14', description => 'A light laptop', brand => 'Acme',
        category_id => $cat{laptops}, price => {amount => 149900, currency => 'EUR'},
        attributes => {colour => 'silver', ram_gb => 16, touch => JSON::PP::false, rama => 'x'}},
    {sku => 'LAP-2', name => 'Laptop Air', category_id => $cat{laptops},
        price => {amount => 99900, currency => 'EUR'}, attributes => {colour => 'blue', ram_gb => 8}},
    {sku => 'PH-1', name => 'Phone X', category_id => $cat{phones},
        price => {amount => 59900, currency => 'EUR'}, attributes => {colour => 'blue', ram_gb => 8}},
    {sku => 'PH-2', name => 'Budget phone', category_id => $cat{phones},
        price => {amount => 9900, currency => 'EUR'}, attributes => {colour => 'black'}},
    {sku => 'BK-1', name => 'C Programming', category_id => $cat{books},
        price => {amount => 4500, currency => 'EUR'}, attributes => {pages => 272}},
    {sku => 'EL-1', name => 'Cable', category_id => $cat{electronics},
        price => {amount => 900, currency => 'EUR'}},
);
my %id;
for my $b (@bodies) {
    my ($cres, $mres) = both(POST => '/api/v1/products', admin => 1, json => $b);
    is($cres->{status}, 201, "create $b->{sku}: 201");
    is($cres->{json}{id}, $mres->{json}{id}, "create $b->{sku}: the monolith's id");
    is(untimed($cres->{body}), untimed($mres->{body}), "create $b->{sku}: the monolith's bytes");
    $id{$b->{sku}} = $cres->{json}{id};
}
my $lap = $c->api(GET => "/api/v1/products/$id{'LAP-1'}");
my $mlap = $m->api(GET => "/api/v1/products/$id{'LAP-1'}");
is($lap->{status}, 200, 'get: 200 without a token');
is(key_order($lap->{body}), key_order($mlap->{body}), 'get: members in the monolith\'s order');
is_deeply(json_shape($lap->{json}), json_shape($mlap->{json}), 'get: the monolith\'s JSON types');
is(untimed($lap->{body}), untimed($mlap->{body}), 'get: the monolith\'s bytes');
is_deeply($lap->{json}{attributes}, {colour => 'silver', ram_gb => '16', rama => 'x',
    touch => 'false'}, 'get: v1 attributes are text');
like($lap->{json}{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'get: created_at');

# --- list: the monolith's results ---------------------------------------------------------
for my $q ('', '?limit=2', '?limit=2&page=2', '?limit=2&page=99', '?category=laptops',
    '?category=electronics', '?category=nope', '?sort=price_asc', '?sort=price_desc',
    '?sort=name', '?sort=relevance', '?sort=newest', '?min_price=9900&max_price=99900&sort=price_asc',
    '?max_price=1&min_price=2', '?colour=blue&sort=price_asc', '?colour=blue&ram_gb=8&category=phones',
    '?pages=272', '?ram_gb=16', '?touch=false', '?colour=green', '?colour=blue&colour=blue',
    '?colour=blue&colour=black', '?q=laptop&sort=name', '?page=1&page=2',
    "?category=' OR 1=1 --", "?category=%25' UNION SELECT id FROM users --",
    "?colour=blue' OR '1'='1", '?colour=%25', '?colour=blue%22%29%3B--', '?ram_gb=16%7D%7D') {
    my ($cl, $ml) = both(GET => '/api/v1/products' . q_enc($q));
    is($cl->{status}, 200, "list $q: 200");
    is($cl->{body}, $ml->{body}, "list $q: the monolith's bytes");
}

for my $q ('?limit=0', '?limit=101', '?limit=-1', '?limit=abc', '?limit=1.5', '?page=0',
    '?page=-3', '?page=x', '?page=99999999999999999999', '?min_price=-1', '?max_price=abc',
    '?min_price=1e3', '?sort=random', '?sort=', "?sort=price_asc;DROP TABLE products",
    '?Colour=blue', '?colour-name=x', "?a'b=1", '?1abc=2', '?' . ('x' x 65) . '=1',
    '?' . join('&', map {"a$_=1"} 1 .. 9), '?colour=' . ('x' x 256)) {
    my ($cl, $ml) = both(GET => '/api/v1/products' . q_enc($q));
    is_problem($cl, 400, 'invalid-request', "list $q: 400");
    is($cl->{json}{detail}, $ml->{json}{detail}, "list $q: the monolith's detail");
}
is_problem($c->api(GET => '/api/v1/products?colour=%FF'), 400, 'invalid-request',
    'list: a filter value that is not UTF-8 is 400');

# --- update -------------------------------------------------------------------------------
my %upd = (%{$bodies[0]}, name => 'Laptop Pro 14 (2025)', price => {amount => 139900, currency => 'EUR'},
    attributes => {colour => 'space grey'});
my ($cu, $mu) = both(PUT => "/api/v1/products/$id{'LAP-1'}", admin => 1, json => \%upd);
is($cu->{status}, 200, 'update: 200');
is(untimed($cu->{body}), untimed($mu->{body}), 'update: the monolith\'s bytes');
is($cu->{json}{created_at}, $lap->{json}{created_at}, 'update: created_at kept');
is_deeply($c->api(GET => "/api/v1/products/$id{'LAP-1'}")->{json}, $cu->{json},
    'update: get shows it');
for my $x (['/api/v1/products/999999', \%upd, 'an unknown product'],
    ["/api/v1/products/$id{'LAP-1'}", {%upd, sku => 'LAP-2'}, 'another product\'s sku'],
    ['/api/v1/products/999999', {%upd, category_id => 987654}, 'an unknown category first']) {
    my ($cx, $mx) = both(PUT => $x->[0], admin => 1, json => $x->[1]);
    is($cx->{status}, $mx->{status}, "update: $x->[2] is $mx->{status}");
    is($cx->{json}{type}, $mx->{json}{type}, "update: $x->[2] has the monolith's type");
    is($cx->{json}{detail}, $mx->{json}{detail}, "update: $x->[2] has the monolith's detail");
}

# --- create: bad input, as the monolith answers it -----------------------------------------
my %good = (sku => 'NEW-1', name => 'New', category_id => $cat{books},
    price => {amount => 100, currency => 'EUR'});
for my $x (
    [{%good, sku => undef}, 'null sku'], [{%good, sku => ''}, 'empty sku'],
    [{%good, sku => 'x' x 65}, 'sku over 64 bytes'], [{%good, name => 42}, 'name as a number'],
    [{%good, name => 'n' x 201}, 'name over 200 bytes'],
    [{%good, description => 'd' x 20001}, 'description over 20000 bytes'],
    [{%good, brand => 'b' x 101}, 'brand over 100 bytes'],
    [{%good, category_id => "$cat{books}"}, 'category_id as a string'],
    [{%good, category_id => 0}, 'category_id 0'],
    [{%good, category_id => 987654}, 'a category that does not exist'],
    [{%good, price => 100}, 'price as a number'],
    [{%good, price => {amount => -1, currency => 'EUR'}}, 'negative price'],
    [{%good, price => {amount => 1.5, currency => 'EUR'}}, 'fractional price'],
    [{%good, price => {amount => '100', currency => 'EUR'}}, 'amount as a string'],
    [{%good, price => {amount => 100, currency => 'USD'}}, 'currency other than EUR'],
    [{%good, price => {amount => 100}}, 'price without currency'],
    [{%good, price => {amount => 100, currency => 'EUR', tax => 1}}, 'unknown price field'],
    [{%good, price => {amount => 10**13, currency => 'EUR'}}, 'absurd price'],
    [{%good, attributes => {'Colour' => 'x'}}, 'attribute name with upper case'],
    [{%good, attributes => {"x' OR 1=1" => 'x'}}, 'attribute name with a quote'],
    [{%good, attributes => {colour => {r => 1}}}, 'attribute value an object'],
    [{%good, attributes => {colour => [1]}}, 'attribute value an array'],
    [{%good, attributes => {colour => 1.5}}, 'attribute value a real'],
    [{%good, attributes => {colour => undef}}, 'attribute value null'],
    [{%good, attributes => {colour => 'x' x 256}}, 'attribute value over 255 bytes'],
    [{%good, attributes => {map { ("a$_" => 'x') } 1 .. 65}}, 'more than 64 attributes'],
    [{%good, attributes => ['colour']}, 'attributes an array'],
    [{%good, stock => 5}, 'unknown field stock'], [{%good, id => 5}, 'unknown field id'],
    [{%good, sku => 'LAP-2'}, 'a duplicate sku']) {
    my ($cx, $mx) = both(POST => '/api/v1/products', admin => 1, json => $x->[0]);
    ok($cx->{status} >= 400 && $cx->{status} < 500, "create: $x->[1] is 4xx");
    is($cx->{status}, $mx->{status}, "create: $x->[1] has the monolith's status");
    is($cx->{json}{type}, $mx->{json}{type}, "create: $x->[1] has the monolith's type");
    is($cx->{json}{detail}, $mx->{json}{detail}, "create: $x->[1] has the monolith's detail");
}
for my $x (['', 'an empty body'], ['{"sku":', 'truncated JSON'], ['[1,2]', 'an array'],
    ['{"sku":"a","sku":"b"}', 'a duplicate key'], ["\xff\xfe", 'bytes that are not UTF-8']) {
    my ($cx, $mx) = both(POST => '/api/v1/products', admin => 1, body => $x->[0],
        headers => {'Content-Type' => 'application/json'});
    is($cx->{status}, $mx->{status}, "create: $x->[1] is $mx->{status} on both");
    is($cx->{json}{type}, $mx->{json}{type}, "create: $x->[1] has the monolith's type");
}
is_problem($c->admin_api(POST => '/api/v1/products', body => $JSON->encode(\%good),
    headers => {'Content-Type' => 'text/plain'}), 415, 'unsupported-media-type',
    'create: text/plain is 415');
is_problem($c->admin_api(POST => '/api/v1/products',
    json => {%good, description => 'x' x (300 * 1024)}), 413, 'payload-too-large',
    'create: a 300 KiB body is 413');

for my $bad ('999999', '0', '-1', 'abc', '1.5', '1e3', '99999999999999999999', '%27%20OR%201%3D1',
    '1%20OR%201%3D1', '0x10') {
    my ($cx, $mx) = both(GET => "/api/v1/products/$bad");
    is_problem($cx, 404, 'not-found', "get: id $bad is 404");
    is($cx->{json}{detail}, $mx->{json}{detail}, "get: id $bad has the monolith's detail");
}
my $ok = $c->admin_api(POST => '/api/v1/products',
    json => {%good, sku => "x'; DROP TABLE products; --", name => "%' UNION SELECT 1 --",
        description => "\x{1F600} caf\x{e9}"});
is($ok->{status}, 201, 'create: injection-shaped strings and UTF-8 are data');
is($ok->{json}{description}, "\x{1F600} caf\x{e9}", 'create: UTF-8 round trip');

# --- images (catalog only; v1 answers leave them out, v2 shows them) -----------------------
my @img = ('https://img.example.com/p/1.jpg', 'https://img.example.com/p/2.jpg?w=800');
my $pi = $c->admin_api(POST => '/api/v1/products',
    json => {%good, sku => 'IMG-1', images => \@img});
is($pi->{status}, 201, 'images: create 201');
ok(!exists $pi->{json}{images}, 'images: not a v1 member');
is_deeply($c->api(GET => "/api/v2/products?ids=$pi->{json}{id}&fields=images")->{json}{items},
    [{images => \@img}], 'images: v2 shows them');
for my $x ([['http://img.example.com/a.jpg'], 'a plain http url'],
    [['https://img.example.com/a b.jpg'], 'a url with a space'],
    [['javascript:alert(1)'], 'a script url'], [[1], 'a number'],
    [[map {"https://i.example.com/$_.jpg"} 1 .. 21], '21 images'],
    ['https://img.example.com/a.jpg', 'a string, not an array']) {
    is_problem($c->admin_api(POST => '/api/v1/products',
        json => {%good, sku => 'IMG-2', images => $x->[0]}), 400, 'invalid-request',
        "images: $x->[1] is 400");
}

# --- price and delete -----------------------------------------------------------------------
my $lid = $id{'LAP-1'};
my $pr = $c->admin_api(PUT => "/api/v1/products/$lid/price", json => {amount => 129900, currency => 'EUR'},
    headers => {traceparent => '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'});
is($pr->{status}, 200, 'price: 200');
is_deeply($pr->{json}{price}, {amount => 129900, currency => 'EUR'}, 'price: the new price');
is($pr->{json}{name}, 'Laptop Pro 14 (2025)', 'price: the rest is kept');
for my $x ([{amount => -1, currency => 'EUR'}, 400], [{amount => 1, currency => 'USD'}, 400],
    [{amount => '1', currency => 'EUR'}, 400], [{amount => 1}, 400],
    [{amount => 1, currency => 'EUR', x => 1}, 400]) {
    is($c->admin_api(PUT => "/api/v1/products/$lid/price", json => $x->[0])->{status}, $x->[1],
        'price: ' . $JSON->encode($x->[0]) . " is $x->[1]");
}
is_problem($c->admin_api(PUT => '/api/v1/products/999999/price',
    json => {amount => 1, currency => 'EUR'}), 404, 'not-found', 'price: unknown product is 404');

my $del = $c->admin_api(DELETE => "/api/v1/products/$id{'EL-1'}");
is($del->{status}, 204, 'delete: 204');
is($del->{body} // '', '', 'delete: no body');
is_problem($c->api(GET => "/api/v1/products/$id{'EL-1'}"), 404, 'not-found', 'delete: get is 404 at once');
is_problem($c->admin_api(DELETE => "/api/v1/products/$id{'EL-1'}"), 404, 'not-found',
    'delete: twice is 404');
is_problem($c->admin_api(PUT => "/api/v1/products/$id{'EL-1'}", json => $bodies[5]), 404,
    'not-found', 'delete: an update of a deleted product is 404');
ok(!grep({ $_->{sku} eq 'EL-1' } @{$c->api(GET => '/api/v1/products?limit=100')->{json}{items}}),
    'delete: gone from the list');
my $again = $c->admin_api(POST => '/api/v1/products', json => $bodies[5]);
is($again->{status}, 201, 'delete: the sku is free again');
cmp_ok($again->{json}{id}, '>', $id{'EL-1'}, 'delete: the id is never given again');
is_deeply($c->sql("SELECT deleted_at IS NOT NULL, version FROM products WHERE id = $id{'EL-1'}"),
    [['t', 2]], 'delete: a tombstone row with the deleting version');

# --- admin only ---------------------------------------------------------------------------
my $bad_sig = mint(role => 'admin') =~ s/.$/$& eq 'A' ? 'B' : 'A'/er;
for my $w (['POST', '/api/v1/products', \%good], ['PUT', "/api/v1/products/$lid", \%upd],
    ['PUT', "/api/v1/products/$lid/price", {amount => 1, currency => 'EUR'}],
    ['DELETE', "/api/v1/products/$lid", undef], ['POST', '/api/v2/categories', \%cgood]) {
    my ($meth, $path, $body) = @$w;
    my %o = defined $body ? (json => $body) : ();
    is_problem($c->api($meth, $path, %o), 401, 'unauthorized', "$meth $path: no token is 401");
    is_problem($c->api($meth, $path, token => $bad_sig, %o), 401, 'unauthorized',
        "$meth $path: a bad signature is 401");
    is_problem($c->api($meth, $path, token => $c->{customer}, %o), 403, 'forbidden',
        "$meth $path: a customer is 403");
}
is($c->api(GET => "/api/v1/products/$lid")->{json}{price}{amount}, 129900,
    'admin only: refused writes changed nothing');

# --- v2 -----------------------------------------------------------------------------------
sub v2 { $c->api(GET => '/api/v2/products' . q_enc($_[0])) }
sub v2_skus { [map { $_->{sku} } @{v2($_[0])->{json}{items} || []}] }
my $srv = $c->admin_api(POST => '/api/v1/products', json => {%good, sku => 'SRV-1',
    name => 'Server', category_id => $cat{electronics}, price => {amount => 500000, currency => 'EUR'},
    attributes => {colour => 'black', ram_gb => 64, rack => JSON::PP::true}})->{json};
my $v = v2('?attr.colour=blue&sort=price_asc');
is($v->{status}, 200, 'v2: 200');
is_deeply(v2_skus('?attr.colour=blue&sort=price_asc'), [qw(PH-1 LAP-2)], 'v2: containment');
is($v->{json}{total}, 2, 'v2: total');
is_deeply([sort keys %{$v->{json}{items}[0]}], [sort qw(id sku name description brand category
    price images attributes stock rating created_at updated_at version)], 'v2: items are documents');
is($v->{json}{items}[0]{attributes}{ram_gb}, 8, 'v2: attributes keep their JSON types');
is_deeply(v2_skus('?attr.ram_gb.gte=16&sort=price_asc'), [qw(SRV-1)], 'v2: gte');
is_deeply(v2_skus('?attr.ram_gb.gte=8&attr.ram_gb.lt=64&sort=price_asc'), [qw(PH-1 LAP-2)],
    'v2: a range');
is_deeply(v2_skus('?attr.ram_gb.gt=8&sort=price_asc'), [qw(SRV-1)], 'v2: gt');
is_deeply(v2_skus('?attr.ram_gb.lte=8&sort=name'), [qw(LAP-2 PH-1)], 'v2: lte');
is_deeply(v2_skus('?attr.ram_gb=64'), [qw(SRV-1)], 'v2: an integer equals its text');
is_deeply(v2_skus('?attr.rack=true'), [qw(SRV-1)], 'v2: a boolean equals its text');
is_deeply(v2_skus('?attr.colour=black&attr.ram_gb.gte=1'), [qw(SRV-1)],
    'v2: containment and range together');
is_deeply(v2_skus('?attr.colour=blue&category=phones'), [qw(PH-1)], 'v2: with a category');
is_deeply(v2_skus('?attr.colour=blue&max_price=60000'), [qw(PH-1)], 'v2: with a price bound');
is_deeply(v2_skus('?attr.pages.gte=100'), [qw(BK-1)], 'v2: another attribute');
is_deeply(v2_skus('?attr.colour.gte=1'), [], 'v2: a range over text matches nothing');
my $txt = $c->admin_api(POST => '/api/v1/products', json => {%good, sku => 'TXT-1',
    attributes => {ram_gb => '128', colour => 'blue-ish'}});
is($txt->{status}, 201, 'v2: a product with a number written as text');
is_deeply(v2_skus('?attr.ram_gb.gte=100'), [qw(TXT-1)], 'v2: ranges compare numbers in text');
is_deeply(v2_skus('?attr.ram_gb=128'), [qw(TXT-1)], 'v2: equality on a number in text');
is_deeply(v2('?attr.colour=blue&limit=1&page=2&sort=price_asc')->{json}{items}[0]{sku}, 'LAP-2',
    'v2: paging');
is_deeply(v2('?fields=id,name,price&attr.colour=black&sort=price_asc')->{json}{items},
    [{id => $id{'PH-2'}, name => 'Budget phone', price => {amount => 9900, currency => 'EUR'}},
     {id => $srv->{id}, name => 'Server', price => {amount => 500000, currency => 'EUR'}}],
    'v2: fields selects members');
like(key_order(v2('?fields=price,id,version&attr.rack=true')->{body}),
    qr/(?:^|;)\.items\[\]:id,price,version(?:;|$)/, 'v2: selected members in the document\'s order');
my $ids = v2("?ids=$id{'PH-1'},424242,$id{'LAP-2'},$id{'EL-1'},$id{'PH-1'}&fields=id,sku");
is($ids->{status}, 200, 'v2 ids: 200');
is_deeply($ids->{json}, {items => [{id => $id{'PH-1'}, sku => 'PH-1'}, {id => $id{'LAP-2'}, sku => 'LAP-2'}],
    missing => [424242, $id{'EL-1'}]}, 'v2 ids: in the order asked, unknown and deleted missing');
is(scalar @{v2('?ids=' . join(',', 1 .. 100))->{json}{items}},
    $c->api(GET => '/api/v1/products?limit=1')->{json}{total}, 'v2 ids: 100 at once');
for my $q ('?ids=' . join(',', 1 .. 101), '?ids=1,x', "?ids=1' OR 1=1 --", '?ids=1;DROP TABLE products',
    '?ids=', '?ids=0', '?ids=1&sort=name', '?ids=1&attr.colour=blue', '?fields=id,secret',
    '?fields=', "?attr.colour'=1", '?attr.ram_gb.gte=abc', "?attr.ram_gb.gte=1' OR 1=1 --",
    '?attr.ram_gb.between=1', '?colour=blue', '?q=x', '?attr.Colour=blue', '?attr.=x',
    '?attr.a.b.c=1', '?limit=101', '?sort=rnd', '?attr.colour=' . ('x' x 256),
    '?' . join('&', map {"attr.a$_=1"} 1 .. 17), '?attr.colour=%FF') {
    is_problem(v2($q), 400, 'invalid-request', "v2 $q: 400");
}
for my $q ("?attr.colour=' OR 1=1 --", '?attr.colour=blue%22%7D%7D', "?attr.colour=\$v0",
    '?attr.colour=%22blue%22', '?attr.colour=) || (true', '?category=%27%3B--') {
    my $res = v2($q);
    is($res->{status}, 200, "v2 $q: 200");
    is_deeply($res->{json}{items}, [], "v2 $q: matches nothing");
}

# --- events -------------------------------------------------------------------------------
my @ev = map { {type => $_->[0], agg => $_->[1], env => $JSON->decode($_->[2])} }
    @{$c->sql("SELECT type, aggregate_id, envelope FROM outbox ORDER BY seq")};
my @lap = grep { $_->{agg} == $lid } @ev;
is_deeply([map { [$_->{type}, $_->{env}{payload}{version}] } @lap],
    [['product.created', 1], ['product.updated', 2], ['product.price_changed', 2],
     ['product.price_changed', 3]], 'events: create, update (+ price change), price put');
is_deeply($lap[2]{env}{payload}{old_price}, {amount => 149900, currency => 'EUR'},
    'events: price_changed on update carries the old price');
is_deeply($lap[3]{env}{payload}{old_price}, {amount => 139900, currency => 'EUR'},
    'events: price_changed on PUT price carries the old price');
is($lap[3]{env}{payload}{product}{price}{amount}, 129900, 'events: and the new document');
is($lap[3]{env}{trace_id}, '4bf92f3577b34da6a3ce929d0e0e4736', 'events: trace id from traceparent');
my $doc = $lap[0]{env}{payload}{product};
is_deeply([sort keys %$doc], [sort qw(id sku name description brand category price images
    attributes stock rating created_at updated_at)], 'events: the full document');
is_deeply([@$doc{qw(id sku stock)}], [$lid, 'LAP-1', 0], 'events: id, sku, stock');
is_deeply($doc->{attributes}, {colour => 'silver', ram_gb => 16, rama => 'x',
    touch => JSON::PP::false}, 'events: attributes keep their JSON types');
is_deeply($doc->{rating}, {average => 0, count => 0}, 'events: no rating yet');
is_deeply([map { $_->{env}{payload}{category_path} } @lap], [([qw(electronics laptops)]) x 4],
    'events: the category path, root first, on every product event');
my @books = grep { $_->{env}{payload}{product}{category}{slug} eq 'books' } grep {
    $_->{type} eq 'product.created' } @ev;
ok(@books && !grep({ $JSON->encode($_->{env}{payload}{category_path}) ne '["books"]' } @books),
    'events: a top-level category\'s path is itself');
ok(!exists $doc->{category_path}, 'events: the document itself is unchanged (v1 shape)');
is_deeply([sort keys %{$lap[0]{env}}], [sort qw(id type version occurred_at aggregate_id trace_id
    payload)], 'events: the envelope');
is($lap[0]{env}{type}, 'product.created', 'events: envelope type');
is($lap[0]{env}{aggregate_id}, $lid, 'events: aggregate id');
my @del = grep { $_->{type} eq 'product.deleted' } @ev;
is_deeply([map { $_->{env}{payload} } @del], [{version => 2, product_id => $id{'EL-1'}}],
    'events: product.deleted with the tombstone version');
my %n;
$n{$_->{type}}++ for @ev;
is_deeply(\%n, {'product.created' => 11, 'product.updated' => 1, 'product.price_changed' => 2,
    'product.deleted' => 1}, 'events: one per write, none for refused requests');
is_deeply($c->sql('SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL'), [[0]],
    'events: the paused relay sent nothing');

# --- concurrent writers of one product ------------------------------------------------------
# The row lock orders them: versions 2..9 with no gaps, outbox rows in version order, and the
# cache ends on the last committed state.
my $cid = $id{'PH-2'};
my @kids;
for my $i (1 .. 8) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = HTTP::Tiny->new(keep_alive => 0, timeout => 30)->request(PUT =>
            "$c->{url}/api/v1/products/$cid/price", {content => sprintf('{"amount":%d,"currency":"EUR"}', 1000 + $i),
            headers => {Authorization => "Bearer $c->{admin}", 'Content-Type' => 'application/json'}});
        POSIX::_exit($r->{status} == 200 ? 0 : 1);
    }
    push @kids, $pid;
}
is(scalar(grep { waitpid($_, 0) == $_ && $? == 0 } @kids), 8, 'concurrent: 8 price changes succeed');
my $seq = $c->sql("SELECT envelope FROM outbox WHERE aggregate_id = $cid ORDER BY seq");
my @payloads = map { $JSON->decode($_->[0])->{payload} } @$seq;
is_deeply([map { $_->{version} } @payloads], [1 .. 9], 'concurrent: outbox order is version order');
is($c->api(GET => "/api/v1/products/$cid")->{json}{price}{amount},
    $payloads[-1]{product}{price}{amount}, 'concurrent: reads show the last committed price');

# --- the GIN index ------------------------------------------------------------------------
# The NULL-or-condition shape store.c prepares: a custom plan folds it into a containment the
# GIN index answers once the table is big enough to prefer it (rows added and rolled back).
my $plan = join "\n", map { $_->[0] // '' } @{$c->sql(join ' ',
    'BEGIN;',
    'INSERT INTO products (id, version, doc) SELECT 1000000 + g, 1, jsonb_build_object(',
    " 'sku', 'GEN-' || g, 'attributes', jsonb_build_object('colour', 'c' || (g % 500)))",
    ' FROM generate_series(1, 20000) g;',
    'ANALYZE products;',
    'PREPARE q(jsonb) AS SELECT id FROM products p',
    ' WHERE p.deleted_at IS NULL AND ($1::jsonb IS NULL OR p.doc @> $1::jsonb);',
    "EXPLAIN EXECUTE q('{\"attributes\":{\"colour\":\"c7\"}}');",
    'ROLLBACK;')};
like($plan, qr/Bitmap Index Scan on products_doc/, 'GIN: containment uses the index')
    or diag $plan;

$c->finish;
$m->finish;
done_testing;
