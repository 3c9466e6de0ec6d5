# soukctl migrate cart, end to end like 34 (reviews), 35 (catalog) and 36 (users): signed-in
# customers add products to their carts through the gateway while the playbook runs.
# backfill + sync + verify agree under that load; the cutover under load fails no add and
# loses none; the carts read the same on souk-cart as they did on the monolith; adds made on
# souk-cart after the cutover reach the monolith's carts (reverse sync of cart.changed), where
# the monolith's checkout (orders still legacy) sees them; a rollback under load loses no add
# made on either side; no customer ever sees another's lines.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use JSON::PP ();
use Souk::Test;
use Souk::Gateway;
use Souk::Playbook;

my $shop = Souk::Playbook->start('cart', name => 'migcart', user => 'cart-team', redis => 1,
    seed => [qw(--products 60 --users 12 --orders 3 --reviews 5 --carts 4)],
    # souk-cart takes its price snapshots from the monolith's v1 product answer (the same shape
    # as souk-catalog's), so the test needs no catalog of its own.
    service_env => sub { (SOUK_CATALOG_URL => $_[0]{monolith}->url) },
    routes => [route(name => 'cart', path => '/api/v1/cart', legacy => 'monolith', new => 'cart',
        hold_ms => 10000)]);
my ($mono, $m, $cart, $gw, $SECRET) = @$shop{qw(mono monolith service gw secret)};
mariadb_sql($mono->{db}, 'UPDATE inventory SET stock = 100');    # the checkout below must not run short

# ---- the load: customers add products, each (customer, product) once ---------------------------

my @users = map { $_->[0] + 0 } @{mariadb_sql($mono->{db},
    q{SELECT id FROM users WHERE role = 'customer' ORDER BY id LIMIT 4})};
my @products = map { $_->[0] + 0 } @{mariadb_sql($mono->{db}, 'SELECT id FROM products ORDER BY id')};
my %token = map { ($_ => jwt_mint(sub => "$_", role => 'customer', secret => $SECRET)) } @users;
my %used;    # "user:product" of every add sent so far: each (customer, product) is added once
my @acked;   # [user, product] of every add that was answered 2xx
# The next product $u has not added, from the low end of the list (the items a call is given)
# or, with $top, from the high end (the items a `through` process makes up as it goes: in a
# forked process, so %used there is the parent's at the fork plus its own).
sub next_add {
    my ($u, $top) = @_;
    for my $p ($top ? reverse @products : @products) {
        return [$u, $p] unless $used{"$u:$p"}++;
    }
    return undef;
}
# writers($count, $through): $count adds by the customers in turn; with $through, the two
# processes go on adding (process $w for the customers of its parity) until the step ends.
sub writers {
    my ($count, $through) = @_;
    my @mine = map { next_add($users[$_ % @users]) } 0 .. $count - 1;
    my $more = $through ? sub {
        my ($w, $k) = @_;
        my @own = grep { $_ % 2 == $w } 0 .. $#users;
        return next_add($users[$own[$k % @own]], 1);
    } : undef;
    my $wait = load(2, \@mine, 0.02, sub {
        my ($ua, $it) = @_;
        return $ua->request('POST', $gw->url . '/api/v1/cart/items',
            {headers => {'Content-Type' => 'application/json',
                Authorization => "Bearer $token{$it->[0]}"},
                content => qq({"product_id":$it->[1],"quantity":1})});
    }, $more);
    return sub {
        my $answers = $wait->();
        $used{"$_->[3][0]:$_->[3][1]"} = 1 for @$answers;    # what the processes made up, too
        push @acked, map { $_->[3] } grep { $_->[0] =~ /^2/ } @$answers;
        return $answers;
    };
}
sub cart_at {
    my ($base, $u) = @_;
    return http(GET => "$base/api/v1/cart", {headers => {Authorization => "Bearer $token{$u}"}})->{json};
}
sub has_all {
    my ($base, $what) = @_;
    my %have;
    for my $u (@users) { $have{"$u:$_->{product_id}"} = 1 for @{cart_at($base, $u)->{items}} }
    my @lost = map { "$_->[0]:$_->[1]" } grep { !$have{"$_->[0]:$_->[1]"} } @acked;
    is_deeply(\@lost, [], "$what: every acknowledged add is in its customer's cart");
}
# The syncs are asynchronous (the lag metric is sampled once a second): wait, bounded, for
# both sides to agree, then name the customers whose carts still differ.
sub differing { grep { !eq_deeply_json(cart_at($m->url, $_), cart_at($cart->url, $_)) } @users }
sub same_carts {
    my ($what) = @_;
    my @diff;
    wait_until(sub { @diff = differing(); !@diff }, 20);
    is_deeply(\@diff, [], "$what: every customer's v1 cart reads the same on both sides");
}
sub eq_deeply_json { JSON::PP->new->canonical->encode($_[0]) eq JSON::PP->new->canonical->encode($_[1]) }

$shop->walk(writers => \&writers, load => [12, 16], canary => 20, what => 'adds', through => 1,
    synced => sub { same_carts('before the cutover') });
has_all($cart->url, 'souk-cart after the cutover');

# After the cutover: adds on souk-cart reach the monolith's carts (reverse sync).
my $load3 = writers(8)->();
no_failures_in($load3, 'adds after the cutover (on souk-cart)');
same_carts('after the cutover (reverse sync wrote souk-cart\'s carts into the monolith)');
has_all($m->url, 'the monolith after the cutover');
# No customer sees another's lines: each cart holds only what that customer added.
my @foreign;
for my $u (@users) {
    my %mine = map { ($_->[1] => 1) } grep { $_->[0] == $u } @acked;
    my %seeded = map { ($_->[0] => 1) } @{mariadb_sql($mono->{db},
        "SELECT ci.product_id FROM cart_items ci JOIN carts c ON c.id = ci.cart_id WHERE c.user_id = $u")};
    push @foreign, map { "$u:$_->{product_id}" } grep { !$mine{$_->{product_id}} && !$seeded{$_->{product_id}} }
        @{cart_at($cart->url, $u)->{items}};
}
is_deeply(\@foreign, [], 'no cart shows a line its customer did not add');

# The monolith's checkout (orders still legacy) sees the cart that lives in souk-cart now.
my $buyer = $users[0];
my $lines = cart_at($cart->url, $buyer)->{items};
ok(@$lines >= 2, 'the buyer has lines added on both sides (' . scalar(@$lines) . ')');
my $res = http(POST => $gw->url . '/api/v1/orders', {json => {card_number => '4242424242424242'},
    headers => {Authorization => "Bearer $token{$buyer}", 'Idempotency-Key' => 'cart-migrate-1'}});
is($res->{status}, 201, 'the monolith\'s checkout takes the cart written on souk-cart') or diag $res->{body};
is_deeply([sort { $a <=> $b } map { $_->{product_id} } @{$res->{json}{lines} // $res->{json}{items} // []}],
    [sort { $a <=> $b } map { $_->{product_id} } @$lines], '... with exactly its lines');
@acked = grep { $_->[0] != $buyer } @acked;    # the buyer's cart is empty now, on both sides
ok(wait_until(sub { @{cart_at($cart->url, $buyer)->{items}} == 0 }, 20),
    'the checkout emptied the cart on souk-cart too (forward sync)');

$shop->roll_back(writers => \&writers, load => 8, what => 'adds', through => 1, settled => sub {
    same_carts('after the rollback');
    has_all($m->url, 'the monolith after the rollback');
});

done_testing;
