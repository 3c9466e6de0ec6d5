# v1 contract: the signed-in customer's cart (lines, quantities and caps, totals at today's
# prices, ownership). Runs unchanged against the monolith and against souk-cart behind the
# gateway (which answers 401 at the edge without a token, like the monolith).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use Test::More;
use Souk::Test;
use Souk::Contract;

my $t = contract_target();
my ($ann, $bob) = map { $t->user(name => $_) } qw(Ann Bob);
my $radio = $t->product(name => 'Pocket Radio', price => {amount => 1250, currency => 'EUR'});
my $kettle = $t->product(name => 'Steel Kettle', price => {amount => 399, currency => 'EUR'});
my $ruler = $t->product(name => 'Steel Ruler', price => {amount => 75, currency => 'EUR'});

sub cart { $t->api(GET => '/api/v1/cart', token => $_[0]{token}) }
sub add {
    my ($u, $pid, $qty) = @_;
    return $t->api(POST => '/api/v1/cart/items', token => $u->{token},
        json => {product_id => $pid, quantity => $qty});
}
sub put { $t->api(PUT => "/api/v1/cart/items/$_[1]", token => $_[0]{token}, json => {quantity => $_[2]}) }
sub del { $t->api(DELETE => "/api/v1/cart/items/$_[1]", token => $_[0]{token}) }
sub eur { {amount => $_[0], currency => 'EUR'} }
sub line {
    my ($p, $qty, $unit) = @_;
    $unit //= $p->{price}{amount};
    return {product_id => $p->{id}, name => $p->{name}, quantity => $qty, unit_price => eur($unit),
        line_total => eur($unit * $qty)};
}
# The cart reduced to its v1 members (souk-cart may add true flags, see Contract.pm).
sub v1 {
    my ($c) = @_;
    return $c unless ref $c eq 'HASH' && ref $c->{items} eq 'ARRAY';
    return {%$c, items => [map { my %l = %$_; delete @l{qw(price_changed unavailable)}; \%l } @{$c->{items}}]};
}

# --- empty, then lines --------------------------------------------------------
my $res = cart($ann);
answers($res, 200, 'cart', 'get: 200 Cart');
in_order($res, 'cart', 'get: member order');
is_deeply($res->{json}, {items => [], total => eur(0), item_count => 0}, 'get: a new user\'s cart is empty, 0 EUR');

$res = add($ann, $radio->{id}, 2);
answers($res, 200, 'cart', 'add: 200 with the whole cart');
in_order($res, 'cart', 'add: member order (lines too)');
is_deeply($res->{json}, {items => [line($radio, 2)], total => eur(2500), item_count => 2},
    'add: one line, line_total = quantity x unit_price');

$res = add($ann, $kettle->{id}, 3);
is_deeply($res->{json}, {items => [line($radio, 2), line($kettle, 3)], total => eur(3697),
    item_count => 5}, 'add: a second product is a second line, after the first');
$res = add($ann, $radio->{id}, 1);
is_deeply($res->{json}, {items => [line($radio, 3), line($kettle, 3)], total => eur(4947),
    item_count => 6}, 'add: the same product again adds to its line, which keeps its place');
is_deeply(cart($ann)->{json}, $res->{json}, 'get: the cart as the last write left it');

$res = put($ann, $kettle->{id}, 1);
answers($res, 200, 'cart', 'put: 200 Cart');
is_deeply($res->{json}, {items => [line($radio, 3), line($kettle, 1)], total => eur(4149),
    item_count => 4}, 'put: sets the quantity');
is_problem(put($ann, $ruler->{id}, 1), 404, 'not-found', 'put: a product not in the cart is 404');
is_problem(put($ann, 'abc', 1), 404, 'not-found', 'put: a path id that is not an id is 404');

$res = del($ann, $radio->{id});
answers($res, 200, 'cart', 'delete: 200 Cart');
is_deeply($res->{json}, {items => [line($kettle, 1)], total => eur(399), item_count => 1},
    'delete: the line is gone');
is_problem(del($ann, $radio->{id}), 404, 'not-found', 'delete: again is 404');
is_problem(del($ann, 999999999), 404, 'not-found', 'delete: an unknown product is 404');
is_problem(del($ann, 'abc'), 404, 'not-found', 'delete: a path id that is not an id is 404');

# --- caps ---------------------------------------------------------------------
is_problem(add($ann, $kettle->{id}, 99), 409, 'conflict', 'cap: a line past 99 is 409 conflict');
is_deeply(cart($ann)->{json}{items}, [line($kettle, 1)], 'cap: the refused add changed nothing');
is(put($ann, $kettle->{id}, 99)->{json}{items}[0]{quantity}, 99, 'cap: 99 in a line is allowed');
is_problem(add($ann, $kettle->{id}, 1), 409, 'conflict', 'cap: then one more is 409');

# --- refusals -----------------------------------------------------------------
for my $case (
    [{product_id => $ruler->{id}, quantity => 0}, 'quantity 0'],
    [{product_id => $ruler->{id}, quantity => 100}, 'quantity 100'],
    [{product_id => $ruler->{id}, quantity => -1}, 'a negative quantity'],
    [{product_id => $ruler->{id}, quantity => 1.5}, 'a fractional quantity'],
    [{product_id => $ruler->{id}, quantity => '2'}, 'a string quantity'],
    [{product_id => $ruler->{id}}, 'quantity missing'],
    [{quantity => 1}, 'product_id missing'],
    [{product_id => 0, quantity => 1}, 'product_id 0'],
    [{product_id => "$ruler->{id}", quantity => 1}, 'a string product_id'],
    [{product_id => $ruler->{id}, quantity => 1, price => 1}, 'an unknown member'],
) {
    is_problem($t->api(POST => '/api/v1/cart/items', token => $ann->{token}, json => $case->[0]),
        400, 'invalid-request', "add: $case->[1] is 400");
}
for my $case ([{quantity => 0}, 'quantity 0'], [{quantity => 100}, 'quantity 100'],
    [{}, 'quantity missing'], [{quantity => 1, product_id => 1}, 'an unknown member']) {
    is_problem($t->api(PUT => "/api/v1/cart/items/$kettle->{id}", token => $ann->{token},
        json => $case->[0]), 400, 'invalid-request', "put: $case->[1] is 400");
}
is_problem(add($ann, 999999999, 1), 404, 'not-found', 'add: an unknown product is 404');
is_problem($t->api(POST => '/api/v1/cart/items', token => $ann->{token}, body => '{"product_id":',
    headers => {'Content-Type' => 'application/json'}), 400, 'malformed-json',
    'add: truncated JSON is 400 malformed-json');
is_problem($t->api(POST => '/api/v1/cart/items', token => $ann->{token}, body => 'product_id=1',
    headers => {'Content-Type' => 'application/x-www-form-urlencoded'}), 415,
    'unsupported-media-type', 'add: a form body is 415');
is_problem($t->api(POST => '/api/v1/cart/items', token => $ann->{token},
    json => {product_id => $ruler->{id}, quantity => 1, pad => 'x' x 17000}), 413,
    'payload-too-large', 'add: a body over 16 KiB is 413');
is_deeply(v1(cart($ann)->{json})->{items}, [line($kettle, 99)], 'refusals: the cart is unchanged');

for my $req (['GET', '/api/v1/cart'], ['POST', '/api/v1/cart/items', {product_id => $ruler->{id}, quantity => 1}],
    ['PUT', "/api/v1/cart/items/$kettle->{id}", {quantity => 1}], ['DELETE', "/api/v1/cart/items/$kettle->{id}"]) {
    my ($m, $path, $json) = @$req;
    is_problem($t->api($m, $path, (defined $json ? (json => $json) : ())), 401, 'unauthorized',
        "$m $path: no token is 401");
    is_problem($t->api($m, $path, token => $t->token(sub => "$ann->{id}", exp => time - 10,
        iat => time - 100), (defined $json ? (json => $json) : ())), 401, 'unauthorized',
        "$m $path: an expired token is 401");
}

{
    local our $TODO = $t->differs(services => 'souk-cart has no accounts: any valid token\'s sub has a cart');
    is_problem(add({token => $t->token(sub => '999999999')}, $ruler->{id}, 1), 404, 'not-found',
        'add: a valid token for no account is 404');
}

# --- ownership ----------------------------------------------------------------
is_deeply(cart($bob)->{json}, {items => [], total => eur(0), item_count => 0},
    'ownership: Bob does not see Ann\'s cart');
is_problem(del($bob, $kettle->{id}), 404, 'not-found', 'ownership: Bob cannot delete Ann\'s line');
is_problem(put($bob, $kettle->{id}, 1), 404, 'not-found', 'ownership: Bob cannot change Ann\'s line');
is_deeply(add($bob, $ruler->{id}, 4)->{json}, {items => [line($ruler, 4)], total => eur(300),
    item_count => 4}, 'ownership: Bob\'s add makes his own cart');
is_deeply(v1(cart($ann)->{json}), {items => [line($kettle, 99)], total => eur(39501), item_count => 99},
    'ownership: Ann\'s cart is untouched by Bob');

# --- today's prices -----------------------------------------------------------
add($ann, $radio->{id}, 1);
my %kbody = (sku => $kettle->{sku}, name => 'Steel Kettle XL', brand => $kettle->{brand},
    description => 'Bigger.', category_id => $kettle->{category}{id}, price => eur(449),
    attributes => $kettle->{attributes});
my $kettle2 = $t->update_product($kettle->{id}, \%kbody, carts => [$ann]);
$res = cart($ann);
answers($res, 200, 'cart', 'reprice: 200 Cart');
is_deeply(v1($res->{json}), {items => [line($kettle2, 99), line($radio, 1)], total => eur(99 * 449 + 1250),
    item_count => 100}, 'reprice: lines and total at the new price and name');

$t->finish;
done_testing;
