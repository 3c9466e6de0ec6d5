# Reviews (one per user per product, average rating) and the legacy LIKE search.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../tests/lib";
use Test::More;
use Souk::Test;
use Souk::Shop;

my $t = Souk::Shop->start('reviews');
my $TS = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
my $admin = $t->admin;
my @u = map { $t->user(name => "Reviewer $_") } 1 .. 3;
my $cat = $t->category('gadgets', 'Gadgets');
my $other = $t->category('kitchen', 'Kitchen');
my $kettle = $t->product($admin, sku => 'K-1', name => 'Steel kettle', category_id => $other,
    description => 'Boils water fast', price => {amount => 3000, currency => 'EUR'});
my $radio = $t->product($admin, sku => 'R-1', name => 'Pocket radio', category_id => $cat,
    description => 'FM radio with a steel case', price => {amount => 2500, currency => 'EUR'});
my $steel = $t->product($admin, sku => 'S-1', name => 'Steel ruler', category_id => $cat,
    description => '30 cm', price => {amount => 500, currency => 'EUR'});
my $pct = $t->product($admin, sku => 'P-1', name => 'Juice 100% orange', category_id => $other,
    description => 'Not from concentrate', price => {amount => 300, currency => 'EUR'});
my $under = $t->product($admin, sku => 'U-1', name => 'snake_case mug', category_id => $other,
    description => 'For programmers', price => {amount => 900, currency => 'EUR'});
my $plain = $t->product($admin, sku => 'U-2', name => 'snakeXcase mug', category_id => $other,
    description => 'A lookalike', price => {amount => 900, currency => 'EUR'});

# --- reviews ----------------------------------------------------------------
my $path = "/api/v1/products/$radio->{id}/reviews";
my $res = $t->api(GET => $path);
is($res->{status}, 200, 'reviews: 200 for a product without reviews');
is_deeply($res->{json}, {items => [], page => 1, limit => 20, total => 0, average_rating => 0,
    count => 0}, 'reviews: empty page');

$res = $t->api(POST => $path, token => $u[0]{token},
    json => {rating => 4, title => 'Good', body => 'Clear sound.'});
is($res->{status}, 201, 'review: 201');
my $r1 = $res->{json};
like($r1->{id}, qr/^[1-9]\d*$/, 'review: id');
is($r1->{product_id}, $radio->{id}, 'review: product_id');
is($r1->{user_id}, $u[0]{id}, 'review: user_id');
is($r1->{author}, 'Reviewer 1', 'review: author is the user name');
is($r1->{rating}, 4, 'review: rating');
is($r1->{title}, 'Good', 'review: title');
is($r1->{body}, 'Clear sound.', 'review: body');
like($r1->{created_at}, $TS, 'review: created_at');

is_problem($t->api(POST => $path, token => $u[0]{token}, json => {rating => 1, body => 'Again'}),
    409, 'already-reviewed', 'review: a second review by the same user is 409');
my $inj = "'); DELETE FROM reviews; --";
$res = $t->api(POST => $path, token => $u[1]{token}, json => {rating => 5, body => $inj});
is($res->{status}, 201, 'review: a body that looks like SQL is stored');
is($res->{json}{body}, $inj, 'review: verbatim');
is($res->{json}{title}, '', 'review: title defaults to empty');
is($t->api(POST => "/api/v1/products/$kettle->{id}/reviews", token => $u[0]{token},
    json => {rating => 1, body => 'Rusty'})->{status}, 201,
    'review: the same user may review another product');

$res = $t->api(GET => $path);
is($res->{json}{total}, 2, 'reviews: total');
is($res->{json}{count}, 2, 'reviews: count');
is($res->{json}{average_rating}, 4.5, 'reviews: average of 4 and 5');
is_deeply([map { $_->{user_id} } @{$res->{json}{items}}], [$u[1]{id}, $u[0]{id}],
    'reviews: newest first');
is_deeply($res->{json}{items}[1], $r1, 'reviews: items have the created shape');
is_deeply($t->api(GET => "/api/v1/products/$radio->{id}")->{json}{rating},
    {average => 4.5, count => 2}, 'product: rating summary follows the reviews');
$t->api(POST => $path, token => $u[2]{token}, json => {rating => 5, body => 'Great'});
is($t->api(GET => $path)->{json}{average_rating}, 4.67, 'reviews: average rounds to 2 places');
$res = $t->api(GET => "$path?limit=1&page=3");
is(scalar @{$res->{json}{items}}, 1, 'reviews: paging');
is($res->{json}{items}[0]{id}, $r1->{id}, 'reviews: page 3 of 1 is the oldest');
is($res->{json}{total}, 3, 'reviews: total under paging');

for my $c ([{rating => 0, body => 'x'}, 'rating 0'], [{rating => 6, body => 'x'}, 'rating 6'],
    [{rating => -1, body => 'x'}, 'rating -1'], [{rating => '5', body => 'x'}, 'rating a string'],
    [{rating => 4.5, body => 'x'}, 'rating a real'], [{rating => 5}, 'missing body'],
    [{rating => 5, body => ''}, 'empty body'], [{body => 'x'}, 'missing rating'],
    [{rating => 5, body => 'x' x 5001}, 'body over 5000 bytes'],
    [{rating => 5, body => 'x', title => 'x' x 201}, 'title over 200 bytes'],
    [{rating => 5, body => 'x', user_id => $u[0]{id}}, 'unknown field user_id'],
    [{rating => 5, body => 'x', verified => JSON::PP::true}, 'unknown field verified']) {
    is_problem($t->api(POST => "/api/v1/products/$steel->{id}/reviews", token => $u[0]{token},
        json => $c->[0]), 400, 'invalid-request', "review: $c->[1] is 400");
}
is($t->sql1("SELECT COUNT(*) FROM reviews WHERE product_id = $steel->{id}"), 0,
    'review: bad input wrote nothing');
is_problem($t->api(POST => "/api/v1/products/$steel->{id}/reviews", json => {rating => 5,
    body => 'x'}), 401, 'unauthorized', 'review: no token is 401');
is_problem($t->api(POST => '/api/v1/products/999999/reviews', token => $u[0]{token},
    json => {rating => 5, body => 'x'}), 404, 'not-found', 'review: unknown product is 404');
is_problem($t->api(GET => '/api/v1/products/999999/reviews'), 404, 'not-found',
    'reviews: unknown product is 404');
is_problem($t->api(GET => '/api/v1/products/abc/reviews'), 404, 'not-found',
    'reviews: non-numeric product id is 404');
is_problem($t->api(POST => '/api/v1/products/abc/reviews', token => $u[0]{token},
    json => {rating => 5, body => 'x'}), 404, 'not-found',
    'review: non-numeric product id is 404');
is_problem($t->api(GET => "$path?limit=0"), 400, 'invalid-request', 'reviews: limit 0 is 400');
is_problem($t->api(GET => "$path?page=abc"), 400, 'invalid-request', 'reviews: page abc is 400');

# --- search -----------------------------------------------------------------
sub search {
    my ($q) = @_;
    return $t->api(GET => "/api/v1/search?$q");
}
sub skus { [map { $_->{sku} } @{$_[0]{json}{items} || []}] }

$res = search('q=steel');
is($res->{status}, 200, 'search: 200');
is($res->{json}{query}, 'steel', 'search: echoes the query');
is($res->{json}{total}, 3, 'search: name or description, case-insensitive');
is_deeply(skus($res), [qw(K-1 S-1 R-1)],
    'search: relevance puts name matches first, then by id');
is_deeply([sort keys %{$res->{json}}], [sort qw(items page limit total query)],
    'search: page shape');
is_deeply(skus(search('q=steel&sort=price_asc')), [qw(S-1 R-1 K-1)], 'search: sort by price');
is_deeply(skus(search('q=steel&category=gadgets')), [qw(S-1 R-1)], 'search: with a category');
is_deeply(skus(search('q=steel&limit=1&page=2')), ['S-1'], 'search: paging');
is_deeply(skus(search('q=STEEL%20K')), ['K-1'], 'search: case-insensitive across words');
is_deeply(skus(search('q=100%25')), ['P-1'], 'search: % is literal');
is_deeply(skus(search('q=snake_case')), ['U-1'], 'search: _ is literal');
is_deeply(skus(search('q=%5C')), [], 'search: a backslash is literal');
is_deeply(skus(search('q=caf%C3%A9')), [], 'search: UTF-8 query');

for my $q ("' OR 1=1 --", "' OR '1'='1", "%' UNION SELECT id, email, password_hash FROM users --",
    "steel' --", "\"; DROP TABLE products; --", "%%", "__x", "\\' OR 1=1 #") {
    (my $enc = $q) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
    $res = search("q=$enc");
    is($res->{status}, 200, "search: q=$q is 200");
    is_deeply(skus($res), [], "search: q=$q matches nothing (it is text)");
    is($res->{json}{query}, $q, "search: q=$q echoed verbatim");
}
is($t->sql1('SELECT COUNT(*) FROM products'), 6, 'search: products intact');

for my $c (['', 'missing q'], ['q=', 'empty q'], ['q=%20%09', 'blank q'],
    ['q=' . ('a' x 201), 'q over 200 bytes'], ['q=a&limit=500', 'limit 500'],
    ['q=a&sort=best', 'unknown sort'], ['q=a&min_price=x', 'min_price not a number'],
    ['q=a&Bad=1', 'bad parameter name'], ['q=%E9t%E9', 'q that is not UTF-8'],
    ['q=%C0%AF', 'an overlong UTF-8 sequence']) {
    is_problem(search($c->[0]), 400, 'invalid-request', "search: $c->[1] is 400");
}

$t->finish;
undef $t;
done_testing;
