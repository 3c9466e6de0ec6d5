# web/t/61_storefront_monolith.t - the storefront on the other side of the migration: every
# route of the gateway legacy, to a real souk-monolith on MariaDB (the state of a shop that
# has moved nothing yet), with the built pages served at /. web/t/storefront_monolith.mjs:
# v1 search (v2 is not there), the anonymous cart the monolith cannot hold kept in the browser
# and added to the account registered at checkout, the address asked for, the approved card,
# my orders CONFIRMED.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../tests/lib", "$FindBin::Bin/../../monolith/t/lib";
use Test::More;

use Souk::Test;
use Souk::Shop;
use Souk::Gateway ();
use Souk::Browser qw(run_browser browser_ready);

my $web = ($ENV{SOUK_BUILD} || 'build') . '/web';
ok(-f "$web/storefront/index.html", "the storefront is built ($web/storefront)") or BAIL_OUT('make web first');
my $why = browser_ready();
is($why, '', 'chromium and playwright-core are installed') or BAIL_OUT($why);

my $shop = Souk::Shop->start('storefront');
my $admin = $shop->admin;
$shop->category('computers', 'Computers');
my $cat = 0 + $shop->sql1("SELECT id FROM categories WHERE slug = 'computers'");
my $laptop = $shop->product($admin, name => 'Monolith Laptop', brand => 'Acme', category_id => $cat,
    price => {amount => 89900, currency => 'EUR'}, attributes => {colour => 'grey'}, stock => 10);

my $gw = Souk::Gateway->start(env => {SOUK_JWT_SECRET => $Souk::Shop::SECRET, SOUK_GATEWAY_WEB_DIR => $web,
        SOUK_LOG_LEVEL => 'warn'},
    routes => Souk::Gateway::table(upstreams => {monolith => Souk::Gateway::pool($shop->url =~ s{^http://}{}r)}, routes => [
        {name => 'storefront', path => '/', methods => ['GET', 'HEAD'], static => 'storefront'},
        Souk::Gateway::route(name => 'catch_all', path => '/', legacy => 'monolith', timeout_ms => 30000)]));

my $email = "grace.$$\@example.test";
is(run_browser("$FindBin::Bin/storefront_monolith.mjs", SHOP => $gw->url, PRODUCT => $laptop->{id},
    EMAIL => $email), 0, 'the journey on the monolith passed');

my $u = $shop->login({email => $email, password => 'correct horse battery'});
my $orders = $shop->api(GET => '/api/v1/orders', token => $u->{token});
is_deeply([map { [$_->{status}, $_->{items}[0]{quantity}] } @{$orders->{json}{items} || []}], [['CONFIRMED', 2]],
    'the monolith has the order: CONFIRMED, the 2 laptops of the browser\'s cart');

done_testing;
