# The API over data it did not write itself: `soukctl seed` loads a small shop (products
# with EAV attributes, users with addresses, two years of orders, reviews, carts) and the
# answers must agree with SQL over the same rows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../tests/lib";
use File::Spec;
use Test::More;
use Souk::Test;
use Souk::Shop;

my $t = Souk::Shop->start('seeded');
my $build = $ENV{SOUK_BUILD} || 'build';
$build = File::Spec->catdir(repo_root(), $build) unless File::Spec->file_name_is_absolute($build);
my $ctl = File::Spec->catfile($build, 'bin', 'soukctl');
{
    local $ENV{SOUK_MONOLITH_DB} = $t->{db}{dsn};
    my $out = `$ctl seed --products 200 --users 30 --orders 100 --now 2025-06-30 2>&1`;
    is($?, 0, 'soukctl seed') or diag $out;
}
my %n = map { $_ => $t->sql1("SELECT COUNT(*) FROM $_") } qw(products users orders reviews);
cmp_ok($n{products}, '>=', 200, "seeded $n{products} products");
cmp_ok($n{orders}, '>=', 100, "seeded $n{orders} orders");

# --- accounts --------------------------------------------------------------
my $demo = {email => 'demo@souk.test', password => 'souk-demo'};
my $res = $t->api(POST => '/api/v1/accounts/login', json => $demo);
is($res->{status}, 200, 'the seeded demo user logs in (seeded hashes verify)');
$demo->{token} = $res->{json}{token};
$demo->{id} = $res->{json}{user}{id};
my $adm = {email => 'admin@souk.test', password => 'souk-demo'};
$res = $t->api(POST => '/api/v1/accounts/login', json => $adm);
is($res->{status}, 200, 'the seeded admin logs in');
is($res->{json}{user}{role}, 'admin', '... as an admin');
$adm->{token} = $res->{json}{token};

# --- catalog ---------------------------------------------------------------
$res = $t->api(GET => '/api/v1/products?limit=100');
is($res->{json}{total}, $n{products}, 'list: total matches SQL');
my $cats = $t->api(GET => '/api/v1/categories')->{json}{items};
is(scalar @$cats, $t->sql1('SELECT COUNT(*) FROM categories'), 'categories: all of them');
my $bad = 0;
for my $c (@$cats) {
    my $want = $t->sql1('SELECT COUNT(*) FROM products p JOIN categories c ON c.id = p.category_id'
        . " WHERE c.id = $c->{id} OR c.parent_id = $c->{id}");
    my $got = $t->api(GET => "/api/v1/products?limit=1&category=$c->{slug}")->{json}{total};
    $bad++, diag("category $c->{slug}: api $got, sql $want") if $got != $want;
}
is($bad, 0, 'list: every category\'s total (with its children) matches SQL');

my $pages = 0;
my %seen;
for my $page (1 .. 3) {
    $res = $t->api(GET => "/api/v1/products?limit=100&page=$page&sort=price_asc");
    $seen{$_->{id}}++ for @{$res->{json}{items}};
    my @prices = map { $_->{price}{amount} } @{$res->{json}{items}};
    $pages++ if join(',', @prices) eq join(',', sort { $a <=> $b } @prices);
}
is(scalar keys %seen, $n{products}, 'paging: every product exactly once over the pages');
is($pages, 3, 'paging: each page sorted by price');

my $sample = $t->sql('SELECT p.id, p.price_minor, i.stock, (SELECT COUNT(*) FROM product_attributes a'
    . ' WHERE a.product_id = p.id), (SELECT COUNT(*) FROM reviews r WHERE r.product_id = p.id)'
    . ' FROM products p JOIN inventory i ON i.product_id = p.id ORDER BY p.id LIMIT 25');
$bad = 0;
for my $row (@$sample) {
    my ($id, $price, $stock, $nattr, $nrev) = @$row;
    my $p = $t->api(GET => "/api/v1/products/$id")->{json};
    my @diff = grep { $_ } ($p->{price}{amount} != $price && 'price'),
        ($p->{stock} != $stock && 'stock'), (keys %{$p->{attributes}} != $nattr && 'attributes'),
        ($p->{rating}{count} != $nrev && 'rating count');
    $bad++, diag("product $id: @diff differ") if @diff;
}
is($bad, 0, 'product detail: price, stock, attributes and review count match SQL (25 products)');

# An attribute filter agrees with SQL.
my ($an, $av) = @{$t->sql('SELECT name, value FROM product_attributes GROUP BY name, value'
    . ' ORDER BY COUNT(*) DESC, name, value LIMIT 1')->[0]};
$av =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
is($t->api(GET => "/api/v1/products?limit=1&$an=$av")->{json}{total},
    $t->sql1("SELECT COUNT(*) FROM product_attributes WHERE name = '$an'"
        . " AND value = '" . $t->sql1("SELECT value FROM product_attributes GROUP BY name, value"
        . " ORDER BY COUNT(*) DESC, name, value LIMIT 1") . "'"),
    "list: the filter $an matches SQL");

# Search finds a product by a word of its name.
my ($pid, $pname) = @{$t->sql('SELECT id, name FROM products ORDER BY id LIMIT 1')->[0]};
my ($word) = sort { length $b <=> length $a } split /\s+/, $pname;
(my $qw = $word) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
$res = $t->api(GET => "/api/v1/search?q=$qw&limit=100");
ok((grep { $_->{id} == $pid } @{$res->{json}{items}}) || $res->{json}{total} > 100,
    "search: \"$word\" finds product $pid");
(my $like = $word) =~ s/([%_\\'])/\\$1/g;
is($res->{json}{total}, $t->sql1("SELECT COUNT(*) FROM products WHERE name LIKE '%$like%'"
    . " OR description LIKE '%$like%'"), 'search: total matches SQL LIKE');

# Reviews and their average.
my ($rp) = @{$t->sql('SELECT product_id FROM reviews GROUP BY product_id ORDER BY COUNT(*) DESC'
    . ' LIMIT 1')->[0]};
$res = $t->api(GET => "/api/v1/products/$rp/reviews");
is($res->{json}{total}, $t->sql1("SELECT COUNT(*) FROM reviews WHERE product_id = $rp"),
    'reviews: count matches SQL');
is($res->{json}{average_rating},
    0 + $t->sql1("SELECT ROUND(AVG(rating), 2) FROM reviews WHERE product_id = $rp"),
    'reviews: average matches SQL');

# --- orders ----------------------------------------------------------------
my $mine = $t->sql1("SELECT COUNT(*) FROM orders WHERE user_id = $demo->{id}");
$res = $t->api(GET => '/api/v1/orders?limit=100', token => $demo->{token});
is($res->{json}{total}, $mine, 'my orders: total matches SQL');
my @o = @{$res->{json}{items}};
my @ts = map { $_->{created_at} } @o;
is_deeply(\@ts, [sort { $b cmp $a } @ts], 'my orders: newest first');
$bad = 0;
for my $o (@o) {
    my $sum = 0;
    $sum += $_->{line_total}{amount} for @{$o->{items}};
    $bad++, diag("order $o->{id}: total $o->{total}{amount}, lines $sum")
        if $sum != $o->{total}{amount} || !@{$o->{items}} || grep { !length $_->{name} } @{$o->{items}};
}
is($bad, 0, 'my orders: each total is the sum of its lines, every line has a name');

# Every seeded order: total_minor agrees with its lines (what the report sums).
is($t->sql1('SELECT COUNT(*) FROM orders o WHERE o.total_minor <> (SELECT COALESCE(SUM(quantity'
    . ' * unit_price_minor), 0) FROM order_items oi WHERE oi.order_id = o.id)'), 0,
    'seed: every order total equals its lines');

# --- report ----------------------------------------------------------------
sub expected {
    my ($from, $to) = @_;
    my $rows = $t->sql("SELECT DATE_FORMAT(o.created_at, '%Y-%m'), COUNT(*), SUM(o.total_minor),"
        . " SUM((SELECT SUM(quantity) FROM order_items oi WHERE oi.order_id = o.id))"
        . " FROM orders o WHERE o.status = 'CONFIRMED'"
        . " AND DATE(o.created_at) BETWEEN '$from' AND '$to' GROUP BY 1 ORDER BY 1");
    return [map { {month => $_->[0], orders => 0 + $_->[1], items => 0 + $_->[3],
        revenue => {amount => 0 + $_->[2], currency => 'EUR'}} } @$rows];
}
for my $r (['1970-01-01', '9999-12-31'], ['2024-07-01', '2025-06-30'], ['2025-03-15', '2025-04-14']) {
    $res = $t->api(GET => "/api/v1/reports/sales?from=$r->[0]&to=$r->[1]", token => $adm->{token});
    is_deeply($res->{json}{months}, expected(@$r), "report $r->[0]..$r->[1] matches SQL")
        or diag explain $res->{json};
}
cmp_ok(scalar @{$t->api(GET => '/api/v1/reports/sales', token => $adm->{token})->{json}{months}},
    '>=', 12, 'report: the seeded orders span a year or more');

# --- the seeded shop still sells -------------------------------------------------
my ($buy) = @{$t->sql('SELECT product_id FROM inventory WHERE stock > 5 ORDER BY product_id LIMIT 1')->[0]};
$t->api(DELETE => "/api/v1/cart/items/$_->{product_id}", token => $demo->{token})
    for @{$t->api(GET => '/api/v1/cart', token => $demo->{token})->{json}{items}};
$res = $t->api(POST => '/api/v1/cart/items', token => $demo->{token},
    json => {product_id => 0 + $buy, quantity => 1});
is($res->{status}, 200, 'seeded demo user: add to cart');
$res = $t->api(POST => '/api/v1/orders', token => $demo->{token},
    json => {card_number => '4242424242424242'});
is($res->{status}, 201, 'seeded demo user: checkout') or diag $res->{body};
is($t->api(GET => '/api/v1/orders?limit=1', token => $demo->{token})->{json}{items}[0]{id},
    $res->{json}{id}, 'seeded demo user: the new order is the newest');

$t->finish;
undef $t;
done_testing;
