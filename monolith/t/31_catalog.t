# Catalog: categories, product list with filters/sort/paging, product detail, admin writes
# and stock.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../tests/lib";
use Test::More;
use Souk::Test;
use Souk::Shop;

my $t = Souk::Shop->start('catalog');
my $TS = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
my $admin = $t->admin;
my $cust = $t->user;

# --- categories (written with SQL: the API has no category writes) -----------
my $res = $t->api(GET => '/api/v1/categories');
is($res->{status}, 200, 'categories: 200 on an empty shop');
is_deeply($res->{json}, {items => []}, 'categories: empty list');

my $elec = $t->category('electronics', 'Electronics');
my $laptops = $t->category('laptops', 'Laptops', 'electronics');
my $phones = $t->category('phones', 'Phones', 'electronics');
my $books = $t->category('books', 'Books');
$res = $t->api(GET => '/api/v1/categories');
is_deeply($res->{json}{items}, [
    {id => $elec, slug => 'electronics', name => 'Electronics', parent_id => undef},
    {id => $laptops, slug => 'laptops', name => 'Laptops', parent_id => $elec},
    {id => $phones, slug => 'phones', name => 'Phones', parent_id => $elec},
    {id => $books, slug => 'books', name => 'Books', parent_id => undef},
], 'categories: all four with parents');

# --- create -----------------------------------------------------------------
my $body = {sku => 'LAP-1', name => 'Laptop Pro 14', description => 'A light laptop',
    brand => 'Acme', category_id => $laptops, price => {amount => 149900, currency => 'EUR'},
    attributes => {colour => 'silver', ram_gb => 16, touch => JSON::PP::false}};
$res = $t->api(POST => '/api/v1/products', token => $admin->{token}, json => $body);
is($res->{status}, 201, 'create: 201');
my $lap = $res->{json};
like($lap->{id}, qr/^[1-9]\d*$/, 'create: id');
is($lap->{sku}, 'LAP-1', 'create: sku');
is($lap->{name}, 'Laptop Pro 14', 'create: name');
is($lap->{description}, 'A light laptop', 'create: description');
is($lap->{brand}, 'Acme', 'create: brand');
is_deeply($lap->{category}, {id => $laptops, slug => 'laptops', name => 'Laptops'},
    'create: category expanded');
is_deeply($lap->{price}, {amount => 149900, currency => 'EUR'}, 'create: price in minor units');
is_deeply($lap->{attributes}, {colour => 'silver', ram_gb => '16', touch => 'false'},
    'create: attributes (stored as text)');
is($lap->{stock}, 0, 'create: stock starts at 0');
is_deeply($lap->{rating}, {average => 0, count => 0}, 'create: no rating yet');
like($lap->{created_at}, $TS, 'create: created_at');
like($lap->{updated_at}, $TS, 'create: updated_at');
is($t->sql1("SELECT stock FROM inventory WHERE product_id = $lap->{id}"), 0,
    'create: an inventory row exists');

# A few more to list.
my @p;
push @p, $lap;
push @p, $t->product($admin, sku => 'LAP-2', name => 'Laptop Air', category_id => $laptops,
    price => {amount => 99900, currency => 'EUR'},
    attributes => {colour => 'blue', ram_gb => 8});
push @p, $t->product($admin, sku => 'PH-1', name => 'Phone X', category_id => $phones,
    price => {amount => 59900, currency => 'EUR'},
    attributes => {colour => 'blue', ram_gb => 8});
push @p, $t->product($admin, sku => 'PH-2', name => 'Budget phone', category_id => $phones,
    price => {amount => 9900, currency => 'EUR'}, attributes => {colour => 'black'});
push @p, $t->product($admin, sku => 'BK-1', name => 'C Programming', category_id => $books,
    price => {amount => 4500, currency => 'EUR'}, attributes => {pages => 272});
push @p, $t->product($admin, sku => 'EL-1', name => 'Cable', category_id => $elec,
    price => {amount => 900, currency => 'EUR'});
my %id = map { $_->{sku} => $_->{id} } @p;

# --- detail -----------------------------------------------------------------
$res = $t->api(GET => "/api/v1/products/$lap->{id}");
is($res->{status}, 200, 'get: 200 without a token');
is_deeply($res->{json}, $lap, 'get: the created product');

# --- list -------------------------------------------------------------------
sub skus { [map { $_->{sku} } @{$_[0]{json}{items} || []}] }
# list('?a=b c'): values are percent-encoded here (HTTP::Tiny refuses raw spaces and quotes).
sub list {
    (my $q = $_[0]) =~ s{([^A-Za-z0-9_.~\-?&=%])}{sprintf('%%%02X', ord $1)}ge;
    return $t->api(GET => "/api/v1/products$q");
}

$res = list('');
is($res->{status}, 200, 'list: 200');
is($res->{json}{total}, 6, 'list: total');
is($res->{json}{page}, 1, 'list: page 1');
is($res->{json}{limit}, 20, 'list: default limit 20');
is_deeply(skus($res), [reverse map { $_->{sku} } @p], 'list: newest first by default');
my ($item) = grep { $_->{sku} eq 'LAP-1' } @{$res->{json}{items}};
is_deeply([sort keys %$item], [sort qw(id sku name brand category price attributes)],
    'list: items are summaries');
is_deeply($item->{attributes}, $lap->{attributes}, 'list: items carry attributes');

is_deeply(skus(list('?limit=2')), ['EL-1', 'BK-1'], 'list: limit');
$res = list('?limit=2&page=2');
is_deeply(skus($res), ['PH-2', 'PH-1'], 'list: page 2');
is($res->{json}{total}, 6, 'list: total is over all pages');
is_deeply(skus(list('?limit=2&page=99')), [], 'list: a page past the end is empty');
is_deeply(skus(list('?category=laptops')), ['LAP-2', 'LAP-1'], 'list: category');
is_deeply([sort @{skus(list('?category=electronics'))}], [sort qw(LAP-1 LAP-2 PH-1 PH-2 EL-1)],
    'list: a parent category includes its children');
is(list('?category=electronics')->{json}{total}, 5, 'list: total under a category');
is_deeply(skus(list('?category=nope')), [], 'list: unknown category is empty, not an error');
is_deeply(skus(list('?sort=price_asc')), [qw(EL-1 BK-1 PH-2 PH-1 LAP-2 LAP-1)],
    'list: sort price_asc');
is_deeply(skus(list('?sort=price_desc')), [qw(LAP-1 LAP-2 PH-1 PH-2 BK-1 EL-1)],
    'list: sort price_desc');
is_deeply(skus(list('?sort=name')), ['PH-2', 'BK-1', 'EL-1', 'LAP-2', 'LAP-1', 'PH-1'],
    'list: sort name');
is_deeply(skus(list('?min_price=9900&max_price=99900&sort=price_asc')), [qw(PH-2 PH-1 LAP-2)],
    'list: price range is inclusive');
is_deeply(skus(list('?colour=blue&sort=price_asc')), [qw(PH-1 LAP-2)],
    'list: attribute filter');
is_deeply(skus(list('?colour=blue&ram_gb=8&category=phones')), ['PH-1'],
    'list: two attribute filters and a category');
is_deeply(skus(list('?pages=272')), ['BK-1'], 'list: integer attributes filter as text');
is_deeply(skus(list('?colour=green')), [], 'list: attribute with no match');
is(list('?colour=blue&colour=blue')->{status}, 200, 'list: a repeated filter is fine');

# Injection in values is data, never SQL.
for my $q ("?category=' OR 1=1 --", "?category=%25' UNION SELECT id FROM users --",
    "?colour=blue' OR '1'='1", "?colour=%25", "?colour=blue%22%29%3B--") {
    $res = list($q);
    is($res->{status}, 200, "list: $q is 200");
    is_deeply(skus($res), [], "list: $q matches nothing");
}

for my $c ('?limit=0', '?limit=101', '?limit=-1', '?limit=abc', '?limit=1.5', '?page=0',
    '?page=-3', '?page=x', '?page=99999999999999999999', '?min_price=-1', '?max_price=abc',
    '?min_price=1e3', '?sort=random', '?sort=', "?sort=price_asc;DROP TABLE products",
    '?Colour=blue', '?colour-name=x', "?a'b=1", '?1abc=2', '?' . ('x' x 65) . '=1',
    '?' . join('&', map {"a$_=1"} 1 .. 9), '?colour=' . ('x' x 256)) {
    is_problem(list($c), 400, 'invalid-request', "list: $c is 400");
}

# --- update -----------------------------------------------------------------
my %upd = (%$body, name => 'Laptop Pro 14 (2025)', price => {amount => 139900, currency => 'EUR'},
    attributes => {colour => 'space grey'});
$res = $t->api(PUT => "/api/v1/products/$lap->{id}", token => $admin->{token}, json => \%upd);
is($res->{status}, 200, 'update: 200');
is($res->{json}{name}, 'Laptop Pro 14 (2025)', 'update: name');
is_deeply($res->{json}{price}, {amount => 139900, currency => 'EUR'}, 'update: price');
is_deeply($res->{json}{attributes}, {colour => 'space grey'}, 'update: attributes replaced');
is($res->{json}{created_at}, $lap->{created_at}, 'update: created_at unchanged');
is_deeply($t->api(GET => "/api/v1/products/$lap->{id}")->{json}, $res->{json},
    'update: get shows the update');
is_deeply(skus(list('?colour=silver')), [], 'update: old attributes are gone from filters');

is_problem($t->api(PUT => '/api/v1/products/999999', token => $admin->{token}, json => \%upd),
    404, 'not-found', 'update: unknown product is 404');
is_problem($t->api(PUT => "/api/v1/products/$lap->{id}", token => $admin->{token},
    json => {%upd, sku => 'LAP-2'}), 409, 'duplicate', 'update: taking another sku is 409');

# --- create: bad input ------------------------------------------------------
my %good = (sku => 'NEW-1', name => 'New', category_id => $books,
    price => {amount => 100, currency => 'EUR'});
for my $c (
    [{%good, sku => undef}, 'null sku'],
    [{%good, sku => ''}, 'empty sku'],
    [{%good, sku => 'x' x 65}, 'sku over 64 bytes'],
    [{%good, name => 42}, 'name as a number'],
    [{%good, category_id => "$books"}, 'category_id as a string'],
    [{%good, category_id => 0}, 'category_id 0'],
    [{%good, category_id => 987654}, 'category that does not exist'],
    [{%good, price => 100}, 'price as a number'],
    [{%good, price => {amount => -1, currency => 'EUR'}}, 'negative price'],
    [{%good, price => {amount => 1.5, currency => 'EUR'}}, 'fractional price'],
    [{%good, price => {amount => '100', currency => 'EUR'}}, 'price amount as a string'],
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
    [{%good, stock => 5}, 'unknown field stock'],
    [{%good, id => 5}, 'unknown field id'],
    ) {
    is_problem($t->api(POST => '/api/v1/products', token => $admin->{token}, json => $c->[0]),
        400, 'invalid-request', "create: $c->[1] is 400");
}
is_problem($t->api(POST => '/api/v1/products', token => $admin->{token},
    json => {%good, sku => 'LAP-1'}), 409, 'duplicate', 'create: duplicate sku is 409');
is_problem($t->api(POST => '/api/v1/products', token => $cust->{token}, json => \%good), 403,
    'forbidden', 'create: a customer is 403');
is_problem($t->api(POST => '/api/v1/products', json => \%good), 401, 'unauthorized',
    'create: no token is 401');
is($t->sql1("SELECT COUNT(*) FROM products"), 6, 'create: nothing was written by bad requests');
$res = $t->api(POST => '/api/v1/products', token => $admin->{token},
    json => {%good, sku => "x'; DROP TABLE products; --", name => "%' UNION SELECT 1 --",
        description => "\x{1F600} caf\x{e9}"});
is($res->{status}, 201, 'create: injection-shaped strings and UTF-8 are stored');
is($res->{json}{sku}, "x'; DROP TABLE products; --", 'create: sku verbatim');
is($res->{json}{description}, "\x{1F600} caf\x{e9}", 'create: UTF-8 round trip');
is($res->{json}{price}{amount}, 100, 'create: a price of 1.00');
my $zero = $t->api(POST => '/api/v1/products', token => $admin->{token},
    json => {%good, sku => 'FREE', price => {amount => 0, currency => 'EUR'}});
is($zero->{status}, 201, 'create: price 0 is allowed');

# --- stock ------------------------------------------------------------------
$res = $t->api(PUT => "/api/v1/products/$lap->{id}/stock", token => $admin->{token},
    json => {stock => 7});
is($res->{status}, 200, 'stock: 200');
is_deeply($res->{json}, {product_id => $lap->{id}, stock => 7}, 'stock: body');
is($t->api(GET => "/api/v1/products/$lap->{id}")->{json}{stock}, 7, 'stock: get shows it');
is($t->api(PUT => "/api/v1/products/$lap->{id}/stock", token => $admin->{token},
    json => {stock => 0})->{status}, 200, 'stock: 0 is allowed');
for my $c ([{stock => -1}, 'negative'], [{stock => 1000000001}, 'over a billion'],
    [{stock => '5'}, 'a string'], [{stock => 2.5}, 'a real'], [{stock => undef}, 'null'],
    [{}, 'missing'], [{stock => 5, delta => 1}, 'unknown field']) {
    is_problem($t->api(PUT => "/api/v1/products/$lap->{id}/stock", token => $admin->{token},
        json => $c->[0]), 400, 'invalid-request', "stock: $c->[1] is 400");
}
is($t->sql1("SELECT stock FROM inventory WHERE product_id = $lap->{id}"), 0,
    'stock: bad requests changed nothing');
is_problem($t->api(PUT => '/api/v1/products/999999/stock', token => $admin->{token},
    json => {stock => 1}), 404, 'not-found', 'stock: unknown product is 404');
is_problem($t->api(PUT => "/api/v1/products/$lap->{id}/stock", token => $cust->{token},
    json => {stock => 1}), 403, 'forbidden', 'stock: a customer is 403');

# --- ids --------------------------------------------------------------------
for my $bad ('999999', '0', '-1', 'abc', '1.5', '1e3', '99999999999999999999', '%27%20OR%201%3D1',
    '1%20OR%201%3D1', '0x10') {
    is_problem($t->api(GET => "/api/v1/products/$bad"), 404, 'not-found',
        "get: product id $bad is 404");
}

$t->finish;
undef $t;
done_testing;
