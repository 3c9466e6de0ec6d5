# Concurrency: many shoppers racing for the last units. Exactly as many orders as there
# is stock, every loser gets a clean 409 out-of-stock, stock ends at 0 and never goes
# below, and nobody ever sees a 5xx (deadlocks are retried inside the monolith).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../tests/lib";
use Test::More;
use POSIX ();
use Souk::Test;
use Souk::Shop;

my $t = Souk::Shop->start('concurrency');
my $OK = '4242424242424242';
my $admin = $t->admin;
my $cat = $t->category('race', 'Race');

# race(\@users, $also): every user checks out at once; $also (if given) runs in one more child
# released at the same moment; its answer (brief) comes second.
sub race {
    my ($users, $also) = @_;
    my $out = $t->parallel(@$users + ($also ? 1 : 0), sub {
        my $i = shift;
        return $also->() if $i == @$users;
        Souk::Shop::brief($t->child_http(POST => '/api/v1/orders', token => $users->[$i]{token},
            json => {card_number => $OK}));
    });
    return wantarray ? ([@$out[0 .. $#$users]], $out->[-1]) : $out;
}
sub count { my ($out, $st) = @_; scalar grep { ($_->{status} // 0) == $st } @$out }

# --- 50 shoppers, 10 units ------------------------------------------------------
my $last = $t->product($admin, name => 'Last ten', category_id => $cat,
    price => {amount => 4999, currency => 'EUR'}, stock => 10);
my @users = map { $t->user } 1 .. 50;
$t->cart_add($_, $last->{id}, 1) for @users;

my $out = race(\@users);
is(count($out, 201), 10, '50 shoppers, 10 units: exactly 10 orders (201)');
is(count($out, 409), 40, '50 shoppers, 10 units: 40 are 409');
is(scalar(grep { ($_->{status} // 0) == 409 && ($_->{type} // '') =~ m{/out-of-stock$}
    && ($_->{ctype} // '') =~ m{^application/problem\+json} } @$out), 40,
    '... every 409 is an out-of-stock problem');
is(scalar(grep { ($_->{status} // 0) >= 500 || !$_->{status} } @$out), 0, '... and no 5xx')
    or diag explain [grep { ($_->{status} // 0) >= 500 || !$_->{status} } @$out];
is($t->sql1("SELECT stock FROM inventory WHERE product_id = $last->{id}"), 0, 'stock is 0');
is($t->sql1("SELECT COUNT(*) FROM orders WHERE status = 'CONFIRMED'"), 10, '10 orders in SQL');
is($t->sql1('SELECT COUNT(*) FROM orders'), 10, 'no stray PENDING orders');
is($t->sql1('SELECT COUNT(*) FROM payments'), 10, '10 payments');
is($t->sql1("SELECT SUM(quantity) FROM order_items WHERE product_id = $last->{id}"), 10,
    '10 units sold');
my %winners = map { $_->{id} => 1 } grep { ($_->{status} // 0) == 201 } @$out;
is(scalar keys %winners, 10, 'ten distinct order ids');
my @win = grep { ($out->[$_]{status} // 0) == 201 } 0 .. $#users;
my @lose = grep { ($out->[$_]{status} // 0) == 409 } 0 .. $#users;
is(scalar(grep { @{$t->api(GET => '/api/v1/cart', token => $users[$_]{token})->{json}{items}} }
    @win), 0, 'the winners\' carts are empty');
is(scalar(grep { @{$t->api(GET => '/api/v1/cart', token => $users[$_]{token})->{json}{items}} == 1 }
    @lose), scalar @lose, 'the losers\' carts are untouched');

# --- overlapping carts locked in different orders --------------------------------
# Everyone wants X and Y; half added X first. 24 shoppers, 12 of each: 12 orders.
my $x = $t->product($admin, name => 'X', category_id => $cat, stock => 12);
my $y = $t->product($admin, name => 'Y', category_id => $cat, stock => 12);
my @pair = map { $t->user } 1 .. 24;
for my $i (0 .. $#pair) {
    my @p = $i % 2 ? ($x, $y) : ($y, $x);
    $t->cart_add($pair[$i], $_->{id}, 1) for @p;
}
$out = race(\@pair);
is(count($out, 201), 12, 'two products, 24 shoppers, 12 each: 12 orders');
is(count($out, 409), 12, '... 12 out of stock');
is(scalar(grep { ($_->{status} // 0) >= 500 || !$_->{status} } @$out), 0,
    '... no 5xx (deadlocks, if any, were retried)') or diag explain $out;
is_deeply($t->sql("SELECT stock FROM inventory WHERE product_id IN ($x->{id}, $y->{id})"
    . ' ORDER BY product_id'), [[0], [0]], '... both stocks at 0');
is($t->sql1("SELECT COUNT(*) FROM orders o WHERE (SELECT COUNT(*) FROM order_items oi"
    . " WHERE oi.order_id = o.id) <> 2 AND o.id > " . (sort { $b <=> $a } keys %winners)[0]), 0,
    '... every order has both lines');

# --- a restock during the race --------------------------------------------------
my $z = $t->product($admin, name => 'Z', category_id => $cat, stock => 5);
my @zs = map { $t->user } 1 .. 20;
$t->cart_add($_, $z->{id}, 1) for @zs;
# The restock is one of the racers, released with them: a fork that waited a fixed 0.35 s
# came after the race on a fast machine, or before it on a slow one.
($out, my $restocked) = race(\@zs, sub {
    Souk::Shop::brief($t->child_http(PUT => "/api/v1/products/$z->{id}/stock",
        token => $admin->{token}, json => {stock => 5}));
});
is($restocked->{status}, 200, 'restock race: the restock succeeds') or diag explain $restocked;
my $sold = $t->sql1("SELECT COALESCE(SUM(quantity), 0) FROM order_items WHERE product_id = $z->{id}");
is(count($out, 201), $sold, 'restock race: every 201 is one unit sold');
is(count($out, 201) + count($out, 409), 20, 'restock race: the rest are 409');
cmp_ok($t->sql1("SELECT stock FROM inventory WHERE product_id = $z->{id}"), '>=', 0,
    'restock race: stock never below 0');

# --- one cart, many writers -----------------------------------------------------
my $c = $t->user;
my $w = $t->product($admin, name => 'W', category_id => $cat, stock => 100);
$out = $t->parallel(20, sub {
    Souk::Shop::brief($t->child_http(POST => '/api/v1/cart/items', token => $c->{token},
        json => {product_id => $w->{id}, quantity => 1}));
});
is(count($out, 200), 20, 'one cart, 20 parallel adds: all 200');
is($t->api(GET => '/api/v1/cart', token => $c->{token})->{json}{items}[0]{quantity}, 20,
    'one cart, 20 parallel adds: quantity 20 (no lost update)');

# --- many registrations of one email --------------------------------------------
my $email = "race.$$\@example.test";
$out = $t->parallel(10, sub {
    Souk::Shop::brief($t->child_http(POST => '/api/v1/accounts/register',
        json => {email => $email, password => 'long-enough', name => 'Racer'}));
});
is(count($out, 201), 1, 'one email registered 10 times at once: one 201');
is(scalar(grep { ($_->{type} // '') =~ m{/email-taken$} } @$out), 9, '... nine email-taken');

$t->finish;
undef $t;
done_testing;
