# web/t/60_storefront.t - the storefront in chromium on the real shop: orders, inventory,
# payments, cart, search, reviews, catalog and users behind a souk-gateway that serves the
# built pages ($SOUK_BUILD/web/storefront) at /. The journey is web/t/storefront.mjs: search
# (suggestions, a corrected typo, a facet), a category filter, the product, an anonymous cart
# merged at sign-in, a review, the cart, checkout with the approved card, my orders CONFIRMED,
# then each other outcome: declined, provider unavailable, out of stock (at once, and decided
# after the checkout's wait with inventory paused), and pending (payments
# paused by the script past the checkout's wait, 5 s here: my orders shows it Pending, then
# Confirmed once resumed, and the cart badge empty); axe finds no serious or critical
# violation on the main pages.
# SOUK_SCREENSHOT_DIR=docs/screenshots keeps the PNGs shown in README.md.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib";
use Test::More;

use Souk::Test;
use Souk::Saga;
use Souk::Browser qw(run_browser browser_ready);

my $web = ($ENV{SOUK_BUILD} || 'build') . '/web';
ok(-f "$web/storefront/index.html", "the storefront is built ($web/storefront)") or BAIL_OUT('make web first');
my $why = browser_ready();
is($why, '', 'chromium and playwright-core are installed') or BAIL_OUT($why);

# sync_wait_ms: how long a v1 checkout waits for the saga before answering 202 PENDING; short,
# so the pending step costs seconds (a slower checkout is followed by the page the same way).
# The orders deadline is long (300 s, default 30): the paused steps hold an order from "Place
# order" to SIGCONT, which on a slow (sanitizer) build could pass 30 s, and the sweeper would
# cancel it with reason deadline: not what those steps test.
my $shop = Souk::Saga->start(with => [qw(search reviews)], pages => $web, sync_wait_ms => 5000,
    env => {orders => {SOUK_ORDERS_DEADLINE_S => 300}});
my $url = $shop->url;

my $laptop = $shop->product(stock => 20, price => 129900, name => 'Zenbook Laptop 14', brand => 'Asus',
    attributes => {ram_gb => 16, colour => 'silver'});
my $thinkpad = $shop->product(stock => 20, price => 99900, name => 'Thinkpad Laptop 13', brand => 'Lenovo',
    attributes => {ram_gb => 8, colour => 'black'});
my $mouse = $shop->product(stock => 20, price => 2500, name => 'Wireless Mouse', brand => 'Logi',
    attributes => {colour => 'black'});
my $lamp = $shop->product(stock => 1, price => 3900, name => 'Desk Lamp', brand => 'Ikea',
    attributes => {colour => 'white'});
my $buyer = $shop->buyer;

# The projections the pages read are built from events: wait for them, not for a time.
ok(wait_until('search indexed the four products', sub {
    my $r = http(GET => "$url/api/v2/search?q=laptop");
    $r->{status} == 200 && $r->{json}{total} == 2
        && http(GET => "$url/api/v2/search?q=mouse")->{json}{total} == 1
        && http(GET => "$url/api/v2/search?q=lamp")->{json}{total} == 1;
}, 30), 'search has the products');
ok(wait_until('reviews knows the laptop', sub {
    http(GET => "$url/api/v1/products/$laptop->{id}/reviews")->{status} == 200;
}, 30), 'reviews knows the products');

my $page = http(GET => "$url/product/$laptop->{id}");
is($page->{status}, 200, 'the gateway answers a client-side route with the page');
like($page->{body}, qr/<div id="app">/, '...the storefront\'s index.html');

my $bad = run_browser("$FindBin::Bin/storefront.mjs", SHOP => $url, EMAIL => $buyer->{email},
    PASSWORD => 'correct horse battery', LAPTOP => $laptop->{id}, MOUSE => $mouse->{id},
    LAMP => $lamp->{id}, CATEGORY => "saga-$$", PAYMENTS_PID => $shop->svc('payments')->pid,
    INVENTORY_PID => $shop->svc('inventory')->pid);
kill 'CONT', map { $shop->svc($_)->pid } qw(payments inventory);    # the script resumes them; one that died may not have
is($bad, 0, 'the shopper\'s journey passed');

# What the pages did, seen from the API: one confirmed order, one review.
my $orders = http(GET => "$url/api/v1/orders", {headers => {Authorization => "Bearer $buyer->{token}"}});
is(scalar(grep { $_->{status} eq 'CONFIRMED' } @{$orders->{json}{items} || []}), 2,
    'the account has two CONFIRMED orders, the approved and the pending one (the failed checkouts confirmed nothing)');
my $ls = $shop->stock($lamp->{id}) || {};
is_deeply([$ls->{reserved}, $ls->{sold}], [0, 0], 'the out-of-stock checkout reserved and sold no lamp') or diag explain $ls;
my $reviews = http(GET => "$url/api/v1/products/$laptop->{id}/reviews");
is($reviews->{json}{count}, 1, 'the review is stored');

done_testing;
