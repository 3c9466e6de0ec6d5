# SOUK_MONOLITH_PROVIDER_LATENCY_MS (bench/saga.sh): the simulated provider takes that long to
# answer, inside the checkout transaction, after the products' rows are locked. So one checkout
# takes at least the latency, and shoppers of one product are served one after the other
# (each waits for the previous one's charge), while the default (0) adds nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../../tests/lib";
use Test::More;
use Time::HiRes ();
use Souk::Test;
use Souk::Shop;

my $MS = 400;
my $t = Souk::Shop->start('latency', SOUK_MONOLITH_PROVIDER_LATENCY_MS => $MS);
my $OK = '4242424242424242';
my $admin = $t->admin;
my $cat = $t->category('latency', 'Latency');
my $hot = $t->product($admin, name => 'Hot', category_id => $cat, stock => 10);

my $u = $t->user;
$t->cart_add($u, $hot->{id}, 1);
my $t0 = Time::HiRes::time();
my $res = $t->api(POST => '/api/v1/orders', token => $u->{token}, json => {card_number => $OK});
my $took = Time::HiRes::time() - $t0;
is($res->{status}, 201, 'a checkout still succeeds') or diag $res->{body};
ok($took >= $MS / 1000, sprintf('and takes at least the latency (%.2f s)', $took));

# three shoppers of the same product: the row lock is held across each charge
my @users = map { $t->user } 1 .. 3;
$t->cart_add($_, $hot->{id}, 1) for @users;
$t0 = Time::HiRes::time();
my $out = $t->parallel(3, sub {
    Souk::Shop::brief($t->child_http(POST => '/api/v1/orders', token => $users[$_[0]]{token},
        json => {card_number => $OK}));
});
$took = Time::HiRes::time() - $t0;
is(scalar(grep { ($_->{status} // 0) == 201 } @$out), 3, 'three shoppers of one product: 3 orders');
ok($took >= 3 * $MS / 1000, sprintf('served one after the other, the lock held across each charge '
    . '(%.2f s for three)', $took));

# a declined card waits for the provider too, and changes nothing
my $d = $t->user;
$t->cart_add($d, $hot->{id}, 1);
$t0 = Time::HiRes::time();
$res = $t->api(POST => '/api/v1/orders', token => $d->{token},
    json => {card_number => '4000000000000002'});
$took = Time::HiRes::time() - $t0;
is($res->{status}, 402, 'a declined card is 402');
ok($took >= $MS / 1000, sprintf('after the provider took its time (%.2f s)', $took));
is($t->sql1("SELECT stock FROM inventory WHERE product_id = $hot->{id}"), 6, 'stock: 10 - 4 orders');

# without the setting a checkout does not wait
my $fast = Souk::Shop->start('nolatency');
my $fadmin = $fast->admin;
my $p = $fast->product($fadmin, name => 'Fast', category_id => $fast->category('fast', 'Fast'),
    stock => 5);
# The quickest of three: one checkout on a machine loaded by other tests took over 0.4 s, but
# with the latency added none of them could be under it.
my @took;
for my $f (map { $fast->user } 1 .. 3) {
    $fast->cart_add($f, $p->{id}, 1);
    $t0 = Time::HiRes::time();
    $res = $fast->api(POST => '/api/v1/orders', token => $f->{token}, json => {card_number => $OK});
    push @took, Time::HiRes::time() - $t0;
    is($res->{status}, 201, 'default: 201');
}
($took) = sort { $a <=> $b } @took;
ok($took < $MS / 1000, sprintf('default: no added latency (%.2f s, the quickest of three)', $took));

$t->finish;
$fast->finish;
done_testing;
